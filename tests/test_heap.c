/*  test_heap.c - common/heap.c, the binary min-heap the timer queue
    (runtime/timers.c) is built on: items come out in order whatever the
    order they went in, equal keys included; removal from the middle keeps
    the order; an empty heap answers NULL; an indexed heap keeps each
    item's position in the item, through pushes, pops, removals, updates
    of its key and filters.
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

//  An item of an indexed heap: its key and its position.
typedef struct {
    int64_t key;
    size_t at;
} slot_t;

static int s_compare_slot (const void *a, const void *b)
{
    return s_compare (&((const slot_t *) a)->key, &((const slot_t *) b)->key);
}

//  Every item in the heap is where it says; every other one says HEAP_NONE.
static void s_check_positions (heap_t *heap, slot_t *slots, int n)
{
    for (size_t i = 0; i < heap_size (heap); i++)
        assert_int_equal (((slot_t *) heap_at (heap, i))->at, i);
    size_t in = 0;
    for (int i = 0; i < n; i++)
        in += slots[i].at != HEAP_NONE;
    assert_int_equal (in, heap_size (heap));
}

static bool s_keep_odd_slot (void *item, void *arg)
{
    (void) arg;
    return ((slot_t *) item)->key % 2 == 1;
}

//  Items removed and re-keyed by their own position, as the outbox does
//  (runtime/outbox.c): the rest stay in order, and every position is true.
static void test_indexed (void **state)
{
    enum { N = 2000 };
    slot_t *slots = calloc (N, sizeof (slot_t));
    heap_t *heap = heap_new (s_compare_slot);
    heap_set_index (heap, offsetof (slot_t, at));
    srand (11);
    for (int i = 0; i < N; i++) {
        slots[i].key = rand () % 100000;
        assert_int_equal (heap_push (heap, &slots[i]), 0);
    }
    s_check_positions (heap, slots, N);
    for (int i = 0; i < N; i += 3) //  a third leave, by their own position
        assert_ptr_equal (heap_remove (heap, slots[i].at), &slots[i]);
    s_check_positions (heap, slots, N);
    for (int i = 1; i < N; i += 3) { //  a third move, either way
        slots[i].key = i % 2 ? slots[i].key / 2 : slots[i].key * 2 + 1;
        heap_update (heap, slots[i].at);
    }
    s_check_positions (heap, slots, N);
    heap_update (heap, HEAP_NONE); //  past the end: nothing
    heap_filter (heap, s_keep_odd_slot, NULL);
    s_check_positions (heap, slots, N);
    int64_t last = -1;
    slot_t *slot;
    while ((slot = heap_pop (heap))) {
        assert_true (slot->key >= last && slot->key % 2 == 1);
        assert_int_equal (slot->at, HEAP_NONE);
        last = slot->key;
    }
    s_check_positions (heap, slots, N);
    heap_destroy (&heap);
    free (slots);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_usage),        cmocka_unit_test (test_empty),
        cmocka_unit_test (test_random_order), cmocka_unit_test (test_remove),
        cmocka_unit_test (test_indexed),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
