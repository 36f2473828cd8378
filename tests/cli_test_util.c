/*  cli_test_util.c - what test_cli_*.c share (cli_test_util.h says what each is).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"
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

#include "cli_test_util.h"

int cli_setup (void **state)
{
    fixture_t *fx = calloc (1, sizeof (fixture_t));
    assert_non_null (fx);
    snprintf (fx->dir, sizeof fx->dir, "/tmp/shoal-test-cli-XXXXXX");
    assert_non_null (mkdtemp (fx->dir));
    snprintf (fx->data, sizeof fx->data, "%s/data", fx->dir);
    snprintf (fx->endpoint, sizeof fx->endpoint, "ipc://%s/node.ipc", fx->dir);
    *state = fx;
    return 0;
}

int cli_node_stop (fixture_t *fx, int sig)
{
    int status = 0;
    if (fx->node > 0) {
        kill (fx->node, sig);
        waitpid (fx->node, &status, 0);
        fx->node = 0;
    }
    return status;
}

int cli_teardown (void **state)
{
    fixture_t *fx = *state;
    cli_node_stop (fx, SIGKILL);
    harness_rm_rf (fx->dir);
    free (fx);
    return 0;
}

static const char *s_bin (void)
{
    const char *bin = getenv ("SHOAL_BIN");
    assert_non_null (bin);
    return bin;
}

int64_t cli_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

void cli_read (const char *path, char *buffer)
{
    buffer[0] = 0;
    FILE *file = fopen (path, "r");
    if (!file)
        return;
    size_t n = fread (buffer, 1, OUTPUT_MAX - 1, file);
    buffer[n] = 0;
    fclose (file);
}

int cli_run (fixture_t *fx, char *out, char *err, const char *format, ...)
{
    char command[2048], text[1536];
    va_list args;
    va_start (args, format);
    int length = vsnprintf (text, sizeof text, format, args);
    va_end (args);
    assert_true (length > 0 && (size_t) length < sizeof text);
    snprintf (command, sizeof command, "SHOAL='%s' DIR='%s'; (%s) >'%s/run.out' 2>'%s/run.err'",
              s_bin (), fx->dir, text, fx->dir, fx->dir);
    int status = system (command);
    char path[160];
    if (out) {
        snprintf (path, sizeof path, "%s/run.out", fx->dir);
        cli_read (path, out);
    }
    if (err) {
        snprintf (path, sizeof path, "%s/run.err", fx->dir);
        cli_read (path, err);
    }
    return status != -1 && WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

void cli_node_start (fixture_t *fx, char *ready, const char *format, ...)
{
    char text[1536], command[2048];
    va_list args;
    va_start (args, format);
    int length = vsnprintf (text, sizeof text, format, args);
    va_end (args);
    assert_true (length > 0 && (size_t) length < sizeof text);
    snprintf (command, sizeof command,
              "SHOAL='%s' DIR='%s'; exec %s >'%s/node.out' 2>>'%s/node.log'", s_bin (), fx->dir,
              text, fx->dir, fx->dir);
    char out_path[160], log_path[160];
    snprintf (out_path, sizeof out_path, "%s/node.out", fx->dir);
    snprintf (log_path, sizeof log_path, "%s/node.log", fx->dir);
    unlink (out_path);
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        //  From /, so that no relative path resolves by accident.
        if (chdir ("/") == 0)
            execl ("/bin/sh", "sh", "-c", command, (char *) NULL);
        _exit (127);
    }
    fx->node = pid;
    int64_t deadline = cli_now_ms () + START_TIMEOUT_MS;
    while (true) {
        cli_read (out_path, ready);
        if (strstr (ready, "ready on ") && strchr (ready, '\n'))
            return;
        int status;
        bool ended = waitpid (pid, &status, WNOHANG) == pid;
        if (ended || cli_now_ms () > deadline) {
            if (ended)
                fx->node = 0;
            char log[OUTPUT_MAX];
            cli_read (log_path, log);
            fail_msg ("the node %s: %s", ended ? "exited" : "did not start in time", log);
        }
        usleep (20 * 1000);
    }
}

void cli_all_lines_start (const char *text, const char *prefix, const char *what)
{
    assert_true (strlen (text) > 0);
    for (const char *line = text; *line; line = strchr (line, '\n') + 1) {
        if (strncmp (line, prefix, strlen (prefix)) != 0)
            fail_msg ("%s: a line without '%s': %s", what, prefix, line);
        if (!strchr (line, '\n'))
            break;
    }
}
