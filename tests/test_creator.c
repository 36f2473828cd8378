/*  test_creator.c - the inbox record of a command that creates a stream,
    kept in the stream's first event instead of under an 'i' key
    (persistence/keys.h, runtime/inbox.h).

    First the records: the event's two forms, the batch that stages and
    answers the record, the reads that find it. Then one worker with the
    test as its front (as test_worker.c) and as its second worker (it binds
    "<prefix>-w1", so what worker 0 sends to an actor of worker 1 comes to
    the test): a creating command retried after its commit, after the
    actor's passivation, after the journal's reopen, in its own batch,
    after a restore from a snapshot, after a failed commit, with another
    payload, and cancelled by its sender's $cancel. Each retry gets the
    first reply and runs nothing: the counter answers its count, which a
    second run would raise.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "data.h"
#include "envelope.h"
#include "harness.h"
#include "journal.h"
#include "keys.h"
#include "registry.h"
#include "shard.h"
#include "worker.h"

#include <czmq.h>
#include <leveldb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAIT_MS 30000    //  a condition's deadline (ASan on a busy machine)
#define ROUTE "client-1" //  the client's identity, as the front would pass it
#define SHARDS 16

static const uint8_t s_empty_map[] = {0x80};

//  --------------------------------------------------------------------------
//  The records

//  The usage: a first event with its creator's inbox record, decoded by
//  every event reader; the plain form still reads; damaged extras do not.
static void test_event_record_forms (void **state)
{
    (void) state;
    uint8_t id[JOURNAL_ID_SIZE];
    memset (id, 7, sizeof id);
    const uint8_t reply[] = {0x92, 0xc3, 0x80};
    journal_request_t request = {42, "Open"};
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    assert_int_equal (keys_event_encode_creator (&buffer, "Opened", 6, s_empty_map,
                                                 sizeof s_empty_map, 1000, id, 2000, reply,
                                                 sizeof reply, &request),
                      0);
    const uint8_t *bytes = (const uint8_t *) buffer.data;
    size_t size = buffer.size;
    const uint8_t *name, *data;
    size_t name_len, data_len;
    int64_t created;
    assert_int_equal (keys_event_decode (bytes, size, &name, &name_len, &data, &data_len, &created),
                      0);
    assert_int_equal (name_len, 6);
    assert_memory_equal (name, "Opened", 6);
    assert_int_equal (created, 1000);
    keys_creator_t creator;
    assert_int_equal (keys_event_decode_creator (bytes, size, &name, &name_len, &data, &data_len,
                                                 &created, &creator),
                      0);
    assert_non_null (creator.id);
    assert_memory_equal (creator.id, id, JOURNAL_ID_SIZE);
    const uint8_t *stored;
    size_t stored_len;
    journal_request_t found;
    assert_int_equal (keys_inbox_decode (creator.inbox, creator.inbox_len, &created, &stored,
                                         &stored_len, &found),
                      0);
    assert_int_equal (created, 2000);
    assert_int_equal (stored_len, sizeof reply);
    assert_memory_equal (stored, reply, sizeof reply);
    assert_int_equal (found.digest, 42);
    assert_string_equal (found.name, "Open");

    //  Damaged: cut anywhere, the record does not decode.
    for (size_t cut = 0; cut < size; cut++)
        assert_int_not_equal (keys_event_decode_creator (bytes, cut, &name, &name_len, &data,
                                                         &data_len, &created, &creator),
                              0);
    //  The held inbox record must decode: a bad one makes the event bad.
    uint8_t *bad = harness_copy (bytes, size);
    assert_int_equal (bad[size - 5], 0xa4); //  the held record's name, "Open"
    bad[size - 5] = 0xc0;                   //  nil: no name
    assert_int_equal (keys_event_decode (bad, size, &name, &name_len, &data, &data_len, &created),
                      SHOAL_EFORMAT);
    free (bad);

    //  The plain form: no creator.
    assert_int_equal (keys_event_encode (&buffer, "Added", 5, s_empty_map, sizeof s_empty_map, 3),
                      0);
    creator.id = id;
    assert_int_equal (keys_event_decode_creator ((const uint8_t *) buffer.data, buffer.size, &name,
                                                 &name_len, &data, &data_len, &created, &creator),
                      0);
    assert_null (creator.id);
    msgpack_sbuffer_destroy (&buffer);
}

static int s_count_events (void *arg, int64_t seq, const char *name, const uint8_t *data,
                           size_t size, int64_t created)
{
    (void) seq, (void) name, (void) data, (void) size, (void) created;
    (*(int *) arg)++;
    return 0;
}

static int s_count_logged (void *arg, const journal_logged_t *event)
{
    (void) event;
    (*(int *) arg)++;
    return 0;
}

//  A batch stages the creator's record in the first event, answers it
//  before the commit, writes no 'i' record; the reads find it after.
static void test_batch_and_reads (void **state)
{
    (void) state;
    char dir[64];
    snprintf (dir, sizeof dir, "/tmp/shoal-test-creator-XXXXXX");
    assert_non_null (mkdtemp (dir));
    int code;
    char *error = NULL;
    journal_t *journal = journal_open (dir, &(journal_options_t){.sync = false}, &code, &error);
    assert_non_null (journal);
    journal_batch_t *batch = journal_batch_new (journal);
    assert_non_null (batch);
    uint8_t id[JOURNAL_ID_SIZE], other[JOURNAL_ID_SIZE];
    memset (id, 1, sizeof id);
    memset (other, 2, sizeof other);
    const uint8_t reply[] = {0x92, 0xc3, 0x80};
    journal_request_t request = {99, "Add"};
    journal_creator_t creator = {id, reply, sizeof reply, 5000, &request};
    journal_event_t events[2] = {{"Added", s_empty_map, 1}, {"Added", s_empty_map, 1}};
    int64_t version = 0;
    assert_int_equal (
        journal_batch_append_creator (batch, "counter/a", events, 2, 10, &version, &creator), 0);
    assert_int_equal (version, 2);
    //  Only a new stream: another creating append is a conflict.
    assert_int_equal (
        journal_batch_append_creator (batch, "counter/a", events, 1, 10, &version, &creator),
        SHOAL_ECONFLICT);
    uint8_t *stored;
    size_t size;
    journal_request_t found;
    assert_int_equal (journal_batch_inbox_find (batch, "counter/a", id, &stored, &size, &found), 0);
    assert_memory_equal (stored, reply, sizeof reply);
    assert_int_equal (found.digest, 99);
    free (stored);
    assert_int_equal (journal_creator_find (journal, "counter/a", id, &stored, &size, NULL),
                      SHOAL_ENOTFOUND);                //  not committed yet
    assert_int_equal (journal_batch_count (batch), 2); //  two events, no 'i' record
    assert_int_equal (journal_batch_commit (batch), 0);

    assert_int_equal (journal_inbox_find (journal, "counter/a", id, &stored, &size, NULL),
                      SHOAL_ENOTFOUND);
    assert_int_equal (journal_creator_find (journal, "counter/a", id, &stored, &size, &found), 0);
    assert_int_equal (size, sizeof reply);
    assert_memory_equal (stored, reply, sizeof reply);
    assert_int_equal (found.digest, 99);
    assert_string_equal (found.name, "Add");
    free (stored);
    assert_int_equal (journal_creator_find (journal, "counter/a", other, &stored, &size, NULL),
                      SHOAL_ENOTFOUND);
    assert_int_equal (journal_creator_find (journal, "counter/none", id, &stored, &size, NULL),
                      SHOAL_ENOTFOUND);
    uint8_t read_id[JOURNAL_ID_SIZE];
    assert_int_equal (journal_creator_id (journal, "counter/a", read_id), 0);
    assert_memory_equal (read_id, id, JOURNAL_ID_SIZE);

    //  Every reader takes the event: the stream, the event log.
    int count = 0;
    bool has = false;
    memset (read_id, 0, sizeof read_id);
    assert_int_equal (
        journal_read_creator (journal, "counter/a", 1, 0, s_count_events, &count, read_id, &has),
        0);
    assert_int_equal (count, 2);
    assert_true (has);
    assert_memory_equal (read_id, id, JOURNAL_ID_SIZE);
    has = false;
    assert_int_equal (
        journal_read_creator (journal, "counter/a", 2, 0, s_count_events, &count, read_id, &has),
        0);
    assert_false (has);
    count = 0;
    assert_int_equal (journal_log_read (journal, 0, 0, s_count_logged, &count), 0);
    assert_int_equal (count, 2);
    journal_records_t records = {0};
    assert_int_equal (journal_check_records (journal, &records, NULL, NULL), 0);
    assert_int_equal (records.events, 2);
    assert_int_equal (records.bad_events, 0);
    assert_int_equal (records.inbox, 0);

    //  A stream made by plain appends has no creator.
    assert_int_equal (journal_batch_append (batch, "counter/b", 0, events, 1, 10, NULL), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    assert_int_equal (journal_creator_id (journal, "counter/b", read_id), SHOAL_ENOTFOUND);
    journal_batch_destroy (&batch);
    journal_destroy (&journal);
    harness_rm_rf (dir);
}

//  --------------------------------------------------------------------------
//  An actor type: a counter that "Add" bumps by one, one event per
//  command, and answers the count; "tally/..." is the same with snapshots.

static int s_counter_apply (void *state, const char *event, const shoal_data_t *data)
{
    (void) data;
    if (strcmp (event, "Added") != 0)
        return -1;
    (*(int64_t *) state)++;
    return 0;
}

static int s_counter_handle (shoal_ctx_t *ctx, const void *state, const shoal_msg_t *msg)
{
    if (strcmp (shoal_msg_name (msg), "Add") != 0)
        return shoal_ctx_reject (ctx, "unknown_command", "counters know Add");
    shoal_ctx_emit (ctx, "Added");
    shoal_rec_int (shoal_ctx_reply (ctx), "count", *(const int64_t *) state + 1);
    return 0;
}

static void s_counter_view (const void *state, shoal_rec_t *out)
{
    shoal_rec_int (out, "count", *(const int64_t *) state);
}

static const shoal_type_t s_counter = {
    .name = "counter",
    .state_size = sizeof (int64_t),
    .apply = s_counter_apply,
    .handle = s_counter_handle,
    .view = s_counter_view,
};

static void s_counter_snapshot (const void *state, shoal_rec_t *out)
{
    shoal_rec_int (out, "count", *(const int64_t *) state);
}

static int s_counter_restore (void *state, int version, const shoal_data_t *snapshot)
{
    (void) version;
    return shoal_data_int (snapshot, "count", (int64_t *) state);
}

static const shoal_type_t s_tally = {
    .name = "tally",
    .state_size = sizeof (int64_t),
    .apply = s_counter_apply,
    .handle = s_counter_handle,
    .view = s_counter_view,
    .snapshot = s_counter_snapshot,
    .restore = s_counter_restore,
};

//  "gate/...": a counter whose handler waits for the test to open the
//  gate, so that what the test sends meanwhile waits for the same drain.
static atomic_bool s_gate_open;

static int s_gate_handle (shoal_ctx_t *ctx, const void *state, const shoal_msg_t *msg)
{
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (!atomic_load (&s_gate_open) && zclock_mono () < deadline)
        zclock_sleep (1);
    return s_counter_handle (ctx, state, msg);
}

static const shoal_type_t s_gate = {
    .name = "gate",
    .state_size = sizeof (int64_t),
    .apply = s_counter_apply,
    .handle = s_gate_handle,
    .view = s_counter_view,
};

//  --------------------------------------------------------------------------
//  Fixture: a journal, worker 0, the front's two sockets, worker 1's pull.

typedef struct {
    char dir[64];               //  the test's temporary directory
    char prefix[96];            //  inproc endpoint prefix, new for each worker
    int workers_made;           //  worker 0s started so far
    journal_t *journal;         //  the worker's store
    shoal_registry_t *registry; //  the counter types
    worker_stats_t stats[2];    //  the workers' counters (worker 1's unused)
    worker_config_t config;     //  what the worker shares
    zsock_t *front;             //  PULL: the worker's replies to clients
    zsock_t *push;              //  PUSH: client frames to worker 0
    zsock_t *w1;                //  PULL: frames worker 0 sends to worker 1
    zactor_t *worker;           //  NULL once stopped
} fixture_t;

//  Starts worker 0 with the test's sockets around it, on endpoints of its
//  own: an inproc name is free again only some time after its socket is
//  closed, so a restarted worker could not bind the same one at once.
static void s_start (fixture_t *fx)
{
    snprintf (fx->prefix, sizeof fx->prefix, "inproc://test-creator-%d-%p-%d", (int) getpid (),
              (void *) fx, fx->workers_made++);
    harness_recv_close (fx->front);
    harness_recv_close (fx->w1);
    zsock_destroy (&fx->front);
    zsock_destroy (&fx->w1);
    zsock_destroy (&fx->push);
    fx->front = zsock_new_pull (NULL);
    assert_non_null (fx->front);
    assert_int_equal (zsock_bind (fx->front, "%s-front", fx->prefix), 0);
    fx->w1 = zsock_new_pull (NULL);
    assert_non_null (fx->w1);
    assert_int_equal (zsock_bind (fx->w1, "%s-w1", fx->prefix), 0);
    fx->worker = worker_new (&fx->config, 0);
    assert_non_null (fx->worker);
    fx->push = zsock_new_push (NULL);
    assert_non_null (fx->push);
    assert_int_equal (zsock_connect (fx->push, "%s-w0", fx->prefix), 0);
}

static int s_setup (void **state)
{
    fixture_t *fx = calloc (1, sizeof (fixture_t));
    assert_non_null (fx);
    snprintf (fx->dir, sizeof fx->dir, "/tmp/shoal-test-creator-XXXXXX");
    assert_non_null (mkdtemp (fx->dir));
    int code;
    char *error = NULL;
    fx->journal = journal_open (fx->dir, &(journal_options_t){.sync = false}, &code, &error);
    assert_non_null (fx->journal);
    fx->registry = registry_new ();
    assert_non_null (fx->registry);
    assert_int_equal (shoal_register (fx->registry, &s_counter), 0);
    assert_int_equal (shoal_register (fx->registry, &s_tally), 0);
    assert_int_equal (shoal_register (fx->registry, &s_gate), 0);
    fx->config = (worker_config_t){
        .journal = fx->journal,
        .registry = fx->registry,
        .prefix = fx->prefix,
        .workers = 2,
        .shards = SHARDS,
        .idle_ms = 60000,
        .snapshot_every = 100,
        .retention_ms = 7LL * 24 * 3600 * 1000,
        .stall_ms = 30000,
        .batch_max = 4,
        .stats = fx->stats,
    };
    s_start (fx);
    *state = fx;
    return 0;
}

static int s_teardown (void **state)
{
    fixture_t *fx = *state;
    zactor_destroy (&fx->worker);
    zsock_destroy (&fx->push);
    harness_recv_close (fx->w1);
    harness_recv_close (fx->front);
    zsock_destroy (&fx->w1);
    zsock_destroy (&fx->front);
    registry_destroy (&fx->registry);
    journal_destroy (&fx->journal);
    harness_rm_rf (fx->dir);
    free (fx);
    return 0;
}

//  Stops the worker (it commits what it holds), reopens the journal if
//  reopen, and starts a new worker 0 on it: nothing in memory survives.
static void s_restart (fixture_t *fx, bool reopen)
{
    zactor_destroy (&fx->worker);
    if (reopen) {
        journal_destroy (&fx->journal);
        int code;
        char *error = NULL;
        fx->journal = journal_open (fx->dir, &(journal_options_t){.sync = false}, &code, &error);
        assert_non_null (fx->journal);
        fx->config.journal = fx->journal;
    }
    s_start (fx);
}

//  The nth address "type/x..." (from 0) whose shard is worker's (of 2).
static void s_address_of (const char *type, int worker, int nth, char *out, size_t size)
{
    for (int i = 0;; i++) {
        snprintf (out, size, "%s/x%d", type, i);
        if ((int) (shoal_shard (out, SHARDS) % 2) == worker && nth-- == 0)
            return;
    }
}

//  --------------------------------------------------------------------------
//  The front's side

static void s_id (int index, uint8_t id[ENVELOPE_ID_SIZE])
{
    memset (id, 0, ENVELOPE_ID_SIZE);
    memcpy (id, "creator", 7);
    id[ENVELOPE_ID_SIZE - 1] = (uint8_t) index;
}

//  Sends name with id index to to, from a client (from NULL) or from an
//  actor (then with no route); payload (may be NULL) a msgpack map;
//  created its first send's time.
static void s_send_at (zsock_t *push, const char *to, const char *name, int index,
                       const uint8_t *payload, size_t payload_size, const char *from,
                       int64_t created)
{
    envelope_t command = {.kind = ENVELOPE_COMMAND, .created = created};
    s_id (index, command.id);
    snprintf (command.to, sizeof command.to, "%s", to);
    snprintf (command.name, sizeof command.name, "%s", name);
    if (from)
        snprintf (command.from, sizeof command.from, "%s", from);
    command.payload = payload;
    command.payload_size = payload_size;
    uint8_t *frame;
    size_t size;
    assert_int_equal (envelope_encode (&command, &frame, &size), 0);
    const char *route = from ? "" : ROUTE;
    void *socket = zsock_resolve (push);
    assert_int_equal (zmq_send (socket, route, strlen (route), ZMQ_SNDMORE), (int) strlen (route));
    assert_int_equal (zmq_send (socket, frame, size, 0), (int) size);
    free (frame);
}

//  The same, sent for the first time now.
static void s_send (zsock_t *push, const char *to, const char *name, int index,
                    const uint8_t *payload, size_t payload_size, const char *from)
{
    s_send_at (push, to, name, index, payload, payload_size, from, zclock_time ());
}

typedef struct {
    int index;                        //  the command it answers
    bool ok;                          //  accepted
    char code[ENVELOPE_CODE_MAX + 1]; //  else why
    int64_t count;                    //  the counter's count in an accepted reply
} reply_t;

//  Waits for one reply on pull (the front's, or worker 1's). False if none
//  came within WAIT_MS.
static bool s_recv (zsock_t *pull, reply_t *out)
{
    zmsg_t *msg = harness_recv (pull, WAIT_MS);
    if (!msg)
        return false;
    assert_int_equal (zmsg_size (msg), 2);
    zframe_t *frame = zmsg_last (msg);
    const uint8_t *bytes = zframe_data (frame);
    size_t size = zframe_size (frame);
    envelope_t reply;
    assert_int_equal (envelope_decode (&reply, bytes, size), 0);
    assert_int_equal (reply.kind, ENVELOPE_REPLY);
    out->index = reply.correlation[ENVELOPE_ID_SIZE - 1];
    char reason[ENVELOPE_REASON_MAX + 1];
    const uint8_t *data;
    size_t data_size;
    assert_int_equal (envelope_reply_decode (reply.payload, reply.payload_size, &out->ok, out->code,
                                             reason, &data, &data_size),
                      0);
    out->count = -1;
    if (out->ok) {
        shoal_data_t fields;
        assert_int_equal (data_init (&fields, data, data_size), 0);
        assert_int_equal (shoal_data_int (&fields, "count", &out->count), 0);
        data_close (&fields);
    } else
        print_message ("command %d refused: %s: %s\n", out->index, out->code, reason);
    zmsg_destroy (&msg);
    return true;
}

//  Sends Add index to to as a client and waits for its reply.
static reply_t s_call (fixture_t *fx, const char *to, int index, const uint8_t *payload,
                       size_t payload_size)
{
    s_send (fx->push, to, "Add", index, payload, payload_size, NULL);
    reply_t reply;
    assert_true (s_recv (fx->front, &reply));
    assert_int_equal (reply.index, index);
    return reply;
}

static int64_t s_version (fixture_t *fx, const char *stream)
{
    int64_t version;
    assert_int_equal (journal_version (fx->journal, stream, &version), 0);
    return version;
}

//  The 'i' records of stream in the store, read with LevelDB itself (the
//  journal closed first). *with_id counts those of command index.
static size_t s_inbox_keys (fixture_t *fx, const char *stream, int index, size_t *with_id)
{
    zactor_destroy (&fx->worker);
    journal_destroy (&fx->journal);
    leveldb_options_t *options = leveldb_options_create ();
    char *err = NULL;
    leveldb_t *db = leveldb_open (options, fx->dir, &err);
    assert_null (err);
    leveldb_readoptions_t *read = leveldb_readoptions_create ();
    leveldb_iterator_t *it = leveldb_create_iterator (db, read);
    uint8_t id[ENVELOPE_ID_SIZE];
    s_id (index, id);
    size_t len = strlen (stream), count = 0;
    *with_id = 0;
    for (leveldb_iter_seek_to_first (it); leveldb_iter_valid (it); leveldb_iter_next (it)) {
        size_t key_len;
        const char *key = leveldb_iter_key (it, &key_len);
        if (key_len != 4 + len + 1 + ENVELOPE_ID_SIZE || key[0] != 'S' || key[3] != 'i' ||
            memcmp (key + 4, stream, len) != 0)
            continue;
        count++;
        if (memcmp (key + 4 + len + 1, id, ENVELOPE_ID_SIZE) == 0)
            (*with_id)++;
    }
    leveldb_iter_destroy (it);
    leveldb_readoptions_destroy (read);
    leveldb_close (db);
    leveldb_options_destroy (options);
    s_restart (fx, true);
    return count;
}

//  --------------------------------------------------------------------------
//  Tests

//  (1) The creating command's retry, after its commit, after its actor's
//  passivation and reload, after the journal's reopen: the first reply,
//  nothing run again, and no 'i' record for it. A later command to the
//  stream keeps its 'i' record as before.
static void test_creating_command_retried (void **state)
{
    fixture_t *fx = *state;
    char stream[SHOAL_ADDRESS_MAX + 1], other[SHOAL_ADDRESS_MAX + 1];
    s_address_of ("counter", 0, 0, stream, sizeof stream);
    s_address_of ("counter", 0, 1, other, sizeof other);
    fx->config.max_actors = 1; //  a second actor passivates the first
    s_restart (fx, false);

    reply_t reply = s_call (fx, stream, 1, NULL, 0);
    assert_true (reply.ok);
    assert_int_equal (reply.count, 1);
    reply = s_call (fx, stream, 1, NULL, 0); //  after the commit, the actor active
    assert_true (reply.ok);
    assert_int_equal (reply.count, 1);
    assert_int_equal (atomic_load (&fx->stats[0].duplicates), 1);

    uint64_t passivations = atomic_load (&fx->stats[0].passivations);
    assert_true (s_call (fx, other, 2, NULL, 0).ok); //  passivates stream's actor
    assert_int_equal (atomic_load (&fx->stats[0].passivations), passivations + 1);
    reply = s_call (fx, stream, 1, NULL, 0); //  reloaded: the replay reads event 1
    assert_true (reply.ok);
    assert_int_equal (reply.count, 1);
    assert_int_equal (atomic_load (&fx->stats[0].duplicates), 2);

    s_restart (fx, true);
    reply = s_call (fx, stream, 1, NULL, 0);
    assert_true (reply.ok);
    assert_int_equal (reply.count, 1);
    assert_int_equal (s_version (fx, stream), 1);
    assert_int_equal (atomic_load (&fx->stats[0].duplicates), 3); //  the counters outlive workers

    //  A command to the existing stream: run, and recorded under its key.
    reply = s_call (fx, stream, 3, NULL, 0);
    assert_true (reply.ok);
    assert_int_equal (reply.count, 2);
    size_t with_id;
    assert_int_equal (s_inbox_keys (fx, stream, 1, &with_id), 1);
    assert_int_equal (with_id, 0);
    assert_int_equal (s_inbox_keys (fx, stream, 3, &with_id), 1);
    assert_int_equal (with_id, 1);
    reply = s_call (fx, stream, 1, NULL, 0);
    assert_true (reply.ok);
    assert_int_equal (reply.count, 1);
    assert_int_equal (s_version (fx, stream), 2);
}

//  (2) The creating command's id with another payload: refused id_reused,
//  before and after a reload, and nothing changes.
static void test_creating_id_reused (void **state)
{
    fixture_t *fx = *state;
    char stream[SHOAL_ADDRESS_MAX + 1];
    s_address_of ("counter", 0, 0, stream, sizeof stream);
    assert_true (s_call (fx, stream, 1, NULL, 0).ok);
    const uint8_t payload[] = {0x81, 0xa1, 'n', 0x01};
    reply_t reply = s_call (fx, stream, 1, payload, sizeof payload);
    assert_false (reply.ok);
    assert_string_equal (reply.code, "id_reused");
    s_restart (fx, true);
    reply = s_call (fx, stream, 1, payload, sizeof payload);
    assert_false (reply.ok);
    assert_string_equal (reply.code, "id_reused");
    reply = s_call (fx, stream, 1, NULL, 0);
    assert_true (reply.ok);
    assert_int_equal (reply.count, 1);
    assert_int_equal (s_version (fx, stream), 1);
}

//  (3) The retry in the very batch of the creating turn: the worker is
//  held in a gate's turn while both frames come, then drains them with it.
static void test_retry_in_the_creating_batch (void **state)
{
    fixture_t *fx = *state;
    char stream[SHOAL_ADDRESS_MAX + 1], gate[SHOAL_ADDRESS_MAX + 1];
    s_address_of ("counter", 0, 0, stream, sizeof stream);
    s_address_of ("gate", 0, 0, gate, sizeof gate);
    atomic_store (&s_gate_open, false);
    uint64_t commits = atomic_load (&fx->stats[0].commits);
    s_send (fx->push, gate, "Add", 0, NULL, 0, NULL);
    int64_t deadline = zclock_mono () + WAIT_MS; //  the worker is in the gate's turn
    while (atomic_load (&fx->stats[0].activations) == 0 && zclock_mono () < deadline)
        zclock_sleep (1);
    assert_int_equal (atomic_load (&fx->stats[0].activations), 1);
    s_send (fx->push, stream, "Add", 1, NULL, 0, NULL);
    s_send (fx->push, stream, "Add", 1, NULL, 0, NULL);
    atomic_store (&s_gate_open, true);
    for (int i = 0; i < 3; i++) {
        reply_t reply;
        assert_true (s_recv (fx->front, &reply));
        assert_true (reply.ok);
        assert_int_equal (reply.count, 1);
    }
    assert_int_equal (atomic_load (&fx->stats[0].commits), commits + 1); //  one batch
    assert_int_equal (atomic_load (&fx->stats[0].duplicates), 1);
    assert_int_equal (s_version (fx, stream), 1);
}

//  (4) An actor restored from a snapshot taken after its first event
//  reads event 1 once to know its creator.
static void test_creator_after_a_snapshot (void **state)
{
    fixture_t *fx = *state;
    char stream[SHOAL_ADDRESS_MAX + 1];
    s_address_of ("tally", 0, 0, stream, sizeof stream);
    fx->config.snapshot_every = 1;
    s_restart (fx, false);
    assert_int_equal (s_call (fx, stream, 1, NULL, 0).count, 1);
    assert_int_equal (s_call (fx, stream, 2, NULL, 0).count, 2); //  a snapshot at 2
    s_restart (fx, true);
    reply_t reply = s_call (fx, stream, 1, NULL, 0);
    assert_true (reply.ok);
    assert_int_equal (reply.count, 1);
    assert_int_equal (s_version (fx, stream), 2);
    int64_t seq;
    uint8_t *snapshot;
    size_t size;
    assert_int_equal (journal_snapshot_get (fx->journal, stream, &seq, &snapshot, &size), 0);
    assert_int_equal (seq, 2);
    free (snapshot);
}

//  (5) An actor's $cancel of a command that created its target's stream:
//  it ran, so the answer is its stored reply, not the cancellation.
static void test_cancel_of_a_creating_command (void **state)
{
    fixture_t *fx = *state;
    char stream[SHOAL_ADDRESS_MAX + 1], sender[SHOAL_ADDRESS_MAX + 1];
    s_address_of ("counter", 0, 0, stream, sizeof stream);
    s_address_of ("saga", 1, 0, sender, sizeof sender);
    assert_true (s_call (fx, stream, 1, NULL, 0).ok);
    char payload[128];
    size_t size = 0;
    {
        uint8_t id[ENVELOPE_ID_SIZE];
        s_id (1, id);
        shoal_rec_t rec;
        rec_init (&rec);
        char hex[2 * ENVELOPE_ID_SIZE + 1];
        for (int i = 0; i < ENVELOPE_ID_SIZE; i++)
            snprintf (hex + 2 * i, 3, "%02x", id[i]);
        shoal_rec_str (&rec, "id", hex);
        shoal_rec_str (&rec, "code", "cancelled");
        shoal_rec_str (&rec, "reason", "a test");
        const uint8_t *bytes = rec_finish (&rec, &size);
        assert_true (size <= sizeof payload);
        memcpy (payload, bytes, size);
        rec_close (&rec);
    }
    s_send (fx->push, stream, "$cancel", 9, (const uint8_t *) payload, size, sender);
    reply_t reply;
    assert_true (s_recv (fx->w1, &reply));
    assert_int_equal (reply.index, 9);
    assert_true (reply.ok);
    assert_int_equal (reply.count, 1);
    //  After a reload too.
    s_restart (fx, true);
    s_send (fx->push, stream, "$cancel", 9, (const uint8_t *) payload, size, sender);
    assert_true (s_recv (fx->w1, &reply));
    assert_true (reply.ok);
    assert_int_equal (reply.count, 1);
    assert_int_equal (s_version (fx, stream), 1);
}

//  (6) The creating turn's commit fails: nothing of it stays (the batch's
//  staged record, the actor's creator), and the retry runs it once.
static void test_failed_creating_commit (void **state)
{
    fixture_t *fx = *state;
    char stream[SHOAL_ADDRESS_MAX + 1];
    s_address_of ("counter", 0, 0, stream, sizeof stream);
    journal_fail_commits_after (fx->journal, 1);
    reply_t reply = s_call (fx, stream, 1, NULL, 0);
    assert_false (reply.ok);
    assert_string_equal (reply.code, "unavailable");
    journal_fail_commits_after (fx->journal, 0);
    reply = s_call (fx, stream, 1, NULL, 0);
    assert_true (reply.ok);
    assert_int_equal (reply.count, 1);
    reply = s_call (fx, stream, 1, NULL, 0);
    assert_true (reply.ok);
    assert_int_equal (reply.count, 1);
    assert_int_equal (s_version (fx, stream), 1);
    assert_int_equal (atomic_load (&fx->stats[0].accepted), 1);
    assert_int_equal (atomic_load (&fx->stats[0].duplicates), 1);
}

//  A creating command's record is never pruned: its retry after the
//  retention gets the first reply, where another command is expired.
static void test_creator_outlives_the_retention (void **state)
{
    fixture_t *fx = *state;
    char stream[SHOAL_ADDRESS_MAX + 1];
    s_address_of ("counter", 0, 0, stream, sizeof stream);
    fx->config.retention_ms = 1000;
    s_restart (fx, false);
    int64_t created = zclock_time ();
    s_send_at (fx->push, stream, "Add", 1, NULL, 0, NULL, created);
    reply_t reply;
    assert_true (s_recv (fx->front, &reply));
    assert_true (reply.ok);
    int64_t deadline = zclock_mono () + WAIT_MS; //  the command's age passes the retention
    while (zclock_time () <= created + fx->config.retention_ms && zclock_mono () < deadline)
        zclock_sleep (10);
    s_restart (fx, true);
    s_send_at (fx->push, stream, "Add", 1, NULL, 0, NULL, created);
    assert_true (s_recv (fx->front, &reply));
    assert_true (reply.ok);
    assert_int_equal (reply.count, 1);
    s_send_at (fx->push, stream, "Add", 2, NULL, 0, NULL, created);
    assert_true (s_recv (fx->front, &reply));
    assert_false (reply.ok);
    assert_string_equal (reply.code, "expired");
    assert_int_equal (s_version (fx, stream), 1);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_event_record_forms),
        cmocka_unit_test (test_batch_and_reads),
        cmocka_unit_test_setup_teardown (test_creating_command_retried, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_creating_id_reused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_retry_in_the_creating_batch, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_creator_after_a_snapshot, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_cancel_of_a_creating_command, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_failed_creating_commit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_creator_outlives_the_retention, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
