/*  journal_internal.h - what the journal's .c files share: the journal_t
    struct and the few helpers journal.c and read.c lend to the others.
    Internal to persistence/: other folders include journal.h only.

    Files: journal.c opens the store (and reopens it); journal_repair.c
    salvages a damaged one; read.c reads committed records and metadata; keys.c holds the key
    layout and record codecs (keys.h); batch.c stages and commits writes;
    scan.c walks the outbox, timers and inbox. A journal_batch_t's struct
    is private to batch.c, the one file that uses it.

    Threads: any thread may use a journal_t. Its LevelDB handle is guarded
    by the rwlock `handle`: every use of db holds it shared (journal_enter /
    journal_leave), and only a reopen after a failed write holds it
    exclusive. Writes are also serialized by the mutex `writing`, so that no
    write is ever issued on a handle after one of its writes failed (see
    journal.c, "Failed writes and the reopen").
*/
#ifndef JOURNAL_INTERNAL_H_INCLUDED
#define JOURNAL_INTERNAL_H_INCLUDED

#include "journal.h"
#include <leveldb/c.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

typedef struct _zchunk_t zchunk_t; //  czmq's

//  What a directory holds, as far as LevelDB goes (journal_disk.c).
typedef struct {
    bool exists;    //  the directory is there
    bool current;   //  a CURRENT file
    int data_files; //  NNN.log, NNN.ldb, NNN.sst, MANIFEST-NNN (LOCK, LOG, LOG.old hold no data)
    uint64_t log_bytes; //  of the NNN.log files: what an open writes out as tables
    char names[256];    //  some of them, for a message
} journal_dir_state_t;

//  Reads what dir holds into *state. Returns 0, or an errno (a directory
//  that is not there: 0, state->exists false).
int journal_dir_state (const char *dir, journal_dir_state_t *state);

typedef struct _log_tail_t log_tail_t;                 //  the log's latest records (logtail.c)
typedef struct _journal_filters_t journal_filters_t;   //  filters.c
typedef struct _journal_verifier_t journal_verifier_t; //  verify.c

#define JOURNAL_SYNC_LOGS_MAX 16 //  LevelDB log files a sync covers at most
#define JOURNAL_SYNC_RETRY_MS 10 //  logs not found: looked for again after
typedef struct {
    uint64_t number; //  NNNNNN.log
    int fd;          //  read-only
} journal_sync_log_t;

struct _journal_t {
    leveldb_t *db;                      //  the store; NULL while down (handle held)
    char *dir;                          //  its directory, owned
    dev_t dir_dev;                      //  its directory's device and inode, while open
    ino_t dir_ino;                      //  (journal.c, s_open_here)
    pthread_rwlock_t handle;            //  shared: any use of db; exclusive: reopen
    pthread_mutex_t writing;            //  held across each write to db
    atomic_bool failed;                 //  a write failed: db is not written again
    atomic_int_fast64_t retry_at;       //  no reopen before (monotonic ms)
    atomic_uint_fast64_t reopens;       //  reopens that succeeded
    atomic_int_fast64_t failed_at;      //  the last failed write or reopen (monotonic ms), 0 none
    int64_t dead_said_at;               //  dead tables removed: said then (log_due), under handle
    uint64_t dead_unsaid;               //  and removals since
    char cause[512];                    //  the last failure (under writing)
    leveldb_options_t *options;         //  open options, live as long as db
    leveldb_filterpolicy_t *filter;     //  bloom filter, owned
    leveldb_cache_t *cache;             //  block cache, owned
    leveldb_readoptions_t *read;        //  checksummed reads
    leveldb_writeoptions_t *write;      //  commits: synced unless async
    leveldb_writeoptions_t *write_lazy; //  prune deletes: never synced
    atomic_int fail_after;              //  test hook, 0 = off
    uint32_t shards;                    //  the store's shard count, fixed
    bool gapless;                       //  JOURNAL_GAPLESS_FILE is there (journal.c)
    bool made;                          //  journal_open made the store (journal_made)
    bool marked_new;                    //  ... or marked it new: it held no record (layout.c)
    int64_t down_said_at;               //  a failed reopen last logged (monotonic ms), under
                                        //  writing: one line every JOURNAL_DOWN_SAY_MS
    uint64_t log_next;                  //  the event log's next position (under writing)
    atomic_uint_fast64_t log_end;       //  the same, as visible to readers: synced
    atomic_uint_fast64_t note_next;     //  the next outbox note's position (notes.c)
    atomic_uint_fast64_t records;       //  records of the batches committed (batch.c)
    log_tail_t *tail;                   //  the log's latest records in memory, owned
    journal_filters_t *filters;         //  streams that may have 'i' records, events; owned
    journal_verifier_t *verifier;       //  the read of every record after a start, or NULL
    int dir_lock;                       //  flock on dir while open (-1: none), journal.c

    //  The group sync (sync.c). In sync durability (sync_group) writes
    //  are not synced by LevelDB: journal_sync makes them durable.
    bool sync_group;              //  sync durability
    uint64_t write_seq;           //  writes that completed (under writing)
    atomic_uint_fast64_t written; //  the same, for any thread
    atomic_uint_fast64_t synced;  //  the writes a sync made durable
    atomic_uint_fast64_t syncs;   //  syncs run
    pthread_mutex_t sync_lock;    //  guards syncing and the logs below
    pthread_cond_t sync_done;     //  a sync ended
    bool syncing;                 //  a thread runs a sync (under sync_lock)
    int sync_notify;              //  inotify on dir, -1 (under the running sync)
    bool sync_listed;             //  dir was listed, nothing missed since
    bool sync_notify_lost;        //  the watch ended: list at every sync
    bool sync_dir_due;            //  a new log's name may not be durable yet
    atomic_bool sync_stopping;    //  closing: a sync that cannot find the logs gives up
    int64_t sync_warned_at;       //  logs not found: last warned (mono ms)
    //  JOURNAL_SYNCED_FILE (sync.c): written by the syncer, at most once a
    //  JOURNAL_MARK_MS, with the event log's end a sync made durable.
    int mark_fd;            //  open once the first mark is due (-1: not yet, or cannot)
    uint64_t marked;        //  the position the file holds
    size_t mark_size;       //  its bytes
    int64_t marked_at;      //  when it was last written (monotonic ms)
    bool mark_warned;       //  a mark could not be written: said once
    bool mark_checked;      //  the open compared the store with the file: marks may be written
    atomic_bool mark_renew; //  a reopen: the next mark goes into a new file, renamed
    journal_sync_log_t sync_logs[JOURNAL_SYNC_LOGS_MAX]; //  oldest first
    size_t sync_log_count;
    int sync_event;             //  eventfd: +1 after each sync (journal_sync_fd)
    pthread_t syncer;           //  the thread that syncs (journal_sync_start)
    atomic_bool syncer_on;      //  it runs
    bool syncer_stop;           //  it is to stop (under sync_lock)
    pthread_cond_t sync_wanted; //  a write wants a sync (under sync_lock)
};

//  The group sync (sync.c). init: before the store is shared; group: sync
//  durability. wrote: a write completed (under the write mutex), the event
//  log's next position after it.
void journal_sync_init (journal_t *self, bool group);
void journal_sync_close (journal_t *self);
void journal_sync_wrote (journal_t *self, uint64_t log_next);
//  After a write, outside the write mutex: wakes the syncer thread.
void journal_sync_wanted (journal_t *self);

//  The stream filters (filters.c). init: at open (none out of memory);
//  add: before an 'i' key, or events, of stream (len bytes) are written;
//  absent: true only if the filters are ready and stream has no such
//  record (then the read of its key is spared); destroy: at close.
void journal_filters_init (journal_t *self);
void journal_filter_add (journal_t *self, journal_filter_t which, const char *stream, size_t len);
bool journal_filter_absent (journal_t *self, journal_filter_t which, const char *stream,
                            size_t len);
void journal_filters_destroy (journal_t *self);

//  The log's tail (logtail.c). push: a record just written (under the
//  write mutex), at first with count events; a record that does not follow
//  the last one empties the tail first. copy: the records from the one
//  that holds from (up to limit events, 0 = all) copied out into *out, or
//  SHOAL_ENOTFOUND when from is older than the tail (or it is empty);
//  from at the log's end copies nothing and returns 0.
typedef struct {
    uint64_t first; //  the record's first position
    size_t offset;  //  where it starts in the copy's bytes
    size_t size;    //  its bytes
} log_tail_item_t;
typedef struct {
    uint8_t *bytes;           //  the records, one after the other
    size_t size;              //  their bytes
    log_tail_item_t *records; //  each record's place
    size_t count;             //  how many
} log_tail_copy_t;
log_tail_t *log_tail_new (void);
void log_tail_destroy (log_tail_t **self_p);
void log_tail_clear (log_tail_t *self);
void log_tail_push (log_tail_t *self, uint64_t first, uint64_t count, const void *record,
                    size_t size);
int log_tail_copy (log_tail_t *self, uint64_t from, size_t limit, log_tail_copy_t *out);
void log_tail_copy_free (log_tail_copy_t *copy);

//  Counts one commit against the test hook (journal_fail_commits_after).
//  True if it must fail. Any thread.
bool journal_commit_must_fail (journal_t *self);

//  Takes the handle shared. If the store is down (a write failed), first
//  tries to reopen it, at most every JOURNAL_RETRY_MS and only when this
//  thread holds no handle yet. Returns 0 (then call journal_leave) or
//  SHOAL_EIO when the store is down.
int journal_enter (journal_t *self);
//  The same, but a store that is down is left down (SHOAL_EIO at once):
//  for a reader that must never reopen it (verify.c's later read).
int journal_enter_read (journal_t *self);
//  The same, without waiting: SHOAL_EBUSY if the handle is taken apart
//  (a reopen under way).
int journal_try_enter_read (journal_t *self);
void journal_leave (journal_t *self);

//  Writes writes with options, the caller holding the handle (journal_enter).
//  Serialized with every other write. With options `write`, returns once
//  the write is durable (journal_sync; in async durability, where nothing
//  else is synced, journal_sync_logs_now: an operator's decision, a dead
//  letter, metadata); `write_lazy`, once it is written. On a failure (or the test
//  hook) the store is marked failed and never written again through this handle: the next
//  journal_enter reopens it. hooked: the test hook (journal_fail_commits_after) counts this write.
//  Returns 0 or SHOAL_EIO.
//  Syncs LevelDB's logs now, as the group sync does (every log still
//  there, a new one's directory entry), whatever the durability: what
//  async durability syncs all the same. A failed fdatasync stops the node
//  (exit 3), as in sync durability: the write it was to make durable is
//  in the store already. Returns 0, or SHOAL_EIO when the node stops with
//  its logs not found.
int journal_sync_logs_now (journal_t *self);

//  Makes the writes up to written durable, whatever the durability: the
//  group sync's journal_sync in sync, journal_sync_logs_now in async.
//  Returns 0 or SHOAL_EIO.
int journal_sync_durable (journal_t *self, uint64_t written);

int journal_write_held (journal_t *self, const leveldb_writeoptions_t *options,
                        leveldb_writebatch_t *writes, bool hooked);

//  The same, adding the log record of the batch's events to writes at the
//  event log's next position, which it advances when the write succeeds.
//  log is a log record built with keys_log_begin/append (its header not
//  yet patched) of count events; NULL or count 0 for none.
int journal_write_log_held (journal_t *self, const leveldb_writeoptions_t *options,
                            leveldb_writebatch_t *writes, bool hooked, char *log, size_t log_size,
                            uint32_t count);

//  The same, returning once the write is in the store, durable or not, and
//  setting *written to journal_written after it (the write's own count
//  when it succeeded).
int journal_write_unsynced_held (journal_t *self, const leveldb_writeoptions_t *options,
                                 leveldb_writebatch_t *writes, bool hooked, char *log,
                                 size_t log_size, uint32_t count, uint64_t *written);

//  Finds the event log's next position from its last record, using db
//  directly (at open, and in a reopen, which holds the handle exclusive).
//  Returns 0, or SHOAL_EFORMAT for a damaged last record, SHOAL_EIO. In
//  eventlog.c, as is the one-time filling of the log of a store made
//  before it existed (journal_log_backfill, at open).
int journal_log_recover (journal_t *self);
#define JOURNAL_LOG_META "eventlog" //  metadata: "1" once the log holds every event
//  Metadata "1" while journal_log_backfill fills the log of a store made
//  before it: log records without JOURNAL_LOG_META are then a fill cut
//  short (deleted, and filled again), not a lost mark.
#define JOURNAL_LOG_FILLING_META "eventlog-filling"
//  A file in the store's directory, made with the store and removed by
//  journal_repair before LevelDB's repair runs: while it is there, no
//  stream's events have a gap (shoal deletes no event, and LevelDB loses
//  none that it acknowledged but through its repair), so a stream whose
//  seqs do not follow each other is damaged (journal_read_creator refuses
//  it).
#define JOURNAL_GAPLESS_FILE "GAPLESS"

//  A file in the store's directory that says the store is shoal's, made
//  with the store (and beside a store made before it, at its next open).
//  A directory whose store lacks it is judged from a private copy before
//  LevelDB opens it (journal_open_unmarked): LevelDB's open rewrites a
//  store's files, and another program's store must be left as it was.
#define JOURNAL_STORE_FILE "SHOAL"

//  A file in the store's directory that carries the reach of a node's gap
//  check across opens (verify.c): "pending N", the bytes of LevelDB's log
//  files that opens read back since the last check passed, added before
//  each open (which turns those files into tables) and set to 0 once a
//  check passes; or "full", every record to be read at the next open (a
//  gap or damage found while the node served, a write refused as
//  corruption). No file, or one that does not read: every record is read
//  (a store last opened by an older shoal). journal_repair removes it.
#define JOURNAL_CHECK_FILE "LOGCHECK"

//  A file in the store's directory holding the event log's end that a
//  sync made durable, as lines of 20 digits (the last one counts),
//  appended and fdatasync'd by the syncer at most once a JOURNAL_MARK_MS
//  while the end moves, and at a clean close (sync.c). A store opened whose event log
//  ends before it has lost writes that were acknowledged (a log file
//  truncated or deleted while stopped, a disk that dropped them), which
//  LevelDB takes for a crash's torn tail and drops without a word: the
//  open refuses it (journal_mark_check). journal_repair takes it away
//  before LevelDB's repair runs, as GAPLESS (the repair says what it
//  dropped), by a rename to JOURNAL_SYNCED_KEPT, which a repair cut short
//  and run again reads when SYNCED is gone (it then said nothing of what
//  was acknowledged), and which a repair that ends removes, and so does
//  an open that passes (a repair that failed after LevelDB's, then a
//  node in async durability, left it for a much later repair to read).
#define JOURNAL_SYNCED_FILE "SYNCED"
#define JOURNAL_SYNCED_KEPT "SYNCED.repair"
#define JOURNAL_MARK_MS 1000
#define JOURNAL_MARK_ROTATE 4096 //  bytes of marks before a new file
//  Reads every record of self's store, just opened, with its checksums,
//  and checks that its event log has no gap (while the store is marked
//  gapless). Returns 0, or SHOAL_EFORMAT (or SHOAL_ENOMEM) with *message
//  set (free with free()). verify.c.
int journal_verify_all (journal_t *self, char **message);
//  The same gap check over the event log's newest records only, back past
//  log_bytes of them (what LevelDB's log files held before this open) and
//  one more: at a node's start, which reads the rest later
//  (journal_verify_start). Returns 0, or SHOAL_EFORMAT with *message set.
int journal_verify_recent (journal_t *self, uint64_t log_bytes, char **message);
//  JOURNAL_CHECK_FILE (verify.c), written under the journal's hold on
//  its directory (journal.c) and, in the process, one writer at a time.
//  reach: before LevelDB opens the store in dir, whose log files hold
//  log_bytes: the bytes a node's check must go back past (*pending), with
//  this open's added and written down first; *bounded false if every
//  record must be read (no file, "full", or it could not be written: then
//  it is removed). Returns 0, or SHOAL_EIO if it could be neither written
//  nor removed (the open is refused: a start after it could check too
//  little). passed: a check passed, the reach is 0 again (best effort: no
//  file means a whole read next time). full: the next open reads every
//  record (false if the file could be neither written nor removed).
int journal_check_reach (const char *dir, uint64_t log_bytes, uint64_t *pending, bool *bounded);
void journal_check_passed (const char *dir);
bool journal_check_full (const char *dir);

//  Reads the last whole mark of DIR/JOURNAL_SYNCED_FILE into *marked.
//  False (and *marked 0) if there is none; a file without a whole mark
//  is logged.
bool journal_mark_read (const char *dir, uint64_t *marked);
//  The same, of DIR/name.
bool journal_mark_read_file (const char *dir, const char *name, uint64_t *marked);
//  Compares the store's event log end with JOURNAL_SYNCED_FILE, after the
//  log's recovery. Returns 0, or SHOAL_EFORMAT (a damaged store) with
//  *message (free() it).
int journal_mark_check (journal_t *self, char **message);

//  Fills the event log from the events of a store that has no log mark
//  yet (a new one, or one made before the log) and writes the mark with
//  its last record; a fill cut short (JOURNAL_LOG_FILLING_META) is
//  undone and done again. Returns 0, SHOAL_EEXIST when the mark is
//  missing but the log holds records and no fill was under way (a
//  damaged store: a fill would log every event twice; nothing is
//  written), or another error.
int journal_log_backfill (journal_t *self);

//  Whether the LevelDB store db holds an event log record; *err (a
//  LevelDB error, to leveldb_free) if it could not be read. For the
//  backfill and for a repair, which has no journal_t.
bool journal_db_logged (leveldb_t *db, const leveldb_readoptions_t *read, char **err);
//  The position after the last event of db's event log into *end (0: no
//  log record). Returns 0, or SHOAL_EIO / SHOAL_EFORMAT (the last record
//  does not read).
int journal_db_log_end (leveldb_t *db, const leveldb_readoptions_t *read, uint64_t *end);
//  A repair's first step (logclean.c): each LevelDB log file of dir read
//  with its checksums; one holding records that fail them is written again
//  without them beside it, as NAME.clean (LevelDB's repair, which reads
//  logs without checksums, would keep their bytes), the original kept in
//  dir/lost/NAME.damaged, and a line "shoal: NAME: dropping N bytes; ..."
//  appended to said. Returns 0, or SHOAL_EIO / SHOAL_EINVAL with *error
//  (free() it), the store unchanged.
int journal_logs_clean (const char *dir, zchunk_t *said, char **error);
//  Puts each NAME.clean of dir in place of its log NAME, and syncs dir.
//  Returns 0, or SHOAL_EIO with *error (free() it).
int journal_logs_swap (const char *dir, char **error);
//  The positions db's event log lacks before its last record (they are
//  dense from 0: a hole is a commit a repair dropped, or a table lost)
//  into *missing, the first hole's [*from, *to) (0 and 0: none). Reads
//  every log record. Returns 0, or SHOAL_EIO / SHOAL_EFORMAT (a record
//  that does not read: the scan stops there).
int journal_db_log_holes (leveldb_t *db, const leveldb_readoptions_t *read, uint64_t *missing,
                          uint64_t *from, uint64_t *to);

//  Folds the outbox notes a store holds into 'o' keys and deletes them,
//  in one synced write (at open, before the store is shared). In notes.c.
int journal_notes_fold (journal_t *self);

//  Stages a put of value under key in batch (a delete when value is NULL).
//  In batch.c, for views.c. Returns 0.
int journal_batch_stage (journal_batch_t *batch, const uint8_t *key, size_t key_len,
                         const uint8_t *value, size_t size);

//  Copies bytes into a fresh buffer for the caller to free(); never
//  returns NULL for size 0 unless memory ran out. In read.c.
uint8_t *journal_memdup (const void *bytes, size_t size);

//  Destroys an iterator that a read or scan is done with. Returns rc, or
//  SHOAL_EIO if the iterator met a storage error on the way.
int journal_iter_close (leveldb_iterator_t *it, int rc);

//  Keeps LevelDB's error err of a read that failed, for this thread's
//  journal_last_error, and frees it.
void journal_read_failed (char *err);

//  layout.c: checks the layout, shard count and salt of the store just
//  opened in dir (wanted: the shard count asked for, 0 for any), marking a
//  new store. Returns 0, or a SHOAL_E… code with *message (to free).
int journal_open_layout (journal_t *self, const char *dir, int wanted, char **message);
//  True if dir holds JOURNAL_GAPLESS_FILE.
bool journal_marked_gapless (const char *dir);

//  True if dir holds JOURNAL_STORE_FILE.
bool journal_marked_store (const char *dir);

//  Whose the store in dir is, for a store without JOURNAL_STORE_FILE,
//  told from a private copy beside it (storecopy_new_linked), so that
//  nothing of dir is written: a store without shoal's metadata is refused
//  as journal_open_layout would refuse it after an open, and one LevelDB
//  refuses for its comparator is another program's. Returns 0 (shoal's,
//  empty, or no copy could be made or read: the open tells), or a code
//  with *message set (free with free()): SHOAL_EINVAL another program's,
//  SHOAL_EVERSION an older shoal's or this one's without its metadata,
//  SHOAL_EBUSY a process holds the store. layout.c.
int journal_open_unmarked (const char *dir, char **message);

//  openset.c: the stores this process has open. journal_open_other: 1 if
//  a journal other than except (NULL: any) has the store in dir open, 0
//  if none, -1 if dir cannot be looked at; journal_open_add counts self
//  (its dir_dev and dir_ino set; not counted out of memory), and
//  journal_open_remove forgets it.
int journal_open_other (const char *dir, const journal_t *except);
void journal_open_add (journal_t *self);
void journal_open_remove (journal_t *self);

//  deadtables.c: removes the table files of the store in dir (not open:
//  its LOCK is taken) that no version its MANIFEST builds names, whatever
//  their number, and its empty logs: what a compaction or an open that a
//  full disk cut short left. Nothing if the MANIFEST does not read whole
//  or another process holds the store. Returns how many tables; *bytes
//  freed, their names in names (names_size bytes, "..." past it).
int journal_dead_tables_remove (const char *dir, uint64_t *bytes, char *names, size_t names_size);

#endif
