/*  keys.h - the journal's key layout and record codecs. Internal to
    persistence/: include it only from the journal's own .c files.

    Key layout 2 (ordered scans; big-endian integers; an address has no
    NUL). Every record of an actor starts with its shard, shoal_shard
    (stream, shards) of common/shard.h, so that one shard's records are the
    one contiguous range ['S' shard, 'S' shard+1): moving a shard is
    copying that range.

        'S' shard:u16be 'e' stream 0x00 seq:u64be -> event [1, name, data, created(, id, inbox)]
        'S' shard:u16be 's' stream                -> snapshot [1, seq, state(, version)]
        'S' shard:u16be 'i' stream 0x00 id:16     -> inbox [1, created, reply(, digest, name)]
        'S' shard:u16be 'o' stream 0x00 id:16     -> outbox entry (an encoded envelope)
        'S' shard:u16be 't' due:u64be id:16       -> timer (an encoded envelope)
        'L' pos:u64be                             -> log record (one per commit)
        'W' worker:u16be pos:u64be                -> outbox note (one per commit
                                                     that sends or answers)
        'V' view 0x00 version:u32be ...           -> a projection's rows and
                                                     checkpoint (views.c)
        'm' name                                  -> metadata value

    The node's event log: every commit that appends events writes one log
    record, keyed by the position of its first event, that holds a copy
    of each of them in commit order (positions are dense: the next
    record's key is this one's plus its events). Positions are given under
    the journal's write mutex, so that the log's key order is the order in
    which the commits became visible. Projections read it from any
    position (eventlog.c).

    A timer's shard is its actor's (the envelope's to). Within a shard,
    timers sort by due. Metadata is the node's, not a shard's: it includes
    "layout" = "2" and "shards", the shard count, fixed when the store is
    made (journal_open). Layout 1, made by shoal before shards were in the
    keys, was the same without the 'S' shard prefix; it is refused, not
    migrated.

    Records are msgpack arrays that start with the format version (1):
        event     [1, name:str, data:map, created:int] or, a stream's first
                  event only, [1, name:str, data:map, created:int, id:bin16,
                  inbox:bin]
        snapshot  [1, seq:int, state:map] or
                  [1, seq:int, state:map, version:int]
        inbox     [1, created:int, reply:bin] or
                  [1, created:int, reply:bin, digest:uint, name:str]
    The inbox record's digest and name (the command it answered: a 64-bit
    digest of its name and payload, and its name) are an optional pair:
    a record of three fields was made before they were kept.
    The first event of a stream created by a command (the turn of a
    command to an actor with no event appended some) holds that command's
    inbox record: its id and, in inbox, the inbox record as above, encoded
    whole, instead of an 'i' record. It is never pruned. The event log's
    copy of the event does not hold it. Likewise the
    snapshot's version (the actor type's snapshot_version, 0 to INT32_MAX):
    a snapshot of three fields was made before it was kept, and is
    version 0.
        log       [1, entry, entry, ...], entry i being the event at the
                  record's position + i: [stream:str, seq:int, name:str,
                  data:map, created:int]
        note      [1, entry, entry, ...], entry being [stream:str, id:bin16,
                  envelope:bin] (a command sent), [stream:str, id:bin16]
                  (an unstored command answered) or [stream:str, id:bin16,
                  record:bin, sender:str] (stream's inbox record, an inbox
                  value as above, of the command id that sender, an actor
                  of this node, sent)
    Outbox entries, timers and metadata are stored as given.

    The outbox in two tiers: a command an actor sends is written into its
    commit's note, not under a key of its own, and the answer to it as a
    two-field entry in the note of the commit that handles the answer.
    Only a command still unanswered when its worker takes a checkpoint is
    stored under its 'o' key, in the same write that deletes the worker's
    notes written so far (runtime/outbox.c). The outbox is the 'o' keys
    plus the commands of the notes that no note answers (scan.c), and an
    open folds the notes into 'o' keys (notes.c). The inbox likewise
    (runtime/inbox.h): the record of a command an actor of this node sent
    is a line of its receiver's note until the sender is done with it or
    the receiver's checkpoint stores it under its 'i' key; the fold keeps
    it under that key exactly while its command is in the outbox.

    Contract: a key builder writes into a caller's buffer of the size named
    by its comment (KEYS_STREAM_MAX, KEYS_TIMER_SIZE, KEYS_TAG_SIZE,
    1 + KEYS_META_NAME_MAX) and returns the key's length. A decoder checks every byte with the
    bounds-checked reader of common/mpread.h and allocates nothing: its
    outputs point into the record. A damaged record gives SHOAL_EFORMAT
    (SHOAL_EVERSION for a well-formed record of another format version),
    never a crash. An encoder clears the buffer it is given and returns 0,
    or non-zero if msgpack ran out of memory midway.

    Threads: pure functions over caller memory, safe on any thread.

    Limits: streams are at most SHOAL_ADDRESS_MAX bytes, event names at most
    SHOAL_NAME_MAX, metadata names at most KEYS_META_NAME_MAX, shards at
    most SHOAL_SHARDS_MAX (a u16).
*/
#ifndef KEYS_H_INCLUDED
#define KEYS_H_INCLUDED

#include "journal.h"
#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEYS_FORMAT_VERSION 1 //  first field of every record
#define KEYS_LAYOUT "2"       //  metadata "layout" of a store with this layout
#define KEYS_META_NAME_MAX 255

//  'S' shard:u16be, the start of every per-actor key.
#define KEYS_SHARD_SIZE 3
//  'S' shard tag: the prefix of one table of one shard.
#define KEYS_TAG_SIZE (KEYS_SHARD_SIZE + 1)
//  'o'/'i' with their 16-byte id are the longest keys with a stream.
#define KEYS_STREAM_MAX (KEYS_TAG_SIZE + SHOAL_ADDRESS_MAX + 1 + JOURNAL_ID_SIZE)
#define KEYS_TIMER_SIZE (KEYS_TAG_SIZE + 8 + JOURNAL_ID_SIZE)
#define KEYS_LOG_KEY_SIZE 9    //  'L' pos:u64be
#define KEYS_LOG_HEADER_SIZE 6 //  a log record's array32 header and format version
#define KEYS_NOTE_KEY_SIZE 11  //  'W' worker:u16be pos:u64be

//  --------------------------------------------------------------------------
//  Keys

//  The first bytes of in as a big-endian integer (bytes at most 8).
uint64_t keys_get_be (const uint8_t *in, size_t bytes);

//  Returns the length of a usable stream name, or 0 if it is NULL, empty
//  or longer than SHOAL_ADDRESS_MAX.
size_t keys_stream_len (const char *stream);

//  Writes 'S' shard tag, the prefix of table tag of shard (< 65536), into
//  key and returns KEYS_TAG_SIZE. key holds KEYS_TAG_SIZE bytes.
size_t keys_tag_key (uint8_t *key, uint32_t shard, char tag);

//  Writes 'S' shard tag stream [0x00] into key and returns its length. key
//  holds KEYS_STREAM_MAX bytes; len comes from keys_stream_len; shard is
//  the stream's.
size_t keys_stream_key (uint8_t *key, uint32_t shard, char tag, const char *stream, size_t len,
                        bool nul);

//  Writes the key of event seq of stream. key holds KEYS_STREAM_MAX bytes.
size_t keys_event_key (uint8_t *key, uint32_t shard, const char *stream, size_t len, int64_t seq);

//  Writes 'S' shard tag stream 0x00 id (inbox 'i', outbox 'o'). key holds
//  KEYS_STREAM_MAX bytes.
size_t keys_id_key (uint8_t *key, uint32_t shard, char tag, const char *stream, size_t len,
                    const uint8_t id[JOURNAL_ID_SIZE]);

//  Writes the timer key for (due, id) in shard, its actor's. key holds
//  KEYS_TIMER_SIZE bytes.
void keys_timer_key (uint8_t *key, uint32_t shard, int64_t due, const uint8_t id[JOURNAL_ID_SIZE]);

//  Writes the metadata key for name into key. Returns its length, or 0 if
//  name is unusable. key holds 1 + KEYS_META_NAME_MAX bytes.
size_t keys_meta_key (uint8_t *key, const char *name);

//  Writes the id in hex, then the stream (NUL-terminated): a hash key for
//  a record by (stream, id) in memory (a batch's staged inbox records,
//  the notes' commands). key holds KEYS_HASH_KEY_MAX bytes.
#define KEYS_HASH_KEY_MAX (2 * JOURNAL_ID_SIZE + SHOAL_ADDRESS_MAX + 1)
void keys_hash_key (char *key, const char *stream, size_t len, const uint8_t id[JOURNAL_ID_SIZE]);

//  True if key starts with prefix.
bool keys_has_prefix (const char *key, size_t size, const uint8_t *prefix, size_t len);

//  The seq of an event key whose stream prefix is prefix_len bytes, or -1
//  if the key is malformed.
int64_t keys_event_seq (const char *key, size_t key_len, size_t prefix_len);

//  Writes 'L' pos, the key of the log record whose first event is at pos.
//  Returns KEYS_LOG_KEY_SIZE.
size_t keys_log_key (uint8_t key[KEYS_LOG_KEY_SIZE], uint64_t pos);

//  --------------------------------------------------------------------------
//  Records

//  Decodes an event record, of either form (a first event's inbox record
//  is checked, not returned). *name and *data point into buf.
int keys_event_decode (const uint8_t *buf, size_t size, const uint8_t **name, size_t *name_len,
                       const uint8_t **data, size_t *data_len, int64_t *created);

//  The inbox record a stream's first event holds (keys.h), pointing into
//  the event record: the id of the command that created the stream, and
//  its inbox record (decode it with keys_inbox_decode).
typedef struct {
    const uint8_t *id;    //  JOURNAL_ID_SIZE bytes; NULL: the event holds none
    const uint8_t *inbox; //  an inbox record
    size_t inbox_len;
} keys_creator_t;

//  The same, accepting both forms; creator (may be NULL) gets the inbox
//  record of the command that created the stream, or id NULL if the
//  event holds none. A held inbox record that does not decode makes the
//  event damaged (SHOAL_EFORMAT).
int keys_event_decode_creator (const uint8_t *buf, size_t size, const uint8_t **name,
                               size_t *name_len, const uint8_t **data, size_t *data_len,
                               int64_t *created, keys_creator_t *creator);

//  Decodes a snapshot record. *state points into buf; *version (may be
//  NULL) is the type's snapshot version it was written with, 0 for a
//  record made before versions were kept.
int keys_snapshot_decode (const uint8_t *buf, size_t size, int64_t *seq, const uint8_t **state,
                          size_t *state_len, int *version);

//  Decodes an inbox record. *reply points into buf. request (may be NULL)
//  gets the command's digest and name, or digest 0 and "" for a record
//  made without them.
int keys_inbox_decode (const uint8_t *buf, size_t size, int64_t *created, const uint8_t **reply,
                       size_t *reply_len, journal_request_t *request);

//  Encodes an event record into buffer. data is an encoded msgpack map,
//  copied as is.
int keys_event_encode (msgpack_sbuffer *buffer, const char *name, size_t name_len,
                       const uint8_t *data, size_t size, int64_t created);

//  Encodes a stream's first event into buffer with the inbox record of
//  the command id that created the stream (created, reply and request as
//  for keys_inbox_encode).
int keys_event_encode_creator (msgpack_sbuffer *buffer, const char *name, size_t name_len,
                               const uint8_t *data, size_t size, int64_t created,
                               const uint8_t id[JOURNAL_ID_SIZE], int64_t inbox_created,
                               const uint8_t *reply, size_t reply_size,
                               const journal_request_t *request);

//  Encodes a snapshot record into buffer, with its version (>= 0). state
//  is an encoded msgpack map, copied as is.
int keys_snapshot_encode (msgpack_sbuffer *buffer, int64_t seq, const uint8_t *state, size_t size,
                          int version);

//  Encodes an inbox record into buffer, with request's digest and name
//  unless request is NULL or its digest 0.
int keys_inbox_encode (msgpack_sbuffer *buffer, int64_t created, const uint8_t *reply, size_t size,
                       const journal_request_t *request);

//  A log record is built in a buffer of its own: keys_log_begin reserves
//  its header (when the buffer is empty), keys_log_append adds one event,
//  keys_log_finish patches the header with their count. Returns 0, or
//  non-zero if msgpack ran out of memory.
int keys_log_begin (msgpack_sbuffer *log);
int keys_log_append (msgpack_sbuffer *log, const char *stream, size_t stream_len, int64_t seq,
                     const char *name, size_t name_len, const uint8_t *data, size_t size,
                     int64_t created);
void keys_log_finish (msgpack_sbuffer *log, uint32_t count);

//  One event of a log record, pointing into the record.
typedef struct {
    const uint8_t *stream;
    size_t stream_len;
    int64_t seq;
    const uint8_t *name;
    size_t name_len;
    const uint8_t *data; //  an encoded msgpack map
    size_t size;
    int64_t created;
} keys_log_entry_t;

//  Reads a log record's header: *count events follow from *offset.
//  Returns 0, SHOAL_EFORMAT or SHOAL_EVERSION.
int keys_log_open (const uint8_t *buf, size_t size, size_t *offset, uint64_t *count);
//  Reads the event at *offset and advances it. Returns 0 or SHOAL_EFORMAT
//  (a bad stream or name length, a seq below 1, a data that is no map).
int keys_log_next (const uint8_t *buf, size_t size, size_t *offset, keys_log_entry_t *entry);

//  Writes 'W' worker pos, the key of an outbox note. worker < 65536.
//  Returns KEYS_NOTE_KEY_SIZE.
size_t keys_note_key (uint8_t key[KEYS_NOTE_KEY_SIZE], uint32_t worker, uint64_t pos);

//  A note is built as a log record is: keys_log_begin reserves its header,
//  keys_note_append adds one entry, keys_log_finish patches the count.
//  envelope NULL: the entry says the command id of stream is answered.
//  Returns 0, or non-zero if msgpack ran out of memory.
int keys_note_append (msgpack_sbuffer *note, const char *stream, size_t stream_len,
                      const uint8_t id[JOURNAL_ID_SIZE], const uint8_t *envelope, size_t size);

//  Adds an inbox entry: stream's inbox record (an encoded inbox value) for
//  command id, which sender, an actor of this node, sent. The same return.
int keys_note_append_inbox (msgpack_sbuffer *note, const char *stream, size_t stream_len,
                            const uint8_t id[JOURNAL_ID_SIZE], const uint8_t *record, size_t size,
                            const char *sender, size_t sender_len);

typedef enum {
    KEYS_NOTE_SENT,     //  [stream, id, envelope]: a command stream sent
    KEYS_NOTE_ANSWERED, //  [stream, id]: stream's command id is answered
    KEYS_NOTE_INBOX,    //  [stream, id, record, sender]: stream's inbox record
} keys_note_kind_t;

//  One entry of a note, pointing into the note.
typedef struct {
    keys_note_kind_t kind;
    char stream[SHOAL_ADDRESS_MAX + 1]; //  copied, NUL-terminated
    const uint8_t *id;                  //  JOURNAL_ID_SIZE bytes
    const uint8_t *envelope;            //  SENT: the command; INBOX: the record; else NULL
    size_t size;
    char sender[SHOAL_ADDRESS_MAX + 1]; //  INBOX: who sent the command; else ""
} keys_note_entry_t;

//  A note's header is read with keys_log_open. Reads the entry at *offset
//  and advances it. Returns 0 or SHOAL_EFORMAT.
int keys_note_next (const uint8_t *buf, size_t size, size_t *offset, keys_note_entry_t *entry);

#endif
