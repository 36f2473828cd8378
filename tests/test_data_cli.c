/*  test_data_cli.c - nested fields through a real node: `shoal send` with
    key:=JSON and --input into a module that reads and writes maps, arrays,
    doubles and bytes (tests/order_module.c), back out through the reply,
    `shoal get` (view), `shoal events`, and a restart from the snapshot.
    Misused recs fail the turn with nothing kept; too deep a :=JSON is
    refused by the CLI; raw frames from a ZeroMQ DEALER that break the
    envelope, or whose payload holds a string that is not UTF-8, get a
    bad_frame reason naming the field, and nothing is written.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "client.h"
#include "proc.h"

#include <czmq.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NODE                                                                                       \
    "$SHOAL node --endpoint $E --data $DIR/data --workers 2 --metrics off --snapshot-every 1 "     \
    "--module \"$SHOAL_ORDER_MODULE\""

static int s_setup (void **state)
{
    proc_t *p = proc_new ("test-data-cli");
    proc_node_start (p, NODE);
    *state = p;
    return 0;
}

static int s_teardown (void **state)
{
    proc_t *p = *state;
    proc_destroy (&p);
    return 0;
}

//  Fails unless text holds needle.
static void s_assert_has (const char *text, const char *needle)
{
    if (!strstr (text, needle))
        fail_msg ("expected %s in: %s", needle, text);
}

#define PLACE                                                                                      \
    "$SHOAL send --endpoint $E order/o1 Place customer=Ann price:=12.5 "                           \
    "tag:='{\"$bytes\":\"AAEC/w==\"}' "                                                            \
    "items:='[{\"sku\":\"a\",\"qty\":2},{\"sku\":\"b\",\"qty\":1}]'"
#define ITEMS "\"items\":[{\"sku\":\"a\",\"qty\":2},{\"sku\":\"b\",\"qty\":1}]"

//  Nested fields go in through the CLI and come back out of the reply,
//  the view, the events, and the snapshot after a restart.
static void test_round_trip (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    assert_int_equal (proc_run (p, out, err, PLACE), 0);
    s_assert_has (out, "\"reply\":{\"items\":2,\"total\":37.5}");

    const char *state_fields = "\"customer\":\"Ann\",\"price\":12.5,"
                               "\"tag\":{\"$bytes\":\"AAEC/w==\"}," ITEMS;
    assert_int_equal (proc_run (p, out, err, "$SHOAL get --endpoint $E order/o1"), 0);
    s_assert_has (out, state_fields);
    assert_int_equal (proc_run (p, out, err, "$SHOAL events --endpoint $E order/o1"), 0);
    s_assert_has (out, ITEMS);
    s_assert_has (out, "\"tag\":{\"$bytes\":\"AAEC/w==\"}");

    //  The snapshot (written at every event) holds the nested view.
    proc_node_signal (p, SIGTERM);
    proc_node_start (p, NODE);
    assert_int_equal (proc_run (p, out, err, "$SHOAL get --endpoint $E order/o1"), 0);
    s_assert_has (out, "\"placed\":1");
    s_assert_has (out, state_fields);

    //  A wrong type inside an array element is the module's to refuse.
    assert_int_equal (proc_run (p, out, err,
                                "$SHOAL send --endpoint $E order/o2 Place customer=B price:=1 "
                                "items:='[{\"sku\":\"a\",\"qty\":\"2\"}]'"),
                      1);
    s_assert_has (out, "\"code\":\"invalid_field\"");
}

//  Every JSON type comes back as it went, through msgpack.
static void test_echo_types (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    assert_int_equal (proc_run (p, out, err,
                                "$SHOAL send --endpoint $E order/e Echo n=-7 s=text t=true "
                                "owner:='\"123\"' num:=123 d:=1.0 e:=-2.5e-3 x:=null "
                                "m:='{\"x\":[true,{\"y\":\"z\"}],\"empty\":{}}' "
                                "b:='{\"$bytes\":\"\"}' big:=18446744073709551615"),
                      0);
    s_assert_has (out, "\"reply\":{\"echo\":{\"n\":-7,\"s\":\"text\",\"t\":true,\"owner\":\"123\","
                       "\"num\":123,\"d\":1.0,\"e\":-0.0025,\"x\":null,"
                       "\"m\":{\"x\":[true,{\"y\":\"z\"}],\"empty\":{}},"
                       "\"b\":{\"$bytes\":\"\"},\"big\":18446744073709551615}}");

    //  --input: a file, then stdin, with fields added after.
    FILE *file;
    char path[128];
    snprintf (path, sizeof path, "%s/in.json", p->dir);
    assert_non_null (file = fopen (path, "w"));
    fputs ("{\"a\": [1, 2.5, \"three\"], \"b\": {\"c\": null}}\n", file);
    fclose (file);
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL send --endpoint $E --input $DIR/in.json order/e Echo z=1"),
        0);
    s_assert_has (out, "\"echo\":{\"a\":[1,2.5,\"three\"],\"b\":{\"c\":null},\"z\":1}");
    assert_int_equal (proc_run (p, out, err,
                                "echo '{\"q\":[[]]}' | $SHOAL send --endpoint $E --input - "
                                "order/e Echo"),
                      0);
    s_assert_has (out, "\"echo\":{\"q\":[[]]}");

    //  Bad input is refused before anything is sent (exit 2).
    assert_int_equal (proc_run (p, out, err,
                                "echo '{\"q\":1}' | $SHOAL send --endpoint $E --input - "
                                "order/e Echo q=2"),
                      2);
    s_assert_has (err, "field 'q' is given twice");
    assert_int_equal (proc_run (p, out, err,
                                "echo '[1]' | $SHOAL send --endpoint $E --input - "
                                "order/e Echo"),
                      2);
    s_assert_has (err, "input: expected a JSON object");
    assert_int_equal (proc_run (p, out, err, "$SHOAL send --endpoint $E order/e Echo a:='{x}'"), 2);
    s_assert_has (err, "field 'a': not JSON");
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL send --endpoint $E --input $DIR/missing order/e Echo"), 2);
    s_assert_has (err, "--input");
}

//  A rec misused by a handler fails the turn: nothing of it is kept.
static void test_misuse (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    static const char *hows[] = {"end_without_begin", "key_in_array", "no_key_in_map", "unclosed",
                                 "too_deep"};
    for (size_t i = 0; i < sizeof hows / sizeof hows[0]; i++) {
        assert_int_equal (
            proc_run (p, out, err, "$SHOAL send --endpoint $E order/m Misuse how=%s", hows[i]), 1);
        s_assert_has (out, "\"code\":\"handler_error\"");
        s_assert_has (out, i == 4 ? shoal_strerror (SHOAL_ETOOBIG) : shoal_strerror (SHOAL_EINVAL));
    }
    assert_int_equal (proc_run (p, out, err, "$SHOAL events --endpoint $E order/m"), 0);
    assert_null (strstr (out, "\"seq\""));
}

//  A :=JSON deeper than SHOAL_DATA_DEPTH is refused by the CLI, and just
//  deep enough goes through.
static void test_too_deep (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    char deep[2 * SHOAL_DATA_DEPTH + 1], less[2 * SHOAL_DATA_DEPTH];
    //  Arrays n deep are "[" * n + "]" * n: the field's value 16 deep makes
    //  the fields 17.
    memset (deep, '[', SHOAL_DATA_DEPTH);
    memset (deep + SHOAL_DATA_DEPTH, ']', SHOAL_DATA_DEPTH);
    deep[2 * SHOAL_DATA_DEPTH] = 0;
    snprintf (less, sizeof less, "%s", deep + 1);
    less[2 * SHOAL_DATA_DEPTH - 2] = 0;
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL send --endpoint $E order/d Echo d:='%s'", deep), 2);
    s_assert_has (err, "field 'd': nesting deeper than 16");
    //  One level less fits in the command, but not in the reply map, one
    //  level further down: the handler's turn fails.
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL send --endpoint $E order/d Echo d:='%s'", less), 1);
    s_assert_has (out, "handler_error");
    assert_int_equal (proc_run (p, out, err, "$SHOAL events --endpoint $E order/d"), 0);
    assert_null (strstr (out, "\"seq\""));
}

//  Sends one raw frame with a DEALER and returns the reply's reason
//  (asserting it is a bad_frame), and its correlation if correlation is
//  not NULL.
static void s_raw (proc_t *p, const uint8_t *frame, size_t size, char *reason, uint8_t *correlation)
{
    zsock_t *dealer = zsock_new_dealer (p->endpoint);
    assert_non_null (dealer);
    zsock_set_rcvtimeo (dealer, 10000);
    assert_int_equal (zmq_send (zsock_resolve (dealer), frame, size, 0), (int) size);
    zframe_t *answer = zframe_recv (dealer);
    assert_non_null (answer);
    envelope_t reply;
    assert_int_equal (envelope_decode (&reply, zframe_data (answer), zframe_size (answer)), 0);
    bool ok;
    char code[ENVELOPE_CODE_MAX + 1];
    const uint8_t *data;
    size_t data_size;
    assert_int_equal (envelope_reply_decode (reply.payload, reply.payload_size, &ok, code, reason,
                                             &data, &data_size),
                      0);
    assert_false (ok);
    assert_string_equal (code, "bad_frame");
    if (correlation)
        memcpy (correlation, reply.correlation, ENVELOPE_ID_SIZE);
    zframe_destroy (&answer);
    zsock_destroy (&dealer);
}

static const uint8_t s_raw_id[ENVELOPE_ID_SIZE] = {1, 2, 3}; //  every raw frame's id

//  Packs an envelope's fields before the payload, with version, to and
//  name of the caller's choice (to NULL: an integer instead).
static void s_head (msgpack_packer *pk, unsigned version, const char *to, const char *name)
{
    msgpack_pack_array (pk, 11);
    msgpack_pack_uint8 (pk, (uint8_t) version);
    msgpack_pack_uint8 (pk, ENVELOPE_COMMAND);
    msgpack_pack_bin_with_body (pk, s_raw_id, sizeof s_raw_id);
    msgpack_pack_nil (pk);
    msgpack_pack_nil (pk);
    msgpack_pack_str_with_body (pk, "", 0);
    if (to)
        msgpack_pack_str_with_body (pk, to, strlen (to));
    else
        msgpack_pack_int (pk, 42);
    msgpack_pack_str_with_body (pk, name, strlen (name));
}

static void s_tail (msgpack_packer *pk)
{
    msgpack_pack_uint8 (pk, 0);
    msgpack_pack_uint64 (pk, (uint64_t) zclock_time ());
}

static void test_raw_frames (void **state)
{
    proc_t *p = *state;
    char reason[ENVELOPE_REASON_MAX + 1];
    msgpack_sbuffer buffer;
    msgpack_packer pk;

    msgpack_sbuffer_init (&buffer);
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    s_head (&pk, 1, NULL, "Echo");
    msgpack_pack_map (&pk, 0);
    s_tail (&pk);
    s_raw (p, (uint8_t *) buffer.data, buffer.size, reason, NULL);
    assert_string_equal (reason, "field 'to': expected a string, got an integer");

    buffer.size = 0;
    s_head (&pk, 7, "order/raw", "Echo");
    msgpack_pack_map (&pk, 0);
    s_tail (&pk);
    s_raw (p, (uint8_t *) buffer.data, buffer.size, reason, NULL);
    s_assert_has (reason, "frame: version 7 is not supported");

    //  A payload 17 deep: {"d": [[...]]} with 16 arrays.
    buffer.size = 0;
    s_head (&pk, 1, "order/raw", "Echo");
    msgpack_pack_map (&pk, 1);
    msgpack_pack_str_with_body (&pk, "d", 1);
    for (int i = 0; i < SHOAL_DATA_DEPTH; i++)
        msgpack_pack_array (&pk, i + 1 < SHOAL_DATA_DEPTH ? 1 : 0);
    s_tail (&pk);
    s_raw (p, (uint8_t *) buffer.data, buffer.size, reason, NULL);
    assert_string_equal (reason, "payload: nesting deeper than 16");

    //  A nested payload whose lengths lie: an array of 1000 elements with
    //  2, a string of 200 bytes with 3.
    buffer.size = 0;
    s_head (&pk, 1, "order/raw", "Echo");
    msgpack_pack_map (&pk, 2);
    msgpack_pack_str_with_body (&pk, "a", 1);
    msgpack_pack_array (&pk, 1000);
    msgpack_pack_int (&pk, 1);
    msgpack_pack_int (&pk, 2);
    msgpack_pack_str_with_body (&pk, "s", 1);
    msgpack_pack_str (&pk, 200);
    msgpack_pack_str_body (&pk, "abc", 3);
    s_tail (&pk);
    s_raw (p, (uint8_t *) buffer.data, buffer.size, reason, NULL);
    s_assert_has (reason, "payload: a length or count runs past the end of the frame");

    buffer.size = 0;
    s_head (&pk, 1, "order/raw", "Echo");
    msgpack_pack_array (&pk, 0);
    s_tail (&pk);
    s_raw (p, (uint8_t *) buffer.data, buffer.size, reason, NULL);
    assert_string_equal (reason, "field 'payload': expected a map, got an array");
    msgpack_sbuffer_destroy (&buffer);

    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    assert_int_equal (proc_run (p, out, err, "$SHOAL events --endpoint $E order/raw"), 0);
    assert_null (strstr (out, "\"seq\""));
    assert_int_equal (proc_run (p, out, err, "$SHOAL stats --endpoint $E"), 0);
    s_assert_has (out, "\"bad_frames\":5");
}

//  Packs text as a str (its bytes as they are, UTF-8 or not).
static void s_str (msgpack_packer *pk, const char *text)
{
    msgpack_pack_str_with_body (pk, text, strlen (text));
}

//  A request whose payload holds a string that is not UTF-8 (as a client
//  other than shoal may send one: shoal send checks its own) is refused
//  bad_frame, naming the field, answered under its id, and changes
//  nothing; an address with a control byte is named escaped. The node
//  stored such strings, and shoal get printed them with U+FFFD. So is a
//  key given twice in one map (the handler read the first).
static void test_raw_frames_not_utf8 (void **state)
{
    proc_t *p = *state;
    char reason[ENVELOPE_REASON_MAX + 1];
    uint8_t correlation[ENVELOPE_ID_SIZE];
    msgpack_sbuffer buffer;
    msgpack_packer pk;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    static const char *said[] = {
        "payload: field 'customer': the value is not UTF-8 (byte 0xff at offset 1)",
        "payload: field 'items': a key or string inside it is not UTF-8 (byte 0xc3 at offset 1)",
        "payload: a field name is not UTF-8 (byte 0xff after 'a\\u001b')",
        "payload: field 'm': a key or string inside it is not UTF-8 (byte 0xed at offset 1)",
    };
    for (int i = 0; i < 4; i++) {
        buffer.size = 0;
        s_head (&pk, 1, i < 2 ? "order/p1" : "order/p2", i < 2 ? "Place" : "Echo");
        if (i < 2) { //  a Place that would be stored
            msgpack_pack_map (&pk, 3);
            s_str (&pk, "customer");
            s_str (&pk, i == 0 ? "a\xff"
                                 "b"
                               : "B");
            s_str (&pk, "price");
            msgpack_pack_double (&pk, 1.5);
            s_str (&pk, "items");
            msgpack_pack_array (&pk, 1);
            msgpack_pack_map (&pk, 2);
            s_str (&pk, "qty");
            msgpack_pack_int (&pk, 2);
            s_str (&pk, "sku");
            s_str (&pk, i == 1 ? "s\xc3" : "s");
        } else if (i == 2) {
            msgpack_pack_map (&pk, 1);
            s_str (&pk, "a\x1b\xff");
            msgpack_pack_int (&pk, 1);
        } else { //  a surrogate (ED A0 80) in a nested key
            msgpack_pack_map (&pk, 2);
            s_str (&pk, "ok");
            s_str (&pk, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 valid, and long enough for words");
            s_str (&pk, "m");
            msgpack_pack_map (&pk, 1);
            s_str (&pk, "k\xed\xa0\x80");
            s_str (&pk, "v");
        }
        s_tail (&pk);
        s_raw (p, (uint8_t *) buffer.data, buffer.size, reason, correlation);
        assert_string_equal (reason, said[i]);
        assert_memory_equal (correlation, s_raw_id, ENVELOPE_ID_SIZE);
    }
    //  A key given twice in one map, at the top or inside: a handler's
    //  lookup reads the first, so the Place would store "A" for "B".
    for (int i = 0; i < 2; i++) {
        buffer.size = 0;
        s_head (&pk, 1, "order/p1", "Place");
        msgpack_pack_map (&pk, i == 0 ? 4 : 3);
        s_str (&pk, "customer");
        s_str (&pk, "A");
        s_str (&pk, "price");
        msgpack_pack_double (&pk, 1.5);
        s_str (&pk, "items");
        msgpack_pack_array (&pk, 1);
        msgpack_pack_map (&pk, i == 0 ? 2 : 3);
        s_str (&pk, "qty");
        msgpack_pack_int (&pk, 2);
        s_str (&pk, "sku");
        s_str (&pk, "s");
        if (i == 1) {
            s_str (&pk, "qty");
            msgpack_pack_int (&pk, 200);
        } else {
            s_str (&pk, "customer");
            s_str (&pk, "B");
        }
        s_tail (&pk);
        s_raw (p, (uint8_t *) buffer.data, buffer.size, reason, correlation);
        assert_string_equal (reason, i == 0 ? "payload: field 'customer' is given twice"
                                            : "payload: key 'qty' is given twice in one map "
                                              "(inside field 'items')");
        assert_memory_equal (correlation, s_raw_id, ENVELOPE_ID_SIZE);
    }
    //  An address with ESC: named escaped (it came raw in the reason).
    buffer.size = 0;
    s_head (&pk, 1, "order/p\x1b", "Echo");
    msgpack_pack_map (&pk, 0);
    s_tail (&pk);
    s_raw (p, (uint8_t *) buffer.data, buffer.size, reason, NULL);
    assert_string_equal (reason, "field 'to': \"order/p\\u001b\" is not an address (type/id)");
    msgpack_sbuffer_destroy (&buffer);

    //  Nothing stored; the same Place with UTF-8 strings is.
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    assert_int_equal (proc_run (p, out, err, "$SHOAL get --endpoint $E order/p1"), 0);
    s_assert_has (out, "\"version\":0,");
    assert_int_equal (proc_run (p, out, err, "$SHOAL stats --endpoint $E"), 0);
    s_assert_has (out, "\"bad_frames\":7");
    assert_int_equal (proc_run (p, out, err,
                                "$SHOAL send --endpoint $E order/p1 Place customer='Zo\xc3\xab "
                                "\xe2\x82\xac' price:=1.5 items:='[{\"sku\":\"s\",\"qty\":2}]'"),
                      0);
    assert_int_equal (proc_run (p, out, err, "$SHOAL get --endpoint $E order/p1"), 0);
    s_assert_has (out, "\"version\":1,");
    s_assert_has (out, "\"customer\":\"Zo\xc3\xab \xe2\x82\xac\"");
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_round_trip, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_echo_types, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_misuse, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_too_deep, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_raw_frames, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_raw_frames_not_utf8, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
