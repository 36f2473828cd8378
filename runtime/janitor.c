/*  janitor.c - the janitor thread. See janitor.h.

    Contract: the janitor deletes inbox records only, and only those
    created before janitor_cutoff; pruned records are added to the first
    worker's pruned counter, and the highest cutoff to pruned_below. It owns nothing but its poller;
   it reads the node's config, which outlives it.
*/
#include "janitor.h"
#include "threadname.h"

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
        int64_t pruned = journal_inbox_prune (config->journal, cutoff);
        if (pruned > 0)
            config->stats[0].pruned += (uint64_t) pruned;
        //  Records below the cutoff are gone now: a command created before
        //  it, with no record, may have run (the workers refuse it).
        if (pruned >= 0 && config->pruned_below) {
            int_fast64_t was = atomic_load (config->pruned_below);
            while (was < cutoff &&
                   !atomic_compare_exchange_weak (config->pruned_below, &was, cutoff))
                ;
        }
    }
    zpoller_destroy (&poller);
}

zactor_t *janitor_new (const worker_config_t *config)
{
    return zactor_new (s_janitor, (void *) config);
}
