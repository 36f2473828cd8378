/*  test_account.c - the account aggregate (actors/account.c), driven
    directly through the runtime's turn machinery (msg_init, ctx_begin,
    ctx_run), with no node and no network.

    Usage first, then every command accepted and rejected, the overdraft
    and int64 limits, other message kinds, and finally replay: the events
    of a history rebuild the same view, a view restores the same view, and
    apply refuses what it cannot understand.

    Every rejection is checked the same way (harness_turn_rejected):
    CTX_REJECTED with the code and a reason, nothing staged, no reply
    field, and the state bytes unchanged.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "account.h"
#include "ctx.h"
#include "data.h"
#include "envelope.h"
#include "harness.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADDRESS "account/alice"
#define NOW 1700000000000LL

//  The turn fixture (harness.h), driving account_type at ADDRESS.
typedef harness_turn_t fixture_t;

//  --------------------------------------------------------------------------
//  Helpers

static int s_setup (void **state)
{
    *state = harness_turn_new (&account_type, ADDRESS, NOW);
    return 0;
}

//  Runs a command whose fields were written into f->payload: from a
//  client, or, when it names a transfer (Debit,
//  Credit, Refund), from that transfer's saga, as the bank sends them.
static int s_run (fixture_t *f, const char *name)
{
    size_t size;
    const uint8_t *bytes = rec_finish (&f->payload, &size);
    assert_non_null (bytes);
    shoal_data_t data;
    char from[SHOAL_ADDRESS_MAX + 1] = "", transfer[SHOAL_ID_MAX + 1];
    assert_int_equal (data_init (&data, bytes, size), 0);
    if (shoal_data_str (&data, "transfer", transfer, sizeof transfer) == 0 && transfer[0])
        snprintf (from, sizeof from, "transfer/%s", transfer);
    data_close (&data);
    int rc = harness_turn_run_bytes (f, ENVELOPE_COMMAND, from, name, bytes, size);
    rec_reset (&f->payload);
    return rc;
}

//  Runs a command from from.
static int s_run_from (fixture_t *f, const char *from, const char *name)
{
    size_t size;
    const uint8_t *bytes = rec_finish (&f->payload, &size);
    assert_non_null (bytes);
    int rc = harness_turn_run_bytes (f, ENVELOPE_COMMAND, from, name, bytes, size);
    rec_reset (&f->payload);
    return rc;
}

//  An account sends nothing and sets no timer: an accepted turn only
//  emits events. A rejected one keeps nothing and changes no state.
#define ACCEPT(f, name, events)                                                                    \
    harness_turn_accepted ((f), s_run ((f), (name)), (name), (events), 0, 0, __LINE__)
#define REJECT(f, name, code)                                                                      \
    harness_turn_rejected ((f), s_run ((f), (name)), (name), (code), __LINE__)

static int64_t s_balance (fixture_t *f)
{
    return harness_rec_int (harness_turn_view (f, f->state), "balance");
}

static const char *s_status (fixture_t *f)
{
    return harness_rec_str (harness_turn_view (f, f->state), "status");
}

//  Opens the account for owner with an overdraft (-1: field left out).
static void s_open (fixture_t *f, const char *owner, int64_t overdraft)
{
    shoal_rec_str (&f->payload, "owner", owner);
    if (overdraft >= 0)
        shoal_rec_int (&f->payload, "overdraft", overdraft);
    ACCEPT (f, "Open", 1);
}

static void s_deposit (fixture_t *f, int64_t amount)
{
    shoal_rec_int (&f->payload, "amount", amount);
    ACCEPT (f, "Deposit", 1);
}

//  A msgpack value for rec_raw: float64 1.5, and uint64 2^64-1.
static const uint8_t s_float[] = {0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0};
static const uint8_t s_u64_max[] = {0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

//  --------------------------------------------------------------------------
//  Usage

static void test_usage (void **state)
{
    fixture_t *f = *state;

    //  Open{owner}: Opened{owner, overdraft=0}, reply {balance: 0}.
    shoal_rec_str (&f->payload, "owner", "Alice Liddell");
    ACCEPT (f, "Open", 1);
    assert_string_equal (f->ctx.events[0].name, "Opened");
    assert_string_equal (harness_rec_str (&f->ctx.events[0].rec, "owner"), "Alice Liddell");
    assert_int_equal (harness_rec_int (&f->ctx.events[0].rec, "overdraft"), 0);
    assert_int_equal (harness_rec_int (&f->ctx.reply, "balance"), 0);

    //  Deposit{amount}: Deposited{amount}, reply {balance}.
    shoal_rec_int (&f->payload, "amount", 250);
    ACCEPT (f, "Deposit", 1);
    assert_string_equal (f->ctx.events[0].name, "Deposited");
    assert_int_equal (harness_rec_int (&f->ctx.events[0].rec, "amount"), 250);
    assert_int_equal (harness_rec_count (&f->ctx.events[0].rec), 1);
    assert_int_equal (harness_rec_int (&f->ctx.reply, "balance"), 250);

    //  The view: what `shoal get` shows.
    shoal_rec_t *view = harness_turn_view (f, f->state);
    assert_string_equal (harness_rec_str (view, "status"), "open");
    assert_string_equal (harness_rec_str (view, "owner"), "Alice Liddell");
    assert_int_equal (harness_rec_int (view, "balance"), 250);
    assert_int_equal (harness_rec_int (view, "overdraft"), 0);
    assert_int_equal (harness_rec_count (view), 4);
    assert_int_equal (f->version, 2);
}

//  --------------------------------------------------------------------------
//  Open

static void test_open_with_overdraft (void **state)
{
    fixture_t *f = *state;
    assert_string_equal (s_status (f), "none");
    s_open (f, "alice", 500);
    assert_string_equal (f->ctx.events[0].name, "Opened");
    assert_int_equal (harness_rec_int (&f->ctx.events[0].rec, "overdraft"), 500);
    assert_string_equal (s_status (f), "open");
    assert_int_equal (harness_rec_int (harness_turn_view (f, f->state), "overdraft"), 500);
}

static void test_open_owner_of_64_bytes (void **state)
{
    fixture_t *f = *state;
    char owner[ACCOUNT_OWNER_MAX + 1];
    memset (owner, 'o', ACCOUNT_OWNER_MAX);
    owner[ACCOUNT_OWNER_MAX] = 0;
    s_open (f, owner, -1);
    assert_string_equal (harness_rec_str (harness_turn_view (f, f->state), "owner"), owner);
}

//  An account's id may not hold a '/' (account_transfers' keys).
static void test_open_id_with_slash (void **state)
{
    harness_turn_t *f = harness_turn_new (&account_type, "account/alice/x", NOW);
    shoal_rec_str (&f->payload, "owner", "x");
    REJECT (f, "Open", "invalid_id");
    assert_string_equal (s_status (f), "none");
    harness_turn_destroy (&f);
    (void) state;
}

static void test_open_rejections (void **state)
{
    fixture_t *f = *state;

    //  owner: missing, empty, too long, not a string, holding a NUL.
    REJECT (f, "Open", "invalid_field");
    shoal_rec_str (&f->payload, "owner", "");
    REJECT (f, "Open", "invalid_field");
    char owner[ACCOUNT_OWNER_MAX + 2];
    memset (owner, 'o', ACCOUNT_OWNER_MAX + 1);
    owner[ACCOUNT_OWNER_MAX + 1] = 0;
    shoal_rec_str (&f->payload, "owner", owner);
    REJECT (f, "Open", "invalid_field");
    shoal_rec_int (&f->payload, "owner", 42);
    REJECT (f, "Open", "invalid_field");
    static const uint8_t with_nul[] = {0xa3, 'a', 0, 'b'};
    rec_raw (&f->payload, "owner", with_nul, sizeof with_nul);
    REJECT (f, "Open", "invalid_field");

    //  overdraft: negative, string, bool, float, past INT64_MAX.
    shoal_rec_str (&f->payload, "owner", "alice");
    shoal_rec_int (&f->payload, "overdraft", -1);
    REJECT (f, "Open", "invalid_amount");
    shoal_rec_str (&f->payload, "owner", "alice");
    shoal_rec_int (&f->payload, "overdraft", INT64_MIN);
    REJECT (f, "Open", "invalid_amount");
    shoal_rec_str (&f->payload, "owner", "alice");
    shoal_rec_str (&f->payload, "overdraft", "100");
    REJECT (f, "Open", "invalid_amount");
    shoal_rec_str (&f->payload, "owner", "alice");
    shoal_rec_bool (&f->payload, "overdraft", true);
    REJECT (f, "Open", "invalid_amount");
    shoal_rec_str (&f->payload, "owner", "alice");
    rec_raw (&f->payload, "overdraft", s_float, sizeof s_float);
    REJECT (f, "Open", "invalid_amount");
    shoal_rec_str (&f->payload, "owner", "alice");
    rec_raw (&f->payload, "overdraft", s_u64_max, sizeof s_u64_max);
    REJECT (f, "Open", "invalid_amount");
    assert_string_equal (s_status (f), "none");

    //  Opened once: a second Open, even a valid one, is refused.
    s_open (f, "alice", 10);
    shoal_rec_str (&f->payload, "owner", "mallory");
    REJECT (f, "Open", "already_open");
    assert_string_equal (harness_rec_str (harness_turn_view (f, f->state), "owner"), "alice");
}

//  --------------------------------------------------------------------------
//  Money commands: Deposit, Withdraw, Debit, Credit, Refund

typedef struct {
    const char *command;
    const char *event;
    bool with_transfer; //  needs {transfer}
    int sign;           //  +1 money in, -1 money out
} money_t;

static const money_t s_deposit_cmd = {"Deposit", "Deposited", false, 1};
static const money_t s_withdraw_cmd = {"Withdraw", "Withdrawn", false, -1};
static const money_t s_debit_cmd = {"Debit", "Debited", true, -1};
static const money_t s_credit_cmd = {"Credit", "Credited", true, 1};
static const money_t s_refund_cmd = {"Refund", "Refunded", true, 1};

//  Writes {transfer: "t1"} when the command needs it.
static void s_transfer_field (fixture_t *f, const money_t *m)
{
    if (m->with_transfer)
        shoal_rec_str (&f->payload, "transfer", "t1");
}

//  Every rejection of a money command on an open account, then its
//  acceptance, then what a closed account does with it.
static void s_money_checks (fixture_t *f, const money_t *m)
{
    //  Not open yet.
    s_transfer_field (f, m);
    shoal_rec_int (&f->payload, "amount", 10);
    REJECT (f, m->command, "not_open");

    s_open (f, "alice", -1);
    s_deposit (f, 1000);

    //  Amount: zero, negative, missing, string, bool, float, past INT64_MAX.
    s_transfer_field (f, m);
    shoal_rec_int (&f->payload, "amount", 0);
    REJECT (f, m->command, "invalid_amount");
    s_transfer_field (f, m);
    shoal_rec_int (&f->payload, "amount", -5);
    REJECT (f, m->command, "invalid_amount");
    s_transfer_field (f, m);
    shoal_rec_int (&f->payload, "amount", INT64_MIN);
    REJECT (f, m->command, "invalid_amount");
    s_transfer_field (f, m);
    REJECT (f, m->command, "invalid_amount");
    s_transfer_field (f, m);
    shoal_rec_str (&f->payload, "amount", "10");
    REJECT (f, m->command, "invalid_amount");
    s_transfer_field (f, m);
    shoal_rec_bool (&f->payload, "amount", true);
    REJECT (f, m->command, "invalid_amount");
    s_transfer_field (f, m);
    rec_raw (&f->payload, "amount", s_float, sizeof s_float);
    REJECT (f, m->command, "invalid_amount");
    s_transfer_field (f, m);
    rec_raw (&f->payload, "amount", s_u64_max, sizeof s_u64_max);
    REJECT (f, m->command, "invalid_amount");

    //  Transfer id: missing, empty, not a string, longer than an id.
    if (m->with_transfer) {
        shoal_rec_int (&f->payload, "amount", 10);
        REJECT (f, m->command, "invalid_field");
        shoal_rec_str (&f->payload, "transfer", "");
        shoal_rec_int (&f->payload, "amount", 10);
        REJECT (f, m->command, "invalid_field");
        shoal_rec_int (&f->payload, "transfer", 7);
        shoal_rec_int (&f->payload, "amount", 10);
        REJECT (f, m->command, "invalid_field");
        char id[SHOAL_ID_MAX + 2];
        memset (id, 't', SHOAL_ID_MAX + 1);
        id[SHOAL_ID_MAX + 1] = 0;
        shoal_rec_str (&f->payload, "transfer", id);
        shoal_rec_int (&f->payload, "amount", 10);
        REJECT (f, m->command, "invalid_field");
    }
    assert_int_equal (s_balance (f), 1000);

    //  Accepted: the event carries {transfer,} amount; the reply the balance.
    s_transfer_field (f, m);
    shoal_rec_int (&f->payload, "amount", 10);
    ACCEPT (f, m->command, 1);
    int64_t expected = 1000 + m->sign * 10;
    assert_string_equal (f->ctx.events[0].name, m->event);
    assert_int_equal (harness_rec_int (&f->ctx.events[0].rec, "amount"), 10);
    if (m->with_transfer)
        assert_string_equal (harness_rec_str (&f->ctx.events[0].rec, "transfer"), "t1");
    assert_int_equal (harness_rec_count (&f->ctx.events[0].rec), m->with_transfer ? 2 : 1);
    assert_int_equal (harness_rec_int (&f->ctx.reply, "balance"), expected);
    assert_int_equal (s_balance (f), expected);

    //  A transfer id of exactly SHOAL_ID_MAX bytes is fine.
    if (m->with_transfer) {
        char id[SHOAL_ID_MAX + 1];
        memset (id, 't', SHOAL_ID_MAX);
        id[SHOAL_ID_MAX] = 0;
        shoal_rec_str (&f->payload, "transfer", id);
        shoal_rec_int (&f->payload, "amount", 1);
        ACCEPT (f, m->command, 1);
        assert_string_equal (harness_rec_str (&f->ctx.events[0].rec, "transfer"), id);
        expected += m->sign;
        assert_int_equal (s_balance (f), expected);
    }

    //  Closed: everything is refused but Refund, which always lands.
    ACCEPT (f, "Close", 1);
    s_transfer_field (f, m);
    shoal_rec_int (&f->payload, "amount", 5);
    if (m == &s_refund_cmd) {
        ACCEPT (f, m->command, 1);
        assert_string_equal (f->ctx.events[0].name, "Refunded");
        assert_int_equal (harness_rec_int (&f->ctx.reply, "balance"), expected + 5);
        assert_int_equal (s_balance (f), expected + 5);
        assert_string_equal (s_status (f), "closed");
        //  ...but still validates what it is given.
        shoal_rec_int (&f->payload, "amount", 5);
        REJECT (f, m->command, "invalid_field");
        s_transfer_field (f, m);
        shoal_rec_int (&f->payload, "amount", 0);
        REJECT (f, m->command, "invalid_amount");
    } else {
        REJECT (f, m->command, "closed");
        assert_int_equal (s_balance (f), expected);
    }
}

static void test_deposit (void **state)
{
    s_money_checks (*state, &s_deposit_cmd);
}

static void test_withdraw (void **state)
{
    s_money_checks (*state, &s_withdraw_cmd);
}

static void test_debit (void **state)
{
    s_money_checks (*state, &s_debit_cmd);
}

static void test_credit (void **state)
{
    s_money_checks (*state, &s_credit_cmd);
}

static void test_refund (void **state)
{
    s_money_checks (*state, &s_refund_cmd);
}

//  --------------------------------------------------------------------------
//  Limits

//  Debit, Credit and Refund only from the transfer they name: from a
//  client, another actor, or another transfer they would move money
//  outside any transfer (a client's Credit made money, check found the
//  books broken).
static void test_legs_only_from_their_transfer (void **state)
{
    fixture_t *f = *state;
    s_open (f, "alice", -1);
    s_deposit (f, 1000);
    const char *names[] = {"Debit", "Credit", "Refund"};
    const char *senders[] = {"", "account/bob", "transfer/t2", "transfer/t1x", "payment/t1"};
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < sizeof senders / sizeof senders[0]; j++) {
            shoal_rec_str (&f->payload, "transfer", "t1");
            shoal_rec_int (&f->payload, "amount", 10);
            harness_turn_rejected (f, s_run_from (f, senders[j], names[i]), names[i],
                                   "not_a_transfer", __LINE__);
        }
    assert_int_equal (s_balance (f), 1000);
    shoal_rec_str (&f->payload, "transfer", "t1");
    shoal_rec_int (&f->payload, "amount", 10);
    harness_turn_accepted (f, s_run_from (f, "transfer/t1", "Credit"), "Credit", 1, 0, 0, __LINE__);
    assert_int_equal (s_balance (f), 1010);
}

static void test_no_overdraft (void **state)
{
    fixture_t *f = *state;
    s_open (f, "alice", -1);
    shoal_rec_int (&f->payload, "amount", 1);
    REJECT (f, "Withdraw", "insufficient_funds");
    s_deposit (f, 30);
    shoal_rec_int (&f->payload, "amount", 31);
    REJECT (f, "Withdraw", "insufficient_funds");
    shoal_rec_str (&f->payload, "transfer", "t1");
    shoal_rec_int (&f->payload, "amount", 31);
    REJECT (f, "Debit", "insufficient_funds");
    shoal_rec_int (&f->payload, "amount", 30);
    ACCEPT (f, "Withdraw", 1);
    assert_int_equal (s_balance (f), 0);
}

static void test_overdraft (void **state)
{
    fixture_t *f = *state;
    s_open (f, "alice", 100);
    shoal_rec_int (&f->payload, "amount", 100);
    ACCEPT (f, "Withdraw", 1);
    assert_int_equal (harness_rec_int (&f->ctx.reply, "balance"), -100);
    assert_int_equal (s_balance (f), -100);

    shoal_rec_int (&f->payload, "amount", 1);
    REJECT (f, "Withdraw", "insufficient_funds");
    shoal_rec_str (&f->payload, "transfer", "t1");
    shoal_rec_int (&f->payload, "amount", 1);
    REJECT (f, "Debit", "insufficient_funds");
    assert_int_equal (s_balance (f), -100);

    //  Money in is fine below zero; then the floor is -100 again.
    s_deposit (f, 1);
    assert_int_equal (s_balance (f), -99);
    shoal_rec_str (&f->payload, "transfer", "t2");
    shoal_rec_int (&f->payload, "amount", 1);
    ACCEPT (f, "Debit", 1);
    assert_int_equal (s_balance (f), -100);
}

static void test_overflow (void **state)
{
    fixture_t *f = *state;
    s_open (f, "alice", -1);
    s_deposit (f, INT64_MAX);
    assert_int_equal (s_balance (f), INT64_MAX);

    shoal_rec_int (&f->payload, "amount", 1);
    REJECT (f, "Deposit", "overflow");
    shoal_rec_str (&f->payload, "transfer", "t1");
    shoal_rec_int (&f->payload, "amount", 1);
    REJECT (f, "Credit", "overflow");
    shoal_rec_str (&f->payload, "transfer", "t1");
    shoal_rec_int (&f->payload, "amount", INT64_MAX);
    REJECT (f, "Refund", "overflow");
    assert_int_equal (s_balance (f), INT64_MAX);

    //  At the top, money still goes out.
    shoal_rec_int (&f->payload, "amount", INT64_MAX);
    ACCEPT (f, "Withdraw", 1);
    assert_int_equal (s_balance (f), 0);
}

//  With overdraft INT64_MAX the floor is -INT64_MAX: the balance must
//  neither wrap around nor reach INT64_MIN.
static void test_overdraft_extreme (void **state)
{
    fixture_t *f = *state;
    s_open (f, "alice", INT64_MAX);
    shoal_rec_int (&f->payload, "amount", INT64_MAX);
    ACCEPT (f, "Withdraw", 1);
    assert_int_equal (s_balance (f), -INT64_MAX);

    //  -INT64_MAX - 1 == INT64_MIN: representable, but below the floor.
    shoal_rec_int (&f->payload, "amount", 1);
    REJECT (f, "Withdraw", "insufficient_funds");
    //  -INT64_MAX - 2 overflows: the __builtin_sub_overflow path.
    shoal_rec_int (&f->payload, "amount", 2);
    REJECT (f, "Withdraw", "insufficient_funds");
    shoal_rec_int (&f->payload, "amount", INT64_MAX);
    REJECT (f, "Withdraw", "insufficient_funds");
    shoal_rec_str (&f->payload, "transfer", "t1");
    shoal_rec_int (&f->payload, "amount", INT64_MAX);
    REJECT (f, "Debit", "insufficient_funds");
    assert_int_equal (s_balance (f), -INT64_MAX);

    //  And back up to the top.
    s_deposit (f, INT64_MAX);
    assert_int_equal (s_balance (f), 0);
    s_deposit (f, INT64_MAX);
    assert_int_equal (s_balance (f), INT64_MAX);
    shoal_rec_int (&f->payload, "amount", 1);
    REJECT (f, "Deposit", "overflow");
}

//  --------------------------------------------------------------------------
//  Close, unknown commands, other kinds

static void test_close (void **state)
{
    fixture_t *f = *state;
    REJECT (f, "Close", "not_open");
    s_open (f, "alice", -1);
    s_deposit (f, 42);
    ACCEPT (f, "Close", 1);
    assert_string_equal (f->ctx.events[0].name, "Closed");
    assert_int_equal (harness_rec_count (&f->ctx.events[0].rec), 0);
    assert_int_equal (harness_rec_int (&f->ctx.reply, "balance"), 42);
    assert_string_equal (s_status (f), "closed");
    assert_int_equal (s_balance (f), 42);

    REJECT (f, "Close", "closed");
    shoal_rec_str (&f->payload, "owner", "alice");
    REJECT (f, "Open", "already_open");
    shoal_rec_int (&f->payload, "amount", 1);
    REJECT (f, "Deposit", "closed");
    assert_string_equal (s_status (f), "closed");
}

static void test_unknown_command (void **state)
{
    fixture_t *f = *state;
    REJECT (f, "Explode", "unknown_command");
    assert_non_null (strstr (f->ctx.reason, "Explode"));
    s_open (f, "alice", -1);
    shoal_rec_int (&f->payload, "amount", 1);
    REJECT (f, "deposit", "unknown_command"); //  names are case-sensitive
    REJECT (f, "Status", "unknown_command");
}

static void test_other_kinds_rejected (void **state)
{
    fixture_t *f = *state;
    s_open (f, "alice", -1);
    s_deposit (f, 100);

    //  A reply named like a command: an account sends nothing, so takes none.
    shoal_rec_t data;
    rec_init (&data);
    shoal_rec_int (&data, "amount", 10);
    size_t data_size;
    const uint8_t *data_bytes = rec_finish (&data, &data_size);
    uint8_t *payload;
    size_t size;
    assert_int_equal (
        envelope_reply_encode (true, NULL, NULL, data_bytes, data_size, &payload, &size), 0);
    harness_turn_rejected (f,
                           harness_turn_run_bytes (f, ENVELOPE_REPLY, "", "Deposit", payload, size),
                           "reply", "unknown_command", __LINE__);
    free (payload);

    //  A timer or a stall notice: an account sets no timer, sends nothing.
    harness_turn_rejected (
        f, harness_turn_run_bytes (f, ENVELOPE_TIMER, ADDRESS, "Deposit", data_bytes, data_size),
        "timer", "unknown_command", __LINE__);
    harness_turn_rejected (
        f, harness_turn_run_bytes (f, ENVELOPE_STALLED, "", "Deposit", data_bytes, data_size),
        "stalled", "unknown_command", __LINE__);
    rec_close (&data);
    assert_int_equal (s_balance (f), 100);
}

//  --------------------------------------------------------------------------
//  Replay, restore, apply

//  Runs a history touching every event type; returns with the state after it.
static void s_history (fixture_t *f)
{
    s_open (f, "Bob Builder", 50);
    s_deposit (f, 200);
    shoal_rec_int (&f->payload, "amount", 230);
    ACCEPT (f, "Withdraw", 1);
    shoal_rec_str (&f->payload, "transfer", "t1");
    shoal_rec_int (&f->payload, "amount", 20);
    ACCEPT (f, "Debit", 1);
    shoal_rec_str (&f->payload, "transfer", "t2");
    shoal_rec_int (&f->payload, "amount", 7);
    ACCEPT (f, "Credit", 1);
    shoal_rec_int (&f->payload, "amount", 1000);
    REJECT (f, "Withdraw", "insufficient_funds");
    ACCEPT (f, "Close", 1);
    shoal_rec_str (&f->payload, "transfer", "t1");
    shoal_rec_int (&f->payload, "amount", 20);
    ACCEPT (f, "Refund", 1);
    assert_int_equal (s_balance (f), 200 - 230 - 20 + 7 + 20);
}

static void test_replay (void **state)
{
    fixture_t *f = *state;
    s_history (f);
    static const char *names[] = {"Opened",   "Deposited", "Withdrawn", "Debited",
                                  "Credited", "Closed",    "Refunded"};
    assert_int_equal (f->log_count, 7);
    assert_int_equal (f->version, 7);
    for (size_t i = 0; i < 7; i++)
        assert_string_equal (f->log[i].name, names[i]);
    harness_turn_assert_replay (f);
}

static void test_restore (void **state)
{
    fixture_t *f = *state;
    assert_non_null (account_type.restore);
    s_history (f);
    size_t live_size;
    uint8_t *live = harness_turn_view_copy (f, f->state, &live_size);

    uint8_t *fresh = calloc (1, account_type.state_size);
    assert_non_null (fresh);
    shoal_data_t snapshot;
    assert_int_equal (data_init (&snapshot, live, live_size), 0);
    assert_int_equal (account_type.restore (fresh, 0, &snapshot), 0);
    data_close (&snapshot);
    size_t restored_size;
    uint8_t *restored = harness_turn_view_copy (f, fresh, &restored_size);
    assert_int_equal (restored_size, live_size);
    assert_memory_equal (restored, live, live_size);

    //  The restored account behaves as the live one: closed.
    memcpy (f->state, fresh, account_type.state_size);
    shoal_rec_int (&f->payload, "amount", 1);
    REJECT (f, "Deposit", "closed");

    //  A snapshot with a field missing or of the wrong type is refused.
    static const char *keys[] = {"status", "owner", "balance", "overdraft"};
    for (size_t skip = 0; skip < 4; skip++) {
        shoal_rec_t rec;
        rec_init (&rec);
        for (size_t k = 0; k < 4; k++) {
            if (k == skip)
                shoal_rec_bool (&rec, keys[k], true);
            else if (k < 2)
                shoal_rec_str (&rec, keys[k], "open");
            else
                shoal_rec_int (&rec, keys[k], 1);
        }
        size_t size;
        const uint8_t *bytes = rec_finish (&rec, &size);
        memset (fresh, 0, account_type.state_size);
        assert_int_equal (data_init (&snapshot, bytes, size), 0);
        assert_int_not_equal (account_type.restore (fresh, 0, &snapshot), 0);
        data_close (&snapshot);
        rec_close (&rec);
    }
    assert_int_not_equal (account_type.restore (fresh, 0, NULL), 0);
    free (restored);
    free (live);
    free (fresh);
}

//  Applies one event whose data is built by the caller in rec.
static int s_apply_rec (void *state, const char *event, shoal_rec_t *rec)
{
    size_t size;
    const uint8_t *bytes = rec_finish (rec, &size);
    assert_non_null (bytes);
    int rc = ctx_apply (&account_type, state, event, bytes, size);
    rec_reset (rec);
    return rc;
}

static void test_apply_errors (void **state)
{
    (void) state;
    uint8_t *account = calloc (1, account_type.state_size);
    assert_non_null (account);
    shoal_rec_t rec;
    rec_init (&rec);

    //  Unknown events.
    assert_int_equal (s_apply_rec (account, "Exploded", &rec), SHOAL_EFORMAT);
    shoal_rec_int (&rec, "amount", 1);
    assert_int_equal (s_apply_rec (account, "Deposit", &rec), SHOAL_EFORMAT);

    //  Known events with data missing or of the wrong type.
    assert_int_equal (s_apply_rec (account, "Opened", &rec), SHOAL_EFORMAT);
    shoal_rec_int (&rec, "owner", 5);
    assert_int_equal (s_apply_rec (account, "Opened", &rec), SHOAL_EFORMAT);
    assert_int_equal (s_apply_rec (account, "Deposited", &rec), SHOAL_EFORMAT);
    shoal_rec_str (&rec, "amount", "5");
    assert_int_equal (s_apply_rec (account, "Withdrawn", &rec), SHOAL_EFORMAT);

    //  Bytes that are not a msgpack map: an array, truncated, trailing.
    static const uint8_t array[] = {0x91, 0x01};
    static const uint8_t truncated[] = {0x81, 0xa6, 'a', 'm', 'o'};
    static const uint8_t trailing[] = {0x81, 0xa6, 'a', 'm', 'o', 'u', 'n', 't', 0x01, 0xc0};
    static const uint8_t garbage[] = {0xc1};
    assert_int_equal (ctx_apply (&account_type, account, "Deposited", array, sizeof array),
                      SHOAL_EFORMAT);
    assert_int_equal (ctx_apply (&account_type, account, "Deposited", truncated, sizeof truncated),
                      SHOAL_EFORMAT);
    assert_int_equal (ctx_apply (&account_type, account, "Deposited", trailing, sizeof trailing),
                      SHOAL_EFORMAT);
    assert_int_equal (ctx_apply (&account_type, account, "Deposited", garbage, sizeof garbage),
                      SHOAL_EFORMAT);
    //  ...whereas the same map without the trailing byte applies.
    assert_int_equal (
        ctx_apply (&account_type, account, "Deposited", trailing, sizeof trailing - 1), 0);

    //  An event that would overflow the balance.
    shoal_rec_int (&rec, "amount", INT64_MAX);
    assert_int_equal (s_apply_rec (account, "Deposited", &rec), SHOAL_EFORMAT);

    rec_close (&rec);
    free (account);
}

//  A negative overdraft never comes out of Open; one coming from the disk
//  (a corrupt snapshot or event) must be refused, since s_money_out
//  computes -overdraft (undefined for INT64_MIN) and the floor would
//  invert for any negative value.
static void test_negative_overdraft_from_disk_is_refused (void **state)
{
    (void) state;
    uint8_t *account = calloc (1, account_type.state_size);
    assert_non_null (account);
    shoal_rec_t rec;
    rec_init (&rec);
    shoal_rec_str (&rec, "status", "open");
    shoal_rec_str (&rec, "owner", "alice");
    shoal_rec_int (&rec, "balance", 0);
    shoal_rec_int (&rec, "overdraft", INT64_MIN);
    size_t size;
    const uint8_t *bytes = rec_finish (&rec, &size);
    shoal_data_t snapshot;
    int parsed = data_init (&snapshot, bytes, size);
    int restored = account_type.restore (account, 0, &snapshot);
    data_close (&snapshot);

    memset (account, 0, account_type.state_size);
    rec_reset (&rec);
    shoal_rec_str (&rec, "owner", "alice");
    shoal_rec_int (&rec, "overdraft", -100);
    int applied = s_apply_rec (account, "Opened", &rec);
    rec_close (&rec);
    free (account);

    assert_int_equal (parsed, 0);
    if (restored == 0)
        fail_msg ("restore accepted a snapshot with overdraft INT64_MIN");
    if (applied == 0)
        fail_msg ("apply accepted an Opened event with overdraft -100");
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_usage, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_open_with_overdraft, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_open_owner_of_64_bytes, s_setup,
                                         harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_open_rejections, s_setup, harness_turn_teardown),
        cmocka_unit_test (test_open_id_with_slash),
        cmocka_unit_test_setup_teardown (test_deposit, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_withdraw, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_debit, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_credit, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_refund, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_legs_only_from_their_transfer, s_setup,
                                         harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_no_overdraft, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_overdraft, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_overflow, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_overdraft_extreme, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_close, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_unknown_command, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_other_kinds_rejected, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_replay, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_restore, s_setup, harness_turn_teardown),
        cmocka_unit_test (test_apply_errors),
        cmocka_unit_test (test_negative_overdraft_from_disk_is_refused),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
