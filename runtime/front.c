/*  front.c - the node's front: client endpoint, peer links, routing. See
    front.h. Runs on the node's main thread.
*/
#include "front_internal.h"
#include "bundle.h"
#include "metrics.h"
#include "auth.h"
#include "data.h"
#include "envelope.h"
#include "log.h"
#include "repair.h"
#include "shard.h"
#include "shoal_stats.h"
#include "deadletter.h"
#include "threadname.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

static zsock_t *s_socket (int type, int hwm)
{
    zsock_t *socket = zsock_new (type);
    if (socket) {
        zsock_set_sndhwm (socket, hwm);
        zsock_set_rcvhwm (socket, hwm);
        zsock_set_linger (socket, 0);
    }
    return socket;
}

static void s_drop_held (front_t *self);

front_t *front_new (const front_config_t *config, char **error)
{
    front_t *self = calloc (1, sizeof (front_t));
    int workers = config->config->workers;
    if (self) {
        self->config = *config;
        self->started = zclock_mono ();
        self->push = calloc ((size_t) workers, sizeof (zsock_t *));
        self->gathers = zlistx_new ();
        self->gather_ids = front_gather_ids_new ();
        self->calls = front_calls_new (workers);
        self->replies = s_socket (ZMQ_PULL, 0);
        self->router = s_socket (ZMQ_ROUTER, 100000);
        if (self->router) {
            //  Replies a client does not read: FRONT_CLIENT_HWM at most,
            //  then each is dropped, counted, and not waited for.
            zsock_set_sndhwm (self->router, FRONT_CLIENT_HWM);
            zsock_set_router_mandatory (self->router, 1);
            self->client_replies =
                front_replies_new (zsock_resolve (self->router), &self->counters);
        }
    }
    if (!self || !self->push || !self->replies || !self->router || !self->gathers ||
        !self->gather_ids || !self->client_replies || !self->calls) {
        *error = strdup ("out of memory");
        front_destroy (&self);
        return NULL;
    }
    //  A frame a little too big gets a bad_frame reply; a far bigger one is
    //  not even read: ZeroMQ drops the connection that sends it.
    zsock_set_maxmsgsize (self->router, 4 * ENVELOPE_MAX_SIZE);
    zsock_set_handshake_ivl (self->router, FRONT_HANDSHAKE_IVL_MS);
    if (config->cert) {
        zcert_apply (config->cert, self->router);
        zsock_set_curve_server (self->router, 1);
        zsock_set_zap_domain (self->router, AUTH_DOMAIN_CLIENT);
    }
    const char *prefix = config->config->prefix;
    if (zsock_bind (self->replies, "%s-front", prefix) != 0) {
        *error = zsys_sprintf ("cannot bind %s-front", prefix);
        front_destroy (&self);
        return NULL;
    }
    //  The projection thread's queries, and its reactions' commands: an
    //  inproc client of ours (ZeroMQ's inproc takes no CURVE handshake;
    //  only this process can reach it).
    self->projector = s_socket (ZMQ_PUSH, 1000);
    if (!self->projector || zsock_connect (self->projector, "%s-proj", prefix) != 0 ||
        zsock_bind (self->router, "%s-clients", prefix) != 0) {
        *error = zsys_sprintf ("cannot reach the projection thread at %s-proj", prefix);
        front_destroy (&self);
        return NULL;
    }
    for (int i = 0; i < workers; i++) {
        //  Bounded: past FRONT_QUEUE_MAX waiting commands a client is told
        //  "busy" instead of growing the node's memory without limit.
        self->push[i] = s_socket (ZMQ_PUSH, FRONT_QUEUE_MAX);
        if (!self->push[i] || zsock_connect (self->push[i], "%s-w%d", prefix, i) != 0) {
            *error = zsys_sprintf ("cannot reach worker %d", i);
            front_destroy (&self);
            return NULL;
        }
    }
    if (zsock_bind (self->router, "%s", config->endpoint) == -1) {
        int code = zmq_errno ();
        //  ZeroMQ binds tcp://NAME:PORT to the interface NAME: a host name
        //  ("localhost") is none, and zmq_strerror says "No such device".
        bool named = code == ENODEV && strncmp (config->endpoint, "tcp://", 6) == 0;
        *error = zsys_sprintf ("cannot listen on %s: %s%s", config->endpoint, zmq_strerror (code),
                               named ? " (to listen on, tcp:// takes an IP address or a network "
                                       "interface's name, not a host name: tcp://127.0.0.1:PORT)"
                                     : "");
        front_destroy (&self);
        return NULL;
    }
    self->endpoint = zsock_last_endpoint (self->router);
    if (!self->endpoint)
        self->endpoint = strdup (config->endpoint);
    return self;
}

void front_destroy (front_t **self_p)
{
    front_t *self = *self_p;
    if (!self)
        return;
    s_drop_held (self);
    front_keys_close (self);
    if (self->push)
        for (int i = 0; i < self->config.config->workers; i++)
            zsock_destroy (&self->push[i]);
    free (self->push);
    for (gather_t *gather = self->gathers ? zlistx_first (self->gathers) : NULL; gather;
         gather = zlistx_next (self->gathers)) {
        msgpack_sbuffer_destroy (&gather->rows);
        free (gather);
    }
    zlistx_destroy (&self->gathers);
    zhashx_destroy (&self->gather_ids);
    front_replies_destroy (&self->client_replies);
    front_calls_destroy (&self->calls);
    zsock_destroy (&self->router);
    zsock_destroy (&self->replies);
    zsock_destroy (&self->projector);
    free (self->endpoint);
    free (self);
    *self_p = NULL;
}

const char *front_endpoint (const front_t *self)
{
    return self->endpoint;
}

const front_counters_t *front_counters (const front_t *self)
{
    return &self->counters;
}

int64_t front_started (const front_t *self)
{
    return self->started;
}

//  Logs the bad frames refused since the last line, at most once a second.
static void s_log_bad_frames (front_t *self)
{
    uint64_t bad = atomic_load_explicit (&self->counters.bad_frames, memory_order_relaxed);
    if (bad == self->bad_logged)
        return;
    int64_t now = zclock_mono ();
    if (now - self->bad_logged_at < 1000)
        return;
    log_warn ("shoal node: refused %llu bad frames in the last %.1f s",
              (unsigned long long) (bad - self->bad_logged),
              self->bad_logged_at ? (double) (now - self->bad_logged_at) / 1000 : 1.0);
    self->bad_logged = bad;
    self->bad_logged_at = now;
}

//  The node that owns address: our own index alone, else the map's.
static int s_owner (const front_t *self, const char *address)
{
    if (!self->config.cluster)
        return self->config.self_node;
    return cluster_owner (self->config.cluster,
                          shoal_shard (address, cluster_shards (self->config.cluster)));
}

//  Sends an encoded reply frame to a client by its route (ROUTE_CLIENT or
//  ROUTE_PEER). Returns false if the route is not a client's.
static bool s_to_client (front_t *self, const uint8_t *route, size_t route_size,
                         const uint8_t *frame, size_t size)
{
    if (route_size >= 2 && route[0] == ROUTE_CLIENT) {
        front_replies_send (self->client_replies, route + 1, route_size - 1, frame, size);
        return true;
    }
    if (route_size >= 3 && route[0] == ROUTE_PEER && self->config.peers) {
        peers_send (self->config.peers, route[1], PEERS_ANSWER, route + 2, route_size - 2, frame,
                    size); //  lost if the link is down: the client re-sends
        return true;
    }
    return false;
}

//  Answers request (NULL if it could not be read) with payload (borrowed).
void front_reply (front_t *self, const uint8_t *route, size_t route_size, const envelope_t *request,
                  const uint8_t *payload, size_t size)
{
    envelope_t reply = {0};
    reply.kind = ENVELOPE_REPLY;
    envelope_new_id (reply.id);
    if (request) {
        memcpy (reply.correlation, request->id, ENVELOPE_ID_SIZE);
        strcpy (reply.from, request->to);
        strcpy (reply.name, request->name);
    } else
        strcpy (reply.name, "error");
    reply.payload = payload;
    reply.payload_size = size;
    reply.created = zclock_time ();
    uint8_t *frame;
    size_t frame_size;
    if (envelope_encode (&reply, &frame, &frame_size) != 0)
        return;
    s_to_client (self, route, route_size, frame, frame_size);
    free (frame);
}

void front_reject (front_t *self, const uint8_t *route, size_t route_size,
                   const envelope_t *request, const char *code, const char *reason)
{
    uint8_t *payload;
    size_t size;
    if (envelope_reply_encode (false, code, reason, NULL, 0, &payload, &size) == 0) {
        front_reply (self, route, route_size, request, payload, size);
        free (payload);
    }
}

//  True if envelope is a projection's reaction (from "projection/NAME")
//  that came from this node's projection thread, whose routing id no
//  client knows, or from a peer's CALL: its front checked it so.
static bool s_from_projector (front_t *self, const uint8_t *route, size_t route_size,
                              const envelope_t *envelope)
{
    if (envelope->kind != ENVELOPE_COMMAND || !shoal_address_is_projection (envelope->from))
        return false;
    if (route[0] == ROUTE_PEER)
        return true;
    const uint8_t *id = self->config.config->projector_id;
    return route[0] == ROUTE_CLIENT && route_size == 1 + WORKER_PROJECTOR_ID_SIZE &&
           memcmp (route + 1, id, WORKER_PROJECTOR_ID_SIZE) == 0 && id[0] != 0;
}

//  Checks a client's frame, as it came from a client or a peer's CALL;
//  the strings of its payload must be UTF-8 (another client than shoal may
//  not check them: they were stored, and printed with U+FFFD). Returns
//  true if it may be routed; else it was answered and counted.
static bool s_client_frame_ok (front_t *self, const uint8_t *route, size_t route_size,
                               const uint8_t *frame, size_t size, envelope_t *envelope)
{
    char detail[ENVELOPE_REASON_MAX + 1];
    int rc = envelope_decode_request (envelope, frame, size, detail, sizeof detail);
    if (rc != 0) {
        self->counters.bad_frames++;
        //  A string that is not UTF-8 comes in a frame read whole: the
        //  refusal answers that request (its id, its sender can match it).
        //  Any other that reads as far as its id is answered under that id
        //  alone (a client with several requests out took a nil answer for
        //  another's, which had run); else with a nil correlation.
        envelope_t known = {.name = "error"};
        bool identified = rc != SHOAL_EINVAL && envelope_peek_id (frame, size, known.id);
        front_reject (self, route, route_size,
                      rc == SHOAL_EINVAL ? envelope
                      : identified       ? &known
                                         : NULL,
                      "bad_frame", detail[0] ? detail : shoal_strerror (rc));
        return false;
    }
    if (envelope->kind != ENVELOPE_COMMAND && envelope->kind != ENVELOPE_QUERY) {
        self->counters.bad_frames++;
        front_reject (self, route, route_size, envelope, "bad_kind",
                      "clients send commands and queries");
        return false;
    }
    //  A handler may trust shoal_msg_from: a client cannot speak for an
    //  actor, nor for a projection.
    if (envelope->from[0] && !s_from_projector (self, route, route_size, envelope)) {
        self->counters.bad_frames++;
        front_reject (self, route, route_size, envelope, "bad_from",
                      "a client's message must have an empty from");
        return false;
    }
    return true;
}

//  Sends route, the first part of a frame of size bytes for the actor at
//  to, on to its worker, if the worker's queue has room for it (in
//  messages, the socket's HWM, and in bytes, FRONT_QUEUE_BYTES), and
//  counts its bytes, which the worker takes off when it takes the frame.
//  Returns the worker's socket, for the frame to follow, or NULL if full.
static void *s_worker_room (front_t *self, const char *to, const uint8_t *route, size_t route_size,
                            size_t size)
{
    int index = worker_of (self->config.config, to);
    worker_stats_t *stats = &self->config.config->stats[index];
    void *worker = zsock_resolve (self->push[index]);
    if (stats->queued_bytes + size > FRONT_QUEUE_BYTES ||
        zmq_send (worker, route, route_size, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
        return NULL;
    stats->queued_bytes += size;
    return worker;
}

//  Queues a client's frame for the worker that owns its receiver, or
//  answers busy.
static void s_to_worker (front_t *self, const uint8_t *route, size_t route_size,
                         const envelope_t *envelope, zmq_msg_t *frame)
{
    void *worker = s_worker_room (self, envelope->to, route, route_size, zmq_msg_size (frame));
    if (!worker) {
        self->counters.busy++;
        front_reject (self, route, route_size, envelope, "busy",
                      "the node is overloaded; retry later");
        return;
    }
    zmq_msg_send (frame, worker, 0); //  moves the buffer, no copy
}

//  --------------------------------------------------------------------------
//  Node-wide queries: one question to every worker, one merged answer

//  Routes a checked client message: here, to its owner, or `unavailable`.
static void s_route_client (front_t *self, const uint8_t *route, size_t route_size,
                            const envelope_t *envelope, zmq_msg_t *frame)
{
    if (front_node_wide (envelope)) { //  this node's, whoever owns the address
        front_gather_start (self, route, route_size, envelope, frame);
        return;
    }
    if (front_map_conflict (self, route, route_size, envelope))
        return;
    int owner = s_owner (self, envelope->to);
    if (owner == self->config.self_node) {
        s_to_worker (self, route, route_size, envelope, frame);
        return;
    }
    //  Forwarded as a CALL; only a client of ours is forwarded (a CALL that
    //  came from a peer for a shard not ours means the maps differ, which
    //  the HELLO rules out: it is refused below, never forwarded twice).
    if (route[0] == ROUTE_CLIENT && owner >= 0 &&
        front_calls_forward (self, owner, route, route_size, envelope, frame))
        return;
    self->counters.unavailable++;
    char reason[FRONT_REASON_MAX];
    if (owner < 0 || route[0] != ROUTE_CLIENT) {
        snprintf (reason, sizeof reason, "no node owns %s", envelope->to);
        front_reject (self, route, route_size, envelope, "unavailable", reason);
        return;
    }
    const char *name = cluster_node_name (self->config.cluster, owner);
    front_owner_down_reason (self, owner, envelope->to, reason, sizeof reason);
    //  The data names the node too, {"node_down": NAME}: a client tells
    //  the owner's silence from the node's own trouble (docs/PROTOCOL.md).
    msgpack_sbuffer data;
    msgpack_sbuffer_init (&data);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &data, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    front_pack_str (&pk, "node_down");
    front_pack_str (&pk, name);
    uint8_t *payload;
    size_t size;
    if (data.data && envelope_reply_encode (false, "unavailable", reason, (uint8_t *) data.data,
                                            data.size, &payload, &size) == 0) {
        front_reply (self, route, route_size, envelope, payload, size);
        free (payload);
    } else
        front_reject (self, route, route_size, envelope, "unavailable", reason);
    msgpack_sbuffer_destroy (&data);
}

static void s_dead_letters (front_t *self, const uint8_t *route, size_t route_size,
                            const envelope_t *request)
{
    uint8_t *payload;
    size_t size;
    journal_t *journal = self->config.config->journal;
    char why[96] = "";
    int rc = deadletter_list (journal, request, &payload, &size, why, sizeof why);
    //  What it read leaves the node once durable (a worker's record is
    //  readable before its sync): a short wait of the front's, for a
    //  command operators run by hand.
    if (rc == 0)
        journal_sync (journal, journal_written_all (journal));
    if (rc == 0) {
        front_reply (self, route, route_size, request, payload, size);
        free (payload);
    } else if (rc == SHOAL_ETYPE && why[0])
        front_reject (self, route, route_size, request, "invalid_field", why);
    else
        front_reject (self, route, route_size, request, "unavailable", shoal_strerror (rc));
}

//  A query for the projection thread (projector.h), which answers it
//  through our replies socket, as a worker does.
static void s_to_projector (front_t *self, const uint8_t *route, size_t route_size,
                            const envelope_t *envelope, zmq_msg_t *frame)
{
    if (self->config.no_projections) {
        front_reject (self, route, route_size, envelope, "unavailable",
                      "this node runs no projections (it was started with --projections off)");
        return;
    }
    void *projector = zsock_resolve (self->projector);
    if (zmq_send (projector, route, route_size, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1 ||
        zmq_send (projector, zmq_msg_data (frame), zmq_msg_size (frame), 0) == -1)
        front_reject (self, route, route_size, envelope, "busy",
                      "the projection thread has too many queries waiting; retry later");
}

//  One client message: [identity, frame]; parts counts every frame that
//  came: anything but two is refused.
static void s_on_client (front_t *self, zmq_msg_t *identity, zmq_msg_t *frame, int parts)
{
    uint8_t route[FRONT_ROUTE_MAX];
    size_t id_size = zmq_msg_size (identity);
    if (id_size + 1 > sizeof route)
        return; //  ZeroMQ's ids are at most 255 bytes
    route[0] = ROUTE_CLIENT;
    memcpy (route + 1, zmq_msg_data (identity), id_size);
    size_t route_size = id_size + 1;
    if (parts != 2) {
        self->counters.bad_frames++;
        front_reject (self, route, route_size, NULL, "bad_frame", "expected one frame per message");
        return;
    }
    envelope_t envelope;
    if (!s_client_frame_ok (self, route, route_size, zmq_msg_data (frame), zmq_msg_size (frame),
                            &envelope))
        return;
    if (!front_keys_admit (self, route, route_size, frame, &envelope))
        return;
    if (envelope.kind == ENVELOPE_QUERY && streq (envelope.name, "stats")) {
        front_stats (self, route, route_size, &envelope);
        return;
    }
    if (envelope.kind == ENVELOPE_QUERY && streq (envelope.name, "dead_letters")) {
        s_dead_letters (self, route, route_size, &envelope);
        return;
    }
    if (envelope.kind == ENVELOPE_QUERY && strncmp (envelope.name, "projection", 10) == 0) {
        s_to_projector (self, route, route_size, &envelope, frame);
        return;
    }
    s_route_client (self, route, route_size, &envelope, frame);
}

//  Receives one whole client message without blocking. Returns false when
//  none is waiting.
static bool s_recv_client (front_t *self)
{
    void *router = zsock_resolve (self->router);
    zmq_msg_t part;
    zmq_msg_init (&part);
    if (zmq_msg_recv (&part, router, ZMQ_DONTWAIT) == -1) {
        zmq_msg_close (&part);
        return false;
    }
    zmq_msg_t identity, frame;
    zmq_msg_init (&identity);
    zmq_msg_init (&frame);
    zmq_msg_move (&identity, &part);
    int parts = 1;
    bool more = zmq_msg_more (&identity);
    while (more && zmq_msg_recv (&part, router, 0) != -1) {
        more = zmq_msg_more (&part);
        if (++parts == 2)
            zmq_msg_move (&frame, &part);
    }
    zmq_msg_close (&part);
    s_on_client (self, &identity, &frame, parts);
    zmq_msg_close (&identity);
    zmq_msg_close (&frame);
    return true;
}

//  An actor's message a worker pushed for another node: over the link to
//  its owner, or dropped when the link is down (the outbox re-sends).
static void s_to_remote (front_t *self, const uint8_t *frame, size_t size)
{
    envelope_t envelope;
    if (envelope_decode (&envelope, frame, size) != 0) {
        self->counters.bad_frames++;
        return;
    }
    int owner = s_owner (self, envelope.to);
    if (owner == self->config.self_node || owner < 0 || !self->config.peers ||
        peers_send (self->config.peers, owner, PEERS_MSG, NULL, 0, frame, size) != 0)
        self->counters.dropped++;
}

//  One [route, frame] a worker sent: on to another node, a node-wide
//  query's part, or a client's reply.
static void s_from_worker (front_t *self, const uint8_t *r, size_t r_size, const uint8_t *frame,
                           size_t size)
{
    if (r_size == 1 && r[0] == ROUTE_REMOTE)
        s_to_remote (self, frame, size);
    else if (r_size == 5 && r[0] == ROUTE_GATHER)
        front_gather_part (self, r, r_size, frame, size);
    else if (!s_to_client (self, r, r_size, frame, size))
        self->counters.bad_frames++;
}

//  One message the workers pushed: [route, frame], or a bundle of them
//  (what one commit sent, bundle.h), each handled in turn.
static void s_worker_message (front_t *self, zmq_msg_t *route, zmq_msg_t *frame)
{
    const uint8_t *r = zmq_msg_data (route);
    size_t r_size = zmq_msg_size (route);
    if (r_size == 1 && r[0] == BUNDLE_ROUTE) {
        bundle_reader_t reader = {zmq_msg_data (frame), zmq_msg_size (frame)};
        const uint8_t *each, *data;
        size_t each_size, size;
        int rc;
        while ((rc = bundle_next (&reader, &each, &each_size, &data, &size)) == 1)
            s_from_worker (self, each, each_size, data, size);
        if (rc < 0)
            self->counters.bad_frames++;
    } else
        s_from_worker (self, r, r_size, zmq_msg_data (frame), zmq_msg_size (frame));
}

//  --------------------------------------------------------------------------
//  What leaves the node
//
//  In sync durability a worker's commit is written, not yet durable, when
//  it sends what the commit caused (persistence/sync.c): the journal's
//  syncer thread makes it durable a moment later. Messages between the
//  node's own actors need not wait (their effects are written after their
//  causes, and a crash keeps a prefix of the writes); what leaves the node
//  does, here: a message that comes while journal_synced is behind
//  journal_written is held, with that count, until a sync covers it (the
//  syncer's eventfd wakes the loop), and every later one queues behind it,
//  in order. Nothing is held in async durability. What is held, and what
//  waits in ZeroMQ's queue from the workers (its HWMs are 0), is bounded
//  where it is made: a worker counts the bytes it sends here, this thread
//  counts them off as it handles them, and a worker with
//  WORKER_OUTBOUND_MAX or more out waits (worker.h): at most that and one
//  message (a bundle: a commit's messages for the front) per worker are
//  out. test_powerloss_sync presses the bound and checks the node's memory.

//  The workers' message of size bytes is handled (sent on, or dropped):
//  no longer out (worker.h's worker_outbound_t).
static void s_outbound_done (front_t *self, size_t size)
{
    worker_outbound_sub (self->config.config->outbound, size);
}

//  Holds the message (moved from route and frame). Out of memory it is
//  dropped, as a send that fails: a client asks again, an outbox re-sends.
static void s_hold (front_t *self, uint64_t written, zmq_msg_t *route, zmq_msg_t *frame)
{
    if (self->held_count == self->held_cap) {
        size_t cap = self->held_cap ? 2 * self->held_cap : 64;
        front_held_t *ring = malloc (cap * sizeof (front_held_t));
        if (!ring) {
            self->counters.dropped++;
            s_outbound_done (self, zmq_msg_size (route) + zmq_msg_size (frame));
            return;
        }
        for (size_t i = 0; i < self->held_count; i++) { //  unwrapped, oldest first
            front_held_t *from = &self->held[(self->held_head + i) % self->held_cap];
            ring[i].written = from->written;
            zmq_msg_init (&ring[i].route);
            zmq_msg_init (&ring[i].frame);
            zmq_msg_move (&ring[i].route, &from->route);
            zmq_msg_move (&ring[i].frame, &from->frame);
            zmq_msg_close (&from->route);
            zmq_msg_close (&from->frame);
        }
        free (self->held);
        self->held = ring;
        self->held_head = 0;
        self->held_cap = cap;
    }
    front_held_t *held = &self->held[(self->held_head + self->held_count++) % self->held_cap];
    held->written = written;
    zmq_msg_init (&held->route);
    zmq_msg_init (&held->frame);
    zmq_msg_move (&held->route, route);
    zmq_msg_move (&held->frame, frame);
    self->held_bytes += zmq_msg_size (&held->route) + zmq_msg_size (&held->frame);
    atomic_store (&self->counters.held_bytes, self->held_bytes);
    if (self->held_bytes > atomic_load (&self->counters.held_bytes_peak))
        atomic_store (&self->counters.held_bytes_peak, self->held_bytes);
}

//  Handles the held messages that the last sync covered, in order.
static void s_release_held (front_t *self)
{
    if (self->held_count == 0)
        return;
    uint64_t synced = journal_synced (self->config.config->journal);
    while (self->held_count && self->held[self->held_head].written <= synced) {
        front_held_t *held = &self->held[self->held_head];
        s_worker_message (self, &held->route, &held->frame);
        size_t size = zmq_msg_size (&held->route) + zmq_msg_size (&held->frame);
        self->held_bytes -= size;
        s_outbound_done (self, size);
        zmq_msg_close (&held->route);
        zmq_msg_close (&held->frame);
        self->held_head = (self->held_head + 1) % self->held_cap;
        self->held_count--;
    }
    atomic_store (&self->counters.held_bytes, self->held_bytes);
}

//  Drops what is held (the front stops): a client asks again, an outbox
//  re-sends.
static void s_drop_held (front_t *self)
{
    while (self->held_count) {
        front_held_t *held = &self->held[self->held_head];
        s_outbound_done (self, zmq_msg_size (&held->route) + zmq_msg_size (&held->frame));
        zmq_msg_close (&held->route);
        zmq_msg_close (&held->frame);
        self->held_head = (self->held_head + 1) % self->held_cap;
        self->held_count--;
    }
    free (self->held);
    self->held = NULL;
    self->held_cap = 0;
    self->held_bytes = 0;
    atomic_store (&self->counters.held_bytes, 0);
}

//  Takes one message the workers pushed: handled at once, or held until
//  the writes before it are durable. Returns false when nothing was
//  waiting.
static bool s_recv_worker (front_t *self)
{
    void *replies = zsock_resolve (self->replies);
    zmq_msg_t route, frame;
    zmq_msg_init (&route);
    zmq_msg_init (&frame);
    if (zmq_msg_recv (&route, replies, ZMQ_DONTWAIT) == -1) {
        zmq_msg_close (&route);
        zmq_msg_close (&frame);
        return false;
    }
    size_t size = zmq_msg_size (&route);
    if (!zmq_msg_more (&route) || zmq_msg_recv (&frame, replies, 0) == -1) {
        s_outbound_done (self, size); //  never sent so by a worker: dropped
        self->counters.bad_frames++;
        zmq_msg_close (&route);
        zmq_msg_close (&frame);
        return true;
    }
    size += zmq_msg_size (&frame);
    journal_t *journal = self->config.config->journal;
    uint64_t written = journal_written (journal);
    if (journal_sync_fd (journal) >= 0 && (self->held_count || journal_synced (journal) < written))
        s_hold (self, written, &route, &frame); //  no longer out when let go
    else {
        s_worker_message (self, &route, &frame);
        s_outbound_done (self, size);
    }
    zmq_msg_close (&route);
    zmq_msg_close (&frame);
    return true;
}

//  A frame a welcomed peer sent (peers_deliver_fn).
static void s_on_peer (void *arg, peers_kind_t kind, int from, const uint8_t *route,
                       size_t route_size, const uint8_t *frame, size_t size, const char *key)
{
    front_t *self = arg;
    if (kind == PEERS_REFUSED) { //  an ANSWER on our ROUTER (peers.c)
        self->counters.bad_frames++;
        return;
    }
    if (kind == PEERS_REACHED) {
        front_calls_reached (self, from);
        return;
    }
    if (kind == PEERS_ANSWER) {
        //  The reply to a CALL we forwarded, on our link to that peer (peers.c
        //  takes it there only): route is our client's id, one that asked it.
        if (front_calls_answered (self->calls, from, route, route_size, zclock_mono ()))
            front_calls_relay (self, from, route, route_size, frame, size);
        else
            self->counters.bad_frames++;
        return;
    }
    envelope_t envelope;
    if (kind == PEERS_MSG) {
        //  An actor's message: to its worker with an empty route, if ours,
        //  and if its sender is the peer's own actor: a node speaks for its
        //  actors, not for ours or a third node's (one whose key was
        //  stolen could credit our accounts as any transfer). Only commands
        //  and replies cross nodes: a timer is its actor's own, a stall
        //  notice its node's (turn.c checks whose reply it is).
        if (envelope_decode (&envelope, frame, size) != 0 ||
            (envelope.kind != ENVELOPE_COMMAND && envelope.kind != ENVELOPE_REPLY) ||
            !envelope.from[0] || s_owner (self, envelope.to) != self->config.self_node ||
            s_owner (self, envelope.from) != from) {
            self->counters.bad_frames++;
            return;
        }
        //  Bounded in messages and in bytes, as a client's: full, it is
        //  dropped, and the sender's outbox re-sends.
        static const uint8_t remote = ROUTE_REMOTE; //  counted: the worker tells it so
        void *worker = s_worker_room (self, envelope.to, &remote, 1, size);
        if (worker)
            zmq_send (worker, frame, size, 0);
        else
            self->counters.dropped++;
        return;
    }
    //  A CALL: a client of node `from`, routed here as ROUTE_PEER.
    uint8_t full[FRONT_ROUTE_MAX];
    if (route_size == 0 || route_size + 2 > sizeof full) {
        self->counters.bad_frames++;
        return;
    }
    full[0] = ROUTE_PEER;
    full[1] = (uint8_t) from;
    memcpy (full + 2, route, route_size);
    if (!s_client_frame_ok (self, full, route_size + 2, frame, size, &envelope))
        return;
    zmq_msg_t msg;
    zmq_msg_init_size (&msg, size);
    memcpy (zmq_msg_data (&msg), frame, size);
    //  The payload read in msg, which a stamp replaces.
    envelope.payload = (const uint8_t *) zmq_msg_data (&msg) + (envelope.payload - frame);
    if (front_keys_admit_call (self, full, route_size + 2, &msg, &envelope, key, from))
        s_route_client (self, full, route_size + 2, &envelope, &msg);
    zmq_msg_close (&msg);
}

void front_run (front_t *self)
{
    zmq_pollitem_t items[FRONT_POLL_MAX];
    items[0] = (zmq_pollitem_t){zsock_resolve (self->router), 0, ZMQ_POLLIN, 0};
    items[1] = (zmq_pollitem_t){zsock_resolve (self->replies), 0, ZMQ_POLLIN, 0};
    //  The journal's syncer: readable after each sync (-1: none, never).
    int sync_fd = journal_sync_fd (self->config.config->journal);
    items[2] = (zmq_pollitem_t){NULL, sync_fd, sync_fd >= 0 ? ZMQ_POLLIN : 0, 0};
    //  LevelDB's compaction thread, once it has started, gets a name of
    //  its own (threadname.h), looked for every second: a dozen small
    //  reads of /proc. Not only until a first find: a library's thread
    //  may carry its starter's name for a moment before naming itself.
    int64_t strays_at = 0;
    while (!zsys_interrupted) {
        if (zclock_mono () >= strays_at) {
            thread_name_strays ("shoal", "shoal-leveldb");
            strays_at = zclock_mono () + 1000;
        }
        //  The peers' items each time: a link made again has new sockets.
        int count = 3;
        if (self->config.peers)
            count += peers_poll_items (self->config.peers, items + 3, FRONT_POLL_MAX - 3);
        long timeout = self->config.peers ? PEERS_HEARTBEAT_IVL_MS / 2 : 500;
        if (front_replies_holding (self->client_replies))
            timeout = FRONT_OVERFLOW_TICK_MS;
        int rc = zmq_poll (items, count, timeout);
        if (rc == -1) {
            if (zmq_errno () == EINTR)
                continue;
            break;
        }
        if (items[2].revents & ZMQ_POLLIN) {
            uint64_t syncs;
            ssize_t got = read (sync_fd, &syncs, sizeof syncs);
            (void) got; //  cleared; what is durable is journal_synced
        }
        //  Replies first, so a busy client cannot starve them.
        s_release_held (self);
        for (int n = 0; n < 4096 && (items[1].revents & ZMQ_POLLIN); n++)
            if (!s_recv_worker (self))
                break;
        s_release_held (self);
        if (self->config.peers) {
            peers_process (self->config.peers, items + 3, s_on_peer, self);
            front_calls_links (self);
        }
        //  Clients for a slice of time at most: a client that sends queries
        //  the front answers itself (stats reads /proc, dead_letters waits
        //  for a sync) by the thousand held every other client's replies
        //  back for a second.
        int64_t slice_end = zclock_usecs () + FRONT_CLIENT_SLICE_US;
        for (int n = 0; n < 4096 && (items[0].revents & ZMQ_POLLIN); n++)
            if (!s_recv_client (self) || zclock_usecs () >= slice_end)
                break;
        front_replies_tick (self->client_replies);
        if (zlistx_size (self->gathers))
            front_gather_expire (self);
        s_log_bad_frames (self);
    }
}
