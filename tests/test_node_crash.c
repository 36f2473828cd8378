/*  test_node_crash.c - a real node killed with requests in flight: concurrent withdrawals,
    SIGKILL after an acknowledgement (sync and async), SIGKILL or SIGTERM with
    deposits in flight and their resend. The fixture: node_test_util.h.
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

#define PIPE_CLIENTS 4 //  DEALER sockets a pipeline spreads over

//  What a pipelined request got back.
typedef struct {
    bool answered;                    //  a reply came
    bool ok;                          //  accepted
    char code[ENVELOPE_CODE_MAX + 1]; //  when rejected
    int64_t balance;                  //  the reply's "balance", or INT64_MIN
} outcome_t;

//  Many requests in flight on a few DEALER clients at once.
typedef struct {
    client_t *clients[PIPE_CLIENTS];
    uint32_t tag;        //  in every id, so that replies are matched to us
    size_t count;        //  requests sent
    size_t answered;     //  replies received
    outcome_t *outcomes; //  count of them, by request index
} pipe_t;

//  Fills the address and the one "k=v" field of pipelined request index.
typedef void (pipe_make_fn) (void *arg, size_t index, char *to, size_t to_size, char *field,
                             size_t field_size);

//  --------------------------------------------------------------------------
//  Pipelines: everything sent first, replies collected after

static void s_pipe_id (uint32_t tag, size_t index, uint8_t id[ENVELOPE_ID_SIZE])
{
    uint32_t index32 = (uint32_t) index;
    memset (id, 0, ENVELOPE_ID_SIZE);
    memcpy (id, &tag, 4);
    memcpy (id + 4, &index32, 4);
    id[15] = 0xA5;
}

//  Sends count commands called name, spread over PIPE_CLIENTS clients,
//  without waiting for any reply. The same tag and index give the same
//  message id, so a second pipeline with the tag re-sends the same
//  messages.
static void s_pipe_send (pipe_t *self, fixture_t *fx, uint32_t tag, size_t count, const char *name,
                         pipe_make_fn *make, void *arg)
{
    memset (self, 0, sizeof *self);
    self->tag = tag;
    self->count = count;
    self->outcomes = calloc (count, sizeof (outcome_t));
    assert_non_null (self->outcomes);
    for (int c = 0; c < PIPE_CLIENTS; c++) {
        self->clients[c] = client_new (fx->node.endpoint);
        assert_non_null (self->clients[c]);
    }
    for (size_t i = 0; i < count; i++) {
        char to[SHOAL_ADDRESS_MAX + 1], field[64];
        make (arg, i, to, sizeof to, field, sizeof field);
        char *fields[] = {field};
        uint8_t *payload;
        size_t size;
        char error[256];
        assert_int_equal (client_fields (1, fields, &payload, &size, error, sizeof error), 0);
        uint8_t id[ENVELOPE_ID_SIZE];
        s_pipe_id (tag, i, id);
        envelope_t request;
        client_request (&request, ENVELOPE_COMMAND, id, to, name, payload, size);
        assert_int_equal (client_send (self->clients[i % PIPE_CLIENTS], &request), 0);
        free (payload);
    }
}

//  Collects replies until until of them came, or timeout_ms passed.
//  Every reply must match a request of this pipeline, once.
static void s_pipe_collect (pipe_t *self, size_t until, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (self->answered < until && zclock_mono () < deadline) {
        for (int c = 0; c < PIPE_CLIENTS && self->answered < until; c++) {
            client_reply_t reply;
            int rc = client_recv (self->clients[c], c == 0 ? 5 : 0, &reply);
            if (rc == SHOAL_ETIMEOUT)
                continue;
            assert_int_equal (rc, 0);
            uint8_t id[ENVELOPE_ID_SIZE];
            uint32_t index;
            memcpy (&index, reply.correlation + 4, 4);
            assert_true (index < self->count);
            s_pipe_id (self->tag, index, id);
            assert_memory_equal (reply.correlation, id, ENVELOPE_ID_SIZE);
            outcome_t *outcome = &self->outcomes[index];
            assert_false (outcome->answered);
            outcome->answered = true;
            outcome->ok = reply.ok;
            snprintf (outcome->code, sizeof outcome->code, "%s", reply.code);
            if (!reply.ok || map_int (reply.data, reply.size, "balance", &outcome->balance) != 0)
                outcome->balance = INT64_MIN;
            self->answered++;
            client_reply_close (&reply);
        }
    }
}

//  Drops the clients and whatever they still had queued (linger 0), so
//  that nothing reaches a restarted node on the same endpoint later.
static void s_pipe_disconnect (pipe_t *self)
{
    for (int c = 0; c < PIPE_CLIENTS; c++)
        client_destroy (&self->clients[c]);
}

static void s_pipe_close (pipe_t *self)
{
    s_pipe_disconnect (self);
    free (self->outcomes);
    self->outcomes = NULL;
}

//  --------------------------------------------------------------------------
//  2. 1000 concurrent withdrawals of 1 against a balance of 500.

static void s_make_withdraw (void *arg, size_t index, char *to, size_t to_size, char *field,
                             size_t field_size)
{
    snprintf (to, to_size, "account/hot");
    snprintf (field, field_size, "amount=1");
}

static void test_concurrent_withdrawals (void **state)
{
    fixture_t *fx = *state;
    node_start (fx, NULL);
    node_ok (fx, "account/hot", "Open", "owner=Hot", NULL);
    assert_int_equal (node_ok (fx, "account/hot", "Deposit", "amount=500", NULL), 500);

    pipe_t pipe;
    s_pipe_send (&pipe, fx, 0x7701, 1000, "Withdraw", s_make_withdraw, NULL);
    s_pipe_collect (&pipe, 1000, 30000);
    assert_int_equal (pipe.answered, 1000);
    size_t accepted = 0, rejected = 0;
    bool balance_seen[500] = {false};
    for (size_t i = 0; i < 1000; i++) {
        outcome_t *outcome = &pipe.outcomes[i];
        if (outcome->ok) {
            accepted++;
            //  Each accepted withdrawal saw its own balance: 499 down to 0.
            assert_true (outcome->balance >= 0 && outcome->balance < 500);
            assert_false (balance_seen[outcome->balance]);
            balance_seen[outcome->balance] = true;
        } else {
            rejected++;
            assert_string_equal (outcome->code, "insufficient_funds");
        }
    }
    s_pipe_close (&pipe);
    assert_int_equal (accepted, 500);
    assert_int_equal (rejected, 500);

    int64_t version, balance;
    node_get (fx, "account/hot", &version, &balance, NULL, 0);
    assert_int_equal (balance, 0);
    assert_int_equal (version, 2 + 500);
    assert_int_equal (node_events (fx, "account/hot"), 502);
    assert_int_equal (node_stat (fx, "accepted"), 2 + 500);
    assert_int_equal (node_stat (fx, "rejected"), 500);
}

//  --------------------------------------------------------------------------
//  3. SIGKILL right after a batch is acknowledged loses nothing.

#define KILL_ACCOUNTS 30

#define KILL_DEPOSITS 300

static void s_make_deposit (void *arg, size_t index, char *to, size_t to_size, char *field,
                            size_t field_size)
{
    size_t accounts = *(size_t *) arg;
    snprintf (to, to_size, "account/k%zu", index % accounts);
    snprintf (field, field_size, "amount=%zu", index + 1);
}

static void test_sigkill_after_ack (void **state)
{
    fixture_t *fx = *state;
    node_start (fx, NULL);
    for (int a = 0; a < KILL_ACCOUNTS; a++) {
        char address[32];
        snprintf (address, sizeof address, "account/k%d", a);
        node_ok (fx, address, "Open", "owner=K", NULL);
    }
    size_t accounts = KILL_ACCOUNTS;
    pipe_t pipe;
    s_pipe_send (&pipe, fx, 0x7703, KILL_DEPOSITS, "Deposit", s_make_deposit, &accounts);
    s_pipe_collect (&pipe, KILL_DEPOSITS, 30000);
    //  Every one acknowledged: kill at once, before anything else happens.
    size_t answered = pipe.answered;
    s_pipe_disconnect (&pipe);
    node_restart (fx, SIGKILL, NULL, NULL, NULL, NULL);
    assert_int_equal (answered, KILL_DEPOSITS);
    for (size_t i = 0; i < KILL_DEPOSITS; i++)
        assert_true (pipe.outcomes[i].ok);
    s_pipe_close (&pipe);

    for (int a = 0; a < KILL_ACCOUNTS; a++) {
        char address[32];
        snprintf (address, sizeof address, "account/k%d", a);
        int64_t expected = 0;
        for (int i = a; i < KILL_DEPOSITS; i += KILL_ACCOUNTS)
            expected += i + 1;
        int64_t version, balance;
        char status[16];
        node_get (fx, address, &version, &balance, status, sizeof status);
        assert_string_equal (status, "open");
        assert_int_equal (balance, expected);
        assert_int_equal (version, 1 + KILL_DEPOSITS / KILL_ACCOUNTS);
        assert_int_equal (node_events (fx, address), 1 + KILL_DEPOSITS / KILL_ACCOUNTS);
    }
    //  And the same through `shoal events`: one JSON line per event.
    char out[OUTPUT_MAX];
    int code = node_run (fx, out, NULL, "'%s' events --endpoint '%s' account/k7", node_bin (),
                         fx->node.endpoint);
    assert_int_equal (code, 0);
    int lines = 0;
    for (char *p = out; (p = strchr (p, '\n')); p++)
        lines++;
    assert_int_equal (lines, 1 + KILL_DEPOSITS / KILL_ACCOUNTS);
    assert_non_null (strstr (out, "{\"seq\":1,\"event\":\"Opened\""));
    //  The clients' deposits interleave in any order, but all are there.
    assert_non_null (strstr (out, "{\"seq\":11,\"event\":\"Deposited\",\"data\":{\"amount\":"));
    for (int i = 7; i < KILL_DEPOSITS; i += KILL_ACCOUNTS) {
        char amount[48];
        snprintf (amount, sizeof amount, "\"data\":{\"amount\":%d}}\n", i + 1);
        assert_non_null (strstr (out, amount));
    }
}

//  A stop (SIGKILL, or a clean SIGTERM) with deposits still in flight:
//  whatever was acknowledged is there, nothing is half there, and
//  re-sending every message with its same id after the restart ends with
//  each applied exactly once. Snapshots every 7 events are taken along.
#define MID_ACCOUNTS 10

#define MID_DEPOSITS 1000

static void s_make_unit_deposit (void *arg, size_t index, char *to, size_t to_size, char *field,
                                 size_t field_size)
{
    snprintf (to, to_size, "account/m%zu", index % MID_ACCOUNTS);
    snprintf (field, field_size, "amount=1");
}

static void s_stop_in_flight_then_resend (fixture_t *fx, int sig)
{
    node_start (fx, "--snapshot-every", "7", NULL);
    for (int a = 0; a < MID_ACCOUNTS; a++) {
        char address[32];
        snprintf (address, sizeof address, "account/m%d", a);
        node_ok (fx, address, "Open", "owner=M", NULL);
    }
    pipe_t pipe;
    s_pipe_send (&pipe, fx, 0x7704, MID_DEPOSITS, "Deposit", s_make_unit_deposit, NULL);
    s_pipe_collect (&pipe, MID_DEPOSITS / 5, 30000);
    s_pipe_disconnect (&pipe);
    node_restart (fx, sig, "--snapshot-every", "7", NULL, NULL);
    assert_true (pipe.answered >= MID_DEPOSITS / 5);
    size_t acked[MID_ACCOUNTS] = {0};
    for (size_t i = 0; i < MID_DEPOSITS; i++)
        if (pipe.outcomes[i].answered) {
            assert_true (pipe.outcomes[i].ok);
            acked[i % MID_ACCOUNTS]++;
        }
    size_t acked_total = pipe.answered;
    s_pipe_close (&pipe);

    for (int a = 0; a < MID_ACCOUNTS; a++) {
        char address[32];
        snprintf (address, sizeof address, "account/m%d", a);
        int64_t version, balance;
        node_get (fx, address, &version, &balance, NULL, 0);
        assert_int_equal (balance, version - 1); //  each event a deposit of 1
        assert_true ((size_t) balance >= acked[a]);
        assert_true (balance <= MID_DEPOSITS / MID_ACCOUNTS);
        assert_int_equal (node_events (fx, address), version);
    }

    //  The client never got the other replies: it re-sends everything.
    s_pipe_send (&pipe, fx, 0x7704, MID_DEPOSITS, "Deposit", s_make_unit_deposit, NULL);
    s_pipe_collect (&pipe, MID_DEPOSITS, 30000);
    assert_int_equal (pipe.answered, MID_DEPOSITS);
    for (size_t i = 0; i < MID_DEPOSITS; i++)
        assert_true (pipe.outcomes[i].ok);
    s_pipe_close (&pipe);
    for (int a = 0; a < MID_ACCOUNTS; a++) {
        char address[32];
        snprintf (address, sizeof address, "account/m%d", a);
        int64_t version, balance;
        node_get (fx, address, &version, &balance, NULL, 0);
        assert_int_equal (balance, MID_DEPOSITS / MID_ACCOUNTS);
        assert_int_equal (version, 1 + MID_DEPOSITS / MID_ACCOUNTS);
        assert_int_equal (node_events (fx, address), 1 + MID_DEPOSITS / MID_ACCOUNTS);
    }
    assert_true (node_stat (fx, "duplicates") >= (int64_t) acked_total);
}

static void test_sigkill_in_flight_then_resend (void **state)
{
    s_stop_in_flight_then_resend (*state, SIGKILL);
}

static void test_sigterm_in_flight_then_resend (void **state)
{
    s_stop_in_flight_then_resend (*state, SIGTERM);
}

//  With --durability async a commit is not fsynced, but it is written:
//  a process crash (not a power cut) still loses no acknowledged change.
static void test_async_sigkill_after_ack (void **state)
{
    fixture_t *fx = *state;
    node_start (fx, "--durability", "async", NULL);
    size_t accounts = 10;
    for (size_t a = 0; a < accounts; a++) {
        char address[32];
        snprintf (address, sizeof address, "account/k%zu", a);
        node_ok (fx, address, "Open", "owner=A", NULL);
    }
    pipe_t pipe;
    s_pipe_send (&pipe, fx, 0x7705, 200, "Deposit", s_make_deposit, &accounts);
    s_pipe_collect (&pipe, 200, 30000);
    size_t answered = pipe.answered;
    s_pipe_disconnect (&pipe);
    node_restart (fx, SIGKILL, "--durability", "async", NULL, NULL);
    assert_int_equal (answered, 200);
    for (size_t i = 0; i < 200; i++)
        assert_true (pipe.outcomes[i].ok);
    s_pipe_close (&pipe);
    for (size_t a = 0; a < accounts; a++) {
        char address[32];
        snprintf (address, sizeof address, "account/k%zu", a);
        int64_t expected = 0;
        for (size_t i = a; i < 200; i += accounts)
            expected += (int64_t) i + 1;
        int64_t version, balance;
        node_get (fx, address, &version, &balance, NULL, 0);
        assert_int_equal (balance, expected);
        assert_int_equal (version, 1 + 200 / accounts);
        assert_int_equal (node_events (fx, address), 1 + 200 / accounts);
    }
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_concurrent_withdrawals, node_setup, node_teardown),
        cmocka_unit_test_setup_teardown (test_sigkill_after_ack, node_setup, node_teardown),
        cmocka_unit_test_setup_teardown (test_sigkill_in_flight_then_resend, node_setup,
                                         node_teardown),
        cmocka_unit_test_setup_teardown (test_sigterm_in_flight_then_resend, node_setup,
                                         node_teardown),
        cmocka_unit_test_setup_teardown (test_async_sigkill_after_ack, node_setup, node_teardown),
    };
    //  SHOAL_TEST_FILTER=test_module* runs the tests whose names match.
    if (getenv ("SHOAL_TEST_FILTER"))
        cmocka_set_test_filter (getenv ("SHOAL_TEST_FILTER"));
    return cmocka_run_group_tests (tests, NULL, NULL);
}
