/*  cluster_stats.c - the stats of every node of a cluster, asked all at
    once. See cluster_stats.h.

    Each client waits for no link (send timeout 0): a request that no link
    takes yet is tried again every POLL_MS until the deadline, so a node
    whose CURVE handshake has not finished gets the time that is left, and
    one that is down costs nothing but its slot in the loop.
*/
#include "cluster_stats.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLL_MS 5 //  pause between rounds over the nodes

typedef enum { NODE_UNSENT, NODE_SENT, NODE_DONE } node_state_t;

struct _cluster_asker_t {
    int count;          //  nodes
    client_t **clients; //  one per node
    char (*names)[CLUSTER_NAME_MAX + 1];
    char (*endpoints)[CLUSTER_ENDPOINT_MAX + 1];
    envelope_t *requests; //  this round's, one per node
    node_state_t *states; //  this round's
};

//  Keeps reply as node's answer: up, with its map if it has one.
static void s_answered (node_stats_t *node, client_reply_t *reply)
{
    node->up = true;
    node->reply = *reply;
    msgpack_unpacked_init (&node->unpacked);
    if (!reply->ok)
        snprintf (node->error, sizeof node->error, "%.12s refused: %s: %s", reply->name,
                  reply->code, reply->reason);
    else if (!(node->stats = map_unpack (&node->unpacked, reply->data, reply->size)))
        snprintf (node->error, sizeof node->error, "%s reply is not a map", reply->name);
}

cluster_asker_t *cluster_asker_new (const char *path, const cluster_t *cluster,
                                    const char *endpoint, char **error)
{
    *error = NULL;
    cluster_asker_t *self = calloc (1, sizeof (cluster_asker_t));
    int count = cluster ? cluster_node_count (cluster) : 1;
    if (self) {
        self->count = count;
        self->clients = calloc ((size_t) count, sizeof (client_t *));
        self->names = calloc ((size_t) count, sizeof self->names[0]);
        self->endpoints = calloc ((size_t) count, sizeof self->endpoints[0]);
        self->requests = calloc ((size_t) count, sizeof (envelope_t));
        self->states = calloc ((size_t) count, sizeof (node_state_t));
    }
    if (!self || !self->clients || !self->names || !self->endpoints || !self->requests ||
        !self->states) {
        *error = strdup ("out of memory");
        cluster_asker_destroy (&self);
        return NULL;
    }
    for (int i = 0; i < count; i++) {
        snprintf (self->names[i], sizeof self->names[i], "%s",
                  cluster ? cluster_node_name (cluster, i) : endpoint);
        snprintf (self->endpoints[i], sizeof self->endpoints[i], "%s",
                  cluster ? cluster_node_client (cluster, i) : endpoint);
        self->clients[i] = cluster ? client_new_cluster (path, self->names[i], error)
                           : cluster_connect_problem (endpoint) ? NULL
                                                                : client_new (endpoint);
        if (!self->clients[i]) {
            const char *problem = endpoint ? cluster_connect_problem (endpoint) : NULL;
            if (!*error)
                *error = zsys_sprintf ("'%s' is not a valid endpoint%s%s", endpoint,
                                       problem ? ": " : "", problem ? problem : "");
            cluster_asker_destroy (&self);
            return NULL;
        }
        client_set_send_timeout (self->clients[i], 0);
    }
    return self;
}

void cluster_asker_destroy (cluster_asker_t **self_p)
{
    cluster_asker_t *self = *self_p;
    if (!self)
        return;
    for (int i = 0; self->clients && i < self->count; i++)
        client_destroy (&self->clients[i]);
    free (self->clients);
    free (self->names);
    free (self->endpoints);
    free (self->requests);
    free (self->states);
    free (self);
    *self_p = NULL;
}

int cluster_asker_count (const cluster_asker_t *self)
{
    return self->count;
}

client_t *cluster_asker_client (cluster_asker_t *self, int i)
{
    return self->clients[i];
}

int cluster_asker_ask (cluster_asker_t *self, const char *to, const char *name,
                       const uint8_t *payload, size_t size, const bool *ask, long timeout_ms,
                       node_stats_t *nodes)
{
    int count = self->count, answered = 0;
    bool pending = false;
    for (int i = 0; i < count; i++) {
        memset (&nodes[i], 0, sizeof nodes[i]);
        snprintf (nodes[i].name, sizeof nodes[i].name, "%s", self->names[i]);
        snprintf (nodes[i].endpoint, sizeof nodes[i].endpoint, "%s", self->endpoints[i]);
        self->states[i] = ask && !ask[i] ? NODE_DONE : NODE_UNSENT;
        if (self->states[i] == NODE_DONE)
            snprintf (nodes[i].error, sizeof nodes[i].error, "not asked");
        else
            client_request (&self->requests[i], ENVELOPE_QUERY, NULL, to, name, payload, size);
        pending |= self->states[i] != NODE_DONE;
    }
    int64_t deadline = zclock_mono () + timeout_ms;
    while (pending && zclock_mono () < deadline && !zsys_interrupted) {
        pending = false;
        for (int i = 0; i < count; i++) {
            int sent = self->states[i] == NODE_UNSENT
                           ? client_send (self->clients[i], &self->requests[i])
                           : SHOAL_EINVAL;
            if (sent == 0)
                self->states[i] = NODE_SENT;
            else if (sent == SHOAL_EAUTH) {
                snprintf (nodes[i].error, sizeof nodes[i].error, "refused this client's key");
                nodes[i].refused = true;
                self->states[i] = NODE_DONE;
            }
            client_reply_t reply;
            while (self->states[i] == NODE_SENT && client_recv (self->clients[i], 0, &reply) == 0) {
                if (client_reply_answers (&reply, self->requests[i].id)) {
                    s_answered (&nodes[i], &reply);
                    self->states[i] = NODE_DONE;
                    answered++;
                } else //  an earlier round's, late, or a nil correlation that says ok
                    client_reply_close (&reply);
            }
            pending |= self->states[i] != NODE_DONE;
        }
        if (pending)
            zclock_sleep (POLL_MS);
    }
    for (int i = 0; i < count; i++) {
        const char *wrong = self->states[i] == NODE_UNSENT && self->clients[i]
                                ? client_wrong_key (self->clients[i])
                                : NULL;
        if (wrong)
            snprintf (nodes[i].error, sizeof nodes[i].error,
                      "its key is not the one the cluster file gives it (it ended every CURVE "
                      "handshake at once): after `shoal cluster rekey`, restart it with its new "
                      "node.cert, and use the cluster file of the new epoch");
        else if (self->states[i] != NODE_DONE)
            //  A node killed and one stopped are both silent: the first
            //  takes no connection, the second takes it and says nothing
            //  (until its listen backlog is full: then it takes none: so
            //  "takes no connection", not "nothing listens there"). A
            //  cluster's node asked without its keys ends the handshake:
            //  "nothing listens there", it said of a node that runs.
            snprintf (nodes[i].error, sizeof nodes[i].error, "no answer in %ld ms%s", timeout_ms,
                      !self->clients[i] ? ""
                      : client_handshake_ended (self->clients[i])
                          ? " (it ended the handshake: a cluster's node answers CURVE clients "
                            "alone; use --cluster FILE)"
                      : client_linked (self->clients[i]) ? " (connected: stopped or busy)"
                                                         : " (takes no connection)");
    }
    return answered;
}

int cluster_stats_poll (const char *path, const cluster_t *cluster, long timeout_ms,
                        node_stats_t *nodes, char **error)
{
    cluster_asker_t *asker = cluster_asker_new (path, cluster, NULL, error);
    if (!asker)
        return -1;
    int answered =
        cluster_asker_ask (asker, "node/stats", "stats", NULL, 0, NULL, timeout_ms, nodes);
    cluster_asker_destroy (&asker);
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

//  Whether stats' disk says too little room (into text): less than its
//  store's next start or reopen writes first (a restart, or a reopen
//  after a failed write, is refused then), or no inode left.
static bool s_disk_short (const msgpack_object *stats, char *text, size_t size)
{
    const msgpack_object *disk = stats ? map_find (stats, "disk") : NULL;
    int64_t free_bytes, reopen, inodes = -1;
    if (!disk || map_find_int (disk, "free_bytes", &free_bytes) != 0 ||
        map_find_int (disk, "reopen_bytes", &reopen) != 0)
        return false;
    map_find_int (disk, "free_inodes", &inodes);
    if (inodes == 0)
        snprintf (text, size,
                  "its disk has no inode (file) left: its store cannot write a new "
                  "file, though %" PRId64 " MiB are free",
                  free_bytes >> 20);
    else if (free_bytes < reopen)
        snprintf (text, size,
                  "its disk has %" PRId64 " MiB free, less than the %" PRId64 " MiB its store's "
                  "next start writes first: a restart would be refused; free room on it",
                  free_bytes >> 20, (reopen + (1 << 20) - 1) >> 20);
    else
        return false;
    return true;
}

bool stats_store_failing (const msgpack_object *stats, char *text, size_t size)
{
    int64_t ago = -1;
    char error[512] = "";
    text[0] = 0;
    char damage[512] = "";
    if (stats && map_find_str (stats, "store_damage", damage, sizeof damage) == 0 && damage[0]) {
        snprintf (text, size, "its store is damaged: %s", damage);
        return true;
    }
    if (!stats || map_find_int (stats, "store_failed_ago_ms", &ago) != 0 || ago < 0 ||
        ago >= STATS_STORE_RECENT_MS)
        return s_disk_short (stats, text, size);
    map_find_str (stats, "store_error", error, sizeof error);
    snprintf (text, size, "its store failed a write %.1fs ago: %s", (double) ago / 1000.0, error);
    return true;
}

//  Writes a duration of ms milliseconds briefly ("3d04h", "1h02m", "5m03s",
//  "12s") into text.
void cluster_stats_duration (int64_t ms, char *text, size_t size)
{
    int64_t seconds = ms / 1000;
    if (seconds >= 86400)
        snprintf (text, size, "%" PRId64 "d%02" PRId64 "h", seconds / 86400,
                  seconds % 86400 / 3600);
    else if (seconds >= 3600)
        snprintf (text, size, "%" PRId64 "h%02" PRId64 "m", seconds / 3600, seconds % 3600 / 60);
    else if (seconds >= 60)
        snprintf (text, size, "%" PRId64 "m%02" PRId64 "s", seconds / 60, seconds % 60);
    else
        snprintf (text, size, "%" PRId64 "s", seconds);
}

//  Counts the links of a node's "peers" map (name -> bool up): how many,
//  and how many up; lists the names of those down in down (size bytes).
//  Returns false if stats has no such map.
bool cluster_stats_peers (const msgpack_object *stats, int *total, int *up, char *down, size_t size)
{
    const msgpack_object *peers = map_find (stats, "peers");
    *total = *up = 0;
    down[0] = 0;
    if (!peers || peers->type != MSGPACK_OBJECT_MAP)
        return false;
    for (uint32_t i = 0; i < peers->via.map.size; i++) {
        const msgpack_object_kv *kv = &peers->via.map.ptr[i];
        (*total)++;
        if (kv->val.type == MSGPACK_OBJECT_BOOLEAN && kv->val.via.boolean)
            (*up)++;
        else if (kv->key.type == MSGPACK_OBJECT_STR) {
            size_t used = strlen (down);
            snprintf (down + used, size - used, "%s%.*s", used ? "," : "",
                      (int) kv->key.via.str.size, kv->key.via.str.ptr);
        }
    }
    return true;
}

//  Lists in text (size bytes) the peers whose link to node brought it
//  nothing lately ("peers_heard" false) though node's link to them is up:
//  "not heard from n1 for 6s: the link n1->n2 is down". A peer node cannot
//  reach is left to "cannot reach". Empty if none, or from a node older
//  than "peers_heard".
static void s_silent_peers (const msgpack_object *stats, const char *node, char *text, size_t size)
{
    const msgpack_object *heard = map_find (stats, "peers_heard");
    const msgpack_object *links = map_find (stats, "peers");
    const msgpack_object *silent = map_find (stats, "peers_silent_ms");
    text[0] = 0;
    for (uint32_t i = 0; heard && heard->type == MSGPACK_OBJECT_MAP && i < heard->via.map.size;
         i++) {
        const msgpack_object_kv *kv = &heard->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR ||
            (kv->val.type == MSGPACK_OBJECT_BOOLEAN && kv->val.via.boolean))
            continue;
        char name[CLUSTER_NAME_MAX + 1], ago[24] = "?";
        snprintf (name, sizeof name, "%.*s", (int) kv->key.via.str.size, kv->key.via.str.ptr);
        const msgpack_object *up = map_find (links, name);
        if (!up || up->type != MSGPACK_OBJECT_BOOLEAN || !up->via.boolean)
            continue;
        int64_t ms;
        if (map_find_int (silent, name, &ms) == 0)
            cluster_stats_duration (ms, ago, sizeof ago);
        size_t used = strlen (text);
        snprintf (text + used, size - used, "%snot heard from %s for %s: the link %s->%s is down",
                  used ? "; " : "", name, ago, name, node);
    }
}

//  Says in note (size bytes) what is wrong with node's answer, if
//  anything: why it is down, that it is another node or runs another map,
//  which peers it cannot reach, which cannot reach it.
//  True if the array types holds the string name (len bytes).
static bool s_has_type (const msgpack_object *types, const char *name, uint32_t len)
{
    for (uint32_t i = 0; i < types->via.array.size; i++) {
        const msgpack_object *type = &types->via.array.ptr[i];
        if (type->type == MSGPACK_OBJECT_STR && type->via.str.size == len &&
            memcmp (type->via.str.ptr, name, len) == 0)
            return true;
    }
    return false;
}

//  Lists in text (size bytes) the actor types that another node of all
//  (count answers) registers and node does not ("counter, item"): a node
//  started without a module the others load refuses their commands. Empty
//  if none, or from a node older than "types".
static void s_types_missing (const node_stats_t *node, const node_stats_t *all, int count,
                             char *text, size_t size)
{
    text[0] = 0;
    const msgpack_object *mine = node->stats ? map_find (node->stats, "types") : NULL;
    if (!mine || mine->type != MSGPACK_OBJECT_ARRAY)
        return;
    for (int j = 0; all && j < count; j++) {
        const msgpack_object *theirs = all[j].stats ? map_find (all[j].stats, "types") : NULL;
        for (uint32_t i = 0;
             theirs && theirs->type == MSGPACK_OBJECT_ARRAY && i < theirs->via.array.size; i++) {
            const msgpack_object *type = &theirs->via.array.ptr[i];
            if (type->type != MSGPACK_OBJECT_STR ||
                s_has_type (mine, type->via.str.ptr, type->via.str.size))
                continue;
            char name[SHOAL_NAME_MAX + 1];
            snprintf (name, sizeof name, "%.*s", (int) type->via.str.size, type->via.str.ptr);
            bool listed = false; //  by an earlier node: text is "a, b, c"
            size_t len = strlen (name);
            for (const char *at = strstr (text, name); at && !listed; at = strstr (at + 1, name))
                listed = (at == text || at[-1] == ' ') && (at[len] == ',' || at[len] == 0);
            if (listed)
                continue;
            size_t used = strlen (text);
            snprintf (text + used, size - used, "%s%s", used ? ", " : "", name);
        }
    }
}

void stats_held_and_failed (const msgpack_object *stats, char *note, size_t size)
{
    char text[512]; //  the node's reason, whole (a longer one does not read)
    size_t used = strlen (note);
    if (map_find_str (stats, "store_unchecked", text, sizeof text) == 0 && text[0])
        used += (size_t) snprintf (note + used, size - used,
                                   "%stakes no client command yet: no peer has checked its store "
                                   "since its start (--start-hold)",
                                   used ? "; " : "");
    const msgpack_object *failed = map_find (stats, "projections_failed");
    if (!failed || failed->type != MSGPACK_OBJECT_ARRAY || !failed->via.array.size || used >= size)
        return;
    used += (size_t) snprintf (note + used, size - used, "%sprojection%s ", used ? "; " : "",
                               failed->via.array.size == 1 ? "" : "s");
    for (uint32_t i = 0; i < failed->via.array.size && used < size; i++) {
        const msgpack_object *name = &failed->via.array.ptr[i];
        if (name->type == MSGPACK_OBJECT_STR)
            used += (size_t) snprintf (note + used, size - used, "%s%.*s", i ? ", " : "",
                                       (int) name->via.str.size, name->via.str.ptr);
    }
    if (used < size)
        snprintf (note + used, size - used,
                  " stopped by a failed apply (shoal projections says "
                  "why and how to go on)");
}

void cluster_stats_note (const cluster_t *cluster, const node_stats_t *node,
                         const node_stats_t *all, int count, bool with_store, char *note,
                         size_t size)
{
    const msgpack_object *stats = node->stats;
    char text[CLUSTER_NAME_MAX + CLUSTER_KEY_SIZE + 1], down[128], silent[192];
    int64_t epoch;
    int total, up;
    note[0] = 0;
    if (node->error[0])
        snprintf (note, size, "%s", node->error);
    else if (map_find_str (stats, "node", text, sizeof text) == 0 && !streq (text, node->name))
        snprintf (note, size, "answers as node %s", text);
    else if (map_find_int (stats, "epoch", &epoch) == 0 && epoch != cluster_epoch (cluster))
        snprintf (note, size, "runs epoch %" PRId64 ", the file has %" PRId64, epoch,
                  cluster_epoch (cluster));
    else if (map_find_str (stats, "digest", text, sizeof text) == 0 &&
             !streq (text, cluster_digest (cluster)))
        snprintf (note, size, "runs another map (digest %s)", text);
    else if (map_find_str (stats, "store_behind", text, sizeof text) == 0 && text[0])
        snprintf (note, size,
                  "its store is behind what %s saw of it (restored alone from an older backup?): "
                  "refused, and takes no command, until started once with --restored (see its "
                  "log)",
                  text);
    else {
        cluster_stats_peers (stats, &total, &up, down, sizeof down);
        s_silent_peers (stats, node->name, silent, sizeof silent);
        char store[STATS_STORE_TEXT_MAX] = "";
        if (with_store)
            stats_store_failing (stats, store, sizeof store);
        //  A forced resolve its target contradicted (it ran the command
        //  after all): both effects stand, money may be made (the log
        //  names it, explain of the saga shows its $ForcedRan record).
        int64_t forced = 0;
        char contradicted[160] = "";
        if (map_find_int (stats, "forced_answered", &forced) == 0 && forced > 0)
            snprintf (contradicted, sizeof contradicted,
                      "%" PRId64 " command%s ended with resolve --force ran after all (the log "
                      "names %s; shoal check)",
                      forced, forced == 1 ? "" : "s", forced == 1 ? "it" : "them");
        snprintf (note, size, "%s%s%s%s%s%s%s%s", *down ? "cannot reach " : "", down,
                  *down && *silent ? "; " : "", silent, (*down || *silent) && *store ? "; " : "",
                  store, (*down || *silent || *store) && *contradicted ? "; " : "", contradicted);
        char missing[256];
        s_types_missing (node, all, count, missing, sizeof missing);
        stats_held_and_failed (stats, note, size);
        size_t used = strlen (note);
        if (*missing)
            snprintf (note + used, size - used,
                      "%sregisters no type %s, which another node does: started without its "
                      "module? (it refuses their commands)",
                      used ? "; " : "", missing);
    }
}
