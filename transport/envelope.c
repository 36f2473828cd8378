/*  envelope.c - the envelope codec. See envelope.h.

    Encoding packs with msgpack-c into one buffer sized up front. Decoding
    never trusts a length: the fields are read in order, in place, by the
    bounds-checked readers of common/mpread.h, which allocate nothing. The
    payload is not unpacked at all, only located by one skip that proves
    every count and length fits the bytes present and that nesting stays
    within ENVELOPE_MAX_DEPTH; the frame must end with the last field. So
    one pass validates and decodes, and a hostile frame costs no more
    memory than its own bytes. A frame that is not well-formed msgpack is
    SHOAL_EFORMAT whichever field failed first. A request from outside
    the node has the strings of its payload checked for UTF-8 in that same
    skip, and its maps for a key given twice after it
    (envelope_decode_request).

    Pure functions, safe on any thread. envelope_new_id is in
    envelope_id.c.
*/
#include "envelope.h"
#include "mpread.h"
#include "utf8.h"
#include <assert.h>
#include <errno.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENVELOPE_FIELDS 11

//  The keys of a reply map, in the order they are written.
typedef enum { REPLY_OK, REPLY_CODE, REPLY_REASON, REPLY_DATA, REPLY_FIELDS } reply_field_t;

//  Upper bound of an encoded envelope without its payload.
#define ENVELOPE_OVERHEAD                                                                          \
    (1 + 1 + 1 + 3 * (2 + ENVELOPE_ID_SIZE) + 2 * (3 + SHOAL_ADDRESS_MAX) + (2 + SHOAL_NAME_MAX) + \
     5 + 9)

//  A reply's values sit one level inside its map.
#define REPLY_VALUE_DEPTH (ENVELOPE_MAX_DEPTH - 1)

int envelope_check_msgpack (const uint8_t *data, size_t size)
{
    return mpread_check (data, size, ENVELOPE_MAX_DEPTH);
}

//  Returns the length of a NUL-terminated string in a char[size] field, or
//  size if it is not terminated there.
static size_t s_field_len (const char *field, size_t size)
{
    const char *end = memchr (field, 0, size);
    return end ? (size_t) (end - field) : size;
}

//  Returns true if id is all zero bytes (no correlation or causation).
static bool s_is_zero (const uint8_t id[ENVELOPE_ID_SIZE])
{
    for (size_t i = 0; i < ENVELOPE_ID_SIZE; i++)
        if (id[i])
            return false;
    return true;
}

//  --------------------------------------------------------------------------
//  Encoding

static const uint8_t s_empty_map[] = {0x80};

//  Checks env as decode would. Returns 0, SHOAL_EINVAL or SHOAL_ETOOBIG.
static int s_env_valid (const envelope_t *env)
{
    if (env->kind < ENVELOPE_COMMAND || env->kind > ENVELOPE_QUERY)
        return SHOAL_EINVAL;
    size_t from_len = s_field_len (env->from, sizeof env->from);
    size_t to_len = s_field_len (env->to, sizeof env->to);
    size_t name_len = s_field_len (env->name, sizeof env->name);
    if (from_len == sizeof env->from || to_len == sizeof env->to)
        return SHOAL_EINVAL;
    if (from_len > 0 && shoal_address_check (env->from, from_len))
        return SHOAL_EINVAL;
    if (!(to_len == 0 && env->kind == ENVELOPE_REPLY) && shoal_address_check (env->to, to_len))
        return SHOAL_EINVAL;
    if (shoal_name_check (env->name, name_len) != 0)
        return SHOAL_EINVAL;
    if (env->created < 0)
        return SHOAL_EINVAL;
    if (env->payload_size > ENVELOPE_MAX_SIZE)
        return SHOAL_ETOOBIG;
    int depth = env->kind == ENVELOPE_REPLY ? ENVELOPE_MAX_DEPTH : ENVELOPE_DATA_DEPTH;
    if (env->payload_size > 0 &&
        (!env->payload || !mpread_is_map (env->payload, env->payload_size, depth)))
        return SHOAL_EINVAL;
    return 0;
}

//  Packs a str of len bytes. Returns 0 or msgpack-c's error (out of memory).
static int s_pack_str (msgpack_packer *pk, const char *s, size_t len)
{
    int rc = msgpack_pack_str (pk, len);
    return rc ? rc : msgpack_pack_str_body (pk, s, len);
}

//  Packs an id as bin 16, or as nil if it is all zero and zero_is_nil.
static int s_pack_id (msgpack_packer *pk, const uint8_t id[ENVELOPE_ID_SIZE], bool zero_is_nil)
{
    if (zero_is_nil && s_is_zero (id))
        return msgpack_pack_nil (pk);
    int rc = msgpack_pack_bin (pk, ENVELOPE_ID_SIZE);
    return rc ? rc : msgpack_pack_bin_body (pk, id, ENVELOPE_ID_SIZE);
}

int envelope_encode (const envelope_t *env, uint8_t **data, size_t *size)
{
    assert (env && data && size);
    int rc = s_env_valid (env);
    if (rc)
        return rc;
    const uint8_t *payload = env->payload_size ? env->payload : s_empty_map;
    size_t payload_size = env->payload_size ? env->payload_size : sizeof s_empty_map;

    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    sbuf.alloc = ENVELOPE_OVERHEAD + payload_size;
    sbuf.data = malloc (sbuf.alloc);
    if (!sbuf.data)
        return SHOAL_ENOMEM;
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);

    rc = msgpack_pack_array (&pk, ENVELOPE_FIELDS);
    rc = rc ? rc : msgpack_pack_uint8 (&pk, ENVELOPE_VERSION);
    rc = rc ? rc : msgpack_pack_uint8 (&pk, env->kind);
    rc = rc ? rc : s_pack_id (&pk, env->id, false);
    rc = rc ? rc : s_pack_id (&pk, env->correlation, true);
    rc = rc ? rc : s_pack_id (&pk, env->causation, true);
    rc = rc ? rc : s_pack_str (&pk, env->from, strlen (env->from));
    rc = rc ? rc : s_pack_str (&pk, env->to, strlen (env->to));
    rc = rc ? rc : s_pack_str (&pk, env->name, strlen (env->name));
    rc = rc ? rc : msgpack_sbuffer_write (&sbuf, (const char *) payload, payload_size);
    rc = rc ? rc : msgpack_pack_uint32 (&pk, env->attempt);
    rc = rc ? rc : msgpack_pack_uint64 (&pk, (uint64_t) env->created);
    if (rc) {
        msgpack_sbuffer_destroy (&sbuf);
        return SHOAL_ENOMEM;
    }
    if (sbuf.size > ENVELOPE_MAX_SIZE) {
        msgpack_sbuffer_destroy (&sbuf);
        return SHOAL_ETOOBIG;
    }
    *size = sbuf.size;
    *data = (uint8_t *) msgpack_sbuffer_release (&sbuf);
    return 0;
}

//  --------------------------------------------------------------------------
//  Decoding

//  The frame being decoded and the offset of its next element.
typedef struct {
    const uint8_t *data;
    size_t size;
    size_t offset;
    char *detail;       //  where a failure is explained, or NULL
    size_t detail_size; //  bytes at detail
    bool utf8;          //  the payload's strings must be UTF-8 (a request)
    size_t bad_string;  //  utf8: the offset of one that is not, or SIZE_MAX
} s_frame_t;

//  Explains a failure in the frame's detail buffer, if it has one, and
//  returns rc.
static int s_explain (s_frame_t *frame, int rc, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));
static int s_explain (s_frame_t *frame, int rc, const char *format, ...)
{
    if (frame->detail && frame->detail_size) {
        va_list args;
        va_start (args, format);
        vsnprintf (frame->detail, frame->detail_size, format, args);
        va_end (args);
    }
    return rc;
}

//  Names a kind of msgpack item, for "expected X, got Y".
static const char *s_kind_name (mpread_kind_t kind)
{
    switch (kind) {
    case MPREAD_NIL:
        return "nil";
    case MPREAD_BOOL:
        return "a boolean";
    case MPREAD_UINT:
    case MPREAD_INT:
        return "an integer";
    case MPREAD_FLOAT:
        return "a float";
    case MPREAD_STR:
        return "a string";
    case MPREAD_BIN:
        return "bytes (bin)";
    case MPREAD_EXT:
        return "an ext";
    case MPREAD_ARRAY:
        return "an array";
    default:
        return "a map";
    }
}

//  Names what is at the frame's offset, for "expected X, got Y".
static const char *s_what_is_next (const s_frame_t *frame)
{
    if (frame->size == 0)
        return "an empty frame";
    if (frame->offset >= frame->size)
        return "the end of the frame";
    size_t at = frame->offset;
    mpread_item_t item;
    if (mpread_next (frame->data, frame->size, &at, &item))
        return "bytes that are not msgpack (truncated, or a length past the end)";
    return s_kind_name (item.kind);
}

//  Fails a field that does not hold what was expected.
static int s_expected (s_frame_t *frame, const char *field, const char *expected)
{
    return s_explain (frame, SHOAL_EFORMAT, "field '%s': expected %s, got %s", field, expected,
                      s_what_is_next (frame));
}

//  Reads a non-negative integer no greater than max.
static int s_read_uint (s_frame_t *frame, uint64_t max, uint64_t *value)
{
    return mpread_uint (frame->data, frame->size, &frame->offset, max, value);
}

//  Reads an id: bin 16, or nil (all zero) when nil_ok.
static int s_read_id (s_frame_t *frame, bool nil_ok, uint8_t id[ENVELOPE_ID_SIZE])
{
    mpread_item_t item;
    if (mpread_next (frame->data, frame->size, &frame->offset, &item))
        return SHOAL_EFORMAT;
    if (item.kind == MPREAD_NIL && nil_ok) {
        memset (id, 0, ENVELOPE_ID_SIZE);
        return 0;
    }
    if (item.kind != MPREAD_BIN || item.len != ENVELOPE_ID_SIZE)
        return SHOAL_EFORMAT;
    memcpy (id, item.data, ENVELOPE_ID_SIZE);
    return 0;
}

//  Reads a str into buf (which holds max + 1 bytes) and terminates it.
//  Returns SHOAL_EFORMAT if it is not a str, or too_long if it has more
//  than max bytes.
static int s_read_str (s_frame_t *frame, char *buf, size_t max, int too_long, size_t *len)
{
    const uint8_t *bytes;
    if (mpread_str (frame->data, frame->size, &frame->offset, &bytes, len))
        return SHOAL_EFORMAT;
    if (*len > max)
        return too_long;
    memcpy (buf, bytes, *len);
    buf[*len] = 0;
    return 0;
}

//  Locates a map no deeper than max_depth: sets *map and *map_size to its
//  bytes.
static int s_read_map (s_frame_t *frame, int max_depth, const uint8_t **map, size_t *map_size)
{
    return mpread_map_span (frame->data, frame->size, &frame->offset, max_depth, map, map_size);
}

//  Reads an address field (from or to) into buf; empty_ok allows "".
static int s_read_address (s_frame_t *frame, const char *field, char *buf, bool empty_ok)
{
    size_t len, at = frame->offset;
    int rc = s_read_str (frame, buf, SHOAL_ADDRESS_MAX, SHOAL_EADDRESS, &len);
    if (rc == SHOAL_EFORMAT)
        return s_expected (frame, field, "a string");
    if (rc)
        return s_explain (frame, rc, "field '%s': longer than %d bytes", field, SHOAL_ADDRESS_MAX);
    if (!(len == 0 && empty_ok) && shoal_address_check (buf, len)) {
        frame->offset = at;
        char quoted[96]; //  one line, whatever its bytes
        return s_explain (frame, SHOAL_EADDRESS, "field '%s': %s is not an address (type/id)",
                          field, utf8_quote (quoted, sizeof quoted, buf, len, '"'));
    }
    return 0;
}

//  Reads the from and to addresses of a frame whose kind is known.
static int s_read_addresses (s_frame_t *frame, envelope_t *env)
{
    int rc = s_read_address (frame, "from", env->from, true);
    return rc ? rc : s_read_address (frame, "to", env->to, env->kind == ENVELOPE_REPLY);
}

//  Reads an id field; nil_ok for correlation and causation.
static int s_read_id_field (s_frame_t *frame, const char *field, bool nil_ok,
                            uint8_t id[ENVELOPE_ID_SIZE])
{
    size_t at = frame->offset;
    if (s_read_id (frame, nil_ok, id) == 0)
        return 0;
    frame->offset = at;
    mpread_item_t item;
    if (mpread_next (frame->data, frame->size, &at, &item) == 0 && item.kind == MPREAD_BIN)
        return s_explain (frame, SHOAL_EFORMAT, "field '%s': expected %d bytes, got %zu", field,
                          ENVELOPE_ID_SIZE, item.len);
    return s_expected (frame, field, nil_ok ? "16 bytes (bin) or nil" : "16 bytes (bin)");
}

//  Locates the payload map, no deeper than max_depth. With frame->utf8,
//  checks its strings in the same walk; one that is not UTF-8 sets
//  frame->bad_string (the map is walked again, to be located: that is the
//  refusal's cost, not every request's).
static int s_read_payload (s_frame_t *frame, int max_depth, envelope_t *env)
{
    size_t at = frame->offset;
    if (frame->utf8) {
        int rc = mpread_map_span_utf8 (frame->data, frame->size, &frame->offset, max_depth,
                                       &env->payload, &env->payload_size, &frame->bad_string);
        if (rc == 0)
            return 0;
        if (rc != SHOAL_EINVAL)
            frame->bad_string = SIZE_MAX; //  malformed first: said as such
    }
    if (s_read_map (frame, max_depth, &env->payload, &env->payload_size) == 0)
        return 0;
    mpread_item_t item;
    if (mpread_next (frame->data, frame->size, &at, &item) || item.kind != MPREAD_MAP)
        return s_expected (frame, "payload", "a map");
    at = frame->offset;
    if (mpread_skip (frame->data, frame->size, &at, MPREAD_DEPTH_ANY) == 0)
        return s_explain (frame, SHOAL_EFORMAT, "payload: nesting deeper than %d", max_depth);
    return s_explain (frame, SHOAL_EFORMAT,
                      "payload: a length or count runs past the end of the frame, or a byte is "
                      "not msgpack");
}

//  Explains the string at frame->bad_string, of env's payload, which is not
//  UTF-8, naming the payload's field it is in (the frame is valid
//  otherwise), and returns SHOAL_EINVAL.
static int s_not_utf8 (s_frame_t *frame, const envelope_t *env)
{
    const uint8_t *map = env->payload;
    size_t size = env->payload_size, bad = frame->bad_string - (size_t) (map - frame->data);
    mpread_item_t string;
    size_t at = bad;
    mpread_next (map, size, &at, &string); //  read once already: a str
    size_t valid = utf8_valid_prefix ((const char *) string.data, string.len);
    unsigned byte = string.data[valid];
    char quoted[96];
    uint64_t pairs = 0;
    at = 0;
    mpread_map (map, size, &at, &pairs);
    for (uint64_t i = 0; i < pairs; i++) {
        size_t key_at = at, past_key = at;
        mpread_item_t key;
        mpread_next (map, size, &past_key, &key);
        mpread_skip (map, size, &at, MPREAD_DEPTH_ANY);
        size_t value_at = at;
        mpread_skip (map, size, &at, MPREAD_DEPTH_ANY);
        if (bad >= at)
            continue;
        if (bad == key_at)
            return s_explain (
                frame, SHOAL_EINVAL, "payload: a field name is not UTF-8 (byte 0x%02x after %s)",
                byte, utf8_quote (quoted, sizeof quoted, (const char *) string.data, valid, '\''));
        if (key.kind == MPREAD_STR)
            utf8_quote (quoted, sizeof quoted, (const char *) key.data, key.len, '\'');
        else
            snprintf (quoted, sizeof quoted, "%llu (not a string)", (unsigned long long) i + 1);
        return s_explain (frame, SHOAL_EINVAL,
                          "payload: field %s: %s is not UTF-8 (byte 0x%02x at offset %zu)", quoted,
                          bad == value_at ? "the value" : "a key or string inside it", byte, valid);
    }
    return s_explain (frame, SHOAL_EINVAL, "payload: a string is not UTF-8");
}

//  A key of a map within a request's payload: a str's bytes.
typedef struct {
    const uint8_t *data;
    size_t len;
} s_key_t;

#define KEYS_ON_STACK 16 //  a map with more keys has its keys sorted on the heap

static int s_key_order (const void *a, const void *b)
{
    const s_key_t *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return memcmp (x->data, y->data, x->len);
}

//  The first key of keys[0..count) that another equals, or NULL. Pairwise
//  for a few keys, else sorted (keys is reordered).
static const s_key_t *s_repeated_key (s_key_t *keys, size_t count)
{
    if (count <= KEYS_ON_STACK) {
        for (size_t i = 1; i < count; i++)
            for (size_t j = 0; j < i; j++)
                if (s_key_order (keys + i, keys + j) == 0)
                    return keys + i;
        return NULL;
    }
    qsort (keys, count, sizeof (s_key_t), s_key_order);
    for (size_t i = 1; i < count; i++)
        if (s_key_order (keys + i, keys + i - 1) == 0)
            return keys + i;
    return NULL;
}

//  Walks the item at *at, of a payload already proved well-formed and
//  within its depth, and finds a str key given twice in one of its maps,
//  at any depth: a handler's lookup would read the first and never see
//  the second, so the request is refused instead. Explains it (field:
//  the payload's field it is in, or NULL at the top) and returns
//  SHOAL_EINVAL; SHOAL_ENOMEM if a large map's keys cannot be sorted.
static int s_check_keys (s_frame_t *frame, const uint8_t *data, size_t size, size_t *at,
                         const s_key_t *field)
{
    mpread_item_t item;
    mpread_next (data, size, at, &item); //  proved well-formed by the payload's walk
    if (item.kind == MPREAD_ARRAY) {
        for (uint64_t i = 0; i < item.count; i++) {
            int rc = s_check_keys (frame, data, size, at, field);
            if (rc)
                return rc;
        }
        return 0;
    }
    if (item.kind != MPREAD_MAP)
        return 0;
    s_key_t stack[KEYS_ON_STACK];
    s_key_t *keys = item.count > KEYS_ON_STACK ? malloc (item.count * sizeof (s_key_t)) : stack;
    if (!keys)
        return s_explain (frame, SHOAL_ENOMEM, "payload: out of memory checking %llu keys",
                          (unsigned long long) item.count);
    size_t count = 0;
    int rc = 0;
    for (uint64_t i = 0; i < item.count && rc == 0; i++) {
        mpread_item_t key;
        size_t key_at = *at;
        mpread_next (data, size, &key_at, &key);
        s_key_t name = {key.data, key.len};
        if (key.kind != MPREAD_STR) {
            //  A handler looks fields up by name: an int, nil or float key
            //  is a field no handler can read (PROTOCOL: keys are strings).
            char outer[96], inside[112] = "";
            if (field) {
                utf8_quote (outer, sizeof outer, (const char *) field->data, field->len, '\'');
                snprintf (inside, sizeof inside, " (inside field %s)", outer);
            }
            rc = s_explain (frame, SHOAL_EINVAL, "payload: key %llu of a map is %s, not a string%s",
                            (unsigned long long) i + 1, s_kind_name (key.kind), inside);
            break;
        }
        keys[count++] = name;
        mpread_skip (data, size, at, MPREAD_DEPTH_ANY);
        rc = s_check_keys (frame, data, size, at, field ? field : &name);
    }
    const s_key_t *twice = rc ? NULL : s_repeated_key (keys, count);
    if (twice) {
        char quoted[96], inside[112] = "";
        utf8_quote (quoted, sizeof quoted, (const char *) twice->data, twice->len, '\'');
        if (field) {
            char outer[96];
            utf8_quote (outer, sizeof outer, (const char *) field->data, field->len, '\'');
            snprintf (inside, sizeof inside, " (inside field %s)", outer);
        }
        rc = s_explain (frame, SHOAL_EINVAL,
                        field ? "payload: key %s is given twice in one map%s"
                              : "payload: field %s is given twice%s",
                        quoted, inside);
    }
    if (keys != stack)
        free (keys);
    return rc;
}

//  Reads the fields of a frame in order, in one pass: every read is bounds
//  checked, the payload is skipped once, and the frame must end with the
//  last field. Returns the first field's error, explained in frame's
//  detail; with frame->utf8, a payload string that is not UTF-8 comes
//  last, once the frame is known to be valid otherwise and env is whole.
static int s_decode_fields (envelope_t *env, s_frame_t *frame)
{
    uint64_t count = 0, value;
    if (mpread_array (frame->data, frame->size, &frame->offset, &count))
        return s_explain (frame, SHOAL_EFORMAT, "frame: expected an array of %d fields, got %s",
                          ENVELOPE_FIELDS, s_what_is_next (frame));
    if (count == 0)
        return s_explain (frame, SHOAL_EFORMAT,
                          "frame: expected an array of %d fields, got an empty one",
                          ENVELOPE_FIELDS);
    if (s_read_uint (frame, UINT64_MAX, &value))
        return s_expected (frame, "version", "an unsigned integer");
    if (value != ENVELOPE_VERSION)
        return s_explain (frame, SHOAL_EVERSION, "frame: version %llu is not supported (only %d)",
                          (unsigned long long) value, ENVELOPE_VERSION);
    if (count != ENVELOPE_FIELDS)
        return s_explain (frame, SHOAL_EFORMAT, "frame: expected %d fields, got %llu",
                          ENVELOPE_FIELDS, (unsigned long long) count);

    memset (env, 0, sizeof (*env));
    size_t at = frame->offset;
    if (s_read_uint (frame, UINT64_MAX, &value))
        return s_expected (frame, "kind", "an unsigned integer");
    if (value < ENVELOPE_COMMAND || value > ENVELOPE_QUERY) {
        frame->offset = at;
        return s_explain (frame, SHOAL_EFORMAT, "field 'kind': %llu is not a kind (1 to %d)",
                          (unsigned long long) value, ENVELOPE_QUERY);
    }
    env->kind = (uint8_t) value;
    int rc = s_read_id_field (frame, "id", false, env->id);
    rc = rc ? rc : s_read_id_field (frame, "correlation", true, env->correlation);
    rc = rc ? rc : s_read_id_field (frame, "causation", true, env->causation);
    rc = rc ? rc : s_read_addresses (frame, env);
    if (rc)
        return rc;
    size_t len;
    at = frame->offset;
    rc = s_read_str (frame, env->name, SHOAL_NAME_MAX, SHOAL_ETOOBIG, &len);
    if (rc == SHOAL_EFORMAT)
        return s_expected (frame, "name", "a string");
    if (rc || shoal_name_check (env->name, len) != 0) {
        frame->offset = at;
        return s_explain (frame, SHOAL_EFORMAT,
                          "field 'name': expected 1 to %d printable ASCII bytes without spaces",
                          SHOAL_NAME_MAX);
    }
    //  A reply's payload holds the replier's data one level down, and an
    //  `events` page deeper still; every other payload is a data map.
    int depth = env->kind == ENVELOPE_REPLY ? ENVELOPE_MAX_DEPTH : ENVELOPE_DATA_DEPTH;
    rc = s_read_payload (frame, depth, env);
    if (rc)
        return rc;
    if (s_read_uint (frame, UINT32_MAX, &value))
        return s_expected (frame, "attempt", "an unsigned integer of 32 bits");
    env->attempt = (uint32_t) value;
    if (s_read_uint (frame, INT64_MAX, &value))
        return s_expected (frame, "created", "an unsigned integer (ms since the epoch)");
    env->created = (int64_t) value;
    if (frame->offset != frame->size)
        return s_explain (frame, SHOAL_EFORMAT, "frame: %zu bytes after the last field",
                          frame->size - frame->offset);
    if (frame->bad_string != SIZE_MAX)
        return s_not_utf8 (frame, env);
    if (frame->utf8) {
        size_t payload_at = 0;
        return s_check_keys (frame, env->payload, env->payload_size, &payload_at, NULL);
    }
    return 0;
}

//  envelope_decode_detail, and with utf8 envelope_decode_request.
static int s_decode (envelope_t *env, const uint8_t *data, size_t size, char *detail,
                     size_t detail_size, bool utf8)
{
    assert (env);
    s_frame_t frame = {data, size, 0, detail, detail_size, utf8, SIZE_MAX};
    if (detail && detail_size)
        detail[0] = 0;
    if (size > ENVELOPE_MAX_SIZE)
        return s_explain (&frame, SHOAL_ETOOBIG, "frame: %zu bytes, more than the %d allowed", size,
                          ENVELOPE_MAX_SIZE);
    if (!data)
        return SHOAL_EFORMAT;
    int rc = s_decode_fields (env, &frame);
    //  A frame that is not well-formed msgpack is SHOAL_EFORMAT, whichever
    //  field failed first; only a well-formed one is SHOAL_EVERSION or
    //  SHOAL_EADDRESS. The frame's array is one level above the payload's.
    if (rc != 0 && rc != SHOAL_EFORMAT && mpread_check (data, size, ENVELOPE_MAX_DEPTH + 1))
        rc = SHOAL_EFORMAT;
    return rc;
}

int envelope_decode (envelope_t *env, const uint8_t *data, size_t size)
{
    return s_decode (env, data, size, NULL, 0, false);
}

int envelope_decode_detail (envelope_t *env, const uint8_t *data, size_t size, char *detail,
                            size_t detail_size)
{
    return s_decode (env, data, size, detail, detail_size, false);
}

int envelope_decode_request (envelope_t *env, const uint8_t *data, size_t size, char *detail,
                             size_t detail_size)
{
    int rc = s_decode (env, data, size, detail, detail_size, true);
    //  An id of zero bytes is written back as nil (s_pack_id): its reply
    //  would answer no request, and a client dropped the answer of a
    //  command that ran.
    if (rc == 0 && s_is_zero (env->id)) {
        if (detail && detail_size)
            snprintf (detail, detail_size,
                      "field 'id': 16 zero bytes, which read as nil: give another id");
        rc = SHOAL_EINVAL;
    }
    return rc;
}

bool envelope_peek_id (const uint8_t *data, size_t size, uint8_t id[ENVELOPE_ID_SIZE])
{
    size_t at = 0, len = 0;
    uint64_t count, value;
    const uint8_t *bytes;
    //  Any size: only its first bytes are read, and a frame over the limit
    //  answered under its id is one its client can match (a nil answer
    //  took the place of the next request's).
    if (!data || mpread_array (data, size, &at, &count) || count < 3 ||
        mpread_uint (data, size, &at, UINT64_MAX, &value) || value != ENVELOPE_VERSION ||
        mpread_uint (data, size, &at, UINT64_MAX, &value) ||
        mpread_bin (data, size, &at, &bytes, &len) || len != ENVELOPE_ID_SIZE)
        return false;
    memcpy (id, bytes, ENVELOPE_ID_SIZE);
    return true;
}

bool envelope_to (const uint8_t *data, size_t size, const uint8_t **to, size_t *len)
{
    size_t at = 0;
    uint64_t count, value;
    mpread_item_t item;
    if (mpread_array (data, size, &at, &count) || count != ENVELOPE_FIELDS ||
        mpread_uint (data, size, &at, UINT64_MAX, &value) ||
        mpread_uint (data, size, &at, UINT64_MAX, &value))
        return false;
    for (int field = 0; field < 3; field++) //  id, correlation, causation
        if (mpread_next (data, size, &at, &item))
            return false;
    return !mpread_str (data, size, &at, to, len) && //  from
           !mpread_str (data, size, &at, to, len);
}

bool envelope_is_to (const uint8_t *data, size_t size, const char *address)
{
    const uint8_t *to;
    size_t len;
    return envelope_to (data, size, &to, &len) && len == strlen (address) &&
           memcmp (to, address, len) == 0;
}

bool envelope_code_reserved (const char *code)
{
    static const char *reserved[] = {"bad_frame",       "bad_kind",      "bad_from",
                                     "unknown_type",    "unknown_query", "invalid_payload",
                                     "expired",         "id_reused",     "poisoned",
                                     "dropped",         "busy",          "unavailable",
                                     "conflict",        "reply_too_big", "bad_reply",
                                     "handler_error",   "not_pending",   "resolving",
                                     "not_an_operator", "target_up",     "key_revoked",
                                     "too_soon",        "tellable",      "untellable",
                                     "bad_cancel"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strcmp (code, reserved[i]) == 0)
            return true;
    return false;
}

bool envelope_reply_refusal (const uint8_t *payload, size_t payload_size,
                             char code[ENVELOPE_CODE_MAX + 1], char reason[ENVELOPE_REASON_MAX + 1])
{
    //  Most replies are acceptances, encoded {"ok": true, ...} first by
    //  every node (envelope_reply_encode): those are not read further.
    static const uint8_t accepted[] = {0x84, 0xa2, 'o', 'k', 0xc3};
    if (payload_size >= sizeof accepted && memcmp (payload, accepted, sizeof accepted) == 0)
        return false;
    bool ok;
    const uint8_t *data;
    size_t size;
    return envelope_reply_decode (payload, payload_size, &ok, code, reason, &data, &size) == 0 &&
           !ok;
}

bool envelope_reply_refused (const uint8_t *payload, size_t payload_size, const char *code)
{
    char got[ENVELOPE_CODE_MAX + 1], reason[ENVELOPE_REASON_MAX + 1];
    return envelope_reply_refusal (payload, payload_size, got, reason) && strcmp (got, code) == 0;
}

bool envelope_code_settles (const char *code)
{
    return strcmp (code, "busy") != 0 && strcmp (code, "unavailable") != 0 &&
           strcmp (code, "handler_error") != 0 && strcmp (code, "conflict") != 0 &&
           strcmp (code, "key_revoked") != 0;
}

//  --------------------------------------------------------------------------
//  Reply payloads

int envelope_reply_encode (bool ok, const char *code, const char *reason, const uint8_t *data,
                           size_t data_size, uint8_t **payload, size_t *payload_size)
{
    assert (payload && payload_size);
    size_t code_len = code ? strlen (code) : 0;
    size_t reason_len = reason ? strlen (reason) : 0;
    if (ok ? code_len + reason_len > 0 : code_len == 0)
        return SHOAL_EINVAL;
    if (code_len > ENVELOPE_CODE_MAX || (code_len && shoal_name_check (code, code_len) != 0))
        return SHOAL_EINVAL;
    if (reason_len > ENVELOPE_REASON_MAX)
        reason_len = ENVELOPE_REASON_MAX; //  cut, then scrubbed: no character left half
    //  Every reason leaves as UTF-8, however it was cut or what it quotes.
    char scrubbed[ENVELOPE_REASON_MAX + 1];
    if (reason_len) {
        memcpy (scrubbed, reason, reason_len);
        reason_len = utf8_scrub (scrubbed, reason_len);
        reason = scrubbed;
    }
    if (data_size > ENVELOPE_MAX_SIZE)
        return SHOAL_ETOOBIG;
    if (data_size > 0 && (!data || !mpread_is_map (data, data_size, ENVELOPE_MAX_DEPTH)))
        return SHOAL_EINVAL;
    if (data_size == 0) {
        data = s_empty_map;
        data_size = sizeof s_empty_map;
    }
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    sbuf.alloc = 32 + code_len + reason_len + data_size;
    sbuf.data = malloc (sbuf.alloc);
    if (!sbuf.data)
        return SHOAL_ENOMEM;
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    int rc = msgpack_pack_map (&pk, REPLY_FIELDS);
    rc = rc ? rc : s_pack_str (&pk, "ok", 2);
    rc = rc ? rc : (ok ? msgpack_pack_true (&pk) : msgpack_pack_false (&pk));
    rc = rc ? rc : s_pack_str (&pk, "code", 4);
    rc = rc ? rc : s_pack_str (&pk, code, code_len);
    rc = rc ? rc : s_pack_str (&pk, "reason", 6);
    rc = rc ? rc : s_pack_str (&pk, reason, reason_len);
    rc = rc ? rc : s_pack_str (&pk, "data", 4);
    rc = rc ? rc : msgpack_sbuffer_write (&sbuf, (const char *) data, data_size);
    if (rc) {
        msgpack_sbuffer_destroy (&sbuf);
        return SHOAL_ENOMEM;
    }
    *payload_size = sbuf.size;
    *payload = (uint8_t *) msgpack_sbuffer_release (&sbuf);
    return 0;
}

//  Returns true if the len bytes at s hold no NUL.
static bool s_no_nul (const uint8_t *s, size_t len)
{
    return memchr (s, 0, len) == NULL;
}

//  Reads one value of a reply map whose key is key (key_len bytes). seen
//  records the keys read so far, one bit each; a repeated key is an error.
//  Unknown keys are skipped.
static int s_reply_field (s_frame_t *frame, const uint8_t *key, size_t key_len, unsigned *seen,
                          bool *ok, char *code, char *reason, const uint8_t **data,
                          size_t *data_size)
{
    static const char *keys[REPLY_FIELDS] = {"ok", "code", "reason", "data"};
    int field = -1;
    for (int i = REPLY_OK; i < REPLY_FIELDS; i++)
        if (strlen (keys[i]) == key_len && memcmp (keys[i], key, key_len) == 0)
            field = i;
    if (field < 0)
        return mpread_skip (frame->data, frame->size, &frame->offset, REPLY_VALUE_DEPTH);
    if (*seen & (1u << field))
        return SHOAL_EFORMAT;
    *seen |= 1u << field;

    size_t len;
    switch (field) {
    case REPLY_OK:
        return mpread_bool (frame->data, frame->size, &frame->offset, ok);
    case REPLY_CODE:
        if (s_read_str (frame, code, ENVELOPE_CODE_MAX, SHOAL_EFORMAT, &len) ||
            !s_no_nul ((const uint8_t *) code, len))
            return SHOAL_EFORMAT;
        return 0;
    case REPLY_REASON:
        if (s_read_str (frame, reason, ENVELOPE_REASON_MAX, SHOAL_EFORMAT, &len) ||
            !s_no_nul ((const uint8_t *) reason, len))
            return SHOAL_EFORMAT;
        return 0;
    default:
        return s_read_map (frame, REPLY_VALUE_DEPTH, data, data_size);
    }
}

//  Walks the payload once: the map, then each key and its value, bounds
//  and depth checked as read; nothing may follow the map.
int envelope_reply_decode (const uint8_t *payload, size_t payload_size, bool *ok, char *code,
                           char *reason, const uint8_t **data, size_t *data_size)
{
    assert (ok && code && reason && data && data_size);
    if (!payload || payload_size > ENVELOPE_MAX_SIZE)
        return SHOAL_EFORMAT;
    s_frame_t frame = {payload, payload_size, 0, NULL, 0, false, SIZE_MAX};
    uint64_t pairs;
    if (mpread_map (payload, payload_size, &frame.offset, &pairs))
        return SHOAL_EFORMAT;
    unsigned seen = 0;
    for (uint64_t i = 0; i < pairs; i++) {
        const uint8_t *key;
        size_t key_len;
        if (mpread_str (payload, payload_size, &frame.offset, &key, &key_len) ||
            s_reply_field (&frame, key, key_len, &seen, ok, code, reason, data, data_size))
            return SHOAL_EFORMAT;
    }
    if (frame.offset != payload_size || seen != (1u << REPLY_FIELDS) - 1)
        return SHOAL_EFORMAT;
    if (*ok ? code[0] || reason[0] : !code[0])
        return SHOAL_EFORMAT;
    return 0;
}
