/*  test_node_frames.c - what a real node does with bad input: bad frames, malformed
    envelopes, a worker's queue bounded in bytes. The fixture: node_test_util.h.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "client.h"
#include "node_child.h"
#include "client_window.h"
#include "harness.h"
#include "json.h"
#include "journal.h"
#include "node.h"

#include <czmq.h>
#include <msgpack.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "node_test_util.h"

//  --------------------------------------------------------------------------
//  8. Bad input from the network.

//  Receives one reply on a raw DEALER and checks it is a rejection with
//  code. correlation NULL: it must have none (a frame error).
static void s_raw_expect (zsock_t *dealer, const char *code, const uint8_t *correlation)
{
    zmq_pollitem_t item = {zsock_resolve (dealer), 0, ZMQ_POLLIN, 0};
    assert_int_equal (zmq_poll (&item, 1, CALL_TIMEOUT_MS), 1);
    zframe_t *frame = zframe_recv (dealer);
    assert_non_null (frame);
    assert_false (zsock_rcvmore (dealer));
    envelope_t reply;
    assert_int_equal (envelope_decode (&reply, zframe_data (frame), zframe_size (frame)), 0);
    assert_int_equal (reply.kind, ENVELOPE_REPLY);
    static const uint8_t zero[ENVELOPE_ID_SIZE];
    assert_memory_equal (reply.correlation, correlation ? correlation : zero, ENVELOPE_ID_SIZE);
    bool ok;
    char got[ENVELOPE_CODE_MAX + 1], reason[ENVELOPE_REASON_MAX + 1];
    const uint8_t *data;
    size_t size;
    assert_int_equal (
        envelope_reply_decode (reply.payload, reply.payload_size, &ok, got, reason, &data, &size),
        0);
    assert_false (ok);
    assert_string_equal (got, code);
    assert_true (strlen (reason) > 0);
    zframe_destroy (&frame);
}

static void s_raw_send (zsock_t *dealer, const void *data, size_t size, bool more)
{
    zframe_t *frame = zframe_new (data, size);
    assert_int_equal (zframe_send (&frame, dealer, more ? ZFRAME_MORE : 0), 0);
}

//  Receives one reply on a raw DEALER into id (its correlation), ok and
//  code.
static void s_raw_reply (zsock_t *dealer, uint8_t id[ENVELOPE_ID_SIZE], bool *ok,
                         char code[ENVELOPE_CODE_MAX + 1])
{
    zmq_pollitem_t item = {zsock_resolve (dealer), 0, ZMQ_POLLIN, 0};
    assert_int_equal (zmq_poll (&item, 1, CALL_TIMEOUT_MS), 1);
    zframe_t *answer = zframe_recv (dealer);
    assert_non_null (answer);
    envelope_t reply;
    assert_int_equal (envelope_decode (&reply, zframe_data (answer), zframe_size (answer)), 0);
    memcpy (id, reply.correlation, ENVELOPE_ID_SIZE);
    char reason[ENVELOPE_REASON_MAX + 1];
    const uint8_t *data;
    size_t size;
    assert_int_equal (
        envelope_reply_decode (reply.payload, reply.payload_size, ok, code, reason, &data, &size),
        0);
    zframe_destroy (&answer);
}

static void test_bad_frames (void **state)
{
    fixture_t *fx = *state;
    node_start (fx, NULL);
    node_ok (fx, "account/b", "Open", "owner=B", NULL);
    node_ok (fx, "account/b", "Deposit", "amount=40", NULL);
    books_t b = node_books (fx, "account/b");
    int64_t messages = node_stat (fx, "messages");

    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    assert_non_null (dealer);
    zsock_set_linger (dealer, 0);
    assert_int_equal (zsock_connect (dealer, "%s", fx->node.endpoint), 0);

    //  A valid deposit of 1000, to cut up and wrap.
    char *fields[] = {"amount=1000"};
    uint8_t *payload, *valid;
    size_t payload_size, valid_size;
    char error[128];
    assert_int_equal (client_fields (1, fields, &payload, &payload_size, error, sizeof error), 0);
    envelope_t command;
    client_request (&command, ENVELOPE_COMMAND, NULL, "account/b", "Deposit", payload,
                    payload_size);
    assert_int_equal (envelope_encode (&command, &valid, &valid_size), 0);
    size_t sent = 0;

    s_raw_send (dealer, "hello, node", 11, false);
    s_raw_expect (dealer, "bad_frame", NULL);
    sent++;
    s_raw_send (dealer, "", 0, false);
    s_raw_expect (dealer, "bad_frame", NULL);
    sent++;
    //  Read as far as their id, they are answered under it (with a nil
    //  correlation before, which a client with several requests out took
    //  for another's answer).
    s_raw_send (dealer, valid, valid_size / 2, false); //  truncated
    s_raw_expect (dealer, "bad_frame", command.id);
    sent++;
    s_raw_send (dealer, valid, valid_size - 1, false); //  one byte short
    s_raw_expect (dealer, "bad_frame", command.id);
    sent++;
    uint8_t *longer = malloc (valid_size + 1); //  a trailing byte
    memcpy (longer, valid, valid_size);
    longer[valid_size] = 0xc0;
    s_raw_send (dealer, longer, valid_size + 1, false);
    s_raw_expect (dealer, "bad_frame", command.id);
    sent++;
    assert_int_equal (longer[1], ENVELOPE_VERSION); //  [0x9b, version, ...]
    longer[1] = ENVELOPE_VERSION + 1;
    s_raw_send (dealer, longer, valid_size, false);
    s_raw_expect (dealer, "bad_frame", NULL);
    sent++;
    free (longer);
    //  A 3-frame message (identity + 2 frames): neither frame is run.
    s_raw_send (dealer, valid, valid_size, true);
    s_raw_send (dealer, valid, valid_size, false);
    s_raw_expect (dealer, "bad_frame", NULL);
    sent++;
    //  More than 1 MiB.
    size_t huge_size = ENVELOPE_MAX_SIZE + 16;
    uint8_t *huge = malloc (huge_size);
    memset (huge, 0x90, huge_size);
    s_raw_send (dealer, huge, huge_size, false);
    s_raw_expect (dealer, "bad_frame", NULL);
    sent++;
    free (huge);
    //  Valid envelopes of kinds a client does not send.
    envelope_t reply;
    client_request (&reply, ENVELOPE_REPLY, NULL, "account/b", "Deposit", payload, payload_size);
    reply.to[0] = 0;
    memcpy (reply.correlation, command.id, ENVELOPE_ID_SIZE);
    uint8_t *frame;
    size_t frame_size;
    assert_int_equal (envelope_encode (&reply, &frame, &frame_size), 0);
    s_raw_send (dealer, frame, frame_size, false);
    s_raw_expect (dealer, "bad_kind", reply.id);
    sent++;
    free (frame);
    envelope_t timer;
    client_request (&timer, ENVELOPE_TIMER, NULL, "account/b", "ring", NULL, 0);
    snprintf (timer.from, sizeof timer.from, "account/b");
    assert_int_equal (envelope_encode (&timer, &frame, &frame_size), 0);
    s_raw_send (dealer, frame, frame_size, false);
    s_raw_expect (dealer, "bad_kind", timer.id);
    sent++;
    free (frame);
    //  A command that claims to come from an actor (a handler trusts from).
    envelope_t forged = command;
    envelope_new_id (forged.id);
    snprintf (forged.from, sizeof forged.from, "transfer/forged");
    assert_int_equal (envelope_encode (&forged, &frame, &frame_size), 0);
    s_raw_send (dealer, frame, frame_size, false);
    s_raw_expect (dealer, "bad_from", forged.id);
    sent++;
    free (frame);

    //  The node is up, the account untouched, and each frame counted.
    assert_int_equal (node_stat (fx, "messages"), messages); //  none reached a worker
    assert_int_equal (node_stat (fx, "bad_frames"), (int64_t) sent);
    node_same_books (fx, "account/b", b);
    //  The same socket still works for a good frame.
    s_raw_send (dealer, valid, valid_size, false);
    uint8_t correlation[ENVELOPE_ID_SIZE];
    bool ok;
    char code[ENVELOPE_CODE_MAX + 1];
    s_raw_reply (dealer, correlation, &ok, code);
    assert_memory_equal (correlation, command.id, ENVELOPE_ID_SIZE);
    assert_true (ok);
    books_t after = node_books (fx, "account/b");
    assert_int_equal (after.version, b.version + 1);
    assert_int_equal (after.balance, b.balance + 1000);
    assert_int_equal (node_stat (fx, "bad_frames"), (int64_t) sent);

    free (valid);
    free (payload);
    zsock_destroy (&dealer);
}

//  An envelope packed by hand, field by field, to get past the checks of
//  envelope_encode: a client that is not ours can send anything.
typedef struct {
    uint32_t fields;        //  array length (11 is right)
    uint64_t version;       //  ENVELOPE_VERSION is right
    uint64_t kind;          //  1..4
    uint32_t id_size;       //  ENVELOPE_ID_SIZE is right
    const char *to;         //  receiver address
    const char *name;       //  command name
    const uint8_t *payload; //  raw msgpack, packed as it is
    size_t payload_size;
} raw_envelope_t;

//  Packs raw with id into out (initialized by the caller).
static void s_pack (const raw_envelope_t *raw, const uint8_t *id, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    uint8_t id_bytes[32] = {0};
    memcpy (id_bytes, id, ENVELOPE_ID_SIZE);
    msgpack_pack_array (&pk, raw->fields);
    for (uint32_t i = 0; i < raw->fields; i++) {
        switch (i) {
        case 0:
            msgpack_pack_uint64 (&pk, raw->version);
            break;
        case 1:
            msgpack_pack_uint64 (&pk, raw->kind);
            break;
        case 2:
            msgpack_pack_bin_with_body (&pk, id_bytes, raw->id_size);
            break;
        case 3:
        case 4:
            msgpack_pack_nil (&pk);
            break;
        case 5:
            msgpack_pack_str_with_body (&pk, "", 0);
            break;
        case 6:
            msgpack_pack_str_with_body (&pk, raw->to, strlen (raw->to));
            break;
        case 7:
            msgpack_pack_str_with_body (&pk, raw->name, strlen (raw->name));
            break;
        case 8:
            msgpack_sbuffer_write (out, (const char *) raw->payload, raw->payload_size);
            break;
        case 9:
            msgpack_pack_uint32 (&pk, 0);
            break;
        default:
            msgpack_pack_uint64 (&pk, (uint64_t) zclock_time ());
        }
    }
}

//  Sends raw with a new id on dealer and checks the node's answer: a
//  rejection with code, correlated to the id; for a frame error, only if
//  the frame reads as far as its id (an array of 3 fields or more, the
//  version, a kind, 16 bytes; over 1 MiB too: it was nil, and a client
//  took it for the answer to its next request), else nil.
static void s_raw_envelope (zsock_t *dealer, const raw_envelope_t *raw, const char *code,
                            bool frame_error)
{
    uint8_t id[ENVELOPE_ID_SIZE];
    envelope_new_id (id);
    msgpack_sbuffer frame;
    msgpack_sbuffer_init (&frame);
    s_pack (raw, id, &frame);
    s_raw_send (dealer, frame.data, frame.size, false);
    bool nil = frame_error && (raw->fields < 3 || raw->version != ENVELOPE_VERSION ||
                               raw->id_size != ENVELOPE_ID_SIZE);
    msgpack_sbuffer_destroy (&frame);
    s_raw_expect (dealer, code, nil ? NULL : id);
}

#define QUEUE_BYTES (64u << 20) //  a worker's queue at most (the front's FRONT_QUEUE_BYTES)

//  A client sending big commands faster than a worker takes them is told
//  "busy" once the worker's queue holds 64 MiB, rather than the node's
//  memory growing: 100 commands of 900 KB to an actor whose worker is
//  held (Hold, until the test makes a file) while they come, so that the
//  queue fills however fast or slow the machine is. Exactly what fits is
//  taken; every command gets one answer, and the node stays up.
static void test_queue_bytes_bounded (void **state)
{
    fixture_t *fx = *state;
    const char *module = getenv ("SHOAL_TEST_MODULE");
    assert_non_null (module);
    node_start (fx, "--module", module, NULL);
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    assert_non_null (dealer);
    zsock_set_linger (dealer, 0);
    zsock_set_sndhwm (dealer, 0);
    assert_int_equal (zsock_connect (dealer, "%s", fx->node.endpoint), 0);

    char gate[128], hold_field[160];
    snprintf (gate, sizeof gate, "%s/gate", fx->dir);
    snprintf (hold_field, sizeof hold_field, "path=%s", gate);
    char *hold_fields[] = {hold_field};
    uint8_t *payload, *frame;
    size_t payload_size, frame_size;
    char error[64];
    assert_int_equal (client_fields (1, hold_fields, &payload, &payload_size, error, sizeof error),
                      0);
    envelope_t hold;
    client_request (&hold, ENVELOPE_COMMAND, NULL, "counter/slow", "Hold", payload, payload_size);
    assert_int_equal (envelope_encode (&hold, &frame, &frame_size), 0);
    free (payload);
    s_raw_send (dealer, frame, frame_size, false);
    free (frame);

    size_t pad_size = 900 * 1000;
    char *pad = malloc (pad_size + 5);
    memcpy (pad, "pad=", 4);
    memset (pad + 4, 'x', pad_size);
    pad[4 + pad_size] = 0;
    char *fields[] = {"ms=0", pad};
    assert_int_equal (client_fields (2, fields, &payload, &payload_size, error, sizeof error), 0);
    free (pad);
    const int count = 100;
    size_t command_size = 0;
    for (int i = 0; i < count; i++) {
        envelope_t command;
        client_request (&command, ENVELOPE_COMMAND, NULL, "counter/slow", "Slow", payload,
                        payload_size);
        assert_int_equal (envelope_encode (&command, &frame, &frame_size), 0);
        if (i == 0)
            command_size = frame_size;
        assert_int_equal (frame_size, command_size);
        s_raw_send (dealer, frame, frame_size, false);
        free (frame);
    }
    free (payload);
    //  (The Hold's own bytes, if still queued when they come, are far less
    //  than what is left over: QUEUE_BYTES - fits * command_size.)
    int fits = (int) (QUEUE_BYTES / command_size);
    assert_true (fits > 0 && fits < count);

    //  While the worker is held only the front answers: busy, for each
    //  command past what fits. Then the worker goes on, and answers the
    //  Hold and each command that fit.
    int accepted = 0, busy = 0;
    bool held = true, hold_answered = false;
    for (int i = 0; i < count + 1; i++) {
        if (held && busy == count - fits) {
            FILE *file = fopen (gate, "w");
            assert_non_null (file);
            fclose (file);
            held = false;
        }
        uint8_t id[ENVELOPE_ID_SIZE];
        bool ok;
        char code[ENVELOPE_CODE_MAX + 1];
        s_raw_reply (dealer, id, &ok, code);
        if (!ok && strcmp (code, "busy") != 0)
            print_error ("a reply of %s, while %s\n", code, held ? "held" : "not held");
        if (memcmp (id, hold.id, ENVELOPE_ID_SIZE) == 0) {
            assert_false (held);
            assert_true (ok);
            hold_answered = true;
        } else if (ok) {
            assert_false (held);
            accepted++;
        } else {
            assert_string_equal (code, "busy");
            assert_true (held);
            busy++;
        }
    }
    zsock_destroy (&dealer);
    printf ("queue bound: %d accepted, %d busy\n", accepted, busy);
    assert_true (hold_answered);
    assert_int_equal (accepted, fits);
    assert_int_equal (busy, count - fits);
    assert_int_equal (node_stat (fx, "busy"), busy);
    assert_int_equal (node_events (fx, "counter/slow"), 0); //  Hold and Slow emit nothing
    node_ok (fx, "counter/c", "Add", "by=1", NULL);
}

//  A node-wide query (`pending`) waits for each worker's part 5 s at
//  most (FRONT_GATHER_MS): with a worker held, each of several is answered
//  at its deadline with what came (missing 1), and the held worker's
//  parts, which come once it goes on, find none waiting and are dropped;
//  the next is answered whole (missing 0), and the node goes on. The
//  gathers are kept by deadline and found by id (a walk per part, and one
//  per turn of the front's loop, cost it the square of their count).
static void test_node_wide_late_worker (void **state)
{
    fixture_t *fx = *state;
    const char *module = getenv ("SHOAL_TEST_MODULE");
    assert_non_null (module);
    node_start (fx, "--module", module, NULL);
    char gate[128], held[136], hold_field[160];
    snprintf (gate, sizeof gate, "%s/gate", fx->dir);
    snprintf (held, sizeof held, "%s.held", gate);
    snprintf (hold_field, sizeof hold_field, "path=%s", gate);
    char *hold_fields[] = {hold_field};
    uint8_t *payload;
    size_t payload_size;
    char error[64];
    assert_int_equal (client_fields (1, hold_fields, &payload, &payload_size, error, sizeof error),
                      0);
    client_t *client = client_new (fx->node.endpoint);
    assert_non_null (client);
    envelope_t hold;
    client_request (&hold, ENVELOPE_COMMAND, NULL, "counter/slow", "Hold", payload, payload_size);
    assert_int_equal (client_send (client, &hold), 0);
    free (payload);
    //  A bounded poll: the worker is held once the handler made the file.
    int64_t deadline = zclock_mono () + CALL_TIMEOUT_MS;
    while (access (held, F_OK) != 0 && zclock_mono () < deadline)
        zclock_sleep (10);
    assert_int_equal (access (held, F_OK), 0);
    enum { QUERIES = 3 };
    envelope_t queries[QUERIES];
    for (int i = 0; i < QUERIES; i++) {
        client_request (&queries[i], ENVELOPE_QUERY, NULL, "node/all", "pending", NULL, 0);
        assert_int_equal (client_send (client, &queries[i]), 0);
    }
    for (int i = 0; i < QUERIES; i++) {
        client_reply_t reply;
        assert_int_equal (client_recv (client, 3 * CALL_TIMEOUT_MS, &reply), 0);
        assert_memory_equal (reply.correlation, queries[i].id, ENVELOPE_ID_SIZE);
        int64_t missing = -1;
        assert_true (reply.ok);
        assert_int_equal (map_int (reply.data, reply.size, "missing", &missing), 0);
        assert_int_equal (missing, 1);
        client_reply_close (&reply);
    }
    FILE *file = fopen (gate, "w");
    assert_non_null (file);
    fclose (file);
    client_reply_t reply; //  the Hold's, then a query's whole
    assert_int_equal (client_recv (client, CALL_TIMEOUT_MS, &reply), 0);
    assert_memory_equal (reply.correlation, hold.id, ENVELOPE_ID_SIZE);
    client_reply_close (&reply);
    envelope_t query;
    client_request (&query, ENVELOPE_QUERY, NULL, "node/all", "pending", NULL, 0);
    assert_int_equal (client_call (client, &query, CALL_TIMEOUT_MS, &reply), 0);
    int64_t missing = -1;
    assert_int_equal (map_int (reply.data, reply.size, "missing", &missing), 0);
    assert_int_equal (missing, 0);
    client_reply_close (&reply);
    client_destroy (&client);
    node_ok (fx, "counter/c", "Add", "by=1", NULL);
}

//  A query's optional fields of another type than theirs: refused as
//  invalid_field, naming the field (they were taken as absent, and
//  {"from": "x"} read the first page); of their type, answered.
static void s_query_refused (fixture_t *fx, envelope_kind_t kind, const char *to, const char *name,
                             const char *field, const char *said)
{
    client_reply_t reply;
    node_call (fx->client, kind, NULL, to, name, &reply, field, NULL);
    if (reply.ok || strcmp (reply.code, "invalid_field") != 0 || !strstr (reply.reason, said))
        fail_msg ("%s %s %s: %s %s (expected invalid_field: %s)", name, to, field,
                  reply.ok ? "ok" : reply.code, reply.reason, said);
    client_reply_close (&reply);
}

static void test_query_fields_typed (void **state)
{
    fixture_t *fx = *state;
    node_start (fx, NULL);
    node_ok (fx, "account/q", "Open", "owner=Q", NULL);
    node_ok (fx, "account/q", "Deposit", "amount=5", NULL);
    static const char *not_ints[] = {"from=x", "from:=1.5", "from:=18446744073709551615",
                                     "limit:=true"};
    for (size_t i = 0; i < sizeof not_ints / sizeof not_ints[0]; i++)
        s_query_refused (fx, ENVELOPE_QUERY, "account/q", "events", not_ints[i],
                         not_ints[i][0] == 'f' ? "from must be an integer"
                                               : "limit must be an integer");
    s_query_refused (fx, ENVELOPE_QUERY, "account/q", "pending", "stalled=yes",
                     "stalled must be true or false");
    s_query_refused (fx, ENVELOPE_QUERY, "account/q", "pending", "limit=x",
                     "limit must be an integer");
    s_query_refused (fx, ENVELOPE_QUERY, "node/pending", "pending", "limit=x",
                     "limit must be an integer");
    s_query_refused (fx, ENVELOPE_QUERY, "node/pending", "pending", "stalled:=1",
                     "stalled must be true or false");
    s_query_refused (fx, ENVELOPE_QUERY, "node/dead-letters", "dead_letters", "all=x",
                     "all must be true or false");
    //  The id a retry or drop asks for: 32 hex digits, a string.
    static const char *not_ids[] = {"id=xyz", "id:=5", "id=0123456789abcdef0123456789abcdeg",
                                    "id=0123456789abcdef0123456789abcdef0"};
    for (size_t i = 0; i < sizeof not_ids / sizeof not_ids[0]; i++)
        s_query_refused (fx, ENVELOPE_QUERY, "node/dead-letters", "dead_letters", not_ids[i],
                         "id must be 32 hex digits, as shoal dead-letters shows it");

    //  $resolve with one more field, of another type than its own: force,
    //  and operator (it was taken as "unknown", and the record named no one).
    static const struct {
        const char *field, *said;
    } resolves[] = {{"force=yes", "force must be true or false"},
                    {"operator:=5", "operator must be a text"}};
    client_reply_t reply;
    for (size_t i = 0; i < sizeof resolves / sizeof resolves[0]; i++) {
        node_call (fx->client, ENVELOPE_COMMAND, NULL, "account/q", "$resolve", &reply,
                   "id=0123456789abcdef0123456789abcdef", "code=gone", "reason=by hand",
                   resolves[i].field, NULL);
        if (reply.ok || strcmp (reply.code, "invalid_field") != 0 ||
            !strstr (reply.reason, resolves[i].said))
            fail_msg ("$resolve with %s: %s %s", resolves[i].field, reply.ok ? "ok" : reply.code,
                      reply.reason);
        client_reply_close (&reply);
    }

    //  Of their type: answered (the second page of two events).
    node_call (fx->client, ENVELOPE_QUERY, NULL, "account/q", "events", &reply, "from:=2",
               "limit:=5", NULL);
    assert_true (reply.ok);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked); //  node_find's unpack frees what it holds
    const msgpack_object *events = node_find (&unpacked, reply.data, reply.size, "events");
    assert_non_null (events);
    assert_int_equal (events->via.array.size, 1);
    msgpack_unpacked_destroy (&unpacked);
    client_reply_close (&reply);
    node_call (fx->client, ENVELOPE_QUERY, NULL, "node/pending", "pending", &reply,
               "stalled:=false", "limit:=10", NULL);
    assert_true (reply.ok);
    client_reply_close (&reply);
    //  pending of an address of no registered type is refused, as get's
    //  and events' are (it answered an empty list).
    node_call (fx->client, ENVELOPE_QUERY, NULL, "nosuch/x", "pending", &reply, NULL);
    if (reply.ok || strcmp (reply.code, "unknown_type") != 0)
        fail_msg ("pending of nosuch/x: %s %s", reply.ok ? "ok" : reply.code, reply.reason);
    client_reply_close (&reply);
}

static void test_malformed_envelopes (void **state)
{
    fixture_t *fx = *state;
    node_start (fx, NULL);
    node_ok (fx, "account/h", "Open", "owner=H", NULL);
    books_t h = node_books (fx, "account/h");
    int64_t messages = node_stat (fx, "messages");
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    assert_non_null (dealer);
    zsock_set_linger (dealer, 0);
    assert_int_equal (zsock_connect (dealer, "%s", fx->node.endpoint), 0);

    static const uint8_t deposit[] = {0x81, 0xa6, 'a', 'm', 'o', 'u', 'n', 't', 0x05};
    const raw_envelope_t good = {11,          ENVELOPE_VERSION, ENVELOPE_COMMAND, ENVELOPE_ID_SIZE,
                                 "account/h", "Deposit",        deposit,          sizeof deposit};
    raw_envelope_t raw;
    size_t sent = 0;
#define BAD(field, value)                                                                          \
    do {                                                                                           \
        raw = good;                                                                                \
        raw.field = value;                                                                         \
        s_raw_envelope (dealer, &raw, "bad_frame", true);                                          \
        sent++;                                                                                    \
    } while (0)
    BAD (fields, 10);
    BAD (fields, 12);
    BAD (version, 0);
    BAD (kind, 0);
    BAD (kind, 9);
    BAD (id_size, 15);
    BAD (id_size, 17);
    BAD (to, "Account/h");
    BAD (to, "account/");
    BAD (to, "");
    BAD (name, "");
    BAD (name, "De posit");
#define BAD_PAYLOAD(bytes, size)                                                                   \
    do {                                                                                           \
        raw = good;                                                                                \
        raw.payload = bytes;                                                                       \
        raw.payload_size = size;                                                                   \
        s_raw_envelope (dealer, &raw, "bad_frame", true);                                          \
        sent++;                                                                                    \
    } while (0)
    static const uint8_t array[] = {0x91, 0x05};
    BAD_PAYLOAD (array, sizeof array);
    static const uint8_t huge_map[] = {0xdf, 0xff, 0xff, 0xff, 0xff}; //  2^32-1 pairs, no bytes
    BAD_PAYLOAD (huge_map, sizeof huge_map);
    static const uint8_t huge_str[] = {0x81, 0xa1, 'a', 0xdb, 0xff, 0xff, 0xff, 0xff};
    BAD_PAYLOAD (huge_str, sizeof huge_str);
    uint8_t deep[64];
    size_t depth = 0;
    deep[depth++] = 0x81;
    deep[depth++] = 0xa1;
    deep[depth++] = 'a';
    while (depth < 3 + 40)
        deep[depth++] = 0x91; //  [[[[...
    deep[depth++] = 0xc0;
    BAD_PAYLOAD (deep, depth);
#undef BAD
#undef BAD_PAYLOAD
    assert_int_equal (node_stat (fx, "messages"), messages);
    assert_int_equal (node_stat (fx, "bad_frames"), (int64_t) sent);
    node_same_books (fx, "account/h", h);

    //  Well-formed, but what the handler gets is odd: it answers, by id.
    static const uint8_t nul_owner[] = {0x81, 0xa5, 'o', 'w', 'n', 'e', 'r', 0xa3, 'a', 0, 'b'};
    raw = good;
    raw.to = "account/z";
    raw.name = "Open";
    raw.payload = nul_owner;
    raw.payload_size = sizeof nul_owner;
    s_raw_envelope (dealer, &raw, "invalid_field", false);
    books_t z = node_books (fx, "account/z");
    assert_int_equal (z.version, 0);
    static const uint8_t big_amount[] = {0x81, 0xa6, 'a', 'm', 'o', 'u', 'n', 't', 0xcf,
                                         0x80, 0,    0,   0,   0,   0,   0,   0};
    raw = good;
    raw.payload = big_amount; //  2^63 as a uint64
    raw.payload_size = sizeof big_amount;
    s_raw_envelope (dealer, &raw, "invalid_amount", false);
    node_same_books (fx, "account/h", h);

    //  Addresses at and past their limits, and ids that are not UTF-8.
    char id_200[256] = "account/", id_201[256] = "account/", type_63[128], type_64[128];
    memset (id_200 + 8, 'i', 200);
    memset (id_201 + 8, 'i', 201);
    memset (type_63, 't', 63);
    strcpy (type_63 + 63, "/x");
    memset (type_64, 't', 64);
    strcpy (type_64 + 64, "/x");
    const char *bad_to[] = {id_201,
                            type_64,
                            "account/\xff",
                            "account/a\x01",
                            "account/\xc0\x80",
                            "account/\xed\xa0\x80",
                            "account/\xf4\x90\x80\x80"};
    for (size_t i = 0; i < sizeof bad_to / sizeof bad_to[0]; i++) {
        raw = good;
        raw.to = bad_to[i];
        s_raw_envelope (dealer, &raw, "bad_frame", true);
        sent++;
    }
    raw = good;
    raw.to = id_200;
    s_raw_envelope (dealer, &raw, "not_open", false);
    raw.to = "account/\xc3\xa9\xf0\x9f\x90\x9f"; //  é and a fish
    s_raw_envelope (dealer, &raw, "not_open", false);
    raw.to = type_63;
    s_raw_envelope (dealer, &raw, "unknown_type", false);
    assert_int_equal (node_stat (fx, "bad_frames"), (int64_t) sent);

    //  A frame just under 1 MiB is served; the same just over is not.
    size_t junk_size = ENVELOPE_MAX_SIZE - 256;
    msgpack_sbuffer big;
    msgpack_sbuffer_init (&big);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &big, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 2);
    msgpack_pack_str_with_body (&pk, "amount", 6);
    msgpack_pack_int (&pk, 2);
    msgpack_pack_str_with_body (&pk, "junk", 4);
    msgpack_pack_str (&pk, junk_size);
    char *junk = malloc (ENVELOPE_MAX_SIZE);
    memset (junk, 'j', ENVELOPE_MAX_SIZE);
    msgpack_pack_str_body (&pk, junk, junk_size);
    raw = good;
    raw.payload = (const uint8_t *) big.data;
    raw.payload_size = big.size;
    uint8_t big_id[ENVELOPE_ID_SIZE];
    envelope_new_id (big_id);
    msgpack_sbuffer frame;
    msgpack_sbuffer_init (&frame);
    s_pack (&raw, big_id, &frame);
    assert_true (frame.size <= ENVELOPE_MAX_SIZE);
    s_raw_send (dealer, frame.data, frame.size, false);
    msgpack_sbuffer_destroy (&frame);
    zmq_pollitem_t big_item = {zsock_resolve (dealer), 0, ZMQ_POLLIN, 0};
    assert_int_equal (zmq_poll (&big_item, 1, CALL_TIMEOUT_MS), 1);
    zframe_t *big_answer = zframe_recv (dealer);
    envelope_t big_reply;
    assert_int_equal (
        envelope_decode (&big_reply, zframe_data (big_answer), zframe_size (big_answer)), 0);
    assert_memory_equal (big_reply.correlation, big_id, ENVELOPE_ID_SIZE);
    zframe_destroy (&big_answer);
    msgpack_sbuffer_clear (&big);
    msgpack_pack_map (&pk, 2);
    msgpack_pack_str_with_body (&pk, "amount", 6);
    msgpack_pack_int (&pk, 2);
    msgpack_pack_str_with_body (&pk, "junk", 4);
    msgpack_pack_str_with_body (&pk, junk, ENVELOPE_MAX_SIZE - 64);
    raw.payload = (const uint8_t *) big.data;
    raw.payload_size = big.size;
    s_raw_envelope (dealer, &raw, "bad_frame", true);
    sent++;
    free (junk);
    msgpack_sbuffer_destroy (&big);
    h.version++; //  the big one was a deposit of 2
    h.events++;
    h.balance += 2;
    node_same_books (fx, "account/h", h);
    assert_int_equal (node_stat (fx, "bad_frames"), (int64_t) sent);

    //  An integer key on the side: a field no handler could look up,
    //  refused (PROTOCOL: keys are strings), and nothing changes.
    static const uint8_t odd_keys[] = {0x82, 0x07, 0xa1, 'x', 0xa6, 'a',
                                       'm',  'o',  'u',  'n', 't',  0x05};
    raw = good;
    raw.payload = odd_keys;
    raw.payload_size = sizeof odd_keys;
    s_raw_envelope (dealer, &raw, "bad_frame", false); //  under the request's id
    sent++;
    node_same_books (fx, "account/h", h);
    //  The hand-packed good one works.
    static const uint8_t good_keys[] = {0x81, 0xa6, 'a', 'm', 'o', 'u', 'n', 't', 0x05};
    raw.payload = good_keys;
    raw.payload_size = sizeof good_keys;
    uint8_t id[ENVELOPE_ID_SIZE];
    envelope_new_id (id);
    msgpack_sbuffer_init (&frame);
    s_pack (&raw, id, &frame);
    s_raw_send (dealer, frame.data, frame.size, false);
    msgpack_sbuffer_destroy (&frame);
    zmq_pollitem_t item = {zsock_resolve (dealer), 0, ZMQ_POLLIN, 0};
    assert_int_equal (zmq_poll (&item, 1, CALL_TIMEOUT_MS), 1);
    zframe_t *answer = zframe_recv (dealer);
    envelope_t reply;
    assert_int_equal (envelope_decode (&reply, zframe_data (answer), zframe_size (answer)), 0);
    assert_memory_equal (reply.correlation, id, ENVELOPE_ID_SIZE);
    bool ok;
    char code[ENVELOPE_CODE_MAX + 1], reason[ENVELOPE_REASON_MAX + 1];
    const uint8_t *data;
    size_t size;
    assert_int_equal (
        envelope_reply_decode (reply.payload, reply.payload_size, &ok, code, reason, &data, &size),
        0);
    assert_true (ok);
    zframe_destroy (&answer);
    books_t after = node_books (fx, "account/h");
    assert_int_equal (after.version, h.version + 1);
    assert_int_equal (after.balance, h.balance + 5);
    assert_int_equal (node_stat (fx, "bad_frames"), (int64_t) sent);
    zsock_destroy (&dealer);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_queue_bytes_bounded, node_setup, node_teardown),
        cmocka_unit_test_setup_teardown (test_node_wide_late_worker, node_setup, node_teardown),
        cmocka_unit_test_setup_teardown (test_bad_frames, node_setup, node_teardown),
        cmocka_unit_test_setup_teardown (test_malformed_envelopes, node_setup, node_teardown),
        cmocka_unit_test_setup_teardown (test_query_fields_typed, node_setup, node_teardown),
    };
    //  SHOAL_TEST_FILTER=test_module* runs the tests whose names match.
    if (getenv ("SHOAL_TEST_FILTER"))
        cmocka_set_test_filter (getenv ("SHOAL_TEST_FILTER"));
    return cmocka_run_group_tests (tests, NULL, NULL);
}
