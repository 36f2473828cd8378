/*  test_janitor.c - runtime/janitor.c: the inbox-pruning cutoff, with
    clocks the test controls. A wall clock that jumps ahead (here by ten
    times the retention) must not make a record younger than the
    retention prunable; one that runs steadily prunes what is old.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"
#include "janitor.h"
#include "journal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RETENTION 60000        //  ms
#define MARGIN (RETENTION / 2) //  janitor.h: half, at most a minute
#define WALL0 1700000000000LL  //  the wall clock at start
#define MONO0 5000LL           //  the monotonic clock at start

//  The usage: clocks that agree give now - retention - margin.
static void test_steady_clocks (void **state)
{
    int64_t elapsed = 10 * RETENTION;
    assert_int_equal (janitor_cutoff (WALL0 + elapsed, MONO0 + elapsed, WALL0, MONO0, RETENTION),
                      WALL0 + elapsed - RETENTION - MARGIN);
    //  Just started: nothing of the last retention is prunable.
    assert_true (janitor_cutoff (WALL0, MONO0, WALL0, MONO0, RETENTION) < WALL0 - RETENTION);
    //  The margin is at most a minute.
    int64_t week = 7LL * 24 * 3600 * 1000;
    assert_int_equal (janitor_cutoff (WALL0, MONO0, WALL0, MONO0, week), WALL0 - week - 60000);
}

//  The wall clock jumps 10 x the retention ahead: the cutoff follows the
//  monotonic clock, so a record made just before the jump stays.
static void test_forward_jump (void **state)
{
    int64_t elapsed = 1000;
    int64_t cutoff =
        janitor_cutoff (WALL0 + elapsed + 10 * RETENTION, MONO0 + elapsed, WALL0, MONO0, RETENTION);
    assert_true (cutoff < WALL0 + elapsed - RETENTION);
    assert_int_equal (cutoff, WALL0 + elapsed - RETENTION - MARGIN);
}

//  The wall clock jumps back: the cutoff follows it (records kept longer).
static void test_backward_jump (void **state)
{
    int64_t elapsed = 5 * RETENTION;
    assert_int_equal (
        janitor_cutoff (WALL0 + elapsed - 3 * RETENTION, MONO0 + elapsed, WALL0, MONO0, RETENTION),
        WALL0 + elapsed - 3 * RETENTION - RETENTION - MARGIN);
}

//  With a store: records made now survive a prune at the cutoff of a wall
//  clock 10 x the retention ahead; records older than the retention (by
//  the monotonic clock) go.
static void test_forward_jump_prunes_nothing_young (void **state)
{
    char dir[64];
    snprintf (dir, sizeof dir, "/tmp/shoal-test-janitor-XXXXXX");
    assert_non_null (mkdtemp (dir));
    int code;
    char *error = NULL;
    journal_t *journal = journal_open (dir, NULL, &code, &error);
    assert_non_null (journal);
    int64_t elapsed = 3 * RETENTION;
    int64_t now = WALL0 + elapsed; //  the true time
    journal_batch_t *batch = journal_batch_new (journal);
    for (int i = 0; i < 100; i++) { //  young: made in the last retention
        uint8_t id[JOURNAL_ID_SIZE] = {1, (uint8_t) i};
        assert_int_equal (journal_batch_inbox_put (batch, "account/young", id,
                                                   (const uint8_t *) "ok", 2,
                                                   now - (RETENTION - 1) * i / 100),
                          0);
    }
    uint8_t old_id[JOURNAL_ID_SIZE] = {2};
    assert_int_equal (journal_batch_inbox_put (batch, "account/old", old_id, (const uint8_t *) "ok",
                                               2, now - 2 * RETENTION - 1),
                      0);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);

    int64_t cutoff =
        janitor_cutoff (now + 10 * RETENTION, MONO0 + elapsed, WALL0, MONO0, RETENTION);
    assert_int_equal (journal_inbox_prune (journal, cutoff), 1); //  the old one alone
    uint8_t *reply;
    size_t size;
    for (int i = 0; i < 100; i++) {
        uint8_t id[JOURNAL_ID_SIZE] = {1, (uint8_t) i};
        assert_int_equal (journal_inbox_get (journal, "account/young", id, &reply, &size), 0);
        free (reply);
    }
    assert_int_equal (journal_inbox_get (journal, "account/old", old_id, &reply, &size),
                      SHOAL_ENOTFOUND);
    //  What the old rule (the wall clock alone) would have done: all gone.
    assert_int_equal (journal_inbox_prune (journal, now + 10 * RETENTION - RETENTION - MARGIN),
                      100);
    journal_destroy (&journal);
    harness_rm_rf (dir);
}

//  What a worker refuses as expired (janitor_expired_before): by the time
//  both clocks allow, never below the janitor's highest cutoff. With the
//  wall clock alone, a clock stepped ahead past the retention refused
//  every command as expired, and one stepped back after a prune let a
//  retry whose record was pruned run again.
static void test_expired_before (void **state)
{
    (void) state;
    atomic_int_fast64_t pruned_below = 0;
    int64_t wall = zclock_time ();
    worker_config_t config = {.retention_ms = RETENTION,
                              .wall_start = wall,
                              .mono_start = janitor_mono_ms (),
                              .pruned_below = &pruned_below};
    //  Steady clocks: the retention before now (the monotonic clock has
    //  moved on a little since the start, never back).
    int64_t before = janitor_expired_before (&config, wall);
    assert_true (before == wall - RETENTION);
    //  The wall clock ten retentions ahead: a command made a second ago by
    //  it is not refused (trusted: the start and the time since).
    int64_t ahead = wall + 10 * RETENTION;
    before = janitor_expired_before (&config, ahead);
    assert_true (before < ahead - 1000);
    assert_true (before <= wall + 60000 - RETENTION);
    //  The janitor pruned below a cutoff, then the wall clock went back: a
    //  command created below the cutoff is refused still.
    int64_t cutoff = wall - RETENTION / 4;
    atomic_store (&pruned_below, cutoff);
    assert_int_equal (janitor_expired_before (&config, wall - RETENTION), cutoff);
    assert_int_equal (janitor_expired_before (&config, wall), cutoff);
    //  A config with no start (a test playing the node): the wall clock.
    worker_config_t plain = {.retention_ms = RETENTION};
    assert_int_equal (janitor_expired_before (&plain, WALL0), WALL0 - RETENTION);
}

//  The floor kept in the store (JANITOR_FLOOR_META) across restarts,
//  read at a start: taken as it is; one past the start's clock (kept by
//  a clock ahead, or read by one set back) taken as the start, so that
//  later commands are not all refused as expired (a floor kept in the
//  future did so, until the clock caught up with it); one that is not a
//  number refused, for the start to decide.
static void test_floor_load (void **state)
{
    (void) state;
    char dir[64];
    snprintf (dir, sizeof dir, "/tmp/shoal-test-janitor-XXXXXX");
    assert_non_null (mkdtemp (dir));
    int code;
    char *error = NULL;
    journal_t *journal = journal_open (dir, NULL, &code, &error);
    assert_non_null (journal);
    atomic_int_fast64_t floor = 0;
    assert_int_equal (janitor_floor_load (journal, &floor, WALL0), 0); //  none kept
    assert_int_equal (atomic_load (&floor), 0);
    char value[32];
    snprintf (value, sizeof value, "%lld", (long long) (WALL0 - RETENTION));
    assert_int_equal (journal_meta_put (journal, JANITOR_FLOOR_META, value), 0);
    assert_int_equal (janitor_floor_load (journal, &floor, WALL0), 0);
    assert_int_equal (atomic_load (&floor), WALL0 - RETENTION);
    snprintf (value, sizeof value, "%lld", (long long) (WALL0 + 365LL * 86400000));
    assert_int_equal (journal_meta_put (journal, JANITOR_FLOOR_META, value), 0);
    assert_int_equal (janitor_floor_load (journal, &floor, WALL0), 0);
    assert_int_equal (atomic_load (&floor), WALL0);
    //  ... and kept so: the next start, a minute on, takes it as it is.
    atomic_store (&floor, 0);
    assert_int_equal (janitor_floor_load (journal, &floor, WALL0 + 60000), 0);
    assert_int_equal (atomic_load (&floor), WALL0);
    assert_int_equal (journal_meta_put (journal, JANITOR_FLOOR_META, "12x"), 0);
    assert_int_equal (janitor_floor_load (journal, &floor, WALL0), SHOAL_EFORMAT);
    assert_int_equal (atomic_load (&floor), WALL0);
    journal_destroy (&journal);
    harness_rm_rf (dir);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_steady_clocks),
        cmocka_unit_test (test_forward_jump),
        cmocka_unit_test (test_backward_jump),
        cmocka_unit_test (test_forward_jump_prunes_nothing_young),
        cmocka_unit_test (test_expired_before),
        cmocka_unit_test (test_floor_load),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
