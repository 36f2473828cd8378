/*  bench_probe.c - the --recovery and --memory modes of `shoal bench`, each
    on a node of its own in a temporary directory: how long a node with a
    large journal takes to answer after a SIGKILL and how fast one long
    stream replays; bytes per active actor from the node's resident set.
    One thread, but for the probe of --recovery (see measure_timed_start).
*/
#include "bench_probe.h"
#include "client_window.h"
#include "account.h"

#include <czmq.h>
#include <ftw.h>
#include <msgpack.h>
#include <signal.h>
#include <stdlib.h>

//  --------------------------------------------------------------------------
//  --recovery and --memory: loads driven through a node of their own

typedef enum { LOAD_OPEN, LOAD_DEPOSIT, LOAD_GET } load_kind_t;

//  A load: count requests of one kind, request i about account
//  account/<prefix><(offset + i) mod accounts>, or every one about stream.
typedef struct {
    load_kind_t kind;
    const char *label;  //  for the progress line
    const char *prefix; //  names the accounts (and the request ids)
    size_t accounts;    //  accounts named from prefix
    size_t offset;      //  first index
    const char *stream; //  LOAD_DEPOSIT: all into this address (NULL: round robin)
    size_t rejected;    //  requests refused (not counting `unavailable` and `busy`)
} load_t;

static int s_load_make (void *arg, size_t index, envelope_t *request, uint8_t *payload, size_t cap)
{
    load_t *load = arg;
    char to[SHOAL_ADDRESS_MAX + 1];
    size_t account = (load->offset + index) % load->accounts;
    if (load->stream)
        snprintf (to, sizeof to, "%s", load->stream);
    else
        snprintf (to, sizeof to, "account/%s%07zu", load->prefix, account);
    driver_payload_t packed;
    msgpack_packer pk;
    driver_payload_init (&packed, &pk, payload, cap);
    const char *name = load->kind == LOAD_OPEN      ? "Open"
                       : load->kind == LOAD_DEPOSIT ? "Deposit"
                                                    : "get";
    if (load->kind == LOAD_OPEN) {
        msgpack_pack_map (&pk, 1);
        driver_pack_str (&pk, "owner", to + 8);
    } else if (load->kind == LOAD_DEPOSIT) {
        msgpack_pack_map (&pk, 1);
        driver_pack_int (&pk, "amount", 1);
    } else
        msgpack_pack_map (&pk, 0);
    if (packed.full)
        return 1;
    //  The same id for the same request, so that a re-send is harmless.
    char text[160];
    snprintf (text, sizeof text, "bench-%s-%s-%d-%zu", load->prefix,
              load->stream ? load->stream : "", (int) load->kind, load->offset + index);
    uint8_t id[ENVELOPE_ID_SIZE];
    client_id_from_string (text, id);
    client_request (request, load->kind == LOAD_GET ? ENVELOPE_QUERY : ENVELOPE_COMMAND, id, to,
                    name, payload, packed.size);
    return 0;
}

static int s_load_reply (void *arg, size_t index, const client_reply_t *reply, int64_t latency_us)
{
    load_t *load = arg;
    (void) latency_us;
    if (reply->ok)
        return 0;
    if (client_reply_transient (reply))
        return 1; //  ask again (same id)
    if (load->rejected++ < 3)
        fprintf (stderr, "shoal bench: %s: request %zu rejected: %s %s\n", load->label, index,
                 reply->code, reply->reason);
    return 0;
}

static int s_load_tick (void *arg, size_t done, size_t total)
{
    progress_show (((load_t *) arg)->label, done, total, false);
    return 0;
}

//  Drives count requests of load through the node at endpoint with window
//  in flight. Returns 0 (with *seconds) or a negative code (stderr says).
static int s_load (const char *endpoint, load_t *load, size_t count, size_t window, double *seconds)
{
    driver_t driver = {
        .endpoint = endpoint,
        .count = count,
        .window = window,
        .resend_ms = 10000,
        .retry_ms = 50,
        .deadline_ms = 60 * 60 * 1000,
        .make = s_load_make,
        .reply = s_load_reply,
        .tick = s_load_tick,
        .arg = load,
    };
    int64_t start = zclock_usecs ();
    int rc = driver_run (&driver, NULL);
    *seconds = (double) (zclock_usecs () - start) / 1e6;
    progress_show (load->label, count, count, false);
    if (rc)
        fprintf (stderr, "shoal bench: %s did not finish: %s\n", load->label, shoal_strerror (rc));
    else if (load->rejected) {
        fprintf (stderr, "shoal bench: %s: %zu requests rejected\n", load->label, load->rejected);
        rc = SHOAL_EREJECTED;
    }
    return rc;
}

static int64_t s_tree_bytes_sum;

static int s_tree_visit (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) path;
    (void) ftw;
    if (flag == FTW_F)
        s_tree_bytes_sum += st->st_size;
    return 0;
}

//  Bytes in the files under dir (not thread-safe: one static sum).
static int64_t s_tree_bytes (const char *dir)
{
    s_tree_bytes_sum = 0;
    nftw (dir, s_tree_visit, 16, FTW_PHYS);
    return s_tree_bytes_sum;
}

static void s_tree_remove (const char *dir)
{
    if (bench_remove_tree (dir) != 0)
        fprintf (stderr, "shoal bench: could not remove %s\n", dir);
}

//  Starts a node on dir at endpoint (NODE_CHILD_FREE_ENDPOINT the first time)
//  as node_child_start_retry does. Says on stderr if it did not start.
static int s_node_start (node_child_t *node, const char *dir, const char *endpoint,
                         const node_child_args_t *args)
{
    int rc = node_child_start_retry (node, NULL, dir, endpoint, args, NULL, 120000);
    if (rc)
        fprintf (stderr, "shoal bench: the node did not start on %s: %s\n", dir,
                 shoal_strerror (rc));
    return rc;
}

static int s_double_compare (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static double s_median (const double *samples, int count)
{
    double sorted[16];
    memcpy (sorted, samples, (size_t) count * sizeof (double));
    qsort (sorted, (size_t) count, sizeof (double), s_double_compare);
    return count % 2 ? sorted[count / 2] : (sorted[count / 2 - 1] + sorted[count / 2]) / 2;
}

#define RECOVERY_ACCOUNTS 1000
#define RECOVERY_REPEAT 3

typedef struct {
    size_t events;                    //  in the journal at the first restart
    double write_seconds;             //  opening and depositing them
    double data_mb;                   //  the data directory then
    double ready_ms[RECOVERY_REPEAT]; //  spawn to ready line (the first: after the load)
    double first_ms[RECOVERY_REPEAT]; //  spawn to the first answered get
    size_t replay;                    //  events in each long stream
    double stream_seconds;            //  writing the snapshot-less stream
    double full_ms[RECOVERY_REPEAT];  //  first get of the stream, no snapshot
    double snap_ms[RECOVERY_REPEAT];  //  first get of the stream, snapshots every 100
    int64_t full_version, snap_version;
} recovery_t;

//  The part of --recovery that runs nodes; the caller prints. Returns 0 or
//  a negative code (stderr says).
static int s_recovery_run (const bank_options_t *o, size_t window, const char *dir, recovery_t *r)
{
    node_child_t node = {.pid = 0};
    node_child_args_t plain, bare;
    node_child_args (&plain, o->async, o->workers, (char *[]){"--snapshot-every", "100", NULL},
                     o->node_args);
    node_child_args (&bare, o->async, o->workers,
                     (char *[]){"--snapshot-every", "1000000000", NULL}, o->node_args);
    const char *full = "account/replay-full", *snap = "account/replay-snap";
    char endpoint[128];
    double seconds;
    int rc = s_node_start (&node, dir, NODE_CHILD_FREE_ENDPOINT, &plain);
    if (rc)
        return rc;
    snprintf (endpoint, sizeof endpoint, "%s", node.endpoint);

    //  (a) the journal: accounts opened, then deposits round robin
    load_t open = {.kind = LOAD_OPEN,
                   .label = "opening accounts",
                   .prefix = "r",
                   .accounts = RECOVERY_ACCOUNTS};
    load_t deposit = {
        .kind = LOAD_DEPOSIT, .label = "deposits", .prefix = "r", .accounts = RECOVERY_ACCOUNTS};
    rc = s_load (endpoint, &open, RECOVERY_ACCOUNTS, window, &seconds);
    r->write_seconds = seconds;
    if (rc == 0)
        rc = s_load (endpoint, &deposit, r->events - RECOVERY_ACCOUNTS, window, &seconds);
    r->write_seconds += seconds;
    node_child_stop (&node, SIGKILL);
    r->data_mb = (double) s_tree_bytes (dir) / 1048576.0;

    //  (b) restarts after a SIGKILL, the first right after the load
    for (int i = 0; rc == 0 && i < RECOVERY_REPEAT && !zsys_interrupted; i++) {
        rc = measure_timed_start (&node, dir, endpoint, plain.argv, "account/r0000000",
                                  &r->ready_ms[i], &r->first_ms[i]);
        if (rc == 0 && i + 1 < RECOVERY_REPEAT)
            node_child_stop (&node, SIGKILL);
    }

    //  (c) two long streams: one written with snapshots every 100 events
    //  (this node's), one without (a node that never takes one)
    load_t stream = {.kind = LOAD_OPEN,
                     .label = "long stream (snapshots)",
                     .prefix = "s",
                     .accounts = 1,
                     .stream = snap};
    if (rc == 0)
        rc = s_load (endpoint, &stream, 1, 1, &seconds);
    stream.kind = LOAD_DEPOSIT;
    if (rc == 0)
        rc = s_load (endpoint, &stream, r->replay, window, &seconds);
    node_child_stop (&node, SIGKILL);
    if (rc == 0)
        rc = s_node_start (&node, dir, endpoint, &bare);
    stream = (load_t){.kind = LOAD_OPEN,
                      .label = "long stream (none)",
                      .prefix = "f",
                      .accounts = 1,
                      .stream = full};
    if (rc == 0)
        rc = s_load (endpoint, &stream, 1, 1, &seconds);
    stream.kind = LOAD_DEPOSIT;
    if (rc == 0)
        rc = s_load (endpoint, &stream, r->replay, window, &r->stream_seconds);
    node_child_stop (&node, SIGKILL);
    for (int i = 0; rc == 0 && i < RECOVERY_REPEAT && !zsys_interrupted; i++) {
        rc = s_node_start (&node, dir, endpoint, &bare);
        if (rc == 0)
            rc = measure_timed_get (endpoint, full, &r->full_ms[i], &r->full_version);
        node_child_stop (&node, SIGKILL);
    }
    for (int i = 0; rc == 0 && i < RECOVERY_REPEAT && !zsys_interrupted; i++) {
        rc = s_node_start (&node, dir, endpoint, &plain);
        if (rc == 0)
            rc = measure_timed_get (endpoint, snap, &r->snap_ms[i], &r->snap_version);
        node_child_stop (&node, SIGKILL);
    }
    if (rc == 0 && zsys_interrupted)
        rc = SHOAL_ETIMEOUT; //  cut short: nothing to report
    if (rc == 0 && (r->full_version != (int64_t) r->replay + 1 ||
                    r->snap_version != (int64_t) r->replay + 1)) {
        fprintf (stderr, "shoal bench: the long streams are at versions %lld and %lld, not %zu\n",
                 (long long) r->full_version, (long long) r->snap_version, r->replay + 1);
        rc = SHOAL_EREJECTED;
    }
    return rc;
}

static void s_json_samples (const char *key, const double *samples, int count)
{
    printf ("\"%s\":[", key);
    for (int i = 0; i < count; i++)
        printf ("%s%.1f", i ? "," : "", samples[i]);
    printf ("],");
}

int bench_recovery (const bank_options_t *o, size_t events, size_t replay, size_t window, bool json)
{
    recovery_t r = {.events = events, .replay = replay};
    char dir[512];
    if (bench_temp_dir ("shoal-bench", dir, sizeof dir) != 0) {
        fprintf (stderr, "shoal bench: cannot make a temporary directory\n");
        return 1;
    }
    int rc = s_recovery_run (o, window, dir, &r);
    s_tree_remove (dir);
    if (rc || zsys_interrupted) //  a signal during the removal: no figures either
        return 1;
    double full = s_median (r.full_ms, RECOVERY_REPEAT),
           snap = s_median (r.snap_ms, RECOVERY_REPEAT);
    double full_rate = full > 0 ? (double) replay / (full / 1000.0) : 0;
    printf ("shoal bench --recovery: %zu events over %d accounts, then streams of %zu events, "
            "durability %s\n",
            events, RECOVERY_ACCOUNTS, replay, o->async ? "async" : "sync");
    printf ("  journal        %zu events written in %.1f s (%.0f events/s, %zu in flight), "
            "%.0f MB on disk\n",
            events, r.write_seconds, (double) events / r.write_seconds, window, r.data_mb);
    printf ("  restart        after SIGKILL: ready line %.0f ms, first answered get %.0f ms "
            "(from spawn; right after the load)\n",
            r.ready_ms[0], r.first_ms[0]);
    printf ("                 restarts 2-%d (idle node killed): ready", RECOVERY_REPEAT);
    for (int i = 1; i < RECOVERY_REPEAT; i++)
        printf (" %.0f", r.ready_ms[i]);
    printf (" ms, first answer");
    for (int i = 1; i < RECOVERY_REPEAT; i++)
        printf (" %.0f", r.first_ms[i]);
    printf (" ms\n");
    printf ("  replay         one stream of %zu events: first get %.0f ms with no snapshot "
            "(%.0f events/s), %.1f ms from a snapshot (median of %d restarts)\n",
            replay, full, full_rate, snap, RECOVERY_REPEAT);
    printf ("  long stream    written at %.0f deposits/s into one account\n",
            (double) replay / r.stream_seconds);
    if (json) {
        printf ("{\"mode\":\"recovery\",\"events\":%zu,\"accounts\":%d,\"durability\":\"%s\","
                "\"write_seconds\":%.3f,\"write_events_per_second\":%.1f,\"window\":%zu,"
                "\"data_mb\":%.1f,\"ready_ms\":%.1f,\"first_answer_ms\":%.1f,",
                events, RECOVERY_ACCOUNTS, o->async ? "async" : "sync", r.write_seconds,
                (double) events / r.write_seconds, window, r.data_mb, r.ready_ms[0], r.first_ms[0]);
        s_json_samples ("ready_ms_samples", r.ready_ms, RECOVERY_REPEAT);
        s_json_samples ("first_answer_ms_samples", r.first_ms, RECOVERY_REPEAT);
        s_json_samples ("full_replay_ms_samples", r.full_ms, RECOVERY_REPEAT);
        s_json_samples ("snapshot_replay_ms_samples", r.snap_ms, RECOVERY_REPEAT);
        printf ("\"replay_events\":%zu,\"full_replay_ms\":%.1f,"
                "\"full_replay_events_per_second\":%.1f,\"snapshot_replay_ms\":%.2f,"
                "\"stream_deposits_per_second\":%.1f}\n",
                replay, full, full_rate, snap, (double) replay / r.stream_seconds);
    }
    return 0;
}

//  One step of --memory: the node's resident set and its active actors.
typedef struct {
    int64_t rss_kb;  //  VmRSS of the node, from /proc
    int64_t anon_kb; //  its RssAnon: without mapped files' pages
    int64_t active;  //  the node's "active" counter
    int64_t peak_rss_kb;
} memory_point_t;

static int s_memory_point (const node_child_t *node, memory_point_t *point)
{
    bank_stats_t stats;
    int rc = bank_stats (node->endpoint, 10000, &stats);
    point->rss_kb = measure_rss_kb (node->pid);
    point->anon_kb = measure_rss_anon_kb (node->pid);
    point->active = stats.active;
    point->peak_rss_kb = stats.peak_rss_kb;
    if (rc)
        fprintf (stderr, "shoal bench: the node's stats did not come: %s\n", shoal_strerror (rc));
    return rc;
}

//  Bytes of resident set per actor between two points (0 if none came).
static double s_per_actor (const memory_point_t *from, const memory_point_t *to)
{
    int64_t actors = to->active - from->active;
    return actors > 0 ? (double) (to->rss_kb - from->rss_kb) * 1024.0 / (double) actors : 0;
}

//  The same, of the anonymous resident set (RssAnon).
static double s_anon_per_actor (const memory_point_t *from, const memory_point_t *to)
{
    int64_t actors = to->active - from->active;
    return actors > 0 ? (double) (to->anon_kb - from->anon_kb) * 1024.0 / (double) actors : 0;
}

//  --memory: points[0..2] while opening (before, half, all), [3..5] after
//  a restart while getting the same accounts.
static int s_memory_run (const bank_options_t *o, size_t count, size_t window, const char *dir,
                         memory_point_t points[6])
{
    node_child_t node = {.pid = 0};
    node_child_args_t args;
    //  Room for every account on whichever worker holds more than its
    //  share: the node's cap (1M by default) is split evenly between them.
    char max_actors[32];
    snprintf (max_actors, sizeof max_actors, "%zu", 2 * count + 1024);
    node_child_args (&args, o->async, o->workers,
                     (char *[]){"--idle-ms", "3600000", "--max-actors", max_actors, NULL},
                     o->node_args);
    double seconds;
    int rc = s_node_start (&node, dir, NODE_CHILD_FREE_ENDPOINT, &args);
    if (rc)
        return rc;
    char endpoint[128];
    snprintf (endpoint, sizeof endpoint, "%s", node.endpoint);
    size_t half = count / 2;
    for (int pass = 0; rc == 0 && pass < 2 && !zsys_interrupted; pass++) {
        memory_point_t *p = points + 3 * pass;
        load_t load = {.kind = pass ? LOAD_GET : LOAD_OPEN,
                       .label = pass ? "getting accounts" : "opening accounts",
                       .prefix = "m",
                       .accounts = count};
        rc = s_memory_point (&node, &p[0]);
        if (rc == 0)
            rc = s_load (endpoint, &load, half, window, &seconds);
        if (rc == 0)
            rc = s_memory_point (&node, &p[1]);
        load.offset = half;
        if (rc == 0)
            rc = s_load (endpoint, &load, count - half, window, &seconds);
        if (rc == 0)
            rc = s_memory_point (&node, &p[2]);
        if (rc == 0 && p[2].active < (int64_t) count) {
            fprintf (stderr, "shoal bench: only %lld of %zu accounts are active\n",
                     (long long) p[2].active, count);
            rc = SHOAL_EREJECTED;
        }
        node_child_stop (&node, SIGTERM);
        if (rc == 0 && pass == 0)
            rc = s_node_start (&node, dir, endpoint, &args);
    }
    node_child_stop (&node, SIGKILL);
    return rc == 0 && zsys_interrupted ? SHOAL_ETIMEOUT : rc;
}

int bench_memory (const bank_options_t *o, size_t count, size_t window, bool json)
{
    char dir[512];
    if (bench_temp_dir ("shoal-bench", dir, sizeof dir) != 0) {
        fprintf (stderr, "shoal bench: cannot make a temporary directory\n");
        return 1;
    }
    memory_point_t p[6];
    memset (p, 0, sizeof p);
    int rc = s_memory_run (o, count, window, dir, p);
    s_tree_remove (dir);
    if (rc || zsys_interrupted)
        return 1;
    double open_all = s_per_actor (&p[0], &p[2]), open_marginal = s_per_actor (&p[1], &p[2]);
    double get_all = s_per_actor (&p[3], &p[5]), get_marginal = s_per_actor (&p[4], &p[5]);
    double open_anon = s_anon_per_actor (&p[0], &p[2]), get_anon = s_anon_per_actor (&p[3], &p[5]);
    printf ("shoal bench --memory: %zu accounts, each an active actor (state %zu bytes: "
            "sizeof account_t)\n",
            count, account_type.state_size);
    printf ("  opened         RSS %.1f -> %.1f MB, %lld active: %.0f bytes per actor "
            "(%.0f over the second half)\n",
            (double) p[0].rss_kb / 1024.0, (double) p[2].rss_kb / 1024.0, (long long) p[2].active,
            open_all, open_marginal);
    printf ("  after restart  RSS %.1f -> %.1f MB, %lld active by get only: %.0f bytes per actor "
            "(%.0f over the second half)\n",
            (double) p[3].rss_kb / 1024.0, (double) p[5].rss_kb / 1024.0, (long long) p[5].active,
            get_all, get_marginal);
    printf ("  anonymous      %.0f bytes per actor opened, %.0f after restart (RssAnon: the\n"
            "                 heap, without the pages of LevelDB's mapped tables)\n",
            open_anon, get_anon);
    printf ("  note           both include LevelDB's block cache (64 MiB at most); the opened\n"
            "                 figure also its memtables (16 MiB write buffer)\n");
    if (json)
        printf ("{\"mode\":\"memory\",\"accounts\":%zu,\"state_bytes\":%zu,\"durability\":\"%s\","
                "\"open\":{\"rss_before_kb\":%lld,\"rss_half_kb\":%lld,\"rss_after_kb\":%lld,"
                "\"active\":%lld,\"bytes_per_actor\":%.1f,\"marginal_bytes_per_actor\":%.1f,"
                "\"anon_bytes_per_actor\":%.1f,\"peak_rss_kb\":%lld},"
                "\"get\":{\"rss_before_kb\":%lld,\"rss_half_kb\":%lld,\"rss_after_kb\":%lld,"
                "\"active\":%lld,\"bytes_per_actor\":%.1f,\"marginal_bytes_per_actor\":%.1f,"
                "\"anon_bytes_per_actor\":%.1f,\"peak_rss_kb\":%lld}}\n",
                count, account_type.state_size, o->async ? "async" : "sync",
                (long long) p[0].rss_kb, (long long) p[1].rss_kb, (long long) p[2].rss_kb,
                (long long) p[2].active, open_all, open_marginal, open_anon,
                (long long) p[2].peak_rss_kb, (long long) p[3].rss_kb, (long long) p[4].rss_kb,
                (long long) p[5].rss_kb, (long long) p[5].active, get_all, get_marginal, get_anon,
                (long long) p[5].peak_rss_kb);
    return 0;
}
