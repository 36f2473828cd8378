/*  client.h - what the `shoal` commands, the demo, the bench and the
    process tests share: a ZeroMQ DEALER client of a node's endpoint,
    msgpack-to-JSON printing, `key=value` field parsing, and starting a
    `shoal node` as a child process.

    A client_t belongs to one thread. Requests may be pipelined: send many,
    then receive replies in any order and match them by correlation id.
*/
#ifndef CLIENT_H_INCLUDED
#define CLIENT_H_INCLUDED

#include <msgpack.h>
#include <stdio.h>
#include <sys/types.h>

#include "envelope.h"

#define CLIENT_DEFAULT_ENDPOINT "tcp://127.0.0.1:7700"
//  A free loopback port for a node of our own, below Linux's ephemeral
//  range (32768 up): a client reconnecting while the node is down could
//  otherwise connect to itself on the node's port (a TCP self-connect) and
//  hold it, so that the restarted node cannot bind it. czmq's "!" picks at
//  random in the range.
#define CLIENT_FREE_ENDPOINT "tcp://127.0.0.1:![20000-32767]"

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

//  Connects to endpoint. Returns NULL if the endpoint is malformed.
client_t *client_new (const char *endpoint);
void client_destroy (client_t **self_p);

//  Sends a request. Returns 0 or a negative code.
int client_send (client_t *self, const envelope_t *request);
//  Receives one reply, waiting at most timeout_ms. Returns 0,
//  SHOAL_ETIMEOUT, or SHOAL_EFORMAT for a frame that does not decode.
int client_recv (client_t *self, int timeout_ms, client_reply_t *reply);
void client_reply_close (client_reply_t *reply);
//  True if reply is a rejection that means "ask again": the node could
//  not take the request now (`unavailable` or `busy`).
bool client_reply_transient (const client_reply_t *reply);

//  Sends request and waits for its reply (or a frame error) until
//  timeout_ms. Returns 0, SHOAL_ETIMEOUT or another negative code.
int client_call (client_t *self, const envelope_t *request, int timeout_ms, client_reply_t *reply);

//  Fills a request envelope. payload is borrowed. id NULL = random.
void client_request (envelope_t *request, envelope_kind_t kind, const uint8_t *id, const char *to,
                     const char *name, const uint8_t *payload, size_t size);

//  Derives a 16-byte message id from a user's string: 32 hex digits are
//  taken as they are; anything else is hashed (SHA-1, first 16 bytes).
void client_id_from_string (const char *text, uint8_t id[ENVELOPE_ID_SIZE]);
void client_id_hex (const uint8_t id[ENVELOPE_ID_SIZE], char hex[2 * ENVELOPE_ID_SIZE + 1]);

//  Builds a msgpack map from "key=value" arguments: integers stay
//  integers, true/false are booleans, anything else is a string. Returns 0
//  with *map to free(), or SHOAL_EINVAL with *error naming the argument.
int client_fields (int argc, char **argv, uint8_t **map, size_t *size, char *error,
                   size_t error_size);

//  Writes one msgpack object as JSON. Returns 0 or SHOAL_EFORMAT.
int json_write (FILE *file, const uint8_t *data, size_t size);
//  Writes an unpacked msgpack object as JSON. This function can't fail.
void json_object (FILE *file, const msgpack_object *o);
//  Writes a JSON string literal (quoted, escaped).
void json_string (FILE *file, const char *text, size_t len);

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

//  Makes a new directory named prefix-XXXXXX under $TMPDIR (else /tmp)
//  and writes its path into buf. Returns 0, or -1 if it could not.
int client_temp_dir (const char *prefix, char *buf, size_t size);

//  Removes dir and everything under it, without a shell; symlinks are
//  removed, not followed. Returns 0, or -1 if anything stayed.
int client_remove_tree (const char *dir);

//  A `shoal node` child process.
typedef struct {
    pid_t pid;          //  0 when not running
    char endpoint[128]; //  as printed in its ready line
    char data_dir[512];
} node_child_t;

//  Starts `shoal node --data DIR --endpoint ENDPOINT [extra args]` from
//  the executable at shoal (NULL: this process's own), with its stdout
//  read until its ready line (at most timeout_ms). stderr goes to log
//  (NULL: inherited). Returns 0 or a negative code.
int node_child_start (node_child_t *child, const char *shoal, const char *data_dir,
                      const char *endpoint, char *const *extra, const char *log, int timeout_ms);
//  The options of a `shoal node` child: "--durability async|sync",
//  "--workers N" if workers > 0, then extra, as an argv for
//  node_child_start (argv is NULL-terminated; its strings are borrowed).
typedef struct {
    char *argv[24];   //  NULL-terminated
    char workers[16]; //  the text of N
} node_child_args_t;
void node_child_args (node_child_args_t *args, bool async, int workers, char *const *extra);

//  node_child_start with args, tried up to 20 times 250 ms apart: a port
//  just freed by a kill may stay busy for a moment. endpoint is copied
//  first, so it may be child->endpoint. Returns 0 or the last attempt's
//  code.
int node_child_start_retry (node_child_t *child, const char *shoal, const char *data_dir,
                            const char *endpoint, const node_child_args_t *args, const char *log,
                            int timeout_ms);
//  Sends sig and waits for the child to end. Returns its wait status.
int node_child_stop (node_child_t *child, int sig);

#endif
