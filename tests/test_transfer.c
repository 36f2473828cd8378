/*  test_transfer.c - the transfer saga (sagas/transfer.c), driven directly
    through the runtime's turn machinery (msg_init, ctx_begin, ctx_run):
    commands, replies from the accounts and the runtime's stall notices
    (kind ENVELOPE_STALLED) are envelopes built here, and what the saga does is read from the ctx.
   No node, no network, no accounts.

    Usage first (the happy path), then Start's validation and idempotency,
    each outcome of each leg, late and duplicate replies, stall notices, the
    "expired" reply, and replay of the event list.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ctx.h"
#include "data.h"
#include "envelope.h"
#include "harness.h"
#include "transfer.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADDRESS "transfer/t1"
#define NOW 1700000000000LL

//  The turn fixture (harness.h), driving transfer_type at ADDRESS.
typedef harness_turn_t fixture_t;

//  --------------------------------------------------------------------------
//  Helpers

static int s_setup (void **state)
{
    *state = harness_turn_new (&transfer_type, ADDRESS, NOW);
    return 0;
}

//  Start{from, to, amount}; a NULL address is left out.
static int s_start (fixture_t *f, const char *from, const char *to, int64_t amount)
{
    if (from)
        shoal_rec_str (&f->payload, "from", from);
    if (to)
        shoal_rec_str (&f->payload, "to", to);
    shoal_rec_int (&f->payload, "amount", amount);
    return harness_turn_run (f, ENVELOPE_COMMAND, "Start");
}

//  The reply of an account to command: accepted when code is NULL.
static int s_reply (fixture_t *f, const char *command, const char *code)
{
    uint8_t *payload;
    size_t size;
    bool ok = code == NULL;
    static const uint8_t balance[] = {0x81, 0xa7, 'b', 'a', 'l', 'a', 'n', 'c', 'e', 0x05};
    assert_int_equal (envelope_reply_encode (ok, code, ok ? NULL : "refused by the account",
                                             ok ? balance : NULL, ok ? sizeof balance : 0, &payload,
                                             &size),
                      0);
    const char *from = strcmp (command, "Credit") == 0 ? "account/bob" : "account/alice";
    int rc = harness_turn_run_bytes (f, ENVELOPE_REPLY, from, command, payload, size);
    free (payload);
    return rc;
}

//  The runtime's notice that command (a leg) is unanswered: kind
//  STALLED, named by the command, data {to, attempts, since}.
static int s_stall (fixture_t *f, const char *command)
{
    const char *to = strcmp (command, "Credit") == 0 ? "account/bob" : "account/alice";
    shoal_rec_str (&f->payload, "to", to);
    shoal_rec_int (&f->payload, "attempts", 4);
    shoal_rec_int (&f->payload, "since", NOW - 31000);
    size_t size;
    const uint8_t *bytes = rec_finish (&f->payload, &size);
    assert_non_null (bytes);
    int rc = harness_turn_run_bytes (f, ENVELOPE_STALLED, to, command, bytes, size);
    rec_reset (&f->payload);
    return rc;
}

//  Checks of the turn that returned rc, named by the expression rc.
#define ACCEPT(f, rc, events, sends, timers)                                                       \
    harness_turn_accepted ((f), (rc), #rc, (events), (sends), (timers), __LINE__)
#define NOTHING(f, rc) harness_turn_nothing ((f), (rc), #rc, __LINE__)
#define REJECT(f, rc, code) harness_turn_rejected ((f), (rc), #rc, (code), __LINE__)

static const char *s_status (fixture_t *f)
{
    return harness_rec_str (harness_turn_view (f, f->state), "status");
}

static bool s_stalled (fixture_t *f)
{
    return harness_rec_bool (harness_turn_view (f, f->state), "stalled");
}

//  Checks a staged leg: the command to account with {transfer, amount}.
static void s_assert_leg (fixture_t *f, const char *account, const char *command, int64_t amount)
{
    assert_string_equal (f->ctx.sends[0].to, account);
    assert_string_equal (f->ctx.sends[0].name, command);
    assert_string_equal (harness_rec_str (&f->ctx.sends[0].rec, "transfer"), "t1");
    assert_int_equal (harness_rec_int (&f->ctx.sends[0].rec, "amount"), amount);
    assert_int_equal (harness_rec_count (&f->ctx.sends[0].rec), 2);
}

//  --------------------------------------------------------------------------
//  Usage

static void test_usage (void **state)
{
    fixture_t *f = *state;

    //  Start: Started, Debit to the source, reply the status.
    ACCEPT (f, s_start (f, "alice", "bob", 50), 1, 1, 0);
    assert_string_equal (f->ctx.events[0].name, "Started");
    assert_string_equal (harness_rec_str (&f->ctx.events[0].rec, "from"), "account/alice");
    assert_string_equal (harness_rec_str (&f->ctx.events[0].rec, "to"), "account/bob");
    assert_int_equal (harness_rec_int (&f->ctx.events[0].rec, "amount"), 50);
    s_assert_leg (f, "account/alice", "Debit", 50);
    assert_string_equal (harness_rec_str (&f->ctx.reply, "transfer"), "t1");
    assert_string_equal (harness_rec_str (&f->ctx.reply, "status"), "started");

    shoal_rec_t *view = harness_turn_view (f, f->state);
    assert_string_equal (harness_rec_str (view, "status"), "started");
    assert_string_equal (harness_rec_str (view, "from"), "account/alice");
    assert_string_equal (harness_rec_str (view, "to"), "account/bob");
    assert_int_equal (harness_rec_int (view, "amount"), 50);
    assert_false (harness_rec_bool (view, "stalled"));
    assert_false (harness_rec_bool (view, "terminal"));
    assert_false (harness_rec_has (view, "code"));

    //  The debit is accepted: Debited, Credit to the target.
    ACCEPT (f, s_reply (f, "Debit", NULL), 1, 1, 0);
    assert_string_equal (f->ctx.events[0].name, "Debited");
    s_assert_leg (f, "account/bob", "Credit", 50);
    assert_string_equal (s_status (f), "debited");

    //  The credit is accepted: Completed, nothing more to send.
    ACCEPT (f, s_reply (f, "Credit", NULL), 1, 0, 0);
    assert_string_equal (f->ctx.events[0].name, "Completed");
    view = harness_turn_view (f, f->state);
    assert_string_equal (harness_rec_str (view, "status"), "completed");
    assert_true (harness_rec_bool (view, "terminal"));
    assert_false (harness_rec_bool (view, "stalled"));
    assert_false (harness_rec_has (view, "code"));
    assert_int_equal (f->version, 3);
}

//  --------------------------------------------------------------------------
//  Start

static void test_start_same_account (void **state)
{
    fixture_t *f = *state;
    REJECT (f, s_start (f, "alice", "alice", 5), "invalid_field");
    REJECT (f, s_start (f, "alice", "account/alice", 5), "invalid_field");
    REJECT (f, s_start (f, "account/bob", "bob", 5), "invalid_field");
    assert_string_equal (s_status (f), "none");
}

static void test_start_bad_addresses (void **state)
{
    fixture_t *f = *state;
    char long_id[SHOAL_ID_MAX + 2];
    memset (long_id, 'x', SHOAL_ID_MAX + 1);
    long_id[SHOAL_ID_MAX + 1] = 0;
    char long_address[SHOAL_ADDRESS_MAX + 16];
    snprintf (long_address, sizeof long_address, "account/%s", long_id);
    char too_long[SHOAL_ADDRESS_MAX + 16];
    memset (too_long, 'y', sizeof too_long - 1);
    too_long[sizeof too_long - 1] = 0;

    const char *bad[] = {"",       "transfer/x", "bank/alice",    "account/",
                         "/alice", "Account/x",  "account/a\x01", "a\x7f",
                         long_id,  long_address, too_long};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        REJECT (f, s_start (f, bad[i], "bob", 5), "invalid_field");
        REJECT (f, s_start (f, "bob", bad[i], 5), "invalid_field");
    }
    REJECT (f, s_start (f, NULL, "bob", 5), "invalid_field");
    REJECT (f, s_start (f, "alice", NULL, 5), "invalid_field");
    shoal_rec_int (&f->payload, "from", 7);
    shoal_rec_str (&f->payload, "to", "bob");
    shoal_rec_int (&f->payload, "amount", 5);
    REJECT (f, harness_turn_run (f, ENVELOPE_COMMAND, "Start"), "invalid_field");
    assert_string_equal (s_status (f), "none");
}

static void test_start_bad_amounts (void **state)
{
    fixture_t *f = *state;
    REJECT (f, s_start (f, "alice", "bob", 0), "invalid_amount");
    REJECT (f, s_start (f, "alice", "bob", -1), "invalid_amount");
    REJECT (f, s_start (f, "alice", "bob", INT64_MIN), "invalid_amount");

    shoal_rec_str (&f->payload, "from", "alice");
    shoal_rec_str (&f->payload, "to", "bob");
    REJECT (f, harness_turn_run (f, ENVELOPE_COMMAND, "Start"), "invalid_amount");
    shoal_rec_str (&f->payload, "from", "alice");
    shoal_rec_str (&f->payload, "to", "bob");
    shoal_rec_str (&f->payload, "amount", "5");
    REJECT (f, harness_turn_run (f, ENVELOPE_COMMAND, "Start"), "invalid_amount");
    shoal_rec_str (&f->payload, "from", "alice");
    shoal_rec_str (&f->payload, "to", "bob");
    shoal_rec_bool (&f->payload, "amount", true);
    REJECT (f, harness_turn_run (f, ENVELOPE_COMMAND, "Start"), "invalid_amount");
    static const uint8_t u64_max[] = {0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    shoal_rec_str (&f->payload, "from", "alice");
    shoal_rec_str (&f->payload, "to", "bob");
    rec_raw (&f->payload, "amount", u64_max, sizeof u64_max);
    REJECT (f, harness_turn_run (f, ENVELOPE_COMMAND, "Start"), "invalid_amount");
    assert_string_equal (s_status (f), "none");
}

static void test_start_addresses_accepted (void **state)
{
    fixture_t *f = *state;
    //  A full address is kept; the shorthand is completed; an id of
    //  SHOAL_ID_MAX bytes fits either way; INT64_MAX is an amount.
    char id[SHOAL_ID_MAX + 1];
    memset (id, 'z', SHOAL_ID_MAX);
    id[SHOAL_ID_MAX] = 0;
    char address[SHOAL_ADDRESS_MAX + 1];
    snprintf (address, sizeof address, "account/%s", id);
    ACCEPT (f, s_start (f, "account/alice", id, INT64_MAX), 1, 1, 0);
    assert_string_equal (harness_rec_str (&f->ctx.events[0].rec, "from"), "account/alice");
    assert_string_equal (harness_rec_str (&f->ctx.events[0].rec, "to"), address);
    assert_string_equal (f->ctx.sends[0].to, "account/alice");
    assert_int_equal (harness_rec_int (&f->ctx.sends[0].rec, "amount"), INT64_MAX);

    ACCEPT (f, s_reply (f, "Debit", NULL), 1, 1, 0);
    assert_string_equal (f->ctx.sends[0].to, address);
    shoal_rec_t *view = harness_turn_view (f, f->state);
    assert_string_equal (harness_rec_str (view, "to"), address);
    assert_int_equal (harness_rec_int (view, "amount"), INT64_MAX);
}

static void test_second_start (void **state)
{
    fixture_t *f = *state;
    ACCEPT (f, s_start (f, "alice", "bob", 50), 1, 1, 0);

    //  The same Start, a different one, even an invalid one: the status.
    ACCEPT (f, s_start (f, "alice", "bob", 50), 0, 0, 0);
    assert_memory_equal (f->before, f->state, transfer_type.state_size);
    assert_string_equal (harness_rec_str (&f->ctx.reply, "status"), "started");
    assert_string_equal (harness_rec_str (&f->ctx.reply, "transfer"), "t1");
    ACCEPT (f, s_start (f, "carol", "dave", 99), 0, 0, 0);
    assert_string_equal (harness_rec_str (&f->ctx.reply, "status"), "started");
    ACCEPT (f, s_start (f, "alice", "alice", 0), 0, 0, 0);
    assert_string_equal (harness_rec_str (&f->ctx.reply, "status"), "started");

    ACCEPT (f, s_reply (f, "Debit", NULL), 1, 1, 0);
    ACCEPT (f, s_start (f, "alice", "bob", 50), 0, 0, 0);
    assert_string_equal (harness_rec_str (&f->ctx.reply, "status"), "debited");
    ACCEPT (f, s_reply (f, "Credit", NULL), 1, 0, 0);
    ACCEPT (f, s_start (f, "alice", "bob", 50), 0, 0, 0);
    assert_string_equal (harness_rec_str (&f->ctx.reply, "status"), "completed");

    shoal_rec_t *view = harness_turn_view (f, f->state);
    assert_string_equal (harness_rec_str (view, "from"), "account/alice");
    assert_int_equal (harness_rec_int (view, "amount"), 50);
}

static void test_status_and_unknown_command (void **state)
{
    fixture_t *f = *state;
    ACCEPT (f, harness_turn_run (f, ENVELOPE_COMMAND, "Status"), 0, 0, 0);
    assert_string_equal (harness_rec_str (&f->ctx.reply, "status"), "none");
    ACCEPT (f, s_start (f, "alice", "bob", 50), 1, 1, 0);
    ACCEPT (f, harness_turn_run (f, ENVELOPE_COMMAND, "Status"), 0, 0, 0);
    assert_string_equal (harness_rec_str (&f->ctx.reply, "status"), "started");
    assert_string_equal (harness_rec_str (&f->ctx.reply, "transfer"), "t1");
    REJECT (f, harness_turn_run (f, ENVELOPE_COMMAND, "Cancel"), "unknown_command");
    assert_non_null (strstr (f->ctx.reason, "Cancel"));
}

//  --------------------------------------------------------------------------
//  Legs

static void test_debit_rejected (void **state)
{
    fixture_t *f = *state;
    ACCEPT (f, s_start (f, "alice", "bob", 50), 1, 1, 0);
    ACCEPT (f, s_reply (f, "Debit", "insufficient_funds"), 1, 0, 0);
    assert_string_equal (f->ctx.events[0].name, "Failed");
    assert_string_equal (harness_rec_str (&f->ctx.events[0].rec, "code"), "insufficient_funds");
    assert_string_equal (harness_rec_str (&f->ctx.events[0].rec, "reason"),
                         "refused by the account");

    shoal_rec_t *view = harness_turn_view (f, f->state);
    assert_string_equal (harness_rec_str (view, "status"), "failed");
    assert_string_equal (harness_rec_str (view, "code"), "insufficient_funds");
    assert_true (harness_rec_bool (view, "terminal"));

    //  Nothing moves a failed transfer.
    NOTHING (f, s_reply (f, "Debit", NULL));
    NOTHING (f, s_reply (f, "Credit", NULL));
    NOTHING (f, s_stall (f, "Debit"));
    assert_string_equal (s_status (f), "failed");
}

static void test_credit_rejected_then_refunded (void **state)
{
    fixture_t *f = *state;
    ACCEPT (f, s_start (f, "alice", "bob", 50), 1, 1, 0);
    ACCEPT (f, s_reply (f, "Debit", NULL), 1, 1, 0);

    //  The credit is rejected: Compensating, Refund to the source.
    ACCEPT (f, s_reply (f, "Credit", "closed"), 1, 1, 0);
    assert_string_equal (f->ctx.events[0].name, "Compensating");
    assert_string_equal (harness_rec_str (&f->ctx.events[0].rec, "code"), "closed");
    assert_string_equal (harness_rec_str (&f->ctx.events[0].rec, "reason"),
                         "refused by the account");
    s_assert_leg (f, "account/alice", "Refund", 50);
    shoal_rec_t *view = harness_turn_view (f, f->state);
    assert_string_equal (harness_rec_str (view, "status"), "compensating");
    assert_string_equal (harness_rec_str (view, "code"), "closed");
    assert_false (harness_rec_bool (view, "terminal"));

    //  The refund is accepted: Compensated.
    ACCEPT (f, s_reply (f, "Refund", NULL), 1, 0, 0);
    assert_string_equal (f->ctx.events[0].name, "Compensated");
    view = harness_turn_view (f, f->state);
    assert_string_equal (harness_rec_str (view, "status"), "compensated");
    assert_string_equal (harness_rec_str (view, "code"), "closed");
    assert_true (harness_rec_bool (view, "terminal"));
    NOTHING (f, s_reply (f, "Refund", NULL));
}

//  A refused refund stalls the transfer and is tried again on a timer, not
//  at once (a source that refuses would otherwise be asked in a loop).
static void test_refund_rejected_is_sent_again (void **state)
{
    fixture_t *f = *state;
    ACCEPT (f, s_start (f, "alice", "bob", 50), 1, 1, 0);
    ACCEPT (f, s_reply (f, "Debit", NULL), 1, 1, 0);
    ACCEPT (f, s_reply (f, "Credit", "closed"), 1, 1, 0);
    ACCEPT (f, s_reply (f, "Refund", "overflow"), 1, 0, 1);
    assert_string_equal (f->ctx.events[0].name, "Stalled");
    assert_string_equal (f->ctx.timers[0].name, "refund");
    assert_true (s_stalled (f));
    assert_string_equal (s_status (f), "compensating");
    //  Refused again while stalled: no second Stalled, another timer.
    ACCEPT (f, s_reply (f, "Refund", "overflow"), 0, 0, 1);
    ACCEPT (f, harness_turn_run (f, ENVELOPE_TIMER, "refund"), 0, 1, 0);
    s_assert_leg (f, "account/alice", "Refund", 50);
    ACCEPT (f, s_reply (f, "Refund", NULL), 1, 0, 0);
    assert_string_equal (s_status (f), "compensated");
    assert_false (s_stalled (f));
    //  A late refund timer after the end sends nothing.
    NOTHING (f, harness_turn_run (f, ENVELOPE_TIMER, "refund"));
}

static void test_late_and_duplicate_replies (void **state)
{
    fixture_t *f = *state;
    ACCEPT (f, s_start (f, "alice", "bob", 50), 1, 1, 0);
    //  Replies to legs not sent yet.
    NOTHING (f, s_reply (f, "Credit", NULL));
    NOTHING (f, s_reply (f, "Credit", "closed"));
    NOTHING (f, s_reply (f, "Refund", NULL));
    NOTHING (f, s_reply (f, "Withdraw", NULL));

    ACCEPT (f, s_reply (f, "Debit", NULL), 1, 1, 0);
    //  A second answer to the debit, either way.
    NOTHING (f, s_reply (f, "Debit", NULL));
    NOTHING (f, s_reply (f, "Debit", "insufficient_funds"));
    NOTHING (f, s_reply (f, "Refund", NULL));
    assert_string_equal (s_status (f), "debited");

    ACCEPT (f, s_reply (f, "Credit", NULL), 1, 0, 0);
    NOTHING (f, s_reply (f, "Credit", NULL));
    NOTHING (f, s_reply (f, "Credit", "closed"));
    NOTHING (f, s_reply (f, "Debit", "insufficient_funds"));
    NOTHING (f, s_reply (f, "Refund", "not_open"));
    assert_string_equal (s_status (f), "completed");
}

//  --------------------------------------------------------------------------
//  Stalls

static void test_stall_notice (void **state)
{
    fixture_t *f = *state;
    ACCEPT (f, s_start (f, "alice", "bob", 50), 1, 1, 0);

    //  Notices about commands that are not the current leg's.
    NOTHING (f, s_stall (f, "Credit"));
    NOTHING (f, s_stall (f, "Refund"));
    NOTHING (f, s_stall (f, "debit"));
    NOTHING (f, s_stall (f, "Withdraw"));
    assert_false (s_stalled (f));

    //  The debit leg's notice: Stalled{leg}, once.
    ACCEPT (f, s_stall (f, "Debit"), 1, 0, 0);
    assert_string_equal (f->ctx.events[0].name, "Stalled");
    assert_string_equal (harness_rec_str (&f->ctx.events[0].rec, "leg"), "debit");
    assert_true (s_stalled (f));
    assert_string_equal (s_status (f), "started");
    NOTHING (f, s_stall (f, "Debit"));

    //  The next event clears it; a notice about the old leg is ignored.
    ACCEPT (f, s_reply (f, "Debit", NULL), 1, 1, 0);
    assert_false (s_stalled (f));
    NOTHING (f, s_stall (f, "Debit"));

    ACCEPT (f, s_stall (f, "Credit"), 1, 0, 0);
    assert_string_equal (harness_rec_str (&f->ctx.events[0].rec, "leg"), "credit");
    assert_true (s_stalled (f));
    assert_string_equal (s_status (f), "debited");

    ACCEPT (f, s_reply (f, "Credit", "closed"), 1, 1, 0);
    assert_false (s_stalled (f));
    NOTHING (f, s_stall (f, "Credit"));
    ACCEPT (f, s_stall (f, "Refund"), 1, 0, 0);
    assert_string_equal (harness_rec_str (&f->ctx.events[0].rec, "leg"), "refund");
    assert_true (s_stalled (f));

    ACCEPT (f, s_reply (f, "Refund", NULL), 1, 0, 0);
    assert_false (s_stalled (f));
    NOTHING (f, s_stall (f, "Refund"));
    shoal_rec_t *view = harness_turn_view (f, f->state);
    assert_string_equal (harness_rec_str (view, "status"), "compensated");
    assert_false (harness_rec_bool (view, "stalled"));
}

//  A transfer's only timer is "refund", after a refused refund: any other
//  timer message changes nothing.
static void test_timer_ignored (void **state)
{
    fixture_t *f = *state;
    ACCEPT (f, s_start (f, "alice", "bob", 50), 1, 1, 0);
    shoal_rec_str (&f->payload, "leg", "debit");
    NOTHING (f, harness_turn_run (f, ENVELOPE_TIMER, "stall"));
    NOTHING (f, harness_turn_run (f, ENVELOPE_TIMER, "Debit"));
    assert_false (s_stalled (f));
}

//  A leg refused as "expired" (it outlived the receiver's inbox
//  retention): the transfer stalls for an operator.
static void test_expired_reply_stalls (void **state)
{
    fixture_t *f = *state;
    ACCEPT (f, s_start (f, "alice", "bob", 50), 1, 1, 0);
    ACCEPT (f, s_reply (f, "Debit", "expired"), 1, 0, 0);
    assert_string_equal (f->ctx.events[0].name, "Stalled");
    assert_string_equal (harness_rec_str (&f->ctx.events[0].rec, "code"), "expired");
    assert_true (s_stalled (f));
    assert_string_equal (s_status (f), "started");
}

//  An "expired" answer to a leg already answered (a re-sent copy of the
//  debit that was accepted) says nothing new: the debit is known to have
//  run. Like any late reply it must change nothing.
static void test_expired_reply_for_answered_leg (void **state)
{
    fixture_t *f = *state;
    ACCEPT (f, s_start (f, "alice", "bob", 50), 1, 1, 0);
    ACCEPT (f, s_reply (f, "Debit", NULL), 1, 1, 0);
    NOTHING (f, s_reply (f, "Debit", "expired"));
    assert_false (s_stalled (f));
}

//  A completed transfer is final: a late "expired" reply must not mark
//  it stalled (nothing would ever clear the flag again).
static void test_expired_reply_after_completion (void **state)
{
    fixture_t *f = *state;
    ACCEPT (f, s_start (f, "alice", "bob", 50), 1, 1, 0);
    ACCEPT (f, s_reply (f, "Debit", NULL), 1, 1, 0);
    ACCEPT (f, s_reply (f, "Credit", NULL), 1, 0, 0);
    NOTHING (f, s_reply (f, "Credit", "expired"));
    shoal_rec_t *view = harness_turn_view (f, f->state);
    assert_true (harness_rec_bool (view, "terminal"));
    assert_false (harness_rec_bool (view, "stalled"));
}

//  --------------------------------------------------------------------------
//  Replay

static void test_replay_compensated (void **state)
{
    fixture_t *f = *state;
    ACCEPT (f, s_start (f, "alice", "bob", 50), 1, 1, 0);
    ACCEPT (f, s_stall (f, "Debit"), 1, 0, 0);
    ACCEPT (f, s_reply (f, "Debit", NULL), 1, 1, 0);
    ACCEPT (f, s_reply (f, "Credit", "closed"), 1, 1, 0);
    ACCEPT (f, s_stall (f, "Refund"), 1, 0, 0);
    harness_turn_assert_replay (f); //  mid-way, stalled
    ACCEPT (f, s_reply (f, "Refund", NULL), 1, 0, 0);
    static const char *names[] = {"Started",      "Stalled", "Debited",
                                  "Compensating", "Stalled", "Compensated"};
    assert_int_equal (f->log_count, 6);
    for (size_t i = 0; i < 6; i++)
        assert_string_equal (f->log[i].name, names[i]);
    harness_turn_assert_replay (f);
}

static void test_replay_failed (void **state)
{
    fixture_t *f = *state;
    ACCEPT (f, s_start (f, "account/alice", "bob", 7), 1, 1, 0);
    ACCEPT (f, s_reply (f, "Debit", "not_open"), 1, 0, 0);
    harness_turn_assert_replay (f);
    assert_string_equal (harness_rec_str (harness_turn_view (f, f->state), "code"), "not_open");
}

static void test_apply_errors (void **state)
{
    fixture_t *f = *state;
    shoal_rec_t rec;
    rec_init (&rec);
    size_t size;
    const uint8_t *bytes = rec_finish (&rec, &size);
    assert_int_equal (ctx_apply (&transfer_type, f->state, "Exploded", bytes, size), SHOAL_EFORMAT);
    assert_int_equal (ctx_apply (&transfer_type, f->state, "Started", bytes, size), SHOAL_EFORMAT);
    shoal_rec_str (&rec, "from", "account/alice");
    shoal_rec_str (&rec, "to", "account/bob");
    shoal_rec_str (&rec, "amount", "50");
    bytes = rec_finish (&rec, &size);
    assert_int_equal (ctx_apply (&transfer_type, f->state, "Started", bytes, size), SHOAL_EFORMAT);
    static const uint8_t array[] = {0x91, 0x01};
    static const uint8_t truncated[] = {0x82, 0xa4, 'f', 'r', 'o'};
    assert_int_equal (ctx_apply (&transfer_type, f->state, "Debited", array, sizeof array),
                      SHOAL_EFORMAT);
    assert_int_equal (
        ctx_apply (&transfer_type, f->state, "Completed", truncated, sizeof truncated),
        SHOAL_EFORMAT);

    //  Failed without a code still applies, with code "unknown".
    rec_reset (&rec);
    bytes = rec_finish (&rec, &size);
    assert_int_equal (ctx_apply (&transfer_type, f->state, "Failed", bytes, size), 0);
    shoal_rec_t *view = harness_turn_view (f, f->state);
    assert_string_equal (harness_rec_str (view, "status"), "failed");
    assert_string_equal (harness_rec_str (view, "code"), "unknown");
    rec_close (&rec);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_usage, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_start_same_account, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_start_bad_addresses, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_start_bad_amounts, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_start_addresses_accepted, s_setup,
                                         harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_second_start, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_status_and_unknown_command, s_setup,
                                         harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_debit_rejected, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_credit_rejected_then_refunded, s_setup,
                                         harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_refund_rejected_is_sent_again, s_setup,
                                         harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_late_and_duplicate_replies, s_setup,
                                         harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_stall_notice, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_timer_ignored, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_expired_reply_stalls, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_expired_reply_for_answered_leg, s_setup,
                                         harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_expired_reply_after_completion, s_setup,
                                         harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_replay_compensated, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_replay_failed, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_apply_errors, s_setup, harness_turn_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
