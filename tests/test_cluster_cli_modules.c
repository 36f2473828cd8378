/*  test_cluster_cli_modules.c - answers that are not a command's answer.
    A cluster one of whose nodes runs without a module the others load
    (restarted by hand without its --module, as the review of 2026-12-07
    did): its types' commands are refused there as unknown_type. That is
    its node's fault, not the command's: a saga took the refusal for its
    command's fate and compensated what would have run, and nothing said
    why. Now the command stays pending (its LAST ERROR says why), a
    client's is told `unavailable` (naming the node), `cluster status`
    says the node unwell, and once the node has the module again the
    command runs, once. And a target whose handler fails on a command:
    the sender's pending command says why, and is not answered. Fixture:
    cluster_cli_test_util.c.
*/
#include "cluster_cli_test_util.h"

//  Has sender (a counter of n1) send name to target, and waits until
//  `pending` lists it with said, against a deadline.
static void s_forward_until_said (fixture_t *fx, const char *sender, const char *target,
                                  const char *name, const char *said)
{
    char out[OUTPUT_MAX], err[OUTPUT_MAX];
    int code = cluster_cli_run (fx, out, err,
                                "timeout 60 \"$SHOAL\" send --cluster \"$C\" --node n1 %s Forward "
                                "to=%s name=%s",
                                sender, target, name);
    if (code != 0)
        fail_msg ("send %s Forward: exit %d: %s%s", sender, code, out, err);
    //  said names the row's last error, which only target's refusal gives
    cluster_cli_run_until (fx, UP_TIMEOUT_MS, 0, said, out,
                           "timeout 60 \"$SHOAL\" pending --cluster \"$C\" --json");
    if (!strstr (out, target))
        fail_msg ("pending said %s of another than %s: %s", said, target, out);
}

static void test_node_without_module (void **state)
{
    fixture_t *fx = *state;
    const char *module = getenv ("SHOAL_TEST_MODULE");
    assert_non_null (module);
    char with[256];
    snprintf (with, sizeof with, "--module '%s'", module);
    cluster_cli_node_start_with (fx, 0, with);
    cluster_cli_node_start (fx, 1); //  n2: no --module
    cluster_cli_node_start_with (fx, 2, with);
    cluster_t *cluster = cluster_cli_map (fx);
    char sender[64], target[64], out[OUTPUT_MAX], err[OUTPUT_MAX];
    cluster_cli_address_of (cluster, 0, "counter/s", sender, sizeof sender);
    cluster_cli_address_of (cluster, 1, "counter/t", target, sizeof target);
    cluster_destroy (&cluster);

    //  cluster status: n2 unwell, saying which types it lacks (counter.so
    //  registers counter and sink), and nothing else wrong (every link up).
    cluster_cli_status_until (
        fx, 1, "\"reason\":\"n2: registers no type counter, sink, which another node does", out);

    //  A client's command to n2's counter through n1: unavailable, naming
    //  n2 and why (it was unknown_type: a client takes it for good);
    //  exit 1, a refusal, as send says of any without --id.
    int code = cluster_cli_run (fx, out, err,
                                "timeout 60 \"$SHOAL\" send --cluster \"$C\" --node n1 --timeout "
                                "1000 %s Get",
                                target);
    if (code != 1 || !strstr (out, "\"code\":\"unavailable\"") ||
        !strstr (out, "node n2, which owns the address, registers no type 'counter'"))
        fail_msg ("send %s Get through n1, n2 without the module: exit %d: %s%s", target, code, out,
                  err);

    //  Asked to n2 itself, which does not know its peers' types: refused
    //  unknown_type, saying it may lack the cluster's module.
    code = cluster_cli_run (fx, out, err,
                            "timeout 60 \"$SHOAL\" send --cluster \"$C\" --node n2 --timeout "
                            "1000 %s Get",
                            target);
    if (code != 1 || !strstr (out, "\"code\":\"unknown_type\"") ||
        !strstr (out, "on node n2 (if the cluster's other nodes register it, this one was "
                      "started without their module"))
        fail_msg ("send %s Get to n2, which lacks the module: exit %d: %s%s", target, code, out,
                  err);

    //  An actor's command: kept pending, LAST ERROR says why; the sender
    //  is not answered (it was: Answered{accepted:false}).
    s_forward_until_said (fx, sender, target, "Get",
                          "\"last_error\":\"its node registers no type 'counter', which the "
                          "sender's does");
    code =
        cluster_cli_run (fx, out, err, "timeout 60 \"$SHOAL\" events --cluster \"$C\" %s", sender);
    if (code != 0 || strstr (out, "Answered"))
        fail_msg ("%s was answered while n2 lacks the module: exit %d: %s%s", sender, code, out,
                  err);

    //  n2 with the module again: the command runs, once, and is answered.
    cluster_cli_node_kill (fx, 1);
    cluster_cli_node_start_with (fx, 1, with);
    char events[200];
    snprintf (events, sizeof events, "timeout 60 \"$SHOAL\" events --cluster \"$C\" %s", sender);
    cluster_cli_run_until (fx, 60000, 0, "Answered", out,
                           events); //  a re-send is 5 s apart at most
    if (cluster_cli_count (out, "\"Answered\"") != 1 || !strstr (out, "\"accepted\":true"))
        fail_msg ("%s's events, n2 back with the module: %s", sender, out);
    cluster_cli_status_until (fx, 0, "\"node\":\"n2\"", out);
    //  Each ready line names the store's directory (a node started
    //  without its --data made a new store unseen); n2's restart found
    //  the store its first start made.
    char path[200], want[300];
    snprintf (path, sizeof path, "%s/n2.out", fx->dir);
    proc_read_file (path, out);
    snprintf (want, sizeof want, ", data %s/c/n2/data, ", fx->dir);
    if (!strstr (out, want))
        fail_msg ("n2's ready line does not name %s: %s", want, out);
    snprintf (path, sizeof path, "%s/n2.log", fx->dir);
    proc_read_file (path, out);
    if (cluster_cli_count (out, "made a new, empty store in ") != 1)
        fail_msg ("n2's log, two starts on one store: %s", out);
    code = cluster_cli_run (fx, out, err,
                            "timeout 60 \"$SHOAL\" pending --cluster \"$C\" --exit-code");
    if (code != 0 || strcmp (out, "no command is pending\n") != 0)
        fail_msg ("pending, n2 back with the module: exit %d: %s%s", code, out, err);
}

//  A target whose handler fails on a command every time (sink/: its
//  events do not apply), on another node: the sender's pending command
//  says why in LAST ERROR. It said "-": the target told an actor sender
//  nothing (only clients), and the operator saw a stalled command and no
//  cause. The answer is not the command's: the sender is not answered.
static void test_failing_target_said (void **state)
{
    fixture_t *fx = *state;
    const char *module = getenv ("SHOAL_TEST_MODULE");
    assert_non_null (module);
    char with[256];
    snprintf (with, sizeof with, "--module '%s'", module);
    for (int i = 0; i < NODES; i++)
        cluster_cli_node_start_with (fx, i, with);
    cluster_cli_all_links_up (fx);
    cluster_t *cluster = cluster_cli_map (fx);
    char sender[64], target[64], out[OUTPUT_MAX], err[OUTPUT_MAX];
    cluster_cli_address_of (cluster, 0, "counter/s", sender, sizeof sender);
    cluster_cli_address_of (cluster, 1, "sink/t", target, sizeof target);
    cluster_destroy (&cluster);
    s_forward_until_said (fx, sender, target, "Add",
                          "\"last_error\":\"its target refused it for now: handler_error: ");
    //  A script's test of stuck work: --exit-code exits 1 when it lists
    //  any (pending exited 0 whatever it listed).
    int listed = cluster_cli_run (
        fx, out, err, "timeout 60 \"$SHOAL\" pending --cluster \"$C\" --exit-code --json");
    if (listed != 1 || !strstr (out, target))
        fail_msg ("pending --exit-code with %s's Add waiting: exit %d: %s%s", sender, listed, out,
                  err);
    int code =
        cluster_cli_run (fx, out, err, "timeout 60 \"$SHOAL\" events --cluster \"$C\" %s", sender);
    if (code != 0 || strstr (out, "Answered"))
        fail_msg ("%s was answered by a failed turn: exit %d: %s%s", sender, code, out, err);
}

int main (void)
{
    if (!getenv ("SHOAL_BIN") || !getenv ("SHOAL_TEST_MODULE")) {
        fprintf (stderr, "test_cluster_cli_modules: run through ctest (SHOAL_BIN unset)\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_node_without_module, cluster_cli_setup,
                                         cluster_cli_teardown),
        cmocka_unit_test_setup_teardown (test_failing_target_said, cluster_cli_setup,
                                         cluster_cli_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
