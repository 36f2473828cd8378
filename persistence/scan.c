/*  scan.c - the journal's full-table scans: every outbox entry and every
    timer (read when a node starts), the pruning of old inbox records, and
    the names of the event streams (read by the books check).

    Contract: a scan walks one table ('o', 't' or 'i', see keys.h) of one
    shard, or of each shard in shard order, in key order over the committed
    store; it sees nothing staged in a batch. A key
    that does not parse is skipped with a warning, so that one damaged
    record does not keep a node from starting; values are passed to the
    caller's function as stored, for it to check. Pruning deletes in
    LevelDB writes of PRUNE_BATCH records, never synced: a crash midway
    leaves records that the next prune deletes.

    Threads: any thread, as for journal_t; the scan's state lives on the
    caller's stack. Known limit: O(N) in the table's size, as a scan reads
    every record under its tag, plus one seek per shard.
*/
#include "journal_internal.h"
#include "keys.h"
#include "log.h"
#include <assert.h>
#include <czmq.h>
#include <inttypes.h>
#include <leveldb/c.h>
#include <string.h>

#define PRUNE_BATCH 1000

//  Called for each key of a table of a shard, with the value. A scan_fn
//  returns 0 to go on, 1 to stop, or a negative code.
typedef int (scan_fn) (void *arg, uint32_t shard, const uint8_t *key, size_t key_len,
                       const uint8_t *value, size_t value_len);

//  Calls fn for each key under 'S' shard tag, for the shards from first
//  (included) to past (excluded), in order.
static int s_scan (journal_t *self, uint32_t first, uint32_t past, char tag, scan_fn *fn, void *arg)
{
    int rc = journal_enter (self);
    if (rc)
        return rc;
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, self->read);
    for (uint32_t shard = first; rc == 0 && shard < past; shard++) {
        uint8_t prefix[KEYS_TAG_SIZE];
        keys_tag_key (prefix, shard, tag);
        for (leveldb_iter_seek (it, (const char *) prefix, sizeof prefix); leveldb_iter_valid (it);
             leveldb_iter_next (it)) {
            size_t key_len, value_len;
            const char *key = leveldb_iter_key (it, &key_len);
            if (!keys_has_prefix (key, key_len, prefix, sizeof prefix))
                break;
            const char *value = leveldb_iter_value (it, &value_len);
            rc =
                fn (arg, shard, (const uint8_t *) key, key_len, (const uint8_t *) value, value_len);
            if (rc != 0)
                break;
        }
    }
    rc = journal_iter_close (it, rc);
    journal_leave (self);
    return rc < 0 ? rc : 0;
}

//  A scan meets a key of its table that does not parse (a damaged store):
//  says so and goes on, as the scan's caller does for a damaged value, so
//  that one bad record does not keep a node from starting.
static int s_skip_bad_key (const char *table, const uint8_t *key, size_t key_len)
{
    log_warn ("journal: skipped a malformed %s key (%zu bytes)", table, key_len);
    return 0;
}

typedef struct {
    journal_t *journal;   //  the store, borrowed
    journal_entry_fn *fn; //  the caller's function
    void *arg;            //  and its argument
} entry_scan_t;

//  An outbox key whose stream is not of the key's shard is bad too: the
//  actor's other records are elsewhere.
static int s_outbox_entry (void *arg, uint32_t shard, const uint8_t *key, size_t key_len,
                           const uint8_t *value, size_t value_len)
{
    entry_scan_t *scan = arg;
    const uint8_t *stream_at = key + KEYS_TAG_SIZE;
    const uint8_t *nul = memchr (stream_at, 0, key_len - KEYS_TAG_SIZE);
    size_t stream_len = nul ? (size_t) (nul - stream_at) : 0;
    if (stream_len == 0 || stream_len > SHOAL_ADDRESS_MAX ||
        key_len != KEYS_TAG_SIZE + stream_len + 1 + JOURNAL_ID_SIZE)
        return s_skip_bad_key ("outbox", key, key_len);
    char stream[SHOAL_ADDRESS_MAX + 1];
    memcpy (stream, stream_at, stream_len);
    stream[stream_len] = '\0';
    if (journal_shard (scan->journal, stream) != shard)
        return s_skip_bad_key ("outbox", key, key_len);
    return scan->fn (scan->arg, stream, nul + 1, 0, value, value_len) ? 1 : 0;
}

static int s_timer_entry (void *arg, uint32_t shard, const uint8_t *key, size_t key_len,
                          const uint8_t *value, size_t value_len)
{
    entry_scan_t *scan = arg;
    uint64_t due = key_len == KEYS_TIMER_SIZE ? keys_get_be (key + KEYS_TAG_SIZE, 8) : 0;
    if (key_len != KEYS_TIMER_SIZE || due > INT64_MAX)
        return s_skip_bad_key ("timer", key, key_len);
    return scan->fn (scan->arg, NULL, key + KEYS_TAG_SIZE + 8, (int64_t) due, value, value_len) ? 1
                                                                                                : 0;
}

int journal_outbox_scan (journal_t *self, journal_entry_fn *fn, void *arg)
{
    assert (self);
    assert (fn);
    entry_scan_t scan = {self, fn, arg};
    return s_scan (self, 0, self->shards, 'o', s_outbox_entry, &scan);
}

int journal_timer_scan (journal_t *self, journal_entry_fn *fn, void *arg)
{
    assert (self);
    assert (fn);
    entry_scan_t scan = {self, fn, arg};
    return s_scan (self, 0, self->shards, 't', s_timer_entry, &scan);
}

int journal_shard_outbox_scan (journal_t *self, uint32_t shard, journal_entry_fn *fn, void *arg)
{
    assert (self);
    assert (fn);
    if (shard >= self->shards)
        return SHOAL_EINVAL;
    entry_scan_t scan = {self, fn, arg};
    return s_scan (self, shard, shard + 1, 'o', s_outbox_entry, &scan);
}

int journal_shard_timer_scan (journal_t *self, uint32_t shard, journal_entry_fn *fn, void *arg)
{
    assert (self);
    assert (fn);
    if (shard >= self->shards)
        return SHOAL_EINVAL;
    entry_scan_t scan = {self, fn, arg};
    return s_scan (self, shard, shard + 1, 't', s_timer_entry, &scan);
}

//  What s_event_walk does with each stream it meets: its name (len bytes,
//  borrowed from the iterator's key: copy what is kept) in shard. It
//  writes into seek (KEYS_STREAM_MAX bytes) the key to go on from, and
//  returns its length; *rc gets non-zero to stop the walk.
typedef size_t (s_walk_fn) (void *arg, uint32_t shard, const char *name, size_t len, uint8_t *seek,
                            int *rc);

//  Walks the event keys of every shard, stream by stream (or further,
//  as step says). A key that does not parse is skipped with a warning.
//  Returns 0, step's code, or SHOAL_EIO.
static int s_event_walk (journal_t *self, s_walk_fn *step, void *arg)
{
    uint8_t seek[KEYS_STREAM_MAX];
    int rc = journal_enter (self);
    if (rc)
        return rc;
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, self->read);
    for (uint32_t shard = 0; rc == 0 && shard < self->shards; shard++) {
        uint8_t prefix[KEYS_TAG_SIZE];
        keys_tag_key (prefix, shard, 'e');
        leveldb_iter_seek (it, (const char *) prefix, KEYS_TAG_SIZE);
        while (rc == 0 && leveldb_iter_valid (it)) {
            size_t key_len;
            const char *key = leveldb_iter_key (it, &key_len);
            if (!keys_has_prefix (key, key_len, prefix, KEYS_TAG_SIZE))
                break;
            const char *name = key + KEYS_TAG_SIZE;
            const char *nul = memchr (name, 0, key_len - KEYS_TAG_SIZE);
            size_t stream_len = nul ? (size_t) (nul - name) : 0;
            if (stream_len == 0 || stream_len > SHOAL_ADDRESS_MAX) {
                s_skip_bad_key ("event", (const uint8_t *) key, key_len);
                leveldb_iter_next (it);
                continue;
            }
            size_t seek_len = step (arg, shard, name, stream_len, seek, &rc);
            leveldb_iter_seek (it, (const char *) seek, seek_len);
        }
    }
    rc = journal_iter_close (it, rc);
    journal_leave (self);
    return rc < 0 ? rc : 0;
}

typedef struct {
    journal_stream_fn *fn;
    void *arg;
} stream_walk_t;

static size_t s_stream_step (void *arg, uint32_t shard, const char *name, size_t len, uint8_t *seek,
                             int *rc)
{
    stream_walk_t *walk = arg;
    char stream[SHOAL_ADDRESS_MAX + 1];
    memcpy (stream, name, len);
    stream[len] = '\0';
    *rc = walk->fn (walk->arg, stream);
    //  The next stream: stream 0x01 sorts after every event key of stream
    //  and before any longer stream name (a name has no NUL).
    size_t seek_len = keys_stream_key (seek, shard, 'e', stream, len, true);
    seek[seek_len - 1] = 0x01;
    return seek_len;
}

int journal_stream_scan (journal_t *self, journal_stream_fn *fn, void *arg)
{
    assert (self);
    assert (fn);
    stream_walk_t walk = {fn, arg};
    return s_event_walk (self, s_stream_step, &walk);
}

typedef struct {
    journal_type_fn *fn;
    void *arg;
} type_walk_t;

static size_t s_type_step (void *arg, uint32_t shard, const char *name, size_t len, uint8_t *seek,
                           int *rc)
{
    type_walk_t *walk = arg;
    const char *slash = memchr (name, '/', len);
    size_t type_len = slash ? (size_t) (slash - name) : len;
    if (slash && type_len)
        *rc = walk->fn (walk->arg, name, type_len);
    //  Past every stream of the type: "type/" + 1 is "type0" (a stream
    //  with no '/': past it, as s_stream_step).
    size_t seek_len = keys_stream_key (seek, shard, 'e', name, slash ? type_len + 1 : len, !slash);
    seek[seek_len - 1] = slash ? '/' + 1 : 0x01;
    return seek_len;
}

int journal_type_scan (journal_t *self, journal_type_fn *fn, void *arg)
{
    assert (self);
    assert (fn);
    type_walk_t walk = {fn, arg};
    return s_event_walk (self, s_type_step, &walk);
}

typedef struct {
    journal_t *journal;            //  the store, borrowed
    leveldb_writebatch_t *deletes; //  deletes not yet written, owned
    size_t staged;                 //  how many
    int64_t deleted;               //  records deleted so far
    int64_t cutoff;                //  records created before it go
} prune_t;

//  Writes the staged deletes. Returns 0 or SHOAL_EIO.
static int s_prune_flush (prune_t *prune)
{
    if (prune->staged == 0)
        return 0;
    int rc = journal_write_held (prune->journal, prune->journal->write_lazy, prune->deletes, false);
    leveldb_writebatch_clear (prune->deletes);
    if (rc)
        return rc;
    prune->deleted += (int64_t) prune->staged;
    prune->staged = 0;
    return 0;
}

//  Records that do not decode are left alone: they cannot be dated.
static int s_prune_entry (void *arg, uint32_t shard, const uint8_t *key, size_t key_len,
                          const uint8_t *value, size_t value_len)
{
    prune_t *prune = arg;
    int64_t created;
    const uint8_t *reply;
    size_t reply_len;
    if (keys_inbox_decode (value, value_len, &created, &reply, &reply_len, NULL) != 0 ||
        created >= prune->cutoff)
        return 0;
    leveldb_writebatch_delete (prune->deletes, (const char *) key, key_len);
    if (++prune->staged < PRUNE_BATCH)
        return 0;
    return s_prune_flush (prune);
}

int64_t journal_inbox_prune (journal_t *self, int64_t cutoff)
{
    assert (self);
    prune_t prune = {self, leveldb_writebatch_create (), 0, 0, cutoff};
    int rc = s_scan (self, 0, self->shards, 'i', s_prune_entry, &prune);
    if (rc == 0 && journal_enter (self) == 0) {
        rc = s_prune_flush (&prune);
        journal_leave (self);
    } else if (rc == 0)
        rc = SHOAL_EIO;
    leveldb_writebatch_destroy (prune.deletes);
    return rc ? rc : prune.deleted;
}

//  --------------------------------------------------------------------------
//  The record check

//  Notes the first bad record found.
static void s_note_bad (journal_records_t *counts, const char *what, const char *key,
                        size_t key_len, int rc)
{
    if (counts->first_bad[0])
        return;
    char printable[64];
    size_t n = 0;
    for (size_t i = 0; i < key_len && n + 1 < sizeof printable; i++)
        printable[n++] = key[i] >= 32 && key[i] < 127 ? key[i] : '.';
    printable[n] = '\0';
    snprintf (counts->first_bad, sizeof counts->first_bad, "%s record under key '%s': %s", what,
              printable, shoal_strerror (rc));
}

//  Decodes every event of a log record. Returns 0 or SHOAL_EFORMAT.
static int s_check_log (const uint8_t *value, size_t size)
{
    size_t offset;
    uint64_t count;
    if (keys_log_open (value, size, &offset, &count))
        return SHOAL_EFORMAT;
    for (uint64_t i = 0; i < count; i++) {
        keys_log_entry_t entry;
        if (keys_log_next (value, size, &offset, &entry))
            return SHOAL_EFORMAT;
    }
    return offset == size ? 0 : SHOAL_EFORMAT;
}

//  The events the event log holds, by stream: its highest seq in the log
//  (the log's 'L' keys sort before the streams' 'S' keys, so the walk has
//  the whole map before it meets a stream). Each stream the walk meets is
//  compared, then taken out; those left had no event at all. An event the
//  log has and its stream not was dropped by a repair: a stream that lost
//  every event has no hole to show it (it reads as never written: an
//  account opened and acknowledged, opened again by anyone).
typedef struct {
    zhashx_t *logged; //  stream -> highest seq logged (as a pointer)
} logged_t;

//  Notes in self->logged the events of the log record value (decoded
//  whole already by s_check_log; a bad one is counted there).
static void s_note_logged (logged_t *self, const uint8_t *value, size_t size)
{
    size_t offset;
    uint64_t count;
    if (!self->logged || keys_log_open (value, size, &offset, &count))
        return;
    for (uint64_t i = 0; i < count; i++) {
        keys_log_entry_t entry;
        if (keys_log_next (value, size, &offset, &entry) || entry.stream_len > SHOAL_ADDRESS_MAX)
            return;
        char stream[SHOAL_ADDRESS_MAX + 1];
        memcpy (stream, entry.stream, entry.stream_len);
        stream[entry.stream_len] = 0;
        uintptr_t known = (uintptr_t) zhashx_lookup (self->logged, stream);
        if ((uintptr_t) entry.seq > known)
            zhashx_update (self->logged, stream, (void *) (uintptr_t) entry.seq);
    }
}

//  Counts in counts what the event log holds of stream past last (0: the
//  stream has no event), and takes stream out of the map.
static void s_logged_past (logged_t *self, journal_records_t *counts, const char *stream,
                           int64_t last)
{
    int64_t logged = (int64_t) (uintptr_t) zhashx_lookup (self->logged, stream);
    if (logged > last) {
        if (counts->unstreamed == 0)
            snprintf (counts->first_unstreamed, sizeof counts->first_unstreamed,
                      "event %" PRId64 " of %.200s", last + 1, stream);
        counts->unstreamed += (size_t) (logged - last);
    }
    zhashx_delete (self->logged, stream);
}

//  Checks one record; see journal_check_records.
static void s_check_record (journal_records_t *counts, const char *key, size_t key_len,
                            const uint8_t *value, size_t size, journal_entry_fn *fn, void *arg)
{
    if (key_len >= 1 && key[0] == 'm') {
        counts->meta++;
        return;
    }
    if (key_len >= 1 && key[0] == 'L') {
        counts->log++;
        if (s_check_log (value, size) != 0 || key_len != KEYS_LOG_KEY_SIZE) {
            counts->bad_log++;
            s_note_bad (counts, "event log", key, key_len, SHOAL_EFORMAT);
        }
        return;
    }
    if (key_len >= 1 && key[0] == 'V') {
        counts->views++;
        return;
    }
    if (key_len < KEYS_TAG_SIZE + 1 || key[0] != 'S') {
        counts->unknown++;
        counts->bad_keys++;
        s_note_bad (counts, "unknown", key, key_len, SHOAL_EFORMAT);
        return;
    }
    const char *rest = key + KEYS_TAG_SIZE;
    size_t rest_len = key_len - KEYS_TAG_SIZE;
    const uint8_t *a, *b;
    size_t a_len, b_len;
    int64_t n;
    int rc;
    switch (key[KEYS_SHARD_SIZE]) {
    case 'e': {
        counts->events++;
        const char *nul = memchr (rest, 0, rest_len);
        size_t prefix_len = nul ? (size_t) (nul - key) + 1 : 0;
        if (!nul || keys_event_seq (key, key_len, prefix_len) < 1)
            rc = SHOAL_EFORMAT;
        else
            rc = keys_event_decode (value, size, &a, &a_len, &b, &b_len, &n);
        if (rc) {
            counts->bad_events++;
            s_note_bad (counts, "event", key, key_len, rc);
        }
        break;
    }
    case 's':
        counts->snapshots++;
        if ((rc = keys_snapshot_decode (value, size, &n, &a, &a_len, NULL)) != 0) {
            counts->bad_snapshots++;
            s_note_bad (counts, "snapshot", key, key_len, rc);
        }
        break;
    case 'i':
        counts->inbox++;
        if ((rc = keys_inbox_decode (value, size, &n, &a, &a_len, NULL)) != 0) {
            counts->bad_inbox++;
            s_note_bad (counts, "inbox", key, key_len, rc);
        }
        break;
    case 'd': //  runtime/deadletter.c's, opaque here
        counts->dead++;
        break;
    case 'o':
    case 't': {
        bool timer = key[KEYS_SHARD_SIZE] == 't';
        if (timer)
            counts->timers++;
        else
            counts->outbox++;
        if (fn && fn (arg, timer ? NULL : "", NULL, 0, value, size) != 0)
            s_note_bad (counts, timer ? "timer" : "outbox", key, key_len, SHOAL_EFORMAT);
        break;
    }
    default:
        counts->unknown++;
        counts->bad_keys++;
        s_note_bad (counts, "unknown", key, key_len, SHOAL_EFORMAT);
    }
}

//  The stream whose events the check is reading, in key order.
typedef struct {
    bool gapless;                                       //  a store with no hole but damage
    char prefix[KEYS_TAG_SIZE + SHOAL_ADDRESS_MAX + 1]; //  its key up to the seq
    size_t prefix_len;                                  //  0: none yet
    int64_t seq;                                        //  its last event's
    bool holed;                                         //  counted already
    uint64_t log_next; //  where the event log's next record begins: dense from 0
} hole_t;

//  Counts the positions the event log lacks before the record at key (a
//  good one): commits a repair dropped (a store that is not GAPLESS; a
//  node's open refuses one that is, verify.c).
static void s_check_log_hole (hole_t *hole, journal_records_t *counts, const char *key,
                              size_t key_len, const uint8_t *value, size_t size)
{
    size_t offset;
    uint64_t count;
    if (key_len != KEYS_LOG_KEY_SIZE || key[0] != 'L')
        return;
    if (keys_log_open (value, size, &offset, &count)) {
        hole->log_next = UINT64_MAX; //  counted bad by s_check_record: its positions unknown
        return;
    }
    uint64_t first = 0;
    for (size_t i = 1; i < KEYS_LOG_KEY_SIZE; i++)
        first = first << 8 | (uint8_t) key[i];
    if (hole->log_next != UINT64_MAX && first > hole->log_next) {
        if (counts->log_missing == 0) {
            counts->log_from = hole->log_next;
            counts->log_to = first;
        }
        counts->log_missing += first - hole->log_next;
    }
    hole->log_next = first + count;
}

//  True if key is an event's ('S' shard 'e' stream 0x00 seq), with the
//  length of its part up to the seq and the seq; false for any other key
//  or a bad one (counted by s_check_record).
static bool s_event_key (const char *key, size_t key_len, size_t *prefix_len, int64_t *seq)
{
    if (key_len < KEYS_TAG_SIZE + 1 || key[0] != 'S' || key[KEYS_SHARD_SIZE] != 'e')
        return false;
    const char *nul = memchr (key + KEYS_TAG_SIZE, 0, key_len - KEYS_TAG_SIZE);
    *prefix_len = nul ? (size_t) (nul - key) + 1 : 0;
    *seq = nul ? keys_event_seq (key, key_len, *prefix_len) : -1;
    return *seq >= 1 && *prefix_len <= KEYS_TAG_SIZE + SHOAL_ADDRESS_MAX + 1;
}

//  True if the event key (its part up to the seq, prefix_len bytes) is of
//  the stream hole follows.
static bool s_same_stream (const hole_t *hole, const char *key, size_t prefix_len)
{
    return prefix_len == hole->prefix_len && memcmp (key, hole->prefix, prefix_len) == 0;
}

//  The stream hole followed ended (at hole->seq): compares its end with
//  the log's (s_logged_past). Nothing before the first stream.
static void s_logged_ended (logged_t *self, journal_records_t *counts, const hole_t *hole)
{
    if (!self->logged || !hole->prefix_len)
        return;
    char stream[SHOAL_ADDRESS_MAX + 1];
    size_t len = hole->prefix_len - 1 - KEYS_TAG_SIZE;
    memcpy (stream, hole->prefix + KEYS_TAG_SIZE, len);
    stream[len] = 0;
    s_logged_past (self, counts, stream, hole->seq);
}

//  At the walk's end: the last stream, then those the log has and the
//  store not at all.
static void s_logged_end (logged_t *self, journal_records_t *counts, const hole_t *hole)
{
    if (!self->logged)
        return;
    s_logged_ended (self, counts, hole);
    zlistx_t *left = zhashx_keys (self->logged);
    for (const char *stream = left ? zlistx_first (left) : NULL; stream;
         stream = zlistx_next (left))
        s_logged_past (self, counts, stream, 0);
    zlistx_destroy (&left);
    zhashx_destroy (&self->logged);
}

//  Counts a stream whose seqs do not follow each other (from 1), once:
//  in a store marked GAPLESS (journal_internal.h), events lost under it;
//  in one that is not (a repair took the mark away), the events of the
//  commits the repair dropped, which a node serves as they are.
static void s_check_hole (hole_t *hole, journal_records_t *counts, const char *key,
                          size_t prefix_len, int64_t seq)
{
    bool same = s_same_stream (hole, key, prefix_len);
    int64_t expected = same ? hole->seq + 1 : 1;
    if (!same) {
        memcpy (hole->prefix, key, prefix_len);
        hole->prefix_len = prefix_len;
        hole->holed = false;
    }
    hole->seq = seq;
    if (seq == expected || hole->holed)
        return;
    hole->holed = true;
    if (!hole->gapless) {
        if (counts->repaired_holes++ == 0)
            snprintf (counts->first_repaired, sizeof counts->first_repaired,
                      "stream %.*s has no event %" PRId64 " but has event %" PRId64,
                      (int) (prefix_len - 1 - KEYS_TAG_SIZE), key + KEYS_TAG_SIZE, expected, seq);
        return;
    }
    counts->holes++;
    if (!counts->first_bad[0])
        snprintf (counts->first_bad, sizeof counts->first_bad,
                  "stream %.*s has no event %" PRId64 " but has event %" PRId64
                  " (a hole, in a store marked GAPLESS: a node refuses the stream)",
                  (int) (prefix_len - 1 - KEYS_TAG_SIZE), key + KEYS_TAG_SIZE, expected, seq);
}

int journal_check_records (journal_t *self, journal_records_t *counts, journal_entry_fn *fn,
                           void *arg)
{
    assert (self);
    assert (counts);
    memset (counts, 0, sizeof *counts);
    int rc = journal_enter (self);
    if (rc)
        return rc;
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, self->read);
    hole_t hole = {.gapless = self->gapless};
    //  Out of memory: the log's events are not compared with the streams.
    logged_t logged = {.logged = zhashx_new ()};
    for (leveldb_iter_seek_to_first (it); leveldb_iter_valid (it); leveldb_iter_next (it)) {
        size_t key_len, value_len;
        const char *key = leveldb_iter_key (it, &key_len);
        const char *value = leveldb_iter_value (it, &value_len);
        s_check_record (counts, key, key_len, (const uint8_t *) value, value_len, fn, arg);
        if (key_len == KEYS_LOG_KEY_SIZE && key[0] == 'L')
            s_note_logged (&logged, (const uint8_t *) value, value_len);
        size_t prefix_len;
        int64_t seq;
        if (s_event_key (key, key_len, &prefix_len, &seq)) {
            if (!s_same_stream (&hole, key, prefix_len))
                s_logged_ended (&logged, counts, &hole);
            s_check_hole (&hole, counts, key, prefix_len, seq);
        }
        s_check_log_hole (&hole, counts, key, key_len, (const uint8_t *) value, value_len);
    }
    s_logged_end (&logged, counts, &hole);
    rc = journal_iter_close (it, rc);
    journal_leave (self);
    return rc;
}
