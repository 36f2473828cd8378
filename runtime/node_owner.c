/*  node_owner.c - whose a store is: the node and cluster it was written
    for, and the key. See node_owner.h.
*/
#include "node_owner.h"
#include "log.h"
#include "registry.h"

#include <czmq.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <string.h>

//  Placements longer than this in all are not said whole in a refusal.
#define PLACEMENT_SAID_MAX 400

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
//  Writes nothing: *take_over is set when the key is to be written (a
//  store new to keys, or one of the node's previous_key, copied to was).
static int s_check_owner_key (const node_owner_t *o, bool *take_over, char *was, size_t was_size,
                              char **error)
{
    const char *mine = o->key;
    const char *previous = cluster_node_previous_key (o->cluster, o->node);
    char *stored = NULL;
    int rc = journal_meta_get (o->journal, "owner_key", &stored);
    if (rc == SHOAL_ENOTFOUND) {
        *take_over = true;
        return 0;
    }
    if (rc != 0)
        return rc;
    if (previous[0] && streq (stored, previous)) {
        *take_over = true;
        snprintf (was, was_size, "%s", stored);
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

//  The placement of every node's shards in the map, as the store keeps it
//  ("n1=0,2-4;n2=1,5-7", nodes in name order), or NULL (out of memory).
static char *s_placement (const cluster_t *cluster)
{
    int count = cluster_node_count (cluster);
    int order[CLUSTER_MAX_NODES];
    for (int i = 0; i < count; i++) { //  by name: the file's order is not the map's
        int j = i;
        while (j > 0 && strcmp (cluster_node_name (cluster, order[j - 1]),
                                cluster_node_name (cluster, i)) > 0) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    char *text = strdup ("");
    for (int k = 0; text && k < count; k++) {
        char *ranges = cluster_node_ranges (cluster, order[k]);
        if (ranges && !ranges[0]) { //  a node of no shard places none
            free (ranges);
            continue;
        }
        char *longer = ranges ? zsys_sprintf ("%s%s%s=%s", text, text[0] ? ";" : "",
                                              cluster_node_name (cluster, order[k]), ranges)
                              : NULL;
        free (ranges);
        free (text);
        text = longer;
    }
    return text;
}

//  Where stored ("n1=0,2-4;n2=1,5-7") and the map place shards otherwise:
//  the lowest such shard into *first, the node stored gives it into was
//  ("" for none) and the map's into now; returns how many differ (a shard
//  stored names twice counts as differing; one past the map's count is
//  not counted: the placements differ all the same, said without it).
static uint32_t s_moved (const char *stored, const cluster_t *cluster, uint32_t *first, char *was,
                         size_t was_size, char *now, size_t now_size)
{
    uint32_t shards = cluster_shards (cluster), moved = 0;
    const char **owner = calloc (shards ? shards : 1, sizeof (char *));
    char *copy = strdup (stored);
    if (!owner || !copy) {
        free (owner);
        free (copy);
        return 0;
    }
    char *node_save = NULL;
    for (char *node = strtok_r (copy, ";", &node_save); node;
         node = strtok_r (NULL, ";", &node_save)) {
        char *ranges = strchr (node, '=');
        if (!ranges)
            continue;
        *ranges++ = 0;
        char *range_save = NULL;
        for (char *range = strtok_r (ranges, ",", &range_save); range;
             range = strtok_r (NULL, ",", &range_save)) {
            unsigned long low = strtoul (range, NULL, 10), high = low;
            if (strchr (range, '-'))
                high = strtoul (strchr (range, '-') + 1, NULL, 10);
            for (unsigned long shard = low; shard <= high && shard < shards; shard++)
                owner[shard] = owner[shard] ? "" : node; //  twice: "", differs
        }
    }
    for (uint32_t shard = 0; shard < shards; shard++) {
        int mapped = cluster_owner (cluster, shard);
        const char *map_name = mapped >= 0 ? cluster_node_name (cluster, mapped) : "";
        if (owner[shard] && streq (owner[shard], map_name))
            continue;
        if (moved++ == 0) {
            *first = shard;
            snprintf (was, was_size, "%s", owner[shard] ? owner[shard] : "");
            snprintf (now, now_size, "%s", map_name);
        }
    }
    free (owner);
    free (copy);
    return moved;
}

//  The first shard the store holds records of that the map gives another
//  node (a store that kept no placement yet: one made before it, which
//  may have been served under another map), SHOAL_ENOTFOUND for none.
static int s_foreign_shard (const node_owner_t *o, uint32_t *shard)
{
    uint32_t from = 0;
    int rc;
    while ((rc = journal_shard_next (o->journal, from, shard)) == 0 &&
           cluster_owner (o->cluster, *shard) == o->node)
        from = *shard + 1;
    return rc;
}

//  A cluster node's store remembers where the map placed every node's
//  shards when it was made, and is refused under a map that places them
//  otherwise: shoal moves no shard's records between stores, so a shard
//  taken from a node would leave its actors there, unserved, and one given
//  to another would be served without its records (a transfer whose saga
//  was on it would read as never started, and a retry of it would debit
//  again). Every node's store refuses such a map, not only the two whose
//  shards moved: a node given a shard may have a new, empty store. A store
//  made before it kept a placement takes the map's of its next start, if
//  it holds no record of another node's shard. Writes nothing when it
//  refuses; *placement is set (to free) when it is to be written.
static int s_check_placement (const node_owner_t *o, char **placement, char **error)
{
    //  A store made now under a map past its first epoch: a node added to
    //  take shards, or one whose store is lost, would serve its shards
    //  empty, their records on another node or gone, before the nodes that
    //  refuse the map restart; a node that never started says so.
    if (journal_made (o->journal) && cluster_epoch (o->cluster) > 1 && !o->options->new_store) {
        *error = zsys_sprintf (
            "no store in %s, and %s is at epoch %" PRId64 ": node %s would serve its shards "
            "empty, and shoal moves no shard's records from another node. If its store was "
            "lost, restore it from a backup (its actors' events are gone otherwise); if this "
            "node never started (its cluster rekeyed before), start it once with --new-store; "
            "nothing was kept",
            o->data_dir, o->options->cluster_file, cluster_epoch (o->cluster), o->options->name);
        return SHOAL_EINVAL;
    }
    char *mine = s_placement (o->cluster);
    if (!mine)
        return SHOAL_ENOMEM;
    char *stored = NULL;
    int rc = journal_meta_get (o->journal, "owner_shards", &stored);
    if (rc == SHOAL_ENOTFOUND) {
        uint32_t shard = 0;
        rc = s_foreign_shard (o, &shard);
        if (rc == 0) {
            *error = zsys_sprintf (
                "the store in %s holds records of shard %" PRIu32 ", which %s (epoch %" PRId64
                ") gives node %s: it was served under a map that placed the shards otherwise. "
                "shoal moves no shard's records between nodes: start it with the map it was "
                "made with; nothing was changed",
                o->data_dir, shard, o->options->cluster_file, cluster_epoch (o->cluster),
                cluster_node_name (o->cluster, cluster_owner (o->cluster, shard)));
            rc = SHOAL_EINVAL;
        } else if (rc == SHOAL_ENOTFOUND) {
            *placement = mine;
            mine = NULL;
            rc = 0;
        }
    } else if (rc == 0 && !streq (stored, mine)) {
        //  The first shard that moved, and the whole placements only when
        //  they are short: a map of 65,536 shards could make them pages.
        uint32_t first = 0;
        char was[CLUSTER_NAME_MAX + 1] = "", now[CLUSTER_NAME_MAX + 1] = "";
        uint32_t moved = s_moved (stored, o->cluster, &first, was, sizeof was, now, sizeof now);
        bool whole = strlen (stored) + strlen (mine) <= PLACEMENT_SAID_MAX;
        char *which =
            moved ? zsys_sprintf ("shard %" PRIu32 " was node %s's and is node %s's; %" PRIu32
                                  " shard%s differ%s in all",
                                  first, was[0] ? was : "(none)", now[0] ? now : "(none)", moved,
                                  moved == 1 ? "" : "s", moved == 1 ? "s" : "")
                  : zsys_sprintf ("the placements differ");
        char *placed =
            whole ? zsys_sprintf ("so: %s; %s (epoch %" PRId64 ") places them so: %s", stored,
                                  o->options->cluster_file, cluster_epoch (o->cluster), mine)
                  : zsys_sprintf ("otherwise than %s (epoch %" PRId64 ") does",
                                  o->options->cluster_file, cluster_epoch (o->cluster));
        *error = zsys_sprintf (
            "the store in %s was made under a map that placed the shards %s (%s). shoal moves "
            "no shard's records between nodes: a shard taken from a node would leave its actors "
            "there, unserved, and one given to another would be served without its records, so "
            "that a command that ran could run again. Start every node with the shards its "
            "store was made with (the map of the cluster's first start, or one `shoal cluster "
            "rekey` made from it); nothing was changed",
            o->data_dir, placed ? placed : "otherwise", which ? which : "");
        free (placed);
        free (which);
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
        //  What start it takes, said: a cluster's node's store started
        //  alone (or another's) only said whose it was.
        const char *slash = strchr (stored, '/');
        bool alone = streq (stored, "/");
        *error = zsys_sprintf (
            "the store in %s belongs to %s, not to %s (cluster/node; a node alone is \"/\"): "
            "%s%.*s%s",
            data_dir, stored, mine,
            alone ? "start it as a node alone (no --cluster)" : "start it as node ",
            alone || !slash ? 0 : (int) strlen (slash + 1), alone || !slash ? "" : slash + 1,
            alone ? "" : " of that cluster's file (--cluster FILE --name NAME)");
        rc = SHOAL_EINVAL;
    }
    free (stored);
    node_owner_t o = {journal, cluster, node, key, options, data_dir};
    //  Each check first, then what they take over: a refusal changes nothing.
    bool take_over = false;
    char was[128] = "";
    if (rc == 0 && cluster)
        rc = s_check_owner_key (&o, &take_over, was, sizeof was, error);
    char *placement = NULL;
    if (rc == 0 && cluster)
        rc = s_check_placement (&o, &placement, error);
    if (rc == 0 && take_over) {
        rc = journal_meta_put (journal, "owner_key", key) == 0 ? 0 : SHOAL_EIO;
        if (rc == 0 && was[0])
            log_info ("shoal node: node %s has a new key (`shoal cluster rekey`): its store in "
                      "%s, written under %s (the previous_key of %s), is now under %s",
                      options->name, data_dir, was, options->cluster_file, key);
    }
    if (rc == 0 && placement)
        rc = journal_meta_put (journal, "owner_shards", placement) == 0 ? 0 : SHOAL_EIO;
    free (placement);
    return rc;
}

//  A type of the store's streams (journal_type_scan): noted, and said
//  once, if no module registers it.
static int s_stored_type (void *arg, const char *type, size_t len)
{
    if (registry_note_stored (arg, type, len))
        log_warn ("shoal node: the store holds streams of the actor type '%.*s', which no module "
                  "registers: commands to them are answered unavailable (not unknown_type, "
                  "which a saga takes for good) until the node starts with its module "
                  "(--module; docs/MODULES.md, 7)",
                  (int) len, type);
    return 0;
}

void node_note_stored_types (journal_t *journal, shoal_registry_t *registry)
{
    int rc = journal_type_scan (journal, s_stored_type, registry);
    if (rc)
        log_warn ("shoal node: cannot read which actor types the store holds: %s",
                  shoal_strerror (rc));
}

int node_owner_user (const char *data_dir, char **error)
{
    //  A directory with no store yet (a --new-store start) counts by its
    //  own owner.
    uid_t owner;
    struct stat dir_st;
    bool owned = journal_store_owner (data_dir, &owner) == 0;
    if (!owned && stat (data_dir, &dir_st) == 0 && S_ISDIR (dir_st.st_mode)) {
        owner = dir_st.st_uid;
        owned = true;
    }
    if (!owned || owner == geteuid ())
        return 0;
    struct passwd *user = getpwuid (owner);
    *error = zsys_sprintf (
        "%s belongs to user %s (uid %u), not to this one (uid %u): the files this start "
        "would write there would be this user's alone, and that user's node could not "
        "open them after. Start it as that user (sudo -u %s shoal node ...); nothing was "
        "changed",
        data_dir, user ? user->pw_name : "?", (unsigned) owner, (unsigned) geteuid (),
        user ? user->pw_name : "THAT_USER");
    return SHOAL_EINVAL;
}
