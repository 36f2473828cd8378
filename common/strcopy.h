/*  strcopy.h - a bounded string copy for the hot paths, where snprintf
    (size, "%s", src) cost a format parse per call (1 to 1.5 % of a
    worker's samples under load).

    str_copy copies src into dst of size bytes (size >= 1), cut to
    size - 1 bytes like snprintf's, and always ends it with a NUL.
    Returns the length copied. Threads: a pure function.
*/
#ifndef STRCOPY_H_INCLUDED
#define STRCOPY_H_INCLUDED

#include <stddef.h>
#include <string.h>

static inline size_t str_copy (char *dst, size_t size, const char *src)
{
    size_t len = strnlen (src, size - 1);
    memcpy (dst, src, len);
    dst[len] = 0;
    return len;
}

#endif
