/*  test_node.c - process tests: real `shoal node` processes, driven
    through the client library (transport/client.h) and the `shoal`
    binary, as a user would.

    Each test has its own temporary directory (the node's store in data/,
    its stderr in node.log) and its own node listening on node.ipc in it,
    where no other process can take its place across a restart; the
    teardown kills the node and removes the directory. ctest sets SHOAL_BIN (the
    shoal executable) and SHOAL_TEST_MODULE (counter.so).

    What a test checks is what a client can see: replies, `get`
    (version and state), the `events` query, the node's `stats`, the
    binary's exit codes and output; once, with the node stopped, the store
    itself (where the latest snapshot is).

    Known limit: a test that fails part-way leaks what it had open (the
    teardown still kills its node and removes its directory).
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

#define CALL_TIMEOUT_MS 10000  //  one request's reply
#define START_TIMEOUT_MS 20000 //  a node's ready line (ASan start-up is slow)
#define MAX_FIELDS 8           //  "k=v" arguments of one request
#define PIPE_CLIENTS 4         //  DEALER sockets a pipeline spreads over
#define OUTPUT_MAX 4096        //  bytes kept of a command's stdout or stderr

typedef struct {
    char dir[64];      //  the test's temporary directory
    char data[128];    //  dir/data: the node's store
    char log[128];     //  dir/node.log: the node's stderr
    char endpoint[96]; //  ipc://dir/node.ipc: where the node listens
    node_child_t node; //  pid 0 when not running
    client_t *client;  //  connected to node.endpoint, or NULL
} fixture_t;

//  What a pipelined request got back.
typedef struct {
    bool answered;                    //  a reply came
    bool ok;                          //  accepted
    char code[ENVELOPE_CODE_MAX + 1]; //  when rejected
    int64_t balance;                  //  the reply's "balance", or INT64_MIN
} outcome_t;

//  Many requests in flight on a few DEALER clients at once.
typedef struct {
    client_t *clients[PIPE_CLIENTS];
    uint32_t tag;        //  in every id, so that replies are matched to us
    size_t count;        //  requests sent
    size_t answered;     //  replies received
    outcome_t *outcomes; //  count of them, by request index
} pipe_t;

//  Fills the address and the one "k=v" field of pipelined request index.
typedef void (pipe_make_fn) (void *arg, size_t index, char *to, size_t to_size, char *field,
                             size_t field_size);

//  --------------------------------------------------------------------------
//  Set-up

static int s_setup (void **state)
{
    fixture_t *fx = calloc (1, sizeof (fixture_t));
    assert_non_null (fx);
    snprintf (fx->dir, sizeof fx->dir, "/tmp/shoal-test-node-XXXXXX");
    assert_non_null (mkdtemp (fx->dir));
    snprintf (fx->data, sizeof fx->data, "%s/data", fx->dir);
    snprintf (fx->log, sizeof fx->log, "%s/node.log", fx->dir);
    snprintf (fx->endpoint, sizeof fx->endpoint, "ipc://%s/node.ipc", fx->dir);
    *state = fx;
    return 0;
}

static int s_teardown (void **state)
{
    fixture_t *fx = *state;
    client_destroy (&fx->client);
    node_child_stop (&fx->node, SIGKILL);
    harness_rm_rf (fx->dir);
    free (fx);
    return 0;
}

static const char *s_bin (void)
{
    const char *bin = getenv ("SHOAL_BIN");
    assert_non_null (bin);
    return bin;
}

//  Prints the node's stderr, to explain a failure.
static void s_dump_log (const fixture_t *fx)
{
    FILE *file = fopen (fx->log, "r");
    char line[512];
    while (file && fgets (line, sizeof line, file))
        print_error ("node: %s", line);
    if (file)
        fclose (file);
}

//  Starts a node on fx->endpoint with 2 workers and the extra arguments
//  (a NULL-terminated list), and connects fx->client to it.
static void s_start (fixture_t *fx, ...)
{
    node_child_args_t extra = {.argv = {"--workers", "2"}};
    size_t count = 2, max = sizeof extra.argv / sizeof extra.argv[0] - 1;
    va_list args;
    va_start (args, fx);
    const char *arg;
    while ((arg = va_arg (args, const char *)) && count < max)
        extra.argv[count++] = (char *) arg;
    va_end (args);
    int rc = node_child_start (&fx->node, s_bin (), fx->data, fx->endpoint, extra.argv, fx->log,
                               START_TIMEOUT_MS);
    if (rc)
        s_dump_log (fx);
    assert_int_equal (rc, 0);
    assert_string_equal (fx->node.endpoint, fx->endpoint);
    fx->client = client_new (fx->node.endpoint);
    assert_non_null (fx->client);
}

//  Stops the node with sig and checks how it ended.
static void s_stop (fixture_t *fx, int sig)
{
    client_destroy (&fx->client);
    int status = node_child_stop (&fx->node, sig);
    if (sig == SIGKILL)
        assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);
    else
        assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
}

//  Stops the node with sig, checks how it ended, and starts it again on
//  the same data directory and endpoint with the extra arguments (at most
//  four, NULL-terminated).
static void s_restart (fixture_t *fx, int sig, const char *a, const char *b, const char *c,
                       const char *d)
{
    s_stop (fx, sig);
    s_start (fx, a, b, c, d, NULL);
}

//  --------------------------------------------------------------------------
//  Requests

//  Sends a request with the "k=v" fields (NULL-terminated) and waits for
//  its reply, which the caller closes. id NULL = random.
static void s_call_v (client_t *client, envelope_kind_t kind, const uint8_t *id, const char *to,
                      const char *name, client_reply_t *reply, va_list args)
{
    char *fields[MAX_FIELDS];
    int count = 0;
    const char *field;
    while ((field = va_arg (args, const char *))) {
        assert_true (count < MAX_FIELDS);
        fields[count++] = (char *) field;
    }
    uint8_t *payload;
    size_t size;
    char error[256];
    assert_int_equal (client_fields (count, fields, &payload, &size, error, sizeof error), 0);
    envelope_t request;
    client_request (&request, kind, id, to, name, payload, size);
    int rc = client_call (client, &request, CALL_TIMEOUT_MS, reply);
    free (payload);
    assert_int_equal (rc, 0);
    assert_memory_equal (reply->correlation, request.id, ENVELOPE_ID_SIZE);
}

static void s_call (client_t *client, envelope_kind_t kind, const uint8_t *id, const char *to,
                    const char *name, client_reply_t *reply, ...)
{
    va_list args;
    va_start (args, reply);
    s_call_v (client, kind, id, to, name, reply, args);
    va_end (args);
}

//  Sends a command that must be accepted. Returns the reply's "balance",
//  or INT64_MIN if it has none.
static int64_t s_ok (fixture_t *fx, const char *to, const char *name, ...)
{
    client_reply_t reply;
    va_list args;
    va_start (args, name);
    s_call_v (fx->client, ENVELOPE_COMMAND, NULL, to, name, &reply, args);
    va_end (args);
    if (!reply.ok)
        print_error ("%s %s rejected: %s: %s\n", to, name, reply.code, reply.reason);
    assert_true (reply.ok);
    int64_t balance;
    if (map_int (reply.data, reply.size, "balance", &balance) != 0)
        balance = INT64_MIN;
    client_reply_close (&reply);
    return balance;
}

//  Sends a command that must be rejected with code and a reason.
static void s_rejected (fixture_t *fx, const char *code, const char *to, const char *name, ...)
{
    client_reply_t reply;
    va_list args;
    va_start (args, name);
    s_call_v (fx->client, ENVELOPE_COMMAND, NULL, to, name, &reply, args);
    va_end (args);
    if (reply.ok || strcmp (reply.code, code) != 0)
        print_error ("%s %s: expected %s, got ok=%d code '%s'\n", to, name, code, reply.ok,
                     reply.code);
    assert_false (reply.ok);
    assert_string_equal (reply.code, code);
    assert_true (strlen (reply.reason) > 0);
    client_reply_close (&reply);
}

//  Reads an actor with `get`. version, balance and status may be NULL;
//  balance and status only exist for accounts.
static void s_get (fixture_t *fx, const char *address, int64_t *version, int64_t *balance,
                   char *status, size_t status_size)
{
    client_reply_t reply;
    s_call (fx->client, ENVELOPE_QUERY, NULL, address, "get", &reply, NULL);
    if (!reply.ok)
        print_error ("get %s: %s: %s\n", address, reply.code, reply.reason);
    assert_true (reply.ok);
    char echoed[SHOAL_ADDRESS_MAX + 1];
    assert_int_equal (map_str (reply.data, reply.size, "address", echoed, sizeof echoed), 0);
    assert_string_equal (echoed, address);
    if (version)
        assert_int_equal (map_int (reply.data, reply.size, "version", version), 0);
    if (balance)
        assert_int_equal (reply_state_int (&reply, "balance", balance), 0);
    if (status)
        assert_int_equal (reply_state_str (&reply, "status", status, status_size), 0);
    client_reply_close (&reply);
}

//  Reads one node counter from the stats query.
static int64_t s_stat (fixture_t *fx, const char *name)
{
    client_reply_t reply;
    s_call (fx->client, ENVELOPE_QUERY, NULL, "node/stats", "stats", &reply, NULL);
    assert_true (reply.ok);
    int64_t value = -1;
    assert_int_equal (map_int (reply.data, reply.size, name, &value), 0);
    client_reply_close (&reply);
    return value;
}

//  Finds key in the msgpack map at data. Returns the value or NULL; the
//  caller destroys unpacked.
static const msgpack_object *s_find (msgpack_unpacked *unpacked, const uint8_t *data, size_t size,
                                     const char *key)
{
    size_t offset = 0;
    if (msgpack_unpack_next (unpacked, (const char *) data, size, &offset) !=
            MSGPACK_UNPACK_SUCCESS ||
        unpacked->data.type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < unpacked->data.via.map.size; i++) {
        const msgpack_object_kv *kv = &unpacked->data.via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen (key) &&
            memcmp (kv->key.via.str.ptr, key, strlen (key)) == 0)
            return &kv->val;
    }
    return NULL;
}

//  Counts an actor's committed events with the events query, page by page,
//  checking that their seqs run 1, 2, 3... without a gap.
static int64_t s_events (fixture_t *fx, const char *address)
{
    int64_t count = 0;
    while (true) {
        char from[48];
        snprintf (from, sizeof from, "from=%lld", (long long) count + 1);
        client_reply_t reply;
        s_call (fx->client, ENVELOPE_QUERY, NULL, address, "events", &reply, from, NULL);
        assert_true (reply.ok);
        msgpack_unpacked unpacked;
        msgpack_unpacked_init (&unpacked);
        const msgpack_object *events = s_find (&unpacked, reply.data, reply.size, "events");
        assert_non_null (events);
        assert_int_equal (events->type, MSGPACK_OBJECT_ARRAY);
        uint32_t page = events->via.array.size;
        for (uint32_t i = 0; i < page; i++) {
            const msgpack_object *event = &events->via.array.ptr[i];
            assert_int_equal (event->type, MSGPACK_OBJECT_MAP);
            bool seq_seen = false;
            for (uint32_t f = 0; f < event->via.map.size; f++) {
                const msgpack_object_kv *kv = &event->via.map.ptr[f];
                if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 3 &&
                    memcmp (kv->key.via.str.ptr, "seq", 3) == 0) {
                    assert_int_equal (kv->val.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
                    assert_int_equal (kv->val.via.u64, (uint64_t) (count + 1 + i));
                    seq_seen = true;
                }
            }
            assert_true (seq_seen);
        }
        msgpack_unpacked_destroy (&unpacked);
        client_reply_close (&reply);
        if (page == 0)
            return count;
        count += page;
    }
}

//  The "created" time (ms since the epoch) of event seq of address.
static int64_t s_event_created (fixture_t *fx, const char *address, int64_t seq)
{
    char from[48];
    snprintf (from, sizeof from, "from=%lld", (long long) seq);
    client_reply_t reply;
    s_call (fx->client, ENVELOPE_QUERY, NULL, address, "events", &reply, from, NULL);
    assert_true (reply.ok);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *events = s_find (&unpacked, reply.data, reply.size, "events");
    assert_non_null (events);
    assert_true (events->type == MSGPACK_OBJECT_ARRAY && events->via.array.size > 0);
    const msgpack_object *event = &events->via.array.ptr[0];
    assert_int_equal (event->type, MSGPACK_OBJECT_MAP);
    int64_t created = -1;
    for (uint32_t f = 0; f < event->via.map.size; f++) {
        const msgpack_object_kv *kv = &event->via.map.ptr[f];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 7 &&
            memcmp (kv->key.via.str.ptr, "created", 7) == 0 &&
            kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            created = (int64_t) kv->val.via.u64;
    }
    msgpack_unpacked_destroy (&unpacked);
    client_reply_close (&reply);
    assert_true (created > 0);
    return created;
}

//  Writes the msgpack object at data as JSON into a new string (free()).
static char *s_json (const uint8_t *data, size_t size)
{
    char *text = NULL;
    size_t length = 0;
    FILE *file = open_memstream (&text, &length);
    assert_non_null (file);
    assert_int_equal (json_write (file, data, size), 0);
    fclose (file);
    return text;
}

//  --------------------------------------------------------------------------
//  Pipelines: everything sent first, replies collected after

static void s_pipe_id (uint32_t tag, size_t index, uint8_t id[ENVELOPE_ID_SIZE])
{
    uint32_t index32 = (uint32_t) index;
    memset (id, 0, ENVELOPE_ID_SIZE);
    memcpy (id, &tag, 4);
    memcpy (id + 4, &index32, 4);
    id[15] = 0xA5;
}

//  Sends count commands called name, spread over PIPE_CLIENTS clients,
//  without waiting for any reply. The same tag and index give the same
//  message id, so a second pipeline with the tag re-sends the same
//  messages.
static void s_pipe_send (pipe_t *self, fixture_t *fx, uint32_t tag, size_t count, const char *name,
                         pipe_make_fn *make, void *arg)
{
    memset (self, 0, sizeof *self);
    self->tag = tag;
    self->count = count;
    self->outcomes = calloc (count, sizeof (outcome_t));
    assert_non_null (self->outcomes);
    for (int c = 0; c < PIPE_CLIENTS; c++) {
        self->clients[c] = client_new (fx->node.endpoint);
        assert_non_null (self->clients[c]);
    }
    for (size_t i = 0; i < count; i++) {
        char to[SHOAL_ADDRESS_MAX + 1], field[64];
        make (arg, i, to, sizeof to, field, sizeof field);
        char *fields[] = {field};
        uint8_t *payload;
        size_t size;
        char error[256];
        assert_int_equal (client_fields (1, fields, &payload, &size, error, sizeof error), 0);
        uint8_t id[ENVELOPE_ID_SIZE];
        s_pipe_id (tag, i, id);
        envelope_t request;
        client_request (&request, ENVELOPE_COMMAND, id, to, name, payload, size);
        assert_int_equal (client_send (self->clients[i % PIPE_CLIENTS], &request), 0);
        free (payload);
    }
}

//  Collects replies until until of them came, or timeout_ms passed.
//  Every reply must match a request of this pipeline, once.
static void s_pipe_collect (pipe_t *self, size_t until, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (self->answered < until && zclock_mono () < deadline) {
        for (int c = 0; c < PIPE_CLIENTS && self->answered < until; c++) {
            client_reply_t reply;
            int rc = client_recv (self->clients[c], c == 0 ? 5 : 0, &reply);
            if (rc == SHOAL_ETIMEOUT)
                continue;
            assert_int_equal (rc, 0);
            uint8_t id[ENVELOPE_ID_SIZE];
            uint32_t index;
            memcpy (&index, reply.correlation + 4, 4);
            assert_true (index < self->count);
            s_pipe_id (self->tag, index, id);
            assert_memory_equal (reply.correlation, id, ENVELOPE_ID_SIZE);
            outcome_t *outcome = &self->outcomes[index];
            assert_false (outcome->answered);
            outcome->answered = true;
            outcome->ok = reply.ok;
            snprintf (outcome->code, sizeof outcome->code, "%s", reply.code);
            if (!reply.ok || map_int (reply.data, reply.size, "balance", &outcome->balance) != 0)
                outcome->balance = INT64_MIN;
            self->answered++;
            client_reply_close (&reply);
        }
    }
}

//  Drops the clients and whatever they still had queued (linger 0), so
//  that nothing reaches a restarted node on the same endpoint later.
static void s_pipe_disconnect (pipe_t *self)
{
    for (int c = 0; c < PIPE_CLIENTS; c++)
        client_destroy (&self->clients[c]);
}

static void s_pipe_close (pipe_t *self)
{
    s_pipe_disconnect (self);
    free (self->outcomes);
    self->outcomes = NULL;
}

//  --------------------------------------------------------------------------
//  Running the shoal binary

//  Runs the shell command made from format, with stdout and stderr kept in
//  out and err (OUTPUT_MAX bytes each, may be NULL). Returns its exit
//  code, or -1 if it did not exit normally.
static int s_run (fixture_t *fx, char *out, char *err, const char *format, ...)
{
    char command[2048];
    va_list args;
    va_start (args, format);
    int length = vsnprintf (command, sizeof command, format, args);
    va_end (args);
    assert_true (length > 0 && (size_t) length < sizeof command - 300);
    char out_path[128], err_path[128];
    snprintf (out_path, sizeof out_path, "%s/run.out", fx->dir);
    snprintf (err_path, sizeof err_path, "%s/run.err", fx->dir);
    snprintf (command + length, sizeof command - (size_t) length, " >'%s' 2>'%s'", out_path,
              err_path);
    int status = system (command);
    char *buffers[2] = {out, err};
    const char *paths[2] = {out_path, err_path};
    for (int i = 0; i < 2; i++) {
        if (!buffers[i])
            continue;
        FILE *file = fopen (paths[i], "r");
        assert_non_null (file);
        size_t n = fread (buffers[i], 1, OUTPUT_MAX - 1, file);
        buffers[i][n] = 0;
        fclose (file);
    }
    return status != -1 && WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

//  A TCP socket listening on a free port of 127.0.0.1; the caller closes
//  it. While it is open no other process can take the port.
static int s_listening_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    assert_true (fd >= 0);
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl (INADDR_LOOPBACK)};
    assert_int_equal (bind (fd, (struct sockaddr *) &address, sizeof address), 0);
    assert_int_equal (listen (fd, 1), 0);
    return fd;
}

static int s_port_of (int fd)
{
    struct sockaddr_in address;
    socklen_t length = sizeof address;
    assert_int_equal (getsockname (fd, (struct sockaddr *) &address, &length), 0);
    return ntohs (address.sin_port);
}

//  --------------------------------------------------------------------------
//  1. The usage example: open, deposit, get, and what the replies hold.

static void test_usage (void **state)
{
    fixture_t *fx = *state;
    s_start (fx, NULL);

    client_reply_t reply;
    s_call (fx->client, ENVELOPE_COMMAND, NULL, "account/alice", "Open", &reply, "owner=Alice",
            "overdraft=0", NULL);
    assert_true (reply.ok);
    assert_string_equal (reply.from, "account/alice");
    assert_string_equal (reply.name, "Open");
    assert_string_equal (reply.code, "");
    assert_string_equal (reply.reason, "");
    char *json = s_json (reply.data, reply.size);
    assert_string_equal (json, "{\"balance\":0}");
    free (json);
    client_reply_close (&reply);

    s_call (fx->client, ENVELOPE_COMMAND, NULL, "account/alice", "Deposit", &reply, "amount=100",
            NULL);
    assert_true (reply.ok);
    assert_string_equal (reply.name, "Deposit");
    json = s_json (reply.data, reply.size);
    assert_string_equal (json, "{\"balance\":100}");
    free (json);
    client_reply_close (&reply);

    s_call (fx->client, ENVELOPE_COMMAND, NULL, "account/alice", "Withdraw", &reply, "amount=101",
            NULL);
    assert_false (reply.ok);
    assert_string_equal (reply.from, "account/alice");
    assert_string_equal (reply.code, "insufficient_funds");
    assert_non_null (strstr (reply.reason, "100"));
    client_reply_close (&reply);

    s_call (fx->client, ENVELOPE_QUERY, NULL, "account/alice", "get", &reply, NULL);
    assert_true (reply.ok);
    assert_string_equal (reply.name, "get");
    json = s_json (reply.data, reply.size);
    assert_string_equal (json, "{\"address\":\"account/alice\",\"version\":2,\"state\":{\"status\":"
                               "\"open\",\"owner\":\"Alice\",\"balance\":100,\"overdraft\":0}}");
    free (json);
    int64_t balance;
    assert_int_equal (reply_state_int (&reply, "balance", &balance), 0);
    assert_int_equal (balance, 100);
    client_reply_close (&reply);

    s_call (fx->client, ENVELOPE_QUERY, NULL, "account/alice", "events", &reply, NULL);
    assert_true (reply.ok);
    json = s_json (reply.data, reply.size);
    assert_non_null (strstr (json,
                             "{\"address\":\"account/alice\",\"events\":[{\"seq\":1,\"event\":"
                             "\"Opened\",\"data\":{\"owner\":\"Alice\",\"overdraft\":0},"));
    assert_non_null (strstr (json, "{\"seq\":2,\"event\":\"Deposited\",\"data\":{\"amount\":100}"));
    assert_non_null (strstr (json, "],\"next\":3}"));
    free (json);
    client_reply_close (&reply);
    assert_int_equal (s_events (fx, "account/alice"), 2);

    //  A never-opened account reads as version 0, status none.
    int64_t version;
    char status[16];
    s_get (fx, "account/nobody", &version, &balance, status, sizeof status);
    assert_int_equal (version, 0);
    assert_int_equal (balance, 0);
    assert_string_equal (status, "none");

    assert_int_equal (s_stat (fx, "accepted"), 2);
    assert_int_equal (s_stat (fx, "rejected"), 1);
    assert_int_equal (s_stat (fx, "events"), 2);
    assert_int_equal (s_stat (fx, "workers"), 2);
    assert_int_equal (s_stat (fx, "bad_frames"), 0);
}

//  --------------------------------------------------------------------------
//  2. 1000 concurrent withdrawals of 1 against a balance of 500.

static void s_make_withdraw (void *arg, size_t index, char *to, size_t to_size, char *field,
                             size_t field_size)
{
    snprintf (to, to_size, "account/hot");
    snprintf (field, field_size, "amount=1");
}

static void test_concurrent_withdrawals (void **state)
{
    fixture_t *fx = *state;
    s_start (fx, NULL);
    s_ok (fx, "account/hot", "Open", "owner=Hot", NULL);
    assert_int_equal (s_ok (fx, "account/hot", "Deposit", "amount=500", NULL), 500);

    pipe_t pipe;
    s_pipe_send (&pipe, fx, 0x7701, 1000, "Withdraw", s_make_withdraw, NULL);
    s_pipe_collect (&pipe, 1000, 30000);
    assert_int_equal (pipe.answered, 1000);
    size_t accepted = 0, rejected = 0;
    bool balance_seen[500] = {false};
    for (size_t i = 0; i < 1000; i++) {
        outcome_t *outcome = &pipe.outcomes[i];
        if (outcome->ok) {
            accepted++;
            //  Each accepted withdrawal saw its own balance: 499 down to 0.
            assert_true (outcome->balance >= 0 && outcome->balance < 500);
            assert_false (balance_seen[outcome->balance]);
            balance_seen[outcome->balance] = true;
        } else {
            rejected++;
            assert_string_equal (outcome->code, "insufficient_funds");
        }
    }
    s_pipe_close (&pipe);
    assert_int_equal (accepted, 500);
    assert_int_equal (rejected, 500);

    int64_t version, balance;
    s_get (fx, "account/hot", &version, &balance, NULL, 0);
    assert_int_equal (balance, 0);
    assert_int_equal (version, 2 + 500);
    assert_int_equal (s_events (fx, "account/hot"), 502);
    assert_int_equal (s_stat (fx, "accepted"), 2 + 500);
    assert_int_equal (s_stat (fx, "rejected"), 500);
}

//  --------------------------------------------------------------------------
//  3. SIGKILL right after a batch is acknowledged loses nothing.

#define KILL_ACCOUNTS 30
#define KILL_DEPOSITS 300

static void s_make_deposit (void *arg, size_t index, char *to, size_t to_size, char *field,
                            size_t field_size)
{
    size_t accounts = *(size_t *) arg;
    snprintf (to, to_size, "account/k%zu", index % accounts);
    snprintf (field, field_size, "amount=%zu", index + 1);
}

static void test_sigkill_after_ack (void **state)
{
    fixture_t *fx = *state;
    s_start (fx, NULL);
    for (int a = 0; a < KILL_ACCOUNTS; a++) {
        char address[32];
        snprintf (address, sizeof address, "account/k%d", a);
        s_ok (fx, address, "Open", "owner=K", NULL);
    }
    size_t accounts = KILL_ACCOUNTS;
    pipe_t pipe;
    s_pipe_send (&pipe, fx, 0x7703, KILL_DEPOSITS, "Deposit", s_make_deposit, &accounts);
    s_pipe_collect (&pipe, KILL_DEPOSITS, 30000);
    //  Every one acknowledged: kill at once, before anything else happens.
    size_t answered = pipe.answered;
    s_pipe_disconnect (&pipe);
    s_restart (fx, SIGKILL, NULL, NULL, NULL, NULL);
    assert_int_equal (answered, KILL_DEPOSITS);
    for (size_t i = 0; i < KILL_DEPOSITS; i++)
        assert_true (pipe.outcomes[i].ok);
    s_pipe_close (&pipe);

    for (int a = 0; a < KILL_ACCOUNTS; a++) {
        char address[32];
        snprintf (address, sizeof address, "account/k%d", a);
        int64_t expected = 0;
        for (int i = a; i < KILL_DEPOSITS; i += KILL_ACCOUNTS)
            expected += i + 1;
        int64_t version, balance;
        char status[16];
        s_get (fx, address, &version, &balance, status, sizeof status);
        assert_string_equal (status, "open");
        assert_int_equal (balance, expected);
        assert_int_equal (version, 1 + KILL_DEPOSITS / KILL_ACCOUNTS);
        assert_int_equal (s_events (fx, address), 1 + KILL_DEPOSITS / KILL_ACCOUNTS);
    }
    //  And the same through `shoal events`: one JSON line per event.
    char out[OUTPUT_MAX];
    int code = s_run (fx, out, NULL, "'%s' events --endpoint '%s' account/k7", s_bin (),
                      fx->node.endpoint);
    assert_int_equal (code, 0);
    int lines = 0;
    for (char *p = out; (p = strchr (p, '\n')); p++)
        lines++;
    assert_int_equal (lines, 1 + KILL_DEPOSITS / KILL_ACCOUNTS);
    assert_non_null (strstr (out, "{\"seq\":1,\"event\":\"Opened\""));
    //  The clients' deposits interleave in any order, but all are there.
    assert_non_null (strstr (out, "{\"seq\":11,\"event\":\"Deposited\",\"data\":{\"amount\":"));
    for (int i = 7; i < KILL_DEPOSITS; i += KILL_ACCOUNTS) {
        char amount[48];
        snprintf (amount, sizeof amount, "\"data\":{\"amount\":%d}}\n", i + 1);
        assert_non_null (strstr (out, amount));
    }
}

//  A stop (SIGKILL, or a clean SIGTERM) with deposits still in flight:
//  whatever was acknowledged is there, nothing is half there, and
//  re-sending every message with its same id after the restart ends with
//  each applied exactly once. Snapshots every 7 events are taken along.
#define MID_ACCOUNTS 10
#define MID_DEPOSITS 1000

static void s_make_unit_deposit (void *arg, size_t index, char *to, size_t to_size, char *field,
                                 size_t field_size)
{
    snprintf (to, to_size, "account/m%zu", index % MID_ACCOUNTS);
    snprintf (field, field_size, "amount=1");
}

static void s_stop_in_flight_then_resend (fixture_t *fx, int sig)
{
    s_start (fx, "--snapshot-every", "7", NULL);
    for (int a = 0; a < MID_ACCOUNTS; a++) {
        char address[32];
        snprintf (address, sizeof address, "account/m%d", a);
        s_ok (fx, address, "Open", "owner=M", NULL);
    }
    pipe_t pipe;
    s_pipe_send (&pipe, fx, 0x7704, MID_DEPOSITS, "Deposit", s_make_unit_deposit, NULL);
    s_pipe_collect (&pipe, MID_DEPOSITS / 5, 30000);
    s_pipe_disconnect (&pipe);
    s_restart (fx, sig, "--snapshot-every", "7", NULL, NULL);
    assert_true (pipe.answered >= MID_DEPOSITS / 5);
    size_t acked[MID_ACCOUNTS] = {0};
    for (size_t i = 0; i < MID_DEPOSITS; i++)
        if (pipe.outcomes[i].answered) {
            assert_true (pipe.outcomes[i].ok);
            acked[i % MID_ACCOUNTS]++;
        }
    size_t acked_total = pipe.answered;
    s_pipe_close (&pipe);

    for (int a = 0; a < MID_ACCOUNTS; a++) {
        char address[32];
        snprintf (address, sizeof address, "account/m%d", a);
        int64_t version, balance;
        s_get (fx, address, &version, &balance, NULL, 0);
        assert_int_equal (balance, version - 1); //  each event a deposit of 1
        assert_true ((size_t) balance >= acked[a]);
        assert_true (balance <= MID_DEPOSITS / MID_ACCOUNTS);
        assert_int_equal (s_events (fx, address), version);
    }

    //  The client never got the other replies: it re-sends everything.
    s_pipe_send (&pipe, fx, 0x7704, MID_DEPOSITS, "Deposit", s_make_unit_deposit, NULL);
    s_pipe_collect (&pipe, MID_DEPOSITS, 30000);
    assert_int_equal (pipe.answered, MID_DEPOSITS);
    for (size_t i = 0; i < MID_DEPOSITS; i++)
        assert_true (pipe.outcomes[i].ok);
    s_pipe_close (&pipe);
    for (int a = 0; a < MID_ACCOUNTS; a++) {
        char address[32];
        snprintf (address, sizeof address, "account/m%d", a);
        int64_t version, balance;
        s_get (fx, address, &version, &balance, NULL, 0);
        assert_int_equal (balance, MID_DEPOSITS / MID_ACCOUNTS);
        assert_int_equal (version, 1 + MID_DEPOSITS / MID_ACCOUNTS);
        assert_int_equal (s_events (fx, address), 1 + MID_DEPOSITS / MID_ACCOUNTS);
    }
    assert_true (s_stat (fx, "duplicates") >= (int64_t) acked_total);
}

static void test_sigkill_in_flight_then_resend (void **state)
{
    s_stop_in_flight_then_resend (*state, SIGKILL);
}

static void test_sigterm_in_flight_then_resend (void **state)
{
    s_stop_in_flight_then_resend (*state, SIGTERM);
}

//  With --durability async a commit is not fsynced, but it is written:
//  a process crash (not a power cut) still loses no acknowledged change.
static void test_async_sigkill_after_ack (void **state)
{
    fixture_t *fx = *state;
    s_start (fx, "--durability", "async", NULL);
    size_t accounts = 10;
    for (size_t a = 0; a < accounts; a++) {
        char address[32];
        snprintf (address, sizeof address, "account/k%zu", a);
        s_ok (fx, address, "Open", "owner=A", NULL);
    }
    pipe_t pipe;
    s_pipe_send (&pipe, fx, 0x7705, 200, "Deposit", s_make_deposit, &accounts);
    s_pipe_collect (&pipe, 200, 30000);
    size_t answered = pipe.answered;
    s_pipe_disconnect (&pipe);
    s_restart (fx, SIGKILL, "--durability", "async", NULL, NULL);
    assert_int_equal (answered, 200);
    for (size_t i = 0; i < 200; i++)
        assert_true (pipe.outcomes[i].ok);
    s_pipe_close (&pipe);
    for (size_t a = 0; a < accounts; a++) {
        char address[32];
        snprintf (address, sizeof address, "account/k%zu", a);
        int64_t expected = 0;
        for (size_t i = a; i < 200; i += accounts)
            expected += (int64_t) i + 1;
        int64_t version, balance;
        s_get (fx, address, &version, &balance, NULL, 0);
        assert_int_equal (balance, expected);
        assert_int_equal (version, 1 + 200 / accounts);
        assert_int_equal (s_events (fx, address), 1 + 200 / accounts);
    }
}

//  --------------------------------------------------------------------------
//  4. Passivation of idle actors, and snapshots.

static void test_passivation (void **state)
{
    fixture_t *fx = *state;
    s_start (fx, "--idle-ms", "200", NULL);
    const char *addresses[] = {"account/p1", "account/p2", "account/p3"};
    for (int a = 0; a < 3; a++) {
        s_ok (fx, addresses[a], "Open", "owner=P", "overdraft=5", NULL);
        for (int d = 0; d <= a; d++)
            s_ok (fx, addresses[a], "Deposit", "amount=10", NULL);
    }
    s_ok (fx, "account/p3", "Withdraw", "amount=35", NULL);
    //  (A slow run may already have passivated p1 here: it is idle.)
    int64_t active = s_stat (fx, "active");
    assert_true (active >= 1 && active <= 3);

    zclock_sleep (1600);
    int64_t deadline = zclock_mono () + 3000; //  slack for a slow ASan run
    while (s_stat (fx, "active") > 0 && zclock_mono () < deadline)
        zclock_sleep (50);
    assert_int_equal (s_stat (fx, "active"), 0);
    assert_true (s_stat (fx, "passivations") >= 3);
    int64_t activations = s_stat (fx, "activations");

    //  Activated again from the journal, in the same state.
    int64_t version, balance;
    char status[16];
    s_get (fx, "account/p1", &version, &balance, status, sizeof status);
    assert_int_equal (version, 2);
    assert_int_equal (balance, 10);
    assert_string_equal (status, "open");
    s_get (fx, "account/p2", &version, &balance, NULL, 0);
    assert_int_equal (version, 3);
    assert_int_equal (balance, 20);
    s_get (fx, "account/p3", &version, &balance, NULL, 0);
    assert_int_equal (version, 5);
    assert_int_equal (balance, -5);
    assert_int_equal (s_stat (fx, "activations"), activations + 3);
    //  And its overdraft came back with it.
    s_rejected (fx, "insufficient_funds", "account/p3", "Withdraw", "amount=1", NULL);
    assert_int_equal (s_ok (fx, "account/p3", "Deposit", "amount=6", NULL), 1);
}

#define SAGAS 20

//  The transfer's status, by a get.
static void s_transfer_status (fixture_t *fx, const char *address, char *status, size_t size)
{
    s_get (fx, address, NULL, NULL, status, size);
}

//  A saga at its end asks to leave memory (shoal_ctx_passivate): with
//  --idle-ms at its default of a minute, the finished transfers are out
//  of the table at once, a client's get of one, or its Start sent again,
//  loads it for the answer only, and a message to one loads it again, in
//  the state it ended in.
static void test_passivate_finished_sagas (void **state)
{
    fixture_t *fx = *state;
    s_start (fx, NULL);
    s_ok (fx, "account/s1", "Open", "owner=S", NULL);
    s_ok (fx, "account/s2", "Open", "owner=S", NULL);
    s_ok (fx, "account/s1", "Deposit", "amount=1000", NULL);
    int64_t passivations = s_stat (fx, "passivations");
    char address[32], status[16];
    uint8_t start_id[ENVELOPE_ID_SIZE];
    memset (start_id, 0x5a, sizeof start_id);
    client_reply_t reply;
    for (int i = 0; i < SAGAS; i++) {
        snprintf (address, sizeof address, "transfer/ps%d", i);
        if (i == 0) { //  with an id of ours, to send it again below
            s_call (fx->client, ENVELOPE_COMMAND, start_id, address, "Start", &reply, "from=s1",
                    "to=s2", "amount=7", NULL);
            assert_true (reply.ok);
            client_reply_close (&reply);
        } else
            s_ok (fx, address, "Start", "from=s1", "to=s2", "amount=7", NULL);
        int64_t deadline = zclock_mono () + 10000;
        do {
            s_transfer_status (fx, address, status, sizeof status);
            if (strcmp (status, "completed") != 0)
                zclock_sleep (10);
        } while (strcmp (status, "completed") != 0 && zclock_mono () < deadline);
        assert_string_equal (status, "completed");
    }
    //  Only the two accounts stay; every saga left, each once.
    int64_t deadline = zclock_mono () + 10000;
    while (s_stat (fx, "active") != 2 && zclock_mono () < deadline)
        zclock_sleep (20);
    assert_int_equal (s_stat (fx, "active"), 2);
    assert_int_equal (s_stat (fx, "passivations"), passivations + SAGAS);

    //  A get reads a finished saga without keeping it.
    int64_t version;
    for (int i = 0; i < SAGAS; i++) {
        snprintf (address, sizeof address, "transfer/ps%d", i);
        s_get (fx, address, &version, NULL, status, sizeof status);
        assert_string_equal (status, "completed");
        assert_int_equal (version, 3); //  Started, Debited, Completed
    }
    assert_int_equal (s_stat (fx, "active"), 2);

    //  Its Start again, the same id: answered from its first event, as
    //  the first time (a duplicate), and it is not kept either.
    int64_t duplicates = s_stat (fx, "duplicates");
    s_call (fx->client, ENVELOPE_COMMAND, start_id, "transfer/ps0", "Start", &reply, "from=s1",
            "to=s2", "amount=7", NULL);
    assert_true (reply.ok);
    client_reply_close (&reply);
    assert_int_equal (s_stat (fx, "duplicates"), duplicates + 1);
    assert_int_equal (s_stat (fx, "active"), 2);

    //  A command loads it again, answers from its state, and it leaves
    //  again once that turn is committed.
    s_ok (fx, "transfer/ps0", "Status", NULL);
    deadline = zclock_mono () + 10000;
    while (s_stat (fx, "active") != 2 && zclock_mono () < deadline)
        zclock_sleep (20);
    assert_int_equal (s_stat (fx, "active"), 2);
    assert_int_equal (s_stat (fx, "passivations"), passivations + SAGAS + 1);
    int64_t balance;
    s_get (fx, "account/s1", NULL, &balance, NULL, 0);
    assert_int_equal (balance, 1000 - 7 * SAGAS);
    s_get (fx, "account/s2", NULL, &balance, NULL, 0);
    assert_int_equal (balance, 7 * SAGAS);
}

static void test_snapshots (void **state)
{
    fixture_t *fx = *state;
    s_start (fx, "--snapshot-every", "5", "--shards", "8", NULL);
    assert_int_equal (s_stat (fx, "shards"), 8);
    s_ok (fx, "account/s", "Open", "owner=Snap", "overdraft=7", NULL);
    int64_t expected = 0;
    for (int i = 1; i <= 23; i++) {
        char amount[32];
        snprintf (amount, sizeof amount, "amount=%d", i);
        expected += i;
        assert_int_equal (s_ok (fx, "account/s", "Deposit", amount, NULL), expected);
    }
    client_reply_t before;
    s_call (fx->client, ENVELOPE_QUERY, NULL, "account/s", "get", &before, NULL);
    assert_true (before.ok);
    char *before_json = s_json (before.data, before.size);
    client_reply_close (&before);
    assert_string_equal (before_json,
                         "{\"address\":\"account/s\",\"version\":24,\"state\":{\"status\":\"open\","
                         "\"owner\":\"Snap\",\"balance\":276,\"overdraft\":7}}");

    //  Killed; the store holds a snapshot at 20 and four events after it.
    client_destroy (&fx->client);
    node_child_stop (&fx->node, SIGKILL);
    int code;
    char *error = NULL;
    journal_t *journal = journal_open (fx->data, NULL, &code, &error);
    assert_non_null (journal);
    int64_t seq;
    uint8_t *snapshot;
    size_t size;
    assert_int_equal (journal_snapshot_get (journal, "account/s", &seq, &snapshot, &size), 0);
    assert_int_equal (seq, 20);
    free (snapshot);
    journal_destroy (&journal);

    //  No --shards: the store's count holds (another count is refused, see
    //  test_shard.c).
    s_start (fx, "--snapshot-every", "5", NULL);
    assert_int_equal (s_stat (fx, "shards"), 8); //  fixed when the store was made
    client_reply_t after;
    s_call (fx->client, ENVELOPE_QUERY, NULL, "account/s", "get", &after, NULL);
    assert_true (after.ok);
    char *after_json = s_json (after.data, after.size);
    client_reply_close (&after);
    assert_string_equal (after_json, before_json);
    free (before_json);
    free (after_json);
    assert_int_equal (s_events (fx, "account/s"), 24);
    //  It goes on from there: version 25, the overdraft still applies.
    assert_int_equal (s_ok (fx, "account/s", "Withdraw", "amount=283", NULL), -7);
    s_rejected (fx, "insufficient_funds", "account/s", "Withdraw", "amount=1", NULL);
    int64_t version, balance;
    s_get (fx, "account/s", &version, &balance, NULL, 0);
    assert_int_equal (version, 25);
    assert_int_equal (balance, -7);
    assert_int_equal (s_events (fx, "account/s"), 25);
    //  Event 25 took a snapshot: restored from it alone, nothing after it.
    s_restart (fx, SIGKILL, "--snapshot-every", "5", NULL, NULL);
    s_get (fx, "account/s", &version, &balance, NULL, 0);
    assert_int_equal (version, 25);
    assert_int_equal (balance, -7);
    s_rejected (fx, "insufficient_funds", "account/s", "Withdraw", "amount=1", NULL);
    assert_int_equal (s_ok (fx, "account/s", "Deposit", "amount=7", NULL), 0);
}

//  Events read back page by page: the events query pages at 1000, and
//  `shoal events` follows the pages.
static void s_make_ordered_deposit (void *arg, size_t index, char *to, size_t to_size, char *field,
                                    size_t field_size)
{
    snprintf (to, to_size, "account/long");
    snprintf (field, field_size, "amount=%zu", index + 1);
}

static void test_events_paging (void **state)
{
    fixture_t *fx = *state;
    s_start (fx, NULL);
    s_ok (fx, "account/long", "Open", "owner=L", NULL);
    //  On one connection, so that they arrive and commit in order.
    client_t *one = fx->client;
    for (size_t i = 0; i < 1199; i++) {
        char to[32], field[32];
        s_make_ordered_deposit (NULL, i, to, sizeof to, field, sizeof field);
        char *fields[] = {field};
        uint8_t *payload;
        size_t size;
        char error[64];
        assert_int_equal (client_fields (1, fields, &payload, &size, error, sizeof error), 0);
        envelope_t request;
        client_request (&request, ENVELOPE_COMMAND, NULL, to, "Deposit", payload, size);
        assert_int_equal (client_send (one, &request), 0);
        free (payload);
    }
    for (size_t i = 0; i < 1199; i++) {
        client_reply_t reply;
        assert_int_equal (client_recv (one, CALL_TIMEOUT_MS, &reply), 0);
        assert_true (reply.ok);
        client_reply_close (&reply);
    }
    int64_t version, balance;
    s_get (fx, "account/long", &version, &balance, NULL, 0);
    assert_int_equal (version, 1200);
    assert_int_equal (balance, 1199 * 1200 / 2);
    assert_int_equal (s_events (fx, "account/long"), 1200);

    client_reply_t reply;
    s_call (fx->client, ENVELOPE_QUERY, NULL, "account/long", "events", &reply, "from=1", NULL);
    int64_t next;
    assert_int_equal (map_int (reply.data, reply.size, "next", &next), 0);
    assert_int_equal (next, 1001); //  the default page
    client_reply_close (&reply);
    s_call (fx->client, ENVELOPE_QUERY, NULL, "account/long", "events", &reply, "from=5",
            "limit=10", NULL);
    assert_int_equal (map_int (reply.data, reply.size, "next", &next), 0);
    assert_int_equal (next, 15);
    char *json = s_json (reply.data, reply.size);
    assert_non_null (strstr (json, "{\"seq\":5,\"event\":\"Deposited\",\"data\":{\"amount\":4}"));
    assert_non_null (strstr (json, "{\"seq\":14,\"event\":\"Deposited\",\"data\":{\"amount\":13}"));
    assert_null (strstr (json, "\"seq\":15,"));
    free (json);
    client_reply_close (&reply);

    static char out[64 * 1024];
    char command[512];
    snprintf (command, sizeof command, "'%s' events --endpoint '%s' account/long", s_bin (),
              fx->node.endpoint);
    FILE *pipe = popen (command, "r");
    assert_non_null (pipe);
    size_t lines = 0;
    char line[256];
    while (fgets (line, sizeof line, pipe)) {
        lines++;
        char expected[64];
        snprintf (expected, sizeof expected, "{\"seq\":%zu,", lines);
        assert_true (strncmp (line, expected, strlen (expected)) == 0);
    }
    int status = pclose (pipe);
    assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    assert_int_equal (lines, 1200);
    int code = s_run (fx, out, NULL, "'%s' events --endpoint '%s' --from 1150 account/long",
                      s_bin (), fx->node.endpoint);
    assert_int_equal (code, 0);
    lines = 0;
    for (char *p = out; (p = strchr (p, '\n')); p++)
        lines++;
    assert_int_equal (lines, 51);
    assert_true (strncmp (out, "{\"seq\":1150,", 12) == 0);
}

//  --------------------------------------------------------------------------
//  5. The same message id twice: one effect, the same reply.

//  Sends the command with id twice, one after the other, and checks both
//  replies are the same. Returns whether it was accepted.
static bool s_twice (fixture_t *fx, const char *id_text, const char *to, const char *name,
                     const char *field)
{
    uint8_t id[ENVELOPE_ID_SIZE];
    client_id_from_string (id_text, id);
    client_reply_t first, second;
    s_call (fx->client, ENVELOPE_COMMAND, id, to, name, &first, field, NULL);
    s_call (fx->client, ENVELOPE_COMMAND, id, to, name, &second, field, NULL);
    assert_int_equal (first.ok, second.ok);
    assert_string_equal (first.code, second.code);
    assert_string_equal (first.reason, second.reason);
    assert_int_equal (first.size, second.size);
    assert_memory_equal (first.data, second.data, first.size);
    bool ok = first.ok;
    client_reply_close (&first);
    client_reply_close (&second);
    return ok;
}

static void test_duplicate_ids (void **state)
{
    fixture_t *fx = *state;
    s_start (fx, NULL);
    s_ok (fx, "account/d", "Open", "owner=D", NULL);
    int64_t version, balance;

    //  Accepted: one deposit of 10, answered twice.
    assert_true (s_twice (fx, "dup-1", "account/d", "Deposit", "amount=10"));
    s_get (fx, "account/d", &version, &balance, NULL, 0);
    assert_int_equal (version, 2);
    assert_int_equal (balance, 10);

    //  Rejected: the stored rejection stands even once it would pass.
    assert_false (s_twice (fx, "dup-2", "account/d", "Withdraw", "amount=50"));
    s_get (fx, "account/d", &version, &balance, NULL, 0);
    assert_int_equal (version, 2);
    assert_int_equal (balance, 10);
    s_ok (fx, "account/d", "Deposit", "amount=100", NULL);
    uint8_t id[ENVELOPE_ID_SIZE];
    client_id_from_string ("dup-2", id);
    client_reply_t reply;
    s_call (fx->client, ENVELOPE_COMMAND, id, "account/d", "Withdraw", &reply, "amount=50", NULL);
    assert_false (reply.ok);
    assert_string_equal (reply.code, "insufficient_funds");
    client_reply_close (&reply);
    s_get (fx, "account/d", &version, &balance, NULL, 0);
    assert_int_equal (version, 3);
    assert_int_equal (balance, 110);

    //  Both copies in flight at once (likely in one group commit).
    client_id_from_string ("dup-pipelined", id);
    uint8_t *payload;
    size_t size;
    char *fields[] = {"amount=5"};
    char error[128];
    assert_int_equal (client_fields (1, fields, &payload, &size, error, sizeof error), 0);
    envelope_t request;
    client_request (&request, ENVELOPE_COMMAND, id, "account/d", "Deposit", payload, size);
    assert_int_equal (client_send (fx->client, &request), 0);
    assert_int_equal (client_send (fx->client, &request), 0);
    free (payload);
    int64_t balances[2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal (client_recv (fx->client, CALL_TIMEOUT_MS, &reply), 0);
        assert_memory_equal (reply.correlation, id, ENVELOPE_ID_SIZE);
        assert_true (reply.ok);
        assert_int_equal (map_int (reply.data, reply.size, "balance", &balances[i]), 0);
        client_reply_close (&reply);
    }
    assert_int_equal (balances[0], 115);
    assert_int_equal (balances[1], 115);
    s_get (fx, "account/d", &version, &balance, NULL, 0);
    assert_int_equal (version, 4);
    assert_int_equal (balance, 115);

    //  Through the binary: same exit code, byte-identical stdout.
    const char *cases[][3] = {{"dup-3", "Deposit", "0"}, {"dup-4", "Withdraw", "1"}};
    for (int c = 0; c < 2; c++) {
        char out[2][OUTPUT_MAX];
        for (int run = 0; run < 2; run++) {
            int code = s_run (fx, out[run], NULL,
                              "'%s' send --endpoint '%s' --id %s account/d %s amount=%s", s_bin (),
                              fx->node.endpoint, cases[c][0], cases[c][1], c == 0 ? "7" : "1000");
            assert_int_equal (code, atoi (cases[c][2]));
        }
        assert_string_equal (out[0], out[1]);
        assert_non_null (
            strstr (out[0], c == 0 ? "\"ok\":true" : "\"code\":\"insufficient_funds\""));
        char hex[2 * ENVELOPE_ID_SIZE + 1];
        client_id_from_string (cases[c][0], id);
        client_id_hex (id, hex);
        assert_non_null (strstr (out[0], hex));
    }
    s_get (fx, "account/d", &version, &balance, NULL, 0);
    assert_int_equal (version, 5);
    assert_int_equal (balance, 122);
    assert_int_equal (s_events (fx, "account/d"), 5);
    assert_int_equal (s_stat (fx, "duplicates"), 6);

    //  The inbox outlives the node: after a clean stop (SIGTERM, exit 0,
    //  so no leak either under ASan) dup-1 is still answered, not redone.
    s_restart (fx, SIGTERM, NULL, NULL, NULL, NULL);
    client_id_from_string ("dup-1", id);
    s_call (fx->client, ENVELOPE_COMMAND, id, "account/d", "Deposit", &reply, "amount=10", NULL);
    assert_true (reply.ok);
    assert_int_equal (map_int (reply.data, reply.size, "balance", &balance), 0);
    assert_int_equal (balance, 10); //  the balance it answered the first time
    client_reply_close (&reply);
    s_get (fx, "account/d", &version, &balance, NULL, 0);
    assert_int_equal (version, 5);
    assert_int_equal (balance, 122);
    assert_int_equal (s_stat (fx, "duplicates"), 1);
}

//  --------------------------------------------------------------------------
//  6. Modules, and the node's start-up failures.

static void test_module (void **state)
{
    fixture_t *fx = *state;
    const char *module = getenv ("SHOAL_TEST_MODULE");
    assert_non_null (module);
    s_start (fx, "--module", module, NULL);
    client_reply_t reply;
    s_call (fx->client, ENVELOPE_COMMAND, NULL, "counter/c1", "Add", &reply, "by=5", NULL);
    assert_true (reply.ok);
    int64_t value;
    assert_int_equal (map_int (reply.data, reply.size, "value", &value), 0);
    assert_int_equal (value, 5);
    client_reply_close (&reply);
    s_call (fx->client, ENVELOPE_COMMAND, NULL, "counter/c1", "Get", &reply, NULL);
    assert_true (reply.ok);
    assert_int_equal (map_int (reply.data, reply.size, "value", &value), 0);
    assert_int_equal (value, 5);
    client_reply_close (&reply);
    s_rejected (fx, "invalid_field", "counter/c1", "Add", "by=1001", NULL);
    int64_t version;
    s_get (fx, "counter/c1", &version, NULL, NULL, 0);
    assert_int_equal (version, 1);
    //  A handler's failure is not a decision: it is not stored, and the
    //  same message id sent again runs again (then, accepted, is stored).
    uint8_t id[ENVELOPE_ID_SIZE];
    envelope_new_id (id);
    s_call (fx->client, ENVELOPE_COMMAND, id, "counter/c1", "Flaky", &reply, NULL);
    assert_false (reply.ok);
    assert_string_equal (reply.code, "handler_error");
    client_reply_close (&reply);
    for (int i = 0; i < 2; i++) {
        s_call (fx->client, ENVELOPE_COMMAND, id, "counter/c1", "Flaky", &reply, NULL);
        assert_true (reply.ok);
        assert_int_equal (map_int (reply.data, reply.size, "value", &value), 0);
        assert_int_equal (value, 6);
        client_reply_close (&reply);
    }
    s_get (fx, "counter/c1", &version, NULL, NULL, 0);
    assert_int_equal (version, 2);
    //  The bank's types are still there beside it.
    s_ok (fx, "account/m", "Open", "owner=M", NULL);

    //  A second node on the same data directory: exit 1, "in use".
    char out[OUTPUT_MAX], err[OUTPUT_MAX];
    int code =
        s_run (fx, out, err, "timeout 30 '%s' node --data '%s' --endpoint 'ipc://%s/second.ipc'",
               s_bin (), fx->data, fx->dir);
    assert_int_equal (code, 1);
    assert_null (strstr (out, "ready on"));
    assert_non_null (strstr (err, "in use"));
    //  Another store on an endpoint something listens on: exit 1, cannot
    //  listen. (A TCP port this test holds: an ipc:// path would be taken
    //  over, as ZeroMQ unlinks what is there before it binds.)
    char other[160], taken[64];
    snprintf (other, sizeof other, "%s/other", fx->dir);
    int holder = s_listening_port ();
    snprintf (taken, sizeof taken, "tcp://127.0.0.1:%d", s_port_of (holder));
    code = s_run (fx, out, err, "timeout 30 '%s' node --data '%s' --endpoint '%s'", s_bin (), other,
                  taken);
    close (holder);
    assert_int_equal (code, 1);
    assert_null (strstr (out, "ready on"));
    assert_non_null (strstr (err, "cannot listen"));
    //  The first one is not disturbed.
    s_call (fx->client, ENVELOPE_COMMAND, NULL, "counter/c1", "Add", &reply, "by=2", NULL);
    assert_true (reply.ok);
    assert_int_equal (map_int (reply.data, reply.size, "value", &value), 0);
    assert_int_equal (value, 8);
    client_reply_close (&reply);

    //  A module's durable timer survives a SIGKILL right after it was set,
    //  and fires once: not again after a second restart. It fired in the
    //  restarted node: its event was made after the old one was gone,
    //  however long the restart took (the timer is due then, or overdue).
    s_ok (fx, "counter/t", "Remind", "ms=1500", NULL);
    s_stop (fx, SIGKILL);
    int64_t killed = zclock_time ();
    s_start (fx, "--module", module, NULL);
    int64_t deadline = zclock_mono () + 20000;
    while (s_events (fx, "counter/t") == 0 && zclock_mono () < deadline)
        zclock_sleep (50);
    assert_int_equal (s_events (fx, "counter/t"), 1);
    assert_true (s_event_created (fx, "counter/t", 1) >= killed);
    //  (Waiting a while for a second firing that must not come can only
    //  pass on a slow machine, not fail.)
    s_restart (fx, SIGTERM, "--module", module, NULL, NULL);
    zclock_sleep (300);
    assert_int_equal (s_events (fx, "counter/t"), 1);
    s_get (fx, "counter/c1", &version, NULL, NULL, 0);
    assert_int_equal (version, 3);
}

static void test_module_missing (void **state)
{
    fixture_t *fx = *state;
    char out[OUTPUT_MAX], err[OUTPUT_MAX];
    int code = s_run (fx, out, err,
                      "timeout 30 '%s' node --data '%s' --endpoint '%s' --module /nonexistent.so",
                      s_bin (), fx->data, fx->endpoint);
    assert_int_equal (code, 1);
    assert_null (strstr (out, "ready on"));
    assert_non_null (strstr (err, "cannot load module /nonexistent.so"));
    //  node_child_start sees it end without a ready line.
    char *extra[] = {"--module", "/nonexistent.so", NULL};
    node_child_t child;
    int rc = node_child_start (&child, s_bin (), fx->data, fx->endpoint, extra, fx->log,
                               START_TIMEOUT_MS);
    assert_int_not_equal (rc, 0);
    assert_int_equal (child.pid, 0);
    //  Bad options: exit 2.
    code = s_run (fx, out, err, "timeout 30 '%s' node --data '%s' --workers 0", s_bin (), fx->data);
    assert_int_equal (code, 2);
    assert_non_null (strstr (err, "--workers"));
    code = s_run (fx, out, err, "timeout 30 '%s' node --data '%s' --durability sometimes", s_bin (),
                  fx->data);
    assert_int_equal (code, 2);
}

static int s_never_apply (void *state, const char *event, const shoal_data_t *data)
{
    (void) state, (void) event, (void) data;
    return SHOAL_EINVAL;
}

static int s_never_handle (shoal_ctx_t *ctx, const void *state, const shoal_msg_t *msg)
{
    (void) ctx, (void) state, (void) msg;
    return SHOAL_EINVAL;
}

static void s_never_view (const void *state, shoal_rec_t *out)
{
    (void) state, (void) out;
}

//  The embedding API refuses what would break a node: negative options,
//  an oversized state, a module's types left behind by its failed init
//  (their structs unloaded with it), a module loaded after the start.
static void test_node_api_guards (void **state)
{
    fixture_t *fx = *state;
    const char *module = getenv ("SHOAL_TEST_MODULE");
    assert_non_null (module);
    int code = 0;
    char *error = NULL;
    shoal_node_options_t options = {.data_dir = fx->data, .idle_ms = -1};
    assert_null (shoal_node_new (&options, &code, &error));
    assert_int_equal (code, SHOAL_EINVAL);
    assert_non_null (error);
    free (error);
    error = NULL;

    options = (shoal_node_options_t){.data_dir = fx->data, .endpoint = fx->endpoint, .workers = 1};
    shoal_node_t *node = shoal_node_new (&options, &code, &error);
    assert_non_null (node);
    static const shoal_type_t huge = {
        .name = "huge",
        .state_size = SHOAL_STATE_MAX + 1,
        .apply = s_never_apply,
        .handle = s_never_handle,
        .view = s_never_view,
    };
    assert_int_equal (shoal_register (shoal_node_registry (node), &huge), SHOAL_ETOOBIG);

    setenv ("COUNTER_MODULE_FAIL", "1", 1);
    assert_int_equal (shoal_node_load_module (node, module, &error), SHOAL_EMODULE);
    unsetenv ("COUNTER_MODULE_FAIL");
    assert_non_null (strstr (error, "failed to start"));
    free (error);
    error = NULL;
    //  Had counter stayed registered, this would fail with "already exists".
    assert_int_equal (shoal_node_load_module (node, module, &error), 0);
    assert_int_equal (shoal_node_start (node, &error), 0);
    assert_int_equal (shoal_node_load_module (node, module, &error), SHOAL_EMODULE);
    assert_non_null (strstr (error, "started"));
    free (error);
    shoal_node_destroy (&node);
}

//  A module's timer of INT64_MAX ms: shoal_ctx_after takes any ms >= 0,
//  and the counter passes the client's value through. The node must
//  answer (accept, or reject) and stay up.
static void test_timer_far_future (void **state)
{
    fixture_t *fx = *state;
    const char *module = getenv ("SHOAL_TEST_MODULE");
    assert_non_null (module);
    s_start (fx, "--module", module, NULL);
    char *fields[] = {"ms=9223372036854775807"};
    uint8_t *payload;
    size_t size;
    char error[64];
    assert_int_equal (client_fields (1, fields, &payload, &size, error, sizeof error), 0);
    envelope_t request;
    client_request (&request, ENVELOPE_COMMAND, NULL, "counter/far", "Remind", payload, size);
    client_reply_t reply;
    int rc = client_call (fx->client, &request, 3000, &reply);
    free (payload);
    if (rc == 0)
        client_reply_close (&reply);
    int status;
    pid_t ended = waitpid (fx->node.pid, &status, WNOHANG);
    if (ended == fx->node.pid) {
        fx->node.pid = 0;
        s_dump_log (fx);
    }
    assert_int_equal (ended, 0); //  the node is still running
    assert_int_equal (rc, 0);    //  and it answered
    s_ok (fx, "counter/far", "Add", "by=1", NULL);
    assert_int_equal (s_events (fx, "counter/far"), 1);
}

//  --------------------------------------------------------------------------
//  7. Rejections write nothing.

//  An account's version, balance and event count, to compare.
typedef struct {
    int64_t version, balance, events;
} books_t;

static books_t s_books (fixture_t *fx, const char *address)
{
    books_t books;
    s_get (fx, address, &books.version, &books.balance, NULL, 0);
    books.events = s_events (fx, address);
    assert_int_equal (books.events, books.version);
    return books;
}

static void s_same_books (fixture_t *fx, const char *address, books_t expected)
{
    books_t books = s_books (fx, address);
    assert_int_equal (books.version, expected.version);
    assert_int_equal (books.balance, expected.balance);
    assert_int_equal (books.events, expected.events);
}

static void test_rejections_write_nothing (void **state)
{
    fixture_t *fx = *state;
    s_start (fx, NULL);
    s_ok (fx, "account/r", "Open", "owner=R", "overdraft=100", NULL);
    s_ok (fx, "account/r", "Deposit", "amount=50", NULL);
    books_t r = s_books (fx, "account/r");
    assert_int_equal (r.version, 2);
    int64_t events_before = s_stat (fx, "events");

    s_rejected (fx, "unknown_type", "nosuchtype/x", "Open", "owner=X", NULL);
    client_reply_t reply;
    s_call (fx->client, ENVELOPE_QUERY, NULL, "nosuchtype/x", "get", &reply, NULL);
    assert_false (reply.ok);
    assert_string_equal (reply.code, "unknown_type");
    client_reply_close (&reply);
    s_call (fx->client, ENVELOPE_QUERY, NULL, "account/r", "frobnicate", &reply, NULL);
    assert_false (reply.ok);
    assert_string_equal (reply.code, "unknown_query");
    client_reply_close (&reply);

    s_rejected (fx, "unknown_command", "account/r", "Fly", "amount=1", NULL);
    s_rejected (fx, "invalid_amount", "account/r", "Deposit", "amount=abc", NULL);
    s_rejected (fx, "invalid_amount", "account/r", "Deposit", "amount=-5", NULL);
    s_rejected (fx, "invalid_amount", "account/r", "Deposit", "amount=0", NULL);
    s_rejected (fx, "invalid_amount", "account/r", "Deposit", "amount=1.5", NULL);
    s_rejected (fx, "invalid_amount", "account/r", "Deposit", "amount=true", NULL);
    s_rejected (fx, "invalid_amount", "account/r", "Deposit", NULL);
    s_rejected (fx, "invalid_amount", "account/r", "Withdraw", "amount=-9223372036854775808", NULL);
    s_rejected (fx, "invalid_amount", "account/r", "Withdraw", "amnt=5", NULL);
    s_rejected (fx, "invalid_field", "account/r", "Debit", "amount=5", NULL);
    s_rejected (fx, "invalid_field", "account/r", "Credit", "amount=5", "transfer=", NULL);
    s_rejected (fx, "already_open", "account/r", "Open", "owner=Again", NULL);
    //  Overdraft: down to -100 and no further.
    s_rejected (fx, "insufficient_funds", "account/r", "Withdraw", "amount=151", NULL);
    s_rejected (fx, "insufficient_funds", "account/r", "Withdraw", "amount=9223372036854775807",
                NULL);
    s_same_books (fx, "account/r", r);
    assert_int_equal (s_stat (fx, "events"), events_before);
    assert_int_equal (s_ok (fx, "account/r", "Withdraw", "amount=150", NULL), -100);
    s_rejected (fx, "insufficient_funds", "account/r", "Withdraw", "amount=1", NULL);
    s_rejected (fx, "insufficient_funds", "account/r", "Withdraw", "amount=9223372036854775807",
                NULL); //  -100 - INT64_MAX overflows
    r = s_books (fx, "account/r");
    assert_int_equal (r.version, 3);
    assert_int_equal (r.balance, -100);

    //  Bad Opens leave the account never opened.
    char owner[80] = "owner=";
    memset (owner + 6, 'o', 65); //  one byte over ACCOUNT_OWNER_MAX
    owner[6 + 65] = 0;
    s_rejected (fx, "invalid_field", "account/n", "Open", owner, NULL);
    s_rejected (fx, "invalid_field", "account/n", "Open", "owner=", NULL);
    s_rejected (fx, "invalid_field", "account/n", "Open", "owner=5", NULL);
    s_rejected (fx, "invalid_field", "account/n", "Open", NULL);
    s_rejected (fx, "invalid_amount", "account/n", "Open", "owner=N", "overdraft=-1", NULL);
    s_rejected (fx, "invalid_amount", "account/n", "Open", "owner=N", "overdraft=abc", NULL);
    s_rejected (fx, "not_open", "account/n", "Deposit", "amount=5", NULL);
    s_rejected (fx, "not_open", "account/n", "Close", NULL);
    books_t n = s_books (fx, "account/n");
    assert_int_equal (n.version, 0);
    assert_int_equal (n.balance, 0);
    char status[16];
    s_get (fx, "account/n", NULL, NULL, status, sizeof status);
    assert_string_equal (status, "none");
    //  An owner of exactly 64 bytes is fine.
    owner[6 + 64] = 0;
    s_ok (fx, "account/n", "Open", owner, NULL);

    //  Overflow: INT64_MAX, then 1 more.
    s_ok (fx, "account/o", "Open", "owner=O", NULL);
    assert_int_equal (s_ok (fx, "account/o", "Deposit", "amount=9223372036854775807", NULL),
                      INT64_MAX);
    books_t o = s_books (fx, "account/o");
    s_rejected (fx, "overflow", "account/o", "Deposit", "amount=1", NULL);
    //  A Refund from a client: not a transfer's (test_account has the
    //  overflow of a transfer's Refund).
    s_rejected (fx, "not_a_transfer", "account/o", "Refund", "transfer=t1", "amount=1", NULL);
    s_rejected (fx, "not_a_transfer", "account/o", "Credit", "transfer=t1", "amount=1", NULL);
    s_same_books (fx, "account/o", o);
    assert_int_equal (o.balance, INT64_MAX);

    //  Closed: no money moves any more.
    s_ok (fx, "account/o", "Close", NULL);
    books_t closed = s_books (fx, "account/o");
    s_rejected (fx, "closed", "account/o", "Close", NULL);
    s_rejected (fx, "closed", "account/o", "Withdraw", "amount=1", NULL);
    s_rejected (fx, "closed", "account/o", "Deposit", "amount=1", NULL);
    s_rejected (fx, "already_open", "account/o", "Open", "owner=O", NULL);
    s_same_books (fx, "account/o", closed);
    s_same_books (fx, "account/r", r);
}

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
    s_start (fx, NULL);
    s_ok (fx, "account/b", "Open", "owner=B", NULL);
    s_ok (fx, "account/b", "Deposit", "amount=40", NULL);
    books_t b = s_books (fx, "account/b");
    int64_t messages = s_stat (fx, "messages");

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
    s_raw_send (dealer, valid, valid_size / 2, false); //  truncated
    s_raw_expect (dealer, "bad_frame", NULL);
    sent++;
    s_raw_send (dealer, valid, valid_size - 1, false); //  one byte short
    s_raw_expect (dealer, "bad_frame", NULL);
    sent++;
    uint8_t *longer = malloc (valid_size + 1); //  a trailing byte
    memcpy (longer, valid, valid_size);
    longer[valid_size] = 0xc0;
    s_raw_send (dealer, longer, valid_size + 1, false);
    s_raw_expect (dealer, "bad_frame", NULL);
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
    assert_int_equal (s_stat (fx, "messages"), messages); //  none reached a worker
    assert_int_equal (s_stat (fx, "bad_frames"), (int64_t) sent);
    s_same_books (fx, "account/b", b);
    //  The same socket still works for a good frame.
    s_raw_send (dealer, valid, valid_size, false);
    uint8_t correlation[ENVELOPE_ID_SIZE];
    bool ok;
    char code[ENVELOPE_CODE_MAX + 1];
    s_raw_reply (dealer, correlation, &ok, code);
    assert_memory_equal (correlation, command.id, ENVELOPE_ID_SIZE);
    assert_true (ok);
    books_t after = s_books (fx, "account/b");
    assert_int_equal (after.version, b.version + 1);
    assert_int_equal (after.balance, b.balance + 1000);
    assert_int_equal (s_stat (fx, "bad_frames"), (int64_t) sent);

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
//  rejection with code, correlated to the id unless frame_error.
static void s_raw_envelope (zsock_t *dealer, const raw_envelope_t *raw, const char *code,
                            bool frame_error)
{
    uint8_t id[ENVELOPE_ID_SIZE];
    envelope_new_id (id);
    msgpack_sbuffer frame;
    msgpack_sbuffer_init (&frame);
    s_pack (raw, id, &frame);
    s_raw_send (dealer, frame.data, frame.size, false);
    msgpack_sbuffer_destroy (&frame);
    s_raw_expect (dealer, code, frame_error ? NULL : id);
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
    s_start (fx, "--module", module, NULL);
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
    assert_int_equal (s_stat (fx, "busy"), busy);
    assert_int_equal (s_events (fx, "counter/slow"), 0); //  Hold and Slow emit nothing
    s_ok (fx, "counter/c", "Add", "by=1", NULL);
}

static void test_malformed_envelopes (void **state)
{
    fixture_t *fx = *state;
    s_start (fx, NULL);
    s_ok (fx, "account/h", "Open", "owner=H", NULL);
    books_t h = s_books (fx, "account/h");
    int64_t messages = s_stat (fx, "messages");
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
    assert_int_equal (s_stat (fx, "messages"), messages);
    assert_int_equal (s_stat (fx, "bad_frames"), (int64_t) sent);
    s_same_books (fx, "account/h", h);

    //  Well-formed, but what the handler gets is odd: it answers, by id.
    static const uint8_t nul_owner[] = {0x81, 0xa5, 'o', 'w', 'n', 'e', 'r', 0xa3, 'a', 0, 'b'};
    raw = good;
    raw.to = "account/z";
    raw.name = "Open";
    raw.payload = nul_owner;
    raw.payload_size = sizeof nul_owner;
    s_raw_envelope (dealer, &raw, "invalid_field", false);
    books_t z = s_books (fx, "account/z");
    assert_int_equal (z.version, 0);
    static const uint8_t big_amount[] = {0x81, 0xa6, 'a', 'm', 'o', 'u', 'n', 't', 0xcf,
                                         0x80, 0,    0,   0,   0,   0,   0,   0};
    raw = good;
    raw.payload = big_amount; //  2^63 as a uint64
    raw.payload_size = sizeof big_amount;
    s_raw_envelope (dealer, &raw, "invalid_amount", false);
    s_same_books (fx, "account/h", h);

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
    assert_int_equal (s_stat (fx, "bad_frames"), (int64_t) sent);

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
    s_same_books (fx, "account/h", h);
    assert_int_equal (s_stat (fx, "bad_frames"), (int64_t) sent);

    //  An integer key on the side: a field no handler could look up,
    //  refused (PROTOCOL: keys are strings), and nothing changes.
    static const uint8_t odd_keys[] = {0x82, 0x07, 0xa1, 'x', 0xa6, 'a',
                                       'm',  'o',  'u',  'n', 't',  0x05};
    raw = good;
    raw.payload = odd_keys;
    raw.payload_size = sizeof odd_keys;
    s_raw_envelope (dealer, &raw, "bad_frame", false); //  under the request's id
    sent++;
    s_same_books (fx, "account/h", h);
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
    books_t after = s_books (fx, "account/h");
    assert_int_equal (after.version, h.version + 1);
    assert_int_equal (after.balance, h.balance + 5);
    assert_int_equal (s_stat (fx, "bad_frames"), (int64_t) sent);
    zsock_destroy (&dealer);
}

//  --------------------------------------------------------------------------
//  9. `shoal send` exit codes.

static void test_send_exit_codes (void **state)
{
    fixture_t *fx = *state;
    s_start (fx, NULL);
    s_ok (fx, "account/u", "Open", "owner=U", NULL);
    int64_t messages = s_stat (fx, "messages");

    //  Bad usage: exit 2, a message on stderr, nothing on stdout or sent.
    static const char *usage[] = {
        "",
        "account/u",
        "alice Deposit amount=1",
        "Account/u Deposit amount=1",
        "account/ Deposit amount=1",
        "/u Deposit amount=1",
        "account/u Deposit amount",
        "account/u Deposit =5",
        "account/u Deposit amount=9223372036854775808",
        "account/u Deposit amount=-9223372036854775809",
        "account/u Deposit amount=99999999999999999999999",
        "account/u Deposit amount=1 amount=2",
        "account/u 'De posit' amount=1",
        "--timeout 0 account/u Deposit amount=1",
        "--timeout abc account/u Deposit amount=1",
        "--bogus account/u Deposit amount=1",
        "--id '' account/u Deposit amount=1",
    };
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
        char out[OUTPUT_MAX], err[OUTPUT_MAX];
        int code = s_run (fx, out, err, "'%s' send --endpoint '%s' %s", s_bin (), fx->node.endpoint,
                          usage[i]);
        if (code != 2)
            print_error ("shoal send %s: exit %d, stderr: %s\n", usage[i], code, err);
        assert_int_equal (code, 2);
        assert_string_equal (out, "");
        assert_true (strlen (err) > 0);
    }
    assert_int_equal (s_stat (fx, "messages"), messages);
    assert_int_equal (s_stat (fx, "bad_frames"), 0);
    int64_t version, balance;
    s_get (fx, "account/u", &version, &balance, NULL, 0);
    assert_int_equal (version, 1);
    assert_int_equal (balance, 0);

    //  The edges of the int64 range are not usage errors.
    char out[OUTPUT_MAX], err[OUTPUT_MAX];
    int code = s_run (fx, out, err, "'%s' send --endpoint '%s' account/u Deposit amount=%s",
                      s_bin (), fx->node.endpoint, "9223372036854775807");
    assert_int_equal (code, 0);
    assert_non_null (strstr (out, "\"reply\":{\"balance\":9223372036854775807}"));
    code = s_run (fx, out, err, "'%s' send --endpoint '%s' account/u Withdraw amount=%s", s_bin (),
                  fx->node.endpoint, "-9223372036854775808");
    assert_int_equal (code, 1);
    assert_non_null (strstr (out, "\"code\":\"invalid_amount\""));
    code = s_run (fx, out, err, "'%s' send --endpoint '%s' nosuchtype/u Deposit amount=1", s_bin (),
                  fx->node.endpoint);
    assert_int_equal (code, 1);
    assert_non_null (strstr (out, "\"code\":\"unknown_type\""));

    //  No node: exit 3 after the timeout, not before, not much after.
    int64_t started = zclock_mono ();
    code = s_run (fx, out, err,
                  "'%s' send --endpoint ipc://%s/none.ipc --timeout 200 account/u Deposit "
                  "amount=1",
                  s_bin (), fx->dir);
    int64_t took = zclock_mono () - started;
    assert_int_equal (code, 3);
    assert_string_equal (out, "");
    assert_non_null (strstr (err, "no answer"));
    assert_true (took >= 200);
    assert_true (took < 5000);
    code = s_run (fx, out, err, "'%s' get --endpoint ipc://%s/none.ipc --timeout 200 account/u",
                  s_bin (), fx->dir);
    assert_int_equal (code, 3);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_usage, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_concurrent_withdrawals, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_sigkill_after_ack, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_sigkill_in_flight_then_resend, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_sigterm_in_flight_then_resend, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_async_sigkill_after_ack, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_passivation, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_passivate_finished_sagas, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_snapshots, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_events_paging, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_duplicate_ids, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_module, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_module_missing, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_queue_bytes_bounded, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_node_api_guards, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_timer_far_future, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_rejections_write_nothing, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_bad_frames, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_malformed_envelopes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_send_exit_codes, s_setup, s_teardown),
    };
    //  SHOAL_TEST_FILTER=test_module* runs the tests whose names match.
    if (getenv ("SHOAL_TEST_FILTER"))
        cmocka_set_test_filter (getenv ("SHOAL_TEST_FILTER"));
    return cmocka_run_group_tests (tests, NULL, NULL);
}
