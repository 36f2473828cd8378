/*  peers.h - a node's links to the other nodes of its cluster.

    Every link is CURVE, both ways: the node binds a ROUTER on its peer
    endpoint (CURVE server, ZAP domain AUTH_DOMAIN_PEER: only the keys of the
    cluster file get in) and connects one DEALER to each other node's peer
    endpoint (CURVE client, the peer's public key from the cluster file).
    Traffic from A to B goes A's DEALER -> B's ROUTER, so each direction is
    one ordered pipe; only B's ANSWER to A's CALL comes back on the same
    connection (B's ROUTER -> A's DEALER), so that it never waits for B's
    own link to A to come up. A takes an ANSWER there only: on A's ROUTER
    it is refused (it would hand any frame to any client of A's).

    A link is up once the peer has welcomed our HELLO (same cluster name,
    epoch and shard-map digest); a peer with another map refuses us, and we
    refuse it, so no shard is served by two nodes. ZeroMQ heartbeats find a
    dead or frozen peer (PEERS_HEARTBEAT_TIMEOUT_MS); its DEALER then
    disconnects and the link is down until it reconnects and is welcomed
    again. Both changes are logged.

    A link that is up says HELLO again every PEERS_HEARTBEAT_IVL_MS, so its
    peer knows it still arrives: each node also keeps when a peer's link
    last brought it a frame (peers_silent_ms). Only the node that owns a
    link (its DEALER) sees it go down: when the bytes towards the peer are
    dropped but the peer's come back on the same connection, the DEALER's
    own heartbeat never times out (any frame received resets it), and the
    peer's ROUTER closes the connection on its timeout without a word to
    the peer's node. So a link cut one way is down as its owner sees it,
    and silent as the node at its other end sees it; each logs it.

    Frames on a link (the ROUTER sees the DEALER's routing id first):
        ["HELLO", cluster, epoch, digest, name]  -> ["WELCOME"] | ["REFUSE", why]
        ["MSG", envelope]                        an actor's message
        ["CALL", route, envelope]                a client's command or query
        ["ANSWER", route, envelope]              the reply to a CALL, ROUTER -> DEALER
    The sender of a frame is known by its CURVE key (the "User-Id" that the
    ZAP handler sets), never by what it claims.

    Owned by the node's front thread; not thread-safe, but for peers_link.
*/
#ifndef PEERS_H_INCLUDED
#define PEERS_H_INCLUDED

#include "cluster.h"
#include "journal.h"
#include <czmq.h>

#define PEERS_HEARTBEAT_IVL_MS 500
#define PEERS_HEARTBEAT_TIMEOUT_MS 2000
//  A connection to the peer endpoint that has not finished its greeting and
//  CURVE handshake by then is closed (libzmq's default, 30 s, let anyone
//  who reaches the port hold a file descriptor per idle connection).
#define PEERS_HANDSHAKE_IVL_MS 3000
//  How long a peer's HELLO of another map at our epoch holds commands up
//  after it (a refused peer says HELLO again every few hundred ms). A
//  refusal of our store holds them until --restored (peers_seen.h).
#define PEERS_CONFLICT_MS 5000

typedef struct _peers_t peers_t;

typedef enum { PEERS_MSG = 1, PEERS_CALL, PEERS_ANSWER, PEERS_REFUSED, PEERS_REACHED } peers_kind_t;

//  Called for each data frame a welcomed peer sent: kind, the node index
//  it came from, the route (CALL and ANSWER; empty for MSG), the envelope,
//  and for a CALL the key of the client it was forwarded for (Z85, as
//  peers_call gave it; NULL if none was given), all borrowed for the call.
//  PEERS_REFUSED: a frame refused here (an ANSWER on our ROUTER), given
//  only to be counted. PEERS_REACHED, with no frame: node's links work
//  both ways again (ours up, its frames heard within the heartbeat
//  timeout), after they did not (down, cut one way, or never up yet):
//  what was sent to it meanwhile was lost, and may go now.
typedef void (peers_deliver_fn) (void *arg, peers_kind_t kind, int from, const uint8_t *route,
                                 size_t route_size, const uint8_t *envelope, size_t size,
                                 const char *key);

//  Binds the peer endpoint of node self_index and connects to the others.
//  cert is this node's certificate (with its secret key); both it and the
//  cluster must outlive the object. Returns NULL with *error (free() it).
//  The ZAP handler must be running.
peers_t *peers_new (const cluster_t *cluster, int self_index, zcert_t *cert, const char *prefix,
                    char **error);
void peers_destroy (peers_t **self_p);

//  The sockets to poll (ZMQ_POLLIN): fills at most max items, returns how
//  many. The set never changes after peers_new.
int peers_poll_items (peers_t *self, zmq_pollitem_t *items, int max);

//  Handles whatever the polled sockets have (items as filled, after
//  zmq_poll), delivering data frames to fn. Also re-sends HELLO to links
//  not yet up; call it at least every PEERS_HEARTBEAT_IVL_MS.
void peers_process (peers_t *self, zmq_pollitem_t *items, peers_deliver_fn *fn, void *arg);

//  Our HELLO and WELCOME say where our store's event log ends, durably
//  (journal_log_end), whether we run async, and our store's restore
//  generation gen (peers_seen.h); and we keep how far we saw each peer's
//  in dir, refusing the HELLO and the WELCOME of one whose log ends
//  before that at the generation kept, or whose generation is older.
//  Without this call, neither is said nor checked. Call it before the
//  first peers_process. Returns 0 or SHOAL_ENOMEM.
//  taken: the operator takes our store as it is (--restored, or made new
//  with --new-store): a mark of a refusal is removed; else one found makes
//  us take no client command and say "behind" until then.
//  hold_ms: how long our start holds clients while no peer has checked our
//  store (peers_seen_open).
int peers_set_store (peers_t *self, journal_t *journal, const char *dir, bool async, uint64_t gen,
                     bool taken, int64_t hold_ms);

//  The name of a peer that refused our HELLO for a store behind what it
//  saw of it (since, our store bears the mark: until --restored, across
//  restarts), else NULL: we take no client command meanwhile
//  (front_map_conflict). Safe from any thread (stats, the metrics'
//  scrape).
const char *peers_store_behind (const peers_t *self);
//  Why our clients' commands and gets wait at our start, or NULL: no peer
//  has found our store as it saw it yet, for a few seconds at most
//  (peers_seen_unchecked). The front's thread.
const char *peers_store_unchecked (peers_t *self);
//  Whether we refused node's store when it last said it (peers_seen.h: a
//  store behind what we saw of it).
bool peers_store_refused (const peers_t *self, int node);

//  Whether the link to node is up (always true for the node itself).
bool peers_up (const peers_t *self, int node);

//  Milliseconds since node's link to us last brought a frame (its HELLO,
//  said every PEERS_HEARTBEAT_IVL_MS, or data), or since we were made if
//  it never did; 0 for ourselves or a bad index. Past
//  PEERS_HEARTBEAT_TIMEOUT_MS its link to us is down, whatever ours to it
//  is.
int64_t peers_silent_ms (const peers_t *self, int node);

//  Sends one data frame to node. Never blocks: returns 0, or SHOAL_ENET
//  when the link is down or full (nothing was sent).
int peers_send (peers_t *self, int node, peers_kind_t kind, const uint8_t *route, size_t route_size,
                const uint8_t *envelope, size_t size);

//  A CALL's ANSWER goes back to the routing id of the connection the
//  calling node's last CALL (or its welcomed HELLO) came on: its links
//  have no id of their own. Known limit: an ANSWER to a CALL made before
//  that node reconnected, sent before anything came on the new
//  connection, goes to the closed one's id and is lost; its client
//  re-sends, under its id.
//  Sends a client's request to node as a CALL (peers_send), with the
//  client's key (40 characters of Z85; NULL: none) in a frame of its own,
//  so that the node that owns the request's target judges an operator's
//  act by its own operators directory, not by the forwarding node's.
int peers_call (peers_t *self, int node, const uint8_t *route, size_t route_size,
                const uint8_t *envelope, size_t size, const char *key);

//  The name of a peer whose HELLO had another shard map at our epoch (an
//  operator's error: two cluster files that differ) within the last
//  PEERS_CONFLICT_MS, and not ours since; NULL if none. While one does, a shard the two maps place
//  apart could be served by two nodes at once: the front takes no command from clients (front.c).
//  Front thread only.
const char *peers_map_conflict (const peers_t *self);

//  Counters for stats: frames sent and received, frames refused (from a
//  peer not welcomed, or malformed), HELLOs refused.
typedef struct {
    uint64_t sent;
    uint64_t received;
    uint64_t refused;
    uint64_t bad_hellos;
} peers_stats_t;
void peers_stats (const peers_t *self, peers_stats_t *stats);

//  One link as the metrics see it: up, and data frames sent to the peer
//  and taken from it; and the peer's link to us.
typedef struct {
    bool up;           //  ours to it (peers_up)
    uint64_t sent;     //  data frames sent to it
    uint64_t received; //  data frames taken from it
    bool heard;        //  its link to us brought a frame within the heartbeat timeout (or
                       //  we started less than the timeout ago)
    int64_t silent_ms; //  since its last frame (peers_silent_ms)
} peers_link_t;

//  Fills *link for node (all zero for ourselves or a bad index). Unlike
//  the rest, safe from any thread while the object lives: it reads
//  atomics only.
void peers_link (const peers_t *self, int node, peers_link_t *link);

#endif
