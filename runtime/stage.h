/*  stage.h - staging a turn's effects in the worker's batch: the events
    (with the expected-version check) and a snapshot when due, written to
    the journal batch; the commands it sends, written to its outbox and
    kept as sends; its timers, written to the timer index and kept to be
    armed; the timers it cancels, deleted from the index and marked so that
    they never fire (timers.h); and any frame (a reply) to send once the batch is committed.

    Nothing staged leaves the worker before the commit: the worker releases
    the sends and arms the timers after it, or drops them all
    (stage_drop) when the batch is aborted. Internal to the worker: the
    worker thread owns the staged sends, timers and their frames.
*/
#ifndef STAGE_H_INCLUDED
#define STAGE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actors.h"
#include "envelope.h"
#include "outbox.h"

typedef struct _worker_t worker_t;

//  Something to send once the batch is committed.
typedef struct {
    int dest;           //  worker index, or -1 for the front (a client)
    uint8_t *route;     //  client identity, owned; NULL otherwise
    size_t route_size;  //  its bytes
    uint8_t *frame;     //  encoded envelope, owned (by pending, if set)
    size_t size;        //  its bytes
    pending_t *pending; //  a command to track until its reply arrives, owned
} out_t;

//  Stages frame (owned) for dest, with route (borrowed, copied) when it
//  goes to a client. With pending (owned, holding the same frame), the
//  command is tracked from its release until its reply. Returns 0, or
//  SHOAL_ENOMEM having freed frame and pending.
int stage_out (worker_t *self, int dest, const uint8_t *route, size_t route_size, uint8_t *frame,
               size_t size, pending_t *pending);

//  Stages the effects of an accepted turn of actor (in self->ctx), caused
//  by cause: events, a snapshot when due, outbox commands, cancelled
//  timers (those of earlier turns) and timers.
//  Everything that can be refused (encoding, the version check) is checked
//  before anything is staged, so an error returned here left the batch as
//  it was, except *poisoned: then a write was staged and a later one failed
//  (out of memory), and the whole batch must be dropped.
int stage_effects (worker_t *self, actor_t *actor, const envelope_t *cause, int64_t now,
                   bool *poisoned);

//  Frees every staged send and timer (an aborted batch, or the worker's
//  end). Can't fail.
void stage_drop (worker_t *self);

#endif
