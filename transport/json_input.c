/*  json_input.c - the fields of a request from a user's words: `key=value`
    and `key:=JSON` arguments and a JSON object (`shoal send --input`),
    packed as one msgpack map. See client_fields and client_payload in
    client.h.

    JSON is parsed by json-c (strict mode). A JSON value becomes msgpack's
    own: an integer an int (a uint past INT64_MAX; one past either is
    refused, as json-c would clamp it), a number with a
    fraction or an exponent a float 64 (one that is not finite, 1e400 or
    json-c's NaN and Infinity, is refused: JSON cannot print it back), null nil, an object whose
   only key is "$bytes" a bin of its base64 string (json.h prints bin that way), any other object a
   map. Nesting is held to SHOAL_DATA_DEPTH, the top map counting as 1, here rather than by the
   node, so that the user reads which field is too deep.

    This file does not include json.h: json-c names a type json_object,
    json.h a function. Pure functions: safe on any thread.
*/
#include "client.h"
#include "utf8.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define JSON_INPUT_DEPTH 64 //  json-c's own limit, above ours
#define QUOTED_MAX 80       //  bytes of a key or field quoted in an error (utf8_quote)

//  The value of one base64 digit, or -1.
static int s_base64_digit (char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

//  Decodes standard base64 (padded) of len characters into out, which
//  holds len / 4 * 3 bytes. Returns the bytes written, or -1 if text is
//  not base64.
static long s_base64_decode (const char *text, size_t len, uint8_t *out)
{
    if (len % 4)
        return -1;
    size_t written = 0;
    for (size_t i = 0; i < len; i += 4) {
        int pad = 0;
        uint32_t group = 0;
        for (size_t j = 0; j < 4; j++) {
            int digit = s_base64_digit (text[i + j]);
            if (text[i + j] == '=' && i + 4 == len && j >= 2 && (j == 3 || text[i + 3] == '=')) {
                pad++;
                digit = 0;
            } else if (digit < 0 || pad)
                return -1;
            group = group << 6 | (uint32_t) digit;
        }
        out[written++] = (uint8_t) (group >> 16);
        if (pad < 2)
            out[written++] = (uint8_t) (group >> 8);
        if (pad < 1)
            out[written++] = (uint8_t) group;
    }
    return (long) written;
}

//  The one string of an object {"$bytes": "..."}, or NULL.
static json_object *s_bytes_value (json_object *object)
{
    json_object *value;
    if (json_object_object_length (object) == 1 &&
        json_object_object_get_ex (object, "$bytes", &value) &&
        json_object_is_type (value, json_type_string))
        return value;
    return NULL;
}

typedef struct {
    msgpack_packer packer;
    const char *field;       //  the top-level key being packed
    char quoted[QUOTED_MAX]; //  field, quoted for errors ('owner')
    char *error;
    size_t error_size;
} s_packing_t;

//  Sets the top-level key being packed, and its quoted form for errors.
static void s_set_field (s_packing_t *self, const char *key)
{
    self->field = key;
    utf8_quote (self->quoted, sizeof self->quoted, key, strlen (key), '\'');
}

static int s_pack (s_packing_t *self, json_object *value, int depth);

//  Refuses text that is not UTF-8 (shoal.h: strings are UTF-8), raw in the
//  user's words or made by a JSON escape such as a lone \ud800. what says
//  which string of the field: NULL for its value, or "a key", or "the
//  name" for the field's own name. Returns 0 or SHOAL_EINVAL with *error.
static int s_check_utf8 (s_packing_t *self, const char *text, size_t len, const char *what)
{
    size_t valid = utf8_valid_prefix (text, len);
    if (valid == len)
        return 0;
    unsigned byte = (uint8_t) text[valid];
    char before[QUOTED_MAX];
    if (what && streq (what, "the name"))
        snprintf (self->error, self->error_size, "a field name is not UTF-8 (byte 0x%02x after %s)",
                  byte, utf8_quote (before, sizeof before, text, valid, '\''));
    else
        snprintf (self->error, self->error_size,
                  "field %s: %s is not UTF-8 (byte 0x%02x at offset %zu)", self->quoted,
                  what ? what : "the value", byte, valid);
    return SHOAL_EINVAL;
}

//  Packs a field's name or a key of a map, as a str, once it is UTF-8.
static int s_pack_key (s_packing_t *self, const char *key, const char *what)
{
    size_t len = strlen (key);
    int rc = s_check_utf8 (self, key, len, what);
    if (rc == 0)
        msgpack_pack_str_with_body (&self->packer, key, len);
    return rc;
}

//  Packs a JSON object as a map (or a bin, for {"$bytes": ...}).
static int s_pack_object (s_packing_t *self, json_object *object, int depth)
{
    msgpack_packer *pk = &self->packer;
    json_object *bytes = s_bytes_value (object);
    if (bytes) {
        size_t len = (size_t) json_object_get_string_len (bytes);
        uint8_t *buf = malloc (len / 4 * 3 + 1);
        long size = buf ? s_base64_decode (json_object_get_string (bytes), len, buf) : -1;
        if (size < 0) {
            snprintf (self->error, self->error_size,
                      "field %s: \"$bytes\" holds no standard base64", self->quoted);
            free (buf);
            return SHOAL_EINVAL;
        }
        msgpack_pack_bin (pk, (size_t) size);
        msgpack_pack_bin_body (pk, buf, (size_t) size);
        free (buf);
        return 0;
    }
    if (depth + 1 > SHOAL_DATA_DEPTH) {
        snprintf (self->error, self->error_size, "field %s: nesting deeper than %d", self->quoted,
                  SHOAL_DATA_DEPTH);
        return SHOAL_EINVAL;
    }
    msgpack_pack_map (pk, (size_t) json_object_object_length (object));
    json_object_object_foreach (object, key, member)
    {
        int rc = s_pack_key (self, key, "a key");
        if (rc == 0)
            rc = s_pack (self, member, depth + 1);
        if (rc)
            return rc;
    }
    return 0;
}

//  Packs one JSON value found at depth (the containers around it).
static int s_pack (s_packing_t *self, json_object *value, int depth)
{
    msgpack_packer *pk = &self->packer;
    switch (json_object_get_type (value)) {
    case json_type_null:
        return msgpack_pack_nil (pk);
    case json_type_boolean:
        return json_object_get_boolean (value) ? msgpack_pack_true (pk) : msgpack_pack_false (pk);
    case json_type_int: {
        int64_t i = json_object_get_int64 (value);
        uint64_t u = json_object_get_uint64 (value);
        return i == INT64_MAX && u > INT64_MAX ? msgpack_pack_uint64 (pk, u)
                                               : msgpack_pack_int64 (pk, i);
    }
    case json_type_double: {
        //  json-c reads 1e400 as inf and takes NaN and Infinity even in
        //  strict mode; json.h prints them as null, so a retry line would
        //  send another request: refused.
        double d = json_object_get_double (value);
        if (!isfinite (d)) {
            snprintf (self->error, self->error_size, "field %s: %.40s is not a finite number",
                      self->quoted, json_object_to_json_string_ext (value, JSON_C_TO_STRING_PLAIN));
            return SHOAL_EINVAL;
        }
        return msgpack_pack_double (pk, d);
    }
    case json_type_string: {
        size_t len = (size_t) json_object_get_string_len (value);
        int rc = s_check_utf8 (self, json_object_get_string (value), len, NULL);
        return rc ? rc : msgpack_pack_str_with_body (pk, json_object_get_string (value), len);
    }
    case json_type_array: {
        if (depth + 1 > SHOAL_DATA_DEPTH) {
            snprintf (self->error, self->error_size, "field %s: nesting deeper than %d",
                      self->quoted, SHOAL_DATA_DEPTH);
            return SHOAL_EINVAL;
        }
        size_t count = json_object_array_length (value);
        msgpack_pack_array (pk, count);
        for (size_t i = 0; i < count; i++) {
            int rc = s_pack (self, json_object_array_get_idx (value, i), depth + 1);
            if (rc)
                return rc;
        }
        return 0;
    }
    default:
        return s_pack_object (self, value, depth);
    }
}

//  The keys of JSON text as written, before json-c keeps one of each: a
//  key is a string followed, after white space, by ':'.
typedef struct {
    size_t count;       //  keys in the text
    const char *nul;    //  the first key holding \u0000, or NULL
    size_t nul_len;     //  its length in the text, quotes included
    const char *lone;   //  the first \u escape of a lone surrogate, or NULL
    const char *single; //  the first string in single quotes, or NULL (then no more is read)
} s_text_keys_t;

//  The value of the 4 hex digits at text, or -1.
static long s_hex4 (const char *text)
{
    char digits[5] = {0};
    if (strnlen (text, 4) < 4)
        return -1; //  the text ends first
    memcpy (digits, text, 4);
    char *end;
    long value = strtol (digits, &end, 16);
    return end == digits + 4 ? value : -1;
}

//  Returns the end of the string whose opening quote is at text[i] (the
//  index after its closing quote); sets *has_nul if it holds \u0000, and
//  *lone to its first escape of a surrogate that is not one of a pair
//  (json-c makes it U+FFFD) if there is one and *lone was NULL. text is
//  valid JSON.
static size_t s_string_end (const char *text, size_t i, bool *has_nul, const char **lone)
{
    *has_nul = false;
    const char *high = NULL; //  the escape of a high surrogate just before
    for (i++; text[i] && text[i] != '"'; i++) {
        long code = text[i] == '\\' && text[i + 1] == 'u' ? s_hex4 (text + i + 2) : -1;
        bool low = code >= 0xdc00 && code <= 0xdfff;
        if (high && !low && !*lone)
            *lone = high;
        if (low && !high && !*lone)
            *lone = text + i;
        high = code >= 0xd800 && code <= 0xdbff ? text + i : NULL;
        if (code == 0)
            *has_nul = true;
        if (text[i] == '\\' && text[i + 1]) //  past 4 hex digits, or the escaped one
            i += code >= 0 ? 5 : 1;
    }
    if (high && !*lone)
        *lone = high;
    return text[i] ? i + 1 : i; //  at the end of text: never past it
}

//  Scans valid JSON text once for its keys. O(length).
static s_text_keys_t s_scan_keys (const char *text)
{
    s_text_keys_t keys = {0};
    for (size_t i = 0; text[i];) {
        if (text[i] == '\'') { //  outside a string: not JSON, though json-c takes a key so
            keys.single = text + i;
            return keys;
        }
        if (text[i] != '"') {
            i++;
            continue;
        }
        bool has_nul;
        size_t start = i;
        i = s_string_end (text, i, &has_nul, &keys.lone);
        size_t after = i + strspn (text + i, " \t\n\r");
        if (text[after] == ':') {
            keys.count++;
            if (has_nul && !keys.nul) {
                keys.nul = text + start;
                keys.nul_len = i - start;
            }
        }
    }
    return keys;
}

//  Returns the number of keys in value's objects, at any depth.
static size_t s_tree_keys (json_object *value)
{
    size_t count = 0;
    if (json_object_is_type (value, json_type_array)) {
        size_t length = json_object_array_length (value);
        for (size_t i = 0; i < length; i++)
            count += s_tree_keys (json_object_array_get_idx (value, i));
    } else if (json_object_is_type (value, json_type_object)) {
        json_object_object_foreach (value, key, member)
        {
            (void) key;
            count += 1 + s_tree_keys (member);
        }
    }
    return count;
}

//  Writes the string whose JSON text (quotes included) is the len bytes at
//  text into out (size bytes) as decoded, quoted with quote for an error
//  ("a\u0000", utf8_quote): a key of the user's may hold any byte.
//  Returns out.
static char *s_quote_key (const char *text, size_t len, char *out, size_t size, char quote)
{
    char *source = strndup (text, len);
    json_object *key = source ? json_tokener_parse (source) : NULL;
    if (key && json_object_is_type (key, json_type_string))
        utf8_quote (out, size, json_object_get_string (key),
                    (size_t) json_object_get_string_len (key), quote);
    else //  not a JSON string after all: its text, bytes escaped
        utf8_quote (out, size, text, len, quote);
    json_object_put (key);
    free (source);
    return out;
}

//  Finds a key that an object of valid JSON text repeats, after json-c
//  decoded it (so "a" and "\u0061" are one key), and writes it into name
//  (name_size bytes), decoded and quoted (s_quote_key). Returns true if
//  found. One json-c object per open object of the text serves as the set
//  of its keys. Runs only when the counts of s_scan_keys and s_tree_keys
//  said there is one.
static bool s_repeated_key (const char *text, char *name, size_t name_size)
{
    json_object *seen[JSON_INPUT_DEPTH + 1] = {NULL};
    int depth = 0; //  containers open; seen[depth] is NULL in an array
    bool found = false;
    for (size_t i = 0; text[i] && !found;) {
        char c = text[i];
        if (c == '{' || c == '[') {
            if (depth == JSON_INPUT_DEPTH)
                break;
            seen[++depth] = c == '{' ? json_object_new_object () : NULL;
            i++;
            continue;
        }
        if (c == '}' || c == ']') {
            json_object_put (seen[depth]);
            seen[depth--] = NULL;
            i++;
            continue;
        }
        if (c != '"') {
            i++;
            continue;
        }
        bool has_nul;
        const char *lone = NULL;
        size_t start = i;
        i = s_string_end (text, i, &has_nul, &lone);
        size_t after = i + strspn (text + i, " \t\n\r");
        if (text[after] != ':' || depth < 1 || !seen[depth])
            continue;
        char *quoted = strndup (text + start, i - start);
        json_object *key = quoted ? json_tokener_parse (quoted) : NULL;
        if (key && json_object_is_type (key, json_type_string)) {
            const char *decoded = json_object_get_string (key);
            if (json_object_object_get_ex (seen[depth], decoded, NULL)) {
                s_quote_key (quoted, i - start, name, name_size, '"');
                found = true;
            } else
                json_object_object_add (seen[depth], decoded, NULL);
        }
        json_object_put (key);
        free (quoted);
    }
    for (; depth > 0; depth--)
        json_object_put (seen[depth]);
    return found;
}

//  Refuses what json-c would change silently in parsed, read from text: a
//  key holding \u0000 (json-c's keys are C strings: it cuts them there), a
//  lone surrogate escape (json-c makes it U+FFFD), and a key repeated in
//  one object (json-c keeps the last). Each object json-c built comes from
//  one object of the text with at least as many keys, so the text has more
//  keys than the tree if and only if one is repeated.
//  Returns 0, or SHOAL_EINVAL with *error, where what names text.
static int s_check_keys (const char *text, json_object *parsed, const char *what, char *error,
                         size_t error_size)
{
    s_text_keys_t keys = s_scan_keys (text);
    char name[QUOTED_MAX];
    if (keys.single) {
        snprintf (error, error_size,
                  "%s: not JSON (a string in single quotes at character %zu: JSON's are in "
                  "double quotes)",
                  what, (size_t) (keys.single - text));
        return SHOAL_EINVAL;
    }
    if (keys.nul) {
        snprintf (error, error_size, "%s: key %s holds \\u0000, which keys cannot", what,
                  s_quote_key (keys.nul, keys.nul_len, name, sizeof name, '"'));
        return SHOAL_EINVAL;
    }
    if (keys.lone) {
        snprintf (error, error_size,
                  "%s: %.6s at character %zu is half a surrogate pair, which is not UTF-8", what,
                  keys.lone, (size_t) (keys.lone - text));
        return SHOAL_EINVAL;
    }
    if (keys.count == s_tree_keys (parsed))
        return 0;
    if (s_repeated_key (text, name, sizeof name))
        snprintf (error, error_size, "%s: key %s is repeated in one object", what, name);
    else
        snprintf (error, error_size, "%s: a key is repeated in one object", what);
    return SHOAL_EINVAL;
}

//  True if the integer of len bytes at number (an optional '-', then
//  digits) is one msgpack carries as written: an int64, or a uint64 past
//  INT64_MAX.
static bool s_integer_fits (const char *number, size_t len)
{
    char *copy = strndup (number, len);
    if (!copy)
        return true; //  out of memory: json-c's value, as before
    errno = 0;
    if (copy[0] == '-')
        (void) strtoll (copy, NULL, 10);
    else
        (void) strtoull (copy, NULL, 10);
    bool fits = errno != ERANGE;
    free (copy);
    return fits;
}

//  Refuses an integer of valid JSON text that json-c would clamp (it reads
//  99999999999999999999999 as 18446744073709551615 and anything below
//  INT64_MIN as INT64_MIN, saying nothing): sent so, it is another number
//  than the one written. A number with a fraction or an exponent is a
//  double, checked by s_pack. With fields (text is the object of
//  fields), names the field it is in. O(length). Returns 0, or
//  SHOAL_EINVAL with *error, where what names text.
static int s_check_integers (const char *text, const char *what, bool fields, char *error,
                             size_t error_size)
{
    int depth = 0;            //  containers open
    const char *field = NULL; //  the last key of the top object
    size_t field_len = 0;
    for (size_t i = 0; text[i];) {
        char c = text[i];
        if (c == '"') {
            bool has_nul;
            const char *lone = NULL;
            size_t start = i;
            i = s_string_end (text, i, &has_nul, &lone);
            if (depth == 1 && text[i + strspn (text + i, " \t\n\r")] == ':') {
                field = text + start;
                field_len = i - start;
            }
            continue;
        }
        depth += c == '{' || c == '[' ? 1 : c == '}' || c == ']' ? -1 : 0;
        size_t digits =
            c == '-' || (c >= '0' && c <= '9') ? strspn (text + i + (c == '-'), "0123456789") : 0;
        if (!digits) { //  not a number (or -Infinity, which s_pack refuses)
            i++;
            continue;
        }
        size_t len = (size_t) (c == '-') + digits;
        size_t rest = strspn (text + i + len, "0123456789.eE+-"); //  a double's fraction, exponent
        if (!rest && !s_integer_fits (text + i, len)) {
            char name[QUOTED_MAX + 16] = "";
            if (fields && field) {
                char quoted[QUOTED_MAX];
                snprintf (name, sizeof name, " field %s:",
                          s_quote_key (field, field_len, quoted, sizeof quoted, '\''));
            }
            snprintf (error, error_size, "%s:%s %.*s%s is out of the %s range", what, name,
                      (int) (len > 40 ? 40 : len), text + i, len > 40 ? "..." : "",
                      c == '-' ? "int64" : "uint64");
            return SHOAL_EINVAL;
        }
        i += len + rest;
    }
    return 0;
}

//  Parses text as one JSON value, strictly, with nothing after it, into
//  *value (the caller's to json_object_put; NULL is JSON's null, as json-c
//  has it). Refuses keys that json-c would change (s_check_keys), and
//  integers it would clamp (s_check_integers; with fields, text is the
//  object of fields, and the error names the field). Returns 0, or
//  SHOAL_EINVAL with *error, where what names text.
static int s_parse (const char *text, const char *what, bool fields, json_object **value,
                    char *error, size_t error_size)
{
    *value = NULL;
    json_tokener *tok = json_tokener_new_ex (JSON_INPUT_DEPTH);
    if (!tok) {
        snprintf (error, error_size, "out of memory");
        return SHOAL_EINVAL;
    }
    json_tokener_set_flags (tok, JSON_TOKENER_STRICT);
    size_t len = strlen (text);
    //  With its NUL, so that a number at the end is known to have ended.
    json_object *parsed = json_tokener_parse_ex (tok, text, (int) len + 1);
    enum json_tokener_error why = json_tokener_get_error (tok);
    size_t end = json_tokener_get_parse_end (tok);
    int rc = SHOAL_EINVAL;
    if (why == json_tokener_continue)
        snprintf (error, error_size, "%s: not JSON (it ends too soon)", what);
    else if (why != json_tokener_success)
        snprintf (error, error_size, "%s: not JSON (%s at character %zu)", what,
                  json_tokener_error_desc (why), end);
    else if (end < len)
        snprintf (error, error_size, "%s: not JSON (something after the value, at character %zu)",
                  what, end);
    else if (s_check_keys (text, parsed, what, error, error_size) == 0 &&
             s_check_integers (text, what, fields, error, error_size) == 0) {
        *value = parsed;
        parsed = NULL;
        rc = 0;
    }
    json_object_put (parsed);
    json_tokener_free (tok);
    return rc;
}

//  True if text is an integer in int64 range; sets *overflow when it looks
//  like one but is out of range.
static bool s_parse_int (const char *text, int64_t *value, bool *overflow)
{
    const char *p = text;
    *overflow = false;
    if (*p == '-')
        p++;
    if (!*p)
        return false;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9')
            return false;
    errno = 0;
    long long parsed = strtoll (text, NULL, 10);
    if (errno == ERANGE) {
        *overflow = true;
        return false;
    }
    *value = parsed;
    return true;
}

//  Packs a `key=value` argument's value: an integer (an int64; past it,
//  one within uint64 is refused naming key:=N, which sends it), true,
//  false, or the string as it is.
static int s_pack_auto (s_packing_t *self, const char *value)
{
    msgpack_packer *pk = &self->packer;
    int64_t number;
    bool overflow;
    if (s_parse_int (value, &number, &overflow))
        return msgpack_pack_int64 (pk, number);
    if (overflow) { //  past INT64_MAX within uint64: key:=JSON takes it
        errno = 0;
        if (value[0] != '-')
            (void) strtoull (value, NULL, 10);
        bool uint64 = value[0] != '-' && errno != ERANGE;
        snprintf (self->error, self->error_size, "field %s: %s is out of the int64 range%s",
                  self->quoted, value,
                  uint64 ? " that key=value takes; key:=N sends it as a uint64" : "");
        return SHOAL_EINVAL;
    }
    if (streq (value, "true"))
        return msgpack_pack_true (pk);
    if (streq (value, "false"))
        return msgpack_pack_false (pk);
    int rc = s_check_utf8 (self, value, strlen (value), NULL);
    return rc ? rc : msgpack_pack_str_with_body (pk, value, strlen (value));
}

//  Splits argument "key=value" or "key:=json" into *key (the caller's to
//  free), *value (inside arg) and *is_json. Returns 0 or SHOAL_EINVAL.
static int s_split (const char *arg, char **key, const char **value, bool *is_json, char *error,
                    size_t error_size)
{
    const char *equals = strchr (arg, '=');
    *is_json = equals && equals > arg && equals[-1] == ':';
    size_t key_len = equals ? (size_t) (equals - arg) - (*is_json ? 1 : 0) : 0;
    if (key_len == 0) {
        char quoted[QUOTED_MAX];
        snprintf (error, error_size, "field %s is not key=value or key:=JSON",
                  utf8_quote (quoted, sizeof quoted, arg, strlen (arg), '\''));
        return SHOAL_EINVAL;
    }
    if (!(*key = strndup (arg, key_len))) {
        snprintf (error, error_size, "out of memory");
        return SHOAL_EINVAL;
    }
    *value = equals + 1;
    return 0;
}

//  True if key is a key of input (may be NULL) or of an argument before
//  argv[index].
static bool s_given_before (json_object *input, char **argv, int index, const char *key)
{
    if (input && json_object_object_get_ex (input, key, NULL))
        return true;
    size_t key_len = strlen (key);
    for (int j = 0; j < index; j++) {
        const char *equals = strchr (argv[j], '=');
        size_t len = equals ? (size_t) (equals - argv[j]) : 0;
        if (len > 0 && argv[j][len - 1] == ':')
            len--;
        if (len == key_len && memcmp (argv[j], key, len) == 0)
            return true;
    }
    return false;
}

//  Packs the arguments' fields. Returns 0 or SHOAL_EINVAL with *error.
static int s_pack_arguments (s_packing_t *self, json_object *input, int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        char *key;
        const char *text;
        bool is_json;
        int rc = s_split (argv[i], &key, &text, &is_json, self->error, self->error_size);
        if (rc)
            return rc;
        s_set_field (self, key);
        rc = s_pack_key (self, key, "the name");
        if (rc == 0 && s_given_before (input, argv, i, key)) {
            snprintf (self->error, self->error_size, "field %s is given twice", self->quoted);
            rc = SHOAL_EINVAL;
        }
        json_object *value = NULL;
        if (rc == 0 && is_json) {
            char what[QUOTED_MAX + 16];
            snprintf (what, sizeof what, "field %s", self->quoted);
            rc = s_parse (text, what, false, &value, self->error, self->error_size);
        }
        if (rc == 0)
            rc = is_json ? s_pack (self, value, 1) : s_pack_auto (self, text);
        json_object_put (value);
        free (key);
        if (rc)
            return rc;
    }
    return 0;
}

int client_payload (const char *input, int argc, char **argv, uint8_t **map, size_t *size,
                    char *error, size_t error_size)
{
    json_object *object = NULL;
    if (error_size)
        error[0] = 0;
    if (input) {
        if (s_parse (input, "input", true, &object, error, error_size))
            return SHOAL_EINVAL;
        if (!json_object_is_type (object, json_type_object) || s_bytes_value (object)) {
            snprintf (error, error_size, "input: expected a JSON object of fields");
            json_object_put (object);
            return SHOAL_EINVAL;
        }
    }
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    s_packing_t packing = {.error = error, .error_size = error_size};
    msgpack_packer_init (&packing.packer, &buffer, msgpack_sbuffer_write);
    size_t count = (object ? (size_t) json_object_object_length (object) : 0) + (size_t) argc;
    msgpack_pack_map (&packing.packer, count);
    int rc = 0;
    if (object) {
        json_object_object_foreach (object, key, member)
        {
            s_set_field (&packing, key);
            if ((rc = s_pack_key (&packing, key, "the name")) != 0 ||
                (rc = s_pack (&packing, member, 1)) != 0)
                break;
        }
    }
    if (rc == 0)
        rc = s_pack_arguments (&packing, object, argc, argv);
    json_object_put (object);
    //  msgpack-c's packer fails only out of memory, which leaves buffer short.
    if (rc == 0 && !buffer.data) {
        snprintf (error, error_size, "out of memory");
        rc = SHOAL_EINVAL;
    }
    if (rc) {
        if (error_size && !error[0])
            snprintf (error, error_size, "out of memory");
        msgpack_sbuffer_destroy (&buffer);
        return SHOAL_EINVAL;
    }
    *map = (uint8_t *) buffer.data;
    *size = buffer.size;
    return 0;
}

int client_fields (int argc, char **argv, uint8_t **map, size_t *size, char *error,
                   size_t error_size)
{
    return client_payload (NULL, argc, argv, map, size, error, error_size);
}
