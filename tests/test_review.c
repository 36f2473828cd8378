/*  test_review.c - the review actor (actors/review.c) through the test kit
    (shoal_testkit.h): whom it takes a Flag from, what it refuses, and what
    it keeps. No node: test_bank_projections_reactions drives it through a node, with
    the flags large_debits raises and a client's that are refused.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "review.h"
#include "shoal_testkit.h"
#include <stdio.h>
#include <string.h>

#define SENDER SHOAL_PROJECTION_SENDER "/large_debits"

typedef shoal_testkit_t fixture_t;

static int s_setup (void **state)
{
    *state = shoal_testkit_new (&review_type, "review/alice");
    assert_non_null (*state);
    return 0;
}

static int s_teardown (void **state)
{
    shoal_testkit_destroy ((shoal_testkit_t **) state);
    return 0;
}

//  A Flag from `from` ("" for a client); a NULL field is left out, amount
//  0 too.
static int s_flag (fixture_t *f, const char *from, const char *account, const char *transfer,
                   int64_t amount)
{
    shoal_rec_t *rec = shoal_testkit_command (f, "Flag");
    if (account)
        shoal_rec_str (rec, "account", account);
    if (transfer)
        shoal_rec_str (rec, "transfer", transfer);
    if (amount)
        shoal_rec_int (rec, "amount", amount);
    assert_int_equal (shoal_testkit_from (f, from), 0);
    return shoal_testkit_run (f);
}

static int64_t s_view_int (fixture_t *f, const char *key)
{
    int64_t value = -1;
    assert_int_equal (shoal_data_int (shoal_testkit_view (f), key, &value), 0);
    return value;
}

//  A projection's Flag is kept: one Flagged event with its fields, and
//  the view counts it.
static void test_flag_from_a_projection (void **state)
{
    fixture_t *f = *state;
    assert_int_equal (s_flag (f, SENDER, "alice", "t1", 700), 0);
    assert_int_equal (shoal_testkit_events (f), 1);
    assert_string_equal (shoal_testkit_event (f, 0), "Flagged");
    const shoal_data_t *flagged = shoal_testkit_event_fields (f, 0);
    char transfer[16];
    int64_t amount = 0;
    assert_int_equal (shoal_data_str (flagged, "transfer", transfer, sizeof transfer), 0);
    assert_string_equal (transfer, "t1");
    assert_int_equal (shoal_data_int (flagged, "amount", &amount), 0);
    assert_int_equal (amount, 700);
    assert_int_equal (s_view_int (f, "flags"), 1);
    assert_int_equal (s_view_int (f, "amount"), 700);
}

//  A client's Flag, or another actor's, would put a false flag in front
//  of the person who reviews: refused, nothing kept.
static void test_flag_from_others_refused (void **state)
{
    fixture_t *f = *state;
    const char *others[] = {"", "transfer/t1", "account/alice", "projections/large_debits",
                            "projectionx/large_debits"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        assert_int_equal (s_flag (f, others[i], "alice", "t1", 700), SHOAL_EREJECTED);
        assert_string_equal (shoal_testkit_code (f), "not_a_projection");
    }
    assert_int_equal (shoal_testkit_events (f), 0);
    assert_int_equal (s_view_int (f, "flags"), 0);
}

static void test_bad_fields_refused (void **state)
{
    fixture_t *f = *state;
    struct {
        const char *account, *transfer;
        int64_t amount;
        const char *code;
    } bad[] = {
        {NULL, "t", 5, "invalid_field"},  {"", "t", 5, "invalid_field"},
        {"a", NULL, 5, "invalid_field"},  {"a", "t", 0, "invalid_amount"},
        {"a", "t", -5, "invalid_amount"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal (s_flag (f, SENDER, bad[i].account, bad[i].transfer, bad[i].amount),
                          SHOAL_EREJECTED);
        assert_string_equal (shoal_testkit_code (f), bad[i].code);
    }
    //  A transfer that is not a string, an amount that is not an integer.
    shoal_rec_t *rec = shoal_testkit_command (f, "Flag");
    shoal_rec_str (rec, "account", "a");
    shoal_rec_int (rec, "transfer", 7);
    shoal_rec_int (rec, "amount", 5);
    assert_int_equal (shoal_testkit_from (f, SENDER), 0);
    assert_int_equal (shoal_testkit_run (f), SHOAL_EREJECTED);
    assert_string_equal (shoal_testkit_code (f), "invalid_field");
    rec = shoal_testkit_command (f, "Flag");
    shoal_rec_str (rec, "account", "a");
    shoal_rec_str (rec, "transfer", "t");
    shoal_rec_str (rec, "amount", "x");
    assert_int_equal (shoal_testkit_from (f, SENDER), 0);
    assert_int_equal (shoal_testkit_run (f), SHOAL_EREJECTED);
    assert_string_equal (shoal_testkit_code (f), "invalid_amount");
    shoal_testkit_command (f, "Clear");
    assert_int_equal (shoal_testkit_from (f, SENDER), 0);
    assert_int_equal (shoal_testkit_run (f), SHOAL_EREJECTED);
    assert_string_equal (shoal_testkit_code (f), "unknown_command");
    assert_int_equal (shoal_testkit_events (f), 0);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_flag_from_a_projection, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_flag_from_others_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_bad_fields_refused, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
