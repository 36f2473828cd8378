/*  envelope_table.c - a czmq hash table keyed by message ids. Apart from
    envelope.c so that the codec links without czmq (the test kit, which
    has no sockets, takes envelope.c alone). See envelope.h.
*/
#include "envelope.h"
#include <string.h>

//  Both halves of the id, mixed: ids made by shoal are not all random. A
//  projection's reactions (runtime/view.c) share their first 8 bytes (the
//  projection's name) and differ in the last 8 (the event's position);
//  hashed on one half they would all fall in one chain, which zhashx
//  answers by growing the table on every insert until it cannot.
static size_t s_id_hash (const void *key)
{
    uint64_t head, tail;
    memcpy (&head, key, sizeof head);
    memcpy (&tail, (const uint8_t *) key + sizeof head, sizeof tail);
    return (size_t) (head ^ (tail * 0x9e3779b97f4a7c15ULL));
}

static int s_id_compare (const void *a, const void *b)
{
    return memcmp (a, b, ENVELOPE_ID_SIZE);
}

zhashx_t *envelope_id_table_new (zhashx_destructor_fn *destructor)
{
    zhashx_t *table = zhashx_new ();
    if (table) {
        zhashx_set_destructor (table, destructor);
        zhashx_set_key_hasher (table, s_id_hash);
        zhashx_set_key_comparator (table, s_id_compare);
        zhashx_set_key_destructor (table, NULL);
        zhashx_set_key_duplicator (table, NULL);
    }
    return table;
}
