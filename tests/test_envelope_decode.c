/*  test_envelope_decode.c - frames the decoder refuses: truncated, wrong types,
    element counts, oversized, bad version, names, payloads, depth, huge
    counts, trailing bytes, the detail of a refusal, requests' payloads.
    Helpers: envelope_test_util.h.
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

static void p_five (msgpack_packer *pk)
{
    msgpack_pack_uint8 (pk, 5);
}

static void p_256 (msgpack_packer *pk)
{
    msgpack_pack_uint16 (pk, 256);
}

static void p_minus_one (msgpack_packer *pk)
{
    msgpack_pack_int (pk, -1);
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

static void p_str_16 (msgpack_packer *pk)
{
    msgpack_pack_str_with_body (pk, "0123456789abcdef", 16);
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
    msgpack_pack_ext_with_body (pk, envelope_sample_id, 16, 1);
}

static void p_array_empty (msgpack_packer *pk)
{
    msgpack_pack_array (pk, 0);
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
//  Malformed frames

static void test_decode_truncated (void **state)
{
    size_t payload_size;
    uint8_t *payload = envelope_payload (&payload_size);
    envelope_t env;
    envelope_sample (&env);
    envelope_new_id (env.correlation);
    env.payload = payload;
    env.payload_size = payload_size;
    uint8_t *frame;
    size_t size;
    assert_int_equal (envelope_encode (&env, &frame, &size), 0);
    assert_int_equal (envelope_decode_copy (frame, size), 0);
    for (size_t cut = 0; cut < size; cut++)
        assert_int_equal (envelope_decode_copy (frame, cut), SHOAL_EFORMAT);
    envelope_t out;
    assert_int_equal (envelope_decode (&out, NULL, 0), SHOAL_EFORMAT);
    free (frame);
    free (payload);
}

static void test_decode_wrong_types (void **state)
{
    static const struct {
        int field;
        envelope_pack_fn *fn;
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
        int rc = envelope_decode_with (cases[i].field, cases[i].fn);
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
        uint8_t *frame = envelope_frame (counts[i], NULL, &size);
        assert_int_equal (envelope_decode_copy (frame, size), SHOAL_EFORMAT);
        free (frame);
    }
    //  Not an array at all.
    uint8_t map[] = {0x81, 0x01, 0x01};
    uint8_t number[] = {0x01};
    assert_int_equal (envelope_decode_copy (map, sizeof map), SHOAL_EFORMAT);
    assert_int_equal (envelope_decode_copy (number, sizeof number), SHOAL_EFORMAT);
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
    assert_int_equal (envelope_decode_copy (zeros, size), SHOAL_ETOOBIG);
    free (zeros);

    //  Well-formed frames of exactly the limit and one byte over.
    size_t frame_size;
    uint8_t *frame = envelope_frame (
        ENVELOPE_FIELDS, (envelope_pack_fn *[ENVELOPE_FIELDS]){[8] = p_map_empty}, &frame_size);
    size_t overhead = frame_size - 1;
    free (frame);
    for (size_t extra = 0; extra <= 1; extra++) {
        size_t payload_size;
        uint8_t *payload =
            envelope_big_payload (ENVELOPE_MAX_SIZE - overhead - 8 + extra, &payload_size);
        s_raw = payload;
        s_raw_size = payload_size;
        frame = envelope_frame (ENVELOPE_FIELDS, (envelope_pack_fn *[ENVELOPE_FIELDS]){[8] = p_raw},
                                &frame_size);
        assert_int_equal (frame_size, ENVELOPE_MAX_SIZE + extra);
        assert_int_equal (envelope_decode_copy (frame, frame_size), extra ? SHOAL_ETOOBIG : 0);
        free (frame);
        free (payload);
    }
}

static void test_decode_bad_version (void **state)
{
    assert_int_equal (envelope_decode_with (0, p_zero), SHOAL_EVERSION);
    assert_int_equal (envelope_decode_with (0, p_two), SHOAL_EVERSION);
    assert_int_equal (envelope_decode_with (0, p_256), SHOAL_EVERSION);
    assert_int_equal (envelope_decode_with (0, p_u64_max), SHOAL_EVERSION);
    //  The version is judged before the element count and the fields.
    envelope_pack_fn *fns[ENVELOPE_FIELDS] = {p_two, p_nil, p_nil, p_true};
    size_t size;
    uint8_t *frame = envelope_frame (ENVELOPE_FIELDS, fns, &size);
    assert_int_equal (envelope_decode_copy (frame, size), SHOAL_EVERSION);
    free (frame);
    frame = envelope_frame (12, fns, &size);
    assert_int_equal (envelope_decode_copy (frame, size), SHOAL_EVERSION);
    free (frame);
    frame = envelope_frame (1, fns, &size);
    assert_int_equal (envelope_decode_copy (frame, size), SHOAL_EVERSION);
    free (frame);
}

static void test_decode_bad_name (void **state)
{
    assert_int_equal (envelope_decode_with (7, p_str_empty), SHOAL_EFORMAT);
    assert_int_equal (envelope_decode_with (7, p_name_space), SHOAL_EFORMAT);
    assert_int_equal (envelope_decode_with (7, p_name_64), SHOAL_EFORMAT);
    assert_int_equal (envelope_decode_with (7, p_name_del), SHOAL_EFORMAT);
    assert_int_equal (envelope_decode_with (7, p_name_utf8), SHOAL_EFORMAT);
    assert_int_equal (envelope_decode_with (7, p_name_nul), SHOAL_EFORMAT);
    assert_int_equal (envelope_decode_with (7, p_str_16), 0);
}

static void test_decode_payload_not_map (void **state)
{
    assert_int_equal (envelope_decode_with (8, p_array_empty), SHOAL_EFORMAT);
    assert_int_equal (envelope_decode_with (8, p_str_one), SHOAL_EFORMAT);
    assert_int_equal (envelope_decode_with (8, p_nil), SHOAL_EFORMAT);
    assert_int_equal (envelope_decode_with (8, p_true), SHOAL_EFORMAT);
    assert_int_equal (envelope_decode_with (8, p_bin_17), SHOAL_EFORMAT);
    assert_int_equal (envelope_decode_with (8, p_map_empty), 0);
}

static void test_decode_depth (void **state)
{
    //  A command's payload is a data map: SHOAL_DATA_DEPTH deep at most.
    uint8_t *deep = envelope_nested (ENVELOPE_DATA_DEPTH, &s_raw_size);
    s_raw = deep;
    assert_int_equal (envelope_decode_with (8, p_raw), 0);
    free (deep);

    deep = envelope_nested (ENVELOPE_DATA_DEPTH + 1, &s_raw_size);
    s_raw = deep;
    assert_int_equal (envelope_decode_with (8, p_raw), SHOAL_EFORMAT);
    free (deep);

    //  A reply's holds the replier's data one level down, and more.
    envelope_pack_fn *fns[ENVELOPE_FIELDS] = {[1] = p_two, [8] = p_raw};
    deep = envelope_nested (ENVELOPE_MAX_DEPTH, &s_raw_size);
    s_raw = deep;
    size_t frame_size;
    uint8_t *frame = envelope_frame (ENVELOPE_FIELDS, fns, &frame_size);
    assert_int_equal (envelope_decode_copy (frame, frame_size), 0);
    free (frame);
    free (deep);
    deep = envelope_nested (ENVELOPE_MAX_DEPTH + 1, &s_raw_size);
    s_raw = deep;
    frame = envelope_frame (ENVELOPE_FIELDS, fns, &frame_size);
    assert_int_equal (envelope_decode_copy (frame, frame_size), SHOAL_EFORMAT);
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
    assert_int_equal (envelope_decode_with (7, p_raw), SHOAL_EFORMAT);
    assert_int_equal (envelope_check_copy (deep, size), SHOAL_EFORMAT);
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
        assert_int_equal (envelope_decode_copy (frames[i], sizeof frames[i]), SHOAL_EFORMAT);
        assert_int_equal (envelope_check_copy (frames[i], sizeof frames[i]), SHOAL_EFORMAT);
    }
    //  As the payload, with the frame's own elements after it.
    assert_int_equal (envelope_decode_with (8, p_map_32_huge), SHOAL_EFORMAT);
}

static void test_decode_trailing (void **state)
{
    size_t size;
    uint8_t *frame = envelope_frame (ENVELOPE_FIELDS, NULL, &size);
    uint8_t *longer = malloc (2 * size);
    assert_non_null (longer);
    memcpy (longer, frame, size);
    longer[size] = 0x00;
    assert_int_equal (envelope_decode_copy (longer, size + 1), SHOAL_EFORMAT);
    longer[size] = 0xc0;
    assert_int_equal (envelope_decode_copy (longer, size + 1), SHOAL_EFORMAT);
    memcpy (longer + size, frame, size);
    assert_int_equal (envelope_decode_copy (longer, 2 * size), SHOAL_EFORMAT);
    assert_int_equal (envelope_decode_copy (longer, size), 0);
    free (longer);
    free (frame);
}

//  The reason of decoding a frame whose field is packed by fn.
static int s_detail_with (int field, envelope_pack_fn *fn, char *detail, size_t detail_size)
{
    envelope_pack_fn *fns[ENVELOPE_FIELDS] = {0};
    fns[field] = fn;
    size_t size;
    uint8_t *frame = envelope_frame (ENVELOPE_FIELDS, fns, &size);
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

    s_raw = envelope_nested (ENVELOPE_DATA_DEPTH + 1, &s_raw_size);
    assert_int_equal (s_detail_with (8, p_raw, detail, sizeof detail), SHOAL_EFORMAT);
    assert_string_equal (detail, "payload: nesting deeper than 16");
    free ((void *) s_raw);

    size_t size;
    uint8_t *frame = envelope_frame (ENVELOPE_FIELDS - 1, NULL, &size);
    envelope_t env;
    assert_int_equal (envelope_decode_detail (&env, frame, size, detail, sizeof detail),
                      SHOAL_EFORMAT);
    assert_string_equal (detail, "frame: expected 11 fields, got 10");
    free (frame);
    frame = envelope_frame (ENVELOPE_FIELDS + 1, NULL, &size);
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
    frame = envelope_frame (ENVELOPE_FIELDS, NULL, &size);
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
        envelope_pack_fn *payload;
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
        uint8_t *frame = envelope_frame (
            ENVELOPE_FIELDS, (envelope_pack_fn *[ENVELOPE_FIELDS]){[8] = cases[i].payload}, &size);
        uint8_t *copy = harness_copy (frame, size);
        envelope_t env;
        assert_int_equal (envelope_decode_request (&env, copy, size, detail, sizeof detail),
                          SHOAL_EINVAL);
        assert_string_equal (detail, cases[i].detail);
        assert_memory_equal (env.id, envelope_sample_id, ENVELOPE_ID_SIZE);
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
    uint8_t *frame = envelope_frame (
        ENVELOPE_FIELDS + 1, (envelope_pack_fn *[ENVELOPE_FIELDS]){[8] = p_not_utf8}, &size);
    frame[0] = 0x9b; //  11 fields announced, 12 present
    envelope_t env;
    assert_int_equal (envelope_decode_request (&env, frame, size, detail, sizeof detail),
                      SHOAL_EFORMAT);
    assert_string_equal (detail, "frame: 1 bytes after the last field");
    free (frame);
    //  UTF-8 of every length passes, as decode_detail.
    frame = envelope_frame (ENVELOPE_FIELDS, NULL, &size);
    assert_int_equal (envelope_decode_request (&env, frame, size, detail, sizeof detail), 0);
    assert_string_equal (detail, "");
    free (frame);
    //  An id of 16 zero bytes, which a reply's correlation writes as nil,
    //  is refused with the envelope whole.
    frame = envelope_frame (ENVELOPE_FIELDS, NULL, &size);
    assert_true (frame[3] == 0xc4 && frame[4] == ENVELOPE_ID_SIZE); //  array, version, kind, bin 16
    memset (frame + 5, 0, ENVELOPE_ID_SIZE);
    assert_int_equal (envelope_decode_request (&env, frame, size, detail, sizeof detail),
                      SHOAL_EINVAL);
    assert_string_equal (detail, "field 'id': 16 zero bytes, which read as nil: give another id");
    assert_int_equal (envelope_decode (&env, frame, size), 0);
    free (frame);
    //  Keys repeated only across maps, and a map of 41 keys, pass.
    frame = envelope_frame (ENVELOPE_FIELDS,
                            (envelope_pack_fn *[ENVELOPE_FIELDS]){[8] = p_keys_once}, &size);
    assert_int_equal (envelope_decode_request (&env, frame, size, detail, sizeof detail), 0);
    assert_string_equal (detail, "");
    free (frame);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_decode_request),     cmocka_unit_test (test_decode_truncated),
        cmocka_unit_test (test_decode_wrong_types), cmocka_unit_test (test_decode_element_count),
        cmocka_unit_test (test_decode_oversized),   cmocka_unit_test (test_decode_bad_version),
        cmocka_unit_test (test_decode_bad_name),    cmocka_unit_test (test_decode_payload_not_map),
        cmocka_unit_test (test_decode_depth),       cmocka_unit_test (test_decode_detail),
        cmocka_unit_test (test_decode_huge_counts), cmocka_unit_test (test_decode_trailing),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
