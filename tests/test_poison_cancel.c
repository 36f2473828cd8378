/*  test_poison_cancel.c - a dead letter that a resolve cancelled, with a
    real node (tests/poison_module.c crashes it three times on a saga's
    command): the saga's $cancel is recorded at the target, the saga gets
    its refusal, and a retry of the dead letter then answers it from that
    record without running it. The list said it "ran" (crashes 0), which
    in the bank reads as a Credit made for a transfer that was refunded;
    it says "cancelled", and a second decision is refused saying so (an
    operator review's find).
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "proc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NODE_ARGS                                                                                  \
    "$SHOAL node --endpoint $E --data $DIR/data --workers 2 --stall-ms 500 --metrics off "         \
    "--module \"$SHOAL_TEST_MODULE\" --module \"$SHOAL_POISON_MODULE\""
#define CRASHING "env SHOAL_POISON=1 " NODE_ARGS
#define EXIT_MS 30000 //  a crash comes within this of a start

static int s_setup (void **state)
{
    *state = proc_new ("test-poison-cancel");
    return 0;
}

static int s_teardown (void **state)
{
    proc_t *p = *state;
    proc_destroy (&p);
    return 0;
}

static void test_cancelled_dead_letter (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX], id[40];
    proc_node_start (p, CRASHING);
    //  counter/f sends Boom to poison/p through its outbox: every restart
    //  re-sends it, so the node crashes again by itself.
    int rc = proc_run (p, out, err,
                       "$SHOAL send --endpoint $E --timeout 5000 counter/f Forward to=poison/p "
                       "name=Boom");
    assert_true (rc == 0 || rc == 3); //  the node may die before the reply leaves
    proc_node_crash (p, 3, EXIT_MS, CRASHING);
    proc_node_start (p, CRASHING); //  the fourth start stays up: Boom is set aside
    assert_int_equal (proc_run (p, out, err, "$SHOAL dead-letters --endpoint $E --json"), 0);
    proc_dead_letter_id (out, "poison/p", id);

    //  The operator ends the saga's command: its $cancel is recorded at
    //  poison/p (Boom never ran), and counter/f hears the refusal.
    rc = proc_run (p, out, err,
                   "$SHOAL resolve --endpoint $E --json counter/f %s --reject operator_cancel "
                   "--reason 'poison/p crashes on it'",
                   id);
    if (rc != 0)
        fail_msg ("resolve: exit %d: %s %s", rc, out, err);
    proc_wait_out (p, 20000, "no command is pending", "$SHOAL pending --endpoint $E");

    //  A retry answers the dead letter from the $cancel's record: it does
    //  not run, and the record says so.
    rc = proc_run (p, out, err, "$SHOAL dead-letters --endpoint $E retry --reason test %s", id);
    if (rc != 0)
        fail_msg ("retry: exit %d: %s %s", rc, out, err);
    proc_wait_out (p, 20000, "\"state\":\"cancelled\"",
                   "$SHOAL dead-letters --endpoint $E --all --json");
    assert_int_equal (proc_run (p, out, err, "$SHOAL events --endpoint $E poison/p"), 0);
    assert_null (strstr (out, "\"Boomed\""));
    rc = proc_run (p, out, err, "$SHOAL dead-letters --endpoint $E drop --force --reason test %s",
                   id);
    assert_int_equal (rc, 1);
    proc_assert_has (err, "was cancelled by a resolve already: only a dead or suspect one is "
                          "retried or dropped (not_dead)");
    //  The node lived through all of it.
    assert_int_equal (proc_run (p, out, err, "$SHOAL send --endpoint $E counter/x Add by=2"), 0);
}

int main (void)
{
    if (!getenv ("SHOAL_BIN") || !getenv ("SHOAL_TEST_MODULE") || !getenv ("SHOAL_POISON_MODULE")) {
        fprintf (stderr, "test_poison_cancel: run through ctest\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_cancelled_dead_letter, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
