/*  test_testkit_view_bank.c - the bank's projections through the kit's runner:
    bank_totals, large_debits, account_transfers, one by one and batched.
    Helpers: testkit_view_test_util.h.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "shoal_testkit.h"
#include "bank_projections.h"
#include <stdio.h>
#include <string.h>

#include "testkit_view_test_util.h"

//  --------------------------------------------------------------------------
//  The bank's projections (projections/)

static void test_bank_totals (void **state)
{
    shoal_testkit_view_t *kit = shoal_testkit_view_new (&bank_totals_projection);
    assert_non_null (kit);
    assert_int_equal (testkit_view_give (kit, "account/alice", "Opened", NULL, 0), 0);
    assert_int_equal (testkit_view_give (kit, "account/bob", "Opened", NULL, 0), 0);
    assert_int_equal (testkit_view_give (kit, "account/alice", "Deposited", "amount", 100), 0);
    assert_int_equal (testkit_view_give (kit, "transfer/t1", "Started", "amount", 30), 0);
    assert_int_equal (testkit_view_give (kit, "account/alice", "Debited", "amount", 30), 0);
    assert_int_equal (testkit_view_give (kit, "transfer/t1", "Debited", NULL, 0), 0);
    assert_false (shoal_testkit_view_wanted (kit)); //  not in its events list
    assert_int_equal (testkit_view_give (kit, "account/bob", "Credited", "amount", 30), 0);
    assert_int_equal (testkit_view_give (kit, "transfer/t1", "Completed", NULL, 0), 0);
    assert_int_equal (testkit_view_give (kit, "account/bob", "Withdrawn", "amount", 5), 0);
    assert_int_equal (testkit_view_give (kit, "account/bob", "Closed", NULL, 0), 0);

    assert_int_equal (shoal_testkit_view_rows (kit), 1);
    const shoal_data_t *totals = shoal_testkit_view_row (kit, "totals"), *accounts, *transfers;
    assert_non_null (totals);
    assert_int_equal (testkit_view_int (totals, "balance"), 95);
    assert_int_equal (shoal_data_map (totals, "accounts", &accounts), 0);
    assert_int_equal (testkit_view_int (accounts, "open"), 1);
    assert_int_equal (testkit_view_int (accounts, "closed"), 1);
    assert_int_equal (shoal_data_map (totals, "transfers", &transfers), 0);
    assert_int_equal (testkit_view_int (transfers, "started"), 1);
    assert_int_equal (testkit_view_int (transfers, "completed"), 1);
    assert_int_equal (testkit_view_int (transfers, "failed"), 0);

    //  A deposit without an amount stops it, and nothing of it is kept.
    assert_int_equal (testkit_view_give (kit, "account/alice", "Deposited", NULL, 0),
                      SHOAL_EREJECTED);
    assert_string_equal (shoal_testkit_view_why (kit), "Deposited of account/alice has no amount");
    assert_int_equal (testkit_view_int (shoal_testkit_view_row (kit, "totals"), "balance"), 95);
    assert_int_equal (shoal_testkit_view_check_rebuild (kit), 0);
    shoal_testkit_view_destroy (&kit);
}

//  bank_totals past 64 bits, an event a batch: the sum held as its digits
//  in a string, read back and added to, an integer again once it fits.
static void test_bank_totals_past_64_bits (void **state)
{
    shoal_testkit_view_t *kit = shoal_testkit_view_new (&bank_totals_projection);
    assert_non_null (kit);
    char digits[64];
    for (int i = 0; i < 3; i++)
        assert_int_equal (testkit_view_give (kit, "account/a", "Deposited", "amount", INT64_MAX),
                          0);
    const shoal_data_t *totals = shoal_testkit_view_row (kit, "totals");
    assert_int_equal (shoal_data_type (totals, "balance"), SHOAL_FIELD_STR);
    assert_int_equal (shoal_data_str (totals, "balance", digits, sizeof digits), 0);
    assert_string_equal (digits, "27670116110564327421"); //  3 × (2^63 - 1)
    assert_int_equal (testkit_view_give (kit, "account/a", "Withdrawn", "amount", INT64_MAX), 0);
    assert_int_equal (testkit_view_give (kit, "account/a", "Debited", "amount", INT64_MAX), 0);
    totals = shoal_testkit_view_row (kit, "totals");
    assert_int_equal (testkit_view_int (totals, "balance"), INT64_MAX);
    //  Below -2^63 too (an overdraft's sum): "-" and its digits.
    for (int i = 0; i < 3; i++)
        assert_int_equal (testkit_view_give (kit, "account/b", "Withdrawn", "amount", INT64_MAX),
                          0);
    totals = shoal_testkit_view_row (kit, "totals");
    assert_int_equal (shoal_data_str (totals, "balance", digits, sizeof digits), 0);
    assert_string_equal (digits, "-18446744073709551614");
    assert_int_equal (shoal_testkit_view_check_rebuild (kit), 0);
    shoal_testkit_view_destroy (&kit);
}

//  large_debits: a Flag to review/ACCOUNT for each debit of at least
//  LARGE_DEBIT_MIN, and a row per account flagged.
static int s_debit (shoal_testkit_view_t *kit, const char *account, const char *transfer,
                    int64_t amount)
{
    shoal_rec_t *rec = shoal_testkit_view_event (kit, account, "Debited");
    shoal_rec_int (rec, "amount", amount);
    if (transfer)
        shoal_rec_str (rec, "transfer", transfer);
    return shoal_testkit_view_apply (kit);
}

static void test_bank_large_debits (void **state)
{
    shoal_testkit_view_t *kit = shoal_testkit_view_new (&large_debits_projection);
    assert_int_equal (s_debit (kit, "account/alice", "t1", LARGE_DEBIT_MIN - 1), 0);
    assert_int_equal (shoal_testkit_view_sent (kit), 0);
    assert_int_equal (s_debit (kit, "account/alice", "t2", LARGE_DEBIT_MIN), 0);
    assert_int_equal (shoal_testkit_view_sent (kit), 1);
    assert_string_equal (shoal_testkit_view_sent_to (kit, 0), "review/alice");
    assert_string_equal (shoal_testkit_view_sent_name (kit, 0), "Flag");
    const shoal_data_t *flag = shoal_testkit_view_sent_fields (kit, 0);
    assert_string_equal (testkit_view_str (flag, "account"), "alice");
    assert_string_equal (testkit_view_str (flag, "transfer"), "t2");
    assert_int_equal (testkit_view_int (flag, "amount"), LARGE_DEBIT_MIN);
    assert_int_equal (s_debit (kit, "account/alice", "t3", 700), 0);
    const shoal_data_t *row = shoal_testkit_view_row (kit, "alice");
    assert_int_equal (testkit_view_int (row, "flagged"), 2);
    assert_int_equal (testkit_view_int (row, "amount"), LARGE_DEBIT_MIN + 700);
    assert_string_equal (testkit_view_str (row, "last"), "t3");
    //  A debit without its transfer stops it: no row changed, no Flag.
    assert_int_equal (s_debit (kit, "account/alice", NULL, 900), SHOAL_EREJECTED);
    assert_int_equal (shoal_testkit_view_sent (kit), 0);
    assert_int_equal (testkit_view_int (shoal_testkit_view_row (kit, "alice"), "flagged"), 2);
    assert_int_equal (shoal_testkit_view_check_rebuild (kit), 0);
    shoal_testkit_view_destroy (&kit);
}

//  account_transfers: each account's transfers newest first, and an index
//  row while a transfer is under way.
static void s_started (shoal_testkit_view_t *kit, const char *transfer, const char *from,
                       const char *to, int64_t amount)
{
    shoal_rec_t *rec = shoal_testkit_view_event (kit, transfer, "Started");
    shoal_rec_str (rec, "from", from);
    shoal_rec_str (rec, "to", to);
    shoal_rec_int (rec, "amount", amount);
    assert_int_equal (shoal_testkit_view_apply (kit), 0);
}

static void test_bank_account_transfers (void **state)
{
    shoal_testkit_view_t *kit = shoal_testkit_view_new (&account_transfers_projection);
    s_started (kit, "transfer/t1", "account/alice", "account/bob", 10);
    assert_int_equal (shoal_testkit_view_advance (kit, 1000), 0);
    s_started (kit, "transfer/t2", "account/alice", "account/carol", 20);
    assert_int_equal (testkit_view_give (kit, "transfer/t1", "Completed", NULL, 0), 0);
    //  Index rows ("\x01transfer/ID") sort first; t1's is gone.
    assert_int_equal (shoal_testkit_view_rows (kit), 5);
    assert_string_equal (shoal_testkit_view_key (kit, 0), "\x01transfer/t2");
    //  alice's transfers newest first: t2 (position 1), then t1.
    const char *first = shoal_testkit_view_key (kit, 1), *second = shoal_testkit_view_key (kit, 2);
    assert_int_equal (strncmp (first, "alice/", 6), 0);
    assert_int_equal (strncmp (second, "alice/", 6), 0);
    assert_string_equal (testkit_view_str (shoal_testkit_view_row (kit, first), "transfer"), "t2");
    assert_int_equal (testkit_view_int (shoal_testkit_view_row (kit, first), "at"),
                      SHOAL_TESTKIT_EPOCH + 1000);
    assert_string_equal (testkit_view_str (shoal_testkit_view_row (kit, second), "transfer"), "t1");
    assert_string_equal (testkit_view_str (shoal_testkit_view_row (kit, second), "status"),
                         "completed");
    assert_string_equal (
        testkit_view_str (shoal_testkit_view_row (kit, shoal_testkit_view_key (kit, 3)),
                          "direction"),
        "in"); //  bob's
    assert_int_equal (shoal_testkit_view_check_rebuild (kit), 0);
    shoal_testkit_view_destroy (&kit);
}

//  Gives transfer's later event name, with a code if code is not NULL.
static void s_step (shoal_testkit_view_t *kit, const char *transfer, const char *name,
                    const char *code)
{
    shoal_rec_t *rec = shoal_testkit_view_event (kit, transfer, name);
    assert_non_null (rec);
    if (code)
        shoal_rec_str (rec, "code", code);
    assert_int_equal (shoal_testkit_view_apply (kit), 0);
}

//  The status and code ("" if none) of the row at key.
static void s_expect_row (shoal_testkit_view_t *kit, const char *key, const char *status,
                          const char *code)
{
    const shoal_data_t *row = shoal_testkit_view_row (kit, key);
    if (!row)
        fail_msg ("no row %s", key);
    assert_string_equal (testkit_view_str (row, "status"), status);
    char text[64] = "";
    shoal_data_str (row, "code", text, sizeof text);
    assert_string_equal (text, code);
}

//  account_transfers keeps the transfers that start in a batch until its
//  end (its batch state): check_rebuild's one batch takes that path for
//  every transfer, the kit's batch an event the other (its later events
//  written at once), and the rows must come out the same; so must they
//  when a batch holds more transfers, or more of their ids, than the
//  batch state does.
static void test_bank_account_transfers_batched (void **state)
{
    shoal_testkit_view_t *kit = shoal_testkit_view_new (&account_transfers_projection);
    assert_non_null (kit);
    s_started (kit, "transfer/t1", "account/a", "account/b", 10); //  position 0
    s_step (kit, "transfer/t1", "Debited", NULL);
    s_step (kit, "transfer/t1", "Compensating", "account_closed");
    s_step (kit, "transfer/t1", "Compensated", NULL);
    s_started (kit, "transfer/t2", "account/a", "account/c", 20); //  4
    s_step (kit, "transfer/t2", "Failed", "insufficient_funds");
    s_started (kit, "transfer/t3", "account/b", "account/c", 30); //  6
    s_step (kit, "transfer/t3", "Debited", NULL);
    s_started (kit, "transfer/t4", "account/c", "account/a", 40); //  8
    s_step (kit, "transfer/t4", "Compensating", "account_closed");
    //  A transfer started again once ended (a saga never does; the rows
    //  must still not depend on the batches): its rows at both positions.
    s_started (kit, "transfer/t5", "account/a", "account/b", 50); //  10
    s_step (kit, "transfer/t5", "Completed", NULL);
    s_started (kit, "transfer/t5", "account/b", "account/a", 60); //  12
    s_step (kit, "transfer/t5", "Debited", NULL);
    s_expect_row (kit, "a/18446744073709551605", "completed", "");
    s_expect_row (kit, "b/18446744073709551603", "debited", "");
    s_expect_row (kit, "a/18446744073709551615", "compensated", "account_closed");
    s_expect_row (kit, "c/18446744073709551611", "failed", "insufficient_funds");
    s_expect_row (kit, "b/18446744073709551609", "debited", "");
    s_expect_row (kit, "a/18446744073709551607", "compensating", "account_closed");
    //  The two not ended keep their index rows, t4's with its code.
    assert_non_null (shoal_testkit_view_row (kit, "\x01transfer/t3"));
    const shoal_data_t *index = shoal_testkit_view_row (kit, "\x01transfer/t4");
    assert_non_null (index);
    assert_string_equal (testkit_view_str (index, "code"), "account_closed");
    assert_null (shoal_testkit_view_row (kit, "\x01transfer/t1"));
    assert_int_equal (shoal_testkit_view_check_rebuild (kit), 0);
    shoal_testkit_view_destroy (&kit);

    //  1,000 transfers with ids of 185 bytes: more text than the batch
    //  state holds (512 KiB), so the rebuild's one batch keeps the first
    //  ones and writes the others at once.
    kit = shoal_testkit_view_new (&account_transfers_projection);
    char from[SHOAL_ADDRESS_MAX + 1], to[SHOAL_ADDRESS_MAX + 1], transfer[SHOAL_ADDRESS_MAX + 1];
    for (int i = 0; i < 1000; i++) {
        snprintf (from, sizeof from, "account/%0180d-from", i % 7);
        snprintf (to, sizeof to, "account/%0182d-to", i % 11);
        snprintf (transfer, sizeof transfer, "transfer/%0185d", i);
        s_started (kit, transfer, from, to, i + 1);
        if (i % 4 != 3)
            s_step (kit, transfer, i % 4 == 2 ? "Compensating" : "Debited",
                    i % 4 == 2 ? "account_closed" : NULL);
        if (i % 4 < 2)
            s_step (kit, transfer, i % 4 ? "Completed" : "Failed", i % 4 ? NULL : "insufficient");
    }
    assert_int_equal (shoal_testkit_view_check_rebuild (kit), 0);
    shoal_testkit_view_destroy (&kit);

    //  A kept transfer whose code no longer fits: 939 transfers of 558
    //  bytes of ids leave 325 of the 524,287, the 940th's ids take 320,
    //  and its code ("account_closed", 15) does not fit; it is written
    //  event by event from there.
    kit = shoal_testkit_view_new (&account_transfers_projection);
    for (int i = 0; i < 939; i++) {
        snprintf (from, sizeof from, "account/%0180d-from", i % 7);
        snprintf (to, sizeof to, "account/%0182d-to", i % 11);
        snprintf (transfer, sizeof transfer, "transfer/%0185d", i);
        s_started (kit, transfer, from, to, i + 1);
        s_step (kit, transfer, "Debited", NULL);
    }
    snprintf (from, sizeof from, "account/%0106d", 1);
    snprintf (to, sizeof to, "account/%0106d", 2);
    snprintf (transfer, sizeof transfer, "transfer/%0105d", 3);
    s_started (kit, transfer, from, to, 1000);
    s_step (kit, transfer, "Compensating", "account_closed");
    s_step (kit, transfer, "Compensated", NULL);
    assert_int_equal (shoal_testkit_view_check_rebuild (kit), 0);
    shoal_testkit_view_destroy (&kit);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_bank_totals),
        cmocka_unit_test (test_bank_totals_past_64_bits),
        cmocka_unit_test (test_bank_large_debits),
        cmocka_unit_test (test_bank_account_transfers),
        cmocka_unit_test (test_bank_account_transfers_batched),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
