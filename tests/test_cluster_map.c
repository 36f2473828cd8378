/*  test_cluster_map.c - the cluster map (transport/cluster.c): the usage example,
    keys round trip, a hand-written map, rendezvous placement, the plan's
    limits, endpoints. The fixture: cluster_test_util.h.
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

static cluster_t *s_plan_keyed (int nodes, int shards)
{
    cluster_t *cluster = cluster_plan ("bank", nodes, shards, "127.0.0.1", 7700);
    assert_non_null (cluster);
    for (int i = 0; i < nodes; i++) {
        char key[41];
        cluster_key (key);
        assert_int_equal (cluster_set_key (cluster, i, key), 0);
    }
    return cluster;
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
    cluster_t *loaded = cluster_test_load (f->path);
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
    char *first = cluster_slurp (f->path), *second = cluster_slurp (again);
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
    cluster_t *loaded = cluster_test_load (f->path);
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
    cluster_write (f->path, cluster_good, strlen (cluster_good));
    cluster_t *cluster = cluster_test_load (f->path);
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
    char *text = cluster_replace (cluster_good, "ipc://n3.ipc", "tcp://10.0.0.3:7000");
    cluster_write (f->path, text, strlen (text));
    free (text);
    cluster = cluster_test_load (f->path);
    assert_string_equal (cluster_digest (cluster), digest);
    assert_int_equal (cluster_set_epoch (cluster, 2), 0);
    assert_string_not_equal (cluster_digest (cluster), digest);
    assert_int_equal (cluster_set_epoch (cluster, 0), SHOAL_EINVAL);
    cluster_destroy (&cluster);

    text = cluster_replace (cluster_good, "epoch = 1", "epoch = 2");
    cluster_write (f->path, text, strlen (text));
    free (text);
    cluster = cluster_test_load (f->path);
    assert_int_equal (cluster_epoch (cluster), 2);
    assert_string_not_equal (cluster_digest (cluster), digest);
    cluster_destroy (&cluster);

    char *moved = cluster_replace (cluster_good, "shards = 0-5", "shards = 0-4");
    text = cluster_replace (moved, "shards = 6-10", "shards = 5-10");
    cluster_write (f->path, text, strlen (text));
    free (moved);
    free (text);
    cluster = cluster_test_load (f->path);
    assert_int_equal (cluster_owner (cluster, 5), 1);
    assert_string_not_equal (cluster_digest (cluster), digest);
    cluster_destroy (&cluster);

    //  n3's section first: other indexes, same map.
    const char *n3 = strstr (cluster_good, "    n3\n");
    const char *n1 = strstr (cluster_good, "    n1\n");
    size_t size = strlen (cluster_good);
    text = malloc (size + 1);
    assert_non_null (text);
    size_t head = (size_t) (n1 - cluster_good), tail = size - (size_t) (n3 - cluster_good);
    memcpy (text, cluster_good, head);
    memcpy (text + head, n3, tail);
    memcpy (text + head + tail, n1, (size_t) (n3 - n1));
    text[size] = 0;
    cluster_write (f->path, text, size);
    free (text);
    cluster = cluster_test_load (f->path);
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

//  Every node of a plan owns a shard, when there are as many shards as
//  nodes or more: rendezvous alone left nodes with none (n1 and n2 of 4
//  nodes at 4 shards; 5 of 32 at 64), which cluster init wrote, each a
//  node that served nothing. Each shard is owned once.
static void test_every_node_owns_a_shard (void **state)
{
    (void) state;
    static const int shards[] = {1, 2, 4, 8, 64, 128, 256};
    for (int nodes = 1; nodes <= 64; nodes++)
        for (size_t j = 0; j < sizeof shards / sizeof shards[0]; j++) {
            int count = shards[j] < nodes ? nodes : shards[j];
            cluster_t *cluster = cluster_plan ("bank", nodes, count, "127.0.0.1", 7700);
            assert_non_null (cluster);
            uint32_t owned[64] = {0}, total = 0;
            for (int shard = 0; shard < count; shard++) {
                int owner = cluster_owner (cluster, (uint32_t) shard);
                assert_true (owner >= 0 && owner < nodes);
                owned[owner]++;
            }
            for (int i = 0; i < nodes; i++) {
                if (owned[i] == 0)
                    fail_msg ("%d nodes, %d shards: n%d owns none", nodes, count, i + 1);
                assert_int_equal (owned[i], cluster_node_shard_count (cluster, i));
                total += owned[i];
            }
            assert_int_equal (total, (uint32_t) count);
            cluster_destroy (&cluster);
        }
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
    cluster_t *loaded = cluster_test_load (f->path);
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

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_usage, cluster_setup, cluster_teardown),
        cmocka_unit_test_setup_teardown (test_keys_round_trip, cluster_setup, cluster_teardown),
        cmocka_unit_test_setup_teardown (test_hand_written, cluster_setup, cluster_teardown),
        cmocka_unit_test_setup_teardown (test_rendezvous, cluster_setup, cluster_teardown),
        cmocka_unit_test_setup_teardown (test_plan_limits, cluster_setup, cluster_teardown),
        cmocka_unit_test_setup_teardown (test_every_node_owns_a_shard, cluster_setup,
                                         cluster_teardown),
        cmocka_unit_test_setup_teardown (test_endpoints, cluster_setup, cluster_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
