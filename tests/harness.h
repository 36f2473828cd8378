/*  harness.h - helpers shared by the cmocka tests in tests/: a seeded
    random source and exact-size buffers for the codec tests, rm -rf for
    the tests that work in a temporary directory, field readers for encoded
    recs, the turn fixture that drives an actor type through ctx_run
    with no node and no network, and a reader of what a worker sends.

    Conventions:
    1. Every helper fails the running test (cmocka's fail_msg or an
       assert_*) on anything it did not expect; none returns an error.
    2. A returned uint8_t * is the caller's, freed with free().
    3. Everything runs on the test's one thread. The random source and
       harness_rec_str's buffers are process-global.
*/
#ifndef HARNESS_H_INCLUDED
#define HARNESS_H_INCLUDED

#include "ctx.h"
#include "data.h"
#include <czmq.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  --------------------------------------------------------------------------
//  Random bytes and exact-size buffers

//  Restarts the random sequence (SplitMix64) at seed: the same seed gives
//  the same sequence on every platform.
void harness_rand_seed (uint64_t seed);
//  The next number of the sequence. Can't fail.
uint64_t harness_rand (void);

//  Returns a heap copy of exactly size bytes (a 1-byte buffer when size is
//  0), so that ASan reports any read past the end.
uint8_t *harness_copy (const void *bytes, size_t size);
//  Takes what sbuf holds as an exact-size heap copy, sets *size, and
//  destroys sbuf.
uint8_t *harness_take (msgpack_sbuffer *sbuf, size_t *size);
//  Fails unless msgpack-c parses exactly one object spanning all size bytes.
void harness_assert_one_msgpack (const uint8_t *bytes, size_t size);

//  --------------------------------------------------------------------------
//  Files

//  Makes a fresh directory /tmp/shoal-NAME-XXXXXX, mode 0700 (mkdtemp),
//  and writes its path into dir (size bytes): short, as an ipc:// path
//  under it is at most 107 bytes, and the same wherever the tests run
//  (TMPDIR is not read: a test may name the path in what it expects).
//  Fails the test if it cannot.
void harness_tempdir (char *dir, size_t size, const char *name);

//  Removes path and everything below it, as rm -rf does. Errors are
//  ignored: a teardown calls it on whatever a test left behind.
void harness_rm_rf (const char *path);

//  Prints the file at path on the test's error output, each line after
//  prefix (a node's stderr, to explain a failure). Nothing if it is
//  missing.
void harness_print_file (const char *path, const char *prefix);

//  Puts value (value_len bytes) under key in the LevelDB store in dir,
//  which no process has open, or deletes key when value is NULL: a
//  record damaged or lost under a stopped node, as a test makes it.
//  Synced. Fails the test on an error.
void harness_raw_write (const char *dir, const void *key, size_t key_len, const void *value,
                        size_t value_len);

//  The environment a preloaded library needs in a child about to start
//  (tests/powerloss.c, tests/clockshift.c): LD_PRELOAD, and ASan's options
//  with verify_asan_link_order=0 (the node is ASan-built in CI, and the
//  library comes before ASan's runtime in the list, which ASan refuses
//  unless told) and extra (NULL, or more options: "quarantine_size_mb=8").
//  harness_preload_end puts the environment back as it was.
typedef struct {
    char asan[1024]; //  ASAN_OPTIONS as it was
    bool had_asan;   //  whether it was set
} harness_env_t;
void harness_preload_begin (const char *library, const char *extra, harness_env_t *saved);
void harness_preload_end (const harness_env_t *saved);

//  Appends to stream, at version, a Deposited whose amount is the string
//  "x": an event that decodes but that the account type refuses (its
//  actor is never loaded). Fails the test on an error.
typedef struct _journal_t journal_t;
void harness_append_refused_deposit (journal_t *journal, const char *stream, int64_t version);

//  --------------------------------------------------------------------------
//  Fields of an encoded rec

//  Parses what rec holds into data; the caller closes data. rec must stay
//  unchanged while data is open.
void harness_rec_parse (shoal_rec_t *rec, shoal_data_t *data);
//  The int, bool or string field key of rec; fails the test if it is
//  missing or of another type. A string is returned in one of four
//  rotating buffers: valid for the next three harness_rec_str calls.
int64_t harness_rec_int (shoal_rec_t *rec, const char *key);
bool harness_rec_bool (shoal_rec_t *rec, const char *key);
const char *harness_rec_str (shoal_rec_t *rec, const char *key);
//  Whether rec has a field key, and how many fields it has.
bool harness_rec_has (shoal_rec_t *rec, const char *key);
uint32_t harness_rec_count (shoal_rec_t *rec);

//  --------------------------------------------------------------------------
//  The turn fixture: one actor of one type, its state, and the events it
//  accepted, driven through msg_init, ctx_begin and ctx_run as a worker
//  would, minus the journal. Fields are read by the tests.

//  An event an accepted turn emitted, copied out of the ctx.
typedef struct {
    char name[SHOAL_NAME_MAX + 1];
    uint8_t *bytes; //  the event's data, owned
    size_t size;
} harness_event_t;

typedef struct {
    const shoal_type_t *type; //  the actor type under test, borrowed
    const char *address;      //  the actor's address, borrowed
    int64_t now;              //  the clock of every turn
    shoal_ctx_t ctx;          //  what the last turn staged
    shoal_rec_t payload;      //  fields of the next message; reset by each run
    shoal_rec_t view;         //  written by harness_turn_view
    uint8_t *state;           //  type->state_size bytes
    uint8_t *before;          //  the state before the last turn
    int64_t version;          //  events accepted so far
    harness_event_t *log;     //  every event accepted, in order
    size_t log_count;         //  entries in log
    size_t log_max;           //  entries log has room for
} harness_turn_t;

//  Returns a fixture for the actor at address (which must outlive it) of
//  type, with a zero state and clock now. Destroy with harness_turn_destroy.
harness_turn_t *harness_turn_new (const shoal_type_t *type, const char *address, int64_t now);
//  Frees the fixture and sets *self_p to NULL. Safe to call twice.
void harness_turn_destroy (harness_turn_t **self_p);
//  A cmocka teardown: destroys the fixture a setup left in *state.
int harness_turn_teardown (void **state);

//  Runs one turn: a message of kind from from (borrowed for the call)
//  named name with payload bytes. Keeps the state before it in before;
//  logs the events of an accepted turn and counts them in version.
//  Returns ctx_run's result (CTX_ACCEPTED, CTX_REJECTED or CTX_CORRUPT).
int harness_turn_run_bytes (harness_turn_t *self, uint8_t kind, const char *from, const char *name,
                            const uint8_t *payload, size_t size);
//  Runs a message of kind whose fields were written into self->payload,
//  then empties payload. The message comes from "", or for a timer from
//  the actor itself.
int harness_turn_run (harness_turn_t *self, uint8_t kind, const char *name);

//  Fail the test, naming what and the caller's line, unless the last turn
//  (which returned rc) was:
//  - accepted, not marked rejected, with exactly these staged counts;
//  - accepted with nothing staged, no reply field and the state unchanged;
//  - rejected with code and a reason, with no event, send, timer or reply
//    field kept and the state unchanged.
void harness_turn_accepted (harness_turn_t *self, int rc, const char *what, size_t events,
                            size_t sends, size_t timers, int line);
void harness_turn_nothing (harness_turn_t *self, int rc, const char *what, int line);
void harness_turn_rejected (harness_turn_t *self, int rc, const char *what, const char *code,
                            int line);

//  --------------------------------------------------------------------------
//  What a worker sends, as a test playing the front or another worker
//  reads it

//  The next [route, frame] that arrived on pull (a PULL socket a worker
//  pushes to) within timeout_ms, or NULL. A bundle (bundle.h: what one
//  commit sent, in one message) is split into its messages, given one by
//  one in their order. The zmsg_t is the caller's.
zmsg_t *harness_recv (zsock_t *pull, int timeout_ms);
//  Forgets what harness_recv split and did not give yet for pull: call it
//  before destroying pull (NULL: nothing to do).
void harness_recv_close (zsock_t *pull);

//  Writes the view of state (self->state or another of the type) into
//  self->view and returns it: borrowed until the next call.
shoal_rec_t *harness_turn_view (harness_turn_t *self, const void *state);
//  Returns a heap copy of the encoded view of state and sets *size.
uint8_t *harness_turn_view_copy (harness_turn_t *self, const void *state, size_t *size);
//  Applies the logged events to a fresh state and fails unless it has the
//  same view and the same bytes as self->state.
void harness_turn_assert_replay (harness_turn_t *self);

#endif
