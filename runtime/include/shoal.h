/*  shoal.h - the public API of shoal, the one header an actor module includes.

    An actor type is a plain C struct of callbacks (shoal_type_t) registered
    with shoal_register, either by the node itself (the bank) or by a module
    loaded from a shared library whose entry point is shoal_module_init. A
    module writes SHOAL_MODULE once, which records the ABI it was built for;
    a node refuses a module of another ABI (see docs/MODULES.md).

    Conventions:
    1. Functions that can fail return 0 or a negative SHOAL_E... code;
       shoal_strerror names the code. Functions returning pointers use NULL.
    2. Strings are UTF-8 and NUL-terminated unless a length goes with them.
    3. A const pointer that shoal returns is borrowed: it stays valid until
       the callback it was given to returns.
    4. A handler never blocks and never does I/O. Everything it does to the
       world (events, replies, commands, timers) is staged in its context and
       released only after the turn is committed to the journal.
    5. All callbacks of one actor run on one worker thread, one message at a
       time. Callbacks of different actors may run at the same time on
       different threads: a module keeps no mutable global state.
*/
#ifndef SHOAL_H_INCLUDED
#define SHOAL_H_INCLUDED

#include "shoal_base.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _shoal_ctx_t shoal_ctx_t;           //  one handler turn
typedef struct _shoal_msg_t shoal_msg_t;           //  the message being handled
typedef struct _shoal_data_t shoal_data_t;         //  read-only map of fields
typedef struct _shoal_rec_t shoal_rec_t;           //  map of fields being built
typedef struct _shoal_registry_t shoal_registry_t; //  the node's actor types

typedef enum {
    SHOAL_COMMAND = 1, //  a request, from a client or an actor
    SHOAL_REPLY = 2,   //  the answer to a command this actor sent
    SHOAL_TIMER = 3,   //  a timer this actor set with shoal_ctx_after
    SHOAL_STALLED = 4, //  a command this actor sent has had no answer for the
                       //  node's --stall-ms; it is still being re-sent. The
                       //  name is the command's, data {to, attempts, since}
} shoal_kind_t;

#define SHOAL_STATE_MAX (1u << 20) //  bytes of an actor's state_size at most

//  An actor type. The struct must outlive the node (make it static const).
typedef struct {
    const char *name;  //  type name: the part of an address before '/'
    size_t state_size; //  bytes of state, zeroed before init or replay; at
                       //  most SHOAL_STATE_MAX
    //  Optional: called on activation, after zeroing, before replay.
    void (*init) (void *state, const char *id);
    //  Optional: frees what init or apply allocated inside state.
    void (*fini) (void *state);
    //  Evolves state by one recorded event. Must accept every event that
    //  handle ever emitted; a non-zero return marks the actor as corrupt.
    int (*apply) (void *state, const char *event, const shoal_data_t *data);
    //  Decides what to do with one message: emit events, reply, send,
    //  set or cancel timers, through ctx. Returns 0 to accept, or the
    //  result of shoal_ctx_reject (nothing of the turn is kept but the
    //  rejection). It sees the state read-only: only apply changes it (a
    //  write through a cast is undone when handle returns).
    int (*handle) (shoal_ctx_t *ctx, const void *state, const shoal_msg_t *msg);
    //  Writes the state as fields: what `shoal get` shows (at most 1 MiB
    //  less 8 KiB of them: a get of a bigger view is refused).
    void (*view) (const void *state, shoal_rec_t *out);
    //  Optional, with restore: writes the state as a snapshot, stored with
    //  snapshot_version every --snapshot-every events. Both NULL = no
    //  snapshots, the actor is always rebuilt from all its events. A
    //  snapshot of more than 1 MiB less 8 KiB of fields is not written
    //  (logged and counted): the actor is rebuilt from all its events.
    void (*snapshot) (const void *state, shoal_rec_t *out);
    //  Optional, with snapshot: loads a snapshot that snapshot wrote when
    //  the type's snapshot_version was version. Returns 0, or non-zero for
    //  a snapshot it cannot read: then the node logs it, ignores the
    //  snapshot and rebuilds the actor from all its events (as it does for
    //  a damaged snapshot record, or one of a version above
    //  snapshot_version, which restore never sees).
    int (*restore) (void *state, int version, const shoal_data_t *snapshot);
    //  The version of what snapshot writes (0 or more); raise it when its
    //  shape changes. Snapshots written before there were versions are 0.
    int snapshot_version;
} shoal_type_t;

//  Registers a type: shoal_register (registry, &type). The struct may grow
//  at its end in a later ABI, so its size goes with it; the node copies
//  the struct (the name and callbacks it points to stay borrowed) and
//  accepts the sizes it knows, an older one with the new fields zeroed.
//  Returns 0, SHOAL_EEXIST if the name is taken, SHOAL_EINVAL if the type
//  is incomplete (no handle, apply or view; snapshot without restore or
//  the reverse; a negative snapshot_version) or its name is not a valid type, SHOAL_EVERSION for a
//  size the node does not know, SHOAL_ETOOBIG past the types or state a
//  node holds.
SHOAL_EXPORT int shoal_register_sized (shoal_registry_t *registry, const shoal_type_t *type,
                                       size_t size);
#define shoal_register(registry, type)                                                             \
    shoal_register_sized ((registry), (type), sizeof (shoal_type_t))

//  The version of the binary interface between a node and its modules:
//  this header's types, struct layouts and functions. It changes when a
//  module built against an older shoal.h could misbehave in a newer node.
//  2: handle's state is const; snapshot, snapshot_version, and restore
//  with the version; shoal_msg_id, shoal_msg_created, shoal_ctx_cancel,
//  shoal_log, shoal_registry_option.
#define SHOAL_ABI_VERSION 2

//  Written once, at file scope, in one source file of a module:
//      SHOAL_MODULE;
//  It exports shoal_module_abi, the ABI the module was built for. A node
//  refuses to load a module without it or with another value.
#define SHOAL_MODULE SHOAL_EXPORT const int shoal_module_abi = SHOAL_ABI_VERSION
SHOAL_EXPORT extern const int shoal_module_abi;
#define SHOAL_MODULE_ABI "shoal_module_abi"

//  The value of the module's option key, or NULL when it is not set. Call
//  it from shoal_module_init: the options are the node's `--module-opt
//  NAME.key=value` and the keys under the module's entry in the config
//  file's node/modules section (the command line wins), NAME being the
//  module's name there, or its file's base name without ".so". The
//  string is borrowed for the node's life. NULL for a registry that is not
//  loading a module (types the node registers itself).
SHOAL_EXPORT const char *shoal_registry_option (shoal_registry_t *registry, const char *key);

//  The entry point a module shared library exports, called once at start.
typedef int (shoal_module_init_fn) (shoal_registry_t *registry);
//  Declared here so that a module's definition is exported even when it is
//  built with hidden visibility.
SHOAL_EXPORT int shoal_module_init (shoal_registry_t *registry);
#define SHOAL_MODULE_ENTRY "shoal_module_init"

//  --------------------------------------------------------------------------
//  The message being handled. All results are borrowed for the turn.

SHOAL_EXPORT shoal_kind_t shoal_msg_kind (const shoal_msg_t *msg);
//  Command name; for a reply or a stall notice, the name of the command it
//  is about; for a timer, the name given to shoal_ctx_after.
SHOAL_EXPORT const char *shoal_msg_name (const shoal_msg_t *msg);
//  The message's id: its 16 bytes as 32 lowercase hex digits, as `shoal
//  send` shows it (a command's idempotency key; for a timer, the id it got
//  when it was set; for a reply, the reply's own, not its command's).
SHOAL_EXPORT const char *shoal_msg_id (const shoal_msg_t *msg);
//  When the message was made, in ms since the epoch by its sender's clock
//  (a client's for a client's command); for a timer, the time it was due.
SHOAL_EXPORT int64_t shoal_msg_created (const shoal_msg_t *msg);
//  The sender's address, or "" when the sender is a client. A projection's
//  reaction (shoal_view_send) comes from "projection/NAME": no client and
//  no actor can pass for one (SHOAL_PROJECTION_SENDER is the runtime's).
SHOAL_EXPORT const char *shoal_msg_from (const shoal_msg_t *msg);
//  The payload fields (for an accepted reply, the replier's fields).
SHOAL_EXPORT const shoal_data_t *shoal_msg_data (const shoal_msg_t *msg);
//  For a reply: whether the command was accepted. False for other kinds.
SHOAL_EXPORT bool shoal_msg_accepted (const shoal_msg_t *msg);
//  For a rejected reply: its code and reason. "" otherwise.
SHOAL_EXPORT const char *shoal_msg_code (const shoal_msg_t *msg);
SHOAL_EXPORT const char *shoal_msg_reason (const shoal_msg_t *msg);

//  --------------------------------------------------------------------------
//  Fields. A data is a map of fields whose keys are strings; a value is one
//  of shoal_field_t's types (msgpack's own), and maps and arrays nest: the
//  top map and the maps and arrays inside it are at most SHOAL_DATA_DEPTH
//  deep (the top map counts as 1). Deeper data is refused when it is read
//  (the payload is invalid) and when it is written (the turn fails).
//  SHOAL_DATA_DEPTH is 16 (shoal_base.h).

typedef struct _shoal_array_t shoal_array_t; //  read-only array of values

typedef enum {
    SHOAL_FIELD_ABSENT = 0, //  no such key, or no such index
    SHOAL_FIELD_NIL,        //  msgpack nil (JSON null)
    SHOAL_FIELD_BOOL,
    SHOAL_FIELD_INT,    //  an integer that fits int64_t
    SHOAL_FIELD_DOUBLE, //  float 32 or 64
    SHOAL_FIELD_STR,
    SHOAL_FIELD_BYTES, //  msgpack bin
    SHOAL_FIELD_ARRAY,
    SHOAL_FIELD_MAP,
    SHOAL_FIELD_OTHER, //  anything else: an ext, an integer beyond int64_t
} shoal_field_t;

//  --------------------------------------------------------------------------
//  Reading fields. Each returns 0, SHOAL_ENOTFOUND when the key is absent,
//  or SHOAL_ETYPE when the value has another type; SHOAL_EINVAL, writing
//  nothing, when a pointer to write into is NULL. data may be NULL (then
//  every key is absent). Views and bytes they return are borrowed for the
//  callback, like data itself.

SHOAL_EXPORT int shoal_data_int (const shoal_data_t *data, const char *key, int64_t *value);
SHOAL_EXPORT int shoal_data_bool (const shoal_data_t *data, const char *key, bool *value);
//  Copies a string field into buf with a terminating NUL. Also returns
//  SHOAL_ETOOBIG if it does not fit in size bytes, SHOAL_EFORMAT if it
//  holds a NUL byte.
SHOAL_EXPORT int shoal_data_str (const shoal_data_t *data, const char *key, char *buf, size_t size);
//  A float field, or an integer one converted (12 reads as 12.0).
SHOAL_EXPORT int shoal_data_double (const shoal_data_t *data, const char *key, double *value);
//  A byte string (msgpack bin): *ptr points at its *size bytes.
SHOAL_EXPORT int shoal_data_bytes (const shoal_data_t *data, const char *key, const uint8_t **ptr,
                                   size_t *size);
//  A nested map, as a data view to read with these same functions.
SHOAL_EXPORT int shoal_data_map (const shoal_data_t *data, const char *key,
                                 const shoal_data_t **map);
//  A nested array, to read with shoal_array_*.
SHOAL_EXPORT int shoal_data_array (const shoal_data_t *data, const char *key,
                                   const shoal_array_t **array);
//  Returns true if the key is present, whatever its type.
SHOAL_EXPORT bool shoal_data_has (const shoal_data_t *data, const char *key);
//  The type of the key's value, SHOAL_FIELD_ABSENT if there is none.
SHOAL_EXPORT shoal_field_t shoal_data_type (const shoal_data_t *data, const char *key);
//  The number of fields of data (0 for NULL).
SHOAL_EXPORT size_t shoal_data_count (const shoal_data_t *data);

//  Reading an array's values by index, from 0: as shoal_data_*, with
//  SHOAL_ENOTFOUND for an index past the end. array may be NULL (empty).
SHOAL_EXPORT size_t shoal_array_size (const shoal_array_t *array);
SHOAL_EXPORT shoal_field_t shoal_array_type (const shoal_array_t *array, size_t index);
SHOAL_EXPORT int shoal_array_int (const shoal_array_t *array, size_t index, int64_t *value);
SHOAL_EXPORT int shoal_array_bool (const shoal_array_t *array, size_t index, bool *value);
SHOAL_EXPORT int shoal_array_str (const shoal_array_t *array, size_t index, char *buf, size_t size);
SHOAL_EXPORT int shoal_array_double (const shoal_array_t *array, size_t index, double *value);
SHOAL_EXPORT int shoal_array_bytes (const shoal_array_t *array, size_t index, const uint8_t **ptr,
                                    size_t *size);
SHOAL_EXPORT int shoal_array_map (const shoal_array_t *array, size_t index,
                                  const shoal_data_t **map);
SHOAL_EXPORT int shoal_array_array (const shoal_array_t *array, size_t index,
                                    const shoal_array_t **inner);

//  --------------------------------------------------------------------------
//  Building fields. A rec may be NULL (out of memory), then these do
//  nothing and the turn fails with SHOAL_ENOMEM when it ends. Keys are
//  written in call order, each once per map: a key written again into the
//  same map is misuse, not a replacement.
//
//  Inside a map (the rec itself, or one opened with shoal_rec_map_begin)
//  every value needs a key; inside an array (shoal_rec_array_begin) key
//  is NULL and each call appends one value. Each begin needs its end, in
//  order. Misuse (a key inside an array, none inside a map, a key twice in
//  one map, a key that is not UTF-8, an end without its begin, a container
//  still open when the callback returns) fails the turn with SHOAL_EINVAL, nesting deeper than
//  SHOAL_DATA_DEPTH with SHOAL_ETOOBIG, and nothing of the turn is kept;
//  the reason says which.

SHOAL_EXPORT void shoal_rec_int (shoal_rec_t *rec, const char *key, int64_t value);
SHOAL_EXPORT void shoal_rec_bool (shoal_rec_t *rec, const char *key, bool value);
SHOAL_EXPORT void shoal_rec_str (shoal_rec_t *rec, const char *key, const char *value);
SHOAL_EXPORT void shoal_rec_double (shoal_rec_t *rec, const char *key, double value);
//  A byte string (msgpack bin) of size bytes, copied.
SHOAL_EXPORT void shoal_rec_bytes (shoal_rec_t *rec, const char *key, const void *ptr, size_t size);
SHOAL_EXPORT void shoal_rec_nil (shoal_rec_t *rec, const char *key);
//  Opens a nested map as the value of key; its fields follow, then
//  shoal_rec_map_end.
SHOAL_EXPORT void shoal_rec_map_begin (shoal_rec_t *rec, const char *key);
SHOAL_EXPORT void shoal_rec_map_end (shoal_rec_t *rec);
//  Opens a nested array as the value of key; its values follow (key NULL),
//  then shoal_rec_array_end.
SHOAL_EXPORT void shoal_rec_array_begin (shoal_rec_t *rec, const char *key);
SHOAL_EXPORT void shoal_rec_array_end (shoal_rec_t *rec);
//  Writes a copy of data (a data, or a view of shoal_data_map; NULL is an
//  empty map) as a nested map, the value of key: to keep fields as they
//  came, an event recording a command's payload for instance.
SHOAL_EXPORT void shoal_rec_data (shoal_rec_t *rec, const char *key, const shoal_data_t *data);

//  --------------------------------------------------------------------------
//  The handler's context: everything an actor does to the world.

//  This actor's address ("account/alice") and id ("alice").
SHOAL_EXPORT const char *shoal_ctx_address (const shoal_ctx_t *ctx);
SHOAL_EXPORT const char *shoal_ctx_id (const shoal_ctx_t *ctx);
//  The number of events in this actor's stream before this turn.
SHOAL_EXPORT int64_t shoal_ctx_version (const shoal_ctx_t *ctx);
//  Wall-clock milliseconds since the epoch, fixed for the turn.
SHOAL_EXPORT int64_t shoal_ctx_now (const shoal_ctx_t *ctx);

//  Records an event; its fields are written into the returned rec. The
//  events are applied to the state, in order, after handle returns 0.
//  At most 32 a turn: the 33rd returns NULL and the turn fails.
SHOAL_EXPORT shoal_rec_t *shoal_ctx_emit (shoal_ctx_t *ctx, const char *event);
//  The fields of the accepted reply (none if never called).
SHOAL_EXPORT shoal_rec_t *shoal_ctx_reply (shoal_ctx_t *ctx);
//  Rejects the command: nothing emitted, sent or set in this turn is kept.
//  code is a short word, 1 to 63 printable ASCII bytes without space (NULL
//  or "" is "rejected"), not busy or unavailable (the runtime's "not run,
//  ask again", which the stored rejection would answer for ever) nor
//  expired (the runtime's "cannot tell whether it ran") nor another of
//  the runtime's own codes (handler_error, conflict, poisoned, ...:
//  docs/PROTOCOL.md) but id_reused and invalid_payload; any of them
//  fails the turn as handler_error. The
//  reason is cut at 255 bytes between characters, and a byte in it that is
//  not UTF-8 becomes '?'. Returns SHOAL_EREJECTED, for
//  `return shoal_ctx_reject (...)`.
SHOAL_EXPORT int shoal_ctx_reject (shoal_ctx_t *ctx, const char *code, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));
//  Sends a command to another actor, durably: it is stored with this
//  turn, re-sent until it is answered, and its reply comes back to this
//  actor as a SHOAL_REPLY message. At most 16 a turn: past them (or to a
//  bad address) it returns NULL and the turn fails.
SHOAL_EXPORT shoal_rec_t *shoal_ctx_send (shoal_ctx_t *ctx, const char *to, const char *command);
//  Sets a durable timer: after ms milliseconds this actor receives a
//  SHOAL_TIMER message with this name and the rec's fields, once, even
//  across restarts (late rather than never). ms is 0 to 100 years, and a
//  turn sets at most 16; beyond, it returns NULL and the turn fails.
SHOAL_EXPORT shoal_rec_t *shoal_ctx_after (shoal_ctx_t *ctx, int64_t ms, const char *name);
//  Cancels this actor's pending timers named name, set in earlier turns
//  (not those this turn sets): with the turn's commit they are deleted
//  from the journal and will not fire, even across restarts. A timer that
//  has already fired (its message queued or being handled) still comes.
//  Returns 0, or SHOAL_EINVAL for a bad name, SHOAL_ETOOBIG past 16
//  cancels in a turn: then the turn fails, as with other misuse of ctx.
SHOAL_EXPORT int shoal_ctx_cancel (shoal_ctx_t *ctx, const char *name);
//  Lets this actor leave memory as soon as this turn is committed, rather
//  than after --idle-ms without a message: for an actor that expects no
//  more (a saga at its end), so that finished work does not fill the
//  node's tables. A later message activates it again from its journal, as
//  after any passivation. Nothing changes if the turn is rejected or
//  fails; a later turn of the same batch does not take it back.
SHOAL_EXPORT void shoal_ctx_passivate (shoal_ctx_t *ctx);

//  Writes one line to the node's log (stderr) at level, with printf's
//  format, prefixed by this actor's address: "... WARN account/alice:
//  text". Written at once, not staged: the line stays even if the turn is
//  rejected or fails. Lines below the node's --log-level cost a compare.
//  ctx may be NULL (from shoal_module_init): then no address. A level
//  that is none of the four is written at WARN, saying so.
SHOAL_EXPORT void shoal_log (const shoal_ctx_t *ctx, shoal_log_level_t level, const char *format,
                             ...) __attribute__ ((format (printf, 3, 4)));

//  --------------------------------------------------------------------------
//  Projections: read models fed by the node's events, in the background.
//
//  Every event a node commits gets a position in the node's log. A
//  projection folds the events it wants, in log order, into rows of its
//  own (a row is a map of fields under a string key), from its checkpoint
//  on; its rows and its checkpoint are written in one batch, so a crash
//  never applies an event twice nor skips one. The command path never
//  waits for a projection: one that falls behind lags, and `shoal
//  projections` shows by how much.
//
//  A projection has a name and a version: registering a version the node
//  has not built yet builds it from position 0 in the background while
//  the version served so far keeps answering queries; once the new one
//  has caught up with the log it is served (or waits for `shoal
//  projections switch NAME@VERSION` when manual_switch is set). A version
//  already built is reused when the node restarts. An apply that fails
//  stops its projection at that event, with the error and the position
//  shown, until it is fixed or the event skipped.
//
//  A projection may also react: shoal_view_send sends a command, durably,
//  written in the same batch as the checkpoint and re-sent until it is
//  answered, with an id derived from the event's position, so that each
//  event leads to its commands exactly once, across crashes. Reactions run
//  for the served version, and for the first build of a projection while
//  nothing of its name is served (it reacts to every event from the
//  first); a rebuild or a new version replays events without sending
//  again what the build it replaces sent: it sends only for the events
//  that build had not reached (under the same ids, which their targets
//  run once) and re-sends what it sent unanswered (docs/MODULES.md, 9).
//
//  apply runs on the node's projection thread, one event at a time, never
//  at the same time as another apply of the same projection.

typedef struct _shoal_view_t shoal_view_t;   //  a projection's rows, during apply
typedef struct _shoal_event_t shoal_event_t; //  one event of the node's log

typedef struct {
    const char *name; //  [a-z][a-z0-9_-]*, at most SHOAL_TYPE_MAX bytes
    int version;      //  1 or more; raise it when what apply writes changes
    //  The events it wants, separated by spaces: "type:Event" for one event
    //  of one actor type, "type" for all of that type's, "*" (or NULL) for
    //  every event. "account:Debited account:Credited transfer". At most
    //  32 words: a longer list is refused (SHOAL_EINVAL).
    const char *events;
    //  Folds one event into the rows, through view. Returns 0, or the
    //  result of shoal_view_fail: then nothing of this event is kept and the
    //  projection stops here until resumed or the event is skipped.
    int (*apply) (shoal_view_t *view, const shoal_event_t *event);
    //  Once caught up, wait for `shoal projections switch` rather than be
    //  served at once.
    bool manual_switch;
    //  Optional, for a projection that sums or counts: memory of its own
    //  for one batch of applies (shoal_view_batch_state), zeroed at each
    //  batch's start, batch_state_size bytes (at most 1 MiB); and
    //  batch_end, run once after a batch's last apply and before its
    //  commit, which writes what that memory holds with shoal_view_get,
    //  put and delete (not send). So a row every event changes is read
    //  and written once a batch, not once an event. Batches have no fixed
    //  size: the rows must come out the same however the events fall into
    //  batches (the kit runs each event as a batch of its own). A batch
    //  whose apply fails is run again without that event, its memory
    //  zeroed first. batch_end returns 0, or the result of
    //  shoal_view_fail: then nothing of the batch is kept, and its events
    //  run again a batch each, so that the projection stops at the one
    //  batch_end fails on (or, crashing the node, is set aside there, as
    //  an apply).
    size_t batch_state_size;
    int (*batch_end) (shoal_view_t *view, void *batch_state);
} shoal_projection_t;
#define SHOAL_BATCH_STATE_MAX (1u << 20)

//  Registers a projection, like shoal_register. Returns 0, SHOAL_EEXIST if
//  name@version is taken, SHOAL_EINVAL for a bad name, version, events
//  list (or one of more than 32 words), no apply, batch_state_size
//  without batch_end or the reverse, or more than SHOAL_BATCH_STATE_MAX of
//  it, SHOAL_EVERSION for a size the node does not know, SHOAL_ETOOBIG
//  past the projections a node holds (64).
SHOAL_EXPORT int shoal_register_projection_sized (shoal_registry_t *registry,
                                                  const shoal_projection_t *projection,
                                                  size_t size);
#define shoal_register_projection(registry, projection)                                            \
    shoal_register_projection_sized ((registry), (projection), sizeof (shoal_projection_t))

//  The event being applied. Results are borrowed for the call.
SHOAL_EXPORT const char *shoal_event_address (const shoal_event_t *event); //  "account/alice"
SHOAL_EXPORT const char *shoal_event_type (const shoal_event_t *event);    //  "account"
SHOAL_EXPORT const char *shoal_event_id (const shoal_event_t *event);      //  "alice"
SHOAL_EXPORT const char *shoal_event_name (const shoal_event_t *event);    //  "Debited"
SHOAL_EXPORT const shoal_data_t *shoal_event_data (const shoal_event_t *event);
SHOAL_EXPORT int64_t shoal_event_seq (const shoal_event_t *event);       //  in its actor's stream
SHOAL_EXPORT uint64_t shoal_event_position (const shoal_event_t *event); //  in the node's log
SHOAL_EXPORT int64_t shoal_event_created (const shoal_event_t *event);   //  ms since the epoch

//  Row keys are 1 to SHOAL_VIEW_KEY_MAX bytes of UTF-8 without NUL; keys
//  sort bytewise, which `shoal query --prefix` follows.
#define SHOAL_VIEW_KEY_MAX 512

//  The row under key, as this projection's rows stand now (with what this
//  apply and the ones before it in the same batch wrote). Returns 0 with
//  *row borrowed until apply returns, SHOAL_ENOTFOUND, SHOAL_EINVAL.
SHOAL_EXPORT int shoal_view_get (shoal_view_t *view, const char *key, const shoal_data_t **row);
//  Replaces the row under key with the fields written into the returned
//  rec (an empty row if none). NULL for a bad key: then apply fails. The
//  rec is good until the next shoal_view_ call (a get, put, put_new,
//  delete or send), which closes it: a field written into it after that
//  fails the apply. So write a row's fields before reading another.
SHOAL_EXPORT shoal_rec_t *shoal_view_put (shoal_view_t *view, const char *key);
//  As shoal_view_put, for a key that holds no row: one made of what
//  happens once, as a new transfer's id. The node then knows, without
//  reading its store, that a delete of the row in the same batch has
//  nothing to delete there, and writes neither. A key that holds a row is
//  misuse: the apply fails (SHOAL_EEXIST) where the node can tell (the
//  row was written lately; the testkit always can); where it cannot, a
//  row stored before and deleted in the same batch may stay.
SHOAL_EXPORT shoal_rec_t *shoal_view_put_new (shoal_view_t *view, const char *key);
//  Deletes the row under key (nothing if there is none).
SHOAL_EXPORT int shoal_view_delete (shoal_view_t *view, const char *key);
//  Sends a command to an actor, as shoal_ctx_send does: durably, re-sent
//  until answered, its id derived from the event's position and the
//  send's rank in this apply. The answer is logged when rejected, not
//  given back. At most 16 sends per event. Its receiver sees it come
//  from "projection/NAME" (shoal_msg_from), NAME the projection's. Its
//  rec is good until the next shoal_view_ call, as a put's.
SHOAL_EXPORT shoal_rec_t *shoal_view_send (shoal_view_t *view, const char *to, const char *command);
//  The batch's memory of a projection with batch_state_size (see
//  shoal_projection_t), from apply or batch_end: zeroed at each batch's
//  start. NULL for a projection without.
SHOAL_EXPORT void *shoal_view_batch_state (shoal_view_t *view);
//  Fails this apply (or batch_end) with a reason (printf format), shown
//  by `shoal projections`, whatever it returns after: as shoal_ctx_reject
//  does a turn. Returns SHOAL_EREJECTED, for `return shoal_view_fail (...)`.
SHOAL_EXPORT int shoal_view_fail (shoal_view_t *view, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

#ifdef __cplusplus
}
#endif

#endif
