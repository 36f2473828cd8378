/*  front_calls.c - the CALLs the front forwarded to each peer, counted by
    client: an ANSWER is taken only for a client of ours with a CALL out
    to the peer that answers, and counts one off. A peer (or whoever holds
    its key and listens at its endpoint) answers the clients that asked
    it, never any client of ours by a routing id it guessed.

    A client whose CALLs to a peer went unanswered (a link that dropped
    them) is forgotten FRONT_CALLS_TTL_MS after its last one: an answer
    later than that is refused, and the client, which had no answer,
    re-sends under the same id. Runs on the front's thread.
*/
#include "front_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FRONT_CALLS_TTL_MS                                                                         \
    60000 //  a client's CALLs to a peer are forgotten this long after its last
#define FRONT_CALLS_SWEEP_MS 1000 //  forgotten ones are looked for this often at most

typedef struct {
    uint32_t out;    //  CALLs forwarded, not yet answered
    int64_t sent_at; //  the last one's time (monotonic ms)
} call_t;

struct _front_calls_t {
    zhashx_t *clients; //  hex of [peer, ROUTER id] -> call_t, owned
    int64_t swept_at;  //  the last sweep (monotonic ms)
};

static void s_call_destroy (void **item)
{
    free (*item);
    *item = NULL;
}

front_calls_t *front_calls_new (void)
{
    front_calls_t *self = calloc (1, sizeof (front_calls_t));
    if (self && !(self->clients = zhashx_new ())) {
        free (self);
        return NULL;
    }
    if (self)
        zhashx_set_destructor (self->clients, s_call_destroy);
    return self;
}

void front_calls_destroy (front_calls_t **self_p)
{
    front_calls_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->clients);
    free (self);
    *self_p = NULL;
}

//  Writes node and id as hex into key (2 * (1 + FRONT_ROUTE_MAX) + 1 bytes):
//  ROUTER ids are bytes, zhashx keys strings.
static void s_key (char *key, int node, const uint8_t *id, size_t id_size)
{
    static const char digits[] = "0123456789abcdef";
    uint8_t first = (uint8_t) node;
    for (size_t i = 0; i <= id_size; i++) {
        uint8_t byte = i ? id[i - 1] : first;
        key[2 * i] = digits[byte >> 4];
        key[2 * i + 1] = digits[byte & 15];
    }
    key[2 * (id_size + 1)] = 0;
}

//  Forgets the clients with no CALL forwarded for FRONT_CALLS_TTL_MS.
//  O(clients), at most every FRONT_CALLS_SWEEP_MS. Out of memory, they
//  are forgotten at a later sweep.
static void s_sweep (front_calls_t *self, int64_t now)
{
    if (now - self->swept_at < FRONT_CALLS_SWEEP_MS)
        return;
    self->swept_at = now;
    zlistx_t *gone = zlistx_new (); //  keys copied: a delete would break the walk
    if (!gone)
        return;
    zlistx_set_duplicator (gone, (zlistx_duplicator_fn *) strdup);
    zlistx_set_destructor (gone, (zlistx_destructor_fn *) zstr_free);
    for (call_t *call = zhashx_first (self->clients); call; call = zhashx_next (self->clients))
        if (now - call->sent_at >= FRONT_CALLS_TTL_MS)
            zlistx_add_end (gone, (void *) zhashx_cursor (self->clients));
    for (char *key = zlistx_first (gone); key; key = zlistx_next (gone))
        zhashx_delete (self->clients, key);
    zlistx_destroy (&gone);
}

void front_calls_sent (front_calls_t *self, int node, const uint8_t *id, size_t id_size)
{
    if (id_size + 1 > FRONT_ROUTE_MAX)
        return;
    int64_t now = zclock_mono ();
    s_sweep (self, now);
    char key[2 * (FRONT_ROUTE_MAX + 1) + 1];
    s_key (key, node, id, id_size);
    call_t *call = zhashx_lookup (self->clients, key);
    if (!call) {
        call = calloc (1, sizeof (call_t));
        if (!call || zhashx_insert (self->clients, key, call) != 0) {
            free (call); //  its answer is refused; the client re-sends
            return;
        }
    }
    call->out++;
    call->sent_at = now;
}

bool front_calls_answered (front_calls_t *self, int node, const uint8_t *id, size_t id_size)
{
    if (id_size + 1 > FRONT_ROUTE_MAX)
        return false;
    char key[2 * (FRONT_ROUTE_MAX + 1) + 1];
    s_key (key, node, id, id_size);
    call_t *call = zhashx_lookup (self->clients, key);
    if (!call)
        return false;
    if (--call->out == 0)
        zhashx_delete (self->clients, key);
    return true;
}
