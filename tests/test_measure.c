/*  test_measure.c - bench/measure.c's CPU time by thread, read from this
    process's own /proc: a thread named "test-spin" burns 200 ms of CPU
    (its own clock, whatever the machine's load), then 300 ms more between
    two reads; the span between the reads holds the 300 ms, not the 200
    before, and the threads of one name are summed. Also: a process that
    is not there.
*/
#include "measure.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static int64_t s_thread_cpu_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_THREAD_CPUTIME_ID, &now);
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

//  Burns ms of this thread's CPU time.
static void s_burn (int64_t ms)
{
    int64_t until = s_thread_cpu_ms () + ms;
    volatile uint64_t x = 1;
    while (s_thread_cpu_ms () < until)
        for (int i = 0; i < 100000; i++)
            x = x * 6364136223846793005u + 1;
}

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t moved;
    int step; //  0: burn 200; 1: burnt, wait; 2: burn 300; 3: burnt, wait; 4: end
} spin_t;

static void s_set (spin_t *spin, int step)
{
    pthread_mutex_lock (&spin->lock);
    spin->step = step;
    pthread_cond_broadcast (&spin->moved);
    pthread_mutex_unlock (&spin->lock);
}

static void s_wait (spin_t *spin, int step)
{
    pthread_mutex_lock (&spin->lock);
    while (spin->step < step)
        pthread_cond_wait (&spin->moved, &spin->lock);
    pthread_mutex_unlock (&spin->lock);
}

static void *s_spin (void *arg)
{
    spin_t *spin = arg;
    pthread_setname_np (pthread_self (), "test-spin");
    s_burn (200);
    s_set (spin, 1);
    s_wait (spin, 2);
    s_burn (300);
    s_set (spin, 3);
    s_wait (spin, 4); //  still there for the second read
    return NULL;
}

static const measure_thread_t *s_find (const measure_threads_t *threads, const char *name)
{
    for (size_t i = 0; i < threads->count; i++)
        if (strcmp (threads->threads[i].name, name) == 0)
            return &threads->threads[i];
    return NULL;
}

static void test_span_by_thread (void **state)
{
    (void) state;
    spin_t spin = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, s_spin, &spin), 0);
    s_wait (&spin, 1);
    measure_threads_t before = {0}, after = {0}, twice = {0}, span;
    assert_int_equal (measure_threads_cpu (getpid (), &before), 0);
    const measure_thread_t *spun = s_find (&before, "test-spin");
    assert_non_null (spun);
    assert_true (spun->us >= 190000);
    s_set (&spin, 2);
    s_wait (&spin, 3);
    assert_int_equal (measure_threads_cpu (getpid (), &after), 0);
    measure_threads_span (&before, &after, &span);
    spun = s_find (&span, "test-spin");
    assert_non_null (spun);
    //  300 ms, read to a clock tick (10 ms at 100 Hz) at each end.
    if (spun->us < 270000 || spun->us > 330000)
        fail_msg ("test-spin used %lld µs in the span, not 300 ms", (long long) spun->us);

    //  Read twice into one record, a name's time doubles: threads of one
    //  name (a cluster's nodes) are summed. test-spin waits meanwhile.
    const measure_thread_t *once = s_find (&after, "test-spin");
    assert_non_null (once);
    assert_int_equal (measure_threads_cpu (getpid (), &twice), 0);
    assert_int_equal (measure_threads_cpu (getpid (), &twice), 0);
    const measure_thread_t *doubled = s_find (&twice, "test-spin");
    assert_non_null (doubled);
    if (doubled->us < 2 * once->us - 20000 || doubled->us > 2 * once->us + 20000)
        fail_msg ("read twice: %lld µs, once: %lld", (long long) doubled->us, (long long) once->us);
    s_set (&spin, 4);
    pthread_join (thread, NULL);
}

//  A process that is not there: -1, and nothing added.
static void test_no_such_process (void **state)
{
    (void) state;
    measure_threads_t threads = {0};
    assert_int_equal (measure_threads_cpu ((pid_t) 0x7ffffff0, &threads), -1);
    assert_int_equal (threads.count, 0);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_span_by_thread),
        cmocka_unit_test (test_no_such_process),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
