/*  dead.c - dead-letter records in the journal. See journal_dead.h.

    Contract: keys are built with keys.h (tag 'd', like the inbox's 'i'
    with the message id); values are stored and returned as given. A scan
    hands fn a NUL-terminated copy of each key's stream.

    Threads: any thread; nothing here keeps state. Every use of the store
    holds its handle (journal_enter), and writes go through
    journal_write_held, as in journal.c.
*/
#include "journal_dead.h"
#include "journal_internal.h"
#include "keys.h"
#include <assert.h>
#include <stdlib.h>
#include <string.h>

int journal_dead_get (journal_t *self, const char *stream, const uint8_t id[JOURNAL_ID_SIZE],
                      uint8_t **value, size_t *size)
{
    assert (self);
    size_t len = keys_stream_len (stream);
    if (len == 0 || !id)
        return SHOAL_EINVAL;
    uint8_t key[KEYS_STREAM_MAX];
    size_t key_len = keys_id_key (key, journal_shard (self, stream), 'd', stream, len, id);
    int rc = journal_enter (self);
    if (rc)
        return rc;
    char *err = NULL;
    size_t value_len;
    char *found = leveldb_get (self->db, self->read, (const char *) key, key_len, &value_len, &err);
    journal_leave (self);
    if (err) {
        journal_read_failed (err);
        return SHOAL_EIO;
    }
    if (!found)
        return SHOAL_ENOTFOUND;
    *value = journal_memdup (found, value_len);
    *size = value_len;
    leveldb_free (found);
    return *value ? 0 : SHOAL_ENOMEM;
}

int journal_dead_put (journal_t *self, const char *stream, const uint8_t id[JOURNAL_ID_SIZE],
                      const uint8_t *value, size_t size)
{
    assert (self);
    size_t len = keys_stream_len (stream);
    if (len == 0 || !id || (size && !value))
        return SHOAL_EINVAL;
    uint8_t key[KEYS_STREAM_MAX];
    size_t key_len = keys_id_key (key, journal_shard (self, stream), 'd', stream, len, id);
    leveldb_writebatch_t *put = leveldb_writebatch_create ();
    leveldb_writebatch_put (put, (const char *) key, key_len, (const char *) value, size);
    int rc = journal_enter (self);
    if (rc == 0) {
        rc = journal_write_held (self, self->write, put, false);
        journal_leave (self);
    }
    leveldb_writebatch_destroy (put);
    return rc;
}

int journal_dead_scan (journal_t *self, journal_dead_fn *fn, void *arg)
{
    assert (self);
    int rc = journal_enter (self);
    if (rc)
        return rc;
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, self->read);
    for (uint32_t shard = 0; rc == 0 && shard < self->shards; shard++) {
        uint8_t prefix[KEYS_TAG_SIZE];
        keys_tag_key (prefix, shard, 'd');
        for (leveldb_iter_seek (it, (const char *) prefix, sizeof prefix);
             rc == 0 && leveldb_iter_valid (it); leveldb_iter_next (it)) {
            size_t key_len, value_len;
            const char *key = leveldb_iter_key (it, &key_len);
            if (!keys_has_prefix (key, key_len, prefix, sizeof prefix))
                break;
            //  stream 0x00 id:16 after the prefix
            size_t stream_len = key_len - KEYS_TAG_SIZE;
            if (key_len < KEYS_TAG_SIZE + 2 + JOURNAL_ID_SIZE)
                continue;
            stream_len -= 1 + JOURNAL_ID_SIZE;
            const char *stream_at = key + KEYS_TAG_SIZE;
            if (stream_len > SHOAL_ADDRESS_MAX || stream_at[stream_len] != 0 ||
                memchr (stream_at, 0, stream_len))
                continue;
            char stream[SHOAL_ADDRESS_MAX + 1];
            memcpy (stream, stream_at, stream_len);
            stream[stream_len] = 0;
            const char *value = leveldb_iter_value (it, &value_len);
            rc = fn (arg, stream, (const uint8_t *) key + key_len - JOURNAL_ID_SIZE,
                     (const uint8_t *) value, value_len);
        }
    }
    rc = journal_iter_close (it, rc);
    journal_leave (self);
    return rc < 0 ? rc : 0;
}
