/*  test_peer_forgery.c - a peer whose key was stolen forges nothing.

    A cluster of three real `shoal node` processes ($SHOAL_BIN, ipc://
    endpoints in the test's own directory); n1 runs, with one worker, and
    the test plays n2 with n2's stolen node.cert (n2 itself never runs):
    it says HELLO on n1's peer endpoint, is welcomed, and sends what a
    node whose key was stolen could. Each forgery must change nothing: a
    reply to a command of ours from an actor the command did not go to
    (money made: the Debit taken as done while nothing was debited), a
    timer sent across nodes (a second refund), the reply to a $cancel
    from an actor it did not go to, an ANSWER on n1's ROUTER (any
    frame pushed to any client of n1's by its routing id), and a
    connection under another node's routing id (that node's answers).

    The peer's frames travel one pipe, in order, to n1's one worker: once
    a legitimate Credit sent after the forgeries has landed (the canary),
    the forgeries were handled, or refused. Every wait polls a condition
    against a deadline; nothing sleeps a fixed time and then asserts.
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

#define DEADLINE_MS 20000 //  for anything that must happen
#define NODES 3
#define ROWS_MAX 8

typedef struct {
    char dir[128];                       //  the test's own directory
    char cfg[192];                       //  DIR/c/cluster.cfg
    cluster_t *cluster;                  //  loaded from cfg
    pid_t node[CLUSTER_MAX_NODES];       //  the cluster's nodes by index, 0: not running
    client_t *client[CLUSTER_MAX_NODES]; //  one client per node, by index
    zsock_t *peer;                       //  n2, played by the test with its stolen key
    char canary[64];                     //  an account of n1's the peer credits
    char peer_transfer[64];              //  the transfer of n2's it credits as
    int64_t canaries;                    //  credits sent so far
} fixture_t;

//  --------------------------------------------------------------------------
//  The cluster

static int s_owner (const fixture_t *f, const char *address)
{
    return cluster_owner (f->cluster, shoal_shard (address, cluster_shards (f->cluster)));
}

//  Writes into address the first PREFIX-N (N from 0) that node owns.
static void s_address_on (const fixture_t *f, const char *prefix, int node, char *address,
                          size_t size)
{
    for (int n = 0; n < 100000; n++) {
        snprintf (address, size, "%s%d", prefix, n);
        if (s_owner (f, address) == node)
            return;
    }
    fail_msg ("no address %s... on node %d", prefix, node);
}

//  Starts node i (one worker: the peer's frames reach one queue, in
//  order) and a client of it alone.
static void s_start_node (fixture_t *f, int i)
{
    const char *name = cluster_node_name (f->cluster, i);
    char log[192];
    snprintf (log, sizeof log, "%s/%s.log", f->dir, name);
    char *argv[] = {getenv ("SHOAL_BIN"),
                    "node",
                    "--cluster",
                    f->cfg,
                    "--name",
                    (char *) name,
                    "--workers",
                    "1",
                    "--stall-ms",
                    "1500",
                    "--module",
                    getenv ("SHOAL_TEST_MODULE"),
                    NULL}; //  counter/ for the flood
    int out;
    pid_t pid = proc_spawn (argv, log, &out);
    bool ready = proc_read_until (out, "ready on ", DEADLINE_MS);
    close (out);
    if (!ready) {
        proc_kill (&pid);
        fail_msg ("node %s did not start: see %s", name, log);
    }
    f->node[i] = pid;
    char *error = NULL;
    f->client[i] = client_new_cluster (f->cfg, name, &error);
    if (!f->client[i])
        fail_msg ("%s", error);
}

//  --------------------------------------------------------------------------
//  Requests

//  Sends kind to `to` with "key=value" fields (NULL-ended); waits at most
//  5 s. Returns client_call's code; the caller closes reply when it is 0.
static int s_call (client_t *client, envelope_kind_t kind, const char *to, const char *name,
                   client_reply_t *reply, ...)
{
    va_list args;
    va_start (args, reply);
    char *fields[8];
    int count = 0;
    for (char *field = va_arg (args, char *); field && count < 8; field = va_arg (args, char *))
        fields[count++] = field;
    va_end (args);
    uint8_t *payload = NULL;
    size_t size = 0;
    char error[128];
    assert_int_equal (client_fields (count, fields, &payload, &size, error, sizeof error), 0);
    envelope_t request;
    client_request (&request, kind, NULL, to, name, payload, size);
    int rc = client_call (client, &request, 5000, reply);
    free (payload);
    return rc;
}

//  A command that must be accepted (asked once: n1's own actors answer).
static void s_accept (client_t *client, const char *to, const char *name, const char *field1,
                      const char *field2, const char *field3)
{
    client_reply_t reply;
    int rc = s_call (client, ENVELOPE_COMMAND, to, name, &reply, field1, field2, field3, NULL);
    if (rc != 0)
        fail_msg ("%s %s: %s", to, name, shoal_strerror (rc));
    if (!reply.ok)
        fail_msg ("%s %s rejected: %s %s", to, name, reply.code, reply.reason);
    client_reply_close (&reply);
}

static void s_get (client_t *client, const char *address, client_reply_t *reply)
{
    int rc = s_call (client, ENVELOPE_QUERY, address, "get", reply, NULL);
    if (rc != 0)
        fail_msg ("get %s: %s", address, shoal_strerror (rc));
    if (!reply->ok)
        fail_msg ("get %s rejected: %s %s", address, reply->code, reply->reason);
}

static int64_t s_balance (client_t *client, const char *account)
{
    client_reply_t reply;
    s_get (client, account, &reply);
    int64_t balance = INT64_MIN;
    assert_int_equal (reply_state_int (&reply, "balance", &balance), 0);
    client_reply_close (&reply);
    return balance;
}

//  A transfer's state.status and state.stalled.
static void s_status (client_t *client, const char *transfer, char *status, size_t size,
                      bool *stalled)
{
    client_reply_t reply;
    s_get (client, transfer, &reply);
    status[0] = 0;
    reply_state_str (&reply, "status", status, size);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *value =
        map_find (map_find (map_unpack (&unpacked, reply.data, reply.size), "state"), "stalled");
    *stalled = value && value->type == MSGPACK_OBJECT_BOOLEAN && value->via.boolean;
    msgpack_unpacked_destroy (&unpacked);
    client_reply_close (&reply);
}

//  Waits until transfer's status is want (and stalled, if asked).
static void s_wait_status (client_t *client, const char *transfer, const char *want,
                           bool and_stalled)
{
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    char status[32];
    bool stalled;
    do {
        s_status (client, transfer, status, sizeof status, &stalled);
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
    int rc = s_call (client, ENVELOPE_QUERY, address, "pending", &reply, NULL);
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

static int64_t s_stat (client_t *client, const char *name)
{
    client_reply_t reply;
    int rc = s_call (client, ENVELOPE_QUERY, "node/stats", "stats", &reply, NULL);
    if (rc != 0)
        fail_msg ("stats: %s", shoal_strerror (rc));
    int64_t value = -1; //  none: asserted after what the forgery changed
    map_int (reply.data, reply.size, name, &value);
    client_reply_close (&reply);
    return value;
}

//  --------------------------------------------------------------------------
//  The peer with n2's stolen key

//  Sends, as the peer, an actor's message (MSG) of kind; correlation is
//  32 hex digits or NULL; payload NULL is an empty map.
static void s_forge (fixture_t *f, envelope_kind_t kind, const char *from, const char *to,
                     const char *name, const char *correlation, const uint8_t *payload,
                     size_t payload_size)
{
    envelope_t envelope;
    client_request (&envelope, kind, NULL, to, name, payload, payload_size);
    snprintf (envelope.from, sizeof envelope.from, "%s", from);
    if (correlation)
        client_id_from_string (correlation, envelope.correlation);
    uint8_t *frame;
    size_t size;
    assert_int_equal (envelope_encode (&envelope, &frame, &size), 0);
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "MSG");
    zmsg_addmem (msg, frame, size);
    assert_int_equal (zmsg_send (&msg, f->peer), 0);
    free (frame);
}

//  Sends, as the peer, a reply {ok: true} to `to`'s command correlation.
static void s_forge_ok (fixture_t *f, const char *from, const char *to, const char *name,
                        const char *correlation)
{
    uint8_t *payload;
    size_t size;
    assert_int_equal (envelope_reply_encode (true, NULL, NULL, NULL, 0, &payload, &size), 0);
    s_forge (f, ENVELOPE_REPLY, from, to, name, correlation, payload, size);
    free (payload);
}

//  Sends, as the peer, a legitimate Credit of 1 to the canary from one of
//  n2's transfers, and waits until it has landed: every frame the peer
//  sent before it was handled (one pipe, one worker, in order).
static void s_canary (fixture_t *f)
{
    char transfer[80], amount[] = "amount=1";
    snprintf (transfer, sizeof transfer, "transfer=%s", f->peer_transfer + strlen ("transfer/"));
    char *fields[] = {transfer, amount};
    uint8_t *payload;
    size_t size;
    char error[64];
    assert_int_equal (client_fields (2, fields, &payload, &size, error, sizeof error), 0);
    s_forge (f, ENVELOPE_COMMAND, f->peer_transfer, f->canary, "Credit", NULL, payload, size);
    free (payload);
    f->canaries++;
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (s_balance (f->client[0], f->canary) != f->canaries) {
        if (zclock_mono () > deadline)
            fail_msg ("the canary's credit %lld never landed", (long long) f->canaries);
        zclock_sleep (20);
    }
}

//  n2's node.cert (its secret too), in the attacker's hands.
static zcert_t *s_stolen_cert (fixture_t *f)
{
    char path[256];
    snprintf (path, sizeof path, "%s/c/%s/node.cert", f->dir, cluster_node_name (f->cluster, 1));
    zcert_t *cert = zcert_load (path);
    assert_non_null (cert);
    return cert;
}

//  A link to n1's peer endpoint with n2's stolen key, under routing_id
//  (NULL: none of its own), that said HELLO as n2 and was welcomed.
static zsock_t *s_stolen_peer (fixture_t *f, const char *routing_id)
{
    zcert_t *cert = s_stolen_cert (f);
    zsock_t *peer = zsock_new (ZMQ_DEALER);
    assert_non_null (peer);
    zsock_set_linger (peer, 0);
    if (routing_id)
        zsock_set_identity (peer, routing_id);
    zsock_set_rcvtimeo (peer, DEADLINE_MS);
    zcert_apply (cert, peer);
    zcert_destroy (&cert);
    zsock_set_curve_serverkey (peer, cluster_node_key (f->cluster, 0));
    assert_int_equal (zsock_connect (peer, "%s", cluster_node_peer (f->cluster, 0)), 0);
    char epoch[24];
    snprintf (epoch, sizeof epoch, "%lld", (long long) cluster_epoch (f->cluster));
    assert_int_equal (zstr_sendx (peer, "HELLO", cluster_name (f->cluster), epoch,
                                  cluster_digest (f->cluster), cluster_node_name (f->cluster, 1),
                                  NULL),
                      0);
    char *welcome = zstr_recv (peer);
    assert_non_null (welcome);
    assert_string_equal (welcome, "WELCOME");
    zstr_free (&welcome);
    return peer;
}

static int s_setup (void **state)
{
    fixture_t *f = calloc (1, sizeof (fixture_t));
    assert_non_null (f);
    //  An ipc:// path is at most 107 bytes: keep DIR short.
    const char *tmp = getenv ("TMPDIR");
    if (!tmp || strlen (tmp) > 40)
        tmp = "/tmp";
    snprintf (f->dir, sizeof f->dir, "%s/shoal-pf-XXXXXX", tmp);
    assert_non_null (mkdtemp (f->dir));
    snprintf (f->cfg, sizeof f->cfg, "%s/c/cluster.cfg", f->dir);
    *state = f;

    char dir[192], log[192];
    snprintf (dir, sizeof dir, "%s/c", f->dir);
    snprintf (log, sizeof log, "%s/init.log", f->dir);
    char *argv[] = {getenv ("SHOAL_BIN"), "cluster", "init", "--nodes", "3", "--dir", dir, "--ipc",
                    "--shards",           "64",      NULL};
    assert_int_equal (proc_wait_exit (proc_spawn (argv, log, NULL), DEADLINE_MS), 0);
    char *error = NULL;
    f->cluster = cluster_load (f->cfg, &error);
    if (!f->cluster)
        fail_msg ("%s", error);
    s_start_node (f, 0);

    f->peer = s_stolen_peer (f, NULL);

    s_address_on (f, "account/canary", 0, f->canary, sizeof f->canary);
    s_address_on (f, "transfer/peer", 1, f->peer_transfer, sizeof f->peer_transfer);
    s_accept (f->client[0], f->canary, "Open", "owner=canary", NULL, NULL);
    s_canary (f); //  the peer's frames are taken
    return 0;
}

static int s_teardown (void **state)
{
    fixture_t *f = *state;
    zsock_destroy (&f->peer);
    for (int i = 0; i < CLUSTER_MAX_NODES; i++) {
        client_destroy (&f->client[i]);
        proc_kill (&f->node[i]);
    }
    cluster_destroy (&f->cluster);
    harness_rm_rf (f->dir);
    free (f);
    return 0;
}

//  --------------------------------------------------------------------------
//  The forgeries

//  A transfer of n1's from an account of n3's (n3 is not running: its
//  Debit waits) to dst, an account of n1's. Writes the Debit's id.
static void s_debit_waiting (fixture_t *f, const char *transfer, const char *dst, char id[33])
{
    char src[64], from[96], to[96];
    s_address_on (f, "account/src", 2, src, sizeof src);
    s_accept (f->client[0], dst, "Open", "owner=dst", NULL, NULL);
    snprintf (from, sizeof from, "from=%s", src);
    snprintf (to, sizeof to, "to=%s", dst);
    s_accept (f->client[0], transfer, "Start", from, to, "amount=100");
    s_wait_pending (f->client[0], transfer, "Debit", id);
}

//  Once the canary shows the forgery handled: transfer still started, dst
//  not credited, transfer's pending as before, and one more forgery
//  counted than forged.
static void s_unchanged (fixture_t *f, const char *transfer, const char *dst,
                         const pending_t *before, int64_t forged)
{
    s_canary (f);
    char status[32];
    bool stalled;
    s_status (f->client[0], transfer, status, sizeof status, &stalled);
    assert_string_equal (status, "started");
    assert_int_equal (s_balance (f->client[0], dst), 0);
    s_assert_pending_same (f->client[0], transfer, before);
    assert_int_equal (s_stat (f->client[0], "forged"), forged + 1);
}

//  A reply is taken from the actor its command went to only. Before, the
//  peer answered the Debit our transfer sent to n3's account as one of
//  n2's accounts: the transfer went on, and credited dst 100 that were
//  never debited.
static void test_reply_only_from_its_target (void **state)
{
    fixture_t *f = *state;
    char transfer[64], dst[64], theirs[64], id[33];
    s_address_on (f, "transfer/r", 0, transfer, sizeof transfer);
    s_address_on (f, "account/dst", 0, dst, sizeof dst);
    s_address_on (f, "account/theirs", 1, theirs, sizeof theirs);
    s_debit_waiting (f, transfer, dst, id);
    pending_t before;
    s_pending (f->client[0], transfer, &before);
    int64_t forged = s_stat (f->client[0], "forged");

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
    s_address_on (f, "transfer/t", 0, transfer, sizeof transfer);
    s_address_on (f, "account/src", 0, src, sizeof src);
    s_address_on (f, "account/dst", 2, dst, sizeof dst); //  never opened
    s_address_on (f, "account/theirs", 1, theirs, sizeof theirs);
    s_accept (f->client[0], src, "Open", "owner=src", NULL, NULL);
    s_accept (f->client[0], src, "Deposit", "amount=1000", NULL, NULL);
    snprintf (from, sizeof from, "from=%s", src);
    snprintf (to, sizeof to, "to=%s", dst);
    s_accept (f->client[0], transfer, "Start", from, to, "amount=100");
    s_wait_pending (f->client[0], transfer, "Credit", id); //  n3 is not running
    char full[64];
    snprintf (full, sizeof full, "amount=%lld", (long long) (INT64_MAX - 900));
    s_accept (f->client[0], src, "Deposit", full, NULL, NULL);
    s_start_node (f, 2); //  the Credit is refused (not_open), the Refund too (overflow)
    s_wait_status (f->client[0], transfer, "compensating", true);
    s_accept (f->client[0], src, "Withdraw", "amount=100", NULL, NULL);
    pending_t before;
    s_pending (f->client[0], transfer, &before);
    assert_int_equal (before.count, 0);
    assert_int_equal (before.timers, 1);
    int64_t forged = s_stat (f->client[0], "forged");
    int64_t bad = s_stat (f->client[0], "bad_frames");

    s_forge (f, ENVELOPE_TIMER, theirs, transfer, "refund", NULL, NULL, 0);
    s_forge (f, ENVELOPE_TIMER, transfer, transfer, "refund", NULL, NULL, 0);
    s_canary (f);
    char status[32];
    bool stalled;
    s_status (f->client[0], transfer, status, sizeof status, &stalled);
    assert_string_equal (status, "compensating");
    assert_int_equal (s_balance (f->client[0], src), INT64_MAX - 100);
    s_assert_pending_same (f->client[0], transfer, &before);
    //  Refused at the front, which counts them in bad_frames.
    assert_int_equal (s_stat (f->client[0], "forged"), forged);
    assert_int_equal (s_stat (f->client[0], "bad_frames"), bad + 2);
}

//  The reply to a $cancel is taken from the cancelled command's target
//  only. Before, the peer answered our transfer's $cancel (an operator's
//  resolve of its Debit to n3) with "ok" as one of n2's accounts: the
//  Debit was taken as done, and dst credited.
static void test_cancel_reply_only_from_its_target (void **state)
{
    fixture_t *f = *state;
    char transfer[64], dst[64], theirs[64], id[33], cancel[33];
    s_address_on (f, "transfer/c", 0, transfer, sizeof transfer);
    s_address_on (f, "account/dst", 0, dst, sizeof dst);
    s_address_on (f, "account/theirs", 1, theirs, sizeof theirs);
    s_debit_waiting (f, transfer, dst, id);
    char id_field[48];
    snprintf (id_field, sizeof id_field, "id=%s", id);
    client_reply_t reply;
    assert_int_equal (s_call (f->client[0], ENVELOPE_COMMAND, transfer, "$resolve", &reply,
                              id_field, "code=node_lost", "reason=a test", "operator=test", NULL),
                      0);
    if (!reply.ok)
        fail_msg ("$resolve: %s %s", reply.code, reply.reason);
    client_reply_close (&reply);
    s_wait_pending (f->client[0], transfer, "$cancel", cancel);
    pending_t before;
    s_pending (f->client[0], transfer, &before);
    int64_t forged = s_stat (f->client[0], "forged");

    s_forge_ok (f, theirs, transfer, "$cancel", cancel);
    s_unchanged (f, transfer, dst, &before, forged);
}

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
    int64_t bad = s_stat (f->client[0], "bad_frames");
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "ANSWER");
    zmsg_addstr (msg, "victim");
    zmsg_addstr (msg, s_forged);
    assert_int_equal (zmsg_send (&msg, f->peer), 0);
    //  Handled in order before the canary, and so sent to the victim, if
    //  at all, before the answer to its next stats.
    s_canary (f);
    s_stats_unforged (victim);
    assert_int_equal (s_stat (f->client[0], "bad_frames"), bad + 1);
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
    s_address_on (f, "account/far", 1, account, sizeof account);
    zcert_t *cert = s_stolen_cert (f);
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
    int64_t bad = s_stat (f->client[0], "bad_frames");

    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (!s_impostor_round (impostor, caller, account))
        if (zclock_mono () > deadline)
            fail_msg ("n1 never forwarded a CALL to the impostor, or its answer never came");
    //  The true answer came after the forged one, on one pipe: the forged
    //  one was pushed, if at all, before the bystander's stats answer.
    s_stats_unforged (bystander);
    assert_int_equal (s_stat (f->client[0], "bad_frames"), bad + 1);
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
    s_start_node (f, 2);
    client_reply_t reply;
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    int rc;
    //  n3's client, forwarded to n1: answered once n3's link to n1 is up.
    while ((rc = s_call (f->client[2], ENVELOPE_QUERY, f->canary, "get", &reply, NULL)) != 0 ||
           !reply.ok) {
        if (rc == 0)
            client_reply_close (&reply);
        if (zclock_mono () > deadline)
            fail_msg ("n3's client never got an answer from n1 through n3");
        zclock_sleep (50); //  poll interval: the condition is read above
    }
    client_reply_close (&reply);

    //  Welcomed as n2 (its key's node), connected under the id "n3".
    zsock_t *thief = s_stolen_peer (f, cluster_node_name (f->cluster, 2));

    for (int i = 0; i < 3; i++) {
        rc = s_call (f->client[2], ENVELOPE_QUERY, f->canary, "get", &reply, NULL);
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
    s_address_on (f, "counter/h", 0, held, sizeof held);
    s_address_on (f, "counter/p", 1, from, sizeof from);
    snprintf (path, sizeof path, "%s/go", f->dir);
    snprintf (hold, sizeof hold, "path=%s", path);
    char *fields[] = {hold};
    uint8_t *payload;
    size_t size;
    char error[64];
    assert_int_equal (client_fields (1, fields, &payload, &size, error, sizeof error), 0);
    s_forge (f, ENVELOPE_COMMAND, from, held, "Hold", NULL, payload, size);
    free (payload);
    int64_t dropped = s_stat (f->client[0], "dropped");
    //  {"pad": a bin of 1 MiB less a little}: a frame within the limit.
    size_t body = 1024 * 1024 - 512;
    uint8_t *big = malloc (body + 10);
    assert_non_null (big);
    memcpy (big, "\x81\xa3pad\xc6", 6);
    for (int i = 0; i < 4; i++)
        big[6 + i] = (uint8_t) (body >> (24 - 8 * i));
    memset (big + 10, 'x', body);
    for (int i = 0; i < 100; i++)
        s_forge (f, ENVELOPE_COMMAND, from, held, "Add", NULL, big, body + 10);
    free (big);
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (s_stat (f->client[0], "dropped") == dropped && zclock_mono () < deadline)
        zclock_sleep (50); //  poll interval: the condition is read above
    int64_t now = s_stat (f->client[0], "dropped");
    proc_sh (NULL, 0, "touch %s", path); //  the turn ends, the queue drains
    if (now == dropped)
        fail_msg ("100 MiB queued for a held worker, nothing dropped past 64 MiB");
    s_canary (f); //  n1 and the peer's link live on
}

int main (void)
{
    signal (SIGPIPE, SIG_IGN);
    zsys_init ();
    zsys_set_logstream (stderr);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_reply_only_from_its_target, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_timer_never_crosses_nodes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_cancel_reply_only_from_its_target, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_answer_only_on_our_link, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_stolen_key_takes_no_other_name, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_flood_bounded_in_bytes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_answer_only_to_a_client_that_called, s_setup,
                                         s_teardown),
    };
    //  SHOAL_TEST_FILTER=test_timer* runs the tests whose names match.
    if (getenv ("SHOAL_TEST_FILTER"))
        cmocka_set_test_filter (getenv ("SHOAL_TEST_FILTER"));
    return cmocka_run_group_tests (tests, NULL, NULL);
}
