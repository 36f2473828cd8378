/*  janitor.h - the janitor thread: prunes inbox records past the
    retention, with a cutoff the wall clock alone cannot move.

    A record may be deleted only once it is older than the retention (and
    a margin), or a retried id would run twice. The janitor does not trust
    the wall clock to say so: it measures the time since the node started
    with CLOCK_BOOTTIME (monotonic, counting suspend) and prunes only
    records created before

        min (wall_now, wall_start + (boot_now - boot_start))
            - retention - margin

    so a wall clock that jumps ahead prunes nothing the node has not seen
    age by the retention; one that jumps back prunes less (records are kept
    longer, which is safe). The margin is half the retention, at most a
    minute. The rule trusts the wall clock once, when the node starts.
*/
#ifndef JANITOR_H_INCLUDED
#define JANITOR_H_INCLUDED

#include <czmq.h>
#include <stdint.h>

#include "worker.h"

//  The cutoff (ms since the epoch) below which inbox records may be
//  pruned, from the wall clock and the monotonic clock (ms) now and at
//  the node's start. Can't fail.
int64_t janitor_cutoff (int64_t wall_now, int64_t mono_now, int64_t wall_start, int64_t mono_start,
                        int64_t retention_ms);

//  The monotonic clock the janitor measures with (CLOCK_BOOTTIME), in ms.
int64_t janitor_mono_ms (void);

//  The created (ms since the epoch) below which a command with no inbox
//  record is refused as expired at wall_now: the retention before the
//  time that the wall clock and the monotonic clock since the start both
//  allow (as janitor_cutoff's), and never below the janitor's highest
//  cutoff this run. With the wall clock alone, a clock stepped ahead past
//  the retention refused every command as expired (while the janitor,
//  trusting it no more, pruned nothing), and one stepped back after a
//  prune let a retry whose record was pruned run again.
int64_t janitor_expired_before (const worker_config_t *config, int64_t wall_now);

//  Starts the janitor thread: every tenth of the retention (at least every
//  500 ms, at most hourly) it prunes config's journal. config is borrowed
//  and must outlive the thread. NULL when the thread cannot start.
zactor_t *janitor_new (const worker_config_t *config);

#endif
