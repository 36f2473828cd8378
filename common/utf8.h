/*  utf8.h - the check of UTF-8 text, shared by the names of shoal.h, the
    command line's fields and the JSON printer. Strict UTF-8 (RFC 3629):
    no overlong forms, no surrogates, nothing past U+10FFFF. NUL and the
    control characters are valid here; callers that refuse them say so.
    Thread-safe: no state.
*/
#ifndef SHOAL_UTF8_H_INCLUDED
#define SHOAL_UTF8_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

//  Returns the length (1 to 4) of the valid UTF-8 character at s, of which
//  len > 0 bytes are readable, or 0 if the bytes there are not one.
size_t utf8_char (const uint8_t *s, size_t len);

//  Returns the offset of the first byte of text that does not start a
//  valid UTF-8 character, or len if all of text is valid.
size_t utf8_valid_prefix (const char *text, size_t len);

#endif
