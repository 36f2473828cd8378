/*  driver.c - a window of requests in flight with re-sends. See driver.h.
    Known limit: the in-flight table is scanned for re-sends every 50 ms,
    O(window). Paused flights (a retry) go out as soon as their pause ends,
    so retry_ms is honoured to the millisecond, not rounded up to the scan.
*/
#include "driver.h"

#include <czmq.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DRIVER_PAYLOAD_MAX 4096

typedef struct {
    size_t index;
    uint8_t id[ENVELOPE_ID_SIZE];
    int64_t first_us;   //  first send
    int64_t last_ms;    //  latest send
    int64_t not_before; //  ms: do not send before (a retry's pause)
} flight_t;

static size_t s_id_hash (const void *key)
{
    size_t hash;
    memcpy (&hash, key, sizeof hash);
    return hash;
}

static int s_id_compare (const void *a, const void *b)
{
    return memcmp (a, b, ENVELOPE_ID_SIZE);
}

static int s_send (client_t *client, const driver_t *driver, flight_t *flight)
{
    uint8_t payload[DRIVER_PAYLOAD_MAX];
    envelope_t request;
    memset (&request, 0, sizeof request);
    if (driver->make (driver->arg, flight->index, &request, payload, sizeof payload) != 0)
        return 1;
    memcpy (flight->id, request.id, ENVELOPE_ID_SIZE);
    flight->last_ms = zclock_mono ();
    return client_send (client, &request) == 0 ? 0 : -1;
}

int driver_run (const driver_t *driver, size_t *resent)
{
    client_t *client = client_new (driver->endpoint);
    if (!client)
        return SHOAL_EINVAL;
    zhashx_t *flights = zhashx_new ();
    zhashx_set_key_hasher (flights, s_id_hash);
    zhashx_set_key_comparator (flights, s_id_compare);
    zhashx_set_key_duplicator (flights, NULL);
    zhashx_set_key_destructor (flights, NULL);
    zlistx_t *waiting = zlistx_new (); //  flights paused before a retry
    size_t next = 0, done = 0, resends = 0;
    int64_t start = zclock_mono (), last_tick = 0, last_scan = 0;
    int rc = 0;
    while (done < driver->count) {
        while (next < driver->count &&
               zhashx_size (flights) + zlistx_size (waiting) < driver->window) {
            flight_t *flight = calloc (1, sizeof (flight_t));
            flight->index = next++;
            flight->first_us = zclock_usecs ();
            int sent = s_send (client, driver, flight);
            if (sent == 1) {
                free (flight);
                done++;
                continue;
            }
            zhashx_insert (flights, flight->id, flight);
        }
        //  Wake for the first paused flight that comes due: waiting is in
        //  not_before order, since every pause is retry_ms long.
        int wait_ms = 20;
        flight_t *paused = zlistx_first (waiting);
        if (paused) {
            int64_t due = paused->not_before - zclock_mono ();
            wait_ms = due <= 0 ? 0 : due < wait_ms ? (int) due : wait_ms;
        }
        client_reply_t reply;
        int got = client_recv (client, wait_ms, &reply);
        if (got == 0) {
            flight_t *flight = zhashx_lookup (flights, reply.correlation);
            if (flight) {
                zhashx_delete (flights, flight->id);
                int again = driver->reply (driver->arg, flight->index, &reply,
                                           zclock_usecs () - flight->first_us);
                if (again) {
                    flight->not_before = zclock_mono () + driver->retry_ms;
                    zlistx_add_end (waiting, flight);
                } else {
                    free (flight);
                    done++;
                }
            }
            client_reply_close (&reply);
        }
        int64_t now = zclock_mono ();
        if (now - last_scan >= 50) {
            last_scan = now;
            zlistx_t *late = zlistx_new ();
            for (flight_t *f = zhashx_first (flights); f; f = zhashx_next (flights))
                if (now - f->last_ms >= driver->resend_ms)
                    zlistx_add_end (late, f);
            for (flight_t *f = zlistx_first (late); f; f = zlistx_next (late)) {
                zhashx_delete (flights, f->id);
                if (s_send (client, driver, f) == 0)
                    resends++;
                zhashx_insert (flights, f->id, f);
            }
            zlistx_destroy (&late);
        }
        for (flight_t *f = zlistx_first (waiting); f && f->not_before <= now;
             f = zlistx_first (waiting)) {
            zlistx_detach_cur (waiting);
            s_send (client, driver, f);
            zhashx_insert (flights, f->id, f);
        }
        if (driver->tick && now - last_tick >= 20) {
            last_tick = now;
            if (driver->tick (driver->arg, done, driver->count)) {
                rc = SHOAL_ETIMEOUT;
                break;
            }
        }
        if (driver->deadline_ms && now - start > driver->deadline_ms) {
            rc = SHOAL_ETIMEOUT;
            break;
        }
        if (zsys_interrupted) {
            rc = SHOAL_ETIMEOUT;
            break;
        }
    }
    for (flight_t *f = zhashx_first (flights); f; f = zhashx_next (flights))
        free (f);
    for (flight_t *f = zlistx_first (waiting); f; f = zlistx_next (waiting))
        free (f);
    zhashx_destroy (&flights);
    zlistx_destroy (&waiting);
    client_destroy (&client);
    if (resent)
        *resent = resends;
    return rc;
}

//  Finds state.key in a get reply. unpacked is the caller's to destroy.
static const msgpack_object *s_state_field (msgpack_unpacked *unpacked, const client_reply_t *reply,
                                            const char *key)
{
    size_t offset = 0;
    if (envelope_check_msgpack (reply->data, reply->size) != 0 ||
        msgpack_unpack_next (unpacked, (const char *) reply->data, reply->size, &offset) !=
            MSGPACK_UNPACK_SUCCESS ||
        unpacked->data.type != MSGPACK_OBJECT_MAP)
        return NULL;
    const msgpack_object_map *top = &unpacked->data.via.map;
    for (uint32_t i = 0; i < top->size; i++) {
        const msgpack_object *k = &top->ptr[i].key, *v = &top->ptr[i].val;
        if (k->type != MSGPACK_OBJECT_STR || k->via.str.size != 5 ||
            memcmp (k->via.str.ptr, "state", 5) != 0 || v->type != MSGPACK_OBJECT_MAP)
            continue;
        for (uint32_t j = 0; j < v->via.map.size; j++) {
            const msgpack_object *fk = &v->via.map.ptr[j].key;
            if (fk->type == MSGPACK_OBJECT_STR && fk->via.str.size == strlen (key) &&
                memcmp (fk->via.str.ptr, key, fk->via.str.size) == 0)
                return &v->via.map.ptr[j].val;
        }
    }
    return NULL;
}

int reply_state_int (const client_reply_t *reply, const char *key, int64_t *value)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *o = s_state_field (&unpacked, reply, key);
    int rc = SHOAL_ENOTFOUND;
    if (o && o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *value = o->via.i64;
        rc = 0;
    } else if (o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        *value = (int64_t) o->via.u64;
        rc = 0;
    }
    msgpack_unpacked_destroy (&unpacked);
    return rc;
}

int reply_state_str (const client_reply_t *reply, const char *key, char *buf, size_t size)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *o = s_state_field (&unpacked, reply, key);
    int rc = SHOAL_ENOTFOUND;
    if (o && o->type == MSGPACK_OBJECT_STR && o->via.str.size < size) {
        memcpy (buf, o->via.str.ptr, o->via.str.size);
        buf[o->via.str.size] = 0;
        rc = 0;
    }
    msgpack_unpacked_destroy (&unpacked);
    return rc;
}

void progress_show (const char *label, size_t done, size_t total, bool force)
{
    static int last_decile = -1;
    static const char *last_label;
    if (last_label != label) {
        last_label = label;
        last_decile = -1;
    }
    if (isatty (STDERR_FILENO)) {
        int width = 40;
        int filled = total ? (int) ((double) done / (double) total * width) : width;
        fprintf (stderr, "\r  %-22s [", label);
        for (int i = 0; i < width; i++)
            fputc (i < filled ? '#' : '.', stderr);
        fprintf (stderr, "] %zu/%zu", done, total);
        if (done >= total || force)
            fputc ('\n', stderr);
        fflush (stderr);
        return;
    }
    int decile = total ? (int) (done * 10 / total) : 10;
    if (decile != last_decile || force) {
        last_decile = decile;
        fprintf (stderr, "  %s: %zu/%zu\n", label, done, total);
    }
}
