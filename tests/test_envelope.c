/*  test_envelope.c - the envelope codec: usage first, then round trips of
    every field, then malformed frames (each with its error code), the
    msgpack walker, fuzzing, reply payloads and message ids.

    Every decode of hostile bytes reads from a heap copy of exactly their
    size, so that ASan reports any read past the end. The fuzz seed is
    printed; set SHOAL_FUZZ_SEED to replay one.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "envelope.h"
#include "harness.h"
#include "mpread.h"
#include "utf8.h"
#include <msgpack.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

//  --------------------------------------------------------------------------
//  Helpers

static uint64_t s_seed (void)
{
    const char *env = getenv ("SHOAL_FUZZ_SEED");
    return env ? strtoull (env, NULL, 0) : 0x5eed0f5a0a1ull;
}

//  Decodes an exact-size copy of bytes and returns the result. Use only
//  for frames expected to fail: env->payload would point into the copy.
static int s_decode_copy (const uint8_t *bytes, size_t size)
{
    uint8_t *copy = harness_copy (bytes, size);
    envelope_t env;
    int rc = envelope_decode (&env, copy, size);
    free (copy);
    return rc;
}

static int s_check_copy (const uint8_t *bytes, size_t size)
{
    uint8_t *copy = harness_copy (bytes, size);
    int rc = envelope_check_msgpack (copy, size);
    free (copy);
    return rc;
}

//  The payload {"amount": 100, "memo": "rent"}.
static uint8_t *s_payload (size_t *size)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 2);
    msgpack_pack_str_with_body (&pk, "amount", 6);
    msgpack_pack_int (&pk, 100);
    msgpack_pack_str_with_body (&pk, "memo", 4);
    msgpack_pack_str_with_body (&pk, "rent", 4);
    return harness_take (&sbuf, size);
}

//  A valid command from teller/t1 to account/alice, without payload.
static void s_sample (envelope_t *env)
{
    memset (env, 0, sizeof (*env));
    env->kind = ENVELOPE_COMMAND;
    for (int i = 0; i < ENVELOPE_ID_SIZE; i++)
        env->id[i] = (uint8_t) (i + 1);
    strcpy (env->from, "teller/t1");
    strcpy (env->to, "account/alice");
    strcpy (env->name, "deposit");
    env->attempt = 2;
    env->created = 1700000000123;
}

static void s_assert_env_equal (const envelope_t *a, const envelope_t *b)
{
    assert_int_equal (a->kind, b->kind);
    assert_memory_equal (a->id, b->id, ENVELOPE_ID_SIZE);
    assert_memory_equal (a->correlation, b->correlation, ENVELOPE_ID_SIZE);
    assert_memory_equal (a->causation, b->causation, ENVELOPE_ID_SIZE);
    assert_string_equal (a->from, b->from);
    assert_string_equal (a->to, b->to);
    assert_string_equal (a->name, b->name);
    assert_int_equal (a->payload_size, b->payload_size);
    assert_memory_equal (a->payload, b->payload, a->payload_size);
    assert_int_equal (a->attempt, b->attempt);
    assert_true (a->created == b->created);
}

//  Encodes env, decodes the result into out and checks the payload lies
//  inside the frame. Returns the frame, which out points into.
static uint8_t *s_roundtrip (const envelope_t *env, envelope_t *out, size_t *size)
{
    uint8_t *frame;
    assert_int_equal (envelope_encode (env, &frame, size), 0);
    uint8_t *exact = harness_copy (frame, *size);
    free (frame);
    assert_int_equal (envelope_decode (out, exact, *size), 0);
    assert_true (out->payload >= exact);
    assert_true (out->payload + out->payload_size <= exact + *size);
    return exact;
}

//  Round-trips env and checks every field came back, the payload as given
//  or, when env has none, as an empty map.
static void s_assert_roundtrip (const envelope_t *env)
{
    envelope_t out;
    size_t size;
    uint8_t *frame = s_roundtrip (env, &out, &size);
    if (env->payload_size) {
        s_assert_env_equal (env, &out);
    } else {
        assert_int_equal (out.payload_size, 1);
        assert_int_equal (out.payload[0], 0x80);
        envelope_t expected = *env;
        expected.payload = out.payload;
        expected.payload_size = 1;
        s_assert_env_equal (&expected, &out);
    }
    free (frame);
}

//  A map nested depth levels deep: {"a": {"a": ... {}}}.
static uint8_t *s_nested (int depth, size_t *size)
{
    *size = (size_t) (depth - 1) * 3 + 1;
    uint8_t *bytes = malloc (*size);
    assert_non_null (bytes);
    for (int i = 0; i < depth - 1; i++)
        memcpy (bytes + i * 3,
                "\x81\xa1"
                "a",
                3);
    bytes[*size - 1] = 0x80;
    return bytes;
}

//  The payload {"b": bin32 of body zero bytes}, 8 + body bytes.
static uint8_t *s_big_payload (size_t body, size_t *size)
{
    *size = 8 + body;
    uint8_t *bytes = calloc (1, *size);
    assert_non_null (bytes);
    memcpy (bytes,
            "\x81\xa1"
            "b\xc6",
            4);
    bytes[4] = (uint8_t) (body >> 24);
    bytes[5] = (uint8_t) (body >> 16);
    bytes[6] = (uint8_t) (body >> 8);
    bytes[7] = (uint8_t) body;
    return bytes;
}

//  Packs a random well-formed object, at most depth containers deep.
static void s_random_object (msgpack_packer *pk, int depth)
{
    static const uint8_t junk[300] = {0};
    int choice = (int) (harness_rand () % (depth > 0 ? 12 : 9));
    size_t n;
    switch (choice) {
    case 0:
        msgpack_pack_nil (pk);
        break;
    case 1:
        harness_rand () & 1 ? msgpack_pack_true (pk) : msgpack_pack_false (pk);
        break;
    case 2:
        msgpack_pack_uint64 (pk, harness_rand () >> (harness_rand () % 64));
        break;
    case 3:
        msgpack_pack_int64 (pk, -(int64_t) (harness_rand () >> (1 + harness_rand () % 63)) - 1);
        break;
    case 4:
        harness_rand () & 1 ? msgpack_pack_float (pk, 1.5f) : msgpack_pack_double (pk, -2.25);
        break;
    case 5:
        n = harness_rand () % 8 == 0 ? harness_rand () % 300 : harness_rand () % 40;
        msgpack_pack_str_with_body (pk, junk, n);
        break;
    case 6:
        n = harness_rand () % 300;
        msgpack_pack_bin_with_body (pk, junk, n);
        break;
    case 7:
    case 8:
        n = harness_rand () % 3 == 0 ? (size_t) 1 << (harness_rand () % 5) : harness_rand () % 300;
        msgpack_pack_ext_with_body (pk, junk, n, (int8_t) (harness_rand () % 128));
        break;
    case 9:
    case 10:
        n = harness_rand () % 6;
        msgpack_pack_array (pk, n);
        for (size_t i = 0; i < n; i++)
            s_random_object (pk, depth - 1);
        break;
    default:
        n = harness_rand () % 5;
        msgpack_pack_map (pk, n);
        for (size_t i = 0; i < 2 * n; i++)
            s_random_object (pk, depth - 1);
    }
}

//  A random payload: a map of random fields, at most depth deep.
static uint8_t *s_random_payload (int depth, size_t *size)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    size_t n = harness_rand () % 5;
    msgpack_pack_map (&pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_str_with_body (&pk, "k", 1);
        s_random_object (&pk, depth - 1);
    }
    return harness_take (&sbuf, size);
}

//  --------------------------------------------------------------------------
//  Frames built field by field, to break one field at a time

#define ENVELOPE_FIELDS 11 //  elements of a frame

typedef void (s_pack_fn) (msgpack_packer *pk);

static const uint8_t s_sample_id[ENVELOPE_ID_SIZE] = {1, 2,  3,  4,  5,  6,  7,  8,
                                                      9, 10, 11, 12, 13, 14, 15, 16};

//  Packs field `field` of a valid command frame; nil past the 11th.
static void s_pack_default (msgpack_packer *pk, size_t field)
{
    switch (field) {
    case 0:
        msgpack_pack_uint8 (pk, ENVELOPE_VERSION);
        break;
    case 1:
        msgpack_pack_uint8 (pk, ENVELOPE_COMMAND);
        break;
    case 2:
    case 4:
        msgpack_pack_bin_with_body (pk, s_sample_id, ENVELOPE_ID_SIZE);
        break;
    case 5:
        msgpack_pack_str_with_body (pk, "teller/t1", 9);
        break;
    case 6:
        msgpack_pack_str_with_body (pk, "account/alice", 13);
        break;
    case 7:
        msgpack_pack_str_with_body (pk, "deposit", 7);
        break;
    case 8:
        msgpack_pack_map (pk, 1);
        msgpack_pack_str_with_body (pk, "amount", 6);
        msgpack_pack_int (pk, 100);
        break;
    case 9:
        msgpack_pack_uint32 (pk, 0);
        break;
    case 10:
        msgpack_pack_uint64 (pk, 1700000000123ull);
        break;
    default:
        msgpack_pack_nil (pk);
    }
}

//  Builds an array of count elements: fns[i] packs element i, or when
//  NULL (or fns is NULL) the valid default. Returns an exact-size buffer.
static uint8_t *s_frame (size_t count, s_pack_fn *const *fns, size_t *size)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, count);
    for (size_t i = 0; i < count; i++) {
        if (fns && i < ENVELOPE_FIELDS && fns[i])
            fns[i](&pk);
        else
            s_pack_default (&pk, i);
    }
    return harness_take (&sbuf, size);
}

//  Decodes a valid frame with element `field` packed by fn instead.
static int s_decode_with (int field, s_pack_fn *fn)
{
    s_pack_fn *fns[ENVELOPE_FIELDS] = {0};
    fns[field] = fn;
    size_t size;
    uint8_t *frame = s_frame (ENVELOPE_FIELDS, fns, &size);
    int rc = s_decode_copy (frame, size);
    free (frame);
    return rc;
}

static void p_nil (msgpack_packer *pk)
{
    msgpack_pack_nil (pk);
}
static void p_true (msgpack_packer *pk)
{
    msgpack_pack_true (pk);
}
static void p_zero (msgpack_packer *pk)
{
    msgpack_pack_uint8 (pk, 0);
}
static void p_two (msgpack_packer *pk)
{
    msgpack_pack_uint8 (pk, 2);
}
static void p_five (msgpack_packer *pk)
{
    msgpack_pack_uint8 (pk, 5);
}
static void p_four (msgpack_packer *pk)
{
    msgpack_pack_uint8 (pk, 4);
}
static void p_256 (msgpack_packer *pk)
{
    msgpack_pack_uint16 (pk, 256);
}
static void p_minus_one (msgpack_packer *pk)
{
    msgpack_pack_int (pk, -1);
}
static void p_int8_two (msgpack_packer *pk)
{
    static const char bytes[] = {(char) 0xd0, 2}; //  int8 2: accepted as uint
    msgpack_sbuffer_write (pk->data, bytes, sizeof bytes);
}
static void p_u32_over (msgpack_packer *pk)
{
    msgpack_pack_uint64 (pk, 1ull << 32);
}
static void p_u63 (msgpack_packer *pk)
{
    msgpack_pack_uint64 (pk, 1ull << 63);
}
static void p_u64_max (msgpack_packer *pk)
{
    msgpack_pack_uint64 (pk, UINT64_MAX);
}
static void p_float (msgpack_packer *pk)
{
    msgpack_pack_double (pk, 1.0);
}
static void p_str_empty (msgpack_packer *pk)
{
    msgpack_pack_str_with_body (pk, "", 0);
}
static void p_str_one (msgpack_packer *pk)
{
    msgpack_pack_str_with_body (pk, "1", 1);
}
static void p_str_16 (msgpack_packer *pk)
{
    msgpack_pack_str_with_body (pk, "0123456789abcdef", 16);
}
static void p_bin_15 (msgpack_packer *pk)
{
    msgpack_pack_bin_with_body (pk, s_sample_id, 15);
}
static void p_bin_17 (msgpack_packer *pk)
{
    static const uint8_t bytes[17] = {0};
    msgpack_pack_bin_with_body (pk, bytes, 17);
}
static void p_bin_address (msgpack_packer *pk)
{
    msgpack_pack_bin_with_body (pk, "account/bob", 11);
}
static void p_ext_16 (msgpack_packer *pk)
{
    msgpack_pack_ext_with_body (pk, s_sample_id, 16, 1);
}
static void p_array_empty (msgpack_packer *pk)
{
    msgpack_pack_array (pk, 0);
}
static void p_array_one (msgpack_packer *pk)
{
    msgpack_pack_array (pk, 1);
    msgpack_pack_int (pk, 1);
}
static void p_map_empty (msgpack_packer *pk)
{
    msgpack_pack_map (pk, 0);
}
static void p_address_no_slash (msgpack_packer *pk)
{
    msgpack_pack_str_with_body (pk, "account", 7);
}
static void p_address_upper (msgpack_packer *pk)
{
    msgpack_pack_str_with_body (pk, "Account/bob", 11);
}
static void p_address_too_long (msgpack_packer *pk)
{
    char s[SHOAL_ADDRESS_MAX + 10];
    memset (s, 'a', sizeof s);
    s[1] = '/';
    msgpack_pack_str_with_body (pk, s, sizeof s);
}
static void p_name_space (msgpack_packer *pk)
{
    msgpack_pack_str_with_body (pk, "de posit", 8);
}
static void p_name_64 (msgpack_packer *pk)
{
    char s[SHOAL_NAME_MAX + 1];
    memset (s, 'n', sizeof s);
    msgpack_pack_str_with_body (pk, s, sizeof s);
}
static void p_name_del (msgpack_packer *pk)
{
    msgpack_pack_str_with_body (pk, "go\x7f", 3);
}
static void p_name_utf8 (msgpack_packer *pk)
{
    msgpack_pack_str_with_body (pk, "d\xc3\xa9p\xc3\xb4t", 7);
}
static void p_name_nul (msgpack_packer *pk)
{
    msgpack_pack_str_with_body (pk, "go\0on", 5);
}
static void p_map_32_huge (msgpack_packer *pk)
{
    static const char bytes[] = {(char) 0xdf, (char) 0xff, (char) 0xff, (char) 0xff, (char) 0xff};
    msgpack_sbuffer_write (pk->data, bytes, sizeof bytes);
}

//  --------------------------------------------------------------------------
//  Usage

//  A teller sends a deposit command to an account; the frame carries the
//  payload untouched and decodes to the same envelope.
static void test_usage_command (void **state)
{
    size_t payload_size;
    uint8_t *payload = s_payload (&payload_size);
    envelope_t command = {0};
    command.kind = ENVELOPE_COMMAND;
    envelope_new_id (command.id);
    strcpy (command.from, "teller/t1");
    strcpy (command.to, "account/alice");
    strcpy (command.name, "deposit");
    command.payload = payload;
    command.payload_size = payload_size;
    command.created = 1700000000000;

    uint8_t *frame;
    size_t size;
    assert_int_equal (envelope_encode (&command, &frame, &size), 0);
    envelope_t received;
    assert_int_equal (envelope_decode (&received, frame, size), 0);
    s_assert_env_equal (&command, &received);
    assert_true (received.payload > frame && received.payload < frame + size);
    assert_memory_equal (received.payload, payload, payload_size);
    free (frame);
    free (payload);
}

//  The account answers the teller: a reply whose correlation is the
//  command's id and whose payload is a reply map.
static void test_usage_reply (void **state)
{
    envelope_t command;
    s_sample (&command);
    size_t data_size;
    uint8_t *data = s_payload (&data_size);
    uint8_t *payload;
    size_t payload_size;
    assert_int_equal (
        envelope_reply_encode (true, NULL, NULL, data, data_size, &payload, &payload_size), 0);

    envelope_t reply = {0};
    reply.kind = ENVELOPE_REPLY;
    envelope_new_id (reply.id);
    memcpy (reply.correlation, command.id, ENVELOPE_ID_SIZE);
    memcpy (reply.causation, command.id, ENVELOPE_ID_SIZE);
    strcpy (reply.from, command.to);
    strcpy (reply.to, command.from);
    strcpy (reply.name, command.name);
    reply.payload = payload;
    reply.payload_size = payload_size;
    reply.created = 1700000000456;

    envelope_t received;
    size_t size;
    uint8_t *frame = s_roundtrip (&reply, &received, &size);
    s_assert_env_equal (&reply, &received);
    assert_memory_equal (received.correlation, command.id, ENVELOPE_ID_SIZE);

    bool ok = false;
    char code[ENVELOPE_CODE_MAX + 1];
    char reason[ENVELOPE_REASON_MAX + 1];
    const uint8_t *fields;
    size_t fields_size;
    assert_int_equal (envelope_reply_decode (received.payload, received.payload_size, &ok, code,
                                             reason, &fields, &fields_size),
                      0);
    assert_true (ok);
    assert_string_equal (code, "");
    assert_string_equal (reason, "");
    assert_int_equal (fields_size, data_size);
    assert_memory_equal (fields, data, data_size);
    assert_true (fields >= received.payload &&
                 fields + fields_size <= received.payload + received.payload_size);
    free (frame);
    free (payload);
    free (data);
}

//  A rejection sent back to a client: from is the actor, to is "".
static void test_usage_client_reply (void **state)
{
    uint8_t *payload;
    size_t payload_size;
    assert_int_equal (envelope_reply_encode (false, "insufficient_funds", "balance 5 < 10", NULL, 0,
                                             &payload, &payload_size),
                      0);
    envelope_t reply = {0};
    reply.kind = ENVELOPE_REPLY;
    envelope_new_id (reply.id);
    envelope_new_id (reply.correlation);
    strcpy (reply.from, "account/alice");
    strcpy (reply.to, "");
    strcpy (reply.name, "withdraw");
    reply.payload = payload;
    reply.payload_size = payload_size;

    envelope_t received;
    size_t size;
    uint8_t *frame = s_roundtrip (&reply, &received, &size);
    s_assert_env_equal (&reply, &received);
    assert_string_equal (received.to, "");

    bool ok = true;
    char code[ENVELOPE_CODE_MAX + 1];
    char reason[ENVELOPE_REASON_MAX + 1];
    const uint8_t *fields;
    size_t fields_size;
    assert_int_equal (envelope_reply_decode (received.payload, received.payload_size, &ok, code,
                                             reason, &fields, &fields_size),
                      0);
    assert_false (ok);
    assert_string_equal (code, "insufficient_funds");
    assert_string_equal (reason, "balance 5 < 10");
    assert_int_equal (fields_size, 1);
    assert_int_equal (fields[0], 0x80);
    free (frame);
    free (payload);
}

//  --------------------------------------------------------------------------
//  Round trips

//  The wire format, byte for byte, of a minimal command.
static void test_golden_bytes (void **state)
{
    envelope_t env = {0};
    env.kind = ENVELOPE_COMMAND;
    memcpy (env.id, s_sample_id, ENVELOPE_ID_SIZE);
    strcpy (env.to, "a/b");
    strcpy (env.name, "go");
    uint8_t *frame;
    size_t size;
    assert_int_equal (envelope_encode (&env, &frame, &size), 0);
    uint8_t expected[] = {0x9b, 0x01, 0x01, 0xc4, 0x10, 1,   2,   3,    4,    5,    6,    7,
                          8,    9,    10,   11,   12,   13,  14,  15,   16,   0xc0, 0xc0, 0xa0,
                          0xa3, 'a',  '/',  'b',  0xa2, 'g', 'o', 0x80, 0x00, 0x00};
    assert_int_equal (size, sizeof expected);
    assert_memory_equal (frame, expected, sizeof expected);
    free (frame);
}

static void test_roundtrip_kinds (void **state)
{
    for (int kind = ENVELOPE_COMMAND; kind <= ENVELOPE_QUERY; kind++) {
        envelope_t env;
        s_sample (&env);
        env.kind = (uint8_t) kind;
        s_assert_roundtrip (&env);
    }
}

static void test_roundtrip_ids (void **state)
{
    envelope_t env;
    s_sample (&env);
    memset (env.id, 0, ENVELOPE_ID_SIZE);
    s_assert_roundtrip (&env);
    memset (env.id, 0xff, ENVELOPE_ID_SIZE);
    envelope_new_id (env.correlation);
    envelope_new_id (env.causation);
    s_assert_roundtrip (&env);

    //  A correlation or causation of all zero travels as nil.
    uint8_t empty = 0x80;
    env.payload = &empty;
    env.payload_size = 1;
    memset (env.correlation, 0, ENVELOPE_ID_SIZE);
    env.causation[0] = 0;
    env.causation[15] = 1;
    envelope_t out;
    size_t size;
    uint8_t *frame = s_roundtrip (&env, &out, &size);
    s_assert_env_equal (&env, &out);
    assert_int_equal (frame[3 + 2 + ENVELOPE_ID_SIZE], 0xc0);
    assert_int_equal (frame[3 + 2 + ENVELOPE_ID_SIZE + 1], 0xc4);
    free (frame);
}

static void test_roundtrip_addresses (void **state)
{
    envelope_t env;
    s_sample (&env);
    env.from[0] = 0;
    s_assert_roundtrip (&env);

    //  The longest address: a 63-byte type and a 200-byte id.
    memset (env.from, 'a', SHOAL_TYPE_MAX);
    env.from[SHOAL_TYPE_MAX] = '/';
    memset (env.from + SHOAL_TYPE_MAX + 1, 'z', SHOAL_ID_MAX);
    env.from[SHOAL_TYPE_MAX + 1 + SHOAL_ID_MAX] = 0;
    strcpy (env.to, "ledger-2_b/caf\xc3\xa9/\xe2\x82\xac 12 \xf0\x9f\x98\x80");
    s_assert_roundtrip (&env);

    env.kind = ENVELOPE_REPLY;
    env.to[0] = 0;
    s_assert_roundtrip (&env);
}

static void test_roundtrip_name (void **state)
{
    envelope_t env;
    s_sample (&env);
    strcpy (env.name, "x");
    s_assert_roundtrip (&env);
    memset (env.name, '~', SHOAL_NAME_MAX);
    env.name[0] = '!';
    env.name[SHOAL_NAME_MAX] = 0;
    s_assert_roundtrip (&env);
}

static void test_roundtrip_attempt_created (void **state)
{
    envelope_t env;
    s_sample (&env);
    uint32_t attempts[] = {0, 1, 127, 128, 65535, 65536, UINT32_MAX};
    int64_t created[] = {0, 1, 4294967295LL, 4294967296LL, INT64_MAX};
    for (size_t i = 0; i < sizeof attempts / sizeof attempts[0]; i++) {
        env.attempt = attempts[i];
        s_assert_roundtrip (&env);
    }
    for (size_t i = 0; i < sizeof created / sizeof created[0]; i++) {
        env.created = created[i];
        s_assert_roundtrip (&env);
    }
    //  Other encoders may write a small uint as a positive signed int.
    assert_int_equal (s_decode_with (9, p_int8_two), 0);
    assert_int_equal (s_decode_with (10, p_int8_two), 0);
}

static void test_roundtrip_payloads (void **state)
{
    envelope_t env;
    s_sample (&env);
    s_assert_roundtrip (&env);

    uint8_t empty = 0x80;
    env.payload = &empty;
    env.payload_size = 1;
    s_assert_roundtrip (&env);

    size_t size;
    uint8_t *deep = s_nested (ENVELOPE_DATA_DEPTH, &size);
    env.payload = deep;
    env.payload_size = size;
    s_assert_roundtrip (&env);
    free (deep);

    harness_rand_seed (42);
    for (int i = 0; i < 2000; i++) {
        uint8_t *payload = s_random_payload (ENVELOPE_DATA_DEPTH, &size);
        env.payload = payload;
        env.payload_size = size;
        s_assert_roundtrip (&env);
        free (payload);
    }
}

//  A frame of exactly ENVELOPE_MAX_SIZE bytes passes; one more byte fails
//  on both sides.
static void test_roundtrip_max_size (void **state)
{
    envelope_t env;
    s_sample (&env);
    uint8_t *frame;
    size_t overhead;
    assert_int_equal (envelope_encode (&env, &frame, &overhead), 0);
    free (frame);
    overhead -= 1; //  the empty map

    size_t payload_size;
    uint8_t *payload = s_big_payload (ENVELOPE_MAX_SIZE - overhead - 8, &payload_size);
    env.payload = payload;
    env.payload_size = payload_size;
    size_t size;
    assert_int_equal (envelope_encode (&env, &frame, &size), 0);
    assert_int_equal (size, ENVELOPE_MAX_SIZE);
    envelope_t out;
    assert_int_equal (envelope_decode (&out, frame, size), 0);
    s_assert_env_equal (&env, &out);
    free (frame);
    free (payload);

    payload = s_big_payload (ENVELOPE_MAX_SIZE - overhead - 7, &payload_size);
    env.payload = payload;
    env.payload_size = payload_size;
    frame = NULL;
    assert_int_equal (envelope_encode (&env, &frame, &size), SHOAL_ETOOBIG);
    assert_null (frame);
    free (payload);
}

//  --------------------------------------------------------------------------
//  Encoding an invalid envelope

static void test_encode_invalid (void **state)
{
    envelope_t env;
    uint8_t *frame = NULL;
    size_t size;

    s_sample (&env);
    env.kind = 0;
    assert_int_equal (envelope_encode (&env, &frame, &size), SHOAL_EINVAL);
    env.kind = 5;
    assert_int_equal (envelope_encode (&env, &frame, &size), SHOAL_EINVAL);

    s_sample (&env);
    strcpy (env.from, "teller");
    assert_int_equal (envelope_encode (&env, &frame, &size), SHOAL_EINVAL);
    s_sample (&env);
    memset (env.from, 'a', sizeof env.from); //  not terminated
    assert_int_equal (envelope_encode (&env, &frame, &size), SHOAL_EINVAL);

    s_sample (&env);
    env.to[0] = 0;
    assert_int_equal (envelope_encode (&env, &frame, &size), SHOAL_EINVAL);
    env.kind = ENVELOPE_QUERY;
    assert_int_equal (envelope_encode (&env, &frame, &size), SHOAL_EINVAL);
    s_sample (&env);
    strcpy (env.to, "account/\x01");
    assert_int_equal (envelope_encode (&env, &frame, &size), SHOAL_EINVAL);

    s_sample (&env);
    env.name[0] = 0;
    assert_int_equal (envelope_encode (&env, &frame, &size), SHOAL_EINVAL);
    strcpy (env.name, "two words");
    assert_int_equal (envelope_encode (&env, &frame, &size), SHOAL_EINVAL);
    memset (env.name, 'n', sizeof env.name); //  not terminated
    assert_int_equal (envelope_encode (&env, &frame, &size), SHOAL_EINVAL);

    s_sample (&env);
    env.created = -1;
    assert_int_equal (envelope_encode (&env, &frame, &size), SHOAL_EINVAL);

    s_sample (&env);
    uint8_t array[] = {0x91, 0x01};
    uint8_t truncated[] = {0x81, 0xa1, 'a'};
    uint8_t trailing[] = {0x80, 0x00};
    env.payload = array;
    env.payload_size = sizeof array;
    assert_int_equal (envelope_encode (&env, &frame, &size), SHOAL_EINVAL);
    env.payload = truncated;
    env.payload_size = sizeof truncated;
    assert_int_equal (envelope_encode (&env, &frame, &size), SHOAL_EINVAL);
    env.payload = trailing;
    env.payload_size = sizeof trailing;
    assert_int_equal (envelope_encode (&env, &frame, &size), SHOAL_EINVAL);
    env.payload = NULL;
    env.payload_size = 4;
    assert_int_equal (envelope_encode (&env, &frame, &size), SHOAL_EINVAL);
    size_t deep_size;
    uint8_t *deep = s_nested (ENVELOPE_MAX_DEPTH + 1, &deep_size);
    env.payload = deep;
    env.payload_size = deep_size;
    assert_int_equal (envelope_encode (&env, &frame, &size), SHOAL_EINVAL);
    free (deep);
    env.payload = array;
    env.payload_size = (size_t) ENVELOPE_MAX_SIZE + 1;
    assert_int_equal (envelope_encode (&env, &frame, &size), SHOAL_ETOOBIG);
    assert_null (frame);
}

//  --------------------------------------------------------------------------
//  Malformed frames

static void test_decode_truncated (void **state)
{
    size_t payload_size;
    uint8_t *payload = s_payload (&payload_size);
    envelope_t env;
    s_sample (&env);
    envelope_new_id (env.correlation);
    env.payload = payload;
    env.payload_size = payload_size;
    uint8_t *frame;
    size_t size;
    assert_int_equal (envelope_encode (&env, &frame, &size), 0);
    assert_int_equal (s_decode_copy (frame, size), 0);
    for (size_t cut = 0; cut < size; cut++)
        assert_int_equal (s_decode_copy (frame, cut), SHOAL_EFORMAT);
    envelope_t out;
    assert_int_equal (envelope_decode (&out, NULL, 0), SHOAL_EFORMAT);
    free (frame);
    free (payload);
}

static void test_decode_wrong_types (void **state)
{
    static const struct {
        int field;
        s_pack_fn *fn;
        int expected;
    } cases[] = {
        {0, p_str_one, SHOAL_EFORMAT},     {0, p_minus_one, SHOAL_EFORMAT},
        {0, p_nil, SHOAL_EFORMAT},         {0, p_float, SHOAL_EFORMAT},
        {1, p_zero, SHOAL_EFORMAT},        {1, p_five, SHOAL_EFORMAT},
        {1, p_256, SHOAL_EFORMAT},         {1, p_minus_one, SHOAL_EFORMAT},
        {1, p_str_one, SHOAL_EFORMAT},     {1, p_true, SHOAL_EFORMAT},
        {2, p_nil, SHOAL_EFORMAT},         {2, p_bin_15, SHOAL_EFORMAT},
        {2, p_bin_17, SHOAL_EFORMAT},      {2, p_str_16, SHOAL_EFORMAT},
        {2, p_ext_16, SHOAL_EFORMAT},      {2, p_array_empty, SHOAL_EFORMAT},
        {3, p_bin_15, SHOAL_EFORMAT},      {3, p_str_16, SHOAL_EFORMAT},
        {3, p_zero, SHOAL_EFORMAT},        {3, p_map_empty, SHOAL_EFORMAT},
        {4, p_bin_17, SHOAL_EFORMAT},      {4, p_true, SHOAL_EFORMAT},
        {5, p_nil, SHOAL_EFORMAT},         {5, p_bin_address, SHOAL_EFORMAT},
        {5, p_zero, SHOAL_EFORMAT},        {5, p_array_one, SHOAL_EFORMAT},
        {6, p_nil, SHOAL_EFORMAT},         {6, p_bin_address, SHOAL_EFORMAT},
        {6, p_map_empty, SHOAL_EFORMAT},   {7, p_nil, SHOAL_EFORMAT},
        {7, p_bin_address, SHOAL_EFORMAT}, {7, p_zero, SHOAL_EFORMAT},
        {8, p_nil, SHOAL_EFORMAT},         {8, p_array_empty, SHOAL_EFORMAT},
        {8, p_array_one, SHOAL_EFORMAT},   {8, p_str_empty, SHOAL_EFORMAT},
        {8, p_bin_15, SHOAL_EFORMAT},      {8, p_zero, SHOAL_EFORMAT},
        {8, p_ext_16, SHOAL_EFORMAT},      {9, p_u32_over, SHOAL_EFORMAT},
        {9, p_minus_one, SHOAL_EFORMAT},   {9, p_str_one, SHOAL_EFORMAT},
        {9, p_float, SHOAL_EFORMAT},       {9, p_nil, SHOAL_EFORMAT},
        {10, p_u63, SHOAL_EFORMAT},        {10, p_u64_max, SHOAL_EFORMAT},
        {10, p_minus_one, SHOAL_EFORMAT},  {10, p_float, SHOAL_EFORMAT},
        {10, p_map_empty, SHOAL_EFORMAT},  {10, p_str_one, SHOAL_EFORMAT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = s_decode_with (cases[i].field, cases[i].fn);
        if (rc != cases[i].expected)
            print_error ("case %zu (field %d): %d\n", i, cases[i].field, rc);
        assert_int_equal (rc, cases[i].expected);
    }
}

static void test_decode_element_count (void **state)
{
    size_t counts[] = {0, 1, 2, 10, 12, 16, 100};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        size_t size;
        uint8_t *frame = s_frame (counts[i], NULL, &size);
        assert_int_equal (s_decode_copy (frame, size), SHOAL_EFORMAT);
        free (frame);
    }
    //  Not an array at all.
    uint8_t map[] = {0x81, 0x01, 0x01};
    uint8_t number[] = {0x01};
    assert_int_equal (s_decode_copy (map, sizeof map), SHOAL_EFORMAT);
    assert_int_equal (s_decode_copy (number, sizeof number), SHOAL_EFORMAT);
}

static const uint8_t *s_raw;
static size_t s_raw_size;

//  Writes s_raw as it is: a field made by hand.
static void p_raw (msgpack_packer *pk)
{
    msgpack_sbuffer_write (pk->data, (const char *) s_raw, s_raw_size);
}

static void test_decode_oversized (void **state)
{
    size_t size = (size_t) ENVELOPE_MAX_SIZE + 1;
    uint8_t *zeros = calloc (1, size);
    assert_non_null (zeros);
    assert_int_equal (s_decode_copy (zeros, size), SHOAL_ETOOBIG);
    free (zeros);

    //  Well-formed frames of exactly the limit and one byte over.
    size_t frame_size;
    uint8_t *frame =
        s_frame (ENVELOPE_FIELDS, (s_pack_fn *[ENVELOPE_FIELDS]){[8] = p_map_empty}, &frame_size);
    size_t overhead = frame_size - 1;
    free (frame);
    for (size_t extra = 0; extra <= 1; extra++) {
        size_t payload_size;
        uint8_t *payload = s_big_payload (ENVELOPE_MAX_SIZE - overhead - 8 + extra, &payload_size);
        s_raw = payload;
        s_raw_size = payload_size;
        frame = s_frame (ENVELOPE_FIELDS, (s_pack_fn *[ENVELOPE_FIELDS]){[8] = p_raw}, &frame_size);
        assert_int_equal (frame_size, ENVELOPE_MAX_SIZE + extra);
        assert_int_equal (s_decode_copy (frame, frame_size), extra ? SHOAL_ETOOBIG : 0);
        free (frame);
        free (payload);
    }
}

static void test_decode_bad_version (void **state)
{
    assert_int_equal (s_decode_with (0, p_zero), SHOAL_EVERSION);
    assert_int_equal (s_decode_with (0, p_two), SHOAL_EVERSION);
    assert_int_equal (s_decode_with (0, p_256), SHOAL_EVERSION);
    assert_int_equal (s_decode_with (0, p_u64_max), SHOAL_EVERSION);
    //  The version is judged before the element count and the fields.
    s_pack_fn *fns[ENVELOPE_FIELDS] = {p_two, p_nil, p_nil, p_true};
    size_t size;
    uint8_t *frame = s_frame (ENVELOPE_FIELDS, fns, &size);
    assert_int_equal (s_decode_copy (frame, size), SHOAL_EVERSION);
    free (frame);
    frame = s_frame (12, fns, &size);
    assert_int_equal (s_decode_copy (frame, size), SHOAL_EVERSION);
    free (frame);
    frame = s_frame (1, fns, &size);
    assert_int_equal (s_decode_copy (frame, size), SHOAL_EVERSION);
    free (frame);
}

typedef struct {
    const char *bytes;
    size_t len;
} s_address_t;

#define ADDRESS(literal)                                                                           \
    {                                                                                              \
        literal, sizeof (literal) - 1                                                              \
    }

static const s_address_t s_bad_addresses[] = {
    ADDRESS (""),
    ADDRESS ("a"),
    ADDRESS ("account"),
    ADDRESS ("/alice"),
    ADDRESS ("account/"),
    ADDRESS ("Account/alice"),
    ADDRESS ("acCount/alice"),
    ADDRESS ("1account/alice"),
    ADDRESS ("_account/alice"),
    ADDRESS ("-account/alice"),
    ADDRESS ("acc.ount/alice"),
    ADDRESS ("acc ount/alice"),
    ADDRESS ("acc\xc3\xa9/alice"),
    ADDRESS ("account/al\0ice"),
    ADDRESS ("account/\0"),
    ADDRESS ("account/al\x01ice"),
    ADDRESS ("account/al\tice"),
    ADDRESS ("account/al\nice"),
    ADDRESS ("account/al\x1fice"),
    ADDRESS ("account/al\x7fice"),
    ADDRESS ("account/\xc0\xaf"),         //  overlong '/'
    ADDRESS ("account/\xc1\xbf"),         //  overlong
    ADDRESS ("account/\xe0\x80\xaf"),     //  overlong
    ADDRESS ("account/\xf0\x80\x80\xaf"), //  overlong
    ADDRESS ("account/\xed\xa0\x80"),     //  surrogate U+D800
    ADDRESS ("account/\xed\xbf\xbf"),     //  surrogate U+DFFF
    ADDRESS ("account/\xf4\x90\x80\x80"), //  U+110000
    ADDRESS ("account/\xf5\x80\x80\x80"),
    ADDRESS ("account/\xff"),
    ADDRESS ("account/\x80"),     //  lone continuation byte
    ADDRESS ("account/\xc3"),     //  truncated sequence
    ADDRESS ("account/\xe2\x82"), //  truncated sequence
    ADDRESS ("account/\xc3\x28"), //  bad continuation byte
    ADDRESS ("account/\xe2\x28\xa1"),
    ADDRESS ("account/\xf0\x9f\x98"),
};

static const s_address_t s_good_addresses[] = {
    ADDRESS ("a/b"),
    ADDRESS ("a0/1"),
    ADDRESS ("account/alice"),
    ADDRESS ("ledger_2-b/Alice Smith"),
    ADDRESS ("account/a/b"),
    ADDRESS ("account//"),
    ADDRESS ("account/\xc3\xa9"),
    ADDRESS ("account/\xe2\x82\xac"),
    ADDRESS ("account/\xf0\x9f\x98\x80"),
    ADDRESS ("account/\xef\xbf\xbf"),     //  U+FFFF
    ADDRESS ("account/\xf4\x8f\xbf\xbf"), //  U+10FFFF
    ADDRESS ("account/\xed\x9f\xbf"),     //  U+D7FF
    ADDRESS ("account/\xee\x80\x80"),     //  U+E000
    ADDRESS ("account/~"),
};

//  Builds "<type_len bytes of type>/<id_len bytes of id>" into buf.
static size_t s_long_address (char *buf, size_t type_len, size_t id_len, const char *id_unit)
{
    memset (buf, 't', type_len);
    buf[type_len] = '/';
    size_t unit = strlen (id_unit);
    for (size_t i = 0; i < id_len; i += unit)
        memcpy (buf + type_len + 1 + i, id_unit, unit);
    return type_len + 1 + id_len;
}

static void test_address_check_valid (void **state)
{
    for (size_t i = 0; i < sizeof s_good_addresses / sizeof s_good_addresses[0]; i++) {
        int rc = shoal_address_check (s_good_addresses[i].bytes, s_good_addresses[i].len);
        if (rc)
            print_error ("good address %zu rejected\n", i);
        assert_int_equal (rc, 0);
    }
    char buf[SHOAL_ADDRESS_MAX + 64];
    assert_int_equal (shoal_address_check (buf, s_long_address (buf, SHOAL_TYPE_MAX, 1, "x")), 0);
    assert_int_equal (shoal_address_check (buf, s_long_address (buf, 1, SHOAL_ID_MAX, "x")), 0);
    assert_int_equal (
        shoal_address_check (buf, s_long_address (buf, 1, SHOAL_ID_MAX, "\xf0\x9f\x98\x80")), 0);
    size_t len = s_long_address (buf, SHOAL_TYPE_MAX, SHOAL_ID_MAX, "x");
    assert_true (len <= SHOAL_ADDRESS_MAX);
    assert_int_equal (shoal_address_check (buf, len), 0);
    //  Only len bytes count: what follows is not read.
    assert_int_equal (shoal_address_check ("account/alice\x01", 13), 0);
}

//  A reaction's sender, "projection/NAME", told from every other address.
static void test_address_is_projection (void **state)
{
    (void) state;
    assert_true (shoal_address_is_projection ("projection/large_debits"));
    assert_false (shoal_address_is_projection ("projection/"));
    assert_false (shoal_address_is_projection ("projections/large_debits"));
    assert_false (shoal_address_is_projection ("projectio/x"));
    assert_false (shoal_address_is_projection ("transfer/t1"));
    assert_false (shoal_address_is_projection (""));
    assert_false (shoal_address_is_projection (NULL));
}

static void test_address_check_invalid (void **state)
{
    for (size_t i = 0; i < sizeof s_bad_addresses / sizeof s_bad_addresses[0]; i++) {
        char *copy = (char *) harness_copy (s_bad_addresses[i].bytes, s_bad_addresses[i].len);
        int rc = shoal_address_check (copy, s_bad_addresses[i].len);
        free (copy);
        if (rc != SHOAL_EADDRESS)
            print_error ("bad address %zu accepted\n", i);
        assert_int_equal (rc, SHOAL_EADDRESS);
    }
    char buf[SHOAL_ADDRESS_MAX + 64];
    assert_int_equal (shoal_address_check (buf, s_long_address (buf, SHOAL_TYPE_MAX + 1, 1, "x")),
                      SHOAL_EADDRESS);
    assert_int_equal (shoal_address_check (buf, s_long_address (buf, 1, SHOAL_ID_MAX + 1, "x")),
                      SHOAL_EADDRESS);
    assert_int_equal (
        shoal_address_check (buf, s_long_address (buf, 1, SHOAL_ID_MAX + 4, "\xf0\x9f\x98\x80")),
        SHOAL_EADDRESS);
    assert_int_equal (shoal_address_check (NULL, 5), SHOAL_EADDRESS);
    //  A multi-byte character cut by len.
    assert_int_equal (shoal_address_check ("account/\xe2\x82\xac", 10), SHOAL_EADDRESS);
}

static const s_address_t *s_address_under_test;

static void p_address_under_test (msgpack_packer *pk)
{
    msgpack_pack_str_with_body (pk, s_address_under_test->bytes, s_address_under_test->len);
}

static void test_decode_bad_addresses (void **state)
{
    for (size_t i = 0; i < sizeof s_bad_addresses / sizeof s_bad_addresses[0]; i++) {
        s_address_under_test = &s_bad_addresses[i];
        int expected = s_bad_addresses[i].len == 0 ? 0 : SHOAL_EADDRESS;
        assert_int_equal (s_decode_with (5, p_address_under_test), expected);
        assert_int_equal (s_decode_with (6, p_address_under_test), SHOAL_EADDRESS);
    }
    for (size_t i = 0; i < sizeof s_good_addresses / sizeof s_good_addresses[0]; i++) {
        s_address_under_test = &s_good_addresses[i];
        assert_int_equal (s_decode_with (5, p_address_under_test), 0);
        assert_int_equal (s_decode_with (6, p_address_under_test), 0);
    }
    assert_int_equal (s_decode_with (5, p_address_no_slash), SHOAL_EADDRESS);
    assert_int_equal (s_decode_with (6, p_address_upper), SHOAL_EADDRESS);
    assert_int_equal (s_decode_with (5, p_address_too_long), SHOAL_EADDRESS);
    assert_int_equal (s_decode_with (6, p_address_too_long), SHOAL_EADDRESS);

    //  "" is a valid `to` only for a reply; a query has no such excuse.
    s_pack_fn *fns[ENVELOPE_FIELDS] = {0};
    fns[6] = p_str_empty;
    size_t size;
    uint8_t *frame = s_frame (ENVELOPE_FIELDS, fns, &size);
    assert_int_equal (s_decode_copy (frame, size), SHOAL_EADDRESS);
    free (frame);
    fns[1] = p_two;
    frame = s_frame (ENVELOPE_FIELDS, fns, &size);
    assert_int_equal (s_decode_copy (frame, size), 0);
    free (frame);
    fns[1] = p_four;
    frame = s_frame (ENVELOPE_FIELDS, fns, &size);
    assert_int_equal (s_decode_copy (frame, size), SHOAL_EADDRESS);
    free (frame);
}

static void test_decode_bad_name (void **state)
{
    assert_int_equal (s_decode_with (7, p_str_empty), SHOAL_EFORMAT);
    assert_int_equal (s_decode_with (7, p_name_space), SHOAL_EFORMAT);
    assert_int_equal (s_decode_with (7, p_name_64), SHOAL_EFORMAT);
    assert_int_equal (s_decode_with (7, p_name_del), SHOAL_EFORMAT);
    assert_int_equal (s_decode_with (7, p_name_utf8), SHOAL_EFORMAT);
    assert_int_equal (s_decode_with (7, p_name_nul), SHOAL_EFORMAT);
    assert_int_equal (s_decode_with (7, p_str_16), 0);
}

static void test_decode_payload_not_map (void **state)
{
    assert_int_equal (s_decode_with (8, p_array_empty), SHOAL_EFORMAT);
    assert_int_equal (s_decode_with (8, p_str_one), SHOAL_EFORMAT);
    assert_int_equal (s_decode_with (8, p_nil), SHOAL_EFORMAT);
    assert_int_equal (s_decode_with (8, p_true), SHOAL_EFORMAT);
    assert_int_equal (s_decode_with (8, p_bin_17), SHOAL_EFORMAT);
    assert_int_equal (s_decode_with (8, p_map_empty), 0);
}

static void test_decode_depth (void **state)
{
    //  A command's payload is a data map: SHOAL_DATA_DEPTH deep at most.
    uint8_t *deep = s_nested (ENVELOPE_DATA_DEPTH, &s_raw_size);
    s_raw = deep;
    assert_int_equal (s_decode_with (8, p_raw), 0);
    free (deep);

    deep = s_nested (ENVELOPE_DATA_DEPTH + 1, &s_raw_size);
    s_raw = deep;
    assert_int_equal (s_decode_with (8, p_raw), SHOAL_EFORMAT);
    free (deep);

    //  A reply's holds the replier's data one level down, and more.
    s_pack_fn *fns[ENVELOPE_FIELDS] = {[1] = p_two, [8] = p_raw};
    deep = s_nested (ENVELOPE_MAX_DEPTH, &s_raw_size);
    s_raw = deep;
    size_t frame_size;
    uint8_t *frame = s_frame (ENVELOPE_FIELDS, fns, &frame_size);
    assert_int_equal (s_decode_copy (frame, frame_size), 0);
    free (frame);
    free (deep);
    deep = s_nested (ENVELOPE_MAX_DEPTH + 1, &s_raw_size);
    s_raw = deep;
    frame = s_frame (ENVELOPE_FIELDS, fns, &frame_size);
    assert_int_equal (s_decode_copy (frame, frame_size), SHOAL_EFORMAT);
    free (frame);
    free (deep);

    //  Far too deep, in another field: no stack overflow, just an error.
    size_t size = 100000;
    deep = malloc (size);
    assert_non_null (deep);
    memset (deep, 0x91, size - 1);
    deep[size - 1] = 0x90;
    s_raw = deep;
    s_raw_size = size;
    assert_int_equal (s_decode_with (7, p_raw), SHOAL_EFORMAT);
    assert_int_equal (s_check_copy (deep, size), SHOAL_EFORMAT);
    free (deep);
}

static void test_decode_huge_counts (void **state)
{
    const uint8_t frames[][6] = {
        {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01}, //  array32 of 2^32-1
        {0xdf, 0xff, 0xff, 0xff, 0xff, 0x01}, //  map32 of 2^32-1
        {0xdc, 0xff, 0xff, 0x01, 0x01, 0x01}, //  array16 of 65535
        {0xde, 0x00, 0x03, 0x01, 0x01, 0x01}, //  map16 of 3 pairs, 5 bytes
        {0x9b, 0xdb, 0xff, 0xff, 0xff, 0xff}, //  str32 of 4 GiB
        {0x9b, 0xc6, 0xff, 0xff, 0xff, 0xff}, //  bin32 of 4 GiB
        {0x9b, 0xc9, 0xff, 0xff, 0xff, 0xff}, //  ext32 of 4 GiB
        {0x9b, 0x01, 0x01, 0xc5, 0xff, 0xff}, //  bin16 of 64 KiB
    };
    for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++) {
        assert_int_equal (s_decode_copy (frames[i], sizeof frames[i]), SHOAL_EFORMAT);
        assert_int_equal (s_check_copy (frames[i], sizeof frames[i]), SHOAL_EFORMAT);
    }
    //  As the payload, with the frame's own elements after it.
    assert_int_equal (s_decode_with (8, p_map_32_huge), SHOAL_EFORMAT);
}

static void test_decode_trailing (void **state)
{
    size_t size;
    uint8_t *frame = s_frame (ENVELOPE_FIELDS, NULL, &size);
    uint8_t *longer = malloc (2 * size);
    assert_non_null (longer);
    memcpy (longer, frame, size);
    longer[size] = 0x00;
    assert_int_equal (s_decode_copy (longer, size + 1), SHOAL_EFORMAT);
    longer[size] = 0xc0;
    assert_int_equal (s_decode_copy (longer, size + 1), SHOAL_EFORMAT);
    memcpy (longer + size, frame, size);
    assert_int_equal (s_decode_copy (longer, 2 * size), SHOAL_EFORMAT);
    assert_int_equal (s_decode_copy (longer, size), 0);
    free (longer);
    free (frame);
}

//  --------------------------------------------------------------------------
//  The msgpack walker

typedef struct {
    const char *bytes;
    size_t len;
} s_object_t;

#define OBJECT(literal)                                                                            \
    {                                                                                              \
        literal, sizeof (literal) - 1                                                              \
    }

static const s_object_t s_every_format[] = {
    OBJECT ("\xc0"),                                 //  nil
    OBJECT ("\xc2"),                                 //  false
    OBJECT ("\xc3"),                                 //  true
    OBJECT ("\x00"),                                 //  positive fixint
    OBJECT ("\x7f"),                                 //  positive fixint
    OBJECT ("\xe0"),                                 //  negative fixint
    OBJECT ("\xff"),                                 //  negative fixint
    OBJECT ("\xcc\xff"),                             //  uint8
    OBJECT ("\xcd\x01\x00"),                         //  uint16
    OBJECT ("\xce\x01\x00\x00\x00"),                 //  uint32
    OBJECT ("\xcf\x01\x00\x00\x00\x00\x00\x00\x00"), //  uint64
    OBJECT ("\xd0\x80"),                             //  int8
    OBJECT ("\xd1\x80\x00"),                         //  int16
    OBJECT ("\xd2\x80\x00\x00\x00"),                 //  int32
    OBJECT ("\xd3\x80\x00\x00\x00\x00\x00\x00\x00"), //  int64
    OBJECT ("\xca\x3f\xc0\x00\x00"),                 //  float32
    OBJECT ("\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00"), //  float64
    OBJECT ("\xa0"),                                 //  fixstr ""
    OBJECT ("\xa3"
            "abc"), //  fixstr
    OBJECT ("\xd9\x03"
            "abc"), //  str8
    OBJECT ("\xda\x00\x03"
            "abc"), //  str16
    OBJECT ("\xdb\x00\x00\x00\x03"
            "abc"),                          //  str32
    OBJECT ("\xc4\x00"),                     //  bin8 empty
    OBJECT ("\xc4\x02\x00\x01"),             //  bin8
    OBJECT ("\xc5\x00\x02\x00\x01"),         //  bin16
    OBJECT ("\xc6\x00\x00\x00\x02\x00\x01"), //  bin32
    OBJECT ("\xd4\x01\xaa"),                 //  fixext1
    OBJECT ("\xd5\x01\xaa\xbb"),             //  fixext2
    OBJECT ("\xd6\xff\x00\x00\x00\x01"),     //  fixext4, a timestamp
    OBJECT ("\xd7\x01"
            "12345678"), //  fixext8
    OBJECT ("\xd8\x01"
            "0123456789abcdef"), //  fixext16
    OBJECT ("\xc7\x00\x01"),     //  ext8 empty
    OBJECT ("\xc7\x03\x01"
            "abc"), //  ext8
    OBJECT ("\xc8\x00\x03\x01"
            "abc"), //  ext16
    OBJECT ("\xc9\x00\x00\x00\x03\x01"
            "abc"),                          //  ext32
    OBJECT ("\x90"),                         //  fixarray empty
    OBJECT ("\x92\x01\x02"),                 //  fixarray
    OBJECT ("\xdc\x00\x02\x01\x02"),         //  array16
    OBJECT ("\xdd\x00\x00\x00\x02\x01\x02"), //  array32
    OBJECT ("\x80"),                         //  fixmap empty
    OBJECT ("\x81\x01\x02"),                 //  fixmap
    OBJECT ("\xde\x00\x01\x01\x02"),         //  map16
    OBJECT ("\xdf\x00\x00\x00\x01\x01\x02"), //  map32
    OBJECT ("\x82\xa1"
            "a\x91\xc0\xc4\x01\x00\x81\xc0\xd4\x00\x00"), //  mixed
};

//  Every format is accepted, as msgpack-c accepts it; each is refused when
//  cut short or followed by another byte.
static void test_check_msgpack_formats (void **state)
{
    for (size_t i = 0; i < sizeof s_every_format / sizeof s_every_format[0]; i++) {
        const uint8_t *bytes = (const uint8_t *) s_every_format[i].bytes;
        size_t len = s_every_format[i].len;
        if (s_check_copy (bytes, len) != 0)
            print_error ("format %zu refused\n", i);
        assert_int_equal (s_check_copy (bytes, len), 0);
        harness_assert_one_msgpack (bytes, len);

        for (size_t cut = 0; cut < len; cut++)
            assert_int_equal (s_check_copy (bytes, cut), SHOAL_EFORMAT);
        uint8_t *longer = malloc (len + 1);
        assert_non_null (longer);
        memcpy (longer, bytes, len);
        longer[len] = 0xc0;
        assert_int_equal (s_check_copy (longer, len + 1), SHOAL_EFORMAT);
        free (longer);
    }
}

static void test_check_msgpack_invalid (void **state)
{
    assert_int_equal (envelope_check_msgpack (NULL, 0), SHOAL_EFORMAT);
    assert_int_equal (s_check_copy ((const uint8_t *) "", 0), SHOAL_EFORMAT);
    assert_int_equal (s_check_copy ((const uint8_t *) "\xc1", 1), SHOAL_EFORMAT);
    assert_int_equal (s_check_copy ((const uint8_t *) "\x91\xc1", 2), SHOAL_EFORMAT);
    assert_int_equal (s_check_copy ((const uint8_t *) "\x81\x01", 2), SHOAL_EFORMAT);
    assert_int_equal (s_check_copy ((const uint8_t *) "\x01\x01", 2), SHOAL_EFORMAT);

    size_t size;
    uint8_t *deep = s_nested (ENVELOPE_MAX_DEPTH, &size);
    assert_int_equal (s_check_copy (deep, size), 0);
    free (deep);
    deep = s_nested (ENVELOPE_MAX_DEPTH + 1, &size);
    assert_int_equal (s_check_copy (deep, size), SHOAL_EFORMAT);
    free (deep);
    //  Depth counts containers, not scalars: 32 arrays around a number.
    uint8_t arrays[ENVELOPE_MAX_DEPTH + 2];
    memset (arrays, 0x91, sizeof arrays);
    arrays[ENVELOPE_MAX_DEPTH] = 0x01;
    assert_int_equal (s_check_copy (arrays, ENVELOPE_MAX_DEPTH + 1), 0);
    arrays[ENVELOPE_MAX_DEPTH + 1] = 0x01;
    assert_int_equal (s_check_copy (arrays, ENVELOPE_MAX_DEPTH + 2), SHOAL_EFORMAT);
}

//  Random well-formed objects pass, msgpack-c agrees, and no proper prefix
//  of one passes (msgpack is prefix-free).
static void test_check_msgpack_random_objects (void **state)
{
    harness_rand_seed (7);
    for (int i = 0; i < 3000; i++) {
        msgpack_sbuffer sbuf;
        msgpack_sbuffer_init (&sbuf);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
        s_random_object (&pk, 1 + (int) (harness_rand () % ENVELOPE_MAX_DEPTH));
        size_t size;
        uint8_t *bytes = harness_take (&sbuf, &size);
        assert_int_equal (s_check_copy (bytes, size), 0);
        harness_assert_one_msgpack (bytes, size);
        size_t cut = (size_t) (harness_rand () % size);
        assert_int_equal (s_check_copy (bytes, cut), SHOAL_EFORMAT);
        free (bytes);
    }
}

//  --------------------------------------------------------------------------
//  Fuzzing

//  Decodes an exact copy of bytes. On success the envelope must satisfy
//  every field rule, re-encode, and decode again to the same envelope; on
//  failure the code must be one decode documents. Where the walker accepts
//  the bytes, msgpack-c must parse them too.
static int s_decode_property (const uint8_t *bytes, size_t size)
{
    uint8_t *copy = harness_copy (bytes, size);
    envelope_t env;
    int rc = envelope_decode (&env, copy, size);
    assert_true (rc == 0 || rc == SHOAL_EFORMAT || rc == SHOAL_EVERSION || rc == SHOAL_EADDRESS ||
                 rc == SHOAL_ETOOBIG);
    if (rc == 0) {
        assert_true (env.kind >= ENVELOPE_COMMAND && env.kind <= ENVELOPE_QUERY);
        assert_true (env.payload >= copy && env.payload + env.payload_size <= copy + size);
        assert_true (env.created >= 0);
        uint8_t *frame;
        size_t frame_size;
        assert_int_equal (envelope_encode (&env, &frame, &frame_size), 0);
        envelope_t again;
        assert_int_equal (envelope_decode (&again, frame, frame_size), 0);
        s_assert_env_equal (&env, &again);
        free (frame);
    }
    if (envelope_check_msgpack (copy, size) == 0)
        harness_assert_one_msgpack (copy, size);
    bool ok;
    char code[ENVELOPE_CODE_MAX + 1];
    char reason[ENVELOPE_REASON_MAX + 1];
    const uint8_t *data;
    size_t data_size;
    int reply_rc = envelope_reply_decode (copy, size, &ok, code, reason, &data, &data_size);
    assert_true (reply_rc == 0 || reply_rc == SHOAL_EFORMAT);
    free (copy);
    return rc;
}

static void test_fuzz_random (void **state)
{
    uint64_t seed = s_seed ();
    print_message ("fuzz seed 0x%llx (SHOAL_FUZZ_SEED to replay)\n", (unsigned long long) seed);
    harness_rand_seed (seed);
    size_t frame_size;
    uint8_t *frame = s_frame (ENVELOPE_FIELDS, NULL, &frame_size);
    uint8_t buf[512];
    int errors = 0;
    for (int i = 0; i < 100000; i++) {
        size_t size = (size_t) (harness_rand () % sizeof buf);
        for (size_t j = 0; j < size; j++)
            buf[j] = (uint8_t) harness_rand ();
        //  A quarter start as a real frame does, to get past the header.
        if (i % 4 == 0) {
            size_t keep = (size_t) (harness_rand () % frame_size);
            memcpy (buf, frame, keep < size ? keep : size);
        }
        errors += s_decode_property (buf, size) != 0;
    }
    assert_true (errors > 0);
    free (frame);
}

static void test_fuzz_flips (void **state)
{
    uint64_t seed = s_seed () ^ 0xf11b;
    print_message ("flip seed 0x%llx\n", (unsigned long long) seed);
    harness_rand_seed (seed);
    size_t payload_size;
    uint8_t *payload = s_payload (&payload_size);
    envelope_t env;
    s_sample (&env);
    env.kind = ENVELOPE_REPLY;
    envelope_new_id (env.correlation);
    env.payload = payload;
    env.payload_size = payload_size;
    uint8_t *frame;
    size_t size;
    assert_int_equal (envelope_encode (&env, &frame, &size), 0);
    uint8_t *mutant = malloc (size);
    assert_non_null (mutant);
    int decoded = 0, failed = 0;
    for (int i = 0; i < 100000; i++) {
        memcpy (mutant, frame, size);
        int flips = 1 + (int) (harness_rand () % 4);
        for (int f = 0; f < flips; f++) {
            size_t at = (size_t) (harness_rand () % size);
            if (harness_rand () & 1)
                mutant[at] ^= (uint8_t) (1u << (harness_rand () % 8));
            else
                mutant[at] = (uint8_t) harness_rand ();
        }
        if (s_decode_property (mutant, size) == 0)
            decoded++;
        else
            failed++;
    }
    //  Flips inside ids and strings often keep a frame valid; flips in
    //  the structure do not.
    assert_true (decoded > 0);
    assert_true (failed > 0);
    free (mutant);
    free (frame);
    free (payload);
}

//  --------------------------------------------------------------------------
//  Reply payloads

typedef struct {
    bool ok;
    char code[ENVELOPE_CODE_MAX + 1];
    char reason[ENVELOPE_REASON_MAX + 1];
    const uint8_t *data;
    size_t data_size;
} s_reply_t;

static int s_reply_decode (const uint8_t *bytes, size_t size, s_reply_t *reply)
{
    return envelope_reply_decode (bytes, size, &reply->ok, reply->code, reply->reason, &reply->data,
                                  &reply->data_size);
}

static int s_reply_decode_copy (const uint8_t *bytes, size_t size)
{
    uint8_t *copy = harness_copy (bytes, size);
    s_reply_t reply;
    int rc = s_reply_decode (copy, size, &reply);
    free (copy);
    return rc;
}

static void test_reply_roundtrip (void **state)
{
    char code[ENVELOPE_CODE_MAX + 1];
    char reason[ENVELOPE_REASON_MAX + 1];
    memset (code, 'c', ENVELOPE_CODE_MAX);
    code[ENVELOPE_CODE_MAX] = 0;
    memset (reason, 'r', ENVELOPE_REASON_MAX);
    reason[ENVELOPE_REASON_MAX] = 0;
    size_t data_size;
    uint8_t *data = s_payload (&data_size);

    uint8_t *payload;
    size_t size;
    assert_int_equal (envelope_reply_encode (false, code, reason, data, data_size, &payload, &size),
                      0);
    assert_int_equal (envelope_check_msgpack (payload, size), 0);
    s_reply_t reply;
    assert_int_equal (s_reply_decode (payload, size, &reply), 0);
    assert_false (reply.ok);
    assert_string_equal (reply.code, code);
    assert_string_equal (reply.reason, reason);
    assert_int_equal (reply.data_size, data_size);
    assert_memory_equal (reply.data, data, data_size);
    free (payload);

    assert_int_equal (envelope_reply_encode (true, "", "", NULL, 0, &payload, &size), 0);
    assert_int_equal (s_reply_decode (payload, size, &reply), 0);
    assert_true (reply.ok);
    assert_string_equal (reply.code, "");
    assert_int_equal (reply.data_size, 1);
    assert_int_equal (reply.data[0], 0x80);
    free (payload);
    free (data);
}

//  One key and value of a hand-built reply map; a NULL key is written as
//  the integer 1.
typedef struct {
    const char *key;
    s_pack_fn *value;
} s_entry_t;

static void p_false (msgpack_packer *pk)
{
    msgpack_pack_false (pk);
}
static void p_code (msgpack_packer *pk)
{
    msgpack_pack_str_with_body (pk, "nope", 4);
}
static void p_code_64 (msgpack_packer *pk)
{
    char s[ENVELOPE_CODE_MAX + 1];
    memset (s, 'c', sizeof s);
    msgpack_pack_str_with_body (pk, s, sizeof s);
}
static void p_reason_256 (msgpack_packer *pk)
{
    char s[ENVELOPE_REASON_MAX + 1];
    memset (s, 'r', sizeof s);
    msgpack_pack_str_with_body (pk, s, sizeof s);
}
static void p_str_nul (msgpack_packer *pk)
{
    msgpack_pack_str_with_body (pk, "a\0b", 3);
}
static void p_data (msgpack_packer *pk)
{
    msgpack_pack_map (pk, 1);
    msgpack_pack_str_with_body (pk, "n", 1);
    msgpack_pack_int (pk, 7);
}

static uint8_t *s_reply_map (const s_entry_t *entries, size_t count, size_t *size)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, count);
    for (size_t i = 0; i < count; i++) {
        if (entries[i].key)
            msgpack_pack_str_with_body (&pk, entries[i].key, strlen (entries[i].key));
        else
            msgpack_pack_int (&pk, 1);
        entries[i].value (&pk);
    }
    return harness_take (&sbuf, size);
}

static void test_reply_key_order (void **state)
{
    const s_entry_t reversed[] = {
        {"data", p_data}, {"reason", p_str_one}, {"code", p_code}, {"ok", p_false}};
    size_t size;
    uint8_t *bytes = s_reply_map (reversed, 4, &size);
    s_reply_t reply;
    assert_int_equal (s_reply_decode (bytes, size, &reply), 0);
    assert_false (reply.ok);
    assert_string_equal (reply.code, "nope");
    assert_string_equal (reply.reason, "1");
    assert_int_equal (reply.data_size, 4);
    assert_memory_equal (reply.data, "\x81\xa1n\x07", 4);
    free (bytes);

    //  An unknown key is skipped, whatever its value.
    const s_entry_t extra[] = {{"ok", p_true},
                               {"trace", p_array_one},
                               {"code", p_str_empty},
                               {"reason", p_str_empty},
                               {"data", p_map_empty}};
    bytes = s_reply_map (extra, 5, &size);
    assert_int_equal (s_reply_decode (bytes, size, &reply), 0);
    assert_true (reply.ok);
    free (bytes);
}

static void test_reply_decode_invalid (void **state)
{
    static const struct {
        s_entry_t entries[5];
        size_t count;
    } cases[] = {
        //  missing keys
        {{{"ok", p_true}, {"code", p_str_empty}, {"reason", p_str_empty}}, 3},
        {{{"code", p_str_empty}, {"reason", p_str_empty}, {"data", p_map_empty}}, 3},
        //  a key twice
        {{{"ok", p_true},
          {"code", p_str_empty},
          {"reason", p_str_empty},
          {"data", p_map_empty},
          {"ok", p_true}},
         5},
        //  wrong types
        {{{"ok", p_zero}, {"code", p_str_empty}, {"reason", p_str_empty}, {"data", p_map_empty}},
         4},
        {{{"ok", p_false}, {"code", p_bin_15}, {"reason", p_str_empty}, {"data", p_map_empty}}, 4},
        {{{"ok", p_false}, {"code", p_code}, {"reason", p_nil}, {"data", p_map_empty}}, 4},
        {{{"ok", p_true}, {"code", p_str_empty}, {"reason", p_str_empty}, {"data", p_array_one}},
         4},
        {{{"ok", p_true}, {"code", p_str_empty}, {"reason", p_str_empty}, {"data", p_nil}}, 4},
        {{{"ok", p_true}, {"code", p_str_empty}, {"reason", p_str_empty}, {NULL, p_map_empty}}, 4},
        //  lengths and contents
        {{{"ok", p_false}, {"code", p_code_64}, {"reason", p_str_empty}, {"data", p_map_empty}}, 4},
        {{{"ok", p_false}, {"code", p_code}, {"reason", p_reason_256}, {"data", p_map_empty}}, 4},
        {{{"ok", p_false}, {"code", p_str_nul}, {"reason", p_str_empty}, {"data", p_map_empty}}, 4},
        {{{"ok", p_false}, {"code", p_code}, {"reason", p_str_nul}, {"data", p_map_empty}}, 4},
        //  ok with a code, or a rejection without one
        {{{"ok", p_true}, {"code", p_code}, {"reason", p_str_empty}, {"data", p_map_empty}}, 4},
        {{{"ok", p_true}, {"code", p_str_empty}, {"reason", p_str_one}, {"data", p_map_empty}}, 4},
        {{{"ok", p_false}, {"code", p_str_empty}, {"reason", p_str_one}, {"data", p_map_empty}}, 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t size;
        uint8_t *bytes = s_reply_map (cases[i].entries, cases[i].count, &size);
        int rc = s_reply_decode_copy (bytes, size);
        if (rc != SHOAL_EFORMAT)
            print_error ("reply case %zu: %d\n", i, rc);
        assert_int_equal (rc, SHOAL_EFORMAT);
        free (bytes);
    }

    uint8_t *payload;
    size_t size;
    assert_int_equal (envelope_reply_encode (false, "no", "why", NULL, 0, &payload, &size), 0);
    for (size_t cut = 0; cut < size; cut++)
        assert_int_equal (s_reply_decode_copy (payload, cut), SHOAL_EFORMAT);
    uint8_t *longer = malloc (size + 1);
    assert_non_null (longer);
    memcpy (longer, payload, size);
    longer[size] = 0;
    assert_int_equal (s_reply_decode_copy (longer, size + 1), SHOAL_EFORMAT);
    free (longer);
    free (payload);
    assert_int_equal (s_reply_decode_copy ((const uint8_t *) "\x90", 1), SHOAL_EFORMAT);
    assert_int_equal (s_reply_decode_copy ((const uint8_t *) "\x80", 1), SHOAL_EFORMAT);
}

static void test_reply_encode_invalid (void **state)
{
    uint8_t *payload = NULL;
    size_t size;
    char long_code[ENVELOPE_CODE_MAX + 2];
    memset (long_code, 'c', sizeof long_code - 1);
    long_code[sizeof long_code - 1] = 0;
    char long_reason[ENVELOPE_REASON_MAX + 2];
    memset (long_reason, 'r', sizeof long_reason - 1);
    long_reason[sizeof long_reason - 1] = 0;
    uint8_t array[] = {0x90};
    uint8_t truncated[] = {0x81, 0xa1};

    assert_int_equal (envelope_reply_encode (true, "x", NULL, NULL, 0, &payload, &size),
                      SHOAL_EINVAL);
    assert_int_equal (envelope_reply_encode (true, NULL, "why", NULL, 0, &payload, &size),
                      SHOAL_EINVAL);
    assert_int_equal (envelope_reply_encode (false, NULL, "why", NULL, 0, &payload, &size),
                      SHOAL_EINVAL);
    assert_int_equal (envelope_reply_encode (false, "", NULL, NULL, 0, &payload, &size),
                      SHOAL_EINVAL);
    assert_int_equal (envelope_reply_encode (false, long_code, NULL, NULL, 0, &payload, &size),
                      SHOAL_EINVAL);
    assert_int_equal (envelope_reply_encode (false, "x", long_reason, NULL, 0, &payload, &size),
                      SHOAL_EINVAL);
    //  A code is a word: no space, control byte or byte past ASCII.
    const char *not_codes[] = {"a b", "a\nb", "a\xff", "caf\xc3\xa9"};
    for (size_t i = 0; i < sizeof not_codes / sizeof not_codes[0]; i++)
        assert_int_equal (
            envelope_reply_encode (false, not_codes[i], "why", NULL, 0, &payload, &size),
            SHOAL_EINVAL);
    assert_int_equal (envelope_reply_encode (true, NULL, NULL, array, 1, &payload, &size),
                      SHOAL_EINVAL);
    assert_int_equal (envelope_reply_encode (true, NULL, NULL, truncated, 2, &payload, &size),
                      SHOAL_EINVAL);
    assert_int_equal (envelope_reply_encode (true, NULL, NULL, NULL, 3, &payload, &size),
                      SHOAL_EINVAL);
    assert_null (payload);
}

//  Encodes a rejection with reason, decodes it and returns its reason in
//  out (ENVELOPE_REASON_MAX + 1 bytes), checked to be UTF-8.
static const char *s_reason_sent (const char *reason, char *out)
{
    uint8_t *payload;
    size_t size;
    assert_int_equal (envelope_reply_encode (false, "no", reason, NULL, 0, &payload, &size), 0);
    bool ok = true;
    char code[ENVELOPE_CODE_MAX + 1];
    const uint8_t *data;
    size_t data_size;
    assert_int_equal (envelope_reply_decode (payload, size, &ok, code, out, &data, &data_size), 0);
    assert_false (ok);
    assert_string_equal (code, "no");
    assert_int_equal (utf8_valid_prefix (out, strlen (out)), strlen (out));
    free (payload);
    return out;
}

//  A reason leaves as UTF-8 whatever it holds: one cut at
//  ENVELOPE_REASON_MAX bytes in the middle of a character (as snprintf
//  cuts, and as a saga's id_reused reason quoting 200-byte ids of 'é' was
//  sent, ending in 0xc3) loses that character's first bytes; a byte that
//  is not UTF-8 becomes '?'.
static void test_reply_reason_utf8 (void **state)
{
    char reason[ENVELOPE_REASON_MAX + 1], out[ENVELOPE_REASON_MAX + 1];
    for (size_t i = 0; i + 2 <= ENVELOPE_REASON_MAX; i += 2)
        memcpy (reason + i, "\xc3\xa9", 2);
    reason[ENVELOPE_REASON_MAX - 1] = '\xc3'; //  255 bytes: 127 'é' and half of one
    reason[ENVELOPE_REASON_MAX] = 0;
    s_reason_sent (reason, out);
    assert_int_equal (strlen (out), ENVELOPE_REASON_MAX - 1);
    assert_memory_equal (out, reason, ENVELOPE_REASON_MAX - 1);

    assert_string_equal (s_reason_sent ("euro \xe2\x82", out), "euro ");
    assert_string_equal (s_reason_sent ("four \xf0\x9f\x98", out), "four ");
    assert_string_equal (s_reason_sent ("a\xff b\xc3(\xc3\xa9", out), "a? b?(\xc3\xa9");
    assert_string_equal (s_reason_sent ("\xed\xa0\x80 surrogate", out), "??? surrogate");
    assert_string_equal (s_reason_sent ("\x80\x80", out), "??");
    assert_string_equal (s_reason_sent ("plain", out), "plain");
}

//  --------------------------------------------------------------------------
//  Message ids

static int s_id_compare (const void *a, const void *b)
{
    return memcmp (a, b, ENVELOPE_ID_SIZE);
}

//  Sorts count ids and returns true if no two are equal.
static bool s_ids_unique (uint8_t (*ids)[ENVELOPE_ID_SIZE], size_t count)
{
    qsort (ids, count, ENVELOPE_ID_SIZE, s_id_compare);
    for (size_t i = 1; i < count; i++)
        if (memcmp (ids[i - 1], ids[i], ENVELOPE_ID_SIZE) == 0)
            return false;
    return true;
}

static void test_new_id_unique (void **state)
{
    size_t count = 100000;
    uint8_t (*ids)[ENVELOPE_ID_SIZE] = malloc (count * ENVELOPE_ID_SIZE);
    assert_non_null (ids);
    size_t ones = 0;
    for (size_t i = 0; i < count; i++) {
        envelope_new_id (ids[i]);
        for (int b = 0; b < ENVELOPE_ID_SIZE; b++)
            ones += (size_t) __builtin_popcount (ids[i][b]);
    }
    //  Half the bits are set, within 0.5% of 12.8 million.
    size_t bits = count * ENVELOPE_ID_SIZE * 8;
    assert_true (ones > bits / 2 - bits / 200 && ones < bits / 2 + bits / 200);
    assert_true (s_ids_unique (ids, count));
    free (ids);
}

#define ID_THREADS 4
#define IDS_PER_THREAD 20000

static void *s_id_thread (void *arg)
{
    uint8_t (*ids)[ENVELOPE_ID_SIZE] = arg;
    for (size_t i = 0; i < IDS_PER_THREAD; i++)
        envelope_new_id (ids[i]);
    return NULL;
}

static void test_new_id_threads (void **state)
{
    uint8_t (*ids)[ENVELOPE_ID_SIZE] = malloc (ID_THREADS * IDS_PER_THREAD * ENVELOPE_ID_SIZE);
    assert_non_null (ids);
    pthread_t threads[ID_THREADS];
    for (size_t t = 0; t < ID_THREADS; t++)
        assert_int_equal (pthread_create (&threads[t], NULL, s_id_thread, ids + t * IDS_PER_THREAD),
                          0);
    for (size_t t = 0; t < ID_THREADS; t++)
        assert_int_equal (pthread_join (threads[t], NULL), 0);
    assert_true (s_ids_unique (ids, ID_THREADS * IDS_PER_THREAD));
    free (ids);
}

//  A forked child must not hand out the ids its parent still holds.
static void test_new_id_fork (void **state)
{
    uint8_t first[ENVELOPE_ID_SIZE];
    envelope_new_id (first);
    int pipe_fds[2];
    assert_int_equal (pipe (pipe_fds), 0);
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        uint8_t child[ENVELOPE_ID_SIZE];
        envelope_new_id (child);
        ssize_t n = write (pipe_fds[1], child, sizeof child);
        _exit (n == (ssize_t) sizeof child ? 0 : 1);
    }
    close (pipe_fds[1]);
    uint8_t child[ENVELOPE_ID_SIZE];
    assert_int_equal (read (pipe_fds[0], child, sizeof child), sizeof child);
    close (pipe_fds[0]);
    int status;
    assert_int_equal (waitpid (pid, &status, 0), pid);
    assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    for (int i = 0; i < 1024 / ENVELOPE_ID_SIZE + 1; i++) {
        uint8_t parent[ENVELOPE_ID_SIZE];
        envelope_new_id (parent);
        assert_memory_not_equal (parent, child, ENVELOPE_ID_SIZE);
    }
}

//  The reason of decoding a frame whose field is packed by fn.
static int s_detail_with (int field, s_pack_fn *fn, char *detail, size_t detail_size)
{
    s_pack_fn *fns[ENVELOPE_FIELDS] = {0};
    fns[field] = fn;
    size_t size;
    uint8_t *frame = s_frame (ENVELOPE_FIELDS, fns, &size);
    uint8_t *copy = harness_copy (frame, size);
    envelope_t env;
    int rc = envelope_decode_detail (&env, copy, size, detail, detail_size);
    free (copy);
    free (frame);
    return rc;
}

static void p_version_7 (msgpack_packer *pk)
{
    msgpack_pack_uint8 (pk, 7);
}
static void p_kind_9 (msgpack_packer *pk)
{
    msgpack_pack_uint8 (pk, 9);
}
static void p_bin_3 (msgpack_packer *pk)
{
    msgpack_pack_bin_with_body (pk, "abc", 3);
}
static void p_bad_address (msgpack_packer *pk)
{
    msgpack_pack_str_with_body (pk, "no-slash", 8);
}
static void p_lying_payload (msgpack_packer *pk)
{
    msgpack_pack_map (pk, 1);
    msgpack_pack_str_with_body (pk, "a", 1);
    msgpack_pack_array (pk, 10000); //  and the frame's last two fields
}

//  envelope_decode_detail says which field is wrong and how; the code is
//  envelope_decode's.
static void test_decode_detail (void **state)
{
    char detail[ENVELOPE_REASON_MAX + 1];
    assert_int_equal (s_detail_with (0, p_version_7, detail, sizeof detail), SHOAL_EVERSION);
    assert_string_equal (detail, "frame: version 7 is not supported (only 1)");
    assert_int_equal (s_detail_with (1, p_kind_9, detail, sizeof detail), SHOAL_EFORMAT);
    assert_string_equal (detail, "field 'kind': 9 is not a kind (1 to 4)");
    assert_int_equal (s_detail_with (2, p_bin_3, detail, sizeof detail), SHOAL_EFORMAT);
    assert_string_equal (detail, "field 'id': expected 16 bytes, got 3");
    assert_int_equal (s_detail_with (3, p_true, detail, sizeof detail), SHOAL_EFORMAT);
    assert_string_equal (detail,
                         "field 'correlation': expected 16 bytes (bin) or nil, got a boolean");
    assert_int_equal (s_detail_with (6, p_zero, detail, sizeof detail), SHOAL_EFORMAT);
    assert_string_equal (detail, "field 'to': expected a string, got an integer");
    assert_int_equal (s_detail_with (6, p_bad_address, detail, sizeof detail), SHOAL_EADDRESS);
    assert_string_equal (detail, "field 'to': \"no-slash\" is not an address (type/id)");
    assert_int_equal (s_detail_with (7, p_name_space, detail, sizeof detail), SHOAL_EFORMAT);
    assert_string_equal (detail,
                         "field 'name': expected 1 to 63 printable ASCII bytes without spaces");
    assert_int_equal (s_detail_with (8, p_str_one, detail, sizeof detail), SHOAL_EFORMAT);
    assert_string_equal (detail, "field 'payload': expected a map, got a string");
    assert_int_equal (s_detail_with (8, p_lying_payload, detail, sizeof detail), SHOAL_EFORMAT);
    assert_non_null (strstr (detail, "payload: a length or count runs past the end"));
    assert_int_equal (s_detail_with (9, p_true, detail, sizeof detail), SHOAL_EFORMAT);
    assert_string_equal (detail,
                         "field 'attempt': expected an unsigned integer of 32 bits, got a boolean");
    assert_int_equal (s_detail_with (10, p_nil, detail, sizeof detail), SHOAL_EFORMAT);
    assert_string_equal (
        detail, "field 'created': expected an unsigned integer (ms since the epoch), got nil");

    s_raw = s_nested (ENVELOPE_DATA_DEPTH + 1, &s_raw_size);
    assert_int_equal (s_detail_with (8, p_raw, detail, sizeof detail), SHOAL_EFORMAT);
    assert_string_equal (detail, "payload: nesting deeper than 16");
    free ((void *) s_raw);

    size_t size;
    uint8_t *frame = s_frame (ENVELOPE_FIELDS - 1, NULL, &size);
    envelope_t env;
    assert_int_equal (envelope_decode_detail (&env, frame, size, detail, sizeof detail),
                      SHOAL_EFORMAT);
    assert_string_equal (detail, "frame: expected 11 fields, got 10");
    free (frame);
    frame = s_frame (ENVELOPE_FIELDS + 1, NULL, &size);
    frame[0] = 0x9b; //  11 fields announced, 12 present
    assert_int_equal (envelope_decode_detail (&env, frame, size, detail, sizeof detail),
                      SHOAL_EFORMAT);
    assert_string_equal (detail, "frame: 1 bytes after the last field");
    free (frame);
    //  What a frame that is not an array is, said as it is (all three were
    //  "got an empty one").
    static const struct {
        const char *bytes;
        size_t size;
        const char *detail;
    } whole[] = {
        {"\x05", 1, "frame: expected an array of 11 fields, got an integer"},
        {"", 0, "frame: expected an array of 11 fields, got an empty frame"},
        {"\xc1\xc1", 2, "frame: expected an array of 11 fields, got bytes that are not msgpack"},
        {"\x90", 1, "frame: expected an array of 11 fields, got an empty one"},
    };
    for (size_t i = 0; i < sizeof whole / sizeof whole[0]; i++) {
        uint8_t *copy = harness_copy ((const uint8_t *) whole[i].bytes, whole[i].size);
        assert_int_equal (envelope_decode_detail (&env, copy, whole[i].size, detail, sizeof detail),
                          SHOAL_EFORMAT);
        if (strncmp (detail, whole[i].detail, strlen (whole[i].detail)) != 0)
            fail_msg ("'%s' does not begin '%s'", detail, whole[i].detail);
        free (copy);
    }

    //  A valid frame: no detail; a NULL buffer is allowed.
    frame = s_frame (ENVELOPE_FIELDS, NULL, &size);
    strcpy (detail, "stale");
    assert_int_equal (envelope_decode_detail (&env, frame, size, detail, sizeof detail), 0);
    assert_string_equal (detail, "");
    assert_int_equal (envelope_decode_detail (&env, frame, size, NULL, 0), 0);
    //  A small buffer gets a truncated sentence, never an overflow.
    frame[1] = 7;
    char small[8];
    assert_int_equal (envelope_decode_detail (&env, frame, size, small, sizeof small),
                      SHOAL_EVERSION);
    assert_string_equal (small, "frame: ");
    free (frame);
}

static void p_not_utf8 (msgpack_packer *pk)
{
    msgpack_pack_map (pk, 3);
    msgpack_pack_str_with_body (pk, "ok", 2);
    msgpack_pack_str_with_body (pk, "\xc3\xa9\xe2\x82\xac and some ASCII", 21);
    msgpack_pack_str_with_body (pk, "k", 1);
    msgpack_pack_str_with_body (pk,
                                "a\xff"
                                "b",
                                3);
    msgpack_pack_str_with_body (pk, "n", 1);
    msgpack_pack_int (pk, 1);
}
static void p_name_not_utf8 (msgpack_packer *pk)
{
    msgpack_pack_map (pk, 1);
    msgpack_pack_str_with_body (pk, "a\n\xc0\xaf", 4); //  an overlong '/'
    msgpack_pack_nil (pk);
}
static void p_deep_not_utf8 (msgpack_packer *pk)
{
    msgpack_pack_map (pk, 1);
    msgpack_pack_str_with_body (pk, "it's", 4);
    msgpack_pack_array (pk, 2);
    msgpack_pack_int (pk, 1);
    msgpack_pack_map (pk, 1);
    msgpack_pack_str_with_body (pk, "x\xed\xa0\x80", 4); //  a surrogate
    msgpack_pack_true (pk);
}

static void p_twice (msgpack_packer *pk)
{
    msgpack_pack_map (pk, 3);
    msgpack_pack_str_with_body (pk, "amount", 6);
    msgpack_pack_int (pk, 1);
    msgpack_pack_str_with_body (pk, "to", 2);
    msgpack_pack_str_with_body (pk, "x", 1);
    msgpack_pack_str_with_body (pk, "amount", 6);
    msgpack_pack_int (pk, 2);
}
static void p_twice_encoded (msgpack_packer *pk)
{
    msgpack_pack_map (pk, 2);
    msgpack_pack_str_with_body (pk, "amount", 6);
    msgpack_pack_int (pk, 1);
    static const char str8[] = "\xd9\x06"
                               "amount";
    pk->callback (pk->data, str8, sizeof str8 - 1);
    msgpack_pack_int (pk, 1000000);
}
static void p_deep_twice (msgpack_packer *pk)
{
    msgpack_pack_map (pk, 1);
    msgpack_pack_str_with_body (pk, "items", 5);
    msgpack_pack_array (pk, 2);
    msgpack_pack_map (pk, 1);
    msgpack_pack_str_with_body (pk, "sku", 3);
    msgpack_pack_int (pk, 1);
    msgpack_pack_map (pk, 2);
    msgpack_pack_str_with_body (pk, "sku", 3);
    msgpack_pack_int (pk, 1);
    msgpack_pack_str_with_body (pk, "sku", 3);
    msgpack_pack_int (pk, 2);
}
//  40 keys, k7 twice: a map past the stack's 16 keys, sorted.
static void p_many_twice (msgpack_packer *pk)
{
    msgpack_pack_map (pk, 40);
    for (int i = 0; i < 40; i++) {
        char key[8];
        int len = snprintf (key, sizeof key, "k%d", i == 33 ? 7 : i);
        msgpack_pack_str_with_body (pk, key, (size_t) len);
        msgpack_pack_int (pk, i);
    }
}
//  The same keys in different maps, 40 keys in one: fine.
static void p_keys_once (msgpack_packer *pk)
{
    msgpack_pack_map (pk, 41);
    for (int i = 0; i < 40; i++) {
        char key[8];
        int len = snprintf (key, sizeof key, "k%d", i);
        msgpack_pack_str_with_body (pk, key, (size_t) len);
        msgpack_pack_map (pk, 1);
        msgpack_pack_str_with_body (pk, "x", 1);
        msgpack_pack_int (pk, i);
    }
    msgpack_pack_str_with_body (pk, "k400", 4); //  k40 and k400 differ in length only
    msgpack_pack_nil (pk);
}
//  An int key: a field no handler can look up.
static void p_int_key (msgpack_packer *pk)
{
    msgpack_pack_map (pk, 2);
    msgpack_pack_str_with_body (pk, "amount", 6);
    msgpack_pack_int (pk, 5);
    msgpack_pack_int (pk, 1);
    msgpack_pack_int (pk, 2);
}
//  A nil key in a map inside a field.
static void p_deep_nil_key (msgpack_packer *pk)
{
    msgpack_pack_map (pk, 1);
    msgpack_pack_str_with_body (pk, "items", 5);
    msgpack_pack_array (pk, 1);
    msgpack_pack_map (pk, 1);
    msgpack_pack_nil (pk);
    msgpack_pack_int (pk, 1);
}

//  envelope_decode_request also refuses a payload string that is not
//  UTF-8, a key given twice in one map, or a key that is not a string,
//  naming the field, with env
//  whole; a frame malformed besides is malformed. The other decoders take
//  such payloads (the node's own).
static void test_decode_request (void **state)
{
    char detail[ENVELOPE_REASON_MAX + 1];
    static const struct {
        s_pack_fn *payload;
        const char *detail;
    } cases[] = {
        {p_not_utf8, "payload: field 'k': the value is not UTF-8 (byte 0xff at offset 1)"},
        {p_name_not_utf8, "payload: a field name is not UTF-8 (byte 0xc0 after 'a\\n')"},
        {p_deep_not_utf8, "payload: field 'it\\'s': a key or string inside it is not UTF-8 "
                          "(byte 0xed at offset 1)"},
        {p_twice, "payload: field 'amount' is given twice"},
        {p_twice_encoded, "payload: field 'amount' is given twice"},
        {p_deep_twice, "payload: key 'sku' is given twice in one map (inside field 'items')"},
        {p_many_twice, "payload: field 'k7' is given twice"},
        {p_int_key, "payload: key 2 of a map is an integer, not a string"},
        {p_deep_nil_key, "payload: key 1 of a map is nil, not a string (inside field 'items')"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t size;
        uint8_t *frame = s_frame (ENVELOPE_FIELDS,
                                  (s_pack_fn *[ENVELOPE_FIELDS]){[8] = cases[i].payload}, &size);
        uint8_t *copy = harness_copy (frame, size);
        envelope_t env;
        assert_int_equal (envelope_decode_request (&env, copy, size, detail, sizeof detail),
                          SHOAL_EINVAL);
        assert_string_equal (detail, cases[i].detail);
        assert_memory_equal (env.id, s_sample_id, ENVELOPE_ID_SIZE);
        assert_string_equal (env.to, "account/alice");
        assert_string_equal (env.name, "deposit");
        assert_int_equal (env.created, 1700000000123ll);
        assert_true (mpread_is_map (env.payload, env.payload_size, ENVELOPE_DATA_DEPTH));
        //  The node's own decoders do not check.
        assert_int_equal (envelope_decode (&env, copy, size), 0);
        free (copy);
        free (frame);
    }
    //  Malformed past the string: that is what is said.
    size_t size;
    uint8_t *frame =
        s_frame (ENVELOPE_FIELDS + 1, (s_pack_fn *[ENVELOPE_FIELDS]){[8] = p_not_utf8}, &size);
    frame[0] = 0x9b; //  11 fields announced, 12 present
    envelope_t env;
    assert_int_equal (envelope_decode_request (&env, frame, size, detail, sizeof detail),
                      SHOAL_EFORMAT);
    assert_string_equal (detail, "frame: 1 bytes after the last field");
    free (frame);
    //  UTF-8 of every length passes, as decode_detail.
    frame = s_frame (ENVELOPE_FIELDS, NULL, &size);
    assert_int_equal (envelope_decode_request (&env, frame, size, detail, sizeof detail), 0);
    assert_string_equal (detail, "");
    free (frame);
    //  Keys repeated only across maps, and a map of 41 keys, pass.
    frame = s_frame (ENVELOPE_FIELDS, (s_pack_fn *[ENVELOPE_FIELDS]){[8] = p_keys_once}, &size);
    assert_int_equal (envelope_decode_request (&env, frame, size, detail, sizeof detail), 0);
    assert_string_equal (detail, "");
    free (frame);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_usage_command),
        cmocka_unit_test (test_usage_reply),
        cmocka_unit_test (test_usage_client_reply),
        cmocka_unit_test (test_golden_bytes),
        cmocka_unit_test (test_roundtrip_kinds),
        cmocka_unit_test (test_roundtrip_ids),
        cmocka_unit_test (test_roundtrip_addresses),
        cmocka_unit_test (test_roundtrip_name),
        cmocka_unit_test (test_roundtrip_attempt_created),
        cmocka_unit_test (test_roundtrip_payloads),
        cmocka_unit_test (test_decode_request),
        cmocka_unit_test (test_roundtrip_max_size),
        cmocka_unit_test (test_encode_invalid),
        cmocka_unit_test (test_decode_truncated),
        cmocka_unit_test (test_decode_wrong_types),
        cmocka_unit_test (test_decode_element_count),
        cmocka_unit_test (test_decode_oversized),
        cmocka_unit_test (test_decode_bad_version),
        cmocka_unit_test (test_address_check_valid),
        cmocka_unit_test (test_address_check_invalid),
        cmocka_unit_test (test_address_is_projection),
        cmocka_unit_test (test_decode_bad_addresses),
        cmocka_unit_test (test_decode_bad_name),
        cmocka_unit_test (test_decode_payload_not_map),
        cmocka_unit_test (test_decode_depth),
        cmocka_unit_test (test_decode_detail),
        cmocka_unit_test (test_decode_huge_counts),
        cmocka_unit_test (test_decode_trailing),
        cmocka_unit_test (test_check_msgpack_formats),
        cmocka_unit_test (test_check_msgpack_invalid),
        cmocka_unit_test (test_check_msgpack_random_objects),
        cmocka_unit_test (test_fuzz_random),
        cmocka_unit_test (test_fuzz_flips),
        cmocka_unit_test (test_reply_roundtrip),
        cmocka_unit_test (test_reply_key_order),
        cmocka_unit_test (test_reply_decode_invalid),
        cmocka_unit_test (test_reply_encode_invalid),
        cmocka_unit_test (test_reply_reason_utf8),
        cmocka_unit_test (test_new_id_unique),
        cmocka_unit_test (test_new_id_threads),
        cmocka_unit_test (test_new_id_fork),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
