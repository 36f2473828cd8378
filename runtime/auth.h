/*  auth.h - the node's ZAP handler (ZeroMQ RFC 27): which CURVE keys may
    connect to which endpoint.

    czmq's zauth keeps one certificate store for every socket of a process;
    a node needs two, told apart by the ZAP domain its sockets set: on the
    peer endpoint (domain AUTH_DOMAIN_PEER) only the node keys of the cluster
    file, on the client endpoint (AUTH_DOMAIN_CLIENT) only the certificates
    in the node's clients and operators directories (re-read when they
    change, so an operator adds a client without a restart). Any other
    domain or mechanism is refused.

    A handshake lets a connection in once; what its messages may do is
    judged again at each of them, by the front, against the directories
    as they are now: the handler reads them again at each client's
    handshake and every AUTH_RELOAD_MS when they changed, and posts the
    keys to config->keys (clientkeys.h), where the front takes them. A key
    removed from both directories is refused on its open connections
    (key_revoked), one moved from operators/ to clients/ loses its acts,
    within about AUTH_RELOAD_MS.

    A connection's messages carry its key as their "User-Id" property.
    The front asks the newest keys whether it is still let in, and before
    an operator's act whether it is an operator's now (front_keys.c:
    $resolve, $resend, a dead letter's retry or drop, a projection's
    control; a node with no operators directory takes every client for
    one).

    The handler is a czmq zactor bound on inproc://zeromq.zap.01, one per
    process (ZeroMQ's rule): start it before binding the CURVE sockets.
    Refusals are counted in *refused (any thread may read it) and logged,
    at most once a second.
*/
#ifndef AUTH_H_INCLUDED
#define AUTH_H_INCLUDED

#include "clientkeys.h"

#include <czmq.h>
#include <stdatomic.h>

#define AUTH_DOMAIN_PEER "shoal-peer"
#define AUTH_DOMAIN_CLIENT "shoal-client"
//  The directories are looked at this often for changes (a stat of each
//  entry; certificates are read only when something changed).
#define AUTH_RELOAD_MS 1000

typedef struct {
    const char *clients_dir;       //  certificates allowed on the client endpoint
    const char *operators_dir;     //  and those of its operators (NULL: every client is one)
    const char **peer_keys;        //  Z85 public keys allowed on the peer endpoint
    int peer_count;                //  how many
    atomic_uint_fast64_t *refused; //  bumped for each connection refused
    clientkeys_box_t *keys;        //  where each new set of keys goes, for the front; NULL: none
} auth_config_t;

//  Starts the handler, with the directories' keys read and posted to
//  config->keys before it returns. config and what it points to must
//  outlive it; it destroys a set left in config->keys when it stops.
//  Returns NULL (with a line on stderr) if the ZAP endpoint is taken or
//  out of memory.
zactor_t *auth_new (const auth_config_t *config);

#endif
