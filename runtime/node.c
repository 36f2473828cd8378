/*  node.c - the node: opens the store, loads modules, starts the workers,
    the authenticator and the peer links of a cluster, and runs the front
    (see node.h, front.h, peers.h, auth.h).

    A node alone listens without CURVE only where no other machine can
    reach it (loopback, ipc://, inproc://), unless started insecure. A node
    of a cluster takes its endpoints, its shard count and its certificate
    from the cluster file, and its store remembers which node of which
    cluster it is, so that a data directory is never served as another's.
*/
#include "node.h"
#include "auth.h"
#include "cluster.h"
#include "endpoint_lock.h"
#include "envelope.h"
#include "front.h"
#include "janitor.h"
#include "log.h"
#include "metrics.h"
#include "peers.h"
#include "peers_seen.h"
#include "registry.h"
#include "worker.h"
#include "deadletter.h"
#include "turnfile.h"
#include "projector.h"
#include "storemade.h"
#include "modules.h"
#include "node_owner.h"
#include "threadname.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NODE_DEFAULT_RETENTION_MS (7LL * 24 * 3600 * 1000)
#define NODE_DEFAULT_MAX_ACTORS 1000000

struct _shoal_node_t {
    shoal_node_options_t options; //  with defaults filled in
    char *data_dir;               //  owned copy
    char *endpoint;               //  owned copy, resolved after bind
    int endpoint_locks[2];        //  of the ipc:// client and peer endpoints, -1: none
    char prefix[64];              //  inproc endpoint prefix, unique
    journal_t *journal;
    storemade_t *made; //  a store it made, to undo; NULL once started
    shoal_registry_t *registry;
    modules_t modules;          //  the modules loaded (modules.h)
    worker_config_t config;     //  shared with the workers
    worker_outbound_t outbound; //  bytes the workers sent the front, not yet handled
    worker_stats_t *stats;      //  one per worker
    zactor_t **workers;
    zactor_t *janitor;                   //  prunes old inbox records
    atomic_int_fast64_t pruned_below;    //  the janitor's highest cutoff (worker.h)
    cluster_t *cluster;                  //  the map, NULL for a node alone
    int self_node;                       //  our index in it
    zcert_t *cert;                       //  our certificate, NULL for a node alone
    char *clients_dir;                   //  client certificates allowed, owned
    char *operators_dir;                 //  operators' certificates, owned; NULL: none
    const char **peer_keys;              //  the cluster's node keys, for the authenticator
    auth_config_t auth_config;           //  what the authenticator reads
    clientkeys_box_t client_keys;        //  its keys for the front (auth.h)
    atomic_uint_fast64_t refused;        //  connections it refused
    zactor_t *auth;                      //  the ZAP handler
    peers_t *peers;                      //  the links to the other nodes
    front_t *front;                      //  the client endpoint and the routing
    metrics_t *metrics;                  //  the HTTP server of /metrics, NULL when off
    turnfile_t **turn_files;             //  each worker's turn in progress (turnfile.h)
    turnfile_watch_t watch;              //  what the watchdog reads
    turnfile_busy_t projection_busy;     //  the projection thread's apply, watched too
    zactor_t *watchdog;                  //  logs turns past --turn-timeout
    zactor_t *stop_guard;                //  after a stop, exits if a worker will not
    projector_config_t projector_config; //  what the projection thread reads
    projector_gauges_t gauges;           //  its builds, for the metrics
    zactor_t *projector;                 //  the projection thread
};

//  Warns when the data directory, there already, is open to its group or
//  to others: they may read its journal (every event, and the salt of the
//  reactions' ids) and lock its files to keep the node from starting.
//  Directories shoal makes are 0700 (dirsync.h); older ones were 0755.
static void s_warn_open_data_dir (const char *dir)
{
    struct stat st;
    if (stat (dir, &st) == 0 && S_ISDIR (st.st_mode) && (st.st_mode & 077))
        log_warn ("shoal node: data directory %s is mode %04o: other users may read its "
                  "journal or lock its files and keep the node from starting. Run: chmod 700 %s",
                  dir, (unsigned) (st.st_mode & 07777), dir);
}

//  Takes this node's place in options->cluster_file: its name, endpoint,
//  shard count and certificate. Returns 0 or an error with *error set.
static int s_join_cluster (shoal_node_t *self, char **error)
{
    shoal_node_options_t *o = &self->options;
    self->cluster = cluster_load (o->cluster_file, error);
    if (!self->cluster)
        return SHOAL_EINVAL;
    if (!o->name) {
        *error = zsys_sprintf ("--cluster needs --name: which node of %s this is", o->cluster_file);
        return SHOAL_EINVAL;
    }
    self->self_node = cluster_find (self->cluster, o->name);
    if (self->self_node < 0) {
        *error = zsys_sprintf ("%s has no node called %s", o->cluster_file, o->name);
        return SHOAL_EINVAL;
    }
    if (o->endpoint) {
        *error = zsys_sprintf ("--endpoint does not go with --cluster: node %s listens on %s, "
                               "as %s says",
                               o->name, cluster_node_client (self->cluster, self->self_node),
                               o->cluster_file);
        return SHOAL_EINVAL;
    }
    if (o->shards && o->shards != (int) cluster_shards (self->cluster)) {
        *error = zsys_sprintf ("--shards %d does not go with %s, which has %u shards", o->shards,
                               o->cluster_file, cluster_shards (self->cluster));
        return SHOAL_EINVAL;
    }
    o->shards = (int) cluster_shards (self->cluster);
    char *copy = strdup (o->cluster_file);
    char *dir = copy ? dirname (copy) : NULL;
    char *cert_path = dir ? zsys_sprintf ("%s/%s/node.cert", dir, o->name) : NULL;
    self->clients_dir = dir ? zsys_sprintf ("%s/%s/clients", dir, o->name) : NULL;
    self->operators_dir = dir ? zsys_sprintf ("%s/%s/operators", dir, o->name) : NULL;
    if (!self->data_dir && dir)
        self->data_dir = zsys_sprintf ("%s/%s/data", dir, o->name);
    free (copy);
    char *why = NULL;
    struct stat clients;
    self->cert = cert_path ? cluster_cert_load (cert_path, &why) : NULL;
    int rc = 0, operators = 0; //  errno of the operators directory's stat
    if (!self->cert) {
        *error = zsys_sprintf ("cannot load %s and its _secret (node %s's certificate, written by "
                               "`shoal cluster init`): %s",
                               cert_path ? cert_path : "the certificate", o->name,
                               why ? why : "out of memory");
        rc = SHOAL_EINVAL;
    } else if (!streq (zcert_public_txt (self->cert),
                       cluster_node_key (self->cluster, self->self_node))) {
        *error = zsys_sprintf ("%s is not the key that %s names for node %s", cert_path,
                               o->cluster_file, o->name);
        rc = SHOAL_EINVAL;
    } else if (stat (self->clients_dir, &clients) < 0) {
        *error = zsys_sprintf ("no clients directory %s: put there the certificates of the "
                               "clients node %s accepts",
                               self->clients_dir, o->name);
        rc = SHOAL_EINVAL;
    } else if (!S_ISDIR (clients.st_mode)) {
        *error = zsys_sprintf ("%s is not a directory: it holds the certificates of the clients "
                               "node %s accepts",
                               self->clients_dir, o->name);
        rc = SHOAL_EINVAL;
    } else if ((operators = stat (self->operators_dir, &clients) == 0 ? 0 : errno) == 0 &&
               !S_ISDIR (clients.st_mode)) {
        *error = zsys_sprintf ("%s is not a directory: it holds the certificates of node %s's "
                               "operators",
                               self->operators_dir, o->name);
        rc = SHOAL_EINVAL;
    } else if (operators && operators != ENOENT) {
        *error = zsys_sprintf ("cannot read %s (the certificates of node %s's operators): %s",
                               self->operators_dir, o->name, strerror (operators));
        rc = SHOAL_EINVAL;
    }
    //  Without operators/ (a cluster made before operators were told
    //  apart), every client is an operator until it is made: the path is
    //  kept, and each load of the keys looks (clientkeys_load warns).
    zstr_free (&cert_path);
    free (why);
    return rc;
}

//  Takes the locks of the ipc:// endpoints the node will bind (client,
//  and a cluster node's peer endpoint), before anything else is opened:
//  a second node on them is refused and changes nothing (endpoint_lock.h).
//  Returns 0 or an error with *error set.
static int s_lock_endpoints (shoal_node_t *self, char **error)
{
    const char *endpoints[2] = {
        self->endpoint,
        self->cluster ? cluster_node_peer_bind (self->cluster, self->self_node) : NULL};
    for (int i = 0; i < 2; i++) {
        int rc = endpoints[i] ? endpoint_lock (endpoints[i], &self->endpoint_locks[i], error) : 0;
        if (rc)
            return rc;
    }
    return 0;
}

//  Refuses an option for no module loaded, which would be dropped
//  silently: a misspelt --module-opt. Returns 0, or SHOAL_EINVAL with
//  *error set.
static int s_options_orphan (shoal_node_t *self, char **error)
{
    const char *module, *key;
    if (!registry_option_orphan (self->registry, &module, &key))
        return 0;
    *error = zsys_sprintf ("--module-opt %s.%s: no module %s is loaded (a module's name is its "
                           "file's base name without .so, or its name in the config file)",
                           module, key, module);
    return SHOAL_EINVAL;
}

//  Runs the options' before_open (the registrations and modules), and
//  refuses an option for no module it loaded. Returns 0, or its error
//  with *error set.
static int s_before_open (shoal_node_t *self, char **error)
{
    *error = NULL;
    int rc = self->options.before_open (self, self->options.before_open_arg, error);
    if (rc && !*error)
        *error = strdup (shoal_strerror (rc));
    return rc ? rc : s_options_orphan (self, error);
}

shoal_node_t *shoal_node_new (const shoal_node_options_t *options, int *code, char **error)
{
    shoal_node_t *self = calloc (1, sizeof (shoal_node_t));
    if (!self) {
        *code = SHOAL_ENOMEM;
        *error = zsys_sprintf ("out of memory");
        return NULL;
    }
    pthread_mutex_init (&self->gauges.lock, NULL);
    self->endpoint_locks[0] = self->endpoint_locks[1] = -1;
    self->options = *options;
    shoal_node_options_t *o = &self->options;
    if (o->workers < 0 || o->shards < 0 || o->idle_ms < 0 || o->snapshot_every < 0 ||
        o->stall_ms < 0 || o->inbox_retention_ms < 0 || o->batch_max < 0 || o->max_actors < 0) {
        *code = SHOAL_EINVAL;
        *error = zsys_sprintf ("negative node option (0 means the default)");
        free (self);
        return NULL;
    }
    if (!o->workers) {
        long cores = sysconf (_SC_NPROCESSORS_ONLN);
        o->workers = cores > 0 ? (int) cores : 1;
    }
    if (!o->idle_ms)
        o->idle_ms = 60000;
    if (!o->snapshot_every)
        o->snapshot_every = 100;
    if (!o->stall_ms)
        o->stall_ms = 30000;
    if (o->turn_timeout_ms <= 0)
        o->turn_timeout_ms = 5000;
    if (o->stop_grace_ms <= 0)
        o->stop_grace_ms = 5000;
    if (!o->inbox_retention_ms)
        o->inbox_retention_ms = NODE_DEFAULT_RETENTION_MS;
    if (!o->batch_max)
        o->batch_max = 4096;
    if (!o->max_actors)
        o->max_actors = NODE_DEFAULT_MAX_ACTORS;
    if (o->data_dir)
        self->data_dir = strdup (o->data_dir);
    if (o->cluster_file) {
        *code = s_join_cluster (self, error);
        if (*code) {
            shoal_node_destroy (&self);
            return NULL;
        }
        self->endpoint = strdup (cluster_node_client (self->cluster, self->self_node));
    } else {
        self->endpoint = strdup (o->endpoint ? o->endpoint : "tcp://127.0.0.1:7700");
        const char *problem = self->endpoint ? cluster_endpoint_problem (self->endpoint) : NULL;
        if (problem) {
            *code = SHOAL_EINVAL;
            *error = zsys_sprintf ("--endpoint %s is not an endpoint: %s", self->endpoint, problem);
            shoal_node_destroy (&self);
            return NULL;
        }
        char *refusal = self->endpoint ? shoal_node_bind_problem (self->endpoint) : NULL;
        if (!refusal && self->endpoint)
            refusal = shoal_node_listen_refusal (self->endpoint, o->insecure);
        if (refusal) {
            *code = SHOAL_EINVAL;
            *error = refusal;
            shoal_node_destroy (&self);
            return NULL;
        }
    }
    if (!self->data_dir)
        self->data_dir = strdup ("shoal-data");
    snprintf (self->prefix, sizeof self->prefix, "inproc://shoal-%d-%p", (int) getpid (),
              (void *) self);
    self->registry = registry_new ();
    if (!self->data_dir || !self->endpoint || !self->registry) {
        *code = SHOAL_ENOMEM;
        *error = strdup ("out of memory");
        shoal_node_destroy (&self);
        return NULL;
    }
    //  The files beside the store (turn-N, projection-apply, SYNCED, ...)
    //  are named in PATH_MAX bytes: a longer path would cut their names.
    if (strlen (self->data_dir) > SHOAL_DATA_DIR_MAX) {
        *code = SHOAL_EINVAL;
        *error = zsys_sprintf ("the data directory's path is %zu bytes, past %d: give a shorter "
                               "one (a symbolic link to it will do)",
                               strlen (self->data_dir), SHOAL_DATA_DIR_MAX);
        shoal_node_destroy (&self);
        return NULL;
    }
    //  Another user's store: the files it writes would be this user's.
    *code = node_owner_user (self->data_dir, error);
    if (*code) {
        shoal_node_destroy (&self);
        return NULL;
    }
    *code = s_lock_endpoints (self, error);
    if (*code) {
        shoal_node_destroy (&self);
        return NULL;
    }
    //  A store made here is taken back if the start is refused
    //  (shoal_node_discard): bad input must leave no store behind, with a
    //  shard count fixed. Only in a directory that is missing or empty
    //  (storemade.h): all that is in it then is the store's.
    if (o->before_open && (*code = s_before_open (self, error)) != 0) {
        shoal_node_destroy (&self);
        return NULL;
    }
    registry_warn_unknown_types (self->registry); //  every module is registered by now
    s_warn_open_data_dir (self->data_dir);
    self->made = storemade_note (self->data_dir);
    //  The start reads the event log's newest records for a gap; the
    //  rest of the store is read with its checksums once it serves.
    journal_options_t jo = {
        .sync = !o->async, .cache_bytes = 64 << 20, .shards = o->shards, .verify_later = true};
    self->journal = journal_open (self->data_dir, &jo, code, error);
    if (!self->journal) {
        shoal_node_destroy (&self);
        return NULL;
    }
    if (journal_made (self->journal))
        storemade_made (&self->made, self->data_dir); //  before a module may chdir
    else
        storemade_destroy (&self->made); //  it was there: never removed
    //  The shard count is fixed when the store is made (journal_open).
    o->shards = journal_shards (self->journal);
    //  In sync durability a thread makes the commits durable, and the
    //  front holds what leaves the node until it has (front.c).
    *code = journal_sync_start (self->journal);
    if (*code) {
        *error =
            zsys_sprintf ("cannot start the journal's sync thread: %s", shoal_strerror (*code));
        shoal_node_discard (&self);
        return NULL;
    }
    //  Spares a client's first command to a new stream the reads of its
    //  inbox record and its event 1, once it has read the store's keys
    //  (persistence/filters.c).
    *code = journal_filters_start (self->journal);
    if (*code) {
        *error =
            zsys_sprintf ("cannot start the journal's stream filters: %s", shoal_strerror (*code));
        shoal_node_discard (&self);
        return NULL;
    }
    //  Every record read with its checksums, a third of a core at most, while
    //  the node serves (persistence/verify.c): damage is logged and shown
    //  in stats, /metrics, `cluster status` and `top`.
    *code = journal_verify_start (self->journal);
    if (*code) {
        *error = zsys_sprintf ("cannot start the read of the journal's records: %s",
                               shoal_strerror (*code));
        shoal_node_discard (&self);
        return NULL;
    }
    *code = node_owner_check (self->journal, self->cluster, self->self_node,
                              self->cert ? zcert_public_txt (self->cert) : NULL, &self->options,
                              self->data_dir, error);
    if (*code) {
        if (!*error)
            *error = zsys_sprintf ("cannot write to the store in %s", self->data_dir);
        shoal_node_discard (&self);
        return NULL;
    }
    return self;
}

void shoal_node_destroy (shoal_node_t **self_p)
{
    shoal_node_t *self = *self_p;
    if (!self)
        return;
    //  The metrics first: a scrape reads the workers', front's and peers'
    //  counters. Then the workers: a worker may be pushing to the front,
    //  and a PUSH whose peer is gone blocks for ever.
    metrics_destroy (&self->metrics);
    //  No thread waits for the front to take what it sent any more: the
    //  front may never have run (a start that failed after the workers').
    atomic_store (&self->outbound.stopping, true);
    zactor_destroy (&self->janitor);
    zactor_destroy (&self->projector);
    pthread_mutex_destroy (&self->gauges.lock);
    zactor_destroy (&self->watchdog);
    if (self->workers)
        for (int i = 0; i < self->options.workers; i++)
            zactor_destroy (&self->workers[i]);
    free (self->workers);
    zactor_destroy (&self->stop_guard); //  every worker stopped in time
    turnfile_close_all (&self->turn_files, self->options.workers);
    front_destroy (&self->front);
    peers_destroy (&self->peers);
    //  Known limit: libzmq unlinks an ipc:// socket file on its own I/O
    //  thread, after zmq_close: a node that takes the lock within that
    //  moment may see its new socket file unlinked.
    endpoint_unlock (&self->endpoint_locks[0]);
    endpoint_unlock (&self->endpoint_locks[1]);
    zactor_destroy (&self->auth);
    zcert_destroy (&self->cert);
    cluster_destroy (&self->cluster);
    free (self->peer_keys);
    zstr_free (&self->clients_dir);
    zstr_free (&self->operators_dir);
    journal_destroy (&self->journal);
    storemade_destroy (&self->made);
    registry_destroy (&self->registry);
    modules_close (&self->modules);
    free (self->stats);
    free (self->data_dir);
    free (self->endpoint);
    free (self);
    *self_p = NULL;
}

void shoal_node_discard (shoal_node_t **self_p)
{
    shoal_node_t *self = *self_p;
    if (!self || !self->made) {
        shoal_node_destroy (self_p);
        return;
    }
    //  CURRENT first, while this node holds the store's lock: a node
    //  started on the directory from now on refuses what is left as a
    //  damaged store, rather than open one that is about to go. The undo
    //  takes the lock again once the store is closed, and does nothing if
    //  another process took it in between.
    storemade_drop_current (self->made);
    storemade_t *made = self->made;
    self->made = NULL;
    shoal_node_destroy (self_p); //  closes the store
    storemade_undo (&made);
}

shoal_registry_t *shoal_node_registry (shoal_node_t *self)
{
    return self->registry;
}

int shoal_node_load_module (shoal_node_t *self, const char *path, char **error)
{
    return shoal_node_load_module_named (self, path, NULL, error);
}

int shoal_node_module_option (shoal_node_t *self, const char *module, const char *key,
                              const char *value)
{
    return registry_option_set (self->registry, module, key, value);
}

int shoal_node_load_module_named (shoal_node_t *self, const char *path, const char *name,
                                  char **error)
{
    if (self->workers) {
        *error = zsys_sprintf ("cannot load module %s: the node has started", path);
        return SHOAL_EMODULE;
    }
    return modules_load (&self->modules, self->registry, path, name, error);
}

//  A new routing id for the projection thread's socket at the front
//  (worker_config_t.projector_id): a secret, and never a first byte of
//  zero, which ZeroMQ keeps for the ids it makes itself.
static int s_projector_id (uint8_t id[WORKER_PROJECTOR_ID_SIZE])
{
    static_assert (WORKER_PROJECTOR_ID_SIZE == ENVELOPE_ID_SIZE, "one id's size");
    int rc = envelope_new_secret_id (id);
    id[0] |= 1;
    return rc;
}

//  The store's restore generation (peers_seen.h): 0, or when its operator
//  last took it as it was. A store made new here with --new-store is
//  behind what the peers saw of this node, as its operator knows, and so
//  is one started with --restored: a newer one, written durably, which
//  every peer takes whenever it next meets this node. One made new
//  otherwise (lost, at epoch 1) keeps 0, and is refused by peers that saw
//  it. taken: this start takes the store as it is.
#define NODE_RESTORE_GEN_META "restore-gen"
static int s_restore_gen (shoal_node_t *self, bool taken, uint64_t *gen, char **error)
{
    char *text = NULL;
    *gen = journal_meta_get (self->journal, NODE_RESTORE_GEN_META, &text) == 0 && text
               ? strtoull (text, NULL, 10)
               : 0;
    free (text);
    if (!taken)
        return 0;
    uint64_t now = (uint64_t) zclock_time ();
    *gen = now > *gen ? now : *gen + 1;
    char value[24];
    snprintf (value, sizeof value, "%" PRIu64, *gen);
    int rc = journal_meta_put (self->journal, NODE_RESTORE_GEN_META, value);
    if (rc == 0)
        rc = journal_sync_all (self->journal);
    if (rc) {
        *error =
            zsys_sprintf ("cannot write the store's restore generation: %s", shoal_strerror (rc));
        return rc;
    }
    log_info ("shoal node: this node's store is taken as it is (%s): its peers take it whatever "
              "they saw of it before (restore generation %" PRIu64 ")",
              self->options.restored ? "--restored" : "made new with --new-store", *gen);
    return 0;
}

//  Starts the authenticator and the peer links of a cluster node.
static int s_start_cluster (shoal_node_t *self, char **error)
{
    int count = cluster_node_count (self->cluster);
    self->peer_keys = calloc ((size_t) count, sizeof (char *));
    if (!self->peer_keys) {
        *error = strdup ("out of memory");
        return SHOAL_ENOMEM;
    }
    for (int i = 0; i < count; i++)
        self->peer_keys[i] = cluster_node_key (self->cluster, i);
    self->auth_config = (auth_config_t){.clients_dir = self->clients_dir,
                                        .operators_dir = self->operators_dir,
                                        .peer_keys = self->peer_keys,
                                        .peer_count = count,
                                        .refused = &self->refused,
                                        .keys = &self->client_keys};
    self->auth = auth_new (&self->auth_config);
    if (!self->auth) {
        *error = strdup ("cannot start the authenticator");
        return SHOAL_ENET;
    }
    self->peers = peers_new (self->cluster, self->self_node, self->cert, self->prefix, error);
    if (!self->peers)
        return SHOAL_ENET;
    _Static_assert(SHOAL_START_HOLD_FOREVER == PEERS_SEEN_HOLD_FOREVER, "the same hold");
    bool taken =
        self->options.restored || (self->options.new_store && journal_marked_new (self->journal));
    uint64_t gen;
    int rc = s_restore_gen (self, taken, &gen, error);
    if (rc == 0 && peers_set_store (self->peers, self->journal, self->data_dir, self->options.async,
                                    gen, taken, self->options.start_hold_ms)) {
        *error = strdup ("out of memory");
        rc = SHOAL_ENOMEM;
    }
    return rc;
}

int shoal_node_start (shoal_node_t *self, char **error)
{
    //  Said before the store was opened when the modules were loaded by
    //  before_open; here for those loaded since shoal_node_new.
    int rc = s_options_orphan (self, error);
    if (rc)
        return rc;
    int n = self->options.workers;
    self->stats = calloc ((size_t) n, sizeof (worker_stats_t));
    self->workers = calloc ((size_t) n, sizeof (zactor_t *));
    if (!self->stats || !self->workers) {
        *error = strdup ("out of memory");
        return SHOAL_ENOMEM;
    }
    self->config = (worker_config_t){
        .journal = self->journal,
        .registry = self->registry,
        .prefix = self->prefix,
        .workers = n,
        .shards = (uint32_t) self->options.shards,
        .idle_ms = self->options.idle_ms,
        //  Each worker's share, so that the node's total stays under the cap.
        .max_actors =
            self->options.max_actors / n > 0 ? (size_t) (self->options.max_actors / n) : 1,
        .snapshot_every = self->options.snapshot_every,
        .retention_ms = self->options.inbox_retention_ms,
        .stall_ms = self->options.stall_ms,
        .batch_max = self->options.batch_max,
        .stats = self->stats,
        .outbound = &self->outbound,
        .cluster = self->cluster,
        .self_node = self->self_node,
        .wall_start = zclock_time (),
        .mono_start = janitor_mono_ms (),
        .pruned_below = &self->pruned_below,
    };
    if (!self->options.projections_off && s_projector_id (self->config.projector_id) != 0) {
        *error = strdup ("no randomness from the kernel (getrandom, /dev/urandom) for the "
                         "projection thread's id");
        return SHOAL_EIO;
    }
    if (self->cluster) {
        rc = s_start_cluster (self, error);
        if (rc)
            return rc;
        self->config.peers = self->peers;
    }
    //  Every module is loaded now (shoal_node_load_module is refused from
    //  here on): the store's types that none registers are said.
    node_note_stored_types (self->journal, self->registry);
    //  What earlier runs pruned of the inboxes, whatever their retention.
    rc = janitor_floor_start (self->journal, &self->pruned_below, self->config.wall_start, error);
    if (rc)
        return rc;
    //  The turns the last run died in count against their messages
    //  (deadletter.h) before any worker may run one again.
    turnfile_recover (self->data_dir, deadletter_crashed, self->journal);
    self->turn_files = turnfile_open_all (self->data_dir, n, error);
    if (!self->turn_files)
        return SHOAL_EIO;
    self->config.turn_files = self->turn_files;
    self->watch = (turnfile_watch_t){&self->config, self->options.turn_timeout_ms,
                                     self->options.projections_off ? NULL : &self->projection_busy};
    self->watchdog = zactor_new (turnfile_watchdog, &self->watch);
    for (int i = 0; i < n; i++) {
        self->workers[i] = worker_new (&self->config, i);
        if (!self->workers[i]) {
            *error = zsys_sprintf ("worker %d could not start", i);
            return SHOAL_EIO;
        }
    }
    self->janitor = janitor_new (&self->config);
    front_config_t fc = {.endpoint = self->endpoint,
                         .cert = self->cert,
                         .cluster = self->cluster,
                         .self_node = self->self_node,
                         .peers = self->peers,
                         .config = &self->config,
                         .refused = &self->refused,
                         .keys = self->cert ? &self->client_keys : NULL,
                         .no_projections = self->options.projections_off,
                         .projections = &self->gauges};
    self->front = front_new (&fc, error);
    if (!self->front)
        return SHOAL_ENET;
    free (self->endpoint);
    self->endpoint = strdup (front_endpoint (self->front));
    //  What was bound, numeric (ZeroMQ's last endpoint): checked again, so
    //  that no name or syntax the check of the text let through listens
    //  beyond loopback without CURVE.
    char *bound = self->cert || !self->endpoint
                      ? NULL
                      : shoal_node_listen_refusal (self->endpoint, self->options.insecure);
    if (bound) {
        *error = bound;
        return SHOAL_EINVAL;
    }
    self->projector_config = (projector_config_t){.journal = self->journal,
                                                  .registry = self->registry,
                                                  .prefix = self->prefix,
                                                  .gauges = &self->gauges,
                                                  .data_dir = self->data_dir,
                                                  .linger_ms = self->options.projection_linger_ms,
                                                  .outbound = &self->outbound,
                                                  .id = self->config.projector_id,
                                                  .busy = &self->projection_busy};
    if (!self->options.projections_off)
        self->projector = projector_new (&self->projector_config);
    if (!self->options.projections_off && !self->projector) {
        *error = strdup ("the projection thread could not start (see the log)");
        return SHOAL_EIO;
    }
    const char *address = self->options.metrics ? self->options.metrics : "127.0.0.1:0";
    char *refusal = shoal_node_metrics_refusal (address, self->options.insecure);
    if (refusal) {
        *error = refusal;
        return SHOAL_EINVAL;
    }
    if (!streq (address, "off")) {
        metrics_config_t mc = {.address = address,
                               .config = &self->config,
                               .front = front_counters (self->front),
                               .refused = &self->refused,
                               .peers = self->peers,
                               .cluster = self->cluster,
                               .self_node = self->self_node,
                               .data_dir = self->data_dir,
                               .projections = &self->gauges,
                               .started = front_started (self->front),
                               .insecure = self->options.insecure};
        self->metrics = metrics_new (&mc, error);
        if (!self->metrics)
            return SHOAL_ENET;
    }
    //  Started: the store stays, whatever follows. This must come before
    //  anything is served (shoal_node_run): a store that acknowledged a
    //  write is never removed.
    storemade_destroy (&self->made);
    return 0;
}

const char *shoal_node_metrics_url (const shoal_node_t *self)
{
    return self->metrics ? metrics_url (self->metrics) : NULL;
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

const char *shoal_node_name (const shoal_node_t *self)
{
    return self->cluster ? self->options.name : NULL;
}

const char *shoal_node_data_dir (const shoal_node_t *self)
{
    return self->data_dir;
}

bool shoal_node_store_new (const shoal_node_t *self)
{
    return self->journal && journal_marked_new (self->journal);
}

//  The stop guard (a zactor; arg: the node, which outlives it): unless
//  $TERM comes within stop_grace_ms, logs each worker's running turn and
//  ends the process. See shoal_node_run.
static void s_stop_guard (zsock_t *pipe, void *arg)
{
    thread_name ("shoal-stopguard");
    shoal_node_t *self = arg;
    zsock_signal (pipe, 0);
    //  The signal that stopped the front set zsys_interrupted: this
    //  poller must not take it as its own end.
    zpoller_t *poller = zpoller_new (pipe, NULL);
    zpoller_set_nonstop (poller, true);
    int64_t deadline = zclock_mono () + self->options.stop_grace_ms;
    while (zclock_mono () < deadline) {
        if (zpoller_wait (poller, (int) (deadline - zclock_mono ())) == pipe) {
            char *command = zstr_recv (pipe); //  $TERM: the node was destroyed in time
            zstr_free (&command);
            zpoller_destroy (&poller);
            return;
        }
    }
    zpoller_destroy (&poller);
    const worker_config_t *config = &self->config;
    int64_t now = zclock_mono ();
    int running = 0;
    for (int w = 0; config->turn_files && w < config->workers; w++) {
        char to[SHOAL_ADDRESS_MAX + 1], name[SHOAL_NAME_MAX + 1];
        int64_t started = turnfile_running (config->turn_files[w], to, name);
        if (!started)
            continue;
        log_error ("shoal node: stopping: worker %d is still running %s on %s, for %lld ms; "
                   "exiting without it after --stop-grace-ms %lld (nothing of that turn was "
                   "acknowledged)",
                   w, name, to, (long long) (now - started),
                   (long long) self->options.stop_grace_ms);
        running++;
    }
    char what[sizeof self->projection_busy.what];
    uint64_t position;
    int64_t applying = turnfile_busy_running (&self->projection_busy, what, &position);
    if (applying) {
        log_error ("shoal node: stopping: the projection thread is still in an apply of %s, "
                   "at the event at position %" PRIu64 ", for %lld ms; exiting without it after "
                   "--stop-grace-ms %lld (its batch is not kept: it is applied again)",
                   what, position, (long long) (now - applying),
                   (long long) self->options.stop_grace_ms);
        running++;
    }
    if (!running)
        log_error ("shoal node: stopping: the workers did not stop within --stop-grace-ms "
                   "%lld; exiting without them",
                   (long long) self->options.stop_grace_ms);
    fflush (stderr);
    _exit (NODE_EXIT_STOP_TIMEOUT);
}

int shoal_node_run (shoal_node_t *self)
{
    assert (!self->made); //  shoal_node_start dropped it: what is served stays
    front_run (self->front);
    if (!self->stop_guard)
        self->stop_guard = zactor_new (s_stop_guard, self);
    return 0;
}
