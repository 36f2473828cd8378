/*  testkit_view_test_util.c - what test_testkit_view_*.c share (testkit_view_test_util.h says what
 * each is).
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

int64_t testkit_view_int (const shoal_data_t *data, const char *key)
{
    int64_t value = -1;
    assert_int_equal (shoal_data_int (data, key, &value), 0);
    return value;
}

const char *testkit_view_str (const shoal_data_t *data, const char *key)
{
    static char text[600];
    assert_int_equal (shoal_data_str (data, key, text, sizeof text), 0);
    return text;
}

int testkit_view_give (shoal_testkit_view_t *kit, const char *address, const char *name,
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
        events = testkit_view_int (row, "events");
    if (shoal_view_get (view, "total", &row) == 0)
        total = testkit_view_int (row, "total");
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

const shoal_projection_t testkit_view_counts = {
    .name = "counts",
    .version = 1,
    .events = "account",
    .apply = s_counts_apply,
};

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
            shoal_rec_int (shoal_view_put (view, "copy"), "value", testkit_view_int (row, "value"));
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

const shoal_projection_t testkit_view_kv = {
    .name = "kv",
    .version = 1,
    .apply = s_kv_apply, //  events NULL: every event
};

int testkit_view_kv_give (shoal_testkit_view_t *kit, const char *name, const char *key,
                          int64_t value)
{
    shoal_rec_t *rec = shoal_testkit_view_event (kit, "kv/k1", name);
    assert_non_null (rec);
    shoal_rec_str (rec, "key", key);
    shoal_rec_int (rec, "value", value);
    return shoal_testkit_view_apply (kit);
}

int testkit_view_noop_apply (shoal_view_t *view, const shoal_event_t *event)
{
    return 0;
}
