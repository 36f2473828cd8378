/*  node_exposure.c - where a node may be reached from: the checks that
    keep a node alone without CURVE, and its metrics, on loopback unless
    started insecure (see node.h). The node checks the text it is given
    before anything is made, and again the address it bound.
*/
#include "node.h"
#include "metrics.h"

#include <czmq.h>
#include <string.h>

//  True if endpoint cannot be reached from another machine.
static bool s_local_endpoint (const char *endpoint)
{
    static const char *local[] = {"ipc://", "inproc://", "tcp://127.",
                                  "tcp://localhost:", "tcp://[::1]:"};
    for (size_t i = 0; i < sizeof local / sizeof local[0]; i++)
        if (strncmp (endpoint, local[i], strlen (local[i])) == 0)
            return true;
    return false;
}

char *shoal_node_listen_refusal (const char *endpoint, bool insecure)
{
    if (insecure || s_local_endpoint (endpoint))
        return NULL;
    return zsys_sprintf ("will not listen on %s without CURVE: another machine could reach it. "
                         "Run a cluster (`shoal cluster init --nodes 1` makes one of one node, "
                         "with keys), listen on loopback or ipc://, or give --insecure",
                         endpoint);
}

char *shoal_node_metrics_problem (const char *address)
{
    return streq (address, "off") ? NULL : metrics_address_problem (address);
}

char *shoal_node_metrics_refusal (const char *address, bool insecure)
{
    return streq (address, "off") ? NULL : metrics_listen_refusal (address, insecure);
}
