/*  measure.h - showing a run's progress, and measuring a node process:
    its start, its first answers, its memory, its CPU time. Used by the
    demo and the bench. One thread (measure_timed_start runs its probe on
    a second).
*/
#ifndef MEASURE_H_INCLUDED
#define MEASURE_H_INCLUDED

#include "client.h"
#include "node_child.h"

//  A terminal progress bar on stderr when it is a TTY, else a plain line
//  at most every 10%. label is borrowed.
void progress_show (const char *label, size_t done, size_t total, bool force);
//  Sets what progress_show writes after the count from now on ("" or NULL:
//  nothing), copied: a live figure beside the progress.
void progress_note (const char *note);

//  Starts a `shoal node` as node_child_start does (executable: this
//  process's own; stderr inherited) while a probe asks it for address (a
//  `get`) from just before the spawn, over a socket that reconnects every
//  millisecond. Returns 0 with *ready_ms, the time from just before the
//  spawn to the node's ready line, and *answer_ms, to the first accepted
//  reply; or a negative code (said on stderr). Waits at most 2 minutes.
int measure_timed_start (node_child_t *node, const char *data_dir, const char *endpoint,
                         char *const *extra, const char *address, double *ready_ms,
                         double *answer_ms);

//  Times the first `get` of address on the node at endpoint (ms), once a
//  stats query on the same connection has answered; *version is the
//  actor's version from the reply. Returns 0 or a negative code (said on
//  stderr). Waits at most 10 minutes.
int measure_timed_get (const char *endpoint, const char *address, double *ms, int64_t *version);

//  The resident set of process pid in KiB (VmRSS), 0 if unknown.
int64_t measure_rss_kb (pid_t pid);
//  Its anonymous part in KiB (RssAnon: the heap and stacks, not the pages
//  of mapped files, such as LevelDB's tables), 0 if unknown.
int64_t measure_rss_anon_kb (pid_t pid);

//  The CPU time process pid has used so far, user and system, all its
//  threads (utime + stime of /proc/PID/stat), in µs. Its steps are a
//  clock tick (sysconf (_SC_CLK_TCK), 10 ms at 100 Hz). -1 if unknown (no
//  such process, no /proc).
int64_t measure_cpu_us (pid_t pid);

//  The CPU time of a process's threads by name (as `top -H` shows them:
//  "shoal-worker-0", "shoal-leveldb", ...), threads of one name summed.
#define MEASURE_THREADS_MAX 128
typedef struct {
    char name[16]; //  the thread's comm
    int64_t us;    //  user and system, µs (clock ticks)
} measure_thread_t;
typedef struct {
    size_t count;
    measure_thread_t threads[MEASURE_THREADS_MAX]; //  in the order first met
} measure_threads_t;

//  Adds the CPU time each thread of pid has used so far (utime + stime of
//  /proc/PID/task/TID/stat) to *threads under the thread's name; names past
//  MEASURE_THREADS_MAX go under "other". The later started of two threads
//  of one name beginning with "shoal" (not the main thread) is LevelDB's
//  compaction thread before the node renamed it (threadname.h, within a
//  second): it counts as "shoal-leveldb". Returns 0, or -1 if unknown (no
//  such process, no /proc, out of memory).
int measure_threads_cpu (pid_t pid, measure_threads_t *threads);

//  after less before, name by name, into *span (names only in after count
//  from 0: threads started in between).
void measure_threads_span (const measure_threads_t *before, const measure_threads_t *after,
                           measure_threads_t *span);

//  This process's own CPU time so far, user and system, all its threads
//  (getrusage RUSAGE_SELF), in µs. -1 if unknown.
int64_t measure_self_cpu_us (void);

#endif
