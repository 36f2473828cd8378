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
#include "peers_seen.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEADLINE_MS 10000 //  for the silence to pass the heartbeat timeout

//  A cluster of n1 and n2 on ipc:// in dir, with certs' keys.
static cluster_t *s_cluster (const char *dir, zcert_t *certs[2])
{
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
    return cluster;
}

//  Each test's own directory, the two nodes' certificates, and the
//  cluster of them (s_cluster); the teardown removes them.
typedef struct {
    char dir[32];
    zcert_t *certs[2];
    cluster_t *cluster;
} fixture_t;

static int s_setup (void **state)
{
    fixture_t *f = calloc (1, sizeof (fixture_t));
    assert_non_null (f);
    snprintf (f->dir, sizeof f->dir, "/tmp/shoal-peers-XXXXXX");
    assert_non_null (mkdtemp (f->dir));
    f->certs[0] = zcert_new ();
    f->certs[1] = zcert_new ();
    f->cluster = s_cluster (f->dir, f->certs);
    *state = f;
    return 0;
}

static int s_teardown (void **state)
{
    fixture_t *f = *state;
    cluster_destroy (&f->cluster);
    zcert_destroy (&f->certs[0]);
    zcert_destroy (&f->certs[1]);
    harness_rm_rf (f->dir);
    free (f);
    return 0;
}

//  A peer never heard is not silent until the heartbeat timeout has
//  passed since we started, as the node's log says it: before, "heard"
//  was false from the first moment, so `cluster status` said "not heard
//  from n2 for 0s: the link n2->n1 is down" while the nodes were still
//  connecting. heard and silent_ms agree at every read, and past the
//  timeout the peer is not heard.
static void test_not_heard_only_past_the_timeout (void **state)
{
    fixture_t *f = *state;
    char *error = NULL;
    peers_t *peers = peers_new (f->cluster, 0, f->certs[0], "inproc://test-peers", &error);
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
}

//  What a node keeps of a peer's store (peers_seen.h): a new run of the
//  peer whose log ends before what was kept is refused, within a run the
//  ends are not judged (a HELLO and a WELCOME, on two connections, come
//  in either order: a review's flake), a newer restore generation is
//  taken and an older one refused, an async run's ends are not kept but
//  the floor holds for it, a new run's ends are kept once it has found
//  our ask of it its own, what is kept
//  survives a reopen, and a malformed store frame is refused.
static const char *s_judge (peers_seen_t *seen, const char *store)
{
    static char why[320];
    return peers_seen_judge (seen, 1, store, strlen (store), "n2", "n1", why, sizeof why);
}

//  Saves seen to path and checks n2's line there.
static void s_kept_line (peers_seen_t *seen, const char *path, const char *expected)
{
    peers_seen_save (seen, INT64_MAX);
    char line[256] = "";
    FILE *file = fopen (path, "r");
    assert_non_null (file);
    while (fgets (line, sizeof line, file) && strncmp (line, "n2 ", 3) != 0)
        line[0] = 0;
    fclose (file);
    assert_string_equal (line, expected);
}

static void test_seen_judged (void **state)
{
    fixture_t *f = *state;
    peers_seen_t *seen = peers_seen_open (f->dir, f->cluster, 0);
    assert_non_null (seen);
    assert_null (s_judge (seen, "100 sync 0 00000000000000a1"));
    assert_null (s_judge (seen, "90 sync 0 00000000000000a1")); //  the same run, read late
    assert_null (s_judge (seen, "120 sync 0 00000000000000a1"));
    const char *why = s_judge (seen, "119 sync 0 00000000000000a2"); //  a new run, behind
    assert_non_null (why);
    if (strncmp (why, PEERS_SEEN_BEHIND " what n1 saw of it: its event log ends at 119, n1 saw 120",
                 strlen (PEERS_SEEN_BEHIND) + 56) != 0)
        fail_msg ("%s", why);
    assert_null (s_judge (seen, "120 sync 0 00000000000000a3")); //  not behind
    //  Kept across a reopen, and refused then too.
    peers_seen_save (seen, INT64_MAX);
    peers_seen_destroy (&seen);
    seen = peers_seen_open (f->dir, f->cluster, 0);
    assert_non_null (s_judge (seen, "7 sync 0 00000000000000a4"));
    //  Taken by its operator (a newer generation): its end from then on,
    //  whoever was down when it ran; an older generation is refused.
    assert_null (s_judge (seen, "7 sync 1765000000000 00000000000000a5"));
    assert_non_null (s_judge (seen, "6 sync 1765000000000 00000000000000a6"));
    //  An older generation past the floor: not said "behind" by its end
    //  ("ends at 500, n1 saw 7", an SRE's review), but by its generation.
    why = s_judge (seen, "500 sync 0 00000000000000a7");
    if (!why || !strstr (why, "it is a store from before its operator took one as it was since") ||
        !strstr (why, "which n1 saw to 7 (this one ends at 500"))
        fail_msg ("an older generation: %s", why ? why : "taken");
    //  async: its ends are not kept (a crash may take its tail), but the
    //  floor, of sync runs, holds for it and after it.
    assert_null (s_judge (seen, "20 async 1765000000000 00000000000000a8"));
    assert_non_null (s_judge (seen, "6 async 1765000000000 00000000000000b8"));
    assert_non_null (s_judge (seen, "6 sync 1765000000000 00000000000000b9"));
    assert_null (s_judge (seen, "7 sync 1765000000000 00000000000000a9"));
    //  A store that bears the mark of a refusal says so: refused whatever
    //  its end, until its operator takes it.
    why = s_judge (seen, "999999 behind 1765000000000 00000000000000b1");
    assert_non_null (why);
    assert_true (strncmp (why, PEERS_SEEN_BEHIND, strlen (PEERS_SEEN_BEHIND)) == 0);
    //  Malformed: refused as such, nothing kept.
    const char *bad[] = {
        "-1 sync 0 00000000000000aa", "18446744073709551616 sync 0 00000000000000aa",
        "0x10 sync 0 00000000000000aa", "5 SYNC 0 00000000000000aa",
        "5 sync 0 00000000000000aa junk", "5 sync 0 00000000000000a", "5 sync 0 00000000000000AA",
        "5  sync 0 00000000000000aa",
        //  The sums, what is asked and what was found: all five, or none.
        "5 sync 0 00000000000000aa 00000000000000zz 1 0 0000000000000001 0",
        "5 sync 0 00000000000000aa 0000000000000001 1 0 0000000000000001",
        "5 sync 0 00000000000000aa 0000000000000001 x 0 0000000000000001 0",
        "5 sync 0 00000000000000aa 0000000000000001 1 0 0000000000000001 -1", "5 sync", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why = s_judge (seen, bad[i]);
        if (!why || strcmp (why, "a malformed store frame") != 0)
            fail_msg ("'%s' judged %s", bad[i], why ? why : "fine");
    }
    assert_null (s_judge (seen, "7 sync 1765000000000 00000000000000a9")); //  still that run
    //  With its sum: its end and sum kept.
    assert_null (s_judge (seen, "40 sync 1765000000000 00000000000000a9 00000000000000f1 0 0 "
                                "0000000000000000 0"));
    char path[256];
    snprintf (path, sizeof path, "%s/" PEERS_SEEN_FILE, f->dir);
    s_kept_line (seen, path, "n2 40 1765000000000 00000000000000f1\n");
    //  A new run past it is taken, but its ends are not kept until it has
    //  found our ask of it (40, and its sum) to be its own: a store restored
    //  from an older backup that took commands since would have the new
    //  ends kept, and be asked of them alone.
    assert_null (s_judge (seen, "60 sync 1765000000000 00000000000000d1 00000000000000e1 0 0 "
                                "0000000000000000 0"));
    assert_null (s_judge (seen, "70 sync 1765000000000 00000000000000d1 00000000000000e2 0 0 "
                                "0000000000000000 39"));
    s_kept_line (seen, path, "n2 40 1765000000000 00000000000000f1\n");
    assert_null (s_judge (seen, "80 sync 1765000000000 00000000000000d1 00000000000000e3 0 0 "
                                "0000000000000000 40"));
    s_kept_line (seen, path, "n2 80 1765000000000 00000000000000e3\n");
    peers_seen_destroy (&seen);
    //  A line cut short (the file is not synced: a power cut) is none: n2's
    //  floor stays the whole line's 40, not 9.
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fputs ("n2 40 1765000000000 00000000000000f1\nn2 9", file);
    fclose (file);
    seen = peers_seen_open (f->dir, f->cluster, 0);
    assert_non_null (s_judge (seen, "39 sync 1765000000000 00000000000000c1"));
    assert_null (s_judge (seen, "40 sync 1765000000000 00000000000000c2"));
    peers_seen_destroy (&seen);
    //  A line longer than any the node writes is skipped whole: its tail
    //  is no line of its own (before, "n2 9 ..." past the 255th byte was
    //  read as one, and n2's floor fell to 9).
    file = fopen (path, "w");
    assert_non_null (file);
    fputs ("n2 40 1765000000000 00000000000000f1\nn1 ", file);
    for (int i = 0; i < 252; i++)
        fputc ('7', file);
    fputs ("n2 9 1765000000000\n", file);
    fclose (file);
    seen = peers_seen_open (f->dir, f->cluster, 0);
    assert_non_null (s_judge (seen, "39 sync 1765000000000 00000000000000c4"));
    peers_seen_destroy (&seen);
    //  A sum cut short is none (it would be taken for another event's).
    file = fopen (path, "w");
    assert_non_null (file);
    fputs ("n2 40 1765000000000 f1\n", file);
    fclose (file);
    seen = peers_seen_open (f->dir, f->cluster, 0);
    assert_null (s_judge (seen, "40 sync 1765000000000 00000000000000c3"));
    s_kept_line (seen, path, "n2 40 1765000000000 0000000000000000\n");
    peers_seen_destroy (&seen);
}

//  A start's hold (peers_seen_unchecked) ends once a peer's ask settles
//  our store, and not on an end kept without its sum that our log does
//  not reach: that peer refuses us (before, such an ask ended the hold
//  the first round trip before its refusal came: a review's find).
static void test_start_held_until_settled (void **state)
{
    fixture_t *f = *state;
    char store[64], why[320];
    snprintf (store, sizeof store, "%s/store", f->dir);
    int code = 0;
    char *error = NULL;
    journal_t *journal = journal_open (store, NULL, &code, &error);
    if (!journal)
        fail_msg ("journal_open: %d %s", code, error ? error : "");
    peers_seen_t *seen = peers_seen_open (f->dir, f->cluster, 0);
    assert_non_null (peers_seen_unchecked (seen, zclock_mono ())); //  held
    //  n2 kept our end 5 at our generation, without its sum; our log ends
    //  at 0.
    const char *past = "0 sync 0 00000000000000a1 0000000000000000 5 0 0000000000000000 0";
    assert_null (
        peers_seen_check (seen, 1, journal, 0, past, strlen (past), "n2", why, sizeof why));
    assert_non_null (peers_seen_unchecked (seen, zclock_mono ())); //  still held
    //  Of an older generation of ours (taken with --restored since): settled.
    assert_null (peers_seen_check (seen, 1, journal, 1765000000000, past, strlen (past), "n2", why,
                                   sizeof why));
    assert_null (peers_seen_unchecked (seen, zclock_mono ()));
    peers_seen_destroy (&seen);
    //  One that kept nothing of us settles it too; and with no peer up,
    //  the hold ends PEERS_SEEN_HOLD_MS after the start, whatever was said.
    seen = peers_seen_open (f->dir, f->cluster, 0);
    const char *none = "0 sync 0 00000000000000a2 0000000000000000 0 0 0000000000000000 0";
    assert_null (
        peers_seen_check (seen, 1, journal, 0, none, strlen (none), "n2", why, sizeof why));
    assert_null (peers_seen_unchecked (seen, zclock_mono ()));
    peers_seen_destroy (&seen);
    seen = peers_seen_open (f->dir, f->cluster, 0);
    assert_non_null (peers_seen_unchecked (seen, zclock_mono ()));
    assert_null (peers_seen_unchecked (seen, zclock_mono () + PEERS_SEEN_HOLD_MS));
    peers_seen_destroy (&seen);
    //  A hold of its own (--start-hold 200) is counted from the first look
    //  (the front's start), not from the open; forever (--start-hold
    //  forever) ends only when a peer settles it.
    seen = peers_seen_open (f->dir, f->cluster, 200);
    int64_t first = zclock_mono () + 60000; //  the store and the modules took a minute
    assert_non_null (peers_seen_unchecked (seen, first));
    assert_non_null (peers_seen_unchecked (seen, first + 199));
    assert_null (peers_seen_unchecked (seen, first + 200));
    peers_seen_destroy (&seen);
    seen = peers_seen_open (f->dir, f->cluster, PEERS_SEEN_HOLD_FOREVER);
    assert_non_null (peers_seen_unchecked (seen, zclock_mono ()));
    const char *held = peers_seen_unchecked (seen, zclock_mono () + 1000 * PEERS_SEEN_HOLD_MS);
    assert_non_null (held);
    assert_non_null (strstr (held, "--start-hold forever"));
    assert_null (
        peers_seen_check (seen, 1, journal, 0, none, strlen (none), "n2", why, sizeof why));
    assert_null (peers_seen_unchecked (seen, zclock_mono ()));
    peers_seen_destroy (&seen);
    journal_destroy (&journal);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_not_heard_only_past_the_timeout, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_seen_judged, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_start_held_until_settled, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
