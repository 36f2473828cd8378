/*  names.c - the checks of addresses ("type/id") and of command, event and
    timer names, shared by the envelope codec, the handler context and the
    command line. See shoal_base.h. Thread-safe: no state.
*/
#include "shoal_base.h"
#include "utf8.h"
#include <string.h>

//  Returns the length of the valid UTF-8 character at s (at most len bytes),
//  or 0 if it is invalid (see utf8.h) or a control character: NUL, C0,
//  DEL, or C1 (U+0080 to U+009F, "\xc2\x80" to "\xc2\x9f": U+0085 is a
//  line break, U+009B a terminal's CSI).
static size_t s_utf8_char (const uint8_t *s, size_t len)
{
    if (s[0] < 0x20 || s[0] == 0x7f || (s[0] == 0xc2 && len >= 2 && s[1] <= 0x9f))
        return 0;
    return utf8_char (s, len);
}

int shoal_address_check (const char *address, size_t len)
{
    if (!address || len < 3)
        return SHOAL_EADDRESS;
    const uint8_t *s = (const uint8_t *) address;
    if (s[0] < 'a' || s[0] > 'z')
        return SHOAL_EADDRESS;
    size_t slash = 1;
    while (slash < len && slash <= SHOAL_TYPE_MAX && s[slash] != '/') {
        uint8_t c = s[slash];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return SHOAL_EADDRESS;
        slash++;
    }
    if (slash > SHOAL_TYPE_MAX || slash == len || s[slash] != '/')
        return SHOAL_EADDRESS;
    size_t id_len = len - slash - 1;
    if (id_len == 0 || id_len > SHOAL_ID_MAX)
        return SHOAL_EADDRESS;
    for (size_t i = slash + 1; i < len;) {
        size_t n = s_utf8_char (s + i, len - i);
        if (n == 0)
            return SHOAL_EADDRESS;
        i += n;
    }
    return 0;
}

//  Returns true if name is 1..SHOAL_NAME_MAX bytes of printable ASCII.
int shoal_name_check (const char *name, size_t len)
{
    if (!name || len == 0 || len > SHOAL_NAME_MAX)
        return SHOAL_EINVAL;
    for (size_t i = 0; i < len; i++)
        if ((uint8_t) name[i] < 0x21 || (uint8_t) name[i] > 0x7e)
            return SHOAL_EINVAL;
    return 0;
}

bool shoal_address_is_projection (const char *address)
{
    size_t len = sizeof SHOAL_PROJECTION_SENDER - 1;
    return address && strncmp (address, SHOAL_PROJECTION_SENDER, len) == 0 && address[len] == '/' &&
           address[len + 1];
}
