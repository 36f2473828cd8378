/*  test_projections_crash.c - projections that crash or are misused in a real node:
    crashing applies and their guard, reruns that fail, put_new misused,
    drops cut short, batch state and a crash at its end, misuse named,
    query fields refused. The fixture: projections_test_util.h.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "client.h"
#include "journal.h"
#include "proc.h"

#include <leveldb/c.h>
#include <msgpack.h>

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "projections_test_util.h"

//  --------------------------------------------------------------------------
//  6. An apply that crashes the node: after 3 crashes in a row at the same
//  event, the node starts with that projection stopped there, failed, and
//  serves everything else; skip moves past it.

//  Sends Boom to item/i0 without waiting (its answer may never come:
//  something aborts the node once the event is committed, maybe before
//  the reply leaves), then plays the supervisor: starts node again after
//  each crash, three in all, each a SIGABRT. (It may die before or after
//  its ready line.)
static void s_boom_three_crashes (proc_t *p, const char *node)
{
    client_t *client = client_new (p->endpoint);
    assert_non_null (client);
    envelope_t request;
    client_request (&request, ENVELOPE_COMMAND, NULL, "item/i0", "Boom", NULL, 0);
    assert_int_equal (client_send (client, &request), 0);
    int status;
    for (int crash = 1; crash <= 3; crash++) {
        bool ready = crash == 1 || proc_node_try_start (p, &status, "%s", node);
        if (ready)
            assert_true (proc_node_wait_exit (p, WAIT_MS, &status));
        assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGABRT);
    }
    client_destroy (&client);
}

static void test_crashing_apply (void **state)
{
    proc_t *p = *state;
    const char *node = NODE " --module-opt projection.crasher=1";
    proc_node_start (p, node);
    projections_send_many (p, "Add", 0, 5, 1);
    s_boom_three_crashes (p, node); //  Boom at position 5: crasher aborts on it
    proc_node_start (p, node);
    build_info_t crasher = projections_wait_status (p, "crasher", 1, "failed");
    assert_int_equal (crasher.error_position, 5);
    assert_non_null (strstr (crasher.error, "crashed 3 times in a row"));
    projections_send_many (p, "Add", 5, 3, 1); //  commands go on
    assert_int_equal (projections_wait_status (p, "tally", 1, "live").applied, 9);
    projections_control (p, "skip", "crasher", 1, 5, NULL);
    projections_send_many (p, "Add", 8, 2, 1);
    crasher = projections_wait_status (p, "crasher", 1, "live");
    assert_int_equal (crasher.skipped, 1);
    char log[PROC_OUTPUT_MAX];
    proc_read (p, "node.log", log);
    assert_non_null (strstr (log, "crash 2 of 3 before it is set aside"));
}

//  6b. The event that crashed the node three times came in a batch that
//  began before it (a projection built from position 0): the build applies
//  the events before it, then stops there. A skip then loses nothing but
//  that event (the build used to stop at its old checkpoint, and a skip
//  moved it past every event in between, never applied).

static void test_crash_guard_applies_before (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, NODE);
    projections_send_many (p, "Add", 0, 5, 1);  //  positions 0-4
    projections_send_many (p, "Boom", 0, 1, 1); //  5: crasher is not there yet
    projections_send_many (p, "Add", 5, 2, 1);  //  6-7
    assert_int_equal (projections_wait_status (p, "tally", 1, "live").applied, 8);
    proc_node_signal (p, SIGTERM);
    //  crasher builds from position 0: its first batch reaches Boomed.
    const char *node = NODE " --module-opt projection.crasher=1";
    int status;
    for (int crash = 1; crash <= 3; crash++) {
        if (proc_node_try_start (p, &status, "%s", node))
            assert_true (proc_node_wait_exit (p, WAIT_MS, &status));
        assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGABRT);
    }
    proc_node_start (p, node);
    build_info_t crasher = projections_wait_status (p, "crasher", 1, "failed");
    assert_int_equal (crasher.error_position, 5);
    assert_int_equal (crasher.position, 5); //  0-4 applied
    assert_int_equal (crasher.applied, 5);
    assert_non_null (strstr (crasher.error, "crashed 3 times in a row"));
    projections_control (p, "skip", "crasher", 1, 5, NULL);
    crasher = projections_wait_status (p, "crasher", 1, "live");
    assert_int_equal (crasher.skipped, 1);
    assert_int_equal (crasher.applied, 7); //  every item event but Boomed
}

//  6c. A build set aside stays set aside across a clean restart (its
//  count was the process's only: the restart applied the event again and
//  crashed the node once more). And a skip reaches a rebuild on its way
//  to that event: the rebuild had crashed the node there three times too,
//  in a batch that began before it, so it was set to stop there; the skip
//  clears that, and it passes the event (it stopped there, failed, and
//  needed a second skip). The two builds' counts are their own: one
//  record for all had the rebuild's crashes reset the set-aside build's,
//  which then crashed the node again.

static void test_skip_clears_rebuild_guard (void **state)
{
    proc_t *p = *state;
    const char *node = NODE " --module-opt projection.crasher=1";
    proc_node_start (p, node);
    projections_send_many (p, "Add", 0, 5, 1); //  positions 0-4
    s_boom_three_crashes (p, node);            //  5: build 0 crashes on it
    proc_node_start (p, node);
    assert_int_equal (projections_wait_status (p, "crasher", 1, "failed").error_position, 5);
    projections_send_many (p, "Add", 5, 3, 1); //  6-8
    proc_node_signal (p, SIGTERM);
    //  Slow applies (200 ms each): a rebuild takes a second to reach 5.
    char slow[512];
    snprintf (slow, sizeof slow, "%s --module-opt projection.strict_us=200000", node);
    proc_node_start (p, "%s", slow);
    build_info_t served = projections_wait_status (p, "crasher", 1, "failed");
    assert_int_equal (served.build, 0); //  set aside still, and the node up
    assert_int_equal (served.error_position, 5);
    projections_control (p, "rebuild", "crasher", 1, -1, NULL);
    proc_node_signal (p, SIGKILL); //  before the rebuild reaches 5
    int status;
    for (int crash = 1; crash <= 3; crash++) { //  its first batch runs into 5 each time
        if (proc_node_try_start (p, &status, "%s", node))
            assert_true (proc_node_wait_exit (p, WAIT_MS, &status));
        assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGABRT);
    }
    proc_node_start (p, "%s", slow);
    build_info_t rebuild = projections_build (p, "crasher", 1);
    assert_int_equal (rebuild.build, 1);
    assert_true (rebuild.position < 5); //  on its way, set to stop at 5
    projections_control (p, "skip", "crasher", 1, 5, NULL);
    served = projections_wait_served (p, "crasher", 1); //  the rebuild, no second skip
    assert_int_equal (served.build, 1);
    assert_int_equal (served.skipped, 1);
    assert_int_equal (served.applied, 8); //  every item event but Boomed
    //  Nothing left to set aside at the next start, and nothing applied
    //  twice: the skip cleared the count along with the stop.
    proc_node_signal (p, SIGTERM);
    proc_node_start (p, node);
    projections_send_many (p, "Add", 8, 1, 1);
    served = projections_wait_status (p, "crasher", 1, "live");
    assert_int_equal (served.build, 1);
    assert_int_equal (served.applied, 9);
}

//  --------------------------------------------------------------------------
//  7. An apply fails at Poisoned; the batch is applied again without it,
//  and in that second pass an earlier apply fails (flaky: Pinged, the
//  second time). Nothing of the batch is kept then, and the build tries
//  again from its checkpoint: it stops at Poisoned with every event
//  before it applied, none skipped (it used to keep the applies before
//  the flaky one and move its checkpoint to Poisoned all the same).

static void test_rerun_fails (void **state)
{
    proc_t *p = *state;
    //  The projections off while the events are written: pinger's Echoed
    //  (its reaction to Pinged) would land among them, wherever its echo
    //  came back, and move Poisoned. It lands after them at the restart.
    proc_node_start (p, NODE " --projections off");
    projections_send_many (p, "Add", 0, 3, 1);    //  positions 0-2
    projections_send_many (p, "Ping", 0, 1, 1);   //  3
    projections_send_many (p, "Add", 3, 3, 1);    //  4-6
    projections_send_many (p, "Poison", 0, 1, 1); //  7
    projections_send_many (p, "Add", 6, 2, 1);    //  8-9
    proc_node_signal (p, SIGTERM);
    //  flaky builds from position 0, all ten events in its first batch.
    proc_node_start (p, NODE " --module-opt projection.flaky=1");
    build_info_t flaky = projections_wait_status (p, "flaky", 1, "failed");
    assert_int_equal (flaky.error_position, 7);
    assert_int_equal (flaky.position, 7);
    //  Its checkpoint's count (its rows are not served: it never caught
    //  up): the seven events before Poisoned, where it was 3 (0-2, the
    //  applies before the flaky one) with 3-6 skipped.
    assert_int_equal (flaky.applied, 7);
    assert_non_null (strstr (flaky.error, "Poisoned of item/i0 cannot be counted"));
    char log[PROC_OUTPUT_MAX];
    proc_read (p, "node.log", log);
    assert_non_null (strstr (log, "did not apply again"));
}

//  --------------------------------------------------------------------------
//  8. shoal_view_put_new misused: once@1 puts "added/ID" new at each Added.

static void test_put_new_misuse (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, NODE " --module-opt projection.once=1");
    projections_send_many (p, "Add", 0, 1, 1); //  item/i0, position 0
    assert_int_equal (projections_wait_status (p, "once", 1, "live").applied, 1);
    //  i0 again, in the next batch: the node knows the row it committed.
    projections_send_many (p, "Add", 1, 1, 1);
    build_info_t once = projections_wait_status (p, "once", 1, "failed");
    assert_int_equal (once.error_position, 1);
    assert_non_null (strstr (once.error, "shoal_view_put_new of added/i0, which holds a row"));
    char rows[PROC_OUTPUT_MAX], code[64];
    projections_rows (p, "once", 1, rows, sizeof rows, code);
    assert_string_equal (code, "");
    assert_non_null (strstr (rows, "added/i0 "));
    //  Skipped, and the node restarted: it no longer knows added/i0's
    //  row, so the next Added of i0 (position 2) passes unseen, the
    //  misuse the contract leaves to the module (shoal.h); the one after
    //  it (3) is caught, staged in the same batch or committed in the one
    //  before.
    projections_control (p, "skip", "once", 1, 1, NULL);
    projections_wait_status (p, "once", 1, "live");
    proc_node_signal (p, SIGTERM);
    proc_node_start (p, NODE " --module-opt projection.once=1");
    projections_send_many (p, "Add", 2, 2, 1);
    once = projections_wait_status (p, "once", 1, "failed");
    assert_int_equal (once.error_position, 3);
    assert_non_null (strstr (once.error, "shoal_view_put_new of added/i0, which holds a row"));
    print_message ("once@1 stopped: %s\n", once.error);
}

//  --------------------------------------------------------------------------
//  9. Drops that a crash cut short.

//  Writes, into the stopped node's store, what a crash in the middle of a
//  drop leaves: build 0 of tally@1 whole (its checkpoint at the log's end,
//  caught up) though build 1 replaced it, and build 7 without a
//  checkpoint (a drop deletes it first), each with a row the rebuild has
//  not.
static void s_leave_cut_drops (proc_t *p, uint64_t position)
{
    char dir[128];
    snprintf (dir, sizeof dir, "%s/data", p->dir);
    int code = 0;
    char *error = NULL;
    journal_t *journal = journal_open (dir, NULL, &code, &error);
    if (!journal)
        fail_msg ("cannot open %s: %s", dir, error ? error : "");
    journal_batch_t *batch = journal_batch_new (journal);
    assert_non_null (batch);
    msgpack_sbuffer row;
    msgpack_sbuffer_init (&row);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &row, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    msgpack_pack_str_with_body (&pk, "times", 5);
    msgpack_pack_int64 (&pk, 99);
    journal_build_t replaced = {.view = "tally", .version = 1, .build = 0};
    journal_checkpoint_t cp = {.next = position, .applied = position, .caught_up = true};
    assert_int_equal (journal_batch_view_checkpoint (batch, &replaced, &cp), 0);
    assert_int_equal (
        journal_batch_view_put (batch, &replaced, "seen/stale", (uint8_t *) row.data, row.size), 0);
    journal_build_t half = {.view = "tally", .version = 1, .build = 7};
    assert_int_equal (
        journal_batch_view_put (batch, &half, "seen/half", (uint8_t *) row.data, row.size), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    msgpack_sbuffer_destroy (&row);
    journal_batch_destroy (&batch);
    journal_destroy (&journal);
}

static void test_drops_cut_short (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, NODE);
    projections_send_many (p, "Add", 0, 300, 37);
    projections_wait_status (p, "tally", 1, "live");
    projections_control (p, "rebuild", "tally", 1, -1, NULL);
    int64_t deadline = proc_now_ms () + WAIT_MS;
    build_info_t info;
    do { //  build 1 served, caught up; build 0 dropped
        info = projections_build (p, "tally", 0);
        usleep (10 * 1000);
    } while (!(info.build == 1 && info.lag == 0) && proc_now_ms () < deadline);
    assert_int_equal (info.build, 1);
    char *rebuilt = malloc (ROWS_MAX), *after = malloc (ROWS_MAX), code[64];
    projections_rows (p, "tally", 0, rebuilt, ROWS_MAX, code);
    assert_string_equal (code, "");
    projections_assert_each_once (rebuilt, 300);
    proc_node_signal (p, SIGTERM);

    s_leave_cut_drops (p, (uint64_t) info.position);
    proc_node_start (p, NODE);
    //  Whichever build is served applies the next events: the rebuild's,
    //  with its rows and nothing of the others'
    projections_send_many (p, "Add", 300, 10, 37);
    deadline = proc_now_ms () + WAIT_MS;
    do {
        info = projections_build (p, "tally", 0);
        usleep (10 * 1000);
    } while (!(info.found && info.applied >= 310 && info.lag == 0) && proc_now_ms () < deadline);
    if (info.build != 1)
        fail_msg ("tally@1 serves build %" PRId64 " after the restart, not the rebuild (1)",
                  info.build);
    assert_int_equal (projections_build (p, "tally", 1).build,
                      1); //  no newer build of tally@1 left
    projections_rows (p, "tally", 0, after, ROWS_MAX, code);
    assert_string_equal (code, "");
    assert_null (strstr (after, "stale"));
    assert_null (strstr (after, "half"));
    projections_assert_each_once (after, 310);
    //  Both drops were finished as the node started, and said so
    char log[PROC_OUTPUT_MAX];
    proc_read (p, "node.log", log);
    proc_assert_has (log, "tally@1: build 7 dropped (1 records): its drop had been cut short");
    proc_assert_has (log, "tally@1: build 0 dropped");
    proc_assert_has (log, "a rebuild replaced it");
    free (rebuilt);
    free (after);
}

//  --------------------------------------------------------------------------
//  10. A batch state: summed@1.

//  The "total" row of name@version (0: served), "" if none.
static void s_total (proc_t *p, const char *name, int64_t version, char *total, size_t size)
{
    static char rows[ROWS_MAX];
    char code[64];
    projections_rows (p, name, version, rows, sizeof rows, code);
    assert_string_equal (code, "");
    const char *at = strstr (rows, "total ");
    const char *end = at ? strchr (at, '\n') : NULL;
    snprintf (total, size, "%.*s", at && end ? (int) (end - at) : 0, at ? at : "");
}

static void test_batch_state (void **state)
{
    proc_t *p = *state;
    //  Written with the projections off, so that summed's first batch
    //  holds them all: Poisoned at 6 fails it, and the six before it are
    //  applied again, into sums zeroed first.
    proc_node_start (p, NODE " --projections off");
    projections_send_many (p, "Add", 0, 6, 2);    //  0-5, by 0..5
    projections_send_many (p, "Poison", 0, 1, 1); //  6
    projections_send_many (p, "Add", 6, 3, 2);    //  7-9, by 6..8
    proc_node_signal (p, SIGTERM);
#define SUMMED NODE " --module-opt projection.summed=1"
    proc_node_start (p, SUMMED);
    build_info_t summed = projections_wait_status (p, "summed", 1, "failed");
    assert_int_equal (summed.error_position, 6);
    assert_int_equal (summed.position, 6);
    assert_int_equal (summed.applied, 6);
    assert_non_null (strstr (summed.error, "Poisoned of item/i0 cannot be counted"));
    projections_control (p, "skip", "summed", 1, 6, NULL);
    projections_wait_status (p, "summed", 1, "live");
    char total[256];
    s_total (p, "summed", 1, total, sizeof total);
    //  0+...+8 over nine Adds (events 15, sum 51 had the sums not been
    //  zeroed before the batch ran again)
    assert_string_equal (total, "total times=-1 events=9 sum=36 version=-1");

    //  More, in many batches, with a SIGKILL between them.
    projections_send_many (p, "Add", 9, 200, 3); //  by 9..208
    proc_node_signal (p, SIGKILL);
    proc_node_start (p, SUMMED);
    projections_send_many (p, "Add", 209, 100, 3); //  by 209..308
    projections_wait_status (p, "summed", 1, "live");
    projections_wait_status (p, "tally", 1, "live");
    s_total (p, "summed", 1, total, sizeof total);
    assert_string_equal (total, "total times=-1 events=309 sum=47586 version=-1");
    //  tally's, event by event: the same, and Poisoned (by 0) besides.
    s_total (p, "tally", 0, total, sizeof total);
    assert_string_equal (total, "total times=-1 events=310 sum=47586 version=1");

    //  A batch_end that fails: the projection stops at its batch's first
    //  event, with nothing of the batch kept; its send was refused.
    summed = projections_build (p, "summed", 1);
    uint64_t next = (uint64_t) summed.position;
    projections_send_many (p, "Ping", 0, 1, 1);
    summed = projections_wait_status (p, "summed", 1, "failed");
    assert_int_equal (summed.error_position, (int64_t) next);
    assert_int_equal (summed.position, (int64_t) next);
    assert_non_null (strstr (summed.error, "a batch with a Pinged (send refused: yes)"));
    s_total (p, "summed", 1, total, sizeof total);
    assert_string_equal (total, "total times=-1 events=309 sum=47586 version=-1");
    char log[PROC_OUTPUT_MAX];
    proc_read (p, "node.log", log);
    assert_non_null (strstr (log, "its batch_end failed"));
}

static void test_batch_end_crash (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, SUMMED);
    projections_send_many (p, "Add", 0, 5, 1); //  0-4, by 0..4
    assert_int_equal (projections_wait_status (p, "summed", 1, "live").applied, 5);
    //  Boom, position 5, alone in summed's next batch: its batch_end
    //  aborts the node.
    s_boom_three_crashes (p, SUMMED);
    proc_node_start (p, SUMMED);
    build_info_t summed = projections_wait_status (p, "summed", 1, "failed");
    assert_int_equal (summed.error_position, 5);
    assert_int_equal (summed.position, 5);
    assert_non_null (strstr (summed.error, "crashed 3 times in a row"));
    projections_control (p, "skip", "summed", 1, 5, NULL);
    projections_send_many (p, "Add", 5, 3, 1); //  6-8, by 5..7
    projections_wait_status (p, "summed", 1, "live");
    char total[256];
    s_total (p, "summed", 1, total, sizeof total);
    assert_string_equal (total, "total times=-1 events=8 sum=28 version=-1");
}

//  A batch_end that fails over a batch of several events stops at the
//  event it fails on: the batch runs again a batch an event. It stopped
//  at the batch's first event, an operator's skip there dropped a fine
//  event, and the next batch failed again at its own first, until the
//  culprit came first (a projections review's find: Adds of 1 and 2
//  lost). Written with the projections off, so that one batch holds all.
static void test_batch_end_stops_at_its_event (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, NODE " --projections off");
    projections_send_many (p, "Add", 1, 3, 1);  //  0-2, by 1..3
    projections_send_many (p, "Ping", 0, 1, 1); //  3: summed's batch_end fails on it
    projections_send_many (p, "Add", 4, 2, 1);  //  4-5, by 4..5
    proc_node_signal (p, SIGTERM);
    proc_node_start (p, SUMMED);
    build_info_t summed = projections_wait_status (p, "summed", 1, "failed");
    assert_int_equal (summed.error_position, 3);
    assert_int_equal (summed.applied, 3);
    assert_non_null (strstr (summed.error, "in batch_end: a batch with a Pinged"));
    char log[PROC_OUTPUT_MAX];
    proc_read (p, "node.log", log);
    proc_assert_has (log, "its batch_end failed over the 6 events from position 0 to 5");
    projections_control (p, "skip", "summed", 1, 3, NULL);
    projections_wait_status (p, "summed", 1, "live");
    char total[256];
    s_total (p, "summed", 1, total, sizeof total);
    assert_string_equal (total, "total times=-1 events=5 sum=15 version=-1");
}

//  The same when batch_end crashes the node: counted at the batch's
//  first event, the next start runs the batch event by event, and the
//  event set aside after three crashes is the one that crashes it.
static void test_batch_end_crash_stops_at_its_event (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, NODE " --projections off");
    projections_send_many (p, "Add", 1, 2, 1);  //  0-1, by 1..2
    projections_send_many (p, "Boom", 0, 1, 1); //  2: summed's batch_end aborts on it
    projections_send_many (p, "Add", 3, 1, 1);  //  3, by 3
    proc_node_signal (p, SIGTERM);
    //  Once at the batch's first event, then three times at Boom's.
    proc_node_crash (p, 4, WAIT_MS, SUMMED);
    proc_node_start (p, SUMMED);
    build_info_t summed = projections_wait_status (p, "summed", 1, "failed");
    assert_int_equal (summed.error_position, 2);
    assert_int_equal (summed.applied, 2);
    assert_non_null (strstr (summed.error, "crashed 3 times in a row"));
    projections_control (p, "skip", "summed", 1, 2, NULL);
    projections_wait_status (p, "summed", 1, "live");
    char total[256];
    s_total (p, "summed", 1, total, sizeof total);
    assert_string_equal (total, "total times=-1 events=3 sum=6 version=-1");
}

//  --------------------------------------------------------------------------
//  11. A misuse of the view API says which: the call and its limit (it
//      said "misuse of shoal_view_*: invalid argument", whatever it was).

#define MISUSE NODE " --log-level warn --module-opt projection.misuse=1"

static void test_misuse_named (void **state)
{
    proc_t *p = *state;
    static const struct {
        int by; //  the misuse, as s_misuse in projection_module.c numbers them
        const char *said;
    } cases[] = {
        {1, "shoal_view_put: a row key of more than 512 bytes"},
        {2, "shoal_view_get: an empty row key (1 to 512 bytes)"},
        {3, "shoal_view_send: more than 16 commands sent by one apply"},
        {4, "shoal_view_send: a command sent to something that is not an address (TYPE/ID, at "
            "most 264 bytes)"},
        {5, "the row row/5: a field written wrongly with shoal_rec_*: a NULL string"},
        {6, "the command Echo sent by shoal_view_send: a field written wrongly with shoal_rec_*: "
            "a map or array begun and not ended"},
        {7, "the row row/7: a field written wrongly with shoal_rec_*: maps and arrays nested "
            "deeper than 16"},
        //  It was kept, and `shoal query` printed {"k":1,"k":2}.
        {8, "the row row/8: a field written wrongly with shoal_rec_*: the key 'k' written twice "
            "in one map"},
        {9, "shoal_view_delete: an empty row key (1 to 512 bytes)"}, //  in batch_end
        {10, "the command Echo sent by shoal_view_send: more than 1 MiB with its envelope"},
        //  It was sent, refused bad_frame by the node's own front, and
        //  dropped: the reaction never ran.
        {11, "the command Echo sent by shoal_view_send: a string that is not UTF-8 (at byte 10 "
             "of its fields)"},
        //  Fields written through a rec after the next call went into the
        //  next row, or nowhere; a failure not returned was applied.
        {13, "fields written into a row or a command after the next shoal_view_ call (the rec "
             "shoal_view_put, put_new or send returns is good until then): they would be lost, "
             "or land in another row"},
        {14, "fields written into a row or a command after the next shoal_view_ call (the rec "
             "shoal_view_put, put_new or send returns is good until then): they would be lost, "
             "or land in another row"},
        {15, "by 15 fails"},
    };
    proc_node_start (p, MISUSE);
    char log[PROC_OUTPUT_MAX], line[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        projections_send_many (p, "Add", cases[i].by, 1, 1000); //  position i
        build_info_t misuse = projections_wait_status (p, "misuse", 1, "failed");
        assert_int_equal (misuse.error_position, (int64_t) i);
        char said[512]; //  where it failed, for batch_end
        snprintf (said, sizeof said, "%s%s", cases[i].by == 9 ? "in batch_end: " : "",
                  cases[i].said);
        if (strcmp (misuse.error, said) != 0)
            fail_msg ("by %d: the error is '%s', not '%s'", cases[i].by, misuse.error, said);
        print_message ("misuse@1 stopped: %s\n", misuse.error);
        snprintf (line, sizeof line, "projection misuse@1 stopped at position %zu: %s%s", i,
                  cases[i].by == 9 ? "its batch_end failed: " : "", cases[i].said);
        proc_read (p, "node.log", log);
        proc_assert_has (log, line);
        projections_control (p, "skip", "misuse", 1, (int64_t) i, NULL);
        projections_wait_status (p, "misuse", 1, "live");
    }
    projections_send_many (p, "Add", 12, 1, 1000); //  a fine one goes on
    build_info_t after = projections_wait_status (p, "misuse", 1, "live");
    assert_int_equal (after.applied, 1);
    assert_int_equal (after.skipped, 14);
}

//  A type in a projection's events that no module registers is said at
//  the start: a typo ("acount:Deposited") made a projection that applied
//  nothing, live with lag 0, and nothing said so (a review's find).
static void test_events_typo_said (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, NODE " --module-opt projection.typo=1");
    char log[PROC_OUTPUT_MAX];
    proc_read (p, "node.log", log);
    proc_assert_has (log, "projection typo@1 wants events of the type 'itme', which no module "
                          "registers: a typo in its events?");
    assert_null (strstr (log, "of the type 'item'"));
    assert_null (strstr (log, "of the type '*'"));
}

//  --------------------------------------------------------------------------
//  12. A field present but unreadable is refused, not read as absent.

//  One field of a payload sent as it is, bytes and type, which the
//  command line would not send.
typedef struct {
    const char *key;
    char type;       //  's' a str of len bytes (0: strlen), 'b' a bin of them, 'i' an int
    const char *str; //  's', 'b'
    size_t len;
    int64_t number; //  'i'
} raw_field_t;

#define RAW_STR(key, value)                                                                        \
    {                                                                                              \
        key, 's', value, sizeof value - 1, 0                                                       \
    }

#define RAW_BIN(key, value)                                                                        \
    {                                                                                              \
        key, 'b', value, sizeof value - 1, 0                                                       \
    }

#define RAW_INT(key, value)                                                                        \
    {                                                                                              \
        key, 'i', NULL, 0, value                                                                   \
    }

#define RAW_FIELDS_MAX 4

//  A query to to whose payload holds fields as they are. Fails the test
//  on no answer; *reply is the caller's to close.
static void s_query_raw (proc_t *p, const char *to, const char *name, const raw_field_t *fields,
                         client_reply_t *reply)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    size_t count = 0;
    while (count < RAW_FIELDS_MAX && fields[count].key)
        count++;
    msgpack_pack_map (&pk, (uint32_t) count);
    for (size_t i = 0; i < count; i++) {
        const raw_field_t *field = &fields[i];
        msgpack_pack_str_with_body (&pk, field->key, strlen (field->key));
        if (field->type == 'i')
            msgpack_pack_int64 (&pk, field->number);
        else if (field->type == 'b')
            msgpack_pack_bin_with_body (&pk, field->str, field->len);
        else
            msgpack_pack_str_with_body (&pk, field->str, field->len);
    }
    client_t *client = client_new (p->endpoint);
    assert_non_null (client);
    envelope_t request;
    client_request (&request, ENVELOPE_QUERY, NULL, to, name, (const uint8_t *) buffer.data,
                    buffer.size);
    assert_int_equal (client_call (client, &request, 20000, reply), 0);
    client_destroy (&client);
    msgpack_sbuffer_destroy (&buffer);
}

//  projection_rows and projection_control read each string field whole:
//  "pause\0x" is not "pause", "tally\0junk" not tally (which that paused),
//  and a key of 600 bytes, of an int or a bin is not absent (which read
//  every row). Each is refused as invalid, the reason naming the field,
//  and the build and its rows are as they were. dead_letter_retry's who
//  likewise (a who of "ops\0x" was recorded as "ops").
static void test_query_fields_refused (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, NODE);
    projections_send_many (p, "Add", 0, 20, 5);
    projections_wait_status (p, "tally", 1, "live");
    static char before[ROWS_MAX], after[ROWS_MAX];
    char code[64];
    projections_rows (p, "tally", 1, before, ROWS_MAX, code);
    assert_string_equal (code, "");
    assert_non_null (strstr (before, "total "));

    char long_key[601];
    memset (long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = 0;
    static const struct {
        const char *query;
        raw_field_t fields[RAW_FIELDS_MAX];
        const char *field; //  the reason starts with it
    } cases[] = {
        {"projection_control",
         {RAW_STR ("action", "pause\0x"), RAW_STR ("name", "tally")},
         "action"},
        {"projection_control",
         {RAW_STR ("action", "pause"), RAW_STR ("name", "tally\0junk")},
         "name"},
        {"projection_control", {RAW_STR ("action", "pause"), RAW_INT ("name", 5)}, "name"},
        {"projection_control",
         {RAW_STR ("action", "pause"), RAW_STR ("name", "tally"), RAW_STR ("version", "1")},
         "version"},
        {"projection_control",
         {RAW_STR ("action", "pause"), RAW_STR ("name", "tally"), RAW_STR ("position", "3")},
         "position"},
        {"projection_rows", {RAW_STR ("name", "tally"), RAW_INT ("key", 5)}, "key"},
        {"projection_rows", {RAW_STR ("name", "tally"), RAW_BIN ("key", "total")}, "key"},
        {"projection_rows", {RAW_STR ("name", "tally"), RAW_STR ("key", "total\0")}, "key"},
        {"projection_rows", {RAW_STR ("name", "tally\0x"), RAW_STR ("key", "total")}, "name"},
        {"projection_rows", {RAW_STR ("name", "tally"), RAW_STR ("limit", "5")}, "limit"},
        {"projection_rows", {RAW_STR ("name", "tally"), RAW_INT ("prefix", 1)}, "prefix"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0] + 2; i++) {
        raw_field_t longer[RAW_FIELDS_MAX] = {RAW_STR ("name", "tally"),
                                              {i % 2 ? "prefix" : "key", 's', long_key, 600, 0}};
        bool is_case = i < sizeof cases / sizeof cases[0];
        const char *query = is_case ? cases[i].query : "projection_rows";
        const char *field = is_case ? cases[i].field : longer[1].key;
        client_reply_t reply;
        s_query_raw (p, "node/projections", query, is_case ? cases[i].fields : longer, &reply);
        if (reply.ok || strcmp (reply.code, "invalid") != 0 ||
            strncmp (reply.reason, field, strlen (field)) != 0)
            fail_msg ("%s, case %zu: %s %s: %s, not invalid naming %s", query, i,
                      reply.ok ? "ok" : "refused", reply.code, reply.reason, field);
        client_reply_close (&reply);
    }
    build_info_t tally = projections_build (p, "tally", 1);
    assert_string_equal (tally.status, "live");
    projections_rows (p, "tally", 1, after, ROWS_MAX, code);
    assert_string_equal (after, before);

    //  A dead letter's who; the same query with a fine who says not_found.
    raw_field_t who_nul[RAW_FIELDS_MAX] = {RAW_STR ("id", "00000000000000000000000000000000"),
                                           RAW_STR ("who", "ops\0x")};
    raw_field_t who_int[RAW_FIELDS_MAX] = {RAW_STR ("id", "00000000000000000000000000000000"),
                                           RAW_INT ("who", 7)};
    raw_field_t who_ok[RAW_FIELDS_MAX] = {RAW_STR ("id", "00000000000000000000000000000000"),
                                          RAW_STR ("who", "ops")};
    const raw_field_t *whos[] = {who_nul, who_int, who_ok};
    for (size_t i = 0; i < 3; i++) {
        client_reply_t reply;
        s_query_raw (p, "item/i1", "dead_letter_retry", whos[i], &reply);
        assert_false (reply.ok);
        assert_string_equal (reply.code, i < 2 ? "invalid_field" : "not_found");
        if (i < 2)
            assert_non_null (strstr (reply.reason, "who must be a string"));
        client_reply_close (&reply);
    }
}

//  --------------------------------------------------------------------------
//  12. An apply that never returns: the watchdog names the projection and
//      the event, past --turn-timeout, while commands go on; a stop names
//      it too (it went unsaid, and the stop blamed the workers).

static void test_apply_past_turn_timeout (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, NODE " --module-opt projection.spin=1 --turn-timeout 200 "
                             "--stop-grace-ms 500");
    projections_send_many (p, "Add", 0, 2, 1000);  //  positions 0 and 1: fine
    projections_send_many (p, "Add", 99, 1, 1000); //  position 2: spin@1 never returns
    const char *said = "projection thread: spin@1 has run for ";
    char log[PROC_OUTPUT_MAX];
    if (!proc_log_until (p, said, WAIT_MS, log))
        fail_msg ("no '%s' in the log within %d ms: %s", said, WAIT_MS, log);
    proc_assert_has (log, " ms, at the event at position 2, past --turn-timeout (200 ms)");
    projections_send_many (p, "Add", 3, 1, 1000); //  commands go on
    proc_node_signal (p, SIGTERM);
    proc_read (p, "node.log", log);
    proc_assert_has (log, "stopping: the projection thread is still in an apply of spin@1, at "
                          "the event at position 2");
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_crashing_apply, projections_setup,
                                         projections_teardown),
        cmocka_unit_test_setup_teardown (test_skip_clears_rebuild_guard, projections_setup,
                                         projections_teardown),
        cmocka_unit_test_setup_teardown (test_crash_guard_applies_before, projections_setup,
                                         projections_teardown),
        cmocka_unit_test_setup_teardown (test_rerun_fails, projections_setup, projections_teardown),
        cmocka_unit_test_setup_teardown (test_put_new_misuse, projections_setup,
                                         projections_teardown),
        cmocka_unit_test_setup_teardown (test_drops_cut_short, projections_setup,
                                         projections_teardown),
        cmocka_unit_test_setup_teardown (test_batch_state, projections_setup, projections_teardown),
        cmocka_unit_test_setup_teardown (test_batch_end_stops_at_its_event, projections_setup,
                                         projections_teardown),
        cmocka_unit_test_setup_teardown (test_batch_end_crash_stops_at_its_event, projections_setup,
                                         projections_teardown),
        cmocka_unit_test_setup_teardown (test_batch_end_crash, projections_setup,
                                         projections_teardown),
        cmocka_unit_test_setup_teardown (test_events_typo_said, projections_setup,
                                         projections_teardown),
        cmocka_unit_test_setup_teardown (test_misuse_named, projections_setup,
                                         projections_teardown),
        cmocka_unit_test_setup_teardown (test_apply_past_turn_timeout, projections_setup,
                                         projections_teardown),
        cmocka_unit_test_setup_teardown (test_query_fields_refused, projections_setup,
                                         projections_teardown),
    };
    //  SHOAL_TEST_FILTER=test_query* runs the tests whose names match.
    if (getenv ("SHOAL_TEST_FILTER"))
        cmocka_set_test_filter (getenv ("SHOAL_TEST_FILTER"));
    return cmocka_run_group_tests (tests, NULL, NULL);
}
