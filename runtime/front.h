/*  front.h - the node's front: the thread that talks to the world.

    It owns the client endpoint (a ROUTER), the PULL that workers push
    client replies and remote messages to, a PUSH to each worker, and, in
    a cluster, the peer links (peers.h). Every frame from a client or a
    peer is validated before it is routed:

    - a client's command or query goes to the worker that owns the
      receiver's shard, or, when another node owns it, over the peer link
      to that node (a CALL), whose answer comes back the same way; when
      that node is down the client is answered `unavailable`, naming it,
      at once;
    - an actor's message for a shard of another node (a worker pushes it
      here) goes over the link to that node (a MSG); when the link is down
      it is dropped: the sender's outbox re-sends it;
    - "stats" is answered here from the workers' counters, with the
      commit latency histogram's buckets ("commit_latency").

    - "pending" and "busiest" to `node/...` go to every worker (route ROUTE_GATHER +
      a gather id); the front merges their rows (at most REPAIR_ROWS_MAX,
      the rest counted as truncated) and answers once all have answered,
      or after FRONT_GATHER_MS with what came (`missing` workers).

    A route, as the workers see it, is opaque: its first byte says whose
    it is. ROUTE_CLIENT + a client's ROUTER id; ROUTE_PEER + node index +
    the id of a client of that node; ROUTE_GATHER + a 4-byte gather id, a
    worker's part of a node-wide query. A worker pushes an actor's message
    for another node with the one-byte route ROUTE_REMOTE. (0x04 to 0x06
    are the workers' own, between themselves: worker_internal.h; 0x07 a
    bundle of many messages, from a worker to another or to the front:
    bundle.h.)

    Runs on the thread that calls front_run (the node's main thread).
*/
#ifndef FRONT_H_INCLUDED
#define FRONT_H_INCLUDED

#include "clientkeys.h"
#include "cluster.h"
#include "peers.h"
#include "projector.h"
#include "worker.h"

#define ROUTE_CLIENT 0x00 //  + client id: a client of this node
#define ROUTE_PEER 0x01   //  + node index byte + client id: a client of that node
#define ROUTE_REMOTE 0x02 //  alone: an actor's message for another node
#define ROUTE_GATHER 0x03 //  + gather id (4 bytes): a worker's part of a node-wide query

typedef struct _front_t front_t;

//  The front's own counters: the front bumps them, any thread reads them.
typedef struct {
    atomic_uint_fast64_t bad_frames;       //  client or peer frames refused
    atomic_uint_fast64_t busy;             //  client messages refused: a worker's queue was full
    atomic_uint_fast64_t forwarded;        //  client messages sent on to their owner
    atomic_uint_fast64_t unavailable;      //  client messages refused: their owner is down
    atomic_uint_fast64_t refused_unsafe;   //  commands refused: maps differ, or store behind
    atomic_uint_fast64_t revoked;          //  client messages refused: their key was removed
    atomic_uint_fast64_t dropped;          //  actor messages dropped: their owner's link is down
    atomic_uint_fast64_t unread;           //  replies dropped: their client was not reading
    atomic_uint_fast64_t reply_bytes;      //  reply bytes queued and held for clients (sampled)
    atomic_uint_fast64_t reply_bytes_peak; //  the most at once
    atomic_uint_fast64_t held_bytes;       //  messages held until a sync covers them
    atomic_uint_fast64_t held_bytes_peak;  //  the most at once
} front_counters_t;

typedef struct {
    const char *endpoint;            //  client endpoint to bind
    zcert_t *cert;                   //  CURVE server certificate, NULL for none
    const cluster_t *cluster;        //  NULL for a node alone
    int self_node;                   //  our index in the cluster
    peers_t *peers;                  //  the links, NULL for a node alone
    const worker_config_t *config;   //  the workers: count, counters, prefix
    atomic_uint_fast64_t *refused;   //  connections the authenticator refused
    clientkeys_box_t *keys;          //  clients' keys from the authenticator; NULL: no CURVE
    bool no_projections;             //  the node runs no projection thread
    projector_gauges_t *projections; //  its builds, for stats (NULL: none)
} front_config_t;

//  Binds the client endpoint and connects to the workers. config and what
//  it points to must outlive the front. Returns NULL with *error (free()).
front_t *front_new (const front_config_t *config, char **error);
void front_destroy (front_t **self_p);

//  The endpoint bound (a port of * resolved).
const char *front_endpoint (const front_t *self);

//  The front's counters, for any thread, as long as the front lives.
const front_counters_t *front_counters (const front_t *self);

//  When the front started (monotonic ms, zclock_mono: for uptime_ms).
int64_t front_started (const front_t *self);

//  Routes until SIGINT/SIGTERM (zsys_interrupted).
void front_run (front_t *self);

#endif
