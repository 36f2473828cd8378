/*  test_node_state.c - what a real node keeps: passivation of actors and finished sagas,
    snapshots across restarts, the events query's pages, duplicate ids,
    rejections that write nothing. The fixture: node_test_util.h.
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
#include <ifaddrs.h>
#include <net/if.h>
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

//  --------------------------------------------------------------------------
//  4. Passivation of idle actors, and snapshots.

static void test_passivation (void **state)
{
    fixture_t *fx = *state;
    node_start (fx, "--idle-ms", "200", NULL);
    const char *addresses[] = {"account/p1", "account/p2", "account/p3"};
    for (int a = 0; a < 3; a++) {
        node_ok (fx, addresses[a], "Open", "owner=P", "overdraft=5", NULL);
        for (int d = 0; d <= a; d++)
            node_ok (fx, addresses[a], "Deposit", "amount=10", NULL);
    }
    node_ok (fx, "account/p3", "Withdraw", "amount=35", NULL);
    //  (A slow run may already have passivated p1 here: it is idle.)
    int64_t active = node_stat (fx, "active");
    assert_true (active >= 1 && active <= 3);

    zclock_sleep (1600);
    int64_t deadline = zclock_mono () + 3000; //  slack for a slow ASan run
    while (node_stat (fx, "active") > 0 && zclock_mono () < deadline)
        zclock_sleep (50);
    assert_int_equal (node_stat (fx, "active"), 0);
    assert_true (node_stat (fx, "passivations") >= 3);
    int64_t activations = node_stat (fx, "activations");

    //  Activated again from the journal, in the same state.
    int64_t version, balance;
    char status[16];
    node_get (fx, "account/p1", &version, &balance, status, sizeof status);
    assert_int_equal (version, 2);
    assert_int_equal (balance, 10);
    assert_string_equal (status, "open");
    node_get (fx, "account/p2", &version, &balance, NULL, 0);
    assert_int_equal (version, 3);
    assert_int_equal (balance, 20);
    node_get (fx, "account/p3", &version, &balance, NULL, 0);
    assert_int_equal (version, 5);
    assert_int_equal (balance, -5);
    assert_int_equal (node_stat (fx, "activations"), activations + 3);
    //  And its overdraft came back with it.
    node_rejected (fx, "insufficient_funds", "account/p3", "Withdraw", "amount=1", NULL);
    assert_int_equal (node_ok (fx, "account/p3", "Deposit", "amount=6", NULL), 1);
}

#define SAGAS 20

//  The transfer's status, by a get.
static void s_transfer_status (fixture_t *fx, const char *address, char *status, size_t size)
{
    node_get (fx, address, NULL, NULL, status, size);
}

//  A saga at its end asks to leave memory (shoal_ctx_passivate): with
//  --idle-ms at its default of a minute, the finished transfers are out
//  of the table at once, a client's get of one, or its Start sent again,
//  loads it for the answer only, and a message to one loads it again, in
//  the state it ended in.
static void test_passivate_finished_sagas (void **state)
{
    fixture_t *fx = *state;
    node_start (fx, NULL);
    node_ok (fx, "account/s1", "Open", "owner=S", NULL);
    node_ok (fx, "account/s2", "Open", "owner=S", NULL);
    node_ok (fx, "account/s1", "Deposit", "amount=1000", NULL);
    int64_t passivations = node_stat (fx, "passivations");
    char address[32], status[16];
    uint8_t start_id[ENVELOPE_ID_SIZE];
    memset (start_id, 0x5a, sizeof start_id);
    client_reply_t reply;
    for (int i = 0; i < SAGAS; i++) {
        snprintf (address, sizeof address, "transfer/ps%d", i);
        if (i == 0) { //  with an id of ours, to send it again below
            node_call (fx->client, ENVELOPE_COMMAND, start_id, address, "Start", &reply, "from=s1",
                       "to=s2", "amount=7", NULL);
            assert_true (reply.ok);
            client_reply_close (&reply);
        } else
            node_ok (fx, address, "Start", "from=s1", "to=s2", "amount=7", NULL);
        int64_t deadline = zclock_mono () + 10000;
        do {
            s_transfer_status (fx, address, status, sizeof status);
            if (strcmp (status, "completed") != 0)
                zclock_sleep (10);
        } while (strcmp (status, "completed") != 0 && zclock_mono () < deadline);
        assert_string_equal (status, "completed");
    }
    //  Only the two accounts stay; every saga left, each once.
    int64_t deadline = zclock_mono () + 10000;
    while (node_stat (fx, "active") != 2 && zclock_mono () < deadline)
        zclock_sleep (20);
    assert_int_equal (node_stat (fx, "active"), 2);
    assert_int_equal (node_stat (fx, "passivations"), passivations + SAGAS);

    //  A get reads a finished saga without keeping it.
    int64_t version;
    for (int i = 0; i < SAGAS; i++) {
        snprintf (address, sizeof address, "transfer/ps%d", i);
        node_get (fx, address, &version, NULL, status, sizeof status);
        assert_string_equal (status, "completed");
        assert_int_equal (version, 3); //  Started, Debited, Completed
    }
    assert_int_equal (node_stat (fx, "active"), 2);

    //  Its Start again, the same id: answered from its first event, as
    //  the first time (a duplicate), and it is not kept either.
    int64_t duplicates = node_stat (fx, "duplicates");
    node_call (fx->client, ENVELOPE_COMMAND, start_id, "transfer/ps0", "Start", &reply, "from=s1",
               "to=s2", "amount=7", NULL);
    assert_true (reply.ok);
    client_reply_close (&reply);
    assert_int_equal (node_stat (fx, "duplicates"), duplicates + 1);
    assert_int_equal (node_stat (fx, "active"), 2);

    //  A command loads it again, answers from its state, and it leaves
    //  again once that turn is committed.
    node_ok (fx, "transfer/ps0", "Status", NULL);
    deadline = zclock_mono () + 10000;
    while (node_stat (fx, "active") != 2 && zclock_mono () < deadline)
        zclock_sleep (20);
    assert_int_equal (node_stat (fx, "active"), 2);
    assert_int_equal (node_stat (fx, "passivations"), passivations + SAGAS + 1);
    int64_t balance;
    node_get (fx, "account/s1", NULL, &balance, NULL, 0);
    assert_int_equal (balance, 1000 - 7 * SAGAS);
    node_get (fx, "account/s2", NULL, &balance, NULL, 0);
    assert_int_equal (balance, 7 * SAGAS);
}

static void test_snapshots (void **state)
{
    fixture_t *fx = *state;
    node_start (fx, "--snapshot-every", "5", "--shards", "8", NULL);
    assert_int_equal (node_stat (fx, "shards"), 8);
    node_ok (fx, "account/s", "Open", "owner=Snap", "overdraft=7", NULL);
    int64_t expected = 0;
    for (int i = 1; i <= 23; i++) {
        char amount[32];
        snprintf (amount, sizeof amount, "amount=%d", i);
        expected += i;
        assert_int_equal (node_ok (fx, "account/s", "Deposit", amount, NULL), expected);
    }
    client_reply_t before;
    node_call (fx->client, ENVELOPE_QUERY, NULL, "account/s", "get", &before, NULL);
    assert_true (before.ok);
    char *before_json = node_json (before.data, before.size);
    client_reply_close (&before);
    assert_string_equal (before_json,
                         "{\"address\":\"account/s\",\"version\":24,\"state\":{\"status\":\"open\","
                         "\"owner\":\"Snap\",\"balance\":276,\"overdraft\":7}}");

    //  Killed; the store holds a snapshot at 20 and four events after it.
    client_destroy (&fx->client);
    node_child_stop (&fx->node, SIGKILL);
    int code;
    char *error = NULL;
    journal_t *journal = journal_open (fx->data, NULL, &code, &error);
    assert_non_null (journal);
    int64_t seq;
    uint8_t *snapshot;
    size_t size;
    assert_int_equal (journal_snapshot_get (journal, "account/s", &seq, &snapshot, &size), 0);
    assert_int_equal (seq, 20);
    free (snapshot);
    journal_destroy (&journal);

    //  No --shards: the store's count holds (another count is refused, see
    //  test_shard.c).
    node_start (fx, "--snapshot-every", "5", NULL);
    assert_int_equal (node_stat (fx, "shards"), 8); //  fixed when the store was made
    client_reply_t after;
    node_call (fx->client, ENVELOPE_QUERY, NULL, "account/s", "get", &after, NULL);
    assert_true (after.ok);
    char *after_json = node_json (after.data, after.size);
    client_reply_close (&after);
    assert_string_equal (after_json, before_json);
    free (before_json);
    free (after_json);
    assert_int_equal (node_events (fx, "account/s"), 24);
    //  It goes on from there: version 25, the overdraft still applies.
    assert_int_equal (node_ok (fx, "account/s", "Withdraw", "amount=283", NULL), -7);
    node_rejected (fx, "insufficient_funds", "account/s", "Withdraw", "amount=1", NULL);
    int64_t version, balance;
    node_get (fx, "account/s", &version, &balance, NULL, 0);
    assert_int_equal (version, 25);
    assert_int_equal (balance, -7);
    assert_int_equal (node_events (fx, "account/s"), 25);
    //  Event 25 took a snapshot: restored from it alone, nothing after it.
    node_restart (fx, SIGKILL, "--snapshot-every", "5", NULL, NULL);
    node_get (fx, "account/s", &version, &balance, NULL, 0);
    assert_int_equal (version, 25);
    assert_int_equal (balance, -7);
    node_rejected (fx, "insufficient_funds", "account/s", "Withdraw", "amount=1", NULL);
    assert_int_equal (node_ok (fx, "account/s", "Deposit", "amount=7", NULL), 0);
}

//  Events read back page by page: the events query pages at 1000, and
//  `shoal events` follows the pages.
static void s_make_ordered_deposit (void *arg, size_t index, char *to, size_t to_size, char *field,
                                    size_t field_size)
{
    snprintf (to, to_size, "account/long");
    snprintf (field, field_size, "amount=%zu", index + 1);
}

static void test_events_paging (void **state)
{
    fixture_t *fx = *state;
    node_start (fx, NULL);
    node_ok (fx, "account/long", "Open", "owner=L", NULL);
    //  On one connection, so that they arrive and commit in order.
    client_t *one = fx->client;
    for (size_t i = 0; i < 1199; i++) {
        char to[32], field[32];
        s_make_ordered_deposit (NULL, i, to, sizeof to, field, sizeof field);
        char *fields[] = {field};
        uint8_t *payload;
        size_t size;
        char error[64];
        assert_int_equal (client_fields (1, fields, &payload, &size, error, sizeof error), 0);
        envelope_t request;
        client_request (&request, ENVELOPE_COMMAND, NULL, to, "Deposit", payload, size);
        assert_int_equal (client_send (one, &request), 0);
        free (payload);
    }
    for (size_t i = 0; i < 1199; i++) {
        client_reply_t reply;
        assert_int_equal (client_recv (one, CALL_TIMEOUT_MS, &reply), 0);
        assert_true (reply.ok);
        client_reply_close (&reply);
    }
    int64_t version, balance;
    node_get (fx, "account/long", &version, &balance, NULL, 0);
    assert_int_equal (version, 1200);
    assert_int_equal (balance, 1199 * 1200 / 2);
    assert_int_equal (node_events (fx, "account/long"), 1200);

    client_reply_t reply;
    node_call (fx->client, ENVELOPE_QUERY, NULL, "account/long", "events", &reply, "from=1", NULL);
    int64_t next;
    assert_int_equal (map_int (reply.data, reply.size, "next", &next), 0);
    assert_int_equal (next, 1001); //  the default page
    client_reply_close (&reply);
    node_call (fx->client, ENVELOPE_QUERY, NULL, "account/long", "events", &reply, "from=5",
               "limit=10", NULL);
    assert_int_equal (map_int (reply.data, reply.size, "next", &next), 0);
    assert_int_equal (next, 15);
    char *json = node_json (reply.data, reply.size);
    assert_non_null (strstr (json, "{\"seq\":5,\"event\":\"Deposited\",\"data\":{\"amount\":4}"));
    assert_non_null (strstr (json, "{\"seq\":14,\"event\":\"Deposited\",\"data\":{\"amount\":13}"));
    assert_null (strstr (json, "\"seq\":15,"));
    free (json);
    client_reply_close (&reply);

    static char out[64 * 1024];
    char command[512];
    snprintf (command, sizeof command, "'%s' events --endpoint '%s' account/long", node_bin (),
              fx->node.endpoint);
    FILE *pipe = popen (command, "r");
    assert_non_null (pipe);
    size_t lines = 0;
    char line[256];
    while (fgets (line, sizeof line, pipe)) {
        lines++;
        char expected[64];
        snprintf (expected, sizeof expected, "{\"seq\":%zu,", lines);
        assert_true (strncmp (line, expected, strlen (expected)) == 0);
    }
    int status = pclose (pipe);
    assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    assert_int_equal (lines, 1200);
    int code = node_run (fx, out, NULL, "'%s' events --endpoint '%s' --from 1150 account/long",
                         node_bin (), fx->node.endpoint);
    assert_int_equal (code, 0);
    lines = 0;
    for (char *p = out; (p = strchr (p, '\n')); p++)
        lines++;
    assert_int_equal (lines, 51);
    assert_true (strncmp (out, "{\"seq\":1150,", 12) == 0);
}

//  --------------------------------------------------------------------------
//  5. The same message id twice: one effect, the same reply.

//  Sends the command with id twice, one after the other, and checks both
//  replies are the same. Returns whether it was accepted.
static bool s_twice (fixture_t *fx, const char *id_text, const char *to, const char *name,
                     const char *field)
{
    uint8_t id[ENVELOPE_ID_SIZE];
    client_id_from_string (id_text, id);
    client_reply_t first, second;
    node_call (fx->client, ENVELOPE_COMMAND, id, to, name, &first, field, NULL);
    node_call (fx->client, ENVELOPE_COMMAND, id, to, name, &second, field, NULL);
    assert_int_equal (first.ok, second.ok);
    assert_string_equal (first.code, second.code);
    assert_string_equal (first.reason, second.reason);
    assert_int_equal (first.size, second.size);
    assert_memory_equal (first.data, second.data, first.size);
    bool ok = first.ok;
    client_reply_close (&first);
    client_reply_close (&second);
    return ok;
}

static void test_duplicate_ids (void **state)
{
    fixture_t *fx = *state;
    node_start (fx, NULL);
    node_ok (fx, "account/d", "Open", "owner=D", NULL);
    int64_t version, balance;

    //  Accepted: one deposit of 10, answered twice.
    assert_true (s_twice (fx, "dup-1", "account/d", "Deposit", "amount=10"));
    node_get (fx, "account/d", &version, &balance, NULL, 0);
    assert_int_equal (version, 2);
    assert_int_equal (balance, 10);

    //  Rejected: the stored rejection stands even once it would pass.
    assert_false (s_twice (fx, "dup-2", "account/d", "Withdraw", "amount=50"));
    node_get (fx, "account/d", &version, &balance, NULL, 0);
    assert_int_equal (version, 2);
    assert_int_equal (balance, 10);
    node_ok (fx, "account/d", "Deposit", "amount=100", NULL);
    uint8_t id[ENVELOPE_ID_SIZE];
    client_id_from_string ("dup-2", id);
    client_reply_t reply;
    node_call (fx->client, ENVELOPE_COMMAND, id, "account/d", "Withdraw", &reply, "amount=50",
               NULL);
    assert_false (reply.ok);
    assert_string_equal (reply.code, "insufficient_funds");
    client_reply_close (&reply);
    node_get (fx, "account/d", &version, &balance, NULL, 0);
    assert_int_equal (version, 3);
    assert_int_equal (balance, 110);

    //  Both copies in flight at once (likely in one group commit).
    client_id_from_string ("dup-pipelined", id);
    uint8_t *payload;
    size_t size;
    char *fields[] = {"amount=5"};
    char error[128];
    assert_int_equal (client_fields (1, fields, &payload, &size, error, sizeof error), 0);
    envelope_t request;
    client_request (&request, ENVELOPE_COMMAND, id, "account/d", "Deposit", payload, size);
    assert_int_equal (client_send (fx->client, &request), 0);
    assert_int_equal (client_send (fx->client, &request), 0);
    free (payload);
    int64_t balances[2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal (client_recv (fx->client, CALL_TIMEOUT_MS, &reply), 0);
        assert_memory_equal (reply.correlation, id, ENVELOPE_ID_SIZE);
        assert_true (reply.ok);
        assert_int_equal (map_int (reply.data, reply.size, "balance", &balances[i]), 0);
        client_reply_close (&reply);
    }
    assert_int_equal (balances[0], 115);
    assert_int_equal (balances[1], 115);
    node_get (fx, "account/d", &version, &balance, NULL, 0);
    assert_int_equal (version, 4);
    assert_int_equal (balance, 115);

    //  Through the binary: same exit code, byte-identical stdout.
    const char *cases[][3] = {{"dup-3", "Deposit", "0"}, {"dup-4", "Withdraw", "1"}};
    for (int c = 0; c < 2; c++) {
        char out[2][OUTPUT_MAX];
        for (int run = 0; run < 2; run++) {
            int code = node_run (
                fx, out[run], NULL, "'%s' send --endpoint '%s' --id %s account/d %s amount=%s",
                node_bin (), fx->node.endpoint, cases[c][0], cases[c][1], c == 0 ? "7" : "1000");
            assert_int_equal (code, atoi (cases[c][2]));
        }
        assert_string_equal (out[0], out[1]);
        assert_non_null (
            strstr (out[0], c == 0 ? "\"ok\":true" : "\"code\":\"insufficient_funds\""));
        char hex[2 * ENVELOPE_ID_SIZE + 1];
        client_id_from_string (cases[c][0], id);
        client_id_hex (id, hex);
        assert_non_null (strstr (out[0], hex));
    }
    node_get (fx, "account/d", &version, &balance, NULL, 0);
    assert_int_equal (version, 5);
    assert_int_equal (balance, 122);
    assert_int_equal (node_events (fx, "account/d"), 5);
    assert_int_equal (node_stat (fx, "duplicates"), 6);

    //  The inbox outlives the node: after a clean stop (SIGTERM, exit 0,
    //  so no leak either under ASan) dup-1 is still answered, not redone.
    node_restart (fx, SIGTERM, NULL, NULL, NULL, NULL);
    client_id_from_string ("dup-1", id);
    node_call (fx->client, ENVELOPE_COMMAND, id, "account/d", "Deposit", &reply, "amount=10", NULL);
    assert_true (reply.ok);
    assert_int_equal (map_int (reply.data, reply.size, "balance", &balance), 0);
    assert_int_equal (balance, 10); //  the balance it answered the first time
    client_reply_close (&reply);
    node_get (fx, "account/d", &version, &balance, NULL, 0);
    assert_int_equal (version, 5);
    assert_int_equal (balance, 122);
    assert_int_equal (node_stat (fx, "duplicates"), 1);
}

static void test_rejections_write_nothing (void **state)
{
    fixture_t *fx = *state;
    node_start (fx, NULL);
    node_ok (fx, "account/r", "Open", "owner=R", "overdraft=100", NULL);
    node_ok (fx, "account/r", "Deposit", "amount=50", NULL);
    books_t r = node_books (fx, "account/r");
    assert_int_equal (r.version, 2);
    int64_t events_before = node_stat (fx, "events");

    node_rejected (fx, "unknown_type", "nosuchtype/x", "Open", "owner=X", NULL);
    client_reply_t reply;
    node_call (fx->client, ENVELOPE_QUERY, NULL, "nosuchtype/x", "get", &reply, NULL);
    assert_false (reply.ok);
    assert_string_equal (reply.code, "unknown_type");
    client_reply_close (&reply);
    node_call (fx->client, ENVELOPE_QUERY, NULL, "account/r", "frobnicate", &reply, NULL);
    assert_false (reply.ok);
    assert_string_equal (reply.code, "unknown_query");
    client_reply_close (&reply);

    node_rejected (fx, "unknown_command", "account/r", "Fly", "amount=1", NULL);
    node_rejected (fx, "invalid_amount", "account/r", "Deposit", "amount=abc", NULL);
    node_rejected (fx, "invalid_amount", "account/r", "Deposit", "amount=-5", NULL);
    node_rejected (fx, "invalid_amount", "account/r", "Deposit", "amount=0", NULL);
    node_rejected (fx, "invalid_amount", "account/r", "Deposit", "amount=1.5", NULL);
    node_rejected (fx, "invalid_amount", "account/r", "Deposit", "amount=true", NULL);
    node_rejected (fx, "invalid_amount", "account/r", "Deposit", NULL);
    node_rejected (fx, "invalid_amount", "account/r", "Withdraw", "amount=-9223372036854775808",
                   NULL);
    node_rejected (fx, "invalid_amount", "account/r", "Withdraw", "amnt=5", NULL);
    node_rejected (fx, "invalid_field", "account/r", "Debit", "amount=5", NULL);
    node_rejected (fx, "invalid_field", "account/r", "Credit", "amount=5", "transfer=", NULL);
    node_rejected (fx, "already_open", "account/r", "Open", "owner=Again", NULL);
    //  Overdraft: down to -100 and no further.
    node_rejected (fx, "insufficient_funds", "account/r", "Withdraw", "amount=151", NULL);
    node_rejected (fx, "insufficient_funds", "account/r", "Withdraw", "amount=9223372036854775807",
                   NULL);
    node_same_books (fx, "account/r", r);
    assert_int_equal (node_stat (fx, "events"), events_before);
    assert_int_equal (node_ok (fx, "account/r", "Withdraw", "amount=150", NULL), -100);
    node_rejected (fx, "insufficient_funds", "account/r", "Withdraw", "amount=1", NULL);
    node_rejected (fx, "insufficient_funds", "account/r", "Withdraw", "amount=9223372036854775807",
                   NULL); //  -100 - INT64_MAX overflows
    r = node_books (fx, "account/r");
    assert_int_equal (r.version, 3);
    assert_int_equal (r.balance, -100);

    //  Bad Opens leave the account never opened.
    char owner[80] = "owner=";
    memset (owner + 6, 'o', 65); //  one byte over ACCOUNT_OWNER_MAX
    owner[6 + 65] = 0;
    node_rejected (fx, "invalid_field", "account/n", "Open", owner, NULL);
    node_rejected (fx, "invalid_field", "account/n", "Open", "owner=", NULL);
    node_rejected (fx, "invalid_field", "account/n", "Open", "owner=5", NULL);
    node_rejected (fx, "invalid_field", "account/n", "Open", NULL);
    node_rejected (fx, "invalid_amount", "account/n", "Open", "owner=N", "overdraft=-1", NULL);
    node_rejected (fx, "invalid_amount", "account/n", "Open", "owner=N", "overdraft=abc", NULL);
    node_rejected (fx, "not_open", "account/n", "Deposit", "amount=5", NULL);
    node_rejected (fx, "not_open", "account/n", "Close", NULL);
    books_t n = node_books (fx, "account/n");
    assert_int_equal (n.version, 0);
    assert_int_equal (n.balance, 0);
    char status[16];
    node_get (fx, "account/n", NULL, NULL, status, sizeof status);
    assert_string_equal (status, "none");
    //  An owner of exactly 64 bytes is fine.
    owner[6 + 64] = 0;
    node_ok (fx, "account/n", "Open", owner, NULL);

    //  Overflow: INT64_MAX, then 1 more.
    node_ok (fx, "account/o", "Open", "owner=O", NULL);
    assert_int_equal (node_ok (fx, "account/o", "Deposit", "amount=9223372036854775807", NULL),
                      INT64_MAX);
    books_t o = node_books (fx, "account/o");
    node_rejected (fx, "overflow", "account/o", "Deposit", "amount=1", NULL);
    //  A Refund from a client: not a transfer's (test_account has the
    //  overflow of a transfer's Refund).
    node_rejected (fx, "not_a_transfer", "account/o", "Refund", "transfer=t1", "amount=1", NULL);
    node_rejected (fx, "not_a_transfer", "account/o", "Credit", "transfer=t1", "amount=1", NULL);
    node_same_books (fx, "account/o", o);
    assert_int_equal (o.balance, INT64_MAX);

    //  Closed: no money moves any more.
    node_ok (fx, "account/o", "Close", NULL);
    books_t closed = node_books (fx, "account/o");
    node_rejected (fx, "closed", "account/o", "Close", NULL);
    node_rejected (fx, "closed", "account/o", "Withdraw", "amount=1", NULL);
    node_rejected (fx, "closed", "account/o", "Deposit", "amount=1", NULL);
    node_rejected (fx, "already_open", "account/o", "Open", "owner=O", NULL);
    node_same_books (fx, "account/o", closed);
    node_same_books (fx, "account/r", r);
}

//  A node alone may listen on the loopback interface by its name
//  (tcp://lo:PORT binds loopback's addresses alone; it was refused as
//  reachable from another machine), and not on another interface's.
static void test_listen_refusal (void **state)
{
    (void) state;
    assert_null (shoal_node_listen_refusal ("tcp://127.0.0.1:7799", false));
    assert_null (shoal_node_listen_refusal ("tcp://lo:7799", false));
    char *refusal = shoal_node_listen_refusal ("tcp://0.0.0.0:7799", false);
    assert_non_null (refusal);
    free (refusal);
    struct ifaddrs *all;
    assert_int_equal (getifaddrs (&all), 0);
    for (struct ifaddrs *each = all; each; each = each->ifa_next)
        if (each->ifa_name && !(each->ifa_flags & IFF_LOOPBACK) && strlen (each->ifa_name) < 32) {
            char endpoint[64];
            snprintf (endpoint, sizeof endpoint, "tcp://%s:7799", each->ifa_name);
            refusal = shoal_node_listen_refusal (endpoint, false);
            if (!refusal)
                fail_msg ("%s, not loopback, was taken for loopback", endpoint);
            free (refusal);
        }
    freeifaddrs (all);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_listen_refusal),
        cmocka_unit_test_setup_teardown (test_passivation, node_setup, node_teardown),
        cmocka_unit_test_setup_teardown (test_passivate_finished_sagas, node_setup, node_teardown),
        cmocka_unit_test_setup_teardown (test_snapshots, node_setup, node_teardown),
        cmocka_unit_test_setup_teardown (test_events_paging, node_setup, node_teardown),
        cmocka_unit_test_setup_teardown (test_duplicate_ids, node_setup, node_teardown),
        cmocka_unit_test_setup_teardown (test_rejections_write_nothing, node_setup, node_teardown),
    };
    //  SHOAL_TEST_FILTER=test_module* runs the tests whose names match.
    if (getenv ("SHOAL_TEST_FILTER"))
        cmocka_set_test_filter (getenv ("SHOAL_TEST_FILTER"));
    return cmocka_run_group_tests (tests, NULL, NULL);
}
