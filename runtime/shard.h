/*  shard.h - where an address lives: its shard, and the worker that owns
    that shard (DESIGN.md, "hash(address) mod shards mod workers").

    The hash is FNV-1a mixed with MurmurHash3's finaliser: FNV-1a's low
    bits alone are not usable modulo a power of two. The shard count is
    fixed when the store is created, so an address keeps its shard for the
    life of the store. Pure functions: any thread may call them. The names
    keep the worker_ prefix they had when they lived in worker.c: they say
    which worker an address belongs to, and the node and tests use them.
*/
#ifndef SHARD_H_INCLUDED
#define SHARD_H_INCLUDED

#include <stdint.h>

typedef struct worker_config_s worker_config_t;

//  The shard of address (NUL-terminated), in [0, shards). shards > 0.
uint32_t worker_shard (const char *address, uint32_t shards);

//  The index of the worker that owns address's shard, in [0, workers).
int worker_of (const worker_config_t *config, const char *address);

#endif
