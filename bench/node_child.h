/*  node_child.h - a `shoal node` as a child process of the demo, the bench,
    `shoal cluster up` or a process test, and the scratch directories it
    runs in. One thread.
*/
#ifndef NODE_CHILD_H_INCLUDED
#define NODE_CHILD_H_INCLUDED

#include "shoal_base.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

//  A free loopback port for a node of our own, below Linux's ephemeral
//  range (32768 up): a client reconnecting while the node is down could
//  otherwise connect to itself on the node's port (a TCP self-connect) and
//  hold it, so that the restarted node cannot bind it. czmq's "!" picks at
//  random in the range.
#define NODE_CHILD_FREE_ENDPOINT "tcp://127.0.0.1:![20000-32767]"

//  Makes a new directory named prefix-XXXXXX under $TMPDIR (else /tmp)
//  and writes its path into buf. Returns 0, or -1 if it could not.
int bench_temp_dir (const char *prefix, char *buf, size_t size);

//  Removes dir and everything under it, without a shell; symlinks are
//  removed, not followed. Returns 0, or -1 if anything stayed.
int bench_remove_tree (const char *dir);

//  For a command that makes temporary directories or child nodes (the
//  bench, the demo): SIGINT and SIGTERM set zsys_interrupted, so that its
//  loops end and it stops its nodes and removes its directories before it
//  exits; a second one ends the process at once. A SIGINT the process was
//  started ignoring stays ignored. Call after zsys_init.
void bench_signals_catch (void);

//  The signal that interrupted the command (SIGINT or SIGTERM), or 0.
int bench_interrupted (void);

//  If the command was interrupted, says so on stderr (as command: what
//  cleaned) and returns the shell's exit code for the signal, 128 + its
//  number; else returns 0.
int bench_interrupted_exit (const char *command, const char *cleaned);

//  A `shoal node` child process.
typedef struct {
    pid_t pid;          //  0 when not running
    char endpoint[128]; //  as printed in its ready line
    char data_dir[512]; //  node_child_start's ("" after node_child_spawn: the caller's to set)
    char ready[512];    //  its ready line, without the newline
    int exit_code;      //  its exit code if it exited before that line, else -1
} node_child_t;

//  Starts the executable at shoal (NULL: this process's own) with args,
//  the words after it (NULL-terminated: "node", "--cluster", FILE, ...),
//  and reads its stdout until a line with "ready on ENDPOINT" (at most
//  timeout_ms); then that pipe is closed (a node writes nothing more on
//  stdout). stderr goes to log (NULL: inherited). On Linux the child gets
//  SIGTERM if the thread that started it ends first (PR_SET_PDEATHSIG).
//  Returns 0, SHOAL_ETIMEOUT, or SHOAL_EIO if it could not be started or
//  exited first; on failure it is killed and reaped.
int node_child_spawn (node_child_t *child, const char *shoal, char *const *args, const char *log,
                      int timeout_ms);

//  Runs the executable at shoal (NULL: this process's own) with args (as
//  node_child_spawn) to its end: stdout to /dev/null, stderr to log (NULL:
//  inherited). For `shoal cluster init`. Returns its exit code, or -1 if
//  it could not be run or did not exit normally.
int node_child_run (const char *shoal, char *const *args, const char *log);

//  Starts `shoal node --data DIR --endpoint ENDPOINT [extra args]` with
//  node_child_spawn. Returns 0 or a negative code.
int node_child_start (node_child_t *child, const char *shoal, const char *data_dir,
                      const char *endpoint, char *const *extra, const char *log, int timeout_ms);
//  The options of a `shoal node` child: "--durability async|sync",
//  "--workers N" if workers > 0, then extra, then given (a user's own,
//  `shoal bench --node-arg`: last, so that they win), as an argv for
//  node_child_start (argv is NULL-terminated; its strings are borrowed).
//  Either list may be NULL.
#define NODE_CHILD_ARGS_MAX 48
typedef struct {
    char *argv[NODE_CHILD_ARGS_MAX]; //  NULL-terminated
    char workers[16];                //  the text of N
} node_child_args_t;
void node_child_args (node_child_args_t *args, bool async, int workers, char *const *extra,
                      char *const *given);

//  node_child_start with args, tried up to 20 times 250 ms apart: a port
//  just freed by a kill may stay busy for a moment. endpoint is copied
//  first, so it may be child->endpoint. Returns 0 or the last attempt's
//  code; SHOAL_EINVAL at once when the node exits 2, bad usage (a
//  --node-arg it does not take), which no attempt after would change.
int node_child_start_retry (node_child_t *child, const char *shoal, const char *data_dir,
                            const char *endpoint, const node_child_args_t *args, const char *log,
                            int timeout_ms);
//  Sends sig and waits for the child to end. Returns its wait status.
int node_child_stop (node_child_t *child, int sig);

#endif
