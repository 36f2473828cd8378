/*  utf8.c - the check of UTF-8 text. See utf8.h.
 */
#include "utf8.h"

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
        size_t n = utf8_char (s + i, len - i);
        if (n == 0)
            break;
        i += n;
    }
    return i;
}
