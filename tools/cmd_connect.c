/*  cmd_connect.c - what every command that talks to nodes does alike: it
    makes its client with cmd_connect, and says a key the nodes refused
    with cmd_refused, so that a missing client certificate exits 2 and a
    refused one exits 3 with client_refusal's words, whichever command it
    is (see commands.h); and says an actor's owner that did not answer
    (a node that could not reach it refused the request) with
    cmd_owner_down and cmd_no_answer, exit 3 whichever command it is.

    Threads: the command's one thread.
*/
#include "commands.h"
#include "cluster.h"
#include "shard.h"
#include "utf8.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

client_t *cmd_connect (const char *command, const char *endpoint, const char *cluster,
                       const char *node)
{
    if (endpoint) {
        const char *problem = cluster_connect_problem (endpoint);
        client_t *client = problem ? NULL : client_new (endpoint);
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

bool cmd_refused (const char *command, client_t *client, int rc, cmd_failure_t *failure)
{
    if (rc != SHOAL_EAUTH)
        return false;
    const char *refusal = client_refusal (client);
    cmd_fail (failure, command, EXIT_NO_ANSWER, "key_refused", "%s",
              refusal ? refusal : shoal_strerror (rc));
    return true;
}

bool cmd_owner_down (const client_reply_t *reply, char *node, size_t size)
{
    return !reply->ok && strcmp (reply->code, "unavailable") == 0 &&
           map_str (reply->data, reply->size, "node_down", node, size) == 0 && node[0];
}

int cmd_no_answer (const char *command, const char *address, const char *name, const char *node,
                   const char *reason, bool json)
{
    fprintf (stderr, "shoal %s: no answer from node %s about %s: %s\n", command, node, address,
             reason);
    if (json)
        cmd_failed_json (address, name, node, "no_answer", reason);
    return EXIT_NO_ANSWER;
}

void cmd_failed_json (const char *address, const char *name, const char *node, const char *code,
                      const char *reason)
{
    printf ("{\"ok\":false,\"address\":");
    json_string (stdout, address, strlen (address));
    if (name) {
        printf (",\"command\":");
        json_string (stdout, name, strlen (name));
    }
    printf (",\"code\":");
    json_string (stdout, code, strlen (code));
    if (node) {
        printf (",\"node\":");
        json_string (stdout, node, strlen (node));
    }
    printf (",\"reason\":");
    json_string (stdout, reason, strlen (reason));
    printf ("}\n");
}

void cmd_owner_note (const char *cluster_path, const char *address, char *note, size_t size)
{
    note[0] = 0;
    if (shoal_address_check (address, strlen (address)) != 0)
        return; //  node/..., a node's own query
    cluster_t *cluster = cluster_load (cluster_path, NULL);
    int at =
        cluster ? cluster_owner (cluster, shoal_shard (address, cluster_shards (cluster))) : -1;
    if (at >= 0)
        snprintf (note, size,
                  " (%s is node %s's, by the cluster's map: it may be stopped, frozen or cut off)",
                  address, cluster_node_name (cluster, at));
    cluster_destroy (&cluster);
}

bool cmd_reason_ok (const char *command, const char *reason)
{
    size_t len = reason ? strlen (reason) : 0;
    if (!reason || (len && len <= ENVELOPE_REASON_MAX && utf8_valid_prefix (reason, len) == len))
        return true;
    char quoted[96]; //  one line, whatever its bytes
    fprintf (stderr, "shoal %s: --reason TEXT is 1 to %d bytes of UTF-8, not %s\n", command,
             ENVELOPE_REASON_MAX, utf8_quote (quoted, sizeof quoted, reason, len, '\''));
    return false;
}

const char *cmd_operator (char *buf, size_t size)
{
    const char *user = getenv ("USER");
    struct passwd *account = user && *user ? NULL : getpwuid (geteuid ());
    if (!user || !*user)
        user = account && account->pw_name && *account->pw_name ? account->pw_name : NULL;
    if (user)
        snprintf (buf, size, "%s", user);
    else
        snprintf (buf, size, "uid %u", (unsigned) geteuid ());
    return buf;
}
