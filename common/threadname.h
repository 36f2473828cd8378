/*  threadname.h - names the calling thread, as `top -H`, `ps -L`, perf and
    gdb show it ("shoal-worker-0", "shoal-syncer"): a node's threads all
    showed "shoal" before, so nobody could tell which one was busy.

    thread_name takes a printf format; the name is cut to the kernel's 15
    bytes. Failure is ignored: a name is a convenience, never a reason to
    stop. It also notes the thread as one that named itself.

    A thread that a library starts takes its starter's name: LevelDB's
    one compaction thread per process, started by whichever thread first
    fills a memtable (a worker, mostly), was a second "shoal-worker-0".
    thread_name_strays renames to name each thread that did not name
    itself with thread_name, is not the process's main thread, and has
    the name, beginning with prefix, of another thread of the process:
    LevelDB's is then the only one (every thread of shoal names itself
    first thing; libzmq's and libmicrohttpd's name themselves too, and one
    caught in the instant before it does so names itself after). The two
    calls exclude each other, so a thread naming itself is never renamed
    after. Returns true if it renamed one. Reads and writes
    /proc/self/task/TID/comm; any thread may call either.

    thread_list reads a process's threads, their names and CPU time, for
    the metrics (shoal_thread_cpu_seconds_total) and `shoal bench`.
*/
#ifndef THREADNAME_H_INCLUDED
#define THREADNAME_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  A thread as /proc shows it.
typedef struct {
    long tid;
    char name[16];              //  its comm
    int64_t cpu_us;             //  user and system time so far, µs (clock ticks)
    unsigned long long started; //  when it started, clock ticks after boot
} thread_info_t;

//  Reads a /proc stat file (/proc/PID/stat or /proc/PID/task/TID/stat):
//  the CPU time, user and system, in µs, and the start time (started may
//  be NULL). Returns 0, or -1 if it cannot be read.
int thread_stat (const char *path, int64_t *cpu_us, unsigned long long *started);

//  The threads of process pid (0: this process), at most max, into
//  threads. Returns how many, or -1 (no such process, no /proc). A thread
//  that ends meanwhile is left out.
int thread_list (int pid, thread_info_t *threads, size_t max);

//  As thread_list, with the threads of one name as one: their CPU times
//  summed (tid and started are the first's). Returns how many names, or
//  -1.
int thread_list_by_name (int pid, thread_info_t *threads, size_t max);

void thread_name (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

bool thread_name_strays (const char *prefix, const char *name);

#endif
