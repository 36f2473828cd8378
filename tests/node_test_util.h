/*  node_test_util.h - the fixture and helpers of test_node_*.c:
    a real node in the test's own directory, requests to it, its stats,
    events and books.

    test_node_*.c: process tests: real `shoal node` processes, driven
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
#ifndef SHOAL_TESTS_NODE_TEST_UTIL_H
#define SHOAL_TESTS_NODE_TEST_UTIL_H

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
#define OUTPUT_MAX 4096        //  bytes kept of a command's stdout or stderr

typedef struct {
    char dir[64];      //  the test's temporary directory
    char data[128];    //  dir/data: the node's store
    char log[128];     //  dir/node.log: the node's stderr
    char endpoint[96]; //  ipc://dir/node.ipc: where the node listens
    node_child_t node; //  pid 0 when not running
    client_t *client;  //  connected to node.endpoint, or NULL
} fixture_t;

//  --------------------------------------------------------------------------
//  Set-up

int node_setup (void **state);

int node_teardown (void **state);

const char *node_bin (void);

//  Prints the node's stderr, to explain a failure.
void node_dump_log (const fixture_t *fx);

//  Starts a node on fx->endpoint with 2 workers and the extra arguments
//  (a NULL-terminated list), and connects fx->client to it.
void node_start (fixture_t *fx, ...);

//  Stops the node with sig and checks how it ended.
void node_stop (fixture_t *fx, int sig);

//  Stops the node with sig, checks how it ended, and starts it again on
//  the same data directory and endpoint with the extra arguments (at most
//  four, NULL-terminated).
void node_restart (fixture_t *fx, int sig, const char *a, const char *b, const char *c,
                   const char *d);

void node_call (client_t *client, envelope_kind_t kind, const uint8_t *id, const char *to,
                const char *name, client_reply_t *reply, ...);

//  Sends a command that must be accepted. Returns the reply's "balance",
//  or INT64_MIN if it has none.
int64_t node_ok (fixture_t *fx, const char *to, const char *name, ...);

//  Sends a command that must be rejected with code and a reason.
void node_rejected (fixture_t *fx, const char *code, const char *to, const char *name, ...);

//  Reads an actor with `get`. version, balance and status may be NULL;
//  balance and status only exist for accounts.
void node_get (fixture_t *fx, const char *address, int64_t *version, int64_t *balance, char *status,
               size_t status_size);

//  Reads one node counter from the stats query.
int64_t node_stat (fixture_t *fx, const char *name);

//  Finds key in the msgpack map at data. Returns the value or NULL; the
//  caller inits unpacked before (msgpack_unpacked_init) and destroys it.
const msgpack_object *node_find (msgpack_unpacked *unpacked, const uint8_t *data, size_t size,
                                 const char *key);

//  Counts an actor's committed events with the events query, page by page,
//  checking that their seqs run 1, 2, 3... without a gap.
int64_t node_events (fixture_t *fx, const char *address);

//  Writes the msgpack object at data as JSON into a new string (free()).
char *node_json (const uint8_t *data, size_t size);

//  --------------------------------------------------------------------------
//  Running the shoal binary

//  Runs the shell command made from format, with stdout and stderr kept in
//  out and err (OUTPUT_MAX bytes each, may be NULL). Returns its exit
//  code, or -1 if it did not exit normally.
int node_run (fixture_t *fx, char *out, char *err, const char *format, ...);

//  --------------------------------------------------------------------------
//  7. Rejections write nothing.

//  An account's version, balance and event count, to compare.
typedef struct {
    int64_t version, balance, events;
} books_t;

books_t node_books (fixture_t *fx, const char *address);

void node_same_books (fixture_t *fx, const char *address, books_t expected);

#endif
