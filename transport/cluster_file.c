/*  cluster_file.c - the cluster file (see cluster.h for its format):
    loading and validating one, and saving a map as one.

    A file is read with zplfile_load (czmq's zconfig parser behind a line
    check that reports bad lines by number) and then validated key by
    key; it is written with zplfile_save. A map is checked the same way
    before it is saved as after it is loaded (s_check_map), so that
    cluster_save never writes what cluster_load would refuse. The map
    itself, its owner table and its digest are in cluster.c.

    Threads: a map is plain data owned by one thread (cluster.h).
*/
#include "cluster_internal.h"
#include "shoal_base.h"
#include "zplfile.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EPOCH_MAX INT64_MAX
#define RANGES_PER_LINE (CLUSTER_LINE_MAX - 100) //  bytes of one shards value

//  Parses a decimal from min to max, digits only. Returns false if text
//  is anything else.
static bool s_parse_int (const char *text, int64_t min, int64_t max, int64_t *value)
{
    if (!*text || strlen (text) > 19)
        return false;
    int64_t parsed = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        int digit = *p - '0';
        if (parsed > (INT64_MAX - digit) / 10)
            return false;
        parsed = parsed * 10 + digit;
    }
    if (parsed < min || parsed > max)
        return false;
    *value = parsed;
    return true;
}

//  --------------------------------------------------------------------------
//  Validation shared by load and save: keys well formed, names, endpoints
//  and keys unique, every shard owned. Returns 0 or SHOAL_EINVAL.

int cluster_check_endpoints (const cluster_t *self, const char *path, char **error)
{
    for (int i = 0; i < self->count; i++) {
        const node_t *node = &self->nodes[i];
        if (strcmp (node->client, node->peer) == 0) {
            zplfile_fail (error, path, "node %s: peer: %s is also its client endpoint", node->name,
                          node->peer);
            return SHOAL_EINVAL;
        }
        for (int j = 0; j < i; j++) {
            const node_t *other = &self->nodes[j];
            const char *mine[2] = {node->client, node->peer};
            const char *theirs[2] = {other->client, other->peer};
            static const char *keys[2] = {"client", "peer"};
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 2; b++)
                    if (strcmp (mine[a], theirs[b]) == 0) {
                        zplfile_fail (error, path, "node %s: %s: %s is also node %s's %s endpoint",
                                      node->name, keys[a], mine[a], other->name, keys[b]);
                        return SHOAL_EINVAL;
                    }
        }
    }
    return 0;
}

static int s_check_map (const cluster_t *self, const char *path, char **error)
{
    for (int i = 0; i < self->count; i++) {
        const node_t *node = &self->nodes[i];
        if (!node->key[0]) {
            zplfile_fail (error, path, "node %s: public_key: not set", node->name);
            return SHOAL_EINVAL;
        }
        if (!cluster_valid_key (node->key)) {
            zplfile_fail (error, path, "node %s: public_key: '%s' is not a key (40 Z85 characters)",
                          node->name, node->key);
            return SHOAL_EINVAL;
        }
        for (int j = 0; j < i; j++) {
            const node_t *other = &self->nodes[j];
            if (strcmp (node->name, other->name) == 0) {
                zplfile_fail (error, path, "node %s: given twice", node->name);
                return SHOAL_EINVAL;
            }
            if (strcmp (node->key, other->key) == 0) {
                zplfile_fail (error, path, "node %s: public_key: is also node %s's key", node->name,
                              other->name);
                return SHOAL_EINVAL;
            }
            if (node->previous[0] && strcmp (node->previous, other->key) == 0) {
                zplfile_fail (error, path, "node %s: previous_key: is node %s's key", node->name,
                              other->name);
                return SHOAL_EINVAL;
            }
            if (node->previous[0] && strcmp (node->previous, other->previous) == 0) {
                zplfile_fail (error, path, "node %s: previous_key: is also node %s's", node->name,
                              other->name);
                return SHOAL_EINVAL;
            }
            if (other->previous[0] && strcmp (other->previous, node->key) == 0) {
                zplfile_fail (error, path, "node %s: previous_key: is node %s's key", other->name,
                              node->name);
                return SHOAL_EINVAL;
            }
        }
        if (node->previous[0] && !cluster_valid_key (node->previous)) {
            zplfile_fail (error, path,
                          "node %s: previous_key: '%s' is not a key (40 Z85 characters)",
                          node->name, node->previous);
            return SHOAL_EINVAL;
        }
        if (strcmp (node->previous, node->key) == 0) {
            zplfile_fail (error, path, "node %s: previous_key: is its public_key", node->name);
            return SHOAL_EINVAL;
        }
    }
    int rc = cluster_check_endpoints (self, path, error);
    if (rc)
        return rc;
    uint32_t unowned = 0, first = 0;
    for (uint32_t shard = self->shards; shard-- > 0;)
        if (self->owner[shard] == NO_OWNER) {
            unowned++;
            first = shard;
        }
    if (unowned) {
        zplfile_fail (error, path,
                      "shards: no node owns shard %u%s (%u of %u shards have no owner)", first,
                      unowned > 1 ? " and others" : "", unowned, self->shards);
        return SHOAL_EINVAL;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Loading

//  A key's value for the cluster or a node section: a leaf given once.
//  Returns it or NULL (*error set). what names the section in messages.
static const char *s_leaf (zconfig_t *section, zconfig_t *item, const char *what, const char *path,
                           char **error)
{
    if (zconfig_child (item)) {
        zplfile_fail (error, path, "%s: %s: a value, not a section", what, zconfig_name (item));
        return NULL;
    }
    for (zconfig_t *other = zconfig_child (section); other != item; other = zconfig_next (other))
        if (strcmp (zconfig_name (other), zconfig_name (item)) == 0 &&
            strcmp (zconfig_name (item), "shards") != 0) {
            zplfile_fail (error, path, "%s: %s: given twice", what, zconfig_name (item));
            return NULL;
        }
    return zconfig_value (item) ? zconfig_value (item) : "";
}

static int s_load_cluster (cluster_t **self_p, zconfig_t *section, const char *path, char **error)
{
    const char *name = NULL, *shards = NULL, *epoch = NULL;
    for (zconfig_t *item = zconfig_child (section); item; item = zconfig_next (item)) {
        const char *value = s_leaf (section, item, "cluster", path, error);
        if (!value)
            return SHOAL_EFORMAT;
        if (streq (zconfig_name (item), "name"))
            name = value;
        else if (streq (zconfig_name (item), "shards"))
            shards = value;
        else if (streq (zconfig_name (item), "epoch"))
            epoch = value;
        else {
            zplfile_fail (error, path, "cluster: unknown key '%s' (expected name, shards, epoch)",
                          zconfig_name (item));
            return SHOAL_EFORMAT;
        }
    }
    int64_t count, number;
    if (!name || !shards || !epoch) {
        zplfile_fail (error, path, "cluster: missing %s",
                      !name     ? "name"
                      : !shards ? "shards"
                                : "epoch");
        return SHOAL_EFORMAT;
    }
    if (!cluster_valid_name (name)) {
        zplfile_fail (error, path, "cluster: name: '%s' is not a name ([a-z0-9][a-z0-9_-]{0,31})",
                      name);
        return SHOAL_EFORMAT;
    }
    if (!s_parse_int (shards, 1, CLUSTER_MAX_SHARDS, &count)) {
        zplfile_fail (error, path, "cluster: shards: '%s' is not a number from 1 to %d", shards,
                      CLUSTER_MAX_SHARDS);
        return SHOAL_EFORMAT;
    }
    if (!s_parse_int (epoch, 1, EPOCH_MAX, &number)) {
        zplfile_fail (error, path, "cluster: epoch: '%s' is not a number from 1 to %" PRId64, epoch,
                      (int64_t) EPOCH_MAX);
        return SHOAL_EFORMAT;
    }
    *self_p = cluster_new_empty ((uint32_t) count);
    if (!*self_p) {
        zplfile_fail (error, path, "out of memory");
        return SHOAL_ENOMEM;
    }
    snprintf ((*self_p)->name, sizeof (*self_p)->name, "%s", name);
    (*self_p)->epoch = number;
    return 0;
}

//  Marks the shards of list ("0-17,40,52-60" or "") as node i's.
static int s_load_shards (cluster_t *self, int i, const char *list, const char *path, char **error)
{
    const char *name = self->nodes[i].name;
    const char *p = list;
    while (*p) {
        const char *item = p;
        int64_t first = 0, last = 0;
        char number[2][24] = {"", ""};
        int parts = 0;
        while (parts < 2) {
            size_t length = strspn (p, "0123456789");
            if (length == 0 || length >= sizeof number[0])
                goto bad;
            memcpy (number[parts++], p, length);
            p += length;
            if (*p != '-')
                break;
            p++;
        }
        if (*p && *p != ',')
            goto bad;
        for (int k = 0; k < parts; k++)
            if (!s_parse_int (number[k], 0, (int64_t) self->shards - 1, k ? &last : &first)) {
                zplfile_fail (error, path, "node %s: shards: %s is out of range (0-%u)", name,
                              number[k], self->shards - 1);
                return SHOAL_EFORMAT;
            }
        if (parts == 1)
            last = first;
        if (last < first) {
            zplfile_fail (error, path, "node %s: shards: range %s-%s is backwards", name, number[0],
                          number[1]);
            return SHOAL_EFORMAT;
        }
        for (int64_t shard = first; shard <= last; shard++) {
            uint8_t owner = self->owner[shard];
            if (owner == i) {
                zplfile_fail (error, path, "node %s: shards: %" PRId64 " is listed twice", name,
                              shard);
                return SHOAL_EFORMAT;
            }
            if (owner != NO_OWNER) {
                zplfile_fail (error, path, "node %s: shards: %" PRId64 " is also owned by %s", name,
                              shard, self->nodes[owner].name);
                return SHOAL_EFORMAT;
            }
            self->owner[shard] = (uint8_t) i;
            self->nodes[i].count++;
        }
        if (*p == ',' && !*++p)
            goto bad;
        continue;
    bad:
        zplfile_fail (error, path,
                      "node %s: shards: '%s' is not a list of shards like 0-17,40,52-60", name,
                      item);
        return SHOAL_EFORMAT;
    }
    return 0;
}

//  Copies value into buffer of max bytes + 1, or fails naming the key.
static int s_copy (char *buffer, size_t max, const char *value, const char *node, const char *key,
                   const char *path, char **error)
{
    if (strlen (value) > max) {
        zplfile_fail (error, path, "node %s: %s: longer than %zu bytes", node, key, max);
        return SHOAL_EFORMAT;
    }
    memcpy (buffer, value, strlen (value) + 1);
    return 0;
}

static int s_load_node (cluster_t *self, zconfig_t *section, const char *path, char **error)
{
    const char *name = zconfig_name (section);
    if (!cluster_valid_name (name)) {
        zplfile_fail (error, path, "node '%s': not a node name ([a-z0-9][a-z0-9_-]{0,31})", name);
        return SHOAL_EFORMAT;
    }
    if (cluster_find (self, name) >= 0) {
        zplfile_fail (error, path, "node %s: given twice", name);
        return SHOAL_EFORMAT;
    }
    if (self->count == CLUSTER_MAX_NODES) {
        zplfile_fail (error, path, "node %s: more than %d nodes", name, CLUSTER_MAX_NODES);
        return SHOAL_EFORMAT;
    }
    int i = self->count++;
    node_t *node = &self->nodes[i];
    snprintf (node->name, sizeof node->name, "%s", name);
    char what[CLUSTER_NAME_MAX + 8];
    snprintf (what, sizeof what, "node %s", name);
    bool shards = false;
    for (zconfig_t *item = zconfig_child (section); item; item = zconfig_next (item)) {
        const char *key = zconfig_name (item);
        const char *value = s_leaf (section, item, what, path, error);
        int rc = value ? 0 : SHOAL_EFORMAT;
        if (rc == 0 && streq (key, "client"))
            rc = s_copy (node->client, CLUSTER_ENDPOINT_MAX, value, name, key, path, error);
        else if (rc == 0 && streq (key, "peer"))
            rc = s_copy (node->peer, CLUSTER_ENDPOINT_MAX, value, name, key, path, error);
        else if (rc == 0 && streq (key, "peer_bind"))
            rc = s_copy (node->peer_bind, CLUSTER_ENDPOINT_MAX, value, name, key, path, error);
        else if (rc == 0 && streq (key, "public_key")) {
            if (!cluster_valid_key (value)) {
                zplfile_fail (error, path,
                              "node %s: public_key: '%s' is not a key (40 Z85 characters)", name,
                              value);
                rc = SHOAL_EFORMAT;
            } else
                rc = s_copy (node->key, CLUSTER_KEY_SIZE, value, name, key, path, error);
        } else if (rc == 0 && streq (key, "previous_key")) {
            rc = s_copy (node->previous, CLUSTER_KEY_SIZE, value, name, key, path, error);
        } else if (rc == 0 && streq (key, "shards")) {
            shards = true;
            rc = s_load_shards (self, i, value, path, error);
        } else if (rc == 0) {
            zplfile_fail (error, path,
                          "node %s: unknown key '%s' (expected client, peer, peer_bind, "
                          "public_key, previous_key, shards)",
                          name, key);
            rc = SHOAL_EFORMAT;
        }
        if (rc)
            return rc;
    }
    const char *missing = !node->client[0] ? "client"
                          : !node->peer[0] ? "peer"
                          : !node->key[0]  ? "public_key"
                          : !shards        ? "shards"
                                           : NULL;
    if (missing) {
        zplfile_fail (error, path, "node %s: missing %s", name, missing);
        return SHOAL_EFORMAT;
    }
    const char *keys[] = {"client", "peer", "peer_bind"};
    const char *values[] = {node->client, node->peer, node->peer_bind};
    for (int i = 0; i < 3; i++) {
        const char *problem = values[i][0] ? cluster_endpoint_problem (values[i]) : NULL;
        if (problem) {
            zplfile_fail (error, path, "node %s: %s: '%s' is not an endpoint: %s", name, keys[i],
                          values[i], problem);
            return SHOAL_EFORMAT;
        }
    }
    return 0;
}

cluster_t *cluster_load (const char *path, char **error)
{
    if (error)
        *error = NULL;
    zconfig_t *root = zplfile_load (path, CLUSTER_LINE_MAX, error);
    if (!root)
        return NULL;
    cluster_t *self = NULL;
    zconfig_t *cluster = NULL, *nodes = NULL;
    for (zconfig_t *section = zconfig_child (root); section; section = zconfig_next (section)) {
        const char *name = zconfig_name (section);
        zconfig_t **found = streq (name, "cluster") ? &cluster
                            : streq (name, "node")  ? &nodes
                                                    : NULL;
        if (!found) {
            zplfile_fail (error, path, "unknown section '%s' (expected cluster and node)", name);
            goto fail;
        }
        if (*found) {
            zplfile_fail (error, path, "section '%s' given twice", name);
            goto fail;
        }
        *found = section;
    }
    if (!cluster || !nodes) {
        zplfile_fail (error, path, "missing the %s section", cluster ? "node" : "cluster");
        goto fail;
    }
    if (s_load_cluster (&self, cluster, path, error))
        goto fail;
    for (zconfig_t *node = zconfig_child (nodes); node; node = zconfig_next (node))
        if (s_load_node (self, node, path, error))
            goto fail;
    if (self->count == 0) {
        zplfile_fail (error, path, "node: no nodes");
        goto fail;
    }
    if (s_check_map (self, path, error))
        goto fail;
    if (cluster_update_digest (self)) {
        zplfile_fail (error, path, "out of memory");
        goto fail;
    }
    zconfig_destroy (&root);
    return self;
fail:
    cluster_destroy (&self);
    zconfig_destroy (&root);
    return NULL;
}

//  --------------------------------------------------------------------------
//  Saving

//  Adds node i's shards to section as "shards" lines under RANGES_PER_LINE.
static int s_save_shards (const cluster_t *self, int i, zconfig_t *section)
{
    char *ranges = cluster_node_ranges (self, i);
    if (!ranges)
        return SHOAL_ENOMEM;
    char *p = ranges;
    do {
        size_t length = strlen (p);
        if (length > RANGES_PER_LINE) {
            length = RANGES_PER_LINE;
            while (p[length] != ',')
                length--;
        }
        zconfig_t *item = zconfig_new ("shards", section);
        if (!item) {
            free (ranges);
            return SHOAL_ENOMEM;
        }
        zconfig_set_value (item, "%.*s", (int) length, p);
        p += length;
        if (*p == ',')
            p++;
    } while (*p);
    free (ranges);
    return 0;
}

int cluster_save (const cluster_t *self, const char *path, char **error)
{
    assert (self && path);
    if (error)
        *error = NULL;
    int rc = s_check_map (self, path, error);
    if (rc)
        return rc;
    zconfig_t *root = zconfig_new ("root", NULL);
    zconfig_t *cluster = root ? zconfig_new ("cluster", root) : NULL;
    zconfig_t *nodes = cluster ? zconfig_new ("node", root) : NULL;
    rc = nodes ? 0 : SHOAL_ENOMEM;
    if (rc == 0) {
        zconfig_set_comment (root, "   shoal cluster map: copy it to every node as it is; "
                                   "`shoal cluster rekey` writes the next epoch; a node's "
                                   "shards never move");
        zconfig_put (cluster, "name", self->name);
        zconfig_putf (cluster, "shards", "%u", self->shards);
        zconfig_putf (cluster, "epoch", "%" PRId64, self->epoch);
    }
    for (int i = 0; rc == 0 && i < self->count; i++) {
        const node_t *node = &self->nodes[i];
        zconfig_t *section = zconfig_new (node->name, nodes);
        if (!section) {
            rc = SHOAL_ENOMEM;
            break;
        }
        zconfig_put (section, "client", node->client);
        zconfig_put (section, "peer", node->peer);
        if (node->peer_bind[0])
            zconfig_put (section, "peer_bind", node->peer_bind);
        zconfig_put (section, "public_key", node->key);
        if (node->previous[0])
            zconfig_put (section, "previous_key", node->previous);
        rc = s_save_shards (self, i, section);
    }
    char *text = rc == 0 ? zconfig_str_save (root) : NULL;
    if (rc == 0 && !text)
        rc = SHOAL_ENOMEM;
    if (rc == 0)
        rc = zplfile_save (path, text, strlen (text), error);
    else
        zplfile_fail (error, path, "out of memory");
    free (text);
    zconfig_destroy (&root);
    return rc;
}
