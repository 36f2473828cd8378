/*  cluster_internal.h - what the cluster map's two files share: the
    map's struct and the few functions cluster.c lends to cluster_file.c.
    Internal to transport/: other folders include cluster.h only.

    Files: cluster.c is the map itself (values, placement by rendezvous
    hashing, the owner table, the digest, accessors, planning);
    cluster_file.c loads, validates and saves a cluster file.

    Threads: as cluster.h says, a map is plain data owned by one thread.
*/
#ifndef CLUSTER_INTERNAL_H_INCLUDED
#define CLUSTER_INTERNAL_H_INCLUDED

#include "cluster.h"

#include <stddef.h>

#define NO_OWNER 0xFF //  in the owner table: unowned

typedef struct {
    char name[CLUSTER_NAME_MAX + 1];          //  [a-z0-9][a-z0-9_-]{0,31}
    char client[CLUSTER_ENDPOINT_MAX + 1];    //  where clients connect
    char peer[CLUSTER_ENDPOINT_MAX + 1];      //  where other nodes connect
    char peer_bind[CLUSTER_ENDPOINT_MAX + 1]; //  where it listens for them, "" = peer
    char key[CLUSTER_KEY_SIZE + 1];           //  CURVE public key, Z85, "" = unset
    char previous[CLUSTER_KEY_SIZE + 1];      //  its key before a rekey, "" = none
    uint32_t count;                           //  shards it owns
} node_t;

struct _cluster_t {
    char name[CLUSTER_NAME_MAX + 1]; //  the cluster's name
    uint32_t shards;                 //  S, 1..CLUSTER_MAX_SHARDS
    int64_t epoch;                   //  >= 1
    int count;                       //  nodes, 1..CLUSTER_MAX_NODES
    node_t nodes[CLUSTER_MAX_NODES]; //  in file order
    uint8_t *owner;                  //  S entries: a node index or NO_OWNER
    char digest[41];                 //  of the canonical map, hex
};

//  True if name is a node or cluster name: [a-z0-9][a-z0-9_-]{0,31}.
bool cluster_valid_name (const char *name);

//  True if cluster_endpoint_problem (cluster.h) finds none.
bool cluster_valid_endpoint (const char *endpoint);

//  True if key is 40 characters of the Z85 alphabet, each group of 5 at
//  most 2^32 - 1.
bool cluster_valid_key (const char *key);

//  A new map of shards shards at epoch 1, with no nodes and every shard
//  unowned, or NULL if out of memory. Destroy it with cluster_destroy.
cluster_t *cluster_new_empty (uint32_t shards);

//  Recomputes self->digest. Returns 0 or SHOAL_ENOMEM.
int cluster_update_digest (cluster_t *self);

#endif
