/*  test_node_module.c - a real node as a user first meets it: usage, modules loaded or
    missing, the node API's guards, a far-future timer, `shoal send`'s exit
    codes. The fixture: node_test_util.h.
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

//  The "created" time (ms since the epoch) of event seq of address.
static int64_t s_event_created (fixture_t *fx, const char *address, int64_t seq)
{
    char from[48];
    snprintf (from, sizeof from, "from=%lld", (long long) seq);
    client_reply_t reply;
    node_call (fx->client, ENVELOPE_QUERY, NULL, address, "events", &reply, from, NULL);
    assert_true (reply.ok);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *events = node_find (&unpacked, reply.data, reply.size, "events");
    assert_non_null (events);
    assert_true (events->type == MSGPACK_OBJECT_ARRAY && events->via.array.size > 0);
    const msgpack_object *event = &events->via.array.ptr[0];
    assert_int_equal (event->type, MSGPACK_OBJECT_MAP);
    int64_t created = -1;
    for (uint32_t f = 0; f < event->via.map.size; f++) {
        const msgpack_object_kv *kv = &event->via.map.ptr[f];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 7 &&
            memcmp (kv->key.via.str.ptr, "created", 7) == 0 &&
            kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            created = (int64_t) kv->val.via.u64;
    }
    msgpack_unpacked_destroy (&unpacked);
    client_reply_close (&reply);
    assert_true (created > 0);
    return created;
}

//  A TCP socket listening on a free port of 127.0.0.1; the caller closes
//  it. While it is open no other process can take the port.
static int s_listening_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    assert_true (fd >= 0);
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl (INADDR_LOOPBACK)};
    assert_int_equal (bind (fd, (struct sockaddr *) &address, sizeof address), 0);
    assert_int_equal (listen (fd, 1), 0);
    return fd;
}

static int s_port_of (int fd)
{
    struct sockaddr_in address;
    socklen_t length = sizeof address;
    assert_int_equal (getsockname (fd, (struct sockaddr *) &address, &length), 0);
    return ntohs (address.sin_port);
}

//  --------------------------------------------------------------------------
//  1. The usage example: open, deposit, get, and what the replies hold.

static void test_usage (void **state)
{
    fixture_t *fx = *state;
    node_start (fx, NULL);

    client_reply_t reply;
    node_call (fx->client, ENVELOPE_COMMAND, NULL, "account/alice", "Open", &reply, "owner=Alice",
               "overdraft=0", NULL);
    assert_true (reply.ok);
    assert_string_equal (reply.from, "account/alice");
    assert_string_equal (reply.name, "Open");
    assert_string_equal (reply.code, "");
    assert_string_equal (reply.reason, "");
    char *json = node_json (reply.data, reply.size);
    assert_string_equal (json, "{\"balance\":0}");
    free (json);
    client_reply_close (&reply);

    node_call (fx->client, ENVELOPE_COMMAND, NULL, "account/alice", "Deposit", &reply, "amount=100",
               NULL);
    assert_true (reply.ok);
    assert_string_equal (reply.name, "Deposit");
    json = node_json (reply.data, reply.size);
    assert_string_equal (json, "{\"balance\":100}");
    free (json);
    client_reply_close (&reply);

    node_call (fx->client, ENVELOPE_COMMAND, NULL, "account/alice", "Withdraw", &reply,
               "amount=101", NULL);
    assert_false (reply.ok);
    assert_string_equal (reply.from, "account/alice");
    assert_string_equal (reply.code, "insufficient_funds");
    assert_non_null (strstr (reply.reason, "100"));
    client_reply_close (&reply);

    node_call (fx->client, ENVELOPE_QUERY, NULL, "account/alice", "get", &reply, NULL);
    assert_true (reply.ok);
    assert_string_equal (reply.name, "get");
    json = node_json (reply.data, reply.size);
    assert_string_equal (json, "{\"address\":\"account/alice\",\"version\":2,\"state\":{\"status\":"
                               "\"open\",\"owner\":\"Alice\",\"balance\":100,\"overdraft\":0}}");
    free (json);
    int64_t balance;
    assert_int_equal (reply_state_int (&reply, "balance", &balance), 0);
    assert_int_equal (balance, 100);
    client_reply_close (&reply);

    node_call (fx->client, ENVELOPE_QUERY, NULL, "account/alice", "events", &reply, NULL);
    assert_true (reply.ok);
    json = node_json (reply.data, reply.size);
    assert_non_null (strstr (json,
                             "{\"address\":\"account/alice\",\"events\":[{\"seq\":1,\"event\":"
                             "\"Opened\",\"data\":{\"owner\":\"Alice\",\"overdraft\":0},"));
    assert_non_null (strstr (json, "{\"seq\":2,\"event\":\"Deposited\",\"data\":{\"amount\":100}"));
    assert_non_null (strstr (json, "],\"next\":3}"));
    free (json);
    client_reply_close (&reply);
    assert_int_equal (node_events (fx, "account/alice"), 2);

    //  A never-opened account reads as version 0, status none.
    int64_t version;
    char status[16];
    node_get (fx, "account/nobody", &version, &balance, status, sizeof status);
    assert_int_equal (version, 0);
    assert_int_equal (balance, 0);
    assert_string_equal (status, "none");

    assert_int_equal (node_stat (fx, "accepted"), 2);
    assert_int_equal (node_stat (fx, "rejected"), 1);
    assert_int_equal (node_stat (fx, "events"), 2);
    assert_int_equal (node_stat (fx, "workers"), 2);
    assert_int_equal (node_stat (fx, "bad_frames"), 0);
}

//  --------------------------------------------------------------------------
//  6. Modules, and the node's start-up failures.

static void test_module (void **state)
{
    fixture_t *fx = *state;
    const char *module = getenv ("SHOAL_TEST_MODULE");
    assert_non_null (module);
    node_start (fx, "--module", module, NULL);
    client_reply_t reply;
    node_call (fx->client, ENVELOPE_COMMAND, NULL, "counter/c1", "Add", &reply, "by=5", NULL);
    assert_true (reply.ok);
    int64_t value;
    assert_int_equal (map_int (reply.data, reply.size, "value", &value), 0);
    assert_int_equal (value, 5);
    client_reply_close (&reply);
    node_call (fx->client, ENVELOPE_COMMAND, NULL, "counter/c1", "Get", &reply, NULL);
    assert_true (reply.ok);
    assert_int_equal (map_int (reply.data, reply.size, "value", &value), 0);
    assert_int_equal (value, 5);
    client_reply_close (&reply);
    node_rejected (fx, "invalid_field", "counter/c1", "Add", "by=1001", NULL);
    int64_t version;
    node_get (fx, "counter/c1", &version, NULL, NULL, 0);
    assert_int_equal (version, 1);
    //  A handler's failure is not a decision: it is not stored, and the
    //  same message id sent again runs again (then, accepted, is stored).
    uint8_t id[ENVELOPE_ID_SIZE];
    envelope_new_id (id);
    node_call (fx->client, ENVELOPE_COMMAND, id, "counter/c1", "Flaky", &reply, NULL);
    assert_false (reply.ok);
    assert_string_equal (reply.code, "handler_error");
    client_reply_close (&reply);
    for (int i = 0; i < 2; i++) {
        node_call (fx->client, ENVELOPE_COMMAND, id, "counter/c1", "Flaky", &reply, NULL);
        assert_true (reply.ok);
        assert_int_equal (map_int (reply.data, reply.size, "value", &value), 0);
        assert_int_equal (value, 6);
        client_reply_close (&reply);
    }
    node_get (fx, "counter/c1", &version, NULL, NULL, 0);
    assert_int_equal (version, 2);
    //  The bank's types are still there beside it.
    node_ok (fx, "account/m", "Open", "owner=M", NULL);

    //  A second node on the same data directory: exit 1, "in use".
    char out[OUTPUT_MAX], err[OUTPUT_MAX];
    int code =
        node_run (fx, out, err, "timeout 30 '%s' node --data '%s' --endpoint 'ipc://%s/second.ipc'",
                  node_bin (), fx->data, fx->dir);
    assert_int_equal (code, 1);
    assert_null (strstr (out, "ready on"));
    assert_non_null (strstr (err, "in use"));
    //  Another store on an endpoint something listens on: exit 1, cannot
    //  listen. (A TCP port this test holds: an ipc:// path would be taken
    //  over, as ZeroMQ unlinks what is there before it binds.)
    char other[160], taken[64];
    snprintf (other, sizeof other, "%s/other", fx->dir);
    int holder = s_listening_port ();
    snprintf (taken, sizeof taken, "tcp://127.0.0.1:%d", s_port_of (holder));
    code = node_run (fx, out, err, "timeout 30 '%s' node --data '%s' --endpoint '%s'", node_bin (),
                     other, taken);
    close (holder);
    assert_int_equal (code, 1);
    assert_null (strstr (out, "ready on"));
    assert_non_null (strstr (err, "cannot listen"));
    //  The first one is not disturbed.
    node_call (fx->client, ENVELOPE_COMMAND, NULL, "counter/c1", "Add", &reply, "by=2", NULL);
    assert_true (reply.ok);
    assert_int_equal (map_int (reply.data, reply.size, "value", &value), 0);
    assert_int_equal (value, 8);
    client_reply_close (&reply);

    //  A module's durable timer survives a SIGKILL right after it was set,
    //  and fires once: not again after a second restart. It fired in the
    //  restarted node: its event was made after the old one was gone,
    //  however long the restart took (the timer is due then, or overdue).
    node_ok (fx, "counter/t", "Remind", "ms=1500", NULL);
    node_stop (fx, SIGKILL);
    int64_t killed = zclock_time ();
    node_start (fx, "--module", module, NULL);
    int64_t deadline = zclock_mono () + 20000;
    while (node_events (fx, "counter/t") == 0 && zclock_mono () < deadline)
        zclock_sleep (50);
    assert_int_equal (node_events (fx, "counter/t"), 1);
    assert_true (s_event_created (fx, "counter/t", 1) >= killed);
    //  (Waiting a while for a second firing that must not come can only
    //  pass on a slow machine, not fail.)
    node_restart (fx, SIGTERM, "--module", module, NULL, NULL);
    zclock_sleep (300);
    assert_int_equal (node_events (fx, "counter/t"), 1);
    node_get (fx, "counter/c1", &version, NULL, NULL, 0);
    assert_int_equal (version, 3);
}

static void test_module_missing (void **state)
{
    fixture_t *fx = *state;
    char out[OUTPUT_MAX], err[OUTPUT_MAX];
    int code = node_run (
        fx, out, err, "timeout 30 '%s' node --data '%s' --endpoint '%s' --module /nonexistent.so",
        node_bin (), fx->data, fx->endpoint);
    assert_int_equal (code, 1);
    assert_null (strstr (out, "ready on"));
    assert_non_null (strstr (err, "cannot load module /nonexistent.so"));
    //  node_child_start sees it end without a ready line.
    char *extra[] = {"--module", "/nonexistent.so", NULL};
    node_child_t child;
    int rc = node_child_start (&child, node_bin (), fx->data, fx->endpoint, extra, fx->log,
                               START_TIMEOUT_MS);
    assert_int_not_equal (rc, 0);
    assert_int_equal (child.pid, 0);
    //  Bad options: exit 2.
    code = node_run (fx, out, err, "timeout 30 '%s' node --data '%s' --workers 0", node_bin (),
                     fx->data);
    assert_int_equal (code, 2);
    assert_non_null (strstr (err, "--workers"));
    code = node_run (fx, out, err, "timeout 30 '%s' node --data '%s' --durability sometimes",
                     node_bin (), fx->data);
    assert_int_equal (code, 2);
}

static int s_never_apply (void *state, const char *event, const shoal_data_t *data)
{
    (void) state, (void) event, (void) data;
    return SHOAL_EINVAL;
}

static int s_never_handle (shoal_ctx_t *ctx, const void *state, const shoal_msg_t *msg)
{
    (void) ctx, (void) state, (void) msg;
    return SHOAL_EINVAL;
}

static void s_never_view (const void *state, shoal_rec_t *out)
{
    (void) state, (void) out;
}

//  The embedding API refuses what would break a node: negative options,
//  an oversized state, a module's types left behind by its failed init
//  (their structs unloaded with it), a module loaded after the start.
static void test_node_api_guards (void **state)
{
    fixture_t *fx = *state;
    const char *module = getenv ("SHOAL_TEST_MODULE");
    assert_non_null (module);
    int code = 0;
    char *error = NULL;
    shoal_node_options_t options = {.data_dir = fx->data, .idle_ms = -1};
    assert_null (shoal_node_new (&options, &code, &error));
    assert_int_equal (code, SHOAL_EINVAL);
    assert_non_null (error);
    free (error);
    error = NULL;

    options = (shoal_node_options_t){.data_dir = fx->data, .endpoint = fx->endpoint, .workers = 1};
    shoal_node_t *node = shoal_node_new (&options, &code, &error);
    assert_non_null (node);
    static const shoal_type_t huge = {
        .name = "huge",
        .state_size = SHOAL_STATE_MAX + 1,
        .apply = s_never_apply,
        .handle = s_never_handle,
        .view = s_never_view,
    };
    assert_int_equal (shoal_register (shoal_node_registry (node), &huge), SHOAL_ETOOBIG);

    setenv ("COUNTER_MODULE_FAIL", "1", 1);
    assert_int_equal (shoal_node_load_module (node, module, &error), SHOAL_EMODULE);
    unsetenv ("COUNTER_MODULE_FAIL");
    assert_non_null (strstr (error, "failed to start"));
    free (error);
    error = NULL;
    //  Had counter stayed registered, this would fail with "already exists".
    assert_int_equal (shoal_node_load_module (node, module, &error), 0);
    assert_int_equal (shoal_node_start (node, &error), 0);
    assert_int_equal (shoal_node_load_module (node, module, &error), SHOAL_EMODULE);
    assert_non_null (strstr (error, "started"));
    free (error);
    shoal_node_destroy (&node);
}

//  A module's timer of INT64_MAX ms: shoal_ctx_after takes any ms >= 0,
//  and the counter passes the client's value through. The node must
//  answer (accept, or reject) and stay up.
static void test_timer_far_future (void **state)
{
    fixture_t *fx = *state;
    const char *module = getenv ("SHOAL_TEST_MODULE");
    assert_non_null (module);
    node_start (fx, "--module", module, NULL);
    char *fields[] = {"ms=9223372036854775807"};
    uint8_t *payload;
    size_t size;
    char error[64];
    assert_int_equal (client_fields (1, fields, &payload, &size, error, sizeof error), 0);
    envelope_t request;
    client_request (&request, ENVELOPE_COMMAND, NULL, "counter/far", "Remind", payload, size);
    client_reply_t reply;
    int rc = client_call (fx->client, &request, 3000, &reply);
    free (payload);
    if (rc == 0)
        client_reply_close (&reply);
    int status;
    pid_t ended = waitpid (fx->node.pid, &status, WNOHANG);
    if (ended == fx->node.pid) {
        fx->node.pid = 0;
        node_dump_log (fx);
    }
    assert_int_equal (ended, 0); //  the node is still running
    assert_int_equal (rc, 0);    //  and it answered
    node_ok (fx, "counter/far", "Add", "by=1", NULL);
    assert_int_equal (node_events (fx, "counter/far"), 1);
}

//  A module's durable timer fires on time when the node's wall clock steps
//  back after it was armed (NTP after a VM resume, an operator's `date`:
//  tests/clockshift.c, preloaded, steps it). It fired by the wall clock,
//  an hour late.

#define STEP_BACK_MS (3600LL * 1000) //  how far the node's wall clock steps (back, or ahead)
#define REMIND_MS 4000               //  the timer's delay: the step is seen before it

static void s_shift_write (const char *path, long long shift)
{
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fprintf (file, "%lld\n", shift);
    assert_int_equal (fclose (file), 0);
}

//  The node's workers' wall clock, as their pending query says it ("now").
static int64_t s_worker_wall (fixture_t *fx)
{
    client_reply_t reply;
    node_call (fx->client, ENVELOPE_QUERY, NULL, "node/all", "pending", &reply, NULL);
    assert_true (reply.ok);
    int64_t now = 0;
    assert_int_equal (map_int (reply.data, reply.size, "now", &now), 0);
    client_reply_close (&reply);
    return now;
}

//  Starts the node with the counter module and clockshift.so preloaded,
//  its shift 0 for now, read from shift (a path of the test's directory).
static void s_start_shifted (fixture_t *fx, char *shift, size_t size)
{
    const char *module = getenv ("SHOAL_TEST_MODULE");
    const char *library = getenv ("SHOAL_CLOCKSHIFT");
    assert_non_null (module);
    if (!library)
        fail_msg ("SHOAL_CLOCKSHIFT is not set: the path of clockshift.so (tests/CMakeLists.txt)");
    snprintf (shift, size, "%s/shift", fx->dir);
    s_shift_write (shift, 0);
    harness_env_t saved;
    harness_preload_begin (library, NULL, &saved);
    setenv ("SHOAL_CLOCKSHIFT_FILE", shift, 1);
    node_start (fx, "--module", module, NULL);
    unsetenv ("SHOAL_CLOCKSHIFT_FILE");
    harness_preload_end (&saved);
}

//  Steps the node's wall clock to shift_ms from the real one and waits,
//  until deadline (monotonic ms), for its workers to read it so.
static void s_step (fixture_t *fx, const char *shift, long long shift_ms, int64_t deadline)
{
    int64_t real_now = zclock_time ();
    s_shift_write (shift, shift_ms);
    while (llabs ((long long) (s_worker_wall (fx) - real_now) - shift_ms) > STEP_BACK_MS / 2) {
        assert_true (zclock_mono () < deadline);
        zclock_sleep (50); //  between two asks, within the deadline
    }
}

static void test_timer_wall_clock_back (void **state)
{
    fixture_t *fx = *state;
    char shift[128];
    s_start_shifted (fx, shift, sizeof shift);

    node_ok (fx, "counter/t", "Remind", "ms=4000", NULL);
    int64_t armed = zclock_mono ();
    int64_t deadline = zclock_mono () + 20000;
    s_step (fx, shift, -STEP_BACK_MS, deadline);
    //  The step came before the timer was due (else this shows nothing).
    assert_int_equal (node_events (fx, "counter/t"), 0);
    assert_true (zclock_mono () - armed < REMIND_MS);
    while (node_events (fx, "counter/t") == 0 && zclock_mono () < deadline)
        zclock_sleep (50); //  between two asks, within the deadline
    if (node_events (fx, "counter/t") != 1)
        fail_msg ("the timer of %d ms has not fired %lld ms after it was armed, the wall clock "
                  "an hour back",
                  REMIND_MS, (long long) (zclock_mono () - armed));
}

//  And on time when the wall clock jumps ahead past its due time while the
//  monotonic clock does not: a resume from suspend or a paused VM (the
//  monotonic clock stood still) and NTP's step after it. A timer of ten
//  minutes, the wall clock an hour ahead: it fires at once, as the wall
//  clock says (on the monotonic clock alone it waited its ten minutes).
static void test_timer_wall_clock_ahead (void **state)
{
    fixture_t *fx = *state;
    char shift[128];
    s_start_shifted (fx, shift, sizeof shift);
    node_ok (fx, "counter/t", "Remind", "ms=600000", NULL);
    int64_t armed = zclock_mono ();
    s_shift_write (shift, STEP_BACK_MS);
    int64_t deadline = zclock_mono () + 20000;
    while (node_events (fx, "counter/t") == 0 && zclock_mono () < deadline)
        zclock_sleep (50); //  between two asks, within the deadline
    if (node_events (fx, "counter/t") != 1)
        fail_msg ("the timer of 10 minutes has not fired %lld ms after it was armed, the wall "
                  "clock an hour ahead",
                  (long long) (zclock_mono () - armed));
}

//  And not early when the wall clock steps back and then forward again
//  (two time sources at odds, a mistaken `date` put right): a timer of
//  ten minutes, the clock an hour back, then right again, has not fired.
//  (A first design, one clock that took the step back into its offset and
//  the step forward as a jump, fired it at once, 59 minutes early; the
//  wall clock alone, before, got this one right, and the next one too.)
static void test_timer_wall_clock_back_and_forth (void **state)
{
    fixture_t *fx = *state;
    char shift[128];
    s_start_shifted (fx, shift, sizeof shift);
    node_ok (fx, "counter/t", "Remind", "ms=600000", NULL);
    int64_t deadline = zclock_mono () + 20000;
    s_step (fx, shift, -STEP_BACK_MS, deadline);
    //  A timer armed while the clock is back, of 2 s: it fires, once.
    node_ok (fx, "counter/u", "Remind", "ms=2000", NULL);
    s_step (fx, shift, 0, deadline);
    while (node_events (fx, "counter/u") == 0 && zclock_mono () < deadline)
        zclock_sleep (50); //  between two asks, within the deadline
    assert_int_equal (node_events (fx, "counter/u"), 1);
    //  u fired at the worker's first tick after the clock was put right
    //  (by the wall clock its due time had passed): a worker that took
    //  the steps wrongly fired t in that same tick.
    assert_int_equal (node_events (fx, "counter/t"), 0);
}

//  --------------------------------------------------------------------------
//  9. `shoal send` exit codes.

static void test_send_exit_codes (void **state)
{
    fixture_t *fx = *state;
    node_start (fx, NULL);
    node_ok (fx, "account/u", "Open", "owner=U", NULL);
    int64_t messages = node_stat (fx, "messages");

    //  Bad usage: exit 2, a message on stderr, nothing on stdout or sent.
    static const char *usage[] = {
        "",
        "account/u",
        "alice Deposit amount=1",
        "Account/u Deposit amount=1",
        "account/ Deposit amount=1",
        "/u Deposit amount=1",
        "account/u Deposit amount",
        "account/u Deposit =5",
        "account/u Deposit amount=9223372036854775808",
        "account/u Deposit amount=-9223372036854775809",
        "account/u Deposit amount=99999999999999999999999",
        "account/u Deposit amount=1 amount=2",
        "account/u 'De posit' amount=1",
        "--timeout 0 account/u Deposit amount=1",
        "--timeout abc account/u Deposit amount=1",
        "--bogus account/u Deposit amount=1",
        "--id '' account/u Deposit amount=1",
    };
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
        char out[OUTPUT_MAX], err[OUTPUT_MAX];
        int code = node_run (fx, out, err, "'%s' send --endpoint '%s' %s", node_bin (),
                             fx->node.endpoint, usage[i]);
        if (code != 2)
            print_error ("shoal send %s: exit %d, stderr: %s\n", usage[i], code, err);
        assert_int_equal (code, 2);
        assert_string_equal (out, "");
        assert_true (strlen (err) > 0);
    }
    assert_int_equal (node_stat (fx, "messages"), messages);
    assert_int_equal (node_stat (fx, "bad_frames"), 0);
    int64_t version, balance;
    node_get (fx, "account/u", &version, &balance, NULL, 0);
    assert_int_equal (version, 1);
    assert_int_equal (balance, 0);

    //  The edges of the int64 range are not usage errors.
    char out[OUTPUT_MAX], err[OUTPUT_MAX];
    int code = node_run (fx, out, err, "'%s' send --endpoint '%s' account/u Deposit amount=%s",
                         node_bin (), fx->node.endpoint, "9223372036854775807");
    assert_int_equal (code, 0);
    assert_non_null (strstr (out, "\"reply\":{\"balance\":9223372036854775807}"));
    code = node_run (fx, out, err, "'%s' send --endpoint '%s' account/u Withdraw amount=%s",
                     node_bin (), fx->node.endpoint, "-9223372036854775808");
    assert_int_equal (code, 1);
    assert_non_null (strstr (out, "\"code\":\"invalid_amount\""));
    code = node_run (fx, out, err, "'%s' send --endpoint '%s' nosuchtype/u Deposit amount=1",
                     node_bin (), fx->node.endpoint);
    assert_int_equal (code, 1);
    assert_non_null (strstr (out, "\"code\":\"unknown_type\""));

    //  No node: exit 3 after the timeout, not before, not much after.
    int64_t started = zclock_mono ();
    code = node_run (fx, out, err,
                     "'%s' send --endpoint ipc://%s/none.ipc --timeout 200 account/u Deposit "
                     "amount=1",
                     node_bin (), fx->dir);
    int64_t took = zclock_mono () - started;
    assert_int_equal (code, 3);
    assert_string_equal (out, "");
    assert_non_null (strstr (err, "no answer"));
    assert_true (took >= 200);
    assert_true (took < 5000);
    code = node_run (fx, out, err, "'%s' get --endpoint ipc://%s/none.ipc --timeout 200 account/u",
                     node_bin (), fx->dir);
    assert_int_equal (code, 3);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_usage, node_setup, node_teardown),
        cmocka_unit_test_setup_teardown (test_module, node_setup, node_teardown),
        cmocka_unit_test_setup_teardown (test_module_missing, node_setup, node_teardown),
        cmocka_unit_test_setup_teardown (test_node_api_guards, node_setup, node_teardown),
        cmocka_unit_test_setup_teardown (test_timer_far_future, node_setup, node_teardown),
        cmocka_unit_test_setup_teardown (test_timer_wall_clock_back, node_setup, node_teardown),
        cmocka_unit_test_setup_teardown (test_timer_wall_clock_ahead, node_setup, node_teardown),
        cmocka_unit_test_setup_teardown (test_timer_wall_clock_back_and_forth, node_setup,
                                         node_teardown),
        cmocka_unit_test_setup_teardown (test_send_exit_codes, node_setup, node_teardown),
    };
    //  SHOAL_TEST_FILTER=test_module* runs the tests whose names match.
    if (getenv ("SHOAL_TEST_FILTER"))
        cmocka_set_test_filter (getenv ("SHOAL_TEST_FILTER"));
    return cmocka_run_group_tests (tests, NULL, NULL);
}
