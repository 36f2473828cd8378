/*  driver.c - a window of requests in flight with re-sends. See driver.h.
    Known limit: the in-flight table is scanned for re-sends every 50 ms,
    O(window). Paused flights (a retry) go out as soon as their pause ends,
    so retry_ms is honoured to the millisecond, not rounded up to the scan.

    driver_timed_start runs a czmq actor (a second thread) for its probe;
    everything else runs on the caller's thread.
*/
#include "driver.h"

#include <czmq.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *driver_command = "shoal";

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

int reply_state_int (const client_reply_t *reply, const char *key, int64_t *value)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *state =
        map_find (map_unpack (&unpacked, reply->data, reply->size), "state");
    int rc = map_find_int (state, key, value);
    msgpack_unpacked_destroy (&unpacked);
    return rc;
}

int reply_state_str (const client_reply_t *reply, const char *key, char *buf, size_t size)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *state =
        map_find (map_unpack (&unpacked, reply->data, reply->size), "state");
    int rc = map_find_str (state, key, buf, size);
    msgpack_unpacked_destroy (&unpacked);
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

//  --------------------------------------------------------------------------
//  Measuring a node process

int64_t driver_rss_kb (pid_t pid)
{
    char path[64], line[256];
    snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *file = fopen (path, "r");
    int64_t kb = 0;
    while (file && fgets (line, sizeof line, file))
        if (strncmp (line, "VmRSS:", 6) == 0)
            kb = atoll (line + 6);
    if (file)
        fclose (file);
    return kb;
}

//  Sends a query on client and waits for its reply. Returns 0 with reply
//  accepted (to close), or a negative code.
static int s_query (client_t *client, const char *to, const char *name, int timeout_ms,
                    client_reply_t *reply)
{
    envelope_t request;
    client_request (&request, ENVELOPE_QUERY, NULL, to, name, NULL, 0);
    int rc = client_call (client, &request, timeout_ms, reply);
    if (rc == 0 && !reply->ok) {
        fprintf (stderr, "%s: %s of %s rejected: %s %s\n", driver_command, name, to, reply->code,
                 reply->reason);
        client_reply_close (reply);
        rc = SHOAL_EREJECTED;
    }
    return rc;
}

int driver_timed_get (const char *endpoint, const char *address, double *ms, int64_t *version)
{
    client_t *client = client_new (endpoint);
    if (!client)
        return SHOAL_EINVAL;
    client_reply_t reply;
    int rc = s_query (client, "node/stats", "stats", 10000, &reply);
    if (rc == 0) {
        client_reply_close (&reply);
        int64_t start = zclock_usecs ();
        rc = s_query (client, address, "get", 600000, &reply);
        *ms = (double) (zclock_usecs () - start) / 1000.0;
        if (rc == 0) {
            map_int (reply.data, reply.size, "version", version);
            client_reply_close (&reply);
        }
    }
    client_destroy (&client);
    return rc;
}

//  The probe: asks for address at endpoint from before the node is
//  spawned until an answer comes, over a socket that tries to reconnect
//  every millisecond. Signals its pipe once answered.
typedef struct {
    char endpoint[128];
    char address[SHOAL_ADDRESS_MAX + 1];
    int64_t answered_us; //  zclock_usecs of the first accepted reply
} probe_t;

static void s_probe (zsock_t *pipe, void *arg)
{
    probe_t *probe = arg;
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    zsock_set_linger (dealer, 0);
    zsock_set_reconnect_ivl (dealer, 1);
    zsock_connect (dealer, "%s", probe->endpoint);
    zsock_signal (pipe, 0);
    bool answered = false, terminated = false;
    int64_t next_send = 0;
    while (!terminated) {
        int64_t now = zclock_mono ();
        if (!answered && now >= next_send) {
            //  Queued by ZeroMQ until the connection is up; sent again only
            //  if it was refused or went unanswered for a second.
            envelope_t request;
            client_request (&request, ENVELOPE_QUERY, NULL, probe->address, "get", NULL, 0);
            uint8_t *frame;
            size_t size;
            if (envelope_encode (&request, &frame, &size) == 0) {
                zmq_send (zsock_resolve (dealer), frame, size, ZMQ_DONTWAIT);
                free (frame);
            }
            next_send = now + 1000;
        }
        zmq_pollitem_t items[] = {{zsock_resolve (pipe), 0, ZMQ_POLLIN, 0},
                                  {zsock_resolve (dealer), 0, ZMQ_POLLIN, 0}};
        if (zmq_poll (items, 2, 5) <= 0)
            continue;
        if (items[0].revents & ZMQ_POLLIN) {
            char *command = zstr_recv (pipe);
            terminated = !command || streq (command, "$TERM");
            zstr_free (&command);
        }
        if (items[1].revents & ZMQ_POLLIN) {
            zframe_t *frame = zframe_recv (dealer);
            envelope_t envelope;
            bool ok = false;
            char code[ENVELOPE_CODE_MAX + 1], reason[ENVELOPE_REASON_MAX + 1];
            const uint8_t *data;
            size_t size;
            if (frame && !answered &&
                envelope_decode (&envelope, zframe_data (frame), zframe_size (frame)) == 0 &&
                envelope_reply_decode (envelope.payload, envelope.payload_size, &ok, code, reason,
                                       &data, &size) == 0) {
                if (ok) {
                    probe->answered_us = zclock_usecs ();
                    answered = true;
                    zsock_signal (pipe, 0);
                } else
                    next_send = 0;
            }
            zframe_destroy (&frame);
        }
    }
    zsock_destroy (&dealer);
}

int driver_timed_start (node_child_t *node, const char *data_dir, const char *endpoint,
                        char *const *extra, const char *address, double *ready_ms,
                        double *answer_ms)
{
    probe_t probe = {.answered_us = 0};
    snprintf (probe.endpoint, sizeof probe.endpoint, "%s", endpoint);
    snprintf (probe.address, sizeof probe.address, "%s", address);
    zactor_t *actor = zactor_new (s_probe, &probe);
    if (!actor)
        return SHOAL_ENOMEM;
    int64_t spawn = zclock_usecs ();
    int rc = node_child_start (node, NULL, data_dir, endpoint, extra, NULL, 120000);
    *ready_ms = (double) (zclock_usecs () - spawn) / 1000.0;
    if (rc == 0) {
        zmq_pollitem_t item = {zsock_resolve (actor), 0, ZMQ_POLLIN, 0};
        if (zmq_poll (&item, 1, 120000) == 1 && zsock_wait (actor) == 0)
            *answer_ms = (double) (probe.answered_us - spawn) / 1000.0;
        else
            rc = SHOAL_ETIMEOUT;
    }
    zactor_destroy (&actor);
    if (rc)
        fprintf (stderr, "%s: the node did not answer: %s\n", driver_command, shoal_strerror (rc));
    return rc;
}
