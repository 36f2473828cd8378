/*  test_cluster_cli_operators.c - operators' commands on a cluster: stuck work
    timed out, operators and their legacy keys, dead letters of a silent
    node, unanswered work resolved. The fixture: cluster_cli_test_util.h.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cluster.h"
#include "harness.h"
#include "shard.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cluster_cli_test_util.h"

//  --------------------------------------------------------------------------
//  8. The stuck-work commands wait for a node as long as --timeout says:
//     with n2 SIGSTOPped for longer than a cluster client's default wait
//     for a link (2 s), `pending --timeout 60000` and `explain` of an
//     account of n2 get n2's answer once it goes on. Before, both gave up
//     after 2 s, pending saying "did not answer within 60000 ms". And
//     with two nodes stopped, pending waits one --timeout, not two.

//  Starts the shell command made from format in the background, as cluster_cli_run
//  runs it, its stdout and stderr in DIR/NAME.out and DIR/NAME.err.
//  Returns its pid.
static pid_t s_start (fixture_t *fx, const char *name, const char *format, ...)
{
    char command[2048];
    va_list args;
    va_start (args, format);
    cluster_cli_shell (fx, command, name, format, args);
    va_end (args);
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        execl ("/bin/sh", "sh", "-c", command, (char *) NULL);
        _exit (127);
    }
    return pid;
}

//  Waits for pid until deadline (proc_now_ms). Returns its exit code, -1 if
//  it did not exit normally, or -2 if it still runs at the deadline.
static int s_exit_by (pid_t pid, int64_t deadline)
{
    while (true) {
        int status;
        if (waitpid (pid, &status, WNOHANG) == pid)
            return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
        if (proc_now_ms () > deadline)
            return -2;
        usleep (20 * 1000);
    }
}

//  What the background command name wrote, into out and err.
static void s_output (fixture_t *fx, const char *name, char *out, char *err)
{
    char path[160];
    snprintf (path, sizeof path, "%s/%s.out", fx->dir, name);
    proc_read_file (path, out);
    snprintf (path, sizeof path, "%s/%s.err", fx->dir, name);
    proc_read_file (path, err);
}

static void test_stuck_work_timeout (void **state)
{
    fixture_t *fx = *state;
    for (int i = 0; i < NODES; i++)
        cluster_cli_node_start (fx, i);
    cluster_cli_all_links_up (fx);
    cluster_t *cluster = cluster_cli_map (fx);
    char account[64], out[OUTPUT_MAX], err[OUTPUT_MAX];
    cluster_cli_account_of (cluster, 1, account, sizeof account);
    cluster_destroy (&cluster);
    kill (fx->nodes[1], SIGSTOP);
    int64_t started = proc_now_ms ();
    pid_t pending =
        s_start (fx, "pending", "timeout 120 \"$SHOAL\" pending --cluster \"$C\" --timeout 60000");
    pid_t explain =
        s_start (fx, "explain",
                 "timeout 120 \"$SHOAL\" explain --cluster \"$C\" --timeout 60000 %s", account);
    //  n2 stays stopped 5 s, well past the 2 s, unless a command gives up.
    int code = s_exit_by (pending, started + 5000);
    int explained = s_exit_by (explain, started + 5000);
    kill (fx->nodes[1], SIGCONT);
    //  explain first asks through any node: one that has seen n2 silent
    //  for 2 s (a machine so loaded that explain asked that late) says it
    //  is down, and explain says so at once, as resolve does. Else it
    //  waits on n2, as pending does.
    bool said_down = false;
    if (explained == 3) {
        s_output (fx, "explain", out, err);
        said_down = strstr (err, "is down or cut off from this node") != NULL;
        if (said_down)
            explained = -2;
    }
    if (code != -2 || explained != -2) {
        s_output (fx, code != -2 ? "pending" : "explain", out, err);
        fail_msg ("%s gave up after %d ms, n2 stopped and --timeout 60000: exit %d: %s%s",
                  code != -2 ? "pending" : "explain", (int) (proc_now_ms () - started),
                  code != -2 ? code : explained, out, err);
    }
    code = s_exit_by (pending, proc_now_ms () + 90000);
    s_output (fx, "pending", out, err);
    if (code != 0 || strcmp (out, "no command is pending\n") != 0)
        fail_msg ("pending, n2 back: exit %d: %s%s", code, out, err);
    if (said_down) //  asked again, n2 back: it answers
        explain =
            s_start (fx, "explain",
                     "timeout 120 \"$SHOAL\" explain --cluster \"$C\" --timeout 60000 %s", account);
    code = s_exit_by (explain, proc_now_ms () + 90000);
    s_output (fx, "explain", out, err);
    if (code != 0 || !strstr (out, " on node n2, version 0\n"))
        fail_msg ("explain %s, n2 back: exit %d: %s%s", account, code, out, err);

    //  Two nodes stopped: pending asks every node at once, so it says
    //  both silent after one --timeout (6 s), not one after the other
    //  (12 s: it did, a node after the other).
    kill (fx->nodes[1], SIGSTOP);
    kill (fx->nodes[2], SIGSTOP);
    started = proc_now_ms ();
    pending =
        s_start (fx, "pending", "timeout 120 \"$SHOAL\" pending --cluster \"$C\" --timeout 6000");
    code = s_exit_by (pending, started + 10000);
    int64_t took = proc_now_ms () - started;
    if (code == -2)
        code = s_exit_by (pending, proc_now_ms () + 60000);
    kill (fx->nodes[1], SIGCONT);
    kill (fx->nodes[2], SIGCONT);
    s_output (fx, "pending", out, err);
    //  Each said stopped (it took the connection), not down.
    const char *stopped = "within 6000 ms: it took the connection and said nothing: stopped";
    char n2[128], n3[128];
    snprintf (n2, sizeof n2, "node n2 did not answer %s", stopped);
    snprintf (n3, sizeof n3, "node n3 did not answer %s", stopped);
    if (code != 3 || took > 10000 || !strstr (err, n2) || !strstr (err, n3) ||
        strstr (err, "node n1 "))
        fail_msg ("pending, n2 and n3 stopped, --timeout 6000: exit %d after %d ms: %s%s", code,
                  (int) took, out, err);
}

//  --------------------------------------------------------------------------
//  An application's client is not an operator. Any client could resolve a
//  saga's command (with --force, books made wrong on a cluster that was
//  well), re-send, retry or drop dead letters and pause projections:
//  `shoal cluster init` now puts its client.cert in each node's
//  operators/, and the certificates in clients/ alone are refused those
//  acts, not_an_operator, before anything is looked up. (A dead letter's
//  retry or drop is refused by the same check in the front; the command
//  line looks the dead letter up first, and there is none here.)
static void test_operators (void **state)
{
    fixture_t *fx = *state;
    for (int i = 0; i < NODES; i++)
        cluster_cli_node_start (fx, i);
    cluster_cli_all_links_up (fx);
    char out[OUTPUT_MAX], err[OUTPUT_MAX];
    //  An application's certificate (another cluster's) in each node's
    //  clients/, beside a copy of the map.
    assert_int_equal (
        cluster_cli_run (fx, out, err,
                         "timeout 60 \"$SHOAL\" cluster init --nodes 1 --ipc --dir "
                         "\"$DIR/other\" && mkdir \"$DIR/app\" && cp \"$C\" "
                         "\"$DIR\"/other/client.cert* \"$DIR/app/\" && for n in n1 n2 n3; "
                         "do cp \"$DIR/other/client.cert\" \"$DIR/c/$n/clients/app.cert\"; done"),
        0);
    //  It is let in (the nodes read clients/ again), and may send commands.
    int64_t deadline = proc_now_ms () + UP_TIMEOUT_MS;
    int code;
    while ((code = cluster_cli_run (fx, out, err,
                                    "timeout 60 \"$SHOAL\" send --cluster \"$DIR/app/cluster.cfg\" "
                                    "--timeout 5000 account/a Open owner=A")) != 0 &&
           proc_now_ms () < deadline)
        usleep (50 * 1000);
    if (code != 0)
        fail_msg ("the application's client was not let in: exit %d: %s", code, err);
    static const char *acts[] = {
        "resend account/a",
        "resolve account/a 07ae0551c2a954d964f83d510607e427 --reject operator_cancel --reason r",
        "resolve account/a 07ae0551c2a954d964f83d510607e427 --reject operator_cancel --reason r "
        "--force",
        "projections pause bank_totals",
        "projections rebuild large_debits",
    };
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        code = cluster_cli_run (
            fx, out, err,
            "timeout 60 \"$SHOAL\" %s --cluster \"$DIR/app/cluster.cfg\" --timeout 5000", acts[i]);
        if (code == 0 || !strstr (err, "not_an_operator"))
            fail_msg ("shoal %s by an application's client: exit %d, stdout %s, stderr %s", acts[i],
                      code, out, err);
    }
    //  Nothing of it happened: bank_totals still runs.
    assert_int_equal (
        cluster_cli_run (fx, out, err, "timeout 60 \"$SHOAL\" projections --cluster \"$C\" --json"),
        0);
    assert_null (strstr (out, "\"paused\""));
    //  The operator's certificate may: the same acts are taken, or refused
    //  for what they name.
    assert_int_equal (
        cluster_cli_run (fx, out, err, "timeout 60 \"$SHOAL\" resend --cluster \"$C\" account/a"),
        0);
    assert_int_equal (
        cluster_cli_run (fx, out, err,
                         "timeout 60 \"$SHOAL\" projections pause bank_totals --cluster \"$C\""),
        0);
    assert_int_equal (
        cluster_cli_run (fx, out, err,
                         "timeout 60 \"$SHOAL\" projections resume bank_totals --cluster \"$C\""),
        0);
    cluster_cli_run (fx, out, err,
                     "timeout 60 \"$SHOAL\" resolve --cluster \"$C\" account/a "
                     "07ae0551c2a954d964f83d510607e427 --reject operator_cancel --reason r");
    assert_null (strstr (err, "not_an_operator"));
    assert_non_null (strstr (err, "not_pending"));
    //  A plain --endpoint at a cluster's node is never answered (CURVE
    //  only): the command says where to look, not only "no answer".
    //  It gives up once the node ended the handshake, not at its timeout
    //  (it waited all 30 s of it).
    int64_t began = zclock_mono ();
    int plain =
        cluster_cli_run (fx, out, err,
                         "timeout 60 \"$SHOAL\" get --endpoint \"ipc://$DIR/c/n1/client.ipc\" "
                         "--timeout 30000 account/a");
    if (plain != 3 || !strstr (err, "it answers only CURVE clients: use --cluster FILE"))
        fail_msg ("get --endpoint at a cluster's node: exit %d: %s", plain, err);
    if (zclock_mono () - began > 20000)
        fail_msg ("get --endpoint at a cluster's node waited %lld ms of its 30000",
                  (long long) (zclock_mono () - began));
    //  ... and says how long it waited, not the timeout it did not wait.
    if (strstr (err, "within 30000 ms") || !strstr (err, " ms of 30000)"))
        fail_msg ("get --endpoint at a cluster's node, its wait: %s", err);
    //  And a send (it said only "no answer"), its retry line still the
    //  last, which scripts take.
    plain = cluster_cli_run (fx, out, err,
                             "timeout 60 \"$SHOAL\" send --endpoint \"ipc://$DIR/c/n1/client.ipc\" "
                             "--timeout 300 account/a Deposit amount=1");
    const char *hint = strstr (err, "it answers only CURVE clients: use --cluster FILE");
    const char *retry = strstr (err, "Retry safely with: ");
    const char *end = retry ? strchr (retry, '\n') : NULL;
    if (plain != 3 || !hint || !retry || retry < hint || !end || end[1] != 0)
        fail_msg ("send --endpoint at a cluster's node: exit %d: %s", plain, err);
    //  With --cluster given too, --endpoint wins: said so (it told to use
    //  --cluster FILE, which was given).
    plain = cluster_cli_run (fx, out, err,
                             "timeout 60 \"$SHOAL\" get --cluster \"$C\" --endpoint "
                             "\"ipc://$DIR/c/n1/client.ipc\" --timeout 300 account/a");
    if (plain != 3 || !strstr (err, "it answers only CURVE clients: --endpoint was used, not "
                                    "--cluster (--endpoint wins): leave --endpoint out"))
        fail_msg ("get --cluster --endpoint at a cluster's node: exit %d: %s", plain, err);
    //  top and stats alike: the node runs ("nothing listens there", they
    //  said of it).
    plain = cluster_cli_run (fx, out, err,
                             "timeout 60 \"$SHOAL\" top --once --interval 300 --endpoint "
                             "\"ipc://$DIR/c/n1/client.ipc\"");
    if (plain != 3 ||
        !strstr (out, "(it ended the handshake: a cluster's node answers CURVE "
                      "clients alone; use --cluster FILE)") ||
        strstr (out, "nothing"))
        fail_msg ("top --endpoint at a cluster's node: exit %d: %s", plain, out);
}

//  A node of a cluster made before operators/ (its client.cert in
//  clients/, no operators/): every client it lets in is an operator, as
//  then, and it says so at its start; a key in neither directory is still
//  refused (it was let in, as an operator: a review's find).
static void test_operators_legacy (void **state)
{
    fixture_t *fx = *state;
    char out[OUTPUT_MAX], err[OUTPUT_MAX];
    assert_int_equal (
        cluster_cli_run (fx, out, err,
                         "mv \"$DIR/c/n1/operators/client.cert\" \"$DIR/c/n1/clients/\" && "
                         "rmdir \"$DIR/c/n1/operators\" && timeout 60 \"$SHOAL\" cluster init "
                         "--nodes 1 --ipc --dir \"$DIR/other\" && mkdir \"$DIR/stranger\" && "
                         "cp \"$C\" \"$DIR\"/other/client.cert* \"$DIR/stranger/\""),
        0);
    cluster_cli_node_start (fx, 0);
    char log[OUTPUT_MAX], path[160];
    snprintf (path, sizeof path, "%s/n1.log", fx->dir);
    proc_read_file (path, log);
    assert_non_null (strstr (log, "n1/operators: every client is an operator"));
    cluster_t *cluster = cluster_cli_map (fx);
    char address[64];
    cluster_cli_account_of (cluster, 0, address, sizeof address);
    cluster_destroy (&cluster);
    //  The stranger: refused at the handshake, as before operators/.
    int code = cluster_cli_run (fx, out, err,
                                "timeout 60 \"$SHOAL\" get --cluster \"$DIR/stranger/cluster.cfg\" "
                                "--timeout 5000 %s",
                                address);
    if (code != 3 || !strstr (err, "refused this client's key"))
        fail_msg ("a stranger's key on a node without operators/: exit %d: %s %s", code, out, err);
    //  The cluster's own client: let in, and an operator.
    assert_int_equal (
        cluster_cli_run (fx, out, err, "timeout 60 \"$SHOAL\" resend --cluster \"$C\" %s", address),
        0);
}

//  --------------------------------------------------------------------------
//  9. dead-letters retry and drop of an ID the nodes that answered do not
//     list, while a node does not answer (n2 SIGSTOPped): no answer (exit
//     3, naming n2, whose list may hold it), never "no message ... in the
//     dead-letter lists" (exit 1, not_found), which told an operator that
//     a dead letter of a stopped node was not there. The list's JSON names
//     the node too.

static void test_dead_letters_node_silent (void **state)
{
    fixture_t *fx = *state;
    for (int i = 0; i < NODES; i++)
        cluster_cli_node_start (fx, i);
    cluster_cli_all_links_up (fx);
    char out[OUTPUT_MAX], err[OUTPUT_MAX];
    const char *id = "07ae0551c2a954d964f83d510607e427";
    kill (fx->nodes[1], SIGSTOP);
    int code = cluster_cli_run (
        fx, out, err,
        "timeout 60 \"$SHOAL\" dead-letters --cluster \"$C\" --timeout 500 retry --reason test %s",
        id);
    int json = -1;
    char json_out[OUTPUT_MAX] = "", listed[OUTPUT_MAX] = "", other_err[OUTPUT_MAX];
    int list = -1;
    if (code == 3) {
        json = cluster_cli_run (
            fx, json_out, other_err,
            "timeout 60 \"$SHOAL\" dead-letters --cluster \"$C\" --timeout 500 --json "
            "drop --reason test %s",
            id);
        list = cluster_cli_run (
            fx, listed, other_err,
            "timeout 60 \"$SHOAL\" dead-letters --cluster \"$C\" --timeout 500 --json");
    }
    kill (fx->nodes[1], SIGCONT);
    if (code != 3 || !strstr (err, "node n2 did not answer") || strstr (err, "(not_found)"))
        fail_msg ("retry, n2 stopped: exit %d, not 3 naming n2: %s%s", code, out, err);
    if (json != 3 || !strstr (json_out, "\"code\":\"no_answer\"") ||
        !strstr (json_out, "node n2 did not answer"))
        fail_msg ("drop --json, n2 stopped: exit %d: %s", json, json_out);
    //  The list, and why it is short (ok false, as with one endpoint).
    const char *expected = "{\"dead_letters\":[],\"nodes_down\":[\"n2\"],\"nodes_refused\":[],"
                           "\"not_shown\":0,\"ok\":false,\"code\":"
                           "\"no_answer\",\"reason\":\"no answer from node n2 within 500 ms";
    if (list != 3 || strncmp (listed, expected, strlen (expected)) != 0)
        fail_msg ("list --json, n2 stopped: exit %d: %s", list, listed);
    //  Every node answering, the same ID is not found (exit 1).
    code = cluster_cli_run (fx, out, err,
                            "timeout 60 \"$SHOAL\" dead-letters --cluster \"$C\" --timeout 30000 "
                            "retry --reason test %s",
                            id);
    if (code != 1 || !strstr (err, "in the dead-letter lists (shoal dead-letters --all") ||
        !strstr (err, "(not_found)"))
        fail_msg ("retry, every node up: exit %d, not 1 not_found: %s%s", code, out, err);
}

//  --------------------------------------------------------------------------
//  10. A resolve its saga's node does not answer in time (SIGSTOPped) is
//      no answer (exit 3), and says it may be recorded all the same: the
//      node reads the request once it goes on, and the $Resolved is there.
//      It said only "no answer ... timed out", and an operator took the
//      resolve for not done.

static void test_resolve_unanswered (void **state)
{
    fixture_t *fx = *state;
    for (int i = 0; i < NODES; i++)
        cluster_cli_node_start (fx, i);
    cluster_cli_all_links_up (fx);
    cluster_t *cluster = cluster_cli_map (fx);
    char from[64], transfer[64] = "", out[OUTPUT_MAX], err[OUTPUT_MAX];
    cluster_cli_account_of (cluster, 1, from, sizeof from); //  on n2
    for (int i = 0; !transfer[0]; i++) {                    //  a saga on n1
        char address[64];
        snprintf (address, sizeof address, "transfer/r%d", i);
        if (cluster_owner (cluster, shoal_shard (address, cluster_shards (cluster))) == 0)
            snprintf (transfer, sizeof transfer, "r%d", i);
    }
    cluster_destroy (&cluster);
    //  n2 stopped: the transfer's Debit waits.
    kill (fx->nodes[1], SIGSTOP);
    int code = cluster_cli_run (
        fx, out, err, "timeout 60 \"$SHOAL\" transfer --cluster \"$C\" --id %s %s account/b 1",
        transfer, from);
    if (code != 0)
        fail_msg ("transfer: exit %d: %s%s", code, out, err);
    char sender[80], id[33] = "";
    snprintf (sender, sizeof sender, "{\"sender\":\"transfer/%s\",\"command\":\"Debit\"", transfer);
    int64_t deadline = proc_now_ms () + UP_TIMEOUT_MS;
    while (!id[0]) {
        cluster_cli_run (fx, out, err,
                         "timeout 60 \"$SHOAL\" pending --cluster \"$C\" --json --timeout 500");
        const char *row = strstr (out, sender);
        const char *key = row ? strstr (row, "\"id\":\"") : NULL;
        if (key)
            snprintf (id, sizeof id, "%.32s", key + 6);
        else if (proc_now_ms () > deadline)
            fail_msg ("the Debit of transfer/%s never showed pending: %s%s", transfer, out, err);
        else
            usleep (100 * 1000);
    }
    //  n1, the saga's node, stopped too: the resolve waits for it in vain.
    kill (fx->nodes[0], SIGSTOP);
    code = cluster_cli_run (
        fx, out, err,
        "timeout 60 \"$SHOAL\" resolve --cluster \"$C\" --timeout 1000 transfer/%s %s "
        "--reject operator_cancel --reason 'n2 frozen'",
        transfer, id);
    kill (fx->nodes[0], SIGCONT);
    if (code != 3 || !strstr (err, "shoal resolve: no answer about transfer/") ||
        !strstr (err, "it may be recorded all the same") ||
        !strstr (err, "shoal explain transfer/"))
        fail_msg ("resolve, n1 stopped: exit %d: %s%s", code, out, err);
    //  And it is: n1 reads it once it goes on.
    deadline = proc_now_ms () + UP_TIMEOUT_MS;
    while (true) {
        cluster_cli_run (fx, out, err, "timeout 60 \"$SHOAL\" events --cluster \"$C\" transfer/%s",
                         transfer);
        if (strstr (out, "\"$Resolved\"") && strstr (out, "n2 frozen"))
            break;
        if (proc_now_ms () > deadline)
            fail_msg ("the resolve never showed in transfer/%s: %s%s", transfer, out, err);
        usleep (100 * 1000);
    }
    kill (fx->nodes[1], SIGCONT);
}

int main (void)
{
    if (!getenv ("SHOAL_BIN")) {
        fprintf (stderr, "test_cluster_cli_operators: run through ctest (SHOAL_BIN unset)\n");
        return 1;
    }
    signal (SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_stuck_work_timeout, cluster_cli_setup,
                                         cluster_cli_teardown),
        cmocka_unit_test_setup_teardown (test_operators, cluster_cli_setup, cluster_cli_teardown),
        cmocka_unit_test_setup_teardown (test_operators_legacy, cluster_cli_setup,
                                         cluster_cli_teardown),
        cmocka_unit_test_setup_teardown (test_dead_letters_node_silent, cluster_cli_setup,
                                         cluster_cli_teardown),
        cmocka_unit_test_setup_teardown (test_resolve_unanswered, cluster_cli_setup,
                                         cluster_cli_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
