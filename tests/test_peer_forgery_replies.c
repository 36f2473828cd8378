/*  test_peer_forgery_replies.c - forged replies and timers on a peer's link:
    a reply taken only from its target, a timer that never crosses nodes,
    a cancel's reply only from its target. The fixture:
    peer_forgery_test_util.h.
*/
#include "client.h"
#include "cluster.h"
#include "harness.h"
#include "proc.h"
#include "shard.h"

#include <czmq.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "peer_forgery_test_util.h"

#define ROWS_MAX 8

//  Waits until transfer's status is want (and stalled, if asked).
static void s_wait_status (client_t *client, const char *transfer, const char *want,
                           bool and_stalled)
{
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    char status[32];
    bool stalled;
    do {
        cluster_client_transfer_status (client, transfer, status, sizeof status, &stalled);
        if (streq (status, want) && (stalled || !and_stalled))
            return;
        zclock_sleep (50);
    } while (zclock_mono () < deadline);
    fail_msg ("%s is %s (stalled %d), never %s", transfer, status, stalled, want);
}

//  An actor's pending commands and timers, as its `pending` query says.
typedef struct {
    int count;
    char command[ROWS_MAX][64];
    char id[ROWS_MAX][33];
    int timers;
} pending_t;

static void s_pending (client_t *client, const char *address, pending_t *pending)
{
    memset (pending, 0, sizeof *pending);
    client_reply_t reply;
    int rc = cluster_client_call (client, ENVELOPE_QUERY, address, "pending", 5000, &reply, NULL);
    if (rc != 0)
        fail_msg ("pending %s: %s", address, shoal_strerror (rc));
    assert_true (reply.ok);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *map = map_unpack (&unpacked, reply.data, reply.size);
    const msgpack_object *rows = map_find (map, "pending");
    const msgpack_object *timers = map_find (map, "timers");
    assert_true (rows && rows->type == MSGPACK_OBJECT_ARRAY);
    assert_true (timers && timers->type == MSGPACK_OBJECT_ARRAY);
    pending->timers = (int) timers->via.array.size;
    for (uint32_t i = 0; i < rows->via.array.size && pending->count < ROWS_MAX; i++) {
        const msgpack_object *row = &rows->via.array.ptr[i];
        int n = pending->count++;
        assert_int_equal (map_find_str (row, "command", pending->command[n], 64), 0);
        assert_int_equal (map_find_str (row, "id", pending->id[n], 33), 0);
    }
    msgpack_unpacked_destroy (&unpacked);
    client_reply_close (&reply);
}

//  The id of address's pending command named command, waited for.
static void s_wait_pending (client_t *client, const char *address, const char *command, char id[33])
{
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    pending_t pending;
    do {
        s_pending (client, address, &pending);
        for (int i = 0; i < pending.count; i++)
            if (streq (pending.command[i], command)) {
                strcpy (id, pending.id[i]);
                return;
            }
        zclock_sleep (50);
    } while (zclock_mono () < deadline);
    fail_msg ("%s never had a %s pending", address, command);
}

//  Fails unless address's pending is exactly what it was (same rows, in
//  the same order, same number of timers).
static void s_assert_pending_same (client_t *client, const char *address, const pending_t *before)
{
    pending_t now;
    s_pending (client, address, &now);
    if (now.count != before->count || now.timers != before->timers)
        fail_msg ("%s: %d pending and %d timers, was %d and %d", address, now.count, now.timers,
                  before->count, before->timers);
    for (int i = 0; i < now.count; i++)
        if (!streq (now.command[i], before->command[i]) || !streq (now.id[i], before->id[i]))
            fail_msg ("%s: pending %s %s, was %s %s", address, now.command[i], now.id[i],
                      before->command[i], before->id[i]);
}

//  Sends, as the peer, a reply {ok: true} to `to`'s command correlation.
static void s_forge_ok (fixture_t *f, const char *from, const char *to, const char *name,
                        const char *correlation)
{
    uint8_t *payload;
    size_t size;
    assert_int_equal (envelope_reply_encode (true, NULL, NULL, NULL, 0, &payload, &size), 0);
    peer_forgery_forge (f, ENVELOPE_REPLY, from, to, name, correlation, payload, size);
    free (payload);
}

//  --------------------------------------------------------------------------
//  The forgeries

//  A transfer of n1's from an account of n3's (n3 is not running: its
//  Debit waits) to dst, an account of n1's. Writes the Debit's id.
static void s_debit_waiting (fixture_t *f, const char *transfer, const char *dst, char id[33])
{
    char src[64], from[96], to[96];
    cluster_client_address_on (f->cluster, "account/src", 2, NULL, src, sizeof src);
    peer_forgery_accept (f->client[0], dst, "Open", "owner=dst", NULL, NULL);
    snprintf (from, sizeof from, "from=%s", src);
    snprintf (to, sizeof to, "to=%s", dst);
    peer_forgery_accept (f->client[0], transfer, "Start", from, to, "amount=100");
    s_wait_pending (f->client[0], transfer, "Debit", id);
}

//  Once the canary shows the forgery handled: transfer still started, dst
//  not credited, transfer's pending as before, and one more forgery
//  counted than forged.
static void s_unchanged (fixture_t *f, const char *transfer, const char *dst,
                         const pending_t *before, int64_t forged)
{
    peer_forgery_canary (f);
    char status[32];
    bool stalled;
    cluster_client_transfer_status (f->client[0], transfer, status, sizeof status, &stalled);
    assert_string_equal (status, "started");
    assert_int_equal (cluster_client_balance (f->client[0], dst), 0);
    s_assert_pending_same (f->client[0], transfer, before);
    assert_int_equal (peer_forgery_stat (f->client[0], "forged"), forged + 1);
}

//  A reply is taken from the actor its command went to only. Before, the
//  peer answered the Debit our transfer sent to n3's account as one of
//  n2's accounts: the transfer went on, and credited dst 100 that were
//  never debited.
static void test_reply_only_from_its_target (void **state)
{
    fixture_t *f = *state;
    char transfer[64], dst[64], theirs[64], id[33];
    cluster_client_address_on (f->cluster, "transfer/r", 0, NULL, transfer, sizeof transfer);
    cluster_client_address_on (f->cluster, "account/dst", 0, NULL, dst, sizeof dst);
    cluster_client_address_on (f->cluster, "account/theirs", 1, NULL, theirs, sizeof theirs);
    s_debit_waiting (f, transfer, dst, id);
    pending_t before;
    s_pending (f->client[0], transfer, &before);
    int64_t forged = peer_forgery_stat (f->client[0], "forged");

    s_forge_ok (f, theirs, transfer, "Debit", id);
    s_unchanged (f, transfer, dst, &before, forged);
}

//  A timer never crosses nodes. Before, a peer's TIMER "refund" made a
//  compensating transfer send its Refund again: once per forged timer.
//  The transfer is made to compensate with its refund refused (the source
//  full to the brim) and waiting for its own timer, 60 s away; then the
//  source has room again and the peer sends "refund" twice.
static void test_timer_never_crosses_nodes (void **state)
{
    fixture_t *f = *state;
    char transfer[64], src[64], dst[64], theirs[64], from[96], to[96], id[33];
    cluster_client_address_on (f->cluster, "transfer/t", 0, NULL, transfer, sizeof transfer);
    cluster_client_address_on (f->cluster, "account/src", 0, NULL, src, sizeof src);
    cluster_client_address_on (f->cluster, "account/dst", 2, NULL, dst,
                               sizeof dst); //  never opened
    cluster_client_address_on (f->cluster, "account/theirs", 1, NULL, theirs, sizeof theirs);
    peer_forgery_accept (f->client[0], src, "Open", "owner=src", NULL, NULL);
    peer_forgery_accept (f->client[0], src, "Deposit", "amount=1000", NULL, NULL);
    snprintf (from, sizeof from, "from=%s", src);
    snprintf (to, sizeof to, "to=%s", dst);
    peer_forgery_accept (f->client[0], transfer, "Start", from, to, "amount=100");
    s_wait_pending (f->client[0], transfer, "Credit", id); //  n3 is not running
    char full[64];
    snprintf (full, sizeof full, "amount=%lld", (long long) (INT64_MAX - 900));
    peer_forgery_accept (f->client[0], src, "Deposit", full, NULL, NULL);
    peer_forgery_start_node (f, 2); //  the Credit is refused (not_open), the Refund too (overflow)
    s_wait_status (f->client[0], transfer, "compensating", true);
    peer_forgery_accept (f->client[0], src, "Withdraw", "amount=100", NULL, NULL);
    pending_t before;
    s_pending (f->client[0], transfer, &before);
    assert_int_equal (before.count, 0);
    assert_int_equal (before.timers, 1);
    int64_t forged = peer_forgery_stat (f->client[0], "forged");
    int64_t bad = peer_forgery_stat (f->client[0], "bad_frames");

    peer_forgery_forge (f, ENVELOPE_TIMER, theirs, transfer, "refund", NULL, NULL, 0);
    peer_forgery_forge (f, ENVELOPE_TIMER, transfer, transfer, "refund", NULL, NULL, 0);
    peer_forgery_canary (f);
    char status[32];
    bool stalled;
    cluster_client_transfer_status (f->client[0], transfer, status, sizeof status, &stalled);
    assert_string_equal (status, "compensating");
    assert_int_equal (cluster_client_balance (f->client[0], src), INT64_MAX - 100);
    s_assert_pending_same (f->client[0], transfer, &before);
    //  Refused at the front, which counts them in bad_frames.
    assert_int_equal (peer_forgery_stat (f->client[0], "forged"), forged);
    assert_int_equal (peer_forgery_stat (f->client[0], "bad_frames"), bad + 2);
}

//  The reply to a $cancel is taken from the cancelled command's target
//  only. Before, the peer answered our transfer's $cancel (an operator's
//  resolve of its Debit to n3) with "ok" as one of n2's accounts: the
//  Debit was taken as done, and dst credited.
static void test_cancel_reply_only_from_its_target (void **state)
{
    fixture_t *f = *state;
    char transfer[64], dst[64], theirs[64], id[33], cancel[33];
    cluster_client_address_on (f->cluster, "transfer/c", 0, NULL, transfer, sizeof transfer);
    cluster_client_address_on (f->cluster, "account/dst", 0, NULL, dst, sizeof dst);
    cluster_client_address_on (f->cluster, "account/theirs", 1, NULL, theirs, sizeof theirs);
    s_debit_waiting (f, transfer, dst, id);
    char id_field[48];
    snprintf (id_field, sizeof id_field, "id=%s", id);
    client_reply_t reply;
    assert_int_equal (cluster_client_call (f->client[0], ENVELOPE_COMMAND, transfer, "$resolve",
                                           5000, &reply, id_field, "code=node_lost",
                                           "reason=a test", "operator=test", NULL),
                      0);
    if (!reply.ok)
        fail_msg ("$resolve: %s %s", reply.code, reply.reason);
    client_reply_close (&reply);
    s_wait_pending (f->client[0], transfer, "$cancel", cancel);
    pending_t before;
    s_pending (f->client[0], transfer, &before);
    int64_t forged = peer_forgery_stat (f->client[0], "forged");

    s_forge_ok (f, theirs, transfer, "$cancel", cancel);
    s_unchanged (f, transfer, dst, &before, forged);
}

int main (void)
{
    signal (SIGPIPE, SIG_IGN);
    zsys_init ();
    zsys_set_logstream (stderr);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_reply_only_from_its_target, peer_forgery_setup,
                                         peer_forgery_teardown),
        cmocka_unit_test_setup_teardown (test_timer_never_crosses_nodes, peer_forgery_setup,
                                         peer_forgery_teardown),
        cmocka_unit_test_setup_teardown (test_cancel_reply_only_from_its_target, peer_forgery_setup,
                                         peer_forgery_teardown),
    };
    //  SHOAL_TEST_FILTER=test_timer* runs the tests whose names match.
    if (getenv ("SHOAL_TEST_FILTER"))
        cmocka_set_test_filter (getenv ("SHOAL_TEST_FILTER"));
    return cmocka_run_group_tests (tests, NULL, NULL);
}
