/*  worker_clock.c - the worker's waiting clock. See worker_clock.h.

    Each thread keeps, in thread-locals, the forward jumps of the wall
    clock it has seen (ahead) and the wall clock's offset to the waiting
    clock (offset: wall - (mono + ahead)), both set at its first read. A
    read whose offset has moved by more than WORKER_CLOCK_STEP_MS is a
    jump: forward, it is added to ahead (the waiting clock jumps with the
    wall clock, and what waits on it comes as the wall clock says); back,
    the offset takes it (the waiting clock goes on, and what is stamped
    after it is taken by the new offset). Below that, the two clocks' ms,
    each truncated on its own, and their drift, move nothing: wall times
    stamped between two jumps map by one offset, so equal due times stay
    equal and ordered ones ordered.
*/
#include "worker_clock.h"

static _Thread_local bool s_known;     //  the two below are set
static _Thread_local int64_t s_ahead;  //  the wall clock's forward jumps, summed (ms)
static _Thread_local int64_t s_offset; //  wall - (mono + ahead), as last taken

static void s_note (worker_clock_t now)
{
    int64_t offset = now.wall - now.mono - s_ahead;
    if (!s_known) {
        s_known = true;
        s_ahead = 0;
        s_offset = now.wall - now.mono;
    } else if (offset - s_offset > WORKER_CLOCK_STEP_MS)
        s_ahead += offset - s_offset; //  forward: the waiting clock jumps too
    else if (offset - s_offset < -WORKER_CLOCK_STEP_MS)
        s_offset = offset; //  back: it goes on; what is stamped now maps anew
}

int64_t worker_wait_now (worker_clock_t now)
{
    s_note (now);
    return now.mono + s_ahead;
}

int64_t worker_wall_to_wait (worker_clock_t now, int64_t at)
{
    s_note (now);
    int64_t wait;
    if (__builtin_sub_overflow (at, s_offset, &wait))
        wait = at < 0 ? INT64_MIN : INT64_MAX;
    return wait == INT64_MAX ? INT64_MAX - 1 : wait;
}
