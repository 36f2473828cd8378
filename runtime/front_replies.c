/*  front_replies.c - the replies the front gives its clients, and the
    memory they hold until the clients read them. See front_internal.h.

    A reply goes to the client ROUTER without waiting. Replies a client
    does not read pile up, in ZeroMQ's queue for its connection and then
    in the front's held list; both are bounded, per client and for all the
    clients together:

    - ZeroMQ's queue of one client: FRONT_CLIENT_HWM replies and
      FRONT_CLIENT_BYTES bytes (a client with nothing queued always gets
      its next reply, however big);
    - then held by the front, for FRONT_OVERFLOW_MS at most, within
      FRONT_OVERFLOW_BYTES for all clients; a client's replies wait in the
      order they came;
    - all of it, for all clients: FRONT_REPLY_BUDGET bytes, of which the
      last FRONT_REPLY_RESERVE are for clients with at most
      FRONT_CLIENT_FLOOR queued (those that read), so that clients that
      do not read cannot take it all. A reply that would go past its
      limit makes room by dropping held replies, those of the client that
      holds the most bytes first, oldest first; when that client is its
      own, or nothing held is left, the reply itself is dropped.

    A dropped reply is counted (unread); a re-send with the same id gets
    the stored reply. Replies in ZeroMQ's queue cannot be taken back (its
    API has no way to close one connection of a ROUTER), so the limit is
    in what they may take: past about 200 clients that never read (56
    with 1 MiB queued each, 128 with 64 KiB), the budget is theirs and the
    replies to other clients are dropped until some room comes back.

    The bytes in ZeroMQ's queues are counted exactly: each reply is given
    to ZeroMQ over a buffer of ours (zmq_msg_init_data) whose free function,
    which ZeroMQ calls once the bytes are written to the connection (or
    dropped with it), takes them off the counts. ZeroMQ may call it from
    its own threads, after the front is gone: the counts are atomic, and a
    client's record and the node's count are reference-counted.

    Threads: the front's, but for s_free (any thread).
*/
#include "front_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define FRONT_SWEEP_MS 1000 //  records of clients with nothing queued are dropped this often

//  All clients' reply bytes in ZeroMQ's queues.
typedef struct {
    atomic_size_t bytes;
    atomic_int refs; //  the front's, and one per client record
} tally_t;

//  A client (a ROUTER id) that was sent replies lately.
typedef struct {
    atomic_size_t queued; //  bytes of its replies in ZeroMQ's queue
    atomic_int refs;      //  the table's, and one per reply in ZeroMQ's queue
    tally_t *node;        //  the node's count (a reference)
    size_t held;          //  bytes of its replies the front holds
    size_t held_count;    //  how many
    int64_t used;         //  when a reply last came for it (monotonic ms)
    uint64_t full_in;     //  the retry pass that found its queue full
} recipient_t;

//  A reply in ZeroMQ's queue: its buffer, behind this header.
typedef struct {
    recipient_t *to; //  a reference
    size_t size;
    uint8_t frame[];
} queued_t;

//  A reply the front holds while its client's queue is full.
typedef struct {
    recipient_t *to; //  borrowed: the table keeps it while it holds replies
    uint8_t *id;     //  the client's ROUTER id, then the frame, in one allocation
    size_t id_size;
    uint8_t *frame;
    size_t size;
    int64_t held_at; //  monotonic ms
} held_t;

struct _front_replies_t {
    void *router;               //  the client ROUTER (borrowed)
    front_counters_t *counters; //  unread, reply_bytes, reply_bytes_peak (borrowed)
    tally_t *node;              //  a reference
    zhashx_t *recipients;       //  hex ROUTER id -> recipient_t (a reference each)
    zlistx_t *held;             //  held_t, oldest first
    size_t held_bytes;          //  their bytes
    size_t peak;                //  the most bytes queued and held at once
    uint64_t pass;              //  retry passes over the held replies
    int64_t swept_at;           //  monotonic ms
};

static void s_tally_release (tally_t *tally)
{
    if (atomic_fetch_sub (&tally->refs, 1) == 1)
        free (tally);
}

static void s_recipient_release (recipient_t *recipient)
{
    if (atomic_fetch_sub (&recipient->refs, 1) == 1) {
        s_tally_release (recipient->node);
        free (recipient);
    }
}

static void s_recipient_destroy (void **item)
{
    if (*item)
        s_recipient_release ((recipient_t *) *item);
    *item = NULL;
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

//  ZeroMQ is done with a reply: its bytes come off the counts. Any thread.
static void s_free (void *data, void *hint)
{
    (void) data;
    queued_t *queued = hint;
    recipient_t *to = queued->to;
    atomic_fetch_sub (&to->queued, queued->size);
    atomic_fetch_sub (&to->node->bytes, queued->size);
    s_recipient_release (to);
    free (queued);
}

front_replies_t *front_replies_new (void *router, front_counters_t *counters)
{
    front_replies_t *self = calloc (1, sizeof (front_replies_t));
    if (!self)
        return NULL;
    self->router = router;
    self->counters = counters;
    self->node = calloc (1, sizeof (tally_t));
    self->recipients = zhashx_new ();
    self->held = zlistx_new ();
    if (!self->node || !self->recipients || !self->held) {
        free (self->node);
        self->node = NULL;
        front_replies_destroy (&self);
        return NULL;
    }
    atomic_init (&self->node->refs, 1);
    zhashx_set_destructor (self->recipients, s_recipient_destroy);
    zlistx_set_destructor (self->held, s_held_destroy);
    return self;
}

void front_replies_destroy (front_replies_t **self_p)
{
    front_replies_t *self = *self_p;
    if (!self)
        return;
    zlistx_destroy (&self->held);
    zhashx_destroy (&self->recipients);
    if (self->node)
        s_tally_release (self->node);
    free (self);
    *self_p = NULL;
}

//  The bytes of replies queued in ZeroMQ and held, for all clients.
static size_t s_total (const front_replies_t *self)
{
    return atomic_load (&self->node->bytes) + self->held_bytes;
}

static void s_count (front_replies_t *self)
{
    size_t total = s_total (self);
    if (total > self->peak)
        self->peak = total;
    self->counters->reply_bytes = total;
    self->counters->reply_bytes_peak = self->peak;
}

//  The record of the client with ROUTER id, made if it has none. NULL
//  out of memory.
static recipient_t *s_recipient (front_replies_t *self, const uint8_t *id, size_t id_size)
{
    static const char digits[] = "0123456789abcdef";
    char key[2 * 256 + 1];
    if (id_size > 256)
        return NULL;
    for (size_t i = 0; i < id_size; i++) {
        key[2 * i] = digits[id[i] >> 4];
        key[2 * i + 1] = digits[id[i] & 15];
    }
    key[2 * id_size] = '\0';
    recipient_t *recipient = zhashx_lookup (self->recipients, key);
    if (!recipient && (recipient = calloc (1, sizeof (recipient_t)))) {
        atomic_init (&recipient->refs, 1);
        atomic_fetch_add (&self->node->refs, 1);
        recipient->node = self->node;
        zhashx_insert (self->recipients, key, recipient);
    }
    if (recipient)
        recipient->used = zclock_mono ();
    return recipient;
}

typedef enum { GIVEN, FULL, GONE } give_t;

//  Gives a reply to ZeroMQ without waiting, if its client's queue has
//  room for it (FRONT_CLIENT_HWM replies, FRONT_CLIENT_BYTES bytes).
//  Returns FULL, too, when memory ran out.
static give_t s_give (front_replies_t *self, recipient_t *to, const uint8_t *id, size_t id_size,
                      const uint8_t *frame, size_t size)
{
    size_t queued = atomic_load (&to->queued);
    if (queued > 0 && queued + size > FRONT_CLIENT_BYTES)
        return FULL;
    queued_t *copy = malloc (sizeof (queued_t) + size);
    if (!copy)
        return FULL;
    copy->to = to;
    copy->size = size;
    memcpy (copy->frame, frame, size);
    atomic_fetch_add (&to->refs, 1);
    atomic_fetch_add (&to->queued, size);
    atomic_fetch_add (&self->node->bytes, size);
    zmq_msg_t msg;
    if (zmq_msg_init_data (&msg, copy->frame, size, s_free, copy) != 0) {
        s_free (copy->frame, copy);
        return FULL;
    }
    //  From here on, closing the message frees it through s_free.
    if (zmq_send (self->router, id, id_size, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1) {
        give_t given = zmq_errno () == EHOSTUNREACH ? GONE : FULL;
        zmq_msg_close (&msg);
        return given;
    }
    if (zmq_msg_send (&msg, self->router, ZMQ_DONTWAIT) == -1)
        zmq_msg_close (&msg); //  a message's next part always goes
    return GIVEN;
}

//  Takes one reply out of the held list (it was given, or its client is
//  gone).
static void s_unhold (front_replies_t *self, void *handle)
{
    held_t *held = zlistx_handle_item (handle);
    held->to->held -= held->size;
    held->to->held_count--;
    self->held_bytes -= held->size;
    zlistx_delete (self->held, handle);
}

//  Drops one held reply, counted unread.
static void s_drop_held (front_replies_t *self, void *handle)
{
    self->counters->unread++;
    s_unhold (self, handle);
}

//  Makes room for size more bytes to to (FRONT_REPLY_BUDGET, less the
//  reserve unless to has at most FRONT_CLIENT_FLOOR queued) by dropping
//  held replies: the oldest of the client that holds the most. Returns
//  false if there is no room without dropping to's own.
static bool s_make_room (front_replies_t *self, recipient_t *to, size_t size)
{
    size_t limit = FRONT_REPLY_BUDGET;
    if (atomic_load (&to->queued) + size > FRONT_CLIENT_FLOOR)
        limit -= FRONT_REPLY_RESERVE;
    while (s_total (self) + size > limit) {
        recipient_t *largest = NULL;
        size_t most = 0;
        for (recipient_t *r = zhashx_first (self->recipients); r;
             r = zhashx_next (self->recipients)) {
            size_t bytes = atomic_load (&r->queued) + r->held;
            if (r->held_count && bytes > most) {
                largest = r;
                most = bytes;
            }
        }
        if (!largest || largest == to)
            return false;
        held_t *held = zlistx_first (self->held);
        while (held && held->to != largest)
            held = zlistx_next (self->held);
        assert (held); //  largest holds some
        s_drop_held (self, zlistx_cursor (self->held));
    }
    return true;
}

//  Holds a reply its client's queue has no room for, within
//  FRONT_OVERFLOW_BYTES. Returns false if it could not.
static bool s_hold (front_replies_t *self, recipient_t *to, const uint8_t *id, size_t id_size,
                    const uint8_t *frame, size_t size)
{
    if (self->held_bytes + size > FRONT_OVERFLOW_BYTES)
        return false;
    held_t *held = malloc (sizeof (held_t));
    if (!held || !(held->id = malloc (id_size + size))) {
        free (held);
        return false;
    }
    held->to = to;
    held->id_size = id_size;
    held->frame = held->id + id_size;
    held->size = size;
    memcpy (held->id, id, id_size);
    memcpy (held->frame, frame, size);
    held->held_at = zclock_mono ();
    zlistx_add_end (self->held, held);
    self->held_bytes += size;
    to->held += size;
    to->held_count++;
    return true;
}

void front_replies_send (front_replies_t *self, const uint8_t *id, size_t id_size,
                         const uint8_t *frame, size_t size)
{
    recipient_t *to = s_recipient (self, id, id_size);
    bool done = false;
    if (to && s_make_room (self, to, size)) {
        give_t given = to->held_count ? FULL : s_give (self, to, id, id_size, frame, size);
        done = given != FULL || s_hold (self, to, id, id_size, frame, size);
    }
    if (!done)
        self->counters->unread++;
    s_count (self);
}

bool front_replies_holding (const front_replies_t *self)
{
    return zlistx_size (self->held) > 0;
}

//  Tries the held replies again, in order (once a client's queue is found
//  full, its later replies wait for the next pass); drops those of
//  clients that are gone, and those held past FRONT_OVERFLOW_MS (counted
//  unread).
static void s_retry (front_replies_t *self, int64_t now)
{
    self->pass++;
    held_t *held = zlistx_first (self->held);
    while (held) {
        void *handle = zlistx_cursor (self->held);
        give_t given = FULL;
        if (held->to->full_in != self->pass)
            given = s_give (self, held->to, held->id, held->id_size, held->frame, held->size);
        if (given == FULL)
            held->to->full_in = self->pass;
        bool expired = now - held->held_at > FRONT_OVERFLOW_MS;
        held = zlistx_next (self->held);
        if (given == FULL && expired)
            s_drop_held (self, handle);
        else if (given != FULL)
            s_unhold (self, handle);
    }
}

void front_replies_tick (front_replies_t *self)
{
    int64_t now = zclock_mono ();
    if (zlistx_size (self->held))
        s_retry (self, now);
    if (now - self->swept_at >= FRONT_SWEEP_MS) {
        self->swept_at = now;
        zlist_t *idle = zlist_new ();
        for (recipient_t *r = zhashx_first (self->recipients); r && idle;
             r = zhashx_next (self->recipients))
            if (!r->held_count && atomic_load (&r->queued) == 0 && now - r->used >= FRONT_SWEEP_MS)
                zlist_append (idle, (void *) zhashx_cursor (self->recipients));
        for (const char *key = idle ? zlist_first (idle) : NULL; key; key = zlist_next (idle))
            zhashx_delete (self->recipients, key);
        zlist_destroy (&idle);
    }
    s_count (self);
}

void front_owner_down_reason (front_t *self, int owner, const char *to, char *reason, size_t size)
{
    snprintf (reason, size, "node %s (%s), which owns %s, %s",
              cluster_node_name (self->config.cluster, owner),
              cluster_node_client (self->config.cluster, owner), to,
              peers_store_refused (self->config.peers, owner)
                  ? "is refused by this node: its store is behind what was seen of it "
                    "(restored from an older backup? shoal cluster status)"
                  : "is down or cut off from this node; retry later");
}

bool front_map_conflict (front_t *self, const uint8_t *route, size_t route_size,
                         const envelope_t *envelope)
{
    if ((route[0] != ROUTE_CLIENT && route[0] != ROUTE_PEER) ||
        (envelope->kind != ENVELOPE_COMMAND &&
         !(envelope->kind == ENVELOPE_QUERY && streq (envelope->name, "get"))))
        return false;
    const char *conflict = peers_map_conflict (self->config.peers);
    const char *behind = conflict ? NULL : peers_store_behind (self->config.peers);
    //  Our own actors alone: another node's are its to hold. A get is held
    //  whatever map a peer runs (a review's find: it passed then).
    const cluster_t *cluster = self->config.cluster;
    bool ours =
        !cluster || cluster_owner (cluster, shoal_shard (envelope->to, cluster_shards (cluster))) ==
                        self->config.self_node;
    const char *unchecked = behind || !ours || (conflict && envelope->kind == ENVELOPE_COMMAND)
                                ? NULL
                                : peers_store_unchecked (self->config.peers);
    if (unchecked) { //  at the start, for --start-hold at most (peers_seen.h)
        self->counters.refused_unsafe++;
        front_reject (self, route, route_size, envelope, "unavailable", unchecked);
        return true;
    }
    if ((!conflict && !behind) || (envelope->kind != ENVELOPE_COMMAND && !behind))
        return false;
    self->counters.refused_unsafe++;
    char reason[320];
    if (conflict)
        snprintf (reason, sizeof reason,
                  "node %s runs another shard map at this epoch (its cluster file differs): no "
                  "command is taken until every node runs the same file",
                  conflict);
    else //  its actors would run on what it lost (peers_seen.h)
        snprintf (reason, sizeof reason,
                  "node %s saw this node's store further than it is now (restored from an older "
                  "backup?): no command is taken until this node is started with --restored, "
                  "which takes it as it is (see its log)",
                  behind);
    front_reject (self, route, route_size, envelope, "unavailable", reason);
    return true;
}
