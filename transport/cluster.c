/*  cluster.c - the static cluster map itself (see cluster.h): the values
    it holds (names, endpoints, keys), planning one by rendezvous hashing,
    the owner table (one byte per shard), its accessors and its digest.
    Loading, validating and saving a cluster file are in cluster_file.c;
    cluster_internal.h holds what the two share.

    Threads: a map is plain data owned by one thread (cluster.h).
*/
#include "cluster_internal.h"
#include "log.h"
#include "shoal_base.h"

#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char s_z85[] = "0123456789abcdefghijklmnopqrstuvwxyz"
                            "ABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

//  --------------------------------------------------------------------------
//  Values

bool cluster_valid_name (const char *name)
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

//  True if text is a port number, 1 to 65535, and sets *port.
static bool s_port (const char *text, size_t length, long *port)
{
    long value = 0;
    for (size_t i = 0; i < length && value <= 65535; i++)
        value = text[i] >= '0' && text[i] <= '9' ? value * 10 + (text[i] - '0') : 65536;
    *port = value;
    return length > 0 && value >= 1 && value <= 65535;
}

//  A tcp:// address's port: after the host (a "[v6]" one in brackets) and
//  a ':', a number from 1 to 65535, or what czmq binds to a free port:
//  '*' or '!', alone or with a range "[FIRST-LAST]". libzmq itself takes
//  the number modulo 65536: tcp://127.0.0.1:70000 would listen on 4464.
static const char *s_tcp_problem (const char *address)
{
    if (address[0] == '[' && !strchr (address, ']'))
        return "an IPv6 address in brackets, [ADDRESS]:PORT, with its ']'";
    const char *colon = address[0] == '[' && strchr (address, ']') ? strchr (address, ']') + 1
                                                                   : strrchr (address, ':');
    if (!colon || *colon != ':' || colon == address)
        return "no port: expected tcp://HOST:PORT";
    const char *port = colon + 1;
    long first, last;
    if (*port == '*' || *port == '!') {
        const char *dash = strchr (port, '-');
        size_t length = strlen (port);
        if (port[1] == 0 ||
            (port[1] == '[' && dash && port[length - 1] == ']' &&
             s_port (port + 2, (size_t) (dash - port - 2), &first) &&
             s_port (dash + 1, (size_t) (port + length - 1 - dash - 1), &last) && first <= last))
            return NULL;
    } else if (s_port (port, strlen (port), &first))
        return NULL;
    return "its port is not a number from 1 to 65535 (or *, a free port)";
}

const char *cluster_endpoint_problem (const char *endpoint)
{
    if (strlen (endpoint) > CLUSTER_ENDPOINT_MAX)
        return "longer than 255 bytes";
    const char *address = NULL;
    bool tcp = strncmp (endpoint, "tcp://", 6) == 0;
    if (tcp)
        address = endpoint + 6;
    else if (strncmp (endpoint, "ipc://", 6) == 0)
        address = endpoint + 6;
    else if (strncmp (endpoint, "inproc://", 9) == 0)
        address = endpoint + 9;
    if (!address || !*address)
        return "expected tcp://, ipc:// or inproc:// and an address";
    for (const char *p = address; *p; p++)
        if (*p <= ' ' || *p > '~' || *p == '"' || *p == '\'')
            return "a space, a quote or a byte that is not printable ASCII";
    //  ZeroMQ reads tcp://SOURCE;ADDRESS, and binds ADDRESS: a check of
    //  the text before it (loopback?) would be fooled.
    if (tcp && strchr (address, ';'))
        return "a source address (before ';') is not taken: give the address alone";
    return tcp ? s_tcp_problem (address) : NULL;
}

const char *cluster_connect_problem (const char *endpoint)
{
    const char *problem = cluster_endpoint_problem (endpoint);
    if (!problem && strncmp (endpoint, "inproc://", 9) == 0)
        return "inproc:// is reached from within its own process only: give the node's tcp:// "
               "or ipc:// endpoint";
    if (problem || strncmp (endpoint, "tcp://", 6) != 0)
        return problem;
    const char *address = endpoint + 6;
    const char *colon = strrchr (address, ':');
    if (strncmp (address, "*:", 2) == 0 || (colon && (colon[1] == '*' || colon[1] == '!')))
        return "'*' (any address, a free port) is for a node to listen on, not for a client to "
               "connect to: give the node's own host and port";
    return NULL;
}

bool cluster_valid_endpoint (const char *endpoint)
{
    return cluster_endpoint_problem (endpoint) == NULL;
}

//  40 characters of the Z85 alphabet, each group of 5 at most 2^32 - 1.
bool cluster_valid_key (const char *key)
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
int cluster_update_digest (cluster_t *self)
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

cluster_t *cluster_new_empty (uint32_t shards)
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

const char *cluster_node_previous_key (const cluster_t *self, int i)
{
    assert (i >= 0 && i < self->count);
    return self->nodes[i].previous;
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
    if (i < 0 || i >= self->count || !public_txt || !cluster_valid_key (public_txt))
        return SHOAL_EINVAL;
    memcpy (self->nodes[i].key, public_txt, CLUSTER_KEY_SIZE + 1);
    return cluster_update_digest (self);
}

int cluster_rekey (cluster_t *self, int i, const char *public_txt)
{
    if (i < 0 || i >= self->count || !public_txt || !cluster_valid_key (public_txt) ||
        strcmp (public_txt, self->nodes[i].key) == 0)
        return SHOAL_EINVAL;
    for (int j = 0; j < self->count; j++)
        if (strcmp (public_txt, self->nodes[j].key) == 0 ||
            strcmp (public_txt, self->nodes[j].previous) == 0)
            return SHOAL_EINVAL;
    memcpy (self->nodes[i].previous, self->nodes[i].key, CLUSTER_KEY_SIZE + 1);
    memcpy (self->nodes[i].key, public_txt, CLUSTER_KEY_SIZE + 1);
    return cluster_update_digest (self);
}

int cluster_set_epoch (cluster_t *self, int64_t epoch)
{
    if (epoch < 1)
        return SHOAL_EINVAL;
    self->epoch = epoch;
    return cluster_update_digest (self);
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
    if (self && cluster_update_digest (self))
        cluster_destroy (&self);
    return self;
}

int cluster_set_client (cluster_t *self, int i, const char *client)
{
    if (i < 0 || i >= self->count || !client || strlen (client) > CLUSTER_ENDPOINT_MAX ||
        !cluster_valid_endpoint (client))
        return SHOAL_EINVAL;
    snprintf (self->nodes[i].client, sizeof self->nodes[i].client, "%s", client);
    return 0; //  the client endpoint is not part of the digest
}

int cluster_set_peer (cluster_t *self, int i, const char *peer, const char *bind)
{
    if (i < 0 || i >= self->count || !peer || !cluster_valid_endpoint (peer) ||
        (bind && !cluster_valid_endpoint (bind)) || strlen (peer) > CLUSTER_ENDPOINT_MAX ||
        (bind && strlen (bind) > CLUSTER_ENDPOINT_MAX))
        return SHOAL_EINVAL;
    node_t *node = &self->nodes[i];
    snprintf (node->peer, sizeof node->peer, "%s", peer);
    snprintf (node->peer_bind, sizeof node->peer_bind, "%s", bind ? bind : "");
    return cluster_update_digest (self);
}

cluster_t *cluster_plan (const char *name, int nodes, int shards, const char *host, int base_port)
{
    if (!name || !cluster_valid_name (name) || nodes < 1 || nodes > CLUSTER_MAX_NODES ||
        shards < 1 || shards > CLUSTER_MAX_SHARDS || !host || !*host || strlen (host) > 200 ||
        base_port < 1 || base_port + 2 * nodes - 1 > 65535)
        return NULL;
    cluster_t *self = cluster_new_empty ((uint32_t) shards);
    if (!self)
        return NULL;
    snprintf (self->name, sizeof self->name, "%s", name);
    self->count = nodes;
    for (int i = 0; i < nodes; i++) {
        node_t *node = &self->nodes[i];
        snprintf (node->name, sizeof node->name, "n%d", i + 1);
        snprintf (node->client, sizeof node->client, "tcp://%s:%d", host, base_port + 2 * i);
        snprintf (node->peer, sizeof node->peer, "tcp://%s:%d", host, base_port + 2 * i + 1);
        if (!cluster_valid_endpoint (node->client)) {
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
    //  Rendezvous leaves a node with no shard now and then (3 of 8 nodes at
    //  8 shards, 1 of 32 at 128): each such node takes, from the node that
    //  owns the most, the shard it weighs most. The map, not the hash, is
    //  what every node reads afterwards.
    for (int empty = 0; empty < nodes; empty++) {
        if (self->nodes[empty].count)
            continue;
        int richest = 0;
        for (int i = 1; i < nodes; i++)
            if (self->nodes[i].count > self->nodes[richest].count)
                richest = i;
        uint32_t taken = 0;
        uint64_t taken_weight = 0;
        bool any = false;
        for (uint32_t shard = 0; shard < (uint32_t) shards; shard++) {
            uint64_t weight = s_weight (self->nodes[empty].name, shard);
            if (self->owner[shard] == richest && (!any || weight > taken_weight)) {
                taken = shard;
                taken_weight = weight;
                any = true;
            }
        }
        if (!any || self->nodes[richest].count < 2)
            break; //  fewer shards than nodes: cluster init refuses that first
        self->owner[taken] = (uint8_t) empty;
        self->nodes[richest].count--;
        self->nodes[empty].count++;
    }
    if (cluster_update_digest (self))
        cluster_destroy (&self);
    return self;
}

//  Warns, as ssh does, when the secret key at path is open to others than
//  its owner. A warning, not a refusal: `shoal cluster init` writes every
//  secret 0600, but a certificate reaches a node by a copy (scp, a config
//  tool) or is made by hand (czmq's zcert saves its secret 0644 under the
//  usual umask), and a node that will not start is worse than a key that
//  must be tightened.
//  Once per process, file and mode: a command that talks to every node
//  loads the client certificate once per node, and said it each time.
static void s_check_secret_mode (const char *path)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static char warned[8][256];
    static size_t warned_count;
    struct stat st;
    if (stat (path, &st) != 0 || !(st.st_mode & 077))
        return;
    char key[256];
    if (snprintf (key, sizeof key, "%04o %s", (unsigned) (st.st_mode & 07777), path) >=
        (int) sizeof key)
        key[0] = 0; //  too long to keep: said every time
    pthread_mutex_lock (&lock);
    bool said = false;
    for (size_t i = 0; i < warned_count && !said && key[0]; i++)
        said = strcmp (warned[i], key) == 0;
    if (!said && key[0] && warned_count < sizeof warned / sizeof warned[0])
        snprintf (warned[warned_count++], sizeof warned[0], "%s", key);
    pthread_mutex_unlock (&lock);
    if (!said)
        log_warn ("UNPROTECTED PRIVATE KEY FILE: %s is mode %04o: others than its owner may "
                  "read the secret key, and act as its node or client. Run: chmod 600 %s",
                  path, (unsigned) (st.st_mode & 07777), path);
}

zcert_t *cluster_cert_load (const char *path, char **error)
{
    *error = NULL;
    char secret_path[4096];
    if (snprintf (secret_path, sizeof secret_path, "%s_secret", path) >= (int) sizeof secret_path) {
        *error = zsys_sprintf ("the path %s is too long", path);
        return NULL;
    }
    if (access (path, R_OK) != 0 || access (secret_path, R_OK) != 0) {
        const char *which = access (path, R_OK) != 0 ? path : secret_path;
        *error = zsys_sprintf ("cannot read %s: %s", which, strerror (errno));
        return NULL;
    }
    struct stat st;
    const char *empty = stat (path, &st) == 0 && st.st_size == 0          ? path
                        : stat (secret_path, &st) == 0 && st.st_size == 0 ? secret_path
                                                                          : NULL;
    if (empty) {
        *error = zsys_sprintf ("%s is empty", empty);
        return NULL;
    }
    zcert_t *cert = zcert_load (path);
    if (!cert) {
        *error = zsys_sprintf ("%s or %s is not a certificate", path, secret_path);
        return NULL;
    }
    //  zcert_load reads the public key from the _secret file too: the
    //  public file's own must be the same.
    zconfig_t *public_file = zconfig_load (path);
    const char *public_txt =
        public_file ? zconfig_get (public_file, "/curve/public-key", NULL) : NULL;
    static const uint8_t zero[32];
    char derived[41];
    if (!public_txt)
        *error = zsys_sprintf ("%s holds no public key", path);
    else if (strcmp (public_txt, zcert_public_txt (cert)) != 0)
        *error = zsys_sprintf ("the secret key in %s is not the one of the public key in %s",
                               secret_path, path);
    else if (memcmp (zcert_secret_key (cert), zero, sizeof zero) == 0)
        *error = zsys_sprintf ("%s holds no secret key", secret_path);
    else if (zmq_curve_public (derived, zcert_secret_txt (cert)) != 0 ||
             strcmp (derived, zcert_public_txt (cert)) != 0)
        *error = zsys_sprintf ("the secret key in %s is not the one of the public key in %s",
                               secret_path, path);
    zconfig_destroy (&public_file);
    if (*error)
        zcert_destroy (&cert);
    else
        s_check_secret_mode (secret_path);
    return cert;
}
