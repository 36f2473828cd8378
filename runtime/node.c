/*  node.c - the node: opens the store, loads modules, starts the workers
    and runs the front (see node.h). The front validates every client frame
    before it routes it: a bad frame gets an error reply and is counted,
    and never reaches a worker.
*/
#include "node.h"
#include "envelope.h"
#include "registry.h"
#include "worker.h"

#include <dlfcn.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NODE_MAX_MODULES 32
#define NODE_QUEUE_MAX 50000         //  client messages queued for one worker at most
#define NODE_QUEUE_BYTES (64u << 20) //  and their bytes at most
#define NODE_DEFAULT_RETENTION_MS (7LL * 24 * 3600 * 1000)

struct _shoal_node_t {
    shoal_node_options_t options; //  with defaults filled in
    char *data_dir;               //  owned copy
    char *endpoint;               //  owned copy, resolved after bind
    char prefix[64];              //  inproc endpoint prefix, unique
    journal_t *journal;
    shoal_registry_t *registry;
    void *modules[NODE_MAX_MODULES]; //  dlopen handles
    int module_count;
    worker_config_t config; //  shared with the workers
    worker_stats_t *stats;  //  one per worker
    zactor_t **workers;
    zsock_t *router;     //  clients
    zsock_t *replies;    //  PULL from workers
    zsock_t **push;      //  PUSH to each worker
    zactor_t *janitor;   //  prunes old inbox records
    uint64_t bad_frames; //  client frames refused
    uint64_t busy;       //  client messages refused: a worker's queue was full
};

static char *s_printf (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *text = NULL;
    if (vasprintf (&text, format, args) < 0)
        text = NULL;
    va_end (args);
    return text;
}

shoal_node_t *shoal_node_new (const shoal_node_options_t *options, int *code, char **error)
{
    shoal_node_t *self = calloc (1, sizeof (shoal_node_t));
    if (!self) {
        *code = SHOAL_ENOMEM;
        *error = s_printf ("out of memory");
        return NULL;
    }
    self->options = *options;
    shoal_node_options_t *o = &self->options;
    if (o->workers < 0 || o->shards < 0 || o->idle_ms < 0 || o->snapshot_every < 0 ||
        o->stall_ms < 0 || o->inbox_retention_ms < 0 || o->batch_max < 0) {
        *code = SHOAL_EINVAL;
        *error = s_printf ("negative node option (0 means the default)");
        free (self);
        return NULL;
    }
    if (!o->workers) {
        long cores = sysconf (_SC_NPROCESSORS_ONLN);
        o->workers = cores > 0 ? (int) cores : 1;
    }
    if (!o->shards)
        o->shards = 256;
    if (!o->idle_ms)
        o->idle_ms = 60000;
    if (!o->snapshot_every)
        o->snapshot_every = 100;
    if (!o->stall_ms)
        o->stall_ms = 30000;
    if (!o->inbox_retention_ms)
        o->inbox_retention_ms = NODE_DEFAULT_RETENTION_MS;
    if (!o->batch_max)
        o->batch_max = 4096;
    self->data_dir = strdup (o->data_dir ? o->data_dir : "shoal-data");
    self->endpoint = strdup (o->endpoint ? o->endpoint : "tcp://127.0.0.1:7700");
    snprintf (self->prefix, sizeof self->prefix, "inproc://shoal-%d-%p", (int) getpid (),
              (void *) self);
    self->registry = registry_new ();
    journal_options_t jo = {.sync = !o->async, .cache_bytes = 64 << 20};
    self->journal = journal_open (self->data_dir, &jo, code, error);
    if (!self->data_dir || !self->endpoint || !self->registry || !self->journal) {
        shoal_node_destroy (&self);
        return NULL;
    }
    //  The shard count is fixed when the store is created.
    char *stored = NULL;
    if (journal_meta_get (self->journal, "shards", &stored) == 0) {
        int shards = atoi (stored);
        free (stored);
        if (shards > 0 && options->shards && options->shards != shards) {
            *code = SHOAL_EINVAL;
            *error = s_printf ("the store in %s has %d shards, not the %d asked for (the count "
                               "is fixed when a store is created)",
                               self->data_dir, shards, options->shards);
            shoal_node_destroy (&self);
            return NULL;
        }
        if (shards > 0)
            o->shards = shards;
    } else {
        char text[16];
        snprintf (text, sizeof text, "%d", o->shards);
        if (journal_meta_put (self->journal, "shards", text) != 0) {
            *code = SHOAL_EIO;
            *error = s_printf ("cannot write to the store in %s", self->data_dir);
            shoal_node_destroy (&self);
            return NULL;
        }
    }
    return self;
}

void shoal_node_destroy (shoal_node_t **self_p)
{
    shoal_node_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy (&self->janitor);
    if (self->workers)
        for (int i = 0; i < self->options.workers; i++)
            zactor_destroy (&self->workers[i]);
    free (self->workers);
    if (self->push)
        for (int i = 0; i < self->options.workers; i++)
            zsock_destroy (&self->push[i]);
    free (self->push);
    zsock_destroy (&self->router);
    zsock_destroy (&self->replies);
    journal_destroy (&self->journal);
    registry_destroy (&self->registry);
    for (int i = 0; i < self->module_count; i++)
        dlclose (self->modules[i]);
    free (self->stats);
    free (self->data_dir);
    free (self->endpoint);
    free (self);
    *self_p = NULL;
}

shoal_registry_t *shoal_node_registry (shoal_node_t *self)
{
    return self->registry;
}

int shoal_node_load_module (shoal_node_t *self, const char *path, char **error)
{
    if (self->module_count == NODE_MAX_MODULES) {
        *error = s_printf ("too many modules (at most %d)", NODE_MAX_MODULES);
        return SHOAL_EMODULE;
    }
    if (self->workers) {
        *error = s_printf ("cannot load module %s: the node has started", path);
        return SHOAL_EMODULE;
    }
    void *handle = dlopen (path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        *error = s_printf ("cannot load module %s: %s", path, dlerror ());
        return SHOAL_EMODULE;
    }
    shoal_module_init_fn *init = (shoal_module_init_fn *) dlsym (handle, SHOAL_MODULE_ENTRY);
    if (!init) {
        *error = s_printf ("module %s has no %s function", path, SHOAL_MODULE_ENTRY);
        dlclose (handle);
        return SHOAL_EMODULE;
    }
    size_t types = registry_count (self->registry);
    int rc = init (self->registry);
    if (rc != 0) {
        *error = s_printf ("module %s failed to start: %s", path, shoal_strerror (rc));
        registry_truncate (self->registry, types); //  their structs go with dlclose
        dlclose (handle);
        return SHOAL_EMODULE;
    }
    self->modules[self->module_count++] = handle;
    return 0;
}

//  The janitor thread: every tenth of the retention (at least every
//  500 ms, at most hourly) deletes the inbox records older than the
//  retention. It reads the node's config, which outlives it.
static void s_janitor (zsock_t *pipe, void *arg)
{
    const worker_config_t *config = arg;
    zsock_signal (pipe, 0);
    int64_t interval = config->retention_ms / 10;
    interval = interval < 500 ? 500 : interval > 3600000 ? 3600000 : interval;
    zpoller_t *poller = zpoller_new (pipe, NULL);
    while (true) {
        void *which = zpoller_wait (poller, (int) interval);
        if (which == pipe) {
            char *command = zstr_recv (pipe);
            bool term = !command || streq (command, "$TERM");
            zstr_free (&command);
            if (term)
                break;
        } else if (zpoller_terminated (poller))
            break;
        //  The margin keeps a record a little past the retention, so a
        //  command at the boundary is refused as expired, never re-run.
        int64_t margin = config->retention_ms / 2 < 60000 ? config->retention_ms / 2 : 60000;
        int64_t pruned =
            journal_inbox_prune (config->journal, zclock_time () - config->retention_ms - margin);
        if (pruned > 0)
            config->stats[0].pruned += (uint64_t) pruned;
    }
    zpoller_destroy (&poller);
}

static zsock_t *s_socket (int type, int hwm)
{
    zsock_t *socket = zsock_new (type);
    if (socket) {
        zsock_set_sndhwm (socket, hwm);
        zsock_set_rcvhwm (socket, hwm);
        zsock_set_linger (socket, 0);
    }
    return socket;
}

int shoal_node_start (shoal_node_t *self, char **error)
{
    int n = self->options.workers;
    self->stats = calloc ((size_t) n, sizeof (worker_stats_t));
    self->workers = calloc ((size_t) n, sizeof (zactor_t *));
    self->push = calloc ((size_t) n, sizeof (zsock_t *));
    self->replies = s_socket (ZMQ_PULL, 0);
    self->router = s_socket (ZMQ_ROUTER, 100000);
    //  A frame a little too big gets a bad_frame reply; a far bigger one is
    //  not even read: ZeroMQ drops the connection that sends it.
    if (self->router)
        zsock_set_maxmsgsize (self->router, 4 * ENVELOPE_MAX_SIZE);
    if (!self->stats || !self->workers || !self->push || !self->replies || !self->router) {
        *error = s_printf ("out of memory");
        return SHOAL_ENOMEM;
    }
    if (zsock_bind (self->replies, "%s-front", self->prefix) != 0) {
        *error = s_printf ("cannot bind %s-front", self->prefix);
        return SHOAL_ENET;
    }
    self->config = (worker_config_t){
        .journal = self->journal,
        .registry = self->registry,
        .prefix = self->prefix,
        .workers = n,
        .shards = (uint32_t) self->options.shards,
        .idle_ms = self->options.idle_ms,
        .snapshot_every = self->options.snapshot_every,
        .retention_ms = self->options.inbox_retention_ms,
        .stall_ms = self->options.stall_ms,
        .batch_max = self->options.batch_max,
        .stats = self->stats,
    };
    for (int i = 0; i < n; i++) {
        self->workers[i] = worker_new (&self->config, i);
        if (!self->workers[i]) {
            *error = s_printf ("worker %d could not start", i);
            return SHOAL_EIO;
        }
    }
    self->janitor = zactor_new (s_janitor, &self->config);
    for (int i = 0; i < n; i++) {
        //  Bounded: past NODE_QUEUE_MAX waiting commands a client is told
        //  "busy" instead of growing the node's memory without limit.
        self->push[i] = s_socket (ZMQ_PUSH, NODE_QUEUE_MAX);
        if (!self->push[i] || zsock_connect (self->push[i], "%s-w%d", self->prefix, i) != 0) {
            *error = s_printf ("cannot reach worker %d", i);
            return SHOAL_ENET;
        }
    }
    if (zsock_bind (self->router, "%s", self->endpoint) == -1) {
        *error = s_printf ("cannot listen on %s: %s", self->endpoint, zmq_strerror (zmq_errno ()));
        return SHOAL_ENET;
    }
    char *bound = zsock_last_endpoint (self->router);
    if (bound) {
        free (self->endpoint);
        self->endpoint = strdup (bound);
        zstr_free (&bound);
    }
    return 0;
}

const char *shoal_node_endpoint (const shoal_node_t *self)
{
    return self->endpoint;
}

int shoal_node_shards (const shoal_node_t *self)
{
    return self->options.shards;
}

int shoal_node_workers (const shoal_node_t *self)
{
    return self->options.workers;
}

//  Peak resident set of this process in KiB (VmHWM), 0 if unknown.
static long s_peak_rss_kb (void)
{
    FILE *file = fopen ("/proc/self/status", "r");
    long kb = 0;
    char line[256];
    while (file && fgets (line, sizeof line, file))
        if (strncmp (line, "VmHWM:", 6) == 0)
            kb = atol (line + 6);
    if (file)
        fclose (file);
    return kb;
}

//  Sends a reply frame to a client. payload is borrowed.
static void s_reply (shoal_node_t *self, zmq_msg_t *identity, const envelope_t *request,
                     const uint8_t *payload, size_t size)
{
    envelope_t reply = {0};
    reply.kind = ENVELOPE_REPLY;
    envelope_new_id (reply.id);
    if (request) {
        memcpy (reply.correlation, request->id, ENVELOPE_ID_SIZE);
        strcpy (reply.from, request->to);
        strcpy (reply.name, request->name);
    } else
        strcpy (reply.name, "error");
    reply.payload = payload;
    reply.payload_size = size;
    reply.created = zclock_time ();
    uint8_t *frame;
    size_t frame_size;
    if (envelope_encode (&reply, &frame, &frame_size) != 0)
        return;
    void *router = zsock_resolve (self->router);
    zmq_send (router, zmq_msg_data (identity), zmq_msg_size (identity), ZMQ_SNDMORE);
    zmq_send (router, frame, frame_size, 0);
    free (frame);
}

static void s_reject (shoal_node_t *self, zmq_msg_t *identity, const envelope_t *request,
                      const char *code, const char *reason)
{
    uint8_t *payload;
    size_t size;
    if (envelope_reply_encode (false, code, reason, NULL, 0, &payload, &size) == 0) {
        s_reply (self, identity, request, payload, size);
        free (payload);
    }
}

//  The "stats" query, answered by the front from the workers' counters.
static void s_stats (shoal_node_t *self, zmq_msg_t *identity, const envelope_t *request)
{
    uint64_t sum[sizeof (worker_stats_t) / sizeof (atomic_uint_fast64_t)] = {0};
    size_t fields = sizeof sum / sizeof sum[0];
    for (int w = 0; w < self->options.workers; w++) {
        atomic_uint_fast64_t *counters = (atomic_uint_fast64_t *) &self->stats[w];
        for (size_t i = 0; i < fields; i++)
            sum[i] += atomic_load (&counters[i]);
    }
    static const char *names[] = {
        "messages", "accepted", "rejected", "duplicates",          "events",       "commits",
        "records",  "failures", "resends",  "activations",         "passivations", "active",
        "pending",  "expired",  "pruned",   "bad_internal_frames", "queued_bytes"};
    _Static_assert(sizeof names / sizeof names[0] ==
                       sizeof (worker_stats_t) / sizeof (atomic_uint_fast64_t),
                   "a name for every counter");
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, fields + 5);
    for (size_t i = 0; i < fields; i++) {
        msgpack_pack_str_with_body (&pk, names[i], strlen (names[i]));
        msgpack_pack_uint64 (&pk, sum[i]);
    }
    msgpack_pack_str_with_body (&pk, "bad_frames", 10);
    msgpack_pack_uint64 (&pk, self->bad_frames);
    msgpack_pack_str_with_body (&pk, "busy", 4);
    msgpack_pack_uint64 (&pk, self->busy);
    msgpack_pack_str_with_body (&pk, "workers", 7);
    msgpack_pack_int (&pk, self->options.workers);
    msgpack_pack_str_with_body (&pk, "shards", 6);
    msgpack_pack_int (&pk, self->options.shards);
    msgpack_pack_str_with_body (&pk, "peak_rss_kb", 11);
    msgpack_pack_long (&pk, s_peak_rss_kb ());
    uint8_t *payload;
    size_t size;
    if (envelope_reply_encode (true, NULL, NULL, (const uint8_t *) buffer.data, buffer.size,
                               &payload, &size) == 0) {
        s_reply (self, identity, request, payload, size);
        free (payload);
    }
    msgpack_sbuffer_destroy (&buffer);
}

//  One client message: [identity, frame]. parts counts every frame that
//  came; anything but two is refused.
static void s_on_client (shoal_node_t *self, zmq_msg_t *identity, zmq_msg_t *frame, int parts)
{
    if (parts != 2) {
        self->bad_frames++;
        s_reject (self, identity, NULL, "bad_frame", "expected one frame per message");
        return;
    }
    envelope_t envelope;
    int rc = envelope_decode (&envelope, zmq_msg_data (frame), zmq_msg_size (frame));
    if (rc != 0) {
        self->bad_frames++;
        s_reject (self, identity, NULL, "bad_frame", shoal_strerror (rc));
        return;
    }
    if (envelope.kind == ENVELOPE_QUERY && streq (envelope.name, "stats")) {
        s_stats (self, identity, &envelope);
        return;
    }
    if (envelope.kind != ENVELOPE_COMMAND && envelope.kind != ENVELOPE_QUERY) {
        self->bad_frames++;
        s_reject (self, identity, &envelope, "bad_kind", "clients send commands and queries");
        return;
    }
    //  A handler may trust shoal_msg_from: a client cannot speak for an actor.
    if (envelope.from[0]) {
        self->bad_frames++;
        s_reject (self, identity, &envelope, "bad_from",
                  "a client's message must have an empty from");
        return;
    }
    //  Forwarded as they came: zmq_msg_send moves the buffers, no copy.
    //  The queue is bounded in messages (the socket's HWM) and in bytes.
    int index = worker_of (&self->config, envelope.to);
    size_t size = zmq_msg_size (frame);
    void *worker = zsock_resolve (self->push[index]);
    if (self->stats[index].queued_bytes + size > NODE_QUEUE_BYTES ||
        zmq_msg_send (identity, worker, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1) {
        self->busy++;
        s_reject (self, identity, &envelope, "busy", "the node is overloaded; retry later");
        return;
    }
    self->stats[index].queued_bytes += size;
    zmq_msg_send (frame, worker, 0);
}

//  Receives one whole client message without blocking. Returns false when
//  none is waiting.
static bool s_recv_client (shoal_node_t *self)
{
    void *router = zsock_resolve (self->router);
    zmq_msg_t part;
    zmq_msg_init (&part);
    if (zmq_msg_recv (&part, router, ZMQ_DONTWAIT) == -1) {
        zmq_msg_close (&part);
        return false;
    }
    zmq_msg_t identity, frame;
    zmq_msg_init (&identity);
    zmq_msg_init (&frame);
    zmq_msg_move (&identity, &part);
    int parts = 1;
    bool more = zmq_msg_more (&identity);
    while (more && zmq_msg_recv (&part, router, 0) != -1) {
        more = zmq_msg_more (&part);
        if (++parts == 2)
            zmq_msg_move (&frame, &part);
    }
    zmq_msg_close (&part);
    s_on_client (self, &identity, &frame, parts);
    zmq_msg_close (&identity);
    zmq_msg_close (&frame);
    return true;
}

int shoal_node_run (shoal_node_t *self)
{
    zmq_pollitem_t items[] = {{zsock_resolve (self->router), 0, ZMQ_POLLIN, 0},
                              {zsock_resolve (self->replies), 0, ZMQ_POLLIN, 0}};
    void *router = zsock_resolve (self->router);
    void *replies = zsock_resolve (self->replies);
    while (!zsys_interrupted) {
        int rc = zmq_poll (items, 2, 500);
        if (rc == -1) {
            if (zmq_errno () == EINTR)
                continue;
            break;
        }
        //  Replies first, so a busy client cannot starve them.
        for (int n = 0; n < 4096 && (items[1].revents & ZMQ_POLLIN); n++) {
            zmq_msg_t part;
            zmq_msg_init (&part);
            if (zmq_msg_recv (&part, replies, ZMQ_DONTWAIT) == -1) {
                zmq_msg_close (&part);
                break;
            }
            bool more;
            do {
                more = zmq_msg_more (&part);
                zmq_msg_send (&part, router, more ? ZMQ_SNDMORE : 0);
                if (more)
                    zmq_msg_recv (&part, replies, 0);
            } while (more);
            zmq_msg_close (&part);
        }
        for (int n = 0; n < 4096 && (items[0].revents & ZMQ_POLLIN); n++)
            if (!s_recv_client (self))
                break;
    }
    return 0;
}
