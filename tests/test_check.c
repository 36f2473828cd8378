/*  test_check.c - `shoal check`, through real processes: a `shoal node`
    on ipc:// in the test's own directory runs a completed, a failed and
    a compensated transfer, is stopped, and its books check out; then a
    second Debited is written into the source account's stream with the
    journal API and the check names the broken invariant. Also: a node
    still running, a directory with no journal, a store that lost its
    CURRENT file (damaged: exit 4, shoal repair), and the books of two
    journals that only hold together. A check leaves the store's files
    as they were (it reads a copy), on a full or read-only disk too.
*/
#include "books.h"
#include "client.h"
#include "journal.h"
#include "node_child.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <leveldb/c.h>
#include <msgpack.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

typedef struct {
    char dir[256];  //  the test's own directory
    char data[300]; //  the node's data directory, under dir
    char endpoint[300];
    char out[300];  //  where a `shoal check` writes stdout and stderr
    char disk[280]; //  a tmpfs mounted under dir, or ""
    node_child_t node;
} fixture_t;

static int s_setup (void **state)
{
    fixture_t *f = calloc (1, sizeof (fixture_t));
    assert_int_equal (bench_temp_dir ("shoal-test-check", f->dir, sizeof f->dir), 0);
    snprintf (f->data, sizeof f->data, "%s/data", f->dir);
    snprintf (f->endpoint, sizeof f->endpoint, "ipc://%s/node.ipc", f->dir);
    snprintf (f->out, sizeof f->out, "%s/check.out", f->dir);
    *state = f;
    return 0;
}

static int s_teardown (void **state)
{
    fixture_t *f = *state;
    node_child_stop (&f->node, SIGKILL);
    if (f->disk[0])
        umount2 (f->disk, MNT_DETACH);
    assert_int_equal (bench_remove_tree (f->dir), 0);
    free (f);
    return 0;
}

//  Runs `shoal COMMAND` with args (NULL-terminated) and waits for it, at
//  most 60 s. Returns its exit code; *output (to free) holds what it
//  printed on stdout and stderr.
static int s_shoal_v (const fixture_t *f, char **output, char *command, va_list args)
{
    char *argv[16] = {getenv ("SHOAL_BIN"), command};
    int argc = 2;
    for (char *arg = va_arg (args, char *); arg && argc < 15; arg = va_arg (args, char *))
        argv[argc++] = arg;
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        FILE *out = freopen (f->out, "w", stdout);
        if (!out || dup2 (STDOUT_FILENO, STDERR_FILENO) < 0)
            _exit (127);
        execv (argv[0], argv);
        _exit (127);
    }
    int status = 0;
    int64_t deadline = zclock_mono () + 60000;
    while (waitpid (pid, &status, WNOHANG) == 0) {
        if (zclock_mono () > deadline) {
            kill (pid, SIGKILL);
            waitpid (pid, &status, 0);
            fail_msg ("shoal check did not end within 60 s");
        }
        zclock_sleep (10);
    }
    zfile_t *file = zfile_new (NULL, f->out);
    assert_non_null (file);
    assert_int_equal (zfile_input (file), 0);
    zchunk_t *chunk = zfile_read (file, (size_t) zfile_cursize (file), 0);
    *output = zchunk_strdup (chunk);
    zchunk_destroy (&chunk);
    zfile_destroy (&file);
    assert_true (WIFEXITED (status));
    return WEXITSTATUS (status);
}

//  `shoal check` with args (NULL-terminated), as s_shoal_v.
static int s_check (const fixture_t *f, char **output, ...)
{
    va_list args;
    va_start (args, output);
    int rc = s_shoal_v (f, output, "check", args);
    va_end (args);
    return rc;
}

//  `shoal repair` with args (NULL-terminated), as s_shoal_v.
static int s_repair (const fixture_t *f, char **output, ...)
{
    va_list args;
    va_start (args, output);
    int rc = s_shoal_v (f, output, "repair", args);
    va_end (args);
    return rc;
}

//  Sends a command with "k=v" fields (NULL-terminated), asked again while
//  the node answers `busy` or `unavailable`, for at most 20 s. Fails the
//  test unless it is accepted.
static void s_accept (const fixture_t *f, const char *to, const char *name, ...)
{
    char *fields[8];
    int count = 0;
    va_list args;
    va_start (args, name);
    for (char *field = va_arg (args, char *); field && count < 8; field = va_arg (args, char *))
        fields[count++] = field;
    va_end (args);
    uint8_t *payload;
    size_t size;
    char error[128];
    assert_int_equal (client_fields (count, fields, &payload, &size, error, sizeof error), 0);
    envelope_t request;
    client_request (&request, ENVELOPE_COMMAND, NULL, to, name, payload, size);
    client_t *client = client_new (f->node.endpoint);
    assert_non_null (client);
    client_reply_t reply;
    int64_t deadline = zclock_mono () + 20000;
    while (true) {
        assert_int_equal (client_call (client, &request, 5000, &reply), 0);
        if (!client_reply_transient (&reply) || zclock_mono () > deadline)
            break;
        client_reply_close (&reply);
        zclock_sleep (20);
    }
    if (!reply.ok)
        fail_msg ("%s %s rejected: %s %s", to, name, reply.code, reply.reason);
    client_reply_close (&reply);
    client_destroy (&client);
    free (payload);
}

//  Polls transfer/ID until its status is terminal (at most 20 s); checks
//  it is expected.
static void s_wait_status (const fixture_t *f, const char *id, const char *expected)
{
    char address[SHOAL_ADDRESS_MAX + 1], status[32] = "";
    snprintf (address, sizeof address, "transfer/%s", id);
    client_t *client = client_new (f->node.endpoint);
    int64_t deadline = zclock_mono () + 20000;
    while (zclock_mono () < deadline) {
        envelope_t request;
        client_request (&request, ENVELOPE_QUERY, NULL, address, "get", NULL, 0);
        client_reply_t reply;
        if (client_call (client, &request, 5000, &reply) == 0) {
            bool got = reply.ok && reply_state_str (&reply, "status", status, sizeof status) == 0;
            client_reply_close (&reply);
            if (got && (strcmp (status, "completed") == 0 || strcmp (status, "failed") == 0 ||
                        strcmp (status, "compensated") == 0))
                break;
        }
        zclock_sleep (20);
    }
    client_destroy (&client);
    assert_string_equal (status, expected);
}

//  A node with three accounts and a transfer of each ending, left running.
static void s_run_bank (fixture_t *f)
{
    char *extra[] = {"--workers", "2", NULL};
    char log[300];
    snprintf (log, sizeof log, "%s/node.log", f->dir);
    assert_int_equal (
        node_child_start (&f->node, getenv ("SHOAL_BIN"), f->data, f->endpoint, extra, log, 20000),
        0);
    s_accept (f, "account/a", "Open", "owner=A", NULL);
    s_accept (f, "account/b", "Open", "owner=B", NULL);
    s_accept (f, "account/c", "Open", "owner=C", NULL);
    s_accept (f, "account/a", "Deposit", "amount=100", NULL);
    s_accept (f, "account/c", "Close", NULL);
    s_accept (f, "transfer/t1", "Start", "from=account/a", "to=account/b", "amount=30", NULL);
    s_accept (f, "transfer/t2", "Start", "from=account/a", "to=account/b", "amount=1000", NULL);
    s_accept (f, "transfer/t3", "Start", "from=account/a", "to=account/c", "amount=5", NULL);
    s_wait_status (f, "t1", "completed");
    s_wait_status (f, "t2", "failed");
    s_wait_status (f, "t3", "compensated");
}

//  Collects the Debited events of one transfer in an account's stream.
typedef struct {
    const char *transfer;
    size_t count;
    uint8_t data[256]; //  the last one's data
    size_t size;
} debits_t;

static int s_find_debit (void *arg, int64_t seq, const char *name, const uint8_t *data, size_t size,
                         int64_t created)
{
    debits_t *debits = arg;
    char transfer[SHOAL_ID_MAX + 1];
    if (strcmp (name, "Debited") == 0 &&
        map_str (data, size, "transfer", transfer, sizeof transfer) == 0 &&
        strcmp (transfer, debits->transfer) == 0 && size <= sizeof debits->data) {
        debits->count++;
        memcpy (debits->data, data, size);
        debits->size = size;
    }
    return 0;
}

static journal_t *s_open (const char *dir)
{
    int code = 0;
    char *error = NULL;
    journal_t *journal = journal_open (dir, NULL, &code, &error);
    if (!journal)
        fail_msg ("journal_open %s: %s", dir, error ? error : "");
    return journal;
}

//  The example: a bank run checks out; a second debit of t1 breaks `once`.
static void test_check_books (void **state)
{
    fixture_t *f = *state;
    s_run_bank (f);
    char *output = NULL;
    //  A running node holds its journal: nothing to read yet.
    assert_int_equal (s_check (f, &output, "--data", f->data, NULL), 2);
    assert_non_null (strstr (output, "stop the node first"));
    free (output);
    assert_int_equal (node_child_stop (&f->node, SIGTERM), 0);

    int rc = s_check (f, &output, "--data", f->data, NULL);
    if (rc != 0)
        fail_msg ("shoal check exited %d:\n%s", rc, output);
    assert_non_null (strstr (output, "completed 1, failed 1, compensated 1, unfinished 0"));
    assert_non_null (strstr (output, "total balance       100"));
    assert_null (strstr (output, "BROKEN"));
    free (output);

    //  A second Debited of t1 in the source account's stream.
    journal_t *journal = s_open (f->data);
    debits_t debits = {.transfer = "t1"};
    assert_int_equal (journal_read (journal, "account/a", 1, 0, s_find_debit, &debits), 0);
    assert_int_equal (debits.count, 1);
    journal_batch_t *batch = journal_batch_new (journal);
    journal_event_t event = {"Debited", debits.data, debits.size};
    assert_int_equal (
        journal_batch_append (batch, "account/a", JOURNAL_ANY, &event, 1, zclock_time (), NULL), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);
    journal_destroy (&journal);

    assert_int_equal (s_check (f, &output, "--data", f->data, NULL), 1);
    assert_non_null (strstr (output, "invariant 'once' broken: transfer/t1 was debited 2"));
    assert_non_null (strstr (output, "once           BROKEN"));
    free (output);
    assert_int_equal (s_check (f, &output, "--data", f->data, "--json", NULL), 1);
    assert_non_null (strstr (output, "\"once\":{\"ok\":false,\"broken\":1"));
    assert_non_null (strstr (output, "\"ok\":false}"));
    free (output);
}

//  What dir holds, one line a file: name, inode, size, mtime (ns) and
//  links, sorted by name, into text (at most size bytes).
static void s_listing (const char *dir, char *text, size_t size)
{
    struct dirent **entries = NULL;
    int n = scandir (dir, &entries, NULL, alphasort);
    assert_true (n >= 0);
    size_t used = 0;
    text[0] = 0;
    for (int i = 0; i < n; i++) {
        char path[600];
        struct stat info;
        snprintf (path, sizeof path, "%s/%s", dir, entries[i]->d_name);
        if (strcmp (entries[i]->d_name, ".") != 0 && strcmp (entries[i]->d_name, "..") != 0 &&
            lstat (path, &info) == 0 && used < size)
            used += (size_t) snprintf (text + used, size - used, "%s %lu %lld %lld.%09ld %lu\n",
                                       entries[i]->d_name, (unsigned long) info.st_ino,
                                       (long long) info.st_size, (long long) info.st_mtim.tv_sec,
                                       info.st_mtim.tv_nsec, (unsigned long) info.st_nlink);
        free (entries[i]);
    }
    free (entries);
    assert_true (used < size);
}

//  The store is left as it was: check reads a copy. A node SIGKILLed
//  leaves its last writes in LevelDB's log, which an open of the store
//  itself turned into a table (a new log, a new MANIFEST, the old one
//  deleted). A copy a killed check left in the store is removed.
static void test_check_leaves_store (void **state)
{
    fixture_t *f = *state;
    s_run_bank (f);
    assert_int_equal (node_child_stop (&f->node, SIGKILL), SIGKILL);
    char stale[400], stale_file[420];
    snprintf (stale, sizeof stale, "%s/.shoal-check-AbC123", f->data);
    snprintf (stale_file, sizeof stale_file, "%s/000001.ldb", stale);

    char before[8192], after[8192];
    s_listing (f->data, before, sizeof before);
    assert_non_null (strstr (before, ".log "));
    char *output = NULL;
    int rc = s_check (f, &output, "--data", f->data, NULL);
    if (rc != 0)
        fail_msg ("shoal check exited %d:\n%s", rc, output);
    assert_non_null (strstr (output, "completed 1, failed 1, compensated 1, unfinished 0"));
    free (output);
    s_listing (f->data, after, sizeof after);
    assert_string_equal (before, after);

    //  A copy left behind by a check that was killed: removed by the next.
    assert_int_equal (zsys_dir_create ("%s", stale), 0);
    FILE *file = fopen (stale_file, "w");
    assert_non_null (file);
    assert_int_equal (fclose (file), 0);
    assert_int_equal (s_check (f, &output, "--data", f->data, "--json", NULL), 0);
    free (output);
    assert_false (zsys_file_exists (stale));
    s_listing (f->data, after, sizeof after);
    assert_string_equal (before, after);

    //  One another check still uses (two checks share the LOCK's read
    //  lock; each holds an flock on its copy) is left alone: the first
    //  removed the second's, whose LevelDB then failed on a table gone.
    assert_int_equal (zsys_dir_create ("%s", stale), 0);
    int held = open (stale, O_RDONLY | O_DIRECTORY);
    assert_true (held >= 0);
    assert_int_equal (flock (held, LOCK_EX), 0);
    assert_int_equal (s_check (f, &output, "--data", f->data, NULL), 0);
    free (output);
    assert_true (zsys_file_exists (stale));
    close (held);
    //  A node's start removes what no check uses any more.
    assert_int_equal (
        node_child_start (&f->node, getenv ("SHOAL_BIN"), f->data, f->endpoint, NULL, NULL, 30000),
        0);
    assert_false (zsys_file_exists (stale));
    assert_int_equal (node_child_stop (&f->node, SIGTERM), 0);

    //  A table moved to another disk and linked back: copied, where it
    //  was passed over and the store called damaged.
    char table[600] = "", moved[400];
    struct dirent **entries = NULL;
    int n = scandir (f->data, &entries, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        size_t len = strlen (entries[i]->d_name);
        if (!table[0] && len > 4 && strcmp (entries[i]->d_name + len - 4, ".ldb") == 0)
            snprintf (table, sizeof table, "%s/%s", f->data, entries[i]->d_name);
        free (entries[i]);
    }
    free (entries);
    assert_true (table[0]);
    snprintf (moved, sizeof moved, "%s/moved.ldb", f->dir);
    assert_int_equal (rename (table, moved), 0);
    assert_int_equal (symlink (moved, table), 0);
    rc = s_check (f, &output, "--data", f->data, NULL);
    if (rc != 0)
        fail_msg ("shoal check with a linked table exited %d:\n%s", rc, output);
    assert_non_null (strstr (output, "completed 1, failed 1, compensated 1, unfinished 0"));
    free (output);
}

//  A store on a full disk, or on one mounted read-only (when a check is
//  wanted most), is copied under $TMPDIR rather than beside itself, and
//  nothing in it changes. The disk is a 16 MiB tmpfs, which needs root
//  (CI runs the tests as root): read-only holds for root too.
static void test_check_full_or_read_only (void **state)
{
    fixture_t *f = *state;
    snprintf (f->disk, sizeof f->disk, "%s/disk", f->dir);
    assert_int_equal (zsys_dir_create ("%s", f->disk), 0);
    if (mount ("tmpfs", f->disk, "tmpfs", 0, "size=16m") != 0) {
        int error = errno;
        f->disk[0] = 0;
        fail_msg ("cannot mount a tmpfs: %s; this test needs root (uid %d here), as in CI",
                  strerror (error), (int) getuid ());
    }
    snprintf (f->data, sizeof f->data, "%s/data", f->disk);
    s_run_bank (f);
    assert_int_equal (node_child_stop (&f->node, SIGKILL), SIGKILL);
    //  The disk filled to its last byte, beside the store.
    char filler[400];
    snprintf (filler, sizeof filler, "%s/filler", f->disk);
    int fd = open (filler, O_WRONLY | O_CREAT, 0600);
    assert_true (fd >= 0);
    static char block[65536];
    for (size_t chunk = sizeof block; chunk > 0; chunk /= 2)
        while (write (fd, block, chunk) == (ssize_t) chunk)
            ;
    assert_int_equal (errno, ENOSPC);
    close (fd);
    char tmp[400], before[8192], after[8192];
    snprintf (tmp, sizeof tmp, "%s/tmp", f->dir);
    assert_int_equal (zsys_dir_create ("%s", tmp), 0);
    char *was = getenv ("TMPDIR") ? strdup (getenv ("TMPDIR")) : NULL;
    setenv ("TMPDIR", tmp, 1);
    s_listing (f->data, before, sizeof before);
    for (int read_only = 0; read_only < 2; read_only++) {
        if (read_only)
            assert_int_equal (mount (NULL, f->disk, NULL, MS_REMOUNT | MS_RDONLY, NULL), 0);
        char *output = NULL;
        int rc = s_check (f, &output, "--data", f->data, NULL);
        if (rc != 0)
            fail_msg ("shoal check on a %s disk exited %d:\n%s", read_only ? "read-only" : "full",
                      rc, output);
        assert_non_null (strstr (output, "completed 1, failed 1, compensated 1, unfinished 0"));
        free (output);
        s_listing (f->data, after, sizeof after);
        assert_string_equal (before, after);
        //  Its copy under $TMPDIR, removed.
        s_listing (tmp, after, sizeof after);
        assert_string_equal (after, "");
    }
    if (was)
        setenv ("TMPDIR", was, 1);
    else
        unsetenv ("TMPDIR");
    free (was);
}

//  Bad usage and a directory that holds no journal (none at all, or other
//  files named like LevelDB's): exit 2, and no journal is made where
//  there was none.
static void test_check_usage (void **state)
{
    fixture_t *f = *state;
    char *output = NULL;
    assert_int_equal (s_check (f, &output, NULL), 2);
    assert_non_null (strstr (output, "--data DIR is required"));
    free (output);
    assert_int_equal (s_check (f, &output, "--data", f->data, NULL), 2);
    assert_non_null (strstr (output, "holds no shoal journal"));
    free (output);
    assert_false (zsys_file_exists (f->data));
    //  A directory that is there, with no store in it: the same.
    assert_int_equal (zsys_dir_create ("%s", f->data), 0);
    assert_int_equal (s_check (f, &output, "--data", f->data, NULL), 2);
    assert_non_null (strstr (output, "holds no shoal journal"));
    free (output);
    char current[400];
    snprintf (current, sizeof current, "%s/CURRENT", f->data);
    assert_false (zsys_file_exists (current));
    //  A directory of an application's logs (app.log) holds no store
    //  either: LevelDB names its logs 000003.log. They were taken for a
    //  store's files, check said it was damaged (exit 4) and repair made
    //  a store among them.
    char log[400];
    snprintf (log, sizeof log, "%s/app.log", f->data);
    FILE *file = fopen (log, "w");
    assert_non_null (file);
    fprintf (file, "not a LevelDB log\n");
    fclose (file);
    assert_int_equal (s_check (f, &output, "--data", f->data, NULL), 2);
    if (!strstr (output, "holds no shoal journal"))
        fail_msg ("check of a directory holding app.log: %s", output);
    free (output);
    assert_int_equal (s_repair (f, &output, "--data", f->data, "--yes", NULL), 2);
    if (!strstr (output, "holds no LevelDB store"))
        fail_msg ("repair of a directory holding app.log: %s", output);
    free (output);
    assert_false (zsys_file_exists (current));
    assert_int_equal (unlink (log), 0);
    assert_int_equal (s_check (f, &output, "--help", NULL), 0);
    assert_non_null (strstr (output, "shoal check --data"));
    free (output);
    //  One directory given twice, by another name: its accounts would be
    //  counted twice, the sums wrong and every invariant "ok".
    char again[400];
    snprintf (again, sizeof again, "%s/.", f->data);
    assert_int_equal (s_check (f, &output, "--data", f->data, "--data", again, NULL), 2);
    assert_non_null (strstr (output, "are the same directory"));
    free (output);
}

//  A real node's store that lost its CURRENT file, or has a corrupt one:
//  a damaged store (exit 4, pointing to shoal repair), not "no journal";
//  nothing is made there, and after the repair the books check out.
static void test_check_damaged (void **state)
{
    fixture_t *f = *state;
    s_run_bank (f);
    assert_int_equal (node_child_stop (&f->node, SIGTERM), 0);
    char current[400], repair[400];
    snprintf (current, sizeof current, "%s/CURRENT", f->data);
    snprintf (repair, sizeof repair, "`shoal repair --data %s`", f->data);
    assert_int_equal (unlink (current), 0);

    char *output = NULL;
    assert_int_equal (s_check (f, &output, "--data", f->data, NULL), 4);
    assert_null (strstr (output, "holds no shoal journal"));
    if (!strstr (output, "has no CURRENT file") || !strstr (output, repair))
        fail_msg ("expected a damaged store and %s in: %s", repair, output);
    free (output);
    assert_false (zsys_file_exists (current)); //  no new store made over it
    assert_int_equal (s_check (f, &output, "--data", f->data, "--json", NULL), 4);
    free (output);

    //  A CURRENT that names no manifest.
    FILE *file = fopen (current, "w");
    assert_non_null (file);
    fputs ("MANIFEST-999999\n", file);
    assert_int_equal (fclose (file), 0);
    assert_int_equal (s_check (f, &output, "--data", f->data, NULL), 4);
    if (!strstr (output, "damaged") || !strstr (output, repair))
        fail_msg ("expected a damaged store and %s in: %s", repair, output);
    free (output);

    //  What the message points to works: repaired, the books hold.
    assert_int_equal (unlink (current), 0);
    int rc = s_repair (f, &output, "--data", f->data, "--yes", NULL);
    if (rc != 0)
        fail_msg ("shoal repair exited %d:\n%s", rc, output);
    free (output);
    rc = s_check (f, &output, "--data", f->data, NULL);
    if (rc != 0)
        fail_msg ("shoal check after the repair exited %d:\n%s", rc, output);
    assert_non_null (strstr (output, "completed 1, failed 1, compensated 1, unfinished 0"));
    free (output);
    assert_int_equal (s_check (f, &output, "--help", NULL), 0);
    assert_non_null (strstr (output, "4 a store that is damaged"));
    free (output);
}

//  What dir holds, byte for byte: s_listing's line for each entry, with
//  the FNV-1a hash of a file's bytes, into text (at most size bytes).
static void s_contents (const char *dir, char *text, size_t size)
{
    char listing[8192];
    s_listing (dir, listing, sizeof listing);
    size_t used = (size_t) snprintf (text, size, "%s", listing);
    struct dirent **entries = NULL;
    int n = scandir (dir, &entries, NULL, alphasort);
    assert_true (n >= 0);
    for (int i = 0; i < n; i++) {
        char path[600];
        snprintf (path, sizeof path, "%s/%s", dir, entries[i]->d_name);
        FILE *file = entries[i]->d_type == DT_REG ? fopen (path, "rb") : NULL;
        uint64_t hash = 14695981039346656037ull;
        for (int c; file && (c = fgetc (file)) != EOF;)
            hash = (hash ^ (uint8_t) c) * 1099511628211ull;
        if (file && used < size)
            used += (size_t) snprintf (text + used, size - used, "%s %016llx\n", entries[i]->d_name,
                                       (unsigned long long) hash);
        if (file)
            fclose (file);
        free (entries[i]);
    }
    free (entries);
    assert_true (used < size);
}

//  Another program's LevelDB store in dir: keys of its own, in a table
//  and in a log (two opens).
static void s_foreign_store (const char *dir)
{
    for (int open = 0; open < 2; open++) {
        leveldb_options_t *options = leveldb_options_create ();
        leveldb_options_set_create_if_missing (options, 1);
        leveldb_writeoptions_t *write = leveldb_writeoptions_create ();
        char *err = NULL;
        leveldb_t *db = leveldb_open (options, dir, &err);
        if (!db)
            fail_msg ("leveldb_open %s: %s", dir, err);
        for (int i = 0; i < 100 && !err; i++) {
            char key[32], value[64];
            snprintf (key, sizeof key, "user:%d:%d", open, i);
            snprintf (value, sizeof value, "{\"name\":\"user %d\"}", i);
            leveldb_put (db, write, key, strlen (key), value, strlen (value), &err);
        }
        assert_null (err);
        leveldb_close (db);
        leveldb_writeoptions_destroy (write);
        leveldb_options_destroy (options);
    }
}

//  `shoal repair` of a directory that holds no shoal store is refused
//  (exit 2) before its warning, and changes nothing: one that does not
//  exist, an empty one, a file, and another program's LevelDB store, whole
//  or damaged (no CURRENT: a copy of it is repaired to read its keys). It
//  was repaired: rebuilt by LevelDB, its logs moved to lost/.
static void test_repair_refuses (void **state)
{
    fixture_t *f = *state;
    char *output = NULL;
    assert_int_equal (s_repair (f, &output, "--data", f->data, "--yes", NULL), 2);
    if (!strstr (output, "does not exist: nothing to repair") || strstr (output, "WARNING"))
        fail_msg ("expected a refusal of a directory that does not exist: %s", output);
    free (output);
    assert_false (zsys_file_exists (f->data));

    assert_int_equal (zsys_dir_create ("%s", f->data), 0);
    assert_int_equal (s_repair (f, &output, "--data", f->data, "--yes", NULL), 2);
    if (!strstr (output, "holds no LevelDB store") || strstr (output, "WARNING"))
        fail_msg ("expected a refusal of an empty directory: %s", output);
    free (output);
    char empty[8192];
    s_listing (f->data, empty, sizeof empty);
    assert_string_equal (empty, "");

    char file[400];
    snprintf (file, sizeof file, "%s/a-file", f->dir);
    FILE *made = fopen (file, "w");
    assert_non_null (made);
    assert_int_equal (fclose (made), 0);
    assert_int_equal (s_repair (f, &output, "--data", file, "--yes", NULL), 2);
    if (!strstr (output, "is not a directory") || strstr (output, "WARNING"))
        fail_msg ("expected a refusal of a file: %s", output);
    free (output);

    s_foreign_store (f->data);
    char before[16384], after[16384], current[400];
    snprintf (current, sizeof current, "%s/CURRENT", f->data);
    for (int damaged = 0; damaged < 2; damaged++) {
        if (damaged)
            assert_int_equal (unlink (current), 0);
        s_contents (f->data, before, sizeof before);
        assert_int_equal (s_repair (f, &output, "--data", f->data, "--yes", NULL), 2);
        if (!strstr (output, "is a LevelDB store but not shoal's") ||
            !strstr (output, "nothing was changed") || strstr (output, "WARNING") ||
            strstr (output, ".shoal-check-"))
            fail_msg ("expected a refusal of another program's store%s: %s",
                      damaged ? " without CURRENT" : "", output);
        free (output);
        s_contents (f->data, after, sizeof after);
        assert_string_equal (before, after);
    }
}

//  Appends one event {"transfer": transfer, "amount": amount} (either may
//  be absent: NULL, 0) named name to stream.
static void s_append (journal_t *journal, const char *stream, const char *name,
                      const char *transfer, int64_t amount)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, (transfer ? 1 : 0) + (amount ? 1 : 0));
    if (transfer) {
        msgpack_pack_str_with_body (&pk, "transfer", 8);
        msgpack_pack_str_with_body (&pk, transfer, strlen (transfer));
    }
    if (amount) {
        msgpack_pack_str_with_body (&pk, "amount", 6);
        msgpack_pack_int64 (&pk, amount);
    }
    journal_batch_t *batch = journal_batch_new (journal);
    journal_event_t event = {name, (const uint8_t *) buffer.data, buffer.size};
    assert_int_equal (journal_batch_append (batch, stream, JOURNAL_ANY, &event, 1, 1000, NULL), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);
    msgpack_sbuffer_destroy (&buffer);
}

//  A cluster's books: the accounts on one node, the transfer on another.
//  Each journal alone breaks an invariant; the two together hold.
static void test_check_two_nodes (void **state)
{
    fixture_t *f = *state;
    char accounts[300], transfers[300];
    snprintf (accounts, sizeof accounts, "%s/node1", f->dir);
    snprintf (transfers, sizeof transfers, "%s/node2", f->dir);
    journal_t *journal = s_open (accounts);
    s_append (journal, "account/a", "Opened", NULL, 0);
    s_append (journal, "account/a", "Deposited", NULL, 100);
    s_append (journal, "account/a", "Debited", "x", 30);
    s_append (journal, "account/b", "Opened", NULL, 0);
    s_append (journal, "account/b", "Credited", "x", 30);
    assert_int_equal (journal_meta_put (journal, "owner", "bank/n1"), 0);
    journal_destroy (&journal);
    journal = s_open (transfers);
    s_append (journal, "transfer/x", "Started", NULL, 30);
    s_append (journal, "transfer/x", "Debited", NULL, 0);
    s_append (journal, "transfer/x", "Completed", NULL, 0);
    assert_int_equal (journal_meta_put (journal, "owner", "bank/n2"), 0);
    journal_destroy (&journal);

    //  One node's store alone: broken, and said to be one node's of a
    //  cluster (the store knows it), whose books hold over all of them.
    char *output = NULL;
    assert_int_equal (s_check (f, &output, "--data", accounts, NULL), 1);
    assert_non_null (strstr (output, "invariant 'terminal' broken: transfer/x is not terminal"));
    assert_non_null (strstr (output, "these stores are node n1 of cluster bank: a transfer"));
    free (output);
    assert_int_equal (s_check (f, &output, "--data", transfers, NULL), 1);
    assert_non_null (strstr (output, "invariant 'legs' broken: transfer/x completed without"));
    free (output);
    int rc = s_check (f, &output, "--data", accounts, "--data", transfers, NULL);
    if (rc != 0)
        fail_msg ("shoal check exited %d:\n%s", rc, output);
    assert_non_null (strstr (output, "accounts              2"));
    assert_null (strstr (output, "these stores are"));
    free (output);

    //  The same books, read in-process: the transfer's Debited (in its own
    //  stream) is not a debit of money.
    books_t *books = books_new ();
    assert_int_equal (books_read_dir (books, accounts, NULL), 0);
    assert_int_equal (books_read_dir (books, transfers, NULL), 0);
    const books_transfer_t *x = books_transfer (books, "x");
    assert_non_null (x);
    assert_int_equal (x->debits, 1);
    assert_int_equal (x->credits, 1);
    assert_string_equal (x->last, "Completed");
    assert_int_equal (books_account (books, "account/a")->balance, 70);
    books_summary_t summary;
    assert_int_equal (books_verify (books, &summary), 0);
    assert_int_equal (summary.total, 100);
    assert_int_equal (summary.completed, 1);
    books_destroy (&books);
}

//  An overdraft: the journal alone shows a balance below it.
static void test_check_overdraft (void **state)
{
    fixture_t *f = *state;
    journal_t *journal = s_open (f->data);
    s_append (journal, "account/a", "Opened", NULL, 0);
    s_append (journal, "account/a", "Withdrawn", NULL, 5);
    journal_destroy (&journal);
    char *output = NULL;
    assert_int_equal (s_check (f, &output, "--data", f->data, NULL), 1);
    assert_non_null (
        strstr (output, "invariant 'overdraft' broken: account/a went to -5 at seq 2"));
    assert_non_null (strstr (output, "money          ok"));
    free (output);
}

//  A node stopped between a transfer's debit and its credit: the money is
//  in flight, not lost. terminal says the transfer is unfinished; money
//  counts the debit in flight and holds (it was called broken too, which
//  alarms for nothing). Money made from nothing beside it still breaks it.
static void test_check_in_flight (void **state)
{
    fixture_t *f = *state;
    journal_t *journal = s_open (f->data);
    s_append (journal, "account/a", "Opened", NULL, 0);
    s_append (journal, "account/a", "Deposited", NULL, 100);
    s_append (journal, "account/b", "Opened", NULL, 0);
    s_append (journal, "transfer/t1", "Started", NULL, 0);
    s_append (journal, "account/a", "Debited", "t1", 30);
    journal_destroy (&journal);
    char *output = NULL;
    assert_int_equal (s_check (f, &output, "--data", f->data, NULL), 1);
    assert_non_null (strstr (output, "invariant 'terminal' broken: transfer/t1 is not terminal"));
    assert_non_null (strstr (output, "money          ok"));
    assert_non_null (strstr (output, "in flight            30"));
    free (output);
    assert_int_equal (s_check (f, &output, "--data", f->data, "--json", NULL), 1);
    assert_non_null (strstr (output, "\"total_balance\":70,\"in_flight\":30,"));
    free (output);
    //  Money made from nothing (a credit of no debit): broken, whatever is
    //  in flight.
    journal = s_open (f->data);
    s_append (journal, "account/b", "Credited", "t9", 1);
    journal_destroy (&journal);
    assert_int_equal (s_check (f, &output, "--data", f->data, NULL), 1);
    assert_non_null (strstr (output, "money          BROKEN"));
    free (output);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_check_books, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_check_leaves_store, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_check_full_or_read_only, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_check_usage, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_check_damaged, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_repair_refuses, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_check_two_nodes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_check_overdraft, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_check_in_flight, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
