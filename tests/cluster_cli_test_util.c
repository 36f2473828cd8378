/*  cluster_cli_test_util.c - what test_cluster_cli_*.c share (cluster_cli_test_util.h says what
 * each is).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cluster.h"
#include "harness.h"
#include "proc.h"
#include "shard.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cluster_cli_test_util.h"

void cluster_cli_shell (fixture_t *fx, char *command, const char *name, const char *format,
                        va_list args)
{
    char text[1536];
    proc_vformat (text, sizeof text, format, args);
    snprintf (command, 2048,
              "unset SHOAL_ENDPOINT SHOAL_CLUSTER; SHOAL='%s' DIR='%s' C='%s'; (%s) >'%s/%s.out' "
              "2>'%s/%s.err'",
              proc_bin (), fx->dir, fx->cluster, text, fx->dir, name, fx->dir, name);
}

int cluster_cli_run (fixture_t *fx, char *out, char *err, const char *format, ...)
{
    char command[2048];
    va_list args;
    va_start (args, format);
    cluster_cli_shell (fx, command, "run", format, args);
    va_end (args);
    return proc_system (command, fx->dir, out, err);
}

int cluster_cli_setup (void **state)
{
    fixture_t *fx = calloc (1, sizeof (fixture_t));
    assert_non_null (fx);
    harness_tempdir (fx->dir, sizeof fx->dir, "test-ccli");
    snprintf (fx->cluster, sizeof fx->cluster, "%s/c/cluster.cfg", fx->dir);
    char out[OUTPUT_MAX], err[OUTPUT_MAX];
    int code = cluster_cli_run (
        fx, out, err, "timeout 60 \"$SHOAL\" cluster init --nodes %d --dir \"$DIR/c\" --ipc",
        NODES);
    if (code != 0)
        fail_msg ("cluster init: exit %d: %s", code, err);
    *state = fx;
    return 0;
}

void cluster_cli_node_kill (fixture_t *fx, int i)
{
    if (fx->nodes[i] > 0) {
        kill (fx->nodes[i], SIGKILL);
        waitpid (fx->nodes[i], NULL, 0);
        fx->nodes[i] = 0;
    }
}

int cluster_cli_teardown (void **state)
{
    fixture_t *fx = *state;
    for (int i = 0; i < NODES; i++)
        cluster_cli_node_kill (fx, i);
    harness_rm_rf (fx->dir);
    free (fx);
    return 0;
}

cluster_t *cluster_cli_map (fixture_t *fx)
{
    char *error = NULL;
    cluster_t *cluster = cluster_load (fx->cluster, &error);
    if (!cluster)
        fail_msg ("cluster_load: %s", error ? error : "?");
    return cluster;
}

void cluster_cli_account_of (const cluster_t *cluster, int owner, char *address, size_t size)
{
    cluster_cli_address_of (cluster, owner, "account/a", address, size);
}

void cluster_cli_address_of (const cluster_t *cluster, int owner, const char *prefix, char *address,
                             size_t size)
{
    for (int i = 0; i < 10000; i++) {
        snprintf (address, size, "%s%d", prefix, i);
        if (cluster_owner (cluster, shoal_shard (address, cluster_shards (cluster))) == owner)
            return;
    }
    fail_msg ("no account of node %d among 10000", owner);
}

void cluster_cli_node_start (fixture_t *fx, int i)
{
    cluster_cli_node_start_with (fx, i, "");
}

void cluster_cli_node_start_with (fixture_t *fx, int i, const char *options)
{
    char command[1024], out_path[160], log_path[160];
    snprintf (out_path, sizeof out_path, "%s/n%d.out", fx->dir, i + 1);
    snprintf (log_path, sizeof log_path, "%s/n%d.log", fx->dir, i + 1);
    snprintf (command, sizeof command,
              "exec '%s' node --cluster '%s' --name n%d --workers 1 %s >'%s' 2>>'%s'", proc_bin (),
              fx->cluster, i + 1, options, out_path, log_path);
    char what[16], ready[OUTPUT_MAX];
    snprintf (what, sizeof what, "node n%d", i + 1);
    int status;
    if (!proc_shell_start (&fx->nodes[i], command, out_path, log_path, what, START_TIMEOUT_MS,
                           ready, &status)) {
        char log[OUTPUT_MAX];
        proc_read_file (log_path, log);
        fail_msg ("node n%d exited: %s", i + 1, log);
    }
}

int cluster_cli_count (const char *text, const char *needle)
{
    int count = 0;
    for (const char *at = strstr (text, needle); at; at = strstr (at + 1, needle))
        count++;
    return count;
}

void cluster_cli_run_until (fixture_t *fx, int64_t ms, int code, const char *want, char *out,
                            const char *command)
{
    int64_t deadline = proc_now_ms () + ms;
    char err[OUTPUT_MAX];
    int last;
    while ((last = cluster_cli_run (fx, out, err, "%s", command)) != code || !strstr (out, want)) {
        if (proc_now_ms () > deadline)
            fail_msg ("%s: exit %d, not %d with %s: %s%s", command, last, code, want, out, err);
        usleep (50 * 1000); //  between two runs, within the deadline
    }
}

void cluster_cli_status_until (fixture_t *fx, int code, const char *want, char *out)
{
    cluster_cli_run_until (fx, UP_TIMEOUT_MS, code, want, out,
                           "timeout 30 \"$SHOAL\" cluster status --json --cluster \"$C\"");
}

void cluster_cli_all_links_up (fixture_t *fx)
{
    char out[OUTPUT_MAX];
    int64_t deadline = proc_now_ms () + UP_TIMEOUT_MS;
    cluster_cli_status_until (fx, 0, "\"up\":3,\"down\":0", out);
    while (cluster_cli_count (out, "\"peers_up\":2") != NODES) {
        if (proc_now_ms () > deadline)
            fail_msg ("the peer links did not come up: %s", out);
        usleep (50 * 1000);
        cluster_cli_status_until (fx, 0, "\"up\":3,\"down\":0", out);
    }
}
