/*  test_shard.c - common/shard.c: shoal_shard's values are fixed forever,
    as stored data is laid out by them, so they are checked against values
    computed once with worker_shard (runtime/worker.c) before it moved
    here, and against worker_shard itself on many addresses. Then a node
    (runtime/node.c) refuses a store made with another shard count, and
    takes the store's count when given none.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"
#include "node.h"
#include "shard.h"
#include "worker.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_known_values (void **state)
{
    static const uint32_t counts[] = {1, 8, 64, 256, 65536, 4294967295u};
    static const struct {
        const char *address;
        uint32_t shard[6]; //  for each of counts
    } known[] = {
        {"", {0, 6, 38, 38, 10534, 2859026567u}},
        {"account/a", {0, 6, 14, 78, 55630, 898647804u}},
        {"account/s", {0, 3, 19, 211, 17107, 1697944441u}},
        {"transfer/t1", {0, 5, 21, 149, 38037, 1877296607u}},
        {"counter/x", {0, 5, 13, 141, 29837, 3781462800u}},
        {"account/p3", {0, 3, 3, 131, 17027, 3633438495u}},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        for (size_t j = 0; j < sizeof counts / sizeof counts[0]; j++)
            assert_int_equal (shoal_shard (known[i].address, counts[j]), known[i].shard[j]);
}

static void test_same_as_worker_shard (void **state)
{
    harness_rand_seed (7);
    char address[SHOAL_ADDRESS_MAX + 1];
    for (int i = 0; i < 10000; i++) {
        size_t len = 1 + harness_rand () % SHOAL_ADDRESS_MAX;
        for (size_t k = 0; k < len; k++)
            address[k] = (char) (1 + harness_rand () % 255);
        address[len] = '\0';
        uint32_t shards = i % 2 ? 256 : (uint32_t) (1 + harness_rand () % SHOAL_SHARDS_MAX);
        assert_int_equal (shoal_shard (address, shards), worker_shard (address, shards));
    }
}

//  Starts no workers: shoal_node_new opens the store and nothing else.
static shoal_node_t *s_node (const char *dir, int shards, int *code, char **error)
{
    shoal_node_options_t options = {.data_dir = dir, .workers = 1, .shards = shards};
    *code = 0;
    *error = NULL;
    return shoal_node_new (&options, code, error);
}

static void test_node_keeps_store_shards (void **state)
{
    char dir[] = "/tmp/test_shard.XXXXXX";
    assert_non_null (mkdtemp (dir));
    int code;
    char *error;
    shoal_node_t *node = s_node (dir, 8, &code, &error);
    assert_non_null (node);
    assert_int_equal (shoal_node_shards (node), 8);
    shoal_node_destroy (&node);

    node = s_node (dir, 0, &code, &error);
    assert_non_null (node);
    assert_int_equal (shoal_node_shards (node), 8);
    shoal_node_destroy (&node);

    assert_null (s_node (dir, 64, &code, &error));
    assert_int_equal (code, SHOAL_EINVAL);
    assert_non_null (error);
    assert_non_null (strstr (error, "has 8 shards; --shards 64 was given"));
    assert_non_null (strstr (error, dir));
    free (error);
    harness_rm_rf (dir);

    //  A new store without a count gets the default.
    strcpy (dir, "/tmp/test_shard.XXXXXX");
    assert_non_null (mkdtemp (dir));
    node = s_node (dir, 0, &code, &error);
    assert_non_null (node);
    assert_int_equal (shoal_node_shards (node), SHOAL_SHARDS_DEFAULT);
    shoal_node_destroy (&node);
    harness_rm_rf (dir);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_known_values),
        cmocka_unit_test (test_same_as_worker_shard),
        cmocka_unit_test (test_node_keeps_store_shards),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
