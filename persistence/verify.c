/*  verify.c - the reads of a store's records with their checksums:

    - journal_verify_all, at the open of a tool (`shoal check`, the
      bench's reads of its node's store): every record, before anything else, so that a
      damaged table file is found at once, and the event log's records
      checked to follow each other (a gap is a write a power cut took back
      while it kept later ones). Two threads share it, in parts of about
      the same bytes taken in turn; the log whole in the first part, for
      its gap check.
    - journal_verify_recent, at a node's open: the gap check alone, over
      the newest records of the event log, back past what LevelDB read
      from its log files at this open and at every open since a check
      last passed (JOURNAL_CHECK_FILE, written down before LevelDB's open
      turns the files into tables: a refused or killed open is counted
      again). Only those records can hold a gap: a record reaches a table
      either from the memtable of a running node, which holds every
      write, or from the log files at an open. So a start reads what the
      last run left unsynced, not the whole store. A store with no such
      file (last opened by an older shoal), or one marked "full", is read
      whole at open.
    - journal_verify_start, once the node serves: every record read again
      with its checksums on a thread of its own, a part at a time (20 ms
      of reading with the store's handle held, then a rest twice as long:
      a third of a core at most), never while the store is down. A gap it
      finds stops the process (exit 3) with the store marked "full", so
      that every start refuses it until `shoal repair`, as before: its
      actors may hold effects without their causes. A damaged table is
      logged, kept (journal_verify_state: stats, /metrics, `cluster
      status`, `explain` and `top` show it) and marked "full" for the
      next start; the node serves on, and reads that meet the damage
      fail as they always did (checksummed, never taken for a missing
      record).

    Threads: the opening thread, and one of its own while it runs; the
    later read's thread, joined by journal_verify_stop.
*/
#include "journal_internal.h"
#include "dirsync.h"
#include "keys.h"
#include "log.h"
#include "regfile.h"
#include "threadname.h"
#include <assert.h>
#include <czmq.h>
#include <inttypes.h>
#include <leveldb/c.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

//  True if the event log's record at position first decodes whole: its
//  header and each of the events it counts.
static bool s_log_record_whole (journal_t *self, uint64_t first)
{
    uint8_t key[KEYS_LOG_KEY_SIZE];
    size_t size = 0;
    char *err = NULL;
    char *value = leveldb_get (self->db, self->read, (const char *) key, keys_log_key (key, first),
                               &size, &err);
    bool whole = !err && value;
    size_t offset;
    uint64_t count = 0;
    whole = whole && keys_log_open ((const uint8_t *) value, size, &offset, &count) == 0;
    for (uint64_t i = 0; whole && i < count; i++) {
        keys_log_entry_t entry;
        whole = keys_log_next ((const uint8_t *) value, size, &offset, &entry) == 0;
    }
    leveldb_free (err);
    leveldb_free (value);
    return whole;
}

//  One part of the store's keys, [from, to) (empty: the store's first
//  key, its end), read with checksums by s_verify_part, in chunks of
//  VERIFY_CHUNK records with the store's handle taken for each.
typedef struct {
    uint8_t from[KEYS_SHARD_SIZE], to[KEYS_SHARD_SIZE];
    size_t from_len, to_len;
    bool check_log;    //  the event log's records ('L') are in it: look for a gap
    bool gap;          //  the log's records do not follow each other
    uint64_t expected; //  where the record after the gap should have begun
    uint64_t first;    //  where it began
    char *err;         //  LevelDB's error, to leveldb_free
    int rc;            //  the handle could not be taken (the store is down), or 0
} verify_part_t;

#define VERIFY_PARTS 17      //  the keys before the actors' ('L': the log), and 16 of theirs
#define VERIFY_CHUNK 100000  //  records read with the handle held, at most
#define VERIFY_CHUNK_MS 20   //  the later read's time with the handle held, at most
#define VERIFY_REST 2        //  the later read rests this many times as long as it read
#define VERIFY_RETRY_MS 200  //  the later read's wait for a store that is down
#define VERIFY_IO_RETRIES 50 //  IO errors in a row it waits out, then gives up

//  The parts, and the next one a reader takes.
typedef struct {
    journal_t *self;
    verify_part_t parts[VERIFY_PARTS];
    atomic_int next;
    atomic_bool *stop; //  the later read's: the journal closes (NULL at open)
} verify_t;

//  What the later read found, and its thread (journal_verify_start).
struct _journal_verifier_t {
    pthread_t thread;
    atomic_bool stop;
    atomic_int state;         //  journal_verify_state_t
    pthread_mutex_t lock;     //  guards damage
    char damage[512];         //  what it found, "" if nothing
    verify_t verify;          //  its parts
    int64_t started, elapsed; //  monotonic ms; ms it took
};

//  True if key sorts before limit in LevelDB's bytewise order.
static bool s_key_before (const uint8_t *key, size_t key_len, const uint8_t *limit,
                          size_t limit_len)
{
    int order = memcmp (key, limit, key_len < limit_len ? key_len : limit_len);
    return order < 0 || (order == 0 && key_len < limit_len);
}

//  Where a part's read stands between chunks: the key it stopped at (the
//  next chunk's first), and the gap check's state.
typedef struct {
    bool checked, logged;
    uint64_t expected, previous;
} verify_check_t;

typedef struct {
    uint8_t *key;
    size_t key_len, key_room;
    bool started; //  a chunk was read: seek to key
    verify_check_t check;
} verify_cursor_t;

//  True if err, LevelDB's, is an I/O error that may pass (a descriptor
//  short, the disk busy), not damage. A table shorter than its index says
//  (cut short: a copy that stopped half-way) reads as an I/O error too,
//  "Invalid argument": that is damage, for the repair.
static bool s_may_pass (const char *err)
{
    return err && strncmp (err, "IO error", 8) == 0 && !strstr (err, "Invalid argument");
}

//  Reads up to VERIFY_CHUNK records of part from cursor with their
//  checksums (and, later, for up to VERIFY_CHUNK_MS, or until the store
//  fails or the read is to stop) and, if it holds the event log, checks
//  that its records follow each other (below). True if the part has more
//  to read.
static bool s_verify_chunk (verify_t *verify, verify_part_t *part, verify_cursor_t *cursor)
{
    journal_t *self = verify->self;
    bool later = verify->stop != NULL;
    int64_t until = zclock_mono () + VERIFY_CHUNK_MS;
    //  Later, a store that is down is left to the workers' reopen.
    if ((part->rc = later ? journal_enter_read (self) : journal_enter (self)) != 0)
        return false;
    leveldb_readoptions_t *scan = leveldb_readoptions_create ();
    leveldb_readoptions_set_verify_checksums (scan, 1);
    leveldb_readoptions_set_fill_cache (scan, 0);
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, scan);
    if (cursor->started) //  the key the last chunk stopped at, not read yet
        leveldb_iter_seek (it, (const char *) cursor->key, cursor->key_len);
    else if (part->from_len)
        leveldb_iter_seek (it, (const char *) part->from, part->from_len);
    else
        leveldb_iter_seek_to_first (it);
    size_t read = 0;
    bool more = false;
    for (; leveldb_iter_valid (it); leveldb_iter_next (it)) {
        size_t key_len, value_len;
        const uint8_t *key = (const uint8_t *) leveldb_iter_key (it, &key_len);
        if (part->to_len && !s_key_before (key, key_len, part->to, part->to_len))
            break;
        bool enough = ++read == VERIFY_CHUNK;
        if (later && !enough && read % 64 == 0)
            enough = zclock_mono () >= until || atomic_load (verify->stop) ||
                     atomic_load (&self->failed);
        if (enough) { //  this key is the next chunk's first
            uint8_t *room =
                key_len > cursor->key_room ? realloc (cursor->key, key_len) : cursor->key;
            if (room) {
                cursor->key = room;
                cursor->key_room = key_len > cursor->key_room ? key_len : cursor->key_room;
                memcpy (cursor->key, key, key_len);
                cursor->key_len = key_len;
                cursor->started = more = true;
                break;
            } //  else on in this chunk, the handle held
        }
        if (!cursor->check.checked || key_len != KEYS_LOG_KEY_SIZE || key[0] != 'L')
            continue;
        const uint8_t *value = (const uint8_t *) leveldb_iter_value (it, &value_len);
        size_t offset;
        uint64_t count;
        uint64_t first = keys_get_be (key + 1, 8);
        verify_check_t *check = &cursor->check;
        if (keys_log_open (value, value_len, &offset, &count) != 0) {
            check->logged = false; //  damage, which reads report: no gap to tell from it
            continue;
        }
        //  A damaged record may claim a wrong count: then it is damage,
        //  which reads report, not a gap.
        if ((part->gap = check->logged && first != check->expected &&
                         s_log_record_whole (self, check->previous))) {
            part->expected = check->expected;
            part->first = first;
            more = false;
            break;
        }
        check->logged = true;
        check->previous = first;
        check->expected = first + count;
    }
    leveldb_iter_get_error (it, &part->err);
    leveldb_iter_destroy (it);
    leveldb_readoptions_destroy (scan);
    journal_leave (self);
    return more && !part->err;
}

//  Reads the records of part with their checksums, a chunk at a time. The
//  event log's records, in key order, must follow each other: a gap is a
//  write that a power cut took back while it kept later ones (sync.c: a
//  crash is to keep a prefix of the writes). Checked while the store is
//  marked gapless: LevelDB's repair may drop a record anywhere, and shoal
//  repair removes the mark first.
//
//  The read after a node's start yields: it rests after each chunk, and
//  waits out a store that is down (a full disk: a worker's reopen brings
//  the handle back; this thread never reopens it) or an error that is
//  not damage (LevelDB's "IO error", out of descriptors), from where it
//  stood.
static void s_verify_part (verify_t *verify, verify_part_t *part)
{
    journal_t *self = verify->self;
    verify_cursor_t cursor = {.check.checked =
                                  part->check_log && journal_marked_gapless (self->dir)};
    const verify_check_t fresh = cursor.check; //  the part's start
    bool later = verify->stop != NULL;         //  the read after a node's start
    int retries = 0;                           //  IO errors in a row
    uint8_t *saved = NULL;                     //  the key a chunk began at, copied
    size_t saved_room = 0;
    for (;;) {
        if (later && atomic_load (&self->failed)) {
            if (atomic_load (verify->stop))
                break;
            zclock_sleep (VERIFY_RETRY_MS);
            continue;
        }
        //  The cursor as this chunk finds it: a retry begins there again
        //  (or, with no room for the key's copy, at the part's start).
        verify_check_t check = cursor.check;
        size_t saved_len = cursor.key_len;
        bool resumed = cursor.started;
        if (later && resumed && saved_room < saved_len) {
            uint8_t *room = realloc (saved, saved_len);
            if (room) {
                saved = room;
                saved_room = saved_len;
            }
        }
        if (resumed && saved_room >= saved_len)
            memcpy (saved, cursor.key, saved_len);
        else
            resumed = false;
        int64_t began = zclock_mono ();
        bool more = s_verify_chunk (verify, part, &cursor);
        //  LevelDB's "IO error" may pass (a descriptor short, the disk
        //  busy); "Corruption" and a missing table ("NotFound") do not. Its
        //  iterator steps over what it cannot read: the chunk is read again
        //  from where it began, and what it found of a gap is forgotten.
        bool passing = s_may_pass (part->err);
        if (later && (part->rc == SHOAL_EIO || passing)) {
            leveldb_free (part->err);
            part->err = NULL;
            part->rc = 0;
            part->gap = false;
            if (atomic_load (verify->stop))
                break;
            if (passing && ++retries > VERIFY_IO_RETRIES) {
                part->rc = SHOAL_EIO; //  the store cannot be read: neither damaged nor whole
                break;
            }
            if (resumed) //  the cursor's key had room for it: it held it before
                memcpy (cursor.key, saved, saved_len);
            cursor.key_len = resumed ? saved_len : 0;
            cursor.started = resumed;
            cursor.check = resumed ? check : fresh;
            zclock_sleep (VERIFY_RETRY_MS);
            continue;
        }
        if (later && atomic_load (verify->stop))
            break;
        retries = 0;
        if (!more)
            break;
        if (later)
            zclock_sleep ((int) ((zclock_mono () - began) * VERIFY_REST));
    }
    free (saved);
    free (cursor.key);
}

//  Reads parts until none is left or one is damaged.
static void s_verify_parts (verify_t *verify)
{
    for (int at; (at = atomic_fetch_add (&verify->next, 1)) < VERIFY_PARTS;) {
        if (verify->stop && atomic_load (verify->stop))
            return;
        verify_part_t *part = &verify->parts[at];
        s_verify_part (verify, part);
        if (part->err || part->gap || part->rc)
            atomic_store (&verify->next, VERIFY_PARTS); //  the others need not go on
    }
}

static void *s_verify_thread (void *arg)
{
    thread_name ("shoal-verify");
    s_verify_parts (arg);
    return NULL;
}

//  Cuts the store's keys into verify's parts: the keys before the actors'
//  ('S': the event log among them), whole, then the actors' in parts of
//  about the same bytes (LevelDB's estimate from its tables), each from a
//  shard's first key.
static void s_verify_cut (verify_t *verify)
{
    leveldb_t *db = verify->self->db;
    uint8_t low_key[KEYS_SHARD_SIZE] = {'S', 0, 0}, high_key[KEYS_SHARD_SIZE] = {'T', 0, 0};
    const char *starts[1] = {(const char *) low_key}, *limits[1] = {(const char *) high_key};
    size_t start_lens[1] = {KEYS_SHARD_SIZE}, limit_lens[1] = {KEYS_SHARD_SIZE};
    uint64_t actors = 0, below = 0;
    leveldb_approximate_sizes (db, 1, starts, start_lens, limits, limit_lens, &actors);
    uint8_t cut[VERIFY_PARTS][KEYS_SHARD_SIZE]; //  where part i + 1 begins
    memcpy (cut[0], low_key, KEYS_SHARD_SIZE);
    uint32_t shard = 0;
    for (int i = 1; i < VERIFY_PARTS; i++) {
        uint64_t want = actors / (VERIFY_PARTS - 1) * (uint64_t) i;
        uint32_t low = shard, high = 65536; //  the first shard with want bytes before it
        while (low < high) {
            uint32_t mid = (low + high) / 2;
            uint8_t limit[KEYS_SHARD_SIZE] = {'S', (uint8_t) (mid >> 8), (uint8_t) mid};
            limits[0] = (const char *) limit;
            leveldb_approximate_sizes (db, 1, starts, start_lens, limits, limit_lens, &below);
            if (below >= want)
                high = mid;
            else
                low = mid + 1;
        }
        shard = low;
        //  Past the last shard: the rest of the keys ('T' on, 'V', 'W', 'm').
        uint8_t at[KEYS_SHARD_SIZE] = {'S', (uint8_t) (shard >> 8), (uint8_t) shard};
        memcpy (cut[i], shard < 65536 ? at : high_key, KEYS_SHARD_SIZE);
    }
    for (int i = 0; i < VERIFY_PARTS; i++) {
        verify_part_t *part = &verify->parts[i];
        if (i > 0) {
            memcpy (part->from, cut[i - 1], KEYS_SHARD_SIZE);
            part->from_len = KEYS_SHARD_SIZE;
        }
        if (i < VERIFY_PARTS - 1) {
            memcpy (part->to, cut[i], KEYS_SHARD_SIZE);
            part->to_len = KEYS_SHARD_SIZE;
        }
    }
    verify->parts[0].check_log = true;
}

static char *s_gap_message (journal_t *self, uint64_t expected, uint64_t first)
{
    return zsys_sprintf (
        "the journal in %s has lost part of its event log: positions %" PRIu64 " to %" PRIu64
        " are missing and later ones are there (a power cut kept a write and lost one before "
        "it, which the disk wrote out of order)",
        self->dir, expected, first - 1);
}

static char *s_damage_message (journal_t *self, const char *err)
{
    return zsys_sprintf ("the journal in %s is damaged: %s, in one of its table files (*.ldb)",
                         self->dir, err);
}

//  An open's refusal of the store for what it found (s_gap_message or
//  s_damage_message), found where: a gap's loss is for a repair to
//  accept, damage for it to salvage. To free().
static char *s_refusal (journal_t *self, bool gap, const char *found, const char *where)
{
    if (gap)
        return zsys_sprintf (
            "%s; nothing was started on it: its actors may hold effects without their causes. "
            "`shoal repair --data %s` accepts the loss and lets it open; `shoal check` then "
            "shows whether the books hold",
            found, self->dir);
    return zsys_sprintf ("%s, found %s; it was not opened and nothing was started on it (`shoal "
                         "repair --data %s` can salvage what is readable)",
                         found, where, self->dir);
}

//  What verify's parts found: 0, or SHOAL_EFORMAT (a gap, *gap set, or
//  damage) or SHOAL_EIO (the store is down) with *found set (free with
//  free()). Frees the parts' errors.
static int s_verify_found (verify_t *verify, char **found, bool *gap_found)
{
    journal_t *self = verify->self;
    //  The log's gap first (part 0 alone holds the log), as when one
    //  thread read the keys in order: a damaged table met elsewhere
    //  meanwhile is the lesser news.
    const verify_part_t *gap =
        verify->parts[0].gap && !verify->parts[0].err ? &verify->parts[0] : NULL;
    char *err = NULL;
    int down = 0;
    for (int i = 0; i < VERIFY_PARTS; i++) {
        verify_part_t *part = &verify->parts[i];
        down = down ? down : part->rc;
        if (!err)
            err = part->err;
        else
            leveldb_free (part->err);
        part->err = NULL;
    }
    int rc = 0;
    *gap_found = gap != NULL;
    if (gap) {
        *found = s_gap_message (self, gap->expected, gap->first);
        rc = SHOAL_EFORMAT;
    } else if (err) {
        *found = s_damage_message (self, err);
        rc = SHOAL_EFORMAT;
    } else if (down) {
        *found = zsys_sprintf ("the journal in %s could not be read: %s", self->dir,
                               shoal_strerror (down));
        rc = down;
    }
    leveldb_free (err);
    return rc;
}

//  Reads every record of the store with its checksums, so that a damaged
//  table file is found at the start rather than when an actor is read, and
//  checks that the event log has no gap (s_verify_part). The start waits
//  for this read, which grows with the store (about half a second for
//  200 MB on this project's 2-core machine with one thread): two threads
//  take its parts in turn. A node's start reads the log's newest records
//  only (journal_verify_recent) and the rest later (journal_verify_start).
//  Returns 0, or SHOAL_EFORMAT with *message set (free with free()).
int journal_verify_all (journal_t *self, char **message)
{
    verify_t *verify = calloc (1, sizeof (verify_t));
    if (!verify) {
        *message = zsys_sprintf ("out of memory to read the journal in %s", self->dir);
        return SHOAL_ENOMEM;
    }
    verify->self = self;
    atomic_init (&verify->next, 0);
    s_verify_cut (verify);
    pthread_t thread;
    bool threaded = pthread_create (&thread, NULL, s_verify_thread, verify) == 0;
    s_verify_parts (verify); //  without a thread, alone
    if (threaded)
        pthread_join (thread, NULL);
    char *found = NULL;
    bool gap;
    int rc = s_verify_found (verify, &found, &gap);
    if (rc)
        *message = s_refusal (self, gap, found, "reading every record at open");
    free (found);
    free (verify);
    return rc;
}

//  --------------------------------------------------------------------------
//  A node's start: the newest records of the event log

int journal_verify_recent (journal_t *self, uint64_t log_bytes, char **message)
{
    if (!journal_marked_gapless (self->dir))
        return 0; //  a repaired store: no gap is looked for (s_verify_part)
    leveldb_readoptions_t *scan = leveldb_readoptions_create ();
    leveldb_readoptions_set_verify_checksums (scan, 1);
    leveldb_readoptions_set_fill_cache (scan, 0);
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, scan);
    const uint8_t past[1] = {'L' + 1}; //  past the log's keys
    leveldb_iter_seek (it, (const char *) past, sizeof past);
    if (leveldb_iter_valid (it))
        leveldb_iter_prev (it);
    else
        leveldb_iter_seek_to_last (it);
    uint64_t walked = 0;   //  bytes of the log's records read back, keys and values
    bool newer = false;    //  a whole record follows the one read
    uint64_t newer_at = 0; //  where it begins
    uint64_t expected = 0, first_after = 0;
    bool gap = false;
    for (; leveldb_iter_valid (it); leveldb_iter_prev (it)) {
        size_t key_len, value_len;
        const uint8_t *key = (const uint8_t *) leveldb_iter_key (it, &key_len);
        if (key_len == 0 || key[0] != 'L')
            break;
        if (key_len != KEYS_LOG_KEY_SIZE)
            continue;
        const uint8_t *value = (const uint8_t *) leveldb_iter_value (it, &value_len);
        walked += key_len + value_len;
        size_t offset;
        uint64_t count;
        uint64_t first = keys_get_be (key + 1, 8);
        if (keys_log_open (value, value_len, &offset, &count) != 0) {
            newer = false; //  damage, which reads report: no gap to tell from it
            continue;
        }
        //  As s_verify_chunk: a record whose count is wrong is damage.
        if (newer && first + count != newer_at && s_log_record_whole (self, first)) {
            gap = true;
            expected = first + count;
            first_after = newer_at;
            break;
        }
        newer = true;
        newer_at = first;
        //  LevelDB's log files hold more bytes than the records in them:
        //  past log_bytes, this record came from a table, and it was
        //  compared with the one after it.
        if (walked > log_bytes)
            break;
    }
    char *err = NULL;
    leveldb_iter_get_error (it, &err);
    leveldb_iter_destroy (it);
    leveldb_readoptions_destroy (scan);
    int rc = 0;
    if (s_may_pass (err)) { //  not damage: a repair would not help
        *message = zsys_sprintf ("the journal in %s could not be read at open: %s", self->dir, err);
        rc = SHOAL_EIO;
    } else if (err || gap) { //  err first: LevelDB's iterator steps over a damaged block,
                             //  which reads as a gap
        char *found =
            err ? s_damage_message (self, err) : s_gap_message (self, expected, first_after);
        *message =
            s_refusal (self, !err, found, "reading the newest records of its event log at open");
        free (found);
        rc = SHOAL_EFORMAT;
    }
    leveldb_free (err);
    return rc;
}

//  --------------------------------------------------------------------------
//  The later read, while the node serves

static void *s_verifier (void *arg)
{
    thread_name ("shoal-verify");
    journal_t *self = arg;
    journal_verifier_t *verifier = self->verifier;
    s_verify_parts (&verifier->verify);
    char *found = NULL;
    bool gap;
    int rc = s_verify_found (&verifier->verify, &found, &gap);
    verifier->elapsed = zclock_mono () - verifier->started;
    if (atomic_load (&verifier->stop) && rc != SHOAL_EFORMAT) {
        atomic_store (&verifier->state, JOURNAL_VERIFY_STOPPED);
    } else if (gap) {
        //  Its actors may hold effects without their causes: not served
        //  on, and refused at every start until a repair.
        bool marked = journal_check_full (self->dir);
        log_error ("%s, found by the read of every record that follows a start; stopping the "
                   "node (exit 3)%s. `shoal repair --data %s` accepts the loss; `shoal check` "
                   "then shows whether the books hold",
                   found, marked ? ": every start reads its whole store, and refuses it" : "",
                   self->dir);
        _exit (3);
    } else if (rc == SHOAL_EFORMAT) {
        pthread_mutex_lock (&verifier->lock);
        snprintf (verifier->damage, sizeof verifier->damage, "%s", found);
        pthread_mutex_unlock (&verifier->lock);
        atomic_store (&verifier->state, JOURNAL_VERIFY_DAMAGED);
        bool marked = journal_check_full (self->dir);
        log_error ("%s, found by the read of every record that follows a start; reads that "
                   "meet it fail%s. Stop the node and run `shoal repair --data %s` to salvage "
                   "what is readable",
                   found, marked ? ", and its next start reads every record and refuses it" : "",
                   self->dir);
    } else if (rc) {
        atomic_store (&verifier->state, JOURNAL_VERIFY_STOPPED);
        log_warn ("%s: the read of every record that follows a start gave up", found);
    } else {
        atomic_store (&verifier->state, JOURNAL_VERIFY_WHOLE);
        log_info ("journal %s: every record read with its checksums in %" PRId64 " ms: whole",
                  self->dir, verifier->elapsed);
    }
    free (found);
    return NULL;
}

int journal_verify_start (journal_t *self)
{
    assert (self);
    if (self->verifier)
        return 0;
    journal_verifier_t *verifier = calloc (1, sizeof *verifier);
    if (!verifier)
        return SHOAL_ENOMEM;
    atomic_init (&verifier->stop, false);
    atomic_init (&verifier->state, JOURNAL_VERIFY_READING);
    pthread_mutex_init (&verifier->lock, NULL);
    verifier->verify.self = self;
    verifier->verify.stop = &verifier->stop;
    atomic_init (&verifier->verify.next, 0);
    verifier->started = zclock_mono ();
    int rc = journal_enter (self);
    if (rc == 0) {
        s_verify_cut (&verifier->verify);
        journal_leave (self);
    }
    self->verifier = verifier;
    if (rc == 0 && pthread_create (&verifier->thread, NULL, s_verifier, self) == 0)
        return 0;
    pthread_mutex_destroy (&verifier->lock);
    free (verifier);
    self->verifier = NULL;
    return rc ? rc : SHOAL_ENOMEM;
}

journal_verify_state_t journal_verify_state (journal_t *self, char *damage, size_t size)
{
    assert (self);
    journal_verifier_t *verifier = self->verifier;
    if (damage && size)
        damage[0] = 0;
    if (!verifier)
        return JOURNAL_VERIFY_OFF;
    journal_verify_state_t state = (journal_verify_state_t) atomic_load (&verifier->state);
    if (state == JOURNAL_VERIFY_DAMAGED && damage && size) {
        pthread_mutex_lock (&verifier->lock);
        snprintf (damage, size, "%s", verifier->damage);
        pthread_mutex_unlock (&verifier->lock);
    }
    return state;
}

const char *journal_verify_name (journal_verify_state_t state)
{
    switch (state) {
    case JOURNAL_VERIFY_READING:
        return "reading";
    case JOURNAL_VERIFY_WHOLE:
        return "whole";
    case JOURNAL_VERIFY_DAMAGED:
        return "damaged";
    case JOURNAL_VERIFY_STOPPED:
        return "stopped";
    case JOURNAL_VERIFY_OFF:
    default:
        return "off";
    }
}

journal_verify_state_t journal_verify_stop (journal_t *self)
{
    journal_verifier_t *verifier = self->verifier;
    if (!verifier)
        return JOURNAL_VERIFY_OFF;
    atomic_store (&verifier->stop, true);
    pthread_join (verifier->thread, NULL);
    journal_verify_state_t state = (journal_verify_state_t) atomic_load (&verifier->state);
    pthread_mutex_destroy (&verifier->lock);
    free (verifier);
    self->verifier = NULL;
    return state;
}

//  --------------------------------------------------------------------------
//  The reach of a node's check, across opens (JOURNAL_CHECK_FILE)

#define CHECK_FULL "full\n"

//  The process's writers of the file, one at a time (the verifier's
//  thread and a worker's reopen may both mark it full); other processes
//  are kept out by the journal's hold on the directory (journal.c).
static pthread_mutex_t s_check_lock = PTHREAD_MUTEX_INITIALIZER;

//  Writes text as dir's JOURNAL_CHECK_FILE: a new file, synced, renamed
//  over the old one, the directory synced. True if it is there.
static bool s_check_write (const char *dir, const char *text)
{
    char path[PATH_MAX], fresh[PATH_MAX];
    if (snprintf (path, sizeof path, "%s/%s", dir, JOURNAL_CHECK_FILE) >= (int) sizeof path ||
        snprintf (fresh, sizeof fresh, "%s.new", path) >= (int) sizeof fresh)
        return false;
    int fd = open (fresh, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return false;
    size_t size = strlen (text);
    bool ok = write (fd, text, size) == (ssize_t) size && fsync (fd) == 0;
    ok = close (fd) == 0 && ok;
    ok = ok && rename (fresh, path) == 0 && dirsync_sync (dir, NULL) == 0;
    if (!ok)
        unlink (fresh);
    return ok;
}

//  Removes dir's JOURNAL_CHECK_FILE, the directory synced: the next open
//  reads every record. True if it is gone.
static bool s_check_remove (const char *dir)
{
    char path[PATH_MAX];
    if (snprintf (path, sizeof path, "%s/%s", dir, JOURNAL_CHECK_FILE) >= (int) sizeof path)
        return false;
    return (unlink (path) == 0 || errno == ENOENT) && dirsync_sync (dir, NULL) == 0;
}

int journal_check_reach (const char *dir, uint64_t log_bytes, uint64_t *pending, bool *bounded)
{
    *pending = 0;
    *bounded = false;
    char path[PATH_MAX], text[64] = "";
    if (snprintf (path, sizeof path, "%s/%s", dir, JOURNAL_CHECK_FILE) >= (int) sizeof path)
        return 0;
    pthread_mutex_lock (&s_check_lock);
    FILE *file = regfile_fopen (path); //  a FIFO there is no check file: not waited on
    bool read = file && fgets (text, sizeof text, file) != NULL;
    if (file)
        fclose (file);
    unsigned long long before = 0;
    char end = 0;
    int rc = 0;
    if (!read || sscanf (text, "pending %llu%c", &before, &end) != 2 || end != '\n')
        ; //  none (an older shoal's store), "full", or damaged: a whole read
    else if (log_bytes == 0) {
        *pending = before;
        *bounded = true;
    } else {
        //  Down before LevelDB's open turns the log files into tables: an
        //  open refused, killed or cut by a power loss after it is counted
        //  again.
        *pending = before + log_bytes;
        char line[64];
        snprintf (line, sizeof line, "pending %" PRIu64 "\n", *pending);
        if (s_check_write (dir, line))
            *bounded = true;
        else if (!s_check_remove (dir))
            rc = SHOAL_EIO;
    }
    pthread_mutex_unlock (&s_check_lock);
    return rc;
}

void journal_check_passed (const char *dir)
{
    pthread_mutex_lock (&s_check_lock);
    if (!s_check_write (dir, "pending 0\n"))
        s_check_remove (dir); //  the next open reads every record: slower, no worse
    pthread_mutex_unlock (&s_check_lock);
}

bool journal_check_full (const char *dir)
{
    pthread_mutex_lock (&s_check_lock);
    bool done = s_check_write (dir, CHECK_FULL) || s_check_remove (dir);
    pthread_mutex_unlock (&s_check_lock);
    if (!done)
        log_error ("journal %s: its %s file can be neither written nor removed (%s): its next "
                   "start may not read every record",
                   dir, JOURNAL_CHECK_FILE, strerror (errno));
    return done;
}
