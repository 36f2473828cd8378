/*  cmd_connect.c - what every command that talks to nodes does alike: it
    makes its client with cmd_connect, so that a client certificate that
    cannot be loaded exits 2, said once, whichever command it is (see
    commands.h).

    Threads: the command's one thread.
*/
#include "commands.h"
#include "cluster.h"

#include <stdio.h>
#include <stdlib.h>

client_t *cmd_connect (const char *command, const char *endpoint, const char *cluster,
                       const char *node)
{
    if (endpoint) {
        client_t *client = client_new (endpoint);
        const char *problem = cluster_endpoint_problem (endpoint);
        if (!client)
            fprintf (stderr, "shoal %s: '%s' is not a valid endpoint%s%s\n", command, endpoint,
                     problem ? ": " : "", problem ? problem : "");
        return client;
    }
    char *error = NULL;
    client_t *client = client_new_cluster (cluster, node, &error);
    if (!client)
        fprintf (stderr, "shoal %s: %s\n", command, error ? error : "out of memory");
    free (error);
    return client;
}
