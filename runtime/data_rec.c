/*  data_rec.c - writing fields into a msgpack map (shoal_rec_t). See
    data.h; reading them is data.c. Nested maps and arrays are written
    with 32-bit headers patched when they end, to SHOAL_DATA_DEPTH. A key
    that is not UTF-8 is misuse, and so is a key written twice into one
    map of a rec, found as it is written:
    among a rec's first REC_SCAN_KEYS keys each is compared with those
    before it, past them a hash table of the rec's keys finds it, O(1) a
    key whatever the rec holds (a 3-key event costs a few ns more to
    write). A map copied whole (shoal_rec_data, rec_raw) is not looked
    into.
*/
#include "data.h"
#include "utf8.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define REC_HEADER 5       //  0xdf + u32 count
#define REC_SCAN_KEYS 8    //  keys compared one by one at most; past them, a hash table
#define REC_KEYS_KEPT 4096 //  keys a reset keeps room for, at most

void rec_init (shoal_rec_t *self)
{
    msgpack_sbuffer_init (&self->buffer);
    self->keys = NULL;
    self->table = NULL;
    self->key_max = self->table_size = self->table_max = 0;
    rec_reset (self);
}

void rec_reset (shoal_rec_t *self)
{
    self->buffer.size = 0;
    self->count = 0;
    self->error = 0;
    self->failed = 0;
    self->misuse = NULL;
    self->open = 0;
    self->maps = 0;
    self->key_count = 0;
    self->table_keys = 0;
    self->sealed = false;
    self->late = 0;
    self->late_sink = NULL;
    if (self->key_max > REC_KEYS_KEPT) { //  a rec of many keys does not keep their room
        free (self->keys);
        free (self->table);
        self->keys = NULL;
        self->table = NULL;
        self->key_max = self->table_size = self->table_max = 0;
    }
}

void rec_close (shoal_rec_t *self)
{
    msgpack_sbuffer_destroy (&self->buffer);
    self->count = 0;
    free (self->keys);
    free (self->table);
    self->keys = NULL;
    self->table = NULL;
    self->key_count = self->key_max = self->table_size = self->table_max = self->table_keys = 0;
}

//  What a misuse was, for the reason of the turn or apply it fails: the
//  text of rec_misuse.
#define REC_MISUSED "a field written wrongly with shoal_rec_*: "
#define REC_DEPTH_TEXT s_text (SHOAL_DATA_DEPTH)
#define s_text(x) s_text_of (x)
#define s_text_of(x) #x

//  Records the first failure, and what it was (static text; NULL for out
//  of memory); error follows it.
static void s_fail (shoal_rec_t *self, int rc, const char *what)
{
    if (!self->failed) {
        self->failed = rc;
        self->misuse = what;
    }
    self->error = self->failed;
}

//  True if rec takes no more writes: a failure, or its seal (then the
//  write is counted: rec_written_late).
static bool s_refuses (shoal_rec_t *rec)
{
    if (!rec->failed)
        return false;
    if (rec->sealed) {
        rec->late++;
        if (rec->late_sink)
            (*rec->late_sink)++;
    }
    return true;
}

void rec_seal (shoal_rec_t *self, uint32_t *late_sink)
{
    s_fail (self, SHOAL_EINVAL, REC_MISUSED "a write after its rec was closed");
    self->sealed = true;
    self->late_sink = late_sink;
}

void rec_swap_memory (shoal_rec_t *a, shoal_rec_t *b)
{
    msgpack_sbuffer buffer = a->buffer;
    a->buffer = b->buffer;
    b->buffer = buffer;
    rec_key_t *keys = a->keys;
    a->keys = b->keys;
    b->keys = keys;
    uint32_t *table = a->table;
    a->table = b->table;
    b->table = table;
    uint32_t key_max = a->key_max, table_max = a->table_max;
    a->key_max = b->key_max, a->table_max = b->table_max;
    b->key_max = key_max, b->table_max = table_max;
}

void rec_release (shoal_rec_t *self)
{
    msgpack_sbuffer_destroy (&self->buffer);
    msgpack_sbuffer_init (&self->buffer);
    free (self->keys);
    free (self->table);
    self->keys = NULL;
    self->table = NULL;
    self->key_count = self->key_max = self->table_size = self->table_max = self->table_keys = 0;
}

bool rec_written_late (const shoal_rec_t *self)
{
    return self->sealed && self->late > 0;
}

const char *rec_misuse (const shoal_rec_t *self)
{
    if (self->failed)
        return self->misuse;
    return self->error ? REC_MISUSED "a map or array begun and not ended" : NULL;
}

#define MISUSE_ONCE_MAX 256

bool rec_misuse_once (const void *owner, const char *what)
{
    static _Atomic (uintptr_t) seen[MISUSE_ONCE_MAX][2]; //  (owner, what) pairs, 0 for free
    uintptr_t pair[2] = {(uintptr_t) owner, (uintptr_t) what};
    for (size_t i = 0; i < MISUSE_ONCE_MAX; i++) {
        uintptr_t expected = 0;
        //  A slot is taken by its owner first, then its what: a slot whose
        //  what is still 0 is being filled; wait it out.
        if (atomic_compare_exchange_strong (&seen[i][0], &expected, pair[0])) {
            atomic_store (&seen[i][1], pair[1]);
            return true;
        }
        uintptr_t other;
        while ((other = atomic_load (&seen[i][1])) == 0)
            ;
        if (expected == pair[0] && other == pair[1])
            return false;
    }
    return false;
}

//  A hash of key, of len bytes, from its length and its first and last 8
//  bytes: O(1) whatever its length (keys equal there are compared whole).
static uint32_t s_key_hash (const char *key, size_t len)
{
    uint64_t head = 0, tail = 0;
    uint32_t first, last;
    if (len >= 8) { //  fixed sizes: loads, not calls
        memcpy (&head, key, 8);
        memcpy (&tail, key + len - 8, 8);
    } else if (len >= 4) {
        memcpy (&first, key, 4);
        memcpy (&last, key + len - 4, 4);
        head = (uint64_t) last << 32 | first;
    } else
        for (size_t i = 0; i < len; i++)
            head |= (uint64_t) (uint8_t) key[i] << 8 * i;
    uint64_t hash = head * 0x9e3779b97f4a7c15ull ^ tail * 0xc2b2ae3d27d4eb4full ^ len;
    return (uint32_t) (hash ^ hash >> 32);
}

static bool s_same_key (const shoal_rec_t *self, const rec_key_t *x, uint64_t id, const char *key,
                        uint32_t len)
{
    return x->id == id && x->len == len && memcmp (self->buffer.data + x->offset, key, len) == 0;
}

//  The slot of id's chain in the table (table_size, a power of two).
static uint32_t s_slot (const shoal_rec_t *self, uint64_t id)
{
    return (uint32_t) ((id ^ id >> 29) * 0x9e3779b97f4a7c15ull >> 32) & (self->table_size - 1);
}

//  Makes the hash table hold keys[0..key_count), with room for one more
//  at half load: kept from the last call while it has room, else made
//  again. Returns false out of memory.
static bool s_table_ready (shoal_rec_t *self)
{
    if (self->table_keys == self->key_count && 2 * (self->key_count + 1) <= self->table_size)
        return true;
    uint32_t size = 2 * REC_SCAN_KEYS; //  the least that fits: the room kept may be more
    while (2 * (self->key_count + 1) > size)
        size *= 2;
    if (size > self->table_max) {
        uint32_t *grown = realloc (self->table, size * sizeof (uint32_t));
        if (!grown)
            return false;
        self->table = grown;
        self->table_max = size;
    }
    self->table_size = size;
    memset (self->table, 0xff, size * sizeof (uint32_t)); //  UINT32_MAX: empty
    for (uint32_t i = 0; i < self->key_count; i++) {
        uint32_t slot = s_slot (self, self->keys[i].id);
        while (self->table[slot] != UINT32_MAX)
            slot = (slot + 1) & (size - 1);
        self->table[slot] = i;
    }
    self->table_keys = self->key_count;
    return true;
}

//  Fails the rec for key, of len bytes, written twice into one map; names
//  it when it is short and printable.
static void s_fail_twice (shoal_rec_t *self, const char *key, size_t len)
{
    bool printable = len <= 40;
    for (size_t i = 0; printable && i < len; i++)
        printable = (unsigned char) key[i] >= 0x20 && (unsigned char) key[i] <= 0x7e;
    if (printable)
        snprintf (self->twice, sizeof self->twice,
                  REC_MISUSED "the key '%.*s' written twice in one map", (int) len, key);
    else
        snprintf (self->twice, sizeof self->twice, REC_MISUSED "a key written twice in one map");
    s_fail (self, SHOAL_EINVAL, self->twice);
}

//  Keeps key, of len bytes, written into map at offset in the buffer;
//  fails the rec if that map has it already. Among a few keys each is
//  compared; past them, a hash table finds it: O(1) a key. Returns false
//  after failing the rec.
static bool s_key_add (shoal_rec_t *self, uint32_t map, const char *key, size_t offset, size_t len)
{
    if (offset + len > UINT32_MAX) {
        s_fail (self, SHOAL_ETOOBIG, REC_MISUSED "more than 4 GiB");
        return false;
    }
    uint64_t id = (uint64_t) map << 32 | s_key_hash (key, len);
    bool twice = false;
    uint32_t slot = 0;
    if (self->key_count < REC_SCAN_KEYS) {
        for (uint32_t i = 0; !twice && i < self->key_count; i++)
            twice = s_same_key (self, &self->keys[i], id, key, (uint32_t) len);
    } else if (!s_table_ready (self)) {
        s_fail (self, SHOAL_ENOMEM, NULL);
        return false;
    } else {
        for (slot = s_slot (self, id); !twice && self->table[slot] != UINT32_MAX;
             slot = (slot + 1) & (self->table_size - 1))
            twice = s_same_key (self, &self->keys[self->table[slot]], id, key, (uint32_t) len);
    }
    if (twice) {
        s_fail_twice (self, key, len);
        return false;
    }
    if (self->key_count == self->key_max) {
        uint32_t max = self->key_max ? 2 * self->key_max : REC_SCAN_KEYS;
        rec_key_t *grown = realloc (self->keys, max * sizeof (rec_key_t));
        if (!grown) {
            s_fail (self, SHOAL_ENOMEM, NULL);
            return false;
        }
        self->keys = grown;
        self->key_max = max;
    }
    if (self->key_count >= REC_SCAN_KEYS) { //  the table has room: s_table_ready
        self->table[slot] = self->key_count;
        self->table_keys++;
    }
    self->keys[self->key_count++] =
        (rec_key_t){.id = id, .offset = (uint32_t) offset, .len = (uint32_t) len};
    return true;
}

//  Starts a value: writes the top map's header first if the rec is empty,
//  then the key (inside a map) and counts it in its container. Sets up a
//  packer on the buffer. Returns false after an error.
static bool s_begin (shoal_rec_t *self, const char *key, msgpack_packer *pk)
{
    if (s_refuses (self))
        return false;
    rec_open_t *inner = self->open ? &self->stack[self->open - 1] : NULL;
    bool in_array = inner && inner->is_array;
    if (in_array ? key != NULL : key == NULL) {
        s_fail (self, SHOAL_EINVAL,
                in_array ? REC_MISUSED "a key inside an array (its values take NULL)"
                         : REC_MISUSED "a NULL key inside a map");
        return false;
    }
    if (self->buffer.size == 0) {
        static const char header[REC_HEADER] = {(char) 0xdf, 0, 0, 0, 0};
        if (msgpack_sbuffer_write (&self->buffer, header, REC_HEADER)) {
            s_fail (self, SHOAL_ENOMEM, NULL);
            return false;
        }
    }
    msgpack_packer_init (pk, &self->buffer, msgpack_sbuffer_write);
    if (!in_array) {
        size_t len = strlen (key);
        //  Two keys that differ only in bytes that are not UTF-8 would
        //  print as one (each such byte is U+FFFD in JSON), and a reader of
        //  that JSON would keep one of the two fields.
        if (utf8_valid_prefix (key, len) != len) {
            s_fail (self, SHOAL_EINVAL, REC_MISUSED "a key that is not UTF-8");
            return false;
        }
        if (msgpack_pack_str (pk, len)) {
            s_fail (self, SHOAL_ENOMEM, NULL);
            return false;
        }
        size_t at = self->buffer.size;
        if (!s_key_add (self, inner ? inner->map : 0, key, at, len))
            return false;
        if (msgpack_pack_str_body (pk, key, len)) {
            s_fail (self, SHOAL_ENOMEM, NULL);
            return false;
        }
    }
    if (inner)
        inner->count++;
    else
        self->count++;
    return true;
}

//  Fails the rec out of memory if a pack call failed (rc non-zero).
static void s_packed (shoal_rec_t *self, int rc)
{
    if (rc)
        s_fail (self, SHOAL_ENOMEM, NULL);
}

void shoal_rec_int (shoal_rec_t *rec, const char *key, int64_t value)
{
    msgpack_packer pk;
    if (rec && s_begin (rec, key, &pk))
        s_packed (rec, msgpack_pack_int64 (&pk, value));
}

void shoal_rec_bool (shoal_rec_t *rec, const char *key, bool value)
{
    msgpack_packer pk;
    if (rec && s_begin (rec, key, &pk))
        s_packed (rec, value ? msgpack_pack_true (&pk) : msgpack_pack_false (&pk));
}

void shoal_rec_str (shoal_rec_t *rec, const char *key, const char *value)
{
    msgpack_packer pk;
    if (!rec)
        return;
    if (!value) {
        s_fail (rec, SHOAL_EINVAL, REC_MISUSED "a NULL string");
        return;
    }
    size_t len = strlen (value);
    if (s_begin (rec, key, &pk))
        s_packed (rec, msgpack_pack_str (&pk, len) || msgpack_pack_str_body (&pk, value, len));
}

void shoal_rec_double (shoal_rec_t *rec, const char *key, double value)
{
    msgpack_packer pk;
    if (rec && s_begin (rec, key, &pk))
        s_packed (rec, msgpack_pack_double (&pk, value));
}

void shoal_rec_bytes (shoal_rec_t *rec, const char *key, const void *ptr, size_t size)
{
    msgpack_packer pk;
    if (!rec)
        return;
    if ((!ptr && size) || size > UINT32_MAX) {
        s_fail (rec, SHOAL_EINVAL, REC_MISUSED "NULL bytes of a size not 0, or more than 4 GiB");
        return;
    }
    if (s_begin (rec, key, &pk))
        s_packed (rec, msgpack_pack_bin (&pk, size) || msgpack_pack_bin_body (&pk, ptr, size));
}

void shoal_rec_nil (shoal_rec_t *rec, const char *key)
{
    msgpack_packer pk;
    if (rec && s_begin (rec, key, &pk))
        s_packed (rec, msgpack_pack_nil (&pk));
}

//  Opens a map or an array as the value of key, with a 32-bit header
//  whose count is patched when it ends.
static void s_open (shoal_rec_t *rec, const char *key, bool is_array)
{
    msgpack_packer pk;
    if (!rec || s_refuses (rec))
        return;
    if (rec->open + 1 >= SHOAL_DATA_DEPTH) {
        s_fail (rec, SHOAL_ETOOBIG,
                REC_MISUSED "maps and arrays nested deeper than " REC_DEPTH_TEXT);
        return;
    }
    if (!s_begin (rec, key, &pk))
        return;
    const char header[REC_HEADER] = {(char) (is_array ? 0xdd : 0xdf), 0, 0, 0, 0};
    size_t at = rec->buffer.size;
    if (msgpack_sbuffer_write (&rec->buffer, header, REC_HEADER)) {
        s_fail (rec, SHOAL_ENOMEM, NULL);
        return;
    }
    rec->stack[rec->open++] = (rec_open_t){
        .header = at, .count = 0, .map = is_array ? 0 : ++rec->maps, .is_array = is_array};
    rec->error = SHOAL_EINVAL;
}

//  Writes a count as the 4 bytes after the header byte at p.
static void s_patch (uint8_t *p, uint32_t count)
{
    p[1] = (uint8_t) (count >> 24);
    p[2] = (uint8_t) (count >> 16);
    p[3] = (uint8_t) (count >> 8);
    p[4] = (uint8_t) count;
}

//  Closes the innermost container, which must be an array (is_array) or
//  a map.
static void s_close (shoal_rec_t *rec, bool is_array)
{
    if (!rec || s_refuses (rec))
        return;
    if (rec->open == 0 || rec->stack[rec->open - 1].is_array != is_array) {
        s_fail (rec, SHOAL_EINVAL,
                rec->open ? REC_MISUSED "an end of the other kind (a map's for an array, or the "
                                        "reverse)"
                          : REC_MISUSED "an end without its begin");
        return;
    }
    rec_open_t *inner = &rec->stack[--rec->open];
    s_patch ((uint8_t *) rec->buffer.data + inner->header, inner->count);
    rec->error = rec->open ? SHOAL_EINVAL : 0;
}

void shoal_rec_map_begin (shoal_rec_t *rec, const char *key)
{
    s_open (rec, key, false);
}

void shoal_rec_map_end (shoal_rec_t *rec)
{
    s_close (rec, false);
}

void shoal_rec_array_begin (shoal_rec_t *rec, const char *key)
{
    s_open (rec, key, true);
}

void shoal_rec_array_end (shoal_rec_t *rec)
{
    s_close (rec, true);
}

//  The nesting of o: 0 for a scalar, 1 + its deepest element's for a
//  container. o was parsed no deeper than SHOAL_DATA_DEPTH: the recursion
//  is bounded.
static int s_depth (const msgpack_object *o)
{
    int deepest = 0;
    if (o->type == MSGPACK_OBJECT_ARRAY)
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            int d = s_depth (&o->via.array.ptr[i]);
            deepest = d > deepest ? d : deepest;
        }
    else if (o->type == MSGPACK_OBJECT_MAP)
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            int d = s_depth (&o->via.map.ptr[i].val);
            deepest = d > deepest ? d : deepest;
        }
    else
        return 0;
    return 1 + deepest;
}

void shoal_rec_data (shoal_rec_t *rec, const char *key, const shoal_data_t *data)
{
    static const msgpack_object empty = {.type = MSGPACK_OBJECT_MAP};
    const msgpack_object *o = (const msgpack_object *) data;
    if (!o || o->type != MSGPACK_OBJECT_MAP)
        o = &empty;
    msgpack_packer pk;
    if (!rec || s_refuses (rec))
        return;
    if (1 + rec->open + s_depth (o) > SHOAL_DATA_DEPTH) {
        s_fail (rec, SHOAL_ETOOBIG,
                REC_MISUSED "maps and arrays nested deeper than " REC_DEPTH_TEXT);
        return;
    }
    if (s_begin (rec, key, &pk))
        s_packed (rec, msgpack_pack_object (&pk, *o));
}

void rec_raw (shoal_rec_t *self, const char *key, const uint8_t *value, size_t size)
{
    msgpack_packer pk;
    if (s_begin (self, key, &pk))
        s_packed (self, msgpack_sbuffer_write (&self->buffer, (const char *) value, size));
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
    s_patch (p, self->count);
    *size = self->buffer.size;
    return p;
}
