/*  cluster.h - the static cluster map: which nodes a cluster has, where
    they listen, their CURVE public keys, and which node owns each shard.

    A cluster file is ZPL (czmq zconfig), written once by `shoal cluster
    init`, copied to every machine, and changed only by an operator step
    that bumps the epoch:

        cluster
            name = "bank"
            shards = "256"
            epoch = "1"
        node
            n1
                client = "tcp://127.0.0.1:7700"
                peer = "tcp://127.0.0.1:7701"
                public_key = "...40 Z85 characters..."
                previous_key = "..."    (optional: its key before a rekey)
                shards = "0-3,9,12-15"

    Conventions:
    1. A map is valid or it does not exist: cluster_load refuses any file
       that is not a complete map (every shard 0..S-1 owned by exactly one
       node, names, endpoints and keys well formed and unique), and
       cluster_save refuses to write one that cluster_load would refuse.
    2. Errors from the disk or the file are returned, never asserted: a
       NULL or negative SHOAL_E... result, and where the function takes
       char **error, a message the caller frees with free(), naming the
       file, the node and the key ("cluster.cfg: node n2: shards: 17 is
       also owned by n1"). error may be NULL.
    3. Nodes are numbered 0..count-1 in file order; "node i" below means
       that index. Strings returned are borrowed from the map and valid
       until it is destroyed or, for a key, until that key is set again.
    4. A node's shards go on as many "shards" lines as needed, each under
       CLUSTER_LINE_MAX bytes: zconfig cuts longer lines. A file with a
       longer line is refused.
    5. A map is plain data owned by one thread; once loaded, concurrent
       readers of a map nobody modifies are fine.
*/
#ifndef CLUSTER_H_INCLUDED
#define CLUSTER_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#define CLUSTER_MAX_NODES 64
#define CLUSTER_MAX_SHARDS 65536
#define CLUSTER_NAME_MAX 32      //  bytes of a node or cluster name
#define CLUSTER_ENDPOINT_MAX 255 //  bytes of an endpoint
#define CLUSTER_KEY_SIZE 40      //  a CURVE public key in Z85
#define CLUSTER_LINE_MAX 1000    //  bytes of a line in a cluster file

typedef struct _cluster_t cluster_t;

//  Reads and validates the cluster file at path (ZPL, read with czmq's
//  zconfig parser). Returns the map, or NULL and sets *error (see 2).
//  Can't crash on any file contents.
cluster_t *cluster_load (const char *path, char **error);

//  What is wrong with endpoint as a ZeroMQ endpoint of a cluster file or
//  a node: NULL if nothing, else a static phrase ("its port is not a
//  number from 1 to 65535 (or *, a free port)") for a message that names
//  the endpoint. A good one is tcp://, ipc:// or inproc:// and an address
//  of printable ASCII without spaces or quotes, at most
//  CLUSTER_ENDPOINT_MAX bytes; a tcp:// address ends with :PORT, PORT 1
//  to 65535 or '*'. This function can't fail.
const char *cluster_endpoint_problem (const char *endpoint);

//  The same for an endpoint a client of another process connects to (the
//  command line's): a tcp:// host or port of '*' (or '!'), which only a
//  bind takes, is refused too, and inproc://, which no other process
//  reaches.
const char *cluster_connect_problem (const char *endpoint);

//  Loads the certificate at path and its secret half (path_secret), as
//  zcert_load does, and checks the pair: neither file is empty, the
//  public file has a public key, a secret key is there (zcert_load takes
//  a missing or unreadable _secret file as an all-zero key) and it is the
//  public key's own (zmq_curve_public). Returns the certificate, or
//  NULL with *error set (free with free()): a node or client with a wrong
//  secret would start and then fail every CURVE handshake, saying nothing.
//  A _secret file that others than its owner may read (mode & 077) is
//  taken, with a warning in the log (log.h) naming it, its mode and
//  `chmod 600`.
typedef struct _zcert_t zcert_t;
zcert_t *cluster_cert_load (const char *path, char **error);

//  Writes the map to path in the format above: to path.tmp, fsync, then
//  rename over path and fsync the directory, so that path is always the
//  old map or the new one. Returns 0, SHOAL_EINVAL if the map is
//  incomplete (a node without a public key), or SHOAL_EIO; sets *error.
//  Two processes must not save to the same path at once.
int cluster_save (const cluster_t *self, const char *path, char **error);

//  Checks that no two endpoints of the map are the same (a node's client
//  and peer, or another node's), as cluster_save and cluster_load do, on
//  a map whose keys are not set yet: `shoal cluster init` asks before it
//  writes anything. Returns 0, or SHOAL_EINVAL with *error set ("path:
//  node n2: client: ... is also node n1's client endpoint"; free it).
int cluster_check_endpoints (const cluster_t *self, const char *path, char **error);

//  Returns a new map of name with nodes n1..nN (nodes 1..64) and shards
//  shards (1..65536) at epoch 1. Node i (from 0) has client endpoint
//  tcp://HOST:BASE+2i and peer endpoint tcp://HOST:BASE+2i+1, and no
//  public key until cluster_set_key. Shards are placed by rendezvous
//  hashing of (node name, shard), so that adding a node to a plan moves
//  about 1/N of the shards, all of them to the new node. Returns NULL if
//  an argument is out of range (name not a valid name, ports past 65535).
cluster_t *cluster_plan (const char *name, int nodes, int shards, const char *host, int base_port);
//  The same with ipc:// endpoints under dir (absolute, at most 80 bytes):
//  ipc://DIR/NAME/client.ipc and ipc://DIR/NAME/peer.ipc, for a cluster
//  on one machine that no other process can reach but through the files.
cluster_t *cluster_plan_ipc (const char *name, int nodes, int shards, const char *dir);

//  Destroys the map and sets *self_p to NULL. Safe to call twice.
void cluster_destroy (cluster_t **self_p);

//  Sets node i's public key. Returns 0, or SHOAL_EINVAL if i is not a
//  node or public_txt is not 40 valid Z85 characters.
int cluster_set_key (cluster_t *self, int i, const char *public_txt);

//  Gives node i a new public key (`shoal cluster rekey`): its key so far
//  becomes its previous_key, which its store may still hold (node.c takes
//  the store over to the new key at its next start). The caller then
//  sets the next epoch, once for all the nodes it rekeys, so that a node
//  still on the map before refuses this one. Returns 0, or SHOAL_EINVAL
//  if i is not a node or public_txt is not a key, is node i's key
//  already, or is any node's key or previous key.
int cluster_rekey (cluster_t *self, int i, const char *public_txt);

//  Sets the epoch (>= 1). Returns 0 or SHOAL_EINVAL.
int cluster_set_epoch (cluster_t *self, int64_t epoch);

//  The map's name, shard count S, epoch and node count. Can't fail.
const char *cluster_name (const cluster_t *self);
uint32_t cluster_shards (const cluster_t *self);
int64_t cluster_epoch (const cluster_t *self);
int cluster_node_count (const cluster_t *self);

//  Node i's name, client endpoint, peer endpoint, public key ("" when not
//  set yet) and number of owned shards. i must be a node.
const char *cluster_node_name (const cluster_t *self, int i);
const char *cluster_node_client (const cluster_t *self, int i);
const char *cluster_node_peer (const cluster_t *self, int i);
//  Where node i listens for its peers: its optional peer_bind (an address
//  of its own, when the others reach it through another, such as a proxy
//  or a NAT), else its peer endpoint. Not part of the digest.
const char *cluster_node_peer_bind (const cluster_t *self, int i);
//  Sets node i's peer endpoint and, if bind is not NULL, the address it
//  binds instead. Returns 0 or SHOAL_EINVAL.
int cluster_set_peer (cluster_t *self, int i, const char *peer, const char *bind);
//  Sets node i's client endpoint. Returns 0 or SHOAL_EINVAL.
int cluster_set_client (cluster_t *self, int i, const char *client);
const char *cluster_node_key (const cluster_t *self, int i);
//  Node i's key before its last rekey ("" for none): not part of the
//  digest, and no peer is let in with it. Only a node's own store, written
//  under it, is taken over to the new key.
const char *cluster_node_previous_key (const cluster_t *self, int i);
uint32_t cluster_node_shard_count (const cluster_t *self, int i);

//  Node i's shards as compact ranges ("0-17,40,52-60", "" for none).
//  Returns a string the caller frees with free(), or NULL if out of
//  memory.
char *cluster_node_ranges (const cluster_t *self, int i);

//  The index of the node owning shard, or -1 if shard >= S. O(1).
int cluster_owner (const cluster_t *self, uint32_t shard);

//  The index of the node named name, or -1. O(nodes).
int cluster_find (const cluster_t *self, const char *name);

//  The SHA-1 (czmq zdigest) of the canonical map, 40 upper-case hex
//  digits: name, shard count, epoch, and for each node (sorted by name)
//  its name, peer endpoint, public key and owned shards. Two nodes agree
//  on the map when their digests are equal; client endpoints and the
//  order of nodes in the file do not count. Borrowed until the map
//  changes or is destroyed.
const char *cluster_digest (const cluster_t *self);

#endif
