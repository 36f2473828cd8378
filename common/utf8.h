/*  utf8.h - the check of UTF-8 text, shared by the names of shoal.h, the
    command line's fields and the JSON printer, and the quoting of text
    that may not be UTF-8 in a message. Strict UTF-8 (RFC 3629):
    no overlong forms, no surrogates, nothing past U+10FFFF. NUL and the
    control characters are valid here; callers that refuse them say so.
    Thread-safe: no state.
*/
#ifndef SHOAL_UTF8_H_INCLUDED
#define SHOAL_UTF8_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Returns the length (1 to 4) of the valid UTF-8 character at s, of which
//  len > 0 bytes are readable, or 0 if the bytes there are not one.
size_t utf8_char (const uint8_t *s, size_t len);

//  Returns the offset of the first byte of text that does not start a
//  valid UTF-8 character, or len if all of text is valid.
size_t utf8_valid_prefix (const char *text, size_t len);

//  Makes the len bytes of text valid UTF-8 in place, for a message that
//  leaves the node holding bytes someone else wrote, or cut at a fixed
//  size: the first bytes of a character cut short at the end (what
//  snprintf leaves when it cuts one) are dropped, and each other byte that
//  does not start a valid UTF-8 character becomes '?'. Writes a NUL at the
//  new end: text must hold len + 1 bytes. Returns the new length (len, or
//  1 to 3 less). Can't fail.
size_t utf8_scrub (char *text, size_t len);

//  Makes text (NUL-terminated) safe to print on a terminal as it is: each
//  control byte (below 0x20, and DEL) and each byte that starts no valid
//  UTF-8 character (a lone 0x9b is an 8-bit terminal's CSI) becomes '?',
//  and each C1 control (U+0080 to U+009F, two bytes) "??", so that a
//  string someone else wrote moves no cursor and sets no colour; newlines
//  stay if lines. Returns text.
char *utf8_plain (char *text, bool lines);

#define UTF8_QUOTE_MIN 8 //  the least room utf8_quote takes

//  Writes text (len bytes, NULs included) into out (size bytes, at least
//  UTF8_QUOTE_MIN) between two quote characters, escaped so that it reads
//  as one line whatever its bytes: valid printable UTF-8 as it is; the
//  quote and '\' after a '\'; \n, \r, \t, and \u00XX for the other
//  control characters, NUL and DEL (JSON's escapes), the same \u and
//  four hex digits for the C1 ones (U+0080 to U+009F) and U+2028, U+2029;
//  \xNN for each byte
//  that does not start a valid UTF-8 character. What does not fit ends in
//  "..." before the closing quote, cut between characters. For an error
//  message that names a key or value someone else wrote. Returns out.
char *utf8_quote (char *out, size_t size, const char *text, size_t len, char quote);

#endif
