/*  threadname.c - names threads, finds LevelDB's, lists them: see
    threadname.h. */
#include "threadname.h"

#include <dirent.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define THREADS_MAX 256 //  a node has about 15

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static long s_named[THREADS_MAX]; //  the threads that named themselves, by tid
static size_t s_named_count;

void thread_name (const char *format, ...)
{
    char name[16];
    va_list args;
    va_start (args, format);
    vsnprintf (name, sizeof name, format, args);
    va_end (args);
    long tid = (long) syscall (SYS_gettid);
    pthread_mutex_lock (&s_lock);
    bool known = false;
    for (size_t i = 0; i < s_named_count && !known; i++)
        known = s_named[i] == tid;
    if (!known && s_named_count < THREADS_MAX)
        s_named[s_named_count++] = tid;
    pthread_setname_np (pthread_self (), name);
    pthread_mutex_unlock (&s_lock);
}

int thread_stat (const char *path, int64_t *cpu_us, unsigned long long *started)
{
    char line[1024];
    FILE *file = fopen (path, "r");
    if (!file)
        return -1;
    size_t n = fread (line, 1, sizeof line - 1, file);
    fclose (file);
    line[n] = 0;
    //  "pid (comm) state ppid ...": comm may hold spaces and parentheses,
    //  so the fields are counted from its last ')'. After it come fields 3
    //  (state) to 13; utime and stime are fields 14 and 15, starttime 22.
    const char *fields = strrchr (line, ')');
    unsigned long long utime, stime, start;
    long ticks = sysconf (_SC_CLK_TCK);
    if (!fields || ticks <= 0 ||
        sscanf (fields + 1,
                " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d "
                "%llu",
                &utime, &stime, &start) != 3)
        return -1;
    *cpu_us = (int64_t) ((utime + stime) * 1000000ULL / (unsigned long long) ticks);
    if (started)
        *started = start;
    return 0;
}

int thread_list (int pid, thread_info_t *threads, size_t max)
{
    char path[96], process[32];
    if (pid > 0)
        snprintf (process, sizeof process, "/proc/%d", pid);
    else
        snprintf (process, sizeof process, "/proc/self");
    snprintf (path, sizeof path, "%s/task", process);
    DIR *dir = opendir (path);
    if (!dir)
        return -1;
    size_t count = 0;
    struct dirent *each;
    while (count < max && (each = readdir (dir))) {
        if (each->d_name[0] < '0' || each->d_name[0] > '9')
            continue;
        thread_info_t *thread = &threads[count];
        thread->tid = strtol (each->d_name, NULL, 10);
        snprintf (path, sizeof path, "%s/task/%ld/comm", process, thread->tid);
        FILE *file = fopen (path, "r");
        if (!file)
            continue; //  it ended meanwhile
        if (!fgets (thread->name, sizeof thread->name, file))
            thread->name[0] = 0;
        fclose (file);
        thread->name[strcspn (thread->name, "\n")] = 0;
        snprintf (path, sizeof path, "%s/task/%ld/stat", process, thread->tid);
        if (thread_stat (path, &thread->cpu_us, &thread->started) == 0)
            count++;
    }
    closedir (dir);
    return (int) count;
}

int thread_list_by_name (int pid, thread_info_t *threads, size_t max)
{
    int count = thread_list (pid, threads, max);
    int names = 0;
    for (int i = 0; i < count; i++) {
        int same = 0;
        while (same < names && strcmp (threads[same].name, threads[i].name) != 0)
            same++;
        if (same < names)
            threads[same].cpu_us += threads[i].cpu_us;
        else
            threads[names++] = threads[i];
    }
    return count < 0 ? -1 : names;
}

bool thread_name_strays (const char *prefix, const char *name)
{
    thread_info_t *threads = calloc (THREADS_MAX, sizeof (thread_info_t));
    bool *named = calloc (THREADS_MAX, sizeof (bool));
    if (!threads || !named) {
        free (threads);
        free (named);
        return false;
    }
    pthread_mutex_lock (&s_lock);
    int listed = thread_list (0, threads, THREADS_MAX);
    size_t count = listed > 0 ? (size_t) listed : 0;
    //  Threads that named themselves and are still there (a tid that
    //  ended is forgotten: the kernel may give it to a new thread).
    size_t kept = 0;
    for (size_t i = 0; i < s_named_count; i++)
        for (size_t j = 0; j < count; j++)
            if (threads[j].tid == s_named[i]) {
                named[j] = true;
                s_named[kept++] = s_named[i];
                break;
            }
    if (listed >= 0)
        s_named_count = kept;
    bool renamed = false;
    size_t prefix_len = strlen (prefix);
    long main_tid = (long) getpid ();
    for (size_t i = 0; i < count; i++) {
        thread_info_t *thread = &threads[i];
        if (named[i] || thread->tid == main_tid || strncmp (thread->name, prefix, prefix_len) != 0)
            continue;
        for (size_t j = 0; j < count; j++)
            if (j != i && strcmp (threads[j].name, thread->name) == 0) {
                char path[64];
                snprintf (path, sizeof path, "/proc/self/task/%ld/comm", thread->tid);
                FILE *file = fopen (path, "w");
                if (file) {
                    bool written = fputs (name, file) >= 0;
                    if (fclose (file) == 0 && written)
                        renamed = true;
                }
                break;
            }
    }
    pthread_mutex_unlock (&s_lock);
    free (threads);
    free (named);
    return renamed;
}
