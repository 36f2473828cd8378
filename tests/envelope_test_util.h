/*  envelope_test_util.h - the helpers of test_envelope_*.c: samples,
    round trips, frames packed field by field with a packer swapped in.

    test_envelope_*.c: the envelope codec: usage first, then round trips of
    every field, then malformed frames (each with its error code), the
    msgpack walker, fuzzing, reply payloads and message ids.

    Every decode of hostile bytes reads from a heap copy of exactly their
    size, so that ASan reports any read past the end. The fuzz seed is
    printed; set SHOAL_FUZZ_SEED to replay one.
*/
#ifndef SHOAL_TESTS_ENVELOPE_TEST_UTIL_H
#define SHOAL_TESTS_ENVELOPE_TEST_UTIL_H

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

//  Decodes an exact-size copy of bytes and returns the result. Use only
//  for frames expected to fail: env->payload would point into the copy.
int envelope_decode_copy (const uint8_t *bytes, size_t size);

int envelope_check_copy (const uint8_t *bytes, size_t size);

//  The payload {"amount": 100, "memo": "rent"}.
uint8_t *envelope_payload (size_t *size);

//  A valid command from teller/t1 to account/alice, without payload.
void envelope_sample (envelope_t *env);

void envelope_assert_env_equal (const envelope_t *a, const envelope_t *b);

//  A map nested depth levels deep: {"a": {"a": ... {}}}.
uint8_t *envelope_nested (int depth, size_t *size);

//  The payload {"b": bin32 of body zero bytes}, 8 + body bytes.
uint8_t *envelope_big_payload (size_t body, size_t *size);

//  Packs a random well-formed object, at most depth containers deep.
void envelope_random_object (msgpack_packer *pk, int depth);

//  --------------------------------------------------------------------------
//  Frames built field by field, to break one field at a time

#define ENVELOPE_FIELDS 11 //  elements of a frame

typedef void (envelope_pack_fn) (msgpack_packer *pk);

extern const uint8_t envelope_sample_id[ENVELOPE_ID_SIZE];

//  Builds an array of count elements: fns[i] packs element i, or when
//  NULL (or fns is NULL) the valid default. Returns an exact-size buffer.
uint8_t *envelope_frame (size_t count, envelope_pack_fn *const *fns, size_t *size);

//  Decodes a valid frame with element `field` packed by fn instead.
int envelope_decode_with (int field, envelope_pack_fn *fn);

void p_nil (msgpack_packer *pk);
void p_true (msgpack_packer *pk);
void p_zero (msgpack_packer *pk);
void p_two (msgpack_packer *pk);
void p_str_empty (msgpack_packer *pk);
void p_str_one (msgpack_packer *pk);
void p_bin_15 (msgpack_packer *pk);
void p_array_one (msgpack_packer *pk);
void p_map_empty (msgpack_packer *pk);

#endif
