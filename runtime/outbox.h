/*  outbox.h - a worker's outbox in memory: the commands its actors sent
    that are committed and not yet answered (the pending table), the
    reply-time estimate that paces re-sends, and the re-send and stall scan.

    The journal holds the outbox itself, in two tiers (persistence/keys.h):
    a command sent is written in the note of the sender's commit, and
    stored under its own 'o' key only if it is still unanswered at the
    second checkpoint after its send (outbox_checkpoint, every
    CHECKPOINT_MS: so after one to two of them), which also deletes the
    notes written before the first; most commands are answered before,
    and then write no record of their own. This table is its copy
    in memory, loaded at start and after an aborted batch, and added to
    when a committed batch is released. A command is re-sent until the turn that handles its reply
    deletes it (DESIGN-NOTES.md, "Outbox, replies and timers"); one
    unanswered for stall_ms is reported to its sender once per load, as it
    passes stall_ms (at the worker's next tick, not at its next re-send,
    whose backoff it keeps), so that the sender's own record of it (a
    transfer's `stalled`) agrees with what the pending query says.

    The table (by id) is a ptable_t (common/ptable.h: open addressing, 8
    bytes a slot, no allocation per entry) of entries that hold their key.
    Beside it, the entries are in three heaps ordered by time
    (outbox_order_t): by when their next re-send is due (on the monotonic
    clock), and, until they pass stall_ms, by when they do, one heap for
    each clock (their first send, created, is on the wall clock, as it
    crosses nodes; stall_at takes created plus stall_ms to the monotonic
    clock: worker_clock.h). So a tick
    costs what is due, O(due · log n), and O(1) when nothing is: it never
    walks the table.
    An entry's places in the heaps go with it: whatever takes it out of
    the table (outbox_pending_drop, outbox_pending_purge, a replacement in
    outbox_track) frees it and takes it out of the heaps too, through
    outbox_pending_destroy. Internal to the worker: the worker thread owns
    the table, the heaps and every entry.
*/
#ifndef OUTBOX_H_INCLUDED
#define OUTBOX_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "envelope.h"
#include "heap.h"
#include "ptable.h"
#include "shoal.h"
#include "worker_clock.h"

typedef struct _worker_t worker_t;
typedef struct _outbox_order_t outbox_order_t;

//  A command sent and not yet answered.
typedef struct {
    uint8_t id[ENVELOPE_ID_SIZE];       //  the command's id, the table's key
    char sender[SHOAL_ADDRESS_MAX + 1]; //  the actor that sent it
    int dest;                           //  the receiver's worker
    uint8_t *frame;                     //  the encoded command, owned
    size_t size;                        //  its bytes
    uint32_t attempt;                   //  re-sends so far
    int64_t next_due;                   //  monotonic ms: re-send at
    int64_t created;                    //  wall: first send (ms since epoch), from the envelope
    int64_t stall_due;  //  wall: passes --stall-ms (created + stall_ms), when tracked
    int64_t stall_at;   //  monotonic ms: the same on that clock (worker_wall_to_mono)
    int64_t sent_at;    //  monotonic ms: first send from this process (estimate)
    int64_t last_sent;  //  monotonic ms: latest send or re-send, 0 if none
    bool stall_noticed; //  its sender was told it is stalled
    bool cancelling;    //  an operator resolved it: its $cancel is re-sent instead
    bool is_cancel;     //  a $cancel (repair.h), for the command cancels
    bool untellable;    //  its target cannot tell if it ran it (repair.h);
                        //  in memory only: learned again after a reload
    uint8_t cancels[ENVELOPE_ID_SIZE]; //  is_cancel: the id of the command it cancels
    char error[128];                   //  the last failure known about it, "" for none
    outbox_order_t *order;             //  the heaps it is in, NULL until tracked
    size_t due_at;                     //  its place in order->due, HEAP_NONE if not there
    size_t unstalled_at;               //  its place in order->unstalled, HEAP_NONE if not there
    size_t unstalled_due_at;           //  its place in order->unstalled_by_due, likewise
    bool past_stall;                   //  counted in order->stalled
    bool notice_only;                  //  due now for its stall notice, not a re-send
    bool stored;                       //  under its 'o' key, not in a note only
    int gen;                           //  !stored: which of order->notes it is in
    size_t noted_at;                   //  its place there, HEAP_NONE if not there
} pending_t;

//  Entries in notes only, of one generation (the notes written between
//  two checkpoints).
typedef struct {
    pending_t **items;
    size_t count;
    size_t cap;
} noted_list_t;

//  The pending entries in the order of time. Part of the worker.
struct _outbox_order_t {
    heap_t *due;              //  by next_due (monotonic): to re-send (a cancelling one
                              //  leaves when due)
    heap_t *unstalled;        //  by stall_at (monotonic): not yet unanswered for stall_ms
    heap_t *unstalled_by_due; //  the same, by stall_due (wall): either says it stalls
    uint64_t stalled;         //  entries unanswered for stall_ms or more (the gauge)
    pending_t **noticing;     //  a tick's stall notices, reused from tick to tick
    bool notice_due;          //  an entry passed stall_ms unnoticed: it is due now, and the
                              //  next tick notices it without waiting for its retry tick
    size_t noticing_cap;      //  its room, in entries
    noted_list_t notes[2];    //  entries in notes only: [epoch & 1] since the last
                              //  checkpoint, the other stored at the next one
    unsigned epoch;           //  checkpoints so far
    size_t notes_older;       //  notes written before the last checkpoint (dropped at the next)
    int64_t checkpoint;       //  monotonic ms: the next checkpoint is due
};

//  Makes self's pending table (keyed by command id, owning its entries,
//  which allocates nothing until the first) and its order, both empty.
//  Returns 0 or SHOAL_ENOMEM (outbox_close frees what was made).
int outbox_init (worker_t *self);

//  Frees the pending table, its entries and its order. Safe twice.
void outbox_close (worker_t *self);

//  Takes a pending entry out of the heaps it is in, frees it and its
//  frame, and sets *item to NULL. Safe with *item NULL. What takes an
//  entry out of the table calls it; so does the free of an entry that
//  was never tracked. It does not touch the table.
void outbox_pending_destroy (void **item);

//  The tracked entry of command id, or NULL. Borrowed: valid until the
//  entry leaves the table (a turn on its reply, a reload). O(1).
pending_t *outbox_pending_find (const worker_t *self, const uint8_t id[ENVELOPE_ID_SIZE]);

//  True if address is the actor pending's command was sent to: the only
//  one whose reply answers it (a $cancel's: the cancelled command's
//  target). Reads the head of the stored frame, not its payload: O(the
//  addresses' length), nothing allocated.
bool outbox_pending_answered_by (const pending_t *pending, const char *address);

//  Walks the table: start with *cursor = 0; returns the next entry, or
//  NULL at the end. Each entry is seen once if none is added or dropped
//  meanwhile (finds and changes to the heaps are fine).
pending_t *outbox_pending_next (const worker_t *self, size_t *cursor);

//  How many entries the table holds. Can't fail.
size_t outbox_pending_count (const worker_t *self);

//  Takes the entry of command id out of the table and destroys it
//  (outbox_pending_destroy). Nothing if there is none.
void outbox_pending_drop (worker_t *self, const uint8_t id[ENVELOPE_ID_SIZE]);

//  Destroys every entry of the table, which keeps its slots (for the
//  reload that follows). O(capacity + n · log n) for the heaps.
void outbox_pending_purge (worker_t *self);

//  Takes one reply time, in ms, into the estimate outbox_retry_delay uses.
void outbox_reply_sample (worker_t *self, double ms);

//  The delay in ms before re-send number attempt + 1 (0: the first send's
//  wait), with jitter. Can't fail.
int64_t outbox_retry_delay (const worker_t *self, uint32_t attempt);

//  Sets pending's stall_due (its created plus --stall-ms) and stall_at
//  (that on the monotonic clock) by the clocks read at now: the turn's
//  that sent it (so a step of the wall clock before its commit ends does
//  not move its stall), or its load's. Can't fail.
void outbox_stall_from (worker_t *self, pending_t *pending, worker_clock_t now);

//  Tracks pending (owned, not tracked yet) from now on, re-sent at its
//  next_due, stalled at its stall_due or stall_at (set by
//  outbox_stall_from; by the clocks now if not), replacing any entry with
//  its id (destroyed). Out of memory,
//  pending is freed and a reload is due, which lists its command again
//  from the journal (a load in progress fails: load_failed). O(log n).
void outbox_track (worker_t *self, pending_t *pending);

//  Makes pending (tracked, not cancelling) due at due (monotonic ms, as
//  worker_mono). O(log n). (One whose target cannot tell whether it ran
//  it leaves order.due at its next tick: outbox_resend.)
void outbox_due_at (worker_t *self, pending_t *pending, int64_t due);

//  Re-sends every command due at now.mono; then tells the sender of each
//  one re-sent and unanswered for stall_ms (outbox_count_stalled says
//  which), or due for its notice alone, in a
//  turn of its own (which may abort the batch: the notices stop there).
//  Sets the stalled gauge. O(due · log n), where due counts the re-sends
//  and the entries that passed stall_ms since the last call.
void outbox_resend (worker_t *self, worker_clock_t now);

//  Whether an operator's $resend, or a link that comes back, may make
//  pending due now: not one an operator resolved (it waits for its
//  $cancel's answer), nor one its target cannot tell about (repair.h:
//  the answer would be the same).
static inline bool outbox_resendable (const pending_t *pending)
{
    return !pending->cancelling && !pending->untellable;
}

//  The commands to the actors of node, another node of the cluster whose
//  links work both ways again (WORKER_ROUTE_REACHED), are due within a
//  second (spread, so that a peer that was only silent is not sent them
//  all at once): what
//  was sent while they did not was lost, and each would otherwise wait
//  for its backoff, up to RETRY_MAX_MS and a quarter. As $resend, O(pending):
//  once per link that comes back, not a tick's work.
void outbox_on_reached (worker_t *self, int node);

//  Sets the worker's pending and stalled gauges from the table and its
//  order, stalled first: a reader that sees the new pending count sees
//  the stalled count that goes with it. Called wherever entries come or
//  go, so an answered entry leaves both at once. O(1).
void outbox_gauges (worker_t *self);

//  Counts the entries that passed stall_ms by either clock (stall_due by
//  now.wall, stall_at by now.mono) in the stalled gauge (outbox_gauges),
//  and makes each one whose sender was not told yet due at once
//  (now.mono) for its notice (outbox_notice_due).
//  O(passed · log n): a look at the heaps' tops when none did, so the
//  worker calls it on every tick.
void outbox_count_stalled (worker_t *self, worker_clock_t now);

//  True if outbox_count_stalled made an entry due whose sender is to be
//  told it is stalled: the worker calls outbox_resend at its next tick,
//  whatever its retry tick says. Can't fail.
bool outbox_notice_due (const worker_t *self);

//  When outbox_resend has a re-send to do next, in monotonic ms (as
//  worker_mono). INT64_MAX when none is due. O(1).
int64_t outbox_next_due (const worker_t *self);

//  The ms from now until the next entry passes stall_ms (for
//  outbox_count_stalled), by either clock (worker_clock.h: its created
//  plus stall_ms on the wall clock, or that on the monotonic clock by
//  the offset when it was tracked, so that a wall clock stepped back
//  afterwards does not delay its stall: it did by the step). 0 if one
//  has, INT64_MAX when every entry has. O(1).
int64_t outbox_stall_wait (const worker_t *self, worker_clock_t now);

//  Stages the delete of pending's journal record (its 'o' key if stored,
//  else an answer in this commit's note) and takes it out of the table.
//  Returns 0 or the journal's error (then it stays).
int outbox_forget (worker_t *self, pending_t *pending);

//  If a checkpoint is due at now (monotonic ms, as worker_mono): stages,
//  in the worker's batch, the 'o' key of every entry still in notes only
//  that was sent before the last checkpoint, and the delete of every note
//  written before it (force: of every entry and note, for a clean stop).
//  True if it staged anything. O(entries stored + notes dropped).
bool outbox_checkpoint (worker_t *self, int64_t now, bool force);

//  Loads the outbox entries of this worker's actors from the journal, due
//  at once; a command whose $cancel is in the outbox is marked cancelling
//  (not re-sent). Returns 0 or the journal's error.
int outbox_load (worker_t *self);

#endif
