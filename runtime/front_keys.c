/*  front_keys.c - whose client messages the front takes, by the key of
    their connection, judged at every message against the node's clients/
    and operators/ directories as they are now (auth.h, clientkeys.h):

    - a message from a key in neither directory any more is refused,
      `key_revoked`, and changes nothing: the connection was let in
      before its certificate was removed;
    - an operator's act ($resolve, $resend, a dead letter's retry or
      drop, a projection's control) from a key not in operators/ now is
      refused, `not_an_operator`; one that is, is logged with the key;
    - and one a peer forwarded for its client (a CALL) is judged again
      here, by the key the peer gave: each node's clients/ and operators/
      guard the actors it owns, whichever node the client reached.

    A client endpoint without CURVE (a node alone, on loopback or ipc)
    has no keys and no User-Id: its machine's users are its operators.
    Nor has the projection thread's inproc connection to the endpoint.
    The front's thread only: the sets it takes from the authenticator's
    box are its own until it takes a newer one.
*/
#include "front_internal.h"
#include "auth.h"
#include "deadletter.h"
#include "log.h"

#include <string.h>

#define KEY_SIZE 40 //  a public key in Z85, as the User-Id ends

//  True if envelope is an operator's act: a saga's command resolved or
//  re-sent, a dead letter retried or dropped, a projection paused,
//  resumed, rebuilt, skipped, switched or dropped.
static bool s_operators_act (const envelope_t *envelope)
{
    if (envelope->kind == ENVELOPE_COMMAND)
        return streq (envelope->name, "$resolve") || streq (envelope->name, "$resend");
    return streq (envelope->name, "projection_control") || deadletter_is_query (envelope->name);
}

//  The key a User-Id names (borrowed from it, auth.c), or NULL if none.
static const char *s_key_of (const char *user)
{
    return strlen (user) == KEY_SIZE ? user : NULL;
}

//  Logs the messages refused key_revoked since the last line, at most
//  once a second, naming the key of the last.
static void s_log_revoked (front_t *self, const char *key)
{
    int64_t now = zclock_mono ();
    if (self->revoked_logged_at && now - self->revoked_logged_at < 1000)
        return;
    uint64_t revoked = atomic_load_explicit (&self->counters.revoked, memory_order_relaxed);
    uint64_t count = revoked - self->revoked_logged;
    log_warn ("shoal node: refused %llu client message%s, key_revoked: its connection's key is "
              "no longer in the clients and operators directories (the last: key %s)",
              (unsigned long long) count, count == 1 ? "" : "s", key ? key : "none");
    self->revoked_logged = revoked;
    self->revoked_logged_at = now;
}

//  Logs an operator's act with the key that made it (NULL: no CURVE), and
//  the node it came through (NULL: a client of ours): the "operator" a
//  $resolve names is its sender's word, the key is the handshake's.
static void s_log_act (const char *key, const envelope_t *envelope, const char *through)
{
    log_info ("shoal node: %s %s to %s by %s%s%s%s",
              envelope->kind == ENVELOPE_COMMAND ? "command" : "query", envelope->name,
              envelope->to, key ? "the operator of key " : "a client (no CURVE)", key ? key : "",
              through ? ", through node " : "", through ? through : "");
}

//  Takes the newest keys the authenticator posted, if any.
static void s_refresh (front_t *self)
{
    clientkeys_t *newer = clientkeys_take (self->config.keys);
    if (newer) {
        clientkeys_destroy (&self->keys);
        self->keys = newer;
    }
}

bool front_keys_admit (front_t *self, const uint8_t *route, size_t route_size, zmq_msg_t *frame,
                       const envelope_t *envelope)
{
    const char *user = self->config.keys ? zmq_msg_gets (frame, "User-Id") : NULL;
    clientkeys_place_t place = CLIENTKEYS_OPERATOR; //  no CURVE: the machine's users
    const char *key = NULL;
    if (user) {
        s_refresh (self);
        key = s_key_of (user);
        place = key ? clientkeys_place (self->keys, key) : CLIENTKEYS_NONE;
    }
    if (place == CLIENTKEYS_NONE) {
        self->counters.revoked++;
        s_log_revoked (self, key);
        front_reject (self, route, route_size, envelope, "key_revoked",
                      "this client's key is no longer let in: its certificate was removed from "
                      "the node's clients/ and operators/ directories");
        return false;
    }
    if (!s_operators_act (envelope))
        return true;
    if (place != CLIENTKEYS_OPERATOR) {
        front_reject (self, route, route_size, envelope, "not_an_operator",
                      "only an operator may send this: the client's certificate is not in "
                      "the node's operators directory");
        return false;
    }
    s_log_act (key, envelope, NULL);
    return true;
}

const char *front_keys_key (const front_t *self, zmq_msg_t *frame)
{
    const char *user = self->config.keys ? zmq_msg_gets (frame, "User-Id") : NULL;
    return user ? s_key_of (user) : NULL;
}

bool front_keys_admit_call (front_t *self, const uint8_t *route, size_t route_size,
                            const envelope_t *envelope, const char *key, int through)
{
    if (!self->config.keys)
        return true; //  no keys here: no CURVE
    s_refresh (self);
    //  A client's key taken back here is refused whatever node it came
    //  through: each node's clients/ and operators/ guard the actors it
    //  owns (before, a key removed from the owner's directories reached
    //  its actors through any node that still had it). A request with no
    //  key (a projection's reaction: the node's own) was judged there.
    if (key && clientkeys_place (self->keys, key) == CLIENTKEYS_NONE) {
        self->counters.revoked++;
        s_log_revoked (self, key);
        front_reject (self, route, route_size, envelope, "key_revoked",
                      "this client's key is not let in by the node that owns the target: its "
                      "certificate is not in that node's clients/ and operators/ directories "
                      "(put it in every node's; one removed or added is seen within a second)");
        return false;
    }
    if (!s_operators_act (envelope))
        return true;
    if (!key || clientkeys_place (self->keys, key) != CLIENTKEYS_OPERATOR) {
        front_reject (self, route, route_size, envelope, "not_an_operator",
                      "only an operator may send this: the client's key is not in the operators "
                      "directory of the node that owns the target");
        return false;
    }
    s_log_act (key, envelope, cluster_node_name (self->config.cluster, through));
    return true;
}

void front_keys_close (front_t *self)
{
    clientkeys_destroy (&self->keys);
    clientkeys_t *left = self->config.keys ? clientkeys_take (self->config.keys) : NULL;
    clientkeys_destroy (&left);
}
