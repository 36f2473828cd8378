/*  shard.h - which shard an address belongs to. A node's actors are split
    into a fixed number of shards (fixed when its store is made); a shard is
    the unit a worker runs and, in a cluster, the unit a node owns. The
    journal's keys start with the shard (persistence/keys.h), so one
    shard's records are one contiguous range.

    Threads: pure functions, safe on any thread.
*/
#ifndef SHARD_H_INCLUDED
#define SHARD_H_INCLUDED

#include <stdint.h>

#define SHOAL_SHARDS_DEFAULT 256 //  shards of a new store, unless told
#define SHOAL_SHARDS_MAX 65536   //  a shard is a u16 in the journal's keys

//  The shard of address among shards (> 0): FNV-1a over its bytes, mixed
//  with MurmurHash3's finaliser, modulo shards. Stable across versions and
//  machines: it decides where data lives, so it must never change.
uint32_t shoal_shard (const char *address, uint32_t shards);

#endif
