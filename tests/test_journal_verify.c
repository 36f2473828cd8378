/*  test_journal_verify.c - what a node's open reads of its store, and what
    it reads after: a gap among the event log's records that LevelDB read
    back from its log files refuses the open, at every start until a
    repair; a store no node of this shoal opened is read whole; an older
    gap, or a damaged table, is let through the open and found by the read
    of every record that follows (journal_verify_start): a gap stops the
    process (exit 3), and either makes every later start read the whole
    store and refuse it; so does a write LevelDB refuses as corruption. A
    tool's open still reads every record first (journal_open without
    verify_later). A LOGCHECK that cannot be written makes the open read
    every record. The later read waits out a store that is down, without
    reopening it, and LevelDB's IO errors (descriptors run out), and ends
    whole. The fixture: journal_test_util.h.
*/
#include "journal_test_util.h"
#include "../persistence/journal_internal.h" //  the store's handle, to compact it

#include <czmq.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define WAIT_MS 30000 //  the longest the later read is waited for

//  Opens dir as a node does: verify_later. NULL with *error (to free) if
//  refused.
static journal_t *s_open_later (const char *dir, char **error)
{
    int code = 0;
    *error = NULL;
    journal_options_t opts = {.sync = true, .verify_later = true};
    return journal_open (dir, &opts, &code, error);
}

//  Commits events counter/g 1..count, each in a batch of its own: log
//  records at positions 0 to count - 1.
static void s_commit (journal_t *journal, const char *stream, int count)
{
    journal_batch_t *batch = journal_batch_new (journal);
    assert_non_null (batch);
    for (int i = 1; i <= count; i++) {
        assert_int_equal (journal_append_one (batch, stream, i - 1, "Counted", i, NULL), 0);
        assert_int_equal (journal_batch_commit (batch), 0);
    }
    journal_batch_destroy (&batch);
}

//  The key of the event log's record at pos ('L' and pos big-endian).
static void s_log_key (uint8_t key[9], uint64_t pos)
{
    key[0] = 'L';
    for (int i = 8; i >= 1; i--, pos >>= 8)
        key[i] = (uint8_t) pos;
}

//  The value under key in the store in dir, which no process has open
//  (its length in *size; free with leveldb_free).
static char *s_raw_read (const char *dir, const uint8_t *key, size_t key_len, size_t *size)
{
    leveldb_options_t *options = leveldb_options_create ();
    char *err = NULL;
    leveldb_t *db = leveldb_open (options, dir, &err);
    assert_null (err);
    leveldb_readoptions_t *read = leveldb_readoptions_create ();
    char *value = leveldb_get (db, read, (const char *) key, key_len, size, &err);
    assert_null (err);
    assert_non_null (value);
    leveldb_readoptions_destroy (read);
    leveldb_close (db);
    leveldb_options_destroy (options);
    return value;
}

//  Waits until the later read is no longer under way; its state, what it
//  found into damage.
static journal_verify_state_t s_wait_read (journal_t *journal, char *damage, size_t size)
{
    int64_t deadline = zclock_mono () + WAIT_MS;
    journal_verify_state_t state;
    while ((state = journal_verify_state (journal, damage, size)) == JOURNAL_VERIFY_READING &&
           zclock_mono () < deadline)
        zclock_sleep (10); //  between two reads of its state, within the deadline
    return state;
}

//  A power cut that kept a later write of LevelDB's log and lost an
//  earlier one: the record at position 3 is missing, the one at 4 is
//  there, both among what the open reads back from the log files. The
//  node's open reads only the log's newest records, and refuses this one
//  naming the positions; nothing is written.
static void test_start_refuses_gap_in_log_files (void **state)
{
    fixture_t *fixture = *state;
    s_commit (fixture->journal, "counter/g", 3); //  positions 0, 1, 2
    journal_destroy (&fixture->journal);
    //  Position 4 holds a copy of 2's record (one event, whole); 3 is
    //  missing. LevelDB's open of the raw write turns the journal's log
    //  into a table: the record at 4 is the only one in a log file.
    uint8_t key[9];
    s_log_key (key, 2);
    size_t size = 0;
    char *value = s_raw_read (fixture->dir, key, sizeof key, &size);
    s_log_key (key, 4);
    harness_raw_write (fixture->dir, key, sizeof key, value, size);
    leveldb_free (value);
    //  Refused, and again at the next start, whose LevelDB's open found
    //  no log file left (the first turned them into a table).
    for (int start = 1; start <= 2; start++) {
        char *error = NULL;
        assert_null (s_open_later (fixture->dir, &error));
        assert_non_null (error);
        if (!strstr (error, "positions 3 to 3 are missing"))
            fail_msg ("start %d refused, but not for the gap: %s", start, error);
        free (error);
    }
    char *error = NULL;
    //  A tool's open, which reads every record, says the same.
    int code = 0;
    assert_null (journal_open (fixture->dir, NULL, &code, &error));
    assert_int_equal (code, SHOAL_EFORMAT);
    assert_non_null (strstr (error, "positions 3 to 3 are missing"));
    free (error);
}

//  A whole store: the node's open, then the later read finds it whole.
static void test_later_read_whole (void **state)
{
    fixture_t *fixture = *state;
    s_commit (fixture->journal, "counter/w", 50);
    journal_destroy (&fixture->journal);
    char *error = NULL;
    fixture->journal = s_open_later (fixture->dir, &error);
    assert_non_null (fixture->journal);
    assert_int_equal (journal_verify_state (fixture->journal, NULL, 0), JOURNAL_VERIFY_OFF);
    assert_int_equal (journal_verify_start (fixture->journal), 0);
    char damage[512];
    assert_int_equal (s_wait_read (fixture->journal, damage, sizeof damage), JOURNAL_VERIFY_WHOLE);
    assert_string_equal (damage, "");
    assert_string_equal (journal_verify_name (JOURNAL_VERIFY_WHOLE), "whole");
    //  Its events read back, all 50.
    events_t *events = journal_read_all (fixture->journal, "counter/w");
    assert_int_equal (events->count, 50);
    free (events);
}

//  Runs this test program again as a child, on dir, as mode says
//  (main): a process of its own, whose threads LevelDB starts anew (a
//  fork would inherit a LevelDB that believes its compaction thread runs).
//  Its exit status: 3 if the journal stopped the process.
static int s_in_child (const char *mode, const char *dir)
{
    fflush (NULL);
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        execl ("/proc/self/exe", "test_journal_verify", mode, dir, (char *) NULL);
        _exit (127);
    }
    int status = 0;
    assert_int_equal (waitpid (pid, &status, 0), pid);
    assert_true (WIFEXITED (status));
    return WEXITSTATUS (status);
}

//  A node's open of dir, its later read, and the wait for it (the
//  process stops if it finds a gap): exit 4 if the open is refused, 5 if
//  the read ends without stopping it.
static void s_serve_until_read (const char *dir)
{
    char *error = NULL;
    journal_t *journal = s_open_later (dir, &error);
    if (!journal)
        _exit (4);
    if (journal_verify_start (journal) != 0)
        _exit (6);
    s_wait_read (journal, NULL, 0);
    _exit (5);
}

//  Opens dir as a node, expecting a refusal that names needle.
static void s_refused_later (const char *dir, const char *needle)
{
    char *error = NULL;
    journal_t *journal = s_open_later (dir, &error);
    if (journal)
        fail_msg ("opened, where a refusal naming '%s' was due", needle);
    if (!strstr (error, needle))
        fail_msg ("refused, but not for '%s': %s", needle, error);
    free (error);
}

//  A store whose event log lost the record at position 1 of 0 to 2 long
//  after they were written: deleted under the store, once they were in a
//  table (LevelDB's log explains no such gap).
static void s_older_gap (fixture_t *fixture)
{
    s_commit (fixture->journal, "counter/g", 3);
    journal_destroy (&fixture->journal);
    fixture->journal = journal_test_open (fixture->dir); //  the log into a table
    journal_destroy (&fixture->journal);
    uint8_t key[9];
    s_log_key (key, 1);
    harness_raw_write (fixture->dir, key, sizeof key, NULL, 0);
}

//  A gap older than what the log files held (the record at position 1
//  deleted under the store, which LevelDB's log does not explain): the
//  node's open does not read that far, and starts; the later read finds
//  it and stops the process (exit 3), and every start after reads the
//  whole store and refuses it, until a repair.
static void test_older_gap_found_later (void **state)
{
    fixture_t *fixture = *state;
    s_older_gap (fixture);
    assert_int_equal (s_in_child ("--serve", fixture->dir), 3);
    s_refused_later (fixture->dir, "positions 1 to 1 are missing");
    s_refused_later (fixture->dir, "positions 1 to 1 are missing");
    char *report = NULL, *failure = NULL;
    assert_int_equal (journal_repair (fixture->dir, NULL, NULL, &report, &failure), 0);
    free (report);
    free (failure);
    char *error = NULL;
    fixture->journal = s_open_later (fixture->dir, &error);
    assert_non_null (fixture->journal);
}

//  A store that no node of this shoal opened (no LOGCHECK file: an older
//  shoal's) is read whole at a node's open: an older gap refuses it.
static void test_unchecked_store_read_whole (void **state)
{
    fixture_t *fixture = *state;
    s_older_gap (fixture);
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/LOGCHECK", fixture->dir);
    assert_int_equal (unlink (path), 0);
    s_refused_later (fixture->dir, "positions 1 to 1 are missing");
}

//  The largest table file (*.ldb) in dir, into path.
static void s_largest_table (const char *dir, char *path, size_t size)
{
    DIR *d = opendir (dir);
    assert_non_null (d);
    off_t best = 0;
    path[0] = 0;
    for (struct dirent *entry; (entry = readdir (d));) {
        size_t len = strlen (entry->d_name);
        if (len < 4 || strcmp (entry->d_name + len - 4, ".ldb") != 0)
            continue;
        char file[PATH_MAX];
        snprintf (file, sizeof file, "%s/%s", dir, entry->d_name);
        struct stat st;
        if (stat (file, &st) == 0 && st.st_size > best) {
            best = st.st_size;
            snprintf (path, size, "%s", file);
        }
    }
    closedir (d);
    assert_true (path[0]);
}

//  Writes 5 events to each of 200 streams and opens the store again (its
//  log into a table; with late, 2 more events then, the log's newest in a
//  log file), then changes bytes of its largest table among the actors'
//  events ('S' keys sort after 'L'): 16 at a third of it, or, spread,
//  64 every 4 KiB from six tenths to nine.
static void s_damage_at (fixture_t *fixture, bool late, bool spread)
{
    char stream[32];
    for (int s = 0; s < 200; s++) {
        snprintf (stream, sizeof stream, "counter/s%03d", s);
        s_commit (fixture->journal, stream, 5);
    }
    journal_destroy (&fixture->journal);
    fixture->journal = journal_test_open (fixture->dir); //  the log into a table
    if (late)
        s_commit (fixture->journal, "counter/late", 2); //  the newest, in a log file
    journal_destroy (&fixture->journal);
    char table[PATH_MAX];
    s_largest_table (fixture->dir, table, sizeof table);
    int fd = open (table, O_RDWR);
    assert_true (fd >= 0);
    struct stat st;
    assert_int_equal (fstat (fd, &st), 0);
    off_t from = spread ? st.st_size * 6 / 10 : st.st_size / 3;
    off_t to = spread ? st.st_size * 9 / 10 : from + 1;
    size_t count = spread ? 64 : 16;
    for (off_t at = from; at < to; at += 4096) {
        uint8_t bytes[64];
        assert_int_equal (pread (fd, bytes, count, at), (ssize_t) count);
        for (size_t i = 0; i < count; i++)
            bytes[i] ^= 0xff;
        assert_int_equal (pwrite (fd, bytes, count, at), (ssize_t) count);
    }
    close (fd);
}

//  Changes 16 bytes of the store's largest table, among the actors'
//  events (many streams, the log's newest records in a log file).
static void s_damage (fixture_t *fixture)
{
    s_damage_at (fixture, true, false);
}

//  A table whose bytes changed under the store: the node's open starts
//  without reading it, the later read finds the bad checksum and says
//  which store, and the next start reads every record and refuses it. A
//  tool's open refuses the store at once.
static void test_damaged_table_found_later (void **state)
{
    fixture_t *fixture = *state;
    s_damage (fixture);
    char *error = NULL;
    fixture->journal = s_open_later (fixture->dir, &error);
    if (!fixture->journal)
        fail_msg ("the node's open read the damaged table: %s", error);
    assert_int_equal (journal_verify_start (fixture->journal), 0);
    char damage[512];
    assert_int_equal (s_wait_read (fixture->journal, damage, sizeof damage),
                      JOURNAL_VERIFY_DAMAGED);
    if (!strstr (damage, "damaged") || !strstr (damage, "checksum") ||
        !strstr (damage, fixture->dir))
        fail_msg ("the later read found something else: %s", damage);
    assert_string_equal (journal_verify_name (JOURNAL_VERIFY_DAMAGED), "damaged");
    journal_destroy (&fixture->journal);
    //  The next start reads every record, and refuses the store.
    s_refused_later (fixture->dir, "checksum");
    int code = 0;
    assert_null (journal_open (fixture->dir, NULL, &code, &error));
    assert_int_equal (code, SHOAL_EFORMAT);
    assert_non_null (strstr (error, "checksum"));
    free (error);
}

//  Blocks of the actors' events damaged (the table's last records before
//  its index: 'S' keys sort after 'L'): the open's read of the store's
//  layout meets them, and refuses it in LevelDB's words, with what to do.
//  It said "cannot read the journal in DIR" and no more: a read that
//  fails left no cause (a node's refusals of commands that met such
//  damage said "storage error (no failure)").
static void test_failed_read_said (void **state)
{
    fixture_t *fixture = *state;
    s_damage_at (fixture, false, true);
    char *error = NULL;
    fixture->journal = s_open_later (fixture->dir, &error);
    if (fixture->journal || !error || !strstr (error, "cannot read the journal in") ||
        !strstr (error, "(a read failed: Corruption: ") || !strstr (error, "shoal repair --data"))
        fail_msg ("the open of a store whose events' blocks are damaged: %s",
                  error ? error : "(opened)");
    free (error);
}

//  The damaged store of s_damage, opened as a node, compacted (LevelDB
//  meets the damaged table, and refuses every write after), then written:
//  the failed write's reopen stops the process (exit 3) rather than open
//  the store again and again.
static void s_compact_then_write (const char *dir)
{
    char *error = NULL;
    journal_t *journal = s_open_later (dir, &error);
    if (!journal)
        _exit (4);
    leveldb_compact_range (journal->db, NULL, 0, NULL, 0);
    for (int round = 0; round < 3; round++) {
        journal_batch_t *batch = journal_batch_new (journal);
        char stream[32];
        snprintf (stream, sizeof stream, "counter/new%d", round);
        journal_append_one (batch, stream, 0, "Counted", 1, NULL);
        journal_batch_commit (batch);
        journal_batch_destroy (&batch);
        leveldb_compact_range (journal->db, NULL, 0, NULL, 0);
    }
    _exit (5);
}

static void test_corruption_stops_writes (void **state)
{
    fixture_t *fixture = *state;
    s_damage (fixture);
    assert_int_equal (s_in_child ("--compact", fixture->dir), 3);
    s_refused_later (fixture->dir, "checksum");
}

//  The text of dir's LOGCHECK into text (size bytes), "" if none.
static void s_check_text (const char *dir, char *text, size_t size)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/LOGCHECK", dir);
    text[0] = 0;
    FILE *file = fopen (path, "r");
    if (file) {
        size_t got = fread (text, 1, size - 1, file);
        text[got] = 0;
        fclose (file);
    }
}

//  Writes text as the file at path.
static void s_write_file (const char *path, const char *text)
{
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    assert_true (fputs (text, file) >= 0);
    assert_int_equal (fclose (file), 0);
}

//  Writes text as dir's LOGCHECK.
static void s_check_set (const char *dir, const char *text)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/LOGCHECK", dir);
    s_write_file (path, text);
}

//  A second open while the store is open (a start while a node runs) is
//  refused as busy before it writes LOGCHECK: it would add the running
//  node's log to the count, or write it over a "full" the node writes.
static void test_busy_start_leaves_logcheck (void **state)
{
    fixture_t *fixture = *state;
    journal_destroy (&fixture->journal);
    char *error = NULL;
    fixture->journal = s_open_later (fixture->dir, &error); //  a node's
    assert_non_null (fixture->journal);
    s_commit (fixture->journal, "counter/b", 3); //  in the open store's log file
    s_check_set (fixture->dir, "pending 0\n");
    assert_null (s_open_later (fixture->dir, &error));
    if (!strstr (error, "in use"))
        fail_msg ("refused, but not as busy: %s", error);
    free (error);
    char text[64];
    s_check_text (fixture->dir, text, sizeof text);
    assert_string_equal (text, "pending 0\n");
}

//  Damage among the newest records of the event log that a node's open
//  reads (those of an open cut short after LevelDB's, which LOGCHECK
//  counts): LevelDB's iterator steps over the damaged block, and the open
//  says damage, not a gap that `shoal repair` would accept as a loss.
static void test_damage_at_open_is_not_a_gap (void **state)
{
    fixture_t *fixture = *state;
    s_commit (fixture->journal, "counter/d", 300);
    journal_destroy (&fixture->journal);
    fixture->journal = journal_test_open (fixture->dir); //  the log into a table
    journal_destroy (&fixture->journal);
    s_check_set (fixture->dir, "pending 1000000\n"); //  as a start killed after LevelDB's open
    char table[PATH_MAX];
    s_largest_table (fixture->dir, table, sizeof table);
    int fd = open (table, O_RDWR);
    assert_true (fd >= 0);
    uint8_t bytes[16];
    off_t at = 5000; //  the second block: the event log's records ('L' sorts before 'S')
    assert_int_equal (pread (fd, bytes, sizeof bytes, at), (ssize_t) sizeof bytes);
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] ^= 0xff;
    assert_int_equal (pwrite (fd, bytes, sizeof bytes, at), (ssize_t) sizeof bytes);
    close (fd);
    s_refused_later (fixture->dir, "checksum");
}

//  A store of 300,000 records, closed: enough for the later read to take
//  many chunks, over some 16 tables. Keys of no kind shoal writes ('z'),
//  which the read takes as any other, after three events.
static void s_many_records (fixture_t *fixture)
{
    s_commit (fixture->journal, "counter/c", 3);
    journal_destroy (&fixture->journal);
    leveldb_options_t *options = leveldb_options_create ();
    char *err = NULL;
    leveldb_t *db = leveldb_open (options, fixture->dir, &err);
    assert_null (err);
    leveldb_writeoptions_t *write = leveldb_writeoptions_create ();
    char value[100] = {0};
    for (int batch = 0; batch < 30; batch++) {
        leveldb_writebatch_t *writes = leveldb_writebatch_create ();
        for (int i = 0; i < 10000; i++) {
            char key[16];
            int len = snprintf (key, sizeof key, "z%08d", batch * 10000 + i);
            leveldb_writebatch_put (writes, key, (size_t) len, value, sizeof value);
        }
        leveldb_write (db, write, writes, &err);
        assert_null (err);
        leveldb_writebatch_destroy (writes);
    }
    leveldb_writeoptions_destroy (write);
    //  Settled: the next open has nothing to compact, so it opens no table
    //  beyond those its own read meets.
    leveldb_compact_range (db, NULL, 0, NULL, 0);
    leveldb_close (db);
    leveldb_options_destroy (options);
}

//  The later read is stopped while under way (journal_verify_stop says
//  where it stood: stopped, neither whole nor damaged), and by the
//  journal's close: the close returns, and the read's thread is joined
//  (ASan: nothing leaked, nothing read from a closed store).
static void test_close_stops_later_read (void **state)
{
    fixture_t *fixture = *state;
    s_many_records (fixture);
    char *error = NULL;
    fixture->journal = s_open_later (fixture->dir, &error);
    assert_non_null (fixture->journal);
    assert_int_equal (journal_verify_start (fixture->journal), 0);
    assert_int_equal (journal_verify_start (fixture->journal), 0); //  once only
    //  300,000 records take several chunks, each followed by a rest: the
    //  stop meets the read under way, and it ends stopped, not whole.
    assert_int_equal (journal_verify_state (fixture->journal, NULL, 0), JOURNAL_VERIFY_READING);
    assert_int_equal (journal_verify_stop (fixture->journal), JOURNAL_VERIFY_STOPPED);
    assert_int_equal (journal_verify_state (fixture->journal, NULL, 0), JOURNAL_VERIFY_OFF);
    assert_int_equal (journal_verify_start (fixture->journal), 0); //  again, then the close
    journal_destroy (&fixture->journal);
    assert_null (fixture->journal);
}

//  LOGCHECK cannot be written (its new copy's name is taken by a
//  directory that cannot be removed), but can be removed: the node's open
//  removes it and reads every record, as for a store no node opened: an
//  older gap, which a bounded read would let through, refuses it. The next
//  open, with no LOGCHECK, reads it whole too.
static void test_unwritable_logcheck_reads_whole (void **state)
{
    fixture_t *fixture = *state;
    s_older_gap (fixture); //  LOGCHECK says "pending 0": a bounded read would start
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/LOGCHECK.new", fixture->dir);
    assert_int_equal (mkdir (path, 0700), 0);
    snprintf (path, sizeof path, "%s/LOGCHECK.new/in", fixture->dir);
    s_write_file (path, "keeps the directory\n");
    s_refused_later (fixture->dir, "positions 1 to 1 are missing");
    char text[64];
    s_check_text (fixture->dir, text, sizeof text);
    assert_string_equal (text, ""); //  removed, not left saying "pending 0"
    s_refused_later (fixture->dir, "positions 1 to 1 are missing");
}

//  Renames dir's file from to to.
static void s_rename (const char *dir, const char *from, const char *to)
{
    char old_path[PATH_MAX], new_path[PATH_MAX];
    snprintf (old_path, sizeof old_path, "%s/%s", dir, from);
    snprintf (new_path, sizeof new_path, "%s/%s", dir, to);
    assert_int_equal (rename (old_path, new_path), 0);
}

//  Commits one event to stream, retrying a store that is down until the
//  deadline. 0, or the last failure.
static int s_commit_until (journal_t *journal, const char *stream, int64_t deadline)
{
    journal_batch_t *batch = journal_batch_new (journal);
    assert_non_null (batch);
    int rc;
    while ((rc = journal_append_one (batch, stream, 0, "Counted", 1, NULL)) == 0 &&
           (rc = journal_batch_commit (batch)) != 0 && zclock_mono () < deadline) {
        journal_batch_clear (batch);
        zclock_sleep (20); //  between two tries, within the deadline
    }
    journal_batch_destroy (&batch);
    return rc;
}

//  The store goes down while the later read is under way (a write failed,
//  and the reopen fails: LevelDB's CURRENT is away, as a full disk would
//  keep it from opening): the read waits, neither calling the store
//  damaged nor giving up, and never tries to reopen it itself (the last
//  failure grows old: nobody else tries here). Once a writer's reopen
//  brings it back, the read goes on from where it stood: whole.
static void test_later_read_waits_out_a_store_down (void **state)
{
    fixture_t *fixture = *state;
    s_many_records (fixture);
    char *error = NULL;
    journal_t *journal = fixture->journal = s_open_later (fixture->dir, &error);
    assert_non_null (journal);
    assert_int_equal (journal_verify_start (journal), 0);
    s_rename (fixture->dir, "CURRENT", "CURRENT.away");
    journal_fail_commits_after (journal, 1);
    assert_int_equal (s_commit_until (journal, "counter/down", 0), SHOAL_EIO);
    journal_fail_commits_after (journal, 0);
    //  The commit's own reopen failed: the store is down.
    char why[512];
    assert_true (journal_failed_ago_ms (journal, why, sizeof why) >= 0);
    if (!strstr (why, "does not exist"))
        fail_msg ("the store is not down for want of CURRENT: %s", why);
    //  The read was under way (300,000 records take many chunks and
    //  rests), and stays so while the store is down.
    int64_t until = zclock_mono () + 1200;
    while (zclock_mono () < until) {
        assert_int_equal (journal_verify_state (journal, NULL, 0), JOURNAL_VERIFY_READING);
        zclock_sleep (20); //  between two reads of its state, within the window
    }
    //  No reopen was tried for a second: not by the read.
    int64_t ago = journal_failed_ago_ms (journal, NULL, 0);
    if (ago < 1000)
        fail_msg ("the store's reopen was tried %" PRId64 " ms ago, while only the read ran", ago);
    assert_int_equal (journal_reopens (journal), 0);
    s_rename (fixture->dir, "CURRENT.away", "CURRENT");
    assert_int_equal (s_commit_until (journal, "counter/up", zclock_mono () + WAIT_MS), 0);
    assert_int_equal (journal_reopens (journal), 1);
    char damage[512];
    assert_int_equal (s_wait_read (journal, damage, sizeof damage), JOURNAL_VERIFY_WHOLE);
    assert_string_equal (damage, "");
}

//  The later read of dir in a process whose descriptors run out once the
//  node's open is done (RLIMIT_NOFILE at the lowest free one): LevelDB
//  cannot open the tables the read comes to, an "IO error". The read
//  retries from where it stood, neither damaged nor given up; once the
//  limit is raised again (after WAIT_IO_MS) it ends whole: exit 5. Exit 6:
//  it ended while the descriptors were out; 7: damaged or stopped after.
#define WAIT_IO_MS 1000
static void s_read_short_of_descriptors (const char *dir)
{
    char *error = NULL;
    journal_t *journal = s_open_later (dir, &error);
    if (!journal)
        _exit (4);
    struct rlimit was;
    if (getrlimit (RLIMIT_NOFILE, &was) != 0)
        _exit (8);
    int lowest = dup (0);
    if (lowest < 0)
        _exit (8);
    close (lowest);
    struct rlimit short_of = {.rlim_cur = (rlim_t) lowest, .rlim_max = was.rlim_max};
    if (setrlimit (RLIMIT_NOFILE, &short_of) != 0 || journal_verify_start (journal) != 0)
        _exit (8);
    int64_t until = zclock_mono () + WAIT_IO_MS;
    while (zclock_mono () < until) {
        if (journal_verify_state (journal, NULL, 0) != JOURNAL_VERIFY_READING)
            _exit (6);
        zclock_sleep (20); //  between two reads of its state, within the window
    }
    if (setrlimit (RLIMIT_NOFILE, &was) != 0)
        _exit (8);
    _exit (s_wait_read (journal, NULL, 0) == JOURNAL_VERIFY_WHOLE ? 5 : 7);
}

static void test_later_read_retries_io_errors (void **state)
{
    fixture_t *fixture = *state;
    s_many_records (fixture);
    assert_int_equal (s_in_child ("--short", fixture->dir), 5);
}

int main (int argc, char *argv[])
{
    if (argc == 3 && strcmp (argv[1], "--serve") == 0)
        s_serve_until_read (argv[2]);
    if (argc == 3 && strcmp (argv[1], "--compact") == 0)
        s_compact_then_write (argv[2]);
    if (argc == 3 && strcmp (argv[1], "--short") == 0)
        s_read_short_of_descriptors (argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_start_refuses_gap_in_log_files, journal_setup,
                                         journal_teardown),
        cmocka_unit_test_setup_teardown (test_later_read_whole, journal_setup, journal_teardown),
        cmocka_unit_test_setup_teardown (test_older_gap_found_later, journal_setup,
                                         journal_teardown),
        cmocka_unit_test_setup_teardown (test_failed_read_said, journal_setup, journal_teardown),
        cmocka_unit_test_setup_teardown (test_damaged_table_found_later, journal_setup,
                                         journal_teardown),
        cmocka_unit_test_setup_teardown (test_unchecked_store_read_whole, journal_setup,
                                         journal_teardown),
        cmocka_unit_test_setup_teardown (test_corruption_stops_writes, journal_setup,
                                         journal_teardown),
        cmocka_unit_test_setup_teardown (test_busy_start_leaves_logcheck, journal_setup,
                                         journal_teardown),
        cmocka_unit_test_setup_teardown (test_damage_at_open_is_not_a_gap, journal_setup,
                                         journal_teardown),
        cmocka_unit_test_setup_teardown (test_close_stops_later_read, journal_setup,
                                         journal_teardown),
        cmocka_unit_test_setup_teardown (test_unwritable_logcheck_reads_whole, journal_setup,
                                         journal_teardown),
        cmocka_unit_test_setup_teardown (test_later_read_waits_out_a_store_down, journal_setup,
                                         journal_teardown),
        cmocka_unit_test_setup_teardown (test_later_read_retries_io_errors, journal_setup,
                                         journal_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
