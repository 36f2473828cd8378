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
    The highest cutoff pruned below is kept in the store, and a command
    created before it that has no record is refused as expired, whatever
    the retention or the clock of a later start.
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

//  The store's metadata that keeps the janitor's highest cutoff across
//  restarts (decimal ms since the epoch): written before each prune that
//  goes past it, in the same log as the prune's deletes, so that a store
//  that lost records keeps the floor that says so. Without it, a node
//  restarted with a longer --inbox-retention-ms (or a wall clock behind)
//  ran again a retry whose record the shorter one had pruned.
#define JANITOR_FLOOR_META "inbox_pruned_below"

//  Reads the store's kept cutoff (JANITOR_FLOOR_META) into *floor, if it
//  holds one above it; one past wall_start (the start's wall clock, ms
//  since the epoch) is taken, and kept, as wall_start, said in the log.
//  Returns 0,
//  SHOAL_EFORMAT for one that is not a number, or the journal's error
//  (*floor as it was).
int janitor_floor_load (journal_t *journal, atomic_int_fast64_t *floor, int64_t wall_start);

//  janitor_floor_load at a node's start: a floor that is not a number is
//  said as an error and taken as wall_start (every command created before
//  the start that has no record is refused as expired: none runs twice),
//  and 0 returned. Returns 0, or the journal's error with *error set
//  (free it).
int janitor_floor_start (journal_t *journal, atomic_int_fast64_t *floor, int64_t wall_start,
                         char **error);

//  Starts the janitor thread: every tenth of the retention (at least every
//  500 ms, at most hourly) it prunes config's journal, once the cutoff
//  is kept (JANITOR_FLOOR_META; a cutoff that cannot be kept prunes
//  nothing). config is borrowed and must outlive the thread. NULL when
//  the thread cannot start.
zactor_t *janitor_new (const worker_config_t *config);

#endif
