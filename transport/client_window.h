/*  client_window.h - drives many requests through one node with a window
    of them in flight, re-sending any that go unanswered (same id, so the
    node's inbox makes the re-send harmless). Part of the client library
    (shoal_client); used by the demo, the bench and the process tests. One
    thread.
*/
#ifndef CLIENT_WINDOW_H_INCLUDED
#define CLIENT_WINDOW_H_INCLUDED

#include "client.h"

//  What the driver's and the bank's error messages start with: the
//  running command ("shoal demo"); "shoal" until the command sets it.
extern const char *driver_command;

//  What the driver's and the bank's error messages start with: the
//  running command ("shoal demo"); "shoal" until the command sets it.
extern const char *driver_command;

//  Fills request number index (its id must be the same each time it is
//  asked for the same index). payload is a scratch buffer of cap bytes
//  the request may point into. Returns 0, or non-zero to skip index.
typedef int (driver_make_fn) (void *arg, size_t index, envelope_t *request, uint8_t *payload,
                              size_t cap);
//  Called once per index with its reply and the µs since it was first
//  sent. Return 0, or non-zero to send the request again (e.g. not yet
//  terminal).
typedef int (driver_reply_fn) (void *arg, size_t index, const client_reply_t *reply,
                               int64_t latency_us);
//  Called often (about every 20 ms) with the progress so far; may
//  kill and restart the node. Return non-zero to abort the run.
typedef int (driver_tick_fn) (void *arg, size_t done, size_t total);

typedef struct {
    const char *endpoint;
    size_t count;    //  requests to complete
    size_t window;   //  in flight at most
    int resend_ms;   //  re-send after this long without a reply
    int retry_ms;    //  wait before asking again when reply_fn says so
    int deadline_ms; //  give up after this long in total (0 = never)
    driver_make_fn *make;
    driver_reply_fn *reply;
    driver_tick_fn *tick; //  may be NULL
    void *arg;
    const char *cluster; //  a cluster file: all its nodes (client_new_cluster), not endpoint
} driver_t;

//  Runs until every request is answered (or the deadline or a tick stops
//  it). Returns 0, SHOAL_ETIMEOUT, SHOAL_ENET or SHOAL_EINVAL. *resent
//  (may be NULL) counts re-sends.
int driver_run (const driver_t *driver, size_t *resent);

//  A msgpack packer's target that writes into a fixed buffer, such as a
//  driver_make_fn's payload: a write that does not fit fails, sets full
//  and leaves size as it was.
typedef struct {
    uint8_t *data; //  borrowed
    size_t size;   //  bytes written
    size_t cap;    //  bytes at data
    bool full;     //  a write did not fit
} driver_payload_t;
//  Points pk at payload, empty, over cap bytes at data.
void driver_payload_init (driver_payload_t *payload, msgpack_packer *pk, uint8_t *data, size_t cap);
//  Packs a map entry: key (a string) and a string / integer value.
void driver_pack_str (msgpack_packer *pk, const char *key, const char *value);
void driver_pack_int (msgpack_packer *pk, const char *key, int64_t value);

#endif
