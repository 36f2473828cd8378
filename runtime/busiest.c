/*  busiest.c - a worker's busiest actors, the space-saving sketch. See
    busiest.h. Runs on its worker's thread.
*/
#include "busiest.h"

#include <stdlib.h>
#include <string.h>

void busiest_reset (busiest_t *self, int64_t now)
{
    self->used = 0;
    self->since = now;
}

void busiest_count (busiest_t *self, const char *address)
{
    uint32_t hash = 2166136261u, length = 0;
    while (address[length] && length < SHOAL_ADDRESS_MAX) {
        hash = (hash ^ (uint8_t) address[length]) * 16777619u;
        length++;
    }
    busiest_entry_t *least = NULL;
    for (int i = 0; i < self->used; i++) {
        busiest_entry_t *entry = &self->entries[i];
        if (entry->hash == hash && entry->length == length &&
            memcmp (entry->address, address, length) == 0) {
            entry->count++;
            return;
        }
        if (!least || entry->count < least->count)
            least = entry;
    }
    busiest_entry_t *entry = least;
    uint64_t inherited = 0;
    if (self->used < BUSIEST_K)
        entry = &self->entries[self->used++];
    else
        inherited = least->count;
    entry->hash = hash;
    entry->length = length;
    entry->count = inherited + 1;
    entry->error = inherited;
    memcpy (entry->address, address, length);
    entry->address[length] = 0;
}

static int s_by_count (const void *a, const void *b)
{
    const busiest_entry_t *x = a, *y = b;
    uint64_t at_least_x = x->count - x->error, at_least_y = y->count - y->error;
    return at_least_x < at_least_y ? 1 : at_least_x > at_least_y ? -1 : 0;
}

static void s_pack_str (msgpack_packer *pk, const char *text, size_t length)
{
    msgpack_pack_str_with_body (pk, text, length);
}

void busiest_take (busiest_t *self, int64_t now, msgpack_packer *pk)
{
    qsort (self->entries, (size_t) self->used, sizeof self->entries[0], s_by_count);
    int64_t interval = now > self->since ? now - self->since : 0;
    msgpack_pack_array (pk, (size_t) self->used);
    for (int i = 0; i < self->used; i++) {
        const busiest_entry_t *entry = &self->entries[i];
        msgpack_pack_map (pk, 4);
        s_pack_str (pk, "address", 7);
        s_pack_str (pk, entry->address, entry->length);
        s_pack_str (pk, "messages", 8);
        msgpack_pack_uint64 (pk, entry->count);
        s_pack_str (pk, "error", 5);
        msgpack_pack_uint64 (pk, entry->error);
        s_pack_str (pk, "interval_ms", 11);
        msgpack_pack_int64 (pk, interval);
    }
    busiest_reset (self, now);
}
