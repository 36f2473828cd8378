/*  test_journal_append.c - appending to the journal and reading back: the usage
    example, version conflicts, reopening, snapshots, reads from a seq with
    a limit, the seq limit, big batches, bad arguments, data of every type,
    meta. The fixture: journal_test_util.h.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"
#include "journal.h"
#include <leveldb/c.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <limits.h>
#include <unistd.h>

#include "journal_test_util.h"

//  --------------------------------------------------------------------------

static void test_usage (void **state)
{
    fixture_t *fixture = *state;
    journal_t *journal = fixture->journal;

    journal_batch_t *batch = journal_batch_new (journal);
    assert_non_null (batch);
    map_t opened = journal_map (0), credited = journal_map (250);
    journal_event_t events[] = {
        {"opened", opened.bytes, opened.size},
        {"credited", credited.bytes, credited.size},
    };
    int64_t version = -1;
    assert_int_equal (
        journal_batch_append (batch, "account/alice", JOURNAL_NO_STREAM, events, 2, 1700, &version),
        0);
    assert_int_equal (version, 2);
    assert_int_equal (journal_batch_count (batch), 2);
    assert_int_equal (journal_test_version (journal, "account/alice"), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    assert_int_equal (journal_batch_count (batch), 0);
    journal_batch_destroy (&batch);
    journal_batch_destroy (&batch);
    assert_null (batch);

    assert_int_equal (journal_test_version (journal, "account/alice"), 2);
    events_t *read = journal_read_all (journal, "account/alice");
    assert_int_equal (read->count, 2);
    assert_int_equal (read->seq[0], 1);
    assert_string_equal (read->name[0], "opened");
    assert_int_equal (read->n[0], 0);
    assert_int_equal (read->created[0], 1700);
    assert_int_equal (read->seq[1], 2);
    assert_string_equal (read->name[1], "credited");
    assert_int_equal (read->n[1], 250);
    assert_int_equal (read->created[1], 1700);
    free (read);
}

static void test_conflict_exact_mismatch (void **state)
{
    fixture_t *fixture = *state;
    journal_batch_t *batch = journal_batch_new (fixture->journal);
    assert_int_equal (journal_append_one (batch, "account/a", 0, "opened", 1, NULL), 0);
    assert_int_equal (journal_batch_commit (batch), 0);

    int64_t version = -7;
    assert_int_equal (journal_append_one (batch, "account/a", 5, "credited", 2, &version),
                      SHOAL_ECONFLICT);
    assert_int_equal (version, -7);
    assert_int_equal (journal_batch_count (batch), 0);
    assert_int_equal (journal_batch_commit (batch), 0);

    events_t *read = journal_read_all (fixture->journal, "account/a");
    assert_int_equal (read->count, 1);
    assert_string_equal (read->name[0], "opened");
    free (read);
    assert_int_equal (journal_test_version (fixture->journal, "account/a"), 1);
    journal_batch_destroy (&batch);
}

static void test_conflict_no_stream_on_existing (void **state)
{
    fixture_t *fixture = *state;
    journal_batch_t *batch = journal_batch_new (fixture->journal);
    assert_int_equal (journal_append_one (batch, "account/a", JOURNAL_NO_STREAM, "opened", 1, NULL),
                      0);
    assert_int_equal (journal_batch_commit (batch), 0);

    assert_int_equal (journal_append_one (batch, "account/a", JOURNAL_NO_STREAM, "opened", 2, NULL),
                      SHOAL_ECONFLICT);
    assert_int_equal (journal_batch_commit (batch), 0);

    events_t *read = journal_read_all (fixture->journal, "account/a");
    assert_int_equal (read->count, 1);
    assert_int_equal (read->n[0], 1);
    free (read);
    journal_batch_destroy (&batch);
}

static void test_conflict_staged_in_same_batch (void **state)
{
    fixture_t *fixture = *state;
    journal_batch_t *batch = journal_batch_new (fixture->journal);
    int64_t version;
    assert_int_equal (journal_append_one (batch, "account/a", 0, "opened", 1, &version), 0);
    assert_int_equal (version, 1);
    assert_int_equal (journal_batch_version (batch, "account/a", &version), 0);
    assert_int_equal (version, 1);
    assert_int_equal (journal_append_one (batch, "account/a", 0, "opened", 2, NULL),
                      SHOAL_ECONFLICT);
    assert_int_equal (journal_batch_count (batch), 1);
    assert_int_equal (journal_append_one (batch, "account/a", 1, "credited", 3, &version), 0);
    assert_int_equal (version, 2);
    assert_int_equal (journal_batch_commit (batch), 0);

    events_t *read = journal_read_all (fixture->journal, "account/a");
    assert_int_equal (read->count, 2);
    assert_int_equal (read->n[0], 1);
    assert_string_equal (read->name[1], "credited");
    assert_int_equal (read->n[1], 3);
    free (read);
    journal_batch_destroy (&batch);
}

static void test_any_always_appends (void **state)
{
    fixture_t *fixture = *state;
    journal_batch_t *batch = journal_batch_new (fixture->journal);
    int64_t version;
    assert_int_equal (journal_append_one (batch, "log/x", JOURNAL_ANY, "a", 1, &version), 0);
    assert_int_equal (version, 1);
    assert_int_equal (journal_batch_commit (batch), 0);
    assert_int_equal (journal_append_one (batch, "log/x", JOURNAL_ANY, "b", 2, &version), 0);
    assert_int_equal (journal_append_one (batch, "log/x", JOURNAL_ANY, "c", 3, &version), 0);
    assert_int_equal (version, 3);
    assert_int_equal (journal_batch_commit (batch), 0);
    assert_int_equal (journal_test_version (fixture->journal, "log/x"), 3);
    events_t *read = journal_read_all (fixture->journal, "log/x");
    assert_int_equal (read->count, 3);
    assert_string_equal (read->name[2], "c");
    assert_int_equal (read->seq[2], 3);
    free (read);
    journal_batch_destroy (&batch);
}

static void test_reopen_reads_everything (void **state)
{
    fixture_t *fixture = *state;
    journal_batch_t *batch = journal_batch_new (fixture->journal);
    uint8_t id1[JOURNAL_ID_SIZE], id2[JOURNAL_ID_SIZE];
    journal_id (id1, 0x11);
    journal_id (id2, 0x22);
    map_t state_map = journal_map (42);
    assert_int_equal (journal_append_one (batch, "account/a", 0, "opened", 1, NULL), 0);
    assert_int_equal (journal_append_one (batch, "account/a", 1, "credited", 2, NULL), 0);
    assert_int_equal (
        journal_batch_snapshot (batch, "account/a", 2, state_map.bytes, state_map.size), 0);
    assert_int_equal (
        journal_batch_inbox_put (batch, "account/a", id1, (const uint8_t *) "ok", 2, 5000), 0);
    assert_int_equal (
        journal_batch_outbox_put (batch, "account/a", id2, (const uint8_t *) "envelope", 8), 0);
    assert_int_equal (
        journal_batch_timer_put (batch, "account/a", 9000, id1, (const uint8_t *) "tick", 4), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);
    assert_int_equal (journal_meta_put (fixture->journal, "node", "n1"), 0);

    journal_reopen (fixture);
    journal_t *journal = fixture->journal;

    assert_int_equal (journal_test_version (journal, "account/a"), 2);
    events_t *read = journal_read_all (journal, "account/a");
    assert_int_equal (read->count, 2);
    assert_string_equal (read->name[1], "credited");
    free (read);

    int64_t seq;
    uint8_t *bytes;
    size_t size;
    assert_int_equal (journal_snapshot_get (journal, "account/a", &seq, &bytes, &size), 0);
    assert_int_equal (seq, 2);
    assert_int_equal (journal_map_n (bytes, size), 42);
    free (bytes);

    assert_int_equal (journal_inbox_get (journal, "account/a", id1, &bytes, &size), 0);
    assert_int_equal (size, 2);
    assert_memory_equal (bytes, "ok", 2);
    free (bytes);

    entries_t entries = {0};
    assert_int_equal (journal_outbox_scan (journal, journal_collect_entry, &entries), 0);
    assert_int_equal (entries.count, 1);
    assert_string_equal (entries.stream[0], "account/a");
    assert_memory_equal (entries.id[0], id2, JOURNAL_ID_SIZE);
    assert_int_equal (entries.due[0], 0);
    assert_string_equal (entries.value[0], "envelope");

    memset (&entries, 0, sizeof entries);
    assert_int_equal (journal_timer_scan (journal, journal_collect_entry, &entries), 0);
    assert_int_equal (entries.count, 1);
    assert_true (entries.stream_null[0]);
    assert_int_equal (entries.due[0], 9000);
    assert_memory_equal (entries.id[0], id1, JOURNAL_ID_SIZE);
    assert_string_equal (entries.value[0], "tick");

    char *value = NULL;
    assert_int_equal (journal_meta_get (journal, "node", &value), 0);
    assert_string_equal (value, "n1");
    free (value);
}

static void test_snapshot_then_later_events (void **state)
{
    fixture_t *fixture = *state;
    journal_t *journal = fixture->journal;
    journal_batch_t *batch = journal_batch_new (journal);
    for (int64_t i = 0; i < 5; i++)
        assert_int_equal (journal_append_one (batch, "account/a", i, "credited", i + 1, NULL), 0);
    map_t snap = journal_map (15);
    assert_int_equal (journal_batch_snapshot (batch, "account/a", 5, snap.bytes, snap.size), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    for (int64_t i = 5; i < 8; i++)
        assert_int_equal (journal_append_one (batch, "account/a", i, "debited", i + 1, NULL), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);

    int64_t seq;
    uint8_t *bytes;
    size_t size;
    assert_int_equal (journal_snapshot_get (journal, "account/a", &seq, &bytes, &size), 0);
    assert_int_equal (seq, 5);
    assert_int_equal (journal_map_n (bytes, size), 15);
    free (bytes);

    events_t *read = calloc (1, sizeof (events_t));
    assert_int_equal (journal_read (journal, "account/a", seq + 1, 0, journal_collect, read), 0);
    assert_int_equal (read->count, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal (read->seq[i], 6 + (int64_t) i);
        assert_string_equal (read->name[i], "debited");
        assert_int_equal (read->n[i], 6 + (int64_t) i);
    }
    free (read);

    assert_int_equal (journal_snapshot_get (journal, "account/none", &seq, &bytes, &size),
                      SHOAL_ENOTFOUND);
}

static void test_read_from_and_limit (void **state)
{
    fixture_t *fixture = *state;
    journal_t *journal = fixture->journal;
    journal_batch_t *batch = journal_batch_new (journal);
    for (int64_t i = 0; i < 10; i++)
        assert_int_equal (journal_append_one (batch, "account/a", i, "e", i + 1, NULL), 0);
    //  Neighbouring streams whose keys sort right around account/a's.
    assert_int_equal (journal_append_one (batch, "account/", 0, "before", 100, NULL), 0);
    assert_int_equal (journal_append_one (batch, "account/a0", 0, "after", 200, NULL), 0);
    assert_int_equal (journal_append_one (batch, "account/b", 0, "after", 300, NULL), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);

    events_t *read = calloc (1, sizeof (events_t));
    assert_int_equal (journal_read (journal, "account/a", 4, 3, journal_collect, read), 0);
    assert_int_equal (read->count, 3);
    assert_int_equal (read->seq[0], 4);
    assert_int_equal (read->seq[2], 6);
    assert_int_equal (read->n[2], 6);

    memset (read, 0, sizeof *read);
    assert_int_equal (journal_read (journal, "account/a", 0, 0, journal_collect, read), 0);
    assert_int_equal (read->count, 10);
    assert_int_equal (read->seq[0], 1);
    assert_int_equal (read->seq[9], 10);

    memset (read, 0, sizeof *read);
    assert_int_equal (journal_read (journal, "account/a", 9, 100, journal_collect, read), 0);
    assert_int_equal (read->count, 2);

    memset (read, 0, sizeof *read);
    assert_int_equal (journal_read (journal, "account/a", 11, 0, journal_collect, read), 0);
    assert_int_equal (read->count, 0);

    memset (read, 0, sizeof *read);
    read->stop_after = 2;
    assert_int_equal (journal_read (journal, "account/a", 1, 0, journal_collect, read), 0);
    assert_int_equal (read->count, 2);

    memset (read, 0, sizeof *read);
    assert_int_equal (journal_read (journal, "account/zzz", 1, 0, journal_collect, read), 0);
    assert_int_equal (read->count, 0);
    free (read);

    assert_int_equal (journal_test_version (journal, "account/a"), 10);
    assert_int_equal (journal_test_version (journal, "account/"), 1);
    assert_int_equal (journal_test_version (journal, "account/a0"), 1);
    assert_int_equal (journal_test_version (journal, "account/c"), 0);
    assert_int_equal (journal_test_version (journal, "zzz/last"), 0);
    assert_int_equal (journal_test_version (journal, "aaa/first"), 0);
}

//  A stream's seq stops at JOURNAL_SEQ_MAX, so that the next seq (a
//  query's "next") always fits: a last key past it reads as damaged, and no
//  append goes past it.
static void test_seq_limit (void **state)
{
    fixture_t *fixture = *state;
    uint8_t seq[8] = {0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe};
    uint8_t key[64];
    size_t key_len = journal_key (key, 'e', "account/m", seq, 8);
    journal_destroy (&fixture->journal);
    journal_raw_put (fixture->dir, key, key_len, "\x94\x01\xa1x\x80\x05", 6);
    fixture->journal = journal_test_open (fixture->dir);
    assert_int_equal (journal_test_version (fixture->journal, "account/m"), JOURNAL_SEQ_MAX);
    journal_batch_t *batch = journal_batch_new (fixture->journal);
    assert_int_equal (journal_append_one (batch, "account/m", JOURNAL_ANY, "x", 1, NULL),
                      SHOAL_EFORMAT);
    assert_int_equal (journal_batch_count (batch), 0);
    journal_batch_destroy (&batch);

    seq[7] = 0xff; //  INT64_MAX
    key_len = journal_key (key, 'e', "account/n", seq, 8);
    journal_destroy (&fixture->journal);
    journal_raw_put (fixture->dir, key, key_len, "\x94\x01\xa1x\x80\x05", 6);
    fixture->journal = journal_test_open (fixture->dir);
    int64_t version;
    assert_int_equal (journal_version (fixture->journal, "account/n", &version), SHOAL_EFORMAT);
}

static void test_big_batch (void **state)
{
    fixture_t *fixture = *state;
    journal_t *journal = fixture->journal;
    journal_batch_t *batch = journal_batch_new (journal);
    char stream[32];
    for (int i = 0; i < 1000; i++) {
        snprintf (stream, sizeof stream, "account/%d", i % 100);
        int64_t version;
        assert_int_equal (journal_append_one (batch, stream, i / 100, "credited", i, &version), 0);
        assert_int_equal (version, i / 100 + 1);
    }
    assert_int_equal (journal_batch_count (batch), 1000);
    assert_true (journal_batch_bytes (batch) > 1000 * 20);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);

    for (int s = 0; s < 100; s++) {
        snprintf (stream, sizeof stream, "account/%d", s);
        assert_int_equal (journal_test_version (journal, stream), 10);
        events_t *read = journal_read_all (journal, stream);
        assert_int_equal (read->count, 10);
        for (int k = 0; k < 10; k++) {
            assert_int_equal (read->seq[k], k + 1);
            assert_int_equal (read->n[k], k * 100 + s);
            assert_int_equal (read->created[k], 1000 + k * 100 + s);
        }
        free (read);
    }
}

static void test_bad_arguments_stage_nothing (void **state)
{
    fixture_t *fixture = *state;
    journal_batch_t *batch = journal_batch_new (fixture->journal);
    map_t map = journal_map (1);
    char long_name[SHOAL_NAME_MAX + 2];
    memset (long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    char long_stream[SHOAL_ADDRESS_MAX + 2];
    memset (long_stream, 's', sizeof long_stream - 1);
    long_stream[sizeof long_stream - 1] = '\0';
    static const uint8_t not_map[] = {0x93, 0x01, 0x02, 0x03};
    static const uint8_t map_and_more[] = {0x80, 0x01};

    journal_event_t events[] = {{"ok", map.bytes, map.size}, {long_name, map.bytes, map.size}};
    assert_int_equal (journal_batch_append (batch, "account/a", 0, events, 2, 1, NULL),
                      SHOAL_EINVAL);
    events[1] = (journal_event_t){"ok", not_map, sizeof not_map};
    assert_int_equal (journal_batch_append (batch, "account/a", 0, events, 2, 1, NULL),
                      SHOAL_EINVAL);
    events[1] = (journal_event_t){"ok", map_and_more, sizeof map_and_more};
    assert_int_equal (journal_batch_append (batch, "account/a", 0, events, 2, 1, NULL),
                      SHOAL_EINVAL);
    events[1] = (journal_event_t){"", map.bytes, map.size};
    assert_int_equal (journal_batch_append (batch, "account/a", 0, events, 2, 1, NULL),
                      SHOAL_EINVAL);
    assert_int_equal (journal_batch_append (batch, long_stream, 0, events, 1, 1, NULL),
                      SHOAL_EINVAL);
    assert_int_equal (journal_batch_append (batch, "", 0, events, 1, 1, NULL), SHOAL_EINVAL);
    assert_int_equal (journal_batch_append (batch, "account/a", -2, events, 1, 1, NULL),
                      SHOAL_EINVAL);
    assert_int_equal (journal_batch_snapshot (batch, "account/a", 1, not_map, sizeof not_map),
                      SHOAL_EINVAL);
    assert_int_equal (journal_batch_count (batch), 0);
    assert_int_equal (journal_batch_bytes (batch), 0);

    int64_t version = -1;
    assert_int_equal (journal_batch_append (batch, "account/a", 0, NULL, 0, 1, &version), 0);
    assert_int_equal (version, 0);
    assert_int_equal (journal_batch_append (batch, "account/a", 3, NULL, 0, 1, &version),
                      SHOAL_ECONFLICT);
    assert_int_equal (journal_batch_count (batch), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    assert_int_equal (journal_test_version (fixture->journal, "account/a"), 0);

    char *value;
    assert_int_equal (journal_meta_get (fixture->journal, "absent", &value), SHOAL_ENOTFOUND);
    assert_int_equal (journal_meta_put (fixture->journal, "", "x"), SHOAL_EINVAL);
    journal_batch_destroy (&batch);
}

//  One event's bytes, copied by s_copy.
typedef struct {
    uint8_t bytes[1024];
    size_t size;
    int64_t created;
    char name[SHOAL_NAME_MAX + 1];
} copy_t;

static int s_copy (void *arg, int64_t seq, const char *name, const uint8_t *data, size_t size,
                   int64_t created)
{
    copy_t *copy = arg;
    copy->size = size;
    memcpy (copy->bytes, data, size < sizeof copy->bytes ? size : sizeof copy->bytes);
    copy->created = created;
    snprintf (copy->name, sizeof copy->name, "%s", name);
    return 0;
}

static void test_data_of_every_type_round_trips (void **state)
{
    fixture_t *fixture = *state;
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 9);
    msgpack_pack_str_with_body (&pk, "neg", 3);
    msgpack_pack_int64 (&pk, -1234567890123LL);
    msgpack_pack_str_with_body (&pk, "big", 3);
    msgpack_pack_uint64 (&pk, UINT64_MAX);
    msgpack_pack_str_with_body (&pk, "f", 1);
    msgpack_pack_double (&pk, 3.5);
    msgpack_pack_str_with_body (&pk, "nil", 3);
    msgpack_pack_nil (&pk);
    msgpack_pack_str_with_body (&pk, "bin", 3);
    msgpack_pack_bin_with_body (&pk, "\x00\x01\x02", 3);
    msgpack_pack_str_with_body (&pk, "ext", 3);
    msgpack_pack_ext_with_body (&pk, "abcd", 4, 7);
    msgpack_pack_str_with_body (&pk, "nested", 6);
    msgpack_pack_array (&pk, 2);
    msgpack_pack_map (&pk, 1);
    msgpack_pack_true (&pk);
    msgpack_pack_array (&pk, 0);
    msgpack_pack_float (&pk, 1.5f);
    msgpack_pack_str_with_body (&pk, "long", 4);
    char text[300];
    memset (text, 'x', sizeof text);
    msgpack_pack_str_with_body (&pk, text, sizeof text);
    msgpack_pack_str_with_body (&pk, "n", 1);
    msgpack_pack_int64 (&pk, 70000);

    journal_batch_t *batch = journal_batch_new (fixture->journal);
    journal_event_t event = {"mixed", (const uint8_t *) buffer.data, buffer.size};
    assert_int_equal (journal_batch_append (batch, "account/a", 0, &event, 1, -5, NULL), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);

    copy_t copy = {{0}, 0, 0, ""};
    assert_int_equal (journal_read (fixture->journal, "account/a", 1, 0, s_copy, &copy), 0);
    assert_int_equal (copy.size, buffer.size);
    assert_memory_equal (copy.bytes, buffer.data, buffer.size);
    assert_int_equal (copy.created, -5);
    assert_string_equal (copy.name, "mixed");
    msgpack_sbuffer_destroy (&buffer);
}

static void test_meta (void **state)
{
    fixture_t *fixture = *state;
    char *value = NULL;
    assert_int_equal (journal_meta_put (fixture->journal, "shards", "16"), 0);
    assert_int_equal (journal_meta_put (fixture->journal, "shards", "32"), 0);
    assert_int_equal (journal_meta_put (fixture->journal, "empty", ""), 0);
    assert_int_equal (journal_meta_get (fixture->journal, "shards", &value), 0);
    assert_string_equal (value, "32");
    free (value);
    assert_int_equal (journal_meta_get (fixture->journal, "empty", &value), 0);
    assert_string_equal (value, "");
    free (value);
    assert_int_equal (journal_meta_get (fixture->journal, "shard", &value), SHOAL_ENOTFOUND);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_usage, journal_setup, journal_teardown),
        cmocka_unit_test_setup_teardown (test_conflict_exact_mismatch, journal_setup,
                                         journal_teardown),
        cmocka_unit_test_setup_teardown (test_conflict_no_stream_on_existing, journal_setup,
                                         journal_teardown),
        cmocka_unit_test_setup_teardown (test_conflict_staged_in_same_batch, journal_setup,
                                         journal_teardown),
        cmocka_unit_test_setup_teardown (test_any_always_appends, journal_setup, journal_teardown),
        cmocka_unit_test_setup_teardown (test_reopen_reads_everything, journal_setup,
                                         journal_teardown),
        cmocka_unit_test_setup_teardown (test_snapshot_then_later_events, journal_setup,
                                         journal_teardown),
        cmocka_unit_test_setup_teardown (test_read_from_and_limit, journal_setup, journal_teardown),
        cmocka_unit_test_setup_teardown (test_seq_limit, journal_setup, journal_teardown),
        cmocka_unit_test_setup_teardown (test_big_batch, journal_setup, journal_teardown),
        cmocka_unit_test_setup_teardown (test_bad_arguments_stage_nothing, journal_setup,
                                         journal_teardown),
        cmocka_unit_test_setup_teardown (test_data_of_every_type_round_trips, journal_setup,
                                         journal_teardown),
        cmocka_unit_test_setup_teardown (test_meta, journal_setup, journal_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
