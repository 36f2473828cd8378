/*  data.c - reading fields from a msgpack map (shoal_data_t). See data.h;
    writing them (shoal_rec_t) is data_rec.c. Field lookup is a linear
    scan of the map's keys: payloads are small. Nested maps and arrays are
    read in place (views are the parsed msgpack objects themselves), to
    SHOAL_DATA_DEPTH.
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

static int s_init (shoal_data_t *self, const uint8_t *bytes, size_t size, bool own)
{
    self->object.type = MSGPACK_OBJECT_NIL;
    self->map = NULL;
    self->holds_zone = false;
    if (!bytes || size == 0)
        return 0;
    //  msgpack-c sizes a container by its header before reading it: bound
    //  the input first, so a lying header cannot ask for gigabytes.
    if (!own && !mpread_is_map (bytes, size, SHOAL_DATA_DEPTH))
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

int data_init (shoal_data_t *self, const uint8_t *bytes, size_t size)
{
    return s_init (self, bytes, size, false);
}

int data_init_own (shoal_data_t *self, const uint8_t *bytes, size_t size)
{
    return s_init (self, bytes, size, true);
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

//  The map object a data view points at, or NULL (see data.h).
static const msgpack_object *s_map (const shoal_data_t *data)
{
    const msgpack_object *o = (const msgpack_object *) data;
    return o && o->type == MSGPACK_OBJECT_MAP && o->via.map.size > 0 ? o : NULL;
}

static const msgpack_object *s_lookup (const shoal_data_t *self, const char *key)
{
    const msgpack_object *object = s_map (self);
    if (!object || !key)
        return NULL;
    size_t key_len = strlen (key);
    const msgpack_object_map *map = &object->via.map;
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object *k = &map->ptr[i].key;
        //  msgpack-c leaves ptr NULL for an empty string: no memcmp then.
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == key_len &&
            (key_len == 0 || memcmp (k->via.str.ptr, key, key_len) == 0))
            return &map->ptr[i].val;
    }
    return NULL;
}

//  The value at index of an array view, or NULL.
static const msgpack_object *s_at (const shoal_array_t *array, size_t index)
{
    const msgpack_object *o = (const msgpack_object *) array;
    if (!o || o->type != MSGPACK_OBJECT_ARRAY || index >= o->via.array.size)
        return NULL;
    return &o->via.array.ptr[index];
}

//  The typed readers, over one value (NULL: absent), for both fields and
//  array elements. A NULL out pointer (a module's mistake) is SHOAL_EINVAL,
//  whatever the value: never a write through it.

static shoal_field_t s_type (const msgpack_object *o)
{
    if (!o)
        return SHOAL_FIELD_ABSENT;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return SHOAL_FIELD_NIL;
    case MSGPACK_OBJECT_BOOLEAN:
        return SHOAL_FIELD_BOOL;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return SHOAL_FIELD_INT;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return o->via.u64 <= INT64_MAX ? SHOAL_FIELD_INT : SHOAL_FIELD_OTHER;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return SHOAL_FIELD_DOUBLE;
    case MSGPACK_OBJECT_STR:
        return SHOAL_FIELD_STR;
    case MSGPACK_OBJECT_BIN:
        return SHOAL_FIELD_BYTES;
    case MSGPACK_OBJECT_ARRAY:
        return SHOAL_FIELD_ARRAY;
    case MSGPACK_OBJECT_MAP:
        return SHOAL_FIELD_MAP;
    default:
        return SHOAL_FIELD_OTHER;
    }
}

static int s_int (const msgpack_object *o, int64_t *value)
{
    if (!value)
        return SHOAL_EINVAL;
    if (!o)
        return SHOAL_ENOTFOUND;
    if (s_type (o) != SHOAL_FIELD_INT)
        return SHOAL_ETYPE;
    *value = o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? o->via.i64 : (int64_t) o->via.u64;
    return 0;
}

static int s_bool (const msgpack_object *o, bool *value)
{
    if (!value)
        return SHOAL_EINVAL;
    if (!o)
        return SHOAL_ENOTFOUND;
    if (o->type != MSGPACK_OBJECT_BOOLEAN)
        return SHOAL_ETYPE;
    *value = o->via.boolean;
    return 0;
}

static int s_str (const msgpack_object *o, char *buf, size_t size)
{
    if (!buf && size)
        return SHOAL_EINVAL;
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

static int s_double (const msgpack_object *o, double *value)
{
    if (!value)
        return SHOAL_EINVAL;
    if (!o)
        return SHOAL_ENOTFOUND;
    if (o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64)
        *value = o->via.f64;
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *value = (double) o->via.i64;
    else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        *value = (double) o->via.u64;
    else
        return SHOAL_ETYPE;
    return 0;
}

static int s_bytes (const msgpack_object *o, const uint8_t **ptr, size_t *size)
{
    static const uint8_t none[1];
    if (!ptr || !size)
        return SHOAL_EINVAL;
    if (!o)
        return SHOAL_ENOTFOUND;
    if (o->type != MSGPACK_OBJECT_BIN)
        return SHOAL_ETYPE;
    //  msgpack-c leaves ptr NULL for empty bytes: give a valid pointer.
    *ptr = o->via.bin.size ? (const uint8_t *) o->via.bin.ptr : none;
    *size = o->via.bin.size;
    return 0;
}

static int s_nested_map (const msgpack_object *o, const shoal_data_t **map)
{
    if (!map)
        return SHOAL_EINVAL;
    if (!o)
        return SHOAL_ENOTFOUND;
    if (o->type != MSGPACK_OBJECT_MAP)
        return SHOAL_ETYPE;
    *map = (const shoal_data_t *) o;
    return 0;
}

static int s_nested_array (const msgpack_object *o, const shoal_array_t **array)
{
    if (!array)
        return SHOAL_EINVAL;
    if (!o)
        return SHOAL_ENOTFOUND;
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return SHOAL_ETYPE;
    *array = (const shoal_array_t *) o;
    return 0;
}

int shoal_data_int (const shoal_data_t *data, const char *key, int64_t *value)
{
    return s_int (s_lookup (data, key), value);
}

int shoal_data_bool (const shoal_data_t *data, const char *key, bool *value)
{
    return s_bool (s_lookup (data, key), value);
}

int shoal_data_str (const shoal_data_t *data, const char *key, char *buf, size_t size)
{
    return s_str (s_lookup (data, key), buf, size);
}

int shoal_data_double (const shoal_data_t *data, const char *key, double *value)
{
    return s_double (s_lookup (data, key), value);
}

int shoal_data_bytes (const shoal_data_t *data, const char *key, const uint8_t **ptr, size_t *size)
{
    return s_bytes (s_lookup (data, key), ptr, size);
}

int shoal_data_map (const shoal_data_t *data, const char *key, const shoal_data_t **map)
{
    return s_nested_map (s_lookup (data, key), map);
}

int shoal_data_array (const shoal_data_t *data, const char *key, const shoal_array_t **array)
{
    return s_nested_array (s_lookup (data, key), array);
}

bool shoal_data_has (const shoal_data_t *data, const char *key)
{
    return s_lookup (data, key) != NULL;
}

shoal_field_t shoal_data_type (const shoal_data_t *data, const char *key)
{
    return s_type (s_lookup (data, key));
}

size_t shoal_data_count (const shoal_data_t *data)
{
    const msgpack_object *map = s_map (data);
    return map ? map->via.map.size : 0;
}

size_t shoal_array_size (const shoal_array_t *array)
{
    const msgpack_object *o = (const msgpack_object *) array;
    return o && o->type == MSGPACK_OBJECT_ARRAY ? o->via.array.size : 0;
}

shoal_field_t shoal_array_type (const shoal_array_t *array, size_t index)
{
    return s_type (s_at (array, index));
}

int shoal_array_int (const shoal_array_t *array, size_t index, int64_t *value)
{
    return s_int (s_at (array, index), value);
}

int shoal_array_bool (const shoal_array_t *array, size_t index, bool *value)
{
    return s_bool (s_at (array, index), value);
}

int shoal_array_str (const shoal_array_t *array, size_t index, char *buf, size_t size)
{
    return s_str (s_at (array, index), buf, size);
}

int shoal_array_double (const shoal_array_t *array, size_t index, double *value)
{
    return s_double (s_at (array, index), value);
}

int shoal_array_bytes (const shoal_array_t *array, size_t index, const uint8_t **ptr, size_t *size)
{
    return s_bytes (s_at (array, index), ptr, size);
}

int shoal_array_map (const shoal_array_t *array, size_t index, const shoal_data_t **map)
{
    return s_nested_map (s_at (array, index), map);
}

int shoal_array_array (const shoal_array_t *array, size_t index, const shoal_array_t **inner)
{
    return s_nested_array (s_at (array, index), inner);
}
