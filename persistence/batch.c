/*  batch.c - a journal batch: writes staged in one LevelDB write batch and
    committed together (group commit), synced unless the journal was opened
    with durability async.

    Contract: staging checks its inputs and encodes the record at once; a
    commit writes everything staged or nothing, and empties the batch
    whatever the result. An encoding that runs out of memory midway marks
    the batch broken, as part of a record set may already be staged: its
    commit then fails with SHOAL_EIO. A batch answers reads of what it has
    staged (stream versions, inbox records), so a worker sees its own
    writes before they are committed. It also remembers the committed
    versions it has seen, which is valid while it is the stream's one
    writer, as a worker is for its shards; an owned batch (a worker's)
    takes them from its caller instead (journal_batch_set_owned).

    Threads: a journal_batch_t (its LevelDB write batch, its hashes of
    staged stream versions and inbox records, its encoding buffer) belongs
    to one thread. The journal_t it commits to may be shared.

    Limits: timers due before the epoch (negative) are refused, as they
    would sort last.
*/
#include "journal_internal.h"
#include "keys.h"
#include "mpread.h"
#include "vmap.h"
#include <assert.h>
#include <czmq.h>
#include <leveldb/c.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#define JOURNAL_KNOWN_MAX 32768 //  committed stream versions a batch remembers, per generation

//  An inbox record staged in a batch.
typedef struct {
    journal_request_t request; //  the command it answered (digest 0: not kept)
    size_t size;               //  bytes of reply
    uint8_t reply[];           //  the reply as given
} staged_reply_t;

struct _journal_batch_t {
    journal_t *journal;           //  the store it commits to, borrowed
    leveldb_writebatch_t *writes; //  staged puts and deletes
    vmap_t versions;              //  stream -> its version staged in this batch
    vmap_t known[2];              //  stream -> its committed version seen (valid while
                                  //  this batch is the stream's one writer, as a worker
                                  //  is for its shards), in two generations (s_remember)
    int newer;                    //  which of known is the newer generation
    vmap_t inbox;                 //  hex id + stream -> staged_reply_t * (in the number),
                                  //  the records carved from the map's own chunks
    msgpack_sbuffer buffer;       //  reused to encode records
    msgpack_sbuffer log;          //  the event log record of the events appended
    uint32_t logged;              //  events in it
    msgpack_sbuffer note;         //  the outbox note of this commit (keys.h)
    uint32_t noted;               //  entries in it
    uint32_t worker;              //  whose notes it writes
    uint64_t *notes;              //  the positions of the notes written, not yet dropped
    size_t notes_count;           //  how many
    size_t notes_cap;             //  room in notes
    bool notes_lost;              //  one could not be remembered: read them from the store
    size_t count;                 //  records staged
    size_t bytes;                 //  their key and value bytes
    bool broken;                  //  an encoding ran out of memory midway
    bool lazy;                    //  commits are not synced (journal_batch_set_lazy)
    bool owned;                   //  appends trust their expected version (journal_batch_set_owned)
};

journal_batch_t *journal_batch_new (journal_t *journal)
{
    assert (journal);
    journal_batch_t *self = calloc (1, sizeof (journal_batch_t));
    if (!self)
        return NULL;
    self->journal = journal;
    self->writes = leveldb_writebatch_create ();
    vmap_init (&self->versions);
    vmap_init (&self->known[0]);
    vmap_init (&self->known[1]);
    vmap_init (&self->inbox);
    msgpack_sbuffer_init (&self->buffer);
    msgpack_sbuffer_init (&self->log);
    msgpack_sbuffer_init (&self->note);
    return self;
}

void journal_batch_destroy (journal_batch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    journal_batch_t *self = *self_p;
    leveldb_writebatch_destroy (self->writes);
    vmap_close (&self->versions);
    vmap_close (&self->inbox);
    vmap_close (&self->known[0]);
    vmap_close (&self->known[1]);
    msgpack_sbuffer_destroy (&self->buffer);
    msgpack_sbuffer_destroy (&self->log);
    msgpack_sbuffer_destroy (&self->note);
    free (self->notes);
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

int journal_batch_stage (journal_batch_t *self, const uint8_t *key, size_t key_len,
                         const uint8_t *value, size_t size)
{
    assert (self);
    if (value)
        s_stage_put (self, key, key_len, value, size);
    else
        s_stage_delete (self, key, key_len);
    return 0;
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

//  Remembers a committed version of stream. The memory is bounded, in two
//  generations of JOURNAL_KNOWN_MAX streams: when the newer is full, the
//  older is forgotten and the newer becomes it, so that the streams in use
//  (a bank's accounts among thousands of finished sagas) stay known (a
//  miss costs one seek). Out of memory, the stream is not remembered (its
//  next append seeks): never a version that is not the latest.
static void s_remember (journal_batch_t *self, const char *stream, int64_t version)
{
    vmap_t *newer = &self->known[self->newer];
    int64_t *known = vmap_find (newer, stream);
    if (known) {
        *known = version;
        return;
    }
    if (vmap_count (newer) >= JOURNAL_KNOWN_MAX) {
        self->newer ^= 1;
        newer = &self->known[self->newer];
        vmap_clear (newer);
    }
    vmap_put (newer, stream, version);
}

//  Finds the committed version of stream remembered. One found in the
//  older generation moves to the newer.
static bool s_known (journal_batch_t *self, const char *stream, int64_t *version)
{
    int64_t *known = vmap_find (&self->known[self->newer], stream);
    if (known) {
        *version = *known;
        return true;
    }
    if (!(known = vmap_find (&self->known[self->newer ^ 1], stream)))
        return false;
    *version = *known;
    s_remember (self, stream, *version); //  may clear the older generation
    return true;
}

int journal_batch_version (journal_batch_t *self, const char *stream, int64_t *version)
{
    assert (self);
    assert (version);
    if (keys_stream_len (stream) == 0)
        return SHOAL_EINVAL;
    int64_t *staged = vmap_find (&self->versions, stream);
    if (staged) {
        *version = *staged;
        return 0;
    }
    if (s_known (self, stream, version))
        return 0;
    int rc = journal_version (self->journal, stream, version);
    if (rc == 0)
        s_remember (self, stream, *version);
    return rc;
}

void journal_batch_remember (journal_batch_t *self, const char *stream, int64_t version)
{
    assert (self);
    if (keys_stream_len (stream) > 0 && version >= 0)
        s_remember (self, stream, version);
}

static int s_append (journal_batch_t *self, const char *stream, int64_t expected,
                     const journal_event_t *events, size_t count, int64_t created, int64_t *version,
                     const journal_creator_t *creator);

int journal_batch_append (journal_batch_t *self, const char *stream, int64_t expected,
                          const journal_event_t *events, size_t count, int64_t created,
                          int64_t *version)
{
    return s_append (self, stream, expected, events, count, created, version, NULL);
}

//  Indexes staged (carved from the map) under (stream, id), replacing any
//  record the batch staged for it before. Out of memory, the batch is
//  broken (its commit fails): its record is staged, and a lookup would
//  miss it.
static int s_index_reply (journal_batch_t *self, const char *stream, size_t len,
                          const uint8_t id[JOURNAL_ID_SIZE], staged_reply_t *staged)
{
    char hash_key[KEYS_HASH_KEY_MAX];
    keys_hash_key (hash_key, stream, len, id);
    if (!vmap_put (&self->inbox, hash_key, (int64_t) (intptr_t) staged)) {
        self->broken = true;
        return SHOAL_ENOMEM;
    }
    return 0;
}

int journal_batch_append_creator (journal_batch_t *self, const char *stream,
                                  const journal_event_t *events, size_t count, int64_t created,
                                  int64_t *version, const journal_creator_t *creator)
{
    assert (self);
    assert (creator);
    size_t len = keys_stream_len (stream);
    if (len == 0 || count == 0 || !creator->id || (creator->size && !creator->reply) ||
        creator->size > UINT32_MAX)
        return SHOAL_EINVAL;
    staged_reply_t *staged = vmap_alloc (&self->inbox, sizeof (staged_reply_t) + creator->size);
    if (!staged)
        return SHOAL_ENOMEM;
    staged->size = creator->size;
    if (creator->size)
        memcpy (staged->reply, creator->reply, creator->size);
    staged->request = creator->request ? *creator->request : (journal_request_t){0};
    int rc = s_append (self, stream, JOURNAL_NO_STREAM, events, count, created, version, creator);
    if (rc)
        return rc; //  the room stays carved until the batch is cleared
    return s_index_reply (self, stream, len, creator->id, staged);
}

//  Appends events to stream (journal_batch_append); with creator, the
//  first event's record holds its inbox record.
static int s_append (journal_batch_t *self, const char *stream, int64_t expected,
                     const journal_event_t *events, size_t count, int64_t created, int64_t *version,
                     const journal_creator_t *creator)
{
    assert (self);
    size_t len = keys_stream_len (stream);
    if (len == 0 || expected < JOURNAL_ANY || (count && !events))
        return SHOAL_EINVAL;
    for (size_t i = 0; i < count; i++) {
        size_t name_len = events[i].name ? strnlen (events[i].name, SHOAL_NAME_MAX + 1) : 0;
        if (name_len == 0 || name_len > SHOAL_NAME_MAX ||
            !mpread_is_map (events[i].data, events[i].size, MPREAD_DEPTH_ANY))
            return SHOAL_EINVAL;
    }
    //  Owned: the caller's version is the committed one unless this batch
    //  staged the stream (journal_batch_set_owned), no lookup of known.
    int64_t current;
    int64_t *staged = vmap_find (&self->versions, stream);
    int rc = 0;
    if (staged)
        current = *staged;
    else if (self->owned && expected != JOURNAL_ANY)
        current = expected;
    else if ((rc = journal_batch_version (self, stream, &current)))
        return rc;
    if (expected != JOURNAL_ANY && expected != current)
        return SHOAL_ECONFLICT;
    if (current < 0 || current > JOURNAL_SEQ_MAX - (int64_t) count)
        return SHOAL_EFORMAT; //  a damaged last key: no seq past JOURNAL_SEQ_MAX
    if (count > 0) {
        //  Every append, not only event 1's: a stream whose version came
        //  from a snapshot alone (a store a repair left without its
        //  events) has no 'e' key for the scan to find. An owned batch's
        //  caller added the streams it keeps as it loaded them
        //  (journal_batch_keep): only a new one is added here.
        if (!self->owned || expected == JOURNAL_ANY || current == 0)
            journal_filter_add (self->journal, JOURNAL_FILTER_STREAMS, stream, len);
        if (!staged && !(staged = vmap_put (&self->versions, stream, current)))
            return SHOAL_ENOMEM;
        for (size_t i = 0; i < count; i++) {
            int pack_rc =
                creator && i == 0
                    ? keys_event_encode_creator (
                          &self->buffer, events[i].name, strlen (events[i].name), events[i].data,
                          events[i].size, created, creator->id, creator->created, creator->reply,
                          creator->size, creator->request)
                    : keys_event_encode (&self->buffer, events[i].name, strlen (events[i].name),
                                         events[i].data, events[i].size, created);
            uint8_t key[KEYS_STREAM_MAX];
            size_t key_len = keys_event_key (key, journal_shard (self->journal, stream), stream,
                                             len, current + (int64_t) i + 1);
            if ((rc = s_stage_record (self, key, key_len, pack_rc)))
                return rc;
            *staged = current + (int64_t) i + 1;
            if (keys_log_append (&self->log, stream, len, *staged, events[i].name,
                                 strlen (events[i].name), events[i].data, events[i].size,
                                 created)) {
                self->broken = true;
                return SHOAL_ENOMEM;
            }
            self->logged++;
        }
    }
    if (version)
        *version = current + (int64_t) count;
    return 0;
}

int journal_batch_snapshot (journal_batch_t *self, const char *stream, int64_t seq,
                            const uint8_t *state, size_t size)
{
    return journal_batch_snapshot_versioned (self, stream, seq, 0, state, size);
}

int journal_batch_snapshot_versioned (journal_batch_t *self, const char *stream, int64_t seq,
                                      int version, const uint8_t *state, size_t size)
{
    assert (self);
    size_t len = keys_stream_len (stream);
    if (len == 0 || seq < 0 || version < 0 || !mpread_is_map (state, size, MPREAD_DEPTH_ANY))
        return SHOAL_EINVAL;
    int pack_rc = keys_snapshot_encode (&self->buffer, seq, state, size, version);
    uint8_t key[KEYS_STREAM_MAX];
    size_t key_len =
        keys_stream_key (key, journal_shard (self->journal, stream), 's', stream, len, false);
    return s_stage_record (self, key, key_len, pack_rc);
}

int journal_batch_inbox_put (journal_batch_t *self, const char *stream,
                             const uint8_t id[JOURNAL_ID_SIZE], const uint8_t *reply, size_t size,
                             int64_t created)
{
    return journal_batch_inbox_record (self, stream, id, reply, size, created, NULL);
}

//  Stages (stream, id)'s record in the batch's map, so its lookups find
//  it before the commit. Its record is staged already: out of memory, the
//  batch is broken (its commit fails), as a lookup would miss it.
static int s_stage_reply (journal_batch_t *self, const char *stream, size_t len,
                          const uint8_t id[JOURNAL_ID_SIZE], const uint8_t *reply, size_t size,
                          const journal_request_t *request)
{
    staged_reply_t *staged = vmap_alloc (&self->inbox, sizeof (staged_reply_t) + size);
    if (!staged) {
        self->broken = true;
        return SHOAL_ENOMEM;
    }
    staged->size = size;
    if (size)
        memcpy (staged->reply, reply, size);
    if (request)
        staged->request = *request;
    else
        staged->request = (journal_request_t){0};
    return s_index_reply (self, stream, len, id, staged);
}

int journal_batch_inbox_record (journal_batch_t *self, const char *stream,
                                const uint8_t id[JOURNAL_ID_SIZE], const uint8_t *reply,
                                size_t size, int64_t created, const journal_request_t *request)
{
    assert (self);
    size_t len = keys_stream_len (stream);
    if (len == 0 || !id || (size && !reply) || size > UINT32_MAX)
        return SHOAL_EINVAL;
    int pack_rc = keys_inbox_encode (&self->buffer, created, reply, size, request);
    journal_filter_add (self->journal, JOURNAL_FILTER_INBOX, stream, len);
    uint8_t key[KEYS_STREAM_MAX];
    size_t key_len = keys_id_key (key, journal_shard (self->journal, stream), 'i', stream, len, id);
    int rc = s_stage_record (self, key, key_len, pack_rc);
    return rc ? rc : s_stage_reply (self, stream, len, id, reply, size, request);
}

int journal_batch_inbox_note (journal_batch_t *self, const char *stream,
                              const uint8_t id[JOURNAL_ID_SIZE], const uint8_t *reply, size_t size,
                              int64_t created, const journal_request_t *request, const char *sender,
                              uint8_t **record, size_t *record_size)
{
    assert (self);
    size_t len = keys_stream_len (stream);
    size_t sender_len = keys_stream_len (sender);
    if (len == 0 || sender_len == 0 || !id || (size && !reply) || size > UINT32_MAX)
        return SHOAL_EINVAL;
    if (keys_inbox_encode (&self->buffer, created, reply, size, request)) {
        self->broken = true;
        return SHOAL_ENOMEM;
    }
    if (!(*record = journal_memdup (self->buffer.data, self->buffer.size)))
        return SHOAL_ENOMEM;
    *record_size = self->buffer.size;
    if (keys_note_append_inbox (&self->note, stream, len, id, *record, *record_size, sender,
                                sender_len)) {
        self->broken = true; //  part of the line may be written
        free (*record);
        *record = NULL;
        return SHOAL_ENOMEM;
    }
    if (self->noted++ == 0)
        self->count++; //  the note is one record, whatever it holds
    self->bytes += *record_size;
    int rc = s_stage_reply (self, stream, len, id, reply, size, request);
    if (rc) { //  the line is in the note: the batch can no longer be trusted
        self->broken = true;
        free (*record);
        *record = NULL;
    }
    return rc;
}

int journal_batch_inbox_restore (journal_batch_t *self, const char *stream,
                                 const uint8_t id[JOURNAL_ID_SIZE], const uint8_t *record,
                                 size_t size)
{
    assert (self);
    size_t len = keys_stream_len (stream);
    const uint8_t *reply;
    size_t reply_size;
    journal_request_t request;
    if (len == 0 || !id || !record)
        return SHOAL_EINVAL;
    //  A record that does not read (a note damaged past its checksum) is
    //  stored all the same, and found as it is: "found" keeps its command
    //  from running again; its reply is refused as unreadable.
    if (journal_inbox_decode (record, size, &reply, &reply_size, &request) != 0) {
        reply = record;
        reply_size = size;
        request = (journal_request_t){0};
    }
    //  The caller drops the record's note in this batch: the batch must
    //  not commit without it.
    int rc =
        s_stage_reply (self, stream, len, id, reply, reply_size, request.digest ? &request : NULL);
    if (rc) {
        self->broken = true;
        return rc;
    }
    journal_filter_add (self->journal, JOURNAL_FILTER_INBOX, stream, len);
    uint8_t key[KEYS_STREAM_MAX];
    size_t key_len = keys_id_key (key, journal_shard (self->journal, stream), 'i', stream, len, id);
    s_stage_put (self, key, key_len, record, size);
    return 0;
}

int journal_batch_inbox_get (journal_batch_t *self, const char *stream,
                             const uint8_t id[JOURNAL_ID_SIZE], uint8_t **reply, size_t *size)
{
    return journal_batch_inbox_find (self, stream, id, reply, size, NULL);
}

int journal_batch_inbox_find (journal_batch_t *self, const char *stream,
                              const uint8_t id[JOURNAL_ID_SIZE], uint8_t **reply, size_t *size,
                              journal_request_t *request)
{
    assert (self);
    size_t len = keys_stream_len (stream);
    if (len == 0 || !id)
        return SHOAL_EINVAL;
    char hash_key[KEYS_HASH_KEY_MAX];
    keys_hash_key (hash_key, stream, len, id);
    int64_t *found = vmap_find (&self->inbox, hash_key);
    staged_reply_t *staged = found ? (staged_reply_t *) (intptr_t) *found : NULL;
    if (!staged)
        return journal_inbox_find (self->journal, stream, id, reply, size, request);
    if (!(*reply = journal_memdup (staged->reply, staged->size)))
        return SHOAL_ENOMEM;
    *size = staged->size;
    if (request)
        *request = staged->request;
    return 0;
}

int journal_batch_outbox_put (journal_batch_t *self, const char *stream,
                              const uint8_t id[JOURNAL_ID_SIZE], const uint8_t *envelope,
                              size_t size)
{
    assert (self);
    size_t len = keys_stream_len (stream);
    if (len == 0 || !id || (size && !envelope))
        return SHOAL_EINVAL;
    uint8_t key[KEYS_STREAM_MAX];
    size_t key_len = keys_id_key (key, journal_shard (self->journal, stream), 'o', stream, len, id);
    s_stage_put (self, key, key_len, envelope, size);
    return 0;
}

int journal_batch_outbox_del (journal_batch_t *self, const char *stream,
                              const uint8_t id[JOURNAL_ID_SIZE])
{
    assert (self);
    size_t len = keys_stream_len (stream);
    if (len == 0 || !id)
        return SHOAL_EINVAL;
    uint8_t key[KEYS_STREAM_MAX];
    size_t key_len = keys_id_key (key, journal_shard (self->journal, stream), 'o', stream, len, id);
    s_stage_delete (self, key, key_len);
    return 0;
}

int journal_batch_outbox_note (journal_batch_t *self, const char *stream,
                               const uint8_t id[JOURNAL_ID_SIZE], const uint8_t *envelope,
                               size_t size)
{
    assert (self);
    size_t len = keys_stream_len (stream);
    if (len == 0 || !id || (size && !envelope))
        return SHOAL_EINVAL;
    if (keys_note_append (&self->note, stream, len, id, envelope, size)) {
        self->broken = true;
        return SHOAL_ENOMEM;
    }
    if (self->noted++ == 0)
        self->count++; //  the note is one record, whatever it holds
    return 0;
}

void journal_batch_set_worker (journal_batch_t *self, uint32_t worker)
{
    assert (self);
    assert (worker <= UINT16_MAX);
    self->worker = worker;
}

//  Remembers that the note at pos was written (or may have been: a failed
//  write can be kept by the reopen). Out of memory, no note is dropped
//  until journal_batch_notes_reload has read them from the store.
static void s_note_written (journal_batch_t *self, uint64_t pos)
{
    if (self->notes_count == self->notes_cap) {
        size_t cap = self->notes_cap ? 2 * self->notes_cap : 64;
        uint64_t *notes = realloc (self->notes, cap * sizeof (uint64_t));
        if (!notes) {
            self->notes_lost = true;
            return;
        }
        self->notes = notes;
        self->notes_cap = cap;
    }
    self->notes[self->notes_count++] = pos;
}

int journal_batch_notes_drop (journal_batch_t *self, size_t count)
{
    assert (self);
    if (self->notes_lost)
        return SHOAL_ENOMEM;
    if (count > self->notes_count)
        count = self->notes_count;
    for (size_t i = 0; i < count; i++) {
        uint8_t key[KEYS_NOTE_KEY_SIZE];
        s_stage_delete (self, key, keys_note_key (key, self->worker, self->notes[i]));
    }
    memmove (self->notes, self->notes + count, (self->notes_count - count) * sizeof (uint64_t));
    self->notes_count -= count;
    return 0;
}

int journal_batch_notes_reload (journal_batch_t *self)
{
    assert (self);
    uint64_t *positions;
    size_t count;
    int rc = journal_notes_list (self->journal, self->worker, &positions, &count);
    if (rc == 0) {
        free (self->notes);
        self->notes = positions;
        self->notes_count = self->notes_cap = count;
        self->notes_lost = false;
    }
    return rc;
}

size_t journal_batch_notes_count (const journal_batch_t *self)
{
    assert (self);
    return self->notes_count;
}

int journal_batch_timer_put (journal_batch_t *self, const char *stream, int64_t due,
                             const uint8_t id[JOURNAL_ID_SIZE], const uint8_t *envelope,
                             size_t size)
{
    assert (self);
    if (keys_stream_len (stream) == 0 || due < 0 || !id || (size && !envelope))
        return SHOAL_EINVAL;
    uint8_t key[KEYS_TIMER_SIZE];
    keys_timer_key (key, journal_shard (self->journal, stream), due, id);
    s_stage_put (self, key, sizeof key, envelope, size);
    return 0;
}

int journal_batch_timer_del (journal_batch_t *self, const char *stream, int64_t due,
                             const uint8_t id[JOURNAL_ID_SIZE])
{
    assert (self);
    if (keys_stream_len (stream) == 0 || due < 0 || !id)
        return SHOAL_EINVAL;
    uint8_t key[KEYS_TIMER_SIZE];
    keys_timer_key (key, journal_shard (self->journal, stream), due, id);
    s_stage_delete (self, key, sizeof key);
    return 0;
}

void journal_batch_set_owned (journal_batch_t *self, bool owned)
{
    assert (self);
    self->owned = owned;
}

void journal_batch_keep (journal_batch_t *self, const char *stream, int64_t version)
{
    assert (self);
    size_t len = keys_stream_len (stream);
    if (len > 0 && version > 0)
        journal_filter_add (self->journal, JOURNAL_FILTER_STREAMS, stream, len);
}

void journal_batch_forget (journal_batch_t *self)
{
    assert (self);
    vmap_clear (&self->known[0]);
    vmap_clear (&self->known[1]);
}

void journal_batch_set_lazy (journal_batch_t *self, bool lazy)
{
    assert (self);
    self->lazy = lazy;
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
    uint64_t written;
    int rc = journal_batch_commit_unsynced (self, &written);
    if (rc == 0 && !self->lazy) //  durable, in async durability too
        rc = journal_sync_durable (self->journal, written);
    return rc;
}

int journal_batch_commit_unsynced (journal_batch_t *self, uint64_t *written)
{
    assert (self);
    assert (written);
    int rc = 0;
    *written = journal_written (self->journal);
    if (self->broken)
        rc = SHOAL_EIO;
    else if (self->count > 0) {
        journal_t *journal = self->journal;
        if (self->noted) {
            uint64_t pos = atomic_fetch_add (&journal->note_next, 1);
            uint8_t key[KEYS_NOTE_KEY_SIZE];
            keys_log_finish (&self->note, self->noted);
            leveldb_writebatch_put (self->writes, (const char *) key,
                                    keys_note_key (key, self->worker, pos), self->note.data,
                                    self->note.size);
            self->bytes += KEYS_NOTE_KEY_SIZE + self->note.size;
            s_note_written (self, pos);
        }
        rc = journal_enter (journal);
        if (rc == 0) {
            rc = journal_write_unsynced_held (
                journal, self->lazy ? journal->write_lazy : journal->write, self->writes, true,
                self->log.data, self->log.size, self->logged, written);
            journal_leave (journal);
        }
        if (rc && journal_enter (journal) == 0) //  reopens the store at once
            journal_leave (journal);
    }
    if (rc == 0) {
        atomic_fetch_add (&self->journal->records, self->count);
        size_t cursor = 0;
        const char *stream;
        //  An owned batch's caller remembers its streams' versions itself.
        for (int64_t *staged = self->owned ? NULL : vmap_next (&self->versions, &cursor, &stream);
             staged; staged = vmap_next (&self->versions, &cursor, &stream))
            s_remember (self, stream, *staged);
    } else {
        vmap_clear (&self->known[0]);
        vmap_clear (&self->known[1]);
    }
    journal_batch_clear (self);
    return rc;
}

void journal_batch_clear (journal_batch_t *self)
{
    assert (self);
    leveldb_writebatch_clear (self->writes);
    vmap_clear (&self->versions);
    vmap_clear (&self->inbox);
    msgpack_sbuffer_clear (&self->buffer);
    msgpack_sbuffer_clear (&self->log);
    msgpack_sbuffer_clear (&self->note);
    self->logged = 0;
    self->noted = 0;
    self->count = 0;
    self->bytes = 0;
    self->broken = false;
}
