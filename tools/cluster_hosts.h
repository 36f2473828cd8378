/*  cluster_hosts.h - the addresses `shoal cluster init` gives its nodes,
    checked before anything is written. command names the command in
    messages ("cluster init").
*/
#ifndef CLUSTER_HOSTS_H_INCLUDED
#define CLUSTER_HOSTS_H_INCLUDED

#include "cluster.h"
#include <stdbool.h>

//  True if host is an IPv4 address, else says why on stderr (option names
//  the option that gave it).
bool cluster_host_ok (const char *command, const char *host, const char *option);

//  Gives node i the i-th of the comma-separated hosts: clients on
//  tcp://HOST:PORT, peers on tcp://HOST:PORT+1. Returns 0, or -1 or -2
//  with what is wrong said (two nodes on one address among them).
int cluster_hosts_set (const char *command, cluster_t *cluster, const char *hosts, int port);

#endif
