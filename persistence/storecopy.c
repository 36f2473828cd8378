/*  storecopy.c - a private copy of a stopped node's store (storecopy.h).

    Threads: one object, one thread.
*/
#include "storecopy.h"
#include "shoal_base.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STALE_PREFIX ".shoal-check-"
#define STALE_AFTER_S 10 //  a copy unchanged this long may be a killed check's
#define COPY_CHUNK (1u << 20)

struct _storecopy_t {
    char path[PATH_MAX]; //  the copy's directory
    char dir[PATH_MAX];  //  the store's, as the caller named it
    int lock_fd;         //  the store's LOCK, read-locked; -1 for none
    int copy_fd;         //  the copy's directory, flock'ed while it lives; -1
    bool linked_only;    //  storecopy_new_linked: a table that cannot be linked fails it
};

static bool s_ends_with (const char *name, const char *suffix)
{
    size_t n = strlen (name), m = strlen (suffix);
    return n >= m && strcmp (name + n - m, suffix) == 0;
}

//  Removes the files in the directory open as fd, without following a
//  link out of it, and the directories in it one level down: a copy holds
//  none, unless a repair of it set files aside in lost/ (journal_repair's
//  look at whose a damaged store is).
static void s_empty_dir (int fd, int depth)
{
    int again = dup (fd);
    DIR *handle = again >= 0 ? fdopendir (again) : NULL;
    if (!handle) {
        if (again >= 0)
            close (again);
        return;
    }
    struct dirent *entry;
    while ((entry = readdir (handle))) {
        if (strcmp (entry->d_name, ".") == 0 || strcmp (entry->d_name, "..") == 0 ||
            unlinkat (fd, entry->d_name, 0) == 0 || depth == 0)
            continue;
        int inner = openat (fd, entry->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (inner >= 0) {
            s_empty_dir (inner, depth - 1);
            close (inner);
            unlinkat (fd, entry->d_name, AT_REMOVEDIR);
        }
    }
    closedir (handle);
}

//  Removes the copy name in the directory open as dir_fd if no check uses
//  it any more: each check holds an flock on its copy's directory, so two
//  checks of one store (which share the LOCK's read lock) keep theirs.
static void s_remove_stale (int dir_fd, const char *name)
{
    int fd = openat (dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    //  A copy just made is not locked yet (mkdtemp, then flock): one
    //  changed within STALE_AFTER_S is left, whoever holds it.
    struct stat st;
    bool recent = fstat (fd, &st) != 0 || time (NULL) - st.st_mtime < STALE_AFTER_S;
    if (!recent && flock (fd, LOCK_EX | LOCK_NB) == 0) {
        s_empty_dir (fd, 1);
        unlinkat (dir_fd, name, AT_REMOVEDIR);
    }
    close (fd); //  lets go of the flock
}

void storecopy_remove_stale (const char *dir)
{
    DIR *handle = opendir (dir);
    if (!handle)
        return;
    struct dirent *entry;
    while ((entry = readdir (handle)))
        if (strncmp (entry->d_name, STALE_PREFIX, strlen (STALE_PREFIX)) == 0)
            s_remove_stale (dirfd (handle), entry->d_name);
    closedir (handle);
}

//  Copies from into to, a new file. Returns 0 or an errno.
static int s_copy_file (const char *from, const char *to, uint8_t *buffer)
{
    int in = open (from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return errno;
    int out = open (to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) {
        int why = errno;
        close (in);
        return why;
    }
    int why = 0;
    for (;;) {
        ssize_t got = read (in, buffer, COPY_CHUNK);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            why = got < 0 ? errno : 0;
            break;
        }
        for (ssize_t done = 0; done < got && !why;) {
            ssize_t put = write (out, buffer + done, (size_t) (got - done));
            if (put < 0 && errno != EINTR)
                why = errno;
            done += put > 0 ? put : 0;
        }
        if (why)
            break;
    }
    close (in);
    if (close (out) != 0 && !why)
        why = errno;
    return why;
}

//  The store's files into self->path: tables linked (else copied), the
//  rest copied, LevelDB's LOCK and info logs left out. A copy a killed
//  reader left in dir is removed. Returns 0 or an errno, *failed the file.
static int s_fill (storecopy_t *self, const char *dir, char *failed, size_t failed_size)
{
    DIR *handle = opendir (dir);
    if (!handle) {
        snprintf (failed, failed_size, "%s", dir);
        return errno;
    }
    uint8_t *buffer = malloc (COPY_CHUNK);
    int why = buffer ? 0 : ENOMEM;
    struct dirent *entry;
    char from[PATH_MAX + NAME_MAX + 2], to[PATH_MAX + NAME_MAX + 2];
    while (!why && (entry = readdir (handle))) {
        const char *name = entry->d_name;
        if ((size_t) snprintf (from, sizeof from, "%s/%s", dir, name) >= sizeof from ||
            (size_t) snprintf (to, sizeof to, "%s/%s", self->path, name) >= sizeof to) {
            snprintf (failed, failed_size, "%s", name);
            why = ENAMETOOLONG;
            break;
        }
        struct stat info, link_info;
        if (strcmp (name, ".") == 0 || strcmp (name, "..") == 0 || strcmp (name, "LOCK") == 0 ||
            strcmp (name, "LOG") == 0 || strcmp (name, "LOG.old") == 0 ||
            lstat (from, &link_info) != 0)
            continue;
        //  A file of the store linked from elsewhere (a table moved to
        //  another disk) is copied, whatever the link says; a directory,
        //  a socket or a dangling link is no file of the store's.
        if (S_ISDIR (link_info.st_mode) || stat (from, &info) != 0 || !S_ISREG (info.st_mode))
            continue;
        bool table = s_ends_with (name, ".ldb") || s_ends_with (name, ".sst");
        int linked =
            table && S_ISREG (link_info.st_mode) ? (link (from, to) == 0 ? 0 : errno) : EXDEV;
        if (table && linked == 0)
            continue;
        //  Linked only: no table is copied (a whole store's size).
        why = table && self->linked_only ? linked : s_copy_file (from, to, buffer);
        if (why)
            snprintf (failed, failed_size, "%s", from);
    }
    closedir (handle);
    free (buffer);
    return why;
}

//  Takes a read lock on dir's LOCK, as LevelDB takes its write lock.
//  Returns 0 (also when there is no LOCK: no node ever opened the store,
//  or it is damaged, which the reader of the copy says) or an errno.
//  *held is set when a process holds it (a node), else the errno is of
//  the LOCK's open.
static int s_lock (storecopy_t *self, const char *dir, bool *held)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/LOCK", dir);
    *held = false;
    self->lock_fd = open (path, O_RDONLY | O_CLOEXEC);
    if (self->lock_fd < 0)
        return errno == ENOENT ? 0 : errno;
    //  An open file description's lock: it conflicts with LevelDB's write
    //  lock (a POSIX one) even in the process that holds it, and closing
    //  it lets go of this lock alone. A POSIX read lock would turn this
    //  process's own write lock into a read lock, and its close release
    //  both (a journal open twice in one process: the store then open to
    //  another process's LevelDB).
    struct flock lock = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    if (fcntl (self->lock_fd, F_OFD_SETLK, &lock) == 0)
        return 0;
    *held = errno == EAGAIN || errno == EACCES;
    return errno;
}

//  Makes the copy's directory under parent, flock'ed. Returns 0 or an
//  errno.
static int s_make_copy_dir (storecopy_t *self, const char *parent)
{
    snprintf (self->path, sizeof self->path, "%s/" STALE_PREFIX "XXXXXX", parent);
    if (!mkdtemp (self->path)) {
        self->path[0] = 0;
        return errno;
    }
    self->copy_fd = open (self->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (self->copy_fd < 0 || flock (self->copy_fd, LOCK_EX | LOCK_NB) != 0)
        return errno;
    return 0;
}

//  Removes the copy's directory, if any, and lets go of its flock.
static void s_drop_copy_dir (storecopy_t *self)
{
    if (self->copy_fd >= 0) {
        s_empty_dir (self->copy_fd, 1);
        close (self->copy_fd);
        self->copy_fd = -1;
    }
    if (self->path[0])
        rmdir (self->path);
    self->path[0] = 0;
}

//  storecopy_new, or with elsewhere false storecopy_new_linked.
static storecopy_t *s_new (const char *dir, bool elsewhere, int *code, char **error)
{
    assert (dir);
    *code = 0;
    *error = NULL;
    storecopy_t *self = calloc (1, sizeof (storecopy_t));
    if (!self) {
        *code = SHOAL_ENOMEM;
        return NULL;
    }
    self->lock_fd = -1;
    self->copy_fd = -1;
    self->linked_only = !elsewhere;
    snprintf (self->dir, sizeof self->dir, "%s", dir);
    bool held;
    int why = s_lock (self, dir, &held);
    if (why) {
        *code = held ? SHOAL_EBUSY : SHOAL_EIO;
        *error = held ? zsys_sprintf ("data directory %s is in use by another process "
                                      "(LevelDB lock held)",
                                      dir)
                      : zsys_sprintf ("cannot open %s/LOCK to lock it: %s", dir, strerror (why));
        storecopy_destroy (&self);
        return NULL;
    }
    storecopy_remove_stale (dir);
    //  In the store's directory, its tables linked; else (read-only, or
    //  full: a check is wanted most then) under $TMPDIR, every file copied.
    const char *tmp = getenv ("TMPDIR");
    tmp = tmp && *tmp ? tmp : "/tmp";
    //  A copy a killed check left there is a whole store's size: no
    //  node's start sweeps it, so every check does.
    storecopy_remove_stale (tmp);
    char failed[PATH_MAX + NAME_MAX + 2] = "";
    why = s_make_copy_dir (self, dir);
    if (why == 0)
        why = s_fill (self, dir, failed, sizeof failed);
    if (why && elsewhere) {
        s_drop_copy_dir (self);
        failed[0] = 0;
        why = s_make_copy_dir (self, tmp);
        if (why == 0)
            why = s_fill (self, dir, failed, sizeof failed);
    }
    if (why) {
        *code = SHOAL_EIO;
        *error = failed[0] ? zsys_sprintf ("cannot copy %s to check it (in %s, or in %s): %s",
                                           failed, dir, tmp, strerror (why))
                           : zsys_sprintf ("cannot make a copy of %s to check (in it, or in "
                                           "%s): %s",
                                           dir, tmp, strerror (why));
        storecopy_destroy (&self);
        return NULL;
    }
    return self;
}

storecopy_t *storecopy_new (const char *dir, int *code, char **error)
{
    return s_new (dir, true, code, error);
}

storecopy_t *storecopy_new_linked (const char *dir, int *code, char **error)
{
    return s_new (dir, false, code, error);
}

const char *storecopy_path (const storecopy_t *self)
{
    assert (self);
    return self->path;
}

char *storecopy_unname (const storecopy_t *self, char *message)
{
    assert (self);
    if (!message)
        return NULL;
    const char *store = self->path;
    size_t path_len = strlen (store);
    zchunk_t *out = zchunk_new (NULL, strlen (message) + 1);
    const char *at = message;
    for (const char *hit; out && (hit = strstr (at, store));) {
        zchunk_extend (out, at, (size_t) (hit - at));
        zchunk_extend (out, self->dir, strlen (self->dir));
        at = hit + path_len;
    }
    if (!out)
        return message;
    zchunk_extend (out, at, strlen (at) + 1);
    char *result = strdup ((const char *) zchunk_data (out));
    zchunk_destroy (&out);
    if (!result)
        return message;
    free (message);
    return result;
}

void storecopy_destroy (storecopy_t **self_p)
{
    assert (self_p);
    storecopy_t *self = *self_p;
    if (!self)
        return;
    s_drop_copy_dir (self);
    if (self->lock_fd >= 0)
        close (self->lock_fd); //  lets go of the lock
    free (self);
    *self_p = NULL;
}
