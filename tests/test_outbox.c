/*  test_outbox.c - a worker's re-sends, stall notices and passivation
    with thousands of entries, driven by what is due (runtime/outbox.c,
    runtime/actors.c): one worker, no node and no network. The worker is
    node 0 of a two-node cluster map, so the commands its actors send to
    the other node's shards come out of its front socket, which the test
    binds: it sees every send and re-send, and answers when it chooses.

    What it shows: every pending command is re-sent, never sooner than
    the backoff allows (50 ms doubled per attempt, at most 5 s, from its
    first send); each one is reported stalled once per load, never
    before --stall-ms, also after a failed commit reloads the outbox from
    the journal; answered, they leave the table and the stalled gauge.
    Actors are passivated once idle for --idle-ms, never before, those
    used since staying. Every wait polls a condition against a deadline.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cluster.h"
#include "envelope.h"
#include "harness.h"
#include "journal.h"
#include "log.h"
#include "registry.h"
#include "worker.h"

#include <czmq.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAIT_MS 60000     //  a condition's deadline (ASan on a busy machine)
#define PENDING 2000      //  commands left unanswered
#define ACTORS 4000       //  actors activated for passivation
#define STALL_MS 1000     //  --stall-ms
#define IDLE_MS 1500      //  --idle-ms of the passivation test
#define ROUTE "client-1"  //  the client's identity, as the front would pass it
#define RETRY_FIRST_MS 50 //  outbox.c's first re-send delay
#define RETRY_MAX_MS 5000 //  and its longest

//  --------------------------------------------------------------------------
//  Two actor types. A sender, on "Send", sends "Ping" to sink/<its id> (on
//  the other node); on "Touch" it records it; it records each stall notice
//  and each reply. The state counts nothing: the worker's events counter
//  tells what happened.

static int s_sender_apply (void *state, const char *event, const shoal_data_t *data)
{
    (void) state, (void) data;
    return strcmp (event, "Sent") && strcmp (event, "Noticed") && strcmp (event, "Answered") &&
                   strcmp (event, "Touched")
               ? -1
               : 0;
}

static int s_sender_handle (shoal_ctx_t *ctx, const void *state, const shoal_msg_t *msg)
{
    (void) state;
    const char *name = shoal_msg_name (msg);
    switch (shoal_msg_kind (msg)) {
    case SHOAL_COMMAND:
        if (strcmp (name, "Touch") == 0) {
            shoal_ctx_emit (ctx, "Touched");
            return 0;
        }
        if (strcmp (name, "Send") != 0)
            return shoal_ctx_reject (ctx, "unknown_command", "senders know Send and Touch");
        char to[SHOAL_ADDRESS_MAX + 1];
        snprintf (to, sizeof to, "sink/%s", strchr (shoal_ctx_address (ctx), '/') + 1);
        shoal_ctx_send (ctx, to, "Ping");
        shoal_ctx_emit (ctx, "Sent");
        return 0;
    case SHOAL_STALLED:
        shoal_ctx_emit (ctx, "Noticed");
        return 0;
    case SHOAL_REPLY:
        shoal_ctx_emit (ctx, "Answered");
        return 0;
    default:
        return shoal_ctx_reject (ctx, "unexpected", "no timers here");
    }
}

static void s_no_view (const void *state, shoal_rec_t *out)
{
    (void) state, (void) out;
}

static const shoal_type_t s_sender = {
    .name = "sender",
    .state_size = sizeof (int64_t),
    .apply = s_sender_apply,
    .handle = s_sender_handle,
    .view = s_no_view,
};

//  --------------------------------------------------------------------------
//  Fixture: a journal, one worker, and the two sockets of the front.

typedef struct {
    char id[16];                       //  sender/<id> is ours, sink/<id> the other node's
    uint8_t command[ENVELOPE_ID_SIZE]; //  its Ping's id, once seen
    int sends;                         //  Pings seen, first send included
} entry_t;

typedef struct {
    char dir[64];               //  the test's temporary directory
    char prefix[96];            //  inproc endpoint prefix
    journal_t *journal;         //  the worker's store
    shoal_registry_t *registry; //  the sender type
    cluster_t *cluster;         //  two nodes; the worker is node 0
    worker_stats_t stats;       //  the worker's counters
    worker_config_t config;     //  what the worker shares
    zsock_t *front;             //  PULL: what the worker sends out
    zsock_t *push;              //  PUSH: frames to the worker
    zactor_t *worker;           //  NULL until started
    entry_t *entries;           //  the senders
    size_t count;               //  how many
    zhashx_t *by_address;       //  "sink/<id>" -> entry_t
    int64_t started;            //  ms, before the first Send
    bool bounded;               //  check each send against the backoff
    size_t replies;             //  replies to the client so far
    size_t refused;             //  of them, refusals
    uint8_t reply[4096];        //  the last reply's data (cut to its size)
    size_t reply_size;
} fixture_t;

static int s_setup (void **state)
{
    log_set_level (SHOAL_LOG_ERROR); //  thousands of stall lines otherwise
    fixture_t *fx = calloc (1, sizeof (fixture_t));
    assert_non_null (fx);
    snprintf (fx->dir, sizeof fx->dir, "/tmp/shoal-test-outbox-XXXXXX");
    assert_non_null (mkdtemp (fx->dir));
    snprintf (fx->prefix, sizeof fx->prefix, "inproc://test-outbox-%d-%p", (int) getpid (),
              (void *) fx);
    int code;
    char *error = NULL;
    fx->journal = journal_open (fx->dir, &(journal_options_t){.sync = false}, &code, &error);
    assert_non_null (fx->journal);
    fx->registry = registry_new ();
    assert_non_null (fx->registry);
    assert_int_equal (shoal_register (fx->registry, &s_sender), 0);
    fx->cluster = cluster_plan_ipc ("outbox", 2, 64, fx->dir);
    assert_non_null (fx->cluster);
    fx->config = (worker_config_t){
        .journal = fx->journal,
        .registry = fx->registry,
        .prefix = fx->prefix,
        .workers = 1,
        .shards = 64,
        .idle_ms = 3600000,
        .max_actors = 1000000,
        .snapshot_every = 100,
        .retention_ms = 7LL * 24 * 3600 * 1000,
        .stall_ms = STALL_MS,
        .batch_max = 256,
        .stats = &fx->stats,
        .cluster = fx->cluster,
        .self_node = 0,
    };
    fx->front = zsock_new_pull (NULL);
    assert_non_null (fx->front);
    assert_int_equal (zsock_bind (fx->front, "%s-front", fx->prefix), 0);
    fx->push = zsock_new_push (NULL);
    assert_non_null (fx->push);
    assert_int_equal (zsock_connect (fx->push, "%s-w0", fx->prefix), 0);
    fx->by_address = zhashx_new ();
    assert_non_null (fx->by_address);
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
    zhashx_destroy (&fx->by_address);
    free (fx->entries);
    cluster_destroy (&fx->cluster);
    registry_destroy (&fx->registry);
    journal_destroy (&fx->journal);
    harness_rm_rf (fx->dir);
    free (fx);
    return 0;
}

//  Picks count ids whose sender is ours and whose sink is the other
//  node's, and starts the worker.
static void s_start (fixture_t *fx, size_t count)
{
    fx->entries = calloc (count, sizeof (entry_t));
    assert_non_null (fx->entries);
    char sender[64], sink[64];
    for (unsigned n = 0; fx->count < count; n++) {
        entry_t *entry = &fx->entries[fx->count];
        snprintf (entry->id, sizeof entry->id, "s%u", n);
        snprintf (sender, sizeof sender, "sender/%s", entry->id);
        snprintf (sink, sizeof sink, "sink/%s", entry->id);
        if (worker_of (&fx->config, sender) == 0 &&
            worker_of (&fx->config, sink) == WORKER_REMOTE) {
            zhashx_insert (fx->by_address, sink, entry);
            fx->count++;
        }
    }
    fx->worker = worker_new (&fx->config, 0);
    assert_non_null (fx->worker);
}

//  Sends an envelope to the worker as [route, frame] (route "" for an
//  actor's message, as from another worker).
static void s_push (fixture_t *fx, const char *route, const envelope_t *envelope)
{
    uint8_t *frame;
    size_t size;
    assert_int_equal (envelope_encode (envelope, &frame, &size), 0);
    if (*route)
        fx->stats.queued_bytes += size;
    void *push = zsock_resolve (fx->push);
    assert_int_equal (zmq_send (push, route, strlen (route), ZMQ_SNDMORE), (int) strlen (route));
    assert_int_equal (zmq_send (push, frame, size, 0), (int) size);
    free (frame);
}

//  Sends command name to sender/<entry's id>, as a client.
static void s_command (fixture_t *fx, const entry_t *entry, const char *name)
{
    envelope_t command = {.kind = ENVELOPE_COMMAND, .created = zclock_time ()};
    envelope_new_id (command.id);
    snprintf (command.to, sizeof command.to, "sender/%s", entry->id);
    snprintf (command.name, sizeof command.name, "%s", name);
    s_push (fx, ROUTE, &command);
}

//  Answers entry's Ping, as the other node would.
static void s_answer (fixture_t *fx, const entry_t *entry)
{
    envelope_t reply = {.kind = ENVELOPE_REPLY, .created = zclock_time ()};
    envelope_new_id (reply.id);
    memcpy (reply.correlation, entry->command, ENVELOPE_ID_SIZE);
    snprintf (reply.from, sizeof reply.from, "sink/%s", entry->id);
    snprintf (reply.to, sizeof reply.to, "sender/%s", entry->id);
    snprintf (reply.name, sizeof reply.name, "Ping");
    uint8_t *payload;
    size_t size;
    assert_int_equal (envelope_reply_encode (true, NULL, NULL, NULL, 0, &payload, &size), 0);
    reply.payload = payload;
    reply.payload_size = size;
    s_push (fx, "", &reply);
    free (payload);
}

//  The earliest a command's send number sends (1: its first) can come,
//  in ms after its first send: 50 ms doubled per re-send, at most 5 s.
static int64_t s_earliest (int sends)
{
    int64_t at = 0, delay = RETRY_FIRST_MS;
    for (int i = 1; i < sends; i++) {
        at += delay;
        delay = delay * 2 < RETRY_MAX_MS ? delay * 2 : RETRY_MAX_MS;
    }
    return at;
}

//  Takes what the worker sent out, waiting up to timeout_ms for the
//  first frame: each Ping is counted to its entry (and, while bounded,
//  checked against the backoff), each reply to the client counted.
static void s_pump (fixture_t *fx, int timeout_ms)
{
    zmsg_t *msg;
    while ((msg = harness_recv (fx->front, timeout_ms)) != NULL) {
        timeout_ms = 0;
        int64_t now = zclock_time ();
        zframe_t *route = zmsg_first (msg), *frame = zmsg_next (msg);
        envelope_t envelope;
        assert_int_equal (envelope_decode (&envelope, zframe_data (frame), zframe_size (frame)), 0);
        if (zframe_size (route) == 1) { //  to the other node: a Ping
            assert_int_equal (envelope.kind, ENVELOPE_COMMAND);
            entry_t *entry = zhashx_lookup (fx->by_address, envelope.to);
            assert_non_null (entry);
            memcpy (entry->command, envelope.id, ENVELOPE_ID_SIZE);
            entry->sends++;
            if (fx->bounded && now - fx->started < s_earliest (entry->sends))
                fail_msg ("%s sent %d times %lld ms after the first Send: too soon", envelope.to,
                          entry->sends, (long long) (now - fx->started));
        } else {
            assert_int_equal (envelope.kind, ENVELOPE_REPLY);
            bool ok;
            char code[ENVELOPE_CODE_MAX + 1], reason[ENVELOPE_REASON_MAX + 1];
            const uint8_t *data;
            size_t size;
            assert_int_equal (envelope_reply_decode (envelope.payload, envelope.payload_size, &ok,
                                                     code, reason, &data, &size),
                              0);
            fx->replies++;
            fx->refused += !ok;
            fx->reply_size = size < sizeof fx->reply ? size : sizeof fx->reply;
            if (data)
                memcpy (fx->reply, data, fx->reply_size);
        }
        zmsg_destroy (&msg);
    }
}

//  How many commands the worker's "pending" query lists as stalled, as
//  `shoal pending --stalled` asks it.
static uint32_t s_stalled_listed (fixture_t *fx)
{
    msgpack_sbuffer args;
    msgpack_sbuffer_init (&args);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &args, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    msgpack_pack_str_with_body (&pk, "stalled", 7);
    msgpack_pack_true (&pk);
    envelope_t query = {.kind = ENVELOPE_QUERY, .created = zclock_time ()};
    envelope_new_id (query.id);
    snprintf (query.to, sizeof query.to, "node/pending");
    snprintf (query.name, sizeof query.name, "pending");
    query.payload = (const uint8_t *) args.data;
    query.payload_size = args.size;
    size_t replies = fx->replies;
    s_push (fx, ROUTE, &query);
    msgpack_sbuffer_destroy (&args);
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (fx->replies == replies && zclock_mono () < deadline)
        s_pump (fx, 10);
    assert_int_equal (fx->replies, replies + 1);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    assert_int_equal (
        msgpack_unpack_next (&unpacked, (const char *) fx->reply, fx->reply_size, NULL),
        MSGPACK_UNPACK_SUCCESS);
    uint32_t listed = UINT32_MAX;
    const msgpack_object *map = &unpacked.data;
    for (uint32_t i = 0; map->type == MSGPACK_OBJECT_MAP && i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 7 &&
            memcmp (kv->key.via.str.ptr, "pending", 7) == 0 && kv->val.type == MSGPACK_OBJECT_ARRAY)
            listed = kv->val.via.array.size;
    }
    msgpack_unpacked_destroy (&unpacked);
    assert_true (listed != UINT32_MAX);
    return listed;
}

//  True when every entry was sent at least sends[i] (or at least, when
//  sends is NULL) times.
static bool s_all_sent (fixture_t *fx, const int *sends, int at_least)
{
    for (size_t i = 0; i < fx->count; i++)
        if (fx->entries[i].sends < (sends ? sends[i] : 0) + at_least)
            return false;
    return true;
}

//  Pumps until counter reaches value, or the deadline: returns its value.
static uint64_t s_pump_until (fixture_t *fx, atomic_uint_fast64_t *counter, uint64_t value)
{
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (atomic_load (counter) != value && zclock_mono () < deadline)
        s_pump (fx, 10);
    return atomic_load (counter);
}

//  --------------------------------------------------------------------------
//  Tests

//  Thousands of unanswered commands are each re-sent on their backoff,
//  reported stalled once after STALL_MS (and once more after a reload),
//  and leave every count when answered.
static void test_resends_and_stalls_on_time (void **state)
{
    fixture_t *fx = *state;
    s_start (fx, PENDING);
    fx->started = zclock_time ();
    fx->bounded = true;
    for (size_t i = 0; i < fx->count; i++)
        s_command (fx, &fx->entries[i], "Send");

    //  Each is sent, then re-sent twice, never sooner than its backoff;
    //  no notice comes before STALL_MS.
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (!(fx->replies == fx->count && s_all_sent (fx, NULL, 3)) && zclock_mono () < deadline) {
        s_pump (fx, 10);
        uint64_t events = atomic_load (&fx->stats.events);
        if (events > fx->count) //  a notice
            assert_true (zclock_time () - fx->started >= STALL_MS);
    }
    assert_int_equal (fx->replies, fx->count);
    assert_int_equal (fx->refused, 0);
    assert_true (s_all_sent (fx, NULL, 3));

    //  Past STALL_MS each is reported once, with the gauge, and not again
    //  over its next two re-sends.
    assert_int_equal (s_pump_until (fx, &fx->stats.events, 2 * fx->count), 2 * fx->count);
    assert_int_equal (s_pump_until (fx, &fx->stats.stalled, fx->count), fx->count);
    int *sends = calloc (fx->count, sizeof (int));
    for (size_t i = 0; i < fx->count; i++)
        sends[i] = fx->entries[i].sends;
    deadline = zclock_mono () + WAIT_MS;
    while (!s_all_sent (fx, sends, 2) && zclock_mono () < deadline)
        s_pump (fx, 10);
    assert_true (s_all_sent (fx, sends, 2));
    assert_int_equal (atomic_load (&fx->stats.events), 2 * fx->count);
    assert_int_equal (atomic_load (&fx->stats.pending), fx->count);

    //  A failed commit reloads the outbox from the journal (the entries in
    //  memory are freed): each is re-sent at once and reported again.
    fx->bounded = false; //  a reload sends every entry at once
    for (size_t i = 0; i < fx->count; i++)
        sends[i] = fx->entries[i].sends;
    journal_fail_commits_after (fx->journal, 1);
    s_command (fx, &fx->entries[0], "Touch");
    deadline = zclock_mono () + WAIT_MS;
    while (atomic_load (&fx->stats.failures) == 0 && zclock_mono () < deadline)
        s_pump (fx, 10);
    assert_true (atomic_load (&fx->stats.failures) >= 1);
    journal_fail_commits_after (fx->journal, 0);
    assert_int_equal (s_pump_until (fx, &fx->stats.events, 3 * fx->count), 3 * fx->count);
    deadline = zclock_mono () + WAIT_MS;
    while (!s_all_sent (fx, sends, 1) && zclock_mono () < deadline)
        s_pump (fx, 10);
    assert_true (s_all_sent (fx, sends, 1));
    assert_int_equal (atomic_load (&fx->stats.pending), fx->count);
    free (sends);

    //  Answered, each leaves the table, and the gauge.
    for (size_t i = 0; i < fx->count; i++)
        s_answer (fx, &fx->entries[i]);
    assert_int_equal (s_pump_until (fx, &fx->stats.pending, 0), 0);
    assert_int_equal (s_pump_until (fx, &fx->stats.events, 4 * fx->count), 4 * fx->count);
    assert_int_equal (s_pump_until (fx, &fx->stats.stalled, 0), 0);
    assert_int_equal (atomic_load (&fx->stats.replies), fx->count);
}

//  The stalled gauge moves with the table: an entry is counted once past
//  STALL_MS, never before, and an answered one leaves the stalled count
//  when it leaves the pending count. (It stayed counted until the next
//  re-send tick, which an idle worker runs up to a second later: an
//  answer that came within RETRY_TICK_MS of the last tick, as after the
//  Touch here, left stalled above pending.)
static void test_stalled_gauge_follows_pending (void **state)
{
    fixture_t *fx = *state;
    s_start (fx, 4); //  entries 0 to 2 stall; 3 is touched
    const size_t stalling = 3;
    entry_t *touched = &fx->entries[3];
    int64_t sent = zclock_time ();
    for (size_t i = 0; i < stalling; i++)
        s_command (fx, &fx->entries[i], "Send");
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (fx->replies < stalling && zclock_mono () < deadline)
        s_pump (fx, 10);
    assert_int_equal (fx->replies, stalling);
    //  Whatever the pending query calls stalled, the gauge counts already.
    uint32_t listed = 0;
    while (listed < stalling && zclock_mono () < deadline) {
        listed = s_stalled_listed (fx);
        uint64_t gauge = atomic_load (&fx->stats.stalled);
        if (gauge < listed)
            fail_msg ("pending lists %u stalled, the gauge says %llu", listed,
                      (unsigned long long) gauge);
        if (gauge > 0)
            assert_true (zclock_time () - sent >= STALL_MS);
    }
    assert_int_equal (listed, stalling);
    assert_int_equal (atomic_load (&fx->stats.stalled), stalling);
    assert_int_equal (atomic_load (&fx->stats.pending), stalling);

    for (size_t i = 0; i < stalling; i++) {
        size_t replies = fx->replies;
        s_command (fx, touched, "Touch");
        deadline = zclock_mono () + WAIT_MS;
        while (fx->replies == replies && zclock_mono () < deadline)
            s_pump (fx, 10);
        assert_int_equal (fx->replies, replies + 1);
        s_answer (fx, &fx->entries[i]);
        uint64_t left = stalling - i - 1;
        assert_int_equal (s_pump_until (fx, &fx->stats.pending, left), left);
        assert_int_equal (atomic_load (&fx->stats.stalled), left);
    }
}

//  Thousands of actors are passivated once idle for IDLE_MS, never
//  before; those used again meanwhile stay until idle in their turn.
static void test_passivation_on_time (void **state)
{
    fixture_t *fx = *state;
    fx->config.idle_ms = IDLE_MS;
    s_start (fx, ACTORS);
    size_t half = fx->count / 2;
    int64_t started = zclock_time ();
    for (size_t i = 0; i < fx->count; i++)
        s_command (fx, &fx->entries[i], "Touch");
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (fx->replies < fx->count && zclock_mono () < deadline)
        s_pump (fx, 10);
    assert_int_equal (fx->replies, fx->count);
    assert_int_equal (fx->refused, 0);

    //  Half are used again; the other half go first.
    int64_t touched = zclock_time ();
    for (size_t i = 0; i < half; i++)
        s_command (fx, &fx->entries[i], "Touch");
    deadline = zclock_mono () + WAIT_MS;
    uint64_t active;
    do {
        s_pump (fx, 10);
        active = atomic_load (&fx->stats.active);
        int64_t now = zclock_time (); //  read after the count: no later than the worker's
        if (now - started < IDLE_MS)
            assert_int_equal (active, fx->count);
        if (now - touched < IDLE_MS && fx->replies == fx->count + half)
            assert_true (active >= half);
    } while ((active > 0 || fx->replies < fx->count + half) && zclock_mono () < deadline);
    assert_int_equal (fx->replies, fx->count + half);
    assert_int_equal (fx->refused, 0);
    assert_int_equal (active, 0);
    //  On a slow machine an actor may have gone before its second Touch,
    //  and come back for it.
    uint64_t activations = atomic_load (&fx->stats.activations);
    assert_true (activations >= fx->count && activations <= fx->count + half);
    assert_int_equal (atomic_load (&fx->stats.passivations), activations);
}

//  Outbox entries under their own 'o' keys, counted by a scan.
static int s_count_entry (void *arg, const char *stream, const uint8_t id[JOURNAL_ID_SIZE],
                          int64_t due, const uint8_t *value, size_t size)
{
    (void) stream, (void) id, (void) due, (void) value, (void) size;
    (*(size_t *) arg)++;
    return 0;
}

static size_t s_stored (fixture_t *fx)
{
    size_t count = 0;
    assert_int_equal (journal_outbox_scan (fx->journal, s_count_entry, &count), 0);
    return count;
}

static size_t s_noted (fixture_t *fx)
{
    size_t count = 0;
    assert_int_equal (journal_outbox_scan_notes (fx->journal, s_count_entry, &count), 0);
    return count;
}

//  The outbox in two tiers (runtime/outbox.c): a command still unanswered
//  two checkpoints after its send is stored under its 'o' key, and the
//  notes that sent it are deleted; those answered before are in no note
//  any more and under no key; answered then, its key goes. A clean stop
//  leaves no note, and every command still unanswered under its key.
static void test_outbox_in_two_tiers (void **state)
{
    fixture_t *fx = *state;
    s_start (fx, 200);
    size_t half = fx->count / 2;
    for (size_t i = 0; i < fx->count; i++)
        s_command (fx, &fx->entries[i], "Send");
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (!(fx->replies == fx->count && s_all_sent (fx, NULL, 1)) && zclock_mono () < deadline)
        s_pump (fx, 10);
    assert_int_equal (fx->replies, fx->count);
    for (size_t i = 0; i < half; i++)
        s_answer (fx, &fx->entries[i]);
    assert_int_equal (s_pump_until (fx, &fx->stats.pending, fx->count - half), fx->count - half);

    //  The unanswered half are stored, and no note sends anything any more.
    deadline = zclock_mono () + WAIT_MS;
    while (!(s_stored (fx) == fx->count - half && s_noted (fx) == 0) && zclock_mono () < deadline)
        s_pump (fx, 10);
    assert_int_equal (s_stored (fx), fx->count - half);
    assert_int_equal (s_noted (fx), 0);

    //  Answered, they leave their keys at once (the commit of the turn).
    for (size_t i = half; i < fx->count; i++)
        s_answer (fx, &fx->entries[i]);
    assert_int_equal (s_pump_until (fx, &fx->stats.pending, 0), 0);
    deadline = zclock_mono () + WAIT_MS;
    while (s_stored (fx) > 0 && zclock_mono () < deadline)
        s_pump (fx, 10);
    assert_int_equal (s_stored (fx), 0);

    //  New commands, unanswered, then a clean stop: stored, no note left.
    uint64_t events = atomic_load (&fx->stats.events);
    for (size_t i = 0; i < half; i++)
        s_command (fx, &fx->entries[i], "Send");
    assert_int_equal (s_pump_until (fx, &fx->stats.events, events + half), events + half);
    zactor_destroy (&fx->worker);
    assert_int_equal (s_stored (fx), half);
    uint64_t *positions;
    size_t notes;
    assert_int_equal (journal_notes_list (fx->journal, 0, &positions, &notes), 0);
    free (positions);
    assert_int_equal (notes, 0);
}

//  Commits that fail for a while, as a disk that refuses writes, while
//  commands wait unanswered in notes only: every failure reloads the
//  outbox from the journal and checkpoints come due meanwhile, but no
//  note is dropped without what it sends: once writes succeed again, every
//  command is still pending, re-sent, and stored under its key.
static void test_failed_commits_lose_no_noted_command (void **state)
{
    fixture_t *fx = *state;
    s_start (fx, 100);
    for (size_t i = 0; i < fx->count; i++)
        s_command (fx, &fx->entries[i], "Send");
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (!(fx->replies == fx->count && s_all_sent (fx, NULL, 1)) && zclock_mono () < deadline)
        s_pump (fx, 10);
    assert_int_equal (fx->replies, fx->count);
    assert_int_equal (atomic_load (&fx->stats.pending), fx->count);

    //  2.5 s of failing commits: two checkpoints and more come due.
    journal_fail_commits_after (fx->journal, 1);
    int64_t until = zclock_mono () + 2500;
    size_t touches = 0;
    while (zclock_mono () < until) {
        s_command (fx, &fx->entries[touches++ % fx->count], "Touch");
        s_pump (fx, 20);
    }
    assert_true (atomic_load (&fx->stats.failures) >= 2);
    journal_fail_commits_after (fx->journal, 0);
    int *sends = calloc (fx->count, sizeof (int));
    assert_non_null (sends);
    for (size_t i = 0; i < fx->count; i++)
        sends[i] = fx->entries[i].sends;

    //  Every command is still pending, sent again, and stored in the end.
    deadline = zclock_mono () + WAIT_MS;
    while (!(s_stored (fx) == fx->count && s_noted (fx) == 0 && s_all_sent (fx, sends, 1)) &&
           zclock_mono () < deadline)
        s_pump (fx, 10);
    assert_int_equal (atomic_load (&fx->stats.pending), fx->count);
    assert_int_equal (s_stored (fx), fx->count);
    assert_int_equal (s_noted (fx), 0);
    assert_true (s_all_sent (fx, sends, 1));
    free (sends);
    for (size_t i = 0; i < fx->count; i++)
        s_answer (fx, &fx->entries[i]);
    assert_int_equal (s_pump_until (fx, &fx->stats.pending, 0), 0);
    deadline = zclock_mono () + WAIT_MS;
    while (s_stored (fx) > 0 && zclock_mono () < deadline)
        s_pump (fx, 10);
    assert_int_equal (s_stored (fx), 0);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_resends_and_stalls_on_time, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_stalled_gauge_follows_pending, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_passivation_on_time, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_outbox_in_two_tiers, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_failed_commits_lose_no_noted_command, s_setup,
                                         s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
