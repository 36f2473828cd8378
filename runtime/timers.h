/*  timers.h - a worker's timer queue: the timers of its actors, in memory,
    sorted by due time, and found by actor.

    A timer is an envelope stored in the journal under its due time
    (DESIGN-NOTES.md, "Outbox, replies and timers"). The queue is armed
    from the journal at start and after an aborted batch, and with each
    committed batch's new timers; when one is due it becomes a message in
    the worker's local queue, and the turn that handles it deletes its
    record: fired once, and after a restart late rather than never. A
    timer's due time is the wall clock's (stored, shown); it fires when
    either clock says it is due (worker_clock.h): the wall clock, or the
    monotonic one, as far from its arming as its due time was from the
    wall clock then, so that a wall clock stepped back after it was
    armed does not delay it (it did by the step). The queue is two binary
    heaps, by its due time on each clock (common/heap.h): arming and
    firing are O(log n) in the timers armed. Each armed timer is also on
    its actor's list (a table by address), so that a turn's cancel and a
    `pending` query cost the actor's own timers, not the worker's. Internal
    to the worker: the worker thread owns the queue and every timer in it.
*/
#ifndef TIMERS_H_INCLUDED
#define TIMERS_H_INCLUDED

#include <czmq.h>
#include <stdint.h>

#include "heap.h"
#include "worker_clock.h"

typedef struct _worker_t worker_t;

//  A timer: armed in the queue, or staged by a turn of the batch.
typedef struct _wtimer_t wtimer_t;
struct _wtimer_t {
    int64_t due;    //  wall: ms since the epoch (its record's key, what pending shows)
    int64_t fire;   //  its due time on the monotonic clock (worker_wall_to_mono), by
                    //  the clocks of the turn that set it, or of its load
    uint8_t *frame; //  the timer's envelope, owned
    size_t size;
    uint64_t armed;   //  set by the queue: of equal due times, the first armed fires first
    bool cancelled;   //  staged only: a later turn of its batch cancelled it, never armed
    size_t place;     //  armed: its index in the heap by fire (heap_set_index)
    size_t due_place; //  armed: its index in the heap by due
    wtimer_t *next;   //  armed: the next timer of its actor, NULL for the last
    wtimer_t *prev;   //  armed: the one before, NULL for the first
    void *group;      //  armed: its actor's list (timers.c)
};

//  A new, empty queue, ordered by due time on the monotonic clock, for
//  self->timers; makes self->timers_by_due (by due time on the wall
//  clock) and self's table of the actors' lists empty. NULL when out of
//  memory.
heap_t *timers_new (worker_t *self);

//  Frees the queue, its timers and the actors' lists. Safe twice.
void timers_destroy (worker_t *self);

//  Frees every timer armed; the queue stays, empty.
void timers_purge (worker_t *self);

//  The number of timers armed.
size_t timers_count (heap_t *timers);

//  The first timer armed for the actor at address (then each one's next),
//  or NULL: borrowed until the queue changes. O(1).
const wtimer_t *timers_of (worker_t *self, const char *address);

//  Arms timer (a copy: the queue owns what it points to; frame is moved),
//  its due and fire set.
//  Out of memory: frees the frame, and the timer fires at the next reload.
void timers_arm (worker_t *self, const wtimer_t *timer);

//  Arms a copy of frame (borrowed) TIMER_RETRY_MS from now: its turn could
//  not run.
void timers_retry (worker_t *self, const uint8_t *frame, size_t size);

//  Stages the cancel of the timers named name of the actor at address
//  that are armed or staged (set by an earlier turn of this batch): their
//  records are deleted in the batch; an armed one leaves the queue now, a
//  staged one is marked cancelled and never armed. If the batch is
//  aborted, the reload re-arms them from the journal as if nothing
//  happened. Returns 0 or the batch's error. O(the actor's timers armed,
//  and a head read of each timer staged in this batch).
int timers_cancel (worker_t *self, const char *address, const char *name);

//  Moves every timer due at now, by either clock, into the local queue,
//  in due order.
void timers_fire (worker_t *self, worker_clock_t now);

//  The ms from now until the next timer is due, by either clock: 0 if one
//  is, INT64_MAX when none is armed.
int64_t timers_wait (worker_t *self, worker_clock_t now);

//  Arms the timers of this worker's actors stored in the journal. An
//  unreadable record is counted in bad_internal_frames and skipped.
//  Returns 0 or the journal's error.
int timers_load (worker_t *self);

#endif
