/*  test_cluster_operator_key.c - the records of an operator's act name
    the key the node let the operator in by, not only what the client
    says: real `shoal node` processes of a cluster (`shoal cluster init
    --ipc`, CURVE, ipc:// in the test's directory) and the real command
    line.

    Before, a $Resolved, a dead letter's decision and a projection's log
    line said only the "operator" or "who" the client sent ($USER): any
    operator could write any name there, and the key the node checked
    was in the node's log alone, on another line. Now the front writes
    the key and the name of the certificate that holds it into the act
    (operator_key, operator_cert), over whatever the client wrote there,
    and the owner of the target writes them last, by its own
    directories.

    Every wait polls against a deadline. ctest sets SHOAL_BIN,
    SHOAL_TEST_MODULE and SHOAL_POISON_MODULE. The teardown kills the
    nodes and removes the directory (proc.h).
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
#include <unistd.h>

#define WAIT_MS 20000 //  a pending command, a directory's change, a record: seen by then
#define EXIT_MS 30000 //  a crash comes within this of a start
#define C "--cluster \"$DIR/c/cluster.cfg\""

static int s_teardown (void **state)
{
    proc_t *p = *state;
    proc_destroy (&p);
    return 0;
}

//  The public key of the cluster's operator certificate, DIR/c/client.cert
//  (Z85, 40 characters), into key.
static void s_operator_key (proc_t *p, char key[41])
{
    char out[PROC_OUTPUT_MAX];
    assert_int_equal (proc_run (p, out, NULL,
                                "sed -n 's/^ *public-key = \"\\(.*\\)\"$/\\1/p' "
                                "\"$DIR/c/client.cert\""),
                      0);
    if (strlen (out) != 41 || out[40] != '\n')
        fail_msg ("no public key in client.cert: %s", out);
    snprintf (key, 41, "%.40s", out);
}

//  The id of the command counter/g waits for, as `shoal pending` lists
//  it, into id; polled until it is listed.
static void s_pending_id (proc_t *p, char id[33])
{
    char out[PROC_OUTPUT_MAX];
    int64_t deadline = proc_now_ms () + WAIT_MS;
    while (true) {
        proc_run (p, out, NULL, "\"$SHOAL\" pending " C " --json");
        const char *at = strstr (out, "\"id\":\"");
        if (at && sscanf (at, "\"id\":\"%32[0-9a-f]\"", id) == 1 && strlen (id) == 32)
            return;
        if (proc_now_ms () > deadline)
            fail_msg ("counter/g's Ping never showed pending: %s", out);
        usleep (50 * 1000); //  between two asks, within the deadline
    }
}

//  True if DIR/node.log, read whole (a cluster's log outgrows
//  PROC_OUTPUT_MAX), holds needle.
static bool s_logged (proc_t *p, const char *needle)
{
    char path[128];
    snprintf (path, sizeof path, "%s/node.log", p->dir);
    FILE *file = fopen (path, "r");
    if (!file)
        return false;
    size_t size = 0, cap = 1 << 16;
    char *text = malloc (cap + 1);
    assert_non_null (text);
    for (size_t n; (n = fread (text + size, 1, cap - size, file)) > 0;) {
        size += n;
        if (size == cap) {
            cap *= 2;
            text = realloc (text, cap + 1);
            assert_non_null (text);
        }
    }
    fclose (file);
    text[size] = 0;
    bool found = strstr (text, needle) != NULL;
    free (text);
    return found;
}

//  Polls DIR/node.log until it holds needle; fails the test past WAIT_MS.
static void s_log_has (proc_t *p, const char *needle)
{
    int64_t deadline = proc_now_ms () + WAIT_MS;
    while (!s_logged (p, needle)) {
        if (proc_now_ms () > deadline) {
            char log[PROC_OUTPUT_MAX];
            proc_run (p, log, NULL, "tail -c 4000 \"$DIR/node.log\"");
            fail_msg ("the node never logged '%s': ...%s", needle, log);
        }
        usleep (50 * 1000); //  between two reads, within the deadline
    }
}

//  --------------------------------------------------------------------------
//  1. A $resolve through n1 of a saga n2 owns, written with a forged
//     operator_key and operator_cert: the $Resolved names the key the
//     client's handshake proved and the name n2 knows its certificate
//     by (n2's operators/ holds it as ops-n2.cert), not the forgery, and
//     n2's log says them with the operator's word.

static int s_setup_two (void **state)
{
    proc_t *p = proc_new ("opkey2");
    char err[PROC_OUTPUT_MAX];
    int code = proc_run (p, NULL, err,
                         "timeout 60 \"$SHOAL\" cluster init --nodes 2 --ipc --dir \"$DIR/c\" && "
                         "mv \"$DIR/c/n2/operators/client.cert\" "
                         "\"$DIR/c/n2/operators/ops-n2.cert\"");
    if (code != 0)
        fail_msg ("cluster init: exit %d: %s", code, err);
    proc_node_start (p, "\"$SHOAL\" cluster up --dir \"$DIR/c\" --workers 1 --metrics off "
                        "--module \"$SHOAL_TEST_MODULE\"");
    char out[PROC_OUTPUT_MAX];
    int64_t deadline = proc_now_ms () + WAIT_MS;
    do {
        proc_read (p, "node.out", out);
        if (strstr (out, "2 nodes up"))
            break;
        usleep (50 * 1000); //  between two reads, within the deadline
    } while (proc_now_ms () < deadline);
    if (!strstr (out, "2 nodes up"))
        fail_msg ("cluster up: no \"2 nodes up\" within %d ms: %s", WAIT_MS, out);
    *state = p;
    return 0;
}

static void test_resolve_names_the_key (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX], key[41], id[33], needle[256];
    s_operator_key (p, key);
    assert_int_equal (proc_run (p, out, err, "\"$SHOAL\" where " C " counter/g"), 0);
    proc_assert_has (out, "\"node\":\"n2\""); //  the map of 256 shards puts it there
    //  A command sink/s1 refuses for now: counter/g waits for it.
    assert_int_equal (proc_run (p, out, err,
                                "\"$SHOAL\" send " C " --node n1 counter/g Forward to=sink/s1 "
                                "name=Ping"),
                      0);
    s_pending_id (p, id);
    int code = proc_run (p, out, err,
                         "\"$SHOAL\" send " C " --node n1 counter/g '$resolve' id=%s "
                         "code=operator_cancel reason=stuck operator=eve "
                         "operator_key=FORGEDFORGEDFORGEDFORGEDFORGEDFORGEDFORG "
                         "operator_cert=mallory",
                         id);
    if (code != 0)
        fail_msg ("$resolve through n1: exit %d: %s%s", code, out, err);
    proc_assert_has (out, "\"state\":\"cancelling\"");
    assert_int_equal (proc_run (p, out, err, "\"$SHOAL\" events " C " counter/g"), 0);
    proc_assert_has (out, "\"event\":\"$Resolved\"");
    proc_assert_has (out, "\"operator\":\"eve\""); //  the client's word, kept as such
    snprintf (needle, sizeof needle, "\"operator_key\":\"%s\",\"operator_cert\":\"ops-n2\"", key);
    proc_assert_has (out, needle);
    if (strstr (out, "FORGED") || strstr (out, "mallory"))
        fail_msg ("the forged key or certificate was recorded: %s", out);
    //  n2's log says it with the resolve, and the front's line too.
    snprintf (needle, sizeof needle,
              "n2 INFO worker 0: operator eve (key %s, certificate ops-n2) resolves counter/g's "
              "Ping %s",
              key, id);
    s_log_has (p, needle);
    snprintf (needle, sizeof needle,
              "n2 INFO shoal node: command $resolve to counter/g by the operator of key %s "
              "(certificate ops-n2), through node n1",
              key);
    s_log_has (p, needle);
}

//  --------------------------------------------------------------------------
//  2. A dead letter dropped on a node of a cluster (a timer that crashes
//     its node three times): its record keeps the key and the name of
//     the certificate the node let the operator in by, listed by --all
//     as text and as JSON, across a restart. The certificate renamed in
//     operators/ is the name of the next act.

#define NODE_ARGS                                                                                  \
    "\"$SHOAL\" node " C " --name n1 --workers 1 --metrics off --module \"$SHOAL_TEST_MODULE\" "   \
    "--module \"$SHOAL_POISON_MODULE\""
#define CRASHING "env SHOAL_POISON=1 " NODE_ARGS

static int s_setup_one (void **state)
{
    proc_t *p = proc_new ("opkey1");
    char err[PROC_OUTPUT_MAX];
    int code = proc_run (p, NULL, err,
                         "timeout 60 \"$SHOAL\" cluster init --nodes 1 --ipc --dir \"$DIR/c\"");
    if (code != 0)
        fail_msg ("cluster init: exit %d: %s", code, err);
    *state = p;
    return 0;
}

static void test_dead_letter_names_the_key (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX], key[41], id[33], needle[256];
    s_operator_key (p, key);
    proc_node_start (p, CRASHING);
    int rc = proc_run (p, out, err, "\"$SHOAL\" send " C " --timeout 5000 poison/t Later ms=0");
    assert_true (rc == 0 || rc == 3); //  the node may crash before it answers
    proc_node_crash (p, 3, EXIT_MS, CRASHING);
    proc_node_start (p, CRASHING);
    assert_int_equal (proc_run (p, out, err, "\"$SHOAL\" dead-letters " C " --json"), 0);
    proc_dead_letter_id (out, "poison/t", id);
    //  The operator's certificate renamed: seen within a second or so,
    //  and the name the record gets.
    assert_int_equal (proc_run (p, NULL, NULL,
                                "mv \"$DIR/c/n1/operators/client.cert\" "
                                "\"$DIR/c/n1/operators/ana.cert\""),
                      0);
    snprintf (needle, sizeof needle, "%s (certificate ana)", key);
    int64_t deadline = proc_now_ms () + WAIT_MS;
    while (true) { //  the front's line of any operator's act names it once read
        proc_run (p, out, err, "\"$SHOAL\" resend " C " poison/x");
        if (s_logged (p, needle))
            break;
        if (proc_now_ms () > deadline)
            fail_msg ("the renamed certificate was never read: %s%s", out, err);
        usleep (100 * 1000); //  between two asks, within the deadline
    }
    rc = proc_run (p, out, err,
                   "USER=eve \"$SHOAL\" dead-letters " C " drop --reason 'bad timer, ticket 5' %s",
                   id);
    if (rc != 0)
        fail_msg ("drop: exit %d: %s%s", rc, out, err);
    snprintf (needle, sizeof needle, "\"operator_key\":\"%s\",\"operator_cert\":\"ana\"", key);
    proc_assert_has (out, needle); //  the node's answer
    //  Kept in the record, across a restart.
    proc_node_signal (p, SIGTERM);
    proc_node_start (p, CRASHING);
    assert_int_equal (proc_run (p, out, err, "\"$SHOAL\" dead-letters " C " --all --json"), 0);
    proc_assert_has (out, "\"who\":\"eve\"");
    proc_assert_has (out, "\"why\":\"bad timer, ticket 5\"");
    proc_assert_has (out, needle);
    assert_int_equal (proc_run (p, out, err, "\"$SHOAL\" dead-letters " C " --all"), 0);
    snprintf (needle, sizeof needle, "\n  key: %s (certificate ana)\n", key);
    proc_assert_has (out, needle);
    snprintf (needle, sizeof needle,
              "operator eve (key %s, certificate ana) drops dead letter %s to poison/t: bad "
              "timer, ticket 5",
              key, id);
    s_log_has (p, needle);
}

int main (void)
{
    if (!getenv ("SHOAL_BIN")) {
        fprintf (stderr, "test_cluster_operator_key: run through ctest (SHOAL_BIN unset)\n");
        return 1;
    }
    signal (SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_resolve_names_the_key, s_setup_two, s_teardown),
        cmocka_unit_test_setup_teardown (test_dead_letter_names_the_key, s_setup_one, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
