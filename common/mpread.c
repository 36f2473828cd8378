/*  mpread.c - the bounds-checked msgpack reader. See mpread.h.

    s_next decodes one element from its first byte, one switch case per
    format: the fixed forms (fixint, fixmap, fixarray, fixstr) directly,
    the others from a big-endian header of 1 to 8 bytes. Every other
    reader is built on it, and mpread_skip inlines it, as skipping a
    payload is the hot path (once per envelope; a client's request has its
    strings checked in that same walk, mpread_map_span_utf8). Case ranges
    (a GNU C extension, as the build allows) keep the switch one screen
    long. Nothing here allocates or recurses.
*/
#include "mpread.h"
#include "utf8.h"
#include <assert.h>
#include <string.h>

//  Reads the n-byte (1, 2, 4 or 8) big-endian header at *at into *value,
//  if the left bytes hold it, and moves past it.
static inline int s_header (const uint8_t *data, size_t *at, size_t *left, int n, uint64_t *value)
{
    if (*left < (size_t) n)
        return SHOAL_EFORMAT;
    const uint8_t *p = data + *at;
    if (n == 1)
        *value = p[0];
    else if (n == 2)
        *value = (uint64_t) p[0] << 8 | p[1];
    else if (n == 4)
        *value = (uint64_t) p[0] << 24 | (uint64_t) p[1] << 16 | (uint64_t) p[2] << 8 | p[3];
    else
        *value = (uint64_t) p[0] << 56 | (uint64_t) p[1] << 48 | (uint64_t) p[2] << 40 |
                 (uint64_t) p[3] << 32 | (uint64_t) p[4] << 24 | (uint64_t) p[5] << 16 |
                 (uint64_t) p[6] << 8 | p[7];
    *at += n;
    *left -= n;
    return 0;
}

//  Sets item's bytes, a body of len bytes at *at, if the left bytes hold
//  it, and moves past them.
static inline int s_body (const uint8_t *data, size_t *at, size_t left, uint64_t len,
                          mpread_item_t *item)
{
    if (len > left)
        return SHOAL_EFORMAT;
    item->data = data + *at;
    item->len = (size_t) len;
    *at += (size_t) len;
    return 0;
}

//  Reads a str or bin body whose length is an n-byte header.
static inline int s_sized (const uint8_t *data, size_t *at, size_t left, int n, mpread_item_t *item)
{
    uint64_t len;
    if (s_header (data, at, &left, n, &len))
        return SHOAL_EFORMAT;
    return s_body (data, at, left, len, item);
}

//  Reads an ext's type byte and its len-byte body.
static inline int s_ext (const uint8_t *data, size_t *at, size_t left, uint64_t len,
                         mpread_item_t *item)
{
    if (left < 1)
        return SHOAL_EFORMAT;
    item->kind = MPREAD_EXT;
    item->ext_type = (int8_t) data[(*at)++];
    return s_body (data, at, left - 1, len, item);
}

//  Sets a container's count, which must fit in the left bytes at one
//  byte an element, or two a pair.
static inline int s_count (mpread_kind_t kind, uint64_t count, size_t left, mpread_item_t *item)
{
    if (count > (kind == MPREAD_MAP ? left / 2 : left))
        return SHOAL_EFORMAT;
    item->kind = kind;
    item->count = count;
    return 0;
}

//  Reads a float 32 or 64 (n bytes).
static inline int s_float (const uint8_t *data, size_t *at, size_t left, int n, mpread_item_t *item)
{
    uint64_t bits;
    if (s_header (data, at, &left, n, &bits))
        return SHOAL_EFORMAT;
    item->kind = MPREAD_FLOAT;
    if (n == 4) {
        uint32_t bits32 = (uint32_t) bits;
        float f;
        memcpy (&f, &bits32, sizeof f);
        item->value.f = f;
    } else
        memcpy (&item->value.f, &bits, sizeof item->value.f);
    return 0;
}

//  Reads the n-byte value of a uint (signed false) or int 8..64 format.
static inline int s_integer (const uint8_t *data, size_t *at, size_t left, int n, bool is_signed,
                             mpread_item_t *item)
{
    uint64_t value;
    if (s_header (data, at, &left, n, &value))
        return SHOAL_EFORMAT;
    if (is_signed && n < 8 && (value >> (8 * n - 1)))
        value |= ~(uint64_t) 0 << (8 * n);
    if (is_signed && (int64_t) value < 0) {
        item->kind = MPREAD_INT;
        item->value.i = (int64_t) value;
    } else {
        item->kind = MPREAD_UINT;
        item->value.u = value;
    }
    return 0;
}

//  Reads an array 16/32 or map 16/32 header of n bytes.
static inline int s_container (const uint8_t *data, size_t *at, size_t left, int n,
                               mpread_kind_t kind, mpread_item_t *item)
{
    uint64_t count;
    if (s_header (data, at, &left, n, &count))
        return SHOAL_EFORMAT;
    return s_count (kind, count, left, item);
}

//  The work of mpread_next: one case per format, as the spec lists them.
//  Inlined into mpread_next and into mpread_skip's loop; the typed readers
//  call mpread_next.
static inline __attribute__ ((always_inline)) int s_next (const uint8_t *data, size_t size,
                                                          size_t *offset, mpread_item_t *item)
{
    size_t at = *offset;
    if (at >= size)
        return SHOAL_EFORMAT;
    uint8_t byte = data[at++];
    size_t left = size - at;
    int rc = 0;
    switch (byte) {
    case 0x00 ... 0x7f:
        item->kind = MPREAD_UINT;
        item->value.u = byte;
        break;
    case 0x80 ... 0x8f:
        rc = s_count (MPREAD_MAP, byte & 0x0f, left, item);
        break;
    case 0x90 ... 0x9f:
        rc = s_count (MPREAD_ARRAY, byte & 0x0f, left, item);
        break;
    case 0xa0 ... 0xbf:
        item->kind = MPREAD_STR;
        rc = s_body (data, &at, left, byte & 0x1f, item);
        break;
    case 0xc0:
        item->kind = MPREAD_NIL;
        break;
    case 0xc2:
    case 0xc3:
        item->kind = MPREAD_BOOL;
        item->value.b = byte & 1;
        break;
    case 0xc4 ... 0xc6:
        item->kind = MPREAD_BIN;
        rc = s_sized (data, &at, left, 1 << (byte - 0xc4), item);
        break;
    case 0xc7 ... 0xc9: {
        uint64_t len;
        rc = s_header (data, &at, &left, 1 << (byte - 0xc7), &len);
        rc = rc ? rc : s_ext (data, &at, left, len, item);
        break;
    }
    case 0xca:
    case 0xcb:
        rc = s_float (data, &at, left, byte == 0xca ? 4 : 8, item);
        break;
    case 0xcc ... 0xcf:
        rc = s_integer (data, &at, left, 1 << (byte - 0xcc), false, item);
        break;
    case 0xd0 ... 0xd3:
        rc = s_integer (data, &at, left, 1 << (byte - 0xd0), true, item);
        break;
    case 0xd4 ... 0xd8:
        rc = s_ext (data, &at, left, 1u << (byte - 0xd4), item);
        break;
    case 0xd9 ... 0xdb:
        item->kind = MPREAD_STR;
        rc = s_sized (data, &at, left, 1 << (byte - 0xd9), item);
        break;
    case 0xdc:
    case 0xdd:
        rc = s_container (data, &at, left, byte == 0xdc ? 2 : 4, MPREAD_ARRAY, item);
        break;
    case 0xde:
    case 0xdf:
        rc = s_container (data, &at, left, byte == 0xde ? 2 : 4, MPREAD_MAP, item);
        break;
    case 0xe0 ... 0xff:
        item->kind = MPREAD_INT;
        item->value.i = (int8_t) byte;
        break;
    default: //  0xc1, never used
        return SHOAL_EFORMAT;
    }
    if (rc)
        return rc;
    *offset = at;
    return 0;
}

int mpread_next (const uint8_t *data, size_t size, size_t *offset, mpread_item_t *item)
{
    assert (offset && item);
    return s_next (data, size, offset, item);
}

//  The work of mpread_skip and, with utf8, of mpread_map_span_utf8, which
//  also reads each str's bytes (utf8_valid_prefix) and stops at the first
//  that is not UTF-8: SHOAL_EINVAL, its offset in *bad. Inlined into each
//  with utf8 a constant, so mpread_skip's loop has no test of it.
static inline __attribute__ ((always_inline)) int
s_walk (const uint8_t *data, size_t size, size_t *offset, int max_depth, bool utf8, size_t *bad)
{
    assert (offset);
    assert (max_depth >= MPREAD_DEPTH_ANY && max_depth <= MPREAD_DEPTH_MAX);
    //  A container is done when pending falls back to what it was before
    //  its elements were added: that is all the open stack keeps.
    uint64_t done_at[MPREAD_DEPTH_MAX]; //  per open container, innermost last
    uint64_t top = UINT64_MAX;          //  done_at of the innermost, or never
    int depth = 0;                      //  open containers; counted only under a limit
    uint64_t pending = 1;               //  elements left to read, at every depth
    size_t at = *offset;
    while (pending > 0) {
        mpread_item_t item;
        size_t start = at;
        if (s_next (data, size, &at, &item))
            return SHOAL_EFORMAT;
        if (utf8 && item.kind == MPREAD_STR &&
            utf8_valid_prefix ((const char *) item.data, item.len) != item.len) {
            *bad = start;
            return SHOAL_EINVAL;
        }
        pending--;
        if (item.kind == MPREAD_ARRAY || item.kind == MPREAD_MAP) {
            uint64_t elements = item.kind == MPREAD_MAP ? 2 * item.count : item.count;
            //  Every pending element takes at least one byte.
            if (pending + elements > size - at)
                return SHOAL_EFORMAT;
            if (max_depth != MPREAD_DEPTH_ANY) {
                if (depth >= max_depth)
                    return SHOAL_EFORMAT;
                if (elements > 0)
                    top = done_at[depth++] = pending;
            }
            pending += elements;
        }
        while (pending == top) {
            depth--;
            top = depth > 0 ? done_at[depth - 1] : UINT64_MAX;
        }
    }
    *offset = at;
    return 0;
}

int mpread_skip (const uint8_t *data, size_t size, size_t *offset, int max_depth)
{
    return s_walk (data, size, offset, max_depth, false, NULL);
}

int mpread_check (const uint8_t *data, size_t size, int max_depth)
{
    size_t offset = 0;
    if (!data || mpread_skip (data, size, &offset, max_depth) || offset != size)
        return SHOAL_EFORMAT;
    return 0;
}

bool mpread_is_map (const uint8_t *data, size_t size, int max_depth)
{
    const uint8_t *map;
    size_t len, offset = 0;
    return data && mpread_map_span (data, size, &offset, max_depth, &map, &len) == 0 &&
           offset == size;
}

//  Reads the element at *offset, which must be of kind; advances only then.
static inline int s_expect (const uint8_t *data, size_t size, size_t *offset, mpread_kind_t kind,
                            mpread_item_t *item)
{
    size_t at = *offset;
    if (mpread_next (data, size, &at, item) || item->kind != kind)
        return SHOAL_EFORMAT;
    *offset = at;
    return 0;
}

//  Reads an array or map header (kind) and its count.
static int s_read_count (const uint8_t *data, size_t size, size_t *offset, mpread_kind_t kind,
                         uint64_t *count)
{
    mpread_item_t item;
    if (s_expect (data, size, offset, kind, &item))
        return SHOAL_EFORMAT;
    *count = item.count;
    return 0;
}

int mpread_array (const uint8_t *data, size_t size, size_t *offset, uint64_t *count)
{
    return s_read_count (data, size, offset, MPREAD_ARRAY, count);
}

int mpread_map (const uint8_t *data, size_t size, size_t *offset, uint64_t *pairs)
{
    return s_read_count (data, size, offset, MPREAD_MAP, pairs);
}

//  The work of mpread_map_span and mpread_map_span_utf8 (utf8, bad: see
//  s_walk).
static inline __attribute__ ((always_inline)) int s_map_span (const uint8_t *data, size_t size,
                                                              size_t *offset, int max_depth,
                                                              const uint8_t **map, size_t *len,
                                                              bool utf8, size_t *bad)
{
    size_t start = *offset, at = start;
    if (at >= size)
        return SHOAL_EFORMAT;
    uint8_t byte = data[at];
    if (!((byte >= 0x80 && byte <= 0x8f) || byte == 0xde || byte == 0xdf))
        return SHOAL_EFORMAT;
    int rc = s_walk (data, size, &at, max_depth, utf8, bad);
    if (rc)
        return rc;
    *map = data + start;
    *len = at - start;
    *offset = at;
    return 0;
}

int mpread_map_span (const uint8_t *data, size_t size, size_t *offset, int max_depth,
                     const uint8_t **map, size_t *len)
{
    return s_map_span (data, size, offset, max_depth, map, len, false, NULL);
}

int mpread_map_span_utf8 (const uint8_t *data, size_t size, size_t *offset, int max_depth,
                          const uint8_t **map, size_t *len, size_t *bad)
{
    assert (bad);
    return s_map_span (data, size, offset, max_depth, map, len, true, bad);
}

int mpread_uint (const uint8_t *data, size_t size, size_t *offset, uint64_t max, uint64_t *value)
{
    size_t at = *offset;
    mpread_item_t item;
    if (s_expect (data, size, &at, MPREAD_UINT, &item) || item.value.u > max)
        return SHOAL_EFORMAT;
    *value = item.value.u;
    *offset = at;
    return 0;
}

int mpread_int (const uint8_t *data, size_t size, size_t *offset, int64_t min, int64_t max,
                int64_t *value)
{
    size_t at = *offset;
    mpread_item_t item;
    if (mpread_next (data, size, &at, &item))
        return SHOAL_EFORMAT;
    int64_t result;
    if (item.kind == MPREAD_UINT && item.value.u <= INT64_MAX)
        result = (int64_t) item.value.u;
    else if (item.kind == MPREAD_INT)
        result = item.value.i;
    else
        return SHOAL_EFORMAT;
    if (result < min || result > max)
        return SHOAL_EFORMAT;
    *value = result;
    *offset = at;
    return 0;
}

int mpread_bool (const uint8_t *data, size_t size, size_t *offset, bool *value)
{
    mpread_item_t item;
    if (s_expect (data, size, offset, MPREAD_BOOL, &item))
        return SHOAL_EFORMAT;
    *value = item.value.b;
    return 0;
}

//  Reads a str or bin (kind) and points at its bytes.
static int s_read_bytes (const uint8_t *data, size_t size, size_t *offset, mpread_kind_t kind,
                         const uint8_t **bytes, size_t *len)
{
    mpread_item_t item;
    if (s_expect (data, size, offset, kind, &item))
        return SHOAL_EFORMAT;
    *bytes = item.data;
    *len = item.len;
    return 0;
}

int mpread_str (const uint8_t *data, size_t size, size_t *offset, const uint8_t **bytes,
                size_t *len)
{
    return s_read_bytes (data, size, offset, MPREAD_STR, bytes, len);
}

int mpread_bin (const uint8_t *data, size_t size, size_t *offset, const uint8_t **bytes,
                size_t *len)
{
    return s_read_bytes (data, size, offset, MPREAD_BIN, bytes, len);
}
