/*  test_heap.c - common/heap.c, the binary min-heap the timer queue
    (runtime/timers.c) is built on: items come out in order whatever the
    order they went in, equal keys included; removal from the middle keeps
    the order; an empty heap answers NULL.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "heap.h"
#include <stdlib.h>

static int s_compare (const void *a, const void *b)
{
    const int64_t *x = a, *y = b;
    return *x < *y ? -1 : *x > *y;
}

static void test_usage (void **state)
{
    heap_t *heap = heap_new (s_compare);
    assert_non_null (heap);
    int64_t keys[] = {5, 1, 4};
    for (int i = 0; i < 3; i++)
        assert_int_equal (heap_push (heap, &keys[i]), 0);
    assert_int_equal (heap_size (heap), 3);
    assert_ptr_equal (heap_peek (heap), &keys[1]);
    assert_ptr_equal (heap_pop (heap), &keys[1]);
    assert_ptr_equal (heap_pop (heap), &keys[2]);
    assert_ptr_equal (heap_pop (heap), &keys[0]);
    heap_destroy (&heap);
    heap_destroy (&heap); //  safe twice
    assert_null (heap);
}

static void test_empty (void **state)
{
    heap_t *heap = heap_new (s_compare);
    assert_null (heap_peek (heap));
    assert_null (heap_pop (heap));
    assert_null (heap_at (heap, 0));
    assert_null (heap_remove (heap, 0));
    assert_int_equal (heap_size (heap), 0);
    heap_destroy (&heap);
}

//  Many keys in random order, with repeats, come out sorted.
static void test_random_order (void **state)
{
    enum { N = 20000 };
    int64_t *keys = malloc (N * sizeof (int64_t));
    heap_t *heap = heap_new (s_compare);
    srand (7);
    for (int i = 0; i < N; i++) {
        keys[i] = rand () % 5000;
        assert_int_equal (heap_push (heap, &keys[i]), 0);
    }
    int64_t last = -1;
    for (int i = 0; i < N; i++) {
        int64_t *key = heap_pop (heap);
        assert_non_null (key);
        assert_true (*key >= last);
        last = *key;
    }
    assert_null (heap_pop (heap));
    heap_destroy (&heap);
    free (keys);
}

static bool s_keep_even (void *item, void *arg)
{
    (*(int *) arg)++;
    return *(int64_t *) item % 2 == 0;
}

//  Removing items, one by index or many by a filter, keeps the rest in
//  order.
static void test_remove (void **state)
{
    enum { N = 1000 };
    int64_t keys[N];
    heap_t *heap = heap_new (s_compare);
    for (int i = 0; i < N; i++) {
        keys[i] = (i * 7919) % N; //  a permutation of 0..N-1
        heap_push (heap, &keys[i]);
    }
    int64_t *middle = heap_at (heap, N / 3);
    int64_t removed_key = *middle;
    assert_ptr_equal (heap_remove (heap, N / 3), middle);
    assert_null (heap_remove (heap, N));
    int calls = 0;
    assert_int_equal (heap_filter (heap, s_keep_even, &calls), N / 2 - removed_key % 2);
    assert_int_equal (calls, N - 1);
    assert_int_equal (heap_size (heap), N / 2 - !(removed_key % 2));
    for (int64_t expect = 0; expect < N; expect += 2)
        if (expect != removed_key)
            assert_int_equal (*(int64_t *) heap_pop (heap), expect);
    assert_null (heap_pop (heap));
    heap_clear (heap);
    assert_int_equal (heap_size (heap), 0);
    heap_destroy (&heap);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_usage),
        cmocka_unit_test (test_empty),
        cmocka_unit_test (test_random_order),
        cmocka_unit_test (test_remove),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
