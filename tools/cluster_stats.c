/*  cluster_stats.c - the stats of every node of a cluster, asked all at
    once. See cluster_stats.h.

    Each client waits for no link (send timeout 0): a request that no link
    takes yet is tried again every POLL_MS until the deadline, so a node
    whose CURVE handshake has not finished gets the time that is left, and
    one that is down costs nothing but its slot in the loop.
*/
#include "cluster_stats.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

#define POLL_MS 5 //  pause between rounds over the nodes

typedef enum { NODE_UNSENT, NODE_SENT, NODE_DONE } node_state_t;

//  Keeps reply as node's answer: up, with its stats map if it has one.
static void s_answered (node_stats_t *node, client_reply_t *reply)
{
    node->up = true;
    node->reply = *reply;
    msgpack_unpacked_init (&node->unpacked);
    if (!reply->ok)
        snprintf (node->error, sizeof node->error, "stats refused: %s: %s", reply->code,
                  reply->reason);
    else if (!(node->stats = map_unpack (&node->unpacked, reply->data, reply->size)))
        snprintf (node->error, sizeof node->error, "stats reply is not a map");
}

int cluster_stats_poll (const char *path, const cluster_t *cluster, long timeout_ms,
                        node_stats_t *nodes, char **error)
{
    int count = cluster_node_count (cluster);
    client_t **clients = calloc ((size_t) count, sizeof (client_t *));
    envelope_t *requests = calloc ((size_t) count, sizeof (envelope_t));
    node_state_t *states = calloc ((size_t) count, sizeof (node_state_t));
    *error = NULL;
    int answered = -1;
    if (!clients || !requests || !states) {
        *error = strdup ("out of memory");
        goto done;
    }
    for (int i = 0; i < count; i++) {
        memset (&nodes[i], 0, sizeof nodes[i]);
        snprintf (nodes[i].name, sizeof nodes[i].name, "%s", cluster_node_name (cluster, i));
        snprintf (nodes[i].endpoint, sizeof nodes[i].endpoint, "%s",
                  cluster_node_client (cluster, i));
        clients[i] = client_new_cluster (path, nodes[i].name, error);
        if (!clients[i])
            goto done;
        client_set_send_timeout (clients[i], 0);
        client_request (&requests[i], ENVELOPE_QUERY, NULL, "node/stats", "stats", NULL, 0);
    }
    static const uint8_t zero[ENVELOPE_ID_SIZE];
    int64_t deadline = zclock_mono () + timeout_ms;
    answered = 0;
    bool pending = count > 0;
    while (pending && zclock_mono () < deadline && !zsys_interrupted) {
        pending = false;
        for (int i = 0; i < count; i++) {
            if (states[i] == NODE_UNSENT && client_send (clients[i], &requests[i]) == 0)
                states[i] = NODE_SENT;
            client_reply_t reply;
            while (states[i] == NODE_SENT && client_recv (clients[i], 0, &reply) == 0) {
                if (memcmp (reply.correlation, requests[i].id, ENVELOPE_ID_SIZE) == 0 ||
                    memcmp (reply.correlation, zero, ENVELOPE_ID_SIZE) == 0) {
                    s_answered (&nodes[i], &reply);
                    states[i] = NODE_DONE;
                    answered++;
                } else
                    client_reply_close (&reply);
            }
            pending |= states[i] != NODE_DONE;
        }
        if (pending)
            zclock_sleep (POLL_MS);
    }
    for (int i = 0; i < count; i++)
        if (states[i] != NODE_DONE)
            snprintf (nodes[i].error, sizeof nodes[i].error, "no answer in %ld ms", timeout_ms);
done:
    for (int i = 0; clients && i < count; i++)
        client_destroy (&clients[i]);
    free (clients);
    free (requests);
    free (states);
    return answered;
}

void cluster_stats_close (node_stats_t *nodes, int count)
{
    for (int i = 0; i < count; i++)
        if (nodes[i].up) {
            msgpack_unpacked_destroy (&nodes[i].unpacked);
            client_reply_close (&nodes[i].reply);
            nodes[i].up = false;
            nodes[i].stats = NULL;
        }
}
