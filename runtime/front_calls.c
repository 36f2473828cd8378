/*  front_calls.c - the CALLs the front forwarded to each peer, counted by
    client: an ANSWER is taken only for a client of ours with a CALL out
    to the peer that answers, and counts one off. A peer (or whoever holds
    its key and listens at its endpoint) answers the clients that asked
    it, never any client of ours by a routing id it guessed.

    A client whose CALLs to a peer went unanswered (a link that dropped
    them) is forgotten FRONT_CALLS_TTL_MS after its last one, once the
    peer has been heard from since: an answer later than that is refused,
    and the client, which had no answer, re-sends under the same id. All
    the CALLs out to a peer whose link goes down are forgotten at once:
    they went with it. Runs on the front's thread.

    The bytes of the CALLs out to each peer are counted too, so that the
    front holds at most FRONT_PEER_BYTES for a peer that takes them and
    does not answer (stopped with its link still up: ZeroMQ's heartbeat
    cannot get past a full socket): ZeroMQ bounds a link's queue in
    messages only, 100,000 of up to 1 MiB. An answer takes its client's
    mean CALL off (exact once all its CALLs are answered), and a client
    forgotten what it had out. A peer that is never heard from keeps
    them counted until its link goes down, however long.

    A peer whose links work both ways again (PEERS_REACHED) is told to
    every worker (WORKER_ROUTE_REACHED), whose commands to its actors are
    then sent again within a second (outbox_on_reached); a worker whose queue is
    full is told at a later turn of the loop.
*/
#include "front_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint32_t out;    //  CALLs forwarded, not yet answered
    int node;        //  ... to this peer
    uint64_t bytes;  //  ... of these bytes in all
    int64_t sent_at; //  the last one's time (monotonic ms)
} call_t;

struct _front_calls_t {
    zhashx_t *clients;                      //  hex of [peer, ROUTER id] -> call_t, owned
    int64_t swept_at;                       //  the last sweep (monotonic ms)
    uint64_t bytes[CLUSTER_MAX_NODES];      //  bytes of the CALLs out, by peer
    bool down[CLUSTER_MAX_NODES];           //  the link to that peer was down at the last look
    int64_t answered_at[CLUSTER_MAX_NODES]; //  its last ANSWER (on our link), monotonic ms
    uint64_t *owed; //  by worker: the nodes reached that it has not been told of (bits)
    int workers;    //  of owed
    bool owing;     //  some bit of owed is set
};

//  Takes bytes off total, down to 0 at most (never below: a guard, as each
//  client's bytes are in its peer's total).
static void s_less (uint64_t *total, uint64_t bytes)
{
    *total = *total > bytes ? *total - bytes : 0;
}

static void s_call_destroy (void **item)
{
    free (*item);
    *item = NULL;
}

front_calls_t *front_calls_new (int workers)
{
    front_calls_t *self = calloc (1, sizeof (front_calls_t));
    if (self && (!(self->clients = zhashx_new ()) ||
                 !(self->owed = calloc ((size_t) workers, sizeof (uint64_t))))) {
        zhashx_destroy (&self->clients);
        free (self);
        return NULL;
    }
    if (self)
        self->workers = workers;
    if (self)
        zhashx_set_destructor (self->clients, s_call_destroy);
    return self;
}

void front_calls_destroy (front_calls_t **self_p)
{
    front_calls_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->clients);
    free (self->owed);
    free (self);
    *self_p = NULL;
}

//  Writes node and id as hex into key (2 * (1 + FRONT_ROUTE_MAX) + 1 bytes):
//  ROUTER ids are bytes, zhashx keys strings.
static void s_key (char *key, int node, const uint8_t *id, size_t id_size)
{
    static const char digits[] = "0123456789abcdef";
    uint8_t first = (uint8_t) node;
    for (size_t i = 0; i <= id_size; i++) {
        uint8_t byte = i ? id[i - 1] : first;
        key[2 * i] = digits[byte >> 4];
        key[2 * i + 1] = digits[byte & 15];
    }
    key[2 * (id_size + 1)] = 0;
}

//  Forgets the clients that keep (a copy of) their key in gone, and takes
//  their bytes off their peers'.
static void s_forget (front_calls_t *self, zlistx_t *gone)
{
    for (char *key = zlistx_first (gone); key; key = zlistx_next (gone)) {
        call_t *call = zhashx_lookup (self->clients, key);
        if (call)
            s_less (&self->bytes[call->node], call->bytes);
        zhashx_delete (self->clients, key);
    }
}

//  A list that copies the keys it is given (a delete would break a walk
//  of the table), or NULL.
static zlistx_t *s_keys (void)
{
    zlistx_t *keys = zlistx_new ();
    if (keys) {
        zlistx_set_duplicator (keys, (zlistx_duplicator_fn *) strdup);
        zlistx_set_destructor (keys, (zlistx_destructor_fn *) zstr_free);
    }
    return keys;
}

void front_calls_sweep (front_calls_t *self, int64_t now, const int64_t *silent_ms, int nodes)
{
    if (now - self->swept_at < FRONT_CALLS_SWEEP_MS)
        return;
    self->swept_at = now;
    zlistx_t *gone = s_keys ();
    for (call_t *call = gone ? zhashx_first (self->clients) : NULL; call;
         call = zhashx_next (self->clients)) {
        //  Its peer heard from since its last CALL: an ANSWER on our link
        //  (what was queued before it went through), or its own link's
        //  frames (it runs). What is not answered then was lost.
        bool heard = self->answered_at[call->node] > call->sent_at ||
                     (call->node < nodes && silent_ms[call->node] < now - call->sent_at);
        if (now - call->sent_at >= FRONT_CALLS_TTL_MS && heard)
            zlistx_add_end (gone, (void *) zhashx_cursor (self->clients));
    }
    if (gone)
        s_forget (self, gone);
    zlistx_destroy (&gone);
}

void front_calls_lost (front_calls_t *self, int node)
{
    zlistx_t *gone = s_keys ();
    for (call_t *call = gone ? zhashx_first (self->clients) : NULL; call;
         call = zhashx_next (self->clients))
        if (call->node == node)
            zlistx_add_end (gone, (void *) zhashx_cursor (self->clients));
    if (gone) //  out of memory: kept, and forgotten by a sweep once its peer is heard
        s_forget (self, gone);
    zlistx_destroy (&gone);
    //  A word that it was reached, not yet told: it is not any more.
    for (int w = 0; node >= 0 && node < CLUSTER_MAX_NODES && w < self->workers; w++)
        self->owed[w] &= ~(1ull << node);
}

void front_calls_sent (front_calls_t *self, int node, const uint8_t *id, size_t id_size,
                       size_t size, int64_t now)
{
    if (id_size + 1 > FRONT_ROUTE_MAX || node < 0 || node >= CLUSTER_MAX_NODES)
        return;
    char key[2 * (FRONT_ROUTE_MAX + 1) + 1];
    s_key (key, node, id, id_size);
    call_t *call = zhashx_lookup (self->clients, key);
    if (!call) {
        call = calloc (1, sizeof (call_t));
        if (!call || zhashx_insert (self->clients, key, call) != 0) {
            free (call); //  its answer is refused; the client re-sends
            return;
        }
        call->node = node;
    }
    call->out++;
    call->bytes += size;
    self->bytes[node] += size;
    call->sent_at = now;
}

//  Tells each worker of the nodes reached it has not been told of:
//  [WORKER_ROUTE_REACHED, node as a byte]. One whose queue is full is
//  told at a later turn.
static void s_tell_reached (front_t *self)
{
    front_calls_t *calls = self->calls;
    calls->owing = false;
    for (int w = 0; w < calls->workers; w++)
        while (calls->owed[w]) {
            uint8_t node = (uint8_t) __builtin_ctzll (calls->owed[w]);
            static const uint8_t route = WORKER_ROUTE_REACHED;
            void *worker = zsock_resolve (self->push[w]);
            if (zmq_send (worker, &route, 1, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1 ||
                zmq_send (worker, &node, 1, 0) == -1) {
                calls->owing = true;
                break;
            }
            calls->owed[w] &= ~(1ull << node);
        }
}

void front_calls_reached (front_t *self, int node)
{
    front_calls_t *calls = self->calls;
    if (node < 0 || node >= CLUSTER_MAX_NODES)
        return;
    for (int w = 0; w < calls->workers; w++)
        calls->owed[w] |= 1ull << node;
    s_tell_reached (self);
}

void front_calls_links (front_t *self)
{
    front_calls_t *calls = self->calls;
    if (calls->owing)
        s_tell_reached (self);
    int nodes = cluster_node_count (self->config.cluster);
    nodes = nodes < CLUSTER_MAX_NODES ? nodes : CLUSTER_MAX_NODES;
    for (int node = 0; node < nodes; node++) {
        bool down = !peers_up (self->config.peers, node);
        if (down && !calls->down[node])
            front_calls_lost (calls, node);
        calls->down[node] = down;
    }
    //  The peers' silence read only when a sweep is due (once a second),
    //  not at every turn of the front's loop.
    int64_t now = zclock_mono ();
    if (now - calls->swept_at < FRONT_CALLS_SWEEP_MS)
        return;
    int64_t silent_ms[CLUSTER_MAX_NODES];
    for (int node = 0; node < nodes; node++)
        silent_ms[node] = peers_silent_ms (self->config.peers, node);
    front_calls_sweep (calls, now, silent_ms, nodes);
}

uint64_t front_calls_bytes (const front_calls_t *self, int node)
{
    return node >= 0 && node < CLUSTER_MAX_NODES ? self->bytes[node] : 0;
}

bool front_calls_forward (front_t *self, int owner, const uint8_t *route, size_t route_size,
                          const envelope_t *envelope, zmq_msg_t *frame)
{
    size_t size = zmq_msg_size (frame);
    if (owner < 0 || owner >= CLUSTER_MAX_NODES)
        return false;
    if (self->calls->bytes[owner] + size > FRONT_PEER_BYTES) {
        self->counters.busy++;
        char reason[CLUSTER_NAME_MAX + 160];
        snprintf (reason, sizeof reason,
                  "node %s, which owns the address, has not answered %u MiB of requests this "
                  "node forwarded; retry later",
                  cluster_node_name (self->config.cluster, owner), FRONT_PEER_BYTES >> 20);
        front_reject (self, route, route_size, envelope, "busy", reason);
        return true;
    }
    if (peers_call (self->config.peers, owner, route + 1, route_size - 1, zmq_msg_data (frame),
                    size, front_keys_key (self)) != 0)
        return false;
    self->counters.forwarded++;
    front_calls_sent (self->calls, owner, route + 1, route_size - 1, size, zclock_mono ());
    return true;
}

bool front_calls_answered (front_calls_t *self, int node, const uint8_t *id, size_t id_size,
                           int64_t now)
{
    if (id_size + 1 > FRONT_ROUTE_MAX || node < 0 || node >= CLUSTER_MAX_NODES)
        return false;
    char key[2 * (FRONT_ROUTE_MAX + 1) + 1];
    s_key (key, node, id, id_size);
    call_t *call = zhashx_lookup (self->clients, key);
    if (!call)
        return false;
    self->answered_at[node] = now;
    uint64_t share = call->bytes / call->out; //  all that is left, at the last
    call->bytes -= share;
    s_less (&self->bytes[node], share);
    if (--call->out == 0)
        zhashx_delete (self->clients, key);
    return true;
}

void front_calls_relay (front_t *self, int node, const uint8_t *id, size_t id_size,
                        const uint8_t *frame, size_t size)
{
    envelope_t reply;
    uint8_t *payload = NULL, *fixed = NULL;
    size_t payload_size, fixed_size;
    if (envelope_decode (&reply, frame, size) == 0 && reply.kind == ENVELOPE_REPLY &&
        envelope_reply_refused (reply.payload, reply.payload_size, "unknown_type") &&
        registry_lookup (self->config.config->registry, reply.from)) {
        char reason[ENVELOPE_REASON_MAX + 1];
        int type_len = (int) (strchr (reply.from, '/') - reply.from);
        snprintf (reason, sizeof reason,
                  "node %s, which owns the address, registers no type '%.*s', which node %s "
                  "does: started without its module? Retry once it has it",
                  cluster_node_name (self->config.cluster, node), type_len, reply.from,
                  cluster_node_name (self->config.cluster, self->config.self_node));
        if (envelope_reply_encode (false, "unavailable", reason, NULL, 0, &payload,
                                   &payload_size) == 0) {
            reply.payload = payload;
            reply.payload_size = payload_size;
            if (envelope_encode (&reply, &fixed, &fixed_size) == 0) {
                frame = fixed;
                size = fixed_size;
            }
        }
    }
    front_replies_send (self->client_replies, id, id_size, frame, size);
    free (fixed);
    free (payload);
}
