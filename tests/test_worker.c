/*  test_worker.c - one worker on its own, with no node and no network: the
    test plays the front (it binds "<prefix>-front", pushes client frames
    to "<prefix>-w0" and keeps queued_bytes as the front does) and reads
    the worker's counters directly.

    What it shows: counters count an outcome once, when it is released
    after its commit. A batch whose commit fails (journal_fail_commits_after)
    counts nothing, and the commands it held, retried by their client,
    count once. An actor loaded from the journal (events, a snapshot, or
    nothing) appends its next events right after its stream's last one,
    and so does one loaded again after its eviction, even from a stream
    with a snapshot and no events (which the store's stream filter does
    not hold when it opens).
    A timer's cancel takes that actor's timers of that name and no
    other's, one set and cancelled in the same batch never rings, a
    cancel whose batch fails to commit is undone (the timer rings once),
    and a committed one holds across a restart of the worker.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "envelope.h"
#include "harness.h"
#include "journal.h"
#include "registry.h"
#include "worker.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAIT_MS 30000    //  a condition's deadline (ASan on a busy machine)
#define COMMANDS 40      //  commands sent
#define COUNTERS 5       //  actors they go to
#define ROUTE "client-1" //  the client's identity, as the front would pass it

//  --------------------------------------------------------------------------
//  An actor type: a counter that "Add" bumps by one, one event per command.

static int s_counter_apply (void *state, const char *event, const shoal_data_t *data)
{
    (void) data;
    if (strcmp (event, "Added") != 0)
        return -1;
    (*(int64_t *) state)++;
    return 0;
}

static int s_counter_handle (shoal_ctx_t *ctx, const void *state, const shoal_msg_t *msg)
{
    if (strcmp (shoal_msg_name (msg), "Add") != 0)
        return shoal_ctx_reject (ctx, "unknown_command", "counters know Add");
    shoal_ctx_emit (ctx, "Added");
    shoal_rec_int (shoal_ctx_reply (ctx), "count", *(const int64_t *) state + 1);
    return 0;
}

static void s_counter_view (const void *state, shoal_rec_t *out)
{
    shoal_rec_int (out, "count", *(const int64_t *) state);
}

static const shoal_type_t s_counter = {
    .name = "counter",
    .state_size = sizeof (int64_t),
    .apply = s_counter_apply,
    .handle = s_counter_handle,
    .view = s_counter_view,
};

//  The same counter, with snapshots: "tally/..." addresses.
static void s_counter_snapshot (const void *state, shoal_rec_t *out)
{
    shoal_rec_int (out, "count", *(const int64_t *) state);
}

static int s_counter_restore (void *state, int version, const shoal_data_t *snapshot)
{
    (void) version;
    return shoal_data_int (snapshot, "count", (int64_t *) state);
}

static const shoal_type_t s_tally = {
    .name = "tally",
    .state_size = sizeof (int64_t),
    .apply = s_counter_apply,
    .handle = s_counter_handle,
    .view = s_counter_view,
    .snapshot = s_counter_snapshot,
    .restore = s_counter_restore,
};

//  clock/...: Remind -> Reminded and a timer "ring" in RING_MS; Forget ->
//  Forgot and the cancel of its "ring" timers; the timer -> Rang.
#define RING_MS 300

static int s_clock_apply (void *state, const char *event, const shoal_data_t *data)
{
    (void) state, (void) data, (void) event;
    return 0;
}

static int s_clock_handle (shoal_ctx_t *ctx, const void *state, const shoal_msg_t *msg)
{
    (void) state;
    if (shoal_msg_kind (msg) == SHOAL_TIMER) {
        shoal_ctx_emit (ctx, "Rang");
        return 0;
    }
    if (strcmp (shoal_msg_name (msg), "Remind") == 0) {
        shoal_ctx_emit (ctx, "Reminded");
        shoal_ctx_after (ctx, RING_MS, "ring");
        return 0;
    }
    if (strcmp (shoal_msg_name (msg), "Forget") == 0) {
        shoal_ctx_emit (ctx, "Forgot");
        return shoal_ctx_cancel (ctx, "ring");
    }
    return shoal_ctx_reject (ctx, "unknown_command", "clocks know Remind and Forget");
}

static const shoal_type_t s_clock = {
    .name = "clock",
    .state_size = sizeof (int64_t),
    .apply = s_clock_apply,
    .handle = s_clock_handle,
    .view = s_counter_view,
};

//  --------------------------------------------------------------------------
//  Fixture: a journal, one worker, and the two sockets of the front.

typedef struct {
    char dir[64];               //  the test's temporary directory
    char prefix[96];            //  inproc endpoint prefix
    journal_t *journal;         //  the worker's store
    shoal_registry_t *registry; //  the counter type
    worker_stats_t stats;       //  the worker's counters
    worker_config_t config;     //  what the worker shares
    zsock_t *front;             //  PULL: the worker's replies to clients
    zsock_t *push;              //  PUSH: client frames to the worker
    zactor_t *worker;           //  NULL once stopped
} fixture_t;

static int s_setup (void **state)
{
    fixture_t *fx = calloc (1, sizeof (fixture_t));
    assert_non_null (fx);
    snprintf (fx->dir, sizeof fx->dir, "/tmp/shoal-test-worker-XXXXXX");
    assert_non_null (mkdtemp (fx->dir));
    snprintf (fx->prefix, sizeof fx->prefix, "inproc://test-worker-%d-%p", (int) getpid (),
              (void *) fx);
    int code;
    char *error = NULL;
    fx->journal = journal_open (fx->dir, &(journal_options_t){.sync = false}, &code, &error);
    assert_non_null (fx->journal);
    fx->registry = registry_new ();
    assert_non_null (fx->registry);
    assert_int_equal (shoal_register (fx->registry, &s_counter), 0);
    assert_int_equal (shoal_register (fx->registry, &s_tally), 0);
    assert_int_equal (shoal_register (fx->registry, &s_clock), 0);
    fx->config = (worker_config_t){
        .journal = fx->journal,
        .registry = fx->registry,
        .prefix = fx->prefix,
        .workers = 1,
        .shards = 16,
        .idle_ms = 60000,
        .snapshot_every = 100,
        .retention_ms = 7LL * 24 * 3600 * 1000,
        .stall_ms = 30000,
        .batch_max = 4, //  several batches for the commands
        .stats = &fx->stats,
    };
    fx->front = zsock_new_pull (NULL);
    assert_non_null (fx->front);
    assert_int_equal (zsock_bind (fx->front, "%s-front", fx->prefix), 0);
    fx->worker = worker_new (&fx->config, 0);
    assert_non_null (fx->worker);
    fx->push = zsock_new_push (NULL);
    assert_non_null (fx->push);
    assert_int_equal (zsock_connect (fx->push, "%s-w0", fx->prefix), 0);
    *state = fx;
    return 0;
}

static int s_teardown (void **state)
{
    fixture_t *fx = *state;
    zactor_destroy (&fx->worker);
    zsock_destroy (&fx->push);
    harness_recv_close (fx->front);
    zsock_destroy (&fx->front);
    registry_destroy (&fx->registry);
    journal_destroy (&fx->journal);
    harness_rm_rf (fx->dir);
    free (fx);
    return 0;
}

//  --------------------------------------------------------------------------
//  The front's side

//  The id of command index: the same on every send, as a client's retry.
static void s_command_id (size_t index, uint8_t id[ENVELOPE_ID_SIZE])
{
    memset (id, 0, ENVELOPE_ID_SIZE);
    memcpy (id, "cmd", 3);
    id[ENVELOPE_ID_SIZE - 1] = (uint8_t) index;
}

//  Sends command index ("Add" to one of the counters) as the front does:
//  [route, frame], with queued_bytes counting the frame until the worker
//  takes it. created is the first send's time, kept by every retry.
static void s_send_named (fixture_t *fx, const char *to, const char *name, size_t index,
                          int64_t created, uint32_t attempt)
{
    envelope_t command = {.kind = ENVELOPE_COMMAND, .attempt = attempt, .created = created};
    s_command_id (index, command.id);
    snprintf (command.to, sizeof command.to, "%s", to);
    snprintf (command.name, sizeof command.name, "%s", name);
    uint8_t *frame;
    size_t size;
    assert_int_equal (envelope_encode (&command, &frame, &size), 0);
    fx->stats.queued_bytes += size;
    void *push = zsock_resolve (fx->push);
    assert_int_equal (zmq_send (push, ROUTE, strlen (ROUTE), ZMQ_SNDMORE), (int) strlen (ROUTE));
    assert_int_equal (zmq_send (push, frame, size, 0), (int) size);
    free (frame);
}

static void s_send_to (fixture_t *fx, const char *to, size_t index, int64_t created,
                       uint32_t attempt)
{
    s_send_named (fx, to, "Add", index, created, attempt);
}

//  Sends command index to one of the counters, as s_send_to.
static void s_send (fixture_t *fx, size_t index, int64_t created, uint32_t attempt)
{
    char to[SHOAL_ADDRESS_MAX + 1];
    snprintf (to, sizeof to, "counter/c%zu", index % COUNTERS);
    s_send_to (fx, to, index, created, attempt);
}

static char s_last_code[ENVELOPE_CODE_MAX + 1]; //  the last refusal's code

//  Waits up to timeout_ms for one reply to a client. Returns false if none
//  came; else sets *index to the command it answers and *ok.
static bool s_recv_reply (fixture_t *fx, int timeout_ms, size_t *index, bool *ok)
{
    zmsg_t *msg = harness_recv (fx->front, timeout_ms);
    if (!msg)
        return false;
    assert_int_equal (zmsg_size (msg), 2);
    zframe_t *route = zmsg_first (msg), *frame = zmsg_next (msg);
    assert_memory_equal (zframe_data (route), ROUTE, strlen (ROUTE));
    envelope_t reply;
    assert_int_equal (envelope_decode (&reply, zframe_data (frame), zframe_size (frame)), 0);
    assert_int_equal (reply.kind, ENVELOPE_REPLY);
    uint8_t expected[ENVELOPE_ID_SIZE];
    *index = reply.correlation[ENVELOPE_ID_SIZE - 1];
    assert_true (*index < COMMANDS);
    s_command_id (*index, expected);
    assert_memory_equal (reply.correlation, expected, ENVELOPE_ID_SIZE);
    char code[ENVELOPE_CODE_MAX + 1], reason[ENVELOPE_REASON_MAX + 1];
    const uint8_t *data;
    size_t data_size;
    assert_int_equal (envelope_reply_decode (reply.payload, reply.payload_size, ok, code, reason,
                                             &data, &data_size),
                      0);
    snprintf (s_last_code, sizeof s_last_code, "%s", *ok ? "" : code);
    if (!*ok && strcmp (code, "unavailable") != 0)
        print_error ("command %zu refused: %s: %s\n", *index, code, reason);
    zmsg_destroy (&msg);
    return true;
}

//  True once the worker has taken every frame sent and at least failures
//  commits failed, polled until WAIT_MS.
static bool s_wait_failed (fixture_t *fx, uint64_t failures)
{
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (zclock_mono () < deadline) {
        if (atomic_load (&fx->stats.queued_bytes) == 0 &&
            atomic_load (&fx->stats.failures) >= failures)
            return true;
        zclock_sleep (5);
    }
    return false;
}

//  --------------------------------------------------------------------------
//  Tests

//  Commands whose batches fail to commit are answered `unavailable` at once
//  and not counted; the store is reopened after each failed write; retried
//  once commits succeed, each is accepted and counted once.
static void test_failed_commits_count_once (void **state)
{
    fixture_t *fx = *state;
    int64_t created = zclock_time ();
    journal_fail_commits_after (fx->journal, 1); //  the next commit and every one after
    for (size_t i = 0; i < COMMANDS; i++)
        s_send (fx, i, created, 0);
    assert_true (s_wait_failed (fx, 1));

    //  While every commit fails, each client is told `unavailable` (not
    //  left to its timeout), and nothing is counted.
    size_t index;
    bool ok;
    bool refused[COMMANDS] = {false};
    size_t refused_count = 0;
    int64_t until = zclock_mono () + WAIT_MS;
    while (refused_count < COMMANDS && zclock_mono () < until) {
        if (!s_recv_reply (fx, 100, &index, &ok))
            continue;
        assert_false (ok);
        assert_string_equal (s_last_code, "unavailable");
        if (!refused[index]) {
            refused[index] = true;
            refused_count++;
        }
    }
    assert_int_equal (refused_count, COMMANDS);
    assert_true (journal_reopens (fx->journal) >= 1);
    assert_int_equal (atomic_load (&fx->stats.accepted), 0);
    assert_int_equal (atomic_load (&fx->stats.rejected), 0);
    assert_int_equal (atomic_load (&fx->stats.events), 0);
    assert_int_equal (atomic_load (&fx->stats.messages), 0);

    //  Commits succeed again; the client retries every command it was not
    //  answered. A command whose batch happened to commit after the hook
    //  was turned off is answered twice: once run, once from the inbox.
    journal_fail_commits_after (fx->journal, 0);
    for (size_t i = 0; i < COMMANDS; i++)
        s_send (fx, i, created, 1);
    bool answered[COMMANDS] = {false};
    size_t answered_count = 0, replies = 0;
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (answered_count < COMMANDS && zclock_mono () < deadline) {
        if (!s_recv_reply (fx, 100, &index, &ok))
            continue;
        replies++;
        assert_true (ok);
        if (!answered[index]) {
            answered[index] = true;
            answered_count++;
        }
    }
    assert_int_equal (answered_count, COMMANDS);

    //  Stopped, the worker commits what it holds and its counters settle.
    zactor_destroy (&fx->worker);
    uint64_t failures = atomic_load (&fx->stats.failures);
    uint64_t accepted = atomic_load (&fx->stats.accepted);
    uint64_t duplicates = atomic_load (&fx->stats.duplicates);
    assert_true (failures >= 1);
    assert_int_equal (accepted, COMMANDS);
    assert_int_equal (atomic_load (&fx->stats.rejected), 0);
    assert_int_equal (atomic_load (&fx->stats.expired), 0);
    assert_int_equal (atomic_load (&fx->stats.messages), accepted + duplicates);
    assert_true (duplicates >= replies - COMMANDS);
    int64_t journaled = 0;
    for (size_t c = 0; c < COUNTERS; c++) {
        char stream[32];
        snprintf (stream, sizeof stream, "counter/c%zu", c);
        int64_t version;
        assert_int_equal (journal_version (fx->journal, stream, &version), 0);
        journaled += version;
    }
    assert_int_equal (journaled, COMMANDS);
    assert_int_equal (atomic_load (&fx->stats.events), journaled);
}

//  Stages count "Added" events on stream in a batch of the test's own, and
//  a snapshot of the count at snapshot_at (0: none), and commits them.
static void s_prefill (fixture_t *fx, const char *stream, int64_t count, int64_t snapshot_at)
{
    journal_batch_t *batch = journal_batch_new (fx->journal);
    assert_non_null (batch);
    static const uint8_t empty_map[] = {0x80};
    journal_event_t added = {"Added", empty_map, sizeof empty_map};
    for (int64_t seq = 1; seq <= count; seq++) {
        assert_int_equal (journal_batch_append (batch, stream, seq - 1, &added, 1, 1, NULL), 0);
        if (seq == snapshot_at) {
            const uint8_t state[] = {0x81, 0xa5, 'c', 'o', 'u', 'n', 't', (uint8_t) seq};
            assert_int_equal (journal_batch_snapshot (batch, stream, seq, state, sizeof state), 0);
        }
    }
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);
}

static int s_collect_seq (void *arg, int64_t seq, const char *name, const uint8_t *data,
                          size_t size, int64_t created)
{
    (void) name, (void) data, (void) size, (void) created;
    int64_t *seqs = arg;
    seqs[++seqs[0]] = seq;
    return seqs[0] == 15;
}

//  An actor loaded from the journal tells the worker's batch its stream's
//  version, so its first append does not seek it again: that version must
//  be the stream's last event (replayed after a snapshot, or the
//  snapshot's own when none follows it, or none at all), or its events
//  would be refused as a conflict, or written over committed ones.
static void test_loaded_actor_appends_after_its_last_event (void **state)
{
    fixture_t *fx = *state;
    const char *streams[] = {"counter/c0", "tally/t0", "tally/t1", "tally/t2"};
    s_prefill (fx, streams[0], 5, 0);
    s_prefill (fx, streams[1], 5, 5); //  the snapshot is at the last event
    s_prefill (fx, streams[2], 5, 3); //  two events after the snapshot
    //  streams[3] has none: a new stream
    int64_t created = zclock_time ();
    for (uint32_t round = 0; round < 2; round++) {
        for (size_t i = 0; i < 4; i++)
            s_send_to (fx, streams[i], 4 * round + i, created, 0);
        size_t index, answered = 0;
        bool ok;
        int64_t deadline = zclock_mono () + WAIT_MS;
        while (answered < 4 && zclock_mono () < deadline) {
            if (!s_recv_reply (fx, 100, &index, &ok))
                continue;
            assert_true (ok);
            answered++;
        }
        assert_int_equal (answered, 4);
    }
    zactor_destroy (&fx->worker);
    for (size_t i = 0; i < 4; i++) {
        int64_t version, expected = i == 3 ? 2 : 7;
        assert_int_equal (journal_version (fx->journal, streams[i], &version), 0);
        assert_int_equal (version, expected);
        int64_t seqs[16] = {0};
        assert_int_equal (journal_read (fx->journal, streams[i], 1, 0, s_collect_seq, seqs), 0);
        assert_int_equal (seqs[0], expected);
        for (int64_t seq = 1; seq <= expected; seq++)
            assert_int_equal (seqs[seq], seq);
    }
    assert_int_equal (atomic_load (&fx->stats.accepted), 8);
    assert_int_equal (atomic_load (&fx->stats.events), 8);
}

//  Sends command index to stream and waits for its reply, which must be
//  an acceptance.
static void s_add_and_wait (fixture_t *fx, const char *stream, size_t index)
{
    s_send_to (fx, stream, index, zclock_time (), 0);
    size_t answered;
    bool ok = false;
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (zclock_mono () < deadline)
        if (s_recv_reply (fx, 100, &answered, &ok))
            break;
    assert_int_equal (answered, index);
    assert_true (ok);
}

//  Makes the worker again, after the caller destroyed it, and the push
//  socket to it. ZeroMQ's reaper frees the old worker's inproc name a
//  moment after its socket is closed: until then a bind of it fails (a
//  test failed so under load, "cannot bind its inproc socket").
static void s_worker_again (fixture_t *fx)
{
    zsock_destroy (&fx->push); //  inproc: connected again to the new worker
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (!(fx->worker = worker_new (&fx->config, 0)) && zclock_mono () < deadline)
        zclock_sleep (10); //  the poll interval of a deadline wait
    assert_non_null (fx->worker);
    fx->push = zsock_new_push (NULL);
    assert_non_null (fx->push);
    assert_int_equal (zsock_connect (fx->push, "%s-w0", fx->prefix), 0);
}

//  A stream with a snapshot and no events (as a repair can leave one) is
//  not in the journal's stream filter when the store opens: the filter is
//  read from the events' keys. The worker's load must add it (the owned
//  batch's appends add only new streams), or the actor loaded again after
//  its eviction would skip its events as absent, take the snapshot's
//  version, and write its next event over the one it wrote before.
static void test_snapshot_only_stream_loaded_again (void **state)
{
    fixture_t *fx = *state;
    zactor_destroy (&fx->worker);
    journal_batch_t *batch = journal_batch_new (fx->journal);
    assert_non_null (batch);
    const uint8_t count3[] = {0x81, 0xa5, 'c', 'o', 'u', 'n', 't', 3};
    assert_int_equal (journal_batch_snapshot (batch, "tally/s0", 3, count3, sizeof count3), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);
    //  The store opened again, with its stream filters read, as a node's.
    journal_destroy (&fx->journal);
    int code;
    char *error = NULL;
    fx->journal = journal_open (fx->dir, &(journal_options_t){.sync = false}, &code, &error);
    assert_non_null (fx->journal);
    assert_int_equal (journal_filters_start (fx->journal), 0);
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (!journal_filters_ready (fx->journal) && zclock_mono () < deadline)
        zclock_sleep (5);
    assert_true (journal_filters_ready (fx->journal));
    fx->config.journal = fx->journal;
    fx->config.max_actors = 1; //  each load evicts the other actor
    s_worker_again (fx);

    s_add_and_wait (fx, "tally/s0", 0);   //  loaded from the snapshot: event 4
    s_add_and_wait (fx, "counter/c1", 1); //  tally/s0 leaves memory
    s_add_and_wait (fx, "tally/s0", 2);   //  loaded again: event 5
    zactor_destroy (&fx->worker);
    int64_t version;
    assert_int_equal (journal_version (fx->journal, "tally/s0", &version), 0);
    assert_int_equal (version, 5);
    int64_t seqs[16] = {0};
    assert_int_equal (journal_read (fx->journal, "tally/s0", 4, 0, s_collect_seq, seqs), 0);
    assert_int_equal (seqs[0], 2);
    assert_int_equal (seqs[1], 4);
    assert_int_equal (seqs[2], 5);
    assert_true (atomic_load (&fx->stats.passivations) >= 1);
}

//  Sends a TIMER "Add" to counter/c0 from from, as the front passes an
//  actor's message from another node: an empty route.
static void s_send_timer (fixture_t *fx, const char *from)
{
    envelope_t timer = {.kind = ENVELOPE_TIMER, .created = zclock_time ()};
    envelope_new_id (timer.id);
    snprintf (timer.from, sizeof timer.from, "%s", from);
    snprintf (timer.to, sizeof timer.to, "counter/c0");
    snprintf (timer.name, sizeof timer.name, "Add");
    uint8_t *frame;
    size_t size;
    assert_int_equal (envelope_encode (&timer, &frame, &size), 0);
    void *push = zsock_resolve (fx->push);
    assert_int_equal (zmq_send (push, "", 0, ZMQ_SNDMORE), 0);
    assert_int_equal (zmq_send (push, frame, size, 0), (int) size);
    free (frame);
}

//  A timer runs only if it is its actor's own (from == to, as a worker
//  arms them): one that claims another sender (another node's forgery,
//  which the front refuses too) is refused, counted in `forged`, and
//  changes nothing; the actor's own still runs, after it, in order.
static void test_timer_of_another_refused (void **state)
{
    fixture_t *fx = *state;
    s_send_timer (fx, "counter/c1");
    s_send_timer (fx, "counter/c0");
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (atomic_load (&fx->stats.events) < 1 && zclock_mono () < deadline)
        zclock_sleep (5);
    assert_int_equal (atomic_load (&fx->stats.events), 1);
    assert_int_equal (atomic_load (&fx->stats.forged), 1);
    zactor_destroy (&fx->worker);
    int64_t version;
    assert_int_equal (journal_version (fx->journal, "counter/c0", &version), 0);
    assert_int_equal (version, 1);
}

//  --------------------------------------------------------------------------
//  Timers: a cancel takes the actor's timers of that name out at once
//  (timers.c, a list per actor), and an aborted batch puts back what it
//  cancelled (the reload from the journal). Timers of one worker fire in
//  due order: once a control timer armed last has rung, any earlier one
//  not cancelled has rung too.

static size_t s_clock_sent; //  the commands of this test so far

//  Sends name to the clock at to and waits for its reply: true if taken.
static bool s_tell (fixture_t *fx, const char *to, const char *name)
{
    size_t index = s_clock_sent++ % COMMANDS;
    s_send_named (fx, to, name, index, zclock_time (), 0);
    size_t answered;
    bool ok;
    assert_true (s_recv_reply (fx, WAIT_MS, &answered, &ok));
    assert_int_equal (answered, index);
    return ok;
}

static int s_count_rang (void *arg, int64_t seq, const char *name, const uint8_t *data, size_t size,
                         int64_t created)
{
    (void) seq, (void) data, (void) size, (void) created;
    *(int *) arg += strcmp (name, "Rang") == 0;
    return 0;
}

//  The Rang events of the clock at address, as committed.
static int s_rang (fixture_t *fx, const char *address)
{
    int rang = 0;
    assert_int_equal (journal_read (fx->journal, address, 1, 0, s_count_rang, &rang), 0);
    return rang;
}

//  Arms a control timer at clock/control and waits until it has rung.
static void s_control_rang (fixture_t *fx)
{
    assert_true (s_tell (fx, "clock/control", "Remind"));
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (s_rang (fx, "clock/control") < 1) {
        if (zclock_mono () > deadline)
            fail_msg ("the control timer never rang");
        zclock_sleep (20); //  the poll interval of a deadline wait
    }
}

static void test_timer_cancel_takes_its_own (void **state)
{
    fixture_t *fx = *state;
    s_clock_sent = 0;
    assert_true (s_tell (fx, "clock/b", "Remind"));
    assert_true (s_tell (fx, "clock/b", "Remind"));
    assert_true (s_tell (fx, "clock/c", "Remind"));
    assert_true (s_tell (fx, "clock/b", "Forget"));
    //  Set and cancelled by two turns that may share a batch: never armed.
    s_send_named (fx, "clock/d", "Remind", s_clock_sent++, zclock_time (), 0);
    s_send_named (fx, "clock/d", "Forget", s_clock_sent++, zclock_time (), 0);
    for (int i = 0; i < 2; i++) {
        size_t answered;
        bool ok;
        assert_true (s_recv_reply (fx, WAIT_MS, &answered, &ok));
        assert_true (ok);
    }
    s_control_rang (fx);
    assert_int_equal (s_rang (fx, "clock/b"), 0);
    assert_int_equal (s_rang (fx, "clock/c"), 1);
    assert_int_equal (s_rang (fx, "clock/d"), 0);
}

//  A cancel whose batch fails to commit is undone: the timer rings once.
static void test_timer_cancel_aborted_rings (void **state)
{
    fixture_t *fx = *state;
    s_clock_sent = 0;
    assert_true (s_tell (fx, "clock/a", "Remind"));
    journal_fail_commits_after (fx->journal, 1);
    assert_false (s_tell (fx, "clock/a", "Forget"));
    assert_string_equal (s_last_code, "unavailable");
    journal_fail_commits_after (fx->journal, 0);
    s_control_rang (fx);
    assert_int_equal (s_rang (fx, "clock/a"), 1);
}

//  A committed cancel holds across a restart of the worker (the timers
//  armed again from the journal).
static void test_timer_cancel_across_restart (void **state)
{
    fixture_t *fx = *state;
    s_clock_sent = 0;
    assert_true (s_tell (fx, "clock/e", "Remind"));
    assert_true (s_tell (fx, "clock/f", "Remind"));
    assert_true (s_tell (fx, "clock/e", "Forget"));
    zactor_destroy (&fx->worker);
    s_worker_again (fx);
    s_control_rang (fx);
    assert_int_equal (s_rang (fx, "clock/e"), 0);
    assert_int_equal (s_rang (fx, "clock/f"), 1);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_failed_commits_count_once, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_loaded_actor_appends_after_its_last_event, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_snapshot_only_stream_loaded_again, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_timer_of_another_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_timer_cancel_takes_its_own, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_timer_cancel_aborted_rings, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_timer_cancel_across_restart, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
