/*  histogram.h - a histogram one thread fills and any thread reads: a
    count per bucket (not cumulative: one atomic add per observation), the
    sum and nothing else. The reader (the metrics scrape) makes the
    buckets cumulative and takes _count as their total, so that a scrape
    racing an observation still shows a consistent histogram.

    Two kinds of bounds: latencies in seconds (HISTOGRAM_SECONDS, observed
    in nanoseconds) and sizes (HISTOGRAM_SIZES, observed as counts). The
    last bucket is +Inf. Header only: no state beyond the struct.
*/
#ifndef HISTOGRAM_H_INCLUDED
#define HISTOGRAM_H_INCLUDED

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#define HISTOGRAM_BUCKETS 16 //  the last is +Inf

//  Upper bounds of the buckets but the last, in the unit observed: ns for
//  latencies (100 µs to 5 s), a count for sizes (1 to 8192).
#define HISTOGRAM_SECONDS_BOUNDS                                                                   \
    {                                                                                              \
        100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000, 25000000, 50000000,           \
            100000000, 250000000, 500000000, 1000000000, 2500000000, 5000000000                    \
    }
#define HISTOGRAM_SIZES_BOUNDS                                                                     \
    {                                                                                              \
        1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384                       \
    }

typedef enum { HISTOGRAM_SECONDS, HISTOGRAM_SIZES } histogram_kind_t;

typedef struct {
    atomic_uint_fast64_t buckets[HISTOGRAM_BUCKETS]; //  observations per bucket
    atomic_uint_fast64_t sum;                        //  of the values (ns, or a count)
} histogram_t;

//  The bounds of kind (HISTOGRAM_BUCKETS - 1 of them). Borrowed, static.
static inline const uint64_t *histogram_bounds (histogram_kind_t kind)
{
    static const uint64_t seconds[HISTOGRAM_BUCKETS - 1] = HISTOGRAM_SECONDS_BOUNDS;
    static const uint64_t sizes[HISTOGRAM_BUCKETS - 1] = HISTOGRAM_SIZES_BOUNDS;
    return kind == HISTOGRAM_SECONDS ? seconds : sizes;
}

//  The monotonic clock in ns, to time what is observed.
static inline uint64_t histogram_now_ns (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (uint64_t) now.tv_sec * 1000000000u + (uint64_t) now.tv_nsec;
}

//  Adds one value. Only one thread may observe a given histogram; the
//  adds are relaxed: a reader needs no order between them.
static inline void histogram_observe (histogram_t *self, histogram_kind_t kind, uint64_t value)
{
    const uint64_t *bounds = histogram_bounds (kind);
    int i = 0;
    while (i < HISTOGRAM_BUCKETS - 1 && value > bounds[i])
        i++;
    atomic_fetch_add_explicit (&self->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit (&self->sum, value, memory_order_relaxed);
}

#endif
