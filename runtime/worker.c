/*  worker.c - one worker thread: its loop, the drain of waiting messages
    through their turns, the group commit, and the release or abort of what
    the batch staged. See worker.h.

    Everything here is owned by the worker thread; the only things it
    shares are ZeroMQ sockets, the journal (LevelDB is thread-safe) and the
    atomic counters in worker_stats_t. The worker's parts live in their own
    files: the actor table (actors.c), a turn and its reply (turn.c),
    staging a turn's effects (stage.c), the outbox in memory (outbox.c),
    the timer queue (timers.c), the queries (query.c), and the shard of an
    address (shard.c); worker_internal.h is the state they share.

    Each loop: drain up to batch_max messages (local queue first, then the
    PULL socket) through their turns, staging every event, inbox record,
    outbox entry and timer into one journal batch; commit it in one write;
    only then release the staged replies and commands. If the commit fails,
    nothing is released: each client whose reply it staged is answered
    `unavailable` with the cause at once, and the worker reloads everything
    from the journal (actors, pending outbox, timers); actors that sent
    commands retry them. If the journal is down (it reopens the store after
    a failed write, journal.h), the reload is tried again each retry tick.

    Known limits: a re-send runs at most every 20 ms after it is due, and
    passivation every 1 s; a tick walks no table, only what is due.
*/
#include "worker.h"
#include "deadletter.h"
#include "query.h"
#include "repair.h"
#include "turn.h"
#include "worker_internal.h"
#include "log.h"
#include "threadname.h"

#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_BYTES_MAX (64u << 20) //  a group commit's records, at most (about)
#define STAGED_BYTES_MAX (4u << 20) //  the sends it waits to release, at most (about)
#define RETRY_TICK_MS 20
#define PASSIVATE_TICK_MS 1000
#define SLOW_COMMIT_NS 100000000u //  a commit slower than this is logged
#define SLOW_LOG_EVERY_MS 10000   //  at most once this often per worker

//  --------------------------------------------------------------------------
//  The local queue

int worker_local_push (worker_t *self, uint8_t *frame, size_t size)
{
    return worker_local_push_route (self, frame, size, 0);
}

int worker_local_push_route (worker_t *self, uint8_t *frame, size_t size, uint8_t route)
{
    local_queue_t *queue = &self->local;
    if (queue->count == queue->cap) {
        size_t cap = queue->cap ? queue->cap * 2 : 256;
        local_t *items = malloc (cap * sizeof (local_t));
        if (!items) {
            free (frame);
            return -1;
        }
        for (size_t i = 0; i < queue->count; i++) //  unwrapped, oldest first
            items[i] = queue->items[(queue->head + i) % queue->cap];
        free (queue->items);
        *queue = (local_queue_t){items, 0, queue->count, cap};
    }
    queue->items[(queue->head + queue->count++) % queue->cap] = (local_t){frame, size, route};
    return 0;
}

//  Takes the oldest message into *item (its frame is the caller's to
//  free). False when the queue is empty.
static bool s_local_pop (worker_t *self, local_t *item)
{
    local_queue_t *queue = &self->local;
    if (queue->count == 0)
        return false;
    *item = queue->items[queue->head];
    queue->head = (queue->head + 1) % queue->cap;
    queue->count--;
    return true;
}

//  Frees every message waiting; the ring stays, for reuse.
static void s_local_purge (worker_t *self)
{
    local_t item;
    while (s_local_pop (self, &item))
        free (item.frame);
    self->local.head = 0;
}

//  --------------------------------------------------------------------------
//  Commit and release

//  What leaves the node (through the front: replies, sends to other nodes)
//  leaves once every write that completed before it is durable; what goes
//  to the node's own actors does not wait: their effects are written after
//  their causes, and a crash keeps a prefix of the writes (sync.c). In a
//  node the front holds it until the journal's syncer thread made it so
//  (front.c); without that thread (a test playing the front) the worker
//  waits for a sync here.
static void s_gate (worker_t *self)
{
    journal_t *journal = self->config->journal;
    if (journal_sync_fd (journal) >= 0)
        return;
    uint64_t written = journal_written (journal);
    if (journal_synced (journal) < written)
        journal_sync (journal, written);
}

bool worker_outbound_add (worker_outbound_t *outbound, size_t size)
{
    if (!outbound)
        return false;
    bool waited = false;
    while (atomic_load (&outbound->bytes) >= WORKER_OUTBOUND_MAX &&
           !atomic_load (&outbound->stopping) && !zsys_interrupted) {
        waited = true;
        zclock_sleep (1);
    }
    uint_fast64_t out = atomic_fetch_add (&outbound->bytes, size) + size;
    uint_fast64_t peak = atomic_load (&outbound->peak);
    while (out > peak && !atomic_compare_exchange_weak (&outbound->peak, &peak, out))
        ;
    return waited;
}

//  Counts size bytes out to the front, waiting first while 64 MiB or more
//  are (worker_outbound_add). The front takes them as a sync makes their
//  causes durable, on its own thread, and never waits for a worker, so
//  the wait ends. Meanwhile this worker takes no message: what comes
//  waits in its queue, whose bound then refuses clients `busy`.
static void s_outbound (worker_t *self, size_t size)
{
    if (worker_outbound_add (self->config->outbound, size))
        self->stats->outbound_waits++;
}

//  Sends what is gathered for slot (a worker's index, or workers for the
//  front), if anything, as one message. On a failed send the messages are
//  lost, as sends that fail: commands and replies come back through
//  re-sends, a client retries.
static void s_bundle_flush (worker_t *self, int slot)
{
    if (!self->bundles || self->bundles[slot].size == 0)
        return;
    bool front = slot == self->config->workers;
    size_t size = 1 + self->bundles[slot].size; //  [BUNDLE_ROUTE, entries]
    if (front) {
        s_gate (self);
        s_outbound (self, size);
    }
    zsock_t *socket = front ? self->front : self->push[slot];
    if (bundle_send (&self->bundles[slot], zsock_resolve (socket)) != 0 && front)
        worker_outbound_sub (self->config->outbound, size);
}

//  Puts each message of a bundle from another worker in the local queue,
//  in order; one with a route that is not a worker's own (none is sent)
//  is counted as a bad internal frame and left out. Returns 0, or -1 if
//  the rest does not parse (what came before is queued) or out of memory
//  (the rest is lost, as sends that fail).
static int s_unbundle (worker_t *self, const uint8_t *data, size_t size)
{
    bundle_reader_t reader = {data, size};
    const uint8_t *route, *frame;
    size_t route_size, frame_size;
    int rc;
    while ((rc = bundle_next (&reader, &route, &route_size, &frame, &frame_size)) == 1) {
        if (route_size > 1 ||
            (route_size == 1 && (route[0] < WORKER_ROUTE_LOCAL || route[0] > WORKER_ROUTE_DONE))) {
            self->stats->bad_internal_frames++;
            continue;
        }
        uint8_t *copy = worker_memdup (frame, frame_size);
        if (!copy || worker_local_push_route (self, copy, frame_size, route_size ? route[0] : 0))
            return -1;
    }
    return rc;
}

int worker_send (worker_t *self, int dest, const uint8_t *route, size_t route_size,
                 const uint8_t *frame, size_t size)
{
    if (dest == self->index) { //  only a worker's own one-byte route is kept
        uint8_t *copy = worker_memdup (frame, size);
        uint8_t local = route_size == 1 && route[0] >= WORKER_ROUTE_LOCAL ? route[0] : 0;
        return copy ? worker_local_push_route (self, copy, size, local) : -1;
    }
    if (dest == WORKER_REMOTE) {            //  another node's: the front sends it on
        static const uint8_t remote = 0x02; //  front.h's ROUTE_REMOTE
        route = &remote;
        route_size = 1;
    }
    //  Gathered during a release, in order, a bundle at most
    //  WORKER_BUNDLE_MAX (and one message) long; else what was gathered for
    //  that thread goes first.
    int slot = dest >= 0 ? dest : self->config->workers;
    if (self->bundling && bundle_add (&self->bundles[slot], route, route_size, frame, size) == 0) {
        if (self->bundles[slot].size >= WORKER_BUNDLE_MAX)
            s_bundle_flush (self, slot);
        return 0;
    }
    s_bundle_flush (self, slot);
    if (dest < 0) {
        s_gate (self);
        s_outbound (self, route_size + size);
    }
    void *socket = zsock_resolve (dest < 0 ? self->front : self->push[dest]);
    if (zmq_send (socket, route, route_size, ZMQ_SNDMORE) == -1 ||
        zmq_send (socket, frame, size, 0) == -1) {
        if (dest < 0)
            worker_outbound_sub (self->config->outbound, route_size + size);
        return -1;
    }
    return 0;
}

int worker_send_command (worker_t *self, int dest, const uint8_t *frame, size_t size, bool first)
{
    uint8_t route = first ? WORKER_ROUTE_FIRST : WORKER_ROUTE_LOCAL;
    return worker_send (self, dest, dest < 0 ? NULL : &route, dest < 0 ? 0 : 1, frame, size);
}

void worker_stats_add (worker_stats_t *stats, const worker_tally_t *tally)
{
    stats->messages += tally->messages;
    stats->accepted += tally->accepted;
    //  expired before rejected, which counts them too: the metric of the
    //  rejections that did not expire (rejected less expired, read in
    //  that order, metrics.c) is then never read above what it is, so the
    //  highest value it exported is never too high.
    stats->expired += tally->expired;
    stats->rejected += tally->rejected;
    stats->duplicates += tally->duplicates;
    stats->replies += tally->replies;
    stats->events += tally->events;
    stats->forced_answered += tally->forced_answered;
    stats->snapshots_skipped += tally->snapshots_skipped;
}

//  Adds the outcomes of the committed batch to the counters.
static void s_count (worker_t *self)
{
    worker_stats_add (self->stats, &self->tally);
    for (uint64_t i = 0; i < self->tally.forced_answered && i < WORKER_FORCED_LINES; i++)
        log_error ("%s", self->forced_lines[i]);
    if (self->tally.forced_answered > WORKER_FORCED_LINES)
        log_error ("worker %d: and %" PRIu64 " more commands ended with --force ran after all "
                   "(forced_answered in shoal stats)",
                   self->index, self->tally.forced_answered - WORKER_FORCED_LINES);
    self->tally = (worker_tally_t){0};
}

//  Counts the committed batch's outcomes, sends what it staged, tracks the
//  commands it sent until their replies, and arms its timers.
static void s_release (worker_t *self)
{
    s_count (self);
    self->bundling = self->bundles != NULL;
    int64_t now = worker_mono (); //  the entries' sent_at and next_due
    for (size_t i = 0; i < self->out_count; i++) {
        out_t *out = &self->outs[i];
        //  A frame for one of ours that nobody keeps is moved, not copied.
        bool moved = !out->pending && out->dest == self->index;
        if (moved)
            worker_local_push (self, out->frame, out->size);
        else if (out->pending)
            worker_send_command (self, out->dest, out->frame, out->size, true);
        else
            worker_send (self, out->dest, out->route, out->route_size, out->frame, out->size);
        free (out->route);
        if (out->pending) { //  it keeps the frame for re-sends
            pending_t *pending = out->pending;
            pending->sent_at = now;
            pending->next_due = now + outbox_retry_delay (self, 0);
            outbox_track (self, pending);
        } else if (!moved)
            free (out->frame);
    }
    self->out_count = 0;
    self->out_bytes = 0;
    outbox_gauges (self);
    for (size_t i = 0; i < self->staged_timer_count; i++)
        timers_arm (self, &self->staged_timers[i]);
    self->staged_timer_count = 0;
    self->stats->timers = timers_count (self->timers);
    inbox_release (self);
    self->bundling = false;
    for (int slot = 0; self->bundles && slot <= self->config->workers; slot++)
        s_bundle_flush (self, slot);
}

//  Forgets everything in memory and reloads what the journal holds:
//  at start, and after a failed commit.
static int s_reload (worker_t *self)
{
    actor_table_purge (self);
    outbox_pending_purge (self); //  its entries leave their heaps
    timers_purge (self);
    int rc = outbox_load (self);
    if (rc == 0)
        rc = timers_load (self);
    outbox_gauges (self);
    return rc;
}

//  Answers each client whose reply the aborted batch staged with
//  `unavailable` and reason, at once: nothing of its command was written,
//  and it may retry (a retry with the same id runs it, or finds its reply).
static void s_refuse_staged_replies (worker_t *self, const char *reason)
{
    for (size_t i = 0; i < self->out_count; i++) {
        out_t *out = &self->outs[i];
        envelope_t reply;
        if (out->dest != WORKER_FRONT || out->route_size == 0 ||
            envelope_decode (&reply, out->frame, out->size) != 0 || reply.kind != ENVELOPE_REPLY)
            continue;
        uint8_t *payload, *frame;
        size_t payload_size, size;
        if (envelope_reply_encode (false, "unavailable", reason, NULL, 0, &payload,
                                   &payload_size) != 0)
            continue;
        reply.payload = payload;
        reply.payload_size = payload_size;
        if (envelope_encode (&reply, &frame, &size) == 0) {
            worker_send (self, WORKER_FRONT, out->route, out->route_size, frame, size);
            free (frame);
        }
        free (payload);
    }
}

//  Drops the batch, answers its clients `unavailable` with reason, and
//  reloads from the journal (or marks a reload due, if the journal is down).
static void s_abort (worker_t *self, const char *reason)
{
    s_refuse_staged_replies (self, reason);
    stage_drop (self);
    inbox_drop_staged (self);
    journal_batch_clear (self->batch);
    self->tally = (worker_tally_t){0}; //  none of its outcomes happened
    //  Timers already fired into the local queue are re-armed by the
    //  reload; commands and replies in it come back through re-sends.
    s_local_purge (self);
    self->batch_number++;
    self->turns = 0;
    self->turn_uncounted = true; //  a turn that aborted counts when it comes again
    self->reload_due = s_reload (self) != 0;
    if (self->reload_due)
        log_error ("worker %d: cannot reload from the journal; trying again", self->index);
}

void worker_abort_batch (worker_t *self)
{
    s_abort (self, "the node could not stage the batch (out of memory); nothing of this command "
                   "was written: try again");
}

//  After an abort whose reload failed (the journal was down): reloads as
//  soon as the journal answers again, at most every RETRY_TICK_MS.
static void s_reload_if_due (worker_t *self)
{
    if (!self->reload_due)
        return;
    self->reload_due = s_reload (self) != 0;
    if (!self->reload_due)
        log_info ("worker %d: reloaded from the journal", self->index);
}

//  Logs a commit slower than SLOW_COMMIT_NS, at most once per
//  SLOW_LOG_EVERY_MS, with how many there were since the last line.
static void s_slow_commit (worker_t *self, uint64_t ns, size_t records)
{
    uint64_t said;
    if (log_due (&self->slow_logged_at, &self->slow_commits, SLOW_LOG_EVERY_MS, &said))
        log_warn ("worker %d: slow commit: %.0f ms for %zu records (%" PRIu64
                  " commits over %.0f ms since the last such line)",
                  self->index, (double) ns / 1e6, records, said, (double) SLOW_COMMIT_NS / 1e6);
}

static void s_commit (worker_t *self)
{
    if (self->turns == 0 && self->out_count == 0 && journal_batch_count (self->batch) == 0)
        return;
    size_t records = journal_batch_count (self->batch);
    size_t turns = self->turns;
    uint64_t started = histogram_now_ns ();
    uint64_t written;
    int rc = records ? journal_batch_commit_unsynced (self->batch, &written) : 0;
    self->turns = 0;
    if (rc == 0) {
        if (records) {
            uint64_t ns = histogram_now_ns () - started;
            histogram_observe (&self->stats->commit_seconds, HISTOGRAM_SECONDS, ns);
            histogram_observe (&self->stats->batch_messages, HISTOGRAM_SIZES, turns);
            self->stats->commits++;
            self->stats->records += records;
            if (ns > SLOW_COMMIT_NS)
                s_slow_commit (self, ns, records);
        }
        self->batch_number++;
        s_release (self);
        actor_table_passivate_asked (self);
        return;
    }
    self->stats->failures++;
    char cause[400], reason[600];
    journal_last_error (self->config->journal, cause, sizeof cause);
    log_error ("worker %d: commit failed (%s: %s); reloading from the journal", self->index,
               shoal_strerror (rc), cause);
    if (!turn_disk_full (cause, "the journal write failed, nothing of this command was written",
                         reason, sizeof reason))
        snprintf (reason, sizeof reason,
                  "the journal write failed (%s); nothing of this command was written: try again",
                  cause);
    s_abort (self, reason);
}

//  --------------------------------------------------------------------------
//  The drain and the ticks

_Thread_local int64_t worker_frame_ms;
_Thread_local int64_t worker_frame_mono;

//  via: 0, or the WORKER_ROUTE_* a command of this node's came with.
static void s_on_frame (worker_t *self, const uint8_t *route, size_t route_size,
                        const uint8_t *frame, size_t size, uint8_t via)
{
    envelope_t envelope;
    if (envelope_decode (&envelope, frame, size) != 0) {
        self->stats->bad_internal_frames++;
        return;
    }
    self->turns++;
    if (envelope.kind != ENVELOPE_QUERY)
        busiest_count (&self->busiest, envelope.to);
    uint64_t batch = self->batch_number;
    uint64_t started = histogram_now_ns ();
    worker_frame_ms = zclock_time ();
    worker_frame_mono = zclock_mono ();
    //  Poison messages (deadletter.h): a dead one is not run; every other
    //  turn is marked in the turn file while it runs. Of the queries, a
    //  get runs the module's code (a load's apply and restore, its view):
    //  a turn too, all gets of an address one message (turnfile_key),
    //  its frame not kept (a retry lets the next get run).
    bool get = envelope.kind == ENVELOPE_QUERY && streq (envelope.name, "get");
    bool turn = envelope.kind != ENVELOPE_QUERY || get;
    turnfile_t *turn_file =
        self->config->turn_files && turn ? self->config->turn_files[self->index] : NULL;
    if (turn && deadletter_stop (self, route, route_size, &envelope)) {
        worker_frame_ms = worker_frame_mono = 0;
        return;
    }
    turnfile_begin (turn_file, &envelope, get ? NULL : frame, get ? 0 : size, worker_frame_ms,
                    (int64_t) (started / 1000000u));
    self->turn_uncounted = false;
    self->turn_cancelled = false;
    switch (envelope.kind) {
    case ENVELOPE_COMMAND: //  '$': the runtime's own (repair.h)
        if (envelope.name[0] == '$')
            repair_on_command (self, route, route_size, &envelope);
        else
            turn_on_command (self, route, route_size, &envelope, via);
        break;
    case ENVELOPE_REPLY:
        if (streq (envelope.name, REPAIR_CANCEL))
            repair_on_cancel_reply (self, &envelope);
        else
            turn_on_reply (self, &envelope);
        break;
    case ENVELOPE_TIMER:
        turn_on_timer (self, &envelope, frame, size);
        break;
    case ENVELOPE_QUERY:
        query_run (self, route, route_size, &envelope);
        break;
    }
    turnfile_end (turn_file);
    worker_frame_ms = worker_frame_mono = 0;
    if (turn)
        deadletter_survived (self, &envelope);
    histogram_observe (&self->stats->turn_seconds, HISTOGRAM_SECONDS,
                       histogram_now_ns () - started);
    //  A turn that aborted the batch, or refused its message for now, is
    //  counted when that comes again.
    if (batch == self->batch_number && !self->turn_uncounted)
        self->tally.messages++;
}

//  Timers that are due, the stalled gauge, then re-sends and stall
//  notices (at most every RETRY_TICK_MS, but at once when a command has
//  just passed --stall-ms), then passivation (every PASSIVATE_TICK_MS). Each is
//  kept in order of time (a heap by due time, the actors' LRU list), so a
//  tick costs what is due: O(due · log n), not O(pending or active).
//  The re-sends, the reload's retry and passivation by now.mono; what is
//  due by the wall clock, the timers (durable, by their due) and the
//  stalls (by a command's created), by whichever clock says so first
//  (worker_clock.h).
static void s_tick (worker_t *self)
{
    worker_clock_t now = worker_clock ();
    if (self->reload_due && now.mono >= self->next_retry_tick)
        s_reload_if_due (self);
    timers_fire (self, now);
    self->stats->timers = timers_count (self->timers);
    outbox_count_stalled (self, now); //  the gauge on time, not at the retry tick
    //  A command that has just stalled is noticed at once.
    if (now.mono >= self->next_retry_tick || outbox_notice_due (self)) {
        self->next_retry_tick = now.mono + RETRY_TICK_MS;
        outbox_resend (self, now);
    }
    if (now.mono >= self->next_passivate_tick) {
        self->next_passivate_tick = now.mono + PASSIVATE_TICK_MS;
        actor_table_passivate (self, now.mono);
    }
}

//  How long the worker may sleep: until the first of what s_tick does
//  next. Each wait is taken on its own clock, then the least of them: a
//  deadline of one clock is never compared with the other's now (a wall
//  clock stepped back by D would make the worker sleep through D).
static long s_poll_timeout (worker_t *self)
{
    if (self->local.count || self->turns || outbox_notice_due (self))
        return 0;
    worker_clock_t now = worker_clock ();
    //  Monotonic: passivation, and the outbox's re-sends, at most each
    //  retry tick.
    int64_t retry = self->reload_due ? self->next_retry_tick : outbox_next_due (self);
    if (retry < self->next_retry_tick)
        retry = self->next_retry_tick;
    //  By either clock: the timers, and when a pending command passes
    //  --stall-ms (for the gauge).
    int64_t waits[] = {worker_until (now.mono, self->next_passivate_tick),
                       worker_until (now.mono, retry), timers_wait (self, now),
                       outbox_stall_wait (self, now)};
    int64_t wait = INT64_MAX;
    for (size_t i = 0; i < sizeof waits / sizeof waits[0]; i++)
        wait = waits[i] < wait ? waits[i] : wait;
    return wait > LONG_MAX ? LONG_MAX : (long) wait;
}

//  Handles up to batch_max messages that are already waiting, and stops
//  early when the batch holds BATCH_BYTES_MAX or its sends STAGED_BYTES_MAX
//  (queries' answers, say: a worker's memory is not batch_max of them).
static void s_drain (worker_t *self)
{
    void *pull = zsock_resolve (self->pull);
    zmq_msg_t route, frame;
    zmq_msg_init (&route);
    zmq_msg_init (&frame);
    for (int n = 0; n < self->config->batch_max; n++) {
        if (journal_batch_bytes (self->batch) >= BATCH_BYTES_MAX ||
            self->out_bytes >= STAGED_BYTES_MAX)
            break;
        local_t item;
        if (s_local_pop (self, &item)) {
            if (item.route == WORKER_ROUTE_DONE)
                inbox_on_done (self, item.frame, item.size);
            else
                s_on_frame (self, NULL, 0, item.frame, item.size, item.route);
            free (item.frame);
            continue;
        }
        if (zmq_msg_recv (&route, pull, ZMQ_DONTWAIT) == -1)
            break;
        if (!zmq_msg_more (&route) || zmq_msg_recv (&frame, pull, 0) == -1) {
            self->stats->bad_internal_frames++;
            continue;
        }
        while (zmq_msg_more (&frame)) //  extra frames: never sent by shoal
            zmq_msg_recv (&frame, pull, 0);
        const uint8_t *r = zmq_msg_data (&route);
        size_t r_size = zmq_msg_size (&route);
        uint8_t via =
            r_size == 1 && r[0] >= WORKER_ROUTE_LOCAL && r[0] <= WORKER_ROUTE_REACHED ? r[0] : 0;
        if (via == WORKER_ROUTE_REACHED) {
            if (zmq_msg_size (&frame) == 1)
                outbox_on_reached (self, *(const uint8_t *) zmq_msg_data (&frame));
            else
                self->stats->bad_internal_frames++;
            continue;
        }
        if (via == WORKER_ROUTE_BUNDLE) {
            if (s_unbundle (self, zmq_msg_data (&frame), zmq_msg_size (&frame)) != 0)
                self->stats->bad_internal_frames++;
            continue;
        }
        if (via == WORKER_ROUTE_DONE) {
            inbox_on_done (self, zmq_msg_data (&frame), zmq_msg_size (&frame));
            continue;
        }
        if (via) //  another worker's: no route to answer by
            r_size = 0;
        else if (r_size) { //  the front's, counted: a client's, a gather's, or a peer's
            self->stats->queued_bytes -= zmq_msg_size (&frame);
            if (r_size == 1 && r[0] == 0x02) //  front.h's ROUTE_REMOTE: a peer's actor
                r_size = 0;                  //  message, no route to answer by
        } //  else another worker's, sent without a bundle: not counted
        s_on_frame (self, r, r_size, zmq_msg_data (&frame), zmq_msg_size (&frame), via);
    }
    zmq_msg_close (&route);
    zmq_msg_close (&frame);
}

//  --------------------------------------------------------------------------
//  Set-up and the loop

//  A zhashx destructor for an item malloc'd whole.
static void s_free_item (void **item)
{
    free (*item);
    *item = NULL;
}

static void s_worker_destroy (worker_t **self_p)
{
    worker_t *self = *self_p;
    if (!self)
        return;
    stage_drop (self);
    free (self->outs);
    free (self->staged_timers);
    free (self->passivating);
    bloom_close (&self->asked[0]);
    bloom_close (&self->asked[1]);
    actor_table_close (&self->actors);
    outbox_close (self);
    inbox_close (self);
    timers_destroy (self);
    s_local_purge (self);
    free (self->local.items);
    for (int i = 0; self->bundles && i <= self->config->workers; i++)
        bundle_close (&self->bundles[i]);
    free (self->bundles);
    zhashx_destroy (&self->dead);
    zhashx_destroy (&self->failing);
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
    actor_table_init (&self->actors);
    bool outbox_made = outbox_init (self) == 0 && inbox_init (self) == 0;
    self->timers = timers_new (self);
    self->batch = journal_batch_new (config->journal);
    if (self->batch) {
        journal_batch_set_worker (self->batch, (uint32_t) index);
        journal_batch_set_owned (self->batch, true); //  the actors' table knows the versions
    }
    int rc;
    self->dead = deadletter_table_new (config->journal, config, index, &rc);
    self->failing = zhashx_new ();
    if (self->failing)
        zhashx_set_destructor (self->failing, s_free_item);
    self->pull = zsock_new (ZMQ_PULL);
    self->push = calloc ((size_t) config->workers, sizeof (zsock_t *));
    self->bundles = calloc ((size_t) config->workers + 1, sizeof (bundle_t));
    if (!outbox_made || !self->timers || !self->pull || !self->push || !self->bundles ||
        !self->batch || !self->dead || !self->failing) {
        s_worker_destroy (&self);
        return NULL;
    }
    //  The front's queue to us is bounded by both ends' marks; the other
    //  workers' pushes have none, so two workers can never block each other.
    zsock_set_rcvhwm (self->pull, 50000);
    if (zsock_bind (self->pull, "%s-w%d", config->prefix, index) != 0) {
        log_error ("worker %d: cannot bind its inproc socket", index);
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
        log_error ("worker %d: cannot connect or scan the journal", index);
        s_worker_destroy (&self);
        return NULL;
    }
    self->next_passivate_tick = worker_mono () + PASSIVATE_TICK_MS;
    self->batch_number = 1; //  a new actor's staged_in, 0, is no batch
    busiest_reset (&self->busiest, worker_mono ());
    return self;
}

typedef struct {
    const worker_config_t *config;
    int index;
} worker_args_t;

static void s_worker_actor (zsock_t *pipe, void *arg)
{
    worker_args_t *args = arg;
    //  15 bytes at most: "shoal-worker-99", then "shoal-wkr-100".
    if (args->index < 100)
        thread_name ("shoal-worker-%d", args->index);
    else
        thread_name ("shoal-wkr-%d", args->index);
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
        outbox_checkpoint (self, zclock_mono (), false);
        s_drain (self);
        s_commit (self);
        s_tick (self);
        //  Before it waits for work: what it wrote becomes durable (the
        //  event log's end moves on for the projections), if no syncer
        //  thread does it.
        if (journal_sync_fd (self->config->journal) < 0 && s_poll_timeout (self) != 0 &&
            !(zsock_events (self->pull) & ZMQ_POLLIN))
            s_gate (self);
    }
    //  A clean stop leaves no notes for the next open to fold.
    outbox_checkpoint (self, zclock_mono (), true);
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
