/*  ptable.c - a hash table of pointers to items that hold their own key.
    See ptable.h.

    A slot is the item's pointer (bits 0-47) with the top 16 bits of its
    key's hash in bits 48-63 (the tag); 0 is an empty slot. An item sits at
    its home (hash & mask) or after it, with no empty slot between: a find
    stops at the first empty slot.
*/
#include "ptable.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define PTABLE_TAG_SHIFT 48
#define PTABLE_POINTER_MASK ((UINT64_C (1) << PTABLE_TAG_SHIFT) - 1)
#define PTABLE_MIN_CAPACITY 16

//  8 bytes a step (each a bijection of the hash: xor, odd multiply,
//  xorshift), then FNV-1a over the last few bytes: a 16-byte id costs two
//  multiplies rather than sixteen, which made a find slower than zhashx's
//  with an id's hash of one multiply.
uint64_t ptable_hash (const void *key, size_t size)
{
    const uint8_t *bytes = key;
    uint64_t hash = UINT64_C (14695981039346656037) ^ size;
    size_t i = 0;
    for (; i + 8 <= size; i += 8) {
        uint64_t word;
        memcpy (&word, bytes + i, sizeof word);
        hash = (hash ^ word) * UINT64_C (0x9e3779b97f4a7c15);
        hash ^= hash >> 32;
    }
    for (; i < size; i++)
        hash = (hash ^ bytes[i]) * UINT64_C (1099511628211);
    //  The steps' low bits mix poorly: finish as MurmurHash3's fmix64.
    hash ^= hash >> 33;
    hash *= UINT64_C (0xff51afd7ed558ccd);
    hash ^= hash >> 33;
    hash *= UINT64_C (0xc4ceb9fe1a85ec53);
    hash ^= hash >> 33;
    return hash;
}

static void *s_item (uint64_t slot)
{
    return (void *) (uintptr_t) (slot & PTABLE_POINTER_MASK);
}

static bool s_same_key (const ptable_t *self, const void *item, const void *key, size_t size)
{
    size_t item_size;
    const void *item_key = self->key (item, &item_size);
    return item_size == size && memcmp (item_key, key, size) == 0;
}

void ptable_init (ptable_t *self, ptable_key_fn *key_fn)
{
    *self = (ptable_t){.key = key_fn};
}

void ptable_close (ptable_t *self)
{
    free (self->slots);
    self->slots = NULL;
    self->capacity = self->count = 0;
}

void ptable_clear (ptable_t *self)
{
    if (self->slots)
        memset (self->slots, 0, self->capacity * sizeof (uint64_t));
    self->count = 0;
}

//  Where the key lives, or where its probe ends (an empty slot).
static size_t s_probe (const ptable_t *self, const void *key, size_t size, uint64_t hash,
                       bool *found)
{
    size_t mask = self->capacity - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        uint64_t slot = self->slots[i];
        if (slot == 0) {
            *found = false;
            return i;
        }
        if ((slot >> PTABLE_TAG_SHIFT) == (hash >> PTABLE_TAG_SHIFT) &&
            s_same_key (self, s_item (slot), key, size)) {
            *found = true;
            return i;
        }
    }
}

void *ptable_find (const ptable_t *self, const void *key, size_t size)
{
    if (self->count == 0)
        return NULL;
    bool found;
    size_t i = s_probe (self, key, size, ptable_hash (key, size), &found);
    return found ? s_item (self->slots[i]) : NULL;
}

//  Puts slot (of an item not in the table) at the end of its probe.
static void s_place (uint64_t *slots, size_t capacity, uint64_t slot, uint64_t hash)
{
    size_t mask = capacity - 1, i = hash & mask;
    while (slots[i])
        i = (i + 1) & mask;
    slots[i] = slot;
}

static int s_grow (ptable_t *self)
{
    size_t capacity = self->capacity ? self->capacity * 2 : PTABLE_MIN_CAPACITY;
    uint64_t *slots = calloc (capacity, sizeof (uint64_t));
    if (!slots)
        return -1;
    for (size_t i = 0; i < self->capacity; i++) {
        uint64_t slot = self->slots[i];
        if (slot) {
            size_t size;
            const void *key = self->key (s_item (slot), &size);
            s_place (slots, capacity, slot, ptable_hash (key, size));
        }
    }
    free (self->slots);
    self->slots = slots;
    self->capacity = capacity;
    return 0;
}

int ptable_insert (ptable_t *self, void *item)
{
    uint64_t pointer = (uint64_t) (uintptr_t) item;
    if (pointer & ~PTABLE_POINTER_MASK)
        return -1; //  no room for the tag
    if ((self->count + 1) * 10 > self->capacity * 7 && s_grow (self) != 0)
        return -1;
    size_t size;
    const void *key = self->key (item, &size);
    uint64_t hash = ptable_hash (key, size);
    uint64_t tag = hash >> PTABLE_TAG_SHIFT << PTABLE_TAG_SHIFT;
    s_place (self->slots, self->capacity, pointer | tag, hash);
    self->count++;
    return 0;
}

void *ptable_remove (ptable_t *self, const void *key, size_t size)
{
    if (self->count == 0)
        return NULL;
    bool found;
    size_t hole = s_probe (self, key, size, ptable_hash (key, size), &found);
    if (!found)
        return NULL;
    void *item = s_item (self->slots[hole]);
    //  Shift back each later item of the run whose home is not between
    //  the hole and it (cyclically): it may then sit in the hole.
    size_t mask = self->capacity - 1;
    for (size_t i = (hole + 1) & mask; self->slots[i]; i = (i + 1) & mask) {
        size_t other_size;
        const void *other = self->key (s_item (self->slots[i]), &other_size);
        size_t home = ptable_hash (other, other_size) & mask;
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            self->slots[hole] = self->slots[i];
            hole = i;
        }
    }
    self->slots[hole] = 0;
    self->count--;
    return item;
}

void *ptable_next (const ptable_t *self, size_t *cursor)
{
    while (*cursor < self->capacity) {
        uint64_t slot = self->slots[(*cursor)++];
        if (slot)
            return s_item (slot);
    }
    return NULL;
}
