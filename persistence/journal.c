/*  journal.c - the node's LevelDB store: opening and closing it, reading
    streams, snapshots and inbox records, metadata, and the commit-failure
    test hook. See journal.h for the API and keys.h for the key layout.
    Writes are staged and committed in batch.c; the outbox, timer and inbox
    scans are in scan.c.

    Contract: every record read back is validated by keys.c's decoders: a
    damaged record gives SHOAL_EFORMAT (SHOAL_EVERSION for a well-formed
    record of another format version), never a crash. Buffers returned to
    the caller are theirs to free() (LevelDB's own are freed here).

    Threads: a journal_t is immutable after journal_open except for the
    commit-failure test counter, which is atomic, so any thread may use it.

    Limits: streams are at most SHOAL_ADDRESS_MAX bytes, metadata names at
    most KEYS_META_NAME_MAX.
*/
#include "journal_internal.h"
#include "keys.h"
#include <assert.h>
#include <errno.h>
#include <leveldb/c.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_CACHE_BYTES (64u << 20)
#define WRITE_BUFFER_BYTES (16u << 20)
#define BLOOM_BITS_PER_KEY 10

//  --------------------------------------------------------------------------
//  Small helpers

//  Returns a freshly allocated formatted string (free with free()), or NULL.
static char *s_strdupf (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    int len = vsnprintf (NULL, 0, format, args);
    va_end (args);
    if (len < 0)
        return NULL;
    char *string = malloc ((size_t) len + 1);
    if (!string)
        return NULL;
    va_start (args, format);
    vsnprintf (string, (size_t) len + 1, format, args);
    va_end (args);
    return string;
}

//  Creates dir and its missing parents. Returns 0 or -1 with errno set.
static int s_mkdir_p (const char *dir)
{
    char path[PATH_MAX];
    size_t len = strlen (dir);
    if (len == 0 || len >= sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy (path, dir, len + 1);
    for (char *slash = path + 1; *slash; slash++) {
        if (*slash != '/')
            continue;
        *slash = '\0';
        if (mkdir (path, 0755) != 0 && errno != EEXIST)
            return -1;
        *slash = '/';
    }
    if (mkdir (path, 0755) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

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

journal_t *journal_open (const char *dir, const journal_options_t *opts, int *code, char **error)
{
    if (error)
        *error = NULL;
    if (!dir || !*dir) {
        s_set_error (code, error, SHOAL_EINVAL, s_strdupf ("no data directory given"));
        return NULL;
    }
    if (s_mkdir_p (dir) != 0) {
        s_set_error (code, error, SHOAL_EIO,
                     s_strdupf ("cannot create data directory %s: %s", dir, strerror (errno)));
        return NULL;
    }
    journal_t *self = calloc (1, sizeof (journal_t));
    if (!self) {
        s_set_error (code, error, SHOAL_ENOMEM, NULL);
        return NULL;
    }
    bool sync = opts ? opts->sync : true;
    size_t cache_bytes = opts && opts->cache_bytes ? opts->cache_bytes : DEFAULT_CACHE_BYTES;

    self->options = leveldb_options_create ();
    self->filter = leveldb_filterpolicy_create_bloom (BLOOM_BITS_PER_KEY);
    self->cache = leveldb_cache_create_lru (cache_bytes);
    leveldb_options_set_create_if_missing (self->options, 1);
    leveldb_options_set_filter_policy (self->options, self->filter);
    leveldb_options_set_cache (self->options, self->cache);
    leveldb_options_set_write_buffer_size (self->options, WRITE_BUFFER_BYTES);
    leveldb_options_set_compression (self->options, leveldb_no_compression);

    self->read = leveldb_readoptions_create ();
    leveldb_readoptions_set_verify_checksums (self->read, 1);
    self->write = leveldb_writeoptions_create ();
    leveldb_writeoptions_set_sync (self->write, sync);
    self->write_lazy = leveldb_writeoptions_create ();
    leveldb_writeoptions_set_sync (self->write_lazy, 0);
    atomic_init (&self->fail_after, 0);

    char *err = NULL;
    self->db = leveldb_open (self->options, dir, &err);
    if (err) {
        if (s_is_lock_error (err))
            s_set_error (code, error, SHOAL_EBUSY,
                         s_strdupf ("data directory %s is in use by another process "
                                    "(LevelDB lock held)",
                                    dir));
        else
            s_set_error (code, error, SHOAL_EIO,
                         s_strdupf ("cannot open the journal in %s: %s", dir, err));
        leveldb_free (err);
        self->db = NULL;
        journal_destroy (&self);
        return NULL;
    }
    return self;
}

void journal_destroy (journal_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    journal_t *self = *self_p;
    if (self->db)
        leveldb_close (self->db);
    leveldb_writeoptions_destroy (self->write_lazy);
    leveldb_writeoptions_destroy (self->write);
    leveldb_readoptions_destroy (self->read);
    leveldb_options_destroy (self->options);
    leveldb_cache_destroy (self->cache);
    leveldb_filterpolicy_destroy (self->filter);
    free (self);
    *self_p = NULL;
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
//  Reads

int journal_version (journal_t *self, const char *stream, int64_t *version)
{
    assert (self);
    assert (version);
    size_t len = keys_stream_len (stream);
    if (len == 0)
        return SHOAL_EINVAL;
    uint8_t prefix[KEYS_STREAM_MAX];
    size_t prefix_len = keys_stream_key (prefix, 'e', stream, len, true);
    uint8_t end[KEYS_STREAM_MAX];
    memcpy (end, prefix, prefix_len);
    end[prefix_len - 1] = 0x01;

    int rc = 0;
    *version = 0;
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
    char *err = NULL;
    leveldb_iter_get_error (it, &err);
    if (err) {
        leveldb_free (err);
        rc = SHOAL_EIO;
    }
    leveldb_iter_destroy (it);
    return rc;
}

int journal_read (journal_t *self, const char *stream, int64_t from, size_t limit,
                  journal_event_fn *fn, void *arg)
{
    assert (self);
    assert (fn);
    size_t len = keys_stream_len (stream);
    if (len == 0)
        return SHOAL_EINVAL;
    uint8_t prefix[KEYS_STREAM_MAX];
    size_t prefix_len = keys_stream_key (prefix, 'e', stream, len, true);
    uint8_t start[KEYS_STREAM_MAX];
    size_t start_len = keys_event_key (start, stream, len, from < 1 ? 1 : from);

    int rc = 0;
    size_t delivered = 0;
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
        rc = keys_event_decode (value, value_len, &name, &name_len, &data, &data_len, &created);
        if (rc)
            break;
        char name_z[SHOAL_NAME_MAX + 1];
        memcpy (name_z, name, name_len);
        name_z[name_len] = '\0';
        if (fn (arg, seq, name_z, data, data_len, created) != 0)
            break;
        if (limit && ++delivered == limit)
            break;
    }
    char *err = NULL;
    leveldb_iter_get_error (it, &err);
    if (err) {
        leveldb_free (err);
        rc = SHOAL_EIO;
    }
    leveldb_iter_destroy (it);
    return rc;
}

//  Gets the value of key. Returns 0 with *value (free with leveldb_free),
//  SHOAL_ENOTFOUND, or SHOAL_EIO.
static int s_get (journal_t *self, const uint8_t *key, size_t key_len, char **value, size_t *size)
{
    char *err = NULL;
    *value = leveldb_get (self->db, self->read, (const char *) key, key_len, size, &err);
    if (err) {
        leveldb_free (err);
        return SHOAL_EIO;
    }
    return *value ? 0 : SHOAL_ENOTFOUND;
}

int journal_snapshot_get (journal_t *self, const char *stream, int64_t *seq, uint8_t **state,
                          size_t *size)
{
    assert (self);
    size_t len = keys_stream_len (stream);
    if (len == 0)
        return SHOAL_EINVAL;
    uint8_t key[KEYS_STREAM_MAX];
    size_t key_len = keys_stream_key (key, 's', stream, len, false);
    char *value;
    size_t value_len;
    int rc = s_get (self, key, key_len, &value, &value_len);
    if (rc)
        return rc;
    const uint8_t *bytes;
    rc = keys_snapshot_decode ((const uint8_t *) value, value_len, seq, &bytes, size);
    if (rc == 0 && !(*state = journal_memdup (bytes, *size)))
        rc = SHOAL_ENOMEM;
    leveldb_free (value);
    return rc;
}

int journal_inbox_get (journal_t *self, const char *stream, const uint8_t id[JOURNAL_ID_SIZE],
                       uint8_t **reply, size_t *size)
{
    assert (self);
    size_t len = keys_stream_len (stream);
    if (len == 0 || !id)
        return SHOAL_EINVAL;
    uint8_t key[KEYS_STREAM_MAX];
    size_t key_len = keys_id_key (key, 'i', stream, len, id);
    char *value;
    size_t value_len;
    int rc = s_get (self, key, key_len, &value, &value_len);
    if (rc)
        return rc;
    int64_t created;
    const uint8_t *bytes;
    rc = keys_inbox_decode ((const uint8_t *) value, value_len, &created, &bytes, size);
    if (rc == 0 && !(*reply = journal_memdup (bytes, *size)))
        rc = SHOAL_ENOMEM;
    leveldb_free (value);
    return rc;
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
    char *err = NULL;
    leveldb_put (self->db, self->write, (const char *) key, key_len, value, strlen (value), &err);
    if (err) {
        leveldb_free (err);
        return SHOAL_EIO;
    }
    return 0;
}
