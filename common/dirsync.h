/*  dirsync.h - directories made durably.

    mkdir(2) makes a name in the parent directory, which a power cut may
    take back until that directory is fsynced (POSIX; ext4 and XFS commit
    it with the next fsync of anything, other filesystems need not).
    dirsync_create makes path and its missing parents, then fsyncs the
    parent of each directory it made, each after its mkdir, so that the path
    stands once it returns. Threads: any (a pure function of the
    filesystem).
*/
#ifndef DIRSYNC_H_INCLUDED
#define DIRSYNC_H_INCLUDED

#include <stdbool.h>

//  Makes path and its missing parents, each mode 0700 (less the umask:
//  what shoal makes holds a node's journal or keys, for its user alone),
//  and fsyncs the parent of each one made. Returns 0 (also when path was
//  there already), or an errno value; failed (when not NULL, PATH_MAX
//  bytes) then names the directory that failed.
int dirsync_create (const char *path, char *failed);

//  fsyncs the directory path (what was made or removed in it). Returns 0
//  or an errno value; *opened (may be NULL) says whether path could be
//  opened.
int dirsync_sync (const char *path, bool *opened);

#endif
