/*  test_metrics_counters.c - a counter of /metrics never goes down, read
    by real scrapes (HTTP, on libmicrohttpd's thread) while a thread
    counts. outcome="rejected" is the commands rejected less those
    expired (an expired command is counted in both), two counters read one
    after the other: a batch of expired commands released between the two
    reads showed it lower for one scrape, which Prometheus takes for a
    reset (a review's find); and, kept at its highest, it must not be read
    too high either (a batch added to rejected before expired: its expired
    commands stayed counted as rejected for good, the review of that fix).

    A unit test of metrics.c: the workers' counters are a worker_config_t
    of the test's own, over a real journal, and a thread of the test
    releases batches into them as a worker does (worker_stats_add).
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>

#include <cmocka.h>

#include "harness.h"
#include "metrics.h"
#include "worker_internal.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SCRAPES 300
#define REFUSED 1000 //  commands rejected, not expired, before the scrapes
#define SERIES "shoal_commands_total{outcome=\"rejected\"} "

typedef struct {
    worker_stats_t *stats;
    atomic_bool stop;
} counter_t;

//  A worker releasing batches of one expired command each (a rejection
//  too), as fast as it can.
static void *s_counting (void *arg)
{
    counter_t *counter = arg;
    const worker_tally_t batch = {.messages = 1, .rejected = 1, .expired = 1};
    while (!atomic_load (&counter->stop))
        worker_stats_add (&counter->stats[0], &batch);
    return NULL;
}

//  GET /metrics from port into text (size bytes); returns the series'
//  value, or fails the test.
static double s_scrape (int port, char *text, size_t size)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    assert_true (fd >= 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons ((uint16_t) port)};
    to.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    assert_int_equal (connect (fd, (struct sockaddr *) &to, sizeof to), 0);
    const char *request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    assert_int_equal (write (fd, request, strlen (request)), (ssize_t) strlen (request));
    size_t used = 0;
    ssize_t n;
    while (used < size - 1 && (n = read (fd, text + used, size - 1 - used)) > 0)
        used += (size_t) n;
    text[used] = 0;
    close (fd);
    const char *series = strstr (text, "\n" SERIES);
    if (!series)
        fail_msg ("no %s in the scrape: %.300s", SERIES, text);
    return strtod (series + 1 + strlen (SERIES), NULL);
}

static void test_rejected_never_goes_down (void **state)
{
    (void) state;
    char dir[64];
    harness_tempdir (dir, sizeof dir, "test-metrics");
    int code;
    char *error = NULL;
    journal_t *journal = journal_open (dir, NULL, &code, &error);
    assert_non_null (journal);
    counter_t counter = {.stats = calloc (2, sizeof (worker_stats_t))};
    assert_non_null (counter.stats);
    atomic_store (&counter.stats[1].rejected, REFUSED);
    worker_config_t workers = {
        .journal = journal, .workers = 2, .shards = 16, .stats = counter.stats};
    front_counters_t front = {0};
    metrics_config_t config = {
        .address = "127.0.0.1:0", .config = &workers, .front = &front, .data_dir = dir};
    metrics_t *metrics = metrics_new (&config, &error);
    if (!metrics)
        fail_msg ("metrics_new: %s", error ? error : "?");
    int port = 0;
    assert_int_equal (sscanf (metrics_url (metrics), "http://127.0.0.1:%d/", &port), 1);

    //  A first scrape before any batch: REFUSED, the highest exported.
    static char text[256 * 1024];
    assert_true (s_scrape (port, text, sizeof text) == REFUSED);
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, s_counting, &counter), 0);
    //  Every rejection the thread adds expired: the series is REFUSED at
    //  every scrape, never below (a reset to Prometheus) nor above.
    for (int i = 0; i < SCRAPES; i++) {
        double value = s_scrape (port, text, sizeof text);
        if (value != REFUSED) {
            atomic_store (&counter.stop, true);
            pthread_join (thread, NULL);
            fail_msg ("scrape %d: outcome=\"rejected\" is %.0f, not %d", i, value, REFUSED);
        }
    }
    atomic_store (&counter.stop, true);
    pthread_join (thread, NULL);

    metrics_destroy (&metrics);
    free (counter.stats);
    journal_destroy (&journal);
    harness_rm_rf (dir);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_rejected_never_goes_down),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
