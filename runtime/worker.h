/*  worker.h - one worker thread: it owns the actors of its shards and runs
    the life of a command (DESIGN.md): activate, dedupe, decide, evolve,
    stage, group commit, release.

    A worker is a czmq zactor. It binds a PULL socket at
    "<prefix>-w<index>" that takes two-frame messages [route, envelope]:
    route is a client's ROUTER identity, or empty when the sender is an
    actor. It pushes replies for clients to "<prefix>-front" as
    [route, envelope], and actor messages to the worker that owns the
    receiver (or to its own local queue, with no socket, when that is
    itself). Internal to the runtime. The shard and worker of an address
    are in shard.h, included here.
*/
#ifndef WORKER_H_INCLUDED
#define WORKER_H_INCLUDED

#include <czmq.h>
#include <stdatomic.h>

#include "journal.h"
#include "registry.h"
#include "cluster.h"
#include "placement.h"
#include "histogram.h"
#include "shoal_stats.h"

//  Counters a worker bumps and the node reads (any thread), one field per
//  SHOAL_COUNTERS entry (shoal_stats.h); the janitor thread bumps `pruned`
//  of worker 0's, and the front `queued_bytes`. The histograms are the
//  worker's alone to fill; the metrics scrape reads them.
typedef struct {
#define WORKER_STATS_FIELD(name, description) atomic_uint_fast64_t name;
    SHOAL_COUNTERS (WORKER_STATS_FIELD)
#undef WORKER_STATS_FIELD
    histogram_t commit_seconds; //  a group commit's LevelDB write (ns; sync.c's fsync apart)
    histogram_t turn_seconds;   //  one message's turn, from decode to staged (ns)
    histogram_t batch_messages; //  messages per group commit
} worker_stats_t;

//  What the workers sent the front (replies, messages for other nodes)
//  and the front has not yet handled: queued in ZeroMQ or held for a sync
//  (front.c). A worker adds a message's bytes before it sends it and,
//  when WORKER_OUTBOUND_MAX or more are out, first waits for the front to
//  handle some: that bounds the node's memory when the disk is slower
//  than the work, at WORKER_OUTBOUND_MAX and one message per worker (a
//  bundle: WORKER_BUNDLE_MAX and one message).
#define WORKER_OUTBOUND_MAX (64u << 20)
#define WORKER_BUNDLE_MAX (1u << 20) //  a bundle's bytes before it is sent (bundle.h)
typedef struct {
    atomic_uint_fast64_t bytes; //  out now
    atomic_uint_fast64_t peak;  //  the most at once
    atomic_bool stopping;       //  the node is stopping: no one waits any more
} worker_outbound_t;

//  Counts size bytes out before they are sent (outbound NULL: nothing),
//  first waiting, while WORKER_OUTBOUND_MAX or more are out, for the
//  front to handle some, unless the node is stopping (or was signalled).
//  Returns true if it waited.
bool worker_outbound_add (worker_outbound_t *outbound, size_t size);

//  Counts size bytes no longer out: handled by the front, or not sent.
static inline void worker_outbound_sub (worker_outbound_t *outbound, size_t size)
{
    if (outbound)
        atomic_fetch_sub (&outbound->bytes, size);
}

#define WORKER_PROJECTOR_ID_SIZE 16

//  The route of the front's word to a worker that a peer's links work
//  both ways again: [WORKER_ROUTE_REACHED, the node's index as a byte].
//  Its commands to that node's actors are sent again at once.
#define WORKER_ROUTE_REACHED 0x08

//  What every worker of a node shares, read-only while they run.
typedef struct worker_config_s {
    journal_t *journal;               //  the node's store
    const shoal_registry_t *registry; //  actor types
    const char *prefix;               //  inproc endpoint prefix
    int workers;                      //  number of workers
    uint32_t shards;                  //  number of shards
    int64_t idle_ms;                  //  passivate actors idle this long
    size_t max_actors;                //  active actors per worker, at most (actors.h)
    int snapshot_every;               //  events between snapshots
    int64_t retention_ms;             //  inbox records kept this long
    int64_t stall_ms;                 //  tell a sender its command is unanswered
    int batch_max;                    //  messages per group commit at most
    worker_stats_t *stats;            //  one per worker
    const cluster_t *cluster;         //  the cluster map, NULL for a node alone
    int self_node;                    //  this node's index in it
    struct _turnfile_t **turn_files;  //  the turn in progress, one per worker
                                      //  (turnfile.h); NULL: none kept
    worker_outbound_t *outbound;      //  bytes out to the front; NULL: not counted
                                      //  (a test playing the front)
    //  The projection thread's routing id at the front, random at each
    //  start: its reactions name their projection as their sender
    //  (shoal_msg_from), which the front takes from that socket alone, as
    //  no client can know the id. All zero: no projection thread.
    uint8_t projector_id[WORKER_PROJECTOR_ID_SIZE];
    //  The cluster's links (peers.h: peers_link is safe from any thread),
    //  NULL for a node alone: whether a command's target node is up.
    const struct _peers_t *peers;
    //  The wall clock and the janitor's monotonic clock (ms) at the node's
    //  start, for the time they both trust (janitor.h); 0: the wall clock
    //  alone (a test playing the node).
    int64_t wall_start, mono_start;
    //  The janitor's highest cutoff this run: an inbox record below it may
    //  be gone (janitor_expired_before); NULL: none kept.
    atomic_int_fast64_t *pruned_below;
} worker_config_t;

//  Starts worker index. Returns NULL if it could not set up (bind, store
//  scan); the reason is printed on stderr.
zactor_t *worker_new (const worker_config_t *config, int index);

#endif
