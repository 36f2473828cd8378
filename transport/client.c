/*  client.c - a ZeroMQ DEALER client of a node, and the reading of its
    replies. See client.h.

    A client of a cluster watches its DEALER's CURVE handshakes on a
    socket monitor: a node that refuses its key (ZAP status 400, seen as
    ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) will never take a request from it,
    since libzmq does not connect again after a refused handshake. When
    every node it talks to has refused, a send fails at once with
    SHOAL_EAUTH instead of waiting out its timeout; a node that is merely
    down is waited for as before (libzmq reconnects). A node whose key is
    not the one the cluster file gives (`shoal cluster rekey` gave it a
    new one) cannot read our HELLO and ends every handshake at once:
    libzmq says ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL (or _PROTOCOL) right
    after ZMQ_EVENT_CONNECTED, and connects again; client_wrong_key names
    such nodes for the message of a send that found no link. A handshake
    that fails a second or more after its connection timed out (a frozen
    node) and is not counted.
*/
#include "client.h"
#include "cluster.h"

#include <czmq.h>
#include <errno.h>
#include <stdatomic.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#define CLIENT_DEFAULT_SEND_TIMEOUT_MS 2000 //  a cluster client's wait for a link
#define CLIENT_CLOSED_MIN 2            //  handshakes a node ended in a row, for client_wrong_key
#define CLIENT_CLOSED_WITHIN_MS 1000   //  ... each within this of its connection
#define CLIENT_HANDSHAKE_SURE_MS 25000 //  a plain client's ended handshake is a refusal till then
#define PLAIN_LOOK_MS 100              //  a plain client's call looks at its link this often

typedef struct {
    char name[CLUSTER_NAME_MAX + 1];         //  the node's
    char endpoint[CLUSTER_ENDPOINT_MAX + 1]; //  its client endpoint, as connected
    int closed;           //  handshakes it ended (not a refused key) since its last good one
    int64_t connected_at; //  its last connection's (monotonic ms), for telling a timeout
    bool linked;          //  a connection is taken now (connected, not yet disconnected)
} client_node_t;

struct _client_t {
    zsock_t *dealer;
    zsock_t *monitor;     //  PAIR reading the dealer's handshake events; NULL without CURVE
    int send_timeout_ms;  //  how long a send waits for a link or a peer (-1: for ever)
    client_node_t *nodes; //  with a monitor: those connected to
    int node_count;
    char **refused; //  addresses the monitor saw refuse our key (node_count at most)
    int refused_count;
    char *cert_path; //  with a monitor: the client certificate, for the message
    char *refusal;   //  what client_refusal says, NULL until a refusal
    char *map_path;  //  with a monitor: the cluster file, for client_wrong_key's message
    char *wrong_key; //  what client_wrong_key said last
    //  A client of client_new: its link as a monitor of its own sees it
    //  (client_no_answer_why), NULL if none could be made.
    zsock_t *plain_monitor;
    bool plain_connected;  //  a connection was accepted
    bool plain_handshaken; //  ... and its handshake went through, and it is up
    bool plain_mismatch;   //  ... or ended: what listens wants another mechanism (CURVE)
    int plain_ended;       //  handshakes ended without a protocol error, since the last good one
    bool plain_lost;       //  a connection that went through ended
    bool plain_linked;     //  a connection is taken now (connected, not yet disconnected)
    int64_t plain_since;   //  when the client was made (monotonic ms)
    long gave_up_ms;       //  the last call's wait when a refused handshake ended it, or -1
};

const char *client_endpoint (const char *option)
{
    if (option && *option)
        return option;
    const char *env = getenv ("SHOAL_ENDPOINT");
    return env && *env ? env : CLIENT_DEFAULT_ENDPOINT;
}

static zsock_t *s_monitor_new (zsock_t *dealer);
static bool s_monitor_next (void *monitor, uint16_t *id, char **address);

client_t *client_new (const char *endpoint)
{
    if (cluster_endpoint_problem (endpoint))
        return NULL; //  libzmq would take tcp://HOST:70000 as port 4464
    client_t *self = calloc (1, sizeof (client_t));
    if (!self)
        return NULL;
    self->gave_up_ms = -1;
    self->dealer = zsock_new (ZMQ_DEALER);
    if (!self->dealer) {
        free (self);
        return NULL;
    }
    zsock_set_linger (self->dealer, 0);
    zsock_set_sndhwm (self->dealer, 0);
    zsock_set_rcvhwm (self->dealer, 0);
    self->send_timeout_ms = CLIENT_DEFAULT_SEND_TIMEOUT_MS; //  a send's wait for a peer
    self->plain_monitor = s_monitor_new (self->dealer);     //  none: no reason given, as before
    self->plain_since = zclock_mono ();
    if (zsock_connect (self->dealer, "%s", endpoint) != 0) {
        client_destroy (&self);
        return NULL;
    }
    return self;
}

//  Reads a plain client's monitor events into its plain_* state.
static void s_plain_events (client_t *self)
{
    void *monitor = self->plain_monitor ? zsock_resolve (self->plain_monitor) : NULL;
    uint16_t id;
    while (monitor && s_monitor_next (monitor, &id, NULL)) {
        self->plain_connected |= id == ZMQ_EVENT_CONNECTED;
        if (id == ZMQ_EVENT_CONNECTED || id == ZMQ_EVENT_DISCONNECTED)
            self->plain_linked = id == ZMQ_EVENT_CONNECTED;
        //  A mechanism other than ours: a protocol error, or handshakes
        //  ended without one (libzmq says either), twice: a node that
        //  died with our connection in its listen backlog (a crash, a
        //  restart) ends one handshake so too, and the next connection
        //  finds nothing there, or the node back. A handshake that timed
        //  out (libzmq's 30 s: a node that took the connection and never
        //  answered) says the latter too, and cannot have come sooner; the
        //  events are read when asked, without their times.
        if (id == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL &&
            zclock_mono () - self->plain_since < CLIENT_HANDSHAKE_SURE_MS)
            self->plain_ended++;
        self->plain_mismatch |=
            id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL || self->plain_ended >= CLIENT_CLOSED_MIN;
        if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) { //  what listens takes us: not CURVE-only
            self->plain_handshaken = true;
            self->plain_ended = 0;
            self->plain_mismatch = false;
        } else if (id == ZMQ_EVENT_DISCONNECTED && self->plain_handshaken) {
            self->plain_handshaken = false;
            self->plain_lost = true;
        }
    }
}

//  True once what a plain client reached ended the handshake (a cluster's
//  node: CURVE only), which no wait changes.
static bool s_plain_refused (client_t *self)
{
    s_plain_events (self);
    return self->plain_mismatch && !self->plain_handshaken;
}

const char *client_no_answer_why (client_t *self)
{
    s_plain_events (self);
    if (!self->plain_monitor)
        return NULL;
    if (self->plain_handshaken)
        return "the node took the request and has not answered it yet: a --timeout too short "
               "for it, the node busy, or a turn running past --turn-timeout (`shoal stats`: "
               "overdue_now)";
    if (self->plain_lost)
        return "the node's connection ended, and it has not taken one again: it stopped or "
               "crashed (its log says why)";
    if (self->plain_mismatch)
        return "what listens there ended the handshake: it answers only CURVE clients";
    if (!self->plain_connected)
        return "nothing took a connection there: no node listens at that endpoint (not "
               "started, stopped, or another address)";
    return "a connection was taken there, and not answered: a node stopped (SIGSTOP), "
           "overloaded, or not a shoal node";
}

long client_gave_up_ms (const client_t *self)
{
    return self->gave_up_ms;
}

bool client_handshake_ended (client_t *self)
{
    return self->plain_monitor && s_plain_refused (self);
}

bool client_reached_nothing (const client_t *self)
{
    return self->plain_monitor && !self->plain_handshaken && !self->plain_lost;
}

const char *client_cluster (const char *option)
{
    if (option && *option)
        return option;
    const char *env = getenv ("SHOAL_CLUSTER");
    return env && *env ? env : NULL;
}

//  A PAIR reading the handshake events of dealer, before it connects, at
//  a name unique in the process; NULL if it cannot be made.
static zsock_t *s_monitor_new (zsock_t *dealer)
{
    static atomic_uint counter;
    char endpoint[96];
    snprintf (endpoint, sizeof endpoint, "inproc://shoal-client-monitor-%d-%u", (int) getpid (),
              atomic_fetch_add (&counter, 1));
    zsock_t *monitor = zsock_new (ZMQ_PAIR);
    if (monitor && (zmq_socket_monitor (
                        zsock_resolve (dealer), endpoint,
                        ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                            ZMQ_EVENT_CONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                            ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_DISCONNECTED) != 0 ||
                    zsock_connect (monitor, "%s", endpoint) != 0))
        zsock_destroy (&monitor);
    return monitor;
}

//  Starts watching self's DEALER for refused handshakes. Returns 0 or -1.
static int s_monitor_start (client_t *self)
{
    self->monitor = s_monitor_new (self->dealer);
    return self->monitor ? 0 : -1;
}

//  The node connected to at address, as its monitor event gives it, or
//  NULL when no endpoint connected to is spelt so (a host name that
//  libzmq resolved).
static client_node_t *s_node_at (const client_t *self, const char *address)
{
    for (int i = 0; i < self->node_count; i++)
        if (streq (self->nodes[i].endpoint, address))
            return &self->nodes[i];
    return NULL;
}

//  The name of the node at address, or address itself.
static const char *s_node_name (const client_t *self, const char *address)
{
    const client_node_t *node = s_node_at (self, address);
    return node ? node->name : address;
}

//  Writes self->refusal: which nodes refused this client's key, and what
//  lets a client in. Leaves it NULL if memory runs out.
static void s_refusal_text (client_t *self)
{
    char *names = strdup ("");
    for (int i = 0; names && i < self->refused_count; i++) {
        char *longer =
            zsys_sprintf ("%s%s%s", names, i ? ", " : "", s_node_name (self, self->refused[i]));
        free (names);
        names = longer;
    }
    free (self->refusal);
    self->refusal =
        names ? zsys_sprintf ("%s %s refused this client's key: is %s in the cluster's clients? "
                              "A node lets in only the certificates in its clients/ directory "
                              "and its operators/ (where `shoal cluster init` and `cluster "
                              "rekey --operator` put the operator's client.cert): copy it into "
                              "each node's operators/ (an operator) or clients/ (an "
                              "application), which the nodes read again when they change. A "
                              "certificate taken back or replaced (`cluster rekey`) stays "
                              "refused: use the new one; never put a key taken back in again",
                              self->refused_count > 1 ? "nodes" : "node", names, self->cert_path)
              : NULL;
    free (names);
}

//  Reads one event of monitor that has come, without waiting: its id, and
//  its address into *address (the caller's to free; NULL out of memory)
//  unless address is NULL. False if none had come.
static bool s_monitor_next (void *monitor, uint16_t *id, char **address)
{
    zmq_msg_t event, from;
    zmq_msg_init (&event);
    zmq_msg_init (&from);
    bool got = zmq_msg_recv (&event, monitor, ZMQ_DONTWAIT) != -1 && zmq_msg_more (&event) &&
               zmq_msg_recv (&from, monitor, 0) != -1;
    *id = 0;
    if (got && zmq_msg_size (&event) >= 2)
        memcpy (id, zmq_msg_data (&event), 2);
    if (got && address)
        *address = strndup (zmq_msg_data (&from), zmq_msg_size (&from));
    zmq_msg_close (&event);
    zmq_msg_close (&from);
    return got;
}

//  Reads the monitor's events that have come, without waiting, and
//  records each address that refused our key once.
static void s_read_events (client_t *self)
{
    void *monitor = zsock_resolve (self->monitor);
    uint16_t id;
    char *text;
    while (s_monitor_next (monitor, &id, &text)) {
        client_node_t *node = text ? s_node_at (self, text) : NULL;
        if (node && (id == ZMQ_EVENT_CONNECTED || id == ZMQ_EVENT_DISCONNECTED))
            node->linked = id == ZMQ_EVENT_CONNECTED;
        if (node && id == ZMQ_EVENT_CONNECTED)
            node->connected_at = zclock_mono ();
        else if (node && id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
            node->closed = 0;
        else if (node && (id == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL ||
                          id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)) {
            //  Ended at once: the node could not read our HELLO. Ended
            //  after a while: a handshake that timed out (a node frozen,
            //  or slow), which says nothing of its key.
            bool prompt = zclock_mono () - node->connected_at < CLIENT_CLOSED_WITHIN_MS;
            node->closed = prompt ? node->closed + 1 : 0;
        }
        bool known = false;
        for (int i = 0; text && i < self->refused_count; i++)
            known |= streq (self->refused[i], text);
        if (text && id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH && !known &&
            self->refused_count < self->node_count) {
            self->refused[self->refused_count++] = text;
            text = NULL;
            s_refusal_text (self);
        }
        free (text);
    }
}

bool client_linked (client_t *self)
{
    if (self->plain_monitor) {
        s_plain_events (self);
        return self->plain_linked;
    }
    if (self->monitor)
        s_read_events (self);
    for (int i = 0; i < self->node_count; i++)
        if (self->nodes[i].linked)
            return true;
    return !self->monitor; //  no way to tell: said as if it were
}

const char *client_refusal (client_t *self)
{
    if (self->monitor)
        s_read_events (self);
    return self->refusal;
}

const char *client_wrong_key (client_t *self)
{
    if (!self->monitor)
        return NULL;
    s_read_events (self);
    char *names = NULL;
    int most = 0;
    for (int i = 0; i < self->node_count; i++) {
        if (self->nodes[i].closed < CLIENT_CLOSED_MIN)
            continue;
        char *longer =
            zsys_sprintf ("%s%s%s", names ? names : "", names ? ", " : "", self->nodes[i].name);
        free (names);
        names = longer;
        if (self->nodes[i].closed > most)
            most = self->nodes[i].closed;
        if (!names)
            return NULL;
    }
    free (self->wrong_key);
    self->wrong_key =
        names ? zsys_sprintf ("%s %s ended every CURVE handshake at once (%d times): the key "
                              "%s gives it is not the one it runs with. After `shoal cluster "
                              "rekey`, the node must run with its new node.cert and this client "
                              "must have the cluster file of the new epoch, both; or what "
                              "listens there is not that node",
                              strchr (names, ',') ? "nodes" : "node", names, most,
                              self->map_path ? self->map_path : "the cluster file")
              : NULL;
    free (names);
    return self->wrong_key;
}

//  Sends frame over a link that is up, waiting for one at most wait_ms
//  (-1: for ever). Returns 0, SHOAL_EAUTH at once when every node has
//  refused our key, or SHOAL_ENET when no link came up in time.
static int s_send_up (client_t *self, const void *frame, size_t size, int wait_ms)
{
    void *dealer = zsock_resolve (self->dealer);
    int64_t deadline = 0;
    while (true) {
        //  A link is up: sent, with no look at the monitor (a read of it is
        //  a poll(2); this is every request's path).
        if (zmq_send (dealer, frame, size, ZMQ_DONTWAIT) != -1)
            return 0;
        if (zmq_errno () != EAGAIN)
            return SHOAL_ENET;
        if (!deadline)
            deadline = zclock_mono () + wait_ms;
        s_read_events (self);
        if (self->refused_count == self->node_count)
            return SHOAL_EAUTH;
        int64_t left = wait_ms < 0 ? -1 : deadline - zclock_mono ();
        if ((wait_ms >= 0 && left <= 0) || zsys_interrupted)
            return SHOAL_ENET;
        zmq_pollitem_t items[] = {{dealer, 0, ZMQ_POLLOUT, 0},
                                  {zsock_resolve (self->monitor), 0, ZMQ_POLLIN, 0}};
        if (zmq_poll (items, 2, (long) left) == -1 && zmq_errno () != EINTR)
            return SHOAL_ENET;
    }
}

client_t *client_new_cluster (const char *path, const char *node, char **error)
{
    *error = NULL;
    cluster_t *cluster = cluster_load (path, error);
    if (!cluster)
        return NULL;
    char *dir = strdup (path);
    char *slash = dir ? strrchr (dir, '/') : NULL;
    char *cert_path = !dir    ? NULL
                      : slash ? (*slash = 0, zsys_sprintf ("%s/client.cert", dir))
                              : strdup ("client.cert");
    free (dir);
    char *why = NULL;
    zcert_t *cert = cert_path ? cluster_cert_load (cert_path, &why) : NULL;
    int index = node ? cluster_find (cluster, node) : -1;
    client_t *self = NULL;
    if (!cert)
        *error = zsys_sprintf ("cannot load the client certificate %s (and its _secret): %s; "
                               "`shoal cluster init` writes it beside the cluster file",
                               cert_path ? cert_path : "client.cert", why ? why : "out of memory");
    else if (node && index < 0)
        *error = zsys_sprintf ("%s: no node is called %s", path, node);
    else if (!(self = calloc (1, sizeof (client_t))) || !(self->dealer = zsock_new (ZMQ_DEALER)) ||
             !(self->nodes =
                   calloc ((size_t) cluster_node_count (cluster), sizeof (client_node_t))) ||
             !(self->refused = calloc ((size_t) cluster_node_count (cluster), sizeof (char *))) ||
             s_monitor_start (self) != 0) {
        *error = strdup ("out of memory");
        client_destroy (&self);
    } else
        self->gave_up_ms = -1;
    free (why);
    if (self) {
        zsock_set_linger (self->dealer, 0);
        zsock_set_sndhwm (self->dealer, 0);
        zsock_set_rcvhwm (self->dealer, 0);
        //  A request goes to a node whose link is up, never queued for one
        //  that is down; with none up, a send gives up after a while
        //  (s_send_up), or at once when every node refused our key.
        zsock_set_immediate (self->dealer, 1);
        self->send_timeout_ms = CLIENT_DEFAULT_SEND_TIMEOUT_MS;
        self->cert_path = cert_path;
        cert_path = NULL;
        self->map_path = strdup (path); //  NULL out of memory: "the cluster file"
        zcert_apply (cert, self->dealer);
        for (int i = 0; i < cluster_node_count (cluster); i++) {
            if (node && i != index)
                continue;
            client_node_t *connected = &self->nodes[self->node_count++];
            snprintf (connected->name, sizeof connected->name, "%s",
                      cluster_node_name (cluster, i));
            snprintf (connected->endpoint, sizeof connected->endpoint, "%s",
                      cluster_node_client (cluster, i));
            zsock_set_curve_serverkey (self->dealer, cluster_node_key (cluster, i));
            if (zsock_connect (self->dealer, "%s", cluster_node_client (cluster, i)) != 0) {
                *error = zsys_sprintf ("%s: cannot connect to %s", path,
                                       cluster_node_client (cluster, i));
                client_destroy (&self);
                break;
            }
        }
    }
    zcert_destroy (&cert);
    zstr_free (&cert_path);
    cluster_destroy (&cluster);
    return self;
}

void client_target (const char *endpoint_option, const char *cluster_option, const char **endpoint,
                    const char **cluster)
{
    const char *env_endpoint = getenv ("SHOAL_ENDPOINT");
    const char *env_cluster = getenv ("SHOAL_CLUSTER");
    *endpoint = NULL;
    *cluster = NULL;
    if (endpoint_option && *endpoint_option)
        *endpoint = endpoint_option;
    else if (cluster_option && *cluster_option)
        *cluster = cluster_option;
    else if (env_endpoint && *env_endpoint)
        *endpoint = env_endpoint;
    else if (env_cluster && *env_cluster)
        *cluster = env_cluster;
    else
        *endpoint = CLIENT_DEFAULT_ENDPOINT;
}

void client_set_send_timeout (client_t *self, int timeout_ms)
{
    self->send_timeout_ms = timeout_ms; //  s_send_up or s_send_plain_within waits
    if (!self->monitor)
        zsock_set_sndtimeo (self->dealer, timeout_ms); //  0 and -1: zmq_send's own
}

void client_destroy (client_t **self_p)
{
    client_t *self = *self_p;
    if (self) {
        if (self->monitor || self->plain_monitor)
            zmq_socket_monitor (zsock_resolve (self->dealer), NULL, 0);
        zsock_destroy (&self->monitor);
        zsock_destroy (&self->plain_monitor);
        zsock_destroy (&self->dealer);
        for (int i = 0; i < self->refused_count; i++)
            free (self->refused[i]);
        free (self->refused);
        free (self->nodes);
        free (self->cert_path);
        free (self->refusal);
        free (self->map_path);
        free (self->wrong_key);
        free (self);
        *self_p = NULL;
    }
}

//  A plain client's send that waits for its DEALER to have a peer at most
//  wait_ms. libzmq ends a connection whose handshake failed on our side (a
//  node that takes CURVE clients only, whose greeting came first), and the
//  DEALER may have no peer for ever after: a send without a timeout waited
//  for one for ever (`shoal send --timeout 300` to a cluster's node, now
//  and then). SHOAL_ETIMEOUT then, as for a call not answered.
static int s_send_plain_within (client_t *self, const uint8_t *frame, size_t size, int wait_ms)
{
    void *dealer = zsock_resolve (self->dealer);
    int64_t deadline = zclock_mono () + wait_ms;
    while (zmq_send (dealer, frame, size, ZMQ_DONTWAIT) == -1) {
        if (zmq_errno () != EAGAIN && zmq_errno () != EINTR)
            return SHOAL_ENET;
        int64_t left = deadline - zclock_mono ();
        if (left <= 0 || zsys_interrupted)
            return SHOAL_ETIMEOUT;
        zmq_pollitem_t item = {dealer, 0, ZMQ_POLLOUT, 0};
        if (zmq_poll (&item, 1, (long) left) == -1 && zmq_errno () != EINTR)
            return SHOAL_ENET;
    }
    return 0;
}

//  client_send, a cluster client waiting for a link at most wait_ms (-1:
//  for ever) instead of its send timeout, a plain client for a peer at
//  most wait_ms when it is above 0 (a call's), else by its send timeout.
//  A copy (client_call_every's) waits for nothing: a cluster client's goes
//  over a link that is up or not at all, a plain client's into its
//  DEALER's queue if it has room.
static int s_send (client_t *self, const envelope_t *request, int wait_ms, bool copy)
{
    uint8_t *frame;
    size_t size;
    int rc = envelope_encode (request, &frame, &size);
    if (rc)
        return rc;
    if (self->monitor)
        rc = s_send_up (self, frame, size, copy ? 0 : wait_ms);
    else if (!copy && wait_ms > 0)
        rc = s_send_plain_within (self, frame, size, wait_ms);
    else
        rc = zmq_send (zsock_resolve (self->dealer), frame, size, copy ? ZMQ_DONTWAIT : 0) == -1
                 ? SHOAL_ENET
                 : 0;
    free (frame);
    return rc;
}

int client_send (client_t *self, const envelope_t *request)
{
    return s_send (self, request, self->send_timeout_ms, false);
}

int client_recv (client_t *self, int timeout_ms, client_reply_t *reply)
{
    memset (reply, 0, sizeof *reply);
    void *dealer = zsock_resolve (self->dealer);
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    //  A reply that has come is taken at once: a zmq_poll first is a
    //  poll(2) per reply, most of a loaded client's CPU (shoal bench).
    if (zmq_msg_recv (&msg, dealer, ZMQ_DONTWAIT) == -1) {
        if (zmq_errno () != EAGAIN && zmq_errno () != EINTR) {
            zmq_msg_close (&msg);
            return SHOAL_ENET;
        }
        //  None waiting: no wait asked for is no poll(2) either (that
        //  receive read the socket's commands as a zero poll would).
        if (timeout_ms == 0 && zmq_errno () == EAGAIN) {
            zmq_msg_close (&msg);
            return SHOAL_ETIMEOUT;
        }
        zmq_pollitem_t item = {dealer, 0, ZMQ_POLLIN, 0};
        int64_t deadline = zclock_mono () + timeout_ms;
        while (true) {
            int64_t left = deadline - zclock_mono ();
            if (left < 0 || zsys_interrupted) //  after Ctrl-C: no wait, what has come
                left = 0;
            int rc = zmq_poll (&item, 1, (long) left);
            if (rc == -1 && zmq_errno () == EINTR && !zsys_interrupted)
                continue;
            if (rc <= 0) {
                zmq_msg_close (&msg);
                return SHOAL_ETIMEOUT;
            }
            break;
        }
        if (zmq_msg_recv (&msg, dealer, 0) == -1) {
            zmq_msg_close (&msg);
            return SHOAL_ENET;
        }
    }
    size_t size = zmq_msg_size (&msg);
    reply->frame = malloc (size ? size : 1);
    if (reply->frame)
        memcpy (reply->frame, zmq_msg_data (&msg), size);
    while (zmq_msg_more (&msg))
        zmq_msg_recv (&msg, dealer, 0);
    zmq_msg_close (&msg);
    if (!reply->frame)
        return SHOAL_ENOMEM;
    envelope_t envelope;
    if (envelope_decode (&envelope, reply->frame, size) != 0 || envelope.kind != ENVELOPE_REPLY ||
        envelope_reply_decode (envelope.payload, envelope.payload_size, &reply->ok, reply->code,
                               reply->reason, &reply->data, &reply->size) != 0) {
        client_reply_close (reply);
        return SHOAL_EFORMAT;
    }
    memcpy (reply->correlation, envelope.correlation, ENVELOPE_ID_SIZE);
    strcpy (reply->from, envelope.from);
    strcpy (reply->name, envelope.name);
    return 0;
}

void client_reply_close (client_reply_t *reply)
{
    free (reply->frame);
    reply->frame = NULL;
    reply->data = NULL;
    reply->size = 0;
}

bool client_reply_transient (const client_reply_t *reply)
{
    return !reply->ok &&
           (strcmp (reply->code, "unavailable") == 0 || strcmp (reply->code, "busy") == 0);
}

bool client_reply_settled (const client_reply_t *reply)
{
    return reply->ok || envelope_code_settles (reply->code);
}

bool client_reply_answers (const client_reply_t *reply, const uint8_t id[ENVELOPE_ID_SIZE])
{
    static const uint8_t nil[ENVELOPE_ID_SIZE];
    if (memcmp (reply->correlation, id, ENVELOPE_ID_SIZE) == 0)
        return true;
    return memcmp (reply->correlation, nil, ENVELOPE_ID_SIZE) == 0 && !reply->ok;
}

int client_call_every (client_t *self, const envelope_t *request, int timeout_ms, int every_ms,
                       client_reply_t *reply, int *sends)
{
    //  One deadline for the link and the reply, not the send timeout: a
    //  call of 8000 ms waits for a node that is back after 3 s, one of
    //  300 ms gives up after 300 ms.
    int64_t began = zclock_mono ();
    int64_t deadline = began + timeout_ms;
    self->gave_up_ms = -1;
    if (sends)
        *sends = 0;
    int rc = s_send (self, request, timeout_ms > 0 ? timeout_ms : 0, false);
    if (rc)
        return rc;
    int sent = 1;
    uint32_t attempt = request->attempt;
    //  A runtime's command ($resolve, $resend) is no actor's: no inbox
    //  answers a copy, which would be done again. It is sent once.
    if (request->name[0] == '$')
        every_ms = 0;
    int64_t again = every_ms > 0 ? zclock_mono () + every_ms : INT64_MAX;
    //  Once copies are out, a reply that does not settle the request (a
    //  copy refused as busy or unavailable, or whose turn failed: none is
    //  stored) is kept while another copy may still be answered for good.
    client_reply_t kept = {0};
    bool keeping = false;
    bool last = false; //  out of time (or stopped): one look at what has come, no wait
    while (true) {
        int64_t now = zclock_mono ();
        last = last || now >= deadline || zsys_interrupted;
        if (!last && now >= again) {
            //  Under the same id: the actor's inbox answers a copy of a
            //  command it ran with the reply it stored, so a copy never
            //  runs twice; one lost with a node that died before its
            //  commit runs once when the node is back.
            envelope_t copy = *request;
            copy.attempt = ++attempt; //  docs/PROTOCOL.md, "Ids and retries"
            if (s_send (self, &copy, 0, true) == 0)
                sent++;
            again = now + every_ms;
        }
        int64_t until = again < deadline ? again : deadline;
        //  A plain client looks at its link every 100 ms: a node that ended
        //  the handshake (CURVE only) never answers, and the call gives up
        //  then, as at its deadline (it waited the whole timeout).
        if (self->plain_monitor && until - now > PLAIN_LOOK_MS)
            until = now + PLAIN_LOOK_MS;
        rc = client_recv (self, last ? 0 : (int) (until - now), reply);
        if (rc == SHOAL_ETIMEOUT && !last && self->plain_monitor && s_plain_refused (self)) {
            self->gave_up_ms = (long) (zclock_mono () - began);
            last = true;
            continue;
        }
        if (rc == SHOAL_ETIMEOUT && last) {
            if (keeping) { //  the last that came, though it settles nothing
                *reply = kept;
                keeping = false;
                rc = 0;
            }
            break;
        }
        if (rc == SHOAL_ETIMEOUT || rc == SHOAL_EFORMAT)
            continue; //  time to send it again or to give up; or not a reply of ours
        if (rc)
            break;
        //  A nil correlation with ok false: the node could not read our
        //  frame, and its refusal is the answer. A nil one that says ok is
        //  no reply the protocol has: dropped as a frame that is not a reply
        //  of ours, and the wait goes on, as for another request's.
        if (!client_reply_answers (reply, request->id)) {
            client_reply_close (reply);
            continue;
        }
        if (sent > 1 && !client_reply_settled (reply)) {
            if (keeping)
                client_reply_close (&kept);
            kept = *reply;
            keeping = true;
            continue;
        }
        break;
    }
    if (keeping)
        client_reply_close (&kept);
    if (sends)
        *sends = sent;
    return rc;
}

int client_call (client_t *self, const envelope_t *request, int timeout_ms, client_reply_t *reply)
{
    return client_call_every (self, request, timeout_ms, 0, reply, NULL);
}

void client_request (envelope_t *request, envelope_kind_t kind, const uint8_t *id, const char *to,
                     const char *name, const uint8_t *payload, size_t size)
{
    memset (request, 0, sizeof *request);
    request->kind = (uint8_t) kind;
    if (id)
        memcpy (request->id, id, ENVELOPE_ID_SIZE);
    else
        envelope_new_id (request->id);
    snprintf (request->to, sizeof request->to, "%s", to);
    snprintf (request->name, sizeof request->name, "%s", name);
    request->payload = payload;
    request->payload_size = size;
    request->created = zclock_time ();
}
