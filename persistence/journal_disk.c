/*  journal_disk.c - what a store's directory holds, as far as LevelDB
    goes, and the room its disk has left: see journal_internal.h and
    journal.h (journal_disk).

    A start, and a reopen after a failed write, write LevelDB's log files
    out as a table before anything else: a disk with less room than the
    logs and some (JOURNAL_REOPEN_SLACK) refuses them. The room is read
    with statvfs as an unprivileged process sees it (f_bavail, f_favail).
    Any thread: nothing here is shared.
*/
#include "journal_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

//  True if name is "DIGITS" followed by tail.
static bool s_numbered (const char *name, const char *tail)
{
    size_t digits = strspn (name, "0123456789");
    return digits > 0 && strcmp (name + digits, tail) == 0;
}

//  True if name is one LevelDB gives a file of data: a log, a table or a
//  manifest with its number (as its ParseFileName reads them). Other
//  files that end alike (an application's app.log) are not a store's.
static bool s_leveldb_data_file (const char *name)
{
    return s_numbered (name, ".log") || s_numbered (name, ".ldb") || s_numbered (name, ".sst") ||
           (strncmp (name, "MANIFEST-", 9) == 0 && s_numbered (name + 9, ""));
}

int journal_dir_state (const char *dir, journal_dir_state_t *state)
{
    memset (state, 0, sizeof *state);
    DIR *handle = opendir (dir);
    if (!handle)
        return errno == ENOENT ? 0 : errno;
    state->exists = true;
    struct dirent *entry;
    while ((entry = readdir (handle))) {
        const char *name = entry->d_name;
        if (strcmp (name, "CURRENT") == 0)
            state->current = true;
        else if (s_leveldb_data_file (name)) {
            struct stat st;
            if (s_numbered (name, ".log") && fstatat (dirfd (handle), name, &st, 0) == 0)
                state->log_bytes += (uint64_t) st.st_size;
            if (state->data_files++ < 4) {
                size_t used = strlen (state->names);
                snprintf (state->names + used, sizeof state->names - used, "%s%.60s",
                          used ? ", " : "", name);
            }
        }
    }
    closedir (handle);
    return 0;
}

int journal_disk (journal_t *self, journal_disk_t *disk)
{
    memset (disk, 0, sizeof *disk);
    struct statvfs fs;
    if (statvfs (self->dir, &fs) != 0)
        return errno;
    disk->free_bytes = (uint64_t) fs.f_bavail * (uint64_t) fs.f_frsize;
    disk->free_inodes = (uint64_t) fs.f_favail;
    disk->inodes_counted = fs.f_files != 0; //  some filesystems count none
    journal_dir_state_t state;
    int rc = journal_dir_state (self->dir, &state);
    disk->reopen_bytes = (rc == 0 ? state.log_bytes : 0) + JOURNAL_REOPEN_SLACK;
    return rc;
}
