/*  shoal_stats.h - the counters a node reports to the "stats" query (and
    `shoal stats` prints), listed once. X (name, description): name is
    both the field and the JSON key.

    SHOAL_COUNTERS are kept per worker (worker_stats_t, atomic) and summed
    by the front; SHOAL_NODE_COUNTERS are the node's own, reported as they
    are. The order is the order of the reply's keys. The outcomes of turns
    (messages, accepted, rejected, duplicates, events, expired) are counted
    when their batch is released after its commit: a batch that is aborted
    (a failed commit, an actor dropped with staged events) counts nothing,
    and what it held counts once, when it is tried again; so does an
    actor's command or reply refused because the store cannot be read at
    the moment (`unavailable`, SHOAL_EIO: a reload after a failed commit
    not yet done), which its sender tries again. A counter of a node
    that restarted starts again from zero. Macros only: no state, no
    thread.

    SHOAL_METRICS and SHOAL_NODE_METRICS say how /metrics (runtime/
    metrics.c) exports them in Prometheus' text format: X (family, type,
    labels, value, help). value is an expression over `s`, the workers'
    counters summed, or `n`, the node's (or metrics.c's rejected_only,
    rejected less expired, kept from going down); the rows of one family are
    adjacent and its TYPE and HELP come from its first row. Labels never
    name an actor. An expired command is counted as rejected too (its
    reply is a rejection): outcome="rejected" leaves it out, so that the
    outcomes add up to the commands handled. Families with one series per
    worker, peer or bucket (queues, peers, histograms) are written by
    metrics.c itself.
*/
#ifndef SHOAL_STATS_H_INCLUDED
#define SHOAL_STATS_H_INCLUDED

//  A store whose write (or reopen) failed within this long is said to be
//  failing: by the metrics (shoal_store_failing), `cluster status` and
//  `top`.
#define SHOAL_STORE_RECENT_MS 10000

#define SHOAL_COUNTERS(X)                                                                          \
    X (messages, "envelopes handled in committed batches")                                         \
    X (accepted, "commands accepted")                                                              \
    X (rejected, "commands rejected")                                                              \
    X (duplicates, "commands answered from the inbox, and replies already handled")                \
    X (replies, "replies to their commands handled by the actors that sent them")                  \
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
    X (forged, "replies refused: not from the actor their command went to; timers refused: not "   \
               "their actor's own")                                                                \
    X (forced_answered, "commands an operator ended with --force that their target had run, as "   \
                        "its answer to their $cancel says (see the log; the books are off)")       \
    X (queued_bytes, "client and peer frames the front passed to a worker that it has not taken")  \
    X (stalled, "outbox entries unanswered for longer than --stall-ms")                            \
    X (timers, "durable timers armed and not yet fired")                                           \
    X (overdue_turns, "turns that ran past --turn-timeout (counted by the watchdog)")              \
    X (overdue_now, "turns running past --turn-timeout now")                                       \
    X (outbound_waits, "times a worker waited for the front: 64 MiB of its messages were out")     \
    X (snapshots_skipped, "snapshots not written: the module's snapshot() wrote more than 1 MiB "  \
                          "less 8 KiB, or wrote its fields wrongly (see the log)")                 \
    X (dead_letters, "messages set aside as dead (they crashed the node 3 times in a row), "       \
                     "waiting for an operator's retry or drop (shoal dead-letters)")

#define SHOAL_NODE_COUNTERS(X)                                                                     \
    X (bad_frames, "client frames refused by the front")                                           \
    X (busy, "client messages refused: a worker's queue was full")                                 \
    X (workers, "worker threads")                                                                  \
    X (shards, "shards of the store")                                                              \
    X (peak_rss_kb, "the node's peak resident memory, in KiB")                                     \
    X (forwarded, "client messages sent on to the node that owns their actor")                     \
    X (unavailable, "client messages refused: the node that owns their actor is down")             \
    X (refused_unsafe, "commands refused because taking them could lose work: a peer runs "        \
                       "another shard map at this epoch, or saw this node's store further than "   \
                       "it is (restored alone from an older backup?)")                             \
    X (dropped, "actor messages dropped: their node's link is down, or the worker's queue "        \
                "is full (the outbox re-sends)")                                                   \
    X (refused, "connections refused: a key not in the cluster file or the clients directory")     \
    X (revoked, "client messages refused: their connection's key is no longer in the clients or "  \
                "operators directory")                                                             \
    X (unread,                                                                                     \
       "replies dropped: their client did not read them (a re-send gets the stored reply)")        \
    X (reply_bytes, "reply bytes queued and held for clients that have not read them")             \
    X (reply_bytes_peak, "the most reply bytes queued and held at once (bound: 64 MiB)")           \
    X (held_bytes, "bytes of messages leaving the node held until a sync makes their causes "      \
                   "durable (sync durability)")                                                    \
    X (held_bytes_peak, "the most bytes held at once (bound: 64 MiB and one message per worker)")  \
    X (outbound_bytes, "bytes of messages the workers sent the front that it has not handled: "    \
                       "queued or held")                                                           \
    X (outbound_bytes_peak, "the most outbound bytes at once (bound: 64 MiB and one message per "  \
                            "worker)")                                                             \
    X (uptime_ms, "milliseconds since the node started")                                           \
    X (store_records, "records its workers and its projections wrote to the node's store")         \
    X (syncs, "syncs (fdatasync of the store's log files) that made its writes durable, each "     \
              "covering one or more commits")                                                      \
    X (inbox_reads_spared,                                                                         \
       "commands whose inbox record was known absent without reading the store (the stream "       \
       "filters)")                                                                                 \
    X (stream_reads_spared,                                                                        \
       "loads of a stream known to have no events without reading the store (the stream "          \
       "filters)")

#define SHOAL_METRICS(X)                                                                           \
    X (shoal_commands_total, counter, "outcome=\"accepted\"", s.accepted,                          \
       "Commands handled, by outcome (duplicate includes replies already handled)")                \
    X (shoal_commands_total, counter, "outcome=\"rejected\"", rejected_only, "")                   \
    X (shoal_commands_total, counter, "outcome=\"duplicate\"", s.duplicates, "")                   \
    X (shoal_commands_total, counter, "outcome=\"expired\"", s.expired, "")                        \
    X (shoal_messages_total, counter, "", s.messages, "Envelopes handled in committed batches")    \
    X (shoal_replies_total, counter, "", s.replies,                                                \
       "Replies to their commands handled by the actors that sent them")                           \
    X (shoal_events_total, counter, "", s.events, "Events committed")                              \
    X (shoal_commits_total, counter, "", s.commits, "Group commits (LevelDB writes)")              \
    X (shoal_commit_records_total, counter, "", s.records, "Records in those writes")              \
    X (shoal_commit_failures_total, counter, "", s.failures, "Failed commits")                     \
    X (shoal_outbox_resends_total, counter, "", s.resends, "Outbox re-sends")                      \
    X (shoal_activations_total, counter, "", s.activations, "Actors loaded")                       \
    X (shoal_passivations_total, counter, "", s.passivations, "Actors dropped when idle")          \
    X (shoal_active_actors, gauge, "", s.active, "Actors in memory")                               \
    X (shoal_outbox_pending, gauge, "", s.pending, "Outbox entries awaiting a reply")              \
    X (shoal_outbox_stalled, gauge, "", s.stalled,                                                 \
       "Outbox entries unanswered for longer than --stall-ms")                                     \
    X (shoal_timers_pending, gauge, "", s.timers, "Durable timers armed and not yet fired")        \
    X (shoal_inbox_pruned_total, counter, "", s.pruned, "Inbox records deleted by the janitor")    \
    X (shoal_bad_internal_frames_total, counter, "", s.bad_internal_frames,                        \
       "Undecodable frames between the node's threads, or in the journal")                         \
    X (shoal_outbound_waits_total, counter, "", s.outbound_waits,                                  \
       "Times a worker waited for the front: 64 MiB of its messages were out")                     \
    X (shoal_forged_messages_total, counter, "", s.forged,                                         \
       "Replies refused: not from the actor their command went to; timers refused: not their "     \
       "actor's own (a peer's forgery)")                                                           \
    X (shoal_forced_answered_total, counter, "", s.forced_answered,                                \
       "Commands an operator ended with --force that their target had run after all")              \
    X (shoal_snapshots_skipped_total, counter, "", s.snapshots_skipped,                            \
       "Snapshots not written: the module's snapshot() wrote more than 1 MiB less 8 KiB, or "      \
       "wrote its fields wrongly")                                                                 \
    X (shoal_overdue_turns_total, counter, "", s.overdue_turns,                                    \
       "Turns that ran past --turn-timeout (counted by the watchdog; the log names each)")         \
    X (shoal_turns_overdue, gauge, "", s.overdue_now, "Turns running past --turn-timeout now")     \
    X (shoal_dead_letters, gauge, "", s.dead_letters,                                              \
       "Messages set aside as dead (they crashed the node 3 times in a row), waiting for an "      \
       "operator's retry or drop (shoal dead-letters)")

#define SHOAL_NODE_METRICS(X)                                                                      \
    X (shoal_bad_frames_total, counter, "", n.bad_frames, "Client frames refused by the front")    \
    X (shoal_busy_total, counter, "", n.busy,                                                      \
       "Client messages refused: a worker's queue was full")                                       \
    X (shoal_forwarded_total, counter, "", n.forwarded,                                            \
       "Client messages sent on to the node that owns their actor")                                \
    X (shoal_unavailable_total, counter, "", n.unavailable,                                        \
       "Client messages refused: the node that owns their actor is down")                          \
    X (shoal_refused_unsafe_total, counter, "", n.refused_unsafe,                                  \
       "Commands refused because taking them could lose work: a peer runs another shard map, or "  \
       "saw this node's store further than it is")                                                 \
    X (shoal_dropped_total, counter, "", n.dropped,                                                \
       "Actor messages dropped: their node's link is down, or the worker's queue is full (the "    \
       "outbox re-sends)")                                                                         \
    X (shoal_unread_replies_dropped_total, counter, "", n.unread,                                  \
       "Replies dropped: their client was not reading them (it re-sends and gets the stored "      \
       "reply)")                                                                                   \
    X (shoal_unread_reply_bytes, gauge, "", n.reply_bytes,                                         \
       "Reply bytes queued and held for clients that have not read them (at most 64 MiB)")         \
    X (shoal_syncs_total, counter, "", n.syncs,                                                    \
       "Syncs (fdatasync of the store's log files) that made its writes durable, each covering "   \
       "one or more commits")                                                                      \
    X (shoal_inbox_reads_spared_total, counter, "", n.inbox_reads_spared,                          \
       "Commands whose inbox record was known absent without reading the store (the stream "       \
       "filters)")                                                                                 \
    X (shoal_stream_reads_spared_total, counter, "", n.stream_reads_spared,                        \
       "Loads of a stream known to have no events without reading the store (the stream "          \
       "filters)")                                                                                 \
    X (shoal_sync_held_bytes, gauge, "", n.held_bytes,                                             \
       "Bytes of messages leaving the node held until a sync makes their causes durable")          \
    X (shoal_sync_held_peak_bytes, gauge, "", n.held_bytes_peak,                                   \
       "The most bytes held for a sync at once (bound: 64 MiB and one message per worker)")        \
    X (shoal_outbound_bytes, gauge, "", n.outbound_bytes,                                          \
       "Bytes of messages the workers sent the front that it has not handled: queued or held")     \
    X (shoal_outbound_peak_bytes, gauge, "", n.outbound_bytes_peak,                                \
       "The most outbound bytes at once (bound: 64 MiB and one message per worker)")               \
    X (shoal_unread_reply_peak_bytes, gauge, "", n.reply_bytes_peak,                               \
       "The most reply bytes queued and held for clients at once")                                 \
    X (shoal_refused_connections_total, counter, "", n.refused,                                    \
       "Connections refused: a key not in the cluster file or the clients directory")              \
    X (shoal_revoked_key_messages_total, counter, "", n.revoked,                                   \
       "Client messages refused: their connection's key is no longer in the clients or "           \
       "operators directory")                                                                      \
    X (shoal_workers, gauge, "", n.workers, "Worker threads")                                      \
    X (shoal_shards, gauge, "", n.shards, "Shards of the store")                                   \
    X (shoal_peak_resident_memory_bytes, gauge, "", n.peak_rss_kb * 1024.0,                        \
       "The node's peak resident memory")                                                          \
    X (shoal_uptime_seconds, gauge, "", n.uptime_ms / 1000.0, "Seconds since the node started")    \
    X (shoal_store_records_total, counter, "", n.store_records,                                    \
       "Records the workers and the projections wrote to the node's store")

#endif
