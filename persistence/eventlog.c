/*  eventlog.c - the node's event log: every event the store holds, in the
    order its commits became visible, at dense positions from 0. One log
    record per commit that appended events (keys.h: 'L' pos -> [1, entry,
    ...]), written in the same LevelDB write as the events themselves
    (batch.c stages it, journal_write_log_held gives it its position under
    the write mutex). Projections read it from their checkpoint.

    Contract: positions are dense and never reused. A write that failed
    may still be kept whole by the reopen that follows it (journal.c):
    the reopen finds the log's end again from the store, so positions go on
    after whatever it holds. A store made before the log existed has its
    events copied into the log once, at open, stream by stream in key order
    (their commit order is not known any more; each stream's order is
    kept), and is marked with the metadata "eventlog".

    Threads: any thread, as for journal_t; reads hold the handle
    (journal_enter), recover and backfill run while the store is not shared
    (open) or held exclusive (reopen).
*/
#include "journal_internal.h"
#include "keys.h"
#include "log.h"
#include <assert.h>
#include <czmq.h>
#include <leveldb/c.h>
#include <stdlib.h>
#include <string.h>

#define BACKFILL_EVENTS 1000 //  events per log record written by the backfill

uint64_t journal_log_end (journal_t *self)
{
    assert (self);
    return atomic_load (&self->log_end);
}

//  Reads the log record at the iterator: its first position from the key
//  and its event count from the value. Returns 0 or SHOAL_EFORMAT.
static int s_record_at (leveldb_iterator_t *it, uint64_t *first, uint64_t *count)
{
    size_t key_len, value_len;
    const char *key = leveldb_iter_key (it, &key_len);
    const char *value = leveldb_iter_value (it, &value_len);
    if (key_len != KEYS_LOG_KEY_SIZE)
        return SHOAL_EFORMAT;
    *first = keys_get_be ((const uint8_t *) key + 1, 8);
    size_t offset;
    return keys_log_open ((const uint8_t *) value, value_len, &offset, count);
}

static bool s_is_log_key (leveldb_iterator_t *it)
{
    if (!leveldb_iter_valid (it))
        return false;
    size_t key_len;
    const char *key = leveldb_iter_key (it, &key_len);
    return key_len >= 1 && key[0] == 'L';
}

int journal_db_log_end (leveldb_t *db, const leveldb_readoptions_t *read, uint64_t *end)
{
    leveldb_iterator_t *it = leveldb_create_iterator (db, read);
    leveldb_iter_seek (it, "M", 1); //  past every 'L' key
    if (leveldb_iter_valid (it))
        leveldb_iter_prev (it);
    else
        leveldb_iter_seek_to_last (it);
    *end = 0;
    int rc = 0;
    if (s_is_log_key (it)) {
        uint64_t first, count;
        if ((rc = s_record_at (it, &first, &count)) == 0)
            *end = first + count;
    }
    return journal_iter_close (it, rc);
}

int journal_db_log_holes (leveldb_t *db, const leveldb_readoptions_t *read, uint64_t *missing,
                          uint64_t *from, uint64_t *to)
{
    *missing = *from = *to = 0;
    leveldb_iterator_t *it = leveldb_create_iterator (db, read);
    leveldb_iter_seek (it, "L", 1);
    int rc = 0;
    uint64_t next = 0; //  where the next record begins: the log's positions are from 0
    for (; rc == 0 && s_is_log_key (it); leveldb_iter_next (it)) {
        uint64_t first, count;
        if ((rc = s_record_at (it, &first, &count)) != 0)
            break;
        if (first > next) {
            if (*missing == 0) {
                *from = next;
                *to = first;
            }
            *missing += first - next;
        }
        next = first + count;
    }
    return journal_iter_close (it, rc);
}

int journal_log_recover (journal_t *self)
{
    uint64_t next;
    int rc = journal_db_log_end (self->db, self->read, &next);
    log_tail_clear (self->tail); //  it may miss what a failed write left
    if (rc == 0) {
        self->log_next = next;
        atomic_store (&self->log_end, next);
    }
    return rc;
}

//  Stages the metadata name = value into writes, or its delete when value
//  is NULL.
static void s_meta_stage (leveldb_writebatch_t *writes, const char *name, const char *value)
{
    uint8_t key[1 + KEYS_META_NAME_MAX];
    size_t len = keys_meta_key (key, name);
    if (value)
        leveldb_writebatch_put (writes, (const char *) key, len, value, strlen (value));
    else
        leveldb_writebatch_delete (writes, (const char *) key, len);
}

//  Writes the log record built in log (count events) at the log's end;
//  the last one with the mark that the log holds every event, and the
//  fill's own mark deleted, in the same write: a crash keeps the record
//  and the mark, or neither.
static int s_backfill_flush (journal_t *self, msgpack_sbuffer *log, uint32_t count, bool last)
{
    if (count == 0 && !last)
        return 0;
    leveldb_writebatch_t *writes = leveldb_writebatch_create ();
    if (last) {
        s_meta_stage (writes, JOURNAL_LOG_META, "1");
        s_meta_stage (writes, JOURNAL_LOG_FILLING_META, NULL);
    }
    int rc = journal_enter (self);
    if (rc == 0) {
        rc = journal_write_log_held (self, self->write, writes, false, count ? log->data : NULL,
                                     count ? log->size : 0, count);
        journal_leave (self);
    }
    leveldb_writebatch_destroy (writes);
    msgpack_sbuffer_clear (log);
    return rc;
}

bool journal_db_logged (leveldb_t *db, const leveldb_readoptions_t *read, char **err)
{
    leveldb_iterator_t *it = leveldb_create_iterator (db, read);
    leveldb_iter_seek (it, "L", 1);
    size_t key_len = 0;
    const char *key = leveldb_iter_valid (it) ? leveldb_iter_key (it, &key_len) : NULL;
    bool logged = key && key_len >= 1 && key[0] == 'L';
    leveldb_iter_get_error (it, err);
    leveldb_iter_destroy (it);
    return logged;
}

//  Whether the store holds a log record. Returns 0 or the store's error.
static int s_logged (journal_t *self, bool *logged)
{
    char *err = NULL;
    *logged = journal_db_logged (self->db, self->read, &err);
    if (!err)
        return 0;
    leveldb_free (err);
    return SHOAL_EIO;
}

//  Deletes every log record (what a fill cut short wrote), 1,000 a write,
//  and finds the log's end again (0). Returns 0 or the store's error.
static int s_log_clear (journal_t *self)
{
    int rc = 0;
    bool logged = true;
    while (rc == 0 && logged) {
        leveldb_writebatch_t *writes = leveldb_writebatch_create ();
        leveldb_iterator_t *it = leveldb_create_iterator (self->db, self->read);
        int staged = 0;
        for (leveldb_iter_seek (it, "L", 1); staged < BACKFILL_EVENTS && leveldb_iter_valid (it);
             leveldb_iter_next (it), staged++) {
            size_t key_len;
            const char *key = leveldb_iter_key (it, &key_len);
            if (key_len < 1 || key[0] != 'L')
                break;
            leveldb_writebatch_delete (writes, key, key_len);
        }
        rc = journal_iter_close (it, 0);
        logged = staged == BACKFILL_EVENTS;
        if (rc == 0 && staged && (rc = journal_enter (self)) == 0) {
            rc = journal_write_held (self, self->write, writes, false);
            journal_leave (self);
        }
        leveldb_writebatch_destroy (writes);
    }
    return rc == 0 ? journal_log_recover (self) : rc;
}

int journal_log_backfill (journal_t *self)
{
    char *mark = NULL;
    int rc = journal_meta_get (self, JOURNAL_LOG_META, &mark);
    free (mark);
    if (rc != SHOAL_ENOTFOUND)
        return rc;
    char *filling = NULL;
    rc = journal_meta_get (self, JOURNAL_LOG_FILLING_META, &filling);
    free (filling);
    if (rc != 0 && rc != SHOAL_ENOTFOUND)
        return rc;
    bool refill = rc == 0, logged = false;
    if ((rc = s_logged (self, &logged)) != 0)
        return rc;
    //  No mark but log records: the mark was lost (a damaged table, a
    //  repair that dropped it), not a store made before the log. A fill
    //  would log every event a second time, and the projections fold
    //  each twice. Unless a fill was under way: what it wrote goes, and
    //  the fill starts again.
    if (logged && !refill)
        return SHOAL_EEXIST;
    if (logged && (rc = s_log_clear (self)) != 0)
        return rc;
    if (!refill && (rc = journal_meta_put (self, JOURNAL_LOG_FILLING_META, "1")) != 0)
        return rc;
    msgpack_sbuffer log;
    msgpack_sbuffer_init (&log);
    uint32_t count = 0;
    uint64_t total = 0;
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, self->read);
    for (leveldb_iter_seek (it, "S", 1); rc == 0 && leveldb_iter_valid (it);
         leveldb_iter_next (it)) {
        size_t key_len, value_len;
        const char *key = leveldb_iter_key (it, &key_len);
        if (key_len < 1 || key[0] != 'S')
            break;
        if (key_len < KEYS_TAG_SIZE + 1 || key[KEYS_SHARD_SIZE] != 'e')
            continue;
        const char *stream = key + KEYS_TAG_SIZE;
        const char *nul = memchr (stream, 0, key_len - KEYS_TAG_SIZE);
        int64_t seq = nul ? keys_event_seq (key, key_len, (size_t) (nul - key) + 1) : -1;
        const uint8_t *value = (const uint8_t *) leveldb_iter_value (it, &value_len);
        const uint8_t *name, *data;
        size_t name_len, size;
        int64_t created;
        if (seq < 1 ||
            keys_event_decode (value, value_len, &name, &name_len, &data, &size, &created)) {
            rc = SHOAL_EFORMAT;
            break;
        }
        if (keys_log_append (&log, stream, (size_t) (nul - stream), seq, (const char *) name,
                             name_len, data, size, created)) {
            rc = SHOAL_ENOMEM;
            break;
        }
        total++;
        if (++count == BACKFILL_EVENTS) {
            rc = s_backfill_flush (self, &log, count, false);
            count = 0;
        }
    }
    rc = journal_iter_close (it, rc);
    if (rc == 0)
        rc = s_backfill_flush (self, &log, count, true);
    msgpack_sbuffer_destroy (&log);
    if (rc == 0 && total)
        log_info ("journal %s: the event log was filled with the %" PRIu64
                  " events of a store made before it%s",
                  self->dir, total, refill ? " (again: a fill had been cut short)" : "");
    return rc;
}

//  Delivers the events of one log record (its first position first) at
//  positions >= from. Counts them in *given, stops at limit (0 = none).
//  Returns 0, fn's non-zero value, or SHOAL_EFORMAT.
static int s_deliver (const uint8_t *value, size_t size, uint64_t first, uint64_t from,
                      size_t limit, size_t *given, journal_log_fn *fn, void *arg)
{
    size_t offset;
    uint64_t count;
    int rc = keys_log_open (value, size, &offset, &count);
    for (uint64_t i = 0; rc == 0 && i < count; i++) {
        keys_log_entry_t entry;
        if (keys_log_next (value, size, &offset, &entry))
            return SHOAL_EFORMAT;
        if (first + i < from)
            continue;
        char stream[SHOAL_ADDRESS_MAX + 1], name[SHOAL_NAME_MAX + 1];
        memcpy (stream, entry.stream, entry.stream_len);
        stream[entry.stream_len] = 0;
        memcpy (name, entry.name, entry.name_len);
        name[entry.name_len] = 0;
        journal_logged_t event = {.position = first + i,
                                  .stream = stream,
                                  .seq = entry.seq,
                                  .name = name,
                                  .data = entry.data,
                                  .size = entry.size,
                                  .created = entry.created};
        if ((rc = fn (arg, &event)) != 0)
            return rc;
        if (limit && ++*given >= limit)
            return 0;
    }
    return rc;
}

//  journal_log_read, the store entered by enter when the tail has not the
//  events.
static int s_log_read (journal_t *self, uint64_t from, size_t limit, journal_log_fn *fn, void *arg,
                       int (*enter) (journal_t *))
{
    assert (self);
    assert (fn);
    //  Nothing past the end readers see: what is not durable yet.
    uint64_t end = atomic_load (&self->log_end);
    if (from >= end)
        return 0;
    if (limit == 0 || limit > end - from)
        limit = (size_t) (end - from);
    //  What was just committed is read from the tail in memory.
    log_tail_copy_t copy;
    int rc = log_tail_copy (self->tail, from, limit, &copy);
    if (rc == 0) {
        size_t given = 0;
        for (size_t i = 0; rc == 0 && i < copy.count && !(limit && given >= limit); i++)
            rc = s_deliver (copy.bytes + copy.records[i].offset, copy.records[i].size,
                            copy.records[i].first, from, limit, &given, fn, arg);
        log_tail_copy_free (&copy);
        return rc;
    }
    rc = enter (self); //  older than the tail, or out of memory: the store
    if (rc)
        return rc;
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, self->read);
    uint8_t key[KEYS_LOG_KEY_SIZE];
    leveldb_iter_seek (it, (const char *) key, keys_log_key (key, from));
    //  from may fall inside the record before the one found.
    bool exact = false;
    if (s_is_log_key (it)) {
        size_t key_len;
        const char *found = leveldb_iter_key (it, &key_len);
        exact = key_len == KEYS_LOG_KEY_SIZE && memcmp (found, key, KEYS_LOG_KEY_SIZE) == 0;
    }
    if (!exact) {
        if (leveldb_iter_valid (it))
            leveldb_iter_prev (it);
        else
            leveldb_iter_seek_to_last (it);
        if (!s_is_log_key (it))
            leveldb_iter_seek (it, (const char *) key, KEYS_LOG_KEY_SIZE);
    }
    size_t given = 0;
    for (; rc == 0 && s_is_log_key (it) && !(limit && given >= limit); leveldb_iter_next (it)) {
        uint64_t first, count;
        if ((rc = s_record_at (it, &first, &count)) != 0)
            break;
        if (first + count <= from)
            continue;
        size_t size;
        const uint8_t *value = (const uint8_t *) leveldb_iter_value (it, &size);
        rc = s_deliver (value, size, first, from, limit, &given, fn, arg);
    }
    rc = journal_iter_close (it, rc);
    journal_leave (self);
    return rc;
}

int journal_log_read (journal_t *self, uint64_t from, size_t limit, journal_log_fn *fn, void *arg)
{
    return s_log_read (self, from, limit, fn, arg, journal_enter);
}

int journal_log_peek (journal_t *self, uint64_t position, journal_log_fn *fn, void *arg)
{
    return s_log_read (self, position, 1, fn, arg, journal_try_enter_read);
}
