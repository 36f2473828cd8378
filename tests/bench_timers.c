/*  bench_timers.c - a benchmark, not a test: arms N timers in random due
    order in the timer queue as it was (a czmq zlistx kept sorted,
    insertion O(n)) and as it is (common/heap.c, O(log n)), then fires
    them all, and prints timers/s for each. Usage: bench_timers [N]
    (default 100000). The figure is in docs/PERFORMANCE.md.
*/
#include "heap.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>

static int s_compare (const void *a, const void *b)
{
    const int64_t *x = a, *y = b;
    return *x < *y ? -1 : *x > *y;
}

int main (int argc, char *argv[])
{
    long n = argc > 1 ? atol (argv[1]) : 100000;
    if (n < 1)
        return 1;
    int64_t *due = malloc ((size_t) n * sizeof (int64_t));
    srand (1);
    for (long i = 0; i < n; i++)
        due[i] = 1700000000000 + (int64_t) rand () % 86400000;

    int64_t started = zclock_usecs ();
    zlistx_t *list = zlistx_new ();
    zlistx_set_comparator (list, s_compare);
    for (long i = 0; i < n; i++)
        zlistx_insert (list, &due[i], false);
    int64_t armed = zclock_usecs ();
    while (zlistx_first (list))
        zlistx_detach (list, NULL);
    int64_t fired = zclock_usecs ();
    zlistx_destroy (&list);
    printf ("sorted list: %ld timers armed at %.0f/s, fired at %.0f/s\n", n,
            n * 1e6 / (double) (armed - started + 1), n * 1e6 / (double) (fired - armed + 1));
    double list_rate = n * 1e6 / (double) (armed - started + 1);

    started = zclock_usecs ();
    heap_t *heap = heap_new (s_compare);
    for (long i = 0; i < n; i++)
        heap_push (heap, &due[i]);
    armed = zclock_usecs ();
    while (heap_pop (heap))
        ;
    fired = zclock_usecs ();
    heap_destroy (&heap);
    double heap_rate = n * 1e6 / (double) (armed - started + 1);
    printf ("heap:        %ld timers armed at %.0f/s, fired at %.0f/s\n", n, heap_rate,
            n * 1e6 / (double) (fired - armed + 1));
    printf ("arming: heap / sorted list = %.0f x\n", heap_rate / list_rate);
    free (due);
    return 0;
}
