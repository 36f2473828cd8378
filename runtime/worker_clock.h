/*  worker_clock.h - a worker's two clocks, kept apart by name.

    The wall clock (worker_now, ms since the epoch) stamps what crosses
    nodes or is stored: a command's created (the inbox retention, the
    stall age, a $cancel's created), events, replies, durable timers' due
    times, what an operator reads. The monotonic clock (worker_mono,
    zclock_mono's ms, not related to the epoch) schedules what the worker
    does of its own: re-sends (a pending entry's next_due, sent_at,
    last_sent), its retry and passivate ticks, an actor's last use, and
    its poll timeout; and what is due by the wall clock, taken to the
    monotonic clock once (worker_wall_to_mono): a timer's firing, a
    pending command's stall. A wall clock stepped back by D (NTP after a VM
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

//  A wall time (at) as a time of the monotonic clock, by the clocks read
//  at now: as far from now.mono as at is from now.wall, saturated. What
//  is due by the wall clock is then waited for by the monotonic one, which
//  a wall clock stepped back (or ahead) afterwards does not move. Never
//  INT64_MAX ("never" to those who wait), INT64_MAX - 1 at most.
static inline int64_t worker_wall_to_mono (worker_clock_t now, int64_t at)
{
    int64_t in, mono;
    if (__builtin_sub_overflow (at, now.wall, &in))
        in = at < now.wall ? INT64_MIN : INT64_MAX;
    if (__builtin_add_overflow (now.mono, in, &mono))
        mono = in < 0 ? INT64_MIN : INT64_MAX;
    return mono == INT64_MAX ? INT64_MAX - 1 : mono;
}

#endif
