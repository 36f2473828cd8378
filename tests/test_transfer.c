/*  test_transfer.c - the transfer saga (sagas/transfer.c), driven through
    the test kit (shoal_testkit.h) as a module author would drive a saga:
    commands, the accounts' replies, the runtime's stall notices and the
    refund timer are delivered by the kit, and what the saga does is read
    from it. No node, no network, no accounts. After every accepted turn the
    kit also rebuilds the state from all events and compares the views.

    Usage first (the happy path), then Start's validation and idempotency,
    each outcome of each leg, late and duplicate replies, stall notices, the
    "expired" reply, the refund timer under the kit's clock, and replay of
    the event list.

    The kit makes stall notices only for commands the saga sent (as the
    runtime does): notices about commands never sent, which the harness
    version of this file also tried, cannot be delivered.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ctx.h"
#include "data.h"
#include "shoal_testkit.h"
#include "transfer.h"
#include "utf8.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADDRESS "transfer/t1"
#define NOW SHOAL_TESTKIT_EPOCH

typedef shoal_testkit_t fixture_t;

//  --------------------------------------------------------------------------
//  Helpers

static uint8_t s_before[4096];         //  the state before the last turn
static char s_sent_ids[3][2 * 16 + 1]; //  the last Debit, Credit and Refund sent

static int s_setup (void **state)
{
    assert_true (transfer_type.state_size <= sizeof s_before);
    memset (s_sent_ids, 0, sizeof s_sent_ids);
    *state = shoal_testkit_new (&transfer_type, ADDRESS);
    assert_non_null (*state);
    return 0;
}

static int s_teardown (void **state)
{
    shoal_testkit_destroy ((shoal_testkit_t **) state);
    return 0;
}

static int s_leg_index (const char *command)
{
    return strcmp (command, "Debit") == 0 ? 0 : strcmp (command, "Credit") == 0 ? 1 : 2;
}

//  Runs the prepared message, keeping the state before it in s_before and
//  the ids of the legs it sent.
static int s_run (fixture_t *f)
{
    memcpy (s_before, shoal_testkit_state (f), transfer_type.state_size);
    int rc = shoal_testkit_run (f);
    for (size_t i = 0; i < shoal_testkit_sent (f); i++)
        snprintf (s_sent_ids[s_leg_index (shoal_testkit_sent_name (f, i))], sizeof s_sent_ids[0],
                  "%s", shoal_testkit_sent_id (f, i));
    return rc;
}

//  Fields of a data, failing the test if absent or of another type. A
//  string is returned in one of four rotating buffers.
static const char *s_str (const shoal_data_t *data, const char *key)
{
    static char buffers[4][512];
    static int next;
    char *buf = buffers[next++ % 4];
    int rc = shoal_data_str (data, key, buf, 512);
    if (rc != 0)
        fail_msg ("str field %s: %s", key, shoal_strerror (rc));
    return buf;
}

static int64_t s_int (const shoal_data_t *data, const char *key)
{
    int64_t value = 0;
    int rc = shoal_data_int (data, key, &value);
    if (rc != 0)
        fail_msg ("int field %s: %s", key, shoal_strerror (rc));
    return value;
}

static bool s_bool (const shoal_data_t *data, const char *key)
{
    bool value = false;
    int rc = shoal_data_bool (data, key, &value);
    if (rc != 0)
        fail_msg ("bool field %s: %s", key, shoal_strerror (rc));
    return value;
}

//  Start{from, to, amount}; a NULL address is left out.
static int s_start (fixture_t *f, const char *from, const char *to, int64_t amount)
{
    shoal_rec_t *rec = shoal_testkit_command (f, "Start");
    if (from)
        shoal_rec_str (rec, "from", from);
    if (to)
        shoal_rec_str (rec, "to", to);
    shoal_rec_int (rec, "amount", amount);
    return s_run (f);
}

//  A command with no fields.
static int s_command (fixture_t *f, const char *name)
{
    shoal_testkit_command (f, name);
    return s_run (f);
}

//  The reply of an account to command: accepted ({balance: 5}) when code is
//  NULL, else rejected with code, "refused by the account".
static int s_reply (fixture_t *f, const char *command, const char *code)
{
    shoal_rec_t *rec = shoal_testkit_reply (f, command, code == NULL, code);
    if (code)
        shoal_testkit_reply_reason (f, "refused by the account");
    else
        shoal_rec_int (rec, "balance", 5);
    return s_run (f);
}

//  The runtime's notice that the last command (a leg) sent is unanswered.
static int s_stall (fixture_t *f, const char *command)
{
    assert_int_equal (shoal_testkit_stall (f, s_sent_ids[s_leg_index (command)]), 0);
    return s_run (f);
}

//  A timer named name: the pending one, or one never set.
static int s_timer (fixture_t *f, const char *name)
{
    shoal_testkit_timer (f, name);
    return s_run (f);
}

static void s_accepted (fixture_t *f, int rc, const char *what, size_t events, size_t sends,
                        size_t timers, int line)
{
    if (rc != 0 || !shoal_testkit_accepted (f))
        fail_msg ("line %d: %s: expected acceptance, got %d (%s: %s)", line, what, rc,
                  shoal_testkit_code (f), shoal_testkit_why (f));
    if (shoal_testkit_events (f) != events || shoal_testkit_sent (f) != sends ||
        shoal_testkit_timers (f) != timers)
        fail_msg ("line %d: %s: %zu events, %zu sends, %zu timers; expected %zu, %zu, %zu", line,
                  what, shoal_testkit_events (f), shoal_testkit_sent (f), shoal_testkit_timers (f),
                  events, sends, timers);
}

static void s_nothing (fixture_t *f, int rc, const char *what, int line)
{
    s_accepted (f, rc, what, 0, 0, 0, line);
    if (shoal_data_count (shoal_testkit_replied (f)) != 0)
        fail_msg ("line %d: %s: wrote a reply", line, what);
    if (memcmp (s_before, shoal_testkit_state (f), transfer_type.state_size) != 0)
        fail_msg ("line %d: %s: changed the state", line, what);
}

static void s_rejected (fixture_t *f, int rc, const char *what, const char *code, int line)
{
    if (rc != SHOAL_EREJECTED || shoal_testkit_accepted (f))
        fail_msg ("line %d: %s: expected rejection %s, got %d", line, what, code, rc);
    if (strcmp (shoal_testkit_code (f), code) != 0)
        fail_msg ("line %d: %s: expected code %s, got %s (%s)", line, what, code,
                  shoal_testkit_code (f), shoal_testkit_why (f));
    if (shoal_testkit_why (f)[0] == 0)
        fail_msg ("line %d: %s: a rejection says why", line, what);
    if (shoal_testkit_events (f) || shoal_testkit_sent (f) || shoal_testkit_timers (f))
        fail_msg ("line %d: %s: a rejection kept something", line, what);
    if (shoal_data_count (shoal_testkit_replied (f)) != 0)
        fail_msg ("line %d: %s: a rejection kept reply fields", line, what);
    if (memcmp (s_before, shoal_testkit_state (f), transfer_type.state_size) != 0)
        fail_msg ("line %d: %s: a rejection changed the state", line, what);
}

//  Checks of the turn that returned rc, named by the expression rc.
#define ACCEPT(f, rc, events, sends, timers)                                                       \
    s_accepted ((f), (rc), #rc, (events), (sends), (timers), __LINE__)
#define NOTHING(f, rc) s_nothing ((f), (rc), #rc, __LINE__)
#define REJECT(f, rc, code) s_rejected ((f), (rc), #rc, (code), __LINE__)

static const char *s_status (fixture_t *f)
{
    return s_str (shoal_testkit_view (f), "status");
}

static bool s_stalled (fixture_t *f)
{
    return s_bool (shoal_testkit_view (f), "stalled");
}

//  The name and the fields of event 0 of the last turn.
#define EVENT0(f) shoal_testkit_event ((f), 0)
#define EVENT0_FIELDS(f) shoal_testkit_event_fields ((f), 0)

//  Checks a staged leg: the command to account with {transfer, amount}.
static void s_assert_leg (fixture_t *f, const char *account, const char *command, int64_t amount)
{
    assert_string_equal (shoal_testkit_sent_to (f, 0), account);
    assert_string_equal (shoal_testkit_sent_name (f, 0), command);
    const shoal_data_t *fields = shoal_testkit_sent_fields (f, 0);
    assert_string_equal (s_str (fields, "transfer"), "t1");
    assert_int_equal (s_int (fields, "amount"), amount);
    assert_int_equal (shoal_data_count (fields), 2);
}

//  --------------------------------------------------------------------------
//  Usage

static void test_usage (void **state)
{
    fixture_t *f = *state;

    //  Start: Started, Debit to the source, reply the status.
    ACCEPT (f, s_start (f, "alice", "bob", 50), 1, 1, 0);
    assert_string_equal (EVENT0 (f), "Started");
    assert_string_equal (s_str (EVENT0_FIELDS (f), "from"), "account/alice");
    assert_string_equal (s_str (EVENT0_FIELDS (f), "to"), "account/bob");
    assert_int_equal (s_int (EVENT0_FIELDS (f), "amount"), 50);
    s_assert_leg (f, "account/alice", "Debit", 50);
    assert_string_equal (s_str (shoal_testkit_replied (f), "transfer"), "t1");
    assert_string_equal (s_str (shoal_testkit_replied (f), "status"), "started");
    assert_false (shoal_testkit_passivated (f)); //  it has work to do

    const shoal_data_t *view = shoal_testkit_view (f);
    assert_string_equal (s_str (view, "status"), "started");
    assert_string_equal (s_str (view, "from"), "account/alice");
    assert_string_equal (s_str (view, "to"), "account/bob");
    assert_int_equal (s_int (view, "amount"), 50);
    assert_false (s_bool (view, "stalled"));
    assert_false (s_bool (view, "terminal"));
    assert_false (shoal_data_has (view, "code"));

    //  The debit is accepted: Debited, Credit to the target.
    ACCEPT (f, s_reply (f, "Debit", NULL), 1, 1, 0);
    assert_string_equal (EVENT0 (f), "Debited");
    s_assert_leg (f, "account/bob", "Credit", 50);
    assert_string_equal (s_status (f), "debited");
    assert_false (shoal_testkit_passivated (f));

    //  The credit is accepted: Completed, nothing more to send, and the
    //  saga asks to leave memory once that is committed.
    ACCEPT (f, s_reply (f, "Credit", NULL), 1, 0, 0);
    assert_string_equal (EVENT0 (f), "Completed");
    assert_true (shoal_testkit_passivated (f));
    view = shoal_testkit_view (f);
    assert_string_equal (s_str (view, "status"), "completed");
    assert_true (s_bool (view, "terminal"));
    assert_false (s_bool (view, "stalled"));
    assert_false (shoal_data_has (view, "code"));
    assert_int_equal (shoal_testkit_version (f), 3);
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
    shoal_rec_t *rec;
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
    rec = shoal_testkit_command (f, "Start");
    shoal_rec_int (rec, "from", 7);
    shoal_rec_str (rec, "to", "bob");
    shoal_rec_int (rec, "amount", 5);
    REJECT (f, s_run (f), "invalid_field");
    assert_string_equal (s_status (f), "none");
}

static void test_start_bad_amounts (void **state)
{
    fixture_t *f = *state;
    shoal_rec_t *rec;
    REJECT (f, s_start (f, "alice", "bob", 0), "invalid_amount");
    REJECT (f, s_start (f, "alice", "bob", -1), "invalid_amount");
    REJECT (f, s_start (f, "alice", "bob", INT64_MIN), "invalid_amount");

    rec = shoal_testkit_command (f, "Start");
    shoal_rec_str (rec, "from", "alice");
    shoal_rec_str (rec, "to", "bob");
    REJECT (f, s_run (f), "invalid_amount");
    rec = shoal_testkit_command (f, "Start");
    shoal_rec_str (rec, "from", "alice");
    shoal_rec_str (rec, "to", "bob");
    shoal_rec_str (rec, "amount", "5");
    REJECT (f, s_run (f), "invalid_amount");
    rec = shoal_testkit_command (f, "Start");
    shoal_rec_str (rec, "from", "alice");
    shoal_rec_str (rec, "to", "bob");
    shoal_rec_bool (rec, "amount", true);
    REJECT (f, s_run (f), "invalid_amount");
    static const uint8_t u64_max[] = {0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    rec = shoal_testkit_command (f, "Start");
    shoal_rec_str (rec, "from", "alice");
    shoal_rec_str (rec, "to", "bob");
    rec_raw (rec, "amount", u64_max, sizeof u64_max);
    REJECT (f, s_run (f), "invalid_amount");
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
    assert_string_equal (s_str (EVENT0_FIELDS (f), "from"), "account/alice");
    assert_string_equal (s_str (EVENT0_FIELDS (f), "to"), address);
    assert_string_equal (shoal_testkit_sent_to (f, 0), "account/alice");
    assert_int_equal (s_int (shoal_testkit_sent_fields (f, 0), "amount"), INT64_MAX);

    ACCEPT (f, s_reply (f, "Debit", NULL), 1, 1, 0);
    assert_string_equal (shoal_testkit_sent_to (f, 0), address);
    const shoal_data_t *view = shoal_testkit_view (f);
    assert_string_equal (s_str (view, "to"), address);
    assert_int_equal (s_int (view, "amount"), INT64_MAX);
}

static void test_second_start (void **state)
{
    fixture_t *f = *state;
    ACCEPT (f, s_start (f, "alice", "bob", 50), 1, 1, 0);

    //  The same Start (account/alice is alice): the status.
    ACCEPT (f, s_start (f, "alice", "account/bob", 50), 0, 0, 0);
    assert_memory_equal (s_before, shoal_testkit_state (f), transfer_type.state_size);
    assert_string_equal (s_str (shoal_testkit_replied (f), "status"), "started");
    assert_string_equal (s_str (shoal_testkit_replied (f), "transfer"), "t1");
    //  Another one under the same id, even an invalid one: id_reused,
    //  naming what differs and what the first had, changing nothing.
    REJECT (f, s_start (f, "alice", "bob", 99), "id_reused");
    assert_string_equal (shoal_testkit_why (f),
                         "transfer t1 was started with other fields (amount 50, not 99); it is "
                         "started and unchanged: a new transfer needs a new id");
    REJECT (f, s_start (f, "carol", "bob", 50), "id_reused");
    assert_non_null (strstr (shoal_testkit_why (f), "(from account/alice, not account/carol)"));
    REJECT (f, s_start (f, "bob", "alice", 50), "id_reused");
    assert_non_null (strstr (shoal_testkit_why (f),
                             "(from account/alice, not account/bob; to account/bob, not "
                             "account/alice)"));
    REJECT (f, s_start (f, "alice", "alice", 0), "id_reused");
    assert_non_null (
        strstr (shoal_testkit_why (f), "to account/bob, not account/alice; amount 50, not 0"));
    REJECT (f, s_start (f, NULL, "bob/", 50), "id_reused");
    assert_non_null (strstr (shoal_testkit_why (f), "from account/alice, not none; to "
                                                    "account/bob, not 'bob/'"));

    ACCEPT (f, s_reply (f, "Debit", NULL), 1, 1, 0);
    ACCEPT (f, s_start (f, "alice", "bob", 50), 0, 0, 0);
    assert_string_equal (s_str (shoal_testkit_replied (f), "status"), "debited");
    ACCEPT (f, s_reply (f, "Credit", NULL), 1, 0, 0);
    ACCEPT (f, s_start (f, "alice", "bob", 50), 0, 0, 0);
    assert_string_equal (s_str (shoal_testkit_replied (f), "status"), "completed");
    REJECT (f, s_start (f, "alice", "bob", 2), "id_reused");
    assert_non_null (strstr (shoal_testkit_why (f), "it is completed and unchanged"));

    const shoal_data_t *view = shoal_testkit_view (f);
    assert_string_equal (s_str (view, "from"), "account/alice");
    assert_int_equal (s_int (view, "amount"), 50);
}

//  A reason that quotes long ids is cut at 255 bytes between characters:
//  two accounts of 100 'é' (200 bytes) put the cut after the first byte of
//  one, and the reply's reason ended in 0xc3, which a client reading
//  UTF-8 (msgpack raw=False, shoal_client.py) could not decode at all.
static void test_second_start_long_ids (void **state)
{
    fixture_t *f = *state;
    char first[9 + 200] = "account/", other[9 + 200] = "account/";
    for (size_t i = 0; i < 100; i++) {
        memcpy (first + 8 + 2 * i, "\xc3\xa9", 2); //  é
        memcpy (other + 8 + 2 * i, "\xc3\xa8", 2); //  è
    }
    first[8 + 200] = other[8 + 200] = 0;
    ACCEPT (f, s_start (f, first, "bob", 50), 1, 1, 0);
    REJECT (f, s_start (f, other, "bob", 50), "id_reused");
    const char *why = shoal_testkit_why (f);
    assert_int_equal (utf8_valid_prefix (why, strlen (why)), strlen (why));
    assert_int_equal (strlen (why), 254); //  not 255: the half 'é' is dropped
    assert_non_null (strstr (why, "(from account/\xc3\xa9\xc3\xa9"));
}

static void test_status_and_unknown_command (void **state)
{
    fixture_t *f = *state;
    ACCEPT (f, s_command (f, "Status"), 0, 0, 0);
    assert_string_equal (s_str (shoal_testkit_replied (f), "status"), "none");
    ACCEPT (f, s_start (f, "alice", "bob", 50), 1, 1, 0);
    ACCEPT (f, s_command (f, "Status"), 0, 0, 0);
    assert_string_equal (s_str (shoal_testkit_replied (f), "status"), "started");
    assert_string_equal (s_str (shoal_testkit_replied (f), "transfer"), "t1");
    REJECT (f, s_command (f, "Cancel"), "unknown_command");
    assert_non_null (strstr (shoal_testkit_why (f), "Cancel"));
}

//  --------------------------------------------------------------------------
//  Legs

static void test_debit_rejected (void **state)
{
    fixture_t *f = *state;
    ACCEPT (f, s_start (f, "alice", "bob", 50), 1, 1, 0);
    ACCEPT (f, s_reply (f, "Debit", "insufficient_funds"), 1, 0, 0);
    assert_string_equal (EVENT0 (f), "Failed");
    assert_string_equal (s_str (EVENT0_FIELDS (f), "code"), "insufficient_funds");
    assert_string_equal (s_str (EVENT0_FIELDS (f), "reason"), "refused by the account");
    assert_true (shoal_testkit_passivated (f));

    const shoal_data_t *view = shoal_testkit_view (f);
    assert_string_equal (s_str (view, "status"), "failed");
    assert_string_equal (s_str (view, "code"), "insufficient_funds");
    assert_true (s_bool (view, "terminal"));

    //  Nothing moves a failed transfer.
    NOTHING (f, s_reply (f, "Debit", NULL));
    NOTHING (f, s_reply (f, "Credit", NULL));
    NOTHING (f, s_stall (f, "Debit"));
    assert_true (shoal_testkit_passivated (f)); //  loaded for it, it leaves again
    assert_string_equal (s_status (f), "failed");
}

static void test_credit_rejected_then_refunded (void **state)
{
    fixture_t *f = *state;
    ACCEPT (f, s_start (f, "alice", "bob", 50), 1, 1, 0);
    ACCEPT (f, s_reply (f, "Debit", NULL), 1, 1, 0);

    //  The credit is rejected: Compensating, Refund to the source.
    ACCEPT (f, s_reply (f, "Credit", "closed"), 1, 1, 0);
    assert_string_equal (EVENT0 (f), "Compensating");
    assert_string_equal (s_str (EVENT0_FIELDS (f), "code"), "closed");
    assert_string_equal (s_str (EVENT0_FIELDS (f), "reason"), "refused by the account");
    s_assert_leg (f, "account/alice", "Refund", 50);
    assert_false (shoal_testkit_passivated (f));
    const shoal_data_t *view = shoal_testkit_view (f);
    assert_string_equal (s_str (view, "status"), "compensating");
    assert_string_equal (s_str (view, "code"), "closed");
    assert_false (s_bool (view, "terminal"));

    //  The refund is accepted: Compensated.
    ACCEPT (f, s_reply (f, "Refund", NULL), 1, 0, 0);
    assert_string_equal (EVENT0 (f), "Compensated");
    assert_true (shoal_testkit_passivated (f));
    view = shoal_testkit_view (f);
    assert_string_equal (s_str (view, "status"), "compensated");
    assert_string_equal (s_str (view, "code"), "closed");
    assert_true (s_bool (view, "terminal"));
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
    assert_string_equal (EVENT0 (f), "Stalled");
    assert_string_equal (shoal_testkit_timer_name (f, 0), "refund");
    assert_int_equal (shoal_testkit_timer_due (f, 0), NOW + 60000);
    assert_true (s_stalled (f));
    assert_string_equal (s_status (f), "compensating");
    //  Refused again while stalled: no second Stalled, another timer.
    ACCEPT (f, s_reply (f, "Refund", "overflow"), 0, 0, 1);
    ACCEPT (f, s_timer (f, "refund"), 0, 1, 0);
    s_assert_leg (f, "account/alice", "Refund", 50);
    ACCEPT (f, s_reply (f, "Refund", NULL), 1, 0, 0);
    assert_string_equal (s_status (f), "compensated");
    assert_false (s_stalled (f));
    //  A late refund timer after the end sends nothing.
    NOTHING (f, s_timer (f, "refund"));
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

    //  (Notices about commands not sent yet cannot come: see the top.)
    assert_false (s_stalled (f));

    //  The debit leg's notice: Stalled{leg}, once.
    ACCEPT (f, s_stall (f, "Debit"), 1, 0, 0);
    assert_string_equal (EVENT0 (f), "Stalled");
    assert_string_equal (s_str (EVENT0_FIELDS (f), "leg"), "debit");
    assert_true (s_stalled (f));
    assert_string_equal (s_status (f), "started");
    NOTHING (f, s_stall (f, "Debit"));

    //  The next event clears it; a notice about the old leg is ignored.
    ACCEPT (f, s_reply (f, "Debit", NULL), 1, 1, 0);
    assert_false (s_stalled (f));
    NOTHING (f, s_stall (f, "Debit"));

    ACCEPT (f, s_stall (f, "Credit"), 1, 0, 0);
    assert_string_equal (s_str (EVENT0_FIELDS (f), "leg"), "credit");
    assert_true (s_stalled (f));
    assert_string_equal (s_status (f), "debited");

    ACCEPT (f, s_reply (f, "Credit", "closed"), 1, 1, 0);
    assert_false (s_stalled (f));
    NOTHING (f, s_stall (f, "Credit"));
    ACCEPT (f, s_stall (f, "Refund"), 1, 0, 0);
    assert_string_equal (s_str (EVENT0_FIELDS (f), "leg"), "refund");
    assert_true (s_stalled (f));

    ACCEPT (f, s_reply (f, "Refund", NULL), 1, 0, 0);
    assert_false (s_stalled (f));
    NOTHING (f, s_stall (f, "Refund"));
    const shoal_data_t *view = shoal_testkit_view (f);
    assert_string_equal (s_str (view, "status"), "compensated");
    assert_false (s_bool (view, "stalled"));
}

//  A transfer's only timer is "refund", after a refused refund: any other
//  timer message changes nothing.
static void test_timer_ignored (void **state)
{
    fixture_t *f = *state;
    ACCEPT (f, s_start (f, "alice", "bob", 50), 1, 1, 0);
    shoal_rec_str (shoal_testkit_timer (f, "stall"), "leg", "debit");
    NOTHING (f, s_run (f));
    NOTHING (f, s_timer (f, "Debit"));
    assert_false (s_stalled (f));
}

//  A leg refused as "expired" (it outlived the receiver's inbox
//  retention): the transfer stalls for an operator.
static void test_expired_reply_stalls (void **state)
{
    fixture_t *f = *state;
    ACCEPT (f, s_start (f, "alice", "bob", 50), 1, 1, 0);
    ACCEPT (f, s_reply (f, "Debit", "expired"), 1, 0, 0);
    assert_string_equal (EVENT0 (f), "Stalled");
    assert_string_equal (s_str (EVENT0_FIELDS (f), "code"), "expired");
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
    const shoal_data_t *view = shoal_testkit_view (f);
    assert_true (s_bool (view, "terminal"));
    assert_false (s_bool (view, "stalled"));
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
    assert_int_equal (shoal_testkit_replay (f), 0); //  mid-way, stalled
    ACCEPT (f, s_reply (f, "Refund", NULL), 1, 0, 0);
    static const char *names[] = {"Started",      "Stalled", "Debited",
                                  "Compensating", "Stalled", "Compensated"};
    assert_int_equal (shoal_testkit_version (f), 6);
    for (size_t i = 0; i < 6; i++)
        assert_string_equal (shoal_testkit_history (f, i), names[i]);
    assert_int_equal (shoal_testkit_replay (f), 0);
}

static void test_replay_failed (void **state)
{
    fixture_t *f = *state;
    ACCEPT (f, s_start (f, "account/alice", "bob", 7), 1, 1, 0);
    ACCEPT (f, s_reply (f, "Debit", "not_open"), 1, 0, 0);
    assert_int_equal (shoal_testkit_replay (f), 0);
    assert_string_equal (s_str (shoal_testkit_view (f), "code"), "not_open");
}

static void test_apply_errors (void **state)
{
    fixture_t *f = *state;
    //  Given events that apply refuses: an unknown one, Started without
    //  its fields or with an amount of another type.
    shoal_testkit_given (f, "Exploded");
    assert_int_equal (shoal_testkit_commit (f), SHOAL_EFORMAT);
    assert_non_null (strstr (shoal_testkit_why (f), "Exploded"));
    shoal_testkit_given (f, "Started");
    assert_int_equal (shoal_testkit_commit (f), SHOAL_EFORMAT);
    shoal_rec_t *rec = shoal_testkit_given (f, "Started");
    shoal_rec_str (rec, "from", "account/alice");
    shoal_rec_str (rec, "to", "account/bob");
    shoal_rec_str (rec, "amount", "50");
    assert_int_equal (shoal_testkit_commit (f), SHOAL_EFORMAT);
    assert_int_equal (shoal_testkit_version (f), 0);

    //  Data that is not a map, or truncated: refused before apply.
    uint8_t *fresh = calloc (1, transfer_type.state_size);
    assert_non_null (fresh);
    static const uint8_t array[] = {0x91, 0x01};
    static const uint8_t truncated[] = {0x82, 0xa4, 'f', 'r', 'o'};
    assert_int_equal (ctx_apply (&transfer_type, fresh, "Debited", array, sizeof array),
                      SHOAL_EFORMAT);
    assert_int_equal (ctx_apply (&transfer_type, fresh, "Completed", truncated, sizeof truncated),
                      SHOAL_EFORMAT);
    free (fresh);

    //  Failed without a code still applies, with code "unknown".
    shoal_testkit_given (f, "Failed");
    assert_int_equal (shoal_testkit_commit (f), 0);
    const shoal_data_t *view = shoal_testkit_view (f);
    assert_string_equal (s_str (view, "status"), "failed");
    assert_string_equal (s_str (view, "code"), "unknown");
    assert_int_equal (shoal_testkit_version (f), 1);
}

//  --------------------------------------------------------------------------
//  Time: the refund timer fires when the kit's clock reaches it.

static void test_refund_timer_under_the_clock (void **state)
{
    fixture_t *f = *state;
    ACCEPT (f, s_start (f, "alice", "bob", 50), 1, 1, 0);
    ACCEPT (f, s_reply (f, "Debit", NULL), 1, 1, 0);
    ACCEPT (f, s_reply (f, "Credit", "closed"), 1, 1, 0);
    ACCEPT (f, s_reply (f, "Refund", "overflow"), 1, 0, 1);
    assert_int_equal (shoal_testkit_pending (f), 1);

    //  A minute less a millisecond: nothing fires.
    assert_int_equal (shoal_testkit_advance (f, 59999), 0);
    assert_int_equal (shoal_testkit_now (f), NOW + 59999);
    assert_int_equal (shoal_testkit_pending (f), 1);
    //  The last millisecond: the refund is sent again, at the due time.
    assert_int_equal (shoal_testkit_advance (f, 1), 1);
    assert_int_equal (shoal_testkit_pending (f), 0);
    assert_int_equal (shoal_testkit_sent (f), 1);
    s_assert_leg (f, "account/alice", "Refund", 50);
    ACCEPT (f, s_reply (f, "Refund", NULL), 1, 0, 0);
    assert_string_equal (s_status (f), "compensated");

    //  A day later nothing is left to fire.
    assert_int_equal (shoal_testkit_advance (f, 24 * 3600 * 1000LL), 0);
}

//  A stall notice names the command by the id it was sent with.
static void test_stall_by_id (void **state)
{
    fixture_t *f = *state;
    ACCEPT (f, s_start (f, "alice", "bob", 50), 1, 1, 0);
    char debit_id[33];
    snprintf (debit_id, sizeof debit_id, "%s", shoal_testkit_sent_id (f, 0));
    assert_int_equal (strlen (debit_id), 32);
    assert_int_equal (shoal_testkit_stall (f, "00000000000000000000000000000000"), SHOAL_ENOTFOUND);
    assert_int_equal (shoal_testkit_stall (f, debit_id), 0);
    ACCEPT (f, s_run (f), 1, 0, 0);
    assert_string_equal (EVENT0 (f), "Stalled");
    assert_string_equal (s_str (EVENT0_FIELDS (f), "leg"), "debit");
    assert_true (s_stalled (f));
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_usage, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_start_same_account, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_start_bad_addresses, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_start_bad_amounts, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_start_addresses_accepted, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_second_start, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_second_start_long_ids, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_status_and_unknown_command, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_debit_rejected, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_credit_rejected_then_refunded, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_refund_rejected_is_sent_again, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_late_and_duplicate_replies, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_stall_notice, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_timer_ignored, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_expired_reply_stalls, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_expired_reply_for_answered_leg, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_expired_reply_after_completion, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_replay_compensated, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_replay_failed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_apply_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_refund_timer_under_the_clock, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_stall_by_id, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
