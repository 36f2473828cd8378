/*  bundle.h - many [route, frame] messages between a node's threads in one
    ZeroMQ message: what a worker's release (the sends of one commit) has
    for another worker or for the front.

    A bundle travels as [BUNDLE_ROUTE, entries]. Each entry is the route's
    size (2 bytes, little-endian), the route, the frame's size (4 bytes,
    little-endian) and the frame, in the order they were added; the
    receiver handles them in that order, as if each had come alone. One
    message instead of two frames each spares libzmq's queues their
    allocations per message. Bundles only go between a node's own threads
    (inproc): a malformed one is a bug, counted where it is read and
    otherwise dropped. One thread owns a bundle_t.
*/
#ifndef BUNDLE_H_INCLUDED
#define BUNDLE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  The route of a bundle: after the front's (0x00-0x03) and the workers'
//  own (0x04-0x06).
#define BUNDLE_ROUTE 0x07

typedef struct {
    uint8_t *data; //  the entries, owned (NULL once sent)
    size_t size;   //  their bytes
    size_t cap;    //  room in data (the next one's: what the last held, up to 256 KiB)
} bundle_t;

//  Adds [route, frame] (both copied). Returns 0, or -1 out of memory or
//  when a size does not fit its field (nothing added).
int bundle_add (bundle_t *self, const uint8_t *route, size_t route_size, const uint8_t *frame,
                size_t size);

//  Sends the entries, if any, on socket as [BUNDLE_ROUTE, entries] (the
//  entries handed to ZeroMQ, not copied), and empties the bundle. Returns
//  0, or -1 if they could not be sent (they are dropped).
int bundle_send (bundle_t *self, void *socket);

//  Frees the entries. Safe twice.
void bundle_close (bundle_t *self);

//  Reading a received bundle's entries in order: start with
//  {data, size}; each call gives the next entry's route and frame
//  (pointing into data). Returns 1, 0 at the end, or -1 if what is left
//  does not parse.
typedef struct {
    const uint8_t *at; //  the next entry
    size_t left;       //  bytes from there
} bundle_reader_t;
int bundle_next (bundle_reader_t *reader, const uint8_t **route, size_t *route_size,
                 const uint8_t **frame, size_t *size);

#endif
