/*  test_peers.c - tests of runtime/peers.c that need no second node: what
    a link says of a peer that has not spoken yet. The links between real
    nodes (up, cut one way, refused) are test_cluster_nodes_*.c's.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cluster.h"
#include "harness.h"
#include "peers.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEADLINE_MS 10000 //  for the silence to pass the heartbeat timeout

//  A peer never heard is not silent until the heartbeat timeout has
//  passed since we started, as the node's log says it: before, "heard"
//  was false from the first moment, so `cluster status` said "not heard
//  from n2 for 0s: the link n2->n1 is down" while the nodes were still
//  connecting. heard and silent_ms agree at every read, and past the
//  timeout the peer is not heard.
static void test_not_heard_only_past_the_timeout (void **state)
{
    (void) state;
    char dir[] = "/tmp/shoal-peers-XXXXXX";
    assert_non_null (mkdtemp (dir));
    zcert_t *certs[2] = {zcert_new (), zcert_new ()};
    assert_non_null (certs[0]);
    assert_non_null (certs[1]);
    char text[1024], path[128];
    snprintf (text, sizeof text,
              "cluster\n    name = peers\n    shards = 4\n    epoch = 1\nnode\n"
              "    n1\n        client = ipc://%s/n1.ipc\n        peer = ipc://%s/n1-peer.ipc\n"
              "        public_key = \"%s\"\n        shards = 0-1\n"
              "    n2\n        client = ipc://%s/n2.ipc\n        peer = ipc://%s/n2-peer.ipc\n"
              "        public_key = \"%s\"\n        shards = 2-3\n",
              dir, dir, zcert_public_txt (certs[0]), dir, dir, zcert_public_txt (certs[1]));
    snprintf (path, sizeof path, "%s/cluster.cfg", dir);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    assert_int_equal (fputs (text, file) >= 0, 1);
    assert_int_equal (fclose (file), 0);
    char *error = NULL;
    cluster_t *cluster = cluster_load (path, &error);
    if (!cluster)
        fail_msg ("%s", error);
    peers_t *peers = peers_new (cluster, 0, certs[0], "inproc://test-peers", &error);
    if (!peers)
        fail_msg ("%s", error);

    //  n2 was never started: our link to it is not up, and it was never heard.
    peers_link_t link;
    peers_link (peers, 1, &link);
    assert_false (link.up);
    assert_int_equal (link.heard, link.silent_ms < PEERS_HEARTBEAT_TIMEOUT_MS);
    if (link.silent_ms < PEERS_HEARTBEAT_TIMEOUT_MS)
        assert_true (link.heard); //  the read right after the start, on any sane machine
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (link.silent_ms < PEERS_HEARTBEAT_TIMEOUT_MS && zclock_mono () < deadline) {
        usleep (50 * 1000); //  poll interval: the condition is read back above
        peers_link (peers, 1, &link);
        assert_int_equal (link.heard, link.silent_ms < PEERS_HEARTBEAT_TIMEOUT_MS);
    }
    if (link.silent_ms < PEERS_HEARTBEAT_TIMEOUT_MS)
        fail_msg ("silent for %lld ms only after %d ms", (long long) link.silent_ms, DEADLINE_MS);
    assert_false (link.heard);
    assert_int_equal (peers_silent_ms (peers, 1) >= PEERS_HEARTBEAT_TIMEOUT_MS, 1);
    assert_int_equal (peers_silent_ms (peers, 0), 0); //  ourselves

    peers_destroy (&peers);
    cluster_destroy (&cluster);
    zcert_destroy (&certs[0]);
    zcert_destroy (&certs[1]);
    harness_rm_rf (dir);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_not_heard_only_past_the_timeout),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
