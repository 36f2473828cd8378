/*  metrics_test_util.c - the fixture of test_metrics*.c: a real `shoal
    node` (or two) in the test's own temporary directory, its ready line
    and metrics port, scrapes over HTTP/1.0, and promtool. See
    metrics_test_util.h.
*/
#include "metrics_test_util.h"
#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int metrics_fx_setup (void **state)
{
    fixture_t *fx = calloc (1, sizeof (fixture_t));
    assert_non_null (fx);
    snprintf (fx->dir, sizeof fx->dir, "/tmp/shoal-test-metrics-XXXXXX");
    assert_non_null (mkdtemp (fx->dir));
    snprintf (fx->log, sizeof fx->log, "%s/node.log", fx->dir);
    snprintf (fx->endpoint, sizeof fx->endpoint, "ipc://%s/node.ipc", fx->dir);
    fx->scrape = malloc (SCRAPE_MAX);
    assert_non_null (fx->scrape);
    *state = fx;
    return 0;
}

int metrics_fx_stop (fixture_t *fx, int sig)
{
    int status = 0;
    if (fx->pid > 0) {
        kill (fx->pid, sig);
        waitpid (fx->pid, &status, 0);
    }
    fx->pid = 0;
    return status;
}

int metrics_fx_teardown (void **state)
{
    fixture_t *fx = *state;
    metrics_fx_stop (fx, SIGKILL);
    fixture_t *second = fx->second;
    if (second) { //  a failed test's: its node is killed too
        metrics_fx_stop (second, SIGKILL);
        free (second->scrape);
        free (second);
    }
    harness_rm_rf (fx->dir);
    free (fx->scrape);
    free (fx);
    return 0;
}

const char *metrics_fx_env (const char *name)
{
    const char *value = getenv (name);
    if (!value)
        fail_msg ("%s is not set: run the test through ctest", name);
    return value;
}

//  Prints the node's stderr, to explain a failure.
void metrics_fx_dump_log (const fixture_t *fx)
{
    harness_print_file (fx->log, "node: ");
}

//  Starts `shoal node` with the counter module, 2 workers and the extra
//  arguments (NULL-terminated), and reads its ready line into fx->ready
//  and the metrics port, if any, into fx->port. Returns 0, or -1 if the
//  node exited or did not say it was ready in time.
int metrics_fx_start (fixture_t *fx, ...)
{
    char data[128];
    snprintf (data, sizeof data, "%s/data", fx->dir);
    const char *argv[ARGS_MAX] = {metrics_fx_env ("SHOAL_BIN"),
                                  "node",
                                  "--data",
                                  data,
                                  "--endpoint",
                                  fx->endpoint,
                                  "--workers",
                                  "2",
                                  "--module",
                                  metrics_fx_env ("SHOAL_TEST_MODULE")};
    int argc = 10;
    va_list args;
    va_start (args, fx);
    const char *arg;
    while ((arg = va_arg (args, const char *)) && argc < ARGS_MAX - 1)
        argv[argc++] = arg;
    va_end (args);
    return metrics_fx_start_argv (fx, argv);
}

//  The same with argv whole (NULL-terminated).
int metrics_fx_start_argv (fixture_t *fx, const char **argv)
{
    int out[2];
    assert_int_equal (pipe (out), 0);
    fx->pid = fork ();
    assert_true (fx->pid >= 0);
    if (fx->pid == 0) {
        int log = open (fx->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2 (out[1], STDOUT_FILENO);
        dup2 (log, STDERR_FILENO);
        close (out[0]);
        execv (argv[0], (char *const *) argv);
        _exit (127);
    }
    close (out[1]);
    size_t got = 0;
    fx->ready[0] = 0;
    fx->port = 0;
    int rc = -1;
    while (got < sizeof fx->ready - 1) {
        struct pollfd item = {out[0], POLLIN, 0};
        if (poll (&item, 1, START_TIMEOUT_MS) <= 0)
            break;
        ssize_t n = read (out[0], fx->ready + got, sizeof fx->ready - 1 - got);
        if (n <= 0)
            break;
        got += (size_t) n;
        fx->ready[got] = 0;
        if (strchr (fx->ready, '\n')) {
            rc = strstr (fx->ready, "ready on ") ? 0 : -1;
            break;
        }
    }
    close (out[0]);
    const char *url = strstr (fx->ready, "metrics http://127.0.0.1:");
    if (url)
        fx->port = atoi (url + strlen ("metrics http://127.0.0.1:"));
    if (rc)
        metrics_fx_dump_log (fx);
    return rc;
}

//  GETs path from the metrics port over HTTP/1.0 into fx->scrape (the
//  body). Returns the status code, or -1 if nothing answered.
int metrics_fx_get (fixture_t *fx, const char *path)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    assert_true (fd >= 0);
    struct timeval timeout = {.tv_sec = 10};
    setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons ((uint16_t) fx->port)};
    inet_pton (AF_INET, "127.0.0.1", &address.sin_addr);
    if (connect (fd, (struct sockaddr *) &address, sizeof address) != 0) {
        close (fd);
        return -1;
    }
    char request[256];
    int size =
        snprintf (request, sizeof request, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    assert_int_equal (write (fd, request, (size_t) size), size);
    char response[SCRAPE_MAX + 4096];
    size_t got = 0;
    ssize_t n;
    while (got < sizeof response - 1 &&
           (n = read (fd, response + got, sizeof response - 1 - got)) > 0)
        got += (size_t) n;
    close (fd);
    response[got] = 0;
    int status = -1;
    if (sscanf (response, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    const char *body = strstr (response, "\r\n\r\n");
    snprintf (fx->scrape, SCRAPE_MAX, "%s", body ? body + 4 : "");
    return status;
}

//  Scrapes /metrics (status 200 or the test fails).
void metrics_fx_scrape (fixture_t *fx)
{
    int status = metrics_fx_get (fx, "/metrics");
    if (status != 200)
        metrics_fx_dump_log (fx);
    assert_int_equal (status, 200);
}

//  The value of one series, exactly as written before the value
//  ("shoal_commits_total", "shoal_commands_total{outcome=\"accepted\"}").
//  Fails the test if the scrape has no such series.
//  The value of series in the scrape (what follows "SERIES "), NULL if it
//  has no such series.
static const char *s_series (const fixture_t *fx, const char *series)
{
    size_t len = strlen (series);
    for (const char *line = fx->scrape; line && *line; line = strchr (line, '\n')) {
        if (*line == '\n')
            line++;
        if (strncmp (line, series, len) == 0 && line[len] == ' ')
            return line + len + 1;
    }
    return NULL;
}

double metrics_fx_value (const fixture_t *fx, const char *series)
{
    const char *value = s_series (fx, series);
    if (!value)
        fail_msg ("no series %s in the scrape:\n%s", series, fx->scrape);
    return value ? strtod (value, NULL) : 0;
}

bool metrics_fx_has (const fixture_t *fx, const char *series)
{
    return s_series (fx, series) != NULL;
}

void metrics_fx_promtool (fixture_t *fx)
{
    char path[128], command[512];
    snprintf (path, sizeof path, "%s/scrape.txt", fx->dir);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fputs (fx->scrape, file);
    fclose (file);
    snprintf (command, sizeof command,
              "'%s' check metrics < '%s/scrape.txt' > '%s/promtool.txt' 2>&1",
              metrics_fx_env ("PROMTOOL"), fx->dir, fx->dir);
    int rc = system (command);
    if (rc != 0) {
        snprintf (path, sizeof path, "%s/promtool.txt", fx->dir);
        file = fopen (path, "r");
        char line[512];
        while (file && fgets (line, sizeof line, file))
            print_error ("promtool: %s", line);
        if (file)
            fclose (file);
        fail_msg ("promtool check metrics failed (%d) on:\n%s", rc, fx->scrape);
    }
}

void metrics_fx_until (fixture_t *fx, const char *series, double value)
{
    int64_t deadline = zclock_mono () + 20000;
    for (metrics_fx_scrape (fx);
         !metrics_fx_has (fx, series) || metrics_fx_value (fx, series) != value;
         metrics_fx_scrape (fx)) {
        if (zclock_mono () > deadline)
            fail_msg ("%s never came to %g:\n%s", series, value, fx->scrape);
        usleep (20 * 1000); //  a bounded poll: the watchdog looks every few ms
    }
}
