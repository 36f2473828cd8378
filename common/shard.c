/*  shard.c - the shard of an address. See shard.h.

    Contract: the result depends on the address's bytes and the shard count
    alone, identically on every machine and in every version, as stored
    data is laid out by it. Do not change a bit of it.

    Threads: no state, safe on any thread.
*/
#include "shard.h"
#include <assert.h>

uint32_t shoal_shard (const char *address, uint32_t shards)
{
    assert (address);
    assert (shards > 0);
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
