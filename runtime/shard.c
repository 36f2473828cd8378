/*  shard.c - an address's shard and the worker that owns it. See shard.h.
    No state: safe from any thread.
*/
#include "shard.h"
#include "worker.h"

uint32_t worker_shard (const char *address, uint32_t shards)
{
    uint64_t hash = 14695981039346656037ULL;
    for (const unsigned char *p = (const unsigned char *) address; *p; p++)
        hash = (hash ^ *p) * 1099511628211ULL;
    //  FNV-1a's low bits are weak (bit 0 is the parity of the bytes' low
    //  bits): mix with MurmurHash3's finalizer before taking the modulo.
    hash ^= hash >> 33;
    hash *= 0xff51afd7ed558ccdULL;
    hash ^= hash >> 33;
    hash *= 0xc4ceb9fe1a85ec53ULL;
    hash ^= hash >> 33;
    return (uint32_t) (hash % shards);
}

int worker_of (const worker_config_t *config, const char *address)
{
    return (int) (worker_shard (address, config->shards) % (uint32_t) config->workers);
}
