/*  faults_test_util.h - the fixture and helpers of test_faults_*.c:
    a real node in the test's own directory, commands pumped into it, the
    books read back, the shoal binary run.

    test_faults_*.c: storage faults injected from outside a real `shoal
    node`: a full disk (the data directory on an 8 MiB tmpfs, filled by a
    file of the test's and then by the node's own writes) while deposits
    and transfers are in flight, with service coming back without a
    restart and after a SIGKILL; and stores damaged while the node is
    stopped (bytes flipped in the log and in a table file, a missing
    CURRENT, a read-only directory), each refused with a message and a
    non-zero exit, then salvaged by `shoal repair` and counted by `shoal
    check`; `shoal repair` under a running node, or on a directory with no
    store, refused with nothing changed.

    A client keeps 32 commands in flight, each with its own id, asking
    again with the same id while the node answers `unavailable`, as a
    client should; it counts the deposits (of 1, to account/a) that were
    acknowledged. The books after must balance (bench/books.c: no money
    made or lost, every transfer ended, none debited, credited or refunded
    twice), and account/a's balance must equal that count: nothing
    acknowledged lost, nothing done twice.

    The tmpfs needs root (CI runs the tests as root); without it the test
    fails saying so, it is never skipped.
*/
#ifndef SHOAL_TESTS_FAULTS_TEST_UTIL_H
#define SHOAL_TESTS_FAULTS_TEST_UTIL_H

#include "books.h"
#include "client.h"
#include "node_child.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define WAIT_MS 30000 //  the longest any condition is waited for

#define WINDOW 32 //  commands in flight

//  A client's command, with the id it keeps: asked again with it after an
//  `unavailable`, until acknowledged.
typedef struct {
    char to[48];
    char name[12];
    char fields[3][48];
    int field_count;
    uint8_t id[ENVELOPE_ID_SIZE];
    bool deposit;     //  a deposit of 1 to account/a
    bool waiting;     //  sent, not answered
    bool acked;       //  answered ok
    int64_t sent_at;  //  monotonic ms
    int64_t retry_at; //  after an `unavailable`: not before (monotonic ms)
} request_t;

typedef struct {
    char dir[256];      //  the test's own directory
    char disk[300];     //  a tmpfs mounted under dir (full-disk tests)
    char data[320];     //  the node's data directory
    char endpoint[320]; //  ipc:// in dir
    char log[320];      //  the node's stderr
    char out[320];      //  a command's stdout and stderr
    bool mounted;
    node_child_t node;
    client_t *client;
    request_t *requests;                         //  every command sent
    size_t count, cap;                           //  requests used, allocated
    size_t waiting;                              //  requests in flight
    size_t window;                               //  at most (0: WINDOW)
    int transfers;                               //  transfers started (transfer/tI)
    int mixed;                                   //  commands faults_add_mix added
    uint64_t rand;                               //  the transfers' plans
    int64_t acked;                               //  deposits to account/a acknowledged
    int64_t refused;                             //  `unavailable` answers seen
    bool full;                                   //  the disk is full: an `unavailable` must say so
    int64_t unnamed;                             //  `unavailable` answers while full that did not
    char first_unnamed[ENVELOPE_REASON_MAX + 1]; //  the first of them
    bool no_projections;                         //  start the node with --projections off
} fixture_t;

int faults_setup (void **state);

int faults_teardown (void **state);

//  Mounts an 8 MiB tmpfs at f->disk and puts the data directory in it.
void faults_mount_small_disk (fixture_t *f);

//  Starts the node (again) and connects a new client: what was in flight
//  is asked again.
void faults_start (fixture_t *f, const char *durability);

//  --------------------------------------------------------------------------
//  The client: commands in flight, each asked again until acknowledged

//  Adds a command to address with up to 3 "k=v" fields (NULL-terminated).
request_t *faults_add (fixture_t *f, const char *to, const char *name, ...);

void faults_add_deposit (fixture_t *f);

//  Sends what is neither acknowledged nor in flight (WINDOW at most in
//  flight) and takes the answers in, until done (NULL: faults_all_acked)
//  returns true; done may add commands. A command unanswered for WAIT_MS
//  fails the test: a node must answer, not fall silent.
void faults_pump (fixture_t *f, bool (*done) (fixture_t *));

//  The stopped node's books, with every invariant of the bank holding:
//  the balance of account/a, and the transfers' endings in summary.
int64_t faults_books (fixture_t *f, books_summary_t *summary);

//  --------------------------------------------------------------------------
//  Damaged stores

//  Runs the shoal binary with args (NULL-terminated) to its end, at most
//  60 s, stdin from /dev/null. Returns its exit code (fails the test if it
//  did not exit by itself); *output (to free) holds its stdout and stderr.
int faults_run (fixture_t *f, char **output, ...);

//  A node started on f->data must refuse it: a non-zero exit and a message
//  that holds each of the words (NULL-terminated).
void faults_refused (fixture_t *f, ...);

//  Writes the open account and deposits, then stops the node with sig.
void faults_fill_store (fixture_t *f, int deposits, int sig);

#endif
