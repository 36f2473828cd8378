/*  test_journal.c - tests of persistence/journal.c against real LevelDB
    files, in a fresh temporary directory per test.
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

#define MAX_EVENTS 1100

typedef struct {
    char dir[64];       //  the test's temporary directory
    journal_t *journal; //  open on dir
} fixture_t;

//  Events seen by s_collect.
typedef struct {
    size_t count;
    size_t stop_after; //  0 = never stop
    int64_t seq[MAX_EVENTS];
    char name[MAX_EVENTS][SHOAL_NAME_MAX + 1];
    int64_t n[MAX_EVENTS]; //  the "n" field of the data map
    int64_t created[MAX_EVENTS];
} events_t;

//  Outbox entries or timers seen by s_collect_entry.
typedef struct {
    size_t count;
    char stream[16][SHOAL_ADDRESS_MAX + 1];
    bool stream_null[16];
    uint8_t id[16][JOURNAL_ID_SIZE];
    int64_t due[16];
    char value[16][32];
} entries_t;

//  A small msgpack map, built by s_map.
typedef struct {
    uint8_t bytes[128];
    size_t size;
} map_t;

static journal_t *s_open (const char *dir)
{
    int code = 0;
    char *error = NULL;
    journal_t *journal = journal_open (dir, NULL, &code, &error);
    if (!journal)
        fprintf (stderr, "journal_open: %d %s\n", code, error ? error : "");
    free (error);
    assert_non_null (journal);
    return journal;
}

static int s_setup (void **state)
{
    fixture_t *fixture = calloc (1, sizeof (fixture_t));
    assert_non_null (fixture);
    strcpy (fixture->dir, "/tmp/test_journal.XXXXXX");
    assert_non_null (mkdtemp (fixture->dir));
    fixture->journal = s_open (fixture->dir);
    *state = fixture;
    return 0;
}

static int s_teardown (void **state)
{
    fixture_t *fixture = *state;
    journal_destroy (&fixture->journal);
    harness_rm_rf (fixture->dir);
    free (fixture);
    return 0;
}

static void s_reopen (fixture_t *fixture)
{
    journal_destroy (&fixture->journal);
    assert_null (fixture->journal);
    fixture->journal = s_open (fixture->dir);
}

//  {"n": n}
static map_t s_map (int64_t n)
{
    map_t map;
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    msgpack_pack_str_with_body (&pk, "n", 1);
    msgpack_pack_int64 (&pk, n);
    assert_true (buffer.size <= sizeof map.bytes);
    memcpy (map.bytes, buffer.data, buffer.size);
    map.size = buffer.size;
    msgpack_sbuffer_destroy (&buffer);
    return map;
}

//  The "n" of a {"n": n} map, or NO_N if data is anything else. Callbacks
//  do not assert: a failed assert would jump out of a live LevelDB scan.
#define NO_N INT64_MIN

static int64_t s_map_n (const uint8_t *data, size_t size)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    size_t offset = 0;
    int64_t n = NO_N;
    if (msgpack_unpack_next (&unpacked, (const char *) data, size, &offset) ==
            MSGPACK_UNPACK_SUCCESS &&
        offset == size && unpacked.data.type == MSGPACK_OBJECT_MAP &&
        unpacked.data.via.map.size == 1) {
        msgpack_object *value = &unpacked.data.via.map.ptr[0].val;
        if (value->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            n = (int64_t) value->via.u64;
        else if (value->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            n = value->via.i64;
    }
    msgpack_unpacked_destroy (&unpacked);
    return n;
}

static int s_collect (void *arg, int64_t seq, const char *name, const uint8_t *data, size_t size,
                      int64_t created)
{
    events_t *events = arg;
    if (events->count == MAX_EVENTS)
        return 1;
    size_t i = events->count++;
    events->seq[i] = seq;
    snprintf (events->name[i], sizeof events->name[i], "%s", name);
    events->n[i] = s_map_n (data, size);
    events->created[i] = created;
    return events->stop_after && events->count == events->stop_after;
}

static int s_collect_entry (void *arg, const char *stream, const uint8_t id[JOURNAL_ID_SIZE],
                            int64_t due, const uint8_t *value, size_t size)
{
    entries_t *entries = arg;
    if (entries->count == 16)
        return 1;
    size_t i = entries->count++;
    entries->stream_null[i] = stream == NULL;
    snprintf (entries->stream[i], sizeof entries->stream[i], "%s", stream ? stream : "");
    memcpy (entries->id[i], id, JOURNAL_ID_SIZE);
    entries->due[i] = due;
    snprintf (entries->value[i], sizeof entries->value[i], "%.*s", (int) size,
              (const char *) value);
    return 0;
}

static void s_id (uint8_t id[JOURNAL_ID_SIZE], uint8_t fill)
{
    memset (id, fill, JOURNAL_ID_SIZE);
}

//  Appends one event named name with data {"n": n}, expecting expected.
static int s_append_one (journal_batch_t *batch, const char *stream, int64_t expected,
                         const char *name, int64_t n, int64_t *version)
{
    map_t map = s_map (n);
    journal_event_t event = {name, map.bytes, map.size};
    return journal_batch_append (batch, stream, expected, &event, 1, 1000 + n, version);
}

static events_t *s_read_all (journal_t *journal, const char *stream)
{
    events_t *events = calloc (1, sizeof (events_t));
    assert_non_null (events);
    assert_int_equal (journal_read (journal, stream, 1, 0, s_collect, events), 0);
    return events;
}

static int64_t s_version (journal_t *journal, const char *stream)
{
    int64_t version = -99;
    assert_int_equal (journal_version (journal, stream, &version), 0);
    return version;
}

//  --------------------------------------------------------------------------

static void test_usage (void **state)
{
    fixture_t *fixture = *state;
    journal_t *journal = fixture->journal;

    journal_batch_t *batch = journal_batch_new (journal);
    assert_non_null (batch);
    map_t opened = s_map (0), credited = s_map (250);
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
    assert_int_equal (s_version (journal, "account/alice"), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    assert_int_equal (journal_batch_count (batch), 0);
    journal_batch_destroy (&batch);
    journal_batch_destroy (&batch);
    assert_null (batch);

    assert_int_equal (s_version (journal, "account/alice"), 2);
    events_t *read = s_read_all (journal, "account/alice");
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
    assert_int_equal (s_append_one (batch, "account/a", 0, "opened", 1, NULL), 0);
    assert_int_equal (journal_batch_commit (batch), 0);

    int64_t version = -7;
    assert_int_equal (s_append_one (batch, "account/a", 5, "credited", 2, &version),
                      SHOAL_ECONFLICT);
    assert_int_equal (version, -7);
    assert_int_equal (journal_batch_count (batch), 0);
    assert_int_equal (journal_batch_commit (batch), 0);

    events_t *read = s_read_all (fixture->journal, "account/a");
    assert_int_equal (read->count, 1);
    assert_string_equal (read->name[0], "opened");
    free (read);
    assert_int_equal (s_version (fixture->journal, "account/a"), 1);
    journal_batch_destroy (&batch);
}

static void test_conflict_no_stream_on_existing (void **state)
{
    fixture_t *fixture = *state;
    journal_batch_t *batch = journal_batch_new (fixture->journal);
    assert_int_equal (s_append_one (batch, "account/a", JOURNAL_NO_STREAM, "opened", 1, NULL), 0);
    assert_int_equal (journal_batch_commit (batch), 0);

    assert_int_equal (s_append_one (batch, "account/a", JOURNAL_NO_STREAM, "opened", 2, NULL),
                      SHOAL_ECONFLICT);
    assert_int_equal (journal_batch_commit (batch), 0);

    events_t *read = s_read_all (fixture->journal, "account/a");
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
    assert_int_equal (s_append_one (batch, "account/a", 0, "opened", 1, &version), 0);
    assert_int_equal (version, 1);
    assert_int_equal (journal_batch_version (batch, "account/a", &version), 0);
    assert_int_equal (version, 1);
    assert_int_equal (s_append_one (batch, "account/a", 0, "opened", 2, NULL), SHOAL_ECONFLICT);
    assert_int_equal (journal_batch_count (batch), 1);
    assert_int_equal (s_append_one (batch, "account/a", 1, "credited", 3, &version), 0);
    assert_int_equal (version, 2);
    assert_int_equal (journal_batch_commit (batch), 0);

    events_t *read = s_read_all (fixture->journal, "account/a");
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
    assert_int_equal (s_append_one (batch, "log/x", JOURNAL_ANY, "a", 1, &version), 0);
    assert_int_equal (version, 1);
    assert_int_equal (journal_batch_commit (batch), 0);
    assert_int_equal (s_append_one (batch, "log/x", JOURNAL_ANY, "b", 2, &version), 0);
    assert_int_equal (s_append_one (batch, "log/x", JOURNAL_ANY, "c", 3, &version), 0);
    assert_int_equal (version, 3);
    assert_int_equal (journal_batch_commit (batch), 0);
    assert_int_equal (s_version (fixture->journal, "log/x"), 3);
    events_t *read = s_read_all (fixture->journal, "log/x");
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
    s_id (id1, 0x11);
    s_id (id2, 0x22);
    map_t state_map = s_map (42);
    assert_int_equal (s_append_one (batch, "account/a", 0, "opened", 1, NULL), 0);
    assert_int_equal (s_append_one (batch, "account/a", 1, "credited", 2, NULL), 0);
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

    s_reopen (fixture);
    journal_t *journal = fixture->journal;

    assert_int_equal (s_version (journal, "account/a"), 2);
    events_t *read = s_read_all (journal, "account/a");
    assert_int_equal (read->count, 2);
    assert_string_equal (read->name[1], "credited");
    free (read);

    int64_t seq;
    uint8_t *bytes;
    size_t size;
    assert_int_equal (journal_snapshot_get (journal, "account/a", &seq, &bytes, &size), 0);
    assert_int_equal (seq, 2);
    assert_int_equal (s_map_n (bytes, size), 42);
    free (bytes);

    assert_int_equal (journal_inbox_get (journal, "account/a", id1, &bytes, &size), 0);
    assert_int_equal (size, 2);
    assert_memory_equal (bytes, "ok", 2);
    free (bytes);

    entries_t entries = {0};
    assert_int_equal (journal_outbox_scan (journal, s_collect_entry, &entries), 0);
    assert_int_equal (entries.count, 1);
    assert_string_equal (entries.stream[0], "account/a");
    assert_memory_equal (entries.id[0], id2, JOURNAL_ID_SIZE);
    assert_int_equal (entries.due[0], 0);
    assert_string_equal (entries.value[0], "envelope");

    memset (&entries, 0, sizeof entries);
    assert_int_equal (journal_timer_scan (journal, s_collect_entry, &entries), 0);
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
        assert_int_equal (s_append_one (batch, "account/a", i, "credited", i + 1, NULL), 0);
    map_t snap = s_map (15);
    assert_int_equal (journal_batch_snapshot (batch, "account/a", 5, snap.bytes, snap.size), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    for (int64_t i = 5; i < 8; i++)
        assert_int_equal (s_append_one (batch, "account/a", i, "debited", i + 1, NULL), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);

    int64_t seq;
    uint8_t *bytes;
    size_t size;
    assert_int_equal (journal_snapshot_get (journal, "account/a", &seq, &bytes, &size), 0);
    assert_int_equal (seq, 5);
    assert_int_equal (s_map_n (bytes, size), 15);
    free (bytes);

    events_t *read = calloc (1, sizeof (events_t));
    assert_int_equal (journal_read (journal, "account/a", seq + 1, 0, s_collect, read), 0);
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
        assert_int_equal (s_append_one (batch, "account/a", i, "e", i + 1, NULL), 0);
    //  Neighbouring streams whose keys sort right around account/a's.
    assert_int_equal (s_append_one (batch, "account/", 0, "before", 100, NULL), 0);
    assert_int_equal (s_append_one (batch, "account/a0", 0, "after", 200, NULL), 0);
    assert_int_equal (s_append_one (batch, "account/b", 0, "after", 300, NULL), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);

    events_t *read = calloc (1, sizeof (events_t));
    assert_int_equal (journal_read (journal, "account/a", 4, 3, s_collect, read), 0);
    assert_int_equal (read->count, 3);
    assert_int_equal (read->seq[0], 4);
    assert_int_equal (read->seq[2], 6);
    assert_int_equal (read->n[2], 6);

    memset (read, 0, sizeof *read);
    assert_int_equal (journal_read (journal, "account/a", 0, 0, s_collect, read), 0);
    assert_int_equal (read->count, 10);
    assert_int_equal (read->seq[0], 1);
    assert_int_equal (read->seq[9], 10);

    memset (read, 0, sizeof *read);
    assert_int_equal (journal_read (journal, "account/a", 9, 100, s_collect, read), 0);
    assert_int_equal (read->count, 2);

    memset (read, 0, sizeof *read);
    assert_int_equal (journal_read (journal, "account/a", 11, 0, s_collect, read), 0);
    assert_int_equal (read->count, 0);

    memset (read, 0, sizeof *read);
    read->stop_after = 2;
    assert_int_equal (journal_read (journal, "account/a", 1, 0, s_collect, read), 0);
    assert_int_equal (read->count, 2);

    memset (read, 0, sizeof *read);
    assert_int_equal (journal_read (journal, "account/zzz", 1, 0, s_collect, read), 0);
    assert_int_equal (read->count, 0);
    free (read);

    assert_int_equal (s_version (journal, "account/a"), 10);
    assert_int_equal (s_version (journal, "account/"), 1);
    assert_int_equal (s_version (journal, "account/a0"), 1);
    assert_int_equal (s_version (journal, "account/c"), 0);
    assert_int_equal (s_version (journal, "zzz/last"), 0);
    assert_int_equal (s_version (journal, "aaa/first"), 0);
}

static void test_inbox_staged_and_committed (void **state)
{
    fixture_t *fixture = *state;
    journal_t *journal = fixture->journal;
    journal_batch_t *batch = journal_batch_new (journal);
    uint8_t id[JOURNAL_ID_SIZE], other[JOURNAL_ID_SIZE];
    s_id (id, 0xab);
    s_id (other, 0xcd);
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
    s_id (id, 0xab);
    s_id (other, 0xcd);
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

    s_reopen (fixture);
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
    map_t one = s_map (1);
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
        events_t *read = s_read_all (journal, streams[i]);
        assert_int_equal (read->count, counts[i]);
        free (read);
    }
    assert_int_equal (journal_filter_skips (journal, JOURNAL_FILTER_STREAMS), 0);
    //  None: spared, both ways of reading a stream's start.
    events_t *read = s_read_all (journal, "counter/d");
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
    read = s_read_all (journal, "counter/d");
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
    s_reopen (fixture);
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
    s_reopen (fixture);
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
    s_id (id1, 1);
    s_id (id2, 2);
    s_id (id3, 0);
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
    assert_int_equal (journal_outbox_scan (journal, s_collect_entry, &entries), 0);
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
    assert_int_equal (journal_outbox_scan (journal, s_collect_entry, &entries), 0);
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
        s_id (id, (uint8_t) i);
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
    assert_int_equal (journal_timer_scan (journal, s_collect_entry, &entries), 0);
    assert_int_equal (entries.count, 5);
    int64_t sorted[] = {0, 70, 256, 5000, 1LL << 40};
    const char *values[] = {"t4", "t1", "t3", "t0", "t2"};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal (entries.due[i], sorted[i]);
        assert_string_equal (entries.value[i], values[i]);
        assert_true (entries.stream_null[i]);
    }

    s_id (id, 1);
    assert_int_equal (journal_batch_timer_del (batch, "clock/a", 70, id), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    memset (&entries, 0, sizeof entries);
    assert_int_equal (journal_timer_scan (journal, s_collect_entry, &entries), 0);
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
        assert_int_equal (s_append_one (batch, names[i], JOURNAL_ANY, "E", i, NULL), 0);
    for (int n = 0; n < 300; n++)
        assert_int_equal (s_append_one (batch, "account/b", JOURNAL_ANY, "E", n, NULL), 0);
    uint8_t id[JOURNAL_ID_SIZE];
    s_id (id, 1);
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

static void test_prune (void **state)
{
    fixture_t *fixture = *state;
    journal_t *journal = fixture->journal;
    journal_batch_t *batch = journal_batch_new (journal);
    uint8_t id[JOURNAL_ID_SIZE];
    char stream[32];
    for (int i = 0; i < 2500; i++) {
        s_id (id, (uint8_t) i);
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
    s_id (id, (uint8_t) 5);
    assert_int_equal (journal_inbox_get (journal, "account/5", id, &reply, &size), SHOAL_ENOTFOUND);
    s_id (id, (uint8_t) 2100);
    assert_int_equal (journal_inbox_get (journal, "account/2100", id, &reply, &size), 0);
    assert_int_equal (size, 1);
    free (reply);

    assert_int_equal (journal_inbox_prune (journal, 100 + 2100), 0);
    assert_int_equal (journal_inbox_prune (journal, 10001), 400);
    assert_int_equal (journal_inbox_get (journal, "account/2100", id, &reply, &size),
                      SHOAL_ENOTFOUND);
}

static void test_busy_same_process (void **state)
{
    fixture_t *fixture = *state;
    int code = 0;
    char *error = NULL;
    assert_null (journal_open (fixture->dir, NULL, &code, &error));
    assert_int_equal (code, SHOAL_EBUSY);
    assert_non_null (error);
    assert_non_null (strstr (error, "in use by another process"));
    assert_non_null (strstr (error, fixture->dir));
    free (error);
}

static void test_busy_other_process (void **state)
{
    fixture_t *fixture = *state;
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        int code = 0;
        char *error = NULL;
        journal_t *journal = journal_open (fixture->dir, NULL, &code, &error);
        int status =
            !journal && code == SHOAL_EBUSY && error && strstr (error, "in use by another process")
                ? 0
                : 1;
        _exit (status);
    }
    int status = 0;
    assert_int_equal (waitpid (pid, &status, 0), pid);
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);

    //  Once the parent lets go, another process can open it.
    journal_destroy (&fixture->journal);
    pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        journal_t *journal = journal_open (fixture->dir, NULL, NULL, NULL);
        bool opened = journal != NULL;
        journal_destroy (&journal);
        _exit (opened ? 0 : 1);
    }
    assert_int_equal (waitpid (pid, &status, 0), pid);
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);
    fixture->journal = s_open (fixture->dir);
}

static void test_open_creates_and_fails (void **state)
{
    fixture_t *fixture = *state;
    char nested[128];
    snprintf (nested, sizeof nested, "%s/a/b/c", fixture->dir);
    journal_options_t opts = {.sync = false, .cache_bytes = 1 << 20};
    int code = 0;
    char *error = NULL;
    journal_t *journal = journal_open (nested, &opts, &code, &error);
    assert_non_null (journal);
    assert_null (error);
    journal_batch_t *batch = journal_batch_new (journal);
    assert_int_equal (s_append_one (batch, "account/a", 0, "opened", 1, NULL), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);
    assert_int_equal (s_version (journal, "account/a"), 1);
    journal_destroy (&journal);
    struct stat st;
    assert_int_equal (stat (nested, &st), 0);
    assert_true (S_ISDIR (st.st_mode));

    char file[128];
    snprintf (file, sizeof file, "%s/plain", fixture->dir);
    FILE *f = fopen (file, "w");
    assert_non_null (f);
    fclose (f);
    assert_null (journal_open (file, NULL, &code, &error));
    assert_int_equal (code, SHOAL_EIO);
    assert_non_null (error);
    assert_non_null (strstr (error, file));
    free (error);

    error = NULL;
    assert_null (journal_open ("", NULL, &code, &error));
    assert_int_equal (code, SHOAL_EINVAL);
    free (error);
}

//  An unsynced commit is in the store at once (reads see it) and counted
//  written; the event log readers see, and journal_synced, move only with
//  a sync, one sync covering every write before it.
static void test_unsynced_commit_then_sync (void **state)
{
    fixture_t *fixture = *state;
    journal_t *journal = fixture->journal;
    journal_batch_t *batch = journal_batch_new (journal);
    assert_non_null (batch);
    uint64_t synced = journal_synced (journal);
    uint64_t syncs = journal_syncs (journal);
    uint64_t log_end = journal_log_end (journal);
    uint64_t written = 0;
    for (int i = 1; i <= 3; i++) {
        assert_int_equal (s_append_one (batch, "counter/u", i - 1, "Counted", i, NULL), 0);
        assert_int_equal (journal_batch_commit_unsynced (batch, &written), 0);
        assert_int_equal (written, journal_written (journal));
        assert_int_equal (s_version (journal, "counter/u"), i); //  in the store
    }
    assert_int_equal (journal_synced (journal), synced);
    assert_int_equal (journal_syncs (journal), syncs);
    assert_int_equal (journal_log_end (journal), log_end);
    assert_int_equal (journal_sync (journal, written), 0);
    assert_int_equal (journal_synced (journal), written);
    assert_int_equal (journal_syncs (journal), syncs + 1); //  one for the three
    assert_int_equal (journal_log_end (journal), log_end + 3);
    assert_int_equal (journal_sync (journal, written), 0); //  nothing left: no sync
    assert_int_equal (journal_syncs (journal), syncs + 1);
    //  Nothing staged: written as it was, no sync to wait for.
    uint64_t none;
    assert_int_equal (journal_batch_commit_unsynced (batch, &none), 0);
    assert_int_equal (none, written);
    //  A commit that waits is durable when it returns.
    assert_int_equal (s_append_one (batch, "counter/u", 3, "Counted", 4, NULL), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    assert_int_equal (journal_synced (journal), journal_written (journal));
    assert_int_equal (journal_log_end (journal), log_end + 4);
    journal_batch_destroy (&batch);
    s_reopen (fixture); //  all of it is there after a reopen
    assert_int_equal (s_version (fixture->journal, "counter/u"), 4);
}

//  In async durability nothing is synced: a write counts as synced at once.
static void test_async_needs_no_sync (void **state)
{
    fixture_t *fixture = *state;
    char dir[512];
    snprintf (dir, sizeof dir, "%s/async", fixture->dir);
    journal_options_t opts = {.sync = false};
    int code = 0;
    char *error = NULL;
    journal_t *journal = journal_open (dir, &opts, &code, &error);
    assert_non_null (journal);
    journal_batch_t *batch = journal_batch_new (journal);
    assert_non_null (batch);
    uint64_t written = 0;
    //  (The new store's metadata was synced: it asks to be, in async too.)
    uint64_t syncs = journal_syncs (journal);
    assert_int_equal (s_append_one (batch, "counter/a", 0, "Counted", 1, NULL), 0);
    assert_int_equal (journal_batch_commit_unsynced (batch, &written), 0);
    assert_int_equal (journal_synced (journal), written);
    assert_int_equal (journal_log_end (journal), 1);
    assert_int_equal (journal_sync (journal, written), 0);
    assert_int_equal (journal_syncs (journal), syncs);
    //  A commit that asks to be durable syncs the logs, in async too
    journal_batch_set_lazy (batch, false);
    assert_int_equal (s_append_one (batch, "counter/a", 1, "Counted", 1, NULL), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    assert_int_equal (journal_syncs (journal), syncs + 1);
    journal_batch_destroy (&batch);
    journal_destroy (&journal);
}

static void test_fail_commits_after (void **state)
{
    fixture_t *fixture = *state;
    journal_t *journal = fixture->journal;
    journal_batch_t *batch = journal_batch_new (journal);
    journal_fail_commits_after (journal, 2);

    assert_int_equal (s_append_one (batch, "account/a", 0, "opened", 1, NULL), 0);
    assert_int_equal (journal_batch_commit (batch), 0);

    uint8_t id[JOURNAL_ID_SIZE];
    s_id (id, 9);
    assert_int_equal (s_append_one (batch, "account/a", 1, "credited", 2, NULL), 0);
    assert_int_equal (journal_batch_inbox_put (batch, "account/a", id, (const uint8_t *) "r", 1, 1),
                      0);
    assert_int_equal (journal_batch_commit (batch), SHOAL_EIO);
    assert_int_equal (journal_batch_count (batch), 0);
    assert_int_equal (journal_batch_bytes (batch), 0);

    int64_t version;
    assert_int_equal (journal_batch_version (batch, "account/a", &version), 0);
    assert_int_equal (version, 1);
    assert_int_equal (s_append_one (batch, "account/a", 1, "credited", 3, NULL), 0);
    assert_int_equal (journal_batch_commit (batch), SHOAL_EIO);

    assert_int_equal (s_version (journal, "account/a"), 1);
    uint8_t *reply;
    size_t size;
    assert_int_equal (journal_inbox_get (journal, "account/a", id, &reply, &size), SHOAL_ENOTFOUND);

    journal_fail_commits_after (journal, 0);
    assert_int_equal (s_append_one (batch, "account/a", 1, "credited", 4, NULL), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    events_t *read = s_read_all (journal, "account/a");
    assert_int_equal (read->count, 2);
    assert_int_equal (read->n[1], 4);
    free (read);
    journal_batch_destroy (&batch);
}

//  Writes value under key through a raw LevelDB handle on dir.
static void s_raw_put (const char *dir, const uint8_t *key, size_t key_len, const void *value,
                       size_t value_len)
{
    leveldb_options_t *options = leveldb_options_create ();
    char *err = NULL;
    leveldb_t *db = leveldb_open (options, dir, &err);
    assert_null (err);
    leveldb_writeoptions_t *write = leveldb_writeoptions_create ();
    leveldb_put (db, write, (const char *) key, key_len, value, value_len, &err);
    assert_null (err);
    leveldb_writeoptions_destroy (write);
    leveldb_close (db);
    leveldb_options_destroy (options);
}

//  Writes 'S' shard tag, the start of a key of table tag in stream's shard
//  (of SHOAL_SHARDS_DEFAULT, the fixture's count). Returns its length.
static size_t s_tag (uint8_t *key, const char *stream, char tag)
{
    uint32_t shard = shoal_shard (stream, SHOAL_SHARDS_DEFAULT);
    key[0] = 'S';
    key[1] = (uint8_t) (shard >> 8);
    key[2] = (uint8_t) shard;
    key[3] = (uint8_t) tag;
    return 4;
}

static size_t s_key (uint8_t *key, char tag, const char *stream, const uint8_t *tail,
                     size_t tail_len)
{
    size_t len = strlen (stream);
    size_t at = s_tag (key, stream, tag);
    memcpy (key + at, stream, len);
    key[at + len] = 0;
    memcpy (key + at + len + 1, tail, tail_len);
    return at + len + 1 + tail_len;
}

//  Deletes key from the store in dir (closed), as a damaged table dropped
//  by LevelDB's repair would.
static void s_raw_delete (const char *dir, const uint8_t *key, size_t key_len)
{
    leveldb_options_t *options = leveldb_options_create ();
    char *err = NULL;
    leveldb_t *db = leveldb_open (options, dir, &err);
    assert_null (err);
    leveldb_writeoptions_t *write = leveldb_writeoptions_create ();
    leveldb_delete (db, write, (const char *) key, key_len, &err);
    assert_null (err);
    leveldb_writeoptions_destroy (write);
    leveldb_close (db);
    leveldb_options_destroy (options);
}

//  A store whose event log lost a record between two it kept (a power cut
//  that kept a later write and not an earlier one: the disk wrote them out
//  of order) is refused at open, naming the positions; nothing is written.
static void test_event_log_gap_refused (void **state)
{
    fixture_t *fixture = *state;
    journal_batch_t *batch = journal_batch_new (fixture->journal);
    assert_non_null (batch);
    for (int i = 1; i <= 3; i++) { //  log records at positions 0, 1, 2
        assert_int_equal (s_append_one (batch, "counter/g", i - 1, "Counted", i, NULL), 0);
        assert_int_equal (journal_batch_commit (batch), 0);
    }
    journal_batch_destroy (&batch);
    journal_destroy (&fixture->journal);
    fixture->journal = s_open (fixture->dir); //  whole, it opens
    assert_non_null (fixture->journal);
    journal_destroy (&fixture->journal);
    uint8_t key[9]; //  'L' and the position, big-endian (persistence/keys.h)
    key[0] = 'L';
    for (int i = 1; i <= 8; i++)
        key[i] = 0;
    key[8] = 1; //  position 1
    s_raw_delete (fixture->dir, key, sizeof key);
    int code = 0;
    char *error = NULL;
    assert_null (journal_open (fixture->dir, NULL, &code, &error));
    assert_int_equal (code, SHOAL_EFORMAT);
    assert_non_null (error);
    if (!strstr (error, "positions 1 to 1 are missing"))
        fail_msg ("refused, but not for the gap: %s", error);
    free (error);
    //  shoal repair accepts the loss: it removes the mark first.
    char *report = NULL, *failure = NULL;
    assert_int_equal (journal_repair (fixture->dir, NULL, NULL, &report, &failure), 0);
    free (report);
    free (failure);
    fixture->journal = s_open (fixture->dir);
    assert_non_null (fixture->journal);
}

//  A store made by journal_open has the mark that no stream has a gap
//  (JOURNAL_GAPLESS_FILE), and a stream without event 1 reads as none
//  there (a get, not a seek). journal_repair removes the mark before
//  LevelDB's repair: a stream that lost event 1 (as a repair that drops a
//  damaged table may leave it) then reads its later events again, as a
//  store made before the mark (no file) does.
static void test_gapless_mark (void **state)
{
    fixture_t *fixture = *state;
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/GAPLESS", fixture->dir);
    assert_int_equal (access (path, F_OK), 0);
    events_t *read = s_read_all (fixture->journal, "account/none");
    assert_int_equal (read->count, 0);
    free (read);
    journal_batch_t *batch = journal_batch_new (fixture->journal);
    for (int64_t n = 1; n <= 3; n++)
        assert_int_equal (s_append_one (batch, "account/a", JOURNAL_ANY, "x", n, NULL), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);
    read = s_read_all (fixture->journal, "account/a");
    assert_int_equal (read->count, 3);
    free (read);

    //  Event 1 lost: with the mark, the stream reads as none.
    journal_destroy (&fixture->journal);
    uint8_t seq[8] = {0, 0, 0, 0, 0, 0, 0, 1};
    uint8_t key[64];
    size_t key_len = s_key (key, 'e', "account/a", seq, 8);
    s_raw_delete (fixture->dir, key, key_len);
    fixture->journal = s_open (fixture->dir);
    read = s_read_all (fixture->journal, "account/a");
    assert_int_equal (read->count, 0);
    free (read);

    //  Repaired: no mark, its events 2 and 3 read again, after a reopen too.
    journal_destroy (&fixture->journal);
    char *report = NULL, *error = NULL;
    assert_int_equal (journal_repair (fixture->dir, NULL, NULL, &report, &error), 0);
    free (report);
    free (error);
    assert_int_not_equal (access (path, F_OK), 0);
    for (int open = 0; open < 2; open++) {
        fixture->journal = s_open (fixture->dir);
        read = s_read_all (fixture->journal, "account/a");
        assert_int_equal (read->count, 2);
        assert_int_equal (read->seq[0], 2);
        assert_int_equal (read->seq[1], 3);
        free (read);
        assert_int_equal (access (path, F_OK), -1); //  an existing store gets no mark
        if (open == 0)
            journal_destroy (&fixture->journal);
    }
}

//  A version told to the batch (journal_batch_remember, as an actor's load
//  does) answers journal_batch_version without a seek, follows the batch's
//  own commits, and is forgotten when a commit fails: a stale one would let
//  an append overwrite committed events.
//  The versions a batch remembers are kept in two generations of 32,768
//  streams (persistence/batch.c): a stream in use stays known while
//  thousands of others pass, one left alone is forgotten after two
//  generations (the store answers again), and a newer version always
//  shadows an older one of the other generation.
#define KNOWN_GENERATION 32768

static void s_remember_others (journal_batch_t *batch, int *next, int count)
{
    for (int i = 0; i < count; i++) {
        char stream[32];
        snprintf (stream, sizeof stream, "transfer/%d", (*next)++);
        journal_batch_remember (batch, stream, 1);
    }
}

static void test_remembered_versions_in_two_generations (void **state)
{
    fixture_t *fixture = *state;
    journal_t *journal = fixture->journal;
    journal_batch_t *writer = journal_batch_new (journal);
    assert_int_equal (s_append_one (writer, "account/a", 0, "opened", 1, NULL), 0);
    assert_int_equal (journal_batch_commit (writer), 0);
    journal_batch_destroy (&writer);

    journal_batch_t *batch = journal_batch_new (journal);
    int next = 0;
    int64_t version;
    //  Told 7 (not the store's 1, so that the cache shows), then a full
    //  generation of others: still known, from the older generation.
    journal_batch_remember (batch, "account/a", 7);
    s_remember_others (batch, &next, KNOWN_GENERATION);
    assert_int_equal (journal_batch_version (batch, "account/a", &version), 0);
    assert_int_equal (version, 7);
    //  That lookup moved it to the newer generation: two more passes of
    //  others keep it only if it is used in between.
    s_remember_others (batch, &next, KNOWN_GENERATION);
    assert_int_equal (journal_batch_version (batch, "account/a", &version), 0);
    assert_int_equal (version, 7);
    //  A newer version shadows the older generation's.
    s_remember_others (batch, &next, KNOWN_GENERATION);
    journal_batch_remember (batch, "account/a", 9);
    assert_int_equal (journal_batch_version (batch, "account/a", &version), 0);
    assert_int_equal (version, 9);
    s_remember_others (batch, &next, KNOWN_GENERATION);
    assert_int_equal (journal_batch_version (batch, "account/a", &version), 0);
    assert_int_equal (version, 9);
    //  Left alone for two generations, it is forgotten: the store answers.
    s_remember_others (batch, &next, 2 * KNOWN_GENERATION + 1);
    assert_int_equal (journal_batch_version (batch, "account/a", &version), 0);
    assert_int_equal (version, 1);
    //  And one of the others, remembered last, is still known.
    assert_int_equal (journal_batch_version (batch, "transfer/0", &version), 0);
    assert_int_equal (version, 0); //  forgotten too: the store has no such stream
    char last[32];
    snprintf (last, sizeof last, "transfer/%d", next - 1);
    assert_int_equal (journal_batch_version (batch, last, &version), 0);
    assert_int_equal (version, 1);
    journal_batch_destroy (&batch);
}

static void test_remembered_version (void **state)
{
    fixture_t *fixture = *state;
    journal_t *journal = fixture->journal;
    journal_batch_t *writer = journal_batch_new (journal);
    assert_int_equal (s_append_one (writer, "account/a", 0, "opened", 1, NULL), 0);
    assert_int_equal (s_append_one (writer, "account/a", 1, "credited", 2, NULL), 0);
    assert_int_equal (journal_batch_commit (writer), 0);
    journal_batch_destroy (&writer);

    //  Told the true version, the batch appends after it and then knows
    //  the version its commit made.
    journal_batch_t *batch = journal_batch_new (journal);
    journal_batch_remember (batch, "account/a", 2);
    int64_t version;
    assert_int_equal (s_append_one (batch, "account/a", 2, "credited", 3, &version), 0);
    assert_int_equal (version, 3);
    assert_int_equal (journal_batch_commit (batch), 0);
    assert_int_equal (journal_batch_version (batch, "account/a", &version), 0);
    assert_int_equal (version, 3);
    assert_int_equal (s_version (journal, "account/a"), 3);

    //  The batch believes what it is told (this is what makes it a cache):
    //  told a version that is not the store's, it answers that one.
    journal_batch_remember (batch, "account/a", 7);
    assert_int_equal (journal_batch_version (batch, "account/a", &version), 0);
    assert_int_equal (version, 7);

    //  A failed commit forgets it: the store answers again, and an append
    //  expecting the stale version is refused, not written at seq 8.
    journal_fail_commits_after (journal, 1);
    assert_int_equal (s_append_one (batch, "account/b", 0, "opened", 1, NULL), 0);
    assert_int_equal (journal_batch_commit (batch), SHOAL_EIO);
    journal_fail_commits_after (journal, 0);
    assert_int_equal (journal_batch_version (batch, "account/a", &version), 0);
    assert_int_equal (version, 3);
    assert_int_equal (s_append_one (batch, "account/a", 7, "credited", 4, NULL), SHOAL_ECONFLICT);
    assert_int_equal (s_append_one (batch, "account/a", 3, "credited", 4, NULL), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    events_t *read = s_read_all (journal, "account/a");
    assert_int_equal (read->count, 4);
    for (size_t i = 0; i < read->count; i++)
        assert_int_equal (read->seq[i], (int64_t) i + 1);
    assert_int_equal (read->n[3], 4);
    free (read);

    //  Staged events win over a remembered version; what cannot be a
    //  version is not remembered.
    assert_int_equal (s_append_one (batch, "account/c", 0, "opened", 1, NULL), 0);
    journal_batch_remember (batch, "account/c", 0);
    assert_int_equal (journal_batch_version (batch, "account/c", &version), 0);
    assert_int_equal (version, 1);
    journal_batch_clear (batch);
    journal_batch_remember (batch, "account/d", -1);
    journal_batch_remember (batch, "", 5);
    journal_batch_remember (batch, NULL, 5);
    assert_int_equal (journal_batch_version (batch, "account/d", &version), 0);
    assert_int_equal (version, 0);
    journal_batch_destroy (&batch);
}

//  An owned batch (the worker's: journal_batch_set_owned) takes an
//  append's expected version as the committed one, with no lookup, and
//  still checks it against what it staged itself; it remembers nothing at
//  commit (its caller does, as an actor leaves memory), and forgets what
//  it was told when asked to.
static void test_owned_batch_trusts_its_caller (void **state)
{
    fixture_t *fixture = *state;
    journal_t *journal = fixture->journal;
    journal_batch_t *batch = journal_batch_new (journal);
    journal_batch_set_owned (batch, true);
    int64_t version;
    assert_int_equal (s_append_one (batch, "account/a", 0, "opened", 1, &version), 0);
    assert_int_equal (s_append_one (batch, "account/a", 1, "credited", 2, &version), 0);
    assert_int_equal (version, 2);
    //  Staged: the batch's own version is checked, as without ownership.
    assert_int_equal (s_append_one (batch, "account/a", 1, "credited", 3, NULL), SHOAL_ECONFLICT);
    //  Nothing remembered at the commit: told an older version before it,
    //  the batch still answers that one after it (a batch not owned would
    //  remember its 2 at the commit); the caller, who keeps the stream,
    //  knows better...
    journal_batch_remember (batch, "account/a", 1);
    assert_int_equal (journal_batch_commit (batch), 0);
    assert_int_equal (journal_batch_version (batch, "account/a", &version), 0);
    assert_int_equal (version, 1);
    //  ... but an owned append is not looked up: the caller's 2 is used.
    assert_int_equal (s_append_one (batch, "account/a", 2, "credited", 3, &version), 0);
    assert_int_equal (version, 3);
    //  JOURNAL_ANY is looked up, as without ownership: account/b, new,
    //  gets 1. (An owned batch's caller must not use it for a stream it
    //  keeps: the lookup may find an older remembered version.)
    journal_batch_forget (batch);
    map_t map = s_map (4);
    journal_event_t event = {"credited", map.bytes, map.size};
    assert_int_equal (
        journal_batch_append (batch, "account/b", JOURNAL_ANY, &event, 1, 1004, &version), 0);
    assert_int_equal (version, 1);
    assert_int_equal (journal_batch_commit (batch), 0);
    //  Forgotten, the store answers.
    journal_batch_remember (batch, "account/a", 1);
    journal_batch_forget (batch);
    assert_int_equal (journal_batch_version (batch, "account/a", &version), 0);
    assert_int_equal (version, 3);
    events_t *read = s_read_all (journal, "account/a");
    assert_int_equal (read->count, 3);
    for (size_t i = 0; i < read->count; i++)
        assert_int_equal (read->seq[i], (int64_t) i + 1);
    free (read);
    journal_batch_destroy (&batch);
}

static void test_corrupted_event (void **state)
{
    fixture_t *fixture = *state;
    journal_batch_t *batch = journal_batch_new (fixture->journal);
    assert_int_equal (s_append_one (batch, "account/a", 0, "opened", 1, NULL), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);

    static const struct {
        const char *bytes;
        size_t size;
        int code;
    } garbage[] = {
        {"\x00\x01\x02garbage", 10, SHOAL_EFORMAT},
        {"", 0, SHOAL_EFORMAT},
        {"\x94\x01\xa6opened\x81\xa1n", 12, SHOAL_EFORMAT},                //  truncated map
        {"\x94\x01\xa6opened\x80\x05\x05", 12, SHOAL_EFORMAT},             //  trailing byte
        {"\x93\x01\xa6opened\x80\x05", 11, SHOAL_EFORMAT},                 //  4 fields, count 3
        {"\x94\x01\xa6opened\x01\x05", 11, SHOAL_EFORMAT},                 //  data not a map
        {"\x94\x01\xc4\x02op\x80\x05", 8, SHOAL_EFORMAT},                  //  name not a str
        {"\x94\x01\xa0\x80\x05", 5, SHOAL_EFORMAT},                        //  empty name
        {"\x94\x01\xa6opened\xdf\xff\xff\xff\xff\x05", 15, SHOAL_EFORMAT}, //  huge map
        {"\x94\x01\xa6opened\x81\xc1\xc1\x05", 13, SHOAL_EFORMAT},         //  reserved 0xc1
        {"\x94\x01\xa6opened\x81\xdb\xff\xff\xff\xf0", 15, SHOAL_EFORMAT}, //  long str
        {"\x94\x02\xa6opened\x80\x05", 11, SHOAL_EVERSION},                //  format 2
    };
    uint8_t seq[8] = {0, 0, 0, 0, 0, 0, 0, 2};
    uint8_t key[64];
    size_t key_len = s_key (key, 'e', "account/a", seq, 8);
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        journal_destroy (&fixture->journal);
        s_raw_put (fixture->dir, key, key_len, garbage[i].bytes, garbage[i].size);
        fixture->journal = s_open (fixture->dir);

        events_t *read = calloc (1, sizeof (events_t));
        assert_int_equal (journal_read (fixture->journal, "account/a", 1, 0, s_collect, read),
                          garbage[i].code);
        assert_int_equal (read->count, 1);
        assert_string_equal (read->name[0], "opened");
        free (read);
        assert_int_equal (s_version (fixture->journal, "account/a"), 2);
    }

    //  A well-formed replacement reads again.
    journal_destroy (&fixture->journal);
    s_raw_put (fixture->dir, key, key_len, "\x94\x01\xa1x\x81\xa1n\x07\x05", 9);
    fixture->journal = s_open (fixture->dir);
    events_t *read = s_read_all (fixture->journal, "account/a");
    assert_int_equal (read->count, 2);
    assert_string_equal (read->name[1], "x");
    assert_int_equal (read->n[1], 7);
    assert_int_equal (read->created[1], 5);
    free (read);
}

static void test_corrupted_records (void **state)
{
    fixture_t *fixture = *state;
    uint8_t id[JOURNAL_ID_SIZE];
    s_id (id, 3);
    uint8_t key[64];
    journal_destroy (&fixture->journal);
    size_t at = s_tag (key, "account/a", 's');
    memcpy (key + at, "account/a", 9);
    s_raw_put (fixture->dir, key, at + 9, "\x93\x01\x05", 3);
    size_t key_len = s_key (key, 'i', "account/a", id, JOURNAL_ID_SIZE);
    s_raw_put (fixture->dir, key, key_len, "\x93\x01\x05\xa2ok", 6);
    //  An 'e' key too short to hold a seq.
    key_len = s_key (key, 'e', "account/b", (const uint8_t *) "\x01", 1);
    s_raw_put (fixture->dir, key, key_len, "\x94\x01\xa1x\x80\x05", 6);
    //  Outbox and timer keys that do not parse, each sorted before a good
    //  entry of its table: an id of 3 bytes, a bare tag, a due too short.
    key_len = s_key (key, 'o', "account/a", id, 3);
    s_raw_put (fixture->dir, key, key_len, "envelope", 8);
    s_raw_put (fixture->dir, key, s_tag (key, "account/c", 'o'), "bare", 4);
    at = s_tag (key, "clock/a", 't');
    key[at] = 0;
    s_raw_put (fixture->dir, key, at + 1, "short", 5);
    key_len = s_key (key, 'o', "account/c", id, JOURNAL_ID_SIZE);
    s_raw_put (fixture->dir, key, key_len, "good", 4);
    at = s_tag (key, "clock/a", 't');
    memset (key + at, 0, 8);
    key[at + 7] = 9;
    memcpy (key + at + 8, id, JOURNAL_ID_SIZE);
    s_raw_put (fixture->dir, key, at + 8 + JOURNAL_ID_SIZE, "tick", 4);
    //  Keys like these are damage no write of shoal's makes: a store that
    //  may hold them has no mark that its streams have no gap (account/b
    //  has no event 1 but a key under it), as after a repair.
    char mark[PATH_MAX];
    snprintf (mark, sizeof mark, "%s/GAPLESS", fixture->dir);
    assert_int_equal (unlink (mark), 0);
    fixture->journal = s_open (fixture->dir);

    int64_t seq, version;
    uint8_t *bytes;
    size_t size;
    assert_int_equal (journal_snapshot_get (fixture->journal, "account/a", &seq, &bytes, &size),
                      SHOAL_EFORMAT);
    assert_int_equal (journal_inbox_get (fixture->journal, "account/a", id, &bytes, &size),
                      SHOAL_EFORMAT);
    assert_int_equal (journal_version (fixture->journal, "account/b", &version), SHOAL_EFORMAT);
    events_t *read = calloc (1, sizeof (events_t));
    assert_int_equal (journal_read (fixture->journal, "account/b", 1, 0, s_collect, read),
                      SHOAL_EFORMAT);
    assert_int_equal (read->count, 0);
    free (read);
    //  The scans skip the bad keys and go on to the good entries, so one
    //  damaged record does not keep a node from starting.
    entries_t entries = {0};
    assert_int_equal (journal_outbox_scan (fixture->journal, s_collect_entry, &entries), 0);
    assert_int_equal (entries.count, 1);
    assert_string_equal (entries.stream[0], "account/c");
    assert_string_equal (entries.value[0], "good");
    memset (&entries, 0, sizeof entries);
    assert_int_equal (journal_timer_scan (fixture->journal, s_collect_entry, &entries), 0);
    assert_int_equal (entries.count, 1);
    assert_int_equal (entries.due[0], 9);
    assert_string_equal (entries.value[0], "tick");
    //  An undecodable inbox record is kept, not pruned.
    assert_int_equal (journal_inbox_prune (fixture->journal, INT64_MAX), 0);
}

//  A stream's seq stops at JOURNAL_SEQ_MAX, so that the next seq (a
//  query's "next") always fits: a last key past it reads as damaged, and no
//  append goes past it.
static void test_seq_limit (void **state)
{
    fixture_t *fixture = *state;
    uint8_t seq[8] = {0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe};
    uint8_t key[64];
    size_t key_len = s_key (key, 'e', "account/m", seq, 8);
    journal_destroy (&fixture->journal);
    s_raw_put (fixture->dir, key, key_len, "\x94\x01\xa1x\x80\x05", 6);
    fixture->journal = s_open (fixture->dir);
    assert_int_equal (s_version (fixture->journal, "account/m"), JOURNAL_SEQ_MAX);
    journal_batch_t *batch = journal_batch_new (fixture->journal);
    assert_int_equal (s_append_one (batch, "account/m", JOURNAL_ANY, "x", 1, NULL), SHOAL_EFORMAT);
    assert_int_equal (journal_batch_count (batch), 0);
    journal_batch_destroy (&batch);

    seq[7] = 0xff; //  INT64_MAX
    key_len = s_key (key, 'e', "account/n", seq, 8);
    journal_destroy (&fixture->journal);
    s_raw_put (fixture->dir, key, key_len, "\x94\x01\xa1x\x80\x05", 6);
    fixture->journal = s_open (fixture->dir);
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
        assert_int_equal (s_append_one (batch, stream, i / 100, "credited", i, &version), 0);
        assert_int_equal (version, i / 100 + 1);
    }
    assert_int_equal (journal_batch_count (batch), 1000);
    assert_true (journal_batch_bytes (batch) > 1000 * 20);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);

    for (int s = 0; s < 100; s++) {
        snprintf (stream, sizeof stream, "account/%d", s);
        assert_int_equal (s_version (journal, stream), 10);
        events_t *read = s_read_all (journal, stream);
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
    map_t map = s_map (1);
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
    assert_int_equal (s_version (fixture->journal, "account/a"), 0);

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

//  Opens dir with opts->shards = shards; fails the test unless it is
//  refused with code and a message that holds each of the strings given.
static void s_refused (const char *dir, int shards, int expected, ...)
{
    journal_options_t opts = {.sync = true, .shards = shards};
    int code = 0;
    char *error = NULL;
    assert_null (journal_open (dir, &opts, &code, &error));
    assert_int_equal (code, expected);
    assert_non_null (error);
    va_list args;
    va_start (args, expected);
    for (const char *part = va_arg (args, const char *); part; part = va_arg (args, const char *))
        if (!strstr (error, part))
            fail_msg ("'%s' is not in '%s'", part, error);
    va_end (args);
    free (error);
}

//  Opens dir with opts->shards = shards, fails the test unless it opens,
//  and returns its shard count.
static int s_shards_of (const char *dir, int shards)
{
    journal_options_t opts = {.sync = true, .shards = shards};
    int code = 0;
    char *error = NULL;
    journal_t *journal = journal_open (dir, &opts, &code, &error);
    if (!journal)
        fail_msg ("journal_open: %d %s", code, error ? error : "");
    int count = journal_shards (journal);
    journal_destroy (&journal);
    return count;
}

//  The shard count is fixed when a store is made: reopened with another
//  count it is refused, naming both; 0 means "whatever the store has".
static void test_shards_fixed_at_creation (void **state)
{
    fixture_t *fixture = *state;
    assert_int_equal (journal_shards (fixture->journal), SHOAL_SHARDS_DEFAULT);
    journal_destroy (&fixture->journal);
    s_refused (fixture->dir, 64, SHOAL_EINVAL, fixture->dir, "has 256 shards",
               "--shards 64 was given", NULL);
    assert_int_equal (s_shards_of (fixture->dir, 0), 256);
    assert_int_equal (s_shards_of (fixture->dir, 256), 256);

    char dir[128];
    snprintf (dir, sizeof dir, "%s/eight", fixture->dir);
    assert_int_equal (s_shards_of (dir, 8), 8);
    assert_int_equal (s_shards_of (dir, 0), 8);
    s_refused (dir, 256, SHOAL_EINVAL, dir, "has 8 shards", "--shards 256 was given", NULL);

    //  Out of range: a shard is a u16 in the keys.
    snprintf (dir, sizeof dir, "%s/wide", fixture->dir);
    s_refused (dir, SHOAL_SHARDS_MAX + 1, SHOAL_EINVAL, "65537", NULL);
    s_refused (dir, -1, SHOAL_EINVAL, "-1", NULL);
    assert_int_equal (s_shards_of (dir, SHOAL_SHARDS_MAX), SHOAL_SHARDS_MAX);

    //  A count changed under the store, below a shard it holds: refused,
    //  not opened with those actors read as never written.
    snprintf (dir, sizeof dir, "%s/changed", fixture->dir);
    journal_options_t opts = {.sync = true, .shards = 256};
    int code = 0;
    char *error = NULL;
    journal_t *journal = journal_open (dir, &opts, &code, &error);
    assert_non_null (journal);
    char stream[32] = "";
    for (int i = 0; i < 1000 && !stream[0]; i++) {
        snprintf (stream, sizeof stream, "account/s%d", i);
        if (shoal_shard (stream, 256) < 128)
            stream[0] = 0;
    }
    assert_true (stream[0]);
    journal_batch_t *batch = journal_batch_new (journal);
    assert_int_equal (s_append_one (batch, stream, JOURNAL_ANY, "Opened", 1, NULL), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);
    assert_int_equal (journal_meta_put (journal, "shards", "128"), 0);
    journal_destroy (&journal);
    s_refused (dir, 0, SHOAL_EFORMAT, dir, "holds records of shard", "says 128 shards", NULL);
    fixture->journal = s_open (fixture->dir);
}

//  A store without shoal's metadata is named for what its keys are:
//  another program's, or this shoal's whose metadata table was lost (a
//  damaged store, whose records are still there). Both were said to be an
//  older shoal's, to move away or delete.
static void test_store_without_metadata (void **state)
{
    fixture_t *fixture = *state;
    char foreign[128], lost[128];
    snprintf (foreign, sizeof foreign, "%s/foreign", fixture->dir);
    snprintf (lost, sizeof lost, "%s/lost", fixture->dir);
    const char *dirs[] = {foreign, lost};
    for (int i = 0; i < 2; i++) {
        leveldb_options_t *options = leveldb_options_create ();
        leveldb_options_set_create_if_missing (options, 1);
        char *err = NULL;
        leveldb_t *db = leveldb_open (options, dirs[i], &err);
        assert_null (err);
        leveldb_close (db);
        leveldb_options_destroy (options);
    }
    s_raw_put (foreign, (const uint8_t *) "user:1", 6, "{\"name\":\"a\"}", 12);
    s_raw_put (foreign, (const uint8_t *) "user:2", 6, "{\"name\":\"b\"}", 12);
    s_refused (foreign, 0, SHOAL_EINVAL, foreign, "a LevelDB store but not shoal's", NULL);
    //  'S' shard 5, an event of account/a: layout 2's, with no 'm' records.
    uint8_t key[64] = "S\x00\x05"
                      "eaccount/a";
    memcpy (key + 14, "\0\0\0\0\0\0\0\x01", 8);
    s_raw_put (lost, key, 22, "\x94\x01\xa6opened\x80\x05", 11);
    s_refused (lost, 0, SHOAL_EVERSION, lost, "holds this shoal's records", "damaged or lost",
               NULL);
    char *error = NULL;
    journal_options_t opts = {.sync = true};
    int code = 0;
    assert_null (journal_open (lost, &opts, &code, &error));
    assert_null (strstr (error, "delete"));
    free (error);
}

//  A store made by an older shoal (keys without shards, no layout mark)
//  is refused, not misread; so is a layout this shoal does not know, and a
//  store whose shard count is damaged.
static void test_old_layout_refused (void **state)
{
    fixture_t *fixture = *state;
    char dir[128];
    snprintf (dir, sizeof dir, "%s/old", fixture->dir);
    leveldb_options_t *options = leveldb_options_create ();
    leveldb_options_set_create_if_missing (options, 1);
    char *err = NULL;
    leveldb_t *db = leveldb_open (options, dir, &err);
    assert_null (err);
    leveldb_close (db);
    leveldb_options_destroy (options);
    //  What shoal wrote before key layout 2: 'e' stream 0x00 seq, and the
    //  node's shard count.
    uint8_t key[64] = "eaccount/a";
    memcpy (key + 11, "\0\0\0\0\0\0\0\x01", 8);
    s_raw_put (dir, key, 18, "\x94\x01\xa6opened\x80\x05", 11);
    s_raw_put (dir, (const uint8_t *) "mshards", 7, "256", 3);
    s_refused (dir, 0, SHOAL_EVERSION, dir, "older shoal", "layout 1", NULL);
    s_refused (dir, 256, SHOAL_EVERSION, "older shoal", NULL);

    s_raw_put (dir, (const uint8_t *) "mlayout", 7, "3", 1);
    s_refused (dir, 0, SHOAL_EVERSION, dir, "key layout '3'", NULL);

    s_raw_put (dir, (const uint8_t *) "mlayout", 7, "2", 1);
    s_raw_put (dir, (const uint8_t *) "mshards", 7, "0", 1);
    s_refused (dir, 0, SHOAL_EFORMAT, dir, "no valid shard count", NULL);
    s_raw_put (dir, (const uint8_t *) "mshards", 7, "65537", 5);
    s_refused (dir, 0, SHOAL_EFORMAT, "no valid shard count", NULL);
    s_raw_put (dir, (const uint8_t *) "mshards", 7, "12x", 3);
    s_refused (dir, 0, SHOAL_EFORMAT, "no valid shard count", NULL);
    s_raw_put (dir, (const uint8_t *) "mshards", 7, "12", 2);
    assert_int_equal (s_shards_of (dir, 0), 12);
}

//  Writes every kind of record of stream: two events, a snapshot, an inbox
//  record, an outbox entry and a timer.
static void s_write_actor (journal_t *journal, const char *stream, uint8_t seed)
{
    journal_batch_t *batch = journal_batch_new (journal);
    uint8_t id[JOURNAL_ID_SIZE];
    s_id (id, seed);
    map_t map = s_map (seed);
    assert_int_equal (s_append_one (batch, stream, 0, "opened", 1, NULL), 0);
    assert_int_equal (s_append_one (batch, stream, 1, "credited", 2, NULL), 0);
    assert_int_equal (journal_batch_snapshot (batch, stream, 2, map.bytes, map.size), 0);
    assert_int_equal (journal_batch_inbox_put (batch, stream, id, (const uint8_t *) "ok", 2, 5), 0);
    assert_int_equal (journal_batch_outbox_put (batch, stream, id, (const uint8_t *) "out", 3), 0);
    assert_int_equal (
        journal_batch_timer_put (batch, stream, 9000, id, (const uint8_t *) "tick", 4), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);
}

//  True if key lies in [start, end), bounds of JOURNAL_SHARD_KEY_SIZE bytes.
static bool s_in_range (const char *key, size_t key_len, const uint8_t *start, const uint8_t *end)
{
    size_t n = key_len < JOURNAL_SHARD_KEY_SIZE ? key_len : JOURNAL_SHARD_KEY_SIZE;
    int from_start = memcmp (key, start, n);
    int to_end = memcmp (key, end, n);
    bool at_or_after = from_start > 0 || (from_start == 0 && key_len >= JOURNAL_SHARD_KEY_SIZE);
    bool before = to_end < 0 || (to_end == 0 && key_len < JOURNAL_SHARD_KEY_SIZE);
    return at_or_after && before;
}

//  Every record of an actor lies in its shard's key range, which holds
//  nothing of another shard: read back through LevelDB itself.
static void test_actor_records_in_shard_range (void **state)
{
    fixture_t *fixture = *state;
    journal_t *journal = fixture->journal;
    //  account/a is in shard 78 of 256, account/b in 232.
    uint32_t shard_a = journal_shard (journal, "account/a");
    uint32_t shard_b = journal_shard (journal, "account/b");
    assert_int_equal (shard_a, 78);
    assert_int_equal (shard_b, 232);
    s_write_actor (journal, "account/a", 1);
    s_write_actor (journal, "account/b", 2);
    uint8_t start_a[JOURNAL_SHARD_KEY_SIZE], end_a[JOURNAL_SHARD_KEY_SIZE];
    uint8_t start_b[JOURNAL_SHARD_KEY_SIZE], end_b[JOURNAL_SHARD_KEY_SIZE];
    assert_int_equal (journal_shard_range (journal, shard_a, start_a, end_a), 0);
    assert_int_equal (journal_shard_range (journal, shard_b, start_b, end_b), 0);
    assert_memory_equal (start_a, "S\x00\x4e", 3);
    assert_memory_equal (end_a, "S\x00\x4f", 3);
    assert_int_equal (journal_shard_range (journal, 256, start_a, end_a), SHOAL_EINVAL);

    //  The shard scans see their shard's entries alone.
    entries_t entries = {0};
    assert_int_equal (journal_shard_outbox_scan (journal, shard_b, s_collect_entry, &entries), 0);
    assert_int_equal (entries.count, 1);
    assert_string_equal (entries.stream[0], "account/b");
    memset (&entries, 0, sizeof entries);
    assert_int_equal (journal_shard_timer_scan (journal, shard_a, s_collect_entry, &entries), 0);
    assert_int_equal (entries.count, 1);
    assert_string_equal (entries.value[0], "tick");
    memset (&entries, 0, sizeof entries);
    assert_int_equal (journal_shard_timer_scan (journal, 0, s_collect_entry, &entries), 0);
    assert_int_equal (entries.count, 0);
    assert_int_equal (journal_shard_outbox_scan (journal, 256, s_collect_entry, &entries),
                      SHOAL_EINVAL);
    journal_destroy (&fixture->journal);

    leveldb_options_t *options = leveldb_options_create ();
    char *err = NULL;
    leveldb_t *db = leveldb_open (options, fixture->dir, &err);
    assert_null (err);
    leveldb_readoptions_t *read = leveldb_readoptions_create ();
    leveldb_iterator_t *it = leveldb_create_iterator (db, read);
    size_t in_a = 0, in_b = 0, meta = 0, log = 0, elsewhere = 0, a_named_in_b = 0;
    for (leveldb_iter_seek_to_first (it); leveldb_iter_valid (it); leveldb_iter_next (it)) {
        size_t key_len;
        const char *key = leveldb_iter_key (it, &key_len);
        bool names_a = false;
        for (size_t i = 0; i + 9 <= key_len; i++)
            names_a |= memcmp (key + i, "account/a", 9) == 0;
        if (s_in_range (key, key_len, start_a, end_a))
            in_a++;
        else if (s_in_range (key, key_len, start_b, end_b)) {
            in_b++;
            a_named_in_b += names_a;
        } else if (key_len > 0 && key[0] == 'm')
            meta++;
        else if (key_len > 0 && key[0] == 'L')
            log++; //  the node's event log: not a shard's
        else
            elsewhere++;
    }
    leveldb_iter_destroy (it);
    leveldb_readoptions_destroy (read);
    leveldb_close (db);
    leveldb_options_destroy (options);
    //  Two events, a snapshot, an inbox record, an outbox entry, a timer.
    assert_int_equal (in_a, 6);
    assert_int_equal (in_b, 6);
    assert_int_equal (a_named_in_b, 0);
    assert_int_equal (meta, 4); //  "layout", "shards", "eventlog" and "reaction-salt"
    assert_int_equal (log, 2);  //  one record per commit with events
    assert_int_equal (elsewhere, 0);
    fixture->journal = s_open (fixture->dir);

    //  The last shard's range ends where the next tag would start.
    char dir[128];
    snprintf (dir, sizeof dir, "%s/wide", fixture->dir);
    journal_options_t opts = {.sync = false, .shards = SHOAL_SHARDS_MAX};
    journal_t *wide = journal_open (dir, &opts, NULL, NULL);
    assert_non_null (wide);
    assert_int_equal (journal_shard_range (wide, SHOAL_SHARDS_MAX - 1, start_a, end_a), 0);
    assert_memory_equal (start_a, "S\xff\xff", 3);
    assert_memory_equal (end_a, "T\x00\x00", 3);
    journal_destroy (&wide);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_usage, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_conflict_exact_mismatch, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_conflict_no_stream_on_existing, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_conflict_staged_in_same_batch, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_any_always_appends, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_reopen_reads_everything, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_snapshot_then_later_events, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_read_from_and_limit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_inbox_staged_and_committed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_inbox_filter, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_stream_filter, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_stream_filter_snapshot_only, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_outbox_put_del_scan, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_timer_scan_order, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_prune, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_stream_scan, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_busy_same_process, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_busy_other_process, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_open_creates_and_fails, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_fail_commits_after, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_remembered_version, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_owned_batch_trusts_its_caller, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_remembered_versions_in_two_generations, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_corrupted_event, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_corrupted_records, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_seq_limit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_big_batch, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_bad_arguments_stage_nothing, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_data_of_every_type_round_trips, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_meta, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_gapless_mark, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_shards_fixed_at_creation, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_old_layout_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_store_without_metadata, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_actor_records_in_shard_range, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_unsynced_commit_then_sync, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_async_needs_no_sync, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_event_log_gap_refused, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
