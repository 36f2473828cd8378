/*  repair.c - the pending query and the operator's control commands. See
    repair.h.

    Contract: a control command stages all it decided (the $Resolved
    event, the $cancel outbox entry, inbox records, the reply) in the
    worker's batch, or nothing of it; nothing leaves before the commit.
    Runs on the worker thread, which owns the pending table, the timers
    and the actors it touches.
*/
#include "repair.h"
#include "signer.h"
#include "queryargs.h"
#include "data.h"
#include "inbox.h"
#include "log.h"
#include "peers.h"
#include "placement.h"
#include "stage.h"
#include "turn.h"
#include "worker_internal.h"

#include <ctype.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void repair_hex (const uint8_t id[ENVELOPE_ID_SIZE], char hex[2 * ENVELOPE_ID_SIZE + 1])
{
    for (int i = 0; i < ENVELOPE_ID_SIZE; i++)
        snprintf (hex + 2 * i, 3, "%02x", id[i]);
}

int repair_unhex (const char *hex, uint8_t id[ENVELOPE_ID_SIZE])
{
    if (strlen (hex) != 2 * ENVELOPE_ID_SIZE)
        return SHOAL_EINVAL;
    for (int i = 0; i < ENVELOPE_ID_SIZE; i++) {
        unsigned value;
        if (sscanf (hex + 2 * i, "%2x", &value) != 1 || !isxdigit ((unsigned char) hex[2 * i]) ||
            !isxdigit ((unsigned char) hex[2 * i + 1]))
            return SHOAL_EINVAL;
        id[i] = (uint8_t) value;
    }
    return 0;
}

int repair_cancel_of (const envelope_t *envelope, uint8_t id[ENVELOPE_ID_SIZE])
{
    if (envelope->kind != ENVELOPE_COMMAND || !streq (envelope->name, REPAIR_CANCEL))
        return SHOAL_EINVAL;
    shoal_data_t args;
    char hex[2 * ENVELOPE_ID_SIZE + 1] = "";
    int rc = data_init (&args, envelope->payload, envelope->payload_size);
    if (rc == 0)
        rc = shoal_data_str (&args, "id", hex, sizeof hex);
    data_close (&args);
    return rc == 0 ? repair_unhex (hex, id) : SHOAL_EINVAL;
}

//  --------------------------------------------------------------------------
//  The pending query

static void s_pack_str (msgpack_packer *pk, const char *key, const char *value)
{
    msgpack_pack_str_with_body (pk, key, strlen (key));
    msgpack_pack_str_with_body (pk, value, strlen (value));
}

static void s_pack_int (msgpack_packer *pk, const char *key, int64_t value)
{
    msgpack_pack_str_with_body (pk, key, strlen (key));
    msgpack_pack_int64 (pk, value);
}

static void s_pack_bool (msgpack_packer *pk, const char *key, bool value)
{
    msgpack_pack_str_with_body (pk, key, strlen (key));
    value ? msgpack_pack_true (pk) : msgpack_pack_false (pk);
}

//  One row: what pending waits for, its times as wall-clock ms since the
//  epoch (its last send, kept on the monotonic clock, as seen at now).
//  Returns false if its frame does not decode (then nothing was packed).
static bool s_pack_row (worker_t *self, msgpack_packer *pk, const pending_t *pending,
                        worker_clock_t now, bool stalled)
{
    envelope_t command;
    if (envelope_decode (&command, pending->frame, pending->size) != 0)
        return false;
    char hex[2 * ENVELOPE_ID_SIZE + 1];
    repair_hex (pending->id, hex);
    msgpack_pack_map (pk, pending->is_cancel ? 12 : 11);
    s_pack_str (pk, "sender", pending->sender);
    s_pack_str (pk, "command", command.name);
    s_pack_str (pk, "target", command.to);
    s_pack_str (pk, "id", hex);
    s_pack_int (pk, "attempts", pending->attempt + 1);
    s_pack_int (pk, "first_sent", pending->created);
    s_pack_int (pk, "last_sent",
                pending->last_sent ? worker_mono_to_wall (now, pending->last_sent)
                                   : pending->created);
    s_pack_bool (pk, "stalled", stalled);
    s_pack_bool (pk, "cancelling", pending->cancelling);
    s_pack_str (pk, "error", pending->error);
    s_pack_int (pk, "worker", self->index);
    if (pending->is_cancel) {
        repair_hex (pending->cancels, hex);
        s_pack_str (pk, "cancels", hex);
    }
    return true;
}

//  The timers of address, as [{name, due}], at most REPAIR_ROWS_MAX.
static void s_pack_timers (worker_t *self, msgpack_sbuffer *out, const char *address)
{
    msgpack_sbuffer rows;
    msgpack_sbuffer_init (&rows);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &rows, msgpack_sbuffer_write);
    size_t count = 0;
    const wtimer_t *timer;
    for (timer = timers_of (self, address); timer && count < REPAIR_ROWS_MAX; timer = timer->next) {
        envelope_t envelope;
        if (envelope_decode (&envelope, timer->frame, timer->size) != 0)
            continue;
        msgpack_pack_map (&pk, 2);
        s_pack_str (&pk, "name", envelope.name);
        s_pack_int (&pk, "due", timer->due);
        count++;
    }
    msgpack_packer opk;
    msgpack_packer_init (&opk, out, msgpack_sbuffer_write);
    msgpack_pack_array (&opk, count);
    msgpack_sbuffer_write (out, rows.data, rows.size);
    msgpack_sbuffer_destroy (&rows);
}

int repair_pending (worker_t *self, const envelope_t *envelope, shoal_rec_t *out, char *why,
                    size_t why_size)
{
    bool only_stalled = false;
    int64_t limit = REPAIR_ROWS_MAX;
    shoal_data_t args;
    int wrong = 0;
    if (data_init (&args, envelope->payload, envelope->payload_size) == 0 &&
        (wrong = queryargs_bool (&args, "stalled", &only_stalled, why, why_size)) == 0)
        wrong = queryargs_int (&args, "limit", &limit, why, why_size);
    data_close (&args);
    if (wrong)
        return wrong;
    if (limit < 0 || limit > REPAIR_ROWS_MAX)
        limit = REPAIR_ROWS_MAX;
    //  "node/..." asks for the whole worker; an address for its own rows,
    //  of a type the node registers (else unknown_type, as get and events).
    bool all = strncmp (envelope->to, "node/", 5) == 0;
    if (!all && !registry_lookup (self->config->registry, envelope->to))
        return SHOAL_ENOTFOUND;
    worker_clock_t now = worker_clock ();
    //  The gauge counts what this answer calls stalled before it leaves.
    outbox_count_stalled (self, now);
    msgpack_sbuffer rows;
    msgpack_sbuffer_init (&rows);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &rows, msgpack_sbuffer_write);
    size_t count = 0, truncated = 0, cursor = 0;
    for (pending_t *pending = outbox_pending_next (self, &cursor); pending;
         pending = outbox_pending_next (self, &cursor)) {
        if (!all && !streq (pending->sender, envelope->to))
            continue;
        bool stalled = pending->past_stall; //  as the gauge counts it, just above
        if (only_stalled && !stalled)
            continue;
        if ((int64_t) count >= limit)
            truncated++;
        else if (s_pack_row (self, &pk, pending, now, stalled))
            count++;
    }
    msgpack_sbuffer array;
    msgpack_sbuffer_init (&array);
    msgpack_packer apk;
    msgpack_packer_init (&apk, &array, msgpack_sbuffer_write);
    msgpack_pack_array (&apk, count);
    msgpack_sbuffer_write (&array, rows.data, rows.size);
    if (!all)
        shoal_rec_str (out, "address", envelope->to);
    rec_raw (out, "pending", (const uint8_t *) array.data, array.size);
    shoal_rec_int (out, "truncated", (int64_t) truncated);
    shoal_rec_int (out, "stall_ms", self->config->stall_ms);
    shoal_rec_int (out, "now", now.wall);
    if (!all) {
        msgpack_sbuffer timers;
        msgpack_sbuffer_init (&timers);
        s_pack_timers (self, &timers, envelope->to);
        rec_raw (out, "timers", (const uint8_t *) timers.data, timers.size);
        msgpack_sbuffer_destroy (&timers);
    }
    msgpack_sbuffer_destroy (&array);
    msgpack_sbuffer_destroy (&rows);
    return out->error;
}

//  --------------------------------------------------------------------------
//  Control commands

//  Stages an accepted reply with the fields of data (finished here).
static void s_accept (worker_t *self, const uint8_t *route, size_t route_size,
                      const envelope_t *request, shoal_rec_t *data)
{
    size_t size;
    const uint8_t *bytes = rec_finish (data, &size);
    uint8_t *payload;
    size_t payload_size;
    if (bytes &&
        envelope_reply_encode (true, NULL, NULL, bytes, size, &payload, &payload_size) == 0) {
        turn_reply (self, route, route_size, request, payload, payload_size);
        free (payload);
        self->tally.accepted++;
    } else
        turn_error (self, route, route_size, request, "unavailable", "out of memory");
}

//  True if pending's target is another node's whose link is down: its
//  re-send is dropped until the link is back (the outbox sends it then).
static bool s_to_node_down (const worker_t *self, const pending_t *pending)
{
    const worker_config_t *config = self->config;
    envelope_t command;
    if (!config->peers || envelope_decode (&command, pending->frame, pending->size) != 0 ||
        worker_of (config, command.to) != WORKER_REMOTE)
        return false;
    int node = cluster_owner (config->cluster,
                              worker_shard (command.to, cluster_shards (config->cluster)));
    peers_link_t link;
    peers_link (config->peers, node, &link);
    return !link.up;
}

//  $resend: the actor's pending commands are due now. O(pending): an
//  operator's command, not a tick's work. The reply counts those whose
//  target's node is down too: they go once it is back (it said them
//  re-sent, as if they had gone).
static void s_resend (worker_t *self, const uint8_t *route, size_t route_size,
                      const envelope_t *request)
{
    int64_t now = worker_mono (), count = 0, down = 0; //  re-sends are monotonic (worker_clock.h)
    size_t cursor = 0;
    for (pending_t *pending = outbox_pending_next (self, &cursor); pending;
         pending = outbox_pending_next (self, &cursor))
        if (streq (pending->sender, request->to) && outbox_resendable (pending)) {
            outbox_due_at (self, pending, now);
            count++;
            down += s_to_node_down (self, pending);
        }
    self->next_retry_tick = now; //  at the end of this loop
    signer_t signer;
    char signed_by[SIGNER_TEXT_MAX];
    signer_read (request, &signer);
    signer_text ("an operator", &signer, signed_by, sizeof signed_by);
    log_info ("worker %d: %s re-sends the %lld pending commands of %s (%lld to nodes down)",
              self->index, signed_by, (long long) count, request->to, (long long) down);
    shoal_rec_t data;
    rec_init (&data);
    shoal_rec_str (&data, "address", request->to);
    shoal_rec_int (&data, "resent", count);
    shoal_rec_int (&data, "to_nodes_down", down);
    s_accept (self, route, route_size, request, &data);
    rec_close (&data);
}

typedef struct {
    char id[2 * ENVELOPE_ID_SIZE + 1];
    char code[ENVELOPE_CODE_MAX + 1];
    char reason[ENVELOPE_REASON_MAX + 1];
    char operator[64];
    signer_t signer;                 //  the node's word on who (signer.h)
    char signed_by[SIGNER_TEXT_MAX]; //  operator and signer, for the log
    bool force;
    bool accept;       //  the command ran, as the operator found (its target cannot tell)
    int64_t silent_ms; //  how long the target's node must have been silent for force
    uint8_t command_id[ENVELOPE_ID_SIZE];
} resolve_args_t;

//  Reads $resolve's {id, code, reason, operator, force, silent_ms}.
//  Returns NULL or what is wrong.
static const char *s_resolve_args (const envelope_t *request, resolve_args_t *args)
{
    shoal_data_t data;
    const char *wrong = NULL;
    memset (args, 0, sizeof *args);
    if (data_init (&data, request->payload, request->payload_size) != 0)
        wrong = "the payload is not a map";
    else if (shoal_data_str (&data, "id", args->id, sizeof args->id) != 0 ||
             repair_unhex (args->id, args->command_id) != 0)
        wrong = "id must be the command's message id, 32 hex digits";
    else if (shoal_data_str (&data, "code", args->code, sizeof args->code) != 0 || !args->code[0] ||
             shoal_name_check (args->code, strlen (args->code)) != 0)
        wrong = "code must be 1 to 63 printable characters without spaces";
    else if (envelope_code_reserved (args->code))
        wrong = "code must be one of the operator's own: the runtime answers with this one "
                "itself, and its senders read it so (a transfer stays stalled on expired)";
    else if (shoal_data_str (&data, "reason", args->reason, sizeof args->reason) != 0 ||
             !args->reason[0])
        wrong = "reason must be a text of 1 to 255 bytes";
    //  An operator that is there but unreadable is refused, not taken as
    //  "unknown": the record would name no one, or someone else.
    int operator_rc =
        wrong ? 0 : shoal_data_str (&data, "operator", args->operator, sizeof args->operator);
    if (operator_rc == SHOAL_ENOTFOUND || (operator_rc == 0 && !args->operator[0]))
        snprintf (args->operator, sizeof args->operator, "unknown");
    else if (operator_rc != 0)
        wrong = "operator must be a text of at most 63 bytes";
    char force_why[64];
    if (!wrong && queryargs_bool (&data, "force", &args->force, force_why, sizeof force_why))
        wrong = "force must be true or false";
    if (!wrong && queryargs_bool (&data, "accept", &args->accept, force_why, sizeof force_why))
        wrong = "accept must be true or false";
    if (!wrong && args->accept && args->force)
        wrong = "accept and force do not go together: accept says the command ran, force that "
                "it is ended without its target";
    args->silent_ms = REPAIR_FORCE_SILENT_MS;
    if (!wrong &&
        (queryargs_int (&data, "silent_ms", &args->silent_ms, force_why, sizeof force_why) ||
         args->silent_ms < 0 || args->silent_ms > REPAIR_FORCE_SILENT_MAX_MS))
        wrong = "silent_ms must be an integer from 0 to 86400000";
    data_close (&data);
    signer_t *signer = &args->signer;
    signer_read (request, signer);
    signer_text (args->operator, signer, args->signed_by, sizeof args->signed_by);
    return wrong;
}

//  Stages the $Resolved event on actor's stream. Returns 0 or an error
//  (nothing staged).
static int s_stage_record (worker_t *self, actor_t *actor, const resolve_args_t *args,
                           const envelope_t *command, int64_t now)
{
    shoal_rec_t record;
    rec_init (&record);
    shoal_rec_str (&record, "id", args->id);
    shoal_rec_str (&record, "command", command->name);
    shoal_rec_str (&record, "target", command->to);
    shoal_rec_str (&record, "code", args->code);
    shoal_rec_str (&record, "reason", args->reason);
    shoal_rec_str (&record, "operator", args->operator);
    signer_rec (&args->signer, &record);
    shoal_rec_int (&record, "at", now);
    shoal_rec_bool (&record, "force", args->force);
    if (args->accept)
        shoal_rec_bool (&record, "accept", true);
    journal_event_t event = {.name = REPAIR_RESOLVED};
    event.data = rec_finish (&record, &event.size);
    int rc = event.data ? journal_batch_append (self->batch, actor->address, actor->version, &event,
                                                1, now, &actor->version)
                        : SHOAL_ENOMEM;
    if (rc == 0) {
        actor->staged_in = self->batch_number;
        self->tally.events++;
    }
    rec_close (&record);
    return rc;
}

//  Stages the $cancel of pending's command (to command->to) in actor's
//  outbox, to be sent after the commit and re-sent until answered. A
//  forced one says so in its fields ("forced": its target's answer is
//  checked, repair_on_cancel_reply). Returns 0 or an error.
static int s_stage_cancel (worker_t *self, actor_t *actor, const resolve_args_t *args,
                           const envelope_t *command, int64_t now, bool forced)
{
    shoal_rec_t fields;
    rec_init (&fields);
    shoal_rec_str (&fields, "id", args->id);
    shoal_rec_str (&fields, "code", args->code);
    char reason[ENVELOPE_REASON_MAX + 1];
    snprintf (reason, sizeof reason, REPAIR_CANCEL_REASON "%.200s", args->reason);
    shoal_rec_str (&fields, "reason", reason);
    if (forced)
        shoal_rec_bool (&fields, "forced", true);
    //  The command's first send: its target cannot tell whether a command
    //  older than its inbox retention ran (its record may be pruned).
    shoal_rec_int (&fields, "created", command->created);
    envelope_t cancel = {0};
    cancel.kind = ENVELOPE_COMMAND;
    envelope_new_id (cancel.id);
    memcpy (cancel.causation, command->id, ENVELOPE_ID_SIZE);
    strcpy (cancel.from, actor->address);
    strcpy (cancel.to, command->to);
    strcpy (cancel.name, REPAIR_CANCEL);
    cancel.payload = rec_finish (&fields, &cancel.payload_size);
    cancel.created = now;
    uint8_t *frame = NULL;
    size_t size;
    int rc = cancel.payload ? envelope_encode (&cancel, &frame, &size) : SHOAL_ENOMEM;
    rec_close (&fields);
    if (rc == 0)
        rc = journal_batch_outbox_note (self->batch, actor->address, cancel.id, frame, size);
    pending_t *pending = rc == 0 ? calloc (1, sizeof (pending_t)) : NULL;
    if (!pending) {
        free (frame);
        return rc ? rc : SHOAL_ENOMEM;
    }
    memcpy (pending->id, cancel.id, ENVELOPE_ID_SIZE);
    snprintf (pending->sender, sizeof pending->sender, "%s", actor->address);
    pending->dest = worker_of (self->config, command->to);
    pending->frame = frame;
    pending->size = size;
    pending->created = now;                             //  wall, as the envelope's
    pending->last_sent = worker_mono ();                //  monotonic (worker_clock.h)
    outbox_stall_from (self, pending, worker_clock ()); //  by the turn's clocks
    pending->is_cancel = true;
    pending->stall_noticed = true; //  the saga knows nothing of it
    memcpy (pending->cancels, command->id, ENVELOPE_ID_SIZE);
    return stage_out (self, pending->dest, NULL, 0, frame, size, pending);
}

//  The actor's turn on a reply {ok, code, reason} to its command, as if
//  the target had sent it. Returns true if the command's entry is gone.
bool repair_hand_reply (worker_t *self, const pending_t *pending, const envelope_t *command,
                        const uint8_t *payload, size_t size)
{
    uint8_t id[ENVELOPE_ID_SIZE];
    memcpy (id, pending->id, sizeof id);
    envelope_t reply = {0};
    reply.kind = ENVELOPE_REPLY;
    envelope_new_id (reply.id);
    memcpy (reply.correlation, id, ENVELOPE_ID_SIZE);
    memcpy (reply.causation, id, ENVELOPE_ID_SIZE);
    strcpy (reply.from, command->to);
    strcpy (reply.to, pending->sender);
    strcpy (reply.name, command->name);
    reply.payload = payload;
    reply.payload_size = size;
    reply.created = worker_now ();
    uint64_t batch = self->batch_number;
    turn_on_reply (self, &reply); //  may free pending
    return batch == self->batch_number && !outbox_pending_find (self, id);
}

//  Whether --force may end a command to address without its node's
//  answer: NULL if so, else the refusal's code with why (size bytes) set.
//  "target_up" if that node is up as far as this one can tell (itself, or
//  a peer whose link is up or that was heard lately); "too_soon" if it
//  has been silent less than silent_ms (a node paused or slow for a few
//  seconds is seen down as soon as one that is gone for good: the wait
//  tells them apart, as a split-brain resolver's stable-after does).
static const char *s_force_refused (worker_t *self, const char *address, int64_t silent_ms,
                                    char *why, size_t size)
{
    const worker_config_t *config = self->config;
    if (worker_of (config, address) != WORKER_REMOTE) {
        snprintf (why, size,
                  "%.100s is on this node, which is up: resolve without --force (its target is "
                  "asked; if it ran the command, its real answer comes back)",
                  address);
        return "target_up";
    }
    if (!config->peers)
        return NULL;
    int node =
        cluster_owner (config->cluster, worker_shard (address, cluster_shards (config->cluster)));
    const char *name = cluster_node_name (config->cluster, node);
    peers_link_t link;
    peers_link (config->peers, node, &link);
    if (link.up || link.heard) {
        snprintf (why, size,
                  "node %.32s, which owns %.80s, is up (%.21s): resolve without --force, which "
                  "is for a node gone for good",
                  name, address, link.up ? "our link to it is up" : "it was heard lately");
        return "target_up";
    }
    if (link.silent_ms < silent_ms) {
        snprintf (why, size,
                  "node %.32s (owns %.60s) has been silent %.1f s; --force waits until %.1f s "
                  "(--silent-for MS), so that a paused node is not taken for a lost one",
                  name, address, (double) link.silent_ms / 1000, (double) silent_ms / 1000);
        return "too_soon";
    }
    return NULL;
}

//  --force on a $cancel whose command has ended (a forced end's, re-sent to
//  a node gone for good): dropped; its target is never asked, nor refuses
//  a late copy. An operator's word, logged; the saga's journal is not
//  written (its command's end is, already).
static void s_drop_cancel (worker_t *self, const uint8_t *route, size_t route_size,
                           const envelope_t *request, const resolve_args_t *args,
                           pending_t *pending)
{
    envelope_t cancel;
    if (envelope_decode (&cancel, pending->frame, pending->size) != 0) {
        turn_error (self, route, route_size, request, "unavailable",
                    "its outbox entry cannot be read");
        return;
    }
    char target[SHOAL_ADDRESS_MAX + 1];
    snprintf (target, sizeof target, "%s", cancel.to);
    //  Its target's node answers it if it is there: the fence stays.
    char why[ENVELOPE_REASON_MAX + 1];
    const char *refused = s_force_refused (self, target, args->silent_ms, why, sizeof why);
    if (refused) {
        turn_error (self, route, route_size, request, refused, why);
        return;
    }
    int rc = outbox_forget (self, pending); //  frees pending
    if (rc) {
        turn_error (self, route, route_size, request, "unavailable", shoal_strerror (rc));
        return;
    }
    log_warn ("worker %d: OPERATOR %s DROPPED %s's $cancel %s to %s (%s: %s): the command it "
              "cancels has ended; %s will not be asked, nor refuse a late copy",
              self->index, args->signed_by, request->to, args->id, target, args->code, args->reason,
              target);
    shoal_rec_t data;
    rec_init (&data);
    shoal_rec_str (&data, "address", request->to);
    shoal_rec_str (&data, "id", args->id);
    shoal_rec_str (&data, "command", REPAIR_CANCEL);
    shoal_rec_str (&data, "target", target);
    shoal_rec_str (&data, "state", "dropped");
    s_accept (self, route, route_size, request, &data);
    rec_close (&data);
}

//  Hands the actor the operator's answer to command (pending's): accepted,
//  with no data, if code is NULL, else the rejection {code, reason}.
//  Returns false if that aborted the batch (nothing of it happened); else
//  true, with *ended set if the command's entry is gone.
static bool s_hand_decision (worker_t *self, const pending_t *pending, const envelope_t *command,
                             const char *code, const char *reason, bool *ended)
{
    uint64_t batch = self->batch_number;
    uint8_t *payload;
    size_t size;
    int rc = envelope_reply_encode (!code, code, reason, NULL, 0, &payload, &size);
    self->forcing = true; //  turn_on_reply's log line
    *ended = rc == 0 && repair_hand_reply (self, pending, command, payload, size);
    self->forcing = false;
    if (rc == 0)
        free (payload);
    return batch == self->batch_number;
}

//  Forgets the $cancels of command id whose target answered it cannot
//  tell (no longer re-sent, their answer would be the same): the command
//  has ended by an operator's word, and nothing would answer them again.
static void s_forget_untold_cancels (worker_t *self, const uint8_t id[ENVELOPE_ID_SIZE])
{
    pending_t *found[8];
    size_t count;
    bool forgot = true;
    do { //  a few at a time: forgetting moves the table's entries
        count = 0;
        size_t cursor = 0;
        for (pending_t *p = outbox_pending_next (self, &cursor); p && count < 8;
             p = outbox_pending_next (self, &cursor))
            if (p->is_cancel && p->untellable && memcmp (p->cancels, id, ENVELOPE_ID_SIZE) == 0)
                found[count++] = p;
        for (size_t i = 0; i < count && forgot; i++)
            forgot = outbox_forget (self, found[i]) == 0; //  else sent once its command ended
    } while (count == 8 && forgot);
}

//  $resolve (from a client): see repair.h.
static void s_resolve (worker_t *self, const uint8_t *route, size_t route_size,
                       const envelope_t *request)
{
    resolve_args_t args;
    const char *wrong = s_resolve_args (request, &args);
    if (wrong) {
        turn_error (self, route, route_size, request, "invalid_field", wrong);
        return;
    }
    pending_t *pending = outbox_pending_find (self, args.command_id);
    if (pending && pending->is_cancel && streq (pending->sender, request->to) && args.force &&
        !outbox_pending_find (self, pending->cancels)) {
        s_drop_cancel (self, route, route_size, request, &args, pending);
        return;
    }
    if (!pending || !streq (pending->sender, request->to) || pending->is_cancel) {
        char reason[ENVELOPE_REASON_MAX + 1];
        if (pending && pending->is_cancel && streq (pending->sender, request->to))
            snprintf (reason, sizeof reason,
                      "%s is the $cancel of a resolve under way: it is re-sent until its target "
                      "answers (unless it said it cannot tell); to end the command it cancels "
                      "now, resolve that one with --accept or --force",
                      args.id);
        else
            snprintf (reason, sizeof reason, "%.170s has no pending command %s (answered already?)",
                      request->to, args.id);
        turn_error (self, route, route_size, request, "not_pending", reason);
        return;
    }
    if (pending->untellable && !args.force && !args.accept) {
        turn_error (self, route, route_size, request, "untellable",
                    "its target cannot tell whether it ran it (older than its inbox retention): "
                    "a $cancel would get that answer too. Look for its effect in the target's "
                    "events, then resolve with --accept (it ran) or --force (it did not)");
        return;
    }
    if (pending->cancelling && !args.force && !args.accept) {
        turn_error (self, route, route_size, request, "resolving",
                    "its $cancel is on its way already; --force ends it without the target");
        return;
    }
    envelope_t command;
    int rc;
    actor_t *actor = actor_table_get (self, request->to, &rc);
    if (!actor || envelope_decode (&command, pending->frame, pending->size) != 0) {
        turn_error (self, route, route_size, request, "unavailable",
                    actor ? "its outbox entry cannot be read" : shoal_strerror (rc));
        return;
    }
    char why[ENVELOPE_REASON_MAX + 1];
    //  A target that answered it cannot tell leaves it to the operator.
    const char *refused = args.force && !pending->untellable
                              ? s_force_refused (self, command.to, args.silent_ms, why, sizeof why)
                              : NULL;
    if (refused) {
        turn_error (self, route, route_size, request, refused, why);
        return;
    }
    if (args.accept && !pending->untellable) {
        turn_error (self, route, route_size, request, "tellable",
                    "its target has not said it cannot tell whether it ran it: resolve with "
                    "--reject, and its target's answer decides");
        return;
    }
    bool untold = pending->untellable; //  its $cancels so answered are forgotten with it
    int64_t now = worker_now ();
    rc = s_stage_record (self, actor, &args, &command, now);
    if (rc) {
        turn_error (self, route, route_size, request, "unavailable", shoal_strerror (rc));
        return;
    }
    shoal_rec_t data;
    rec_init (&data);
    shoal_rec_str (&data, "address", request->to);
    shoal_rec_str (&data, "id", args.id);
    shoal_rec_str (&data, "command", command.name);
    shoal_rec_str (&data, "target", command.to);
    if (args.accept) {
        //  The saga goes on as if the target had answered it ran it; the
        //  $cancel still in flight ends when answered, changing nothing.
        log_warn ("worker %d: OPERATOR %s ACCEPTED %s's %s %s to %s as run (%s), which %s "
                  "cannot tell: the saga goes on as if it had answered so",
                  self->index, args.signed_by, request->to, command.name, args.id, command.to,
                  args.reason, command.to);
        bool ended;
        if (!s_hand_decision (self, pending, &command, NULL, NULL, &ended)) {
            rec_close (&data);
            return; //  aborted: nothing of it happened; the client retries
        }
        if (ended && untold)
            s_forget_untold_cancels (self, args.command_id);
        shoal_rec_str (&data, "state", ended ? "accepted" : "accepted, not taken");
    } else if (args.force) {
        log_warn ("worker %d: OPERATOR %s FORCED the end of %s's %s to %s (%s: %s) without "
                  "asking %s: if it ran there, the books may be wrong",
                  self->index, args.signed_by, request->to, command.name, command.to, args.code,
                  args.reason, command.to);
        //  The target is asked all the same, once its node answers: a
        //  $cancel, re-sent until then, so that a copy that comes later is
        //  refused there, and an answer that says it ran the command
        //  before is said loudly (repair_on_cancel_reply).
        rc = s_stage_cancel (self, actor, &args, &command, now, true);
        if (rc) {
            rec_close (&data);
            worker_abort_batch (self); //  the record is staged: all or nothing
            return;
        }
        char reason[ENVELOPE_REASON_MAX + 1];
        snprintf (reason, sizeof reason, "forced by an operator: %.200s", args.reason);
        bool ended;
        if (!s_hand_decision (self, pending, &command, args.code, reason, &ended)) {
            rec_close (&data);
            return; //  aborted: nothing of it happened; the client retries
        }
        //  Not taken (the saga failed on it): the forced $cancel is the one
        //  message in flight, as after a resolve, and as a reload makes it.
        if (!ended && (pending = outbox_pending_find (self, command.id)))
            pending->cancelling = true;
        if (ended && untold)
            s_forget_untold_cancels (self, args.command_id);
        shoal_rec_str (&data, "state", ended ? "forced" : "forced, not taken");
    } else {
        rc = s_stage_cancel (self, actor, &args, &command, now, false);
        if (rc) {
            rec_close (&data);
            worker_abort_batch (self); //  the record is staged: all or nothing
            return;
        }
        pending->cancelling = true;
        shoal_rec_str (&data, "state", "cancelling");
    }
    log_info ("worker %d: operator %s resolves %s's %s %s to %s: %s (%s)", self->index,
              args.signed_by, request->to, command.name, args.id, command.to, args.code,
              args.reason);
    s_accept (self, route, route_size, request, &data);
    rec_close (&data);
}

//  Refuses $resend or $resolve to an address of a type this node does not
//  know: a mistyped address, which has nothing pending. Returns true if so.
static bool s_unknown_type (worker_t *self, const uint8_t *route, size_t route_size,
                            const envelope_t *envelope)
{
    if (registry_lookup (self->config->registry, envelope->to))
        return false;
    char reason[SHOAL_TYPE_MAX + 80];
    snprintf (reason, sizeof reason,
              "unknown type '%.*s': no actor type of that name is registered",
              (int) strcspn (envelope->to, "/"), envelope->to);
    turn_error (self, route, route_size, envelope, "unknown_type", reason);
    return true;
}

void repair_on_command (worker_t *self, const uint8_t *route, size_t route_size,
                        const envelope_t *envelope)
{
    bool from_client = route_size > 0 || !envelope->from[0];
    if (from_client && (streq (envelope->name, "$resend") || streq (envelope->name, "$resolve")) &&
        s_unknown_type (self, route, route_size, envelope))
        return;
    if (streq (envelope->name, REPAIR_CANCEL))
        repair_cancel (self, route, route_size, envelope);
    else if (from_client && streq (envelope->name, "$resend"))
        s_resend (self, route, route_size, envelope);
    else if (from_client && streq (envelope->name, "$resolve"))
        s_resolve (self, route, route_size, envelope);
    else
        turn_error (self, route, route_size, envelope, "unknown_command",
                    "commands starting with '$' are the runtime's: $resend, $resolve");
}
