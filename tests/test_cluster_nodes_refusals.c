/*  test_cluster_nodes_refusals.c - what clusters of real nodes refuse: a
    peer speaking for actors not its own, refusals that change nothing, a
    link back after a refused handshake, a lone node beyond loopback, a
    store of another cluster, an open secret, a second node of a name.
    A node restored from an older backup: test_cluster_nodes_restored.c.
    The fixture: cluster_nodes_test_util.h.
*/
#include "client.h"
#include "cluster.h"
#include "proc.h"
#include "shard.h"

#include <czmq.h>
#include <inttypes.h>
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

//  The version of address's stream (0: nothing ever happened to it).
static int64_t s_version (client_t *client, const char *address)
{
    client_reply_t reply;
    cluster_client_get (client, address, &reply);
    int64_t version = -1;
    assert_int_equal (map_int (reply.data, reply.size, "version", &version), 0);
    client_reply_close (&reply);
    return version;
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

//  Swaps, in the cluster file cfg, the shards of its first two nodes (the
//  lines `        shards = "..."` under each): a map of the same nodes,
//  keys and epoch that places every shard on the other node.
static void s_swap_shards (const char *cfg)
{
    FILE *in = fopen (cfg, "rb");
    assert_non_null (in);
    static char text[65536], out[65536];
    size_t size = fread (text, 1, sizeof text - 1, in);
    fclose (in);
    text[size] = 0;
    const char *tag = "\n        shards = \"";
    char *first = strstr (text, tag);
    assert_non_null (first);
    char *second = strstr (first + 1, tag);
    assert_non_null (second);
    char *first_end = strchr (first + 1, '\n'), *second_end = strchr (second + 1, '\n');
    assert_non_null (first_end);
    assert_non_null (second_end);
    int n = snprintf (out, sizeof out, "%.*s%.*s%.*s%.*s%s", (int) (first - text), text,
                      (int) (second_end - second), second, (int) (second - first_end), first_end,
                      (int) (first_end - first), first, second_end);
    assert_true (n > 0 && (size_t) n == size);
    FILE *file = fopen (cfg, "wb");
    assert_non_null (file);
    assert_int_equal (fwrite (out, 1, (size_t) n, file), (size_t) n);
    assert_int_equal (fclose (file), 0);
}

//  Waits until n1's authenticator refused more than before connections.
static void s_wait_refused (fixture_t *f, int64_t before)
{
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    stats_t stats;
    for (cluster_nodes_stats (f, f->client[0], &stats); stats.refused <= before;
         cluster_nodes_stats (f, f->client[0], &stats)) {
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
    cluster_nodes_stats (f, f->client[0], &before);
    pid_t *pid =
        s_keep_child (f, cluster_nodes_start (f, cfg, cluster_node_name (f->cluster, i), log_name));
    char *error = NULL;
    client_t *client = f->other =
        client_new_cluster (cfg, cluster_node_name (f->cluster, i), &error);
    if (!client)
        fail_msg ("%s", error);
    char n1_log[192];
    snprintf (n1_log, sizeof n1_log, "%s/%s.log", f->dir, cluster_node_name (f->cluster, 0));
    cluster_nodes_wait_file_has (n1_log, refused_text);
    if (counted)
        s_wait_refused (f, before.refused);
    cluster_nodes_stats (f, f->client[0], &stats);
    assert_false (stats.peer[i]);
    assert_int_equal (stats.peers_up, 0);
    cluster_nodes_stats (f, client, &stats);
    assert_int_equal (stats.peers_up, 0);

    client_reply_t reply;
    assert_int_equal (cluster_client_call (client, ENVELOPE_COMMAND, account, "Open", 5000, &reply,
                                           "owner=mallory", NULL),
                      0);
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
    cluster_nodes_wait_file_has (own_log, own_text);
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
    cluster_nodes_init (f, 2);
    cluster_nodes_start_node (f, 0);
    char account[64], ours[64], theirs[64];
    int next = 0;
    cluster_client_address_on (f->cluster, "account/p", 0, &next, account, sizeof account);
    next = 0;
    cluster_client_address_on (f->cluster, "transfer/o", 0, &next, ours, sizeof ours);
    next = 0;
    cluster_client_address_on (f->cluster, "transfer/t", 1, &next, theirs, sizeof theirs);
    cluster_nodes_accept (f->client[0], account, "Open", "owner=P", NULL);

    zsock_t *peer = cluster_client_stolen_peer (f->cluster, f->dir, NULL, DEADLINE_MS);
    s_peer_credit (peer, ours, account, 500);
    s_peer_credit (peer, theirs, account, 7);
    //  One pipe, in order: once the 7 is in, the 500 was dropped or not.
    int64_t deadline = zclock_mono () + DEADLINE_MS, balance;
    while ((balance = cluster_client_balance (f->client[0], account)) == 0 &&
           zclock_mono () < deadline)
        zclock_sleep (20);
    assert_int_equal (balance, 7);
    zsock_destroy (&peer);
}

static void test_refusals_change_nothing (void **state)
{
    fixture_t *f = *state;
    cluster_nodes_init (f, 2);
    cluster_nodes_start_node (f, 0); //  n1 alone; n2 comes in three disguises
    char account[64];
    int next = 0;
    cluster_client_address_on (f->cluster, "account/r", 0, &next, account, sizeof account);

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
    cluster_nodes_stats (f, f->client[0], &before);
    char *error = NULL;
    client_t *client = f->other = client_new_cluster (path, "n1", &error);
    if (!client)
        fail_msg ("%s", error);
    //  The send fails at once, saying n1 refused the key (before, it waited
    //  out its send timeout, and said nothing of why).
    client_reply_t reply;
    client_set_send_timeout (client, 30000);
    int64_t sent = zclock_mono ();
    int rc = cluster_client_call (client, ENVELOPE_COMMAND, account, "Open", 30000, &reply,
                                  "owner=eve", NULL);
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

    //  n2 with its own key and our epoch, but another shard map (the two
    //  nodes' shards swapped, a file edited by hand): refused at HELLO, and
    //  while it runs neither node takes a client's command, where each
    //  served what its own map gave it (one account, two books).
    map = cluster_load (f->cfg, &error);
    assert_non_null (map);
    s_variant (f, "map", 1, map, NULL, cfg, sizeof cfg);
    cluster_destroy (&map);
    s_swap_shards (cfg);
    pid_t *pid = s_keep_child (f, cluster_nodes_start (f, cfg, "n2", "map"));
    char n1_log[192], n2_log[192];
    snprintf (n1_log, sizeof n1_log, "%s/n1.log", f->dir);
    snprintf (n2_log, sizeof n2_log, "%s/map.log", f->dir);
    cluster_nodes_wait_file_has (n1_log, "peer n2 runs another shard map at our epoch");
    cluster_nodes_wait_file_has (n2_log, "peer n1 runs another shard map at our epoch");
    client = f->other = client_new_cluster (cfg, "n2", &error);
    if (!client)
        fail_msg ("%s", error);
    client_t *clients[2] = {f->client[0], client};
    const char *named[2] = {"node n2 runs another shard map", "node n1 runs another shard map"};
    for (int k = 0; k < 2; k++) { //  the account is n1's by our map, n2's by its
        assert_int_equal (cluster_client_call (clients[k], ENVELOPE_COMMAND, account, "Open", 5000,
                                               &reply, "owner=mallory", NULL),
                          0);
        if (reply.ok || !streq (reply.code, "unavailable") || !strstr (reply.reason, named[k]))
            fail_msg ("n%d took a command with another map running: %s %s", k + 1,
                      reply.ok ? "ok" : reply.code, reply.ok ? "" : reply.reason);
        client_reply_close (&reply);
    }
    client_destroy (&f->other);
    proc_kill_with (pid, SIGKILL);
    assert_int_equal (s_version (f->client[0], account), 0);
    //  Gone, it holds nothing up (PEERS_CONFLICT_MS after its last HELLO):
    //  n1 says so and takes commands again (it took none until a restart).
    cluster_nodes_wait_file_has (n1_log,
                                 "peer n2 has said nothing of its map for 5 s (stopped, or cut off "
                                 "from us): taking commands again");
    cluster_nodes_accept (f->client[0], account, "Open", "owner=r", NULL);
    assert_int_equal (s_version (f->client[0], account), 1);

    //  The real n2 is welcomed: what kept the others out was their map.
    cluster_nodes_start_node (f, 1);
    cluster_nodes_wait_all_up (f);
    assert_int_equal (s_version (f->client[0], account), 1);
}

//  A node that once refused a peer's CURVE handshake (n1 started with a
//  cluster file naming another key for n2) and then comes back with the
//  right file is linked again: libzmq does not connect again after a
//  refused handshake, so n2 makes its link anew. Before, n2 never saw n1
//  up again until n2 itself was restarted.
static void test_link_back_after_refused_handshake (void **state)
{
    fixture_t *f = *state;
    cluster_nodes_init (f, 2);
    cluster_nodes_start_node (f, 1); //  the real n2
    char *error = NULL, cfg[256];
    cluster_t *map = cluster_load (f->cfg, &error);
    assert_non_null (map);
    zcert_t *other = zcert_new ();
    assert_int_equal (cluster_set_key (map, 1, zcert_public_txt (other)), 0);
    zcert_destroy (&other);
    s_variant (f, "wrongmap", 0, map, NULL, cfg, sizeof cfg);
    cluster_destroy (&map);
    pid_t *wrong = s_keep_child (f, cluster_nodes_start (f, cfg, "n1", "wrongmap"));
    char n2_log[192];
    snprintf (n2_log, sizeof n2_log, "%s/n2.log", f->dir);
    cluster_nodes_wait_file_has (n2_log, "peer n1 refused our CURVE handshake");
    proc_kill_with (wrong, SIGKILL);

    cluster_nodes_start_node (f, 0); //  n1 again, with the cluster's own file
    cluster_nodes_wait_all_up (f);
    char account[64];
    int next = 0;
    cluster_client_address_on (f->cluster, "account/l", 0, &next, account, sizeof account);
    cluster_nodes_fund (f->client[1], account); //  through n2, to n1's shard
    assert_int_equal (cluster_client_balance (f->client[0], account), FUNDING);
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
    assert_true (cluster_nodes_file_has (log, "will not listen on tcp://0.0.0.0:* without CURVE"));
    assert_true (cluster_nodes_file_has (log, "--insecure"));

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
    assert_true (cluster_nodes_file_has (log, "WARN shoal node: --insecure"));
    assert_true (cluster_nodes_file_has (log, "unauthenticated and unencrypted"));
    //  And it serves, on the port it printed.
    char endpoint[64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d",
              atoi (strstr (line, "ready on tcp://0.0.0.0:") + strlen ("ready on tcp://0.0.0.0:")));
    f->other = client_new (endpoint);
    assert_non_null (f->other);
    client_reply_t reply;
    assert_int_equal (
        cluster_client_call (f->other, ENVELOPE_QUERY, "node/stats", "stats", 5000, &reply, NULL),
        0);
    assert_true (reply.ok);
    client_reply_close (&reply);
}

//  --------------------------------------------------------------------------
//  7. The store of a node of another cluster of the same names is refused

static void test_store_of_another_cluster_refused (void **state)
{
    fixture_t *f = *state;
    cluster_nodes_init (f, 1);
    const char *name = cluster_node_name (f->cluster, 0);
    cluster_nodes_start_node (f, 0);
    cluster_nodes_fund (f->client[0], "account/kept");
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
    assert_true (cluster_nodes_file_has (log, "belongs to another cluster named"));
    assert_true (cluster_nodes_file_has (log, "put the old one back"));
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
    assert_true (cluster_nodes_file_has (log, "belongs to shoal/n1, not to /"));
    //  ... and which start takes it (it said only whose it was).
    assert_true (cluster_nodes_file_has (
        log, "start it as node n1 of that cluster's file (--cluster FILE --name NAME)"));

    //  Refused, it changed nothing: back in its own cluster, the store
    //  serves its account as before.
    assert_int_equal (rename (theirs, mine), 0);
    cluster_nodes_start_node (f, 0);
    assert_int_equal (cluster_client_balance (f->client[0], "account/kept"), FUNDING);
}

//  --------------------------------------------------------------------------
//  8. A node whose node.cert_secret others may read starts, and its log
//     says so, naming the file, its mode and the fix (before: nothing)

static void test_open_secret_is_warned (void **state)
{
    fixture_t *f = *state;
    cluster_nodes_init (f, 1);
    char secret[192], log[192], expected[1024];
    snprintf (secret, sizeof secret, "%s/c/n1/node.cert_secret", f->dir);
    assert_int_equal (chmod (secret, 0640), 0);
    cluster_nodes_start_node (f, 0);
    snprintf (log, sizeof log, "%s/n1.log", f->dir);
    snprintf (expected, sizeof expected,
              "WARN UNPROTECTED PRIVATE KEY FILE: %s is mode 0640: others than its owner may "
              "read the secret key, and act as its node or client. Run: chmod 600 %s",
              secret, secret);
    assert_true (cluster_nodes_file_has (log, expected));
    stats_t stats;
    cluster_nodes_stats (f, f->client[0], &stats); //  and it serves
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
    cluster_nodes_init (f, 2);
    cluster_nodes_start_node (f, 0);
    char account[64];
    int next = 0;
    cluster_client_address_on (f->cluster, "account/s", 0, &next, account, sizeof account);
    cluster_nodes_fund (f->client[0], account);

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
    if (!cluster_nodes_file_has (log, expected))
        fail_msg ("%s does not say '%s'", log, expected);
    struct stat st;
    assert_int_equal (stat (data, &st), -1);

    //  A new client of n1 reaches the first n1, with its store.
    client_destroy (&f->client[0]);
    char *error = NULL;
    f->client[0] = client_new_cluster (f->cfg, "n1", &error);
    assert_non_null (f->client[0]);
    assert_int_equal (cluster_client_balance (f->client[0], account), FUNDING);

    //  Killed, n1 starts again: the kernel dropped its lock.
    proc_kill_with (&f->node[0], SIGKILL);
    cluster_nodes_start_node (f, 0);
    assert_int_equal (cluster_client_balance (f->client[0], account), FUNDING);
}

int main (void)
{
    signal (SIGPIPE, SIG_IGN);
    zsys_init ();
    zsys_set_logstream (stderr);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_refusals_change_nothing, cluster_nodes_setup,
                                         cluster_nodes_teardown),
        cmocka_unit_test_setup_teardown (test_peer_speaks_for_its_own_actors, cluster_nodes_setup,
                                         cluster_nodes_teardown),
        cmocka_unit_test_setup_teardown (test_link_back_after_refused_handshake,
                                         cluster_nodes_setup, cluster_nodes_teardown),
        cmocka_unit_test_setup_teardown (test_alone_beyond_loopback_needs_insecure,
                                         cluster_nodes_setup, cluster_nodes_teardown),
        cmocka_unit_test_setup_teardown (test_store_of_another_cluster_refused, cluster_nodes_setup,
                                         cluster_nodes_teardown),
        cmocka_unit_test_setup_teardown (test_open_secret_is_warned, cluster_nodes_setup,
                                         cluster_nodes_teardown),
        cmocka_unit_test_setup_teardown (test_second_node_of_a_name_is_refused, cluster_nodes_setup,
                                         cluster_nodes_teardown),
    };
    //  SHOAL_TEST_FILTER=test_partition* runs the tests whose names match.
    if (getenv ("SHOAL_TEST_FILTER"))
        cmocka_set_test_filter (getenv ("SHOAL_TEST_FILTER"));
    return cmocka_run_group_tests (tests, NULL, NULL);
}
