/*  json.h - msgpack printed as JSON, as the `shoal` commands print
    replies: part of the client library (shoal_client). Strings are
    escaped, and a byte that is not valid UTF-8 is written as U+FFFD;
    nil is null; a float is the shortest text that reads back as
    the same double, always with a fraction or exponent (12.0), and null
    if it is not finite; bin is printed as {"$bytes": "standard base64"},
    the form `shoal send key:=JSON` reads back as bytes; a map key that is
    not a string is printed as "?". Writes to a FILE of the caller's; no
    state.
*/
#ifndef JSON_H_INCLUDED
#define JSON_H_INCLUDED

#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>

//  Writes one msgpack object as JSON. Returns 0 or SHOAL_EFORMAT.
int json_write (FILE *file, const uint8_t *data, size_t size);
//  Writes an unpacked msgpack object as JSON. This function can't fail.
void json_object (FILE *file, const msgpack_object *o);
//  Writes a JSON string literal (quoted, escaped, each invalid UTF-8 byte
//  as U+FFFD).
void json_string (FILE *file, const char *text, size_t len);

#endif
