/*  cluster_test_client.c - requests to the nodes of a test's cluster
    (cluster_test_client.h says what each does).
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cluster_test_client.h"
#include "shard.h"

#include <stdio.h>
#include <stdlib.h>

int cluster_client_owner (const cluster_t *cluster, const char *address)
{
    return cluster_owner (cluster, shoal_shard (address, cluster_shards (cluster)));
}

void cluster_client_address_on (const cluster_t *cluster, const char *prefix, int node, int *next,
                                char *address, size_t size)
{
    for (int n = next ? *next : 0; n < 100000; n++) {
        snprintf (address, size, "%s%d", prefix, n);
        if (cluster_client_owner (cluster, address) == node) {
            if (next)
                *next = n + 1;
            return;
        }
    }
    if (next)
        *next = 100000;
    fail_msg ("no address %s... on node %d", prefix, node);
}

zcert_t *cluster_client_stolen_cert (const cluster_t *cluster, const char *dir)
{
    char path[256];
    snprintf (path, sizeof path, "%s/c/%s/node.cert", dir, cluster_node_name (cluster, 1));
    zcert_t *cert = zcert_load (path);
    assert_non_null (cert);
    return cert;
}

zsock_t *cluster_client_stolen_peer (const cluster_t *cluster, const char *dir,
                                     const char *routing_id, int timeout_ms)
{
    zcert_t *cert = cluster_client_stolen_cert (cluster, dir);
    zsock_t *peer = zsock_new (ZMQ_DEALER);
    assert_non_null (peer);
    zsock_set_linger (peer, 0);
    if (routing_id)
        zsock_set_identity (peer, routing_id);
    zsock_set_rcvtimeo (peer, timeout_ms);
    zcert_apply (cert, peer);
    zcert_destroy (&cert);
    zsock_set_curve_serverkey (peer, cluster_node_key (cluster, 0));
    assert_int_equal (zsock_connect (peer, "%s", cluster_node_peer (cluster, 0)), 0);
    char epoch[24];
    snprintf (epoch, sizeof epoch, "%lld", (long long) cluster_epoch (cluster));
    //  With a store (peers_seen.h) of a node that never ran, which asks
    //  nothing of n1's: n1's start holds its commands until a peer has
    //  said its store so (an older build's HELLO, without one, would hold
    //  them for seconds).
    assert_int_equal (zstr_sendx (peer, "HELLO", cluster_name (cluster), epoch,
                                  cluster_digest (cluster), cluster_node_name (cluster, 1),
                                  "0 sync 0 00000000000000a1 0000000000000000 0 0 "
                                  "0000000000000000 0",
                                  NULL),
                      0);
    //  [WELCOME, n1's store] (peers_seen.h): read whole, so that nothing
    //  of it is taken later for a frame handed to the thief.
    zmsg_t *welcome = zmsg_recv (peer);
    assert_non_null (welcome);
    char *word = zmsg_popstr (welcome);
    assert_non_null (word);
    assert_string_equal (word, "WELCOME");
    zstr_free (&word);
    zmsg_destroy (&welcome);
    return peer;
}

int cluster_client_callv (client_t *client, envelope_kind_t kind, const uint8_t *id, const char *to,
                          const char *name, int timeout_ms, client_reply_t *reply, va_list args)
{
    char *fields[8];
    int count = 0;
    for (char *field = va_arg (args, char *); field && count < 8; field = va_arg (args, char *))
        fields[count++] = field;
    uint8_t *payload = NULL;
    size_t size = 0;
    char error[128];
    assert_int_equal (client_fields (count, fields, &payload, &size, error, sizeof error), 0);
    envelope_t request;
    client_request (&request, kind, id, to, name, payload, size);
    int rc = client_call (client, &request, timeout_ms, reply);
    free (payload);
    return rc;
}

int cluster_client_call (client_t *client, envelope_kind_t kind, const char *to, const char *name,
                         int timeout_ms, client_reply_t *reply, ...)
{
    va_list args;
    va_start (args, reply);
    int rc = cluster_client_callv (client, kind, NULL, to, name, timeout_ms, reply, args);
    va_end (args);
    return rc;
}

void cluster_client_get (client_t *client, const char *address, client_reply_t *reply)
{
    //  Asked again while a node that has just started holds its gets until
    //  a peer has checked its store, for a few seconds with none up
    //  (peers_seen.h); any other refusal fails the test at once.
    int64_t deadline = zclock_mono () + 20000;
    while (true) {
        int rc = cluster_client_call (client, ENVELOPE_QUERY, address, "get", 5000, reply, NULL);
        if (rc != 0)
            fail_msg ("get %s: %s", address, shoal_strerror (rc));
        if (reply->ok)
            return;
        if (!strstr (reply->reason, "no peer has yet found its store as it saw it") ||
            zclock_mono () > deadline)
            fail_msg ("get %s rejected: %s %s", address, reply->code, reply->reason);
        client_reply_close (reply);
        zclock_sleep (50); //  between two asks, within the deadline
    }
}

int64_t cluster_client_balance (client_t *client, const char *account)
{
    client_reply_t reply;
    cluster_client_get (client, account, &reply);
    int64_t balance = INT64_MIN;
    assert_int_equal (reply_state_int (&reply, "balance", &balance), 0);
    client_reply_close (&reply);
    return balance;
}

void cluster_client_transfer_status (client_t *client, const char *transfer, char *status,
                                     size_t size, bool *stalled)
{
    client_reply_t reply;
    cluster_client_get (client, transfer, &reply);
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
