/*  test_eventlog.c - the node's event log (persistence/eventlog.c) against
    real LevelDB files: positions dense and in commit order across threads,
    reads from inside a record, a failed commit that takes no position, the
    end found again after a reopen, the one-time fill of a store made
    before the log (and none when only its mark was lost: refused, until
    `shoal repair` puts the mark back; a fill cut short is done again), a
    damaged log record refused, and
    SYNCED's marks read strictly.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"
#include "journal.h"
#include <leveldb/c.h>
#include <msgpack.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4
#define COMMITS 200 //  per thread
#define SEEN_MAX (THREADS * COMMITS * 3 + 64)

typedef struct {
    char dir[64];
    journal_t *journal;
} fixture_t;

//  What s_collect saw.
typedef struct {
    size_t count;
    uint64_t position[SEEN_MAX];
    char stream[SEEN_MAX][32];
    int64_t seq[SEEN_MAX];
    int64_t n[SEEN_MAX];
} seen_t;

static journal_t *s_open (const char *dir)
{
    int code = 0;
    char *error = NULL;
    journal_t *journal = journal_open (dir, NULL, &code, &error);
    if (!journal)
        fprintf (stderr, "journal_open: %d %s\n", code, error ? error : "");
    free (error);
    return journal;
}

static int s_setup (void **state)
{
    fixture_t *fixture = calloc (1, sizeof (fixture_t));
    assert_non_null (fixture);
    strcpy (fixture->dir, "/tmp/test_eventlog.XXXXXX");
    assert_non_null (mkdtemp (fixture->dir));
    fixture->journal = s_open (fixture->dir);
    assert_non_null (fixture->journal);
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

//  {"n": n} into bytes; returns its size.
static size_t s_map (uint8_t *bytes, int64_t n)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    msgpack_pack_str_with_body (&pk, "n", 1);
    msgpack_pack_int64 (&pk, n);
    size_t size = buffer.size;
    memcpy (bytes, buffer.data, size);
    msgpack_sbuffer_destroy (&buffer);
    return size;
}

//  Commits count events {"n": first..} to stream in one batch.
static int s_commit (journal_t *journal, const char *stream, int64_t first, size_t count)
{
    journal_batch_t *batch = journal_batch_new (journal);
    uint8_t bytes[8][32];
    journal_event_t events[8];
    assert_true (count <= 8);
    for (size_t i = 0; i < count; i++)
        events[i] = (journal_event_t){"Counted", bytes[i], s_map (bytes[i], first + (int64_t) i)};
    int rc = journal_batch_append (batch, stream, JOURNAL_ANY, events, count, 1000, NULL);
    if (rc == 0)
        rc = journal_batch_commit (batch);
    journal_batch_destroy (&batch);
    return rc;
}

static int s_collect (void *arg, const journal_logged_t *event)
{
    seen_t *seen = arg;
    assert_true (seen->count < SEEN_MAX);
    size_t i = seen->count++;
    seen->position[i] = event->position;
    snprintf (seen->stream[i], sizeof seen->stream[i], "%s", event->stream);
    seen->seq[i] = event->seq;
    assert_string_equal (event->name, "Counted");
    assert_int_equal (event->created, 1000);
    //  {"n": n}: fixmap 1, fixstr "n", then the integer
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    assert_int_equal (
        msgpack_unpack_next (&unpacked, (const char *) event->data, event->size, NULL),
        MSGPACK_UNPACK_SUCCESS);
    seen->n[i] = unpacked.data.via.map.ptr[0].val.via.i64;
    msgpack_unpacked_destroy (&unpacked);
    return 0;
}

static seen_t *s_read (journal_t *journal, uint64_t from, size_t limit)
{
    seen_t *seen = calloc (1, sizeof (seen_t));
    assert_non_null (seen);
    assert_int_equal (journal_log_read (journal, from, limit, s_collect, seen), 0);
    return seen;
}

typedef struct {
    journal_t *journal;
    int index;
} writer_t;

//  Appends COMMITS batches of 1 to 3 events to its own stream.
static void *s_writer (void *arg)
{
    writer_t *writer = arg;
    char stream[32];
    snprintf (stream, sizeof stream, "counter/t%d", writer->index);
    int64_t n = 1;
    for (int i = 0; i < COMMITS; i++) {
        size_t count = 1 + (size_t) (i % 3);
        if (s_commit (writer->journal, stream, n, count) != 0)
            return (void *) 1;
        n += (int64_t) count;
    }
    return NULL;
}

//  Four threads commit at once: the log holds every event once, at dense
//  positions, each stream's events in seq order; a reopen finds its end.
static void test_concurrent_commits_dense_and_ordered (void **state)
{
    fixture_t *fixture = *state;
    assert_int_equal (journal_log_end (fixture->journal), 0);
    pthread_t threads[THREADS];
    writer_t writers[THREADS];
    for (int i = 0; i < THREADS; i++) {
        writers[i] = (writer_t){fixture->journal, i};
        assert_int_equal (pthread_create (&threads[i], NULL, s_writer, &writers[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        void *result;
        pthread_join (threads[i], &result);
        assert_null (result);
    }
    uint64_t total = THREADS * (COMMITS / 3 * 6 + (COMMITS % 3 >= 1) + 2 * (COMMITS % 3 >= 2));
    assert_int_equal (journal_log_end (fixture->journal), total);

    seen_t *seen = s_read (fixture->journal, 0, 0);
    assert_int_equal (seen->count, total);
    int64_t last_seq[THREADS] = {0};
    for (size_t i = 0; i < seen->count; i++) {
        assert_int_equal (seen->position[i], i);
        int t = seen->stream[i][strlen (seen->stream[i]) - 1] - '0';
        assert_true (t >= 0 && t < THREADS);
        assert_int_equal (seen->seq[i], last_seq[t] + 1); //  in seq order, none twice
        assert_int_equal (seen->n[i], seen->seq[i]);
        last_seq[t] = seen->seq[i];
    }
    free (seen);

    journal_destroy (&fixture->journal);
    fixture->journal = s_open (fixture->dir);
    assert_non_null (fixture->journal);
    assert_int_equal (journal_log_end (fixture->journal), total);
    assert_int_equal (s_commit (fixture->journal, "counter/after", 1, 2), 0);
    seen = s_read (fixture->journal, total, 0);
    assert_int_equal (seen->count, 2);
    assert_int_equal (seen->position[0], total);
    assert_string_equal (seen->stream[1], "counter/after");
    free (seen);
}

//  A read may start inside a record and stop after limit events.
static void test_read_from_inside_a_record (void **state)
{
    fixture_t *fixture = *state;
    assert_int_equal (s_commit (fixture->journal, "counter/a", 1, 3), 0); //  0..2
    assert_int_equal (s_commit (fixture->journal, "counter/b", 1, 4), 0); //  3..6
    assert_int_equal (s_commit (fixture->journal, "counter/a", 4, 2), 0); //  7..8
    seen_t *seen = s_read (fixture->journal, 4, 4);
    assert_int_equal (seen->count, 4);
    assert_int_equal (seen->position[0], 4);
    assert_string_equal (seen->stream[0], "counter/b");
    assert_int_equal (seen->seq[0], 2);
    assert_int_equal (seen->position[3], 7);
    assert_string_equal (seen->stream[3], "counter/a");
    assert_int_equal (seen->seq[3], 4);
    free (seen);
    seen = s_read (fixture->journal, 9, 0); //  the end: nothing
    assert_int_equal (seen->count, 0);
    free (seen);
    seen = s_read (fixture->journal, 8, 0);
    assert_int_equal (seen->count, 1);
    assert_int_equal (seen->n[0], 5);
    free (seen);
}

//  A commit that fails takes no position; the log goes on after it, and
//  after the reopen the failure caused.
static void test_failed_commit_takes_no_position (void **state)
{
    fixture_t *fixture = *state;
    assert_int_equal (s_commit (fixture->journal, "counter/a", 1, 2), 0);
    journal_fail_commits_after (fixture->journal, 1);
    assert_int_equal (s_commit (fixture->journal, "counter/a", 3, 3), SHOAL_EIO);
    journal_fail_commits_after (fixture->journal, 0);
    assert_int_equal (journal_log_end (fixture->journal), 2);
    assert_int_equal (s_commit (fixture->journal, "counter/a", 3, 1), 0);
    assert_int_equal (journal_log_end (fixture->journal), 3);
    seen_t *seen = s_read (fixture->journal, 0, 0);
    assert_int_equal (seen->count, 3);
    assert_int_equal (seen->seq[2], 3);
    assert_int_equal (seen->n[2], 3);
    free (seen);
}

//  A reader of the log gets the same events whether they come from the
//  tail kept in memory (the latest 4096 records) or from the store: reads
//  inside the tail, across its oldest record, from before it, and after a
//  reopen (which empties it).
typedef struct {
    uint64_t next; //  the position expected next
    size_t count;  //  events checked
    bool wrong;    //  one did not match
} checked_t;

//  Commit i wrote one event {"n": i} to counter/<i % 3>, seq i / 3 + 1.
static int s_check (void *arg, const journal_logged_t *event)
{
    checked_t *checked = arg;
    uint64_t i = event->position;
    char stream[32];
    snprintf (stream, sizeof stream, "counter/%d", (int) (i % 3));
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    bool map = msgpack_unpack_next (&unpacked, (const char *) event->data, event->size, NULL) ==
                   MSGPACK_UNPACK_SUCCESS &&
               unpacked.data.type == MSGPACK_OBJECT_MAP && unpacked.data.via.map.size == 1;
    int64_t n = map ? unpacked.data.via.map.ptr[0].val.via.i64 : -1;
    msgpack_unpacked_destroy (&unpacked);
    if (i != checked->next || strcmp (event->stream, stream) != 0 ||
        event->seq != (int64_t) (i / 3 + 1) || n != (int64_t) i)
        checked->wrong = true;
    checked->next++;
    checked->count++;
    return 0;
}

static void s_read_checked (journal_t *journal, uint64_t from, size_t limit, size_t expected)
{
    checked_t checked = {.next = from};
    assert_int_equal (journal_log_read (journal, from, limit, s_check, &checked), 0);
    assert_false (checked.wrong);
    assert_int_equal (checked.count, expected);
}

static void test_tail_and_store_agree (void **state)
{
    fixture_t *fixture = *state;
    const uint64_t total = 4500; //  more records than the tail keeps
    journal_batch_t *batch = journal_batch_new (fixture->journal);
    assert_non_null (batch);
    journal_batch_set_lazy (batch, true);
    for (uint64_t i = 0; i < total; i++) {
        uint8_t bytes[32];
        journal_event_t event = {"Counted", bytes, s_map (bytes, (int64_t) i)};
        char stream[32];
        snprintf (stream, sizeof stream, "counter/%d", (int) (i % 3));
        assert_int_equal (journal_batch_append (batch, stream, JOURNAL_ANY, &event, 1, 1000, NULL),
                          0);
        assert_int_equal (journal_batch_commit (batch), 0);
    }
    journal_batch_destroy (&batch);
    //  Lazy commits are in the store, not yet durable: readers of the log
    //  see none of them until a sync.
    assert_int_equal (journal_log_end (fixture->journal), 0);
    s_read_checked (fixture->journal, 0, 0, 0);
    assert_int_equal (journal_sync_all (fixture->journal), 0);
    assert_int_equal (journal_log_end (fixture->journal), total);
    for (int pass = 0; pass < 2; pass++) {
        s_read_checked (fixture->journal, total - 10, 0, 10);     //  the tail
        s_read_checked (fixture->journal, total - 10, 3, 3);      //  part of it
        s_read_checked (fixture->journal, total, 0, 0);           //  the end
        s_read_checked (fixture->journal, total - 4096, 0, 4096); //  its oldest record on
        s_read_checked (fixture->journal, total - 4097, 0, 4097); //  one before it: the store
        s_read_checked (fixture->journal, 0, 1000, 1000);
        s_read_checked (fixture->journal, 0, 0, total);
        //  Reopened, the tail is empty: everything comes from the store.
        journal_destroy (&fixture->journal);
        fixture->journal = s_open (fixture->dir);
        assert_non_null (fixture->journal);
    }
    //  What is committed after the reopen is read from the tail again.
    assert_int_equal (s_commit (fixture->journal, "counter/0", 1501, 1), 0);
    seen_t *seen = s_read (fixture->journal, total, 0);
    assert_int_equal (seen->count, 1);
    assert_int_equal (seen->position[0], total);
    assert_int_equal (seen->seq[0], 1501);
    free (seen);
}

//  Deletes every 'L' record and the "eventlog" mark, as in a store made
//  before the log.
static void s_strip_log (const char *dir)
{
    leveldb_options_t *options = leveldb_options_create ();
    char *err = NULL;
    leveldb_t *db = leveldb_open (options, dir, &err);
    assert_null (err);
    leveldb_writeoptions_t *write = leveldb_writeoptions_create ();
    leveldb_readoptions_t *read = leveldb_readoptions_create ();
    leveldb_writebatch_t *deletes = leveldb_writebatch_create ();
    leveldb_iterator_t *it = leveldb_create_iterator (db, read);
    size_t stripped = 0;
    for (leveldb_iter_seek (it, "L", 1); leveldb_iter_valid (it); leveldb_iter_next (it)) {
        size_t len;
        const char *key = leveldb_iter_key (it, &len);
        if (key[0] != 'L')
            break;
        leveldb_writebatch_delete (deletes, key, len);
        stripped++;
    }
    leveldb_iter_destroy (it);
    assert_true (stripped > 0);
    leveldb_writebatch_delete (deletes, "meventlog", 9);
    leveldb_write (db, write, deletes, &err);
    assert_null (err);
    leveldb_writebatch_destroy (deletes);
    leveldb_readoptions_destroy (read);
    leveldb_writeoptions_destroy (write);
    leveldb_close (db);
    leveldb_options_destroy (options);
    //  A store from before the event log has no SYNCED either.
    char synced[600];
    snprintf (synced, sizeof synced, "%s/SYNCED", dir);
    unlink (synced);
}

//  Commits 700 events to each of counter/x and counter/y, 7 a commit.
static void s_commit_two_streams (journal_t *journal)
{
    for (int64_t n = 1; n <= 700; n += 7) {
        assert_int_equal (s_commit (journal, "counter/x", n, 7), 0);
        assert_int_equal (s_commit (journal, "counter/y", n, 7), 0);
    }
}

//  Fails the test unless the log holds each event of s_commit_two_streams
//  once, each stream in seq order, and nothing else.
static void s_assert_logged_once (journal_t *journal)
{
    assert_non_null (journal);
    assert_int_equal (journal_log_end (journal), 1400);
    seen_t *seen = s_read (journal, 0, 0);
    assert_int_equal (seen->count, 1400);
    int64_t x = 0, y = 0;
    for (size_t i = 0; i < seen->count; i++) {
        int64_t *last = strcmp (seen->stream[i], "counter/x") == 0 ? &x : &y;
        assert_int_equal (seen->seq[i], *last + 1);
        *last = seen->seq[i];
    }
    assert_int_equal (x, 700);
    assert_int_equal (y, 700);
    free (seen);
}

//  A store without a log gets one at open, holding each of its events
//  once, each stream in seq order; the next open does not fill it again.
static void test_backfill_of_an_older_store (void **state)
{
    fixture_t *fixture = *state;
    s_commit_two_streams (fixture->journal);
    journal_destroy (&fixture->journal);
    s_strip_log (fixture->dir);
    fixture->journal = s_open (fixture->dir);
    s_assert_logged_once (fixture->journal);
    journal_destroy (&fixture->journal);
    fixture->journal = s_open (fixture->dir);
    assert_int_equal (journal_log_end (fixture->journal), 1400);
}

//  A store whose log mark (metadata "eventlog") is gone but whose log
//  holds records lost the mark (a damaged table, a repair that dropped
//  it); it is not a store made before the log. The open filled the log
//  from the events all the same, logging every event a second time (the
//  projections then counted each twice). It is refused now, writing
//  nothing, and `shoal repair` puts the mark back, not the events.
static void test_lost_mark_is_not_an_older_store (void **state)
{
    fixture_t *fixture = *state;
    for (int64_t n = 1; n <= 70; n += 7)
        assert_int_equal (s_commit (fixture->journal, "counter/x", n, 7), 0);
    assert_int_equal (journal_log_end (fixture->journal), 70);
    journal_destroy (&fixture->journal);
    harness_raw_write (fixture->dir, "meventlog", 9, NULL, 0);

    int code = 0;
    char *error = NULL;
    for (int i = 0; i < 2; i++) { //  the refusal wrote nothing
        fixture->journal = journal_open (fixture->dir, NULL, &code, &error);
        assert_null (fixture->journal);
        assert_non_null (error);
        if (!strstr (error, "(metadata 'eventlog') is gone") || !strstr (error, "shoal repair"))
            fail_msg ("refused, but saying: %s", error);
        free (error);
        error = NULL;
    }

    char *report = NULL;
    assert_int_equal (journal_repair (fixture->dir, NULL, NULL, &report, &error), 0);
    assert_non_null (report);
    if (!strstr (report, "the event log's mark (metadata 'eventlog') was lost: put back"))
        fail_msg ("the repair's report: %s", report);
    free (report);
    fixture->journal = s_open (fixture->dir);
    assert_non_null (fixture->journal);
    assert_int_equal (journal_log_end (fixture->journal), 70);
    seen_t *seen = s_read (fixture->journal, 0, 0);
    assert_int_equal (seen->count, 70);
    free (seen);
}

//  A fill of the log cut short (the process killed between two of its
//  writes of 1,000 events): some log records, no mark, and the fill's own
//  mark. Not a lost mark: the records go and the log is filled again,
//  each event once; a repair before the start leaves the mark to that fill
//  (it put the mark back over the partial log, and the rest of the events
//  were never logged).
static void test_fill_cut_short_is_filled_again (void **state)
{
    fixture_t *fixture = *state;
    s_commit_two_streams (fixture->journal);
    journal_destroy (&fixture->journal);
    s_strip_log (fixture->dir);
    fixture->journal = s_open (fixture->dir); //  filled: records at 0 and 1000
    assert_int_equal (journal_log_end (fixture->journal), 1400);
    journal_destroy (&fixture->journal);
    const uint8_t second[9] = {'L', 0, 0, 0, 0, 0, 0, 0x03, 0xe8}; //  position 1000
    harness_raw_write (fixture->dir, second, sizeof second, NULL, 0);
    harness_raw_write (fixture->dir, "meventlog", 9, NULL, 0);
    harness_raw_write (fixture->dir, "meventlog-filling", 17, "1", 1);

    char *report = NULL, *error = NULL;
    assert_int_equal (journal_repair (fixture->dir, NULL, NULL, &report, &error), 0);
    if (report && strstr (report, "put back"))
        fail_msg ("the repair put the mark back over a partial fill: %s", report);
    free (report);
    for (int i = 0; i < 2; i++) { //  filled again once; the next open finds the mark
        fixture->journal = s_open (fixture->dir);
        s_assert_logged_once (fixture->journal);
        journal_destroy (&fixture->journal);
    }
    fixture->journal = s_open (fixture->dir);
}

//  A log record whose bytes do not decode: as the last record, the store
//  is not opened (its end is unknown); before it, reads through it fail
//  and the store's check counts it.
static void test_damaged_record_refused (void **state)
{
    fixture_t *fixture = *state;
    assert_int_equal (s_commit (fixture->journal, "counter/a", 1, 2), 0); //  0..1
    assert_int_equal (s_commit (fixture->journal, "counter/a", 3, 2), 0); //  2..3
    journal_destroy (&fixture->journal);
    const uint8_t garbage[] = {0x92, 0x01, 0xc1}; //  [1, <a byte msgpack never uses>]

    const uint8_t first[9] = {'L', 0, 0, 0, 0, 0, 0, 0, 0};
    harness_raw_write (fixture->dir, first, sizeof first, garbage, sizeof garbage);
    fixture->journal = s_open (fixture->dir);
    assert_non_null (fixture->journal);
    seen_t seen = {0};
    assert_int_equal (journal_log_read (fixture->journal, 0, 0, s_collect, &seen), SHOAL_EFORMAT);
    assert_int_equal (seen.count, 0);
    journal_records_t counts;
    assert_int_equal (journal_check_records (fixture->journal, &counts, NULL, NULL), 0);
    assert_int_equal (counts.log, 2);
    assert_int_equal (counts.bad_log, 1);
    assert_non_null (strstr (counts.first_bad, "event log"));
    journal_destroy (&fixture->journal);

    const uint8_t last[9] = {'L', 0, 0, 0, 0, 0, 0, 0, 2};
    const uint8_t truncated[] = {0xdd, 0, 0, 0}; //  an array32 header cut short
    harness_raw_write (fixture->dir, last, sizeof last, truncated, sizeof truncated);
    fixture->journal = s_open (fixture->dir);
    assert_null (fixture->journal); //  its end cannot be known: no start
}

//  Replaces dir's SYNCED with text.
static void s_write_synced (const char *dir, const char *text)
{
    char path[600];
    snprintf (path, sizeof path, "%s/SYNCED", dir);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    assert_int_equal (fputs (text, file) >= 0, 1);
    assert_int_equal (fclose (file), 0);
}

//  SYNCED's last whole line is a mark only if it is 20 digits: one with a
//  sign, a space or a number past 2^64 - 1 is not one, and is taken as none
//  (said in the log) like any other garbage. "-1" was read by strtoull as
//  2^64 - 1, and the store refused for "lost writes". A mark past the
//  log's end is still refused.
static void test_synced_mark_strict (void **state)
{
    fixture_t *fixture = *state;
    assert_int_equal (s_commit (fixture->journal, "counter/a", 1, 4), 0); //  0..3
    journal_destroy (&fixture->journal);
    static const char *malformed[] = {
        "00000000000000000001\n-0000000000000000001\n",
        "00000000000000000001\n+0000000000099999999\n",
        "00000000000000000001\n 0000000000099999999\n",
        "00000000000000000001\n99999999999999999999\n",
        "00000000000000000001\n0000000000009999999x\n",
    };
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        s_write_synced (fixture->dir, malformed[i]);
        fixture->journal = s_open (fixture->dir);
        if (!fixture->journal)
            fail_msg ("SYNCED '%s' refused the store", malformed[i]);
        assert_int_equal (journal_log_end (fixture->journal), 4);
        journal_destroy (&fixture->journal);
    }
    s_write_synced (fixture->dir, "00000000000000000001\n00000000000000000005\n");
    int code = 0;
    char *error = NULL;
    fixture->journal = journal_open (fixture->dir, NULL, &code, &error);
    assert_null (fixture->journal);
    assert_non_null (error);
    assert_non_null (strstr (error, "lost writes that were acknowledged"));
    free (error);
    s_write_synced (fixture->dir, "00000000000000000004\n");
    fixture->journal = s_open (fixture->dir);
    assert_non_null (fixture->journal);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_concurrent_commits_dense_and_ordered, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_read_from_inside_a_record, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_failed_commit_takes_no_position, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_backfill_of_an_older_store, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_lost_mark_is_not_an_older_store, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_fill_cut_short_is_filled_again, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_damaged_record_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_tail_and_store_agree, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_synced_mark_strict, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
