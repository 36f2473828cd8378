/*  auth.c - the node's ZAP handler. See auth.h.

    A ZAP request is [version "1.0", request id, domain, address, routing
    id, mechanism, credentials...]; for CURVE the one credential is the
    client's 32-byte public key. The reply is [version, request id, status
    "200" or "400", text, user id, metadata]: the user id is the key in
    Z85, which a socket's messages then carry as their "User-Id" property.

    The keys of the clients and operators directories are read again when
    they changed (clientkeys_stale), before each client's handshake and
    every AUTH_RELOAD_MS; each new set is posted to config->keys, where
    the front takes it to judge every client message (front_keys.c).
    Runs on its own thread; touches only its socket, its set, the config
    and the box it posts to.
*/
#include "auth.h"
#include "log.h"
#include "threadname.h"

#include <string.h>

typedef struct {
    const auth_config_t *config;
    clientkeys_t *keys; //  the clients and operators directories as last read
    int64_t logged_at;  //  last refusal logged (ms), to rate-limit
} auth_t;

//  Reads the directories again if they changed, and posts the new set to
//  the front. Out of memory the set read before stays, until next time.
static void s_refresh (auth_t *self)
{
    if (!clientkeys_stale (self->keys))
        return;
    clientkeys_t *keys =
        clientkeys_load (self->config->clients_dir, self->config->operators_dir, self->keys);
    clientkeys_t *copy = keys && self->config->keys ? clientkeys_dup (keys) : NULL;
    if (!keys || (self->config->keys && !copy)) {
        clientkeys_destroy (&keys);
        return;
    }
    log_info ("shoal node: read the clients and operators directories again (they changed): "
              "%zu keys",
              clientkeys_count (keys));
    clientkeys_destroy (&self->keys);
    self->keys = keys;
    if (copy)
        clientkeys_post (self->config->keys, &copy);
}

//  Returns true if public_txt may connect in domain.
static bool s_allowed (auth_t *self, const char *domain, const char *public_txt)
{
    if (streq (domain, AUTH_DOMAIN_PEER)) {
        for (int i = 0; i < self->config->peer_count; i++)
            if (streq (self->config->peer_keys[i], public_txt))
                return true;
        return false;
    }
    if (streq (domain, AUTH_DOMAIN_CLIENT)) {
        s_refresh (self);
        return clientkeys_place (self->keys, public_txt) != CLIENTKEYS_NONE;
    }
    return false;
}

static void s_reply (zsock_t *handler, const char *request_id, bool ok, const char *user_id)
{
    zstr_sendx (handler, "1.0", request_id, ok ? "200" : "400", ok ? "OK" : "not authorized",
                ok ? user_id : "", "", NULL);
}

static void s_on_request (auth_t *self, zsock_t *handler)
{
    zmsg_t *request = zmsg_recv (handler);
    if (!request)
        return;
    char *version = zmsg_popstr (request);
    char *request_id = zmsg_popstr (request);
    char *domain = zmsg_popstr (request);
    char *address = zmsg_popstr (request);
    char *routing_id = zmsg_popstr (request);
    char *mechanism = zmsg_popstr (request);
    zframe_t *key = zmsg_pop (request);
    char public_txt[41] = "";
    bool ok = false;
    if (version && streq (version, "1.0") && request_id && domain && mechanism &&
        streq (mechanism, "CURVE") && key && zframe_size (key) == 32) {
        zmq_z85_encode (public_txt, zframe_data (key), 32);
        ok = s_allowed (self, domain, public_txt);
    }
    if (request_id)
        s_reply (handler, request_id, ok, public_txt);
    if (!ok) {
        atomic_fetch_add (self->config->refused, 1);
        int64_t now = zclock_mono ();
        if (now - self->logged_at >= 1000) {
            self->logged_at = now;
            log_warn ("shoal node: refused a %s connection from %s (%s key %s)",
                      domain && streq (domain, AUTH_DOMAIN_PEER) ? "peer" : "client",
                      address ? address : "?", mechanism ? mechanism : "no",
                      public_txt[0] ? public_txt : "none");
        }
    }
    zframe_destroy (&key);
    zstr_free (&version);
    zstr_free (&request_id);
    zstr_free (&domain);
    zstr_free (&address);
    zstr_free (&routing_id);
    zstr_free (&mechanism);
    zmsg_destroy (&request);
}

typedef struct {
    const auth_config_t *config;
    zsock_t *handler;   //  bound by auth_new, owned by the thread once it runs
    clientkeys_t *keys; //  read by auth_new, owned by the thread once it runs
} auth_args_t;

static void s_auth_actor (zsock_t *pipe, void *arg)
{
    thread_name ("shoal-auth");
    auth_args_t *args = arg;
    auth_t self = {.config = args->config, .keys = args->keys};
    zsock_t *handler = args->handler;
    free (args);
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, handler, NULL);
    int64_t reload_at = zclock_mono () + AUTH_RELOAD_MS;
    while (true) {
        int64_t wait = reload_at - zclock_mono ();
        void *which = zpoller_wait (poller, wait > 0 ? (int) wait : 0);
        if (zclock_mono () >= reload_at) {
            s_refresh (&self);
            reload_at = zclock_mono () + AUTH_RELOAD_MS;
        }
        if (which == handler)
            s_on_request (&self, handler);
        else if (which || !zpoller_expired (poller)) {
            char *command = which == pipe ? zstr_recv (pipe) : NULL;
            bool term = !command || streq (command, "$TERM");
            zstr_free (&command);
            if (term)
                break;
        }
    }
    zpoller_destroy (&poller);
    clientkeys_destroy (&self.keys);
    //  A set posted after the front stopped (it takes none any more).
    clientkeys_t *left = self.config->keys ? clientkeys_take (self.config->keys) : NULL;
    clientkeys_destroy (&left);
    zsock_destroy (&handler);
}

zactor_t *auth_new (const auth_config_t *config)
{
    auth_args_t *args = calloc (1, sizeof (auth_args_t));
    zsock_t *handler = zsock_new (ZMQ_REP);
    if (!args || !handler || zsock_bind (handler, "inproc://zeromq.zap.01") != 0) {
        log_error ("shoal node: cannot start the authenticator (ZAP endpoint taken)");
        zsock_destroy (&handler);
        free (args);
        return NULL;
    }
    //  The first set, read here: the front has one before any client
    //  can finish a handshake.
    args->keys = clientkeys_load (config->clients_dir, config->operators_dir, NULL);
    clientkeys_t *copy = args->keys && config->keys ? clientkeys_dup (args->keys) : NULL;
    if (!args->keys || (config->keys && !copy)) {
        log_error ("shoal node: cannot start the authenticator (out of memory)");
        clientkeys_destroy (&args->keys);
        zsock_destroy (&handler);
        free (args);
        return NULL;
    }
    if (copy)
        clientkeys_post (config->keys, &copy);
    args->config = config;
    args->handler = handler;
    zactor_t *actor = zactor_new (s_auth_actor, args);
    if (!actor) {
        clientkeys_destroy (&args->keys);
        zsock_destroy (&handler);
        free (args);
        copy = config->keys ? clientkeys_take (config->keys) : NULL;
        clientkeys_destroy (&copy);
    }
    return actor;
}
