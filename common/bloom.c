/*  bloom.c - a blocked Bloom filter. See bloom.h. */
#include "bloom.h"

#include <stdlib.h>
#include <string.h>

#define BLOOM_BLOCK_WORDS 8 //  512 bits, one cache line
#define BLOOM_PROBES 6

//  BLOOM_PROBES bit numbers of 9 bits each, from another mix of the hash
//  than the block's (its low bits).
static uint64_t s_probes (uint64_t hash)
{
    hash ^= hash >> 29;
    return hash * UINT64_C (0xbf58476d1ce4e5b9);
}

int bloom_init (bloom_t *self, uint64_t bits)
{
    self->words = calloc (bits / 64, sizeof (uint64_t));
    self->blocks = self->words ? bits / 64 / BLOOM_BLOCK_WORDS : 0;
    return self->words ? 0 : -1;
}

void bloom_close (bloom_t *self)
{
    free ((void *) self->words);
    self->words = NULL;
    self->blocks = 0;
}

void bloom_clear (bloom_t *self)
{
    if (self->words)
        memset ((void *) self->words, 0, self->blocks * BLOOM_BLOCK_WORDS * sizeof (uint64_t));
}

void bloom_add (bloom_t *self, uint64_t hash)
{
    if (!self->words)
        return;
    _Atomic uint64_t *block = self->words + (hash & (self->blocks - 1)) * BLOOM_BLOCK_WORDS;
    uint64_t bits = s_probes (hash);
    for (int i = 0; i < BLOOM_PROBES; i++, bits >>= 9) {
        unsigned bit = (unsigned) (bits & 511);
        atomic_fetch_or_explicit (&block[bit >> 6], UINT64_C (1) << (bit & 63),
                                  memory_order_release);
    }
}

bool bloom_maybe (const bloom_t *self, uint64_t hash)
{
    if (!self->words)
        return false;
    _Atomic uint64_t *block = self->words + (hash & (self->blocks - 1)) * BLOOM_BLOCK_WORDS;
    uint64_t bits = s_probes (hash);
    for (int i = 0; i < BLOOM_PROBES; i++, bits >>= 9) {
        unsigned bit = (unsigned) (bits & 511);
        uint64_t word = atomic_load_explicit (&block[bit >> 6], memory_order_acquire);
        if (!(word & (UINT64_C (1) << (bit & 63))))
            return false;
    }
    return true;
}
