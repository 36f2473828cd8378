/*  test_cli.c - process tests of the `shoal` command line as its users
    meet it: the real binary ($SHOAL_BIN), run through /bin/sh, its exit
    codes, stdout and stderr.

    Each test has its own temporary directory; a node it starts listens on
    ipc://DIR/node.ipc there (no other process can reach it), writes its
    stdout to DIR/node.out and its stderr to DIR/node.log. A test waits for
    a node's ready line by polling against a deadline. The teardown kills
    the node and removes the directory.
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

#define START_TIMEOUT_MS 20000 //  a node's ready line (ASan start-up is slow)
#define OUTPUT_MAX 16384       //  bytes kept of a command's stdout or stderr (bench --help is 9 KB)

typedef struct {
    char dir[64];       //  the test's temporary directory
    char data[128];     //  dir/data: the node's store
    char endpoint[128]; //  ipc://dir/node.ipc
    pid_t node;         //  the running node, or 0
} fixture_t;

static int s_setup (void **state)
{
    fixture_t *fx = calloc (1, sizeof (fixture_t));
    assert_non_null (fx);
    snprintf (fx->dir, sizeof fx->dir, "/tmp/shoal-test-cli-XXXXXX");
    assert_non_null (mkdtemp (fx->dir));
    snprintf (fx->data, sizeof fx->data, "%s/data", fx->dir);
    snprintf (fx->endpoint, sizeof fx->endpoint, "ipc://%s/node.ipc", fx->dir);
    *state = fx;
    return 0;
}

//  Stops the node with sig and returns its wait status (0 if none ran).
static int s_node_stop (fixture_t *fx, int sig)
{
    int status = 0;
    if (fx->node > 0) {
        kill (fx->node, sig);
        waitpid (fx->node, &status, 0);
        fx->node = 0;
    }
    return status;
}

static int s_teardown (void **state)
{
    fixture_t *fx = *state;
    s_node_stop (fx, SIGKILL);
    harness_rm_rf (fx->dir);
    free (fx);
    return 0;
}

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

//  Runs the shell command made from format with $SHOAL (the binary) and
//  $DIR (the test's directory) set, stdout and stderr kept in out and err
//  (may be NULL). Returns its exit code, or -1 if it did not exit.
static int s_run (fixture_t *fx, char *out, char *err, const char *format, ...)
{
    char command[2048], text[1536];
    va_list args;
    va_start (args, format);
    int length = vsnprintf (text, sizeof text, format, args);
    va_end (args);
    assert_true (length > 0 && (size_t) length < sizeof text);
    snprintf (command, sizeof command, "SHOAL='%s' DIR='%s'; (%s) >'%s/run.out' 2>'%s/run.err'",
              s_bin (), fx->dir, text, fx->dir, fx->dir);
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

//  Starts `sh -c 'exec COMMAND'` from format (with $SHOAL and $DIR as in
//  s_run) in / as the node, and waits for its ready line. Returns the line's
//  text in ready (OUTPUT_MAX bytes) or fails the test with its stderr.
static void s_node_start (fixture_t *fx, char *ready, const char *format, ...)
{
    char text[1536], command[2048];
    va_list args;
    va_start (args, format);
    int length = vsnprintf (text, sizeof text, format, args);
    va_end (args);
    assert_true (length > 0 && (size_t) length < sizeof text);
    snprintf (command, sizeof command,
              "SHOAL='%s' DIR='%s'; exec %s >'%s/node.out' 2>>'%s/node.log'", s_bin (), fx->dir,
              text, fx->dir, fx->dir);
    char out_path[160], log_path[160];
    snprintf (out_path, sizeof out_path, "%s/node.out", fx->dir);
    snprintf (log_path, sizeof log_path, "%s/node.log", fx->dir);
    unlink (out_path);
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        //  From /, so that no relative path resolves by accident.
        if (chdir ("/") == 0)
            execl ("/bin/sh", "sh", "-c", command, (char *) NULL);
        _exit (127);
    }
    fx->node = pid;
    int64_t deadline = s_now_ms () + START_TIMEOUT_MS;
    while (true) {
        s_read (out_path, ready);
        if (strstr (ready, "ready on ") && strchr (ready, '\n'))
            return;
        int status;
        bool ended = waitpid (pid, &status, WNOHANG) == pid;
        if (ended || s_now_ms () > deadline) {
            if (ended)
                fx->node = 0;
            char log[OUTPUT_MAX];
            s_read (log_path, log);
            fail_msg ("the node %s: %s", ended ? "exited" : "did not start in time", log);
        }
        usleep (20 * 1000);
    }
}

//  Fails unless every line of text starts with prefix.
static void s_all_lines_start (const char *text, const char *prefix, const char *what)
{
    assert_true (strlen (text) > 0);
    for (const char *line = text; *line; line = strchr (line, '\n') + 1) {
        if (strncmp (line, prefix, strlen (prefix)) != 0)
            fail_msg ("%s: a line without '%s': %s", what, prefix, line);
        if (!strchr (line, '\n'))
            break;
    }
}

//  --------------------------------------------------------------------------
//  1. `shoal node` listens where $SHOAL_ENDPOINT says, as the clients
//     talk there; --endpoint wins over it.

static void test_node_honours_shoal_endpoint (void **state)
{
    fixture_t *fx = *state;
    char ready[OUTPUT_MAX], out[OUTPUT_MAX], err[OUTPUT_MAX];
    s_node_start (fx, ready, "env SHOAL_ENDPOINT='%s' \"$SHOAL\" node --data '%s' --workers 1",
                  fx->endpoint, fx->data);
    assert_non_null (strstr (ready, fx->endpoint));
    int code = s_run (fx, out, err, "SHOAL_ENDPOINT='%s' \"$SHOAL\" send account/a Open owner=A",
                      fx->endpoint);
    assert_int_equal (code, 0);
    assert_non_null (strstr (out, "\"ok\":true"));
    assert_true (WIFEXITED (s_node_stop (fx, SIGTERM)));

    char other[160];
    snprintf (other, sizeof other, "ipc://%s/other.ipc", fx->dir);
    s_node_start (fx, ready,
                  "env SHOAL_ENDPOINT='%s' \"$SHOAL\" node --data '%s' --workers 1 --endpoint '%s'",
                  fx->endpoint, fx->data, other);
    assert_non_null (strstr (ready, other));
    code = s_run (fx, out, err, "\"$SHOAL\" get --endpoint '%s' account/a", other);
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
    s_node_start (fx, ready, "\"$SHOAL\" node --data '%s' --workers 2 --endpoint '%s'", fx->data,
                  fx->endpoint);
    int code = s_run (fx, out, err, "cat /proc/%d/task/*/comm | sort", (int) fx->node);
    assert_int_equal (code, 0);
    const char *names[] = {"shoal-janitor\n",  "shoal-projector\n", "shoal-syncer\n",
                           "shoal-watchdog\n", "shoal-worker-0\n",  "shoal-worker-1\n"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strstr (out, names[i]))
            fail_msg ("no thread %s among:\n%s", names[i], out);
    assert_true (WIFEXITED (s_node_stop (fx, SIGTERM)));
}

//  --------------------------------------------------------------------------
//  2. Options may follow the positional arguments; -- ends the options.

static void test_options_after_positionals (void **state)
{
    fixture_t *fx = *state;
    char ready[OUTPUT_MAX], out[OUTPUT_MAX], err[OUTPUT_MAX];
    s_node_start (fx, ready, "\"$SHOAL\" node --data '%s' --workers 1 --endpoint '%s'", fx->data,
                  fx->endpoint);
    const char *e = fx->endpoint;
    assert_int_equal (
        s_run (fx, out, err, "\"$SHOAL\" send account/a Open owner=A --endpoint %s", e), 0);
    //  The same --id twice: one deposit.
    for (int i = 0; i < 2; i++) {
        int code = s_run (fx, out, err,
                          "\"$SHOAL\" send account/a Deposit amount=5 --id dep-1 --endpoint %s", e);
        assert_int_equal (code, 0);
        assert_non_null (strstr (out, "\"reply\":{\"balance\":5}"));
    }
    assert_int_equal (s_run (fx, out, err, "\"$SHOAL\" get account/a --endpoint %s", e), 0);
    assert_non_null (strstr (out, "\"version\":2"));
    assert_int_equal (s_run (fx, out, err, "\"$SHOAL\" events account/a --endpoint %s --from 2", e),
                      0);
    assert_string_equal (out, "{\"seq\":2,\"event\":\"Deposited\",\"data\":{\"amount\":5}}\n");
    assert_int_equal (
        s_run (fx, out, err, "\"$SHOAL\" transfer a b 1 --endpoint %s --id t-1 --wait", e), 1);
    assert_non_null (strstr (out, "\"transfer\":\"t-1\""));
    //  After --, "--bogus" is an argument (not an address), not an option.
    assert_int_equal (s_run (fx, out, err, "\"$SHOAL\" get --endpoint %s -- --bogus", e), 2);
    assert_non_null (strstr (err, "'--bogus' is not an address"));
    assert_int_equal (s_run (fx, out, err, "\"$SHOAL\" get --endpoint %s --bogus account/a", e), 2);
    assert_non_null (strstr (err, "unknown option '--bogus'"));
}

//  --------------------------------------------------------------------------
//  3. shoal help CMD, for every command `shoal help` lists: the same as
//     CMD --help, with examples; -V, --version and version.

static void test_help_and_version (void **state)
{
    fixture_t *fx = *state;
    char out[OUTPUT_MAX], err[OUTPUT_MAX], direct[OUTPUT_MAX], list[OUTPUT_MAX];
    assert_int_equal (s_run (fx, list, err, "\"$SHOAL\" help"), 0);
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
        assert_int_equal (s_run (fx, out, err, "\"$SHOAL\" help %s", command), 0);
        char usage[64];
        snprintf (usage, sizeof usage, "Usage: shoal %s", command);
        if (!strstr (out, usage) || !strstr (out, "\nExamples:\n  shoal "))
            fail_msg ("shoal help %s: no usage or no examples: %s", command, out);
        assert_int_equal (s_run (fx, direct, NULL, "\"$SHOAL\" %s --help", command), 0);
        assert_string_equal (out, direct);
    }
    assert_true (count >= 20 && repair && deadletters);
    //  A subcommand's help: `shoal help cluster init` is `cluster init --help`.
    assert_int_equal (s_run (fx, out, err, "\"$SHOAL\" help cluster init"), 0);
    assert_non_null (strstr (out, "Usage: shoal cluster init"));
    assert_int_equal (s_run (fx, direct, NULL, "\"$SHOAL\" cluster init --help"), 0);
    assert_string_equal (out, direct);
    //  The config example's endpoint is one a node alone accepts, loopback
    //  (it was tcp://0.0.0.0:7700, refused without CURVE or --insecure).
    //  Not run: a test binds no fixed TCP port.
    assert_int_equal (s_run (fx, out, err, "\"$SHOAL\" node --help"), 0);
    if (!strstr (out, "endpoint = tcp://127.0.0.1:") || strstr (out, "endpoint = tcp://0.0.0.0"))
        fail_msg ("shoal node --help: a config example a node alone refuses: %s", out);
    assert_int_equal (s_run (fx, out, err, "\"$SHOAL\" help nosuch"), 2);
    assert_true (strncmp (err, "shoal help: unknown command 'nosuch'", 36) == 0);
    assert_int_equal (s_run (fx, out, err, "\"$SHOAL\" help"), 0);
    assert_non_null (strstr (out, "Commands:"));
    //  help and version are no commands of the list, yet have a help (they
    //  were "unknown command", exit 2).
    assert_int_equal (s_run (fx, direct, err, "\"$SHOAL\" help --help && \"$SHOAL\" help help"), 0);
    assert_non_null (strstr (direct, "Commands:"));
    assert_int_equal (s_run (fx, out, err, "\"$SHOAL\" help version"), 0);
    assert_non_null (strstr (out, "Usage: shoal version"));

    assert_int_equal (s_run (fx, out, err, "\"$SHOAL\" version"), 0);
    assert_true (strncmp (out, "shoal ", 6) == 0 && out[6] >= '0' && out[6] <= '9');
    const char *spellings[] = {"-V", "--version"};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal (s_run (fx, direct, err, "\"$SHOAL\" %s", spellings[i]), 0);
        assert_string_equal (direct, out);
        assert_string_equal (err, "");
    }
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
        {"node --durability sometimes", "shoal node: "},
        {"node extra", "shoal node: "},
        {"node --config \"$DIR/missing.cfg\"", "shoal node: "},
        {"demo --kills 99", "shoal demo: "},
        {"demo --nope", "shoal demo: "},
        {"bench --durability sometimes", "shoal bench: "},
        {"bench --recovery 5", "shoal bench: "},
        //  Before, "shoal init: " and "shoal up: ".
        {"cluster init --bogus", "shoal cluster init: "},
        {"cluster init --dir \"$DIR/c\"", "shoal cluster init: "},
        {"cluster init --nodes 2 --hosts a --dir \"$DIR/c\"", "shoal cluster init: "},
        {"cluster init --nodes 2 extra", "shoal cluster init: "},
        {"cluster up --nodes 0", "shoal cluster up: "},
        {"cluster up --bogus", "shoal cluster up: "},
        {"cluster up extra", "shoal cluster up: "},
        {"help nosuch", "shoal help: "},
    };
    char out[OUTPUT_MAX], err[OUTPUT_MAX];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int code = s_run (fx, out, err, "timeout 30 \"$SHOAL\" %s", cases[i].command);
        if (code != 2)
            fail_msg ("shoal %s: exit %d, stderr: %s", cases[i].command, code, err);
        assert_string_equal (out, "");
        s_all_lines_start (err, cases[i].prefix, cases[i].command);
    }
    //  The bank's own messages, from bench against a node that is not there.
    int code = s_run (fx, out, err,
                      "timeout 60 \"$SHOAL\" bench --endpoint 'ipc://%s/nobody.ipc' --accounts 2 "
                      "--transfers 1",
                      fx->dir);
    assert_int_equal (code, 1);
    s_all_lines_start (err, "shoal bench: ", "bench with no node");
}

//  A usage error of `shoal node` exits 2, says why, and makes nothing: no
//  store, no socket. An endpoint whose port is not 1 to 65535 is one
//  (before, tcp://127.0.0.1:70000 was taken, and libzmq listened on port
//  4464); a client command refuses it too. --name without --cluster is
//  one (before, it was ignored and a node alone started); --cluster
//  without --name is one (before, exit 1). So is an endpoint beyond
//  loopback without --insecure (before, exit 1). test_cluster_cli has
//  those of a cluster file.
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
        //  ZeroMQ's SOURCE;ADDRESS binds ADDRESS: the text began with
        //  loopback's, and the node listened on 0.0.0.0 (before).
        {"--endpoint 'tcp://127.0.0.1:*;0.0.0.0:*'",
         "shoal node: --endpoint tcp://127.0.0.1:*;0.0.0.0:* is not an endpoint: a source "
         "address (before ';') is not taken: give the address alone\n"},
        {"--insecure --cluster \"$DIR/c.cfg\" --name n1",
         "shoal node: --insecure does not go with --cluster: it lets a node alone listen "
         "without CURVE, and a cluster's nodes always have it\n"},
    };
    char out[OUTPUT_MAX], err[OUTPUT_MAX], data[160];
    snprintf (data, sizeof data, "%s/d", fx->dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int code =
            s_run (fx, out, err,
                   "cd \"$DIR\" && timeout 30 \"$SHOAL\" node --data \"$DIR/d\" --workers 1 %s",
                   cases[i].options);
        if (code != 2 || !strstr (err, cases[i].said))
            fail_msg ("node %s: exit %d, stderr: %s", cases[i].options, code, err);
        assert_string_equal (out, "");
        s_all_lines_start (err, "shoal node: ", cases[i].options);
        struct stat st;
        if (stat (data, &st) == 0)
            fail_msg ("node %s made its store %s", cases[i].options, data);
    }
    int code = s_run (fx, out, err,
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
    s_node_start (fx, ready, "\"$SHOAL\" node --data '%s' --workers 1 --endpoint '%s'", fx->data,
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
        int code = s_run (fx, out, err, "SHOAL_ENDPOINT='%s' timeout 30 \"$SHOAL\" %s",
                          fx->endpoint, cases[i].args);
        if (code != cases[i].code || !strstr (err, cases[i].says))
            fail_msg ("shoal %s: exit %d (not %d), stderr: %s", cases[i].args, code, cases[i].code,
                      err);
    }
    //  The node refuses such a code from any client too.
    int code = s_run (fx, out, err,
                      "SHOAL_ENDPOINT='%s' timeout 30 \"$SHOAL\" send account/x '$resolve' "
                      "id=00112233445566778899aabbccddeeff code=unavailable reason=y",
                      fx->endpoint);
    if (code != 1 || !strstr (out, "code must be one of the operator's own"))
        fail_msg ("a $resolve with code unavailable: exit %d: %s%s", code, out, err);
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
        {"--module \"$COUNTER\" --module \"$COUNTER\"", "",
         "failed to start: actor type 'counter' already exists: module counter registered it\n"},
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
        int code = s_run (fx, out, err,
                          "CLASH='%s'; COUNTER='%s'; %s timeout 30 \"$SHOAL\" node --data "
                          "\"$DIR/d\" --workers 1 --endpoint '%s' %s",
                          getenv ("SHOAL_CLASH_MODULE"), getenv ("SHOAL_TEST_MODULE"), cases[i].env,
                          fx->endpoint, cases[i].options);
        if (code != 1 || !strstr (err, cases[i].said))
            fail_msg ("case %zu: exit %d, stderr: %s", i, code, err);
    }
}

//  The number of entries of the directory at path besides . and .., -1
//  if it cannot be read.
static int s_entries (const char *path)
{
    DIR *dir = opendir (path);
    if (!dir)
        return -1;
    int count = 0;
    for (struct dirent *entry = readdir (dir); entry; entry = readdir (dir))
        count += strcmp (entry->d_name, ".") != 0 && strcmp (entry->d_name, "..") != 0;
    closedir (dir);
    return count;
}

//  Writes text to the file at path, or fails the test.
static void s_write_file (const char *path, const char *text)
{
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    assert_int_equal (fputs (text, file) >= 0, 1);
    assert_int_equal (fclose (file), 0);
}

//  Fails the test (saying after what) unless the file at path holds
//  exactly text.
static void s_assert_file (const char *path, const char *text, const char *after)
{
    char held[256] = "";
    FILE *file = fopen (path, "r");
    size_t len = file ? fread (held, 1, sizeof held - 1, file) : 0;
    if (file)
        fclose (file);
    held[len] = '\0';
    if (!file || strcmp (held, text) != 0)
        fail_msg ("%s: %s %s (holds '%s', not '%s')", after, path, file ? "was changed" : "is gone",
                  held, text);
}

//  A start refused for bad input: the modules' variables, the options
//  after "$SHOAL" node --data D --workers 1 --endpoint E, and what it says.
typedef struct {
    const char *env;
    const char *options;
    const char *said;
} refusal_t;

//  Runs the refused start of refusal on the data directory data; fails
//  the test unless it exits 1 saying why, without a ready line.
static void s_refused (fixture_t *fx, const refusal_t *refusal, const char *data)
{
    char out[OUTPUT_MAX], err[OUTPUT_MAX];
    int code = s_run (fx, out, err,
                      "CLASH='%s'; COUNTER='%s'; %s timeout 30 \"$SHOAL\" node --data '%s' "
                      "--workers 1 --metrics off --endpoint '%s' %s",
                      getenv ("SHOAL_CLASH_MODULE"), getenv ("SHOAL_TEST_MODULE"), refusal->env,
                      data, fx->endpoint, refusal->options);
    if (code != 1 || !strstr (err, refusal->said) || strstr (out, "ready on"))
        fail_msg ("%s on %s: exit %d, stderr: %s", refusal->options, data, code, err);
}

//  A start refused for bad input (a module whose init fails, an option for
//  no module, a type clash) changes nothing: on a new data directory it
//  leaves no store (before, it left one with its shard count fixed, and a
//  later --shards 8 was refused), neither the directories it made nor
//  anything in an empty one; a store that was there keeps its data and
//  its shards.
static void test_refused_start_makes_no_store (void **state)
{
    fixture_t *fx = *state;
    static const refusal_t cases[] = {
        {"COUNTER_MODULE_FAIL=1", "--module \"$COUNTER\"",
         "counter.so failed to start: invalid argument\n"},
        {"", "--module \"$COUNTER\" --module-opt countr.start=10",
         "shoal node: --module-opt countr.start: no module countr is loaded"},
        {"CLASH_TYPE=account", "--module \"$CLASH\"",
         "failed to start: actor type 'account' already exists"},
    };
    size_t count = sizeof cases / sizeof cases[0];
    char ready[OUTPUT_MAX], out[OUTPUT_MAX], err[OUTPUT_MAX], top[160], data[192], empty[160];
    snprintf (top, sizeof top, "%s/new", fx->dir);
    snprintf (data, sizeof data, "%s/d", top); //  neither is there yet
    snprintf (empty, sizeof empty, "%s/empty", fx->dir);
    assert_int_equal (mkdir (empty, 0755), 0);
    struct stat st;
    for (size_t i = 0; i < count; i++) {
        s_refused (fx, &cases[i], data);
        if (stat (top, &st) == 0)
            fail_msg ("%s left %s (%d entries in %s)", cases[i].options, top, s_entries (data),
                      data);
        s_refused (fx, &cases[i], empty);
        if (s_entries (empty) != 0)
            fail_msg ("%s left %d entries in %s", cases[i].options, s_entries (empty), empty);
    }

    //  A directory that holds other files but no store is left alone: the
    //  store the start made stays, and the files too (the undo once took
    //  LOG.old, the user's LOG that LevelDB renames when it opens, and
    //  kept LevelDB's LOG). One directory for each case: a second open
    //  would rename LevelDB's own LOG over LOG.old.
    static const char user_log[] = "the user's own LOG\n", user_notes[] = "notes\n";
    for (size_t i = 0; i < count; i++) {
        char user[160], log[192], log_old[192], notes[192];
        snprintf (user, sizeof user, "%s/user%zu", fx->dir, i);
        snprintf (log, sizeof log, "%s/LOG", user);
        snprintf (log_old, sizeof log_old, "%s/LOG.old", user);
        snprintf (notes, sizeof notes, "%s/notes", user);
        assert_int_equal (mkdir (user, 0755), 0);
        s_write_file (log, user_log);
        s_write_file (notes, user_notes);
        s_refused (fx, &cases[i], user);
        s_assert_file (notes, user_notes, cases[i].options);
        s_assert_file (log_old, user_log, cases[i].options); //  LevelDB's rename
    }

    //  A relative --data, and a module whose init calls chdir to where a
    //  directory of the same name holds files of a store's names: the
    //  undo takes back the store made, not those (it went by path, and
    //  removed them).
    char elsewhere[160], decoy[192], decoy_current[224], decoy_log[224], rel[160];
    snprintf (elsewhere, sizeof elsewhere, "%s/elsewhere", fx->dir);
    snprintf (decoy, sizeof decoy, "%s/rel", elsewhere);
    snprintf (decoy_current, sizeof decoy_current, "%s/CURRENT", decoy);
    snprintf (decoy_log, sizeof decoy_log, "%s/LOG", decoy);
    snprintf (rel, sizeof rel, "%s/rel", fx->dir);
    assert_int_equal (mkdir (elsewhere, 0755), 0);
    assert_int_equal (mkdir (decoy, 0755), 0);
    s_write_file (decoy_current, user_notes);
    s_write_file (decoy_log, user_log);
    int code = s_run (fx, out, err,
                      "cd \"$DIR\" && COUNTER_MODULE_FAIL=1 COUNTER_MODULE_CHDIR='%s' timeout 30 "
                      "\"$SHOAL\" node --data rel --workers 1 --metrics off --endpoint '%s' "
                      "--module '%s'",
                      elsewhere, fx->endpoint, getenv ("SHOAL_TEST_MODULE"));
    if (code != 1 || !strstr (err, "failed to start"))
        fail_msg ("a module that calls chdir: exit %d, stderr: %s", code, err);
    s_assert_file (decoy_current, user_notes, "a module that calls chdir");
    s_assert_file (decoy_log, user_log, "a module that calls chdir");
    if (stat (rel, &st) == 0)
        fail_msg ("a module that calls chdir: left %s (%d entries)", rel, s_entries (rel));

    //  After them the store is new: it takes --shards.
    const char *node = "\"$SHOAL\" node --data '%s' --workers 1 --metrics off --endpoint '%s' %s";
    s_node_start (fx, ready, node, data, fx->endpoint, "--shards 8");
    if (!strstr (ready, "8 shards"))
        fail_msg ("not 8 shards: %s", ready);
    assert_int_equal (s_run (fx, out, err,
                             "\"$SHOAL\" send --endpoint '%s' account/k Open owner=k && "
                             "\"$SHOAL\" send --endpoint '%s' account/k Deposit amount=7",
                             fx->endpoint, fx->endpoint),
                      0);
    assert_int_equal (s_node_stop (fx, SIGTERM), 0);

    //  On that store the same starts are refused, and take nothing from it.
    char current[224];
    snprintf (current, sizeof current, "%s/CURRENT", data);
    for (size_t i = 0; i < count; i++) {
        s_refused (fx, &cases[i], data);
        if (stat (current, &st) != 0)
            fail_msg ("%s removed %s", cases[i].options, current);
    }
    s_node_start (fx, ready, node, data, fx->endpoint, "");
    if (!strstr (ready, "8 shards"))
        fail_msg ("not 8 shards: %s", ready);
    assert_int_equal (
        s_run (fx, out, err, "\"$SHOAL\" get --endpoint '%s' account/k", fx->endpoint), 0);
    if (!strstr (out, "\"balance\":7"))
        fail_msg ("the deposit is gone: %s", out);
}

//  `shoal pending` against a node that does not answer says so, exits 3,
//  and does not say that nothing is pending (it does not know).
static void test_pending_node_down (void **state)
{
    fixture_t *fx = *state;
    char out[OUTPUT_MAX], err[OUTPUT_MAX];
    int code = s_run (
        fx, out, err,
        "timeout 30 \"$SHOAL\" pending --endpoint 'ipc://%s/nobody.ipc' --timeout 300", fx->dir);
    assert_int_equal (code, 3);
    if (!strstr (out, "did not answer within 300 ms"))
        fail_msg ("no line about the node: %s", out);
    if (strstr (out, "no command is pending"))
        fail_msg ("says nothing is pending with no node answering: %s", out);
}

//  --------------------------------------------------------------------------
//  5. The events of an address of no registered type are refused, as its
//     state is.

static void test_events_unknown_type (void **state)
{
    fixture_t *fx = *state;
    char ready[OUTPUT_MAX], out[OUTPUT_MAX], err[OUTPUT_MAX];
    s_node_start (fx, ready, "\"$SHOAL\" node --data '%s' --workers 1 --endpoint '%s'", fx->data,
                  fx->endpoint);
    const char *queries[] = {"get", "events"};
    for (size_t i = 0; i < 2; i++) {
        int code = s_run (fx, out, err, "\"$SHOAL\" %s --endpoint '%s' nosuchtype/x", queries[i],
                          fx->endpoint);
        assert_int_equal (code, 1);
        assert_non_null (strstr (out, "\"ok\":false"));
        assert_non_null (strstr (out, "\"code\":\"unknown_type\""));
    }
    //  A known type with no events is no error.
    assert_int_equal (
        s_run (fx, out, err, "\"$SHOAL\" events --endpoint '%s' account/nobody", fx->endpoint), 0);
    assert_string_equal (out, "");
}

//  Fails unless text is one line of printable UTF-8, its newline last.
static void s_assert_one_clean_line (const char *text, const char *what)
{
    size_t len = strlen (text);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) text[i];
        bool bad = c >= 0x80 ? utf8_char ((const uint8_t *) text + i, len - i) == 0
                             : (c < 0x20 && !(c == '\n' && i == len - 1)) || c == 0x7f;
        if (bad)
            fail_msg ("%s: byte 0x%02x at %zu of: %s", what, c, i, text);
    }
}

//  `shoal send` refuses what it would send otherwise than the user wrote:
//  a string that is not UTF-8, a key repeated in --input, a key cut at
//  \u0000, a second --input (it replaced the first: the owner was "b"),
//  a second --id (the idempotency key: the last one was taken).
//  Each exits 2 naming the field, key or option, and nothing reaches the
//  node (the account stays unopened). A key, address or name it names is
//  quoted escaped, in one clean line (an ESC or 0xff came out raw); so
//  are the addresses, MSGIDs and codes explain, resend and resolve refuse.
static void test_send_refuses_altered_fields (void **state)
{
    fixture_t *fx = *state;
    char ready[OUTPUT_MAX], out[OUTPUT_MAX], err[OUTPUT_MAX];
    s_node_start (fx, ready, "\"$SHOAL\" node --data '%s' --workers 1 --endpoint '%s'", fx->data,
                  fx->endpoint);
    struct {
        const char *command;
        const char *error;
    } cases[] = {
        {"send account/zz Open \"owner=$(printf 'a\\377b')\"",
         "field 'owner': the value is not UTF-8"},
        {"send --input \"$DIR/f.json\" account/zz Open",
         "input: key \"owner\\u0000\" holds \\u0000"},
        {"send --input \"$DIR/d.json\" account/zz Open", "input: key \"owner\" is repeated"},
        {"send --input \"$DIR/a.json\" account/zz Open --input \"$DIR/b.json\"",
         "shoal send: --input given twice"},
        {"send --input=- --input - account/zz Open <\"$DIR/a.json\"",
         "shoal send: --input given twice"},
        {"send --id one account/zz Open owner=a --id two", "shoal send: --id given twice"},
        {"send account/zz Open \"$(printf 'ow\\033ner')=x\" \"$(printf 'ow\\033ner')=y\"",
         "shoal send: field 'ow\\u001bner' is given twice\n"},
        {"send --input \"$DIR/x.json\" account/zz Open",
         "shoal send: input: key \"\\xff\\n\" is repeated in one object\n"},
        {"send \"$(printf 'account/z\\033')\" Open",
         "shoal send: 'account/z\\u001b' is not an address"},
        {"send account/zz \"$(printf 'Op\\377en')\"",
         "shoal send: 'Op\\xffen' is not a command name"},
        //  The stuck-work commands say an address, a MSGID or a code as
        //  send does (they wrote its bytes raw: an ESC reached the
        //  terminal).
        {"explain \"$(printf 'account/z\\033[2J')\"",
         "shoal explain: 'account/z\\u001b[2J' is not an address"},
        {"resend \"$(printf 'account/z\\033')\"",
         "shoal resend: 'account/z\\u001b' is not an address"},
        {"resolve \"$(printf 'transfer/t\\033')\" 0123456789abcdef0123456789abcdef --reject x "
         "--reason y",
         "shoal resolve: 'transfer/t\\u001b' is not an address"},
        {"resolve transfer/t \"$(printf '\\033[2J')\" --reject x --reason y",
         "shoal resolve: MSGID is 32 lowercase hex digits, as shoal pending prints it, not "
         "'\\u001b[2J'\n"},
        {"resolve transfer/t 0123456789abcdef0123456789abcdef --reject \"$(printf 'a\\033')\" "
         "--reason y",
         "shoal resolve: --reject CODE is 1 to 63 printable characters without spaces, not "
         "'a\\u001b'\n"},
        //  A reason that is not UTF-8 is bad usage, as a field of send is
        //  (the node refused it as bad_frame, exit 1).
        {"resolve transfer/t 0123456789abcdef0123456789abcdef --reject x --reason "
         "\"$(printf 'a\\377b')\"",
         "shoal resolve: --reason TEXT is not UTF-8: 'a\\xffb'\n"},
    };
    assert_int_equal (
        s_run (fx, out, err,
               "printf '{\"owner\":\"a\",\"owner\\\\u0000\":\"b\"}' >\"$DIR/f.json\" && "
               "printf '{\"owner\":\"a\",\"owner\":\"b\"}' >\"$DIR/d.json\" && "
               "printf '{\"owner\":\"a\"}' >\"$DIR/a.json\" && "
               "printf '{\"owner\":\"b\"}' >\"$DIR/b.json\" && "
               "printf '{\"\\377\\\\n\":1,\"\\377\\\\n\":2}' >\"$DIR/x.json\""),
        0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int code =
            s_run (fx, out, err, "\"$SHOAL\" %s --endpoint '%s'", cases[i].command, fx->endpoint);
        if (code != 2 || !strstr (err, cases[i].error))
            fail_msg ("case %zu: exit %d, stderr '%s'", i, code, err);
        s_assert_one_clean_line (err, cases[i].command);
    }
    int code = s_run (fx, out, err, "\"$SHOAL\" get --endpoint '%s' account/zz", fx->endpoint);
    assert_int_equal (code, 0);
    assert_non_null (strstr (out, "\"version\":0,"));
}

//  `shoal events --follow` outlives a restart of its node: it asks again
//  until the node answers, and goes on printing (it exited 3 on the first
//  unanswered ask).
static void test_follow_across_restart (void **state)
{
    fixture_t *fx = *state;
    char ready[OUTPUT_MAX], out[OUTPUT_MAX], err[OUTPUT_MAX];
    //  The follower is the shell's child, and becomes ours when it exits.
    assert_int_equal (prctl (PR_SET_CHILD_SUBREAPER, 1), 0);
    const char *node = "\"$SHOAL\" node --data '%s' --workers 1 --endpoint '%s' --metrics off";
    s_node_start (fx, ready, node, fx->data, fx->endpoint);
    assert_int_equal (s_run (fx, out, err,
                             "\"$SHOAL\" send --endpoint '%s' account/f Open owner=f && "
                             "\"$SHOAL\" send --endpoint '%s' account/f Deposit amount=3",
                             fx->endpoint, fx->endpoint),
                      0);
    assert_int_equal (s_run (fx, out, err,
                             "\"$SHOAL\" events --follow --timeout 300 --endpoint '%s' "
                             "account/f >\"$DIR/follow.out\" 2>\"$DIR/follow.err\" & echo $!",
                             fx->endpoint),
                      0);
    pid_t follower = (pid_t) atoi (out);
    assert_true (follower > 0);
    char path[160], err_path[160], text[OUTPUT_MAX];
    snprintf (path, sizeof path, "%s/follow.out", fx->dir);
    snprintf (err_path, sizeof err_path, "%s/follow.err", fx->dir);
    int64_t deadline = s_now_ms () + START_TIMEOUT_MS;
    for (s_read (path, text); !strstr (text, "\"amount\":3"); s_read (path, text)) {
        if (s_now_ms () > deadline)
            fail_msg ("the follower never printed the first deposit: %s", text);
        usleep (20 * 1000);
    }
    assert_int_equal (s_node_stop (fx, SIGTERM), 0);
    for (s_read (err_path, text); !strstr (text, "still following account/f from seq 3");
         s_read (err_path, text)) {
        if (s_now_ms () > deadline)
            fail_msg ("the follower did not say it goes on: %s", text);
        assert_int_equal (waitpid (follower, NULL, WNOHANG), 0); //  still running
        usleep (20 * 1000);
    }
    s_node_start (fx, ready, node, fx->data, fx->endpoint);
    assert_int_equal (s_run (fx, out, err,
                             "\"$SHOAL\" send --endpoint '%s' account/f Deposit "
                             "amount=4",
                             fx->endpoint),
                      0);
    for (s_read (path, text); !strstr (text, "\"amount\":4"); s_read (path, text)) {
        if (s_now_ms () > deadline)
            fail_msg ("the follower never printed the deposit after the restart: %s", text);
        usleep (20 * 1000);
    }
    s_read (err_path, text);
    assert_non_null (strstr (text, "account/f answers again"));
    assert_int_equal (waitpid (follower, NULL, WNOHANG), 0);
    kill (follower, SIGINT);
    assert_int_equal (waitpid (follower, NULL, 0), follower);
    assert_int_equal (prctl (PR_SET_CHILD_SUBREAPER, 0), 0);
    //  Each event once: the restart printed nothing twice.
    s_read (path, text);
    assert_int_equal (strstr (strstr (text, "\"seq\":1") + 1, "\"seq\":1"), NULL);
    assert_int_equal (strstr (strstr (text, "\"seq\":2") + 1, "\"seq\":2"), NULL);
    assert_int_equal (strstr (strstr (text, "\"seq\":3") + 1, "\"seq\":3"), NULL);
}

//  --------------------------------------------------------------------------
//  6. --shards for a store made with another count is refused, saying both.

static void test_shards_mismatch (void **state)
{
    fixture_t *fx = *state;
    char ready[OUTPUT_MAX], out[OUTPUT_MAX], err[OUTPUT_MAX];
    s_node_start (fx, ready, "\"$SHOAL\" node --data '%s' --workers 1 --endpoint '%s' --shards 8",
                  fx->data, fx->endpoint);
    assert_non_null (strstr (ready, "8 shards"));
    assert_true (WIFEXITED (s_node_stop (fx, SIGTERM)));

    int code = s_run (fx, out, err,
                      "timeout 30 \"$SHOAL\" node --data '%s' --workers 1 --endpoint '%s' "
                      "--shards 16",
                      fx->data, fx->endpoint);
    assert_int_equal (code, 1);
    assert_null (strstr (out, "ready on"));
    s_all_lines_start (err, "shoal node: ", "--shards 16");
    assert_non_null (strstr (err, "has 8 shards; --shards 16 was given"));

    //  The same count, or none, opens it.
    s_node_start (fx, ready, "\"$SHOAL\" node --data '%s' --workers 1 --endpoint '%s' --shards 8",
                  fx->data, fx->endpoint);
    assert_true (WIFEXITED (s_node_stop (fx, SIGTERM)));
    s_node_start (fx, ready, "\"$SHOAL\" node --data '%s' --workers 1 --endpoint '%s'", fx->data,
                  fx->endpoint);
    assert_non_null (strstr (ready, "8 shards"));
}

//  --------------------------------------------------------------------------
//  7. A config file's misspelt key or bad value is named with the file, its
//     line and the key, in shoal's words.

static void test_config_errors (void **state)
{
    fixture_t *fx = *state;
    char path[160], out[OUTPUT_MAX], err[OUTPUT_MAX], expected[320];
    snprintf (path, sizeof path, "%s/node.cfg", fx->dir);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fprintf (file, "#   a node\nnode\n    durability = async\n    wrokers = 2\n");
    fclose (file);
    int code = s_run (fx, out, err, "timeout 30 \"$SHOAL\" node --config '%s' --data '%s'", path,
                      fx->data);
    assert_int_equal (code, 2);
    assert_string_equal (out, "");
    snprintf (expected, sizeof expected, "shoal node: %s:4: unknown key node/wrokers\n", path);
    assert_string_equal (err, expected);

    file = fopen (path, "w");
    assert_non_null (file);
    fprintf (file, "node\n    workers = many\n");
    fclose (file);
    code = s_run (fx, out, err, "timeout 30 \"$SHOAL\" node --config '%s' --data '%s'", path,
                  fx->data);
    assert_int_equal (code, 2);
    snprintf (expected, sizeof expected,
              "shoal node: %s:2: node/workers must be an integer from 1 to 256, not 'many'\n",
              path);
    assert_string_equal (err, expected);

    file = fopen (path, "w");
    assert_non_null (file);
    fprintf (file, "nodes\n    workers = 1\n");
    fclose (file);
    code = s_run (fx, out, err, "timeout 30 \"$SHOAL\" node --config '%s' --data '%s'", path,
                  fx->data);
    assert_int_equal (code, 2);
    snprintf (expected, sizeof expected, "shoal node: %s: unknown key nodes\n", path);
    assert_string_equal (err, expected);

    //  Said twice, as the cluster file refuses it (before, taken without
    //  a word, the last one winning), and a node section with a value.
    static const struct {
        const char *text;
        const char *says; //  after "shoal node: PATH: "
    } twice[] = {
        {"node\n    workers = 1\n    workers = 2\n", "node/workers given twice\n"},
        {"node\n    workers = 1\nnode\n    durability = async\n", "section node given twice\n"},
        {"node = 1\n", "node is a section, its keys indented under it; not 'node = VALUE'\n"},
        {"node\n    modules\n        c = a.so\n        c = b.so\n", "node/modules/c given twice\n"},
        {"node\n    modules\n        c = a.so\n            k = 1\n            k = 2\n",
         "node/modules/c/k given twice\n"},
    };
    for (size_t i = 0; i < sizeof twice / sizeof twice[0]; i++) {
        file = fopen (path, "w");
        assert_non_null (file);
        fputs (twice[i].text, file);
        fclose (file);
        //  Before, a node ran: on an endpoint of the test's own.
        code = s_run (fx, out, err,
                      "timeout 30 \"$SHOAL\" node --config '%s' --data '%s' --endpoint '%s' "
                      "--metrics off",
                      path, fx->data, fx->endpoint);
        snprintf (expected, sizeof expected, "shoal node: %s: %s", path, twice[i].says);
        if (code != 2 || strcmp (err, expected) != 0)
            fail_msg ("config '%s': exit %d, stderr: %s", twice[i].text, code, err);
        assert_string_equal (out, "");
    }

    //  module and module-opt are lists, on the command line and here: given
    //  twice, both are taken (the node goes on to the data directory,
    //  a file here, which it refuses).
    file = fopen (path, "w");
    assert_non_null (file);
    fputs ("node\n    module-opt = counter.x=1\n    module-opt = counter.y=2\n", file);
    fclose (file);
    code = s_run (fx, out, err,
                  "timeout 30 \"$SHOAL\" node --config '%s' --data '%s' --metrics off", path, path);
    assert_int_equal (code, 1);
    if (strstr (err, "given twice") || !strstr (err, "Not a directory"))
        fail_msg ("two module-opt in a config: %s", err);

    //  A byte order mark, as some editors write: said, where zconfig
    //  printed "invalid syntax" of a first line that looks right.
    file = fopen (path, "w");
    assert_non_null (file);
    fputs ("\xef\xbb\xbfnode\n    workers = 2\n", file);
    fclose (file);
    code = s_run (fx, out, err, "timeout 30 \"$SHOAL\" node --config '%s' --data '%s'", path,
                  fx->data);
    assert_int_equal (code, 2);
    assert_string_equal (out, "");
    snprintf (expected, sizeof expected,
              "shoal node: the config file %s starts with a UTF-8 byte order mark (EF BB BF): "
              "save it without one\n",
              path);
    assert_string_equal (err, expected);

    //  A FIFO (or a directory) is not read: refused at once, where the
    //  node waited for a writer in open() before.
    snprintf (path, sizeof path, "%s/fifo.cfg", fx->dir);
    assert_int_equal (mkfifo (path, 0600), 0);
    code = s_run (fx, out, err, "timeout 30 \"$SHOAL\" node --config '%s' --data '%s'", path,
                  fx->data);
    assert_int_equal (code, 2);
    assert_string_equal (out, "");
    snprintf (expected, sizeof expected,
              "shoal node: cannot read the config file %s: not a regular file", path);
    assert_true (strncmp (err, expected, strlen (expected)) == 0);
    code = s_run (fx, out, err, "timeout 30 \"$SHOAL\" node --config '%s' --data '%s'", fx->dir,
                  fx->data);
    assert_int_equal (code, 2);
    assert_non_null (strstr (err, "not a regular file"));
}

//  --------------------------------------------------------------------------
//  8. A module path in a config file is taken from the file's directory,
//     whatever the current directory.

static void test_config_module_relative (void **state)
{
    fixture_t *fx = *state;
    const char *module = getenv ("SHOAL_TEST_MODULE");
    assert_non_null (module);
    char conf[160], link[200], path[200];
    snprintf (conf, sizeof conf, "%s/conf", fx->dir);
    assert_int_equal (mkdir (conf, 0755), 0);
    snprintf (link, sizeof link, "%s/mods", conf);
    assert_int_equal (mkdir (link, 0755), 0);
    snprintf (link, sizeof link, "%s/mods/counter.so", conf);
    assert_int_equal (symlink (module, link), 0);
    snprintf (path, sizeof path, "%s/node.cfg", conf);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fprintf (file, "node\n    workers = 1\n    modules\n        counter = mods/counter.so\n");
    fclose (file);

    char ready[OUTPUT_MAX], out[OUTPUT_MAX], err[OUTPUT_MAX];
    s_node_start (fx, ready, "\"$SHOAL\" node --config '%s' --data '%s' --endpoint '%s'", path,
                  fx->data, fx->endpoint);
    int code =
        s_run (fx, out, err, "\"$SHOAL\" send counter/c Add by=2 --endpoint '%s'", fx->endpoint);
    assert_int_equal (code, 0);
    assert_non_null (strstr (out, "\"reply\":{\"value\":2}"));

    //  --module with a file name alone takes the file here, as other
    //  commands do (dlopen looked it up on the linker's path: not found).
    assert_int_equal (s_node_stop (fx, SIGTERM), 0);
    s_node_start (fx, ready,
                  "sh -c \"cd '%s/mods' && exec '$SHOAL' node --module counter.so --data '%s' "
                  "--endpoint '%s'\"",
                  conf, fx->data, fx->endpoint);
    code = s_run (fx, out, err, "\"$SHOAL\" send counter/c Add by=3 --endpoint '%s'", fx->endpoint);
    assert_int_equal (code, 0);
    assert_non_null (strstr (out, "\"reply\":{\"value\":5}"));
}

//  --------------------------------------------------------------------------
//  9. The demo's output has no line of its node child's: stdout is the
//     summary alone, and stdout and stderr together have no "shoal node".

static void test_demo_summary (void **state)
{
    fixture_t *fx = *state;
    char out[OUTPUT_MAX], both[OUTPUT_MAX];
    int code = s_run (fx, out, NULL,
                      "TMPDIR=\"$DIR\" timeout 300 \"$SHOAL\" demo --accounts 20 --transfers 40 "
                      "--concurrency 8 --kills 1 --workers 1 --seed 7");
    assert_int_equal (code, 0);
    const char *summary = "\nshoal demo: 40 transfers over 20 accounts, node killed 1 time\n";
    assert_true (strncmp (out, summary, strlen (summary)) == 0);
    for (const char *line = out + strlen (summary); *line; line = strchr (line, '\n') + 1)
        if (strncmp (line, "  ", 2) != 0)
            fail_msg ("a line in the summary that is not the summary's: %s", line);
    assert_non_null (strstr (out, "  books balance: yes\n"));

    code = s_run (fx, both, NULL,
                  "TMPDIR=\"$DIR\" timeout 300 \"$SHOAL\" demo --accounts 20 --transfers 40 "
                  "--concurrency 8 --kills 1 --workers 1 --seed 7 2>&1");
    assert_int_equal (code, 0);
    assert_null (strstr (both, "shoal node"));
    //  The node's log is removed after a run that went well.
    assert_int_equal (s_run (fx, NULL, NULL, "ls \"$DIR\" | grep -q '^shoal-demo-'"), 1);
}

//  --------------------------------------------------------------------------
//  9b. `shoal demo --data DIR` on a DIR that holds a store (an earlier
//      run's) is refused before anything runs: the end check would count
//      the earlier run's accounts and transfers too (before, it ran, mixed
//      them and printed "NOT the same as the journal").

static void test_demo_data_in_use (void **state)
{
    fixture_t *fx = *state;
    char out[OUTPUT_MAX], err[OUTPUT_MAX];
    const char *demo = "timeout 300 \"$SHOAL\" demo --accounts 20 --transfers 40 --concurrency 8 "
                       "--kills 0 --workers 1 --data \"$DIR/demo\"";
    int code = s_run (fx, out, err, "TMPDIR=\"$DIR\" %s --seed 1", demo);
    if (code != 0)
        fail_msg ("demo into a new --data: exit %d: %s", code, err);
    code = s_run (fx, out, err, "TMPDIR=\"$DIR\" %s --seed 2", demo);
    assert_int_equal (code, 2);
    assert_string_equal (out, "");
    assert_non_null (strstr (err, "/demo is not empty"));
    s_all_lines_start (err, "shoal demo: ", "demo --data DIR in use");
    //  An empty directory is as good as a new one.
    code = s_run (fx, out, err, "mkdir \"$DIR/empty\"");
    assert_int_equal (code, 0);
    code = s_run (fx, out, err,
                  "TMPDIR=\"$DIR\" timeout 300 \"$SHOAL\" demo --accounts 20 --transfers 40 "
                  "--concurrency 8 --kills 0 --workers 1 --data \"$DIR/empty\" --seed 3");
    if (code != 0)
        fail_msg ("demo into an empty --data: exit %d: %s", code, err);
    assert_non_null (strstr (out, "  books balance: yes\n"));
}

int main (void)
{
    if (!getenv ("SHOAL_BIN") || !getenv ("SHOAL_TEST_MODULE")) {
        fprintf (stderr, "test_cli: run through ctest (SHOAL_BIN and SHOAL_TEST_MODULE unset)\n");
        return 1;
    }
    signal (SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_node_honours_shoal_endpoint, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_threads_named, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_options_after_positionals, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_help_and_version, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_messages_prefixed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_events_unknown_type, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_send_refuses_altered_fields, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_follow_across_restart, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_shards_mismatch, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_config_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_config_module_relative, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_demo_summary, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_demo_data_in_use, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_pending_node_down, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_node_usage_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_module_clash_named, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_refused_start_makes_no_store, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_exit_codes_consistent, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
