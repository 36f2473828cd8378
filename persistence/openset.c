/*  openset.c - the stores this process has open, by their directory's
    device and inode. A second open of one must not open its LOCK file:
    closing any descriptor of it releases every POSIX lock the process
    holds on it, LevelDB's write lock included (the copy that judges an
    unmarked store opens it, and deadtables.c takes LOCK to remove what no
    version names). See journal_internal.h.

    Threads: any; the set is under its own mutex.
*/
#include "journal_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>

static pthread_mutex_t s_mutex = PTHREAD_MUTEX_INITIALIZER;
static journal_t **s_journals;
static size_t s_count;

int journal_open_other (const char *dir, const journal_t *except)
{
    struct stat st;
    if (stat (dir, &st) != 0)
        return -1;
    pthread_mutex_lock (&s_mutex);
    bool found = false;
    for (size_t i = 0; i < s_count && !found; i++)
        found = s_journals[i] != except && s_journals[i]->dir_dev == st.st_dev &&
                s_journals[i]->dir_ino == st.st_ino;
    pthread_mutex_unlock (&s_mutex);
    return found ? 1 : 0;
}

void journal_open_add (journal_t *self)
{
    struct stat st;
    if (stat (self->dir, &st) != 0)
        return;
    self->dir_dev = st.st_dev;
    self->dir_ino = st.st_ino;
    pthread_mutex_lock (&s_mutex);
    journal_t **grown = realloc (s_journals, (s_count + 1) * sizeof (journal_t *));
    if (grown) {
        s_journals = grown;
        s_journals[s_count++] = self;
    }
    pthread_mutex_unlock (&s_mutex);
}

void journal_open_remove (journal_t *self)
{
    pthread_mutex_lock (&s_mutex);
    for (size_t i = 0; i < s_count; i++)
        if (s_journals[i] == self) {
            s_journals[i] = s_journals[--s_count];
            break;
        }
    if (s_count == 0) {
        free (s_journals);
        s_journals = NULL;
    }
    pthread_mutex_unlock (&s_mutex);
}
