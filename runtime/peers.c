/*  peers.c - a node's links to the other nodes of its cluster. See peers.h.
    Owned by the front thread; a link's `up`, `heard_at` and counters are
    atomic, for the metrics scrape (peers_link).
*/
#include "peers.h"
#include "auth.h"
#include "log.h"
#include "peers_seen.h"
#include "shoal_base.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

#define PEERS_HELLO_EVERY_MS 250 //  a link not up says HELLO this often (up: every heartbeat)
#define PEERS_LOG_EVERY_MS 5000  //  a repeated refusal is logged this often
#define PEERS_REMAKE_MS 1000     //  a link whose handshake failed is made again after this
#define PEERS_FRAMES_MAX 5       //  frames of a message after the kind (a HELLO's 5)
#define PEERS_HWM 100000         //  messages queued to one peer at most
#define PEERS_KEY_SIZE 40        //  a CALL's client key, in Z85

typedef struct {
    zsock_t *dealer;               //  our link to it, NULL for ourselves
    zsock_t *monitor;              //  PAIR reading the dealer's events
    atomic_bool up;                //  it welcomed our HELLO; cleared on disconnect
    atomic_uint_fast64_t sent;     //  data frames sent to it
    atomic_uint_fast64_t received; //  data frames taken from it
    atomic_int_fast64_t heard_at;  //  when its link last brought us a frame (mono ms, 0 never)
    bool silence_logged;           //  we logged its link to us silent, not heard since
    bool reached;                  //  both links worked at the last look (PEERS_REACHED)
    int64_t up_at;                 //  when our link to it last came up (mono ms)
    bool welcomed;                 //  we welcomed its HELLO: its frames are taken
    uint8_t id[255];               //  the routing id its welcomed HELLO came from, on our
    size_t id_size;                //  ROUTER: where its CALLs' ANSWERs go (0: none yet)
    int64_t hello_at;              //  when we last said HELLO (monotonic ms)
    int64_t logged_at[3];          //  when we last logged a refusal about it, by kind
    char epoch[24];                //  our epoch, as text for HELLO
    int64_t remake_at;             //  when to make the link again (0: not to be)
    unsigned generation;           //  links made to it so far (the monitor's name)
    int64_t conflict_at;           //  its last HELLO of another map at our epoch (mono ms, 0: none)
    char store_why[320];           //  why we refused its store, as told to it
} peer_t;

struct _peers_t {
    const cluster_t *cluster;
    int self;        //  our index in the cluster
    zsock_t *router; //  our peer endpoint
    peer_t *peers;   //  one per node, ours unused
    int count;       //  nodes
    zcert_t *cert;   //  ours, borrowed: a link made again presents it
    int64_t started; //  when we were made (mono ms): a peer never heard is silent since
    char prefix[64]; //  of the monitors' inproc names
    peers_stats_t stats;
    journal_t *journal;                 //  our store, whose log end our HELLO says (NULL: not said)
    bool async;                         //  and how it runs
    uint64_t gen;                       //  its restore generation (peers_seen.h)
    char run[PEERS_SEEN_RUN_CHARS + 1]; //  this run of ours: random at each start
    char dir[4096];                     //  our data directory (the mark's)
    char marked_by[128];                //  the peer that refused our store (the mark), if marked
    atomic_bool marked; //  a peer refused our store: until --restored (peers_seen.h)
    peers_seen_t *seen; //  how far we saw each peer's store (NULL: not kept)
};

static const char *s_name (const peers_t *self, int node)
{
    return cluster_node_name (self->cluster, node);
}

static void s_set_link_options (zsock_t *socket)
{
    zsock_set_linger (socket, 0);
    zsock_set_sndhwm (socket, PEERS_HWM);
    zsock_set_rcvhwm (socket, PEERS_HWM);
    zsock_set_heartbeat_ivl (socket, PEERS_HEARTBEAT_IVL_MS);
    zsock_set_heartbeat_timeout (socket, PEERS_HEARTBEAT_TIMEOUT_MS);
    zsock_set_heartbeat_ttl (socket, PEERS_HEARTBEAT_TIMEOUT_MS);
    zsock_set_maxmsgsize (socket, 8 << 20);
}

static int s_link_new (peers_t *self, int node, zcert_t *cert, const char *prefix, char **error)
{
    peer_t *peer = &self->peers[node];
    peer->dealer = zsock_new (ZMQ_DEALER);
    peer->monitor = zsock_new (ZMQ_PAIR);
    if (!peer->dealer || !peer->monitor) {
        *error = strdup ("out of memory");
        return SHOAL_ENOMEM;
    }
    s_set_link_options (peer->dealer);
    zsock_set_immediate (peer->dealer, 1); //  a send to a down peer fails at once
    zsock_set_reconnect_ivl (peer->dealer, 100);
    zsock_set_reconnect_ivl_max (peer->dealer, 1000);
    //  No routing id of our own: the peer's ROUTER gives the connection
    //  one (libzmq's, unique, which no peer can claim), and answers our
    //  CALLs to the one our HELLO came from. A name of our own would let
    //  a node whose key was stolen connect under it and be handed our
    //  answers (ZMQ_ROUTER_HANDOVER gives an id to its last claimant).
    zcert_apply (cert, peer->dealer);
    zsock_set_curve_serverkey (peer->dealer, cluster_node_key (self->cluster, node));
    char endpoint[160];
    snprintf (endpoint, sizeof endpoint, "%s-peer-%d-%u", prefix, node, peer->generation++);
    int events = ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                 ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;
    if (zmq_socket_monitor (zsock_resolve (peer->dealer), endpoint, events) != 0 ||
        zsock_connect (peer->monitor, "%s", endpoint) != 0 ||
        zsock_connect (peer->dealer, "%s", cluster_node_peer (self->cluster, node)) != 0) {
        *error = zsys_sprintf ("cannot connect to peer %s at %s", s_name (self, node),
                               cluster_node_peer (self->cluster, node));
        return SHOAL_ENET;
    }
    snprintf (peer->epoch, sizeof peer->epoch, "%lld", (long long) cluster_epoch (self->cluster));
    peer->hello_at = zclock_mono () - PEERS_HELLO_EVERY_MS;
    return 0;
}

//  Closes the link to a peer (its dealer and monitor), if it has one.
static void s_link_close (peer_t *peer)
{
    if (peer->dealer)
        zmq_socket_monitor (zsock_resolve (peer->dealer), NULL, 0);
    zsock_destroy (&peer->dealer);
    zsock_destroy (&peer->monitor);
}

//  Sets the link to node up or down, and logs the change with why.
static void s_set_up (peers_t *self, int node, bool up, const char *why)
{
    peer_t *peer = &self->peers[node];
    if (up)
        peer->remake_at = 0; //  libzmq connected again itself: the link needs no remaking
    if (peer->up == up)
        return;
    peer->up = up;
    if (up)
        peer->up_at = zclock_mono ();
    log_write (up ? SHOAL_LOG_INFO : SHOAL_LOG_WARN, "shoal node: peer %s (%s) is %s%s%s",
               s_name (self, node), cluster_node_peer (self->cluster, node), up ? "up" : "down",
               why ? ": " : "", why ? why : "");
}

//  Makes the link to node again, due once its handshake failed: libzmq
//  does not connect again after a refused CURVE handshake, and the peer may
//  have come back with the right keys since (started once with a wrong
//  cluster file, then the right one). Tried again later if it cannot be.
static void s_link_remake (peers_t *self, int node, int64_t now)
{
    peer_t *peer = &self->peers[node];
    //  The new link is up once welcomed, as any: until then what is sent is
    //  lost, and a link cut since is never seen down (its handshake hangs).
    s_set_up (self, node, false, "its link is made again");
    s_link_close (peer);
    char *error = NULL;
    if (s_link_new (self, node, self->cert, self->prefix, &error) == 0)
        peer->remake_at = 0; //  a refusal again is logged as before, at most every 5 s
    else {
        s_link_close (peer);
        peer->remake_at = now + PEERS_REMAKE_MS;
        log_warn ("peer %s: %s; trying again", s_name (self, node), error ? error : "");
    }
    free (error);
}

peers_t *peers_new (const cluster_t *cluster, int self_index, zcert_t *cert, const char *prefix,
                    char **error)
{
    peers_t *self = calloc (1, sizeof (peers_t));
    if (!self) {
        *error = strdup ("out of memory");
        return NULL;
    }
    self->cluster = cluster;
    self->self = self_index;
    self->cert = cert;
    self->started = zclock_mono ();
    snprintf (self->prefix, sizeof self->prefix, "%s", prefix);
    self->count = cluster_node_count (cluster);
    self->peers = calloc ((size_t) self->count, sizeof (peer_t));
    self->router = zsock_new (ZMQ_ROUTER);
    if (!self->peers || !self->router) {
        *error = strdup ("out of memory");
        peers_destroy (&self);
        return NULL;
    }
    s_set_link_options (self->router);
    zsock_set_handshake_ivl (self->router, PEERS_HANDSHAKE_IVL_MS);
    zcert_apply (cert, self->router);
    zsock_set_curve_server (self->router, 1);
    zsock_set_zap_domain (self->router, AUTH_DOMAIN_PEER);
    const char *endpoint = cluster_node_peer_bind (cluster, self_index);
    if (zsock_bind (self->router, "%s", endpoint) == -1) {
        *error = zsys_sprintf ("cannot listen for peers on %s: %s", endpoint,
                               zmq_strerror (zmq_errno ()));
        peers_destroy (&self);
        return NULL;
    }
    for (int i = 0; i < self->count; i++)
        if (i != self_index && s_link_new (self, i, cert, prefix, error) != 0) {
            peers_destroy (&self);
            return NULL;
        }
    return self;
}

void peers_destroy (peers_t **self_p)
{
    peers_t *self = *self_p;
    if (!self)
        return;
    for (int i = 0; self->peers && i < self->count; i++)
        s_link_close (&self->peers[i]);
    free (self->peers);
    zsock_destroy (&self->router);
    peers_seen_destroy (&self->seen);
    free (self);
    *self_p = NULL;
}

int peers_poll_items (peers_t *self, zmq_pollitem_t *items, int max)
{
    int n = 0;
    if (n < max)
        items[n++] = (zmq_pollitem_t){zsock_resolve (self->router), 0, ZMQ_POLLIN, 0};
    for (int i = 0; i < self->count; i++) {
        if (i == self->self)
            continue;
        //  A link being made again may have no sockets: polled as nothing.
        peer_t *peer = &self->peers[i];
        if (n < max)
            items[n++] = peer->dealer
                             ? (zmq_pollitem_t){zsock_resolve (peer->dealer), 0, ZMQ_POLLIN, 0}
                             : (zmq_pollitem_t){NULL, -1, 0, 0};
        if (n < max)
            items[n++] = peer->monitor
                             ? (zmq_pollitem_t){zsock_resolve (peer->monitor), 0, ZMQ_POLLIN, 0}
                             : (zmq_pollitem_t){NULL, -1, 0, 0};
    }
    return n;
}

bool peers_up (const peers_t *self, int node)
{
    return node == self->self || (node >= 0 && node < self->count && self->peers[node].up);
}

//  Milliseconds since node's link to us last brought a frame, or since we
//  were made if it never did. Safe from any thread.
static int64_t s_silent_ms (const peers_t *self, int node, int64_t now)
{
    int64_t heard_at = atomic_load (&self->peers[node].heard_at);
    return now - (heard_at ? heard_at : self->started);
}

int64_t peers_silent_ms (const peers_t *self, int node)
{
    if (node == self->self || node < 0 || node >= self->count)
        return 0;
    return s_silent_ms (self, node, zclock_mono ());
}

//  Sends frames on a socket without blocking; returns 0 or SHOAL_ENET.
static int s_sendv (zsock_t *socket, const void *const *data, const size_t *sizes, int count)
{
    void *handle = zsock_resolve (socket);
    for (int i = 0; i < count; i++)
        if (zmq_send (handle, data[i], sizes[i],
                      (i + 1 < count ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) == -1)
            return SHOAL_ENET; //  only the first part can fail: ZeroMQ is all or nothing
    return 0;
}

//  Our store as a HELLO or WELCOME to node says it (peers_seen.h).
#define PEERS_STORE_MAX PEERS_SEEN_STORE_MAX
static void s_store (peers_t *self, int node, char text[PEERS_STORE_MAX])
{
    text[0] = 0;
    const char *mode = atomic_load (&self->marked) ? "behind" : self->async ? "async" : "sync";
    if (self->journal)
        peers_seen_say (self->seen, node, self->journal, mode, self->gen, self->run, text,
                        PEERS_STORE_MAX);
}

static void s_say_hello (peers_t *self, int node)
{
    peer_t *peer = &self->peers[node];
    const char *digest = cluster_digest (self->cluster);
    const char *name = cluster_name (self->cluster);
    const char *me = s_name (self, self->self);
    char store[PEERS_STORE_MAX];
    s_store (self, node, store);
    const void *data[] = {"HELLO", name, peer->epoch, digest, me, store};
    size_t sizes[] = {5,           strlen (name), strlen (peer->epoch), strlen (digest),
                      strlen (me), strlen (store)};
    s_sendv (peer->dealer, data, sizes, self->journal ? 6 : 5);
    peer->hello_at = zclock_mono ();
}

//  The kinds of refusal logged, each at its own pace: one kind's line
//  held back another's (ours of its HELLO, logged first, hid its of ours,
//  said once per link).
enum { REFUSED_BY_US, REFUSED_BY_IT, HANDSHAKE };

//  Logs a refusal of kind about node, at most every PEERS_LOG_EVERY_MS.
static void s_log_refusal (peers_t *self, int node, int kind, const char *format,
                           const char *detail)
{
    int64_t now = zclock_mono ();
    peer_t *peer = &self->peers[node];
    if (peer->logged_at[kind] && now - peer->logged_at[kind] < PEERS_LOG_EVERY_MS)
        return;
    peer->logged_at[kind] = now;
    char *line = zsys_sprintf (format, s_name (self, node), detail);
    if (line)
        log_warn ("shoal node: %s", line);
    zstr_free (&line);
}

//  Reads one whole message from socket into msgs (at most max parts, the
//  rest dropped). Returns the parts read, or -1 when nothing was waiting.
static int s_recv_parts (zsock_t *socket, zmq_msg_t *msgs, int max, int *total)
{
    void *handle = zsock_resolve (socket);
    zmq_msg_init (&msgs[0]);
    if (zmq_msg_recv (&msgs[0], handle, ZMQ_DONTWAIT) == -1) {
        zmq_msg_close (&msgs[0]);
        return -1;
    }
    int n = 1;
    *total = 1;
    bool more = zmq_msg_more (&msgs[0]);
    while (more) {
        zmq_msg_t part;
        zmq_msg_init (&part);
        if (zmq_msg_recv (&part, handle, 0) == -1) {
            zmq_msg_close (&part);
            break;
        }
        more = zmq_msg_more (&part);
        (*total)++;
        if (n < max) {
            zmq_msg_init (&msgs[n]);
            zmq_msg_move (&msgs[n++], &part);
        }
        zmq_msg_close (&part);
    }
    return n;
}

static bool s_frame_is (zmq_msg_t *msg, const char *text)
{
    size_t len = strlen (text);
    return zmq_msg_size (msg) == len && memcmp (zmq_msg_data (msg), text, len) == 0;
}

//  Keeps id, the routing id of one of peer's connections to our ROUTER (its
//  key said which node it is), as where its CALLs' ANSWERs go.
static void s_keep_id (peer_t *peer, zmq_msg_t *id)
{
    if (zmq_msg_size (id) <= sizeof peer->id) {
        memcpy (peer->id, zmq_msg_data (id), zmq_msg_size (id));
        peer->id_size = zmq_msg_size (id);
    }
}

//  True if peer said another map at our epoch within PEERS_CONFLICT_MS:
//  one that has gone (stopped, its file fixed and not yet back) holds
//  nothing up any more.
static bool s_conflicting (const peer_t *peer, int64_t now)
{
    return peer->conflict_at && now - peer->conflict_at < PEERS_CONFLICT_MS;
}

//  Logs that node holds commands up no more (why), and whether another
//  peer still does.
static void s_conflict_over (peers_t *self, int node, const char *why)
{
    const char *other = peers_map_conflict (self);
    if (other)
        log_info ("shoal node: peer %s %s; peer %s still runs another shard map: taking no "
                  "command from clients yet",
                  s_name (self, node), why, other);
    else
        log_info ("shoal node: peer %s %s: taking commands again", s_name (self, node), why);
}

//  Marks our store behind (peers_seen.h), node having refused it, or
//  what it saw of it not being ours (ours: why): whatever our log does
//  next, no peer takes it until --restored. Once.
static void s_mark (peers_t *self, int node, const char *ours)
{
    if (!self->journal || atomic_load (&self->marked))
        return;
    snprintf (self->marked_by, sizeof self->marked_by, "%s", s_name (self, node));
    atomic_store (&self->marked, true);
    char *error = NULL;
    int rc = peers_seen_mark_write (self->dir, self->marked_by, &error);
    log_error ("shoal node: %s%s%s: this node takes no command until it is started once with "
               "--restored, which takes it as it is%s%s",
               ours ? "" : "peer ", ours ? ours : self->marked_by,
               ours ? "" : " refused our store as behind what it saw of it",
               rc ? "; the mark could not be written: " : "", rc && error ? error : "");
    free (error);
}

//  Judges the store a peer's HELLO or WELCOME says it has (peers_seen.h):
//  NULL if it is taken, else why not (in peer->store_why); and checks
//  ours against what it saw of it.
static const char *s_store_why (peers_t *self, int node, zmq_msg_t *part)
{
    const char *why = peers_seen_judge (
        self->seen, node, zmq_msg_data (part), zmq_msg_size (part), s_name (self, node),
        s_name (self, self->self), self->peers[node].store_why, sizeof self->peers[node].store_why);
    char ours[320]; //  a peer we refuse may end our start's hold, but marks nothing
    if (!atomic_load (&self->marked) &&
        peers_seen_check (self->seen, node, self->journal, self->gen, zmq_msg_data (part),
                          zmq_msg_size (part), s_name (self, node), ours, sizeof ours) &&
        !why)
        s_mark (self, node, ours);
    return why;
}

//  Checks a peer's HELLO [HELLO, cluster, epoch, digest, name, store]
//  (store since 2026-12-07; an older node's HELLO has none, and its store
//  is not checked) and answers it on the router, [WELCOME, our store] or
//  [REFUSE, why]. parts[0] is the routing id.
static void s_on_hello (peers_t *self, int node, zmq_msg_t *parts, int count)
{
    static const char another_map[] = "another shard map (cluster file digest)";
    peer_t *peer = &self->peers[node];
    const char *why = NULL;
    if (count != 6 && count != 7)
        why = "a malformed HELLO";
    else if (!s_frame_is (&parts[2], cluster_name (self->cluster)))
        why = "another cluster name";
    else if (!s_frame_is (&parts[3], peer->epoch[0] ? peer->epoch : "?"))
        why = "another epoch";
    else if (!s_frame_is (&parts[4], cluster_digest (self->cluster)))
        why = another_map;
    else if (!s_frame_is (&parts[5], s_name (self, node)))
        why = "a name that is not its key's";
    else if (count == 7)
        why = s_store_why (self, node, &parts[6]);
    peer->welcomed = why == NULL;
    if (why && why == peer->store_why) //  nothing goes to it either
        s_set_up (self, node, false, "its store is behind what we saw of it");
    if (peer->welcomed)
        s_keep_id (peer, &parts[0]);
    //  Another shard map at our epoch: a shard the two maps place apart
    //  would be served by two nodes (peers_map_conflict), while that peer
    //  says so (its HELLOs come again every few hundred ms while refused).
    int64_t now = zclock_mono ();
    if (why == another_map) { //  its name and epoch ours
        if (!s_conflicting (peer, now))
            log_error ("shoal node: peer %s runs another shard map at our epoch: taking no "
                       "command from clients while it does, until every node runs the same "
                       "cluster file",
                       s_name (self, node));
        peer->conflict_at = now;
    } else if (peer->welcomed && peer->conflict_at) {
        peer->conflict_at = 0;
        s_conflict_over (self, node, "runs our shard map now");
    }
    char store[PEERS_STORE_MAX];
    s_store (self, node, store);
    const char *last = why ? why : store;
    const void *data[3] = {zmq_msg_data (&parts[0]), why ? "REFUSE" : "WELCOME", last};
    size_t sizes[3] = {zmq_msg_size (&parts[0]), why ? 6 : 7, strlen (last)};
    s_sendv (self->router, data, sizes, why || self->journal ? 3 : 2);
    if (why) {
        self->stats.bad_hellos++;
        s_log_refusal (self, node, REFUSED_BY_US, "refused peer %s: it has %s", why);
    }
}

int peers_set_store (peers_t *self, journal_t *journal, const char *dir, bool async, uint64_t gen,
                     bool taken, int64_t hold_ms)
{
    snprintf (self->dir, sizeof self->dir, "%s", dir);
    if (taken)
        peers_seen_mark_clear (dir);
    else if (peers_seen_mark_read (dir, self->marked_by, sizeof self->marked_by)) {
        atomic_store (&self->marked, true);
        log_error ("shoal node: this node's store is behind what %s saw of it (%s in %s): it "
                   "takes no command until it is started once with --restored, which takes it as "
                   "it is",
                   self->marked_by, PEERS_SEEN_MARK_FILE, dir);
    }
    self->journal = journal;
    self->async = async;
    self->gen = gen;
    peers_seen_new_run (self->run);
    self->seen = peers_seen_open (dir, self->cluster, hold_ms);
    return self->seen ? 0 : SHOAL_ENOMEM;
}

bool peers_store_refused (const peers_t *self, int node)
{
    return self && peers_seen_refused (self->seen, node);
}

const char *peers_store_behind (const peers_t *self)
{
    return self && atomic_load (&self->marked) ? self->marked_by : NULL;
}

const char *peers_store_unchecked (peers_t *self)
{
    return self ? peers_seen_unchecked (self->seen, zclock_mono ()) : NULL;
}

const char *peers_map_conflict (const peers_t *self)
{
    int64_t now = 0; //  read once, and only if a peer ever said another map
    for (int i = 0; self && i < self->count; i++)
        if (i != self->self && self->peers[i].conflict_at &&
            s_conflicting (&self->peers[i], now ? now : (now = zclock_mono ())))
            return s_name (self, i);
    return NULL;
}

//  The node whose CURVE key sent msg, or -1.
static int s_sender (peers_t *self, zmq_msg_t *msg)
{
    const char *key = zmq_msg_gets (msg, "User-Id");
    if (!key)
        return -1;
    for (int i = 0; i < self->count; i++)
        if (i != self->self && streq (cluster_node_key (self->cluster, i), key))
            return i;
    return -1;
}

static void s_on_router (peers_t *self, peers_deliver_fn *fn, void *arg)
{
    for (int budget = 0; budget < 4096; budget++) {
        zmq_msg_t parts[2 + PEERS_FRAMES_MAX];
        int total = 0;
        int count = s_recv_parts (self->router, parts, 2 + PEERS_FRAMES_MAX, &total);
        if (count < 0)
            return;
        int node = count > 1 ? s_sender (self, &parts[1]) : -1;
        if (node < 0 || total != count)
            self->stats.refused++;
        else if (s_frame_is (&parts[1], "HELLO")) {
            s_on_hello (self, node, parts, count);
            if (self->peers[node].welcomed)
                self->peers[node].heard_at = zclock_mono ();
        } else if (!self->peers[node].welcomed)
            self->stats.refused++; //  not welcomed yet: it must say HELLO first
        else {
            peers_kind_t kind = 0;
            if (s_frame_is (&parts[1], "MSG") && count == 3)
                kind = PEERS_MSG;
            else if (s_frame_is (&parts[1], "CALL") &&
                     (count == 4 || (count == 5 && zmq_msg_size (&parts[4]) == PEERS_KEY_SIZE)))
                kind = PEERS_CALL;
            //  An ANSWER comes back on our DEALER, where our CALL went out;
            //  here it would push any frame to any client of ours.
            bool answer = s_frame_is (&parts[1], "ANSWER");
            if (!kind)
                self->stats.refused++;
            if (answer) //  for the front to count
                fn (arg, PEERS_REFUSED, node, NULL, 0, NULL, 0, NULL);
            else if (kind) {
                self->stats.received++;
                self->peers[node].received++;
                self->peers[node].heard_at = zclock_mono ();
                if (kind == PEERS_CALL) //  its ANSWER goes back where it came from
                    s_keep_id (&self->peers[node], &parts[0]);
                zmq_msg_t *route = kind == PEERS_MSG ? NULL : &parts[2];
                zmq_msg_t *envelope = &parts[kind == PEERS_MSG ? 2 : 3];
                char key[PEERS_KEY_SIZE + 1] = "";
                if (kind == PEERS_CALL && count == 5) {
                    memcpy (key, zmq_msg_data (&parts[4]), PEERS_KEY_SIZE);
                    key[PEERS_KEY_SIZE] = 0;
                }
                fn (arg, kind, node, route ? zmq_msg_data (route) : NULL,
                    route ? zmq_msg_size (route) : 0, zmq_msg_data (envelope),
                    zmq_msg_size (envelope), key[0] ? key : NULL);
            }
        }
        for (int i = 0; i < count; i++)
            zmq_msg_close (&parts[i]);
    }
}

//  Our link's answers to HELLO: [WELCOME] or [REFUSE, why].
static void s_on_dealer (peers_t *self, int node, peers_deliver_fn *fn, void *arg)
{
    zmq_msg_t parts[3];
    int total = 0;
    int count;
    while ((count = s_recv_parts (self->peers[node].dealer, parts, 3, &total)) >= 0) {
        if (count == 3 && total == 3 && s_frame_is (&parts[0], "ANSWER")) {
            //  The answer to a CALL we made, back on the connection it went out on.
            self->stats.received++;
            self->peers[node].received++;
            fn (arg, PEERS_ANSWER, node, zmq_msg_data (&parts[1]), zmq_msg_size (&parts[1]),
                zmq_msg_data (&parts[2]), zmq_msg_size (&parts[2]), NULL);
        } else if ((count == 1 || count == 2) && s_frame_is (&parts[0], "WELCOME")) {
            //  Its store judged as its HELLO's would be (an older node's
            //  WELCOME says none): a peer back with a store behind what we
            //  saw of it is sent nothing, whichever way its links work.
            const char *why = count == 2 ? s_store_why (self, node, &parts[1]) : NULL;
            s_set_up (self, node, why == NULL,
                      why ? "its store is behind what we saw of it" : NULL);
            if (why)
                s_log_refusal (self, node, REFUSED_BY_US, "refused peer %s: it has %s", why);
        } else if (count == 2 && s_frame_is (&parts[0], "REFUSE")) {
            char why[512];
            size_t len = zmq_msg_size (&parts[1]) < sizeof why - 1 ? zmq_msg_size (&parts[1])
                                                                   : sizeof why - 1;
            memcpy (why, zmq_msg_data (&parts[1]), len);
            why[len] = 0;
            s_set_up (self, node, false, NULL);
            if (strncmp (why, PEERS_SEEN_BEHIND, strlen (PEERS_SEEN_BEHIND)) == 0)
                s_mark (self, node, NULL);
            s_log_refusal (self, node, REFUSED_BY_IT, "peer %s refused us: we have %s", why);
        }
        for (int i = 0; i < count; i++)
            zmq_msg_close (&parts[i]);
    }
}

static void s_on_monitor (peers_t *self, int node)
{
    zmq_msg_t parts[2];
    int total = 0;
    int count;
    while ((count = s_recv_parts (self->peers[node].monitor, parts, 2, &total)) >= 0) {
        uint16_t event = 0;
        if (count >= 1 && zmq_msg_size (&parts[0]) >= 2)
            memcpy (&event, zmq_msg_data (&parts[0]), 2);
        if (event == ZMQ_EVENT_DISCONNECTED)
            s_set_up (self, node, false, "disconnected");
        else if (event & (ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                          ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)) {
            s_set_up (self, node, false, "handshake failed");
            //  Only an AUTH failure is the peer refusing our key; a handshake
            //  that did not complete (a stopped or overloaded peer: its
            //  errno in the event's value) is not, nor a protocol error.
            uint32_t value = 0;
            if (zmq_msg_size (&parts[0]) >= 6)
                memcpy (&value, (uint8_t *) zmq_msg_data (&parts[0]) + 2, 4);
            if (event & ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
                s_log_refusal (self, node, HANDSHAKE, "peer %s refused our CURVE handshake%s",
                               " (is our key in its cluster file?)");
            else if (event & ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
                s_log_refusal (self, node, HANDSHAKE, "the CURVE handshake with peer %s failed%s",
                               ": a protocol error (its public key in our cluster file not "
                               "its own, or another version of shoal?)");
            else
                s_log_refusal (self, node, HANDSHAKE,
                               "the CURVE handshake with peer %s did not complete%s",
                               value == ETIMEDOUT || value == EAGAIN
                                   ? " in time (the peer stopped, overloaded or cut off?)"
                                   : " (the peer stopped, overloaded or cut off?)");
            if (!self->peers[node].remake_at)
                self->peers[node].remake_at = zclock_mono () + PEERS_REMAKE_MS;
        }
        for (int i = 0; i < count; i++)
            zmq_msg_close (&parts[i]);
    }
}

//  Logs node's link to us silent past the heartbeat timeout while ours to
//  it is up (a link cut one way, as the side it no longer reaches sees it;
//  one down is logged as such already), and heard again. Said
//  PEERS_ONE_WAY_GRACE_MS later than the stats say it, and counted from
//  when our link came up if later: a peer that stopped (SIGSTOP) falls
//  silent both ways at once, and our link to it, whose heartbeat times out
//  as long after, is logged down first (it was logged "cut one way?" 2 ms
//  before "down"); when it goes on, our link may come up before its own.
#define PEERS_ONE_WAY_GRACE_MS (2 * PEERS_HEARTBEAT_IVL_MS)
static void s_check_heard (peers_t *self, int node, int64_t now)
{
    peer_t *peer = &self->peers[node];
    int64_t silent_ms = s_silent_ms (self, node, now);
    int64_t since_up = now - peer->up_at;
    if (silent_ms >= PEERS_HEARTBEAT_TIMEOUT_MS + PEERS_ONE_WAY_GRACE_MS && peer->up &&
        since_up >= PEERS_HEARTBEAT_TIMEOUT_MS + PEERS_ONE_WAY_GRACE_MS && !peer->silence_logged) {
        log_warn ("shoal node: nothing from peer %s for %lld ms, though our link to it is up: "
                  "its link to us is down (the link %s->%s is cut one way?)",
                  s_name (self, node), (long long) silent_ms, s_name (self, node),
                  s_name (self, self->self));
        peer->silence_logged = true;
    } else if (silent_ms < PEERS_HEARTBEAT_TIMEOUT_MS && peer->silence_logged) {
        log_info ("shoal node: peer %s is heard again", s_name (self, node));
        peer->silence_logged = false;
    }
}

void peers_process (peers_t *self, zmq_pollitem_t *items, peers_deliver_fn *fn, void *arg)
{
    peers_seen_save (self->seen, zclock_mono ());
    int n = 0;
    if (items[n++].revents & ZMQ_POLLIN)
        s_on_router (self, fn, arg);
    int64_t now = zclock_mono ();
    for (int i = 0; i < self->count; i++) {
        if (i == self->self)
            continue;
        if (items[n++].revents & ZMQ_POLLIN)
            s_on_dealer (self, i, fn, arg);
        if (items[n++].revents & ZMQ_POLLIN)
            s_on_monitor (self, i);
        if (self->peers[i].remake_at && now >= self->peers[i].remake_at)
            s_link_remake (self, i, now); //  items of this link are not read again
        //  HELLO also while up, as the peer's proof that our link reaches it.
        int64_t every = self->peers[i].up ? PEERS_HEARTBEAT_IVL_MS : PEERS_HELLO_EVERY_MS;
        if (self->peers[i].dealer && now - self->peers[i].hello_at >= every)
            s_say_hello (self, i);
        s_check_heard (self, i, now);
        //  Both ways again: told once per change, so that what was lost
        //  on the way (dropped while down, or sent on a link that had
        //  died unseen) is sent again now, not at its next backoff.
        bool reached = self->peers[i].up && s_silent_ms (self, i, now) < PEERS_HEARTBEAT_TIMEOUT_MS;
        if (reached && !self->peers[i].reached)
            fn (arg, PEERS_REACHED, i, NULL, 0, NULL, 0, NULL);
        self->peers[i].reached = reached;
        //  A peer of another map that says no more HELLO: stopped, or cut
        //  off (which cannot be told apart), it holds nothing up any more.
        if (self->peers[i].conflict_at && !s_conflicting (&self->peers[i], now)) {
            self->peers[i].conflict_at = 0;
            s_conflict_over (self, i,
                             "has said nothing of its map for 5 s (stopped, or cut off from us)");
        }
    }
}

//  Sends [kind, route, envelope, key] (MSG: no route; key only if given)
//  to node: an ANSWER on our ROUTER, the rest on our link to it. Counts
//  what went. Returns 0 or SHOAL_ENET.
static int s_send (peers_t *self, int node, peers_kind_t kind, const uint8_t *route,
                   size_t route_size, const uint8_t *envelope, size_t size, const char *key)
{
    if (node == self->self || node < 0 || node >= self->count)
        return SHOAL_ENET;
    static const char *names[] = {"", "MSG", "CALL", "ANSWER"};
    peer_t *peer = &self->peers[node];
    const void *data[5] = {peer->id, names[kind], route, envelope, key};
    size_t sizes[5] = {peer->id_size, strlen (names[kind]), route_size, size, PEERS_KEY_SIZE};
    int first = 1, count = key ? 4 : 3;
    zsock_t *socket = peer->dealer;
    if (kind == PEERS_ANSWER) {
        //  Back to the node that CALLed, on the connection its CALL came in
        //  on (our ROUTER, its DEALER, whose HELLO or last CALL came from
        //  that routing id): that link is up whenever a CALL could come,
        //  even while ours to it is not yet.
        if (!peer->welcomed || !peer->id_size)
            return SHOAL_ENET;
        first = 0, count = 4, socket = self->router;
    } else if (!peer->up)
        return SHOAL_ENET;
    else if (kind == PEERS_MSG) { //  [MSG, envelope]
        data[2] = envelope, sizes[2] = size;
        count = 2;
    }
    int rc = s_sendv (socket, data + first, sizes + first, count);
    if (rc == 0) {
        self->stats.sent++;
        peer->sent++;
    }
    return rc;
}

int peers_send (peers_t *self, int node, peers_kind_t kind, const uint8_t *route, size_t route_size,
                const uint8_t *envelope, size_t size)
{
    return s_send (self, node, kind, route, route_size, envelope, size, NULL);
}

int peers_call (peers_t *self, int node, const uint8_t *route, size_t route_size,
                const uint8_t *envelope, size_t size, const char *key)
{
    bool keyed = key && strlen (key) == PEERS_KEY_SIZE;
    return s_send (self, node, PEERS_CALL, route, route_size, envelope, size, keyed ? key : NULL);
}

void peers_stats (const peers_t *self, peers_stats_t *stats)
{
    *stats = self->stats;
}

void peers_link (const peers_t *self, int node, peers_link_t *link)
{
    *link = (peers_link_t){0};
    if (node < 0 || node >= self->count || node == self->self)
        return;
    peer_t *peer = &self->peers[node];
    link->up = atomic_load (&peer->up);
    link->sent = atomic_load (&peer->sent);
    link->received = atomic_load (&peer->received);
    link->silent_ms = s_silent_ms (self, node, zclock_mono ());
    //  As s_check_heard logs it: never heard is silent once past the timeout.
    link->heard = link->silent_ms < PEERS_HEARTBEAT_TIMEOUT_MS;
}
