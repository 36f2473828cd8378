/*  front.c - the node's front: client endpoint, peer links, routing. See
    front.h. Runs on the node's main thread.
*/
#include "front.h"
#include "metrics.h"
#include "auth.h"
#include "data.h"
#include "envelope.h"
#include "log.h"
#include "repair.h"
#include "shard.h"
#include "shoal_stats.h"
#include "deadletter.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FRONT_QUEUE_MAX 50000         //  client messages queued for one worker at most
#define FRONT_QUEUE_BYTES (64u << 20) //  and their bytes at most
#define FRONT_ROUTE_MAX 260           //  a route's bytes at most (2 + a ROUTER id)
#define FRONT_POLL_MAX (2 + 1 + 2 * 64)
#define FRONT_GATHER_MS 5000  //  a node-wide query waits this long for its workers at most
#define FRONT_CLIENT_HWM 1000 //  replies ZeroMQ queues for one client at most
#define FRONT_OVERFLOW_BYTES (8u << 20) //  past it, replies of all clients held by the front
#define FRONT_OVERFLOW_MS 1000          //  a reply held this long is dropped
#define FRONT_OVERFLOW_TICK_MS 5        //  held replies are tried again this often

//  A reply the router could not take (its client's FRONT_CLIENT_HWM was
//  reached), held by the front for FRONT_OVERFLOW_MS at most.
typedef struct {
    uint8_t *id; //  the client's ROUTER id, then the frame, in one allocation
    size_t id_size;
    uint8_t *frame;
    size_t size;
    int64_t held_at; //  monotonic ms
} held_t;

//  A node-wide query waiting for its workers' parts (ROUTE_GATHER).
typedef struct {
    uint32_t id;                    //  in the workers' route
    const char *key;                //  the rows' key: "pending" or "busiest" (static)
    uint8_t route[FRONT_ROUTE_MAX]; //  the client's
    size_t route_size;
    envelope_t request;    //  its id, to and name (payload NULL)
    int waiting;           //  workers yet to answer
    int64_t deadline;      //  monotonic ms
    int64_t limit;         //  rows at most
    msgpack_sbuffer rows;  //  the rows so far, packed one after another
    msgpack_packer pk;     //  into rows
    size_t count;          //  rows in rows
    int64_t truncated;     //  rows left out
    int64_t stall_ms, now; //  as the workers said
} gather_t;

struct _front_t {
    front_config_t config;
    char *endpoint;            //  bound, owned
    zsock_t *router;           //  clients
    zsock_t *replies;          //  PULL from workers
    zsock_t **push;            //  PUSH to each worker
    front_counters_t counters; //  atomic: the metrics scrape reads them
    int64_t started;           //  wall clock ms
    int64_t bad_logged_at;     //  when a burst of bad frames was last logged (mono ms)
    uint64_t bad_logged;       //  bad_frames as of that line
    zlistx_t *gathers;         //  gather_t waiting for their workers
    uint32_t next_gather;      //  the last gather's id
    zlistx_t *held;            //  held_t: replies waiting for their client's room
    size_t held_bytes;         //  their bytes
};

//  Gives a reply to the router without waiting. Returns 0, or -1 with
//  errno EAGAIN when its client has FRONT_CLIENT_HWM replies unread
//  (EHOSTUNREACH: the client is gone).
static int s_router_try (front_t *self, const uint8_t *id, size_t id_size, const uint8_t *frame,
                         size_t size)
{
    void *router = zsock_resolve (self->router);
    if (zmq_send (router, id, id_size, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
        return -1;
    zmq_send (router, frame, size, ZMQ_DONTWAIT); //  a message's next part always goes
    return 0;
}

//  Sends a reply to the client of ROUTER id (borrowed). When the client
//  has FRONT_CLIENT_HWM replies unread, the reply is held (s_held_retry
//  tries it again) while all the held replies stay under
//  FRONT_OVERFLOW_BYTES; past that it is dropped and counted (unread): a
//  re-send with the same id gets the stored reply. A client that is gone
//  is skipped.
static void s_router_send (front_t *self, const uint8_t *id, size_t id_size, const uint8_t *frame,
                           size_t size)
{
    if (s_router_try (self, id, id_size, frame, size) == 0 || zmq_errno () != EAGAIN)
        return;
    held_t *held = NULL;
    if (self->held_bytes + size + id_size <= FRONT_OVERFLOW_BYTES)
        held = malloc (sizeof (held_t));
    if (held && (held->id = malloc (id_size + size))) {
        held->id_size = id_size;
        held->frame = held->id + id_size;
        held->size = size;
        memcpy (held->id, id, id_size);
        memcpy (held->frame, frame, size);
        held->held_at = zclock_mono ();
        zlistx_add_end (self->held, held);
        self->held_bytes += id_size + size;
        return;
    }
    free (held);
    self->counters.unread++;
}

static void s_held_destroy (void **item)
{
    held_t *held = (held_t *) *item;
    if (held) {
        free (held->id);
        free (held);
        *item = NULL;
    }
}

//  Tries the held replies again, in order; drops those of clients that
//  are gone, and those held past FRONT_OVERFLOW_MS (counted unread).
static void s_held_retry (front_t *self)
{
    int64_t now = zclock_mono ();
    held_t *held = zlistx_first (self->held);
    while (held) {
        void *handle = zlistx_cursor (self->held);
        bool done = s_router_try (self, held->id, held->id_size, held->frame, held->size) == 0 ||
                    zmq_errno () == EHOSTUNREACH;
        if (!done && now - held->held_at > FRONT_OVERFLOW_MS) {
            self->counters.unread++;
            done = true;
        }
        if (done)
            self->held_bytes -= held->id_size + held->size;
        held = zlistx_next (self->held);
        if (done)
            zlistx_delete (self->held, handle);
    }
}

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

front_t *front_new (const front_config_t *config, char **error)
{
    front_t *self = calloc (1, sizeof (front_t));
    int workers = config->config->workers;
    if (self) {
        self->config = *config;
        self->started = zclock_time ();
        self->push = calloc ((size_t) workers, sizeof (zsock_t *));
        self->gathers = zlistx_new ();
        self->held = zlistx_new ();
        if (self->held)
            zlistx_set_destructor (self->held, s_held_destroy);
        self->replies = s_socket (ZMQ_PULL, 0);
        self->router = s_socket (ZMQ_ROUTER, 100000);
        if (self->router) {
            //  Replies a client does not read: FRONT_CLIENT_HWM at most,
            //  then each is dropped, counted, and not waited for.
            zsock_set_sndhwm (self->router, FRONT_CLIENT_HWM);
            zsock_set_router_mandatory (self->router, 1);
        }
    }
    if (!self || !self->push || !self->replies || !self->router || !self->gathers || !self->held) {
        *error = strdup ("out of memory");
        front_destroy (&self);
        return NULL;
    }
    //  A frame a little too big gets a bad_frame reply; a far bigger one is
    //  not even read: ZeroMQ drops the connection that sends it.
    zsock_set_maxmsgsize (self->router, 4 * ENVELOPE_MAX_SIZE);
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
        *error =
            zsys_sprintf ("cannot listen on %s: %s", config->endpoint, zmq_strerror (zmq_errno ()));
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
    zlistx_destroy (&self->held);
    zsock_destroy (&self->router);
    zsock_destroy (&self->replies);
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
        s_router_send (self, route + 1, route_size - 1, frame, size);
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
static void s_reply (front_t *self, const uint8_t *route, size_t route_size,
                     const envelope_t *request, const uint8_t *payload, size_t size)
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

static void s_reject (front_t *self, const uint8_t *route, size_t route_size,
                      const envelope_t *request, const char *code, const char *reason)
{
    uint8_t *payload;
    size_t size;
    if (envelope_reply_encode (false, code, reason, NULL, 0, &payload, &size) == 0) {
        s_reply (self, route, route_size, request, payload, size);
        free (payload);
    }
}

//  Checks a client's frame, as it came from a client or a peer's CALL.
//  Returns true if it may be routed; else it was answered and counted.
static bool s_client_frame_ok (front_t *self, const uint8_t *route, size_t route_size,
                               const uint8_t *frame, size_t size, envelope_t *envelope)
{
    char detail[ENVELOPE_REASON_MAX + 1];
    int rc = envelope_decode_detail (envelope, frame, size, detail, sizeof detail);
    if (rc != 0) {
        self->counters.bad_frames++;
        s_reject (self, route, route_size, NULL, "bad_frame",
                  detail[0] ? detail : shoal_strerror (rc));
        return false;
    }
    if (envelope->kind != ENVELOPE_COMMAND && envelope->kind != ENVELOPE_QUERY) {
        self->counters.bad_frames++;
        s_reject (self, route, route_size, envelope, "bad_kind",
                  "clients send commands and queries");
        return false;
    }
    //  A handler may trust shoal_msg_from: a client cannot speak for an actor.
    if (envelope->from[0]) {
        self->counters.bad_frames++;
        s_reject (self, route, route_size, envelope, "bad_from",
                  "a client's message must have an empty from");
        return false;
    }
    return true;
}

//  Queues a client's frame for the worker that owns its receiver, or
//  answers busy. The queue is bounded in messages (the socket's HWM) and
//  in bytes.
static void s_to_worker (front_t *self, const uint8_t *route, size_t route_size,
                         const envelope_t *envelope, zmq_msg_t *frame)
{
    int index = worker_of (self->config.config, envelope->to);
    size_t size = zmq_msg_size (frame);
    worker_stats_t *stats = &self->config.config->stats[index];
    void *worker = zsock_resolve (self->push[index]);
    if (stats->queued_bytes + size > FRONT_QUEUE_BYTES ||
        zmq_send (worker, route, route_size, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1) {
        self->counters.busy++;
        s_reject (self, route, route_size, envelope, "busy", "the node is overloaded; retry later");
        return;
    }
    stats->queued_bytes += size;
    zmq_msg_send (frame, worker, 0); //  moves the buffer, no copy
}

//  --------------------------------------------------------------------------
//  Node-wide queries: one question to every worker, one merged answer

static void s_pack_str (msgpack_packer *pk, const char *text);

//  Answers gather's client with the rows gathered, and frees it.
static void s_gather_finish (front_t *self, gather_t *gather)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    const cluster_t *cluster = self->config.cluster;
    bool pending = streq (gather->key, "pending");
    msgpack_pack_map (&pk, pending ? 7 : 6);
    s_pack_str (&pk, "node");
    s_pack_str (&pk, cluster ? cluster_node_name (cluster, self->config.self_node) : "");
    s_pack_str (&pk, gather->key);
    msgpack_pack_array (&pk, gather->count);
    msgpack_sbuffer_write (&buffer, gather->rows.data, gather->rows.size);
    s_pack_str (&pk, "truncated");
    msgpack_pack_int64 (&pk, gather->truncated);
    if (pending) {
        s_pack_str (&pk, "stall_ms");
        msgpack_pack_int64 (&pk, gather->stall_ms);
    }
    s_pack_str (&pk, "now");
    msgpack_pack_int64 (&pk, gather->now ? gather->now : zclock_time ());
    s_pack_str (&pk, "workers");
    msgpack_pack_int (&pk, self->config.config->workers);
    s_pack_str (&pk, "missing");
    msgpack_pack_int (&pk, gather->waiting);
    uint8_t *payload;
    size_t size;
    if (envelope_reply_encode (true, NULL, NULL, (const uint8_t *) buffer.data, buffer.size,
                               &payload, &size) == 0) {
        s_reply (self, gather->route, gather->route_size, &gather->request, payload, size);
        free (payload);
    }
    msgpack_sbuffer_destroy (&buffer);
    msgpack_sbuffer_destroy (&gather->rows);
    free (gather);
}

//  Sends a node-wide query (frame) to every worker, and remembers whom to
//  answer when their parts are in.
static void s_gather_start (front_t *self, const uint8_t *route, size_t route_size,
                            const envelope_t *envelope, zmq_msg_t *frame)
{
    gather_t *gather = calloc (1, sizeof (gather_t));
    if (!gather) {
        s_reject (self, route, route_size, envelope, "unavailable", "out of memory");
        return;
    }
    gather->id = ++self->next_gather;
    gather->key = streq (envelope->name, "busiest") ? "busiest" : "pending";
    memcpy (gather->route, route, route_size);
    gather->route_size = route_size;
    gather->request = *envelope;
    gather->request.payload = NULL;
    gather->request.payload_size = 0;
    gather->deadline = zclock_mono () + FRONT_GATHER_MS;
    gather->limit = REPAIR_ROWS_MAX;
    shoal_data_t args;
    if (data_init (&args, envelope->payload, envelope->payload_size) == 0)
        shoal_data_int (&args, "limit", &gather->limit);
    data_close (&args);
    if (gather->limit < 0 || gather->limit > REPAIR_ROWS_MAX)
        gather->limit = REPAIR_ROWS_MAX;
    msgpack_sbuffer_init (&gather->rows);
    msgpack_packer_init (&gather->pk, &gather->rows, msgpack_sbuffer_write);
    uint8_t part_route[5] = {ROUTE_GATHER};
    memcpy (part_route + 1, &gather->id, 4);
    size_t size = zmq_msg_size (frame);
    for (int w = 0; w < self->config.config->workers; w++) {
        void *worker = zsock_resolve (self->push[w]);
        if (zmq_send (worker, part_route, sizeof part_route, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
            continue; //  full: counted as missing
        self->config.config->stats[w].queued_bytes += size;
        zmq_send (worker, zmq_msg_data (frame), size, 0);
        gather->waiting++;
    }
    void *handle = zlistx_add_end (self->gathers, gather);
    if (gather->waiting == 0) {
        zlistx_delete (self->gathers, handle);
        s_gather_finish (self, gather);
    }
}

//  A worker's part of a gather: its rows join the others'.
static void s_gather_part (front_t *self, const uint8_t *route, size_t route_size,
                           const uint8_t *frame, size_t size)
{
    uint32_t id;
    memcpy (&id, route + 1, 4);
    gather_t *gather = zlistx_first (self->gathers);
    while (gather && gather->id != id)
        gather = zlistx_next (self->gathers);
    if (!gather)
        return; //  answered already, at its deadline
    void *cursor = zlistx_cursor (self->gathers);
    envelope_t reply;
    bool ok;
    char code[ENVELOPE_CODE_MAX + 1], reason[ENVELOPE_REASON_MAX + 1];
    const uint8_t *data;
    size_t data_size;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    if (envelope_decode (&reply, frame, size) == 0 &&
        envelope_reply_decode (reply.payload, reply.payload_size, &ok, code, reason, &data,
                               &data_size) == 0 &&
        ok &&
        msgpack_unpack_next (&unpacked, (const char *) data, data_size, NULL) ==
            MSGPACK_UNPACK_SUCCESS &&
        unpacked.data.type == MSGPACK_OBJECT_MAP) {
        const msgpack_object_map *map = &unpacked.data.via.map;
        for (uint32_t i = 0; i < map->size; i++) {
            const msgpack_object *key = &map->ptr[i].key, *value = &map->ptr[i].val;
            if (key->type != MSGPACK_OBJECT_STR)
                continue;
            const char *name = key->via.str.ptr;
            size_t length = key->via.str.size;
            bool integer = value->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
            if (length == strlen (gather->key) && memcmp (name, gather->key, length) == 0 &&
                value->type == MSGPACK_OBJECT_ARRAY)
                for (uint32_t r = 0; r < value->via.array.size; r++) {
                    if ((int64_t) gather->count < gather->limit) {
                        msgpack_pack_object (&gather->pk, value->via.array.ptr[r]);
                        gather->count++;
                    } else
                        gather->truncated++;
                }
            else if (integer && length == 9 && memcmp (name, "truncated", 9) == 0)
                gather->truncated += (int64_t) value->via.u64;
            else if (integer && length == 8 && memcmp (name, "stall_ms", 8) == 0)
                gather->stall_ms = (int64_t) value->via.u64;
            else if (integer && length == 3 && memcmp (name, "now", 3) == 0)
                gather->now = (int64_t) value->via.u64;
        }
    }
    msgpack_unpacked_destroy (&unpacked);
    if (--gather->waiting == 0) {
        zlistx_delete (self->gathers, cursor);
        s_gather_finish (self, gather);
    }
}

//  Answers the gathers whose workers are late with what came.
static void s_gather_expire (front_t *self)
{
    int64_t now = zclock_mono ();
    gather_t *gather = zlistx_first (self->gathers);
    while (gather) {
        if (gather->deadline <= now) {
            zlistx_delete (self->gathers, zlistx_cursor (self->gathers));
            s_gather_finish (self, gather);
            gather = zlistx_first (self->gathers); //  the list changed: start over
        } else
            gather = zlistx_next (self->gathers);
    }
}

//  True if envelope is a node-wide query: "pending" or "busiest" to
//  node/...
static bool s_node_wide (const envelope_t *envelope)
{
    return envelope->kind == ENVELOPE_QUERY &&
           (streq (envelope->name, "pending") || streq (envelope->name, "busiest")) &&
           strncmp (envelope->to, "node/", 5) == 0;
}

//  Routes a checked client message: here, to its owner, or `unavailable`.
static void s_route_client (front_t *self, const uint8_t *route, size_t route_size,
                            const envelope_t *envelope, zmq_msg_t *frame)
{
    if (s_node_wide (envelope)) { //  this node's, whoever owns the address
        s_gather_start (self, route, route_size, envelope, frame);
        return;
    }
    int owner = s_owner (self, envelope->to);
    if (owner == self->config.self_node) {
        s_to_worker (self, route, route_size, envelope, frame);
        return;
    }
    //  Forwarded as a CALL; only a client of ours is forwarded (a CALL that
    //  came from a peer for a shard not ours means the maps differ, which
    //  the HELLO rules out: it is refused below, never forwarded twice).
    if (route[0] == ROUTE_CLIENT && owner >= 0 &&
        peers_send (self->config.peers, owner, PEERS_CALL, route + 1, route_size - 1,
                    zmq_msg_data (frame), zmq_msg_size (frame)) == 0) {
        self->counters.forwarded++;
        return;
    }
    self->counters.unavailable++;
    char reason[2 * SHOAL_ADDRESS_MAX + CLUSTER_ENDPOINT_MAX + 128];
    if (owner < 0 || route[0] != ROUTE_CLIENT)
        snprintf (reason, sizeof reason, "no node owns %s", envelope->to);
    else
        snprintf (reason, sizeof reason,
                  "node %s (%s), which owns %s, is down or cut off from this node; retry later",
                  cluster_node_name (self->config.cluster, owner),
                  cluster_node_client (self->config.cluster, owner), envelope->to);
    reason[ENVELOPE_REASON_MAX] = 0; //  a reason is at most that long
    s_reject (self, route, route_size, envelope, "unavailable", reason);
}

static void s_pack_str (msgpack_packer *pk, const char *text)
{
    msgpack_pack_str_with_body (pk, text, strlen (text));
}

//  "commit_latency": {le_ns: the buckets' upper bounds but +Inf's, counts:
//  each bucket's commits (not cumulative), summed over the workers}, so a
//  watcher takes a quantile of an interval from two readings.
static void s_pack_commit_latency (msgpack_packer *pk, const worker_config_t *config)
{
    const uint64_t *bounds = histogram_bounds (HISTOGRAM_SECONDS);
    s_pack_str (pk, "commit_latency");
    msgpack_pack_map (pk, 2);
    s_pack_str (pk, "le_ns");
    msgpack_pack_array (pk, HISTOGRAM_BUCKETS - 1);
    for (int b = 0; b < HISTOGRAM_BUCKETS - 1; b++)
        msgpack_pack_uint64 (pk, bounds[b]);
    s_pack_str (pk, "counts");
    msgpack_pack_array (pk, HISTOGRAM_BUCKETS);
    for (int b = 0; b < HISTOGRAM_BUCKETS; b++) {
        uint64_t count = 0;
        for (int w = 0; w < config->workers; w++)
            count += atomic_load_explicit (&config->stats[w].commit_seconds.buckets[b],
                                           memory_order_relaxed);
        msgpack_pack_uint64 (pk, count);
    }
}

//  The "stats" query: the workers' counters summed, the node's own, and,
//  in a cluster, who this node is and which links are up.
static void s_stats (front_t *self, const uint8_t *route, size_t route_size,
                     const envelope_t *request)
{
    const worker_config_t *config = self->config.config;
    struct {
#define FRONT_COUNTER_FIELD(name, description) uint64_t name;
        SHOAL_COUNTERS (FRONT_COUNTER_FIELD)
#undef FRONT_COUNTER_FIELD
    } sum = {0};
    for (int w = 0; w < config->workers; w++) {
#define FRONT_COUNTER_ADD(name, description) sum.name += atomic_load (&config->stats[w].name);
        SHOAL_COUNTERS (FRONT_COUNTER_ADD)
#undef FRONT_COUNTER_ADD
    }
    struct {
#define FRONT_COUNTER_FIELD(name, description) int64_t name;
        SHOAL_NODE_COUNTERS (FRONT_COUNTER_FIELD)
#undef FRONT_COUNTER_FIELD
    } node = {.bad_frames = (int64_t) self->counters.bad_frames,
              .busy = (int64_t) self->counters.busy,
              .workers = config->workers,
              .shards = config->shards,
              .peak_rss_kb = metrics_peak_rss_kb (),
              .forwarded = (int64_t) self->counters.forwarded,
              .unavailable = (int64_t) self->counters.unavailable,
              .dropped = (int64_t) self->counters.dropped,
              .unread = (int64_t) self->counters.unread,
              .refused = self->config.refused ? (int64_t) atomic_load (self->config.refused) : 0,
              .uptime_ms = zclock_time () - self->started};
    const cluster_t *cluster = self->config.cluster;
#define FRONT_COUNTER_PLUS_ONE(name, description) +1
    size_t fields =
        0 SHOAL_COUNTERS (FRONT_COUNTER_PLUS_ONE) SHOAL_NODE_COUNTERS (FRONT_COUNTER_PLUS_ONE);
#undef FRONT_COUNTER_PLUS_ONE
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, fields + 1 + (cluster ? 7 : 0));
#define FRONT_COUNTER_PACK(name, description)                                                      \
    msgpack_pack_str_with_body (&pk, #name, sizeof #name - 1);                                     \
    msgpack_pack_uint64 (&pk, sum.name);
    SHOAL_COUNTERS (FRONT_COUNTER_PACK)
#undef FRONT_COUNTER_PACK
    //  Signed: msgpack packs a non-negative value the same either way.
#define FRONT_COUNTER_PACK(name, description)                                                      \
    msgpack_pack_str_with_body (&pk, #name, sizeof #name - 1);                                     \
    msgpack_pack_int64 (&pk, node.name);
    SHOAL_NODE_COUNTERS (FRONT_COUNTER_PACK)
#undef FRONT_COUNTER_PACK
    s_pack_commit_latency (&pk, config);
    if (cluster) {
        int me = self->config.self_node, count = cluster_node_count (cluster), up = 0;
        s_pack_str (&pk, "node");
        s_pack_str (&pk, cluster_node_name (cluster, me));
        s_pack_str (&pk, "cluster");
        s_pack_str (&pk, cluster_name (cluster));
        s_pack_str (&pk, "epoch");
        msgpack_pack_int64 (&pk, cluster_epoch (cluster));
        s_pack_str (&pk, "digest");
        s_pack_str (&pk, cluster_digest (cluster));
        s_pack_str (&pk, "shards_owned");
        msgpack_pack_uint32 (&pk, cluster_node_shard_count (cluster, me));
        s_pack_str (&pk, "peers");
        msgpack_pack_map (&pk, (size_t) (count - 1));
        for (int i = 0; i < count; i++)
            if (i != me) {
                bool link = peers_up (self->config.peers, i);
                up += link;
                s_pack_str (&pk, cluster_node_name (cluster, i));
                link ? msgpack_pack_true (&pk) : msgpack_pack_false (&pk);
            }
        s_pack_str (&pk, "peers_up");
        msgpack_pack_int (&pk, up);
    }
    uint8_t *payload;
    size_t size;
    if (envelope_reply_encode (true, NULL, NULL, (const uint8_t *) buffer.data, buffer.size,
                               &payload, &size) == 0) {
        s_reply (self, route, route_size, request, payload, size);
        free (payload);
    }
    msgpack_sbuffer_destroy (&buffer);
}

//  The "dead_letters" query: this node's dead letters (deadletter.h).
static void s_dead_letters (front_t *self, const uint8_t *route, size_t route_size,
                            const envelope_t *request)
{
    uint8_t *payload;
    size_t size;
    int rc = deadletter_list (self->config.config->journal, request, &payload, &size);
    if (rc == 0) {
        s_reply (self, route, route_size, request, payload, size);
        free (payload);
    } else
        s_reject (self, route, route_size, request, "unavailable", shoal_strerror (rc));
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
        s_reject (self, route, route_size, NULL, "bad_frame", "expected one frame per message");
        return;
    }
    envelope_t envelope;
    if (!s_client_frame_ok (self, route, route_size, zmq_msg_data (frame), zmq_msg_size (frame),
                            &envelope))
        return;
    if (envelope.kind == ENVELOPE_QUERY && streq (envelope.name, "stats")) {
        s_stats (self, route, route_size, &envelope);
        return;
    }
    if (envelope.kind == ENVELOPE_QUERY && streq (envelope.name, "dead_letters")) {
        s_dead_letters (self, route, route_size, &envelope);
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

//  What the workers pushed: [route, frame]. Returns false when nothing
//  was waiting.
static bool s_recv_worker (front_t *self)
{
    void *replies = zsock_resolve (self->replies);
    zmq_msg_t route, frame;
    zmq_msg_init (&route);
    zmq_msg_init (&frame);
    bool got = zmq_msg_recv (&route, replies, ZMQ_DONTWAIT) != -1;
    if (got && zmq_msg_more (&route) && zmq_msg_recv (&frame, replies, 0) != -1) {
        const uint8_t *r = zmq_msg_data (&route);
        size_t r_size = zmq_msg_size (&route);
        if (r_size == 1 && r[0] == ROUTE_REMOTE)
            s_to_remote (self, zmq_msg_data (&frame), zmq_msg_size (&frame));
        else if (r_size == 5 && r[0] == ROUTE_GATHER)
            s_gather_part (self, r, r_size, zmq_msg_data (&frame), zmq_msg_size (&frame));
        else if (!s_to_client (self, r, r_size, zmq_msg_data (&frame), zmq_msg_size (&frame)))
            self->counters.bad_frames++;
    }
    zmq_msg_close (&route);
    zmq_msg_close (&frame);
    return got;
}

//  A frame a welcomed peer sent (peers_deliver_fn).
static void s_on_peer (void *arg, peers_kind_t kind, int from, const uint8_t *route,
                       size_t route_size, const uint8_t *frame, size_t size)
{
    front_t *self = arg;
    if (kind == PEERS_ANSWER) {
        //  The reply to a CALL we forwarded: route is our client's id.
        s_router_send (self, route, route_size, frame, size);
        return;
    }
    envelope_t envelope;
    if (kind == PEERS_MSG) {
        //  An actor's message: to its worker with an empty route, if ours.
        if (envelope_decode (&envelope, frame, size) != 0 || envelope.kind == ENVELOPE_QUERY ||
            !envelope.from[0] || s_owner (self, envelope.to) != self->config.self_node) {
            self->counters.bad_frames++;
            return;
        }
        void *worker = zsock_resolve (self->push[worker_of (self->config.config, envelope.to)]);
        if (zmq_send (worker, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
            self->counters.dropped++; //  full: the sender's outbox re-sends
        else
            zmq_send (worker, frame, size, 0);
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
    s_route_client (self, full, route_size + 2, &envelope, &msg);
    zmq_msg_close (&msg);
}

void front_run (front_t *self)
{
    zmq_pollitem_t items[FRONT_POLL_MAX];
    items[0] = (zmq_pollitem_t){zsock_resolve (self->router), 0, ZMQ_POLLIN, 0};
    items[1] = (zmq_pollitem_t){zsock_resolve (self->replies), 0, ZMQ_POLLIN, 0};
    int count = 2;
    if (self->config.peers)
        count += peers_poll_items (self->config.peers, items + 2, FRONT_POLL_MAX - 2);
    while (!zsys_interrupted) {
        long timeout = self->config.peers ? PEERS_HEARTBEAT_IVL_MS / 2 : 500;
        if (zlistx_size (self->held))
            timeout = FRONT_OVERFLOW_TICK_MS;
        int rc = zmq_poll (items, count, timeout);
        if (rc == -1) {
            if (zmq_errno () == EINTR)
                continue;
            break;
        }
        //  Replies first, so a busy client cannot starve them.
        for (int n = 0; n < 4096 && (items[1].revents & ZMQ_POLLIN); n++)
            if (!s_recv_worker (self))
                break;
        if (self->config.peers)
            peers_process (self->config.peers, items + 2, s_on_peer, self);
        for (int n = 0; n < 4096 && (items[0].revents & ZMQ_POLLIN); n++)
            if (!s_recv_client (self))
                break;
        if (zlistx_size (self->held))
            s_held_retry (self);
        if (zlistx_size (self->gathers))
            s_gather_expire (self);
        s_log_bad_frames (self);
    }
}
