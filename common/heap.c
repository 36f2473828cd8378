/*  heap.c - a binary min-heap of pointers. See heap.h.

    Contract: items[0] is the least; every item orders no later than its
    children at 2i+1 and 2i+2; in an indexed heap every item holds its own
    index. Can't fail but on growth (heap_push).
*/
#include "heap.h"

#include <stdbool.h>
#include <stdlib.h>

struct _heap_t {
    void **items;             //  the heap, items[0] the least
    size_t size;              //  items in use
    size_t capacity;          //  items allocated
    heap_compare_fn *compare; //  the order
    bool indexed;             //  items hold their index (heap_set_index)
    size_t offset;            //  where, in bytes from the item's start
};

heap_t *heap_new (heap_compare_fn *compare)
{
    heap_t *self = calloc (1, sizeof (heap_t));
    if (self)
        self->compare = compare;
    return self;
}

void heap_destroy (heap_t **self_p)
{
    if (*self_p) {
        free ((*self_p)->items);
        free (*self_p);
        *self_p = NULL;
    }
}

void heap_set_index (heap_t *self, size_t offset)
{
    self->indexed = true;
    self->offset = offset;
}

//  Writes index into item, if the heap is indexed.
static void s_mark (heap_t *self, void *item, size_t index)
{
    if (self->indexed)
        *(size_t *) ((char *) item + self->offset) = index;
}

//  Puts item at index.
static void s_place (heap_t *self, size_t index, void *item)
{
    self->items[index] = item;
    s_mark (self, item, index);
}

static void s_swap (heap_t *self, size_t a, size_t b)
{
    void *item = self->items[a];
    s_place (self, a, self->items[b]);
    s_place (self, b, item);
}

static void s_sift_up (heap_t *self, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (self->compare (self->items[i], self->items[parent]) >= 0)
            break;
        s_swap (self, i, parent);
        i = parent;
    }
}

static void s_sift_down (heap_t *self, size_t i)
{
    while (true) {
        size_t least = i, left = 2 * i + 1, right = left + 1;
        if (left < self->size && self->compare (self->items[left], self->items[least]) < 0)
            least = left;
        if (right < self->size && self->compare (self->items[right], self->items[least]) < 0)
            least = right;
        if (least == i)
            return;
        s_swap (self, i, least);
        i = least;
    }
}

int heap_push (heap_t *self, void *item)
{
    if (self->size == self->capacity) {
        size_t capacity = self->capacity ? self->capacity * 2 : 64;
        void **items = realloc (self->items, capacity * sizeof (void *));
        if (!items)
            return -1;
        self->items = items;
        self->capacity = capacity;
    }
    s_place (self, self->size++, item);
    s_sift_up (self, self->size - 1);
    return 0;
}

void *heap_peek (const heap_t *self)
{
    return self->size ? self->items[0] : NULL;
}

void *heap_remove (heap_t *self, size_t index)
{
    if (index >= self->size)
        return NULL;
    void *item = self->items[index];
    s_mark (self, item, HEAP_NONE);
    if (index < --self->size) { //  the last item moves here: then up or down
        s_place (self, index, self->items[self->size]);
        heap_update (self, index);
    }
    return item;
}

void heap_update (heap_t *self, size_t index)
{
    if (index >= self->size)
        return;
    s_sift_up (self, index);
    s_sift_down (self, index);
}

size_t heap_filter (heap_t *self, heap_keep_fn *keep, void *arg)
{
    size_t kept = 0;
    for (size_t i = 0; i < self->size; i++) {
        void *item = self->items[i];
        s_mark (self, item, HEAP_NONE); //  before keep, which may free it
        if (keep (item, arg))
            s_place (self, kept++, item);
    }
    size_t removed = self->size - kept;
    self->size = kept;
    for (size_t i = kept / 2; i-- > 0;) //  heapify, bottom up
        s_sift_down (self, i);
    return removed;
}

void *heap_pop (heap_t *self)
{
    return heap_remove (self, 0);
}

void *heap_at (const heap_t *self, size_t index)
{
    return index < self->size ? self->items[index] : NULL;
}

size_t heap_size (const heap_t *self)
{
    return self->size;
}

void heap_clear (heap_t *self)
{
    self->size = 0;
}
