/*  test_cluster_cli_options.c - the command line's cluster options: shoal
    where and its errors, --cluster and --node misused, a node's usage
    errors, nodes down. The fixture: cluster_cli_test_util.h.
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
//  1. shoal where agrees with the map's cluster_owner, from --cluster or
//     $SHOAL_CLUSTER; --json changes nothing.

static void test_where (void **state)
{
    fixture_t *fx = *state;
    cluster_t *cluster = cluster_cli_map (fx);
    const char *addresses[] = {"account/alice", "account/bob", "transfer/t-1",
                               "counter/c",     "account/x",   "account/ü"};
    size_t count = sizeof addresses / sizeof addresses[0];
    char args[512] = "", expected[2048] = "";
    for (size_t i = 0; i < count; i++) {
        uint32_t shard = shoal_shard (addresses[i], cluster_shards (cluster));
        const char *node = cluster_node_name (cluster, cluster_owner (cluster, shard));
        size_t used = strlen (expected);
        snprintf (expected + used, sizeof expected - used,
                  "{\"address\":\"%s\",\"shard\":%u,\"node\":\"%s\"}\n", addresses[i], shard, node);
        used = strlen (args);
        snprintf (args + used, sizeof args - used, " '%s'", addresses[i]);
    }
    char out[OUTPUT_MAX], err[OUTPUT_MAX];
    assert_int_equal (cluster_cli_run (fx, out, err, "\"$SHOAL\" where --cluster \"$C\"%s", args),
                      0);
    assert_string_equal (out, expected);
    assert_string_equal (err, "");
    assert_int_equal (
        cluster_cli_run (fx, out, err, "SHOAL_CLUSTER=\"$C\" \"$SHOAL\" where%s --json", args), 0);
    assert_string_equal (out, expected);
    //  One address, as the brief example has it.
    assert_int_equal (
        cluster_cli_run (fx, out, err, "\"$SHOAL\" where --cluster \"$C\" account/alice"), 0);
    assert_true (strncmp (out, expected, strlen (out)) == 0);
    cluster_destroy (&cluster);
}

//  --------------------------------------------------------------------------
//  2. A bad address, a missing map, no address: exit 2, said clearly,
//     nothing on stdout.

static void test_where_errors (void **state)
{
    fixture_t *fx = *state;
    char out[OUTPUT_MAX], err[OUTPUT_MAX];
    assert_int_equal (
        cluster_cli_run (fx, out, err,
                         "\"$SHOAL\" where --cluster \"$C\" account/a noslash account/b"),
        2);
    assert_string_equal (out, "");
    assert_non_null (strstr (err, "shoal where: 'noslash' is not an address"));

    assert_int_equal (
        cluster_cli_run (fx, out, err, "\"$SHOAL\" where --cluster \"$DIR/nope.cfg\" account/a"),
        2);
    assert_string_equal (out, "");
    char expected[256];
    snprintf (expected, sizeof expected, "shoal where: %s/nope.cfg: cannot open", fx->dir);
    assert_non_null (strstr (err, expected));

    //  No --cluster, no $SHOAL_CLUSTER: cluster/cluster.cfg, from "$DIR".
    assert_int_equal (cluster_cli_run (fx, out, err, "cd \"$DIR\" && \"$SHOAL\" where account/a"),
                      2);
    assert_non_null (strstr (err, "shoal where: cluster/cluster.cfg: cannot open"));
    assert_non_null (strstr (err, "--cluster FILE or $SHOAL_CLUSTER"));

    assert_int_equal (cluster_cli_run (fx, out, err, "\"$SHOAL\" where --cluster \"$C\""), 2);
    assert_non_null (strstr (err, "shoal where: needs an ADDRESS"));
    assert_int_equal (cluster_cli_run (fx, out, err, "\"$SHOAL\" where --help"), 0);
    assert_non_null (strstr (out, "Usage: shoal where"));
    assert_non_null (strstr (out, "Examples:"));
}

//  --------------------------------------------------------------------------
//  3. The client commands with a cluster whose client certificate is
//     missing name the file; --node must name a node of a cluster.

static void test_cluster_option_errors (void **state)
{
    fixture_t *fx = *state;
    char out[OUTPUT_MAX], err[OUTPUT_MAX], cert[256];
    snprintf (cert, sizeof cert, "%s/c/client.cert", fx->dir);
    //  A reaction is one node's: forget names it.
    assert_int_equal (
        cluster_cli_run (fx, out, err,
                         "\"$SHOAL\" projections --cluster \"$C\" --reason r forget bank_totals "
                         "07ae0551c2a954d964f83d510607e427"),
        2);
    assert_string_equal (err, "shoal projections: forget ends one node's reaction: give --node "
                              "NAME (shoal projections --cluster FILE lists each node's)\n");
    assert_int_equal (
        cluster_cli_run (fx, NULL, NULL, "rm \"$DIR/c/client.cert\" \"$DIR/c/client.cert_secret\""),
        0);
    //  Every command that asks nodes: before, pending printed the error
    //  once per node and exited 3, saying the nodes did not answer, and
    //  explain exited 3.
    const char *commands[] = {
        "send --cluster \"$C\" account/a Open owner=A",
        "get account/a --cluster \"$C\"",
        "events --cluster \"$C\" --node n2 account/a",
        "transfer --cluster \"$C\" a b 1",
        "stats --cluster \"$C\"",
        "cluster status --cluster \"$C\"",
        "pending --cluster \"$C\"",
        "pending --json --cluster \"$C\"",
        "explain --cluster \"$C\" account/a",
        "resend --cluster \"$C\" account/a",
        "resolve --cluster \"$C\" account/a 07ae0551c2a954d964f83d510607e427 --reject x "
        "--reason y",
        "dead-letters --cluster \"$C\"",
        "projections --cluster \"$C\"",
        "query --cluster \"$C\" bank_totals totals",
        "top --once --cluster \"$C\"",
        //  $SHOAL_CLUSTER, and --cluster over $SHOAL_ENDPOINT.
        "env SHOAL_CLUSTER=\"$C\" \"$SHOAL\" get account/a",
        "env SHOAL_ENDPOINT=ipc://$DIR/nobody.ipc \"$SHOAL\" get --cluster \"$C\" account/a",
        "env SHOAL_ENDPOINT=ipc://$DIR/nobody.ipc SHOAL_CLUSTER=\"$C\" \"$SHOAL\" get --node n1 "
        "account/a",
    };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        bool own = strncmp (commands[i], "env ", 4) == 0;
        int code = cluster_cli_run (fx, out, err, "timeout 30 %s%s", own ? "" : "\"$SHOAL\" ",
                                    commands[i]);
        if (code != 2 || !strstr (err, cert) || strncmp (err, "shoal ", 6) != 0 ||
            strchr (err, '\n') != err + strlen (err) - 1)
            fail_msg ("%s: exit %d, stderr: %s", commands[i], code, err);
        assert_string_equal (out, "");
    }
    //  --endpoint beats --cluster, and $SHOAL_ENDPOINT beats $SHOAL_CLUSTER:
    //  no certificate needed, and no answer from the endpoint.
    const char *endpoints[] = {
        "\"$SHOAL\" get --timeout 200 --endpoint ipc://$DIR/nobody.ipc --cluster \"$C\" account/a",
        "env SHOAL_ENDPOINT=ipc://$DIR/nobody.ipc SHOAL_CLUSTER=\"$C\" \"$SHOAL\" get --timeout "
        "200 account/a",
    };
    for (size_t i = 0; i < 2; i++) {
        int code = cluster_cli_run (fx, out, err, "timeout 30 %s", endpoints[i]);
        if (code != 3 || !strstr (err, "nobody.ipc within 200 ms"))
            fail_msg ("%s: exit %d, stderr: %s", endpoints[i], code, err);
    }
    assert_int_equal (cluster_cli_run (fx, out, err, "\"$SHOAL\" get --node n1 account/a"), 2);
    assert_non_null (strstr (err, "shoal get: --node names a node of a cluster"));
    assert_int_equal (
        cluster_cli_run (fx, out, err,
                         "\"$SHOAL\" get --endpoint ipc://x --cluster \"$C\" --node n1 a/b"),
        2);
    assert_non_null (strstr (err, "--endpoint talks to one endpoint"));
    assert_int_equal (
        cluster_cli_run (fx, out, err, "\"$SHOAL\" cluster status --cluster \"$DIR/nope.cfg\""), 2);
    assert_non_null (strstr (err, "shoal cluster status: "));
    assert_non_null (strstr (err, "nope.cfg: cannot open"));
    assert_int_equal (cluster_cli_run (fx, out, err, "\"$SHOAL\" cluster status --bogus"), 2);
    assert_non_null (strstr (err, "shoal cluster status: unknown option '--bogus'"));
    assert_int_equal (cluster_cli_run (fx, out, err, "\"$SHOAL\" cluster status --help"), 0);
    assert_non_null (strstr (out, "Usage: shoal cluster status"));
    assert_non_null (strstr (out, "Examples:"));
}

//  --------------------------------------------------------------------------
//  3b. `shoal node --cluster` with options that do not go with the cluster
//      file, or a file it cannot take: a usage error (exit 2; before, 1),
//      said, and nothing made (the node's store is not there).

static void test_node_usage_errors (void **state)
{
    fixture_t *fx = *state;
    static const struct {
        const char *options; //  after "$SHOAL" node --workers 1
        const char *said;
    } cases[] = {
        {"--cluster \"$C\"", "shoal node: --cluster needs --name: which node of "},
        {"--cluster \"$C\" --name n9", "cluster.cfg has no node called n9\n"},
        {"--cluster \"$C\" --name n1 --endpoint \"ipc://$DIR/other.ipc\"",
         "shoal node: --endpoint does not go with --cluster: node n1 listens on ipc://"},
        {"--cluster \"$C\" --name n1 --shards 8", "shoal node: --shards 8 does not go with "},
        {"--cluster \"$DIR/nope.cfg\" --name n1", "nope.cfg: cannot open"},
        //  A FIFO is refused at once (before, the node waited in open()).
        {"--cluster \"$DIR/fifo.cfg\" --name n1", "fifo.cfg: not a regular file"},
        {"--name n1 --data \"$DIR/alone\" --endpoint \"ipc://$DIR/alone.ipc\"",
         "shoal node: --name needs --cluster"},
    };
    char out[OUTPUT_MAX], err[OUTPUT_MAX], data[160], path[160];
    snprintf (data, sizeof data, "%s/c/n1/data", fx->dir);
    snprintf (path, sizeof path, "%s/fifo.cfg", fx->dir);
    assert_int_equal (mkfifo (path, 0600), 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int code = cluster_cli_run (
            fx, out, err, "cd \"$DIR\" && timeout 30 \"$SHOAL\" node --workers 1 --metrics off %s",
            cases[i].options);
        if (code != 2 || !strstr (err, cases[i].said) || strncmp (err, "shoal node: ", 12) != 0)
            fail_msg ("node %s: exit %d, stderr: %s", cases[i].options, code, err);
        assert_string_equal (out, "");
        struct stat st;
        if (stat (data, &st) == 0)
            fail_msg ("node %s made the store %s", cases[i].options, data);
    }

    //  n1/clients a file, not a directory: refused at the start as a
    //  missing one is (before, the node ran and refused every client).
    snprintf (path, sizeof path, "%s/c/n1/clients", fx->dir);
    harness_rm_rf (path);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fclose (file);
    int code =
        cluster_cli_run (fx, out, err,
                         "timeout 30 \"$SHOAL\" node --workers 1 --metrics off --cluster \"$C\" "
                         "--name n1");
    if (code != 1 || !strstr (err, "/c/n1/clients is not a directory"))
        fail_msg ("clients/ a file: exit %d, stderr: %s", code, err);
    assert_string_equal (out, "");
}

//  --------------------------------------------------------------------------
//  4. A node that is not there: --node's cert and map are fine, but
//     nobody answers. --node of no such node is refused.

static void test_nodes_down (void **state)
{
    fixture_t *fx = *state;
    char out[OUTPUT_MAX], err[OUTPUT_MAX];
    assert_int_equal (
        cluster_cli_run (fx, out, err, "\"$SHOAL\" get --cluster \"$C\" --node n9 account/a"), 2);
    assert_non_null (strstr (err, "no node is called n9"));
    int code = cluster_cli_run (
        fx, out, err,
        "timeout 30 \"$SHOAL\" get --cluster \"$C\" --node n2 --timeout 300 account/a");
    assert_int_equal (code, 3);
    assert_non_null (strstr (err, "shoal get: could not reach node n2 of"));
    //  stats and status: every node down, shown so, exit 3.
    code = cluster_cli_run (fx, out, err,
                            "timeout 30 \"$SHOAL\" stats --cluster \"$C\" --timeout 300");
    assert_int_equal (code, 3);
#define NOTHING "no answer in 300 ms (takes no connection)"
    assert_string_equal (out, "{\"nodes\":[{\"node\":\"n1\",\"up\":false,\"error\":\"" NOTHING
                              "\"},{\"node\":\"n2\",\"up\":false,\"error\":\"" NOTHING
                              "\"},{\"node\":\"n3\",\"up\":false,\"error\":\"" NOTHING
                              "\"}],\"sum\":{}}\n");
#undef NOTHING
    //  And says so on stderr, a line a node (it said nothing there).
    assert_non_null (strstr (err, "shoal stats: node n1 ("));
    assert_non_null (
        strstr (err, "): no answer in 300 ms (takes no connection)\nshoal stats: node n2 ("));
    assert_non_null (strstr (err, "shoal stats: node n3 ("));
    code = cluster_cli_run (fx, out, err,
                            "timeout 30 \"$SHOAL\" cluster status --cluster \"$C\" --timeout 300");
    assert_int_equal (code, 3);
    assert_non_null (strstr (out, "0 up, 3 down"));
    assert_non_null (strstr (out, "\nn2       down "));
    code = cluster_cli_run (fx, out, err,
                            "timeout 30 \"$SHOAL\" cluster status --json --timeout 300 "
                            "--cluster \"$C\"");
    assert_int_equal (code, 3);
    assert_non_null (strstr (out, "\"up\":0,\"down\":3"));
    assert_non_null (strstr (out, "\"node\":\"n3\",\"up\":false"));
}

int main (void)
{
    if (!getenv ("SHOAL_BIN")) {
        fprintf (stderr, "test_cluster_cli_options: run through ctest (SHOAL_BIN unset)\n");
        return 1;
    }
    signal (SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_where, cluster_cli_setup, cluster_cli_teardown),
        cmocka_unit_test_setup_teardown (test_where_errors, cluster_cli_setup,
                                         cluster_cli_teardown),
        cmocka_unit_test_setup_teardown (test_cluster_option_errors, cluster_cli_setup,
                                         cluster_cli_teardown),
        cmocka_unit_test_setup_teardown (test_node_usage_errors, cluster_cli_setup,
                                         cluster_cli_teardown),
        cmocka_unit_test_setup_teardown (test_nodes_down, cluster_cli_setup, cluster_cli_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
