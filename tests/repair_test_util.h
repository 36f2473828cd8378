/*  repair_test_util.h - the fixture of test_repair.c and
    test_repair_force.c: a 3-node cluster on ipc:// in the test's own
    directory, its nodes started and killed, and what the tests ask of it
    (stats, links, pending commands, an actor's state and events). Every
    wait polls a condition against a deadline.
*/
#ifndef REPAIR_TEST_UTIL_H_INCLUDED
#define REPAIR_TEST_UTIL_H_INCLUDED

#include "client.h"
#include "cluster.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define NODES 3
#define DEADLINE_MS 30000

typedef struct {
    char dir[256];
    char cfg[300];
    pid_t pids[NODES];
    cluster_t *cluster;
    char disk[300];           //  a small tmpfs for n2's data (test_full_disk), "" if none
    const char *stall_ms;     //  the nodes' --stall-ms
    const char *retention_ms; //  the nodes' --inbox-retention-ms, NULL for the default
} fixture_t;

//  A node's stats as asked: map NULL if it did not answer within a second.
//  The map points into the reply: repair_stats_close after the last use.
typedef struct {
    client_reply_t reply;
    bool got;
    msgpack_unpacked unpacked;
    const msgpack_object *map;
} stats_t;

//  $SHOAL_BIN, the shoal binary under test.
const char *repair_bin (void);

//  Starts node i of the fixture's cluster, its log DIR/nK.log; returns
//  once it answers a stats query.
void repair_node_start (fixture_t *fx, int i);

//  Sends node i sig and reaps it.
void repair_node_kill (fixture_t *fx, int i, int sig);

//  Asks node i for its stats, into *stats.
void repair_stats (fixture_t *fx, int i, stats_t *stats);

void repair_stats_close (stats_t *stats);

//  True when node i's stats say its link to node peer is up (up) or
//  down (!up).
bool repair_link_is (fixture_t *fx, int i, int peer, bool up);

//  Node i's stats counter name, or -1 if it does not answer.
int64_t repair_stat (fixture_t *fx, int i, const char *name);

//  Polls until repair_link_is, or the deadline fails the test.
void repair_wait_link (fixture_t *fx, int i, int peer, bool up);

//  The first id "prefix-N" whose owner is node (of the given type).
void repair_id_on (fixture_t *fx, const char *type, const char *prefix, int node, char *id,
                   size_t size);

//  Polls `shoal get ADDRESS` until its output holds text.
void repair_wait_get (fixture_t *fx, const char *address, const char *text);

//  Polls `shoal pending --json` (--stalled if stalled) until a row of
//  sender names command; writes its message id into id (33 bytes).
void repair_wait_pending (fixture_t *fx, bool stalled, const char *sender, const char *command,
                          char *id, char *json, size_t size);

//  The fixtures of cmocka: the cluster made and its nodes started (n2's
//  data on an 8 MiB tmpfs with small_disk: root only), and taken down.
int repair_setup (void **state);

int repair_setup_small_disk (void **state);

//  Commands stall after a minute: longer than any test waits.
int repair_setup_slow_stall (void **state);

//  An inbox retention of 3 s: a command's record is pruned 4.5 s after.
int repair_setup_short_retention (void **state);

int repair_teardown (void **state);

//  Opens account/id with amount in it.
void repair_open (fixture_t *fx, const char *id, int amount);

void repair_transfer (fixture_t *fx, const char *id, const char *from, const char *to);

//  Starts transfers ids[k] of 10 from from to to[k], k < n, at once (one
//  shell, each in the background, through node i, the sagas' own), so
//  that their Credits leave within a moment: a test that pauses their
//  target's node needs them sent before that node is seen down (2 s),
//  when they would be dropped for a later re-send; one after another's
//  wait took longer under a loaded machine.
void repair_transfers (fixture_t *fx, int i, int n, char ids[][64], const char *from,
                       char to[][64]);

//  Polls `shoal get ADDRESS` of node i alone until its output holds text
//  (the others may be paused).
void repair_wait_get_on (fixture_t *fx, int i, const char *address, const char *text);

//  How many lines of `shoal events ADDRESS` hold both a and b, asked once
//  every running node's links to the others are up.
int repair_count_events (fixture_t *fx, const char *address, const char *a, const char *b);

//  Polls `shoal pending` until no command is pending on any node, or the
//  deadline fails the test, saying why and the last answer.
void repair_wait_none_pending (fixture_t *fx, const char *why);

#endif
