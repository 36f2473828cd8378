/*  node_test_util.c - what test_node_*.c share (node_test_util.h says what each is).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "client.h"
#include "node_child.h"
#include "client_window.h"
#include "harness.h"
#include "json.h"
#include "journal.h"
#include "node.h"

#include <czmq.h>
#include <msgpack.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "node_test_util.h"

int node_setup (void **state)
{
    fixture_t *fx = calloc (1, sizeof (fixture_t));
    assert_non_null (fx);
    harness_tempdir (fx->dir, sizeof fx->dir, "test-node");
    snprintf (fx->data, sizeof fx->data, "%s/data", fx->dir);
    snprintf (fx->log, sizeof fx->log, "%s/node.log", fx->dir);
    snprintf (fx->endpoint, sizeof fx->endpoint, "ipc://%s/node.ipc", fx->dir);
    *state = fx;
    return 0;
}

int node_teardown (void **state)
{
    fixture_t *fx = *state;
    client_destroy (&fx->client);
    node_child_stop (&fx->node, SIGKILL);
    harness_rm_rf (fx->dir);
    free (fx);
    return 0;
}

const char *node_bin (void)
{
    const char *bin = getenv ("SHOAL_BIN");
    assert_non_null (bin);
    return bin;
}

void node_dump_log (const fixture_t *fx)
{
    harness_print_file (fx->log, "node: ");
}

void node_start (fixture_t *fx, ...)
{
    node_child_args_t extra = {.argv = {"--workers", "2"}};
    size_t count = 2, max = sizeof extra.argv / sizeof extra.argv[0] - 1;
    va_list args;
    va_start (args, fx);
    const char *arg;
    while ((arg = va_arg (args, const char *)) && count < max)
        extra.argv[count++] = (char *) arg;
    va_end (args);
    int rc = node_child_start (&fx->node, node_bin (), fx->data, fx->endpoint, extra.argv, fx->log,
                               START_TIMEOUT_MS);
    if (rc)
        node_dump_log (fx);
    assert_int_equal (rc, 0);
    assert_string_equal (fx->node.endpoint, fx->endpoint);
    fx->client = client_new (fx->node.endpoint);
    assert_non_null (fx->client);
}

void node_stop (fixture_t *fx, int sig)
{
    client_destroy (&fx->client);
    int status = node_child_stop (&fx->node, sig);
    if (sig == SIGKILL)
        assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);
    else
        assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
}

void node_restart (fixture_t *fx, int sig, const char *a, const char *b, const char *c,
                   const char *d)
{
    node_stop (fx, sig);
    node_start (fx, a, b, c, d, NULL);
}

//  --------------------------------------------------------------------------
//  Requests

//  Sends a request with the "k=v" fields (NULL-terminated) and waits for
//  its reply, which the caller closes. id NULL = random.
static void s_call_v (client_t *client, envelope_kind_t kind, const uint8_t *id, const char *to,
                      const char *name, client_reply_t *reply, va_list args)
{
    char *fields[MAX_FIELDS];
    int count = 0;
    const char *field;
    while ((field = va_arg (args, const char *))) {
        assert_true (count < MAX_FIELDS);
        fields[count++] = (char *) field;
    }
    uint8_t *payload;
    size_t size;
    char error[256];
    assert_int_equal (client_fields (count, fields, &payload, &size, error, sizeof error), 0);
    envelope_t request;
    client_request (&request, kind, id, to, name, payload, size);
    int rc = client_call (client, &request, CALL_TIMEOUT_MS, reply);
    free (payload);
    assert_int_equal (rc, 0);
    assert_memory_equal (reply->correlation, request.id, ENVELOPE_ID_SIZE);
}

void node_call (client_t *client, envelope_kind_t kind, const uint8_t *id, const char *to,
                const char *name, client_reply_t *reply, ...)
{
    va_list args;
    va_start (args, reply);
    s_call_v (client, kind, id, to, name, reply, args);
    va_end (args);
}

int64_t node_ok (fixture_t *fx, const char *to, const char *name, ...)
{
    client_reply_t reply;
    va_list args;
    va_start (args, name);
    s_call_v (fx->client, ENVELOPE_COMMAND, NULL, to, name, &reply, args);
    va_end (args);
    if (!reply.ok)
        print_error ("%s %s rejected: %s: %s\n", to, name, reply.code, reply.reason);
    assert_true (reply.ok);
    int64_t balance;
    if (map_int (reply.data, reply.size, "balance", &balance) != 0)
        balance = INT64_MIN;
    client_reply_close (&reply);
    return balance;
}

void node_rejected (fixture_t *fx, const char *code, const char *to, const char *name, ...)
{
    client_reply_t reply;
    va_list args;
    va_start (args, name);
    s_call_v (fx->client, ENVELOPE_COMMAND, NULL, to, name, &reply, args);
    va_end (args);
    if (reply.ok || strcmp (reply.code, code) != 0)
        print_error ("%s %s: expected %s, got ok=%d code '%s'\n", to, name, code, reply.ok,
                     reply.code);
    assert_false (reply.ok);
    assert_string_equal (reply.code, code);
    assert_true (strlen (reply.reason) > 0);
    client_reply_close (&reply);
}

void node_get (fixture_t *fx, const char *address, int64_t *version, int64_t *balance, char *status,
               size_t status_size)
{
    client_reply_t reply;
    node_call (fx->client, ENVELOPE_QUERY, NULL, address, "get", &reply, NULL);
    if (!reply.ok)
        print_error ("get %s: %s: %s\n", address, reply.code, reply.reason);
    assert_true (reply.ok);
    char echoed[SHOAL_ADDRESS_MAX + 1];
    assert_int_equal (map_str (reply.data, reply.size, "address", echoed, sizeof echoed), 0);
    assert_string_equal (echoed, address);
    if (version)
        assert_int_equal (map_int (reply.data, reply.size, "version", version), 0);
    if (balance)
        assert_int_equal (reply_state_int (&reply, "balance", balance), 0);
    if (status)
        assert_int_equal (reply_state_str (&reply, "status", status, status_size), 0);
    client_reply_close (&reply);
}

int64_t node_stat (fixture_t *fx, const char *name)
{
    client_reply_t reply;
    node_call (fx->client, ENVELOPE_QUERY, NULL, "node/stats", "stats", &reply, NULL);
    assert_true (reply.ok);
    int64_t value = -1;
    assert_int_equal (map_int (reply.data, reply.size, name, &value), 0);
    client_reply_close (&reply);
    return value;
}

const msgpack_object *node_find (msgpack_unpacked *unpacked, const uint8_t *data, size_t size,
                                 const char *key)
{
    size_t offset = 0;
    if (msgpack_unpack_next (unpacked, (const char *) data, size, &offset) !=
            MSGPACK_UNPACK_SUCCESS ||
        unpacked->data.type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < unpacked->data.via.map.size; i++) {
        const msgpack_object_kv *kv = &unpacked->data.via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen (key) &&
            memcmp (kv->key.via.str.ptr, key, strlen (key)) == 0)
            return &kv->val;
    }
    return NULL;
}

int64_t node_events (fixture_t *fx, const char *address)
{
    int64_t count = 0;
    while (true) {
        char from[48];
        snprintf (from, sizeof from, "from=%lld", (long long) count + 1);
        client_reply_t reply;
        node_call (fx->client, ENVELOPE_QUERY, NULL, address, "events", &reply, from, NULL);
        assert_true (reply.ok);
        msgpack_unpacked unpacked;
        msgpack_unpacked_init (&unpacked);
        const msgpack_object *events = node_find (&unpacked, reply.data, reply.size, "events");
        assert_non_null (events);
        assert_int_equal (events->type, MSGPACK_OBJECT_ARRAY);
        uint32_t page = events->via.array.size;
        for (uint32_t i = 0; i < page; i++) {
            const msgpack_object *event = &events->via.array.ptr[i];
            assert_int_equal (event->type, MSGPACK_OBJECT_MAP);
            bool seq_seen = false;
            for (uint32_t f = 0; f < event->via.map.size; f++) {
                const msgpack_object_kv *kv = &event->via.map.ptr[f];
                if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 3 &&
                    memcmp (kv->key.via.str.ptr, "seq", 3) == 0) {
                    assert_int_equal (kv->val.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
                    assert_int_equal (kv->val.via.u64, (uint64_t) (count + 1 + i));
                    seq_seen = true;
                }
            }
            assert_true (seq_seen);
        }
        msgpack_unpacked_destroy (&unpacked);
        client_reply_close (&reply);
        if (page == 0)
            return count;
        count += page;
    }
}

char *node_json (const uint8_t *data, size_t size)
{
    char *text = NULL;
    size_t length = 0;
    FILE *file = open_memstream (&text, &length);
    assert_non_null (file);
    assert_int_equal (json_write (file, data, size), 0);
    fclose (file);
    return text;
}

int node_run (fixture_t *fx, char *out, char *err, const char *format, ...)
{
    char command[2048];
    va_list args;
    va_start (args, format);
    int length = vsnprintf (command, sizeof command, format, args);
    va_end (args);
    assert_true (length > 0 && (size_t) length < sizeof command - 300);
    char out_path[128], err_path[128];
    snprintf (out_path, sizeof out_path, "%s/run.out", fx->dir);
    snprintf (err_path, sizeof err_path, "%s/run.err", fx->dir);
    snprintf (command + length, sizeof command - (size_t) length, " >'%s' 2>'%s'", out_path,
              err_path);
    int status = system (command);
    char *buffers[2] = {out, err};
    const char *paths[2] = {out_path, err_path};
    for (int i = 0; i < 2; i++) {
        if (!buffers[i])
            continue;
        FILE *file = fopen (paths[i], "r");
        assert_non_null (file);
        size_t n = fread (buffers[i], 1, OUTPUT_MAX - 1, file);
        buffers[i][n] = 0;
        fclose (file);
    }
    return status != -1 && WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

books_t node_books (fixture_t *fx, const char *address)
{
    books_t books;
    node_get (fx, address, &books.version, &books.balance, NULL, 0);
    books.events = node_events (fx, address);
    assert_int_equal (books.events, books.version);
    return books;
}

void node_same_books (fixture_t *fx, const char *address, books_t expected)
{
    books_t books = node_books (fx, address);
    assert_int_equal (books.version, expected.version);
    assert_int_equal (books.balance, expected.balance);
    assert_int_equal (books.events, expected.events);
}
