/*  worker_clock.h - a worker's two clocks, kept apart by name.

    The wall clock (worker_now, ms since the epoch) stamps what crosses
    nodes or is stored: a command's created (the inbox retention, the
    stall age, a $cancel's created), events, replies, durable timers' due
    times, what an operator reads. The monotonic clock (worker_mono,
    zclock_mono's ms, not related to the epoch) schedules what the worker
    does of its own: re-sends (a pending entry's next_due, sent_at,
    last_sent), its retry and passivate ticks, an actor's last use, and
    its poll timeout; and, by the waiting clock (below) that follows it,
    what is due by the wall clock: a timer's firing, a pending command's
    stall. A wall clock stepped back by D (NTP after a VM
    resume, a manual date) froze all of these for D; the monotonic clock
    does not step. A field holding a time says which clock in its comment.

    Included inside runtime/ only (worker_internal.h, outbox.h). Each
    worker thread reads its own clocks; nothing here is shared.
*/
#ifndef WORKER_CLOCK_H_INCLUDED
#define WORKER_CLOCK_H_INCLUDED

#include <czmq.h>
#include <stdint.h>

//  The times the message in hand came to be handled, on each clock, or 0
//  between messages (worker.c, s_on_frame): a turn reads the clocks
//  several times (its events' and replies' stamps, the actor's last use,
//  the outbox's sends), each a vDSO call, 3-4 % of a worker; a message's
//  stamps come from one read of each instead.
extern _Thread_local int64_t worker_frame_ms;   //  wall: ms since the epoch
extern _Thread_local int64_t worker_frame_mono; //  monotonic ms (zclock_mono)

//  The worker's wall clock: ms since the epoch; within a message's turn,
//  the time it began. For what crosses nodes or is stored, never to
//  schedule the worker's own work.
static inline int64_t worker_now (void)
{
    return worker_frame_ms ? worker_frame_ms : zclock_time ();
}

//  The worker's monotonic clock, in ms; within a message's turn, the time
//  it began. For the worker's own scheduling only: never stored, never
//  sent, never shown as it is (worker_mono_to_wall).
static inline int64_t worker_mono (void)
{
    return worker_frame_mono ? worker_frame_mono : zclock_mono ();
}

//  Both clocks, read together, for what reads both (a tick counts stalls
//  by a command's created and re-sends by their next_due).
typedef struct {
    int64_t wall; //  worker_now ()
    int64_t mono; //  worker_mono ()
} worker_clock_t;

static inline worker_clock_t worker_clock (void)
{
    return (worker_clock_t){worker_now (), worker_mono ()};
}

//  A monotonic time of this process's (mono) as wall time, by the clocks
//  read at now: for an operator's eyes only. Can't fail.
static inline int64_t worker_mono_to_wall (worker_clock_t now, int64_t mono)
{
    return now.wall - (now.mono - mono);
}

//  The worker's waiting clock, in ms (runtime/worker_clock.c): what is
//  due by the wall clock (a durable timer's due, a pending command's
//  created plus --stall-ms) is waited for on it. It is the monotonic
//  clock moved ahead by each forward jump of the wall clock against it (a
//  resume from suspend or a paused VM, where the monotonic clock stood
//  still, and NTP's step after it; or a step ahead), and not moved back
//  by a backward step. So what was armed before a step back comes on
//  time, not late by the step, and what a suspend passed comes when the
//  wall clock says, as it did when the wall clock drove it; a step ahead
//  still brings it early. Drift under WORKER_CLOCK_STEP_MS between the
//  two clocks is not a jump. Each thread keeps its own (thread-locals).
#define WORKER_CLOCK_STEP_MS 100

//  The waiting clock at now (which it notes: a jump is seen here).
int64_t worker_wait_now (worker_clock_t now);

//  A wall time (at) as a time of the waiting clock, by the wall clock's
//  offset to it as it stands at now (which it notes), saturated: never
//  INT64_MAX ("never" to those who wait), INT64_MAX - 1 at most. Wall
//  times stamped under one offset keep their order and their equality.
int64_t worker_wall_to_wait (worker_clock_t now, int64_t at);

#endif
