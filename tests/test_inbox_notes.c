/*  test_inbox_notes.c - the inbox in two tiers at a worker's level
    (runtime/inbox.c): one worker, real LevelDB files, no node. The test
    plays the node's other workers: it pushes commands to the worker's
    socket as an actor of this node would (the one-byte routes of
    worker_internal.h: a first send, a send again, and the senders' word
    that they are done), and reads what the store holds with the journal's
    own readers, which see the keys and the notes, not the worker's memory.

    What it shows: the inbox record of a command an actor of this node
    sent is in a note only while its sender may still send it; a copy that
    comes meanwhile is answered, not run; once its sender says it is done,
    the record goes with its note and never costs a key; a command whose
    sender says nothing is stored under its key two checkpoints later; a
    clean stop stores the records still noted and leaves no note; and
    commits that fail for a while (a disk refusing writes) lose no noted
    record: after them every copy is still answered, not run; another
    worker's bundle runs its commands in order, leaving out (and counting)
    one with a route no worker sends and a tail that does not parse. Every
    wait polls a condition against a deadline.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "bundle.h"
#include "envelope.h"
#include "data.h"
#include "harness.h"
#include "journal.h"
#include "log.h"
#include "registry.h"
#include "worker.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAIT_MS 60000    //  a condition's deadline (ASan on a busy machine)
#define COMMANDS 200     //  commands sent by "actors of this node"
#define ROUTE_LOCAL 0x04 //  worker_internal.h's WORKER_ROUTE_LOCAL
#define ROUTE_FIRST 0x05 //  WORKER_ROUTE_FIRST
#define ROUTE_DONE 0x06  //  WORKER_ROUTE_DONE

//  A counter: "Add" records Added and is accepted. Replies to it go to
//  its sender, an address of this worker with no actor type: dropped.
static int s_apply (void *state, const char *event, const shoal_data_t *data)
{
    (void) data;
    if (strcmp (event, "Added") != 0)
        return -1;
    (*(int64_t *) state)++;
    return 0;
}

static int s_handle (shoal_ctx_t *ctx, const void *state, const shoal_msg_t *msg)
{
    (void) state;
    if (shoal_msg_kind (msg) != SHOAL_COMMAND || strcmp (shoal_msg_name (msg), "Add") != 0)
        return shoal_ctx_reject (ctx, "unknown_command", "a counter takes Add");
    shoal_ctx_emit (ctx, "Added");
    return 0;
}

static void s_view (const void *state, shoal_rec_t *out)
{
    shoal_rec_int (out, "count", *(const int64_t *) state);
}

//  A sender: "Send" {to} sends "Add" to the counter to, and records
//  Sent; the reply records Answered.
static int s_sender_apply (void *state, const char *event, const shoal_data_t *data)
{
    (void) state, (void) data;
    return strcmp (event, "Sent") && strcmp (event, "Answered") ? -1 : 0;
}

static int s_sender_handle (shoal_ctx_t *ctx, const void *state, const shoal_msg_t *msg)
{
    (void) state;
    if (shoal_msg_kind (msg) == SHOAL_REPLY) {
        shoal_ctx_emit (ctx, "Answered");
        return 0;
    }
    char to[SHOAL_ADDRESS_MAX + 1];
    if (shoal_msg_kind (msg) != SHOAL_COMMAND ||
        shoal_data_str (shoal_msg_data (msg), "to", to, sizeof to) != 0)
        return shoal_ctx_reject (ctx, "unexpected", "a sender takes Send {to}");
    shoal_ctx_send (ctx, to, "Add");
    shoal_ctx_emit (ctx, "Sent");
    return 0;
}

static const shoal_type_t s_sender = {
    .name = "sender",
    .state_size = sizeof (int64_t),
    .apply = s_sender_apply,
    .handle = s_sender_handle,
    .view = s_view,
};

static const shoal_type_t s_counter = {
    .name = "counter",
    .state_size = sizeof (int64_t),
    .apply = s_apply,
    .handle = s_handle,
    .view = s_view,
};

typedef struct {
    char dir[64];
    char prefix[96];
    journal_t *journal;
    shoal_registry_t *registry;
    worker_stats_t stats;
    worker_config_t config;
    zsock_t *front; //  PULL: the worker's replies to clients (none expected)
    zsock_t *push;  //  PUSH: frames to the worker, as another worker's
    zsock_t *other; //  PULL: what worker 0 sends worker 1 (two workers)
    zactor_t *worker;
    envelope_t commands[COMMANDS];
} fixture_t;

static int s_setup_workers (void **state, int workers);

static int s_setup (void **state)
{
    return s_setup_workers (state, 1);
}

//  Two workers, the second played by the test (fx->other): what worker 0
//  sends it is read there.
static int s_setup_two (void **state)
{
    return s_setup_workers (state, 2);
}

static int s_setup_workers (void **state, int workers)
{
    log_set_level (SHOAL_LOG_ERROR);
    fixture_t *fx = calloc (1, sizeof (fixture_t));
    assert_non_null (fx);
    snprintf (fx->dir, sizeof fx->dir, "/tmp/shoal-test-inbox-XXXXXX");
    assert_non_null (mkdtemp (fx->dir));
    snprintf (fx->prefix, sizeof fx->prefix, "inproc://test-inbox-%d-%p", (int) getpid (),
              (void *) fx);
    int code;
    char *error = NULL;
    fx->journal = journal_open (fx->dir, &(journal_options_t){.sync = false}, &code, &error);
    assert_non_null (fx->journal);
    fx->registry = registry_new ();
    assert_non_null (fx->registry);
    assert_int_equal (shoal_register (fx->registry, &s_counter), 0);
    assert_int_equal (shoal_register (fx->registry, &s_sender), 0);
    fx->config = (worker_config_t){
        .journal = fx->journal,
        .registry = fx->registry,
        .prefix = fx->prefix,
        .workers = workers,
        .shards = 64,
        .idle_ms = 3600000,
        .max_actors = 1000000,
        .snapshot_every = 100,
        .retention_ms = 7LL * 24 * 3600 * 1000,
        .stall_ms = 30000,
        .batch_max = 256,
        .stats = &fx->stats,
    };
    fx->front = zsock_new_pull (NULL);
    assert_non_null (fx->front);
    assert_int_equal (zsock_bind (fx->front, "%s-front", fx->prefix), 0);
    fx->push = zsock_new_push (NULL);
    assert_non_null (fx->push);
    assert_int_equal (zsock_connect (fx->push, "%s-w0", fx->prefix), 0);
    for (int i = 0; i < COMMANDS; i++) {
        envelope_t *command = &fx->commands[i];
        *command = (envelope_t){.kind = ENVELOPE_COMMAND, .created = zclock_time ()};
        envelope_new_id (command->id);
        snprintf (command->from, sizeof command->from, "sender/%d", i);
        snprintf (command->to, sizeof command->to, "counter/%d", i);
        snprintf (command->name, sizeof command->name, "Add");
    }
    //  Each counter has an event already: a command that created its
    //  stream would keep its record in the stream's first event instead
    //  (runtime/inbox.h), in no note.
    journal_batch_t *batch = journal_batch_new (fx->journal);
    assert_non_null (batch);
    static const uint8_t empty_map[] = {0x80};
    journal_event_t added = {"Added", empty_map, sizeof empty_map};
    for (int i = 0; i < COMMANDS; i++)
        assert_int_equal (journal_batch_append (batch, fx->commands[i].to, 0, &added, 1, 1, NULL),
                          0);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);
    if (workers == 2) {
        fx->other = zsock_new_pull (NULL);
        assert_non_null (fx->other);
        assert_int_equal (zsock_bind (fx->other, "%s-w1", fx->prefix), 0);
    }
    fx->worker = worker_new (&fx->config, 0);
    assert_non_null (fx->worker);
    *state = fx;
    return 0;
}

static int s_teardown (void **state)
{
    fixture_t *fx = *state;
    zactor_destroy (&fx->worker);
    zsock_destroy (&fx->push);
    harness_recv_close (fx->front);
    harness_recv_close (fx->other);
    zsock_destroy (&fx->front);
    zsock_destroy (&fx->other);
    registry_destroy (&fx->registry);
    journal_destroy (&fx->journal);
    harness_rm_rf (fx->dir);
    free (fx);
    return 0;
}

//  Pushes [route, frame] to the worker.
static void s_send_routed (fixture_t *fx, const void *route, size_t route_size,
                           const uint8_t *frame, size_t size)
{
    void *push = zsock_resolve (fx->push);
    assert_int_equal (zmq_send (push, route, route_size, ZMQ_SNDMORE), (int) route_size);
    assert_int_equal (zmq_send (push, frame, size, 0), (int) size);
}

//  Pushes [route, frame] to the worker, as another worker.
static void s_send (fixture_t *fx, uint8_t route, const uint8_t *frame, size_t size)
{
    s_send_routed (fx, &route, 1, frame, size);
}

//  Sends commands [from, to) with route.
static void s_commands (fixture_t *fx, int from, int to, uint8_t route)
{
    for (int i = from; i < to; i++) {
        uint8_t *frame;
        size_t size;
        assert_int_equal (envelope_encode (&fx->commands[i], &frame, &size), 0);
        s_send (fx, route, frame, size);
        free (frame);
    }
}

//  Says the senders of commands [from, to) are done with them.
static void s_done (fixture_t *fx, int from, int to)
{
    uint8_t frame[COMMANDS * ENVELOPE_ID_SIZE];
    size_t size = 0;
    for (int i = from; i < to; i++, size += ENVELOPE_ID_SIZE)
        memcpy (frame + size, fx->commands[i].id, ENVELOPE_ID_SIZE);
    s_send (fx, ROUTE_DONE, frame, size);
}

//  Waits until counter reaches value, or the deadline: returns whether
//  it did. (duplicates counts a copy answered and its reply to a sender
//  of no actor type: two a copy.)
static bool s_reached (atomic_uint_fast64_t *counter, uint64_t value)
{
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (atomic_load (counter) < value && zclock_mono () < deadline)
        zclock_sleep (5);
    return atomic_load (counter) >= value;
}

//  How many of commands [from, to) have a record under their 'i' key.
static int s_stored (fixture_t *fx, int from, int to)
{
    int count = 0;
    for (int i = from; i < to; i++) {
        uint8_t *reply;
        size_t size;
        int rc =
            journal_inbox_get (fx->journal, fx->commands[i].to, fx->commands[i].id, &reply, &size);
        if (rc == 0) {
            free (reply);
            count++;
        } else
            assert_int_equal (rc, SHOAL_ENOTFOUND);
    }
    return count;
}

static int s_count (void *arg, const char *stream, const uint8_t id[JOURNAL_ID_SIZE], int64_t due,
                    const uint8_t *value, size_t size)
{
    (void) stream, (void) id, (void) due, (void) value, (void) size;
    (*(size_t *) arg)++;
    return 0;
}

//  Inbox records the notes hold.
static size_t s_noted (fixture_t *fx)
{
    size_t count = 0;
    assert_int_equal (journal_inbox_scan_notes (fx->journal, s_count, &count), 0);
    return count;
}

//  Sends a touch (a client's command of no interest) so that the worker
//  commits, and so takes its due checkpoints.
static void s_touch (fixture_t *fx)
{
    envelope_t touch = {.kind = ENVELOPE_COMMAND, .created = zclock_time ()};
    envelope_new_id (touch.id);
    snprintf (touch.to, sizeof touch.to, "counter/touch");
    snprintf (touch.name, sizeof touch.name, "Add");
    uint8_t *frame;
    size_t size;
    assert_int_equal (envelope_encode (&touch, &frame, &size), 0);
    fx->stats.queued_bytes += size; //  as the front counts a client's
    s_send_routed (fx, "\0client", 7, frame, size);
    free (frame);
}

//  --------------------------------------------------------------------------

//  Records in notes only while their senders may send again; copies
//  answered meanwhile; done ones never stored, the others stored two
//  checkpoints later; a clean stop leaves no note.
static void test_inbox_in_two_tiers (void **state)
{
    fixture_t *fx = *state;
    int half = COMMANDS / 2;
    s_commands (fx, 0, COMMANDS, ROUTE_FIRST);
    assert_true (s_reached (&fx->stats.events, COMMANDS));
    assert_int_equal (s_stored (fx, 0, COMMANDS), 0); //  none under its key
    assert_int_equal (s_noted (fx), COMMANDS);

    //  Copies, as a sender sends again: answered from the notes, not run.
    assert_true (s_reached (&fx->stats.duplicates, COMMANDS)); //  the replies
    s_commands (fx, 0, COMMANDS, ROUTE_LOCAL);
    assert_true (s_reached (&fx->stats.duplicates, 3 * COMMANDS));
    assert_int_equal (atomic_load (&fx->stats.events), COMMANDS);

    //  The first half's senders are done (after their copies, as a sender's
    //  word comes after its copies): once two checkpoints passed, those
    //  records are gone, the others under their keys, no note left.
    s_done (fx, 0, half);
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (!(s_noted (fx) == 0 && s_stored (fx, half, COMMANDS) == COMMANDS - half) &&
           zclock_mono () < deadline) {
        s_touch (fx);
        zclock_sleep (50);
    }
    assert_int_equal (s_noted (fx), 0);
    assert_int_equal (s_stored (fx, half, COMMANDS), COMMANDS - half);
    assert_int_equal (s_stored (fx, 0, half), 0);
    //  Copies of the stored half are still answered, not run.
    uint64_t duplicates = atomic_load (&fx->stats.duplicates);
    uint64_t events = atomic_load (&fx->stats.events);
    s_commands (fx, half, COMMANDS, ROUTE_LOCAL);
    assert_true (s_reached (&fx->stats.duplicates, duplicates + 2 * (uint64_t) (COMMANDS - half)));
    assert_int_equal (atomic_load (&fx->stats.events), events);

    //  New commands, and the word of half of their senders, then a clean
    //  stop: the others stored, the done ones not, no note left.
    for (int i = 0; i < COMMANDS; i++)
        envelope_new_id (fx->commands[i].id);
    events = atomic_load (&fx->stats.events);
    s_commands (fx, 0, COMMANDS, ROUTE_FIRST);
    assert_true (s_reached (&fx->stats.events, events + COMMANDS));
    s_done (fx, 0, half);
    s_touch (fx); //  the word is taken before the touch's turn
    assert_true (s_reached (&fx->stats.events, events + COMMANDS + 1));
    zactor_destroy (&fx->worker);
    assert_int_equal (s_noted (fx), 0);
    assert_int_equal (s_stored (fx, 0, half), 0);
    assert_int_equal (s_stored (fx, half, COMMANDS), COMMANDS - half);
}

//  Commits that fail for 2.5 s while records wait in notes only: each
//  failure reloads the worker and checkpoints come due, yet no record is
//  lost: every copy sent afterwards is answered, not run, and with no
//  word from their senders, every record ends under its key.
static void test_failed_commits_lose_no_noted_record (void **state)
{
    fixture_t *fx = *state;
    s_commands (fx, 0, COMMANDS, ROUTE_FIRST);
    assert_true (s_reached (&fx->stats.events, COMMANDS));
    assert_int_equal (s_noted (fx), COMMANDS);

    journal_fail_commits_after (fx->journal, 1);
    int64_t until = zclock_mono () + 2500;
    while (zclock_mono () < until) {
        s_touch (fx);
        zclock_sleep (20);
    }
    assert_true (atomic_load (&fx->stats.failures) >= 2);
    journal_fail_commits_after (fx->journal, 0);

    uint64_t duplicates = atomic_load (&fx->stats.duplicates);
    s_commands (fx, 0, COMMANDS, ROUTE_LOCAL);
    assert_true (s_reached (&fx->stats.duplicates, duplicates + 2 * COMMANDS));
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (!(s_noted (fx) == 0 && s_stored (fx, 0, COMMANDS) == COMMANDS) &&
           zclock_mono () < deadline) {
        s_touch (fx);
        zclock_sleep (50);
    }
    assert_int_equal (s_stored (fx, 0, COMMANDS), COMMANDS);
    assert_int_equal (s_noted (fx), 0);
    //  No Add ran twice: the counters hold two events each (the set-up's
    //  and the Add's).
    zactor_destroy (&fx->worker);
    for (int i = 0; i < COMMANDS; i++) {
        int64_t version;
        assert_int_equal (journal_version (fx->journal, fx->commands[i].to, &version), 0);
        assert_int_equal (version, 2);
    }
}

//  Reads one [route, frame] from worker 0 to worker 1 within WAIT_MS (a
//  bundle of them split, harness_recv):
//  the route's byte, and the frame's envelope into *envelope (its payload
//  dropped) and, for a done, its ids into ids. False on timeout.
static bool s_take (fixture_t *fx, uint8_t *route, envelope_t *envelope, uint8_t *ids,
                    size_t *ids_size)
{
    zmsg_t *msg = harness_recv (fx->other, WAIT_MS);
    if (!msg)
        return false;
    zframe_t *r = zmsg_first (msg), *frame = zmsg_next (msg);
    assert_int_equal (zframe_size (r), 1);
    *route = zframe_data (r)[0];
    if (*route == ROUTE_DONE) {
        *ids_size = zframe_size (frame);
        memcpy (ids, zframe_data (frame), *ids_size);
    } else {
        assert_int_equal (envelope_decode (envelope, zframe_data (frame), zframe_size (frame)), 0);
        envelope->payload = NULL;
        envelope->payload_size = 0;
    }
    zmsg_destroy (&msg);
    return true;
}

//  The sender's side: a command an actor sends to another worker comes
//  marked as its first send once, right after its commit, and as sent
//  again on every re-send (a first send is not looked up in the inbox:
//  marking a re-send so would run it twice); once the sender has
//  committed the turn that handles its reply, the receiving worker is
//  told, after every copy, that the command is done.
static void test_sends_marked_and_done_told (void **state)
{
    fixture_t *fx = *state;
    char sender[64] = "", counter[64] = "";
    for (int n = 0; !sender[0] || !counter[0]; n++) {
        char address[64];
        snprintf (address, sizeof address, "sender/%d", n);
        if (!sender[0] && worker_of (&fx->config, address) == 0)
            snprintf (sender, sizeof sender, "%s", address);
        snprintf (address, sizeof address, "counter/%d", n);
        if (!counter[0] && worker_of (&fx->config, address) == 1)
            snprintf (counter, sizeof counter, "%s", address);
    }
    shoal_rec_t data;
    rec_init (&data);
    shoal_rec_str (&data, "to", counter);
    envelope_t send = {.kind = ENVELOPE_COMMAND, .created = zclock_time ()};
    envelope_new_id (send.id);
    snprintf (send.to, sizeof send.to, "%s", sender);
    snprintf (send.name, sizeof send.name, "Send");
    send.payload = rec_finish (&data, &send.payload_size);
    uint8_t *frame;
    size_t size;
    assert_int_equal (envelope_encode (&send, &frame, &size), 0);
    fx->stats.queued_bytes += size;
    s_send_routed (fx, "\0client", 7, frame, size);
    free (frame);
    rec_close (&data);

    //  The first send, then two re-sends (50 ms, then 100 ms later).
    uint8_t route, ids[64];
    size_t ids_size;
    envelope_t add;
    assert_true (s_take (fx, &route, &add, ids, &ids_size));
    assert_int_equal (route, ROUTE_FIRST);
    assert_string_equal (add.to, counter);
    for (int copy = 0; copy < 2; copy++) {
        envelope_t again;
        assert_true (s_take (fx, &route, &again, ids, &ids_size));
        assert_int_equal (route, ROUTE_LOCAL);
        assert_memory_equal (again.id, add.id, ENVELOPE_ID_SIZE);
    }

    //  The answer, as worker 1 would send it: the sender records it, and
    //  then worker 1 hears that the command is done (after any copy
    //  still on its way).
    envelope_t reply = {.kind = ENVELOPE_REPLY, .created = zclock_time ()};
    envelope_new_id (reply.id);
    memcpy (reply.correlation, add.id, ENVELOPE_ID_SIZE);
    snprintf (reply.from, sizeof reply.from, "%s", counter);
    snprintf (reply.to, sizeof reply.to, "%s", sender);
    snprintf (reply.name, sizeof reply.name, "Add");
    uint8_t *payload;
    assert_int_equal (envelope_reply_encode (true, NULL, NULL, NULL, 0, &payload, &size), 0);
    reply.payload = payload;
    reply.payload_size = size;
    assert_int_equal (envelope_encode (&reply, &frame, &size), 0);
    s_send_routed (fx, "", 0, frame, size);
    free (frame);
    free (payload);
    envelope_t copy;
    do
        assert_true (s_take (fx, &route, &copy, ids, &ids_size));
    while (route == ROUTE_LOCAL);
    assert_int_equal (route, ROUTE_DONE);
    assert_int_equal (ids_size, ENVELOPE_ID_SIZE);
    assert_memory_equal (ids, add.id, ENVELOPE_ID_SIZE);
    assert_int_equal (atomic_load (&fx->stats.pending), 0);
}

//  Another worker's release comes as one bundle (bundle.h): its commands
//  run in order; one with a route that is not a worker's own is counted
//  as a bad internal frame and left out, and the rest runs; a bundle whose
//  tail does not parse runs what came before it and counts one.
static void test_bundles_from_another_worker (void **state)
{
    fixture_t *fx = *state;
    bundle_t bundle = {NULL, 0, 0};
    static const uint8_t first = ROUTE_FIRST, foreign[] = {0x00, 'c', 'l'};
    for (int i = 0; i < 3; i++) {
        uint8_t *frame;
        size_t size;
        assert_int_equal (envelope_encode (&fx->commands[i], &frame, &size), 0);
        assert_int_equal (i == 1 ? bundle_add (&bundle, foreign, sizeof foreign, frame, size)
                                 : bundle_add (&bundle, &first, 1, frame, size),
                          0);
        free (frame);
    }
    assert_int_equal (bundle_send (&bundle, zsock_resolve (fx->push)), 0);
    assert_true (s_reached (&fx->stats.events, 2));
    assert_true (s_reached (&fx->stats.bad_internal_frames, 1));
    assert_int_equal (s_noted (fx) + (size_t) s_stored (fx, 0, 3), 2); //  not command 1's

    //  Command 3 whole, then 7 bytes that are no entry.
    uint8_t *frame;
    size_t size;
    assert_int_equal (envelope_encode (&fx->commands[3], &frame, &size), 0);
    assert_int_equal (bundle_add (&bundle, &first, 1, frame, size), 0);
    free (frame);
    assert_int_equal (bundle_add (&bundle, NULL, 0, NULL, 0), 0);
    bundle.size -= 1; //  its frame size cut short
    assert_int_equal (bundle_send (&bundle, zsock_resolve (fx->push)), 0);
    assert_true (s_reached (&fx->stats.events, 3));
    assert_true (s_reached (&fx->stats.bad_internal_frames, 2));
    bundle_close (&bundle);
    zactor_destroy (&fx->worker); //  then nothing more ran
    assert_int_equal (atomic_load (&fx->stats.events), 3);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_inbox_in_two_tiers, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_bundles_from_another_worker, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_failed_commits_lose_no_noted_record, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_sends_marked_and_done_told, s_setup_two, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
