/*  test_ptable.c - common/ptable.c, the open-addressing table of pointers
    the workers keep their actors in: an item is found by its key, removed
    and found no more; a seeded random walk of inserts and removals, which
    grows the table and shifts the items of runs back, checked against
    which items should be in after every step; iteration sees each item
    once; keys of different
    lengths that share a prefix are told apart; a pointer that uses its top
    16 bits is refused.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ptable.h"
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char name[24];
    int value;
} item_t;

static const void *s_key (const void *item, size_t *size)
{
    const item_t *it = item;
    *size = strlen (it->name);
    return it->name;
}

static void test_usage (void **state)
{
    ptable_t table;
    ptable_init (&table, s_key);
    item_t a = {"account/a", 1}, b = {"account/b", 2};
    assert_null (ptable_find (&table, "account/a", 9)); //  empty: nothing allocated
    assert_int_equal (ptable_insert (&table, &a), 0);
    assert_int_equal (ptable_insert (&table, &b), 0);
    assert_int_equal (table.count, 2);
    assert_ptr_equal (ptable_find (&table, "account/a", 9), &a);
    assert_ptr_equal (ptable_find (&table, "account/b", 9), &b);
    assert_null (ptable_find (&table, "account/c", 9));
    assert_ptr_equal (ptable_remove (&table, "account/a", 9), &a);
    assert_null (ptable_remove (&table, "account/a", 9));
    assert_null (ptable_find (&table, "account/a", 9));
    assert_ptr_equal (ptable_find (&table, "account/b", 9), &b);
    assert_int_equal (table.count, 1);
    ptable_close (&table);
    ptable_close (&table); //  safe twice
    assert_int_equal (table.count, 0);
    assert_null (ptable_find (&table, "account/b", 9));
}

//  Keys that share a prefix, and the empty key, are different keys.
static void test_prefixes (void **state)
{
    ptable_t table;
    ptable_init (&table, s_key);
    item_t items[] = {{"", 0}, {"a", 1}, {"ab", 2}, {"abc", 3}};
    for (int i = 0; i < 4; i++)
        assert_int_equal (ptable_insert (&table, &items[i]), 0);
    for (int i = 0; i < 4; i++)
        assert_ptr_equal (ptable_find (&table, items[i].name, strlen (items[i].name)), &items[i]);
    assert_null (ptable_find (&table, "abcd", 4));
    assert_ptr_equal (ptable_remove (&table, "ab", 2), &items[2]);
    assert_ptr_equal (ptable_find (&table, "abc", 3), &items[3]);
    assert_null (ptable_find (&table, "ab", 2));
    ptable_close (&table);
}

//  A random walk of inserts and removals over 3,000 names, checked against
//  which of them should be in after every step: it grows the table from
//  16 slots to thousands and shifts runs back on removals.
static void test_random_walk (void **state)
{
    enum { N = 3000, STEPS = 60000 };
    item_t *items = calloc (N, sizeof (item_t));
    bool *in = calloc (N, sizeof (bool));
    assert_non_null (items);
    assert_non_null (in);
    for (int i = 0; i < N; i++) {
        snprintf (items[i].name, sizeof items[i].name, "transfer/t%07d", i);
        items[i].value = i;
    }
    ptable_t table;
    ptable_init (&table, s_key);
    srand (7);
    size_t count = 0;
    for (int step = 0; step < STEPS; step++) {
        int i = rand () % N;
        size_t size = strlen (items[i].name);
        if (in[i]) {
            assert_ptr_equal (ptable_remove (&table, items[i].name, size), &items[i]);
            in[i] = false;
            count--;
        } else {
            assert_null (ptable_find (&table, items[i].name, size));
            assert_int_equal (ptable_insert (&table, &items[i]), 0);
            in[i] = true;
            count++;
        }
        assert_int_equal (table.count, count);
        if (step % 997 == 0) //  now and then, every one of them
            for (int j = 0; j < N; j++)
                assert_ptr_equal (ptable_find (&table, items[j].name, strlen (items[j].name)),
                                  in[j] ? &items[j] : NULL);
    }
    //  Fill must stay at most 70 %.
    assert_true (table.count * 10 <= table.capacity * 7);
    ptable_close (&table);
    free (items);
    free (in);
}

//  Iteration gives each item once, and nothing else.
static void test_iteration (void **state)
{
    enum { N = 500 };
    item_t items[N];
    ptable_t table;
    ptable_init (&table, s_key);
    size_t cursor = 0;
    assert_null (ptable_next (&table, &cursor));
    for (int i = 0; i < N; i++) {
        snprintf (items[i].name, sizeof items[i].name, "account/%d", i);
        items[i].value = 0;
        assert_int_equal (ptable_insert (&table, &items[i]), 0);
    }
    int seen = 0;
    cursor = 0;
    for (item_t *it = ptable_next (&table, &cursor); it; it = ptable_next (&table, &cursor)) {
        assert_true (it >= items && it < items + N);
        it->value++;
        seen++;
    }
    assert_int_equal (seen, N);
    for (int i = 0; i < N; i++)
        assert_int_equal (items[i].value, 1);
    ptable_close (&table);
}

//  A pointer whose top 16 bits are taken has no room for the tag: refused,
//  and the table is as before.
static void test_pointer_top_bits (void **state)
{
    ptable_t table;
    ptable_init (&table, s_key);
    item_t a = {"account/a", 1};
    assert_int_equal (ptable_insert (&table, &a), 0);
    void *odd = (void *) (uintptr_t) (UINT64_C (1) << 60);
    assert_int_equal (ptable_insert (&table, odd), -1);
    assert_int_equal (table.count, 1);
    assert_ptr_equal (ptable_find (&table, "account/a", 9), &a);
    ptable_close (&table);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_usage),
        cmocka_unit_test (test_prefixes),
        cmocka_unit_test (test_random_walk),
        cmocka_unit_test (test_iteration),
        cmocka_unit_test (test_pointer_top_bits),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
