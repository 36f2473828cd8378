/*  ptable.h - a hash table of pointers to items that hold their own key.

    Open addressing with linear probing over one array of 8-byte slots:
    no allocation per item, no copy of its key. Each slot holds the item's
    pointer and, in its top 16 bits (unused by user-space pointers on
    x86-64 and AArch64), 16 bits of the key's hash, so that a probe
    compares keys only when those bits agree (an item whose pointer uses
    its top 16 bits cannot be inserted). The array grows
    by doubling before it is 70 % full and never shrinks; a removal shifts
    the items after it back (no tombstones), so a find costs what the
    table's fill says, whatever came and went before.

    The table never owns its items: ptable_remove hands one back, and
    ptable_close leaves them alone (free them first, with ptable_next). An
    item's key must not change while it is in the table. Not thread-safe:
    one thread owns a table. Iteration (ptable_next) sees each item once
    if nothing is inserted or removed meanwhile.
*/
#ifndef PTABLE_H_INCLUDED
#define PTABLE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

//  The key of item: its bytes (borrowed from the item) and their length.
typedef const void *(ptable_key_fn) (const void *item, size_t *size);

typedef struct {
    uint64_t *slots;    //  capacity slots, 0 when empty (private)
    size_t capacity;    //  a power of 2, or 0 before the first insert
    size_t count;       //  items in the table (read-only)
    ptable_key_fn *key; //  the items' key (private)
} ptable_t;

//  An empty table of items whose key is key_fn's. Allocates nothing until
//  the first insert. Can't fail.
void ptable_init (ptable_t *self, ptable_key_fn *key_fn);

//  Frees the slots (not the items). The table is empty again, still
//  usable. Safe twice.
void ptable_close (ptable_t *self);

//  Empties the table, keeping its slots. Can't fail.
void ptable_clear (ptable_t *self);

//  The item with this key, or NULL.
void *ptable_find (const ptable_t *self, const void *key, size_t size);

//  Adds item, whose key must not be in the table yet. Returns 0, or -1
//  when out of memory or item's pointer uses its top 16 bits (then the
//  table is as before).
int ptable_insert (ptable_t *self, void *item);

//  Removes the item with this key and returns it, or NULL if none.
void *ptable_remove (ptable_t *self, const void *key, size_t size);

//  Iteration: start with *cursor = 0; returns the next item, or NULL at
//  the end.
void *ptable_next (const ptable_t *self, size_t *cursor);

//  The hash that places keys: 8 bytes a step (multiply, xorshift), FNV-1a
//  for the last few, MurmurHash3's fmix64 to finish. Not stable across
//  versions: never store it. Can't fail.
uint64_t ptable_hash (const void *key, size_t size);

#endif
