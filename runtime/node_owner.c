/*  node_owner.c - whose a store is: the node and cluster it was written
    for, and the key. See node_owner.h.
*/
#include "node_owner.h"
#include "log.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdlib.h>

typedef struct {
    journal_t *journal;
    const cluster_t *cluster;
    int node;        //  its index in the map
    const char *key; //  its public key, Z85
    const shoal_node_options_t *options;
    const char *data_dir;
} node_owner_t;

//  A cluster node's store also remembers the node's public key: two
//  `shoal cluster init` runs make clusters of the same name and node
//  names, and a data directory of one would otherwise be taken into the
//  other, its accounts mixed into the other's books. A store made before
//  the key was kept takes the key it is first opened with. A store
//  written under the node's previous_key (`shoal cluster rekey`) is the
//  node's own: it is taken over to the new key, once.
static int s_check_owner_key (const node_owner_t *o, char **error)
{
    const char *mine = o->key;
    const char *previous = cluster_node_previous_key (o->cluster, o->node);
    char *stored = NULL;
    int rc = journal_meta_get (o->journal, "owner_key", &stored);
    if (rc == SHOAL_ENOTFOUND)
        return journal_meta_put (o->journal, "owner_key", mine) == 0 ? 0 : SHOAL_EIO;
    if (rc != 0)
        return rc;
    if (previous[0] && streq (stored, previous)) {
        rc = journal_meta_put (o->journal, "owner_key", mine) == 0 ? 0 : SHOAL_EIO;
        if (rc == 0)
            log_info ("shoal node: node %s has a new key (`shoal cluster rekey`): its store in "
                      "%s, written under %s (the previous_key of %s), is now under %s",
                      o->options->name, o->data_dir, stored, o->options->cluster_file, mine);
    } else if (!streq (stored, mine) && previous[0]) {
        *error = zsys_sprintf (
            "the store in %s was written under the key %s, which is neither node %s's key %s "
            "in %s nor its previous_key %s. If `shoal cluster rekey` ran twice for %s before "
            "it started, put previous_key = \"%s\" in %s's section of %s by hand: the store is "
            "taken over at the next start. If it is the directory of another cluster of the "
            "same names, give this node its own",
            o->data_dir, stored, o->options->name, mine, o->options->cluster_file, previous,
            o->options->name, stored, o->options->name, o->options->cluster_file);
        rc = SHOAL_EINVAL;
    } else if (!streq (stored, mine)) {
        *error = zsys_sprintf (
            "the store in %s belongs to another cluster named %s: it was written by a node %s "
            "whose public key is %s, and %s gives node %s the key %s. A store stays with the "
            "key it was written under: give this node its own data directory, or, if you "
            "replaced %s's certificate yourself, put the old one back. A node rekeyed "
            "(`shoal cluster rekey`) and started since is under its new key: run it with the "
            "cluster file and node.cert of the new epoch",
            o->data_dir, cluster_name (o->cluster), o->options->name, stored,
            o->options->cluster_file, o->options->name, mine, o->options->name);
        rc = SHOAL_EINVAL;
    }
    free (stored);
    return rc;
}

//  A cluster node's store remembers the shards the map gave the node when
//  it was made, and is refused under a map that gives the node others:
//  shoal moves no shard's records between stores, so a shard taken from
//  it would leave its actors here, unserved, and one given to it would be
//  served without its records (a transfer whose saga was there would read
//  as never started, and a retry of it would debit again). A store made
//  before it kept them takes the node's shards of its next start.
static int s_check_owner_shards (const node_owner_t *o, char **error)
{
    char *mine = cluster_node_ranges (o->cluster, o->node);
    if (!mine)
        return SHOAL_ENOMEM;
    char *stored = NULL;
    int rc = journal_meta_get (o->journal, "owner_shards", &stored);
    if (rc == SHOAL_ENOTFOUND)
        rc = journal_meta_put (o->journal, "owner_shards", mine) == 0 ? 0 : SHOAL_EIO;
    else if (rc == 0 && !streq (stored, mine)) {
        *error = zsys_sprintf (
            "the store in %s holds node %s's shards %s, and %s (epoch %" PRId64 ") gives %s "
            "the shards %s. shoal moves no shard's records between nodes: a shard taken from "
            "this node would leave its actors here, unserved, and one given to it would be "
            "served without its records, so that a command that ran there could run again. "
            "Start every node with the shards its store was made with (the map of its first "
            "start, or one `shoal cluster rekey` made from it); nothing was changed",
            o->data_dir, o->options->name, stored[0] ? stored : "(none)", o->options->cluster_file,
            cluster_epoch (o->cluster), o->options->name, mine[0] ? mine : "(none)");
        rc = SHOAL_EINVAL;
    }
    free (stored);
    free (mine);
    return rc;
}

//  A store remembers the node and cluster it belongs to: it is refused as
//  another's, and a store of a node alone is not taken into a cluster.
int node_owner_check (journal_t *journal, const cluster_t *cluster, int node, const char *key,
                      const shoal_node_options_t *options, const char *data_dir, char **error)
{
    char mine[128];
    snprintf (mine, sizeof mine, "%s/%s", cluster ? cluster_name (cluster) : "",
              cluster ? options->name : "");
    char *stored = NULL;
    int rc = journal_meta_get (journal, "owner", &stored);
    if (rc == SHOAL_ENOTFOUND)
        rc = journal_meta_put (journal, "owner", mine) == 0 ? 0 : SHOAL_EIO;
    else if (rc == 0 && !streq (stored, mine)) {
        *error = zsys_sprintf ("the store in %s belongs to %s, not to %s (cluster/node; a node "
                               "alone is \"/\")",
                               data_dir, stored, mine);
        rc = SHOAL_EINVAL;
    }
    free (stored);
    node_owner_t o = {journal, cluster, node, key, options, data_dir};
    if (rc == 0 && cluster)
        rc = s_check_owner_key (&o, error);
    return rc == 0 && cluster ? s_check_owner_shards (&o, error) : rc;
}
