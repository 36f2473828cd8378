/*  query.c - the get, events and busiest queries. See query.h.

    Contract: a reply is staged for every query, an answer or an error
    (unknown_type, unknown_query, handler_error for a view the module
    wrote wrongly, unavailable); a page of events stays
    under half the envelope limit, so its reply always fits. Runs on the
    worker thread, which owns the actors it reads.
*/
#include "query.h"
#include "queryargs.h"
#include "actors.h"
#include "busiest.h"
#include "ctx.h"
#include "data.h"
#include "deadletter.h"
#include "log.h"
#include "repair.h"
#include "turn.h"
#include "worker_internal.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    msgpack_packer *pk;
    size_t count;
    size_t bytes;
    int64_t last;
} page_t;

static int s_page_event (void *arg, int64_t seq, const char *name, const uint8_t *data, size_t size,
                         int64_t created)
{
    page_t *page = arg;
    size_t bytes = size + strlen (name) + 48; //  the event's map, generously
    if (page->count > 0 && page->bytes + bytes > ENVELOPE_MAX_SIZE / 2)
        return 1; //  full: the next page starts at this event
    msgpack_packer *pk = page->pk;
    msgpack_pack_map (pk, 4);
    msgpack_pack_str_with_body (pk, "seq", 3);
    msgpack_pack_int64 (pk, seq);
    msgpack_pack_str_with_body (pk, "event", 5);
    msgpack_pack_str_with_body (pk, name, strlen (name));
    msgpack_pack_str_with_body (pk, "data", 4);
    msgpack_sbuffer_write (pk->data, (const char *) data, size);
    msgpack_pack_str_with_body (pk, "created", 7);
    msgpack_pack_int64 (pk, created);
    page->count++;
    page->bytes += bytes;
    page->last = seq;
    return 0;
}

//  What a view over CTX_MAX_REC_BYTES is logged once per type as (by
//  pointer: rec_misuse_once).
static const char s_view_too_big[] = "view too big";

//  Writes the actor's address, version and view into out. Returns 0 or
//  the error (unknown type, load or view failure); a view the module wrote
//  wrongly (a key twice) or too big for an answer (over CTX_MAX_REC_BYTES,
//  as any rec of a module) is SHOAL_EREJECTED with why, its reason, and
//  logged once per type. An address whose stream has no event is answered
//  from a fresh state, version 0, and not kept active: a get of addresses
//  that never existed fills nothing.
static int s_get (worker_t *self, const envelope_t *envelope, shoal_rec_t *out, char *why,
                  size_t why_size)
{
    int rc;
    bool transient;
    actor_t *actor = actor_table_read (self, envelope->to, &transient, &rc);
    if (actor) {
        shoal_rec_t view;
        rec_init (&view);
        actor->type->view (actor->state, &view);
        size_t size;
        const uint8_t *bytes = rec_finish (&view, &size);
        shoal_rec_str (out, "address", actor->address);
        shoal_rec_int (out, "version", actor->version);
        const failing_t *failing = zhashx_lookup (self->failing, actor->address);
        if (failing) {
            shoal_rec_map_begin (out, "failing");
            shoal_rec_str (out, "command", failing->command);
            shoal_rec_str (out, "code", failing->code);
            shoal_rec_str (out, "reason", failing->reason);
            shoal_rec_int (out, "since", failing->since);
            shoal_rec_int (out, "last", failing->last);
            shoal_rec_int (out, "times", (int64_t) failing->times);
            shoal_rec_map_end (out);
        }
        const char *misuse = bytes ? NULL : rec_misuse (&view);
        if (bytes && size > CTX_MAX_REC_BYTES) {
            snprintf (why, why_size, "view() of actor type '%s' wrote " CTX_TOO_BIG_TEXT,
                      actor->type->name, size, CTX_MAX_REC_BYTES);
            if (rec_misuse_once (actor->type, s_view_too_big))
                log_warn ("actor type '%s': its view() wrote " CTX_TOO_BIG_TEXT
                          ", first at %s: `shoal get` answers handler_error for such a state "
                          "until the module is fixed",
                          actor->type->name, size, CTX_MAX_REC_BYTES, actor->address);
            rc = SHOAL_EREJECTED;
        } else if (bytes)
            rec_raw (out, "state", bytes, size);
        else if (misuse) {
            snprintf (why, why_size, "view() of actor type '%s': %s", actor->type->name, misuse);
            if (rec_misuse_once (actor->type, "view"))
                log_warn ("actor type '%s': its view() failed (%s), first at %s: `shoal get` "
                          "answers handler_error until the module is fixed",
                          actor->type->name, misuse, actor->address);
            rc = SHOAL_EREJECTED;
        } else
            rc = view.error;
        rec_close (&view);
        if (transient)
            actor_free (&actor);
    } else if (actor_load_refused (self, envelope->to, rc)) //  the module's apply refused an event
        snprintf (why, why_size, "%s", self->load_refused);
    return rc;
}

//  Writes a page of the stream's events into out. Returns 0, SHOAL_ETYPE
//  with why (a field of another type), or the journal's error.
static int s_events (worker_t *self, const envelope_t *envelope, shoal_rec_t *out, char *why,
                     size_t why_size)
{
    shoal_data_t args;
    int64_t from = 1, limit = 1000;
    int wrong = 0;
    if (data_init (&args, envelope->payload, envelope->payload_size) == 0 &&
        (wrong = queryargs_int (&args, "from", &from, why, why_size)) == 0)
        wrong = queryargs_int (&args, "limit", &limit, why, why_size);
    data_close (&args);
    if (wrong)
        return wrong;
    if (from < 1)
        from = 1;
    if (limit < 1 || limit > 10000)
        limit = 10000;
    msgpack_sbuffer events;
    msgpack_sbuffer_init (&events);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &events, msgpack_sbuffer_write);
    page_t page = {&pk, 0, 0, 0};
    //  The array header needs the count first: read into a scratch
    //  buffer, then prefix it. An address of no type is refused, as by get.
    int rc = registry_lookup (self->config->registry, envelope->to)
                 ? journal_read (self->config->journal, envelope->to, from, (size_t) limit,
                                 s_page_event, &page)
                 : SHOAL_ENOTFOUND;
    if (rc == 0) {
        msgpack_sbuffer array;
        msgpack_sbuffer_init (&array);
        msgpack_packer apk;
        msgpack_packer_init (&apk, &array, msgpack_sbuffer_write);
        msgpack_pack_array (&apk, page.count);
        msgpack_sbuffer_write (&array, events.data, events.size);
        shoal_rec_str (out, "address", envelope->to);
        rec_raw (out, "events", (const uint8_t *) array.data, array.size);
        shoal_rec_int (out, "next", page.count ? page.last + 1 : from);
        msgpack_sbuffer_destroy (&array);
    }
    msgpack_sbuffer_destroy (&events);
    return rc;
}

//  busiest: this worker's most messaged addresses since the last read
//  (busiest.h), which it resets.
static int s_busiest (worker_t *self, shoal_rec_t *out)
{
    msgpack_sbuffer rows;
    msgpack_sbuffer_init (&rows);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &rows, msgpack_sbuffer_write);
    busiest_take (&self->busiest, worker_mono (), &pk);
    rec_raw (out, "busiest", (const uint8_t *) rows.data, rows.size);
    shoal_rec_int (out, "now", worker_now ());
    msgpack_sbuffer_destroy (&rows);
    return 0;
}

void query_run (worker_t *self, const uint8_t *route, size_t route_size, const envelope_t *envelope)
{
    if (deadletter_is_query (envelope->name)) { //  dead letters: retry, drop
        deadletter_query (self, route, route_size, envelope);
        return;
    }
    int rc;
    char why[256] = "";
    shoal_rec_t out;
    rec_init (&out);
    if (strcmp (envelope->name, "get") == 0)
        rc = s_get (self, envelope, &out, why, sizeof why);
    else if (strcmp (envelope->name, "events") == 0)
        rc = s_events (self, envelope, &out, why, sizeof why);
    else if (strcmp (envelope->name, "pending") == 0)
        rc = repair_pending (self, envelope, &out, why, sizeof why);
    else if (strcmp (envelope->name, "busiest") == 0)
        rc = s_busiest (self, &out);
    else
        rc = SHOAL_EINVAL;

    size_t size;
    const uint8_t *data = rec_finish (&out, &size);
    if (rc == 0 && data) {
        uint8_t *payload;
        size_t payload_size;
        int encoded = envelope_reply_encode (true, NULL, NULL, data, size, &payload, &payload_size);
        if (encoded == 0) {
            turn_reply (self, route, route_size, envelope, payload, payload_size);
            free (payload);
        } else //  said, rather than left to the client's timeout
            turn_error (self, route, route_size, envelope,
                        encoded == SHOAL_ETOOBIG ? "reply_too_big" : "unavailable",
                        encoded == SHOAL_ETOOBIG ? "the reply exceeds the envelope limit"
                                                 : shoal_strerror (encoded));
    } else if (rc == SHOAL_ENOTFOUND && registry_stored (self->config->registry, envelope->to))
        turn_error (self, route, route_size, envelope, "unavailable",
                    "the store holds actors of this type, and this node started without the "
                    "module that registers it: ask again once it is started with it");
    else if (rc == SHOAL_ENOTFOUND)
        turn_error (self, route, route_size, envelope, "unknown_type",
                    "no actor type is registered for this address");
    else if (rc == SHOAL_ETYPE && why[0]) //  a field of the query's of another type
        turn_error (self, route, route_size, envelope, "invalid_field", why);
    else if (rc == SHOAL_EREJECTED && why[0]) //  the module's misuse: not transient
        turn_error (self, route, route_size, envelope, "handler_error", why);
    else if (rc == SHOAL_EINVAL)
        turn_error (self, route, route_size, envelope, "unknown_query",
                    "the queries are get, events, pending, busiest, stats, dead_letters, "
                    "dead_letter_retry, dead_letter_drop and projections, projection_rows, "
                    "projection_control (docs/PROTOCOL.md)");
    else if (rc == SHOAL_EFORMAT && why[0]) //  the module's apply refused a stored event
        turn_error (self, route, route_size, envelope, "unavailable", why);
    else {
        char why_store[ENVELOPE_REASON_MAX + 1];
        turn_error (self, route, route_size, envelope, "unavailable",
                    turn_store_why (self, rc, envelope->name, why_store, sizeof why_store));
    }
    rec_close (&out);
}
