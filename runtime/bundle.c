/*  bundle.c - many [route, frame] messages in one ZeroMQ message. See
    bundle.h.
*/
#include "bundle.h"

#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define BUNDLE_FIRST_CAP 4096
#define BUNDLE_KEPT_CAP (256u << 10) //  the next one's room, at most

int bundle_add (bundle_t *self, const uint8_t *route, size_t route_size, const uint8_t *frame,
                size_t size)
{
    if (route_size > UINT16_MAX || size > UINT32_MAX)
        return -1;
    size_t need = self->size + 2 + route_size + 4 + size;
    if (!self->data || need > self->cap) {
        size_t cap = self->cap > BUNDLE_FIRST_CAP ? self->cap : BUNDLE_FIRST_CAP;
        while (cap < need)
            cap *= 2;
        uint8_t *data = realloc (self->data, cap);
        if (!data)
            return -1;
        self->data = data;
        self->cap = cap;
    }
    uint8_t *at = self->data + self->size;
    at[0] = (uint8_t) route_size;
    at[1] = (uint8_t) (route_size >> 8);
    if (route_size)
        memcpy (at + 2, route, route_size);
    at += 2 + route_size;
    for (int i = 0; i < 4; i++)
        at[i] = (uint8_t) (size >> (8 * i));
    if (size)
        memcpy (at + 4, frame, size);
    self->size = need;
    return 0;
}

static void s_free (void *data, void *hint)
{
    (void) hint;
    free (data);
}

int bundle_send (bundle_t *self, void *socket)
{
    if (self->size == 0)
        return 0;
    static const uint8_t route = BUNDLE_ROUTE;
    zmq_msg_t msg;
    int rc = 0;
    if (zmq_msg_init_data (&msg, self->data, self->size, s_free, NULL) != 0) {
        free (self->data);
        rc = -1;
    } else if (zmq_send (socket, &route, 1, ZMQ_SNDMORE) == -1 ||
               zmq_msg_send (&msg, socket, 0) == -1) {
        zmq_msg_close (&msg); //  frees the entries
        rc = -1;
    }
    //  ZeroMQ's now. The next gets room for as much as this one held (a
    //  power of 2, from BUNDLE_FIRST_CAP to BUNDLE_KEPT_CAP): a long one
    //  does not make every next one long.
    size_t cap = BUNDLE_FIRST_CAP;
    while (cap < self->size && cap < BUNDLE_KEPT_CAP)
        cap *= 2;
    self->data = NULL;
    self->size = 0;
    self->cap = cap;
    return rc;
}

void bundle_close (bundle_t *self)
{
    free (self->data);
    *self = (bundle_t){NULL, 0, 0};
}

int bundle_next (bundle_reader_t *reader, const uint8_t **route, size_t *route_size,
                 const uint8_t **frame, size_t *size)
{
    if (reader->left == 0)
        return 0;
    const uint8_t *at = reader->at;
    size_t left = reader->left;
    if (left < 2)
        return -1;
    size_t r_size = (size_t) at[0] | (size_t) at[1] << 8;
    if (r_size > left - 2 || left - 2 - r_size < 4)
        return -1;
    *route = at + 2;
    *route_size = r_size;
    at += 2 + r_size;
    left -= 2 + r_size;
    size_t f_size = 0;
    for (int i = 0; i < 4; i++)
        f_size |= (size_t) at[i] << (8 * i);
    if (f_size > left - 4)
        return -1;
    *frame = at + 4;
    *size = f_size;
    reader->at = at + 4 + f_size;
    reader->left = left - 4 - f_size;
    return 1;
}
