/*  test_metrics_watch.c - what an operator alerts on, scraped from real
    nodes (metrics_test_util.h): a turn past --turn-timeout, the actor
    types, the store's failures, dead letters, a projection paused, and a
    cluster's map, epoch, shards and links.
*/
#include "client.h"
#include "metrics_test_util.h"

#include <czmq.h>
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  --------------------------------------------------------------------------
//  4b. What an operator alerts on: a turn past --turn-timeout, counted
//      while it runs and after; the node's actor types; a store that
//      never failed and no dead letter (test_poison and
//      test_faults_full_disk make those happen, and read them in stats,
//      whose counters these are); a projection paused and resumed.

static void test_trouble_gauges (void **state)
{
    fixture_t *fx = *state;
    assert_int_equal (
        metrics_fx_start (fx, "--metrics", "127.0.0.1:0", "--turn-timeout", "100", NULL), 0);
    metrics_fx_scrape (fx);
    metrics_fx_promtool (fx);
    assert_true (metrics_fx_value (fx, "shoal_actor_type{type=\"counter\"}") == 1);
    assert_true (metrics_fx_value (fx, "shoal_turns_overdue") == 0);
    assert_true (metrics_fx_value (fx, "shoal_overdue_turns_total") == 0);
    assert_true (metrics_fx_value (fx, "shoal_dead_letters") == 0);
    assert_true (metrics_fx_value (fx, "shoal_store_failing") == 0);
    assert_true (metrics_fx_value (fx, "shoal_store_last_failure_timestamp_seconds") == 0);
    assert_true (metrics_fx_value (fx, "shoal_store_reopens_total") == 0);
    assert_false (metrics_fx_has (fx, "shoal_cluster_epoch")); //  a node alone

    client_t *client = client_new (fx->endpoint);
    assert_non_null (client);
    char *fields[] = {"ms=1000"}; //  the most Slow takes
    uint8_t *payload;
    size_t size;
    char error[128];
    assert_int_equal (client_fields (1, fields, &payload, &size, error, sizeof error), 0);
    envelope_t request;
    client_request (&request, ENVELOPE_COMMAND, NULL, "counter/slow", "Slow", payload, size);
    assert_int_equal (client_send (client, &request), 0);
    free (payload);
    metrics_fx_until (fx, "shoal_turns_overdue", 1); //  while it runs
    metrics_fx_promtool (fx);
    client_reply_t reply;
    assert_int_equal (client_recv (client, CALL_TIMEOUT_MS, &reply), 0);
    assert_true (reply.ok);
    client_reply_close (&reply);
    client_destroy (&client);
    metrics_fx_until (fx, "shoal_turns_overdue", 0);
    assert_true (metrics_fx_value (fx, "shoal_overdue_turns_total") == 1);

    //  A projection paused on purpose says so (ShoalProjectionStuck
    //  fired on it before: no metric told it from a stuck one), and no
    //  longer once resumed.
#define TOTALS "shoal_projection_paused{projection=\"bank_totals\",version=\"1\",build=\"0\"}"
    assert_true (metrics_fx_value (fx, TOTALS) == 0);
    char command[512];
    for (int pause = 1; pause >= 0; pause--) {
        snprintf (command, sizeof command,
                  "'%s' projections %s bank_totals --endpoint '%s' > '%s/cli.txt' 2>&1",
                  metrics_fx_env ("SHOAL_BIN"), pause ? "pause" : "resume", fx->endpoint, fx->dir);
        assert_int_equal (system (command), 0);
        metrics_fx_until (fx, TOTALS, pause);
    }
#undef TOTALS
}

//  --------------------------------------------------------------------------
//  4c. A cluster's node: which cluster, node, map and epoch it runs, the
//      shards it owns, and its links (shoal_peer_*: never scraped by a
//      test before), on both nodes of a cluster of two on ipc://.

//  True if every shoal_* name in the exprs of deploy/shoal-alerts.yml
//  ($SHOAL_ALERTS) is a series of fx's last scrape; says which is not.
static bool s_alerts_served (const fixture_t *fx)
{
    FILE *file = fopen (metrics_fx_env ("SHOAL_ALERTS"), "r");
    assert_non_null (file);
    char line[1024];
    int names = 0;
    bool served = true;
    while (fgets (line, sizeof line, file)) {
        //  Every line but comments and summaries: an expr may go on over
        //  several (expr: >-).
        if (line[strspn (line, " ")] == '#' || strstr (line, "summary:"))
            continue;
        for (const char *at = strstr (line, "shoal_"); at; at = strstr (at + 1, "shoal_")) {
            if (at > line && (isalnum ((unsigned char) at[-1]) || at[-1] == '_'))
                continue; //  inside another name
            char name[128], series[136];
            size_t len = strspn (at, "abcdefghijklmnopqrstuvwxyz_");
            snprintf (name, sizeof name, "%.*s", (int) len, at);
            snprintf (series, sizeof series, "\n%s ", name);
            bool found = strstr (fx->scrape, series) != NULL;
            snprintf (series, sizeof series, "\n%s{", name);
            found = found || strstr (fx->scrape, series) != NULL;
            if (!found) {
                print_error ("the alerting rules name %s, which no node serves\n", name);
                served = false;
            }
            names++;
        }
    }
    fclose (file);
    return served && names >= 15;
}

static void test_cluster_gauges (void **state)
{
    fixture_t *fx = *state;
    char command[512], cfg[128];
    snprintf (command, sizeof command,
              "'%s' cluster init --nodes 2 --ipc --name metered --dir '%s/c' > '%s/init.txt' 2>&1",
              metrics_fx_env ("SHOAL_BIN"), fx->dir, fx->dir);
    assert_int_equal (system (command), 0);
    snprintf (cfg, sizeof cfg, "%s/c/cluster.cfg", fx->dir);
    fixture_t *second = fx->second = calloc (1, sizeof (fixture_t));
    assert_non_null (second);
    second->scrape = malloc (SCRAPE_MAX);
    assert_non_null (second->scrape);
    snprintf (second->dir, sizeof second->dir, "%s", fx->dir);
    snprintf (second->log, sizeof second->log, "%s/n2.log", fx->dir);
    const char *n1[] = {metrics_fx_env ("SHOAL_BIN"),
                        "node",
                        "--cluster",
                        cfg,
                        "--name",
                        "n1",
                        "--workers",
                        "2",
                        "--metrics",
                        "127.0.0.1:0",
                        NULL};
    const char *n2[] = {metrics_fx_env ("SHOAL_BIN"),
                        "node",
                        "--cluster",
                        cfg,
                        "--name",
                        "n2",
                        "--workers",
                        "2",
                        "--metrics",
                        "127.0.0.1:0",
                        NULL};
    assert_int_equal (metrics_fx_start_argv (fx, n1), 0);
    int rc = metrics_fx_start_argv (second, n2);
    //  Both links up, as each node sees its own.
    int64_t deadline = zclock_mono () + 20000;
    bool up = false;
    while (rc == 0 && !up && zclock_mono () < deadline) {
        metrics_fx_scrape (fx);
        metrics_fx_scrape (second);
        up = metrics_fx_value (fx, "shoal_peer_up{peer=\"n2\"}") == 1 &&
             metrics_fx_value (second, "shoal_peer_up{peer=\"n1\"}") == 1 &&
             metrics_fx_value (fx, "shoal_peer_heard{peer=\"n2\"}") == 1 &&
             strstr (fx->scrape, "\nshoal_projection_position{"); //  told once a second
        if (!up)
            usleep (50 * 1000); //  a bounded poll: the links come up within a second
    }
    metrics_fx_promtool (fx);
    bool ok =
        rc == 0 && up && metrics_fx_has (fx, "shoal_cluster_epoch") &&
        metrics_fx_value (fx, "shoal_cluster_epoch") == 1 &&
        metrics_fx_value (second, "shoal_cluster_epoch") == 1 &&
        metrics_fx_value (fx, "shoal_shards_owned") +
                metrics_fx_value (second, "shoal_shards_owned") ==
            256 &&
        metrics_fx_value (fx, "shoal_shards_owned") > 0 &&
        strstr (fx->scrape, "shoal_cluster_info{cluster=\"metered\",node=\"n1\",digest=\"") &&
        strstr (second->scrape, "shoal_cluster_info{cluster=\"metered\",node=\"n2\",digest=\"");
    //  Every metric the alerting rules name is one a node serves (a rule
    //  on a misspelt name is silent for good).
    ok = ok && s_alerts_served (fx);
    //  One map: the same digest on both.
    const char *d1 = strstr (fx->scrape, "digest=\""), *d2 = strstr (second->scrape, "digest=\"");
    ok = ok && d1 && d2 && strncmp (d1, d2, 40) == 0;
    if (!ok)
        print_error ("n2's scrape:\n%s\n", second->scrape);
    if (!ok)
        fail_msg ("the cluster's gauges (start %d, links up %d); n1's scrape:\n%s", rc, up,
                  fx->scrape);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_trouble_gauges, metrics_fx_setup,
                                         metrics_fx_teardown),
        cmocka_unit_test_setup_teardown (test_cluster_gauges, metrics_fx_setup,
                                         metrics_fx_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
