/*  test_cluster_cli_nodes.c - the command line with three real nodes: stats of
    every node and cluster status, one of them killed, the retry line, an
    unavailable node with an id. The fixture: cluster_cli_test_util.h.
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

static void test_three_nodes (void **state)
{
    fixture_t *fx = *state;
    for (int i = 0; i < NODES; i++)
        cluster_cli_node_start (fx, i);
    char out[OUTPUT_MAX], err[OUTPUT_MAX];
    cluster_cli_all_links_up (fx);

    //  A client whose key the cluster does not know (another cluster's, in
    //  a copy of the map) is told so at once, by every node, and what to
    //  do; before, it waited out --timeout and said "could not reach".
    assert_int_equal (cluster_cli_run (fx, out, err,
                                       "timeout 60 \"$SHOAL\" cluster init --nodes 1 --ipc --dir "
                                       "\"$DIR/other\" && mkdir \"$DIR/stranger\" && cp \"$C\" "
                                       "\"$DIR\"/other/client.cert* \"$DIR/stranger/\""),
                      0);
    char refused[256];
    snprintf (refused, sizeof refused,
              " refused this client's key: is %s/stranger/client.cert in the cluster's clients? A "
              "node lets in only the certificates in its clients/ directory and its operators/",
              fx->dir);
    //  The same words from every command that asks nodes, once per node
    //  asked on its own: before, pending said each node "did not answer
    //  within 30000 ms: down?", dead-letters, projections and query "no
    //  answer", resend and resolve "no answer ... not authorized".
    static const struct {
        const char *command; //  and its arguments, after --cluster and --timeout
        const char *who;     //  how each line of stderr starts
        int lines;           //  of stderr
        const char *out;     //  in stdout, NULL: nothing on stdout
    } strangers[] = {
        {"get account/a", "shoal get: nodes n", 1, NULL},
        {"get --node n2 account/a", "shoal get: node n2 ", 1, NULL},
        {"send account/a Open owner=X", "shoal send: nodes n", 1, NULL},
        {"pending", "shoal pending: node n", NODES, NULL},
        {"pending --json", "shoal pending: node n", NODES,
         "\"nodes_down\":[],\"nodes_refused\":[\"n1\",\"n2\",\"n3\"]"},
        {"explain account/a", "shoal explain: node n", 1, NULL},
        {"resend account/a", "shoal resend: nodes n", 1, NULL},
        {"resolve account/a 07ae0551c2a954d964f83d510607e427 --reject x --reason y",
         "shoal resolve: nodes n", 1, NULL},
        {"dead-letters", "shoal dead-letters: node n", NODES, NULL},
        {"dead-letters --json", "shoal dead-letters: node n", NODES,
         "\"nodes_down\":[],\"nodes_refused\":[\"n1\",\"n2\",\"n3\"]"},
        {"dead-letters retry --reason test 07ae0551c2a954d964f83d510607e427",
         "shoal dead-letters: node n", NODES, NULL},
        {"projections", "shoal projections: node n", NODES,
         "node n3 (ipc://"}, //  ...): refused this client's key (see above)
        {"projections pause bank_totals", "shoal projections: node n", NODES, NULL},
        {"query bank_totals totals", "shoal query: node n", NODES, NULL},
        {"query --json bank_totals --all", "shoal query: node n", NODES,
         "\"code\":\"key_refused\",\"error\":\"refused this client's key\""},
    };
    for (size_t i = 0; i < sizeof strangers / sizeof strangers[0]; i++) {
        int64_t started = proc_now_ms ();
        size_t name = strcspn (strangers[i].command, " ");
        int refused_code =
            cluster_cli_run (fx, out, err,
                             "timeout 60 \"$SHOAL\" %.*s --cluster "
                             "\"$DIR/stranger/cluster.cfg\" --timeout 30000%s",
                             (int) name, strangers[i].command, strangers[i].command + name);
        int64_t took = proc_now_ms () - started;
        int lines = 0;
        bool said = true;
        for (const char *line = err; *line; lines++) {
            const char *end = strchr (line, '\n');
            end = end ? end : line + strlen (line);
            const char *words = strstr (line, refused);
            said &= strncmp (line, strangers[i].who, strlen (strangers[i].who)) == 0 && words &&
                    words < end;
            line = *end ? end + 1 : end;
        }
        if (refused_code != 3 || took > 10000 || !said || lines != strangers[i].lines)
            fail_msg ("%s as a stranger: exit %d in %d ms: %s", strangers[i].command, refused_code,
                      (int) took, err);
        if (strangers[i].out ? !strstr (out, strangers[i].out) : out[0] != 0)
            fail_msg ("%s as a stranger printed: %s", strangers[i].command, out);
    }
    assert_int_equal (
        cluster_cli_run (fx, out, err,
                         "\"$SHOAL\" cluster status --cluster \"$DIR/stranger/cluster.cfg\""),
        3);
    assert_non_null (strstr (out, "0 up, 3 down\n"));
    assert_int_equal (cluster_cli_count (out, "  refused this client's key\n"), NODES);

    cluster_t *cluster = cluster_cli_map (fx);
    char accounts[NODES][64];
    for (int i = 0; i < NODES; i++)
        cluster_cli_account_of (cluster, i, accounts[i], sizeof accounts[i]);
    cluster_destroy (&cluster);
    //  Through node i, open the account of node i+1 and deposit into that
    //  of node i+2.
    for (int i = 0; i < NODES; i++) {
        const char *opened = accounts[(i + 1) % NODES];
        int code = cluster_cli_run (fx, out, err,
                                    "timeout 30 \"$SHOAL\" send --cluster \"$C\" --node n%d %s "
                                    "Open owner=X",
                                    i + 1, opened);
        if (code != 0)
            fail_msg ("Open %s through n%d: exit %d: %s%s", opened, i + 1, code, out, err);
    }
    for (int i = 0; i < NODES; i++) {
        int code = cluster_cli_run (fx, out, err,
                                    "timeout 30 \"$SHOAL\" send --cluster \"$C\" --node n%d %s "
                                    "Deposit amount=10",
                                    i + 1, accounts[(i + 2) % NODES]);
        if (code != 0)
            fail_msg ("Deposit through n%d: exit %d: %s%s", i + 1, code, out, err);
        assert_non_null (strstr (out, "\"reply\":{\"balance\":10}"));
    }
    //  Any node ($SHOAL_CLUSTER): get, events, a transfer between two
    //  nodes' accounts waited for through a third.
    assert_int_equal (
        cluster_cli_run (fx, out, err, "SHOAL_CLUSTER=\"$C\" \"$SHOAL\" get %s", accounts[0]), 0);
    assert_non_null (strstr (out, "\"balance\":10"));
    assert_int_equal (cluster_cli_run (fx, out, err,
                                       "SHOAL_CLUSTER=\"$C\" \"$SHOAL\" events %s --from 2",
                                       accounts[1]),
                      0);
    assert_string_equal (out, "{\"seq\":2,\"event\":\"Deposited\",\"data\":{\"amount\":10}}\n");
    int code = cluster_cli_run (
        fx, out, err,
        "timeout 60 \"$SHOAL\" transfer --cluster \"$C\" --node n3 --wait --id t-1 %s "
        "%s 4",
        accounts[0], accounts[1]);
    if (code != 0)
        fail_msg ("transfer: exit %d: %s%s", code, out, err);
    assert_non_null (strstr (out, "\"status\":\"completed\""));

    //  stats --cluster: three nodes up, the sum over them.
    code = cluster_cli_run (fx, out, err, "timeout 30 \"$SHOAL\" stats --cluster \"$C\"");
    if (code != 0)
        fail_msg ("stats --cluster: exit %d: %s%s", code, out, err);
    for (int i = 0; i < NODES; i++) {
        char node[64];
        snprintf (node, sizeof node, "{\"node\":\"n%d\",\"up\":true,\"messages\":", i + 1);
        assert_non_null (strstr (out, node));
    }
    assert_non_null (strstr (out, "],\"sum\":{\"messages\":"));
    //  Not a count: -1 (no failure) on each node summed to -3.
    const char *sum = strstr (out, "],\"sum\":{");
    assert_null (strstr (sum, "store_failed_ago_ms"));
    assert_non_null (strstr (out, "\"shards_owned\":256"));
    //  cluster status as text.
    assert_int_equal (cluster_cli_run (fx, out, err, "\"$SHOAL\" cluster status --cluster \"$C\""),
                      0);
    assert_non_null (strstr (out, ": 3 nodes, 256 shards, epoch 1, 3 up, 0 down\n"));
    for (int i = 0; i < NODES; i++) {
        char row[64];
        snprintf (row, sizeof row, "\nn%d       up ", i + 1);
        assert_non_null (strstr (out, row));
    }
    assert_non_null (strstr (out, "      1    2/2 "));

    //  n3 stopped: down, and said to take connections (a stopped node, not
    //  a dead one).
    kill (fx->nodes[2], SIGSTOP);
    code = cluster_cli_run (fx, out, err, "\"$SHOAL\" cluster status --cluster \"$C\"");
    kill (fx->nodes[2], SIGCONT);
    if (code != 3 || !strstr (out, "\nn3       down ") ||
        !strstr (out, "no answer in 1000 ms (connected: stopped or busy)"))
        fail_msg ("cluster status, n3 stopped: exit %d: %s", code, out);

    //  n3 killed: shown down (exit 3), the others cannot reach it; an
    //  account it owns is unavailable through n1, at once, naming it.
    cluster_cli_node_kill (fx, 2);
    cluster_cli_status_until (fx, 3, "\"up\":2,\"down\":1", out);
    assert_non_null (strstr (out, "\"node\":\"n3\",\"up\":false"));
    assert_non_null (
        strstr (out, "{\"ok\":false,\"code\":\"no_answer\",\"reason\":\"n3: no answer in "));
    int64_t deadline = proc_now_ms () + UP_TIMEOUT_MS;
    while (true) {
        code = cluster_cli_run (
            fx, out, err,
            "timeout 30 \"$SHOAL\" send --cluster \"$C\" --node n1 --timeout 5000 %s "
            "Deposit amount=1",
            accounts[2]);
        if (code == 1 && strstr (out, "\"code\":\"unavailable\""))
            break;
        if (proc_now_ms () > deadline)
            fail_msg ("no unavailable from n1 for %s: exit %d: %s%s", accounts[2], code, out, err);
        usleep (50 * 1000);
    }
    assert_non_null (strstr (out, "node n3"));
    code = cluster_cli_run (fx, out, err, "\"$SHOAL\" cluster status --cluster \"$C\"");
    assert_int_equal (code, 3);
    assert_non_null (strstr (out, "2 up, 1 down\n"));
    assert_non_null (strstr (out, "\nn3       down "));
    //  Killed, not stopped: nothing takes a connection there (the two were
    //  said alike).
    assert_non_null (strstr (out, "no answer in 1000 ms (takes no connection)"));
    code = cluster_cli_run (fx, out, err, "\"$SHOAL\" stats --cluster \"$C\"");
    assert_int_equal (code, 3);
    assert_non_null (strstr (out, "{\"node\":\"n3\",\"up\":false,\"error\":\"no answer in 1000 ms "
                                  "(takes no connection)\"}"));
}

//  --------------------------------------------------------------------------
//  6. The retry line through a cluster: a send that had no answer in time
//     (its actor's owner n2 SIGSTOPped, the node it went through
//     forwarding to it) prints a line with the cluster file, and --node as
//     given ($SHOAL_CLUSTER made explicit), and that line, run by sh -c
//     once n2 goes on and ran the first request, is answered as that
//     request's duplicate: exit 0, one event.

//  Runs command (a send with --timeout 300 in it) with n2 stopped until it
//  exits 3 (a node that took n2 for down answers
//  `unavailable` at once: then it waits for the links and tries again).
//  Returns its retry line, in err, less its "shoal ".
static char *s_retry_line (fixture_t *fx, char *err, const char *command)
{
    char out[OUTPUT_MAX];
    const char *prefix = "Retry safely with: shoal ";
    int64_t deadline = proc_now_ms () + UP_TIMEOUT_MS;
    while (true) {
        kill (fx->nodes[1], SIGSTOP);
        int code = cluster_cli_run (fx, out, err, "timeout 30 %s", command);
        kill (fx->nodes[1], SIGCONT);
        if (code == 3)
            break;
        if (code != 1 || !strstr (out, "\"code\":\"unavailable\"") || proc_now_ms () > deadline)
            fail_msg ("send %s: exit %d, not 3: %s%s", command, code, out, err);
        cluster_cli_all_links_up (fx);
    }
    char *line = strstr (err, prefix);
    if (!line)
        fail_msg ("no retry line: %s", err);
    line += strlen (prefix);
    char *end = strchr (line, '\n');
    if (end)
        *end = 0;
    return line;
}

//  Runs the retry line through sh -c, its --timeout 300 made 10000 (the
//  machine may be busy), with nothing on stdin. Returns its exit code,
//  its stdout in out.
static int s_run_retry (fixture_t *fx, char *out, const char *line)
{
    const char *timeout = strstr (line, " --timeout 300 ");
    assert_non_null (timeout);
    char path[160];
    snprintf (path, sizeof path, "%s/retry.sh", fx->dir);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fprintf (file, "timeout 30 \"$SHOAL\" %.*s --timeout 10000 %s\n", (int) (timeout - line), line,
             timeout + strlen (" --timeout 300 "));
    fclose (file);
    return cluster_cli_run (fx, out, NULL,
                            "SHOAL=\"$SHOAL\" sh -c \"$(cat \"$DIR/retry.sh\")\" </dev/null");
}

//  Polls `get` of address until its output has want, against a deadline.
static void s_get_until (fixture_t *fx, const char *address, const char *want)
{
    char out[OUTPUT_MAX];
    int64_t deadline = proc_now_ms () + UP_TIMEOUT_MS;
    while (cluster_cli_run (fx, out, NULL, "timeout 30 \"$SHOAL\" get --cluster \"$C\" %s",
                            address) != 0 ||
           !strstr (out, want)) {
        if (proc_now_ms () > deadline)
            fail_msg ("get %s: no %s in %s", address, want, out);
        usleep (50 * 1000);
    }
}

static void test_retry_line (void **state)
{
    fixture_t *fx = *state;
    for (int i = 0; i < NODES; i++)
        cluster_cli_node_start (fx, i);
    cluster_cli_all_links_up (fx);
    cluster_t *cluster = cluster_cli_map (fx);
    char account[64], out[OUTPUT_MAX], err[OUTPUT_MAX], expect[512];
    cluster_cli_account_of (cluster, 1, account, sizeof account);
    cluster_destroy (&cluster);

    //  --cluster and --node n1, after the arguments. A second Open would
    //  be refused: exit 0 is the first one's reply.
    char command[512];
    snprintf (command, sizeof command,
              "\"$SHOAL\" send %s Open owner=X --timeout 300 --cluster \"$C\" --node n1", account);
    char *line = s_retry_line (fx, err, command);
    snprintf (expect, sizeof expect, "--cluster %s --node n1 --timeout 300 %s Open owner=X",
              fx->cluster, account);
    if (!strstr (line, expect))
        fail_msg ("expected '%s' in: %s", expect, line);
    s_get_until (fx, account, "\"version\":1,"); //  n2 ran the first one
    assert_int_equal (s_run_retry (fx, out, line), 0);
    assert_non_null (strstr (out, "\"reply\":{\"balance\":0}"));

    //  $SHOAL_CLUSTER, any node (n1 or n3 forwards): the line names the
    //  file, and no node. A second Deposit would make 10.
    snprintf (command, sizeof command,
              "env SHOAL_CLUSTER=\"$C\" \"$SHOAL\" send --timeout 300 %s Deposit amount=5",
              account);
    line = s_retry_line (fx, err, command);
    snprintf (expect, sizeof expect, "--cluster %s --timeout 300 %s Deposit amount=5", fx->cluster,
              account);
    if (!strstr (line, expect) || strstr (line, "--node"))
        fail_msg ("expected '%s' and no --node in: %s", expect, line);
    //  It names the owner, from the map (it said "no answer from any
    //  node" alone, while two of the three answered).
    snprintf (expect, sizeof expect,
              "within 300 ms (%s is node n2's, by the cluster's map: it may be stopped, frozen "
              "or cut off); the command may still take effect",
              account);
    if (!strstr (err, expect))
        fail_msg ("expected '%s' in: %s", expect, err);
    s_get_until (fx, account, "\"version\":2,");
    assert_int_equal (s_run_retry (fx, out, line), 0);
    assert_non_null (strstr (out, "\"reply\":{\"balance\":5}"));
    assert_int_equal (
        cluster_cli_run (fx, out, err, "timeout 30 \"$SHOAL\" events --cluster \"$C\" %s", account),
        0);
    assert_int_equal (cluster_cli_count (out, "\"Opened\""), 1);
    assert_int_equal (cluster_cli_count (out, "\"Deposited\""), 1);
}

//  --------------------------------------------------------------------------
//  7. An attempt refused `unavailable` under the caller's --id is not a
//     refusal of the command: an earlier attempt, forwarded before the
//     owner (n2, SIGSTOPped) was taken for down, runs when it goes on. So
//     send exits 3 with the retry, never 1; without --id (an id chosen and
//     sent once) the refusal stands, and nothing of it runs. Before, the
//     retry exited 1 and the Deposit ran: a client that believed it and
//     sent again under a new id would deposit twice.

static void test_unavailable_with_id (void **state)
{
    fixture_t *fx = *state;
    //  The nodes start with $SHOAL_ENDPOINT exported for the clients, as
    //  the README's quick start has it: a node of a cluster listens where
    //  its map says (it refused to start: "--endpoint does not go with
    //  --cluster").
    setenv ("SHOAL_ENDPOINT", "ipc:///nowhere/for/the/nodes", 1);
    for (int i = 0; i < NODES; i++)
        cluster_cli_node_start (fx, i);
    unsetenv ("SHOAL_ENDPOINT");
    cluster_cli_all_links_up (fx);
    cluster_t *cluster = cluster_cli_map (fx);
    char account[64], out[OUTPUT_MAX], err[OUTPUT_MAX];
    cluster_cli_account_of (cluster, 1, account, sizeof account);
    cluster_destroy (&cluster);
    assert_int_equal (
        cluster_cli_run (fx, out, err,
                         "timeout 30 \"$SHOAL\" send --cluster \"$C\" %s Open owner=X", account),
        0);
    kill (fx->nodes[1], SIGSTOP);
    const char *send = "timeout 30 \"$SHOAL\" send --cluster \"$C\" --node n1 --timeout 300 "
                       "--id dep-1 %s Deposit amount=5";
    int code = cluster_cli_run (fx, out, err, send, account);
    if (code != 3) //  no answer: forwarded to n2, or not sent in time
        fail_msg ("the first attempt: exit %d, not 3 (no answer): %s%s", code, out, err);
    int64_t deadline = proc_now_ms () + UP_TIMEOUT_MS;
    while (!strstr (out, "\"code\":\"unavailable\"")) {
        if (proc_now_ms () > deadline)
            fail_msg ("n1 never took n2 for down: %s%s", out, err);
        usleep (50 * 1000);
        code = cluster_cli_run (fx, out, err, send, account);
        if (code != 3)
            fail_msg ("a retry under --id: exit %d, not 3: %s%s", code, out, err);
    }
    assert_non_null (strstr (err, "an earlier attempt under id dep-1 may still take effect"));
    assert_non_null (strstr (err, "Retry safely with: shoal send"));
    //  No --id: refused, exit 1, and it never runs (n1 takes n2 for down
    //  now: an attempt not sent in time, exit 3, is made again).
    deadline = proc_now_ms () + UP_TIMEOUT_MS;
    do
        code = cluster_cli_run (
            fx, out, err,
            "timeout 30 \"$SHOAL\" send --cluster \"$C\" --node n1 --timeout 2000 %s "
            "Deposit amount=7",
            account);
    while (code == 3 && proc_now_ms () < deadline);
    if (code != 1 || !strstr (out, "\"code\":\"unavailable\""))
        fail_msg ("without --id: exit %d, not 1 unavailable: %s%s", code, out, err);
    kill (fx->nodes[1], SIGCONT);
    //  The first attempt runs once n2 goes on, if it reached n2 (on a
    //  loaded machine its client may not have had its link to n1 within
    //  the 300 ms); the same id again then gets its reply, or runs it now:
    //  one Deposited either way, and the refused one without --id none.
    cluster_cli_all_links_up (fx);
    code = cluster_cli_run (fx, out, err,
                            "timeout 30 \"$SHOAL\" send --cluster \"$C\" --node n1 --id dep-1 %s "
                            "Deposit amount=5",
                            account);
    assert_int_equal (code, 0);
    assert_non_null (strstr (out, "\"reply\":{\"balance\":5}"));
    assert_int_equal (
        cluster_cli_run (fx, out, err, "timeout 30 \"$SHOAL\" events --cluster \"$C\" %s", account),
        0);
    assert_int_equal (cluster_cli_count (out, "\"Deposited\""), 1);
}

int main (void)
{
    if (!getenv ("SHOAL_BIN")) {
        fprintf (stderr, "test_cluster_cli_nodes: run through ctest (SHOAL_BIN unset)\n");
        return 1;
    }
    signal (SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_three_nodes, cluster_cli_setup, cluster_cli_teardown),
        cmocka_unit_test_setup_teardown (test_retry_line, cluster_cli_setup, cluster_cli_teardown),
        cmocka_unit_test_setup_teardown (test_unavailable_with_id, cluster_cli_setup,
                                         cluster_cli_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
