/*  outbox.c - a worker's outbox in memory. See outbox.h.

    Contract: the pending table holds every committed, unanswered command
    of this worker's actors (after a reload, what the journal holds); an
    entry leaves it only when the turn handling its reply is staged with
    the record's delete, or when the table is purged to be reloaded. The
    worker thread owns the table, its entries and their frames.
*/
#include "outbox.h"
#include "repair.h"
#include "turn.h"
#include "worker_internal.h"

#include <stdlib.h>
#include <string.h>

#define RETRY_FIRST_MS 50
#define RETRY_MAX_MS 5000

void outbox_pending_destroy (void **item)
{
    pending_t *self = (pending_t *) *item;
    if (self) {
        free (self->frame);
        free (self);
        *item = NULL;
    }
}

zhashx_t *outbox_new (void)
{
    return envelope_id_table_new (outbox_pending_destroy);
}

//  RFC 6298's gains. A reply to a command sent more than once is timed
//  from the first send: it may answer any of them, and timing it from the
//  latest would shrink the estimate exactly when replies are late (and
//  sampling only commands sent once would keep it below the re-send delay).
void outbox_reply_sample (worker_t *self, double ms)
{
    double deviation = ms > self->reply_ms ? ms - self->reply_ms : self->reply_ms - ms;
    self->reply_var_ms += (deviation - self->reply_var_ms) / 4;
    self->reply_ms += (ms - self->reply_ms) / 8;
}

//  Four times the smoothed reply time, or that time plus four mean
//  deviations when replies vary more (as TCP's retransmission timer, RFC
//  6298), at least RETRY_FIRST_MS, doubled per attempt up to RETRY_MAX_MS,
//  with jitter: drawn from [d, 5d/4]. A loaded node's replies come late and
//  in bursts (a commit's worth at a time); a generous delay keeps it from
//  adding re-sends to its load.
int64_t outbox_retry_delay (const worker_t *self, uint32_t attempt)
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

void outbox_track (worker_t *self, pending_t *pending)
{
    zhashx_update (self->pending, pending->id, pending);
}

void outbox_resend (worker_t *self, int64_t now)
{
    zlistx_t *stalled = zlistx_new ();
    uint64_t past_stall = 0; //  for the stalled gauge
    for (pending_t *pending = zhashx_first (self->pending); pending;
         pending = zhashx_next (self->pending)) {
        past_stall += now - pending->created >= self->config->stall_ms;
        //  A command an operator resolved waits for its $cancel's answer,
        //  which ends it either way (repair.h): sending it again could only
        //  race the cancel.
        if (pending->next_due > now || pending->cancelling)
            continue;
        pending->attempt++;
        pending->next_due = now + outbox_retry_delay (self, pending->attempt);
        pending->last_sent = now;
        worker_send (self, pending->dest, NULL, 0, pending->frame, pending->size);
        self->stats->resends++;
        if (!pending->stall_noticed && now - pending->created >= self->config->stall_ms)
            zlistx_add_end (stalled, pending);
    }
    self->stats->stalled = past_stall;
    //  Turns may change the pending table: notice outside the walk.
    //  An aborted batch frees the pending table: stop there.
    uint64_t batch = self->batch_number;
    for (pending_t *pending = zlistx_first (stalled); pending && batch == self->batch_number;
         pending = zlistx_next (stalled))
        turn_on_stalled (self, pending);
    zlistx_destroy (&stalled);
}

static int s_pending_add (worker_t *self, const char *sender, const uint8_t *frame, size_t size,
                          int64_t due)
{
    envelope_t envelope;
    if (envelope_decode (&envelope, frame, size) != 0)
        return SHOAL_EFORMAT;
    pending_t *pending = calloc (1, sizeof (pending_t));
    if (!pending || !(pending->frame = worker_memdup (frame, size))) {
        free (pending);
        return SHOAL_ENOMEM;
    }
    memcpy (pending->id, envelope.id, ENVELOPE_ID_SIZE);
    snprintf (pending->sender, sizeof pending->sender, "%s", sender);
    pending->dest = worker_of (self->config, envelope.to);
    pending->size = size;
    pending->next_due = due;
    pending->created = envelope.created;
    pending->sent_at = worker_now ();
    pending->is_cancel = repair_cancel_of (&envelope, pending->cancels) == 0;
    pending->stall_noticed = pending->is_cancel; //  its saga knows nothing of it
    zhashx_update (self->pending, pending->id, pending);
    self->stats->pending = zhashx_size (self->pending);
    return 0;
}

static int s_load_outbox (void *arg, const char *stream, const uint8_t id[JOURNAL_ID_SIZE],
                          int64_t due, const uint8_t *value, size_t size)
{
    worker_t *self = arg;
    if (worker_of (self->config, stream) == self->index)
        s_pending_add (self, stream, value, size, worker_now ());
    return 0;
}

int outbox_load (worker_t *self)
{
    int rc = journal_outbox_scan (self->config->journal, s_load_outbox, self);
    //  Looked up outside the walk, which a lookup may disturb.
    zlistx_t *cancels = zlistx_new ();
    for (pending_t *pending = zhashx_first (self->pending); cancels && pending;
         pending = zhashx_next (self->pending))
        if (pending->is_cancel)
            zlistx_add_end (cancels, pending);
    for (pending_t *cancel = cancels ? zlistx_first (cancels) : NULL; cancel;
         cancel = zlistx_next (cancels)) {
        pending_t *command = zhashx_lookup (self->pending, cancel->cancels);
        if (command && streq (command->sender, cancel->sender))
            command->cancelling = true;
    }
    zlistx_destroy (&cancels);
    return rc;
}
