/*  test_vmap.c - common/vmap.c, the name -> number map a journal batch
    keeps its streams' versions in: a put is found, a second put of the
    same name changes its number in place; a clear empties the map and the
    map fills again to the same content; names of every length up to the
    largest, one larger than a chunk included, and one too long refused;
    iteration gives every entry once with its name; room carved beside
    the entries (vmap_alloc) is aligned and kept until the clear.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "vmap.h"
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_usage (void **state)
{
    vmap_t map;
    vmap_init (&map);
    assert_null (vmap_find (&map, "account/a"));
    int64_t *a = vmap_put (&map, "account/a", 3);
    assert_non_null (a);
    assert_int_equal (*vmap_find (&map, "account/a"), 3);
    assert_ptr_equal (vmap_put (&map, "account/a", 4), a); //  in place
    assert_int_equal (*a, 4);
    *a = 5; //  the caller may change it
    assert_int_equal (*vmap_find (&map, "account/a"), 5);
    assert_null (vmap_find (&map, "account/b"));
    assert_int_equal (vmap_count (&map), 1);
    vmap_clear (&map);
    assert_int_equal (vmap_count (&map), 0);
    assert_null (vmap_find (&map, "account/a"));
    vmap_close (&map);
    vmap_close (&map); //  safe twice
    assert_null (vmap_find (&map, "account/a"));
}

//  Filled past many chunks, cleared, filled again with other numbers:
//  every entry found with its own, none of the first fill's left.
static void test_clear_and_refill (void **state)
{
    enum { N = 20000 };
    vmap_t map;
    vmap_init (&map);
    assert_int_equal (vmap_bytes (&map), 0);
    char name[64];
    size_t held = 0;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) {
            snprintf (name, sizeof name, "transfer/%d-%d", round % 2, i);
            assert_non_null (vmap_put (&map, name, round * N + i));
        }
        assert_int_equal (vmap_count (&map), N);
        for (int i = 0; i < N; i++) {
            snprintf (name, sizeof name, "transfer/%d-%d", round % 2, i);
            int64_t *value = vmap_find (&map, name);
            assert_non_null (value);
            assert_int_equal (*value, round * N + i);
            snprintf (name, sizeof name, "transfer/%d-%d", (round + 1) % 2, i);
            assert_null (vmap_find (&map, name));
        }
        //  The memory it holds: N entries of 32 bytes and more, and the
        //  index's slots; a refill to the same size takes no more.
        size_t bytes = vmap_bytes (&map);
        assert_true (bytes >= (size_t) N * (32 + 8));
        if (round > 0)
            assert_int_equal (bytes, held);
        held = bytes;
        vmap_clear (&map);
        assert_int_equal (vmap_bytes (&map), held); //  kept for the next fill
    }
    vmap_close (&map);
    assert_int_equal (vmap_bytes (&map), 0);
}

//  A name longer than a chunk gets room of its own, and the small ones
//  after it still go in; one past VMAP_NAME_MAX is refused.
static void test_long_names (void **state)
{
    vmap_t map;
    vmap_init (&map);
    char *name = malloc (VMAP_NAME_MAX + 2);
    assert_non_null (name);
    memset (name, 'x', VMAP_NAME_MAX + 1);
    name[VMAP_NAME_MAX + 1] = '\0';
    assert_null (vmap_put (&map, name, 1));
    assert_int_equal (vmap_count (&map), 0);
    name[VMAP_NAME_MAX] = '\0'; //  the longest taken
    assert_non_null (vmap_put (&map, name, 2));
    assert_non_null (vmap_put (&map, "", 3));
    assert_non_null (vmap_put (&map, "a", 4));
    assert_int_equal (*vmap_find (&map, name), 2);
    assert_int_equal (*vmap_find (&map, ""), 3);
    assert_int_equal (*vmap_find (&map, "a"), 4);
    name[VMAP_NAME_MAX - 1] = '\0'; //  a prefix of it is another name
    assert_null (vmap_find (&map, name));
    vmap_clear (&map);
    assert_non_null (vmap_put (&map, "b", 5));
    assert_int_equal (*vmap_find (&map, "b"), 5);
    free (name);
    vmap_close (&map);
}

static void test_iteration (void **state)
{
    enum { N = 1000 };
    vmap_t map;
    vmap_init (&map);
    char name[32];
    for (int i = 0; i < N; i++) {
        snprintf (name, sizeof name, "account/%d", i);
        assert_non_null (vmap_put (&map, name, i));
    }
    bool *seen = calloc (N, sizeof (bool));
    assert_non_null (seen);
    size_t cursor = 0, count = 0;
    const char *each;
    for (int64_t *value = vmap_next (&map, &cursor, &each); value;
         value = vmap_next (&map, &cursor, &each)) {
        snprintf (name, sizeof name, "account/%d", (int) *value);
        assert_string_equal (each, name);
        assert_int_equal (*value, (int64_t) count); //  in the order they were put
        assert_false (seen[*value]);
        seen[*value] = true;
        count++;
    }
    assert_int_equal (count, N);
    free (seen);
    //  Cleared and filled again: only the new entries, in their order.
    vmap_clear (&map);
    const char *names[] = {"c", "a", "b"};
    for (int i = 0; i < 3; i++)
        assert_non_null (vmap_put (&map, names[i], i));
    assert_non_null (vmap_put (&map, "a", 7)); //  a second put makes no entry
    cursor = 0;
    count = 0;
    for (int64_t *value = vmap_next (&map, &cursor, &each); value;
         value = vmap_next (&map, &cursor, &each))
        assert_string_equal (each, names[count++]);
    assert_int_equal (count, 3);
    vmap_close (&map);
}

//  Room carved beside the entries is aligned for any type, holds what was
//  written there while more is carved (past many chunks, one larger than
//  a chunk too), and a number can point to it.
static void test_alloc (void **state)
{
    enum { N = 3000 };
    vmap_t map;
    vmap_init (&map);
    uint8_t *rooms[N];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++) {
            size_t size = i == N / 2 ? 100000 : (size_t) (i % 97) + 1;
            char name[32];
            snprintf (name, sizeof name, "stream/%d", i); //  entries between the rooms
            assert_non_null (vmap_put (&map, name, i));
            rooms[i] = vmap_alloc (&map, size);
            assert_non_null (rooms[i]);
            assert_int_equal ((uintptr_t) rooms[i] % _Alignof(max_align_t), 0);
            memset (rooms[i], (uint8_t) i, size);
            snprintf (name, sizeof name, "room/%d", i);
            assert_non_null (vmap_put (&map, name, (int64_t) (intptr_t) rooms[i]));
        }
        for (int i = 0; i < N; i++) {
            size_t size = i == N / 2 ? 100000 : (size_t) (i % 97) + 1;
            char name[32];
            snprintf (name, sizeof name, "room/%d", i);
            uint8_t *room = (uint8_t *) (intptr_t) *vmap_find (&map, name);
            assert_ptr_equal (room, rooms[i]);
            for (size_t b = 0; b < size; b++)
                assert_int_equal (room[b], (uint8_t) i);
            snprintf (name, sizeof name, "stream/%d", i);
            assert_int_equal (*vmap_find (&map, name), i);
        }
        vmap_clear (&map);
    }
    vmap_close (&map);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_usage),      cmocka_unit_test (test_clear_and_refill),
        cmocka_unit_test (test_long_names), cmocka_unit_test (test_iteration),
        cmocka_unit_test (test_alloc),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
