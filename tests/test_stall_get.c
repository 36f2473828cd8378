/*  test_stall_get.c - a saga's stall, as `shoal get` and `shoal explain`
    say it, in a real node: a transfer whose debit's target never answers
    (account/x, whose stored event its type refuses, is never loaded) is
    told it is stalled as its Debit passes --stall-ms, not at the first
    re-send after (up to 5 s later: the re-sends back off). So once
    `shoal explain` says the transfer is stalled, the next `shoal get` of
    it says `stalled: true` too (it said false for a second or more).
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"
#include "journal.h"
#include "proc.h"

#include <msgpack.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define WAIT_MS 30000 //  a condition's deadline (ASan on a busy machine)
//  2200 ms: past the fifth re-send (at most 1550 ms and its jitter, 1937
//  ms) and well before the sixth (at least 3150 ms), where the notice
//  came before.
#define NODE "$SHOAL node --endpoint $E --data $DIR/data --workers 2 --metrics off --stall-ms 2200"

static int s_setup (void **state)
{
    *state = proc_new ("test-stall-get");
    return 0;
}

static int s_teardown (void **state)
{
    proc_t *p = *state;
    proc_destroy (&p);
    return 0;
}

//  Appends to account/x a Deposited whose amount is a string: the account
//  type refuses it, so account/x is never loaded and answers no command
//  an actor sends it. The node is stopped.
static void s_break_account (proc_t *p)
{
    char dir[128], *error = NULL;
    snprintf (dir, sizeof dir, "%s/data", p->dir);
    int code;
    journal_t *journal = journal_open (dir, NULL, &code, &error);
    if (!journal)
        fail_msg ("open %s: %s", dir, error ? error : "?");
    int64_t version = 0;
    assert_int_equal (journal_version (journal, "account/x", &version), 0);
    assert_int_equal (version, 1); //  Opened
    harness_append_refused_deposit (journal, "account/x", version);
    journal_destroy (&journal);
}

static void test_get_agrees_with_explain (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    proc_node_start (p, NODE);
    assert_int_equal (proc_run (p, out, err, "$SHOAL send --endpoint $E account/x Open owner=x"),
                      0);
    proc_node_signal (p, SIGTERM);
    s_break_account (p);
    proc_node_start (p, NODE);
    assert_int_equal (proc_run (p, out, err,
                                "$SHOAL send --endpoint $E transfer/t1 Start from=account/x "
                                "to=account/y amount=5"),
                      0);
    assert_int_equal (proc_run (p, out, err, "$SHOAL get --endpoint $E transfer/t1"), 0);
    proc_assert_has (out, "\"stalled\":false");

    //  explain --json: the transfer's state (its own "stalled"), then
    //  whether a command it sent is stalled, from the pending table.
    int64_t deadline = proc_now_ms () + WAIT_MS;
    while (true) {
        assert_int_equal (proc_run (p, out, err, "$SHOAL explain --json --endpoint $E transfer/t1"),
                          0);
        if (strstr (out, "\"stalled\":true,\"expired\""))
            break;
        if (proc_now_ms () > deadline)
            fail_msg ("explain never said transfer/t1 stalled: %s", out);
        usleep (50 * 1000); //  between two asks, within the deadline
    }
    //  The get after it agrees, at its first ask.
    assert_int_equal (proc_run (p, out, err, "$SHOAL get --endpoint $E transfer/t1"), 0);
    proc_assert_has (out, "\"stalled\":true");
    proc_assert_has (out, "\"status\":\"started\"");
    //  Told once: one Stalled event.
    assert_int_equal (proc_run (p, out, err, "$SHOAL events --endpoint $E transfer/t1"), 0);
    const char *first = strstr (out, "\"Stalled\"");
    assert_non_null (first);
    assert_null (strstr (first + 1, "\"Stalled\""));
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_get_agrees_with_explain, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
