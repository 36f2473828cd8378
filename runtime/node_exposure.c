/*  node_exposure.c - where a node may be reached from: the checks that
    keep a node alone without CURVE, and its metrics, on loopback unless
    started insecure (see node.h). The node checks the text it is given
    before anything is made, and again the address it bound.
*/
#include "node.h"
#include "metrics.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <string.h>

//  True if endpoint is tcp://NAME:PORT, NAME a loopback interface's
//  (tcp://lo:7700): ZeroMQ binds that interface's addresses, which no
//  other machine reaches.
static bool s_loopback_interface (const char *endpoint)
{
    if (strncmp (endpoint, "tcp://", 6) != 0)
        return false;
    const char *host = endpoint + 6, *colon = strrchr (host, ':');
    char name[IF_NAMESIZE];
    size_t len = colon ? (size_t) (colon - host) : 0;
    if (len == 0 || len >= sizeof name)
        return false;
    memcpy (name, host, len);
    name[len] = 0;
    struct ifaddrs *all;
    if (if_nametoindex (name) == 0 || getifaddrs (&all) != 0)
        return false;
    bool loopback = false, seen = false;
    for (struct ifaddrs *each = all; each; each = each->ifa_next)
        if (each->ifa_name && streq (each->ifa_name, name)) {
            seen = true;
            loopback = (each->ifa_flags & IFF_LOOPBACK) != 0;
            if (!loopback)
                break;
        }
    freeifaddrs (all);
    return seen && loopback;
}

//  True if endpoint cannot be reached from another machine, nor by
//  another user of this one: an ipc:// socket is made 0700 (node.c), but
//  one in the abstract namespace (ipc://@NAME) has no file, so no
//  permission keeps any local user from it: refused without --insecure.
static bool s_local_endpoint (const char *endpoint)
{
    if (strncmp (endpoint, "ipc://@", 7) == 0)
        return false;
    static const char *local[] = {"ipc://", "inproc://", "tcp://127.",
                                  "tcp://localhost:", "tcp://[::1]:"};
    for (size_t i = 0; i < sizeof local / sizeof local[0]; i++)
        if (strncmp (endpoint, local[i], strlen (local[i])) == 0)
            return true;
    return s_loopback_interface (endpoint);
}

char *shoal_node_listen_refusal (const char *endpoint, bool insecure)
{
    if (insecure || s_local_endpoint (endpoint))
        return NULL;
    return zsys_sprintf ("will not listen on %s without CURVE: %s could reach it. Run a "
                         "cluster (`shoal cluster init --nodes 1` makes one of one node, with "
                         "keys), listen on loopback or an ipc:// path, or give --insecure",
                         endpoint,
                         strncmp (endpoint, "ipc://@", 7) == 0
                             ? "any user of this machine (an abstract socket has no file "
                               "permissions)"
                             : "another machine");
}

char *shoal_node_bind_problem (const char *endpoint)
{
    if (strncmp (endpoint, "tcp://", 6) != 0)
        return NULL;
    const char *host = endpoint + 6, *colon = strrchr (host, ':');
    size_t len = colon ? (size_t) (colon - host) : strlen (host);
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
        host++;
        len -= 2;
    }
    char name[128];
    bool bindable = len == 0;
    if (len > 0 && len < sizeof name) {
        memcpy (name, host, len);
        name[len] = 0;
        uint8_t address[16];
        bindable = streq (name, "*") || inet_pton (AF_INET, name, address) == 1 ||
                   inet_pton (AF_INET6, name, address) == 1 || if_nametoindex (name) != 0;
    }
    return bindable ? NULL
                    : zsys_sprintf ("--endpoint %s: to listen on, tcp:// takes an IP address or "
                                    "a network interface's name, not a host name "
                                    "(tcp://127.0.0.1:PORT for this machine alone)",
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
