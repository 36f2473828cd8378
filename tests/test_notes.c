/*  test_notes.c - the outbox in two tiers at the journal's level
    (persistence/notes.c, batch.c; keys.h "The outbox in two tiers"), over
    real LevelDB files: what the notes send and answer, the outbox a scan
    sees, the fold into 'o' keys when a store opens, a worker's drop of its
    notes and the reload of which it holds, a note that is damaged, and a
    commit that fails with its note.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"
#include "journal.h"
#include <leveldb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SEEN 64

typedef struct {
    char dir[64];
    journal_t *journal;
} fixture_t;

//  What an outbox scan passed: streams, the first byte of each id, values.
typedef struct {
    size_t count;
    char stream[MAX_SEEN][SHOAL_ADDRESS_MAX + 1];
    uint8_t id0[MAX_SEEN];
    char value[MAX_SEEN][32];
} seen_t;

static int s_seen (void *arg, const char *stream, const uint8_t id[JOURNAL_ID_SIZE], int64_t due,
                   const uint8_t *value, size_t size)
{
    seen_t *seen = arg;
    if (seen->count == MAX_SEEN || due != 0)
        return 1;
    size_t i = seen->count++;
    snprintf (seen->stream[i], sizeof seen->stream[i], "%s", stream);
    seen->id0[i] = id[0];
    snprintf (seen->value[i], sizeof seen->value[i], "%.*s", (int) size, (const char *) value);
    return 0;
}

//  True if seen holds the entry (stream, id starting id0, value).
static bool s_has (const seen_t *seen, const char *stream, uint8_t id0, const char *value)
{
    for (size_t i = 0; i < seen->count; i++)
        if (strcmp (seen->stream[i], stream) == 0 && seen->id0[i] == id0 &&
            strcmp (seen->value[i], value) == 0)
            return true;
    return false;
}

static int s_count_any (void *arg, const char *stream, const uint8_t id[JOURNAL_ID_SIZE],
                        int64_t due, const uint8_t *value, size_t size)
{
    (void) stream, (void) id, (void) due, (void) value, (void) size;
    (*(size_t *) arg)++;
    return 0;
}

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
    fixture_t *fx = calloc (1, sizeof (fixture_t));
    assert_non_null (fx);
    snprintf (fx->dir, sizeof fx->dir, "/tmp/test_notes.XXXXXX");
    assert_non_null (mkdtemp (fx->dir));
    fx->journal = s_open (fx->dir);
    *state = fx;
    return 0;
}

static int s_teardown (void **state)
{
    fixture_t *fx = *state;
    journal_destroy (&fx->journal);
    harness_rm_rf (fx->dir);
    free (fx);
    return 0;
}

static void s_id (uint8_t id[JOURNAL_ID_SIZE], uint8_t first)
{
    memset (id, 0xab, JOURNAL_ID_SIZE);
    id[0] = first;
}

static seen_t s_stored (journal_t *journal)
{
    seen_t seen = {0};
    assert_int_equal (journal_outbox_scan (journal, s_seen, &seen), 0);
    return seen;
}

static seen_t s_noted (journal_t *journal)
{
    seen_t seen = {0};
    assert_int_equal (journal_outbox_scan_notes (journal, s_seen, &seen), 0);
    return seen;
}

static size_t s_notes (journal_t *journal, uint32_t worker)
{
    uint64_t *positions;
    size_t count;
    assert_int_equal (journal_notes_list (journal, worker, &positions, &count), 0);
    free (positions);
    return count;
}

//  Counts the keys of the store that start with prefix, reading the
//  LevelDB files directly (the journal closed).
static size_t s_keys_with (const char *dir, char prefix)
{
    leveldb_options_t *options = leveldb_options_create ();
    char *err = NULL;
    leveldb_t *db = leveldb_open (options, dir, &err);
    assert_null (err);
    leveldb_readoptions_t *read = leveldb_readoptions_create ();
    leveldb_iterator_t *it = leveldb_create_iterator (db, read);
    size_t count = 0;
    for (leveldb_iter_seek (it, &prefix, 1); leveldb_iter_valid (it); leveldb_iter_next (it)) {
        size_t len;
        const char *key = leveldb_iter_key (it, &len);
        if (len < 1 || key[0] != prefix)
            break;
        count++;
    }
    leveldb_iter_destroy (it);
    leveldb_readoptions_destroy (read);
    leveldb_close (db);
    leveldb_options_destroy (options);
    return count;
}

//  --------------------------------------------------------------------------

//  Commands sent go into the commit's note, not under keys; an answer in a
//  later note takes its command out of the outbox; an answer to a stored
//  entry takes it out at the fold. Reopened, the store holds the outbox
//  under 'o' keys alone and no note.
static void test_notes_send_answer_and_fold (void **state)
{
    fixture_t *fx = *state;
    journal_batch_t *batch = journal_batch_new (fx->journal);
    assert_non_null (batch);
    journal_batch_set_worker (batch, 1);
    uint8_t a[JOURNAL_ID_SIZE], b[JOURNAL_ID_SIZE], c[JOURNAL_ID_SIZE], d[JOURNAL_ID_SIZE];
    s_id (a, 'a'), s_id (b, 'b'), s_id (c, 'c'), s_id (d, 'd');

    assert_int_equal (journal_batch_outbox_note (batch, "saga/1", a, (const uint8_t *) "A", 1), 0);
    assert_int_equal (journal_batch_outbox_note (batch, "saga/2", b, (const uint8_t *) "B", 1), 0);
    assert_int_equal (journal_batch_outbox_note (batch, "saga/3", c, (const uint8_t *) "C", 1), 0);
    assert_int_equal (journal_batch_count (batch), 1); //  one note, whatever it holds
    assert_int_equal (journal_batch_commit (batch), 0);
    assert_int_equal (journal_batch_outbox_put (batch, "saga/4", d, (const uint8_t *) "D", 1), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    assert_int_equal (journal_batch_outbox_note (batch, "saga/1", a, NULL, 0), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    assert_int_equal (journal_batch_notes_count (batch), 2);

    seen_t stored = s_stored (fx->journal);
    assert_int_equal (stored.count, 1);
    assert_true (s_has (&stored, "saga/4", 'd', "D"));
    seen_t noted = s_noted (fx->journal);
    assert_int_equal (noted.count, 2);
    assert_true (s_has (&noted, "saga/2", 'b', "B"));
    assert_true (s_has (&noted, "saga/3", 'c', "C"));
    assert_int_equal (s_notes (fx->journal, 1), 2);
    assert_int_equal (s_notes (fx->journal, 0), 0);

    //  A note answering the stored d (not written so by a worker, but a
    //  fold must not keep what an answer took away).
    assert_int_equal (journal_batch_outbox_note (batch, "saga/4", d, NULL, 0), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);

    journal_destroy (&fx->journal);
    assert_int_equal (s_keys_with (fx->dir, 'W'), 3);
    fx->journal = s_open (fx->dir);
    stored = s_stored (fx->journal);
    assert_int_equal (stored.count, 2);
    assert_true (s_has (&stored, "saga/2", 'b', "B"));
    assert_true (s_has (&stored, "saga/3", 'c', "C"));
    assert_int_equal (s_noted (fx->journal).count, 0);
    journal_destroy (&fx->journal);
    assert_int_equal (s_keys_with (fx->dir, 'W'), 0);
    assert_int_equal (s_keys_with (fx->dir, 'S') > 0, true);
    fx->journal = s_open (fx->dir);
}

//  A worker's checkpoint: its first notes dropped in the batch that stores
//  what they still send; the rest stay, in order. After a commit that
//  failed, the reload learns from the store which notes it holds.
static void test_notes_drop_and_reload (void **state)
{
    fixture_t *fx = *state;
    journal_batch_t *batch = journal_batch_new (fx->journal);
    assert_non_null (batch);
    uint8_t ids[4][JOURNAL_ID_SIZE];
    for (int i = 0; i < 4; i++) {
        s_id (ids[i], (uint8_t) ('0' + i));
        char value[2] = {(char) ('0' + i), 0};
        assert_int_equal (
            journal_batch_outbox_note (batch, "saga/x", ids[i], (const uint8_t *) value, 1), 0);
        assert_int_equal (journal_batch_commit (batch), 0);
    }
    assert_int_equal (journal_batch_notes_count (batch), 4);
    //  The checkpoint: entry 0 answered, entry 1 stored, notes 0-1 dropped.
    assert_int_equal (journal_batch_outbox_note (batch, "saga/x", ids[0], NULL, 0), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    assert_int_equal (journal_batch_notes_drop (batch, 2), 0);
    assert_int_equal (journal_batch_outbox_put (batch, "saga/x", ids[1], (const uint8_t *) "1", 1),
                      0);
    assert_int_equal (journal_batch_commit (batch), 0);
    assert_int_equal (journal_batch_notes_count (batch), 3);
    assert_int_equal (s_notes (fx->journal, 0), 3);
    seen_t noted = s_noted (fx->journal);
    assert_int_equal (noted.count, 2);
    assert_true (s_has (&noted, "saga/x", '2', "2"));
    assert_true (s_has (&noted, "saga/x", '3', "3"));
    seen_t stored = s_stored (fx->journal);
    assert_int_equal (stored.count, 1);
    assert_true (s_has (&stored, "saga/x", '1', "1"));

    //  A commit that fails writes no note, and its drop is not done: the
    //  reload finds every note still there.
    journal_fail_commits_after (fx->journal, 1);
    assert_int_equal (journal_batch_notes_drop (batch, 3), 0);
    assert_int_equal (journal_batch_notes_count (batch), 0);
    uint8_t e[JOURNAL_ID_SIZE];
    s_id (e, 'e');
    assert_int_equal (journal_batch_outbox_note (batch, "saga/y", e, (const uint8_t *) "E", 1), 0);
    assert_int_equal (journal_batch_commit (batch), SHOAL_EIO);
    journal_fail_commits_after (fx->journal, 0);
    assert_int_equal (journal_batch_notes_reload (batch), 0);
    assert_int_equal (journal_batch_notes_count (batch), 3);
    noted = s_noted (fx->journal);
    assert_int_equal (noted.count, 2);
    assert_false (s_has (&noted, "saga/y", 'e', "E"));
    journal_batch_destroy (&batch);

    //  Folded at the next open: 1, 2 and 3 unanswered, under their keys.
    journal_destroy (&fx->journal);
    fx->journal = s_open (fx->dir);
    stored = s_stored (fx->journal);
    assert_int_equal (stored.count, 3);
    for (int i = 1; i < 4; i++) {
        char value[2] = {(char) ('0' + i), 0};
        assert_true (s_has (&stored, "saga/x", (uint8_t) ('0' + i), value));
    }
    assert_int_equal (s_notes (fx->journal, 0), 0);
}

//  A note that does not parse is skipped with a warning (the store
//  opens), and the fold deletes it with the rest.
static void test_damaged_note_skipped (void **state)
{
    fixture_t *fx = *state;
    journal_batch_t *batch = journal_batch_new (fx->journal);
    assert_non_null (batch);
    uint8_t a[JOURNAL_ID_SIZE];
    s_id (a, 'a');
    assert_int_equal (journal_batch_outbox_note (batch, "saga/1", a, (const uint8_t *) "A", 1), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);
    journal_destroy (&fx->journal);

    //  Garbage under a note's key, and a key too short to be a note.
    leveldb_options_t *options = leveldb_options_create ();
    char *err = NULL;
    leveldb_t *db = leveldb_open (options, fx->dir, &err);
    assert_null (err);
    leveldb_writeoptions_t *write = leveldb_writeoptions_create ();
    const char bad_key[11] = {'W', 0, 7, 0, 0, 0, 0, 0, 0, 0, 9};
    leveldb_put (db, write, bad_key, sizeof bad_key, "\x93\x01\xc1", 3, &err);
    assert_null (err);
    leveldb_put (db, write, "Wx", 2, "\x91\x01", 2, &err);
    assert_null (err);
    leveldb_writeoptions_destroy (write);
    leveldb_close (db);
    leveldb_options_destroy (options);
    assert_int_equal (s_keys_with (fx->dir, 'W'), 3);

    fx->journal = s_open (fx->dir);
    seen_t stored = s_stored (fx->journal);
    assert_int_equal (stored.count, 1);
    assert_true (s_has (&stored, "saga/1", 'a', "A"));
    journal_destroy (&fx->journal);
    assert_int_equal (s_keys_with (fx->dir, 'W'), 0);
    fx->journal = s_open (fx->dir);
}

//  Whether the store holds (stream, id)'s inbox record under its key,
//  with reply "R<id[0]>".
static bool s_inbox_stored (journal_t *journal, const char *stream,
                            const uint8_t id[JOURNAL_ID_SIZE])
{
    uint8_t *reply;
    size_t size;
    journal_request_t request;
    int rc = journal_inbox_find (journal, stream, id, &reply, &size, &request);
    if (rc == SHOAL_ENOTFOUND)
        return false;
    assert_int_equal (rc, 0);
    assert_int_equal (size, 2);
    assert_int_equal (reply[0], 'R');
    assert_int_equal (reply[1], id[0]);
    assert_int_equal (request.digest, 42);
    assert_string_equal (request.name, "Debit");
    free (reply);
    return true;
}

//  The inbox in two tiers at the journal's level: a record noted is found
//  by its batch before the commit and is under no key after it; one
//  restored is under its key. At the fold, a record in a note is kept
//  exactly while its command may still be sent again: when a note sends
//  it unanswered (a), or its 'o' key holds it (c); not when a note answers
//  it (b), its key was deleted (d), or nothing holds it (e).
static void test_inbox_notes_fold (void **state)
{
    fixture_t *fx = *state;
    journal_batch_t *senders = journal_batch_new (fx->journal);
    journal_batch_t *receiver = journal_batch_new (fx->journal);
    assert_non_null (senders);
    assert_non_null (receiver);
    journal_batch_set_worker (receiver, 1);
    uint8_t ids[5][JOURNAL_ID_SIZE];
    for (int i = 0; i < 5; i++)
        s_id (ids[i], (uint8_t) ('a' + i));
    assert_int_equal (
        journal_batch_outbox_note (senders, "saga/a", ids[0], (const uint8_t *) "A", 1), 0);
    assert_int_equal (
        journal_batch_outbox_note (senders, "saga/b", ids[1], (const uint8_t *) "B", 1), 0);
    assert_int_equal (
        journal_batch_outbox_put (senders, "saga/c", ids[2], (const uint8_t *) "C", 1), 0);
    assert_int_equal (
        journal_batch_outbox_put (senders, "saga/d", ids[3], (const uint8_t *) "D", 1), 0);
    assert_int_equal (journal_batch_commit (senders), 0);

    journal_request_t request = {.digest = 42, .name = "Debit"};
    uint8_t *records[5];
    size_t sizes[5];
    for (int i = 0; i < 5; i++) {
        char stream[32], sender[32];
        snprintf (stream, sizeof stream, "account/%c", 'a' + i);
        snprintf (sender, sizeof sender, "saga/%c", 'a' + i);
        uint8_t reply[2] = {'R', ids[i][0]};
        assert_int_equal (journal_batch_inbox_note (receiver, stream, ids[i], reply, 2, 1000,
                                                    &request, sender, &records[i], &sizes[i]),
                          0);
    }
    assert_int_equal (journal_batch_count (receiver), 1); //  one note, whatever it holds
    uint8_t *reply;
    size_t size;
    assert_int_equal (journal_batch_inbox_get (receiver, "account/c", ids[2], &reply, &size), 0);
    assert_memory_equal (reply, "Rc", 2);
    free (reply);
    assert_int_equal (journal_batch_commit (receiver), 0);
    for (int i = 0; i < 5; i++) {
        char stream[32];
        snprintf (stream, sizeof stream, "account/%c", 'a' + i);
        assert_false (s_inbox_stored (fx->journal, stream, ids[i]));
    }
    size_t noted = 0;
    assert_int_equal (journal_inbox_scan_notes (fx->journal, s_count_any, &noted), 0);
    assert_int_equal (noted, 5);
    //  The outbox scans do not take inbox lines for commands.
    assert_int_equal (s_noted (fx->journal).count, 2);

    //  b answered in a note, d's key deleted; e was never in an outbox.
    assert_int_equal (journal_batch_outbox_note (senders, "saga/b", ids[1], NULL, 0), 0);
    assert_int_equal (journal_batch_outbox_del (senders, "saga/d", ids[3]), 0);
    assert_int_equal (journal_batch_commit (senders), 0);
    //  A record restored is under its key at once (e's: kept whatever the
    //  fold decides).
    assert_int_equal (
        journal_batch_inbox_restore (receiver, "account/e", ids[4], records[4], sizes[4]), 0);
    assert_int_equal (journal_batch_commit (receiver), 0);
    assert_true (s_inbox_stored (fx->journal, "account/e", ids[4]));
    for (int i = 0; i < 5; i++)
        free (records[i]);
    journal_batch_destroy (&senders);
    journal_batch_destroy (&receiver);

    journal_destroy (&fx->journal);
    fx->journal = s_open (fx->dir);
    assert_true (s_inbox_stored (fx->journal, "account/a", ids[0]));
    assert_false (s_inbox_stored (fx->journal, "account/b", ids[1]));
    assert_true (s_inbox_stored (fx->journal, "account/c", ids[2]));
    assert_false (s_inbox_stored (fx->journal, "account/d", ids[3]));
    assert_true (s_inbox_stored (fx->journal, "account/e", ids[4]));
    noted = 0;
    assert_int_equal (journal_inbox_scan_notes (fx->journal, s_count_any, &noted), 0);
    assert_int_equal (noted, 0);
    journal_destroy (&fx->journal);
    assert_int_equal (s_keys_with (fx->dir, 'W'), 0);
    fx->journal = s_open (fx->dir);
}

//  A record restored at a checkpoint that does not read (a note damaged
//  past its checksum) is stored all the same, and a lookup finds it
//  unreadable, so that its command is not run again: the batch that
//  drops its note commits it (found by the batch before the commit too).
static void test_unreadable_record_restored (void **state)
{
    fixture_t *fx = *state;
    journal_batch_t *batch = journal_batch_new (fx->journal);
    assert_non_null (batch);
    uint8_t id[JOURNAL_ID_SIZE];
    s_id (id, 'u');
    assert_int_equal (
        journal_batch_inbox_restore (batch, "account/u", id, (const uint8_t *) "\xc1", 1), 0);
    uint8_t *reply;
    size_t size;
    assert_int_equal (journal_batch_inbox_get (batch, "account/u", id, &reply, &size), 0);
    free (reply);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);
    assert_int_equal (journal_inbox_get (fx->journal, "account/u", id, &reply, &size),
                      SHOAL_EFORMAT);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_notes_send_answer_and_fold, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_notes_drop_and_reload, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_damaged_note_skipped, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_inbox_notes_fold, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_unreadable_record_restored, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
