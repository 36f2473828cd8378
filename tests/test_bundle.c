/*  test_bundle.c - runtime/bundle.c, what a worker's release sends another
    thread in one ZeroMQ message: messages added come back in their order
    with their routes (none, one byte, a client's) and frames (empty ones
    too); a bundle sent over a real inproc PUSH/PULL pair arrives as
    [0x07, entries] and is split again (harness_recv); an empty bundle
    sends nothing; a route or frame too large for its field is refused;
    every truncation of a bundle is refused by the reader, never read past
    its end.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "bundle.h"
#include "harness.h"
#include <czmq.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *route;
    size_t route_size;
    const char *frame;
} message_t;

static const message_t s_messages[] = {
    {"", 0, "a reply to an actor"},
    {"\x05", 1, "a first send"},
    {"\x00\x00\x6b\x8b\x45\x67", 6, "a client's reply"},
    {"\x06", 1, ""},
};
#define MESSAGES (sizeof s_messages / sizeof s_messages[0])

static void s_fill (bundle_t *bundle)
{
    for (size_t i = 0; i < MESSAGES; i++)
        assert_int_equal (
            bundle_add (bundle, (const uint8_t *) s_messages[i].route, s_messages[i].route_size,
                        (const uint8_t *) s_messages[i].frame, strlen (s_messages[i].frame)),
            0);
}

static void test_in_order (void **state)
{
    bundle_t bundle = {NULL, 0, 0};
    s_fill (&bundle);
    bundle_reader_t reader = {bundle.data, bundle.size};
    const uint8_t *route, *frame;
    size_t route_size, size;
    for (size_t i = 0; i < MESSAGES; i++) {
        assert_int_equal (bundle_next (&reader, &route, &route_size, &frame, &size), 1);
        assert_int_equal (route_size, s_messages[i].route_size);
        assert_memory_equal (route, s_messages[i].route, route_size);
        assert_int_equal (size, strlen (s_messages[i].frame));
        assert_memory_equal (frame, s_messages[i].frame, size);
    }
    assert_int_equal (bundle_next (&reader, &route, &route_size, &frame, &size), 0);
    bundle_close (&bundle);
    bundle_close (&bundle); //  safe twice
}

//  Every prefix of a bundle shorter than a whole entry's end is refused.
static void test_truncated (void **state)
{
    bundle_t bundle = {NULL, 0, 0};
    s_fill (&bundle);
    size_t ends[MESSAGES], at = 0;
    for (size_t i = 0; i < MESSAGES; i++) {
        at += 2 + s_messages[i].route_size + 4 + strlen (s_messages[i].frame);
        ends[i] = at;
    }
    assert_int_equal (at, bundle.size);
    for (size_t cut = 1; cut < bundle.size; cut++) {
        //  A copy of exactly cut bytes, so that ASan sees any read past it.
        uint8_t *copy = harness_copy (bundle.data, cut);
        bundle_reader_t reader = {copy, cut};
        const uint8_t *route, *frame;
        size_t route_size, size, whole = 0;
        int rc;
        while ((rc = bundle_next (&reader, &route, &route_size, &frame, &size)) == 1)
            whole++;
        bool on_an_end = false;
        for (size_t i = 0; i < MESSAGES; i++)
            on_an_end |= ends[i] == cut;
        assert_int_equal (rc, on_an_end ? 0 : -1);
        free (copy);
    }
    bundle_close (&bundle);
}

static void test_too_large (void **state)
{
    bundle_t bundle = {NULL, 0, 0};
    static uint8_t big[UINT16_MAX + 1];
    assert_int_equal (bundle_add (&bundle, big, sizeof big, (const uint8_t *) "x", 1), -1);
    assert_int_equal (bundle.size, 0);
    assert_int_equal (bundle_add (&bundle, big, sizeof big - 1, (const uint8_t *) "x", 1), 0);
    bundle_close (&bundle);
}

//  Over a real inproc pair: [0x07, entries], split again in order; an
//  empty bundle sends nothing; the bundle is ready for more after a send.
static void test_sent (void **state)
{
    zsock_t *pull = zsock_new_pull ("inproc://test-bundle");
    zsock_t *push = zsock_new_push (">inproc://test-bundle");
    assert_non_null (pull);
    assert_non_null (push);
    bundle_t bundle = {NULL, 0, 0};
    assert_int_equal (bundle_send (&bundle, zsock_resolve (push)), 0); //  nothing
    for (int round = 0; round < 2; round++) {
        s_fill (&bundle);
        assert_int_equal (bundle_send (&bundle, zsock_resolve (push)), 0);
        assert_int_equal (bundle.size, 0);
        for (size_t i = 0; i < MESSAGES; i++) {
            zmsg_t *msg = harness_recv (pull, 1000);
            assert_non_null (msg);
            zframe_t *route = zmsg_first (msg), *frame = zmsg_next (msg);
            assert_int_equal (zframe_size (route), s_messages[i].route_size);
            assert_memory_equal (zframe_data (route), s_messages[i].route,
                                 s_messages[i].route_size);
            assert_true (zframe_streq (frame, s_messages[i].frame));
            zmsg_destroy (&msg);
        }
    }
    assert_null (harness_recv (pull, 50)); //  the empty send sent nothing
    harness_recv_close (pull);
    bundle_close (&bundle);
    zsock_destroy (&push);
    zsock_destroy (&pull);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_in_order),
        cmocka_unit_test (test_truncated),
        cmocka_unit_test (test_too_large),
        cmocka_unit_test (test_sent),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
