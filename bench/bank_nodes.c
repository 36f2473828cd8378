/*  bank_nodes.c - the cluster side of a bank run: starting its node, or
    each node of a cluster of its own (`shoal cluster init --ipc`, then one
    `shoal node` child per node), SIGKILLing a seeded random node and
    starting it again, freezing one with SIGSTOP and thawing it with
    SIGCONT, and reading the nodes' counters (bank_stats and its kin, see
    bank.h) and CPU time. The workload itself is in bank.c;
    bank_internal.h holds what the two share.

    Contract: a node that is started again keeps its data directory and
    its endpoint (one node's, or the cluster file's ipc:// path), so the
    run's re-sends reach the same store. Failures are said on stderr and
    returned as negative codes.

    Threads: the run's one thread; each node is a child process.
*/
#include "bank_internal.h"
#include "client_window.h"

#include <czmq.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

//  --------------------------------------------------------------------------
//  Starting the nodes, kills and the freeze

//  Starts node i of the run's cluster (again): `shoal node --cluster F
//  --name nI --data DIR/nI`. Its endpoint is the cluster file's, an ipc://
//  path that no other program takes meanwhile. Returns 0 or a negative code.
static int s_start_cluster_node (run_t *run, int i)
{
    const bank_options_t *o = run->options;
    char name[16], data[sizeof run->nodes[i].data_dir];
    snprintf (name, sizeof name, "n%d", i + 1);
    if (snprintf (data, sizeof data, "%s/%s", run->result->data_dir, name) >= (int) sizeof data)
        return SHOAL_EINVAL;
    node_child_args_t args;
    node_child_args (&args, o->async, o->workers, NULL, o->node_args);
    char *argv[NODE_CHILD_ARGS_MAX + 8] = {
        "node", "--cluster", (char *) run->cluster, "--name", name, "--data", data};
    int argc = 7;
    for (int a = 0; args.argv[a] && argc < NODE_CHILD_ARGS_MAX + 7; a++)
        argv[argc++] = args.argv[a];
    argv[argc] = NULL;
    int rc = SHOAL_ETIMEOUT;
    for (int attempt = 0; attempt < 3 && rc != 0 && !zsys_interrupted; attempt++) {
        rc = node_child_spawn (&run->nodes[i], o->shoal, argv, o->log, 30000);
        if (rc && run->nodes[i].exit_code == 2) //  bad usage: said once, as a node alone
            break;
        if (rc)
            zclock_sleep (250);
    }
    snprintf (run->nodes[i].data_dir, sizeof run->nodes[i].data_dir, "%s", data);
    return rc;
}

//  Starts node i (again): the one node on its endpoint, or a cluster's.
static int s_restart (run_t *run, int i)
{
    const bank_options_t *o = run->options;
    int rc;
    if (run->cluster)
        rc = s_start_cluster_node (run, i);
    else {
        node_child_args_t args;
        node_child_args (&args, o->async, o->workers, NULL, o->node_args);
        node_child_t *node = &run->nodes[0];
        const char *endpoint = node->endpoint[0] ? node->endpoint
                               : o->listen       ? o->listen
                                                 : NODE_CHILD_FREE_ENDPOINT;
        rc = node_child_start_retry (node, o->shoal, run->result->data_dir, endpoint, &args, o->log,
                                     30000);
    }
    if (rc == 0 && i == 0)
        snprintf (run->result->endpoint, sizeof run->result->endpoint, "%s",
                  run->nodes[0].endpoint);
    run->last_start = zclock_mono ();
    return rc;
}

//  What a node is called in progress lines: "node" alone, or "node n2".
void bank_node_label (const run_t *run, int i, char *label, size_t size)
{
    if (run->cluster)
        snprintf (label, size, "node n%d", i + 1);
    else
        snprintf (label, size, "node");
}

//  Ends the freeze: SIGCONT to the stopped node.
void bank_nodes_thaw (run_t *run)
{
    if (run->frozen < 0)
        return;
    node_child_t *node = &run->nodes[run->frozen];
    if (node->pid > 0)
        kill (node->pid, SIGCONT);
    if (run->options->progress) {
        char label[32];
        bank_node_label (run, run->frozen, label, sizeof label);
        fprintf (stderr, "%s  %s continued with SIGCONT\n", isatty (STDERR_FILENO) ? "\n" : "",
                 label);
    }
    run->frozen = -1;
}

//  SIGKILLs a seeded random node and restarts it. Returns non-zero if it
//  did not come back.
bool bank_nodes_gone (run_t *run)
{
    for (int i = 0; i < run->node_count; i++) {
        node_child_t *node = &run->nodes[i];
        int status;
        if (node->pid <= 0 || waitpid (node->pid, &status, WNOHANG) != node->pid)
            continue;
        char label[32], how[64];
        bank_node_label (run, i, label, sizeof label);
        if (WIFSIGNALED (status))
            snprintf (how, sizeof how, "was killed by signal %d (%s)", WTERMSIG (status),
                      strsignal (WTERMSIG (status)));
        else
            snprintf (how, sizeof how, "exited with status %d", WEXITSTATUS (status));
        fprintf (stderr, "%s%s: the %s (pid %d) %s during the run, not by %s%s%s\n",
                 isatty (STDERR_FILENO) ? "\n" : "", driver_command, label, (int) node->pid, how,
                 driver_command, run->options->log ? "; its log: " : "",
                 run->options->log ? run->options->log : "");
        node->pid = 0;
        return true;
    }
    return false;
}

int bank_nodes_kill (run_t *run, size_t done, size_t total)
{
    const bank_options_t *o = run->options;
    int victim = (int) (bank_mix (o->seed ^ (0xbeef + (uint64_t) run->result->kills)) %
                        (uint64_t) run->node_count);
    if (victim == run->frozen)
        run->frozen = -1; //  SIGKILL ends a stopped process too
    node_child_stop (&run->nodes[victim], SIGKILL);
    run->result->kills++;
    char label[32];
    bank_node_label (run, victim, label, sizeof label);
    if (o->progress)
        fprintf (stderr, "%s  %s killed with SIGKILL (%d of %d) at %zu/%zu; restarting\n",
                 isatty (STDERR_FILENO) ? "\n" : "", label, run->result->kills, o->kills, done,
                 total);
    if (s_restart (run, victim) != 0) {
        if (!bench_interrupted ()) //  Ctrl-C cut the restart short: said as such
            fprintf (stderr, "%s: the %s did not come back after a kill\n", driver_command, label);
        return 1;
    }
    return 0;
}

//  SIGSTOPs a seeded random node for freeze_ms; bank.c's s_tick thaws it.
void bank_nodes_freeze (run_t *run, size_t done, size_t total)
{
    const bank_options_t *o = run->options;
    int victim = (int) (bank_mix (o->seed ^ 0xf4ee2eULL) % (uint64_t) run->node_count);
    if (run->nodes[victim].pid <= 0 || kill (run->nodes[victim].pid, SIGSTOP) != 0)
        return;
    run->frozen = victim;
    run->thaw_at = zclock_mono () + o->freeze_ms;
    run->result->freezes++;
    if (o->progress) {
        char label[32];
        bank_node_label (run, victim, label, sizeof label);
        fprintf (stderr, "%s  %s frozen with SIGSTOP for %d ms at %zu/%zu\n",
                 isatty (STDERR_FILENO) ? "\n" : "", label, o->freeze_ms, done, total);
    }
}

//  Says node i did not start, but for bad usage (a --node-arg it does not
//  take), which the node said itself and result->node_usage tells.
static void s_not_started (run_t *run, int i, const char *label, const char *data)
{
    run->result->node_usage = run->nodes[i].exit_code == 2;
    if (!run->result->node_usage)
        fprintf (stderr, "%s: %s did not start (data %s)\n", driver_command, label, data);
}

//  Starts the run's nodes: the one node, or a cluster of them (made first
//  with `shoal cluster init --ipc` in DATA/cluster unless it is there).
//  Returns 0 or a negative code, said on stderr.
int bank_nodes_start (run_t *run)
{
    const bank_options_t *o = run->options;
    bank_result_t *result = run->result;
    if (!run->cluster) {
        int rc = s_restart (run, 0);
        if (rc)
            s_not_started (run, 0, "the node", result->data_dir);
        return rc;
    }
    char dir[PATH_MAX], count[16];
    snprintf (dir, sizeof dir, "%s/cluster", result->data_dir);
    snprintf (count, sizeof count, "%d", run->node_count);
    char *init[] = {"cluster", "init", "--nodes", count, "--dir", dir, "--ipc", NULL};
    if (access (result->cluster, F_OK) != 0 && node_child_run (o->shoal, init, o->log) != 0) {
        fprintf (stderr,
                 "%s: `shoal cluster init --ipc` failed in %s (its full path may have at most "
                 "80 bytes)\n",
                 driver_command, dir);
        return SHOAL_EIO;
    }
    for (int i = 0; i < run->node_count; i++) {
        int rc = s_restart (run, i);
        if (rc) {
            char label[24];
            snprintf (label, sizeof label, "node n%d", i + 1);
            s_not_started (run, i, label, run->nodes[i].data_dir);
            return rc;
        }
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  The nodes' counters

//  Reads the node's counters into stats. Says on stderr when it cannot.
//  A cluster's are summed over its nodes.
bool bank_nodes_counters (const run_t *run, bank_stats_t *stats)
{
    int rc = 0;
    if (run->cluster) {
        memset (stats, 0, sizeof *stats);
        for (int i = 0; rc == 0 && i < run->node_count; i++) {
            char name[16];
            bank_stats_t node;
            snprintf (name, sizeof name, "n%d", i + 1);
            if ((rc = bank_stats_cluster (run->cluster, name, 5000, &node)) == 0)
                bank_stats_add (stats, &node);
        }
    } else
        rc = bank_stats (run->endpoint, 5000, stats);
    if (rc)
        fprintf (stderr, "%s: the node's stats did not come: %s\n", driver_command,
                 shoal_strerror (rc));
    return rc == 0;
}

int64_t bank_nodes_cpu_us (const run_t *run)
{
    int64_t sum = 0;
    for (int i = 0; i < run->node_count; i++) {
        int64_t us = run->nodes[i].pid > 0 ? measure_cpu_us (run->nodes[i].pid) : -1;
        if (us < 0)
            return -1;
        sum += us;
    }
    return run->node_count > 0 ? sum : -1;
}

bool bank_nodes_threads (const run_t *run, measure_threads_t *threads)
{
    *threads = (measure_threads_t){.count = 0};
    for (int i = 0; i < run->node_count; i++)
        if (run->nodes[i].pid <= 0 || measure_threads_cpu (run->nodes[i].pid, threads) != 0)
            return false;
    return run->node_count > 0;
}

//  Asks the node behind *client_p for its "stats" and destroys the client.
static int s_stats_call (client_t **client_p, int timeout_ms, bank_stats_t *stats)
{
    static const struct {
        const char *name;
        size_t offset;
    } fields[] = {
#define FIELD(name, description) {#name, offsetof (bank_stats_t, name)},
        SHOAL_COUNTERS (FIELD) SHOAL_NODE_COUNTERS (FIELD)
#undef FIELD
    };
    envelope_t request;
    client_request (&request, ENVELOPE_QUERY, NULL, "node/stats", "stats", NULL, 0);
    client_reply_t reply;
    int rc = client_call (*client_p, &request, timeout_ms, &reply);
    if (rc == 0) {
        if (reply.ok)
            for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
                map_int (reply.data, reply.size, fields[i].name,
                         (int64_t *) ((char *) stats + fields[i].offset));
        else
            rc = SHOAL_EREJECTED;
        client_reply_close (&reply);
    }
    client_destroy (client_p);
    return rc;
}

int bank_stats (const char *endpoint, int timeout_ms, bank_stats_t *stats)
{
    memset (stats, 0, sizeof *stats);
    client_t *client = client_new (endpoint);
    if (!client)
        return SHOAL_EINVAL;
    return s_stats_call (&client, timeout_ms, stats);
}

int bank_probe (const char *endpoint, int timeout_ms, char *why, size_t size)
{
    why[0] = 0;
    client_t *client = client_new (endpoint);
    if (!client) {
        snprintf (why, size, "%s", shoal_strerror (SHOAL_EINVAL));
        return SHOAL_EINVAL;
    }
    envelope_t request;
    client_request (&request, ENVELOPE_QUERY, NULL, "node/stats", "stats", NULL, 0);
    client_reply_t reply;
    int rc = client_call (client, &request, timeout_ms, &reply);
    if (rc == 0) {
        if (!reply.ok)
            snprintf (why, size, "it refused: %s %s", reply.code, reply.reason);
        rc = reply.ok ? 0 : SHOAL_EREJECTED;
        client_reply_close (&reply);
    } else {
        const char *seen = client_no_answer_why (client);
        snprintf (why, size, "%s", seen ? seen : shoal_strerror (rc));
    }
    client_destroy (&client);
    return rc;
}

int bank_stats_cluster (const char *cluster, const char *node, int timeout_ms, bank_stats_t *stats)
{
    memset (stats, 0, sizeof *stats);
    char *error = NULL;
    client_t *client = client_new_cluster (cluster, node, &error);
    if (!client) {
        fprintf (stderr, "%s: %s\n", driver_command, error ? error : "out of memory");
        free (error);
        return SHOAL_EINVAL;
    }
    return s_stats_call (&client, timeout_ms, stats);
}

void bank_stats_add (bank_stats_t *sum, const bank_stats_t *node)
{
    int64_t shards = sum->shards > node->shards ? sum->shards : node->shards;
    int64_t uptime_ms = sum->uptime_ms > node->uptime_ms ? sum->uptime_ms : node->uptime_ms;
#define BANK_STATS_ADD(name, description) sum->name += node->name;
    SHOAL_COUNTERS (BANK_STATS_ADD)
    SHOAL_NODE_COUNTERS (BANK_STATS_ADD)
#undef BANK_STATS_ADD
    sum->shards = shards;
    sum->uptime_ms = uptime_ms;
}
