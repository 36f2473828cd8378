/*  cmd_stats.c - `shoal stats`: one node's counters as JSON, or, with a
    cluster and no --node, every node's at once with their sums
    (cluster_stats.h). Runs on the main thread.
*/
#include "client_cmd.h"
#include "cluster.h"
#include "cluster_stats.h"
#include "json.h"
#include "options.h"
#include "wire_int.h"

#include <czmq.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

static void s_stats_help (FILE *out)
{
    fprintf (out,
             "Usage: shoal stats [--endpoint E | --cluster FILE [--node NAME]] [--timeout MS]\n\n"
             "Prints the node's counters as one JSON object: messages, accepted,\n"
             "rejected, duplicates, events, commits, records, resends, active actors,\n"
             "pending outbox entries, bad frames, peak RSS.\n\n"
             "With a cluster and no --node, asks every node at once and prints\n"
             "{\"nodes\":[{\"node\":\"n1\",\"up\":true,...its counters...},\n"
             "{\"node\":\"n2\",\"up\":false,\"error\":\"no answer in 1000 ms\"}],\"sum\":{...}}:\n"
             "sum adds up each integer counter over the nodes that answered (not epoch,\n"
             "uptime_ms, shards or store_failed_ago_ms, which are no counts). A node\n"
             "that does not answer within --timeout (default %d ms here, else %d ms) is down: exit "
             "3,\nand stderr has a line for each node down, that refused this client's key, or "
             "that\nanswered without its stats.\n\n" TARGET_HELP "Examples:\n"
             "  shoal stats | jq .commits\n"
             "  shoal stats --cluster cluster/cluster.cfg | jq .sum.accepted\n"
             "  shoal stats --cluster cluster/cluster.cfg --node n2\n",
             CLUSTER_STATS_TIMEOUT_MS, DEFAULT_TIMEOUT_MS);
}

//  Keys that the sum of a cluster's stats leaves out: not counts.
static bool s_not_summed (const msgpack_object *key)
{
    static const char *keys[] = {"epoch", "uptime_ms", "shards", "store_failed_ago_ms"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (key->via.str.size == strlen (keys[i]) &&
            memcmp (key->via.str.ptr, keys[i], key->via.str.size) == 0)
            return true;
    return false;
}

//  An integer counter summed over nodes: its key borrowed from a node's stats.
typedef struct {
    const char *key;
    uint32_t size;
    int64_t sum;
} counter_sum_t;

//  Adds stats' integer values to sums (at most max keys, in the order met).
static void s_sum (const msgpack_object *stats, counter_sum_t *sums, int *count, int max)
{
    for (uint32_t k = 0; k < stats->via.map.size; k++) {
        const msgpack_object *key = &stats->via.map.ptr[k].key;
        const msgpack_object *value = &stats->via.map.ptr[k].val;
        if (key->type != MSGPACK_OBJECT_STR || s_not_summed (key) ||
            (value->type != MSGPACK_OBJECT_POSITIVE_INTEGER &&
             value->type != MSGPACK_OBJECT_NEGATIVE_INTEGER))
            continue;
        int i = 0;
        while (i < *count && !(sums[i].size == key->via.str.size &&
                               memcmp (sums[i].key, key->via.str.ptr, key->via.str.size) == 0))
            i++;
        if (i == *count) {
            if (*count == max)
                continue;
            sums[(*count)++] = (counter_sum_t){key->via.str.ptr, key->via.str.size, 0};
        }
        sums[i].sum = wire_add (sums[i].sum, value->type == MSGPACK_OBJECT_POSITIVE_INTEGER
                                                 ? wire_int64 (value->via.u64)
                                                 : value->via.i64);
    }
}

//  Prints {"node":N,"up":B,...} for one node: its stats' keys after ours
//  (a key of ours in the stats is left out), or why it is down.
static void s_print_node_stats (const node_stats_t *node)
{
    printf ("{\"node\":");
    json_string (stdout, node->name, strlen (node->name));
    printf (",\"up\":%s", node->up ? "true" : "false");
    if (node->error[0]) {
        printf (",\"error\":");
        json_string (stdout, node->error, strlen (node->error));
    }
    for (uint32_t k = 0; node->stats && k < node->stats->via.map.size; k++) {
        const msgpack_object *key = &node->stats->via.map.ptr[k].key;
        if (key->type != MSGPACK_OBJECT_STR)
            continue;
        static const char *ours[] = {"node", "up", "error"};
        bool skip = false;
        for (size_t i = 0; i < 3; i++)
            skip |= key->via.str.size == strlen (ours[i]) &&
                    memcmp (key->via.str.ptr, ours[i], key->via.str.size) == 0;
        if (skip)
            continue;
        putchar (',');
        json_string (stdout, key->via.str.ptr, key->via.str.size);
        putchar (':');
        json_object (stdout, &node->stats->via.map.ptr[k].val);
    }
    putchar ('}');
}

//  `shoal stats` of every node of the cluster at path. Returns the exit code.
static int s_stats_cluster (const char *path, long timeout_ms)
{
    char *error = NULL;
    cluster_t *cluster = cluster_load (path, &error);
    if (!cluster) {
        fprintf (stderr, "shoal stats: %s\n", error ? error : "out of memory");
        free (error);
        return EXIT_USAGE;
    }
    int count = cluster_node_count (cluster);
    node_stats_t *nodes = calloc ((size_t) count, sizeof (node_stats_t));
    int answered = nodes ? cluster_stats_poll (path, cluster, timeout_ms, nodes, &error) : -1;
    cluster_destroy (&cluster);
    if (answered < 0) {
        fprintf (stderr, "shoal stats: %s\n", error ? error : "out of memory");
        free (error);
        free (nodes);
        return EXIT_USAGE;
    }
    counter_sum_t sums[256];
    int sum_count = 0;
    printf ("{\"nodes\":[");
    for (int i = 0; i < count; i++) {
        if (i)
            putchar (',');
        s_print_node_stats (&nodes[i]);
        if (nodes[i].stats)
            s_sum (nodes[i].stats, sums, &sum_count, (int) (sizeof sums / sizeof sums[0]));
    }
    printf ("],\"sum\":{");
    for (int i = 0; i < sum_count; i++) {
        if (i)
            putchar (',');
        json_string (stdout, sums[i].key, sums[i].size);
        printf (":%lld", (long long) sums[i].sum);
    }
    printf ("}}\n");
    //  The JSON says each node's error; a person reads stderr, as every
    //  command that asks nodes says a node down or a key refused.
    for (int i = 0; i < count; i++)
        if (!nodes[i].up || !nodes[i].stats)
            fprintf (stderr, "shoal stats: node %s (%s): %s\n", nodes[i].name, nodes[i].endpoint,
                     nodes[i].error[0] ? nodes[i].error : "no stats");
    cluster_stats_close (nodes, count);
    free (nodes);
    return answered == count ? EXIT_ACCEPTED : EXIT_NO_ANSWER;
}

int cmd_stats (int argc, char **argv)
{
    client_options_t opts = {0};
    int first = client_cmd_parse (argc, argv, &opts, s_stats_help);
    if (first < 0)
        return first == OPTIONS_HELP ? 0 : EXIT_USAGE;
    if (argc != first) {
        fprintf (stderr, "shoal stats: takes no arguments\n");
        return EXIT_USAGE;
    }
    if (opts.cluster && !opts.node)
        return s_stats_cluster (opts.cluster,
                                opts.timeout_ms ? opts.timeout_ms : CLUSTER_STATS_TIMEOUT_MS);
    envelope_t request;
    client_request (&request, ENVELOPE_QUERY, NULL, "node/stats", "stats", NULL, 0);
    client_reply_t reply;
    int rc = client_cmd_call_once ("stats", &opts, &request, opts.timeout_ms, &reply, NULL);
    if (rc >= 0)
        return rc;
    json_write (stdout, reply.data, reply.size);
    printf ("\n");
    client_reply_close (&reply);
    return EXIT_ACCEPTED;
}
