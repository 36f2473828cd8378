/*  vmap.c - a map from a name to a 64-bit number, entries carved from
    chunks. See vmap.h.

    An entry is its number, its name's length and the name with its NUL,
    padded to 8 bytes. A chunk holds VMAP_CHUNK_BYTES of entries; a name
    too long for one gets a chunk of its own size. vmap_clear rewinds to
    the first chunk and keeps them all, so that a map filled to the same
    size again allocates nothing.
*/
#include "vmap.h"

#include <stdlib.h>
#include <string.h>

#define VMAP_CHUNK_BYTES 65536

typedef struct {
    int64_t value;   //  the number kept
    uint16_t length; //  of name, without its NUL
    char name[];     //  NUL-terminated
} vmap_entry_t;

struct _vmap_chunk_t {
    vmap_chunk_t *next; //  the next chunk, or NULL
    size_t size;        //  bytes of data
    size_t used;        //  of them, carved
    max_align_t data[]; //  the entries
};

static const void *s_key (const void *item, size_t *size)
{
    const vmap_entry_t *entry = item;
    *size = entry->length;
    return entry->name;
}

void vmap_init (vmap_t *self)
{
    *self = (vmap_t){.chunks = NULL};
    ptable_init (&self->index, s_key);
}

void vmap_close (vmap_t *self)
{
    ptable_close (&self->index);
    free (self->order);
    self->order = NULL;
    self->order_cap = 0;
    while (self->chunks) {
        vmap_chunk_t *next = self->chunks->next;
        free (self->chunks);
        self->chunks = next;
    }
    self->last = NULL;
}

void vmap_clear (vmap_t *self)
{
    ptable_clear (&self->index);
    for (vmap_chunk_t *chunk = self->chunks; chunk; chunk = chunk->next)
        chunk->used = 0;
    self->last = self->chunks;
}

size_t vmap_count (const vmap_t *self)
{
    return self->index.count;
}

size_t vmap_bytes (const vmap_t *self)
{
    size_t bytes = self->index.capacity * sizeof (uint64_t) + self->order_cap * sizeof (void *);
    for (const vmap_chunk_t *chunk = self->chunks; chunk; chunk = chunk->next)
        bytes += chunk->size;
    return bytes;
}

int64_t *vmap_find (const vmap_t *self, const char *name)
{
    vmap_entry_t *entry = ptable_find (&self->index, name, strlen (name));
    return entry ? &entry->value : NULL;
}

//  Room for size bytes (a multiple of 8) from the chunks, or NULL when
//  out of memory.
static void *s_carve (vmap_t *self, size_t size)
{
    vmap_chunk_t *chunk = self->last;
    //  Past a full chunk to the next kept one, else a new one.
    while (chunk && chunk->used + size > chunk->size) {
        if (!chunk->next)
            break;
        chunk = chunk->next;
    }
    if (!chunk || chunk->used + size > chunk->size) {
        size_t bytes = size > VMAP_CHUNK_BYTES ? size : VMAP_CHUNK_BYTES;
        vmap_chunk_t *fresh = malloc (sizeof (vmap_chunk_t) + bytes);
        if (!fresh)
            return NULL;
        *fresh = (vmap_chunk_t){.size = bytes};
        if (chunk) { //  the last one: the new one goes after it
            fresh->next = chunk->next;
            chunk->next = fresh;
        } else
            self->chunks = fresh;
        chunk = fresh;
    }
    self->last = chunk;
    void *room = (char *) chunk->data + chunk->used;
    chunk->used += size;
    return room;
}

void *vmap_alloc (vmap_t *self, size_t size)
{
    //  Entries are padded to 8 bytes only: skip to the next aligned byte
    //  (the chunk's data is aligned), or to the chunk's end.
    size_t align = _Alignof(max_align_t);
    vmap_chunk_t *last = self->last;
    if (last) {
        size_t aligned = (last->used + align - 1) / align * align;
        last->used = aligned < last->size ? aligned : last->size;
    }
    return s_carve (self, (size + align - 1) / align * align);
}

int64_t *vmap_put (vmap_t *self, const char *name, int64_t value)
{
    size_t length = strlen (name);
    vmap_entry_t *entry = ptable_find (&self->index, name, length);
    if (entry) {
        entry->value = value;
        return &entry->value;
    }
    if (length > VMAP_NAME_MAX)
        return NULL;
    size_t size = (sizeof (vmap_entry_t) + length + 1 + 7) & ~(size_t) 7;
    if (!(entry = s_carve (self, size)))
        return NULL;
    entry->value = value;
    entry->length = (uint16_t) length;
    memcpy (entry->name, name, length + 1);
    size_t count = self->index.count;
    if (count == self->order_cap) {
        size_t cap = self->order_cap ? self->order_cap * 2 : 64;
        void **grown = realloc (self->order, cap * sizeof (void *));
        if (!grown) {
            self->last->used -= size; //  the room carved last, given back
            return NULL;
        }
        self->order = grown;
        self->order_cap = cap;
    }
    if (ptable_insert (&self->index, entry) != 0) {
        self->last->used -= size;
        return NULL;
    }
    self->order[count] = entry;
    return &entry->value;
}

int64_t *vmap_next (const vmap_t *self, size_t *cursor, const char **name)
{
    if (*cursor >= self->index.count)
        return NULL;
    vmap_entry_t *entry = self->order[(*cursor)++];
    *name = entry->name;
    return &entry->value;
}
