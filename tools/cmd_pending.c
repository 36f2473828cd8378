/*  cmd_pending.c - watching and repairing stuck work: `shoal pending`,
    `explain`, `resend` and `resolve` (runtime/repair.h has what the nodes
    do for them). Each talks to one node (--endpoint) or to a cluster
    (--cluster FILE: `pending` asks every node, the others go to any node,
    which forwards). Text by default, --json for scripts; exit codes of
    commands.h.
*/
#include "client_window.h"
#include "cluster.h"
#include "commands.h"
#include "options.h"
#include "shard.h"

#include <czmq.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPAIR_TIMEOUT_MS 3000
#define REPAIR_FOLLOW_MS 100

typedef struct {
    const char *endpoint;
    const char *cluster;
    long timeout_ms;
    long limit;
    long wait_ms;
    bool stalled;
    bool json;
    bool force;
    const char *reject;
    const char *reason;
} repair_options_t;

static int s_parse (int argc, char **argv, repair_options_t *opts, void (*help) (FILE *))
{
    const option_t table[] = {
        OPT_STRING ("endpoint", &opts->endpoint),
        OPT_STRING ("cluster", &opts->cluster),
        OPT_INT ("timeout", &opts->timeout_ms, 1, 3600000),
        OPT_INT ("limit", &opts->limit, 1, 1000),
        OPT_INT ("wait", &opts->wait_ms, 0, 3600000),
        OPT_FLAG ("stalled", &opts->stalled),
        OPT_FLAG ("json", &opts->json),
        OPT_FLAG ("force", &opts->force),
        OPT_STRING ("reject", &opts->reject),
        OPT_STRING ("reason", &opts->reason),
        OPT_END,
    };
    opts->timeout_ms = REPAIR_TIMEOUT_MS;
    opts->limit = 1000;
    opts->wait_ms = 5000;
    int first = options_parse (table, argc, argv, help);
    client_target (opts->endpoint, opts->cluster, &opts->endpoint, &opts->cluster);
    return first;
}

//  A client of node (NULL: any node) of the cluster, or of the endpoint.
//  NULL after a message.
static client_t *s_connect (const char *command, const repair_options_t *opts, const char *node)
{
    if (opts->cluster) {
        char *error = NULL;
        client_t *client = client_new_cluster (opts->cluster, node, &error);
        if (!client)
            fprintf (stderr, "shoal %s: %s\n", command, error ? error : "cannot connect");
        free (error);
        return client;
    }
    client_t *client = client_new (opts->endpoint);
    if (!client)
        fprintf (stderr, "shoal %s: '%s' is not a valid endpoint\n", command, opts->endpoint);
    return client;
}

//  Asks to/name with payload (may be NULL) and waits for the answer.
//  Returns 0 with *reply to close, or SHOAL_ETIMEOUT / another code.
static int s_ask (client_t *client, envelope_kind_t kind, const char *to, const char *name,
                  const uint8_t *payload, size_t size, long timeout_ms, client_reply_t *reply)
{
    envelope_t request;
    client_request (&request, kind, NULL, to, name, payload, size);
    return client_call (client, &request, (int) timeout_ms, reply);
}

static bool s_check_address (const char *command, const char *address)
{
    if (shoal_address_check (address, strlen (address)) == 0)
        return true;
    fprintf (stderr, "shoal %s: '%s' is not an address (type/id)\n", command, address);
    return false;
}

//  ms since the epoch as ISO 8601 UTC with ms: 2026-12-01T22:48:09.123Z.
static void s_iso (int64_t ms, char *buf, size_t size)
{
    time_t seconds = (time_t) (ms / 1000);
    struct tm tm;
    gmtime_r (&seconds, &tm);
    char date[32];
    strftime (date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf (buf, size, "%s.%03dZ", date, (int) (ms % 1000));
}

static void s_age (int64_t ms, char *buf, size_t size)
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

//  --------------------------------------------------------------------------
//  Rows of pending commands

typedef struct {
    char sender[SHOAL_ADDRESS_MAX + 1];
    char command[SHOAL_NAME_MAX + 1];
    char target[SHOAL_ADDRESS_MAX + 1];
    char id[2 * ENVELOPE_ID_SIZE + 1];
    char cancels[2 * ENVELOPE_ID_SIZE + 1];
    char node[64];        //  the sender's node ("" alone)
    char target_node[64]; //  the target's node ("" alone)
    char error[256];
    char why[512]; //  explain: why it is stalled
    int64_t attempts, first_sent, last_sent, age_ms;
    bool stalled, cancelling;
} row_t;

//  Reads the rows of a pending answer into rows (row_t, owned), the
//  target's node from cluster. Returns the count added.
static int s_rows_read (const client_reply_t *reply, const cluster_t *cluster, const char *node,
                        zlistx_t *rows, int64_t *truncated)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *map = map_unpack (&unpacked, reply->data, reply->size);
    int64_t now = zclock_time (), more = 0;
    map_find_int (map, "now", &now);
    if (map_find_int (map, "truncated", &more) == 0 && truncated)
        *truncated += more;
    const msgpack_object *pending = map_find (map, "pending");
    int added = 0;
    for (uint32_t i = 0;
         pending && pending->type == MSGPACK_OBJECT_ARRAY && i < pending->via.array.size; i++) {
        const msgpack_object *o = &pending->via.array.ptr[i];
        row_t *row = calloc (1, sizeof (row_t));
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
        row->age_ms = now - row->first_sent;
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

static void s_json_str (const char *key, const char *value, bool comma)
{
    printf ("%s\"%s\":", comma ? "," : "", key);
    json_string (stdout, value, strlen (value));
}

static void s_row_json (const row_t *row)
{
    char iso[40];
    s_iso (row->first_sent, iso, sizeof iso);
    s_json_str ("sender", row->sender, false);
    s_json_str ("command", row->command, true);
    s_json_str ("target", row->target, true);
    if (row->target_node[0])
        s_json_str ("target_node", row->target_node, true);
    if (row->node[0])
        s_json_str ("node", row->node, true);
    s_json_str ("id", row->id, true);
    printf (",\"attempts\":%lld", (long long) row->attempts);
    s_json_str ("first_sent", iso, true);
    printf (",\"age_ms\":%lld,\"stalled\":%s,\"cancelling\":%s", (long long) row->age_ms,
            row->stalled ? "true" : "false", row->cancelling ? "true" : "false");
    if (row->cancels[0])
        s_json_str ("cancels", row->cancels, true);
    if (row->error[0])
        s_json_str ("last_error", row->error, true);
    else
        printf (",\"last_error\":null");
    if (row->why[0])
        s_json_str ("why", row->why, true);
}

static void s_rows_text (zlistx_t *rows, bool cluster)
{
    printf ("%-24s %-10s %-24s %s%-32s %4s  %-24s %-8s %-7s %s\n", "SENDER", "COMMAND", "TARGET",
            cluster ? "NODE  " : "", "MSGID", "SENT", "FIRST SENT", "AGE", "STALLED", "LAST ERROR");
    for (row_t *row = zlistx_first (rows); row; row = zlistx_next (rows)) {
        char iso[40], age[24], node[16] = "";
        s_iso (row->first_sent, iso, sizeof iso);
        s_age (row->age_ms, age, sizeof age);
        if (cluster)
            snprintf (node, sizeof node, "%-5.5s ", row->target_node);
        printf ("%-24s %-10s %-24s %s%-32s %4lld  %-24s %-8s %-7s %s%s\n", row->sender,
                row->command, row->target, node, row->id, (long long) row->attempts, iso, age,
                row->stalled ? "yes" : "no", row->cancelling ? "(cancelling) " : "",
                row->error[0] ? row->error : "-");
    }
}

static void s_row_free (void **item)
{
    free (*item);
    *item = NULL;
}

//  The payload {stalled, limit} of a pending query, into buf.
static size_t s_pending_args (uint8_t *buf, size_t cap, bool stalled, long limit)
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

//  --------------------------------------------------------------------------

static void s_pending_help (FILE *out)
{
    fprintf (
        out,
        "Usage: shoal pending [--endpoint E | --cluster FILE] [--stalled] [--json]\n"
        "                     [--limit N] [--timeout MS]\n\n"
        "Lists every command an actor sent that is not answered yet: sender, command,\n"
        "target (and, in a cluster, the target's node), message id, how often it was\n"
        "sent, when first (UTC), its age, whether it is stalled (older than the node's\n"
        "--stall-ms), and the last failure known about it. With --cluster, every node\n"
        "is asked; a node that does not answer within --timeout (default %d ms) is\n"
        "listed as down. At most --limit rows per node (default and most 1000); the\n"
        "rest is counted as truncated.\n\n"
        "--json prints one object: {\"pending\":[...],\"nodes_down\":[...],\"truncated\":N}.\n\n"
        "Exit: 0 answered by every node, 3 a node did not answer.\n\n"
        "Examples:\n"
        "  shoal pending\n"
        "  shoal pending --cluster bank/cluster.cfg --stalled\n"
        "  shoal pending --json --limit 50 | jq '.pending[].target'\n",
        REPAIR_TIMEOUT_MS);
}

int cmd_pending (int argc, char **argv)
{
    repair_options_t opts = {0};
    int first = s_parse (argc, argv, &opts, s_pending_help);
    if (first < 0)
        return first == OPTIONS_HELP ? 0 : EXIT_USAGE;
    if (argc != first) {
        fprintf (stderr, "shoal pending: takes no arguments (see shoal pending --help)\n");
        return EXIT_USAGE;
    }
    cluster_t *cluster = NULL;
    if (opts.cluster) {
        char *error = NULL;
        cluster = cluster_load (opts.cluster, &error);
        if (!cluster) {
            fprintf (stderr, "shoal pending: %s\n", error ? error : "cannot read the cluster");
            free (error);
            return EXIT_USAGE;
        }
    }
    zlistx_t *rows = zlistx_new ();
    zlistx_set_destructor (rows, s_row_free);
    zlistx_t *down = zlistx_new ();
    zlistx_set_destructor (down, (zlistx_destructor_fn *) zstr_free);
    int64_t truncated = 0;
    uint8_t args[64];
    size_t args_size = s_pending_args (args, sizeof args, opts.stalled, opts.limit);
    int nodes = cluster ? cluster_node_count (cluster) : 1;
    for (int i = 0; i < nodes; i++) {
        const char *name = cluster ? cluster_node_name (cluster, i) : NULL;
        client_t *client = s_connect ("pending", &opts, name);
        client_reply_t reply;
        int rc = client ? s_ask (client, ENVELOPE_QUERY, "node/all", "pending", args, args_size,
                                 opts.timeout_ms, &reply)
                        : SHOAL_EINVAL;
        client_destroy (&client);
        if (rc == 0 && reply.ok)
            s_rows_read (&reply, cluster, name, rows, &truncated);
        else
            zlistx_add_end (down, strdup (name ? name : opts.endpoint));
        if (rc == 0)
            client_reply_close (&reply);
    }
    if (opts.json) {
        printf ("{\"pending\":[");
        const char *comma = "";
        for (row_t *row = zlistx_first (rows); row; row = zlistx_next (rows), comma = ",") {
            printf ("%s{", comma);
            s_row_json (row);
            printf ("}");
        }
        printf ("],\"nodes_down\":[");
        comma = "";
        for (char *name = zlistx_first (down); name; name = zlistx_next (down), comma = ",") {
            printf ("%s", comma);
            json_string (stdout, name, strlen (name));
        }
        printf ("],\"truncated\":%lld}\n", (long long) truncated);
    } else {
        if (zlistx_size (rows))
            s_rows_text (rows, cluster != NULL);
        else
            printf ("no %scommand is pending\n", opts.stalled ? "stalled " : "");
        if (truncated)
            printf ("... and %lld more (see --limit)\n", (long long) truncated);
        for (char *name = zlistx_first (down); name; name = zlistx_next (down))
            printf ("node %s did not answer within %ld ms: down? (its pending commands are "
                    "not listed)\n",
                    name, opts.timeout_ms);
    }
    int rc = zlistx_size (down) ? EXIT_NO_ANSWER : EXIT_ACCEPTED;
    zlistx_destroy (&rows);
    zlistx_destroy (&down);
    cluster_destroy (&cluster);
    return rc;
}

//  --------------------------------------------------------------------------
//  explain

typedef struct {
    int64_t seq, created;
    char name[SHOAL_NAME_MAX + 1];
    char *data; //  JSON, owned
} event_row_t;

static void s_event_free (void **item)
{
    event_row_t *event = *item;
    if (event) {
        free (event->data);
        free (event);
        *item = NULL;
    }
}

//  Reads every event of address: the last `keep` into last, every '$'
//  one (the runtime's records) into records. Returns 0 or a code.
static int s_read_events (client_t *client, const char *address, long timeout_ms, size_t keep,
                          zlistx_t *last, zlistx_t *records)
{
    int64_t from = 1;
    while (true) {
        uint8_t buf[32];
        driver_payload_t packed;
        msgpack_packer pk;
        driver_payload_init (&packed, &pk, buf, sizeof buf);
        msgpack_pack_map (&pk, 1);
        driver_pack_int (&pk, "from", from);
        client_reply_t reply;
        int rc =
            s_ask (client, ENVELOPE_QUERY, address, "events", buf, packed.size, timeout_ms, &reply);
        if (rc)
            return rc;
        msgpack_unpacked unpacked;
        msgpack_unpacked_init (&unpacked);
        const msgpack_object *page =
            reply.ok ? map_unpack (&unpacked, reply.data, reply.size) : NULL;
        const msgpack_object *events = map_find (page, "events");
        int64_t next = from;
        map_find_int (page, "next", &next);
        uint32_t count =
            events && events->type == MSGPACK_OBJECT_ARRAY ? events->via.array.size : 0;
        for (uint32_t i = 0; i < count; i++) {
            const msgpack_object *o = &events->via.array.ptr[i];
            event_row_t *event = calloc (1, sizeof (event_row_t));
            if (!event)
                break;
            map_find_int (o, "seq", &event->seq);
            map_find_int (o, "created", &event->created);
            map_find_str (o, "event", event->name, sizeof event->name);
            const msgpack_object *data = map_find (o, "data");
            size_t size;
            FILE *memory = open_memstream (&event->data, &size);
            if (memory) {
                if (data)
                    json_object (memory, data);
                fclose (memory);
            }
            if (event->name[0] == '$') {
                event_row_t *copy = calloc (1, sizeof (event_row_t));
                if (copy) {
                    *copy = *event;
                    copy->data = strdup (event->data ? event->data : "{}");
                    zlistx_add_end (records, copy);
                }
            }
            zlistx_add_end (last, event);
            if (zlistx_size (last) > keep && zlistx_first (last))
                zlistx_delete (last, zlistx_cursor (last));
        }
        msgpack_unpacked_destroy (&unpacked);
        bool ok = reply.ok;
        client_reply_close (&reply);
        if (!ok || count == 0 || next <= from)
            return 0;
        from = next;
    }
}

//  The "peers" of a node's stats: name -> up, as "name=1,name=0,". Returns
//  false if the node did not answer.
static bool s_node_peers (const char *command, const repair_options_t *opts, const char *node,
                          char *peers, size_t size)
{
    peers[0] = 0;
    client_t *client = s_connect (command, opts, node);
    client_reply_t reply;
    int rc = client ? s_ask (client, ENVELOPE_QUERY, "node/stats", "stats", NULL, 0,
                             opts->timeout_ms < 1500 ? opts->timeout_ms : 1500, &reply)
                    : SHOAL_EINVAL;
    client_destroy (&client);
    if (rc)
        return false;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *map = map_unpack (&unpacked, reply.data, reply.size);
    const msgpack_object *links = map_find (map, "peers");
    for (uint32_t i = 0; links && links->type == MSGPACK_OBJECT_MAP && i < links->via.map.size;
         i++) {
        const msgpack_object *key = &links->via.map.ptr[i].key, *up = &links->via.map.ptr[i].val;
        if (key->type != MSGPACK_OBJECT_STR)
            continue;
        size_t used = strlen (peers);
        snprintf (peers + used, size - used, "%.*s=%d,", (int) key->via.str.size, key->via.str.ptr,
                  up->type == MSGPACK_OBJECT_BOOLEAN && up->via.boolean);
    }
    msgpack_unpacked_destroy (&unpacked);
    client_reply_close (&reply);
    return true;
}

//  1 if peers ("a=1,b=0,") says name's link is up, 0 down, -1 unknown.
static int s_peer_up (const char *peers, const char *name)
{
    size_t length = strlen (name);
    for (const char *p = peers; *p;) {
        const char *equals = strchr (p, '=');
        if (!equals)
            break;
        if ((size_t) (equals - p) == length && memcmp (p, name, length) == 0)
            return equals[1] == '1';
        const char *comma = strchr (equals, ',');
        p = comma ? comma + 1 : equals + strlen (equals);
    }
    return -1;
}

static void s_explain_help (FILE *out)
{
    fprintf (out, "Usage: shoal explain [--endpoint E | --cluster FILE] [--json] [--timeout MS] "
                  "ADDRESS\n\n"
                  "Says what the actor at ADDRESS is doing: its state and version, its last five\n"
                  "events, the commands it sent that wait for an answer (since when, how often\n"
                  "sent), its timers, whether it is stalled and why (in a cluster: the target's\n"
                  "node is down, as its own node's link and a stats query to it say; the target\n"
                  "refuses; a cancel is on its way), and the operators' records ($Resolved:\n"
                  "who, when, why). --json prints the same as one object.\n\n"
                  "Examples:\n"
                  "  shoal explain transfer/t-42\n"
                  "  shoal explain --cluster bank/cluster.cfg transfer/t-42\n"
                  "  shoal explain --json account/alice | jq .pending\n");
}

//  Fills each stalled row's why; returns true if any row is stalled.
static bool s_explain_why (const repair_options_t *opts, const cluster_t *cluster,
                           const char *own_node, zlistx_t *rows)
{
    char peers[1024] = "";
    bool own_up = cluster ? s_node_peers ("explain", opts, own_node, peers, sizeof peers) : true;
    bool any = false;
    for (row_t *row = zlistx_first (rows); row; row = zlistx_next (rows)) {
        snprintf (row->node, sizeof row->node, "%s", own_node ? own_node : "");
        if (!row->stalled)
            continue;
        any = true;
        if (row->cancelling) {
            snprintf (row->why, sizeof row->why,
                      "an operator resolved it: its $cancel waits for %s's answer", row->target);
            continue;
        }
        bool remote = cluster && own_node && !streq (row->target_node, own_node);
        int link = remote && own_up ? s_peer_up (peers, row->target_node) : -1;
        char ignored[8];
        bool answers = !remote || s_node_peers ("explain", opts, row->target_node, ignored, 0);
        if (remote && (!answers || link == 0))
            snprintf (row->why, sizeof row->why, "target node %s (owner of %s) is down: %s%s%s",
                      row->target_node, row->target, link == 0 ? own_node : "",
                      link == 0 ? " reports its link down" : "",
                      answers ? ""
                              : (link == 0 ? ", and it does not answer" : "it does not answer"));
        else if (row->error[0])
            snprintf (row->why, sizeof row->why, "target refusing or failing: %s", row->error);
        else
            snprintf (row->why, sizeof row->why,
                      "%s%s is up but has not answered yet (busy, or a message lost: try "
                      "shoal resend)",
                      row->target, remote ? " and its node" : "");
    }
    return any;
}

int cmd_explain (int argc, char **argv)
{
    repair_options_t opts = {0};
    int first = s_parse (argc, argv, &opts, s_explain_help);
    if (first < 0)
        return first == OPTIONS_HELP ? 0 : EXIT_USAGE;
    if (argc - first != 1) {
        fprintf (stderr, "shoal explain: needs exactly one ADDRESS (see shoal explain --help)\n");
        return EXIT_USAGE;
    }
    const char *address = argv[first];
    if (!s_check_address ("explain", address))
        return EXIT_USAGE;
    cluster_t *cluster = NULL;
    if (opts.cluster) {
        char *error = NULL;
        cluster = cluster_load (opts.cluster, &error);
        if (!cluster) {
            fprintf (stderr, "shoal explain: %s\n", error ? error : "cannot read the cluster");
            free (error);
            return EXIT_USAGE;
        }
    }
    const char *own_node = NULL;
    if (cluster) {
        int owner = cluster_owner (cluster, shoal_shard (address, cluster_shards (cluster)));
        own_node = owner >= 0 ? cluster_node_name (cluster, owner) : NULL;
    }
    client_t *client = s_connect ("explain", &opts, own_node);
    client_reply_t get, pending;
    int rc = client ? s_ask (client, ENVELOPE_QUERY, address, "get", NULL, 0, opts.timeout_ms, &get)
                    : SHOAL_EINVAL;
    if (rc) {
        fprintf (stderr, "shoal explain: no answer about %s%s%s: %s\n", address,
                 own_node ? " from its node " : "", own_node ? own_node : "", shoal_strerror (rc));
        client_destroy (&client);
        cluster_destroy (&cluster);
        return EXIT_NO_ANSWER;
    }
    if (!get.ok) {
        fprintf (stderr, "shoal explain: %s: %s (%s)\n", address, get.reason, get.code);
        client_reply_close (&get);
        client_destroy (&client);
        cluster_destroy (&cluster);
        return EXIT_REJECTED;
    }
    zlistx_t *last = zlistx_new (), *records = zlistx_new (), *rows = zlistx_new ();
    zlistx_set_destructor (last, s_event_free);
    zlistx_set_destructor (records, s_event_free);
    zlistx_set_destructor (rows, s_row_free);
    s_read_events (client, address, opts.timeout_ms, 5, last, records);
    uint8_t args[64];
    size_t args_size = s_pending_args (args, sizeof args, false, opts.limit);
    msgpack_unpacked timers_unpacked;
    msgpack_unpacked_init (&timers_unpacked);
    const msgpack_object *timers = NULL;
    rc = s_ask (client, ENVELOPE_QUERY, address, "pending", args, args_size, opts.timeout_ms,
                &pending);
    if (rc == 0 && pending.ok) {
        s_rows_read (&pending, cluster, own_node, rows, NULL);
        timers = map_find (map_unpack (&timers_unpacked, pending.data, pending.size), "timers");
    }
    client_destroy (&client);
    bool stalled = s_explain_why (&opts, cluster, own_node, rows);
    int64_t version = 0;
    map_int (get.data, get.size, "version", &version);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *state = map_find (map_unpack (&unpacked, get.data, get.size), "state");
    char code[64] = "";
    map_find_str (state, "code", code, sizeof code);
    bool expired = streq (code, "expired");
    if (opts.json) {
        printf ("{");
        s_json_str ("address", address, false);
        if (own_node)
            s_json_str ("node", own_node, true);
        printf (",\"version\":%lld,\"state\":", (long long) version);
        if (state)
            json_object (stdout, state);
        else
            printf ("null");
        printf (",\"stalled\":%s,\"expired\":%s,\"events\":[", stalled ? "true" : "false",
                expired ? "true" : "false");
        const char *comma = "";
        for (event_row_t *e = zlistx_first (last); e; e = zlistx_next (last), comma = ",") {
            printf ("%s{\"seq\":%lld,\"event\":", comma, (long long) e->seq);
            json_string (stdout, e->name, strlen (e->name));
            printf (",\"data\":%s}", e->data ? e->data : "{}");
        }
        printf ("],\"pending\":[");
        comma = "";
        for (row_t *row = zlistx_first (rows); row; row = zlistx_next (rows), comma = ",") {
            printf ("%s{", comma);
            s_row_json (row);
            printf ("}");
        }
        printf ("],\"timers\":");
        if (timers)
            json_object (stdout, timers);
        else
            printf ("[]");
        printf (",\"operator_records\":[");
        comma = "";
        for (event_row_t *e = zlistx_first (records); e; e = zlistx_next (records), comma = ",")
            printf ("%s{\"seq\":%lld,\"event\":\"%s\",\"data\":%s}", comma, (long long) e->seq,
                    e->name, e->data ? e->data : "{}");
        printf ("]}\n");
    } else {
        printf ("%s%s%s, version %lld\n", address, own_node ? " on node " : "",
                own_node ? own_node : "", (long long) version);
        printf ("  state: ");
        if (state)
            json_object (stdout, state);
        printf ("\n  last events:%s\n", zlistx_size (last) ? "" : " none");
        for (event_row_t *e = zlistx_first (last); e; e = zlistx_next (last)) {
            char iso[40];
            s_iso (e->created, iso, sizeof iso);
            printf ("    #%lld %s %s  (%s)\n", (long long) e->seq, e->name, e->data ? e->data : "",
                    iso);
        }
        printf ("  waits for:%s\n", zlistx_size (rows) ? "" : " nothing (no command pending)");
        for (row_t *row = zlistx_first (rows); row; row = zlistx_next (rows)) {
            char iso[40], age[24];
            s_iso (row->first_sent, iso, sizeof iso);
            s_age (row->age_ms, age, sizeof age);
            printf ("    %s to %s%s%s, message %s: sent %lld times since %s (%s)%s\n", row->command,
                    row->target, row->target_node[0] ? " on node " : "", row->target_node, row->id,
                    (long long) row->attempts, iso, age, row->stalled ? ", STALLED" : "");
            if (row->why[0])
                printf ("      why: %s\n", row->why);
            if (row->error[0])
                printf ("      last error: %s\n", row->error);
        }
        printf ("  timers:");
        uint32_t count =
            timers && timers->type == MSGPACK_OBJECT_ARRAY ? timers->via.array.size : 0;
        if (!count)
            printf (" none");
        printf ("\n");
        for (uint32_t i = 0; i < count; i++) {
            char name[SHOAL_NAME_MAX + 1] = "?", iso[40];
            int64_t due = 0;
            map_find_str (&timers->via.array.ptr[i], "name", name, sizeof name);
            map_find_int (&timers->via.array.ptr[i], "due", &due);
            s_iso (due, iso, sizeof iso);
            printf ("    %s due %s\n", name, iso);
        }
        if (expired)
            printf ("  EXPIRED: a command it sent outlived the inbox retention; an operator "
                    "must decide (shoal resolve)\n");
        else if (stalled)
            printf ("  STALLED: see why above; repair with shoal resend or shoal resolve\n");
        printf ("  operator records:%s\n", zlistx_size (records) ? "" : " none");
        for (event_row_t *e = zlistx_first (records); e; e = zlistx_next (records))
            printf ("    #%lld %s %s\n", (long long) e->seq, e->name, e->data ? e->data : "");
    }
    msgpack_unpacked_destroy (&unpacked);
    msgpack_unpacked_destroy (&timers_unpacked);
    if (rc == 0)
        client_reply_close (&pending);
    client_reply_close (&get);
    zlistx_destroy (&last);
    zlistx_destroy (&records);
    zlistx_destroy (&rows);
    cluster_destroy (&cluster);
    return EXIT_ACCEPTED;
}

//  --------------------------------------------------------------------------
//  resend, resolve

static void s_resend_help (FILE *out)
{
    fprintf (out, "Usage: shoal resend [--endpoint E | --cluster FILE] [--json] ADDRESS\n\n"
                  "Re-sends now every pending command of the actor at ADDRESS (instead of at\n"
                  "its next back-off), e.g. once the node it waits for is back. Harmless: a\n"
                  "receiver that ran a command answers a copy with the stored reply. A command\n"
                  "an operator resolved is not re-sent (its $cancel is).\n\n"
                  "Examples:\n"
                  "  shoal resend transfer/t-42\n"
                  "  shoal resend --cluster bank/cluster.cfg transfer/t-42\n");
}

//  Sends a control command to address's node and prints a rejection.
//  Returns -1 with *reply to close when accepted, else an exit code.
static int s_control (const char *command, const repair_options_t *opts, const char *address,
                      const char *name, const uint8_t *payload, size_t size, client_reply_t *reply)
{
    client_t *client = s_connect (command, opts, NULL);
    if (!client)
        return EXIT_USAGE;
    int rc =
        s_ask (client, ENVELOPE_COMMAND, address, name, payload, size, opts->timeout_ms, reply);
    client_destroy (&client);
    if (rc) {
        fprintf (stderr, "shoal %s: no answer about %s within %ld ms: %s\n", command, address,
                 opts->timeout_ms, shoal_strerror (rc));
        return EXIT_NO_ANSWER;
    }
    if (!reply->ok) {
        if (opts->json) {
            printf ("{\"ok\":false");
            s_json_str ("address", address, true);
            s_json_str ("code", reply->code, true);
            s_json_str ("reason", reply->reason, true);
            printf ("}\n");
        } else
            fprintf (stderr, "shoal %s: %s refused: %s (%s)\n", command, address, reply->reason,
                     reply->code);
        client_reply_close (reply);
        return EXIT_REJECTED;
    }
    return -1;
}

int cmd_resend (int argc, char **argv)
{
    repair_options_t opts = {0};
    int first = s_parse (argc, argv, &opts, s_resend_help);
    if (first < 0)
        return first == OPTIONS_HELP ? 0 : EXIT_USAGE;
    if (argc - first != 1) {
        fprintf (stderr, "shoal resend: needs exactly one ADDRESS (see shoal resend --help)\n");
        return EXIT_USAGE;
    }
    const char *address = argv[first];
    if (!s_check_address ("resend", address))
        return EXIT_USAGE;
    client_reply_t reply;
    int rc = s_control ("resend", &opts, address, "$resend", NULL, 0, &reply);
    if (rc >= 0)
        return rc;
    int64_t count = 0;
    map_int (reply.data, reply.size, "resent", &count);
    if (opts.json)
        printf ("{\"ok\":true,\"address\":\"%s\",\"resent\":%lld}\n", address, (long long) count);
    else
        printf ("%s: %lld pending command%s re-sent now\n", address, (long long) count,
                count == 1 ? "" : "s");
    client_reply_close (&reply);
    return EXIT_ACCEPTED;
}

static void s_resolve_help (FILE *out)
{
    fprintf (out, "Usage: shoal resolve [--endpoint E | --cluster FILE] [--json] [--wait MS]\n"
                  "                     ADDRESS MSGID --reject CODE --reason TEXT [--force]\n\n"
                  "Ends one pending command (MSGID, as `shoal pending` lists it) of the saga at\n"
                  "ADDRESS, safely: the saga's node records the decision in the saga's journal\n"
                  "(a $Resolved event: operator $USER, time, code, reason) and asks the target\n"
                  "to cancel MSGID, re-sending until it answers. If the target ran the command\n"
                  "already, its real reply comes back and the saga goes on; if not, the target\n"
                  "records MSGID as rejected with CODE (a late copy is refused, never run) and\n"
                  "the saga gets that rejection as the command's reply (a transfer: a refused\n"
                  "debit fails it, nothing moved; a refused credit refunds it). Either way the\n"
                  "books stay right. Then prints the saga's state, after waiting up to --wait ms\n"
                  "(default 5000) for the command to end.\n\n"
                  "--force, only when the target's node is gone for good: the saga gets the\n"
                  "rejection at once, without asking the target. If the target did run it, the\n"
                  "books are WRONG: say so, and check them (shoal check).\n\n"
                  "Exit: 0 resolved (or the cancel is on its way), 1 refused, 2 bad usage,\n"
                  "3 no answer.\n\n"
                  "Examples:\n"
                  "  shoal resolve transfer/t-42 5f0c...e1 --reject operator_cancel \\\n"
                  "      --reason \"account node n2 lost its disk; ticket 981\"\n"
                  "  shoal resolve --cluster bank/cluster.cfg transfer/t-42 5f0c...e1 \\\n"
                  "      --reject node_lost --reason \"n3 decommissioned\" --force\n");
}

//  Polls address's pending commands until msgid is gone or wait_ms has
//  passed. Returns true if it is gone.
static bool s_wait_ended (const repair_options_t *opts, const char *address, const char *msgid)
{
    int64_t deadline = zclock_mono () + opts->wait_ms;
    client_t *client = s_connect ("resolve", opts, NULL);
    bool gone = false;
    while (client && !gone && !zsys_interrupted) {
        client_reply_t reply;
        uint8_t args[64];
        size_t size = s_pending_args (args, sizeof args, false, 1000);
        if (s_ask (client, ENVELOPE_QUERY, address, "pending", args, size, 1000, &reply) == 0) {
            if (reply.ok) {
                zlistx_t *rows = zlistx_new ();
                zlistx_set_destructor (rows, s_row_free);
                s_rows_read (&reply, NULL, NULL, rows, NULL);
                gone = true;
                for (row_t *row = zlistx_first (rows); row; row = zlistx_next (rows))
                    if (streq (row->id, msgid) || streq (row->cancels, msgid))
                        gone = false;
                zlistx_destroy (&rows);
            }
            client_reply_close (&reply);
        }
        if (gone || zclock_mono () >= deadline)
            break;
        zclock_sleep (REPAIR_FOLLOW_MS);
    }
    client_destroy (&client);
    return gone;
}

int cmd_resolve (int argc, char **argv)
{
    repair_options_t opts = {0};
    int first = s_parse (argc, argv, &opts, s_resolve_help);
    if (first < 0)
        return first == OPTIONS_HELP ? 0 : EXIT_USAGE;
    if (argc - first != 2 || !opts.reject || !opts.reason) {
        fprintf (stderr, "shoal resolve: needs ADDRESS MSGID --reject CODE --reason TEXT (see "
                         "shoal resolve --help)\n");
        return EXIT_USAGE;
    }
    const char *address = argv[first], *msgid = argv[first + 1];
    if (!s_check_address ("resolve", address))
        return EXIT_USAGE;
    bool hex = strlen (msgid) == 2 * ENVELOPE_ID_SIZE;
    for (const char *c = msgid; hex && *c; c++)
        hex = (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f');
    if (!hex) {
        fprintf (stderr,
                 "shoal resolve: MSGID is 32 lowercase hex digits, as shoal pending "
                 "prints it, not '%s'\n",
                 msgid);
        return EXIT_USAGE;
    }
    const char *user = getenv ("USER");
    uint8_t payload[1024];
    driver_payload_t packed;
    msgpack_packer pk;
    driver_payload_init (&packed, &pk, payload, sizeof payload);
    msgpack_pack_map (&pk, 5);
    driver_pack_str (&pk, "id", msgid);
    driver_pack_str (&pk, "code", opts.reject);
    driver_pack_str (&pk, "reason", opts.reason);
    driver_pack_str (&pk, "operator", user && *user ? user : "unknown");
    msgpack_pack_str_with_body (&pk, "force", 5);
    opts.force ? msgpack_pack_true (&pk) : msgpack_pack_false (&pk);
    if (packed.full) {
        fprintf (stderr, "shoal resolve: --reject or --reason is too long\n");
        return EXIT_USAGE;
    }
    if (opts.force)
        fprintf (stderr,
                 "shoal resolve: WARNING: --force ends %s's command %s WITHOUT asking its "
                 "target. If the target ran it, the books are now wrong: run shoal check.\n",
                 address, msgid);
    client_reply_t reply;
    int rc = s_control ("resolve", &opts, address, "$resolve", payload, packed.size, &reply);
    if (rc >= 0)
        return rc;
    char state[64] = "", command[SHOAL_NAME_MAX + 1] = "", target[SHOAL_ADDRESS_MAX + 1] = "";
    map_str (reply.data, reply.size, "state", state, sizeof state);
    map_str (reply.data, reply.size, "command", command, sizeof command);
    map_str (reply.data, reply.size, "target", target, sizeof target);
    client_reply_close (&reply);
    bool ended = s_wait_ended (&opts, address, msgid);
    //  The saga's status after: a get, so the operator sees the repair take.
    client_t *client = s_connect ("resolve", &opts, NULL);
    client_reply_t get;
    bool got = client &&
               s_ask (client, ENVELOPE_QUERY, address, "get", NULL, 0, opts.timeout_ms, &get) == 0;
    client_destroy (&client);
    if (opts.json) {
        printf ("{\"ok\":true");
        s_json_str ("address", address, true);
        s_json_str ("id", msgid, true);
        s_json_str ("command", command, true);
        s_json_str ("target", target, true);
        s_json_str ("decision", state, true);
        printf (",\"ended\":%s,\"after\":", ended ? "true" : "false");
        if (got && get.ok)
            json_write (stdout, get.data, get.size);
        else
            printf ("null");
        printf ("}\n");
    } else {
        printf ("%s: %s %s to %s resolved (%s: %s), recorded as $Resolved by %s\n", address,
                command, msgid, target, opts.reject, opts.reason, user && *user ? user : "unknown");
        if (opts.force)
            printf ("FORCED: %s was not asked; the books may be wrong if it ran %s\n", target,
                    command);
        else if (ended)
            printf ("%s answered the cancel; the command has ended\n", target);
        else
            printf ("the cancel waits for %s's answer (its node down?); it is re-sent until "
                    "answered, and the saga goes on then\n",
                    target);
        printf ("now: ");
        if (got && get.ok)
            json_write (stdout, get.data, get.size);
        else
            printf ("(no answer to get)");
        printf ("\n");
    }
    if (got)
        client_reply_close (&get);
    return EXIT_ACCEPTED;
}
