/*  node_child.c - a `shoal node` as a child process, and the scratch
    directories it runs in. See node_child.h.
*/
#include "node_child.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <unistd.h>

int bench_temp_dir (const char *prefix, char *buf, size_t size)
{
    const char *tmp = getenv ("TMPDIR");
    int len = snprintf (buf, size, "%s/%s-XXXXXX", tmp ? tmp : "/tmp", prefix);
    if (len < 0 || (size_t) len >= size || !mkdtemp (buf))
        return -1;
    return 0;
}

static int s_remove_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) ftw;
    return (flag == FTW_DP ? rmdir (path) : unlink (path)) == 0 ? 0 : -1;
}

int bench_remove_tree (const char *dir)
{
    if (!dir || !dir[0])
        return -1;
    return nftw (dir, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

static volatile sig_atomic_t s_signal;

static void s_on_signal (int sig)
{
    if (s_signal) { //  asked twice: as if nothing caught it
        signal (sig, SIG_DFL);
        raise (sig);
        return;
    }
    s_signal = sig;
    zsys_interrupted = 1;
}

void bench_signals_catch (void)
{
    zsys_handler_set (NULL); //  czmq's own handler is not to come back
    struct sigaction action = {.sa_handler = s_on_signal};
    sigemptyset (&action.sa_mask);
    //  No SA_RESTART: a wait in zmq_poll or a sleep ends with EINTR. A
    //  SIGINT ignored from the start (a job a script put in the
    //  background) stays ignored, as before.
    struct sigaction was;
    if (sigaction (SIGINT, NULL, &was) != 0 || was.sa_handler != SIG_IGN)
        sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    if (zsys_interrupted && !s_signal) //  one came before this call
        s_signal = SIGINT;
}

int bench_interrupted (void)
{
    return s_signal;
}

int bench_interrupted_exit (const char *command, const char *cleaned)
{
    int sig = s_signal;
    if (!sig)
        return 0;
    fprintf (stderr, "%s: interrupted by %s: %s\n", command, sig == SIGINT ? "SIGINT" : "SIGTERM",
             cleaned);
    return 128 + sig;
}

//  The executable to run: shoal, or this process's own into buf. NULL if
//  /proc cannot tell.
static const char *s_executable (const char *shoal, char *buf, size_t size)
{
    if (shoal)
        return shoal;
    ssize_t len = readlink ("/proc/self/exe", buf, size - 1);
    if (len <= 0)
        return NULL;
    buf[len] = 0;
    return buf;
}

//  In a child after fork: points fd at log (opened for appending), if
//  there is one. Keeps fd as it was if log cannot be opened.
static void s_redirect (int fd, const char *log)
{
    if (!log)
        return;
    int file = open (log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (file >= 0) {
        dup2 (file, fd);
        close (file);
    }
}

//  Forks and executes shoal with args; the child's stdout is out (a
//  descriptor the caller still closes) and its stderr log; it closes
//  close_in_child (-1: none). Returns the pid, or -1.
static pid_t s_fork_exec (const char *shoal, char *const *args, int out, int close_in_child,
                          const char *log)
{
    char *argv[64] = {(char *) shoal};
    int argc = 1;
    for (int i = 0; args && args[i] && argc < 63; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    pid_t pid = fork ();
    if (pid == 0) {
#ifdef __linux__
        //  A node outlives no parent that dies without stopping it (a test
        //  that crashed, `shoal cluster up` killed).
        prctl (PR_SET_PDEATHSIG, SIGTERM);
#endif
        dup2 (out, STDOUT_FILENO);
        close (out);
        if (close_in_child >= 0)
            close (close_in_child);
        s_redirect (STDERR_FILENO, log);
        execv (shoal, argv);
        _exit (127);
    }
    return pid;
}

int node_child_spawn (node_child_t *child, const char *shoal, char *const *args, const char *log,
                      int timeout_ms)
{
    memset (child, 0, sizeof *child);
    child->exit_code = -1;
    char self_exe[PATH_MAX];
    if (!(shoal = s_executable (shoal, self_exe, sizeof self_exe)))
        return SHOAL_EIO;
    int out[2];
    if (pipe (out) != 0)
        return SHOAL_EIO;
    pid_t pid = s_fork_exec (shoal, args, out[1], out[0], log);
    close (out[1]);
    if (pid < 0) {
        close (out[0]);
        return SHOAL_EIO;
    }
    child->pid = pid;
    //  Read its stdout until the ready line; then let the rest go to a
    //  pipe nobody reads (a node prints nothing more on stdout).
    char line[512];
    size_t used = 0;
    int64_t deadline = zclock_mono () + timeout_ms;
    int rc = SHOAL_ETIMEOUT;
    while (zclock_mono () < deadline && used < sizeof line - 1 && !zsys_interrupted) {
        zmq_pollitem_t item = {NULL, out[0], ZMQ_POLLIN, 0};
        if (zmq_poll (&item, 1, 100) <= 0)
            continue;
        ssize_t n = read (out[0], line + used, 1);
        if (n <= 0) {
            rc = SHOAL_EIO; //  the node exited
            break;
        }
        used++;
        if (line[used - 1] == '\n') {
            line[used - 1] = 0;
            char *ready = strstr (line, "ready on ");
            if (ready) {
                sscanf (ready + 9, "%127s", child->endpoint);
                snprintf (child->ready, sizeof child->ready, "%s", line);
                rc = 0;
                break;
            }
            used = 0;
        }
    }
    close (out[0]);
    if (rc != 0) {
        int status = node_child_stop (child, SIGKILL);
        if (rc == SHOAL_EIO && WIFEXITED (status))
            child->exit_code = WEXITSTATUS (status);
    }
    return rc;
}

int node_child_run (const char *shoal, char *const *args, const char *log)
{
    char self_exe[PATH_MAX];
    if (!(shoal = s_executable (shoal, self_exe, sizeof self_exe)))
        return -1;
    int null = open ("/dev/null", O_WRONLY);
    if (null < 0)
        return -1;
    pid_t pid = s_fork_exec (shoal, args, null, -1, log);
    close (null);
    int status = 0;
    if (pid < 0)
        return -1;
    while (waitpid (pid, &status, 0) == -1 && errno == EINTR)
        ;
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

int node_child_start (node_child_t *child, const char *shoal, const char *data_dir,
                      const char *endpoint, char *const *extra, const char *log, int timeout_ms)
{
    char *args[64] = {"node", "--data", (char *) data_dir, "--endpoint", (char *) endpoint};
    int argc = 5;
    for (int i = 0; extra && extra[i] && argc < 63; i++)
        args[argc++] = extra[i];
    args[argc] = NULL;
    int rc = node_child_spawn (child, shoal, args, log, timeout_ms);
    snprintf (child->data_dir, sizeof child->data_dir, "%s", data_dir);
    return rc;
}

void node_child_args (node_child_args_t *args, bool async, int workers, char *const *extra,
                      char *const *given)
{
    memset (args, 0, sizeof *args);
    size_t argc = 0, max = sizeof args->argv / sizeof args->argv[0] - 1;
    args->argv[argc++] = "--durability";
    args->argv[argc++] = async ? "async" : "sync";
    if (workers > 0) {
        snprintf (args->workers, sizeof args->workers, "%d", workers);
        args->argv[argc++] = "--workers";
        args->argv[argc++] = args->workers;
    }
    for (size_t i = 0; extra && extra[i] && argc < max; i++)
        args->argv[argc++] = extra[i];
    for (size_t i = 0; given && given[i] && argc < max; i++)
        args->argv[argc++] = given[i];
}

int node_child_start_retry (node_child_t *child, const char *shoal, const char *data_dir,
                            const char *endpoint, const node_child_args_t *args, const char *log,
                            int timeout_ms)
{
    char saved[128];
    snprintf (saved, sizeof saved, "%s", endpoint);
    int rc = SHOAL_ETIMEOUT;
    for (int attempt = 0; attempt < 20 && rc != 0 && !zsys_interrupted; attempt++) {
        rc = node_child_start (child, shoal, data_dir, saved, args->argv, log, timeout_ms);
        if (rc && child->exit_code == 2) //  shoal's exit code for bad usage
            return SHOAL_EINVAL;         //  said on its stderr, once
        if (rc)
            zclock_sleep (250);
    }
    return rc;
}

int node_child_stop (node_child_t *child, int sig)
{
    int status = 0;
    if (child->pid > 0) {
        kill (child->pid, sig);
        while (waitpid (child->pid, &status, 0) == -1 && errno == EINTR)
            ;
        child->pid = 0;
    }
    return status;
}
