/*  node.h - a shoal node: one journal, N worker threads, one client
    endpoint. Used by `shoal node` and by programs that embed a node.

    The calling thread runs the front: a ROUTER socket on the client
    endpoint that validates every frame, routes commands and queries to the
    worker that owns the receiver's shard, and passes replies back. The
    node object belongs to the thread that made it.
*/
#ifndef NODE_H_INCLUDED
#define NODE_H_INCLUDED

#include "shoal.h"

#define SHOAL_START_HOLD_FOREVER (-1) //  start_hold_ms: until a peer checked the store

typedef struct _shoal_node_t shoal_node_t;

typedef struct {
    const char *data_dir;         //  LevelDB directory (default "shoal-data")
    const char *endpoint;         //  client endpoint (default tcp://127.0.0.1:7700)
    int workers;                  //  worker threads (default: number of cores)
    bool async;                   //  durability async: commits are not fsynced
    bool projections_off;         //  run no projection thread (the event log is
                                  //  still written; they resume when it runs)
    int64_t projection_linger_ms; //  a projection that follows the log batches
                                  //  this long at most (0: none; `shoal node`'s
                                  //  default is 250), see projector.h
    int shards;                   //  shards of a new store (default 256); fixed after
    int64_t idle_ms;              //  passivate actors idle this long (default 60000)
    int snapshot_every;           //  events between snapshots (default 100)
    int64_t stall_ms;             //  notify senders of commands unanswered this
                                  //  long (default 30000)
    int64_t inbox_retention_ms;   //  keep inbox records this long (default 7 days);
                                  //  older commands are refused as "expired"
    int batch_max;                //  messages per group commit at most (default 4096)
    const char *cluster_file;     //  a cluster node: the cluster file (NULL: alone)
    const char *name;             //  and which of its nodes this is
    bool new_store;               //  a cluster node may make a new store under a map
                                  //  past epoch 1 (refused else: node_owner.h)
    bool restored;                //  a cluster node's store may be behind what its
                                  //  peers saw of it: they take it (peers_seen.h)
    int64_t start_hold_ms;        //  a cluster node's start holds clients until a peer
                                  //  checked its store, at most this long (0: 5000;
                                  //  SHOAL_START_HOLD_FOREVER: until one has)
    bool insecure;                //  alone: listen without CURVE beyond loopback
    const char *metrics;          //  HOST:PORT of the metrics server (default
                                  //  127.0.0.1:0, a free port), "off" for none
    int64_t turn_timeout_ms;      //  a turn running longer is logged (default 5000)
    int64_t max_actors;           //  active actors at most, least recently used
                                  //  passivated first (default 1000000)
    int64_t stop_grace_ms;        //  after a stop, exit without a worker whose turn
                                  //  runs this long (default 5000; see shoal_node_run)
    //  Called by shoal_node_new before it opens the store (NULL: none):
    //  the registrations and modules, so that a module that fails or
    //  crashes in its init leaves no store behind. Non-zero refuses the
    //  node, with *error set (free() it); so does a module option it set
    //  for no module it loaded (a misspelt --module-opt). (The working directory a
    //  module's init changes is changed back after it:
    //  shoal_node_load_module_named.)
    int (*before_open) (struct _shoal_node_t *node, void *arg, char **error);
    void *before_open_arg;
} shoal_node_options_t;

//  Why a node alone will not listen on endpoint: NULL when it may (no
//  other machine can reach it: loopback, ipc://, inproc://; or insecure),
//  else the refusal, naming the endpoint and the ways out, to free().
//  Checked by shoal_node_new; `shoal node` checks it first, as a usage
//  error.
char *shoal_node_listen_refusal (const char *endpoint, bool insecure);

//  Why a node cannot listen on endpoint at all: NULL when it can, else
//  the problem (to free()): tcp:// to a host that is neither an IP
//  address, a network interface's name nor '*' (a host name such as
//  localhost: ZeroMQ binds interfaces, and said "No such device" once the
//  store was made). Checked by shoal_node_new; `shoal node` checks it
//  first, as a usage error.
char *shoal_node_bind_problem (const char *endpoint);
//  The same of the metrics' HOST:PORT (--metrics): NULL on loopback or
//  insecure (or "off"); checked by shoal_node_start.
char *shoal_node_metrics_refusal (const char *address, bool insecure);
//  NULL if the metrics' address is "off" or HOST:PORT (a port from 0 to
//  65535), else what is wrong with it (to free()): `shoal node` checks it
//  as a usage error, before it opens anything.
char *shoal_node_metrics_problem (const char *address);

#define SHOAL_DATA_DIR_MAX 3072 //  bytes of a data directory's path, at most

//  Opens the store, or makes one if the data directory holds none.
//  Returns NULL with *error (free() it) when it cannot: *code is
//  SHOAL_EBUSY when another node holds the data directory, SHOAL_EINVAL
//  when its path is past SHOAL_DATA_DIR_MAX bytes. A store it made
//  and then could not use is removed again (shoal_node_discard).
shoal_node_t *shoal_node_new (const shoal_node_options_t *options, int *code, char **error);
void shoal_node_destroy (shoal_node_t **self_p);
//  Destroys a node whose start was refused (a module that failed, an
//  option for no module, shoal_node_start's error) and, if shoal_node_new
//  made its store in a data directory that was missing or empty, removes
//  that store and what the node made with it (the data directory too, and
//  its parents, if it made them), so that bad input leaves the directory
//  as it was: no store, no shard count fixed. It removes through handles
//  taken at shoal_node_new (a module's chdir changes nothing), under the
//  store's lock, and nothing if another process took that lock. A store
//  that was there before is never touched, nor a directory that held
//  other files (the store made there stays); once shoal_node_start has
//  succeeded, this is shoal_node_destroy. Safe to call twice.
void shoal_node_discard (shoal_node_t **self_p);

//  The registry to add types to before shoal_node_start.
shoal_registry_t *shoal_node_registry (shoal_node_t *self);

//  Loads a module: dlopen(path), checks that its shoal_module_abi is this
//  node's SHOAL_ABI_VERSION, then calls its shoal_module_init(registry).
//  Returns 0 or SHOAL_EMODULE with *error set (free() it).
int shoal_node_load_module (shoal_node_t *self, const char *path, char **error);
//  The same, with the module's name (whose options it reads with
//  shoal_registry_option): name, or when NULL its file's base name
//  without ".so".
int shoal_node_load_module_named (shoal_node_t *self, const char *path, const char *name,
                                  char **error);
//  Sets option key of the module named module to value (copied), for it
//  to read at its init: call it before loading the module. A later value
//  replaces an earlier one. Returns 0, SHOAL_EINVAL, SHOAL_ENOMEM.
int shoal_node_module_option (shoal_node_t *self, const char *module, const char *key,
                              const char *value);

//  Starts the workers and binds the endpoint. Returns 0 or an error with
//  *error set (free() it).
int shoal_node_start (shoal_node_t *self, char **error);

//  The endpoint bound by start (a port of * or ! resolved), the shard
//  count and the number of workers.
const char *shoal_node_endpoint (const shoal_node_t *self);
int shoal_node_shards (const shoal_node_t *self);
int shoal_node_workers (const shoal_node_t *self);
//  The URL of the node's metrics (http://HOST:PORT/metrics), NULL when
//  they are off or the node has not started. Borrowed.
const char *shoal_node_metrics_url (const shoal_node_t *self);
//  The node's name in its cluster, NULL for a node alone.
const char *shoal_node_name (const shoal_node_t *self);

//  The data directory the node's store is in.
const char *shoal_node_data_dir (const shoal_node_t *self);

//  True if the node's start made its store (or found one with no record).
bool shoal_node_store_new (const shoal_node_t *self);

//  Runs the front until SIGINT/SIGTERM (zsys_interrupted). Returns 0.
//  From then on, a guard gives the node stop_grace_ms to be destroyed: if
//  a worker is still in a handler by then (one that runs away), it logs
//  that worker's turn (its name and address) and ends the process with
//  _exit (NODE_EXIT_STOP_TIMEOUT) without waiting for it. That is as safe
//  as a crash: the journal holds every committed batch, and nothing
//  staged was acknowledged; the next start counts the turn as a crash
//  (poison messages).
int shoal_node_run (shoal_node_t *self);

#define NODE_EXIT_STOP_TIMEOUT 4 //  the exit status of a stop past the grace

#endif
