/*  cluster_stats.h - the stats of every node of a cluster, asked all at
    once, as `shoal stats --cluster` and `shoal cluster status` read them;
    and the same for any query, over clients kept open between rounds, as
    `shoal top` asks them each second.

    One client per node (client_new_cluster with the node's name): a node
    that is down, or cut off, or does not answer before the deadline is
    shown down with why, and never delays the others. One thread;
    cluster_stats_poll keeps no state between calls.
*/
#ifndef CLUSTER_STATS_H_INCLUDED
#define CLUSTER_STATS_H_INCLUDED

#include "client.h"
#include "cluster.h"
#include "shoal_stats.h"

#include <msgpack.h>
#include <stdbool.h>

typedef struct {
    char name[CLUSTER_NAME_MAX + 1];                          //  the node's name in the map
    char endpoint[CLUSTER_ENDPOINT_MAX + 1];                  //  its client endpoint
    bool up;                                                  //  answered before the deadline
    bool refused;                                             //  not up: our key refused
    char error[ENVELOPE_CODE_MAX + ENVELOPE_REASON_MAX + 32]; //  why not up, or why stats is NULL
    const msgpack_object *stats; //  up: its answer's map (NULL if malformed
                                 //  or rejected), borrowed from unpacked
    msgpack_unpacked unpacked;   //  private
    client_reply_t reply;        //  read-only: the answer (ok, code, reason);
                                 //  owns what stats points into
} node_stats_t;

//  Asks each node of cluster (loaded from path, whose directory holds the
//  client certificate) for its stats, and waits at most timeout_ms in all.
//  Fills nodes[i] for node i (cluster_node_count entries, the caller's).
//  Returns how many answered, or -1 with *error (free() it) when a client
//  cannot be made; then nodes need no closing.
int cluster_stats_poll (const char *path, const cluster_t *cluster, long timeout_ms,
                        node_stats_t *nodes, char **error);

//  Frees what cluster_stats_poll or cluster_asker_ask kept in nodes (count
//  entries).
void cluster_stats_close (node_stats_t *nodes, int count);

//  A client per node, kept open: one CURVE handshake per node, not one per
//  question.
typedef struct _cluster_asker_t cluster_asker_t;

//  Clients of every node of cluster (loaded from path), or, with cluster
//  NULL, of the one node at endpoint (its name is the endpoint). Returns
//  NULL with *error (free() it).
cluster_asker_t *cluster_asker_new (const char *path, const cluster_t *cluster,
                                    const char *endpoint, char **error);
void cluster_asker_destroy (cluster_asker_t **self_p);

//  The nodes asked (1 for an endpoint).
int cluster_asker_count (const cluster_asker_t *self);

//  The client of node i, borrowed until cluster_asker_destroy: for
//  client_refusal, after a node was found refused.
client_t *cluster_asker_client (cluster_asker_t *self, int i);

//  Asks the query name to `to` with payload (may be NULL) of every node i
//  for which ask is NULL or ask[i], all at once, and waits at most
//  timeout_ms in all. Fills nodes[i] for every node (one not asked is
//  left down, error "not asked"); close them with cluster_stats_close.
//  Returns how many answered. A late answer to an earlier round is
//  dropped.
int cluster_asker_ask (cluster_asker_t *self, const char *to, const char *name,
                       const uint8_t *payload, size_t size, const bool *ask, long timeout_ms,
                       node_stats_t *nodes);

//  A store that failed a write this recently (a full disk, an I/O error)
//  is said to be failing: its node is up, and answers what it cannot
//  store with nothing a sender takes.
#define STATS_STORE_RECENT_MS SHOAL_STORE_RECENT_MS

//  Says in text (size bytes) that the store of the node whose stats
//  answer this is damaged, as the read of every record after its start
//  found: "its store is damaged: WHAT" (stats' store_damage), or failed a
//  write lately: "its store failed a write 0.4s ago: WHY" (stats'
//  store_failed_ago_ms and store_error), or its disk has less room than
//  its store's next start needs, or no inode left (stats' disk). Returns
//  false, text "", if none, or from a node older than those fields.
//  STATS_STORE_TEXT_MAX bytes hold the whole of it (the journal's cause is
//  at most 512).
#define STATS_STORE_TEXT_MAX 640
//  Adds to note (size bytes, "; " after what it holds) what else makes a
//  node unwell, from its stats: its start still holding its clients'
//  commands (no peer checked its store yet: cluster status said only
//  "cannot reach n1,n3"), and its projections stopped by a failed apply
//  (only `shoal projections` said so).
void stats_held_and_failed (const msgpack_object *stats, char *note, size_t size);
bool stats_store_failing (const msgpack_object *stats, char *text, size_t size);

//  Writes a duration of ms milliseconds briefly ("3d04h", "1h02m", "5m03s",
//  "12s") into text.
void cluster_stats_duration (int64_t ms, char *text, size_t size);

//  Counts the links of a node's "peers" map (name -> bool up): how many,
//  and how many up; lists the names of those down in down (size bytes).
//  Returns false if stats has no such map.
bool cluster_stats_peers (const msgpack_object *stats, int *total, int *up, char *down,
                          size_t size);

//  Says in note (size bytes) what is wrong with node of cluster, as its
//  stats answer says, or "" if nothing: why it is down, that it answers as
//  another node or runs another epoch or map, which peers it cannot reach,
//  which cannot reach it, with with_store a store that failed, and the
//  actor types another node of all (count answers, may be NULL) registers
//  and it does not. `cluster status` and `top` say the same.
void cluster_stats_note (const cluster_t *cluster, const node_stats_t *node,
                         const node_stats_t *all, int count, bool with_store, char *note,
                         size_t size);

#endif
