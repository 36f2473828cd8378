/*  repair_test_util.c - see repair_test_util.h.
 */
#include "repair_test_util.h"
#include "shard.h"

#include <czmq.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "proc.h"

const char *repair_bin (void)
{
    const char *bin = getenv ("SHOAL_BIN");
    assert_non_null (bin);
    return bin;
}

void repair_node_start (fixture_t *fx, int i)
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
        const char *argv[16] = {"shoal", "node",       "--cluster",  fx->cfg,     "--name",
                                name,    "--stall-ms", fx->stall_ms, "--workers", "2"};
        int argc = 10;
        if (fx->disk[0] && i == 1) { //  n2's data on the small disk
            argv[argc++] = "--data";
            argv[argc++] = data;
        }
        if (fx->retention_ms) {
            argv[argc++] = "--inbox-retention-ms";
            argv[argc++] = fx->retention_ms;
        }
        execv (repair_bin (), (char **) argv);
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

void repair_node_kill (fixture_t *fx, int i, int sig)
{
    if (fx->pids[i] > 0) {
        kill (fx->pids[i], sig);
        waitpid (fx->pids[i], NULL, 0);
        fx->pids[i] = 0;
    }
}

void repair_stats (fixture_t *fx, int i, stats_t *stats)
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

void repair_stats_close (stats_t *stats)
{
    msgpack_unpacked_destroy (&stats->unpacked);
    if (stats->got)
        client_reply_close (&stats->reply);
}

//  True when node i's stats say its link to node peer is up (up) or
//  down (!up).
bool repair_link_is (fixture_t *fx, int i, int peer, bool up)
{
    stats_t stats;
    repair_stats (fx, i, &stats);
    const msgpack_object *link =
        map_find (map_find (stats.map, "peers"), cluster_node_name (fx->cluster, peer));
    bool is = link && link->type == MSGPACK_OBJECT_BOOLEAN && link->via.boolean == up;
    repair_stats_close (&stats);
    return is;
}

//  Node i's stats counter name, or -1 if it does not answer.
int64_t repair_stat (fixture_t *fx, int i, const char *name)
{
    stats_t stats;
    repair_stats (fx, i, &stats);
    int64_t value = -1;
    if (map_find_int (stats.map, name, &value) != 0)
        value = -1;
    repair_stats_close (&stats);
    return value;
}

void repair_wait_link (fixture_t *fx, int i, int peer, bool up)
{
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (!repair_link_is (fx, i, peer, up)) {
        assert_true (zclock_mono () < deadline);
        zclock_sleep (50); //  between two asks, within the deadline
    }
}

//  The first id "prefix-N" whose owner is node (of the given type).
void repair_id_on (fixture_t *fx, const char *type, const char *prefix, int node, char *id,
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
//  repair_wait_get through node i, or any node if i < 0.
static void s_wait_get (fixture_t *fx, int i, const char *address, const char *text)
{
    char out[4096] = "", node[64] = "";
    if (i >= 0)
        snprintf (node, sizeof node, " --node %s", cluster_node_name (fx->cluster, i));
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (zclock_mono () < deadline) {
        proc_sh (out, sizeof out, "%s get --cluster %s%s %s 2>/dev/null", repair_bin (), fx->cfg,
                 node, address);
        if (strstr (out, text))
            return;
        zclock_sleep (100); //  between two asks, within the deadline
    }
    fail_msg ("%s never showed %s; last: %s", address, text, out);
}

void repair_wait_get (fixture_t *fx, const char *address, const char *text)
{
    s_wait_get (fx, -1, address, text);
}

void repair_wait_get_on (fixture_t *fx, int i, const char *address, const char *text)
{
    s_wait_get (fx, i, address, text);
}

//  Polls `shoal pending --json` (--stalled if stalled) until a row of
//  sender names command; writes its message id into id (33 bytes).
void repair_wait_pending (fixture_t *fx, bool stalled, const char *sender, const char *command,
                          char *id, char *json, size_t size)
{
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    char pattern[300];
    snprintf (pattern, sizeof pattern, "{\"sender\":\"%s\",\"command\":\"%s\"", sender, command);
    while (zclock_mono () < deadline) {
        proc_sh (json, size, "%s pending --cluster %s%s --json --timeout 1000", repair_bin (),
                 fx->cfg, stalled ? " --stalled" : "");
        const char *row = strstr (json, pattern);
        const char *key = row ? strstr (row, "\"id\":\"") : NULL;
        if (key) {
            memcpy (id, key + 6, 32);
            id[32] = 0;
            return;
        }
        zclock_sleep (100); //  between two asks, within the deadline
    }
    fail_msg ("%s's %s never showed%s; last: %s", sender, command, stalled ? " stalled" : "", json);
}

//  The cluster, n2's data on an 8 MiB tmpfs if small_disk (root only: a
//  test that needs it fails saying so, it is never skipped).
static int repair_setup_on (void **state, bool small_disk, const char *stall_ms,
                            const char *retention_ms)
{
    fixture_t *fx = calloc (1, sizeof (fixture_t));
    fx->stall_ms = stall_ms;
    fx->retention_ms = retention_ms;
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
                               repair_bin (), NODES, fx->dir),
                      0);
    char *error = NULL;
    fx->cluster = cluster_load (fx->cfg, &error);
    assert_non_null (fx->cluster);
    for (int i = 0; i < NODES; i++)
        repair_node_start (fx, i);
    for (int i = 0; i < NODES; i++)
        for (int peer = 0; peer < NODES; peer++)
            if (peer != i)
                repair_wait_link (fx, i, peer, true);
    *state = fx;
    return 0;
}

int repair_setup (void **state)
{
    return repair_setup_on (state, false, "1000", NULL);
}

int repair_setup_small_disk (void **state)
{
    return repair_setup_on (state, true, "1000", NULL);
}

//  Commands stall after a minute: longer than any test waits.
int repair_setup_slow_stall (void **state)
{
    return repair_setup_on (state, false, "60000", NULL);
}

int repair_setup_short_retention (void **state)
{
    return repair_setup_on (state, false, "1000", "3000");
}

int repair_teardown (void **state)
{
    fixture_t *fx = *state;
    for (int i = 0; i < NODES; i++)
        repair_node_kill (fx, i, SIGKILL);
    if (fx->disk[0])
        umount2 (fx->disk, MNT_DETACH);
    cluster_destroy (&fx->cluster);
    proc_sh (NULL, 0, "rm -rf %s", fx->dir);
    free (fx);
    return 0;
}

//  Opens account/id with amount in it.
void repair_open (fixture_t *fx, const char *id, int amount)
{
    assert_int_equal (proc_sh (NULL, 0, "%s send --cluster %s account/%s Open owner=%s >/dev/null",
                               repair_bin (), fx->cfg, id, id),
                      0);
    assert_int_equal (proc_sh (NULL, 0,
                               "%s send --cluster %s account/%s Deposit amount=%d >/dev/null",
                               repair_bin (), fx->cfg, id, amount),
                      0);
}

void repair_transfer (fixture_t *fx, const char *id, const char *from, const char *to)
{
    assert_int_equal (proc_sh (NULL, 0, "%s transfer --cluster %s --id %s %s %s 10 >/dev/null",
                               repair_bin (), fx->cfg, id, from, to),
                      0);
}

void repair_transfers (fixture_t *fx, int i, int n, char ids[][64], const char *from, char to[][64])
{
    char command[4096] = "";
    size_t used = 0;
    for (int k = 0; k < n; k++)
        used += (size_t) snprintf (command + used, sizeof command - used,
                                   "%s transfer --cluster %s --node %s --id %s %s %s 10 "
                                   ">/dev/null & ",
                                   repair_bin (), fx->cfg, cluster_node_name (fx->cluster, i),
                                   ids[k], from, to[k]);
    assert_true (used < sizeof command - 32);
    snprintf (command + used, sizeof command - used,
              "fail=0; for j in $(jobs -p); do wait $j "
              "|| fail=1; done; exit $fail");
    assert_int_equal (proc_sh (NULL, 0, "%s", command), 0);
}

//  How many lines of `shoal events ADDRESS` hold both a and b.
int repair_count_events (fixture_t *fx, const char *address, const char *a, const char *b)
{
    //  `events --cluster` may ask any node, which forwards to the owner:
    //  after a restart, a link not yet back is `unavailable` (exit 3), not
    //  a count. Every running node's link to every other first.
    for (int i = 0; i < NODES; i++)
        for (int peer = 0; peer < NODES; peer++)
            if (peer != i && fx->pids[i] > 0 && fx->pids[peer] > 0)
                repair_wait_link (fx, i, peer, true);
    char out[16384];
    assert_int_equal (
        proc_sh (out, sizeof out, "%s events --cluster %s %s", repair_bin (), fx->cfg, address), 0);
    int count = 0;
    for (char *line = strtok (out, "\n"); line; line = strtok (NULL, "\n"))
        count += strstr (line, a) && strstr (line, b);
    return count;
}

void repair_wait_none_pending (fixture_t *fx, const char *why)
{
    char out[65536];
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (proc_sh (out, sizeof out, "%s pending --cluster %s", repair_bin (), fx->cfg) != 0 ||
           !strstr (out, "no command is pending")) {
        if (zclock_mono () > deadline)
            fail_msg ("%s: %s", why, out);
        zclock_sleep (100); //  between two asks, within the deadline
    }
}
