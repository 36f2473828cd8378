/*  timers.c - a worker's timer queue. See timers.h.

    Contract: the queue holds every timer of this worker's actors that is
    committed and not yet fired; a timer leaves it only to become a message
    in the local queue. The worker thread owns the queue, its timers and
    their frames.
*/
#include "timers.h"
#include "worker_internal.h"

#include <stdlib.h>
#include <string.h>

#define TIMER_RETRY_MS 1000 //  a timer whose turn could not run fires again after

static void s_timer_destroy (void **item)
{
    wtimer_t *self = (wtimer_t *) *item;
    if (self) {
        free (self->frame);
        free (self);
        *item = NULL;
    }
}

static int s_timer_compare (const void *a, const void *b)
{
    const wtimer_t *x = a, *y = b;
    return x->due < y->due ? -1 : x->due > y->due;
}

zlistx_t *timers_new (void)
{
    zlistx_t *timers = zlistx_new ();
    if (timers) {
        zlistx_set_destructor (timers, s_timer_destroy);
        zlistx_set_comparator (timers, s_timer_compare);
    }
    return timers;
}

void timers_arm (worker_t *self, const wtimer_t *timer)
{
    if (timer->cancelled) {
        free (timer->frame);
        return;
    }
    wtimer_t *copy = malloc (sizeof (wtimer_t));
    if (!copy) {
        free (timer->frame);
        return;
    }
    *copy = *timer;
    zlistx_insert (self->timers, copy, false);
}

void timers_retry (worker_t *self, const uint8_t *frame, size_t size)
{
    wtimer_t *timer = malloc (sizeof (wtimer_t));
    if (timer && (timer->frame = worker_memdup (frame, size))) {
        timer->due = worker_now () + TIMER_RETRY_MS;
        timer->size = size;
        timer->cancelled = false;
        zlistx_insert (self->timers, timer, false);
    } else
        free (timer);
}

void timers_fire (worker_t *self, int64_t now)
{
    while (zlistx_size (self->timers)) {
        wtimer_t *timer = zlistx_first (self->timers);
        if (timer->due > now)
            break;
        timer = zlistx_detach (self->timers, NULL);
        if (timer->cancelled) { //  its batch is committed, or it would be back
            s_timer_destroy ((void **) &timer);
            continue;
        }
        local_t *item = calloc (1, sizeof (local_t));
        if (item) {
            item->frame = timer->frame;
            item->size = timer->size;
            zlistx_add_end (self->local, item);
        } else
            free (timer->frame);
        free (timer);
    }
}

//  If timer is one of address's named name and not cancelled yet, deletes
//  its record in the batch and marks it. Returns 0 or the batch's error.
static int s_cancel_one (worker_t *self, wtimer_t *timer, const char *address, const char *name)
{
    envelope_t envelope;
    if (timer->cancelled || envelope_decode (&envelope, timer->frame, timer->size) != 0 ||
        envelope.kind != ENVELOPE_TIMER || strcmp (envelope.to, address) != 0 ||
        strcmp (envelope.name, name) != 0)
        return 0;
    //  A timer's record is keyed by its due time, the envelope's created
    //  (a retried timer is armed later than its record says).
    int rc = journal_batch_timer_del (self->batch, address, envelope.created, envelope.id);
    if (rc == 0)
        timer->cancelled = true;
    return rc;
}

int timers_cancel (worker_t *self, const char *address, const char *name)
{
    int rc = 0;
    for (wtimer_t *timer = zlistx_first (self->timers); rc == 0 && timer;
         timer = zlistx_next (self->timers)) {
        rc = s_cancel_one (self, timer, address, name);
        if (rc == 0 && timer->cancelled)
            self->timers_cancelled = true;
    }
    for (size_t i = 0; rc == 0 && i < self->staged_timer_count; i++)
        rc = s_cancel_one (self, &self->staged_timers[i], address, name);
    return rc;
}

void timers_drop_cancelled (worker_t *self)
{
    if (!self->timers_cancelled)
        return;
    self->timers_cancelled = false;
    //  Deleting the cursor's item moves the cursor back one: next is right.
    for (wtimer_t *timer = zlistx_first (self->timers); timer; timer = zlistx_next (self->timers))
        if (timer->cancelled)
            zlistx_delete (self->timers, zlistx_cursor (self->timers));
}

int64_t timers_next_due (worker_t *self)
{
    wtimer_t *timer = zlistx_first (self->timers);
    return timer ? timer->due : INT64_MAX;
}

static int s_load_timer (void *arg, const char *stream, const uint8_t id[JOURNAL_ID_SIZE],
                         int64_t due, const uint8_t *value, size_t size)
{
    worker_t *self = arg;
    envelope_t envelope;
    if (envelope_decode (&envelope, value, size) != 0) {
        self->stats->bad_internal_frames++;
        return 0;
    }
    if (worker_of (self->config, envelope.to) != self->index)
        return 0;
    wtimer_t *timer = malloc (sizeof (wtimer_t));
    if (timer && (timer->frame = worker_memdup (value, size))) {
        timer->due = due;
        timer->size = size;
        timer->cancelled = false;
        zlistx_insert (self->timers, timer, false);
    } else
        free (timer);
    return 0;
}

int timers_load (worker_t *self)
{
    return journal_timer_scan (self->config->journal, s_load_timer, self);
}
