/*  cluster.c - the static cluster map (see cluster.h): loading and
    validating a cluster file, saving one, planning one by rendezvous
    hashing, and its digest.

    A file is read with zplfile_load (czmq's zconfig parser behind a line
    check that reports bad lines by number) and then validated key by
    key; it is written with zplfile_save. The owner table is one byte per
    shard.
*/
#include "cluster.h"
#include "shoal_base.h"
#include "zplfile.h"

#include <czmq.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_OWNER 0xFF //  in the owner table: unowned
#define EPOCH_MAX INT64_MAX
#define RANGES_PER_LINE (CLUSTER_LINE_MAX - 100) //  bytes of one shards value

typedef struct {
    char name[CLUSTER_NAME_MAX + 1];          //  [a-z0-9][a-z0-9_-]{0,31}
    char client[CLUSTER_ENDPOINT_MAX + 1];    //  where clients connect
    char peer[CLUSTER_ENDPOINT_MAX + 1];      //  where other nodes connect
    char peer_bind[CLUSTER_ENDPOINT_MAX + 1]; //  where it listens for them, "" = peer
    char key[CLUSTER_KEY_SIZE + 1];           //  CURVE public key, Z85, "" = unset
    uint32_t count;                           //  shards it owns
} node_t;

struct _cluster_t {
    char name[CLUSTER_NAME_MAX + 1]; //  the cluster's name
    uint32_t shards;                 //  S, 1..CLUSTER_MAX_SHARDS
    int64_t epoch;                   //  >= 1
    int count;                       //  nodes, 1..CLUSTER_MAX_NODES
    node_t nodes[CLUSTER_MAX_NODES]; //  in file order
    uint8_t *owner;                  //  S entries: a node index or NO_OWNER
    char digest[41];                 //  of the canonical map, hex
};

static const char s_z85[] = "0123456789abcdefghijklmnopqrstuvwxyz"
                            "ABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

//  --------------------------------------------------------------------------
//  Errors: "PATH: what" into *error (if error is not NULL).

//  --------------------------------------------------------------------------
//  Values

static bool s_valid_name (const char *name)
{
    size_t length = strlen (name);
    if (length < 1 || length > CLUSTER_NAME_MAX)
        return false;
    for (size_t i = 0; i < length; i++) {
        char c = name[i];
        bool ok =
            (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && (c == '_' || c == '-'));
        if (!ok)
            return false;
    }
    return true;
}

//  A ZeroMQ endpoint we can write in a quoted ZPL value: tcp://, ipc:// or
//  inproc:// and an address of printable ASCII without spaces or quotes.
static bool s_valid_endpoint (const char *endpoint)
{
    size_t length = strlen (endpoint);
    if (length > CLUSTER_ENDPOINT_MAX)
        return false;
    const char *address = NULL;
    if (strncmp (endpoint, "tcp://", 6) == 0)
        address = endpoint + 6;
    else if (strncmp (endpoint, "ipc://", 6) == 0)
        address = endpoint + 6;
    else if (strncmp (endpoint, "inproc://", 9) == 0)
        address = endpoint + 9;
    if (!address || !*address)
        return false;
    for (const char *p = address; *p; p++)
        if (*p <= ' ' || *p > '~' || *p == '"' || *p == '\'')
            return false;
    return true;
}

//  40 characters of the Z85 alphabet, each group of 5 at most 2^32 - 1.
static bool s_valid_key (const char *key)
{
    if (strlen (key) != CLUSTER_KEY_SIZE)
        return false;
    for (int group = 0; group < CLUSTER_KEY_SIZE; group += 5) {
        uint64_t value = 0;
        for (int i = group; i < group + 5; i++) {
            const char *digit = strchr (s_z85, key[i]);
            if (!digit)
                return false;
            value = value * 85 + (uint64_t) (digit - s_z85);
        }
        if (value > UINT32_MAX)
            return false;
    }
    return true;
}

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
//  Rendezvous hashing: FNV-1a over the node name, a separator and the
//  shard's four bytes, then murmur3's 64-bit finaliser so that names
//  differing in one byte give unrelated weights.

static uint64_t s_weight (const char *name, uint32_t shard)
{
    const uint64_t prime = 0x100000001b3ULL;
    uint64_t hash = 0xcbf29ce484222325ULL;
    for (const char *p = name; *p; p++)
        hash = (hash ^ (uint8_t) *p) * prime;
    hash = (hash ^ 0xFF) * prime; //  not a name byte: "n1"+shard != "n"+...
    for (int i = 0; i < 4; i++)
        hash = (hash ^ ((shard >> (8 * i)) & 0xFF)) * prime;
    hash ^= hash >> 33;
    hash *= 0xff51afd7ed558ccdULL;
    hash ^= hash >> 33;
    hash *= 0xc4ceb9fe1a85ec53ULL;
    hash ^= hash >> 33;
    return hash;
}

//  --------------------------------------------------------------------------
//  The digest of the canonical map

char *cluster_node_ranges (const cluster_t *self, int i)
{
    assert (self && i >= 0 && i < self->count);
    size_t size = 0, max = 64;
    char *text = malloc (max);
    if (!text)
        return NULL;
    text[0] = 0;
    uint32_t shard = 0;
    while (shard < self->shards) {
        if (self->owner[shard] != i) {
            shard++;
            continue;
        }
        uint32_t last = shard;
        while (last + 1 < self->shards && self->owner[last + 1] == i)
            last++;
        if (max - size < 32) {
            char *bigger = realloc (text, max * 2);
            if (!bigger) {
                free (text);
                return NULL;
            }
            text = bigger;
            max *= 2;
        }
        const char *comma = size ? "," : "";
        if (last == shard)
            size += (size_t) snprintf (text + size, max - size, "%s%u", comma, shard);
        else
            size += (size_t) snprintf (text + size, max - size, "%s%u-%u", comma, shard, last);
        shard = last + 1;
    }
    return text;
}

static int s_by_name (const void *a, const void *b)
{
    return strcmp ((*(const node_t *const *) a)->name, (*(const node_t *const *) b)->name);
}

//  Recomputes self->digest. Returns 0 or SHOAL_ENOMEM.
static int s_update_digest (cluster_t *self)
{
    zdigest_t *digest = zdigest_new ();
    const node_t *sorted[CLUSTER_MAX_NODES];
    if (!digest)
        return SHOAL_ENOMEM;
    char *text = zsys_sprintf ("shoal cluster map 1\nname %s\nshards %u\nepoch %" PRId64 "\n",
                               self->name, self->shards, self->epoch);
    if (!text)
        goto fail;
    zdigest_update (digest, (const byte *) text, strlen (text));
    zstr_free (&text);
    for (int i = 0; i < self->count; i++)
        sorted[i] = &self->nodes[i];
    qsort (sorted, (size_t) self->count, sizeof sorted[0], s_by_name);
    for (int i = 0; i < self->count; i++) {
        char *ranges = cluster_node_ranges (self, (int) (sorted[i] - self->nodes));
        if (ranges)
            text = zsys_sprintf ("node %s\npeer %s\nkey %s\nshards %s\n", sorted[i]->name,
                                 sorted[i]->peer, sorted[i]->key, ranges);
        free (ranges);
        if (!text)
            goto fail;
        zdigest_update (digest, (const byte *) text, strlen (text));
        zstr_free (&text);
    }
    snprintf (self->digest, sizeof self->digest, "%s", zdigest_string (digest));
    zdigest_destroy (&digest);
    return 0;
fail:
    zdigest_destroy (&digest);
    return SHOAL_ENOMEM;
}

//  --------------------------------------------------------------------------
//  Lifecycle and accessors

static cluster_t *s_new (uint32_t shards)
{
    cluster_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->owner = malloc (shards);
    if (!self->owner) {
        free (self);
        return NULL;
    }
    memset (self->owner, NO_OWNER, shards);
    self->shards = shards;
    self->epoch = 1;
    return self;
}

void cluster_destroy (cluster_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        free ((*self_p)->owner);
        free (*self_p);
        *self_p = NULL;
    }
}

const char *cluster_name (const cluster_t *self)
{
    return self->name;
}

uint32_t cluster_shards (const cluster_t *self)
{
    return self->shards;
}

int64_t cluster_epoch (const cluster_t *self)
{
    return self->epoch;
}

int cluster_node_count (const cluster_t *self)
{
    return self->count;
}

const char *cluster_node_name (const cluster_t *self, int i)
{
    assert (i >= 0 && i < self->count);
    return self->nodes[i].name;
}

const char *cluster_node_client (const cluster_t *self, int i)
{
    assert (i >= 0 && i < self->count);
    return self->nodes[i].client;
}

const char *cluster_node_peer_bind (const cluster_t *self, int i)
{
    assert (i >= 0 && i < self->count);
    return self->nodes[i].peer_bind[0] ? self->nodes[i].peer_bind : self->nodes[i].peer;
}

const char *cluster_node_peer (const cluster_t *self, int i)
{
    assert (i >= 0 && i < self->count);
    return self->nodes[i].peer;
}

const char *cluster_node_key (const cluster_t *self, int i)
{
    assert (i >= 0 && i < self->count);
    return self->nodes[i].key;
}

uint32_t cluster_node_shard_count (const cluster_t *self, int i)
{
    assert (i >= 0 && i < self->count);
    return self->nodes[i].count;
}

int cluster_owner (const cluster_t *self, uint32_t shard)
{
    return shard < self->shards ? self->owner[shard] : -1;
}

int cluster_find (const cluster_t *self, const char *name)
{
    for (int i = 0; i < self->count; i++)
        if (strcmp (self->nodes[i].name, name) == 0)
            return i;
    return -1;
}

const char *cluster_digest (const cluster_t *self)
{
    return self->digest;
}

int cluster_set_key (cluster_t *self, int i, const char *public_txt)
{
    if (i < 0 || i >= self->count || !public_txt || !s_valid_key (public_txt))
        return SHOAL_EINVAL;
    memcpy (self->nodes[i].key, public_txt, CLUSTER_KEY_SIZE + 1);
    return s_update_digest (self);
}

int cluster_set_epoch (cluster_t *self, int64_t epoch)
{
    if (epoch < 1)
        return SHOAL_EINVAL;
    self->epoch = epoch;
    return s_update_digest (self);
}

//  --------------------------------------------------------------------------
//  Planning

cluster_t *cluster_plan_ipc (const char *name, int nodes, int shards, const char *dir)
{
    if (!dir || dir[0] != '/' || strlen (dir) > 80)
        return NULL; //  a unix socket's path is at most 107 bytes
    cluster_t *self = cluster_plan (name, nodes, shards, "127.0.0.1", 1);
    for (int i = 0; self && i < nodes; i++) {
        node_t *node = &self->nodes[i];
        char name[CLUSTER_NAME_MAX + 1]; //  a copy: the name is in the same struct
        memcpy (name, node->name, sizeof name);
        snprintf (node->client, sizeof node->client, "ipc://%s/%s/client.ipc", dir, name);
        snprintf (node->peer, sizeof node->peer, "ipc://%s/%s/peer.ipc", dir, name);
    }
    if (self && s_update_digest (self))
        cluster_destroy (&self);
    return self;
}

int cluster_set_client (cluster_t *self, int i, const char *client)
{
    if (i < 0 || i >= self->count || !client || strlen (client) > CLUSTER_ENDPOINT_MAX ||
        !s_valid_endpoint (client))
        return SHOAL_EINVAL;
    snprintf (self->nodes[i].client, sizeof self->nodes[i].client, "%s", client);
    return 0; //  the client endpoint is not part of the digest
}

int cluster_set_peer (cluster_t *self, int i, const char *peer, const char *bind)
{
    if (i < 0 || i >= self->count || !peer || !s_valid_endpoint (peer) ||
        (bind && !s_valid_endpoint (bind)) || strlen (peer) > CLUSTER_ENDPOINT_MAX ||
        (bind && strlen (bind) > CLUSTER_ENDPOINT_MAX))
        return SHOAL_EINVAL;
    node_t *node = &self->nodes[i];
    snprintf (node->peer, sizeof node->peer, "%s", peer);
    snprintf (node->peer_bind, sizeof node->peer_bind, "%s", bind ? bind : "");
    return s_update_digest (self);
}

cluster_t *cluster_plan (const char *name, int nodes, int shards, const char *host, int base_port)
{
    if (!name || !s_valid_name (name) || nodes < 1 || nodes > CLUSTER_MAX_NODES || shards < 1 ||
        shards > CLUSTER_MAX_SHARDS || !host || !*host || strlen (host) > 200 || base_port < 1 ||
        base_port + 2 * nodes - 1 > 65535)
        return NULL;
    cluster_t *self = s_new ((uint32_t) shards);
    if (!self)
        return NULL;
    snprintf (self->name, sizeof self->name, "%s", name);
    self->count = nodes;
    for (int i = 0; i < nodes; i++) {
        node_t *node = &self->nodes[i];
        snprintf (node->name, sizeof node->name, "n%d", i + 1);
        snprintf (node->client, sizeof node->client, "tcp://%s:%d", host, base_port + 2 * i);
        snprintf (node->peer, sizeof node->peer, "tcp://%s:%d", host, base_port + 2 * i + 1);
        if (!s_valid_endpoint (node->client)) {
            cluster_destroy (&self);
            return NULL;
        }
    }
    for (uint32_t shard = 0; shard < (uint32_t) shards; shard++) {
        int best = 0;
        uint64_t best_weight = s_weight (self->nodes[0].name, shard);
        for (int i = 1; i < nodes; i++) {
            uint64_t weight = s_weight (self->nodes[i].name, shard);
            if (weight > best_weight) {
                best = i;
                best_weight = weight;
            }
        }
        self->owner[shard] = (uint8_t) best;
        self->nodes[best].count++;
    }
    if (s_update_digest (self))
        cluster_destroy (&self);
    return self;
}

//  --------------------------------------------------------------------------
//  Validation shared by load and save: keys well formed, names, endpoints
//  and keys unique, every shard owned. Returns 0 or SHOAL_EINVAL.

static int s_check_map (const cluster_t *self, const char *path, char **error)
{
    for (int i = 0; i < self->count; i++) {
        const node_t *node = &self->nodes[i];
        if (!node->key[0]) {
            zplfile_fail (error, path, "node %s: public_key: not set", node->name);
            return SHOAL_EINVAL;
        }
        if (!s_valid_key (node->key)) {
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
        }
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
    if (!s_valid_name (name)) {
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
    *self_p = s_new ((uint32_t) count);
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
    if (!s_valid_name (name)) {
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
            if (!s_valid_key (value)) {
                zplfile_fail (error, path,
                              "node %s: public_key: '%s' is not a key (40 Z85 characters)", name,
                              value);
                rc = SHOAL_EFORMAT;
            } else
                rc = s_copy (node->key, CLUSTER_KEY_SIZE, value, name, key, path, error);
        } else if (rc == 0 && streq (key, "shards")) {
            shards = true;
            rc = s_load_shards (self, i, value, path, error);
        } else if (rc == 0) {
            zplfile_fail (error, path,
                          "node %s: unknown key '%s' (expected client, peer, peer_bind, "
                          "public_key, shards)",
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
    const char *bad = !s_valid_endpoint (node->client)                            ? "client"
                      : !s_valid_endpoint (node->peer)                            ? "peer"
                      : node->peer_bind[0] && !s_valid_endpoint (node->peer_bind) ? "peer_bind"
                                                                                  : NULL;
    if (bad) {
        zplfile_fail (
            error, path,
            "node %s: %s: '%s' is not an endpoint (tcp://, ipc:// or inproc:// and an address)",
            name, bad,
            streq (bad, "client") ? node->client
            : streq (bad, "peer") ? node->peer
                                  : node->peer_bind);
        return SHOAL_EFORMAT;
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
    if (s_update_digest (self)) {
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
        zconfig_set_comment (root, "   shoal cluster map: copy it to every node; change it only "
                                   "with a new epoch");
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
