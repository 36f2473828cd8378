/*  test_data.c - fields read and written (runtime/data.c): nested maps
    and arrays, doubles, bytes and nil through shoal_rec_* and back through
    shoal_data_* and shoal_array_*; the depth limit on both sides; recs
    misused; payloads that lie about their lengths.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Finishes rec and parses what it holds into data (rec must outlive it).
static void s_parse (shoal_rec_t *rec, shoal_data_t *data)
{
    size_t size;
    const uint8_t *bytes = rec_finish (rec, &size);
    assert_non_null (bytes);
    assert_int_equal (data_init (data, bytes, size), 0);
}

//  The example: an order with nested items, written and read back.
static void test_usage (void **state)
{
    shoal_rec_t rec;
    rec_init (&rec);
    shoal_rec_str (&rec, "customer", "Ann");
    shoal_rec_double (&rec, "price", 12.5);
    shoal_rec_bytes (&rec, "tag", "\x00\x01\xff", 3);
    shoal_rec_nil (&rec, "note");
    shoal_rec_array_begin (&rec, "items");
    for (int i = 0; i < 2; i++) {
        shoal_rec_map_begin (&rec, NULL);
        shoal_rec_str (&rec, "sku", i ? "b" : "a");
        shoal_rec_int (&rec, "qty", i + 1);
        shoal_rec_array_begin (&rec, "flags");
        shoal_rec_bool (&rec, NULL, true);
        shoal_rec_double (&rec, NULL, 0.25);
        shoal_rec_str (&rec, NULL, "x");
        shoal_rec_bytes (&rec, NULL, "", 0);
        shoal_rec_nil (&rec, NULL);
        shoal_rec_array_end (&rec);
        shoal_rec_map_end (&rec);
    }
    shoal_rec_array_end (&rec);
    shoal_rec_map_begin (&rec, "empty");
    shoal_rec_map_end (&rec);
    shoal_rec_int (&rec, "after", 7);
    assert_int_equal (rec.error, 0);

    shoal_data_t data;
    s_parse (&rec, &data);
    assert_int_equal (shoal_data_count (&data), 7);
    char text[16];
    double d;
    int64_t i64;
    bool b;
    const uint8_t *bytes;
    size_t size;
    assert_int_equal (shoal_data_str (&data, "customer", text, sizeof text), 0);
    assert_string_equal (text, "Ann");
    assert_int_equal (shoal_data_double (&data, "price", &d), 0);
    assert_true (d == 12.5);
    assert_int_equal (shoal_data_bytes (&data, "tag", &bytes, &size), 0);
    assert_int_equal (size, 3);
    assert_memory_equal (bytes, "\x00\x01\xff", 3);
    assert_int_equal (shoal_data_type (&data, "note"), SHOAL_FIELD_NIL);
    assert_int_equal (shoal_data_type (&data, "items"), SHOAL_FIELD_ARRAY);
    assert_int_equal (shoal_data_type (&data, "empty"), SHOAL_FIELD_MAP);
    assert_int_equal (shoal_data_type (&data, "tag"), SHOAL_FIELD_BYTES);
    assert_int_equal (shoal_data_type (&data, "price"), SHOAL_FIELD_DOUBLE);
    assert_int_equal (shoal_data_type (&data, "customer"), SHOAL_FIELD_STR);
    assert_int_equal (shoal_data_type (&data, "after"), SHOAL_FIELD_INT);
    assert_int_equal (shoal_data_type (&data, "nope"), SHOAL_FIELD_ABSENT);
    assert_int_equal (shoal_data_int (&data, "after", &i64), 0);
    assert_int_equal (i64, 7);
    //  An integer reads as a double too, not the other way round.
    assert_int_equal (shoal_data_double (&data, "after", &d), 0);
    assert_true (d == 7.0);
    assert_int_equal (shoal_data_int (&data, "price", &i64), SHOAL_ETYPE);

    const shoal_array_t *items, *flags;
    const shoal_data_t *item, *empty;
    assert_int_equal (shoal_data_array (&data, "items", &items), 0);
    assert_int_equal (shoal_array_size (items), 2);
    assert_int_equal (shoal_array_map (items, 1, &item), 0);
    assert_int_equal (shoal_data_str (item, "sku", text, sizeof text), 0);
    assert_string_equal (text, "b");
    assert_int_equal (shoal_data_int (item, "qty", &i64), 0);
    assert_int_equal (i64, 2);
    assert_int_equal (shoal_data_array (item, "flags", &flags), 0);
    assert_int_equal (shoal_array_size (flags), 5);
    assert_int_equal (shoal_array_bool (flags, 0, &b), 0);
    assert_true (b);
    assert_int_equal (shoal_array_double (flags, 1, &d), 0);
    assert_true (d == 0.25);
    assert_int_equal (shoal_array_str (flags, 2, text, sizeof text), 0);
    assert_string_equal (text, "x");
    assert_int_equal (shoal_array_bytes (flags, 3, &bytes, &size), 0);
    assert_int_equal (size, 0);
    assert_non_null (bytes);
    assert_int_equal (shoal_array_type (flags, 4), SHOAL_FIELD_NIL);
    assert_int_equal (shoal_array_type (flags, 5), SHOAL_FIELD_ABSENT);
    assert_int_equal (shoal_array_int (flags, 5, &i64), SHOAL_ENOTFOUND);
    assert_int_equal (shoal_array_int (flags, 0, &i64), SHOAL_ETYPE);
    assert_int_equal (shoal_array_map (flags, 0, &item), SHOAL_ETYPE);
    assert_int_equal (shoal_array_array (items, 0, &flags), SHOAL_ETYPE);
    assert_int_equal (shoal_data_map (&data, "empty", &empty), 0);
    assert_int_equal (shoal_data_count (empty), 0);
    assert_false (shoal_data_has (empty, "x"));
    assert_int_equal (shoal_data_map (&data, "items", &empty), SHOAL_ETYPE);
    assert_int_equal (shoal_data_array (&data, "nope", &items), SHOAL_ENOTFOUND);
    assert_int_equal (shoal_data_bytes (&data, "customer", &bytes, &size), SHOAL_ETYPE);
    //  NULL views read as empty.
    assert_int_equal (shoal_array_size (NULL), 0);
    assert_int_equal (shoal_data_count (NULL), 0);
    assert_int_equal (shoal_data_type (NULL, "x"), SHOAL_FIELD_ABSENT);

    //  A copy of a nested map, as a value.
    shoal_rec_t copy;
    rec_init (&copy);
    assert_int_equal (shoal_array_map (items, 0, &item), 0);
    shoal_rec_data (&copy, "item", item);
    shoal_rec_data (&copy, "none", NULL);
    shoal_data_t copied;
    s_parse (&copy, &copied);
    const shoal_data_t *again;
    assert_int_equal (shoal_data_map (&copied, "item", &again), 0);
    assert_int_equal (shoal_data_str (again, "sku", text, sizeof text), 0);
    assert_string_equal (text, "a");
    assert_int_equal (shoal_data_map (&copied, "none", &again), 0);
    assert_int_equal (shoal_data_count (again), 0);
    data_close (&copied);
    rec_close (&copy);
    data_close (&data);
    rec_close (&rec);
}

//  Each misuse fails the rec with SHOAL_EINVAL (nothing can be finished),
//  and later writes do nothing; rec_misuse says which it was.
static void test_misuse (void **state)
{
    static const char *said[] = {
        "an end without its begin",
        "an end without its begin",
        "a key inside an array (its values take NULL)",
        "a NULL key inside a map",
        "a map or array begun and not ended",
        "an end of the other kind (a map's for an array, or the reverse)",
        "NULL bytes of a size not 0, or more than 4 GiB",
        "a key that is not UTF-8",
        "a key that is not UTF-8",
    };
    for (int how = 0; how < 9; how++) {
        shoal_rec_t rec;
        rec_init (&rec);
        shoal_rec_int (&rec, "ok", 1);
        switch (how) {
        case 0:
            shoal_rec_map_end (&rec);
            break;
        case 1:
            shoal_rec_array_end (&rec);
            break;
        case 2:
            shoal_rec_array_begin (&rec, "a");
            shoal_rec_int (&rec, "key", 1);
            shoal_rec_array_end (&rec);
            break;
        case 3:
            shoal_rec_int (&rec, NULL, 1);
            break;
        case 4:
            shoal_rec_map_begin (&rec, "m");
            break;
        case 5:
            shoal_rec_map_begin (&rec, "m");
            shoal_rec_array_end (&rec);
            shoal_rec_map_end (&rec);
            break;
        case 6:
            shoal_rec_bytes (&rec, "b", NULL, 3);
            break;
        case 7: //  it and "k\xfe" would both print as "k\ufffd"
            shoal_rec_int (&rec, "k\xff", 1);
            break;
        default: //  an overlong '/', in a nested map
            shoal_rec_map_begin (&rec, "m");
            shoal_rec_str (&rec, "\xc0\xaf", "v");
            shoal_rec_map_end (&rec);
        }
        assert_int_equal (rec.error, SHOAL_EINVAL);
        char expected[128];
        snprintf (expected, sizeof expected, "a field written wrongly with shoal_rec_*: %s",
                  said[how]);
        assert_string_equal (rec_misuse (&rec), expected);
        size_t size;
        assert_null (rec_finish (&rec, &size));
        rec_close (&rec);
    }
    //  A NULL rec is ignored by every writer.
    shoal_rec_map_begin (NULL, "m");
    shoal_rec_array_begin (NULL, "a");
    shoal_rec_double (NULL, "d", 1);
    shoal_rec_bytes (NULL, "b", "", 0);
    shoal_rec_nil (NULL, "n");
    shoal_rec_data (NULL, "d", NULL);
    shoal_rec_array_end (NULL);
    shoal_rec_map_end (NULL);
}

//  Fails unless rec was refused for a key written twice, with why.
static void s_assert_twice (shoal_rec_t *rec, const char *why)
{
    assert_int_equal (rec->error, SHOAL_EINVAL);
    char expected[128];
    snprintf (expected, sizeof expected, "a field written wrongly with shoal_rec_*: %s", why);
    assert_string_equal (rec_misuse (rec), expected);
    size_t size;
    assert_null (rec_finish (rec, &size));
    assert_int_equal (size, 0);
}

//  No map of a rec holds a key twice: the second is misuse, found when it
//  is written, among a few keys as among many. The same key in another
//  map, or again after a reset, is fine.
static void test_key_twice (void **state)
{
    shoal_rec_t rec;
    char key[32];
    rec_init (&rec);
    shoal_rec_int (&rec, "k", 1);
    shoal_rec_str (&rec, "other", "x");
    shoal_rec_int (&rec, "k", 2);
    s_assert_twice (&rec, "the key 'k' written twice in one map");

    //  The same key in other maps, and in the maps of an array; keys that
    //  share a prefix.
    rec_reset (&rec);
    shoal_rec_int (&rec, "k", 1);
    shoal_rec_map_begin (&rec, "m");
    shoal_rec_int (&rec, "k", 2);
    shoal_rec_int (&rec, "kk", 2);
    shoal_rec_map_end (&rec);
    shoal_rec_array_begin (&rec, "items");
    for (int i = 0; i < 3; i++) {
        shoal_rec_map_begin (&rec, NULL);
        shoal_rec_int (&rec, "k", i);
        shoal_rec_map_end (&rec);
    }
    shoal_rec_array_end (&rec);
    shoal_rec_int (&rec, "kk", 3);
    shoal_rec_int (&rec, "", 4);
    assert_int_equal (rec.error, 0);
    size_t size;
    assert_non_null (rec_finish (&rec, &size));
    //  After a finish too.
    shoal_rec_nil (&rec, "m");
    s_assert_twice (&rec, "the key 'm' written twice in one map");

    //  Twice in the top map, the second by rec_raw; twice in a map inside
    //  an array.
    rec_reset (&rec);
    shoal_rec_map_begin (&rec, "m");
    shoal_rec_int (&rec, "a", 1);
    shoal_rec_map_end (&rec);
    rec_raw (&rec, "m", (const uint8_t *) "\xc0", 1);
    s_assert_twice (&rec, "the key 'm' written twice in one map");
    rec_reset (&rec);
    shoal_rec_array_begin (&rec, "items");
    shoal_rec_map_begin (&rec, NULL);
    shoal_rec_bool (&rec, "b", true);
    shoal_rec_bool (&rec, "b", false);
    shoal_rec_map_end (&rec);
    shoal_rec_array_end (&rec);
    s_assert_twice (&rec, "the key 'b' written twice in one map");
    //  A key that cannot be quoted is not.
    rec_reset (&rec);
    shoal_rec_nil (&rec, "caf\xc3\xa9");
    shoal_rec_nil (&rec, "caf\xc3\xa9");
    s_assert_twice (&rec, "a key written twice in one map");

    //  The ninth key, the first one looked up in a table, against the
    //  eight before it.
    rec_reset (&rec);
    for (int i = 0; i < 8; i++) {
        snprintf (key, sizeof key, "k%d", i);
        shoal_rec_int (&rec, key, i);
    }
    shoal_rec_int (&rec, "k0", 8);
    s_assert_twice (&rec, "the key 'k0' written twice in one map");

    //  Many keys, found in a hash table rather than compared one by one:
    //  20000 in the top map and 20000 of the same names in a nested one
    //  are fine; one of them again is not.
    rec_reset (&rec);
    for (int map = 0; map < 2; map++) {
        if (map)
            shoal_rec_map_begin (&rec, "nested");
        for (int i = 0; i < 20000; i++) {
            snprintf (key, sizeof key, "key-%d", (i * 7919) % 20000);
            shoal_rec_int (&rec, key, i);
        }
    }
    shoal_rec_map_end (&rec);
    assert_int_equal (rec.error, 0);
    shoal_rec_int (&rec, "key-12345", 0);
    s_assert_twice (&rec, "the key 'key-12345' written twice in one map");
    //  After a reset, the rec is as new.
    rec_reset (&rec);
    shoal_rec_int (&rec, "key-12345", 0);
    assert_int_equal (rec.error, 0);
    assert_null (rec_misuse (&rec));
    rec_close (&rec);
}

//  Writing: the top map and SHOAL_DATA_DEPTH - 1 containers fit, one more
//  is SHOAL_ETOOBIG. Reading: data deeper than SHOAL_DATA_DEPTH is
//  refused.
static void test_depth (void **state)
{
    shoal_rec_t rec;
    rec_init (&rec);
    shoal_rec_array_begin (&rec, "d");
    for (int i = 1; i < SHOAL_DATA_DEPTH - 1; i++)
        shoal_rec_array_begin (&rec, NULL);
    for (int i = 1; i < SHOAL_DATA_DEPTH; i++)
        shoal_rec_array_end (&rec);
    assert_int_equal (rec.error, 0);
    shoal_data_t data;
    s_parse (&rec, &data);
    //  Copying it one level down is too deep.
    shoal_rec_t copy;
    rec_init (&copy);
    shoal_rec_data (&copy, "c", &data);
    assert_int_equal (copy.error, SHOAL_ETOOBIG);
    rec_close (&copy);
    data_close (&data);

    rec_reset (&rec);
    for (int i = 0; i < SHOAL_DATA_DEPTH; i++)
        shoal_rec_map_begin (&rec, "m");
    assert_int_equal (rec.error, SHOAL_ETOOBIG);
    assert_string_equal (rec_misuse (&rec), "a field written wrongly with shoal_rec_*: maps and "
                                            "arrays nested deeper than 16");
    rec_reset (&rec);
    assert_null (rec_misuse (&rec));
    rec_close (&rec);

    //  17 deep: {"d": [[...]]} with 16 arrays.
    uint8_t deep[3 + SHOAL_DATA_DEPTH] = {0x81, 0xa1, 'd'};
    memset (deep + 3, 0x91, SHOAL_DATA_DEPTH);
    deep[sizeof deep - 1] = 0x90;
    assert_int_equal (data_init (&data, deep, sizeof deep), SHOAL_EFORMAT);
    data_close (&data);
    deep[0] = 0x81;
    assert_int_equal (data_init (&data, deep, sizeof deep - 1), SHOAL_EFORMAT); //  truncated
    data_close (&data);
    deep[3] = 0x90; //  now 2 deep, with trailing bytes
    assert_int_equal (data_init (&data, deep, sizeof deep), SHOAL_EFORMAT);
    data_close (&data);
}

//  Nested lengths that lie are refused before anything is allocated.
static void test_lying_lengths (void **state)
{
    //  {"a": array32 of 2^32-1 elements, holding 1}
    static const uint8_t array[] = {0x81, 0xa1, 'a', 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01};
    //  {"s": str8 of 200 bytes, holding 2}
    static const uint8_t str[] = {0x81, 0xa1, 's', 0xd9, 200, 'h', 'i'};
    //  {"m": map16 of 1000 pairs, holding one}
    static const uint8_t map[] = {0x81, 0xa1, 'm', 0xde, 0x03, 0xe8, 0x01, 0x02};
    //  {"b": bin32 of 2^31 bytes, holding none}
    static const uint8_t bin[] = {0x81, 0xa1, 'b', 0xc6, 0x80, 0x00, 0x00, 0x00};
    const struct {
        const uint8_t *bytes;
        size_t size;
    } cases[] = {{array, sizeof array}, {str, sizeof str}, {map, sizeof map}, {bin, sizeof bin}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        shoal_data_t data;
        assert_int_equal (data_init (&data, cases[i].bytes, cases[i].size), SHOAL_EFORMAT);
        assert_false (shoal_data_has (&data, "a"));
        data_close (&data);
    }
}

//  Doubles keep every bit, and float 32 reads as a double.
static void test_doubles (void **state)
{
    shoal_rec_t rec;
    rec_init (&rec);
    shoal_rec_double (&rec, "tiny", 5e-324);
    shoal_rec_double (&rec, "inf", INFINITY);
    shoal_rec_double (&rec, "neg", -0.0);
    shoal_data_t data;
    s_parse (&rec, &data);
    double d;
    assert_int_equal (shoal_data_double (&data, "tiny", &d), 0);
    assert_true (d == 5e-324);
    assert_int_equal (shoal_data_double (&data, "inf", &d), 0);
    assert_true (isinf (d));
    assert_int_equal (shoal_data_double (&data, "neg", &d), 0);
    assert_true (d == 0 && signbit (d));
    data_close (&data);
    rec_close (&rec);

    static const uint8_t f32[] = {0x81, 0xa1, 'f', 0xca, 0x3f, 0xc0, 0x00, 0x00}; //  1.5f
    assert_int_equal (data_init (&data, f32, sizeof f32), 0);
    assert_int_equal (shoal_data_double (&data, "f", &d), 0);
    assert_true (d == 1.5);
    assert_int_equal (shoal_data_type (&data, "f"), SHOAL_FIELD_DOUBLE);
    data_close (&data);
}

//  A NULL pointer to read into (a module's mistake) is SHOAL_EINVAL and
//  nothing is written, whether the field is there or not: the node's
//  process wrote through it (a crash, found by a review).
static void test_null_out (void **state)
{
    shoal_rec_t rec;
    rec_init (&rec);
    shoal_rec_int (&rec, "n", 1);
    shoal_rec_bool (&rec, "b", true);
    shoal_rec_str (&rec, "s", "text");
    shoal_rec_double (&rec, "d", 1.5);
    shoal_rec_bytes (&rec, "x", "ab", 2);
    shoal_rec_map_begin (&rec, "m");
    shoal_rec_map_end (&rec);
    shoal_rec_array_begin (&rec, "a");
    shoal_rec_int (&rec, NULL, 2);
    shoal_rec_bool (&rec, NULL, false);
    shoal_rec_str (&rec, NULL, "y");
    shoal_rec_double (&rec, NULL, 2.5);
    shoal_rec_bytes (&rec, NULL, "c", 1);
    shoal_rec_map_begin (&rec, NULL);
    shoal_rec_map_end (&rec);
    shoal_rec_array_begin (&rec, NULL);
    shoal_rec_array_end (&rec);
    shoal_rec_array_end (&rec);
    shoal_data_t data;
    s_parse (&rec, &data);
    const uint8_t *ptr;
    size_t size;
    const shoal_array_t *array;
    assert_int_equal (shoal_data_array (&data, "a", &array), 0);
    for (int present = 0; present < 2; present++) {
        const char *k = present ? NULL : "absent";
        assert_int_equal (shoal_data_int (&data, k ? k : "n", NULL), SHOAL_EINVAL);
        assert_int_equal (shoal_data_bool (&data, k ? k : "b", NULL), SHOAL_EINVAL);
        assert_int_equal (shoal_data_str (&data, k ? k : "s", NULL, 16), SHOAL_EINVAL);
        assert_int_equal (shoal_data_double (&data, k ? k : "d", NULL), SHOAL_EINVAL);
        assert_int_equal (shoal_data_bytes (&data, k ? k : "x", NULL, &size), SHOAL_EINVAL);
        assert_int_equal (shoal_data_bytes (&data, k ? k : "x", &ptr, NULL), SHOAL_EINVAL);
        assert_int_equal (shoal_data_map (&data, k ? k : "m", NULL), SHOAL_EINVAL);
        assert_int_equal (shoal_data_array (&data, k ? k : "a", NULL), SHOAL_EINVAL);
        size_t at = present ? 0 : 99;
        assert_int_equal (shoal_array_int (array, at, NULL), SHOAL_EINVAL);
        assert_int_equal (shoal_array_bool (array, at ? at : 1, NULL), SHOAL_EINVAL);
        assert_int_equal (shoal_array_str (array, at ? at : 2, NULL, 16), SHOAL_EINVAL);
        assert_int_equal (shoal_array_double (array, at ? at : 3, NULL), SHOAL_EINVAL);
        assert_int_equal (shoal_array_bytes (array, at ? at : 4, NULL, &size), SHOAL_EINVAL);
        assert_int_equal (shoal_array_bytes (array, at ? at : 4, &ptr, NULL), SHOAL_EINVAL);
        assert_int_equal (shoal_array_map (array, at ? at : 5, NULL), SHOAL_EINVAL);
        assert_int_equal (shoal_array_array (array, at ? at : 6, NULL), SHOAL_EINVAL);
    }
    //  A NULL buffer of no bytes is not written either: too small.
    assert_int_equal (shoal_data_str (&data, "s", NULL, 0), SHOAL_ETOOBIG);
    data_close (&data);
    rec_close (&rec);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_usage),    cmocka_unit_test (test_misuse),
        cmocka_unit_test (test_depth),    cmocka_unit_test (test_lying_lengths),
        cmocka_unit_test (test_doubles),  cmocka_unit_test (test_key_twice),
        cmocka_unit_test (test_null_out),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
