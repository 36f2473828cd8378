/*  envelope_test_util.c - what test_envelope_*.c share (envelope_test_util.h says what each is).
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

int envelope_decode_copy (const uint8_t *bytes, size_t size)
{
    uint8_t *copy = harness_copy (bytes, size);
    envelope_t env;
    int rc = envelope_decode (&env, copy, size);
    free (copy);
    return rc;
}

int envelope_check_copy (const uint8_t *bytes, size_t size)
{
    uint8_t *copy = harness_copy (bytes, size);
    int rc = envelope_check_msgpack (copy, size);
    free (copy);
    return rc;
}

uint8_t *envelope_payload (size_t *size)
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

void envelope_sample (envelope_t *env)
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

void envelope_assert_env_equal (const envelope_t *a, const envelope_t *b)
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

uint8_t *envelope_nested (int depth, size_t *size)
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

uint8_t *envelope_big_payload (size_t body, size_t *size)
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

void envelope_random_object (msgpack_packer *pk, int depth)
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
            envelope_random_object (pk, depth - 1);
        break;
    default:
        n = harness_rand () % 5;
        msgpack_pack_map (pk, n);
        for (size_t i = 0; i < 2 * n; i++)
            envelope_random_object (pk, depth - 1);
    }
}

const uint8_t envelope_sample_id[ENVELOPE_ID_SIZE] = {1, 2,  3,  4,  5,  6,  7,  8,
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
        msgpack_pack_bin_with_body (pk, envelope_sample_id, ENVELOPE_ID_SIZE);
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

uint8_t *envelope_frame (size_t count, envelope_pack_fn *const *fns, size_t *size)
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

int envelope_decode_with (int field, envelope_pack_fn *fn)
{
    envelope_pack_fn *fns[ENVELOPE_FIELDS] = {0};
    fns[field] = fn;
    size_t size;
    uint8_t *frame = envelope_frame (ENVELOPE_FIELDS, fns, &size);
    int rc = envelope_decode_copy (frame, size);
    free (frame);
    return rc;
}

void p_nil (msgpack_packer *pk)
{
    msgpack_pack_nil (pk);
}

void p_true (msgpack_packer *pk)
{
    msgpack_pack_true (pk);
}

void p_zero (msgpack_packer *pk)
{
    msgpack_pack_uint8 (pk, 0);
}

void p_two (msgpack_packer *pk)
{
    msgpack_pack_uint8 (pk, 2);
}

void p_str_empty (msgpack_packer *pk)
{
    msgpack_pack_str_with_body (pk, "", 0);
}

void p_str_one (msgpack_packer *pk)
{
    msgpack_pack_str_with_body (pk, "1", 1);
}

void p_bin_15 (msgpack_packer *pk)
{
    msgpack_pack_bin_with_body (pk, envelope_sample_id, 15);
}

void p_array_one (msgpack_packer *pk)
{
    msgpack_pack_array (pk, 1);
    msgpack_pack_int (pk, 1);
}

void p_map_empty (msgpack_packer *pk)
{
    msgpack_pack_map (pk, 0);
}
