/*  janitor.c - the janitor thread. See janitor.h.

    Contract: the janitor deletes inbox records only, and only those
    created before janitor_cutoff; pruned records are added to the first
    worker's pruned counter, and the highest cutoff to pruned_below. It owns nothing but its poller;
   it reads the node's config, which outlives it.
*/
#include "janitor.h"
#include "log.h"
#include "threadname.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <time.h>

//  The time both clocks allow: the wall clock, but no later than the
//  start's wall clock and the monotonic time since.
static int64_t s_trusted (int64_t wall_now, int64_t mono_now, int64_t wall_start,
                          int64_t mono_start)
{
    int64_t trusted = wall_start + (mono_now - mono_start);
    return wall_now < trusted ? wall_now : trusted;
}

int64_t janitor_cutoff (int64_t wall_now, int64_t mono_now, int64_t wall_start, int64_t mono_start,
                        int64_t retention_ms)
{
    int64_t trusted = s_trusted (wall_now, mono_now, wall_start, mono_start);
    //  The margin keeps a record a little past the retention, so a
    //  command at the boundary is refused as expired, never re-run.
    int64_t margin = retention_ms / 2 < 60000 ? retention_ms / 2 : 60000;
    return trusted - retention_ms - margin;
}

int64_t janitor_mono_ms (void)
{
    struct timespec ts;
#ifdef CLOCK_BOOTTIME
    if (clock_gettime (CLOCK_BOOTTIME, &ts) != 0)
#endif
        clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t janitor_expired_before (const worker_config_t *config, int64_t wall_now)
{
    int64_t trusted = config->wall_start ? s_trusted (wall_now, janitor_mono_ms (),
                                                      config->wall_start, config->mono_start)
                                         : wall_now;
    int64_t before = trusted - config->retention_ms;
    int64_t pruned = config->pruned_below ? atomic_load (config->pruned_below) : INT64_MIN;
    return before > pruned ? before : pruned;
}

//  The store's kept floor into *value (INT64_MIN: none). Returns 0,
//  SHOAL_EFORMAT for one that is not a number, or the journal's error.
static int s_floor_stored (journal_t *journal, int64_t *value)
{
    *value = INT64_MIN;
    char *kept = NULL;
    int rc = journal_meta_get (journal, JANITOR_FLOOR_META, &kept);
    if (rc == SHOAL_ENOTFOUND)
        return 0; //  a store never pruned, or pruned by a build before the floor was kept
    if (rc)
        return rc;
    char *end = NULL;
    errno = 0;
    long long parsed = strtoll (kept, &end, 10);
    rc = errno == 0 && end != kept && *end == 0 ? 0 : SHOAL_EFORMAT;
    free (kept);
    if (rc == 0)
        *value = parsed;
    return rc;
}

int janitor_floor_load (journal_t *journal, atomic_int_fast64_t *floor, int64_t wall_start)
{
    int64_t value;
    int rc = s_floor_stored (journal, &value);
    if (rc)
        return rc;
    //  Past this start's clock: that clock is behind, or the one that kept
    //  it was ahead, which cannot be told. Taken as the start: a command
    //  first sent before it with no record is refused as expired (none
    //  runs again), and every later one runs (a floor in the future
    //  refused them all, until the clock caught up with it). Kept so, or
    //  every start until then would refuse the commands sent while the
    //  node was down (a review's find): this run trusts the start already.
    if (value > wall_start) {
        log_warn ("shoal node: the store's inbox pruning floor is %" PRId64 " ms past this "
                  "node's clock (set back, or ahead when the floor was kept): a command sent "
                  "before this start that has no inbox record is refused as expired",
                  value - wall_start);
        value = wall_start;
        char text[32];
        snprintf (text, sizeof text, "%" PRId64, value);
        int kept = journal_meta_put (journal, JANITOR_FLOOR_META, text);
        if (kept)
            log_warn ("shoal node: cannot keep the inbox's pruning floor as this start's time "
                      "(%s): the next start refuses so again",
                      shoal_strerror (kept));
    }
    if (value > atomic_load (floor))
        atomic_store (floor, (int_fast64_t) value);
    return 0;
}

int janitor_floor_start (journal_t *journal, atomic_int_fast64_t *floor, int64_t wall_start,
                         char **error)
{
    int rc = janitor_floor_load (journal, floor, wall_start);
    if (rc == SHOAL_EFORMAT) {
        //  Not a number: every command with no record, created before
        //  this start, is refused as expired (none runs twice).
        log_error ("shoal node: the store's %s is not a number: every command created before "
                   "this start that has no inbox record is refused as expired",
                   JANITOR_FLOOR_META);
        atomic_store (floor, (int_fast64_t) wall_start);
        return 0;
    }
    if (rc)
        *error = zsys_sprintf ("cannot read the store's %s: %s", JANITOR_FLOOR_META,
                               shoal_strerror (rc));
    return rc;
}

//  Keeps cutoff as the store's floor before records below it are pruned
//  (JANITOR_FLOOR_META), if it is above the floor kept (*kept). Returns
//  0 or the journal's error (then nothing may be pruned).
static int s_keep_floor (journal_t *journal, int64_t cutoff, int64_t *kept)
{
    if (cutoff <= *kept)
        return 0;
    char value[32];
    snprintf (value, sizeof value, "%" PRId64, cutoff);
    int rc = journal_meta_put (journal, JANITOR_FLOOR_META, value);
    if (rc == 0)
        *kept = cutoff;
    return rc;
}

static void s_janitor (zsock_t *pipe, void *arg)
{
    thread_name ("shoal-janitor");
    const worker_config_t *config = arg;
    int64_t wall_start = config->wall_start ? config->wall_start : zclock_time ();
    int64_t mono_start = config->wall_start ? config->mono_start : janitor_mono_ms ();
    zsock_signal (pipe, 0);
    int64_t interval = config->retention_ms / 10;
    interval = interval < 500 ? 500 : interval > 3600000 ? 3600000 : interval;
    zpoller_t *poller = zpoller_new (pipe, NULL);
    //  The floor as the start read it (janitor_floor_start: the stored one,
    //  or the start's time in place of one past it or not a number), never
    //  lowered here: a cutoff below it is not kept.
    int64_t kept = config->pruned_below ? atomic_load (config->pruned_below) : INT64_MIN;
    bool warned = false; //  a floor that could not be kept, said once until it is
    while (true) {
        void *which = zpoller_wait (poller, (int) interval);
        if (which == pipe) {
            char *command = zstr_recv (pipe);
            bool term = !command || streq (command, "$TERM");
            zstr_free (&command);
            if (term)
                break;
        } else if (zpoller_terminated (poller))
            break;
        int64_t cutoff = janitor_cutoff (zclock_time (), janitor_mono_ms (), wall_start, mono_start,
                                         config->retention_ms);
        int rc = s_keep_floor (config->journal, cutoff, &kept);
        if (rc && !warned)
            log_warn ("shoal node: cannot keep the inbox's pruning floor in the store (%s): "
                      "nothing is pruned until it is",
                      shoal_strerror (rc));
        warned = rc != 0;
        if (rc)
            continue;
        //  Records below the cutoff go now (a prune that fails halfway has
        //  deleted some): a command created before it, with no record, may
        //  have run, and the workers refuse it from before the first delete.
        if (config->pruned_below) {
            int_fast64_t was = atomic_load (config->pruned_below);
            while (was < cutoff &&
                   !atomic_compare_exchange_weak (config->pruned_below, &was, cutoff))
                ;
        }
        int64_t pruned = journal_inbox_prune (config->journal, cutoff);
        if (pruned > 0)
            config->stats[0].pruned += (uint64_t) pruned;
    }
    zpoller_destroy (&poller);
}

zactor_t *janitor_new (const worker_config_t *config)
{
    return zactor_new (s_janitor, (void *) config);
}
