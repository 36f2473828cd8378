/*  top_sample.c - what `shoal top` shows, read from the nodes. See
    top_sample.h.
*/
#include "top_sample.h"
#include "cluster_stats.h"
#include "json.h"
#include "shard.h"
#include "wire_int.h"

#include <czmq.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct _top_t {
    cluster_t *cluster;     //  the map, NULL for one endpoint
    cluster_asker_t *asker; //  a client per node
    long timeout_ms;        //  a query's wait at most
    char title[CLUSTER_NAME_MAX + CLUSTER_ENDPOINT_MAX + 16];
    int count;                   //  nodes
    top_node_t *nodes;           //  count of them
    node_stats_t *answers;       //  count of them: scratch for each query
    double history[TOP_HISTORY]; //  ring of cluster commands/s
    int history_len, history_next;
    double commands_ps;     //  the last sample's
    bool stalled_known;     //  pending was asked once
    top_stalled_t *stalled; //  rows, most stalled first
    int stalled_count, stalled_cap;
    int64_t stalled_more; //  stalled rows the nodes left out (past TOP_STALLED_MAX each)
    int stalled_nodes;    //  nodes that answered the last pending query
    top_busy_t busiest[TOP_BUSIEST_MAX];
    int busiest_count;
};

top_t *top_new (const char *cluster_path, const char *endpoint, long timeout_ms, char **error)
{
    *error = NULL;
    top_t *self = calloc (1, sizeof (top_t));
    if (!self) {
        *error = strdup ("out of memory");
        return NULL;
    }
    self->timeout_ms = timeout_ms;
    if (cluster_path && !(self->cluster = cluster_load (cluster_path, error)))
        goto fail;
    if (!(self->asker = cluster_asker_new (cluster_path, self->cluster, endpoint, error)))
        goto fail;
    self->count = cluster_asker_count (self->asker);
    self->nodes = calloc ((size_t) self->count, sizeof (top_node_t));
    self->answers = calloc ((size_t) self->count, sizeof (node_stats_t));
    if (!self->nodes || !self->answers) {
        *error = strdup ("out of memory");
        goto fail;
    }
    for (int i = 0; i < self->count; i++) {
        snprintf (self->nodes[i].name, sizeof self->nodes[i].name, "%s",
                  self->cluster ? cluster_node_name (self->cluster, i) : endpoint);
        snprintf (self->nodes[i].endpoint, sizeof self->nodes[i].endpoint, "%s",
                  self->cluster ? cluster_node_client (self->cluster, i) : endpoint);
        snprintf (self->nodes[i].reason, sizeof self->nodes[i].reason, "not asked yet");
    }
    if (self->cluster)
        snprintf (self->title, sizeof self->title, "cluster %s", cluster_name (self->cluster));
    else
        snprintf (self->title, sizeof self->title, "node %s", endpoint);
    return self;
fail:
    if (!*error)
        *error = strdup ("out of memory");
    top_destroy (&self);
    return NULL;
}

void top_destroy (top_t **self_p)
{
    top_t *self = *self_p;
    if (!self)
        return;
    cluster_asker_destroy (&self->asker);
    cluster_destroy (&self->cluster);
    free (self->nodes);
    free (self->answers);
    free (self->stalled);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  Stats

static uint64_t s_uint (const msgpack_object *map, const char *key)
{
    int64_t value = 0;
    map_find_int (map, key, &value);
    return value > 0 ? (uint64_t) value : 0;
}

//  Reads an array of up to max integers into values. Returns how many.
static int s_array (const msgpack_object *map, const char *key, uint64_t *values, int max)
{
    const msgpack_object *array = map_find (map, key);
    if (!array || array->type != MSGPACK_OBJECT_ARRAY)
        return 0;
    int n = 0;
    for (; n < max && n < (int) array->via.array.size; n++) {
        const msgpack_object *o = &array->via.array.ptr[n];
        values[n] = o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? o->via.u64 : 0;
    }
    return n;
}

//  The p99 of the commits between two readings of the buckets, into node.
static void s_p99 (top_node_t *node, const top_counters_t *was, const top_counters_t *now)
{
    uint64_t delta[TOP_BUCKETS], total = 0;
    for (int b = 0; b < TOP_BUCKETS; b++) {
        delta[b] = now->buckets[b] >= was->buckets[b] ? now->buckets[b] - was->buckets[b] : 0;
        total = wire_uadd (total, delta[b]);
    }
    node->p99_ms = -1;
    node->p99_above = false;
    if (total == 0)
        return;
    double rank = 0.99 * (double) total, seen = 0;
    for (int b = 0; b < TOP_BUCKETS; b++) {
        if (seen + (double) delta[b] < rank) {
            seen += (double) delta[b];
            continue;
        }
        if (b == TOP_BUCKETS - 1) { //  +Inf: say "above the last bound"
            node->p99_ms = (double) now->bounds[TOP_BUCKETS - 2] / 1e6;
            node->p99_above = true;
            return;
        }
        double lower = b ? (double) now->bounds[b - 1] : 0, upper = (double) now->bounds[b];
        double within = delta[b] ? (rank - seen) / (double) delta[b] : 1;
        node->p99_ms = (lower + (upper - lower) * within) / 1e6;
        return;
    }
}

//  The thread that used the most CPU between two readings, into node.
static void s_busy_thread (top_node_t *node, const top_counters_t *was, const top_counters_t *now,
                           double seconds)
{
    node->busy_thread[0] = 0;
    node->busy_thread_pct = 0;
    for (int i = 0; i < now->threads; i++)
        for (int j = 0; j < was->threads; j++)
            if (strcmp (now->thread[i], was->thread[j]) == 0 &&
                now->thread_us[i] >= was->thread_us[j]) {
                double pct = (double) (now->thread_us[i] - was->thread_us[j]) / 1e4 / seconds;
                if (!node->busy_thread[0] || pct > node->busy_thread_pct) {
                    snprintf (node->busy_thread, sizeof node->busy_thread, "%s", now->thread[i]);
                    node->busy_thread_pct = pct;
                }
                break;
            }
}

//  A node's stats answer (map) into its row: gauges, and rates from its
//  last sample when that was of the same run.
static void s_read_stats (top_node_t *node, const msgpack_object *map)
{
    top_counters_t now = {.have = true};
    int64_t uptime = 0;
    map_find_int (map, "uptime_ms", &uptime);
    now.uptime_ms = uptime;
    now.commands = s_uint (map, "accepted") + s_uint (map, "rejected");
    now.replies = s_uint (map, "replies");
    now.commits = s_uint (map, "commits");
    now.records = s_uint (map, "records");
    const msgpack_object *latency = map_find (map, "commit_latency");
    if (latency && latency->type == MSGPACK_OBJECT_MAP) {
        s_array (latency, "counts", now.buckets, TOP_BUCKETS);
        s_array (latency, "le_ns", now.bounds, TOP_BUCKETS - 1);
    }
    const msgpack_object *threads = map_find (map, "threads_cpu_us");
    for (uint32_t t = 0; threads && threads->type == MSGPACK_OBJECT_MAP &&
                         t < threads->via.map.size && now.threads < TOP_THREADS_MAX;
         t++) {
        const msgpack_object_kv *kv = &threads->via.map.ptr[t];
        if (kv->key.type != MSGPACK_OBJECT_STR || kv->val.type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            continue;
        size_t len = kv->key.via.str.size < 15 ? kv->key.via.str.size : 15;
        memcpy (now.thread[now.threads], kv->key.via.str.ptr, len);
        now.thread[now.threads][len] = 0;
        now.thread_us[now.threads++] = kv->val.via.u64;
    }
    uint64_t errors = wire_uadd (wire_uadd (s_uint (map, "bad_frames"), s_uint (map, "busy")),
                                 wire_uadd (s_uint (map, "unavailable"), s_uint (map, "failures")));
    node->uptime_ms = uptime;
    stats_store_failing (map, node->store, sizeof node->store);
    node->active = (int64_t) s_uint (map, "active");
    node->pending = (int64_t) s_uint (map, "pending");
    node->stalled = (int64_t) s_uint (map, "stalled");
    const top_counters_t *was = &node->last;
    double seconds = (double) wire_sub (now.uptime_ms, was->uptime_ms) / 1000.0;
    node->rated =
        was->have && seconds > 0 && now.commands >= was->commands && now.commits >= was->commits;
    if (node->rated) {
        node->commands_ps = (double) (now.commands - was->commands) / seconds;
        node->steps_ps =
            now.replies >= was->replies ? (double) (now.replies - was->replies) / seconds : 0;
        uint64_t commits = now.commits - was->commits;
        node->commits_ps = (double) commits / seconds;
        node->records_per_commit = commits && now.records >= was->records
                                       ? (double) (now.records - was->records) / (double) commits
                                       : 0;
        node->errors_ps = errors >= (uint64_t) node->errors
                              ? (double) (errors - (uint64_t) node->errors) / seconds
                              : 0;
        s_p99 (node, was, &now);
        s_busy_thread (node, was, &now, seconds);
    }
    node->errors = wire_int64 (errors);
    node->last = now;
}

//  Why node i is down: what the query said, and what its peers see.
static void s_reason (top_t *self, int i, const char *error)
{
    top_node_t *node = &self->nodes[i];
    char seen[256] = "";
    size_t used = 0;
    int up = 0, down = 0;
    for (int j = 0; self->cluster && j < self->count; j++) {
        if (j == i || !self->answers[j].stats)
            continue;
        const msgpack_object *peers = map_find (self->answers[j].stats, "peers");
        const msgpack_object *link = map_find (peers, node->name);
        if (!link || link->type != MSGPACK_OBJECT_BOOLEAN)
            continue;
        if (link->via.boolean)
            up++;
        else if (used < sizeof seen) {
            used += (size_t) snprintf (seen + used, sizeof seen - used, "%s%s", down ? ", " : "",
                                       self->nodes[j].name);
            down++;
        }
    }
    if (down)
        snprintf (node->reason, sizeof node->reason, "%s; %s %s its link down", error, seen,
                  down == 1 ? "sees" : "see");
    else if (up)
        snprintf (node->reason, sizeof node->reason, "%s; its peers see it up", error);
    else
        snprintf (node->reason, sizeof node->reason, "%s", error);
}

static void s_history_add (top_t *self, double value)
{
    self->history[self->history_next] = value;
    self->history_next = (self->history_next + 1) % TOP_HISTORY;
    if (self->history_len < TOP_HISTORY)
        self->history_len++;
}

//  --------------------------------------------------------------------------
//  Stalled commands and busiest actors

static int s_by_age (const void *a, const void *b)
{
    const top_stalled_t *x = a, *y = b;
    return x->age_ms < y->age_ms ? 1 : x->age_ms > y->age_ms ? -1 : strcmp (x->sender, y->sender);
}

static int s_by_rate (const void *a, const void *b)
{
    const top_busy_t *x = a, *y = b;
    return x->per_s < y->per_s ? 1 : x->per_s > y->per_s ? -1 : strcmp (x->address, y->address);
}

//  Adds the stalled rows of node i's pending answer.
static void s_read_stalled (top_t *self, int i, const msgpack_object *map)
{
    int64_t now = zclock_time (), more = 0;
    self->stalled_nodes++;
    map_find_int (map, "now", &now);
    if (map_find_int (map, "truncated", &more) == 0 && more > 0)
        self->stalled_more = wire_add (self->stalled_more, more);
    const msgpack_object *rows = map_find (map, "pending");
    for (uint32_t r = 0; rows && rows->type == MSGPACK_OBJECT_ARRAY && r < rows->via.array.size;
         r++) {
        const msgpack_object *o = &rows->via.array.ptr[r];
        const msgpack_object *stalled = map_find (o, "stalled");
        if (!stalled || stalled->type != MSGPACK_OBJECT_BOOLEAN || !stalled->via.boolean)
            continue;
        if (self->stalled_count == self->stalled_cap) {
            int cap = self->stalled_cap ? 2 * self->stalled_cap : 64;
            top_stalled_t *grown = realloc (self->stalled, (size_t) cap * sizeof *grown);
            if (!grown)
                return;
            self->stalled = grown;
            self->stalled_cap = cap;
        }
        top_stalled_t *row = &self->stalled[self->stalled_count++];
        memset (row, 0, sizeof *row);
        map_find_str (o, "sender", row->sender, sizeof row->sender);
        map_find_str (o, "command", row->command, sizeof row->command);
        map_find_str (o, "target", row->target, sizeof row->target);
        map_find_int (o, "attempts", &row->attempts);
        int64_t first = now;
        map_find_int (o, "first_sent", &first);
        row->age_ms = wire_sub (now, first);
        snprintf (row->node, sizeof row->node, "%s", self->nodes[i].name);
        if (self->cluster) {
            int owner = cluster_owner (self->cluster,
                                       shoal_shard (row->target, cluster_shards (self->cluster)));
            snprintf (row->target_node, sizeof row->target_node, "%s",
                      owner >= 0 ? cluster_node_name (self->cluster, owner) : "?");
        }
    }
}

//  Adds the rows of node i's busiest answer, keeping the busiest.
static void s_read_busiest (top_t *self, int i, const msgpack_object *map)
{
    const msgpack_object *rows = map_find (map, "busiest");
    for (uint32_t r = 0; rows && rows->type == MSGPACK_OBJECT_ARRAY && r < rows->via.array.size;
         r++) {
        const msgpack_object *o = &rows->via.array.ptr[r];
        int64_t messages = 0, error = 0, interval = 0;
        map_find_int (o, "messages", &messages);
        map_find_int (o, "error", &error);
        map_find_int (o, "interval_ms", &interval);
        messages = wire_sub (messages, error); //  what it got at least: an honest rate, never
                                               //  an inflated one
        if (messages <= 0)
            continue;
        top_busy_t row = {.per_s =
                              interval > 0 ? (double) messages * 1000.0 / (double) interval : 0};
        map_find_str (o, "address", row.address, sizeof row.address);
        snprintf (row.node, sizeof row.node, "%s", self->nodes[i].name);
        if (self->busiest_count < TOP_BUSIEST_MAX)
            self->busiest[self->busiest_count++] = row;
        else if (row.per_s > self->busiest[TOP_BUSIEST_MAX - 1].per_s)
            self->busiest[TOP_BUSIEST_MAX - 1] = row;
        else
            continue;
        qsort (self->busiest, (size_t) self->busiest_count, sizeof row, s_by_rate);
    }
}

//  Asks name of the nodes in ask and hands each map that came to read.
static void s_ask (top_t *self, const char *to, const char *name, const uint8_t *payload,
                   size_t size, const bool *ask,
                   void (*read) (top_t *, int, const msgpack_object *))
{
    cluster_asker_ask (self->asker, to, name, payload, size, ask, self->timeout_ms, self->answers);
    for (int i = 0; i < self->count; i++)
        if (self->answers[i].stats)
            read (self, i, self->answers[i].stats);
    cluster_stats_close (self->answers, self->count);
}

void top_sample (top_t *self, bool busiest, bool pending)
{
    bool *up = calloc ((size_t) self->count, sizeof (bool));
    if (!up)
        return;
    cluster_asker_ask (self->asker, "node/stats", "stats", NULL, 0, NULL, self->timeout_ms,
                       self->answers);
    double total = 0;
    bool rated = false;
    for (int i = 0; i < self->count; i++) {
        top_node_t *node = &self->nodes[i];
        const node_stats_t *answer = &self->answers[i];
        node->up = up[i] = answer->stats != NULL;
        node->problem[0] = 0;
        if (node->up) {
            node->reason[0] = 0;
            s_read_stats (node, answer->stats);
            //  What `cluster status` says is wrong with it (another map, a
            //  link down): up, it takes no command all the same (the store
            //  has its own line).
            if (self->cluster)
                cluster_stats_note (self->cluster, answer, self->answers, self->count, false,
                                    node->problem, sizeof node->problem);
            if (!self->cluster) { //  alone: its name is in the map it said, if any
                map_find_str (answer->stats, "node", node->name, sizeof node->name);
                stats_held_and_failed (answer->stats, node->problem, sizeof node->problem);
            }
            if (node->rated) {
                total += node->commands_ps;
                rated = true;
            }
        } else {
            node->rated = false;
            node->last.have = false; //  its next answer starts the rates again
        }
    }
    for (int i = 0; i < self->count; i++)
        if (!self->nodes[i].up)
            s_reason (self, i, self->answers[i].error);
    cluster_stats_close (self->answers, self->count);
    self->commands_ps = total;
    if (rated || self->history_len) //  from the first rates on, a point a sample
        s_history_add (self, total);
    if (busiest) {
        self->busiest_count = 0;
        s_ask (self, "node/busiest", "busiest", NULL, 0, up, s_read_busiest);
    }
    if (pending) {
        msgpack_sbuffer args;
        msgpack_sbuffer_init (&args);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &args, msgpack_sbuffer_write);
        msgpack_pack_map (&pk, 2);
        msgpack_pack_str_with_body (&pk, "stalled", 7);
        msgpack_pack_true (&pk);
        msgpack_pack_str_with_body (&pk, "limit", 5);
        msgpack_pack_int (&pk, TOP_STALLED_MAX);
        self->stalled_count = 0;
        self->stalled_more = 0;
        self->stalled_nodes = 0;
        self->stalled_known = true;
        s_ask (self, "node/pending", "pending", (const uint8_t *) args.data, args.size, up,
               s_read_stalled);
        msgpack_sbuffer_destroy (&args);
        if (self->stalled_count)
            qsort (self->stalled, (size_t) self->stalled_count, sizeof self->stalled[0], s_by_age);
    }
    free (up);
}

//  --------------------------------------------------------------------------
//  Reading the sample

const char *top_title (const top_t *self)
{
    return self->title;
}

int top_node_count (const top_t *self)
{
    return self->count;
}

const top_node_t *top_node (const top_t *self, int index)
{
    return &self->nodes[index];
}

const top_node_t *top_unwell (const top_t *self)
{
    for (int i = 0; i < self->count; i++)
        if (self->nodes[i].up && (self->nodes[i].problem[0] || self->nodes[i].store[0]))
            return &self->nodes[i];
    return NULL;
}

int top_up_count (const top_t *self)
{
    int up = 0;
    for (int i = 0; i < self->count; i++)
        up += self->nodes[i].up;
    return up;
}

const double *top_history (const top_t *self, int *count)
{
    //  Oldest first: rotate a copy (the ring is small).
    static double ordered[TOP_HISTORY];
    int start = (self->history_next - self->history_len + TOP_HISTORY) % TOP_HISTORY;
    for (int k = 0; k < self->history_len; k++)
        ordered[k] = self->history[(start + k) % TOP_HISTORY];
    *count = self->history_len;
    return ordered;
}

double top_commands_ps (const top_t *self)
{
    return self->commands_ps;
}

bool top_stalled_known (const top_t *self)
{
    return self->stalled_known;
}

const top_stalled_t *top_stalled (const top_t *self, int *count)
{
    *count = self->stalled_count;
    return self->stalled;
}

int64_t top_stalled_more (const top_t *self)
{
    return self->stalled_more;
}

int top_stalled_nodes (const top_t *self)
{
    return self->stalled_nodes;
}

const top_busy_t *top_busiest (const top_t *self, int *count)
{
    *count = self->busiest_count;
    return self->busiest;
}

void top_format_uptime (int64_t ms, char *buf, size_t size)
{
    int64_t s = ms / 1000;
    if (s >= 86400)
        snprintf (buf, size, "%lldd%02lldh", (long long) (s / 86400), (long long) (s / 3600 % 24));
    else if (s >= 3600)
        snprintf (buf, size, "%lldh%02lldm", (long long) (s / 3600), (long long) (s / 60 % 60));
    else if (s >= 60)
        snprintf (buf, size, "%lldm%02llds", (long long) (s / 60), (long long) (s % 60));
    else
        snprintf (buf, size, "%llds", (long long) s);
}

void top_format_rate (double value, char *buf, size_t size)
{
    if (value >= 999500)
        snprintf (buf, size, "%.1fM", value / 1e6);
    else if (value >= 9999.5)
        snprintf (buf, size, "%.1fk", value / 1e3);
    else if (value >= 99.95 || value == 0)
        snprintf (buf, size, "%.0f", value);
    else
        snprintf (buf, size, "%.1f", value);
}

void top_format_p99 (const top_node_t *node, char *buf, size_t size)
{
    if (!node->rated || node->p99_ms < 0)
        snprintf (buf, size, "-");
    else if (node->p99_ms >= 1000)
        snprintf (buf, size, "%s%.1fs", node->p99_above ? ">" : "", node->p99_ms / 1000);
    else
        snprintf (buf, size, "%s%.*fms", node->p99_above ? ">" : "", node->p99_ms < 10 ? 2 : 1,
                  node->p99_ms);
}

void top_format_busy_thread (const top_node_t *node, char *buf, size_t size)
{
    if (!node->rated || !node->busy_thread[0])
        snprintf (buf, size, "-");
    else
        snprintf (buf, size, "%s %.0f%%", node->busy_thread, node->busy_thread_pct);
}

//  --------------------------------------------------------------------------
//  --once

static int s_max_int (int a, int b)
{
    return a > b ? a : b;
}

void top_print_text (const top_t *self, FILE *out)
{
    char rate[32];
    top_format_rate (self->commands_ps, rate, sizeof rate);
    fprintf (out, "shoal top: %s, %d of %d nodes up, %s commands/s\n\n", self->title,
             top_up_count (self), self->count, rate);
    //  A node alone is named by its endpoint: the column as wide as the
    //  longest name, so that the rest stays in line.
    int name_w = 10;
    for (int i = 0; i < self->count; i++)
        name_w = s_max_int (name_w, (int) strlen (self->nodes[i].name));
    fprintf (out, "%-*s %-5s %7s %8s %8s %9s %10s %9s %8s %8s %8s %7s  %s\n", name_w, "NODE",
             "STATE", "UPTIME", "CMDS/S", "STEPS/S", "COMMITS/S", "REC/COMMIT", "P99COMMIT",
             "ACTORS", "PENDING", "STALLED", "ERRORS", "BUSIEST THREAD");
    for (int i = 0; i < self->count; i++) {
        const top_node_t *n = &self->nodes[i];
        if (!n->up) {
            fprintf (out, "%-*s %-5s %s\n", name_w, n->name, "down", n->reason);
            continue;
        }
        char up[16], cmd[16], steps[16], commits[16], p99[16];
        top_format_uptime (n->uptime_ms, up, sizeof up);
        top_format_rate (n->commands_ps, cmd, sizeof cmd);
        top_format_rate (n->steps_ps, steps, sizeof steps);
        top_format_rate (n->commits_ps, commits, sizeof commits);
        top_format_p99 (n, p99, sizeof p99);
        char busy[32];
        top_format_busy_thread (n, busy, sizeof busy);
        fprintf (out, "%-*s %-5s %7s %8s %8s %9s %10.1f %9s %8lld %8lld %8lld %7lld  %s\n", name_w,
                 n->name, "up", up, n->rated ? cmd : "-", n->rated ? steps : "-",
                 n->rated ? commits : "-", n->records_per_commit, p99, (long long) n->active,
                 (long long) n->pending, (long long) n->stalled, (long long) n->errors, busy);
        if (n->problem[0])
            fprintf (out, "%-*s   %s\n", name_w, "", n->problem);
        if (n->store[0])
            fprintf (out, "%-*s   %s\n", name_w, "", n->store);
    }
    //  Each column as wide as its longest text, so that a long address
    //  does not push the columns after it out of line.
    int sender_w = 28, command_w = 12, target_w = 28, address_w = 36;
    for (int k = 0; k < self->stalled_count; k++) {
        const top_stalled_t *s = &self->stalled[k];
        sender_w = s_max_int (sender_w, (int) strlen (s->sender));
        command_w = s_max_int (command_w, (int) strlen (s->command));
        target_w = s_max_int (target_w, (int) strlen (s->target));
    }
    for (int k = 0; k < self->busiest_count && k < 10; k++)
        address_w = s_max_int (address_w, (int) strlen (self->busiest[k].address));
    if (self->stalled_nodes) //  else nothing is known: none answered
        fprintf (out, "\nSTALLED (%lld)\n",
                 (long long) wire_add (self->stalled_count, self->stalled_more));
    else
        fprintf (out, "\nSTALLED (no node answered)\n");
    if (self->stalled_count)
        fprintf (out, "%-*s %-*s %-*s %-8s %8s %8s\n", sender_w, "SENDER", command_w, "COMMAND",
                 target_w, "TARGET", "NODE", "ATTEMPTS", "AGE");
    for (int k = 0; k < self->stalled_count; k++) {
        const top_stalled_t *s = &self->stalled[k];
        char age[16];
        top_format_uptime (s->age_ms, age, sizeof age);
        fprintf (out, "%-*s %-*s %-*s %-8s %8lld %8s\n", sender_w, s->sender, command_w, s->command,
                 target_w, s->target, s->target_node[0] ? s->target_node : "-",
                 (long long) s->attempts, age);
    }
    if (self->stalled_more)
        fprintf (out, "... and %lld more (shoal pending --stalled)\n",
                 (long long) self->stalled_more);
    fprintf (out, "\nBUSIEST\n%-*s %10s %s\n", address_w, "ADDRESS", "MSGS/S", "NODE");
    for (int k = 0; k < self->busiest_count && k < 10; k++) {
        top_format_rate (self->busiest[k].per_s, rate, sizeof rate);
        fprintf (out, "%-*s %10s %s\n", address_w, self->busiest[k].address, rate,
                 self->busiest[k].node);
    }
}

static void s_json_str (FILE *out, const char *key, const char *value)
{
    fprintf (out, "\"%s\":", key);
    json_string (out, value, strlen (value));
}

//  A finite number, or null.
static void s_json_num (FILE *out, const char *key, double value, bool known)
{
    if (known && isfinite (value))
        fprintf (out, ",\"%s\":%.3f", key, value);
    else
        fprintf (out, ",\"%s\":null", key);
}

void top_print_json (const top_t *self, FILE *out)
{
    //  ok as the exit: every node answered and none is unwell; else the
    //  first that did not answer, or the first unwell (cluster status's).
    const top_node_t *down = NULL, *unwell = top_unwell (self);
    for (int i = 0; i < self->count && !down; i++)
        if (!self->nodes[i].up)
            down = &self->nodes[i];
    fprintf (out, "{\"ok\":%s,", down || unwell ? "false" : "true");
    if (down || unwell) {
        const top_node_t *first = down ? down : unwell;
        const char *why = down                 ? down->reason
                          : unwell->problem[0] ? unwell->problem
                                               : unwell->store;
        char reason[sizeof first->name + STATS_STORE_TEXT_MAX + 64];
        snprintf (reason, sizeof reason, "%s: %s%s", first->name, why,
                  down && top_up_count (self) + 1 < self->count ? " (and more nodes: see nodes)"
                                                                : "");
        fprintf (out, "\"code\":\"%s\",", down ? "no_answer" : "unwell");
        s_json_str (out, "reason", reason);
        fprintf (out, ",");
    }
    s_json_str (out, "title", self->title);
    fprintf (out, ",\"nodes_up\":%d,\"commands_per_s\":%.3f,\"nodes\":[", top_up_count (self),
             self->commands_ps);
    for (int i = 0; i < self->count; i++) {
        const top_node_t *n = &self->nodes[i];
        fprintf (out, "%s{", i ? "," : "");
        s_json_str (out, "node", n->name);
        fprintf (out, ",");
        s_json_str (out, "endpoint", n->endpoint);
        fprintf (out, ",\"up\":%s", n->up ? "true" : "false");
        if (!n->up) {
            fprintf (out, ",");
            s_json_str (out, "reason", n->reason);
            fprintf (out, "}");
            continue;
        }
        fprintf (out, ",\"uptime_ms\":%lld,", (long long) n->uptime_ms);
        s_json_str (out, "problem", n->problem);
        fprintf (out, ",");
        s_json_str (out, "store", n->store);
        s_json_num (out, "commands_per_s", n->commands_ps, n->rated);
        s_json_num (out, "steps_per_s", n->steps_ps, n->rated);
        s_json_num (out, "commits_per_s", n->commits_ps, n->rated);
        s_json_num (out, "records_per_commit", n->records_per_commit, n->rated);
        s_json_num (out, "p99_commit_ms", n->p99_ms, n->rated && n->p99_ms >= 0);
        fprintf (out, ",\"p99_commit_above\":%s", n->p99_above ? "true" : "false");
        s_json_num (out, "errors_per_s", n->errors_ps, n->rated);
        fprintf (out, ",\"busiest_thread\":");
        if (n->rated && n->busy_thread[0]) {
            fprintf (out, "{");
            s_json_str (out, "name", n->busy_thread);
            fprintf (out, ",\"cpu_percent\":%.1f}", n->busy_thread_pct);
        } else
            fprintf (out, "null");
        fprintf (out, ",\"active\":%lld,\"pending\":%lld,\"stalled\":%lld,\"errors\":%lld}",
                 (long long) n->active, (long long) n->pending, (long long) n->stalled,
                 (long long) n->errors);
    }
    fprintf (out, "],\"stalled\":[");
    for (int k = 0; k < self->stalled_count; k++) {
        const top_stalled_t *s = &self->stalled[k];
        fprintf (out, "%s{", k ? "," : "");
        s_json_str (out, "sender", s->sender);
        fprintf (out, ",");
        s_json_str (out, "command", s->command);
        fprintf (out, ",");
        s_json_str (out, "target", s->target);
        fprintf (out, ",");
        s_json_str (out, "node", s->node);
        if (s->target_node[0]) {
            fprintf (out, ",");
            s_json_str (out, "target_node", s->target_node);
        }
        fprintf (out, ",\"attempts\":%lld,\"age_ms\":%lld}", (long long) s->attempts,
                 (long long) s->age_ms);
    }
    fprintf (out, "],\"stalled_more\":%lld,\"busiest\":[", (long long) self->stalled_more);
    for (int k = 0; k < self->busiest_count; k++) {
        fprintf (out, "%s{", k ? "," : "");
        s_json_str (out, "address", self->busiest[k].address);
        fprintf (out, ",");
        s_json_str (out, "node", self->busiest[k].node);
        fprintf (out, ",\"messages_per_s\":%.3f}", self->busiest[k].per_s);
    }
    fprintf (out, "]}\n");
}
