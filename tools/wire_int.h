/*  wire_int.h - sums and differences of integers that came from a node's
    reply, for the client commands. A node (or whatever answers on its
    endpoint) may send any int64: "now" 2^63-1 and "first_sent" -2^63 are
    valid msgpack, and their difference overflows, which is undefined (the
    sanitizer build aborts). These saturate at the int64 (or uint64)
    bounds instead: an impossible value prints as a huge one, never as a
    crash or a wrapped sign. Internal to tools/; these functions can't fail.
*/
#ifndef WIRE_INT_H_INCLUDED
#define WIRE_INT_H_INCLUDED

#include <stdint.h>

//  a + b, saturated at INT64_MIN and INT64_MAX.
static inline int64_t wire_add (int64_t a, int64_t b)
{
    int64_t sum;
    if (__builtin_add_overflow (a, b, &sum))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return sum;
}

//  a - b, saturated at INT64_MIN and INT64_MAX.
static inline int64_t wire_sub (int64_t a, int64_t b)
{
    int64_t difference;
    if (__builtin_sub_overflow (a, b, &difference))
        return b < 0 ? INT64_MAX : INT64_MIN;
    return difference;
}

//  a + b, saturated at UINT64_MAX (unsigned sums wrap: defined, but wrong).
static inline uint64_t wire_uadd (uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

//  a as an int64, INT64_MAX if it is past it.
static inline int64_t wire_int64 (uint64_t a)
{
    return a > (uint64_t) INT64_MAX ? INT64_MAX : (int64_t) a;
}

#endif
