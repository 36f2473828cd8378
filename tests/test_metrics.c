/*  test_metrics.c - process tests of a node's metrics and log: a real
    `shoal node` on an ipc:// endpoint in the test's own directory, with
    --metrics 127.0.0.1:0 (the port read from its ready line), scraped with
    a few lines of HTTP/1.0 over a socket, and the scrape checked by
    `promtool check metrics` (ctest sets PROMTOOL) and against the work the
    test did.

    ctest sets SHOAL_BIN (the shoal executable), SHOAL_TEST_MODULE
    (counter.so) and PROMTOOL. Each test has its own temporary directory
    (data/, node.log for the node's stderr, scrape.txt); the teardown kills
    the node and removes it.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "proc.h"

#include "client.h"
#include "harness.h"
#include "metrics.h"
#include "metrics_test_util.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <msgpack.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define COMMANDS 300 //  sent by the busy test

//  The sum of every series of family (its name followed by '{').
static double s_family_sum (const fixture_t *fx, const char *family)
{
    double sum = 0;
    size_t len = strlen (family);
    for (const char *line = fx->scrape; line && *line; line = strchr (line, '\n')) {
        if (*line == '\n')
            line++;
        if (strncmp (line, family, len) == 0 && line[len] == '{') {
            const char *space = strchr (line, ' ');
            if (space)
                sum += strtod (space + 1, NULL);
        }
    }
    return sum;
}

//  A histogram's buckets never go down with le, its +Inf bucket is its
//  _count. Returns the _count.
static double s_histogram_ok (const fixture_t *fx, const char *name)
{
    char prefix[128];
    snprintf (prefix, sizeof prefix, "%s_bucket{le=\"", name);
    double previous = 0;
    int buckets = 0;
    for (const char *line = strstr (fx->scrape, prefix); line; line = strstr (line + 1, prefix)) {
        const char *space = strchr (line, ' ');
        assert_non_null (space);
        double value = strtod (space + 1, NULL);
        assert_true (value >= previous);
        previous = value;
        buckets++;
    }
    assert_true (buckets > 2);
    char series[160];
    snprintf (series, sizeof series, "%s_bucket{le=\"+Inf\"}", name);
    double count = metrics_fx_value (fx, series);
    assert_true (count == previous);
    snprintf (series, sizeof series, "%s_count", name);
    assert_true (metrics_fx_value (fx, series) == count);
    return count;
}

//  The payload {by: by}, to free().
static uint8_t *s_by (int64_t by, size_t *size)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    msgpack_pack_str_with_body (&pk, "by", 2);
    msgpack_pack_int64 (&pk, by);
    return harness_take (&buffer, size);
}

//  --------------------------------------------------------------------------
//  1. A busy node's scrape passes promtool, and its counters agree with
//     the commands the test sent: every one counted once, by outcome.

static void test_busy_scrape (void **state)
{
    fixture_t *fx = *state;
    assert_int_equal (metrics_fx_start (fx, "--metrics", "127.0.0.1:0", NULL), 0);
    assert_true (fx->port > 0);
    metrics_fx_scrape (fx);
    metrics_fx_promtool (fx);
    double before = s_family_sum (fx, "shoal_commands_total");
    double accepted_before = metrics_fx_value (fx, "shoal_commands_total{outcome=\"accepted\"}");
    double rejected_before = metrics_fx_value (fx, "shoal_commands_total{outcome=\"rejected\"}");

    client_t *client = client_new (fx->endpoint);
    assert_non_null (client);
    size_t rejected = 0, accepted = 0, answered = 0;
    for (size_t i = 0; i < COMMANDS; i++) {
        char to[32];
        snprintf (to, sizeof to, "counter/m%zu", i % 37);
        size_t size;
        uint8_t *payload = s_by (i % 10 == 0 ? 0 : 1, &size); //  by=0 is rejected
        envelope_t request;
        client_request (&request, ENVELOPE_COMMAND, NULL, to, "Add", payload, size);
        assert_int_equal (client_send (client, &request), 0);
        free (payload);
        if (i % 10 == 0)
            rejected++;
        else
            accepted++;
        if (i % 50 == 25) { //  scrape while commands are in flight
            metrics_fx_scrape (fx);
            metrics_fx_promtool (fx);
        }
    }
    while (answered < COMMANDS) {
        client_reply_t reply;
        assert_int_equal (client_recv (client, CALL_TIMEOUT_MS, &reply), 0);
        answered++;
        client_reply_close (&reply);
    }
    client_destroy (&client);

    //  Counted when their batch was released, before the replies went out.
    metrics_fx_scrape (fx);
    metrics_fx_promtool (fx);
    assert_true (s_family_sum (fx, "shoal_commands_total") - before == COMMANDS);
    assert_true (metrics_fx_value (fx, "shoal_commands_total{outcome=\"accepted\"}") -
                     accepted_before ==
                 (double) accepted);
    assert_true (metrics_fx_value (fx, "shoal_commands_total{outcome=\"rejected\"}") -
                     rejected_before ==
                 (double) rejected);
    assert_true (metrics_fx_value (fx, "shoal_events_total") >= (double) accepted);
    //  One observation per commit, in each histogram; one per message in
    //  the turns'.
    double commits = metrics_fx_value (fx, "shoal_commits_total");
    assert_true (commits > 0);
    assert_true (s_histogram_ok (fx, "shoal_commit_duration_seconds") == commits);
    assert_true (s_histogram_ok (fx, "shoal_batch_messages") == commits);
    assert_true (s_histogram_ok (fx, "shoal_turn_duration_seconds") >= COMMANDS);
    assert_true (metrics_fx_value (fx, "shoal_messages_total") >= COMMANDS);
    assert_true (metrics_fx_value (fx, "shoal_active_actors") == 37);
    assert_true (metrics_fx_value (fx, "shoal_data_bytes") > 0);
    //  The store's own counters (every scrape showed 0 until 2026-12-02):
    //  every commit wrote records, and in sync durability a sync covered it.
    assert_true (metrics_fx_value (fx, "shoal_store_records_total") >=
                 metrics_fx_value (fx, "shoal_commits_total"));
    assert_true (metrics_fx_value (fx, "shoal_syncs_total") >= 1);
    //  Each command went to a new counter: its inbox read was spared.
    assert_true (metrics_fx_value (fx, "shoal_inbox_reads_spared_total") >= 1);
    assert_true (metrics_fx_value (fx, "shoal_worker_queue_bytes{worker=\"1\"}") == 0);
    //  The replies went out through the front (test_powerloss_sync presses
    //  its bound).
    assert_true (metrics_fx_value (fx, "shoal_outbound_peak_bytes") > 0);
    assert_true (metrics_fx_value (fx, "shoal_outbound_waits_total") == 0);
    assert_true (metrics_fx_value (fx, "shoal_forged_messages_total") == 0); //  a node alone: none
    assert_true (metrics_fx_value (fx, "shoal_build_info{version=\"" SHOAL_VERSION_STRING "\"}") ==
                 1);
    //  The threads by name: the workers and the projections' are there
    //  (their CPU time may still round to 0).
    assert_true (metrics_fx_has (fx, "shoal_thread_cpu_seconds_total{thread=\"shoal-worker-0\"}"));
    assert_true (metrics_fx_has (fx, "shoal_thread_cpu_seconds_total{thread=\"shoal-worker-1\"}"));
    assert_true (metrics_fx_has (fx, "shoal_thread_cpu_seconds_total{thread=\"shoal-projector\"}"));
    assert_true (
        metrics_fx_value (fx, "shoal_thread_cpu_seconds_total{thread=\"shoal-worker-0\"}") >= 0);
    //  No label names an actor.
    assert_null (strstr (fx->scrape, "counter/"));
    //  The projections' gauges, refreshed about once a second: the bank's
    //  bank_totals follows the node's log to its end (it wants none of
    //  these events, but passes them).
#define TOTALS "{projection=\"bank_totals\",version=\"1\",build=\"0\"}"
    int64_t deadline = zclock_mono () + 30000;
    while (!metrics_fx_has (fx, "shoal_projection_lag_events" TOTALS) ||
           metrics_fx_value (fx, "shoal_projection_lag_events" TOTALS) != 0 ||
           metrics_fx_value (fx, "shoal_projection_position" TOTALS) < (double) accepted) {
        assert_true (zclock_mono () < deadline);
        zclock_sleep (50);
        metrics_fx_scrape (fx);
    }
    //  The read of every record after the start: a fresh store, whole.
    while (metrics_fx_value (fx, "shoal_store_verified") != 1) {
        assert_true (zclock_mono () < deadline);
        zclock_sleep (50); //  between two scrapes, within the deadline
        metrics_fx_scrape (fx);
    }
    assert_true (metrics_fx_value (fx, "shoal_store_damaged") == 0);
    metrics_fx_promtool (fx);
    assert_true (metrics_fx_value (fx, "shoal_projection_served" TOTALS) == 1);
    assert_true (metrics_fx_value (fx, "shoal_projection_failed" TOTALS) == 0);
    assert_true (metrics_fx_value (fx, "shoal_projection_applied_total" TOTALS) == 0);
    //  It has taken the log's events: in one batch or more.
    assert_true (metrics_fx_value (fx, "shoal_projection_batches_total" TOTALS) >= 1);
#undef TOTALS

    //  Only GET /metrics.
    assert_int_equal (metrics_fx_get (fx, "/"), 404);
    assert_int_equal (metrics_fx_get (fx, "/metrics/x"), 404);
}

//  --------------------------------------------------------------------------
//  2. --metrics off: the ready line has no URL and the node listens on no
//     TCP port at all; the default serves one, on loopback.

//  Whether process pid has a listening TCP socket (IPv4 or IPv6).
static bool s_listens_tcp (pid_t pid)
{
    unsigned long inodes[256];
    size_t count = (size_t) proc_socket_inodes ((int) pid, inodes, 256);
    const char *tables[] = {"/proc/net/tcp", "/proc/net/tcp6"};
    for (int t = 0; t < 2; t++) {
        FILE *file = fopen (tables[t], "r");
        char line[512];
        while (file && fgets (line, sizeof line, file)) {
            char state[8];
            unsigned long inode;
            //  sl local rem st tx:rx tr:when retrnsmt uid timeout inode
            if (sscanf (line, "%*s %*s %*s %7s %*s %*s %*s %*s %*s %lu", state, &inode) != 2 ||
                strcmp (state, "0A") != 0)
                continue;
            for (size_t i = 0; i < count; i++)
                if (inodes[i] == inode) {
                    fclose (file);
                    return true;
                }
        }
        if (file)
            fclose (file);
    }
    return false;
}

static void test_metrics_off (void **state)
{
    fixture_t *fx = *state;
    assert_int_equal (metrics_fx_start (fx, "--metrics", "off", NULL), 0);
    assert_null (strstr (fx->ready, "metrics http"));
    assert_int_equal (fx->port, 0);
    assert_false (s_listens_tcp (fx->pid));
    metrics_fx_stop (fx, SIGTERM);

    assert_int_equal (metrics_fx_start (fx, NULL), 0); //  on by default
    assert_true (fx->port > 0);
    assert_true (s_listens_tcp (fx->pid));
    metrics_fx_scrape (fx);
    assert_true (metrics_fx_value (fx, "shoal_workers") == 2);
}

//  --------------------------------------------------------------------------
//  3. The log: lines with time and level; --log-level warn hides the info
//     lines (started, stopped) and a bad level is a usage error.

//  The node's stderr, in buf.
static void s_read_log (const fixture_t *fx, char *buf, size_t size)
{
    FILE *file = fopen (fx->log, "r");
    size_t n = file ? fread (buf, 1, size - 1, file) : 0;
    buf[n] = 0;
    if (file)
        fclose (file);
}

static void test_log_level (void **state)
{
    fixture_t *fx = *state;
    char log[8192];
    assert_int_equal (metrics_fx_start (fx, NULL), 0);
    assert_int_equal (metrics_fx_stop (fx, SIGTERM), 0);
    s_read_log (fx, log, sizeof log);
    const char *started = strstr (log, " INFO shoal node: started on ipc://");
    assert_non_null (started);
    assert_non_null (strstr (log, " INFO shoal node: stopped by SIGTERM from pid "));
    //  2026-12-01T22:41:13.123Z: the line's first 24 characters.
    const char *line = started - 24;
    assert_true (line == log || (line > log && line[-1] == '\n'));
    int year, month, day, hour, minute, second, ms;
    char zulu;
    assert_int_equal (sscanf (line, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &year, &month, &day, &hour,
                              &minute, &second, &ms, &zulu),
                      8);
    assert_int_equal (zulu, 'Z');

    unlink (fx->log);
    assert_int_equal (metrics_fx_start (fx, "--log-level", "warn", NULL), 0);
    assert_int_equal (metrics_fx_stop (fx, SIGTERM), 0);
    s_read_log (fx, log, sizeof log);
    assert_null (strstr (log, " INFO "));
    assert_null (strstr (log, "stopped"));

    //  A level that is not one: exit 2, no node.
    unlink (fx->log);
    assert_int_not_equal (metrics_fx_start (fx, "--log-level", "loud", NULL), 0);
    int status = metrics_fx_stop (fx, 0);
    assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 2);
    s_read_log (fx, log, sizeof log);
    assert_non_null (strstr (log, "--log-level is debug, info, warn or error, not 'loud'"));
    //  An address that is not HOST:PORT, or a port past 65535 (it was
    //  taken modulo 65536: 99999 served on 34463): exit 2, said, before
    //  anything is opened.
    static const char *malformed[] = {"nowhere", "127.0.0.1:99999", "127.0.0.1:65536"};
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        unlink (fx->log);
        assert_int_not_equal (metrics_fx_start (fx, "--metrics", malformed[i], NULL), 0);
        status = metrics_fx_stop (fx, 0);
        s_read_log (fx, log, sizeof log);
        char said[256];
        snprintf (said, sizeof said, "--metrics %s: expected HOST:PORT (a port from 0 to 65535",
                  malformed[i]);
        if (!WIFEXITED (status) || WEXITSTATUS (status) != 2 || !strstr (log, said))
            fail_msg ("--metrics %s: status %d: %s", malformed[i], status, log);
    }
}

//  --------------------------------------------------------------------------
//  4. A command that stalls is logged once, with sender, command and
//     target, and again when its reply comes; the handler's failure that
//     held it up is logged too. counter's Flaky fails on its first run, so
//     the Forward's command is re-sent, past --stall-ms 1.

//  Polls the node's log for text until a deadline. Returns true if found.
static bool s_log_has (const fixture_t *fx, const char *text)
{
    static char log[1 << 16];
    for (int i = 0; i < 200; i++) {
        s_read_log (fx, log, sizeof log);
        if (strstr (log, text))
            return true;
        usleep (50000);
    }
    metrics_fx_dump_log (fx);
    return false;
}

static void test_stall_logged (void **state)
{
    fixture_t *fx = *state;
    assert_int_equal (metrics_fx_start (fx, "--stall-ms", "1", NULL), 0);
    client_t *client = client_new (fx->endpoint);
    assert_non_null (client);
    char *fields[] = {"to=counter/f", "name=Flaky"};
    uint8_t *payload;
    size_t size;
    char error[128];
    assert_int_equal (client_fields (2, fields, &payload, &size, error, sizeof error), 0);
    envelope_t request;
    client_request (&request, ENVELOPE_COMMAND, NULL, "counter/s", "Forward", payload, size);
    client_reply_t reply;
    assert_int_equal (client_call (client, &request, CALL_TIMEOUT_MS, &reply), 0);
    assert_true (reply.ok);
    client_reply_close (&reply);
    free (payload);
    client_destroy (&client);

    assert_true (s_log_has (fx, "WARN worker "));
    assert_true (s_log_has (fx, "counter/f failed on Flaky"));
    assert_true (s_log_has (fx, "WARN command Flaky from counter/s to counter/f is stalled"));
    assert_true (s_log_has (fx, "INFO command Flaky from counter/s to counter/f is un-stalled"));
    metrics_fx_scrape (fx);
    assert_true (metrics_fx_value (fx, "shoal_outbox_resends_total") >= 1);
    assert_true (metrics_fx_value (fx, "shoal_outbox_pending") == 0);
}

//  --------------------------------------------------------------------------
//  5. --metrics beyond loopback is refused without --insecure (exit 2,
//     said, no store made: before, it was served to anyone); on loopback,
//     IDLE connections that send nothing (the old limit was 16) keep no
//     scrape out, and the node closes them after its idle timeout (3 s;
//     before, a scrape waited 10 s for them).

#define IDLE 24           //  idle connections held open
#define SCRAPE_MS 5000    //  a scrape beside them answers in this
#define IDLE_SHUT_MS 8000 //  the node closes each by then (before: 10 s)

static void test_metrics_exposure (void **state)
{
    fixture_t *fx = *state;
    char log[8192], data[128];
    snprintf (data, sizeof data, "%s/data", fx->dir);
    assert_int_not_equal (metrics_fx_start (fx, "--metrics", "0.0.0.0:0", NULL), 0);
    int status = metrics_fx_stop (fx, 0);
    assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 2);
    s_read_log (fx, log, sizeof log);
    assert_non_null (strstr (log, "shoal node: will not serve metrics on 0.0.0.0:0: another "
                                  "machine could reach it (plain HTTP, no authentication). Serve "
                                  "them on loopback (--metrics 127.0.0.1:PORT) and scrape from "
                                  "this machine, or give --insecure\n"));
    struct stat st;
    assert_int_not_equal (stat (data, &st), 0); //  no store made

    unlink (fx->log);
    assert_int_equal (metrics_fx_start (fx, "--metrics", "127.0.0.1:0", NULL), 0);
    int idle[IDLE];
    for (int i = 0; i < IDLE; i++) {
        idle[i] = socket (AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in address = {.sin_family = AF_INET,
                                      .sin_port = htons ((uint16_t) fx->port)};
        inet_pton (AF_INET, "127.0.0.1", &address.sin_addr);
        assert_int_equal (connect (idle[i], (struct sockaddr *) &address, sizeof address), 0);
    }
    int64_t opened = zclock_mono ();
    metrics_fx_scrape (fx);
    int64_t took = zclock_mono () - opened;
    if (took > SCRAPE_MS)
        fail_msg ("a scrape beside %d idle connections took %lld ms", IDLE, (long long) took);
    metrics_fx_promtool (fx);
    //  The idle ones are closed by the node: each reads the end of file.
    int closed = 0;
    while (closed < IDLE && zclock_mono () - opened < IDLE_SHUT_MS) {
        closed = 0;
        for (int i = 0; i < IDLE; i++) {
            char byte;
            ssize_t n = recv (idle[i], &byte, 1, MSG_DONTWAIT);
            closed += n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
        }
        if (closed < IDLE)
            usleep (50 * 1000);
    }
    for (int i = 0; i < IDLE; i++)
        close (idle[i]);
    if (closed < IDLE)
        fail_msg ("%d of %d idle connections still open after %d ms", IDLE - closed, IDLE,
                  IDLE_SHUT_MS);
}

//  --------------------------------------------------------------------------
//  6. The check is made on the address bound, not only on the name before:
//     metrics_new itself refuses an address beyond loopback without
//     insecure (before, it bound whatever the name resolved to then; the
//     node's check had resolved it a moment earlier), and serves a
//     loopback one, by name too.

static void test_metrics_new_checks_what_it_binds (void **state)
{
    (void) state;
    char *error = NULL;
    metrics_config_t config = {.address = "0.0.0.0:0"};
    metrics_t *metrics = metrics_new (&config, &error);
    if (metrics)
        metrics_destroy (&metrics);
    assert_null (metrics);
    assert_non_null (error);
    assert_non_null (strstr (error, "will not serve metrics on 0.0.0.0:0: another machine"));
    free (error);
    error = NULL;
    config.address = "localhost:0";
    metrics = metrics_new (&config, &error);
    if (!metrics)
        fail_msg ("localhost:0 refused: %s", error ? error : "(no error)");
    assert_non_null (strstr (metrics_url (metrics), "/metrics"));
    metrics_destroy (&metrics);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_busy_scrape, metrics_fx_setup, metrics_fx_teardown),
        cmocka_unit_test_setup_teardown (test_metrics_off, metrics_fx_setup, metrics_fx_teardown),
        cmocka_unit_test_setup_teardown (test_log_level, metrics_fx_setup, metrics_fx_teardown),
        cmocka_unit_test_setup_teardown (test_stall_logged, metrics_fx_setup, metrics_fx_teardown),
        cmocka_unit_test_setup_teardown (test_metrics_exposure, metrics_fx_setup,
                                         metrics_fx_teardown),
        cmocka_unit_test (test_metrics_new_checks_what_it_binds),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
