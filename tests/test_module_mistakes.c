/*  test_module_mistakes.c - what a node does with a module author's or a
    deployer's mistakes, with real processes: a handler that calls exit()
    (tests/poison_module.c's Exit), and a node started without a module
    whose actors its store holds (poison/, left out of a restart).
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
#include <sys/wait.h>
#include <unistd.h>

#define NODE_ARGS                                                                                  \
    "$SHOAL node --endpoint $E --data $DIR/data --workers 2 --stall-ms 500 --metrics off "         \
    "--module \"$SHOAL_TEST_MODULE\""
#define BOTH NODE_ARGS " --module \"$SHOAL_POISON_MODULE\""
#define EXIT_MS 30000 //  a node's end comes within this of its cause

static int s_setup (void **state)
{
    *state = proc_new ("test-module-mistakes");
    return 0;
}

static int s_teardown (void **state)
{
    proc_t *p = *state;
    proc_destroy (&p);
    return 0;
}

//  --------------------------------------------------------------------------
//  A handler that calls exit(): the node ends at once, exit 1, its log
//  naming the handler (it said only an assertion of czmq's, or nothing
//  with exit status 0, a clean stop's), and the next start counts the
//  turn as a crash, as any other.

static void test_exit_in_handler (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX], log[PROC_OUTPUT_MAX];
    proc_node_start (p, BOTH);
    int rc = proc_run (p, out, err, "$SHOAL send --endpoint $E --timeout 3000 poison/q Exit");
    assert_int_equal (rc, 3); //  no answer: the node ended in the turn
    int status;
    if (!proc_node_wait_exit (p, EXIT_MS, &status))
        fail_msg ("the node did not end within %d ms of its handler's exit()", EXIT_MS);
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 1)
        fail_msg ("a handler's exit(): the node's status %d, not exit 1", status);
    proc_read (p, "node.log", log);
    proc_assert_has (log, "shoal node: the handler of poison on poison/q, in a turn of Exit "
                          "called exit(): the node ends there, without a clean stop");
    proc_node_start (p, BOTH);
    assert_true (proc_log_until (p, "died in a turn of Exit on poison/q", EXIT_MS, log));
    proc_assert_has (log, "crash 1 of 3");
    proc_node_signal (p, SIGTERM);
}

//  --------------------------------------------------------------------------
//  A node started without the module of actors its store holds: said at
//  the start, and their commands answered unavailable, which a sender
//  asks again, not unknown_type, which it takes for good (a saga's
//  command failed so, and the saga with it, for a deployer's slip). Back
//  with the module, the command a saga-like counter sent runs, once. A
//  type the store never held is still unknown_type.

static void test_module_left_out (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX], log[PROC_OUTPUT_MAX];
    proc_node_start (p, BOTH);
    assert_int_equal (proc_run (p, out, err, "$SHOAL send --endpoint $E poison/p Boom"), 0);
    proc_node_signal (p, SIGTERM);

    proc_node_start (p, NODE_ARGS); //  poison.so left out
    proc_read (p, "node.log", log);
    proc_assert_has (log, "the store holds streams of the actor type 'poison', which no module "
                          "registers: commands to them are answered unavailable");
    //  A client's command, to a stored actor and to a new one of the type.
    const char *addresses[] = {"poison/p", "poison/new"};
    for (int i = 0; i < 2; i++) {
        int rc = proc_run (p, out, err, "$SHOAL send --endpoint $E --timeout 1500 %s Boom",
                           addresses[i]);
        if (rc == 0 || !strstr (out, "\"code\":\"unavailable\"") ||
            !strstr (out, "this node started without the module that registers it"))
            fail_msg ("Boom to %s, poison.so left out: exit %d: %s%s", addresses[i], rc, out, err);
    }
    assert_int_equal (proc_run (p, out, err, "$SHOAL send --endpoint $E nosuch/x Boom"), 1);
    proc_assert_has (out, "\"code\":\"unknown_type\"");
    //  A get of it: the same, not a type that does not exist.
    int got = proc_run (p, out, err, "$SHOAL get --endpoint $E --timeout 1500 poison/p");
    if (got == 0 || !strstr (out, "unavailable") ||
        !strstr (out, "this node started without the module that registers it"))
        fail_msg ("get poison/p, poison.so left out: exit %d: %s%s", got, out, err);
    //  An actor's command: pending, its last failure said, not settled.
    int rc =
        proc_run (p, out, err, "$SHOAL send --endpoint $E counter/f Forward to=poison/p name=Boom");
    assert_int_equal (rc, 0);
    proc_wait_out (p, 20000, "started without the module", "$SHOAL pending --endpoint $E --json");
    assert_int_equal (proc_run (p, out, err, "$SHOAL events --endpoint $E counter/f"), 0);
    if (strstr (out, "\"Answered\""))
        fail_msg ("counter/f's Boom was answered with poison.so left out: %s", out);
    proc_node_signal (p, SIGTERM);

    //  Back with the module: the Boom runs, once, and is answered.
    proc_node_start (p, BOTH);
    proc_wait_out (p, 20000, "\"Answered\"", "$SHOAL events --endpoint $E counter/f");
    assert_int_equal (proc_run (p, out, err, "$SHOAL get --endpoint $E poison/p"), 0);
    proc_assert_has (out, "\"booms\":2");
    proc_node_signal (p, SIGTERM);
    //  Said at the one start without the module, not at the others.
    proc_read (p, "node.log", log);
    const char *said = strstr (log, "which no module registers: commands");
    assert_non_null (said);
    assert_null (strstr (said + 1, "which no module registers: commands"));
}

int main (void)
{
    if (!getenv ("SHOAL_BIN") || !getenv ("SHOAL_TEST_MODULE") || !getenv ("SHOAL_POISON_MODULE")) {
        fprintf (stderr, "test_module_mistakes: run through ctest\n");
        return 1;
    }
    signal (SIGPIPE, SIG_IGN);
    if (getenv ("SHOAL_TEST_FILTER"))
        cmocka_set_test_filter (getenv ("SHOAL_TEST_FILTER"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_exit_in_handler, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_module_left_out, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
