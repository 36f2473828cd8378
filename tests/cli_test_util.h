/*  cli_test_util.h - the fixture and helpers of test_cli_*.c: the
    real binary run by /bin/sh in the test's own directory, a node started
    and stopped.

    test_cli_*.c: process tests of the `shoal` command line as its users
    meet it: the real binary ($SHOAL_BIN), run through /bin/sh, its exit
    codes, stdout and stderr.

    Each test has its own temporary directory; a node it starts listens on
    ipc://DIR/node.ipc there (no other process can reach it), writes its
    stdout to DIR/node.out and its stderr to DIR/node.log. A test waits for
    a node's ready line by polling against a deadline. The teardown kills
    the node and removes the directory.
*/
#ifndef SHOAL_TESTS_CLI_TEST_UTIL_H
#define SHOAL_TESTS_CLI_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"
#include "proc.h"
#include "utf8.h"

#include <dirent.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS 20000 //  a node's ready line (ASan start-up is slow)
#define OUTPUT_MAX                                                                                 \
    PROC_OUTPUT_MAX //  bytes kept of a command's stdout or stderr (bench --help is 9 KB)

typedef struct {
    char dir[64];       //  the test's temporary directory
    char data[128];     //  dir/data: the node's store
    char endpoint[128]; //  ipc://dir/node.ipc
    pid_t node;         //  the running node, or 0
} fixture_t;

int cli_setup (void **state);

//  Stops the node with sig and returns its wait status (0 if none ran).
int cli_node_stop (fixture_t *fx, int sig);

int cli_teardown (void **state);

//  Runs the shell command made from format with $SHOAL (the binary) and
//  $DIR (the test's directory) set, stdout and stderr kept in out and err
//  (may be NULL). Returns its exit code, or -1 if it did not exit.
int cli_run (fixture_t *fx, char *out, char *err, const char *format, ...);

//  Starts `sh -c 'exec COMMAND'` from format (with $SHOAL and $DIR as in
//  cli_run) in / as the node, and waits for its ready line. Returns the line's
//  text in ready (OUTPUT_MAX bytes) or fails the test with its stderr.
void cli_node_start (fixture_t *fx, char *ready, const char *format, ...);

//  True if out, a command's stdout, is exactly one JSON object (and a
//  newline) holding "ok":false, "code" equal to code and a "reason" that
//  is not empty: what a --json command prints when it fails.
bool cli_json_failed (const char *out, const char *code);

//  Fails unless every line of text starts with prefix.
void cli_all_lines_start (const char *text, const char *prefix, const char *what);

#endif
