/*  storemade.c - what a node's start made of a new store, and taking it
    back, by handle and under the store's lock. See storemade.h.
*/
#include "storemade.h"
#include "log.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  The most directories of a data directory's path that a note takes
//  back; a start that makes more is not noted.
#define STOREMADE_DEPTH_MAX 32

struct _storemade_t {
    char *path;                       //  the data directory, as given: for messages only
    int base;                         //  the deepest directory of the path that was there
    int depth;                        //  directories journal_open was to make below base
    char *names[STOREMADE_DEPTH_MAX]; //  their names, the topmost first
    int made[STOREMADE_DEPTH_MAX];    //  their handles once made (storemade_made), -1: none
    int dir; //  the data directory (base, or made[depth - 1]), -1 before storemade_made
};

//  True if fd is the file st describes (same device and inode).
static bool s_same (int fd, const struct stat *st)
{
    struct stat own;
    return fstat (fd, &own) == 0 && own.st_dev == st->st_dev && own.st_ino == st->st_ino;
}

//  Opens the directory name in parent, following a symlink if follow.
//  Returns the descriptor, or -1 with errno set.
static int s_open_dir (int parent, const char *name, bool follow)
{
    return openat (parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
}

//  Lists the names in the directory dir other than ., .. and LOCK into a
//  new list the caller destroys. Returns NULL when it cannot.
static zlist_t *s_names (int dir)
{
    int fd = dup (dir);
    DIR *handle = fd >= 0 ? fdopendir (fd) : NULL;
    zlist_t *names = handle ? zlist_new () : NULL;
    if (!names) {
        if (handle)
            closedir (handle);
        else if (fd >= 0)
            close (fd);
        return NULL;
    }
    zlist_autofree (names);
    rewinddir (handle); //  a dup shares the offset of an earlier listing
    struct dirent *entry;
    while ((entry = readdir (handle)))
        if (strcmp (entry->d_name, ".") != 0 && strcmp (entry->d_name, "..") != 0 &&
            strcmp (entry->d_name, "LOCK") != 0)
            zlist_append (names, entry->d_name);
    closedir (handle);
    return names;
}

//  True if the directory dir holds nothing but . and .. (nor LOCK).
static bool s_empty (int dir)
{
    struct stat lock;
    zlist_t *names = s_names (dir);
    bool empty = names && zlist_size (names) == 0 &&
                 fstatat (dir, "LOCK", &lock, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT;
    zlist_destroy (&names);
    return empty;
}

storemade_t *storemade_note (const char *dir)
{
    if (!dir || !*dir)
        return NULL;
    storemade_t *self = calloc (1, sizeof (storemade_t));
    char *walk = strdup (dir);
    if (!self || !walk || !(self->path = strdup (dir))) {
        free (walk);
        free (self);
        return NULL;
    }
    self->dir = -1;
    for (int i = 0; i < STOREMADE_DEPTH_MAX; i++)
        self->made[i] = -1;
    self->base = open (dir[0] == '/' ? "/" : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    bool ok = self->base >= 0;
    char *rest = NULL;
    for (char *name = strtok_r (walk, "/", &rest); ok && name; name = strtok_r (NULL, "/", &rest)) {
        if (self->depth == 0) { //  still where the path is there
            int next = s_open_dir (self->base, name, true);
            if (next >= 0) {
                close (self->base);
                self->base = next;
                continue;
            }
            ok = errno == ENOENT; //  else journal_open says why it cannot
        }
        //  Missing: journal_open makes it. "." or ".." there would make
        //  the path lead elsewhere than the directories made.
        if (ok && (self->depth == STOREMADE_DEPTH_MAX || strcmp (name, ".") == 0 ||
                   strcmp (name, "..") == 0))
            ok = false;
        if (ok)
            ok = (self->names[self->depth++] = strdup (name)) != NULL;
    }
    free (walk);
    if (ok && self->depth == 0)
        ok = s_empty (self->base); //  there: only if nothing in it can be another's
    if (!ok)
        storemade_destroy (&self);
    return self;
}

void storemade_made (storemade_t **self_p, const char *dir)
{
    storemade_t *self = *self_p;
    if (!self)
        return;
    int opened = self->base;
    for (int i = 0; i < self->depth && opened >= 0; i++)
        opened = self->made[i] = s_open_dir (opened, self->names[i], false);
    struct stat by_path;
    if (opened < 0 || stat (dir, &by_path) != 0 || !s_same (opened, &by_path)) {
        log_warn ("shoal node: the data directory %s changed while its store was made: a "
                  "refused start will leave that store",
                  self->path);
        storemade_destroy (self_p);
        return;
    }
    self->dir = opened;
}

void storemade_drop_current (storemade_t *self)
{
    if (self && self->dir >= 0)
        unlinkat (self->dir, "CURRENT", 0);
}

//  Takes the store's lock as LevelDB does: an fcntl write lock on LOCK in
//  dir (made if missing). Returns the descriptor that holds it, or -1
//  with errno set (EAGAIN or EACCES: another process holds it).
static int s_lock (int dir)
{
    int fd = openat (dir, "LOCK", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl (fd, F_SETLK, &lock) != 0) {
        int why = errno;
        close (fd);
        errno = why;
        return -1;
    }
    return fd;
}

//  Removes every name in the data directory (a directory only if empty),
//  then LOCK, which lock holds, if it is still that file; syncs it.
static void s_remove_names (storemade_t *self, int lock)
{
    zlist_t *names = s_names (self->dir);
    for (const char *name = names ? zlist_first (names) : NULL; name; name = zlist_next (names))
        if (unlinkat (self->dir, name, 0) != 0 && (errno == EISDIR || errno == EPERM))
            unlinkat (self->dir, name, AT_REMOVEDIR);
    zlist_destroy (&names);
    struct stat st;
    if (fstatat (self->dir, "LOCK", &st, AT_SYMLINK_NOFOLLOW) == 0 && s_same (lock, &st))
        unlinkat (self->dir, "LOCK", 0);
    fsync (self->dir);
}

//  Removes the directories journal_open made, from the data directory
//  up, each only if it is still the one made and empty; syncs the parent
//  of the last one removed.
static void s_remove_made (storemade_t *self)
{
    int i = self->depth - 1;
    for (; i >= 0; i--) {
        int parent = i ? self->made[i - 1] : self->base;
        struct stat st;
        if (fstatat (parent, self->names[i], &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !s_same (self->made[i], &st) || unlinkat (parent, self->names[i], AT_REMOVEDIR) != 0)
            break;
    }
    if (i < self->depth - 1)
        fsync (i >= 0 ? self->made[i] : self->base);
}

void storemade_undo (storemade_t **self_p)
{
    storemade_t *self = *self_p;
    if (!self)
        return;
    int lock = self->dir >= 0 ? s_lock (self->dir) : -1;
    if (lock >= 0) {
        s_remove_names (self, lock);
        close (lock); //  LOCK is gone: a start from now on makes its own
        s_remove_made (self);
    } else if (self->dir >= 0)
        log_warn ("shoal node: the store made in %s is left as it is: %s", self->path,
                  errno == EAGAIN || errno == EACCES
                      ? "another process took its lock when this one closed it"
                      : strerror (errno));
    storemade_destroy (self_p);
}

void storemade_destroy (storemade_t **self_p)
{
    storemade_t *self = *self_p;
    if (!self)
        return;
    if (self->base >= 0)
        close (self->base);
    for (int i = 0; i < self->depth; i++) {
        if (self->made[i] >= 0)
            close (self->made[i]);
        free (self->names[i]);
    }
    free (self->path);
    free (self);
    *self_p = NULL;
}
