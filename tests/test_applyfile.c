/*  test_applyfile.c - runtime/applyfile.c's counts of the crashes in a
    projection's apply, on a real mapped file: a process that dies in an
    apply is played by an apply begun and the file closed without its end,
    then opened again. Each build's count is its own and stands across
    opens until an apply passes its event, or it is cleared at that event
    (an operator's skip or resume) or wherever it is (a dropped build).
*/
#include "harness.h"
#include "applyfile.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

typedef struct {
    char dir[256];
} fixture_t;

static int s_setup (void **state)
{
    fixture_t *f = calloc (1, sizeof (fixture_t));
    assert_non_null (f);
    harness_tempdir (f->dir, sizeof f->dir, "applyfile");
    *state = f;
    return 0;
}

static int s_teardown (void **state)
{
    fixture_t *f = *state;
    harness_rm_rf (f->dir);
    free (f);
    return 0;
}

//  A process that dies applying the event at position by build: begun,
//  never ended. Returns the count the next open reports.
static uint32_t s_crash (const char *dir, const journal_build_t *build, uint64_t position)
{
    applyfile_crash_t crash;
    applyfile_t *file = applyfile_open (dir, &crash);
    assert_non_null (file);
    applyfile_begin (file, build, position);
    applyfile_close (&file);
    file = applyfile_open (dir, &crash);
    assert_non_null (file);
    applyfile_close (&file);
    assert_string_equal (crash.view, build->view);
    assert_int_equal (crash.build, build->build);
    assert_int_equal (crash.position, position);
    return crash.crashes;
}

//  The standing counts an open finds, into crashes (at most 4).
static size_t s_standing (const char *dir, applyfile_crash_t crashes[4])
{
    applyfile_crash_t crash;
    applyfile_t *file = applyfile_open (dir, &crash);
    assert_non_null (file);
    assert_int_equal (crash.crashes, 0); //  a clean open counts nothing
    size_t count = applyfile_standing (file, crashes, 4);
    applyfile_close (&file);
    return count;
}

static void test_counts_by_build (void **state)
{
    fixture_t *f = *state;
    journal_build_t served = {"crasher", 1, 0}, rebuild = {"crasher", 1, 1};
    applyfile_crash_t standing[4];
    for (uint32_t crash = 1; crash <= 3; crash++)
        assert_int_equal (s_crash (f->dir, &served, 5), crash);
    //  It stands across clean opens: one record for all was reported by
    //  the open right after a crash only.
    assert_int_equal (s_standing (f->dir, standing), 1);
    assert_int_equal (s_standing (f->dir, standing), 1);
    assert_int_equal (standing[0].build, 0);
    assert_int_equal (standing[0].position, 5);
    assert_int_equal (standing[0].crashes, 3);
    //  Another build's crashes at the same event are its own: they used
    //  to reset the first build's count.
    assert_int_equal (s_crash (f->dir, &rebuild, 5), 1);
    assert_int_equal (s_crash (f->dir, &rebuild, 5), 2);
    assert_int_equal (s_standing (f->dir, standing), 1);
    assert_int_equal (standing[0].build, 0);
    assert_int_equal (s_crash (f->dir, &rebuild, 5), 3);
    assert_int_equal (s_standing (f->dir, standing), 2);
    //  A crash at another event starts the build's count again.
    assert_int_equal (s_crash (f->dir, &rebuild, 7), 1);
    assert_int_equal (s_standing (f->dir, standing), 1);
}

static void test_cleared (void **state)
{
    fixture_t *f = *state;
    journal_build_t build = {"crasher", 1, 0}, other = {"strict", 1, 0};
    applyfile_crash_t standing[4], crash;
    for (int i = 0; i < 3; i++) {
        s_crash (f->dir, &build, 5);
        s_crash (f->dir, &other, 9);
    }
    assert_int_equal (s_standing (f->dir, standing), 2);
    applyfile_t *file = applyfile_open (f->dir, &crash);
    //  A skip or resume of another event leaves the count at 5.
    applyfile_clear (file, &build, 4);
    assert_int_equal (applyfile_standing (file, standing, 4), 2);
    applyfile_clear (file, &build, 5);
    assert_int_equal (applyfile_standing (file, standing, 4), 1);
    assert_string_equal (standing[0].view, "strict");
    //  An apply that passes the event ends the count; one of another
    //  event does not.
    applyfile_begin (file, &other, 8);
    applyfile_end (file);
    assert_int_equal (applyfile_standing (file, standing, 4), 1);
    applyfile_begin (file, &other, 9);
    applyfile_end (file);
    assert_int_equal (applyfile_standing (file, standing, 4), 0);
    applyfile_close (&file);
    //  A dropped build's count goes wherever it is.
    for (int i = 0; i < 3; i++)
        s_crash (f->dir, &build, 6);
    file = applyfile_open (f->dir, &crash);
    applyfile_clear (file, &build, APPLYFILE_ANY);
    assert_int_equal (applyfile_standing (file, standing, 4), 0);
    applyfile_close (&file);
    assert_int_equal (s_standing (f->dir, standing), 0);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_counts_by_build, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_cleared, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
