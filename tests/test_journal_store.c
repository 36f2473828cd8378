/*  test_journal_store.c - the journal's store: opened once (by this process or
    another), created or refused, unsynced and async commits, failing
    commits, shards fixed at creation, stores without metadata or of an old
    layout, actor records by shard range. The fixture: journal_test_util.h.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"
#include "journal.h"
#include <fcntl.h>
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
    fixture->journal = journal_test_open (fixture->dir);
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
    assert_int_equal (journal_append_one (batch, "account/a", 0, "opened", 1, NULL), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);
    assert_int_equal (journal_test_version (journal, "account/a"), 1);
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
        assert_int_equal (journal_append_one (batch, "counter/u", i - 1, "Counted", i, NULL), 0);
        assert_int_equal (journal_batch_commit_unsynced (batch, &written), 0);
        assert_int_equal (written, journal_written (journal));
        assert_int_equal (journal_test_version (journal, "counter/u"), i); //  in the store
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
    assert_int_equal (journal_append_one (batch, "counter/u", 3, "Counted", 4, NULL), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    assert_int_equal (journal_synced (journal), journal_written (journal));
    assert_int_equal (journal_log_end (journal), log_end + 4);
    journal_batch_destroy (&batch);
    journal_reopen (fixture); //  all of it is there after a reopen
    assert_int_equal (journal_test_version (fixture->journal, "counter/u"), 4);
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
    assert_int_equal (journal_append_one (batch, "counter/a", 0, "Counted", 1, NULL), 0);
    assert_int_equal (journal_batch_commit_unsynced (batch, &written), 0);
    assert_int_equal (journal_synced (journal), written);
    assert_int_equal (journal_log_end (journal), 1);
    assert_int_equal (journal_sync (journal, written), 0);
    assert_int_equal (journal_syncs (journal), syncs);
    //  A commit that asks to be durable syncs the logs, in async too
    journal_batch_set_lazy (batch, false);
    assert_int_equal (journal_append_one (batch, "counter/a", 1, "Counted", 1, NULL), 0);
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

    assert_int_equal (journal_append_one (batch, "account/a", 0, "opened", 1, NULL), 0);
    assert_int_equal (journal_batch_commit (batch), 0);

    uint8_t id[JOURNAL_ID_SIZE];
    journal_id (id, 9);
    assert_int_equal (journal_append_one (batch, "account/a", 1, "credited", 2, NULL), 0);
    assert_int_equal (journal_batch_inbox_put (batch, "account/a", id, (const uint8_t *) "r", 1, 1),
                      0);
    assert_int_equal (journal_batch_commit (batch), SHOAL_EIO);
    assert_int_equal (journal_batch_count (batch), 0);
    assert_int_equal (journal_batch_bytes (batch), 0);

    int64_t version;
    assert_int_equal (journal_batch_version (batch, "account/a", &version), 0);
    assert_int_equal (version, 1);
    assert_int_equal (journal_append_one (batch, "account/a", 1, "credited", 3, NULL), 0);
    assert_int_equal (journal_batch_commit (batch), SHOAL_EIO);

    assert_int_equal (journal_test_version (journal, "account/a"), 1);
    uint8_t *reply;
    size_t size;
    assert_int_equal (journal_inbox_get (journal, "account/a", id, &reply, &size), SHOAL_ENOTFOUND);

    journal_fail_commits_after (journal, 0);
    assert_int_equal (journal_append_one (batch, "account/a", 1, "credited", 4, NULL), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    events_t *read = journal_read_all (journal, "account/a");
    assert_int_equal (read->count, 2);
    assert_int_equal (read->n[1], 4);
    free (read);
    journal_batch_destroy (&batch);
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
//  count it is refused, naming both; 0 means "whatever the store has". A
//  count changed under the store is refused, smaller or larger.
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
    assert_int_equal (journal_append_one (batch, stream, JOURNAL_ANY, "Opened", 1, NULL), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);
    assert_int_equal (journal_meta_put (journal, "shards", "128"), 0);
    journal_destroy (&journal);
    s_refused (dir, 0, SHOAL_EFORMAT, dir, "holds records of shard", "says 128 shards", NULL);

    //  A count changed to a larger one has no record past it: the records
    //  are not where it puts them (they were read as never written, every
    //  account version 0). Doubled (each stream fits it one time in two)
    //  or the largest; put back, the store opens.
    snprintf (dir, sizeof dir, "%s/larger", fixture->dir);
    journal = journal_open (dir, &opts, &code, &error);
    assert_non_null (journal);
    batch = journal_batch_new (journal);
    for (int i = 0; i < 20; i++) {
        snprintf (stream, sizeof stream, "account/l%d", i);
        assert_int_equal (journal_append_one (batch, stream, JOURNAL_ANY, "Opened", 1, NULL), 0);
    }
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);
    journal_destroy (&journal);
    const uint8_t *key = (const uint8_t *) "mshards"; //  'm' and the name (keys.h)
    journal_raw_put (dir, key, 7, "512", 3);
    s_refused (dir, 0, SHOAL_EFORMAT, dir, "says it has 512 shards", "not laid out for 512",
               "fit 256 shards", NULL);
    journal_raw_put (dir, key, 7, "65536", 5);
    s_refused (dir, 0, SHOAL_EFORMAT, dir, "says it has 65536 shards", "fit 256 shards", NULL);
    journal_raw_put (dir, key, 7, "256", 3);
    assert_int_equal (s_shards_of (dir, 0), 256);
    fixture->journal = journal_test_open (fixture->dir);
}

//  A store without shoal's metadata is named for what its keys are:
//  another program's, or this shoal's whose metadata table was lost (a
//  damaged store, whose records are still there). Both were said to be an
//  older shoal's, to move away or delete. (That another program's store
//  is left as it was: test_check_store `test_node_refuses_foreign`.)
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
    journal_raw_put (foreign, (const uint8_t *) "user:1", 6, "{\"name\":\"a\"}", 12);
    journal_raw_put (foreign, (const uint8_t *) "user:2", 6, "{\"name\":\"b\"}", 12);
    s_refused (foreign, 0, SHOAL_EINVAL, foreign, "a LevelDB store but not shoal's", NULL);
    //  'S' shard 5, an event of account/a: layout 2's, with no 'm' records.
    uint8_t key[64] = "S\x00\x05"
                      "eaccount/a";
    memcpy (key + 14, "\0\0\0\0\0\0\0\x01", 8);
    journal_raw_put (lost, key, 22, "\x94\x01\xa6opened\x80\x05", 11);
    s_refused (lost, 0, SHOAL_EVERSION, lost, "holds this shoal's records", "damaged or lost",
               NULL);
    char *error = NULL;
    journal_options_t opts = {.sync = true};
    int code = 0;
    assert_null (journal_open (lost, &opts, &code, &error));
    assert_null (strstr (error, "delete"));
    free (error);
}

//  A second open of a store this process holds, without its SHOAL file
//  (judged from a copy first), is refused as busy and leaves the first
//  open's lock as it was: another process still cannot take the store.
//  The copy's lock was a POSIX read lock, which made LevelDB's write lock
//  a read lock, and its close released both.
static void test_second_open_keeps_lock (void **state)
{
    fixture_t *fixture = *state;
    char mark[PATH_MAX], lock_path[PATH_MAX];
    snprintf (mark, sizeof mark, "%s/SHOAL", fixture->dir);
    snprintf (lock_path, sizeof lock_path, "%s/LOCK", fixture->dir);
    assert_int_equal (unlink (mark), 0); //  a store made before the file
    char *error = NULL;
    int code = 0;
    assert_null (journal_open (fixture->dir, NULL, &code, &error));
    assert_int_equal (code, SHOAL_EBUSY);
    assert_non_null (strstr (error, "in use by another process"));
    free (error);
    pid_t child = fork ();
    assert_true (child >= 0);
    if (child == 0) { //  another process: LevelDB's lock, as its open takes it
        int fd = open (lock_path, O_RDWR);
        struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        _exit (fd >= 0 && fcntl (fd, F_SETLK, &lock) == 0 ? 1 : 0);
    }
    int status = 0;
    assert_int_equal (waitpid (child, &status, 0), child);
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0); //  1: it took the lock of a store in use
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
    journal_raw_put (dir, key, 18, "\x94\x01\xa6opened\x80\x05", 11);
    journal_raw_put (dir, (const uint8_t *) "mshards", 7, "256", 3);
    s_refused (dir, 0, SHOAL_EVERSION, dir, "older shoal", "layout 1", NULL);
    s_refused (dir, 256, SHOAL_EVERSION, "older shoal", NULL);

    journal_raw_put (dir, (const uint8_t *) "mlayout", 7, "3", 1);
    s_refused (dir, 0, SHOAL_EVERSION, dir, "key layout '3'", NULL);

    journal_raw_put (dir, (const uint8_t *) "mlayout", 7, "2", 1);
    journal_raw_put (dir, (const uint8_t *) "mshards", 7, "0", 1);
    s_refused (dir, 0, SHOAL_EFORMAT, dir, "no valid shard count", NULL);
    journal_raw_put (dir, (const uint8_t *) "mshards", 7, "65537", 5);
    s_refused (dir, 0, SHOAL_EFORMAT, "no valid shard count", NULL);
    journal_raw_put (dir, (const uint8_t *) "mshards", 7, "12x", 3);
    s_refused (dir, 0, SHOAL_EFORMAT, "no valid shard count", NULL);
    journal_raw_put (dir, (const uint8_t *) "mshards", 7, "12", 2);
    //  shoal's, though made without the mark file: judged from a copy,
    //  then opened, and marked as a new store is.
    char mark[PATH_MAX];
    snprintf (mark, sizeof mark, "%s/SHOAL", dir);
    assert_int_equal (access (mark, F_OK), -1);
    assert_int_equal (s_shards_of (dir, 0), 12);
    assert_int_equal (access (mark, F_OK), 0);
}

//  Writes every kind of record of stream: two events, a snapshot, an inbox
//  record, an outbox entry and a timer.
static void s_write_actor (journal_t *journal, const char *stream, uint8_t seed)
{
    journal_batch_t *batch = journal_batch_new (journal);
    uint8_t id[JOURNAL_ID_SIZE];
    journal_id (id, seed);
    map_t map = journal_map (seed);
    assert_int_equal (journal_append_one (batch, stream, 0, "opened", 1, NULL), 0);
    assert_int_equal (journal_append_one (batch, stream, 1, "credited", 2, NULL), 0);
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
    assert_int_equal (journal_shard_outbox_scan (journal, shard_b, journal_collect_entry, &entries),
                      0);
    assert_int_equal (entries.count, 1);
    assert_string_equal (entries.stream[0], "account/b");
    memset (&entries, 0, sizeof entries);
    assert_int_equal (journal_shard_timer_scan (journal, shard_a, journal_collect_entry, &entries),
                      0);
    assert_int_equal (entries.count, 1);
    assert_string_equal (entries.value[0], "tick");
    memset (&entries, 0, sizeof entries);
    assert_int_equal (journal_shard_timer_scan (journal, 0, journal_collect_entry, &entries), 0);
    assert_int_equal (entries.count, 0);
    assert_int_equal (journal_shard_outbox_scan (journal, 256, journal_collect_entry, &entries),
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
    fixture->journal = journal_test_open (fixture->dir);

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
        cmocka_unit_test_setup_teardown (test_busy_same_process, journal_setup, journal_teardown),
        cmocka_unit_test_setup_teardown (test_busy_other_process, journal_setup, journal_teardown),
        cmocka_unit_test_setup_teardown (test_open_creates_and_fails, journal_setup,
                                         journal_teardown),
        cmocka_unit_test_setup_teardown (test_fail_commits_after, journal_setup, journal_teardown),
        cmocka_unit_test_setup_teardown (test_shards_fixed_at_creation, journal_setup,
                                         journal_teardown),
        cmocka_unit_test_setup_teardown (test_old_layout_refused, journal_setup, journal_teardown),
        cmocka_unit_test_setup_teardown (test_second_open_keeps_lock, journal_setup,
                                         journal_teardown),
        cmocka_unit_test_setup_teardown (test_store_without_metadata, journal_setup,
                                         journal_teardown),
        cmocka_unit_test_setup_teardown (test_actor_records_in_shard_range, journal_setup,
                                         journal_teardown),
        cmocka_unit_test_setup_teardown (test_unsynced_commit_then_sync, journal_setup,
                                         journal_teardown),
        cmocka_unit_test_setup_teardown (test_async_needs_no_sync, journal_setup, journal_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
