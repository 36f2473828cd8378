/*  test_envelope_check.c - addresses checked and decoded, msgpack checked in
    every format and at random, and the decoder fuzzed.
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

//  --------------------------------------------------------------------------
//  Helpers

static uint64_t s_seed (void)
{
    const char *env = getenv ("SHOAL_FUZZ_SEED");
    return env ? strtoull (env, NULL, 0) : 0x5eed0f5a0a1ull;
}

static void p_four (msgpack_packer *pk)
{
    msgpack_pack_uint8 (pk, 4);
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
    ADDRESS ("account/a\xc2\x80"),        //  C1 controls: U+0080
    ADDRESS ("account/a\xc2\x85"),        //  U+0085, a line break
    ADDRESS ("account/a\xc2\x9b"),        //  U+009B, a terminal's CSI
    ADDRESS ("account/a\xc2\x9f"),        //  U+009F
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
    ADDRESS ("account/\xc2\xa0"), //  U+00A0, the first after C1
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
        assert_int_equal (envelope_decode_with (5, p_address_under_test), expected);
        assert_int_equal (envelope_decode_with (6, p_address_under_test), SHOAL_EADDRESS);
    }
    for (size_t i = 0; i < sizeof s_good_addresses / sizeof s_good_addresses[0]; i++) {
        s_address_under_test = &s_good_addresses[i];
        assert_int_equal (envelope_decode_with (5, p_address_under_test), 0);
        assert_int_equal (envelope_decode_with (6, p_address_under_test), 0);
    }
    assert_int_equal (envelope_decode_with (5, p_address_no_slash), SHOAL_EADDRESS);
    assert_int_equal (envelope_decode_with (6, p_address_upper), SHOAL_EADDRESS);
    assert_int_equal (envelope_decode_with (5, p_address_too_long), SHOAL_EADDRESS);
    assert_int_equal (envelope_decode_with (6, p_address_too_long), SHOAL_EADDRESS);

    //  "" is a valid `to` only for a reply; a query has no such excuse.
    envelope_pack_fn *fns[ENVELOPE_FIELDS] = {0};
    fns[6] = p_str_empty;
    size_t size;
    uint8_t *frame = envelope_frame (ENVELOPE_FIELDS, fns, &size);
    assert_int_equal (envelope_decode_copy (frame, size), SHOAL_EADDRESS);
    free (frame);
    fns[1] = p_two;
    frame = envelope_frame (ENVELOPE_FIELDS, fns, &size);
    assert_int_equal (envelope_decode_copy (frame, size), 0);
    free (frame);
    fns[1] = p_four;
    frame = envelope_frame (ENVELOPE_FIELDS, fns, &size);
    assert_int_equal (envelope_decode_copy (frame, size), SHOAL_EADDRESS);
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
        if (envelope_check_copy (bytes, len) != 0)
            print_error ("format %zu refused\n", i);
        assert_int_equal (envelope_check_copy (bytes, len), 0);
        harness_assert_one_msgpack (bytes, len);

        for (size_t cut = 0; cut < len; cut++)
            assert_int_equal (envelope_check_copy (bytes, cut), SHOAL_EFORMAT);
        uint8_t *longer = malloc (len + 1);
        assert_non_null (longer);
        memcpy (longer, bytes, len);
        longer[len] = 0xc0;
        assert_int_equal (envelope_check_copy (longer, len + 1), SHOAL_EFORMAT);
        free (longer);
    }
}

static void test_check_msgpack_invalid (void **state)
{
    assert_int_equal (envelope_check_msgpack (NULL, 0), SHOAL_EFORMAT);
    assert_int_equal (envelope_check_copy ((const uint8_t *) "", 0), SHOAL_EFORMAT);
    assert_int_equal (envelope_check_copy ((const uint8_t *) "\xc1", 1), SHOAL_EFORMAT);
    assert_int_equal (envelope_check_copy ((const uint8_t *) "\x91\xc1", 2), SHOAL_EFORMAT);
    assert_int_equal (envelope_check_copy ((const uint8_t *) "\x81\x01", 2), SHOAL_EFORMAT);
    assert_int_equal (envelope_check_copy ((const uint8_t *) "\x01\x01", 2), SHOAL_EFORMAT);

    size_t size;
    uint8_t *deep = envelope_nested (ENVELOPE_MAX_DEPTH, &size);
    assert_int_equal (envelope_check_copy (deep, size), 0);
    free (deep);
    deep = envelope_nested (ENVELOPE_MAX_DEPTH + 1, &size);
    assert_int_equal (envelope_check_copy (deep, size), SHOAL_EFORMAT);
    free (deep);
    //  Depth counts containers, not scalars: 32 arrays around a number.
    uint8_t arrays[ENVELOPE_MAX_DEPTH + 2];
    memset (arrays, 0x91, sizeof arrays);
    arrays[ENVELOPE_MAX_DEPTH] = 0x01;
    assert_int_equal (envelope_check_copy (arrays, ENVELOPE_MAX_DEPTH + 1), 0);
    arrays[ENVELOPE_MAX_DEPTH + 1] = 0x01;
    assert_int_equal (envelope_check_copy (arrays, ENVELOPE_MAX_DEPTH + 2), SHOAL_EFORMAT);
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
        envelope_random_object (&pk, 1 + (int) (harness_rand () % ENVELOPE_MAX_DEPTH));
        size_t size;
        uint8_t *bytes = harness_take (&sbuf, &size);
        assert_int_equal (envelope_check_copy (bytes, size), 0);
        harness_assert_one_msgpack (bytes, size);
        size_t cut = (size_t) (harness_rand () % size);
        assert_int_equal (envelope_check_copy (bytes, cut), SHOAL_EFORMAT);
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
        envelope_assert_env_equal (&env, &again);
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
    uint8_t *frame = envelope_frame (ENVELOPE_FIELDS, NULL, &frame_size);
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
    uint8_t *payload = envelope_payload (&payload_size);
    envelope_t env;
    envelope_sample (&env);
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

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_address_check_valid),
        cmocka_unit_test (test_address_check_invalid),
        cmocka_unit_test (test_address_is_projection),
        cmocka_unit_test (test_decode_bad_addresses),
        cmocka_unit_test (test_check_msgpack_formats),
        cmocka_unit_test (test_check_msgpack_invalid),
        cmocka_unit_test (test_check_msgpack_random_objects),
        cmocka_unit_test (test_fuzz_random),
        cmocka_unit_test (test_fuzz_flips),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
