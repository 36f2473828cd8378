/*  test_repair.c - watching and repairing a running cluster, with real
    processes: a 3-node cluster on ipc:// in the test's own directory,
    nodes killed (SIGKILL) and restarted, and the `shoal pending`,
    `explain`, `resolve` and `events --follow` commands run as a user
    runs them. Every wait polls a condition against a deadline.

    The paths of resolve: a stalled credit resolved while its node is
    down (compensated); a stalled debit resolved while its node is down
    (failed, no Debited anywhere); a debit that had already run when it was
    resolved (its saga's node lost its last commits: restored from a copy
    of its data taken before), which the cancel finds, so the saga goes
    on (completed); and --force (failed at once). Then the books of all
    three data directories are checked. Last, on a cluster of its own, a
    credit whose target's node has a full disk (an 8 MiB tmpfs, root
    only): explain says that node cannot serve it, and why, and pending
    says that its store fails (its list may be incomplete). A saga's node
    stopped: every command about it is no answer (exit 3), naming it.
    test_repair_force.c has --force past a node only paused, and after a
    resolve. The fixture: repair_test_util.h.
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

//  The whole story on one cluster (its start is the slow part).
static void test_repair (void **state)
{
    fixture_t *fx = *state;
    //  Sagas on node 0; sources on node 1; targets on node 2.
    char from[5][64], to[5][64], transfer[5][64];
    for (int k = 0; k < 5; k++) {
        char prefix[16];
        snprintf (prefix, sizeof prefix, "src%d", k);
        repair_id_on (fx, "account", prefix, 1, from[k], sizeof from[k]);
        snprintf (prefix, sizeof prefix, "dst%d", k);
        repair_id_on (fx, "account", prefix, 2, to[k], sizeof to[k]);
        snprintf (prefix, sizeof prefix, "t%d", k);
        repair_id_on (fx, "transfer", prefix, 0, transfer[k], sizeof transfer[k]);
        repair_open (fx, from[k], 100);
        repair_open (fx, to[k], 100);
    }
    char json[65536], out[65536], id[33], address[128];

    //  1. events --follow shows an event committed after it started.
    char follow_out[400];
    snprintf (follow_out, sizeof follow_out, "%s/follow.out", fx->dir);
    pid_t follower = fork ();
    assert_true (follower >= 0);
    if (follower == 0) {
        FILE *file = fopen (follow_out, "w");
        if (file)
            dup2 (fileno (file), 1);
        char target[128];
        snprintf (target, sizeof target, "account/%s", from[0]);
        execl (repair_bin (), "shoal", "events", "--cluster", fx->cfg, "--follow", target,
               (char *) NULL);
        _exit (127);
    }
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (proc_sh (out, sizeof out, "cat %s", follow_out) == 0 && !strstr (out, "Deposited")) {
        assert_true (zclock_mono () < deadline); //  it printed what was there
        zclock_sleep (50);                       //  between two asks, within the deadline
    }
    assert_int_equal (proc_sh (NULL, 0,
                               "%s send --cluster %s account/%s Deposit amount=7 >/dev/null",
                               repair_bin (), fx->cfg, from[0]),
                      0);
    while (proc_sh (out, sizeof out, "cat %s", follow_out) == 0 && !strstr (out, "\"amount\":7")) {
        assert_true (zclock_mono () < deadline);
        zclock_sleep (50); //  between two asks, within the deadline
    }
    kill (follower, SIGINT);
    waitpid (follower, NULL, 0);
    proc_sh (NULL, 0, "%s send --cluster %s account/%s Withdraw amount=7 >/dev/null", repair_bin (),
             fx->cfg, from[0]);

    //  2. A credit's node down: pending --stalled lists it, explain names
    //  the node; resolved, then the node back: compensated.
    repair_node_kill (fx, 2, SIGKILL);
    repair_wait_link (fx, 0, 2, false);
    repair_transfer (fx, transfer[0], from[0], to[0]);
    snprintf (address, sizeof address, "transfer/%s", transfer[0]);
    repair_wait_pending (fx, true, address, "Credit", id, json, sizeof json);
    assert_non_null (strstr (json, "\"target_node\":\"n3\""));
    assert_non_null (strstr (json, "\"nodes_down\":[\"n3\"]"));
    proc_sh (out, sizeof out, "%s pending --cluster %s --stalled --timeout 1000 2>&1",
             repair_bin (), fx->cfg);
    assert_non_null (strstr (out, "Credit"));
    assert_non_null (strstr (out, "shoal pending: node n3 did not answer")); //  on stderr
    proc_sh (out, sizeof out, "%s explain --cluster %s %s", repair_bin (), fx->cfg, address);
    assert_non_null (strstr (out, "STALLED"));
    assert_non_null (strstr (out, "target node n3"));
    assert_non_null (strstr (out, "is down"));
    proc_sh (out, sizeof out, "%s explain --json --cluster %s %s", repair_bin (), fx->cfg, address);
    assert_non_null (strstr (out, "\"stalled\":true"));
    //  Its events say when, as the text does (the JSON left it out).
    if (!strstr (out, "\"event\":\"Started\",\"at\":\"20"))
        fail_msg ("explain --json of %s: %s", address, out);
    assert_non_null (strstr (out, "\"target_node\":\"n3\""));
    assert_int_equal (proc_sh (out, sizeof out,
                               "%s resolve --cluster %s --wait 200 %s %s --reject operator_cancel "
                               "--reason 'n3 is being repaired'",
                               repair_bin (), fx->cfg, address, id),
                      0);
    assert_non_null (strstr (out, "the cancel waits for"));
    //  The $cancel that pending lists is not a command to resolve: said so.
    char cancel[33];
    repair_wait_pending (fx, false, address, "$cancel", cancel, json, sizeof json);
    assert_int_equal (proc_sh (out, sizeof out,
                               "%s resolve --cluster %s --wait 0 %s %s --reject x --reason y 2>&1",
                               repair_bin (), fx->cfg, address, cancel),
                      1);
    assert_non_null (strstr (out, "is the $cancel of a resolve under way"));

    //  3. A debit's node down, resolved: failed, nothing moved.
    repair_node_kill (fx, 1, SIGKILL);
    repair_wait_link (fx, 0, 1, false);
    repair_transfer (fx, transfer[1], from[1], to[1]);
    char address1[128];
    snprintf (address1, sizeof address1, "transfer/%s", transfer[1]);
    repair_wait_pending (fx, true, address1, "Debit", id, json, sizeof json);
    assert_int_equal (proc_sh (out, sizeof out,
                               "%s resolve --cluster %s --wait 200 %s %s --reject operator_cancel "
                               "--reason 'n2 is being repaired'",
                               repair_bin (), fx->cfg, address1, id),
                      0);
    //  A second resolve of the same command says so.
    assert_int_equal (proc_sh (NULL, 0,
                               "%s resolve --cluster %s --wait 0 %s %s --reject x --reason y "
                               "2>/dev/null",
                               repair_bin (), fx->cfg, address1, id),
                      1);
    //  A forced one refused (nothing pending under that id) warns of
    //  nothing: the warning that it ended the command came before the
    //  refusal.
    assert_int_equal (
        proc_sh (out, sizeof out,
                 "%s resolve --cluster %s --wait 0 %s "
                 "00112233445566778899aabbccddeeff --reject x --reason y --force 2>&1",
                 repair_bin (), fx->cfg, address1),
        1);
    assert_null (strstr (out, "WARNING"));

    //  4. --force: failed at once, without its target.
    repair_transfer (fx, transfer[2], from[2], to[2]);
    char address2[128];
    snprintf (address2, sizeof address2, "transfer/%s", transfer[2]);
    repair_wait_pending (fx, true, address2, "Debit", id, json, sizeof json);
    //  Without $USER, the login of the user running it is recorded.
    assert_int_equal (proc_sh (out, sizeof out,
                               "env -u USER %s resolve --cluster %s %s %s --reject node_lost "
                               "--reason 'gone' --force --silent-for 1000 2>&1",
                               repair_bin (), fx->cfg, address2, id),
                      0);
    assert_non_null (strstr (out, "WARNING: --force ended"));
    assert_non_null (strstr (out, "recorded as $Resolved by "));
    assert_null (strstr (out, "by unknown"));
    assert_non_null (strstr (out, "FORCED"));
    assert_non_null (strstr (out, "\"status\":\"failed\""));

    //  5. A debit that ran, whose saga's node then lost its last commits:
    //  the saga's node 0 copied while the debit was pending, the debit run,
    //  node 0 restored from the copy with the source's node down.
    repair_transfer (fx, transfer[3], from[3], to[3]);
    char address3[128];
    snprintf (address3, sizeof address3, "transfer/%s", transfer[3]);
    repair_wait_pending (fx, true, address3, "Debit", id, json, sizeof json);
    repair_node_kill (fx, 0, SIGKILL);
    assert_int_equal (proc_sh (NULL, 0, "cp -a %s/n1/data %s/n1-copy", fx->dir, fx->dir), 0);
    repair_node_start (fx, 0);
    repair_node_start (fx, 1); //  both transfers 1 and 3 go on; 1 fails, 3 debits
    repair_wait_get (fx, address1, "\"status\":\"failed\"");
    repair_wait_get (fx, address3, "\"status\":\"debited\"");
    repair_node_kill (fx, 0, SIGKILL);
    repair_node_kill (fx, 1, SIGKILL);
    assert_int_equal (proc_sh (NULL, 0, "rm -rf %s/n1/data && mv %s/n1-copy %s/n1/data", fx->dir,
                               fx->dir, fx->dir),
                      0);
    repair_node_start (fx, 0);
    repair_wait_get (fx, address3, "\"status\":\"started\""); //  it lost its Debited
    repair_wait_pending (fx, true, address3, "Debit", id, json, sizeof json);
    assert_int_equal (proc_sh (out, sizeof out,
                               "%s resolve --cluster %s --wait 200 %s %s --reject operator_cancel "
                               "--reason 'n2 is being repaired'",
                               repair_bin (), fx->cfg, address3, id),
                      0);
    //  The copy holds transfer 1's $Resolved and $cancel, not its Failed:
    //  the $cancel, re-sent, gets the same rejection from the inbox.
    repair_node_start (fx, 1);
    repair_wait_get (fx, address3, "\"status\":\"debited\""); //  the real reply came
    repair_node_start (fx, 2);
    repair_wait_get (fx, address, "\"status\":\"compensated\"");
    repair_wait_get (fx, address1, "\"status\":\"failed\"");
    repair_wait_get (fx, address2, "\"status\":\"failed\"");
    repair_wait_get (fx, address3, "\"status\":\"completed\"");

    //  The operator's record is in each saga's journal; the account's
    //  journals agree with the outcomes.
    for (int k = 0; k < 4; k++) {
        snprintf (address, sizeof address, "transfer/%s", transfer[k]);
        assert_int_equal (repair_count_events (fx, address, "$Resolved", "operator"), 1);
        char account[128];
        snprintf (account, sizeof account, "account/%s", from[k]);
        int debits = repair_count_events (fx, account, "Debited", transfer[k]);
        int refunds = repair_count_events (fx, account, "Refunded", transfer[k]);
        snprintf (account, sizeof account, "account/%s", to[k]);
        int credits = repair_count_events (fx, account, "Credited", transfer[k]);
        int expect[4][3] = {{1, 1, 0}, {0, 0, 0}, {0, 0, 0}, {1, 0, 1}};
        assert_int_equal (debits, expect[k][0]);
        assert_int_equal (refunds, expect[k][1]);
        assert_int_equal (credits, expect[k][2]);
    }
    proc_sh (out, sizeof out, "%s explain --cluster %s transfer/%s", repair_bin (), fx->cfg,
             transfer[1]);
    assert_non_null (strstr (out, "$Resolved"));
    assert_non_null (strstr (out, "n2 is being repaired"));
    proc_sh (out, sizeof out, "%s pending --cluster %s", repair_bin (), fx->cfg);
    assert_non_null (strstr (out, "no command is pending"));

    //  The books of all three nodes, stopped.
    for (int i = 0; i < NODES; i++)
        repair_node_kill (fx, i, SIGTERM);
    int rc =
        proc_sh (out, sizeof out, "%s check --data %s/n1/data --data %s/n2/data --data %s/n3/data",
                 repair_bin (), fx->dir, fx->dir, fx->dir);
    if (rc != 0)
        fail_msg ("shoal check: %s", out);
}

//  --------------------------------------------------------------------------
//  A credit whose target's node (n2) cannot write its store (a full disk)
//  is never answered: explain says that node cannot serve the target,
//  quoting why (No space left on device), where it said the target and
//  its node were up and "no answer has come yet (busy, or a message
//  lost: try shoal resend)"; pending says n2's store fails after its
//  list (it said nothing of it). Space freed, the credit goes through, once.

static void test_full_disk (void **state)
{
    fixture_t *fx = *state;
    char from[64], to[64], transfer[64], sender[96], target[96];
    repair_id_on (fx, "account", "src", 0, from, sizeof from);
    repair_id_on (fx, "account", "dst", 1, to, sizeof to);
    repair_id_on (fx, "transfer", "t", 0, transfer, sizeof transfer);
    repair_open (fx, from, 100);
    repair_open (fx, to, 1);
    //  Fill n2's disk, then its own writes fill the last page: deposits
    //  until one is refused for the disk.
    proc_sh (NULL, 0, "dd if=/dev/zero of=%s/filler bs=64k >/dev/null 2>&1", fx->disk);
    char out[65536];
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (true) {
        proc_sh (out, sizeof out, "%s send --cluster %s account/%s Deposit amount=1 2>&1",
                 repair_bin (), fx->cfg, to);
        if (strstr (out, "No space left on device"))
            break;
        if (zclock_mono () > deadline)
            fail_msg ("n2 never said its disk was full: %s", out);
    }
    repair_transfer (fx, transfer, from, to);
    snprintf (sender, sizeof sender, "transfer/%s", transfer);
    snprintf (target, sizeof target, "account/%s", to);
    char id[33], json[65536];
    repair_wait_pending (fx, true, sender, "Credit", id, json, sizeof json);
    //  The node answers a get as it answers the command while its store is
    //  down; between its attempts to open the store again a get may pass
    //  (a CI run saw one): explain says it within the deadline.
    char says[200];
    snprintf (says, sizeof says, "why: %s's node cannot serve it", target);
    deadline = zclock_mono () + DEADLINE_MS;
    while (true) {
        proc_sh (out, sizeof out, "%s explain --cluster %s %s", repair_bin (), fx->cfg, sender);
        if (strstr (out, "STALLED") && strstr (out, says) &&
            strstr (out, "No space left on device") && !strstr (out, "no answer has come yet"))
            break;
        if (zclock_mono () > deadline)
            fail_msg ("explain, %s's disk full, never said its node cannot serve it: %s", target,
                      out);
        zclock_sleep (100); //  between two asks, within the deadline
    }
    //  pending says it of n2 too, after its list, which may miss what n2
    //  could not write (it showed the list alone), and --json names n2 in
    //  stores_failing; n1 and n3 write well.
    deadline = zclock_mono () + DEADLINE_MS;
    int rc;
    while (true) {
        rc = proc_sh (out, sizeof out, "%s pending --cluster %s", repair_bin (), fx->cfg);
        if (strstr (out, "node n2: its store failed a write") &&
            strstr (out, "No space left on device"))
            break;
        if (zclock_mono () > deadline)
            fail_msg ("pending, n2's disk full, never said its store fails: %s", out);
        zclock_sleep (100); //  between two asks, within the deadline
    }
    assert_int_equal (rc, 0);
    proc_assert_has (out, sender); //  the list is there, its stalled Credit
    proc_assert_has (out, "which may be stale or incomplete");
    if (strstr (out, "node n1:") || strstr (out, "node n3:"))
        fail_msg ("pending says a store fails on a node whose disk has room: %s", out);
    deadline = zclock_mono () + DEADLINE_MS;
    while (true) {
        rc = proc_sh (out, sizeof out, "%s pending --json --cluster %s", repair_bin (), fx->cfg);
        if (strstr (out, "\"stores_failing\":[{\"node\":\"n2\",\"store\":\"its store failed a "
                         "write"))
            break;
        if (zclock_mono () > deadline)
            fail_msg ("pending --json, n2's disk full, never named n2 in stores_failing: %s", out);
        zclock_sleep (100); //  between two asks, within the deadline
    }
    assert_int_equal (rc, 0);
    const char *failing = strstr (out, "\"stores_failing\":");
    if (strstr (failing, "\"node\":\"n1\"") || strstr (failing, "\"node\":\"n3\""))
        fail_msg ("pending --json lists a store failing on a node whose disk has room: %s", out);
    //  cluster status says it of n2's row too (it looked well).
    proc_sh (out, sizeof out, "%s cluster status --cluster %s", repair_bin (), fx->cfg);
    if (!strstr (out, "its store failed a write") || !strstr (out, "No space left on device"))
        fail_msg ("cluster status, n2's disk full: %s", out);
    //  And top, under n2's row (it showed n2 up, and well), in text and JSON.
    proc_sh (out, sizeof out, "%s top --once --cluster %s --interval 200", repair_bin (), fx->cfg);
    if (!strstr (out, "its store failed a write") || !strstr (out, "No space left on device"))
        fail_msg ("top --once, n2's disk full: %s", out);
    proc_sh (out, sizeof out, "%s top --once --json --cluster %s --interval 200", repair_bin (),
             fx->cfg);
    if (!strstr (out, "\"store\":\"its store failed a write"))
        fail_msg ("top --once --json, n2's disk full: %s", out);
    //  Room again: the node writes, the credit is answered, once.
    proc_sh (NULL, 0, "rm -f %s/filler", fx->disk);
    proc_sh (NULL, 0, "%s resend --cluster %s %s >/dev/null", repair_bin (), fx->cfg, sender);
    repair_wait_get (fx, sender, "\"status\":\"completed\"");
    assert_int_equal (repair_count_events (fx, target, "Credited", transfer), 1);
}

//  --------------------------------------------------------------------------
//  A node that does not answer is no answer, whichever command asks: n3
//  stopped (SIGSTOP) and seen down by n1 and n2, every command about the
//  saga it owns exits 3 with no_answer naming n3. resend, resolve, get and
//  events exited 1 on the `unavailable` of the node they went through.

//  explain of address, whose node n3 n1 and n2 see down: exit 3 well
//  within its --timeout (20 s), as resolve says it: "no answer from node
//  n3 about ADDRESS: node n3 (...) is down or cut off from this node", and
//  with --json resolve's object alone on stdout. It asked n3 alone and
//  waited out --timeout ("... within 20000 ms: network error"), its
//  stdout empty with --json.
static void s_explain_owner_down (fixture_t *fx, const char *address)
{
    for (int json = 0; json < 2; json++) {
        char out[8192], expect[256];
        if (json)
            snprintf (expect, sizeof expect,
                      "{\"ok\":false,\"address\":\"%s\",\"code\":\"no_answer\",\"node\":\"n3\","
                      "\"reason\":\"node n3 (ipc://",
                      address);
        else
            snprintf (expect, sizeof expect,
                      "shoal explain: no answer from node n3 about %s: node n3 (ipc://", address);
        int64_t started = zclock_mono ();
        int rc = proc_sh (out, sizeof out, "%s explain%s --cluster %s --timeout 20000 %s %s",
                          repair_bin (), json ? " --json" : "", fx->cfg, address,
                          json ? "2>/dev/null" : "2>&1");
        int64_t took = zclock_mono () - started;
        const char *end = strchr (out, '\n');
        if (rc != 3 || took > 10000 || strncmp (out, expect, strlen (expect)) != 0 ||
            !strstr (out, "is down or cut off from this node") || !end || end[1] ||
            (json && end[-1] != '}'))
            fail_msg ("shoal explain%s %s, its node n3 down: exit %d in %lld ms (--timeout "
                      "20000), not 3 at once starting '%s': %s",
                      json ? " --json" : "", address, rc, (long long) took, expect, out);
    }
}

static void test_owner_down (void **state)
{
    fixture_t *fx = *state;
    char from[64], to[64], transfer[64], address[128], out[65536];
    repair_id_on (fx, "account", "src", 0, from, sizeof from);
    repair_id_on (fx, "account", "dst", 1, to, sizeof to);
    repair_id_on (fx, "transfer", "t", 2, transfer, sizeof transfer);
    repair_open (fx, from, 100);
    repair_open (fx, to, 100);
    repair_transfer (fx, transfer, from, to);
    snprintf (address, sizeof address, "transfer/%s", transfer);
    repair_wait_get (fx, address, "\"status\":\"completed\"");
    kill (fx->pids[2], SIGSTOP);
    repair_wait_link (fx, 0, 2, false);
    repair_wait_link (fx, 1, 2, false);
    const char *asks[] = {
        "resend --json %s",
        "resolve --json --wait 0 %s 00112233445566778899aabbccddeeff --reject x --reason y",
        "get %s",
        "events %s",
    };
    for (size_t i = 0; i < sizeof asks / sizeof asks[0]; i++) {
        char line[300];
        snprintf (line, sizeof line, asks[i], address);
        int rc = proc_sh (out, sizeof out, "%s %s --cluster %s --timeout 3000 2>&1", repair_bin (),
                          line, fx->cfg);
        if (rc != 3 || !strstr (out, "\"code\":\"no_answer\",\"node\":\"n3\"") ||
            !strstr (out, "no answer from node n3 about"))
            fail_msg ("shoal %s, its node n3 stopped: exit %d, not 3 naming n3: %s", line, rc, out);
        //  The acts asked n3 directly too, which took no connection: nothing done.
        if (i < 2 && !strstr (out, "nor taken by n3 directly (no connection to it came up): it "
                                   "did nothing"))
            fail_msg ("shoal %s, its node n3 stopped: not said it did nothing: %s", line, out);
    }
    s_explain_owner_down (fx, address);
    assert_int_equal (proc_sh (out, sizeof out, "%s pending --cluster %s --timeout 1000 2>&1",
                               repair_bin (), fx->cfg),
                      3);
    assert_non_null (strstr (out, "shoal pending: node n3 did not answer"));
    kill (fx->pids[2], SIGCONT);
    repair_wait_link (fx, 0, 2, true);
    assert_int_equal (
        proc_sh (NULL, 0, "%s resend --cluster %s %s >/dev/null", repair_bin (), fx->cfg, address),
        0);
}

//  --------------------------------------------------------------------------
//  A credit whose target's node is down, long before it stalls (--stall-ms
//  60000): explain already says why, the target's node is down, and not
//  that it is stalled. Before, a row was looked into only once stalled,
//  and explain said nothing of why for --stall-ms (30 s by default).
//  explain of the target itself, its node n3 killed: no answer, at once.

static void test_why_before_stall (void **state)
{
    fixture_t *fx = *state;
    char from[64], to[64], transfer[64], address[128], out[65536];
    repair_id_on (fx, "account", "src", 1, from, sizeof from);
    repair_id_on (fx, "account", "dst", 2, to, sizeof to);
    repair_id_on (fx, "transfer", "t", 0, transfer, sizeof transfer);
    repair_open (fx, from, 100);
    repair_open (fx, to, 100);
    repair_node_kill (fx, 2, SIGKILL);
    repair_wait_link (fx, 0, 2, false);
    repair_wait_link (fx, 1, 2, false);
    //  Its target, whose node n3 is killed: no answer, at once.
    snprintf (address, sizeof address, "account/%s", to);
    s_explain_owner_down (fx, address);
    repair_transfer (fx, transfer, from, to);
    snprintf (address, sizeof address, "transfer/%s", transfer);
    int64_t deadline = zclock_mono () + DEADLINE_MS / 3;
    while (true) {
        proc_sh (out, sizeof out, "%s explain --cluster %s --timeout 1000 %s 2>&1", repair_bin (),
                 fx->cfg, address);
        if (strstr (out, "why: target node n3 (owner of account/"))
            break;
        if (zclock_mono () > deadline)
            fail_msg ("explain of %s, its credit's node n3 down, never said why: %s", address, out);
        zclock_sleep (100); //  between two asks, within the deadline
    }
    assert_non_null (strstr (out, "is down"));
    assert_null (strstr (out, "STALLED"));
    assert_int_equal (proc_sh (out, sizeof out, "%s explain --json --cluster %s %s", repair_bin (),
                               fx->cfg, address),
                      0);
    assert_non_null (strstr (out, "\"stalled\":false"));
    //  resend of the saga says its credit waits for n3 (it said it re-sent,
    //  as if the credit had gone).
    assert_int_equal (
        proc_sh (out, sizeof out, "%s resend --cluster %s %s", repair_bin (), fx->cfg, address), 0);
    if (!strstr (out, "1 pending command re-sent now, 1 of them to nodes down or cut off from its "
                      "node: those go once the link is back"))
        fail_msg ("resend of %s, its credit's node n3 down: %s", address, out);
    assert_int_equal (proc_sh (out, sizeof out, "%s resend --json --cluster %s %s", repair_bin (),
                               fx->cfg, address),
                      0);
    assert_non_null (strstr (out, "\"resent\":1,\"to_nodes_down\":1}"));
}

//  --------------------------------------------------------------------------
//  A node lost for good, its sagas with it: a transfer on n2 debited n1's
//  account, and its Credit for n3 never ran (n3 stopped, then killed).
//  n2's store gone, `shoal check --list` over n1's and n3's stores names
//  the transfer, its stream in neither, and the account and amount it
//  debited: the money to give back by hand, which no saga will.

static void test_lost_node_listed (void **state)
{
    fixture_t *fx = *state;
    char from[64], to[64], transfer[1][64], dst[1][64], address[128], id[33];
    char json[65536], out[65536];
    repair_id_on (fx, "account", "lsrc", 0, from, sizeof from);
    repair_id_on (fx, "account", "ldst", 2, to, sizeof to);
    repair_id_on (fx, "transfer", "lt", 1, transfer[0], sizeof transfer[0]);
    snprintf (dst[0], sizeof dst[0], "%s", to);
    snprintf (address, sizeof address, "transfer/%s", transfer[0]);
    repair_open (fx, from, 100);
    repair_open (fx, to, 100);
    kill (fx->pids[2], SIGSTOP);
    repair_transfers (fx, 1, 1, transfer, from, dst);
    repair_wait_pending (fx, false, address, "Credit", id, json, sizeof json);
    repair_node_kill (fx, 2, SIGKILL); //  stopped: its Credit unread, lost with it
    repair_node_kill (fx, 1, SIGKILL);
    repair_node_kill (fx, 0, SIGTERM);
    assert_int_equal (proc_sh (NULL, 0, "rm -rf %s/n2/data", fx->dir), 0);

    //  Text: the summary, then every break with its accounts.
    int rc = proc_sh (out, sizeof out, "%s check --data %s/n1/data --data %s/n3/data --list 2>&1",
                      repair_bin (), fx->dir, fx->dir);
    char expect[600];
    snprintf (expect, sizeof expect,
              "  terminal   transfer/%s is not terminal (journal: no events: its stream is in "
              "none of the stores read, so its saga's node was not given, or is lost); debited "
              "account/%s 10: no saga will credit or refund it, give 10 back to account/%s by "
              "hand\n",
              transfer[0], from, from);
    if (rc != 1 || !strstr (out, expect) || !strstr (out, "breaks (1, by invariant") ||
        !strstr (out, "money          ok") || !strstr (out, "in flight            10") ||
        !strstr (out, "a node lost for good cannot be given: --list names"))
        fail_msg ("check --list over n1 and n3, n2 lost: exit %d, not 1 listing '%s': %s", rc,
                  expect, out);
    //  JSON: the same break, for a script to give the money back.
    rc = proc_sh (out, sizeof out,
                  "%s check --data %s/n1/data --data %s/n3/data --list --json 2>/dev/null",
                  repair_bin (), fx->dir, fx->dir);
    snprintf (expect, sizeof expect,
              "\"breaks\":[{\"invariant\":\"terminal\",\"said\":\"transfer/%s is not "
              "terminal",
              transfer[0]);
    char fields[600];
    snprintf (fields, sizeof fields,
              "\"transfer\":\"%s\",\"stream\":false,\"last\":null,\"from\":null,\"to\":null,"
              "\"amount\":0,\"debits\":1,\"credits\":0,\"refunds\":0,\"debited_from\":"
              "\"account/%s\",\"debited\":10,\"credited_to\":null,\"credited\":0,"
              "\"refunded_to\":null,\"refunded\":0,\"give_back\":{\"account\":\"account/%s\","
              "\"amount\":10}}",
              transfer[0], from, from);
    if (rc != 1 || !strstr (out, expect) || !strstr (out, fields) ||
        !strstr (out, "\"breaks_left_off\":0,\"ok\":false}"))
        fail_msg ("check --list --json, n2 lost: exit %d, not 1 with '%s' and '%s': %s", rc, expect,
                  fields, out);
    //  Without --list: the first break, and where the rest are.
    rc = proc_sh (out, sizeof out, "%s check --data %s/n1/data --data %s/n3/data 2>&1",
                  repair_bin (), fx->dir, fx->dir);
    if (rc != 1 || !strstr (out, "--list names every break") || strstr (out, "breaks ("))
        fail_msg ("check without --list: exit %d: %s", rc, out);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_repair, repair_setup, repair_teardown),
        cmocka_unit_test_setup_teardown (test_owner_down, repair_setup, repair_teardown),
        cmocka_unit_test_setup_teardown (test_lost_node_listed, repair_setup, repair_teardown),
        cmocka_unit_test_setup_teardown (test_why_before_stall, repair_setup_slow_stall,
                                         repair_teardown),
        cmocka_unit_test_setup_teardown (test_full_disk, repair_setup_small_disk, repair_teardown),
    };
    //  SHOAL_TEST_FILTER=test_owner* runs the tests whose names match.
    if (getenv ("SHOAL_TEST_FILTER"))
        cmocka_set_test_filter (getenv ("SHOAL_TEST_FILTER"));
    return cmocka_run_group_tests (tests, NULL, NULL);
}
