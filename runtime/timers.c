/*  timers.c - a worker's timer queue. See timers.h.

    Contract: the queue holds every timer of this worker's actors that is
    committed and not yet fired; a timer leaves it only to become a message
    in the local queue. The worker thread owns the queue, its timers and
    their frames.
*/
#include "timers.h"
#include "worker_internal.h"

#include <stdlib.h>

#define TIMER_RETRY_MS 1000 //  a timer whose turn could not run fires again after

static void s_timer_free (wtimer_t *timer)
{
    free (timer->frame);
    free (timer);
}

static int s_timer_compare (const void *a, const void *b)
{
    const wtimer_t *x = a, *y = b;
    if (x->due != y->due)
        return x->due < y->due ? -1 : 1;
    return x->armed < y->armed ? -1 : x->armed > y->armed;
}

heap_t *timers_new (void)
{
    return heap_new (s_timer_compare);
}

void timers_purge (heap_t *timers)
{
    for (size_t i = 0; i < heap_size (timers); i++)
        s_timer_free (heap_at (timers, i));
    heap_clear (timers);
}

void timers_destroy (heap_t **timers_p)
{
    if (*timers_p)
        timers_purge (*timers_p);
    heap_destroy (timers_p);
}

size_t timers_count (heap_t *timers)
{
    return heap_size (timers);
}

const wtimer_t *timers_at (heap_t *timers, size_t index)
{
    return heap_at (timers, index);
}

//  Puts timer (owned) into the queue; out of memory, frees it: it fires
//  at the next reload from the journal.
static void s_push (worker_t *self, wtimer_t *timer)
{
    timer->armed = ++self->timers_armed;
    if (heap_push (self->timers, timer) != 0)
        s_timer_free (timer);
}

void timers_arm (worker_t *self, const wtimer_t *timer)
{
    wtimer_t *copy = malloc (sizeof (wtimer_t));
    if (!copy) {
        free (timer->frame);
        return;
    }
    *copy = *timer;
    s_push (self, copy);
}

void timers_retry (worker_t *self, const uint8_t *frame, size_t size)
{
    wtimer_t *timer = malloc (sizeof (wtimer_t));
    if (timer && (timer->frame = worker_memdup (frame, size))) {
        timer->due = worker_now () + TIMER_RETRY_MS;
        timer->size = size;
        timer->cancelled = false;
        s_push (self, timer);
    } else
        free (timer);
}

void timers_fire (worker_t *self, int64_t now)
{
    wtimer_t *timer;
    while ((timer = heap_peek (self->timers)) && timer->due <= now) {
        heap_pop (self->timers);
        if (timer->cancelled) { //  its batch is committed, or it would be back
            s_timer_free (timer);
            continue;
        }
        worker_local_push (self, timer->frame, timer->size);
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
    for (size_t i = 0; rc == 0 && i < heap_size (self->timers); i++) {
        wtimer_t *timer = heap_at (self->timers, i);
        rc = s_cancel_one (self, timer, address, name);
        if (rc == 0 && timer->cancelled)
            self->timers_cancelled = true;
    }
    for (size_t i = 0; rc == 0 && i < self->staged_timer_count; i++)
        rc = s_cancel_one (self, &self->staged_timers[i], address, name);
    return rc;
}

//  heap_filter's test: keeps a timer that is not cancelled, frees one that is.
static bool s_keep_live (void *item, void *arg)
{
    wtimer_t *timer = item;
    if (!timer->cancelled)
        return true;
    s_timer_free (timer);
    return false;
}

void timers_drop_cancelled (worker_t *self)
{
    if (!self->timers_cancelled)
        return;
    self->timers_cancelled = false;
    heap_filter (self->timers, s_keep_live, NULL);
}

int64_t timers_next_due (worker_t *self)
{
    wtimer_t *timer = heap_peek (self->timers);
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
        s_push (self, timer);
    } else
        free (timer);
    return 0;
}

int timers_load (worker_t *self)
{
    return journal_timer_scan (self->config->journal, s_load_timer, self);
}
