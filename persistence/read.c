/*  read.c - the journal's reads of committed records: a stream's version
    and its events, snapshots, inbox records (and the digest that ties a
    record to its request; a stream's creator's, held by its first event),
    and the store's metadata (read and written).
    See journal.h for the API and keys.h for the key layout; opening the
    store, its handle and its reopen after a failed write are in journal.c.

    Contract: every record read back is validated by keys.c's decoders: a
    damaged record gives SHOAL_EFORMAT (SHOAL_EVERSION for a well-formed
    record of another format version), never a crash. Buffers returned to
    the caller are theirs to free() (LevelDB's own are freed here). Reads
    see the committed store only, nothing staged in a batch (batch.c).

    Threads: any thread, as for journal_t; every use of the store holds its
    handle (journal_enter / journal_leave), and metadata writes go through
    journal_write_held.

    Limits: streams are at most SHOAL_ADDRESS_MAX bytes, metadata names at
    most KEYS_META_NAME_MAX.
*/
#include "journal_internal.h"
#include "keys.h"
#include "log.h"
#include <assert.h>
#include <inttypes.h>
#include <leveldb/c.h>
#include <stdlib.h>
#include <string.h>

//  --------------------------------------------------------------------------
//  Small helpers

//  Copies bytes into a fresh buffer for the caller to free(); never
//  returns NULL for size 0 unless memory ran out. Also used by batch.c.
uint8_t *journal_memdup (const void *bytes, size_t size)
{
    uint8_t *copy = malloc (size ? size : 1);
    if (copy && size)
        memcpy (copy, bytes, size);
    return copy;
}

//  --------------------------------------------------------------------------
//  Reads

int journal_version (journal_t *self, const char *stream, int64_t *version)
{
    assert (self);
    assert (version);
    size_t len = keys_stream_len (stream);
    if (len == 0)
        return SHOAL_EINVAL;
    uint8_t prefix[KEYS_STREAM_MAX];
    size_t prefix_len =
        keys_stream_key (prefix, journal_shard (self, stream), 'e', stream, len, true);
    uint8_t end[KEYS_STREAM_MAX];
    memcpy (end, prefix, prefix_len);
    end[prefix_len - 1] = 0x01;

    *version = 0;
    int rc = journal_enter (self);
    if (rc)
        return rc;
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, self->read);
    leveldb_iter_seek (it, (const char *) end, prefix_len);
    if (leveldb_iter_valid (it))
        leveldb_iter_prev (it);
    else
        leveldb_iter_seek_to_last (it);
    if (leveldb_iter_valid (it)) {
        size_t key_len;
        const char *key = leveldb_iter_key (it, &key_len);
        if (keys_has_prefix (key, key_len, prefix, prefix_len)) {
            int64_t seq = keys_event_seq (key, key_len, prefix_len);
            if (seq < 0)
                rc = SHOAL_EFORMAT;
            else
                *version = seq;
        }
    }
    rc = journal_iter_close (it, rc);
    journal_leave (self);
    return rc;
}

int journal_read (journal_t *self, const char *stream, int64_t from, size_t limit,
                  journal_event_fn *fn, void *arg)
{
    return journal_read_creator (self, stream, from, limit, fn, arg, NULL, NULL);
}

//  Gets the value of key. Returns 0 with *value (free with leveldb_free),
//  SHOAL_ENOTFOUND, or SHOAL_EIO.
static int s_get (journal_t *self, const uint8_t *key, size_t key_len, char **value, size_t *size)
{
    int rc = journal_enter (self);
    if (rc)
        return rc;
    char *err = NULL;
    *value = leveldb_get (self->db, self->read, (const char *) key, key_len, size, &err);
    journal_leave (self);
    if (err) {
        journal_read_failed (err);
        return SHOAL_EIO;
    }
    return *value ? 0 : SHOAL_ENOTFOUND;
}

int journal_read_creator (journal_t *self, const char *stream, int64_t from, size_t limit,
                          journal_event_fn *fn, void *arg, uint8_t creator[JOURNAL_ID_SIZE],
                          bool *has_creator)
{
    assert (self);
    assert (fn);
    size_t len = keys_stream_len (stream);
    if (len == 0)
        return SHOAL_EINVAL;
    uint8_t prefix[KEYS_STREAM_MAX];
    uint32_t shard = journal_shard (self, stream);
    size_t prefix_len = keys_stream_key (prefix, shard, 'e', stream, len, true);
    uint8_t start[KEYS_STREAM_MAX];
    size_t start_len = keys_event_key (start, shard, stream, len, from < 1 ? 1 : from);

    //  A stream the filter knows has no events: no read (every new stream,
    //  a saga's first command, once the filters are ready, filters.c).
    if (journal_filter_absent (self, JOURNAL_FILTER_STREAMS, stream, len))
        return 0;
    //  No get of event 1 to tell a new stream without a seek: a stream that
    //  lost event 1 read as new, and its next command's events were
    //  written over its later ones. The filter above answers for new
    //  streams once it is ready; the seek below sees a lost event 1.
    size_t delivered = 0;
    int64_t expected = from < 1 ? 1 : from; //  the next seq, in a store with no gap
    int rc = journal_enter (self);
    if (rc)
        return rc;
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, self->read);
    for (leveldb_iter_seek (it, (const char *) start, start_len); leveldb_iter_valid (it);
         leveldb_iter_next (it)) {
        size_t key_len, value_len;
        const char *key = leveldb_iter_key (it, &key_len);
        if (!keys_has_prefix (key, key_len, prefix, prefix_len))
            break;
        int64_t seq = keys_event_seq (key, key_len, prefix_len);
        const uint8_t *value = (const uint8_t *) leveldb_iter_value (it, &value_len);
        const uint8_t *name, *data;
        size_t name_len, data_len;
        int64_t created;
        if (seq < 0) {
            rc = SHOAL_EFORMAT;
            break;
        }
        //  A hole in a store marked gapless: events lost under it (a table
        //  or log damaged, a key deleted by hand). The stream is refused,
        //  not folded over the hole, so that nothing is appended on it.
        if (self->gapless && seq != expected) {
            log_warn ("journal %s: stream %s has no event %" PRId64 " but has event %" PRId64
                      " after it, in a store marked %s: refused as damaged (`shoal repair` "
                      "accepts the loss)",
                      self->dir, stream, expected, seq, JOURNAL_GAPLESS_FILE);
            rc = SHOAL_EFORMAT;
            break;
        }
        expected = seq + 1;
        keys_creator_t held;
        rc = keys_event_decode_creator (value, value_len, &name, &name_len, &data, &data_len,
                                        &created, &held);
        if (rc)
            break;
        if (seq == 1 && held.id && creator) {
            memcpy (creator, held.id, JOURNAL_ID_SIZE);
            *has_creator = true;
        }
        char name_z[SHOAL_NAME_MAX + 1];
        memcpy (name_z, name, name_len);
        name_z[name_len] = '\0';
        if (fn (arg, seq, name_z, data, data_len, created) != 0)
            break;
        if (limit && ++delivered == limit)
            break;
    }
    rc = journal_iter_close (it, rc);
    journal_leave (self);
    return rc;
}

int journal_snapshot_get (journal_t *self, const char *stream, int64_t *seq, uint8_t **state,
                          size_t *size)
{
    return journal_snapshot_read (self, stream, seq, state, size, NULL);
}

int journal_snapshot_read (journal_t *self, const char *stream, int64_t *seq, uint8_t **state,
                           size_t *size, int *version)
{
    assert (self);
    size_t len = keys_stream_len (stream);
    if (len == 0)
        return SHOAL_EINVAL;
    uint8_t key[KEYS_STREAM_MAX];
    size_t key_len = keys_stream_key (key, journal_shard (self, stream), 's', stream, len, false);
    char *value;
    size_t value_len;
    int rc = s_get (self, key, key_len, &value, &value_len);
    if (rc)
        return rc;
    const uint8_t *bytes;
    rc = keys_snapshot_decode ((const uint8_t *) value, value_len, seq, &bytes, size, version);
    if (rc == 0 && !(*state = journal_memdup (bytes, *size)))
        rc = SHOAL_ENOMEM;
    leveldb_free (value);
    return rc;
}

int journal_inbox_get (journal_t *self, const char *stream, const uint8_t id[JOURNAL_ID_SIZE],
                       uint8_t **reply, size_t *size)
{
    return journal_inbox_find (self, stream, id, reply, size, NULL);
}

uint64_t journal_request_digest (const char *name, const uint8_t *payload, size_t size)
{
    uint64_t hash = 14695981039346656037ull;
    for (const char *c = name; *c; c++)
        hash = (hash ^ (uint8_t) *c) * 1099511628211ull;
    hash *= 1099511628211ull; //  the NUL between name and payload
    for (size_t i = 0; i < size; i++)
        hash = (hash ^ payload[i]) * 1099511628211ull;
    return hash ? hash : 1;
}

int journal_inbox_find (journal_t *self, const char *stream, const uint8_t id[JOURNAL_ID_SIZE],
                        uint8_t **reply, size_t *size, journal_request_t *request)
{
    assert (self);
    size_t len = keys_stream_len (stream);
    if (len == 0 || !id)
        return SHOAL_EINVAL;
    if (journal_filter_absent (self, JOURNAL_FILTER_INBOX, stream, len))
        return SHOAL_ENOTFOUND;
    uint8_t key[KEYS_STREAM_MAX];
    size_t key_len = keys_id_key (key, journal_shard (self, stream), 'i', stream, len, id);
    char *value;
    size_t value_len;
    int rc = s_get (self, key, key_len, &value, &value_len);
    if (rc)
        return rc;
    int64_t created;
    const uint8_t *bytes;
    rc = keys_inbox_decode ((const uint8_t *) value, value_len, &created, &bytes, size, request);
    if (rc == 0 && !(*reply = journal_memdup (bytes, *size)))
        rc = SHOAL_ENOMEM;
    leveldb_free (value);
    return rc;
}

//  Gets stream's first event. Returns 0 with *value (free with
//  leveldb_free) and *creator pointing into it, SHOAL_ENOTFOUND if the
//  stream has no event, SHOAL_EFORMAT, SHOAL_EIO.
static int s_first_event (journal_t *self, const char *stream, char **value,
                          keys_creator_t *creator)
{
    size_t len = keys_stream_len (stream);
    if (len == 0)
        return SHOAL_EINVAL;
    if (journal_filter_absent (self, JOURNAL_FILTER_STREAMS, stream, len))
        return SHOAL_ENOTFOUND;
    uint8_t key[KEYS_STREAM_MAX];
    size_t key_len = keys_event_key (key, journal_shard (self, stream), stream, len, 1);
    size_t size;
    int rc = s_get (self, key, key_len, value, &size);
    if (rc)
        return rc;
    const uint8_t *name, *data;
    size_t name_len, data_len;
    int64_t created;
    rc = keys_event_decode_creator ((const uint8_t *) *value, size, &name, &name_len, &data,
                                    &data_len, &created, creator);
    if (rc)
        leveldb_free (*value);
    return rc;
}

int journal_creator_id (journal_t *self, const char *stream, uint8_t id[JOURNAL_ID_SIZE])
{
    assert (self);
    char *value;
    keys_creator_t creator;
    int rc = s_first_event (self, stream, &value, &creator);
    if (rc)
        return rc;
    if (creator.id)
        memcpy (id, creator.id, JOURNAL_ID_SIZE);
    leveldb_free (value);
    return creator.id ? 0 : SHOAL_ENOTFOUND;
}

int journal_creator_find (journal_t *self, const char *stream, const uint8_t id[JOURNAL_ID_SIZE],
                          uint8_t **reply, size_t *size, journal_request_t *request)
{
    assert (self);
    if (!id)
        return SHOAL_EINVAL;
    char *value;
    keys_creator_t creator;
    int rc = s_first_event (self, stream, &value, &creator);
    if (rc)
        return rc;
    rc = SHOAL_ENOTFOUND;
    if (creator.id && memcmp (creator.id, id, JOURNAL_ID_SIZE) == 0) {
        int64_t created;
        const uint8_t *bytes;
        rc = keys_inbox_decode (creator.inbox, creator.inbox_len, &created, &bytes, size, request);
        if (rc == 0 && !(*reply = journal_memdup (bytes, *size)))
            rc = SHOAL_ENOMEM;
    }
    leveldb_free (value);
    return rc;
}

int journal_inbox_decode (const uint8_t *record, size_t size, const uint8_t **reply,
                          size_t *reply_size, journal_request_t *request)
{
    int64_t created;
    return keys_inbox_decode (record, size, &created, reply, reply_size, request);
}

//  --------------------------------------------------------------------------
//  Metadata

int journal_meta_get (journal_t *self, const char *name, char **value)
{
    assert (self);
    assert (value);
    uint8_t key[1 + KEYS_META_NAME_MAX];
    size_t key_len = keys_meta_key (key, name);
    if (key_len == 0)
        return SHOAL_EINVAL;
    char *stored;
    size_t size;
    int rc = s_get (self, key, key_len, &stored, &size);
    if (rc)
        return rc;
    *value = malloc (size + 1);
    if (*value) {
        memcpy (*value, stored, size);
        (*value)[size] = '\0';
    }
    leveldb_free (stored);
    return *value ? 0 : SHOAL_ENOMEM;
}

int journal_meta_put (journal_t *self, const char *name, const char *value)
{
    assert (self);
    uint8_t key[1 + KEYS_META_NAME_MAX];
    size_t key_len = keys_meta_key (key, name);
    if (key_len == 0 || !value)
        return SHOAL_EINVAL;
    leveldb_writebatch_t *put = leveldb_writebatch_create ();
    leveldb_writebatch_put (put, (const char *) key, key_len, value, strlen (value));
    int rc = journal_enter (self);
    if (rc == 0) {
        rc = journal_write_held (self, self->write, put, false);
        journal_leave (self);
    }
    leveldb_writebatch_destroy (put);
    return rc;
}
