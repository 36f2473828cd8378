/*  check_test_util.h - the fixture and helpers of test_check_*.c: the
    shoal binary run on a store in the test's own directory, the bank run
    into it, its debits found.

    test_check_*.c: `shoal check`, through real processes: a `shoal node`
    on ipc:// in the test's own directory runs a completed, a failed and
    a compensated transfer, is stopped, and its books check out; then a
    second Debited is written into the source account's stream with the
    journal API and the check names the broken invariant. Also: a node
    still running, a directory with no journal, a store that lost its
    CURRENT file (damaged: exit 4, shoal repair), and the books of two
    journals that only hold together. A check leaves the store's files
    as they were (it reads a copy), on a full or read-only disk too.
*/
#ifndef SHOAL_TESTS_CHECK_TEST_UTIL_H
#define SHOAL_TESTS_CHECK_TEST_UTIL_H

#include "books.h"
#include "client.h"
#include "journal.h"
#include "node_child.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <leveldb/c.h>
#include <msgpack.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

typedef struct {
    char dir[256];  //  the test's own directory
    char data[300]; //  the node's data directory, under dir
    char endpoint[300];
    char out[300];  //  where a `shoal check` writes stdout and stderr
    char disk[280]; //  a tmpfs mounted under dir, or ""
    node_child_t node;
} fixture_t;

int check_setup (void **state);

int check_teardown (void **state);

//  Runs `shoal COMMAND` with args (NULL-terminated) and waits for it, at
//  most 60 s. Returns its exit code; *output (to free) holds what it
//  printed on stdout and stderr.
int check_shoal_v (const fixture_t *f, char **output, char *command, va_list args);

//  `shoal check` with args (NULL-terminated), as check_shoal_v.
int check_check (const fixture_t *f, char **output, ...);

//  A node with three accounts and a transfer of each ending, left running.
void check_run_bank (fixture_t *f);

#endif
