/*  threadname.h - names the calling thread, as `top -H`, `ps -L`, perf and
    gdb show it ("shoal-worker-0", "shoal-syncer"): a node's threads all
    showed "shoal" before, so nobody could tell which one was busy.

    thread_name takes a printf format; the name is cut to the kernel's 15
    bytes. Failure is ignored: a name is a convenience, never a reason to
    stop. Threads: names only the calling thread.

    A thread that a library starts takes its starter's name: LevelDB's
    one compaction thread per process, started by whichever thread first
    fills a memtable (a worker, mostly), was a second "shoal-worker-0".
    thread_name_strays renames each thread whose name, beginning with
    prefix, another thread of the process holds already and held first
    (a lower thread id: the starter), to name. Every thread of shoal's own
    names itself at its start, so such a twin is a library's; LevelDB's
    is the only one that starts later. Returns true if it renamed one.
    Reads and writes /proc/self/task/TID/comm; any thread may call it.
*/
#ifndef THREADNAME_H_INCLUDED
#define THREADNAME_H_INCLUDED

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

bool thread_name_strays (const char *prefix, const char *name);

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
