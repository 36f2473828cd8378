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
    for (int k = 0; k < 2; k++) {
        char prefix[16];
        snprintf (prefix, sizeof prefix, "ft%d", k);
        repair_id_on (fx, "transfer", prefix, 0, transfer[k], sizeof transfer[k]);
        snprintf (address[k], sizeof address[k], "transfer/%s", transfer[k]);
    }
    //  Their Credits reach n3's socket before n3 is seen down (most runs),
    //  or, on a machine slow enough that n3 was seen down first (3 s after
    //  its SIGSTOP), are dropped for the link seen down and re-sent once it
    //  is up: either way they stay pending, and what follows holds for both
    //  (this was an assertion, and failed the test on a loaded machine).
    int64_t dropped = repair_stat (fx, 0, "dropped");
    kill (fx->pids[2], SIGSTOP);
    repair_transfers (fx, 0, 2, transfer, from, to);
    for (int k = 0; k < 2; k++)
        repair_wait_pending (fx, false, address[k], "Credit", id[k], json, sizeof json);
    print_message ("Credits dropped for n3 seen down before they went: %lld\n",
                   (long long) (repair_stat (fx, 0, "dropped") - dropped));
    repair_wait_link (fx, 0, 2, false);
    //  explain tells a node stopped from one gone: it takes a connection
    //  (explain said "is down", and the operator forced the end).
    assert_int_equal (proc_sh (out, sizeof out, "%s explain --cluster %s --timeout 1000 %s 2>&1",
                               repair_bin (), fx->cfg, address[0]),
                      0);
    if (!strstr (out, "does not answer, but takes a connection: it runs, stopped (SIGSTOP") ||
        strstr (out, "is down"))
        fail_msg ("explain of %s, its Credit's node n3 stopped: %s", address[0], out);
    //  The command line finds n3 taking its connection: --force refused
    //  there, nothing asked (it went through once n3 had been silent
    //  30 s, and the stopped node ran both Credits when it went on: an
    //  operator's review).
    assert_int_equal (proc_sh (out, sizeof out,
                               "%s resolve --cluster %s %s %s --reject node_lost --reason "
                               "paused --force --silent-for 1000 2>&1",
                               repair_bin (), fx->cfg, address[0], id[0]),
                      1);
    if (!strstr (out, "shoal resolve: refused: node n3, the target's, takes this client's "
                      "connection and says nothing") ||
        !strstr (out, "--even-if-reachable forces it all the same") || strstr (out, "WARNING"))
        fail_msg ("--force of a Credit to the stopped n3: %s", out);
    //  Forced all the same, but seen down for less than --silent-for (30 s
    //  by default): refused, too_soon, and nothing ended (still pending).
    assert_int_equal (proc_sh (out, sizeof out,
                               "%s resolve --cluster %s %s %s --reject node_lost --reason "
                               "paused --force --even-if-reachable 2>&1",
                               repair_bin (), fx->cfg, address[0], id[0]),
                      1);
    if (!strstr (out, "too_soon") || !strstr (out, "has been silent") || strstr (out, "WARNING"))
        fail_msg ("--force 2 s after n3 went silent was not refused too_soon: %s", out);
    repair_wait_pending (fx, false, address[0], "Credit", id[0], json, sizeof json);
    for (int k = 0; k < 2; k++) {
        assert_int_equal (proc_sh (out, sizeof out,
                                   "%s resolve --cluster %s %s %s --reject node_lost --reason "
                                   "paused --force --silent-for 1000 --even-if-reachable 2>&1",
                                   repair_bin (), fx->cfg, address[k], id[k]),
                          0);
        assert_non_null (strstr (out, "WARNING: --force ended"));
    }
    kill (fx->pids[2], SIGCONT);
    //  Both $cancels answered, nothing pending. The Credits in n3's socket
    //  ran when it went on (most runs), or went with the connection that
    //  n1's heartbeat closed before n3 read them (ZeroMQ drops what was
    //  not read): then the forced end's $cancel, re-sent, came first and
    //  fenced them off. The count says which, and the books agree.
    repair_wait_none_pending (fx, "the forced ends' $cancels were never answered");
    char log[400], expect[300], account[128];
    snprintf (log, sizeof log, "%s/n1.log", fx->dir);
    snprintf (account, sizeof account, "account/%s", to[0]);
    int ran = repair_count_events (fx, account, "Credited", transfer[0]);
    if (ran) {
        int64_t deadline = zclock_mono () + DEADLINE_MS;
        //  Counted at the release of the batch that handled the answer: a
        //  moment after the command leaves the pending list, asked until then.
        while (repair_stat (fx, 0, "forced_answered") < 1) {
            if (zclock_mono () > deadline)
                fail_msg ("n1 never counted the forced Credit that ran");
            zclock_sleep (100); //  between two asks, within the deadline
        }
        snprintf (expect, sizeof expect, "account/%s ran %s's command %s after all", to[0],
                  address[0], id[0]);
        //  Money gone or made, whichever leg (it said "money made" alone).
        assert_int_equal (proc_sh (out, sizeof out, "grep -c -F \"%s\" %s",
                                   "(a debit that ran, its transfer failed: money gone; a credit "
                                   "that ran, its transfer refunded: money made)",
                                   log),
                          0);
        assert_string_equal (out, "1\n");
    } else
        snprintf (expect, sizeof expect, "account/%s had not run %s's command %s", to[0],
                  address[0], id[0]);
    assert_int_equal (repair_stat (fx, 0, "forced_answered"), ran);
    assert_int_equal (proc_sh (out, sizeof out, "grep -c -F \"%s\" %s", expect, log), 0);
    assert_string_equal (out, "1\n");
    //  The closed account's Credit: refused by its handler, or fenced off;
    //  not counted either way.
    assert_int_equal (proc_sh (out, sizeof out,
                               "grep -c -E 'account/%s had (refused|not run) %s.s command %s' %s",
                               to[1], address[1], id[1], log),
                      0);
    assert_string_equal (out, "1\n");
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
    //  The live tools say it too, and the saga's stream keeps it past a
    //  crash: it was a log line and a count that a restart forgot, while
    //  explain said compensated and cluster status all well (an operator
    //  review's find).
    int rc =
        proc_sh (out, sizeof out, "%s cluster status --cluster %s 2>&1", repair_bin (), fx->cfg);
    if (ran && (rc != 1 || !strstr (out, "1 command ended with resolve --force ran after all")))
        fail_msg ("cluster status after a forced Credit that ran: exit %d: %s", rc, out);
    if (!ran && strstr (out, "ran after all"))
        fail_msg ("cluster status with no forced Credit run: %s", out);
    repair_node_kill (fx, 0, SIGKILL);
    repair_node_start (fx, 0);
    repair_wait_link (fx, 0, 2, true);
    assert_int_equal (proc_sh (out, sizeof out, "%s explain --cluster %s %s 2>&1", repair_bin (),
                               fx->cfg, address[0]),
                      0);
    snprintf (expect, sizeof expect, "$ForcedRan {\"id\":\"%s\",\"target\":\"account/%s\"", id[0],
              to[0]);
    if (ran != (strstr (out, expect) != NULL) || ran != (strstr (out, "CONTRADICTED") != NULL))
        fail_msg ("explain of %s after n1's restart, the Credit %s: %s", address[0],
                  ran ? "run" : "not run", out);
    //  ... naming the command, and what both effects make of the books (a
    //  debit's was said as a credit's: "money made").
    if (ran && (!strstr (out, "CONTRADICTED: its Credit, which an operator ended with resolve "
                              "--force, was run by its target after all ($ForcedRan #") ||
                !strstr (out, "the target credited and the source given back: money made")))
        fail_msg ("explain of %s, its forced Credit run: %s", address[0], out);
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
        //  --accept of a command whose target has not said it cannot
        //  tell whether it ran it: refused, tellable.
        if (k == 0) {
            assert_int_equal (proc_sh (out, sizeof out,
                                       "%s resolve --cluster %s %s %s --accept --reason r 2>&1",
                                       repair_bin (), fx->cfg, address, id),
                              1);
            assert_non_null (strstr (out, "tellable"));
        }
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
    //  explain says only those $cancels wait, and how to drop them (it
    //  said "repair with shoal resend", which re-sends them: an operator's
    //  review). Polled: they stall after --stall-ms.
    int64_t deadline = zclock_mono () + 20000;
    while (true) {
        proc_sh (out, sizeof out, "%s explain --cluster %s --timeout 1000 %s 2>&1", repair_bin (),
                 fx->cfg, address);
        if (strstr (out, "STALLED: only the $cancel of a command ended with resolve --force "
                         "waits, for its target's node"))
            break;
        if (zclock_mono () > deadline)
            fail_msg ("explain of %s, only its $cancels left: %s", address, out);
        zclock_sleep (100); //  between two asks, within the deadline
    }
    assert_null (strstr (out, "repair with shoal resend"));
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
    //  (repair_count_events waits for every link to the restarted n3: a
    //  clean-clone run asked n2 before its link was back, unavailable.)
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

//  True if pending's --json answer holds a row of sender's command whose
//  text (up to the next row) holds text.
static bool s_row_says (const char *json, const char *sender, const char *command, const char *text)
{
    char head[300];
    snprintf (head, sizeof head, "{\"sender\":\"%s\",\"command\":\"%s\"", sender, command);
    const char *row = strstr (json, head);
    if (!row)
        return false;
    const char *next = strstr (row + 1, "{\"sender\":");
    const char *found = strstr (row, text);
    return found && (!next || found < next);
}

//  --------------------------------------------------------------------------
//  The scene of test_resolve_past_retention: n2 paused a moment, shorter
//  than the heartbeat's 2 s (a longer pause can end the connection from
//  n1 before n2 reads the Credits in it: ZeroMQ drops them), three
//  transfers started at once, their Credits in n2's socket, n1 killed, n2
//  going on: it runs them, and their replies are lost.
static void s_credits_run_replies_lost (fixture_t *fx, const char *from, char to[][64],
                                        char account[][128], char transfer[][64],
                                        char address[][128])
{
    for (int k = 0; k < 3; k++) {
        char prefix[16];
        snprintf (prefix, sizeof prefix, "rt%d", k);
        repair_id_on (fx, "transfer", prefix, 0, transfer[k], sizeof transfer[k]);
        snprintf (address[k], sizeof address[k], "transfer/%s", transfer[k]);
    }
    int64_t paused = zclock_mono ();
    kill (fx->pids[1], SIGSTOP);
    //  Asked of n1 alone: a question to n2 would wait for its answer.
    repair_transfers (fx, 0, 3, transfer, from, to);
    for (int k = 0; k < 3; k++) //  debited: the Credit left with that commit
        repair_wait_get_on (fx, 0, address[k], "\"status\":\"debited\"");
    repair_node_kill (fx, 0, SIGKILL);
    kill (fx->pids[1], SIGCONT);
    int64_t pause = zclock_mono () - paused;
    //  n2 has read what n1's connection brought once it sees it end; its
    //  turns on it commit a moment later.
    repair_wait_link (fx, 1, 0, false);
    int ran = 0;
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (ran < 3 && zclock_mono () < deadline) {
        zclock_sleep (100); //  between two asks, within the deadline
        ran = 0;            //  asked of n2 itself: the others may see it down a while yet
        for (int k = 0; k < 3; k++)
            ran += proc_sh (NULL, 0, "%s events --cluster %s --node n2 %s | grep -q '%s'",
                            repair_bin (), fx->cfg, account[k], transfer[k]) == 0;
    }
    if (ran != 3)
        fail_msg ("n2, paused %lld ms, ran %d of the 3 Credits in its socket", (long long) pause,
                  ran);
}

//  --------------------------------------------------------------------------
//  Commands older than their target's inbox retention. Three transfers'
//  Credits ran on n2 while n1 was down (killed: their replies lost), and
//  n2 pruned their records before n1 came back: whether they ran, n2
//  cannot tell. Its answer (expired, to a re-sent Credit or to a $cancel)
//  is not handed to the saga, which would take it for a Credit not run
//  (a $cancel's rejection: the transfer refunded beside the credit that
//  ran, money made); the commands stay pending, said so, for an operator,
//  who looks at the target's events and decides: --accept (it ran: the
//  transfer completes) or --force (here against its events, to show that
//  it is the operator's word), let through though n2 is up. The third is
//  resolved while n2 is paused, so that its $cancel reaches n2 before it
//  has answered the re-sent Credit: the $cancel carries the command's
//  age, and n2 answers it cannot tell rather than record a rejection.
static void test_resolve_past_retention (void **state)
{
    fixture_t *fx = *state;
    char from[64], to[3][64], transfer[3][64], address[3][128], id[3][33], account[3][128];
    char json[65536], out[65536];
    repair_id_on (fx, "account", "rsrc", 0, from, sizeof from);
    repair_open (fx, from, 100);
    for (int k = 0; k < 3; k++) {
        char prefix[16];
        snprintf (prefix, sizeof prefix, "rdst%d", k);
        repair_id_on (fx, "account", prefix, 1, to[k], sizeof to[k]);
        snprintf (account[k], sizeof account[k], "account/%s", to[k]);
        //  Opened only: its one record is in its first event, never
        //  pruned, so that n2's records pruned are the Credits'.
        assert_int_equal (proc_sh (NULL, 0,
                                   "%s send --cluster %s account/%s Open owner=x >/dev/null",
                                   repair_bin (), fx->cfg, to[k]),
                          0);
    }
    s_credits_run_replies_lost (fx, from, to, account, transfer, address);
    //  n2 prunes their records 4.5 s after.
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (repair_stat (fx, 1, "pruned") < 3) {
        if (zclock_mono () > deadline)
            fail_msg ("n2 never pruned the Credits' records: %lld of 3",
                      (long long) repair_stat (fx, 1, "pruned"));
        zclock_sleep (100); //  between two asks, within the deadline
    }
    //  n1 back, n2 paused: the third transfer resolved before n2 answers.
    kill (fx->pids[1], SIGSTOP);
    repair_node_start (fx, 0);
    for (int k = 0; k < 3; k++)
        repair_wait_pending (fx, false, address[k], "Credit", id[k], json, sizeof json);
    assert_int_equal (proc_sh (out, sizeof out,
                               "%s resolve --cluster %s --wait 0 %s %s --reject operator_cancel "
                               "--reason 'its reply was lost' 2>&1",
                               repair_bin (), fx->cfg, address[2], id[2]),
                      0);
    kill (fx->pids[1], SIGCONT);
    //  n2 answers each Credit, or the $cancel, that it cannot tell.
    char log[400];
    snprintf (log, sizeof log, "%s/n1.log", fx->dir);
    deadline = zclock_mono () + DEADLINE_MS;
    for (int k = 0; k < 3; k++)
        while (proc_sh (NULL, 0,
                        "grep -q -E \"cannot tell whether it ran %s's command (Credit )?%s\" %s",
                        address[k], id[k], log) != 0) {
            if (zclock_mono () > deadline)
                fail_msg ("n1 never said n2 cannot tell whether it ran %s's Credit", address[k]);
            zclock_sleep (100); //  between two asks, within the deadline
        }
    for (int i = 1; i < NODES; i++) //  n1 is up as every node sees it
        repair_wait_link (fx, i, 0, true);
    proc_sh (json, sizeof json, "%s pending --cluster %s --json --timeout 1000", repair_bin (),
             fx->cfg);
    for (int k = 0; k < 3; k++) {
        assert_non_null (strstr (json, id[k]));
        assert_int_equal (
            proc_sh (out, sizeof out, "%s get --cluster %s %s", repair_bin (), fx->cfg, address[k]),
            0);
        if (strstr (out, "compensated") || strstr (out, "completed"))
            fail_msg ("%s ended on an answer that could not tell: %s", address[k], out);
    }
    assert_non_null (strstr (json, "its target cannot tell if it ran it"));
    assert_int_equal (
        proc_sh (out, sizeof out, "%s explain --cluster %s %s", repair_bin (), fx->cfg, address[0]),
        0);
    if (!strstr (out, "EXPIRED") || !strstr (out, "--accept (it ran)"))
        fail_msg ("explain of %s did not say what to do: %s", address[0], out);
    //  Nothing of them is sent again, not even by an operator's resend:
    //  the answer would be the same. The third's $cancel, once answered.
    deadline = zclock_mono () + DEADLINE_MS;
    while (!s_row_says (json, address[2], "$cancel", "cannot tell if it ran it")) {
        if (zclock_mono () > deadline)
            fail_msg ("the third's $cancel was never said answered cannot tell: %s", json);
        zclock_sleep (100); //  between two asks, within the deadline
        proc_sh (json, sizeof json, "%s pending --cluster %s --json --timeout 1000", repair_bin (),
                 fx->cfg);
    }
    for (int k = 0; k < 3; k++) {
        assert_int_equal (proc_sh (out, sizeof out, "%s resend --cluster %s --json %s",
                                   repair_bin (), fx->cfg, address[k]),
                          0);
        if (!strstr (out, "\"resent\":0"))
            fail_msg ("resend of %s sent again what cannot be told: %s", address[k], out);
    }
    //  The first: a resolve would get the same answer: refused, untellable.
    assert_int_equal (proc_sh (out, sizeof out,
                               "%s resolve --cluster %s %s %s --reject x --reason r 2>&1",
                               repair_bin (), fx->cfg, address[0], id[0]),
                      1);
    assert_non_null (strstr (out, "untellable"));
    //  Credited is in its events, so it ran: --accept, and it completes;
    //  so does the third, its $cancel pending.
    for (int k = 0; k < 3; k += 2) {
        assert_int_equal (proc_sh (out, sizeof out,
                                   "%s resolve --cluster %s %s %s --accept --reason 'Credited is "
                                   "in its events' 2>&1",
                                   repair_bin (), fx->cfg, address[k], id[k]),
                          0);
        assert_non_null (strstr (out, "ACCEPTED"));
        repair_wait_get (fx, address[k], "\"status\":\"completed\"");
        repair_wait_get (fx, account[k], "\"balance\":10");
    }
    //  The second: --force, n2 up all along.
    assert_int_equal (proc_sh (out, sizeof out,
                               "%s resolve --cluster %s %s %s --reject node_lost --reason "
                               "'the operator said so' --force 2>&1",
                               repair_bin (), fx->cfg, address[1], id[1]),
                      0);
    assert_non_null (strstr (out, "WARNING: --force ended"));
    repair_wait_get (fx, address[1], "\"status\":\"compensated\"");
    repair_wait_none_pending (fx, "the $cancels were never answered after the decisions");
    for (int k = 0; k < 3; k++)
        assert_int_equal (repair_count_events (fx, account[k], "Credited", transfer[k]), 1);
}

//  --------------------------------------------------------------------------
//  A transfer whose refund its source refused (the balance would
//  overflow) waits on a timer of its own, with no command pending:
//  explain said it waited for nothing, "stalled":false beside its
//  state's true (an operator review's find). Its Credit went to a closed
//  account on n3, stopped while the source was topped up.

static void test_refund_refused_explained (void **state)
{
    fixture_t *fx = *state;
    char from[64], to[64], transfer[64], address[128], out[65536];
    repair_id_on (fx, "account", "rsrc", 0, from, sizeof from);
    repair_id_on (fx, "account", "rshut", 2, to, sizeof to);
    repair_id_on (fx, "transfer", "rt", 0, transfer, sizeof transfer);
    repair_open (fx, from, 100);
    repair_open (fx, to, 100);
    assert_int_equal (proc_sh (NULL, 0, "%s send --cluster %s account/%s Close >/dev/null",
                               repair_bin (), fx->cfg, to),
                      0);
    kill (fx->pids[2], SIGSTOP);
    repair_wait_link (fx, 0, 2, false);
    repair_transfer (fx, transfer, from, to); //  10: debited, its Credit waits for n3
    snprintf (address, sizeof address, "transfer/%s", transfer);
    repair_wait_get (fx, address, "\"status\":\"debited\"");
    //  90 + (2^63 - 1 - 95): its refund of 10 would pass 2^63 - 1.
    assert_int_equal (proc_sh (NULL, 0,
                               "%s send --cluster %s account/%s Deposit amount=9223372036854775712 "
                               ">/dev/null",
                               repair_bin (), fx->cfg, from),
                      0);
    kill (fx->pids[2], SIGCONT);
    repair_wait_link (fx, 0, 2, true);
    repair_wait_get (fx, address, "\"stalled\":true");
    assert_int_equal (proc_sh (out, sizeof out, "%s explain --cluster %s %s 2>&1", repair_bin (),
                               fx->cfg, address),
                      0);
    if (!strstr (out, "  waits for: nothing (no command pending)") ||
        !strstr (out, "  STALLED: its state says so, and no command of it waits for an answer: "
                      "it waits on its own timers") ||
        !strstr (out, "Stalled {\"leg\":\"refund\",\"code\":\"overflow\"}"))
        fail_msg ("explain of a transfer whose refund was refused: %s", out);
    assert_int_equal (proc_sh (out, sizeof out, "%s explain --json --cluster %s %s", repair_bin (),
                               fx->cfg, address),
                      0);
    assert_non_null (strstr (out, "\"stalled\":true,\"expired\":false"));
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_forced_then_answered, repair_setup, repair_teardown),
        cmocka_unit_test_setup_teardown (test_force_after_resolve, repair_setup, repair_teardown),
        cmocka_unit_test_setup_teardown (test_refund_refused_explained, repair_setup,
                                         repair_teardown),
        cmocka_unit_test_setup_teardown (test_resolve_past_retention, repair_setup_short_retention,
                                         repair_teardown),
    };
    if (getenv ("SHOAL_TEST_FILTER"))
        cmocka_set_test_filter (getenv ("SHOAL_TEST_FILTER"));
    return cmocka_run_group_tests (tests, NULL, NULL);
}
