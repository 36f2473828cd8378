/*  test_poison.c - poison messages, with real processes: a module whose
    handler aborts the node (tests/poison_module.c, while $SHOAL_POISON is
    set) crashes it three times in a row, with the test restarting it as
    a supervisor would; then the node stays up, serves the other actors,
    lists the dead letter, answers a client that sends it `poisoned`, and
    the saga that sent it sees it stalled, and explain of the target lists
    it, with why and how to decide it. A get whose view crashes the
    node is set aside likewise; a view that never returns is seen by the
    watchdog; an apply that refuses a stored event is named. Started again with the module
    "fixed", `shoal dead-letters retry` runs it exactly once. A timer
    that crashes is set aside the same way, and `drop` forgets it. A
    module that writes a key twice in snapshot() or view() is logged once
    per type, and `shoal get` answers it as handler_error.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>

#include <cmocka.h>

#include "proc.h"

#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NODE_ARGS                                                                                  \
    "$SHOAL node --endpoint $E --data $DIR/data --workers 2 --stall-ms 500 --metrics off "         \
    "--module \"$SHOAL_TEST_MODULE\" --module \"$SHOAL_POISON_MODULE\""
#define CRASHING "env SHOAL_POISON=1 " NODE_ARGS
#define FIXED NODE_ARGS
//  A node whose asker/ saga crashes on its reply, its stall notices due
//  at once (a command unanswered for 1 ms).
#define REPLY_POISONED                                                                             \
    "env SHOAL_POISON_REPLY=1 $SHOAL node --endpoint $E --data $DIR/data --workers 2 "             \
    "--stall-ms 1 --metrics off --module \"$SHOAL_TEST_MODULE\" --module \"$SHOAL_POISON_MODULE\""
#define EXIT_MS 30000 //  a crash comes within this of a start

static int s_setup (void **state)
{
    *state = proc_new ("test-poison");
    return 0;
}

static int s_teardown (void **state)
{
    proc_t *p = *state;
    proc_destroy (&p);
    return 0;
}

static int s_count (const char *text, const char *needle)
{
    int count = 0;
    for (const char *at = strstr (text, needle); at; at = strstr (at + 1, needle))
        count++;
    return count;
}

//  The node died by abort(): the module's crash, not something else.
static void s_assert_crashed (int status)
{
    if (!WIFSIGNALED (status) || WTERMSIG (status) != SIGABRT)
        fail_msg ("the node ended otherwise than by the module's abort (status %d)", status);
}

//  Acts as the supervisor: the running node crashed (or crashes now) on
//  its poison; restarts it with command until it has died three times in
//  all.
static void s_crash_three_times (proc_t *p, const char *command)
{
    proc_node_crash (p, 3, EXIT_MS, command);
}

//  --------------------------------------------------------------------------
//  0. A command sent by an actor whose target's handler fails on it every
//     time (sink/: its events do not apply) is never answered: the sender
//     is told nothing, and re-sends. `get` of the target shows how it
//     fails, and explain of the sender says it; it said the target "is up
//     but has not answered yet (busy, or a message lost)".

static void test_failing_target_explained (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    proc_node_start (p, FIXED);
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL send --endpoint $E counter/g Forward to=sink/s1 name=Ping"),
        0);
    proc_wait_out (p, 20000, "sink/s1 fails on its commands: Ping failed ",
                   "$SHOAL explain --endpoint $E counter/g");
    assert_int_equal (proc_run (p, out, err, "$SHOAL get --endpoint $E sink/s1"), 0);
    proc_assert_has (out, "\"failing\":{\"command\":\"Ping\",\"code\":\"");
    proc_assert_has (out, "\"times\":");
    //  An actor whose commands go through shows none.
    assert_int_equal (proc_run (p, out, err, "$SHOAL get --endpoint $E counter/g"), 0);
    assert_null (strstr (out, "failing"));
    //  Once an operator resolved the command (cancelled at the target
    //  before it ran), the target shows it failing no more: its re-sends
    //  are answered from the inbox, with no turn to clear it (a QA pass
    //  saw `failing` stay).
    assert_int_equal (proc_run (p, out, err, "$SHOAL pending --endpoint $E --json"), 0);
    char id[40] = "";
    const char *at = strstr (out, "\"id\":\"");
    assert_non_null (at);
    assert_int_equal (sscanf (at, "\"id\":\"%32[0-9a-f]\"", id), 1);
    assert_int_equal (
        proc_run (p, out, err,
                  "$SHOAL resolve --endpoint $E counter/g %s --reject operator_cancel "
                  "--reason 'sink/s1 is broken'",
                  id),
        0);
    int64_t deadline = proc_now_ms () + 20000;
    do {
        assert_int_equal (proc_run (p, out, err, "$SHOAL get --endpoint $E sink/s1"), 0);
        if (!strstr (out, "failing"))
            break;
        usleep (50 * 1000);
    } while (proc_now_ms () < deadline);
    assert_null (strstr (out, "failing"));
}

//  An actor that fails on the reply its command brought (counter/ on
//  Fussy's) keeps the command pending, and sends it again to hear the
//  reply again: explain says the sender fails on it (it said "target
//  refusing or failing", sending the operator to the target, which
//  answered), and pending names the failure.
static void test_failing_sender_explained (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    proc_node_start (p, FIXED);
    assert_int_equal (
        proc_run (p, out, err,
                  "$SHOAL send --endpoint $E counter/f Forward to=counter/t name=Fussy"),
        0);
    proc_wait_out (p, 20000, "the sender fails on the reply",
                   "$SHOAL explain --endpoint $E counter/f");
    assert_int_equal (proc_run (p, out, err, "$SHOAL explain --endpoint $E counter/f"), 0);
    proc_assert_has (out, "its reply came; the sender failed on it");
    assert_null (strstr (out, "target refusing"));
    assert_int_equal (proc_run (p, out, err, "$SHOAL pending --endpoint $E"), 0);
    proc_assert_has (out, "the sender failed on it");
}

//  --------------------------------------------------------------------------
//  1. A command sent by an actor crashes the node three times: set aside.

//  explain of poison/p, whose Boom (message id) is a dead letter, lists
//  it with why and the commands that decide it, in text and JSON (it
//  said nothing of it: only `shoal dead-letters` did); an actor with none
//  says so.
static void s_assert_dead_letter_explained (proc_t *p, const char *id)
{
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX], needle[512];
    assert_int_equal (proc_run (p, out, err, "$SHOAL explain --endpoint $E poison/p"), 0);
    snprintf (needle, sizeof needle,
              "\n  dead letters:\n    command Boom, message %s: dead, 3 crashes, the last at ", id);
    proc_assert_has (out, needle);
    proc_assert_has (out, "      why: it crashed its node 3 times in a row: set aside, not run "
                          "until retried; a client sending it is answered poisoned");
    snprintf (needle, sizeof needle,
              "      shoal dead-letters retry --reason WHY %s (once its module is fixed) | drop "
              "--reason WHY %s\n",
              id, id);
    proc_assert_has (out, needle);
    assert_int_equal (proc_run (p, out, err, "$SHOAL explain --endpoint $E --json poison/p"), 0);
    snprintf (needle, sizeof needle,
              "\"dead_letters\":[{\"id\":\"%s\",\"kind\":\"command\",\"command\":\"Boom\","
              "\"state\":\"dead\",\"crashes\":3,\"last_crash\":\"",
              id);
    proc_assert_has (out, needle);
    proc_assert_has (out, "\"reason\":\"it crashed its node 3 times in a row: set aside");
    snprintf (needle, sizeof needle,
              "\"retry\":\"shoal dead-letters retry --reason WHY %s\",\"drop\":\"shoal "
              "dead-letters drop --reason WHY %s\"}]",
              id, id);
    proc_assert_has (out, needle);
    assert_int_equal (proc_run (p, out, err, "$SHOAL explain --endpoint $E counter/x"), 0);
    proc_assert_has (out, "\n  dead letters: none\n");
    assert_int_equal (proc_run (p, out, err, "$SHOAL explain --endpoint $E --json counter/x"), 0);
    proc_assert_has (out, "\"dead_letters\":[]");
}

static void test_poison_command (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    proc_node_start (p, CRASHING);
    //  None yet: said in a line, as pending says it (before, a header alone).
    assert_int_equal (proc_run (p, out, err, "$SHOAL dead-letters --endpoint $E"), 0);
    assert_string_equal (out, "no dead letter\n");
    assert_int_equal (proc_run (p, out, err, "$SHOAL dead-letters --endpoint $E --all"), 0);
    assert_string_equal (out, "no dead letter, suspect or decided one\n");
    //  counter/f sends Boom to poison/p through its outbox: every restart
    //  re-sends it, so the node crashes again by itself.
    int rc = proc_run (p, out, err,
                       "$SHOAL send --endpoint $E --timeout 5000 counter/f Forward to=poison/p "
                       "name=Boom");
    assert_true (rc == 0 || rc == 3); //  the node may die before the reply leaves
    s_crash_three_times (p, CRASHING);

    //  The fourth start stays up and serves everything else.
    proc_node_start (p, CRASHING);
    assert_int_equal (proc_run (p, out, err, "$SHOAL send --endpoint $E counter/x Add by=2"), 0);
    assert_non_null (strstr (out, "\"value\":2"));
    assert_int_equal (proc_run (p, out, err, "$SHOAL dead-letters --endpoint $E --json"), 0);
    assert_non_null (strstr (out, "\"address\":\"poison/p\""));
    assert_non_null (strstr (out, "\"command\":\"Boom\""));
    assert_non_null (strstr (out, "\"crashes\":3"));
    assert_non_null (strstr (out, "\"state\":\"dead\""));
    char id[33];
    proc_dead_letter_id (out, "poison/p", id);
    assert_int_equal (proc_run (p, out, err, "$SHOAL dead-letters --endpoint $E"), 0);
    assert_non_null (strstr (out, "poison/p"));
    assert_non_null (strstr (out, id));
    //  Counted for the metrics (shoal_dead_letters, of these counters),
    //  which an operator alerts on: not exported before.
    assert_int_equal (proc_run (p, out, err, "$SHOAL stats --endpoint $E --json"), 0);
    proc_assert_has (out, "\"dead_letters\":1,");

    //  A client sending it is told, and the node lives on.
    rc = proc_run (p, out, err, "$SHOAL send --endpoint $E --id %s poison/p Boom", id);
    assert_int_equal (rc, 1);
    assert_non_null (strstr (out, "\"code\":\"poisoned\""));
    //  The saga's outbox entry stays pending and is reported stalled.
    proc_wait_out (p, 20000, "\"Stalled\"", "$SHOAL events --endpoint $E counter/f");
    assert_int_equal (kill (p->node, 0), 0);
    //  explain says why: the target set it aside ("is up but has not
    //  answered yet (busy, or a message lost)", before).
    assert_int_equal (proc_run (p, out, err, "$SHOAL explain --endpoint $E counter/f"), 0);
    proc_assert_has (out, "poison/p set it aside as a dead letter: it crashed its node 3 times");
    proc_assert_has (out, id);
    s_assert_dead_letter_explained (p, id);
    assert_int_equal (proc_run (p, out, err, "$SHOAL events --endpoint $E poison/p"), 0);
    assert_int_equal (s_count (out, "\"Boomed\""), 0);

    //  The module is fixed: retry runs it once, and the saga gets its reply.
    proc_node_signal (p, SIGTERM);
    proc_node_start (p, FIXED);
    //  Without $USER (cron, a service) the login running it is who, as
    //  for shoal resolve (it was "unknown").
    struct passwd *account = getpwuid (geteuid ());
    assert_non_null (account);
    rc = proc_run (p, out, err,
                   "env -u USER $SHOAL dead-letters --endpoint $E retry --reason test %s", id);
    if (rc != 0)
        fail_msg ("retry: exit %d: %s %s", rc, out, err);
    assert_non_null (strstr (out, "\"state\":\"retried\""));
    char who[128];
    snprintf (who, sizeof who, "\"who\":\"%s\"", account->pw_name);
    if (!strstr (out, who))
        fail_msg ("retry without $USER: %s not in %s", who, out);
    assert_int_equal (proc_run (p, out, err, "$SHOAL stats --endpoint $E --json"), 0);
    proc_assert_has (out, "\"dead_letters\":0,"); //  retried: none waits any more
    //  The node logs the decision, as it logs a resolve.
    if (proc_run (p, out, err,
                  "grep -F 'operator %s retries dead letter %s to poison/p' $DIR/node.log",
                  account->pw_name, id) != 0)
        fail_msg ("the node did not log the retry of %s by %s", id, account->pw_name);
    proc_wait_out (p, 20000, "\"Answered\"", "$SHOAL events --endpoint $E counter/f");
    assert_int_equal (proc_run (p, out, err, "$SHOAL events --endpoint $E poison/p"), 0);
    assert_int_equal (s_count (out, "\"Boomed\""), 1);
    assert_int_equal (s_count (out, "\"seq\""), 1);
    //  Re-sent by the client with the same id: the stored reply, no effect.
    assert_int_equal (proc_run (p, out, err, "$SHOAL send --endpoint $E --id %s poison/p Boom", id),
                      0);
    assert_non_null (strstr (out, "\"booms\":1"));
    assert_int_equal (proc_run (p, out, err, "$SHOAL events --endpoint $E poison/p"), 0);
    assert_int_equal (s_count (out, "\"Boomed\""), 1);
    //  The decision is kept, with who and when; the list proper is empty.
    proc_wait_out (p, 10000, "\"state\":\"ran\"", "$SHOAL dead-letters --endpoint $E --all --json");
    assert_int_equal (proc_run (p, out, err, "$SHOAL dead-letters --endpoint $E --all --json"), 0);
    assert_non_null (strstr (out, who));
    //  Decided and run: explain of the target lists it no more.
    assert_int_equal (proc_run (p, out, err, "$SHOAL explain --endpoint $E poison/p"), 0);
    proc_assert_has (out, "\n  dead letters: none\n");
    assert_int_equal (proc_run (p, out, err, "$SHOAL dead-letters --endpoint $E --json"), 0);
    assert_null (strstr (out, "poison/p"));
    //  A retry of what is not dead is refused: why, in a line on stderr,
    //  and as JSON on stdout too with --json (as explain, and the README,
    //  say it: --json said nothing on stderr).
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL dead-letters --endpoint $E retry --reason test %s", id), 1);
    assert_string_equal (out, "");
    proc_assert_has (err, "shoal dead-letters: retry ");
    proc_assert_has (err, " refused: the message ");
    proc_assert_has (err, " already: only a dead or suspect one is retried or dropped (not_dead)");
    assert_int_equal (proc_run (p, out, err,
                                "$SHOAL dead-letters --endpoint $E --json retry --reason test %s",
                                id),
                      1);
    //  (The id has a second record, at counter/f, whose turn of the reply
    //  ran while the node crashed: either is named; neither is dead.)
    proc_assert_has (out, "{\"ok\":false,\"action\":\"retry\",\"address\":\"");
    if (!strstr (out, "\"address\":\"poison/p\"") && !strstr (out, "\"address\":\"counter/f\""))
        fail_msg ("the refusal names neither record's address: %s", out);
    proc_assert_has (out, "\"code\":\"not_dead\"");
    proc_assert_has (err, " already: only a dead or suspect one is retried or dropped (not_dead)");
    //  So is one of an id no node lists.
    const char *none = "0123456789abcdef0123456789abcdef";
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL dead-letters --endpoint $E drop --reason test %s", none), 1);
    assert_string_equal (out, "");
    proc_assert_has (err, "shoal dead-letters: drop 0123456789abcdef0123456789abcdef refused: no "
                          "message 0123456789abcdef0123456789abcdef in the dead-letter lists");
    proc_assert_has (err, "(not_found)");
    assert_int_equal (proc_run (p, out, err,
                                "$SHOAL dead-letters --endpoint $E --json drop --reason test %s",
                                none),
                      1);
    proc_assert_has (out, "{\"ok\":false,\"action\":\"drop\",\"id\":\""
                          "0123456789abcdef0123456789abcdef\",\"code\":\"not_found\"");
    proc_assert_has (err, "shoal dead-letters: drop 0123456789abcdef0123456789abcdef refused: no "
                          "message 0123456789abcdef0123456789abcdef in the dead-letter lists");
    //  An ID that is not one is bad usage, said in one line whatever its
    //  bytes (an escape sequence went to the terminal as it was).
    assert_int_equal (
        proc_run (p, out, err,
                  "$SHOAL dead-letters --endpoint $E drop --reason test \"$(printf 'x\\033[2J')\""),
        2);
    assert_string_equal (out, "");
    proc_assert_has (err, "shoal dead-letters: ID is 32 hex digits, as shoal dead-letters lists "
                          "it, not 'x\\u001b[2J'\n");
}

//  --------------------------------------------------------------------------
//  2. A timer whose handler crashes is set aside too; drop forgets it.

//  --------------------------------------------------------------------------
//  1b. A reply that crashes the node, to a saga whose command is stalled:
//     at each start the re-sent command's stall notice runs before its
//     reply comes back, and survives. The reply is set aside after three
//     crashes all the same. The notice and the reply shared a crash record
//     (the command's id), so the notice's survival set the count back to
//     0: "crash 1 of 3" at every start, for ever (a review's find).

//  asker sends Boom to to; its reply crashes the node, three times; the
//  fourth start stays up, the reply a dead letter, and asker lives on.
static void s_reply_set_aside (proc_t *p, const char *asker, const char *to)
{
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    proc_node_start (p, REPLY_POISONED);
    int rc =
        proc_run (p, out, err, "$SHOAL send --endpoint $E --timeout 5000 %s Ask to=%s", asker, to);
    assert_true (rc == 0 || rc == 3); //  the node may die before the reply leaves
    s_crash_three_times (p, REPLY_POISONED);

    //  The fourth start stays up: the reply is a dead letter.
    proc_node_start (p, REPLY_POISONED);
    assert_int_equal (proc_run (p, out, err, "$SHOAL dead-letters --endpoint $E --json"), 0);
    char address[128];
    snprintf (address, sizeof address, "\"address\":\"%s\",\"kind\":\"reply\"", asker);
    if (!strstr (out, address) || !strstr (out, "\"crashes\":3") ||
        !strstr (out, "\"state\":\"dead\""))
        fail_msg ("no dead reply to %s: %s", asker, out);
    //  Its notices still reach the saga, which lives on.
    char events[160];
    snprintf (events, sizeof events, "$SHOAL events --endpoint $E %s", asker);
    proc_wait_out (p, 20000, "\"Stalled\"", events);
    assert_int_equal (proc_run (p, out, err, "$SHOAL send --endpoint $E counter/x Add by=2"), 0);
    assert_int_equal (kill (p->node, 0), 0);
}

static void test_poison_reply_past_a_stall (void **state)
{
    s_reply_set_aside (*state, "asker/a", "poison/p");
}

//  1c. A dead reply's drop strands its saga: the saga never sees it, its
//     command is no longer pending (no resolve can end it), and what the
//     target did stands (a Debit taken, its transfer never credited nor
//     refunded). It was done at a word; the node now refuses it without
//     --force, saying so, and explain says a dropped reply's saga waits for
//     nothing that will come (a review's find).
static void test_poison_reply_drop_needs_force (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX], id[40], needle[256];
    s_reply_set_aside (p, "asker/a", "poison/p");
    assert_int_equal (proc_run (p, out, err, "$SHOAL dead-letters --endpoint $E --json"), 0);
    proc_dead_letter_id (out, "asker/a", id);
    assert_int_equal (proc_run (p, out, err, "$SHOAL explain --endpoint $E asker/a"), 0);
    snprintf (needle, sizeof needle,
              "shoal dead-letters retry --reason WHY %s (once its module is fixed) | drop --force "
              "--reason WHY %s\n",
              id, id);
    proc_assert_has (out, needle);
    //  Its Boom waits on that reply, not on poison/p ("no answer has come
    //  yet: try shoal resend", it said).
    snprintf (needle, sizeof needle,
              "      why: its reply came and crashed this node 3 times: set aside as dead letter "
              "%s, so asker/a waits; fix asker/a's module, then shoal dead-letters retry --reason "
              "WHY %s\n",
              id, id);
    proc_assert_has (out, needle);

    //  Without --force: refused, nothing decided, the saga still waits.
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL dead-letters --endpoint $E drop --reason test %s", id), 1);
    proc_assert_has (err, "drop it with --force, or fix the module and retry: it is the reply to "
                          "Boom, which poison/p ran (ok); dropped, asker/a never sees it");
    proc_assert_has (err, "(strands_saga)");
    assert_int_equal (proc_run (p, out, err, "$SHOAL dead-letters --endpoint $E --json"), 0);
    proc_assert_has (out, "\"state\":\"dead\"");
    assert_int_equal (proc_run (p, out, err, "$SHOAL pending --endpoint $E --json"), 0);
    proc_assert_has (out, "\"sender\":\"asker/a\",\"command\":\"Boom\"");
    //  --force is drop's alone.
    assert_int_equal (proc_run (p, out, err,
                                "$SHOAL dead-letters --endpoint $E retry --force --reason test %s",
                                id),
                      2);
    proc_assert_has (err, "--force is for drop ID alone");

    //  With it: dropped, and said so where the saga is explained.
    assert_int_equal (
        proc_run (p, out, err,
                  "USER=ops $SHOAL dead-letters --endpoint $E drop --force --reason test %s", id),
        0);
    proc_assert_has (out, "\"state\":\"dropped\",\"who\":\"ops\"");
    //  The next re-send brings the reply again, which is then forgotten.
    proc_wait_out (p, 20000, "  waits for: nothing (no command pending)\n",
                   "$SHOAL explain --endpoint $E asker/a");
    assert_int_equal (proc_run (p, out, err, "$SHOAL explain --endpoint $E asker/a"), 0);
    snprintf (needle, sizeof needle, "    reply Boom, message %s: dropped, 3 crashes", id);
    proc_assert_has (out, needle);
    proc_assert_has (out, "      why: an operator (ops) dropped it at ");
    proc_assert_has (out, ": asker/a never saw it, and nothing of it is pending, so no resend or "
                          "resolve moves asker/a on");
    assert_null (strstr (out, "shoal dead-letters retry"));
    assert_int_equal (proc_run (p, out, err, "$SHOAL explain --endpoint $E --json asker/a"), 0);
    proc_assert_has (out, "\"state\":\"dropped\"");
    proc_assert_has (out, "\"retry\":null,\"drop\":null}]");
    //  Across a crash, nothing of it comes back, and the node stays up.
    proc_node_signal (p, SIGKILL);
    proc_node_start (p, REPLY_POISONED);
    assert_int_equal (proc_run (p, out, err, "$SHOAL pending --endpoint $E --json"), 0);
    assert_null (strstr (out, "asker/a"));
    assert_int_equal (kill (p->node, 0), 0);
}

//  The same when the saga sent the command to itself (asker/ refuses
//  Boom: the refusal is the reply that crashes): at each start the
//  command's re-send ran as a duplicate and survived, and the command
//  and its reply shared a crash record (the command's id at the one
//  actor), so the count went back to 0 (the review of the fix above).
static void test_poison_reply_to_itself (void **state)
{
    s_reply_set_aside (*state, "asker/s", "asker/s");
}

static void test_poison_timer (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    proc_node_start (p, CRASHING);
    int rc = proc_run (p, out, err, "$SHOAL send --endpoint $E --timeout 5000 poison/t Later ms=0");
    assert_true (rc == 0 || rc == 3);
    s_crash_three_times (p, CRASHING);
    proc_node_start (p, CRASHING);
    assert_int_equal (proc_run (p, out, err, "$SHOAL dead-letters --endpoint $E --json"), 0);
    assert_non_null (strstr (out, "\"kind\":\"timer\""));
    assert_non_null (strstr (out, "\"command\":\"boom\""));
    char id[33];
    proc_dead_letter_id (out, "poison/t", id);
    //  A $USER of digits is who, a string: it was sent as an integer,
    //  which the node refused (invalid_field), so the drop failed.
    //  Without a reason: bad usage, nothing asked (the node's journal
    //  keeps why beside who and when).
    assert_int_equal (proc_run (p, out, err, "$SHOAL dead-letters --endpoint $E drop %s", id), 2);
    proc_assert_has (err, "shoal dead-letters: drop takes --reason TEXT");
    assert_int_equal (proc_run (p, out, err, "$SHOAL dead-letters --endpoint $E --reason x"), 2);
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL dead-letters --endpoint $E drop --reason '' %s", id), 2);
    proc_assert_has (err, "--reason must not be empty");
    assert_int_equal (
        proc_run (p, out, err,
                  "$SHOAL dead-letters --endpoint $E drop --reason $(printf '%%0256d' "
                  "0) %s",
                  id),
        2);
    proc_assert_has (err, "--reason TEXT is 1 to 255 bytes of UTF-8");
    rc = proc_run (p, out, err,
                   "USER=1234 $SHOAL dead-letters --endpoint $E drop --reason 'bad timer, ticket "
                   "77' %s",
                   id);
    if (rc != 0)
        fail_msg ("drop: exit %d: %s %s", rc, out, err);
    assert_non_null (strstr (out, "\"who\":\"1234\",\"why\":\"bad timer, ticket 77\""));
    assert_non_null (strstr (out, "\"state\":\"dropped\""));
    //  Still the buggy module: the dropped timer is gone, the node stays up.
    proc_node_signal (p, SIGTERM);
    proc_node_start (p, CRASHING);
    assert_int_equal (proc_run (p, out, err, "$SHOAL send --endpoint $E counter/y Add by=1"), 0);
    assert_int_equal (proc_run (p, out, err, "$SHOAL dead-letters --endpoint $E --all"), 0);
    assert_non_null (strstr (out, "dropped"));
    assert_non_null (strstr (out, "1234"));
    proc_assert_has (out, "\n  why: bad timer, ticket 77\n"); //  kept across the restart
    assert_int_equal (proc_run (p, out, err, "$SHOAL dead-letters --endpoint $E --all --json"), 0);
    proc_assert_has (out, "\"who\":\"1234\",\"decided_at\":\"");
    proc_assert_has (out, "\"why\":\"bad timer, ticket 77\"");
    assert_int_equal (proc_run (p, out, err,
                                "grep -F 'operator 1234 drops dead letter %s to poison/t: bad "
                                "timer, ticket 77' $DIR/node.log",
                                id),
                      0);
    assert_int_equal (kill (p->node, 0), 0);
    assert_int_equal (proc_run (p, out, err, "$SHOAL events --endpoint $E poison/t"), 0);
    assert_int_equal (s_count (out, "\"Rang\""), 0);
}

//  --------------------------------------------------------------------------
//  3. A handler that runs past --turn-timeout is logged with its address
//     and counted while it runs.

static void test_turn_timeout (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    proc_node_start (p, FIXED " --turn-timeout 100");
    assert_int_equal (proc_run (p, out, err, "$SHOAL send --endpoint $E counter/s Slow ms=700"), 0);
    //  The watchdog counts the turn as ended on its next look, which may
    //  come after the reply: wait for it.
    proc_wait_out (p, 20000, "\"overdue_now\":0", "$SHOAL stats --endpoint $E");
    assert_int_equal (proc_run (p, out, err, "$SHOAL stats --endpoint $E"), 0);
    assert_non_null (strstr (out, "\"overdue_turns\":1"));
    char log[PROC_OUTPUT_MAX];
    proc_read (p, "node.log", log);
    if (!strstr (log, "Slow on counter/s has run for") || !strstr (log, "past --turn-timeout"))
        fail_msg ("no line about the slow turn in the log: %s", log);
}

//  --------------------------------------------------------------------------
//  4. A turn file that comes back marked (a power cut took its clearing
//     back) is not counted twice.

static void test_stale_turn_counted_once (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX], log[PROC_OUTPUT_MAX];
    proc_node_start (p, CRASHING);
    int rc = proc_run (p, out, err,
                       "$SHOAL send --endpoint $E --timeout 5000 counter/f Forward to=poison/p "
                       "name=Boom");
    assert_true (rc == 0 || rc == 3);
    int status;
    if (!proc_node_wait_exit (p, EXIT_MS, &status))
        fail_msg ("the crash did not come within %d ms", EXIT_MS);
    s_assert_crashed (status);
    //  The turn files as the crash left them: Boom's turn marked running
    assert_int_equal (proc_run (p, out, err, "mkdir $DIR/saved && cp $DIR/data/turn-* $DIR/saved/"),
                      0);

    //  Counted once at the next start; fixed, Boom then runs
    proc_node_start (p, FIXED);
    proc_wait_out (p, 20000, "\"Answered\"", "$SHOAL events --endpoint $E counter/f");
    proc_node_signal (p, SIGTERM);
    proc_read (p, "node.log", log);
    assert_int_equal (s_count (log, "crash 1 of 3"), 1);

    //  The marks come back, as a cut before they reached the disk would
    //  leave them: the same turn, not counted again
    assert_int_equal (proc_run (p, out, err, "cp $DIR/saved/turn-* $DIR/data/"), 0);
    proc_node_start (p, FIXED);
    proc_node_signal (p, SIGTERM);
    proc_read (p, "node.log", log);
    if (s_count (log, "crash 1 of 3") != 1 || s_count (log, "crash 2 of 3") != 0)
        fail_msg ("a turn counted twice: %s", log);
    proc_assert_has (log, "was counted already");
}

//  --------------------------------------------------------------------------
//  5. A turn that ended, whose cleared mark a power cut takes back, is not
//     counted as a crash: its command's inbox record in the journal says
//     that its turn was committed.

static void test_ended_turn_not_counted (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX], log[PROC_OUTPUT_MAX];
    proc_node_start (p, FIXED " --turn-timeout 100");
    //  While Slow runs (the watchdog sees it past --turn-timeout), its turn
    //  file says so: a copy of it is what a cut would leave
    int rc = proc_run (p, out, err,
                       "$SHOAL send --endpoint $E --timeout 20000 counter/s Slow ms=1000 "
                       "> $DIR/slow.out & "
                       "for i in $(seq 200); do "
                       "  if $SHOAL stats --endpoint $E | grep -q '\"overdue_now\":1'; then "
                       "    mkdir $DIR/saved && cp $DIR/data/turn-* $DIR/saved/ && break; fi; "
                       "  sleep 0.01; done; "
                       "wait $! && test -d $DIR/saved");
    if (rc != 0)
        fail_msg ("Slow's turn was not seen running, or its send failed: %s", err);
    proc_node_signal (p, SIGTERM);

    //  The marks come back: Slow's turn ended and was committed, so no
    //  crash is counted
    assert_int_equal (proc_run (p, out, err, "cp $DIR/saved/turn-* $DIR/data/"), 0);
    proc_node_start (p, FIXED);
    assert_int_equal (proc_run (p, out, err, "$SHOAL send --endpoint $E counter/s Get"), 0);
    proc_node_signal (p, SIGTERM);
    proc_read (p, "node.log", log);
    if (s_count (log, "crash 1 of 3") != 0)
        fail_msg ("an ended turn counted as a crash: %s", log);
    proc_assert_has (log, "the turn of Slow on counter/s marked running at");
    proc_assert_has (log, "was committed: it ended, and is not counted as a crash");
}

//  --------------------------------------------------------------------------
//  A module whose snapshot() and view() write a key twice: the node logs
//  each misuse once (not per turn), naming the type and the key; commands
//  still work; `shoal get` exits 1 with handler_error and the reason,
//  never "unavailable", which reads as transient.

static void test_misused_snapshot_and_view (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX], log[PROC_OUTPUT_MAX];
    proc_node_start (p, NODE_ARGS " --snapshot-every 2");
    for (int i = 1; i <= 7; i++) {
        assert_int_equal (proc_run (p, out, err, "$SHOAL send --endpoint $E twice/t Boom"), 0);
        char booms[32];
        snprintf (booms, sizeof booms, "\"booms\":%d", i);
        if (!strstr (out, booms))
            fail_msg ("expected %s in: %s", booms, out);
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal (proc_run (p, out, err, "$SHOAL get --endpoint $E twice/t"), 1);
        if (!strstr (out, "\"code\":\"handler_error\"") ||
            !strstr (out, "view() of actor type 'twice': a field written wrongly with "
                          "shoal_rec_*: the key 'booms' written twice in one map"))
            fail_msg ("expected handler_error naming the key in: %s", out);
    }
    //  Three snapshots were due, and three gets: one line each, in time.
    const char *snap = "actor type 'twice': its snapshot() failed (a field written wrongly with "
                       "shoal_rec_*: the key 'booms' written twice in one map)";
    const char *view = "actor type 'twice': its view() failed (a field written wrongly with "
                       "shoal_rec_*: the key 'booms' written twice in one map)";
    proc_log_until (p, snap, 10000, log);
    proc_log_until (p, view, 10000, log);
    if (s_count (log, snap) != 1 || s_count (log, view) != 1)
        fail_msg ("expected one line for the snapshot and one for the view in: %s", log);
    //  The type's replies and events are as ever.
    assert_int_equal (proc_run (p, out, err, "$SHOAL events --endpoint $E twice/t"), 0);
    assert_int_equal (s_count (out, "\"Boomed\""), 7);
}

//  --------------------------------------------------------------------------
//  6. A get runs the module's code too (a load's apply, its view): a view
//     that crashes the node is counted as a turn's message is, every get
//     of the address one message, and set aside at the third crash; the
//     node then answers its gets `poisoned` and serves the rest. A retry,
//     once the module is fixed, lets them run. (Before, every get crashed
//     the node, and nothing was ever counted.)

#define VIEW_ABORTS "env SHOAL_POISON_VIEW=abort " NODE_ARGS

//  With the module as it ships, address takes a Boom (its event 1,
//  Boomed); then the node stops, for a start with another variant.
static void s_boomed_then_stop (proc_t *p, const char *address)
{
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    proc_node_start (p, FIXED);
    assert_int_equal (proc_run (p, out, err, "$SHOAL send --endpoint $E %s Boom", address), 0);
    proc_node_signal (p, SIGTERM);
}

static void test_poison_get (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX], log[PROC_OUTPUT_MAX];
    s_boomed_then_stop (p, "poison/g");
    for (int crash = 1; crash <= 3; crash++) {
        proc_node_start (p, VIEW_ABORTS);
        int rc = proc_run (p, out, err, "$SHOAL get --endpoint $E --timeout 3000 poison/g");
        assert_int_not_equal (rc, 0);
        int status;
        if (!proc_node_wait_exit (p, EXIT_MS, &status))
            fail_msg ("get %d did not crash the node within %d ms (exit %d: %s)", crash, EXIT_MS,
                      rc, out);
        s_assert_crashed (status);
    }
    proc_node_start (p, VIEW_ABORTS);
    assert_int_equal (proc_run (p, out, err, "$SHOAL get --endpoint $E poison/g"), 1);
    proc_assert_has (out, "\"code\":\"poisoned\"");
    proc_assert_has (out, "a get of poison/g crashed the node 3 times");
    assert_int_equal (kill (p->node, 0), 0);
    assert_int_equal (proc_run (p, out, err, "$SHOAL send --endpoint $E counter/x Add by=2"), 0);
    assert_int_equal (proc_run (p, out, err, "$SHOAL get --endpoint $E counter/x"), 0);
    proc_assert_has (out, "\"value\":2");
    proc_read (p, "node.log", log);
    proc_assert_has (log, "the node died in a turn of get on poison/g");
    proc_assert_has (log, "crash 2 of 3");
    proc_assert_has (log, "get on poison/g (id ");
    assert_int_equal (proc_run (p, out, err, "$SHOAL dead-letters --endpoint $E --json"), 0);
    proc_assert_has (out, "\"address\":\"poison/g\",\"kind\":\"query\",\"command\":\"get\"");
    proc_assert_has (out, "\"state\":\"dead\"");
    char id[33];
    proc_dead_letter_id (out, "poison/g", id);
    //  explain tells the rest, its state left out (it stopped at the get).
    assert_int_equal (proc_run (p, out, err, "$SHOAL explain --endpoint $E poison/g"), 0);
    proc_assert_has (out, "poison/g, version 1\n  state: not shown: a get of poison/g crashed");
    proc_assert_has (out, "#1 Boomed");
    char needle[128]; //  its gets, set aside as one dead letter
    snprintf (needle, sizeof needle, "    query get, message %s: dead, 3 crashes", id);
    proc_assert_has (out, needle);
    proc_assert_has (out, "its gets are answered poisoned");

    //  Fixed: still set aside until an operator says; then gets run.
    proc_node_signal (p, SIGTERM);
    proc_node_start (p, FIXED);
    assert_int_equal (proc_run (p, out, err, "$SHOAL get --endpoint $E poison/g"), 1);
    proc_assert_has (out, "\"code\":\"poisoned\"");
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL dead-letters --endpoint $E retry --reason test %s", id), 0);
    assert_int_equal (proc_run (p, out, err, "$SHOAL get --endpoint $E poison/g"), 0);
    proc_assert_has (out, "\"booms\":1");
    proc_wait_out (p, 10000, "\"state\":\"ran\"", "$SHOAL dead-letters --endpoint $E --all --json");
}

//  --------------------------------------------------------------------------
//  7. A view that never returns is seen by the watchdog as a turn past
//     --turn-timeout, naming the get and its address (it was invisible).

static void test_view_past_turn_timeout (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX], log[PROC_OUTPUT_MAX];
    proc_node_start (p, "env SHOAL_POISON_VIEW=spin " NODE_ARGS " --turn-timeout 100");
    assert_int_equal (proc_run (p, out, err, "$SHOAL send --endpoint $E poison/s Boom"), 0);
    assert_int_equal (proc_run (p, out, err, "$SHOAL get --endpoint $E --timeout 1000 poison/s"),
                      3);
    const char *said = "get on poison/s has run for";
    if (!proc_log_until (p, said, 20000, log))
        fail_msg ("no '%s' in the log within 20 s: %s", said, log);
    proc_assert_has (log, "past --turn-timeout");
    proc_node_signal (p, SIGKILL);
}

//  --------------------------------------------------------------------------
//  8. A module whose apply() no longer takes an event it once emitted: a
//     command to the actor and a get of it are answered with the actor,
//     the event and its seq (they said "its inbox record cannot be read:
//     malformed record", as if the store were damaged), and the log says
//     it. The events are untouched: the module fixed, the actor loads.

static void test_apply_refusal_named (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX], log[PROC_OUTPUT_MAX];
    s_boomed_then_stop (p, "poison/r");
    proc_node_start (p, "env SHOAL_POISON_REFUSE=1 " NODE_ARGS);
    const char *said = "poison/r cannot be loaded: the apply() of actor type 'poison' refused "
                       "its stored event 1 (Boomed)";
    assert_int_not_equal (proc_run (p, out, err, "$SHOAL send --endpoint $E poison/r Boom"), 0);
    proc_assert_has (out, said);
    proc_assert_has (out, "\"code\":\"unavailable\"");
    assert_null (strstr (out, "malformed"));
    assert_int_not_equal (proc_run (p, out, err, "$SHOAL get --endpoint $E poison/r"), 0);
    proc_assert_has (out, said);
    proc_node_signal (p, SIGTERM);
    proc_read (p, "node.log", log);
    proc_assert_has (log, said);
    proc_node_start (p, FIXED);
    assert_int_equal (proc_run (p, out, err, "$SHOAL get --endpoint $E poison/r"), 0);
    proc_assert_has (out, "\"booms\":1");
}

int main (void)
{
    if (!getenv ("SHOAL_BIN") || !getenv ("SHOAL_TEST_MODULE") || !getenv ("SHOAL_POISON_MODULE")) {
        fprintf (stderr, "test_poison: run through ctest\n");
        return 1;
    }
    signal (SIGPIPE, SIG_IGN);
    if (getenv ("SHOAL_TEST_FILTER"))
        cmocka_set_test_filter (getenv ("SHOAL_TEST_FILTER"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_failing_target_explained, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_failing_sender_explained, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_poison_command, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_poison_reply_past_a_stall, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_poison_reply_drop_needs_force, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_poison_reply_to_itself, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_poison_timer, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_turn_timeout, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_stale_turn_counted_once, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_ended_turn_not_counted, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_misused_snapshot_and_view, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_poison_get, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_view_past_turn_timeout, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_apply_refusal_named, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
