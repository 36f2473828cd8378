/*  test_envelope_reply.c - replies encoded and decoded (key order, invalid ones,
    reasons in UTF-8) and new ids unique across threads and forks.
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
//  Reply payloads

typedef struct {
    bool ok;
    char code[ENVELOPE_CODE_MAX + 1];
    char reason[ENVELOPE_REASON_MAX + 1];
    const uint8_t *data;
    size_t data_size;
} s_reply_t;

static int s_reply_decode (const uint8_t *bytes, size_t size, s_reply_t *reply)
{
    return envelope_reply_decode (bytes, size, &reply->ok, reply->code, reply->reason, &reply->data,
                                  &reply->data_size);
}

static int s_reply_decode_copy (const uint8_t *bytes, size_t size)
{
    uint8_t *copy = harness_copy (bytes, size);
    s_reply_t reply;
    int rc = s_reply_decode (copy, size, &reply);
    free (copy);
    return rc;
}

static void test_reply_roundtrip (void **state)
{
    char code[ENVELOPE_CODE_MAX + 1];
    char reason[ENVELOPE_REASON_MAX + 1];
    memset (code, 'c', ENVELOPE_CODE_MAX);
    code[ENVELOPE_CODE_MAX] = 0;
    memset (reason, 'r', ENVELOPE_REASON_MAX);
    reason[ENVELOPE_REASON_MAX] = 0;
    size_t data_size;
    uint8_t *data = envelope_payload (&data_size);

    uint8_t *payload;
    size_t size;
    assert_int_equal (envelope_reply_encode (false, code, reason, data, data_size, &payload, &size),
                      0);
    assert_int_equal (envelope_check_msgpack (payload, size), 0);
    s_reply_t reply;
    assert_int_equal (s_reply_decode (payload, size, &reply), 0);
    assert_false (reply.ok);
    assert_string_equal (reply.code, code);
    assert_string_equal (reply.reason, reason);
    assert_int_equal (reply.data_size, data_size);
    assert_memory_equal (reply.data, data, data_size);
    free (payload);

    //  A reason past ENVELOPE_REASON_MAX is cut to it, a character it
    //  cuts in two dropped (it was refused, and a worker that built one
    //  from a long cause answered nothing).
    char long_reason[600];
    memset (long_reason, 'r', sizeof long_reason - 1);
    memcpy (long_reason + ENVELOPE_REASON_MAX - 1, "\xc3\xa9", 2); //  é across the cut
    long_reason[sizeof long_reason - 1] = 0;
    assert_int_equal (
        envelope_reply_encode (false, "unavailable", long_reason, NULL, 0, &payload, &size), 0);
    assert_int_equal (s_reply_decode (payload, size, &reply), 0);
    assert_int_equal (strlen (reply.reason), ENVELOPE_REASON_MAX - 1);
    assert_memory_equal (reply.reason, long_reason, ENVELOPE_REASON_MAX - 1);
    free (payload);

    assert_int_equal (envelope_reply_encode (true, "", "", NULL, 0, &payload, &size), 0);
    assert_int_equal (s_reply_decode (payload, size, &reply), 0);
    assert_true (reply.ok);
    assert_string_equal (reply.code, "");
    assert_int_equal (reply.data_size, 1);
    assert_int_equal (reply.data[0], 0x80);
    free (payload);
    free (data);
}

//  One key and value of a hand-built reply map; a NULL key is written as
//  the integer 1.
typedef struct {
    const char *key;
    envelope_pack_fn *value;
} s_entry_t;

static void p_false (msgpack_packer *pk)
{
    msgpack_pack_false (pk);
}

static void p_code (msgpack_packer *pk)
{
    msgpack_pack_str_with_body (pk, "nope", 4);
}

static void p_code_64 (msgpack_packer *pk)
{
    char s[ENVELOPE_CODE_MAX + 1];
    memset (s, 'c', sizeof s);
    msgpack_pack_str_with_body (pk, s, sizeof s);
}

static void p_reason_256 (msgpack_packer *pk)
{
    char s[ENVELOPE_REASON_MAX + 1];
    memset (s, 'r', sizeof s);
    msgpack_pack_str_with_body (pk, s, sizeof s);
}

static void p_str_nul (msgpack_packer *pk)
{
    msgpack_pack_str_with_body (pk, "a\0b", 3);
}

static void p_data (msgpack_packer *pk)
{
    msgpack_pack_map (pk, 1);
    msgpack_pack_str_with_body (pk, "n", 1);
    msgpack_pack_int (pk, 7);
}

static uint8_t *s_reply_map (const s_entry_t *entries, size_t count, size_t *size)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, count);
    for (size_t i = 0; i < count; i++) {
        if (entries[i].key)
            msgpack_pack_str_with_body (&pk, entries[i].key, strlen (entries[i].key));
        else
            msgpack_pack_int (&pk, 1);
        entries[i].value (&pk);
    }
    return harness_take (&sbuf, size);
}

static void test_reply_key_order (void **state)
{
    const s_entry_t reversed[] = {
        {"data", p_data}, {"reason", p_str_one}, {"code", p_code}, {"ok", p_false}};
    size_t size;
    uint8_t *bytes = s_reply_map (reversed, 4, &size);
    s_reply_t reply;
    assert_int_equal (s_reply_decode (bytes, size, &reply), 0);
    assert_false (reply.ok);
    assert_string_equal (reply.code, "nope");
    assert_string_equal (reply.reason, "1");
    assert_int_equal (reply.data_size, 4);
    assert_memory_equal (reply.data, "\x81\xa1n\x07", 4);
    free (bytes);

    //  An unknown key is skipped, whatever its value.
    const s_entry_t extra[] = {{"ok", p_true},
                               {"trace", p_array_one},
                               {"code", p_str_empty},
                               {"reason", p_str_empty},
                               {"data", p_map_empty}};
    bytes = s_reply_map (extra, 5, &size);
    assert_int_equal (s_reply_decode (bytes, size, &reply), 0);
    assert_true (reply.ok);
    free (bytes);
}

static void test_reply_decode_invalid (void **state)
{
    static const struct {
        s_entry_t entries[5];
        size_t count;
    } cases[] = {
        //  missing keys
        {{{"ok", p_true}, {"code", p_str_empty}, {"reason", p_str_empty}}, 3},
        {{{"code", p_str_empty}, {"reason", p_str_empty}, {"data", p_map_empty}}, 3},
        //  a key twice
        {{{"ok", p_true},
          {"code", p_str_empty},
          {"reason", p_str_empty},
          {"data", p_map_empty},
          {"ok", p_true}},
         5},
        //  wrong types
        {{{"ok", p_zero}, {"code", p_str_empty}, {"reason", p_str_empty}, {"data", p_map_empty}},
         4},
        {{{"ok", p_false}, {"code", p_bin_15}, {"reason", p_str_empty}, {"data", p_map_empty}}, 4},
        {{{"ok", p_false}, {"code", p_code}, {"reason", p_nil}, {"data", p_map_empty}}, 4},
        {{{"ok", p_true}, {"code", p_str_empty}, {"reason", p_str_empty}, {"data", p_array_one}},
         4},
        {{{"ok", p_true}, {"code", p_str_empty}, {"reason", p_str_empty}, {"data", p_nil}}, 4},
        {{{"ok", p_true}, {"code", p_str_empty}, {"reason", p_str_empty}, {NULL, p_map_empty}}, 4},
        //  lengths and contents
        {{{"ok", p_false}, {"code", p_code_64}, {"reason", p_str_empty}, {"data", p_map_empty}}, 4},
        {{{"ok", p_false}, {"code", p_code}, {"reason", p_reason_256}, {"data", p_map_empty}}, 4},
        {{{"ok", p_false}, {"code", p_str_nul}, {"reason", p_str_empty}, {"data", p_map_empty}}, 4},
        {{{"ok", p_false}, {"code", p_code}, {"reason", p_str_nul}, {"data", p_map_empty}}, 4},
        //  ok with a code, or a rejection without one
        {{{"ok", p_true}, {"code", p_code}, {"reason", p_str_empty}, {"data", p_map_empty}}, 4},
        {{{"ok", p_true}, {"code", p_str_empty}, {"reason", p_str_one}, {"data", p_map_empty}}, 4},
        {{{"ok", p_false}, {"code", p_str_empty}, {"reason", p_str_one}, {"data", p_map_empty}}, 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t size;
        uint8_t *bytes = s_reply_map (cases[i].entries, cases[i].count, &size);
        int rc = s_reply_decode_copy (bytes, size);
        if (rc != SHOAL_EFORMAT)
            print_error ("reply case %zu: %d\n", i, rc);
        assert_int_equal (rc, SHOAL_EFORMAT);
        free (bytes);
    }

    uint8_t *payload;
    size_t size;
    assert_int_equal (envelope_reply_encode (false, "no", "why", NULL, 0, &payload, &size), 0);
    for (size_t cut = 0; cut < size; cut++)
        assert_int_equal (s_reply_decode_copy (payload, cut), SHOAL_EFORMAT);
    uint8_t *longer = malloc (size + 1);
    assert_non_null (longer);
    memcpy (longer, payload, size);
    longer[size] = 0;
    assert_int_equal (s_reply_decode_copy (longer, size + 1), SHOAL_EFORMAT);
    free (longer);
    free (payload);
    assert_int_equal (s_reply_decode_copy ((const uint8_t *) "\x90", 1), SHOAL_EFORMAT);
    assert_int_equal (s_reply_decode_copy ((const uint8_t *) "\x80", 1), SHOAL_EFORMAT);
}

static void test_reply_encode_invalid (void **state)
{
    uint8_t *payload = NULL;
    size_t size;
    char long_code[ENVELOPE_CODE_MAX + 2];
    memset (long_code, 'c', sizeof long_code - 1);
    long_code[sizeof long_code - 1] = 0;
    uint8_t array[] = {0x90};
    uint8_t truncated[] = {0x81, 0xa1};

    assert_int_equal (envelope_reply_encode (true, "x", NULL, NULL, 0, &payload, &size),
                      SHOAL_EINVAL);
    assert_int_equal (envelope_reply_encode (true, NULL, "why", NULL, 0, &payload, &size),
                      SHOAL_EINVAL);
    assert_int_equal (envelope_reply_encode (false, NULL, "why", NULL, 0, &payload, &size),
                      SHOAL_EINVAL);
    assert_int_equal (envelope_reply_encode (false, "", NULL, NULL, 0, &payload, &size),
                      SHOAL_EINVAL);
    assert_int_equal (envelope_reply_encode (false, long_code, NULL, NULL, 0, &payload, &size),
                      SHOAL_EINVAL);
    //  (A reason too long is cut, not refused: test_reply_roundtrip.)
    //  A code is a word: no space, control byte or byte past ASCII.
    const char *not_codes[] = {"a b", "a\nb", "a\xff", "caf\xc3\xa9"};
    for (size_t i = 0; i < sizeof not_codes / sizeof not_codes[0]; i++)
        assert_int_equal (
            envelope_reply_encode (false, not_codes[i], "why", NULL, 0, &payload, &size),
            SHOAL_EINVAL);
    assert_int_equal (envelope_reply_encode (true, NULL, NULL, array, 1, &payload, &size),
                      SHOAL_EINVAL);
    assert_int_equal (envelope_reply_encode (true, NULL, NULL, truncated, 2, &payload, &size),
                      SHOAL_EINVAL);
    assert_int_equal (envelope_reply_encode (true, NULL, NULL, NULL, 3, &payload, &size),
                      SHOAL_EINVAL);
    assert_null (payload);
}

//  Encodes a rejection with reason, decodes it and returns its reason in
//  out (ENVELOPE_REASON_MAX + 1 bytes), checked to be UTF-8.
static const char *s_reason_sent (const char *reason, char *out)
{
    uint8_t *payload;
    size_t size;
    assert_int_equal (envelope_reply_encode (false, "no", reason, NULL, 0, &payload, &size), 0);
    bool ok = true;
    char code[ENVELOPE_CODE_MAX + 1];
    const uint8_t *data;
    size_t data_size;
    assert_int_equal (envelope_reply_decode (payload, size, &ok, code, out, &data, &data_size), 0);
    assert_false (ok);
    assert_string_equal (code, "no");
    assert_int_equal (utf8_valid_prefix (out, strlen (out)), strlen (out));
    free (payload);
    return out;
}

//  A reason leaves as UTF-8 whatever it holds: one cut at
//  ENVELOPE_REASON_MAX bytes in the middle of a character (as snprintf
//  cuts, and as a saga's id_reused reason quoting 200-byte ids of 'é' was
//  sent, ending in 0xc3) loses that character's first bytes; a byte that
//  is not UTF-8 becomes '?'.
static void test_reply_reason_utf8 (void **state)
{
    char reason[ENVELOPE_REASON_MAX + 1], out[ENVELOPE_REASON_MAX + 1];
    for (size_t i = 0; i + 2 <= ENVELOPE_REASON_MAX; i += 2)
        memcpy (reason + i, "\xc3\xa9", 2);
    reason[ENVELOPE_REASON_MAX - 1] = '\xc3'; //  255 bytes: 127 'é' and half of one
    reason[ENVELOPE_REASON_MAX] = 0;
    s_reason_sent (reason, out);
    assert_int_equal (strlen (out), ENVELOPE_REASON_MAX - 1);
    assert_memory_equal (out, reason, ENVELOPE_REASON_MAX - 1);

    assert_string_equal (s_reason_sent ("euro \xe2\x82", out), "euro ");
    assert_string_equal (s_reason_sent ("four \xf0\x9f\x98", out), "four ");
    assert_string_equal (s_reason_sent ("a\xff b\xc3(\xc3\xa9", out), "a? b?(\xc3\xa9");
    assert_string_equal (s_reason_sent ("\xed\xa0\x80 surrogate", out), "??? surrogate");
    assert_string_equal (s_reason_sent ("\x80\x80", out), "??");
    assert_string_equal (s_reason_sent ("plain", out), "plain");
}

//  --------------------------------------------------------------------------
//  Message ids

static int s_id_compare (const void *a, const void *b)
{
    return memcmp (a, b, ENVELOPE_ID_SIZE);
}

//  Sorts count ids and returns true if no two are equal.
static bool s_ids_unique (uint8_t (*ids)[ENVELOPE_ID_SIZE], size_t count)
{
    qsort (ids, count, ENVELOPE_ID_SIZE, s_id_compare);
    for (size_t i = 1; i < count; i++)
        if (memcmp (ids[i - 1], ids[i], ENVELOPE_ID_SIZE) == 0)
            return false;
    return true;
}

static void test_new_id_unique (void **state)
{
    size_t count = 100000;
    uint8_t (*ids)[ENVELOPE_ID_SIZE] = malloc (count * ENVELOPE_ID_SIZE);
    assert_non_null (ids);
    size_t ones = 0;
    for (size_t i = 0; i < count; i++) {
        envelope_new_id (ids[i]);
        for (int b = 0; b < ENVELOPE_ID_SIZE; b++)
            ones += (size_t) __builtin_popcount (ids[i][b]);
    }
    //  Half the bits are set, within 0.5% of 12.8 million.
    size_t bits = count * ENVELOPE_ID_SIZE * 8;
    assert_true (ones > bits / 2 - bits / 200 && ones < bits / 2 + bits / 200);
    assert_true (s_ids_unique (ids, count));
    free (ids);
}

#define ID_THREADS 4

#define IDS_PER_THREAD 20000

static void *s_id_thread (void *arg)
{
    uint8_t (*ids)[ENVELOPE_ID_SIZE] = arg;
    for (size_t i = 0; i < IDS_PER_THREAD; i++)
        envelope_new_id (ids[i]);
    return NULL;
}

static void test_new_id_threads (void **state)
{
    uint8_t (*ids)[ENVELOPE_ID_SIZE] = malloc (ID_THREADS * IDS_PER_THREAD * ENVELOPE_ID_SIZE);
    assert_non_null (ids);
    pthread_t threads[ID_THREADS];
    for (size_t t = 0; t < ID_THREADS; t++)
        assert_int_equal (pthread_create (&threads[t], NULL, s_id_thread, ids + t * IDS_PER_THREAD),
                          0);
    for (size_t t = 0; t < ID_THREADS; t++)
        assert_int_equal (pthread_join (threads[t], NULL), 0);
    assert_true (s_ids_unique (ids, ID_THREADS * IDS_PER_THREAD));
    free (ids);
}

//  A forked child must not hand out the ids its parent still holds.
static void test_new_id_fork (void **state)
{
    uint8_t first[ENVELOPE_ID_SIZE];
    envelope_new_id (first);
    int pipe_fds[2];
    assert_int_equal (pipe (pipe_fds), 0);
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        uint8_t child[ENVELOPE_ID_SIZE];
        envelope_new_id (child);
        ssize_t n = write (pipe_fds[1], child, sizeof child);
        _exit (n == (ssize_t) sizeof child ? 0 : 1);
    }
    close (pipe_fds[1]);
    uint8_t child[ENVELOPE_ID_SIZE];
    assert_int_equal (read (pipe_fds[0], child, sizeof child), sizeof child);
    close (pipe_fds[0]);
    int status;
    assert_int_equal (waitpid (pid, &status, 0), pid);
    assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    for (int i = 0; i < 1024 / ENVELOPE_ID_SIZE + 1; i++) {
        uint8_t parent[ENVELOPE_ID_SIZE];
        envelope_new_id (parent);
        assert_memory_not_equal (parent, child, ENVELOPE_ID_SIZE);
    }
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_reply_roundtrip),      cmocka_unit_test (test_reply_key_order),
        cmocka_unit_test (test_reply_decode_invalid), cmocka_unit_test (test_reply_encode_invalid),
        cmocka_unit_test (test_reply_reason_utf8),    cmocka_unit_test (test_new_id_unique),
        cmocka_unit_test (test_new_id_threads),       cmocka_unit_test (test_new_id_fork),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
