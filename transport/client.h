/*  client.h - the client library (shoal_client): a ZeroMQ DEALER client
    of a node's endpoint, `key=value` field parsing, and the reading of
    replies (map_*, reply_state_*). Any C program may link it to talk to a
    node; it needs transport/ and common/ (czmq, libzmq, msgpack-c) and
    nothing of the runtime or the journal. client_window.h drives a window
    of requests in flight; json.h prints replies as JSON.

    A client_t belongs to one thread. Requests may be pipelined: send many,
    then receive replies in any order and match them by correlation id.
*/
#ifndef CLIENT_H_INCLUDED
#define CLIENT_H_INCLUDED

#include <msgpack.h>

#include "envelope.h"

#define CLIENT_DEFAULT_ENDPOINT "tcp://127.0.0.1:7700"

typedef struct _client_t client_t;

typedef struct {
    uint8_t correlation[ENVELOPE_ID_SIZE]; //  the request's id (zero: a frame error)
    char from[SHOAL_ADDRESS_MAX + 1];      //  the actor that answered
    char name[SHOAL_NAME_MAX + 1];         //  the request's name
    bool ok;                               //  accepted
    char code[ENVELOPE_CODE_MAX + 1];      //  when rejected
    char reason[ENVELOPE_REASON_MAX + 1];  //  when rejected
    const uint8_t *data;                   //  accepted fields (msgpack map)
    size_t size;
    uint8_t *frame; //  owns data
} client_reply_t;

//  The endpoint to use: option if given, else $SHOAL_ENDPOINT, else the
//  default. Borrowed.
const char *client_endpoint (const char *option);

//  Connects to endpoint. Returns NULL if the endpoint is malformed
//  (cluster_endpoint_problem, cluster.h, says how).
client_t *client_new (const char *endpoint);

//  The cluster file to use: option if given, else $SHOAL_CLUSTER, else
//  NULL (no cluster: talk to one endpoint). Borrowed.
const char *client_cluster (const char *option);

//  Connects to the nodes of the cluster whose file is at path, with CURVE:
//  the client certificate beside the file (client.cert and its _secret,
//  as `shoal cluster init` writes them), and each node's public key from
//  the map. node NULL: every node, and each request goes to one whose link
//  is up (a node forwards what it does not own); else that node alone.
//  Returns NULL with *error (free() it).
client_t *client_new_cluster (const char *path, const char *node, char **error);

//  Chooses what a client talks to, from options (NULL: not given) and the
//  environment: an endpoint option beats a cluster option, which beats
//  $SHOAL_ENDPOINT, which beats $SHOAL_CLUSTER; with none of them,
//  CLIENT_DEFAULT_ENDPOINT. Sets one of *endpoint and *cluster and the
//  other to NULL, borrowed from the options or the environment. This
//  function can't fail.
void client_target (const char *endpoint_option, const char *cluster_option, const char **endpoint,
                    const char **cluster);

//  Sets how long client_send may wait for a link that takes the request:
//  0 not at all, -1 for ever; 2000 ms unless told. A client of
//  client_new_cluster sends only over links that are up; a client of
//  client_new queues while its DEALER has a peer (connected or being
//  connected), and waits only when it has none (a node whose handshake
//  refused ours). client_call has its own timeout.
void client_set_send_timeout (client_t *self, int timeout_ms);
void client_destroy (client_t **self_p);

//  Sends a request. Returns 0 or a negative code: a client of
//  client_new_cluster returns SHOAL_ENET when no link came up within the
//  send timeout, and SHOAL_EAUTH at once when every node it talks to has
//  refused its key (client_refusal says which, and what to do); a client
//  of client_new, SHOAL_ETIMEOUT when its DEALER had no peer as long.
int client_send (client_t *self, const envelope_t *request);
//  Which nodes refused this client's key, and what lets a client in, as
//  a message; NULL while none has. Borrowed until the next call on self.
const char *client_refusal (client_t *self);
//  Which nodes ended each of our CURVE handshakes (two or more in a row
//  since their last good one; a refused key is client_refusal's): the
//  key the cluster file gives them is not theirs, as when `shoal cluster
//  rekey` gave one a new key and this file is of the epoch before. A
//  message naming them and the file, or NULL while none did. Borrowed
//  until the next call on self.
const char *client_wrong_key (client_t *self);
//  Why a client of client_new has had no answer, as its link was seen
//  (a monitor of its own): the node took the request (it is slow to
//  answer); its connection ended since (it stopped); what listens ended
//  the handshake (a cluster's node: CURVE only); a connection taken and
//  never answered (a stopped process); or nothing took a connection.
//  NULL without a monitor. Static text.
const char *client_no_answer_why (client_t *self);
//  True when a client of client_new never finished a handshake, as far
//  as the events client_no_answer_why read say (call it first): nothing
//  it sent can have reached a node. False for a cluster's client, or
//  without a monitor.
bool client_reached_nothing (const client_t *self);
//  True when what a client of client_new reached ended the handshake: a
//  cluster's node, which answers only CURVE clients. False for a
//  cluster's client, or without a monitor.
bool client_handshake_ended (client_t *self);
//  True if a connection of client is taken now by what listens at its
//  endpoint (a node stopped, or busy, takes it; none there, or one not
//  running, does not), as its monitor saw; true when it cannot tell.
bool client_linked (client_t *self);
//  How long the last call waited when it ended before its timeout because
//  the node ended the handshake (no wait would bring an answer), or -1.
long client_gave_up_ms (const client_t *self);
//  Receives one reply, waiting at most timeout_ms (not at all once
//  zsys_interrupted is set: a reply already come, else SHOAL_ETIMEOUT).
//  Returns 0, SHOAL_ETIMEOUT, or SHOAL_EFORMAT for a frame that does not
//  decode.
int client_recv (client_t *self, int timeout_ms, client_reply_t *reply);
void client_reply_close (client_reply_t *reply);
//  True if reply is a rejection that means "ask again": the node could
//  not take the request now (`unavailable` or `busy`).
bool client_reply_transient (const client_reply_t *reply);

//  True if reply answers the request whose id is id: its correlation is
//  id, or it is nil and the reply is a refusal (ok false). A nil
//  correlation is the node's answer to a frame it could not read at all
//  (docs/PROTOCOL.md, "Replies"), always a refusal (bad_frame): over our
//  socket, the frame of ours it could not read. A nil one that says ok
//  answers no request (the protocol has no such reply) and is nobody's
//  answer: taken, a command whose fate is unknown would read as accepted.
bool client_reply_answers (const client_reply_t *reply, const uint8_t id[ENVELOPE_ID_SIZE]);

//  Sends request and waits for its reply (or a frame error), at most
//  timeout_ms in all: a client of client_new_cluster waits for a link
//  within that time, whatever its send timeout. Returns 0, SHOAL_ETIMEOUT
//  (sent, no reply), or another negative code as client_send does
//  (SHOAL_ENET: no link came up in time, SHOAL_EAUTH: every node refused
//  this client's key).
int client_call (client_t *self, const envelope_t *request, int timeout_ms, client_reply_t *reply);
//  True unless reply leaves its command's fate open: a rejection that is
//  not stored (envelope_code_settles), so that another attempt under the
//  same id may yet run it. An acceptance, and an actor's decision, settle
//  it. (An invalid_payload of
//  a node out of memory is not stored either, and reads as a decision.)
bool client_reply_settled (const client_reply_t *reply);
//  client_call, sending the request again, under its id and attempt + 1,
//  every every_ms (0: never) until a reply comes or timeout_ms have
//  passed: a request a node took and then lost (it died before its
//  commit, or the link that carried its answer broke) is answered once
//  the node is back, within the timeout. A command is safe to send again
//  so: its actor runs it once, and answers a copy with the reply it
//  stored. Once a copy is out, a reply that does not settle the request
//  (client_reply_settled) is kept, not returned, while another copy may
//  still be answered for good; at the deadline it is what returns. A
//  command whose name starts with '$' ($resolve, $resend: no actor's inbox
//  answers a copy) is sent once whatever every_ms. *sends
//  (may be NULL) gets how many copies left, 0 if none did: more than one
//  means a reply that does not settle the request is not final.
int client_call_every (client_t *self, const envelope_t *request, int timeout_ms, int every_ms,
                       client_reply_t *reply, int *sends);

//  Fills a request envelope. payload is borrowed. id NULL = random.
void client_request (envelope_t *request, envelope_kind_t kind, const uint8_t *id, const char *to,
                     const char *name, const uint8_t *payload, size_t size);

//  Derives a 16-byte message id from a user's string: 32 hex digits are
//  taken as they are (but 32 zeros, which a node refuses: an id of zero
//  bytes reads as nil); anything else is hashed (SHA-1, first 16 bytes).
void client_id_from_string (const char *text, uint8_t id[ENVELOPE_ID_SIZE]);
void client_id_hex (const uint8_t id[ENVELOPE_ID_SIZE], char hex[2 * ENVELOPE_ID_SIZE + 1]);

//  Builds a msgpack map from arguments, as `shoal send` takes them:
//  "key=value" is auto-typed (integers stay integers, true/false are
//  booleans, anything else is a string, as it is); "key:=JSON" is any JSON
//  value (json.h: numbers with a fraction or exponent are doubles, null
//  is nil, {"$bytes": base64} is a byte string). A key is given once.
//  Returns 0 with *map to free(), or SHOAL_EINVAL with *error naming the
//  argument.
int client_fields (int argc, char **argv, uint8_t **map, size_t *size, char *error,
                   size_t error_size);
//  The same, starting from input (NULL: none), the text of a JSON object
//  whose fields come first; an argument may not repeat one of its keys.
int client_payload (const char *input, int argc, char **argv, uint8_t **map, size_t *size,
                    char *error, size_t error_size);

//  Unpacks data, checked, into unpacked (the caller's to init and
//  destroy). Returns the top-level map, borrowed from unpacked, or NULL if
//  data is not a msgpack map.
const msgpack_object *map_unpack (msgpack_unpacked *unpacked, const uint8_t *data, size_t size);
//  Finds the first key (a string) in map. Returns its value, borrowed
//  from map, or NULL if map is NULL, not a map, or has no such key.
const msgpack_object *map_find (const msgpack_object *map, const char *key);
//  An integer / string field of an unpacked map. Return 0 or
//  SHOAL_ENOTFOUND (also for an integer beyond int64_t, or a string that
//  does not fit buf with its NUL).
int map_find_int (const msgpack_object *map, const char *key, int64_t *value);
int map_find_str (const msgpack_object *map, const char *key, char *buf, size_t buf_size);
//  The same, of a packed msgpack map.
int map_int (const uint8_t *data, size_t size, const char *key, int64_t *value);
int map_str (const uint8_t *data, size_t size, const char *key, char *buf, size_t buf_size);

//  Reads a field of the "state" map of a `get` reply, as map_find_int /
//  map_find_str do. Return 0 or SHOAL_ENOTFOUND.
int reply_state_int (const client_reply_t *reply, const char *key, int64_t *value);
int reply_state_str (const client_reply_t *reply, const char *key, char *buf, size_t size);

#endif
