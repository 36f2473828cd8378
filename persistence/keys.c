/*  keys.c - the journal's key layout and record codecs. See keys.h for the
    layout and the record formats.

    Contract: key builders trust their inputs (the callers check streams
    with keys_stream_len and names with keys_meta_key); decoders trust
    nothing, as records come from the disk. Every record read back is
    validated by common/mpread.h; maps in records have no depth limit, as
    the walk is iterative.

    Threads: pure functions over caller memory, safe on any thread.
*/
#include "keys.h"
#include "mpread.h"
#include "shard.h"
#include <assert.h>
#include <string.h>

static void s_put_be64 (uint8_t *out, uint64_t value)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t) value;
        value >>= 8;
    }
}

uint64_t keys_get_be (const uint8_t *in, size_t bytes)
{
    uint64_t value = 0;
    for (size_t i = 0; i < bytes; i++)
        value = (value << 8) | in[i];
    return value;
}

size_t keys_stream_len (const char *stream)
{
    if (!stream)
        return 0;
    size_t len = strnlen (stream, SHOAL_ADDRESS_MAX + 1);
    return len > SHOAL_ADDRESS_MAX ? 0 : len;
}

size_t keys_tag_key (uint8_t *key, uint32_t shard, char tag)
{
    assert (shard < SHOAL_SHARDS_MAX);
    key[0] = 'S';
    key[1] = (uint8_t) (shard >> 8);
    key[2] = (uint8_t) shard;
    key[3] = (uint8_t) tag;
    return KEYS_TAG_SIZE;
}

size_t keys_stream_key (uint8_t *key, uint32_t shard, char tag, const char *stream, size_t len,
                        bool nul)
{
    size_t size = keys_tag_key (key, shard, tag);
    memcpy (key + size, stream, len);
    if (!nul)
        return size + len;
    key[size + len] = 0;
    return size + len + 1;
}

size_t keys_event_key (uint8_t *key, uint32_t shard, const char *stream, size_t len, int64_t seq)
{
    size_t size = keys_stream_key (key, shard, 'e', stream, len, true);
    s_put_be64 (key + size, (uint64_t) seq);
    return size + 8;
}

size_t keys_id_key (uint8_t *key, uint32_t shard, char tag, const char *stream, size_t len,
                    const uint8_t id[JOURNAL_ID_SIZE])
{
    size_t size = keys_stream_key (key, shard, tag, stream, len, true);
    memcpy (key + size, id, JOURNAL_ID_SIZE);
    return size + JOURNAL_ID_SIZE;
}

void keys_timer_key (uint8_t *key, uint32_t shard, int64_t due, const uint8_t id[JOURNAL_ID_SIZE])
{
    size_t size = keys_tag_key (key, shard, 't');
    s_put_be64 (key + size, (uint64_t) due);
    memcpy (key + size + 8, id, JOURNAL_ID_SIZE);
}

size_t keys_log_key (uint8_t key[KEYS_LOG_KEY_SIZE], uint64_t pos)
{
    key[0] = 'L';
    s_put_be64 (key + 1, pos);
    return KEYS_LOG_KEY_SIZE;
}

size_t keys_note_key (uint8_t key[KEYS_NOTE_KEY_SIZE], uint32_t worker, uint64_t pos)
{
    key[0] = 'W';
    key[1] = (uint8_t) (worker >> 8);
    key[2] = (uint8_t) worker;
    s_put_be64 (key + 3, pos);
    return KEYS_NOTE_KEY_SIZE;
}

size_t keys_meta_key (uint8_t *key, const char *name)
{
    size_t len = name ? strnlen (name, KEYS_META_NAME_MAX + 1) : 0;
    if (len == 0 || len > KEYS_META_NAME_MAX)
        return 0;
    key[0] = 'm';
    memcpy (key + 1, name, len);
    return 1 + len;
}

void keys_hash_key (char *key, const char *stream, size_t len, const uint8_t id[JOURNAL_ID_SIZE])
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < JOURNAL_ID_SIZE; i++) {
        key[2 * i] = hex[id[i] >> 4];
        key[2 * i + 1] = hex[id[i] & 0x0f];
    }
    memcpy (key + 2 * JOURNAL_ID_SIZE, stream, len);
    key[2 * JOURNAL_ID_SIZE + len] = '\0';
}

bool keys_has_prefix (const char *key, size_t size, const uint8_t *prefix, size_t len)
{
    return size >= len && memcmp (key, prefix, len) == 0;
}

int64_t keys_event_seq (const char *key, size_t key_len, size_t prefix_len)
{
    if (key_len != prefix_len + 8)
        return -1;
    uint64_t seq = keys_get_be ((const uint8_t *) key + prefix_len, 8);
    return seq == 0 || seq > JOURNAL_SEQ_MAX ? -1 : (int64_t) seq;
}

//  --------------------------------------------------------------------------
//  Reading records, with common/mpread.h. Each reader consumes one element
//  at *offset and advances it, or returns SHOAL_EFORMAT and leaves it alone.

//  Reads the array header and format version that start every record.
static int s_read_header (const uint8_t *buf, size_t size, size_t *offset, uint64_t fields)
{
    uint64_t count;
    int64_t version;
    if (mpread_array (buf, size, offset, &count) ||
        mpread_int (buf, size, offset, INT64_MIN, INT64_MAX, &version))
        return SHOAL_EFORMAT;
    if (version != KEYS_FORMAT_VERSION)
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

int keys_event_decode (const uint8_t *buf, size_t size, const uint8_t **name, size_t *name_len,
                       const uint8_t **data, size_t *data_len, int64_t *created)
{
    return keys_event_decode_creator (buf, size, name, name_len, data, data_len, created, NULL);
}

int keys_event_decode_creator (const uint8_t *buf, size_t size, const uint8_t **name,
                               size_t *name_len, const uint8_t **data, size_t *data_len,
                               int64_t *created, keys_creator_t *creator)
{
    size_t offset = 0;
    bool with_creator = false;
    int rc = s_read_header (buf, size, &offset, 4);
    if (rc == SHOAL_EFORMAT) { //  a stream's first event, with its creator's inbox record
        offset = 0;
        rc = s_read_header (buf, size, &offset, 6);
        with_creator = true;
    }
    if (rc)
        return rc;
    if (mpread_str (buf, size, &offset, name, name_len) ||
        s_read_map (buf, size, &offset, data, data_len) || s_read_int (buf, size, &offset, created))
        return SHOAL_EFORMAT;
    if (*name_len == 0 || *name_len > SHOAL_NAME_MAX)
        return SHOAL_EFORMAT;
    keys_creator_t found = {NULL, NULL, 0};
    if (with_creator) {
        size_t id_len;
        int64_t inbox_created;
        const uint8_t *reply;
        size_t reply_len;
        if (mpread_bin (buf, size, &offset, &found.id, &id_len) || id_len != JOURNAL_ID_SIZE ||
            mpread_bin (buf, size, &offset, &found.inbox, &found.inbox_len) ||
            keys_inbox_decode (found.inbox, found.inbox_len, &inbox_created, &reply, &reply_len,
                               NULL) != 0)
            return SHOAL_EFORMAT;
    }
    if (offset != size)
        return SHOAL_EFORMAT;
    if (creator)
        *creator = found;
    return 0;
}

int keys_snapshot_decode (const uint8_t *buf, size_t size, int64_t *seq, const uint8_t **state,
                          size_t *state_len, int *version)
{
    size_t offset = 0;
    bool with_version = false;
    int rc = s_read_header (buf, size, &offset, 3);
    if (rc == SHOAL_EFORMAT) { //  a newer record: with the type's snapshot version
        offset = 0;
        rc = s_read_header (buf, size, &offset, 4);
        with_version = true;
    }
    if (rc)
        return rc;
    int64_t written = 0;
    if (s_read_int (buf, size, &offset, seq) || s_read_map (buf, size, &offset, state, state_len) ||
        (with_version && mpread_int (buf, size, &offset, 0, INT32_MAX, &written)) || offset != size)
        return SHOAL_EFORMAT;
    if (version)
        *version = (int) written;
    return 0;
}

int keys_inbox_decode (const uint8_t *buf, size_t size, int64_t *created, const uint8_t **reply,
                       size_t *reply_len, journal_request_t *request)
{
    size_t offset = 0;
    bool with_request = false;
    int rc = s_read_header (buf, size, &offset, 3);
    if (rc == SHOAL_EFORMAT) { //  a newer record: with the command's digest and name
        offset = 0;
        rc = s_read_header (buf, size, &offset, 5);
        with_request = true;
    }
    if (rc)
        return rc;
    if (s_read_int (buf, size, &offset, created) ||
        mpread_bin (buf, size, &offset, reply, reply_len))
        return SHOAL_EFORMAT;
    uint64_t digest = 0;
    const uint8_t *name = NULL;
    size_t name_len = 0;
    if (with_request) {
        int64_t value;
        if (s_read_int (buf, size, &offset, &value) ||
            mpread_str (buf, size, &offset, &name, &name_len) || name_len > SHOAL_NAME_MAX)
            return SHOAL_EFORMAT;
        digest = (uint64_t) value;
    }
    if (offset != size)
        return SHOAL_EFORMAT;
    if (request) {
        request->digest = digest;
        if (name_len)
            memcpy (request->name, name, name_len);
        request->name[name_len] = 0;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Writing records

//  Empties buffer and starts a record of fields fields (the format version
//  included) with a packer over buffer.
static int s_write_header (msgpack_packer *pk, msgpack_sbuffer *buffer, uint32_t fields)
{
    msgpack_packer_init (pk, buffer, msgpack_sbuffer_write);
    msgpack_sbuffer_clear (buffer);
    int rc = msgpack_pack_array (pk, fields);
    rc |= msgpack_pack_uint8 (pk, KEYS_FORMAT_VERSION);
    return rc;
}

//  Packs an inbox record, header included, at the end of pk's buffer.
static int s_pack_inbox (msgpack_packer *pk, int64_t created, const uint8_t *reply, size_t size,
                         const journal_request_t *request)
{
    bool with_request = request && request->digest;
    int rc = msgpack_pack_array (pk, with_request ? 5 : 3);
    rc |= msgpack_pack_uint8 (pk, KEYS_FORMAT_VERSION);
    rc |= msgpack_pack_int64 (pk, created);
    rc |= msgpack_pack_bin_with_body (pk, reply, size);
    if (with_request) {
        //  Stored as an int64's bits: mpread reads signed integers.
        rc |= msgpack_pack_int64 (pk, (int64_t) request->digest);
        rc |=
            msgpack_pack_str_with_body (pk, request->name, strnlen (request->name, SHOAL_NAME_MAX));
    }
    return rc;
}

int keys_event_encode (msgpack_sbuffer *buffer, const char *name, size_t name_len,
                       const uint8_t *data, size_t size, int64_t created)
{
    msgpack_packer pk;
    int rc = s_write_header (&pk, buffer, 4);
    rc |= msgpack_pack_str_with_body (&pk, name, name_len);
    rc |= msgpack_sbuffer_write (buffer, (const char *) data, size);
    rc |= msgpack_pack_int64 (&pk, created);
    return rc;
}

int keys_event_encode_creator (msgpack_sbuffer *buffer, const char *name, size_t name_len,
                               const uint8_t *data, size_t size, int64_t created,
                               const uint8_t id[JOURNAL_ID_SIZE], int64_t inbox_created,
                               const uint8_t *reply, size_t reply_size,
                               const journal_request_t *request)
{
    msgpack_packer pk;
    int rc = s_write_header (&pk, buffer, 6);
    rc |= msgpack_pack_str_with_body (&pk, name, name_len);
    rc |= msgpack_sbuffer_write (buffer, (const char *) data, size);
    rc |= msgpack_pack_int64 (&pk, created);
    rc |= msgpack_pack_bin_with_body (&pk, id, JOURNAL_ID_SIZE);
    if (rc)
        return rc;
    //  The inbox record, a record of its own, follows a bin32 header whose
    //  length is patched in once it is written.
    static const uint8_t bin32[5] = {0xc6, 0, 0, 0, 0};
    size_t header = buffer->size;
    rc = msgpack_sbuffer_write (buffer, (const char *) bin32, sizeof bin32);
    rc |= s_pack_inbox (&pk, inbox_created, reply, reply_size, request);
    size_t length = buffer->size - header - sizeof bin32;
    if (rc || length > UINT32_MAX)
        return -1;
    uint8_t *patch = (uint8_t *) buffer->data + header + 1;
    patch[0] = (uint8_t) (length >> 24);
    patch[1] = (uint8_t) (length >> 16);
    patch[2] = (uint8_t) (length >> 8);
    patch[3] = (uint8_t) length;
    return 0;
}

int keys_snapshot_encode (msgpack_sbuffer *buffer, int64_t seq, const uint8_t *state, size_t size,
                          int version)
{
    msgpack_packer pk;
    int rc = s_write_header (&pk, buffer, 4);
    rc |= msgpack_pack_int64 (&pk, seq);
    rc |= msgpack_sbuffer_write (buffer, (const char *) state, size);
    rc |= msgpack_pack_int64 (&pk, version);
    return rc;
}

int keys_inbox_encode (msgpack_sbuffer *buffer, int64_t created, const uint8_t *reply, size_t size,
                       const journal_request_t *request)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buffer, msgpack_sbuffer_write);
    msgpack_sbuffer_clear (buffer);
    return s_pack_inbox (&pk, created, reply, size, request);
}

//  --------------------------------------------------------------------------
//  Log records

int keys_log_begin (msgpack_sbuffer *log)
{
    if (log->size > 0)
        return 0;
    static const uint8_t header[KEYS_LOG_HEADER_SIZE] = {0xdd, 0, 0, 0, 1, KEYS_FORMAT_VERSION};
    return msgpack_sbuffer_write (log, (const char *) header, sizeof header);
}

int keys_log_append (msgpack_sbuffer *log, const char *stream, size_t stream_len, int64_t seq,
                     const char *name, size_t name_len, const uint8_t *data, size_t size,
                     int64_t created)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, log, msgpack_sbuffer_write);
    int rc = keys_log_begin (log);
    rc |= msgpack_pack_array (&pk, 5);
    rc |= msgpack_pack_str_with_body (&pk, stream, stream_len);
    rc |= msgpack_pack_int64 (&pk, seq);
    rc |= msgpack_pack_str_with_body (&pk, name, name_len);
    rc |= msgpack_sbuffer_write (log, (const char *) data, size);
    rc |= msgpack_pack_int64 (&pk, created);
    return rc;
}

void keys_log_finish (msgpack_sbuffer *log, uint32_t count)
{
    assert (log->size >= KEYS_LOG_HEADER_SIZE);
    uint32_t fields = count + 1;
    uint8_t *header = (uint8_t *) log->data;
    header[1] = (uint8_t) (fields >> 24);
    header[2] = (uint8_t) (fields >> 16);
    header[3] = (uint8_t) (fields >> 8);
    header[4] = (uint8_t) fields;
}

int keys_log_open (const uint8_t *buf, size_t size, size_t *offset, uint64_t *count)
{
    uint64_t fields;
    int64_t version;
    *offset = 0;
    if (mpread_array (buf, size, offset, &fields) || fields < 1 ||
        mpread_int (buf, size, offset, INT64_MIN, INT64_MAX, &version))
        return SHOAL_EFORMAT;
    if (version != KEYS_FORMAT_VERSION)
        return SHOAL_EVERSION;
    *count = fields - 1;
    return 0;
}

int keys_log_next (const uint8_t *buf, size_t size, size_t *offset, keys_log_entry_t *entry)
{
    size_t at = *offset;
    uint64_t fields;
    if (mpread_array (buf, size, &at, &fields) || fields != 5 ||
        mpread_str (buf, size, &at, &entry->stream, &entry->stream_len) || entry->stream_len == 0 ||
        entry->stream_len > SHOAL_ADDRESS_MAX || memchr (entry->stream, 0, entry->stream_len) ||
        mpread_int (buf, size, &at, 1, JOURNAL_SEQ_MAX, &entry->seq) ||
        mpread_str (buf, size, &at, &entry->name, &entry->name_len) || entry->name_len == 0 ||
        entry->name_len > SHOAL_NAME_MAX || memchr (entry->name, 0, entry->name_len) ||
        s_read_map (buf, size, &at, &entry->data, &entry->size) ||
        s_read_int (buf, size, &at, &entry->created))
        return SHOAL_EFORMAT;
    *offset = at;
    return 0;
}

int keys_note_append (msgpack_sbuffer *note, const char *stream, size_t stream_len,
                      const uint8_t id[JOURNAL_ID_SIZE], const uint8_t *envelope, size_t size)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, note, msgpack_sbuffer_write);
    int rc = keys_log_begin (note);
    rc |= msgpack_pack_array (&pk, envelope ? 3 : 2);
    rc |= msgpack_pack_str_with_body (&pk, stream, stream_len);
    rc |= msgpack_pack_bin_with_body (&pk, id, JOURNAL_ID_SIZE);
    if (envelope)
        rc |= msgpack_pack_bin_with_body (&pk, envelope, size);
    return rc;
}

int keys_note_append_inbox (msgpack_sbuffer *note, const char *stream, size_t stream_len,
                            const uint8_t id[JOURNAL_ID_SIZE], const uint8_t *record, size_t size,
                            const char *sender, size_t sender_len)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, note, msgpack_sbuffer_write);
    int rc = keys_log_begin (note);
    rc |= msgpack_pack_array (&pk, 4);
    rc |= msgpack_pack_str_with_body (&pk, stream, stream_len);
    rc |= msgpack_pack_bin_with_body (&pk, id, JOURNAL_ID_SIZE);
    rc |= msgpack_pack_bin_with_body (&pk, record, size);
    rc |= msgpack_pack_str_with_body (&pk, sender, sender_len);
    return rc;
}

//  Reads a stream name into out (SHOAL_ADDRESS_MAX + 1 bytes).
static int s_read_stream (const uint8_t *buf, size_t size, size_t *at, char *out)
{
    const uint8_t *stream;
    size_t len;
    if (mpread_str (buf, size, at, &stream, &len) || len == 0 || len > SHOAL_ADDRESS_MAX ||
        memchr (stream, 0, len))
        return SHOAL_EFORMAT;
    memcpy (out, stream, len);
    out[len] = '\0';
    return 0;
}

int keys_note_next (const uint8_t *buf, size_t size, size_t *offset, keys_note_entry_t *entry)
{
    size_t at = *offset, id_len;
    uint64_t fields;
    if (mpread_array (buf, size, &at, &fields) || fields < 2 || fields > 4 ||
        s_read_stream (buf, size, &at, entry->stream) ||
        mpread_bin (buf, size, &at, &entry->id, &id_len) || id_len != JOURNAL_ID_SIZE)
        return SHOAL_EFORMAT;
    entry->kind = fields == 2 ? KEYS_NOTE_ANSWERED : fields == 3 ? KEYS_NOTE_SENT : KEYS_NOTE_INBOX;
    entry->envelope = NULL;
    entry->size = 0;
    entry->sender[0] = '\0';
    if (fields >= 3 && mpread_bin (buf, size, &at, &entry->envelope, &entry->size))
        return SHOAL_EFORMAT;
    if (fields == 4 && s_read_stream (buf, size, &at, entry->sender))
        return SHOAL_EFORMAT;
    *offset = at;
    return 0;
}
