/*  test_projections_cli.c - `shoal projections` and `shoal query` as their
    users run them: the real binary through /bin/sh against real nodes on
    ipc:// endpoints in the test's own directory (proc.h). The bank's
    bank_totals projection is what they look at.

    1. The query gives the sum of the deposits; the list shows
       bank_totals@1 live with its lag reaching 0; a rebuild through the
       command line becomes live and gives the same row.
    2. pause: the status says so, commands are still accepted and the lag
       grows while the rows stay; resume: it catches up.
    3. Bad inputs are refused with clear messages and exit codes, and
       change nothing.
    4. With tests/projection_module.c: a failed projection with its error
       and position, skipped; a new version refused as not_ready while it
       builds and the old one answers, then served; the old one dropped.
    5. A cluster of two nodes: each node's row, merged; an action on every
       node; a node down is named and its exit code given.

    Every wait polls a condition against a deadline.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cluster.h"
#include "proc.h"
#include "shard.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NODE "$SHOAL node --endpoint $E --data $DIR/data --workers 2 --metrics off"
//  The projections' lags, least first: "lag 0 0 0".
#define LAGS                                                                                       \
    "$SHOAL projections --json --endpoint $E | python3 -c 'import json, sys; print (\"lag\", "     \
    "*sorted (b[\"lag\"] for b in json.load (sys.stdin)[\"projections\"]))'"
#define WAIT_MS 20000 //  a projection catching up, on a busy machine
#define CLUSTER_NODES 2

//  The cluster's nodes, killed by the teardown if a test fails first.
typedef struct {
    pid_t pids[CLUSTER_NODES];
} cluster_nodes_t;

static cluster_nodes_t s_nodes;

static void s_cluster_kill (cluster_nodes_t *nodes, int i)
{
    if (nodes->pids[i] > 0) {
        kill (nodes->pids[i], SIGKILL);
        waitpid (nodes->pids[i], NULL, 0);
        nodes->pids[i] = 0;
    }
}

static int s_setup (void **state)
{
    *state = proc_new ("test-projcli");
    return 0;
}

static int s_teardown (void **state)
{
    proc_t *p = *state;
    for (int i = 0; i < CLUSTER_NODES; i++)
        s_cluster_kill (&s_nodes, i);
    proc_destroy (&p);
    return 0;
}

//  Fails unless text has needle.
#define assert_has(text, needle)                                                                   \
    do {                                                                                           \
        if (!strstr ((text), (needle)))                                                            \
            fail_msg ("expected %s in: %s", (needle), (text));                                     \
    } while (0)

//  Runs command (formatted) until its stdout has needle and it exits 0,
//  for at most WAIT_MS; fails the test with its last output if it never
//  does. out gets that last stdout.
static void s_wait_for (proc_t *p, char *out, const char *needle, const char *format, ...)
{
    char command[2048], err[PROC_OUTPUT_MAX];
    va_list args;
    va_start (args, format);
    vsnprintf (command, sizeof command, format, args);
    va_end (args);
    int64_t deadline = proc_now_ms () + WAIT_MS;
    while (true) {
        int code = proc_run (p, out, err, "%s", command);
        if (code == 0 && strstr (out, needle))
            return;
        if (proc_now_ms () > deadline)
            fail_msg ("%s: no %s within %d ms (exit %d): %s %s", command, needle, WAIT_MS, code,
                      out, err);
        usleep (50 * 1000);
    }
}

//  Runs the shell command (formatted) and fails unless it exits 0.
static void s_ok (proc_t *p, const char *format, ...)
{
    char command[2048], out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    va_list args;
    va_start (args, format);
    vsnprintf (command, sizeof command, format, args);
    va_end (args);
    int code = proc_run (p, out, err, "%s", command);
    if (code != 0)
        fail_msg ("%s: exit %d: %s %s", command, code, out, err);
}

//  Replaces the number of every "rate": in text (events per second, which
//  move with time) with one '_'.
static void s_mask_rate (char *text)
{
    for (char *at = strstr (text, "\"rate\":"); at; at = strstr (at + 1, "\"rate\":")) {
        char *digits = at + 7, *end = digits;
        while (*end >= '0' && *end <= '9')
            end++;
        if (end > digits) {
            *digits = '_';
            memmove (digits + 1, end, strlen (end) + 1);
        }
    }
}

//  Opens three accounts, deposits 400 in all and moves 50 between them.
static void s_bank (proc_t *p)
{
    const char *owners[] = {"a", "b", "c"};
    const int deposits[] = {100, 250, 50};
    for (int i = 0; i < 3; i++) {
        s_ok (p, "$SHOAL send account/%s Open owner=%s --endpoint $E", owners[i], owners[i]);
        s_ok (p, "$SHOAL send account/%s Deposit amount=%d --endpoint $E", owners[i], deposits[i]);
    }
    s_ok (p, "$SHOAL transfer --wait a b 30 --endpoint $E");
    s_ok (p, "$SHOAL transfer --wait b c 20 --endpoint $E");
}

//  --------------------------------------------------------------------------
//  1. query, list, rebuild

static void test_query_list_rebuild (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX], before[PROC_OUTPUT_MAX];
    proc_node_start (p, NODE);
    s_bank (p);
    //  Options after the arguments; the sum of the deposits, both transfers.
    s_wait_for (p, before, "\"completed\":2", "$SHOAL query bank_totals totals --endpoint $E");
    assert_has (before, "{\"key\":\"totals\",\"row\":{\"balance\":400,");
    assert_has (before, "\"accounts\":{\"open\":3,\"closed\":0}");
    assert_int_equal (strchr (before, '\n') - before + 1, (long) strlen (before)); //  one line

    s_wait_for (p, out, "\"lag\":0,", "$SHOAL projections --json --endpoint $E");
    assert_has (out, "{\"name\":\"bank_totals\",\"version\":1,\"build\":0,\"status\":\"live\","
                     "\"served\":true,");
    assert_int_equal (proc_run (p, out, err, "$SHOAL projections --endpoint $E"), 0);
    assert_has (out, "PROJECTION");
    assert_has (out, "bank_totals@1");
    assert_has (out, " live ");
    assert_string_equal (err, "");
    //  The rows once caught up: what every later query must give.
    assert_int_equal (proc_run (p, before, err, "$SHOAL query bank_totals totals --endpoint $E"),
                      0);

    //  --json: the rows in one object, with where the rows are.
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL query --json bank_totals totals --endpoint $E"), 0);
    assert_has (out, "{\"name\":\"bank_totals\",\"version\":1,\"position\":");
    assert_has (out,
                "\"lag\":0,\"held\":\"\",\"rows\":[{\"key\":\"totals\",\"row\":{\"balance\":400,");
    assert_has (out, "\"truncated\":false,\"consistent\":true}");
    assert_int_equal (proc_run (p, out, err, "$SHOAL query bank_totals --all --endpoint $E"), 0);
    assert_string_equal (out, before);
    assert_int_equal (proc_run (p, out, err, "$SHOAL query bank_totals --prefix tot --endpoint $E"),
                      0);
    assert_string_equal (out, before);
    assert_int_equal (proc_run (p, out, err, "$SHOAL query bank_totals --prefix x --endpoint $E"),
                      0);
    assert_string_equal (out, "");

    //  Rebuild: build 1 from position 0, served once caught up; build 0 goes.
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL projections rebuild bank_totals --endpoint $E"), 0);
    assert_has (out, "bank_totals@1: rebuilding from position 0 as build 1");
    assert_has (out, "build 0 serves until it has caught up");
    s_wait_for (p, out, "\"build\":1,\"status\":\"live\",\"served\":true",
                "$SHOAL projections --json --endpoint $E");
    s_wait_for (p, out, "\"lag\":0,", "$SHOAL projections --json --endpoint $E");
    if (strstr (out, "\"name\":\"bank_totals\",\"version\":1,\"build\":0,"))
        fail_msg ("build 0 still listed after the rebuild: %s", out);
    assert_int_equal (proc_run (p, out, err, "$SHOAL query bank_totals@1 totals --endpoint $E"), 0);
    assert_string_equal (out, before);
}

//  The records a node's projections wrote (`store_records`, every record
//  of the store, less the journal's `records`) for s_bank and four
//  transfers more, once they have caught up, lingering linger_ms. On a
//  data directory of its own.
static long long s_projection_records (proc_t *p, int linger_ms)
{
    char out[PROC_OUTPUT_MAX];
    proc_node_start (p,
                     "$SHOAL node --endpoint $E --data $DIR/data-%d --workers 2 --metrics off "
                     "--projection-linger-ms %d",
                     linger_ms, linger_ms);
    s_bank (p);
    for (int i = 0; i < 4; i++)
        s_ok (p, "$SHOAL transfer --wait a c %d --endpoint $E", i + 1);
    s_wait_for (p, out, "\"completed\":6", "$SHOAL query bank_totals totals --endpoint $E");
    //  Every build at the log's end: the transfers' rows are all written.
    s_wait_for (p, out, "lag 0 0 0",
                "$SHOAL projections --json --endpoint $E | python3 -c 'import json, sys; "
                "print (\"lag\", *sorted (b[\"lag\"] for b in json.load (sys.stdin)"
                "[\"projections\"]))'");
    s_wait_for (p, out, "\"store_records\":", "$SHOAL stats --endpoint $E");
    const char *all = strstr (out, "\"store_records\":"), *journal = strstr (out, "\"records\":");
    assert_non_null (journal);
    long long records =
        atoll (all + strlen ("\"store_records\":")) - atoll (journal + strlen ("\"records\":"));
    proc_node_signal (p, SIGTERM);
    return records;
}

//  Projections that follow the log linger (--projection-linger-ms): the
//  three steps of a transfer then meet in one of their batches, which
//  writes each row once and one checkpoint per projection, where a
//  projection that takes every commit as it comes writes its rows and a
//  checkpoint at each step.
static void test_linger_writes_rows_once (void **state)
{
    proc_t *p = *state;
    long long at_once = s_projection_records (p, 0);
    long long lingering = s_projection_records (p, 3000);
    print_message ("the projections' records: %lld at once, %lld lingering 3000 ms\n", at_once,
                   lingering);
    if (!(lingering > 0 && lingering * 10 < at_once * 8))
        fail_msg ("lingering wrote %lld records, at once %lld: not 20 %% fewer", lingering,
                  at_once);
}

//  The store's records less the journal's (`shoal stats`): what the
//  projections wrote.
static long long s_rows_written (proc_t *p)
{
    char out[PROC_OUTPUT_MAX];
    s_wait_for (p, out, "\"store_records\":", "$SHOAL stats --endpoint $E");
    const char *all = strstr (out, "\"store_records\":"), *journal = strstr (out, "\"records\":");
    assert_non_null (journal);
    return atoll (all + strlen ("\"store_records\":")) - atoll (journal + strlen ("\"records\":"));
}

//  The batches account_transfers has committed (`shoal projections`).
static long long s_batches (proc_t *p)
{
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    assert_int_equal (
        proc_run (p, out, err,
                  "$SHOAL projections --json --endpoint $E | python3 -c 'import json, sys; "
                  "print ([b[\"batches\"] for b in json.load (sys.stdin)[\"projections\"] "
                  "if b[\"name\"] == \"account_transfers\"][0])'"),
        0);
    return atoll (out);
}

//  A row that a batch puts and deletes again (account_transfers' index
//  row of a transfer that starts and ends in the batch) is not written at
//  all, not even as a delete. account_transfers is paused while four
//  transfers run, then resumed (resume saves its checkpoint): it takes
//  them in one batch, which writes their 8 rows (one under each account)
//  and its checkpoint, nothing else. It wrote 4 more records when the
//  index rows' deletes were written. A batch takes at most 50 ms: on a
//  busy machine the four may need two, and the round is run again.
static void test_batch_writes_no_row_it_deletes (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX];
    proc_node_start (p, "$SHOAL node --endpoint $E --data $DIR/data --workers 2 --metrics off "
                        "--projection-linger-ms 0");
    s_bank (p);
    s_wait_for (p, out, "lag 0 0 0", LAGS);
    int completed = 2, rounds = 0;
    long long written = -1, batches = 0;
    while (batches != 1 && rounds < 5) {
        rounds++;
        s_ok (p, "$SHOAL projections pause account_transfers --endpoint $E");
        for (int i = 0; i < 4; i++)
            s_ok (p, "$SHOAL transfer --wait a c %d --endpoint $E", i + 1);
        completed += 4;
        s_wait_for (p, out, "lag 0 0 20", LAGS); //  4 transfers of 5 events; the others caught up
        long long before = s_rows_written (p), batches_before = s_batches (p);
        s_ok (p, "$SHOAL projections resume account_transfers --endpoint $E");
        s_wait_for (p, out, "lag 0 0 0", LAGS);
        written = s_rows_written (p) - before;
        batches = s_batches (p) - batches_before;
    }
    if (batches != 1)
        fail_msg ("%d rounds, and the last took %lld batches", rounds, batches);
    assert_int_equal (written, 1 + 4 * 2 + 1); //  resume's checkpoint, the rows, the batch's
    //  And the rows are what they would be: a's transfers, completed.
    assert_int_equal (
        proc_run (p, out, NULL, "$SHOAL query account_transfers --prefix a/ --endpoint $E"), 0);
    const char *at = out;
    int found = 0;
    while ((at = strstr (at, "\"status\":\"completed\"")))
        found++, at++;
    assert_int_equal (found, completed - 1); //  all but b -> c in s_bank
}

//  --------------------------------------------------------------------------
//  2. pause and resume

static void test_pause_resume (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX], before[PROC_OUTPUT_MAX];
    proc_node_start (p, NODE);
    s_bank (p);
    s_wait_for (p, before, "\"completed\":2", "$SHOAL query bank_totals totals --endpoint $E");
    s_wait_for (p, out, "\"lag\":0,", "$SHOAL projections --json --endpoint $E");
    assert_int_equal (proc_run (p, before, err, "$SHOAL query bank_totals totals --endpoint $E"),
                      0);
    assert_int_equal (proc_run (p, out, err, "$SHOAL projections pause bank_totals --endpoint $E"),
                      0);
    assert_has (out, "bank_totals@1: paused");
    assert_has (out, " paused ");
    assert_int_equal (proc_run (p, out, err, "$SHOAL projections --json --endpoint $E"), 0);
    assert_has (out, "\"status\":\"paused\"");
    //  Paused again: nothing to do, and it says so (exit 0, as a switch to
    //  the version served).
    assert_int_equal (proc_run (p, out, err, "$SHOAL projections pause bank_totals --endpoint $E"),
                      0);
    assert_has (out, "bank_totals@1: already paused: nothing changed");
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL projections pause bank_totals --json --endpoint $E"), 0);
    assert_has (out, "\"ok\":true,\"action\":\"pause\",\"name\":\"bank_totals\",\"version\":1,"
                     "\"changed\":false,");

    //  Commands go on; the rows stay as they were and the lag grows.
    for (int i = 0; i < 3; i++)
        s_ok (p, "$SHOAL send account/a Deposit amount=10 --endpoint $E");
    s_wait_for (p, out, "\"lag\":3,", "$SHOAL projections --json --endpoint $E");
    assert_has (out, "\"status\":\"paused\"");
    assert_int_equal (proc_run (p, out, err, "$SHOAL query bank_totals totals --endpoint $E"), 0);
    assert_string_equal (out, before);
    //  ... which the query says, on stderr (it printed the old rows alone),
    //  and --json as held.
    assert_has (err, "shoal query: bank_totals@1 is paused at position ");
    assert_has (err, ", 3 events behind: its rows are as of then (shoal projections resume "
                     "bank_totals)");
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL query --json bank_totals totals --endpoint $E"), 0);
    assert_has (out, ",\"lag\":3,\"held\":\"paused\",");

    //  Resume: it catches up.
    assert_int_equal (proc_run (p, out, err, "$SHOAL projections --endpoint $E resume bank_totals"),
                      0);
    assert_has (out, "bank_totals@1: resumed");
    s_wait_for (p, out, "\"balance\":430,", "$SHOAL query bank_totals totals --endpoint $E");
    s_wait_for (p, out, "\"status\":\"live\",\"served\":true,",
                "$SHOAL projections --json --endpoint $E");
    s_wait_for (p, out, "\"lag\":0,", "$SHOAL projections --json --endpoint $E");
    assert_int_equal (proc_run (p, out, err, "$SHOAL query bank_totals totals --endpoint $E"), 0);
    assert_string_equal (err, "");

    //  Resumed again: it was not paused (nor failed), and it says so.
    assert_int_equal (proc_run (p, out, err, "$SHOAL projections resume bank_totals --endpoint $E"),
                      0);
    assert_has (out, "bank_totals@1: not paused: nothing to resume");
    if (strstr (out, "resumed"))
        fail_msg ("a resume of a build not paused said resumed: %s", out);
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL projections resume bank_totals --json --endpoint $E"), 0);
    assert_has (out, "\"ok\":true,\"action\":\"resume\",\"name\":\"bank_totals\","
                     "\"version\":1,\"changed\":false,");
    assert_has (out, "\"status\":\"live\"");
}

//  The "rate" of name's entry in a `projections --json` answer, -1 if none.
static long s_rate_of (const char *json, const char *name)
{
    char key[128];
    snprintf (key, sizeof key, "\"name\":\"%s\"", name);
    const char *entry = strstr (json, key);
    const char *rate = entry ? strstr (entry, "\"rate\":") : NULL;
    return rate ? strtol (rate + strlen ("\"rate\":"), NULL, 10) : -1;
}

//  A paused projection moves at 0 events/s, at once: it showed the rate it
//  had when it was paused, decaying over seconds.
static void test_paused_rate_is_zero (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    proc_node_start (p, NODE);
    s_bank (p);
    //  Deposits go on in the background until the node stops.
    assert_int_equal (proc_run (p, out, err,
                                "(for i in $(seq 2000); do $SHOAL send account/a Deposit "
                                "amount=1 --endpoint $E || break; done) >/dev/null 2>&1 &"),
                      0);
    int64_t deadline = proc_now_ms () + WAIT_MS;
    while (s_rate_of (out, "bank_totals") < 1) {
        if (proc_now_ms () > deadline)
            fail_msg ("bank_totals never moved at 1 event/s or more: %s", out);
        usleep (50 * 1000);
        assert_int_equal (proc_run (p, out, err, "$SHOAL projections --json --endpoint $E"), 0);
    }
    assert_int_equal (proc_run (p, out, err, "$SHOAL projections pause bank_totals --endpoint $E"),
                      0);
    assert_int_equal (proc_run (p, out, err, "$SHOAL projections --json --endpoint $E"), 0);
    assert_has (out, "\"status\":\"paused\"");
    assert_int_equal (s_rate_of (out, "bank_totals"), 0);
    //  The others still move.
    assert_true (s_rate_of (out, "account_transfers") >= 0);
}

//  --------------------------------------------------------------------------
//  3. Bad inputs: refused, said clearly, nothing changed

static void test_bad_inputs (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX], rows[PROC_OUTPUT_MAX], list[PROC_OUTPUT_MAX];
    proc_node_start (p, NODE);
    s_bank (p);
    s_wait_for (p, rows, "\"completed\":2", "$SHOAL query bank_totals totals --endpoint $E");
    s_wait_for (p, list, "\"lag\":0,", "$SHOAL projections --json --endpoint $E");
    assert_int_equal (proc_run (p, rows, err, "$SHOAL query bank_totals totals --endpoint $E"), 0);

    static const struct {
        const char *args; //  after "$SHOAL", with $SHOAL_ENDPOINT set
        int code;
        const char *says;
    } cases[] = {
        {"projections pause nope", 1, "shoal projections: not_found: no version of nope"},
        {"projections rebuild nope@2", 1, "shoal projections: not_found: no projection nope@2"},
        {"projections skip bank_totals@1", 2, "expected skip NAME@VERSION POSITION"},
        {"projections skip bank_totals 4", 2, "skip needs the version"},
        {"projections skip bank_totals@1 x", 2, "POSITION must be an integer"},
        //  Digits only (strtol took " 5" and "+5", and the skip was made).
        {"projections skip bank_totals@1 ' 5'", 2, "POSITION must be an integer"},
        {"projections skip bank_totals@1 +5", 2, "POSITION must be an integer"},
        {"query bank_totals --all --limit ' 5'", 2, "--limit must be an integer from 1 to 10000"},
        {"query bank_totals --all --limit +2", 2, "--limit must be an integer from 1 to 10000"},
        {"query 'bank_totals@ 1' totals", 2, "a version is an integer from 1"},
        //  Two prefixes: bad usage (the last one was taken, silently).
        {"query bank_totals --prefix a --prefix b", 2, "--prefix given twice"},
        {"projections skip bank_totals@1 4 --reason r", 1,
         "invalid: bank_totals@1 is not stopped at position 4"},
        //  What loses something says why (the node logs it with who).
        {"projections skip bank_totals@1 4", 2, "skip takes --reason TEXT"},
        {"projections drop bank_totals@1", 2, "drop takes --reason TEXT"},
        {"projections --reason r", 2, "--reason is for an action"},
        {"projections switch bank_totals", 2, "switch needs the version"},
        {"projections drop bank_totals@1 --reason r", 1,
         "busy_projection: bank_totals@1 is the version"},
        {"projections frob bank_totals", 2, "unknown action 'frob'"},
        {"projections pause Bank", 2, "'Bank' is not NAME[@VERSION]"},
        {"projections --watch pause bank_totals", 2, "--watch lists"},
        {"query bank_totals@x totals", 2, "'bank_totals@x' is not NAME[@VERSION]: a version"},
        {"query bank_totals@0 totals", 2, "a version is an integer from 1"},
        //  No "yet" for a name no build has (it may never be).
        {"query nope totals", 1,
         "shoal query: not_found: no version of nope is served on this node (shoal projections "
         "lists them)"},
        {"query nope totals --json", 1, "shoal query: not_found: no version of nope is served"},
        {"query bank_totals@2 totals", 1, "not_found: no projection bank_totals@2"},
        {"query bank_totals missing", 1, "shoal query: no row 'missing' in bank_totals"},
        {"query bank_totals", 2, "expected NAME[@VERSION] KEY"},
        {"query bank_totals totals --prefix t", 2, "expected NAME[@VERSION] KEY"},
        {"query bank_totals --all --limit 0", 2, "--limit must be an integer from 1 to 10000"},
        {"query bank_totals totals --limit 5", 2, "--limit goes with --prefix or --all"},
        {"query bank_totals --bogus totals", 2, "unknown option '--bogus'"},
        {"query -- bank_totals --bogus", 1, "no row '--bogus'"},
        //  A key is quoted escaped, one clean line (its ESC went out raw).
        {"query bank_totals \"$(printf 'x\\033[2J')\"", 1, "no row 'x\\u001b[2J' in bank_totals\n"},
        //  A key or prefix that is not UTF-8 is bad usage, as a field of
        //  send is, and is not sent (the node refused it, bad_frame, exit 1);
        //  a name that is not one is quoted escaped too (its bytes went
        //  out raw).
        {"query bank_totals \"$(printf '\\377')\"", 2, "shoal query: KEY is not UTF-8: '\\xff'\n"},
        {"query bank_totals --prefix \"$(printf 'a\\377')\"", 2,
         "shoal query: --prefix P is not UTF-8: 'a\\xff'\n"},
        {"query \"$(printf 'b\\033\\377')\" totals", 2, "'b\\u001b\\xff' is not NAME[@VERSION]"},
        {"query bank_totals totals --node n1", 2, "--node names a node of a cluster"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int code = proc_run (p, out, err, "SHOAL_ENDPOINT=$E timeout 30 $SHOAL %s", cases[i].args);
        //  With --json, a refusal is on stdout too, as one object (it
        //  printed nothing there).
        bool json = strstr (cases[i].args, "--json") != NULL;
        if (code != cases[i].code || !strstr (err, cases[i].says) ||
            (json ? !strstr (out, "\"ok\":false,\"code\":\"not_found\",\"reason\":") : out[0] != 0))
            fail_msg ("shoal %s: exit %d (not %d), stdout '%s', stderr: %s", cases[i].args, code,
                      cases[i].code, out, err);
        const char *prefix =
            strncmp (cases[i].args, "query", 5) == 0 ? "shoal query: " : "shoal projections: ";
        if (strncmp (err, prefix, strlen (prefix)) != 0)
            fail_msg ("shoal %s: stderr does not start with %s: %s", cases[i].args, prefix, err);
    }
    //  Nothing changed.
    assert_int_equal (proc_run (p, out, err, "$SHOAL query bank_totals totals --endpoint $E"), 0);
    assert_string_equal (out, rows);
    assert_int_equal (proc_run (p, out, err, "$SHOAL projections --json --endpoint $E"), 0);
    s_mask_rate (out);
    s_mask_rate (list);
    assert_string_equal (out, list);

    //  Help, the same both ways, with examples; no node: exit 3.
    const char *commands[] = {"projections", "query"};
    for (size_t i = 0; i < 2; i++) {
        char direct[PROC_OUTPUT_MAX], usage[64];
        assert_int_equal (proc_run (p, out, err, "$SHOAL help %s", commands[i]), 0);
        snprintf (usage, sizeof usage, "Usage: shoal %s", commands[i]);
        assert_has (out, usage);
        assert_has (out, "Examples:");
        assert_int_equal (proc_run (p, direct, err, "$SHOAL %s --help", commands[i]), 0);
        assert_string_equal (out, direct);
    }
    assert_int_equal (proc_run (p, out, err,
                                "$SHOAL query bank_totals totals --endpoint ipc://$DIR/none.ipc "
                                "--timeout 200"),
                      3);
    assert_has (err, "shoal query: no answer from ipc://");

    //  The help's example of --prefix, copied as it is, prints alice's
    //  transfers (it had --prefix account/alice, which prints nothing).
    s_ok (p, "$SHOAL send account/alice Open owner=Alice --endpoint $E");
    s_ok (p, "$SHOAL send account/alice Deposit amount=100 --endpoint $E");
    s_ok (p, "$SHOAL transfer --wait alice a 10 --endpoint $E");
    char example[PROC_OUTPUT_MAX];
    assert_int_equal (proc_run (p, example, err,
                                "$SHOAL query --help | grep -o 'shoal query account_transfers "
                                "--prefix [^ ]* --limit [0-9]*'"),
                      0);
    assert_has (example, "shoal query account_transfers --prefix");
    example[strcspn (example, "\n")] = 0;
    s_wait_for (p, out, "{\"key\":\"alice/", "SHOAL_ENDPOINT=$E $SHOAL %s",
                example + strlen ("shoal "));
}

//  --------------------------------------------------------------------------
//  4. tests/projection_module.c: a failed projection shown with its error
//     and position, skipped through the command line; a new version that
//     is still building refused as not_ready while the old one answers,
//     then served; the old one dropped.

#define MODULE_NODE NODE " --module \"$SHOAL_PROJECTION_MODULE\" --module-opt projection.version=%d"

//  The "error_position" of projection name in a --json list, or -1.
static long s_error_position (const char *list, const char *name)
{
    char entry[64];
    snprintf (entry, sizeof entry, "{\"name\":\"%s\",", name);
    const char *at = strstr (list, entry);
    at = at ? strstr (at, "\"error_position\":") : NULL;
    return at && at[17] >= '0' && at[17] <= '9' ? strtol (at + 17, NULL, 10) : -1;
}

static void test_failed_and_versions (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    proc_node_start (p, MODULE_NODE, 1);
    s_ok (p, "for i in 1 2 3 4 5 6 7 8; do $SHOAL send item/x Add by=$i --endpoint $E >/dev/null "
             "|| exit 1; done; $SHOAL send item/x Poison --endpoint $E");
    s_wait_for (p, out, "\"status\":\"failed\"", "$SHOAL projections --json --endpoint $E");
    long position = s_error_position (out, "strict");
    if (position < 0)
        fail_msg ("no error_position for strict: %s", out);
    assert_int_equal (proc_run (p, out, err, "$SHOAL projections --endpoint $E"), 0);
    char failed[128];
    snprintf (failed, sizeof failed, "failed at position %ld: Poisoned of item/x cannot be counted",
              position);
    assert_has (out, failed);
    //  top says the node unwell (exit 1), naming it: only `shoal
    //  projections` and the metrics said so (an operator's review). The
    //  gauges it reads are written about once a second: polled.
    int64_t deadline = proc_now_ms () + WAIT_MS;
    int top;
    while ((top = proc_run (p, out, err,
                            "$SHOAL top --once --json --interval 200 --endpoint $E")) != 1 ||
           !strstr (out, "projection strict@1 stopped by a failed apply")) {
        if (proc_now_ms () > deadline)
            fail_msg ("top --once --json, strict@1 failed: exit %d: %s %s", top, out, err);
        usleep (100 * 1000); //  between two asks, within the deadline
    }
    //  resume retries the event, which fails again: said, with the skip
    //  that steps over it (it said "resumed" alone, and stopped again),
    //  and exit 1; --json says it too (it said "live", exit 0).
    assert_int_equal (proc_run (p, out, err, "$SHOAL projections resume strict --endpoint $E"), 1);
    snprintf (failed, sizeof failed,
              "it failed again at position %ld: Poisoned of item/x cannot be counted", position);
    assert_has (out, failed);
    snprintf (failed, sizeof failed,
              "`shoal projections skip strict@1 %ld --reason WHY` steps over the event", position);
    assert_has (out, failed);
    //  Its row says so too, from the list that told it (it said live).
    snprintf (failed, sizeof failed, "failed at position %ld: Poisoned of item/x cannot be counted",
              position);
    assert_has (out, failed);
    assert_null (strstr (out, " live "));
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL projections resume strict --json --endpoint $E"), 1);
    assert_has (out, "{\"ok\":false,\"action\":\"resume\",\"name\":\"strict\"");
    assert_has (out, "\"retry\":\"failed_again\"");
    assert_has (out, "\"code\":\"failed_again\"");
    //  skip of another position is refused; of that one, it goes on.
    assert_int_equal (proc_run (p, out, err,
                                "$SHOAL projections skip strict@1 %ld --reason r --endpoint $E",
                                position + 1),
                      1);
    assert_has (err, "shoal projections: invalid: strict@1 is not stopped at position");
    assert_int_equal (proc_run (p, out, err,
                                "USER=ana $SHOAL projections skip strict@1 %ld --reason 'poison, "
                                "ticket 9' --endpoint $E",
                                position),
                      0);
    snprintf (failed, sizeof failed, "strict@1: skipped the event at position %ld", position);
    assert_has (out, failed);
    assert_has (out, "1 skipped");
    const char *logged = "grep -F 'strict@1: skip by operator ana: poison, ticket 9' $DIR/node.log";
    assert_int_equal (proc_run (p, out, err, "%s", logged), 0); //  who skipped it, and why
    //  The same skip again (an operator who heard no answer): done
    //  already, exit 0 (it was refused, exit 1, "not stopped at").
    assert_int_equal (proc_run (p, out, err,
                                "$SHOAL projections skip strict@1 %ld --reason r --endpoint $E",
                                position),
                      0);
    snprintf (failed, sizeof failed,
              "strict@1: the event at position %ld was skipped already: nothing changed", position);
    assert_has (out, failed);
    assert_has (out, "1 skipped");
    //  Skipped, it goes on: top says the node well again.
    s_wait_for (p, out, "{\"ok\":true", "$SHOAL top --once --json --interval 200 --endpoint $E");
    s_wait_for (p, out, "{\"key\":\"total\",\"row\":{\"events\":8}}",
                "$SHOAL query strict total --endpoint $E");
    s_wait_for (p, out, "\"events\":9,\"sum\":36,\"version\":1}",
                "$SHOAL query tally total --endpoint $E");

    //  Version 2, slow: refused while it builds, version 1 answering.
    proc_node_signal (p, SIGTERM);
    proc_node_start (p, MODULE_NODE " --module-opt projection.slow_us=500000", 2);
    assert_int_equal (proc_run (p, out, err, "$SHOAL query tally@2 total --endpoint $E"), 1);
    assert_has (err, "shoal query: not_ready: tally@2 is still building (");
    assert_int_equal (proc_run (p, out, err, "$SHOAL query tally total --endpoint $E"), 0);
    assert_has (out, "\"version\":1}");
    //  Its rows do not move, and the query says why (held "", it said).
    assert_has (err, "shoal query: tally@1 is an orphan (no module registers it now) at position ");
    assert_has (err, "the version that replaces it is served once it has caught up");
    assert_int_equal (proc_run (p, out, err, "$SHOAL query tally total --json --endpoint $E"), 0);
    assert_has (out, "\"version\":1,\"position\":");
    assert_has (out, "\"held\":\"orphan\"");
    assert_int_equal (proc_run (p, out, err, "$SHOAL projections --endpoint $E"), 0);
    if (!strstr (out, "tally@2") || !strstr (out, " building ") || !strstr (out, "] "))
        fail_msg ("no tally@2 building with a progress bar: %s", out);
    //  Served once it has caught up; then version 1, an orphan, dropped.
    s_wait_for (p, out, "\"version\":2}", "$SHOAL query tally total --endpoint $E");
    assert_has (out, "\"events\":9,\"sum\":36,");
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL projections drop tally@1 --reason r --endpoint $E"), 0);
    assert_has (out, "tally@1: dropped");
    assert_has (out, "tally@2 ");
    assert_int_equal (proc_run (p, out, err, "$SHOAL projections --endpoint $E"), 0);
    if (strstr (out, "tally@1"))
        fail_msg ("tally@1 still listed after its drop: %s", out);
}

//  --------------------------------------------------------------------------
//  5. A cluster: every node answers for its own events

static void s_cluster_start (proc_t *p, cluster_nodes_t *nodes, int i)
{
    char command[1024], name[32];
    snprintf (name, sizeof name, "n%d.out", i + 1);
    snprintf (command, sizeof command,
              "exec '%s' node --cluster '%s/c/cluster.cfg' --name n%d --workers 1 --metrics off "
              ">'%s/n%d.out' 2>>'%s/n%d.log'",
              getenv ("SHOAL_BIN"), p->dir, i + 1, p->dir, i + 1, p->dir, i + 1);
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        if (chdir ("/") == 0)
            execl ("/bin/sh", "sh", "-c", command, (char *) NULL);
        _exit (127);
    }
    nodes->pids[i] = pid;
    int64_t deadline = proc_now_ms () + PROC_START_MS;
    char ready[PROC_OUTPUT_MAX];
    while (true) {
        proc_read (p, name, ready);
        if (strstr (ready, "ready on ") && strchr (ready, '\n'))
            return;
        if (waitpid (pid, NULL, WNOHANG) == pid || proc_now_ms () > deadline) {
            nodes->pids[i] = 0;
            fail_msg ("node n%d did not start", i + 1);
        }
        usleep (20 * 1000);
    }
}

//  The sum of the "balance" of every line of out.
static long s_balances (const char *out)
{
    long sum = 0;
    for (const char *at = strstr (out, "\"balance\":"); at; at = strstr (at + 1, "\"balance\":"))
        sum += strtol (at + 10, NULL, 10);
    return sum;
}

static void test_cluster (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL cluster init --nodes %d --dir $DIR/c --ipc", CLUSTER_NODES),
        0);
    cluster_nodes_t *nodes = &s_nodes;
    for (int i = 0; i < CLUSTER_NODES; i++)
        s_cluster_start (p, nodes, i);
    //  Each node takes its clients' commands once a peer has checked its
    //  store (a start's hold): waited for in its log.
    for (int i = 0; i < CLUSTER_NODES; i++) {
        char path[128], log[PROC_OUTPUT_MAX];
        snprintf (path, sizeof path, "%s/n%d.log", p->dir, i + 1);
        if (!proc_file_until (path, "finds our store as it saw it: taking commands", WAIT_MS, log))
            fail_msg ("node n%d never took commands: %s", i + 1, log);
    }
    //  An account on each node, sent to its owner.
    char path[128], *error = NULL, addresses[CLUSTER_NODES][64];
    snprintf (path, sizeof path, "%s/c/cluster.cfg", p->dir);
    cluster_t *cluster = cluster_load (path, &error);
    assert_non_null (cluster);
    for (int owner = 0; owner < CLUSTER_NODES; owner++)
        for (int k = 0;; k++) {
            snprintf (addresses[owner], sizeof addresses[owner], "account/a%d", k);
            if (cluster_owner (cluster, shoal_shard (addresses[owner], cluster_shards (cluster))) ==
                owner)
                break;
        }
    cluster_destroy (&cluster);
    for (int owner = 0; owner < CLUSTER_NODES; owner++) {
        s_ok (p, "$SHOAL send %s Open owner=x --cluster $DIR/c/cluster.cfg --node n%d",
              addresses[owner], owner + 1);
        s_ok (p, "$SHOAL send %s Deposit amount=%d --cluster $DIR/c/cluster.cfg --node n%d",
              addresses[owner], 100 * (owner + 1), owner + 1);
    }

    //  One row per node, in key order then the map's: n1's first; 300 in all.
    const char *query = "$SHOAL query bank_totals totals --cluster $DIR/c/cluster.cfg";
    s_wait_for (p, out, "{\"node\":\"n2\",\"key\":\"totals\",\"row\":{\"balance\":200,", "%s",
                query);
    s_wait_for (p, out, "{\"node\":\"n1\",\"key\":\"totals\",\"row\":{\"balance\":100,", "%s",
                query);
    assert_true (strstr (out, "\"n1\"") < strstr (out, "\"n2\""));
    assert_int_equal (s_balances (out), 300);
    assert_int_equal (proc_run (p, out, err, "%s --json", query), 0);
    assert_has (out, "\"nodes\":[{\"node\":\"n1\",\"up\":true,\"version\":1,");
    assert_has (out, "{\"node\":\"n2\",\"up\":true,\"version\":1,");
    //  A projection no node serves: each node answered, refusing it (it
    //  said "up":false of every node, all of them up).
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL query nosuch x --json --cluster $DIR/c/cluster.cfg"), 1);
    assert_has (out, "{\"node\":\"n1\",\"up\":true,\"code\":\"not_found\",");
    assert_has (out, "{\"node\":\"n2\",\"up\":true,\"code\":\"not_found\",");
    //  --node: that node alone, rows without a node.
    assert_int_equal (proc_run (p, out, err, "%s --node n2", query), 0);
    assert_has (out, "{\"key\":\"totals\",\"row\":{\"balance\":200,");

    //  The list has a section per node; an action goes to every node.
    assert_int_equal (proc_run (p, out, err, "$SHOAL projections --cluster $DIR/c/cluster.cfg"), 0);
    assert_has (out, "node n1 (");
    assert_has (out, "node n2 (");
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL projections pause bank_totals --cluster $DIR/c/cluster.cfg"),
        0);
    assert_has (out, "node n1: bank_totals@1: paused");
    assert_has (out, "node n2: bank_totals@1: paused");
    assert_int_equal (
        proc_run (p, out, err,
                  "$SHOAL projections resume bank_totals --json --cluster $DIR/c/cluster.cfg"),
        0);
    assert_has (out, "{\"nodes\":[{\"node\":\"n1\",\"ok\":true,\"action\":\"resume\"");
    assert_has (out, "{\"node\":\"n2\",\"ok\":true,\"action\":\"resume\"");
    assert_has (out, "\"version\":1,\"changed\":true,");
    assert_int_equal (proc_run (p, out, err,
                                "$SHOAL projections --json --cluster "
                                "$DIR/c/cluster.cfg"),
                      0);
    assert_has (out, "{\"nodes\":[{\"node\":\"n1\",\"up\":true,\"end\":");
    if (strstr (out, "\"paused\""))
        fail_msg ("still paused after resume: %s", out);

    //  n2 down: n1's row, n2 named, exit 3.
    s_cluster_kill (nodes, 1);
    assert_int_equal (proc_run (p, out, err, "%s --timeout 1000", query), 3);
    assert_has (out, "{\"node\":\"n1\",\"key\":\"totals\",\"row\":{\"balance\":100,");
    if (strstr (out, "\"n2\""))
        fail_msg ("a row of n2, which is down: %s", out);
    assert_has (err, "shoal query: node n2: no answer from ipc://");
    for (int i = 0; i < CLUSTER_NODES; i++)
        s_cluster_kill (nodes, i);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_query_list_rebuild, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_linger_writes_rows_once, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_batch_writes_no_row_it_deletes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_pause_resume, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_paused_rate_is_zero, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_bad_inputs, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_failed_and_versions, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_cluster, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
