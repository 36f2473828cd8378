/*  test_bank.c - transfers that survive crashes, through real `shoal node`
    processes: the invariants under SIGKILLs, idempotent starts, the
    double-spend race, compensation, durable timers.

    Each test's node keeps its store in DIR/data and listens on
    ipc://DIR/node.ipc, in the test's own directory: a restarted node
    finds its endpoint free, and no other process can take it. Waits poll
    against a deadline.

    The node runs with 2 workers, so sagas and accounts sit on different
    workers (test_sagas_cross_workers shows it for the addresses used).
*/
#include "bank.h"
#include "client_window.h"
#include "cluster_test_client.h"
#include "worker.h"

#include <czmq.h>
#include <msgpack.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

typedef struct {
    char dir[64];      //  the test's temporary directory
    char data[96];     //  dir/data: the node's store
    char endpoint[96]; //  ipc://dir/node.ipc
    node_child_t node; //  pid 0 when not running
} fixture_t;

#define WAIT_MS 20000 //  the most a test waits for what must come

static char *s_workers[] = {"--workers", "2", NULL};
static char *s_module_args[] = {"--workers", "2", "--module", NULL, "--stall-ms", "60000", NULL};

static int s_setup (void **state)
{
    fixture_t *f = calloc (1, sizeof (fixture_t));
    snprintf (f->dir, sizeof f->dir, "/tmp/shoal-test-bank-XXXXXX");
    assert_non_null (mkdtemp (f->dir));
    snprintf (f->data, sizeof f->data, "%s/data", f->dir);
    snprintf (f->endpoint, sizeof f->endpoint, "ipc://%s/node.ipc", f->dir);
    *state = f;
    return 0;
}

static int s_teardown (void **state)
{
    fixture_t *f = *state;
    node_child_stop (&f->node, SIGKILL);
    assert_int_equal (bench_remove_tree (f->dir), 0);
    free (f);
    return 0;
}

//  Starts the node on f->endpoint with the extra arguments.
static void s_start (fixture_t *f, char **extra)
{
    int rc =
        node_child_start (&f->node, getenv ("SHOAL_BIN"), f->data, f->endpoint, extra, NULL, 20000);
    assert_int_equal (rc, 0);
    assert_string_equal (f->node.endpoint, f->endpoint);
}

//  Stops the node with sig and starts it again, as it was.
static void s_restart (fixture_t *f, int sig, char **extra)
{
    node_child_stop (&f->node, sig);
    s_start (f, extra);
}

//  Sends a command with "k=v" fields; returns the reply (caller closes).
static int s_send (const fixture_t *f, const char *id, const char *to, const char *name,
                   client_reply_t *reply, ...)
{
    uint8_t message_id[ENVELOPE_ID_SIZE];
    if (id)
        client_id_from_string (id, message_id);
    client_t *client = client_new (f->node.endpoint);
    va_list args;
    va_start (args, reply);
    int rc = cluster_client_callv (client, ENVELOPE_COMMAND, id ? message_id : NULL, to, name, 5000,
                                   reply, args);
    va_end (args);
    client_destroy (&client);
    return rc;
}

static void s_must_accept (const fixture_t *f, const char *to, const char *name, ...)
{
    char *fields[8];
    int count = 0;
    va_list args;
    va_start (args, name);
    for (char *field = va_arg (args, char *); field && count < 8; field = va_arg (args, char *))
        fields[count++] = field;
    va_end (args);
    client_reply_t reply;
    int rc = s_send (f, NULL, to, name, &reply, count > 0 ? fields[0] : NULL,
                     count > 1 ? fields[1] : NULL, count > 2 ? fields[2] : NULL, NULL);
    assert_int_equal (rc, 0);
    if (!reply.ok)
        fail_msg ("%s %s rejected: %s %s", to, name, reply.code, reply.reason);
    client_reply_close (&reply);
}

static int64_t s_state_int (const fixture_t *f, const char *address, const char *key)
{
    envelope_t request;
    client_request (&request, ENVELOPE_QUERY, NULL, address, "get", NULL, 0);
    client_t *client = client_new (f->node.endpoint);
    client_reply_t reply;
    assert_int_equal (client_call (client, &request, 5000, &reply), 0);
    client_destroy (&client);
    assert_true (reply.ok);
    int64_t value = INT64_MIN;
    assert_int_equal (reply_state_int (&reply, key, &value), 0);
    client_reply_close (&reply);
    return value;
}

//  Polls transfer/ID until terminal; returns its status in status.
static void s_wait_terminal (const fixture_t *f, const char *id, char *status, size_t size)
{
    char address[SHOAL_ADDRESS_MAX + 1];
    snprintf (address, sizeof address, "transfer/%s", id);
    snprintf (status, size, "unknown");
    client_t *client = client_new (f->node.endpoint);
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (zclock_mono () < deadline) {
        envelope_t request;
        client_request (&request, ENVELOPE_QUERY, NULL, address, "get", NULL, 0);
        client_reply_t reply;
        if (client_call (client, &request, 2000, &reply) == 0) {
            int found = reply_state_str (&reply, "status", status, size);
            client_reply_close (&reply);
            if (found == 0 && (streq (status, "completed") || streq (status, "failed") ||
                               streq (status, "compensated"))) {
                client_destroy (&client);
                return;
            }
        }
        zclock_sleep (20);
    }
    client_destroy (&client);
    fail_msg ("transfer %s is not terminal (status %s)", id, status);
}

//  Counts the events named name (with transfer == transfer when given)
//  made at or after since (ms since the epoch) in a stream, through the
//  events query.
static int s_scan_events (const fixture_t *f, const char *address, const char *name,
                          const char *transfer, int64_t since)
{
    char from_field[] = "from=1";
    char *fields[] = {from_field};
    uint8_t *payload;
    size_t size;
    char error[64];
    assert_int_equal (client_fields (1, fields, &payload, &size, error, sizeof error), 0);
    envelope_t request;
    client_request (&request, ENVELOPE_QUERY, NULL, address, "events", payload, size);
    client_t *client = client_new (f->node.endpoint);
    client_reply_t reply;
    assert_int_equal (client_call (client, &request, 5000, &reply), 0);
    client_destroy (&client);
    free (payload);
    assert_true (reply.ok);
    //  Walk the page: {"events":[{"seq","event","data":{...}}...]}
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    size_t offset = 0;
    assert_int_equal (
        msgpack_unpack_next (&unpacked, (const char *) reply.data, reply.size, &offset),
        MSGPACK_UNPACK_SUCCESS);
    int count = 0;
    const msgpack_object_map *top = &unpacked.data.via.map;
    for (uint32_t i = 0; i < top->size; i++) {
        const msgpack_object *val = &top->ptr[i].val;
        if (val->type != MSGPACK_OBJECT_ARRAY)
            continue;
        for (uint32_t e = 0; e < val->via.array.size; e++) {
            const msgpack_object_map *event = &val->via.array.ptr[e].via.map;
            bool named = false, matches = transfer == NULL, recent = true;
            for (uint32_t k = 0; k < event->size; k++) {
                const msgpack_object *key = &event->ptr[k].key, *v = &event->ptr[k].val;
                if (key->via.str.size == 7 && memcmp (key->via.str.ptr, "created", 7) == 0)
                    recent =
                        v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && (int64_t) v->via.u64 >= since;
                if (key->via.str.size == 5 && memcmp (key->via.str.ptr, "event", 5) == 0)
                    named = v->via.str.size == strlen (name) &&
                            memcmp (v->via.str.ptr, name, v->via.str.size) == 0;
                if (transfer && key->via.str.size == 4 && memcmp (key->via.str.ptr, "data", 4) == 0)
                    for (uint32_t d = 0; d < v->via.map.size; d++) {
                        const msgpack_object *dk = &v->via.map.ptr[d].key,
                                             *dv = &v->via.map.ptr[d].val;
                        if (dk->via.str.size == 8 && memcmp (dk->via.str.ptr, "transfer", 8) == 0 &&
                            dv->type == MSGPACK_OBJECT_STR &&
                            dv->via.str.size == strlen (transfer) &&
                            memcmp (dv->via.str.ptr, transfer, dv->via.str.size) == 0)
                            matches = true;
                    }
            }
            count += named && matches && recent;
        }
    }
    msgpack_unpacked_destroy (&unpacked);
    client_reply_close (&reply);
    return count;
}

static int s_count_events (const fixture_t *f, const char *address, const char *name,
                           const char *transfer)
{
    return s_scan_events (f, address, name, transfer, INT64_MIN);
}

//  Waits at most WAIT_MS for address to have count events named name;
//  returns how many it has then.
static int s_wait_events (const fixture_t *f, const char *address, const char *name, int count)
{
    int64_t deadline = zclock_mono () + WAIT_MS;
    int found;
    while ((found = s_count_events (f, address, name, NULL)) < count && zclock_mono () < deadline)
        zclock_sleep (20);
    return found;
}

//  Runs the shoal binary with args; returns its exit code, stdout in out.
static int s_run (char *out, size_t size, const char *format, ...)
{
    char command[1024];
    int used = snprintf (command, sizeof command, "'%s' ", getenv ("SHOAL_BIN"));
    va_list args;
    va_start (args, format);
    vsnprintf (command + used, sizeof command - (size_t) used, format, args);
    va_end (args);
    FILE *pipe = popen (command, "r");
    assert_non_null (pipe);
    size_t got = fread (out, 1, size - 1, pipe);
    out[got] = 0;
    int status = pclose (pipe);
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

//  --------------------------------------------------------------------------

//  The invariants of DESIGN.md, from the journal itself, after 10,000
//  concurrent transfers over 1,000 accounts with 3+ SIGKILLs. The node
//  keeps its store and its ipc:// endpoint in the test's own directory.
static void test_invariants_under_kills (void **state)
{
    fixture_t *f = *state;
    uint64_t seed = getenv ("SHOAL_TEST_SEED") ? strtoull (getenv ("SHOAL_TEST_SEED"), NULL, 10)
                                               : (uint64_t) time (NULL);
    print_message ("test_invariants_under_kills: seed %llu (replay with SHOAL_TEST_SEED)\n",
                   (unsigned long long) seed);
    bank_options_t o = {
        .shoal = getenv ("SHOAL_BIN"),
        .accounts = 1000,
        .funding = 1000,
        .closed = 10,
        .transfers = 10000,
        .max_amount = 700,
        .window = 512,
        .kills = 3,
        .seed = seed,
        .workers = 2,
        .data_dir = f->data,
        .listen = f->endpoint,
    };
    bank_result_t r;
    int rc = bank_run (&o, &r);
    print_message ("completed %zu failed %zu compensated %zu kills %d resends %zu: %s\n",
                   r.completed, r.failed, r.compensated, r.kills, r.resends,
                   r.problem[0] ? r.problem : "books balance");
    assert_int_equal (rc, 0);
    assert_string_equal (r.endpoint, f->endpoint);
    assert_true (r.balanced);
    assert_true (r.kills >= 3);
    assert_int_equal (r.unfinished, 0);
    assert_int_equal (r.completed + r.failed + r.compensated, o.transfers);
    assert_int_equal (r.total_before, 1000 * 1000);
    assert_int_equal (r.total_after, 1000 * 1000);
    //  Every kind of ending happened, so every path was exercised.
    assert_true (r.completed > 0 && r.failed > 0 && r.compensated > 0);
    assert_int_equal (r.debits, r.completed + r.compensated);
    assert_int_equal (r.credits, r.completed);
    assert_int_equal (r.refunds, r.compensated);
}

//  The addresses these tests use put sagas and accounts on both workers.
static void test_sagas_cross_workers (void **state)
{
    (void) state;
    worker_config_t config = {.workers = 2, .shards = 256};
    int crossed = 0, same = 0;
    char transfer[64], account[64];
    for (int i = 0; i < 100; i++) {
        snprintf (transfer, sizeof transfer, "transfer/t%d", i);
        snprintf (account, sizeof account, "account/a%05d", i);
        if (worker_of (&config, transfer) != worker_of (&config, account))
            crossed++;
        else
            same++;
    }
    assert_true (crossed > 10 && same > 10);
    assert_int_not_equal (worker_of (&config, "transfer/race-1"),
                          worker_of (&config, "account/racer3"));
    assert_int_not_equal (worker_of (&config, "transfer/comp-4"),
                          worker_of (&config, "account/src"));
    assert_int_not_equal (worker_of (&config, "transfer/retry-1"),
                          worker_of (&config, "account/src"));
}

//  `shoal transfer --id X` retried after the node died mid-request never
//  makes two transfers.
static void test_transfer_retry_after_crash (void **state)
{
    fixture_t *f = *state;
    s_start (f, s_workers);
    s_must_accept (f, "account/src", "Open", "owner=Src", NULL);
    s_must_accept (f, "account/src", "Deposit", "amount=100", NULL);
    s_must_accept (f, "account/ben", "Open", "owner=Ben", NULL);
    char out[2048];
    //  Kill the node while the transfer command is in flight, many times.
    for (int round = 0; round < 3; round++) {
        pid_t pid = fork ();
        if (pid == 0) {
            char cmd[512];
            snprintf (cmd, sizeof cmd,
                      "'%s' transfer --endpoint %s --timeout 300 --id retry-1 src ben 10 "
                      ">/dev/null 2>&1",
                      getenv ("SHOAL_BIN"), f->node.endpoint);
            _exit (system (cmd) == 0 ? 0 : 1);
        }
        zclock_sleep (round * 3);
        s_restart (f, SIGKILL, s_workers);
        waitpid (pid, NULL, 0);
    }
    //  Against no node at all: no answer (exit 3).
    const char *endpoint = f->endpoint;
    node_child_stop (&f->node, SIGKILL);
    assert_int_equal (s_run (out, sizeof out,
                             "transfer --endpoint %s --timeout 300 --id retry-1 src ben 10 "
                             "2>/dev/null",
                             endpoint),
                      3);
    s_start (f, s_workers);
    assert_int_equal (
        s_run (out, sizeof out, "transfer --endpoint %s --wait --id retry-1 src ben 10", endpoint),
        0);
    assert_non_null (strstr (out, "\"status\":\"completed\""));
    assert_int_equal (
        s_run (out, sizeof out, "transfer --endpoint %s --wait --id retry-1 src ben 10", endpoint),
        0);
    assert_int_equal (s_count_events (f, "account/src", "Debited", "retry-1"), 1);
    assert_int_equal (s_count_events (f, "account/ben", "Credited", "retry-1"), 1);
    assert_int_equal (s_count_events (f, "transfer/retry-1", "Started", NULL), 1);
    assert_int_equal (s_state_int (f, "account/src", "balance"), 90);
    assert_int_equal (s_state_int (f, "account/ben", "balance"), 10);
}

//  Two concurrent transfers of the whole balance: one completes, one fails.
static void test_double_spend_race (void **state)
{
    fixture_t *f = *state;
    s_start (f, s_workers);
    s_must_accept (f, "account/racer3", "Open", "owner=Racer", NULL);
    s_must_accept (f, "account/racer3", "Deposit", "amount=500", NULL);
    s_must_accept (f, "account/left", "Open", "owner=Left", NULL);
    s_must_accept (f, "account/right", "Open", "owner=Right", NULL);
    //  Both Starts leave before either is answered.
    client_t *client = client_new (f->node.endpoint);
    const char *ids[2] = {"race-1", "race-2"}, *targets[2] = {"to=left", "to=right"};
    for (int i = 0; i < 2; i++) {
        char *fields[] = {"from=racer3", (char *) targets[i], "amount=500"};
        uint8_t *payload;
        size_t size;
        char error[64];
        assert_int_equal (client_fields (3, fields, &payload, &size, error, sizeof error), 0);
        char address[64];
        snprintf (address, sizeof address, "transfer/%s", ids[i]);
        envelope_t request;
        client_request (&request, ENVELOPE_COMMAND, NULL, address, "Start", payload, size);
        assert_int_equal (client_send (client, &request), 0);
        free (payload);
    }
    for (int i = 0; i < 2; i++) {
        client_reply_t reply;
        assert_int_equal (client_recv (client, 5000, &reply), 0);
        assert_true (reply.ok);
        client_reply_close (&reply);
    }
    client_destroy (&client);
    char first[32], second[32];
    s_wait_terminal (f, ids[0], first, sizeof first);
    s_wait_terminal (f, ids[1], second, sizeof second);
    assert_true ((streq (first, "completed") && streq (second, "failed")) ||
                 (streq (first, "failed") && streq (second, "completed")));
    assert_int_equal (s_state_int (f, "account/racer3", "balance"), 0);
    assert_int_equal (s_state_int (f, "account/left", "balance") +
                          s_state_int (f, "account/right", "balance"),
                      500);
}

//  A credit to a closed account is compensated; the money returns.
static void test_closed_target_compensated (void **state)
{
    fixture_t *f = *state;
    s_start (f, s_workers);
    s_must_accept (f, "account/src", "Open", "owner=Src", NULL);
    s_must_accept (f, "account/src", "Deposit", "amount=300", NULL);
    s_must_accept (f, "account/gone", "Open", "owner=Gone", NULL);
    s_must_accept (f, "account/gone", "Close", NULL);
    char out[1024];
    assert_int_equal (s_run (out, sizeof out,
                             "transfer --endpoint %s --wait --id comp-4 src gone 120",
                             f->node.endpoint),
                      1);
    if (!strstr (out, "\"status\":\"compensated\""))
        fail_msg ("not compensated: %s", out);
    assert_int_equal (s_state_int (f, "account/src", "balance"), 300);
    assert_int_equal (s_state_int (f, "account/gone", "balance"), 0);
    assert_int_equal (s_count_events (f, "account/src", "Debited", "comp-4"), 1);
    assert_int_equal (s_count_events (f, "account/src", "Refunded", "comp-4"), 1);
    assert_int_equal (s_count_events (f, "account/gone", "Credited", "comp-4"), 0);
    //  A failed debit moves nothing.
    assert_int_equal (s_run (out, sizeof out,
                             "transfer --endpoint %s --wait --id fail-1 src gone 1000",
                             f->node.endpoint),
                      1);
    assert_non_null (strstr (out, "\"status\":\"failed\""));
    assert_int_equal (s_state_int (f, "account/src", "balance"), 300);
    //  Starting an existing id again returns its status and starts
    //  nothing; with another amount it is refused as id_reused.
    assert_int_equal (s_run (out, sizeof out, "transfer --endpoint %s --id comp-4 src gone 120",
                             f->node.endpoint),
                      0);
    assert_non_null (strstr (out, "\"status\":\"compensated\""));
    assert_int_equal (
        s_run (out, sizeof out, "transfer --endpoint %s --id comp-4 src gone 5", f->node.endpoint),
        1);
    assert_non_null (strstr (out, "\"code\":\"id_reused\""));
    assert_int_equal (s_count_events (f, "account/src", "Debited", NULL), 1);
}

//  A timer set before a SIGKILL fires after the restart, once.
static void test_timer_survives_kill (void **state)
{
    fixture_t *f = *state;
    s_module_args[3] = getenv ("SHOAL_TEST_MODULE");
    s_start (f, s_module_args);
    s_must_accept (f, "counter/early", "Remind", "ms=0", NULL);
    assert_int_equal (s_wait_events (f, "counter/early", "Rang", 1), 1);
    s_must_accept (f, "counter/bell", "Remind", "ms=1500", NULL);
    node_child_stop (&f->node, SIGKILL);
    int64_t killed = zclock_time ();
    s_start (f, s_module_args);
    //  It rang in the restarted node: after the old one was gone, however
    //  long the restart took.
    assert_int_equal (s_wait_events (f, "counter/bell", "Rang", 1), 1);
    assert_int_equal (s_scan_events (f, "counter/bell", "Rang", NULL, killed), 1);
    //  And it does not fire again after another restart. (A wait for what
    //  must not come: a slow machine can only make it pass.)
    s_restart (f, SIGKILL, s_module_args);
    zclock_sleep (500);
    assert_int_equal (s_count_events (f, "counter/bell", "Rang", NULL), 1);
    assert_int_equal (s_count_events (f, "counter/early", "Rang", NULL), 1);
}

//  Reads one counter of the node's stats.
static int64_t s_stat (const fixture_t *f, const char *name)
{
    envelope_t request;
    client_request (&request, ENVELOPE_QUERY, NULL, "node/stats", "stats", NULL, 0);
    client_t *client = client_new (f->node.endpoint);
    client_reply_t reply;
    assert_int_equal (client_call (client, &request, 5000, &reply), 0);
    client_destroy (&client);
    int64_t value = -1;
    assert_int_equal (map_int (reply.data, reply.size, name, &value), 0);
    client_reply_close (&reply);
    return value;
}

//  Inbox records are kept for the retention; a retry older than that is
//  refused as expired, never run a second time.
static void test_inbox_retention (void **state)
{
    fixture_t *f = *state;
    char *args[] = {"--inbox-retention-ms", "1000", NULL};
    s_start (f, args);
    s_must_accept (f, "account/keep", "Open", "owner=Keep", NULL);
    char *fields[] = {"amount=10"};
    uint8_t *payload;
    size_t size;
    char error[64];
    assert_int_equal (client_fields (1, fields, &payload, &size, error, sizeof error), 0);
    envelope_t request;
    client_request (&request, ENVELOPE_COMMAND, NULL, "account/keep", "Deposit", payload, size);
    client_t *client = client_new (f->node.endpoint);
    client_reply_t reply;
    for (int i = 0; i < 2; i++) { //  the same message twice: one effect
        assert_int_equal (client_call (client, &request, 5000, &reply), 0);
        assert_true (reply.ok);
        client_reply_close (&reply);
    }
    assert_int_equal (s_state_int (f, "account/keep", "balance"), 10);
    assert_int_equal (s_stat (f, "duplicates"), 1);
    //  Past the retention, its margin and a janitor pass: Deposit's record
    //  pruned. Open's, which created the stream, is in its first event
    //  and never pruned (docs/DESIGN-NOTES.md, "Inbox retention").
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (s_stat (f, "pruned") < 1 && zclock_mono () < deadline)
        zclock_sleep (50);
    assert_int_equal (s_stat (f, "pruned"), 1);
    assert_int_equal (client_call (client, &request, 5000, &reply), 0);
    assert_false (reply.ok);
    assert_string_equal (reply.code, "expired");
    client_reply_close (&reply);
    client_destroy (&client);
    free (payload);
    assert_int_equal (s_state_int (f, "account/keep", "balance"), 10);
    assert_int_equal (s_stat (f, "expired"), 1);
    s_must_accept (f, "account/keep", "Deposit", "amount=5", NULL);
    assert_int_equal (s_state_int (f, "account/keep", "balance"), 15);
}

//  A command that is never answered is re-sent, and its sender is told it
//  stalled after --stall-ms.
static void test_stall_notice (void **state)
{
    fixture_t *f = *state;
    char *args[] = {"--module", getenv ("SHOAL_TEST_MODULE"), "--stall-ms", "300", NULL};
    s_start (f, args);
    s_must_accept (f, "counter/asker", "Forward", "to=sink/hole", "name=Poke", NULL);
    assert_int_equal (s_wait_events (f, "counter/asker", "Stalled", 1), 1);
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (s_stat (f, "resends") < 3 && zclock_mono () < deadline)
        zclock_sleep (50);
    assert_int_equal (s_count_events (f, "counter/asker", "Answered", NULL), 0);
    assert_true (s_stat (f, "resends") >= 3);
    assert_int_equal (s_stat (f, "pending"), 1);
    //  A client asking the sink directly is told it is unavailable.
    client_reply_t reply;
    assert_int_equal (s_send (f, NULL, "sink/hole", "Poke", &reply, NULL), 0);
    assert_false (reply.ok);
    assert_string_equal (reply.code, "handler_error");
    client_reply_close (&reply);
}

//  `shoal node --config FILE`: the file's settings apply, the command line
//  wins over them.
static void test_config_file (void **state)
{
    fixture_t *f = *state;
    char path[300];
    snprintf (path, sizeof path, "%s.cfg", f->dir);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fprintf (file,
             "node\n    data = /nonexistent/overridden\n    workers = 1\n    shards = 7\n"
             "    modules\n        counter = %s\n",
             getenv ("SHOAL_TEST_MODULE"));
    fclose (file);
    char *args[] = {"--config", path, NULL};
    s_start (f, args);
    assert_int_equal (s_stat (f, "workers"), 1);
    assert_int_equal (s_stat (f, "shards"), 7);
    s_must_accept (f, "counter/cfg", "Add", "by=2", NULL);
    node_child_stop (&f->node, SIGTERM);
    char *workers[] = {"--config", path, "--workers", "2", NULL};
    s_start (f, workers);
    assert_int_equal (s_stat (f, "workers"), 2);
    assert_int_equal (s_state_int (f, "counter/cfg", "value"), 2);
    unlink (path);
}

int main (void)
{
    if (!getenv ("SHOAL_BIN") || !getenv ("SHOAL_TEST_MODULE")) {
        fprintf (stderr, "test_bank: run through ctest (SHOAL_BIN and SHOAL_TEST_MODULE unset)\n");
        return 1;
    }
    zsys_init ();
    zsys_handler_set (NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_sagas_cross_workers),
        cmocka_unit_test_setup_teardown (test_double_spend_race, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_closed_target_compensated, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_transfer_retry_after_crash, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_timer_survives_kill, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_inbox_retention, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_stall_notice, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_config_file, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_invariants_under_kills, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
