/*  client_window.c - a window of requests in flight with re-sends. See
    client_window.h. Known limit: the in-flight table is scanned for
    re-sends every 50 ms, O(window). Paused flights (a retry) go out as
    soon as their pause ends, so retry_ms is honoured to the millisecond,
    not rounded up to the scan. Everything runs on the caller's thread.
    A send that finds no link or peer waits the client's send timeout
    (2 s): then the loop sends no more until its next round, so that one
    round waits at most one timeout and the deadline and ticks still come
    (a window of 256 waited 256 of them); the flight is re-sent as if
    its request were lost.
*/
#include "client_window.h"

#include <czmq.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

const char *driver_command = "shoal";

#define DRIVER_PAYLOAD_MAX 4096

typedef struct {
    size_t index;
    uint8_t id[ENVELOPE_ID_SIZE];
    int64_t first_us;   //  first send
    int64_t last_ms;    //  latest send
    int64_t not_before; //  ms: do not send before (a retry's pause)
} flight_t;

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
    client_t *client = NULL;
    if (driver->cluster) {
        char *error = NULL;
        client = client_new_cluster (driver->cluster, NULL, &error);
        if (!client)
            fprintf (stderr, "%s: %s\n", driver_command, error ? error : "out of memory");
        free (error);
    } else
        client = client_new (driver->endpoint);
    if (!client)
        return SHOAL_EINVAL;
    zhashx_t *flights = envelope_id_table_new (NULL);
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
            if (sent < 0)
                break; //  no link or peer (a send waited its timeout): the rest later
        }
        //  Wake for the first paused flight that comes due: waiting is in
        //  not_before order, since every pause is retry_ms long.
        int wait_ms = 20;
        flight_t *paused = zlistx_first (waiting);
        if (paused) {
            int64_t due = paused->not_before - zclock_mono ();
            wait_ms = due <= 0 ? 0 : due < wait_ms ? (int) due : wait_ms;
        }
        //  Every reply that has come is taken before the window is filled
        //  again, so that the next requests go out together: one write of
        //  the socket for many, rather than one each (on both sides). At
        //  most a window's worth, so that the ticks and re-sends go on.
        client_reply_t reply;
        size_t taken = 0;
        for (int got = client_recv (client, wait_ms, &reply); got == 0;
             got = ++taken < driver->window ? client_recv (client, 0, &reply) : SHOAL_ETIMEOUT) {
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
            bool down = false; //  a send found no link or peer: the others next scan
            for (flight_t *f = zlistx_first (late); f && !down; f = zlistx_next (late)) {
                zhashx_delete (flights, f->id);
                int sent = s_send (client, driver, f);
                resends += sent == 0;
                down = sent < 0;
                zhashx_insert (flights, f->id, f);
            }
            zlistx_destroy (&late);
        }
        bool down = false;
        for (flight_t *f = zlistx_first (waiting); f && f->not_before <= now && !down;
             f = zlistx_first (waiting)) {
            zlistx_detach_cur (waiting);
            down = s_send (client, driver, f) < 0; //  re-sent by the scan, as one lost
            zhashx_insert (flights, f->id, f);
        }
        if (zsys_interrupted) { //  before tick: no kill nor restart after a signal
            rc = SHOAL_ETIMEOUT;
            break;
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

static int s_payload_write (void *arg, const char *buf, size_t len)
{
    driver_payload_t *payload = arg;
    if (payload->size + len > payload->cap) {
        payload->full = true;
        return -1;
    }
    memcpy (payload->data + payload->size, buf, len);
    payload->size += len;
    return 0;
}

void driver_payload_init (driver_payload_t *payload, msgpack_packer *pk, uint8_t *data, size_t cap)
{
    *payload = (driver_payload_t){.data = data, .cap = cap};
    msgpack_packer_init (pk, payload, s_payload_write);
}

void driver_pack_str (msgpack_packer *pk, const char *key, const char *value)
{
    msgpack_pack_str_with_body (pk, key, strlen (key));
    msgpack_pack_str_with_body (pk, value, strlen (value));
}

void driver_pack_int (msgpack_packer *pk, const char *key, int64_t value)
{
    msgpack_pack_str_with_body (pk, key, strlen (key));
    msgpack_pack_int64 (pk, value);
}
