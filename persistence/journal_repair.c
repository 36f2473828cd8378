/*  journal_repair.c - `shoal repair`'s store salvage: LevelDB's repair of
    a damaged store, what it dropped (from its LOG), and everything it left
    made durable. See journal.h (journal_repair); opening the store is
    journal.c's.

    LevelDB's repair sets aside in lost/ every log it turned into a table,
    and every table it copied, whether or not the write of the copy
    worked: a log whose table could not be written (a full disk) is moved
    away all the same ("ignoring conversion error"), and the store it
    writes lacks its records. So the names of the logs and tables are
    taken before it runs, and after it each one found in lost/ whose
    records its LOG does not show carried over is put back, and the store
    left without CURRENT for another repair (s_restore_uncopied).

    Nothing is changed unless the store is shoal's, as `shoal check`
    tells it: journal_open of a private copy (storecopy.h), which refuses
    another program's store (layout.c, s_whose_store).
*/
#include "journal_internal.h"
#include "keys.h"
#include "dirsync.h"
#include "regfile.h"
#include "storecopy.h"
#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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

//  The kinds of LevelDB file the repair takes as input.
typedef enum { INPUT_NONE, INPUT_LOG, INPUT_TABLE } input_kind_t;

//  The kind of name ("000003.log", "000004.ldb" or ".sst") and its number.
static input_kind_t s_input_kind (const char *name, uint64_t *number)
{
    char *end = NULL;
    if (name[0] < '0' || name[0] > '9')
        return INPUT_NONE;
    *number = strtoull (name, &end, 10);
    if (strcmp (end, ".log") == 0)
        return INPUT_LOG;
    if (strcmp (end, ".ldb") == 0 || strcmp (end, ".sst") == 0)
        return INPUT_TABLE;
    return INPUT_NONE;
}

//  The names of the logs and tables in dir: the repair's input. Returns a
//  list of strings (destroy with zlist_destroy), or NULL if dir cannot be
//  read or there is no memory.
static zlist_t *s_inputs (const char *dir)
{
    DIR *listing = opendir (dir);
    if (!listing)
        return NULL;
    zlist_t *names = zlist_new ();
    if (names)
        zlist_autofree (names);
    struct dirent *entry;
    uint64_t number = 0;
    while (names && (entry = readdir (listing)))
        if (s_input_kind (entry->d_name, &number) != INPUT_NONE &&
            zlist_append (names, entry->d_name) != 0)
            zlist_destroy (&names);
    closedir (listing);
    return names;
}

static bool s_exists (const char *dir, const char *name)
{
    char path[PATH_MAX];
    return snprintf (path, sizeof path, "%s/%s", dir, name) < (int) sizeof path &&
           access (path, F_OK) == 0;
}

//  True if table number is in dir, under either of LevelDB's names.
static bool s_table_in (const char *dir, uint64_t number)
{
    char name[64];
    snprintf (name, sizeof name, "%06" PRIu64 ".ldb", number);
    if (s_exists (dir, name))
        return true;
    snprintf (name, sizeof name, "%06" PRIu64 ".sst", number);
    return s_exists (dir, name);
}

//  True if the repair's LOG (log, may be NULL) shows the records of the
//  file set aside carried over: a log's ops saved to a table (OK) that is
//  in dir, or none to save; a table with no entry it could read (what is
//  unreadable is dropped, as a repair should). Anything else, or a line
//  the LOG lacks (it could not be written either), is not.
static bool s_carried_over (const char *log, const char *dir, input_kind_t kind, uint64_t number)
{
    for (const char *line = log; line && *line;) {
        const char *end = strchr (line, '\n');
        const char *at;
        uint64_t found, table;
        int count;
        char status[16];
        if (kind == INPUT_LOG && (at = strstr (line, "Log #")) && (!end || at < end) &&
            sscanf (at, "Log #%" SCNu64 ": %d ops saved to Table #%" SCNu64 " %15s", &found, &count,
                    &table, status) == 4 &&
            found == number && strcmp (status, "OK") == 0 &&
            (count == 0 || s_table_in (dir, table)))
            return true;
        if (kind == INPUT_TABLE && (at = strstr (line, "Table #")) && (!end || at < end) &&
            sscanf (at, "Table #%" SCNu64 ": %d entries", &found, &count) == 2 && found == number &&
            count == 0)
            return true;
        line = end ? end + 1 : NULL;
    }
    return false;
}

//  The repair's LOG, whole (free with free()), or NULL.
static char *s_read_log (const char *dir)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/LOG", dir);
    zchunk_t *text = zchunk_slurp (path, 0);
    char *log = text ? zchunk_strdup (text) : NULL;
    zchunk_destroy (&text);
    return log;
}

//  Puts back into dir each input that LevelDB's repair set aside in
//  dir/lost without its records carried over (s_carried_over), and then
//  removes CURRENT, so that no node opens the store as that repair left
//  it (its open would delete a table put back, which the MANIFEST does not
//  name) and another repair, with room, takes them again. Returns how
//  many it put back (their names in put_back), or -1 with *error set.
static int s_restore_uncopied (const char *dir, zlist_t *inputs, zchunk_t *put_back, char **error)
{
    char lost[PATH_MAX];
    if (snprintf (lost, sizeof lost, "%s/lost", dir) >= (int) sizeof lost)
        return 0;
    char *log = s_read_log (dir);
    int restored = 0;
    for (const char *name = zlist_first (inputs); name; name = zlist_next (inputs)) {
        uint64_t number = 0;
        input_kind_t kind = s_input_kind (name, &number);
        if (s_exists (dir, name) || (kind == INPUT_TABLE && s_table_in (dir, number)) ||
            !s_exists (lost, name) || s_carried_over (log, dir, kind, number))
            continue;
        char from[PATH_MAX], to[PATH_MAX];
        if (snprintf (from, sizeof from, "%s/%s", lost, name) >= (int) sizeof from ||
            snprintf (to, sizeof to, "%s/%s", dir, name) >= (int) sizeof to)
            errno = ENAMETOOLONG;
        else if (rename (from, to) == 0)
            errno = 0;
        if (errno) {
            *error = zsys_sprintf ("cannot put %s back as %s: %s", from, to, strerror (errno));
            free (log);
            return -1;
        }
        zchunk_extend (put_back, restored ? ", " : "", restored ? 2 : 0);
        zchunk_extend (put_back, name, strlen (name));
        restored++;
    }
    free (log);
    if (restored == 0)
        return 0;
    char current[PATH_MAX];
    snprintf (current, sizeof current, "%s/CURRENT", dir);
    if (unlink (current) != 0 && errno != ENOENT) {
        *error = zsys_sprintf ("cannot remove %s: %s", current, strerror (errno));
        return -1;
    }
    if (dirsync_sync (dir, NULL) != 0 || dirsync_sync (lost, NULL) != 0) {
        *error = zsys_sprintf ("cannot sync %s: %s", dir, strerror (errno));
        return -1;
    }
    return restored;
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
    int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
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

//  Whether the store in dir is shoal's, told as `shoal check` tells it:
//  journal_open of a private copy, which refuses another program's store
//  with SHOAL_EINVAL (journal_open_layout). A copy too damaged to open is
//  repaired as the store would be, then opened: whose its keys are is
//  known only once they can be read. Returns 0 (shoal's, or its keys
//  cannot tell), or a code with *error set: SHOAL_EINVAL not shoal's,
//  SHOAL_EVERSION an older shoal's or one whose repaired copy lacks its
//  metadata, else the copy could not be made or repaired.
//  Takes and lets go of a read lock on the store's LOCK: call it before
//  s_lock, whose write lock that read lock would conflict with.
static int s_whose_store (const char *dir, char **error)
{
    int rc = 0;
    char *why = NULL;
    storecopy_t *copy = storecopy_new (dir, &rc, &why);
    if (!copy) {
        *error = zsys_sprintf ("%s%s; nothing was changed", why ? why : shoal_strerror (rc),
                               rc == SHOAL_EBUSY ? ": stop the node first" : "");
        free (why);
        return rc;
    }
    const char *path = storecopy_path (copy);
    char *message = NULL;
    journal_t *journal = journal_open (path, NULL, &rc, &message);
    bool unrepaired = false;
    if (!journal && rc != SHOAL_EINVAL && rc != SHOAL_EVERSION) {
        free (message);
        message = NULL;
        unrepaired = s_repair_locked (path, NULL, &message) != 0;
        if (!unrepaired)
            journal = journal_open (path, NULL, &rc, &message);
    }
    //  No record at all (its repaired copy either): nothing of a store
    //  to repair; LevelDB's repair would make a new, empty one, which a
    //  node serves as if every account was never opened.
    bool nothing = journal ? journal_marked_new (journal) : rc == SHOAL_ENOTFOUND;
    journal_destroy (&journal);
    message = storecopy_unname (copy, message);
    storecopy_destroy (&copy);
    if (nothing) {
        *error = message
                     ? zsys_sprintf ("refused: %s; nothing to repair, nothing was changed", message)
                     : zsys_sprintf ("refused: %s holds no record of a shoal store (its "
                                     "files hold nothing, or nothing that can be read): "
                                     "nothing to repair, nothing was changed; restore it "
                                     "from a backup",
                                     dir);
        rc = SHOAL_ENOTFOUND;
    } else if (unrepaired) {
        *error = zsys_sprintf ("cannot tell whose store %s is: the repair of a copy of it, to "
                               "read its keys, failed (%s); nothing was changed",
                               dir, message ? message : "out of memory");
        rc = SHOAL_EIO;
    } else if (rc == SHOAL_EINVAL || rc == SHOAL_EVERSION)
        //  Another program's, an older shoal's, or one that would come out
        //  of the repair without its metadata (the table that held it
        //  damaged): opened by no node after it either. It said "repaired"
        //  (exit 1), rewrote the store, and check and node refused it.
        *error = zsys_sprintf ("refused: %s; nothing was changed",
                               message ? message : "it is not shoal's store");
    else
        rc = 0; //  shoal's, or its keys still cannot be read: the repair's to try
    free (message);
    return rc;
}

int journal_repair (const char *dir, journal_confirm_fn *confirm, void *arg, char **report,
                    char **error)
{
    assert (dir);
    *error = NULL;
    if (report)
        *report = NULL;
    struct stat st;
    if (stat (dir, &st) != 0) {
        int why = errno;
        *error = why == ENOENT ? zsys_sprintf ("%s does not exist: nothing to repair", dir)
                               : zsys_sprintf ("cannot read %s: %s", dir, strerror (why));
        return SHOAL_ENOTFOUND;
    }
    if (!S_ISDIR (st.st_mode)) {
        *error = zsys_sprintf ("%s is not a directory: give a node's data directory", dir);
        return SHOAL_ENOTFOUND;
    }
    //  LevelDB's repair of a directory with no store makes an empty one.
    if (!journal_holds_store (dir)) {
        *error = zsys_sprintf ("%s holds no LevelDB store (no CURRENT, MANIFEST, table or log "
                               "file): nothing to repair, nothing was changed",
                               dir);
        return SHOAL_ENOTFOUND;
    }
    int rc = s_whose_store (dir, error);
    if (rc)
        return rc;
    //  The lock before the question: a node running on dir is said at
    //  once, not after a warning and an answer.
    int lock = s_lock (dir, &rc, error);
    if (lock < 0)
        return rc;
    if (confirm && !confirm (dir, arg)) {
        close (lock);
        *error = zsys_sprintf ("%s was not repaired: nothing was changed", dir);
        return SHOAL_EREJECTED;
    }
    rc = s_repair_locked (dir, report, error);
    close (lock);
    return rc;
}

//  Puts the event log's mark back into the repaired store at dir if a
//  repair dropped it (the table that held it) while log records remain:
//  a node refuses a store with a log and no mark (a fill from the events
//  would log each a second time). Sets *put when it did. Returns 0 or
//  SHOAL_EIO with *error.
static int s_log_mark_back (const char *dir, uint64_t synced, bool *put, uint64_t *log_end,
                            uint64_t holes[3], char **error)
{
    *put = false;
    *log_end = 0;
    holes[0] = holes[1] = holes[2] = 0;
    leveldb_options_t *options = leveldb_options_create ();
    leveldb_options_set_compression (options, leveldb_no_compression);
    leveldb_options_set_paranoid_checks (options, 1);
    char *err = NULL;
    leveldb_t *db = leveldb_open (options, dir, &err);
    leveldb_options_destroy (options);
    if (!db) {
        *error = zsys_sprintf ("LevelDB repaired %s, but it does not open: %s", dir,
                               err ? err : "unknown error");
        leveldb_free (err);
        return SHOAL_EIO;
    }
    //  LevelDB's repair turns each log into a table of level 0 in the
    //  order the directory lists them, not their numbers', and a read of
    //  level 0 takes the table numbered highest first: of two logs (a
    //  crash while the node switched logs), the older one's values could
    //  stand over the newer's, and a key it held come back after a delete.
    //  A compaction of the whole store sorts them by their sequence, before
    //  anything is read.
    leveldb_compact_range (db, NULL, 0, NULL, 0);
    //  It says nothing of a failure (a full disk): level 0 left holding
    //  tables is one, and the repair is not done.
    char *level0 = leveldb_property_value (db, "leveldb.num-files-at-level0");
    bool compacted = level0 && strcmp (level0, "0") == 0;
    leveldb_free (level0);
    if (!compacted) {
        leveldb_close (db);
        //  Without CURRENT, no node opens it until a repair has ended.
        char current[PATH_MAX];
        snprintf (current, sizeof current, "%s/CURRENT", dir);
        bool refused = unlink (current) == 0 && dirsync_sync (dir, NULL) == 0;
        *error = zsys_sprintf ("LevelDB repaired %s, but its compaction after did not end (its "
                               "LOG says why: a full disk?), and until it does an older log's "
                               "values may stand over a newer's%s; run the repair again",
                               dir, refused ? " (a node refuses the store until then)" : "");
        return SHOAL_EIO;
    }
    uint8_t key[1 + KEYS_META_NAME_MAX];
    size_t key_len = keys_meta_key (key, JOURNAL_LOG_META);
    leveldb_readoptions_t *read = leveldb_readoptions_create ();
    size_t size = 0;
    char *mark = leveldb_get (db, read, (const char *) key, key_len, &size, &err);
    //  A fill of the log cut short is no lost mark: the node's next open
    //  undoes it and fills the log again (journal_log_backfill).
    uint8_t filling_key[1 + KEYS_META_NAME_MAX];
    size_t filling_len = keys_meta_key (filling_key, JOURNAL_LOG_FILLING_META);
    char *filling =
        mark || err ? NULL
                    : leveldb_get (db, read, (const char *) filling_key, filling_len, &size, &err);
    bool logged = false;
    if (!mark && !filling && !err)
        logged = journal_db_logged (db, read, &err);
    leveldb_free (mark);
    leveldb_free (filling);
    //  Only for the report: a last record that does not read leaves the
    //  end unknown (UINT64_MAX), and the repair goes on (check says it).
    if (err || journal_db_log_end (db, read, log_end) != 0)
        *log_end = UINT64_MAX;
    //  A record LevelDB's repair dropped from the middle of a log file
    //  (its checksum failed) leaves a hole in the event log, not a shorter
    //  end: found by a walk of the log, for the report (check does not).
    if (!err && journal_db_log_holes (db, read, &holes[0], &holes[1], &holes[2]) != 0)
        holes[0] = UINT64_MAX;
    //  An end cut short of what was acknowledged: kept, for check to say
    //  after this report is gone (it said the books were fine).
    char *lost = NULL;
    uint8_t lost_key[1 + KEYS_META_NAME_MAX];
    size_t lost_len = keys_meta_key (lost_key, JOURNAL_REPAIR_LOST_META);
    if (!err && *log_end != UINT64_MAX && *log_end < synced) {
        char *before = leveldb_get (db, read, (const char *) lost_key, lost_len, &size, &err);
        lost = zsys_sprintf ("%.*s%" PRId64 " %" PRIu64 " %" PRIu64 "\n", before ? (int) size : 0,
                             before ? before : "", zclock_time (), *log_end, synced);
        leveldb_free (before);
    }
    leveldb_readoptions_destroy (read);
    if (!err && (logged || lost)) {
        leveldb_writebatch_t *writes = leveldb_writebatch_create ();
        if (logged)
            leveldb_writebatch_put (writes, (const char *) key, key_len, "1", 1);
        if (lost)
            leveldb_writebatch_put (writes, (const char *) lost_key, lost_len, lost, strlen (lost));
        leveldb_writeoptions_t *write = leveldb_writeoptions_create ();
        leveldb_writeoptions_set_sync (write, 1);
        leveldb_write (db, write, writes, &err);
        leveldb_writeoptions_destroy (write);
        leveldb_writebatch_destroy (writes);
        *put = !err && logged;
    }
    zstr_free (&lost);
    leveldb_close (db);
    if (err) {
        *error = zsys_sprintf ("LevelDB repaired %s, but its event log's mark, or what it lost, "
                               "could not be read or put back: %s; run the repair again",
                               dir, err);
        leveldb_free (err);
        return SHOAL_EIO;
    }
    return 0;
}

//  s_repair_locked, with cleaned for what the logs' clean dropped.
static int s_repair_cleaning (const char *dir, zchunk_t *cleaned, char **report, char **error)
{
    //  First the marks of how far the log was synced and that no stream
    //  has a gap: the repair may drop any record (and says so), and a crash
    //  between the two must not leave them. Then
    //  CURRENT: LevelDB's repair moves the logs to lost/ (their records in
    //  new tables) long before it writes its MANIFEST and CURRENT, so a
    //  repair cut short there (SIGKILL, a power cut, Ctrl-C during its scan
    //  of the tables) left CURRENT naming the old MANIFEST, whose logs are
    //  gone: a node opened that store without them, and deleted the new
    //  tables no MANIFEST names. Without CURRENT the node refuses the store
    //  until a repair has ended (the repair does not read CURRENT).
    char path[PATH_MAX];
    uint64_t synced; //  how far the node said its log was durable (acknowledged)
    bool marked = journal_mark_read (dir, &synced);
    if (!marked) //  a repair cut short took it away: what it kept
        marked = journal_mark_read_file (dir, JOURNAL_SYNCED_KEPT, &synced);
    //  The logs without the records LevelDB's recovery refuses, which its
    //  repair would keep (logclean.c), before anything else is changed:
    //  a clean that fails leaves the store as it was, marks included.
    if (journal_logs_clean (dir, cleaned, error) != 0)
        return SHOAL_EIO;
    char kept[PATH_MAX];
    if (snprintf (kept, sizeof kept, "%s/%s", dir, JOURNAL_SYNCED_KEPT) >= (int) sizeof kept) {
        *error = zsys_sprintf ("the path of %s is too long", dir);
        return SHOAL_EINVAL;
    }
    const char *removed[] = {JOURNAL_SYNCED_FILE, JOURNAL_GAPLESS_FILE, JOURNAL_CHECK_FILE,
                             "CURRENT"};
    for (size_t i = 0; i < sizeof removed / sizeof removed[0]; i++) {
        if (snprintf (path, sizeof path, "%s/%s", dir, removed[i]) >= (int) sizeof path) {
            *error = zsys_sprintf ("the path of %s is too long", dir);
            return SHOAL_EINVAL;
        }
        //  SYNCED kept aside for a rerun of a repair cut short (its mark is
        //  what says a lost position was acknowledged), the rest removed.
        int gone = i == 0 ? rename (path, kept) : unlink (path);
        if (gone != 0 && errno != ENOENT) {
            *error =
                zsys_sprintf ("cannot remove %s before the repair: %s", path, strerror (errno));
            return SHOAL_EIO;
        }
    }
    if (dirsync_sync (dir, NULL) != 0) {
        *error = zsys_sprintf ("cannot sync %s before the repair: %s", dir, strerror (errno));
        return SHOAL_EIO;
    }
    if (journal_logs_swap (dir, error) != 0) //  the store refused until a repair ends
        return SHOAL_EIO;
    leveldb_options_t *options = leveldb_options_create ();
    leveldb_options_set_compression (options, leveldb_no_compression);
    //  Paranoid: the repair then reads tables with their checksums, so a
    //  block whose bytes still parse but fail the checksum (which the
    //  store's open refuses) is dropped too, not kept as it is.
    leveldb_options_set_paranoid_checks (options, 1);
    zlist_t *inputs = s_inputs (dir);
    if (!inputs) {
        leveldb_options_destroy (options);
        *error = zsys_sprintf ("cannot list %s: %s", dir, strerror (errno ? errno : ENOMEM));
        return SHOAL_EIO;
    }
    char *err = NULL;
    leveldb_repair_db (options, dir, &err);
    leveldb_options_destroy (options);
    zchunk_t *put_back = zchunk_new (NULL, 0);
    char *restore_error = NULL;
    int restored = put_back ? s_restore_uncopied (dir, inputs, put_back, &restore_error) : -1;
    zlist_destroy (&inputs);
    if (restored != 0) {
        if (restored > 0) {
            zchunk_extend (put_back, "", 1);
            *error = zsys_sprintf (
                "the repair of %s could not write the copies of %s (a full disk?%s%s): they "
                "are back in %s, and the store is left without CURRENT, for another repair; "
                "nothing was dropped: make room, then run the repair again",
                dir, (char *) zchunk_data (put_back), err ? " LevelDB: " : "", err ? err : "", dir);
        } else
            *error = zsys_sprintf ("the repair of %s set aside files it may not have copied, "
                                   "and putting them back failed (%s): do not start the node; "
                                   "move them back from %s/lost by hand and run the repair "
                                   "again",
                                   dir, restore_error ? restore_error : "out of memory", dir);
        free (restore_error);
        zchunk_destroy (&put_back);
        if (err)
            leveldb_free (err);
        return SHOAL_EIO;
    }
    zchunk_destroy (&put_back);
    if (err) {
        *error = zsys_sprintf ("LevelDB's repair of %s failed: %s; a node refuses the store until "
                               "a repair has ended: run the repair again",
                               dir, err);
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
    //  What LevelDB's repair said, read from its LOG before the store is
    //  opened again, which moves LOG to LOG.old and starts a new one (the
    //  report said "nothing dropped" after a record was).
    zchunk_t *said = zchunk_new (NULL, 0);
    snprintf (path, sizeof path, "%s/LOG", dir);
    FILE *file = regfile_fopen (path);
    char line[1024];
    while (file && fgets (line, sizeof line, file))
        if (strstr (line, "dropping") || strstr (line, "ignoring") || strstr (line, "Corruption") ||
            strstr (line, "rchiv") || strstr (line, "error") || strstr (line, "Log #") ||
            strstr (line, "Table #"))
            zchunk_extend (said, line, strlen (line));
    if (file)
        fclose (file);
    bool mark_put;
    uint64_t log_end, holes[3];
    int mark_rc = s_log_mark_back (dir, marked ? synced : 0, &mark_put, &log_end, holes, error);
    if (mark_rc == 0) //  the repair ended: the next marks are the node's
        unlink (kept);
    if (mark_rc || !report) {
        zchunk_destroy (&said);
        return mark_rc;
    }
    zchunk_t *lines = zchunk_new (NULL, 0);
    //  What the loss it accepts was: the acknowledged positions the log
    //  no longer holds (LevelDB's repair says nothing of a log cut short).
    char *loss = !marked ? NULL
                 : log_end == UINT64_MAX
                     ? zsys_sprintf ("shoal: the node had made the event log durable up to "
                                     "position %" PRIu64 " (%s), and the log's last record does "
                                     "not read: `shoal check` says what it holds\n",
                                     synced, JOURNAL_SYNCED_FILE)
                 : log_end < synced
                     ? zsys_sprintf ("shoal: the event log ends at position %" PRIu64
                                     ", but the node had made it durable up to %" PRIu64
                                     " (%s): the %" PRIu64 " positions from %" PRIu64 " to %" PRIu64
                                     " were acknowledged and are gone; the store is taken as "
                                     "it is (`shoal check` says so from now on)\n",
                                     log_end, synced, JOURNAL_SYNCED_FILE, synced - log_end,
                                     log_end, synced - 1)
                     : zsys_sprintf ("shoal: the event log ends at position %" PRIu64
                                     ", where the node had made it durable up to %" PRIu64
                                     " (%s): no acknowledged position is missing from its end\n",
                                     log_end, synced, JOURNAL_SYNCED_FILE);
    if (loss)
        zchunk_extend (lines, loss, strlen (loss));
    zstr_free (&loss);
    char *hole = holes[0] == UINT64_MAX
                     ? zsys_sprintf ("shoal: the event log has a record that does not read: "
                                     "`shoal check` says what it holds\n")
                 : holes[0]
                     ? zsys_sprintf ("shoal: the event log lacks %" PRIu64 " position%s before "
                                     "its end (the first from %" PRIu64 " to %" PRIu64 "): "
                                     "commits whose records were dropped%s; the store is taken "
                                     "as it is\n",
                                     holes[0], holes[0] == 1 ? "" : "s", holes[1], holes[2] - 1,
                                     marked && holes[1] < synced
                                         ? ", acknowledged (below the durable mark): what they "
                                           "did may be gone (`shoal check` says what the books "
                                           "hold)"
                                         : "")
                     : NULL;
    if (hole)
        zchunk_extend (lines, hole, strlen (hole));
    zstr_free (&hole);
    if (mark_put) {
        const char *put = "shoal: the event log's mark (metadata 'eventlog') was lost: put "
                          "back (the log keeps the records it has)\n";
        zchunk_extend (lines, put, strlen (put));
    }
    zchunk_extend (lines, zchunk_data (cleaned), zchunk_size (cleaned));
    zchunk_extend (lines, zchunk_data (said), zchunk_size (said));
    zchunk_destroy (&said);
    zchunk_extend (lines, "", 1);
    *report = strdup ((char *) zchunk_data (lines));
    zchunk_destroy (&lines);
    return 0;
}

static int s_repair_locked (const char *dir, char **report, char **error)
{
    zchunk_t *cleaned = zchunk_new (NULL, 0);
    if (!cleaned) {
        *error = strdup ("out of memory");
        return SHOAL_ENOMEM;
    }
    int rc = s_repair_cleaning (dir, cleaned, report, error);
    zchunk_destroy (&cleaned);
    return rc;
}
