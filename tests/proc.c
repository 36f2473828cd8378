/*  proc.c - process-test helpers. See proc.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"
#include "proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

proc_t *proc_new (const char *name)
{
    proc_t *self = calloc (1, sizeof (proc_t));
    assert_non_null (self);
    harness_tempdir (self->dir, sizeof self->dir, name);
    snprintf (self->endpoint, sizeof self->endpoint, "ipc://%s/node.ipc", self->dir);
    return self;
}

void proc_destroy (proc_t **self_p)
{
    proc_t *self = *self_p;
    if (!self)
        return;
    proc_node_signal (self, SIGKILL);
    harness_rm_rf (self->dir);
    free (self);
    *self_p = NULL;
}

int64_t proc_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

void proc_read (proc_t *self, const char *name, char *buffer)
{
    char path[160];
    snprintf (path, sizeof path, "%s/%s", self->dir, name);
    proc_read_file (path, buffer);
}

bool proc_file_until (const char *path, const char *needle, int64_t ms, char *buffer)
{
    int64_t deadline = proc_now_ms () + ms;
    while (true) {
        proc_read_file (path, buffer);
        if (strstr (buffer, needle))
            return true;
        if (proc_now_ms () > deadline)
            return false;
        usleep (10 * 1000); //  between two reads, within the deadline
    }
}

bool proc_log_until (proc_t *self, const char *needle, int64_t ms, char *log)
{
    char path[160];
    snprintf (path, sizeof path, "%s/node.log", self->dir);
    return proc_file_until (path, needle, ms, log);
}

void proc_wait_out (proc_t *self, int64_t ms, const char *needle, const char *command)
{
    char out[PROC_OUTPUT_MAX];
    int64_t deadline = proc_now_ms () + ms;
    while (true) {
        proc_run (self, out, NULL, "%s", command);
        if (strstr (out, needle))
            return;
        if (proc_now_ms () > deadline)
            fail_msg ("'%s' never printed %s; last: %s", command, needle, out);
        usleep (50 * 1000); //  between two runs, within the deadline
    }
}

void proc_dead_letter_id (const char *text, const char *address, char *id)
{
    char needle[SHOAL_ADDRESS_MAX + 16];
    snprintf (needle, sizeof needle, "\"address\":\"%s\"", address);
    const char *entry = strstr (text, needle);
    if (!entry)
        fail_msg ("no dead letter of %s in %s", address, text);
    const char *at = strstr (entry, "\"id\":\"");
    assert_non_null (at);
    memcpy (id, at + 6, 32);
    id[32] = 0;
}

void proc_read_file (const char *path, char *buffer)
{
    buffer[0] = 0;
    FILE *file = fopen (path, "r");
    if (!file)
        return;
    size_t n = fread (buffer, 1, PROC_OUTPUT_MAX - 1, file);
    buffer[n] = 0;
    fclose (file);
}

const char *proc_bin (void)
{
    const char *bin = getenv ("SHOAL_BIN");
    assert_non_null (bin);
    return bin;
}

int proc_run (proc_t *self, char *out, char *err, const char *format, ...)
{
    char command[4096], text[3072];
    va_list args;
    va_start (args, format);
    proc_vformat (text, sizeof text, format, args);
    va_end (args);
    snprintf (command, sizeof command,
              "SHOAL='%s' DIR='%s' E='%s'; (%s) >'%s/run.out' 2>'%s/run.err'", proc_bin (),
              self->dir, self->endpoint, text, self->dir, self->dir);
    return proc_system (command, self->dir, out, err);
}

int proc_system (const char *command, const char *dir, char *out, char *err)
{
    int status = system (command);
    char path[160];
    if (out) {
        snprintf (path, sizeof path, "%s/run.out", dir);
        proc_read_file (path, out);
    }
    if (err) {
        snprintf (path, sizeof path, "%s/run.err", dir);
        proc_read_file (path, err);
    }
    return status != -1 && WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

static bool s_start (proc_t *self, int *status, const char *text)
{
    char command[4096];
    //  No core files: a test may crash its node on purpose.
    snprintf (command, sizeof command,
              "ulimit -c 0; SHOAL='%s' DIR='%s' E='%s'; exec %s >'%s/node.out' 2>>'%s/node.log'",
              proc_bin (), self->dir, self->endpoint, text, self->dir, self->dir);
    char out_path[160], log_path[160], ready[PROC_OUTPUT_MAX];
    snprintf (out_path, sizeof out_path, "%s/node.out", self->dir);
    snprintf (log_path, sizeof log_path, "%s/node.log", self->dir);
    return proc_shell_start (&self->node, command, out_path, log_path, "the node", PROC_START_MS,
                             ready, status);
}

//  In a child just forked: it dies with the test (parent), which a failed
//  setup leaves without its teardown (a node of a cluster test's fixture
//  served on after its test had ended). An exec keeps it.
static void s_die_with (pid_t parent)
{
    if (prctl (PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid () != parent)
        _exit (127);
}

bool proc_shell_start (pid_t *pid, const char *command, const char *out_path, const char *log_path,
                       const char *what, int64_t timeout_ms, char *ready, int *status)
{
    unlink (out_path);
    pid_t parent = getpid ();
    pid_t child = fork ();
    assert_true (child >= 0);
    if (child == 0) {
        s_die_with (parent);
        //  From /, so that no relative path resolves by accident.
        if (chdir ("/") == 0)
            execl ("/bin/sh", "sh", "-c", command, (char *) NULL);
        _exit (127);
    }
    *pid = child;
    int64_t deadline = proc_now_ms () + timeout_ms;
    while (true) {
        proc_read_file (out_path, ready);
        if (strstr (ready, "ready on ") && strchr (ready, '\n'))
            return true;
        if (waitpid (child, status, WNOHANG) == child) {
            *pid = 0;
            return false;
        }
        if (proc_now_ms () > deadline) {
            char log[PROC_OUTPUT_MAX];
            proc_read_file (log_path, log);
            fail_msg ("%s did not start in time: %s", what, log);
        }
        usleep (20 * 1000);
    }
}

void proc_node_start (proc_t *self, const char *format, ...)
{
    char text[3072];
    va_list args;
    va_start (args, format);
    proc_vformat (text, sizeof text, format, args);
    va_end (args);
    int status;
    if (!s_start (self, &status, text)) {
        char log[PROC_OUTPUT_MAX];
        proc_read (self, "node.log", log);
        fail_msg ("the node exited (status %d): %s", status, log);
    }
}

bool proc_node_try_start (proc_t *self, int *status, const char *format, ...)
{
    char text[3072];
    va_list args;
    va_start (args, format);
    proc_vformat (text, sizeof text, format, args);
    va_end (args);
    return s_start (self, status, text);
}

bool proc_node_wait_exit (proc_t *self, int64_t ms, int *status)
{
    int64_t deadline = proc_now_ms () + ms;
    while (self->node > 0) {
        if (waitpid (self->node, status, WNOHANG) == self->node) {
            self->node = 0;
            return true;
        }
        if (proc_now_ms () > deadline)
            return false;
        usleep (20 * 1000);
    }
    return false;
}

void proc_node_signal (proc_t *self, int sig)
{
    if (self->node <= 0)
        return;
    kill (self->node, sig);
    if (sig == SIGTERM || sig == SIGKILL) {
        int status;
        waitpid (self->node, &status, 0);
        self->node = 0;
    }
}

int proc_sh (char *out, size_t size, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *line = zsys_vprintf (format, args);
    va_end (args);
    FILE *pipe = popen (line, "r");
    assert_non_null (pipe);
    size_t got = 0;
    char scratch[4096];
    while (true) {
        size_t n = out ? fread (out + got, 1, size - 1 - got, pipe)
                       : fread (scratch, 1, sizeof scratch, pipe);
        if (n == 0)
            break;
        if (out)
            got += n;
        if (out && got == size - 1)
            break;
    }
    if (out)
        out[got] = 0;
    int status = pclose (pipe);
    zstr_free (&line);
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

void proc_vformat (char *text, size_t size, const char *format, va_list args)
{
    int length = vsnprintf (text, size, format, args);
    assert_true (length > 0 && (size_t) length < size);
}

const char *proc_last_line (char *text)
{
    size_t len = strlen (text);
    while (len && text[len - 1] == '\n')
        text[--len] = 0;
    char *line = strrchr (text, '\n');
    return line ? line + 1 : text;
}

int proc_socket_inodes (int pid, unsigned long *inodes, int max)
{
    char path[64];
    snprintf (path, sizeof path, "/proc/%d/fd", pid);
    DIR *dir = opendir (path);
    assert_non_null (dir);
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir (dir)) && count < max) {
        char link[PATH_MAX], target[64];
        snprintf (link, sizeof link, "%s/%s", path, entry->d_name);
        ssize_t n = readlink (link, target, sizeof target - 1);
        if (n <= 0)
            continue;
        target[n] = 0;
        if (sscanf (target, "socket:[%lu]", &inodes[count]) == 1)
            count++;
    }
    closedir (dir);
    return count;
}

pid_t proc_spawn (char *const argv[], const char *log, int *out)
{
    int pipe_fds[2];
    assert_int_equal (pipe (pipe_fds), 0);
    pid_t parent = getpid ();
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        s_die_with (parent);
        dup2 (pipe_fds[1], STDOUT_FILENO);
        close (pipe_fds[0]);
        close (pipe_fds[1]);
        int fd = open (log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2 (fd, STDERR_FILENO);
            close (fd);
        }
        execv (argv[0], argv);
        _exit (127);
    }
    close (pipe_fds[1]);
    if (out)
        *out = pipe_fds[0];
    else
        close (pipe_fds[0]);
    return pid;
}

int proc_run_argv (char *const argv[], const char *in, const char *out, char **output)
{
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        if (in) {
            int fd = open (in, O_RDONLY);
            if (fd < 0 || dup2 (fd, STDIN_FILENO) < 0)
                _exit (127);
        }
        if (!freopen (out, "w", stdout) || dup2 (STDOUT_FILENO, STDERR_FILENO) < 0)
            _exit (127);
        execv (argv[0], argv);
        _exit (127);
    }
    int status = 0;
    int64_t deadline = proc_now_ms () + 60000;
    while (waitpid (pid, &status, WNOHANG) == 0) {
        if (proc_now_ms () > deadline) {
            kill (pid, SIGKILL);
            waitpid (pid, &status, 0);
            fail_msg ("shoal %s did not end within 60 s", argv[1]);
        }
        usleep (10 * 1000);
    }
    zfile_t *file = zfile_new (NULL, out);
    assert_non_null (file);
    assert_int_equal (zfile_input (file), 0);
    zchunk_t *chunk = zfile_read (file, (size_t) zfile_cursize (file), 0);
    *output = zchunk_strdup (chunk);
    zchunk_destroy (&chunk);
    zfile_destroy (&file);
    assert_true (WIFEXITED (status));
    return WEXITSTATUS (status);
}

pid_t proc_spawn_ready (char *const argv[], const char *log, int timeout_ms)
{
    int out;
    pid_t pid = proc_spawn (argv, log, &out);
    bool ready = proc_read_until (out, "ready on ", timeout_ms);
    close (out);
    if (!ready)
        proc_kill (&pid);
    return pid;
}

bool proc_read_until (int fd, const char *want, int timeout_ms)
{
    char line[512];
    return proc_read_line_until (fd, want, line, sizeof line, timeout_ms);
}

bool proc_read_line_until (int fd, const char *want, char *line, size_t size, int timeout_ms)
{
    size_t used = 0;
    int64_t deadline = proc_now_ms () + timeout_ms;
    while (proc_now_ms () < deadline) {
        struct pollfd item = {fd, POLLIN, 0};
        if (poll (&item, 1, 100) <= 0)
            continue;
        char c;
        if (read (fd, &c, 1) != 1)
            return false;
        if (c != '\n') {
            if (used < size - 1)
                line[used++] = c;
            continue;
        }
        line[used] = 0;
        if (strstr (line, want))
            return true;
        used = 0;
    }
    return false;
}

int proc_wait_exit (pid_t pid, int timeout_ms)
{
    int64_t deadline = proc_now_ms () + timeout_ms;
    int status;
    while (proc_now_ms () < deadline) {
        if (waitpid (pid, &status, WNOHANG) == pid)
            return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
        usleep (20 * 1000);
    }
    return -1;
}

void proc_kill (pid_t *pid)
{
    proc_kill_with (pid, SIGKILL);
}

void proc_kill_with (pid_t *pid, int sig)
{
    if (*pid <= 0)
        return;
    kill (*pid, sig);
    kill (*pid, SIGCONT); //  a stopped one takes its signal
    while (waitpid (*pid, NULL, 0) == -1 && errno == EINTR)
        ;
    *pid = 0;
}

void proc_node_crash (proc_t *self, int times, int64_t ms, const char *command)
{
    int status, crashes = 0;
    while (crashes < times) {
        if (self->node) {
            if (!proc_node_wait_exit (self, ms, &status)) {
                char log[PROC_OUTPUT_MAX];
                proc_read (self, "node.log", log);
                fail_msg ("crash %d did not come within %lld ms: %s", crashes + 1, (long long) ms,
                          log);
            }
        } else if (proc_node_try_start (self, &status, "%s", command))
            continue; //  ready: it crashes soon after, as the poison comes again
        if (!WIFSIGNALED (status) || WTERMSIG (status) != SIGABRT)
            fail_msg ("the node ended otherwise than by the module's abort (status %d)", status);
        crashes++;
    }
}
