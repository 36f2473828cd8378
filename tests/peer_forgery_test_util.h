/*  peer_forgery_test_util.h - the fixture and helpers of
    test_peer_forgery_*.c: a cluster of real nodes in the test's own
    directory, messages forged on a peer's link, what a node then holds.

    test_peer_forgery_*.c: a peer whose key was stolen forges nothing.

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
#ifndef SHOAL_TESTS_PEER_FORGERY_TEST_UTIL_H
#define SHOAL_TESTS_PEER_FORGERY_TEST_UTIL_H

#include "client.h"
#include "cluster.h"
#include "cluster_test_client.h"
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

//  Starts node i (one worker: the peer's frames reach one queue, in
//  order) and a client of it alone.
void peer_forgery_start_node (fixture_t *f, int i);

//  --------------------------------------------------------------------------
//  Requests

//  A command that must be accepted (asked once: n1's own actors answer).
void peer_forgery_accept (client_t *client, const char *to, const char *name, const char *field1,
                          const char *field2, const char *field3);

int64_t peer_forgery_stat (client_t *client, const char *name);

//  --------------------------------------------------------------------------
//  The peer with n2's stolen key

//  Sends, as the peer, an actor's message (MSG) of kind; correlation is
//  32 hex digits or NULL; payload NULL is an empty map.
void peer_forgery_forge (fixture_t *f, envelope_kind_t kind, const char *from, const char *to,
                         const char *name, const char *correlation, const uint8_t *payload,
                         size_t payload_size);

//  Sends, as the peer, a legitimate Credit of 1 to the canary from one of
//  n2's transfers, and waits until it has landed: every frame the peer
//  sent before it was handled (one pipe, one worker, in order).
void peer_forgery_canary (fixture_t *f);

int peer_forgery_setup (void **state);

int peer_forgery_teardown (void **state);

#endif
