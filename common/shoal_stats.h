/*  shoal_stats.h - the counters a node reports to the "stats" query (and
    `shoal stats` prints), listed once. X (name, description): name is
    both the field and the JSON key.

    SHOAL_COUNTERS are kept per worker (worker_stats_t, atomic) and summed
    by the front; SHOAL_NODE_COUNTERS are the node's own, reported as they
    are. The order is the order of the reply's keys. The outcomes of turns
    (messages, accepted, rejected, duplicates, events, expired) are counted
    when their batch is released after its commit: a batch that is aborted
    (a failed commit, an actor dropped with staged events) counts nothing,
    and what it held counts once, when it is tried again. A counter of a node
    that restarted starts again from zero. Macros only: no state, no
    thread.
*/
#ifndef SHOAL_STATS_H_INCLUDED
#define SHOAL_STATS_H_INCLUDED

#define SHOAL_COUNTERS(X)                                                                          \
    X (messages, "envelopes handled in committed batches")                                         \
    X (accepted, "commands accepted")                                                              \
    X (rejected, "commands rejected")                                                              \
    X (duplicates, "commands answered from the inbox, and replies already handled")                \
    X (events, "events committed")                                                                 \
    X (commits, "LevelDB writes")                                                                  \
    X (records, "records in those writes")                                                         \
    X (failures, "failed commits")                                                                 \
    X (resends, "outbox re-sends")                                                                 \
    X (activations, "actors loaded")                                                               \
    X (passivations, "actors dropped when idle")                                                   \
    X (active, "actors in memory now")                                                             \
    X (pending, "outbox entries awaiting a reply")                                                 \
    X (expired, "commands refused: older than the inbox retention")                                \
    X (pruned, "inbox records deleted by the janitor")                                             \
    X (bad_internal_frames, "undecodable frames between the node's threads, or in the journal")    \
    X (queued_bytes, "client frames the front passed to a worker that it has not taken")

#define SHOAL_NODE_COUNTERS(X)                                                                     \
    X (bad_frames, "client frames refused by the front")                                           \
    X (busy, "client messages refused: a worker's queue was full")                                 \
    X (workers, "worker threads")                                                                  \
    X (shards, "shards of the store")                                                              \
    X (peak_rss_kb, "the node's peak resident memory, in KiB")                                     \
    X (forwarded, "client messages sent on to the node that owns their actor")                     \
    X (unavailable, "client messages refused: the node that owns their actor is down")             \
    X (dropped, "actor messages dropped: their node's link is down (the outbox re-sends)")         \
    X (refused, "connections refused: a key not in the cluster file or the clients directory")     \
    X (uptime_ms, "milliseconds since the node started")

#endif
