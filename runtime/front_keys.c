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
      guard the actors it owns, whichever node the client reached;
    - an operator's act taken is stamped: its payload's operator_key and
      operator_cert become the key the handshake proved and the name of
      the certificate that holds it here ("" and "" without CURVE),
      whatever the client wrote there. The records of the act (a
      $Resolved, a dead letter's decision) and its log lines carry them:
      the "operator" a client sends is its word, these the node's.
      The node that owns the target stamps it last, by its own
      directories.

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
#include "mpread.h"
#include "signer.h"

#include <msgpack.h>
#include <stdlib.h>
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

//  Logs an operator's act with the key that made it (NULL: no CURVE) and
//  its certificate's name, and the node it came through (NULL: a client
//  of ours): the "operator" a $resolve names is its sender's word, the
//  key is the handshake's.
static void s_log_act (const front_t *self, const char *key, const envelope_t *envelope,
                       const char *through)
{
    const char *cert = key ? clientkeys_name (self->keys, key) : NULL;
    log_info ("shoal node: %s %s to %s by %s%s%s%s%s%s%s",
              envelope->kind == ENVELOPE_COMMAND ? "command" : "query", envelope->name,
              envelope->to, key ? "the operator of key " : "a client (no CURVE)", key ? key : "",
              cert ? " (certificate " : "", cert ? cert : "", cert ? ")" : "",
              through ? ", through node " : "", through ? through : "");
}

//  Packs payload's pairs but operator_key's and operator_cert's, then
//  those two: key and cert. Returns 0, or SHOAL_EFORMAT (not a map).
static int s_stamped_payload (msgpack_sbuffer *buffer, const uint8_t *payload, size_t size,
                              const char *key, const char *cert)
{
    msgpack_packer packer, *pk = &packer;
    msgpack_packer_init (pk, buffer, msgpack_sbuffer_write);
    size_t offset = 0;
    uint64_t pairs, kept = 0;
    if (mpread_map (payload, size, &offset, &pairs))
        return SHOAL_EFORMAT;
    //  Two passes: the map's count comes first.
    for (int pass = 0; pass < 2; pass++) {
        size_t at = offset;
        if (pass == 1)
            msgpack_pack_map (pk, kept + 2);
        for (uint64_t i = 0; i < pairs; i++) {
            size_t start = at;
            mpread_item_t item;
            size_t peek = at;
            if (mpread_next (payload, size, &peek, &item) ||
                mpread_skip (payload, size, &at, MPREAD_DEPTH_ANY) ||
                mpread_skip (payload, size, &at, MPREAD_DEPTH_ANY))
                return SHOAL_EFORMAT;
            bool ours =
                item.kind == MPREAD_STR && ((item.len == strlen (SIGNER_KEY) &&
                                             memcmp (item.data, SIGNER_KEY, item.len) == 0) ||
                                            (item.len == strlen (SIGNER_CERT) &&
                                             memcmp (item.data, SIGNER_CERT, item.len) == 0));
            if (ours)
                continue;
            if (pass == 0)
                kept++;
            else
                msgpack_sbuffer_write (buffer, (const char *) payload + start, at - start);
        }
    }
    front_pack_str (pk, SIGNER_KEY);
    front_pack_str (pk, key ? key : "");
    front_pack_str (pk, SIGNER_CERT);
    front_pack_str (pk, cert ? cert : "");
    return 0;
}

//  Stamps an operator's act (see the top): frame is replaced by the
//  envelope with the node's operator_key and operator_cert, and
//  envelope decoded again from it. Returns false, having answered the
//  refusal, if it cannot be (out of memory, or past the size limit).
static bool s_stamp (front_t *self, const uint8_t *route, size_t route_size, zmq_msg_t *frame,
                     envelope_t *envelope, const char *key)
{
    const char *cert = key ? clientkeys_name (self->keys, key) : NULL;
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    uint8_t *data = NULL;
    size_t size = 0;
    int rc = s_stamped_payload (&buffer, envelope->payload, envelope->payload_size, key, cert);
    if (rc == 0 && !buffer.data)
        rc = SHOAL_ENOMEM;
    if (rc == 0) {
        envelope_t stamped = *envelope;
        stamped.payload = (const uint8_t *) buffer.data;
        stamped.payload_size = buffer.size;
        rc = envelope_encode (&stamped, &data, &size);
    }
    msgpack_sbuffer_destroy (&buffer);
    envelope_t fresh;
    if (rc == 0) {
        zmq_msg_close (frame);
        zmq_msg_init_size (frame, size);
        memcpy (zmq_msg_data (frame), data, size);
        free (data);
        rc = envelope_decode (&fresh, zmq_msg_data (frame), size);
    }
    if (rc != 0) {
        if (rc == SHOAL_ETOOBIG)
            self->counters.bad_frames++; //  as a frame too big as sent
        front_reject (self, route, route_size, envelope, rc == SHOAL_ETOOBIG ? "bad_frame" : "busy",
                      "the node could not write the operator's key into the request (out of "
                      "memory, or past the size of a message)");
        return false;
    }
    *envelope = fresh;
    return true;
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
                       envelope_t *envelope)
{
    const char *user = self->config.keys ? zmq_msg_gets (frame, "User-Id") : NULL;
    clientkeys_place_t place = CLIENTKEYS_OPERATOR; //  no CURVE: the machine's users
    const char *key = NULL;
    self->client_key[0] = 0;
    if (user) {
        s_refresh (self);
        key = s_key_of (user);
        place = key ? clientkeys_place (self->keys, key) : CLIENTKEYS_NONE;
        if (key) //  a copy: a stamp replaces the frame, and its User-Id
            memcpy (self->client_key, key, KEY_SIZE + 1);
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
    if (!s_stamp (self, route, route_size, frame, envelope, key))
        return false;
    s_log_act (self, key, envelope, NULL); //  taken: said once stamped
    return true;
}

const char *front_keys_key (const front_t *self)
{
    return self->client_key[0] ? self->client_key : NULL;
}

bool front_keys_admit_call (front_t *self, const uint8_t *route, size_t route_size,
                            zmq_msg_t *frame, envelope_t *envelope, const char *key, int through)
{
    if (!self->config.keys) //  no keys here: no CURVE
        return !s_operators_act (envelope) ||
               s_stamp (self, route, route_size, frame, envelope, NULL);
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
    if (!s_stamp (self, route, route_size, frame, envelope, key))
        return false;
    s_log_act (self, key, envelope, cluster_node_name (self->config.cluster, through));
    return true;
}

void front_keys_close (front_t *self)
{
    clientkeys_destroy (&self->keys);
    clientkeys_t *left = self->config.keys ? clientkeys_take (self->config.keys) : NULL;
    clientkeys_destroy (&left);
}
