/*  worker_clock.c - the wall clock's offset to the monotonic clock, as a
    worker thread holds it. See worker_clock.h.

    Each thread holds the offset (wall - mono) in a thread-local, taken at
    its first read. A read whose offset differs from it by more than
    WORKER_CLOCK_STEP_MS is a step of one clock against the other (the
    wall clock stepped either way, or the monotonic clock stood still
    through a suspend), and the offset is taken anew. Below that, the two
    clocks' ms, each truncated on its own, and their drift move nothing:
    wall times armed between two steps map by one offset, so equal due
    times stay equal and ordered ones ordered.
*/
#include "worker_clock.h"

static _Thread_local bool s_known;     //  s_offset is set
static _Thread_local int64_t s_offset; //  wall - mono, as last taken

int64_t worker_wall_to_mono (worker_clock_t now, int64_t at)
{
    int64_t offset = now.wall - now.mono;
    if (!s_known || offset - s_offset > WORKER_CLOCK_STEP_MS ||
        offset - s_offset < -WORKER_CLOCK_STEP_MS) {
        s_known = true;
        s_offset = offset;
    }
    //  Later by the step: while the clocks agree (the held offset may be
    //  off by the drift below a step, and by a ms of truncation), the wall
    //  clock comes first, on time; the monotonic clock is the backstop
    //  for a step back, late by WORKER_CLOCK_STEP_MS at most.
    int64_t mono;
    if (__builtin_sub_overflow (at, s_offset, &mono) ||
        __builtin_add_overflow (mono, WORKER_CLOCK_STEP_MS, &mono))
        mono = at < 0 ? INT64_MIN : INT64_MAX;
    return mono == INT64_MAX ? INT64_MAX - 1 : mono;
}
