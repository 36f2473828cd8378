/*  cluster_stats.h - the stats of every node of a cluster, asked all at
    once, as `shoal stats --cluster` and `shoal cluster status` read them.

    One client per node (client_new_cluster with the node's name): a node
    that is down, or cut off, or does not answer before the deadline is
    shown down with why, and never delays the others. One thread; no
    state between calls.
*/
#ifndef CLUSTER_STATS_H_INCLUDED
#define CLUSTER_STATS_H_INCLUDED

#include "client.h"
#include "cluster.h"

#include <msgpack.h>
#include <stdbool.h>

typedef struct {
    char name[CLUSTER_NAME_MAX + 1];                          //  the node's name in the map
    char endpoint[CLUSTER_ENDPOINT_MAX + 1];                  //  its client endpoint
    bool up;                                                  //  answered before the deadline
    char error[ENVELOPE_CODE_MAX + ENVELOPE_REASON_MAX + 32]; //  why not up, or why stats is NULL
    const msgpack_object *stats; //  up: its stats map (NULL if malformed
                                 //  or rejected), borrowed from unpacked
    msgpack_unpacked unpacked;   //  private
    client_reply_t reply;        //  private: owns what stats points into
} node_stats_t;

//  Asks each node of cluster (loaded from path, whose directory holds the
//  client certificate) for its stats, and waits at most timeout_ms in all.
//  Fills nodes[i] for node i (cluster_node_count entries, the caller's).
//  Returns how many answered, or -1 with *error (free() it) when a client
//  cannot be made; then nodes need no closing.
int cluster_stats_poll (const char *path, const cluster_t *cluster, long timeout_ms,
                        node_stats_t *nodes, char **error);

//  Frees what cluster_stats_poll kept in nodes (count entries).
void cluster_stats_close (node_stats_t *nodes, int count);

#endif
