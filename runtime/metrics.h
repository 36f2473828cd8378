/*  metrics.h - a node's metrics over HTTP, in Prometheus' text exposition
    format (version 0.0.4), served by libmicrohttpd on its own thread.

    GET /metrics answers the families of SHOAL_METRICS and
    SHOAL_NODE_METRICS (shoal_stats.h), the histograms of commit latency,
    turn latency and batch size, each worker's queue, each peer's link and
    the data directory's size; any other path is 404, another method 405.
    A scrape reads atomics only (and the data directory's listing), on
    libmicrohttpd's thread: the node's threads never wait for it, nor do
    any work for it when nobody scrapes.
*/
#ifndef METRICS_H_INCLUDED
#define METRICS_H_INCLUDED

#include "front.h"
#include "peers.h"
#include "projector.h"
#include "worker.h"

typedef struct _metrics_t metrics_t;

//  What a scrape reads. Everything pointed to must outlive the server.
typedef struct {
    const char *address;                 //  HOST:PORT to listen on; port 0 picks a free one
    const worker_config_t *config;       //  the workers: count, counters
    const front_counters_t *front;       //  the front's counters
    const atomic_uint_fast64_t *refused; //  connections the authenticator refused
    const peers_t *peers;                //  the links, NULL for a node alone
    const cluster_t *cluster;            //  NULL for a node alone
    int self_node;                       //  our index in it
    const char *data_dir;                //  summed at each scrape
    projector_gauges_t *projections;     //  the projections' builds (may be NULL)
    int64_t started;                     //  monotonic ms (zclock_mono), for uptime_ms
    bool insecure;                       //  may listen beyond loopback
} metrics_config_t;

//  Whether address (HOST:PORT) is bound beyond loopback: its host
//  resolves to an address that is not 127.0.0.0/8 or ::1 (0.0.0.0, a
//  machine's own address). False when it is malformed or does not resolve
//  (metrics_new says so).
bool metrics_beyond_loopback (const char *address);
//  NULL if address is HOST:PORT (a port from 0 to 65535), else what is
//  wrong with it (to free()).
char *metrics_address_problem (const char *address);

//  Why a node will not serve metrics on address: NULL when it may (on
//  loopback, or insecure), else the refusal, naming the address and the
//  ways out, to free().
char *metrics_listen_refusal (const char *address, bool insecure);

//  Starts listening. Returns NULL with *error (free() it) when the address
//  is malformed or cannot be bound, or resolves beyond loopback unless
//  config->insecure: the address checked is the one bound, so a name that
//  resolved to loopback for metrics_listen_refusal and to another address
//  now is refused too.
metrics_t *metrics_new (const metrics_config_t *config, char **error);

//  Stops the server (waits for a scrape under way). Safe with *self_p NULL.
void metrics_destroy (metrics_t **self_p);

//  "http://HOST:PORT/metrics" with the port bound. Borrowed, for the
//  object's life.
const char *metrics_url (const metrics_t *self);

//  The workers' counters, summed.
typedef struct {
#define METRICS_FIELD(name, description) uint64_t name;
    SHOAL_COUNTERS (METRICS_FIELD)
#undef METRICS_FIELD
} metrics_sum_t;

//  The node's own counters, as the "stats" query has them.
typedef struct {
#define METRICS_FIELD(name, description) int64_t name;
    SHOAL_NODE_COUNTERS (METRICS_FIELD)
#undef METRICS_FIELD
} metrics_node_t;

//  Reads the counters of config: the workers' summed, and the node's own.
//  The stats query and the metrics both show these. Any thread.
void metrics_read (const metrics_config_t *config, metrics_sum_t *sum, metrics_node_t *node);

//  The peak resident set of this process in KiB (VmHWM of /proc/self/status),
//  0 if unknown. Any thread.
long metrics_peak_rss_kb (void);

#endif
