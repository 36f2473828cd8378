/*  projections_test_util.c - what test_projections_*.c share (projections_test_util.h says what
 * each is).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "client.h"
#include "journal.h"
#include "proc.h"

#include <leveldb/c.h>
#include <msgpack.h>

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "projections_test_util.h"

int projections_setup (void **state)
{
    *state = proc_new ("test-proj");
    return 0;
}

int projections_teardown (void **state)
{
    proc_t *p = *state;
    proc_destroy (&p);
    return 0;
}

void projections_send_many (proc_t *p, const char *command, int first, int count, int spread)
{
    client_t *client = client_new (p->endpoint);
    assert_non_null (client);
    int sent = 0, answered = 0;
    while (answered < count) {
        while (sent < count && sent - answered < 100) {
            char address[32], field[32];
            int n = first + sent;
            snprintf (address, sizeof address, "item/i%d", n % spread);
            snprintf (field, sizeof field, "by=%d", n);
            char *argv[] = {field};
            uint8_t *payload = NULL;
            size_t size = 0;
            char error[128];
            assert_int_equal (client_fields (1, argv, &payload, &size, error, sizeof error), 0);
            envelope_t request;
            client_request (&request, ENVELOPE_COMMAND, NULL, address, command, payload, size);
            assert_int_equal (client_send (client, &request), 0);
            free (payload);
            sent++;
        }
        client_reply_t reply;
        int rc = client_recv (client, 20000, &reply);
        assert_int_equal (rc, 0);
        if (!reply.ok)
            fail_msg ("%s refused: %s: %s", command, reply.code, reply.reason);
        client_reply_close (&reply);
        answered++;
    }
    client_destroy (&client);
}

void projections_query (proc_t *p, const char *name, client_reply_t *reply, int argc, char **argv)
{
    client_t *client = client_new (p->endpoint);
    assert_non_null (client);
    uint8_t *payload = NULL;
    size_t size = 0;
    char error[128];
    assert_int_equal (client_fields (argc, argv, &payload, &size, error, sizeof error), 0);
    envelope_t request;
    client_request (&request, ENVELOPE_QUERY, NULL, "node/projections", name, payload, size);
    assert_int_equal (client_call (client, &request, 20000, reply), 0);
    free (payload);
    client_destroy (&client);
}

int64_t projections_int (const msgpack_object *map, const char *key)
{
    int64_t value = -1;
    map_find_int (map, key, &value);
    return value;
}

build_info_t projections_build (proc_t *p, const char *name, int64_t version)
{
    client_reply_t reply;
    projections_query (p, "projections", &reply, 0, NULL);
    assert_true (reply.ok);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *map = map_unpack (&unpacked, reply.data, reply.size);
    const msgpack_object *list = map ? map_find (map, "projections") : NULL;
    assert_non_null (list);
    build_info_t info = {0};
    for (uint32_t i = 0; i < list->via.array.size; i++) {
        const msgpack_object *item = &list->via.array.ptr[i];
        char item_name[64];
        const msgpack_object *served = map_find (item, "served");
        bool is_served = served && served->type == MSGPACK_OBJECT_BOOLEAN && served->via.boolean;
        if (map_find_str (item, "name", item_name, sizeof item_name) != 0 ||
            strcmp (item_name, name) != 0)
            continue;
        if (version ? projections_int (item, "version") != version : !is_served)
            continue;
        if (info.found && projections_int (item, "build") < info.build)
            continue;
        info.found = true;
        info.served = is_served;
        info.version = projections_int (item, "version");
        info.build = projections_int (item, "build");
        info.position = projections_int (item, "position");
        info.lag = projections_int (item, "lag");
        info.applied = projections_int (item, "applied");
        info.skipped = projections_int (item, "skipped");
        info.error_position = projections_int (item, "error_position");
        info.sends = projections_int (item, "sends");
        map_find_str (item, "status", info.status, sizeof info.status);
        map_find_str (item, "error", info.error, sizeof info.error);
    }
    msgpack_unpacked_destroy (&unpacked);
    client_reply_close (&reply);
    return info;
}

build_info_t projections_wait_status (proc_t *p, const char *name, int64_t version,
                                      const char *status)
{
    int64_t deadline = proc_now_ms () + WAIT_MS;
    build_info_t info;
    do {
        info = projections_build (p, name, version);
        if (info.found && strcmp (info.status, status) == 0 &&
            (strcmp (status, "live") != 0 || info.lag == 0))
            return info;
        usleep (20 * 1000);
    } while (proc_now_ms () < deadline);
    fail_msg ("%s@%" PRId64 " never became %s (last: %s, lag %" PRId64 ")", name, version, status,
              info.found ? info.status : "absent", info.lag);
    return info;
}

build_info_t projections_wait_served (proc_t *p, const char *name, int64_t build)
{
    int64_t deadline = proc_now_ms () + WAIT_MS;
    build_info_t info;
    do {
        info = projections_build (p, name, 0);
        if (info.found && info.build == build && info.lag == 0)
            return info;
        usleep (10 * 1000); //  between two asks, within the deadline
    } while (proc_now_ms () < deadline);
    fail_msg ("%s never served build %" PRId64 " caught up (last: build %" PRId64 ", lag %" PRId64
              ")",
              name, build, info.build, info.lag);
    return info;
}

void projections_control (proc_t *p, const char *action, const char *name, int64_t version,
                          int64_t position, const char *expect_code)
{
    char fields[4][64];
    snprintf (fields[0], sizeof fields[0], "action=%s", action);
    snprintf (fields[1], sizeof fields[1], "name=%s", name);
    snprintf (fields[2], sizeof fields[2], "version=%" PRId64, version);
    snprintf (fields[3], sizeof fields[3], "position=%" PRId64, position);
    char *argv[] = {fields[0], fields[1], fields[2], fields[3]};
    client_reply_t reply;
    projections_query (p, "projection_control", &reply, position >= 0 ? 4 : 3, argv);
    if (expect_code) {
        assert_false (reply.ok);
        assert_string_equal (reply.code, expect_code);
    } else if (!reply.ok)
        fail_msg ("%s %s@%" PRId64 " refused: %s: %s", action, name, version, reply.code,
                  reply.reason);
    client_reply_close (&reply);
}

void projections_rows (proc_t *p, const char *name, int64_t version, char *text, size_t size,
                       char *code)
{
    char fields[3][64];
    snprintf (fields[0], sizeof fields[0], "name=%s", name);
    snprintf (fields[1], sizeof fields[1], "version=%" PRId64, version);
    snprintf (fields[2], sizeof fields[2], "limit=10000");
    char *argv[] = {fields[0], fields[1], fields[2]};
    client_reply_t reply;
    projections_query (p, "projection_rows", &reply, 3, argv);
    text[0] = 0;
    code[0] = 0;
    if (!reply.ok) {
        snprintf (code, 64, "%s", reply.code);
        client_reply_close (&reply);
        return;
    }
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *map = map_unpack (&unpacked, reply.data, reply.size);
    const msgpack_object *rows = map ? map_find (map, "rows") : NULL;
    assert_non_null (rows);
    size_t used = 0;
    for (uint32_t i = 0; i < rows->via.array.size; i++) {
        const msgpack_object *item = &rows->via.array.ptr[i];
        const msgpack_object *row = map_find (item, "row");
        char key[64];
        assert_int_equal (map_find_str (item, "key", key, sizeof key), 0);
        int n = snprintf (text + used, size - used,
                          "%s times=%" PRId64 " events=%" PRId64 " sum=%" PRId64 " version=%" PRId64
                          "\n",
                          key, projections_int (row, "times"), projections_int (row, "events"),
                          projections_int (row, "sum"), projections_int (row, "version"));
        assert_true (n > 0 && (size_t) n < size - used);
        used += (size_t) n;
    }
    msgpack_unpacked_destroy (&unpacked);
    client_reply_close (&reply);
}

int projections_count (const char *text, const char *needle)
{
    int count = 0;
    for (const char *at = strstr (text, needle); at; at = strstr (at + 1, needle))
        count++;
    return count;
}

void projections_assert_each_once (const char *rows, int events)
{
    assert_int_equal (projections_count (rows, "seen/"), events);
    assert_int_equal (projections_count (rows, "times=1 "), events);
    char total[64];
    snprintf (total, sizeof total, "total times=-1 events=%d ", events);
    if (!strstr (rows, total))
        fail_msg ("expected '%s' in the rows", total);
}
