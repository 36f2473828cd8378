/*  threadname.c - see threadname.h. */
#include "threadname.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define THREADS_MAX 256 //  a node has about 15

typedef struct {
    long tid;
    char name[16];
} named_t;

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
    named_t *threads = calloc (THREADS_MAX, sizeof (named_t));
    DIR *dir = threads ? opendir ("/proc/self/task") : NULL;
    size_t count = 0;
    struct dirent *each;
    while (dir && count < THREADS_MAX && (each = readdir (dir)))
        if (each->d_name[0] >= '0' && each->d_name[0] <= '9') {
            threads[count].tid = strtol (each->d_name, NULL, 10);
            s_comm (threads[count].tid, threads[count].name);
            count++;
        }
    if (dir)
        closedir (dir);
    bool renamed = false;
    size_t prefix_len = strlen (prefix);
    for (size_t i = 0; i < count; i++) {
        if (strncmp (threads[i].name, prefix, prefix_len) != 0)
            continue;
        for (size_t j = 0; j < count; j++)
            if (j != i && threads[j].tid < threads[i].tid &&
                strcmp (threads[j].name, threads[i].name) == 0) {
                //  The later of two: started by the earlier, which named
                //  itself before.
                char path[64];
                snprintf (path, sizeof path, "/proc/self/task/%ld/comm", threads[i].tid);
                FILE *file = fopen (path, "w");
                if (file) {
                    renamed |= fputs (name, file) >= 0;
                    renamed &= fclose (file) == 0;
                }
                break;
            }
    }
    free (threads);
    return renamed;
}
