/*  threadname.c - see threadname.h. */
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

typedef struct {
    long tid;
    char name[16];
    bool named; //  by thread_name
} task_t;

//  The comm of thread tid of this process, or "" if it has gone.
static void s_comm (long tid, char name[16])
{
    char path[64];
    snprintf (path, sizeof path, "/proc/self/task/%ld/comm", tid);
    name[0] = 0;
    FILE *file = fopen (path, "r");
    if (!file)
        return;
    if (!fgets (name, 16, file))
        name[0] = 0;
    fclose (file);
    name[strcspn (name, "\n")] = 0;
}

bool thread_name_strays (const char *prefix, const char *name)
{
    task_t *tasks = calloc (THREADS_MAX, sizeof (task_t));
    if (!tasks)
        return false;
    pthread_mutex_lock (&s_lock);
    DIR *dir = opendir ("/proc/self/task");
    size_t count = 0;
    struct dirent *each;
    while (dir && count < THREADS_MAX && (each = readdir (dir)))
        if (each->d_name[0] >= '0' && each->d_name[0] <= '9') {
            tasks[count].tid = strtol (each->d_name, NULL, 10);
            s_comm (tasks[count].tid, tasks[count].name);
            count++;
        }
    if (dir)
        closedir (dir);
    //  Threads that named themselves and are still there (a tid that
    //  ended is forgotten: the kernel may give it to a new thread).
    size_t kept = 0;
    for (size_t i = 0; i < s_named_count; i++)
        for (size_t j = 0; j < count; j++)
            if (tasks[j].tid == s_named[i]) {
                tasks[j].named = true;
                s_named[kept++] = s_named[i];
                break;
            }
    if (dir)
        s_named_count = kept;
    bool renamed = false;
    size_t prefix_len = strlen (prefix);
    long main_tid = (long) getpid ();
    for (size_t i = 0; i < count; i++) {
        task_t *task = &tasks[i];
        if (task->named || task->tid == main_tid || strncmp (task->name, prefix, prefix_len) != 0)
            continue;
        for (size_t j = 0; j < count; j++)
            if (j != i && strcmp (tasks[j].name, task->name) == 0) {
                char path[64];
                snprintf (path, sizeof path, "/proc/self/task/%ld/comm", task->tid);
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
    free (tasks);
    return renamed;
}
