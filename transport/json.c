/*  json.c - msgpack printed as JSON. See json.h.
 */
#include "json.h"
#include "envelope.h"
#include "utf8.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Strings are UTF-8 (shoal.h), but one stored before the command line
//  checked, or sent by another client, may not be: each byte that does
//  not start a valid UTF-8 character is written as U+FFFD, so that every
//  line printed parses as JSON. The string printed then differs from the
//  bytes stored (docs/PROTOCOL.md says so).
void json_string (FILE *file, const char *text, size_t len)
{
    fputc ('"', file);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) text[i];
        if (c >= 0x80) {
            size_t n = utf8_char ((const uint8_t *) text + i, len - i);
            if (n == 0)
                fputs ("\xef\xbf\xbd", file);
            else
                fwrite (text + i, 1, n, file);
            i += n ? n - 1 : 0;
        } else if (c == '"' || c == '\\')
            fprintf (file, "\\%c", c);
        else if (c == '\n')
            fputs ("\\n", file);
        else if (c == '\t')
            fputs ("\\t", file);
        else if (c == '\r')
            fputs ("\\r", file);
        else if (c < 0x20 || c == 0x7f)
            fprintf (file, "\\u%04x", c);
        else
            fputc (c, file);
    }
    fputc ('"', file);
}

//  Writes a double as the shortest text that reads back as the same
//  double, with a fraction or an exponent so that it reads back as a
//  double, not an integer; null if it is not finite (JSON has no NaN).
static void s_double (FILE *file, double value)
{
    if (!isfinite (value)) {
        fputs ("null", file);
        return;
    }
    char text[32];
    snprintf (text, sizeof text, "%.15g", value);
    if (strtod (text, NULL) != value)
        snprintf (text, sizeof text, "%.17g", value);
    fputs (text, file);
    if (!strpbrk (text, ".eE"))
        fputs (".0", file);
}

//  Writes bytes as standard base64, padded.
static void s_base64 (FILE *file, const uint8_t *bytes, size_t size)
{
    static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < size; i += 3) {
        uint32_t group = (uint32_t) bytes[i] << 16;
        if (i + 1 < size)
            group |= (uint32_t) bytes[i + 1] << 8;
        if (i + 2 < size)
            group |= bytes[i + 2];
        fputc (digits[group >> 18], file);
        fputc (digits[(group >> 12) & 63], file);
        fputc (i + 1 < size ? digits[(group >> 6) & 63] : '=', file);
        fputc (i + 2 < size ? digits[group & 63] : '=', file);
    }
}

void json_object (FILE *file, const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        fputs ("null", file);
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        fputs (o->via.boolean ? "true" : "false", file);
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        fprintf (file, "%llu", (unsigned long long) o->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        fprintf (file, "%lld", (long long) o->via.i64);
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        s_double (file, o->via.f64);
        break;
    case MSGPACK_OBJECT_STR:
        json_string (file, o->via.str.ptr, o->via.str.size);
        break;
    case MSGPACK_OBJECT_BIN:
        fputs ("{\"$bytes\":\"", file);
        s_base64 (file, (const uint8_t *) o->via.bin.ptr, o->via.bin.size);
        fputs ("\"}", file);
        break;
    case MSGPACK_OBJECT_ARRAY:
        fputc ('[', file);
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            if (i)
                fputc (',', file);
            json_object (file, &o->via.array.ptr[i]);
        }
        fputc (']', file);
        break;
    case MSGPACK_OBJECT_MAP:
        fputc ('{', file);
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            if (i)
                fputc (',', file);
            const msgpack_object *key = &o->via.map.ptr[i].key;
            if (key->type == MSGPACK_OBJECT_STR)
                json_string (file, key->via.str.ptr, key->via.str.size);
            else {
                fputs ("\"?\"", file);
            }
            fputc (':', file);
            json_object (file, &o->via.map.ptr[i].val);
        }
        fputc ('}', file);
        break;
    default:
        fputs ("null", file);
    }
}

int json_write (FILE *file, const uint8_t *data, size_t size)
{
    if (envelope_check_msgpack (data, size) != 0)
        return SHOAL_EFORMAT;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    size_t offset = 0;
    int rc = SHOAL_EFORMAT;
    if (msgpack_unpack_next (&unpacked, (const char *) data, size, &offset) ==
        MSGPACK_UNPACK_SUCCESS) {
        json_object (file, &unpacked.data);
        rc = 0;
    }
    msgpack_unpacked_destroy (&unpacked);
    return rc;
}
