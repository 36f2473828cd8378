/*  turn.c - one turn of an actor, and its reply. See turn.h.

    Contract: a turn either stages all it decided (events, inbox record,
    outbox, timers, reply) in the worker's batch, or nothing of it; when
    the batch itself can no longer be trusted it is aborted and the worker
    reloaded. Runs on the worker thread, which owns the actor and the
    batch.
*/
#include "turn.h"
#include "janitor.h"
#include "actors.h"
#include "ctx.h"
#include "deadletter.h"
#include "repair.h"
#include "inbox.h"
#include "stage.h"
#include "timers.h"
#include "worker_internal.h"
#include "log.h"
#include "strcopy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TURN_AHEAD_MS 86400000 //  a client's command's created this far ahead of us at most

void turn_reply (worker_t *self, const uint8_t *route, size_t route_size, const envelope_t *request,
                 const uint8_t *payload, size_t payload_size)
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
    reply.created = worker_now ();
    int dest = route_size ? WORKER_FRONT : worker_of (self->config, request->from);
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
    stage_out (self, dest, route, route_size, frame, size, NULL);
}

//  Stages the error reply {code, reason} to request, not recorded in the
//  inbox.
static void s_error_reply (worker_t *self, const uint8_t *route, size_t route_size,
                           const envelope_t *request, const char *code, const char *reason)
{
    uint8_t *payload;
    size_t size;
    if (envelope_reply_encode (false, code, reason, NULL, 0, &payload, &size) == 0) {
        turn_reply (self, route, route_size, request, payload, size);
        free (payload);
    }
}

void turn_error (worker_t *self, const uint8_t *route, size_t route_size, const envelope_t *request,
                 const char *code, const char *reason)
{
    s_error_reply (self, route, route_size, request, code, reason);
    self->tally.rejected++;
}

//  A full disk said first, and what to do, rather than LevelDB's words and
//  a path that a reply's 255 bytes cut before the advice.
bool turn_disk_full (const char *cause, const char *what, char *text, size_t size)
{
    if (!strstr (cause, "No space left on device"))
        return false;
    snprintf (text, size,
              "%s: the node's disk is full (No space left on device): free room on it, and the "
              "node takes commands again by itself",
              what);
    return true;
}

const char *turn_store_why (worker_t *self, int rc, const char *what, char *text, size_t size)
{
    char cause[512] = ""; //  the journal's, whole: a full disk is said at its end
    if (rc == SHOAL_EIO)
        journal_last_error (self->config->journal, cause, sizeof cause);
    if (!turn_disk_full (cause, what, text, size))
        snprintf (text, size, "%s: %s%s%.160s%s", what, shoal_strerror (rc), cause[0] ? " (" : "",
                  cause, cause[0] ? ")" : "");
    return text;
}

//  A failure that may pass (storage trouble, an actor being reloaded, a
//  handler's error): a client is told and may retry. An actor is told too,
//  so that its pending command says why (LAST ERROR in shoal pending): its
//  node neither hands such an answer to it nor ends the command with it
//  (turn_on_reply, s_not_the_answer), and its outbox re-sends the command. It
//  was told nothing, and an operator saw a stalled command and no cause.
//  When the store cannot be read now (store_down: SHOAL_EIO), the turn,
//  like an aborted batch's, counts nothing, neither the message nor an
//  outcome: the command is counted once, when it is tried again. A
//  client's command refused otherwise counts as rejected, so that a
//  handler or a stream that keeps failing shows; unless the turn aborted
//  the batch, whose outcomes are counted when it comes again.
static void s_transient (worker_t *self, const uint8_t *route, size_t route_size,
                         const envelope_t *request, const char *code, const char *reason,
                         bool store_down)
{
    s_error_reply (self, route, route_size, request, code, reason);
    if (route_size || !request->from[0])
        self->tally.rejected += !store_down && !self->turn_uncounted;
    self->turn_uncounted |= store_down;
}

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
        ctx_reject_runtime (&self->ctx, "invalid_payload", "the payload of %s is not a map",
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
        rc = stage_effects (self, actor, envelope, now, &poisoned);
        if (rc) {
            ctx_reject_runtime (&self->ctx, rc == SHOAL_ECONFLICT ? "conflict" : "unavailable",
                                "could not stage the turn of %s: %s", actor->address,
                                shoal_strerror (rc));
            result = CTX_CORRUPT;
        }
        if (poisoned) {
            worker_abort_batch (self); //  drops every actor, this one included
            return CTX_CORRUPT;
        }
        if (rc == 0 && self->ctx.passivate)
            actor_table_ask_passivate (self, actor); //  out of memory: it stays until idle
    }
    if (result == CTX_CORRUPT) {
        //  Reloaded from the journal, an actor with events staged in this
        //  batch would decide on a state that misses them: drop the batch.
        if (actor_staged_in (actor, self->batch_number))
            worker_abort_batch (self);
        else
            actor_table_drop (self, actor->address);
    }
    return result;
}

//  Logs a handler's failure on a command (not a decision: an error, or a
//  state that could not be staged), at most once a second per worker
//  thread, with how many there were.
static void s_log_failure (worker_t *self, const envelope_t *envelope, const shoal_ctx_t *ctx)
{
    static _Thread_local int64_t logged_at;
    static _Thread_local uint64_t failures;
    uint64_t said;
    if (log_due (&logged_at, &failures, 1000, &said))
        log_warn ("worker %d: %s failed on %s: %s %s (%llu failures since the last such line)",
                  self->index, envelope->to, envelope->name, ctx->code, ctx->reason,
                  (unsigned long long) said);
}

//  Keeps how envelope's actor is failing (worker.h's failing), for `get`:
//  a sender that is an actor is told nothing, and re-sends.
static void s_note_failing (worker_t *self, const envelope_t *envelope, const shoal_ctx_t *ctx)
{
    failing_t *failing = zhashx_lookup (self->failing, envelope->to);
    int64_t now = worker_now ();
    if (!failing) {
        if (zhashx_size (self->failing) >= FAILING_MAX || !(failing = calloc (1, sizeof *failing)))
            return;
        failing->since = now;
        if (zhashx_insert (self->failing, envelope->to, failing) != 0) {
            free (failing);
            return;
        }
    }
    snprintf (failing->command, sizeof failing->command, "%s", envelope->name);
    snprintf (failing->code, sizeof failing->code, "%s", ctx->code);
    snprintf (failing->reason, sizeof failing->reason, "%s", ctx->reason);
    failing->last = now;
    failing->times++;
}

//  The same id came with another command or payload: an idempotency key
//  names one request, so this one is refused, naming the first, and
//  changes nothing (not recorded: the first's record stays).
static void s_id_reused (worker_t *self, const uint8_t *route, size_t route_size,
                         const envelope_t *envelope, const journal_request_t *first)
{
    char hex[2 * ENVELOPE_ID_SIZE + 1];
    for (size_t i = 0; i < ENVELOPE_ID_SIZE; i++)
        snprintf (hex + 2 * i, 3, "%02x", envelope->id[i]);
    char reason[ENVELOPE_REASON_MAX + 1];
    if (first->name[0] && strcmp (first->name, envelope->name) != 0)
        snprintf (reason, sizeof reason,
                  "id %s was used for %s, not %s; use a new id for a new command", hex, first->name,
                  envelope->name);
    else
        snprintf (reason, sizeof reason, "id %s was used for %s with other fields; use a new id",
                  hex, first->name[0] ? first->name : envelope->name);
    turn_error (self, route, route_size, envelope, "id_reused", reason);
}

void turn_on_command (worker_t *self, const uint8_t *route, size_t route_size,
                      const envelope_t *envelope, uint8_t via)
{
    int64_t now = worker_now ();
    uint8_t *stored;
    size_t stored_size;
    journal_request_t first;
    journal_request_t request = {
        journal_request_digest (envelope->name, envelope->payload, envelope->payload_size), ""};
    str_copy (request.name, sizeof request.name, envelope->name);
    //  A command's first send, right after its sender's commit, cannot
    //  have been seen: only its sender had its id until then.
    bool local = via && envelope->from[0];
    int found = local && via == WORKER_ROUTE_FIRST
                    ? SHOAL_ENOTFOUND
                    : inbox_find (self, envelope->to, envelope->id, &stored, &stored_size, &first);
    if (found == 0) {
        if (first.digest && first.digest != request.digest) {
            free (stored);
            s_id_reused (self, route, route_size, envelope, &first);
            return;
        }
        turn_reply (self, route, route_size, envelope, stored, stored_size);
        self->turn_cancelled = repair_reply_cancelled (stored, stored_size);
        free (stored);
        self->tally.duplicates++;
        return;
    }
    if (found != SHOAL_ENOTFOUND) { //  unreadable: it may have run, so don't run it
        char why[ENVELOPE_REASON_MAX + 1];
        const char *refused = actor_load_refused (self, envelope->to, found);
        s_transient (self, route, route_size, envelope, "unavailable",
                     refused ? refused
                             : turn_store_why (self, found, "its inbox record cannot be read", why,
                                               sizeof why),
                     found == SHOAL_EIO);
        return;
    }
    //  Its inbox record may have been pruned: refuse rather than risk a
    //  second effect (see docs/DESIGN-NOTES.md, "Inbox retention").
    if (envelope->created < janitor_expired_before (self->config, now)) {
        turn_error (self, route, route_size, envelope, "expired",
                    "the command is older than the inbox retention: this copy was not run, and "
                    "whether an earlier one ran cannot be told");
        self->tally.expired++;
        return;
    }
    //  Its record is kept from the later of its created and our clock: a
    //  client's created years ahead kept it for years, and a client could
    //  fill the store with records no janitor prunes. A day of skew is
    //  taken; past it, nothing is run or kept (an actor's command has its
    //  node's clock: not judged here).
    if (route_size && (int64_t) envelope->created - now > TURN_AHEAD_MS) {
        char reason[ENVELOPE_REASON_MAX + 1];
        snprintf (reason, sizeof reason,
                  "field 'created': %" PRId64 " ms ahead of this node's clock, more than a "
                  "day: it is the first send's time in ms since the epoch (a clock that far "
                  "off?); nothing was run",
                  (int64_t) envelope->created - now);
        turn_error (self, route, route_size, envelope, "bad_frame", reason);
        return;
    }
    int rc;
    actor_t *actor = actor_table_get (self, envelope->to, &rc);
    if (!actor) {
        if (rc == SHOAL_ENOTFOUND && registry_stored (self->config->registry, envelope->to))
            //  The store holds the type's streams: its module was left out
            //  of this start (node_note_stored_types). Not for good: a
            //  saga would fail a transfer that the module, back, runs.
            s_transient (self, route, route_size, envelope, "unavailable",
                         "the store holds actors of this type, and this node started without the "
                         "module that registers it: ask again once it is started with it",
                         false);
        else if (rc == SHOAL_ENOTFOUND && self->config->cluster) {
            //  A client that reached this node itself (a node it forwards
            //  to says unavailable: front_calls_relay): the cluster's other
            //  nodes may register the type, this one started without it.
            char reason[ENVELOPE_REASON_MAX + 1];
            snprintf (reason, sizeof reason,
                      "no actor type is registered for this address on node %s (if the "
                      "cluster's other nodes register it, this one was started without their "
                      "module: shoal cluster status says so)",
                      cluster_node_name (self->config->cluster, self->config->self_node));
            turn_error (self, route, route_size, envelope, "unknown_type", reason);
        } else if (rc == SHOAL_ENOTFOUND)
            turn_error (self, route, route_size, envelope, "unknown_type",
                        "no actor type is registered for this address");
        else {
            const char *refused = actor_load_refused (self, envelope->to, rc);
            s_transient (self, route, route_size, envelope, "unavailable",
                         refused ? refused : shoal_strerror (rc), rc == SHOAL_EIO);
        }
        return;
    }
    int result = s_turn (self, actor, envelope, now);
    shoal_ctx_t *ctx = &self->ctx;
    //  A failure, unlike a decision, had no effect and may pass: it is not
    //  stored, so a retry runs the command again.
    if (result == CTX_CORRUPT || (result == CTX_REJECTED && ctx->failed)) {
        s_log_failure (self, envelope, ctx);
        s_note_failing (self, envelope, ctx);
        s_transient (self, route, route_size, envelope, ctx->code, ctx->reason, false);
        return;
    }
    if (zhashx_size (self->failing))
        zhashx_delete (self->failing, envelope->to); //  its commands go through again
    uint8_t *payload;
    size_t payload_size;
    if (result == CTX_ACCEPTED) {
        size_t size;
        const uint8_t *data = rec_finish (&ctx->reply, &size);
        rc = envelope_reply_encode (true, NULL, NULL, data, size, &payload, &payload_size);
        self->tally.accepted++;
    } else {
        rc =
            envelope_reply_encode (false, ctx->code, ctx->reason, NULL, 0, &payload, &payload_size);
        self->tally.rejected++;
    }
    //  The record lives at least as long as the command can be retried:
    //  retries are refused as expired by the command's created time, which
    //  a client's clock may have set ahead of ours.
    int64_t recorded = envelope->created > now ? envelope->created : now;
    //  ctx_run bounded the reply's fields, so only memory can fail here;
    //  the turn's events are staged, so the batch must go.
    if (rc == 0 &&
        inbox_record (self, envelope, local, payload, payload_size, recorded, &request) != 0) {
        free (payload);
        rc = SHOAL_ENOMEM;
    }
    if (rc) {
        worker_abort_batch (self);
        return;
    }
    turn_reply (self, route, route_size, envelope, payload, payload_size);
    free (payload);
}

void turn_forged (worker_t *self, const envelope_t *envelope, const char *what, const char *only)
{
    self->stats->forged++;
    int64_t now = zclock_mono ();
    if (now - self->forged_at < 1000)
        return;
    self->forged_at = now;
    log_warn ("worker %d: refused %s %s to %s from %s: it is taken from %s only", self->index, what,
              envelope->name, envelope->to, envelope->from[0] ? envelope->from : "\"\"", only);
}

//  A refusal that is not its command's answer, which the sender would
//  take for the command's fate; kept as the pending entry's last error
//  (shoal pending's LAST ERROR), and the command re-sent. Two kinds:
//  - one that does not settle its command (busy, unavailable, a failed
//    turn's handler_error or conflict, key_revoked: envelope_code_settles):
//    its target did not run it, and a copy may yet run;
//  - unknown_type for a type this node registers: the target's node runs
//    without a module this node has (restarted without its --module,
//    say). Its node is wrong, not the command: a saga took it for its
//    fate and compensated what would have run. The command runs once
//    that node has the module again.
//  Returns true if reply (a refusal, code and reason) is one of them.
static bool s_not_the_answer (worker_t *self, pending_t *pending, const envelope_t *reply,
                              const char *code, const char *reason)
{
    char error[sizeof pending->error];
    if (streq (code, "unknown_type") && registry_lookup (self->config->registry, reply->from)) {
        int type_len = (int) (strchr (reply->from, '/') - reply->from);
        snprintf (error, sizeof error,
                  "its node registers no type '%.*s', which the sender's does: started without "
                  "its module?",
                  type_len, reply->from);
        if (!streq (pending->error, error)) //  said once, not at every re-send
            log_warn ("worker %d: %s's node refused %s from %s as unknown_type, a type this "
                      "node registers: is it running without the module? Kept pending and "
                      "re-sent",
                      self->index, reply->from, reply->name, reply->to);
    } else if (envelope_code_settles (code))
        return false;
    else if (snprintf (error, sizeof error, "its target refused it for now: %s: %s", code,
                       reason) >= (int) sizeof error)
        strcpy (error + sizeof error - 4, "..."); //  the reason's end cut
    memcpy (pending->error, error, sizeof error);
    return true;
}

void turn_on_reply (worker_t *self, const envelope_t *envelope)
{
    pending_t *pending = outbox_pending_find (self, envelope->correlation);
    if (!pending || strcmp (pending->sender, envelope->to) != 0) {
        self->tally.duplicates++;
        return;
    }
    if (!outbox_pending_answered_by (pending, envelope->from)) {
        turn_forged (self, envelope, "a reply", "the actor its command went to");
        return;
    }
    char code[ENVELOPE_CODE_MAX + 1], reason[ENVELOPE_REASON_MAX + 1];
    if (envelope_reply_refusal (envelope->payload, envelope->payload_size, code, reason) &&
        s_not_the_answer (self, pending, envelope, code, reason))
        return;
    if (repair_reply_untellable (envelope)) { //  kept for an operator (repair.h)
        repair_mark_untellable (self, pending, envelope->from);
        return;
    }
    int rc;
    actor_t *actor = actor_table_get (self, envelope->to, &rc);
    if (!actor) { //  retried: the pending entry stays and the command is re-sent
        snprintf (pending->error, sizeof pending->error,
                  "its reply came; the sender cannot load: %.64s", shoal_strerror (rc));
        self->turn_uncounted |= rc == SHOAL_EIO; //  counted when it comes again
        return;
    }
    int64_t now = worker_now ();
    outbox_reply_sample (self, (double) (worker_mono () - pending->sent_at));
    int result = s_turn (self, actor, envelope, now);
    if (result == CTX_CORRUPT)
        return;
    if (result == CTX_REJECTED && self->ctx.failed) {
        //  Not a decision: keep the entry; the re-sent command brings the
        //  reply again (and a stall notice if it keeps failing).
        log_warn ("worker %d: %s failed on the reply to %s: %s", self->index, envelope->to,
                  envelope->name, self->ctx.reason);
        snprintf (pending->error, sizeof pending->error,
                  "its reply came; the sender failed on it: %.80s", self->ctx.reason);
        return;
    }
    if (result == CTX_REJECTED)
        log_warn ("worker %d: %s refused the reply to %s: %s", self->index, envelope->to,
                  envelope->name, self->ctx.reason);
    self->tally.replies++;
    if (pending->stall_noticed && self->forcing)
        log_info ("command %s from %s to %s is ended by an operator's resolve after %lld ms, "
                  "without its reply",
                  envelope->name, envelope->to, envelope->from,
                  (long long) (now - pending->created));
    else if (pending->stall_noticed)
        log_info ("command %s from %s to %s is un-stalled: its reply came after %lld ms",
                  envelope->name, envelope->to, envelope->from,
                  (long long) (now - pending->created));
    outbox_forget (self, pending);
}

void turn_on_timer (worker_t *self, const envelope_t *envelope, const uint8_t *frame, size_t size)
{
    if (!streq (envelope->from, envelope->to)) {
        turn_forged (self, envelope, "a timer", "its own actor");
        return;
    }
    int rc;
    uint64_t batch = self->batch_number;
    actor_t *actor = actor_table_get (self, envelope->to, &rc);
    int result = actor ? s_turn (self, actor, envelope, worker_now ()) : CTX_CORRUPT;
    if (result == CTX_CORRUPT || (result == CTX_REJECTED && self->ctx.failed)) {
        //  After an abort the reload re-armed it from the journal already.
        if (batch == self->batch_number)
            timers_retry (self, frame, size);
        return;
    }
    if (result == CTX_REJECTED)
        log_warn ("worker %d: %s refused its timer %s: %s", self->index, envelope->to,
                  envelope->name, self->ctx.reason);
    journal_batch_timer_del (self->batch, envelope->to, envelope->created, envelope->id);
}

//  The notice is derived from the pending table, not stored: after a
//  restart a command still unanswered is noticed again.
void turn_on_stalled (worker_t *self, pending_t *pending)
{
    envelope_t command;
    if (envelope_decode (&command, pending->frame, pending->size) != 0)
        return;
    int rc;
    actor_t *actor = actor_table_get (self, pending->sender, &rc);
    if (!actor)
        return;
    pending->stall_noticed = true;
    log_warn ("command %s from %s to %s is stalled: unanswered for %lld ms, sent %u times",
              command.name, pending->sender, command.to,
              (long long) (worker_now () - pending->created), pending->attempt + 1);
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
    notice.created = worker_now ();
    self->turns++;
    //  A notice is a turn like any other: it may crash the node, and be
    //  set aside (deadletter.h); it is not kept in the turn file, as it is
    //  derived again after a restart.
    turnfile_t *file = self->config->turn_files ? self->config->turn_files[self->index] : NULL;
    if (notice.payload && !deadletter_stop (self, NULL, 0, &notice)) {
        self->turn_cancelled = false; //  the last frame's: a notice is answered from no record
        turnfile_begin (file, &notice, NULL, 0, notice.created, zclock_mono ());
        int result = s_turn (self, actor, &notice, notice.created);
        turnfile_end (file);
        deadletter_survived (self, &notice);
        if (result == CTX_REJECTED)
            log_warn ("worker %d: %s refused the stall notice of %s: %s", self->index, notice.to,
                      command.name, self->ctx.reason);
    }
    rec_close (&data);
}
