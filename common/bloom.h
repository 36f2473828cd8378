/*  bloom.h - a blocked Bloom filter of 64-bit hashes (ptable_hash's): each
    hash sets BLOOM_PROBES bits of one 512-bit block, a cache line, picked
    by its low bits. It answers "maybe" or "surely not"; it never forgets
    a hash until bloom_clear.

    Threads: bloom_add and bloom_maybe from any thread at once (atomic
    words, release and acquire); bloom_init, bloom_clear and bloom_close
    while no other thread uses it.
*/
#ifndef BLOOM_H_INCLUDED
#define BLOOM_H_INCLUDED

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    _Atomic uint64_t *words; //  blocks * 8
    uint64_t blocks;         //  a power of 2
} bloom_t;

//  A filter of bits bits (a power of 2, 512 or more), all clear. Returns 0
//  or -1 out of memory (then it holds nothing and answers "surely not").
int bloom_init (bloom_t *self, uint64_t bits);
//  Frees its words. Safe twice.
void bloom_close (bloom_t *self);
//  Clears every bit.
void bloom_clear (bloom_t *self);
void bloom_add (bloom_t *self, uint64_t hash);
//  False if hash was surely never added.
bool bloom_maybe (const bloom_t *self, uint64_t hash);

#endif
