/*  cluster_hosts.c - the addresses `shoal cluster init` gives its nodes:
    --host and --hosts (cluster_hosts.h).
*/
#include "cluster_hosts.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  True if host is an IPv4 address, else says why: a node binds no name,
//  and its sockets have no IPv6 (a map of either could not start).
bool cluster_host_ok (const char *command, const char *host, const char *option)
{
    unsigned char addr[4];
    bool ok = inet_pton (AF_INET, host, addr) == 1;
    if (!ok)
        fprintf (stderr,
                 "shoal %s: %s: '%s' is not an IPv4 address: a node binds the address its "
                 "map gives it, not a host name (and no IPv6 yet): give 10.0.0.11\n",
                 command, option, host);
    return ok;
}

//  Gives node i the i-th of the comma-separated hosts: clients on
//  tcp://HOST:PORT, peers on tcp://HOST:PORT+1. Says what is wrong.
int cluster_hosts_set (const char *command, cluster_t *cluster, const char *hosts, int port)
{
    char *copy = strdup (hosts);
    int count = cluster_node_count (cluster), i = 0, rc = copy ? 0 : -1;
    char *save = NULL;
    for (char *host = copy ? strtok_r (copy, ",", &save) : NULL; host && rc == 0;
         host = strtok_r (NULL, ",", &save), i++) {
        char client[300], peer[300];
        snprintf (client, sizeof client, "tcp://%s:%d", host, port);
        snprintf (peer, sizeof peer, "tcp://%s:%d", host, port + 1);
        if (!cluster_host_ok (command, host, "--hosts"))
            rc = -2; //  said
        else if (i >= count || cluster_set_client (cluster, i, client) != 0 ||
                 cluster_set_peer (cluster, i, peer, NULL) != 0)
            rc = -1;
    }
    free (copy);
    if (rc == 0 && i != count)
        rc = -1;
    if (rc == -1)
        fprintf (stderr,
                 "shoal %s: --hosts needs %d IPv4 addresses, one per node, separated by "
                 "commas\n",
                 command, count);
    //  Two nodes on one address: before anything is written (with --force,
    //  the old cluster would have been set aside for nothing).
    char *error = NULL;
    if (rc == 0 && cluster_check_endpoints (cluster, "", &error) != 0) {
        fprintf (stderr,
                 "shoal %s: --hosts: %s (each node needs an address of its own); nothing was "
                 "written\n",
                 command, error ? error + (error[0] == ':' ? 2 : 0) : "out of memory");
        rc = -2;
    }
    free (error);
    return rc;
}
