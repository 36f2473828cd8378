/*  dirsync.c - directories made durably. See dirsync.h. */
#include "dirsync.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int dirsync_sync (const char *path, bool *opened)
{
    int fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (opened)
        *opened = fd >= 0;
    if (fd < 0)
        return errno ? errno : EIO;
    int rc = fsync (fd) == 0 ? 0 : (errno ? errno : EIO);
    close (fd);
    return rc;
}

//  Cuts path at its last '/' (keeping "/" for the root); false when it
//  has none (a name in the current directory: its parent is ".").
static bool s_parent (char *path)
{
    char *slash = strrchr (path, '/');
    while (slash && slash > path && slash[1] == '\0') { //  a trailing '/'
        *slash = '\0';
        slash = strrchr (path, '/');
    }
    if (!slash)
        return false;
    slash[slash == path ? 1 : 0] = '\0';
    return true;
}

int dirsync_create (const char *path, char *failed)
{
    if (failed)
        failed[0] = '\0';
    char made[PATH_MAX], parent[PATH_MAX];
    if (snprintf (made, sizeof made, "%s", path) >= (int) sizeof made) {
        if (failed)
            snprintf (failed, PATH_MAX, "%.*s...", 64, path);
        return ENAMETOOLONG;
    }
    struct stat st;
    if (stat (made, &st) == 0) {
        if (S_ISDIR (st.st_mode))
            return 0;
        if (failed)
            snprintf (failed, PATH_MAX, "%s", made);
        return ENOTDIR;
    }
    //  The deepest ancestor that is there; then each one below it made.
    int rc = 0;
    snprintf (parent, sizeof parent, "%s", made);
    bool has_parent = s_parent (parent);
    if (has_parent && strcmp (parent, made) != 0)
        rc = dirsync_create (parent, failed);
    if (rc)
        return rc;
    if (mkdir (made, 0700) != 0 && errno != EEXIST) {
        rc = errno;
        if (failed)
            snprintf (failed, PATH_MAX, "%s", made);
    } else if ((rc = dirsync_sync (has_parent ? parent : ".", NULL)) != 0 && failed)
        snprintf (failed, PATH_MAX, "%s", has_parent ? parent : ".");
    return rc;
}
