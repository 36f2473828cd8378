/*  testkit_view_test_util.h - the helpers of test_testkit_view_*.c:
    fields read from the kit's rows and events given to a projection.

    test_testkit_view_*.c: the test kit's projection runner
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
#ifndef SHOAL_TESTS_TESTKIT_VIEW_TEST_UTIL_H
#define SHOAL_TESTS_TESTKIT_VIEW_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "shoal_testkit.h"
#include "bank_projections.h"
#include <stdio.h>
#include <string.h>

int64_t testkit_view_int (const shoal_data_t *data, const char *key);

const char *testkit_view_str (const shoal_data_t *data, const char *key);

//  Gives one event with an int field (none when key is NULL) and applies it.
int testkit_view_give (shoal_testkit_view_t *kit, const char *address, const char *name,
                       const char *key, int64_t value);

extern const shoal_projection_t testkit_view_counts;

extern const shoal_projection_t testkit_view_kv;

int testkit_view_kv_give (shoal_testkit_view_t *kit, const char *name, const char *key,
                          int64_t value);

//  --------------------------------------------------------------------------
//  The events list, as a node reads it

int testkit_view_noop_apply (shoal_view_t *view, const shoal_event_t *event);

#endif
