/*  utf8.c - the check of UTF-8 text. See utf8.h.
 */
#include "utf8.h"

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

size_t utf8_char (const uint8_t *s, size_t len)
{
    uint8_t c = s[0];
    if (c < 0x80)
        return 1;
    size_t need;
    uint8_t low = 0x80, high = 0xbf; //  range of the second byte
    if (c >= 0xc2 && c <= 0xdf)
        need = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        if (c == 0xe0)
            low = 0xa0;
        else if (c == 0xed)
            high = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        if (c == 0xf0)
            low = 0x90;
        else if (c == 0xf4)
            high = 0x8f;
    } else
        return 0;
    if (len < need || s[1] < low || s[1] > high)
        return 0;
    for (size_t i = 2; i < need; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return need;
}

size_t utf8_valid_prefix (const char *text, size_t len)
{
    const uint8_t *s = (const uint8_t *) text;
    size_t i = 0;
    while (i < len) {
        //  ASCII 8 bytes at a time: most keys and values are ASCII, and a
        //  node checks every string of every client's request.
        while (len - i >= sizeof (uint64_t)) {
            uint64_t word;
            memcpy (&word, s + i, sizeof word);
            if (word & 0x8080808080808080ull)
                break;
            i += sizeof word;
        }
        if (i == len)
            break;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = utf8_char (s + i, len - i);
        if (n == 0)
            break;
        i += n;
    }
    return i;
}

//  True if the n bytes at s are the first bytes of a longer character: a
//  lead byte, then only continuation bytes.
static bool s_cut_short (const uint8_t *s, size_t n)
{
    size_t need = s[0] >= 0xc2 && s[0] <= 0xdf   ? 2
                  : s[0] >= 0xe0 && s[0] <= 0xef ? 3
                  : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4
                                                 : 0;
    if (n >= need)
        return false;
    for (size_t i = 1; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return false;
    return true;
}

size_t utf8_scrub (char *text, size_t len)
{
    uint8_t *s = (uint8_t *) text;
    size_t i = utf8_valid_prefix (text, len);
    while (i < len) {
        size_t n = utf8_char (s + i, len - i);
        if (n)
            i += n;
        else if (s_cut_short (s + i, len - i))
            len = i;
        else
            s[i++] = '?';
    }
    text[len] = 0;
    return len;
}

char *utf8_plain (char *text, bool lines)
{
    assert (text);
    uint8_t *s = (uint8_t *) text;
    size_t len = strlen (text);
    for (size_t i = 0; i < len;) {
        size_t n = s[i] < 0x80 ? 1 : utf8_char (s + i, len - i);
        if ((s[i] < 0x20 && !(lines && s[i] == '\n')) || s[i] == 0x7f || n == 0)
            n = 1, s[i] = '?'; //  a control byte, or one that starts no character (a lone CSI)
        else if (n == 2 && s[i] == 0xc2 && s[i + 1] <= 0x9f)
            s[i] = s[i + 1] = '?'; //  a C1 control
        i += n;
    }
    return text;
}

char *utf8_quote (char *out, size_t size, const char *text, size_t len, char quote)
{
    assert (out && size >= UTF8_QUOTE_MIN && (text || len == 0));
    const uint8_t *s = (const uint8_t *) text;
    size_t used = 0;
    out[used++] = quote;
    for (size_t i = 0; i < len;) {
        char escape[8];
        const char *piece = escape;
        size_t n = 1, piece_len = 2; //  bytes of text taken, bytes written
        escape[0] = '\\';
        if (s[i] == (uint8_t) quote || s[i] == '\\')
            escape[1] = (char) s[i];
        else if (s[i] == '\n' || s[i] == '\r' || s[i] == '\t')
            escape[1] = s[i] == '\n' ? 'n' : s[i] == '\r' ? 'r' : 't';
        else if (s[i] < 0x20 || s[i] == 0x7f)
            piece_len = (size_t) snprintf (escape, sizeof escape, "\\u%04x", s[i]);
        else if ((n = utf8_char (s + i, len - i)) == 0) {
            n = 1;
            piece_len = (size_t) snprintf (escape, sizeof escape, "\\x%02x", s[i]);
        } else {
            //  C1 controls (U+0080 to U+009F: NEL breaks a line) and the
            //  line and paragraph separators are escaped as C0 ones are:
            //  a quoted text stays one line for any reader.
            uint32_t code = n == 2   ? (uint32_t) (s[i] & 0x1f) << 6 | (s[i + 1] & 0x3f)
                            : n == 3 ? (uint32_t) (s[i] & 0x0f) << 12 |
                                           (uint32_t) (s[i + 1] & 0x3f) << 6 | (s[i + 2] & 0x3f)
                                     : 0;
            if ((n == 2 && code <= 0x9f) || (n == 3 && (code == 0x2028 || code == 0x2029)))
                piece_len = (size_t) snprintf (escape, sizeof escape, "\\u%04x", code);
            else {
                piece = text + i;
                piece_len = n;
            }
        }
        //  Room for this piece, then "...", the quote and the NUL if more follow.
        size_t after = i + n < len ? 5 : 2;
        if (used + piece_len + after > size) {
            memcpy (out + used, "...", 3);
            used += 3;
            break;
        }
        memcpy (out + used, piece, piece_len);
        used += piece_len;
        i += n;
    }
    out[used++] = quote;
    out[used] = 0;
    return out;
}
