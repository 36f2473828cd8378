/*  cluster_nodes_test_util.h - the fixture and helpers of
    test_cluster_nodes_*.c: a cluster of real nodes on ipc:// in the test's
    own directory, their clients, requests, stats and waits.

    test_cluster_nodes_*.c: clusters of real `shoal node` processes on one
    machine ($SHOAL_BIN, ipc:// endpoints in the test's own directory):
    transfers across nodes started from a third node, a partition cut and
    healed from outside (tests/proxy.py on a node's peer link, $SHOAL_PROXY)
    and a frozen node, a link cut one way (each side says so, and `shoal
    explain` names the link), refusals that change nothing (a client, a peer key
    and a shard map the cluster does not know), a node alone that will not
    listen beyond loopback without --insecure, `unavailable` for a node
    that was killed, the store of another cluster of the same names,
    refused, a node whose secret key others may read, warned, and a
    second node of a name, refused.

    Every wait polls its condition against a deadline; nothing sleeps a
    fixed time and then asserts. One thread.
*/
#ifndef SHOAL_TESTS_CLUSTER_NODES_TEST_UTIL_H
#define SHOAL_TESTS_CLUSTER_NODES_TEST_UTIL_H

#include "client.h"
#include "cluster.h"
#include "cluster_test_client.h"
#include "proc.h"
#include "shard.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define DEADLINE_MS 20000 //  for anything that must happen
#define STALL_MS "1500"   //  the nodes' --stall-ms
#define FUNDING 1000      //  each account's first deposit
#define MAX_CHILDREN 8

typedef struct {
    char dir[128];                       //  the test's own directory
    char cfg[192];                       //  DIR/c/cluster.cfg
    cluster_t *cluster;                  //  loaded from cfg
    pid_t node[CLUSTER_MAX_NODES];       //  the cluster's nodes by index, 0: not running
    pid_t children[MAX_CHILDREN];        //  anything else started (to kill at teardown)
    client_t *client[CLUSTER_MAX_NODES]; //  one client per node, by index
    client_t *other;                     //  a client of a stranger or a node in disguise
    pid_t proxy;
    int proxy_out; //  the proxy's stdout, -1 if none
} fixture_t;

//  --------------------------------------------------------------------------
//  The cluster

int cluster_nodes_setup (void **state);

int cluster_nodes_teardown (void **state);

//  `shoal cluster init --nodes N --ipc` into DIR/c; loads the map.
void cluster_nodes_init (fixture_t *f, int nodes);

//  Starts node name of the cluster file cfg (with --new-store: a new
//  store is let be made past epoch 1); its stderr goes to
//  DIR/log_name.log. Returns its pid once it printed its ready line.
pid_t cluster_nodes_start (fixture_t *f, const char *cfg, const char *name, const char *log_name);

//  Starts node i of the fixture's cluster and a client of it alone.
void cluster_nodes_start_node (fixture_t *f, int i);

//  A command that must be accepted: asked again with the same id while
//  the answer is transient (a link just coming up), until the deadline.
void cluster_nodes_accept (client_t *client, const char *to, const char *name, ...);

typedef struct {
    int64_t peers_up, refused, forwarded, unavailable, refused_unsafe;
    bool peer[CLUSTER_MAX_NODES];  //  by index in the fixture's map: our link to it is up
    bool heard[CLUSTER_MAX_NODES]; //  its link to us brought a frame lately ("peers_heard")
} stats_t;

//  The stats of the node the client talks to.
void cluster_nodes_stats (const fixture_t *f, client_t *client, stats_t *stats);

//  True if the file at path holds text (its first MiB).
bool cluster_nodes_file_has (const char *path, const char *text);
//  Waits at most DEADLINE_MS for the file at path to hold text.
void cluster_nodes_wait_file_has (const char *path, const char *text);

//  Waits until every running node sees all the others up.
void cluster_nodes_wait_all_up (fixture_t *f);

//  Opens account and deposits FUNDING, through client.
void cluster_nodes_fund (client_t *client, const char *account);

#endif
