/*  test_envelope_roundtrip.c - envelopes encoded and decoded back: the usage
    example, golden bytes, every kind, id, address, name and payload, the
    largest one, and what encoding refuses. Helpers: envelope_test_util.h.
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

#include "envelope_test_util.h"

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
        envelope_assert_env_equal (env, &out);
    } else {
        assert_int_equal (out.payload_size, 1);
        assert_int_equal (out.payload[0], 0x80);
        envelope_t expected = *env;
        expected.payload = out.payload;
        expected.payload_size = 1;
        envelope_assert_env_equal (&expected, &out);
    }
    free (frame);
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
        envelope_random_object (&pk, depth - 1);
    }
    return harness_take (&sbuf, size);
}

static void p_int8_two (msgpack_packer *pk)
{
    static const char bytes[] = {(char) 0xd0, 2}; //  int8 2: accepted as uint
    msgpack_sbuffer_write (pk->data, bytes, sizeof bytes);
}

//  --------------------------------------------------------------------------
//  Usage

//  A teller sends a deposit command to an account; the frame carries the
//  payload untouched and decodes to the same envelope.
static void test_usage_command (void **state)
{
    size_t payload_size;
    uint8_t *payload = envelope_payload (&payload_size);
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
    envelope_assert_env_equal (&command, &received);
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
    envelope_sample (&command);
    size_t data_size;
    uint8_t *data = envelope_payload (&data_size);
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
    envelope_assert_env_equal (&reply, &received);
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
    envelope_assert_env_equal (&reply, &received);
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
    memcpy (env.id, envelope_sample_id, ENVELOPE_ID_SIZE);
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
        envelope_sample (&env);
        env.kind = (uint8_t) kind;
        s_assert_roundtrip (&env);
    }
}

static void test_roundtrip_ids (void **state)
{
    envelope_t env;
    envelope_sample (&env);
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
    envelope_assert_env_equal (&env, &out);
    assert_int_equal (frame[3 + 2 + ENVELOPE_ID_SIZE], 0xc0);
    assert_int_equal (frame[3 + 2 + ENVELOPE_ID_SIZE + 1], 0xc4);
    free (frame);
}

static void test_roundtrip_addresses (void **state)
{
    envelope_t env;
    envelope_sample (&env);
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
    envelope_sample (&env);
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
    envelope_sample (&env);
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
    assert_int_equal (envelope_decode_with (9, p_int8_two), 0);
    assert_int_equal (envelope_decode_with (10, p_int8_two), 0);
}

static void test_roundtrip_payloads (void **state)
{
    envelope_t env;
    envelope_sample (&env);
    s_assert_roundtrip (&env);

    uint8_t empty = 0x80;
    env.payload = &empty;
    env.payload_size = 1;
    s_assert_roundtrip (&env);

    size_t size;
    uint8_t *deep = envelope_nested (ENVELOPE_DATA_DEPTH, &size);
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
    envelope_sample (&env);
    uint8_t *frame;
    size_t overhead;
    assert_int_equal (envelope_encode (&env, &frame, &overhead), 0);
    free (frame);
    overhead -= 1; //  the empty map

    size_t payload_size;
    uint8_t *payload = envelope_big_payload (ENVELOPE_MAX_SIZE - overhead - 8, &payload_size);
    env.payload = payload;
    env.payload_size = payload_size;
    size_t size;
    assert_int_equal (envelope_encode (&env, &frame, &size), 0);
    assert_int_equal (size, ENVELOPE_MAX_SIZE);
    envelope_t out;
    assert_int_equal (envelope_decode (&out, frame, size), 0);
    envelope_assert_env_equal (&env, &out);
    free (frame);
    free (payload);

    payload = envelope_big_payload (ENVELOPE_MAX_SIZE - overhead - 7, &payload_size);
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

    envelope_sample (&env);
    env.kind = 0;
    assert_int_equal (envelope_encode (&env, &frame, &size), SHOAL_EINVAL);
    env.kind = 5;
    assert_int_equal (envelope_encode (&env, &frame, &size), SHOAL_EINVAL);

    envelope_sample (&env);
    strcpy (env.from, "teller");
    assert_int_equal (envelope_encode (&env, &frame, &size), SHOAL_EINVAL);
    envelope_sample (&env);
    memset (env.from, 'a', sizeof env.from); //  not terminated
    assert_int_equal (envelope_encode (&env, &frame, &size), SHOAL_EINVAL);

    envelope_sample (&env);
    env.to[0] = 0;
    assert_int_equal (envelope_encode (&env, &frame, &size), SHOAL_EINVAL);
    env.kind = ENVELOPE_QUERY;
    assert_int_equal (envelope_encode (&env, &frame, &size), SHOAL_EINVAL);
    envelope_sample (&env);
    strcpy (env.to, "account/\x01");
    assert_int_equal (envelope_encode (&env, &frame, &size), SHOAL_EINVAL);

    envelope_sample (&env);
    env.name[0] = 0;
    assert_int_equal (envelope_encode (&env, &frame, &size), SHOAL_EINVAL);
    strcpy (env.name, "two words");
    assert_int_equal (envelope_encode (&env, &frame, &size), SHOAL_EINVAL);
    memset (env.name, 'n', sizeof env.name); //  not terminated
    assert_int_equal (envelope_encode (&env, &frame, &size), SHOAL_EINVAL);

    envelope_sample (&env);
    env.created = -1;
    assert_int_equal (envelope_encode (&env, &frame, &size), SHOAL_EINVAL);

    envelope_sample (&env);
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
    uint8_t *deep = envelope_nested (ENVELOPE_MAX_DEPTH + 1, &deep_size);
    env.payload = deep;
    env.payload_size = deep_size;
    assert_int_equal (envelope_encode (&env, &frame, &size), SHOAL_EINVAL);
    free (deep);
    env.payload = array;
    env.payload_size = (size_t) ENVELOPE_MAX_SIZE + 1;
    assert_int_equal (envelope_encode (&env, &frame, &size), SHOAL_ETOOBIG);
    assert_null (frame);
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
        cmocka_unit_test (test_roundtrip_max_size),
        cmocka_unit_test (test_encode_invalid),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
