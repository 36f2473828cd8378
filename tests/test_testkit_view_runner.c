/*  test_testkit_view_runner.c - the kit's projection runner (runtime/testkit_view.c):
    the usage example, get, put and delete, a failed apply keeping nothing,
    the filter, key order, reactions, the rebuild check.
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

static void test_usage (void **state)
{
    shoal_testkit_view_t *kit = shoal_testkit_view_new (&testkit_view_counts);
    assert_non_null (kit);
    assert_int_equal (shoal_testkit_view_now (kit), SHOAL_TESTKIT_EPOCH);
    assert_int_equal (testkit_view_give (kit, "account/alice", "Deposited", "amount", 10), 0);
    assert_true (shoal_testkit_view_wanted (kit));
    assert_int_equal (testkit_view_give (kit, "transfer/t1", "Started", NULL, 0), 0);
    assert_false (shoal_testkit_view_wanted (kit));
    assert_int_equal (shoal_testkit_view_advance (kit, 5000), 0);
    assert_int_equal (testkit_view_give (kit, "account/alice", "Withdrawn", "amount", -3), 0);
    assert_int_equal (testkit_view_give (kit, "account/bob", "Opened", NULL, 0), 0);
    assert_int_equal (shoal_testkit_view_given (kit), 4);
    assert_string_equal (shoal_testkit_view_why (kit), "");

    const shoal_data_t *alice = shoal_testkit_view_row (kit, "account/alice");
    assert_non_null (alice);
    assert_int_equal (testkit_view_int (alice, "events"), 2);
    assert_string_equal (testkit_view_str (alice, "type"), "account");
    assert_string_equal (testkit_view_str (alice, "id"), "alice");
    assert_string_equal (testkit_view_str (alice, "last"), "Withdrawn");
    assert_int_equal (testkit_view_int (alice, "seq"), 2);      //  alice's second event
    assert_int_equal (testkit_view_int (alice, "position"), 2); //  the unwanted Started counts
    assert_int_equal (testkit_view_int (alice, "created"), SHOAL_TESTKIT_EPOCH + 5000);
    const shoal_data_t *bob = shoal_testkit_view_row (kit, "account/bob");
    assert_int_equal (testkit_view_int (bob, "seq"), 1);
    assert_int_equal (testkit_view_int (bob, "position"), 3);
    assert_int_equal (testkit_view_int (shoal_testkit_view_row (kit, "total"), "total"), 7);
    assert_null (shoal_testkit_view_row (kit, "transfer/t1"));
    assert_int_equal (shoal_testkit_view_rows (kit), 3);
    assert_int_equal (shoal_testkit_view_check_rebuild (kit), 0);
    shoal_testkit_view_destroy (&kit);
    shoal_testkit_view_destroy (&kit);
    assert_null (kit);
}

static void test_get_put_delete (void **state)
{
    shoal_testkit_view_t *kit = shoal_testkit_view_new (&testkit_view_kv);
    assert_non_null (kit);
    assert_int_equal (testkit_view_kv_give (kit, "Set", "a", 1), 0);
    assert_int_equal (testkit_view_kv_give (kit, "Set", "a", 2), 0); //  replaces
    assert_int_equal (testkit_view_int (shoal_testkit_view_row (kit, "a"), "value"), 2);
    assert_int_equal (testkit_view_kv_give (kit, "SetGet", "b", 5), 0);
    assert_int_equal (testkit_view_int (shoal_testkit_view_row (kit, "copy"), "value"), 5);
    assert_int_equal (testkit_view_kv_give (kit, "Del", "a", 0), 0);
    assert_null (shoal_testkit_view_row (kit, "a"));
    assert_int_equal (testkit_view_kv_give (kit, "Del", "never", 0), 0); //  nothing to delete
    assert_int_equal (testkit_view_kv_give (kit, "DelGet", "b", 0), 0);
    assert_null (shoal_testkit_view_row (kit, "b"));
    bool gone = false;
    assert_int_equal (shoal_data_bool (shoal_testkit_view_row (kit, "gone"), "gone", &gone), 0);
    assert_true (gone);
    assert_int_equal (shoal_testkit_view_rows (kit), 2); //  copy, gone
    //  Within one apply, the last write of a key wins.
    assert_int_equal (testkit_view_kv_give (kit, "SetTwice", "c", 7), 0);
    assert_int_equal (testkit_view_int (shoal_testkit_view_row (kit, "c"), "value"), 8);
    assert_int_equal (testkit_view_kv_give (kit, "SetDel", "c", 9), 0);
    assert_null (shoal_testkit_view_row (kit, "c"));
    assert_int_equal (shoal_testkit_view_rows (kit), 2);
    assert_int_equal (shoal_testkit_view_check_rebuild (kit), 0);
    shoal_testkit_view_destroy (&kit);
}

static void test_failed_apply_keeps_nothing (void **state)
{
    shoal_testkit_view_t *kit = shoal_testkit_view_new (&testkit_view_kv);
    assert_int_equal (testkit_view_kv_give (kit, "Set", "a", 1), 0);
    assert_int_equal (testkit_view_kv_give (kit, "Fail", "a", 0), SHOAL_EREJECTED);
    assert_string_equal (shoal_testkit_view_why (kit), "cannot take a");
    assert_int_equal (testkit_view_int (shoal_testkit_view_row (kit, "a"), "value"), 1);
    assert_int_equal (shoal_testkit_view_sent (kit), 0);
    assert_int_equal (testkit_view_kv_give (kit, "Crash", "a", 0), SHOAL_ETYPE);
    assert_non_null (strstr (shoal_testkit_view_why (kit), "apply returned"));
    //  The failed events keep their positions; rebuilds leave them out.
    assert_int_equal (shoal_testkit_view_given (kit), 3);
    assert_int_equal (testkit_view_kv_give (kit, "Set", "b", 2), 0);
    assert_string_equal (shoal_testkit_view_why (kit), "");
    assert_int_equal (shoal_testkit_view_rows (kit), 2);
    assert_int_equal (shoal_testkit_view_check_rebuild (kit), 0);
    shoal_testkit_view_destroy (&kit);
}

//  Which of five events (account/a Opened, account/a Deposited, transfer/t
//  Started, transfer/t Completed, accounts/x Opened) events wants, as a
//  string of 0 and 1.
static const char *s_wanted (const char *events)
{
    static char wanted[6];
    const shoal_projection_t projection = {
        .name = "filter", .version = 1, .events = events, .apply = testkit_view_noop_apply};
    shoal_testkit_view_t *kit = shoal_testkit_view_new (&projection);
    assert_non_null (kit);
    const char *given[5][2] = {{"account/a", "Opened"},
                               {"account/a", "Deposited"},
                               {"transfer/t", "Started"},
                               {"transfer/t", "Completed"},
                               {"accounts/x", "Opened"}};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal (testkit_view_give (kit, given[i][0], given[i][1], NULL, 0), 0);
        wanted[i] = shoal_testkit_view_wanted (kit) ? '1' : '0';
    }
    wanted[5] = 0;
    shoal_testkit_view_destroy (&kit);
    return wanted;
}

static void test_filter (void **state)
{
    assert_string_equal (s_wanted (NULL), "11111");
    assert_string_equal (s_wanted ("*"), "11111");
    assert_string_equal (s_wanted ("account"), "11000");
    assert_string_equal (s_wanted ("account:Deposited"), "01000");
    assert_string_equal (s_wanted ("  transfer:Completed   account:Opened "), "10010");
    assert_string_equal (s_wanted ("transfer:Started *"), "11111");
    assert_string_equal (s_wanted ("accounts"), "00001");
    assert_string_equal (s_wanted ("account:Closed"), "00000");
}

//  --------------------------------------------------------------------------
//  Key order and reactions

static void test_key_order (void **state)
{
    shoal_testkit_view_t *kit = shoal_testkit_view_new (&testkit_view_kv);
    const char *keys[] = {"b", "\xc3\xa9t\xc3\xa9", "ab", "B", "a", "a b", "10", "9"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_int_equal (testkit_view_kv_give (kit, "Set", keys[i], (int64_t) i), 0);
    const char *sorted[] = {"10", "9", "B", "a", "a b", "ab", "b", "\xc3\xa9t\xc3\xa9"};
    assert_int_equal (shoal_testkit_view_rows (kit), 8);
    for (size_t i = 0; i < 8; i++)
        assert_string_equal (shoal_testkit_view_key (kit, i), sorted[i]);
    assert_null (shoal_testkit_view_key (kit, 8));
    shoal_testkit_view_destroy (&kit);
}

//  notify: on account:Flagged, a Review command to review/ID, and one to
//  audit/all; both with the event's position.
static int s_notify_apply (shoal_view_t *view, const shoal_event_t *event)
{
    char to[SHOAL_ADDRESS_MAX + 1];
    snprintf (to, sizeof to, "review/%s", shoal_event_id (event));
    shoal_rec_t *review = shoal_view_send (view, to, "Review");
    shoal_rec_int (review, "position", (int64_t) shoal_event_position (event));
    shoal_rec_str (shoal_view_send (view, "audit/all", "Note"), "of", shoal_event_address (event));
    return 0;
}

static const shoal_projection_t s_notify = {
    .name = "notify",
    .version = 1,
    .events = "account:Flagged",
    .apply = s_notify_apply,
};

static void test_reactions (void **state)
{
    shoal_testkit_view_t *kit = shoal_testkit_view_new (&s_notify);
    assert_int_equal (testkit_view_give (kit, "account/alice", "Opened", NULL, 0), 0);
    assert_int_equal (testkit_view_give (kit, "account/alice", "Flagged", NULL, 0), 0);
    assert_int_equal (shoal_testkit_view_sent (kit), 2);
    assert_string_equal (shoal_testkit_view_sent_to (kit, 0), "review/alice");
    assert_string_equal (shoal_testkit_view_sent_name (kit, 0), "Review");
    assert_int_equal (testkit_view_int (shoal_testkit_view_sent_fields (kit, 0), "position"), 1);
    assert_string_equal (shoal_testkit_view_sent_to (kit, 1), "audit/all");
    assert_string_equal (shoal_testkit_view_sent_name (kit, 1), "Note");
    assert_string_equal (testkit_view_str (shoal_testkit_view_sent_fields (kit, 1), "of"),
                         "account/alice");
    assert_null (shoal_testkit_view_sent_to (kit, 2));
    assert_null (shoal_testkit_view_sent_fields (kit, 2));
    assert_int_equal (shoal_testkit_view_rows (kit), 0);
    //  The rebuild sends nothing and leaves the last apply's commands.
    assert_int_equal (shoal_testkit_view_check_rebuild (kit), 0);
    assert_int_equal (shoal_testkit_view_sent (kit), 2);
    //  Commands are the last apply's: an event not wanted sends none.
    assert_int_equal (testkit_view_give (kit, "account/alice", "Closed", NULL, 0), 0);
    assert_int_equal (shoal_testkit_view_sent (kit), 0);
    shoal_testkit_view_destroy (&kit);
}

//  --------------------------------------------------------------------------
//  check_rebuild

//  A projection that numbers the events it sees with a static counter:
//  right the first time, wrong on a rebuild (the counter goes on).
static int s_impure_seen;

static int s_impure_apply (shoal_view_t *view, const shoal_event_t *event)
{
    shoal_rec_int (shoal_view_put (view, shoal_event_address (event)), "n", ++s_impure_seen);
    return 0;
}

static const shoal_projection_t s_impure = {
    .name = "impure",
    .version = 1,
    .events = "account",
    .apply = s_impure_apply,
};

//  Refuses an event on its second sight (a static flag): the rebuild's
//  apply refuses what the live one took.
static int s_once_apply (shoal_view_t *view, const shoal_event_t *event)
{
    static bool seen;
    if (seen)
        return shoal_view_fail (view, "seen before");
    seen = true;
    return 0;
}

static void test_check_rebuild (void **state)
{
    shoal_testkit_view_t *kit = shoal_testkit_view_new (&s_impure);
    assert_int_equal (testkit_view_give (kit, "account/a", "Opened", NULL, 0), 0);
    assert_int_equal (testkit_view_give (kit, "account/b", "Opened", NULL, 0), 0);
    assert_int_equal (shoal_testkit_view_check_rebuild (kit), SHOAL_EFORMAT);
    assert_non_null (strstr (shoal_testkit_view_why (kit), "\"account/a\" differs"));
    //  The live rows are as they were.
    assert_int_equal (testkit_view_int (shoal_testkit_view_row (kit, "account/a"), "n"), 1);
    assert_int_equal (testkit_view_int (shoal_testkit_view_row (kit, "account/b"), "n"), 2);
    shoal_testkit_view_destroy (&kit);

    const shoal_projection_t once = {.name = "once", .version = 1, .apply = s_once_apply};
    kit = shoal_testkit_view_new (&once);
    assert_int_equal (testkit_view_give (kit, "account/a", "Opened", NULL, 0), 0);
    assert_int_equal (shoal_testkit_view_check_rebuild (kit), SHOAL_EFORMAT);
    assert_non_null (strstr (shoal_testkit_view_why (kit), "position 0"));
    assert_non_null (strstr (shoal_testkit_view_why (kit), "seen before"));
    shoal_testkit_view_destroy (&kit);

    //  No event: nothing to differ.
    kit = shoal_testkit_view_new (&testkit_view_counts);
    assert_int_equal (shoal_testkit_view_check_rebuild (kit), 0);
    shoal_testkit_view_destroy (&kit);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_usage),
        cmocka_unit_test (test_get_put_delete),
        cmocka_unit_test (test_failed_apply_keeps_nothing),
        cmocka_unit_test (test_filter),
        cmocka_unit_test (test_key_order),
        cmocka_unit_test (test_reactions),
        cmocka_unit_test (test_check_rebuild),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
