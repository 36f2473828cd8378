/*  cluster_nodes_test_util.c - what test_cluster_nodes_*.c share (cluster_nodes_test_util.h says
 * what each is).
 */
#include "client.h"
#include "cluster.h"
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
#include "cluster_nodes_test_util.h"
#include "harness.h"

//  --------------------------------------------------------------------------
//  Processes

static int s_remove_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) ftw;
    return flag == FTW_DP ? rmdir (path) : unlink (path);
}

int cluster_nodes_setup (void **state)
{
    fixture_t *f = calloc (1, sizeof (fixture_t));
    assert_non_null (f);
    harness_tempdir (f->dir, sizeof f->dir, "cn");
    snprintf (f->cfg, sizeof f->cfg, "%s/c/cluster.cfg", f->dir);
    f->proxy_out = -1;
    *state = f;
    return 0;
}

int cluster_nodes_teardown (void **state)
{
    fixture_t *f = *state;
    for (int i = 0; i < CLUSTER_MAX_NODES; i++) {
        client_destroy (&f->client[i]);
        proc_kill_with (&f->node[i], SIGKILL);
    }
    client_destroy (&f->other);
    for (int i = 0; i < MAX_CHILDREN; i++)
        proc_kill_with (&f->children[i], SIGKILL);
    proc_kill_with (&f->proxy, SIGTERM);
    if (f->proxy_out >= 0)
        close (f->proxy_out);
    cluster_destroy (&f->cluster);
    nftw (f->dir, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free (f);
    return 0;
}

void cluster_nodes_init (fixture_t *f, int nodes)
{
    char dir[192], count[8], log[192];
    snprintf (dir, sizeof dir, "%s/c", f->dir);
    snprintf (count, sizeof count, "%d", nodes);
    snprintf (log, sizeof log, "%s/init.log", f->dir);
    char *argv[] = {
        getenv ("SHOAL_BIN"), "cluster", "init", "--nodes", count, "--dir", dir, "--ipc",
        "--shards",           "64",      NULL};
    pid_t pid = proc_spawn (argv, log, NULL);
    assert_int_equal (proc_wait_exit (pid, DEADLINE_MS), 0);
    char *error = NULL;
    f->cluster = cluster_load (f->cfg, &error);
    if (!f->cluster)
        fail_msg ("%s", error);
}

pid_t cluster_nodes_start (fixture_t *f, const char *cfg, const char *name, const char *log_name)
{
    char log[192];
    snprintf (log, sizeof log, "%s/%s.log", f->dir, log_name);
    //  --new-store: a node started on a map of a later epoch here is one
    //  that never ran (test_cluster_nodes_refusals' disguises of n2).
    char *argv[] = {getenv ("SHOAL_BIN"), "node",      "--cluster", (char *) cfg, "--name",
                    (char *) name,        "--workers", "2",         "--stall-ms", STALL_MS,
                    "--new-store",        NULL};
    pid_t pid = proc_spawn_ready (argv, log, DEADLINE_MS);
    if (!pid)
        fail_msg ("node %s of %s did not start: see %s", name, cfg, log);
    return pid;
}

void cluster_nodes_start_node (fixture_t *f, int i)
{
    const char *name = cluster_node_name (f->cluster, i);
    f->node[i] = cluster_nodes_start (f, f->cfg, name, name);
    if (!f->client[i]) {
        char *error = NULL;
        f->client[i] = client_new_cluster (f->cfg, name, &error);
        if (!f->client[i])
            fail_msg ("%s", error);
    }
}

//  --------------------------------------------------------------------------
//  Requests

void cluster_nodes_accept (client_t *client, const char *to, const char *name, ...)
{
    uint8_t id[ENVELOPE_ID_SIZE];
    envelope_new_id (id);
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (true) {
        client_reply_t reply;
        va_list args;
        va_start (args, name);
        int rc = cluster_client_callv (client, ENVELOPE_COMMAND, id, to, name, 5000, &reply, args);
        va_end (args);
        if (rc == 0 && reply.ok) {
            client_reply_close (&reply);
            return;
        }
        if (rc == 0 && !client_reply_transient (&reply))
            fail_msg ("%s %s rejected: %s %s", to, name, reply.code, reply.reason);
        if (rc == 0)
            client_reply_close (&reply);
        if (zclock_mono () > deadline)
            fail_msg ("%s %s: no acceptance in %d ms", to, name, DEADLINE_MS);
        zclock_sleep (50);
    }
}

void cluster_nodes_stats (const fixture_t *f, client_t *client, stats_t *stats)
{
    memset (stats, 0, sizeof *stats);
    client_reply_t reply;
    int rc =
        cluster_client_call (client, ENVELOPE_QUERY, "node/stats", "stats", 5000, &reply, NULL);
    if (rc != 0)
        fail_msg ("stats: %s", shoal_strerror (rc));
    assert_true (reply.ok);
    assert_int_equal (map_int (reply.data, reply.size, "peers_up", &stats->peers_up), 0);
    assert_int_equal (map_int (reply.data, reply.size, "refused", &stats->refused), 0);
    assert_int_equal (map_int (reply.data, reply.size, "forwarded", &stats->forwarded), 0);
    assert_int_equal (map_int (reply.data, reply.size, "unavailable", &stats->unavailable), 0);
    assert_int_equal (map_int (reply.data, reply.size, "refused_unsafe", &stats->refused_unsafe),
                      0);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *map = map_unpack (&unpacked, reply.data, reply.size);
    const msgpack_object *peers = map_find (map, "peers");
    assert_non_null (peers);
    const msgpack_object *heard = map_find (map, "peers_heard");
    for (int i = 0; i < cluster_node_count (f->cluster); i++) {
        const msgpack_object *up = map_find (peers, cluster_node_name (f->cluster, i));
        stats->peer[i] = up && up->type == MSGPACK_OBJECT_BOOLEAN && up->via.boolean;
        const msgpack_object *lately = map_find (heard, cluster_node_name (f->cluster, i));
        stats->heard[i] = lately && lately->type == MSGPACK_OBJECT_BOOLEAN && lately->via.boolean;
    }
    msgpack_unpacked_destroy (&unpacked);
    client_reply_close (&reply);
}

bool cluster_nodes_file_has (const char *path, const char *text)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return false;
    static char buf[1 << 20];
    size_t got = fread (buf, 1, sizeof buf - 1, file);
    buf[got] = 0;
    fclose (file);
    return strstr (buf, text) != NULL;
}

void cluster_nodes_wait_file_has (const char *path, const char *text)
{
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (!cluster_nodes_file_has (path, text)) {
        if (zclock_mono () > deadline)
            fail_msg ("%s never said '%s'", path, text);
        zclock_sleep (50); //  a bounded poll: a node's log line
    }
}

void cluster_nodes_wait_all_up (fixture_t *f)
{
    int count = cluster_node_count (f->cluster);
    for (int i = 0; i < count; i++) {
        int64_t deadline = zclock_mono () + DEADLINE_MS;
        stats_t stats;
        for (cluster_nodes_stats (f, f->client[i], &stats); stats.peers_up != count - 1;
             cluster_nodes_stats (f, f->client[i], &stats)) {
            if (zclock_mono () > deadline)
                fail_msg ("node %s sees %d peers up, not %d", cluster_node_name (f->cluster, i),
                          (int) stats.peers_up, count - 1);
            zclock_sleep (50);
        }
    }
}

void cluster_nodes_fund (client_t *client, const char *account)
{
    cluster_nodes_accept (client, account, "Open", "owner=test", NULL);
    char amount[32];
    snprintf (amount, sizeof amount, "amount=%d", FUNDING);
    cluster_nodes_accept (client, account, "Deposit", amount, NULL);
}
