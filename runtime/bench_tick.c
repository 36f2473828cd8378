/*  bench_tick.c - a benchmark, not a test: what a worker's tick costs
    with N pending outbox entries and N active actors, as it was (a walk of
    the pending table each tick; a walk of the actor table, as before the
    LRU list) and as it is (heaps by due time, outbox.c; the LRU list's
    old end, actors.c), measured side by side in one run. Usage:
    bench_tick [N] (default 100000). The figures are in
    docs/PERFORMANCE.md.

    It lives in runtime/ because it builds a worker's state by hand (no
    thread, no sockets), which worker_internal.h keeps inside this folder.
    The "as it was" loops are copies of the code they replaced, minus
    their deletions and notices, which only favours them.
*/
#include "outbox.h"
#include "worker_internal.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define DUE 100                            //  entries due (actors idle) per tick, the second case
#define YEAR_MS (365LL * 24 * 3600 * 1000) //  never, in a bench's time

static int s_apply (void *state, const char *event, const shoal_data_t *data)
{
    (void) state, (void) event, (void) data;
    return 0;
}

static int s_handle (shoal_ctx_t *ctx, const void *state, const shoal_msg_t *msg)
{
    (void) ctx, (void) state, (void) msg;
    return 0;
}

static void s_view (const void *state, shoal_rec_t *out)
{
    (void) state, (void) out;
}

static const shoal_type_t s_type = {
    .name = "bench", .state_size = 8, .apply = s_apply, .handle = s_handle, .view = s_view};

//  A pending entry of sender bench/<n>, sent at now, due at due (monotonic),
//  with a small frame.
static pending_t *s_pending_new (worker_t *self, size_t n, worker_clock_t now, int64_t due)
{
    envelope_t command = {.kind = ENVELOPE_COMMAND, .created = now.wall};
    envelope_new_id (command.id);
    snprintf (command.from, sizeof command.from, "bench/%zu", n);
    snprintf (command.to, sizeof command.to, "bench/to-%zu", n);
    snprintf (command.name, sizeof command.name, "Ping");
    pending_t *pending = calloc (1, sizeof (pending_t));
    if (!pending || envelope_encode (&command, &pending->frame, &pending->size) != 0)
        exit (1);
    memcpy (pending->id, command.id, ENVELOPE_ID_SIZE);
    snprintf (pending->sender, sizeof pending->sender, "%s", command.from);
    pending->dest = self->index; //  re-sent into the local queue
    pending->created = now.wall;
    pending->sent_at = now.mono;
    pending->next_due = due;
    return pending;
}

//  The re-send walk as it was: every entry looked at, the due ones sent.
static void s_resend_as_it_was (worker_t *self, zhashx_t *table, worker_clock_t now)
{
    uint64_t past_stall = 0;
    for (pending_t *pending = zhashx_first (table); pending; pending = zhashx_next (table)) {
        past_stall += now.wall - pending->created >= self->config->stall_ms;
        if (pending->next_due > now.mono || pending->cancelling)
            continue;
        pending->attempt++;
        pending->next_due = now.mono + outbox_retry_delay (self, pending->attempt);
        pending->last_sent = now.mono;
        worker_send (self, pending->dest, NULL, 0, pending->frame, pending->size);
        self->stats->resends++;
    }
    self->stats->stalled = past_stall;
}

//  Passivation's walk as it was (before the LRU list): every actor
//  looked at. Returns how many it would drop (it drops none). now is
//  monotonic, as last_used.
static size_t s_passivate_as_it_was (worker_t *self, int64_t now)
{
    size_t idle = 0;
    size_t cursor = 0;
    for (actor_t *actor = ptable_next (&self->actors, &cursor); actor;
         actor = ptable_next (&self->actors, &cursor))
        idle += now - actor->last_used >= self->config->idle_ms;
    return idle;
}

static void s_local_drain (worker_t *self)
{
    for (size_t i = 0; i < self->local.count; i++)
        free (self->local.items[(self->local.head + i) % self->local.cap].frame);
    self->local.head = self->local.count = 0;
}

//  The bench's state: the worker, and the table as it was beside it.
typedef struct {
    worker_t *self;
    zhashx_t *was;           //  the same number of entries, walked as it was
    pending_t *due[DUE];     //  entries of the outbox made due each round
    pending_t *due_was[DUE]; //  and of the table as it was
    char idle[DUE][64];      //  the actors made idle in the last round
    worker_clock_t now;
} bench_t;

typedef void (bench_fn) (bench_t *bench);

//  µs per call of run, over rounds calls; prepare (if any) runs before
//  each, untimed.
static double s_time (bench_t *bench, int rounds, bench_fn *prepare, bench_fn *run)
{
    int64_t spent = 0;
    for (int r = 0; r < rounds; r++) {
        if (prepare)
            prepare (bench);
        int64_t started = zclock_usecs ();
        run (bench);
        spent += zclock_usecs () - started;
    }
    return (double) spent / rounds;
}

static void s_resend_was (bench_t *bench)
{
    s_resend_as_it_was (bench->self, bench->was, bench->now);
}

static void s_resend_is (bench_t *bench)
{
    outbox_resend (bench->self, bench->now);
}

static void s_make_due_was (bench_t *bench)
{
    s_local_drain (bench->self);
    for (int i = 0; i < DUE; i++)
        bench->due_was[i]->next_due = bench->now.mono;
}

static void s_make_due_is (bench_t *bench)
{
    s_local_drain (bench->self);
    for (int i = 0; i < DUE; i++)
        outbox_due_at (bench->self, bench->due[i], bench->now.mono);
}

static void s_passivate_was (bench_t *bench)
{
    s_passivate_as_it_was (bench->self, bench->now.mono);
}

static void s_passivate_is (bench_t *bench)
{
    actor_table_passivate (bench->self, bench->now.mono);
}

//  Brings back the actors the last round passivated (untimed), then
//  makes the DUE least recently used idle.
static void s_make_idle (bench_t *bench)
{
    worker_t *self = bench->self;
    for (int i = 0; i < DUE && bench->idle[i][0]; i++) {
        int rc;
        actor_t *actor = actor_table_get (self, bench->idle[i], &rc);
        if (actor)
            actor->last_used = bench->now.mono;
    }
    actor_t *actor = self->lru.oldest;
    for (int i = 0; i < DUE && actor; i++, actor = actor->newer) {
        actor->last_used = bench->now.mono - 2 * self->config->idle_ms;
        snprintf (bench->idle[i], sizeof bench->idle[i], "%s", actor->address);
    }
}

static void s_row (const char *what, double was, double is)
{
    printf ("  %-26s %12.2f µs %12.3f µs %10.0f x\n", what, was, is,
            was / (is > 0.001 ? is : 0.001));
}

int main (int argc, char *argv[])
{
    size_t n = argc > 1 ? (size_t) atol (argv[1]) : 100000;
    if (n < DUE)
        return 1;
    char dir[] = "/tmp/shoal-bench-tick-XXXXXX";
    if (!mkdtemp (dir))
        return 1;
    int code;
    char *error = NULL;
    journal_t *journal = journal_open (dir, &(journal_options_t){.sync = false}, &code, &error);
    shoal_registry_t *registry = registry_new ();
    if (!journal || !registry || shoal_register (registry, &s_type) != 0)
        return 1;
    worker_stats_t stats = {0};
    worker_config_t config = {.journal = journal,
                              .registry = registry,
                              .workers = 1,
                              .shards = 64,
                              .idle_ms = YEAR_MS,
                              .stall_ms = YEAR_MS,
                              .stats = &stats};
    worker_t worker = {.config = &config, .stats = &stats, .batch_number = 1};
    worker_t *self = &worker;
    actor_table_init (&self->actors);
    zhashx_t *was = envelope_id_table_new (outbox_pending_destroy);
    if (!was || outbox_init (self) != 0)
        return 1;

    worker_clock_t now = worker_clock ();
    for (size_t i = 0; i < n; i++) {
        pending_t *pending = s_pending_new (self, i, now, now.mono + YEAR_MS);
        zhashx_insert (was, pending->id, pending);
        outbox_track (self, s_pending_new (self, i, now, now.mono + YEAR_MS));
    }
    char address[64];
    for (size_t i = 0; i < n; i++) {
        snprintf (address, sizeof address, "bench/%zu", i);
        int rc;
        if (!actor_table_get (self, address, &rc))
            return 1;
    }
    printf ("bench_tick: %zu pending outbox entries, %zu active actors; one tick's part, "
            "as it was and as it is\n",
            outbox_pending_count (self), actor_table_size (&self->actors));
    printf ("  %-26s %15s %15s %12s\n", "", "as it was", "as it is", "ratio");

    bench_t bench = {.self = self, .was = was, .now = now};
    size_t k = 0, cursor = 0;
    for (pending_t *p = outbox_pending_next (self, &cursor); p && k < DUE;
         p = outbox_pending_next (self, &cursor))
        bench.due[k++] = p;
    k = 0;
    for (pending_t *p = zhashx_first (was); p && k < DUE; p = zhashx_next (was))
        bench.due_was[k++] = p;

    //  Nothing due (the common tick), then DUE entries due each tick.
    double was_none = s_time (&bench, 50, NULL, s_resend_was);
    s_row ("re-sends, none due", was_none, s_time (&bench, 100000, NULL, s_resend_is));
    s_row ("re-sends, 100 due", s_time (&bench, 50, s_make_due_was, s_resend_was),
           s_time (&bench, 1000, s_make_due_is, s_resend_is));
    s_local_drain (self);

    //  Passivation: no actor idle, then the DUE least recently used.
    double was_active = s_time (&bench, 50, NULL, s_passivate_was);
    s_row ("passivation, none idle", was_active, s_time (&bench, 100000, NULL, s_passivate_is));
    config.idle_ms = 1000;
    s_row ("passivation, 100 idle", s_time (&bench, 50, s_make_idle, s_passivate_was),
           s_time (&bench, 1000, s_make_idle, s_passivate_is));
    if (actor_table_size (&self->actors) < n - DUE)
        return 1; //  the rounds lost actors: the figures would not be of n

    //  An idle worker used to tick each 20 ms while anything was pending
    //  (and each 1 s for passivation); now it sleeps until a re-send or a
    //  stall is due, and still ticks each 1 s.
    printf ("  an idle worker's CPU: as it was %.1f ms/s (50 re-send walks and 1 passivation "
            "walk a second); as it is, 1 tick a second of O(1)\n",
            (50 * was_none + was_active) / 1000);

    zhashx_destroy (&was);
    outbox_close (self);
    actor_table_close (&self->actors);
    s_local_drain (self);
    free (self->local.items);
    registry_destroy (&registry);
    journal_destroy (&journal);
    char command[128];
    snprintf (command, sizeof command, "rm -rf %s", dir);
    return system (command) == 0 ? 0 : 1;
}
