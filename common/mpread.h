/*  mpread.h - a bounds-checked msgpack reader that allocates nothing.

    Shared by transport (envelopes) and persistence (journal records), which
    know nothing of each other. Conventions:

    1. Every reader takes the buffer (data, size) and an offset into it,
       reads one element there and advances the offset past what it read.
    2. It returns 0, or SHOAL_EFORMAT and leaves the offset alone. Input
       is never trusted and never asserted: a truncated, reserved (0xc1) or
       wrongly typed element is SHOAL_EFORMAT. (mpread_map_span_utf8 also
       returns SHOAL_EINVAL: a str that is not UTF-8.)
    3. Str, bin and ext bytes, and map spans, are pointers into data,
       borrowed for as long as data lives.
    4. A container's count is checked against the bytes left when its
       header is read: every element takes at least one byte.
    5. Depth counts containers, the element's own included: [[]] is 2 deep,
       a scalar 0. MPREAD_DEPTH_ANY lifts the limit.

    Pure functions over caller memory: safe on any thread.
*/
#ifndef MPREAD_H_INCLUDED
#define MPREAD_H_INCLUDED

#include "shoal_base.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MPREAD_DEPTH_MAX 64 //  the deepest limit a walk may be given
#define MPREAD_DEPTH_ANY -1 //  no depth limit (the walk is iterative)

typedef enum {
    MPREAD_NIL,
    MPREAD_BOOL,
    MPREAD_UINT,  //  any non-negative integer, whatever its encoding
    MPREAD_INT,   //  a negative integer
    MPREAD_FLOAT, //  float 32 or 64
    MPREAD_STR,
    MPREAD_BIN,
    MPREAD_EXT,
    MPREAD_ARRAY,
    MPREAD_MAP,
} mpread_kind_t;

//  One element as read by mpread_next. Only the fields of its kind are set.
typedef struct {
    mpread_kind_t kind;  //  what the element is
    int8_t ext_type;     //  EXT: the application's type
    uint64_t count;      //  ARRAY: elements; MAP: key-value pairs
    const uint8_t *data; //  STR, BIN, EXT: the bytes, inside the buffer
    size_t len;          //  STR, BIN, EXT: bytes at data
    union {
        bool b;     //  BOOL
        uint64_t u; //  UINT
        int64_t i;  //  INT (negative)
        double f;   //  FLOAT
    } value;
} mpread_item_t;

//  Reads the element at *offset into item: a scalar whole, a container's
//  header only (its elements follow at the new offset).
int mpread_next (const uint8_t *data, size_t size, size_t *offset, mpread_item_t *item);

//  Skips one whole element, no deeper than max_depth (at most
//  MPREAD_DEPTH_MAX, or MPREAD_DEPTH_ANY). Iterative: no recursion.
int mpread_skip (const uint8_t *data, size_t size, size_t *offset, int max_depth);

//  Returns 0 if data holds exactly one element no deeper than max_depth,
//  with no bytes after it, else SHOAL_EFORMAT (also for data NULL).
int mpread_check (const uint8_t *data, size_t size, int max_depth);

//  Returns true if data holds exactly one map no deeper than max_depth.
bool mpread_is_map (const uint8_t *data, size_t size, int max_depth);

//  Reads an array header: *count elements follow.
int mpread_array (const uint8_t *data, size_t size, size_t *offset, uint64_t *count);

//  Reads a map header: *pairs keys and values follow, alternating.
int mpread_map (const uint8_t *data, size_t size, size_t *offset, uint64_t *pairs);

//  Reads a whole map no deeper than max_depth and sets *map and *len to
//  its encoded bytes.
int mpread_map_span (const uint8_t *data, size_t size, size_t *offset, int max_depth,
                     const uint8_t **map, size_t *len);

//  The same, and every str inside it (a key or a value, at any depth) must
//  be UTF-8 (utf8.h), checked in the same walk: one more read of the
//  strings' bytes, nothing allocated. Returns SHOAL_EINVAL, with *bad the
//  offset of the first str that is not UTF-8, when the walk met one
//  before anything malformed (the map past it is then unread: the caller
//  that needs it located walks it again with mpread_map_span); else as
//  mpread_map_span.
int mpread_map_span_utf8 (const uint8_t *data, size_t size, size_t *offset, int max_depth,
                          const uint8_t **map, size_t *len, size_t *bad);

//  Reads a non-negative integer no greater than max.
int mpread_uint (const uint8_t *data, size_t size, size_t *offset, uint64_t max, uint64_t *value);

//  Reads an integer between min and max inclusive.
int mpread_int (const uint8_t *data, size_t size, size_t *offset, int64_t min, int64_t max,
                int64_t *value);

//  Reads a bool.
int mpread_bool (const uint8_t *data, size_t size, size_t *offset, bool *value);

//  Reads a str: *bytes points at its *len bytes (not terminated).
int mpread_str (const uint8_t *data, size_t size, size_t *offset, const uint8_t **bytes,
                size_t *len);

//  Reads a bin: *bytes points at its *len bytes.
int mpread_bin (const uint8_t *data, size_t size, size_t *offset, const uint8_t **bytes,
                size_t *len);

#endif
