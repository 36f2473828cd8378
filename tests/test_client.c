/*  test_client.c - the client library on its own: this program links
    shoal_client and nothing else of shoal (no runtime, no persistence, no
    LevelDB), so building it is the first check. Then: fields to msgpack
    and back through the map_* readers, JSON printing, message ids, and a
    call to a node that is not there, alone or in a cluster.
*/
#include "client.h"
#include "client_window.h"
#include "cluster.h"
#include "json.h"
#include "utf8.h"

#include <czmq.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

//  The example: fields packed, read back, printed as JSON.
static void test_fields_map_json (void **state)
{
    (void) state;
    char *argv[] = {"owner=Alice", "amount=-40", "vip=true", "note=a \"b\""};
    uint8_t *map;
    size_t size;
    char error[128];
    assert_int_equal (client_fields (4, argv, &map, &size, error, sizeof error), 0);
    int64_t amount = 0;
    char owner[16];
    assert_int_equal (map_int (map, size, "amount", &amount), 0);
    assert_int_equal (amount, -40);
    assert_int_equal (map_str (map, size, "owner", owner, sizeof owner), 0);
    assert_string_equal (owner, "Alice");
    assert_int_equal (map_str (map, size, "owner", owner, 5), SHOAL_ENOTFOUND);
    assert_int_equal (map_int (map, size, "owner", &amount), SHOAL_ENOTFOUND);
    assert_int_equal (map_int (map, size, "missing", &amount), SHOAL_ENOTFOUND);

    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream (&text, &len);
    assert_int_equal (json_write (out, map, size), 0);
    fclose (out);
    assert_string_equal (text, "{\"owner\":\"Alice\",\"amount\":-40,\"vip\":true,"
                               "\"note\":\"a \\\"b\\\"\"}");
    free (text);
    free (map);

    uint8_t bad[] = {0xc1};
    out = open_memstream (&text, &len);
    assert_int_equal (json_write (out, bad, sizeof bad), SHOAL_EFORMAT);
    fclose (out);
    free (text);
}

static void test_fields_rejected (void **state)
{
    (void) state;
    uint8_t *map = NULL;
    size_t size;
    char error[128];
    char *plain[] = {"nokey"};
    assert_int_equal (client_fields (1, plain, &map, &size, error, sizeof error), SHOAL_EINVAL);
    assert_non_null (strstr (error, "not key=value"));
    char *twice[] = {"a=1", "a=2"};
    assert_int_equal (client_fields (2, twice, &map, &size, error, sizeof error), SHOAL_EINVAL);
    assert_non_null (strstr (error, "given twice"));
    char *big[] = {"a=99999999999999999999"};
    assert_int_equal (client_fields (1, big, &map, &size, error, sizeof error), SHOAL_EINVAL);
    assert_non_null (strstr (error, "int64"));
}

//  Packs argv (and input) and prints the map as JSON into text (free()).
static int s_fields_json (const char *input, int argc, char **argv, char **text, char *error,
                          size_t error_size)
{
    uint8_t *map;
    size_t size, len;
    int rc = client_payload (input, argc, argv, &map, &size, error, error_size);
    *text = NULL;
    if (rc)
        return rc;
    FILE *out = open_memstream (text, &len);
    assert_int_equal (json_write (out, map, size), 0);
    fclose (out);
    free (map);
    return 0;
}

//  A field list that client_payload refuses: input (NULL: none) and one
//  argument, and the words its error must hold.
typedef struct {
    const char *input;
    const char *arg;
    const char *error;
} refusal_t;

//  Fails unless error is one line of printable UTF-8 (no control byte, no
//  byte that is not UTF-8), whatever the keys it names hold.
static void s_assert_clean (const char *error)
{
    size_t len = strlen (error);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) error[i] < 0x20 || error[i] == 0x7f)
            fail_msg ("byte 0x%02x at %zu of '%s'", (unsigned char) error[i], i, error);
    if (utf8_valid_prefix (error, len) != len)
        fail_msg ("not UTF-8 at %zu: '%s'", utf8_valid_prefix (error, len), error);
}

//  Fails unless client_payload refuses each case, saying its words, in one
//  clean line.
static void s_expect_refusals (const refusal_t *cases, size_t count)
{
    char error[160], *text;
    for (size_t i = 0; i < count; i++) {
        char *argv[] = {(char *) cases[i].arg};
        assert_int_equal (s_fields_json (cases[i].input, 1, argv, &text, error, sizeof error),
                          SHOAL_EINVAL);
        if (!strstr (error, cases[i].error))
            fail_msg ("case %zu: expected '%s' in '%s'", i, cases[i].error, error);
        s_assert_clean (error);
    }
}

//  key:=JSON takes any JSON value, as msgpack's own types, and prints back
//  as it came (bytes as {"$bytes": base64}); key=value is auto-typed as
//  before.
static void test_fields_json (void **state)
{
    (void) state;
    char error[128], *text;
    char *argv[] = {"amount=100",
                    "owner:=\"123\"",
                    "price:=12.5",
                    "whole:=2.0",
                    "tiny:=1e-300",
                    "flag:=true",
                    "none:=null",
                    "items:=[{\"sku\":\"a\",\"qty\":2}]",
                    "blob:={\"$bytes\":\"AP8=\"}",
                    "not_bytes:={\"$bytes\":1}",
                    "a:b=c",
                    "big:=18446744073709551615",
                    "neg:=-9223372036854775808"};
    int argc = (int) (sizeof argv / sizeof argv[0]);
    assert_int_equal (s_fields_json (NULL, argc, argv, &text, error, sizeof error), 0);
    assert_string_equal (text, "{\"amount\":100,\"owner\":\"123\",\"price\":12.5,\"whole\":2.0,"
                               "\"tiny\":1e-300,\"flag\":true,\"none\":null,"
                               "\"items\":[{\"sku\":\"a\",\"qty\":2}],"
                               "\"blob\":{\"$bytes\":\"AP8=\"},\"not_bytes\":{\"$bytes\":1},"
                               "\"a:b\":\"c\",\"big\":18446744073709551615,"
                               "\"neg\":-9223372036854775808}");
    free (text);

    //  --input: an object's fields first, then the arguments'.
    char *more[] = {"z=1"};
    assert_int_equal (s_fields_json ("{\"a\": [1, {\"b\": [] }], \"c\": \"\\u00e9\"}", 1, more,
                                     &text, error, sizeof error),
                      0);
    assert_string_equal (text, "{\"a\":[1,{\"b\":[]}],\"c\":\"\xc3\xa9\",\"z\":1}");
    free (text);
    assert_int_equal (s_fields_json ("{}", 0, NULL, &text, error, sizeof error), 0);
    assert_string_equal (text, "{}");
    free (text);

    //  16 deep with the fields' own map fits; 17 does not.
    char deep[64] = "d:=", *deep_argv[] = {deep};
    for (int i = 0; i < SHOAL_DATA_DEPTH - 1; i++)
        strcat (deep, "[");
    for (int i = 0; i < SHOAL_DATA_DEPTH - 1; i++)
        strcat (deep, "]");
    assert_int_equal (s_fields_json (NULL, 1, deep_argv, &text, error, sizeof error), 0);
    free (text);
    memmove (deep + 4, deep + 3, strlen (deep + 3) + 1);
    deep[3] = '[';
    strcat (deep, "]");
    assert_int_equal (s_fields_json (NULL, 1, deep_argv, &text, error, sizeof error), SHOAL_EINVAL);
    assert_string_equal (error, "field 'd': nesting deeper than 16");
}

static void test_fields_json_rejected (void **state)
{
    (void) state;
    char error[128], *text;
    static const refusal_t cases[] = {
        {NULL, "a:=", "field 'a': not JSON (unexpected end of data"},
        {NULL, "a:={x}", "field 'a': not JSON"},
        {NULL, "a:=1 2", "field 'a': not JSON (unexpected character at character 2)"},
        {NULL, "a:='s'", "field 'a': not JSON"},
        {NULL, ":=1", "is not key=value or key:=JSON"},
        {NULL, "a:={\"$bytes\":\"***\"}", "field 'a': \"$bytes\" holds no standard base64"},
        {"[1]", "z=1", "input: expected a JSON object of fields"},
        {"{\"$bytes\":\"AA==\"}", "z=1", "input: expected a JSON object of fields"},
        {"{\"z\":1}", "z:=2", "field 'z' is given twice"},
        {"{\"z\":1", "y=1", "input: not JSON"},
    };
    s_expect_refusals (cases, sizeof cases / sizeof cases[0]);
    char *twice[] = {"a=1", "a:=2"};
    assert_int_equal (s_fields_json (NULL, 2, twice, &text, error, sizeof error), SHOAL_EINVAL);
    assert_string_equal (error, "field 'a' is given twice");
}

//  json-c keeps the last of a repeated key and cuts a key at \u0000: both
//  would send something else than the user wrote, so both are refused,
//  naming the key, at any depth, in --input and in key:=JSON.
static void test_fields_json_keys (void **state)
{
    (void) state;
    char error[160], *text;
    static const refusal_t cases[] = {
        {"{\"amount\":5,\"amount\\u0000\":1000000}", "z=1",
         "input: key \"amount\\u0000\" holds \\u0000"},
        {"{\"amount\":5,\"amount\":7}", "z=1", "input: key \"amount\" is repeated"},
        {"{\"a\":1, \"b\":{\"c\":[{\"d\":1,\"e\":2 , \"d\" :3}]}}", "z=1",
         "input: key \"d\" is repeated"},
        {"{\"a\":{\"x\":{\"y\":1,\"z\":2}}, \"a\":{\"x\":1}}", "z=1",
         "input: key \"a\" is repeated"},
        {"{\"a\":1,\"\\u0061\":2}", "z=1", "input: key \"a\" is repeated"},
        {NULL, "o:={\"k\":1,\"k\":2}", "field 'o': key \"k\" is repeated"},
        {NULL, "o:=[{\"k\\u0000x\":1}]", "field 'o': key \"k\\u0000x\" holds \\u0000"},
    };
    s_expect_refusals (cases, sizeof cases / sizeof cases[0]);
    //  The same key in two objects, \u0000 in a value, an escaped backslash
    //  before u0000 and "x\":" inside a string are no repeated or cut keys.
    char *argv[] = {"o:={\"k\":\"a\\u0000\",\"n\":{\"k\":\"\\\\u0000\"}}"};
    assert_int_equal (s_fields_json ("{\"k\":[{\"k\":1},{\"k\":\"k\\\":\"}],\"a\\\\u0000\":1}", 1,
                                     argv, &text, error, sizeof error),
                      0);
    assert_string_equal (text, "{\"k\":[{\"k\":1},{\"k\":\"k\\\":\"}],\"a\\\\u0000\":1,"
                               "\"o\":{\"k\":\"a\\u0000\",\"n\":{\"k\":\"\\\\u0000\"}}}");
    free (text);
}

//  json-c clamps an integer past uint64 to 18446744073709551615 and one
//  below int64 to -9223372036854775808, saying nothing: either would send
//  another number than the user wrote, so both are refused, naming the
//  field, at any depth, in key:=JSON and in --input. key=value takes
//  int64 integers, and refuses one past it within uint64 naming key:=N,
//  which sends it (it said only "out of the int64 range").
static void test_fields_json_integers (void **state)
{
    (void) state;
    char error[160], *text;
    static const refusal_t cases[] = {
        {NULL, "amount:=99999999999999999999999",
         "field 'amount': 99999999999999999999999 is out of the uint64 range"},
        {NULL, "amount:=18446744073709551616",
         "field 'amount': 18446744073709551616 is out of the uint64 range"},
        {NULL, "amount:=-9223372036854775809",
         "field 'amount': -9223372036854775809 is out of the int64 range"},
        {NULL, "o:={\"a\":[1.5,\"-99999999999999999999999\",{\"b\":-99999999999999999999999}]}",
         "field 'o': -99999999999999999999999 is out of the int64 range"},
        {"{\"amount\":-99999999999999999999999}", "z=1",
         "input: field 'amount': -99999999999999999999999 is out of the int64 range"},
        {"{\"a\":1, \"n\\u001b\" : {\"k\":[99999999999999999999999]}}", "z=1",
         "input: field 'n\\u001b': 99999999999999999999999 is out of the uint64 range"},
        {NULL, "amount:=123456789012345678901234567890123456789012345678901234567890",
         "field 'amount': 1234567890123456789012345678901234567890... is out of the uint64 range"},
        {NULL, "amount=18446744073709551615",
         "field 'amount': 18446744073709551615 is out of the int64 range that key=value takes; "
         "key:=N sends it as a uint64"},
        {NULL, "amount=18446744073709551616",
         "field 'amount': 18446744073709551616 is out of the int64 range"},
        {NULL, "amount=-9223372036854775809",
         "field 'amount': -9223372036854775809 is out of the int64 range"},
    };
    s_expect_refusals (cases, sizeof cases / sizeof cases[0]);
    //  The bounds themselves, digits in a string or a key, and doubles
    //  written with many digits go as written.
    char *argv[] = {"max:=18446744073709551615",    "min:=-9223372036854775808",
                    "d:=99999999999999999999999.5", "e:=-1e30",
                    "kmax=9223372036854775807",     "kmin=-9223372036854775808"};
    assert_int_equal (s_fields_json ("{\"99999999999999999999999\":\"-99999999999999999999999\"}",
                                     6, argv, &text, error, sizeof error),
                      0);
    assert_string_equal (text, "{\"99999999999999999999999\":\"-99999999999999999999999\","
                               "\"max\":18446744073709551615,\"min\":-9223372036854775808,"
                               "\"d\":1e+23,\"e\":-1e+30,\"kmax\":9223372036854775807,"
                               "\"kmin\":-9223372036854775808}");
    free (text);
}

//  Strings are UTF-8 (shoal.h): a value, a field's name or a key that is
//  not, raw or made by a JSON escape, is refused, naming the field.
static void test_fields_utf8_rejected (void **state)
{
    (void) state;
    char error[160], *text;
    static const refusal_t cases[] = {
        {NULL,
         "owner=a\xff"
         "b",
         "field 'owner': the value is not UTF-8 (byte 0xff at offset 1)"},
        {NULL, "owner:=\"a\xc3\"", "field 'owner': the value is not UTF-8 (byte 0xc3 at offset 1)"},
        {NULL, "owner:=\"a\\ud800\"",
         "field 'owner': \\ud800 at character 2 is half a surrogate pair"},
        {NULL, "o:={\"\\udc00\":1}", "field 'o': \\udc00 at character 2 is half"},
        {"{\"a\":\"\\ud83d\\u0041\"}", "z=1", "input: \\ud83d at character 6 is half"},
        {NULL, "o:={\"k\":[\"\xed\xa0\x80\"]}", "field 'o': the value is not UTF-8 (byte 0xed"},
        {NULL, "o:={\"a\xfe\":1}", "field 'o': a key is not UTF-8 (byte 0xfe at offset 1)"},
        {NULL, "na\xffme=1", "a field name is not UTF-8 (byte 0xff after 'na')"},
        {"{\"owner\":\"\xc0\xaf\"}", "z=1", "field 'owner': the value is not UTF-8 (byte 0xc0"},
        {"{\"ow\xf5ner\":1}", "z=1", "a field name is not UTF-8 (byte 0xf5 after 'ow')"},
    };
    s_expect_refusals (cases, sizeof cases / sizeof cases[0]);
    char *valid[] = {"owner=\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "e:=\"\\ud83d\\ude00\""};
    assert_int_equal (s_fields_json (NULL, 2, valid, &text, error, sizeof error), 0);
    assert_string_equal (text, "{\"owner\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\","
                               "\"e\":\"\xf0\x9f\x98\x80\"}");
    free (text);
}

//  An error that names a key or a field quotes it escaped, as JSON does
//  (\u001b, \t, \n, \', \u0000) and \xNN for a byte that is not UTF-8, cut
//  with "..." when long: one error is one clean line (the key came out
//  raw, an ESC or a 0xff to the terminal).
static void test_fields_keys_quoted (void **state)
{
    (void) state;
    static const refusal_t cases[] = {
        {"{\"a\\u001bb\":1}",
         "a\x1b"
         "b=2",
         "field 'a\\u001bb' is given twice"},
        {NULL, "it's:=[", "field 'it\\'s': not JSON"},
        {NULL, "a\tb\n:={", "field 'a\\tb\\n': not JSON"},
        {NULL,
         "a\x1b\xff"
         "b=1",
         "a field name is not UTF-8 (byte 0xff after 'a\\u001b')"},
        {"{\"\xff\":1,\"\xff\":2}", "z=1", "input: key \"\\xff\" is repeated in one object"},
        {"{\"\xc3\\u0000\":1}", "z=1", "input: key \"\\xc3\\u0000\" holds \\u0000"},
        {NULL, "o:={\"k\\n\\\"\":1,\"k\\n\\\"\":2}", "field 'o': key \"k\\n\\\"\" is repeated"},
        {NULL, "\x1b[31mred", "field '\\u001b[31mred' is not key=value or key:=JSON"},
        //  A key in single quotes, which json-c takes in an object: refused
        //  as not JSON (it was "a key is repeated"), and one holding a '"'
        //  (found by fuzz_fields: the scan of keys read past the text's end).
        {NULL, "o:={'a':1}",
         "field 'o': not JSON (a string in single quotes at character 1: JSON's are in double "
         "quotes)"},
        {NULL, "m\x13:={'=?922373729K\":295n':1,\"?9223729K\":4}", "field 'm\\u0013': not JSON"},
        {NULL, "o:=\"a\\u12", "field 'o': not JSON"},
    };
    s_expect_refusals (cases, sizeof cases / sizeof cases[0]);
    //  A key of 300 bytes: cut between characters (é is 2 bytes), with "...".
    char input[700] = "{\"", arg[400] = "";
    for (int i = 0; i < 150; i++)
        strcat (input, "\xc3\xa9");
    strcat (input, "\":1}");
    memcpy (arg, input + 2, 300);
    strcat (arg, "=2");
    char error[160], *text, *argv[] = {arg};
    assert_int_equal (s_fields_json (input, 1, argv, &text, error, sizeof error), SHOAL_EINVAL);
    s_assert_clean (error);
    //  The key quoted, from its first quote to its last: 80 bytes at most.
    const char *quoted = strchr (error, '\'');
    const char *end = strstr (error, "...' is given twice");
    if (!quoted || !end || end + 4 - quoted > 80)
        fail_msg ("expected the key cut short with ...: %s", error);
}

//  The printer writes each byte that is not valid UTF-8 as U+FFFD, so that
//  what it prints is JSON even for a string stored by another client.
static void test_json_invalid_utf8 (void **state)
{
    (void) state;
    struct {
        const char *stored;
        const char *printed;
    } cases[] = {
        {"a\xff"
         "b",
         "\"a\xef\xbf\xbd"
         "b\""},
        {"\xc3", "\"\xef\xbf\xbd\""},
        {"\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\""},
        {"\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""},
        {"\xe2\x82x", "\"\xef\xbf\xbd\xef\xbf\xbdx\""},
        {"\xf4\x90\x80\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""},
        {"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x7f\"",
         "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\\u007f\\\"\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text;
        size_t len;
        FILE *out = open_memstream (&text, &len);
        json_string (out, cases[i].stored, strlen (cases[i].stored));
        fclose (out);
        if (strcmp (text, cases[i].printed))
            fail_msg ("case %zu: printed '%s', expected '%s'", i, text, cases[i].printed);
        free (text);
    }
}

static void test_ids (void **state)
{
    (void) state;
    uint8_t id[ENVELOPE_ID_SIZE], again[ENVELOPE_ID_SIZE];
    char hex[2 * ENVELOPE_ID_SIZE + 1];
    client_id_from_string ("00112233445566778899aabbccddeeff", id);
    client_id_hex (id, hex);
    assert_string_equal (hex, "00112233445566778899aabbccddeeff");
    client_id_from_string ("transfer-1", id);
    client_id_from_string ("transfer-1", again);
    assert_memory_equal (id, again, ENVELOPE_ID_SIZE);
}

//  Nobody listens on the endpoint: a call times out, a malformed endpoint
//  makes no client.
static void test_no_node (void **state)
{
    (void) state;
    assert_null (client_new ("no-such-transport://x"));
    client_t *client = client_new ("ipc:///nonexistent/shoal-test-client.ipc");
    assert_non_null (client);
    envelope_t request;
    client_request (&request, ENVELOPE_QUERY, NULL, "node/stats", "stats", NULL, 0);
    client_reply_t reply;
    assert_int_equal (client_call (client, &request, 100, &reply), SHOAL_ETIMEOUT);
    client_destroy (&client);
    client_destroy (&client);
}

//  What a node that takes CURVE clients only says first, as libzmq's
//  ZMTP 3.0 greeting: signature, version 3.0, mechanism CURVE, as-server;
//  then it ends the connection. A thread of the test's, on a Unix socket.
static int s_curve_listener = -1;

static void *s_curve_greeter (void *arg)
{
    (void) arg;
    unsigned char greeting[64] = {0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0x7F, 3, 0};
    memcpy (greeting + 12, "CURVE", 5);
    greeting[32] = 1;
    int fd;
    while ((fd = accept (s_curve_listener, NULL, NULL)) >= 0) {
        ssize_t written = send (fd, greeting, sizeof greeting, MSG_NOSIGNAL);
        (void) written; //  a client gone already (no SIGPIPE): the next one
        close (fd);
    }
    return NULL;
}

//  A greeter of CURVE clients only on an ipc:// endpoint in a directory
//  of its own, and the request the tests send it.
#define GREETER_DIR "/tmp/shoal-test-client-XXXXXX" //  mkdtemp's template
typedef struct {
    char dir[sizeof GREETER_DIR];
    char endpoint[128];
    pthread_t thread;
    envelope_t request; //  a stats query
} greeter_t;

//  Starts a greeter; s_greeter_stop ends it.
static void s_greeter_start (greeter_t *greeter)
{
    memcpy (greeter->dir, GREETER_DIR, sizeof GREETER_DIR);
    assert_non_null (mkdtemp (greeter->dir));
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    snprintf (address.sun_path, sizeof address.sun_path, "%s/node.ipc", greeter->dir);
    s_curve_listener = socket (AF_UNIX, SOCK_STREAM, 0);
    assert_true (s_curve_listener >= 0);
    assert_int_equal (bind (s_curve_listener, (struct sockaddr *) &address, sizeof address), 0);
    assert_int_equal (listen (s_curve_listener, 64), 0);
    assert_int_equal (pthread_create (&greeter->thread, NULL, s_curve_greeter, NULL), 0);
    snprintf (greeter->endpoint, sizeof greeter->endpoint, "ipc://%s", address.sun_path);
    client_request (&greeter->request, ENVELOPE_QUERY, NULL, "node/stats", "stats", NULL, 0);
}

static void s_greeter_stop (greeter_t *greeter)
{
    shutdown (s_curve_listener, SHUT_RDWR);
    close (s_curve_listener);
    pthread_join (greeter->thread, NULL);
    unlink (greeter->endpoint + strlen ("ipc://"));
    assert_int_equal (rmdir (greeter->dir), 0);
}

//  A plain client's call to a node that takes CURVE clients only: when
//  the node's greeting comes before ours, libzmq ends the connection on
//  our side, and the DEALER may have no peer for ever after; the call's
//  send waited for one for ever (`shoal send --timeout 300` to a
//  cluster's node hung now and then, until the test's `timeout 60`).
//  Each call gives up within its timeout, 600 times, each made 2 ms
//  after its client connects (the race: without the fix 3 runs of 3
//  hung); SIGALRM ends a hung test.
static void test_call_curve_only_endpoint (void **state)
{
    (void) state;
    greeter_t greeter;
    s_greeter_start (&greeter);
    alarm (120); //  the hang: SIGALRM ends the test
    for (int i = 0; i < 600; i++) {
        client_t *client = client_new (greeter.endpoint);
        assert_non_null (client);
        usleep (2000); //  the race's timing, not a wait for a condition
        client_reply_t reply;
        int64_t started = zclock_mono ();
        assert_int_equal (client_call (client, &greeter.request, 20, &reply), SHOAL_ETIMEOUT);
        int64_t took = zclock_mono () - started;
        if (took > 10000)
            fail_msg ("call %d of 20 ms gave up after %d ms", i, (int) took);
        client_destroy (&client);
    }
    alarm (0);
    s_greeter_stop (&greeter);
}

//  The same for a plain client's send, which has no call's timeout: it
//  waited for a peer for ever (the bench's window, after its first
//  call). Now at most its send timeout (2000 ms unless told), then
//  SHOAL_ETIMEOUT. Sends until one finds no peer (the greeter's
//  handshake ended ours), each within the send timeout, and at least
//  one must have: SIGALRM ends a hung test.
static void test_send_curve_only_endpoint (void **state)
{
    (void) state;
    greeter_t greeter;
    s_greeter_start (&greeter);
    alarm (120); //  the hang: SIGALRM ends the test
    int timed_out = 0;
    for (int i = 0; i < 600 && !timed_out; i++) {
        client_t *client = client_new (greeter.endpoint);
        assert_non_null (client);
        for (int sent = 0; sent < 50 && !timed_out; sent++) {
            usleep (2000); //  the race's timing, not a wait for a condition
            int64_t started = zclock_mono ();
            int rc = client_send (client, &greeter.request);
            int64_t took = zclock_mono () - started;
            if (rc != 0 && rc != SHOAL_ETIMEOUT)
                fail_msg ("send %d gave %s", i, shoal_strerror (rc));
            if (took > 2000 + 1000)
                fail_msg ("send %d gave up after %d ms", i, (int) took);
            timed_out = rc == SHOAL_ETIMEOUT;
        }
        client_destroy (&client);
    }
    alarm (0);
    assert_int_equal (timed_out, 1);
    s_greeter_stop (&greeter);
}

static int s_window_make (void *arg, size_t index, envelope_t *request, uint8_t *payload,
                          size_t cap)
{
    (void) arg;
    (void) payload;
    (void) cap;
    client_request (request, ENVELOPE_QUERY, NULL, "node/stats", "stats", NULL, 0);
    memset (request->id, 0, ENVELOPE_ID_SIZE);
    memcpy (request->id, &index, sizeof index);
    request->id[ENVELOPE_ID_SIZE - 1] = 1; //  never all zero
    return 0;
}

static int s_window_reply (void *arg, size_t index, const client_reply_t *reply, int64_t us)
{
    (void) arg;
    (void) index;
    (void) reply;
    (void) us;
    return 0;
}

//  The window of requests (the bench's, the demo's) against a node that
//  never lets this client in: its deadline holds within a send timeout
//  (2 s), where each of the window's sends waited one (a window of 64:
//  over two minutes) once the greeter had ended its handshake; SIGALRM
//  ends a hung test.
static void test_window_curve_only_endpoint (void **state)
{
    (void) state;
    greeter_t greeter;
    s_greeter_start (&greeter);
    driver_t driver = {.endpoint = greeter.endpoint,
                       .count = 1000,
                       .window = 64,
                       .resend_ms = 500,
                       .retry_ms = 100,
                       .deadline_ms = 1000,
                       .make = s_window_make,
                       .reply = s_window_reply};
    alarm (60); //  the hang: SIGALRM ends the test
    int64_t started = zclock_mono ();
    assert_int_equal (driver_run (&driver, NULL), SHOAL_ETIMEOUT);
    int64_t took = zclock_mono () - started;
    alarm (0);
    if (took > 1000 + 2000 + 2000)
        fail_msg ("a deadline of 1000 ms ended the window after %d ms", (int) took);
    s_greeter_stop (&greeter);
}

//  A cluster client's call waits for a link within the call's timeout,
//  whatever its send timeout: a node down is waited for 300 ms by a call
//  of 300 ms, with a send timeout of 0 (before: given up at once) or of a
//  minute (before: a minute, the call's timeout ignored).
static void test_call_timeout_cluster (void **state)
{
    (void) state;
    char dir[] = "/tmp/shoal-test-client-XXXXXX";
    assert_non_null (mkdtemp (dir));
    char path[128], cert_path[128], secret_path[136];
    snprintf (path, sizeof path, "%s/cluster.cfg", dir);
    snprintf (cert_path, sizeof cert_path, "%s/client.cert", dir);
    snprintf (secret_path, sizeof secret_path, "%s_secret", cert_path);
    //  One node, whose ipc:// endpoint nobody listens on.
    cluster_t *cluster = cluster_plan_ipc ("down", 1, 4, dir);
    assert_non_null (cluster);
    zcert_t *node = zcert_new (), *cert = zcert_new ();
    assert_int_equal (cluster_set_key (cluster, 0, zcert_public_txt (node)), 0);
    char *error = NULL;
    assert_int_equal (cluster_save (cluster, path, &error), 0);
    assert_int_equal (zcert_save (cert, cert_path), 0);
    assert_int_equal (chmod (secret_path, 0600), 0);
    zcert_destroy (&node);
    zcert_destroy (&cert);
    cluster_destroy (&cluster);
    client_t *client = client_new_cluster (path, NULL, &error);
    if (!client)
        fail_msg ("client_new_cluster: %s", error);
    envelope_t request;
    client_request (&request, ENVELOPE_QUERY, NULL, "node/stats", "stats", NULL, 0);
    static const int send_timeouts[] = {0, 60000};
    for (size_t i = 0; i < 2; i++) {
        client_set_send_timeout (client, send_timeouts[i]);
        client_reply_t reply;
        int64_t started = zclock_mono ();
        assert_int_equal (client_call (client, &request, 300, &reply), SHOAL_ENET);
        int64_t took = zclock_mono () - started;
        if (took < 300 || took > 30000)
            fail_msg ("send timeout %d: a call of 300 ms gave up after %d ms", send_timeouts[i],
                      (int) took);
    }
    client_destroy (&client);
    assert_int_equal (unlink (path), 0);
    assert_int_equal (unlink (cert_path), 0);
    assert_int_equal (unlink (secret_path), 0);
    assert_int_equal (rmdir (dir), 0);
}

//  Sends, on router to the peer whose routing id is peer, a reply whose
//  correlation is id (NULL: nil, as a node answers a frame it could not
//  read) with ok, code and data {"n": n}.
static void s_reply (zsock_t *router, zframe_t *peer, const uint8_t *id, bool ok, const char *code,
                     int n)
{
    uint8_t data[] = {0x81, 0xa1, 'n', (uint8_t) n}, *payload, *frame;
    size_t payload_size, size;
    assert_int_equal (envelope_reply_encode (ok, code, ok ? "" : "why", ok ? data : NULL,
                                             ok ? sizeof data : 0, &payload, &payload_size),
                      0);
    envelope_t reply = {.kind = ENVELOPE_REPLY, .payload = payload, .payload_size = payload_size};
    envelope_new_id (reply.id);
    if (id)
        memcpy (reply.correlation, id, ENVELOPE_ID_SIZE);
    snprintf (reply.name, sizeof reply.name, "%s", id ? "Add" : "error");
    assert_int_equal (envelope_encode (&reply, &frame, &size), 0);
    zframe_t *to = zframe_dup (peer);
    assert_int_equal (zframe_send (&to, router, ZFRAME_MORE), 0);
    assert_int_equal (zmq_send (zsock_resolve (router), frame, size, 0), (int) size);
    free (frame);
    free (payload);
}

//  A reply whose correlation is nil is the node's refusal of a frame it
//  could not read (docs/PROTOCOL.md, "Replies"): one that says ok answers
//  no request, and a call goes on waiting for its own answer (it was
//  taken as the answer: shoal send printed "ok":true for a reply of
//  nobody's). A nil one that refuses is still the answer. The node is a
//  ROUTER of the test's on ipc:// in its own directory; each reply is sent
//  before the call, under the id the call will use, so that it waits on
//  nothing but the socket.
static void test_call_nil_correlation (void **state)
{
    (void) state;
    char dir[] = "/tmp/shoal-test-client-XXXXXX", endpoint[96], path[80];
    assert_non_null (mkdtemp (dir));
    snprintf (path, sizeof path, "%s/node.ipc", dir);
    snprintf (endpoint, sizeof endpoint, "ipc://%s", path);
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    assert_non_null (router);
    zsock_set_rcvtimeo (router, 30000);
    assert_int_equal (zsock_bind (router, "%s", endpoint), 0);
    client_t *client = client_new (endpoint);
    assert_non_null (client);
    //  A first request, for the node to learn the client's routing id.
    envelope_t request;
    client_request (&request, ENVELOPE_COMMAND, NULL, "counter/c", "Add", NULL, 0);
    assert_int_equal (client_send (client, &request), 0);
    zmsg_t *first = zmsg_recv (router);
    assert_non_null (first);
    zframe_t *peer = zmsg_pop (first);
    zmsg_destroy (&first);

    //  A nil ok, then the answer: the answer is taken.
    uint8_t id[ENVELOPE_ID_SIZE];
    envelope_new_id (id);
    client_request (&request, ENVELOPE_COMMAND, id, "counter/c", "Add", NULL, 0);
    s_reply (router, peer, NULL, true, "", 1);
    s_reply (router, peer, id, true, "", 2);
    client_reply_t reply;
    assert_int_equal (client_call (client, &request, 30000, &reply), 0);
    assert_memory_equal (reply.correlation, id, ENVELOPE_ID_SIZE);
    int64_t n = 0;
    assert_int_equal (map_int (reply.data, reply.size, "n", &n), 0);
    assert_int_equal (n, 2);
    client_reply_close (&reply);

    //  A nil refusal: the node could not read our frame; that is the answer.
    envelope_new_id (id);
    client_request (&request, ENVELOPE_COMMAND, id, "counter/c", "Add", NULL, 0);
    s_reply (router, peer, NULL, false, "bad_frame", 0);
    assert_int_equal (client_call (client, &request, 30000, &reply), 0);
    assert_false (reply.ok);
    assert_string_equal (reply.code, "bad_frame");
    client_reply_close (&reply);

    //  A nil ok alone, and another request's answer: no answer of ours.
    envelope_new_id (id);
    client_request (&request, ENVELOPE_COMMAND, id, "counter/c", "Add", NULL, 0);
    uint8_t other[ENVELOPE_ID_SIZE];
    envelope_new_id (other);
    s_reply (router, peer, NULL, true, "", 3);
    s_reply (router, peer, other, true, "", 4);
    assert_int_equal (client_call (client, &request, 1000, &reply), SHOAL_ETIMEOUT);

    zframe_destroy (&peer);
    client_destroy (&client);
    zsock_destroy (&router);
    unlink (path);
    assert_int_equal (rmdir (dir), 0);
}

//  A call through a node that dies with the call's connection in its
//  listen backlog (a crash, a restart: the kernel took the connection,
//  the node never read it), and comes back: the call was given up 100 ms
//  in, "it answers only CURVE clients", for the one handshake that
//  ended; it waits for the node now, and is answered. The dying node is
//  a Unix socket of the test's that takes the connection and closes it;
//  the node back a ROUTER of the test's on the same path. The call runs
//  in a thread of its own.
typedef struct {
    client_t *client;
    envelope_t request;
    client_reply_t reply;
    int rc;
} call_t;

static void *s_call (void *arg)
{
    call_t *call = arg;
    call->rc = client_call (call->client, &call->request, 20000, &call->reply);
    return NULL;
}

static void test_call_through_a_restart (void **state)
{
    (void) state;
    char dir[] = "/tmp/shoal-test-client-XXXXXX", endpoint[128];
    assert_non_null (mkdtemp (dir));
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    snprintf (address.sun_path, sizeof address.sun_path, "%s/node.ipc", dir);
    snprintf (endpoint, sizeof endpoint, "ipc://%s", address.sun_path);
    int listener = socket (AF_UNIX, SOCK_STREAM, 0);
    assert_true (listener >= 0);
    assert_int_equal (bind (listener, (struct sockaddr *) &address, sizeof address), 0);
    assert_int_equal (listen (listener, 8), 0);
    call_t call = {.client = client_new (endpoint)};
    assert_non_null (call.client);
    uint8_t id[ENVELOPE_ID_SIZE];
    envelope_new_id (id);
    client_request (&call.request, ENVELOPE_COMMAND, id, "counter/c", "Add", NULL, 0);
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, s_call, &call), 0);
    //  The node dies: the connection it held, unread, ends.
    int fd = accept (listener, NULL, NULL);
    assert_true (fd >= 0);
    close (fd);
    close (listener);
    unlink (address.sun_path);
    //  Back, on the same path, 500 ms on (the call given up before).
    zclock_sleep (500); //  the time the node takes to come back, not a wait for a condition
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    assert_non_null (router);
    zsock_set_rcvtimeo (router, 20000);
    assert_int_equal (zsock_bind (router, "%s", endpoint), 0);
    zmsg_t *request = zmsg_recv (router);
    assert_non_null (request);
    zframe_t *peer = zmsg_pop (request);
    zmsg_destroy (&request);
    s_reply (router, peer, id, true, "", 7);
    pthread_join (thread, NULL);
    if (call.rc != 0)
        fail_msg ("the call through a node's restart: %s (%s)", shoal_strerror (call.rc),
                  client_no_answer_why (call.client));
    int64_t n = 0;
    assert_int_equal (map_int (call.reply.data, call.reply.size, "n", &n), 0);
    assert_int_equal (n, 7);
    client_reply_close (&call.reply);
    zframe_destroy (&peer);
    client_destroy (&call.client);
    zsock_destroy (&router);
    unlink (address.sun_path);
    assert_int_equal (rmdir (dir), 0);
}

//  client_target: --endpoint, then --cluster, then $SHOAL_ENDPOINT, then
//  $SHOAL_CLUSTER, then the default; exactly one of the two is set.
static void test_target (void **state)
{
    (void) state;
    static const struct {
        const char *endpoint_option, *cluster_option, *env_endpoint, *env_cluster;
        const char *endpoint, *cluster; //  expected
    } cases[] = {
        {NULL, NULL, NULL, NULL, CLIENT_DEFAULT_ENDPOINT, NULL},
        {"ipc://e", "c.cfg", "ipc://env", "env.cfg", "ipc://e", NULL},
        {NULL, "c.cfg", "ipc://env", "env.cfg", NULL, "c.cfg"},
        {NULL, NULL, "ipc://env", "env.cfg", "ipc://env", NULL},
        {NULL, NULL, NULL, "env.cfg", NULL, "env.cfg"},
        {NULL, NULL, "", "env.cfg", NULL, "env.cfg"},
        {"", "", "", "", CLIENT_DEFAULT_ENDPOINT, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].env_endpoint)
            setenv ("SHOAL_ENDPOINT", cases[i].env_endpoint, 1);
        else
            unsetenv ("SHOAL_ENDPOINT");
        if (cases[i].env_cluster)
            setenv ("SHOAL_CLUSTER", cases[i].env_cluster, 1);
        else
            unsetenv ("SHOAL_CLUSTER");
        const char *endpoint = "x", *cluster = "x";
        client_target (cases[i].endpoint_option, cases[i].cluster_option, &endpoint, &cluster);
        if (cases[i].endpoint)
            assert_string_equal (endpoint, cases[i].endpoint);
        else
            assert_null (endpoint);
        if (cases[i].cluster)
            assert_string_equal (cluster, cases[i].cluster);
        else
            assert_null (cluster);
    }
    unsetenv ("SHOAL_ENDPOINT");
    unsetenv ("SHOAL_CLUSTER");
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_fields_map_json),
        cmocka_unit_test (test_fields_rejected),
        cmocka_unit_test (test_fields_json),
        cmocka_unit_test (test_fields_json_rejected),
        cmocka_unit_test (test_fields_json_keys),
        cmocka_unit_test (test_fields_json_integers),
        cmocka_unit_test (test_fields_utf8_rejected),
        cmocka_unit_test (test_fields_keys_quoted),
        cmocka_unit_test (test_json_invalid_utf8),
        cmocka_unit_test (test_ids),
        cmocka_unit_test (test_no_node),
        cmocka_unit_test (test_call_curve_only_endpoint),
        cmocka_unit_test (test_send_curve_only_endpoint),
        cmocka_unit_test (test_window_curve_only_endpoint),
        cmocka_unit_test (test_call_timeout_cluster),
        cmocka_unit_test (test_call_nil_correlation),
        cmocka_unit_test (test_call_through_a_restart),
        cmocka_unit_test (test_target),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
