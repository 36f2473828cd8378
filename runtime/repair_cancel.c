/*  repair_cancel.c - a $cancel, on both sides: its target's answer (the
    command's stored reply if it ran, else the operator's rejection,
    recorded as its reply; or, for a command older than the inbox
    retention, that it cannot tell), and that answer's arrival at the
    saga's worker (handed to the saga as its command's reply, or checked
    against what a --force decided). See repair.h.

    Runs on the worker thread, as repair.c.
*/
#include "actors.h"
#include "janitor.h"
#include "repair.h"
#include "data.h"
#include "inbox.h"
#include "log.h"
#include "stage.h"
#include "turn.h"
#include "worker_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  $cancel (from an actor): the command's stored reply if it ran, else
//  the rejection, recorded as its reply.
void repair_cancel (worker_t *self, const uint8_t *route, size_t route_size,
                    const envelope_t *request)
{
    uint8_t id[ENVELOPE_ID_SIZE];
    if (route_size || !request->from[0] || repair_cancel_of (request, id) != 0) {
        turn_error (self, route, route_size, request, "bad_cancel",
                    "a $cancel comes from an actor's outbox, with the id it cancels");
        return;
    }
    uint8_t *stored;
    size_t stored_size;
    int found = inbox_find (self, request->to, id, &stored, &stored_size, NULL);
    if (found == 0) { //  it ran: its one true reply
        turn_reply (self, route, route_size, request, stored, stored_size);
        free (stored);
        return;
    }
    if (found != SHOAL_ENOTFOUND)
        return; //  unreadable: the sender re-sends
    char code[ENVELOPE_CODE_MAX + 1] = "cancelled", reason[ENVELOPE_REASON_MAX + 1] = "";
    int64_t created = 0; //  absent from a $cancel staged before it was sent
    shoal_data_t args;
    if (data_init (&args, request->payload, request->payload_size) == 0) {
        shoal_data_str (&args, "code", code, sizeof code);
        shoal_data_str (&args, "reason", reason, sizeof reason);
        shoal_data_int (&args, "created", &created);
    }
    data_close (&args);
    int64_t now = worker_now ();
    char hex[2 * ENVELOPE_ID_SIZE + 1];
    repair_hex (id, hex);
    //  No record of a command older than the retention: it may have run,
    //  its record pruned since. Not taken for one that did not run (a
    //  credit refunded that was made: money made); nothing recorded.
    if (created && created < janitor_expired_before (self->config, now)) {
        char why[ENVELOPE_REASON_MAX + 1];
        snprintf (why, sizeof why,
                  "%.100s cannot tell if it ran %s: older than its inbox retention (its "
                  "record may be pruned)",
                  request->to, hex);
        turn_error (self, route, route_size, request, "expired", why);
        return;
    }
    uint8_t *payload;
    size_t size;
    if (envelope_reply_encode (false, code, reason, NULL, 0, &payload, &size) != 0)
        return;
    if (journal_batch_inbox_put (self->batch, request->to, id, payload, size, now) != 0) {
        free (payload);
        worker_abort_batch (self);
        return;
    }
    log_info ("worker %d: %s cancels %s's command %s before it ran: %s", self->index, request->from,
              request->to, hex, code);
    //  A command the target failed on, cancelled: its copies are answered
    //  from the inbox now, with no turn to say the target is well again.
    zhashx_delete (self->failing, request->to);
    turn_reply (self, route, route_size, request, payload, size);
    self->tally.rejected++;
    free (payload);
}

//  The target's answer to the $cancel of a command an operator ended with
//  --force (its fields say "forced"): a $cancel's rejection (this one's,
//  or an earlier resolve's: the reason of each starts REPAIR_CANCEL_REASON) if
//  the target had not run it, and refuses it from now on; else the
//  command's own reply. A rejection of its own handler changed nothing
//  there either; an acceptance did, and stands beside what the forced
//  answer did (a credit that ran, its transfer refunded: money made):
//  that is logged as an error and counted (at the batch's release). A
//  target that cannot tell (older than its inbox retention) is warned of.
//  Stages REPAIR_FORCED_RAN on the stream of cancel's sender: its command
//  (id hex), ended with --force, was run by its target after all. False
//  if it could not (the saga does not load): the $cancel is kept, and its
//  answer, which comes again, is taken then.
static bool s_stage_forced_ran (worker_t *self, const pending_t *cancel, const envelope_t *reply,
                                const char *hex)
{
    int rc;
    actor_t *actor = actor_table_get (self, cancel->sender, &rc);
    if (!actor) {
        log_warn ("worker %d: cannot record in %s that %s ran its command %s after all (%s): "
                  "its $cancel is sent again",
                  self->index, cancel->sender, reply->from, hex, shoal_strerror (rc));
        return false;
    }
    int64_t now = worker_now ();
    shoal_rec_t record;
    rec_init (&record);
    shoal_rec_str (&record, "id", hex);
    shoal_rec_str (&record, "target", reply->from);
    shoal_rec_str (&record, "note",
                   "ended with resolve --force, and run by its target after all: both effects "
                   "stand (shoal check)");
    shoal_rec_int (&record, "at", now);
    journal_event_t event = {.name = REPAIR_FORCED_RAN};
    event.data = rec_finish (&record, &event.size);
    rc = event.data ? journal_batch_append (self->batch, actor->address, actor->version, &event, 1,
                                            now, &actor->version)
                    : SHOAL_ENOMEM;
    if (rc == 0) {
        actor->staged_in = self->batch_number;
        self->tally.events++;
    } else
        log_warn ("worker %d: cannot record in %s that %s ran its command %s after all: %s",
                  self->index, cancel->sender, reply->from, hex, shoal_strerror (rc));
    rec_close (&record);
    return true;
}

//  Returns false when the $cancel must be kept (its answer is taken when
//  it comes again), else true.
static bool s_forced_checked (worker_t *self, const pending_t *cancel, const envelope_t *reply)
{
    envelope_t sent;
    shoal_data_t fields;
    if (envelope_decode (&sent, cancel->frame, cancel->size) != 0)
        return true;
    bool forced = false;
    if (data_init (&fields, sent.payload, sent.payload_size) == 0)
        shoal_data_bool (&fields, "forced", &forced);
    data_close (&fields); //  after a failed init too (data.h)
    bool ok;
    char got_code[ENVELOPE_CODE_MAX + 1], got_reason[ENVELOPE_REASON_MAX + 1];
    const uint8_t *data;
    size_t data_size;
    if (!forced || envelope_reply_decode (reply->payload, reply->payload_size, &ok, got_code,
                                          got_reason, &data, &data_size) != 0)
        return true;
    char hex[2 * ENVELOPE_ID_SIZE + 1];
    repair_hex (cancel->cancels, hex);
    if (!ok && streq (got_code, "expired")) {
        log_warn ("worker %d: %s cannot tell whether it ran %s's command %s, ended with --force: "
                  "it is older than its inbox retention. Look for its effect there (shoal events "
                  "%s) and at the books (shoal check)",
                  self->index, reply->from, cancel->sender, hex, reply->from);
        return true;
    }
    if (!ok && strncmp (got_reason, REPAIR_CANCEL_REASON, strlen (REPAIR_CANCEL_REASON)) == 0) {
        log_info ("worker %d: %s had not run %s's command %s, ended with --force: it refuses "
                  "it from now on",
                  self->index, reply->from, cancel->sender, hex);
        return true;
    }
    if (!ok) { //  its own handler refused it: nothing done there either
        log_info ("worker %d: %s had refused %s's command %s, ended with --force, itself: %s",
                  self->index, reply->from, cancel->sender, hex, got_code);
        return true;
    }
    //  Kept in the saga's stream too (a '$' record, as $Resolved, which
    //  explain lists): the count and the log line do not outlive a restart.
    if (!s_stage_forced_ran (self, cancel, reply, hex))
        return false;
    //  Logged at the batch's release, with its count: once, however
    //  often an aborted batch makes the $cancel be answered again.
    if (self->tally.forced_answered < WORKER_FORCED_LINES)
        snprintf (self->forced_lines[self->tally.forced_answered], WORKER_FORCED_LINE_MAX,
                  "worker %d: %s ran %s's command %s after all, which an operator ended with "
                  "--force: what it did there stands beside what the forced answer did (a "
                  "debit that ran, its transfer failed: money gone; a credit that ran, its "
                  "transfer refunded: money made); `shoal check` over the stopped nodes shows "
                  "the books",
                  self->index, reply->from, cancel->sender, hex);
    self->tally.forced_answered++;
    return true;
}

void repair_mark_untellable (worker_t *self, pending_t *command, const char *target)
{
    if (!command->untellable) {
        char hex[2 * ENVELOPE_ID_SIZE + 1];
        repair_hex (command->id, hex);
        log_warn ("worker %d: %s cannot tell whether it ran %s's command %s: it is older than "
                  "its inbox retention. It stays pending for an operator: look for its effect "
                  "(shoal events %s), then shoal resolve --accept (it ran) or --force",
                  self->index, target, command->sender, hex, target);
        command->untellable = true;
    }
    snprintf (command->error, sizeof command->error, REPAIR_UNTELLABLE_ERROR);
}

bool repair_reply_cancelled (const uint8_t *payload, size_t size)
{
    bool ok;
    char code[ENVELOPE_CODE_MAX + 1], reason[ENVELOPE_REASON_MAX + 1];
    const uint8_t *data;
    size_t data_size;
    return envelope_reply_decode (payload, size, &ok, code, reason, &data, &data_size) == 0 &&
           !ok && strncmp (reason, REPAIR_CANCEL_REASON, strlen (REPAIR_CANCEL_REASON)) == 0;
}

bool repair_reply_untellable (const envelope_t *reply)
{
    return envelope_reply_refused (reply->payload, reply->payload_size, "expired");
}

void repair_on_cancel_reply (worker_t *self, const envelope_t *envelope)
{
    pending_t *cancel = outbox_pending_find (self, envelope->correlation);
    if (!cancel || !cancel->is_cancel || !streq (cancel->sender, envelope->to)) {
        self->tally.duplicates++;
        return;
    }
    //  The cancelled command's target answers its $cancel, and no one else
    //  (a node whose key was stolen would end our saga's command as it
    //  likes, as an actor of its own).
    if (!outbox_pending_answered_by (cancel, envelope->from)) {
        turn_forged (self, envelope, "a $cancel's reply", "the actor it cancels a command of");
        return;
    }
    pending_t *pending = outbox_pending_find (self, cancel->cancels);
    if (pending && !streq (pending->sender, envelope->to))
        pending = NULL;
    if (repair_reply_untellable (envelope)) {
        //  Not handed to the saga as its command's reply: the operator
        //  decides, with --accept or --force, which this answer lets through.
        if (pending) {
            repair_mark_untellable (self, pending, envelope->from);
            cancel->untellable = true; //  not re-sent while its command waits (outbox_resend)
            snprintf (cancel->error, sizeof cancel->error, REPAIR_UNTELLABLE_ERROR);
            return;
        }
        if (s_forced_checked (self, cancel, envelope))
            outbox_forget (self, cancel);
        return;
    }
    envelope_t command;
    if (pending && envelope_decode (&command, pending->frame, pending->size) == 0) {
        uint64_t batch = self->batch_number;
        bool ended =
            repair_hand_reply (self, pending, &command, envelope->payload, envelope->payload_size);
        if (batch != self->batch_number)
            return; //  aborted: reloaded, the $cancel is re-sent
        if (!ended) {
            snprintf (cancel->error, sizeof cancel->error,
                      "its $cancel was answered; the sender failed on it, will retry");
            return; //  keep the $cancel: its answer comes again
        }
    } else if (!s_forced_checked (self, cancel, envelope))
        return; //  kept: its answer comes again
    //  The command is answered, by this or by its own reply: done.
    outbox_forget (self, cancel);
}
