/*  timers.h - a worker's timer queue: the timers of its actors, in memory,
    sorted by due time.

    A timer is an envelope stored in the journal under its due time
    (DESIGN-NOTES.md, "Outbox, replies and timers"). The queue is armed
    from the journal at start and after an aborted batch, and with each
    committed batch's new timers; when one is due it becomes a message in
    the worker's local queue, and the turn that handles it deletes its
    record: fired once, and after a restart late rather than never. The
    queue is a binary heap keyed by due time (common/heap.h): arming and
    firing are O(log n) in the timers armed. Internal to the worker: the
    worker thread owns the queue and every timer in it.
*/
#ifndef TIMERS_H_INCLUDED
#define TIMERS_H_INCLUDED

#include <czmq.h>
#include <stdint.h>

#include "heap.h"

typedef struct _worker_t worker_t;

//  A timer armed in memory.
typedef struct {
    int64_t due;    //  ms since the epoch
    uint8_t *frame; //  the timer's envelope, owned
    size_t size;
    uint64_t armed; //  set by the queue: of equal due times, the first armed fires first
    bool cancelled; //  a turn of this batch cancelled it: never fires
} wtimer_t;

//  A new, empty queue that owns its timers, ordered by due time. NULL when
//  out of memory.
heap_t *timers_new (void);

//  Frees the queue and its timers; sets *timers_p to NULL. Safe twice.
void timers_destroy (heap_t **timers_p);

//  Frees every timer armed; the queue stays, empty.
void timers_purge (heap_t *timers);

//  The number of timers armed.
size_t timers_count (heap_t *timers);

//  The timer at index, in no particular order (borrowed until the queue
//  changes), or NULL past the last: for walking every timer.
const wtimer_t *timers_at (heap_t *timers, size_t index);

//  Arms timer (a copy: the queue owns what it points to; frame is moved).
//  Out of memory: frees the frame, and the timer fires at the next reload.
void timers_arm (worker_t *self, const wtimer_t *timer);

//  Arms a copy of frame (borrowed) TIMER_RETRY_MS from now: its turn could
//  not run.
void timers_retry (worker_t *self, const uint8_t *frame, size_t size);

//  Stages the cancel of the timers named name of the actor at address
//  that are armed or staged (set by an earlier turn of this batch): their
//  records are deleted in the batch and they are marked cancelled, so they
//  never fire; the armed ones leave the queue when the batch is released
//  (timers_drop_cancelled). If the batch is aborted, the reload re-arms
//  them from the journal as if nothing happened. Returns 0 or the batch's
//  error. O(timers armed and staged): each one's envelope is decoded.
int timers_cancel (worker_t *self, const char *address, const char *name);

//  Drops the cancelled timers from the queue (after the commit of the
//  batch that cancelled them). O(timers armed) when there are some.
void timers_drop_cancelled (worker_t *self);

//  Moves every timer due at now into the local queue, in due order; a
//  cancelled one is freed instead.
void timers_fire (worker_t *self, int64_t now);

//  The due time of the next timer, or INT64_MAX when none is armed.
int64_t timers_next_due (worker_t *self);

//  Arms the timers of this worker's actors stored in the journal. An
//  unreadable record is counted in bad_internal_frames and skipped.
//  Returns 0 or the journal's error.
int timers_load (worker_t *self);

#endif
