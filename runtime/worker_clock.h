/*  worker_clock.h - a worker's two clocks, kept apart by name.

    The wall clock (worker_now, ms since the epoch) stamps what crosses
    nodes or is stored: a command's created (the inbox retention, the
    stall age, a $cancel's created), events, replies, durable timers' due
    times, what an operator reads. The monotonic clock (worker_mono,
    zclock_mono's ms, not related to the epoch) schedules what the worker
    does of its own: re-sends (a pending entry's next_due, sent_at,
    last_sent), its retry and passivate ticks, an actor's last use, and
    its poll timeout; and, beside the wall clock, what is due by the wall
    clock: a timer's firing, a pending command's stall (below). A wall clock stepped back by D (NTP
   after a VM resume, a manual date) froze all of these for D; the monotonic clock does not step. A
   field holding a time says which clock in its comment.

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

//  The ms from now to at (both of one clock), 0 if it is past, INT64_MAX
//  if at is (never).
static inline int64_t worker_until (int64_t now, int64_t at)
{
    return at == INT64_MAX ? INT64_MAX : at <= now ? 0 : at - now;
}

//  The ms from now until the first of mono_at (monotonic) and wall_at
//  (wall), each waited for on its own clock; INT64_MAX for one never due.
static inline int64_t worker_until_either (worker_clock_t now, int64_t mono_at, int64_t wall_at)
{
    int64_t mono = worker_until (now.mono, mono_at), wall = worker_until (now.wall, wall_at);
    return mono < wall ? mono : wall;
}

//  What is due by the wall clock (a durable timer's due, a pending
//  command's created plus --stall-ms) comes when either clock says so:
//  the wall clock, at its due time (so a resume from suspend or a paused
//  VM, where the monotonic clock stood still, brings it as the wall clock
//  says, as does a step ahead); or the monotonic clock, as far from when
//  it was armed as its due time was from the wall clock then, and
//  WORKER_CLOCK_STEP_MS more (so a step back after it was armed delays it
//  by that at most: it did by the step; and while the clocks agree the
//  wall clock comes first, never a ms early). For
//  the second, the wall clock's offset to the monotonic one is held while
//  the two move together (their ms, each truncated on its own, and drift
//  under WORKER_CLOCK_STEP_MS), and taken anew at a step of either: due
//  times armed between two steps keep their order and their equality.
//  Each thread holds its own offset (runtime/worker_clock.c).
#define WORKER_CLOCK_STEP_MS 100

//  at, a wall time, on the monotonic clock, by the offset held at now
//  (which it notes, and takes anew past a step), plus WORKER_CLOCK_STEP_MS
//  (so that it never comes before the wall clock's at while the two
//  agree), saturated: never INT64_MAX ("never" to those who wait),
//  INT64_MAX - 1 at most.
int64_t worker_wall_to_mono (worker_clock_t now, int64_t at);

#endif
