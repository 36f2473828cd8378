/*  test_cluster_rekey.c - `shoal cluster rekey`: a node whose secret key
    was stolen gets a new one, keeps its store, and the old key is let in
    nowhere.

    A cluster of two real `shoal node` processes ($SHOAL_BIN, ipc://
    endpoints in the test's own directory) moves money between its
    nodes, stops, rekeys n2, and starts again on the new map: n2 takes
    its store over to the new key, the balances are as they were, a
    transfer across the nodes completes, and n1 refuses a link made with
    n2's old key (the thief's copy) even when it says HELLO with the new
    map's epoch and digest. The cluster file's previous_key is checked
    as cluster_load reads it. A map that places a shard otherwise at a new
    epoch (moved to the other node, or to a third node added with an
    empty store) is refused by every node's store, naming the placement
    each was made with; a store that kept none, by the records it holds. Every wait polls against a
   deadline.
*/
#include "cluster.h"
#include "cluster_test_client.h"
#include "harness.h"
#include "keys.h"
#include "proc.h"
#include "shard.h"

#include <czmq.h>
#include <leveldb/c.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define DEADLINE_MS 20000 //  for anything that must happen
#define NODES 2

typedef struct {
    char dir[128];           //  the test's own directory
    char cfg[192];           //  DIR/c/cluster.cfg
    cluster_t *cluster;      //  loaded from cfg
    pid_t node[NODES];       //  by index, 0: not running
    char account[NODES][64]; //  an account on each node
} fixture_t;

static void s_load (fixture_t *f)
{
    cluster_destroy (&f->cluster);
    char *error = NULL;
    f->cluster = cluster_load (f->cfg, &error);
    if (!f->cluster)
        fail_msg ("%s", error);
}

//  Starts node i; true once it is ready, false if it exits first (its
//  stderr is in DIR/NAME.log).
static bool s_try_start (fixture_t *f, int i)
{
    const char *name = cluster_node_name (f->cluster, i);
    char log[192];
    snprintf (log, sizeof log, "%s/%s.log", f->dir, name);
    char *argv[] = {getenv ("SHOAL_BIN"), "node", "--cluster", f->cfg, "--name",
                    (char *) name,        NULL};
    pid_t pid = proc_spawn_ready (argv, log, DEADLINE_MS);
    if (pid > 0)
        f->node[i] = pid;
    return pid > 0;
}

static void s_start (fixture_t *f, int i)
{
    if (!s_try_start (f, i))
        fail_msg ("node %s did not start: see %s/%s.log", cluster_node_name (f->cluster, i), f->dir,
                  cluster_node_name (f->cluster, i));
}

static void s_stop_all (fixture_t *f)
{
    for (int i = 0; i < NODES; i++)
        if (f->node[i]) {
            kill (f->node[i], SIGTERM);
            assert_int_equal (proc_wait_exit (f->node[i], DEADLINE_MS), 0);
            f->node[i] = 0;
        }
}

//  The text of DIR/name ("" if missing), at most size - 1 bytes.
static void s_read (const fixture_t *f, const char *name, char *text, size_t size)
{
    char path[256];
    snprintf (path, sizeof path, "%s/%s", f->dir, name);
    FILE *file = fopen (path, "r");
    size_t got = file ? fread (text, 1, size - 1, file) : 0;
    text[got] = '\0';
    if (file)
        fclose (file);
}

//  Waits until at least count lines of DIR/name hold needle (and also,
//  if not NULL, also).
static void s_wait_lines (const fixture_t *f, const char *name, const char *needle,
                          const char *also, int count)
{
    static char text[1 << 16];
    int64_t deadline = proc_now_ms () + DEADLINE_MS;
    while (true) {
        s_read (f, name, text, sizeof text);
        int seen = 0;
        for (char *line = text; line && *line;) {
            char *end = strchr (line, '\n');
            if (end)
                *end = '\0';
            seen += strstr (line, needle) && (!also || strstr (line, also));
            line = end ? end + 1 : NULL;
        }
        if (seen >= count)
            return;
        if (proc_now_ms () > deadline) {
            s_read (f, name, text, sizeof text);
            fail_msg ("%d lines, not %d, with '%s' in %s/%s: %s", seen, count, needle, f->dir, name,
                      text);
        }
        zclock_sleep (50); //  the poll interval of a deadline wait
    }
}

static void s_wait_log (const fixture_t *f, const char *name, const char *needle)
{
    s_wait_lines (f, name, needle, NULL, 1);
}

//  Waits for both nodes' links to each other to be up for the count-th
//  time (their logs are appended to across restarts).
static void s_wait_linked (const fixture_t *f, int count)
{
    s_wait_lines (f, "n1.log", "peer n2 (", ") is up", count);
    s_wait_lines (f, "n2.log", "peer n1 (", ") is up", count);
}

//  `shoal transfer --wait` of amount between the two accounts: completed.
static void s_transfer (fixture_t *f, int from, const char *amount)
{
    char out[512];
    int rc = proc_sh (out, sizeof out,
                      "\"$SHOAL_BIN\" transfer --cluster %s --wait --timeout %d %s %s %s 2>&1",
                      f->cfg, DEADLINE_MS, f->account[from], f->account[1 - from], amount);
    if (rc != 0 || !strstr (out, "completed"))
        fail_msg ("transfer exited %d: %s", rc, out);
}

//  Fails unless account i's balance is want.
static void s_balance_is (fixture_t *f, int i, const char *want)
{
    char out[512], needle[64];
    int rc =
        proc_sh (out, sizeof out, "\"$SHOAL_BIN\" get --cluster %s %s 2>&1", f->cfg, f->account[i]);
    snprintf (needle, sizeof needle, "\"balance\":%s,", want);
    if (rc != 0 || !strstr (out, needle))
        fail_msg ("get %s exited %d, expected %s: %s", f->account[i], rc, needle, out);
}

static int s_setup (void **state)
{
    fixture_t *f = calloc (1, sizeof (fixture_t));
    assert_non_null (f);
    harness_tempdir (f->dir, sizeof f->dir, "rk");
    snprintf (f->cfg, sizeof f->cfg, "%s/c/cluster.cfg", f->dir);
    *state = f;
    char out[4096];
    assert_int_equal (proc_sh (out, sizeof out,
                               "\"$SHOAL_BIN\" cluster init --nodes %d --dir %s/c --ipc "
                               "--shards 16 2>&1",
                               NODES, f->dir),
                      0);
    s_load (f);
    for (int i = 0; i < NODES; i++)
        cluster_client_address_on (f->cluster, "account/rk", i, NULL, f->account[i],
                                   sizeof f->account[i]);
    return 0;
}

static int s_teardown (void **state)
{
    fixture_t *f = *state;
    for (int i = 0; i < NODES; i++)
        proc_kill (&f->node[i]);
    cluster_destroy (&f->cluster);
    harness_rm_rf (f->dir);
    free (f);
    return 0;
}

//  A link to n1's peer endpoint with the certificate at cert_path, that
//  says HELLO as n2 with the map's own epoch and digest.
static zsock_t *s_link_as_n2 (fixture_t *f, const char *cert_path)
{
    zcert_t *cert = zcert_load (cert_path);
    assert_non_null (cert);
    zsock_t *peer = zsock_new (ZMQ_DEALER);
    assert_non_null (peer);
    zsock_set_linger (peer, 0);
    zcert_apply (cert, peer);
    zcert_destroy (&cert);
    zsock_set_curve_serverkey (peer, cluster_node_key (f->cluster, 0));
    assert_int_equal (zsock_connect (peer, "%s", cluster_node_peer (f->cluster, 0)), 0);
    char epoch[24];
    snprintf (epoch, sizeof epoch, "%lld", (long long) cluster_epoch (f->cluster));
    zsock_set_sndtimeo (peer, 0); //  queued until the handshake, which never ends
    zstr_sendx (peer, "HELLO", cluster_name (f->cluster), epoch, cluster_digest (f->cluster),
                cluster_node_name (f->cluster, 1), NULL);
    return peer;
}

//  --------------------------------------------------------------------------

static void test_rekey_keeps_the_store_and_drops_the_old_key (void **state)
{
    fixture_t *f = *state;
    char out[4096];
    s_start (f, 0);
    s_start (f, 1);
    s_wait_linked (f, 1);
    for (int i = 0; i < NODES; i++) {
        assert_int_equal (proc_sh (out, sizeof out,
                                   "\"$SHOAL_BIN\" send --cluster %s %s Open owner=o%d >/dev/null "
                                   "&& \"$SHOAL_BIN\" send --cluster %s %s Deposit amount=100 "
                                   ">/dev/null 2>&1",
                                   f->cfg, f->account[i], i, f->cfg, f->account[i]),
                          0);
    }
    s_transfer (f, 0, "30");
    s_stop_all (f);

    //  The thief's copy of n2's certificate, and the key it holds.
    assert_int_equal (proc_sh (NULL, 0,
                               "cp %s/c/n2/node.cert %s/old.cert && cp "
                               "%s/c/n2/node.cert_secret %s/old.cert_secret",
                               f->dir, f->dir, f->dir, f->dir),
                      0);
    char old_key[CLUSTER_KEY_SIZE + 1];
    snprintf (old_key, sizeof old_key, "%s", cluster_node_key (f->cluster, 1));
    char n1_key[CLUSTER_KEY_SIZE + 1];
    snprintf (n1_key, sizeof n1_key, "%s", cluster_node_key (f->cluster, 0));

    assert_int_equal (proc_sh (NULL, 0, "cp %s %s/c/old.cfg", f->cfg, f->dir), 0);
    assert_int_equal (
        proc_sh (out, sizeof out, "\"$SHOAL_BIN\" cluster rekey n2 --dir %s/c 2>&1", f->dir), 0);
    proc_assert_has (out, "rekeyed n2: public key ");
    proc_assert_has (out, "epoch 2");
    s_load (f);
    assert_int_equal (cluster_epoch (f->cluster), 2);
    assert_string_equal (cluster_node_previous_key (f->cluster, 1), old_key);
    assert_string_not_equal (cluster_node_key (f->cluster, 1), old_key);
    assert_string_equal (cluster_node_key (f->cluster, 0), n1_key); //  n1 keeps its key
    assert_string_equal (cluster_node_previous_key (f->cluster, 0), "");

    //  n2 takes its store over, and the books are as they were.
    s_start (f, 0);
    s_start (f, 1);
    s_wait_linked (f, 2);
    s_wait_log (f, "n2.log", "has a new key (`shoal cluster rekey`)");
    s_balance_is (f, 0, "70");
    s_balance_is (f, 1, "130");
    s_transfer (f, 1, "5"); //  the link between them is up, with the new key
    s_balance_is (f, 0, "75");
    s_balance_is (f, 1, "125");

    //  A client on the map before is told why n2 does not answer it.
    assert_int_equal (proc_sh (out, sizeof out,
                               "\"$SHOAL_BIN\" get --cluster %s/c/old.cfg --node n2 %s 2>&1",
                               f->dir, f->account[1]),
                      3);
    proc_assert_has (out, "node n2 ended every CURVE handshake");
    proc_assert_has (out, "`shoal cluster rekey`");
    assert_int_equal (proc_sh (out, sizeof out,
                               "\"$SHOAL_BIN\" cluster status --cluster %s/c/old.cfg 2>&1", f->dir),
                      3);
    proc_assert_has (out, "runs epoch 2, the file has 1");
    proc_assert_has (out, "its key is not the one the cluster file gives it");

    //  The old key is let in nowhere, though it says HELLO with the new
    //  map's epoch and digest: n1's ZAP handler refuses it, logged and
    //  counted, and nothing comes back on the link.
    char old_cert[192];
    snprintf (old_cert, sizeof old_cert, "%s/old.cert", f->dir);
    zsock_t *thief = s_link_as_n2 (f, old_cert);
    char refused[128];
    snprintf (refused, sizeof refused, "refused a peer connection from");
    s_wait_log (f, "n1.log", refused);
    s_wait_log (f, "n1.log", old_key);
    zsock_set_rcvtimeo (thief, 0);
    char *answer = zstr_recv (thief);
    assert_null (answer);
    zsock_destroy (&thief);
    //  n2's own new certificate is let in: the same link with it is welcomed.
    char new_cert[192];
    snprintf (new_cert, sizeof new_cert, "%s/c/n2/node.cert", f->dir);
    zsock_t *n2 = s_link_as_n2 (f, new_cert);
    zsock_set_rcvtimeo (n2, DEADLINE_MS);
    answer = zstr_recv (n2);
    assert_non_null (answer);
    assert_string_equal (answer, "WELCOME");
    zstr_free (&answer);
    zsock_destroy (&n2);

    //  A node started with the old certificate against the new map is
    //  refused before it opens anything.
    s_stop_all (f);
    assert_int_equal (proc_sh (NULL, 0,
                               "cp %s/old.cert %s/c/n2/node.cert && cp %s/old.cert_secret "
                               "%s/c/n2/node.cert_secret",
                               f->dir, f->dir, f->dir, f->dir),
                      0);
    assert_false (s_try_start (f, 1));
    s_wait_log (f, "n2.log", "is not the key that");
}

//  Puts key as previous_key in n2's section of the map, by hand.
static void s_set_previous (fixture_t *f, const char *key)
{
    static char text[1 << 16];
    s_read (f, "c/cluster.cfg", text, sizeof text);
    char *section = strstr (text, "    n2\n");
    char *line = section ? strstr (section, "previous_key = \"") : NULL;
    assert_non_null (line);
    line += strlen ("previous_key = \"");
    assert_int_equal (strlen (key), CLUSTER_KEY_SIZE);
    memcpy (line, key, CLUSTER_KEY_SIZE);
    FILE *file = fopen (f->cfg, "w");
    assert_non_null (file);
    fputs (text, file);
    fclose (file);
}

//  Rekeyed twice before it started: the store holds the key before the
//  previous one, and the node refuses it, saying what to do.
static void test_rekey_twice_before_a_start (void **state)
{
    fixture_t *f = *state;
    s_start (f, 1); //  n2 writes its key into its store
    s_stop_all (f);
    char first[CLUSTER_KEY_SIZE + 1];
    snprintf (first, sizeof first, "%s", cluster_node_key (f->cluster, 1));
    char out[4096];
    for (int round = 0; round < 2; round++)
        assert_int_equal (
            proc_sh (out, sizeof out, "\"$SHOAL_BIN\" cluster rekey n2 --dir %s/c 2>&1", f->dir),
            0);
    s_load (f);
    assert_int_equal (cluster_epoch (f->cluster), 3);
    assert_false (s_try_start (f, 1));
    s_wait_log (f, "n2.log",
                "If `shoal cluster rekey` ran twice for n2 before it started, put "
                "previous_key");
    s_wait_log (f, "n2.log", first);
    //  As the message says: its first key by hand, and the store is taken.
    s_set_previous (f, first);
    s_start (f, 1);
    s_wait_log (f, "n2.log", "has a new key (`shoal cluster rekey`)");
}

//  The map cannot be written (a directory where its temporary file goes):
//  the command fails saying the map is as it was, and says "rekeyed" of
//  no node; the same command run again rekeys, and the node's store is
//  taken over.
static void test_rekey_map_not_written (void **state)
{
    fixture_t *f = *state;
    s_start (f, 1);
    s_stop_all (f);
    char out[4096];
    assert_int_equal (proc_sh (NULL, 0, "mkdir %s.tmp", f->cfg), 0);
    assert_int_equal (
        proc_sh (out, sizeof out, "\"$SHOAL_BIN\" cluster rekey n2 --dir %s/c 2>&1", f->dir), 1);
    proc_assert_has (out, "is as it was; run the same command again");
    if (strstr (out, "rekeyed"))
        fail_msg ("said rekeyed of a map not written: %s", out);
    s_load (f);
    assert_int_equal (cluster_epoch (f->cluster), 1);
    assert_string_equal (cluster_node_previous_key (f->cluster, 1), "");
    assert_false (s_try_start (f, 1)); //  its new certificate, the old map
    s_wait_log (f, "n2.log", "is not the key that");
    assert_int_equal (proc_sh (NULL, 0, "rmdir %s.tmp", f->cfg), 0);
    assert_int_equal (
        proc_sh (out, sizeof out, "\"$SHOAL_BIN\" cluster rekey n2 --dir %s/c 2>&1", f->dir), 0);
    proc_assert_has (out, "rekeyed n2: public key ");
    s_load (f);
    assert_int_equal (cluster_epoch (f->cluster), 2);
    s_start (f, 1);
    s_wait_log (f, "n2.log", "has a new key (`shoal cluster rekey`)");
}

//  Writes DIR/bad.cfg: the map with its previous_key line's value made
//  value, the line given twice if twice. Returns cluster_load's error.
static char *s_load_edited (fixture_t *f, const char *value, bool twice)
{
    static char text[1 << 16];
    s_read (f, "c/cluster.cfg", text, sizeof text);
    char *line = strstr (text, "previous_key = \"");
    assert_non_null (line);
    char *end = strchr (line, '\n');
    assert_non_null (end);
    char path[256];
    snprintf (path, sizeof path, "%s/bad.cfg", f->dir);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fprintf (file, "%.*s", (int) (line - text), text);
    if (value)
        fprintf (file, "previous_key = \"%s\"", value);
    else
        fprintf (file, "%.*s", (int) (end - line), line);
    if (twice)
        fprintf (file, "\n        %.*s", (int) (end - line), line);
    fprintf (file, "%s", end);
    fclose (file);
    char *error = NULL;
    cluster_t *loaded = cluster_load (path, &error);
    if (loaded)
        fail_msg ("%s loaded", path);
    assert_non_null (error);
    return error;
}

//  previous_key as cluster_load reads it: a key, not the node's own, not
//  another node's, once.
static void test_previous_key_checked (void **state)
{
    fixture_t *f = *state;
    char out[4096];
    assert_int_equal (
        proc_sh (out, sizeof out, "\"$SHOAL_BIN\" cluster rekey n1 n2 --dir %s/c 2>&1", f->dir), 0);
    proc_assert_has (out, "rekeyed n1: ");
    proc_assert_has (out, "rekeyed n2: ");
    s_load (f);
    assert_int_equal (cluster_epoch (f->cluster), 2); //  one epoch for the two
    struct {
        const char *value;
        bool twice;
        const char *error;
    } cases[] = {
        {"short", false, "node n1: previous_key: 'short' is not a key"},
        {cluster_node_key (f->cluster, 0), false, "node n1: previous_key: is its public_key"},
        {cluster_node_key (f->cluster, 1), false, "node n1: previous_key: is node n2's key"},
        {cluster_node_previous_key (f->cluster, 1), false,
         "node n2: previous_key: is also node n1's"},
        {NULL, true, "node n1: previous_key: given twice"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char *error = s_load_edited (f, cases[c].value, cases[c].twice);
        if (!strstr (error, cases[c].error))
            fail_msg ("case %zu: expected '%s' in: %s", c, cases[c].error, error);
        free (error);
    }
}

//  --------------------------------------------------------------------------
//  A map that moves a shard between nodes is refused by both stores.

//  Rewrites the cluster file at the next epoch with the shard of address
//  moved to the other node, as an operator editing it by hand would.
static void s_move_shard (fixture_t *f, const char *address)
{
    uint32_t moved = shoal_shard (address, cluster_shards (f->cluster));
    zconfig_t *root = zconfig_load (f->cfg);
    assert_non_null (root);
    char epoch[24];
    snprintf (epoch, sizeof epoch, "%lld", (long long) cluster_epoch (f->cluster) + 1);
    zconfig_put (root, "cluster/epoch", epoch);
    for (int i = 0; i < NODES; i++) {
        char list[256] = "", path[64];
        size_t used = 0;
        for (uint32_t shard = 0; shard < cluster_shards (f->cluster); shard++) {
            int owner = cluster_owner (f->cluster, shard);
            if (shard == moved)
                owner = 1 - owner;
            if (owner == i)
                used += (size_t) snprintf (list + used, sizeof list - used, "%s%u", used ? "," : "",
                                           shard);
        }
        snprintf (path, sizeof path, "node/%s/shards", cluster_node_name (f->cluster, i));
        zconfig_put (root, path, list);
    }
    assert_int_equal (zconfig_save (root, f->cfg), 0);
    zconfig_destroy (&root);
}

//  Writes placement as the one a stopped node's store at data keeps, or
//  deletes it (NULL), as a store made before it kept one.
static void s_set_placement (const char *data, const char *placement)
{
    leveldb_options_t *options = leveldb_options_create ();
    char *err = NULL;
    leveldb_t *db = leveldb_open (options, data, &err);
    if (!db)
        fail_msg ("%s: %s", data, err);
    uint8_t key[1 + KEYS_META_NAME_MAX];
    size_t len = keys_meta_key (key, "owner_shards");
    assert_true (len > 0);
    leveldb_writeoptions_t *write = leveldb_writeoptions_create ();
    leveldb_writeoptions_set_sync (write, 1);
    if (placement)
        leveldb_put (db, write, (const char *) key, len, placement, strlen (placement), &err);
    else
        leveldb_delete (db, write, (const char *) key, len, &err);
    assert_null (err);
    leveldb_writeoptions_destroy (write);
    leveldb_close (db);
    leveldb_options_destroy (options);
}

//  The placement the stores keep ("n1=...;n2=..."), from the loaded map.
static void s_placement (fixture_t *f, char *text, size_t size)
{
    char *ranges[NODES];
    for (int i = 0; i < NODES; i++) {
        ranges[i] = cluster_node_ranges (f->cluster, i);
        assert_non_null (ranges[i]);
    }
    snprintf (text, size, "n1=%s;n2=%s", ranges[0], ranges[1]);
    for (int i = 0; i < NODES; i++)
        free (ranges[i]);
}

//  Rewrites the cluster file at the next epoch with a third node, n3,
//  that takes the shard of address from n2: n1's own shards stay.
static void s_add_node (fixture_t *f, const char *address)
{
    uint32_t moved = shoal_shard (address, cluster_shards (f->cluster));
    assert_int_equal (cluster_owner (f->cluster, moved), 1);
    zconfig_t *root = zconfig_load (f->cfg);
    assert_non_null (root);
    char value[256], path[256];
    snprintf (value, sizeof value, "%lld", (long long) cluster_epoch (f->cluster) + 1);
    zconfig_put (root, "cluster/epoch", value);
    size_t used = 0;
    value[0] = 0;
    for (uint32_t shard = 0; shard < cluster_shards (f->cluster); shard++)
        if (shard != moved && cluster_owner (f->cluster, shard) == 1)
            used += (size_t) snprintf (value + used, sizeof value - used, "%s%u", used ? "," : "",
                                       shard);
    zconfig_put (root, "node/n2/shards", value);
    zcert_t *cert = zcert_new ();
    assert_non_null (cert);
    zconfig_put (root, "node/n3/public_key", zcert_public_txt (cert));
    snprintf (path, sizeof path, "%s/c/n3", f->dir);
    assert_int_equal (zsys_dir_create ("%s/clients", path), 0);
    snprintf (path, sizeof path, "%s/c/n3/node.cert", f->dir);
    assert_int_equal (zcert_save (cert, path), 0);
    zcert_destroy (&cert);
    const char *kinds[] = {"client", "peer"};
    for (int k = 0; k < 2; k++) {
        snprintf (path, sizeof path, "node/n3/%s", kinds[k]);
        snprintf (value, sizeof value, "ipc://%s/n3-%s.ipc", f->dir, kinds[k]);
        zconfig_put (root, path, value);
    }
    snprintf (value, sizeof value, "%u", moved);
    zconfig_put (root, "node/n3/shards", value);
    assert_int_equal (zconfig_save (root, f->cfg), 0);
    zconfig_destroy (&root);
}

//  Starts both nodes, opens account i (with a deposit of 100 if deposit),
//  stops them, keeps the map as CFG.orig and its placement in placed.
static void s_open_and_stop (fixture_t *f, int i, bool deposit, char *placed, size_t size)
{
    s_start (f, 0);
    s_start (f, 1);
    s_wait_linked (f, 1);
    char out[4096];
    assert_int_equal (proc_sh (out, sizeof out,
                               "\"$SHOAL_BIN\" send --cluster %s %s Open owner=o >/dev/null && "
                               "{ %s || \"$SHOAL_BIN\" send --cluster %s %s Deposit amount=100 "
                               ">/dev/null; } 2>&1",
                               f->cfg, f->account[i], deposit ? "false" : "true", f->cfg,
                               f->account[i]),
                      0);
    s_stop_all (f);
    assert_int_equal (proc_sh (NULL, 0, "cp %s %s.orig", f->cfg, f->cfg), 0);
    s_placement (f, placed, size);
}

//  Both nodes refuse the map now in CFG, each naming placed, the
//  placement its store was made with.
static void s_both_refuse (fixture_t *f, const char *placed)
{
    s_load (f);
    assert_false (s_try_start (f, 0));
    assert_false (s_try_start (f, 1));
    char needle[320];
    snprintf (needle, sizeof needle, "was made under a map that placed the shards so: %s; ",
              placed);
    s_wait_log (f, "n1.log", needle);
    s_wait_log (f, "n2.log", needle);
}

//  Back on the map kept as CFG.orig: both nodes start, and account i is
//  served with balance want.
static void s_back_and_served (fixture_t *f, int i, const char *want)
{
    assert_int_equal (proc_sh (NULL, 0, "cp %s.orig %s", f->cfg, f->cfg), 0);
    s_load (f);
    s_start (f, 0);
    s_start (f, 1);
    s_wait_linked (f, 2);
    s_balance_is (f, i, want);
}

static void test_shard_moved_refused (void **state)
{
    fixture_t *f = *state;
    char placed[256];
    s_open_and_stop (f, 0, true, placed, sizeof placed);
    s_move_shard (f, f->account[0]);
    //  n1 would leave the account's records unserved, n2 serve it without
    //  them (an account opened twice, two books): each refuses, naming
    //  the shards its store was made with.
    s_both_refuse (f, placed);
    s_wait_log (f, "n2.log", "shoal moves no shard's records between nodes");
    s_wait_log (f, "n2.log", "nothing was changed");
    //  As the message says: the map the stores were made with, and the
    //  account is served with its balance.
    s_back_and_served (f, 0, "100");
}

//  A third node added to take a shard of n2, its store new and empty: n1,
//  whose own shards did not change, refuses the map too, as n2 does, and
//  n3 refuses to make a store past epoch 1, so that the cluster does not
//  serve the shard empty on n3 while its records are on n2. And a store
//  that kept no placement (made before it did), holding the records of a
//  shard the map now gives another node, is refused naming that shard.
static void test_shard_taken_by_a_new_node (void **state)
{
    fixture_t *f = *state;
    char placed[256];
    s_open_and_stop (f, 1, false, placed, sizeof placed);
    s_add_node (f, f->account[1]);
    s_both_refuse (f, placed);
    //  n3 itself, its store new under a map past epoch 1, is refused: it
    //  would serve the shard empty until n1 and n2 restarted and refused.
    //  With --new-store (a node that never ran) it is let start.
    char log[192];
    snprintf (log, sizeof log, "%s/n3.log", f->dir);
    char *n3[] = {getenv ("SHOAL_BIN"), "node", "--cluster", f->cfg, "--name", "n3", NULL, NULL};
    pid_t pid = proc_spawn_ready (n3, log, DEADLINE_MS);
    if (pid > 0) { //  not left running past the test
        proc_kill (&pid);
        fail_msg ("n3 started on a new store under a map of epoch 2");
    }
    s_wait_log (f, "n3.log", "and shoal moves no shard's records from another node");
    s_wait_log (f, "n3.log", "start it once with --new-store; nothing was kept");
    n3[6] = "--new-store";
    pid = proc_spawn_ready (n3, log, DEADLINE_MS);
    assert_true (pid > 0);
    kill (pid, SIGTERM);
    assert_int_equal (proc_wait_exit (pid, DEADLINE_MS), 0);
    //  n2's store as one made before the placement was kept: it holds
    //  the account of the shard the map gives n3.
    char data[256];
    snprintf (data, sizeof data, "%s/c/n2/data", f->dir);
    s_set_placement (data, NULL);
    assert_false (s_try_start (f, 1));
    char needle[128];
    snprintf (needle, sizeof needle, "holds records of shard %u, which ",
              shoal_shard (f->account[1], cluster_shards (f->cluster)));
    s_wait_log (f, "n2.log", needle);
    s_wait_log (f, "n2.log", "gives node n3: it was served under a map that placed the shards");
    //  Under its own map it takes the placement again, and serves.
    s_back_and_served (f, 1, "0");
}

//  A refusal names the first shard placed otherwise and how many are
//  (it gave the two placements whole: pages for a map of 65,536 shards),
//  and gives the placements whole only when they are short.
static void test_placement_refusal_names_the_shard (void **state)
{
    fixture_t *f = *state;
    char placed[256];
    s_open_and_stop (f, 0, false, placed, sizeof placed);
    //  The even shards n1's, the odd ones n2's: short, said whole.
    char stored[2048] = "n1=";
    uint32_t shards = cluster_shards (f->cluster), first = UINT32_MAX, moved = 0;
    for (int node = 0; node < 2; node++)
        for (uint32_t shard = (uint32_t) node; shard < shards; shard += 2) {
            size_t used = strlen (stored);
            snprintf (stored + used, sizeof stored - used, "%s%u",
                      stored[used - 1] == '=' ? "" : ",", shard);
            if (node == 0 && shard + 2 >= shards)
                strcat (stored, ";n2=");
            if (strcmp (cluster_node_name (f->cluster, cluster_owner (f->cluster, shard)),
                        node ? "n2" : "n1") != 0) {
                first = shard < first ? shard : first;
                moved++;
            }
        }
    assert_true (moved > 1);
    char data[256], said[256];
    snprintf (data, sizeof data, "%s/c/n1/data", f->dir);
    s_set_placement (data, stored);
    assert_false (s_try_start (f, 0));
    snprintf (said, sizeof said, "placed the shards so: %s; ", stored);
    s_wait_log (f, "n1.log", said);
    snprintf (said, sizeof said,
              "(shard %u was node %s's and is node %s's; %u shards differ in all)", first,
              first % 2 ? "n2" : "n1", first % 2 ? "n1" : "n2", moved);
    s_wait_log (f, "n1.log", said);
    //  With a node of shards past the map's (a map of more shards once):
    //  too long to say whole, the same shard named.
    size_t used = strlen (stored);
    used += (size_t) snprintf (stored + used, sizeof stored - used, ";n9=%u", shards);
    for (uint32_t shard = shards + 1; shard < shards + 200; shard++)
        used += (size_t) snprintf (stored + used, sizeof stored - used, ",%u", shard);
    assert_true (used > 400 && used < sizeof stored - 1);
    s_set_placement (data, stored);
    assert_int_equal (proc_sh (NULL, 0, "rm -f %s/n1.log", f->dir), 0);
    assert_false (s_try_start (f, 0));
    s_wait_log (f, "n1.log", "was made under a map that placed the shards otherwise than ");
    s_wait_log (f, "n1.log", said);
    assert_int_equal (proc_sh (NULL, 0, "test $(wc -c < %s/n1.log) -lt 4000", f->dir), 0);
    //  Its own placement back: it serves.
    s_set_placement (data, placed);
    s_start (f, 0);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_rekey_keeps_the_store_and_drops_the_old_key, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_rekey_twice_before_a_start, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_rekey_map_not_written, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_previous_key_checked, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_shard_moved_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_shard_taken_by_a_new_node, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_placement_refusal_names_the_shard, s_setup,
                                         s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
