/*  auth.c - the node's ZAP handler. See auth.h.

    A ZAP request is [version "1.0", request id, domain, address, routing
    id, mechanism, credentials...]; for CURVE the one credential is the
    client's 32-byte public key. The reply is [version, request id, status
    "200" or "400", text, user id, metadata]: the user id is the key in Z85
    (after AUTH_OPERATOR for an operator's), which a socket's messages then
    carry as their "User-Id" property.
    Runs on its own thread; touches only its socket and the config.
*/
#include "auth.h"
#include "log.h"
#include "threadname.h"

#include <string.h>

typedef struct {
    const auth_config_t *config;
    zcertstore_t *clients;   //  the clients directory, reloaded on change
    zcertstore_t *operators; //  the operators directory, as it; NULL: none
    int64_t logged_at;       //  last refusal logged (ms), to rate-limit
} auth_t;

//  True if public_txt's certificate is in the operators directory.
static bool s_in_operators (auth_t *self, const char *public_txt)
{
    return self->operators && zcertstore_lookup (self->operators, public_txt) != NULL;
}

//  True if the client of key public_txt, let in, is an operator: its
//  certificate is in the operators directory, or the node has none.
static bool s_operator (auth_t *self, const char *public_txt)
{
    return !self->config->operators_dir || s_in_operators (self, public_txt);
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
    if (streq (domain, AUTH_DOMAIN_CLIENT))
        return (self->clients && zcertstore_lookup (self->clients, public_txt) != NULL) ||
               s_in_operators (self, public_txt);
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
    char user_id[sizeof AUTH_OPERATOR + sizeof public_txt];
    snprintf (user_id, sizeof user_id, "%s%s",
              ok && streq (domain, AUTH_DOMAIN_CLIENT) && s_operator (self, public_txt)
                  ? AUTH_OPERATOR
                  : "",
              public_txt);
    if (request_id)
        s_reply (handler, request_id, ok, user_id);
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
    zsock_t *handler; //  bound by auth_new, owned by the thread once it runs
} auth_args_t;

static void s_auth_actor (zsock_t *pipe, void *arg)
{
    thread_name ("shoal-auth");
    auth_args_t *args = arg;
    auth_t self = {.config = args->config};
    zsock_t *handler = args->handler;
    free (args);
    if (self.config->clients_dir)
        self.clients = zcertstore_new (self.config->clients_dir);
    if (self.config->operators_dir)
        self.operators = zcertstore_new (self.config->operators_dir);
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, handler, NULL);
    while (true) {
        void *which = zpoller_wait (poller, -1);
        if (which == handler)
            s_on_request (&self, handler);
        else {
            char *command = which == pipe ? zstr_recv (pipe) : NULL;
            bool term = !command || streq (command, "$TERM");
            zstr_free (&command);
            if (term)
                break;
        }
    }
    zpoller_destroy (&poller);
    zcertstore_destroy (&self.clients);
    zcertstore_destroy (&self.operators);
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
    args->config = config;
    args->handler = handler;
    zactor_t *actor = zactor_new (s_auth_actor, args);
    if (!actor) {
        zsock_destroy (&handler);
        free (args);
    }
    return actor;
}
