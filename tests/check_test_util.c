/*  check_test_util.c - what test_check_*.c share (check_test_util.h says what each is).
 */
#include "books.h"
#include "client.h"
#include "cluster_test_client.h"
#include "journal.h"
#include "node_child.h"
#include "proc.h"

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

#include "check_test_util.h"

int check_setup (void **state)
{
    fixture_t *f = calloc (1, sizeof (fixture_t));
    assert_int_equal (bench_temp_dir ("shoal-test-check", f->dir, sizeof f->dir), 0);
    snprintf (f->data, sizeof f->data, "%s/data", f->dir);
    snprintf (f->endpoint, sizeof f->endpoint, "ipc://%s/node.ipc", f->dir);
    snprintf (f->out, sizeof f->out, "%s/check.out", f->dir);
    *state = f;
    return 0;
}

int check_teardown (void **state)
{
    fixture_t *f = *state;
    node_child_stop (&f->node, SIGKILL);
    if (f->disk[0])
        umount2 (f->disk, MNT_DETACH);
    assert_int_equal (bench_remove_tree (f->dir), 0);
    free (f);
    return 0;
}

int check_shoal_v (const fixture_t *f, char **output, char *command, va_list args)
{
    char *argv[16] = {getenv ("SHOAL_BIN"), command};
    int argc = 2;
    for (char *arg = va_arg (args, char *); arg && argc < 15; arg = va_arg (args, char *))
        argv[argc++] = arg;
    return proc_run_argv (argv, NULL, f->out, output);
}

int check_check (const fixture_t *f, char **output, ...)
{
    va_list args;
    va_start (args, output);
    int rc = check_shoal_v (f, output, "check", args);
    va_end (args);
    return rc;
}

//  Sends a command with "k=v" fields (NULL-terminated), asked again while
//  the node answers `busy` or `unavailable`, for at most 20 s. Fails the
//  test unless it is accepted.
static void s_accept (const fixture_t *f, const char *to, const char *name, ...)
{
    uint8_t id[ENVELOPE_ID_SIZE]; //  the same at each asking
    envelope_new_id (id);
    client_t *client = client_new (f->node.endpoint);
    assert_non_null (client);
    client_reply_t reply;
    int64_t deadline = zclock_mono () + 20000;
    while (true) {
        va_list args;
        va_start (args, name);
        int rc = cluster_client_callv (client, ENVELOPE_COMMAND, id, to, name, 5000, &reply, args);
        va_end (args);
        assert_int_equal (rc, 0);
        if (!client_reply_transient (&reply) || zclock_mono () > deadline)
            break;
        client_reply_close (&reply);
        zclock_sleep (20);
    }
    if (!reply.ok)
        fail_msg ("%s %s rejected: %s %s", to, name, reply.code, reply.reason);
    client_reply_close (&reply);
    client_destroy (&client);
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

void check_run_bank (fixture_t *f)
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
