/*  test_faults.c - storage faults injected from outside a real `shoal
    node`: a full disk (the data directory on an 8 MiB tmpfs, filled by a
    file of the test's), with service coming back without a restart and
    after a SIGKILL; and stores damaged while the node is stopped (bytes
    flipped in the log and in a table file, a missing CURRENT, a read-only
    directory), each refused with a message and a non-zero exit, then
    salvaged by `shoal repair` and counted by `shoal check`.

    A client sends deposits of 1, each with its own id, asking again with
    the same id while the node answers `unavailable`, as a client should;
    it counts what was acknowledged. The balance after must equal that
    count: nothing acknowledged lost, nothing done twice.

    The tmpfs needs root (CI runs the tests as root); without it the test
    fails saying so, it is never skipped.
*/
#include "books.h"
#include "client.h"
#include "node_child.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define WAIT_MS 30000 //  the longest any condition is waited for

typedef struct {
    char dir[256];      //  the test's own directory
    char disk[300];     //  a tmpfs mounted under dir (full-disk tests)
    char data[320];     //  the node's data directory
    char endpoint[320]; //  ipc:// in dir
    char log[320];      //  the node's stderr
    char out[320];      //  a command's stdout and stderr
    bool mounted;
    node_child_t node;
    client_t *client;
    int next_id;     //  deposits sent so far (each its own id)
    int64_t acked;   //  deposits acknowledged
    int64_t refused; //  `unavailable` answers seen
    bool no_projections; //  start the node with --projections off
} fixture_t;

static int s_setup (void **state)
{
    fixture_t *f = calloc (1, sizeof (fixture_t));
    assert_int_equal (bench_temp_dir ("shoal-test-faults", f->dir, sizeof f->dir), 0);
    snprintf (f->disk, sizeof f->disk, "%s/disk", f->dir);
    snprintf (f->data, sizeof f->data, "%s/data", f->dir);
    snprintf (f->endpoint, sizeof f->endpoint, "ipc://%s/node.ipc", f->dir);
    snprintf (f->log, sizeof f->log, "%s/node.log", f->dir);
    snprintf (f->out, sizeof f->out, "%s/cmd.out", f->dir);
    *state = f;
    return 0;
}

static int s_teardown (void **state)
{
    fixture_t *f = *state;
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGKILL);
    if (f->mounted)
        umount2 (f->disk, MNT_DETACH);
    assert_int_equal (bench_remove_tree (f->dir), 0);
    free (f);
    return 0;
}

//  Mounts an 8 MiB tmpfs at f->disk and puts the data directory in it.
static void s_mount_small_disk (fixture_t *f)
{
    assert_int_equal (mkdir (f->disk, 0700), 0);
    if (mount ("tmpfs", f->disk, "tmpfs", 0, "size=8m") != 0)
        fail_msg ("cannot mount a tmpfs at %s: %s; this test needs root (uid %d here), as "
                  "in CI: it is not skipped",
                  f->disk, strerror (errno), (int) getuid ());
    f->mounted = true;
    snprintf (f->data, sizeof f->data, "%s/data", f->disk);
}

static void s_start (fixture_t *f, const char *durability)
{
    char *extra[] = {"--workers", "2", "--durability", (char *) durability, "--projections",
                     f->no_projections ? "off" : "on", NULL};
    int rc = node_child_start (&f->node, getenv ("SHOAL_BIN"), f->data, f->endpoint, extra, f->log,
                               WAIT_MS);
    if (rc)
        fail_msg ("shoal node did not start: %s (see %s)", shoal_strerror (rc), f->log);
    client_destroy (&f->client);
    f->client = client_new (f->node.endpoint);
    assert_non_null (f->client);
}

//  Sends deposit number index (amount 1 to account/a) once and waits for
//  its answer. Returns 1 acknowledged, 0 `unavailable`; fails the test on
//  silence or any other answer.
static int s_deposit_once (fixture_t *f, int index)
{
    char text[64];
    snprintf (text, sizeof text, "faults-deposit-%d", index);
    uint8_t id[ENVELOPE_ID_SIZE];
    client_id_from_string (text, id);
    char *deposit[] = {"amount=1"}, *open[] = {"owner=faults"};
    uint8_t *payload;
    size_t size;
    char error[128];
    assert_int_equal (
        client_fields (1, index < 0 ? open : deposit, &payload, &size, error, sizeof error), 0);
    envelope_t request;
    client_request (&request, ENVELOPE_COMMAND, id, "account/a", index < 0 ? "Open" : "Deposit",
                    payload, size);
    client_reply_t reply;
    int rc = client_call (f->client, &request, 10000, &reply);
    free (payload);
    if (rc)
        fail_msg ("deposit %d: no answer (%s): a node must answer, not fall silent", index,
                  shoal_strerror (rc));
    int result = reply.ok ? 1 : 0;
    char refusal[600] = "";
    if (!reply.ok && strcmp (reply.code, "unavailable") != 0)
        snprintf (refusal, sizeof refusal, "%s %s", reply.code, reply.reason);
    if (!reply.ok)
        f->refused++;
    client_reply_close (&reply);
    if (*refusal)
        fail_msg ("deposit %d refused: %s", index, refusal);
    return result;
}

//  Sends the next deposit, asking again with the same id until it is
//  acknowledged (at most WAIT_MS), and counts it.
static void s_deposit (fixture_t *f)
{
    int index = f->next_id++;
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (s_deposit_once (f, index) == 0) {
        if (zclock_mono () > deadline)
            fail_msg ("deposit %d: still unavailable after %d ms", index, WAIT_MS);
        zclock_sleep (20);
    }
    f->acked++;
}

//  Fills the disk under f->disk with a file of the test's. Returns its path.
static void s_fill (fixture_t *f, char *path, size_t size)
{
    snprintf (path, size, "%s/filler", f->disk);
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true (fd >= 0);
    static char block[4096];
    while (write (fd, block, sizeof block) > 0)
        ;
    while (write (fd, block, 1) > 0)
        ;
    assert_int_equal (errno, ENOSPC);
    close (fd);
}

//  The balance of account/a in the stopped node's books, with every
//  invariant of the bank holding.
static int64_t s_books_balance (fixture_t *f)
{
    books_t *books = books_new ();
    char *error = NULL;
    if (books_read_dir (books, f->data, &error) != 0)
        fail_msg ("cannot read the books in %s: %s", f->data, error ? error : "");
    books_summary_t summary;
    assert_int_equal (books_verify (books, &summary), 0);
    const books_account_t *account = books_account (books, "account/a");
    int64_t balance = account ? account->balance : 0;
    books_destroy (&books);
    return balance;
}

//  The full-disk run: deposits, the disk filled until the node answers
//  `unavailable`, the filler deleted, more deposits, all acknowledged
//  without a restart. With restart, the node is then SIGKILLed and
//  restarted, and the deposits go on.
static void s_full_disk (fixture_t *f, bool restart)
{
    s_mount_small_disk (f);
    s_start (f, "sync");
    while (s_deposit_once (f, -1) == 0) //  Open, the first time only
        zclock_sleep (20);
    for (int i = 0; i < 50; i++)
        s_deposit (f);

    char filler[400];
    s_fill (f, filler, sizeof filler);
    //  The disk is full: within at most 200 deposits, one is refused.
    int sent = 0;
    while (f->refused == 0 && sent++ < 200) {
        int index = f->next_id++;
        if (s_deposit_once (f, index) == 1)
            f->acked++;
        else
            f->next_id--; //  asked again below, with the same id
    }
    assert_true (f->refused > 0);
    //  Still full: it keeps answering, and keeps refusing.
    int64_t refused = f->refused;
    assert_int_equal (s_deposit_once (f, f->next_id), 0);
    assert_true (f->refused > refused);

    assert_int_equal (unlink (filler), 0);
    for (int i = 0; i < 50; i++)
        s_deposit (f);
    if (restart) {
        node_child_stop (&f->node, SIGKILL);
        s_start (f, "sync");
        for (int i = 0; i < 10; i++)
            s_deposit (f);
    }
    node_child_stop (&f->node, SIGTERM);
    print_message ("%lld deposits acknowledged, %lld unavailable answers\n", (long long) f->acked,
                   (long long) f->refused);
    assert_int_equal (s_books_balance (f), f->acked);
}

static void test_full_disk_service_back (void **state)
{
    s_full_disk (*state, false);
}

static void test_full_disk_then_restart (void **state)
{
    s_full_disk (*state, true);
}

//  --------------------------------------------------------------------------
//  Damaged stores

//  Runs the shoal binary with args (NULL-terminated) to its end, at most
//  60 s, stdin from /dev/null. Returns its exit code (fails the test if it
//  did not exit by itself); *output (to free) holds its stdout and stderr.
static int s_run (fixture_t *f, char **output, ...)
{
    char *argv[16] = {getenv ("SHOAL_BIN")};
    int argc = 1;
    va_list args;
    va_start (args, output);
    for (char *arg = va_arg (args, char *); arg && argc < 15; arg = va_arg (args, char *))
        argv[argc++] = arg;
    va_end (args);
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        int in = open ("/dev/null", O_RDONLY);
        if (in < 0 || dup2 (in, STDIN_FILENO) < 0 || !freopen (f->out, "w", stdout) ||
            dup2 (STDOUT_FILENO, STDERR_FILENO) < 0)
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
            fail_msg ("shoal %s did not end within 60 s (a node started on a damaged store?)",
                      argv[1]);
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

//  A node started on f->data must refuse it: a non-zero exit and a message
//  that holds each of the words (NULL-terminated).
static void s_refused (fixture_t *f, ...)
{
    char *output = NULL;
    int code = s_run (f, &output, "node", "--data", f->data, "--endpoint", f->endpoint, NULL);
    print_message ("refused (exit %d): %s", code, output);
    assert_int_not_equal (code, 0);
    va_list args;
    va_start (args, f);
    for (const char *word = va_arg (args, const char *); word; word = va_arg (args, const char *))
        if (!strstr (output, word)) {
            va_end (args);
            fail_msg ("the node's message lacks '%s': %s", word, output);
        }
    va_end (args);
    free (output);
}

//  `shoal repair --yes` and then `shoal check` on f->data: repair ends
//  well and check counts the records left (and sees the bank's books).
static void s_repair_and_check (fixture_t *f)
{
    char *output = NULL;
    //  Without --yes and with stdin not a terminal, repair refuses.
    assert_int_equal (s_run (f, &output, "repair", "--data", f->data, NULL), 2);
    assert_non_null (strstr (output, "refused"));
    free (output);
    int code = s_run (f, &output, "repair", "--data", f->data, "--yes", NULL);
    print_message ("repair (exit %d): %s", code, output);
    assert_true (code == 0 || code == 1);
    assert_non_null (strstr (output, "records of"));
    free (output);
    code = s_run (f, &output, "check", "--data", f->data, NULL);
    print_message ("check (exit %d): %s", code, output);
    assert_non_null (strstr (output, "records of"));
    assert_non_null (strstr (output, "accounts"));
    free (output);
}

//  Writes the open account and deposits, then stops the node with sig.
static void s_fill_store (fixture_t *f, int deposits, int sig)
{
    s_start (f, "sync");
    while (s_deposit_once (f, -1) == 0)
        zclock_sleep (20);
    for (int i = 0; i < deposits; i++)
        s_deposit (f);
    client_destroy (&f->client);
    node_child_stop (&f->node, sig);
}

//  The path of the newest file in f->data whose name ends with tail.
static void s_newest (fixture_t *f, const char *tail, char *path, size_t size)
{
    zdir_t *dir = zdir_new (f->data, NULL);
    assert_non_null (dir);
    zlist_t *files = zdir_list (dir);
    path[0] = '\0';
    for (zfile_t *file = zlist_first (files); file; file = zlist_next (files)) {
        const char *name = zfile_filename (file, NULL);
        size_t len = strlen (name);
        if (len > strlen (tail) && strcmp (name + len - strlen (tail), tail) == 0 &&
            strcmp (name, path) > 0)
            snprintf (path, size, "%s", name);
    }
    zlist_destroy (&files);
    zdir_destroy (&dir);
    assert_true (path[0]);
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
    s_fill_store (f, 300, SIGKILL);
    char log[600];
    s_newest (f, ".log", log, sizeof log);
    s_flip (log);
    s_refused (f, "damaged", "Corruption", ".log: dropping", NULL);
    s_repair_and_check (f);
    //  Repair keeps the log up to the damage: what came after is lost,
    //  and the books show how much.
    int64_t balance = s_books_balance (f);
    print_message ("after repair: balance %lld of %lld deposits acknowledged\n",
                   (long long) balance, (long long) f->acked);
    assert_true (balance < f->acked);
}

static void test_damaged_table (void **state)
{
    fixture_t *f = *state;
    s_fill_store (f, 300, SIGTERM);
    //  Opened again, the store turns its log into a table file (.ldb).
    s_start (f, "sync");
    node_child_stop (&f->node, SIGTERM);
    char table[600];
    s_newest (f, ".ldb", table, sizeof table);
    s_flip (table);
    s_refused (f, "damaged", "checksum", "table", NULL);
    s_repair_and_check (f);
}

static void test_missing_current (void **state)
{
    fixture_t *f = *state;
    s_fill_store (f, 20, SIGTERM);
    char current[400];
    snprintf (current, sizeof current, "%s/CURRENT", f->data);
    assert_int_equal (unlink (current), 0);
    s_refused (f, "no CURRENT", "never makes a new store", NULL);
    //  Refused, it made nothing: CURRENT is still missing.
    assert_int_not_equal (access (current, F_OK), 0);
    s_repair_and_check (f);
    //  Repaired, every deposit is there.
    assert_int_equal (s_books_balance (f), f->acked);
}

static void test_read_only_directory (void **state)
{
    fixture_t *f = *state;
    s_mount_small_disk (f);
    s_fill_store (f, 5, SIGTERM);
    if (mount (NULL, f->disk, NULL, MS_REMOUNT | MS_RDONLY, NULL) != 0)
        fail_msg ("cannot remount %s read-only: %s", f->disk, strerror (errno));
    s_refused (f, "Read-only file system", NULL);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_full_disk_service_back, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_full_disk_then_restart, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_damaged_log, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_damaged_table, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_missing_current, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_read_only_directory, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
