/*  journal_repair.c - `shoal repair`'s store salvage: LevelDB's repair of
    a damaged store, what it dropped (from its LOG), and everything it left
    made durable. See journal.h (journal_repair); opening the store is
    journal.c's.
*/
#include "journal_internal.h"
#include "dirsync.h"
#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <leveldb/c.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  Syncs every regular file in dir (not below), then dir itself: what
//  LevelDB's repair leaves, it does not sync (the tables it copies, the
//  MANIFEST it writes, the renames). Returns 0 or an errno, with the path
//  that failed in failed (PATH_MAX bytes).
static int s_sync_files (const char *dir, char *failed)
{
    DIR *listing = opendir (dir);
    if (!listing) {
        snprintf (failed, PATH_MAX, "%s", dir);
        return errno ? errno : EIO;
    }
    int rc = 0;
    struct dirent *entry;
    while (rc == 0 && (entry = readdir (listing))) {
        char path[PATH_MAX];
        struct stat st;
        if (snprintf (path, sizeof path, "%s/%s", dir, entry->d_name) >= (int) sizeof path)
            rc = ENAMETOOLONG;
        else if (lstat (path, &st) != 0)
            rc = errno ? errno : EIO;
        else if (S_ISREG (st.st_mode)) {
            int fd = open (path, O_RDONLY | O_CLOEXEC);
            if (fd < 0 || fsync (fd) != 0)
                rc = errno ? errno : EIO;
            if (fd >= 0)
                close (fd);
        }
        if (rc)
            snprintf (failed, PATH_MAX, "%s", path);
    }
    closedir (listing);
    if (rc == 0 && (rc = dirsync_sync (dir, NULL)) != 0)
        snprintf (failed, PATH_MAX, "%s", dir);
    return rc;
}

static int s_repair_locked (const char *dir, char **report, char **error);

//  Takes LevelDB's lock on dir (its LOCK file, an fcntl write lock, as
//  LevelDB's own open takes it): a node running on dir holds it, and a
//  repair under a live node would move its log and MANIFEST away and lose
//  what it acknowledges afterwards. Returns the locked descriptor (closing
//  it releases the lock), or -1 with *rc SHOAL_EBUSY or SHOAL_EIO.
static int s_lock (const char *dir, int *rc, char **error)
{
    char path[PATH_MAX];
    if (snprintf (path, sizeof path, "%s/LOCK", dir) >= (int) sizeof path) {
        *error = zsys_sprintf ("the path of %s is too long", dir);
        *rc = SHOAL_EINVAL;
        return -1;
    }
    int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        *error = zsys_sprintf ("cannot open %s: %s", path, strerror (errno));
        *rc = SHOAL_EIO;
        return -1;
    }
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl (fd, F_SETLK, &lock) != 0) {
        int why = errno;
        close (fd);
        bool held = why == EAGAIN || why == EACCES;
        *error = held ? zsys_sprintf ("data directory %s is in use by another process (LevelDB "
                                      "lock held): stop the node first; nothing was changed",
                                      dir)
                      : zsys_sprintf ("cannot lock %s: %s", path, strerror (why));
        *rc = held ? SHOAL_EBUSY : SHOAL_EIO;
        return -1;
    }
    return fd;
}

int journal_repair (const char *dir, char **report, char **error)
{
    assert (dir);
    *error = NULL;
    if (report)
        *report = NULL;
    struct stat st;
    if (stat (dir, &st) != 0) {
        *error = zsys_sprintf ("cannot read %s: %s", dir, strerror (errno));
        return SHOAL_ENOTFOUND;
    }
    if (!S_ISDIR (st.st_mode)) {
        *error = zsys_sprintf ("%s is not a directory", dir);
        return SHOAL_ENOTFOUND;
    }
    //  LevelDB's repair of a directory with no store makes an empty one.
    if (!journal_holds_store (dir)) {
        *error = zsys_sprintf ("%s holds no LevelDB store (no CURRENT, MANIFEST, table or log "
                               "file): nothing to repair, nothing was changed",
                               dir);
        return SHOAL_ENOTFOUND;
    }
    int rc = 0;
    int lock = s_lock (dir, &rc, error);
    if (lock < 0)
        return rc;
    rc = s_repair_locked (dir, report, error);
    close (lock);
    return rc;
}

static int s_repair_locked (const char *dir, char **report, char **error)
{
    //  First the mark that no stream has a gap: the repair may drop any
    //  record, and a crash between the two must not leave the mark.
    char path[PATH_MAX];
    if (snprintf (path, sizeof path, "%s/%s", dir, JOURNAL_GAPLESS_FILE) >= (int) sizeof path) {
        *error = zsys_sprintf ("the path of %s is too long", dir);
        return SHOAL_EINVAL;
    }
    if (unlink (path) != 0 && errno != ENOENT) {
        *error = zsys_sprintf ("cannot remove %s before the repair: %s", path, strerror (errno));
        return SHOAL_EIO;
    }
    if (dirsync_sync (dir, NULL) != 0) {
        *error = zsys_sprintf ("cannot sync %s before the repair: %s", dir, strerror (errno));
        return SHOAL_EIO;
    }
    leveldb_options_t *options = leveldb_options_create ();
    leveldb_options_set_compression (options, leveldb_no_compression);
    //  Paranoid: the repair then reads tables with their checksums, so a
    //  block whose bytes still parse but fail the checksum (which the
    //  store's open refuses) is dropped too, not kept as it is.
    leveldb_options_set_paranoid_checks (options, 1);
    char *err = NULL;
    leveldb_repair_db (options, dir, &err);
    leveldb_options_destroy (options);
    if (err) {
        *error = zsys_sprintf ("LevelDB's repair of %s failed: %s", dir, err);
        leveldb_free (err);
        return SHOAL_EIO;
    }
    //  Then what it left is made durable, where it set aside files too
    //  (lost/): its tables, its MANIFEST and their names.
    char failed[PATH_MAX], lost[PATH_MAX];
    int sync_rc = s_sync_files (dir, failed);
    if (sync_rc == 0 && snprintf (lost, sizeof lost, "%s/lost", dir) < (int) sizeof lost &&
        access (lost, F_OK) == 0)
        sync_rc = s_sync_files (lost, failed);
    if (sync_rc) {
        *error = zsys_sprintf ("LevelDB repaired %s, but syncing %s failed: %s; run the repair "
                               "again before starting the node",
                               dir, failed, strerror (sync_rc));
        return SHOAL_EIO;
    }
    if (!report)
        return 0;
    snprintf (path, sizeof path, "%s/LOG", dir);
    FILE *file = fopen (path, "r");
    if (!file)
        return 0;
    zchunk_t *lines = zchunk_new (NULL, 0);
    char line[1024];
    while (fgets (line, sizeof line, file))
        if (strstr (line, "dropping") || strstr (line, "ignoring") || strstr (line, "Corruption") ||
            strstr (line, "rchiv") || strstr (line, "error") || strstr (line, "Log #") ||
            strstr (line, "Table #"))
            zchunk_extend (lines, line, strlen (line));
    fclose (file);
    zchunk_extend (lines, "", 1);
    *report = strdup ((char *) zchunk_data (lines));
    zchunk_destroy (&lines);
    return 0;
}
