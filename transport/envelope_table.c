/*  envelope_table.c - a czmq hash table keyed by message ids. Apart from
    envelope.c so that the codec links without czmq (the test kit, which
    has no sockets, takes envelope.c alone). See envelope.h.
*/
#include "envelope.h"
#include <string.h>

static size_t s_id_hash (const void *key)
{
    size_t hash;
    memcpy (&hash, key, sizeof hash);
    return hash;
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
