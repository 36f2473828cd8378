/*  proc.h - helpers for process tests that drive the real `shoal` binary
    ($SHOAL_BIN) through /bin/sh in a temporary directory of their own,
    as test_cli_*.c do: a node on ipc://DIR/node.ipc with its stdout in
    DIR/node.out and its stderr appended to DIR/node.log; deadline waits.

    Every helper fails the running test on what it did not expect.
*/
#ifndef PROC_H_INCLUDED
#define PROC_H_INCLUDED

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PROC_OUTPUT_MAX 16384 //  bytes kept of a command's stdout or stderr
#define PROC_START_MS 30000   //  a node's ready line (ASan start-up is slow)

typedef struct {
    char dir[64];       //  the test's temporary directory
    char endpoint[128]; //  ipc://dir/node.ipc
    pid_t node;         //  the running node, or 0
} proc_t;

//  Fails the running test (cmocka's fail_msg) unless out contains needle.
#define proc_assert_has(out, needle)                                                               \
    do {                                                                                           \
        if (!strstr ((out), (needle)))                                                             \
            fail_msg ("expected '%s' in: %s", (needle), (out));                                    \
    } while (0)

//  The binary under test ($SHOAL_BIN); fails the test if it is not set.
const char *proc_bin (void);

//  Formats args into text (size bytes); fails the test unless the result
//  is not empty and fits.
void proc_vformat (char *text, size_t size, const char *format, va_list args);

//  The last line of text (borrowed, in text, which loses its last newline).
const char *proc_last_line (char *text);

//  A fixture with a fresh directory (name: a word for its path).
proc_t *proc_new (const char *name);
//  Kills the node if any, removes the directory, frees; *self_p = NULL.
void proc_destroy (proc_t **self_p);

//  The inodes of the sockets process pid holds open (socket:[N] in its
//  /proc/PID/fd), at most max. Returns how many.
int proc_socket_inodes (int pid, unsigned long *inodes, int max);
int64_t proc_now_ms (void);

//  Runs a shell command line (formatted) with no fixture: its stdout into
//  out (may be NULL; at most size - 1 bytes kept). Returns its exit code,
//  -1 if it did not exit.
int proc_sh (char *out, size_t size, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  Runs the shell command made from format, with $SHOAL, $DIR and $E (the
//  endpoint) set; stdout and stderr into out and err (PROC_OUTPUT_MAX
//  bytes each, may be NULL). Returns its exit code, -1 if it did not exit.
int proc_run (proc_t *self, char *out, char *err, const char *format, ...);

//  Starts `exec COMMAND` (format, variables as proc_run) as the node and
//  waits for its ready line; fails the test if it exits first.
void proc_node_start (proc_t *self, const char *format, ...);
//  Starts the node as proc_node_start, but returns false if it exits
//  before its ready line (its wait status in *status), true when ready.
bool proc_node_try_start (proc_t *self, int *status, const char *format, ...);
//  Waits at most ms for the node to exit. True (status in *status) if it
//  did.
bool proc_node_wait_exit (proc_t *self, int64_t ms, int *status);
//  Sends sig to the node; with SIGTERM or SIGKILL waits for it too.
void proc_node_signal (proc_t *self, int sig);
//  Acts as a supervisor of a node that crashes on a poison (abort()):
//  the running node crashed (or crashes now), and is restarted with
//  command until it has died times times in all, each within ms of its
//  start; fails the test if it ends otherwise than by SIGABRT.
void proc_node_crash (proc_t *self, int times, int64_t ms, const char *command);

//  The text of DIR/name (PROC_OUTPUT_MAX bytes), "" if missing.
void proc_read (proc_t *self, const char *name, char *buffer);
//  Reads DIR/node.log into log (PROC_OUTPUT_MAX bytes) until it holds
//  needle, or ms have passed (it is read every 10 ms). True if it does.
bool proc_log_until (proc_t *self, const char *needle, int64_t ms, char *log);
//  Runs command (as proc_run) until its stdout holds needle, at most ms;
//  fails the test past them.
void proc_wait_out (proc_t *self, int64_t ms, const char *needle, const char *command);
//  The id of the dead letter of address in `shoal dead-letters --json`
//  output text, into id (33 bytes); fails the test if there is none.
void proc_dead_letter_id (const char *text, const char *address, char *id);
//  The text of the file at path (PROC_OUTPUT_MAX bytes), "" if missing.
void proc_read_file (const char *path, char *buffer);
//  Reads the file at path into buffer (PROC_OUTPUT_MAX bytes) until it
//  holds needle, for ms at most. Returns whether it did.
bool proc_file_until (const char *path, const char *needle, int64_t ms, char *buffer);

//  For a fixture of a test family's own (test_cli_*.c, test_cluster_cli_*.c):
//  runs command through /bin/sh (system); it must write its stdout and
//  stderr to DIR/run.out and DIR/run.err, read back into out and err
//  (PROC_OUTPUT_MAX bytes each, may be NULL). Returns its exit code, -1 if
//  it did not exit.
int proc_system (const char *command, const char *dir, char *out, char *err);
//  Starts `/bin/sh -c command` from / (*pid: its pid) and waits at most
//  timeout_ms for the file out_path, which it writes its stdout to, to
//  hold a ready line, left in ready (PROC_OUTPUT_MAX bytes). True once
//  ready; false if it exits first (its wait status in *status, *pid 0).
//  Out of time, fails the test: "WHAT did not start in time: " and the
//  text of log_path.
bool proc_shell_start (pid_t *pid, const char *command, const char *out_path, const char *log_path,
                       const char *what, int64_t timeout_ms, char *ready, int *status);

//  Without a fixture, for a test that starts the binary itself (several
//  nodes of a cluster, test_peer_forgery_*.c): starts argv (argv[0] a path)
//  with its stdout on a pipe (*out, the read end; out NULL: none) and its
//  stderr appended to log. Returns its pid.
pid_t proc_spawn (char *const argv[], const char *log, int *out);
//  Without a fixture: runs argv (argv[0] a path, NULL-terminated) to its
//  end, stdin from the file in (NULL: this process's), stdout and stderr
//  into the file out, for at most 60 s: past that, kills it and fails the
//  test ("shoal ARGV[1] did not end within 60 s"). Returns its exit code
//  (fails the test if it did not exit by itself); *output (to free) holds
//  what it wrote.
int proc_run_argv (char *const argv[], const char *in, const char *out, char **output);
//  proc_spawn, then waits at most timeout_ms for a line with "ready on "
//  on its stdout, whose pipe it closes. Returns its pid once ready; 0 if
//  it was not (killed and reaped by then).
pid_t proc_spawn_ready (char *const argv[], const char *log, int timeout_ms);
//  Reads fd line by line until a line holding want, for at most
//  timeout_ms. Returns false on timeout or end of file.
bool proc_read_until (int fd, const char *want, int timeout_ms);
//  The same, with the line that held want copied into line (size bytes).
bool proc_read_line_until (int fd, const char *want, char *line, size_t size, int timeout_ms);
//  Waits at most timeout_ms for pid to exit; returns its exit code, -1 if
//  it did not exit (or died of a signal).
int proc_wait_exit (pid_t pid, int timeout_ms);
//  Kills *pid (SIGKILL) if it is > 0, reaps it, and sets it to 0.
void proc_kill (pid_t *pid);
//  The same with sig (then SIGCONT, for a stopped one), and reaps it.
void proc_kill_with (pid_t *pid, int sig);

#endif
