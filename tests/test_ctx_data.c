/*  test_ctx_data.c - fields and recs: shoal_data_t read from msgpack (every
    type, edges, null and empty, malformed input, borrowed bytes) and
    shoal_rec_t written (many keys, reset, raw, NULL safety).
    Helpers: ctx_test_util.h.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ctx.h"
#include "data.h"
#include "envelope.h"
#include "harness.h"
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx_test_util.h"

//  --------------------------------------------------------------------------
//  Helpers for data and rec

//  A map built with msgpack's packer; the caller destroys sbuf.
static void s_pack_key (msgpack_packer *pk, const char *key)
{
    msgpack_pack_str (pk, strlen (key));
    msgpack_pack_str_body (pk, key, strlen (key));
}

//  --------------------------------------------------------------------------
//  data: reading fields

static void test_data_usage (void **state)
{
    (void) state;
    shoal_rec_t rec;
    rec_init (&rec);
    shoal_rec_int (&rec, "amount", -42);
    shoal_rec_bool (&rec, "urgent", true);
    shoal_rec_str (&rec, "memo", "rent");
    size_t size;
    const uint8_t *bytes = rec_finish (&rec, &size);
    assert_non_null (bytes);

    shoal_data_t data;
    assert_int_equal (data_init (&data, bytes, size), 0);
    int64_t amount = 0;
    bool urgent = false;
    char memo[16];
    assert_int_equal (shoal_data_int (&data, "amount", &amount), 0);
    assert_int_equal (amount, -42);
    assert_int_equal (shoal_data_bool (&data, "urgent", &urgent), 0);
    assert_true (urgent);
    assert_int_equal (shoal_data_str (&data, "memo", memo, sizeof memo), 0);
    assert_string_equal (memo, "rent");
    assert_true (shoal_data_has (&data, "memo"));
    assert_false (shoal_data_has (&data, "nope"));
    data_close (&data);
    rec_close (&rec);
}

//  data.h: "The bytes need not outlive data." Checked without a
//  use-after-free: the bytes are overwritten (not freed) after data_init,
//  and data must still read what they held.
//  data borrows its bytes (data.h: they must outlive it): a string field
//  is read in place, so a change to the bytes shows through.
static void test_data_borrows_its_bytes (void **state)
{
    (void) state;
    shoal_rec_t rec;
    rec_init (&rec);
    shoal_rec_str (&rec, "memo", "rent");
    shoal_rec_int (&rec, "amount", 7);
    size_t size;
    const uint8_t *bytes = rec_finish (&rec, &size);
    uint8_t *copy = malloc (size);
    assert_non_null (copy);
    memcpy (copy, bytes, size);
    rec_close (&rec);

    shoal_data_t data;
    assert_int_equal (data_init (&data, copy, size), 0);
    char memo[16] = "";
    assert_int_equal (shoal_data_str (&data, "memo", memo, sizeof memo), 0);
    assert_string_equal (memo, "rent");
    uint8_t *found = memmem (copy, size, "rent", 4);
    assert_non_null (found);
    found[1] = 'a';
    assert_int_equal (shoal_data_str (&data, "memo", memo, sizeof memo), 0);
    assert_string_equal (memo, "rant");
    int64_t amount = 0;
    assert_int_equal (shoal_data_int (&data, "amount", &amount), 0);
    assert_int_equal (amount, 7);
    data_close (&data);
    free (copy);
}

//  {"neg": -5, "pos": 7, "max": INT64_MAX, "big": INT64_MAX + 1,
//   "huge": UINT64_MAX, "min": INT64_MIN, "t": true, "f": false,
//   "s": "hello", "e": "", "nul": "a\0b", "x": 1.5, "nil": nil,
//   "arr": [1], 42: "int key"}
static uint8_t *s_typed_map (size_t *size)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 15);
    s_pack_key (&pk, "neg");
    msgpack_pack_int64 (&pk, -5);
    s_pack_key (&pk, "pos");
    msgpack_pack_uint8 (&pk, 7);
    s_pack_key (&pk, "max");
    msgpack_pack_uint64 (&pk, INT64_MAX);
    s_pack_key (&pk, "big");
    msgpack_pack_uint64 (&pk, (uint64_t) INT64_MAX + 1);
    s_pack_key (&pk, "huge");
    msgpack_pack_uint64 (&pk, UINT64_MAX);
    s_pack_key (&pk, "min");
    msgpack_pack_int64 (&pk, INT64_MIN);
    s_pack_key (&pk, "t");
    msgpack_pack_true (&pk);
    s_pack_key (&pk, "f");
    msgpack_pack_false (&pk);
    s_pack_key (&pk, "s");
    s_pack_key (&pk, "hello");
    s_pack_key (&pk, "e");
    s_pack_key (&pk, "");
    s_pack_key (&pk, "nul");
    msgpack_pack_str (&pk, 3);
    msgpack_pack_str_body (&pk, "a\0b", 3);
    s_pack_key (&pk, "x");
    msgpack_pack_double (&pk, 1.5);
    s_pack_key (&pk, "nil");
    msgpack_pack_nil (&pk);
    s_pack_key (&pk, "arr");
    msgpack_pack_array (&pk, 1);
    msgpack_pack_int (&pk, 1);
    msgpack_pack_int (&pk, 42);
    s_pack_key (&pk, "int key");
    *size = sbuf.size;
    return (uint8_t *) msgpack_sbuffer_release (&sbuf);
}

//  An empty key (msgpack-c gives it a NULL pointer) is found like any
//  other; a map whose header claims 2^28 pairs is refused before msgpack-c
//  sizes anything by it.
static void test_data_edges (void **state)
{
    (void) state;
    shoal_data_t data;
    assert_int_equal (data_init (&data, (const uint8_t *) "\x82\xa0\x01\xa1s\xa0", 6), 0);
    int64_t i = 0;
    assert_int_equal (shoal_data_int (&data, "", &i), 0);
    assert_int_equal (i, 1);
    char buf[4] = "xyz";
    assert_int_equal (shoal_data_str (&data, "s", buf, sizeof buf), 0);
    assert_string_equal (buf, "");
    data_close (&data);

    static const uint8_t lying[] = {0xdf, 0x10, 0x00, 0x00, 0x01, 0xa6, 'a',
                                    'm',  'o',  'u',  'n',  't',  0xb4, 0x2a};
    assert_int_equal (data_init (&data, lying, sizeof lying), SHOAL_EFORMAT);
    assert_false (shoal_data_has (&data, "amount"));
    data_close (&data);
    assert_int_equal (data_init (&data, (const uint8_t *) "\x93\x01\x02\x03", 4), SHOAL_EFORMAT);
    data_close (&data);
}

static void test_data_types (void **state)
{
    (void) state;
    size_t size;
    uint8_t *bytes = s_typed_map (&size);
    shoal_data_t data;
    assert_int_equal (data_init (&data, bytes, size), 0);

    int64_t i = 99;
    assert_int_equal (shoal_data_int (&data, "neg", &i), 0);
    assert_int_equal (i, -5);
    assert_int_equal (shoal_data_int (&data, "pos", &i), 0);
    assert_int_equal (i, 7);
    assert_int_equal (shoal_data_int (&data, "max", &i), 0);
    assert_true (i == INT64_MAX);
    assert_int_equal (shoal_data_int (&data, "min", &i), 0);
    assert_true (i == INT64_MIN);
    i = 99;
    assert_int_equal (shoal_data_int (&data, "big", &i), SHOAL_ETYPE);
    assert_int_equal (shoal_data_int (&data, "huge", &i), SHOAL_ETYPE);
    assert_int_equal (shoal_data_int (&data, "s", &i), SHOAL_ETYPE);
    assert_int_equal (shoal_data_int (&data, "t", &i), SHOAL_ETYPE);
    assert_int_equal (shoal_data_int (&data, "x", &i), SHOAL_ETYPE);
    assert_int_equal (shoal_data_int (&data, "nil", &i), SHOAL_ETYPE);
    assert_int_equal (shoal_data_int (&data, "arr", &i), SHOAL_ETYPE);
    assert_int_equal (shoal_data_int (&data, "absent", &i), SHOAL_ENOTFOUND);
    assert_int_equal (i, 99); //  untouched on failure

    bool b = false;
    assert_int_equal (shoal_data_bool (&data, "t", &b), 0);
    assert_true (b);
    assert_int_equal (shoal_data_bool (&data, "f", &b), 0);
    assert_false (b);
    assert_int_equal (shoal_data_bool (&data, "pos", &b), SHOAL_ETYPE);
    assert_int_equal (shoal_data_bool (&data, "s", &b), SHOAL_ETYPE);
    assert_int_equal (shoal_data_bool (&data, "nil", &b), SHOAL_ETYPE);
    assert_int_equal (shoal_data_bool (&data, "absent", &b), SHOAL_ENOTFOUND);

    char buf[8];
    assert_int_equal (shoal_data_str (&data, "s", buf, sizeof buf), 0);
    assert_string_equal (buf, "hello");
    assert_int_equal (shoal_data_str (&data, "s", buf, 6), 0); //  exactly fits
    assert_string_equal (buf, "hello");
    assert_int_equal (shoal_data_str (&data, "s", buf, 5), SHOAL_ETOOBIG);
    assert_int_equal (shoal_data_str (&data, "s", buf, 0), SHOAL_ETOOBIG);
    assert_int_equal (shoal_data_str (&data, "e", buf, sizeof buf), 0);
    assert_string_equal (buf, "");
    assert_int_equal (shoal_data_str (&data, "nul", buf, sizeof buf), SHOAL_EFORMAT);
    assert_int_equal (shoal_data_str (&data, "pos", buf, sizeof buf), SHOAL_ETYPE);
    assert_int_equal (shoal_data_str (&data, "t", buf, sizeof buf), SHOAL_ETYPE);
    assert_int_equal (shoal_data_str (&data, "absent", buf, sizeof buf), SHOAL_ENOTFOUND);

    //  has: any type, even nil; keys are strings only, compared whole.
    assert_true (shoal_data_has (&data, "nil"));
    assert_true (shoal_data_has (&data, "arr"));
    assert_true (shoal_data_has (&data, "e"));
    assert_false (shoal_data_has (&data, "42"));
    assert_false (shoal_data_has (&data, "int key"));
    assert_false (shoal_data_has (&data, "ne"));
    assert_false (shoal_data_has (&data, "nega"));
    assert_false (shoal_data_has (&data, ""));
    assert_false (shoal_data_has (&data, NULL));
    assert_int_equal (shoal_data_int (&data, NULL, &i), SHOAL_ENOTFOUND);
    data_close (&data);
    free (bytes);
}

static void test_data_null_and_empty (void **state)
{
    (void) state;
    int64_t i = 3;
    bool b = true;
    char buf[4] = "x";
    assert_int_equal (shoal_data_int (NULL, "a", &i), SHOAL_ENOTFOUND);
    assert_int_equal (shoal_data_bool (NULL, "a", &b), SHOAL_ENOTFOUND);
    assert_int_equal (shoal_data_str (NULL, "a", buf, sizeof buf), SHOAL_ENOTFOUND);
    assert_false (shoal_data_has (NULL, "a"));
    assert_int_equal (i, 3);

    shoal_data_t data;
    assert_int_equal (data_init (&data, NULL, 0), 0);
    assert_null (data.map);
    assert_int_equal (shoal_data_int (&data, "a", &i), SHOAL_ENOTFOUND);
    data_close (&data);

    static const uint8_t empty_map[] = {0x80};
    assert_int_equal (data_init (&data, empty_map, sizeof empty_map), 0);
    assert_null (data.map);
    assert_false (shoal_data_has (&data, "a"));
    data_close (&data);
}

static void test_data_init_malformed (void **state)
{
    (void) state;
    static const uint8_t array[] = {0x91, 0x01};
    static const uint8_t str[] = {0xa1, 'a'};
    static const uint8_t nil[] = {0xc0};
    static const uint8_t never_used[] = {0xc1};
    static const uint8_t truncated[] = {0x81, 0xa1, 'a'};
    static const uint8_t short_map32[] = {0xdf, 0, 0, 0, 2, 0xa1, 'a', 0x01};
    static const uint8_t trailing[] = {0x81, 0xa1, 'a', 0x01, 0x01};
    static const uint8_t two_maps[] = {0x80, 0x80};
    struct {
        const uint8_t *bytes;
        size_t size;
    } cases[] = {
        {array, sizeof array},
        {str, sizeof str},
        {nil, sizeof nil},
        {never_used, sizeof never_used},
        {truncated, sizeof truncated},
        {short_map32, sizeof short_map32},
        {trailing, sizeof trailing},
        {two_maps, sizeof two_maps},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        //  From an exact-size heap copy, so that ASan sees any overread.
        uint8_t *copy = malloc (cases[c].size);
        assert_non_null (copy);
        memcpy (copy, cases[c].bytes, cases[c].size);
        shoal_data_t data;
        assert_int_equal (data_init (&data, copy, cases[c].size), SHOAL_EFORMAT);
        assert_null (data.map); //  reads as empty
        assert_false (shoal_data_has (&data, "a"));
        data_close (&data);
        free (copy);
    }
}

//  Round-trips count pairs {"k<i>": i} written by a rec; checks the count,
//  the first, a middle and the last pair.
static void s_rec_round_trip (uint32_t count)
{
    shoal_rec_t rec;
    rec_init (&rec);
    char key[16];
    for (uint32_t i = 0; i < count; i++) {
        snprintf (key, sizeof key, "k%u", i);
        shoal_rec_int (&rec, key, i);
    }
    size_t size;
    const uint8_t *bytes = rec_finish (&rec, &size);
    assert_non_null (bytes);
    shoal_data_t data;
    assert_int_equal (data_init (&data, bytes, size), 0);
    assert_non_null (data.map);
    assert_int_equal (data.map->via.map.size, count);
    uint32_t probes[] = {0, count / 2, count - 1};
    for (size_t p = 0; p < 3; p++) {
        int64_t value = -1;
        snprintf (key, sizeof key, "k%u", probes[p]);
        assert_int_equal (shoal_data_int (&data, key, &value), 0);
        assert_int_equal (value, probes[p]);
    }
    snprintf (key, sizeof key, "k%u", count);
    assert_false (shoal_data_has (&data, key));
    data_close (&data);
    rec_close (&rec);
}

//  The same through msgpack's own packer, which picks fixmap, map16 or
//  map32 by count: data_init must read every header size.
static void s_packer_round_trip (uint32_t count, uint8_t header)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, count);
    char key[16];
    for (uint32_t i = 0; i < count; i++) {
        snprintf (key, sizeof key, "k%u", i);
        s_pack_key (&pk, key);
        msgpack_pack_uint32 (&pk, i);
    }
    assert_int_equal ((uint8_t) sbuf.data[0], header);
    shoal_data_t data;
    assert_int_equal (data_init (&data, (const uint8_t *) sbuf.data, sbuf.size), 0);
    assert_non_null (data.map);
    assert_int_equal (data.map->via.map.size, count);
    int64_t value = -1;
    snprintf (key, sizeof key, "k%u", count - 1);
    assert_int_equal (shoal_data_int (&data, key, &value), 0);
    assert_int_equal (value, count - 1);
    data_close (&data);
    msgpack_sbuffer_destroy (&sbuf);
}

static void test_rec_many_keys (void **state)
{
    (void) state;
    s_rec_round_trip (1);
    s_rec_round_trip (15);
    s_rec_round_trip (16);
    s_rec_round_trip (65535);
    s_rec_round_trip (65536);
    s_rec_round_trip (70000);
    s_packer_round_trip (15, 0x8f);
    s_packer_round_trip (16, 0xde);
    s_packer_round_trip (65535, 0xde);
    s_packer_round_trip (65536, 0xdf);
}

static void test_rec_empty_reset_raw (void **state)
{
    (void) state;
    shoal_rec_t rec;
    rec_init (&rec);
    size_t size = 99;
    const uint8_t *bytes = rec_finish (&rec, &size);
    assert_non_null (bytes);
    assert_int_equal (size, 1);
    assert_int_equal (bytes[0], 0x80);

    //  Reset keeps nothing of what was written.
    shoal_rec_int (&rec, "a", 1);
    shoal_rec_int (&rec, "b", 2);
    assert_int_equal (harness_rec_count (&rec), 2);
    rec_reset (&rec);
    shoal_rec_str (&rec, "c", "three");
    assert_int_equal (harness_rec_count (&rec), 1);
    shoal_data_t data;
    harness_rec_parse (&rec, &data);
    assert_false (shoal_data_has (&data, "a"));
    assert_true (shoal_data_has (&data, "c"));
    data_close (&data);

    //  rec_raw: pre-encoded msgpack as a value, e.g. a nested map.
    rec_reset (&rec);
    static const uint8_t nested[] = {0x81, 0xa1, 'x', 0x05};
    rec_raw (&rec, "inner", nested, sizeof nested);
    shoal_rec_int (&rec, "after", 6);
    assert_int_equal (harness_rec_count (&rec), 2);
    assert_int_equal (harness_rec_int (&rec, "after"), 6);
    harness_rec_parse (&rec, &data);
    assert_int_equal (data.map->via.map.ptr[0].val.type, MSGPACK_OBJECT_MAP);
    data_close (&data);

    //  Keys and values with every byte length class of msgpack strings.
    rec_reset (&rec);
    char *long_value = malloc (70000);
    assert_non_null (long_value);
    memset (long_value, 'v', 69999);
    long_value[69999] = 0;
    shoal_rec_str (&rec, "long", long_value);
    shoal_rec_str (&rec, "", "empty key");
    harness_rec_parse (&rec, &data);
    char *buf = malloc (70000);
    assert_non_null (buf);
    assert_int_equal (shoal_data_str (&data, "long", buf, 70000), 0);
    assert_string_equal (buf, long_value);
    assert_int_equal (shoal_data_str (&data, "", buf, 70000), 0);
    assert_string_equal (buf, "empty key");
    data_close (&data);
    free (buf);
    free (long_value);
    rec_close (&rec);
}

static void test_rec_null_safety (void **state)
{
    (void) state;
    //  A NULL rec (what ctx calls return on misuse) is a no-op.
    shoal_rec_int (NULL, "a", 1);
    shoal_rec_bool (NULL, "a", true);
    shoal_rec_str (NULL, "a", "x");
    shoal_rec_str (NULL, "a", NULL);
    shoal_rec_int (NULL, NULL, 1);

    //  A NULL key or value is an error, sticky until reset.
    shoal_rec_t rec;
    rec_init (&rec);
    shoal_rec_int (&rec, "ok", 1);
    shoal_rec_str (&rec, "bad", NULL);
    assert_int_equal (rec.error, SHOAL_EINVAL);
    shoal_rec_int (&rec, "later", 2);
    size_t size = 99;
    assert_null (rec_finish (&rec, &size));
    assert_int_equal (size, 0);
    rec_reset (&rec);
    assert_int_equal (rec.error, 0);
    shoal_rec_int (&rec, NULL, 1);
    assert_int_equal (rec.error, SHOAL_EINVAL);
    assert_null (rec_finish (&rec, &size));
    rec_reset (&rec);
    shoal_rec_bool (&rec, NULL, true);
    assert_null (rec_finish (&rec, &size));
    rec_reset (&rec);
    shoal_rec_int (&rec, "fine", 5);
    assert_int_equal (harness_rec_int (&rec, "fine"), 5);
    rec_close (&rec);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_data_usage),          cmocka_unit_test (test_data_borrows_its_bytes),
        cmocka_unit_test (test_data_edges),          cmocka_unit_test (test_data_types),
        cmocka_unit_test (test_data_null_and_empty), cmocka_unit_test (test_data_init_malformed),
        cmocka_unit_test (test_rec_many_keys),       cmocka_unit_test (test_rec_empty_reset_raw),
        cmocka_unit_test (test_rec_null_safety),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
