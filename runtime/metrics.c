/*  metrics.c - a node's metrics over HTTP (Prometheus' text format). See
    metrics.h.

    libmicrohttpd runs one thread of its own; the handler builds the whole
    answer in memory (open_memstream) from atomic loads, and hands it over.
    The node's threads own what they count and only ever add to atomics;
    they never wait for a scrape. A scrape costs a few hundred atomic loads,
    a listing of the data directory and a read of /proc/self/status.
*/
#include "metrics.h"
#include "log.h"
#include "threadname.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
//  Connections served at once, and how long one may idle: a few idle
//  connections (16 of 10 s before) must not keep Prometheus out. Bound
//  beyond loopback, one client address may hold METRICS_PER_IP_MAX of
//  them at most (on loopback every client has the same one).
#define METRICS_CONNECTIONS_MAX 64
#define METRICS_PER_IP_MAX 8
#define METRICS_TIMEOUT_S 3

struct _metrics_t {
    metrics_config_t config;            //  what a scrape reads
    struct MHD_Daemon *daemon;          //  the server and its thread
    char *url;                          //  http://HOST:PORT/metrics, owned
    atomic_uint_fast64_t rejected_high; //  outcome="rejected" as last exported (s_rejected_only)
};

//  --------------------------------------------------------------------------
//  The exposition text

//  Peak resident set of this process in KiB (VmHWM), 0 if unknown.
long metrics_peak_rss_kb (void)
{
    FILE *file = fopen ("/proc/self/status", "r");
    long kb = 0;
    char line[256];
    while (file && fgets (line, sizeof line, file))
        if (strncmp (line, "VmHWM:", 6) == 0)
            kb = atol (line + 6);
    if (file)
        fclose (file);
    return kb;
}

//  The sum of the sizes of the files in dir (not recursive: a LevelDB
//  store is flat), -1 if it cannot be listed.
static int64_t s_dir_bytes (const char *dir)
{
    DIR *listing = opendir (dir);
    if (!listing)
        return -1;
    int64_t bytes = 0;
    struct dirent *entry;
    while ((entry = readdir (listing))) {
        struct stat info;
        if (fstatat (dirfd (listing), entry->d_name, &info, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISREG (info.st_mode))
            bytes += info.st_size;
    }
    closedir (listing);
    return bytes;
}

static void s_family (FILE *out, const char *name, const char *type, const char *help)
{
    fprintf (out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

//  One histogram family: the workers' histograms at offset in
//  worker_stats_t, summed, with cumulative buckets.
static void s_histogram (FILE *out, const worker_config_t *config, size_t offset,
                         histogram_kind_t kind, const char *name, const char *help)
{
    uint64_t buckets[HISTOGRAM_BUCKETS] = {0}, sum = 0;
    for (int w = 0; w < config->workers; w++) {
        const histogram_t *h = (const histogram_t *) ((const char *) &config->stats[w] + offset);
        for (int i = 0; i < HISTOGRAM_BUCKETS; i++)
            buckets[i] += atomic_load_explicit (&h->buckets[i], memory_order_relaxed);
        sum += atomic_load_explicit (&h->sum, memory_order_relaxed);
    }
    s_family (out, name, "histogram", help);
    const uint64_t *bounds = histogram_bounds (kind);
    double scale = kind == HISTOGRAM_SECONDS ? 1e9 : 1;
    uint64_t count = 0;
    for (int i = 0; i < HISTOGRAM_BUCKETS; i++) {
        count += buckets[i];
        if (i < HISTOGRAM_BUCKETS - 1)
            fprintf (out, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, (double) bounds[i] / scale,
                     count);
        else
            fprintf (out, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, count);
    }
    fprintf (out, "%s_sum %.9g\n%s_count %" PRIu64 "\n", name, (double) sum / scale, name, count);
}

//  Writes a series: name{labels} value, a family's HELP and TYPE first
//  when it differs from the previous series' (last).
static void s_series (FILE *out, const char **last, const char *name, const char *type,
                      const char *labels, double value, const char *help)
{
    if (!*last || strcmp (*last, name) != 0)
        s_family (out, name, type, help);
    *last = name;
    fprintf (out, "%s%s%s%s %.15g\n", name, *labels ? "{" : "", labels, *labels ? "}" : "", value);
}

//  Each build of each projection: its position, lag, events applied,
//  batches committed, and whether it is stopped by a failure, paused or
//  served.
static void s_projections (FILE *out, projector_gauges_t *gauges)
{
    projector_gauge_t items[PROJECTOR_GAUGES_MAX];
    pthread_mutex_lock (&gauges->lock);
    size_t count = gauges->count;
    memcpy (items, gauges->items, count * sizeof (projector_gauge_t));
    pthread_mutex_unlock (&gauges->lock);
    static const char *families[][3] = {
        {"shoal_projection_position", "gauge",
         "The position of the next event a projection applies"},
        {"shoal_projection_lag_events", "gauge",
         "Events of the node's log a projection has not reached"},
        {"shoal_projection_applied_total", "counter", "Events a projection's apply was given"},
        {"shoal_projection_batches_total", "counter",
         "Batches a projection committed (rows and checkpoint, one write each)"},
        {"shoal_projection_failed", "gauge", "1 while a projection is stopped by a failed apply"},
        {"shoal_projection_paused", "gauge",
         "1 while a projection is paused by an operator (shoal projections resume)"},
        {"shoal_projection_served", "gauge", "1 for the build of a projection that queries read"}};
    for (int k = 0; k < 7; k++) {
        s_family (out, families[k][0], families[k][1], families[k][2]);
        for (size_t i = 0; i < count; i++) {
            const projector_gauge_t *g = &items[i];
            uint64_t value = k == 0   ? g->position
                             : k == 1 ? g->lag
                             : k == 2 ? g->applied
                             : k == 3 ? g->batches
                             : k == 4 ? g->failed
                             : k == 5 ? g->paused
                                      : g->served;
            fprintf (out,
                     "%s{projection=\"%s\",version=\"%" PRIu32 "\",build=\"%" PRIu32 "\"} %" PRIu64
                     "\n",
                     families[k][0], g->name, g->version, g->build, value);
        }
    }
}

//  The CPU time of the node's threads by name (threadname.h): which one is
//  busy (a worker with a hot actor at one core while the others idle; the
//  compactions, shoal-leveldb). Threads of one name summed.
#define METRICS_THREADS_MAX 256

//  Writes text as a label's value, its quotes and backslashes escaped
//  and control characters left out.
static void s_label_value (FILE *out, const char *text)
{
    for (const char *c = text; *c; c++)
        if (*c == '"' || *c == '\\')
            fprintf (out, "\\%c", *c);
        else if ((unsigned char) *c >= 0x20)
            fputc (*c, out);
}

static void s_threads (FILE *out)
{
    thread_info_t *threads = calloc (METRICS_THREADS_MAX, sizeof (thread_info_t));
    int count = threads ? thread_list_by_name (0, threads, METRICS_THREADS_MAX) : -1;
    if (count > 0)
        s_family (out, "shoal_thread_cpu_seconds_total", "counter",
                  "CPU time, user and system, of the node's threads by name");
    for (int i = 0; i < count; i++) {
        fprintf (out, "shoal_thread_cpu_seconds_total{thread=\"");
        s_label_value (out, threads[i].name);
        fprintf (out, "\"} %.2f\n", (double) threads[i].cpu_us / 1e6);
    }
    free (threads);
}

//  Whether the store failed a write lately (as `cluster status` and `top`
//  say it unwell), when it last did, and how often it was reopened.
static void s_store (FILE *out, journal_t *journal)
{
    char why[8];
    int64_t ago = journal_failed_ago_ms (journal, why, sizeof why);
    s_family (out, "shoal_store_failing", "gauge",
              "1 while a write of the store (or its reopen) failed within the last 10 s (a full "
              "disk; stats and the log say why)");
    fprintf (out, "shoal_store_failing %d\n", ago >= 0 && ago < SHOAL_STORE_RECENT_MS);
    s_family (out, "shoal_store_last_failure_timestamp_seconds", "gauge",
              "When a write of the store (or its reopen) last failed, in seconds since the "
              "epoch; 0 if none did since the start");
    fprintf (out, "shoal_store_last_failure_timestamp_seconds %.3f\n",
             ago >= 0 ? (double) (zclock_time () - ago) / 1000.0 : 0.0);
    s_family (out, "shoal_store_reopens_total", "counter",
              "Times the store was reopened after a failed write");
    fprintf (out, "shoal_store_reopens_total %" PRIu64 "\n", journal_reopens (journal));
    journal_disk_t disk;
    journal_disk (journal, &disk);
    s_family (out, "shoal_disk_free_bytes", "gauge",
              "Bytes free on the store's disk for the node's user");
    fprintf (out, "shoal_disk_free_bytes %" PRIu64 "\n", disk.free_bytes);
    s_family (
        out, "shoal_disk_reopen_bytes", "gauge",
        "Bytes the store's next start, or its reopen after a failed write, writes first "
        "(its LevelDB logs, out as a table, and 4 MiB): with less free, a restart is refused");
    fprintf (out, "shoal_disk_reopen_bytes %" PRIu64 "\n", disk.reopen_bytes);
    if (disk.inodes_counted) {
        s_family (out, "shoal_disk_free_inodes", "gauge",
                  "Inodes (files) free on the store's disk for the node's user");
        fprintf (out, "shoal_disk_free_inodes %" PRIu64 "\n", disk.free_inodes);
    }
}

//  The actor types the node's modules register, one series each: the
//  nodes of a cluster must all have them (one without a module refuses
//  its types' commands), which an alert on count by (type) compares.
static void s_types (FILE *out, const shoal_registry_t *registry)
{
    if (!registry || registry_count (registry) == 0)
        return;
    s_family (out, "shoal_actor_type", "gauge",
              "1 for each actor type the node's modules register");
    for (size_t i = 0; i < registry_count (registry); i++) {
        fprintf (out, "shoal_actor_type{type=\"");
        s_label_value (out, registry_type_name (registry, i));
        fprintf (out, "\"} 1\n");
    }
}

//  Which cluster, node and map this node runs: the nodes of a cluster all
//  show one epoch and digest, or refuse each other.
static void s_cluster (FILE *out, const cluster_t *cluster, int self, const peers_t *peers)
{
    s_family (out, "shoal_cluster_info", "gauge",
              "The cluster, node name and shard map (digest of the cluster file) this node runs");
    fprintf (out, "shoal_cluster_info{cluster=\"");
    s_label_value (out, cluster_name (cluster));
    fprintf (out, "\",node=\"");
    s_label_value (out, cluster_node_name (cluster, self));
    fprintf (out, "\",digest=\"");
    s_label_value (out, cluster_digest (cluster));
    fprintf (out, "\"} 1\n");
    s_family (out, "shoal_cluster_epoch", "gauge", "The epoch of the cluster file this node runs");
    fprintf (out, "shoal_cluster_epoch %" PRId64 "\n", (int64_t) cluster_epoch (cluster));
    s_family (out, "shoal_shards_owned", "gauge", "Shards of the cluster's map this node owns");
    fprintf (out, "shoal_shards_owned %" PRIu32 "\n", cluster_node_shard_count (cluster, self));
    s_family (out, "shoal_store_behind", "gauge",
              "1 while a peer refuses this node: it saw its store further than it is now "
              "(restored alone from an older backup?); it takes no command meanwhile");
    fprintf (out, "shoal_store_behind %d\n", peers_store_behind (peers) != NULL);
}

void metrics_read (const metrics_config_t *config, metrics_sum_t *sum, metrics_node_t *node)
{
    const worker_config_t *workers = config->config;
    *sum = (metrics_sum_t){0};
    for (int w = 0; w < workers->workers; w++) {
#define METRICS_ADD(name, description) sum->name += atomic_load (&workers->stats[w].name);
        SHOAL_COUNTERS (METRICS_ADD)
#undef METRICS_ADD
    }
    const front_counters_t *f = config->front;
    *node = (metrics_node_t){
        .bad_frames = (int64_t) atomic_load (&f->bad_frames),
        .busy = (int64_t) atomic_load (&f->busy),
        .workers = workers->workers,
        .shards = workers->shards,
        .peak_rss_kb = metrics_peak_rss_kb (),
        .forwarded = (int64_t) atomic_load (&f->forwarded),
        .unavailable = (int64_t) atomic_load (&f->unavailable),
        .refused_unsafe = (int64_t) atomic_load (&f->refused_unsafe),
        .dropped = (int64_t) atomic_load (&f->dropped),
        .unread = (int64_t) atomic_load (&f->unread),
        .reply_bytes = (int64_t) atomic_load (&f->reply_bytes),
        .reply_bytes_peak = (int64_t) atomic_load (&f->reply_bytes_peak),
        .held_bytes = (int64_t) atomic_load (&f->held_bytes),
        .held_bytes_peak = (int64_t) atomic_load (&f->held_bytes_peak),
        .outbound_bytes = workers->outbound ? (int64_t) atomic_load (&workers->outbound->bytes) : 0,
        .outbound_bytes_peak =
            workers->outbound ? (int64_t) atomic_load (&workers->outbound->peak) : 0,
        .refused = config->refused ? (int64_t) atomic_load (config->refused) : 0,
        .revoked = (int64_t) atomic_load (&f->revoked),
        .uptime_ms = zclock_mono () - config->started, //  a wall clock stepped moves it not
        .store_records = (int64_t) journal_records_written (workers->journal),
        .syncs = (int64_t) journal_syncs (workers->journal),
        .inbox_reads_spared =
            (int64_t) journal_filter_skips (workers->journal, JOURNAL_FILTER_INBOX),
        .stream_reads_spared =
            (int64_t) journal_filter_skips (workers->journal, JOURNAL_FILTER_STREAMS),
    };
}

//  outcome="rejected": the commands rejected less those expired (counted
//  in both), two counters read one after the other. A batch released
//  between the two reads shows the difference lower for one scrape,
//  which Prometheus takes for a reset (a spike of rate() and increase()):
//  the highest value exported is kept, as a counter never goes down. It
//  is never too high: a batch adds to expired first (worker_stats_add),
//  so rejected read first and expired after give at most the true value
//  (the other order kept a batch's expired commands counted as rejected
//  for good: a review's find).
static uint64_t s_rejected_only (atomic_uint_fast64_t *high, const metrics_sum_t *s)
{
    uint64_t now = s->rejected > s->expired ? s->rejected - s->expired : 0;
    uint_fast64_t seen = atomic_load (high);
    while (now > seen && !atomic_compare_exchange_weak (high, &seen, now))
        ; //  seen is the value stored meanwhile: try again while ours is higher
    return now > seen ? now : seen;
}

static int s_write (metrics_t *self, FILE *out)
{
    const metrics_config_t *config = &self->config;
    const worker_config_t *workers = config->config;
    metrics_sum_t s;
    metrics_node_t n;
    metrics_read (config, &s, &n);
    uint64_t rejected_only = s_rejected_only (&self->rejected_high, &s);
    s_family (out, "shoal_build_info", "gauge", "The shoal version this node runs");
    fprintf (out, "shoal_build_info{version=\"%s\"} 1\n", SHOAL_VERSION_STRING);
    const char *last = NULL;
#define METRICS_SERIES(family, type, labels, value, help)                                          \
    s_series (out, &last, #family, #type, labels, (double) (value), help);
    SHOAL_METRICS (METRICS_SERIES)
    SHOAL_NODE_METRICS (METRICS_SERIES)
#undef METRICS_SERIES
    s_histogram (out, workers, offsetof (worker_stats_t, commit_seconds), HISTOGRAM_SECONDS,
                 "shoal_commit_duration_seconds",
                 "Time of a group commit's LevelDB write (in sync durability its fsync is shared: "
                 "shoal_syncs_total)");
    s_histogram (out, workers, offsetof (worker_stats_t, turn_seconds), HISTOGRAM_SECONDS,
                 "shoal_turn_duration_seconds", "Time of one message's turn (handler and staging)");
    s_histogram (out, workers, offsetof (worker_stats_t, batch_messages), HISTOGRAM_SIZES,
                 "shoal_batch_messages", "Messages per group commit");
    s_family (out, "shoal_worker_queue_bytes", "gauge",
              "Bytes of client and peer frames queued for a worker and not taken yet");
    for (int w = 0; w < workers->workers; w++)
        fprintf (out, "shoal_worker_queue_bytes{worker=\"%d\"} %" PRIu64 "\n", w,
                 (uint64_t) atomic_load (&workers->stats[w].queued_bytes));
    int64_t bytes = s_dir_bytes (config->data_dir);
    if (bytes >= 0) {
        s_family (out, "shoal_data_bytes", "gauge", "Bytes of the files in the data directory");
        fprintf (out, "shoal_data_bytes %" PRId64 "\n", bytes);
    }
    if (config->config && config->config->journal) {
        journal_verify_state_t verified = journal_verify_state (config->config->journal, NULL, 0);
        s_family (out, "shoal_store_damaged", "gauge",
                  "1 once the read of every record after the start found a damaged table or a "
                  "gap in the event log (stats say what)");
        fprintf (out, "shoal_store_damaged %d\n", verified == JOURNAL_VERIFY_DAMAGED);
        s_family (out, "shoal_store_verified", "gauge",
                  "1 once every record of the store was read whole after the start");
        fprintf (out, "shoal_store_verified %d\n", verified == JOURNAL_VERIFY_WHOLE);
    }
    if (config->config && config->config->journal)
        s_store (out, config->config->journal);
    s_types (out, workers->registry);
    if (config->cluster)
        s_cluster (out, config->cluster, config->self_node, config->peers);
    if (config->projections)
        s_projections (out, config->projections);
    s_threads (out);
    if (config->peers && config->cluster) {
        int count = cluster_node_count (config->cluster);
        static const char *families[][2] = {
            {"shoal_peer_up", "Whether the link to a peer is up (it welcomed our HELLO)"},
            {"shoal_peer_messages_sent_total", "Data frames sent to a peer"},
            {"shoal_peer_messages_received_total", "Data frames taken from a peer"},
            {"shoal_peer_heard", "Whether a peer's link to us brought a frame within the "
                                 "heartbeat timeout (0 with shoal_peer_up 1: cut one way)"}};
        for (int k = 0; k < 4; k++) {
            s_family (out, families[k][0], k == 1 || k == 2 ? "counter" : "gauge", families[k][1]);
            for (int i = 0; i < count; i++) {
                if (i == config->self_node)
                    continue;
                peers_link_t link;
                peers_link (config->peers, i, &link);
                uint64_t value = k == 0   ? link.up
                                 : k == 1 ? link.sent
                                 : k == 2 ? link.received
                                          : link.heard;
                fprintf (out, "%s{peer=\"%s\"} %" PRIu64 "\n", families[k][0],
                         cluster_node_name (config->cluster, i), value);
            }
        }
    }
    return ferror (out) ? -1 : 0;
}

//  --------------------------------------------------------------------------
//  The server

static enum MHD_Result s_answer (struct MHD_Connection *connection, unsigned status,
                                 const char *text)
{
    struct MHD_Response *response =
        MHD_create_response_from_buffer (strlen (text), (void *) text, MHD_RESPMEM_PERSISTENT);
    if (!response)
        return MHD_NO;
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header (response, MHD_HTTP_HEADER_ALLOW, "GET");
    enum MHD_Result rc = MHD_queue_response (connection, status, response);
    MHD_destroy_response (response);
    return rc;
}

//  libmicrohttpd's request handler, on its thread.
static enum MHD_Result s_on_request (void *cls, struct MHD_Connection *connection, const char *url,
                                     const char *method, const char *version,
                                     const char *upload_data, size_t *upload_data_size,
                                     void **request)
{
    metrics_t *self = cls;
    if (strcmp (url, "/metrics") != 0)
        return s_answer (connection, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n");
    if (strcmp (method, MHD_HTTP_METHOD_GET) != 0)
        return s_answer (connection, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n");
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    if (!out)
        return MHD_NO;
    int rc = s_write (self, out);
    fclose (out);
    if (rc != 0) {
        free (text);
        return MHD_NO;
    }
    struct MHD_Response *response =
        MHD_create_response_from_buffer (size, text, MHD_RESPMEM_MUST_FREE);
    if (!response) {
        free (text);
        return MHD_NO;
    }
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, METRICS_CONTENT_TYPE);
    enum MHD_Result queued = MHD_queue_response (connection, MHD_HTTP_OK, response);
    MHD_destroy_response (response);
    return queued;
}

//  Splits HOST:PORT (HOST may be [IPv6]) into host and port. Returns 0,
//  or -1 when it is not of that form.
static int s_split (const char *address, char *host, size_t host_size, char *port, size_t port_size)
{
    const char *colon = strrchr (address, ':');
    if (!colon || colon == address || !colon[1] || strlen (colon + 1) >= port_size ||
        strspn (colon + 1, "0123456789") != strlen (colon + 1) ||
        strtoul (colon + 1, NULL, 10) > 65535) //  getaddrinfo takes it modulo 65536
        return -1;
    const char *start = address, *end = colon;
    if (*start == '[' && end[-1] == ']') {
        start++;
        end--;
    }
    if (end <= start || (size_t) (end - start) >= host_size)
        return -1;
    memcpy (host, start, (size_t) (end - start));
    host[end - start] = 0;
    strcpy (port, colon + 1);
    return 0;
}

//  Whether a resolved address is a loopback one.
static bool s_loopback (const struct sockaddr *address)
{
    if (address->sa_family == AF_INET)
        return (ntohl (((const struct sockaddr_in *) address)->sin_addr.s_addr) >> 24) == 127;
    if (address->sa_family == AF_INET6) {
        const struct in6_addr *in6 = &((const struct sockaddr_in6 *) address)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK (in6) ||
               (IN6_IS_ADDR_V4MAPPED (in6) && in6->s6_addr[12] == 127);
    }
    return false;
}

//  Resolves HOST:PORT as metrics_new binds it (the first result, to
//  freeaddrinfo()). Returns 0, -1 when malformed, else getaddrinfo's code.
static int s_resolve (const char *address, char *host, struct addrinfo **found)
{
    char port[8];
    *found = NULL;
    if (s_split (address, host, 256, port, sizeof port) != 0)
        return -1;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | AI_PASSIVE};
    return getaddrinfo (host, port, &hints, found);
}

char *metrics_address_problem (const char *address)
{
    char host[256], port[8];
    if (s_split (address, host, sizeof host, port, sizeof port) == 0)
        return NULL;
    return zsys_sprintf ("--metrics %s: expected HOST:PORT (a port from 0 to 65535; 0 picks a "
                         "free one) or off",
                         address);
}

bool metrics_beyond_loopback (const char *address)
{
    char host[256];
    struct addrinfo *found = NULL;
    bool beyond = s_resolve (address, host, &found) == 0 && !s_loopback (found->ai_addr);
    if (found)
        freeaddrinfo (found);
    return beyond;
}

static char *s_refusal (const char *address)
{
    return zsys_sprintf ("will not serve metrics on %s: another machine could reach it (plain "
                         "HTTP, no authentication). Serve them on loopback (--metrics "
                         "127.0.0.1:PORT) and scrape from this machine, or give --insecure",
                         address);
}

char *metrics_listen_refusal (const char *address, bool insecure)
{
    return insecure || !metrics_beyond_loopback (address) ? NULL : s_refusal (address);
}

metrics_t *metrics_new (const metrics_config_t *config, char **error)
{
    char host[256];
    struct addrinfo *found = NULL;
    int rc = s_resolve (config->address, host, &found);
    if (rc == -1) {
        *error = metrics_address_problem (config->address);
        return NULL;
    }
    if (rc != 0) {
        *error = zsys_sprintf ("--metrics %s: %s", config->address, gai_strerror (rc));
        return NULL;
    }
    if (!config->insecure && !s_loopback (found->ai_addr)) {
        freeaddrinfo (found);
        *error = s_refusal (config->address);
        return NULL;
    }
    metrics_t *self = calloc (1, sizeof (metrics_t));
    if (!self) {
        freeaddrinfo (found);
        *error = strdup ("out of memory");
        return NULL;
    }
    self->config = *config;
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD;
    if (found->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    unsigned per_ip = s_loopback (found->ai_addr) ? 0 : METRICS_PER_IP_MAX; //  0: no limit
    self->daemon = MHD_start_daemon (
        flags, 0, NULL, NULL, s_on_request, self, MHD_OPTION_SOCK_ADDR, found->ai_addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned) METRICS_CONNECTIONS_MAX,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned) METRICS_TIMEOUT_S, MHD_OPTION_END);
    freeaddrinfo (found);
    const union MHD_DaemonInfo *info =
        self->daemon ? MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    if (!info) {
        *error = zsys_sprintf ("cannot serve metrics on %s (is the port in use?)", config->address);
        metrics_destroy (&self);
        return NULL;
    }
    bool v6 = strchr (host, ':') != NULL;
    self->url = zsys_sprintf ("http://%s%s%s:%u/metrics", v6 ? "[" : "", host, v6 ? "]" : "",
                              (unsigned) info->port);
    if (!self->url) {
        *error = strdup ("out of memory");
        metrics_destroy (&self);
        return NULL;
    }
    log_debug ("shoal node: metrics on %s", self->url);
    return self;
}

void metrics_destroy (metrics_t **self_p)
{
    metrics_t *self = *self_p;
    if (!self)
        return;
    if (self->daemon)
        MHD_stop_daemon (self->daemon);
    zstr_free (&self->url);
    free (self);
    *self_p = NULL;
}

const char *metrics_url (const metrics_t *self)
{
    return self->url;
}
