/*  views.c - the projections' own records: for each build of a projection
    (its name, version and build number), its checkpoint, its rows, the
    commands its reactions have yet to see answered, and the events an
    operator skipped. See journal.h ("Projections") for the API.

    Key layout (beside keys.h's; big-endian integers):

        'V' view 0x00 version:u32be build:u32be 'c'           -> checkpoint
        'V' view 0x00 version:u32be build:u32be 'h' id:16     -> a reaction's command held:
                                                                 decided by a version not
                                                                 served, never sent (an
                                                                 encoded envelope)
        'V' view 0x00 version:u32be build:u32be 'k' pos:u64be -> skip [1, at, reason]
        'V' view 0x00 version:u32be build:u32be 'o' id:16     -> a reaction's command
                                                                 (an encoded envelope)
        'V' view 0x00 version:u32be build:u32be 'r' key       -> row (a msgpack map)

        checkpoint [1, next:int, applied:int, skipped:int, paused:bool, caught_up:bool]

    One build's records are the one range [prefix, prefix+1): dropping a
    build deletes that range, in writes of at most DROP_CHUNK deletes, its
    checkpoint ('c', the range's first key) in the first: a build listed
    without one is a drop cut short (the projector finishes it).

    Contract: names are checked (journal_view_name_ok); a row key is 1 to
    JOURNAL_VIEW_KEY_MAX bytes without NUL; rows are msgpack maps, checked
    when they are staged. Decoders trust nothing read back.

    Threads: any thread, as for journal_t.
*/
#include "journal_internal.h"
#include "keys.h"
#include "mpread.h"
#include <assert.h>
#include <czmq.h>
#include <leveldb/c.h>
#include <stdlib.h>
#include <string.h>

#define DROP_CHUNK 10000
//  'V' view 0x00 version build tag key
#define VIEW_PREFIX_MAX (1 + SHOAL_TYPE_MAX + 1 + 4 + 4)
#define VIEW_KEY_MAX (VIEW_PREFIX_MAX + 1 + JOURNAL_VIEW_KEY_MAX)

bool journal_view_name_ok (const char *view)
{
    size_t len = view ? strnlen (view, SHOAL_TYPE_MAX + 1) : 0;
    if (len == 0 || len > SHOAL_TYPE_MAX || view[0] < 'a' || view[0] > 'z')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = view[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static void s_put_be (uint8_t *out, uint64_t value, size_t bytes)
{
    for (size_t i = bytes; i-- > 0;) {
        out[i] = (uint8_t) value;
        value >>= 8;
    }
}

//  Writes the prefix of a build's records into key; returns its length,
//  or 0 for a bad name.
static size_t s_prefix (uint8_t *key, const journal_build_t *build)
{
    if (!journal_view_name_ok (build->view))
        return 0;
    size_t len = strlen (build->view);
    key[0] = 'V';
    memcpy (key + 1, build->view, len);
    key[1 + len] = 0;
    s_put_be (key + 2 + len, build->version, 4);
    s_put_be (key + 6 + len, build->build, 4);
    return 10 + len;
}

//  The prefix and a tag, then tail: returns its length, 0 if unusable.
static size_t s_key (uint8_t *key, const journal_build_t *build, char tag, const void *tail,
                     size_t tail_len)
{
    size_t len = s_prefix (key, build);
    if (len == 0 || tail_len > JOURNAL_VIEW_KEY_MAX)
        return 0;
    key[len++] = (uint8_t) tag;
    if (tail_len)
        memcpy (key + len, tail, tail_len);
    return len + tail_len;
}

//  A row key's bytes: 1 to JOURNAL_VIEW_KEY_MAX, no NUL. 0 if unusable.
static size_t s_row_key_len (const char *key)
{
    size_t len = key ? strnlen (key, JOURNAL_VIEW_KEY_MAX + 1) : 0;
    return len > JOURNAL_VIEW_KEY_MAX ? 0 : len;
}

//  --------------------------------------------------------------------------
//  Checkpoints

static int s_checkpoint_encode (msgpack_sbuffer *buffer, const journal_checkpoint_t *cp)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buffer, msgpack_sbuffer_write);
    msgpack_sbuffer_clear (buffer);
    int rc = msgpack_pack_array (&pk, 6);
    rc |= msgpack_pack_uint8 (&pk, KEYS_FORMAT_VERSION);
    rc |= msgpack_pack_uint64 (&pk, cp->next);
    rc |= msgpack_pack_uint64 (&pk, cp->applied);
    rc |= msgpack_pack_uint64 (&pk, cp->skipped);
    rc |= cp->paused ? msgpack_pack_true (&pk) : msgpack_pack_false (&pk);
    rc |= cp->caught_up ? msgpack_pack_true (&pk) : msgpack_pack_false (&pk);
    return rc;
}

int journal_view_checkpoint_decode (const uint8_t *buf, size_t size, journal_checkpoint_t *cp)
{
    size_t offset = 0;
    uint64_t fields;
    int64_t version;
    if (mpread_array (buf, size, &offset, &fields) ||
        mpread_int (buf, size, &offset, INT64_MIN, INT64_MAX, &version))
        return SHOAL_EFORMAT;
    if (version != KEYS_FORMAT_VERSION)
        return SHOAL_EVERSION;
    if (fields != 6 || mpread_uint (buf, size, &offset, UINT64_MAX, &cp->next) ||
        mpread_uint (buf, size, &offset, UINT64_MAX, &cp->applied) ||
        mpread_uint (buf, size, &offset, UINT64_MAX, &cp->skipped) ||
        mpread_bool (buf, size, &offset, &cp->paused) ||
        mpread_bool (buf, size, &offset, &cp->caught_up) || offset != size)
        return SHOAL_EFORMAT;
    return 0;
}

//  Reads one record by key. *value is the caller's to free(). Returns 0,
//  SHOAL_ENOTFOUND, SHOAL_EIO.
static int s_get (journal_t *self, const uint8_t *key, size_t key_len, uint8_t **value,
                  size_t *size)
{
    int rc = journal_enter (self);
    if (rc)
        return rc;
    char *err = NULL;
    size_t len = 0;
    char *found = leveldb_get (self->db, self->read, (const char *) key, key_len, &len, &err);
    if (err) {
        journal_read_failed (err);
        rc = SHOAL_EIO;
    } else if (!found)
        rc = SHOAL_ENOTFOUND;
    else if (!(*value = journal_memdup (found, len)))
        rc = SHOAL_ENOMEM;
    else
        *size = len;
    leveldb_free (found);
    journal_leave (self);
    return rc;
}

int journal_view_checkpoint (journal_t *self, const journal_build_t *build,
                             journal_checkpoint_t *cp)
{
    assert (self);
    uint8_t key[VIEW_KEY_MAX];
    size_t key_len = s_key (key, build, 'c', NULL, 0);
    if (key_len == 0)
        return SHOAL_EINVAL;
    uint8_t *value = NULL;
    size_t size = 0;
    int rc = s_get (self, key, key_len, &value, &size);
    if (rc == 0)
        rc = journal_view_checkpoint_decode (value, size, cp);
    free (value);
    return rc;
}

//  --------------------------------------------------------------------------
//  Rows

int journal_view_get (journal_t *self, const journal_build_t *build, const char *row_key,
                      uint8_t **row, size_t *size)
{
    assert (self);
    uint8_t key[VIEW_KEY_MAX];
    size_t len = s_row_key_len (row_key);
    size_t key_len = len ? s_key (key, build, 'r', row_key, len) : 0;
    if (key_len == 0)
        return SHOAL_EINVAL;
    return s_get (self, key, key_len, row, size);
}

//  Calls fn for each record of build whose key starts with tag and then
//  tail_prefix, in key order, from the first whose bytes after the tag are
//  from or sort after it (NULL or "": the first), at most limit (0 = all),
//  with the bytes after the tag. Returns 0, fn's non-zero value,
//  SHOAL_EINVAL (a bad name, prefix or from) or SHOAL_EIO.
static int s_scan (journal_t *self, const journal_build_t *build, char tag, const char *tail_prefix,
                   const char *from, size_t limit, journal_row_fn *fn, void *arg)
{
    uint8_t prefix[VIEW_KEY_MAX], start[VIEW_KEY_MAX];
    size_t tail_len = tail_prefix ? strnlen (tail_prefix, JOURNAL_VIEW_KEY_MAX + 1) : 0;
    size_t prefix_len = s_key (prefix, build, tag, tail_prefix, tail_len);
    if (prefix_len == 0)
        return SHOAL_EINVAL;
    size_t skip = prefix_len - tail_len; //  the bytes before the row key
    const uint8_t *seek = prefix;
    size_t seek_len = prefix_len;
    size_t from_len = from ? strnlen (from, JOURNAL_VIEW_KEY_MAX + 1) : 0;
    if (from_len) { //  from, unless it sorts before the prefix
        size_t start_len = s_key (start, build, tag, from, from_len);
        if (start_len == 0)
            return SHOAL_EINVAL;
        int order = memcmp (start, prefix, start_len < prefix_len ? start_len : prefix_len);
        if (order > 0 || (order == 0 && start_len >= prefix_len)) {
            seek = start;
            seek_len = start_len;
        }
    }
    int rc = journal_enter (self);
    if (rc)
        return rc;
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, self->read);
    size_t given = 0;
    for (leveldb_iter_seek (it, (const char *) seek, seek_len);
         rc == 0 && leveldb_iter_valid (it) && !(limit && given >= limit); leveldb_iter_next (it)) {
        size_t key_len, size;
        const char *key = leveldb_iter_key (it, &key_len);
        if (!keys_has_prefix (key, key_len, prefix, prefix_len))
            break;
        const char *value = leveldb_iter_value (it, &size);
        rc = fn (arg, key + skip, key_len - skip, (const uint8_t *) value, size);
        given++;
    }
    rc = journal_iter_close (it, rc);
    journal_leave (self);
    return rc;
}

int journal_view_scan (journal_t *self, const journal_build_t *build, const char *prefix,
                       const char *from, size_t limit, journal_row_fn *fn, void *arg)
{
    assert (self);
    assert (fn);
    return s_scan (self, build, 'r', prefix, from, limit, fn, arg);
}

int journal_view_sends (journal_t *self, const journal_build_t *build, journal_row_fn *fn,
                        void *arg)
{
    assert (self);
    assert (fn);
    return s_scan (self, build, 'o', NULL, NULL, 0, fn, arg);
}

int journal_view_held (journal_t *self, const journal_build_t *build, journal_row_fn *fn, void *arg)
{
    assert (self);
    assert (fn);
    return s_scan (self, build, 'h', NULL, NULL, 0, fn, arg);
}

int journal_view_skips (journal_t *self, const journal_build_t *build, journal_row_fn *fn,
                        void *arg)
{
    assert (self);
    assert (fn);
    return s_scan (self, build, 'k', NULL, NULL, 0, fn, arg);
}

int journal_view_skip_decode (const char *key, size_t key_len, const uint8_t *value, size_t size,
                              journal_skip_t *skip)
{
    if (key_len != 8)
        return SHOAL_EFORMAT;
    skip->position = 0;
    for (size_t i = 0; i < 8; i++)
        skip->position = skip->position << 8 | (uint8_t) key[i];
    size_t offset = 0, len = 0;
    uint64_t fields;
    int64_t version;
    const uint8_t *reason;
    if (mpread_array (value, size, &offset, &fields) ||
        mpread_int (value, size, &offset, INT64_MIN, INT64_MAX, &version))
        return SHOAL_EFORMAT;
    if (version != KEYS_FORMAT_VERSION)
        return SHOAL_EVERSION;
    if (fields != 3 || mpread_int (value, size, &offset, INT64_MIN, INT64_MAX, &skip->at) ||
        mpread_str (value, size, &offset, &reason, &len) || len > JOURNAL_SKIP_REASON_MAX ||
        offset != size)
        return SHOAL_EFORMAT;
    memcpy (skip->reason, reason, len);
    skip->reason[len] = '\0';
    return 0;
}

//  --------------------------------------------------------------------------
//  Every build, and dropping one

int journal_view_list (journal_t *self, journal_view_fn *fn, void *arg)
{
    assert (self);
    assert (fn);
    int rc = journal_enter (self);
    if (rc)
        return rc;
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, self->read);
    leveldb_iter_seek (it, "V", 1);
    while (rc == 0 && leveldb_iter_valid (it)) {
        size_t key_len, size;
        const char *key = leveldb_iter_key (it, &key_len);
        if (key_len < 1 || key[0] != 'V')
            break;
        const char *nul = memchr (key + 1, 0, key_len - 1);
        size_t name_len = nul ? (size_t) (nul - key - 1) : 0;
        if (!nul || name_len > SHOAL_TYPE_MAX || key_len < 1 + name_len + 1 + 8 + 1) {
            rc = SHOAL_EFORMAT;
            break;
        }
        journal_build_t build;
        char name[SHOAL_TYPE_MAX + 1];
        memcpy (name, key + 1, name_len);
        name[name_len] = 0;
        build.view = name;
        build.version = (uint32_t) keys_get_be ((const uint8_t *) nul + 1, 4);
        build.build = (uint32_t) keys_get_be ((const uint8_t *) nul + 5, 4);
        uint8_t prefix[VIEW_KEY_MAX];
        size_t prefix_len = s_prefix (prefix, &build);
        if (prefix_len == 0) {
            rc = SHOAL_EFORMAT;
            break;
        }
        journal_checkpoint_t cp = {0};
        bool found = false;
        if (key_len == prefix_len + 1 && key[prefix_len] == 'c') {
            const char *value = leveldb_iter_value (it, &size);
            rc = journal_view_checkpoint_decode ((const uint8_t *) value, size, &cp);
            found = true;
        }
        if (rc == 0)
            rc = fn (arg, &build, found ? &cp : NULL);
        //  On to the next build: past every key of this one.
        s_put_be (prefix + prefix_len - 8, ((uint64_t) build.version << 32 | build.build) + 1, 8);
        if (build.version == UINT32_MAX && build.build == UINT32_MAX)
            break;
        leveldb_iter_seek (it, (const char *) prefix, prefix_len);
    }
    rc = journal_iter_close (it, rc);
    journal_leave (self);
    return rc;
}

int journal_view_drop (journal_t *self, const journal_build_t *build, size_t *dropped)
{
    assert (self);
    uint8_t prefix[VIEW_KEY_MAX];
    size_t prefix_len = s_prefix (prefix, build);
    if (prefix_len == 0)
        return SHOAL_EINVAL;
    *dropped = 0;
    int rc = 0;
    for (bool more = true; more && rc == 0;) {
        if ((rc = journal_enter (self)) != 0)
            break;
        leveldb_iterator_t *it = leveldb_create_iterator (self->db, self->read);
        leveldb_writebatch_t *deletes = leveldb_writebatch_create ();
        size_t count = 0;
        for (leveldb_iter_seek (it, (const char *) prefix, prefix_len);
             leveldb_iter_valid (it) && count < DROP_CHUNK; leveldb_iter_next (it)) {
            size_t key_len;
            const char *key = leveldb_iter_key (it, &key_len);
            if (!keys_has_prefix (key, key_len, prefix, prefix_len))
                break;
            leveldb_writebatch_delete (deletes, key, key_len);
            count++;
        }
        more = count == DROP_CHUNK;
        rc = journal_iter_close (it, 0);
        if (rc == 0 && count)
            rc = journal_write_held (self, self->write, deletes, false);
        leveldb_writebatch_destroy (deletes);
        journal_leave (self);
        *dropped += count;
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  Staging in a batch (batch.c lends journal_batch_stage)

int journal_batch_view_put (journal_batch_t *self, const journal_build_t *build,
                            const char *row_key, const uint8_t *row, size_t size)
{
    uint8_t key[VIEW_KEY_MAX];
    size_t len = s_row_key_len (row_key);
    size_t key_len = len ? s_key (key, build, 'r', row_key, len) : 0;
    if (key_len == 0 || !mpread_is_map (row, size, MPREAD_DEPTH_ANY))
        return SHOAL_EINVAL;
    return journal_batch_stage (self, key, key_len, row, size);
}

int journal_batch_view_del (journal_batch_t *self, const journal_build_t *build,
                            const char *row_key)
{
    uint8_t key[VIEW_KEY_MAX];
    size_t len = s_row_key_len (row_key);
    size_t key_len = len ? s_key (key, build, 'r', row_key, len) : 0;
    if (key_len == 0)
        return SHOAL_EINVAL;
    return journal_batch_stage (self, key, key_len, NULL, 0);
}

int journal_batch_view_checkpoint (journal_batch_t *self, const journal_build_t *build,
                                   const journal_checkpoint_t *cp)
{
    uint8_t key[VIEW_KEY_MAX];
    size_t key_len = s_key (key, build, 'c', NULL, 0);
    if (key_len == 0)
        return SHOAL_EINVAL;
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    int rc = s_checkpoint_encode (&buffer, cp) ? SHOAL_ENOMEM : 0;
    if (rc == 0)
        rc = journal_batch_stage (self, key, key_len, (const uint8_t *) buffer.data, buffer.size);
    msgpack_sbuffer_destroy (&buffer);
    return rc;
}

//  Stages a reaction's command under tag ('o' sent, 'h' held), or its
//  delete (envelope NULL).
static int s_stage_reaction (journal_batch_t *self, const journal_build_t *build, char tag,
                             const uint8_t id[JOURNAL_ID_SIZE], const uint8_t *envelope,
                             size_t size)
{
    uint8_t key[VIEW_KEY_MAX];
    size_t key_len = s_key (key, build, tag, id, JOURNAL_ID_SIZE);
    if (key_len == 0 || (envelope && size == 0))
        return SHOAL_EINVAL;
    return journal_batch_stage (self, key, key_len, envelope, size);
}

int journal_batch_view_send (journal_batch_t *self, const journal_build_t *build,
                             const uint8_t id[JOURNAL_ID_SIZE], const uint8_t *envelope,
                             size_t size)
{
    return s_stage_reaction (self, build, 'o', id, envelope, size);
}

int journal_batch_view_hold (journal_batch_t *self, const journal_build_t *build,
                             const uint8_t id[JOURNAL_ID_SIZE], const uint8_t *envelope,
                             size_t size)
{
    return s_stage_reaction (self, build, 'h', id, envelope, size);
}

int journal_batch_meta_put (journal_batch_t *self, const char *name, const char *value)
{
    uint8_t key[1 + KEYS_META_NAME_MAX];
    size_t key_len = keys_meta_key (key, name);
    if (key_len == 0 || !value)
        return SHOAL_EINVAL;
    return journal_batch_stage (self, key, key_len, (const uint8_t *) value, strlen (value));
}

int journal_batch_view_skip (journal_batch_t *self, const journal_build_t *build, uint64_t position,
                             int64_t at, const char *reason)
{
    uint8_t pos[8];
    s_put_be (pos, position, 8);
    uint8_t key[VIEW_KEY_MAX];
    size_t key_len = s_key (key, build, 'k', pos, sizeof pos);
    if (key_len == 0 || !reason)
        return SHOAL_EINVAL;
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    int rc = msgpack_pack_array (&pk, 3);
    rc |= msgpack_pack_uint8 (&pk, KEYS_FORMAT_VERSION);
    rc |= msgpack_pack_int64 (&pk, at);
    rc |= msgpack_pack_str_with_body (&pk, reason, strnlen (reason, JOURNAL_SKIP_REASON_MAX));
    rc = rc ? SHOAL_ENOMEM
            : journal_batch_stage (self, key, key_len, (const uint8_t *) buffer.data, buffer.size);
    msgpack_sbuffer_destroy (&buffer);
    return rc;
}
