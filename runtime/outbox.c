/*  outbox.c - a worker's outbox in memory. See outbox.h.

    Contract: the pending table holds every committed, unanswered command
    of this worker's actors (after a reload, what the journal holds); an
    entry leaves it only when the turn handling its reply is staged with
    the record's delete, or when the table is purged to be reloaded. Every
    entry of the table that is not cancelling (nor a command whose target
    cannot tell whether it ran it, repair.h) is in order.due, and every
    one not yet counted in order.stalled is in order.unstalled (but when a
    heap could not grow: then it is re-sent, or counted, after the next
    reload). The worker thread owns the table, its entries and their
    frames.
*/
#include "outbox.h"
#include "repair.h"
#include "turn.h"
#include "worker_internal.h"
#include "log.h"
#include "strcopy.h"

#include <assert.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define RETRY_FIRST_MS 50
#define RETRY_MAX_MS 5000
#define CHECKPOINT_MS 1000     //  notes are folded into 'o' keys at most this late
#define REACHED_SPREAD_MS 1000 //  a peer back: its commands are sent again within this

//  Takes pending out of the list of its generation (swap with the last).
//  O(1).
static void s_noted_remove (outbox_order_t *order, pending_t *pending)
{
    noted_list_t *list = &order->notes[pending->gen];
    size_t at = pending->noted_at;
    pending_t *last = list->items[--list->count];
    list->items[at] = last;
    last->noted_at = at;
    pending->noted_at = HEAP_NONE;
}

void outbox_pending_destroy (void **item)
{
    pending_t *self = (pending_t *) *item;
    if (!self)
        return;
    outbox_order_t *order = self->order;
    if (order) {
        if (self->due_at != HEAP_NONE)
            heap_remove (order->due, self->due_at);
        if (self->unstalled_at != HEAP_NONE)
            heap_remove (order->unstalled, self->unstalled_at);
        if (self->unstalled_due_at != HEAP_NONE)
            heap_remove (order->unstalled_by_due, self->unstalled_due_at);
        if (self->past_stall)
            order->stalled--;
        if (self->noted_at != HEAP_NONE)
            s_noted_remove (order, self);
    }
    free (self->frame);
    free (self);
    *item = NULL;
}

static const void *s_pending_key (const void *item, size_t *size)
{
    *size = ENVELOPE_ID_SIZE;
    return ((const pending_t *) item)->id;
}

pending_t *outbox_pending_find (const worker_t *self, const uint8_t id[ENVELOPE_ID_SIZE])
{
    return ptable_find (&self->pending, id, ENVELOPE_ID_SIZE);
}

bool outbox_pending_answered_by (const pending_t *pending, const char *address)
{
    return envelope_is_to (pending->frame, pending->size, address);
}

pending_t *outbox_pending_next (const worker_t *self, size_t *cursor)
{
    return ptable_next (&self->pending, cursor);
}

size_t outbox_pending_count (const worker_t *self)
{
    return self->pending.count;
}

void outbox_pending_drop (worker_t *self, const uint8_t id[ENVELOPE_ID_SIZE])
{
    pending_t *pending = ptable_remove (&self->pending, id, ENVELOPE_ID_SIZE);
    outbox_pending_destroy ((void **) &pending);
}

void outbox_pending_purge (worker_t *self)
{
    //  The entries are freed in the walk, not removed: the walk reads the
    //  slots only, and clearing the table then forgets them all at once.
    size_t cursor = 0;
    for (pending_t *pending = ptable_next (&self->pending, &cursor); pending;
         pending = ptable_next (&self->pending, &cursor))
        outbox_pending_destroy ((void **) &pending);
    ptable_clear (&self->pending);
}

static int s_by_due (const void *a, const void *b)
{
    const pending_t *x = a, *y = b;
    return x->next_due < y->next_due ? -1 : x->next_due > y->next_due;
}

static int s_by_stall (const void *a, const void *b)
{
    const pending_t *x = a, *y = b;
    return x->stall_at < y->stall_at ? -1 : x->stall_at > y->stall_at;
}

static int s_by_stall_due (const void *a, const void *b)
{
    const pending_t *x = a, *y = b;
    return x->stall_due < y->stall_due ? -1 : x->stall_due > y->stall_due;
}

int outbox_init (worker_t *self)
{
    outbox_order_t *order = &self->pending_order;
    ptable_init (&self->pending, s_pending_key);
    order->due = heap_new (s_by_due);
    order->unstalled = heap_new (s_by_stall);
    order->unstalled_by_due = heap_new (s_by_stall_due);
    if (!order->due || !order->unstalled || !order->unstalled_by_due)
        return SHOAL_ENOMEM;
    heap_set_index (order->due, offsetof (pending_t, due_at));
    heap_set_index (order->unstalled, offsetof (pending_t, unstalled_at));
    heap_set_index (order->unstalled_by_due, offsetof (pending_t, unstalled_due_at));
    return 0;
}

void outbox_close (worker_t *self)
{
    outbox_order_t *order = &self->pending_order;
    outbox_pending_purge (self); //  first: its entries leave the heaps
    ptable_close (&self->pending);
    heap_destroy (&order->due);
    heap_destroy (&order->unstalled);
    heap_destroy (&order->unstalled_by_due);
    free (order->noticing);
    free (order->notes[0].items);
    free (order->notes[1].items);
    *order = (outbox_order_t){0};
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

//  Puts pending into heap. Out of memory, it stays out: it is re-sent (or
//  counted as stalled) after the next reload, as a timer that cannot be
//  armed fires then (timers.h).
static void s_push (worker_t *self, heap_t *heap, pending_t *pending)
{
    if (heap_push (heap, pending) != 0)
        log_error ("worker %d: out of memory: a pending command waits for the next reload",
                   self->index);
}

void outbox_stall_from (worker_t *self, pending_t *pending, worker_clock_t now)
{
    if (__builtin_add_overflow (pending->created, self->config->stall_ms, &pending->stall_due))
        pending->stall_due = INT64_MAX;
    pending->stall_at = worker_wall_to_mono (now, pending->stall_due);
}

void outbox_track (worker_t *self, pending_t *pending)
{
    assert (!pending->order); //  not tracked yet: the drop below would free it
    //  The table keeps no key of its own (it points into the entry): an
    //  entry with the same id goes first, with its places in the heaps.
    outbox_pending_drop (self, pending->id);
    //  Out of memory, it is freed before it is in a heap: its command is
    //  committed (in a note, or under its 'o' key), and the reload lists
    //  it again; its note is kept until then. A reply that comes first is
    //  taken for a copy's; the reloaded entry is re-sent and answered from
    //  the receiver's inbox. (During a load, the load fails and is tried
    //  again.)
    if (ptable_insert (&self->pending, pending) != 0) {
        log_error ("worker %d: out of memory: a pending command waits for the next reload",
                   self->index);
        outbox_pending_destroy ((void **) &pending);
        self->notes_pinned = self->reload_due = self->load_failed = true;
        return;
    }
    outbox_order_t *order = &self->pending_order;
    pending->order = order;
    pending->due_at = pending->unstalled_at = pending->unstalled_due_at = HEAP_NONE;
    pending->noted_at = HEAP_NONE;
    pending->past_stall = false;
    if (!pending->stall_due) //  its maker did not set it: by the clocks now
        outbox_stall_from (self, pending, worker_clock ());
    if (!pending->stored) {
        noted_list_t *list = &order->notes[order->epoch & 1];
        if (list->count == list->cap) {
            size_t cap = list->cap ? 2 * list->cap : 1024;
            pending_t **items = realloc (list->items, cap * sizeof (pending_t *));
            if (items) {
                list->items = items;
                list->cap = cap;
            }
        }
        //  Out of memory, it stays in its note: the worker's notes are
        //  kept (outbox_checkpoint) until a reload lists it again.
        if (list->count < list->cap) {
            pending->gen = (int) (order->epoch & 1);
            pending->noted_at = list->count;
            list->items[list->count++] = pending;
        } else //  (during a load, the load fails: its reload is tried again)
            self->notes_pinned = self->reload_due = self->load_failed = true;
    }
    if (!pending->cancelling)
        s_push (self, self->pending_order.due, pending);
    s_push (self, self->pending_order.unstalled, pending);
    s_push (self, self->pending_order.unstalled_by_due, pending);
}

void outbox_due_at (worker_t *self, pending_t *pending, int64_t due)
{
    pending->notice_only = false; //  a re-send is due: a notice comes with it
    pending->next_due = due;
    if (pending->due_at != HEAP_NONE)
        heap_update (self->pending_order.due, pending->due_at);
    else if (pending->order && !pending->cancelling)
        s_push (self, self->pending_order.due, pending);
}

//  Adds pending to the tick's stall notices. False if there is no room
//  (out of memory): it is noticed at a later re-send.
static bool s_noticing_add (outbox_order_t *order, size_t count, pending_t *pending)
{
    if (count == order->noticing_cap) {
        size_t cap = order->noticing_cap ? order->noticing_cap * 2 : 64;
        pending_t **grown = realloc (order->noticing, cap * sizeof (pending_t *));
        if (!grown)
            return false;
        order->noticing = grown;
        order->noticing_cap = cap;
    }
    order->noticing[count] = pending;
    return true;
}

void outbox_count_stalled (worker_t *self, worker_clock_t now)
{
    outbox_order_t *order = &self->pending_order;
    pending_t *pending;
    while (true) {
        //  Past --stall-ms by either clock (worker_clock.h).
        pending = heap_peek (order->unstalled);
        if (!pending || pending->stall_at > now.mono) {
            pending = heap_peek (order->unstalled_by_due);
            if (pending && pending->stall_due > now.wall)
                pending = NULL;
        }
        if (!pending)
            break;
        if (pending->unstalled_at != HEAP_NONE)
            heap_remove (order->unstalled, pending->unstalled_at);
        if (pending->unstalled_due_at != HEAP_NONE)
            heap_remove (order->unstalled_by_due, pending->unstalled_due_at);
        pending->past_stall = true;
        order->stalled++;
        //  Its sender is told now, not at its next re-send (up to
        //  RETRY_MAX_MS later): a get of the sender agrees with pending.
        if (!pending->stall_noticed && !pending->cancelling) {
            outbox_due_at (self, pending, now.mono);
            pending->notice_only = true;
            order->notice_due = true;
        }
    }
    outbox_gauges (self);
}

bool outbox_notice_due (const worker_t *self)
{
    return self->pending_order.notice_due;
}

//  Re-sends are by the monotonic clock (now.mono: next_due, last_sent), and
//  stalls by either clock (stall_due, and stall_at on the monotonic one):
//  see worker_clock.h.
void outbox_resend (worker_t *self, worker_clock_t now)
{
    outbox_order_t *order = &self->pending_order;
    pending_t *pending;
    outbox_count_stalled (self, now);
    order->notice_due = false;
    size_t noticing = 0;
    while ((pending = heap_peek (order->due)) && pending->next_due <= now.mono) {
        //  A command an operator resolved waits for its $cancel's answer,
        //  which ends it either way (repair.h): sending it again could only
        //  race the cancel. It leaves the heap here, once due.
        //  One whose target cannot tell whether it ran it waits for an
        //  operator (repair.h): the answer would be the same; it is sent
        //  again after a reload, which does not know it. Its $cancel so
        //  answered waits with it, rescheduled; once its command has
        //  ended (an operator's word forgets it then; any other way), it
        //  is sent, answered, and forgotten.
        if (pending->is_cancel && pending->untellable) {
            if (outbox_pending_find (self, pending->cancels)) {
                outbox_due_at (self, pending,
                               now.mono + outbox_retry_delay (self, pending->attempt));
                continue;
            }
            pending->untellable = false;
        }
        if (pending->cancelling || (pending->untellable && pending->stall_noticed)) {
            heap_pop (order->due);
            continue;
        }
        //  Due for its stall notice alone (outbox_count_stalled): its next
        //  re-send keeps its backoff, unless that is due as well.
        if (pending->notice_only) {
            int64_t resend = pending->last_sent + outbox_retry_delay (self, pending->attempt);
            if (resend > now.mono) {
                outbox_due_at (self, pending, resend);
                if (s_noticing_add (order, noticing, pending))
                    noticing++;
                continue;
            }
        }
        pending->attempt++;
        pending->last_sent = now.mono;
        outbox_due_at (self, pending, now.mono + outbox_retry_delay (self, pending->attempt));
        worker_send_command (self, pending->dest, pending->frame, pending->size, false);
        self->stats->resends++;
        if (!pending->stall_noticed && pending->past_stall &&
            s_noticing_add (order, noticing, pending))
            noticing++;
    }
    //  Turns may change the pending table: notice outside the heap's walk.
    //  An aborted batch frees the pending table: stop there.
    uint64_t batch = self->batch_number;
    for (size_t i = 0; i < noticing && batch == self->batch_number; i++)
        turn_on_stalled (self, order->noticing[i]);
}

void outbox_on_reached (worker_t *self, int node)
{
    const cluster_t *cluster = self->config->cluster;
    if (!cluster || node < 0 || node >= cluster_node_count (cluster) ||
        node == self->config->self_node)
        return;
    int64_t now = worker_mono (), count = 0; //  re-sends are monotonic (worker_clock.h)
    size_t cursor = 0;
    for (pending_t *pending = outbox_pending_next (self, &cursor); pending;
         pending = outbox_pending_next (self, &cursor)) {
        const uint8_t *to;
        size_t len;
        char address[SHOAL_ADDRESS_MAX + 1];
        if (pending->dest != WORKER_REMOTE || !outbox_resendable (pending) ||
            pending->next_due <= now || !envelope_to (pending->frame, pending->size, &to, &len) ||
            len > SHOAL_ADDRESS_MAX)
            continue;
        memcpy (address, to, len);
        address[len] = 0;
        if (cluster_owner (cluster, shoal_shard (address, cluster_shards (cluster))) != node)
            continue;
        //  Spread over a second at most (never later than it was due): a
        //  peer only silent for a while (its front stalled, nothing lost)
        //  is not sent the whole table at once on its way back.
        int64_t spread = pending->next_due - now < REACHED_SPREAD_MS ? pending->next_due - now
                                                                     : REACHED_SPREAD_MS;
        outbox_due_at (self, pending, now + (int64_t) (random () % (spread + 1)));
        count++;
    }
    if (!count)
        return;
    self->next_retry_tick = now; //  at the end of this loop
    log_info ("worker %d: %lld pending commands to the actors of %s sent again within a second: "
              "its links work both ways again",
              self->index, (long long) count, cluster_node_name (cluster, node));
}

void outbox_gauges (worker_t *self)
{
    self->stats->stalled = self->pending_order.stalled;
    self->stats->pending = outbox_pending_count (self);
}

int64_t outbox_next_due (const worker_t *self)
{
    const pending_t *due = heap_peek (self->pending_order.due);
    return due ? due->next_due : INT64_MAX;
}

int64_t outbox_stall_wait (const worker_t *self, worker_clock_t now)
{
    const pending_t *by_mono = heap_peek (self->pending_order.unstalled);
    const pending_t *by_wall = heap_peek (self->pending_order.unstalled_by_due);
    return worker_until_either (now, by_mono ? by_mono->stall_at : INT64_MAX,
                                by_wall ? by_wall->stall_due : INT64_MAX);
}

int outbox_forget (worker_t *self, pending_t *pending)
{
    int rc = pending->stored
                 ? journal_batch_outbox_del (self->batch, pending->sender, pending->id)
                 : journal_batch_outbox_note (self->batch, pending->sender, pending->id, NULL, 0);
    if (rc == 0) {
        inbox_forgotten (self, pending->dest, pending->id);
        outbox_pending_drop (self, pending->id);
        outbox_gauges (self);
    }
    return rc;
}

//  Stores every entry of list under its 'o' key. False if the batch broke.
static bool s_store (worker_t *self, noted_list_t *list)
{
    outbox_order_t *order = &self->pending_order;
    while (list->count > 0) {
        pending_t *pending = list->items[list->count - 1];
        if (journal_batch_outbox_put (self->batch, pending->sender, pending->id, pending->frame,
                                      pending->size) != 0)
            return false; //  its commit fails and reloads
        pending->stored = true;
        s_noted_remove (order, pending);
    }
    return true;
}

bool outbox_checkpoint (worker_t *self, int64_t now, bool force)
{
    outbox_order_t *order = &self->pending_order;
    if (!force && now < order->checkpoint)
        return false;
    order->checkpoint = now + CHECKPOINT_MS;
    //  While the outbox in memory may miss an entry that is in a note only
    //  (a reload is due, or could not list one), the notes stay: dropping
    //  them would lose it.
    if (self->notes_pinned || self->reload_due)
        return false;
    int older_gen = (int) ((order->epoch + 1) & 1);
    noted_list_t *older = &order->notes[older_gen];
    noted_list_t *newer = &order->notes[order->epoch & 1];
    size_t inbox_older = self->inbox.gens[older_gen].count;
    size_t inbox_newer = self->inbox.gens[older_gen ^ 1].count;
    size_t written = journal_batch_notes_count (self->batch);
    size_t drop = force ? written : order->notes_older;
    if (drop == 0 && older->count == 0 && inbox_older == 0 &&
        !(force && (newer->count || inbox_newer)))
        goto flip;
    if (journal_batch_notes_drop (self->batch, drop) != 0) {
        self->notes_pinned = self->reload_due = true; //  the reload lists them again
        return false;
    }
    //  The inbox records of the same notes: stored unless their senders
    //  are done (inbox.h).
    if (!s_store (self, older) || (force && !s_store (self, newer)) ||
        !inbox_checkpoint (self, older_gen, force))
        return true;
    written -= drop;
flip:
    //  What was sent since the last checkpoint is stored at the next one,
    //  with the notes written until now, unless answered by then.
    order->epoch++;
    order->notes_older = written;
    return drop > 0;
}

//  Tracks the command in frame (copied), sent by sender, re-sent at due
//  (monotonic ms, as worker_mono). Returns 0, SHOAL_EFORMAT or
//  SHOAL_ENOMEM.
static int s_pending_add (worker_t *self, const char *sender, const uint8_t *frame, size_t size,
                          int64_t due, bool stored)
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
    str_copy (pending->sender, sizeof pending->sender, sender);
    pending->dest = worker_of (self->config, envelope.to);
    pending->size = size;
    pending->next_due = due;
    pending->created = envelope.created;
    pending->sent_at = worker_mono ();
    pending->is_cancel = repair_cancel_of (&envelope, pending->cancels) == 0;
    pending->stall_noticed = pending->is_cancel; //  its saga knows nothing of it
    pending->stored = stored;
    outbox_stall_from (self, pending, worker_clock ());
    outbox_track (self, pending);
    outbox_gauges (self);
    return 0;
}

//  An entry that cannot be loaded fails the load (out of memory), which
//  is then tried again: one in a note only would be lost if the notes were
//  dropped without it. One that does not decode stays where it is.
static int s_load_outbox (void *arg, const char *stream, const uint8_t id[JOURNAL_ID_SIZE],
                          int64_t due, const uint8_t *value, size_t size)
{
    worker_t *self = arg;
    if (worker_of (self->config, stream) == self->index &&
        s_pending_add (self, stream, value, size, worker_mono (), true) == SHOAL_ENOMEM)
        self->load_failed = true;
    return self->load_failed;
}

static int s_load_noted (void *arg, const char *stream, const uint8_t id[JOURNAL_ID_SIZE],
                         int64_t due, const uint8_t *value, size_t size)
{
    worker_t *self = arg;
    if (worker_of (self->config, stream) == self->index &&
        s_pending_add (self, stream, value, size, worker_mono (), false) == SHOAL_ENOMEM)
        self->load_failed = true;
    return self->load_failed;
}

int outbox_load (worker_t *self)
{
    //  The notes first: which of ours the store holds (a failed write may
    //  have been kept), then what they send that nothing answers. Until
    //  all of it is loaded, no note is dropped.
    self->notes_pinned = true;
    self->inbox.complete = false; //  a failed write kept may have noted more
    self->load_failed = false;
    self->pending_order.notes_older = 0; //  what it loads is stored at the second checkpoint
    int rc = journal_batch_notes_reload (self->batch);
    if (rc == 0)
        rc = journal_outbox_scan (self->config->journal, s_load_outbox, self);
    if (rc == 0)
        rc = journal_outbox_scan_notes (self->config->journal, s_load_noted, self);
    if (rc == 0) //  the inbox records in our notes, as the outbox's entries
        rc = inbox_load (self);
    if (rc == 0 && self->load_failed)
        rc = SHOAL_ENOMEM;
    if (rc == 0)
        self->notes_pinned = false;
    //  A lookup leaves the walk's cursor alone (it is ours): one pass.
    size_t cursor = 0;
    for (pending_t *cancel = ptable_next (&self->pending, &cursor); cancel;
         cancel = ptable_next (&self->pending, &cursor)) {
        pending_t *command = cancel->is_cancel ? outbox_pending_find (self, cancel->cancels) : NULL;
        if (command && streq (command->sender, cancel->sender))
            command->cancelling = true;
    }
    return rc;
}
