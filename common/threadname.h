/*  threadname.h - names the calling thread, as `top -H`, `ps -L`, perf and
    gdb show it ("shoal-worker-0", "shoal-syncer"): a node's threads all
    showed "shoal" before, so nobody could tell which one was busy.

    thread_name takes a printf format; the name is cut to the kernel's 15
    bytes. Failure is ignored: a name is a convenience, never a reason to
    stop. Threads: names only the calling thread.
*/
#ifndef THREADNAME_H_INCLUDED
#define THREADNAME_H_INCLUDED

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

static inline void thread_name (const char *format, ...)
{
    char name[16];
    va_list args;
    va_start (args, format);
    vsnprintf (name, sizeof name, format, args);
    va_end (args);
    pthread_setname_np (pthread_self (), name);
}

#endif
