/*  worker_internal.h - the worker's state, shared by the files of runtime/
    that make up a worker (worker.c, actors.c, turn.c, stage.c, outbox.c,
    timers.c, query.c). Included only inside runtime/; the node uses
    worker.h.

    One worker_t per worker thread, made and destroyed by worker.c, and
    touched by that thread alone: its actors, local queue, journal batch,
    staged sends and timers, pending outbox and timer queue are never seen
    by another thread. What it shares is its sockets, the journal (LevelDB
    is thread-safe), and the atomic counters in worker_stats_t.
*/
#ifndef WORKER_INTERNAL_H_INCLUDED
#define WORKER_INTERNAL_H_INCLUDED

#include <stdlib.h>
#include <string.h>

#include "actors.h"
#include "busiest.h"
#include "bundle.h"
#include "ctx.h"
#include "inbox.h"
#include "outbox.h"
#include "stage.h"
#include "timers.h"
#include "worker.h"
#include "worker_clock.h"
#include "bloom.h"

//  A message waiting in the local queue (same-worker delivery, and timers
//  that are due).
typedef struct {
    uint8_t *frame; //  encoded envelope, owned
    size_t size;
    uint8_t route; //  0, or WORKER_ROUTE_*
} local_t;

//  The one-byte routes of what one worker sends another (front.h's routes
//  stop at 0x03): a command an actor sent, first or again, and the word
//  that some commands will never be sent again (inbox.h). A message that
//  comes with none of them came from a client or another node.
#define WORKER_ROUTE_LOCAL 0x04          //  a command of an actor of this node, sent again
#define WORKER_ROUTE_FIRST 0x05          //  its first send, right after its commit
#define WORKER_ROUTE_DONE 0x06           //  ids of commands their senders forgot (inbox.h)
#define WORKER_ROUTE_BUNDLE BUNDLE_ROUTE //  what a release sends a thread, in one (bundle.h)
//  WORKER_ROUTE_REACHED (0x08, worker.h): the front's word that a peer's
//  links work both ways again.

//  The local queue, first in first out: a ring of local_t that grows by
//  doubling and is reused, so that a message costs no allocation but its
//  frame's (none when the frame is moved in: worker_local_push).
typedef struct {
    local_t *items; //  the ring, cap entries
    size_t head;    //  the oldest message's index
    size_t count;   //  messages waiting
    size_t cap;     //  its room
} local_queue_t;

//  The outcomes of the batch being built: added to the counters when the
//  batch is released after its commit, dropped when it is aborted, so that
//  an outcome is counted once however often its batch is tried.
typedef struct {
    uint64_t messages;          //  envelopes whose turn ended in this batch
    uint64_t accepted;          //  commands accepted
    uint64_t rejected;          //  commands and queries refused
    uint64_t duplicates;        //  commands answered from the inbox, replies already handled
    uint64_t replies;           //  replies handled by the actors that sent their commands
    uint64_t events;            //  events staged
    uint64_t expired;           //  commands refused: older than the retention
    uint64_t forced_answered;   //  forced $cancels answered: their command had run (repair.c)
    uint64_t snapshots_skipped; //  snapshots not written: too big, or misused (stage.c)
} worker_tally_t;

//  Adds a released batch's outcomes to stats (expired before rejected:
//  see worker.c). Any thread may read stats meanwhile.
void worker_stats_add (worker_stats_t *stats, const worker_tally_t *tally);

#define WORKER_FORCED_LINES 4       //  forced_answered lines a batch keeps
#define WORKER_FORCED_LINE_MAX 1024 //  bytes of one

struct _worker_t {
    const worker_config_t *config;
    int index;
    worker_stats_t *stats; //  counters (shared, atomic)
    worker_tally_t tally;  //  the batch's outcomes, counted at its release
    //  The error lines of the batch's forced_answered, the first ones:
    //  logged at its release, as it is counted, so once (repair.c).
    char forced_lines[WORKER_FORCED_LINES][WORKER_FORCED_LINE_MAX];
    bool turn_uncounted; //  the turn counts nothing: it aborted, or the store was down
    bool turn_cancelled; //  the turn answered a command from the record of its $cancel
    zsock_t *pull;       //  our inbox socket
    zsock_t **push;      //  one per worker (NULL for ourselves)
    zsock_t *front;      //  to the node's front thread
    ptable_t actors;     //  address -> actor_t (actors.c)
    actor_lru_t lru;     //  the same actors, most recently used first
    char *passivating;   //  actors to passivate once the batch commits: their
                         //  addresses, each ended by a NUL (actors.c)
    size_t passivating_size, passivating_cap; //  its bytes, and its room
    bloom_t asked[2];       //  Bloom filters of the actors passivated on their own
                            //  ask, the newer [asked_newer] (actors.c), empty until one
    int asked_newer;        //  which of asked takes the next additions
    size_t asked_count;     //  actors added to the newer one
    local_queue_t local;    //  messages to our own actors (worker.c)
    bundle_t *bundles;      //  what the release sends each worker, and last the front's
    bool bundling;          //  worker_send gathers into bundles (during a release)
    journal_batch_t *batch; //  staged writes
    out_t *outs;            //  staged sends (stage.c)
    size_t out_count, out_cap;
    size_t out_bytes;        //  their frames' bytes (a batch stops at WORKER_STAGED_MAX)
    wtimer_t *staged_timers; //  set in this batch, armed after commit (stage.c)
    size_t staged_timer_count, staged_timer_cap;
    ptable_t pending;             //  id (16 bytes) -> pending_t, owned (outbox.c)
    outbox_order_t pending_order; //  the same entries by due time (outbox.c)
    bool notes_pinned;            //  an entry in a note only may be missing from
                                  //  pending_order.notes: keep the notes (outbox.c)
    bool load_failed;             //  outbox_load could not load an entry
    inbox_notes_t inbox;          //  inbox records in notes only (inbox.c)
    heap_t *timers;               //  wtimer_t by due time, on the monotonic clock (timers.c)
    heap_t *timers_by_due;        //  the same, by due time on the wall clock
    uint64_t timers_armed;        //  timers ever armed: ties in due time fire in this order
    ptable_t timer_groups;        //  address -> its armed timers (timers.c)
    shoal_ctx_t ctx;              //  the turn being run
    int64_t next_retry_tick;      //  monotonic ms: the next re-send tick (a reload's retry)
    int64_t next_passivate_tick;  //  monotonic ms: the next passivation of idle actors
    size_t turns;                 //  messages in the current batch
    double reply_ms;              //  smoothed time from sending a command to its reply
    double reply_var_ms;          //  its smoothed mean deviation
    uint64_t batch_number;        //  counts batches, committed or aborted
    int64_t slow_logged_at;       //  when a slow commit was last logged (monotonic ms)
    uint64_t slow_commits;        //  slow commits not logged yet
    int64_t forged_at;            //  when a forged reply or timer was last logged (mono ms)
    bool forcing;                 //  a reply an operator decided is being handed (repair.c)
    bool reload_due;              //  an abort's reload failed: try again (worker.c)
    busiest_t busiest;            //  messages per address since last read (busiest.h)
    zhashx_t *dead;               //  dead-letter records of our shards (deadletter.c)
    //  address -> failing_t: the actors whose last turn of a command failed
    //  (a handler's error, not a decision), at most FAILING_MAX (turn.c),
    //  shown by `get` (query.c): an actor sender is told nothing of it.
    zhashx_t *failing;
    //  Why the last actor load failed because its type's apply refused
    //  one of its stored events (actors.c), or "": the reply's reason and
    //  the log's line name the actor, the event and its seq, where the
    //  code alone (SHOAL_EFORMAT) would read as a damaged record.
    char load_refused[ENVELOPE_REASON_MAX + 1];
    char load_refused_address[SHOAL_ADDRESS_MAX + 1]; //  whose, "" if none
};

#define FAILING_MAX 1024

//  How an actor's commands have been failing since its last one that did not.
typedef struct {
    char command[SHOAL_NAME_MAX + 1];
    char code[ENVELOPE_CODE_MAX + 1];
    char reason[ENVELOPE_REASON_MAX + 1];
    int64_t since, last; //  ms since the epoch
    uint64_t times;
} failing_t;

//  A malloc'd copy of size bytes (1 byte when size is 0), or NULL.
static inline void *worker_memdup (const void *src, size_t size)
{
    void *copy = malloc (size ? size : 1);
    if (copy && size)
        memcpy (copy, src, size);
    return copy;
}

//  Sends one frame to dest (a worker index, or -1 for the front) with an
//  optional route (borrowed). Delivery to ourselves goes through the local
//  queue, with the route if it is one of WORKER_ROUTE_*. Returns 0 or -1.
int worker_send (worker_t *self, int dest, const uint8_t *route, size_t route_size,
                 const uint8_t *frame, size_t size);

//  Queues frame (owned: freed here if it cannot be queued) for one of
//  this worker's actors, after the messages already queued. Returns 0 or
//  -1 (out of memory: the message is lost, as a send that fails).
int worker_local_push (worker_t *self, uint8_t *frame, size_t size);
//  The same, with one of the WORKER_ROUTE_* routes.
int worker_local_push_route (worker_t *self, uint8_t *frame, size_t size, uint8_t route);
//  Sends a command of pending's (its first send after its commit, or
//  again) to its receiver's worker, or to the front for another node.
//  Returns 0 or -1.
int worker_send_command (worker_t *self, int dest, const uint8_t *frame, size_t size, bool first);

//  Drops everything staged in the batch and reloads from the journal, as
//  after a failed commit: nobody was told anything about it yet. Every
//  actor, pending entry and timer pointer held by the caller is freed.
void worker_abort_batch (worker_t *self);

#endif
