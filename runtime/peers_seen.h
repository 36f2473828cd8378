/*  peers_seen.h - how far a node saw each peer's store, kept across its
    restarts, so that a peer that comes back with less is refused.

    Each HELLO of a peer says where its event log ends, durably (in sync
    durability: journal_log_end, raised only after a sync), and how it
    runs (peers.c). A node keeps the highest it was told of each peer in
    DIR/PEERS-SEEN, a few lines of text ("NAME POSITION"), written anew
    (a temporary file synced and renamed over it, the directory synced) at
    most every PEERS_SEEN_SAVE_MS while it moved: a crash forgets at most
    that much of it, which only ever lets a peer in that it could have
    refused. A peer whose log ends before what was kept of it (restored
    from an older backup, repaired with losses, or its store lost and
    made anew) lost events it had made durable and answered for: its
    peers refuse its HELLO, and it takes no client command (peers.h),
    until it is started with --restored, which says its operator takes the
    store as it is. Owned by the front's thread.
*/
#ifndef PEERS_SEEN_H_INCLUDED
#define PEERS_SEEN_H_INCLUDED

#include "cluster.h"

#include <stdbool.h>
#include <stdint.h>

#define PEERS_SEEN_FILE "PEERS-SEEN"
#define PEERS_SEEN_SAVE_MS 1000

typedef struct _peers_seen_t peers_seen_t;

//  What dir's PEERS-SEEN holds of the cluster's nodes (none if it is
//  missing; a line that cannot be read, or of a node the cluster does not
//  have, is left out). NULL out of memory.
peers_seen_t *peers_seen_open (const char *dir, const cluster_t *cluster);
//  Writes what moved since the last save, if any. Safe with *self_p NULL.
void peers_seen_destroy (peers_seen_t **self_p);

//  The highest end of node's log seen, 0 if none.
uint64_t peers_seen_get (const peers_seen_t *self, int node);

//  Keeps position as node's end if it is higher, or in any case when
//  reset (its operator took a store with less: --restored).
void peers_seen_set (peers_seen_t *self, int node, uint64_t position, bool reset);

//  Writes the file if what it holds moved and the last write is
//  PEERS_SEEN_SAVE_MS old (now: monotonic ms). A write that fails is
//  said once and tried again at the next save.
void peers_seen_save (peers_seen_t *self, int64_t now);

#endif
