/*  front_internal.h - what the front's files share (front.c routes,
    front_replies.c gives replies to clients within bounds, front_stats.c
    answers "stats", front_gather.c the node-wide queries, front_keys.c
    judges a message by its connection's key): its struct and limits.
    Internal to runtime/; the front's thread owns everything here.
*/
#ifndef FRONT_INTERNAL_H_INCLUDED
#define FRONT_INTERNAL_H_INCLUDED

#include "front.h"
#include "envelope.h"

#include <msgpack.h>

//  A client connection that has not finished its greeting (and CURVE
//  handshake) by then is closed. libzmq's default, 30 s, let anyone who
//  reaches the endpoint hold a file descriptor per idle connection.
#define FRONT_HANDSHAKE_IVL_MS 3000
#define FRONT_QUEUE_MAX 50000         //  client messages queued for one worker at most
#define FRONT_QUEUE_BYTES (64u << 20) //  and their bytes at most
#define FRONT_PEER_BYTES (64u << 20)  //  bytes of CALLs out to one peer, unanswered, at most
#define FRONT_CALLS_TTL_MS 60000      //  a client's unanswered CALLs are forgotten after this
#define FRONT_CALLS_SWEEP_MS 1000     //  ... looked for this often at most
#define FRONT_ROUTE_MAX 260           //  a route's bytes at most (2 + a ROUTER id)
#define FRONT_CLIENT_SLICE_US 2000    //  client messages read at once for this long at most
#define FRONT_POLL_MAX (3 + 1 + 2 * 64)
#define FRONT_GATHER_MS 5000          //  a node-wide query waits this long for its workers at most
#define FRONT_CLIENT_HWM 1000         //  replies ZeroMQ queues for one client at most
#define FRONT_CLIENT_BYTES (1u << 20) //  and their bytes at most (but one reply)
#define FRONT_OVERFLOW_BYTES (8u << 20) //  past them, replies of all clients held by the front
#define FRONT_OVERFLOW_MS 1000          //  a reply held this long is dropped
#define FRONT_OVERFLOW_TICK_MS 5        //  held replies are tried again this often
#define FRONT_REPLY_BUDGET (64u << 20)  //  reply bytes queued and held, all clients together
#define FRONT_REPLY_RESERVE (8u << 20)  //  of the budget, kept for clients that read:
#define FRONT_CLIENT_FLOOR (64u << 10)  //  those with at most this much queued

//  The replies to clients, and the memory they hold until read, bounded
//  per client and in total (front_replies.c, whose first comment says
//  how). The front's thread only.
typedef struct _front_replies_t front_replies_t;

//  Sends through router (borrowed; a ROUTER with router_mandatory);
//  counts into counters (borrowed): unread, reply_bytes, reply_bytes_peak.
//  NULL out of memory.
front_replies_t *front_replies_new (void *router, front_counters_t *counters);
//  Drops what is held. Replies in ZeroMQ's queues stay ZeroMQ's: their
//  counts outlive the front. Safe to call twice.
void front_replies_destroy (front_replies_t **self_p);
//  Sends a reply (borrowed) to the client of ROUTER id, holds it, or
//  drops it (counted unread). A client that is gone is skipped. Can't fail.
void front_replies_send (front_replies_t *self, const uint8_t *id, size_t id_size,
                         const uint8_t *frame, size_t size);
//  True while replies are held: call front_replies_tick every
//  FRONT_OVERFLOW_TICK_MS then.
bool front_replies_holding (const front_replies_t *self);
//  Tries the held replies again, drops those past FRONT_OVERFLOW_MS,
//  forgets clients with nothing queued, and refreshes the counters.
void front_replies_tick (front_replies_t *self);

//  The CALLs forwarded to each peer, by client (front_calls.c, whose
//  first comment says why). The front's thread only.
typedef struct _front_calls_t front_calls_t;

//  A table with none, for a node of workers workers. NULL out of memory.
front_calls_t *front_calls_new (int workers);
//  Frees it. Safe to call twice.
void front_calls_destroy (front_calls_t **self_p);
//  Notes a CALL of size bytes forwarded to node for the client of ROUTER
//  id (borrowed), at now (monotonic ms). Out of memory it is not noted:
//  its answer is refused, and the client re-sends. Can't fail otherwise.
void front_calls_sent (front_calls_t *self, int node, const uint8_t *id, size_t id_size,
                       size_t size, int64_t now);
//  The bytes of the CALLs out to node, not yet answered nor forgotten.
uint64_t front_calls_bytes (const front_calls_t *self, int node);
//  Forgets the clients whose last CALL is FRONT_CALLS_TTL_MS old or more,
//  and whose peer has been heard from since: an ANSWER to anyone on our
//  link, or a frame on its own (silent_ms[node]: ms since its last, for
//  nodes peers). What is unanswered then was lost. A peer not heard from (stopped, its link up)
//  keeps its CALLs counted. At most once in FRONT_CALLS_SWEEP_MS; O(clients).
void front_calls_sweep (front_calls_t *self, int64_t now, const int64_t *silent_ms, int nodes);
//  Forgets every CALL out to node, whose link went down: they went with
//  it (answers to them are refused, and their clients re-send).
void front_calls_lost (front_calls_t *self, int node);
//  Forwards a client's request (route: ROUTE_CLIENT and its ROUTER id) to
//  owner, a peer, as a CALL, and notes it; answers it busy instead while
//  the CALLs out to owner, unanswered, hold FRONT_PEER_BYTES: a peer that
//  takes them and answers none (stopped, its link still up) holds that
//  much of this node's memory at most (ZeroMQ bounds a link's queue in
//  messages only). True if done either way; false if no link to owner is
//  up (the caller answers unavailable).
bool front_calls_forward (front_t *self, int owner, const uint8_t *route, size_t route_size,
                          const envelope_t *envelope, zmq_msg_t *frame);
//  Tells every worker that node's links work both ways again
//  (PEERS_REACHED), for it to send its commands to node's actors again at
//  once (outbox_on_reached); a worker whose queue is full is told later,
//  by front_calls_links.
void front_calls_reached (front_t *self, int node);
//  Forgets the CALLs out to a peer whose link has gone down since the last
//  look (front_calls_lost), and sweeps (front_calls_sweep); tells the
//  workers front_calls_reached could not. Each turn of the front's loop:
//  O(peers), and O(clients) when a link goes down or a sweep is due.
void front_calls_links (front_t *self);
//  Sends the ANSWER of peer node, frame, to the client of ROUTER id: as
//  it is, but a refusal unknown_type of a type this node registers (node
//  runs without a module this one has), which goes as unavailable, saying
//  so: the client asks again, and its command runs once node has it.
void front_calls_relay (front_t *self, int node, const uint8_t *id, size_t id_size,
                        const uint8_t *frame, size_t size);
//  True if the client of ROUTER id has a CALL out to node, and counts that
//  one answered; false for an ANSWER nobody asked node for. O(id_size).
bool front_calls_answered (front_calls_t *self, int node, const uint8_t *id, size_t id_size,
                           int64_t now);

//  A node-wide query waiting for its workers' parts (ROUTE_GATHER).
typedef struct {
    uint32_t id;                    //  in the workers' route
    const char *key;                //  the rows' key: "pending" or "busiest" (static)
    uint8_t route[FRONT_ROUTE_MAX]; //  the client's
    size_t route_size;
    envelope_t request;    //  its id, to and name (payload NULL)
    int waiting;           //  workers yet to answer
    int64_t deadline;      //  monotonic ms
    int64_t limit;         //  rows at most
    msgpack_sbuffer rows;  //  the rows so far, packed one after another
    msgpack_packer pk;     //  into rows
    size_t count;          //  rows in rows
    int64_t truncated;     //  rows left out
    int64_t stall_ms, now; //  as the workers said
} gather_t;

//  A message a worker pushed, held until the writes before it are durable
//  (front.c, "What leaves the node").
typedef struct {
    uint64_t written; //  journal_written when it came
    zmq_msg_t route, frame;
} front_held_t;

struct _front_t {
    front_config_t config;
    front_held_t *held; //  a ring, oldest first (front.c)
    size_t held_head, held_count, held_cap;
    size_t held_bytes;               //  their route and frame bytes
    char *endpoint;                  //  bound, owned
    zsock_t *router;                 //  clients
    zsock_t *replies;                //  PULL from workers
    zsock_t **push;                  //  PUSH to each worker
    zsock_t *projector;              //  PUSH to the projection thread
    front_counters_t counters;       //  atomic: the metrics scrape reads them
    int64_t started;                 //  monotonic ms (zclock_mono)
    int64_t bad_logged_at;           //  when a burst of bad frames was last logged (mono ms)
    uint64_t bad_logged;             //  bad_frames as of that line
    zlistx_t *gathers;               //  gather_t waiting for their workers, by deadline
    zhashx_t *gather_ids;            //  a gather's id -> its handle in gathers
    uint32_t next_gather;            //  the last gather's id
    front_replies_t *client_replies; //  replies to clients, bounded (front_replies.c)
    clientkeys_t *keys;              //  the clients' keys as last taken from config.keys, owned
    int64_t revoked_logged_at;       //  when a key_revoked refusal was last logged (mono ms)
    uint64_t revoked_logged;         //  counters.revoked as of that line
    char client_key[41];             //  the key of the client message in hand ("": none)
    front_calls_t *calls;            //  CALLs out to peers, by client (front_calls.c)
};

//  Answers request (NULL if it could not be read) with payload (borrowed),
//  to a client of this node or of a peer, by route.
void front_reply (front_t *self, const uint8_t *route, size_t route_size, const envelope_t *request,
                  const uint8_t *payload, size_t size);
//  A peer runs another shard map at our epoch (peers_map_conflict): a
//  command of a client, ours or one a peer forwards, could reach an actor
//  that another node serves too; or our store is behind what a peer saw
//  of it (peers_store_behind): a command would run on what it lost, and
//  a get would show a state without it; or we have just started and no
//  peer has checked our store yet (peers_store_unchecked: a command or a
//  get, for a few seconds at most). Refuses it `unavailable`, naming the
//  peer, and returns true; false (nothing done) for anything else.
//  What is under way (actors' messages) goes on.
bool front_map_conflict (front_t *self, const uint8_t *route, size_t route_size,
                         const envelope_t *envelope);
//  Why a client's message for owner's actor (to) is refused, owner being
//  down or cut off, or refused by us for its store (into reason, size
//  bytes; FRONT_REASON_MAX is enough).
#define FRONT_REASON_MAX (2 * SHOAL_ADDRESS_MAX + CLUSTER_ENDPOINT_MAX + 192)
void front_owner_down_reason (front_t *self, int owner, const char *to, char *reason, size_t size);
//  Answers request with a rejection.
void front_reject (front_t *self, const uint8_t *route, size_t route_size,
                   const envelope_t *request, const char *code, const char *reason);
//  Whether a client's checked message may go on, by its connection's key
//  now (front_keys.c): refused key_revoked when its key is in neither
//  the clients nor the operators directory any more, not_an_operator
//  when it is an operator's act and the key is not an operator's; an
//  operator's act is logged, and stamped: frame and envelope are
//  replaced by the request with the node's operator_key and
//  operator_cert in its payload (front_keys.c). Returns true if it may
//  go on; else it was answered.
bool front_keys_admit (front_t *self, const uint8_t *route, size_t route_size, zmq_msg_t *frame,
                       envelope_t *envelope);
//  Destroys the keys held and any posted (front_destroy).
void front_keys_close (front_t *self);

//  The key of the connection the client message front_keys_admit took
//  last came on (Z85), or NULL: no CURVE on the client endpoint.
const char *front_keys_key (const front_t *self);

//  Like front_keys_admit, for a request a peer node forwarded (a CALL):
//  an operator's act is taken only if key, the client's as the peer gave
//  it, is in this node's operators directory now (NULL: none given, an
//  older node: refused), and is logged with the node it came through.
//  Any request whose key is in neither of this node's directories now is
//  refused key_revoked; one with no key (the forwarding node's own) is
//  that node's to judge. An operator's act taken is stamped, as by
//  front_keys_admit, with key and this node's name of its certificate.
//  Returns false after answering the refusal.
bool front_keys_admit_call (front_t *self, const uint8_t *route, size_t route_size,
                            zmq_msg_t *frame, envelope_t *envelope, const char *key, int through);
//  Packs a string.
void front_pack_str (msgpack_packer *pk, const char *text);

//  The "stats" query, answered here from the workers' counters (front_stats.c).
void front_stats (front_t *self, const uint8_t *route, size_t route_size,
                  const envelope_t *request);

//  Node-wide queries (front_gather.c): whether envelope is one; start one
//  (sent to every worker); a worker's part; give up on those past their time.
bool front_node_wide (const envelope_t *envelope);
void front_gather_start (front_t *self, const uint8_t *route, size_t route_size,
                         const envelope_t *envelope, zmq_msg_t *frame);
void front_gather_part (front_t *self, const uint8_t *route, size_t route_size,
                        const uint8_t *frame, size_t size);
void front_gather_expire (front_t *self);
//  The table of gathers by id (front_t's gather_ids), or NULL.
zhashx_t *front_gather_ids_new (void);

#endif
