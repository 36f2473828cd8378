/*  heap.h - a binary min-heap of pointers, ordered by a comparator.

    Push and pop are O(log n), the minimum is O(1); items are stored in an
    array that grows by doubling. The heap never owns its items: whoever
    pops or removes one owns it again, and heap_destroy leaves them alone
    (free them first, with heap_at). An indexed heap (heap_set_index)
    also keeps each item's position in the item itself, so that an item
    can be removed or re-ordered in O(log n) without a search. Not
    thread-safe: one thread owns a heap.
*/
#ifndef HEAP_H_INCLUDED
#define HEAP_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  An indexed item's position when it is in no heap.
#define HEAP_NONE SIZE_MAX

typedef struct _heap_t heap_t;

//  Negative, 0 or positive as a orders before, with or after b.
typedef int (heap_compare_fn) (const void *a, const void *b);

//  A new, empty heap, or NULL when out of memory.
heap_t *heap_new (heap_compare_fn *compare);

//  Frees the heap (not its items) and sets *self_p to NULL. Safe twice.
void heap_destroy (heap_t **self_p);

//  Makes the heap indexed: from now on each item's position is written in
//  the size_t at offset bytes into the item whenever it moves, and
//  HEAP_NONE when it leaves by heap_pop, heap_remove or heap_filter (not
//  by heap_clear, which may follow the items' free). Call it while empty.
void heap_set_index (heap_t *self, size_t offset);

//  Adds item. Returns 0, or -1 when out of memory (item not added).
int heap_push (heap_t *self, void *item);

//  The least item (borrowed, until it is popped), or NULL when empty.
void *heap_peek (const heap_t *self);

//  Removes and returns the least item, or NULL when empty.
void *heap_pop (heap_t *self);

//  Removes and returns the item at index (0 <= index < heap_size), or
//  NULL past the end. Items move: to remove several, use heap_filter.
void *heap_remove (heap_t *self, size_t index);

//  Restores the order after the key of the item at index changed (an
//  indexed item's own position). O(log n); does nothing past the end.
void heap_update (heap_t *self, size_t index);

//  Called by heap_filter on each item: true keeps it; false removes it,
//  and the item is the callback's again (free it there if need be).
typedef bool (heap_keep_fn) (void *item, void *arg);

//  Keeps the items keep says to, in O(n). Returns how many it removed.
size_t heap_filter (heap_t *self, heap_keep_fn *keep, void *arg);

//  The item at index, in no particular order (borrowed), or NULL past the
//  end: for walking every item.
void *heap_at (const heap_t *self, size_t index);

//  The number of items.
size_t heap_size (const heap_t *self);

//  Forgets every item (not freeing them, nor writing their positions):
//  free them first.
void heap_clear (heap_t *self);

#endif
