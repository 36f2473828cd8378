/*  stage.c - staging a turn's effects in the worker's batch. See stage.h.

    Contract: after stage_effects returns 0, the actor's version counts the
    staged events, the journal batch holds every record of the turn, and
    the sends and timers wait in the worker for the commit; after an error
    the batch is as before, unless the caller is told to drop it. The
    worker thread owns everything staged.
*/
#include "stage.h"
#include "ctx.h"
#include "data.h"
#include "inbox.h"
#include "log.h"
#include "timers.h"
#include "worker_internal.h"
#include "strcopy.h"

#include <stdlib.h>
#include <string.h>

int stage_out (worker_t *self, int dest, const uint8_t *route, size_t route_size, uint8_t *frame,
               size_t size, pending_t *pending)
{
    if (self->out_count == self->out_cap) {
        size_t cap = self->out_cap ? self->out_cap * 2 : 256;
        out_t *outs = realloc (self->outs, cap * sizeof (out_t));
        if (!outs) {
            if (pending)
                outbox_pending_destroy ((void **) &pending);
            else
                free (frame);
            return SHOAL_ENOMEM;
        }
        self->outs = outs;
        self->out_cap = cap;
    }
    out_t *out = &self->outs[self->out_count++];
    out->dest = dest;
    out->route = route_size ? worker_memdup (route, route_size) : NULL;
    out->route_size = route_size;
    out->frame = frame;
    out->size = size;
    out->pending = pending;
    self->out_bytes += route_size + size;
    return 0;
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

//  Makes room for more staged timers. Returns 0 or SHOAL_ENOMEM.
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

//  Logs a snapshot of actor of size bytes, too big to be written: at
//  most once a second per worker, naming the last one and counting the
//  others.
static void s_snapshot_too_big (worker_t *self, const actor_t *actor, size_t size)
{
    static _Thread_local int64_t logged_at;
    static _Thread_local uint64_t times;
    uint64_t said;
    if (log_due (&logged_at, &times, 1000, &said))
        log_warn (
            "worker %d: %s: no snapshot written: the snapshot() of actor type '%s' "
            "wrote " CTX_TOO_BIG_TEXT "; its events keep its state, and its loads replay "
            "them all until a snapshot fits (snapshots too big since the last such line: %llu)",
            self->index, actor->address, actor->type->name, size, CTX_MAX_REC_BYTES,
            (unsigned long long) said);
}

//  Stages a snapshot of actor when snapshot_every events passed since its
//  last one. A snapshot that cannot be made (out of memory, a storage
//  error) is skipped: the next event tries again. One the module wrote
//  wrongly (a key twice) or too big (over CTX_MAX_REC_BYTES, as an event's
//  fields) is not written, is counted (snapshots_skipped) and logged
//  (a misuse once per type), and is tried again snapshot_every events
//  later: meanwhile replay grows with every event, but nothing is lost.
static void s_stage_snapshot (worker_t *self, actor_t *actor)
{
    shoal_rec_t snapshot;
    rec_init (&snapshot);
    actor->type->snapshot (actor->state, &snapshot);
    size_t size;
    const uint8_t *bytes = rec_finish (&snapshot, &size);
    const char *why = bytes ? NULL : rec_misuse (&snapshot);
    bool too_big = bytes && size > CTX_MAX_REC_BYTES;
    if (why && rec_misuse_once (actor->type, "snapshot"))
        log_warn ("actor type '%s': its snapshot() failed (%s), first at %s: no snapshot is "
                  "taken, and replay grows with every event, until the module is fixed",
                  actor->type->name, why, actor->address);
    if (too_big)
        s_snapshot_too_big (self, actor, size);
    if (why || too_big) {
        self->tally.snapshots_skipped++;      //  once, at the batch's release
        actor->snapshot_seq = actor->version; //  not tried again at every event
    } else if (bytes &&
               journal_batch_snapshot_versioned (self->batch, actor->address, actor->version,
                                                 actor->type->snapshot_version, bytes, size) == 0)
        actor->snapshot_seq = actor->version;
    rec_close (&snapshot);
}

int stage_effects (worker_t *self, actor_t *actor, const envelope_t *cause, int64_t now,
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
        //  A command that creates the stream: its inbox record goes in the
        //  first event (inbox.h).
        if (actor->version == 0 && cause->kind == ENVELOPE_COMMAND)
            rc = inbox_append_creating (self, actor, cause, events, ctx->event_count, now);
        else
            rc = journal_batch_append (self->batch, actor->address, actor->version, events,
                                       ctx->event_count, now, &actor->version);
        if (rc == 0) {
            self->tally.events += ctx->event_count;
            actor->staged_in = (uint32_t) self->batch_number;
        }
    }
    if (rc) {
        for (size_t i = 0; i < send_count; i++)
            free (sends[i].frame);
        for (size_t i = 0; i < timer_count; i++)
            free (timers[i].frame);
        return rc;
    }
    if (ctx->event_count && actor->type->snapshot && self->config->snapshot_every > 0 &&
        actor->version - actor->snapshot_seq >= self->config->snapshot_every)
        s_stage_snapshot (self, actor);
    for (size_t i = 0; i < send_count; i++) {
        if (rc == 0)
            rc = journal_batch_outbox_note (self->batch, actor->address, sends[i].id,
                                            sends[i].frame, sends[i].size);
        pending_t *pending = rc == 0 ? calloc (1, sizeof (pending_t)) : NULL;
        if (pending) {
            memcpy (pending->id, sends[i].id, ENVELOPE_ID_SIZE);
            str_copy (pending->sender, sizeof pending->sender, actor->address);
            pending->dest = sends[i].dest;
            pending->frame = sends[i].frame;
            pending->size = sends[i].size;
            pending->created = now;                             //  wall, as the envelope's
            pending->last_sent = worker_mono ();                //  monotonic (worker_clock.h)
            outbox_stall_from (self, pending, worker_clock ()); //  by the turn's clocks
            rc = stage_out (self, sends[i].dest, NULL, 0, sends[i].frame, sends[i].size, pending);
        } else {
            rc = rc ? rc : SHOAL_ENOMEM;
            free (sends[i].frame);
        }
    }
    //  Before this turn's timers are staged: a cancel is of earlier turns'.
    for (size_t i = 0; rc == 0 && i < ctx->cancel_count; i++)
        rc = timers_cancel (self, actor->address, ctx->cancels[i]);
    for (size_t i = 0; i < timer_count; i++) {
        if (rc == 0)
            rc = journal_batch_timer_put (self->batch, actor->address, timers[i].due, timers[i].id,
                                          timers[i].frame, timers[i].size);
        if (rc == 0)
            //  Its due time on the monotonic clock by the turn's own clocks
            //  (worker_clock.h): a step of the wall clock before the
            //  commit ends does not move it.
            self->staged_timers[self->staged_timer_count++] =
                (wtimer_t){.due = timers[i].due,
                           .fire = worker_wall_to_mono (worker_clock (), timers[i].due),
                           .frame = timers[i].frame,
                           .size = timers[i].size};
        else
            free (timers[i].frame);
    }
    *poisoned = rc != 0;
    return rc;
}

void stage_drop (worker_t *self)
{
    for (size_t i = 0; i < self->out_count; i++) {
        free (self->outs[i].route);
        if (self->outs[i].pending)
            outbox_pending_destroy ((void **) &self->outs[i].pending);
        else
            free (self->outs[i].frame);
    }
    self->out_count = 0;
    self->out_bytes = 0;
    for (size_t i = 0; i < self->staged_timer_count; i++)
        free (self->staged_timers[i].frame);
    self->staged_timer_count = 0;
}
