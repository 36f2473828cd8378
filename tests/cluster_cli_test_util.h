/*  cluster_cli_test_util.h - the fixture and helpers of
    test_cluster_cli_*.c: a cluster map in the test's own directory, the
    shoal binary run through /bin/sh, nodes started and killed.

    test_cluster_cli_*.c: process tests of the command line with a cluster:
    `shoal where`, `--cluster` and `--node` on the client commands and in
    their retry line, `shoal stats --cluster` and `shoal cluster status`,
    how long `pending` and `explain` wait for a stopped node, what
    `dead-letters retry` says of an ID while a node does not answer, what
    `resolve` says when the saga's node does not answer, which acts only
    an operator's certificate may do, and what
    every command that asks nodes says of a client certificate that is
    missing (exit 2) or that the nodes refuse (exit 3),
    run as users run them: the real binary ($SHOAL_BIN) through /bin/sh.

    Each test has its own temporary directory with a cluster made by
    `shoal cluster init --ipc` in DIR/c: its nodes listen on ipc:// paths
    there, where no other process can reach them. A test waits for a
    condition by polling it against a deadline. The teardown kills the
    nodes and removes the directory.
*/
#ifndef SHOAL_TESTS_CLUSTER_CLI_TEST_UTIL_H
#define SHOAL_TESTS_CLUSTER_CLI_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cluster.h"
#include "harness.h"
#include "proc.h"
#include "shard.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NODES 3
#define START_TIMEOUT_MS 20000     //  a node's ready line (ASan start-up is slow)
#define UP_TIMEOUT_MS 20000        //  every peer link up, or a dead node seen down
#define OUTPUT_MAX PROC_OUTPUT_MAX //  bytes kept of a command's stdout or stderr

typedef struct {
    char dir[64];       //  the test's temporary directory
    char cluster[128];  //  dir/c/cluster.cfg
    pid_t nodes[NODES]; //  running nodes n1..n3, or 0
} fixture_t;

//  Runs the shell command made from format with $SHOAL (the binary), $DIR
//  (the test's directory) and $C (the cluster file) set, stdout and stderr
//  kept in out and err (may be NULL). Returns its exit code, or -1 if it
//  did not exit.
//  Makes into command (2048 bytes) the shell command of format and args,
//  with $SHOAL, $DIR and $C set, its stdout and stderr into DIR/NAME.out
//  and DIR/NAME.err.
void cluster_cli_shell (fixture_t *fx, char *command, const char *name, const char *format,
                        va_list args);

int cluster_cli_run (fixture_t *fx, char *out, char *err, const char *format, ...);

int cluster_cli_setup (void **state);

void cluster_cli_node_kill (fixture_t *fx, int i);

int cluster_cli_teardown (void **state);

//  The cluster's map, loaded as the nodes load it.
cluster_t *cluster_cli_map (fixture_t *fx);

//  Sets address (size bytes) to an account that node owner owns.
void cluster_cli_account_of (const cluster_t *cluster, int owner, char *address, size_t size);
//  An address PREFIX<n> (the first n from 0) of a shard owner owns.
void cluster_cli_address_of (const cluster_t *cluster, int owner, const char *prefix, char *address,
                             size_t size);

//  --------------------------------------------------------------------------
//  5. Three nodes: commands through each node to accounts the others own;
//     stats and status see three up; a node killed is seen down, and a
//     command for an account it owns is answered `unavailable`, naming it.

//  Starts node i and waits for its ready line.
void cluster_cli_node_start (fixture_t *fx, int i);
//  The same, with options (shell words) added to its command line.
void cluster_cli_node_start_with (fixture_t *fx, int i, const char *options);

//  How many times needle is in text.
int cluster_cli_count (const char *text, const char *needle);

//  Polls `cluster status --json` until its exit code is code and its output
//  has want, against a deadline. Leaves the last output in out.
void cluster_cli_status_until (fixture_t *fx, int code, const char *want, char *out);
//  Runs the shell command (as cluster_cli_run) until its exit code is code
//  and its output has want, against a deadline ms away. Leaves the last
//  output in out.
void cluster_cli_run_until (fixture_t *fx, int64_t ms, int code, const char *want, char *out,
                            const char *command);

//  Waits until every node is up with both its links up.
void cluster_cli_all_links_up (fixture_t *fx);

#endif
