/*  test_shard.c - common/shard.c: shoal_shard's values are fixed forever,
    as stored data is laid out by them, so they are checked against values
    computed once with worker_shard (runtime/worker.c) before it moved
    here, and against worker_shard itself on many addresses.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"
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

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_known_values),
        cmocka_unit_test (test_same_as_worker_shard),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
