/*  test_repair.c - watching and repairing a running cluster, with real
    processes: a 3-node cluster on ipc:// in the test's own directory,
    nodes killed (SIGKILL) and restarted, and the `shoal pending`,
    `explain`, `resolve` and `events --follow` commands run as a user
    runs them. Every wait polls a condition against a deadline.

    The paths of resolve: a stalled credit resolved while its node is
    down (compensated); a stalled debit resolved while its node is down
    (failed, no Debited anywhere); a debit that had already run when it was
    resolved (its saga's node lost its last commits: restored from a copy
    of its data taken before), which the cancel finds, so the saga goes
    on (completed); and --force (failed at once). Then the books of all
    three data directories are checked. Last, on a cluster of its own, a
    credit whose target's node has a full disk (an 8 MiB tmpfs, root
    only): explain says that node cannot serve it, and why. A saga's node
    stopped: every command about it is no answer (exit 3), naming it. And
    --force after a resolve whose $cancel is still on its way; and --force
    past a node only paused, whose late real reply is logged and counted.
*/
#include "client.h"
#include "cluster.h"
#include "shard.h"

#include <czmq.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "proc.h"

#define NODES 3
#define DEADLINE_MS 30000

typedef struct {
    char dir[256];
    char cfg[300];
    pid_t pids[NODES];
    cluster_t *cluster;
    char disk[300];       //  a small tmpfs for n2's data (test_full_disk), "" if none
    const char *stall_ms; //  the nodes' --stall-ms
} fixture_t;

static const char *s_bin (void)
{
    const char *bin = getenv ("SHOAL_BIN");
    assert_non_null (bin);
    return bin;
}

static void s_node_start (fixture_t *fx, int i)
{
    const char *name = cluster_node_name (fx->cluster, i);
    char log[400];
    snprintf (log, sizeof log, "%s/%s.log", fx->dir, name);
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        FILE *err = fopen (log, "a");
        if (err) {
            dup2 (fileno (err), 1);
            dup2 (fileno (err), 2);
        }
        char data[400];
        snprintf (data, sizeof data, "%s/%s", fx->disk, name);
        if (fx->disk[0] && i == 1) //  n2's data on the small disk
            execl (s_bin (), "shoal", "node", "--cluster", fx->cfg, "--name", name, "--stall-ms",
                   fx->stall_ms, "--workers", "2", "--data", data, (char *) NULL);
        else
            execl (s_bin (), "shoal", "node", "--cluster", fx->cfg, "--name", name, "--stall-ms",
                   fx->stall_ms, "--workers", "2", (char *) NULL);
        _exit (127);
    }
    fx->pids[i] = pid;
    //  Ready when it answers a stats query.
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (zclock_mono () < deadline) {
        char *error = NULL;
        client_t *client = client_new_cluster (fx->cfg, name, &error);
        free (error);
        assert_non_null (client);
        envelope_t request;
        client_request (&request, ENVELOPE_QUERY, NULL, "node/stats", "stats", NULL, 0);
        client_reply_t reply;
        int rc = client_call (client, &request, 300, &reply);
        client_destroy (&client);
        if (rc == 0) {
            client_reply_close (&reply);
            return;
        }
        assert_int_equal (waitpid (pid, NULL, WNOHANG), 0); //  still running
    }
    fail_msg ("node %s did not start", name);
}

static void s_node_kill (fixture_t *fx, int i, int sig)
{
    if (fx->pids[i] > 0) {
        kill (fx->pids[i], sig);
        waitpid (fx->pids[i], NULL, 0);
        fx->pids[i] = 0;
    }
}

//  A node's stats as asked: map NULL if it did not answer within a second.
//  The map points into the reply: s_stats_close after the last use.
typedef struct {
    client_reply_t reply;
    bool got;
    msgpack_unpacked unpacked;
    const msgpack_object *map;
} stats_t;

static void s_stats (fixture_t *fx, int i, stats_t *stats)
{
    msgpack_unpacked_init (&stats->unpacked);
    stats->map = NULL;
    char *error = NULL;
    client_t *client = client_new_cluster (fx->cfg, cluster_node_name (fx->cluster, i), &error);
    free (error);
    envelope_t request;
    client_request (&request, ENVELOPE_QUERY, NULL, "node/stats", "stats", NULL, 0);
    stats->got = client && client_call (client, &request, 1000, &stats->reply) == 0;
    if (stats->got)
        stats->map = map_unpack (&stats->unpacked, stats->reply.data, stats->reply.size);
    client_destroy (&client);
}

static void s_stats_close (stats_t *stats)
{
    msgpack_unpacked_destroy (&stats->unpacked);
    if (stats->got)
        client_reply_close (&stats->reply);
}

//  True when node i's stats say its link to node peer is up (up) or
//  down (!up).
static bool s_link_is (fixture_t *fx, int i, int peer, bool up)
{
    stats_t stats;
    s_stats (fx, i, &stats);
    const msgpack_object *link =
        map_find (map_find (stats.map, "peers"), cluster_node_name (fx->cluster, peer));
    bool is = link && link->type == MSGPACK_OBJECT_BOOLEAN && link->via.boolean == up;
    s_stats_close (&stats);
    return is;
}

//  Node i's stats counter name, or -1 if it does not answer.
static int64_t s_stat (fixture_t *fx, int i, const char *name)
{
    stats_t stats;
    s_stats (fx, i, &stats);
    int64_t value = -1;
    if (map_find_int (stats.map, name, &value) != 0)
        value = -1;
    s_stats_close (&stats);
    return value;
}

static void s_wait_link (fixture_t *fx, int i, int peer, bool up)
{
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (!s_link_is (fx, i, peer, up)) {
        assert_true (zclock_mono () < deadline);
        zclock_sleep (50);
    }
}

//  The first id "prefix-N" whose owner is node (of the given type).
static void s_id_on (fixture_t *fx, const char *type, const char *prefix, int node, char *id,
                     size_t size)
{
    for (int n = 0;; n++) {
        char address[128];
        snprintf (id, size, "%s-%d", prefix, n);
        snprintf (address, sizeof address, "%s/%s", type, id);
        if (cluster_owner (fx->cluster, shoal_shard (address, cluster_shards (fx->cluster))) ==
            node)
            return;
    }
}

//  Polls `shoal get ADDRESS` until its output holds text.
static void s_wait_get (fixture_t *fx, const char *address, const char *text)
{
    char out[4096] = "";
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (zclock_mono () < deadline) {
        proc_sh (out, sizeof out, "%s get --cluster %s %s 2>/dev/null", s_bin (), fx->cfg, address);
        if (strstr (out, text))
            return;
        zclock_sleep (100);
    }
    fail_msg ("%s never showed %s; last: %s", address, text, out);
}

//  Polls `shoal pending --json` (--stalled if stalled) until a row of
//  sender names command; writes its message id into id (33 bytes).
static void s_wait_pending (fixture_t *fx, bool stalled, const char *sender, const char *command,
                            char *id, char *json, size_t size)
{
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    char pattern[300];
    snprintf (pattern, sizeof pattern, "{\"sender\":\"%s\",\"command\":\"%s\"", sender, command);
    while (zclock_mono () < deadline) {
        proc_sh (json, size, "%s pending --cluster %s%s --json --timeout 1000", s_bin (), fx->cfg,
                 stalled ? " --stalled" : "");
        const char *row = strstr (json, pattern);
        const char *key = row ? strstr (row, "\"id\":\"") : NULL;
        if (key) {
            memcpy (id, key + 6, 32);
            id[32] = 0;
            return;
        }
        zclock_sleep (100);
    }
    fail_msg ("%s's %s never showed%s; last: %s", sender, command, stalled ? " stalled" : "", json);
}

//  The cluster, n2's data on an 8 MiB tmpfs if small_disk (root only: a
//  test that needs it fails saying so, it is never skipped).
static int s_setup_on (void **state, bool small_disk, const char *stall_ms)
{
    fixture_t *fx = calloc (1, sizeof (fixture_t));
    fx->stall_ms = stall_ms;
    const char *tmp = getenv ("TMPDIR") ? getenv ("TMPDIR") : "/tmp";
    snprintf (fx->dir, sizeof fx->dir, "%s/shoal-repair-XXXXXX", tmp);
    assert_non_null (mkdtemp (fx->dir));
    if (small_disk) {
        snprintf (fx->disk, sizeof fx->disk, "%s/disk", fx->dir);
        assert_int_equal (mkdir (fx->disk, 0700), 0);
        if (mount ("tmpfs", fx->disk, "tmpfs", 0, "size=8m") != 0)
            fail_msg ("cannot mount a tmpfs at %s: %s; this test needs root (uid %d here)",
                      fx->disk, strerror (errno), (int) getuid ());
    }
    snprintf (fx->cfg, sizeof fx->cfg, "%s/cluster.cfg", fx->dir);
    assert_int_equal (proc_sh (NULL, 0, "%s cluster init --nodes %d --dir %s --ipc >/dev/null",
                               s_bin (), NODES, fx->dir),
                      0);
    char *error = NULL;
    fx->cluster = cluster_load (fx->cfg, &error);
    assert_non_null (fx->cluster);
    for (int i = 0; i < NODES; i++)
        s_node_start (fx, i);
    for (int i = 0; i < NODES; i++)
        for (int peer = 0; peer < NODES; peer++)
            if (peer != i)
                s_wait_link (fx, i, peer, true);
    *state = fx;
    return 0;
}

static int s_setup (void **state)
{
    return s_setup_on (state, false, "1000");
}

static int s_setup_small_disk (void **state)
{
    return s_setup_on (state, true, "1000");
}

//  Commands stall after a minute: longer than any test waits.
static int s_setup_slow_stall (void **state)
{
    return s_setup_on (state, false, "60000");
}

static int s_teardown (void **state)
{
    fixture_t *fx = *state;
    for (int i = 0; i < NODES; i++)
        s_node_kill (fx, i, SIGKILL);
    if (fx->disk[0])
        umount2 (fx->disk, MNT_DETACH);
    cluster_destroy (&fx->cluster);
    proc_sh (NULL, 0, "rm -rf %s", fx->dir);
    free (fx);
    return 0;
}

//  Opens account/id with amount in it.
static void s_open (fixture_t *fx, const char *id, int amount)
{
    assert_int_equal (proc_sh (NULL, 0, "%s send --cluster %s account/%s Open owner=%s >/dev/null",
                               s_bin (), fx->cfg, id, id),
                      0);
    assert_int_equal (proc_sh (NULL, 0,
                               "%s send --cluster %s account/%s Deposit amount=%d >/dev/null",
                               s_bin (), fx->cfg, id, amount),
                      0);
}

static void s_transfer (fixture_t *fx, const char *id, const char *from, const char *to)
{
    assert_int_equal (proc_sh (NULL, 0, "%s transfer --cluster %s --id %s %s %s 10 >/dev/null",
                               s_bin (), fx->cfg, id, from, to),
                      0);
}

//  How many lines of `shoal events ADDRESS` hold both a and b.
static int s_count_events (fixture_t *fx, const char *address, const char *a, const char *b)
{
    char out[16384];
    assert_int_equal (
        proc_sh (out, sizeof out, "%s events --cluster %s %s", s_bin (), fx->cfg, address), 0);
    int count = 0;
    for (char *line = strtok (out, "\n"); line; line = strtok (NULL, "\n"))
        count += strstr (line, a) && strstr (line, b);
    return count;
}

//  The whole story on one cluster (its start is the slow part).
static void test_repair (void **state)
{
    fixture_t *fx = *state;
    //  Sagas on node 0; sources on node 1; targets on node 2.
    char from[5][64], to[5][64], transfer[5][64];
    for (int k = 0; k < 5; k++) {
        char prefix[16];
        snprintf (prefix, sizeof prefix, "src%d", k);
        s_id_on (fx, "account", prefix, 1, from[k], sizeof from[k]);
        snprintf (prefix, sizeof prefix, "dst%d", k);
        s_id_on (fx, "account", prefix, 2, to[k], sizeof to[k]);
        snprintf (prefix, sizeof prefix, "t%d", k);
        s_id_on (fx, "transfer", prefix, 0, transfer[k], sizeof transfer[k]);
        s_open (fx, from[k], 100);
        s_open (fx, to[k], 100);
    }
    char json[65536], out[65536], id[33], address[128];

    //  1. events --follow shows an event committed after it started.
    char follow_out[400];
    snprintf (follow_out, sizeof follow_out, "%s/follow.out", fx->dir);
    pid_t follower = fork ();
    assert_true (follower >= 0);
    if (follower == 0) {
        FILE *file = fopen (follow_out, "w");
        if (file)
            dup2 (fileno (file), 1);
        char target[128];
        snprintf (target, sizeof target, "account/%s", from[0]);
        execl (s_bin (), "shoal", "events", "--cluster", fx->cfg, "--follow", target,
               (char *) NULL);
        _exit (127);
    }
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (proc_sh (out, sizeof out, "cat %s", follow_out) == 0 && !strstr (out, "Deposited")) {
        assert_true (zclock_mono () < deadline); //  it printed what was there
        zclock_sleep (50);
    }
    assert_int_equal (proc_sh (NULL, 0,
                               "%s send --cluster %s account/%s Deposit amount=7 >/dev/null",
                               s_bin (), fx->cfg, from[0]),
                      0);
    while (proc_sh (out, sizeof out, "cat %s", follow_out) == 0 && !strstr (out, "\"amount\":7")) {
        assert_true (zclock_mono () < deadline);
        zclock_sleep (50);
    }
    kill (follower, SIGINT);
    waitpid (follower, NULL, 0);
    proc_sh (NULL, 0, "%s send --cluster %s account/%s Withdraw amount=7 >/dev/null", s_bin (),
             fx->cfg, from[0]);

    //  2. A credit's node down: pending --stalled lists it, explain names
    //  the node; resolved, then the node back: compensated.
    s_node_kill (fx, 2, SIGKILL);
    s_wait_link (fx, 0, 2, false);
    s_transfer (fx, transfer[0], from[0], to[0]);
    snprintf (address, sizeof address, "transfer/%s", transfer[0]);
    s_wait_pending (fx, true, address, "Credit", id, json, sizeof json);
    assert_non_null (strstr (json, "\"target_node\":\"n3\""));
    assert_non_null (strstr (json, "\"nodes_down\":[\"n3\"]"));
    proc_sh (out, sizeof out, "%s pending --cluster %s --stalled --timeout 1000", s_bin (),
             fx->cfg);
    assert_non_null (strstr (out, "Credit"));
    assert_non_null (strstr (out, "node n3 did not answer"));
    proc_sh (out, sizeof out, "%s explain --cluster %s %s", s_bin (), fx->cfg, address);
    assert_non_null (strstr (out, "STALLED"));
    assert_non_null (strstr (out, "target node n3"));
    assert_non_null (strstr (out, "is down"));
    proc_sh (out, sizeof out, "%s explain --json --cluster %s %s", s_bin (), fx->cfg, address);
    assert_non_null (strstr (out, "\"stalled\":true"));
    //  Its events say when, as the text does (the JSON left it out).
    if (!strstr (out, "\"event\":\"Started\",\"at\":\"20"))
        fail_msg ("explain --json of %s: %s", address, out);
    assert_non_null (strstr (out, "\"target_node\":\"n3\""));
    assert_int_equal (proc_sh (out, sizeof out,
                               "%s resolve --cluster %s --wait 200 %s %s --reject operator_cancel "
                               "--reason 'n3 is being repaired'",
                               s_bin (), fx->cfg, address, id),
                      0);
    assert_non_null (strstr (out, "the cancel waits for"));
    //  The $cancel that pending lists is not a command to resolve: said so.
    char cancel[33];
    s_wait_pending (fx, false, address, "$cancel", cancel, json, sizeof json);
    assert_int_equal (proc_sh (out, sizeof out,
                               "%s resolve --cluster %s --wait 0 %s %s --reject x --reason y 2>&1",
                               s_bin (), fx->cfg, address, cancel),
                      1);
    assert_non_null (strstr (out, "is the $cancel of a resolve under way"));

    //  3. A debit's node down, resolved: failed, nothing moved.
    s_node_kill (fx, 1, SIGKILL);
    s_wait_link (fx, 0, 1, false);
    s_transfer (fx, transfer[1], from[1], to[1]);
    char address1[128];
    snprintf (address1, sizeof address1, "transfer/%s", transfer[1]);
    s_wait_pending (fx, true, address1, "Debit", id, json, sizeof json);
    assert_int_equal (proc_sh (out, sizeof out,
                               "%s resolve --cluster %s --wait 200 %s %s --reject operator_cancel "
                               "--reason 'n2 is being repaired'",
                               s_bin (), fx->cfg, address1, id),
                      0);
    //  A second resolve of the same command says so.
    assert_int_equal (proc_sh (NULL, 0,
                               "%s resolve --cluster %s --wait 0 %s %s --reject x --reason y "
                               "2>/dev/null",
                               s_bin (), fx->cfg, address1, id),
                      1);
    //  A forced one refused (nothing pending under that id) warns of
    //  nothing: the warning that it ended the command came before the
    //  refusal.
    assert_int_equal (
        proc_sh (out, sizeof out,
                 "%s resolve --cluster %s --wait 0 %s "
                 "00112233445566778899aabbccddeeff --reject x --reason y --force 2>&1",
                 s_bin (), fx->cfg, address1),
        1);
    assert_null (strstr (out, "WARNING"));

    //  4. --force: failed at once, without its target.
    s_transfer (fx, transfer[2], from[2], to[2]);
    char address2[128];
    snprintf (address2, sizeof address2, "transfer/%s", transfer[2]);
    s_wait_pending (fx, true, address2, "Debit", id, json, sizeof json);
    //  Without $USER, the login of the user running it is recorded.
    assert_int_equal (proc_sh (out, sizeof out,
                               "env -u USER %s resolve --cluster %s %s %s --reject node_lost "
                               "--reason 'gone' --force 2>&1",
                               s_bin (), fx->cfg, address2, id),
                      0);
    assert_non_null (strstr (out, "WARNING: --force ended"));
    assert_non_null (strstr (out, "recorded as $Resolved by "));
    assert_null (strstr (out, "by unknown"));
    assert_non_null (strstr (out, "FORCED"));
    assert_non_null (strstr (out, "\"status\":\"failed\""));

    //  5. A debit that ran, whose saga's node then lost its last commits:
    //  the saga's node 0 copied while the debit was pending, the debit run,
    //  node 0 restored from the copy with the source's node down.
    s_transfer (fx, transfer[3], from[3], to[3]);
    char address3[128];
    snprintf (address3, sizeof address3, "transfer/%s", transfer[3]);
    s_wait_pending (fx, true, address3, "Debit", id, json, sizeof json);
    s_node_kill (fx, 0, SIGKILL);
    assert_int_equal (proc_sh (NULL, 0, "cp -a %s/n1/data %s/n1-copy", fx->dir, fx->dir), 0);
    s_node_start (fx, 0);
    s_node_start (fx, 1); //  both transfers 1 and 3 go on; 1 fails, 3 debits
    s_wait_get (fx, address1, "\"status\":\"failed\"");
    s_wait_get (fx, address3, "\"status\":\"debited\"");
    s_node_kill (fx, 0, SIGKILL);
    s_node_kill (fx, 1, SIGKILL);
    assert_int_equal (proc_sh (NULL, 0, "rm -rf %s/n1/data && mv %s/n1-copy %s/n1/data", fx->dir,
                               fx->dir, fx->dir),
                      0);
    s_node_start (fx, 0);
    s_wait_get (fx, address3, "\"status\":\"started\""); //  it lost its Debited
    s_wait_pending (fx, true, address3, "Debit", id, json, sizeof json);
    assert_int_equal (proc_sh (out, sizeof out,
                               "%s resolve --cluster %s --wait 200 %s %s --reject operator_cancel "
                               "--reason 'n2 is being repaired'",
                               s_bin (), fx->cfg, address3, id),
                      0);
    //  The copy holds transfer 1's $Resolved and $cancel, not its Failed:
    //  the $cancel, re-sent, gets the same rejection from the inbox.
    s_node_start (fx, 1);
    s_wait_get (fx, address3, "\"status\":\"debited\""); //  the real reply came
    s_node_start (fx, 2);
    s_wait_get (fx, address, "\"status\":\"compensated\"");
    s_wait_get (fx, address1, "\"status\":\"failed\"");
    s_wait_get (fx, address2, "\"status\":\"failed\"");
    s_wait_get (fx, address3, "\"status\":\"completed\"");

    //  The operator's record is in each saga's journal; the account's
    //  journals agree with the outcomes.
    for (int k = 0; k < 4; k++) {
        snprintf (address, sizeof address, "transfer/%s", transfer[k]);
        assert_int_equal (s_count_events (fx, address, "$Resolved", "operator"), 1);
        char account[128];
        snprintf (account, sizeof account, "account/%s", from[k]);
        int debits = s_count_events (fx, account, "Debited", transfer[k]);
        int refunds = s_count_events (fx, account, "Refunded", transfer[k]);
        snprintf (account, sizeof account, "account/%s", to[k]);
        int credits = s_count_events (fx, account, "Credited", transfer[k]);
        int expect[4][3] = {{1, 1, 0}, {0, 0, 0}, {0, 0, 0}, {1, 0, 1}};
        assert_int_equal (debits, expect[k][0]);
        assert_int_equal (refunds, expect[k][1]);
        assert_int_equal (credits, expect[k][2]);
    }
    proc_sh (out, sizeof out, "%s explain --cluster %s transfer/%s", s_bin (), fx->cfg,
             transfer[1]);
    assert_non_null (strstr (out, "$Resolved"));
    assert_non_null (strstr (out, "n2 is being repaired"));
    proc_sh (out, sizeof out, "%s pending --cluster %s", s_bin (), fx->cfg);
    assert_non_null (strstr (out, "no command is pending"));

    //  The books of all three nodes, stopped.
    for (int i = 0; i < NODES; i++)
        s_node_kill (fx, i, SIGTERM);
    int rc =
        proc_sh (out, sizeof out, "%s check --data %s/n1/data --data %s/n2/data --data %s/n3/data",
                 s_bin (), fx->dir, fx->dir, fx->dir);
    if (rc != 0)
        fail_msg ("shoal check: %s", out);
}

//  --------------------------------------------------------------------------
//  A credit whose target's node (n2) cannot write its store (a full disk)
//  is never answered: explain says that node cannot serve the target,
//  quoting why (No space left on device), where it said the target and
//  its node were up and "no answer has come yet (busy, or a message
//  lost: try shoal resend)". Space freed, the credit goes through, once.

static void test_full_disk (void **state)
{
    fixture_t *fx = *state;
    char from[64], to[64], transfer[64], sender[96], target[96];
    s_id_on (fx, "account", "src", 0, from, sizeof from);
    s_id_on (fx, "account", "dst", 1, to, sizeof to);
    s_id_on (fx, "transfer", "t", 0, transfer, sizeof transfer);
    s_open (fx, from, 100);
    s_open (fx, to, 1);
    //  Fill n2's disk, then its own writes fill the last page: deposits
    //  until one is refused for the disk.
    proc_sh (NULL, 0, "dd if=/dev/zero of=%s/filler bs=64k >/dev/null 2>&1", fx->disk);
    char out[65536];
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (true) {
        proc_sh (out, sizeof out, "%s send --cluster %s account/%s Deposit amount=1 2>&1", s_bin (),
                 fx->cfg, to);
        if (strstr (out, "No space left on device"))
            break;
        if (zclock_mono () > deadline)
            fail_msg ("n2 never said its disk was full: %s", out);
    }
    s_transfer (fx, transfer, from, to);
    snprintf (sender, sizeof sender, "transfer/%s", transfer);
    snprintf (target, sizeof target, "account/%s", to);
    char id[33], json[65536];
    s_wait_pending (fx, true, sender, "Credit", id, json, sizeof json);
    //  The node answers a get as it answers the command while its store is
    //  down; between its attempts to open the store again a get may pass
    //  (a CI run saw one): explain says it within the deadline.
    char says[200];
    snprintf (says, sizeof says, "why: %s's node cannot serve it", target);
    deadline = zclock_mono () + DEADLINE_MS;
    while (true) {
        proc_sh (out, sizeof out, "%s explain --cluster %s %s", s_bin (), fx->cfg, sender);
        if (strstr (out, "STALLED") && strstr (out, says) &&
            strstr (out, "No space left on device") && !strstr (out, "no answer has come yet"))
            break;
        if (zclock_mono () > deadline)
            fail_msg ("explain, %s's disk full, never said its node cannot serve it: %s", target,
                      out);
        zclock_sleep (100);
    }
    //  cluster status says it of n2's row too (it looked well).
    proc_sh (out, sizeof out, "%s cluster status --cluster %s", s_bin (), fx->cfg);
    if (!strstr (out, "its store failed a write") || !strstr (out, "No space left on device"))
        fail_msg ("cluster status, n2's disk full: %s", out);
    //  And top, under n2's row (it showed n2 up, and well), in text and JSON.
    proc_sh (out, sizeof out, "%s top --once --cluster %s --interval 200", s_bin (), fx->cfg);
    if (!strstr (out, "its store failed a write") || !strstr (out, "No space left on device"))
        fail_msg ("top --once, n2's disk full: %s", out);
    proc_sh (out, sizeof out, "%s top --once --json --cluster %s --interval 200", s_bin (),
             fx->cfg);
    if (!strstr (out, "\"store\":\"its store failed a write"))
        fail_msg ("top --once --json, n2's disk full: %s", out);
    //  Room again: the node writes, the credit is answered, once.
    proc_sh (NULL, 0, "rm -f %s/filler", fx->disk);
    proc_sh (NULL, 0, "%s resend --cluster %s %s >/dev/null", s_bin (), fx->cfg, sender);
    s_wait_get (fx, sender, "\"status\":\"completed\"");
    assert_int_equal (s_count_events (fx, target, "Credited", transfer), 1);
}

//  --------------------------------------------------------------------------
//  A node that does not answer is no answer, whichever command asks: n3
//  stopped (SIGSTOP) and seen down by n1 and n2, every command about the
//  saga it owns exits 3 with no_answer naming n3. resend, resolve, get and
//  events exited 1 on the `unavailable` of the node they went through.

//  explain of address, whose node n3 n1 and n2 see down: exit 3 well
//  within its --timeout (20 s), as resolve says it: "no answer from node
//  n3 about ADDRESS: node n3 (...) is down or cut off from this node", and
//  with --json resolve's object alone on stdout. It asked n3 alone and
//  waited out --timeout ("... within 20000 ms: network error"), its
//  stdout empty with --json.
static void s_explain_owner_down (fixture_t *fx, const char *address)
{
    for (int json = 0; json < 2; json++) {
        char out[8192], expect[256];
        if (json)
            snprintf (expect, sizeof expect,
                      "{\"ok\":false,\"address\":\"%s\",\"code\":\"no_answer\",\"node\":\"n3\","
                      "\"reason\":\"node n3 (ipc://",
                      address);
        else
            snprintf (expect, sizeof expect,
                      "shoal explain: no answer from node n3 about %s: node n3 (ipc://", address);
        int64_t started = zclock_mono ();
        int rc =
            proc_sh (out, sizeof out, "%s explain%s --cluster %s --timeout 20000 %s %s", s_bin (),
                     json ? " --json" : "", fx->cfg, address, json ? "2>/dev/null" : "2>&1");
        int64_t took = zclock_mono () - started;
        const char *end = strchr (out, '\n');
        if (rc != 3 || took > 10000 || strncmp (out, expect, strlen (expect)) != 0 ||
            !strstr (out, "is down or cut off from this node") || !end || end[1] ||
            (json && end[-1] != '}'))
            fail_msg ("shoal explain%s %s, its node n3 down: exit %d in %lld ms (--timeout "
                      "20000), not 3 at once starting '%s': %s",
                      json ? " --json" : "", address, rc, (long long) took, expect, out);
    }
}

static void test_owner_down (void **state)
{
    fixture_t *fx = *state;
    char from[64], to[64], transfer[64], address[128], out[65536];
    s_id_on (fx, "account", "src", 0, from, sizeof from);
    s_id_on (fx, "account", "dst", 1, to, sizeof to);
    s_id_on (fx, "transfer", "t", 2, transfer, sizeof transfer);
    s_open (fx, from, 100);
    s_open (fx, to, 100);
    s_transfer (fx, transfer, from, to);
    snprintf (address, sizeof address, "transfer/%s", transfer);
    s_wait_get (fx, address, "\"status\":\"completed\"");
    kill (fx->pids[2], SIGSTOP);
    s_wait_link (fx, 0, 2, false);
    s_wait_link (fx, 1, 2, false);
    const char *asks[] = {
        "resend --json %s",
        "resolve --json --wait 0 %s 00112233445566778899aabbccddeeff --reject x --reason y",
        "get %s",
        "events %s",
    };
    for (size_t i = 0; i < sizeof asks / sizeof asks[0]; i++) {
        char line[300];
        snprintf (line, sizeof line, asks[i], address);
        int rc = proc_sh (out, sizeof out, "%s %s --cluster %s --timeout 3000 2>&1", s_bin (), line,
                          fx->cfg);
        if (rc != 3 || !strstr (out, "\"code\":\"no_answer\",\"node\":\"n3\"") ||
            !strstr (out, "no answer from node n3 about"))
            fail_msg ("shoal %s, its node n3 stopped: exit %d, not 3 naming n3: %s", line, rc, out);
    }
    s_explain_owner_down (fx, address);
    assert_int_equal (
        proc_sh (out, sizeof out, "%s pending --cluster %s --timeout 1000", s_bin (), fx->cfg), 3);
    assert_non_null (strstr (out, "node n3 did not answer"));
    kill (fx->pids[2], SIGCONT);
    s_wait_link (fx, 0, 2, true);
    assert_int_equal (
        proc_sh (NULL, 0, "%s resend --cluster %s %s >/dev/null", s_bin (), fx->cfg, address), 0);
}

//  --------------------------------------------------------------------------
//  --force past a node that was only paused (SIGSTOP: seen down, as one
//  gone for good would be): the Credit it was sent before is in its
//  socket, and it runs it once it goes on. The forced end's $cancel, re-sent
//  until that node answers, comes after: its answer is the Credit's own
//  reply, logged as an error naming the command and its target, and
//  counted in forced_answered (nothing was said: the books were off, and
//  only `shoal check` found it). A Credit its target's handler refused (a
//  closed account) is not counted: nothing was done there either.

static void test_forced_then_answered (void **state)
{
    fixture_t *fx = *state;
    char from[64], to[2][64], transfer[2][64], address[2][128], id[2][33];
    char json[65536], out[65536];
    s_id_on (fx, "account", "fsrc", 0, from, sizeof from);
    s_id_on (fx, "account", "fdst", 2, to[0], sizeof to[0]);
    s_id_on (fx, "account", "fshut", 2, to[1], sizeof to[1]);
    s_open (fx, from, 100);
    s_open (fx, to[0], 100);
    //  The second target closed: its handler refuses the Credit itself.
    assert_int_equal (proc_sh (NULL, 0,
                               "%s send --cluster %s account/%s Open owner=x >/dev/null && "
                               "%s send --cluster %s account/%s Close >/dev/null",
                               s_bin (), fx->cfg, to[1], s_bin (), fx->cfg, to[1]),
                      0);
    assert_int_equal (s_stat (fx, 0, "forced_answered"), 0);
    kill (fx->pids[2], SIGSTOP);
    //  Their Credits reach n3's socket before n3 is seen down.
    for (int k = 0; k < 2; k++) {
        char prefix[16];
        snprintf (prefix, sizeof prefix, "ft%d", k);
        s_id_on (fx, "transfer", prefix, 0, transfer[k], sizeof transfer[k]);
        s_transfer (fx, transfer[k], from, to[k]);
        snprintf (address[k], sizeof address[k], "transfer/%s", transfer[k]);
        s_wait_pending (fx, false, address[k], "Credit", id[k], json, sizeof json);
    }
    s_wait_link (fx, 0, 2, false);
    for (int k = 0; k < 2; k++) {
        assert_int_equal (proc_sh (out, sizeof out,
                                   "%s resolve --cluster %s %s %s --reject node_lost --reason "
                                   "paused --force 2>&1",
                                   s_bin (), fx->cfg, address[k], id[k]),
                          0);
        assert_non_null (strstr (out, "WARNING: --force ended"));
    }
    kill (fx->pids[2], SIGCONT);
    //  Both $cancels answered, nothing pending; one counted: the Credit
    //  that ran, not the one the closed account refused.
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (proc_sh (out, sizeof out, "%s pending --cluster %s", s_bin (), fx->cfg) != 0 ||
           !strstr (out, "no command is pending")) {
        if (zclock_mono () > deadline)
            fail_msg ("the forced ends' $cancels were never answered: %s", out);
        zclock_sleep (100); //  between two asks, within the deadline
    }
    assert_int_equal (s_stat (fx, 0, "forced_answered"), 1);
    char log[400], expect[300];
    snprintf (log, sizeof log, "%s/n1.log", fx->dir);
    snprintf (expect, sizeof expect, "account/%s ran %s's command %s (ok) after all", to[0],
              address[0], id[0]);
    assert_int_equal (proc_sh (out, sizeof out, "grep -c -F \"%s\" %s", expect, log), 0);
    assert_string_equal (out, "1\n");
    snprintf (expect, sizeof expect, "account/%s had refused %s's command %s, ended with --force",
              to[1], address[1], id[1]);
    assert_int_equal (proc_sh (out, sizeof out, "grep -c -F \"%s\" %s", expect, log), 0);
    //  The forced end's own line says so, not that a reply came.
    assert_int_equal (proc_sh (NULL, 0, "grep -q 'Credit from %s to account/%s is un-stalled' %s",
                               address[0], to[0], log),
                      1);
    //  n3 stopped, not cut one way: n1 said it down first (it said "cut
    //  one way?" 2 ms before "down", at the same heartbeat timeout).
    assert_int_equal (proc_sh (out, sizeof out,
                               "awk '/peer n3 .* is down/ && !d {d = NR} /n3->n1 is cut one way/ "
                               "&& !c {c = NR} END {print (d && (!c || d < c)) ? \"first\" : "
                               "\"not first\"}' %s",
                               log),
                      0);
    if (strcmp (out, "first\n") != 0)
        fail_msg ("n1 did not say n3 down before anything else of it: %s", out);
}

//  --------------------------------------------------------------------------
//  --force of a command an earlier resolve is cancelling (its target's
//  node killed): it ends the command, and says that a $cancel is still
//  re-sent to the target ("cancel_pending", its id), where it printed
//  "ended": false after waiting out --wait. The target's node back, the
//  $cancels (the earlier one, and the forced end's own) are answered and
//  change nothing: refunded, no credit, and none counted as run. The
//  second transfer's $cancels are dropped first (--force on their ids).

static void test_force_after_resolve (void **state)
{
    fixture_t *fx = *state;
    char from[64], to[64], transfer[2][64], address[128], id[33], cancel[33];
    char json[65536], out[65536], expect[128];
    s_id_on (fx, "account", "src", 0, from, sizeof from);
    s_id_on (fx, "account", "dst", 2, to, sizeof to);
    s_open (fx, from, 100);
    s_open (fx, to, 100);
    s_node_kill (fx, 2, SIGKILL);
    s_wait_link (fx, 0, 2, false);
    for (int k = 0; k < 2; k++) {
        char prefix[16];
        snprintf (prefix, sizeof prefix, "t%d", k);
        s_id_on (fx, "transfer", prefix, 0, transfer[k], sizeof transfer[k]);
        s_transfer (fx, transfer[k], from, to);
        snprintf (address, sizeof address, "transfer/%s", transfer[k]);
        s_wait_pending (fx, true, address, "Credit", id, json, sizeof json);
        assert_int_equal (proc_sh (out, sizeof out,
                                   "%s resolve --cluster %s --wait 200 %s %s --reject "
                                   "operator_cancel --reason 'n3 is being repaired'",
                                   s_bin (), fx->cfg, address, id),
                          0);
        s_wait_pending (fx, false, address, "$cancel", cancel, json, sizeof json);
        int rc = proc_sh (out, sizeof out,
                          "%s resolve --cluster %s%s %s %s --reject node_lost --reason gone "
                          "--force 2>&1",
                          s_bin (), fx->cfg, k ? "" : " --json", address, id);
        if (k == 0)
            snprintf (expect, sizeof expect,
                      "\"decision\":\"forced\",\"ended\":true,\"cancel_pending\":true,"
                      "\"cancel\":\"");
        else
            snprintf (expect, sizeof expect, "is re-sent to account/%s until that node answers",
                      to);
        if (rc != 0 || !strstr (out, expect) || !strstr (out, "\"status\":\"compensated\"") ||
            !strstr (out, "WARNING: --force ended"))
            fail_msg ("resolve --force after a resolve: exit %d, not 0 with %s: %s", rc, expect,
                      out);
    }
    //  The second transfer's $cancels (its resolve's and its forced end's),
    //  to a node that may never come back: --force on a $cancel's own id,
    //  its command ended, drops it (it was refused: stalled for ever).
    snprintf (address, sizeof address, "transfer/%s", transfer[1]);
    for (int k = 0; k < 2; k++) {
        s_wait_pending (fx, false, address, "$cancel", cancel, json, sizeof json);
        int rc = proc_sh (out, sizeof out,
                          "%s resolve --cluster %s %s %s --reject node_lost --reason gone --force "
                          "2>&1",
                          s_bin (), fx->cfg, address, cancel);
        if (rc != 0 || !strstr (out, "WARNING: --force dropped") || !strstr (out, "dropped (node"))
            fail_msg ("resolve --force of the $cancel %s: exit %d: %s", cancel, rc, out);
    }
    char sender[160];
    snprintf (sender, sizeof sender, "{\"sender\":\"%s\"", address);
    proc_sh (json, sizeof json, "%s pending --cluster %s --json --timeout 1000", s_bin (), fx->cfg);
    if (strstr (json, sender))
        fail_msg ("%s still has a command pending: %s", address, json);
    s_node_start (fx, 2);
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (proc_sh (out, sizeof out, "%s pending --cluster %s", s_bin (), fx->cfg) != 0 ||
           !strstr (out, "no command is pending")) {
        if (zclock_mono () > deadline)
            fail_msg ("the $cancels were never answered: %s", out);
        zclock_sleep (100);
    }
    char account[128];
    snprintf (account, sizeof account, "account/%s", to);
    for (int k = 0; k < 2; k++) {
        snprintf (address, sizeof address, "transfer/%s", transfer[k]);
        s_wait_get (fx, address, "\"status\":\"compensated\"");
        assert_int_equal (s_count_events (fx, account, "Credited", transfer[k]), 0);
    }
    //  n3 had not run them: its answers to the forced ends' $cancels say
    //  so, and nothing is counted as run after a force.
    assert_int_equal (s_stat (fx, 0, "forced_answered"), 0);
}

//  --------------------------------------------------------------------------
//  A credit whose target's node is down, long before it stalls (--stall-ms
//  60000): explain already says why, the target's node is down, and not
//  that it is stalled. Before, a row was looked into only once stalled,
//  and explain said nothing of why for --stall-ms (30 s by default).
//  explain of the target itself, its node n3 killed: no answer, at once.

static void test_why_before_stall (void **state)
{
    fixture_t *fx = *state;
    char from[64], to[64], transfer[64], address[128], out[65536];
    s_id_on (fx, "account", "src", 1, from, sizeof from);
    s_id_on (fx, "account", "dst", 2, to, sizeof to);
    s_id_on (fx, "transfer", "t", 0, transfer, sizeof transfer);
    s_open (fx, from, 100);
    s_open (fx, to, 100);
    s_node_kill (fx, 2, SIGKILL);
    s_wait_link (fx, 0, 2, false);
    s_wait_link (fx, 1, 2, false);
    //  Its target, whose node n3 is killed: no answer, at once.
    snprintf (address, sizeof address, "account/%s", to);
    s_explain_owner_down (fx, address);
    s_transfer (fx, transfer, from, to);
    snprintf (address, sizeof address, "transfer/%s", transfer);
    int64_t deadline = zclock_mono () + DEADLINE_MS / 3;
    while (true) {
        proc_sh (out, sizeof out, "%s explain --cluster %s --timeout 1000 %s 2>&1", s_bin (),
                 fx->cfg, address);
        if (strstr (out, "why: target node n3 (owner of account/"))
            break;
        if (zclock_mono () > deadline)
            fail_msg ("explain of %s, its credit's node n3 down, never said why: %s", address, out);
        zclock_sleep (100); //  poll interval: the condition is read above
    }
    assert_non_null (strstr (out, "is down"));
    assert_null (strstr (out, "STALLED"));
    assert_int_equal (
        proc_sh (out, sizeof out, "%s explain --json --cluster %s %s", s_bin (), fx->cfg, address),
        0);
    assert_non_null (strstr (out, "\"stalled\":false"));
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_repair, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_owner_down, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_force_after_resolve, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_forced_then_answered, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_why_before_stall, s_setup_slow_stall, s_teardown),
        cmocka_unit_test_setup_teardown (test_full_disk, s_setup_small_disk, s_teardown),
    };
    //  SHOAL_TEST_FILTER=test_owner* runs the tests whose names match.
    if (getenv ("SHOAL_TEST_FILTER"))
        cmocka_set_test_filter (getenv ("SHOAL_TEST_FILTER"));
    return cmocka_run_group_tests (tests, NULL, NULL);
}
