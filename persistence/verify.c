/*  verify.c - the read of every record of a store, with its checksums,
    that its open makes (journal_verify_all): a damaged table file is
    found at the start rather than when an actor is read, and the event
    log's records are checked to follow each other (a gap is a write a
    power cut took back while it kept later ones). Two threads share it,
    in parts of about the same bytes taken in turn; the log whole in the
    first part, for its gap check.

    Threads: the opening thread, and one of its own while it runs.
*/
#include "journal_internal.h"
#include "keys.h"
#include "threadname.h"
#include <czmq.h>
#include <inttypes.h>
#include <leveldb/c.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

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
//  key, its end), read with checksums by s_verify_part.
typedef struct {
    uint8_t from[KEYS_SHARD_SIZE], to[KEYS_SHARD_SIZE];
    size_t from_len, to_len;
    bool check_log;    //  the event log's records ('L') are in it: look for a gap
    bool gap;          //  the log's records do not follow each other
    uint64_t expected; //  where the record after the gap should have begun
    uint64_t first;    //  where it began
    char *err;         //  LevelDB's error, to leveldb_free
} verify_part_t;

#define VERIFY_PARTS 17 //  the keys before the actors' ('L': the log), and 16 of theirs

//  The parts, and the next one a reader takes.
typedef struct {
    journal_t *self;
    verify_part_t parts[VERIFY_PARTS];
    atomic_int next;
} verify_t;

//  True if key sorts before limit in LevelDB's bytewise order.
static bool s_key_before (const uint8_t *key, size_t key_len, const uint8_t *limit,
                          size_t limit_len)
{
    int order = memcmp (key, limit, key_len < limit_len ? key_len : limit_len);
    return order < 0 || (order == 0 && key_len < limit_len);
}

//  Reads the records of part with their checksums and, if it holds the
//  event log, checks that its records follow each other (below).
static void s_verify_part (journal_t *self, verify_part_t *part)
{
    leveldb_readoptions_t *scan = leveldb_readoptions_create ();
    leveldb_readoptions_set_verify_checksums (scan, 1);
    leveldb_readoptions_set_fill_cache (scan, 0);
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, scan);
    //  The event log's records, in key order, must follow each other: a
    //  gap is a write that a power cut took back while it kept later ones
    //  (sync.c: a crash is to keep a prefix of the writes). Checked while
    //  the store is marked gapless: LevelDB's repair may drop a record
    //  anywhere, and shoal repair removes the mark first.
    bool checked = part->check_log && journal_marked_gapless (self->dir);
    bool logged = false;
    uint64_t expected = 0, previous = 0;
    if (part->from_len)
        leveldb_iter_seek (it, (const char *) part->from, part->from_len);
    else
        leveldb_iter_seek_to_first (it);
    for (; leveldb_iter_valid (it); leveldb_iter_next (it)) {
        size_t key_len, value_len;
        const uint8_t *key = (const uint8_t *) leveldb_iter_key (it, &key_len);
        if (part->to_len && !s_key_before (key, key_len, part->to, part->to_len))
            break;
        if (!checked || key_len != KEYS_LOG_KEY_SIZE || key[0] != 'L')
            continue;
        const uint8_t *value = (const uint8_t *) leveldb_iter_value (it, &value_len);
        size_t offset;
        uint64_t count;
        uint64_t first = keys_get_be (key + 1, 8);
        if (keys_log_open (value, value_len, &offset, &count) != 0) {
            logged = false; //  damage, which reads report: no gap to tell from it
            continue;
        }
        //  A damaged record may claim a wrong count: then it is damage,
        //  which reads report, not a gap.
        if ((part->gap = logged && first != expected && s_log_record_whole (self, previous))) {
            part->expected = expected;
            part->first = first;
            break;
        }
        logged = true;
        previous = first;
        expected = first + count;
    }
    leveldb_iter_get_error (it, &part->err);
    leveldb_iter_destroy (it);
    leveldb_readoptions_destroy (scan);
}

//  Reads parts until none is left or one is damaged.
static void s_verify_parts (verify_t *verify)
{
    for (int at; (at = atomic_fetch_add (&verify->next, 1)) < VERIFY_PARTS;) {
        verify_part_t *part = &verify->parts[at];
        s_verify_part (verify->self, part);
        if (part->err || part->gap)
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

//  Reads every record of the store with its checksums, so that a damaged
//  table file is found at the start rather than when an actor is read, and
//  checks that the event log has no gap (s_verify_part). The start waits
//  for this read, which grows with the store (about half a second for
//  200 MB on this project's 2-core machine with one thread): two threads
//  take its parts in turn. Returns 0, or SHOAL_EFORMAT with *message set
//  (free with free()).
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
    //  The log's gap first (part 0 alone holds the log), as when one
    //  thread read the keys in order: a damaged table met elsewhere
    //  meanwhile is the lesser news.
    const verify_part_t *gap =
        verify->parts[0].gap && !verify->parts[0].err ? &verify->parts[0] : NULL;
    char *err = NULL;
    for (int i = 0; i < VERIFY_PARTS; i++) {
        verify_part_t *part = &verify->parts[i];
        if (!err)
            err = part->err;
        else
            leveldb_free (part->err);
    }
    int rc = 0;
    if (gap) {
        leveldb_free (err);
        *message = zsys_sprintf (
            "the journal in %s has lost part of its event log: positions %" PRIu64 " to %" PRIu64
            " are missing and later ones are there (a power cut kept a "
            "write and lost one before it, which the disk wrote out of order); nothing "
            "was started on it: its actors may hold effects without their causes. `shoal "
            "repair --data %s` accepts the loss and lets it open; `shoal check` then shows "
            "whether the books hold",
            self->dir, gap->expected, gap->first - 1, self->dir);
        rc = SHOAL_EFORMAT;
    } else if (err) {
        *message = zsys_sprintf ("the journal in %s is damaged and was not opened: %s, in one of "
                                 "its table files (*.ldb), found reading every record at open; "
                                 "nothing was started on it (`shoal repair --data %s` can "
                                 "salvage what is readable)",
                                 self->dir, err, self->dir);
        leveldb_free (err);
        rc = SHOAL_EFORMAT;
    }
    free (verify);
    return rc;
}
