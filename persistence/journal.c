/*  journal.c - the node's LevelDB store. See journal.h for the key layout.

    Records are msgpack arrays that start with the format version (1):
        event     [1, name:str, data:map, created:int]
        snapshot  [1, seq:int, state:map]
        inbox     [1, created:int, reply:bin]
    Outbox entries, timers and metadata are stored as given. Every record
    read back is validated by the bounds-checked msgpack reader of
    common/mpread.h, which allocates nothing: a damaged record gives
    SHOAL_EFORMAT (SHOAL_EVERSION for a well-formed record of another
    format version), never a crash.

    Threads: a journal_t is immutable after journal_open except for the
    commit-failure test counter, which is atomic, so any thread may use it.
    A journal_batch_t (its LevelDB write batch, its hashes of staged stream
    versions and inbox records, its encoding buffer) belongs to one thread.

    Limits: streams are at most SHOAL_ADDRESS_MAX bytes, event names at most
    SHOAL_NAME_MAX, metadata names at most JOURNAL_META_NAME_MAX. Timers due
    before the epoch (negative) are refused, as they would sort last.
*/
#include "journal.h"
#include "mpread.h"
#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <leveldb/c.h>
#include <limits.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FORMAT_VERSION 1
#define DEFAULT_CACHE_BYTES (64u << 20)
#define WRITE_BUFFER_BYTES (16u << 20)
#define BLOOM_BITS_PER_KEY 10
#define PRUNE_BATCH 1000
#define JOURNAL_KNOWN_MAX 65536 //  committed stream versions a batch remembers
#define JOURNAL_META_NAME_MAX 255

//  'e' stream 0x00 seq:8 is the longest key with a stream; 'o'/'i' with
//  their 16-byte id are longer.
#define STREAM_KEY_MAX (1 + SHOAL_ADDRESS_MAX + 1 + JOURNAL_ID_SIZE)
#define TIMER_KEY_SIZE (1 + 8 + JOURNAL_ID_SIZE)
#define INBOX_HASH_KEY_MAX (2 * JOURNAL_ID_SIZE + SHOAL_ADDRESS_MAX + 1)

struct _journal_t {
    leveldb_t *db;                      //  the store
    leveldb_options_t *options;         //  open options, live as long as db
    leveldb_filterpolicy_t *filter;     //  bloom filter, owned
    leveldb_cache_t *cache;             //  block cache, owned
    leveldb_readoptions_t *read;        //  checksummed reads
    leveldb_writeoptions_t *write;      //  commits: synced unless async
    leveldb_writeoptions_t *write_lazy; //  prune deletes: never synced
    atomic_int fail_after;              //  test hook, 0 = off
};

//  An inbox record staged in a batch.
typedef struct {
    size_t size;     //  bytes of reply
    uint8_t reply[]; //  the reply as given
} staged_reply_t;

struct _journal_batch_t {
    journal_t *journal;           //  the store it commits to, borrowed
    leveldb_writebatch_t *writes; //  staged puts and deletes
    zhashx_t *versions;           //  stream -> int64_t *, staged versions
    zhashx_t *known;              //  stream -> int64_t *, committed versions seen
                                  //  (valid while this batch is the stream's
                                  //  one writer, as a worker is for its shards)
    zhashx_t *inbox;              //  hex id + stream -> staged_reply_t *
    msgpack_sbuffer buffer;       //  reused to encode records
    size_t count;                 //  records staged
    size_t bytes;                 //  their key and value bytes
    bool broken;                  //  an encoding ran out of memory midway
};

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

static void s_put_be64 (uint8_t *out, uint64_t value)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t) value;
        value >>= 8;
    }
}

static uint64_t s_get_be (const uint8_t *in, size_t bytes)
{
    uint64_t value = 0;
    for (size_t i = 0; i < bytes; i++)
        value = (value << 8) | in[i];
    return value;
}

//  Returns the length of a usable stream name, or 0 if it is NULL, empty
//  or longer than SHOAL_ADDRESS_MAX.
static size_t s_stream_len (const char *stream)
{
    if (!stream)
        return 0;
    size_t len = strnlen (stream, SHOAL_ADDRESS_MAX + 1);
    return len > SHOAL_ADDRESS_MAX ? 0 : len;
}

//  Writes tag stream [0x00] into key and returns its length. key holds
//  STREAM_KEY_MAX bytes; len comes from s_stream_len.
static size_t s_stream_key (uint8_t *key, char tag, const char *stream, size_t len, bool nul)
{
    key[0] = (uint8_t) tag;
    memcpy (key + 1, stream, len);
    if (!nul)
        return 1 + len;
    key[1 + len] = 0;
    return 2 + len;
}

static size_t s_event_key (uint8_t *key, const char *stream, size_t len, int64_t seq)
{
    size_t size = s_stream_key (key, 'e', stream, len, true);
    s_put_be64 (key + size, (uint64_t) seq);
    return size + 8;
}

static size_t s_id_key (uint8_t *key, char tag, const char *stream, size_t len,
                        const uint8_t id[JOURNAL_ID_SIZE])
{
    size_t size = s_stream_key (key, tag, stream, len, true);
    memcpy (key + size, id, JOURNAL_ID_SIZE);
    return size + JOURNAL_ID_SIZE;
}

static void s_timer_key (uint8_t *key, int64_t due, const uint8_t id[JOURNAL_ID_SIZE])
{
    key[0] = 't';
    s_put_be64 (key + 1, (uint64_t) due);
    memcpy (key + 9, id, JOURNAL_ID_SIZE);
}

//  True if key starts with prefix.
static bool s_has_prefix (const char *key, size_t size, const uint8_t *prefix, size_t len)
{
    return size >= len && memcmp (key, prefix, len) == 0;
}

//  Copies bytes into a fresh buffer for the caller to free(); never
//  returns NULL for size 0 unless memory ran out.
static uint8_t *s_memdup (const void *bytes, size_t size)
{
    uint8_t *copy = malloc (size ? size : 1);
    if (copy && size)
        memcpy (copy, bytes, size);
    return copy;
}

//  --------------------------------------------------------------------------
//  Reading msgpack records, with common/mpread.h. Each reader consumes one
//  element at *offset and advances it, or returns SHOAL_EFORMAT and leaves
//  it alone. Maps in records have no depth limit: the walk is iterative.

//  Reads the array header and format version that start every record.
static int s_read_header (const uint8_t *buf, size_t size, size_t *offset, uint64_t fields)
{
    uint64_t count;
    int64_t version;
    if (mpread_array (buf, size, offset, &count) ||
        mpread_int (buf, size, offset, INT64_MIN, INT64_MAX, &version))
        return SHOAL_EFORMAT;
    if (version != FORMAT_VERSION)
        return SHOAL_EVERSION;
    return count == fields ? 0 : SHOAL_EFORMAT;
}

//  Reads an int64 record field.
static int s_read_int (const uint8_t *buf, size_t size, size_t *offset, int64_t *value)
{
    return mpread_int (buf, size, offset, INT64_MIN, INT64_MAX, value);
}

//  Reads a map record field: its encoded bytes point into buf.
static int s_read_map (const uint8_t *buf, size_t size, size_t *offset, const uint8_t **map,
                       size_t *len)
{
    return mpread_map_span (buf, size, offset, MPREAD_DEPTH_ANY, map, len);
}

static int s_event_decode (const uint8_t *buf, size_t size, const uint8_t **name, size_t *name_len,
                           const uint8_t **data, size_t *data_len, int64_t *created)
{
    size_t offset = 0;
    int rc = s_read_header (buf, size, &offset, 4);
    if (rc)
        return rc;
    if (mpread_str (buf, size, &offset, name, name_len) ||
        s_read_map (buf, size, &offset, data, data_len) ||
        s_read_int (buf, size, &offset, created) || offset != size)
        return SHOAL_EFORMAT;
    if (*name_len == 0 || *name_len > SHOAL_NAME_MAX)
        return SHOAL_EFORMAT;
    return 0;
}

static int s_snapshot_decode (const uint8_t *buf, size_t size, int64_t *seq, const uint8_t **state,
                              size_t *state_len)
{
    size_t offset = 0;
    int rc = s_read_header (buf, size, &offset, 3);
    if (rc)
        return rc;
    if (s_read_int (buf, size, &offset, seq) || s_read_map (buf, size, &offset, state, state_len) ||
        offset != size)
        return SHOAL_EFORMAT;
    return 0;
}

static int s_inbox_decode (const uint8_t *buf, size_t size, int64_t *created, const uint8_t **reply,
                           size_t *reply_len)
{
    size_t offset = 0;
    int rc = s_read_header (buf, size, &offset, 3);
    if (rc)
        return rc;
    if (s_read_int (buf, size, &offset, created) ||
        mpread_bin (buf, size, &offset, reply, reply_len) || offset != size)
        return SHOAL_EFORMAT;
    return 0;
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

//  Counts one commit against the test hook. True if it must fail.
static bool s_commit_must_fail (journal_t *self)
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

//  The seq of an event key whose stream prefix is prefix_len bytes, or -1
//  if the key is malformed.
static int64_t s_event_seq (const char *key, size_t key_len, size_t prefix_len)
{
    if (key_len != prefix_len + 8)
        return -1;
    uint64_t seq = s_get_be ((const uint8_t *) key + prefix_len, 8);
    return seq == 0 || seq > JOURNAL_SEQ_MAX ? -1 : (int64_t) seq;
}

int journal_version (journal_t *self, const char *stream, int64_t *version)
{
    assert (self);
    assert (version);
    size_t len = s_stream_len (stream);
    if (len == 0)
        return SHOAL_EINVAL;
    uint8_t prefix[STREAM_KEY_MAX];
    size_t prefix_len = s_stream_key (prefix, 'e', stream, len, true);
    uint8_t end[STREAM_KEY_MAX];
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
        if (s_has_prefix (key, key_len, prefix, prefix_len)) {
            int64_t seq = s_event_seq (key, key_len, prefix_len);
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
    size_t len = s_stream_len (stream);
    if (len == 0)
        return SHOAL_EINVAL;
    uint8_t prefix[STREAM_KEY_MAX];
    size_t prefix_len = s_stream_key (prefix, 'e', stream, len, true);
    uint8_t start[STREAM_KEY_MAX];
    size_t start_len = s_event_key (start, stream, len, from < 1 ? 1 : from);

    int rc = 0;
    size_t delivered = 0;
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, self->read);
    for (leveldb_iter_seek (it, (const char *) start, start_len); leveldb_iter_valid (it);
         leveldb_iter_next (it)) {
        size_t key_len, value_len;
        const char *key = leveldb_iter_key (it, &key_len);
        if (!s_has_prefix (key, key_len, prefix, prefix_len))
            break;
        int64_t seq = s_event_seq (key, key_len, prefix_len);
        const uint8_t *value = (const uint8_t *) leveldb_iter_value (it, &value_len);
        const uint8_t *name, *data;
        size_t name_len, data_len;
        int64_t created;
        if (seq < 0) {
            rc = SHOAL_EFORMAT;
            break;
        }
        rc = s_event_decode (value, value_len, &name, &name_len, &data, &data_len, &created);
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
    size_t len = s_stream_len (stream);
    if (len == 0)
        return SHOAL_EINVAL;
    uint8_t key[STREAM_KEY_MAX];
    size_t key_len = s_stream_key (key, 's', stream, len, false);
    char *value;
    size_t value_len;
    int rc = s_get (self, key, key_len, &value, &value_len);
    if (rc)
        return rc;
    const uint8_t *bytes;
    rc = s_snapshot_decode ((const uint8_t *) value, value_len, seq, &bytes, size);
    if (rc == 0 && !(*state = s_memdup (bytes, *size)))
        rc = SHOAL_ENOMEM;
    leveldb_free (value);
    return rc;
}

int journal_inbox_get (journal_t *self, const char *stream, const uint8_t id[JOURNAL_ID_SIZE],
                       uint8_t **reply, size_t *size)
{
    assert (self);
    size_t len = s_stream_len (stream);
    if (len == 0 || !id)
        return SHOAL_EINVAL;
    uint8_t key[STREAM_KEY_MAX];
    size_t key_len = s_id_key (key, 'i', stream, len, id);
    char *value;
    size_t value_len;
    int rc = s_get (self, key, key_len, &value, &value_len);
    if (rc)
        return rc;
    int64_t created;
    const uint8_t *bytes;
    rc = s_inbox_decode ((const uint8_t *) value, value_len, &created, &bytes, size);
    if (rc == 0 && !(*reply = s_memdup (bytes, *size)))
        rc = SHOAL_ENOMEM;
    leveldb_free (value);
    return rc;
}

//  Calls fn for each key under the one-byte prefix tag, with the value.
//  A scan_fn returns 0 to go on, 1 to stop, or a negative code.
typedef int (scan_fn) (void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                       size_t value_len);

static int s_scan (journal_t *self, char tag, scan_fn *fn, void *arg)
{
    int rc = 0;
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, self->read);
    for (leveldb_iter_seek (it, &tag, 1); leveldb_iter_valid (it); leveldb_iter_next (it)) {
        size_t key_len, value_len;
        const char *key = leveldb_iter_key (it, &key_len);
        if (key_len == 0 || key[0] != tag)
            break;
        const char *value = leveldb_iter_value (it, &value_len);
        rc = fn (arg, (const uint8_t *) key, key_len, (const uint8_t *) value, value_len);
        if (rc != 0)
            break;
    }
    char *err = NULL;
    leveldb_iter_get_error (it, &err);
    if (err) {
        leveldb_free (err);
        rc = SHOAL_EIO;
    }
    leveldb_iter_destroy (it);
    return rc < 0 ? rc : 0;
}

//  A scan meets a key of its table that does not parse (a damaged store):
//  says so and goes on, as the scan's caller does for a damaged value, so
//  that one bad record does not keep a node from starting.
static int s_skip_bad_key (const char *table, const uint8_t *key, size_t key_len)
{
    zsys_warning ("journal: skipped a malformed %s key (%zu bytes)", table, key_len);
    return 0;
}

typedef struct {
    journal_entry_fn *fn;
    void *arg;
} entry_scan_t;

static int s_outbox_entry (void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                           size_t value_len)
{
    entry_scan_t *scan = arg;
    const uint8_t *nul = memchr (key + 1, 0, key_len - 1);
    size_t stream_len = nul ? (size_t) (nul - key) - 1 : 0;
    if (stream_len == 0 || stream_len > SHOAL_ADDRESS_MAX ||
        key_len != 1 + stream_len + 1 + JOURNAL_ID_SIZE)
        return s_skip_bad_key ("outbox", key, key_len);
    char stream[SHOAL_ADDRESS_MAX + 1];
    memcpy (stream, key + 1, stream_len);
    stream[stream_len] = '\0';
    return scan->fn (scan->arg, stream, nul + 1, 0, value, value_len) ? 1 : 0;
}

static int s_timer_entry (void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                          size_t value_len)
{
    entry_scan_t *scan = arg;
    uint64_t due = key_len == TIMER_KEY_SIZE ? s_get_be (key + 1, 8) : 0;
    if (key_len != TIMER_KEY_SIZE || due > INT64_MAX)
        return s_skip_bad_key ("timer", key, key_len);
    return scan->fn (scan->arg, NULL, key + 9, (int64_t) due, value, value_len) ? 1 : 0;
}

int journal_outbox_scan (journal_t *self, journal_entry_fn *fn, void *arg)
{
    assert (self);
    assert (fn);
    entry_scan_t scan = {fn, arg};
    return s_scan (self, 'o', s_outbox_entry, &scan);
}

int journal_timer_scan (journal_t *self, journal_entry_fn *fn, void *arg)
{
    assert (self);
    assert (fn);
    entry_scan_t scan = {fn, arg};
    return s_scan (self, 't', s_timer_entry, &scan);
}

typedef struct {
    journal_t *journal;
    leveldb_writebatch_t *deletes;
    size_t staged;
    int64_t deleted;
    int64_t cutoff;
} prune_t;

//  Writes the staged deletes. Returns 0 or SHOAL_EIO.
static int s_prune_flush (prune_t *prune)
{
    if (prune->staged == 0)
        return 0;
    char *err = NULL;
    leveldb_write (prune->journal->db, prune->journal->write_lazy, prune->deletes, &err);
    leveldb_writebatch_clear (prune->deletes);
    if (err) {
        leveldb_free (err);
        return SHOAL_EIO;
    }
    prune->deleted += (int64_t) prune->staged;
    prune->staged = 0;
    return 0;
}

//  Records that do not decode are left alone: they cannot be dated.
static int s_prune_entry (void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                          size_t value_len)
{
    prune_t *prune = arg;
    int64_t created;
    const uint8_t *reply;
    size_t reply_len;
    if (s_inbox_decode (value, value_len, &created, &reply, &reply_len) != 0 ||
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
    int rc = s_scan (self, 'i', s_prune_entry, &prune);
    if (rc == 0)
        rc = s_prune_flush (&prune);
    leveldb_writebatch_destroy (prune.deletes);
    return rc ? rc : prune.deleted;
}

//  Writes the metadata key for name into key. Returns its length, or 0 if
//  name is unusable. key holds 1 + JOURNAL_META_NAME_MAX bytes.
static size_t s_meta_key (uint8_t *key, const char *name)
{
    size_t len = name ? strnlen (name, JOURNAL_META_NAME_MAX + 1) : 0;
    if (len == 0 || len > JOURNAL_META_NAME_MAX)
        return 0;
    key[0] = 'm';
    memcpy (key + 1, name, len);
    return 1 + len;
}

int journal_meta_get (journal_t *self, const char *name, char **value)
{
    assert (self);
    assert (value);
    uint8_t key[1 + JOURNAL_META_NAME_MAX];
    size_t key_len = s_meta_key (key, name);
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
    uint8_t key[1 + JOURNAL_META_NAME_MAX];
    size_t key_len = s_meta_key (key, name);
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

//  --------------------------------------------------------------------------
//  Batches

static void s_free_item (void **item)
{
    free (*item);
    *item = NULL;
}

journal_batch_t *journal_batch_new (journal_t *journal)
{
    assert (journal);
    journal_batch_t *self = calloc (1, sizeof (journal_batch_t));
    if (!self)
        return NULL;
    self->journal = journal;
    self->writes = leveldb_writebatch_create ();
    self->versions = zhashx_new ();
    self->inbox = zhashx_new ();
    self->known = zhashx_new ();
    if (!self->versions || !self->inbox || !self->known) {
        journal_batch_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->versions, s_free_item);
    zhashx_set_destructor (self->inbox, s_free_item);
    zhashx_set_destructor (self->known, s_free_item);
    msgpack_sbuffer_init (&self->buffer);
    return self;
}

void journal_batch_destroy (journal_batch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    journal_batch_t *self = *self_p;
    leveldb_writebatch_destroy (self->writes);
    zhashx_destroy (&self->versions);
    zhashx_destroy (&self->inbox);
    zhashx_destroy (&self->known);
    msgpack_sbuffer_destroy (&self->buffer);
    free (self);
    *self_p = NULL;
}

static void s_stage_put (journal_batch_t *self, const uint8_t *key, size_t key_len,
                         const void *value, size_t value_len)
{
    leveldb_writebatch_put (self->writes, (const char *) key, key_len, value, value_len);
    self->count++;
    self->bytes += key_len + value_len;
}

static void s_stage_delete (journal_batch_t *self, const uint8_t *key, size_t key_len)
{
    leveldb_writebatch_delete (self->writes, (const char *) key, key_len);
    self->count++;
    self->bytes += key_len;
}

//  Stages the record in the encoding buffer under key, unless encoding
//  failed (pack_rc != 0): then the batch is marked broken, as part of a
//  record set may already be staged, and SHOAL_ENOMEM is returned.
static int s_stage_record (journal_batch_t *self, const uint8_t *key, size_t key_len, int pack_rc)
{
    if (pack_rc != 0) {
        self->broken = true;
        return SHOAL_ENOMEM;
    }
    s_stage_put (self, key, key_len, self->buffer.data, self->buffer.size);
    return 0;
}

//  Remembers a committed version of stream. The memory is bounded: past
//  JOURNAL_KNOWN_MAX streams it starts over (a miss costs one seek).
static void s_remember (journal_batch_t *self, const char *stream, int64_t version)
{
    int64_t *known = zhashx_lookup (self->known, stream);
    if (!known) {
        if (zhashx_size (self->known) >= JOURNAL_KNOWN_MAX)
            zhashx_purge (self->known);
        if (!(known = malloc (sizeof (int64_t))))
            return;
        zhashx_insert (self->known, stream, known);
    }
    *known = version;
}

int journal_batch_version (journal_batch_t *self, const char *stream, int64_t *version)
{
    assert (self);
    assert (version);
    if (s_stream_len (stream) == 0)
        return SHOAL_EINVAL;
    int64_t *staged = zhashx_lookup (self->versions, stream);
    if (!staged)
        staged = zhashx_lookup (self->known, stream);
    if (staged) {
        *version = *staged;
        return 0;
    }
    int rc = journal_version (self->journal, stream, version);
    if (rc == 0)
        s_remember (self, stream, *version);
    return rc;
}

int journal_batch_append (journal_batch_t *self, const char *stream, int64_t expected,
                          const journal_event_t *events, size_t count, int64_t created,
                          int64_t *version)
{
    assert (self);
    size_t len = s_stream_len (stream);
    if (len == 0 || expected < JOURNAL_ANY || (count && !events))
        return SHOAL_EINVAL;
    for (size_t i = 0; i < count; i++) {
        size_t name_len = events[i].name ? strnlen (events[i].name, SHOAL_NAME_MAX + 1) : 0;
        if (name_len == 0 || name_len > SHOAL_NAME_MAX ||
            !mpread_is_map (events[i].data, events[i].size, MPREAD_DEPTH_ANY))
            return SHOAL_EINVAL;
    }
    int64_t current;
    int rc = journal_batch_version (self, stream, &current);
    if (rc)
        return rc;
    if (expected != JOURNAL_ANY && expected != current)
        return SHOAL_ECONFLICT;
    if (current < 0 || current > JOURNAL_SEQ_MAX - (int64_t) count)
        return SHOAL_EFORMAT; //  a damaged last key: no seq past JOURNAL_SEQ_MAX
    if (count > 0) {
        int64_t *staged = zhashx_lookup (self->versions, stream);
        if (!staged) {
            if (!(staged = malloc (sizeof (int64_t))))
                return SHOAL_ENOMEM;
            zhashx_insert (self->versions, stream, staged);
        }
        msgpack_packer pk;
        msgpack_packer_init (&pk, &self->buffer, msgpack_sbuffer_write);
        for (size_t i = 0; i < count; i++) {
            size_t name_len = strlen (events[i].name);
            msgpack_sbuffer_clear (&self->buffer);
            int pack_rc = msgpack_pack_array (&pk, 4);
            pack_rc |= msgpack_pack_uint8 (&pk, FORMAT_VERSION);
            pack_rc |= msgpack_pack_str_with_body (&pk, events[i].name, name_len);
            pack_rc |= msgpack_sbuffer_write (&self->buffer, (const char *) events[i].data,
                                              events[i].size);
            pack_rc |= msgpack_pack_int64 (&pk, created);
            uint8_t key[STREAM_KEY_MAX];
            size_t key_len = s_event_key (key, stream, len, current + (int64_t) i + 1);
            if ((rc = s_stage_record (self, key, key_len, pack_rc)))
                return rc;
            *staged = current + (int64_t) i + 1;
        }
    }
    if (version)
        *version = current + (int64_t) count;
    return 0;
}

int journal_batch_snapshot (journal_batch_t *self, const char *stream, int64_t seq,
                            const uint8_t *state, size_t size)
{
    assert (self);
    size_t len = s_stream_len (stream);
    if (len == 0 || seq < 0 || !mpread_is_map (state, size, MPREAD_DEPTH_ANY))
        return SHOAL_EINVAL;
    msgpack_packer pk;
    msgpack_packer_init (&pk, &self->buffer, msgpack_sbuffer_write);
    msgpack_sbuffer_clear (&self->buffer);
    int pack_rc = msgpack_pack_array (&pk, 3);
    pack_rc |= msgpack_pack_uint8 (&pk, FORMAT_VERSION);
    pack_rc |= msgpack_pack_int64 (&pk, seq);
    pack_rc |= msgpack_sbuffer_write (&self->buffer, (const char *) state, size);
    uint8_t key[STREAM_KEY_MAX];
    size_t key_len = s_stream_key (key, 's', stream, len, false);
    return s_stage_record (self, key, key_len, pack_rc);
}

//  Writes the batch's hash key for an inbox record: the id in hex, then
//  the stream. key holds INBOX_HASH_KEY_MAX bytes.
static void s_inbox_hash_key (char *key, const char *stream, size_t len,
                              const uint8_t id[JOURNAL_ID_SIZE])
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < JOURNAL_ID_SIZE; i++) {
        key[2 * i] = hex[id[i] >> 4];
        key[2 * i + 1] = hex[id[i] & 0x0f];
    }
    memcpy (key + 2 * JOURNAL_ID_SIZE, stream, len + 1);
}

int journal_batch_inbox_put (journal_batch_t *self, const char *stream,
                             const uint8_t id[JOURNAL_ID_SIZE], const uint8_t *reply, size_t size,
                             int64_t created)
{
    assert (self);
    size_t len = s_stream_len (stream);
    if (len == 0 || !id || (size && !reply) || size > UINT32_MAX)
        return SHOAL_EINVAL;
    staged_reply_t *staged = malloc (sizeof (staged_reply_t) + size);
    if (!staged)
        return SHOAL_ENOMEM;
    staged->size = size;
    if (size)
        memcpy (staged->reply, reply, size);

    msgpack_packer pk;
    msgpack_packer_init (&pk, &self->buffer, msgpack_sbuffer_write);
    msgpack_sbuffer_clear (&self->buffer);
    int pack_rc = msgpack_pack_array (&pk, 3);
    pack_rc |= msgpack_pack_uint8 (&pk, FORMAT_VERSION);
    pack_rc |= msgpack_pack_int64 (&pk, created);
    pack_rc |= msgpack_pack_bin_with_body (&pk, reply, size);
    uint8_t key[STREAM_KEY_MAX];
    size_t key_len = s_id_key (key, 'i', stream, len, id);
    int rc = s_stage_record (self, key, key_len, pack_rc);
    if (rc) {
        free (staged);
        return rc;
    }
    char hash_key[INBOX_HASH_KEY_MAX];
    s_inbox_hash_key (hash_key, stream, len, id);
    zhashx_update (self->inbox, hash_key, staged);
    return 0;
}

int journal_batch_inbox_get (journal_batch_t *self, const char *stream,
                             const uint8_t id[JOURNAL_ID_SIZE], uint8_t **reply, size_t *size)
{
    assert (self);
    size_t len = s_stream_len (stream);
    if (len == 0 || !id)
        return SHOAL_EINVAL;
    char hash_key[INBOX_HASH_KEY_MAX];
    s_inbox_hash_key (hash_key, stream, len, id);
    staged_reply_t *staged = zhashx_lookup (self->inbox, hash_key);
    if (!staged)
        return journal_inbox_get (self->journal, stream, id, reply, size);
    if (!(*reply = s_memdup (staged->reply, staged->size)))
        return SHOAL_ENOMEM;
    *size = staged->size;
    return 0;
}

int journal_batch_outbox_put (journal_batch_t *self, const char *stream,
                              const uint8_t id[JOURNAL_ID_SIZE], const uint8_t *envelope,
                              size_t size)
{
    assert (self);
    size_t len = s_stream_len (stream);
    if (len == 0 || !id || (size && !envelope))
        return SHOAL_EINVAL;
    uint8_t key[STREAM_KEY_MAX];
    size_t key_len = s_id_key (key, 'o', stream, len, id);
    s_stage_put (self, key, key_len, envelope, size);
    return 0;
}

int journal_batch_outbox_del (journal_batch_t *self, const char *stream,
                              const uint8_t id[JOURNAL_ID_SIZE])
{
    assert (self);
    size_t len = s_stream_len (stream);
    if (len == 0 || !id)
        return SHOAL_EINVAL;
    uint8_t key[STREAM_KEY_MAX];
    size_t key_len = s_id_key (key, 'o', stream, len, id);
    s_stage_delete (self, key, key_len);
    return 0;
}

int journal_batch_timer_put (journal_batch_t *self, int64_t due, const uint8_t id[JOURNAL_ID_SIZE],
                             const uint8_t *envelope, size_t size)
{
    assert (self);
    if (due < 0 || !id || (size && !envelope))
        return SHOAL_EINVAL;
    uint8_t key[TIMER_KEY_SIZE];
    s_timer_key (key, due, id);
    s_stage_put (self, key, sizeof key, envelope, size);
    return 0;
}

int journal_batch_timer_del (journal_batch_t *self, int64_t due, const uint8_t id[JOURNAL_ID_SIZE])
{
    assert (self);
    if (due < 0 || !id)
        return SHOAL_EINVAL;
    uint8_t key[TIMER_KEY_SIZE];
    s_timer_key (key, due, id);
    s_stage_delete (self, key, sizeof key);
    return 0;
}

size_t journal_batch_count (const journal_batch_t *self)
{
    assert (self);
    return self->count;
}

size_t journal_batch_bytes (const journal_batch_t *self)
{
    assert (self);
    return self->bytes;
}

int journal_batch_commit (journal_batch_t *self)
{
    assert (self);
    int rc = 0;
    if (self->broken)
        rc = SHOAL_EIO;
    else if (self->count > 0) {
        if (s_commit_must_fail (self->journal))
            rc = SHOAL_EIO;
        else {
            char *err = NULL;
            leveldb_write (self->journal->db, self->journal->write, self->writes, &err);
            if (err) {
                leveldb_free (err);
                rc = SHOAL_EIO;
            }
        }
    }
    if (rc == 0) {
        for (int64_t *staged = zhashx_first (self->versions); staged;
             staged = zhashx_next (self->versions))
            s_remember (self, (const char *) zhashx_cursor (self->versions), *staged);
    } else
        zhashx_purge (self->known);
    journal_batch_clear (self);
    return rc;
}

void journal_batch_clear (journal_batch_t *self)
{
    assert (self);
    leveldb_writebatch_clear (self->writes);
    zhashx_purge (self->versions);
    zhashx_purge (self->inbox);
    msgpack_sbuffer_clear (&self->buffer);
    self->count = 0;
    self->bytes = 0;
    self->broken = false;
}
