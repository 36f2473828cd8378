/*  cmd_cluster_status.c - `shoal cluster status`: every node of a cluster
    asked for its stats at once (cluster_stats.h), and shown up or down
    with its shards, epoch, links and uptime, and what is wrong: a link
    down, a peer not heard, a store that failed a write. Exit 0 all up and
    nothing wrong, 1 all up and something wrong, 3 one down, 2 bad usage
    or a map that cannot be read.
*/
#include "commands.h"
#include "options.h"
#include "cluster.h"
#include "cluster_stats.h"
#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATUS_TIMEOUT_MS 1000 //  a node's answer to `cluster status`
#define STATUS_NOTE_MAX 1024   //  what is wrong with one node, in words

//  --------------------------------------------------------------------------
//  cluster status

static void s_status_help (FILE *out)
{
    fprintf (
        out,
        "Usage: shoal cluster status [--cluster FILE] [--json] [--timeout MS]\n\n"
        "Asks every node of the cluster for its stats, all at once, and shows each\n"
        "up or down: its shards (count and ranges, from the map), the epoch it\n"
        "runs, its links to the other nodes up of all, its uptime, and why a node\n"
        "is down. A node that does not answer within --timeout (default %d ms)\n"
        "is down. A link cut one way shows on both its ends: 'cannot reach n2' on\n"
        "n1, 'not heard from n1 for 6s: the link n1->n2 is down' on n2 (peers_heard\n"
        "and peers_silent_ms in --json). Text is a table, one row per node; --json\n"
        "prints one object:\n"
        "{\"cluster\":...,\"nodes\":[{\"node\":\"n1\",\"up\":true,\"shards\":85,...}],...}.\n\n"
        "The map is --cluster FILE, else $SHOAL_CLUSTER, else %s;\n"
        "the client certificate is beside it.\n\n"
        "The JSON's \"ok\" is true when the exit is 0; else \"code\" is no_answer\n"
        "(a node down) or unwell (every node up, something wrong with one),\n"
        "\"reason\" says it, and each such node has \"error\" (down) or \"problem\".\n\n"
        "Exit: 0 every node up and nothing wrong, 1 every node up and one or more\n"
        "with something wrong (a link down, a peer not heard, another epoch or\n"
        "map, a store that failed), 3 one or more down, 2 bad usage or a map or\n"
        "certificate that cannot be read.\n\n"
        "Examples:\n"
        "  shoal cluster status\n"
        "  shoal cluster status --cluster /etc/shoal/bank/cluster.cfg --json | jq .down\n",
        STATUS_TIMEOUT_MS, DEFAULT_CLUSTER_FILE);
}

//  The stats keys of a node in a cluster that status passes through to its
//  JSON, as the node sends them (absent ones are left out).
static const char *s_status_keys[] = {
    "cluster",     "epoch",       "uptime_ms",           "shards_owned", "peers_up",
    "peers",       "peers_heard", "peers_silent_ms",     "refused",      "forwarded",
    "unavailable", "dropped",     "store_failed_ago_ms", "store_error",  "store_verify",
    "store_damage"};

//  Prints one node's row of the status table.
static void s_status_row (const cluster_t *cluster, int i, const node_stats_t *node,
                          const char *note)
{
    const msgpack_object *stats = node->stats;
    char epoch[24] = "-", peers[24] = "-", uptime[24] = "-", down[128];
    int64_t value;
    int total, up;
    if (map_find_int (stats, "epoch", &value) == 0)
        snprintf (epoch, sizeof epoch, "%" PRId64, value);
    if (cluster_stats_peers (stats, &total, &up, down, sizeof down))
        snprintf (peers, sizeof peers, "%d/%d", up, total);
    else if (map_find_int (stats, "peers_up", &value) == 0)
        snprintf (peers, sizeof peers, "%" PRId64 "/%d", value, cluster_node_count (cluster) - 1);
    if (map_find_int (stats, "uptime_ms", &value) == 0)
        cluster_stats_duration (value, uptime, sizeof uptime);
    printf ("%-8s %-5s %6u %6s %6s %8s  %s%s%s\n", node->name, node->up ? "up" : "down",
            cluster_node_shard_count (cluster, i), epoch, peers, uptime,
            cluster_node_client (cluster, i), *note ? "  " : "", note);
}

//  Prints the status as a table. Returns 0 or -1 out of memory.
static int s_status_text (const char *path, const cluster_t *cluster, const node_stats_t *nodes,
                          int answered, char (*notes)[STATUS_NOTE_MAX])
{
    int count = cluster_node_count (cluster);
    printf ("cluster %s (%s): %d nodes, %u shards, epoch %" PRId64 ", %d up, %d down\n",
            cluster_name (cluster), path, count, cluster_shards (cluster), cluster_epoch (cluster),
            answered, count - answered);
    printf ("%-8s %-5s %6s %6s %6s %8s  %s\n", "NODE", "STATE", "SHARDS", "EPOCH", "PEERS",
            "UPTIME", "ENDPOINT");
    for (int i = 0; i < count; i++)
        s_status_row (cluster, i, &nodes[i], notes[i]);
    printf ("shards:\n");
    for (int i = 0; i < count; i++) {
        char *ranges = cluster_node_ranges (cluster, i);
        if (!ranges)
            return -1;
        printf ("  %-8s %s\n", cluster_node_name (cluster, i), ranges);
        free (ranges);
    }
    return 0;
}

//  Prints the status as one JSON object. Returns 0 or -1 out of memory.
static int s_status_json (const char *path, const cluster_t *cluster, const node_stats_t *nodes,
                          int answered, char (*notes)[STATUS_NOTE_MAX])
{
    int count = cluster_node_count (cluster);
    //  ok, code and reason: the first node down, else the first unwell.
    int first = -1, more = 0;
    for (int pass = 0; pass < 2 && first < 0; pass++)
        for (int i = 0; i < count; i++)
            if (pass == 0 ? !nodes[i].up : notes[i][0] != 0) {
                if (first < 0)
                    first = i;
                else
                    more++;
            }
    printf ("{\"ok\":%s,", first < 0 ? "true" : "false");
    if (first >= 0) {
        printf ("\"code\":\"%s\",\"reason\":", nodes[first].up ? "unwell" : "no_answer");
        char *reason = zsys_sprintf ("%s: %s%s", nodes[first].name,
                                     notes[first][0] ? notes[first] : "no answer",
                                     more ? " (and more nodes: see nodes)" : "");
        if (!reason)
            return -1;
        json_string (stdout, reason, strlen (reason));
        zstr_free (&reason);
        printf (",");
    }
    printf ("\"cluster\":");
    json_string (stdout, cluster_name (cluster), strlen (cluster_name (cluster)));
    printf (",\"file\":");
    json_string (stdout, path, strlen (path));
    printf (",\"shards\":%u,\"epoch\":%" PRId64 ",\"digest\":\"%s\",\"up\":%d,\"down\":%d,"
            "\"nodes\":[",
            cluster_shards (cluster), cluster_epoch (cluster), cluster_digest (cluster), answered,
            count - answered);
    for (int i = 0; i < count; i++) {
        const node_stats_t *node = &nodes[i];
        char *ranges = cluster_node_ranges (cluster, i);
        if (!ranges)
            return -1;
        printf ("%s{\"node\":", i ? "," : "");
        json_string (stdout, node->name, strlen (node->name));
        printf (",\"up\":%s,\"endpoint\":", node->up ? "true" : "false");
        json_string (stdout, node->endpoint, strlen (node->endpoint));
        printf (",\"shards\":%u,\"ranges\":\"%s\"", cluster_node_shard_count (cluster, i), ranges);
        free (ranges);
        if (node->error[0]) {
            printf (",\"error\":");
            json_string (stdout, node->error, strlen (node->error));
        } else if (notes[i][0]) {
            printf (",\"problem\":");
            json_string (stdout, notes[i], strlen (notes[i]));
        }
        for (size_t k = 0; k < sizeof s_status_keys / sizeof s_status_keys[0]; k++) {
            const msgpack_object *value = map_find (node->stats, s_status_keys[k]);
            if (value) {
                printf (",\"%s\":", s_status_keys[k]);
                json_object (stdout, value);
            }
        }
        printf ("}");
    }
    printf ("]}\n");
    return 0;
}

int cluster_status (int argc, char **argv)
{
    const char *option = NULL;
    bool json = false;
    long timeout_ms = STATUS_TIMEOUT_MS;
    const option_t table[] = {OPT_STRING ("cluster", &option), OPT_FLAG ("json", &json),
                              OPT_INT ("timeout", &timeout_ms, 1, 3600000), OPT_END};
    static char command[] = "cluster status"; //  its messages: "shoal cluster status: ..."
    argv[0] = command;
    int first = options_parse (table, argc, argv, s_status_help);
    if (first < 0)
        return first == OPTIONS_HELP ? 0 : EXIT_USAGE;
    if (first < argc) {
        fprintf (stderr, "shoal cluster status: takes no argument, not '%s'\n", argv[first]);
        return EXIT_USAGE;
    }
    const char *path = cluster_cmd_path (option);
    cluster_t *cluster = cluster_cmd_load ("cluster status", path);
    if (!cluster)
        return EXIT_USAGE;
    int count = cluster_node_count (cluster);
    node_stats_t *nodes = calloc ((size_t) count, sizeof (node_stats_t));
    char *error = NULL;
    char (*notes)[STATUS_NOTE_MAX] = calloc ((size_t) count, STATUS_NOTE_MAX);
    int answered =
        nodes && notes ? cluster_stats_poll (path, cluster, timeout_ms, nodes, &error) : -1;
    int rc = EXIT_USAGE;
    if (answered < 0)
        fprintf (stderr, "shoal cluster status: %s\n", error ? error : "out of memory");
    else {
        bool unwell = false;
        for (int i = 0; i < count; i++) {
            cluster_stats_note (cluster, &nodes[i], nodes, count, true, notes[i], STATUS_NOTE_MAX);
            unwell |= notes[i][0] != 0;
        }
        int printed = json ? s_status_json (path, cluster, nodes, answered, notes)
                           : s_status_text (path, cluster, nodes, answered, notes);
        if (printed)
            fprintf (stderr, "shoal cluster status: out of memory\n");
        rc = printed            ? EXIT_REJECTED
             : answered < count ? EXIT_NO_ANSWER
             : unwell           ? EXIT_REJECTED
                                : EXIT_ACCEPTED;
        cluster_stats_close (nodes, count);
    }
    free (error);
    free (notes);
    free (nodes);
    cluster_destroy (&cluster);
    return rc;
}
