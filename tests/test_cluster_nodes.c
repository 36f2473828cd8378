/*  test_cluster_nodes.c - clusters of real `shoal node` processes on one
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
//  Processes

static int s_remove_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) ftw;
    return flag == FTW_DP ? rmdir (path) : unlink (path);
}

//  Keeps pid for the teardown to kill; returns its slot.
static pid_t *s_keep_child (fixture_t *f, pid_t pid)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (f->children[i] == 0) {
            f->children[i] = pid;
            return &f->children[i];
        }
    fail_msg ("too many children");
    return NULL;
}

//  True if the file at path holds text.
static bool s_file_has (const char *path, const char *text)
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

//  Waits at most DEADLINE_MS for the file at path to hold text.
static void s_wait_file_has (const char *path, const char *text)
{
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (!s_file_has (path, text)) {
        if (zclock_mono () > deadline)
            fail_msg ("%s never said '%s'", path, text);
        zclock_sleep (50);
    }
}

static void s_copy_file (const char *from, const char *to)
{
    FILE *in = fopen (from, "rb"), *out = fopen (to, "wb");
    assert_non_null (in);
    assert_non_null (out);
    char buf[4096];
    size_t n;
    while ((n = fread (buf, 1, sizeof buf, in)) > 0)
        assert_int_equal (fwrite (buf, 1, n, out), n);
    fclose (in);
    assert_int_equal (fclose (out), 0);
}

//  --------------------------------------------------------------------------
//  The cluster

static int s_setup (void **state)
{
    fixture_t *f = calloc (1, sizeof (fixture_t));
    assert_non_null (f);
    //  An ipc:// path is at most 107 bytes: keep DIR short.
    const char *tmp = getenv ("TMPDIR");
    if (!tmp || strlen (tmp) > 40)
        tmp = "/tmp";
    snprintf (f->dir, sizeof f->dir, "%s/shoal-cn-XXXXXX", tmp);
    assert_non_null (mkdtemp (f->dir));
    snprintf (f->cfg, sizeof f->cfg, "%s/c/cluster.cfg", f->dir);
    f->proxy_out = -1;
    *state = f;
    return 0;
}

static int s_teardown (void **state)
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

//  `shoal cluster init --nodes N --ipc` into DIR/c; loads the map.
static void s_init (fixture_t *f, int nodes)
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

//  Starts node name of the cluster file cfg; its stderr goes to
//  DIR/log_name.log. Returns its pid once it printed its ready line.
static pid_t s_start (fixture_t *f, const char *cfg, const char *name, const char *log_name)
{
    char log[192];
    snprintf (log, sizeof log, "%s/%s.log", f->dir, log_name);
    char *argv[] = {
        getenv ("SHOAL_BIN"), "node", "--cluster",  (char *) cfg, "--name", (char *) name,
        "--workers",          "2",    "--stall-ms", STALL_MS,     NULL};
    int out;
    pid_t pid = proc_spawn (argv, log, &out);
    char line[512];
    bool ready = proc_read_line_until (out, "ready on ", line, sizeof line, DEADLINE_MS);
    close (out);
    if (!ready) {
        kill (pid, SIGKILL);
        waitpid (pid, NULL, 0);
        fail_msg ("node %s of %s did not start: see %s", name, cfg, log);
    }
    return pid;
}

//  Starts node i of the fixture's cluster and a client of it alone.
static void s_start_node (fixture_t *f, int i)
{
    const char *name = cluster_node_name (f->cluster, i);
    f->node[i] = s_start (f, f->cfg, name, name);
    if (!f->client[i]) {
        char *error = NULL;
        f->client[i] = client_new_cluster (f->cfg, name, &error);
        if (!f->client[i])
            fail_msg ("%s", error);
    }
}

static int s_owner (const fixture_t *f, const char *address)
{
    return cluster_owner (f->cluster, shoal_shard (address, cluster_shards (f->cluster)));
}

//  Writes into address the first PREFIX-N (N from *next on) that node
//  owns, and moves *next past it.
static void s_address_on (const fixture_t *f, const char *prefix, int node, int *next,
                          char *address, size_t size)
{
    for (; *next < 100000; (*next)++) {
        snprintf (address, size, "%s%d", prefix, *next);
        if (s_owner (f, address) == node) {
            (*next)++;
            return;
        }
    }
    fail_msg ("no address %s... on node %d", prefix, node);
}

//  --------------------------------------------------------------------------
//  Requests

//  Sends kind to `to` named name with "key=value" fields (NULL-ended),
//  with message id id (NULL: random), and waits at most timeout_ms.
//  Returns client_call's code; the caller closes reply when it is 0.
static int s_callv (client_t *client, envelope_kind_t kind, const uint8_t *id, const char *to,
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

static int s_call (client_t *client, envelope_kind_t kind, const char *to, const char *name,
                   int timeout_ms, client_reply_t *reply, ...)
{
    va_list args;
    va_start (args, reply);
    int rc = s_callv (client, kind, NULL, to, name, timeout_ms, reply, args);
    va_end (args);
    return rc;
}

//  A command that must be accepted: asked again with the same id while
//  the answer is transient (a link just coming up), until the deadline.
static void s_accept (client_t *client, const char *to, const char *name, ...)
{
    uint8_t id[ENVELOPE_ID_SIZE];
    envelope_new_id (id);
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (true) {
        client_reply_t reply;
        va_list args;
        va_start (args, name);
        int rc = s_callv (client, ENVELOPE_COMMAND, id, to, name, 5000, &reply, args);
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

//  The `get` reply of address (the caller closes it).
static void s_get (client_t *client, const char *address, client_reply_t *reply)
{
    int rc = s_call (client, ENVELOPE_QUERY, address, "get", 5000, reply, NULL);
    if (rc != 0)
        fail_msg ("get %s: %s", address, shoal_strerror (rc));
    if (!reply->ok)
        fail_msg ("get %s rejected: %s %s", address, reply->code, reply->reason);
}

static int64_t s_balance (client_t *client, const char *account)
{
    client_reply_t reply;
    s_get (client, account, &reply);
    int64_t balance = INT64_MIN;
    assert_int_equal (reply_state_int (&reply, "balance", &balance), 0);
    client_reply_close (&reply);
    return balance;
}

//  The version of address's stream (0: nothing ever happened to it).
static int64_t s_version (client_t *client, const char *address)
{
    client_reply_t reply;
    s_get (client, address, &reply);
    int64_t version = -1;
    assert_int_equal (map_int (reply.data, reply.size, "version", &version), 0);
    client_reply_close (&reply);
    return version;
}

//  A transfer's state.status and state.stalled.
static void s_transfer (client_t *client, const char *transfer, char *status, size_t size,
                        bool *stalled)
{
    client_reply_t reply;
    s_get (client, transfer, &reply);
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

static bool s_terminal (const char *status)
{
    return streq (status, "completed") || streq (status, "failed") || streq (status, "compensated");
}

//  Waits until transfer is stalled, and fails if it ends first.
static void s_wait_stalled (client_t *client, const char *transfer)
{
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    char status[32];
    bool stalled;
    do {
        s_transfer (client, transfer, status, sizeof status, &stalled);
        if (s_terminal (status))
            fail_msg ("%s is %s, but its node is cut off", transfer, status);
        if (stalled)
            return;
        zclock_sleep (50);
    } while (zclock_mono () < deadline);
    fail_msg ("%s never said stalled (status %s)", transfer, status);
}

//  Waits until transfer is terminal; fails unless it completed.
static void s_wait_completed (client_t *client, const char *transfer)
{
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    char status[32];
    bool stalled;
    do {
        s_transfer (client, transfer, status, sizeof status, &stalled);
        if (s_terminal (status)) {
            if (!streq (status, "completed"))
                fail_msg ("%s ended %s", transfer, status);
            assert_false (stalled);
            return;
        }
        zclock_sleep (50);
    } while (zclock_mono () < deadline);
    fail_msg ("%s did not complete (status %s, stalled %d)", transfer, status, stalled);
}

typedef struct {
    int64_t peers_up, refused, forwarded, unavailable;
    bool peer[CLUSTER_MAX_NODES];  //  by index in the fixture's map: our link to it is up
    bool heard[CLUSTER_MAX_NODES]; //  its link to us brought a frame lately ("peers_heard")
} stats_t;

//  The stats of the node the client talks to.
static void s_stats (const fixture_t *f, client_t *client, stats_t *stats)
{
    memset (stats, 0, sizeof *stats);
    client_reply_t reply;
    int rc = s_call (client, ENVELOPE_QUERY, "node/stats", "stats", 5000, &reply, NULL);
    if (rc != 0)
        fail_msg ("stats: %s", shoal_strerror (rc));
    assert_true (reply.ok);
    assert_int_equal (map_int (reply.data, reply.size, "peers_up", &stats->peers_up), 0);
    assert_int_equal (map_int (reply.data, reply.size, "refused", &stats->refused), 0);
    assert_int_equal (map_int (reply.data, reply.size, "forwarded", &stats->forwarded), 0);
    assert_int_equal (map_int (reply.data, reply.size, "unavailable", &stats->unavailable), 0);
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

//  Waits until every running node sees all the others up.
static void s_wait_all_up (fixture_t *f)
{
    int count = cluster_node_count (f->cluster);
    for (int i = 0; i < count; i++) {
        int64_t deadline = zclock_mono () + DEADLINE_MS;
        stats_t stats;
        for (s_stats (f, f->client[i], &stats); stats.peers_up != count - 1;
             s_stats (f, f->client[i], &stats)) {
            if (zclock_mono () > deadline)
                fail_msg ("node %s sees %d peers up, not %d", cluster_node_name (f->cluster, i),
                          (int) stats.peers_up, count - 1);
            zclock_sleep (50);
        }
    }
}

//  Opens account and deposits FUNDING, through client.
static void s_fund (client_t *client, const char *account)
{
    s_accept (client, account, "Open", "owner=test", NULL);
    char amount[32];
    snprintf (amount, sizeof amount, "amount=%d", FUNDING);
    s_accept (client, account, "Deposit", amount, NULL);
}

static void s_start_transfer (client_t *client, const char *transfer, const char *from,
                              const char *to, int amount)
{
    char from_field[96], to_field[96], amount_field[32];
    snprintf (from_field, sizeof from_field, "from=%s", from);
    snprintf (to_field, sizeof to_field, "to=%s", to);
    snprintf (amount_field, sizeof amount_field, "amount=%d", amount);
    s_accept (client, transfer, "Start", from_field, to_field, amount_field, NULL);
}

//  --------------------------------------------------------------------------
//  1. Transfers across nodes, started from a node that has none of it

static void test_transfers_through_a_third_node (void **state)
{
    fixture_t *f = *state;
    s_init (f, 3);
    for (int i = 0; i < 3; i++)
        s_start_node (f, i);
    s_wait_all_up (f);
    client_t *third = f->client[2]; //  n3: owns no account and no transfer below

    char a[2][64], b[2][64], t[4][64];
    int next = 0;
    for (int i = 0; i < 2; i++) {
        s_address_on (f, "account/a", 0, &next, a[i], sizeof a[i]);
        s_address_on (f, "account/b", 1, &next, b[i], sizeof b[i]);
    }
    for (int i = 0; i < 4; i++)
        s_address_on (f, "transfer/t", i % 2, &next, t[i], sizeof t[i]);
    for (int i = 0; i < 2; i++) {
        s_fund (third, a[i]);
        s_fund (third, b[i]);
    }
    //  Each moves money between n1 and n2, its saga on n1 or n2.
    struct {
        const char *transfer, *from, *to;
        int amount;
    } moves[] = {{t[0], a[0], b[0], 100},
                 {t[1], b[0], a[0], 30},
                 {t[2], b[1], a[1], 70},
                 {t[3], a[1], b[1], 10}};
    for (int i = 0; i < 4; i++) {
        assert_int_not_equal (s_owner (f, moves[i].from), s_owner (f, moves[i].to));
        assert_int_not_equal (s_owner (f, moves[i].from), 2);
        assert_int_not_equal (s_owner (f, moves[i].to), 2);
        assert_int_not_equal (s_owner (f, moves[i].transfer), 2);
        s_start_transfer (third, moves[i].transfer, moves[i].from, moves[i].to, moves[i].amount);
    }
    for (int i = 0; i < 4; i++)
        s_wait_completed (third, moves[i].transfer);
    assert_int_equal (s_balance (third, a[0]), FUNDING - 100 + 30);
    assert_int_equal (s_balance (third, b[0]), FUNDING + 100 - 30);
    assert_int_equal (s_balance (third, b[1]), FUNDING - 70 + 10);
    assert_int_equal (s_balance (third, a[1]), FUNDING + 70 - 10);
    //  All of it went through n3: 4 Open, 4 Deposit, 4 Start at least.
    stats_t stats;
    s_stats (f, third, &stats);
    assert_true (stats.forwarded >= 12);
    assert_int_equal (stats.unavailable, 0);
}

//  --------------------------------------------------------------------------
//  2. A partition, then a frozen node: stalled, then completed

//  Runs proxy.py towards target; sets f->proxy and returns its port.
static int s_start_proxy (fixture_t *f, const char *target)
{
    char log[192];
    snprintf (log, sizeof log, "%s/proxy.log", f->dir);
    char *argv[] = {getenv ("SHOAL_PYTHON"), getenv ("SHOAL_PROXY"), "0", (char *) target, NULL};
    assert_non_null (argv[0]);
    assert_non_null (argv[1]);
    f->proxy = proc_spawn (argv, log, &f->proxy_out);
    char line[128];
    if (!proc_read_line_until (f->proxy_out, "proxy ready ", line, sizeof line, DEADLINE_MS))
        fail_msg ("the proxy did not start: see %s", log);
    return atoi (line + strlen ("proxy ready "));
}

static void s_proxy_signal (fixture_t *f, int sig, const char *said)
{
    kill (f->proxy, sig);
    char line[128];
    if (!proc_read_line_until (f->proxy_out, said, line, sizeof line, DEADLINE_MS))
        fail_msg ("the proxy did not say '%s'", said);
}

//  Puts the proxy on n2's peer link: n2 binds its peer endpoint (ipc://)
//  and the others reach it through the proxy only, as the saved map says.
//  So the proxy carries n1's link to n2 (and n2's answers to n1's CALLs);
//  n2's link to n1 is direct.
static void s_proxy_second_node (fixture_t *f)
{
    char bind[CLUSTER_ENDPOINT_MAX + 1], peer[64];
    snprintf (bind, sizeof bind, "%s", cluster_node_peer (f->cluster, 1));
    assert_true (strncmp (bind, "ipc://", 6) == 0);
    snprintf (peer, sizeof peer, "tcp://127.0.0.1:%d", s_start_proxy (f, bind + 6));
    assert_int_equal (cluster_set_peer (f->cluster, 1, peer, bind), 0);
    char *error = NULL;
    if (cluster_save (f->cluster, f->cfg, &error) != 0)
        fail_msg ("%s", error);
}

static void test_partition_and_freeze_stall_then_complete (void **state)
{
    fixture_t *f = *state;
    s_init (f, 2);
    s_proxy_second_node (f);
    s_start_node (f, 0);
    s_start_node (f, 1);
    s_wait_all_up (f);
    client_t *a = f->client[0]; //  n1 (A) has the sagas; n2 (B) is behind the proxy

    char x[64], y[64], t[4][64];
    int next = 0;
    s_address_on (f, "account/x", 0, &next, x, sizeof x);
    s_address_on (f, "account/y", 1, &next, y, sizeof y);
    for (int i = 0; i < 4; i++)
        s_address_on (f, "transfer/p", 0, &next, t[i], sizeof t[i]);
    s_fund (a, x);
    s_fund (a, y);

    //  Cut: the saga's leg on B has no answer, so it stalls; nothing fails.
    s_proxy_signal (f, SIGUSR1, "proxy cut");
    s_start_transfer (a, t[0], x, y, 100); //  debit here, credit there
    s_start_transfer (a, t[1], y, x, 40);  //  debit there
    s_wait_stalled (a, t[0]);
    s_wait_stalled (a, t[1]);
    s_proxy_signal (f, SIGUSR2, "proxy healed");
    s_wait_completed (a, t[0]);
    s_wait_completed (a, t[1]);
    assert_int_equal (s_balance (a, x), FUNDING - 100 + 40);
    assert_int_equal (s_balance (a, y), FUNDING + 100 - 40);

    //  Freeze B: the same.
    assert_int_equal (kill (f->node[1], SIGSTOP), 0);
    s_start_transfer (a, t[2], x, y, 10);
    s_start_transfer (a, t[3], y, x, 5);
    s_wait_stalled (a, t[2]);
    s_wait_stalled (a, t[3]);
    assert_int_equal (kill (f->node[1], SIGCONT), 0);
    s_wait_completed (a, t[2]);
    s_wait_completed (a, t[3]);
    assert_int_equal (s_balance (a, x), FUNDING - 100 + 40 - 10 + 5);
    assert_int_equal (s_balance (a, y), FUNDING + 100 - 40 + 10 - 5);
}

//  --------------------------------------------------------------------------
//  3. A link cut one way: each side says so, and explain names the link

//  Waits until node i's stats say its link to node j is up (or down), and
//  that j's link to i brings frames (or does not).
static void s_wait_link (fixture_t *f, int i, int j, bool up, bool heard)
{
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    stats_t stats;
    for (s_stats (f, f->client[i], &stats); stats.peer[j] != up || stats.heard[j] != heard;
         s_stats (f, f->client[i], &stats)) {
        if (zclock_mono () > deadline)
            fail_msg ("node %s sees its link to %s %s and hears it %s, not %s and %s",
                      cluster_node_name (f->cluster, i), cluster_node_name (f->cluster, j),
                      stats.peer[j] ? "up" : "down", stats.heard[j] ? "lately" : "not",
                      up ? "up" : "down", heard ? "lately" : "not");
        zclock_sleep (50);
    }
}

//  Runs `shoal ARGS --cluster CFG` once; its stdout into out (size bytes),
//  its stderr into DIR/said.log.
static void s_shoal_out (fixture_t *f, int argc, const char *args[], char *out, size_t size)
{
    char log[192];
    snprintf (log, sizeof log, "%s/said.log", f->dir);
    char *argv[16];
    assert_true (argc + 4 <= 16);
    argv[0] = getenv ("SHOAL_BIN");
    for (int k = 0; k < argc; k++)
        argv[1 + k] = (char *) args[k];
    argv[argc + 1] = "--cluster";
    argv[argc + 2] = f->cfg;
    argv[argc + 3] = NULL;
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    int fd;
    pid_t pid = proc_spawn (argv, log, &fd);
    size_t used = 0;
    ssize_t n = 1;
    while (n > 0 && used < size - 1 && zclock_mono () < deadline) {
        struct pollfd item = {fd, POLLIN, 0};
        if (poll (&item, 1, 100) > 0 && (n = read (fd, out + used, size - 1 - used)) > 0)
            used += (size_t) n;
    }
    out[used] = 0;
    close (fd);
    if (proc_wait_exit (pid, DEADLINE_MS) < 0)
        proc_kill_with (&pid, SIGKILL);
}

//  Runs `shoal ARGS...` (argc of them, then --cluster with the fixture's
//  map) until its stdout holds want, for at most DEADLINE_MS; fails with
//  its last output if it never does.
static void s_wait_said (fixture_t *f, const char *want, int argc, const char *args[])
{
    char out[8192];
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    do {
        s_shoal_out (f, argc, args, out, sizeof out);
        if (strstr (out, want))
            return;
        zclock_sleep (200);
    } while (zclock_mono () < deadline);
    fail_msg ("shoal %s never said '%s'; it said:\n%s", args[0], want, out);
}

//  A --force resolve of transfer's pending command, sent to the saga's
//  own node through client: refused target_up, as the target's node is
//  up (whatever the saga's node's link to it says).
static void s_force_refused (fixture_t *f, client_t *client, const char *transfer)
{
    char out[8192], id[40] = "";
    const char *pending[] = {"pending", "--json"};
    s_shoal_out (f, 2, pending, out, sizeof out);
    char sender[96];
    snprintf (sender, sizeof sender, "\"sender\":\"%s\"", transfer);
    const char *row = strstr (out, sender);
    const char *at = row ? strstr (row, "\"id\":\"") : NULL;
    if (!at || sscanf (at, "\"id\":\"%32[0-9a-f]\"", id) != 1)
        fail_msg ("no pending command of %s in: %s", transfer, out);
    char id_field[48];
    snprintf (id_field, sizeof id_field, "id=%s", id);
    client_reply_t reply;
    assert_int_equal (s_call (client, ENVELOPE_COMMAND, transfer, "$resolve", 5000, &reply,
                              id_field, "code=node_lost", "reason=a test", "operator=test",
                              "force=true", NULL),
                      0);
    if (reply.ok || !streq (reply.code, "target_up"))
        fail_msg ("resolve --force of %s's %s was not refused target_up: %s %s", transfer, id,
                  reply.ok ? "accepted" : reply.code, reply.reason);
    client_reply_close (&reply);
}

static void test_link_cut_one_way_is_named (void **state)
{
    fixture_t *f = *state;
    s_init (f, 2);
    s_proxy_second_node (f);
    s_start_node (f, 0);
    s_start_node (f, 1);
    s_wait_all_up (f);
    s_wait_link (f, 1, 0, true, true);
    client_t *a = f->client[0], *b = f->client[1];

    char x[64], y[64], t[2][64], u[2][64];
    int next = 0;
    s_address_on (f, "account/x", 0, &next, x, sizeof x);
    s_address_on (f, "account/y", 1, &next, y, sizeof y);
    for (int k = 0; k < 2; k++) {
        s_address_on (f, "transfer/t", 0, &next, t[k], sizeof t[k]);
        s_address_on (f, "transfer/u", 1, &next, u[k], sizeof u[k]);
    }
    s_fund (a, x);
    s_fund (a, y);

    //  The proxy drops n1's bytes to n2 (n2's heartbeats still reach n1, so
    //  n1's own never time out), then n2's bytes to n1 on the same
    //  connection: either way n1's link to n2 is cut, and n2's to n1 is not.
    static const struct {
        int sig;
        const char *said;
    } cuts[] = {{SIGHUP, "proxy cut to target"}, {SIGALRM, "proxy cut from target"}};
    for (int k = 0; k < 2; k++) {
        s_proxy_signal (f, cuts[k].sig, cuts[k].said);
        s_wait_link (f, 0, 1, false, true); //  n1: its link down, n2's up
        s_wait_link (f, 1, 0, true, false); //  n2: its link up, nothing from n1
        s_wait_said (f, "not heard from n1 for", 2, (const char *[]){"cluster", "status"});
        s_wait_said (f, "the link n1->n2 is down", 2, (const char *[]){"cluster", "status"});
        //  t's saga on n1 cannot send its credit to n2; u's on n2 sends its
        //  credit to n1, whose answer cannot come back.
        s_start_transfer (a, t[k], x, y, 10);
        s_start_transfer (b, u[k], y, x, 3);
        s_wait_stalled (a, t[k]);
        s_wait_stalled (b, u[k]);
        s_wait_said (f,
                     "the link n1->n2 is cut: n1 reports its link to n2 down, and n2 has not "
                     "heard from n1 for ",
                     2, (const char *[]){"explain", t[k]});
        s_wait_said (f, "n2 is up (it answers), but the command does not reach it", 2,
                     (const char *[]){"explain", t[k]});
        s_wait_said (f, "the link n1->n2 is cut: ", 2, (const char *[]){"explain", u[k]});
        s_wait_said (f, "the command reaches account/x", 2, (const char *[]){"explain", u[k]});
        s_wait_said (f, "but its answer cannot come back", 2, (const char *[]){"explain", u[k]});
        //  Neither may be forced: n2 is up. u's credit ran on n1 already
        //  (its answer lost), and a forced end would refund it: money made.
        s_force_refused (f, a, t[k]);
        s_force_refused (f, b, u[k]);

        s_proxy_signal (f, SIGUSR2, "proxy healed");
        s_wait_link (f, 0, 1, true, true);
        s_wait_link (f, 1, 0, true, true);
        s_wait_completed (a, t[k]);
        s_wait_completed (b, u[k]);
    }
    assert_int_equal (s_balance (a, x), FUNDING - 2 * 10 + 2 * 3);
    assert_int_equal (s_balance (a, y), FUNDING + 2 * 10 - 2 * 3);
}

//  --------------------------------------------------------------------------
//  4. Refusals that change nothing

//  Makes DIR/NAME/ a copy of the cluster's directory for node i: the map
//  edited by the caller (saved there), node i's certificate (a fresh one
//  if fresh is not NULL, else the real one), the client certificate.
static void s_variant (fixture_t *f, const char *name, int i, cluster_t *map, zcert_t *fresh,
                       char *cfg, size_t size)
{
    char dir[192], node_dir[256], path[320], from[320];
    snprintf (dir, sizeof dir, "%s/%s", f->dir, name);
    const char *node = cluster_node_name (f->cluster, i);
    snprintf (node_dir, sizeof node_dir, "%s/%s", dir, node);
    assert_int_equal (mkdir (dir, 0755), 0);
    assert_int_equal (mkdir (node_dir, 0755), 0);
    snprintf (path, sizeof path, "%s/clients", node_dir);
    assert_int_equal (mkdir (path, 0755), 0);
    const char *files[] = {"client.cert", "client.cert_secret"};
    for (int k = 0; k < 2; k++) {
        snprintf (from, sizeof from, "%s/c/%s", f->dir, files[k]);
        snprintf (path, sizeof path, "%s/%s", dir, files[k]);
        s_copy_file (from, path);
    }
    snprintf (from, sizeof from, "%s/c/client.cert", f->dir);
    snprintf (path, sizeof path, "%s/clients/client.cert", node_dir);
    s_copy_file (from, path);
    snprintf (path, sizeof path, "%s/node.cert", node_dir);
    if (fresh)
        assert_int_equal (zcert_save (fresh, path), 0);
    else {
        snprintf (from, sizeof from, "%s/c/%s/node.cert", f->dir, node);
        s_copy_file (from, path);
        snprintf (from, sizeof from, "%s/c/%s/node.cert_secret", f->dir, node);
        snprintf (path, sizeof path, "%s/node.cert_secret", node_dir);
        s_copy_file (from, path);
    }
    snprintf (cfg, size, "%s/cluster.cfg", dir);
    char *error = NULL;
    if (cluster_save (map, cfg, &error) != 0)
        fail_msg ("%s", error);
}

//  Waits until n1's authenticator refused more than before connections.
static void s_wait_refused (fixture_t *f, int64_t before)
{
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    stats_t stats;
    for (s_stats (f, f->client[0], &stats); stats.refused <= before;
         s_stats (f, f->client[0], &stats)) {
        if (zclock_mono () > deadline)
            fail_msg ("n1 refused no connection");
        zclock_sleep (50);
    }
}

//  Starts node i from the variant cfg and a client of it (CURVE with the
//  variant's keys); once n1's log says refused_text (and, if counted, its
//  authenticator refused a connection), checks that neither side welcomed
//  the other and that a command for account (on n1) sent to the variant
//  is unavailable, naming n1, and changes nothing.
static void s_refused_peer (fixture_t *f, const char *cfg, int i, const char *log_name,
                            const char *refused_text, const char *own_text, bool counted,
                            const char *account)
{
    stats_t before, stats;
    s_stats (f, f->client[0], &before);
    pid_t *pid = s_keep_child (f, s_start (f, cfg, cluster_node_name (f->cluster, i), log_name));
    char *error = NULL;
    client_t *client = f->other =
        client_new_cluster (cfg, cluster_node_name (f->cluster, i), &error);
    if (!client)
        fail_msg ("%s", error);
    char n1_log[192];
    snprintf (n1_log, sizeof n1_log, "%s/%s.log", f->dir, cluster_node_name (f->cluster, 0));
    s_wait_file_has (n1_log, refused_text);
    if (counted)
        s_wait_refused (f, before.refused);
    s_stats (f, f->client[0], &stats);
    assert_false (stats.peer[i]);
    assert_int_equal (stats.peers_up, 0);
    s_stats (f, client, &stats);
    assert_int_equal (stats.peers_up, 0);

    client_reply_t reply;
    assert_int_equal (
        s_call (client, ENVELOPE_COMMAND, account, "Open", 5000, &reply, "owner=mallory", NULL), 0);
    assert_false (reply.ok);
    assert_string_equal (reply.code, "unavailable");
    if (!strstr (reply.reason, "node n1 "))
        fail_msg ("the reason does not name n1: %s", reply.reason);
    client_reply_close (&reply);
    assert_int_equal (s_version (f->client[0], account), 0);

    client_destroy (&f->other);
    //  What the refused node says of it, before it is killed (killed
    //  first, it may never have read n1's refusal).
    char own_log[192];
    snprintf (own_log, sizeof own_log, "%s/%s.log", f->dir, log_name);
    s_wait_file_has (own_log, own_text);
    proc_kill_with (pid, SIGKILL);
}

//  Sends, as a peer, an actor's message: Credit{transfer, amount} to
//  account from transfer/TRANSFER (from).
static void s_peer_credit (zsock_t *peer, const char *from, const char *account, int64_t amount)
{
    char transfer_field[80], amount_field[40];
    snprintf (transfer_field, sizeof transfer_field, "transfer=%s", from + strlen ("transfer/"));
    snprintf (amount_field, sizeof amount_field, "amount=%lld", (long long) amount);
    char *fields[] = {transfer_field, amount_field};
    uint8_t *payload, *frame;
    size_t payload_size, frame_size;
    char error[64];
    assert_int_equal (client_fields (2, fields, &payload, &payload_size, error, sizeof error), 0);
    envelope_t command;
    client_request (&command, ENVELOPE_COMMAND, NULL, account, "Credit", payload, payload_size);
    snprintf (command.from, sizeof command.from, "%s", from);
    assert_int_equal (envelope_encode (&command, &frame, &frame_size), 0);
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "MSG");
    zmsg_addmem (msg, frame, frame_size);
    assert_int_equal (zmsg_send (&msg, peer), 0);
    free (frame);
    free (payload);
}

//  A node speaks for its own actors only. A peer's MSG is an actor's
//  message, and its `from` was taken as it came: a node whose key was
//  stolen could credit another node's account as any of that node's
//  transfers. Now a MSG whose sender the peer does not own is dropped.
//  Here n2's key, on n1's peer endpoint (n2 itself is not running),
//  credits 500 as a transfer of n1's, then 7 as a transfer of its own.
static void test_peer_speaks_for_its_own_actors (void **state)
{
    fixture_t *f = *state;
    s_init (f, 2);
    s_start_node (f, 0);
    char account[64], ours[64], theirs[64];
    int next = 0;
    s_address_on (f, "account/p", 0, &next, account, sizeof account);
    next = 0;
    s_address_on (f, "transfer/o", 0, &next, ours, sizeof ours);
    next = 0;
    s_address_on (f, "transfer/t", 1, &next, theirs, sizeof theirs);
    s_accept (f->client[0], account, "Open", "owner=P", NULL);

    char path[256];
    snprintf (path, sizeof path, "%s/c/%s/node.cert", f->dir, cluster_node_name (f->cluster, 1));
    zcert_t *cert = zcert_load (path);
    assert_non_null (cert);
    zsock_t *peer = zsock_new (ZMQ_DEALER);
    assert_non_null (peer);
    zsock_set_linger (peer, 0);
    zsock_set_rcvtimeo (peer, DEADLINE_MS);
    zcert_apply (cert, peer);
    zsock_set_curve_serverkey (peer, cluster_node_key (f->cluster, 0));
    assert_int_equal (zsock_connect (peer, "%s", cluster_node_peer (f->cluster, 0)), 0);
    char epoch[24];
    snprintf (epoch, sizeof epoch, "%lld", (long long) cluster_epoch (f->cluster));
    assert_int_equal (zstr_sendx (peer, "HELLO", cluster_name (f->cluster), epoch,
                                  cluster_digest (f->cluster), cluster_node_name (f->cluster, 1),
                                  NULL),
                      0);
    char *welcome = zstr_recv (peer);
    assert_non_null (welcome);
    assert_string_equal (welcome, "WELCOME");
    zstr_free (&welcome);
    s_peer_credit (peer, ours, account, 500);
    s_peer_credit (peer, theirs, account, 7);
    //  One pipe, in order: once the 7 is in, the 500 was dropped or not.
    int64_t deadline = zclock_mono () + DEADLINE_MS, balance;
    while ((balance = s_balance (f->client[0], account)) == 0 && zclock_mono () < deadline)
        zclock_sleep (20);
    assert_int_equal (balance, 7);
    zsock_destroy (&peer);
    zcert_destroy (&cert);
}

static void test_refusals_change_nothing (void **state)
{
    fixture_t *f = *state;
    s_init (f, 2);
    s_start_node (f, 0); //  n1 alone; n2 comes in three disguises
    char account[64];
    int next = 0;
    s_address_on (f, "account/r", 0, &next, account, sizeof account);

    //  A client whose certificate n1 does not know: no answer at all.
    char dir[192], path[256], from[256];
    snprintf (dir, sizeof dir, "%s/stranger", f->dir);
    assert_int_equal (mkdir (dir, 0755), 0);
    snprintf (path, sizeof path, "%s/cluster.cfg", dir);
    s_copy_file (f->cfg, path);
    zcert_t *stranger = zcert_new ();
    snprintf (from, sizeof from, "%s/client.cert", dir);
    assert_int_equal (zcert_save (stranger, from), 0);
    zcert_destroy (&stranger);
    stats_t before;
    s_stats (f, f->client[0], &before);
    char *error = NULL;
    client_t *client = f->other = client_new_cluster (path, "n1", &error);
    if (!client)
        fail_msg ("%s", error);
    //  The send fails at once, saying n1 refused the key (before, it waited
    //  out its send timeout, and said nothing of why).
    client_reply_t reply;
    client_set_send_timeout (client, 30000);
    int64_t sent = zclock_mono ();
    int rc = s_call (client, ENVELOPE_COMMAND, account, "Open", 30000, &reply, "owner=eve", NULL);
    if (rc == 0)
        fail_msg ("a stranger got an answer: ok %d %s %s", reply.ok, reply.code, reply.reason);
    if (rc != SHOAL_EAUTH)
        fail_msg ("a stranger's send: %s after %d ms, not refused", shoal_strerror (rc),
                  (int) (zclock_mono () - sent));
    assert_true (zclock_mono () - sent < 10000);
    const char *refusal = client_refusal (client);
    assert_non_null (refusal);
    if (!strstr (refusal, "node n1 refused this client's key: is ") || !strstr (refusal, from) ||
        !strstr (refusal, "clients/"))
        fail_msg ("the refusal says: %s", refusal);
    client_destroy (&f->other);
    s_wait_refused (f, before.refused);
    assert_int_equal (s_version (f->client[0], account), 0);

    //  n2 with a key the cluster file does not have (its own copy names it).
    char cfg[256];
    cluster_t *map = cluster_load (f->cfg, &error);
    assert_non_null (map);
    zcert_t *impostor = zcert_new ();
    assert_int_equal (cluster_set_key (map, 1, zcert_public_txt (impostor)), 0);
    s_variant (f, "impostor", 1, map, impostor, cfg, sizeof cfg);
    zcert_destroy (&impostor);
    cluster_destroy (&map);
    s_refused_peer (f, cfg, 1, "impostor", "refused a peer connection",
                    "peer n1 refused our CURVE handshake", true, account);

    //  n2 with its own key but the next epoch: refused at HELLO.
    map = cluster_load (f->cfg, &error);
    assert_non_null (map);
    assert_int_equal (cluster_set_epoch (map, cluster_epoch (map) + 1), 0);
    s_variant (f, "epoch", 1, map, NULL, cfg, sizeof cfg);
    cluster_destroy (&map);
    s_refused_peer (f, cfg, 1, "epoch", "refused peer n2: it has another epoch",
                    "peer n1 refused us: we have another epoch", false, account);

    //  The real n2 is welcomed: what kept the others out was their map.
    s_start_node (f, 1);
    s_wait_all_up (f);
    assert_int_equal (s_version (f->client[0], account), 0);
}

//  A node that once refused a peer's CURVE handshake (n1 started with a
//  cluster file naming another key for n2) and then comes back with the
//  right file is linked again: libzmq does not connect again after a
//  refused handshake, so n2 makes its link anew. Before, n2 never saw n1
//  up again until n2 itself was restarted.
static void test_link_back_after_refused_handshake (void **state)
{
    fixture_t *f = *state;
    s_init (f, 2);
    s_start_node (f, 1); //  the real n2
    char *error = NULL, cfg[256];
    cluster_t *map = cluster_load (f->cfg, &error);
    assert_non_null (map);
    zcert_t *other = zcert_new ();
    assert_int_equal (cluster_set_key (map, 1, zcert_public_txt (other)), 0);
    zcert_destroy (&other);
    s_variant (f, "wrongmap", 0, map, NULL, cfg, sizeof cfg);
    cluster_destroy (&map);
    pid_t *wrong = s_keep_child (f, s_start (f, cfg, "n1", "wrongmap"));
    char n2_log[192];
    snprintf (n2_log, sizeof n2_log, "%s/n2.log", f->dir);
    s_wait_file_has (n2_log, "peer n1 refused our CURVE handshake");
    proc_kill_with (wrong, SIGKILL);

    s_start_node (f, 0); //  n1 again, with the cluster's own file
    s_wait_all_up (f);
    char account[64];
    int next = 0;
    s_address_on (f, "account/l", 0, &next, account, sizeof account);
    s_fund (f->client[1], account); //  through n2, to n1's shard
    assert_int_equal (s_balance (f->client[0], account), FUNDING);
}

//  --------------------------------------------------------------------------
//  5. A node alone beyond loopback: only with --insecure, said loudly

static void test_alone_beyond_loopback_needs_insecure (void **state)
{
    fixture_t *f = *state;
    char data[192], log[192];
    snprintf (data, sizeof data, "%s/alone", f->dir);
    snprintf (log, sizeof log, "%s/alone.log", f->dir);
    char *argv[] = {getenv ("SHOAL_BIN"), "node", "--data", data, "--endpoint",
                    "tcp://0.0.0.0:*",    NULL,   NULL};
    pid_t pid = proc_spawn (argv, log, NULL);
    int code = proc_wait_exit (pid, DEADLINE_MS);
    if (code == -1)
        proc_kill_with (&pid, SIGKILL);
    assert_int_not_equal (code, 0);
    assert_true (code > 0);
    assert_true (s_file_has (log, "will not listen on tcp://0.0.0.0:* without CURVE"));
    assert_true (s_file_has (log, "--insecure"));

    snprintf (log, sizeof log, "%s/insecure.log", f->dir);
    argv[6] = "--insecure";
    int out;
    pid = proc_spawn (argv, log, &out);
    s_keep_child (f, pid);
    char line[512];
    bool ready =
        proc_read_line_until (out, "ready on tcp://0.0.0.0:", line, sizeof line, DEADLINE_MS);
    close (out);
    assert_true (ready);
    assert_true (s_file_has (log, "WARN shoal node: --insecure"));
    assert_true (s_file_has (log, "unauthenticated and unencrypted"));
    //  And it serves, on the port it printed.
    char endpoint[64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d",
              atoi (strstr (line, "ready on tcp://0.0.0.0:") + strlen ("ready on tcp://0.0.0.0:")));
    f->other = client_new (endpoint);
    assert_non_null (f->other);
    client_reply_t reply;
    assert_int_equal (s_call (f->other, ENVELOPE_QUERY, "node/stats", "stats", 5000, &reply, NULL),
                      0);
    assert_true (reply.ok);
    client_reply_close (&reply);
}

//  --------------------------------------------------------------------------
//  6. A node killed: its actors are unavailable, at once, by name

static void test_killed_node_is_unavailable_by_name (void **state)
{
    fixture_t *f = *state;
    s_init (f, 2);
    s_start_node (f, 0);
    s_start_node (f, 1);
    s_wait_all_up (f);
    char account[64];
    int next = 0;
    s_address_on (f, "account/k", 1, &next, account, sizeof account);
    s_fund (f->client[0], account);

    proc_kill_with (&f->node[1], SIGKILL);
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    stats_t stats;
    for (s_stats (f, f->client[0], &stats); stats.peer[1]; s_stats (f, f->client[0], &stats)) {
        if (zclock_mono () > deadline)
            fail_msg ("n1 still sees n2 up after it was killed");
        zclock_sleep (20);
    }
    int64_t unavailable = stats.unavailable;
    for (int i = 0; i < 3; i++) {
        client_reply_t reply;
        int64_t sent = zclock_mono ();
        assert_int_equal (s_call (f->client[0], ENVELOPE_COMMAND, account, "Deposit", 1000, &reply,
                                  "amount=1", NULL),
                          0);
        assert_true (zclock_mono () - sent <= 1000);
        assert_false (reply.ok);
        assert_string_equal (reply.code, "unavailable");
        if (!strstr (reply.reason, "node n2 ") || !strstr (reply.reason, account))
            fail_msg ("the reason does not name n2 and %s: %s", account, reply.reason);
        client_reply_close (&reply);
    }
    s_stats (f, f->client[0], &stats);
    assert_int_equal (stats.unavailable, unavailable + 3);
}

//  --------------------------------------------------------------------------
//  7. The store of a node of another cluster of the same names is refused

static void test_store_of_another_cluster_refused (void **state)
{
    fixture_t *f = *state;
    s_init (f, 1);
    const char *name = cluster_node_name (f->cluster, 0);
    s_start_node (f, 0);
    s_fund (f->client[0], "account/kept");
    client_destroy (&f->client[0]);
    proc_kill_with (&f->node[0], SIGTERM);

    //  A second `cluster init` makes a cluster of the same name and node
    //  names, with keys of its own; its n1 is given the first one's data.
    char other[192], cfg[256], log[192], mine[256], theirs[256];
    snprintf (other, sizeof other, "%s/b", f->dir);
    snprintf (cfg, sizeof cfg, "%s/cluster.cfg", other);
    snprintf (log, sizeof log, "%s/init-b.log", f->dir);
    char *init[] = {
        getenv ("SHOAL_BIN"), "cluster", "init", "--nodes", "1", "--dir", other, "--ipc",
        "--shards",           "64",      NULL};
    assert_int_equal (proc_wait_exit (proc_spawn (init, log, NULL), DEADLINE_MS), 0);
    snprintf (mine, sizeof mine, "%s/c/%s/data", f->dir, name);
    snprintf (theirs, sizeof theirs, "%s/%s/data", other, name);
    assert_int_equal (rename (mine, theirs), 0);

    snprintf (log, sizeof log, "%s/stranger.log", f->dir);
    char *node[] = {getenv ("SHOAL_BIN"), "node", "--cluster", cfg, "--name", (char *) name, NULL};
    pid_t pid = proc_spawn (node, log, NULL);
    int code = proc_wait_exit (pid, DEADLINE_MS);
    if (code == -1)
        proc_kill_with (&pid, SIGKILL);
    assert_true (code > 0);
    assert_true (s_file_has (log, "belongs to another cluster named"));
    assert_true (s_file_has (log, "put the old one back"));
    //  Nor is it taken by a node alone.
    snprintf (log, sizeof log, "%s/alone.log", f->dir);
    char endpoint[256];
    snprintf (endpoint, sizeof endpoint, "ipc://%s/alone.ipc", f->dir);
    char *alone[] = {getenv ("SHOAL_BIN"), "node", "--data", theirs, "--endpoint", endpoint, NULL};
    pid = proc_spawn (alone, log, NULL);
    code = proc_wait_exit (pid, DEADLINE_MS);
    if (code == -1)
        proc_kill_with (&pid, SIGKILL);
    assert_true (code > 0);
    assert_true (s_file_has (log, "belongs to shoal/n1, not to /"));

    //  Refused, it changed nothing: back in its own cluster, the store
    //  serves its account as before.
    assert_int_equal (rename (theirs, mine), 0);
    s_start_node (f, 0);
    assert_int_equal (s_balance (f->client[0], "account/kept"), FUNDING);
}

//  --------------------------------------------------------------------------
//  8. A node whose node.cert_secret others may read starts, and its log
//     says so, naming the file, its mode and the fix (before: nothing)

static void test_open_secret_is_warned (void **state)
{
    fixture_t *f = *state;
    s_init (f, 1);
    char secret[192], log[192], expected[1024];
    snprintf (secret, sizeof secret, "%s/c/n1/node.cert_secret", f->dir);
    assert_int_equal (chmod (secret, 0640), 0);
    s_start_node (f, 0);
    snprintf (log, sizeof log, "%s/n1.log", f->dir);
    snprintf (expected, sizeof expected,
              "WARN UNPROTECTED PRIVATE KEY FILE: %s is mode 0640: others than its owner may "
              "read the secret key, and act as its node or client. Run: chmod 600 %s",
              secret, secret);
    assert_true (s_file_has (log, expected));
    stats_t stats;
    s_stats (f, f->client[0], &stats); //  and it serves
}

//  --------------------------------------------------------------------------
//  9. A second node of the same name (another data directory) is refused,
//     naming the endpoint, and changes nothing: the first keeps its
//     ipc:// endpoints and its clients. Before, libzmq unlinked the first
//     one's socket files and bound its own: new clients reached the
//     second, a split brain. A node killed leaves its lock file behind,
//     and starts again.

static void test_second_node_of_a_name_is_refused (void **state)
{
    fixture_t *f = *state;
    s_init (f, 2);
    s_start_node (f, 0);
    char account[64];
    int next = 0;
    s_address_on (f, "account/s", 0, &next, account, sizeof account);
    s_fund (f->client[0], account);

    char data[192], log[192], line[512], expected[512];
    snprintf (data, sizeof data, "%s/second", f->dir);
    snprintf (log, sizeof log, "%s/second.log", f->dir);
    char *argv[] = {
        getenv ("SHOAL_BIN"), "node", "--cluster", f->cfg, "--name", "n1", "--data", data,
        "--workers",          "1",    NULL};
    int out;
    pid_t *second = s_keep_child (f, proc_spawn (argv, log, &out));
    int code = proc_wait_exit (*second, DEADLINE_MS);
    if (code == -1)
        fail_msg ("a second n1 still runs after %d ms: it took n1's endpoints", DEADLINE_MS);
    *second = 0;
    assert_int_equal (code, 1);
    assert_false (proc_read_line_until (out, "ready on", line, sizeof line, 1000));
    close (out);
    snprintf (expected, sizeof expected,
              "shoal node: cannot listen on %s: another process is bound there (it holds %s.lock)",
              cluster_node_client (f->cluster, 0), cluster_node_client (f->cluster, 0) + 6);
    if (!s_file_has (log, expected))
        fail_msg ("%s does not say '%s'", log, expected);
    struct stat st;
    assert_int_equal (stat (data, &st), -1);

    //  A new client of n1 reaches the first n1, with its store.
    client_destroy (&f->client[0]);
    char *error = NULL;
    f->client[0] = client_new_cluster (f->cfg, "n1", &error);
    assert_non_null (f->client[0]);
    assert_int_equal (s_balance (f->client[0], account), FUNDING);

    //  Killed, n1 starts again: the kernel dropped its lock.
    proc_kill_with (&f->node[0], SIGKILL);
    s_start_node (f, 0);
    assert_int_equal (s_balance (f->client[0], account), FUNDING);
}

int main (void)
{
    signal (SIGPIPE, SIG_IGN);
    zsys_init ();
    zsys_set_logstream (stderr);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_transfers_through_a_third_node, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_partition_and_freeze_stall_then_complete, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_link_cut_one_way_is_named, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_refusals_change_nothing, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_peer_speaks_for_its_own_actors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_link_back_after_refused_handshake, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_alone_beyond_loopback_needs_insecure, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_killed_node_is_unavailable_by_name, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_store_of_another_cluster_refused, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_open_secret_is_warned, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_second_node_of_a_name_is_refused, s_setup,
                                         s_teardown),
    };
    //  SHOAL_TEST_FILTER=test_partition* runs the tests whose names match.
    if (getenv ("SHOAL_TEST_FILTER"))
        cmocka_set_test_filter (getenv ("SHOAL_TEST_FILTER"));
    return cmocka_run_group_tests (tests, NULL, NULL);
}
