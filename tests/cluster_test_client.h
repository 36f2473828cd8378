/*  cluster_test_client.h - requests to the nodes of a test's cluster through
    the client library (transport/client.h), the addresses each node owns,
    and a peer link made with a node's stolen key; shared by
    test_cluster_nodes_*.c and test_peer_forgery_*.c (through their
    *_test_util.h) and test_cluster_rekey.c. cluster_client_callv serves
    any node's client: test_bank.c and test_check_*.c send with it too.

    Conventions (those of harness.h):
    1. Every helper fails the running test (cmocka's fail_msg or an
       assert_*) on anything it did not expect, except where it returns
       client_call's code.
    2. A reply filled in is the caller's, closed with client_reply_close.
    3. Everything runs on the test's one thread.

    cluster_client_get and cluster_client_balance keep the names the tests call them by.
*/
#ifndef SHOAL_TESTS_CLUSTER_TEST_CLIENT_H
#define SHOAL_TESTS_CLUSTER_TEST_CLIENT_H

#include "client.h"
#include "cluster.h"

#include <czmq.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  The index of the node of cluster that owns address.
int cluster_client_owner (const cluster_t *cluster, const char *address);

//  Writes into address (size bytes) the first PREFIX-N that node owns, N
//  from *next on (next NULL: from 0), and moves *next past it. Fails the
//  test if no N below 100000 will do.
void cluster_client_address_on (const cluster_t *cluster, const char *prefix, int node, int *next,
                                char *address, size_t size);

//  n2's (node 1's) node.cert, its secret too, in an attacker's hands: from
//  DIR/c/NAME/, where the test made its cluster.
zcert_t *cluster_client_stolen_cert (const cluster_t *cluster, const char *dir);

//  A link to n1's (node 0's) peer endpoint with n2's stolen key, under
//  routing_id (NULL: none of its own), that said HELLO as n2 and was
//  welcomed; a receive on it waits at most timeout_ms. The caller
//  destroys it.
zsock_t *cluster_client_stolen_peer (const cluster_t *cluster, const char *dir,
                                     const char *routing_id, int timeout_ms);

//  Sends kind to `to` with id (NULL: a new one) and the "key=value" fields
//  in args (char *, NULL-ended, at most 8 read); waits at most timeout_ms.
//  Returns client_call's code; the caller closes reply when it is 0.
int cluster_client_callv (client_t *client, envelope_kind_t kind, const uint8_t *id, const char *to,
                          const char *name, int timeout_ms, client_reply_t *reply, va_list args);

//  cluster_client_callv with no id and its fields as arguments.
int cluster_client_call (client_t *client, envelope_kind_t kind, const char *to, const char *name,
                         int timeout_ms, client_reply_t *reply, ...);

//  The `get` reply of address (the caller closes it): asked again while
//  its node holds gets at its start (no peer has checked its store yet),
//  for 20 s at most; fails the test on any other refusal.
void cluster_client_get (client_t *client, const char *address, client_reply_t *reply);

//  An account's balance from its `get` reply.
int64_t cluster_client_balance (client_t *client, const char *account);

//  A transfer's state.status (into status, size bytes; "" if none) and
//  state.stalled (false if none), from its `get` reply.
void cluster_client_transfer_status (client_t *client, const char *transfer, char *status,
                                     size_t size, bool *stalled);

#endif
