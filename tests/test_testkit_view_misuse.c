/*  test_testkit_view_misuse.c - the kit's projection runner against misuse: put_new,
    calls out of place, new() that fails or sizes a state wrongly, batch
    state. Helpers: testkit_view_test_util.h.
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
//  Misuse

static const char s_big[1024 * 1024 - 8192]; //  a row's fields at most, with their header
static const char s_bigger[1100 * 1024];     //  a command's fields past 1 MiB

//  KeepRec's row rec, kept past its apply (a module's bug): UseKept writes
//  into it in the next apply.
static shoal_rec_t *s_kept;

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
    else if (strcmp (name, "Utf8Key") == 0)
        assert_null (shoal_view_put (view, "\xff\xfe"));
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
    else if (strcmp (name, "BigRow") == 0)
        shoal_rec_bytes (shoal_view_put (view, "big"), "b", s_big, sizeof s_big);
    else if (strcmp (name, "CutValue") == 0) //  "café" cut inside its é (C3 A9): byte 10
        shoal_rec_str (shoal_view_send (view, "a/b", "Go"), "name", "caf\xc3");
    else if (strcmp (name, "KeepRec") == 0) {
        s_kept = shoal_view_put (view, "kept1");
        shoal_rec_int (s_kept, "n", 1);
        return 0;
    } else if (strcmp (name, "UseKept") == 0) { //  landed in kept2, the next apply's row
        shoal_rec_int (shoal_view_put (view, "kept2"), "n", 2);
        shoal_rec_int (s_kept, "x", 1);
    } else if (strcmp (name, "LateAfterPut") == 0) { //  a's fields landed in b
        shoal_rec_t *a = shoal_view_put (view, "a");
        shoal_view_put (view, "b");
        shoal_rec_int (a, "x", 1);
    } else if (strcmp (name, "LateAfterGet") == 0) { //  n was lost
        shoal_rec_t *a = shoal_view_put (view, "a");
        const shoal_data_t *row;
        shoal_view_get (view, "kept", &row);
        shoal_rec_int (a, "n", 1);
    } else if (strcmp (name, "FailGoesOn") == 0) { //  it was applied
        shoal_view_fail (view, "no amount in %s", shoal_event_address (event));
        shoal_rec_int (shoal_view_put (view, "after"), "n", 1);
    } else if (strcmp (name, "CutKey") == 0)
        shoal_rec_int (shoal_view_send (view, "a/b", "Go"), "caf\xc3", 1);
    else if (strcmp (name, "BigCommand") == 0)
        shoal_rec_bytes (shoal_view_send (view, "a/b", "Go"), "b", s_bigger, sizeof s_bigger);
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
    shoal_testkit_view_t *kit = shoal_testkit_view_new (&testkit_view_kv);
    assert_int_equal (testkit_view_kv_give (kit, "New", "n", 1), 0);
    assert_int_equal (testkit_view_int (shoal_testkit_view_row (kit, "n"), "value"), 1);
    assert_int_equal (testkit_view_kv_give (kit, "New", "n", 2), SHOAL_EEXIST);
    assert_non_null (
        strstr (shoal_testkit_view_why (kit), "shoal_view_put_new of n, which holds a row"));
    assert_int_equal (testkit_view_int (shoal_testkit_view_row (kit, "n"), "value"), 1);
    assert_int_equal (testkit_view_kv_give (kit, "SetTwice", "s", 1), 0);
    assert_int_equal (testkit_view_kv_give (kit, "New", "s", 5), SHOAL_EEXIST);
    assert_int_equal (testkit_view_kv_give (kit, "Del", "n", 0), 0);
    assert_int_equal (testkit_view_kv_give (kit, "New", "n", 3), 0); //  deleted: new again
    assert_int_equal (testkit_view_int (shoal_testkit_view_row (kit, "n"), "value"), 3);
    assert_int_equal (testkit_view_kv_give (kit, "NewDel", "m", 4), 0);
    assert_null (shoal_testkit_view_row (kit, "m"));
    assert_int_equal (shoal_testkit_view_rows (kit), 2); //  n, s
    //  Within one apply: a row put new, then put again; a held row
    //  deleted, then put new.
    assert_int_equal (testkit_view_kv_give (kit, "NewSet", "t", 6), 0);
    assert_int_equal (testkit_view_int (shoal_testkit_view_row (kit, "t"), "value"), 7);
    assert_int_equal (testkit_view_kv_give (kit, "DelNew", "t", 9), 0);
    assert_int_equal (testkit_view_int (shoal_testkit_view_row (kit, "t"), "value"), 9);
    assert_int_equal (testkit_view_kv_give (kit, "NewSet", "t", 1), SHOAL_EEXIST);
    assert_int_equal (testkit_view_int (shoal_testkit_view_row (kit, "t"), "value"), 9);
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
        {"Utf8Key", SHOAL_EINVAL, "shoal_view_put: a row key that is not UTF-8"},
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
        //  As a node says it: no query could answer it (a node kept it).
        {"BigRow", SHOAL_ETOOBIG,
         "the row big: more than 1 MiB less 8 KiB (no query could answer it)"},
        //  A command a node would not send: its front refuses strings
        //  that are not UTF-8, an envelope holds 1 MiB (the kit kept both).
        {"CutValue", SHOAL_EINVAL,
         "the command Go sent by shoal_view_send: a string that is not UTF-8 (at byte 10 of its "
         "fields)"},
        //  A key is refused as it is written, as in every rec.
        {"CutKey", SHOAL_EINVAL,
         "the command Go sent by shoal_view_send: a field written wrongly with shoal_rec_*: a key "
         "that is not UTF-8"},
        {"BigCommand", SHOAL_ETOOBIG,
         "the command Go sent by shoal_view_send: more than 1 MiB with its envelope"},
        //  Fields written through a rec after the next shoal_view_ call:
        //  they went into the next row, or nowhere, and the apply passed.
        {"LateAfterPut", SHOAL_EINVAL,
         "fields written into a row or a command after the next shoal_view_ call (the rec "
         "shoal_view_put, put_new or send returns is good until then): they would be lost, or "
         "land in another row"},
        {"LateAfterGet", SHOAL_EINVAL,
         "fields written into a row or a command after the next shoal_view_ call (the rec "
         "shoal_view_put, put_new or send returns is good until then): they would be lost, or "
         "land in another row"},
        //  shoal_view_fail fails the apply, whatever it returns after (it
        //  returned 0, and the event was applied).
        {"FailGoesOn", SHOAL_EREJECTED, "no amount in m/1"},
    };
    //  A rec kept past its apply, written in the next: refused too (it
    //  was the next apply's first rec, and the field went into its row).
    assert_int_equal (testkit_view_give (kit, "m/1", "KeepRec", NULL, 0), 0);
    assert_int_equal (testkit_view_give (kit, "m/1", "UseKept", NULL, 0), SHOAL_EINVAL);
    assert_non_null (strstr (shoal_testkit_view_why (kit), "after the next shoal_view_ call"));
    assert_null (shoal_testkit_view_row (kit, "kept2"));
    const shoal_data_t *kept = shoal_testkit_view_row (kit, "kept1");
    assert_non_null (kept);
    int64_t x = 0;
    assert_int_equal (shoal_data_int (kept, "x", &x), SHOAL_ENOTFOUND);
    shoal_testkit_view_destroy (&kit);
    kit = shoal_testkit_view_new (&s_misuse);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal (testkit_view_give (kit, "m/1", cases[i].name, NULL, 0), cases[i].rc);
        assert_string_equal (shoal_testkit_view_why (kit), cases[i].why);
        assert_int_equal (shoal_testkit_view_rows (kit), 0);
        assert_int_equal (shoal_testkit_view_sent (kit), 0);
    }
    //  Not misuse: a key of 512 bytes; a get with no place for the row
    //  (only its own call fails).
    assert_int_equal (testkit_view_give (kit, "m/1", "LongestKey", NULL, 0), 0);
    assert_int_equal (shoal_testkit_view_rows (kit), 2);
    assert_int_equal (testkit_view_give (kit, "m/1", "NoRow", NULL, 0), 0);

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
    static const shoal_projection_t v2 = {
        .name = "counts", .version = 2, .apply = testkit_view_noop_apply};
    int rc = shoal_register_projection (registry, &testkit_view_counts);
    return rc ? rc : shoal_register_projection (registry, &v2);
}

static int s_init_fails (shoal_registry_t *registry)
{
    shoal_register_projection (registry, &testkit_view_counts);
    return SHOAL_EINVAL;
}

//  Registers a projection, then one a node refuses, and returns 0 all the
//  same: a node refuses the module, and the kit too.
static int s_init_ignores_refusal (shoal_registry_t *registry)
{
    shoal_projection_t bad = testkit_view_counts;
    bad.name = "Counts";
    shoal_register_projection (registry, &testkit_view_counts);
    shoal_register_projection (registry, &bad);
    return 0;
}

static void test_new (void **state)
{
    shoal_projection_t bad = testkit_view_counts;
    assert_null (shoal_testkit_view_new (NULL));
    bad.apply = NULL;
    assert_null (shoal_testkit_view_new (&bad));
    bad = testkit_view_counts;
    bad.version = 0;
    assert_null (shoal_testkit_view_new (&bad));
    bad = testkit_view_counts;
    bad.name = "Counts";
    assert_null (shoal_testkit_view_new (&bad));
    bad = testkit_view_counts;
    bad.events = "account:";
    assert_null (shoal_testkit_view_new (&bad));
    bad.events = "";
    assert_null (shoal_testkit_view_new (&bad));
    //  More words than a node matches: a node refuses it, the kit too.
    char words[33 * 4 + 1] = "";
    for (int i = 0; i < 33; i++)
        snprintf (words + strlen (words), sizeof words - strlen (words), "%st%d", i ? " " : "", i);
    bad.events = words;
    assert_null (shoal_testkit_view_new (&bad));

    //  The highest version by default, or the one asked for.
    shoal_testkit_view_t *kit = shoal_testkit_view_new_module (s_init_two, "counts");
    assert_non_null (kit);
    assert_int_equal (testkit_view_give (kit, "account/a", "Opened", NULL, 0), 0);
    assert_int_equal (shoal_testkit_view_rows (kit), 0); //  version 2 writes nothing
    shoal_testkit_view_destroy (&kit);
    kit = shoal_testkit_view_new_module (s_init_two, "counts@1");
    assert_int_equal (testkit_view_give (kit, "account/a", "Opened", NULL, 0), 0);
    assert_int_equal (shoal_testkit_view_rows (kit), 2);
    shoal_testkit_view_destroy (&kit);
    assert_null (shoal_testkit_view_new_module (s_init_two, "counts@3"));
    assert_null (shoal_testkit_view_new_module (s_init_two, "counts@"));
    assert_null (shoal_testkit_view_new_module (s_init_two, "counts@ 1")); //  digits only
    assert_null (shoal_testkit_view_new_module (s_init_two, "counts@+1"));
    assert_null (shoal_testkit_view_new_module (s_init_two, "count"));
    assert_null (shoal_testkit_view_new_module (s_init_two, NULL));
    assert_null (shoal_testkit_view_new_module (s_init_fails, "counts"));
    assert_null (shoal_testkit_view_new_module (s_init_ignores_refusal, "counts"));
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
        total = testkit_view_int (row, "total");
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
    return shoal_register_projection_sized (registry, &testkit_view_counts,
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
    shoal_testkit_view_t *kit = shoal_testkit_view_new (&testkit_view_counts);
    assert_non_null (kit);
    shoal_testkit_view_destroy (&kit);

    kit = shoal_testkit_view_new (&s_sums);
    assert_non_null (kit);
    assert_int_equal (testkit_view_give (kit, "account/a", "Deposited", "amount", 5), 0);
    assert_int_equal (testkit_view_give (kit, "account/b", "Deposited", "amount", 7), 0);
    const shoal_data_t *total = shoal_testkit_view_row (kit, "total");
    assert_non_null (total);
    assert_int_equal (testkit_view_int (total, "total"), 12);
    assert_int_equal (testkit_view_int (total, "applies"),
                      1); //  each event a batch, its sums zeroed
    //  A batch_end that fails keeps nothing of its batch.
    assert_int_equal (testkit_view_give (kit, "account/a", "Withdrawn", "amount", -3),
                      SHOAL_EREJECTED);
    assert_string_equal (shoal_testkit_view_why (kit), "refused"); //  the send was
    assert_int_equal (testkit_view_int (shoal_testkit_view_row (kit, "total"), "total"), 12);
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
    assert_int_equal (testkit_view_give (kit, "account/a", "Opened", NULL, 0), 0);
    assert_int_equal (shoal_testkit_view_rows (kit), 2);
    shoal_testkit_view_destroy (&kit);
    assert_null (shoal_testkit_view_new_module (s_init_unknown_size, "sums"));
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_put_new),
        cmocka_unit_test (test_misuse),
        cmocka_unit_test (test_new),
        cmocka_unit_test (test_batch_state),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
