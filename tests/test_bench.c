/*  test_bench.c - `shoal bench` (transfers) as a script reads it: a short
    run on a cluster of its own, whose --json line is one well-formed
    object (python3's json) with the node's and the client's CPU time over
    the transfers, positive and consistent with the other figures, and the
    "node CPU" text line beside it; and against a node it did not start
    (--endpoint), where the node's CPU is null and said to be unknown;
    --node-arg's options reach the node.

    The cluster's nodes listen on ipc:// under the test's own $TMPDIR
    (--nodes 2 makes them with `shoal cluster init --ipc`), and the
    --endpoint node on ipc://DIR/node.ipc: no TCP port. Only that the
    figures are there and sane: how high they are belongs to `shoal
    bench`, not to a test. The runs are bounded by timeout(1).
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "proc.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  The bench with $DIR/tmp as its $TMPDIR (its data directories go there),
//  a few thousand transfers: enough CPU time to span many clock ticks.
#define BENCH                                                                                      \
    "mkdir -p $DIR/tmp && TMPDIR=$DIR/tmp timeout 600 $SHOAL bench --accounts 200 "                \
    "--transfers 2000 --concurrency 64 --json"

static int s_setup (void **state)
{
    *state = proc_new ("test-bench");
    return 0;
}

static int s_teardown (void **state)
{
    proc_t *p = *state;
    proc_destroy (&p);
    return 0;
}

//  Checks the JSON line of out with the python3 program check (d is the
//  object); fails the test with what it printed if it does not hold.
static void s_check_line (proc_t *p, char *out, const char *check)
{
    char path[256], said[PROC_OUTPUT_MAX];
    snprintf (path, sizeof path, "%s/bench.json", p->dir);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fprintf (file, "%s\n", proc_last_line (out));
    fclose (file);
    int rc = proc_sh (said, sizeof said,
                      "python3 -c 'import json, sys\n"
                      "d = json.loads (open (sys.argv[1]).read ())\n"
                      "%s\n"
                      "print (\"ok\")' %s 2>&1",
                      check, path);
    if (rc != 0)
        fail_msg ("the JSON line is not as expected: %s", said);
}

//  The same for a run of BENCH: balanced, every transfer completed.
static void s_check_json (proc_t *p, char *out, const char *check)
{
    char full[4096];
    snprintf (full, sizeof full, "assert d[\"balanced\"] and d[\"completed\"] == 2000, d\n%s",
              check);
    s_check_line (p, out, full);
}

//  On a cluster of two of its own: the nodes' CPU time summed, per
//  completed transfer and in cores over the wall clock of its span, which
//  ends once the nodes are quiet and their projections caught up (else
//  cpu_quiet would be false), before the gets that check the
//  transfers (the wall clock's too), and thread by thread; the client's.
static void test_cpu_own_nodes (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    int rc = proc_run (p, out, err, BENCH " --nodes 2");
    if (rc != 0)
        fail_msg ("bench exited %d: %s", rc, err);
    proc_assert_has (out, "\n  node CPU       ");
    proc_assert_has (out, " µs per completed transfer, ");
    proc_assert_has (out, "; client ");
    s_check_json (
        p, out,
        "assert d[\"nodes\"] == 2, d\n"
        "for k in (\"cpu_us_per_transfer\", \"node_cpu_seconds\", \"node_cpu_cores\",\n"
        "          \"client_cpu_seconds\"):\n"
        "    assert d[k] is not None and d[k] > 0, (k, d)\n"
        "s, c = d[\"node_cpu_seconds\"], d[\"completed\"]\n"
        "assert abs (d[\"cpu_us_per_transfer\"] * c / 1e6 - s) <= 0.001 + 1e-3 * s, d\n"
        "assert d[\"cpu_quiet\"] is True, d\n"
        "w = d[\"cpu_wall_seconds\"]\n"
        "# the wall clock ends at the quiet too, not after the gets\n"
        "assert 0 < w and abs (w - d[\"wall_seconds\"]) <= 0.001, d\n"
        "assert abs (d[\"node_cpu_cores\"] * w - s) <= 0.01 + 0.01 * s, d\n"
        "assert d[\"node_cpu_cores\"] <= 2 * 64, d\n"
        "t = d[\"node_threads_us_per_transfer\"]\n"
        "assert t[\"shoal-worker-0\"] > 0 and min (t.values ()) > 0, d\n"
        "assert list (t.values ()) == sorted (t.values (), reverse=True), d\n"
        "# their sum is the nodes time, each thread read to a 10 ms tick\n"
        "assert abs (sum (t.values ()) * c / 1e6 - s) <= 0.02 * (len (t) + 2) + 0.02 * s, d");
    proc_assert_has (out, "\n  node threads   µs per completed transfer: ");
    //  Its data directories are gone: nothing left in its $TMPDIR.
    assert_int_equal (proc_run (p, out, NULL, "ls -A $DIR/tmp"), 0);
    assert_string_equal (out, "");
}

//  Against a node the bench did not start: no pid, so the node's CPU is
//  null and said to be unknown; the client's is still there.
static void test_cpu_endpoint (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, "$SHOAL node --endpoint $E --data $DIR/data --workers 2 --metrics off");
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    int rc = proc_run (p, out, err, BENCH " --endpoint $E");
    if (rc != 0)
        fail_msg ("bench --endpoint exited %d: %s", rc, err);
    proc_assert_has (out, "\n  node CPU       not known (a node the bench did not start); client ");
    s_check_json (p, out,
                  "for k in (\"cpu_us_per_transfer\", \"node_cpu_seconds\", \"node_cpu_cores\"):\n"
                  "    assert k in d and d[k] is None, (k, d)\n"
                  "assert d[\"cpu_quiet\"] is False, d\n"
                  "assert d[\"node_threads_us_per_transfer\"] is None, d\n"
                  "assert d[\"client_cpu_seconds\"] > 0, d");
    //  No node there (or a cluster's, which answers CURVE clients only):
    //  said why a node may be up and still not answer, exit 1.
    rc = proc_run (p, out, err, BENCH " --endpoint ipc://$DIR/nobody.ipc");
    if (rc != 1 || !strstr (err, "no node answers on ipc://") ||
        !strstr (err, "a cluster's node answers only CURVE clients") ||
        !strstr (err, "nothing took a connection there"))
        fail_msg ("bench --endpoint at no node: exit %d: %s", rc, err);
}

//  --memory says the growth of the anonymous resident set (the heap,
//  without LevelDB's mapped tables) beside VmRSS's, per actor: 20,000
//  actors opened take more heap than any allocator keeps spare.
static void test_memory_anonymous (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    int rc = proc_run (p, out, err,
                       "mkdir -p $DIR/tmp && TMPDIR=$DIR/tmp timeout 600 $SHOAL bench "
                       "--memory 20000 --json");
    if (rc != 0)
        fail_msg ("bench --memory exited %d: %s", rc, err);
    proc_assert_has (out, "\n  anonymous      ");
    s_check_line (p, out,
                  "assert d[\"mode\"] == \"memory\", d\n"
                  "for ph in (\"open\", \"get\"):\n"
                  "    assert d[ph][\"active\"] == 20000, d\n"
                  "    assert isinstance (d[ph][\"anon_bytes_per_actor\"], (int, float)), d\n"
                  "assert d[\"open\"][\"anon_bytes_per_actor\"] > 88, d");
}

//  --node-arg hands options to the node it starts, after its own: with
//  the projections off the store writes no rows (every record of the
//  store is the journal's), and the JSON says what was given. An option
//  the node refuses is bad usage, in the node's own words, once.
static void test_node_args (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    int rc = proc_run (p, out, err,
                       BENCH " --node-arg=--projections=off --node-arg --log-level "
                             "--node-arg warn");
    if (rc != 0)
        fail_msg ("bench --node-arg exited %d: %s", rc, err);
    s_check_json (p, out,
                  "assert d[\"node_args\"] == [\"--projections=off\", \"--log-level\", "
                  "\"warn\"], d\n"
                  "assert d[\"store_records_per_transfer\"] == d[\"records_per_transfer\"], d\n"
                  "# no projections to wait for: the span still ends at the quiet\n"
                  "assert d[\"cpu_quiet\"] is True, d");
    //  Said once, bad usage (exit 2): it was tried 20 times, said 20
    //  times, and ended "the node did not start" (exit 1).
    rc = proc_run (p, out, err, BENCH " --node-arg=--no-such-option");
    assert_int_equal (rc, 2);
    proc_assert_has (err, "shoal node: unknown option '--no-such-option'");
    const char *first = strstr (err, "unknown option");
    assert_null (strstr (first + 1, "unknown option"));
    assert_null (strstr (err, "did not start"));
    //  The same of a cluster's node.
    rc = proc_run (p, out, err, BENCH " --nodes 2 --node-arg=--no-such-option");
    assert_int_equal (rc, 2);
    first = strstr (err, "unknown option '--no-such-option'");
    assert_non_null (first);
    assert_null (strstr (first + 1, "unknown option"));
}

//  Runs "$@" with $DIR/tmp as its $TMPDIR (stderr into $DIR/i.err; SIGINT
//  back to its default, which sh ignores for a job in the background,
//  unless $KEEP_IGNORED is set) until the shell condition $2 holds, prints
//  its SigIgn and SigCgt lines (/proc), sends it signal $1, and waits for
//  its end (30 s at most); then prints "exit N", its interrupted line, and
//  what it left: "left: NAME" for each entry of $DIR/tmp, "a node is
//  left" if a process still runs on a data directory there.
#define INTERRUPT                                                                                  \
    "interrupt () {\n"                                                                             \
    "  sig=$1; cond=$2; shift 2\n"                                                                 \
    "  rm -rf $DIR/tmp $DIR/i.rc; mkdir -p $DIR/tmp\n"                                             \
    "  reset='env --default-signal=INT'; [ -n \"${KEEP_IGNORED:-}\" ] && reset=\n"                 \
    "  ( TMPDIR=$DIR/tmp $reset \\\n"                                                              \
    "      sh -c 'echo $$ >\"$1\"; shift; exec \"$@\"' sh $DIR/i.pid \"$@\" \\\n"                  \
    "      >$DIR/i.out 2>$DIR/i.err; echo $? >$DIR/i.rc ) &\n"                                     \
    "  n=0\n"                                                                                      \
    "  until eval \"$cond\" >/dev/null 2>&1; do\n"                                                 \
    "    n=$((n + 1))\n"                                                                           \
    "    if [ $n -gt 2400 ] || [ -e $DIR/i.rc ]; then\n"                                           \
    "      echo \"never held: $cond\"; cat $DIR/i.err; kill -9 $(cat $DIR/i.pid); return 1\n"      \
    "    fi\n"                                                                                     \
    "    sleep 0.05\n"                                                                             \
    "  done\n"                                                                                     \
    "  grep -E '^Sig(Ign|Cgt):' /proc/$(cat $DIR/i.pid)/status\n"                                  \
    "  kill -$sig $(cat $DIR/i.pid)\n"                                                             \
    "  n=0\n"                                                                                      \
    "  until [ -s $DIR/i.rc ]; do\n"                                                               \
    "    n=$((n + 1))\n"                                                                           \
    "    if [ $n -gt 600 ]; then\n"                                                                \
    "      echo \"still running 30 s after SIG$sig\"; kill -9 $(cat $DIR/i.pid); return 1\n"       \
    "    fi\n"                                                                                     \
    "    sleep 0.05\n"                                                                             \
    "  done\n"                                                                                     \
    "  echo \"exit $(cat $DIR/i.rc)\"\n"                                                           \
    "  grep interrupted $DIR/i.err\n"                                                              \
    "  ls -A $DIR/tmp | sed 's/^/left: /'\n"                                                       \
    "  pgrep -f \"$DIR/tmp/shoal-\" >/dev/null && echo 'a node is left'\n"                         \
    "  return 0\n"                                                                                 \
    "}\n"

//  Transfers under way, and a node's store in $DIR/tmp.
#define TRANSFERS_RUNNING                                                                          \
    "grep -q \"^  transfers: \" $DIR/i.err && find $DIR/tmp -name CURRENT | grep -q ."

//  The process's signal mask of kind ("SigIgn" or "SigCgt") as printed
//  by INTERRUPT: bit N - 1 for signal N.
static unsigned long long s_sigmask (const char *out, const char *kind)
{
    const char *at = strstr (out, kind);
    unsigned long long mask = 0;
    if (!at || sscanf (at + strlen (kind), ":%llx", &mask) != 1)
        fail_msg ("no %s line in: %s", kind, out);
    return mask;
}

#define SIGBIT(sig) (1ull << ((sig) -1))

//  SIGINT (Ctrl-C) or SIGTERM in the middle of the work: the bench and the
//  demo stop the nodes they started and remove their temporary data
//  directories (hundreds of MB after a long run), and exit 128 + the
//  signal, saying so; --ceiling removes its store likewise. A bench that
//  started with SIGINT ignored (a script's job in the background) leaves
//  it ignored, and still cleans up on SIGTERM.
static void test_interrupted (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    struct {
        const char *sig, *until, *command, *exit, *said;
    } cases[] = {
        {"INT", TRANSFERS_RUNNING,
         "$SHOAL bench --accounts 200 --transfers 2000000 --concurrency 64", "exit 130",
         "shoal bench: interrupted by SIGINT: its node stopped, its data directory removed"},
        {"TERM", TRANSFERS_RUNNING,
         "$SHOAL bench --accounts 200 --transfers 2000000 --concurrency 64", "exit 143",
         "shoal bench: interrupted by SIGTERM: its node stopped, its data directory removed"},
        {"INT", TRANSFERS_RUNNING,
         "$SHOAL demo --nodes 2 --freeze-ms 0 --accounts 200 --transfers 2000000 --kills 0 "
         "--concurrency 64",
         "exit 130",
         "shoal demo: interrupted by SIGINT: its nodes stopped, their data directory removed"},
        {"TERM", "ls $DIR/tmp/shoal-ceiling-*/CURRENT",
         "$SHOAL bench --ceiling --batch 1000 --ceiling-ms 600000", "exit 143",
         "shoal bench: interrupted by SIGTERM: its stores removed"},
        {"TERM", TRANSFERS_RUNNING,
         "$SHOAL bench --accounts 200 --transfers 2000000 --concurrency 64", "exit 143",
         "shoal bench: interrupted by SIGTERM: its node stopped, its data directory removed"},
    };
    size_t last = sizeof cases / sizeof cases[0] - 1; //  the one started with SIGINT ignored
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = proc_run (p, out, err, INTERRUPT "%sinterrupt %s '%s' %s",
                           i == last ? "KEEP_IGNORED=1 " : "", cases[i].sig, cases[i].until,
                           cases[i].command);
        if (rc != 0)
            fail_msg ("SIG%s to `%s`: %s%s", cases[i].sig, cases[i].command, out, err);
        print_message ("SIG%s to `%s`:\n%s", cases[i].sig, cases[i].command, out);
        proc_assert_has (out, cases[i].exit);
        proc_assert_has (out, cases[i].said);
        if (strstr (out, "left: ") || strstr (out, "a node is left"))
            fail_msg ("SIG%s to `%s` left something behind: %s", cases[i].sig, cases[i].command,
                      out);
        unsigned long long ignored = s_sigmask (out, "SigIgn"), caught = s_sigmask (out, "SigCgt");
        assert_true (caught & SIGBIT (SIGTERM));
        if (i == last)
            assert_true ((ignored & SIGBIT (SIGINT)) && !(caught & SIGBIT (SIGINT)));
        else
            assert_true (caught & SIGBIT (SIGINT));
    }
}

//  A node of the bench's own that dies on its own (a crash, the OOM
//  killer; here a SIGKILL from outside) ends the run at once, saying which
//  and how, and the bench still removes its data directory. It waited
//  for the transfers' answers for 15 minutes, "waiting for transfers".
static void test_node_gone (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    int rc = proc_run (
        p, out, err,
        "rm -rf $DIR/tmp $DIR/g.rc; mkdir -p $DIR/tmp\n"
        "( TMPDIR=$DIR/tmp $SHOAL bench --accounts 200 --transfers 2000000 --concurrency 64 \\\n"
        "    >$DIR/g.out 2>$DIR/g.err; echo $? >$DIR/g.rc ) &\n"
        "n=0\n"
        "until grep -q '^  transfers: ' $DIR/g.err && pgrep -f \"$DIR/tmp/shoal-\" >/dev/null; do\n"
        "  n=$((n + 1)); [ $n -gt 2400 ] && { echo 'never ran'; cat $DIR/g.err; exit 1; }\n"
        "  sleep 0.05\n"
        "done\n"
        "pkill -9 -f \"$DIR/tmp/shoal-\"\n"
        "n=0\n"
        "until [ -s $DIR/g.rc ]; do\n"
        "  n=$((n + 1)); [ $n -gt 600 ] && { echo 'still running 30 s after'; exit 1; }\n"
        "  sleep 0.05\n"
        "done\n"
        "echo \"exit $(cat $DIR/g.rc)\"\n"
        "grep 'not by shoal bench' $DIR/g.err\n"
        "echo \"unfinished lines: $(grep -c 'did not finish' $DIR/g.err)\"\n"
        "ls -A $DIR/tmp | sed 's/^/left: /'\n");
    if (rc != 0)
        fail_msg ("%s%s", out, err);
    print_message ("%s", out);
    assert_null (strstr (out, "exit 0"));
    proc_assert_has (out, "shoal bench: the node (pid ");
    proc_assert_has (out, ") was killed by signal 9 (Killed) during the run, not by shoal bench");
    //  Said once: not also as a phase that "did not finish: timed out".
    proc_assert_has (out, "unfinished lines: 0\n");
    if (strstr (out, "left: "))
        fail_msg ("the bench left its data behind: %s", out);
}

//  --help says what the fields are, and that --endpoint leaves them null.
static void test_help (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX];
    assert_int_equal (proc_run (p, out, NULL, "$SHOAL bench --help"), 0);
    proc_assert_has (out, "cpu_us_per_transfer");
    proc_assert_has (out, "node_cpu_seconds");
    proc_assert_has (out, "node_cpu_cores");
    proc_assert_has (out, "client_cpu_seconds");
    proc_assert_has (out, "its CPU time is not known (no pid)");
    proc_assert_has (out, "anon_bytes_per_actor");
    proc_assert_has (out, "exits 130 or 143");
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_cpu_own_nodes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_cpu_endpoint, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_memory_anonymous, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_node_args, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_help, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_interrupted, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_node_gone, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
