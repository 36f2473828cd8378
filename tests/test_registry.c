/*  test_registry.c - runtime/registry.c: types registered with their size
    (shoal_register_sized, what the shoal_register macro calls). The usage
    first; then the sizes a node does not know, incomplete types and bad
    names, a taken name, and a full registry; a projection's events list
    of more words than a node matches.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "registry.h"
#include <stdio.h>
#include <string.h>

static int s_handle (shoal_ctx_t *ctx, const void *state, const shoal_msg_t *msg)
{
    return 0;
}

static int s_apply (void *state, const char *event, const shoal_data_t *data)
{
    return 0;
}

static void s_view (const void *state, shoal_rec_t *out) {}

static const shoal_type_t s_thing = {
    .name = "thing",
    .state_size = 8,
    .handle = s_handle,
    .apply = s_apply,
    .view = s_view,
};

//  A module registers with the macro; the registry keeps a copy, found by
//  the type part of an address.
static void test_register_and_lookup (void **state)
{
    shoal_registry_t *registry = registry_new ();
    assert_non_null (registry);
    assert_int_equal (shoal_register (registry, &s_thing), 0);
    assert_int_equal (registry_count (registry), 1);
    const shoal_type_t *found = registry_lookup (registry, "thing/1");
    assert_non_null (found);
    assert_ptr_not_equal (found, &s_thing); //  a copy, not the module's struct
    assert_string_equal (found->name, "thing");
    assert_int_equal (found->state_size, 8);
    assert_ptr_equal (found->handle, s_handle);
    assert_null (found->restore);
    assert_null (registry_lookup (registry, "thing"));
    assert_null (registry_lookup (registry, "thin/1"));
    assert_null (registry_lookup (registry, "things/1"));
    registry_destroy (&registry);
    registry_destroy (&registry); //  safe twice
    assert_null (registry);
}

//  A struct of a size this node does not know (a module built against
//  another shoal.h) is refused, not read past its end.
static void test_unknown_size (void **state)
{
    shoal_registry_t *registry = registry_new ();
    size_t sizes[] = {0, 1, sizeof (shoal_type_t) - sizeof (void *),
                      sizeof (shoal_type_t) + sizeof (void *), (size_t) -1};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        assert_int_equal (shoal_register_sized (registry, &s_thing, sizes[i]), SHOAL_EVERSION);
    assert_int_equal (registry_count (registry), 0);
    assert_int_equal (shoal_register_sized (registry, &s_thing, sizeof (shoal_type_t)), 0);
    registry_destroy (&registry);
}

static void test_invalid (void **state)
{
    shoal_registry_t *registry = registry_new ();
    assert_int_equal (shoal_register_sized (NULL, &s_thing, sizeof (shoal_type_t)), SHOAL_EINVAL);
    assert_int_equal (shoal_register_sized (registry, NULL, sizeof (shoal_type_t)), SHOAL_EINVAL);
    shoal_type_t type = s_thing;
    type.handle = NULL;
    assert_int_equal (shoal_register (registry, &type), SHOAL_EINVAL);
    type = s_thing;
    type.apply = NULL;
    assert_int_equal (shoal_register (registry, &type), SHOAL_EINVAL);
    type = s_thing;
    type.view = NULL;
    assert_int_equal (shoal_register (registry, &type), SHOAL_EINVAL);
    const char *names[] = {
        "",       "Thing",  "1thing",
        "thi/ng", "th ing", "a234567890123456789012345678901234567890123456789012345678901234"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        type = s_thing;
        type.name = names[i];
        assert_int_equal (shoal_register (registry, &type), SHOAL_EINVAL);
    }
    type = s_thing;
    type.name = NULL;
    assert_int_equal (shoal_register (registry, &type), SHOAL_EINVAL);
    type = s_thing;
    type.state_size = SHOAL_STATE_MAX + 1;
    assert_int_equal (shoal_register (registry, &type), SHOAL_ETOOBIG);
    assert_int_equal (registry_count (registry), 0);
    registry_destroy (&registry);
}

static void test_taken_and_full (void **state)
{
    shoal_registry_t *registry = registry_new ();
    assert_int_equal (shoal_register (registry, &s_thing), 0);
    assert_int_equal (shoal_register (registry, &s_thing), SHOAL_EEXIST);
    //  The type the projections' reactions come from is the runtime's: an
    //  actor of it could pass for a projection (shoal_msg_from).
    shoal_type_t projection = s_thing;
    projection.name = SHOAL_PROJECTION_SENDER;
    assert_int_equal (shoal_register (registry, &projection), SHOAL_EEXIST);
    assert_non_null (strstr (registry_error (registry), "the runtime's"));
    assert_int_equal (registry_count (registry), 1);
    static char names[REGISTRY_MAX_TYPES][16];
    shoal_type_t type = s_thing;
    for (int i = 1; i < REGISTRY_MAX_TYPES; i++) {
        snprintf (names[i], sizeof names[i], "t%d", i);
        type.name = names[i];
        assert_int_equal (shoal_register (registry, &type), 0);
    }
    type.name = "onemore";
    assert_int_equal (shoal_register (registry, &type), SHOAL_ETOOBIG);
    //  Forgetting what a failed module registered.
    registry_truncate (registry, 1);
    assert_int_equal (registry_count (registry), 1);
    assert_null (registry_lookup (registry, "t1/x"));
    assert_int_equal (shoal_register (registry, &type), 0);
    registry_destroy (&registry);
}

static int s_project (shoal_view_t *view, const shoal_event_t *event)
{
    return 0;
}

//  A projection's events list of more words than a node matches is
//  refused, saying so (the words past 32 were dropped: their events, and
//  a "*" among them, never applied).
static void test_events_list (void **state)
{
    shoal_registry_t *registry = registry_new ();
    char events[REGISTRY_FILTER_MAX * 16 + 8] = "";
    for (int i = 0; i < REGISTRY_FILTER_MAX; i++)
        snprintf (events + strlen (events), sizeof events - strlen (events), "%st%d:Done",
                  i ? " " : "", i);
    shoal_projection_t projection = {
        .name = "tally", .version = 1, .events = events, .apply = s_project};
    assert_int_equal (shoal_register_projection (registry, &projection), 0);
    registry_filter_t filter;
    registry_filter_parse (&filter, events);
    assert_true (registry_filter_wants (&filter, "t31/a", "Done"));
    assert_false (registry_filter_wants (&filter, "t32/a", "Done"));

    strcat (events, " *");
    projection.version = 2;
    assert_int_equal (shoal_register_projection (registry, &projection), SHOAL_EINVAL);
    assert_string_equal (registry_error (registry),
                         "projection 'tally': events lists more than 32 words (a node matches 32 "
                         "at most: \"TYPE\" takes all of a type's events in one word)");
    assert_int_equal (registry_projection_count (registry), 1);
    registry_destroy (&registry);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_register_and_lookup),
        cmocka_unit_test (test_unknown_size),
        cmocka_unit_test (test_invalid),
        cmocka_unit_test (test_taken_and_full),
        cmocka_unit_test (test_events_list),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
