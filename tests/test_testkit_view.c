/*  test_testkit_view.c - the test kit's projection runner
    (runtime/testkit_view.c): events given one at a time reach apply when
    the events list wants them, with their position, seq and time; rows
    are read back in key order; a failed apply keeps nothing; reactions
    are recorded; check_rebuild passes for a pure projection and catches
    one that keeps global state; misuse fails the apply as in a node; a
    batch state is zeroed for each event, batch_end runs after its apply
    and may not send; a module of an older struct size registers. And
    the bank's own projections through the kit. Links shoal_testkit alone
    (and the bank's projections, which need shoal.h only).
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

static int64_t s_int (const shoal_data_t *data, const char *key)
{
    int64_t value = -1;
    assert_int_equal (shoal_data_int (data, key, &value), 0);
    return value;
}

static const char *s_str (const shoal_data_t *data, const char *key)
{
    static char text[600];
    assert_int_equal (shoal_data_str (data, key, text, sizeof text), 0);
    return text;
}

//  Gives one event with an int field (none when key is NULL) and applies it.
static int s_give (shoal_testkit_view_t *kit, const char *address, const char *name,
                   const char *key, int64_t value)
{
    shoal_rec_t *rec = shoal_testkit_view_event (kit, address, name);
    assert_non_null (rec);
    if (key)
        shoal_rec_int (rec, key, value);
    return shoal_testkit_view_apply (kit);
}

//  --------------------------------------------------------------------------
//  counts: per address, the events seen and the last one's place; "total"
//  the sum of their "amount" fields.

static int s_counts_apply (shoal_view_t *view, const shoal_event_t *event)
{
    int64_t events = 0, total = 0, amount = 0;
    const shoal_data_t *row;
    if (shoal_view_get (view, shoal_event_address (event), &row) == 0)
        events = s_int (row, "events");
    if (shoal_view_get (view, "total", &row) == 0)
        total = s_int (row, "total");
    shoal_data_int (shoal_event_data (event), "amount", &amount);
    shoal_rec_t *out = shoal_view_put (view, shoal_event_address (event));
    shoal_rec_int (out, "events", events + 1);
    shoal_rec_str (out, "type", shoal_event_type (event));
    shoal_rec_str (out, "id", shoal_event_id (event));
    shoal_rec_str (out, "last", shoal_event_name (event));
    shoal_rec_int (out, "seq", shoal_event_seq (event));
    shoal_rec_int (out, "position", (int64_t) shoal_event_position (event));
    shoal_rec_int (out, "created", shoal_event_created (event));
    shoal_rec_int (shoal_view_put (view, "total"), "total", total + amount);
    return 0;
}

static const shoal_projection_t s_counts = {
    .name = "counts",
    .version = 1,
    .events = "account",
    .apply = s_counts_apply,
};

static void test_usage (void **state)
{
    shoal_testkit_view_t *kit = shoal_testkit_view_new (&s_counts);
    assert_non_null (kit);
    assert_int_equal (shoal_testkit_view_now (kit), SHOAL_TESTKIT_EPOCH);
    assert_int_equal (s_give (kit, "account/alice", "Deposited", "amount", 10), 0);
    assert_true (shoal_testkit_view_wanted (kit));
    assert_int_equal (s_give (kit, "transfer/t1", "Started", NULL, 0), 0);
    assert_false (shoal_testkit_view_wanted (kit));
    assert_int_equal (shoal_testkit_view_advance (kit, 5000), 0);
    assert_int_equal (s_give (kit, "account/alice", "Withdrawn", "amount", -3), 0);
    assert_int_equal (s_give (kit, "account/bob", "Opened", NULL, 0), 0);
    assert_int_equal (shoal_testkit_view_given (kit), 4);
    assert_string_equal (shoal_testkit_view_why (kit), "");

    const shoal_data_t *alice = shoal_testkit_view_row (kit, "account/alice");
    assert_non_null (alice);
    assert_int_equal (s_int (alice, "events"), 2);
    assert_string_equal (s_str (alice, "type"), "account");
    assert_string_equal (s_str (alice, "id"), "alice");
    assert_string_equal (s_str (alice, "last"), "Withdrawn");
    assert_int_equal (s_int (alice, "seq"), 2);      //  alice's second event
    assert_int_equal (s_int (alice, "position"), 2); //  the unwanted Started counts
    assert_int_equal (s_int (alice, "created"), SHOAL_TESTKIT_EPOCH + 5000);
    const shoal_data_t *bob = shoal_testkit_view_row (kit, "account/bob");
    assert_int_equal (s_int (bob, "seq"), 1);
    assert_int_equal (s_int (bob, "position"), 3);
    assert_int_equal (s_int (shoal_testkit_view_row (kit, "total"), "total"), 7);
    assert_null (shoal_testkit_view_row (kit, "transfer/t1"));
    assert_int_equal (shoal_testkit_view_rows (kit), 3);
    assert_int_equal (shoal_testkit_view_check_rebuild (kit), 0);
    shoal_testkit_view_destroy (&kit);
    shoal_testkit_view_destroy (&kit);
    assert_null (kit);
}

//  --------------------------------------------------------------------------
//  kv: kv/ID Set{key, value}, Del{key}, SetGet{key, value} (puts, then
//  reads it back into "copy"), DelGet{key} (deletes, then reads: "gone"
//  records whether it was found), SetTwice{key, value} (value, then
//  value + 1), SetDel{key, value} (puts, then deletes), New{key, value}
//  (puts it new), NewDel{key, value} (puts it new, deletes), NewSet{key,
//  value} (puts it new, then value + 1), DelNew{key, value} (deletes, then
//  puts it new), Fail{key} (puts,
//  sends, then fails), Crash (returns an error of its own).

static int s_kv_apply (shoal_view_t *view, const shoal_event_t *event)
{
    const char *name = shoal_event_name (event);
    const shoal_data_t *data = shoal_event_data (event), *row;
    char key[600] = "";
    int64_t value = 0;
    shoal_data_str (data, "key", key, sizeof key);
    shoal_data_int (data, "value", &value);
    if (strcmp (name, "Set") == 0 || strcmp (name, "SetGet") == 0) {
        shoal_rec_int (shoal_view_put (view, key), "value", value);
        if (strcmp (name, "SetGet") == 0) {
            //  The put is closed by the get, which sees it.
            if (shoal_view_get (view, key, &row) != 0)
                return shoal_view_fail (view, "SetGet: %s not found", key);
            shoal_rec_int (shoal_view_put (view, "copy"), "value", s_int (row, "value"));
        }
    } else if (strcmp (name, "Del") == 0 || strcmp (name, "DelGet") == 0) {
        int rc = shoal_view_delete (view, key);
        if (rc)
            return rc;
        if (strcmp (name, "DelGet") == 0)
            shoal_rec_bool (shoal_view_put (view, "gone"), "gone",
                            shoal_view_get (view, key, &row) == SHOAL_ENOTFOUND);
    } else if (strcmp (name, "SetTwice") == 0) {
        shoal_rec_int (shoal_view_put (view, key), "value", value);
        shoal_rec_int (shoal_view_put (view, key), "value", value + 1);
    } else if (strcmp (name, "SetDel") == 0) {
        shoal_rec_int (shoal_view_put (view, key), "value", value);
        shoal_view_delete (view, key);
    } else if (strcmp (name, "New") == 0 || strcmp (name, "NewDel") == 0 ||
               strcmp (name, "NewSet") == 0) {
        shoal_rec_int (shoal_view_put_new (view, key), "value", value);
        if (strcmp (name, "NewDel") == 0)
            shoal_view_delete (view, key);
        if (strcmp (name, "NewSet") == 0)
            shoal_rec_int (shoal_view_put (view, key), "value", value + 1);
    } else if (strcmp (name, "DelNew") == 0) {
        shoal_view_delete (view, key);
        shoal_rec_int (shoal_view_put_new (view, key), "value", value);
    } else if (strcmp (name, "Fail") == 0) {
        shoal_rec_int (shoal_view_put (view, key), "value", 666);
        shoal_rec_str (shoal_view_send (view, "alarm/a1", "Ring"), "key", key);
        return shoal_view_fail (view, "cannot take %s", key);
    } else if (strcmp (name, "Crash") == 0)
        return SHOAL_ETYPE;
    return 0;
}

static const shoal_projection_t s_kv = {
    .name = "kv",
    .version = 1,
    .apply = s_kv_apply, //  events NULL: every event
};

static int s_kv_give (shoal_testkit_view_t *kit, const char *name, const char *key, int64_t value)
{
    shoal_rec_t *rec = shoal_testkit_view_event (kit, "kv/k1", name);
    assert_non_null (rec);
    shoal_rec_str (rec, "key", key);
    shoal_rec_int (rec, "value", value);
    return shoal_testkit_view_apply (kit);
}

static void test_get_put_delete (void **state)
{
    shoal_testkit_view_t *kit = shoal_testkit_view_new (&s_kv);
    assert_non_null (kit);
    assert_int_equal (s_kv_give (kit, "Set", "a", 1), 0);
    assert_int_equal (s_kv_give (kit, "Set", "a", 2), 0); //  replaces
    assert_int_equal (s_int (shoal_testkit_view_row (kit, "a"), "value"), 2);
    assert_int_equal (s_kv_give (kit, "SetGet", "b", 5), 0);
    assert_int_equal (s_int (shoal_testkit_view_row (kit, "copy"), "value"), 5);
    assert_int_equal (s_kv_give (kit, "Del", "a", 0), 0);
    assert_null (shoal_testkit_view_row (kit, "a"));
    assert_int_equal (s_kv_give (kit, "Del", "never", 0), 0); //  nothing to delete
    assert_int_equal (s_kv_give (kit, "DelGet", "b", 0), 0);
    assert_null (shoal_testkit_view_row (kit, "b"));
    bool gone = false;
    assert_int_equal (shoal_data_bool (shoal_testkit_view_row (kit, "gone"), "gone", &gone), 0);
    assert_true (gone);
    assert_int_equal (shoal_testkit_view_rows (kit), 2); //  copy, gone
    //  Within one apply, the last write of a key wins.
    assert_int_equal (s_kv_give (kit, "SetTwice", "c", 7), 0);
    assert_int_equal (s_int (shoal_testkit_view_row (kit, "c"), "value"), 8);
    assert_int_equal (s_kv_give (kit, "SetDel", "c", 9), 0);
    assert_null (shoal_testkit_view_row (kit, "c"));
    assert_int_equal (shoal_testkit_view_rows (kit), 2);
    assert_int_equal (shoal_testkit_view_check_rebuild (kit), 0);
    shoal_testkit_view_destroy (&kit);
}

static void test_failed_apply_keeps_nothing (void **state)
{
    shoal_testkit_view_t *kit = shoal_testkit_view_new (&s_kv);
    assert_int_equal (s_kv_give (kit, "Set", "a", 1), 0);
    assert_int_equal (s_kv_give (kit, "Fail", "a", 0), SHOAL_EREJECTED);
    assert_string_equal (shoal_testkit_view_why (kit), "cannot take a");
    assert_int_equal (s_int (shoal_testkit_view_row (kit, "a"), "value"), 1);
    assert_int_equal (shoal_testkit_view_sent (kit), 0);
    assert_int_equal (s_kv_give (kit, "Crash", "a", 0), SHOAL_ETYPE);
    assert_non_null (strstr (shoal_testkit_view_why (kit), "apply returned"));
    //  The failed events keep their positions; rebuilds leave them out.
    assert_int_equal (shoal_testkit_view_given (kit), 3);
    assert_int_equal (s_kv_give (kit, "Set", "b", 2), 0);
    assert_string_equal (shoal_testkit_view_why (kit), "");
    assert_int_equal (shoal_testkit_view_rows (kit), 2);
    assert_int_equal (shoal_testkit_view_check_rebuild (kit), 0);
    shoal_testkit_view_destroy (&kit);
}

//  --------------------------------------------------------------------------
//  The events list, as a node reads it

static int s_noop_apply (shoal_view_t *view, const shoal_event_t *event)
{
    return 0;
}

//  Which of five events (account/a Opened, account/a Deposited, transfer/t
//  Started, transfer/t Completed, accounts/x Opened) events wants, as a
//  string of 0 and 1.
static const char *s_wanted (const char *events)
{
    static char wanted[6];
    const shoal_projection_t projection = {
        .name = "filter", .version = 1, .events = events, .apply = s_noop_apply};
    shoal_testkit_view_t *kit = shoal_testkit_view_new (&projection);
    assert_non_null (kit);
    const char *given[5][2] = {{"account/a", "Opened"},
                               {"account/a", "Deposited"},
                               {"transfer/t", "Started"},
                               {"transfer/t", "Completed"},
                               {"accounts/x", "Opened"}};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal (s_give (kit, given[i][0], given[i][1], NULL, 0), 0);
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
    shoal_testkit_view_t *kit = shoal_testkit_view_new (&s_kv);
    const char *keys[] = {"b", "\xc3\xa9t\xc3\xa9", "ab", "B", "a", "a b", "10", "9"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_int_equal (s_kv_give (kit, "Set", keys[i], (int64_t) i), 0);
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
    assert_int_equal (s_give (kit, "account/alice", "Opened", NULL, 0), 0);
    assert_int_equal (s_give (kit, "account/alice", "Flagged", NULL, 0), 0);
    assert_int_equal (shoal_testkit_view_sent (kit), 2);
    assert_string_equal (shoal_testkit_view_sent_to (kit, 0), "review/alice");
    assert_string_equal (shoal_testkit_view_sent_name (kit, 0), "Review");
    assert_int_equal (s_int (shoal_testkit_view_sent_fields (kit, 0), "position"), 1);
    assert_string_equal (shoal_testkit_view_sent_to (kit, 1), "audit/all");
    assert_string_equal (shoal_testkit_view_sent_name (kit, 1), "Note");
    assert_string_equal (s_str (shoal_testkit_view_sent_fields (kit, 1), "of"), "account/alice");
    assert_null (shoal_testkit_view_sent_to (kit, 2));
    assert_null (shoal_testkit_view_sent_fields (kit, 2));
    assert_int_equal (shoal_testkit_view_rows (kit), 0);
    //  The rebuild sends nothing and leaves the last apply's commands.
    assert_int_equal (shoal_testkit_view_check_rebuild (kit), 0);
    assert_int_equal (shoal_testkit_view_sent (kit), 2);
    //  Commands are the last apply's: an event not wanted sends none.
    assert_int_equal (s_give (kit, "account/alice", "Closed", NULL, 0), 0);
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
    assert_int_equal (s_give (kit, "account/a", "Opened", NULL, 0), 0);
    assert_int_equal (s_give (kit, "account/b", "Opened", NULL, 0), 0);
    assert_int_equal (shoal_testkit_view_check_rebuild (kit), SHOAL_EFORMAT);
    assert_non_null (strstr (shoal_testkit_view_why (kit), "\"account/a\" differs"));
    //  The live rows are as they were.
    assert_int_equal (s_int (shoal_testkit_view_row (kit, "account/a"), "n"), 1);
    assert_int_equal (s_int (shoal_testkit_view_row (kit, "account/b"), "n"), 2);
    shoal_testkit_view_destroy (&kit);

    const shoal_projection_t once = {.name = "once", .version = 1, .apply = s_once_apply};
    kit = shoal_testkit_view_new (&once);
    assert_int_equal (s_give (kit, "account/a", "Opened", NULL, 0), 0);
    assert_int_equal (shoal_testkit_view_check_rebuild (kit), SHOAL_EFORMAT);
    assert_non_null (strstr (shoal_testkit_view_why (kit), "position 0"));
    assert_non_null (strstr (shoal_testkit_view_why (kit), "seen before"));
    shoal_testkit_view_destroy (&kit);

    //  No event: nothing to differ.
    kit = shoal_testkit_view_new (&s_counts);
    assert_int_equal (shoal_testkit_view_check_rebuild (kit), 0);
    shoal_testkit_view_destroy (&kit);
}

//  --------------------------------------------------------------------------
//  Misuse

//  misuse: one way to misuse shoal_view_* per event name, after a put
//  that must not be kept.
static int s_misuse_apply (shoal_view_t *view, const shoal_event_t *event)
{
    const char *name = shoal_event_name (event);
    char long_key[SHOAL_VIEW_KEY_MAX + 2];
    memset (long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = 0;
    shoal_rec_int (shoal_view_put (view, "kept"), "by", 1);
    if (strcmp (name, "LongestKey") == 0) {
        long_key[SHOAL_VIEW_KEY_MAX] = 0; //  512 bytes: the longest
        shoal_view_put (view, long_key);
    } else if (strcmp (name, "LongKey") == 0)
        shoal_view_put (view, long_key);
    else if (strcmp (name, "EmptyKey") == 0) {
        const shoal_data_t *row;
        assert_int_equal (shoal_view_get (view, "", &row), SHOAL_EINVAL);
    } else if (strcmp (name, "NullKey") == 0)
        assert_int_equal (shoal_view_delete (view, NULL), SHOAL_EINVAL);
    else if (strcmp (name, "BadTo") == 0)
        assert_null (shoal_view_send (view, "no-slash", "Go"));
    else if (strcmp (name, "BadCommand") == 0)
        assert_null (shoal_view_send (view, "a/b", "$internal"));
    else if (strcmp (name, "TooMany") == 0) {
        for (int i = 0; i < 16; i++)
            assert_non_null (shoal_view_send (view, "a/b", "Go"));
        assert_null (shoal_view_send (view, "a/b", "Go"));
    } else if (strcmp (name, "OpenMap") == 0)
        shoal_rec_map_begin (shoal_view_put (view, "open"), "inner");
    else if (strcmp (name, "NoRow") == 0)
        assert_int_equal (shoal_view_get (view, "kept", NULL), SHOAL_EINVAL);
    return 0;
}

static const shoal_projection_t s_misuse = {
    .name = "misuse",
    .version = 1,
    .events = "*",
    .apply = s_misuse_apply,
};

//  shoal_view_put_new: a key that holds no row takes it; one that holds
//  a row fails the apply (the kit always knows), and nothing changes; a
//  row put new and deleted in one apply is gone.
static void test_put_new (void **state)
{
    shoal_testkit_view_t *kit = shoal_testkit_view_new (&s_kv);
    assert_int_equal (s_kv_give (kit, "New", "n", 1), 0);
    assert_int_equal (s_int (shoal_testkit_view_row (kit, "n"), "value"), 1);
    assert_int_equal (s_kv_give (kit, "New", "n", 2), SHOAL_EEXIST);
    assert_non_null (
        strstr (shoal_testkit_view_why (kit), "shoal_view_put_new of n, which holds a row"));
    assert_int_equal (s_int (shoal_testkit_view_row (kit, "n"), "value"), 1);
    assert_int_equal (s_kv_give (kit, "SetTwice", "s", 1), 0);
    assert_int_equal (s_kv_give (kit, "New", "s", 5), SHOAL_EEXIST);
    assert_int_equal (s_kv_give (kit, "Del", "n", 0), 0);
    assert_int_equal (s_kv_give (kit, "New", "n", 3), 0); //  deleted: new again
    assert_int_equal (s_int (shoal_testkit_view_row (kit, "n"), "value"), 3);
    assert_int_equal (s_kv_give (kit, "NewDel", "m", 4), 0);
    assert_null (shoal_testkit_view_row (kit, "m"));
    assert_int_equal (shoal_testkit_view_rows (kit), 2); //  n, s
    //  Within one apply: a row put new, then put again; a held row
    //  deleted, then put new.
    assert_int_equal (s_kv_give (kit, "NewSet", "t", 6), 0);
    assert_int_equal (s_int (shoal_testkit_view_row (kit, "t"), "value"), 7);
    assert_int_equal (s_kv_give (kit, "DelNew", "t", 9), 0);
    assert_int_equal (s_int (shoal_testkit_view_row (kit, "t"), "value"), 9);
    assert_int_equal (s_kv_give (kit, "NewSet", "t", 1), SHOAL_EEXIST);
    assert_int_equal (s_int (shoal_testkit_view_row (kit, "t"), "value"), 9);
    assert_int_equal (shoal_testkit_view_check_rebuild (kit), 0);
    assert_null (shoal_view_put_new (NULL, "n"));
    shoal_testkit_view_destroy (&kit);
}

static void test_misuse (void **state)
{
    shoal_testkit_view_t *kit = shoal_testkit_view_new (&s_misuse);
    //  Each says the call and the limit, as a node does (test_projections_crash).
    struct {
        const char *name;
        int rc;
        const char *why;
    } cases[] = {
        {"LongKey", SHOAL_EINVAL, "shoal_view_put: a row key of more than 512 bytes"},
        {"EmptyKey", SHOAL_EINVAL, "shoal_view_get: an empty row key (1 to 512 bytes)"},
        {"NullKey", SHOAL_EINVAL, "shoal_view_delete: a NULL row key"},
        {"BadTo", SHOAL_EINVAL,
         "shoal_view_send: a command sent to something that is not an address (TYPE/ID, at most "
         "264 bytes)"},
        {"BadCommand", SHOAL_EINVAL,
         "shoal_view_send: a command name that is not a name (1 to 63 printable ASCII bytes, no "
         "space, not starting with $)"},
        {"TooMany", SHOAL_ETOOBIG, "shoal_view_send: more than 16 commands sent by one apply"},
        {"OpenMap", SHOAL_EINVAL,
         "the row open: a field written wrongly with shoal_rec_*: a map or array begun and not "
         "ended"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal (s_give (kit, "m/1", cases[i].name, NULL, 0), cases[i].rc);
        assert_string_equal (shoal_testkit_view_why (kit), cases[i].why);
        assert_int_equal (shoal_testkit_view_rows (kit), 0);
        assert_int_equal (shoal_testkit_view_sent (kit), 0);
    }
    //  Not misuse: a key of 512 bytes; a get with no place for the row
    //  (only its own call fails).
    assert_int_equal (s_give (kit, "m/1", "LongestKey", NULL, 0), 0);
    assert_int_equal (shoal_testkit_view_rows (kit), 2);
    assert_int_equal (s_give (kit, "m/1", "NoRow", NULL, 0), 0);

    //  Outside apply, and without a view.
    const shoal_data_t *row;
    assert_int_equal (shoal_view_get (NULL, "kept", &row), SHOAL_EINVAL);
    assert_null (shoal_view_put (NULL, "kept"));
    assert_int_equal (shoal_view_delete (NULL, "kept"), SHOAL_EINVAL);
    assert_null (shoal_view_send (NULL, "a/b", "Go"));
    assert_int_equal (shoal_view_fail (NULL, "x"), SHOAL_EREJECTED);
    assert_string_equal (shoal_event_name (NULL), "");
    assert_int_equal (shoal_event_seq (NULL), 0);

    //  Events: a bad address or name prepares none; apply needs one; a
    //  misused rec gives nothing to the log.
    uint64_t given = shoal_testkit_view_given (kit);
    assert_null (shoal_testkit_view_event (kit, "no-slash", "Opened"));
    assert_null (shoal_testkit_view_event (kit, "m/1", "two words"));
    assert_null (shoal_testkit_view_event (kit, NULL, "Opened"));
    assert_int_equal (shoal_testkit_view_apply (kit), SHOAL_EINVAL);
    assert_string_equal (shoal_testkit_view_why (kit), "no event prepared");
    shoal_rec_map_end (shoal_testkit_view_event (kit, "m/1", "Opened"));
    assert_int_equal (shoal_testkit_view_apply (kit), SHOAL_EINVAL);
    assert_int_equal (shoal_testkit_view_given (kit), given);
    assert_int_equal (shoal_testkit_view_advance (kit, -1), SHOAL_EINVAL);
    assert_null (shoal_testkit_view_row (kit, NULL));
    assert_int_equal (shoal_testkit_view_check_rebuild (kit), 0);
    shoal_testkit_view_destroy (&kit);
}

//  --------------------------------------------------------------------------
//  Making kits

static int s_init_two (shoal_registry_t *registry)
{
    static const shoal_projection_t v2 = {.name = "counts", .version = 2, .apply = s_noop_apply};
    int rc = shoal_register_projection (registry, &s_counts);
    return rc ? rc : shoal_register_projection (registry, &v2);
}

static int s_init_fails (shoal_registry_t *registry)
{
    shoal_register_projection (registry, &s_counts);
    return SHOAL_EINVAL;
}

static void test_new (void **state)
{
    shoal_projection_t bad = s_counts;
    assert_null (shoal_testkit_view_new (NULL));
    bad.apply = NULL;
    assert_null (shoal_testkit_view_new (&bad));
    bad = s_counts;
    bad.version = 0;
    assert_null (shoal_testkit_view_new (&bad));
    bad = s_counts;
    bad.name = "Counts";
    assert_null (shoal_testkit_view_new (&bad));
    bad = s_counts;
    bad.events = "account:";
    assert_null (shoal_testkit_view_new (&bad));
    bad.events = "";
    assert_null (shoal_testkit_view_new (&bad));

    //  The highest version by default, or the one asked for.
    shoal_testkit_view_t *kit = shoal_testkit_view_new_module (s_init_two, "counts");
    assert_non_null (kit);
    assert_int_equal (s_give (kit, "account/a", "Opened", NULL, 0), 0);
    assert_int_equal (shoal_testkit_view_rows (kit), 0); //  version 2 writes nothing
    shoal_testkit_view_destroy (&kit);
    kit = shoal_testkit_view_new_module (s_init_two, "counts@1");
    assert_int_equal (s_give (kit, "account/a", "Opened", NULL, 0), 0);
    assert_int_equal (shoal_testkit_view_rows (kit), 2);
    shoal_testkit_view_destroy (&kit);
    assert_null (shoal_testkit_view_new_module (s_init_two, "counts@3"));
    assert_null (shoal_testkit_view_new_module (s_init_two, "counts@"));
    assert_null (shoal_testkit_view_new_module (s_init_two, "count"));
    assert_null (shoal_testkit_view_new_module (s_init_two, NULL));
    assert_null (shoal_testkit_view_new_module (s_init_fails, "counts"));
}

//  --------------------------------------------------------------------------
//  A batch state: the kit runs each event as a batch of its own.

typedef struct {
    int64_t amount;
    int64_t applies; //  in this batch
} batch_sums_t;

static int s_sums_apply (shoal_view_t *view, const shoal_event_t *event)
{
    batch_sums_t *sums = shoal_view_batch_state (view);
    int64_t amount = 0;
    shoal_data_int (shoal_event_data (event), "amount", &amount);
    sums->amount += amount;
    sums->applies++;
    return 0;
}

static int s_sums_end (shoal_view_t *view, void *batch_state)
{
    const batch_sums_t *sums = batch_state;
    if (sums->amount < 0) //  a send from batch_end is refused
        return shoal_view_send (view, "account/x", "Flag") ? 0 : shoal_view_fail (view, "refused");
    const shoal_data_t *row;
    int64_t total = 0;
    if (shoal_view_get (view, "total", &row) == 0)
        total = s_int (row, "total");
    shoal_rec_t *out = shoal_view_put (view, "total");
    shoal_rec_int (out, "total", total + sums->amount);
    shoal_rec_int (out, "applies", sums->applies);
    return 0;
}

static const shoal_projection_t s_sums = {
    .name = "sums",
    .version = 1,
    .events = "account",
    .apply = s_sums_apply,
    .batch_state_size = sizeof (batch_sums_t),
    .batch_end = s_sums_end,
};

static int s_init_old_size (shoal_registry_t *registry)
{
    return shoal_register_projection_sized (registry, &s_counts,
                                            offsetof (shoal_projection_t, batch_state_size));
}

static int s_init_unknown_size (shoal_registry_t *registry)
{
    return shoal_register_projection_sized (registry, &s_sums, sizeof (shoal_projection_t) + 8);
}

static void test_batch_state (void **state)
{
    shoal_projection_t bad = s_sums;
    bad.batch_end = NULL;
    assert_null (shoal_testkit_view_new (&bad));
    bad = s_sums;
    bad.batch_state_size = 0;
    assert_null (shoal_testkit_view_new (&bad));
    bad = s_sums;
    bad.batch_state_size = SHOAL_BATCH_STATE_MAX + 1;
    assert_null (shoal_testkit_view_new (&bad));
    //  Without a batch state, none is given.
    shoal_testkit_view_t *kit = shoal_testkit_view_new (&s_counts);
    assert_non_null (kit);
    shoal_testkit_view_destroy (&kit);

    kit = shoal_testkit_view_new (&s_sums);
    assert_non_null (kit);
    assert_int_equal (s_give (kit, "account/a", "Deposited", "amount", 5), 0);
    assert_int_equal (s_give (kit, "account/b", "Deposited", "amount", 7), 0);
    const shoal_data_t *total = shoal_testkit_view_row (kit, "total");
    assert_non_null (total);
    assert_int_equal (s_int (total, "total"), 12);
    assert_int_equal (s_int (total, "applies"), 1); //  each event a batch, its sums zeroed
    //  A batch_end that fails keeps nothing of its batch.
    assert_int_equal (s_give (kit, "account/a", "Withdrawn", "amount", -3), SHOAL_EREJECTED);
    assert_string_equal (shoal_testkit_view_why (kit), "refused"); //  the send was
    assert_int_equal (s_int (shoal_testkit_view_row (kit, "total"), "total"), 12);
    //  The rebuild is one batch: "total" comes out the same, but "applies"
    //  (2 there, 1 in the live rows) depends on the batches, and is caught.
    assert_int_equal (shoal_testkit_view_check_rebuild (kit), SHOAL_EFORMAT);
    assert_non_null (strstr (shoal_testkit_view_why (kit),
                             "the rebuild's row \"total\" differs from the live one"));
    assert_non_null (strstr (shoal_testkit_view_why (kit), "how the events fall into batches"));
    shoal_testkit_view_destroy (&kit);

    //  A module built before batch states registers (its struct is
    //  shorter); one of a size the node does not know does not.
    kit = shoal_testkit_view_new_module (s_init_old_size, "counts");
    assert_non_null (kit);
    assert_int_equal (s_give (kit, "account/a", "Opened", NULL, 0), 0);
    assert_int_equal (shoal_testkit_view_rows (kit), 2);
    shoal_testkit_view_destroy (&kit);
    assert_null (shoal_testkit_view_new_module (s_init_unknown_size, "sums"));
}

//  --------------------------------------------------------------------------
//  The bank's projections (projections/)

static void test_bank_totals (void **state)
{
    shoal_testkit_view_t *kit = shoal_testkit_view_new (&bank_totals_projection);
    assert_non_null (kit);
    assert_int_equal (s_give (kit, "account/alice", "Opened", NULL, 0), 0);
    assert_int_equal (s_give (kit, "account/bob", "Opened", NULL, 0), 0);
    assert_int_equal (s_give (kit, "account/alice", "Deposited", "amount", 100), 0);
    assert_int_equal (s_give (kit, "transfer/t1", "Started", "amount", 30), 0);
    assert_int_equal (s_give (kit, "account/alice", "Debited", "amount", 30), 0);
    assert_int_equal (s_give (kit, "transfer/t1", "Debited", NULL, 0), 0);
    assert_false (shoal_testkit_view_wanted (kit)); //  not in its events list
    assert_int_equal (s_give (kit, "account/bob", "Credited", "amount", 30), 0);
    assert_int_equal (s_give (kit, "transfer/t1", "Completed", NULL, 0), 0);
    assert_int_equal (s_give (kit, "account/bob", "Withdrawn", "amount", 5), 0);
    assert_int_equal (s_give (kit, "account/bob", "Closed", NULL, 0), 0);

    assert_int_equal (shoal_testkit_view_rows (kit), 1);
    const shoal_data_t *totals = shoal_testkit_view_row (kit, "totals"), *accounts, *transfers;
    assert_non_null (totals);
    assert_int_equal (s_int (totals, "balance"), 95);
    assert_int_equal (shoal_data_map (totals, "accounts", &accounts), 0);
    assert_int_equal (s_int (accounts, "open"), 1);
    assert_int_equal (s_int (accounts, "closed"), 1);
    assert_int_equal (shoal_data_map (totals, "transfers", &transfers), 0);
    assert_int_equal (s_int (transfers, "started"), 1);
    assert_int_equal (s_int (transfers, "completed"), 1);
    assert_int_equal (s_int (transfers, "failed"), 0);

    //  A deposit without an amount stops it, and nothing of it is kept.
    assert_int_equal (s_give (kit, "account/alice", "Deposited", NULL, 0), SHOAL_EREJECTED);
    assert_string_equal (shoal_testkit_view_why (kit), "Deposited of account/alice has no amount");
    assert_int_equal (s_int (shoal_testkit_view_row (kit, "totals"), "balance"), 95);
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
    assert_string_equal (s_str (flag, "account"), "alice");
    assert_string_equal (s_str (flag, "transfer"), "t2");
    assert_int_equal (s_int (flag, "amount"), LARGE_DEBIT_MIN);
    assert_int_equal (s_debit (kit, "account/alice", "t3", 700), 0);
    const shoal_data_t *row = shoal_testkit_view_row (kit, "alice");
    assert_int_equal (s_int (row, "flagged"), 2);
    assert_int_equal (s_int (row, "amount"), LARGE_DEBIT_MIN + 700);
    assert_string_equal (s_str (row, "last"), "t3");
    //  A debit without its transfer stops it: no row changed, no Flag.
    assert_int_equal (s_debit (kit, "account/alice", NULL, 900), SHOAL_EREJECTED);
    assert_int_equal (shoal_testkit_view_sent (kit), 0);
    assert_int_equal (s_int (shoal_testkit_view_row (kit, "alice"), "flagged"), 2);
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
    assert_int_equal (s_give (kit, "transfer/t1", "Completed", NULL, 0), 0);
    //  Index rows ("\x01transfer/ID") sort first; t1's is gone.
    assert_int_equal (shoal_testkit_view_rows (kit), 5);
    assert_string_equal (shoal_testkit_view_key (kit, 0), "\x01transfer/t2");
    //  alice's transfers newest first: t2 (position 1), then t1.
    const char *first = shoal_testkit_view_key (kit, 1), *second = shoal_testkit_view_key (kit, 2);
    assert_int_equal (strncmp (first, "alice/", 6), 0);
    assert_int_equal (strncmp (second, "alice/", 6), 0);
    assert_string_equal (s_str (shoal_testkit_view_row (kit, first), "transfer"), "t2");
    assert_int_equal (s_int (shoal_testkit_view_row (kit, first), "at"),
                      SHOAL_TESTKIT_EPOCH + 1000);
    assert_string_equal (s_str (shoal_testkit_view_row (kit, second), "transfer"), "t1");
    assert_string_equal (s_str (shoal_testkit_view_row (kit, second), "status"), "completed");
    assert_string_equal (
        s_str (shoal_testkit_view_row (kit, shoal_testkit_view_key (kit, 3)), "direction"),
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
    assert_string_equal (s_str (row, "status"), status);
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
    assert_string_equal (s_str (index, "code"), "account_closed");
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
        cmocka_unit_test (test_usage),
        cmocka_unit_test (test_get_put_delete),
        cmocka_unit_test (test_failed_apply_keeps_nothing),
        cmocka_unit_test (test_filter),
        cmocka_unit_test (test_key_order),
        cmocka_unit_test (test_reactions),
        cmocka_unit_test (test_check_rebuild),
        cmocka_unit_test (test_put_new),
        cmocka_unit_test (test_misuse),
        cmocka_unit_test (test_new),
        cmocka_unit_test (test_batch_state),
        cmocka_unit_test (test_bank_totals),
        cmocka_unit_test (test_bank_large_debits),
        cmocka_unit_test (test_bank_account_transfers),
        cmocka_unit_test (test_bank_account_transfers_batched),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
