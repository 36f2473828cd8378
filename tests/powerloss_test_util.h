/*  powerloss_test_util.h - the fixture and helpers of test_powerloss_*.c:
    a node with tests/powerloss.c preloaded, commands and transfers sent to
    it, balances read from it, from its store and from the books.

    test_powerloss_*.c: power loss: a real `shoal node` runs with
    tests/powerloss.c preloaded (it records what the node made durable),
    takes deposits, is SIGKILLed; powerloss_apply then drops every write
    it had not fsynced (and every name whose directory was not fsynced),
    as a power cut would; the node is started again, without the preload,
    and the books are counted.

    With `sync` durability every acknowledged deposit must be there, and
    so must every acknowledged transfer with the books balanced: transfers
    run between actors of two workers, whose steps go from one to the other
    before they are fsynced (sync.c), and the cut comes while thousands are
    half-way, after LevelDB moved to a new log file at least once. With
    `async` a cut must lose acknowledged deposits in at least one of a few
    rounds: if it never does, the model cuts nothing and the sync test
    proves nothing, and the test fails saying so.

    `shoal cluster init` is cut too: the certificates and the map it says
    it wrote must all be there after the cut.

    In `async` an operator's decision (a projection paused) must survive
    a cut all the same: it was answered as done.

    `shoal repair` is cut too: a store with a damaged table is repaired
    under the preload, and the cut must take back nothing the repair
    wrote (the books read the same before and after it).

    A client sends deposits of 1 to account/a, each with its own id, and
    counts the acknowledgements. The node listens on ipc:// in the test's
    own directory; every wait has a deadline.
*/
#ifndef SHOAL_TESTS_POWERLOSS_TEST_UTIL_H
#define SHOAL_TESTS_POWERLOSS_TEST_UTIL_H

#include "books.h"
#include "client.h"
#include "cluster.h"
#include "node_child.h"
#include "powerloss_apply.h"

#include <czmq.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define WAIT_MS 30000 //  the longest any condition is waited for
#define REPORT_SIZE 65536

typedef struct {
    char dir[256];      //  the test's own directory
    char data[320];     //  the node's data directory (one per round)
    char endpoint[320]; //  ipc:// in dir
    char log[320];      //  the node's stderr
    char pl_log[320];   //  powerloss.c's side log (one per round)
    node_child_t node;
    client_t *client;
    int next_id;       //  deposits sent so far (each its own id)
    int64_t acked;     //  deposits of this round acknowledged
    int fail_syncs;    //  preloaded: log syncs before they fail (-1: none fails)
    int slow_ms;       //  preloaded: each log sync sleeps this long first (0: none)
    bool lean;         //  preloaded: an ASan-built node keeps little freed memory
    int open_fails_ms; //  preloaded: a new log cannot be opened for this long (0: none)
    char report[REPORT_SIZE];
} fixture_t;

int powerloss_setup (void **state);

int powerloss_teardown (void **state);

//  A round's node data directory, data-NAME, and preload side log,
//  powerloss-NAME.log, in the test's directory.
void powerloss_name_round (fixture_t *f, const char *name);

//  Starts the node on f->data; with preload, powerloss.c records it into
//  f->pl_log. The preload's variables are set for the child only.
void powerloss_start (fixture_t *f, const char *durability, bool preload);

//  Sends command name to account/a with one field, once, with its own id.
//  Returns true if acknowledged; fails the test on silence or a refusal.
bool powerloss_command (fixture_t *f, const char *name, char *field);

//  Sends command name to address with up to three "k=v" fields, with the
//  id of index, without waiting.
void powerloss_send_command (fixture_t *f, const char *address, const char *name, int index,
                             char *a, char *b, char *c);

//  The index of the command a reply answers (its correlation id), or -1.
int powerloss_transfer_index (const client_reply_t *reply);

//  The balance of account/a as the running node answers a get (0 if the
//  account does not exist: its opening may have been cut too).
int64_t powerloss_balance (fixture_t *f);

//  The balance of account/a in the books of the stopped store in dir,
//  every invariant of the bank holding.
int64_t powerloss_dir_balance (const char *dir);

//  The balance of account/a in the stopped node's books.
int64_t powerloss_books_balance (fixture_t *f);

//  The whole of a small file, NUL-terminated (the caller frees it), or NULL.
char *powerloss_read_file (const char *path);

#endif
