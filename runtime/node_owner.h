/*  node_owner.h - whose a store is (runtime/node_owner.c): a store
    remembers the node and cluster it was written for ("cluster/node", a
    node alone "/") and, in a cluster, the public key it was written
    under, and where the map placed every node's shards; a store of
    another is refused, and so is one under a map that places the shards
    otherwise, and a new store under a map past epoch 1 (but with
    --new-store); one of the node's previous_key (`shoal cluster rekey`)
    is taken over to its new key.
    And the actor types its streams are of, against the modules loaded.
    Internal to runtime/: node.c calls it once at the start.
*/
#ifndef NODE_OWNER_H_INCLUDED
#define NODE_OWNER_H_INCLUDED

#include "cluster.h"
#include "journal.h"
#include "node.h"

//  Checks (and, in a store new to it, records) that the store of journal
//  is the node's: options->name of cluster (NULL: a node alone), node
//  its index there and key its public key (a cluster's node). Returns 0,
//  SHOAL_EINVAL with *error set (free it) when the store is another's or
//  the map places the shards otherwise than when it was made (or it is
//  new, past epoch 1), or the journal's error. It writes only once every
//  check passed.
int node_owner_check (journal_t *journal, const cluster_t *cluster, int node, const char *key,
                      const shoal_node_options_t *options, const char *data_dir, char **error);

//  The types of the store's streams that no module registers (the node
//  started without a module it had): said in the log, and noted in the
//  registry, so that their commands are answered unavailable
//  (registry_note_stored). O(shards x types) seeks, not a read of the
//  store. A store that cannot be read for it is said, and changes nothing.
void node_note_stored_types (journal_t *journal, shoal_registry_t *registry);

//  Refuses a data directory of another user's: its store's (its LOCK's
//  owner, else the directory's), or, with no store yet (a --new-store
//  start), the directory's own, against the effective user. A start by
//  hand as root on the service's store left root's 0600 files there, and
//  the service's next start failed on them (a restart loop). Returns 0,
//  or SHOAL_EINVAL with *error set (free it), nothing written.
int node_owner_user (const char *data_dir, char **error);

#endif
