/*  test_repair_force.c - `shoal resolve --force` on a running cluster,
    with real processes (the fixture: repair_test_util.h): past a node only
    paused (SIGSTOP), whose later answer to the forced end's $cancel says
    whether it ran the command (logged and counted in forced_answered, a
    refusal of its own handler not); and after a resolve whose $cancel is
    still on its way, whose $cancels are then dropped by --force on their
    own ids. Every wait polls a condition against a deadline.
*/
#include "repair_test_util.h"
#include "shard.h"

#include <czmq.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "proc.h"

//  --------------------------------------------------------------------------
//  --force past a node that was only paused (SIGSTOP: seen down, as one
//  gone for good would be): the Credit it was sent before is in its
//  socket, and it runs it once it goes on. The forced end's $cancel, re-sent
//  until that node answers, comes after: its answer is the Credit's own
//  reply, logged as an error naming the command and its target, and
//  counted in forced_answered (nothing was said: the books were off, and
//  only `shoal check` found it). A Credit its target's handler refused (a
//  closed account) is not counted: nothing was done there either.

static void test_forced_then_answered (void **state)
{
    fixture_t *fx = *state;
    char from[64], to[2][64], transfer[2][64], address[2][128], id[2][33];
    char json[65536], out[65536];
    repair_id_on (fx, "account", "fsrc", 0, from, sizeof from);
    repair_id_on (fx, "account", "fdst", 2, to[0], sizeof to[0]);
    repair_id_on (fx, "account", "fshut", 2, to[1], sizeof to[1]);
    repair_open (fx, from, 100);
    repair_open (fx, to[0], 100);
    //  The second target closed: its handler refuses the Credit itself.
    assert_int_equal (proc_sh (NULL, 0,
                               "%s send --cluster %s account/%s Open owner=x >/dev/null && "
                               "%s send --cluster %s account/%s Close >/dev/null",
                               repair_bin (), fx->cfg, to[1], repair_bin (), fx->cfg, to[1]),
                      0);
    assert_int_equal (repair_stat (fx, 0, "forced_answered"), 0);
    kill (fx->pids[2], SIGSTOP);
    //  Their Credits reach n3's socket before n3 is seen down.
    for (int k = 0; k < 2; k++) {
        char prefix[16];
        snprintf (prefix, sizeof prefix, "ft%d", k);
        repair_id_on (fx, "transfer", prefix, 0, transfer[k], sizeof transfer[k]);
        repair_transfer (fx, transfer[k], from, to[k]);
        snprintf (address[k], sizeof address[k], "transfer/%s", transfer[k]);
        repair_wait_pending (fx, false, address[k], "Credit", id[k], json, sizeof json);
    }
    repair_wait_link (fx, 0, 2, false);
    //  Seen down, but silent for less than --silent-for (30 s by default):
    //  refused, too_soon, and nothing ended (it is still pending).
    assert_int_equal (proc_sh (out, sizeof out,
                               "%s resolve --cluster %s %s %s --reject node_lost --reason "
                               "paused --force 2>&1",
                               repair_bin (), fx->cfg, address[0], id[0]),
                      1);
    if (!strstr (out, "too_soon") || !strstr (out, "has been silent") || strstr (out, "WARNING"))
        fail_msg ("--force 2 s after n3 went silent was not refused too_soon: %s", out);
    repair_wait_pending (fx, false, address[0], "Credit", id[0], json, sizeof json);
    for (int k = 0; k < 2; k++) {
        assert_int_equal (proc_sh (out, sizeof out,
                                   "%s resolve --cluster %s %s %s --reject node_lost --reason "
                                   "paused --force --silent-for 1000 2>&1",
                                   repair_bin (), fx->cfg, address[k], id[k]),
                          0);
        assert_non_null (strstr (out, "WARNING: --force ended"));
    }
    kill (fx->pids[2], SIGCONT);
    //  Both $cancels answered, nothing pending; one counted: the Credit
    //  that ran, not the one the closed account refused.
    repair_wait_none_pending (fx, "the forced ends' $cancels were never answered");
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    //  Counted at the release of the batch that handled the answer: a
    //  moment after the command leaves the pending list, asked until then.
    while (repair_stat (fx, 0, "forced_answered") < 1) {
        if (zclock_mono () > deadline)
            fail_msg ("n1 never counted the forced Credit that ran");
        zclock_sleep (100); //  between two asks, within the deadline
    }
    assert_int_equal (repair_stat (fx, 0, "forced_answered"), 1);
    char log[400], expect[300];
    snprintf (log, sizeof log, "%s/n1.log", fx->dir);
    snprintf (expect, sizeof expect, "account/%s ran %s's command %s after all", to[0], address[0],
              id[0]);
    assert_int_equal (proc_sh (out, sizeof out, "grep -c -F \"%s\" %s", expect, log), 0);
    assert_string_equal (out, "1\n");
    snprintf (expect, sizeof expect, "account/%s had refused %s's command %s, ended with --force",
              to[1], address[1], id[1]);
    assert_int_equal (proc_sh (out, sizeof out, "grep -c -F \"%s\" %s", expect, log), 0);
    //  The forced end's own line says so, not that a reply came.
    assert_int_equal (proc_sh (NULL, 0, "grep -q 'Credit from %s to account/%s is un-stalled' %s",
                               address[0], to[0], log),
                      1);
    //  n3 stopped, not cut one way: n1 said it down first (it said "cut
    //  one way?" 2 ms before "down", at the same heartbeat timeout).
    assert_int_equal (proc_sh (out, sizeof out,
                               "awk '/peer n3 .* is down/ && !d {d = NR} /n3->n1 is cut one way/ "
                               "&& !c {c = NR} END {print (d && (!c || d < c)) ? \"first\" : "
                               "\"not first\"}' %s",
                               log),
                      0);
    if (strcmp (out, "first\n") != 0)
        fail_msg ("n1 did not say n3 down before anything else of it: %s", out);
}

//  --------------------------------------------------------------------------
//  --force of a command an earlier resolve is cancelling (its target's
//  node killed): it ends the command, and says that a $cancel is still
//  re-sent to the target ("cancel_pending", its id), where it printed
//  "ended": false after waiting out --wait. The target's node back, the
//  $cancels (the earlier one, and the forced end's own) are answered and
//  change nothing: refunded, no credit, and none counted as run. The
//  second transfer's $cancels are dropped first (--force on their ids).

static void test_force_after_resolve (void **state)
{
    fixture_t *fx = *state;
    char from[64], to[64], transfer[2][64], address[128], id[33], cancel[33];
    char json[65536], out[65536], expect[128];
    repair_id_on (fx, "account", "src", 0, from, sizeof from);
    repair_id_on (fx, "account", "dst", 2, to, sizeof to);
    repair_open (fx, from, 100);
    repair_open (fx, to, 100);
    repair_node_kill (fx, 2, SIGKILL);
    repair_wait_link (fx, 0, 2, false);
    for (int k = 0; k < 2; k++) {
        char prefix[16];
        snprintf (prefix, sizeof prefix, "t%d", k);
        repair_id_on (fx, "transfer", prefix, 0, transfer[k], sizeof transfer[k]);
        repair_transfer (fx, transfer[k], from, to);
        snprintf (address, sizeof address, "transfer/%s", transfer[k]);
        repair_wait_pending (fx, true, address, "Credit", id, json, sizeof json);
        assert_int_equal (proc_sh (out, sizeof out,
                                   "%s resolve --cluster %s --wait 200 %s %s --reject "
                                   "operator_cancel --reason 'n3 is being repaired'",
                                   repair_bin (), fx->cfg, address, id),
                          0);
        repair_wait_pending (fx, false, address, "$cancel", cancel, json, sizeof json);
        int rc = proc_sh (out, sizeof out,
                          "%s resolve --cluster %s%s %s %s --reject node_lost --reason gone "
                          "--force --silent-for 1000 2>&1",
                          repair_bin (), fx->cfg, k ? "" : " --json", address, id);
        if (k == 0)
            snprintf (expect, sizeof expect,
                      "\"decision\":\"forced\",\"ended\":true,\"cancel_pending\":true,"
                      "\"cancel\":\"");
        else
            snprintf (expect, sizeof expect, "is re-sent to account/%s until that node answers",
                      to);
        if (rc != 0 || !strstr (out, expect) || !strstr (out, "\"status\":\"compensated\"") ||
            !strstr (out, "WARNING: --force ended"))
            fail_msg ("resolve --force after a resolve: exit %d, not 0 with %s: %s", rc, expect,
                      out);
    }
    //  The second transfer's $cancels (its resolve's and its forced end's),
    //  to a node that may never come back: --force on a $cancel's own id,
    //  its command ended, drops it (it was refused: stalled for ever).
    snprintf (address, sizeof address, "transfer/%s", transfer[1]);
    for (int k = 0; k < 2; k++) {
        repair_wait_pending (fx, false, address, "$cancel", cancel, json, sizeof json);
        //  Not before n3 has been silent --silent-for: refused, too_soon.
        if (k == 0 && (proc_sh (out, sizeof out,
                                "%s resolve --cluster %s %s %s --reject node_lost --reason gone "
                                "--force --silent-for 3600000 2>&1",
                                repair_bin (), fx->cfg, address, cancel) != 1 ||
                       !strstr (out, "too_soon")))
            fail_msg ("the drop of $cancel %s before n3 was silent long enough: %s", cancel, out);
        int rc = proc_sh (out, sizeof out,
                          "%s resolve --cluster %s %s %s --reject node_lost --reason gone --force "
                          "--silent-for 1000 2>&1",
                          repair_bin (), fx->cfg, address, cancel);
        if (rc != 0 || !strstr (out, "WARNING: --force dropped") || !strstr (out, "dropped (node"))
            fail_msg ("resolve --force of the $cancel %s: exit %d: %s", cancel, rc, out);
    }
    char sender[160];
    snprintf (sender, sizeof sender, "{\"sender\":\"%s\"", address);
    proc_sh (json, sizeof json, "%s pending --cluster %s --json --timeout 1000", repair_bin (),
             fx->cfg);
    if (strstr (json, sender))
        fail_msg ("%s still has a command pending: %s", address, json);
    repair_node_start (fx, 2);
    repair_wait_none_pending (fx, "the $cancels were never answered");
    char account[128];
    snprintf (account, sizeof account, "account/%s", to);
    for (int k = 0; k < 2; k++) {
        snprintf (address, sizeof address, "transfer/%s", transfer[k]);
        repair_wait_get (fx, address, "\"status\":\"compensated\"");
        assert_int_equal (repair_count_events (fx, account, "Credited", transfer[k]), 0);
    }
    //  n3 had not run them: its answers to the forced ends' $cancels say
    //  so, and nothing is counted as run after a force.
    assert_int_equal (repair_stat (fx, 0, "forced_answered"), 0);
}

//  --------------------------------------------------------------------------
//  A resolve of a command older than its target's inbox retention: the
//  target ran the Credit, its reply was lost (the saga's node killed),
//  and its record was pruned before the saga's node came back; the
//  re-sent Credit is refused expired, and the transfer stalls for an
//  operator. The resolve's $cancel finds no record there either: the
//  target cannot tell whether it ran it, and says so, rather than record
//  a rejection (the transfer would be refunded beside the credit that
//  ran: money made). The command stays pending for the operator, and
//  --force is let through though the target's node is up.
static void test_resolve_past_retention (void **state)
{
    fixture_t *fx = *state;
    char from[64], to[64], transfer[64], address[128], id[33], json[65536], out[65536];
    repair_id_on (fx, "account", "rsrc", 0, from, sizeof from);
    repair_id_on (fx, "account", "rdst", 1, to, sizeof to);
    repair_id_on (fx, "transfer", "rt", 0, transfer, sizeof transfer);
    snprintf (address, sizeof address, "transfer/%s", transfer);
    repair_open (fx, from, 100);
    //  Opened only: its one record is in its first event, never pruned,
    //  so that n2's first record pruned is the Credit's.
    assert_int_equal (proc_sh (NULL, 0, "%s send --cluster %s account/%s Open owner=x >/dev/null",
                               repair_bin (), fx->cfg, to),
                      0);
    //  The Credit waits in n2's socket while n1 is killed: its reply is lost.
    kill (fx->pids[1], SIGSTOP);
    repair_transfer (fx, transfer, from, to);
    repair_wait_pending (fx, false, address, "Credit", id, json, sizeof json);
    repair_node_kill (fx, 0, SIGKILL);
    kill (fx->pids[1], SIGCONT);
    //  n2 ran it, and prunes its record 4.5 s after.
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (repair_stat (fx, 1, "pruned") < 1) {
        if (zclock_mono () > deadline)
            fail_msg ("n2 never pruned the Credit's record");
        zclock_sleep (100); //  between two asks, within the deadline
    }
    char account[128];
    snprintf (account, sizeof account, "account/%s", to);
    assert_int_equal (repair_count_events (fx, account, "Credited", transfer), 1);
    //  n1 back: its re-sent Credit is refused expired, never run again.
    repair_node_start (fx, 0);
    deadline = zclock_mono () + DEADLINE_MS;
    while (repair_stat (fx, 1, "expired") < 1) {
        if (zclock_mono () > deadline) {
            proc_sh (out, sizeof out, "tail -n 4 %s/n2.log", fx->dir);
            fail_msg ("n2 never refused the re-sent Credit as expired: %s", out);
        }
        zclock_sleep (100); //  between two asks, within the deadline
    }
    repair_wait_get (fx, address, "\"stalled\":true");
    for (int i = 1; i < NODES; i++) //  n1 is up as every node sees it
        repair_wait_link (fx, i, 0, true);
    assert_int_equal (proc_sh (out, sizeof out,
                               "%s resolve --cluster %s --wait 0 %s %s --reject operator_cancel "
                               "--reason 'its reply was lost' 2>&1",
                               repair_bin (), fx->cfg, address, id),
                      0);
    //  Its $cancel's answer: cannot tell. Not handed to the saga.
    deadline = zclock_mono () + DEADLINE_MS;
    while (!strstr (json, "cannot tell if it ran it")) {
        if (zclock_mono () > deadline)
            fail_msg ("the $cancel's answer was never said: %s", json);
        zclock_sleep (100); //  between two asks, within the deadline
        proc_sh (json, sizeof json, "%s pending --cluster %s --json --timeout 1000", repair_bin (),
                 fx->cfg);
    }
    assert_non_null (strstr (json, id));
    assert_int_equal (
        proc_sh (out, sizeof out, "%s get --cluster %s %s", repair_bin (), fx->cfg, address), 0);
    if (strstr (out, "compensated") || strstr (out, "completed"))
        fail_msg ("the transfer ended on a $cancel whose target could not tell: %s", out);
    char log[400];
    snprintf (log, sizeof log, "%s/n1.log", fx->dir);
    assert_int_equal (proc_sh (NULL, 0, "grep -q 'cannot tell whether it ran %s.s command %s' %s",
                               address, id, log),
                      0);
    //  The operator's call: --force, n2 up all along.
    assert_int_equal (proc_sh (out, sizeof out,
                               "%s resolve --cluster %s %s %s --reject node_lost --reason "
                               "'no Credited in its events' --force 2>&1",
                               repair_bin (), fx->cfg, address, id),
                      0);
    assert_non_null (strstr (out, "WARNING: --force ended"));
    repair_wait_none_pending (fx, "the $cancels were never answered after --force");
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_forced_then_answered, repair_setup, repair_teardown),
        cmocka_unit_test_setup_teardown (test_force_after_resolve, repair_setup, repair_teardown),
        cmocka_unit_test_setup_teardown (test_resolve_past_retention, repair_setup_short_retention,
                                         repair_teardown),
    };
    if (getenv ("SHOAL_TEST_FILTER"))
        cmocka_set_test_filter (getenv ("SHOAL_TEST_FILTER"));
    return cmocka_run_group_tests (tests, NULL, NULL);
}
