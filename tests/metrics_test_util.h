/*  metrics_test_util.h - the fixture and helpers of test_metrics*.c:
    process tests of a node's metrics, a real `shoal node` on an ipc://
    endpoint in the test's own directory with --metrics 127.0.0.1:0 (the
    port read from its ready line), scraped with a few lines of HTTP/1.0
    over a socket, each scrape checked by `promtool check metrics` (ctest
    sets PROMTOOL). ctest sets SHOAL_BIN and SHOAL_TEST_MODULE too. Each
    test has its own temporary directory (data/, node.log for the node's
    stderr, scrape.txt); the teardown kills its nodes and removes it.
*/
#ifndef SHOAL_TESTS_METRICS_TEST_UTIL_H
#define SHOAL_TESTS_METRICS_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>

#define START_TIMEOUT_MS 20000 //  a node's ready line (ASan start-up is slow)
#define CALL_TIMEOUT_MS 10000  //  a reply
#define SCRAPE_MAX (256 << 10) //  bytes of a scrape at most
#define ARGS_MAX 24

typedef struct {
    char dir[64];       //  the test's temporary directory
    char log[128];      //  dir/node.log: the node's stderr
    char endpoint[160]; //  ipc://dir/node.ipc
    char ready[1024];   //  the node's ready line
    int port;           //  the metrics port from the ready line, 0 if none
    pid_t pid;          //  the node, 0 when not running
    char *scrape;       //  the last scrape's body, SCRAPE_MAX bytes
    void *second;       //  a second node's fixture (a cluster's), NULL if none
} fixture_t;

int metrics_fx_setup (void **state);
int metrics_fx_teardown (void **state);
//  Stops the node with sig and reaps it; returns its wait status.
int metrics_fx_stop (fixture_t *fx, int sig);
//  The value of the environment variable name; fails the test without it.
const char *metrics_fx_env (const char *name);
//  Prints the node's stderr, to explain a failure.
void metrics_fx_dump_log (const fixture_t *fx);
//  Starts `shoal node` with the counter module, 2 workers and the extra
//  arguments (NULL-terminated), and reads its ready line into fx->ready
//  and the metrics port, if any, into fx->port. Returns 0, or -1 if the
//  node exited or did not say it was ready in time.
int metrics_fx_start (fixture_t *fx, ...);
//  The same with argv whole (NULL-terminated).
int metrics_fx_start_argv (fixture_t *fx, const char **argv);
//  GETs path from the metrics port over HTTP/1.0 into fx->scrape (the
//  body). Returns the status code, or -1 if nothing answered.
int metrics_fx_get (fixture_t *fx, const char *path);
//  Scrapes /metrics (status 200 or the test fails).
void metrics_fx_scrape (fixture_t *fx);
//  The value of one series, exactly as written before the value
//  ("shoal_commits_total", "shoal_commands_total{outcome=\"accepted\"}").
//  Fails the test if the scrape has no such series.
double metrics_fx_value (const fixture_t *fx, const char *series);
//  True if the scrape has the series.
bool metrics_fx_has (const fixture_t *fx, const char *series);
//  Runs `promtool check metrics` on the last scrape; fails the test with
//  what promtool said if it finds anything.
void metrics_fx_promtool (fixture_t *fx);
//  Scrapes until series has value, for 20 s at most.
void metrics_fx_until (fixture_t *fx, const char *series, double value);

#endif
