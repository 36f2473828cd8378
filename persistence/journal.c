/*  journal.c - the node's LevelDB store itself: opening it (the checks of
    its directory and of its records' checksums (verify.c); its key layout, shard
    count and salt are layout.c's), closing it, the handle every use holds and its reopen after a
    failed write, the shard ranges and the commit-failure test hook (the
    repair of a damaged store, `shoal repair`, is journal_repair.c's). See
    journal.h for the API
    and keys.h for the key layout. The reads (versions, events, snapshots,
    inbox records, metadata) are in read.c; writes are staged and committed
    in batch.c; the outbox, timer and inbox scans are in scan.c.

    Contract: a store carries its key layout and shard count in its
    metadata ("layout" = KEYS_LAYOUT, "shards"), written when it is made
    (with "reaction-salt", JOURNAL_SALT_META);
    journal_open refuses a store without them (made by an older shoal) and
    a shard count that differs from the one asked for. It refuses a damaged
    store too (a directory of LevelDB files without CURRENT, a corruption
    found by LevelDB's recovery or by reading its records: every one at a
    tool's open, the event log's newest at a node's, verify.c), with a message
    naming the damage and `shoal repair`, and never makes a new store over
    one. A store it makes gets JOURNAL_GAPLESS_FILE beside it (no stream
    has a gap: a missing event 1 means no stream), which journal_repair
    removes before LevelDB's repair runs. Messages returned to the caller
    are theirs to free().

    Threads: any thread may use a journal_t. Its settings are fixed after
    journal_open; the handle is guarded as journal_internal.h says (the
    rwlock `handle`, the mutex `writing`), and the failure state and the
    commit-failure test counter are atomic.
*/
#include "journal_internal.h"
#include "dirsync.h"
#include "keys.h"
#include "storecopy.h"
#include "tablefile.h"
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <leveldb/c.h>
#include <limits.h>
#include <czmq.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>
#include "log.h"
#include "regfile.h"

#define DEFAULT_CACHE_BYTES (64u << 20)
#define WRITE_BUFFER_BYTES (16u << 20)
#define BLOOM_BITS_PER_KEY 10

//  --------------------------------------------------------------------------
//  Opening and closing

//  Sets the caller's error outputs, each of which may be NULL.
static void s_set_error (int *code, char **error, int value, char *message)
{
    if (code)
        *code = value;
    if (error)
        *error = message;
    else
        free (message);
}

//  True if a LevelDB open error says another holder has the LOCK file:
//  another process (fcntl: EAGAIN) or this one ("already held by process").
static bool s_is_lock_error (const char *err)
{
    return strstr (err, "lock ") && (strstr (err, "Resource temporarily unavailable") ||
                                     strstr (err, "already held by process"));
}

bool journal_holds_store (const char *dir)
{
    journal_dir_state_t state;
    return journal_dir_state (dir, &state) == 0 && (state.current || state.data_files > 0);
}

int journal_store_owner (const char *dir, uid_t *uid)
{
    if (!journal_holds_store (dir))
        return SHOAL_ENOTFOUND;
    struct stat st;
    char lock[PATH_MAX];
    snprintf (lock, sizeof lock, "%s/LOCK", dir);
    if (stat (lock, &st) != 0 && stat (dir, &st) != 0)
        return SHOAL_ENOTFOUND;
    *uid = st.st_uid;
    return 0;
}

//  The last line of dir's LevelDB info LOG that mentions a corruption,
//  which names the damaged file, or NULL. The caller frees it with free().
static char *s_corruption_line (const char *dir)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/LOG", dir);
    FILE *file = regfile_fopen (path);
    if (!file)
        return NULL;
    char line[1024];
    char *found = NULL;
    while (fgets (line, sizeof line, file))
        if (strstr (line, "Corruption") || strstr (line, "dropping")) {
            line[strcspn (line, "\n")] = '\0';
            //  Lines start with a date, a time and a thread id.
            char *text = line;
            for (int field = 0; field < 2 && strchr (text, ' '); field++)
                text = strchr (text, ' ') + 1;
            free (found);
            found = strdup (text);
        }
    fclose (file);
    return found;
}

//  The refusal of a store another process (or this one) holds. To free().
static char *s_busy (const char *dir)
{
    return zsys_sprintf ("data directory %s is in use by another process (LevelDB lock held)", dir);
}

//  Opens self->db in self->dir: a new store only if create (the caller
//  checked the directory holds none), and never over an existing one.
//  Returns 0, or a code with *message set (free with free()).
static int s_db_open (journal_t *self, bool create, bool reopen, char **message)
{
    leveldb_options_set_create_if_missing (self->options, create);
    leveldb_options_set_error_if_exists (self->options, create);
    char *err = NULL;
    self->db = leveldb_open (self->options, self->dir, &err);
    //  A full disk: the tables a compaction it cut short left behind hold
    //  room that nothing reads, and LevelDB would remove them only once
    //  open. Removed, the open is tried once more.
    uint64_t freed = 0;
    char names[256];
    if (err && strstr (err, "No space left") && !create &&
        journal_open_other (self->dir, self) == 0 &&
        journal_dead_tables_remove (self->dir, &freed, names, sizeof names) > 0) {
        //  An open the full disk cuts short leaves the tables it wrote: each
        //  retry removes them again, said once a minute.
        uint64_t times;
        if (log_due (&self->dead_said_at, &self->dead_unsaid, 60000, &times))
            log_warn ("journal %s: the disk is full: removed %s (%" PRIu64 " KiB), tables that "
                      "no version of the store names (left by a compaction or an open that the "
                      "full disk cut short)%s",
                      self->dir, names, freed >> 10,
                      times > 1 ? "; such tables were removed again at each retry" : "");
        leveldb_free (err);
        err = NULL;
        self->db = leveldb_open (self->options, self->dir, &err);
    }
    if (!err) {
        //  LevelDB's open writes what its log files hold into a synced
        //  table named by a synced MANIFEST, then renames CURRENT to that
        //  MANIFEST without syncing the directory: a power cut would bring
        //  back the old CURRENT, and the old log cut at its last fsync (a
        //  reopen's failed write kept whole; a killed node's last writes,
        //  read back from the page cache). Readers see them only once the
        //  directory is synced.
        bool opened = false;
        int dir_err = dirsync_sync (self->dir, &opened);
        if (dir_err == 0)
            return 0;
        if (opened) {
            log_error ("journal %s: cannot sync its directory after its open (%s); stopping the "
                       "node",
                       self->dir, strerror (dir_err));
            _exit (3); //  a failed fsync: as sync.c's
        }
        leveldb_close (self->db);
        self->db = NULL;
        *message = zsys_sprintf ("cannot open the journal in %s: its directory cannot be opened "
                                 "to sync it (%s)",
                                 self->dir, strerror (dir_err));
        return SHOAL_EIO;
    }
    self->db = NULL;
    int rc;
    if (s_is_lock_error (err)) {
        *message = s_busy (self->dir);
        rc = SHOAL_EBUSY;
    } else if (strncmp (err, "Corruption", 10) == 0) {
        char *line = s_corruption_line (self->dir);
        *message = zsys_sprintf ("the journal in %s is damaged and was not opened: %s%s%s%s; "
                                 "nothing was started on it (`shoal repair --data %s` can "
                                 "salvage what is readable)",
                                 self->dir, err, line ? " (LevelDB's LOG: " : "", line ? line : "",
                                 line ? ")" : "", self->dir);
        free (line);
        rc = SHOAL_EFORMAT;
    } else if (strstr (err, "No space left")) {
        //  The open writes LevelDB's log files out as a table: that much
        //  room, and some, before it can open (a few MiB freed may not do).
        //  ENOSPC is also a disk out of inodes (files), whatever its bytes:
        //  said so (it asked for MiB, with plenty free).
        journal_disk_t disk;
        journal_disk (self, &disk);
        if (disk.inodes_counted && disk.free_inodes == 0)
            *message = zsys_sprintf ("cannot open the journal in %s: %s: its disk has no free "
                                     "inodes (files) left, though %" PRIu64 " MiB are free: "
                                     "remove files from it, %s",
                                     self->dir, err, disk.free_bytes >> 20,
                                     reopen ? "and the node opens it again by itself"
                                            : "then start it again");
        else
            *message = zsys_sprintf (
                "cannot open the journal in %s: %s; its open writes LevelDB's "
                "log files (%" PRIu64 " MiB here) out as a table first: free "
                "at least %" PRIu64 " MiB on its disk, %s",
                self->dir, err, (disk.reopen_bytes - JOURNAL_REOPEN_SLACK) >> 20,
                disk.reopen_bytes >> 20,
                reopen ? "and the node opens it again by itself" : "then start it again");
        rc = SHOAL_EIO;
    } else {
        *message = zsys_sprintf ("cannot open the journal in %s: %s", self->dir, err);
        rc = SHOAL_EIO;
    }
    leveldb_free (err);
    return rc;
}

//  Takes a node's journal's hold on its directory (an flock, for as long
//  as it is open), before anything is written there: a second node's open
//  of the store, another process's or this one's, is refused as busy, as
//  LevelDB's lock would refuse it after. Not on LevelDB's LOCK file: a
//  close of a second descriptor of it would let go of LevelDB's own lock.
//  A directory that cannot be opened goes on without (LevelDB's open says
//  what is wrong). Returns 0 or SHOAL_EBUSY with *message set.
static int s_dir_lock (journal_t *self, char **message)
{
    int fd = open (self->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    if (flock (fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
        close (fd);
        *message = s_busy (self->dir);
        return SHOAL_EBUSY;
    }
    self->dir_lock = fd;
    return 0;
}

journal_t *journal_open (const char *dir, const journal_options_t *opts, int *code, char **error)
{
    if (error)
        *error = NULL;
    if (!dir || !*dir) {
        s_set_error (code, error, SHOAL_EINVAL, zsys_sprintf ("no data directory given"));
        return NULL;
    }
    int wanted = opts ? opts->shards : 0;
    if (wanted < 0 || wanted > SHOAL_SHARDS_MAX) {
        s_set_error (
            code, error, SHOAL_EINVAL,
            zsys_sprintf ("shard count %d is out of range (1 to %d)", wanted, SHOAL_SHARDS_MAX));
        return NULL;
    }
    journal_dir_state_t state;
    int os_error = journal_dir_state (dir, &state);
    if (os_error) {
        s_set_error (code, error, SHOAL_EIO,
                     zsys_sprintf ("cannot read data directory %s: %s", dir, strerror (os_error)));
        return NULL;
    }
    if (state.data_files && !state.current) {
        s_set_error (code, error, SHOAL_EFORMAT,
                     zsys_sprintf ("the store in %s has no CURRENT file but holds %d other "
                                   "LevelDB file%s (%s%s): it is damaged, and shoal never "
                                   "makes a new store over one (`shoal repair --data %s` can "
                                   "rebuild it from its files)",
                                   dir, state.data_files, state.data_files == 1 ? "" : "s",
                                   state.names, state.data_files > 4 ? ", ..." : "", dir));
        return NULL;
    }
    //  A store without shoal's mark file may be another program's: told
    //  from a copy, since LevelDB's open would rewrite its files.
    if (state.current && !journal_marked_store (dir)) {
        if (journal_open_other (dir, NULL) == 1) {
            s_set_error (code, error, SHOAL_EBUSY, s_busy (dir));
            return NULL;
        }
        char *message = NULL;
        int rc = journal_open_unmarked (dir, &message);
        if (rc) {
            s_set_error (code, error, rc, message);
            return NULL;
        }
    }
    char failed[PATH_MAX];
    int made = state.exists ? 0 : dirsync_create (dir, failed); //  its name durable too
    if (made) {
        s_set_error (code, error, SHOAL_EIO,
                     zsys_sprintf ("cannot create data directory %s: %s (%s)", dir, strerror (made),
                                   failed));
        return NULL;
    }
    journal_t *self = calloc (1, sizeof (journal_t));
    if (!self || !(self->dir = strdup (dir))) {
        free (self);
        s_set_error (code, error, SHOAL_ENOMEM, NULL);
        return NULL;
    }
    self->dir_lock = -1;
    pthread_rwlock_init (&self->handle, NULL);
    pthread_mutex_init (&self->writing, NULL);
    self->tail = log_tail_new (); //  none out of memory: reads go to the store
    journal_filters_init (self);  //  none out of memory: every lookup reads
    bool sync = opts ? opts->sync : true;
    journal_sync_init (self, sync);
    size_t cache_bytes = opts && opts->cache_bytes ? opts->cache_bytes : DEFAULT_CACHE_BYTES;

    self->options = leveldb_options_create ();
    self->filter = leveldb_filterpolicy_create_bloom (BLOOM_BITS_PER_KEY);
    self->cache = leveldb_cache_create_lru (cache_bytes);
    leveldb_options_set_paranoid_checks (self->options, 1);
    leveldb_options_set_filter_policy (self->options, self->filter);
    leveldb_options_set_cache (self->options, self->cache);
    leveldb_options_set_write_buffer_size (self->options, WRITE_BUFFER_BYTES);
    leveldb_options_set_compression (self->options, leveldb_no_compression);
    leveldb_env_t *env = tablefile_env (); //  tables written a MiB at a time
    if (env)
        leveldb_options_set_env (self->options, env);
    else
        log_warn ("journal %s: tablefile.cc's environment does not fit this LevelDB (another "
                  "version, or its C handles laid out otherwise): its table files are written "
                  "a block at a time",
                  dir);

    self->read = leveldb_readoptions_create ();
    leveldb_readoptions_set_verify_checksums (self->read, 1);
    self->write = leveldb_writeoptions_create ();
    leveldb_writeoptions_set_sync (self->write, false); //  sync.c syncs
    self->write_lazy = leveldb_writeoptions_create ();
    leveldb_writeoptions_set_sync (self->write_lazy, 0);
    atomic_init (&self->fail_after, 0);
    atomic_init (&self->failed, false);
    atomic_init (&self->retry_at, 0);
    atomic_init (&self->reopens, 0);
    atomic_init (&self->mark_renew, false);

    //  A node's gap check goes back past the bytes of LevelDB's log files,
    //  this open's and those of opens since the last check passed, written
    //  down before LevelDB's open turns them into tables (verify.c).
    //  A tool's open counts them too, and reads every record. A node's
    //  open does it under the journal's hold on the directory: a second
    //  start while a node runs is refused before it writes the file. (A
    //  tool opens a copy, whose directory `shoal check` holds itself, or a
    //  store of its own.)
    char *message = NULL;
    int rc = opts && opts->verify_later ? s_dir_lock (self, &message) : 0;
    uint64_t reach = 0;
    bool bounded = false; //  LOGCHECK says how far: reach
    if (rc == 0 && state.current &&
        (rc = journal_check_reach (dir, state.log_bytes, &reach, &bounded)) != 0)
        message = zsys_sprintf ("cannot open the journal in %s: its %s file can be neither "
                                "written nor removed (%s); a later start could check too "
                                "little of its event log",
                                dir, JOURNAL_CHECK_FILE, strerror (errno));
    bool zero = bounded && reach == 0; //  it says 0 already: not written again
    bounded = bounded && opts && opts->verify_later;
    if (rc == 0)
        rc = s_db_open (self, !state.current, false, &message);
    if (rc == 0)
        journal_open_add (self); //  its LOCK is held
    if (rc == 0)                 //  the store held: what a killed `shoal check` left goes
        storecopy_remove_stale (dir);
    if (rc == 0 && state.current)
        rc = bounded ? journal_verify_recent (self, reach, &message)
                     : journal_verify_all (self, &message);
    if (rc == 0 && !zero) //  a new store's too: its next open need not read it whole
        journal_check_passed (dir);
    if (rc == 0)
        rc = journal_open_layout (self, dir, wanted, &message);
    if (rc == 0 && (rc = journal_log_recover (self)) != 0)
        message = zsys_sprintf ("the event log of the store in %s is damaged: its last record "
                                "cannot be read (%s)",
                                dir, shoal_strerror (rc));
    if (rc == 0)
        rc = journal_mark_check (self, &message);
    int filled = rc == 0 ? journal_log_backfill (self) : 0;
    if (filled == SHOAL_EEXIST) {
        rc = SHOAL_EFORMAT;
        message = zsys_sprintf ("the store in %s is damaged: its event log holds records but "
                                "the mark that says it is whole (metadata '%s') is gone, and "
                                "filling the log again would log every event twice; `shoal "
                                "repair --data %s` puts the mark back",
                                dir, JOURNAL_LOG_META, dir);
    } else if (filled != 0) {
        rc = filled;
        message = zsys_sprintf ("cannot fill the event log of the store in %s from its "
                                "events (%s)",
                                dir, shoal_strerror (rc));
    }
    if (rc == 0 && (rc = journal_notes_fold (self)) != 0) {
        //  The store's own words (a full disk: "No space left on device"),
        //  not only the code's.
        char why[512] = "";
        journal_last_error (self, why, sizeof why);
        bool known = why[0] != 0;
        message = zsys_sprintf ("cannot fold the outbox notes of the store in %s into its "
                                "outbox (%s%s%s)",
                                dir, shoal_strerror (rc), known ? ": " : "", known ? why : "");
    }
    atomic_init (&self->note_next, 1);
    atomic_init (&self->records, 0);
    if (rc != 0) {
        s_set_error (code, error, rc, message);
        journal_destroy (&self);
        return NULL;
    }
    self->made = !state.current;
    if (state.current) { //  a store opened whole is past any repair: its kept mark goes
        char kept[PATH_MAX];
        if (snprintf (kept, sizeof kept, "%s/%s", dir, JOURNAL_SYNCED_KEPT) < (int) sizeof kept)
            unlink (kept);
    }
    return self;
}

void journal_destroy (journal_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    journal_t *self = *self_p;
    journal_open_remove (self);
    journal_sync_stop (self);
    journal_verify_stop (self);  //  its thread reads db
    journal_filters_stop (self); //  so does this one's
    if (self->db) {
        journal_sync_all (self); //  a clean close leaves every write durable
        leveldb_close (self->db);
    }
    journal_sync_close (self);
    leveldb_writeoptions_destroy (self->write_lazy);
    leveldb_writeoptions_destroy (self->write);
    leveldb_readoptions_destroy (self->read);
    leveldb_options_destroy (self->options);
    leveldb_cache_destroy (self->cache);
    leveldb_filterpolicy_destroy (self->filter);
    pthread_rwlock_destroy (&self->handle);
    pthread_mutex_destroy (&self->writing);
    log_tail_destroy (&self->tail);
    journal_filters_destroy (self);
    if (self->dir_lock >= 0)
        close (self->dir_lock);
    free (self->dir);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  Failed writes and the reopen
//
//  A LevelDB write that fails part-way (no space, an I/O error) may leave
//  the handle's log writer misaligned without marking the handle failed:
//  a later write on it would land after a torn record, and the next
//  recovery would drop it as corruption (or, with paranoid checks, refuse
//  the store). So a handle whose write failed is never written again:
//
//  1. Writes are serialized (the mutex `writing`): when one fails, no other
//     write is under way on the handle, and `failed` is set before the
//     mutex is released, so no write follows it. Every write before it
//     completed (flushed to the OS; in sync durability made durable by
//     sync.c after that) before it began; the torn record, if any, is the
//     log's tail.
//  2. The next journal_enter (the failing commit calls one at once) takes
//     the handle exclusive, which waits for every reader and writer to
//     leave it, closes it and opens the store again with paranoid checks.
//     Recovery replays the log; a record cut short at the log's end is
//     taken as a write that never completed (LevelDB's log reader), so the
//     reopen keeps everything before it and loses nothing acknowledged. Any
//     other damage fails the reopen (paranoid checks), never drops data.
//  3. While the reopen fails (the disk is still full: recovery writes a
//     table), the store is down: every call returns SHOAL_EIO at once, with
//     the cause in journal_last_error, and a reopen is tried again at most
//     every JOURNAL_RETRY_MS. A reopen that finds the store damaged stops
//     the process (exit code 3): the store must be looked at, not served;
//     so does a write LevelDB refused as corruption (a compaction met a
//     damaged table, and every write after would be refused again).
//
//  The cost: commits of different workers are no longer grouped by LevelDB
//  into one write (each worker still groups its own messages); in sync
//  durability they share their fsyncs instead (sync.c), which run outside
//  the mutex.

#define JOURNAL_RETRY_MS 200
#define JOURNAL_DOWN_SAY_MS 10000 //  a store still down is said this often

static _Thread_local int s_held; //  handles this thread holds shared

//  Closes and reopens the store after a failed write; see above.
static void s_reopen (journal_t *self)
{
    pthread_rwlock_wrlock (&self->handle);
    //  A write LevelDB refused as corruption: a compaction met a damaged
    //  table, and every write would be refused again after a reopen. The
    //  store must be looked at, not served; every start reads it whole,
    //  and refuses it, until a repair (verify.c).
    if (atomic_load (&self->failed) && strncmp (self->cause, "Corruption", 10) == 0) {
        bool marked = journal_check_full (self->dir);
        log_error ("journal %s: a write was refused: %s: the store is damaged; stopping the node "
                   "(exit 3)%s. `shoal repair --data %s` salvages what is readable",
                   self->dir, self->cause,
                   marked ? ": every start reads its whole store, and refuses it" : "", self->dir);
        _exit (3);
    }
    if (atomic_load (&self->failed) && zclock_mono () >= atomic_load (&self->retry_at)) {
        if (self->db)
            leveldb_close (self->db);
        self->db = NULL;
        //  The reopen turns the log files into a table too: counted for the
        //  next start's gap check, as an open's (verify.c).
        journal_dir_state_t state;
        uint64_t reach;
        bool bounded;
        if (journal_dir_state (self->dir, &state) == 0 && state.log_bytes &&
            journal_check_reach (self->dir, state.log_bytes, &reach, &bounded) != 0)
            log_warn ("journal %s: its %s file can be neither written nor removed: its next "
                      "start may check too little of its event log",
                      self->dir, JOURNAL_CHECK_FILE);
        char *message = NULL;
        int rc = s_db_open (self, false, true, &message);
        pthread_mutex_lock (&self->writing);
        //  The failed write may have been kept whole: the log goes on
        //  after whatever the store now holds.
        if (rc == 0 && (rc = journal_log_recover (self)) != 0)
            message = zsys_sprintf ("the event log's last record cannot be read (%s)",
                                    shoal_strerror (rc));
        if (rc == 0) {
            //  The recovered end may hold a failed write kept whole, made
            //  durable by the open (s_db_open syncs the directory); the next
            //  mark goes into a new file (sync.c).
            atomic_store (&self->mark_renew, true);
            atomic_store (&self->failed, false);
            atomic_fetch_add (&self->reopens, 1);
            log_warn ("journal %s: reopened after a failed write (%s)", self->dir, self->cause);
        } else {
            int64_t now = zclock_mono ();
            atomic_store (&self->retry_at, now + JOURNAL_RETRY_MS);
            atomic_store (&self->failed_at, now);
            snprintf (self->cause, sizeof self->cause, "%s", message ? message : "");
            //  Said now and then while it lasts: one ERROR at the failed
            //  write, then silence for as long as a disk stayed full.
            if (rc != SHOAL_EFORMAT && now - self->down_said_at >= JOURNAL_DOWN_SAY_MS) {
                self->down_said_at = now;
                log_warn ("journal %s: still down, its reopen failed: %s (tried again every "
                          "%d ms; every command is refused unavailable meanwhile)",
                          self->dir, self->cause, JOURNAL_RETRY_MS);
            }
        }
        pthread_mutex_unlock (&self->writing);
        if (rc == SHOAL_EFORMAT) {
            log_error ("journal %s: %s; stopping the node", self->dir, message);
            _exit (3);
        }
        free (message);
    }
    pthread_rwlock_unlock (&self->handle);
}

int journal_enter_read (journal_t *self)
{
    pthread_rwlock_rdlock (&self->handle);
    if (!self->db || atomic_load (&self->failed)) {
        pthread_rwlock_unlock (&self->handle);
        return SHOAL_EIO;
    }
    s_held++;
    return 0;
}

int journal_try_enter_read (journal_t *self)
{
    if (pthread_rwlock_tryrdlock (&self->handle) != 0)
        return SHOAL_EBUSY;
    if (!self->db || atomic_load (&self->failed)) {
        pthread_rwlock_unlock (&self->handle);
        return SHOAL_EIO;
    }
    s_held++;
    return 0;
}

int journal_enter (journal_t *self)
{
    if (atomic_load (&self->failed) && s_held == 0)
        s_reopen (self);
    return journal_enter_read (self);
}

void journal_leave (journal_t *self)
{
    s_held--;
    pthread_rwlock_unlock (&self->handle);
}

int journal_write_held (journal_t *self, const leveldb_writeoptions_t *options,
                        leveldb_writebatch_t *writes, bool hooked)
{
    return journal_write_log_held (self, options, writes, hooked, NULL, 0, 0);
}

int journal_write_log_held (journal_t *self, const leveldb_writeoptions_t *options,
                            leveldb_writebatch_t *writes, bool hooked, char *log, size_t log_size,
                            uint32_t count)
{
    uint64_t written;
    int rc =
        journal_write_unsynced_held (self, options, writes, hooked, log, log_size, count, &written);
    if (rc == 0 && options == self->write) //  durable, in async durability too
        rc = journal_sync_durable (self, written);
    return rc;
}

int journal_write_unsynced_held (journal_t *self, const leveldb_writeoptions_t *options,
                                 leveldb_writebatch_t *writes, bool hooked, char *log,
                                 size_t log_size, uint32_t count, uint64_t *written)
{
    int rc = 0;
    //  In sync durability LevelDB does not sync: sync.c does, for many
    //  writes at once.
    if (self->sync_group)
        options = self->write_lazy;
    pthread_mutex_lock (&self->writing);
    if (log && count > 0) {
        uint8_t key[KEYS_LOG_KEY_SIZE];
        keys_log_finish (&(msgpack_sbuffer){.data = log, .size = log_size}, count);
        leveldb_writebatch_put (writes, (const char *) key, keys_log_key (key, self->log_next), log,
                                log_size);
    }
    if (atomic_load (&self->failed))
        rc = SHOAL_EIO;
    else if (hooked && journal_commit_must_fail (self)) {
        snprintf (self->cause, sizeof self->cause, "a commit failed by the test hook");
        atomic_store (&self->failed, true);
        atomic_store (&self->failed_at, zclock_mono ());
        rc = SHOAL_EIO;
    } else {
        char *err = NULL;
        leveldb_write (self->db, options, writes, &err);
        if (err) {
            snprintf (self->cause, sizeof self->cause, "%s", err);
            atomic_store (&self->failed, true);
            atomic_store (&self->failed_at, zclock_mono ());
            log_error ("journal %s: a write failed: %s; the store will be reopened", self->dir,
                       err);
            leveldb_free (err);
            rc = SHOAL_EIO;
        }
    }
    if (rc == 0) {
        if (log && count > 0) {
            log_tail_push (self->tail, self->log_next, count, log, log_size);
            self->log_next += count;
        }
        journal_sync_wrote (self, self->log_next);
    }
    *written = self->write_seq;
    pthread_mutex_unlock (&self->writing);
    if (rc == 0)
        journal_sync_wanted (self);
    return rc;
}

//  The last failed read of this thread, in LevelDB's words: a read that
//  fails (a damaged table) leaves no write cause, and its refusal said
//  "storage error (no failure)". Per thread: the one that failed says it.
//  Kept with its time: the newer of it and the last failed write's cause
//  is the one said (a write that failed long ago, its store reopened
//  since, is not the cause of a read that fails now).
static __thread char s_read_error[256];
static __thread int64_t s_read_error_at; //  monotonic ms, 0: none

void journal_read_failed (char *err)
{
    snprintf (s_read_error, sizeof s_read_error, "a read failed: %s", err);
    s_read_error_at = zclock_mono ();
    leveldb_free (err);
}

void journal_last_error (journal_t *self, char *buf, size_t size)
{
    assert (self);
    pthread_mutex_lock (&self->writing);
    bool read_newer = s_read_error_at && s_read_error_at >= atomic_load (&self->failed_at);
    snprintf (buf, size, "%s", self->cause[0] && !read_newer ? self->cause : s_read_error);
    pthread_mutex_unlock (&self->writing);
}

int64_t journal_failed_ago_ms (journal_t *self, char *why, size_t size)
{
    assert (self);
    int64_t at = atomic_load (&self->failed_at);
    if (size)
        why[0] = 0;
    //  Never waits for a write in progress (the front asks): the cause is
    //  left out then, and said at the next ask.
    if (at && size && pthread_mutex_trylock (&self->writing) == 0) {
        snprintf (why, size, "%s", self->cause);
        pthread_mutex_unlock (&self->writing);
    }
    return at ? zclock_mono () - at : -1;
}

uint64_t journal_reopens (journal_t *self)
{
    assert (self);
    return atomic_load (&self->reopens);
}

uint64_t journal_records_written (journal_t *self)
{
    assert (self);
    return atomic_load (&self->records);
}

bool journal_made (const journal_t *self)
{
    assert (self);
    return self->made;
}

bool journal_marked_new (const journal_t *self)
{
    return self->marked_new;
}

int journal_shards (const journal_t *self)
{
    assert (self);
    return (int) self->shards;
}

uint32_t journal_shard (const journal_t *self, const char *stream)
{
    assert (self);
    assert (stream);
    return shoal_shard (stream, self->shards);
}

int journal_shard_range (const journal_t *self, uint32_t shard,
                         uint8_t start[JOURNAL_SHARD_KEY_SIZE], uint8_t end[JOURNAL_SHARD_KEY_SIZE])
{
    assert (self);
    if (shard >= self->shards)
        return SHOAL_EINVAL;
    //  'S' shard+1 as one 24-bit number: past the last shard it is 'T' 0 0.
    uint32_t first = ((uint32_t) 'S' << 16) | shard;
    uint32_t past = first + 1;
    for (int i = 0; i < JOURNAL_SHARD_KEY_SIZE; i++) {
        start[i] = (uint8_t) (first >> (8 * (JOURNAL_SHARD_KEY_SIZE - 1 - i)));
        end[i] = (uint8_t) (past >> (8 * (JOURNAL_SHARD_KEY_SIZE - 1 - i)));
    }
    return 0;
}

void journal_fail_commits_after (journal_t *self, int n)
{
    assert (self);
    atomic_store (&self->fail_after, n > 0 ? n : 0);
}

//  Counts one commit against the test hook. True if it must fail. Used by
//  journal_batch_commit (batch.c).
bool journal_commit_must_fail (journal_t *self)
{
    int n = atomic_load (&self->fail_after);
    while (n > 0) {
        if (n == 1)
            return true;
        if (atomic_compare_exchange_weak (&self->fail_after, &n, n - 1))
            return false;
    }
    return false;
}

//  --------------------------------------------------------------------------
//  Repair

int journal_iter_close (leveldb_iterator_t *it, int rc)
{
    char *err = NULL;
    leveldb_iter_get_error (it, &err);
    leveldb_iter_destroy (it);
    if (!err)
        return rc;
    journal_read_failed (err);
    return SHOAL_EIO;
}
