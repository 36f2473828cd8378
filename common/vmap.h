/*  vmap.h - a map from a name (a stream's address) to a 64-bit number (its
    version), whose entries live in chunks that the map owns.

    What a journal batch keeps of stream versions: those staged in the
    batch, emptied at every commit, and the committed ones it has seen, in
    generations dropped whole. So a map is only ever emptied whole
    (vmap_clear), never shrunk entry by entry: an entry is carved from a
    64 KiB chunk (no allocation per entry, no copy of the name beyond its
    own), indexed by a ptable, and the chunks are kept for the next use.
    Not thread-safe: one thread owns a map.
*/
#ifndef VMAP_H_INCLUDED
#define VMAP_H_INCLUDED

#include "ptable.h"

#include <stddef.h>
#include <stdint.h>

typedef struct _vmap_chunk_t vmap_chunk_t;

typedef struct {
    ptable_t index;       //  name -> entry (private)
    vmap_chunk_t *chunks; //  the first chunk, the others linked after it (private)
    vmap_chunk_t *last;   //  the chunk entries are carved from (private)
    void **order;         //  the entries in the order they were made (private)
    size_t order_cap;     //  room in order (private)
} vmap_t;

//  The longest name a map takes.
#define VMAP_NAME_MAX 65535

//  An empty map. Allocates nothing until the first put. Can't fail.
void vmap_init (vmap_t *self);

//  Frees everything; the map is empty again, still usable. Safe twice.
void vmap_close (vmap_t *self);

//  Empties the map, keeping its memory for the entries to come. Can't fail.
void vmap_clear (vmap_t *self);

//  Entries in the map. Can't fail.
size_t vmap_count (const vmap_t *self);

//  The memory the map holds, its entries' or kept for them, in bytes. Can't fail.
size_t vmap_bytes (const vmap_t *self);

//  The number kept for name, which it points to (valid until the map is
//  cleared or closed; the caller may change it), or NULL if none.
int64_t *vmap_find (const vmap_t *self, const char *name);

//  Keeps value for name: the entry's number becomes value if there is one,
//  else a new entry is made. Returns the number's address (as vmap_find),
//  or NULL when out of memory or name is longer than VMAP_NAME_MAX (then
//  the map is as before).
int64_t *vmap_put (vmap_t *self, const char *name, int64_t value);

//  size bytes of room for what the caller keeps as long as the entries
//  (until the map is cleared or closed), aligned for any type; a number
//  may hold its address. NULL when out of memory.
void *vmap_alloc (vmap_t *self, size_t size);

//  Iteration: start with *cursor = 0; returns the next entry's number and
//  sets *name to its name, or NULL at the end, in the order the entries
//  were made (so through the chunks' memory in order, not the table's
//  hash order: a walk the CPU prefetches). Nothing may be put while
//  iterating.
int64_t *vmap_next (const vmap_t *self, size_t *cursor, const char **name);

#endif
