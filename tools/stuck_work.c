/*  stuck_work.c - what the stuck-work commands share; see stuck_work.h.
    Each talks to one node (--endpoint) or to a cluster (--cluster FILE).

    Threads: the command's one thread; nothing here keeps state.
*/
#include "stuck_work.h"
#include "shard.h"
#include "wire_int.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int stuck_parse (int argc, char **argv, stuck_options_t *opts, void (*help) (FILE *))
{
    const option_t table[] = {
        OPT_STRING ("endpoint", &opts->endpoint),
        OPT_STRING ("cluster", &opts->cluster),
        OPT_INT ("timeout", &opts->timeout_ms, 1, 3600000),
        OPT_INT ("limit", &opts->limit, 1, 1000),
        OPT_INT ("wait", &opts->wait_ms, 0, 3600000),
        OPT_FLAG ("stalled", &opts->stalled),
        OPT_FLAG ("exit-code", &opts->exit_code),
        OPT_FLAG ("json", &opts->json),
        OPT_FLAG ("force", &opts->force),
        OPT_FLAG ("accept", &opts->accept),
        OPT_FLAG ("even-if-reachable", &opts->even_if_reachable),
        OPT_INT ("silent-for", &opts->silent_for_ms, 0, 86400000), //  the node's limit (repair.h)
        OPT_STRING ("reject", &opts->reject),
        OPT_STRING ("reason", &opts->reason),
        OPT_END,
    };
    opts->timeout_ms = REPAIR_TIMEOUT_MS;
    opts->limit = 1000;
    opts->wait_ms = 5000;
    opts->silent_for_ms = -1; //  the node's default
    int first = options_parse (table, argc, argv, help);
    client_target (opts->endpoint, opts->cluster, &opts->endpoint, &opts->cluster);
    return first;
}

client_t *stuck_connect (const char *command, const stuck_options_t *opts, const char *node)
{
    return cmd_connect (command, opts->endpoint, opts->cluster, node);
}

//  Asks to/name with payload (may be NULL) and waits for the answer.
//  Returns 0 with *reply to close, or SHOAL_ETIMEOUT / another code.
int stuck_ask (client_t *client, envelope_kind_t kind, const char *to, const char *name,
               const uint8_t *payload, size_t size, long timeout_ms, client_reply_t *reply)
{
    envelope_t request;
    client_request (&request, kind, NULL, to, name, payload, size);
    return client_call (client, &request, (int) timeout_ms, reply);
}

int stuck_ask_owner (const char *command, const stuck_options_t *opts, client_t **client,
                     envelope_kind_t kind, const char *to, const char *name, const uint8_t *payload,
                     size_t size, long timeout_ms, client_reply_t *reply, stuck_direct_t *direct)
{
    int rc = stuck_ask (*client, kind, to, name, payload, size, timeout_ms, reply);
    char node[64];
    if (rc != 0 || !opts->cluster || direct->state == STUCK_DIRECT_ANSWERED ||
        !cmd_owner_down (reply, node, sizeof node))
        return rc;
    snprintf (direct->node, sizeof direct->node, "%s", node);
    client_t *owner = stuck_connect (command, opts, node);
    client_reply_t answer;
    direct->rc = owner ? stuck_ask (owner, kind, to, name, payload, size, timeout_ms, &answer)
                       : SHOAL_ENOMEM;
    if (direct->rc == 0) {
        client_reply_close (reply);
        *reply = answer;
        client_destroy (client);
        *client = owner;
        direct->state = STUCK_DIRECT_ANSWERED;
    } else { //  the first node's word stands: down or cut off
        client_destroy (&owner);
        direct->state = STUCK_DIRECT_SILENT;
    }
    return rc;
}

const char *stuck_owner (const stuck_options_t *opts, const char *address, char *buf, size_t size)
{
    buf[0] = 0;
    char *error = NULL;
    cluster_t *cluster = opts->cluster ? cluster_load (opts->cluster, &error) : NULL;
    free (error);
    int owner =
        cluster ? cluster_owner (cluster, shoal_shard (address, cluster_shards (cluster))) : -1;
    if (owner >= 0)
        snprintf (buf, size, "%s", cluster_node_name (cluster, owner));
    cluster_destroy (&cluster);
    return buf;
}

bool stuck_check_address (const char *command, const char *address)
{
    return cmd_check_address (command, address); //  as get says it, quoted
}

//  ms since the epoch as ISO 8601 UTC with ms: 2026-12-01T22:48:09.123Z.
void stuck_iso (int64_t ms, char *buf, size_t size)
{
    //  A time from a node may be any int64: one before 1970 or past the
    //  years gmtime can say is no time it could have meant.
    time_t seconds = (time_t) (ms / 1000);
    struct tm tm;
    char date[32];
    if (ms < 0 || !gmtime_r (&seconds, &tm) ||
        !strftime (date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm)) {
        snprintf (buf, size, "?");
        return;
    }
    snprintf (buf, size, "%s.%03dZ", date, (int) (ms % 1000));
}

void stuck_age (int64_t ms, char *buf, size_t size)
{
    if (ms < 60000)
        snprintf (buf, size, "%.1fs", ms / 1000.0);
    else if (ms < 3600000)
        snprintf (buf, size, "%lldm%02llds", (long long) (ms / 60000),
                  (long long) (ms / 1000 % 60));
    else
        snprintf (buf, size, "%lldh%02lldm", (long long) (ms / 3600000),
                  (long long) (ms / 60000 % 60));
}

bool stuck_view (client_t *client, long timeout_ms, stuck_view_t *view)
{
    memset (view, 0, sizeof *view);
    client_reply_t reply;
    if (stuck_ask (client, ENVELOPE_QUERY, "node/stats", "stats", NULL, 0,
                   timeout_ms < STUCK_VIEW_MS ? timeout_ms : STUCK_VIEW_MS, &reply))
        return false;
    view->answered = true;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *map = map_unpack (&unpacked, reply.data, reply.size);
    stats_store_failing (map, view->store, sizeof view->store);
    const msgpack_object *links = map_find (map, "peers");
    const msgpack_object *heard = map_find (map, "peers_heard");
    const msgpack_object *silent = map_find (map, "peers_silent_ms");
    for (uint32_t i = 0; links && links->type == MSGPACK_OBJECT_MAP && i < links->via.map.size &&
                         view->count < CLUSTER_MAX_NODES;
         i++) {
        const msgpack_object *key = &links->via.map.ptr[i].key, *up = &links->via.map.ptr[i].val;
        if (key->type != MSGPACK_OBJECT_STR || key->via.str.size > CLUSTER_NAME_MAX)
            continue;
        stuck_link_t *link = &view->links[view->count++];
        snprintf (link->name, sizeof link->name, "%.*s", (int) key->via.str.size, key->via.str.ptr);
        link->up = up->type == MSGPACK_OBJECT_BOOLEAN && up->via.boolean;
        const msgpack_object *lately = map_find (heard, link->name);
        link->heard = lately && lately->type == MSGPACK_OBJECT_BOOLEAN ? lately->via.boolean : -1;
        map_find_int (silent, link->name, &link->silent_ms);
    }
    msgpack_unpacked_destroy (&unpacked);
    client_reply_close (&reply);
    return true;
}

//  --------------------------------------------------------------------------
//  Rows of pending commands

//  Reads the rows of a pending answer into rows (stuck_row_t, owned), the
//  target's node from cluster. Returns the count added.
int stuck_rows_read (const client_reply_t *reply, const cluster_t *cluster, const char *node,
                     zlistx_t *rows, int64_t *truncated)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *map = map_unpack (&unpacked, reply->data, reply->size);
    int64_t now = zclock_time (), more = 0;
    map_find_int (map, "now", &now);
    if (map_find_int (map, "truncated", &more) == 0 && truncated)
        *truncated = wire_add (*truncated, more);
    const msgpack_object *pending = map_find (map, "pending");
    int added = 0;
    for (uint32_t i = 0;
         pending && pending->type == MSGPACK_OBJECT_ARRAY && i < pending->via.array.size; i++) {
        const msgpack_object *o = &pending->via.array.ptr[i];
        stuck_row_t *row = calloc (1, sizeof (stuck_row_t));
        if (!row)
            break;
        map_find_str (o, "sender", row->sender, sizeof row->sender);
        map_find_str (o, "command", row->command, sizeof row->command);
        map_find_str (o, "target", row->target, sizeof row->target);
        map_find_str (o, "id", row->id, sizeof row->id);
        map_find_str (o, "cancels", row->cancels, sizeof row->cancels);
        map_find_str (o, "error", row->error, sizeof row->error);
        map_find_int (o, "attempts", &row->attempts);
        map_find_int (o, "first_sent", &row->first_sent);
        map_find_int (o, "last_sent", &row->last_sent);
        const msgpack_object *flag = map_find (o, "stalled");
        row->stalled = flag && flag->type == MSGPACK_OBJECT_BOOLEAN && flag->via.boolean;
        flag = map_find (o, "cancelling");
        row->cancelling = flag && flag->type == MSGPACK_OBJECT_BOOLEAN && flag->via.boolean;
        row->age_ms = wire_sub (now, row->first_sent);
        snprintf (row->node, sizeof row->node, "%s", node ? node : "");
        if (cluster) {
            int owner =
                cluster_owner (cluster, shoal_shard (row->target, cluster_shards (cluster)));
            snprintf (row->target_node, sizeof row->target_node, "%s",
                      owner >= 0 ? cluster_node_name (cluster, owner) : "?");
        }
        zlistx_add_end (rows, row);
        added++;
    }
    msgpack_unpacked_destroy (&unpacked);
    return added;
}

void stuck_json_str (const char *key, const char *value, bool comma)
{
    printf ("%s\"%s\":", comma ? "," : "", key);
    json_string (stdout, value, strlen (value));
}

void stuck_row_json (const stuck_row_t *row)
{
    char iso[40];
    stuck_iso (row->first_sent, iso, sizeof iso);
    stuck_json_str ("sender", row->sender, false);
    stuck_json_str ("command", row->command, true);
    stuck_json_str ("target", row->target, true);
    if (row->target_node[0])
        stuck_json_str ("target_node", row->target_node, true);
    if (row->node[0])
        stuck_json_str ("node", row->node, true);
    stuck_json_str ("id", row->id, true);
    printf (",\"attempts\":%lld", (long long) row->attempts);
    stuck_json_str ("first_sent", iso, true);
    printf (",\"age_ms\":%lld,\"stalled\":%s,\"cancelling\":%s", (long long) row->age_ms,
            row->stalled ? "true" : "false", row->cancelling ? "true" : "false");
    if (row->cancels[0])
        stuck_json_str ("cancels", row->cancels, true);
    if (row->error[0])
        stuck_json_str ("last_error", row->error, true);
    else
        printf (",\"last_error\":null");
    if (row->why[0])
        stuck_json_str ("why", row->why, true);
}

void stuck_row_free (void **item)
{
    free (*item);
    *item = NULL;
}

//  The payload {stalled, limit} of a pending query, into buf.
size_t stuck_pending_args (uint8_t *buf, size_t cap, bool stalled, long limit)
{
    driver_payload_t packed;
    msgpack_packer pk;
    driver_payload_init (&packed, &pk, buf, cap);
    msgpack_pack_map (&pk, 2);
    msgpack_pack_str_with_body (&pk, "stalled", 7);
    stalled ? msgpack_pack_true (&pk) : msgpack_pack_false (&pk);
    driver_pack_int (&pk, "limit", limit);
    return packed.size;
}
