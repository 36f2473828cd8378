/*  test_ctx.c - reading fields (shoal_data_*), building them (shoal_rec_*)
    and the handler turn (runtime/ctx.c): the message accessors, what a
    handler stages, the limits of a turn and what becomes of a handler
    that misuses its ctx, errs or refuses its own event.

    The turns are run on "probe", a small actor type defined here whose
    handler does what the command's fields ask.
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

#define ADDRESS "probe/p1"
#define NOW 1700000000000LL

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

//  --------------------------------------------------------------------------
//  The probe actor type

typedef struct {
    int64_t applied;               //  events applied
    int64_t sum;                   //  of their "n" fields
    char last[SHOAL_NAME_MAX + 1]; //  name of the last one
} probe_t;

//  What the last "Info" turn saw.
static struct {
    shoal_kind_t kind;
    char name[SHOAL_NAME_MAX + 1];
    char from[SHOAL_ADDRESS_MAX + 1];
    char address[SHOAL_ADDRESS_MAX + 1];
    char id[SHOAL_ADDRESS_MAX + 1];
    int64_t version;
    int64_t now;
    bool accepted;
    char code[ENVELOPE_CODE_MAX + 1];
    char reason[ENVELOPE_REASON_MAX + 1];
    int x_rc; //  shoal_data_int of field "x"
    int64_t x;
} s_seen;

static int s_probe_apply (void *state, const char *event, const shoal_data_t *data)
{
    probe_t *probe = state;
    if (strcmp (event, "Bad") == 0)
        return SHOAL_EINVAL;
    int64_t n = 0;
    shoal_data_int (data, "n", &n);
    probe->applied++;
    probe->sum += n;
    snprintf (probe->last, sizeof probe->last, "%s", event);
    return 0;
}

//  Fields: n (how many, default 1), ms (timer delay), name (event,
//  command or timer name), to (send address), null_name / null_to (pass
//  NULL instead), target (which rec RecNull spoils), code, reason, zero.
static int s_probe_handle (shoal_ctx_t *ctx, const void *state, const shoal_msg_t *msg)
{
    const shoal_data_t *data = shoal_msg_data (msg);
    const char *command = shoal_msg_name (msg);
    int64_t n = 1, ms = 0;
    shoal_data_int (data, "n", &n);
    shoal_data_int (data, "ms", &ms);
    char name[128], to[512], target[16] = "", code[128] = "nope", reason[512] = "because";
    bool null_name = false, null_to = false, zero = false;
    shoal_data_bool (data, "null_name", &null_name);
    shoal_data_bool (data, "null_to", &null_to);
    shoal_data_bool (data, "zero", &zero);
    bool has_name = shoal_data_str (data, "name", name, sizeof name) == 0;
    if (shoal_data_str (data, "to", to, sizeof to) != 0)
        snprintf (to, sizeof to, "probe/other");
    shoal_data_str (data, "target", target, sizeof target);
    shoal_data_str (data, "code", code, sizeof code);
    shoal_data_str (data, "reason", reason, sizeof reason);

    if (strcmp (command, "Emit") == 0) {
        for (int64_t i = 0; i < n; i++)
            shoal_rec_int (shoal_ctx_emit (ctx, null_name ? NULL : has_name ? name : "E"), "n", i);
        shoal_rec_int (shoal_ctx_reply (ctx), "count", n);
        return 0;
    }
    if (strcmp (command, "Send") == 0) {
        for (int64_t i = 0; i < n; i++)
            shoal_rec_int (shoal_ctx_send (ctx, null_to ? NULL : to,
                                           null_name  ? NULL
                                           : has_name ? name
                                                      : "Ping"),
                           "n", i);
        return 0;
    }
    if (strcmp (command, "After") == 0) {
        for (int64_t i = 0; i < n; i++)
            shoal_rec_int (shoal_ctx_after (ctx, ms,
                                            null_name  ? NULL
                                            : has_name ? name
                                                       : "tick"),
                           "n", i);
        return 0;
    }
    if (strcmp (command, "Info") == 0 || shoal_msg_kind (msg) != SHOAL_COMMAND) {
        s_seen.kind = shoal_msg_kind (msg);
        snprintf (s_seen.name, sizeof s_seen.name, "%s", command);
        snprintf (s_seen.from, sizeof s_seen.from, "%s", shoal_msg_from (msg));
        snprintf (s_seen.address, sizeof s_seen.address, "%s", shoal_ctx_address (ctx));
        snprintf (s_seen.id, sizeof s_seen.id, "%s", shoal_ctx_id (ctx));
        s_seen.version = shoal_ctx_version (ctx);
        s_seen.now = shoal_ctx_now (ctx);
        s_seen.accepted = shoal_msg_accepted (msg);
        snprintf (s_seen.code, sizeof s_seen.code, "%s", shoal_msg_code (msg));
        snprintf (s_seen.reason, sizeof s_seen.reason, "%s", shoal_msg_reason (msg));
        s_seen.x = -1;
        s_seen.x_rc = shoal_data_int (data, "x", &s_seen.x);
        return 0;
    }
    if (strcmp (command, "Fail") == 0) {
        shoal_ctx_emit (ctx, "E");
        return SHOAL_EIO;
    }
    if (strcmp (command, "Reject") == 0) {
        shoal_ctx_emit (ctx, "E");
        shoal_ctx_send (ctx, "probe/other", "Ping");
        shoal_ctx_after (ctx, 10, "tick");
        shoal_rec_int (shoal_ctx_reply (ctx), "count", 1);
        int rc = shoal_ctx_reject (ctx, code, "%s", reason);
        assert_int_equal (rc, SHOAL_EREJECTED);
        return zero ? 0 : rc;
    }
    if (strcmp (command, "RejectMisuse") == 0) {
        int rc = shoal_ctx_reject (ctx, "nope", "because");
        shoal_ctx_emit (ctx, "has space");
        return rc;
    }
    if (strcmp (command, "Corrupt") == 0) {
        shoal_ctx_emit (ctx, "E");
        shoal_ctx_emit (ctx, "Bad");
        shoal_ctx_emit (ctx, "E");
        shoal_rec_int (shoal_ctx_reply (ctx), "count", 3);
        return 0;
    }
    if (strcmp (command, "Big") == 0) { //  a string of n bytes in the target rec
        char *big = malloc ((size_t) n + 1);
        assert_non_null (big);
        memset (big, 'b', (size_t) n);
        big[n] = 0;
        shoal_rec_t *rec = strcmp (target, "event") == 0  ? shoal_ctx_emit (ctx, "E")
                           : strcmp (target, "send") == 0 ? shoal_ctx_send (ctx, to, "Ping")
                                                          : shoal_ctx_reply (ctx);
        shoal_rec_str (rec, "big", big);
        free (big);
        return 0;
    }
    if (strcmp (command, "RecNull") == 0) {
        shoal_rec_t *rec = strcmp (target, "event") == 0   ? shoal_ctx_emit (ctx, "E")
                           : strcmp (target, "send") == 0  ? shoal_ctx_send (ctx, to, "Ping")
                           : strcmp (target, "timer") == 0 ? shoal_ctx_after (ctx, 1, "tick")
                                                           : shoal_ctx_reply (ctx);
        shoal_rec_str (rec, "k", NULL);
        return 0;
    }
    if (strcmp (command, "RecTwice") == 0) { //  the key k written twice into target's rec
        shoal_rec_t *rec = strcmp (target, "event") == 0   ? shoal_ctx_emit (ctx, "E")
                           : strcmp (target, "send") == 0  ? shoal_ctx_send (ctx, to, "Ping")
                           : strcmp (target, "timer") == 0 ? shoal_ctx_after (ctx, 1, "tick")
                                                           : shoal_ctx_reply (ctx);
        shoal_rec_int (rec, "k", 1);
        shoal_rec_str (rec, "other", "x");
        shoal_rec_int (rec, "k", 2);
        return 0;
    }
    return shoal_ctx_reject (ctx, "unknown_command", "probe takes no %s", command);
}

static void s_probe_view (const void *state, shoal_rec_t *out)
{
    const probe_t *probe = state;
    shoal_rec_int (out, "applied", probe->applied);
    shoal_rec_int (out, "sum", probe->sum);
}

static const shoal_type_t s_probe_type = {
    .name = "probe",
    .state_size = sizeof (probe_t),
    .apply = s_probe_apply,
    .handle = s_probe_handle,
    .view = s_probe_view,
};

//  --------------------------------------------------------------------------
//  Turn helpers

//  The turn fixture (harness.h), driving s_probe_type at ADDRESS; its
//  state is a probe_t.
typedef harness_turn_t fixture_t;

static int s_setup (void **state)
{
    *state = harness_turn_new (&s_probe_type, ADDRESS, NOW);
    memset (&s_seen, 0, sizeof s_seen);
    return 0;
}

//  The probe's state in the fixture.
static const probe_t *s_probe (fixture_t *f)
{
    return (const probe_t *) f->state;
}

//  Runs a command whose fields were written into f->payload.
static int s_run (fixture_t *f, const char *name)
{
    return harness_turn_run (f, ENVELOPE_COMMAND, name);
}

#define ACCEPT(f, name, events, sends, timers)                                                     \
    harness_turn_accepted ((f), s_run ((f), (name)), (name), (events), (sends), (timers), __LINE__)
#define REJECT(f, name, code)                                                                      \
    harness_turn_rejected ((f), s_run ((f), (name)), (name), (code), __LINE__)

//  --------------------------------------------------------------------------
//  ctx: the turn

static void test_turn_usage (void **state)
{
    fixture_t *f = *state;
    shoal_rec_int (&f->payload, "n", 3);
    ACCEPT (f, "Emit", 3, 0, 0);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal (f->ctx.events[i].name, "E");
        assert_int_equal (harness_rec_int (&f->ctx.events[i].rec, "n"), i);
    }
    assert_int_equal (harness_rec_int (&f->ctx.reply, "count"), 3);
    //  The events were applied to the state, in order.
    assert_int_equal (s_probe (f)->applied, 3);
    assert_int_equal (s_probe (f)->sum, 0 + 1 + 2);
    assert_string_equal (s_probe (f)->last, "E");

    shoal_rec_str (&f->payload, "to", "account/alice");
    shoal_rec_str (&f->payload, "name", "Debit");
    ACCEPT (f, "Send", 0, 1, 0);
    assert_string_equal (f->ctx.sends[0].to, "account/alice");
    assert_string_equal (f->ctx.sends[0].name, "Debit");
    assert_int_equal (harness_rec_int (&f->ctx.sends[0].rec, "n"), 0);
    size_t size;
    rec_finish (&f->ctx.reply, &size);
    assert_int_equal (size, 1); //  the reply of the previous turn is gone

    shoal_rec_int (&f->payload, "ms", 250);
    shoal_rec_int (&f->payload, "n", 2);
    ACCEPT (f, "After", 0, 0, 2);
    assert_string_equal (f->ctx.timers[1].name, "tick");
    assert_int_equal (f->ctx.timers[1].ms, 250);
    assert_int_equal (harness_rec_int (&f->ctx.timers[1].rec, "n"), 1);

    //  What a handler sees of its ctx.
    ACCEPT (f, "Info", 0, 0, 0);
    assert_string_equal (s_seen.address, ADDRESS);
    assert_string_equal (s_seen.id, "p1");
    assert_int_equal (s_seen.version, 3);
    assert_int_equal (s_seen.now, NOW);
    assert_int_equal (f->version, 3);
}

static void test_msg_accessors (void **state)
{
    fixture_t *f = *state;

    //  A command from a client.
    shoal_rec_int (&f->payload, "x", 17);
    ACCEPT (f, "Info", 0, 0, 0);
    assert_int_equal (s_seen.kind, SHOAL_COMMAND);
    assert_string_equal (s_seen.name, "Info");
    assert_string_equal (s_seen.from, "");
    assert_false (s_seen.accepted);
    assert_string_equal (s_seen.code, "");
    assert_string_equal (s_seen.reason, "");
    assert_int_equal (s_seen.x_rc, 0);
    assert_int_equal (s_seen.x, 17);

    //  An empty payload: every field absent.
    assert_int_equal (harness_turn_run_bytes (f, ENVELOPE_COMMAND, "probe/q", "Info", NULL, 0),
                      CTX_ACCEPTED);
    assert_string_equal (s_seen.from, "probe/q");
    assert_int_equal (s_seen.x_rc, SHOAL_ENOTFOUND);

    //  An accepted reply: its data is the replier's fields.
    static const uint8_t x5[] = {0x81, 0xa1, 'x', 0x05};
    uint8_t *payload;
    size_t size;
    assert_int_equal (envelope_reply_encode (true, NULL, NULL, x5, sizeof x5, &payload, &size), 0);
    assert_int_equal (
        harness_turn_run_bytes (f, ENVELOPE_REPLY, "account/bob", "Credit", payload, size),
        CTX_ACCEPTED);
    free (payload);
    assert_int_equal (s_seen.kind, SHOAL_REPLY);
    assert_string_equal (s_seen.name, "Credit");
    assert_string_equal (s_seen.from, "account/bob");
    assert_true (s_seen.accepted);
    assert_string_equal (s_seen.code, "");
    assert_int_equal (s_seen.x, 5);

    //  A rejected reply: code and reason, no data.
    assert_int_equal (
        envelope_reply_encode (false, "closed", "account bob is closed", NULL, 0, &payload, &size),
        0);
    assert_int_equal (
        harness_turn_run_bytes (f, ENVELOPE_REPLY, "account/bob", "Credit", payload, size),
        CTX_ACCEPTED);
    free (payload);
    assert_false (s_seen.accepted);
    assert_string_equal (s_seen.code, "closed");
    assert_string_equal (s_seen.reason, "account bob is closed");
    assert_int_equal (s_seen.x_rc, SHOAL_ENOTFOUND);

    //  A timer: never "accepted", fields as set.
    assert_int_equal (harness_turn_run_bytes (f, ENVELOPE_TIMER, ADDRESS, "tick", x5, sizeof x5),
                      CTX_ACCEPTED);
    assert_int_equal (s_seen.kind, SHOAL_TIMER);
    assert_string_equal (s_seen.name, "tick");
    assert_false (s_seen.accepted);
    assert_int_equal (s_seen.x, 5);

    //  A stall notice: named by the unanswered command, never "accepted".
    assert_int_equal (
        harness_turn_run_bytes (f, ENVELOPE_STALLED, "account/bob", "Credit", x5, sizeof x5),
        CTX_ACCEPTED);
    assert_int_equal (s_seen.kind, SHOAL_STALLED);
    assert_string_equal (s_seen.name, "Credit");
    assert_string_equal (s_seen.from, "account/bob");
    assert_false (s_seen.accepted);
    assert_string_equal (s_seen.code, "");
    assert_int_equal (s_seen.x, 5);
}

static void test_msg_init_malformed (void **state)
{
    (void) state;
    envelope_t env;
    memset (&env, 0, sizeof env);
    snprintf (env.to, sizeof env.to, "%s", ADDRESS);
    snprintf (env.name, sizeof env.name, "Info");
    shoal_msg_t msg;

    //  A command or timer whose payload is not a map.
    static const uint8_t array[] = {0x91, 0x01};
    env.kind = ENVELOPE_COMMAND;
    env.payload = array;
    env.payload_size = sizeof array;
    assert_int_equal (msg_init (&msg, &env), SHOAL_EFORMAT);
    assert_false (shoal_data_has (shoal_msg_data (&msg), "x"));
    msg_close (&msg);
    env.kind = ENVELOPE_TIMER;
    assert_int_equal (msg_init (&msg, &env), SHOAL_EFORMAT);
    msg_close (&msg);

    //  A reply whose payload is a map but not a reply.
    static const uint8_t x5[] = {0x81, 0xa1, 'x', 0x05};
    env.kind = ENVELOPE_REPLY;
    env.payload = x5;
    env.payload_size = sizeof x5;
    assert_int_equal (msg_init (&msg, &env), SHOAL_EFORMAT);
    assert_false (shoal_data_has (shoal_msg_data (&msg), "x"));
    assert_false (shoal_msg_accepted (&msg));
    msg_close (&msg);
}

static void test_emit_limit (void **state)
{
    fixture_t *f = *state;
    shoal_rec_int (&f->payload, "n", CTX_MAX_EVENTS);
    ACCEPT (f, "Emit", CTX_MAX_EVENTS, 0, 0);
    assert_int_equal (s_probe (f)->applied, CTX_MAX_EVENTS);
    assert_int_equal (harness_rec_int (&f->ctx.events[CTX_MAX_EVENTS - 1].rec, "n"),
                      CTX_MAX_EVENTS - 1);

    shoal_rec_int (&f->payload, "n", CTX_MAX_EVENTS + 1);
    REJECT (f, "Emit", "handler_error");
    assert_non_null (strstr (f->ctx.reason, shoal_strerror (SHOAL_ETOOBIG)));
    //  The reason names the limit, not only "too big".
    assert_non_null (strstr (f->ctx.reason, "(more than 32 events emitted in one turn)"));
    assert_int_equal (s_probe (f)->applied, CTX_MAX_EVENTS);
}

static void test_send_limit (void **state)
{
    fixture_t *f = *state;
    shoal_rec_int (&f->payload, "n", CTX_MAX_SENDS);
    ACCEPT (f, "Send", 0, CTX_MAX_SENDS, 0);
    assert_string_equal (f->ctx.sends[CTX_MAX_SENDS - 1].to, "probe/other");
    shoal_rec_int (&f->payload, "n", CTX_MAX_SENDS + 1);
    REJECT (f, "Send", "handler_error");
    assert_non_null (strstr (f->ctx.reason, "(more than 16 commands sent in one turn)"));
}

static void test_timer_limit (void **state)
{
    fixture_t *f = *state;
    shoal_rec_int (&f->payload, "n", CTX_MAX_TIMERS);
    ACCEPT (f, "After", 0, 0, CTX_MAX_TIMERS);
    shoal_rec_int (&f->payload, "n", CTX_MAX_TIMERS + 1);
    REJECT (f, "After", "handler_error");
    assert_non_null (strstr (f->ctx.reason, "(more than 16 timers set in one turn)"));
}

static void test_bad_send_address (void **state)
{
    fixture_t *f = *state;
    char too_long[SHOAL_ADDRESS_MAX + 8];
    memset (too_long, 'x', sizeof too_long - 1);
    memcpy (too_long, "probe/", 6);
    too_long[sizeof too_long - 1] = 0;
    const char *bad[] = {"",   "alice",    "Probe/x",    "probe/",
                         "/x", "9probe/x", "probe/a\nb", too_long};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        shoal_rec_str (&f->payload, "to", bad[i]);
        REJECT (f, "Send", "handler_error");
        assert_non_null (strstr (f->ctx.reason, shoal_strerror (SHOAL_EADDRESS)));
        assert_non_null (strstr (f->ctx.reason, "(a command sent to something that is not"));
    }
    shoal_rec_bool (&f->payload, "null_to", true);
    REJECT (f, "Send", "handler_error");

    //  The longest valid address.
    char longest[SHOAL_ADDRESS_MAX + 1];
    memset (longest, 'i', sizeof longest - 1);
    memset (longest, 't', SHOAL_TYPE_MAX);
    longest[SHOAL_TYPE_MAX] = '/';
    longest[SHOAL_TYPE_MAX + 1 + SHOAL_ID_MAX] = 0;
    shoal_rec_str (&f->payload, "to", longest);
    ACCEPT (f, "Send", 0, 1, 0);
    assert_string_equal (f->ctx.sends[0].to, longest);
}

//  Each command that names something (Emit, Send, After) with a bad name.
static void test_bad_names (void **state)
{
    fixture_t *f = *state;
    char name64[SHOAL_NAME_MAX + 2];
    memset (name64, 'N', SHOAL_NAME_MAX + 1);
    name64[SHOAL_NAME_MAX + 1] = 0;
    char name63[SHOAL_NAME_MAX + 1];
    memset (name63, 'N', SHOAL_NAME_MAX);
    name63[SHOAL_NAME_MAX] = 0;
    const char *bad[] = {"", "has space", " lead", "tab\t", "del\x7f", "caf\xc3\xa9", name64};
    const char *commands[] = {"Emit", "Send", "After"};
    for (size_t c = 0; c < 3; c++) {
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            shoal_rec_str (&f->payload, "name", bad[i]);
            REJECT (f, commands[c], "handler_error");
            assert_non_null (strstr (f->ctx.reason, shoal_strerror (SHOAL_EINVAL)));
        }
        shoal_rec_bool (&f->payload, "null_name", true);
        REJECT (f, commands[c], "handler_error");

        shoal_rec_str (&f->payload, "name", name63);
        ACCEPT (f, commands[c], c == 0, c == 1, c == 2);
        const char *staged = c == 0   ? f->ctx.events[0].name
                             : c == 1 ? f->ctx.sends[0].name
                                      : f->ctx.timers[0].name;
        assert_string_equal (staged, name63);
        shoal_rec_str (&f->payload, "name", "Punct!#$%&'()*+,-./:;<=>?@[]^_`{|}~");
        ACCEPT (f, commands[c], c == 0, c == 1, c == 2);
    }
}

static void test_timer_delays (void **state)
{
    fixture_t *f = *state;
    shoal_rec_int (&f->payload, "ms", -1);
    REJECT (f, "After", "handler_error");
    shoal_rec_int (&f->payload, "ms", INT64_MIN);
    REJECT (f, "After", "handler_error");
    shoal_rec_int (&f->payload, "ms", 0);
    ACCEPT (f, "After", 0, 0, 1);
    assert_int_equal (f->ctx.timers[0].ms, 0);
    shoal_rec_int (&f->payload, "ms", CTX_MAX_TIMER_MS);
    ACCEPT (f, "After", 0, 0, 1);
    assert_true (f->ctx.timers[0].ms == CTX_MAX_TIMER_MS);
    //  Past the bound (100 years), so that now + ms cannot overflow.
    shoal_rec_int (&f->payload, "ms", CTX_MAX_TIMER_MS + 1);
    REJECT (f, "After", "handler_error");
    shoal_rec_int (&f->payload, "ms", INT64_MAX);
    REJECT (f, "After", "handler_error");
    assert_non_null (strstr (f->ctx.reason, shoal_strerror (SHOAL_EINVAL)));
}

static void test_handler_error_without_reject (void **state)
{
    fixture_t *f = *state;
    REJECT (f, "Fail", "handler_error");
    assert_non_null (strstr (f->ctx.reason, "probe"));
    assert_non_null (strstr (f->ctx.reason, "Fail"));
    assert_non_null (strstr (f->ctx.reason, shoal_strerror (SHOAL_EIO)));
    assert_int_equal (s_probe (f)->applied, 0);
}

static void test_reject (void **state)
{
    fixture_t *f = *state;
    //  Everything staged before the rejection is dropped.
    shoal_rec_str (&f->payload, "code", "insufficient_funds");
    shoal_rec_str (&f->payload, "reason", "balance 3");
    REJECT (f, "Reject", "insufficient_funds");
    assert_string_equal (f->ctx.reason, "balance 3");

    //  Rejected even if the handler then returns 0.
    shoal_rec_bool (&f->payload, "zero", true);
    REJECT (f, "Reject", "nope");
    assert_string_equal (f->ctx.reason, "because");

    //  An empty code becomes "rejected"; a long reason is cut, not overrun.
    shoal_rec_str (&f->payload, "code", "");
    REJECT (f, "Reject", "rejected");
    char code[ENVELOPE_CODE_MAX + 1], reason[400];
    memset (code, 'c', sizeof code - 1);
    code[sizeof code - 1] = 0;
    memset (reason, 'r', sizeof reason - 1);
    reason[sizeof reason - 1] = 0;
    shoal_rec_str (&f->payload, "code", code);
    shoal_rec_str (&f->payload, "reason", reason);
    REJECT (f, "Reject", code);
    assert_int_equal (strlen (f->ctx.reason), ENVELOPE_REASON_MAX);

    //  A rejection that also misused the ctx is a handler error.
    REJECT (f, "RejectMisuse", "handler_error");
    assert_int_equal (s_probe (f)->applied, 0);
}

//  A rejection's code is a word, as the protocol says: one that is not
//  (a space, a newline, a byte past ASCII, more than ENVELOPE_CODE_MAX
//  bytes) is a misuse, and the turn fails as handler_error, naming it;
//  before, it was stored and sent as it came ("a b\n\xff"), or cut.
static void test_reject_bad_code (void **state)
{
    fixture_t *f = *state;
    char long_code[ENVELOPE_CODE_MAX + 2];
    memset (long_code, 'c', sizeof long_code - 1);
    long_code[sizeof long_code - 1] = 0;
    const char *codes[] = {"a b\n\xff", "a b", "tab\there", "caf\xc3\xa9", long_code};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        shoal_rec_str (&f->payload, "code", codes[i]);
        REJECT (f, "Reject", "handler_error");
        assert_true (f->ctx.failed);
        assert_non_null (strstr (f->ctx.reason, "a rejection code that is not a code"));
        assert_int_equal (s_probe (f)->applied, 0);
    }
    //  busy and unavailable tell a client to ask again: the stored
    //  rejection would answer it for ever.
    const char *transient[] = {"busy", "unavailable"};
    for (size_t i = 0; i < 2; i++) {
        shoal_rec_str (&f->payload, "code", transient[i]);
        REJECT (f, "Reject", "handler_error");
        assert_true (f->ctx.failed);
        assert_non_null (strstr (f->ctx.reason, "a client would ask again for ever"));
    }
    //  The runtime's other codes a handler may mean as they are.
    shoal_rec_str (&f->payload, "code", "id_reused");
    REJECT (f, "Reject", "id_reused");
    //  The runtime itself answers unavailable (a turn it could not stage):
    //  not a misuse, the code kept (it was refused, and the reply, with
    //  an empty code, did not encode: the client heard nothing).
    shoal_ctx_t *ctx = &f->ctx;
    ctx_begin (ctx, "counter/c1", 0, 0);
    assert_int_equal (ctx_reject_runtime (ctx, "unavailable", "could not stage: %s", "full"),
                      SHOAL_EREJECTED);
    assert_true (ctx->rejected);
    assert_false (ctx->failed);
    assert_null (ctx->misuse);
    assert_string_equal (ctx->code, "unavailable");
    assert_string_equal (ctx->reason, "could not stage: full");
}

//  A rejection's reason is UTF-8 whatever the handler wrote: cut at
//  ENVELOPE_REASON_MAX bytes between characters (the bank's transfer saga
//  quoting 200-byte ids of 'é' in its id_reused reason was cut after the
//  first byte of one, and the reply did not decode as UTF-8), a byte that
//  is not UTF-8 replaced by '?'.
static void test_reject_reason_utf8 (void **state)
{
    fixture_t *f = *state;
    char reason[2 * 200 + 1];
    for (size_t i = 0; i < 200; i++)
        memcpy (reason + 2 * i, "\xc3\xa9", 2);
    reason[sizeof reason - 1] = 0;
    shoal_rec_str (&f->payload, "code", "id_reused");
    shoal_rec_str (&f->payload, "reason", reason);
    REJECT (f, "Reject", "id_reused");
    assert_int_equal (strlen (f->ctx.reason), ENVELOPE_REASON_MAX - 1); //  127 of them
    assert_memory_equal (f->ctx.reason, reason, ENVELOPE_REASON_MAX - 1);

    shoal_rec_str (&f->payload, "code", "no");
    shoal_rec_str (&f->payload, "reason", "bad \xff byte, cut \xe2\x82");
    REJECT (f, "Reject", "no");
    assert_string_equal (f->ctx.reason, "bad ? byte, cut ");
}

static void test_rec_error_fails_turn (void **state)
{
    fixture_t *f = *state;
    const char *targets[] = {"event", "send", "timer", "reply"};
    for (size_t i = 0; i < 4; i++) {
        shoal_rec_str (&f->payload, "target", targets[i]);
        REJECT (f, "RecNull", "handler_error");
        assert_non_null (strstr (f->ctx.reason, shoal_strerror (SHOAL_EINVAL)));
        assert_non_null (
            strstr (f->ctx.reason, "(a field written wrongly with shoal_rec_*: a NULL string)"));
    }
}

//  A key written twice into one rec's map fails the turn as any other
//  misuse of a rec, and the reason names the key (the rec held it twice,
//  and `shoal` printed {"k":1,"k":2}).
static void test_rec_key_twice_fails_turn (void **state)
{
    fixture_t *f = *state;
    const char *targets[] = {"event", "send", "timer", "reply"};
    for (size_t i = 0; i < 4; i++) {
        shoal_rec_str (&f->payload, "target", targets[i]);
        shoal_rec_str (&f->payload, "to", "probe/other");
        REJECT (f, "RecTwice", "handler_error");
        assert_true (f->ctx.failed);
        assert_non_null (strstr (f->ctx.reason, shoal_strerror (SHOAL_EINVAL)));
        assert_non_null (strstr (f->ctx.reason, "(a field written wrongly with shoal_rec_*: the "
                                                "key 'k' written twice in one map)"));
    }
    assert_int_equal (s_probe (f)->applied, 0);
}

//  A field map that could not travel (over CTX_MAX_REC_BYTES) fails the
//  turn before anything is applied: the handler's error, not a decision.
static void test_rec_too_big_fails_turn (void **state)
{
    fixture_t *f = *state;
    const char *targets[] = {"event", "send", "reply"};
    for (size_t i = 0; i < 3; i++) {
        shoal_rec_str (&f->payload, "target", targets[i]);
        shoal_rec_int (&f->payload, "n", CTX_MAX_REC_BYTES);
        REJECT (f, "Big", "handler_error");
        assert_true (f->ctx.failed);
        assert_non_null (strstr (f->ctx.reason, shoal_strerror (SHOAL_ETOOBIG)));
        assert_non_null (strstr (f->ctx.reason, "of more than 1 MiB less 8 KiB)"));
        shoal_rec_str (&f->payload, "target", targets[i]);
        shoal_rec_int (&f->payload, "n", 100000);
        assert_int_equal (s_run (f, "Big"), CTX_ACCEPTED);
        assert_false (f->ctx.failed);
    }
    //  A deliberate rejection is not a failure.
    shoal_rec_str (&f->payload, "code", "no");
    REJECT (f, "Reject", "no");
    assert_false (f->ctx.failed);
}

static void test_apply_refuses_own_event (void **state)
{
    fixture_t *f = *state;
    int rc = s_run (f, "Corrupt");
    assert_int_equal (rc, CTX_CORRUPT);
    assert_true (f->ctx.rejected);
    assert_string_equal (f->ctx.code, "handler_error");
    assert_non_null (strstr (f->ctx.reason, "Bad"));
    assert_int_equal (f->ctx.event_count, 0);
    assert_int_equal (f->ctx.send_count, 0);
    assert_int_equal (f->ctx.timer_count, 0);
    size_t size;
    rec_finish (&f->ctx.reply, &size);
    assert_int_equal (size, 1);
    //  The events before it were applied: the state must be dropped.
    assert_int_equal (s_probe (f)->applied, 1);
}

static void test_ctx_reused_after_errors (void **state)
{
    fixture_t *f = *state;
    shoal_rec_int (&f->payload, "n", CTX_MAX_EVENTS + 1);
    REJECT (f, "Emit", "handler_error");
    REJECT (f, "Fail", "handler_error");
    REJECT (f, "Reject", "nope");
    //  Nothing of the failed turns leaks into the next.
    shoal_rec_int (&f->payload, "n", 2);
    ACCEPT (f, "Emit", 2, 0, 0);
    assert_string_equal (f->ctx.code, "");
    assert_string_equal (f->ctx.reason, "");
    assert_int_equal (f->ctx.error, 0);
    assert_int_equal (harness_rec_int (&f->ctx.reply, "count"), 2);
    assert_int_equal (s_probe (f)->applied, 2);
    REJECT (f, "Nope", "unknown_command");
    assert_string_equal (f->ctx.reason, "probe takes no Nope");
}

static void test_ctx_apply (void **state)
{
    (void) state;
    probe_t probe;
    memset (&probe, 0, sizeof probe);
    static const uint8_t n4[] = {0x81, 0xa1, 'n', 0x04};
    static const uint8_t array[] = {0x91, 0x04};
    assert_int_equal (ctx_apply (&s_probe_type, &probe, "E", n4, sizeof n4), 0);
    assert_int_equal (probe.sum, 4);
    assert_int_equal (ctx_apply (&s_probe_type, &probe, "E", NULL, 0), 0);
    assert_int_equal (probe.applied, 2);
    assert_int_equal (ctx_apply (&s_probe_type, &probe, "E", array, sizeof array), SHOAL_EFORMAT);
    assert_int_equal (ctx_apply (&s_probe_type, &probe, "E", n4, sizeof n4 - 1), SHOAL_EFORMAT);
    //  apply's own error becomes SHOAL_EFORMAT.
    assert_int_equal (ctx_apply (&s_probe_type, &probe, "Bad", n4, sizeof n4), SHOAL_EFORMAT);
    assert_int_equal (probe.applied, 2);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_data_usage),
        cmocka_unit_test (test_data_borrows_its_bytes),
        cmocka_unit_test (test_data_edges),
        cmocka_unit_test (test_data_types),
        cmocka_unit_test (test_data_null_and_empty),
        cmocka_unit_test (test_data_init_malformed),
        cmocka_unit_test (test_rec_many_keys),
        cmocka_unit_test (test_rec_empty_reset_raw),
        cmocka_unit_test (test_rec_null_safety),
        cmocka_unit_test_setup_teardown (test_turn_usage, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_msg_accessors, s_setup, harness_turn_teardown),
        cmocka_unit_test (test_msg_init_malformed),
        cmocka_unit_test_setup_teardown (test_emit_limit, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_send_limit, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_timer_limit, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_bad_send_address, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_bad_names, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_timer_delays, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_handler_error_without_reject, s_setup,
                                         harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_reject, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_reject_bad_code, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_reject_reason_utf8, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_rec_error_fails_turn, s_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_rec_key_twice_fails_turn, s_setup,
                                         harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_rec_too_big_fails_turn, s_setup,
                                         harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_apply_refuses_own_event, s_setup,
                                         harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_ctx_reused_after_errors, s_setup,
                                         harness_turn_teardown),
        cmocka_unit_test (test_ctx_apply),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
