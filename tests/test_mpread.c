/*  test_mpread.c - the shared msgpack reader: usage first, then every
    format, truncation at every offset, huge declared counts in tiny
    buffers, depth limits, the typed readers' failure paths, and a cross
    check against msgpack-c on random elements of every format and on
    mutations of them.

    Every read of hostile bytes is from a heap copy of exactly their size,
    so that ASan reports any read past the end. Every failing read must
    leave the offset where it was.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"
#include "mpread.h"
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

//  --------------------------------------------------------------------------
//  Helpers

//  mpread_check on an exact-size copy.
static int s_check_copy (const void *bytes, size_t size, int max_depth)
{
    uint8_t *copy = harness_copy (bytes, size);
    int rc = mpread_check (copy, size, max_depth);
    free (copy);
    return rc;
}

//  mpread_next on an exact-size copy; a failure must leave the offset.
static int s_next_copy (const void *bytes, size_t size, mpread_item_t *item, size_t *end)
{
    uint8_t *copy = harness_copy (bytes, size);
    size_t offset = 0;
    int rc = mpread_next (copy, size, &offset, item);
    if (rc)
        assert_int_equal (offset, 0);
    else if (item->kind == MPREAD_STR || item->kind == MPREAD_BIN || item->kind == MPREAD_EXT) {
        assert_true (item->data >= copy && item->data + item->len <= copy + size);
        item->data = (const uint8_t *) bytes + (item->data - copy);
    }
    free (copy);
    *end = offset;
    return rc;
}

//  mpread_skip on an exact-size copy; a failure must leave the offset.
static int s_skip_copy (const void *bytes, size_t size, int max_depth, size_t *end)
{
    uint8_t *copy = harness_copy (bytes, size);
    size_t offset = 0;
    int rc = mpread_skip (copy, size, &offset, max_depth);
    if (rc)
        assert_int_equal (offset, 0);
    free (copy);
    *end = offset;
    return rc;
}

//  depth arrays nested around the number 1: [[...[1]...]], depth + 1 bytes.
static uint8_t *s_nested_arrays (size_t depth, size_t *size)
{
    *size = depth + 1;
    uint8_t *bytes = malloc (*size);
    assert_non_null (bytes);
    memset (bytes, 0x91, depth);
    bytes[depth] = 0x01;
    return bytes;
}

//  Asserts that item is of kind and holds the size bytes at ptr.
static void s_assert_bytes (const mpread_item_t *item, mpread_kind_t kind, const char *ptr,
                            uint32_t size)
{
    assert_int_equal (item->kind, kind);
    assert_int_equal (item->len, size);
    assert_memory_equal (item->data, ptr, size);
}

//  Walks the element at *offset with mpread_next and asserts that it is
//  what msgpack-c unpacked as obj, recursively.
static void s_assert_same (const uint8_t *data, size_t size, size_t *offset,
                           const msgpack_object *obj)
{
    mpread_item_t item;
    assert_int_equal (mpread_next (data, size, offset, &item), 0);
    switch (obj->type) {
    case MSGPACK_OBJECT_NIL:
        assert_int_equal (item.kind, MPREAD_NIL);
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        assert_int_equal (item.kind, MPREAD_BOOL);
        assert_int_equal (item.value.b, obj->via.boolean);
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        assert_int_equal (item.kind, MPREAD_UINT);
        assert_true (item.value.u == obj->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        assert_int_equal (item.kind, MPREAD_INT);
        assert_true (item.value.i == obj->via.i64);
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        assert_int_equal (item.kind, MPREAD_FLOAT);
        assert_true (item.value.f == obj->via.f64);
        break;
    case MSGPACK_OBJECT_STR:
        s_assert_bytes (&item, MPREAD_STR, obj->via.str.ptr, obj->via.str.size);
        break;
    case MSGPACK_OBJECT_BIN:
        s_assert_bytes (&item, MPREAD_BIN, obj->via.bin.ptr, obj->via.bin.size);
        break;
    case MSGPACK_OBJECT_EXT:
        s_assert_bytes (&item, MPREAD_EXT, obj->via.ext.ptr, obj->via.ext.size);
        assert_int_equal (item.ext_type, obj->via.ext.type);
        break;
    case MSGPACK_OBJECT_ARRAY:
        assert_int_equal (item.kind, MPREAD_ARRAY);
        assert_int_equal (item.count, obj->via.array.size);
        for (uint32_t i = 0; i < obj->via.array.size; i++)
            s_assert_same (data, size, offset, &obj->via.array.ptr[i]);
        break;
    case MSGPACK_OBJECT_MAP:
        assert_int_equal (item.kind, MPREAD_MAP);
        assert_int_equal (item.count, obj->via.map.size);
        for (uint32_t i = 0; i < obj->via.map.size; i++) {
            s_assert_same (data, size, offset, &obj->via.map.ptr[i].key);
            s_assert_same (data, size, offset, &obj->via.map.ptr[i].val);
        }
        break;
    default:
        fail_msg ("unexpected msgpack-c type %d", obj->type);
    }
}

//  --------------------------------------------------------------------------
//  Usage

//  A journal-style record [1, "opened", {"n": 7}, -5], read field by field,
//  then walked element by element.
static void test_usage (void **state)
{
    static const uint8_t record[] = {0x94, 0x01, 0xa6, 'o',  'p', 'e',  'n',
                                     'e',  'd',  0x81, 0xa1, 'n', 0x07, 0xfb};
    size_t offset = 0;
    uint64_t count;
    int64_t version, created;
    const uint8_t *name, *map;
    size_t name_len, map_len;
    assert_int_equal (mpread_array (record, sizeof record, &offset, &count), 0);
    assert_int_equal (count, 4);
    assert_int_equal (mpread_int (record, sizeof record, &offset, 0, 10, &version), 0);
    assert_int_equal (version, 1);
    assert_int_equal (mpread_str (record, sizeof record, &offset, &name, &name_len), 0);
    assert_int_equal (name_len, 6);
    assert_memory_equal (name, "opened", 6);
    assert_int_equal (
        mpread_map_span (record, sizeof record, &offset, MPREAD_DEPTH_ANY, &map, &map_len), 0);
    assert_ptr_equal (map, record + 9);
    assert_int_equal (map_len, 4);
    assert_true (mpread_is_map (map, map_len, 1));
    assert_int_equal (mpread_int (record, sizeof record, &offset, INT64_MIN, INT64_MAX, &created),
                      0);
    assert_int_equal (created, -5);
    assert_int_equal (offset, sizeof record);

    //  The same record as a whole, and walked one element at a time.
    assert_int_equal (mpread_check (record, sizeof record, 2), 0);
    static const mpread_kind_t kinds[] = {MPREAD_ARRAY, MPREAD_UINT, MPREAD_STR, MPREAD_MAP,
                                          MPREAD_STR,   MPREAD_UINT, MPREAD_INT};
    offset = 0;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        mpread_item_t item;
        assert_int_equal (mpread_next (record, sizeof record, &offset, &item), 0);
        assert_int_equal (item.kind, kinds[i]);
    }
    assert_int_equal (offset, sizeof record);
    //  Skipping the map from its start lands on the last field.
    offset = 9;
    assert_int_equal (mpread_skip (record, sizeof record, &offset, 1), 0);
    assert_int_equal (offset, 13);
}

//  --------------------------------------------------------------------------
//  Every format

typedef struct {
    const char *bytes;  //  one element
    size_t size;        //  its bytes
    mpread_kind_t kind; //  what it reads as
    uint64_t value;     //  UINT, BOOL: the value; INT: its bits; containers: count
    size_t len;         //  STR, BIN, EXT: body bytes
    size_t body;        //  STR, BIN, EXT: offset of the body
} s_format_t;

//  Single-byte elements (fixints) to fill the fixed containers.
#define S_30_BYTES                                                                                 \
    "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17" \
    "\x18\x19\x1a\x1b\x1c\x1d\x1e"

//  One sample of each msgpack format (both ends of the fixed ones), with
//  what mpread_next must make of it.
//  Left unformatted: one row a format reads best as an aligned table.
// clang-format off
static const s_format_t s_formats[] = {
    {"\x00", 1, MPREAD_UINT, 0, 0, 0},                             //  positive fixint
    {"\x7f", 1, MPREAD_UINT, 127, 0, 0},
    {"\x80", 1, MPREAD_MAP, 0, 0, 0},                              //  fixmap
    {"\x8f" S_30_BYTES, 31, MPREAD_MAP, 15, 0, 0},
    {"\x90", 1, MPREAD_ARRAY, 0, 0, 0},                            //  fixarray
    {"\x9f" S_30_BYTES, 16, MPREAD_ARRAY, 15, 0, 0},
    {"\xa0", 1, MPREAD_STR, 0, 0, 1},                              //  fixstr
    {"\xa3xyz", 4, MPREAD_STR, 0, 3, 1},
    {"\xc0", 1, MPREAD_NIL, 0, 0, 0},                              //  nil
    {"\xc2", 1, MPREAD_BOOL, 0, 0, 0},                             //  false
    {"\xc3", 1, MPREAD_BOOL, 1, 0, 0},                             //  true
    {"\xc4\x02xy", 4, MPREAD_BIN, 0, 2, 2},                        //  bin 8
    {"\xc5\x00\x02xy", 5, MPREAD_BIN, 0, 2, 3},                    //  bin 16
    {"\xc6\x00\x00\x00\x02xy", 7, MPREAD_BIN, 0, 2, 5},            //  bin 32
    {"\xc7\x02\x05xy", 5, MPREAD_EXT, 0, 2, 3},                    //  ext 8
    {"\xc8\x00\x02\x05xy", 6, MPREAD_EXT, 0, 2, 4},                //  ext 16
    {"\xc9\x00\x00\x00\x02\x05xy", 8, MPREAD_EXT, 0, 2, 6},        //  ext 32
    {"\xca\x3f\xc0\x00\x00", 5, MPREAD_FLOAT, 0, 0, 0},            //  float 32: 1.5
    {"\xcb\xc0\x02\x00\x00\x00\x00\x00\x00", 9, MPREAD_FLOAT, 0, 0, 0}, //  float 64: -2.25
    {"\xcc\xff", 2, MPREAD_UINT, 0xff, 0, 0},                      //  uint 8
    {"\xcd\xff\xfe", 3, MPREAD_UINT, 0xfffe, 0, 0},                //  uint 16
    {"\xce\xff\xff\xff\xfd", 5, MPREAD_UINT, 0xfffffffd, 0, 0},    //  uint 32
    {"\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 9, MPREAD_UINT, UINT64_MAX, 0, 0}, //  uint 64
    {"\xd0\x80", 2, MPREAD_INT, (uint64_t) -128, 0, 0},            //  int 8
    {"\xd0\x7f", 2, MPREAD_UINT, 127, 0, 0},
    {"\xd1\x80\x00", 3, MPREAD_INT, (uint64_t) -32768, 0, 0},      //  int 16
    {"\xd1\x01\x00", 3, MPREAD_UINT, 256, 0, 0},
    {"\xd2\xff\xff\xff\xff", 5, MPREAD_INT, (uint64_t) -1, 0, 0},  //  int 32
    {"\xd2\x7f\xff\xff\xff", 5, MPREAD_UINT, INT32_MAX, 0, 0},
    {"\xd3\x80\x00\x00\x00\x00\x00\x00\x00", 9, MPREAD_INT, (uint64_t) INT64_MIN, 0, 0}, //  int 64
    {"\xd3\x7f\xff\xff\xff\xff\xff\xff\xff", 9, MPREAD_UINT, INT64_MAX, 0, 0},
    {"\xd4\x05x", 3, MPREAD_EXT, 0, 1, 2},                         //  fixext 1
    {"\xd5\x05xy", 4, MPREAD_EXT, 0, 2, 2},                        //  fixext 2
    {"\xd6\x05wxyz", 6, MPREAD_EXT, 0, 4, 2},                      //  fixext 4
    {"\xd7\x05ghijklmn", 10, MPREAD_EXT, 0, 8, 2},                 //  fixext 8
    {"\xd8\x05ghijklmnopqrstuv", 18, MPREAD_EXT, 0, 16, 2},        //  fixext 16
    {"\xd9\x03xyz", 5, MPREAD_STR, 0, 3, 2},                       //  str 8
    {"\xda\x00\x03xyz", 6, MPREAD_STR, 0, 3, 3},                   //  str 16
    {"\xdb\x00\x00\x00\x03xyz", 8, MPREAD_STR, 0, 3, 5},           //  str 32
    {"\xdc\x00\x02\x01\x02", 5, MPREAD_ARRAY, 2, 0, 0},            //  array 16
    {"\xdd\x00\x00\x00\x02\x01\x02", 7, MPREAD_ARRAY, 2, 0, 0},    //  array 32
    {"\xde\x00\x01\x01\x02", 5, MPREAD_MAP, 1, 0, 0},              //  map 16
    {"\xdf\x00\x00\x00\x01\x01\x02", 7, MPREAD_MAP, 1, 0, 0},      //  map 32
    {"\xe0", 1, MPREAD_INT, (uint64_t) -32, 0, 0},                 //  negative fixint
    {"\xff", 1, MPREAD_INT, (uint64_t) -1, 0, 0},
};
// clang-format on
#define S_FORMATS (sizeof s_formats / sizeof s_formats[0])

//  The header bytes of a container sample: where its elements start.
static size_t s_header_size (const s_format_t *format)
{
    uint8_t byte = (uint8_t) format->bytes[0];
    return byte == 0xdc || byte == 0xde ? 3 : byte == 0xdd || byte == 0xdf ? 5 : 1;
}

static void test_every_format (void **state)
{
    for (size_t i = 0; i < S_FORMATS; i++) {
        const s_format_t *format = &s_formats[i];
        mpread_item_t item;
        size_t end;
        assert_int_equal (s_next_copy (format->bytes, format->size, &item, &end), 0);
        assert_int_equal (item.kind, format->kind);
        switch (item.kind) {
        case MPREAD_UINT:
            assert_true (item.value.u == format->value);
            assert_int_equal (end, format->size);
            break;
        case MPREAD_INT:
            assert_true (item.value.i == (int64_t) format->value);
            assert_int_equal (end, format->size);
            break;
        case MPREAD_BOOL:
            assert_int_equal (item.value.b, format->value);
            break;
        case MPREAD_STR:
        case MPREAD_BIN:
        case MPREAD_EXT:
            assert_int_equal (item.len, format->len);
            assert_ptr_equal (item.data, (const uint8_t *) format->bytes + format->body);
            assert_int_equal (end, format->size);
            if (item.kind == MPREAD_EXT)
                assert_int_equal (item.ext_type, 5);
            break;
        case MPREAD_ARRAY:
        case MPREAD_MAP:
            assert_int_equal (item.count, format->value);
            assert_int_equal (end, s_header_size (format));
            break;
        default:
            assert_int_equal (end, format->size);
        }
        //  Each sample is exactly one whole element, which msgpack-c reads too.
        assert_int_equal (s_skip_copy (format->bytes, format->size, 1, &end), 0);
        assert_int_equal (end, format->size);
        assert_int_equal (s_check_copy (format->bytes, format->size, 1), 0);
        harness_assert_one_msgpack ((const uint8_t *) format->bytes, format->size);
    }
    //  The float values.
    mpread_item_t item;
    size_t end;
    assert_int_equal (s_next_copy ("\xca\x3f\xc0\x00\x00", 5, &item, &end), 0);
    assert_true (item.value.f == 1.5);
    assert_int_equal (s_next_copy ("\xcb\xc0\x02\x00\x00\x00\x00\x00\x00", 9, &item, &end), 0);
    assert_true (item.value.f == -2.25);
}

static void test_reserved_byte (void **state)
{
    mpread_item_t item;
    size_t end;
    assert_int_equal (s_next_copy ("\xc1", 1, &item, &end), SHOAL_EFORMAT);
    assert_int_equal (s_skip_copy ("\x92\x01\xc1", 3, 1, &end), SHOAL_EFORMAT);
    assert_int_equal (s_check_copy ("\x81\xc1\x01", 3, 1), SHOAL_EFORMAT);
    assert_int_equal (s_check_copy ("\x81\x01\xc1", 3, 1), SHOAL_EFORMAT);
}

//  Every proper prefix of every sample, and of a composite object, fails
//  without reading past it; one byte more is trailing.
static void test_truncation_at_every_offset (void **state)
{
    for (size_t i = 0; i < S_FORMATS; i++) {
        const s_format_t *format = &s_formats[i];
        bool container = format->kind == MPREAD_ARRAY || format->kind == MPREAD_MAP;
        for (size_t cut = 0; cut < format->size; cut++) {
            mpread_item_t item;
            size_t end;
            if (!container || cut < s_header_size (format))
                assert_int_equal (s_next_copy (format->bytes, cut, &item, &end), SHOAL_EFORMAT);
            assert_int_equal (s_skip_copy (format->bytes, cut, 1, &end), SHOAL_EFORMAT);
            assert_int_equal (s_check_copy (format->bytes, cut, 1), SHOAL_EFORMAT);
        }
        uint8_t longer[64];
        memcpy (longer, format->bytes, format->size);
        longer[format->size] = 0xc0;
        assert_int_equal (s_check_copy (longer, format->size + 1, 1), SHOAL_EFORMAT);
    }

    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 3);
    msgpack_pack_str_with_body (&pk, "list", 4);
    msgpack_pack_array (&pk, 3);
    msgpack_pack_int64 (&pk, -70000);
    msgpack_pack_double (&pk, 0.5);
    msgpack_pack_bin_with_body (&pk, "xyz", 3);
    msgpack_pack_str_with_body (&pk, "map", 3);
    msgpack_pack_map (&pk, 1);
    msgpack_pack_nil (&pk);
    msgpack_pack_ext_with_body (&pk, "abcd", 4, 9);
    msgpack_pack_uint64 (&pk, 1ull << 40);
    msgpack_pack_true (&pk);
    size_t size;
    uint8_t *bytes = harness_take (&sbuf, &size);
    size_t end;
    assert_int_equal (s_skip_copy (bytes, size, 2, &end), 0);
    assert_int_equal (end, size);
    for (size_t cut = 0; cut < size; cut++) {
        assert_int_equal (s_skip_copy (bytes, cut, MPREAD_DEPTH_ANY, &end), SHOAL_EFORMAT);
        const uint8_t *map;
        size_t len, offset = 0;
        uint8_t *copy = harness_copy (bytes, cut);
        assert_int_equal (mpread_map_span (copy, cut, &offset, 2, &map, &len), SHOAL_EFORMAT);
        assert_int_equal (offset, 0);
        assert_false (mpread_is_map (copy, cut, 2));
        free (copy);
    }
    free (bytes);
}

//  Counts far beyond the bytes present fail at once, without a long walk.
static void test_huge_counts (void **state)
{
    static const struct {
        const char *bytes;
        size_t size;
    } huge[] = {
        {"\xdd\xff\xff\xff\xff\x01\x02", 7}, //  array 32 of 4G elements
        {"\xdf\xff\xff\xff\xff\x01\x02", 7}, //  map 32 of 4G pairs
        {"\xdc\xff\xff\x01", 4},             //  array 16
        {"\xde\x00\x02\x01\x02\x03", 6},     //  map 16 of 2 pairs in 3 bytes
        {"\x82\x01\x02\x03", 4},             //  fixmap of 2 pairs in 3 bytes
        {"\x93\x01\x02", 3},                 //  fixarray of 3 in 2 bytes
        {"\xdb\xff\xff\xff\xff"
         "abc",
         8}, //  str 32
        {"\xc6\xff\xff\xff\xff"
         "abc",
         8}, //  bin 32
        {"\xc9\xff\xff\xff\xff\x01"
         "abc",
         9},                         //  ext 32
        {"\xc9\xff\xff\xff\xff", 5}, //  ext 32 without its type
        {"\xd8\x01"
         "abc",
         5}, //  fixext 16 with 3 bytes
    };
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        mpread_item_t item;
        size_t end;
        assert_int_equal (s_next_copy (huge[i].bytes, huge[i].size, &item, &end), SHOAL_EFORMAT);
        assert_int_equal (s_skip_copy (huge[i].bytes, huge[i].size, MPREAD_DEPTH_ANY, &end),
                          SHOAL_EFORMAT);
    }
    //  A count that just fits is read; its elements must still be there.
    mpread_item_t item;
    size_t end;
    assert_int_equal (s_next_copy ("\x82\x01\x02\x03\x04", 5, &item, &end), 0);
    assert_int_equal (item.count, 2);
    assert_int_equal (s_next_copy ("\x92\x91\x01", 3, &item, &end), 0);
    assert_int_equal (s_skip_copy ("\x92\x91\x01", 3, 2, &end), SHOAL_EFORMAT);

    //  Nested counts that each fit but together do not: 0x9f (15 elements)
    //  repeated. Every length fails, and quickly.
    uint8_t nested[4096];
    memset (nested, 0x9f, sizeof nested);
    for (size_t size = 1; size <= sizeof nested; size = size * 2 + 1)
        assert_int_equal (s_skip_copy (nested, size, MPREAD_DEPTH_ANY, &end), SHOAL_EFORMAT);
    //  A map of 4G maps of 4G pairs.
    assert_int_equal (
        s_check_copy ("\xdf\x00\x00\x00\x01\xdf\xff\xff\xff\xff\x80", 11, MPREAD_DEPTH_ANY),
        SHOAL_EFORMAT);
}

//  Depth counts containers, the element's own included, empty or not.
static void test_depth (void **state)
{
    size_t end;
    assert_int_equal (s_check_copy ("\x01", 1, 0), 0);
    assert_int_equal (s_check_copy ("\x90", 1, 0), SHOAL_EFORMAT);
    assert_int_equal (s_check_copy ("\x90", 1, 1), 0);
    assert_int_equal (s_check_copy ("\x91\x90", 2, 1), SHOAL_EFORMAT);
    assert_int_equal (s_check_copy ("\x91\x90", 2, 2), 0);
    //  A container as a map key counts too; siblings do not add up.
    assert_int_equal (s_check_copy ("\x81\x90\x01", 3, 1), SHOAL_EFORMAT);
    assert_int_equal (s_check_copy ("\x81\x90\x01", 3, 2), 0);
    assert_int_equal (s_check_copy ("\x93\x91\x01\x91\x01\x91\x01", 7, 2), 0);
    //  Closing a level lets the next sibling go as deep again.
    assert_int_equal (s_check_copy ("\x92\x91\x91\x01\x91\x91\x01", 7, 3), 0);
    assert_int_equal (s_check_copy ("\x92\x91\x91\x01\x91\x91\x01", 7, 2), SHOAL_EFORMAT);
    assert_int_equal (s_check_copy ("\x92\x91\x01\x91\x91\x91\x01", 7, 3), SHOAL_EFORMAT);

    for (size_t depth = 1; depth <= MPREAD_DEPTH_MAX; depth++) {
        size_t size;
        uint8_t *bytes = s_nested_arrays (depth, &size);
        assert_int_equal (s_check_copy (bytes, size, (int) depth), 0);
        assert_int_equal (s_check_copy (bytes, size, (int) depth - 1), SHOAL_EFORMAT);
        assert_int_equal (s_skip_copy (bytes, size, (int) depth - 1, &end), SHOAL_EFORMAT);
        free (bytes);
    }
    //  Without a limit the walk is iterative: a million levels cost no stack.
    size_t size;
    uint8_t *deep = s_nested_arrays (1000000, &size);
    assert_int_equal (mpread_check (deep, size, MPREAD_DEPTH_ANY), 0);
    assert_int_equal (mpread_check (deep, size, MPREAD_DEPTH_MAX), SHOAL_EFORMAT);
    assert_true (mpread_is_map ((const uint8_t *) "\x81\x01\x91\x91\x90", 5, MPREAD_DEPTH_ANY));
    assert_false (mpread_is_map ((const uint8_t *) "\x81\x01\x91\x91\x90", 5, 3));
    free (deep);
}

//  --------------------------------------------------------------------------
//  Typed readers

static void test_check_and_is_map (void **state)
{
    assert_int_equal (mpread_check (NULL, 0, 1), SHOAL_EFORMAT);
    assert_int_equal (s_check_copy ("", 0, 1), SHOAL_EFORMAT);
    assert_int_equal (s_check_copy ("\x01\x01", 2, 1), SHOAL_EFORMAT);
    assert_int_equal (s_check_copy ("\x81\x01", 2, 1), SHOAL_EFORMAT);

    assert_false (mpread_is_map (NULL, 0, 1));
    assert_false (mpread_is_map ((const uint8_t *) "", 0, 1));
    assert_true (mpread_is_map ((const uint8_t *) "\x80", 1, 1));
    assert_true (mpread_is_map ((const uint8_t *) "\xde\x00\x00", 3, 1));
    assert_true (mpread_is_map ((const uint8_t *) "\xdf\x00\x00\x00\x00", 5, 1));
    assert_false (mpread_is_map ((const uint8_t *) "\x80\x01", 2, 1)); //  trailing
    assert_false (mpread_is_map ((const uint8_t *) "\x90", 1, 1));     //  an array
    assert_false (mpread_is_map ((const uint8_t *) "\x80", 1, 0));     //  too deep
}

static void test_map_span (void **state)
{
    static const uint8_t bytes[] = {0x01, 0x81, 0xa1, 'k', 0x92, 0x01, 0x02, 0x07};
    size_t offset = 1;
    const uint8_t *map;
    size_t len;
    assert_int_equal (mpread_map_span (bytes, sizeof bytes, &offset, 2, &map, &len), 0);
    assert_ptr_equal (map, bytes + 1);
    assert_int_equal (len, 6);
    assert_int_equal (offset, 7);
    //  Not a map, too deep, or at the end: offset left alone.
    offset = 0;
    assert_int_equal (mpread_map_span (bytes, sizeof bytes, &offset, 2, &map, &len), SHOAL_EFORMAT);
    assert_int_equal (offset, 0);
    offset = 1;
    assert_int_equal (mpread_map_span (bytes, sizeof bytes, &offset, 1, &map, &len), SHOAL_EFORMAT);
    assert_int_equal (offset, 1);
    offset = sizeof bytes;
    assert_int_equal (mpread_map_span (bytes, sizeof bytes, &offset, 2, &map, &len), SHOAL_EFORMAT);
    assert_int_equal (offset, sizeof bytes);
}

//  mpread_map_span_utf8: the same span, and a str that is not UTF-8 at
//  any depth, as a key or a value, is SHOAL_EINVAL at its offset, the
//  offset left alone; something malformed before it is SHOAL_EFORMAT.
//  Strings of 0 to 40 bytes with a bad byte at each place, or a 4-byte
//  character across each 8-byte boundary (utf8_valid_prefix reads ASCII
//  8 bytes at a time), from exact-size copies.
static void test_map_span_utf8 (void **state)
{
    const uint8_t *map;
    size_t len, bad = 0, offset;
    for (size_t length = 0; length <= 40; length++)
        for (size_t at = 0; at <= length; at++) {
            //  {"k": [1, STR]}: STR is length ASCII bytes, byte at bad (0xff),
            //  or, for at == length, a valid U+1F600 at the end.
            uint8_t bytes[64] = {0x81, 0xa1, 'k', 0x92, 0x01, 0xd9, 0};
            size_t str_len = at < length ? length : length + 4;
            bytes[6] = (uint8_t) str_len;
            memset (bytes + 7, 'a', length);
            if (at < length)
                bytes[7 + at] = 0xff;
            else
                memcpy (bytes + 7 + length, "\xf0\x9f\x98\x80", 4);
            size_t size = 7 + str_len;
            uint8_t *copy = harness_copy (bytes, size);
            offset = 0;
            int rc = mpread_map_span_utf8 (copy, size, &offset, 2, &map, &len, &bad);
            if (at < length) {
                assert_int_equal (rc, SHOAL_EINVAL);
                assert_int_equal (bad, 5);
                assert_int_equal (offset, 0);
            } else {
                assert_int_equal (rc, 0);
                assert_int_equal (len, size);
                assert_int_equal (offset, size);
            }
            free (copy);
        }
    //  A key, and a truncated surrogate, at depth.
    static const uint8_t key[] = {0x82, 0xa1, 'a', 0x01, 0xa2, 0xc3, 'x', 0x02};
    offset = 0;
    assert_int_equal (mpread_map_span_utf8 (key, sizeof key, &offset, 1, &map, &len, &bad),
                      SHOAL_EINVAL);
    assert_int_equal (bad, 4);
    static const uint8_t deep[] = {0x81, 0xa1, 'm', 0x81, 0xa1, 'n', 0xa2, 0xed, 0xa0};
    assert_int_equal (mpread_map_span_utf8 (deep, sizeof deep, &offset, 2, &map, &len, &bad),
                      SHOAL_EINVAL);
    assert_int_equal (bad, 6);
    //  Malformed first (a reserved byte 0xc1), too deep, not a map.
    static const uint8_t reserved[] = {0x82, 0xa1, 'a', 0xc1, 0xa1, 'b', 0xa1, 0xff};
    assert_int_equal (
        mpread_map_span_utf8 (reserved, sizeof reserved, &offset, 2, &map, &len, &bad),
        SHOAL_EFORMAT);
    assert_int_equal (mpread_map_span_utf8 (deep, sizeof deep, &offset, 1, &map, &len, &bad),
                      SHOAL_EFORMAT);
    assert_int_equal (mpread_map_span_utf8 (deep + 1, 2, &offset, 1, &map, &len, &bad),
                      SHOAL_EFORMAT);
    assert_int_equal (offset, 0);
}

static void test_uint_and_int (void **state)
{
    uint64_t u = 99;
    int64_t i = 99;
    size_t offset = 0;
    //  The bounds are inclusive; any integer encoding will do.
    assert_int_equal (mpread_uint ((const uint8_t *) "\xcc\xff", 2, &offset, 255, &u), 0);
    assert_int_equal (u, 255);
    offset = 0;
    assert_int_equal (mpread_uint ((const uint8_t *) "\xcc\xff", 2, &offset, 254, &u),
                      SHOAL_EFORMAT);
    assert_int_equal (offset, 0);
    assert_int_equal (mpread_uint ((const uint8_t *) "\xd0\x05", 2, &offset, 5, &u), 0);
    assert_int_equal (u, 5);
    offset = 0;
    assert_int_equal (mpread_uint ((const uint8_t *) "\xff", 1, &offset, UINT64_MAX, &u),
                      SHOAL_EFORMAT); //  negative
    assert_int_equal (mpread_uint ((const uint8_t *) "\xc0", 1, &offset, UINT64_MAX, &u),
                      SHOAL_EFORMAT); //  nil
    assert_int_equal (mpread_uint ((const uint8_t *) "\xa1"
                                                     "1",
                                   2, &offset, UINT64_MAX, &u),
                      SHOAL_EFORMAT); //  a str
    assert_int_equal (offset, 0);
    assert_int_equal (mpread_uint ((const uint8_t *) "\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 9,
                                   &offset, UINT64_MAX, &u),
                      0);
    assert_true (u == UINT64_MAX);

    offset = 0;
    assert_int_equal (mpread_int ((const uint8_t *) "\xd3\x80\x00\x00\x00\x00\x00\x00\x00", 9,
                                  &offset, INT64_MIN, INT64_MAX, &i),
                      0);
    assert_true (i == INT64_MIN);
    offset = 0;
    assert_int_equal (mpread_int ((const uint8_t *) "\xcf\x80\x00\x00\x00\x00\x00\x00\x00", 9,
                                  &offset, INT64_MIN, INT64_MAX, &i),
                      SHOAL_EFORMAT); //  past INT64_MAX
    assert_int_equal (mpread_int ((const uint8_t *) "\xcf\x7f\xff\xff\xff\xff\xff\xff\xff", 9,
                                  &offset, INT64_MIN, INT64_MAX, &i),
                      0);
    assert_true (i == INT64_MAX);
    offset = 0;
    assert_int_equal (mpread_int ((const uint8_t *) "\xfb", 1, &offset, -5, 5, &i), 0);
    assert_int_equal (i, -5);
    offset = 0;
    assert_int_equal (mpread_int ((const uint8_t *) "\xfa", 1, &offset, -5, 5, &i), SHOAL_EFORMAT);
    assert_int_equal (mpread_int ((const uint8_t *) "\x06", 1, &offset, -5, 5, &i), SHOAL_EFORMAT);
    assert_int_equal (
        mpread_int ((const uint8_t *) "\xca\x3f\xc0\x00\x00", 5, &offset, INT64_MIN, INT64_MAX, &i),
        SHOAL_EFORMAT); //  a float
    assert_int_equal (offset, 0);
}

static void test_str_bin_bool_headers (void **state)
{
    const uint8_t *bytes;
    size_t len, offset = 0;
    bool b = false;
    uint64_t count;
    //  A str is not a bin, nor a bin a str; a failed read moves nothing.
    assert_int_equal (mpread_bin ((const uint8_t *) "\xa2hi", 3, &offset, &bytes, &len),
                      SHOAL_EFORMAT);
    assert_int_equal (mpread_str ((const uint8_t *) "\xc4\x02hi", 4, &offset, &bytes, &len),
                      SHOAL_EFORMAT);
    assert_int_equal (offset, 0);
    assert_int_equal (mpread_str ((const uint8_t *) "\xa2hi", 3, &offset, &bytes, &len), 0);
    assert_int_equal (len, 2);
    assert_memory_equal (bytes, "hi", 2);
    offset = 0;
    assert_int_equal (mpread_bin ((const uint8_t *) "\xc4\x00", 2, &offset, &bytes, &len), 0);
    assert_int_equal (len, 0);
    assert_int_equal (offset, 2);

    offset = 0;
    assert_int_equal (mpread_bool ((const uint8_t *) "\xc3", 1, &offset, &b), 0);
    assert_true (b);
    offset = 0;
    assert_int_equal (mpread_bool ((const uint8_t *) "\x01", 1, &offset, &b), SHOAL_EFORMAT);
    assert_int_equal (mpread_bool ((const uint8_t *) "\xc0", 1, &offset, &b), SHOAL_EFORMAT);
    assert_int_equal (offset, 0);

    assert_int_equal (mpread_array ((const uint8_t *) "\x80", 1, &offset, &count), SHOAL_EFORMAT);
    assert_int_equal (mpread_map ((const uint8_t *) "\x90", 1, &offset, &count), SHOAL_EFORMAT);
    assert_int_equal (offset, 0);
    assert_int_equal (mpread_array ((const uint8_t *) "\x91\x01", 2, &offset, &count), 0);
    assert_int_equal (count, 1);
    assert_int_equal (offset, 1);
    offset = 0;
    assert_int_equal (mpread_map ((const uint8_t *) "\x81\x01\x02", 3, &offset, &count), 0);
    assert_int_equal (count, 1);
    assert_int_equal (offset, 1);
}

//  --------------------------------------------------------------------------
//  Against msgpack-c

//  A growing buffer of generated bytes.
typedef struct {
    uint8_t *bytes;
    size_t size;
    size_t alloc;
} s_buffer_t;

static void s_put (s_buffer_t *buffer, const void *bytes, size_t size)
{
    if (buffer->size + size > buffer->alloc) {
        buffer->alloc = 2 * (buffer->size + size);
        buffer->bytes = realloc (buffer->bytes, buffer->alloc);
        assert_non_null (buffer->bytes);
    }
    memcpy (buffer->bytes + buffer->size, bytes, size);
    buffer->size += size;
}

//  Appends a random element at most depth containers deep: a scalar from
//  s_formats (so every scalar format turns up), or an array or map in any
//  of its three encodings.
static void s_random_element (s_buffer_t *buffer, int depth)
{
    if (depth == 0 || harness_rand () % 3) {
        const s_format_t *format;
        do
            format = &s_formats[harness_rand () % S_FORMATS];
        while (format->kind == MPREAD_ARRAY || format->kind == MPREAD_MAP);
        s_put (buffer, format->bytes, format->size);
        return;
    }
    bool map = harness_rand () & 1;
    uint8_t n = (uint8_t) (harness_rand () % 5);
    uint8_t head[5] = {0};
    size_t head_size;
    switch (harness_rand () % 3) {
    case 0:
        head[0] = (uint8_t) ((map ? 0x80 : 0x90) | n);
        head_size = 1;
        break;
    case 1:
        head[0] = map ? 0xde : 0xdc;
        head[2] = n;
        head_size = 3;
        break;
    default:
        head[0] = map ? 0xdf : 0xdd;
        head[4] = n;
        head_size = 5;
    }
    s_put (buffer, head, head_size);
    for (int i = 0; i < (map ? 2 * n : n); i++)
        s_random_element (buffer, depth - 1);
}

//  A random element at most depth deep, in an exact-size heap buffer.
static uint8_t *s_random_bytes (int depth, size_t *size)
{
    s_buffer_t buffer = {NULL, 0, 0};
    s_random_element (&buffer, depth);
    *size = buffer.size;
    return buffer.bytes;
}

//  Random elements: the walk agrees with msgpack-c element by element,
//  and no proper prefix of one passes (msgpack is prefix-free).
static void test_random_elements (void **state)
{
    harness_rand_seed (11);
    for (int n = 0; n < 3000; n++) {
        int depth = 1 + (int) (harness_rand () % 16);
        size_t size;
        uint8_t *bytes = s_random_bytes (depth, &size);
        assert_int_equal (mpread_check (bytes, size, depth), 0);

        msgpack_unpacked unpacked;
        msgpack_unpacked_init (&unpacked);
        size_t offset = 0;
        assert_int_equal (msgpack_unpack_next (&unpacked, (const char *) bytes, size, &offset),
                          MSGPACK_UNPACK_SUCCESS);
        offset = 0;
        s_assert_same (bytes, size, &offset, &unpacked.data);
        assert_int_equal (offset, size);
        msgpack_unpacked_destroy (&unpacked);

        size_t cut = (size_t) (harness_rand () % size);
        assert_int_equal (s_check_copy (bytes, cut, MPREAD_DEPTH_ANY), SHOAL_EFORMAT);
        free (bytes);
    }
}

//  Mutated elements: whatever the walk accepts, msgpack-c parses whole.
static void test_mutations (void **state)
{
    harness_rand_seed (23);
    for (int n = 0; n < 5000; n++) {
        size_t size;
        uint8_t *bytes = s_random_bytes (1 + (int) (harness_rand () % 8), &size);
        for (int flips = 1 + (int) (harness_rand () % 3); flips > 0; flips--)
            bytes[harness_rand () % size] ^= (uint8_t) (1u << (harness_rand () % 8));
        if (s_check_copy (bytes, size, 8) == 0)
            harness_assert_one_msgpack (bytes, size);
        free (bytes);
    }
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_usage),
        cmocka_unit_test (test_every_format),
        cmocka_unit_test (test_reserved_byte),
        cmocka_unit_test (test_truncation_at_every_offset),
        cmocka_unit_test (test_huge_counts),
        cmocka_unit_test (test_depth),
        cmocka_unit_test (test_check_and_is_map),
        cmocka_unit_test (test_map_span),
        cmocka_unit_test (test_map_span_utf8),
        cmocka_unit_test (test_uint_and_int),
        cmocka_unit_test (test_str_bin_bool_headers),
        cmocka_unit_test (test_random_elements),
        cmocka_unit_test (test_mutations),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
