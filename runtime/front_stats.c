/*  front_stats.c - the "stats" query, answered by the front itself from
    the workers' counters (summed), the node's own, the commit-latency
    histogram and, in a cluster, who this node is and which links are up.
    See front.h. Runs on the front's thread.
*/
#include "front_internal.h"
#include "metrics.h"
#include "auth.h"
#include "data.h"
#include "envelope.h"
#include "log.h"
#include "repair.h"
#include "shard.h"
#include "shoal_stats.h"
#include "deadletter.h"
#include "threadname.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void front_pack_str (msgpack_packer *pk, const char *text)
{
    msgpack_pack_str_with_body (pk, text, strlen (text));
}

//  "commit_latency": {le_ns: the buckets' upper bounds but +Inf's, counts:
//  each bucket's commits (not cumulative), summed over the workers}, so a
//  watcher takes a quantile of an interval from two readings.
static void s_pack_commit_latency (msgpack_packer *pk, const worker_config_t *config)
{
    const uint64_t *bounds = histogram_bounds (HISTOGRAM_SECONDS);
    front_pack_str (pk, "commit_latency");
    msgpack_pack_map (pk, 2);
    front_pack_str (pk, "le_ns");
    msgpack_pack_array (pk, HISTOGRAM_BUCKETS - 1);
    for (int b = 0; b < HISTOGRAM_BUCKETS - 1; b++)
        msgpack_pack_uint64 (pk, bounds[b]);
    front_pack_str (pk, "counts");
    msgpack_pack_array (pk, HISTOGRAM_BUCKETS);
    for (int b = 0; b < HISTOGRAM_BUCKETS; b++) {
        uint64_t count = 0;
        for (int w = 0; w < config->workers; w++)
            count += atomic_load_explicit (&config->stats[w].commit_seconds.buckets[b],
                                           memory_order_relaxed);
        msgpack_pack_uint64 (pk, count);
    }
}

//  "threads_cpu_us": {name: µs}, the CPU time of the node's threads by
//  name so far (threadname.h; threads of one name summed).
#define STATS_THREADS_MAX 256

static void s_pack_threads (msgpack_packer *pk)
{
    thread_info_t *threads = calloc (STATS_THREADS_MAX, sizeof (thread_info_t));
    int count = threads ? thread_list_by_name (0, threads, STATS_THREADS_MAX) : -1;
    front_pack_str (pk, "threads_cpu_us");
    msgpack_pack_map (pk, count > 0 ? (size_t) count : 0);
    for (int i = 0; i < count; i++) {
        front_pack_str (pk, threads[i].name);
        msgpack_pack_int64 (pk, threads[i].cpu_us);
    }
    free (threads);
}

//  "projections_failed": the builds stopped by a failed apply, as
//  "NAME@VERSION" (gauges NULL: none).
static void s_pack_failed_projections (msgpack_packer *pk, projector_gauges_t *gauges)
{
    char names[PROJECTOR_GAUGES_MAX][SHOAL_TYPE_MAX + 16];
    size_t count = 0;
    if (gauges) {
        pthread_mutex_lock (&gauges->lock);
        for (size_t i = 0; i < gauges->count; i++)
            if (gauges->items[i].failed)
                snprintf (names[count++], sizeof names[0], "%s@%" PRIu32, gauges->items[i].name,
                          gauges->items[i].version);
        pthread_mutex_unlock (&gauges->lock);
    }
    front_pack_str (pk, "projections_failed");
    msgpack_pack_array (pk, count);
    for (size_t i = 0; i < count; i++)
        front_pack_str (pk, names[i]);
}

//  The "stats" query: the workers' counters summed, the node's own, and,
//  in a cluster, who this node is and which links are up.
void front_stats (front_t *self, const uint8_t *route, size_t route_size, const envelope_t *request)
{
    const worker_config_t *config = self->config.config;
    //  The same counters as the metrics' (metrics_read).
    metrics_config_t read = {.config = config,
                             .front = &self->counters,
                             .refused = self->config.refused,
                             .started = self->started};
    metrics_sum_t sum;
    metrics_node_t node;
    metrics_read (&read, &sum, &node);
    const cluster_t *cluster = self->config.cluster;
#define FRONT_COUNTER_PLUS_ONE(name, description) +1
    size_t fields =
        0 SHOAL_COUNTERS (FRONT_COUNTER_PLUS_ONE) SHOAL_NODE_COUNTERS (FRONT_COUNTER_PLUS_ONE);
#undef FRONT_COUNTER_PLUS_ONE
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, fields + 9 + (cluster ? 11 : 0));
#define FRONT_COUNTER_PACK(name, description)                                                      \
    msgpack_pack_str_with_body (&pk, #name, sizeof #name - 1);                                     \
    msgpack_pack_uint64 (&pk, sum.name);
    SHOAL_COUNTERS (FRONT_COUNTER_PACK)
#undef FRONT_COUNTER_PACK
    //  Signed: msgpack packs a non-negative value the same either way.
#define FRONT_COUNTER_PACK(name, description)                                                      \
    msgpack_pack_str_with_body (&pk, #name, sizeof #name - 1);                                     \
    msgpack_pack_int64 (&pk, node.name);
    SHOAL_NODE_COUNTERS (FRONT_COUNTER_PACK)
#undef FRONT_COUNTER_PACK
    s_pack_commit_latency (&pk, config);
    s_pack_threads (&pk);
    //  The store: how long ago a write (or its reopen) last failed, and
    //  why; -1 and "" if none did since the start.
    char store_error[512]; //  the journal's cause, whole
    int64_t failed_ago = journal_failed_ago_ms (config->journal, store_error, sizeof store_error);
    front_pack_str (&pk, "store_failed_ago_ms");
    msgpack_pack_int64 (&pk, failed_ago);
    front_pack_str (&pk, "store_error");
    front_pack_str (&pk, store_error);
    //  The read of every record that follows the start: "reading",
    //  "whole", "damaged" (and what it found), "stopped" or "off".
    char damage[512];
    journal_verify_state_t verified = journal_verify_state (config->journal, damage, sizeof damage);
    front_pack_str (&pk, "store_verify");
    front_pack_str (&pk, journal_verify_name (verified));
    front_pack_str (&pk, "store_damage");
    front_pack_str (&pk, damage);
    //  The room its disk has left, and what its next start or reopen
    //  writes first (top and cluster status say a node short of it).
    journal_disk_t disk;
    journal_disk (config->journal, &disk);
    front_pack_str (&pk, "disk");
    msgpack_pack_map (&pk, 3);
    front_pack_str (&pk, "free_bytes");
    msgpack_pack_uint64 (&pk, disk.free_bytes);
    front_pack_str (&pk, "free_inodes");
    msgpack_pack_int64 (&pk, disk.inodes_counted ? (int64_t) disk.free_inodes : -1);
    front_pack_str (&pk, "reopen_bytes");
    msgpack_pack_uint64 (&pk, disk.reopen_bytes);
    //  The projections stopped by a failed apply, "NAME@VERSION" each: top
    //  and cluster status say the node unwell (only `shoal projections`
    //  and the metrics said so).
    s_pack_failed_projections (&pk, self->config.projections);
    //  The actor types its modules register: a cluster's nodes compare
    //  them (one started without a module refuses its types' commands).
    const shoal_registry_t *registry = config->registry;
    front_pack_str (&pk, "types");
    msgpack_pack_array (&pk, registry_count (registry));
    for (size_t i = 0; i < registry_count (registry); i++)
        front_pack_str (&pk, registry_type_name (registry, i));
    if (cluster) {
        int me = self->config.self_node, count = cluster_node_count (cluster), up = 0;
        front_pack_str (&pk, "node");
        front_pack_str (&pk, cluster_node_name (cluster, me));
        front_pack_str (&pk, "cluster");
        front_pack_str (&pk, cluster_name (cluster));
        front_pack_str (&pk, "epoch");
        msgpack_pack_int64 (&pk, cluster_epoch (cluster));
        front_pack_str (&pk, "digest");
        front_pack_str (&pk, cluster_digest (cluster));
        front_pack_str (&pk, "shards_owned");
        msgpack_pack_uint32 (&pk, cluster_node_shard_count (cluster, me));
        front_pack_str (&pk, "peers");
        msgpack_pack_map (&pk, (size_t) (count - 1));
        for (int i = 0; i < count; i++)
            if (i != me) {
                bool link = peers_up (self->config.peers, i);
                up += link;
                front_pack_str (&pk, cluster_node_name (cluster, i));
                link ? msgpack_pack_true (&pk) : msgpack_pack_false (&pk);
            }
        front_pack_str (&pk, "peers_up");
        msgpack_pack_int (&pk, up);
        //  Each peer's link to us: whether it brought a frame within the
        //  heartbeat timeout, and how long ago its last one came (a link
        //  cut one way is up above and not heard here, on either side).
        front_pack_str (&pk, "peers_heard");
        msgpack_pack_map (&pk, (size_t) (count - 1));
        for (int i = 0; i < count; i++)
            if (i != me) {
                peers_link_t link;
                peers_link (self->config.peers, i, &link);
                front_pack_str (&pk, cluster_node_name (cluster, i));
                link.heard ? msgpack_pack_true (&pk) : msgpack_pack_false (&pk);
            }
        //  A peer that saw our store further than it is now, and refuses
        //  it (peers_seen.h): "" if none.
        const char *behind = peers_store_behind (self->config.peers);
        front_pack_str (&pk, "store_behind");
        front_pack_str (&pk, behind ? behind : "");
        //  Why its start still holds its clients' commands (no peer has
        //  checked its store yet), "" once it does not.
        const char *unchecked = peers_store_unchecked (self->config.peers);
        front_pack_str (&pk, "store_unchecked");
        front_pack_str (&pk, unchecked ? unchecked : "");
        front_pack_str (&pk, "peers_silent_ms");
        msgpack_pack_map (&pk, (size_t) (count - 1));
        for (int i = 0; i < count; i++)
            if (i != me) {
                front_pack_str (&pk, cluster_node_name (cluster, i));
                msgpack_pack_int64 (&pk, peers_silent_ms (self->config.peers, i));
            }
    }
    uint8_t *payload;
    size_t size;
    if (envelope_reply_encode (true, NULL, NULL, (const uint8_t *) buffer.data, buffer.size,
                               &payload, &size) == 0) {
        front_reply (self, route, route_size, request, payload, size);
        free (payload);
    }
    msgpack_sbuffer_destroy (&buffer);
}

//  The "dead_letters" query: this node's dead letters (deadletter.h).
