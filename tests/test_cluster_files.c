/*  test_cluster_files.c - the cluster map's files: bad and damaged ones, `shoal
    cluster init`, the secret's mode and certificate pairs. The fixture:
    cluster_test_util.h.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cluster.h"
#include "harness.h"
#include <czmq.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster_test_util.h"

//  Fails unless loading path fails with an error "PATH: ..." that contains
//  expect.
static void s_refused (const char *path, const char *expect, const char *what)
{
    char *error = NULL;
    cluster_t *cluster = cluster_load (path, &error);
    if (cluster)
        fail_msg ("%s: loaded", what);
    if (!error)
        fail_msg ("%s: no error message", what);
    if (strncmp (error, path, strlen (path)) != 0 || strncmp (error + strlen (path), ": ", 2))
        fail_msg ("%s: '%s' does not start with the file", what, error);
    if (!strstr (error, expect))
        fail_msg ("%s: '%s' does not say '%s'", what, error, expect);
    free (error);
}

//  --------------------------------------------------------------------------
//  Bad files

typedef struct {
    const char *what;
    const char *old; //  replaced in cluster_good by
    const char *new;
    const char *expect; //  in the error
} bad_t;

static const bad_t s_bad[] = {
    {"a shard owned twice", "shards = 6-10", "shards = 5-10",
     "node n2: shards: 5 is also owned by n1"},
    {"a shard nobody owns", "shards = 11,12-13,14-15", "shards = 11,12-13,14",
     "no node owns shard 15"},
    {"shards missing", "shards = 0-5", "shards = ", "no node owns shard 0 and others (6 of 16"},
    {"no shards key", "        shards = 6-10\n", "", "node n2: missing shards"},
    {"a shard listed twice", "11,12-13", "11,11-13", "node n3: shards: 11 is listed twice"},
    {"a shard out of range", "14-15", "14-16", "node n3: shards: 16 is out of range (0-15)"},
    {"a huge shard", "14-15", "14-99999999999999999999999",
     "99999999999999999999999 is out of range"},
    {"a backwards range", "shards = 6-10", "shards = 10-6",
     "node n2: shards: range 10-6 is backwards"},
    {"a bad shard list", "shards = 6-10", "shards = 6-", "node n2: shards: '6-' is not a list"},
    {"a trailing comma", "shards = 6-10", "shards = 6-10,", "node n2: shards: '6-10,' is not"},
    {"spaces in a list", "shards = 6-10", "shards = 6 - 10", "node n2: shards: '6 - 10' is not"},
    {"a short key", K1, "Oc{kqOK^?FfGrzAJk[&(G^(7m)^JNVXOTP0D%U[",
     "node n1: public_key: 'Oc{kqOK^?FfGrzAJk[&(G^(7m)^JNVXOTP0D%U[' is not a key"},
    {"a key not in Z85", K1, "Oc{kqOK^?FfGrzAJk[&(G^(7m)^JNVXOTP0D%U[,", "node n1: public_key"},
    {"an unquoted key with '#'", "\"" K2 "\"", K2, "node n2: public_key: 'g6^*y.' is not a key"},
    {"a key missing", "        public_key = '" K3 "'\n", "", "node n3: missing public_key"},
    {"a key twice", "'" K3 "'", "'" K1 "'", "node n3: public_key: is also node n1's key"},
    {"a node name twice", "    n3\n", "    n1\n", "node n1: given twice"},
    {"a bad node name", "    n3\n", "    N3\n", "node 'N3': not a node name"},
    {"an endpoint twice", "ipc://n3.ipc", "tcp://127.0.0.1:7701",
     "node n3: client: tcp://127.0.0.1:7701 is also node n1's peer endpoint"},
    {"a bad endpoint", "ipc://n3.ipc", "http://n3",
     "node n3: client: 'http://n3' is not an endpoint"},
    {"an empty endpoint", "ipc://n3.ipc", "", "node n3: missing client"},
    {"a port past 65535", "tcp://127.0.0.1:7703", "tcp://127.0.0.1:70000",
     "node n2: peer: 'tcp://127.0.0.1:70000' is not an endpoint: its port is not a number from 1 "
     "to 65535"},
    {"port 0", "tcp://127.0.0.1:7702", "tcp://127.0.0.1:0",
     "node n2: client: 'tcp://127.0.0.1:0' is not an endpoint: its port"},
    {"no port", "tcp://127.0.0.1:7702", "tcp://127.0.0.1",
     "node n2: client: "
     "'tcp://127.0.0.1' is not an endpoint: "
     "no port"},
    {"a key given twice", "        shards = 0-5\n",
     "        shards = 0-5\n        peer = tcp://x:1\n", "node n1: peer: given twice"},
    {"an unknown node key", "        shards = 0-5\n", "        shards = 0-5\n        pubkey = x\n",
     "node n1: unknown key 'pubkey'"},
    {"a section for a value", "        shards = 0-5\n", "        shards = 0-5\n            x = 1\n",
     "node n1: shards: a value, not a section"},
    {"shards of the cluster zero", "shards = 16", "shards = 0",
     "cluster: shards: '0' is not a number from 1 to 65536"},
    {"shards of the cluster too many", "shards = 16", "shards = 65537", "cluster: shards: '65537'"},
    {"an epoch of zero", "epoch = 1", "epoch = 0", "cluster: epoch: '0' is not a number"},
    {"a negative epoch", "epoch = 1", "epoch = -1", "cluster: epoch: '-1'"},
    {"an epoch too big", "epoch = 1", "epoch = 9223372036854775808", "cluster: epoch"},
    {"no epoch", "    epoch = 1\n", "", "cluster: missing epoch"},
    {"a bad cluster name", "name = bank", "name = Bank", "cluster: name: 'Bank' is not a name"},
    {"an unknown cluster key", "epoch = 1", "epoch = 1\n    color = red", "unknown key 'color'"},
    {"an unknown section", "cluster\n", "clusters\n", "unknown section 'clusters'"},
    {"no cluster section", "cluster\n    name = bank\n    shards = 16\n    epoch = 1\n", "",
     "missing the cluster section"},
    {"a second section", "node\n", "node\nnode2\n", "unknown section 'node2'"},
    {"a node section twice", "    n3\n", "node\n    n3\n", "section 'node' given twice"},
    {"indent of 3", "    n2\n", "   n2\n", "line 12: indent by 4 spaces at a time"},
    {"indent too deep", "    n1\n", "        n1\n", "line 7: indented deeper than"},
    {"a tab", "    n2\n", "\tn2\n", "line 12: expected 'name'"},
    {"junk after a name", "    n2\n", "    n2 junk\n", "line 12: expected 'name'"},
    {"an unclosed quote", "'" K3 "'", "'" K3, "line 20: a quoted value is not closed"},
    {"junk after a quote", "'" K3 "'", "'" K3 "' x", "line 20: expected 'name'"},
    {"a slash name", "    n2\n", "    n2/\n", "line 12: a name may not start or end with '/'"},
    {"not ASCII", "# a hand-written map", "# caf\xc3\xa9", "line 1: byte 0xc3 is not printable"},
};

static void test_bad_files (void **state)
{
    fixture_t *f = *state;
    for (size_t i = 0; i < sizeof s_bad / sizeof s_bad[0]; i++) {
        char *text = cluster_replace (cluster_good, s_bad[i].old, s_bad[i].new);
        cluster_write (f->path, text, strlen (text));
        free (text);
        s_refused (f->path, s_bad[i].expect, s_bad[i].what);
    }
    const char *nodeless = "cluster\n    name = bank\n    shards = 16\n    epoch = 1\nnode\n";
    cluster_write (f->path, nodeless, strlen (nodeless));
    s_refused (f->path, "node: no nodes", "no nodes");
    cluster_write (f->path, "", 0);
    s_refused (f->path, "missing the cluster section", "an empty file");
    cluster_write (f->path, "cluster\n\0", 9);
    s_refused (f->path, "line 2: byte 0x00 is not printable ASCII", "a NUL byte");

    //  A line longer than zconfig reads.
    char *line = malloc (2000);
    assert_non_null (line);
    memset (line, '0', 1999);
    line[1999] = 0;
    memcpy (line, "        shards = ", 17);
    char *text = cluster_replace (cluster_good, "        shards = 0-5", line);
    cluster_write (f->path, text, strlen (text));
    s_refused (f->path, "line 11: longer than 1000 bytes", "a long line");
    free (text);
    free (line);

    char missing[160];
    snprintf (missing, sizeof missing, "%s/nothing.cfg", f->dir);
    s_refused (missing, "cannot open: No such file or directory", "no file");
    s_refused (f->dir, "not a regular file", "a directory");
    cluster_t *cluster = cluster_load (missing, NULL); //  error may be NULL
    assert_null (cluster);

    //  65 nodes.
    zchunk_t *chunk = zchunk_new (NULL, 0);
    char *head = zsys_sprintf ("cluster\n    name = big\n    shards = 65\n    epoch = 7\nnode\n");
    zchunk_extend (chunk, head, strlen (head));
    zstr_free (&head);
    for (int i = 0; i < 65; i++) {
        char key[41];
        cluster_key (key);
        char *node = zsys_sprintf ("    n%d\n        client = ipc://c%d\n        peer = ipc://p%d\n"
                                   "        public_key = \"%s\"\n        shards = %d\n",
                                   i, i, i, key, i);
        zchunk_extend (chunk, node, strlen (node));
        zstr_free (&node);
    }
    cluster_write (f->path, (const char *) zchunk_data (chunk), zchunk_size (chunk));
    s_refused (f->path, "node n64: more than 64 nodes", "65 nodes");
    zchunk_destroy (&chunk);
}

//  Random damage to a good file is loaded or refused with a message, never
//  a crash, and never reaches zconfig's parser with a line it refuses.
static void test_damage (void **state)
{
    fixture_t *f = *state;
    size_t size = strlen (cluster_good);
    char *text = malloc (size + 1);
    assert_non_null (text);
    harness_rand_seed (42);
    int loaded = 0;
    for (int round = 0; round < 3000; round++) {
        memcpy (text, cluster_good, size + 1);
        size_t length = size;
        int changes = 1 + (int) (harness_rand () % 3);
        for (int c = 0; c < changes; c++) {
            size_t at = (size_t) (harness_rand () % length);
            switch (harness_rand () % 4) {
            case 0:
                text[at] = " \n=\"'#-,0a\t/"[harness_rand () % 12];
                break;
            case 1:
                text[at] = (char) harness_rand ();
                break;
            case 2:
                memmove (text + at, text + at + 1, length - at);
                length--;
                break;
            default:
                length = at + 1;
                break;
            }
        }
        cluster_write (f->path, text, length);
        char *error = NULL;
        cluster_t *cluster = cluster_load (f->path, &error);
        if (cluster) {
            loaded++;
            assert_null (error);
            cluster_destroy (&cluster);
        } else {
            assert_non_null (error);
            if (strstr (error, "not valid ZPL"))
                fail_msg ("zconfig refused what the line check let through: %.*s", (int) length,
                          text);
            free (error);
        }
    }
    assert_true (loaded > 0);
    free (text);
}

//  --------------------------------------------------------------------------
//  `shoal cluster init`, the real binary

//  Runs $SHOAL_BIN with args (NULL-terminated), its output into out.
//  Returns its exit code.
static int s_run (const char *out, ...)
{
    const char *bin = getenv ("SHOAL_BIN");
    char *argv[32] = {(char *) bin};
    int argc = 1;
    va_list args;
    va_start (args, out);
    char *arg;
    while ((arg = va_arg (args, char *)) && argc < 31)
        argv[argc++] = arg;
    va_end (args);
    argv[argc] = NULL;
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        if (!freopen (out, "w", stdout) || dup2 (fileno (stdout), 2) < 0)
            _exit (127);
        execv (bin, argv);
        _exit (127);
    }
    int status;
    assert_int_equal (waitpid (pid, &status, 0), pid);
    assert_true (WIFEXITED (status));
    return WEXITSTATUS (status);
}

static void s_assert_mode (const char *path, mode_t mode)
{
    struct stat info;
    if (stat (path, &info) != 0)
        fail_msg ("%s is missing", path);
    if ((info.st_mode & 0777) != mode)
        fail_msg ("%s has mode %o, not %o", path, info.st_mode & 0777, mode);
}

static bool s_contains (const char *path, const char *text)
{
    char *all = cluster_slurp (path);
    bool found = strstr (all, text) != NULL;
    free (all);
    return found;
}

static void test_init_command (void **state)
{
    fixture_t *f = *state;
    if (!getenv ("SHOAL_BIN"))
        skip ();
    char dir[128], out[128], path[192];
    snprintf (dir, sizeof dir, "%s/cluster", f->dir);
    snprintf (out, sizeof out, "%s/out.txt", f->dir);
    assert_int_equal (s_run (out, "cluster", "init", "--nodes", "3", "--dir", dir, NULL), 0);
    assert_true (s_contains (out, "n1 "));
    assert_true (s_contains (out, " shards "));

    snprintf (path, sizeof path, "%s/cluster.cfg", dir);
    cluster_t *cluster = cluster_test_load (path);
    assert_int_equal (cluster_node_count (cluster), 3);
    assert_int_equal (cluster_shards (cluster), 256);
    assert_string_equal (cluster_name (cluster), "shoal");
    assert_string_equal (cluster_node_client (cluster, 0), "tcp://127.0.0.1:7700");
    snprintf (path, sizeof path, "%s/client.cert", dir);
    zcert_t *client = zcert_load (path);
    assert_non_null (client);
    s_assert_mode (path, 0644);
    snprintf (path, sizeof path, "%s/client.cert_secret", dir);
    s_assert_mode (path, 0600);
    for (int i = 0; i < 3; i++) {
        const char *name = cluster_node_name (cluster, i);
        snprintf (path, sizeof path, "%s/%s/node.cert_secret", dir, name);
        s_assert_mode (path, 0600);
        snprintf (path, sizeof path, "%s/%s/node.cert", dir, name);
        zcert_t *cert = zcert_load (path);
        assert_non_null (cert);
        assert_string_equal (zcert_public_txt (cert), cluster_node_key (cluster, i));
        assert_string_not_equal (zcert_secret_txt (cert),
                                 "0000000000000000000000000000000000000000");
        zcert_destroy (&cert);
        //  What the node's zcertstores will load: the client's public key
        //  among its operators', none among its clients' (an
        //  application's certificates go there).
        snprintf (path, sizeof path, "%s/%s/operators", dir, name);
        zcertstore_t *store = zcertstore_new (path);
        assert_non_null (store);
        assert_non_null (zcertstore_lookup (store, zcert_public_txt (client)));
        zcertstore_destroy (&store);
        snprintf (path, sizeof path, "%s/%s/clients", dir, name);
        store = zcertstore_new (path);
        assert_non_null (store);
        assert_null (zcertstore_lookup (store, zcert_public_txt (client)));
        zcertstore_destroy (&store);
    }
    char digest[41];
    snprintf (digest, sizeof digest, "%s", cluster_digest (cluster));
    cluster_destroy (&cluster);

    //  Not again without --force; with it, new keys.
    assert_int_equal (s_run (out, "cluster", "init", "--nodes", "3", "--dir", dir, NULL), 1);
    assert_true (s_contains (out, "--force"));
    snprintf (path, sizeof path, "%s/cluster.cfg", dir);
    cluster = cluster_test_load (path);
    assert_string_equal (cluster_digest (cluster), digest);
    cluster_destroy (&cluster);
    //  As an init before operators/ left it: the client's key in clients/
    //  (and an application's beside it). --force takes the old key out
    //  there, or the key rotated out would still be let in.
    char app[PATH_MAX];
    for (int i = 1; i <= 3; i++) {
        snprintf (path, sizeof path, "%s/n%d/clients/client.cert", dir, i);
        assert_int_equal (zcert_save_public (client, path), 0);
    }
    snprintf (app, sizeof app, "%s/n1/clients/app.cert", dir);
    zcert_t *application = zcert_new ();
    assert_int_equal (zcert_save_public (application, app), 0);
    zcert_destroy (&application);
    snprintf (path, sizeof path, "%s/cluster.cfg", dir);
    assert_int_equal (s_run (out, "cluster", "init", "--nodes", "3", "--dir", dir, "--force",
                             "--shards", "64", "--name", "bank", NULL),
                      0);
    assert_true (s_contains (out, "the client key this init replaced"));
    for (int i = 1; i <= 3; i++) {
        snprintf (path, sizeof path, "%s/n%d/clients/client.cert", dir, i);
        assert_int_not_equal (access (path, F_OK), 0);
    }
    assert_int_equal (access (app, F_OK), 0);
    snprintf (path, sizeof path, "%s/cluster.cfg", dir);
    cluster = cluster_test_load (path);
    assert_string_not_equal (cluster_digest (cluster), digest);
    assert_int_equal (cluster_shards (cluster), 64);
    assert_string_equal (cluster_name (cluster), "bank");
    cluster_destroy (&cluster);
    zcert_destroy (&client);
    snprintf (path, sizeof path, "%s/n1/node.cert_secret", dir);
    s_assert_mode (path, 0600);

    //  --force with two nodes on one address (--hosts) is refused before
    //  it writes: the cluster is as it was. It took the old map and every
    //  key away, and then failed on the map.
    snprintf (path, sizeof path, "%s/cluster.cfg", dir);
    cluster = cluster_test_load (path);
    char kept[64];
    snprintf (kept, sizeof kept, "%s", cluster_digest (cluster));
    cluster_destroy (&cluster);
    assert_int_equal (s_run (out, "cluster", "init", "--nodes", "3", "--dir", dir, "--force",
                             "--hosts", "10.0.0.1,10.0.0.1,10.0.0.2", NULL),
                      2);
    assert_true (s_contains (out, "node n2: client: tcp://10.0.0.1:7700 is also node n1's"));
    assert_true (s_contains (out, "nothing was written"));
    cluster = cluster_test_load (path);
    assert_string_equal (cluster_digest (cluster), kept);
    cluster_destroy (&cluster);
    const char *files[] = {"client.cert_secret", "n1/node.cert_secret", "n3/operators/client.cert"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf (path, sizeof path, "%s/%s", dir, files[i]);
        assert_int_equal (access (path, F_OK), 0);
    }
    //  --force that fails once it has written (DIR/n4 a file, so n4 cannot
    //  be made after client.cert and n1 to n3 were): the old cluster is
    //  put back, every file as it was, none kept aside left.
    snprintf (path, sizeof path, "%s/n1/node.cert_secret", dir);
    char *secret = cluster_slurp (path);
    snprintf (path, sizeof path, "%s/n4", dir);
    cluster_write (path, "x", 1);
    assert_int_equal (s_run (out, "cluster", "init", "--nodes", "4", "--dir", dir, "--force", NULL),
                      1);
    assert_true (s_contains (out, "cannot create directory"));
    assert_true (s_contains (out, "the cluster that was in"));
    snprintf (path, sizeof path, "%s/cluster.cfg", dir);
    cluster = cluster_test_load (path);
    assert_string_equal (cluster_digest (cluster), kept);
    cluster_destroy (&cluster);
    snprintf (path, sizeof path, "%s/n1/node.cert_secret", dir);
    char *again = cluster_slurp (path);
    assert_string_equal (again, secret);
    free (again);
    free (secret);
    snprintf (path, sizeof path, "%s/n1/node.cert_secret.force-old", dir);
    assert_int_not_equal (access (path, F_OK), 0);
    snprintf (path, sizeof path, "%s/n4", dir);
    assert_int_equal (unlink (path), 0);
    //  The same failing before n2 and n3 were written (n2/clients a file):
    //  their files had kept a second name, NAME.force-old, for good.
    snprintf (path, sizeof path, "%s/n2/clients", dir);
    assert_int_equal (rmdir (path), 0);
    cluster_write (path, "x", 1);
    assert_int_equal (s_run (out, "cluster", "init", "--nodes", "3", "--dir", dir, "--force", NULL),
                      1);
    assert_true (s_contains (out, "the cluster that was in"));
    assert_int_equal (unlink (path), 0);
    assert_int_equal (mkdir (path, 0755), 0);
    const char *asides[] = {"cluster.cfg",         "client.cert",  "n1/node.cert",
                            "n2/node.cert_secret", "n3/node.cert", "n3/operators/client.cert"};
    for (size_t i = 0; i < sizeof asides / sizeof asides[0]; i++) {
        snprintf (path, sizeof path, "%s/%s.force-old", dir, asides[i]);
        if (access (path, F_OK) == 0)
            fail_msg ("a failed init --force left %s", path);
    }
    snprintf (path, sizeof path, "%s/cluster.cfg", dir);
    cluster = cluster_test_load (path);
    assert_string_equal (cluster_digest (cluster), kept);
    cluster_destroy (&cluster);
    //  One left by an init cut short may be the only copy: refused.
    snprintf (path, sizeof path, "%s/client.cert.force-old", dir);
    cluster_write (path, "x", 1);
    assert_int_equal (s_run (out, "cluster", "init", "--nodes", "3", "--dir", dir, "--force", NULL),
                      1);
    assert_true (s_contains (out, "client.cert.force-old is there: an init --force was cut short"));
    assert_int_equal (unlink (path), 0);
    snprintf (path, sizeof path, "%s/cluster.cfg", dir);
    cluster = cluster_test_load (path);
    assert_string_equal (cluster_digest (cluster), kept);
    cluster_destroy (&cluster);

    //  A failed init leaves nothing of its own: here DIR/n2 is a file, so
    //  n2/clients cannot be made after client.cert and n1's files were
    //  written (they were left behind).
    snprintf (dir, sizeof dir, "%s/partial", f->dir);
    assert_int_equal (mkdir (dir, 0755), 0);
    snprintf (path, sizeof path, "%s/n2", dir);
    cluster_write (path, "x", 1);
    assert_int_equal (s_run (out, "cluster", "init", "--nodes", "3", "--dir", dir, NULL), 1);
    assert_true (s_contains (out, "cannot create directory"));
    DIR *left = opendir (dir);
    assert_non_null (left);
    for (struct dirent *entry; (entry = readdir (left));)
        if (!streq (entry->d_name, ".") && !streq (entry->d_name, "..") &&
            !streq (entry->d_name, "n2"))
            fail_msg ("a failed init left %s/%s", dir, entry->d_name);
    closedir (left);
    snprintf (dir, sizeof dir, "%s/cluster", f->dir);

    //  Bad usage.
    assert_int_equal (s_run (out, "cluster", "init", "--dir", dir, NULL), 2);
    assert_true (s_contains (out, "shoal cluster init: needs --nodes"));
    assert_int_equal (s_run (out, "cluster", "init", "--nodes", "65", NULL), 2);
    assert_true (s_contains (out, "shoal cluster init: --nodes must be"));
    //  A host name: a node binds addresses only (the map was written, and
    //  its nodes could not start: "cannot listen for peers ... No such
    //  device").
    assert_int_equal (s_run (out, "cluster", "init", "--nodes", "2", "--dir", dir, "--hosts",
                             "10.0.0.1,db2.example", NULL),
                      2);
    assert_true (s_contains (out, "--hosts: 'db2.example' is not an IPv4 address"));
    assert_int_equal (
        s_run (out, "cluster", "init", "--nodes", "1", "--dir", dir, "--host", "localhost", NULL),
        2);
    assert_true (s_contains (out, "--host: 'localhost' is not an IPv4 address"));
    //  Nor IPv6: the nodes' sockets have it off (the map was written, and
    //  its nodes could not start).
    assert_int_equal (
        s_run (out, "cluster", "init", "--nodes", "1", "--dir", dir, "--host", "[::1]", NULL), 2);
    assert_true (s_contains (out, "--host: '[::1]' is not an IPv4 address"));
    //  Two of --host, --hosts and --ipc: one was dropped without a word.
    assert_int_equal (s_run (out, "cluster", "init", "--nodes", "2", "--dir", dir, "--hosts",
                             "10.0.0.1,10.0.0.2", "--ipc", NULL),
                      2);
    assert_true (s_contains (out, "--host, --hosts and --ipc each say where the nodes listen"));
    assert_int_equal (s_run (out, "cluster", "init", "--nodes", "2", "--dir", dir, "--host",
                             "127.0.0.2", "--hosts", "10.0.0.1,10.0.0.2", NULL),
                      2);
    assert_true (s_contains (out, "--host, --hosts and --ipc each say where the nodes listen"));
    assert_int_equal (s_run (out, "cluster", "init", "--nodes", "2", "--dir", dir, "--ipc",
                             "--host", "127.0.0.1", NULL),
                      2);
    assert_true (s_contains (out, "--host, --hosts and --ipc each say where the nodes listen"));
    //  A port with --ipc: it was taken and ignored (or refused as past
    //  65535, for nodes that take no port).
    assert_int_equal (s_run (out, "cluster", "init", "--nodes", "2", "--dir", dir, "--ipc",
                             "--base-port", "65535", NULL),
                      2);
    assert_true (
        s_contains (out, "--base-port is for TCP: with --ipc the nodes listen on sockets"));
    char fewer[256];
    snprintf (fewer, sizeof fewer, "%s/fewer", f->dir);
    assert_int_equal (
        s_run (out, "cluster", "init", "--nodes", "3", "--shards", "2", "--dir", fewer, NULL), 2);
    assert_true (s_contains (out, "shoal cluster init: --shards 2 is fewer than --nodes 3"));
    assert_int_not_equal (access (fewer, F_OK), 0); //  nothing written
    assert_int_equal (s_run (out, "cluster", "init", "--nodes", "3", "--name", "A B", NULL), 2);
    //  Only --name named (it asked whether --host, not given, was an
    //  IPv4 address).
    assert_true (s_contains (out, "shoal cluster init: cannot plan: --name 'A B' is not a name"));
    assert_false (s_contains (out, "--host"));
    //  --ipc in a path too long for a socket: the directory it made for
    //  it is not left behind.
    char deep[256];
    snprintf (deep, sizeof deep, "%s/%090d", f->dir, 0);
    assert_int_equal (s_run (out, "cluster", "init", "--nodes", "1", "--ipc", "--dir", deep, NULL),
                      2);
    assert_true (s_contains (out, "--ipc needs a directory whose full path has at most 80 bytes"));
    assert_int_not_equal (access (deep, F_OK), 0);
    assert_int_equal (s_run (out, "cluster", "frob", NULL), 2);
    assert_true (s_contains (out, "shoal cluster: unknown subcommand 'frob'"));
    assert_int_equal (s_run (out, "cluster", NULL), 2);
    assert_int_equal (s_run (out, "cluster", "init", "--help", NULL), 0);
    assert_true (s_contains (out, "Examples:"));
}

//  What cluster_cert_load (path) writes on stderr (the log) into said
//  (size bytes), and whether it loaded the pair.
static bool s_cert_load_said (const char *path, char *said, size_t size)
{
    char log[] = "/tmp/test_cluster_log.XXXXXX";
    int fd = mkstemp (log);
    assert_true (fd >= 0);
    fflush (stderr);
    int saved = dup (STDERR_FILENO);
    assert_true (saved >= 0 && dup2 (fd, STDERR_FILENO) >= 0);
    char *error = NULL;
    zcert_t *cert = cluster_cert_load (path, &error);
    fflush (stderr);
    dup2 (saved, STDERR_FILENO);
    close (saved);
    ssize_t got = pread (fd, said, size - 1, 0);
    said[got > 0 ? got : 0] = 0;
    close (fd);
    unlink (log);
    free (error);
    bool loaded = cert != NULL;
    zcert_destroy (&cert);
    return loaded;
}

//  `shoal cluster init --nodes nodes --ipc` in f's dir/name, its client
//  secret then made 0644; its map's path into cfg (160 bytes) and the
//  secret's into secret (200 bytes).
static void s_cluster_open_secret (fixture_t *f, const char *name, const char *nodes, char *cfg,
                                   char *secret)
{
    char dir[128], out[128];
    snprintf (dir, sizeof dir, "%s/%s", f->dir, name);
    snprintf (out, sizeof out, "%s/out.txt", f->dir);
    assert_int_equal (s_run (out, "cluster", "init", "--nodes", nodes, "--ipc", "--dir", dir, NULL),
                      0);
    snprintf (cfg, 160, "%s/cluster.cfg", dir);
    snprintf (secret, 200, "%s/client.cert_secret", dir);
    assert_int_equal (chmod (secret, 0644), 0);
}

//  A secret others may read is taken, with a warning as ssh's that names
//  the file, its mode and the fix (before, not a word); 0600 and 0400
//  are taken without one.
static void test_cert_secret_mode (void **state)
{
    fixture_t *f = *state;
    char path[192], secret[200], said[4096], expected[1024];
    snprintf (path, sizeof path, "%s/a.cert", f->dir);
    snprintf (secret, sizeof secret, "%s_secret", path);
    zcert_t *cert = zcert_new ();
    assert_int_equal (zcert_save (cert, path), 0);
    zcert_destroy (&cert);
    static const mode_t quiet[] = {0600, 0400};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal (chmod (secret, quiet[i]), 0);
        assert_true (s_cert_load_said (path, said, sizeof said));
        assert_string_equal (said, "");
    }
    static const mode_t open_modes[] = {0640, 0604, 0644, 0620, 0660};
    for (size_t i = 0; i < sizeof open_modes / sizeof open_modes[0]; i++) {
        assert_int_equal (chmod (secret, open_modes[i]), 0);
        assert_true (s_cert_load_said (path, said, sizeof said));
        snprintf (expected, sizeof expected,
                  " WARN UNPROTECTED PRIVATE KEY FILE: %s is mode %04o: others than its owner "
                  "may read the secret key, and act as its node or client. Run: chmod 600 %s\n",
                  secret, (unsigned) open_modes[i], secret);
        if (!strstr (said, expected))
            fail_msg ("mode %04o: said '%s'", (unsigned) open_modes[i], said);
    }

    //  A client command says it too, and goes on (no node: no answer).
    if (!getenv ("SHOAL_BIN"))
        fail_msg ("SHOAL_BIN is not set");
    char out[128], cfg[160];
    snprintf (out, sizeof out, "%s/out.txt", f->dir);
    s_cluster_open_secret (f, "c", "1", cfg, secret);
    assert_int_equal (s_run (out, "get", "--cluster", cfg, "--timeout", "100", "account/a", NULL),
                      3);
    char *text = cluster_slurp (out);
    //  As the command's own messages read ("shoal get: "), not as a
    //  node's log line (with its time and "WARN").
    snprintf (expected, sizeof expected,
              "shoal get: warning: UNPROTECTED PRIVATE KEY FILE: %s is mode 0644", secret);
    if (!strstr (text, expected) || !strstr (text, "could not reach") || strstr (text, " WARN "))
        fail_msg ("said: %s", text);
    free (text);
    //  Said once by a command that loads it for every node (three times
    //  for `cluster status` of three nodes, nine for `top --once`).
    s_cluster_open_secret (f, "c3", "3", cfg, secret);
    assert_int_equal (s_run (out, "cluster", "status", "--cluster", cfg, "--timeout", "100", NULL),
                      3);
    text = cluster_slurp (out);
    const char *first = strstr (text, "UNPROTECTED PRIVATE KEY FILE");
    if (!first || strstr (first + 1, "UNPROTECTED PRIVATE KEY FILE"))
        fail_msg ("not said once: %s", text);
    free (text);
}

//  cluster_cert_load takes a certificate only with its own secret key: a
//  missing or unreadable _secret, one with no secret key, or the secret
//  of another pair is refused, saying which (a node or a client with any
//  of them used to start and then fail every CURVE handshake, silently),
//  as is an empty file.
//  And a client whose client.cert_secret is gone says so at once.
static void test_cert_pairs (void **state)
{
    fixture_t *f = *state;
    char path[192], secret[200], other[192], other_secret[200], text[4096];
    snprintf (path, sizeof path, "%s/a.cert", f->dir);
    snprintf (secret, sizeof secret, "%s_secret", path);
    snprintf (other, sizeof other, "%s/b.cert", f->dir);
    snprintf (other_secret, sizeof other_secret, "%s_secret", other);
    zcert_t *a = zcert_new (), *b = zcert_new ();
    assert_int_equal (zcert_save (a, path), 0);
    assert_int_equal (zcert_save (b, other), 0);
    char *error = NULL;
    zcert_t *loaded = cluster_cert_load (path, &error);
    assert_non_null (loaded);
    assert_null (error);
    assert_string_equal (zcert_secret_txt (loaded), zcert_secret_txt (a));
    zcert_destroy (&loaded);

    //  The secret of another pair.
    char *b_secret = cluster_slurp (other_secret);
    cluster_write (secret, b_secret, strlen (b_secret));
    free (b_secret);
    assert_null (cluster_cert_load (path, &error));
    print_message ("%s\n", error);
    assert_non_null (strstr (error, "is not the one of the public key"));
    free (error);
    //  No secret key in it (the public file's text).
    char *public_text = cluster_slurp (path);
    cluster_write (secret, public_text, strlen (public_text));
    free (public_text);
    assert_null (cluster_cert_load (path, &error));
    print_message ("%s\n", error);
    assert_non_null (strstr (error, "holds no secret key"));
    free (error);
    //  Missing.
    assert_int_equal (unlink (secret), 0);
    assert_null (cluster_cert_load (path, &error));
    print_message ("%s\n", error);
    assert_non_null (strstr (error, "cannot read"));
    assert_non_null (strstr (error, "_secret"));
    free (error);
    //  An empty file, either of them, is said to be empty; a public file
    //  with no key, to have none (before, both were "the secret key ... is
    //  not the one of the public key").
    const char *damaged[][2] = {{path, ""}, {secret, ""}, {path, "metadata\n"}};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal (zcert_save (a, path), 0);
        cluster_write (damaged[i][0], damaged[i][1], strlen (damaged[i][1]));
        assert_null (cluster_cert_load (path, &error));
        snprintf (text, sizeof text, "%s %s", damaged[i][0],
                  damaged[i][1][0] ? "holds no public key" : "is empty");
        if (!streq (error, text))
            fail_msg ("said '%s', not '%s'", error, text);
        free (error);
    }
    zcert_destroy (&a);
    zcert_destroy (&b);

    //  A client of a cluster whose client.cert_secret is gone.
    if (!getenv ("SHOAL_BIN"))
        fail_msg ("SHOAL_BIN is not set");
    char dir[128], out[128];
    snprintf (dir, sizeof dir, "%s/c", f->dir);
    snprintf (out, sizeof out, "%s/out.txt", f->dir);
    assert_int_equal (s_run (out, "cluster", "init", "--nodes", "1", "--ipc", "--dir", dir, NULL),
                      0);
    snprintf (text, sizeof text, "%s/client.cert_secret", dir);
    assert_int_equal (unlink (text), 0);
    snprintf (text, sizeof text, "%s/cluster.cfg", dir);
    assert_int_not_equal (s_run (out, "get", "--cluster", text, "account/a", NULL), 0);
    char *said = cluster_slurp (out);
    print_message ("%s", said);
    assert_non_null (strstr (said, "cannot load the client certificate"));
    assert_non_null (strstr (said, "client.cert_secret"));
    free (said);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_bad_files, cluster_setup, cluster_teardown),
        cmocka_unit_test_setup_teardown (test_damage, cluster_setup, cluster_teardown),
        cmocka_unit_test_setup_teardown (test_init_command, cluster_setup, cluster_teardown),
        cmocka_unit_test_setup_teardown (test_cert_pairs, cluster_setup, cluster_teardown),
        cmocka_unit_test_setup_teardown (test_cert_secret_mode, cluster_setup, cluster_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
