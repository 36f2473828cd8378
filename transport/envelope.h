/*  envelope.h - the message envelope and its msgpack codec.

    Every message between clients, nodes and workers is one envelope,
    encoded as a msgpack array of 11 elements:

        [version, kind, id, correlation, causation, from, to, name,
         payload, attempt, created]

    version    uint, ENVELOPE_VERSION
    kind       uint, an envelope_kind_t
    id         bin 16, the message id (the receiver's dedupe key)
    correlation bin 16 or nil; a reply carries its command's id here
    causation  bin 16 or nil; the message whose turn produced this one
    from       str, sender address, or "" for a client
    to         str, receiver address ("" only for a reply to a client)
    name       str, 1..SHOAL_NAME_MAX printable ASCII bytes
    payload    map, the fields (any msgpack inside, depth <= 16; a
               reply's <= 32, as it holds data one level down)
    attempt    uint, 0 on the first send, +1 on each re-send
    created    uint, ms since the epoch of the first send

    Decoding validates everything and never asserts on input: a frame
    that is too big, truncated, of another version, of wrong types, with
    a bad address or trailing bytes is a negative SHOAL_E... code; a
    request from outside the node also with a payload string that is not
    UTF-8 (envelope_decode_request).

    A reply's payload is a map {"ok": bool, "code": str, "reason": str,
    "data": map}; code and reason are "" when ok.

    Pure functions: safe on any thread.
*/
#ifndef ENVELOPE_H_INCLUDED
#define ENVELOPE_H_INCLUDED

#include "shoal_base.h"
#include <czmq.h>

#define ENVELOPE_VERSION 1
#define ENVELOPE_MAX_SIZE (1024 * 1024) //  bytes of one encoded envelope
#define ENVELOPE_ID_SIZE 16
#define ENVELOPE_MAX_DEPTH 32                //  nesting of maps and arrays in a reply's payload
#define ENVELOPE_DATA_DEPTH SHOAL_DATA_DEPTH //  in any other payload
#define ENVELOPE_CODE_MAX 63                 //  bytes of a rejection code
#define ENVELOPE_REASON_MAX 255              //  bytes of a rejection reason

typedef enum {
    ENVELOPE_COMMAND = 1, //  to an actor, may be rejected
    ENVELOPE_REPLY = 2,   //  answer to a command, correlation = its id
    ENVELOPE_TIMER = 3,   //  a durable timer firing, from = to = the actor
    ENVELOPE_QUERY = 4,   //  read-only: name "get" or "events"
    ENVELOPE_STALLED = 5, //  inside a worker only, never encoded: a command
                          //  of the receiver's is unanswered (SHOAL_STALLED)
} envelope_kind_t;

typedef struct {
    uint8_t kind;                          //  envelope_kind_t
    uint8_t id[ENVELOPE_ID_SIZE];          //  message id
    uint8_t correlation[ENVELOPE_ID_SIZE]; //  all zero = none
    uint8_t causation[ENVELOPE_ID_SIZE];   //  all zero = none
    char from[SHOAL_ADDRESS_MAX + 1];      //  "" = a client
    char to[SHOAL_ADDRESS_MAX + 1];        //  receiver address
    char name[SHOAL_NAME_MAX + 1];         //  command, reply or timer name
    const uint8_t *payload;                //  msgpack map, borrowed
    size_t payload_size;                   //  bytes at payload
    uint32_t attempt;                      //  re-send count
    int64_t created;                       //  ms since epoch, first send
} envelope_t;

//  Encodes env into a new buffer that the caller frees with free(). An
//  empty payload (NULL, 0) is encoded as an empty map. Returns 0, or
//  SHOAL_EINVAL if env is not valid (the same checks as decode), or
//  SHOAL_ETOOBIG past ENVELOPE_MAX_SIZE, or SHOAL_ENOMEM.
int envelope_encode (const envelope_t *env, uint8_t **data, size_t *size);

//  Decodes and validates one frame into env. env->payload then points
//  into data, which must outlive env. Returns 0 or a negative code;
//  on failure env's contents are unspecified.
int envelope_decode (envelope_t *env, const uint8_t *data, size_t size);
//  The same, and on failure writes into detail (detail_size bytes, may be
//  NULL) what is wrong for a person: the field, what was expected and what
//  came ("field 'to': expected a string, got an integer", "payload:
//  nesting deeper than 16"). detail is "" on success.
int envelope_decode_detail (envelope_t *env, const uint8_t *data, size_t size, char *detail,
                            size_t detail_size);
//  The same, for a request from outside the node (a client's, or one a
//  peer forwarded for a client): also every str of the payload, a key or
//  a value at any depth, must be UTF-8 (shoal.h), checked in the walk that
//  locates the payload (one more read of the strings' bytes, nothing
//  allocated). Returns SHOAL_EINVAL for one that is not, with env whole
//  (the frame is valid otherwise) and detail naming the field ("payload:
//  field 'owner': its value is not UTF-8 (byte 0xff at offset 1)"). Also
//  SHOAL_EINVAL, env whole, for a str key given twice in one map at any
//  depth, which a handler's lookup would read once ("payload: field
//  'amount' is given twice"): a second walk, allocating only for a map of
//  more than 16 keys (SHOAL_ENOMEM if that fails). And SHOAL_EINVAL, env
//  whole, for an id of 16 zero bytes, which its reply's correlation would
//  write as nil ("field 'id': 16 zero bytes, which read as nil: ...").
int envelope_decode_request (envelope_t *env, const uint8_t *data, size_t size, char *detail,
                             size_t detail_size);

//  True if data begins as an envelope does (an array, version
//  ENVELOPE_VERSION, a kind, a 16-byte id), with that id into id: a
//  request that does not decode past its id may still be answered under
//  it, so that a client with several requests out matches the refusal.
bool envelope_peek_id (const uint8_t *data, size_t size, uint8_t id[ENVELOPE_ID_SIZE]);

//  True if data, an envelope this process encoded or decoded before,
//  is addressed to address (its `to` field): read from the frame's first
//  fields, not its payload, and nothing is allocated (a few header bytes
//  and one memcmp). False for a frame it cannot read so.
bool envelope_is_to (const uint8_t *data, size_t size, const char *address);
//  The `to` field of data, an envelope this process encoded or decoded
//  before, read as envelope_is_to reads it: *to points into data, *len
//  bytes, no NUL. False for a frame it cannot read so.
bool envelope_to (const uint8_t *data, size_t size, const uint8_t **to, size_t *len);

//  True if code is one the runtime answers with itself (docs/PROTOCOL.md,
//  "Rejection codes"): bad_frame, expired, busy, unavailable, ... Its
//  senders read each so (a transfer stays stalled on expired, waiting for
//  an operator), so an operator's rejection (`shoal resolve --reject`)
//  must not borrow one.
bool envelope_code_reserved (const char *code);

//  True if a refusal with code settles its command: false for one the node
//  does not store, so that another attempt under the same id may yet run
//  it (busy, unavailable, a failed turn's handler_error or conflict, and
//  key_revoked, which refuses this attempt only: docs/PROTOCOL.md, "Error
//  codes"). A sender re-sends a command so refused, under its id.
bool envelope_code_settles (const char *code);

//  Validates that data holds exactly one well-formed msgpack object, no
//  deeper than ENVELOPE_MAX_DEPTH, whose containers' counts fit in the
//  bytes present. Allocates nothing. Returns 0 or SHOAL_EFORMAT.
int envelope_check_msgpack (const uint8_t *data, size_t size);

//  Fills id with 16 random bytes. Thread-safe; can't fail.
void envelope_new_id (uint8_t id[ENVELOPE_ID_SIZE]);
//  A new id that is a secret: the kernel's randomness only (getrandom,
//  else /dev/urandom), never envelope_new_id's weak fallback, whose next
//  ids could be worked out from one seen. Returns 0 or SHOAL_EIO.
int envelope_new_secret_id (uint8_t id[ENVELOPE_ID_SIZE]);

//  Builds a reply payload. data may be NULL (an empty map). code and
//  reason may be NULL when ok. A code is a name (1 to ENVELOPE_CODE_MAX
//  printable ASCII bytes, no space: shoal_name_check), else SHOAL_EINVAL.
//  The reason is written as UTF-8 whatever it holds (utf8_scrub): a
//  character cut at its end is dropped, a byte that is not UTF-8 becomes
//  '?'; one longer than ENVELOPE_REASON_MAX bytes is cut to it (it was
//  refused, SHOAL_EINVAL, and a caller that built it from a long cause,
//  a path, sent no reply at all). The result is the caller's to free().
int envelope_reply_encode (bool ok, const char *code, const char *reason, const uint8_t *data,
                           size_t data_size, uint8_t **payload, size_t *payload_size);

//  Parses a reply payload. code and reason must hold ENVELOPE_CODE_MAX+1
//  and ENVELOPE_REASON_MAX+1 bytes; *data points into payload.
//  Returns 0 or SHOAL_EFORMAT.
int envelope_reply_decode (const uint8_t *payload, size_t payload_size, bool *ok, char *code,
                           char *reason, const uint8_t **data, size_t *data_size);

//  True if payload is a refusal (a reply's payload, as envelope_reply_encode
//  makes it), with its code and reason; an acceptance is told by its first
//  bytes, without a decode (most replies are).
bool envelope_reply_refusal (const uint8_t *payload, size_t payload_size,
                             char code[ENVELOPE_CODE_MAX + 1],
                             char reason[ENVELOPE_REASON_MAX + 1]);
//  True if payload is a refusal whose code is code.
bool envelope_reply_refused (const uint8_t *payload, size_t payload_size, const char *code);

//  A czmq hash table keyed by message ids (ENVELOPE_ID_SIZE bytes, kept
//  inside each item: the table neither copies nor frees its keys), whose
//  items are freed with destructor (may be NULL). Returns NULL out of
//  memory. The ids are random, so their first bytes are the hash.
zhashx_t *envelope_id_table_new (zhashx_destructor_fn *destructor);

#endif
