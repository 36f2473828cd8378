/*  top_sample.h - what `shoal top` shows, read from the nodes: a row per
    node with its rates over the last interval, the throughput of the last
    minute, the stalled commands and the busiest actors. The screen is
    cmd_top.c's; this is the data, and its text and JSON printouts for
    `shoal top --once`.

    Each sample asks every node at once (cluster_stats.h, one client per
    node kept open): "stats" always; "busiest" (to node/busiest, which
    resets the nodes' counts) and "pending" (to node/pending, stalled rows
    only) when asked for, and only of the nodes that answered stats. A
    rate is the difference of two samples' counters over the difference
    of the node's uptimes, so the clock is the node's; a node that
    restarted in between has no rates until its next sample. The p99 of
    commit latency is taken from the difference of two readings of the
    histogram's buckets (linear within its bucket, as Prometheus'
    histogram_quantile does).

    One thread; a top_t is the caller's.
*/
#ifndef TOP_SAMPLE_H_INCLUDED
#define TOP_SAMPLE_H_INCLUDED

#include "cluster.h"
#include "cluster_stats.h"
#include "envelope.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define TOP_HISTORY 60      //  samples of throughput kept: a minute at 1 s
#define TOP_BUCKETS 16      //  the commit latency histogram's (runtime/histogram.h)
#define TOP_STALLED_MAX 100 //  stalled rows asked per node
#define TOP_BUSIEST_MAX 64  //  busiest rows kept
#define TOP_THREADS_MAX 32  //  a node's threads by name, read from its stats

typedef struct {
    bool have;                           //  a sample was taken
    int64_t uptime_ms;                   //  the node's, at that sample
    uint64_t commands, replies;          //  accepted + rejected; replies handled
    uint64_t commits, records;           //  LevelDB writes and their records
    uint64_t buckets[TOP_BUCKETS];       //  commits per latency bucket
    uint64_t bounds[TOP_BUCKETS - 1];    //  the buckets' upper bounds, ns
    int threads;                         //  names in thread and thread_us
    char thread[TOP_THREADS_MAX][16];    //  the node's threads by name
    uint64_t thread_us[TOP_THREADS_MAX]; //  and their CPU time so far
} top_counters_t;

typedef struct {
    char name[CLUSTER_ENDPOINT_MAX + 1];     //  the node's name (or endpoint alone)
    char endpoint[CLUSTER_ENDPOINT_MAX + 1]; //  its client endpoint
    bool up;                                 //  answered the last stats query
    char reason[512];                        //  why it is down
    bool rated;                              //  the rates below hold: two samples of one run
    int64_t uptime_ms;                       //  since the node started
    double commands_ps;                      //  commands handled (accepted + rejected) per second
    double steps_ps;                  //  replies handled by their senders per second (saga steps)
    double commits_ps;                //  group commits per second
    double records_per_commit;        //  records per commit in the interval (0: no commit)
    double p99_ms;                    //  p99 of commit latency in the interval, ms (< 0: no commit)
    bool p99_above;                   //  it is past the last finite bound (p99_ms is that bound)
    double errors_ps;                 //  errors per second
    char busy_thread[16];             //  the thread that used the most CPU ("": not known)
    double busy_thread_pct;           //  its share of a core over the interval, %
    int64_t active, pending, stalled; //  actors in memory; outbox entries; stalled ones
    int64_t errors; //  bad frames + busy + unavailable + failed commits, since start
    char store[STATS_STORE_TEXT_MAX]; //  "its store failed a write 0.4s ago: ..."
                                      //  (stats_store_failing), or ""
    char problem[512];   //  up, in a cluster: what else `cluster status` finds wrong, or ""
    top_counters_t last; //  private: the last sample's counters
} top_node_t;

typedef struct {
    char sender[SHOAL_ADDRESS_MAX + 1];
    char command[SHOAL_NAME_MAX + 1];
    char target[SHOAL_ADDRESS_MAX + 1];
    char node[CLUSTER_ENDPOINT_MAX + 1];    //  the sender's (the node that answered)
    char target_node[CLUSTER_NAME_MAX + 1]; //  the target's, from the map ("" alone)
    int64_t attempts;                       //  times sent
    int64_t age_ms;                         //  since first sent
} top_stalled_t;

typedef struct {
    char address[SHOAL_ADDRESS_MAX + 1];
    char node[CLUSTER_ENDPOINT_MAX + 1]; //  a node alone: its endpoint
    double per_s;                        //  messages handed to it per second over its worker's
                                         //  interval, at least (the sketch's lower bound)
} top_busy_t;

typedef struct _top_t top_t;

//  A top of the cluster in the file at cluster_path, or (cluster_path
//  NULL) of the node at endpoint. timeout_ms bounds each query's wait.
//  Returns NULL with *error (free() it).
top_t *top_new (const char *cluster_path, const char *endpoint, long timeout_ms, char **error);
void top_destroy (top_t **self_p);

//  Takes a sample: stats of every node, and busiest and pending (stalled
//  rows) if asked. Waits at most timeout_ms per query. Can't fail: a node
//  that does not answer is down, with the reason.
void top_sample (top_t *self, bool busiest, bool pending);

//  What the last sample found. Borrowed until the next top_sample.
const char *top_title (const top_t *self); //  "cluster NAME" or the endpoint
int top_node_count (const top_t *self);
const top_node_t *top_node (const top_t *self, int index);
int top_up_count (const top_t *self);
//  The first node up with a problem (another map or epoch, a link down) or
//  a store that fails, as `cluster status` counts them, or NULL.
const top_node_t *top_unwell (const top_t *self);
//  The cluster's commands per second of the last samples, oldest first:
//  *count of them (at most TOP_HISTORY).
const double *top_history (const top_t *self, int *count);
double top_commands_ps (const top_t *self); //  the last sample's, all nodes
bool top_stalled_known (const top_t *self); //  pending was asked at least once
const top_stalled_t *top_stalled (const top_t *self, int *count);
//  The stalled commands the nodes did not list (each lists at most
//  TOP_STALLED_MAX): the count of all is *count of top_stalled plus these.
int64_t top_stalled_more (const top_t *self);
//  How many nodes answered the last query of stalled commands: with none,
//  no count is known (0 stalled is not said of nodes that did not answer).
int top_stalled_nodes (const top_t *self);
const top_busy_t *top_busiest (const top_t *self, int *count);

//  Text: an uptime ("3d04h", "5h02m", "12m03s", "45s"), a rate ("12.3k"),
//  a latency (node's p99: "4.1ms", ">5s", "-"), the busiest thread
//  ("shoal-worker-1 97%", "-"). Into buf.
void top_format_uptime (int64_t ms, char *buf, size_t size);
void top_format_rate (double value, char *buf, size_t size);
void top_format_p99 (const top_node_t *node, char *buf, size_t size);
void top_format_busy_thread (const top_node_t *node, char *buf, size_t size);

//  Prints the last sample as text (`shoal top --once`) or as one JSON
//  object (`--once --json`) on out.
void top_print_text (const top_t *self, FILE *out);
void top_print_json (const top_t *self, FILE *out);

#endif
