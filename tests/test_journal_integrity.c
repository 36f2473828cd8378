/*  test_journal_integrity.c - a journal that must not be believed blindly: gaps in
    the event log and in a stream, the gapless mark, remembered versions, owned batches,
    corrupted events and records. The fixture: journal_test_util.h.
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

//  A store whose event log lost a record between two it kept (a power cut
//  that kept a later write and not an earlier one: the disk wrote them out
//  of order) is refused at open, naming the positions; nothing is written.
static void test_event_log_gap_refused (void **state)
{
    fixture_t *fixture = *state;
    journal_batch_t *batch = journal_batch_new (fixture->journal);
    assert_non_null (batch);
    for (int i = 1; i <= 3; i++) { //  log records at positions 0, 1, 2
        assert_int_equal (journal_append_one (batch, "counter/g", i - 1, "Counted", i, NULL), 0);
        assert_int_equal (journal_batch_commit (batch), 0);
    }
    journal_batch_destroy (&batch);
    journal_destroy (&fixture->journal);
    fixture->journal = journal_test_open (fixture->dir); //  whole, it opens
    assert_non_null (fixture->journal);
    journal_destroy (&fixture->journal);
    uint8_t key[9]; //  'L' and the position, big-endian (persistence/keys.h)
    key[0] = 'L';
    for (int i = 1; i <= 8; i++)
        key[i] = 0;
    key[8] = 1; //  position 1
    harness_raw_write (fixture->dir, key, sizeof key, NULL, 0);
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
    fixture->journal = journal_test_open (fixture->dir);
    assert_non_null (fixture->journal);
}

//  A store made by journal_open has the mark that no stream has a gap
//  (JOURNAL_GAPLESS_FILE), and a stream that lost event 1 but has later
//  ones is refused there (SHOAL_EFORMAT): it read as none (a get of event
//  1, not a seek), and the next command's events were written over the
//  later ones. journal_repair removes the mark before LevelDB's repair: a
//  stream that lost event 1 (as a repair that drops a damaged table may
//  leave it) then reads its later events again, as a store made before
//  the mark (no file) does.
static void test_gapless_mark (void **state)
{
    fixture_t *fixture = *state;
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/GAPLESS", fixture->dir);
    assert_int_equal (access (path, F_OK), 0);
    events_t *read = journal_read_all (fixture->journal, "account/none");
    assert_int_equal (read->count, 0);
    free (read);
    journal_batch_t *batch = journal_batch_new (fixture->journal);
    for (int64_t n = 1; n <= 3; n++)
        assert_int_equal (journal_append_one (batch, "account/a", JOURNAL_ANY, "x", n, NULL), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);
    read = journal_read_all (fixture->journal, "account/a");
    assert_int_equal (read->count, 3);
    free (read);

    //  Event 1 lost: with the mark, the stream is refused.
    journal_destroy (&fixture->journal);
    uint8_t seq[8] = {0, 0, 0, 0, 0, 0, 0, 1};
    uint8_t key[64];
    size_t key_len = journal_key (key, 'e', "account/a", seq, 8);
    harness_raw_write (fixture->dir, key, key_len, NULL, 0);
    fixture->journal = journal_test_open (fixture->dir);
    read = calloc (1, sizeof (events_t));
    assert_int_equal (journal_read (fixture->journal, "account/a", 1, 0, journal_collect, read),
                      SHOAL_EFORMAT);
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
        fixture->journal = journal_test_open (fixture->dir);
        read = journal_read_all (fixture->journal, "account/a");
        assert_int_equal (read->count, 2);
        assert_int_equal (read->seq[0], 2);
        assert_int_equal (read->seq[1], 3);
        free (read);
        assert_int_equal (access (path, F_OK), -1); //  an existing store gets no mark
        if (open == 0)
            journal_destroy (&fixture->journal);
    }
}

//  Reads stream from from into a fresh events_t (to free): rc gets what
//  journal_read returned.
static events_t *s_read_from (journal_t *journal, const char *stream, int64_t from, int *rc)
{
    events_t *read = calloc (1, sizeof (events_t));
    assert_non_null (read);
    *rc = journal_read (journal, stream, from, 0, journal_collect, read);
    return read;
}

//  A stream that lost an event between two it kept (a key deleted, a
//  table's block lost), in a store marked gapless: its read stops at the
//  hole with SHOAL_EFORMAT, from event 1 and from a snapshot's seq + 1,
//  rather than folding the events after it over the hole (a node served
//  version 4 from three events and took a deposit on top). A read from
//  after the hole, or of another stream, is whole. Repaired (no mark),
//  the loss is accepted: the events left read again.
static void test_stream_gap_refused (void **state)
{
    fixture_t *fixture = *state;
    journal_batch_t *batch = journal_batch_new (fixture->journal);
    for (int64_t n = 1; n <= 4; n++) {
        assert_int_equal (journal_append_one (batch, "account/a", JOURNAL_ANY, "x", n, NULL), 0);
        assert_int_equal (journal_append_one (batch, "account/b", JOURNAL_ANY, "x", n, NULL), 0);
    }
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);
    journal_destroy (&fixture->journal);
    uint8_t seq[8] = {0, 0, 0, 0, 0, 0, 0, 2};
    uint8_t key[64];
    size_t key_len = journal_key (key, 'e', "account/a", seq, 8);
    harness_raw_write (fixture->dir, key, key_len, NULL, 0);
    fixture->journal = journal_test_open (fixture->dir);

    int rc;
    events_t *read = s_read_from (fixture->journal, "account/a", 1, &rc);
    assert_int_equal (rc, SHOAL_EFORMAT);
    assert_int_equal (read->count, 1); //  event 1, then the hole
    free (read);
    read = s_read_from (fixture->journal, "account/a", 2, &rc); //  a snapshot at 1
    assert_int_equal (rc, SHOAL_EFORMAT);
    assert_int_equal (read->count, 0);
    free (read);
    read = s_read_from (fixture->journal, "account/a", 3, &rc); //  a snapshot at 2
    assert_int_equal (rc, 0);
    assert_int_equal (read->count, 2);
    free (read);
    read = s_read_from (fixture->journal, "account/b", 1, &rc);
    assert_int_equal (rc, 0);
    assert_int_equal (read->count, 4);
    free (read);
    //  The check of every record sees the hole, whatever the stream's type
    //  (`shoal check` found holes only in the bank's streams, as it read
    //  them).
    journal_records_t counts;
    assert_int_equal (journal_check_records (fixture->journal, &counts, NULL, NULL), 0);
    assert_int_equal (counts.holes, 1);
    assert_int_equal (counts.bad_events, 0);
    if (!strstr (counts.first_bad, "stream account/a has no event 2 but has event 3"))
        fail_msg ("the first bad: %s", counts.first_bad);

    journal_destroy (&fixture->journal);
    char *report = NULL, *error = NULL;
    assert_int_equal (journal_repair (fixture->dir, NULL, NULL, &report, &error), 0);
    free (report);
    free (error);
    fixture->journal = journal_test_open (fixture->dir);
    read = s_read_from (fixture->journal, "account/a", 1, &rc);
    assert_int_equal (rc, 0);
    assert_int_equal (read->count, 3);
    assert_int_equal (read->seq[1], 3);
    free (read);
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
    assert_int_equal (journal_append_one (writer, "account/a", 0, "opened", 1, NULL), 0);
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
    assert_int_equal (journal_append_one (writer, "account/a", 0, "opened", 1, NULL), 0);
    assert_int_equal (journal_append_one (writer, "account/a", 1, "credited", 2, NULL), 0);
    assert_int_equal (journal_batch_commit (writer), 0);
    journal_batch_destroy (&writer);

    //  Told the true version, the batch appends after it and then knows
    //  the version its commit made.
    journal_batch_t *batch = journal_batch_new (journal);
    journal_batch_remember (batch, "account/a", 2);
    int64_t version;
    assert_int_equal (journal_append_one (batch, "account/a", 2, "credited", 3, &version), 0);
    assert_int_equal (version, 3);
    assert_int_equal (journal_batch_commit (batch), 0);
    assert_int_equal (journal_batch_version (batch, "account/a", &version), 0);
    assert_int_equal (version, 3);
    assert_int_equal (journal_test_version (journal, "account/a"), 3);

    //  The batch believes what it is told (this is what makes it a cache):
    //  told a version that is not the store's, it answers that one.
    journal_batch_remember (batch, "account/a", 7);
    assert_int_equal (journal_batch_version (batch, "account/a", &version), 0);
    assert_int_equal (version, 7);

    //  A failed commit forgets it: the store answers again, and an append
    //  expecting the stale version is refused, not written at seq 8.
    journal_fail_commits_after (journal, 1);
    assert_int_equal (journal_append_one (batch, "account/b", 0, "opened", 1, NULL), 0);
    assert_int_equal (journal_batch_commit (batch), SHOAL_EIO);
    journal_fail_commits_after (journal, 0);
    assert_int_equal (journal_batch_version (batch, "account/a", &version), 0);
    assert_int_equal (version, 3);
    assert_int_equal (journal_append_one (batch, "account/a", 7, "credited", 4, NULL),
                      SHOAL_ECONFLICT);
    assert_int_equal (journal_append_one (batch, "account/a", 3, "credited", 4, NULL), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    events_t *read = journal_read_all (journal, "account/a");
    assert_int_equal (read->count, 4);
    for (size_t i = 0; i < read->count; i++)
        assert_int_equal (read->seq[i], (int64_t) i + 1);
    assert_int_equal (read->n[3], 4);
    free (read);

    //  Staged events win over a remembered version; what cannot be a
    //  version is not remembered.
    assert_int_equal (journal_append_one (batch, "account/c", 0, "opened", 1, NULL), 0);
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
    assert_int_equal (journal_append_one (batch, "account/a", 0, "opened", 1, &version), 0);
    assert_int_equal (journal_append_one (batch, "account/a", 1, "credited", 2, &version), 0);
    assert_int_equal (version, 2);
    //  Staged: the batch's own version is checked, as without ownership.
    assert_int_equal (journal_append_one (batch, "account/a", 1, "credited", 3, NULL),
                      SHOAL_ECONFLICT);
    //  Nothing remembered at the commit: told an older version before it,
    //  the batch still answers that one after it (a batch not owned would
    //  remember its 2 at the commit); the caller, who keeps the stream,
    //  knows better...
    journal_batch_remember (batch, "account/a", 1);
    assert_int_equal (journal_batch_commit (batch), 0);
    assert_int_equal (journal_batch_version (batch, "account/a", &version), 0);
    assert_int_equal (version, 1);
    //  ... but an owned append is not looked up: the caller's 2 is used.
    assert_int_equal (journal_append_one (batch, "account/a", 2, "credited", 3, &version), 0);
    assert_int_equal (version, 3);
    //  JOURNAL_ANY is looked up, as without ownership: account/b, new,
    //  gets 1. (An owned batch's caller must not use it for a stream it
    //  keeps: the lookup may find an older remembered version.)
    journal_batch_forget (batch);
    map_t map = journal_map (4);
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
    events_t *read = journal_read_all (journal, "account/a");
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
    assert_int_equal (journal_append_one (batch, "account/a", 0, "opened", 1, NULL), 0);
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
    size_t key_len = journal_key (key, 'e', "account/a", seq, 8);
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        journal_destroy (&fixture->journal);
        journal_raw_put (fixture->dir, key, key_len, garbage[i].bytes, garbage[i].size);
        fixture->journal = journal_test_open (fixture->dir);

        events_t *read = calloc (1, sizeof (events_t));
        assert_int_equal (journal_read (fixture->journal, "account/a", 1, 0, journal_collect, read),
                          garbage[i].code);
        assert_int_equal (read->count, 1);
        assert_string_equal (read->name[0], "opened");
        free (read);
        assert_int_equal (journal_test_version (fixture->journal, "account/a"), 2);
    }

    //  A well-formed replacement reads again.
    journal_destroy (&fixture->journal);
    journal_raw_put (fixture->dir, key, key_len, "\x94\x01\xa1x\x81\xa1n\x07\x05", 9);
    fixture->journal = journal_test_open (fixture->dir);
    events_t *read = journal_read_all (fixture->journal, "account/a");
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
    journal_id (id, 3);
    uint8_t key[64];
    journal_destroy (&fixture->journal);
    size_t at = journal_tag (key, "account/a", 's');
    memcpy (key + at, "account/a", 9);
    journal_raw_put (fixture->dir, key, at + 9, "\x93\x01\x05", 3);
    size_t key_len = journal_key (key, 'i', "account/a", id, JOURNAL_ID_SIZE);
    journal_raw_put (fixture->dir, key, key_len, "\x93\x01\x05\xa2ok", 6);
    //  An 'e' key too short to hold a seq.
    key_len = journal_key (key, 'e', "account/b", (const uint8_t *) "\x01", 1);
    journal_raw_put (fixture->dir, key, key_len, "\x94\x01\xa1x\x80\x05", 6);
    //  Outbox and timer keys that do not parse, each sorted before a good
    //  entry of its table: an id of 3 bytes, a bare tag, a due too short.
    key_len = journal_key (key, 'o', "account/a", id, 3);
    journal_raw_put (fixture->dir, key, key_len, "envelope", 8);
    journal_raw_put (fixture->dir, key, journal_tag (key, "account/c", 'o'), "bare", 4);
    at = journal_tag (key, "clock/a", 't');
    key[at] = 0;
    journal_raw_put (fixture->dir, key, at + 1, "short", 5);
    key_len = journal_key (key, 'o', "account/c", id, JOURNAL_ID_SIZE);
    journal_raw_put (fixture->dir, key, key_len, "good", 4);
    at = journal_tag (key, "clock/a", 't');
    memset (key + at, 0, 8);
    key[at + 7] = 9;
    memcpy (key + at + 8, id, JOURNAL_ID_SIZE);
    journal_raw_put (fixture->dir, key, at + 8 + JOURNAL_ID_SIZE, "tick", 4);
    //  Keys like these are damage no write of shoal's makes: a store that
    //  may hold them has no mark that its streams have no gap (account/b
    //  has no event 1 but a key under it), as after a repair.
    char mark[PATH_MAX];
    snprintf (mark, sizeof mark, "%s/GAPLESS", fixture->dir);
    assert_int_equal (unlink (mark), 0);
    fixture->journal = journal_test_open (fixture->dir);

    int64_t seq, version;
    uint8_t *bytes;
    size_t size;
    assert_int_equal (journal_snapshot_get (fixture->journal, "account/a", &seq, &bytes, &size),
                      SHOAL_EFORMAT);
    assert_int_equal (journal_inbox_get (fixture->journal, "account/a", id, &bytes, &size),
                      SHOAL_EFORMAT);
    assert_int_equal (journal_version (fixture->journal, "account/b", &version), SHOAL_EFORMAT);
    events_t *read = calloc (1, sizeof (events_t));
    assert_int_equal (journal_read (fixture->journal, "account/b", 1, 0, journal_collect, read),
                      SHOAL_EFORMAT);
    assert_int_equal (read->count, 0);
    free (read);
    //  The scans skip the bad keys and go on to the good entries, so one
    //  damaged record does not keep a node from starting.
    entries_t entries = {0};
    assert_int_equal (journal_outbox_scan (fixture->journal, journal_collect_entry, &entries), 0);
    assert_int_equal (entries.count, 1);
    assert_string_equal (entries.stream[0], "account/c");
    assert_string_equal (entries.value[0], "good");
    memset (&entries, 0, sizeof entries);
    assert_int_equal (journal_timer_scan (fixture->journal, journal_collect_entry, &entries), 0);
    assert_int_equal (entries.count, 1);
    assert_int_equal (entries.due[0], 9);
    assert_string_equal (entries.value[0], "tick");
    //  An undecodable inbox record is kept, not pruned.
    assert_int_equal (journal_inbox_prune (fixture->journal, INT64_MAX), 0);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_remembered_version, journal_setup, journal_teardown),
        cmocka_unit_test_setup_teardown (test_owned_batch_trusts_its_caller, journal_setup,
                                         journal_teardown),
        cmocka_unit_test_setup_teardown (test_remembered_versions_in_two_generations, journal_setup,
                                         journal_teardown),
        cmocka_unit_test_setup_teardown (test_corrupted_event, journal_setup, journal_teardown),
        cmocka_unit_test_setup_teardown (test_corrupted_records, journal_setup, journal_teardown),
        cmocka_unit_test_setup_teardown (test_gapless_mark, journal_setup, journal_teardown),
        cmocka_unit_test_setup_teardown (test_stream_gap_refused, journal_setup, journal_teardown),
        cmocka_unit_test_setup_teardown (test_event_log_gap_refused, journal_setup,
                                         journal_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
