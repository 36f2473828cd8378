/*  test_projections_reaction.c - reactions in a real node: each command sent exactly
    once, their sender, sends taken over by a rebuild or a new version,
    manual versions, first versions, senders removed, made manual or added.
    The fixture: projections_test_util.h.
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
//  5. A reaction, SIGKILLed again and again: each command once.

//  No command of pinger was rejected (the node logs it): a second
//  version's Echo under an id the first used is refused id_reused.
static void s_assert_none_rejected (proc_t *p)
{
    char log[PROC_OUTPUT_MAX];
    proc_read (p, "node.log", log);
    const char *rejected = strstr (log, "was rejected");
    if (rejected)
        fail_msg ("a command of pinger was rejected: %.240s",
                  rejected - log > 160 ? rejected - 160 : log);
}

static int s_echoed (proc_t *p, int item)
{
    char out[PROC_OUTPUT_MAX];
    int rc = proc_run (p, out, NULL, "$SHOAL events --endpoint $E echo/i%d", item);
    return rc == 0 ? projections_count (out, "Echoed") : 0;
}

//  Echoed events over the five items.
static int s_echoed_all (proc_t *p)
{
    int total = 0;
    for (int i = 0; i < 5; i++)
        total += s_echoed (p, i);
    return total;
}

//  Echoed events over the five items that pinger@2 sent (its Echo has
//  "by": 2).
static int s_echoed_by_2 (proc_t *p)
{
    int total = 0;
    for (int i = 0; i < 5; i++) {
        char out[PROC_OUTPUT_MAX];
        if (proc_run (p, out, NULL, "$SHOAL events --endpoint $E echo/i%d", i) == 0)
            total += projections_count (out, "\"by\":2");
    }
    return total;
}

static void test_reaction_exactly_once (void **state)
{
    proc_t *p = *state;
    //  First, pings with the projections off: when pinger first runs, it
    //  builds from position 0 and, the first of its name, reacts to those.
    proc_node_start (p, NODE " --projections off");
    projections_send_many (p, "Ping", 0, 30, 5);
    proc_node_signal (p, SIGTERM);
    int pings = 30;
    for (int round = 0; round < 4; round++) {
        //  Each Echo takes 20 ms: the reaction's commands wait for answers.
        proc_node_start (p, NODE " --module-opt projection.echo_ms=20");
        projections_send_many (p, "Ping", pings, 30, 5);
        pings += 30;
        //  Killed at once (the reaction's checkpoint or sends not made
        //  yet), or once its checkpoint and commands are committed and
        //  wait for their answers (some of them answered, the answer lost
        //  with the node).
        if (round % 2) {
            int64_t deadline = proc_now_ms () + WAIT_MS;
            while (projections_build (p, "pinger", 1).sends == 0 && proc_now_ms () < deadline)
                usleep (2 * 1000);
            assert_true (proc_now_ms () < deadline);
        }
        proc_node_signal (p, SIGKILL);
    }
    proc_node_start (p, NODE);
    projections_wait_status (p, "pinger", 1, "live");
    int64_t deadline = proc_now_ms () + WAIT_MS;
    int total;
    do {
        total = 0;
        for (int i = 0; i < 5; i++)
            total += s_echoed (p, i);
        usleep (20 * 1000);
    } while (total < pings && proc_now_ms () < deadline);
    for (int i = 0; i < 5; i++)
        assert_int_equal (s_echoed (p, i), pings / 5); //  one Echoed per Pinged, no more
}

//  A reaction comes from "projection/NAME" (shoal_msg_from), so that its
//  receiver can tell it from a client's command: one sent before that was
//  stored with an empty sender, and is named when it is sent again after
//  an upgrade (else a receiver that takes the command from a projection
//  only, as the bank's review, would refuse it for good).

//  Rewrites each command pinger@1 awaits an answer to with an empty
//  sender, as a node before the sender was named stored it.
static int s_unname_send (void *arg, const char *key, size_t key_len, const uint8_t *value,
                          size_t size)
{
    journal_batch_t *batch = arg;
    envelope_t envelope;
    assert_int_equal (key_len, ENVELOPE_ID_SIZE);
    assert_int_equal (envelope_decode (&envelope, value, size), 0);
    assert_string_equal (envelope.from, "projection/pinger");
    envelope.from[0] = 0;
    uint8_t *frame;
    size_t frame_size;
    assert_int_equal (envelope_encode (&envelope, &frame, &frame_size), 0);
    journal_build_t build = {"pinger", 1, 0};
    assert_int_equal (
        journal_batch_view_send (batch, &build, (const uint8_t *) key, frame, frame_size), 0);
    free (frame);
    return 0;
}

static void test_reaction_sender (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, NODE " --projections off");
    projections_send_many (p, "Ping", 0, 10, 5);
    proc_node_signal (p, SIGTERM);
    //  Each Echo takes 300 ms: killed while the reactions wait for answers.
    proc_node_start (p, NODE " --module-opt projection.echo_ms=300");
    int64_t deadline = proc_now_ms () + WAIT_MS;
    while (projections_build (p, "pinger", 1).sends < 5 && proc_now_ms () < deadline)
        usleep (2 * 1000);
    assert_true (proc_now_ms () < deadline);
    proc_node_signal (p, SIGKILL);
    char dir[128];
    snprintf (dir, sizeof dir, "%s/data", p->dir);
    int code = 0;
    char *error = NULL;
    journal_options_t opts = {.sync = true};
    journal_t *journal = journal_open (dir, &opts, &code, &error);
    assert_non_null (journal);
    journal_batch_t *batch = journal_batch_new (journal);
    journal_build_t build = {"pinger", 1, 0};
    assert_int_equal (journal_view_sends (journal, &build, s_unname_send, batch), 0);
    assert_true (journal_batch_count (batch) >= 5);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);
    journal_destroy (&journal);
    //  Sent again: every Echo, the rewritten ones included, from pinger.
    proc_node_start (p, NODE);
    deadline = proc_now_ms () + WAIT_MS;
    while (s_echoed_all (p) < 10 && proc_now_ms () < deadline)
        usleep (20 * 1000);
    assert_int_equal (s_echoed_all (p), 10);
    int named = 0;
    for (int i = 0; i < 5; i++) {
        char out[PROC_OUTPUT_MAX];
        assert_int_equal (proc_run (p, out, NULL, "$SHOAL events --endpoint $E echo/i%d", i), 0);
        named += projections_count (out, "\"from\":\"projection/pinger\"");
    }
    assert_int_equal (named, 10);
}

//  5b. A rebuild takes over the commands the build it replaces sent and
//  has not seen answered: pinger's Echo to echo/i0 is being handled (an
//  Echo takes 4 s here) when a rebuild of pinger catches up, is served
//  and drops the build it replaced; the node is SIGKILLed before the Echo
//  commits. The rebuild does not send for the Ping (the build it
//  replaced had), so the command was in the dropped build's records
//  alone: gone with it, echo/i0 was never Echoed. Now the rebuild writes
//  it under its own build before the drop, and re-sends it after the
//  restart: one Echoed.
static void test_rebuild_takes_over_sends (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, NODE " --module-opt projection.echo_ms=4000 --turn-timeout 60000");
    projections_send_many (p, "Ping", 0, 1, 1);
    int64_t deadline = proc_now_ms () + WAIT_MS;
    while (projections_build (p, "pinger", 1).sends == 0 && proc_now_ms () < deadline)
        usleep (2 * 1000);
    assert_int_equal (projections_build (p, "pinger", 1).sends, 1);
    int64_t sent_at = proc_now_ms ();
    projections_control (p, "rebuild", "pinger", 1, -1, NULL);
    build_info_t info;
    do {
        info = projections_build (p, "pinger", 1);
        usleep (2 * 1000);
    } while (!(info.served && info.build == 1) && proc_now_ms () < deadline);
    assert_true (info.served && info.build == 1);
    assert_int_equal (info.sends, 1); //  taken over, still unanswered
    //  Before the Echo's turn ends: its command is not answered, nor
    //  its event committed.
    assert_true (proc_now_ms () - sent_at < 3000);
    proc_node_signal (p, SIGKILL);
    proc_node_start (p, NODE);
    projections_wait_status (p, "pinger", 1, "live");
    deadline = proc_now_ms () + WAIT_MS;
    while (s_echoed (p, 0) < 1 && proc_now_ms () < deadline)
        usleep (20 * 1000);
    assert_int_equal (s_echoed (p, 0), 1);
    deadline = proc_now_ms () + WAIT_MS;
    while (projections_build (p, "pinger", 1).sends != 0 && proc_now_ms () < deadline)
        usleep (20 * 1000);
    assert_int_equal (projections_build (p, "pinger", 1).sends, 0);
    assert_int_equal (s_echoed (p, 0), 1); //  once, not twice
}

//  5c. A new version takes over the reactions of the events the version
//  it replaces had not applied: pinger@1 is paused (it could as well be
//  failed, or lingering), ten Pings come, and the node restarts with
//  pinger@2 instead. Version 2 builds from position 0 while version 1 is
//  served, deciding the Echoes of the events past version 1's checkpoint
//  without sending them (a version not served must not act), and sends
//  them at its switch: every Ping Echoed once. They were never sent: the
//  version served had not reached them, the new one sent nothing for
//  events before its switch.
static void test_version_switch_sends_the_gap (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, NODE);
    projections_send_many (p, "Ping", 0, 10, 5);
    int64_t deadline = proc_now_ms () + WAIT_MS;
    while (s_echoed_all (p) < 10 && proc_now_ms () < deadline)
        usleep (20 * 1000);
    assert_int_equal (s_echoed_all (p), 10);
    projections_control (p, "pause", "pinger", 1, -1, NULL);
    projections_send_many (p, "Ping", 10, 10, 5);
    proc_node_signal (p, SIGTERM);
    proc_node_start (p, NODE " --module-opt projection.pinger_version=2");
    build_info_t v2;
    deadline = proc_now_ms () + WAIT_MS;
    do {
        v2 = projections_build (p, "pinger", 2);
        usleep (20 * 1000);
    } while (!(v2.served && v2.sends == 0 && s_echoed_all (p) >= 20) && proc_now_ms () < deadline);
    assert_true (v2.served);
    assert_int_equal (v2.sends, 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal (s_echoed (p, i), 4); //  one Echoed per Pinged, no more
    char log[PROC_OUTPUT_MAX];
    proc_read (p, "node.log", log);
    proc_assert_has (log, "projection pinger@2: at its switch from version 1, 10 held commands "
                          "sent");
}

//  5d. A version waiting for its manual switch does not act: pinger@2
//  builds beside pinger@1, which serves and sends, while Pings keep
//  coming; every Ping is Echoed once before the switch (version 2 holds
//  its decisions, and its Echo differs: one sent would be refused
//  id_reused, and logged), and after it version 2 sends alone: once
//  each, across the switch. (The switch's catch-up, for a build lingering
//  behind version 1's, is not forced here: the two builds' lingers.)
static void test_manual_version_waits (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, NODE);
    projections_send_many (p, "Ping", 0, 10, 5);
    proc_node_signal (p, SIGTERM);
    proc_node_start (p, NODE " --module-opt projection.pinger_next=1");
    projections_wait_status (p, "pinger", 2, "ready");
    for (int round = 1; round < 4; round++) {
        projections_send_many (p, "Ping", 10 * round, 10, 5);
        int64_t deadline = proc_now_ms () + WAIT_MS;
        while (s_echoed_all (p) < 10 * (round + 1) && proc_now_ms () < deadline)
            usleep (20 * 1000);
        assert_int_equal (s_echoed_all (p), 10 * (round + 1));
    }
    projections_control (p, "switch", "pinger", 2, -1, NULL);
    assert_true (projections_build (p, "pinger", 2).served);
    projections_send_many (p, "Ping", 40, 10, 5);
    int64_t deadline = proc_now_ms () + WAIT_MS;
    build_info_t v2;
    do {
        v2 = projections_build (p, "pinger", 2);
        usleep (20 * 1000);
    } while (!(v2.sends == 0 && s_echoed_all (p) >= 50) && proc_now_ms () < deadline);
    //  A copy sent twice would show once it is answered: wait for quiet.
    projections_wait_status (p, "pinger", 2, "live");
    for (int i = 0; i < 5; i++)
        assert_int_equal (s_echoed (p, i), 10); //  one Echoed per Pinged, no more
    //  Version 2's Echo differs from version 1's: one sent for an event
    //  version 1 had reacted to would be refused id_reused, and logged.
    s_assert_none_rejected (p);
}

//  5e. A switch moves the new version on to where the served one has
//  decided first: pinger@2 paused while version 1 reacts to 20 Pings,
//  then resumed and switched at once, while it has those 20 to apply
//  (50 ms each). Without the catch-up the switch was refused (version 2
//  would have decided again, with its own code, events version 1 had
//  reacted to); while paused, it is refused, saying why.
static void test_switch_catches_up (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, NODE " --module-opt projection.pinger_next=1 "
                             "--module-opt projection.pinger_us=50000");
    projections_wait_status (p, "pinger", 2, "ready");
    projections_control (p, "pause", "pinger", 2, -1, NULL);
    projections_send_many (p, "Ping", 0, 20, 5);
    int64_t deadline = proc_now_ms () + WAIT_MS;
    while (s_echoed_all (p) < 20 && proc_now_ms () < deadline)
        usleep (20 * 1000);
    assert_int_equal (s_echoed_all (p), 20);
    projections_control (p, "switch", "pinger", 2, -1, "invalid");
    assert_int_equal (projections_build (p, "pinger", 2).position, 0);
    projections_control (p, "resume", "pinger", 2, -1, NULL);
    projections_control (p, "switch", "pinger", 2, -1, NULL);
    build_info_t v2 = projections_build (p, "pinger", 2);
    assert_true (v2.served);
    assert_true (v2.position >= projections_build (p, "pinger", 1).position);
    projections_send_many (p, "Ping", 20, 10, 5);
    deadline = proc_now_ms () + WAIT_MS;
    do {
        v2 = projections_build (p, "pinger", 2);
        usleep (20 * 1000);
    } while (!(v2.sends == 0 && s_echoed_all (p) >= 30) && proc_now_ms () < deadline);
    for (int i = 0; i < 5; i++)
        assert_int_equal (s_echoed (p, i), 6); //  one Echoed per Pinged, no more
    s_assert_none_rejected (p);
}

//  5f. Two versions of pinger registered at once on a store where pinger
//  never ran: both build from position 0 with nothing of the name served,
//  each taking several steps (an apply pauses 5 ms, a step lasts 50 ms).
//  Only the version that will be served first sends (version 1 when 2
//  waits for a manual switch, version 2 when it does not: every Echoed
//  then carries its "by": 2); the other holds. Both sent before: one Echo
//  per event from each, under one id, the second refused id_reused.
static void s_first_versions (proc_t *p, const char *next, int64_t sender, int64_t other,
                              const char *other_status)
{
    proc_node_start (p, NODE " --projections off");
    projections_send_many (p, "Ping", 0, 40, 5);
    proc_node_signal (p, SIGTERM);
    proc_node_start (p,
                     "%s --module-opt projection.pinger_next=%s "
                     "--module-opt projection.pinger_us=5000",
                     NODE, next);
    assert_true (projections_wait_status (p, "pinger", sender, "live").served);
    int64_t deadline = proc_now_ms () + WAIT_MS;
    build_info_t info;
    do {
        info = projections_build (p, "pinger", sender);
        usleep (20 * 1000);
    } while (!(info.sends == 0 && s_echoed_all (p) >= 40) && proc_now_ms () < deadline);
    for (int i = 0; i < 5; i++)
        assert_int_equal (s_echoed (p, i), 8); //  one Echoed per Pinged
    info = projections_wait_status (p, "pinger", other, other_status);
    assert_false (info.served);
    assert_int_equal (s_echoed_by_2 (p), sender == 2 ? 40 : 0); //  the other sent nothing
    s_assert_none_rejected (p);
}

static void test_first_versions_manual (void **state)
{
    s_first_versions (*state, "1", 1, 2, "ready");
}

static void test_first_versions_auto (void **state)
{
    s_first_versions (*state, "auto", 2, 1, "old");
}

//  Waits until every item has been Echoed per times, then asserts once
//  more per item (one Echoed per Pinged, no more) and that no command of
//  pinger was rejected (a second version's Echo under one id is).
static void s_echoes_once (proc_t *p, int per_item)
{
    int64_t deadline = proc_now_ms () + WAIT_MS;
    while (s_echoed_all (p) < 5 * per_item && proc_now_ms () < deadline)
        usleep (20 * 1000);
    for (int i = 0; i < 5; i++)
        assert_int_equal (s_echoed (p, i), per_item);
    s_assert_none_rejected (p);
}

//  5g. The version that sends while nothing is served is fixed when a
//  build of the name first applies, not taken from the modules at each
//  start. pinger@2 (switched to without an operator) sends and is paused
//  at once; pinger@1 holds to the log's end. Restarted with version 2
//  gone from the module (an orphan, which never moves), version 1 is
//  served and sends what it held past what version 2 had decided;
//  restarted with version 2 made manual instead, version 2 still sends,
//  and is served once resumed. Before, version 1 took over as the sender
//  and never sent what it held: 8 of 45 Echoed.
static void s_sender_changed (proc_t *p, const char *restart_next)
{
    proc_node_start (p, NODE " --projections off");
    projections_send_many (p, "Ping", 0, 40, 5);
    proc_node_signal (p, SIGTERM);
    proc_node_start (p, NODE " --module-opt projection.pinger_next=auto "
                             "--module-opt projection.pinger_us=20000");
    projections_control (p, "pause", "pinger", 2, -1, NULL);
    assert_false (projections_wait_status (p, "pinger", 1, "old").served);
    proc_node_signal (p, SIGTERM);
    proc_node_start (p, "%s --module-opt projection.pinger_us=20000%s%s", NODE,
                     restart_next ? " --module-opt projection.pinger_next=" : "",
                     restart_next ? restart_next : "");
    if (!restart_next) { //  the orphan sends: not dropped before another is served
        char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
        assert_int_equal (
            proc_run (p, out, err, "$SHOAL projections --endpoint $E drop pinger@2 --reason r"), 1);
        assert_non_null (strstr (err, "sends the reactions while no version of its name is "
                                      "served"));
    } else {
        assert_false (projections_build (p, "pinger", 1).served);
        projections_control (p, "resume", "pinger", 2, -1, NULL);
        assert_true (projections_wait_status (p, "pinger", 2, "live").served);
    }
    projections_send_many (p, "Ping", 40, 5, 5);
    assert_true (projections_wait_status (p, "pinger", restart_next ? 2 : 1, "live").served);
    s_echoes_once (p, 9);
    char log[PROC_OUTPUT_MAX];
    proc_read (p, "node.log", log);
    assert_non_null (strstr (log, "pinger@2: sends its reactions until a version of pinger is "
                                  "served"));
    if (!restart_next)
        assert_non_null (strstr (log, "at its switch from version 2"));
}

static void test_sender_removed (void **state)
{
    s_sender_changed (*state, NULL);
    //  Not dropped while it was the sender; now version 1 is served, it may be.
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    assert_int_equal (
        proc_run (*state, out, err, "$SHOAL projections --endpoint $E drop pinger@2 --reason r"),
        0);
}

static void test_sender_made_manual (void **state)
{
    s_sender_changed (*state, "1");
}

//  5h. A version added at a restart while nothing is served holds what
//  the version that has been sending decides: pinger@1 alone sends part
//  of the log and is paused; restarted with pinger@2 (switched to without
//  an operator), version 2 holds, version 1 (resumed) is served first,
//  and version 2 takes over at its switch (on its next step: the Echoed
//  events are enough) with what version 1 had not reached. Before, version 2 became the sender and
//  sent again from position 0 what version 1 had sent: 10 rejected id_reused. An orphan that sends
//  cannot be dropped before another version is served.
static void test_sender_added (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, NODE " --projections off");
    projections_send_many (p, "Ping", 0, 40, 5);
    proc_node_signal (p, SIGTERM);
    proc_node_start (p, NODE " --module-opt projection.pinger_us=50000");
    int64_t deadline = proc_now_ms () + WAIT_MS;
    while (s_echoed_all (p) < 5 && proc_now_ms () < deadline)
        usleep (20 * 1000);
    projections_control (p, "pause", "pinger", 1, -1, NULL);
    build_info_t v1 = projections_build (p, "pinger", 1);
    assert_false (v1.served);
    assert_true (v1.position > 0 && v1.position < 40);
    proc_node_signal (p, SIGTERM);
    proc_node_start (p, NODE " --module-opt projection.pinger_next=auto");
    assert_false (projections_wait_status (p, "pinger", 2, "old").served);
    projections_control (p, "resume", "pinger", 1, -1, NULL);
    s_echoes_once (p, 8);
    projections_send_many (p, "Ping", 40, 5, 5);
    assert_true (projections_wait_status (p, "pinger", 2, "live").served);
    s_echoes_once (p, 9);
    char log[PROC_OUTPUT_MAX];
    proc_read (p, "node.log", log);
    assert_non_null (strstr (log, "projection pinger@1 is served"));
    assert_non_null (strstr (log, "pinger@1: sends its reactions until a version of pinger is "
                                  "served"));
}

//  5k. A reaction whose target's turn fails (handler_error: not stored, so
//  not run) is sent again until an answer settles it, here once the
//  module is mended and the node restarted; and it is said once in the
//  log. It was dropped at the first such answer, logged as rejected, and
//  its effect never came.
static int s_log_count (proc_t *p, const char *needle)
{
    char log[PROC_OUTPUT_MAX];
    proc_read (p, "node.log", log);
    return projections_count (log, needle);
}

//  Waits until node.log holds needle at least count times, for at most
//  WAIT_MS. Returns how many times it does.
static int s_wait_log_count (proc_t *p, const char *needle, int count)
{
    int64_t deadline = proc_now_ms () + WAIT_MS;
    while (s_log_count (p, needle) < count && proc_now_ms () < deadline)
        usleep (20 * 1000); //  a poll between two reads, within the deadline
    return s_log_count (p, needle);
}

static void test_failed_turn_sent_again (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, NODE " --module-opt projection.echo_fail=1");
    projections_send_many (p, "Ping", 0, 5, 5);
    //  Each of the five Echoes answered handler_error (said either way).
    assert_int_equal (s_wait_log_count (p, "pinger@1: Echo to echo/i", 5), 5);
    assert_int_equal (projections_build (p, "pinger", 1).sends, 5);
    assert_int_equal (s_log_count (p, "was not run: handler_error"), 5);
    //  Sent again, and failed again, with no second line for it: the five
    //  lines above and each worker's at most one a second of the first
    //  sends make 7; 10 takes sends again.
    assert_true (s_wait_log_count (p, "echo handler failed on Echo", 10) >= 10);
    assert_int_equal (s_log_count (p, "pinger@1: Echo to echo/i"), 5);
    assert_int_equal (s_echoed_all (p), 0);
    //  Mended: each Echo runs once, from what the store kept.
    proc_node_signal (p, SIGTERM);
    proc_node_start (p, NODE);
    s_echoes_once (p, 1);
    int64_t deadline = proc_now_ms () + WAIT_MS;
    while (projections_build (p, "pinger", 1).sends > 0 && proc_now_ms () < deadline)
        usleep (20 * 1000); //  a poll between two reads, within the deadline
    assert_int_equal (projections_build (p, "pinger", 1).sends, 0);
}

//  5l. A reaction its target always refuses has an end an operator gives:
//  `shoal projections` lists it under its build, with its id, the code it
//  was last refused with and the forget that ends it; forgotten, it is not
//  sent again, across a restart, while the others run once (it was sent
//  until its inbox retention, seven days, with no act to end it).
static void test_unanswered_forgotten (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    proc_node_start (p, NODE " --module-opt projection.echo_fail=1");
    projections_send_many (p, "Ping", 0, 5, 5);
    int64_t deadline = proc_now_ms () + WAIT_MS;
    while (true) { //  listed once a reaction has waited a second
        proc_run (p, out, err, "$SHOAL projections --endpoint $E");
        if (projections_count (out, "last refused handler_error") == 5 || proc_now_ms () > deadline)
            break;
        usleep (50 * 1000); //  a poll between two asks, within the deadline
    }
    assert_int_equal (projections_count (out, "last refused handler_error"), 5);
    proc_assert_has (out, "  reaction ");
    proc_assert_has (out, ": Echo to echo/i0, sent ");
    //  The id of echo/i0's, from --json (10 oldest, each with its fields).
    assert_int_equal (
        proc_run (p, out, err,
                  "$SHOAL projections --endpoint $E --json | python3 -c 'import json, sys; "
                  "b = [b for b in json.load (sys.stdin)[\"projections\"] if b[\"name\"] == "
                  "\"pinger\"][0]; print (len (b[\"unanswered\"]), [u[\"id\"] for u in "
                  "b[\"unanswered\"] if u[\"to\"] == \"echo/i0\" and u[\"command\"] == "
                  "\"Echo\" and u[\"code\"] == \"handler_error\" and u[\"sent\"] >= 1][0])'"),
        0);
    assert_int_equal (strlen (out), 2 + 32 + 1);
    assert_memory_equal (out, "5 ", 2);
    char id[33];
    memcpy (id, out + 2, 32);
    id[32] = 0;
    char forget[128];
    snprintf (forget, sizeof forget, "forgot reaction %s: it is not sent again", id);
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL projections --endpoint $E forget pinger %s --reason r", id),
        0);
    proc_assert_has (out, forget);
    assert_int_equal (projections_build (p, "pinger", 1).sends, 4);
    char logged[160];
    snprintf (logged, sizeof logged, "an operator forgot reaction %s (Echo to echo/i0, sent ", id);
    assert_int_equal (s_wait_log_count (p, logged, 1), 1);
    //  Asked again: nothing awaits under that id.
    assert_int_equal (proc_run (p, out, err,
                                "$SHOAL projections --endpoint $E forget pinger@1 %s --reason r",
                                id),
                      1);
    proc_assert_has (err, " awaiting an answer (answered, or forgotten already");
    assert_int_equal (proc_run (p, out, err, "$SHOAL projections --endpoint $E forget pinger xyz"),
                      2);
    proc_assert_has (err, "ID is 32 hex digits");
    //  Mended and restarted: the four others run once, echo/i0 never.
    proc_node_signal (p, SIGTERM);
    proc_node_start (p, NODE);
    deadline = proc_now_ms () + WAIT_MS;
    while ((s_echoed_all (p) < 4 || projections_build (p, "pinger", 1).sends > 0) &&
           proc_now_ms () < deadline)
        usleep (20 * 1000); //  a poll between two reads, within the deadline
    assert_int_equal (projections_build (p, "pinger", 1).sends, 0);
    assert_int_equal (s_echoed_all (p), 4);
    assert_int_equal (s_echoed (p, 0), 0);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_reaction_exactly_once, projections_setup,
                                         projections_teardown),
        cmocka_unit_test_setup_teardown (test_reaction_sender, projections_setup,
                                         projections_teardown),
        cmocka_unit_test_setup_teardown (test_rebuild_takes_over_sends, projections_setup,
                                         projections_teardown),
        cmocka_unit_test_setup_teardown (test_version_switch_sends_the_gap, projections_setup,
                                         projections_teardown),
        cmocka_unit_test_setup_teardown (test_manual_version_waits, projections_setup,
                                         projections_teardown),
        cmocka_unit_test_setup_teardown (test_switch_catches_up, projections_setup,
                                         projections_teardown),
        cmocka_unit_test_setup_teardown (test_first_versions_manual, projections_setup,
                                         projections_teardown),
        cmocka_unit_test_setup_teardown (test_first_versions_auto, projections_setup,
                                         projections_teardown),
        cmocka_unit_test_setup_teardown (test_sender_removed, projections_setup,
                                         projections_teardown),
        cmocka_unit_test_setup_teardown (test_sender_made_manual, projections_setup,
                                         projections_teardown),
        cmocka_unit_test_setup_teardown (test_sender_added, projections_setup,
                                         projections_teardown),
        cmocka_unit_test_setup_teardown (test_failed_turn_sent_again, projections_setup,
                                         projections_teardown),
        cmocka_unit_test_setup_teardown (test_unanswered_forgotten, projections_setup,
                                         projections_teardown),
    };
    //  SHOAL_TEST_FILTER=test_query* runs the tests whose names match.
    if (getenv ("SHOAL_TEST_FILTER"))
        cmocka_set_test_filter (getenv ("SHOAL_TEST_FILTER"));
    return cmocka_run_group_tests (tests, NULL, NULL);
}
