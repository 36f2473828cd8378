/*  clockshift.c - an LD_PRELOAD library that steps a process's wall clock
    and leaves its monotonic clock alone, as NTP stepping the clock after
    a VM resume, or an operator's `date`, would (test_clock_step.c).

    Loaded into `shoal node` with $SHOAL_CLOCKSHIFT_FILE, the path of a
    file holding one integer: the ms to add to the wall clock (negative:
    back). The file is read again at most every 100 ms of monotonic time,
    so a test changes the shift of a running node by rewriting it; a file
    missing or unreadable keeps the last shift (0 at first).

    It interposes clock_gettime (CLOCK_REALTIME and CLOCK_REALTIME_COARSE
    are shifted, every other clock is passed through), gettimeofday and
    time. Each reads the kernel's clock with the clock_gettime system call
    itself, not through the next definition: ASan's interceptor may call
    back into clock_gettime. The shift is shared by every thread (atomics);
    two threads may read the file at once, which is harmless.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define CLOCKSHIFT_REREAD_MS 100

static _Atomic long long s_shift_ms;     //  the shift in force
static _Atomic long long s_read_at = -1; //  when the file was last read (monotonic ms)

static long long s_mono_ms (void)
{
    struct timespec ts;
    syscall (SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  The shift in ms, from the file if it was not read lately.
static long long s_shift (void)
{
    long long now = s_mono_ms ();
    long long read_at = atomic_load (&s_read_at);
    if (read_at < 0 || now - read_at >= CLOCKSHIFT_REREAD_MS) {
        atomic_store (&s_read_at, now);
        const char *path = getenv ("SHOAL_CLOCKSHIFT_FILE");
        FILE *file = path ? fopen (path, "r") : NULL;
        if (file) {
            long long shift;
            if (fscanf (file, "%lld", &shift) == 1)
                atomic_store (&s_shift_ms, shift);
            fclose (file);
        }
    }
    return atomic_load (&s_shift_ms);
}

int clock_gettime (clockid_t id, struct timespec *ts)
{
    int rc = (int) syscall (SYS_clock_gettime, id, ts);
    if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) {
        long long ns = (long long) ts->tv_sec * 1000000000LL + ts->tv_nsec + s_shift () * 1000000LL;
        ts->tv_sec = (time_t) (ns / 1000000000LL);
        ts->tv_nsec = (long) (ns % 1000000000LL);
    }
    return rc;
}

int gettimeofday (struct timeval *restrict tv, void *restrict tz)
{
    struct timespec ts;
    int rc = clock_gettime (CLOCK_REALTIME, &ts);
    if (rc == 0) { //  tv is declared nonnull
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
    }
    (void) tz;
    return rc;
}

time_t time (time_t *out)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    if (out)
        *out = ts.tv_sec;
    return ts.tv_sec;
}
