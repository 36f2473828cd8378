/*  test_clock_step.c - a node whose wall clock steps back (NTP after a VM
    resume, an operator's `date`) goes on re-sending its pending commands:
    a worker schedules its re-sends on the monotonic clock (worker_clock.h).

    A cluster of two real nodes on ipc:// (the fixture of
    test_cluster_nodes_*.c), n1 started with tests/clockshift.c preloaded
    ($SHOAL_CLOCKSHIFT, the library; the shift read from a file of the
    test's). A transfer's saga on n1 sends its Debit to an account on n2
    while n2 is down: the send is dropped, and the outbox's re-send is its
    only repair. n1's wall clock is then stepped back an hour, and n2
    started again. The transfer must complete and the books balance within
    the deadline. When the re-sends ran on the wall clock, none came for
    the hour, and the idle worker slept through it: the transfer stayed
    `started`. The Debit must stall (n1's stalled gauge) --stall-ms after
    its send, not an hour later, as it did when stalls went by the wall
    clock.
*/
#include "client.h"
#include "harness.h"
#include "cluster.h"
#include "proc.h"

#include <czmq.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cluster_nodes_test_util.h"

#define STEP_BACK_MS (3600LL * 1000) //  how far n1's wall clock steps back
#define AMOUNT 10

//  Writes shift (ms) into the file n1's clockshift.so reads.
static void s_shift_write (fixture_t *f, long long shift)
{
    char path[256];
    snprintf (path, sizeof path, "%s/shift", f->dir);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fprintf (file, "%lld\n", shift);
    assert_int_equal (fclose (file), 0);
}

//  Starts n1 (node 0) with clockshift.so preloaded, its shift 0 for now.
static void s_start_shifted (fixture_t *f)
{
    const char *library = getenv ("SHOAL_CLOCKSHIFT");
    if (!library)
        fail_msg ("SHOAL_CLOCKSHIFT is not set: the path of clockshift.so (tests/CMakeLists.txt)");
    char path[256];
    snprintf (path, sizeof path, "%s/shift", f->dir);
    s_shift_write (f, 0);
    harness_env_t saved;
    harness_preload_begin (library, NULL, &saved);
    setenv ("SHOAL_CLOCKSHIFT_FILE", path, 1);
    cluster_nodes_start_node (f, 0);
    unsetenv ("SHOAL_CLOCKSHIFT_FILE");
    harness_preload_end (&saved);
}

//  Node i's stats counter name (the outbox's re-sends, say).
static int64_t s_stat (fixture_t *f, int i, const char *name)
{
    client_reply_t reply;
    int rc = cluster_client_call (f->client[i], ENVELOPE_QUERY, "node/stats", "stats", 5000, &reply,
                                  NULL);
    if (rc != 0)
        fail_msg ("stats: %s", shoal_strerror (rc));
    int64_t value = -1;
    assert_int_equal (map_int (reply.data, reply.size, name, &value), 0);
    client_reply_close (&reply);
    return value;
}

//  n1's workers' wall clock, as their pending query says it ("now").
static int64_t s_worker_wall (fixture_t *f)
{
    client_reply_t reply;
    int rc = cluster_client_call (f->client[0], ENVELOPE_QUERY, "node/all", "pending", 5000, &reply,
                                  NULL);
    if (rc != 0)
        fail_msg ("pending: %s", shoal_strerror (rc));
    int64_t now = 0;
    assert_int_equal (map_int (reply.data, reply.size, "now", &now), 0);
    client_reply_close (&reply);
    return now;
}

static void test_resends_go_on_when_the_wall_clock_steps_back (void **state)
{
    fixture_t *f = *state;
    cluster_nodes_init (f, 2);
    s_start_shifted (f);
    cluster_nodes_start_node (f, 1);
    cluster_nodes_wait_all_up (f);
    //  The accounts on n2, the transfer's saga on n1.
    char from[64], to[64], transfer[64];
    int next = 0;
    cluster_client_address_on (f->cluster, "account/a", 1, &next, from, sizeof from);
    cluster_client_address_on (f->cluster, "account/b", 1, &next, to, sizeof to);
    cluster_client_address_on (f->cluster, "transfer/t", 0, &next, transfer, sizeof transfer);
    cluster_nodes_fund (f->client[0], from);
    cluster_nodes_fund (f->client[0], to);

    //  n2 down, and seen down by n1: the Debit's send is dropped.
    proc_kill_with (&f->node[1], SIGTERM);
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    stats_t stats;
    for (cluster_nodes_stats (f, f->client[0], &stats); stats.peer[1];
         cluster_nodes_stats (f, f->client[0], &stats)) {
        assert_true (zclock_mono () < deadline);
        zclock_sleep (50); //  between two asks, within the deadline
    }
    int64_t resends = s_stat (f, 0, "resends");
    char from_field[96], to_field[96], amount_field[32];
    snprintf (from_field, sizeof from_field, "from=%s", from);
    snprintf (to_field, sizeof to_field, "to=%s", to);
    snprintf (amount_field, sizeof amount_field, "amount=%d", AMOUNT);
    cluster_nodes_accept (f->client[0], transfer, "Start", from_field, to_field, amount_field,
                          NULL);
    //  Sent, dropped, and re-sent (dropped too) before the clock steps.
    deadline = zclock_mono () + DEADLINE_MS;
    while (s_stat (f, 0, "resends") <= resends) {
        assert_true (zclock_mono () < deadline);
        zclock_sleep (50); //  between two asks, within the deadline
    }

    //  n1's wall clock steps back an hour; its workers read it so.
    int64_t real_now = zclock_time ();
    s_shift_write (f, -STEP_BACK_MS);
    deadline = zclock_mono () + DEADLINE_MS;
    while (s_worker_wall (f) > real_now - STEP_BACK_MS / 2) {
        assert_true (zclock_mono () < deadline);
        zclock_sleep (50); //  between two asks, within the deadline
    }
    //  The Debit passes --stall-ms on time, counted in n1's stalled
    //  gauge (it was late by the step: an hour). It had not yet when the
    //  step came (else this would show nothing).
    int64_t stalled_before = s_stat (f, 0, "stalled");
    if (stalled_before != 0)
        fail_msg ("the Debit stalled (%lld) before the clock stepped: this machine took more "
                  "than --stall-ms (%s ms) to step it",
                  (long long) stalled_before, STALL_MS);
    deadline = zclock_mono () + DEADLINE_MS;
    while (s_stat (f, 0, "stalled") == 0) {
        if (zclock_mono () > deadline)
            fail_msg ("the Debit has not stalled %d s after the clock stepped back, --stall-ms "
                      "%s",
                      DEADLINE_MS / 1000, STALL_MS);
        zclock_sleep (50); //  between two asks, within the deadline
    }

    //  n2 back: the next re-send of the Debit reaches it (within 5 s, the
    //  re-sends' longest backoff), and the transfer goes on.
    cluster_nodes_start_node (f, 1);
    deadline = zclock_mono () + DEADLINE_MS;
    char status[32] = "";
    bool stalled = false;
    while (true) {
        cluster_client_transfer_status (f->client[0], transfer, status, sizeof status, &stalled);
        if (streq (status, "completed"))
            break;
        if (streq (status, "failed") || streq (status, "compensated"))
            fail_msg ("%s ended %s", transfer, status);
        if (zclock_mono () > deadline)
            fail_msg ("%s is still %s %d s after n2 came back, n1's wall clock an hour back "
                      "(its re-sends: %lld)",
                      transfer, status, DEADLINE_MS / 1000, (long long) s_stat (f, 0, "resends"));
        zclock_sleep (100); //  between two asks, within the deadline
    }
    //  The books balance: the money moved once, none made or lost.
    assert_int_equal (cluster_client_balance (f->client[0], from), FUNDING - AMOUNT);
    assert_int_equal (cluster_client_balance (f->client[0], to), FUNDING + AMOUNT);
    //  n1's uptime (which shoal top divides its rates by) did not step
    //  back with its wall clock: it was an hour below zero.
    int64_t uptime = s_stat (f, 0, "uptime_ms");
    if (uptime < 0 || uptime > 10 * 60 * 1000)
        fail_msg ("n1's uptime_ms is %lld after its wall clock stepped back an hour",
                  (long long) uptime);
}

int main (void)
{
    signal (SIGPIPE, SIG_IGN); //  the nodes' and shoal's pipes (proc_spawn)
    zsys_init ();
    zsys_set_logstream (stderr);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_resends_go_on_when_the_wall_clock_steps_back,
                                         cluster_nodes_setup, cluster_nodes_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
