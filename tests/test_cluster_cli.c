/*  test_cluster_cli.c - process tests of the command line with a cluster:
    `shoal where`, `--cluster` and `--node` on the client commands and in
    their retry line, `shoal stats --cluster` and `shoal cluster status`,
    how long `pending` and `explain` wait for a stopped node, what
    `dead-letters retry` says of an ID while a node does not answer, what
    `resolve` says when the saga's node does not answer, which acts only
    an operator's certificate may do, and what
    every command that asks nodes says of a client certificate that is
    missing (exit 2) or that the nodes refuse (exit 3),
    run as users run them: the real binary ($SHOAL_BIN) through /bin/sh.

    Each test has its own temporary directory with a cluster made by
    `shoal cluster init --ipc` in DIR/c: its nodes listen on ipc:// paths
    there, where no other process can reach them. A test waits for a
    condition by polling it against a deadline. The teardown kills the
    nodes and removes the directory.
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

#define NODES 3
#define START_TIMEOUT_MS 20000 //  a node's ready line (ASan start-up is slow)
#define UP_TIMEOUT_MS 20000    //  every peer link up, or a dead node seen down
#define OUTPUT_MAX 16384       //  bytes kept of a command's stdout or stderr

typedef struct {
    char dir[64];       //  the test's temporary directory
    char cluster[128];  //  dir/c/cluster.cfg
    pid_t nodes[NODES]; //  running nodes n1..n3, or 0
} fixture_t;

static const char *s_bin (void)
{
    const char *bin = getenv ("SHOAL_BIN");
    assert_non_null (bin);
    return bin;
}

static int64_t s_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

//  Reads what path holds into buffer (OUTPUT_MAX bytes); "" if missing.
static void s_read (const char *path, char *buffer)
{
    buffer[0] = 0;
    FILE *file = fopen (path, "r");
    if (!file)
        return;
    size_t n = fread (buffer, 1, OUTPUT_MAX - 1, file);
    buffer[n] = 0;
    fclose (file);
}

//  Runs the shell command made from format with $SHOAL (the binary), $DIR
//  (the test's directory) and $C (the cluster file) set, stdout and stderr
//  kept in out and err (may be NULL). Returns its exit code, or -1 if it
//  did not exit.
//  Makes into command (2048 bytes) the shell command of format and args,
//  with $SHOAL, $DIR and $C set, its stdout and stderr into DIR/NAME.out
//  and DIR/NAME.err.
static void s_shell (fixture_t *fx, char *command, const char *name, const char *format,
                     va_list args)
{
    char text[1536];
    int length = vsnprintf (text, sizeof text, format, args);
    assert_true (length > 0 && (size_t) length < sizeof text);
    snprintf (command, 2048,
              "unset SHOAL_ENDPOINT SHOAL_CLUSTER; SHOAL='%s' DIR='%s' C='%s'; (%s) >'%s/%s.out' "
              "2>'%s/%s.err'",
              s_bin (), fx->dir, fx->cluster, text, fx->dir, name, fx->dir, name);
}

static int s_run (fixture_t *fx, char *out, char *err, const char *format, ...)
{
    char command[2048];
    va_list args;
    va_start (args, format);
    s_shell (fx, command, "run", format, args);
    va_end (args);
    int status = system (command);
    char path[160];
    if (out) {
        snprintf (path, sizeof path, "%s/run.out", fx->dir);
        s_read (path, out);
    }
    if (err) {
        snprintf (path, sizeof path, "%s/run.err", fx->dir);
        s_read (path, err);
    }
    return status != -1 && WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

static int s_setup (void **state)
{
    fixture_t *fx = calloc (1, sizeof (fixture_t));
    assert_non_null (fx);
    snprintf (fx->dir, sizeof fx->dir, "/tmp/shoal-test-ccli-XXXXXX");
    assert_non_null (mkdtemp (fx->dir));
    snprintf (fx->cluster, sizeof fx->cluster, "%s/c/cluster.cfg", fx->dir);
    char out[OUTPUT_MAX], err[OUTPUT_MAX];
    int code =
        s_run (fx, out, err, "timeout 60 \"$SHOAL\" cluster init --nodes %d --dir \"$DIR/c\" --ipc",
               NODES);
    if (code != 0)
        fail_msg ("cluster init: exit %d: %s", code, err);
    *state = fx;
    return 0;
}

static void s_node_kill (fixture_t *fx, int i)
{
    if (fx->nodes[i] > 0) {
        kill (fx->nodes[i], SIGKILL);
        waitpid (fx->nodes[i], NULL, 0);
        fx->nodes[i] = 0;
    }
}

static int s_teardown (void **state)
{
    fixture_t *fx = *state;
    for (int i = 0; i < NODES; i++)
        s_node_kill (fx, i);
    harness_rm_rf (fx->dir);
    free (fx);
    return 0;
}

//  The cluster's map, loaded as the nodes load it.
static cluster_t *s_map (fixture_t *fx)
{
    char *error = NULL;
    cluster_t *cluster = cluster_load (fx->cluster, &error);
    if (!cluster)
        fail_msg ("cluster_load: %s", error ? error : "?");
    return cluster;
}

//  Sets address (size bytes) to an account that node owner owns.
static void s_account_of (const cluster_t *cluster, int owner, char *address, size_t size)
{
    for (int i = 0; i < 10000; i++) {
        snprintf (address, size, "account/a%d", i);
        if (cluster_owner (cluster, shoal_shard (address, cluster_shards (cluster))) == owner)
            return;
    }
    fail_msg ("no account of node %d among 10000", owner);
}

//  --------------------------------------------------------------------------
//  1. shoal where agrees with the map's cluster_owner, from --cluster or
//     $SHOAL_CLUSTER; --json changes nothing.

static void test_where (void **state)
{
    fixture_t *fx = *state;
    cluster_t *cluster = s_map (fx);
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
    assert_int_equal (s_run (fx, out, err, "\"$SHOAL\" where --cluster \"$C\"%s", args), 0);
    assert_string_equal (out, expected);
    assert_string_equal (err, "");
    assert_int_equal (s_run (fx, out, err, "SHOAL_CLUSTER=\"$C\" \"$SHOAL\" where%s --json", args),
                      0);
    assert_string_equal (out, expected);
    //  One address, as the brief example has it.
    assert_int_equal (s_run (fx, out, err, "\"$SHOAL\" where --cluster \"$C\" account/alice"), 0);
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
        s_run (fx, out, err, "\"$SHOAL\" where --cluster \"$C\" account/a noslash account/b"), 2);
    assert_string_equal (out, "");
    assert_non_null (strstr (err, "shoal where: 'noslash' is not an address"));

    assert_int_equal (
        s_run (fx, out, err, "\"$SHOAL\" where --cluster \"$DIR/nope.cfg\" account/a"), 2);
    assert_string_equal (out, "");
    char expected[256];
    snprintf (expected, sizeof expected, "shoal where: %s/nope.cfg: cannot open", fx->dir);
    assert_non_null (strstr (err, expected));

    //  No --cluster, no $SHOAL_CLUSTER: cluster/cluster.cfg, from "$DIR".
    assert_int_equal (s_run (fx, out, err, "cd \"$DIR\" && \"$SHOAL\" where account/a"), 2);
    assert_non_null (strstr (err, "shoal where: cluster/cluster.cfg: cannot open"));
    assert_non_null (strstr (err, "--cluster FILE or $SHOAL_CLUSTER"));

    assert_int_equal (s_run (fx, out, err, "\"$SHOAL\" where --cluster \"$C\""), 2);
    assert_non_null (strstr (err, "shoal where: needs an ADDRESS"));
    assert_int_equal (s_run (fx, out, err, "\"$SHOAL\" where --help"), 0);
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
    assert_int_equal (
        s_run (fx, NULL, NULL, "rm \"$DIR/c/client.cert\" \"$DIR/c/client.cert_secret\""), 0);
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
        int code = s_run (fx, out, err, "timeout 30 %s%s", own ? "" : "\"$SHOAL\" ", commands[i]);
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
        int code = s_run (fx, out, err, "timeout 30 %s", endpoints[i]);
        if (code != 3 || !strstr (err, "nobody.ipc within 200 ms"))
            fail_msg ("%s: exit %d, stderr: %s", endpoints[i], code, err);
    }
    assert_int_equal (s_run (fx, out, err, "\"$SHOAL\" get --node n1 account/a"), 2);
    assert_non_null (strstr (err, "shoal get: --node names a node of a cluster"));
    assert_int_equal (
        s_run (fx, out, err, "\"$SHOAL\" get --endpoint ipc://x --cluster \"$C\" --node n1 a/b"),
        2);
    assert_non_null (strstr (err, "--endpoint talks to one endpoint"));
    assert_int_equal (s_run (fx, out, err, "\"$SHOAL\" cluster status --cluster \"$DIR/nope.cfg\""),
                      2);
    assert_non_null (strstr (err, "shoal cluster status: "));
    assert_non_null (strstr (err, "nope.cfg: cannot open"));
    assert_int_equal (s_run (fx, out, err, "\"$SHOAL\" cluster status --bogus"), 2);
    assert_non_null (strstr (err, "shoal cluster status: unknown option '--bogus'"));
    assert_int_equal (s_run (fx, out, err, "\"$SHOAL\" cluster status --help"), 0);
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
        int code = s_run (fx, out, err,
                          "cd \"$DIR\" && timeout 30 \"$SHOAL\" node --workers 1 --metrics off %s",
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
    int code = s_run (fx, out, err,
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
    assert_int_equal (s_run (fx, out, err, "\"$SHOAL\" get --cluster \"$C\" --node n9 account/a"),
                      2);
    assert_non_null (strstr (err, "no node is called n9"));
    int code =
        s_run (fx, out, err,
               "timeout 30 \"$SHOAL\" get --cluster \"$C\" --node n2 --timeout 300 account/a");
    assert_int_equal (code, 3);
    assert_non_null (strstr (err, "shoal get: could not reach node n2 of"));
    //  stats and status: every node down, shown so, exit 3.
    code = s_run (fx, out, err, "timeout 30 \"$SHOAL\" stats --cluster \"$C\" --timeout 300");
    assert_int_equal (code, 3);
    assert_string_equal (out,
                         "{\"nodes\":[{\"node\":\"n1\",\"up\":false,\"error\":\"no answer in "
                         "300 ms\"},{\"node\":\"n2\",\"up\":false,\"error\":\"no answer in 300 "
                         "ms\"},{\"node\":\"n3\",\"up\":false,\"error\":\"no answer in 300 "
                         "ms\"}],\"sum\":{}}\n");
    code =
        s_run (fx, out, err, "timeout 30 \"$SHOAL\" cluster status --cluster \"$C\" --timeout 300");
    assert_int_equal (code, 3);
    assert_non_null (strstr (out, "0 up, 3 down"));
    assert_non_null (strstr (out, "\nn2       down "));
    code = s_run (fx, out, err,
                  "timeout 30 \"$SHOAL\" cluster status --json --timeout 300 "
                  "--cluster \"$C\"");
    assert_int_equal (code, 3);
    assert_non_null (strstr (out, "\"up\":0,\"down\":3"));
    assert_non_null (strstr (out, "\"node\":\"n3\",\"up\":false"));
}

//  --------------------------------------------------------------------------
//  5. Three nodes: commands through each node to accounts the others own;
//     stats and status see three up; a node killed is seen down, and a
//     command for an account it owns is answered `unavailable`, naming it.

//  Starts node i and waits for its ready line.
static void s_node_start (fixture_t *fx, int i)
{
    char command[1024], out_path[160], log_path[160];
    snprintf (out_path, sizeof out_path, "%s/n%d.out", fx->dir, i + 1);
    snprintf (log_path, sizeof log_path, "%s/n%d.log", fx->dir, i + 1);
    snprintf (command, sizeof command,
              "exec '%s' node --cluster '%s' --name n%d --workers 1 >'%s' 2>>'%s'", s_bin (),
              fx->cluster, i + 1, out_path, log_path);
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        if (chdir ("/") == 0)
            execl ("/bin/sh", "sh", "-c", command, (char *) NULL);
        _exit (127);
    }
    fx->nodes[i] = pid;
    int64_t deadline = s_now_ms () + START_TIMEOUT_MS;
    char ready[OUTPUT_MAX];
    while (true) {
        s_read (out_path, ready);
        if (strstr (ready, "ready on ") && strchr (ready, '\n'))
            return;
        int status;
        bool ended = waitpid (pid, &status, WNOHANG) == pid;
        if (ended || s_now_ms () > deadline) {
            if (ended)
                fx->nodes[i] = 0;
            char log[OUTPUT_MAX];
            s_read (log_path, log);
            fail_msg ("node n%d %s: %s", i + 1, ended ? "exited" : "did not start in time", log);
        }
        usleep (20 * 1000);
    }
}

//  How many times needle is in text.
static int s_count (const char *text, const char *needle)
{
    int count = 0;
    for (const char *at = strstr (text, needle); at; at = strstr (at + 1, needle))
        count++;
    return count;
}

//  Polls `cluster status --json` until its exit code is code and its output
//  has want, against a deadline. Leaves the last output in out.
static void s_status_until (fixture_t *fx, int code, const char *want, char *out)
{
    int64_t deadline = s_now_ms () + UP_TIMEOUT_MS;
    char err[OUTPUT_MAX];
    int last;
    while ((last = s_run (fx, out, err,
                          "timeout 30 \"$SHOAL\" cluster status --json --cluster \"$C\"")) !=
               code ||
           !strstr (out, want)) {
        if (s_now_ms () > deadline)
            fail_msg ("cluster status: exit %d, not %d with %s: %s%s", last, code, want, out, err);
        usleep (50 * 1000);
    }
}

//  Waits until every node is up with both its links up.
static void s_all_links_up (fixture_t *fx)
{
    char out[OUTPUT_MAX];
    int64_t deadline = s_now_ms () + UP_TIMEOUT_MS;
    s_status_until (fx, 0, "\"up\":3,\"down\":0", out);
    while (s_count (out, "\"peers_up\":2") != NODES) {
        if (s_now_ms () > deadline)
            fail_msg ("the peer links did not come up: %s", out);
        usleep (50 * 1000);
        s_status_until (fx, 0, "\"up\":3,\"down\":0", out);
    }
}

static void test_three_nodes (void **state)
{
    fixture_t *fx = *state;
    for (int i = 0; i < NODES; i++)
        s_node_start (fx, i);
    char out[OUTPUT_MAX], err[OUTPUT_MAX];
    s_all_links_up (fx);

    //  A client whose key the cluster does not know (another cluster's, in
    //  a copy of the map) is told so at once, by every node, and what to
    //  do; before, it waited out --timeout and said "could not reach".
    assert_int_equal (s_run (fx, out, err,
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
        {"dead-letters retry 07ae0551c2a954d964f83d510607e427", "shoal dead-letters: node n", NODES,
         NULL},
        {"projections", "shoal projections: node n", NODES,
         "node n3 (ipc://"}, //  ...): refused this client's key (see above)
        {"projections pause bank_totals", "shoal projections: node n", NODES, NULL},
        {"query bank_totals totals", "shoal query: node n", NODES, NULL},
        {"query --json bank_totals --all", "shoal query: node n", NODES,
         "\"code\":\"key_refused\",\"error\":\"refused this client's key\""},
    };
    for (size_t i = 0; i < sizeof strangers / sizeof strangers[0]; i++) {
        int64_t started = s_now_ms ();
        size_t name = strcspn (strangers[i].command, " ");
        int refused_code = s_run (fx, out, err,
                                  "timeout 60 \"$SHOAL\" %.*s --cluster "
                                  "\"$DIR/stranger/cluster.cfg\" --timeout 30000%s",
                                  (int) name, strangers[i].command, strangers[i].command + name);
        int64_t took = s_now_ms () - started;
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
        s_run (fx, out, err, "\"$SHOAL\" cluster status --cluster \"$DIR/stranger/cluster.cfg\""),
        3);
    assert_non_null (strstr (out, "0 up, 3 down\n"));
    assert_int_equal (s_count (out, "  refused this client's key\n"), NODES);

    cluster_t *cluster = s_map (fx);
    char accounts[NODES][64];
    for (int i = 0; i < NODES; i++)
        s_account_of (cluster, i, accounts[i], sizeof accounts[i]);
    cluster_destroy (&cluster);
    //  Through node i, open the account of node i+1 and deposit into that
    //  of node i+2.
    for (int i = 0; i < NODES; i++) {
        const char *opened = accounts[(i + 1) % NODES];
        int code = s_run (fx, out, err,
                          "timeout 30 \"$SHOAL\" send --cluster \"$C\" --node n%d %s "
                          "Open owner=X",
                          i + 1, opened);
        if (code != 0)
            fail_msg ("Open %s through n%d: exit %d: %s%s", opened, i + 1, code, out, err);
    }
    for (int i = 0; i < NODES; i++) {
        int code = s_run (fx, out, err,
                          "timeout 30 \"$SHOAL\" send --cluster \"$C\" --node n%d %s "
                          "Deposit amount=10",
                          i + 1, accounts[(i + 2) % NODES]);
        if (code != 0)
            fail_msg ("Deposit through n%d: exit %d: %s%s", i + 1, code, out, err);
        assert_non_null (strstr (out, "\"reply\":{\"balance\":10}"));
    }
    //  Any node ($SHOAL_CLUSTER): get, events, a transfer between two
    //  nodes' accounts waited for through a third.
    assert_int_equal (s_run (fx, out, err, "SHOAL_CLUSTER=\"$C\" \"$SHOAL\" get %s", accounts[0]),
                      0);
    assert_non_null (strstr (out, "\"balance\":10"));
    assert_int_equal (
        s_run (fx, out, err, "SHOAL_CLUSTER=\"$C\" \"$SHOAL\" events %s --from 2", accounts[1]), 0);
    assert_string_equal (out, "{\"seq\":2,\"event\":\"Deposited\",\"data\":{\"amount\":10}}\n");
    int code =
        s_run (fx, out, err,
               "timeout 60 \"$SHOAL\" transfer --cluster \"$C\" --node n3 --wait --id t-1 %s "
               "%s 4",
               accounts[0], accounts[1]);
    if (code != 0)
        fail_msg ("transfer: exit %d: %s%s", code, out, err);
    assert_non_null (strstr (out, "\"status\":\"completed\""));

    //  stats --cluster: three nodes up, the sum over them.
    code = s_run (fx, out, err, "timeout 30 \"$SHOAL\" stats --cluster \"$C\"");
    if (code != 0)
        fail_msg ("stats --cluster: exit %d: %s%s", code, out, err);
    for (int i = 0; i < NODES; i++) {
        char node[64];
        snprintf (node, sizeof node, "{\"node\":\"n%d\",\"up\":true,\"messages\":", i + 1);
        assert_non_null (strstr (out, node));
    }
    assert_non_null (strstr (out, "],\"sum\":{\"messages\":"));
    assert_non_null (strstr (out, "\"shards_owned\":256"));
    //  cluster status as text.
    assert_int_equal (s_run (fx, out, err, "\"$SHOAL\" cluster status --cluster \"$C\""), 0);
    assert_non_null (strstr (out, ": 3 nodes, 256 shards, epoch 1, 3 up, 0 down\n"));
    for (int i = 0; i < NODES; i++) {
        char row[64];
        snprintf (row, sizeof row, "\nn%d       up ", i + 1);
        assert_non_null (strstr (out, row));
    }
    assert_non_null (strstr (out, "      1    2/2 "));

    //  n3 killed: shown down (exit 3), the others cannot reach it; an
    //  account it owns is unavailable through n1, at once, naming it.
    s_node_kill (fx, 2);
    s_status_until (fx, 3, "\"up\":2,\"down\":1", out);
    assert_non_null (strstr (out, "\"node\":\"n3\",\"up\":false"));
    int64_t deadline = s_now_ms () + UP_TIMEOUT_MS;
    while (true) {
        code = s_run (fx, out, err,
                      "timeout 30 \"$SHOAL\" send --cluster \"$C\" --node n1 --timeout 5000 %s "
                      "Deposit amount=1",
                      accounts[2]);
        if (code == 1 && strstr (out, "\"code\":\"unavailable\""))
            break;
        if (s_now_ms () > deadline)
            fail_msg ("no unavailable from n1 for %s: exit %d: %s%s", accounts[2], code, out, err);
        usleep (50 * 1000);
    }
    assert_non_null (strstr (out, "node n3"));
    code = s_run (fx, out, err, "\"$SHOAL\" cluster status --cluster \"$C\"");
    assert_int_equal (code, 3);
    assert_non_null (strstr (out, "2 up, 1 down\n"));
    assert_non_null (strstr (out, "\nn3       down "));
    assert_non_null (strstr (out, "no answer in 1000 ms"));
    code = s_run (fx, out, err, "\"$SHOAL\" stats --cluster \"$C\"");
    assert_int_equal (code, 3);
    assert_non_null (
        strstr (out, "{\"node\":\"n3\",\"up\":false,\"error\":\"no answer in 1000 ms\"}"));
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
    int64_t deadline = s_now_ms () + UP_TIMEOUT_MS;
    while (true) {
        kill (fx->nodes[1], SIGSTOP);
        int code = s_run (fx, out, err, "timeout 30 %s", command);
        kill (fx->nodes[1], SIGCONT);
        if (code == 3)
            break;
        if (code != 1 || !strstr (out, "\"code\":\"unavailable\"") || s_now_ms () > deadline)
            fail_msg ("send %s: exit %d, not 3: %s%s", command, code, out, err);
        s_all_links_up (fx);
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
    return s_run (fx, out, NULL, "SHOAL=\"$SHOAL\" sh -c \"$(cat \"$DIR/retry.sh\")\" </dev/null");
}

//  Polls `get` of address until its output has want, against a deadline.
static void s_get_until (fixture_t *fx, const char *address, const char *want)
{
    char out[OUTPUT_MAX];
    int64_t deadline = s_now_ms () + UP_TIMEOUT_MS;
    while (s_run (fx, out, NULL, "timeout 30 \"$SHOAL\" get --cluster \"$C\" %s", address) != 0 ||
           !strstr (out, want)) {
        if (s_now_ms () > deadline)
            fail_msg ("get %s: no %s in %s", address, want, out);
        usleep (50 * 1000);
    }
}

static void test_retry_line (void **state)
{
    fixture_t *fx = *state;
    for (int i = 0; i < NODES; i++)
        s_node_start (fx, i);
    s_all_links_up (fx);
    cluster_t *cluster = s_map (fx);
    char account[64], out[OUTPUT_MAX], err[OUTPUT_MAX], expect[512];
    s_account_of (cluster, 1, account, sizeof account);
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
    s_get_until (fx, account, "\"version\":2,");
    assert_int_equal (s_run_retry (fx, out, line), 0);
    assert_non_null (strstr (out, "\"reply\":{\"balance\":5}"));
    assert_int_equal (
        s_run (fx, out, err, "timeout 30 \"$SHOAL\" events --cluster \"$C\" %s", account), 0);
    assert_int_equal (s_count (out, "\"Opened\""), 1);
    assert_int_equal (s_count (out, "\"Deposited\""), 1);
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
        s_node_start (fx, i);
    unsetenv ("SHOAL_ENDPOINT");
    s_all_links_up (fx);
    cluster_t *cluster = s_map (fx);
    char account[64], out[OUTPUT_MAX], err[OUTPUT_MAX];
    s_account_of (cluster, 1, account, sizeof account);
    cluster_destroy (&cluster);
    assert_int_equal (s_run (fx, out, err,
                             "timeout 30 \"$SHOAL\" send --cluster \"$C\" %s Open owner=X",
                             account),
                      0);
    kill (fx->nodes[1], SIGSTOP);
    const char *send = "timeout 30 \"$SHOAL\" send --cluster \"$C\" --node n1 --timeout 300 "
                       "--id dep-1 %s Deposit amount=5";
    int code = s_run (fx, out, err, send, account);
    if (code != 3) //  no answer: forwarded to n2, or not sent in time
        fail_msg ("the first attempt: exit %d, not 3 (no answer): %s%s", code, out, err);
    int64_t deadline = s_now_ms () + UP_TIMEOUT_MS;
    while (!strstr (out, "\"code\":\"unavailable\"")) {
        if (s_now_ms () > deadline)
            fail_msg ("n1 never took n2 for down: %s%s", out, err);
        usleep (50 * 1000);
        code = s_run (fx, out, err, send, account);
        if (code != 3)
            fail_msg ("a retry under --id: exit %d, not 3: %s%s", code, out, err);
    }
    assert_non_null (strstr (err, "an earlier attempt under id dep-1 may still take effect"));
    assert_non_null (strstr (err, "Retry safely with: shoal send"));
    //  No --id: refused, exit 1, and it never runs (n1 takes n2 for down
    //  now: an attempt not sent in time, exit 3, is made again).
    deadline = s_now_ms () + UP_TIMEOUT_MS;
    do
        code = s_run (fx, out, err,
                      "timeout 30 \"$SHOAL\" send --cluster \"$C\" --node n1 --timeout 2000 %s "
                      "Deposit amount=7",
                      account);
    while (code == 3 && s_now_ms () < deadline);
    if (code != 1 || !strstr (out, "\"code\":\"unavailable\""))
        fail_msg ("without --id: exit %d, not 1 unavailable: %s%s", code, out, err);
    kill (fx->nodes[1], SIGCONT);
    //  The first attempt runs once n2 goes on, if it reached n2 (on a
    //  loaded machine its client may not have had its link to n1 within
    //  the 300 ms); the same id again then gets its reply, or runs it now:
    //  one Deposited either way, and the refused one without --id none.
    s_all_links_up (fx);
    code = s_run (fx, out, err,
                  "timeout 30 \"$SHOAL\" send --cluster \"$C\" --node n1 --id dep-1 %s "
                  "Deposit amount=5",
                  account);
    assert_int_equal (code, 0);
    assert_non_null (strstr (out, "\"reply\":{\"balance\":5}"));
    assert_int_equal (
        s_run (fx, out, err, "timeout 30 \"$SHOAL\" events --cluster \"$C\" %s", account), 0);
    assert_int_equal (s_count (out, "\"Deposited\""), 1);
}

//  --------------------------------------------------------------------------
//  8. The stuck-work commands wait for a node as long as --timeout says:
//     with n2 SIGSTOPped for longer than a cluster client's default wait
//     for a link (2 s), `pending --timeout 60000` and `explain` of an
//     account of n2 get n2's answer once it goes on. Before, both gave up
//     after 2 s, pending saying "did not answer within 60000 ms".

//  Starts the shell command made from format in the background, as s_run
//  runs it, its stdout and stderr in DIR/NAME.out and DIR/NAME.err.
//  Returns its pid.
static pid_t s_start (fixture_t *fx, const char *name, const char *format, ...)
{
    char command[2048];
    va_list args;
    va_start (args, format);
    s_shell (fx, command, name, format, args);
    va_end (args);
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        execl ("/bin/sh", "sh", "-c", command, (char *) NULL);
        _exit (127);
    }
    return pid;
}

//  Waits for pid until deadline (s_now_ms). Returns its exit code, -1 if
//  it did not exit normally, or -2 if it still runs at the deadline.
static int s_exit_by (pid_t pid, int64_t deadline)
{
    while (true) {
        int status;
        if (waitpid (pid, &status, WNOHANG) == pid)
            return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
        if (s_now_ms () > deadline)
            return -2;
        usleep (20 * 1000);
    }
}

//  What the background command name wrote, into out and err.
static void s_output (fixture_t *fx, const char *name, char *out, char *err)
{
    char path[160];
    snprintf (path, sizeof path, "%s/%s.out", fx->dir, name);
    s_read (path, out);
    snprintf (path, sizeof path, "%s/%s.err", fx->dir, name);
    s_read (path, err);
}

static void test_stuck_work_timeout (void **state)
{
    fixture_t *fx = *state;
    for (int i = 0; i < NODES; i++)
        s_node_start (fx, i);
    s_all_links_up (fx);
    cluster_t *cluster = s_map (fx);
    char account[64], out[OUTPUT_MAX], err[OUTPUT_MAX];
    s_account_of (cluster, 1, account, sizeof account);
    cluster_destroy (&cluster);
    kill (fx->nodes[1], SIGSTOP);
    int64_t started = s_now_ms ();
    pid_t pending =
        s_start (fx, "pending", "timeout 120 \"$SHOAL\" pending --cluster \"$C\" --timeout 60000");
    pid_t explain =
        s_start (fx, "explain",
                 "timeout 120 \"$SHOAL\" explain --cluster \"$C\" --timeout 60000 %s", account);
    //  n2 stays stopped 5 s, well past the 2 s, unless a command gives up.
    int code = s_exit_by (pending, started + 5000);
    int explained = s_exit_by (explain, started + 5000);
    kill (fx->nodes[1], SIGCONT);
    if (code != -2 || explained != -2) {
        s_output (fx, code != -2 ? "pending" : "explain", out, err);
        fail_msg ("%s gave up after %d ms, n2 stopped and --timeout 60000: exit %d: %s%s",
                  code != -2 ? "pending" : "explain", (int) (s_now_ms () - started),
                  code != -2 ? code : explained, out, err);
    }
    code = s_exit_by (pending, s_now_ms () + 90000);
    s_output (fx, "pending", out, err);
    if (code != 0 || strcmp (out, "no command is pending\n") != 0)
        fail_msg ("pending, n2 back: exit %d: %s%s", code, out, err);
    code = s_exit_by (explain, s_now_ms () + 90000);
    s_output (fx, "explain", out, err);
    if (code != 0 || !strstr (out, " on node n2, version 0\n"))
        fail_msg ("explain %s, n2 back: exit %d: %s%s", account, code, out, err);
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
        s_node_start (fx, i);
    s_all_links_up (fx);
    char out[OUTPUT_MAX], err[OUTPUT_MAX];
    //  An application's certificate (another cluster's) in each node's
    //  clients/, beside a copy of the map.
    assert_int_equal (
        s_run (fx, out, err,
               "timeout 60 \"$SHOAL\" cluster init --nodes 1 --ipc --dir "
               "\"$DIR/other\" && mkdir \"$DIR/app\" && cp \"$C\" "
               "\"$DIR\"/other/client.cert* \"$DIR/app/\" && for n in n1 n2 n3; "
               "do cp \"$DIR/other/client.cert\" \"$DIR/c/$n/clients/app.cert\"; done"),
        0);
    //  It is let in (the nodes read clients/ again), and may send commands.
    int64_t deadline = s_now_ms () + UP_TIMEOUT_MS;
    int code;
    while ((code = s_run (fx, out, err,
                          "timeout 60 \"$SHOAL\" send --cluster \"$DIR/app/cluster.cfg\" "
                          "--timeout 5000 account/a Open owner=A")) != 0 &&
           s_now_ms () < deadline)
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
        code = s_run (fx, out, err,
                      "timeout 60 \"$SHOAL\" %s --cluster \"$DIR/app/cluster.cfg\" --timeout 5000",
                      acts[i]);
        if (code == 0 || !strstr (err, "not_an_operator"))
            fail_msg ("shoal %s by an application's client: exit %d, stdout %s, stderr %s", acts[i],
                      code, out, err);
    }
    //  Nothing of it happened: bank_totals still runs.
    assert_int_equal (
        s_run (fx, out, err, "timeout 60 \"$SHOAL\" projections --cluster \"$C\" --json"), 0);
    assert_null (strstr (out, "\"paused\""));
    //  The operator's certificate may: the same acts are taken, or refused
    //  for what they name.
    assert_int_equal (
        s_run (fx, out, err, "timeout 60 \"$SHOAL\" resend --cluster \"$C\" account/a"), 0);
    assert_int_equal (
        s_run (fx, out, err,
               "timeout 60 \"$SHOAL\" projections pause bank_totals --cluster \"$C\""),
        0);
    assert_int_equal (
        s_run (fx, out, err,
               "timeout 60 \"$SHOAL\" projections resume bank_totals --cluster \"$C\""),
        0);
    s_run (fx, out, err,
           "timeout 60 \"$SHOAL\" resolve --cluster \"$C\" account/a "
           "07ae0551c2a954d964f83d510607e427 --reject operator_cancel --reason r");
    assert_null (strstr (err, "not_an_operator"));
    assert_non_null (strstr (err, "not_pending"));
    //  A plain --endpoint at a cluster's node is never answered (CURVE
    //  only): the command says where to look, not only "no answer".
    int plain = s_run (fx, out, err,
                       "timeout 60 \"$SHOAL\" get --endpoint \"ipc://$DIR/c/n1/client.ipc\" "
                       "--timeout 300 account/a");
    if (plain != 3 || !strstr (err, "it answers only CURVE clients: use --cluster FILE"))
        fail_msg ("get --endpoint at a cluster's node: exit %d: %s", plain, err);
}

//  A node of a cluster made before operators/ (its client.cert in
//  clients/, no operators/): every client it lets in is an operator, as
//  then, and it says so at its start; a key in neither directory is still
//  refused (it was let in, as an operator: a review's find).
static void test_operators_legacy (void **state)
{
    fixture_t *fx = *state;
    char out[OUTPUT_MAX], err[OUTPUT_MAX];
    assert_int_equal (s_run (fx, out, err,
                             "mv \"$DIR/c/n1/operators/client.cert\" \"$DIR/c/n1/clients/\" && "
                             "rmdir \"$DIR/c/n1/operators\" && timeout 60 \"$SHOAL\" cluster init "
                             "--nodes 1 --ipc --dir \"$DIR/other\" && mkdir \"$DIR/stranger\" && "
                             "cp \"$C\" \"$DIR\"/other/client.cert* \"$DIR/stranger/\""),
                      0);
    s_node_start (fx, 0);
    char log[OUTPUT_MAX], path[160];
    snprintf (path, sizeof path, "%s/n1.log", fx->dir);
    s_read (path, log);
    assert_non_null (strstr (log, "every client of node n1 is an operator"));
    cluster_t *cluster = s_map (fx);
    char address[64];
    s_account_of (cluster, 0, address, sizeof address);
    cluster_destroy (&cluster);
    //  The stranger: refused at the handshake, as before operators/.
    int code = s_run (fx, out, err,
                      "timeout 60 \"$SHOAL\" get --cluster \"$DIR/stranger/cluster.cfg\" "
                      "--timeout 5000 %s",
                      address);
    if (code != 3 || !strstr (err, "refused this client's key"))
        fail_msg ("a stranger's key on a node without operators/: exit %d: %s %s", code, out, err);
    //  The cluster's own client: let in, and an operator.
    assert_int_equal (
        s_run (fx, out, err, "timeout 60 \"$SHOAL\" resend --cluster \"$C\" %s", address), 0);
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
        s_node_start (fx, i);
    s_all_links_up (fx);
    char out[OUTPUT_MAX], err[OUTPUT_MAX];
    const char *id = "07ae0551c2a954d964f83d510607e427";
    kill (fx->nodes[1], SIGSTOP);
    int code =
        s_run (fx, out, err,
               "timeout 60 \"$SHOAL\" dead-letters --cluster \"$C\" --timeout 500 retry %s", id);
    int json = -1;
    char json_out[OUTPUT_MAX] = "", listed[OUTPUT_MAX] = "", other_err[OUTPUT_MAX];
    int list = -1;
    if (code == 3) {
        json = s_run (fx, json_out, other_err,
                      "timeout 60 \"$SHOAL\" dead-letters --cluster \"$C\" --timeout 500 --json "
                      "drop %s",
                      id);
        list = s_run (fx, listed, other_err,
                      "timeout 60 \"$SHOAL\" dead-letters --cluster \"$C\" --timeout 500 --json");
    }
    kill (fx->nodes[1], SIGCONT);
    if (code != 3 || !strstr (err, "node n2 did not answer") || strstr (err, "(not_found)"))
        fail_msg ("retry, n2 stopped: exit %d, not 3 naming n2: %s%s", code, out, err);
    if (json != 3 || !strstr (json_out, "\"code\":\"no_answer\"") ||
        !strstr (json_out, "node n2 did not answer"))
        fail_msg ("drop --json, n2 stopped: exit %d: %s", json, json_out);
    if (list != 3 || strcmp (listed, "{\"dead_letters\":[],\"nodes_down\":[\"n2\"]}\n") != 0)
        fail_msg ("list --json, n2 stopped: exit %d: %s", list, listed);
    //  Every node answering, the same ID is not found (exit 1).
    code =
        s_run (fx, out, err,
               "timeout 60 \"$SHOAL\" dead-letters --cluster \"$C\" --timeout 30000 retry %s", id);
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
        s_node_start (fx, i);
    s_all_links_up (fx);
    cluster_t *cluster = s_map (fx);
    char from[64], transfer[64] = "", out[OUTPUT_MAX], err[OUTPUT_MAX];
    s_account_of (cluster, 1, from, sizeof from); //  on n2
    for (int i = 0; !transfer[0]; i++) {          //  a saga on n1
        char address[64];
        snprintf (address, sizeof address, "transfer/r%d", i);
        if (cluster_owner (cluster, shoal_shard (address, cluster_shards (cluster))) == 0)
            snprintf (transfer, sizeof transfer, "r%d", i);
    }
    cluster_destroy (&cluster);
    //  n2 stopped: the transfer's Debit waits.
    kill (fx->nodes[1], SIGSTOP);
    int code = s_run (fx, out, err,
                      "timeout 60 \"$SHOAL\" transfer --cluster \"$C\" --id %s %s account/b 1",
                      transfer, from);
    if (code != 0)
        fail_msg ("transfer: exit %d: %s%s", code, out, err);
    char sender[80], id[33] = "";
    snprintf (sender, sizeof sender, "{\"sender\":\"transfer/%s\",\"command\":\"Debit\"", transfer);
    int64_t deadline = s_now_ms () + UP_TIMEOUT_MS;
    while (!id[0]) {
        s_run (fx, out, err, "timeout 60 \"$SHOAL\" pending --cluster \"$C\" --json --timeout 500");
        const char *row = strstr (out, sender);
        const char *key = row ? strstr (row, "\"id\":\"") : NULL;
        if (key)
            snprintf (id, sizeof id, "%.32s", key + 6);
        else if (s_now_ms () > deadline)
            fail_msg ("the Debit of transfer/%s never showed pending: %s%s", transfer, out, err);
        else
            usleep (100 * 1000);
    }
    //  n1, the saga's node, stopped too: the resolve waits for it in vain.
    kill (fx->nodes[0], SIGSTOP);
    code = s_run (fx, out, err,
                  "timeout 60 \"$SHOAL\" resolve --cluster \"$C\" --timeout 1000 transfer/%s %s "
                  "--reject operator_cancel --reason 'n2 frozen'",
                  transfer, id);
    kill (fx->nodes[0], SIGCONT);
    if (code != 3 || !strstr (err, "shoal resolve: no answer about transfer/") ||
        !strstr (err, "it may be recorded all the same") ||
        !strstr (err, "shoal explain transfer/"))
        fail_msg ("resolve, n1 stopped: exit %d: %s%s", code, out, err);
    //  And it is: n1 reads it once it goes on.
    deadline = s_now_ms () + UP_TIMEOUT_MS;
    while (true) {
        s_run (fx, out, err, "timeout 60 \"$SHOAL\" events --cluster \"$C\" transfer/%s", transfer);
        if (strstr (out, "\"$Resolved\"") && strstr (out, "n2 frozen"))
            break;
        if (s_now_ms () > deadline)
            fail_msg ("the resolve never showed in transfer/%s: %s%s", transfer, out, err);
        usleep (100 * 1000);
    }
    kill (fx->nodes[1], SIGCONT);
}

int main (void)
{
    if (!getenv ("SHOAL_BIN")) {
        fprintf (stderr, "test_cluster_cli: run through ctest (SHOAL_BIN unset)\n");
        return 1;
    }
    signal (SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_where, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_where_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_cluster_option_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_node_usage_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_nodes_down, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_three_nodes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_retry_line, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_unavailable_with_id, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_stuck_work_timeout, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_operators, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_operators_legacy, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_dead_letters_node_silent, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_resolve_unanswered, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
