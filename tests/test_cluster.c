/*  test_cluster.c - tests of transport/cluster.c (the static cluster map)
    and of `shoal cluster init`, run as a real process ($SHOAL_BIN), each
    in a fresh temporary directory.
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

typedef struct {
    char dir[64];   //  the test's temporary directory
    char path[128]; //  dir/cluster.cfg
} fixture_t;

//  Three valid keys; K2 holds a '#' and K3 a '=', which ZPL only keeps in a
//  quoted value.
#define K1 "Oc{kqOK^?FfGrzAJk[&(G^(7m)^JNVXOTP0D%U[t"
#define K2 "g6^*y.#Ff07gaU7)I!3yn*{SW0/T3D8E?sE(!]&4"
#define K3 "f3+[6^}g581%ki]CHS<1[ro-hq.!LKe0AI*u?=Jj"

//  A good file; the bad ones replace one piece of it.
static const char s_good[] = "# a hand-written map\n"
                             "cluster\n"
                             "    name = bank\n"
                             "    shards = 16\n"
                             "    epoch = 1\n"
                             "node\n"
                             "    n1\n"
                             "        client = tcp://127.0.0.1:7700\n"
                             "        peer = tcp://127.0.0.1:7701\n"
                             "        public_key = \"" K1 "\"\n"
                             "        shards = 0-5\n"
                             "    n2\n"
                             "        client = tcp://127.0.0.1:7702\n"
                             "        peer = tcp://127.0.0.1:7703\n"
                             "        public_key = \"" K2 "\"   # n2's\n"
                             "        shards = 6-10\n"
                             "    n3\n"
                             "        client = ipc://n3.ipc\n"
                             "        peer = tcp://127.0.0.1:7705\n"
                             "        public_key = '" K3 "'\n"
                             "        shards = 11,12-13,14-15\n";

static int s_setup (void **state)
{
    fixture_t *f = calloc (1, sizeof *f);
    assert_non_null (f);
    snprintf (f->dir, sizeof f->dir, "/tmp/test_cluster.XXXXXX");
    assert_non_null (mkdtemp (f->dir));
    snprintf (f->path, sizeof f->path, "%s/cluster.cfg", f->dir);
    *state = f;
    return 0;
}

static int s_teardown (void **state)
{
    fixture_t *f = *state;
    harness_rm_rf (f->dir);
    free (f);
    return 0;
}

static void s_write (const char *path, const char *text, size_t size)
{
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    assert_int_equal (fwrite (text, 1, size, file), size);
    assert_int_equal (fclose (file), 0);
}

//  Returns a copy of text with its first old replaced by new (free()).
static char *s_replace (const char *text, const char *old, const char *new)
{
    const char *at = strstr (text, old);
    if (!at)
        fail_msg ("'%s' is not in the text", old);
    size_t head = (size_t) (at - text);
    char *copy = malloc (strlen (text) - strlen (old) + strlen (new) + 1);
    assert_non_null (copy);
    memcpy (copy, text, head);
    strcpy (copy + head, new);
    strcat (copy, at + strlen (old));
    return copy;
}

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

static cluster_t *s_load (const char *path)
{
    char *error = NULL;
    cluster_t *cluster = cluster_load (path, &error);
    if (!cluster)
        fail_msg ("%s", error);
    assert_null (error);
    return cluster;
}

//  A valid key from harness_rand: Z85 of 32 random bytes.
static void s_key (char key[41])
{
    uint8_t bytes[32];
    for (int i = 0; i < 32; i++)
        bytes[i] = (uint8_t) harness_rand ();
    assert_non_null (zmq_z85_encode (key, bytes, 32));
}

static cluster_t *s_plan_keyed (int nodes, int shards)
{
    cluster_t *cluster = cluster_plan ("bank", nodes, shards, "127.0.0.1", 7700);
    assert_non_null (cluster);
    for (int i = 0; i < nodes; i++) {
        char key[41];
        s_key (key);
        assert_int_equal (cluster_set_key (cluster, i, key), 0);
    }
    return cluster;
}

static char *s_slurp (const char *path)
{
    char *text = NULL;
    zfile_t *file = zfile_new (NULL, path);
    assert_non_null (file);
    assert_int_equal (zfile_input (file), 0);
    zchunk_t *chunk = zfile_read (file, zfile_cursize (file), 0);
    assert_non_null (chunk);
    text = strndup ((const char *) zchunk_data (chunk), zchunk_size (chunk));
    zchunk_destroy (&chunk);
    zfile_destroy (&file);
    return text;
}

//  --------------------------------------------------------------------------
//  Usage: plan, key, save, load, look up

static void test_usage (void **state)
{
    fixture_t *f = *state;
    cluster_t *plan = s_plan_keyed (3, 256);
    char *error = NULL;
    assert_int_equal (cluster_save (plan, f->path, &error), 0);
    assert_null (error);
    cluster_t *loaded = s_load (f->path);
    assert_string_equal (cluster_digest (loaded), cluster_digest (plan));
    assert_int_equal (strlen (cluster_digest (loaded)), 40);
    assert_string_equal (cluster_name (loaded), "bank");
    assert_int_equal (cluster_shards (loaded), 256);
    assert_int_equal (cluster_epoch (loaded), 1);
    assert_int_equal (cluster_node_count (loaded), 3);
    for (int i = 0; i < 3; i++) {
        char name[8], client[32], peer[32];
        snprintf (name, sizeof name, "n%d", i + 1);
        snprintf (client, sizeof client, "tcp://127.0.0.1:%d", 7700 + 2 * i);
        snprintf (peer, sizeof peer, "tcp://127.0.0.1:%d", 7701 + 2 * i);
        assert_string_equal (cluster_node_name (loaded, i), name);
        assert_string_equal (cluster_node_client (loaded, i), client);
        assert_string_equal (cluster_node_peer (loaded, i), peer);
        assert_string_equal (cluster_node_key (loaded, i), cluster_node_key (plan, i));
        assert_int_equal (cluster_node_shard_count (loaded, i), cluster_node_shard_count (plan, i));
        assert_int_equal (cluster_find (loaded, name), i);
    }
    for (uint32_t shard = 0; shard < 256; shard++)
        assert_int_equal (cluster_owner (loaded, shard), cluster_owner (plan, shard));
    assert_int_equal (cluster_owner (loaded, 256), -1);
    assert_int_equal (cluster_owner (loaded, UINT32_MAX), -1);
    assert_int_equal (cluster_find (loaded, "n4"), -1);
    assert_int_equal (cluster_find (loaded, ""), -1);

    //  Saving what was loaded writes the same bytes.
    char again[160];
    snprintf (again, sizeof again, "%s/again.cfg", f->dir);
    assert_int_equal (cluster_save (loaded, again, &error), 0);
    char *first = s_slurp (f->path), *second = s_slurp (again);
    assert_string_equal (first, second);
    free (first);
    free (second);
    cluster_destroy (&plan);
    cluster_destroy (&loaded);
    cluster_destroy (&loaded);
    assert_null (loaded);
}

//  Keys with '#', '=' and every other Z85 character survive a save and a
//  load exactly: zconfig writes every value in double quotes, and Z85 has
//  no quote character.
static void test_keys_round_trip (void **state)
{
    fixture_t *f = *state;
    cluster_t *cluster = s_plan_keyed (4, 64);
    const char *keys[4] = {K1, K2, K3, "0#=#=0=#==0#=#=0=#==0#=#=0=#==0#=#=0=#=="};
    for (int i = 0; i < 4; i++)
        assert_int_equal (cluster_set_key (cluster, i, keys[i]), 0);
    uint8_t decoded[32];
    for (int i = 0; i < 4; i++) //  libzmq agrees they are keys
        assert_non_null (zmq_z85_decode (decoded, keys[i]));
    assert_int_equal (cluster_save (cluster, f->path, NULL), 0);
    cluster_t *loaded = s_load (f->path);
    for (int i = 0; i < 4; i++)
        assert_string_equal (cluster_node_key (loaded, i), keys[i]);
    assert_string_equal (cluster_digest (loaded), cluster_digest (cluster));
    cluster_destroy (&loaded);

    //  Not keys: wrong length, not Z85, a group over 2^32 - 1, a quote.
    assert_int_equal (cluster_set_key (cluster, 0, K1 "0"), SHOAL_EINVAL);
    assert_int_equal (cluster_set_key (cluster, 0, "0000000000000000000000000000000000000000" + 1),
                      SHOAL_EINVAL);
    assert_int_equal (cluster_set_key (cluster, 0, "~000000000000000000000000000000000000000"),
                      SHOAL_EINVAL);
    assert_int_equal (cluster_set_key (cluster, 0, "#0000000000000000000000000000000000000000" + 1),
                      0);
    assert_int_equal (cluster_set_key (cluster, 0, "#000000000000000000000000000000000000000"),
                      SHOAL_EINVAL);
    assert_int_equal (cluster_set_key (cluster, 0, "\"000000000000000000000000000000000000000"),
                      SHOAL_EINVAL);
    assert_int_equal (cluster_set_key (cluster, 4, K1), SHOAL_EINVAL);
    assert_int_equal (cluster_set_key (cluster, -1, K1), SHOAL_EINVAL);
    assert_null (zmq_z85_decode (decoded, "#000000000000000000000000000000000000000"));
    cluster_destroy (&cluster);
}

//  A hand-written file in ZPL's other spellings (unquoted, single quotes,
//  comments, ranges split oddly) loads.
static void test_hand_written (void **state)
{
    fixture_t *f = *state;
    s_write (f->path, s_good, strlen (s_good));
    cluster_t *cluster = s_load (f->path);
    assert_string_equal (cluster_node_key (cluster, 1), K2);
    assert_string_equal (cluster_node_key (cluster, 2), K3);
    assert_string_equal (cluster_node_client (cluster, 2), "ipc://n3.ipc");
    assert_int_equal (cluster_owner (cluster, 5), 0);
    assert_int_equal (cluster_owner (cluster, 6), 1);
    assert_int_equal (cluster_owner (cluster, 15), 2);
    char *ranges = cluster_node_ranges (cluster, 2);
    assert_string_equal (ranges, "11-15");
    free (ranges);

    //  Node order and client endpoints are not part of the digest; the
    //  epoch and a shard's owner are.
    char digest[41];
    snprintf (digest, sizeof digest, "%s", cluster_digest (cluster));
    cluster_destroy (&cluster);
    char *text = s_replace (s_good, "ipc://n3.ipc", "tcp://10.0.0.3:7000");
    s_write (f->path, text, strlen (text));
    free (text);
    cluster = s_load (f->path);
    assert_string_equal (cluster_digest (cluster), digest);
    assert_int_equal (cluster_set_epoch (cluster, 2), 0);
    assert_string_not_equal (cluster_digest (cluster), digest);
    assert_int_equal (cluster_set_epoch (cluster, 0), SHOAL_EINVAL);
    cluster_destroy (&cluster);

    text = s_replace (s_good, "epoch = 1", "epoch = 2");
    s_write (f->path, text, strlen (text));
    free (text);
    cluster = s_load (f->path);
    assert_int_equal (cluster_epoch (cluster), 2);
    assert_string_not_equal (cluster_digest (cluster), digest);
    cluster_destroy (&cluster);

    char *moved = s_replace (s_good, "shards = 0-5", "shards = 0-4");
    text = s_replace (moved, "shards = 6-10", "shards = 5-10");
    s_write (f->path, text, strlen (text));
    free (moved);
    free (text);
    cluster = s_load (f->path);
    assert_int_equal (cluster_owner (cluster, 5), 1);
    assert_string_not_equal (cluster_digest (cluster), digest);
    cluster_destroy (&cluster);

    //  n3's section first: other indexes, same map.
    const char *n3 = strstr (s_good, "    n3\n");
    const char *n1 = strstr (s_good, "    n1\n");
    size_t size = strlen (s_good);
    text = malloc (size + 1);
    assert_non_null (text);
    size_t head = (size_t) (n1 - s_good), tail = size - (size_t) (n3 - s_good);
    memcpy (text, s_good, head);
    memcpy (text + head, n3, tail);
    memcpy (text + head + tail, n1, (size_t) (n3 - n1));
    text[size] = 0;
    s_write (f->path, text, size);
    free (text);
    cluster = s_load (f->path);
    assert_int_equal (cluster_find (cluster, "n3"), 0);
    assert_int_equal (cluster_owner (cluster, 15), 0);
    cluster_destroy (&cluster);
}

//  --------------------------------------------------------------------------
//  Rendezvous placement

static void test_rendezvous (void **state)
{
    cluster_t *three = cluster_plan ("bank", 3, 256, "127.0.0.1", 7700);
    cluster_t *four = cluster_plan ("bank", 4, 256, "127.0.0.1", 7700);
    assert_non_null (three);
    assert_non_null (four);
    uint32_t counts[3] = {0};
    for (uint32_t shard = 0; shard < 256; shard++) {
        int owner = cluster_owner (three, shard);
        assert_true (owner >= 0 && owner < 3);
        counts[owner]++;
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal (counts[i], cluster_node_shard_count (three, i));
        assert_in_range (counts[i], 256 / 3 * 7 / 10, 256 / 3 * 13 / 10);
    }
    uint32_t moved = 0;
    for (uint32_t shard = 0; shard < 256; shard++)
        if (cluster_owner (four, shard) != cluster_owner (three, shard)) {
            assert_int_equal (cluster_owner (four, shard), 3); //  only to the new node
            moved++;
        }
    assert_in_range (moved, 256 * 15 / 100, 256 * 35 / 100);
    cluster_destroy (&three);
    cluster_destroy (&four);

    //  Bigger: 10 -> 11 nodes of 4096 shards moves about 1/11.
    cluster_t *ten = cluster_plan ("bank", 10, 4096, "127.0.0.1", 7700);
    cluster_t *eleven = cluster_plan ("bank", 11, 4096, "127.0.0.1", 7700);
    moved = 0;
    for (uint32_t shard = 0; shard < 4096; shard++)
        if (cluster_owner (eleven, shard) != cluster_owner (ten, shard)) {
            assert_int_equal (cluster_owner (eleven, shard), 10);
            moved++;
        }
    assert_in_range (moved, 4096 / 11 * 7 / 10, 4096 / 11 * 13 / 10);
    for (int i = 0; i < 10; i++)
        assert_in_range (cluster_node_shard_count (ten, i), 4096 / 10 * 8 / 10,
                         4096 / 10 * 12 / 10);
    cluster_destroy (&ten);
    cluster_destroy (&eleven);
}

static void test_plan_limits (void **state)
{
    fixture_t *f = *state;
    assert_null (cluster_plan ("bank", 0, 256, "127.0.0.1", 7700));
    assert_null (cluster_plan ("bank", 65, 256, "127.0.0.1", 7700));
    assert_null (cluster_plan ("bank", 3, 0, "127.0.0.1", 7700));
    assert_null (cluster_plan ("bank", 3, 65537, "127.0.0.1", 7700));
    assert_null (cluster_plan ("Bank", 3, 256, "127.0.0.1", 7700));
    assert_null (cluster_plan ("bank", 3, 256, "", 7700));
    assert_null (cluster_plan ("bank", 3, 256, "a host", 7700));
    assert_null (cluster_plan ("bank", 3, 256, "127.0.0.1", 0));
    assert_null (cluster_plan ("bank", 3, 256, "127.0.0.1", 65531));
    cluster_t *cluster = cluster_plan ("bank", 3, 256, "127.0.0.1", 65530);
    assert_non_null (cluster);
    assert_string_equal (cluster_node_peer (cluster, 2), "tcp://127.0.0.1:65535");
    assert_string_equal (cluster_node_key (cluster, 0), "");

    //  A map without keys is not saved.
    char *error = NULL;
    assert_int_equal (cluster_save (cluster, f->path, &error), SHOAL_EINVAL);
    assert_non_null (strstr (error, "node n1: public_key: not set"));
    free (error);
    assert_int_equal (access (f->path, F_OK), -1);
    cluster_destroy (&cluster);

    //  The largest map: 64 nodes, 65536 shards, on many lines per node.
    cluster = s_plan_keyed (64, 65536);
    assert_int_equal (cluster_save (cluster, f->path, NULL), 0);
    cluster_t *loaded = s_load (f->path);
    assert_string_equal (cluster_digest (loaded), cluster_digest (cluster));
    cluster_destroy (&loaded);

    //  Saving into a directory that does not exist fails, naming the file.
    char path[160];
    snprintf (path, sizeof path, "%s/missing/cluster.cfg", f->dir);
    assert_int_equal (cluster_save (cluster, path, &error), SHOAL_EIO);
    assert_non_null (strstr (error, path));
    assert_non_null (strstr (error, "No such file"));
    free (error);
    cluster_destroy (&cluster);
}

//  --------------------------------------------------------------------------
//  Endpoints: what cluster_endpoint_problem takes, and what it refuses
//  (before, tcp://HOST:70000 was taken, and libzmq listened on port 4464)

static void test_endpoints (void **state)
{
    (void) state;
    const char *good[] = {
        "tcp://127.0.0.1:7700",
        "tcp://127.0.0.1:1",
        "tcp://127.0.0.1:65535",
        "tcp://127.0.0.1:*",
        "tcp://[::1]:7700",
        "tcp://*:7700",
        "tcp://host.example:80",
        "ipc:///tmp/n1.ipc",
        "ipc://@abstract",
        "inproc://front",
        "tcp://127.0.0.1:!",
        "tcp://[::1]:*",
        "tcp://127.0.0.1:![20000-32767]",
        "tcp://127.0.0.1:*[1-65535]",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (cluster_endpoint_problem (good[i]))
            fail_msg ("%s refused: %s", good[i], cluster_endpoint_problem (good[i]));
    static const struct {
        const char *endpoint, *problem;
    } bad[] = {
        {"tcp://127.0.0.1:70000", "its port is not a number from 1 to 65535 (or *, a free port)"},
        {"tcp://127.0.0.1:65536", "its port is not a number from 1 to 65535"},
        {"tcp://127.0.0.1:0", "its port is not a number from 1 to 65535"},
        {"tcp://127.0.0.1:99999999999999999999", "its port is not a number"},
        {"tcp://127.0.0.1:-1", "its port is not a number"},
        {"tcp://127.0.0.1:77x", "its port is not a number"},
        {"tcp://127.0.0.1:*[1-70000]", "its port is not a number"},
        {"tcp://127.0.0.1:![20-10]", "its port is not a number"},
        {"tcp://127.0.0.1:*x", "its port is not a number"},
        {"tcp://127.0.0.1:", "its port is not a number"},
        {"tcp://127.0.0.1", "no port: expected tcp://HOST:PORT"},
        {"tcp://[::1]", "no port"},
        {"tcp://:7700", "no port"},
        {"tcp://", "expected tcp://, ipc:// or inproc:// and an address"},
        {"http://n3", "expected tcp://"},
        {"ipc://a b", "a space, a quote or a byte that is not printable ASCII"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *problem = cluster_endpoint_problem (bad[i].endpoint);
        if (!problem || !strstr (problem, bad[i].problem))
            fail_msg ("%s: '%s', not '%s'", bad[i].endpoint, problem ? problem : "(taken)",
                      bad[i].problem);
    }
    char longest[CLUSTER_ENDPOINT_MAX + 2] = "ipc://";
    memset (longest + 6, 'a', CLUSTER_ENDPOINT_MAX - 6);
    longest[CLUSTER_ENDPOINT_MAX] = 0;
    assert_null (cluster_endpoint_problem (longest));
    longest[CLUSTER_ENDPOINT_MAX] = 'a';
    longest[CLUSTER_ENDPOINT_MAX + 1] = 0;
    assert_string_equal (cluster_endpoint_problem (longest), "longer than 255 bytes");
    //  A map refuses one too.
    cluster_t *plan = cluster_plan ("bank", 2, 16, "127.0.0.1", 7700);
    assert_non_null (plan);
    assert_int_equal (cluster_set_client (plan, 0, "tcp://127.0.0.1:70000"), SHOAL_EINVAL);
    assert_int_equal (cluster_set_peer (plan, 0, "tcp://127.0.0.1:7701", "tcp://0.0.0.0:65536"),
                      SHOAL_EINVAL);
    assert_string_equal (cluster_node_peer (plan, 0), "tcp://127.0.0.1:7701");
    cluster_destroy (&plan);
}

//  --------------------------------------------------------------------------
//  Bad files

typedef struct {
    const char *what;
    const char *old; //  replaced in s_good by
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
        char *text = s_replace (s_good, s_bad[i].old, s_bad[i].new);
        s_write (f->path, text, strlen (text));
        free (text);
        s_refused (f->path, s_bad[i].expect, s_bad[i].what);
    }
    const char *nodeless = "cluster\n    name = bank\n    shards = 16\n    epoch = 1\nnode\n";
    s_write (f->path, nodeless, strlen (nodeless));
    s_refused (f->path, "node: no nodes", "no nodes");
    s_write (f->path, "", 0);
    s_refused (f->path, "missing the cluster section", "an empty file");
    s_write (f->path, "cluster\n\0", 9);
    s_refused (f->path, "line 2: byte 0x00 is not printable ASCII", "a NUL byte");

    //  A line longer than zconfig reads.
    char *line = malloc (2000);
    assert_non_null (line);
    memset (line, '0', 1999);
    line[1999] = 0;
    memcpy (line, "        shards = ", 17);
    char *text = s_replace (s_good, "        shards = 0-5", line);
    s_write (f->path, text, strlen (text));
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
        s_key (key);
        char *node = zsys_sprintf ("    n%d\n        client = ipc://c%d\n        peer = ipc://p%d\n"
                                   "        public_key = \"%s\"\n        shards = %d\n",
                                   i, i, i, key, i);
        zchunk_extend (chunk, node, strlen (node));
        zstr_free (&node);
    }
    s_write (f->path, (const char *) zchunk_data (chunk), zchunk_size (chunk));
    s_refused (f->path, "node n64: more than 64 nodes", "65 nodes");
    zchunk_destroy (&chunk);
}

//  Random damage to a good file is loaded or refused with a message, never
//  a crash, and never reaches zconfig's parser with a line it refuses.
static void test_damage (void **state)
{
    fixture_t *f = *state;
    size_t size = strlen (s_good);
    char *text = malloc (size + 1);
    assert_non_null (text);
    harness_rand_seed (42);
    int loaded = 0;
    for (int round = 0; round < 3000; round++) {
        memcpy (text, s_good, size + 1);
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
        s_write (f->path, text, length);
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
    char *all = s_slurp (path);
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
    cluster_t *cluster = s_load (path);
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
    cluster = s_load (path);
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
    cluster = s_load (path);
    assert_string_not_equal (cluster_digest (cluster), digest);
    assert_int_equal (cluster_shards (cluster), 64);
    assert_string_equal (cluster_name (cluster), "bank");
    cluster_destroy (&cluster);
    zcert_destroy (&client);
    snprintf (path, sizeof path, "%s/n1/node.cert_secret", dir);
    s_assert_mode (path, 0600);

    //  A failed init leaves nothing of its own: here DIR/n2 is a file, so
    //  n2/clients cannot be made after client.cert and n1's files were
    //  written (they were left behind).
    snprintf (dir, sizeof dir, "%s/partial", f->dir);
    assert_int_equal (mkdir (dir, 0755), 0);
    snprintf (path, sizeof path, "%s/n2", dir);
    s_write (path, "x", 1);
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
    assert_int_equal (s_run (out, "cluster", "init", "--nodes", "3", "--name", "A B", NULL), 2);
    assert_true (s_contains (out, "shoal cluster init: cannot plan"));
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
    char *text = s_slurp (out);
    snprintf (expected, sizeof expected, "UNPROTECTED PRIVATE KEY FILE: %s is mode 0644", secret);
    if (!strstr (text, expected) || !strstr (text, "could not reach"))
        fail_msg ("said: %s", text);
    free (text);
    //  Said once by a command that loads it for every node (three times
    //  for `cluster status` of three nodes, nine for `top --once`).
    s_cluster_open_secret (f, "c3", "3", cfg, secret);
    assert_int_equal (s_run (out, "cluster", "status", "--cluster", cfg, "--timeout", "100", NULL),
                      3);
    text = s_slurp (out);
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
    char *b_secret = s_slurp (other_secret);
    s_write (secret, b_secret, strlen (b_secret));
    free (b_secret);
    assert_null (cluster_cert_load (path, &error));
    print_message ("%s\n", error);
    assert_non_null (strstr (error, "is not the one of the public key"));
    free (error);
    //  No secret key in it (the public file's text).
    char *public_text = s_slurp (path);
    s_write (secret, public_text, strlen (public_text));
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
        s_write (damaged[i][0], damaged[i][1], strlen (damaged[i][1]));
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
    char *said = s_slurp (out);
    print_message ("%s", said);
    assert_non_null (strstr (said, "cannot load the client certificate"));
    assert_non_null (strstr (said, "client.cert_secret"));
    free (said);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_usage, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_keys_round_trip, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_hand_written, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_rendezvous, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_plan_limits, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_endpoints, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_bad_files, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_damage, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_init_command, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_cert_pairs, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_cert_secret_mode, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
