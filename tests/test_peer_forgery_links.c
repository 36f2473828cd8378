/*  test_peer_forgery_links.c - forged answers and stolen keys on peers' links:
    an answer only on our link and only to a client that called, a stolen
    key that takes no other name, a flood bounded in bytes. The fixture:
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

static const char s_forged[] = "a frame the peer made";

//  A client of n1's that chose its routing id (libzmq's own are a
//  counter), with the cluster's client key.
static zsock_t *s_client_with_id (fixture_t *f, const char *id)
{
    char path[256];
    snprintf (path, sizeof path, "%s/c/client.cert", f->dir);
    zcert_t *cert = zcert_load (path);
    assert_non_null (cert);
    zsock_t *client = zsock_new (ZMQ_DEALER);
    assert_non_null (client);
    zsock_set_linger (client, 0);
    zsock_set_rcvtimeo (client, DEADLINE_MS);
    zsock_set_identity (client, id);
    zcert_apply (cert, client);
    zcert_destroy (&cert);
    zsock_set_curve_serverkey (client, cluster_node_key (f->cluster, 0));
    assert_int_equal (zsock_connect (client, "%s", cluster_node_client (f->cluster, 0)), 0);
    return client;
}

//  Sends request (kind, to, name, no fields) on client; writes its id.
static void s_send_request (zsock_t *client, envelope_kind_t kind, const char *to, const char *name,
                            uint8_t id[ENVELOPE_ID_SIZE])
{
    envelope_t request;
    client_request (&request, kind, NULL, to, name, NULL, 0);
    memcpy (id, request.id, ENVELOPE_ID_SIZE);
    uint8_t *frame;
    size_t size;
    assert_int_equal (envelope_encode (&request, &frame, &size), 0);
    assert_int_equal (zmq_send (zsock_resolve (client), frame, size, 0), (int) size);
    free (frame);
}

//  Asks stats on client and reads frames until its answer; fails if one
//  before it was the peer's forged frame.
static void s_stats_unforged (zsock_t *client)
{
    uint8_t id[ENVELOPE_ID_SIZE];
    s_send_request (client, ENVELOPE_QUERY, "node/stats", "stats", id);
    while (true) {
        zframe_t *got = zframe_recv (client);
        if (!got)
            fail_msg ("no answer to stats");
        if (zframe_size (got) == sizeof s_forged - 1 &&
            memcmp (zframe_data (got), s_forged, sizeof s_forged - 1) == 0)
            fail_msg ("the peer's ANSWER reached a client of n1's that never called it");
        envelope_t answer;
        bool ours = envelope_decode (&answer, zframe_data (got), zframe_size (got)) == 0 &&
                    memcmp (answer.correlation, id, ENVELOPE_ID_SIZE) == 0;
        zframe_destroy (&got);
        if (ours)
            return;
    }
}

//  An ANSWER is taken on our link to the peer only, where our CALL went
//  out. Before, the peer's ANSWER on n1's ROUTER was pushed to whichever
//  client of n1's its route named.
static void test_answer_only_on_our_link (void **state)
{
    fixture_t *f = *state;
    zsock_t *victim = s_client_with_id (f, "victim");
    s_stats_unforged (victim); //  connected
    int64_t bad = peer_forgery_stat (f->client[0], "bad_frames");
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "ANSWER");
    zmsg_addstr (msg, "victim");
    zmsg_addstr (msg, s_forged);
    assert_int_equal (zmsg_send (&msg, f->peer), 0);
    //  Handled in order before the canary, and so sent to the victim, if
    //  at all, before the answer to its next stats.
    peer_forgery_canary (f);
    s_stats_unforged (victim);
    assert_int_equal (peer_forgery_stat (f->client[0], "bad_frames"), bad + 1);
    zsock_destroy (&victim);
}

//  The peer's CALL of n1's client (a get of an account of n2's), as the
//  impostor at n2's endpoint answers it: first an ANSWER for a bystander
//  that called nobody, then the true one. Returns false if the link was
//  not up yet (the client was answered unavailable: it asks again).
static bool s_impostor_round (zsock_t *impostor, zsock_t *caller, const char *account)
{
    uint8_t id[ENVELOPE_ID_SIZE];
    s_send_request (caller, ENVELOPE_QUERY, account, "get", id);
    int64_t deadline = zclock_mono () + 1000;
    zpoller_t *poller = zpoller_new (impostor, caller, NULL);
    assert_non_null (poller);
    bool answered = false, done = false;
    while (!done && zclock_mono () < deadline) {
        void *which = zpoller_wait (poller, 50);
        if (which == impostor) {
            zmsg_t *msg = zmsg_recv (impostor);
            assert_non_null (msg);
            zframe_t *node = zmsg_pop (msg);
            char *kind = zmsg_popstr (msg);
            if (kind && streq (kind, "HELLO")) //  n1's link to "n2": welcomed
                zsock_send (impostor, "fs", node, "WELCOME");
            else if (kind && streq (kind, "CALL")) {
                zframe_t *route = zmsg_pop (msg), *frame = zmsg_pop (msg);
                envelope_t call;
                assert_int_equal (envelope_decode (&call, zframe_data (frame), zframe_size (frame)),
                                  0);
                zsock_send (impostor, "fssb", node, "ANSWER", "bystander", s_forged,
                            sizeof s_forged - 1);
                uint8_t *payload, *reply_frame;
                size_t size, reply_size;
                assert_int_equal (
                    envelope_reply_encode (true, NULL, NULL, NULL, 0, &payload, &size), 0);
                envelope_t reply = {.kind = ENVELOPE_REPLY,
                                    .payload = payload,
                                    .payload_size = size,
                                    .created = zclock_time ()};
                envelope_new_id (reply.id);
                memcpy (reply.correlation, call.id, ENVELOPE_ID_SIZE);
                snprintf (reply.from, sizeof reply.from, "%s", call.to);
                snprintf (reply.name, sizeof reply.name, "%s", call.name);
                assert_int_equal (envelope_encode (&reply, &reply_frame, &reply_size), 0);
                zsock_send (impostor, "fsfb", node, "ANSWER", route, reply_frame, reply_size);
                free (reply_frame);
                free (payload);
                zframe_destroy (&route);
                zframe_destroy (&frame);
            }
            zstr_free (&kind);
            zframe_destroy (&node);
            zmsg_destroy (&msg);
        } else if (which == caller) {
            zframe_t *got = zframe_recv (caller);
            assert_non_null (got);
            envelope_t answer;
            bool ours = envelope_decode (&answer, zframe_data (got), zframe_size (got)) == 0 &&
                        memcmp (answer.correlation, id, ENVELOPE_ID_SIZE) == 0;
            bool ok = false;
            char code[ENVELOPE_CODE_MAX + 1], reason[ENVELOPE_REASON_MAX + 1];
            const uint8_t *data;
            size_t data_size;
            if (ours)
                envelope_reply_decode (answer.payload, answer.payload_size, &ok, code, reason,
                                       &data, &data_size);
            zframe_destroy (&got);
            if (ours) {
                answered = ok;
                done = true;
            }
        }
    }
    zpoller_destroy (&poller);
    return answered;
}

//  An ANSWER is taken only for a client of ours that has a CALL out to
//  the peer that answers. Whoever holds n2's key and listens at n2's
//  endpoint (n2 is not running) gets n1's link to "n2" and answers n1's
//  forwarded CALL; before, it could also push a frame to any other
//  client of n1's on that link.
static void test_answer_only_to_a_client_that_called (void **state)
{
    fixture_t *f = *state;
    char account[64];
    cluster_client_address_on (f->cluster, "account/far", 1, NULL, account, sizeof account);
    zcert_t *cert = cluster_client_stolen_cert (f->cluster, f->dir);
    zsock_t *impostor = zsock_new (ZMQ_ROUTER);
    assert_non_null (impostor);
    zsock_set_linger (impostor, 0);
    zcert_apply (cert, impostor);
    zcert_destroy (&cert);
    zsock_set_curve_server (impostor, 1);
    assert_int_equal (zsock_bind (impostor, "%s", cluster_node_peer (f->cluster, 1)), 0);
    zsock_t *caller = s_client_with_id (f, "caller");
    zsock_t *bystander = s_client_with_id (f, "bystander");
    s_stats_unforged (bystander); //  connected
    int64_t bad = peer_forgery_stat (f->client[0], "bad_frames");

    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (!s_impostor_round (impostor, caller, account))
        if (zclock_mono () > deadline)
            fail_msg ("n1 never forwarded a CALL to the impostor, or its answer never came");
    //  The true answer came after the forged one, on one pipe: the forged
    //  one was pushed, if at all, before the bystander's stats answer.
    s_stats_unforged (bystander);
    assert_int_equal (peer_forgery_stat (f->client[0], "bad_frames"), bad + 1);
    zsock_destroy (&bystander);
    zsock_destroy (&caller);
    zsock_destroy (&impostor);
}

//  --------------------------------------------------------------------------
//  n2's stolen key connects to n1 under the routing id "n3" while n3 runs:
//  n1's answers to n3's forwarded requests still reach n3's clients, and
//  none reaches the thief. Before, every node's link had its name for its
//  routing id, and n1's ROUTER handed an id over to its last claimant
//  (ZMQ_ROUTER_HANDOVER) and answered n3's CALLs to the id "n3": the
//  thief took them, and n3's clients waited in vain.

static void test_stolen_key_takes_no_other_name (void **state)
{
    fixture_t *f = *state;
    peer_forgery_start_node (f, 2);
    client_reply_t reply;
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    int rc;
    //  n3's client, forwarded to n1: answered once n3's link to n1 is up.
    while ((rc = cluster_client_call (f->client[2], ENVELOPE_QUERY, f->canary, "get", 5000, &reply,
                                      NULL)) != 0 ||
           !reply.ok) {
        if (rc == 0)
            client_reply_close (&reply);
        if (zclock_mono () > deadline)
            fail_msg ("n3's client never got an answer from n1 through n3");
        zclock_sleep (50); //  poll interval: the condition is read above
    }
    client_reply_close (&reply);

    //  Welcomed as n2 (its key's node), connected under the id "n3".
    zsock_t *thief = cluster_client_stolen_peer (f->cluster, f->dir,
                                                 cluster_node_name (f->cluster, 2), DEADLINE_MS);

    for (int i = 0; i < 3; i++) {
        rc = cluster_client_call (f->client[2], ENVELOPE_QUERY, f->canary, "get", 5000, &reply,
                                  NULL);
        if (rc != 0)
            fail_msg ("n3's client got no answer from n1 with n2's key connected as n3: %s",
                      shoal_strerror (rc));
        assert_true (reply.ok);
        client_reply_close (&reply);
    }
    zsock_set_rcvtimeo (thief, 200); //  the answers came first: nothing may follow
    char *taken = zstr_recv (thief);
    if (taken)
        fail_msg ("the thief connected as n3 was handed %s", taken);
    zsock_destroy (&thief);
}

//  --------------------------------------------------------------------------
//  The peer floods n1's worker while a turn holds it (counter/h's Hold,
//  until a file comes): 100 commands of 1 MiB go past the worker's queue
//  of 64 MiB, and the front drops what does not fit (the sender's outbox
//  would re-send), counted in `dropped`. Before, a peer's messages were
//  bounded at 50,000 messages (of up to 8 MiB), not in bytes.

static void test_flood_bounded_in_bytes (void **state)
{
    fixture_t *f = *state;
    char hold[240], path[200], held[64], from[64];
    cluster_client_address_on (f->cluster, "counter/h", 0, NULL, held, sizeof held);
    cluster_client_address_on (f->cluster, "counter/p", 1, NULL, from, sizeof from);
    snprintf (path, sizeof path, "%s/go", f->dir);
    snprintf (hold, sizeof hold, "path=%s", path);
    char *fields[] = {hold};
    uint8_t *payload;
    size_t size;
    char error[64];
    assert_int_equal (client_fields (1, fields, &payload, &size, error, sizeof error), 0);
    peer_forgery_forge (f, ENVELOPE_COMMAND, from, held, "Hold", NULL, payload, size);
    free (payload);
    int64_t dropped = peer_forgery_stat (f->client[0], "dropped");
    //  {"pad": a bin of 1 MiB less a little}: a frame within the limit.
    size_t body = 1024 * 1024 - 512;
    uint8_t *big = malloc (body + 10);
    assert_non_null (big);
    memcpy (big, "\x81\xa3pad\xc6", 6);
    for (int i = 0; i < 4; i++)
        big[6 + i] = (uint8_t) (body >> (24 - 8 * i));
    memset (big + 10, 'x', body);
    for (int i = 0; i < 100; i++)
        peer_forgery_forge (f, ENVELOPE_COMMAND, from, held, "Add", NULL, big, body + 10);
    free (big);
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (peer_forgery_stat (f->client[0], "dropped") == dropped && zclock_mono () < deadline)
        zclock_sleep (50); //  poll interval: the condition is read above
    int64_t now = peer_forgery_stat (f->client[0], "dropped");
    proc_sh (NULL, 0, "touch %s", path); //  the turn ends, the queue drains
    if (now == dropped)
        fail_msg ("100 MiB queued for a held worker, nothing dropped past 64 MiB");
    peer_forgery_canary (f); //  n1 and the peer's link live on
}

int main (void)
{
    signal (SIGPIPE, SIG_IGN);
    zsys_init ();
    zsys_set_logstream (stderr);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_answer_only_on_our_link, peer_forgery_setup,
                                         peer_forgery_teardown),
        cmocka_unit_test_setup_teardown (test_stolen_key_takes_no_other_name, peer_forgery_setup,
                                         peer_forgery_teardown),
        cmocka_unit_test_setup_teardown (test_flood_bounded_in_bytes, peer_forgery_setup,
                                         peer_forgery_teardown),
        cmocka_unit_test_setup_teardown (test_answer_only_to_a_client_that_called,
                                         peer_forgery_setup, peer_forgery_teardown),
    };
    //  SHOAL_TEST_FILTER=test_timer* runs the tests whose names match.
    if (getenv ("SHOAL_TEST_FILTER"))
        cmocka_set_test_filter (getenv ("SHOAL_TEST_FILTER"));
    return cmocka_run_group_tests (tests, NULL, NULL);
}
