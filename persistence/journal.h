/*  journal.h - a node's one LevelDB store: event streams, snapshots,
    inbox records, outbox entries, timers and metadata.

    The key layout and the record formats are in keys.h (internal to
    persistence/). Every record of an actor lives in its shard
    (common/shard.h), and one shard's records are one contiguous key range,
    journal_shard_range. The shard count is the store's, fixed when it is
    made. The implementation is journal.c (open, the handle, repair),
    read.c (reads, metadata), batch.c (batches and their commit) and
    scan.c (outbox, timer and inbox scans); journal_internal.h holds what
    they share.

    A stream's version is the number of events in it (its last seq; seqs
    start at 1). Writes are staged in a journal_batch_t and committed in one
    LevelDB write (group commit), synced unless the journal was opened with
    durability async. A batch also answers reads of what it has staged
    (stream versions, inbox records), so a worker sees its own writes
    before they are committed.

    Faults: a write that fails (no space, an I/O error) fails its commit,
    and the store handle is never written again: the journal closes it and
    opens the store anew (journal.c, "Failed writes and the reopen"), which
    keeps every write that succeeded. Until that reopen succeeds the store
    is down: every call returns SHOAL_EIO, journal_last_error says why.

    Threads: a journal_t may be used from many threads at once (LevelDB is
    thread-safe; the reopen takes the handle from every thread); a
    journal_batch_t belongs to one thread.
*/
#ifndef JOURNAL_H_INCLUDED
#define JOURNAL_H_INCLUDED

#include "shard.h"
#include "shoal_base.h"

#include <sys/types.h>

#define JOURNAL_ANY (-1)    //  expected version: append whatever the version
#define JOURNAL_NO_STREAM 0 //  expected version: the stream must not exist
#define JOURNAL_ID_SIZE 16
//  The highest seq a stream may reach, so that "the next seq" always fits.
#define JOURNAL_SEQ_MAX (INT64_MAX - 1)
//  The bytes of a shard range's bounds (journal_shard_range).
#define JOURNAL_SHARD_KEY_SIZE 3

typedef struct _journal_t journal_t;
typedef struct _journal_batch_t journal_batch_t;

typedef struct {
    bool sync;          //  sync durability: commits made durable by fsyncs (sync.c;
                        //  default true); false: never fsynced
    size_t cache_bytes; //  LevelDB block cache (default 64 MiB)
    int shards;         //  shard count: a new store's (0 = SHOAL_SHARDS_DEFAULT);
                        //  if not 0, an existing store must have as many
    bool verify_later;  //  a node's open: only the event log's newest records are read
                        //  at open (those LevelDB's log files held), the rest by
                        //  journal_verify_start; else every record is read at open
} journal_options_t;

//  The command an inbox record answered, kept so that its id cannot be
//  reused for another request: a digest of its name and payload
//  (journal_request_digest) and its name. digest 0 means "not recorded"
//  (a record made before digests were kept), which matches any command.
typedef struct {
    uint64_t digest;
    char name[SHOAL_NAME_MAX + 1];
} journal_request_t;

//  The digest of a command: 64-bit FNV-1a over name, a NUL and payload;
//  never 0. Can't fail.
uint64_t journal_request_digest (const char *name, const uint8_t *payload, size_t size);

//  One event to append: name and msgpack map data (borrowed).
typedef struct {
    const char *name;
    const uint8_t *data;
    size_t size;
} journal_event_t;

//  Opens the store in dir, or makes one if dir is absent or holds no
//  LevelDB data file (never over an existing store). It is opened with
//  paranoid checks, and every record is read with its checksum once, so
//  that a damaged log or table refuses the open (SHOAL_EFORMAT, the
//  message names the problem and the file when LevelDB does) rather than
//  start on part of the data; so does a store that lost its CURRENT file.
//  A new store
//  gets opts->shards shards (SHOAL_SHARDS_DEFAULT if 0) and the key layout
//  mark, written to its metadata ("shards", "layout") before anything
//  else. Returns NULL and sets *error to a message (the caller frees it
//  with free()) and *code to: SHOAL_EBUSY when another process holds dir;
//  SHOAL_EINVAL when opts->shards is out of range (1 to SHOAL_SHARDS_MAX)
//  or, not 0, differs from the existing store's count (the message names
//  both); SHOAL_EVERSION for a store of another key layout (made by an
//  older shoal: there is no migration); SHOAL_EFORMAT for a store whose
//  shard count is damaged; else SHOAL_EIO. opts may be NULL for the
//  defaults.
journal_t *journal_open (const char *dir, const journal_options_t *opts, int *code, char **error);

//  Closes the store. Safe to call twice.
void journal_destroy (journal_t **self_p);

//  The store's shard count, fixed when it was made: 1 to SHOAL_SHARDS_MAX.
int journal_shards (const journal_t *self);

//  True if journal_open made this store (its directory held none; LevelDB
//  was told to fail if one was there), false if it opened one that was.
bool journal_made (const journal_t *self);

//  True if journal_open marked this store new: it made it, or LevelDB's
//  store there held no record at all (no shoal metadata).
bool journal_marked_new (const journal_t *self);

//  The shard of stream in this store: shoal_shard (stream, shards).
uint32_t journal_shard (const journal_t *self, const char *stream);

//  The first shard at or past from that holds a record of an actor, into
//  *shard. Returns 0, SHOAL_ENOTFOUND if none does, or SHOAL_EIO.
int journal_shard_next (journal_t *self, uint32_t from, uint32_t *shard);

//  The key range ['S' shard, 'S' shard+1) that holds every record of the
//  actors of shard: start is its first key, end the first key past it.
//  Returns 0, or SHOAL_EINVAL if shard is not below journal_shards.
int journal_shard_range (const journal_t *self, uint32_t shard,
                         uint8_t start[JOURNAL_SHARD_KEY_SIZE],
                         uint8_t end[JOURNAL_SHARD_KEY_SIZE]);

//  Test hook: the Nth commit from now (1 = the next) and every one after
//  it fails with SHOAL_EIO, writing nothing. 0 turns it off.
void journal_fail_commits_after (journal_t *self, int n);

//  Copies the cause of the last failed write (or reopen) into buf, else
//  of this thread's last failed read, else "".
void journal_last_error (journal_t *self, char *buf, size_t size);

//  How long ago (ms) a write or a reopen of the store last failed; -1 if
//  none did since the journal was opened; and why into why (size bytes),
//  unless a write is in progress (then ""): it never waits. What stats say
//  of the store (a full disk: writes fail, then a reopen works, then the
//  next write fails: the store is down only in between).
int64_t journal_failed_ago_ms (journal_t *self, char *why, size_t size);

//  How many times the store was reopened after a failed write.
uint64_t journal_reopens (journal_t *self);

//  Durability (sync.c). In sync durability a write is not synced by
//  LevelDB: it is visible to readers at once, and durable once a sync
//  that began after it completed. Writes are counted from 1 in the order
//  they completed; journal_written is the last one's count,
//  journal_synced the count of those made durable. In async durability
//  both are the same and nothing is synced.
uint64_t journal_written (journal_t *self);
uint64_t journal_synced (journal_t *self);

//  journal_written once no write is under way: a write is readable a moment
//  before it is counted, so a thread that read the store and wants what it
//  read durable syncs up to this (after its read), not journal_written.
uint64_t journal_written_all (journal_t *self);

//  Returns once the first upto writes are durable: at once if they are,
//  else after a sync of the store's log files (one thread's sync covers
//  every write before it; the others wait for it, or run the next). A sync
//  that fails stops the process (exit code 3): see sync.c. Returns 0, or
//  SHOAL_EIO once the journal is closing and its log files cannot be
//  found (out of descriptors): nothing acknowledged waits for that.
int journal_sync (journal_t *self, uint64_t upto);

//  journal_sync of every write completed so far.
int journal_sync_all (journal_t *self);

//  Starts a thread that syncs whenever a write is not durable yet (sync
//  durability; nothing in async), so that no writer has to wait for a sync
//  it does not need: the node's, whose front holds what leaves it until
//  journal_synced covers it. Stopped by journal_sync_stop or
//  journal_destroy. Returns 0, SHOAL_ENOMEM or SHOAL_EIO (no eventfd).
int journal_sync_start (journal_t *self);
void journal_sync_stop (journal_t *self);

//  The stream filters (persistence/filters.c): which streams may have an
//  inbox record ('i' key), and which may have events. Started, a thread
//  reads the store's keys once, after which a lookup of a stream with
//  none (a client's first command to a new stream) answers without a
//  read. Until it is done (journal_filters_ready) every lookup reads the
//  store, as without them. A node starts them after its open; tools need
//  not. Returns 0 or SHOAL_ENOMEM. Stopped by journal_filters_stop or
//  journal_destroy.
typedef enum {
    JOURNAL_FILTER_INBOX,   //  streams that may have an 'i' record
    JOURNAL_FILTER_STREAMS, //  streams that may have events
    JOURNAL_FILTERS
} journal_filter_t;
int journal_filters_start (journal_t *self);
void journal_filters_stop (journal_t *self);
bool journal_filters_ready (journal_t *self);
//  Reads of the store that a filter spared so far.
uint64_t journal_filter_skips (journal_t *self, journal_filter_t which);

//  The read of every record with its checksums that follows a node's
//  start (opened with verify_later; verify.c): on a thread of its own, a
//  third of a core at most, a part of the store at a time. start: 0, or
//  SHOAL_ENOMEM (or SHOAL_EIO, the store down); stopped by
//  journal_verify_stop (which returns where it stood then) or
//  journal_destroy. state: where it stands, and
//  what it found into damage (size bytes; "" unless damaged). name: the
//  state's word in stats and logs.
typedef enum {
    JOURNAL_VERIFY_OFF,     //  not started (a tool's open read every record already)
    JOURNAL_VERIFY_READING, //  under way
    JOURNAL_VERIFY_WHOLE,   //  every record read, every checksum and the event log whole
    JOURNAL_VERIFY_DAMAGED, //  a table is damaged, or the event log has a gap
    JOURNAL_VERIFY_STOPPED  //  the journal closed first, or IO errors 50 times in a row
} journal_verify_state_t;
int journal_verify_start (journal_t *self);
journal_verify_state_t journal_verify_state (journal_t *self, char *damage, size_t size);
const char *journal_verify_name (journal_verify_state_t state);
journal_verify_state_t journal_verify_stop (journal_t *self);

//  While the syncer runs: a file descriptor (an eventfd) that becomes
//  readable after each sync, for poll (read it to clear it); else -1.
int journal_sync_fd (journal_t *self);

//  Syncs run so far (each covering one or more writes).
uint64_t journal_syncs (journal_t *self);

//  Records (puts and deletes) of the batches committed through this handle
//  so far, whoever staged them (workers, projections, the janitor).
uint64_t journal_records_written (journal_t *self);

//  The committed version of stream, 0 if it has no events.
int journal_version (journal_t *self, const char *stream, int64_t *version);

//  Called for each event read, in order. Return non-zero to stop early.
typedef int (journal_event_fn) (void *arg, int64_t seq, const char *name, const uint8_t *data,
                                size_t size, int64_t created);

//  Reads stream's committed events with seq >= from, at most limit of them
//  (0 = all). Returns 0, or SHOAL_EFORMAT/SHOAL_EIO. In a store marked
//  gapless (JOURNAL_GAPLESS_FILE) the events read must be from, from + 1,
//  ... (or 1, 2, ... for from < 1): a hole is SHOAL_EFORMAT, after fn got
//  the events before it (a load then fails, and nothing is appended).
int journal_read (journal_t *self, const char *stream, int64_t from, size_t limit,
                  journal_event_fn *fn, void *arg);

//  As journal_read; besides, when event 1 is read and holds the inbox
//  record of the command that created stream (keys.h), copies that
//  command's id into creator and sets *has_creator (else leaves both).
int journal_read_creator (journal_t *self, const char *stream, int64_t from, size_t limit,
                          journal_event_fn *fn, void *arg, uint8_t creator[JOURNAL_ID_SIZE],
                          bool *has_creator);

//  The id of the command that created stream, read from its first event
//  (one get). Returns 0, SHOAL_ENOTFOUND if the stream has no event or its
//  first event holds no inbox record, SHOAL_EFORMAT or SHOAL_EIO.
int journal_creator_id (journal_t *self, const char *stream, uint8_t id[JOURNAL_ID_SIZE]);

//  The inbox record of command id that stream's first event holds, as
//  journal_inbox_find gives an 'i' record: SHOAL_ENOTFOUND when the first
//  event holds another command's record, or none.
int journal_creator_find (journal_t *self, const char *stream, const uint8_t id[JOURNAL_ID_SIZE],
                          uint8_t **reply, size_t *size, journal_request_t *request);

//  Called for each stream found by journal_stream_scan, with its name
//  (borrowed for the call). Return non-zero to stop the scan.
typedef int (journal_stream_fn) (void *arg, const char *stream);

//  Calls fn for each stream that has committed events, in key order; fn
//  may read the journal. A key that does not parse is skipped with a
//  warning. Returns 0 or SHOAL_EIO. O(streams) seeks.
int journal_stream_scan (journal_t *self, journal_stream_fn *fn, void *arg);

//  Called for each actor type journal_type_scan finds in a shard: its name
//  (len bytes, not NUL-terminated, borrowed for the call).
typedef int (journal_type_fn) (void *arg, const char *type, size_t len);

//  Calls fn for each type ("account" of "account/a1") of the streams
//  that have committed events, shard by shard (a type is said once per
//  shard that holds one of its streams); a stream with no '/' is not an
//  actor's and is passed over. Return non-zero from fn to stop. Returns
//  0 or SHOAL_EIO. O(shards x types) seeks, whatever the streams.
int journal_type_scan (journal_t *self, journal_type_fn *fn, void *arg);

//  The latest committed snapshot of stream: its seq and state bytes (the
//  caller frees *state with free()). SHOAL_ENOTFOUND if there is none.
int journal_snapshot_get (journal_t *self, const char *stream, int64_t *seq, uint8_t **state,
                          size_t *size);
//  The same, and the actor type's snapshot version it was written with
//  into *version (may be NULL; 0 for a snapshot made before versions were
//  kept). SHOAL_EFORMAT or SHOAL_EVERSION for a damaged record.
int journal_snapshot_read (journal_t *self, const char *stream, int64_t *seq, uint8_t **state,
                           size_t *size, int *version);

//  The committed inbox record for (stream, id): the stored reply bytes
//  (the caller frees them with free()). SHOAL_ENOTFOUND if none.
int journal_inbox_get (journal_t *self, const char *stream, const uint8_t id[JOURNAL_ID_SIZE],
                       uint8_t **reply, size_t *size);
//  The same, and the command the record answered into *request (digest
//  0 when the record has none).
int journal_inbox_find (journal_t *self, const char *stream, const uint8_t id[JOURNAL_ID_SIZE],
                        uint8_t **reply, size_t *size, journal_request_t *request);

//  Called for each outbox entry or timer found by a scan.
typedef int (journal_entry_fn) (void *arg, const char *stream, const uint8_t id[JOURNAL_ID_SIZE],
                                int64_t due, const uint8_t *value, size_t size);

//  Scans every committed outbox entry (due is 0) / every timer (stream
//  is NULL), shard by shard in shard order: outbox entries by stream then
//  id within a shard, timers by due then id within a shard (not across
//  shards). A key that does not parse is skipped with a warning; the
//  values are passed as stored, for fn to check. Returns 0 or SHOAL_EIO.
int journal_outbox_scan (journal_t *self, journal_entry_fn *fn, void *arg);
int journal_timer_scan (journal_t *self, journal_entry_fn *fn, void *arg);

//  Calls fn (due 0) for each command the outbox notes send that no note
//  answers: the outbox entries not stored under their own keys (keys.h).
//  Returns 0, SHOAL_EIO or SHOAL_ENOMEM.
int journal_outbox_scan_notes (journal_t *self, journal_entry_fn *fn, void *arg);
//  Calls fn (due 0, value the encoded record) for each inbox record the
//  notes hold. Returns 0, SHOAL_EIO or SHOAL_ENOMEM.
int journal_inbox_scan_notes (journal_t *self, journal_entry_fn *fn, void *arg);

//  The positions of the notes the store holds for worker, in *positions
//  (the caller frees it) and *count. Returns 0, SHOAL_EIO or SHOAL_ENOMEM.
int journal_notes_list (journal_t *self, uint32_t worker, uint64_t **positions, size_t *count);

//  The same scans over one shard alone (below journal_shards, else
//  SHOAL_EINVAL), for a worker or a node that holds some shards only.
int journal_shard_outbox_scan (journal_t *self, uint32_t shard, journal_entry_fn *fn, void *arg);
int journal_shard_timer_scan (journal_t *self, uint32_t shard, journal_entry_fn *fn, void *arg);

//  Deletes inbox records created before cutoff (ms since epoch), in
//  every shard. Returns the number deleted, or a negative code.
int64_t journal_inbox_prune (journal_t *self, int64_t cutoff);

//  What journal_check_records found: records of each kind, and how many
//  of them did not decode (a key that does not parse counts as bad).
typedef struct {
    size_t events, snapshots, inbox, outbox, timers, meta, unknown;
    size_t dead;  //  dead-letter records (journal_dead.h): counted, not decoded
    size_t log;   //  event log records, each decoded whole
    size_t views; //  projections' rows and checkpoints: counted, not decoded
    size_t bad_events, bad_snapshots, bad_inbox, bad_log, bad_keys;
    size_t holes;         //  in a store marked GAPLESS: streams whose seqs skip (or miss 1)
    uint64_t log_missing; //  positions the event log lacks before its last record (a
                          //  repair's dropped commits), the first hole [log_from, log_to)
    uint64_t log_from, log_to;
    char first_bad[256];        //  the first bad record or hole, described ("" if none)
    size_t repaired_holes;      //  in a store not marked GAPLESS (repaired, or made before the
                                //  mark): the same, told apart
    char first_repaired[256];   //  the first of them, described ("" if none)
    size_t unstreamed;          //  events the event log holds and their stream does not (a
                                //  repair dropped them: a stream lost whole shows no hole)
    char first_unstreamed[256]; //  the first of them, described ("" if none)
} journal_records_t;

//  Reads every record of the store and decodes events, snapshots and inbox
//  records with keys.c's decoders; outbox entries and timers are counted
//  and passed to fn (may be NULL) for the caller to decode (they are
//  encoded envelopes), which returns non-zero for a bad one. In a store
//  marked GAPLESS, a stream whose events do not run 1, 2, 3... is a hole
//  (a node refuses that stream), counted once a stream. Each stream's
//  last event is compared with the highest the event log holds of it
//  (a map of the log's streams, made as the walk reads the log first):
//  the events past it are counted unstreamed. Returns 0, or SHOAL_EIO if
//  the store could not be read whole.
int journal_check_records (journal_t *self, journal_records_t *counts, journal_entry_fn *fn,
                           void *arg);

//  The room the store's disk has left, and what its next start or reopen
//  needs (journal_disk.c).
#define JOURNAL_REOPEN_SLACK (4 << 20) //  beside the logs an open writes out as a table
typedef struct {
    uint64_t free_bytes;   //  for an unprivileged process (statvfs's f_bavail)
    uint64_t free_inodes;  //  likewise (f_favail)
    bool inodes_counted;   //  false where the filesystem counts none (free_inodes says nothing)
    uint64_t reopen_bytes; //  what a start or a reopen writes first: the logs, and the slack
} journal_disk_t;

//  Reads the room of self's disk into *disk: a statvfs and a read of the
//  directory's entries (no store read). Returns 0 or an errno (disk's
//  fields 0 where unread). Any thread.
int journal_disk (journal_t *self, journal_disk_t *disk);

//  True if dir holds what a LevelDB store leaves: its CURRENT, a MANIFEST,
//  a table or a log file; the store may be damaged (no CURRENT). False if
//  dir is absent, unreadable or holds none of them. Can't fail.
bool journal_holds_store (const char *dir);

//  The user the store in dir belongs to, into *uid: its LOCK file's (the
//  node's user makes it), else the directory's (a store that lost its
//  LOCK). Returns 0, or SHOAL_ENOTFOUND if dir holds no store (as
//  journal_holds_store) or cannot be read.
int journal_store_owner (const char *dir, uid_t *uid);

//  Asked by journal_repair before it changes anything: true to go on.
typedef bool (journal_confirm_fn) (const char *dir, void *arg);

//  Runs LevelDB's repair on the store in dir: it rebuilds the store from
//  whatever log and table files it can read and sets aside what it cannot
//  (in dir/lost). First it makes sure the store is shoal's, as `shoal
//  check` does: journal_open of a private copy (storecopy.h), repaired
//  first if it is too damaged to open; then it asks confirm (may be NULL:
//  go on) with arg; then it takes LevelDB's lock, as an open does. Returns
//  0, or with *error set (free with free()) and nothing in dir changed:
//  SHOAL_ENOTFOUND (dir is absent, no directory, or holds no LevelDB
//  store: nothing is made there), SHOAL_EINVAL (a LevelDB store, but
//  another program's: no shoal metadata, keys that are not shoal's),
//  SHOAL_EREJECTED (confirm said no), SHOAL_EBUSY (a process, a running
//  node, holds it); or SHOAL_EIO (also when a copy to tell whose it is
//  could not be made or repaired: then nothing changed either). *report
//  (free with free(); may be NULL) gets the lines of LevelDB's LOG that
//  say what was dropped or ignored, after the lines of what the repair
//  itself put back, each starting "shoal: " (the event log's mark, when
//  the table that held it was dropped and the log remains). The check reads every record of the
//  copy, and a damaged store is repaired twice (its copy, then itself):
//  a repair of a large store takes that long.
int journal_repair (const char *dir, journal_confirm_fn *confirm, void *arg, char **report,
                    char **error);

//  The metadata a new store is made with besides its layout: a random
//  secret (16 hex digits) the projections mix into their reactions' ids
//  (runtime/view.c), so that no client can know one before it is sent.
#define JOURNAL_SALT_META "reaction-salt"
//  What repairs accepted as lost from the event log's end, kept for
//  `shoal check`: a line "TIME_MS END SYNCED" for each repair that found
//  the log ending at END where the node had made it durable up to
//  SYNCED (the positions between were acknowledged; new events take them
//  since).
#define JOURNAL_REPAIR_LOST_META "repair-lost"
#define JOURNAL_SALT_CHARS 17 //  16 hex digits and a NUL

//  A new salt, random and never 0, as 16 hex digits into text. Can't fail.
void journal_salt_make (char text[JOURNAL_SALT_CHARS]);

//  Metadata: small named values. get returns SHOAL_ENOTFOUND if absent;
//  *value is the caller's to free().
int journal_meta_get (journal_t *self, const char *name, char **value);
int journal_meta_put (journal_t *self, const char *name, const char *value);

//  --------------------------------------------------------------------------
//  The event log (eventlog.c): every event committed, in commit order, at
//  dense positions from 0, written in the same write as the events.

//  One event of the log, borrowed for the callback.
typedef struct {
    uint64_t position;   //  its place in the node's log
    const char *stream;  //  the actor's address
    int64_t seq;         //  its seq in that stream
    const char *name;    //  the event's name
    const uint8_t *data; //  its fields, an encoded msgpack map
    size_t size;
    int64_t created; //  ms since the epoch, when its turn ran
} journal_logged_t;

//  Called for each event read from the log. Return non-zero to stop.
typedef int (journal_log_fn) (void *arg, const journal_logged_t *event);

//  The position the next committed event will get, as readers see the
//  log: the number of events in it that are durable (journal_sync; the
//  log's records past it are not read). Can't fail.
uint64_t journal_log_end (journal_t *self);

//  Calls fn for the events at positions from, from+1, ... in order, at
//  most limit of them (0 = all), none at journal_log_end or past it. Returns 0, fn's non-zero
//  value, SHOAL_EFORMAT for a damaged log record, SHOAL_EIO.
int journal_log_read (journal_t *self, uint64_t from, size_t limit, journal_log_fn *fn, void *arg);

//  The same for the one event at position, for a thread that must never
//  wait for a disk's failure (the front's): a store that is down, or
//  being reopened, is not read (SHOAL_EIO, SHOAL_EBUSY), nor reopened.
//  fn may be given the event after it when position is in a hole.
int journal_log_peek (journal_t *self, uint64_t position, journal_log_fn *fn, void *arg);

//  --------------------------------------------------------------------------
//  Projections (views.c): each build of a projection keeps a checkpoint,
//  rows by key, the commands its reactions sent and have not seen answered,
//  and the events an operator skipped, in a key range of its own.

#define JOURNAL_VIEW_KEY_MAX 512 //  bytes of a row key at most

//  One build of a projection: a rebuild makes a new build of the same
//  version, beside the old one until it takes over.
typedef struct {
    const char *view; //  the projection's name, as a type's ([a-z][a-z0-9_-]*)
    uint32_t version; //  the module's version of it, 1 or more
    uint32_t build;   //  0 for the first, one more for each rebuild
} journal_build_t;

//  Where a build stands, written in the same batch as the rows it covers.
typedef struct {
    uint64_t next;    //  the position of the next event to apply
    uint64_t applied; //  events given to apply so far
    uint64_t skipped; //  events an operator skipped
    bool paused;      //  an operator paused it
    bool caught_up;   //  it has reached the log's end once
} journal_checkpoint_t;

//  True for a usable projection name. Can't fail.
bool journal_view_name_ok (const char *view);

//  The build's checkpoint. SHOAL_ENOTFOUND if it has none yet.
int journal_view_checkpoint (journal_t *self, const journal_build_t *build,
                             journal_checkpoint_t *cp);
int journal_view_checkpoint_decode (const uint8_t *buf, size_t size, journal_checkpoint_t *cp);

//  The row under key (the caller frees *row). SHOAL_ENOTFOUND if none.
int journal_view_get (journal_t *self, const journal_build_t *build, const char *key, uint8_t **row,
                      size_t *size);

//  Called with each record found: its key (not NUL-terminated) and value.
typedef int (journal_row_fn) (void *arg, const char *key, size_t key_len, const uint8_t *value,
                              size_t size);
//  Calls fn for the rows whose key starts with prefix (NULL or "" for
//  all), in key order, from the first whose key is from or sorts after it
//  (NULL or "": the first), at most limit of them (0 = all). Returns 0,
//  fn's non-zero value, SHOAL_EINVAL (a bad name, prefix or from), SHOAL_EIO.
int journal_view_scan (journal_t *self, const journal_build_t *build, const char *prefix,
                       const char *from, size_t limit, journal_row_fn *fn, void *arg);
//  Calls fn for each command the build's reactions await an answer to
//  (key: its 16-byte id; value: its envelope), for each command held (the
//  same), and for each event skipped (key: its position, u64be; value
//  [1, at, reason]).
int journal_view_sends (journal_t *self, const journal_build_t *build, journal_row_fn *fn,
                        void *arg);
int journal_view_held (journal_t *self, const journal_build_t *build, journal_row_fn *fn,
                       void *arg);
int journal_view_skips (journal_t *self, const journal_build_t *build, journal_row_fn *fn,
                        void *arg);

#define JOURNAL_SKIP_REASON_MAX 1024 //  bytes of a skip's reason kept, at most

//  An event an operator skipped, as journal_view_skips gives it.
typedef struct {
    uint64_t position;                        //  the event's, in the log
    int64_t at;                               //  when it was skipped (ms since the epoch)
    char reason[JOURNAL_SKIP_REASON_MAX + 1]; //  the error it failed with
} journal_skip_t;

//  Decodes a skip record (key and value as journal_view_skips gives them)
//  into *skip. Returns 0, SHOAL_EFORMAT or SHOAL_EVERSION.
int journal_view_skip_decode (const char *key, size_t key_len, const uint8_t *value, size_t size,
                              journal_skip_t *skip);

//  Called for each build in the store, with its checkpoint (NULL if it has
//  none). build->view is borrowed for the call.
typedef int (journal_view_fn) (void *arg, const journal_build_t *build,
                               const journal_checkpoint_t *cp);
//  Every build, by name then version then build. Returns 0, fn's non-zero
//  value, SHOAL_EFORMAT for a damaged key, SHOAL_EIO.
int journal_view_list (journal_t *self, journal_view_fn *fn, void *arg);

//  Deletes every record of the build, in several writes (a crash midway
//  leaves a build without some rows: drop it again). *dropped counts them.
int journal_view_drop (journal_t *self, const journal_build_t *build, size_t *dropped);

//  --------------------------------------------------------------------------
//  Batches

journal_batch_t *journal_batch_new (journal_t *journal);
void journal_batch_destroy (journal_batch_t **self_p);

//  Stages events at the end of stream if its version (committed, or as
//  staged in this batch) equals expected (or expected is JOURNAL_ANY; an
//  owned batch takes expected as the committed version: see
//  journal_batch_set_owned).
//  On a mismatch stages nothing and returns SHOAL_ECONFLICT. Sets
//  *version (may be NULL) to the stream's new version.
int journal_batch_append (journal_batch_t *self, const char *stream, int64_t expected,
                          const journal_event_t *events, size_t count, int64_t created,
                          int64_t *version);

//  The inbox record of the command that creates a stream, which the
//  stream's first event holds instead of an 'i' record (keys.h).
typedef struct {
    const uint8_t *id;                //  the command's, JOURNAL_ID_SIZE bytes
    const uint8_t *reply;             //  its reply
    size_t size;                      //  bytes of reply
    int64_t created;                  //  the record's time, as an 'i' record's
    const journal_request_t *request; //  the command (may be NULL: none kept)
} journal_creator_t;

//  As journal_batch_append with expected JOURNAL_NO_STREAM and count 1 or
//  more, the first event's record holding creator's inbox record. Until
//  the commit the batch answers journal_batch_inbox_find for (stream,
//  creator's id) with it, as for a staged inbox record; no 'i' record is
//  written.
int journal_batch_append_creator (journal_batch_t *self, const char *stream,
                                  const journal_event_t *events, size_t count, int64_t created,
                                  int64_t *version, const journal_creator_t *creator);

//  The stream's version as this batch sees it (staged, else committed).
int journal_batch_version (journal_batch_t *self, const char *stream, int64_t *version);
//  Tells the batch that stream's committed version is version, as its
//  caller has just read the stream from the store (an actor's load: its
//  last event's seq, or its snapshot's with no event after it, or 0), so
//  that journal_batch_version does not seek it again. Valid only while
//  this batch's thread is the stream's one writer. Ignores an invalid
//  stream or a negative version; can't fail (out of memory, the version
//  is not remembered).
void journal_batch_remember (journal_batch_t *self, const char *stream, int64_t version);

//  With owned true, the caller is the one writer of every stream it
//  appends to through this batch and knows each one's committed version
//  (an actor's, from its load and its committed turns): an append's
//  expected version, unless JOURNAL_ANY, is taken as the committed one
//  when the batch has not staged the stream, rather than looked up (a
//  table probe per append, and one per stream at each commit). The batch
//  then remembers no version at commit: the caller tells it, with
//  journal_batch_remember, the version of each stream it stops keeping
//  (an actor leaving memory), and calls journal_batch_forget when it
//  forgets them all at once. Until then journal_batch_version may answer
//  an older version for a stream the caller keeps: ask the caller.
void journal_batch_set_owned (journal_batch_t *self, bool owned);
//  Forgets every committed version remembered (the next lookup of each
//  seeks the store). Can't fail.
void journal_batch_forget (journal_batch_t *self);
//  Tells an owned batch that its caller keeps stream from now on, at
//  version (as loaded): a stream with records is then in the journal's
//  stream filter (journal_filter_absent) before any owned append, which
//  adds only a new stream (version 0). Call it at every load of a stream
//  that will be appended to. Can't fail.
void journal_batch_keep (journal_batch_t *self, const char *stream, int64_t version);

int journal_batch_snapshot (journal_batch_t *self, const char *stream, int64_t seq,
                            const uint8_t *state, size_t size);
//  The same, written with the actor type's snapshot version (>= 0; the
//  call above writes 0).
int journal_batch_snapshot_versioned (journal_batch_t *self, const char *stream, int64_t seq,
                                      int version, const uint8_t *state, size_t size);

//  Stages the inbox record for (stream, id).
int journal_batch_inbox_put (journal_batch_t *self, const char *stream,
                             const uint8_t id[JOURNAL_ID_SIZE], const uint8_t *reply, size_t size,
                             int64_t created);
//  Looks up (stream, id) in this batch, then in the store. Same contract as
//  journal_inbox_get.
int journal_batch_inbox_get (journal_batch_t *self, const char *stream,
                             const uint8_t id[JOURNAL_ID_SIZE], uint8_t **reply, size_t *size);
//  The same pair, keeping the command the record answers (request may be
//  NULL: no digest kept / none wanted), as journal_inbox_find.
int journal_batch_inbox_record (journal_batch_t *self, const char *stream,
                                const uint8_t id[JOURNAL_ID_SIZE], const uint8_t *reply,
                                size_t size, int64_t created, const journal_request_t *request);
int journal_batch_inbox_find (journal_batch_t *self, const char *stream,
                              const uint8_t id[JOURNAL_ID_SIZE], uint8_t **reply, size_t *size,
                              journal_request_t *request);

//  The inbox in two tiers (docs/DESIGN-NOTES.md): the inbox record of a
//  command that sender, an actor of this node, sent goes into the note the
//  batch writes with its commit instead of under its own key. Staged as
//  journal_batch_inbox_record (this batch's lookups find it), and *record
//  gets a copy of the encoded record (free()) for the caller to keep until
//  it either stores it (journal_batch_inbox_restore, the same bytes under
//  the record's 'i' key, staged and found like any record) or learns that
//  the sender will never send the command again.
int journal_batch_inbox_note (journal_batch_t *self, const char *stream,
                              const uint8_t id[JOURNAL_ID_SIZE], const uint8_t *reply, size_t size,
                              int64_t created, const journal_request_t *request, const char *sender,
                              uint8_t **record, size_t *record_size);
int journal_batch_inbox_restore (journal_batch_t *self, const char *stream,
                                 const uint8_t id[JOURNAL_ID_SIZE], const uint8_t *record,
                                 size_t size);
//  Reads an encoded inbox record: *reply points into record; request may
//  be NULL. Returns 0 or SHOAL_EFORMAT.
int journal_inbox_decode (const uint8_t *record, size_t size, const uint8_t **reply,
                          size_t *reply_size, journal_request_t *request);

//  Stores / deletes the outbox entry id of stream under its own key.
int journal_batch_outbox_put (journal_batch_t *self, const char *stream,
                              const uint8_t id[JOURNAL_ID_SIZE], const uint8_t *envelope,
                              size_t size);
int journal_batch_outbox_del (journal_batch_t *self, const char *stream,
                              const uint8_t id[JOURNAL_ID_SIZE]);

//  The outbox in two tiers (keys.h): a command sent goes into the note
//  the batch writes with its commit, and so does the answer to a command
//  that is not stored under its key (envelope NULL). A batch writes its
//  notes under its worker's index (journal_batch_set_worker, default 0)
//  and remembers them in the order written; journal_batch_notes_count
//  says how many it remembers, journal_batch_notes_drop stages the
//  deletes of the first count of them and forgets them at once (after a
//  failed commit, journal_batch_notes_reload learns from the store which
//  notes of the worker it holds). The drop returns 0, or SHOAL_ENOMEM if
//  a note could not be remembered: then it stages nothing until a reload.
int journal_batch_outbox_note (journal_batch_t *self, const char *stream,
                               const uint8_t id[JOURNAL_ID_SIZE], const uint8_t *envelope,
                               size_t size);
void journal_batch_set_worker (journal_batch_t *self, uint32_t worker);
int journal_batch_notes_drop (journal_batch_t *self, size_t count);
int journal_batch_notes_reload (journal_batch_t *self);
size_t journal_batch_notes_count (const journal_batch_t *self);
//  Stages / deletes the timer (due, id) of stream, the actor it is for
//  (its envelope's to), whose shard holds it. due is not negative.
int journal_batch_timer_put (journal_batch_t *self, const char *stream, int64_t due,
                             const uint8_t id[JOURNAL_ID_SIZE], const uint8_t *envelope,
                             size_t size);
int journal_batch_timer_del (journal_batch_t *self, const char *stream, int64_t due,
                             const uint8_t id[JOURNAL_ID_SIZE]);

//  A projection's writes, staged with the rest of a batch: a row put
//  (row a msgpack map) or deleted, the checkpoint, a reaction's command
//  (envelope NULL: delete it, answered), an event skipped at position.
int journal_batch_view_put (journal_batch_t *self, const journal_build_t *build, const char *key,
                            const uint8_t *row, size_t size);
int journal_batch_view_del (journal_batch_t *self, const journal_build_t *build, const char *key);
int journal_batch_view_checkpoint (journal_batch_t *self, const journal_build_t *build,
                                   const journal_checkpoint_t *cp);
int journal_batch_view_send (journal_batch_t *self, const journal_build_t *build,
                             const uint8_t id[JOURNAL_ID_SIZE], const uint8_t *envelope,
                             size_t size);
int journal_batch_view_skip (journal_batch_t *self, const journal_build_t *build, uint64_t position,
                             int64_t at, const char *reason);
//  A reaction's command held (envelope NULL: delete it): decided by a
//  version not served, kept apart from the commands sent ('o') until its
//  switch sends it or drops it.
int journal_batch_view_hold (journal_batch_t *self, const journal_build_t *build,
                             const uint8_t id[JOURNAL_ID_SIZE], const uint8_t *envelope,
                             size_t size);
//  Stages the metadata name = value (journal_meta_put's record) with the
//  rest of the batch: a projection's switch, with its reactions' records.
int journal_batch_meta_put (journal_batch_t *self, const char *name, const char *value);

//  With lazy true, journal_batch_commit returns without waiting for a
//  sync: for writes that a crash may lose without harm because they are
//  made again from what is synced (a projection's rows and checkpoint,
//  written together, re-applied from the checkpoint that survived). In
//  sync durability the next sync covers them anyway (sync.c).
void journal_batch_set_lazy (journal_batch_t *self, bool lazy);

//  Number of records staged, and their bytes.
size_t journal_batch_count (const journal_batch_t *self);
size_t journal_batch_bytes (const journal_batch_t *self);

//  Writes everything staged in one LevelDB write and empties the batch,
//  with one event log record holding a copy of the events appended,
//  whatever the result. Returns 0 or SHOAL_EIO: then the write failed and
//  may have left part of itself, which the reopen that follows drops (it
//  may also keep all of it, as after a crash: nothing of it was
//  acknowledged, and a retry is answered from its inbox record).
int journal_batch_commit (journal_batch_t *self);

//  The same, but in sync durability it returns once the write is in the
//  store, before it is durable, and sets *written to the write's count
//  (journal_written): what depends on it leaving the node must wait for
//  journal_sync (*written). Set to journal_written when nothing was written.
int journal_batch_commit_unsynced (journal_batch_t *self, uint64_t *written);

//  Drops everything staged.
void journal_batch_clear (journal_batch_t *self);

#endif
