/*  test_prune_restart.c - a retry whose inbox record the janitor pruned is
    refused as expired after a restart too, whatever the node's clock says
    then: the janitor's highest cutoff is kept in the store (metadata
    "inbox-pruned-below", synced before it prunes under it).

    A real node alone on ipc://, --inbox-retention-ms 3000, started with
    tests/clockshift.c preloaded ($SHOAL_CLOCKSHIFT; the shift read from a
    file of the test's). A Deposit is answered; its record is pruned; the
    node is stopped and started again with its wall clock an hour back, and
    the Deposit sent again under its id and first time (a client's retry).
    Before, the restarted node knew nothing of what it had pruned: by its
    clock the Deposit was young, it found no record, and ran it again (the
    account credited twice).
*/
#include "client.h"
#include "harness.h"
#include "node_child.h"

#include <czmq.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define WAIT_MS 30000                //  the most a test waits for what must come
#define STEP_BACK_MS (3600LL * 1000) //  how far the clock steps back at the restart

typedef struct {
    char dir[64];      //  the test's temporary directory
    char data[96];     //  dir/data
    char endpoint[96]; //  ipc://dir/node.ipc
    char shift[96];    //  dir/shift: the node's clock shift (ms)
    node_child_t node; //  pid 0 when not running
    client_t *client;  //  of the running node
} fixture_t;

static int s_setup (void **state)
{
    fixture_t *f = calloc (1, sizeof (fixture_t));
    assert_int_equal (bench_temp_dir ("shoal-test-prune", f->dir, sizeof f->dir), 0);
    snprintf (f->data, sizeof f->data, "%s/data", f->dir);
    snprintf (f->endpoint, sizeof f->endpoint, "ipc://%s/node.ipc", f->dir);
    snprintf (f->shift, sizeof f->shift, "%s/shift", f->dir);
    *state = f;
    return 0;
}

static int s_teardown (void **state)
{
    fixture_t *f = *state;
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGKILL);
    assert_int_equal (bench_remove_tree (f->dir), 0);
    free (f);
    return 0;
}

//  Starts the node with clockshift.so preloaded, its clock shift ms.
static void s_start (fixture_t *f, long long shift)
{
    const char *library = getenv ("SHOAL_CLOCKSHIFT");
    if (!library)
        fail_msg ("SHOAL_CLOCKSHIFT is not set: the path of clockshift.so (tests/CMakeLists.txt)");
    FILE *file = fopen (f->shift, "w");
    assert_non_null (file);
    fprintf (file, "%lld\n", shift);
    assert_int_equal (fclose (file), 0);
    harness_env_t saved;
    harness_preload_begin (library, NULL, &saved);
    setenv ("SHOAL_CLOCKSHIFT_FILE", f->shift, 1);
    char log[128];
    snprintf (log, sizeof log, "%s/node.log", f->dir);
    char *extra[] = {"--workers", "1", "--inbox-retention-ms", "3000", NULL};
    int rc = node_child_start (&f->node, getenv ("SHOAL_BIN"), f->data, f->endpoint, extra, log,
                               WAIT_MS);
    unsetenv ("SHOAL_CLOCKSHIFT_FILE");
    harness_preload_end (&saved);
    if (rc)
        fail_msg ("shoal node did not start: %s (see %s)", shoal_strerror (rc), log);
    client_destroy (&f->client);
    f->client = client_new (f->node.endpoint);
    assert_non_null (f->client);
}

//  Sends request, built once: the same id and created at every call, as
//  a client's retry. The reply is the caller's to close.
static void s_call (fixture_t *f, const envelope_t *request, client_reply_t *reply)
{
    int rc = client_call (f->client, request, 10000, reply);
    if (rc)
        fail_msg ("%s to %s: no answer (%s)", request->name, request->to, shoal_strerror (rc));
}

//  A new request to account/r with "k=v" field; payload is the caller's.
static void s_request (envelope_t *request, const char *name, char *field, uint8_t **payload)
{
    size_t size;
    char error[64];
    assert_int_equal (client_fields (1, &field, payload, &size, error, sizeof error), 0);
    client_request (request, ENVELOPE_COMMAND, NULL, "account/r", name, *payload, size);
}

//  The node's counter name.
static int64_t s_stat (fixture_t *f, const char *name)
{
    envelope_t request;
    client_request (&request, ENVELOPE_QUERY, NULL, "node/stats", "stats", NULL, 0);
    client_reply_t reply;
    s_call (f, &request, &reply);
    int64_t value = -1;
    assert_int_equal (map_int (reply.data, reply.size, name, &value), 0);
    client_reply_close (&reply);
    return value;
}

static int64_t s_balance (fixture_t *f)
{
    envelope_t request;
    client_request (&request, ENVELOPE_QUERY, NULL, "account/r", "get", NULL, 0);
    client_reply_t reply;
    s_call (f, &request, &reply);
    assert_true (reply.ok);
    int64_t balance = -1;
    assert_int_equal (reply_state_int (&reply, "balance", &balance), 0);
    client_reply_close (&reply);
    return balance;
}

static void test_pruned_retry_refused_after_a_restart (void **state)
{
    fixture_t *f = *state;
    s_start (f, 0);
    uint8_t *open_payload, *deposit_payload;
    envelope_t open, deposit;
    s_request (&open, "Open", "owner=r", &open_payload);
    client_reply_t reply;
    s_call (f, &open, &reply);
    assert_true (reply.ok);
    client_reply_close (&reply);
    s_request (&deposit, "Deposit", "amount=5", &deposit_payload);
    s_call (f, &deposit, &reply);
    assert_true (reply.ok);
    client_reply_close (&reply);
    //  The Deposit's record pruned (the Open's is in the account's first
    //  event, never pruned).
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (s_stat (f, "pruned") < 1) {
        if (zclock_mono () > deadline)
            fail_msg ("the node never pruned the Deposit's inbox record");
        zclock_sleep (100); //  between two asks, within the deadline
    }
    assert_int_equal (node_child_stop (&f->node, SIGTERM), 0);

    //  An hour back: by this clock the Deposit is young.
    s_start (f, -STEP_BACK_MS);
    s_call (f, &deposit, &reply);
    if (reply.ok || strcmp (reply.code, "expired") != 0)
        fail_msg ("the Deposit sent again after its record was pruned: %s %s (not expired)",
                  reply.ok ? "accepted" : reply.code, reply.ok ? "" : reply.reason);
    client_reply_close (&reply);
    assert_int_equal (s_balance (f), 5);
    free (open_payload);
    free (deposit_payload);
}

int main (void)
{
    if (!getenv ("SHOAL_BIN")) {
        fprintf (stderr, "test_prune_restart: run through ctest (SHOAL_BIN unset)\n");
        return 1;
    }
    signal (SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_pruned_retry_refused_after_a_restart, s_setup,
                                         s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
