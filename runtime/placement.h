/*  placement.h - where an address lives: the node that owns its shard, and
    on that node the worker (DESIGN.md, "hash(address) mod shards", then
    shard mod workers). The shard hash itself is common/shard.h's
    shoal_shard, the one every layer uses.

    In a cluster a worker's config names the map and this node's index;
    an address whose shard another node owns is placed at WORKER_REMOTE,
    and its messages go through the front to that node. Pure functions:
    any thread may call them. The names keep the worker_ prefix they had
    when they lived in worker.c.
*/
#ifndef PLACEMENT_H_INCLUDED
#define PLACEMENT_H_INCLUDED

#include <stdint.h>

#define WORKER_FRONT (-1)  //  a destination: the node's front (a client's reply)
#define WORKER_REMOTE (-2) //  a destination: another node, through the front

typedef struct worker_config_s worker_config_t;

//  The shard of address (NUL-terminated), in [0, shards). shards > 0.
uint32_t worker_shard (const char *address, uint32_t shards);

//  The index of the worker that owns address's shard, in [0, workers), or
//  WORKER_REMOTE when another node of the cluster owns it.
int worker_of (const worker_config_t *config, const char *address);

//  The worker that would own address on its own node, whichever node
//  that is: in [0, workers).
int worker_local_of (const worker_config_t *config, const char *address);

#endif
