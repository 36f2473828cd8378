/*  test_journal_scan.c - the journal's records and their scans: the inbox and
    its filter, the stream filter, the outbox, timers in order, streams,
    pruning. The fixture: journal_test_util.h.
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

static void test_inbox_staged_and_committed (void **state)
{
    fixture_t *fixture = *state;
    journal_t *journal = fixture->journal;
    journal_batch_t *batch = journal_batch_new (journal);
    uint8_t id[JOURNAL_ID_SIZE], other[JOURNAL_ID_SIZE];
    journal_id (id, 0xab);
    journal_id (other, 0xcd);
    uint8_t *reply;
    size_t size;

    assert_int_equal (journal_batch_inbox_get (batch, "account/a", id, &reply, &size),
                      SHOAL_ENOTFOUND);
    assert_int_equal (
        journal_batch_inbox_put (batch, "account/a", id, (const uint8_t *) "accepted", 8, 100), 0);
    assert_int_equal (journal_batch_inbox_put (batch, "account/b", other, NULL, 0, 100), 0);

    assert_int_equal (journal_batch_inbox_get (batch, "account/a", id, &reply, &size), 0);
    assert_int_equal (size, 8);
    assert_memory_equal (reply, "accepted", 8);
    free (reply);
    assert_int_equal (journal_batch_inbox_get (batch, "account/b", other, &reply, &size), 0);
    assert_int_equal (size, 0);
    free (reply);
    assert_int_equal (journal_batch_inbox_get (batch, "account/a", other, &reply, &size),
                      SHOAL_ENOTFOUND);
    assert_int_equal (journal_batch_inbox_get (batch, "account/b", id, &reply, &size),
                      SHOAL_ENOTFOUND);
    assert_int_equal (journal_inbox_get (journal, "account/a", id, &reply, &size), SHOAL_ENOTFOUND);

    assert_int_equal (journal_batch_commit (batch), 0);
    assert_int_equal (journal_inbox_get (journal, "account/a", id, &reply, &size), 0);
    assert_int_equal (size, 8);
    assert_memory_equal (reply, "accepted", 8);
    free (reply);
    assert_int_equal (journal_batch_inbox_get (batch, "account/a", id, &reply, &size), 0);
    assert_memory_equal (reply, "accepted", 8);
    free (reply);

    assert_int_equal (
        journal_batch_inbox_put (batch, "account/c", id, (const uint8_t *) "dropped", 7, 100), 0);
    journal_batch_clear (batch);
    assert_int_equal (journal_batch_count (batch), 0);
    assert_int_equal (journal_batch_inbox_get (batch, "account/c", id, &reply, &size),
                      SHOAL_ENOTFOUND);
    journal_batch_destroy (&batch);
}

//  The inbox filter: once it has read the store's 'i' keys, a lookup of
//  a stream with none is answered without a read (counted), and a stream
//  with one, written before the open or after, is read as before.
static void s_wait_filter_ready (journal_t *journal)
{
    for (int i = 0; i < 1000 && !journal_filters_ready (journal); i++)
        usleep (10000);
    assert_true (journal_filters_ready (journal));
}

//  Checks that the committed inbox record of (stream, id) holds text.
static void s_expect_inbox (journal_t *journal, const char *stream,
                            const uint8_t id[JOURNAL_ID_SIZE], const char *text)
{
    uint8_t *reply;
    size_t size;
    assert_int_equal (journal_inbox_get (journal, stream, id, &reply, &size), 0);
    assert_int_equal (size, strlen (text));
    assert_memory_equal (reply, text, size);
    free (reply);
}

static void test_inbox_filter (void **state)
{
    fixture_t *fixture = *state;
    uint8_t id[JOURNAL_ID_SIZE], other[JOURNAL_ID_SIZE];
    journal_id (id, 0xab);
    journal_id (other, 0xcd);
    uint8_t *reply;
    size_t size;
    journal_batch_t *batch = journal_batch_new (fixture->journal);
    assert_int_equal (
        journal_batch_inbox_put (batch, "account/a", id, (const uint8_t *) "first", 5, 100), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);
    //  Not started (a tool's journal): every lookup reads.
    assert_false (journal_filters_ready (fixture->journal));
    assert_int_equal (journal_inbox_get (fixture->journal, "account/b", id, &reply, &size),
                      SHOAL_ENOTFOUND);
    assert_int_equal (journal_filter_skips (fixture->journal, JOURNAL_FILTER_INBOX), 0);

    journal_reopen (fixture);
    journal_t *journal = fixture->journal;
    assert_int_equal (journal_filters_start (journal), 0);
    s_wait_filter_ready (journal);
    //  Written before the open: found by the filter's read of the store.
    s_expect_inbox (journal, "account/a", id, "first");
    assert_int_equal (journal_filter_skips (journal, JOURNAL_FILTER_INBOX), 0);
    //  Another id of the same stream is read (and not found).
    assert_int_equal (journal_inbox_get (journal, "account/a", other, &reply, &size),
                      SHOAL_ENOTFOUND);
    assert_int_equal (journal_filter_skips (journal, JOURNAL_FILTER_INBOX), 0);
    //  A stream with no record: spared.
    assert_int_equal (journal_inbox_get (journal, "account/b", id, &reply, &size), SHOAL_ENOTFOUND);
    assert_int_equal (journal_filter_skips (journal, JOURNAL_FILTER_INBOX), 1);
    //  Written after: both ways of writing an 'i' key take the stream in.
    batch = journal_batch_new (journal);
    assert_int_equal (
        journal_batch_inbox_put (batch, "account/b", id, (const uint8_t *) "later", 5, 100), 0);
    uint8_t record[64];
    size_t record_size = 0;
    {
        msgpack_sbuffer buffer;
        msgpack_sbuffer_init (&buffer);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
        msgpack_pack_array (&pk, 3);
        msgpack_pack_int (&pk, 1);
        msgpack_pack_int64 (&pk, 100);
        msgpack_pack_bin_with_body (&pk, "kept", 4);
        assert_true (buffer.size <= sizeof record);
        memcpy (record, buffer.data, buffer.size);
        record_size = buffer.size;
        msgpack_sbuffer_destroy (&buffer);
    }
    assert_int_equal (journal_batch_inbox_restore (batch, "account/c", other, record, record_size),
                      0);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);
    s_expect_inbox (journal, "account/b", id, "later");
    s_expect_inbox (journal, "account/c", other, "kept");
    assert_int_equal (journal_filter_skips (journal, JOURNAL_FILTER_INBOX), 1);
}

//  The streams' filter, in a store of one shard so that the scan meets
//  several streams in a row: a stream with many events (the scan seeks
//  past them), one with one, one after them; each is read whole after a
//  reopen, and a stream with none is answered without a read.
static void test_stream_filter (void **state)
{
    fixture_t *fixture = *state;
    journal_destroy (&fixture->journal);
    harness_rm_rf (fixture->dir);
    assert_non_null (mkdtemp (strcpy (fixture->dir, "/tmp/test_journal.XXXXXX")));
    journal_options_t options = {.sync = true, .shards = 1};
    int code;
    char *error = NULL;
    fixture->journal = journal_open (fixture->dir, &options, &code, &error);
    assert_non_null (fixture->journal);
    const char *streams[] = {"counter/a", "counter/b", "counter/c"};
    const int counts[] = {10, 1, 6};
    map_t one = journal_map (1);
    journal_event_t event = {"added", one.bytes, one.size};
    journal_batch_t *batch = journal_batch_new (fixture->journal);
    for (int i = 0; i < 3; i++)
        for (int n = 0; n < counts[i]; n++) {
            int64_t version;
            assert_int_equal (
                journal_batch_append (batch, streams[i], JOURNAL_ANY, &event, 1, 1700, &version),
                0);
        }
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);

    journal_destroy (&fixture->journal);
    fixture->journal = journal_open (fixture->dir, &options, &code, &error);
    assert_non_null (fixture->journal);
    journal_t *journal = fixture->journal;
    assert_int_equal (journal_filters_start (journal), 0);
    s_wait_filter_ready (journal);
    for (int i = 0; i < 3; i++) {
        events_t *read = journal_read_all (journal, streams[i]);
        assert_int_equal (read->count, counts[i]);
        free (read);
    }
    assert_int_equal (journal_filter_skips (journal, JOURNAL_FILTER_STREAMS), 0);
    //  None: spared, both ways of reading a stream's start.
    events_t *read = journal_read_all (journal, "counter/d");
    assert_int_equal (read->count, 0);
    free (read);
    uint8_t id[JOURNAL_ID_SIZE];
    assert_int_equal (journal_creator_id (journal, "counter/d", id), SHOAL_ENOTFOUND);
    assert_int_equal (journal_filter_skips (journal, JOURNAL_FILTER_STREAMS), 2);
    //  Its first event staged takes it in: read at once after the commit.
    batch = journal_batch_new (journal);
    int64_t version;
    assert_int_equal (
        journal_batch_append (batch, "counter/d", JOURNAL_NO_STREAM, &event, 1, 1700, &version), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);
    read = journal_read_all (journal, "counter/d");
    assert_int_equal (read->count, 1);
    free (read);
    assert_int_equal (journal_filter_skips (journal, JOURNAL_FILTER_STREAMS), 2);
}

//  A stream with a snapshot and no events (as a repair that lost a table
//  may leave it): the scan finds no 'e' key of it, its version comes from
//  the snapshot, and its next append must still take it into the filter,
//  or its reload would read no events and the append after overwrite the
//  first (a review found it: only event 1 was added then).
static int s_count_event (void *arg, int64_t seq, const char *name, const uint8_t *data,
                          size_t size, int64_t created)
{
    (void) seq, (void) name, (void) data, (void) size, (void) created;
    (*(int *) arg)++;
    return 0;
}

static void test_stream_filter_snapshot_only (void **state)
{
    fixture_t *fixture = *state;
    static const uint8_t empty[] = {0x80}; //  {}
    journal_batch_t *batch = journal_batch_new (fixture->journal);
    assert_int_equal (journal_batch_snapshot (batch, "counter/x", 3, empty, sizeof empty), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);
    journal_reopen (fixture);
    journal_t *journal = fixture->journal;
    assert_int_equal (journal_filters_start (journal), 0);
    s_wait_filter_ready (journal);
    //  As an actor's load: the snapshot's 3, then the events after it.
    int64_t seq;
    uint8_t *bytes;
    size_t size;
    assert_int_equal (journal_snapshot_get (journal, "counter/x", &seq, &bytes, &size), 0);
    free (bytes);
    assert_int_equal (seq, 3);
    int read = 0;
    assert_int_equal (journal_read (journal, "counter/x", 4, 0, s_count_event, &read), 0);
    assert_int_equal (read, 0);
    batch = journal_batch_new (journal);
    journal_batch_remember (batch, "counter/x", 3);
    journal_event_t event = {"added", empty, sizeof empty};
    int64_t version;
    assert_int_equal (journal_batch_append (batch, "counter/x", 3, &event, 1, 1700, &version), 0);
    assert_int_equal (version, 4);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);
    //  Loaded again: event 4 is read.
    read = 0;
    assert_int_equal (journal_read (journal, "counter/x", 4, 0, s_count_event, &read), 0);
    assert_int_equal (read, 1);

    //  The same through an owned batch (a worker's), whose appends add
    //  only new streams: its load's journal_batch_keep takes it in.
    batch = journal_batch_new (journal);
    journal_batch_set_owned (batch, true);
    assert_int_equal (journal_batch_snapshot (batch, "counter/y", 3, empty, sizeof empty), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);
    journal_reopen (fixture);
    journal = fixture->journal;
    assert_int_equal (journal_filters_start (journal), 0);
    s_wait_filter_ready (journal);
    batch = journal_batch_new (journal);
    journal_batch_set_owned (batch, true);
    journal_batch_keep (batch, "counter/y", 3);
    assert_int_equal (journal_batch_append (batch, "counter/y", 3, &event, 1, 1700, &version), 0);
    assert_int_equal (version, 4);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);
    read = 0;
    assert_int_equal (journal_read (journal, "counter/y", 4, 0, s_count_event, &read), 0);
    assert_int_equal (read, 1);
}

static void test_outbox_put_del_scan (void **state)
{
    fixture_t *fixture = *state;
    journal_t *journal = fixture->journal;
    journal_batch_t *batch = journal_batch_new (journal);
    uint8_t id1[JOURNAL_ID_SIZE], id2[JOURNAL_ID_SIZE], id3[JOURNAL_ID_SIZE];
    journal_id (id1, 1);
    journal_id (id2, 2);
    journal_id (id3, 0);
    assert_int_equal (journal_batch_outbox_put (batch, "saga/t1", id1, (const uint8_t *) "one", 3),
                      0);
    assert_int_equal (journal_batch_outbox_put (batch, "saga/t1", id2, (const uint8_t *) "two", 3),
                      0);
    assert_int_equal (
        journal_batch_outbox_put (batch, "account/z", id3, (const uint8_t *) "three", 5), 0);
    assert_int_equal (journal_batch_commit (batch), 0);

    //  The scan goes shard by shard: saga/t1 is in shard 55 of 256, account/z
    //  in shard 151; within a shard, by stream then id.
    assert_int_equal (journal_shard (journal, "saga/t1"), 55);
    assert_int_equal (journal_shard (journal, "account/z"), 151);
    entries_t entries = {0};
    assert_int_equal (journal_outbox_scan (journal, journal_collect_entry, &entries), 0);
    assert_int_equal (entries.count, 3);
    assert_string_equal (entries.stream[0], "saga/t1");
    assert_memory_equal (entries.id[0], id1, JOURNAL_ID_SIZE);
    assert_string_equal (entries.value[0], "one");
    assert_string_equal (entries.stream[1], "saga/t1");
    assert_string_equal (entries.value[1], "two");
    assert_string_equal (entries.stream[2], "account/z");
    assert_memory_equal (entries.id[2], id3, JOURNAL_ID_SIZE);
    assert_string_equal (entries.value[2], "three");

    assert_int_equal (journal_batch_outbox_del (batch, "saga/t1", id1), 0);
    assert_int_equal (journal_batch_outbox_put (batch, "saga/t2", id1, (const uint8_t *) "x", 1),
                      0);
    assert_int_equal (journal_batch_outbox_del (batch, "saga/t2", id1), 0);
    assert_int_equal (journal_batch_count (batch), 3);
    assert_int_equal (journal_batch_commit (batch), 0);

    memset (&entries, 0, sizeof entries);
    assert_int_equal (journal_outbox_scan (journal, journal_collect_entry, &entries), 0);
    assert_int_equal (entries.count, 2);
    assert_string_equal (entries.stream[0], "saga/t1");
    assert_string_equal (entries.value[0], "two");
    assert_string_equal (entries.value[1], "three");
    journal_batch_destroy (&batch);
}

static void test_timer_scan_order (void **state)
{
    fixture_t *fixture = *state;
    journal_t *journal = fixture->journal;
    journal_batch_t *batch = journal_batch_new (journal);
    uint8_t id[JOURNAL_ID_SIZE];
    int64_t dues[] = {5000, 70, 1LL << 40, 256, 0};
    for (size_t i = 0; i < 5; i++) {
        journal_id (id, (uint8_t) i);
        char value[8];
        snprintf (value, sizeof value, "t%zu", i);
        assert_int_equal (journal_batch_timer_put (batch, "clock/a", dues[i], id,
                                                   (const uint8_t *) value, strlen (value)),
                          0);
    }
    assert_int_equal (journal_batch_timer_put (batch, "clock/a", -1, id, (const uint8_t *) "x", 1),
                      SHOAL_EINVAL);
    assert_int_equal (journal_batch_commit (batch), 0);

    entries_t entries = {0};
    assert_int_equal (journal_timer_scan (journal, journal_collect_entry, &entries), 0);
    assert_int_equal (entries.count, 5);
    int64_t sorted[] = {0, 70, 256, 5000, 1LL << 40};
    const char *values[] = {"t4", "t1", "t3", "t0", "t2"};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal (entries.due[i], sorted[i]);
        assert_string_equal (entries.value[i], values[i]);
        assert_true (entries.stream_null[i]);
    }

    journal_id (id, 1);
    assert_int_equal (journal_batch_timer_del (batch, "clock/a", 70, id), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    memset (&entries, 0, sizeof entries);
    assert_int_equal (journal_timer_scan (journal, journal_collect_entry, &entries), 0);
    assert_int_equal (entries.count, 4);
    assert_int_equal (entries.due[1], 256);
    journal_batch_destroy (&batch);
}

//  Collects the streams a scan finds, up to 8; stops after stop_after.
typedef struct {
    size_t count;
    size_t stop_after; //  0 = never stop
    char stream[8][SHOAL_ADDRESS_MAX + 1];
} streams_t;

static int s_collect_stream (void *arg, const char *stream)
{
    streams_t *streams = arg;
    if (streams->count < 8)
        snprintf (streams->stream[streams->count], SHOAL_ADDRESS_MAX + 1, "%s", stream);
    streams->count++;
    return streams->stop_after && streams->count >= streams->stop_after;
}

//  Every stream with events once, in key order, a name that is a prefix
//  of another included; inbox records alone make no stream.
static void test_stream_scan (void **state)
{
    fixture_t *fixture = *state;
    journal_t *journal = fixture->journal;
    streams_t streams = {0};
    assert_int_equal (journal_stream_scan (journal, s_collect_stream, &streams), 0);
    assert_int_equal (streams.count, 0);

    journal_batch_t *batch = journal_batch_new (journal);
    const char *names[] = {"transfer/t1", "account/ab", "account/a", "account/a"};
    for (int i = 0; i < 4; i++)
        assert_int_equal (journal_append_one (batch, names[i], JOURNAL_ANY, "E", i, NULL), 0);
    for (int n = 0; n < 300; n++)
        assert_int_equal (journal_append_one (batch, "account/b", JOURNAL_ANY, "E", n, NULL), 0);
    uint8_t id[JOURNAL_ID_SIZE];
    journal_id (id, 1);
    assert_int_equal (
        journal_batch_inbox_put (batch, "account/c", id, (const uint8_t *) "r", 1, 100), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);

    assert_int_equal (journal_stream_scan (journal, s_collect_stream, &streams), 0);
    //  Key order: by shard, then by name within a shard.
    assert_int_equal (streams.count, 4);
    const char *expected[] = {"account/a", "account/ab", "account/b", "transfer/t1"};
    for (int i = 0; i < 4; i++) {
        int found = 0;
        for (int j = 0; j < 4; j++)
            found += strcmp (streams.stream[j], expected[i]) == 0;
        assert_int_equal (found, 1);
    }
    for (int i = 1; i < 4; i++) {
        uint32_t before = journal_shard (journal, streams.stream[i - 1]);
        uint32_t after = journal_shard (journal, streams.stream[i]);
        assert_true (before < after ||
                     (before == after && strcmp (streams.stream[i - 1], streams.stream[i]) < 0));
    }

    streams_t first = {.stop_after = 2};
    assert_int_equal (journal_stream_scan (journal, s_collect_stream, &first), 0);
    assert_int_equal (first.count, 2);
}

//  Collects the types a type scan finds (len bytes each), up to 16.
typedef struct {
    size_t count;
    char type[16][SHOAL_TYPE_MAX + 1];
} types_t;

static int s_collect_type (void *arg, const char *type, size_t len)
{
    types_t *types = arg;
    if (types->count < 16)
        snprintf (types->type[types->count], SHOAL_TYPE_MAX + 1, "%.*s", (int) len, type);
    types->count++;
    return 0;
}

//  How many times the scan said type.
static int s_type_said (const types_t *types, const char *type)
{
    int said = 0;
    for (size_t i = 0; i < types->count && i < 16; i++)
        said += strcmp (types->type[i], type) == 0;
    return said;
}

//  The types of the streams, once per shard that holds one of theirs: a
//  type that is a prefix of another's ("acc" of "account") told apart, a
//  stream with no '/' passed over, and streams of many events skipped.
static void test_type_scan (void **state)
{
    fixture_t *fixture = *state;
    journal_t *journal = fixture->journal;
    types_t types = {0};
    assert_int_equal (journal_type_scan (journal, s_collect_type, &types), 0);
    assert_int_equal (types.count, 0);
    journal_batch_t *batch = journal_batch_new (journal);
    const char *names[] = {"account/a", "acc/x", "transfer/t1", "plain"};
    for (int i = 0; i < 4; i++)
        for (int n = 0; n < 50; n++)
            assert_int_equal (journal_append_one (batch, names[i], JOURNAL_ANY, "E", n, NULL), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);
    assert_int_equal (journal_type_scan (journal, s_collect_type, &types), 0);
    assert_int_equal (types.count, 3);
    assert_int_equal (s_type_said (&types, "account"), 1);
    assert_int_equal (s_type_said (&types, "acc"), 1);
    assert_int_equal (s_type_said (&types, "transfer"), 1);
    //  Two streams of a type in one shard: said once for the shard.
    char other[32] = "";
    for (int n = 0; !other[0]; n++) {
        char name[32];
        snprintf (name, sizeof name, "account/b%d", n);
        if (journal_shard (journal, name) == journal_shard (journal, "account/a"))
            snprintf (other, sizeof other, "%s", name);
    }
    batch = journal_batch_new (journal);
    assert_int_equal (journal_append_one (batch, other, JOURNAL_ANY, "E", 1, NULL), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);
    memset (&types, 0, sizeof types);
    assert_int_equal (journal_type_scan (journal, s_collect_type, &types), 0);
    assert_int_equal (s_type_said (&types, "account"), 1);
}

static void test_prune (void **state)
{
    fixture_t *fixture = *state;
    journal_t *journal = fixture->journal;
    journal_batch_t *batch = journal_batch_new (journal);
    uint8_t id[JOURNAL_ID_SIZE];
    char stream[32];
    for (int i = 0; i < 2500; i++) {
        journal_id (id, (uint8_t) i);
        snprintf (stream, sizeof stream, "account/%d", i);
        assert_int_equal (journal_batch_inbox_put (batch, stream, id, (const uint8_t *) "r", 1,
                                                   i < 2100 ? 100 + i : 10000),
                          0);
    }
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);

    assert_int_equal (journal_inbox_prune (journal, 100 + 2100), 2100);
    uint8_t *reply;
    size_t size;
    journal_id (id, (uint8_t) 5);
    assert_int_equal (journal_inbox_get (journal, "account/5", id, &reply, &size), SHOAL_ENOTFOUND);
    journal_id (id, (uint8_t) 2100);
    assert_int_equal (journal_inbox_get (journal, "account/2100", id, &reply, &size), 0);
    assert_int_equal (size, 1);
    free (reply);

    assert_int_equal (journal_inbox_prune (journal, 100 + 2100), 0);
    assert_int_equal (journal_inbox_prune (journal, 10001), 400);
    assert_int_equal (journal_inbox_get (journal, "account/2100", id, &reply, &size),
                      SHOAL_ENOTFOUND);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_inbox_staged_and_committed, journal_setup,
                                         journal_teardown),
        cmocka_unit_test_setup_teardown (test_inbox_filter, journal_setup, journal_teardown),
        cmocka_unit_test_setup_teardown (test_stream_filter, journal_setup, journal_teardown),
        cmocka_unit_test_setup_teardown (test_stream_filter_snapshot_only, journal_setup,
                                         journal_teardown),
        cmocka_unit_test_setup_teardown (test_outbox_put_del_scan, journal_setup, journal_teardown),
        cmocka_unit_test_setup_teardown (test_timer_scan_order, journal_setup, journal_teardown),
        cmocka_unit_test_setup_teardown (test_prune, journal_setup, journal_teardown),
        cmocka_unit_test_setup_teardown (test_stream_scan, journal_setup, journal_teardown),
        cmocka_unit_test_setup_teardown (test_type_scan, journal_setup, journal_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
