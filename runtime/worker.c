/*  worker.c - one worker thread and the life of a command. See worker.h.

    Everything here is owned by the worker thread; the only things it
    shares are ZeroMQ sockets, the journal (LevelDB is thread-safe) and the
    atomic counters in worker_stats_t.

    Each loop: drain up to batch_max messages (local queue first, then the
    PULL socket) through their turns, staging every event, inbox record,
    outbox entry and timer into one journal batch; commit it in one write;
    only then release the staged replies and commands. If the commit fails,
    nothing is released and the worker reloads everything from the journal
    (actors, pending outbox, timers): senders retry what was lost.

    Known limits: pending-outbox and passivation scans are O(n) per tick;
    a tick runs at most every 20 ms (retries) and 1 s (passivation).
*/
#include "worker.h"
#include "ctx.h"

#include <stdlib.h>
#include <string.h>

#define BATCH_BYTES_MAX (64u << 20) //  a group commit's records, at most (about)
#define RETRY_FIRST_MS 50
#define RETRY_MAX_MS 5000
#define RETRY_TICK_MS 20
#define PASSIVATE_TICK_MS 1000
#define TIMER_RETRY_MS 1000 //  a timer whose turn could not run fires again after

typedef struct {
    char *address;            //  key in the actors hash (owned)
    const shoal_type_t *type; //  its type
    int64_t version;          //  events in its stream, staged included
    int64_t snapshot_seq;     //  seq of its latest snapshot
    int64_t last_used;        //  ms, for passivation
    uint64_t staged_in;       //  the batch number its last events were staged in
    max_align_t state[];      //  type->state_size bytes
} actor_t;

//  A message waiting in the local queue (same-worker delivery).
typedef struct {
    uint8_t *route; //  NULL for actor-to-actor
    size_t route_size;
    uint8_t *frame; //  encoded envelope, owned
    size_t size;
} local_t;

//  A command sent and not yet answered.
typedef struct {
    uint8_t id[ENVELOPE_ID_SIZE];
    char sender[SHOAL_ADDRESS_MAX + 1];
    int dest;
    uint8_t *frame;
    size_t size;
    uint32_t attempt;
    int64_t next_due;
    int64_t created;    //  first send (ms since epoch), from the envelope
    int64_t sent_at;    //  first send from this process (ms), for the reply-time estimate
    bool stall_noticed; //  its sender was told it is stalled
} pending_t;

//  Something to send once the batch is committed.
typedef struct {
    int dest;       //  worker index, or -1 for the front (a client)
    uint8_t *route; //  client identity, owned; NULL otherwise
    size_t route_size;
    uint8_t *frame; //  encoded envelope, owned (by pending, if set)
    size_t size;
    pending_t *pending; //  a command to track until its reply arrives, owned
} out_t;

typedef struct {
    int64_t due;
    uint8_t *frame; //  the timer's envelope, owned
    size_t size;
} wtimer_t;

typedef struct {
    const worker_config_t *config;
    int index;
    worker_stats_t *stats;
    zsock_t *pull;          //  our inbox socket
    zsock_t **push;         //  one per worker (NULL for ourselves)
    zsock_t *front;         //  to the node's front thread
    zhashx_t *actors;       //  address -> actor_t
    zlistx_t *local;        //  local_t, FIFO
    journal_batch_t *batch; //  staged writes
    out_t *outs;            //  staged sends
    size_t out_count, out_cap;
    wtimer_t *staged_timers; //  set in this batch, armed after commit
    size_t staged_timer_count, staged_timer_cap;
    zhashx_t *pending; //  id (16 bytes) -> pending_t
    zlistx_t *timers;  //  wtimer_t sorted by due
    shoal_ctx_t ctx;
    int64_t next_retry_tick;
    int64_t next_passivate_tick;
    size_t turns;          //  messages in the current batch
    double reply_ms;       //  smoothed time from sending a command to its reply
    double reply_var_ms;   //  its smoothed mean deviation
    uint64_t batch_number; //  counts batches, committed or aborted
} worker_t;

//  --------------------------------------------------------------------------
//  Routing

uint32_t worker_shard (const char *address, uint32_t shards)
{
    uint64_t hash = 14695981039346656037ULL;
    for (const unsigned char *p = (const unsigned char *) address; *p; p++)
        hash = (hash ^ *p) * 1099511628211ULL;
    //  FNV-1a's low bits are weak (bit 0 is the parity of the bytes' low
    //  bits): mix with MurmurHash3's finalizer before taking the modulo.
    hash ^= hash >> 33;
    hash *= 0xff51afd7ed558ccdULL;
    hash ^= hash >> 33;
    hash *= 0xc4ceb9fe1a85ec53ULL;
    hash ^= hash >> 33;
    return (uint32_t) (hash % shards);
}

int worker_of (const worker_config_t *config, const char *address)
{
    return (int) (worker_shard (address, config->shards) % (uint32_t) config->workers);
}

static int64_t s_now (void)
{
    return zclock_time ();
}

//  --------------------------------------------------------------------------
//  Containers' methods

static size_t s_id_hash (const void *key)
{
    size_t hash;
    memcpy (&hash, key, sizeof hash);
    return hash;
}

static int s_id_compare (const void *a, const void *b)
{
    return memcmp (a, b, ENVELOPE_ID_SIZE);
}

static void s_pending_destroy (void **item)
{
    pending_t *self = (pending_t *) *item;
    if (self) {
        free (self->frame);
        free (self);
        *item = NULL;
    }
}

static void s_timer_destroy (void **item)
{
    wtimer_t *self = (wtimer_t *) *item;
    if (self) {
        free (self->frame);
        free (self);
        *item = NULL;
    }
}

static int s_timer_compare (const void *a, const void *b)
{
    const wtimer_t *x = a, *y = b;
    return x->due < y->due ? -1 : x->due > y->due;
}

static void s_local_destroy (void **item)
{
    local_t *self = (local_t *) *item;
    if (self) {
        free (self->route);
        free (self->frame);
        free (self);
        *item = NULL;
    }
}

static void s_actor_free (actor_t *actor)
{
    if (actor->type->fini)
        actor->type->fini (actor->state);
    free (actor->address);
    free (actor);
}

static void s_actor_destroy (void **item)
{
    actor_t *actor = (actor_t *) *item;
    if (actor) {
        s_actor_free (actor);
        *item = NULL;
    }
}

static void *s_memdup (const void *src, size_t size)
{
    void *copy = malloc (size ? size : 1);
    if (copy && size)
        memcpy (copy, src, size);
    return copy;
}

//  --------------------------------------------------------------------------
//  Actors: activation (snapshot + replay) and passivation

typedef struct {
    actor_t *actor;
    int rc;
} replay_t;

static int s_replay_event (void *arg, int64_t seq, const char *name, const uint8_t *data,
                           size_t size, int64_t created)
{
    replay_t *replay = arg;
    if (ctx_apply (replay->actor->type, replay->actor->state, name, data, size) != 0) {
        replay->rc = SHOAL_EFORMAT;
        return 1;
    }
    replay->actor->version = seq;
    return 0;
}

//  Loads an actor from its latest snapshot and the events after it.
//  Returns the actor (owned by the caller) or NULL with *rc set.
static actor_t *s_actor_load (worker_t *self, const shoal_type_t *type, const char *address,
                              int *rc)
{
    actor_t *actor = calloc (1, sizeof (actor_t) + type->state_size);
    if (!actor || !(actor->address = strdup (address))) {
        free (actor);
        *rc = SHOAL_ENOMEM;
        return NULL;
    }
    actor->type = type;
    if (type->init)
        type->init (actor->state, strchr (address, '/') + 1);
    *rc = 0;
    uint8_t *snapshot;
    size_t size;
    int64_t seq;
    if (type->restore &&
        journal_snapshot_get (self->config->journal, address, &seq, &snapshot, &size) == 0) {
        shoal_data_t data;
        *rc = data_init (&data, snapshot, size);
        if (*rc == 0 && type->restore (actor->state, &data) != 0)
            *rc = SHOAL_EFORMAT;
        data_close (&data);
        free (snapshot);
        if (seq < 0 || seq > INT64_MAX / 2)
            *rc = SHOAL_EFORMAT;
        actor->version = actor->snapshot_seq = seq;
    }
    replay_t replay = {actor, 0};
    if (*rc == 0)
        *rc = journal_read (self->config->journal, address, actor->version + 1, 0, s_replay_event,
                            &replay);
    if (*rc == 0)
        *rc = replay.rc;
    if (*rc) {
        s_actor_free (actor);
        return NULL;
    }
    self->stats->activations++;
    return actor;
}

//  Returns the active actor at address, activating it if needed, or NULL
//  with *rc: SHOAL_ENOTFOUND for an unknown type, else a load error.
static actor_t *s_actor_get (worker_t *self, const char *address, int *rc)
{
    actor_t *actor = (actor_t *) zhashx_lookup (self->actors, address);
    if (!actor) {
        const shoal_type_t *type = registry_lookup (self->config->registry, address);
        if (!type) {
            *rc = SHOAL_ENOTFOUND;
            return NULL;
        }
        actor = s_actor_load (self, type, address, rc);
        if (!actor)
            return NULL;
        zhashx_insert (self->actors, actor->address, actor);
        self->stats->active = zhashx_size (self->actors);
    }
    actor->last_used = s_now ();
    *rc = 0;
    return actor;
}

static void s_actor_drop (worker_t *self, const char *address)
{
    zhashx_delete (self->actors, address);
    self->stats->active = zhashx_size (self->actors);
}

//  Drops actors idle for longer than idle_ms. Called with an empty batch
//  only, so no dropped actor has uncommitted events.
static void s_passivate (worker_t *self, int64_t now)
{
    zlistx_t *idle = zlistx_new ();
    for (actor_t *actor = zhashx_first (self->actors); actor; actor = zhashx_next (self->actors))
        if (now - actor->last_used >= self->config->idle_ms)
            zlistx_add_end (idle, actor->address);
    for (char *address = zlistx_first (idle); address; address = zlistx_next (idle)) {
        zhashx_delete (self->actors, address);
        self->stats->passivations++;
    }
    zlistx_destroy (&idle);
    self->stats->active = zhashx_size (self->actors);
}

//  --------------------------------------------------------------------------
//  Staging what the batch releases

//  Stages frame (owned) for dest. With pending (owned, holding the same
//  frame), the command is tracked from its release until its reply.
static int s_out_add (worker_t *self, int dest, const uint8_t *route, size_t route_size,
                      uint8_t *frame, size_t size, pending_t *pending)
{
    if (self->out_count == self->out_cap) {
        size_t cap = self->out_cap ? self->out_cap * 2 : 256;
        out_t *outs = realloc (self->outs, cap * sizeof (out_t));
        if (!outs) {
            if (pending)
                s_pending_destroy ((void **) &pending);
            else
                free (frame);
            return SHOAL_ENOMEM;
        }
        self->outs = outs;
        self->out_cap = cap;
    }
    out_t *out = &self->outs[self->out_count++];
    out->dest = dest;
    out->route = route_size ? s_memdup (route, route_size) : NULL;
    out->route_size = route_size;
    out->frame = frame;
    out->size = size;
    out->pending = pending;
    return 0;
}

//  Stages the reply to request with payload (borrowed): to the client by
//  route, or to the actor that sent the request.
static void s_stage_reply (worker_t *self, const uint8_t *route, size_t route_size,
                           const envelope_t *request, const uint8_t *payload, size_t payload_size)
{
    envelope_t reply = {0};
    reply.kind = ENVELOPE_REPLY;
    envelope_new_id (reply.id);
    memcpy (reply.correlation, request->id, ENVELOPE_ID_SIZE);
    memcpy (reply.causation, request->id, ENVELOPE_ID_SIZE);
    strcpy (reply.from, request->to);
    strcpy (reply.to, route_size ? "" : request->from);
    strcpy (reply.name, request->name);
    reply.payload = payload;
    reply.payload_size = payload_size;
    reply.created = s_now ();
    int dest = route_size ? -1 : worker_of (self->config, request->from);
    if (!route_size && !request->from[0])
        return; //  nobody to answer
    uint8_t *frame;
    size_t size;
    uint8_t *error = NULL;
    int rc = envelope_encode (&reply, &frame, &size);
    if (rc != 0) {
        //  Too big (a view or page over the limit), or a damaged stored
        //  reply: say so rather than fall silent.
        size_t error_size;
        bool too_big = rc == SHOAL_ETOOBIG;
        if (envelope_reply_encode (false, too_big ? "reply_too_big" : "bad_reply",
                                   too_big ? "the reply exceeds the envelope limit"
                                           : "the stored reply cannot be read",
                                   NULL, 0, &error, &error_size) != 0)
            return;
        reply.payload = error;
        reply.payload_size = error_size;
        if (envelope_encode (&reply, &frame, &size) != 0) {
            free (error);
            return;
        }
    }
    free (error);
    s_out_add (self, dest, route, route_size, frame, size, NULL);
}

//  Stages a rejection that is not recorded in the inbox (the request never
//  reached a handler: unknown type, bad payload, storage trouble).
static void s_stage_error (worker_t *self, const uint8_t *route, size_t route_size,
                           const envelope_t *request, const char *code, const char *reason)
{
    uint8_t *payload;
    size_t size;
    if (envelope_reply_encode (false, code, reason, NULL, 0, &payload, &size) == 0) {
        s_stage_reply (self, route, route_size, request, payload, size);
        free (payload);
    }
    self->stats->rejected++;
}

//  A failure that may pass (storage trouble, an actor being reloaded): a
//  client is told and may retry; an actor is told nothing, so its outbox
//  re-sends the command rather than take the failure for a rejection.
static void s_stage_transient (worker_t *self, const uint8_t *route, size_t route_size,
                               const envelope_t *request, const char *code, const char *reason)
{
    if (route_size || !request->from[0])
        s_stage_error (self, route, route_size, request, code, reason);
}

//  Encodes a command or timer envelope from actor, caused by cause. Returns
//  0 with *frame to free(), or an error.
static int s_encode_effect (envelope_kind_t kind, const actor_t *actor, const envelope_t *cause,
                            const char *to, const char *name, shoal_rec_t *rec, int64_t created,
                            uint8_t **frame, size_t *size, uint8_t id[ENVELOPE_ID_SIZE])
{
    envelope_t effect = {0};
    effect.kind = (uint8_t) kind;
    envelope_new_id (effect.id);
    memcpy (effect.causation, cause->id, ENVELOPE_ID_SIZE);
    strcpy (effect.from, actor->address);
    strcpy (effect.to, to);
    strcpy (effect.name, name);
    effect.payload = rec_finish (rec, &effect.payload_size);
    effect.created = created;
    memcpy (id, effect.id, ENVELOPE_ID_SIZE);
    return effect.payload ? envelope_encode (&effect, frame, size) : SHOAL_ENOMEM;
}

typedef struct {
    uint8_t *frame;
    size_t size;
    uint8_t id[ENVELOPE_ID_SIZE];
    int64_t due; //  timers: the due time
    int dest;    //  commands: the receiver's worker
} effect_t;

static int s_grow_staged_timers (worker_t *self, size_t more)
{
    if (self->staged_timer_count + more <= self->staged_timer_cap)
        return 0;
    size_t cap = self->staged_timer_cap ? self->staged_timer_cap * 2 : 64;
    while (cap < self->staged_timer_count + more)
        cap *= 2;
    wtimer_t *grown = realloc (self->staged_timers, cap * sizeof (wtimer_t));
    if (!grown)
        return SHOAL_ENOMEM;
    self->staged_timers = grown;
    self->staged_timer_cap = cap;
    return 0;
}

//  Stages the effects of an accepted turn of actor: events (with the
//  expected-version check), a snapshot when due, outbox commands and
//  timers. Everything that can be refused (encoding, the version check)
//  is checked before anything is staged, so an error returned here left
//  the batch as it was, except *poisoned: then a write was staged and a
//  later one failed (out of memory), and the whole batch must be dropped.
static int s_stage_effects (worker_t *self, actor_t *actor, const envelope_t *cause, int64_t now,
                            bool *poisoned)
{
    shoal_ctx_t *ctx = &self->ctx;
    effect_t sends[CTX_MAX_SENDS], timers[CTX_MAX_TIMERS];
    size_t send_count = 0, timer_count = 0;
    int rc = s_grow_staged_timers (self, ctx->timer_count);
    for (size_t i = 0; rc == 0 && i < ctx->send_count; i++) {
        effect_t *e = &sends[send_count];
        rc = s_encode_effect (ENVELOPE_COMMAND, actor, cause, ctx->sends[i].to, ctx->sends[i].name,
                              &ctx->sends[i].rec, now, &e->frame, &e->size, e->id);
        if (rc == 0) {
            e->dest = worker_of (self->config, ctx->sends[i].to);
            send_count++;
        }
    }
    for (size_t i = 0; rc == 0 && i < ctx->timer_count; i++) {
        effect_t *e = &timers[timer_count];
        e->due = now + ctx->timers[i].ms; //  a timer's created is its due time
        rc = s_encode_effect (ENVELOPE_TIMER, actor, cause, actor->address, ctx->timers[i].name,
                              &ctx->timers[i].rec, e->due, &e->frame, &e->size, e->id);
        if (rc == 0)
            timer_count++;
    }
    if (rc == 0 && ctx->event_count) {
        journal_event_t events[CTX_MAX_EVENTS];
        for (size_t i = 0; i < ctx->event_count; i++) {
            events[i].name = ctx->events[i].name;
            events[i].data = rec_finish (&ctx->events[i].rec, &events[i].size);
        }
        rc = journal_batch_append (self->batch, actor->address, actor->version, events,
                                   ctx->event_count, now, &actor->version);
        if (rc == 0) {
            self->stats->events += ctx->event_count;
            actor->staged_in = self->batch_number;
        }
    }
    if (rc) {
        for (size_t i = 0; i < send_count; i++)
            free (sends[i].frame);
        for (size_t i = 0; i < timer_count; i++)
            free (timers[i].frame);
        return rc;
    }
    if (ctx->event_count && actor->type->restore && self->config->snapshot_every > 0 &&
        actor->version - actor->snapshot_seq >= self->config->snapshot_every) {
        shoal_rec_t view;
        rec_init (&view);
        actor->type->view (actor->state, &view);
        size_t size;
        const uint8_t *bytes = rec_finish (&view, &size);
        if (bytes &&
            journal_batch_snapshot (self->batch, actor->address, actor->version, bytes, size) == 0)
            actor->snapshot_seq = actor->version;
        rec_close (&view);
    }
    for (size_t i = 0; i < send_count; i++) {
        if (rc == 0)
            rc = journal_batch_outbox_put (self->batch, actor->address, sends[i].id, sends[i].frame,
                                           sends[i].size);
        pending_t *pending = rc == 0 ? calloc (1, sizeof (pending_t)) : NULL;
        if (pending) {
            memcpy (pending->id, sends[i].id, ENVELOPE_ID_SIZE);
            snprintf (pending->sender, sizeof pending->sender, "%s", actor->address);
            pending->dest = sends[i].dest;
            pending->frame = sends[i].frame;
            pending->size = sends[i].size;
            pending->created = now;
            rc = s_out_add (self, sends[i].dest, NULL, 0, sends[i].frame, sends[i].size, pending);
        } else {
            rc = rc ? rc : SHOAL_ENOMEM;
            free (sends[i].frame);
        }
    }
    for (size_t i = 0; i < timer_count; i++) {
        if (rc == 0)
            rc = journal_batch_timer_put (self->batch, timers[i].due, timers[i].id, timers[i].frame,
                                          timers[i].size);
        if (rc == 0)
            self->staged_timers[self->staged_timer_count++] =
                (wtimer_t){.due = timers[i].due, .frame = timers[i].frame, .size = timers[i].size};
        else
            free (timers[i].frame);
    }
    *poisoned = rc != 0;
    return rc;
}

//  --------------------------------------------------------------------------
//  Turns

static void s_abort_batch (worker_t *self);

//  Runs msg through actor's handler and stages the effects. Returns the
//  ctx_run result; CTX_CORRUPT also covers a failure to stage (then the
//  actor has been dropped and will be reloaded from the journal).
static int s_turn (worker_t *self, actor_t *actor, const envelope_t *envelope, int64_t now)
{
    shoal_msg_t msg;
    ctx_begin (&self->ctx, actor->address, actor->version, now);
    int rc = msg_init (&msg, envelope);
    if (rc != 0) {
        msg_close (&msg);
        shoal_ctx_reject (&self->ctx, "invalid_payload", "the payload of %s is not a map",
                          envelope->name);
        //  Out of memory may pass; and a reply, timer or notice owed to the
        //  actor must not be dropped unseen: both are kept and tried again.
        self->ctx.failed = rc == SHOAL_ENOMEM || envelope->kind != ENVELOPE_COMMAND;
        return CTX_REJECTED;
    }
    int result = ctx_run (&self->ctx, actor->type, actor->state, &msg);
    msg_close (&msg);
    if (result == CTX_ACCEPTED) {
        bool poisoned = false;
        rc = s_stage_effects (self, actor, envelope, now, &poisoned);
        if (rc) {
            shoal_ctx_reject (&self->ctx, rc == SHOAL_ECONFLICT ? "conflict" : "unavailable",
                              "could not stage the turn of %s: %s", actor->address,
                              shoal_strerror (rc));
            result = CTX_CORRUPT;
        }
        if (poisoned) {
            s_abort_batch (self); //  drops every actor, this one included
            return CTX_CORRUPT;
        }
    }
    if (result == CTX_CORRUPT) {
        //  Reloaded from the journal, an actor with events staged in this
        //  batch would decide on a state that misses them: drop the batch.
        if (actor->staged_in == self->batch_number)
            s_abort_batch (self);
        else
            s_actor_drop (self, actor->address);
    }
    return result;
}

static void s_on_command (worker_t *self, const uint8_t *route, size_t route_size,
                          const envelope_t *envelope)
{
    int64_t now = s_now ();
    uint8_t *stored;
    size_t stored_size;
    int found =
        journal_batch_inbox_get (self->batch, envelope->to, envelope->id, &stored, &stored_size);
    if (found == 0) {
        s_stage_reply (self, route, route_size, envelope, stored, stored_size);
        free (stored);
        self->stats->duplicates++;
        return;
    }
    if (found != SHOAL_ENOTFOUND) { //  unreadable: it may have run, so don't run it
        s_stage_transient (self, route, route_size, envelope, "unavailable",
                           "its inbox record cannot be read");
        return;
    }
    //  Its inbox record may have been pruned: refuse rather than risk a
    //  second effect (see docs/DESIGN-NOTES.md, "Inbox retention").
    if (envelope->created < now - self->config->retention_ms) {
        s_stage_error (self, route, route_size, envelope, "expired",
                       "the command is older than the inbox retention; it was not run");
        self->stats->expired++;
        return;
    }
    int rc;
    actor_t *actor = s_actor_get (self, envelope->to, &rc);
    if (!actor) {
        if (rc == SHOAL_ENOTFOUND)
            s_stage_error (self, route, route_size, envelope, "unknown_type",
                           "no actor type is registered for this address");
        else
            s_stage_transient (self, route, route_size, envelope, "unavailable",
                               shoal_strerror (rc));
        return;
    }
    int result = s_turn (self, actor, envelope, now);
    shoal_ctx_t *ctx = &self->ctx;
    //  A failure, unlike a decision, had no effect and may pass: it is not
    //  stored, so a retry runs the command again.
    if (result == CTX_CORRUPT || (result == CTX_REJECTED && ctx->failed)) {
        s_stage_transient (self, route, route_size, envelope, ctx->code, ctx->reason);
        return;
    }
    uint8_t *payload;
    size_t payload_size;
    if (result == CTX_ACCEPTED) {
        size_t size;
        const uint8_t *data = rec_finish (&ctx->reply, &size);
        rc = envelope_reply_encode (true, NULL, NULL, data, size, &payload, &payload_size);
        self->stats->accepted++;
    } else {
        rc =
            envelope_reply_encode (false, ctx->code, ctx->reason, NULL, 0, &payload, &payload_size);
        self->stats->rejected++;
    }
    //  The record lives at least as long as the command can be retried:
    //  retries are refused as expired by the command's created time, which
    //  a client's clock may have set ahead of ours.
    int64_t recorded = envelope->created > now ? envelope->created : now;
    //  ctx_run bounded the reply's fields, so only memory can fail here;
    //  the turn's events are staged, so the batch must go.
    if (rc == 0 && journal_batch_inbox_put (self->batch, envelope->to, envelope->id, payload,
                                            payload_size, recorded) != 0) {
        free (payload);
        rc = SHOAL_ENOMEM;
    }
    if (rc) {
        s_abort_batch (self);
        return;
    }
    s_stage_reply (self, route, route_size, envelope, payload, payload_size);
    free (payload);
}

//  Takes one reply time into the estimates s_retry_delay uses (RFC 6298's
//  gains). A reply to a command sent more than once is timed from the first
//  send: it may answer any of them, and timing it from the latest would
//  shrink the estimate exactly when replies are late (and sampling only
//  commands sent once would keep it below the re-send delay).
static void s_reply_sample (worker_t *self, double ms)
{
    double deviation = ms > self->reply_ms ? ms - self->reply_ms : self->reply_ms - ms;
    self->reply_var_ms += (deviation - self->reply_var_ms) / 4;
    self->reply_ms += (ms - self->reply_ms) / 8;
}

//  A reply to a command one of our actors sent: the turn that handles it
//  also deletes the outbox entry, so a duplicate reply finds none.
static void s_on_reply (worker_t *self, const envelope_t *envelope)
{
    pending_t *pending = zhashx_lookup (self->pending, envelope->correlation);
    if (!pending || strcmp (pending->sender, envelope->to) != 0) {
        self->stats->duplicates++;
        return;
    }
    int rc;
    actor_t *actor = s_actor_get (self, envelope->to, &rc);
    if (!actor)
        return; //  retried: the pending entry stays and the command is re-sent
    int64_t now = s_now ();
    s_reply_sample (self, (double) (now - pending->sent_at));
    int result = s_turn (self, actor, envelope, now);
    if (result == CTX_CORRUPT)
        return;
    if (result == CTX_REJECTED && self->ctx.failed) {
        //  Not a decision: keep the entry; the re-sent command brings the
        //  reply again (and a stall notice if it keeps failing).
        zsys_warning ("worker %d: %s failed on the reply to %s: %s", self->index, envelope->to,
                      envelope->name, self->ctx.reason);
        return;
    }
    if (result == CTX_REJECTED)
        zsys_warning ("worker %d: %s refused the reply to %s: %s", self->index, envelope->to,
                      envelope->name, self->ctx.reason);
    if (journal_batch_outbox_del (self->batch, envelope->to, envelope->correlation) == 0) {
        zhashx_delete (self->pending, envelope->correlation);
        self->stats->pending = zhashx_size (self->pending);
    }
}

//  Arms a timer again, TIMER_RETRY_MS from now: its turn could not run.
static void s_timer_retry (worker_t *self, const uint8_t *frame, size_t size)
{
    wtimer_t *timer = malloc (sizeof (wtimer_t));
    if (timer && (timer->frame = s_memdup (frame, size))) {
        timer->due = s_now () + TIMER_RETRY_MS;
        timer->size = size;
        zlistx_insert (self->timers, timer, false);
    } else
        free (timer);
}

static void s_on_timer (worker_t *self, const envelope_t *envelope, const uint8_t *frame,
                        size_t size)
{
    int rc;
    uint64_t batch = self->batch_number;
    actor_t *actor = s_actor_get (self, envelope->to, &rc);
    int result = actor ? s_turn (self, actor, envelope, s_now ()) : CTX_CORRUPT;
    if (result == CTX_CORRUPT || (result == CTX_REJECTED && self->ctx.failed)) {
        //  After an abort the reload re-armed it from the journal already.
        if (batch == self->batch_number)
            s_timer_retry (self, frame, size);
        return;
    }
    if (result == CTX_REJECTED)
        zsys_warning ("worker %d: %s refused its timer %s: %s", self->index, envelope->to,
                      envelope->name, self->ctx.reason);
    journal_batch_timer_del (self->batch, envelope->created, envelope->id);
}

//  --------------------------------------------------------------------------
//  Queries: get (the actor's view) and events (a page of its stream)

typedef struct {
    msgpack_packer *pk;
    size_t count;
    size_t bytes;
    int64_t last;
} page_t;

static int s_page_event (void *arg, int64_t seq, const char *name, const uint8_t *data, size_t size,
                         int64_t created)
{
    page_t *page = arg;
    size_t bytes = size + strlen (name) + 48; //  the event's map, generously
    if (page->count > 0 && page->bytes + bytes > ENVELOPE_MAX_SIZE / 2)
        return 1; //  full: the next page starts at this event
    msgpack_packer *pk = page->pk;
    msgpack_pack_map (pk, 4);
    msgpack_pack_str_with_body (pk, "seq", 3);
    msgpack_pack_int64 (pk, seq);
    msgpack_pack_str_with_body (pk, "event", 5);
    msgpack_pack_str_with_body (pk, name, strlen (name));
    msgpack_pack_str_with_body (pk, "data", 4);
    msgpack_sbuffer_write (pk->data, (const char *) data, size);
    msgpack_pack_str_with_body (pk, "created", 7);
    msgpack_pack_int64 (pk, created);
    page->count++;
    page->bytes += bytes;
    page->last = seq;
    return 0;
}

static void s_on_query (worker_t *self, const uint8_t *route, size_t route_size,
                        const envelope_t *envelope)
{
    int rc;
    shoal_rec_t out;
    rec_init (&out);
    if (strcmp (envelope->name, "get") == 0) {
        actor_t *actor = s_actor_get (self, envelope->to, &rc);
        if (actor) {
            shoal_rec_t view;
            rec_init (&view);
            actor->type->view (actor->state, &view);
            size_t size;
            const uint8_t *bytes = rec_finish (&view, &size);
            shoal_rec_str (&out, "address", actor->address);
            shoal_rec_int (&out, "version", actor->version);
            if (bytes)
                rec_raw (&out, "state", bytes, size);
            else
                rc = view.error;
            rec_close (&view);
        }
    } else if (strcmp (envelope->name, "events") == 0) {
        shoal_data_t args;
        int64_t from = 1, limit = 1000;
        if (data_init (&args, envelope->payload, envelope->payload_size) == 0) {
            shoal_data_int (&args, "from", &from);
            shoal_data_int (&args, "limit", &limit);
        }
        data_close (&args);
        if (from < 1)
            from = 1;
        if (limit < 1 || limit > 10000)
            limit = 10000;
        msgpack_sbuffer events;
        msgpack_sbuffer_init (&events);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &events, msgpack_sbuffer_write);
        page_t page = {&pk, 0, 0, 0};
        //  The array header needs the count first: read into a scratch
        //  buffer, then prefix it. An address of no type is refused, as by get.
        rc = registry_lookup (self->config->registry, envelope->to)
                 ? journal_read (self->config->journal, envelope->to, from, (size_t) limit,
                                 s_page_event, &page)
                 : SHOAL_ENOTFOUND;
        if (rc == 0) {
            msgpack_sbuffer array;
            msgpack_sbuffer_init (&array);
            msgpack_packer apk;
            msgpack_packer_init (&apk, &array, msgpack_sbuffer_write);
            msgpack_pack_array (&apk, page.count);
            msgpack_sbuffer_write (&array, events.data, events.size);
            shoal_rec_str (&out, "address", envelope->to);
            rec_raw (&out, "events", (const uint8_t *) array.data, array.size);
            shoal_rec_int (&out, "next", page.count ? page.last + 1 : from);
            msgpack_sbuffer_destroy (&array);
        }
        msgpack_sbuffer_destroy (&events);
    } else
        rc = SHOAL_EINVAL;

    size_t size;
    const uint8_t *data = rec_finish (&out, &size);
    if (rc == 0 && data) {
        uint8_t *payload;
        size_t payload_size;
        if (envelope_reply_encode (true, NULL, NULL, data, size, &payload, &payload_size) == 0) {
            s_stage_reply (self, route, route_size, envelope, payload, payload_size);
            free (payload);
        }
    } else if (rc == SHOAL_ENOTFOUND)
        s_stage_error (self, route, route_size, envelope, "unknown_type",
                       "no actor type is registered for this address");
    else if (rc == SHOAL_EINVAL)
        s_stage_error (self, route, route_size, envelope, "unknown_query",
                       "queries are get and events");
    else
        s_stage_error (self, route, route_size, envelope, "unavailable", shoal_strerror (rc));
    rec_close (&out);
}

static void s_on_frame (worker_t *self, const uint8_t *route, size_t route_size,
                        const uint8_t *frame, size_t size)
{
    envelope_t envelope;
    if (envelope_decode (&envelope, frame, size) != 0) {
        self->stats->bad_frames++;
        return;
    }
    self->stats->messages++;
    self->turns++;
    switch (envelope.kind) {
    case ENVELOPE_COMMAND:
        s_on_command (self, route, route_size, &envelope);
        break;
    case ENVELOPE_REPLY:
        s_on_reply (self, &envelope);
        break;
    case ENVELOPE_TIMER:
        s_on_timer (self, &envelope, frame, size);
        break;
    case ENVELOPE_QUERY:
        s_on_query (self, route, route_size, &envelope);
        break;
    }
}

//  --------------------------------------------------------------------------
//  Commit and release

//  Sends one frame to dest with an optional route. Delivery to ourselves
//  goes through the local queue. Returns 0 or -1.
static int s_send (worker_t *self, int dest, const uint8_t *route, size_t route_size,
                   const uint8_t *frame, size_t size)
{
    if (dest == self->index) {
        local_t *item = calloc (1, sizeof (local_t));
        if (!item)
            return -1;
        item->frame = s_memdup (frame, size);
        item->size = size;
        zlistx_add_end (self->local, item);
        return 0;
    }
    void *socket = zsock_resolve (dest < 0 ? self->front : self->push[dest]);
    if (zmq_send (socket, route, route_size, ZMQ_SNDMORE) == -1 ||
        zmq_send (socket, frame, size, 0) == -1)
        return -1;
    return 0;
}

//  The delay before re-send number attempt+1: four times the smoothed reply
//  time, or that time plus four mean deviations when replies vary more (as
//  TCP's retransmission timer, RFC 6298), at least RETRY_FIRST_MS, doubled
//  per attempt up to RETRY_MAX_MS, with jitter: drawn from [d, 5d/4]. A
//  loaded node's replies come late and in bursts (a commit's worth at a
//  time); a generous delay keeps it from adding re-sends to its load.
static int64_t s_retry_delay (const worker_t *self, uint32_t attempt)
{
    double estimate = 4 * self->reply_ms;
    if (self->reply_ms + 4 * self->reply_var_ms > estimate)
        estimate = self->reply_ms + 4 * self->reply_var_ms;
    int64_t delay = estimate > RETRY_FIRST_MS ? (int64_t) estimate : RETRY_FIRST_MS;
    for (uint32_t i = 0; i < attempt && delay < RETRY_MAX_MS; i++)
        delay *= 2;
    if (delay > RETRY_MAX_MS)
        delay = RETRY_MAX_MS;
    return delay + (int64_t) (random () % (delay / 4 + 1));
}

static int s_pending_add (worker_t *self, const char *sender, const uint8_t *frame, size_t size,
                          int64_t due)
{
    envelope_t envelope;
    if (envelope_decode (&envelope, frame, size) != 0)
        return SHOAL_EFORMAT;
    pending_t *pending = calloc (1, sizeof (pending_t));
    if (!pending || !(pending->frame = s_memdup (frame, size))) {
        free (pending);
        return SHOAL_ENOMEM;
    }
    memcpy (pending->id, envelope.id, ENVELOPE_ID_SIZE);
    snprintf (pending->sender, sizeof pending->sender, "%s", sender);
    pending->dest = worker_of (self->config, envelope.to);
    pending->size = size;
    pending->next_due = due;
    pending->created = envelope.created;
    pending->sent_at = s_now ();
    zhashx_update (self->pending, pending->id, pending);
    self->stats->pending = zhashx_size (self->pending);
    return 0;
}

static void s_release (worker_t *self)
{
    int64_t now = s_now ();
    for (size_t i = 0; i < self->out_count; i++) {
        out_t *out = &self->outs[i];
        s_send (self, out->dest, out->route, out->route_size, out->frame, out->size);
        free (out->route);
        if (out->pending) { //  it keeps the frame for re-sends
            pending_t *pending = out->pending;
            pending->sent_at = now;
            pending->next_due = now + s_retry_delay (self, 0);
            zhashx_update (self->pending, pending->id, pending);
        } else
            free (out->frame);
    }
    self->out_count = 0;
    self->stats->pending = zhashx_size (self->pending);
    for (size_t i = 0; i < self->staged_timer_count; i++) {
        wtimer_t *timer = malloc (sizeof (wtimer_t));
        if (!timer) {
            free (self->staged_timers[i].frame);
            continue;
        }
        *timer = self->staged_timers[i];
        zlistx_insert (self->timers, timer, false);
    }
    self->staged_timer_count = 0;
}

static void s_drop_staged (worker_t *self)
{
    for (size_t i = 0; i < self->out_count; i++) {
        free (self->outs[i].route);
        if (self->outs[i].pending)
            s_pending_destroy ((void **) &self->outs[i].pending);
        else
            free (self->outs[i].frame);
    }
    self->out_count = 0;
    for (size_t i = 0; i < self->staged_timer_count; i++)
        free (self->staged_timers[i].frame);
    self->staged_timer_count = 0;
}

static int s_load_outbox (void *arg, const char *stream, const uint8_t id[JOURNAL_ID_SIZE],
                          int64_t due, const uint8_t *value, size_t size)
{
    worker_t *self = arg;
    if (worker_of (self->config, stream) == self->index)
        s_pending_add (self, stream, value, size, s_now ());
    return 0;
}

static int s_load_timer (void *arg, const char *stream, const uint8_t id[JOURNAL_ID_SIZE],
                         int64_t due, const uint8_t *value, size_t size)
{
    worker_t *self = arg;
    envelope_t envelope;
    if (envelope_decode (&envelope, value, size) != 0) {
        self->stats->bad_frames++;
        return 0;
    }
    if (worker_of (self->config, envelope.to) != self->index)
        return 0;
    wtimer_t *timer = malloc (sizeof (wtimer_t));
    if (timer && (timer->frame = s_memdup (value, size))) {
        timer->due = due;
        timer->size = size;
        zlistx_insert (self->timers, timer, false);
    } else
        free (timer);
    return 0;
}

//  Forgets everything in memory and reloads what the journal holds:
//  at start, and after a failed commit.
static int s_reload (worker_t *self)
{
    zhashx_purge (self->actors);
    zhashx_purge (self->pending);
    zlistx_purge (self->timers);
    self->stats->active = 0;
    int rc = journal_outbox_scan (self->config->journal, s_load_outbox, self);
    if (rc == 0)
        rc = journal_timer_scan (self->config->journal, s_load_timer, self);
    self->stats->pending = zhashx_size (self->pending);
    return rc;
}

//  Drops everything staged in the batch and reloads from the journal, as
//  after a failed commit: nobody was told anything about it yet.
static void s_abort_batch (worker_t *self)
{
    s_drop_staged (self);
    journal_batch_clear (self->batch);
    //  Timers already fired into the local queue are re-armed by the
    //  reload; commands and replies in it come back through re-sends.
    zlistx_purge (self->local);
    self->batch_number++;
    self->turns = 0;
    if (s_reload (self) != 0)
        zsys_error ("worker %d: cannot reload from the journal", self->index);
}

static void s_commit (worker_t *self)
{
    if (self->turns == 0 && self->out_count == 0)
        return;
    size_t records = journal_batch_count (self->batch);
    int rc = records ? journal_batch_commit (self->batch) : 0;
    self->turns = 0;
    if (rc == 0) {
        if (records) {
            self->stats->commits++;
            self->stats->records += records;
        }
        self->batch_number++;
        s_release (self);
        return;
    }
    self->stats->failures++;
    zsys_error ("worker %d: commit failed (%s); reloading from the journal", self->index,
                shoal_strerror (rc));
    s_abort_batch (self);
}

//  --------------------------------------------------------------------------
//  Ticks: re-sends, timers, passivation

//  Tells the sender of a command unanswered for stall_ms, in a turn of its
//  own (kind SHOAL_STALLED: name = the command, data = {to, attempts,
//  since}). Derived from the pending table, not stored: after a restart a
//  command still unanswered is noticed again.
static void s_on_stalled (worker_t *self, pending_t *pending)
{
    envelope_t command;
    if (envelope_decode (&command, pending->frame, pending->size) != 0)
        return;
    int rc;
    actor_t *actor = s_actor_get (self, pending->sender, &rc);
    if (!actor)
        return;
    pending->stall_noticed = true;
    shoal_rec_t data;
    rec_init (&data);
    shoal_rec_str (&data, "to", command.to);
    shoal_rec_int (&data, "attempts", pending->attempt);
    shoal_rec_int (&data, "since", pending->created);
    envelope_t notice = {0};
    notice.kind = ENVELOPE_STALLED;
    envelope_new_id (notice.id);
    memcpy (notice.correlation, command.id, ENVELOPE_ID_SIZE);
    strcpy (notice.from, command.to);
    strcpy (notice.to, pending->sender);
    strcpy (notice.name, command.name);
    notice.payload = rec_finish (&data, &notice.payload_size);
    notice.created = s_now ();
    self->turns++;
    if (notice.payload && s_turn (self, actor, &notice, notice.created) == CTX_REJECTED)
        zsys_warning ("worker %d: %s refused the stall notice of %s: %s", self->index,
                      pending->sender, command.name, self->ctx.reason);
    rec_close (&data);
}

static void s_tick (worker_t *self)
{
    int64_t now = s_now ();
    while (zlistx_size (self->timers)) {
        wtimer_t *timer = zlistx_first (self->timers);
        if (timer->due > now)
            break;
        timer = zlistx_detach (self->timers, NULL);
        local_t *item = calloc (1, sizeof (local_t));
        if (item) {
            item->frame = timer->frame;
            item->size = timer->size;
            zlistx_add_end (self->local, item);
        } else
            free (timer->frame);
        free (timer);
    }
    if (now >= self->next_retry_tick) {
        self->next_retry_tick = now + RETRY_TICK_MS;
        zlistx_t *stalled = zlistx_new ();
        for (pending_t *pending = zhashx_first (self->pending); pending;
             pending = zhashx_next (self->pending)) {
            if (pending->next_due > now)
                continue;
            pending->attempt++;
            pending->next_due = now + s_retry_delay (self, pending->attempt);
            s_send (self, pending->dest, NULL, 0, pending->frame, pending->size);
            self->stats->resends++;
            if (!pending->stall_noticed && now - pending->created >= self->config->stall_ms)
                zlistx_add_end (stalled, pending);
        }
        //  Turns may change the pending table: notice outside the walk.
        //  An aborted batch frees the pending table: stop there.
        uint64_t batch = self->batch_number;
        for (pending_t *pending = zlistx_first (stalled); pending && batch == self->batch_number;
             pending = zlistx_next (stalled))
            s_on_stalled (self, pending);
        zlistx_destroy (&stalled);
    }
    if (now >= self->next_passivate_tick) {
        self->next_passivate_tick = now + PASSIVATE_TICK_MS;
        s_passivate (self, now);
    }
}

static long s_poll_timeout (worker_t *self)
{
    if (zlistx_size (self->local) || self->turns)
        return 0;
    int64_t now = s_now ();
    int64_t next = self->next_passivate_tick;
    if (zhashx_size (self->pending) && self->next_retry_tick < next)
        next = self->next_retry_tick;
    if (zlistx_size (self->timers)) {
        wtimer_t *timer = zlistx_first (self->timers);
        if (timer->due < next)
            next = timer->due;
    }
    return next <= now ? 0 : (long) (next - now);
}

//  Handles up to batch_max messages that are already waiting, and stops
//  early when the batch holds BATCH_BYTES_MAX.
static void s_drain (worker_t *self)
{
    void *pull = zsock_resolve (self->pull);
    zmq_msg_t route, frame;
    zmq_msg_init (&route);
    zmq_msg_init (&frame);
    for (int n = 0; n < self->config->batch_max; n++) {
        if (journal_batch_bytes (self->batch) >= BATCH_BYTES_MAX)
            break;
        local_t *item = zlistx_first (self->local);
        if (item) {
            item = zlistx_detach (self->local, NULL);
            s_on_frame (self, item->route, item->route_size, item->frame, item->size);
            s_local_destroy ((void **) &item);
            continue;
        }
        if (zmq_msg_recv (&route, pull, ZMQ_DONTWAIT) == -1)
            break;
        if (!zmq_msg_more (&route) || zmq_msg_recv (&frame, pull, 0) == -1) {
            self->stats->bad_frames++;
            continue;
        }
        while (zmq_msg_more (&frame)) //  extra frames: never sent by shoal
            zmq_msg_recv (&frame, pull, 0);
        if (zmq_msg_size (&route)) //  a client's, from the front
            self->stats->queued_bytes -= zmq_msg_size (&frame);
        s_on_frame (self, zmq_msg_data (&route), zmq_msg_size (&route), zmq_msg_data (&frame),
                    zmq_msg_size (&frame));
    }
    zmq_msg_close (&route);
    zmq_msg_close (&frame);
}

//  --------------------------------------------------------------------------
//  Set-up and the loop

static void s_worker_destroy (worker_t **self_p)
{
    worker_t *self = *self_p;
    if (!self)
        return;
    s_drop_staged (self);
    free (self->outs);
    free (self->staged_timers);
    zhashx_destroy (&self->actors);
    zhashx_destroy (&self->pending);
    zlistx_destroy (&self->timers);
    zlistx_destroy (&self->local);
    journal_batch_destroy (&self->batch);
    ctx_close (&self->ctx);
    zsock_destroy (&self->pull);
    zsock_destroy (&self->front);
    if (self->push)
        for (int i = 0; i < self->config->workers; i++)
            zsock_destroy (&self->push[i]);
    free (self->push);
    free (self);
    *self_p = NULL;
}

static zsock_t *s_push_new (const char *endpoint)
{
    zsock_t *push = zsock_new (ZMQ_PUSH);
    if (push) {
        zsock_set_sndhwm (push, 0);
        zsock_set_linger (push, 0);
        if (zsock_connect (push, "%s", endpoint) != 0)
            zsock_destroy (&push);
    }
    return push;
}

static worker_t *s_worker_new (const worker_config_t *config, int index)
{
    worker_t *self = calloc (1, sizeof (worker_t));
    if (!self)
        return NULL;
    self->config = config;
    self->index = index;
    self->stats = &config->stats[index];
    ctx_init (&self->ctx);
    self->actors = zhashx_new ();
    zhashx_set_destructor (self->actors, s_actor_destroy);
    zhashx_set_key_destructor (self->actors, NULL);
    zhashx_set_key_duplicator (self->actors, NULL);
    self->pending = zhashx_new ();
    zhashx_set_destructor (self->pending, s_pending_destroy);
    zhashx_set_key_hasher (self->pending, s_id_hash);
    zhashx_set_key_comparator (self->pending, s_id_compare);
    zhashx_set_key_destructor (self->pending, NULL);
    zhashx_set_key_duplicator (self->pending, NULL);
    self->timers = zlistx_new ();
    zlistx_set_destructor (self->timers, s_timer_destroy);
    zlistx_set_comparator (self->timers, s_timer_compare);
    self->local = zlistx_new ();
    zlistx_set_destructor (self->local, s_local_destroy);
    self->batch = journal_batch_new (config->journal);
    self->pull = zsock_new (ZMQ_PULL);
    self->push = calloc ((size_t) config->workers, sizeof (zsock_t *));
    if (!self->pull || !self->push || !self->batch) {
        s_worker_destroy (&self);
        return NULL;
    }
    //  The front's queue to us is bounded by both ends' marks; the other
    //  workers' pushes have none, so two workers can never block each other.
    zsock_set_rcvhwm (self->pull, 50000);
    if (zsock_bind (self->pull, "%s-w%d", config->prefix, index) != 0) {
        zsys_error ("worker %d: cannot bind its inproc socket", index);
        s_worker_destroy (&self);
        return NULL;
    }
    char endpoint[256];
    for (int i = 0; i < config->workers; i++) {
        if (i == index)
            continue;
        snprintf (endpoint, sizeof endpoint, "%s-w%d", config->prefix, i);
        if (!(self->push[i] = s_push_new (endpoint))) {
            s_worker_destroy (&self);
            return NULL;
        }
    }
    snprintf (endpoint, sizeof endpoint, "%s-front", config->prefix);
    if (!(self->front = s_push_new (endpoint)) || s_reload (self) != 0) {
        zsys_error ("worker %d: cannot connect or scan the journal", index);
        s_worker_destroy (&self);
        return NULL;
    }
    self->next_passivate_tick = s_now () + PASSIVATE_TICK_MS;
    self->batch_number = 1; //  a new actor's staged_in, 0, is no batch
    return self;
}

typedef struct {
    const worker_config_t *config;
    int index;
} worker_args_t;

static void s_worker_actor (zsock_t *pipe, void *arg)
{
    worker_args_t *args = arg;
    worker_t *self = s_worker_new (args->config, args->index);
    free (args);
    zsock_signal (pipe, 0); //  the handshake zactor_new waits for
    zsock_signal (pipe, self ? 0 : 1);
    if (!self)
        return;
    zmq_pollitem_t items[] = {{zsock_resolve (pipe), 0, ZMQ_POLLIN, 0},
                              {zsock_resolve (self->pull), 0, ZMQ_POLLIN, 0}};
    while (true) {
        int rc = zmq_poll (items, 2, s_poll_timeout (self));
        if (rc == -1 && zmq_errno () != EINTR)
            break;
        if (rc > 0 && (items[0].revents & ZMQ_POLLIN)) {
            char *command = zstr_recv (pipe);
            bool term = !command || streq (command, "$TERM");
            zstr_free (&command);
            if (term)
                break;
        }
        s_drain (self);
        s_commit (self);
        s_tick (self);
    }
    s_commit (self);
    s_worker_destroy (&self);
}

zactor_t *worker_new (const worker_config_t *config, int index)
{
    worker_args_t *args = malloc (sizeof (worker_args_t));
    if (!args)
        return NULL;
    args->config = config;
    args->index = index;
    zactor_t *actor = zactor_new (s_worker_actor, args);
    if (actor && zsock_wait (actor) != 0) //  the set-up's status
        zactor_destroy (&actor);
    return actor;
}
