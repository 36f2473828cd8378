/*  bank_projections_test_util.h - the fixture and helpers of
    test_bank_projections_*.c: a real node with the bank in the test's own
    directory, calls, builds and rows of its projections.

    test_bank_projections_*.c: the bank's projections and its reaction,
    through real `shoal node` processes: bank_totals against the journal
    after concurrent transfers under SIGKILLs, account_transfers newest
    first with each transfer's status, large_debits flagging each large
    debit exactly once across SIGKILLs while its reactions are in flight,
    the review actor's refusals, and `shoal demo`'s end check.

    Each test's node keeps its store in DIR/data and listens on
    ipc://DIR/node.ipc, in the test's own directory. Queries to the
    projections go to "node/projections" (projection_rows, projections)
    through the client library. Waits poll against a deadline.
*/
#ifndef SHOAL_TESTS_BANK_PROJECTIONS_TEST_UTIL_H
#define SHOAL_TESTS_BANK_PROJECTIONS_TEST_UTIL_H

#include "bank.h"
#include "bank_projections.h"
#include "books.h"
#include "client_window.h"

#include <czmq.h>
#include <msgpack.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

typedef struct {
    char dir[64];             //  the test's temporary directory
    char data[96];            //  dir/data: the node's store
    char endpoint[96];        //  ipc://dir/node.ipc
    node_child_t node;        //  pid 0 when not running
    client_t *client;         //  of the running node
    const char *retention_ms; //  the node's --inbox-retention-ms (NULL: its default)
} fixture_t;

#define WAIT_MS 30000 //  the most a test waits for what must come

int bank_projections_setup (void **state);

int bank_projections_teardown (void **state);

void bank_projections_start (fixture_t *f);

void bank_projections_stop (fixture_t *f, int sig);

//  A request with "k=v" fields (NULL-terminated), its id from id_text
//  (NULL: random). Returns client_call's code; the reply is the caller's.
int bank_projections_call (fixture_t *f, envelope_kind_t kind, const char *id_text, const char *to,
                           const char *name, client_reply_t *reply, ...);

//  A command that must be accepted.
#define bank_projections_must(f, to, name, ...)                                                    \
    do {                                                                                           \
        client_reply_t reply_;                                                                     \
        assert_int_equal (                                                                         \
            bank_projections_call (f, ENVELOPE_COMMAND, NULL, to, name, &reply_, __VA_ARGS__), 0); \
        if (!reply_.ok)                                                                            \
            fail_msg ("%s %s rejected: %s %s", to, name, reply_.code, reply_.reason);              \
        client_reply_close (&reply_);                                                              \
    } while (0)

//  The code a command is rejected with ("" if accepted).
void bank_projections_refused (fixture_t *f, const char *to, const char *name, const char *code,
                               ...);

//  Polls transfer/ID until terminal; returns its status.
void bank_projections_wait_terminal (fixture_t *f, const char *id, char *status, size_t size);

//  Waits until the bank's projections have read the log to its end and
//  their reactions are answered.
void bank_projections_wait_settled (fixture_t *f);

//  What the projections list says of the builds of one projection.
typedef struct {
    int count;              //  builds of the name
    int64_t number;         //  the last one's build number
    int64_t applied;        //  its events applied
    int64_t sends;          //  its reactions awaiting their answer
    char status[16];        //  its status
    char error[256];        //  its error ("" if none)
    int64_t error_position; //  the event it failed at (-1 if none)
    int64_t end;            //  the log's end, as the list said it
} build_t;

//  Reads the builds of name from the projections list; false if the node
//  did not answer.
bool bank_projections_build (fixture_t *f, const char *name, build_t *build);

//  Sends an operator's action (pause, resume, rebuild) on name; it must be
//  taken.
void bank_projections_control (fixture_t *f, const char *action, const char *name);

#endif
