/*  bank_projections_test_util.c - what test_bank_projections_*.c share
 * (bank_projections_test_util.h says what each is).
 */
#include "bank.h"
#include "harness.h"
#include "bank_projections.h"
#include "books.h"
#include "client_window.h"

#include <czmq.h>
#include <msgpack.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "bank_projections_test_util.h"

int bank_projections_setup (void **state)
{
    fixture_t *f = calloc (1, sizeof (fixture_t));
    harness_tempdir (f->dir, sizeof f->dir, "test-bankproj");
    snprintf (f->data, sizeof f->data, "%s/data", f->dir);
    snprintf (f->endpoint, sizeof f->endpoint, "ipc://%s/node.ipc", f->dir);
    *state = f;
    return 0;
}

int bank_projections_teardown (void **state)
{
    fixture_t *f = *state;
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGKILL);
    assert_int_equal (bench_remove_tree (f->dir), 0);
    free (f);
    return 0;
}

void bank_projections_start (fixture_t *f)
{
    char *argv[] = {"--workers", "2", "--inbox-retention-ms", (char *) f->retention_ms, NULL};
    if (!f->retention_ms)
        argv[2] = NULL;
    int rc =
        node_child_start (&f->node, getenv ("SHOAL_BIN"), f->data, f->endpoint, argv, NULL, 30000);
    assert_int_equal (rc, 0);
    client_destroy (&f->client);
    f->client = client_new (f->endpoint);
    assert_non_null (f->client);
}

void bank_projections_stop (fixture_t *f, int sig)
{
    client_destroy (&f->client);
    node_child_stop (&f->node, sig);
}

int bank_projections_call (fixture_t *f, envelope_kind_t kind, const char *id_text, const char *to,
                           const char *name, client_reply_t *reply, ...)
{
    char *fields[8];
    int count = 0;
    va_list args;
    va_start (args, reply);
    for (char *field = va_arg (args, char *); field && count < 8; field = va_arg (args, char *))
        fields[count++] = field;
    va_end (args);
    uint8_t *payload, id[ENVELOPE_ID_SIZE];
    size_t size;
    char error[128];
    assert_int_equal (client_fields (count, fields, &payload, &size, error, sizeof error), 0);
    if (id_text)
        client_id_from_string (id_text, id);
    envelope_t request;
    client_request (&request, kind, id_text ? id : NULL, to, name, payload, size);
    int rc = client_call (f->client, &request, 10000, reply);
    free (payload);
    return rc;
}

void bank_projections_refused (fixture_t *f, const char *to, const char *name, const char *code,
                               ...)
{
    char *fields[4] = {NULL};
    va_list args;
    va_start (args, code);
    for (int i = 0; i < 3 && (fields[i] = va_arg (args, char *)); i++)
        ;
    va_end (args);
    client_reply_t reply;
    assert_int_equal (bank_projections_call (f, ENVELOPE_COMMAND, NULL, to, name, &reply, fields[0],
                                             fields[1], fields[2], NULL),
                      0);
    assert_false (reply.ok);
    assert_string_equal (reply.code, code);
    client_reply_close (&reply);
}

void bank_projections_wait_terminal (fixture_t *f, const char *id, char *status, size_t size)
{
    char address[SHOAL_ADDRESS_MAX + 1];
    snprintf (address, sizeof address, "transfer/%s", id);
    snprintf (status, size, "unknown");
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (zclock_mono () < deadline) {
        client_reply_t reply;
        if (bank_projections_call (f, ENVELOPE_QUERY, NULL, address, "get", &reply, NULL) == 0) {
            int found = reply_state_str (&reply, "status", status, size);
            client_reply_close (&reply);
            if (found == 0 && (streq (status, "completed") || streq (status, "failed") ||
                               streq (status, "compensated")))
                return;
        }
        zclock_sleep (20);
    }
    fail_msg ("transfer %s is not terminal (status %s)", id, status);
}

void bank_projections_wait_settled (fixture_t *f)
{
    char reason[256] = "";
    int rc = SHOAL_ETIMEOUT;
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (zclock_mono () < deadline &&
           (rc = bank_view_settled (f->client, bank_view_names, 5000, reason, sizeof reason)) != 0)
        zclock_sleep (20);
    if (rc)
        fail_msg ("the projections did not settle: %s (%s)", shoal_strerror (rc), reason);
}

bool bank_projections_build (fixture_t *f, const char *name, build_t *build)
{
    memset (build, 0, sizeof *build);
    build->error_position = -1;
    client_reply_t reply;
    if (bank_projections_call (f, ENVELOPE_QUERY, NULL, "node/projections", "projections", &reply,
                               NULL) != 0)
        return false;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *answer = map_unpack (&unpacked, reply.data, reply.size);
    map_find_int (answer, "end", &build->end);
    const msgpack_object *list = map_find (answer, "projections");
    for (uint32_t i = 0; list && list->type == MSGPACK_OBJECT_ARRAY && i < list->via.array.size;
         i++) {
        char each[64];
        const msgpack_object *item = &list->via.array.ptr[i];
        if (map_find_str (item, "name", each, sizeof each) == 0 && streq (each, name)) {
            build->count++;
            map_find_int (item, "build", &build->number);
            map_find_int (item, "applied", &build->applied);
            map_find_int (item, "sends", &build->sends);
            map_find_str (item, "status", build->status, sizeof build->status);
            map_find_str (item, "error", build->error, sizeof build->error);
            map_find_int (item, "error_position", &build->error_position);
        }
    }
    msgpack_unpacked_destroy (&unpacked);
    bool ok = reply.ok;
    client_reply_close (&reply);
    return ok;
}

void bank_projections_control (fixture_t *f, const char *action, const char *name)
{
    char action_field[32], name_field[64];
    snprintf (action_field, sizeof action_field, "action=%s", action);
    snprintf (name_field, sizeof name_field, "name=%s", name);
    client_reply_t reply;
    assert_int_equal (bank_projections_call (f, ENVELOPE_QUERY, NULL, "node/projections",
                                             "projection_control", &reply, action_field, name_field,
                                             NULL),
                      0);
    if (!reply.ok)
        fail_msg ("%s %s refused: %s %s", action, name, reply.code, reply.reason);
    client_reply_close (&reply);
}
