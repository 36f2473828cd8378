/*  data.c - reading fields from a msgpack map (shoal_data_t) and writing
    them into one (shoal_rec_t). See data.h. Field lookup is a linear scan
    of the map's keys: payloads are small.
*/
#include "data.h"
#include "envelope.h"
#include "mpread.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define DATA_ZONE_CHUNK 4096

typedef struct {
    msgpack_zone *zone; //  the thread's arena
    size_t users;       //  data objects open on it
} arena_t;

static pthread_key_t s_arena_key;
static pthread_once_t s_arena_once = PTHREAD_ONCE_INIT;

static void s_arena_free (void *arg)
{
    arena_t *arena = arg;
    msgpack_zone_free (arena->zone);
    free (arena);
}

static void s_arena_key_create (void)
{
    pthread_key_create (&s_arena_key, s_arena_free);
}

//  The calling thread's arena, made on first use; NULL if out of memory.
static arena_t *s_arena (void)
{
    pthread_once (&s_arena_once, s_arena_key_create);
    arena_t *arena = pthread_getspecific (s_arena_key);
    if (!arena) {
        arena = calloc (1, sizeof (arena_t));
        if (arena && !(arena->zone = msgpack_zone_new (DATA_ZONE_CHUNK))) {
            free (arena);
            arena = NULL;
        }
        if (arena)
            pthread_setspecific (s_arena_key, arena);
    }
    return arena;
}

#define REC_HEADER 5 //  0xdf + u32 count

int data_init (shoal_data_t *self, const uint8_t *bytes, size_t size)
{
    self->map = NULL;
    self->holds_zone = false;
    if (!bytes || size == 0)
        return 0;
    //  msgpack-c sizes a container by its header before reading it: bound
    //  the input first, so a lying header cannot ask for gigabytes.
    if (!mpread_is_map (bytes, size, ENVELOPE_MAX_DEPTH))
        return SHOAL_EFORMAT;
    arena_t *arena = s_arena ();
    if (!arena)
        return SHOAL_ENOMEM;
    arena->users++;
    self->holds_zone = true;
    size_t offset = 0;
    msgpack_unpack_return rc =
        msgpack_unpack ((const char *) bytes, size, &offset, arena->zone, &self->object);
    if (rc == MSGPACK_UNPACK_NOMEM_ERROR)
        return SHOAL_ENOMEM;
    if (rc != MSGPACK_UNPACK_SUCCESS || offset != size || self->object.type != MSGPACK_OBJECT_MAP)
        return SHOAL_EFORMAT;
    if (self->object.via.map.size > 0)
        self->map = &self->object;
    return 0;
}

void data_close (shoal_data_t *self)
{
    self->map = NULL;
    if (!self->holds_zone)
        return;
    self->holds_zone = false;
    arena_t *arena = pthread_getspecific (s_arena_key);
    if (arena && --arena->users == 0)
        msgpack_zone_clear (arena->zone);
}

static const msgpack_object *s_lookup (const shoal_data_t *self, const char *key)
{
    if (!self || !self->map || !key)
        return NULL;
    size_t key_len = strlen (key);
    const msgpack_object_map *map = &self->map->via.map;
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object *k = &map->ptr[i].key;
        //  msgpack-c leaves ptr NULL for an empty string: no memcmp then.
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == key_len &&
            (key_len == 0 || memcmp (k->via.str.ptr, key, key_len) == 0))
            return &map->ptr[i].val;
    }
    return NULL;
}

int shoal_data_int (const shoal_data_t *data, const char *key, int64_t *value)
{
    const msgpack_object *o = s_lookup (data, key);
    if (!o)
        return SHOAL_ENOTFOUND;
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *value = o->via.i64;
    else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
        *value = (int64_t) o->via.u64;
    else
        return SHOAL_ETYPE;
    return 0;
}

int shoal_data_bool (const shoal_data_t *data, const char *key, bool *value)
{
    const msgpack_object *o = s_lookup (data, key);
    if (!o)
        return SHOAL_ENOTFOUND;
    if (o->type != MSGPACK_OBJECT_BOOLEAN)
        return SHOAL_ETYPE;
    *value = o->via.boolean;
    return 0;
}

int shoal_data_str (const shoal_data_t *data, const char *key, char *buf, size_t size)
{
    const msgpack_object *o = s_lookup (data, key);
    if (!o)
        return SHOAL_ENOTFOUND;
    if (o->type != MSGPACK_OBJECT_STR)
        return SHOAL_ETYPE;
    if (o->via.str.size >= size)
        return SHOAL_ETOOBIG;
    if (o->via.str.size && memchr (o->via.str.ptr, 0, o->via.str.size))
        return SHOAL_EFORMAT;
    if (o->via.str.size)
        memcpy (buf, o->via.str.ptr, o->via.str.size);
    buf[o->via.str.size] = 0;
    return 0;
}

bool shoal_data_has (const shoal_data_t *data, const char *key)
{
    return s_lookup (data, key) != NULL;
}

//  --------------------------------------------------------------------------

void rec_init (shoal_rec_t *self)
{
    msgpack_sbuffer_init (&self->buffer);
    self->count = 0;
    self->error = 0;
}

void rec_reset (shoal_rec_t *self)
{
    self->buffer.size = 0;
    self->count = 0;
    self->error = 0;
}

void rec_close (shoal_rec_t *self)
{
    msgpack_sbuffer_destroy (&self->buffer);
    self->count = 0;
}

//  Starts a pair: writes the header first if the map is empty, then the
//  key. Returns a packer on the buffer, or false after an error.
static bool s_begin (shoal_rec_t *self, const char *key, msgpack_packer *pk)
{
    if (self->error)
        return false;
    if (!key) {
        self->error = SHOAL_EINVAL;
        return false;
    }
    if (self->buffer.size == 0) {
        static const char header[REC_HEADER] = {(char) 0xdf, 0, 0, 0, 0};
        if (msgpack_sbuffer_write (&self->buffer, header, REC_HEADER)) {
            self->error = SHOAL_ENOMEM;
            return false;
        }
    }
    msgpack_packer_init (pk, &self->buffer, msgpack_sbuffer_write);
    size_t len = strlen (key);
    if (msgpack_pack_str (pk, len) || msgpack_pack_str_body (pk, key, len)) {
        self->error = SHOAL_ENOMEM;
        return false;
    }
    self->count++;
    return true;
}

void shoal_rec_int (shoal_rec_t *rec, const char *key, int64_t value)
{
    msgpack_packer pk;
    if (rec && s_begin (rec, key, &pk) && msgpack_pack_int64 (&pk, value))
        rec->error = SHOAL_ENOMEM;
}

void shoal_rec_bool (shoal_rec_t *rec, const char *key, bool value)
{
    msgpack_packer pk;
    if (rec && s_begin (rec, key, &pk) &&
        (value ? msgpack_pack_true (&pk) : msgpack_pack_false (&pk)))
        rec->error = SHOAL_ENOMEM;
}

void shoal_rec_str (shoal_rec_t *rec, const char *key, const char *value)
{
    msgpack_packer pk;
    if (!rec)
        return;
    if (!value) {
        rec->error = SHOAL_EINVAL;
        return;
    }
    size_t len = strlen (value);
    if (s_begin (rec, key, &pk) &&
        (msgpack_pack_str (&pk, len) || msgpack_pack_str_body (&pk, value, len)))
        rec->error = SHOAL_ENOMEM;
}

void rec_raw (shoal_rec_t *self, const char *key, const uint8_t *value, size_t size)
{
    msgpack_packer pk;
    if (s_begin (self, key, &pk) &&
        msgpack_sbuffer_write (&self->buffer, (const char *) value, size))
        self->error = SHOAL_ENOMEM;
}

const uint8_t *rec_finish (shoal_rec_t *self, size_t *size)
{
    static const uint8_t empty_map[1] = {0x80};
    *size = 0;
    if (self->error)
        return NULL;
    if (self->buffer.size == 0) {
        *size = 1;
        return empty_map;
    }
    uint8_t *p = (uint8_t *) self->buffer.data;
    p[1] = (uint8_t) (self->count >> 24);
    p[2] = (uint8_t) (self->count >> 16);
    p[3] = (uint8_t) (self->count >> 8);
    p[4] = (uint8_t) self->count;
    *size = self->buffer.size;
    return p;
}
