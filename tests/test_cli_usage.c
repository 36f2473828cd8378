/*  test_cli_usage.c - the command line as its users first meet it: SHOAL_ENDPOINT,
    thread names, options after positionals, help and version, prefixed
    messages, a node's usage errors, consistent exit codes, a module clash
    named, why a client had no answer. The fixture: cli_test_util.h.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"
#include "utf8.h"

#include <dirent.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_test_util.h"

//  --------------------------------------------------------------------------
//  1. `shoal node` listens where $SHOAL_ENDPOINT says, as the clients
//     talk there; --endpoint wins over it.

static void test_node_honours_shoal_endpoint (void **state)
{
    fixture_t *fx = *state;
    char ready[OUTPUT_MAX], out[OUTPUT_MAX], err[OUTPUT_MAX];
    cli_node_start (fx, ready, "env SHOAL_ENDPOINT='%s' \"$SHOAL\" node --data '%s' --workers 1",
                    fx->endpoint, fx->data);
    assert_non_null (strstr (ready, fx->endpoint));
    int code = cli_run (fx, out, err, "SHOAL_ENDPOINT='%s' \"$SHOAL\" send account/a Open owner=A",
                        fx->endpoint);
    assert_int_equal (code, 0);
    assert_non_null (strstr (out, "\"ok\":true"));
    assert_true (WIFEXITED (cli_node_stop (fx, SIGTERM)));

    char other[160];
    snprintf (other, sizeof other, "ipc://%s/other.ipc", fx->dir);
    cli_node_start (
        fx, ready,
        "env SHOAL_ENDPOINT='%s' \"$SHOAL\" node --data '%s' --workers 1 --endpoint '%s'",
        fx->endpoint, fx->data, other);
    assert_non_null (strstr (ready, other));
    code = cli_run (fx, out, err, "\"$SHOAL\" get --endpoint '%s' account/a", other);
    assert_int_equal (code, 0);
    assert_non_null (strstr (out, "\"owner\":\"A\""));
}

//  A node's threads carry names (`top -H`, `ps -L`, perf): the workers,
//  the projections', the group sync's, the janitor's, the watchdog's.
//  (LevelDB's, shoal-leveldb, only once it has run: test_threadname.)
static void test_threads_named (void **state)
{
    fixture_t *fx = *state;
    char ready[OUTPUT_MAX], out[OUTPUT_MAX], err[OUTPUT_MAX];
    cli_node_start (fx, ready, "\"$SHOAL\" node --data '%s' --workers 2 --endpoint '%s'", fx->data,
                    fx->endpoint);
    int code = cli_run (fx, out, err, "cat /proc/%d/task/*/comm | sort", (int) fx->node);
    assert_int_equal (code, 0);
    const char *names[] = {"shoal-janitor\n",  "shoal-projector\n", "shoal-syncer\n",
                           "shoal-watchdog\n", "shoal-worker-0\n",  "shoal-worker-1\n"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strstr (out, names[i]))
            fail_msg ("no thread %s among:\n%s", names[i], out);
    assert_true (WIFEXITED (cli_node_stop (fx, SIGTERM)));
}

//  --------------------------------------------------------------------------
//  2. Options may follow the positional arguments; -- ends the options.

static void test_options_after_positionals (void **state)
{
    fixture_t *fx = *state;
    char ready[OUTPUT_MAX], out[OUTPUT_MAX], err[OUTPUT_MAX];
    cli_node_start (fx, ready, "\"$SHOAL\" node --data '%s' --workers 1 --endpoint '%s'", fx->data,
                    fx->endpoint);
    const char *e = fx->endpoint;
    assert_int_equal (
        cli_run (fx, out, err, "\"$SHOAL\" send account/a Open owner=A --endpoint %s", e), 0);
    //  The same --id twice: one deposit.
    for (int i = 0; i < 2; i++) {
        int code = cli_run (
            fx, out, err, "\"$SHOAL\" send account/a Deposit amount=5 --id dep-1 --endpoint %s", e);
        assert_int_equal (code, 0);
        assert_non_null (strstr (out, "\"reply\":{\"balance\":5}"));
    }
    assert_int_equal (cli_run (fx, out, err, "\"$SHOAL\" get account/a --endpoint %s", e), 0);
    assert_non_null (strstr (out, "\"version\":2"));
    //  --json, which every other command takes, changes nothing here (it
    //  was an unknown option, exit 2).
    char plain[OUTPUT_MAX];
    snprintf (plain, sizeof plain, "%s", out);
    assert_int_equal (cli_run (fx, out, err, "\"$SHOAL\" get --json account/a --endpoint %s", e),
                      0);
    assert_string_equal (out, plain);
    assert_int_equal (
        cli_run (fx, out, err, "\"$SHOAL\" events account/a --endpoint %s --from 2 --json", e), 0);
    assert_string_equal (out, "{\"seq\":2,\"event\":\"Deposited\",\"data\":{\"amount\":5}}\n");
    assert_int_equal (
        cli_run (fx, out, err, "\"$SHOAL\" transfer a b 1 --endpoint %s --id t-1 --wait", e), 1);
    assert_non_null (strstr (out, "\"transfer\":\"t-1\""));
    //  After --, "--bogus" is an argument (not an address), not an option.
    assert_int_equal (cli_run (fx, out, err, "\"$SHOAL\" get --endpoint %s -- --bogus", e), 2);
    assert_non_null (strstr (err, "'--bogus' is not an address"));
    assert_int_equal (cli_run (fx, out, err, "\"$SHOAL\" get --endpoint %s --bogus account/a", e),
                      2);
    assert_non_null (strstr (err, "unknown option '--bogus'"));
}

//  --------------------------------------------------------------------------
//  3. shoal help CMD, for every command `shoal help` lists: the same as
//     CMD --help, with examples; -V, --version and version.

static void test_help_and_version (void **state)
{
    fixture_t *fx = *state;
    char out[OUTPUT_MAX], err[OUTPUT_MAX], direct[OUTPUT_MAX], list[OUTPUT_MAX];
    assert_int_equal (cli_run (fx, list, err, "\"$SHOAL\" help"), 0);
    const char *at = strstr (list, "Commands:\n");
    assert_non_null (at);
    at += strlen ("Commands:\n");
    int count = 0;
    bool repair = false, deadletters = false;
    for (; strncmp (at, "  ", 2) == 0; at = strchr (at, '\n') + 1, count++) {
        char command[32];
        assert_int_equal (sscanf (at, "%31s", command), 1);
        repair |= strcmp (command, "repair") == 0;
        deadletters |= strcmp (command, "dead-letters") == 0;
        assert_int_equal (cli_run (fx, out, err, "\"$SHOAL\" help %s", command), 0);
        char usage[64];
        snprintf (usage, sizeof usage, "Usage: shoal %s", command);
        if (!strstr (out, usage) || !strstr (out, "\nExamples:\n  shoal "))
            fail_msg ("shoal help %s: no usage or no examples: %s", command, out);
        assert_int_equal (cli_run (fx, direct, NULL, "\"$SHOAL\" %s --help", command), 0);
        assert_string_equal (out, direct);
    }
    assert_true (count >= 20 && repair && deadletters);
    //  A subcommand's help: `shoal help cluster init` is `cluster init --help`.
    assert_int_equal (cli_run (fx, out, err, "\"$SHOAL\" help cluster init"), 0);
    assert_non_null (strstr (out, "Usage: shoal cluster init"));
    assert_int_equal (cli_run (fx, direct, NULL, "\"$SHOAL\" cluster init --help"), 0);
    assert_string_equal (out, direct);
    //  The config example's endpoint is one a node alone accepts, loopback
    //  (it was tcp://0.0.0.0:7700, refused without CURVE or --insecure).
    //  Not run: a test binds no fixed TCP port.
    assert_int_equal (cli_run (fx, out, err, "\"$SHOAL\" node --help"), 0);
    if (!strstr (out, "endpoint = tcp://127.0.0.1:") || strstr (out, "endpoint = tcp://0.0.0.0"))
        fail_msg ("shoal node --help: a config example a node alone refuses: %s", out);
    assert_int_equal (cli_run (fx, out, err, "\"$SHOAL\" help nosuch"), 2);
    assert_true (strncmp (err, "shoal help: unknown command 'nosuch'", 36) == 0);
    assert_int_equal (cli_run (fx, out, err, "\"$SHOAL\" help"), 0);
    assert_non_null (strstr (out, "Commands:"));
    //  help and version are no commands of the list, yet have a help (they
    //  were "unknown command", exit 2).
    assert_int_equal (cli_run (fx, direct, err, "\"$SHOAL\" help --help && \"$SHOAL\" help help"),
                      0);
    assert_non_null (strstr (direct, "Commands:"));
    assert_int_equal (cli_run (fx, out, err, "\"$SHOAL\" help version"), 0);
    assert_non_null (strstr (out, "Usage: shoal version"));

    assert_int_equal (cli_run (fx, out, err, "\"$SHOAL\" version"), 0);
    assert_true (strncmp (out, "shoal ", 6) == 0 && out[6] >= '0' && out[6] <= '9');
    //  Every command has --help, version too (it was refused, exit 2).
    char help[OUTPUT_MAX];
    assert_int_equal (cli_run (fx, help, err, "\"$SHOAL\" version --help"), 0);
    if (!strstr (help, "Usage: shoal version"))
        fail_msg ("version --help: %s", help);
    //  inproc:// is another process's: refused as bad usage at once (it
    //  waited 5 s for a node there).
    assert_int_equal (cli_run (fx, help, err, "\"$SHOAL\" get --endpoint inproc://x account/a"), 2);
    if (!strstr (err, "inproc:// is reached from within its own process only"))
        fail_msg ("get --endpoint inproc://x: %s", err);
    const char *spellings[] = {"-V", "--version"};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal (cli_run (fx, direct, err, "\"$SHOAL\" %s", spellings[i]), 0);
        assert_string_equal (direct, out);
        assert_string_equal (err, "");
    }
    //  Output that cannot be written fails, said (every command exited 0
    //  but events: `top --once --json >/dev/full`, `dead-letters --json`).
    assert_int_equal (cli_run (fx, out, err, "\"$SHOAL\" version >/dev/full"), 1);
    assert_string_equal (err, "shoal: cannot write its output: No space left on device\n");
    assert_int_equal (cli_run (fx, out, err, "\"$SHOAL\" dead-letters --help >/dev/full"), 1);
    assert_string_equal (err,
                         "shoal dead-letters: cannot write its output: No space left on device\n");
    //  A subcommand's own (it said "shoal cluster:").
    assert_int_equal (cli_run (fx, out, err, "\"$SHOAL\" cluster status --help >/dev/full"), 1);
    assert_string_equal (
        err, "shoal cluster status: cannot write its output: No space left on device\n");
}

//  --------------------------------------------------------------------------
//  4. Every error message starts with "shoal CMD:".

static void test_messages_prefixed (void **state)
{
    fixture_t *fx = *state;
    static const struct {
        const char *command; //  as run, after "$SHOAL"
        const char *prefix;
    } cases[] = {
        {"get --bogus account/a", "shoal get: "},
        {"get --endpoint", "shoal get: "},
        {"get a b", "shoal get: "},
        {"send account/a", "shoal send: "},
        {"send -x account/a Open", "shoal send: "},
        {"send --id '' account/a Open", "shoal send: "},
        {"events --from 0 account/a", "shoal events: "},
        {"transfer a b x", "shoal transfer: "},
        {"transfer --wait=yes a b 1", "shoal transfer: "},
        {"transfer a b 99999999999999999999999", "shoal transfer: "},
        {"stats extra", "shoal stats: "},
        {"node --workers 0", "shoal node: "},
        //  Before, taken (up to 2^20) and refused by the store, exit 1.
        {"node --shards 70000", "shoal node: --shards must be an integer from 1 to 65536"},
        {"node --durability sometimes", "shoal node: "},
        {"node extra", "shoal node: "},
        {"node --config \"$DIR/missing.cfg\"", "shoal node: "},
        {"demo --kills 99", "shoal demo: "},
        {"demo --nope", "shoal demo: "},
        //  Before, taken and ignored: a node alone is never frozen.
        {"demo --freeze-ms 100", "shoal demo: --freeze-ms freezes one node of a cluster: give "
                                 "--nodes 2 or more"},
        {"bench --durability sometimes", "shoal bench: "},
        {"bench --recovery 5", "shoal bench: "},
        {"bench --endpoint bogus", "shoal bench: --endpoint bogus is not an endpoint: expected"},
        //  Before, "shoal init: " and "shoal up: ".
        {"cluster init --bogus", "shoal cluster init: "},
        {"cluster init --dir \"$DIR/c\"", "shoal cluster init: "},
        {"cluster init --nodes 2 --hosts a --dir \"$DIR/c\"", "shoal cluster init: "},
        {"cluster init --nodes 2 extra", "shoal cluster init: "},
        {"cluster up --nodes 0", "shoal cluster up: "},
        {"cluster up --bogus", "shoal cluster up: "},
        {"cluster up extra", "shoal cluster up: "},
        {"help nosuch", "shoal help: "},
        {"version extra", "shoal version: takes no arguments"}, //  it was ignored
        //  Before, getopt's own "check: option '--data' requires an
        //  argument" and the whole usage; and " holds no shoal journal".
        {"check --data", "shoal check: "},
        {"check --data ''", "shoal check: --data must not be empty"},
        {"repair --data", "shoal repair: "},
        {"repair --yes --data ''", "shoal repair: --data must not be empty"},
        //  Before, "unknown option '--d'" and "unknown option '-h'".
        {"node --d x", "shoal node: --d is ambiguous: --data, --durability"},
        {"node --module ''", "shoal node: --module must not be empty"},
        {"get --help=x", "shoal get: --help takes no value"},
        //  Before, taken (port 1 of "[:") and waited out its timeout.
        {"get --endpoint 'tcp://[::1' account/a",
         "shoal get: 'tcp://[::1' is not a valid endpoint: an IPv6 address in brackets"},
        //  Before, "is not a valid endpoint" and no reason: '*' binds.
        {"stats --endpoint 'tcp://127.0.0.1:*'",
         "shoal stats: 'tcp://127.0.0.1:*' is not a valid endpoint: '*' (any address, a free "
         "port) is for a node to listen on, not for a client to connect to"},
        {"get --endpoint 'tcp://*:7700' account/a",
         "shoal get: 'tcp://*:7700' is not a valid endpoint: '*' (any address"},
    };
    char out[OUTPUT_MAX], err[OUTPUT_MAX];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int code = cli_run (fx, out, err, "timeout 30 \"$SHOAL\" %s", cases[i].command);
        if (code != 2)
            fail_msg ("shoal %s: exit %d, stderr: %s", cases[i].command, code, err);
        assert_string_equal (out, "");
        cli_all_lines_start (err, cases[i].prefix, cases[i].command);
    }
    //  A --nodes that the cluster's file contradicts is bad usage (it
    //  exited 1), and starts nothing.
    assert_int_equal (cli_run (fx, out, err,
                               "timeout 60 \"$SHOAL\" cluster init --nodes 3 --ipc --dir '%s/cl'",
                               fx->dir),
                      0);
    int code =
        cli_run (fx, out, err, "timeout 60 \"$SHOAL\" cluster up --nodes 5 --dir '%s/cl'", fx->dir);
    if (code != 2 || !strstr (err, "has 3 nodes, not 5"))
        fail_msg ("cluster up --nodes 5 on a cluster of 3: exit %d, stderr: %s", code, err);
    cli_all_lines_start (err, "shoal cluster up: ", "cluster up --nodes 5");
    //  --metrics off: a cluster on ipc:// that opens no TCP port (each node
    //  served metrics on one of 127.0.0.1's: an operator review's find).
    code = cli_run (fx, out, err,
                    "timeout 60 \"$SHOAL\" cluster up --dir '%s/cl' --metrics 127.0.0.1:9100",
                    fx->dir);
    if (code != 2 || !strstr (err, "--metrics takes off alone, not '127.0.0.1:9100'"))
        fail_msg ("cluster up --metrics HOST:PORT: exit %d, stderr: %s", code, err);
    assert_int_equal (cli_run (fx, out, err,
                               "timeout -s TERM 60 \"$SHOAL\" cluster up --dir '%s/cl' --workers 1 "
                               "--metrics off >'%s/up.out' 2>&1 & echo $! >'%s/up.pid'",
                               fx->dir, fx->dir, fx->dir),
                      0);
    char up[PROC_OUTPUT_MAX] = "", path[512];
    snprintf (path, sizeof path, "%s/up.out", fx->dir);
    proc_file_until (path, "3 nodes up", 60000, up);
    cli_run (fx, out, err, "kill -TERM $(cat '%s/up.pid')", fx->dir);
    if (!strstr (up, "3 nodes up") || strstr (up, "metrics http"))
        fail_msg ("cluster up --metrics off: %s", up);
    //  The bank's own messages, from bench against a node that is not there.
    code = cli_run (fx, out, err,
                    "timeout 60 \"$SHOAL\" bench --endpoint 'ipc://%s/nobody.ipc' --accounts 2 "
                    "--transfers 1",
                    fx->dir);
    assert_int_equal (code, 1);
    cli_all_lines_start (err, "shoal bench: ", "bench with no node");
}

//  A usage error of `shoal node` exits 2, says why, and makes nothing: no
//  store, no socket. An endpoint whose port is not 1 to 65535 is one
//  (before, tcp://127.0.0.1:70000 was taken, and libzmq listened on port
//  4464); a client command refuses it too. --name without --cluster is
//  one (before, it was ignored and a node alone started), and so are
//  --restored and --new-store (before, taken and ignored); --cluster
//  without --name is one (before, exit 1). So is an endpoint beyond
//  loopback without --insecure (before, exit 1). test_cluster_cli_options
//  has those of a cluster file.
static void test_node_usage_errors (void **state)
{
    fixture_t *fx = *state;
    static const struct {
        const char *options; //  after "$SHOAL" node --data "$DIR/d" --workers 1
        const char *said;
    } cases[] = {
        {"--endpoint tcp://127.0.0.1:70000",
         "shoal node: --endpoint tcp://127.0.0.1:70000 is not an endpoint: its port is not a "
         "number from 1 to 65535 (or *, a free port)\n"},
        {"--endpoint tcp://127.0.0.1:0",
         "shoal node: --endpoint tcp://127.0.0.1:0 is not an endpoint: its port is not a number"},
        {"--endpoint tcp://127.0.0.1", "is not an endpoint: no port: expected tcp://HOST:PORT\n"},
        //  A host name: refused before the store is made (exit 1 after).
        {"--endpoint tcp://localhost:7799",
         "shoal node: --endpoint tcp://localhost:7799: to listen on, tcp:// takes an IP address "
         "or a network interface's name, not a host name (tcp://127.0.0.1:PORT for this machine "
         "alone)\n"},
        {"--name n1 --endpoint \"ipc://$DIR/n1.ipc\"",
         "shoal node: --name needs --cluster: it says which node of the cluster file this is\n"},
        {"--cluster \"$DIR/c.cfg\"",
         "shoal node: --cluster needs --name: which node of /tmp/shoal-test-cli-"},
        //  Beyond loopback without --insecure (before, exit 1), and
        //  --insecure with --cluster, whose nodes have CURVE (before, it
        //  was ignored).
        {"--endpoint 'tcp://0.0.0.0:*'",
         "shoal node: will not listen on tcp://0.0.0.0:* without CURVE: another machine could "
         "reach it. Run a cluster"},
        //  An abstract socket has no file to make 0700: any local user
        //  could connect (before, it was taken as local).
        {"--endpoint ipc://@shoal-test-abstract",
         "shoal node: will not listen on ipc://@shoal-test-abstract without CURVE: any user of "
         "this machine (an abstract socket has no file permissions) could reach it."},
        //  ZeroMQ's SOURCE;ADDRESS binds ADDRESS: the text began with
        //  loopback's, and the node listened on 0.0.0.0 (before).
        {"--endpoint 'tcp://127.0.0.1:*;0.0.0.0:*'",
         "shoal node: --endpoint tcp://127.0.0.1:*;0.0.0.0:* is not an endpoint: a source "
         "address (before ';') is not taken: give the address alone\n"},
        //  No other process reaches inproc:// (before, a node started on
        //  it, said it was ready, and no client ever reached it).
        {"--endpoint inproc://shoal-test",
         "shoal node: --endpoint inproc://shoal-test: an inproc:// endpoint is reached only "
         "from inside the node's own process, so no client could reach it"},
        //  Of a store the peers remember: a node alone has none (before,
        //  both were taken and did nothing).
        {"--restored --endpoint \"ipc://$DIR/n1.ipc\"",
         "shoal node: --restored needs --cluster: it tells a node's peers about its store, and "
         "a node alone has none"},
        {"--new-store --endpoint \"ipc://$DIR/n1.ipc\"", "shoal node: --new-store needs --cluster"},
        {"--start-hold forever --endpoint \"ipc://$DIR/n1.ipc\"",
         "shoal node: --start-hold needs --cluster: a node alone has no peer to check its store\n"},
        {"--cluster \"$DIR/c.cfg\" --name n1 --start-hold soon",
         "shoal node: --start-hold takes MS (1 to 86400000) or forever, not 'soon'\n"},
        {"--insecure --cluster \"$DIR/c.cfg\" --name n1",
         "shoal node: --insecure does not go with --cluster: it lets a node alone listen "
         "without CURVE, and a cluster's nodes always have it\n"},
    };
    char out[OUTPUT_MAX], err[OUTPUT_MAX], data[160];
    snprintf (data, sizeof data, "%s/d", fx->dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int code =
            cli_run (fx, out, err,
                     "cd \"$DIR\" && timeout 30 \"$SHOAL\" node --data \"$DIR/d\" --workers 1 %s",
                     cases[i].options);
        if (code != 2 || !strstr (err, cases[i].said))
            fail_msg ("node %s: exit %d, stderr: %s", cases[i].options, code, err);
        assert_string_equal (out, "");
        cli_all_lines_start (err, "shoal node: ", cases[i].options);
        struct stat st;
        if (stat (data, &st) == 0)
            fail_msg ("node %s made its store %s", cases[i].options, data);
    }
    int code = cli_run (fx, out, err,
                        "timeout 30 \"$SHOAL\" get --endpoint tcp://127.0.0.1:70000 account/a");
    assert_int_equal (code, 2);
    assert_string_equal (err,
                         "shoal get: 'tcp://127.0.0.1:70000' is not a valid endpoint: its port "
                         "is not a number from 1 to 65535 (or *, a free port)\n");
}

//  Bad usage exits 2 from the client whatever the limit it breaks (an empty
//  query key and a resolve code or reason the node refuses exited 1), and
//  resend or resolve to a type the node does not know says so and exits 1
//  (resend said "0 pending commands re-sent now" and exited 0).
static void test_exit_codes_consistent (void **state)
{
    fixture_t *fx = *state;
    char ready[OUTPUT_MAX], out[OUTPUT_MAX], err[OUTPUT_MAX];
    cli_node_start (fx, ready, "\"$SHOAL\" node --data '%s' --workers 1 --endpoint '%s'", fx->data,
                    fx->endpoint);
    static const struct {
        const char *args; //  after "$SHOAL", with SHOAL_ENDPOINT set
        int code;
        const char *says;
    } cases[] = {
        {"query bank_totals ''", 2, "shoal query: a key is 1 to 512 bytes, not empty\n"},
        {"resolve account/x 00112233445566778899aabbccddeeff --reject 'bad code' --reason y", 2,
         "shoal resolve: --reject CODE is 1 to 63 printable characters without spaces, not "
         "'bad code'\n"},
        {"resolve account/x 00112233445566778899aabbccddeeff --reject c --reason "
         "\"$(printf '%0300d' 0)\"",
         2, "shoal resolve: --reason TEXT is 1 to 255 bytes, not 300\n"},
        //  A code the runtime answers with: a transfer stayed stalled on
        //  expired, its command ended, the debit never credited nor refunded.
        {"resolve account/x 00112233445566778899aabbccddeeff --reject c --reason y "
         "--silent-for 1000",
         2, "shoal resolve: --silent-for goes with --force"},
        {"resolve account/x 00112233445566778899aabbccddeeff --reject c --reason y --force "
         "--silent-for -1",
         2, "--silent-for"},
        {"resolve account/x 00112233445566778899aabbccddeeff --reject expired --reason y", 2,
         "shoal resolve: --reject expired is a code the runtime answers with itself"},
        {"resend nosuch/x", 1, "shoal resend: nosuch/x refused: unknown type 'nosuch'"},
        {"resolve nosuch/x 00112233445566778899aabbccddeeff --reject c --reason y", 1,
         "shoal resolve: nosuch/x refused: unknown type 'nosuch'"},
        {"resend account/x", 0, ""},
        //  An amount is digits alone (strtoll took these for 5: a transfer
        //  was started).
        {"transfer a b ' 5'", 2, "shoal transfer: AMOUNT must be a positive integer in digits"},
        {"transfer a b +5", 2, "shoal transfer: AMOUNT must be a positive integer in digits"},
        {"transfer a b '5 '", 2, "not '5 '"},
        {"transfer a b ''", 2, "not ''"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int code = cli_run (fx, out, err, "SHOAL_ENDPOINT='%s' timeout 30 \"$SHOAL\" %s",
                            fx->endpoint, cases[i].args);
        if (code != cases[i].code || !strstr (err, cases[i].says))
            fail_msg ("shoal %s: exit %d (not %d), stderr: %s", cases[i].args, code, cases[i].code,
                      err);
    }
    //  The node refuses such a code from any client too.
    int code = cli_run (fx, out, err,
                        "SHOAL_ENDPOINT='%s' timeout 30 \"$SHOAL\" send account/x '$resolve' "
                        "id=00112233445566778899aabbccddeeff code=unavailable reason=y",
                        fx->endpoint);
    if (code != 1 || !strstr (out, "code must be one of the operator's own"))
        fail_msg ("a $resolve with code unavailable: exit %d: %s%s", code, out, err);
    //  An id may hold a quote and a backslash: --json's address is escaped
    //  (it was printed as it was, and jq refused the line).
    code = cli_run (fx, out, err,
                    "SHOAL_ENDPOINT='%s' timeout 30 \"$SHOAL\" resend --json 'account/a\"b\\c'",
                    fx->endpoint);
    if (code != 0 || !strstr (out, "{\"ok\":true,\"address\":\"account/a\\\"b\\\\c\",\"resent\":0,"
                                   "\"to_nodes_down\":0}"))
        fail_msg ("resend --json of account/a\"b\\c: exit %d: %s%s", code, out, err);
}

//  A client with no answer says why, as its link was seen: nothing took
//  a connection (no node there), or a node took it and never answered (a
//  stopped process). It said, of both, "if a cluster's node listens at
//  E, it answers only CURVE clients" (test_cluster_cli_operators has
//  that case, now said only of a node that ended the handshake).
static void test_no_answer_why (void **state)
{
    fixture_t *fx = *state;
    char ready[OUTPUT_MAX], out[OUTPUT_MAX], err[OUTPUT_MAX];
    int code = cli_run (fx, out, err,
                        "timeout 30 \"$SHOAL\" get --endpoint 'ipc://%s/nobody.ipc' --timeout 300 "
                        "account/a",
                        fx->dir);
    if (code != 3 || !strstr (err, "nothing took a connection there: no node listens") ||
        strstr (err, "CURVE"))
        fail_msg ("get from no node: exit %d: %s", code, err);
    cli_node_start (fx, ready, "\"$SHOAL\" node --data '%s' --workers 1 --endpoint '%s'", fx->data,
                    fx->endpoint);
    kill (fx->node, SIGSTOP);
    code = cli_run (fx, out, err,
                    "timeout 30 \"$SHOAL\" send --endpoint '%s' --timeout 500 account/a Open "
                    "owner=a",
                    fx->endpoint);
    kill (fx->node, SIGCONT);
    const char *why = strstr (err, "a connection was taken there, and not answered");
    const char *retry = strstr (err, "Retry safely with: ");
    if (code != 3 || !why || !retry || retry < why || strstr (err, "CURVE"))
        fail_msg ("send to a stopped node: exit %d: %s", code, err);
}

//  With --json, a command that fails prints one JSON object on stdout
//  with ok false, a code and a reason, whatever its target: dead-letters,
//  query and projections printed nothing there with no node at the
//  endpoint, resend and resolve nothing, pending no code; explain of an
//  unknown type nothing (stderr only). Each also says why, as get does
//  (nothing listens there).
static void test_json_failures_one_object (void **state)
{
    fixture_t *fx = *state;
    char ready[OUTPUT_MAX], out[OUTPUT_MAX], err[OUTPUT_MAX];
    int wrong = 0;
    static const char *commands[] = {
        "pending --json",
        "explain --json account/a",
        "resend --json account/a",
        "resolve --json account/a 00112233445566778899aabbccddeeff --reject operator_cancel "
        "--reason test",
        "dead-letters --json",
        "dead-letters --json retry --reason test 00112233445566778899aabbccddeeff",
        "projections --json",
        "projections --json rebuild bank_totals",
        "query --json bank_totals totals",
        "query --json bank_totals --all",
    };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        int code = cli_run (fx, out, err,
                            "timeout 30 \"$SHOAL\" %s --endpoint 'ipc://%s/nobody.ipc' "
                            "--timeout 300",
                            commands[i], fx->dir);
        if (code != 3 || !cli_json_failed (out, "no_answer") ||
            !strstr (out, "nothing took a connection there: no node listens") ||
            !strstr (err, "nothing took a connection there: no node listens")) {
            print_error ("shoal %s, no node: exit %d, stdout: %s, stderr: %s\n", commands[i], code,
                         out, err);
            wrong++;
        }
        //  A resolve that reached no node did nothing, and says so (it said
        //  also that it "may be recorded all the same").
        if (strncmp (commands[i], "resolve", 7) == 0 &&
            (!strstr (err, "the request reached no node, so it did nothing") ||
             strstr (err, "may be recorded"))) {
            print_error ("shoal %s, no node: stderr: %s\n", commands[i], err);
            wrong++;
        }
    }
    //  A node's refusal: explain and query said it on stderr alone.
    cli_node_start (fx, ready, "\"$SHOAL\" node --data '%s' --workers 1 --endpoint '%s'", fx->data,
                    fx->endpoint);
    static const struct {
        const char *args;
        const char *code;
    } refused[] = {
        {"explain --json nosuch/x", "unknown_type"},
        {"query --json bank_totals nokey", "no_row"},
        {"query --json nosuch totals", "not_found"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        int code = cli_run (fx, out, err, "timeout 30 \"$SHOAL\" %s --endpoint '%s'",
                            refused[i].args, fx->endpoint);
        if (code != 1 || !cli_json_failed (out, refused[i].code) || !err[0]) {
            print_error ("shoal %s: exit %d, stdout: %s, stderr: %s\n", refused[i].args, code, out,
                         err);
            wrong++;
        }
    }
    if (wrong) //  each said above
        fail_msg ("%d commands did not print one JSON object of their failure", wrong);
}

//  A module that registers a type or projection already registered is
//  refused with its name and who registered it first: the node itself
//  (the bank), or the module loaded before (it said only "already exists").
static void test_module_clash_named (void **state)
{
    fixture_t *fx = *state;
    static const struct {
        const char *options; //  after "$SHOAL" node --data "$DIR/d" ... --endpoint E
        const char *env;     //  the clash module's variables
        const char *said;
    } cases[] = {
        {"--module \"$CLASH\"", "CLASH_TYPE=account",
         "failed to start: actor type 'account' already exists: the node itself (the bank) "
         "registered it\n"},
        //  One file twice is said so (it read as a clash of its types).
        {"--module \"$COUNTER\" --module \"$COUNTER\"", "",
         "counter.so is given twice (as two --module options, or as two paths to one file): "
         "give it once\n"},
        {"--module \"$COUNTER\" --module \"$CLASH\"", "CLASH_TYPE=sink",
         "failed to start: actor type 'sink' already exists: module counter registered it\n"},
        {"--module \"$CLASH\"", "CLASH_PROJECTION=bank_totals",
         "failed to start: projection bank_totals@1 already exists: the node itself (the bank) "
         "registered it\n"},
        //  A file name without a slash is a file here, not a library on
        //  the linker's path (libz.so.1 was loaded, then refused).
        {"--module libz.so.1", "",
         "cannot load module libz.so.1: ./libz.so.1: cannot open shared object file"},
        //  Not a clash, but a module's option for no module: refused too
        //  (it was dropped silently).
        {"--module \"$COUNTER\" --module-opt countr.start=10", "",
         "shoal node: --module-opt countr.start: no module countr is loaded"},
    };
    char out[OUTPUT_MAX], err[OUTPUT_MAX];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int code = cli_run (fx, out, err,
                            "CLASH='%s'; COUNTER='%s'; %s timeout 30 \"$SHOAL\" node --data "
                            "\"$DIR/d\" --workers 1 --endpoint '%s' %s",
                            getenv ("SHOAL_CLASH_MODULE"), getenv ("SHOAL_TEST_MODULE"),
                            cases[i].env, fx->endpoint, cases[i].options);
        if (code != 1 || !strstr (err, cases[i].said))
            fail_msg ("case %zu: exit %d, stderr: %s", i, code, err);
    }
}

int main (void)
{
    if (!getenv ("SHOAL_BIN") || !getenv ("SHOAL_TEST_MODULE")) {
        fprintf (stderr,
                 "test_cli_usage: run through ctest (SHOAL_BIN and SHOAL_TEST_MODULE unset)\n");
        return 1;
    }
    signal (SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_node_honours_shoal_endpoint, cli_setup, cli_teardown),
        cmocka_unit_test_setup_teardown (test_threads_named, cli_setup, cli_teardown),
        cmocka_unit_test_setup_teardown (test_options_after_positionals, cli_setup, cli_teardown),
        cmocka_unit_test_setup_teardown (test_help_and_version, cli_setup, cli_teardown),
        cmocka_unit_test_setup_teardown (test_messages_prefixed, cli_setup, cli_teardown),
        cmocka_unit_test_setup_teardown (test_node_usage_errors, cli_setup, cli_teardown),
        cmocka_unit_test_setup_teardown (test_module_clash_named, cli_setup, cli_teardown),
        cmocka_unit_test_setup_teardown (test_exit_codes_consistent, cli_setup, cli_teardown),
        cmocka_unit_test_setup_teardown (test_no_answer_why, cli_setup, cli_teardown),
        cmocka_unit_test_setup_teardown (test_json_failures_one_object, cli_setup, cli_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
