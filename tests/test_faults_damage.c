/*  test_faults_damage.c - damaged stores and what `shoal repair` and `shoal check`
    make of them: a damaged or truncated log, a damaged table, CURRENT
    missing, a read-only directory, repairs refused, a stream with a hole.
    The fixture: faults_test_util.h.
*/
#include "books.h"
#include "client.h"
#include "node_child.h"
#include "proc.h"
#include "shard.h"
#include "../persistence/journal_internal.h" //  journal_mark_read

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <leveldb/c.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "faults_test_util.h"

//  `shoal repair --yes` and then `shoal check` on f->data: repair ends
//  well and check counts the records left (and sees the bank's books).
static void s_repair_and_check (fixture_t *f, const char *said)
{
    char *output = NULL;
    //  Without --yes and with stdin not a terminal, repair refuses.
    assert_int_equal (faults_run (f, &output, "repair", "--data", f->data, NULL), 2);
    assert_non_null (strstr (output, "refused"));
    free (output);
    int code = faults_run (f, &output, "repair", "--data", f->data, "--yes", NULL);
    print_message ("repair (exit %d): %s", code, output);
    assert_true (code == 0 || code == 1);
    assert_non_null (strstr (output, "records of"));
    if (said && !strstr (output, said))
        fail_msg ("the repair did not say '%s': %s", said, output);
    free (output);
    code = faults_run (f, &output, "check", "--data", f->data, NULL);
    print_message ("check (exit %d): %s", code, output);
    assert_non_null (strstr (output, "records of"));
    assert_non_null (strstr (output, "accounts"));
    free (output);
}

//  The path of the newest (or, !newest, the oldest) file in f->data whose
//  name ends with tail (LevelDB numbers its files in order).
static void s_file_at (fixture_t *f, const char *tail, bool newest, char *path, size_t size)
{
    zdir_t *dir = zdir_new (f->data, NULL);
    assert_non_null (dir);
    zlist_t *files = zdir_list (dir);
    path[0] = '\0';
    for (zfile_t *file = zlist_first (files); file; file = zlist_next (files)) {
        const char *name = zfile_filename (file, NULL);
        size_t len = strlen (name);
        if (len > strlen (tail) && strcmp (name + len - strlen (tail), tail) == 0 &&
            (!path[0] || (strcmp (name, path) > 0) == newest))
            snprintf (path, size, "%s", name);
    }
    zlist_destroy (&files);
    zdir_destroy (&dir);
    assert_true (path[0]);
}

//  The path of the newest file in f->data whose name ends with tail.
static void s_newest (fixture_t *f, const char *tail, char *path, size_t size)
{
    s_file_at (f, tail, true, path, size);
}

//  The books after a repair that lost acknowledged deposits: fewer than
//  were acknowledged. Returns the balance.
static int64_t s_books_lost (fixture_t *f)
{
    int64_t balance = faults_books (f, NULL);
    print_message ("after repair: balance %lld of %lld deposits acknowledged\n",
                   (long long) balance, (long long) f->acked);
    assert_true (balance < f->acked);
    return balance;
}

//  Flips 16 bytes in the middle of path.
static void s_flip (const char *path)
{
    int fd = open (path, O_RDWR);
    assert_true (fd >= 0);
    off_t size = lseek (fd, 0, SEEK_END);
    assert_true (size > 64);
    uint8_t bytes[16];
    assert_int_equal (pread (fd, bytes, sizeof bytes, size / 2), (ssize_t) sizeof bytes);
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] ^= 0xff;
    assert_int_equal (pwrite (fd, bytes, sizeof bytes, size / 2), (ssize_t) sizeof bytes);
    close (fd);
}

static void test_damaged_log (void **state)
{
    fixture_t *f = *state;
    //  The log then holds the deposits' commits alone: the damage hits one
    //  of them, not a projection's batch (whose loss is rebuilt, not lost).
    f->no_projections = true;
    faults_fill_store (f, 300, SIGKILL);
    char log[600];
    s_newest (f, ".log", log, sizeof log);
    s_flip (log);
    faults_refused (f, "damaged", "Corruption", ".log: dropping", NULL);
    //  The damaged record is dropped: LevelDB's repair reads logs without
    //  their checksums and kept its bytes (a record under a key no one
    //  wrote, or a value that decodes, changed), so the logs are read with
    //  them first (logclean.c), and every record left decodes.
    s_repair_and_check (f, "dropping");
    char *output = NULL;
    faults_run (f, &output, "repair", "--data", f->data, "--yes", NULL);
    free (output);
    faults_run (f, &output, "check", "--data", f->data, NULL);
    if (!strstr (output, " 0 do not decode,") || strstr (output, "first bad"))
        fail_msg ("a record that does not decode after the repair: %s", output);
    free (output);
    //  Repair keeps the log but the damaged records: what they held is
    //  lost, and the books show how much (the 16 bytes span two at most).
    assert_true (s_books_lost (f) >= f->acked - 2);
}

//  A record's header damaged in the middle of a log file: LevelDB's
//  reader drops the rest of the block after a length past its block
//  ("dropping N bytes; bad record length"), whole commits with it; the
//  repair's clean of the logs (logclean.c) reads on at the next whole
//  record, and loses that record alone. The repair says so: what was
//  dropped (it read LevelDB's LOG after its own open of the store had
//  started a new one, and said "nothing dropped"), and the hole it left in
//  the event log (it said "no acknowledged position is missing", looking
//  at the end).
static void test_damaged_log_header (void **state)
{
    fixture_t *f = *state;
    f->no_projections = true;
    faults_fill_store (f, 600, SIGTERM); //  stopped: its SYNCED mark covers every deposit
    char log[600];
    s_newest (f, ".log", log, sizeof log);
    int fd = open (log, O_RDWR);
    assert_true (fd >= 0);
    off_t size = lseek (fd, 0, SEEK_END);
    //  The header of the record that starts the log's second 32 KiB block,
    //  with a third block after it: its length (bytes 4 and 5) made 0xffff.
    if (size < 2 * 32768 + 7)
        fail_msg ("the log holds %lld bytes: too few for the test", (long long) size);
    uint8_t length[2] = {0xff, 0xff};
    assert_int_equal (pwrite (fd, length, sizeof length, 32768 + 4), (ssize_t) sizeof length);
    close (fd);
    char *output = NULL;
    int code = faults_run (f, &output, "repair", "--data", f->data, "--yes", NULL);
    print_message ("repair (exit %d): %s", code, output);
    if (!strstr (output, "dropping") || !strstr (output, "bad record length"))
        fail_msg ("the repair did not say what LevelDB dropped: %s", output);
    if (!strstr (output, "the event log lacks") ||
        !strstr (output, "acknowledged (below the durable mark): what they did may be gone"))
        fail_msg ("the repair did not say acknowledged commits are gone: %s", output);
    free (output);
    //  And `shoal check` says the hole the repair left (it said nothing),
    //  and fails on it, as its --help says of a hole (it passed: exit 0).
    assert_int_equal (faults_run (f, &output, "check", "--data", f->data, NULL), 1);
    assert_non_null (strstr (output, "what a repair dropped: 1 stream with a hole, 1 commit "));
    print_message ("check: %s", output);
    if (!strstr (output, "; the event log lacks 1 position (the first from "))
        fail_msg ("the check did not say the event log's hole: %s", output);
    //  And the stream that lost the deposit's event, which a node serves
    //  as it is (it said "0 streams with a hole", naming none).
    if (!strstr (output, "; 1 stream with a hole in a store not marked GAPLESS (") ||
        !strstr (output, "; the first: stream account/a has no event "))
        fail_msg ("the check did not name the stream with a hole: %s", output);
    free (output);
    //  And the books show it: the deposit the record held is gone, and no
    //  other (the rest of its block went too, before the clean read on).
    assert_true (s_books_lost (f) >= f->acked - 1);
}

//  A log whose last 100 bytes are gone (the end of its last record: a
//  crash's torn write, or a copy cut short) is not damage to the logs'
//  clean before the repair (logclean.c), as to LevelDB's recovery: not
//  set aside nor written again (it was counted "bad record length").
static void test_torn_log_end (void **state)
{
    fixture_t *f = *state;
    f->no_projections = true;
    faults_fill_store (f, 100, SIGTERM);
    char log[600];
    s_newest (f, ".log", log, sizeof log);
    struct stat st;
    assert_int_equal (stat (log, &st), 0);
    assert_true (st.st_size > 1000);
    assert_int_equal (truncate (log, st.st_size - 100), 0);
    //  And a clean copy an earlier repair cut short left, whose log is
    //  gone: removed, never put in a log's place (it was, and LevelDB's
    //  repair took its records in: another history's, maybe).
    char stale[700], command[1500];
    snprintf (stale, sizeof stale, "%s/999999.log.clean", f->data);
    snprintf (command, sizeof command, "cp '%s' '%s'", log, stale);
    assert_int_equal (system (command), 0);
    char *output = NULL;
    int code = faults_run (f, &output, "repair", "--data", f->data, "--yes", NULL);
    print_message ("repair (exit %d): %s", code, output);
    if (strstr (output, "records LevelDB's recovery refuses"))
        fail_msg ("a log cut at its end taken for damage: %s", output);
    free (output);
    char lost[700];
    snprintf (lost, sizeof lost, "ls '%s/lost' | grep -q damaged", f->data);
    if (system (lost) == 0)
        fail_msg ("a log cut at its end was set aside as damaged in %s/lost", f->data);
    snprintf (command, sizeof command, "ls '%s' '%s/lost' | grep -q 999999", f->data, f->data);
    if (system (command) == 0)
        fail_msg ("a stale clean copy was kept or swapped in: %s", stale);
}

//  A repair's kept mark (SYNCED.repair) left by a repair that failed
//  after LevelDB's: a start that passes removes it, so that a much later
//  repair does not take it for the node's (a node in async durability
//  writes no SYNCED of its own).
static void test_repair_mark_removed_by_a_start (void **state)
{
    fixture_t *f = *state;
    f->no_projections = true;
    faults_fill_store (f, 5, SIGTERM);
    char kept[600];
    snprintf (kept, sizeof kept, "%s/SYNCED.repair", f->data);
    FILE *file = fopen (kept, "w");
    assert_non_null (file);
    fprintf (file, "%020d\n", 3);
    fclose (file);
    faults_start (f, "async");
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGTERM);
    assert_int_not_equal (access (kept, F_OK), 0);
    assert_int_equal (faults_books (f, NULL), f->acked);
}

//  The position the node's SYNCED file holds (0: none yet), read as the
//  node reads it.
static uint64_t s_synced_mark (fixture_t *f)
{
    uint64_t mark = 0;
    journal_mark_read (f->data, &mark);
    return mark;
}

//  Takes deposits on a store whose event log holds events, until the
//  node's SYNCED mark covers them all, then SIGKILLs it and cuts its
//  newest log to keep bytes (-1: half of it).
static void s_deposits_then_cut_log (fixture_t *f, int64_t events, int deposits, long keep)
{
    for (int i = 0; i < deposits; i++)
        faults_add_deposit (f);
    faults_pump (f, NULL);
    //  The mark follows within a second.
    uint64_t want = (uint64_t) (events + deposits);
    int64_t deadline = zclock_mono () + 30000;
    while (s_synced_mark (f) < want && zclock_mono () < deadline)
        zclock_sleep (20);
    assert_true (s_synced_mark (f) >= want);
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGKILL);
    //  The newest log of the store itself (not one a repair set aside in
    //  lost/, which s_newest would take).
    char log[600] = "", name[64] = "";
    DIR *dir = opendir (f->data);
    assert_non_null (dir);
    for (struct dirent *entry; (entry = readdir (dir));) {
        size_t len = strlen (entry->d_name);
        if (len > 4 && len < sizeof name && strcmp (entry->d_name + len - 4, ".log") == 0 &&
            strcmp (entry->d_name, name) > 0)
            snprintf (name, sizeof name, "%s", entry->d_name);
    }
    closedir (dir);
    assert_true (name[0]);
    snprintf (log, sizeof log, "%s/%s", f->data, name);
    struct stat st;
    assert_int_equal (stat (log, &st), 0);
    assert_int_equal (truncate (log, keep < 0 ? st.st_size / 2 : keep), 0);
}

//  A log file truncated while the node is stopped (a restore gone wrong,
//  a disk that dropped writes): LevelDB takes its missing end for a
//  crash's torn tail and drops it without a word, acknowledged deposits
//  with it; the node started on what was left, and shoal check found the
//  books balanced. The node's SYNCED mark (how far a sync made the event
//  log durable) makes the start refuse it, saying so; `shoal repair`
//  accepts the loss, which the books then show. First half of the last
//  log cut (the first deposits in a table since a restart), then all of
//  it (an empty store with a mark: refused, not taken for a new one).
static void test_truncated_log (void **state)
{
    fixture_t *f = *state;
    f->no_projections = true;
    faults_fill_store (f, 30, SIGTERM);
    faults_start (f, "sync"); //  its log made a table: the 31 events stay
    s_deposits_then_cut_log (f, 31, 60, -1);
    faults_refused (f, "lost writes that were acknowledged", "SYNCED", "shoal repair", NULL);
    //  The repair says the loss it accepts (it said "nothing dropped").
    s_repair_and_check (f, " were acknowledged and are gone; the store is taken as it is");
    int64_t balance = s_books_lost (f);
    assert_true (balance >= 30);
    //  And check says it from then on, exit 1, though the books balance
    //  and no hole is left (it said all was well: a review's find), after
    //  the node has written again too (new events take those positions).
    for (int pass = 0; pass < 2; pass++) {
        char *output = NULL;
        int code = faults_run (f, &output, "check", "--data", f->data, NULL);
        if (code != 1 ||
            !strstr (output, "acknowledged events cut from the event log's end by 1 "
                             "repair (the first on ") ||
            !strstr (output, "a repair took the store as it was without them"))
            fail_msg ("check after a repair that cut the log (pass %d): exit %d: %s", pass, code,
                      output);
        free (output);
        if (pass == 0) {
            faults_start (f, "sync");
            faults_add (f, "account/z", "Open", "owner=faults", NULL);
            faults_pump (f, NULL);
            client_destroy (&f->client);
            node_child_stop (&f->node, SIGTERM);
        }
    }

    //  After the repair, marks go on: a second loss is seen too.
    faults_start (f, "sync");
    s_deposits_then_cut_log (f, balance + 1, 40, 0);
    faults_refused (f, "lost writes that were acknowledged", NULL);

    //  A new store's one log lost whole: empty, with a mark. Refused, and
    //  not made a new store meanwhile (it was, before the refusal).
    char command[700];
    snprintf (command, sizeof command, "rm -rf '%s'", f->data);
    assert_int_equal (system (command), 0);
    faults_start (f, "sync");
    faults_add (f, "account/a", "Open", "owner=faults", NULL);
    faults_pump (f, NULL);
    s_deposits_then_cut_log (f, 1, 40, 0);
    faults_refused (f, "lost writes that were acknowledged", "ends at position 0", NULL);
    faults_refused (f, "lost writes that were acknowledged", "ends at position 0",
                    "restore the directory from a backup (", NULL);
}

//  Cuts the file at path to half its size.
static void s_cut_half (const char *path)
{
    struct stat st;
    assert_int_equal (stat (path, &st), 0);
    assert_int_equal (truncate (path, st.st_size / 2), 0);
}

//  A table cut short under a stopped node (a copy that stopped half-way):
//  the start refuses the store with LevelDB's words and the repair. The
//  start's read of the event log's newest records opens every table: it
//  said "could not be read at open: IO error ... Invalid argument", an
//  I/O error, with no repair. The newest table cut, then the oldest
//  (which alone holds the store's metadata).
static void test_truncated_table_said (void **state)
{
    fixture_t *f = *state;
    f->no_projections = true;
    faults_fill_store (f, 300, SIGTERM);
    faults_start (f, "sync"); //  opened again: the log becomes a table
    for (int i = 0; i < 50; i++)
        faults_add_deposit (f);
    faults_pump (f, NULL);
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGTERM);
    faults_start (f, "sync"); //  and the second log a second table
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGTERM);
    char table[600], oldest[600];
    s_newest (f, ".ldb", table, sizeof table);
    s_file_at (f, ".ldb", false, oldest, sizeof oldest);
    assert_string_not_equal (table, oldest);
    char command[1500], whole[700];
    snprintf (whole, sizeof whole, "%s/newest.whole", f->dir);
    snprintf (command, sizeof command, "cp '%s' '%s'", table, whole);
    assert_int_equal (system (command), 0);
    s_cut_half (table);
    faults_refused (f, "Invalid argument", "shoal repair --data", NULL);
    assert_int_equal (rename (whole, table), 0); //  whole again: the oldest's turn
    s_cut_half (oldest);
    faults_refused (f, "Invalid argument", "shoal repair --data", NULL);
}

//  A table damaged under a stopped node: its start reads only the event
//  log's newest records, and serves; the read of every record that
//  follows finds the damage, logs it, and `shoal stats` says it
//  (store_verify "damaged", store_damage what). The next start reads
//  every record and refuses the store, as `shoal check` does; repair
//  salvages it.
static void test_damaged_table (void **state)
{
    fixture_t *f = *state;
    faults_fill_store (f, 300, SIGTERM);
    //  Opened again, the store turns its log into a table file (.ldb).
    faults_start (f, "sync");
    node_child_stop (&f->node, SIGTERM);
    char table[600];
    s_newest (f, ".ldb", table, sizeof table);
    s_flip (table);
    faults_start (f, "sync");
    char *output = NULL;
    int64_t deadline = zclock_mono () + WAIT_MS;
    for (;;) {
        free (output);
        output = NULL;
        int code = faults_run (f, &output, "stats", "--endpoint", f->endpoint, NULL);
        assert_int_equal (code, 0);
        if (!strstr (output, "\"store_verify\":\"reading\"") || zclock_mono () > deadline)
            break;
        zclock_sleep (20); //  between two asks, within the deadline
    }
    print_message ("stats: %s\n", output);
    if (!strstr (output, "\"store_verify\":\"damaged\"") || !strstr (output, "checksum") ||
        !strstr (output, f->data))
        fail_msg ("the node's stats do not say its store is damaged: %s", output);
    free (output);
    char *log = malloc (PROC_OUTPUT_MAX);
    assert_non_null (log);
    proc_read_file (f->log, log);
    if (!strstr (log, "found by the read of every record that follows a start"))
        fail_msg ("the node's log does not say its store is damaged: %s", log);
    free (log);
    node_child_stop (&f->node, SIGTERM);
    //  Its next start reads every record, and refuses the store.
    faults_refused (f, "damaged", "checksum", "table", NULL);
    int code = faults_run (f, &output, "check", "--data", f->data, NULL);
    print_message ("check (exit %d): %s", code, output);
    assert_int_not_equal (code, 0);
    assert_non_null (strstr (output, "checksum"));
    free (output);
    s_repair_and_check (f, NULL);
}

static void test_missing_current (void **state)
{
    fixture_t *f = *state;
    faults_fill_store (f, 20, SIGTERM);
    char current[400];
    snprintf (current, sizeof current, "%s/CURRENT", f->data);
    assert_int_equal (unlink (current), 0);
    faults_refused (f, "no CURRENT", "never makes a new store", NULL);
    //  Refused, it made nothing: CURRENT is still missing.
    assert_int_not_equal (access (current, F_OK), 0);
    s_repair_and_check (f, NULL);
    //  Repaired, every deposit is there.
    assert_int_equal (faults_books (f, NULL), f->acked);
}

static void test_read_only_directory (void **state)
{
    fixture_t *f = *state;
    faults_mount_small_disk (f);
    faults_fill_store (f, 5, SIGTERM);
    if (mount (NULL, f->disk, NULL, MS_REMOUNT | MS_RDONLY, NULL) != 0)
        fail_msg ("cannot remount %s read-only: %s", f->disk, strerror (errno));
    faults_refused (f, "Read-only file system", NULL);
}

//  The key of event seq of stream in a store of the default shard count
//  (persistence/keys.h: 'S' shard:u16be 'e' stream 0x00 seq:u64be).
static size_t s_event_key (uint8_t *key, const char *stream, uint64_t seq)
{
    uint32_t shard = shoal_shard (stream, SHOAL_SHARDS_DEFAULT);
    size_t len = strlen (stream);
    key[0] = 'S';
    key[1] = (uint8_t) (shard >> 8);
    key[2] = (uint8_t) shard;
    key[3] = 'e';
    memcpy (key + 4, stream, len + 1);
    for (int i = 0; i < 8; i++)
        key[4 + len + 1 + i] = (uint8_t) (seq >> (56 - 8 * i));
    return 4 + len + 1 + 8;
}

//  Whether the stopped store in dir holds key (and, unless holds is NULL,
//  a value in which holds appears), read with LevelDB itself; the key is
//  deleted if remove.
static bool s_raw_key (const char *dir, const uint8_t *key, size_t len, bool remove,
                       const char *holds)
{
    leveldb_options_t *options = leveldb_options_create ();
    char *err = NULL;
    leveldb_t *db = leveldb_open (options, dir, &err);
    assert_null (err);
    leveldb_readoptions_t *read = leveldb_readoptions_create ();
    size_t size;
    char *value = leveldb_get (db, read, (const char *) key, len, &size, &err);
    assert_null (err);
    bool held = value != NULL && (!holds || memmem (value, size, holds, strlen (holds)));
    leveldb_free (value);
    if (held && remove) {
        leveldb_writeoptions_t *write = leveldb_writeoptions_create ();
        leveldb_writeoptions_set_sync (write, 1);
        leveldb_delete (db, write, (const char *) key, len, &err);
        assert_null (err);
        leveldb_writeoptions_destroy (write);
    }
    leveldb_readoptions_destroy (read);
    leveldb_close (db);
    leveldb_options_destroy (options);
    return held;
}

//  A stream that lost an event before one it kept (deleted here by hand,
//  as a damaged table's lost block would), in a store marked GAPLESS: the
//  node served its state folded over the hole (version 4 from 3 events)
//  and took a deposit on top; without event 1 it served the stream as new
//  and wrote a new one's events over the kept ones. Now it refuses the
//  stream (`unavailable`, malformed record) and appends nothing to it,
//  serves the others, and shoal check refuses the store as damaged,
//  naming the stream.
static void test_stream_gap (void **state)
{
    fixture_t *f = *state;
    faults_fill_store (f, 3, SIGTERM); //  account/a: Opened and 3 Deposited
    uint8_t key[64];
    size_t len = s_event_key (key, "account/a", 2);
    assert_true (s_raw_key (f->data, key, len, true, NULL));
    faults_start (f, "sync");
    char *output = NULL;
    int code = faults_run (f, &output, "get", "--endpoint", f->node.endpoint, "account/a", NULL);
    print_message ("get (exit %d): %s", code, output);
    assert_int_equal (code, 1);
    assert_non_null (strstr (output, "unavailable"));
    assert_non_null (strstr (output, "malformed record"));
    free (output);
    code = faults_run (f, &output, "send", "--endpoint", f->node.endpoint, "account/a", "Deposit",
                       "amount=1", NULL);
    print_message ("Deposit (exit %d): %s", code, output);
    assert_int_equal (code, 1);
    assert_non_null (strstr (output, "unavailable"));
    assert_non_null (strstr (output, "malformed record"));
    free (output);
    code = faults_run (f, &output, "send", "--endpoint", f->node.endpoint, "account/b", "Open",
                       "owner=b", NULL);
    assert_int_equal (code, 0);
    free (output);
    code = faults_run (f, &output, "send", "--endpoint", f->node.endpoint, "account/b", "Deposit",
                       "amount=7", NULL);
    assert_int_equal (code, 0);
    free (output);
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGTERM);
    len = s_event_key (key, "account/a", 5);
    assert_false (s_raw_key (f->data, key, len, false, NULL));
    len = s_event_key (key, "account/a", 2);
    assert_false (s_raw_key (f->data, key, len, false, NULL));

    //  Event 1 lost: the stream read as new (a get of event 1), an Open
    //  was taken, and its events were written over event 1 and the
    //  Deposited after it.
    len = s_event_key (key, "account/b", 1);
    assert_true (s_raw_key (f->data, key, len, true, NULL));
    faults_start (f, "sync");
    code = faults_run (f, &output, "send", "--endpoint", f->node.endpoint, "account/b", "Open",
                       "owner=other", NULL);
    print_message ("Open over a lost event 1 (exit %d): %s", code, output);
    assert_int_equal (code, 1);
    assert_non_null (strstr (output, "malformed record"));
    free (output);
    code = faults_run (f, &output, "send", "--endpoint", f->node.endpoint, "account/b", "Deposit",
                       "amount=1", NULL);
    assert_int_equal (code, 1);
    assert_non_null (strstr (output, "malformed record"));
    free (output);
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGTERM);
    assert_false (s_raw_key (f->data, key, len, false, NULL));
    len = s_event_key (key, "account/b", 2);
    assert_true (s_raw_key (f->data, key, len, false, "Deposited"));
    len = s_event_key (key, "account/b", 3);
    assert_false (s_raw_key (f->data, key, len, false, NULL));

    code = faults_run (f, &output, "check", "--data", f->data, NULL);
    print_message ("check (exit %d): %s", code, output);
    assert_int_equal (code, 4);
    assert_non_null (strstr (output, "could not be read: stream account/"));
    assert_non_null (strstr (output, "malformed record"));
    free (output);
}

//  `shoal repair --data DATA --yes` of what (for the message) must be
//  refused, exit 2, saying needle and that nothing was changed, and
//  repair nothing.
static void s_repair_refused (fixture_t *f, const char *what, const char *needle)
{
    char *output = NULL;
    int code = faults_run (f, &output, "repair", "--data", f->data, "--yes", NULL);
    print_message ("repair of %s (exit %d): %s", what, code, output);
    assert_int_equal (code, 2);
    assert_non_null (strstr (output, needle));
    assert_non_null (strstr (output, "nothing was changed"));
    assert_null (strstr (output, "repaired "));
    free (output);
}

//  `shoal repair` under a running node is refused and changes nothing:
//  the node's log and MANIFEST stay where they are, so what it
//  acknowledges afterwards is there after a restart (a repair used to move
//  them to lost/, and the later deposits were gone). A directory that
//  holds no store is refused too, and nothing is made in it.
static void test_repair_refused (void **state)
{
    fixture_t *f = *state;
    f->window = 1;
    faults_start (f, "sync");
    faults_add (f, "account/a", "Open", "owner=faults", NULL);
    faults_pump (f, NULL);
    for (int i = 0; i < 20; i++)
        faults_add_deposit (f);
    faults_pump (f, NULL);
    s_repair_refused (f, "a live node's data", "is in use by another process");
    char lost[400];
    snprintf (lost, sizeof lost, "%s/lost", f->data);
    assert_int_not_equal (access (lost, F_OK), 0);
    for (int i = 0; i < 20; i++) //  acknowledged after the refused repair
        faults_add_deposit (f);
    faults_pump (f, NULL);
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGKILL);
    faults_start (f, "sync"); //  its log replayed: every deposit there
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGTERM);
    assert_int_equal (f->acked, 40);
    assert_int_equal (faults_books (f, NULL), f->acked);

    char empty[400];
    snprintf (empty, sizeof empty, "%s/empty", f->dir);
    assert_int_equal (mkdir (empty, 0700), 0);
    char *output = NULL;
    int code = faults_run (f, &output, "repair", "--data", empty, "--yes", NULL);
    print_message ("repair of an empty directory (exit %d): %s", code, output);
    assert_int_equal (code, 2);
    assert_non_null (strstr (output, "holds no LevelDB store"));
    free (output);
    zdir_t *made = zdir_new (empty, NULL);
    assert_non_null (made);
    assert_int_equal (zdir_count (made), 0);
    zdir_destroy (&made);

    //  A directory with a CURRENT of garbage and nothing else: refused,
    //  changed in nothing (it made a new store of it, said "repaired",
    //  exit 0, and check found its empty books balanced).
    char current[480];
    snprintf (current, sizeof current, "%s/CURRENT", empty);
    FILE *file = fopen (current, "w");
    assert_non_null (file);
    fprintf (file, "x\n");
    fclose (file);
    code = faults_run (f, &output, "repair", "--data", empty, "--yes", NULL);
    print_message ("repair of a CURRENT alone (exit %d): %s", code, output);
    assert_int_equal (code, 2);
    assert_non_null (strstr (output, "holds no record of a shoal store"));
    assert_non_null (strstr (output, "nothing was changed"));
    free (output);
    made = zdir_new (empty, NULL);
    assert_non_null (made);
    assert_int_equal (zdir_count (made), 1);
    zdir_destroy (&made);
}

//  A node in async durability (it writes no SYNCED mark) whose one log
//  was deleted while it was stopped, before any table: its store held no
//  record, and the start marked it new, with another shard count, every
//  acknowledged account read as never opened (a review's find). Its SHOAL
//  file says a store was made here: refused, twice (nothing marked in
//  between), and the repair refuses to make an empty store of it.
static void test_async_log_lost_refused (void **state)
{
    fixture_t *f = *state;
    f->no_projections = true;
    faults_start (f, "async");
    faults_add (f, "account/a", "Open", "owner=faults", NULL);
    faults_pump (f, NULL);
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGTERM);
    char command[700];
    snprintf (command, sizeof command, "ls '%s' | grep -q '[.]ldb$'", f->data);
    assert_int_not_equal (system (command), 0); //  the records are in the log alone
    snprintf (command, sizeof command, "rm '%s'/*.log", f->data);
    assert_int_equal (system (command), 0);
    faults_refused (f, "holds no record, but its SHOAL file says a shoal store was made here",
                    "restore the directory from a backup", NULL);
    faults_refused (f, "holds no record, but its SHOAL file", NULL);
    char *output = NULL;
    int code = faults_run (f, &output, "repair", "--data", f->data, "--yes", NULL);
    print_message ("repair of a store whose records were lost (exit %d): %s", code, output);
    assert_int_equal (code, 2);
    assert_non_null (strstr (output, "refused: "));
    assert_non_null (strstr (output, "nothing was changed"));
    free (output);
    faults_refused (f, "holds no record, but its SHOAL file", NULL);
}

//  A digest of the data directory's listing (names, sizes, times), into
//  digest: another after a change to any file.
static void s_listing_digest (fixture_t *f, char *digest, size_t size)
{
    char command[800];
    snprintf (command, sizeof command, "cd '%s' && ls -l --time-style=+%%s | md5sum", f->data);
    FILE *listing = popen (command, "r");
    assert_non_null (listing);
    assert_non_null (fgets (digest, (int) size, listing));
    pclose (listing);
}

//  A store whose one table holds its metadata (the layout and the shard
//  count), that table cut short: a repair would salvage the records it
//  can read and leave a store no node opens (the metadata gone with the
//  table). It is refused, saying why, before anything is changed (it
//  said "repaired", exit 1, moved the table to lost/, and check and node
//  then refused the store).
static void test_repair_without_metadata_refused (void **state)
{
    fixture_t *f = *state;
    faults_fill_store (f, 100, SIGTERM);
    faults_start (f, "sync");    //  its log turned into a table (.ldb)
    for (int i = 0; i < 20; i++) //  in the next log: records a repair keeps
        faults_add_deposit (f);
    faults_pump (f, NULL);
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGTERM);
    char table[600];
    s_newest (f, ".ldb", table, sizeof table);
    struct stat st;
    assert_int_equal (stat (table, &st), 0);
    assert_int_equal (truncate (table, st.st_size / 3), 0);
    char before[64], after[64];
    s_listing_digest (f, before, sizeof before);
    s_repair_refused (f, "a store whose metadata's table is cut", "but not its metadata");
    s_listing_digest (f, after, sizeof after);
    assert_string_equal (before, after);
    char lost[640];
    snprintf (lost, sizeof lost, "%s/lost", f->data);
    assert_int_not_equal (access (lost, F_OK), 0);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_damaged_log, faults_setup, faults_teardown),
        cmocka_unit_test_setup_teardown (test_damaged_log_header, faults_setup, faults_teardown),
        cmocka_unit_test_setup_teardown (test_torn_log_end, faults_setup, faults_teardown),
        cmocka_unit_test_setup_teardown (test_repair_mark_removed_by_a_start, faults_setup,
                                         faults_teardown),
        cmocka_unit_test_setup_teardown (test_truncated_log, faults_setup, faults_teardown),
        cmocka_unit_test_setup_teardown (test_damaged_table, faults_setup, faults_teardown),
        cmocka_unit_test_setup_teardown (test_truncated_table_said, faults_setup, faults_teardown),
        cmocka_unit_test_setup_teardown (test_missing_current, faults_setup, faults_teardown),
        cmocka_unit_test_setup_teardown (test_read_only_directory, faults_setup, faults_teardown),
        cmocka_unit_test_setup_teardown (test_repair_refused, faults_setup, faults_teardown),
        cmocka_unit_test_setup_teardown (test_async_log_lost_refused, faults_setup,
                                         faults_teardown),
        cmocka_unit_test_setup_teardown (test_stream_gap, faults_setup, faults_teardown),
        cmocka_unit_test_setup_teardown (test_repair_without_metadata_refused, faults_setup,
                                         faults_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
