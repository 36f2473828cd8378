/*  cmd_where.c - `shoal where ADDRESS`: the shard and node of an address
    in a cluster, from the map alone (transport/cluster.h). Exit 0, or 2
    for a bad address or a map it cannot read.
*/
#include "commands.h"
#include "options.h"
#include "cluster.h"
#include "shard.h"

#include <czmq.h>
#include <string.h>

static void s_where_help (FILE *out)
{
    fprintf (out,
             "Usage: shoal where [--cluster FILE] [--json] ADDRESS [ADDRESS ...]\n\n"
             "Prints, for each ADDRESS, one JSON object on a line:\n"
             "{\"address\":\"account/a\",\"shard\":17,\"node\":\"n2\"}: its shard and the node\n"
             "that owns the shard in the cluster's map. Reads the map only: no node is\n"
             "asked. JSON is the only format (--json is accepted and changes nothing).\n\n"
             "The map is --cluster FILE, else $SHOAL_CLUSTER, else %s.\n\n"
             "Exit: 0, or 2 for a bad address (nothing printed) or a map that cannot\n"
             "be read.\n\n"
             "Examples:\n"
             "  shoal where account/alice\n"
             "  shoal where --cluster /etc/shoal/bank/cluster.cfg account/alice transfer/t-1\n",
             DEFAULT_CLUSTER_FILE);
}

int cmd_where (int argc, char **argv)
{
    const char *option = NULL;
    bool json = false;
    const option_t table[] = {OPT_STRING ("cluster", &option), OPT_FLAG ("json", &json), OPT_END};
    int first = options_parse (table, argc, argv, s_where_help);
    if (first < 0)
        return first == OPTIONS_HELP ? 0 : EXIT_USAGE;
    if (first == argc) {
        fprintf (stderr, "shoal where: needs an ADDRESS (see shoal where --help)\n");
        return EXIT_USAGE;
    }
    for (int i = first; i < argc; i++)
        if (!cmd_check_address ("where", argv[i]))
            return EXIT_USAGE;
    cluster_t *cluster = cluster_cmd_load ("where", cluster_cmd_path (option));
    if (!cluster)
        return EXIT_USAGE;
    for (int i = first; i < argc; i++) {
        uint32_t shard = shoal_shard (argv[i], cluster_shards (cluster));
        const char *node = cluster_node_name (cluster, cluster_owner (cluster, shard));
        printf ("{\"address\":");
        json_string (stdout, argv[i], strlen (argv[i]));
        printf (",\"shard\":%u,\"node\":", shard);
        json_string (stdout, node, strlen (node));
        printf ("}\n");
    }
    cluster_destroy (&cluster);
    return EXIT_ACCEPTED;
}
