/*  client_maps.c - a request's id from an operator's text, and the
    reading of a reply's msgpack maps (map_*, reply_state_*). See
    client.h. Nothing here holds a socket.
*/

#include "client.h"

#include <czmq.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

void client_id_from_string (const char *text, uint8_t id[ENVELOPE_ID_SIZE])
{
    size_t len = strlen (text);
    bool hex = len == 2 * ENVELOPE_ID_SIZE, zero = true;
    for (size_t i = 0; hex && i < len; i++) {
        hex = strchr ("0123456789abcdefABCDEF", text[i]) != NULL;
        zero = zero && text[i] == '0';
    }
    hex = hex && !zero; //  16 zero bytes read as nil, which a node refuses: hashed
    if (hex) {
        for (size_t i = 0; i < ENVELOPE_ID_SIZE; i++) {
            char byte[3] = {text[2 * i], text[2 * i + 1], 0};
            id[i] = (uint8_t) strtoul (byte, NULL, 16);
        }
        return;
    }
    zdigest_t *digest = zdigest_new ();
    zdigest_update (digest, (const byte *) text, len);
    memcpy (id, zdigest_data (digest), ENVELOPE_ID_SIZE);
    zdigest_destroy (&digest);
}

void client_id_hex (const uint8_t id[ENVELOPE_ID_SIZE], char hex[2 * ENVELOPE_ID_SIZE + 1])
{
    for (size_t i = 0; i < ENVELOPE_ID_SIZE; i++)
        sprintf (hex + 2 * i, "%02x", id[i]);
}

const msgpack_object *map_unpack (msgpack_unpacked *unpacked, const uint8_t *data, size_t size)
{
    size_t offset = 0;
    if (envelope_check_msgpack (data, size) != 0 ||
        msgpack_unpack_next (unpacked, (const char *) data, size, &offset) !=
            MSGPACK_UNPACK_SUCCESS ||
        unpacked->data.type != MSGPACK_OBJECT_MAP)
        return NULL;
    return &unpacked->data;
}

const msgpack_object *map_find (const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t key_len = strlen (key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == key_len &&
            memcmp (kv->key.via.str.ptr, key, key_len) == 0)
            return &kv->val;
    }
    return NULL;
}

int map_find_int (const msgpack_object *map, const char *key, int64_t *value)
{
    const msgpack_object *o = map_find (map, key);
    if (o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) {
        *value = (int64_t) o->via.u64;
        return 0;
    }
    if (o && o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *value = o->via.i64;
        return 0;
    }
    return SHOAL_ENOTFOUND;
}

int map_find_str (const msgpack_object *map, const char *key, char *buf, size_t buf_size)
{
    const msgpack_object *o = map_find (map, key);
    if (!o || o->type != MSGPACK_OBJECT_STR || o->via.str.size >= buf_size)
        return SHOAL_ENOTFOUND;
    memcpy (buf, o->via.str.ptr, o->via.str.size);
    buf[o->via.str.size] = 0;
    return 0;
}

int map_int (const uint8_t *data, size_t size, const char *key, int64_t *value)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    int rc = map_find_int (map_unpack (&unpacked, data, size), key, value);
    msgpack_unpacked_destroy (&unpacked);
    return rc;
}

int map_str (const uint8_t *data, size_t size, const char *key, char *buf, size_t buf_size)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    int rc = map_find_str (map_unpack (&unpacked, data, size), key, buf, buf_size);
    msgpack_unpacked_destroy (&unpacked);
    return rc;
}

int reply_state_int (const client_reply_t *reply, const char *key, int64_t *value)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *state =
        map_find (map_unpack (&unpacked, reply->data, reply->size), "state");
    int rc = map_find_int (state, key, value);
    msgpack_unpacked_destroy (&unpacked);
    return rc;
}

int reply_state_str (const client_reply_t *reply, const char *key, char *buf, size_t size)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *state =
        map_find (map_unpack (&unpacked, reply->data, reply->size), "state");
    int rc = map_find_str (state, key, buf, size);
    msgpack_unpacked_destroy (&unpacked);
    return rc;
}
