/*  timers.c - a worker's timer queue. See timers.h.

    Contract: the queue holds every timer of this worker's actors that is
    committed and not yet fired; a timer leaves it only to become a message
    in the local queue. The worker thread owns the queue, its timers and
    their frames.
*/
#include "timers.h"
#include "worker_internal.h"

#include <stddef.h>
#include <stdlib.h>

#define TIMER_RETRY_MS 1000 //  a timer whose turn could not run fires again after

//  An actor's armed timers: a list, in the worker's table by address.
typedef struct {
    wtimer_t *first;
    size_t len;     //  of address
    char address[]; //  NUL-terminated
} group_t;

static const void *s_group_key (const void *item, size_t *size)
{
    const group_t *group = item;
    *size = group->len;
    return group->address;
}

static void s_timer_free (wtimer_t *timer)
{
    free (timer->frame);
    free (timer);
}

static int s_by_fire (const void *a, const void *b)
{
    const wtimer_t *x = a, *y = b;
    if (x->fire != y->fire)
        return x->fire < y->fire ? -1 : 1;
    return x->armed < y->armed ? -1 : x->armed > y->armed;
}

static int s_by_due (const void *a, const void *b)
{
    const wtimer_t *x = a, *y = b;
    if (x->due != y->due)
        return x->due < y->due ? -1 : 1;
    return x->armed < y->armed ? -1 : x->armed > y->armed;
}

heap_t *timers_new (worker_t *self)
{
    ptable_init (&self->timer_groups, s_group_key);
    heap_t *heap = heap_new (s_by_fire);
    self->timers_by_due = heap_new (s_by_due);
    if (!heap || !self->timers_by_due) {
        heap_destroy (&heap);
        heap_destroy (&self->timers_by_due);
        return NULL;
    }
    heap_set_index (heap, offsetof (wtimer_t, place));
    heap_set_index (self->timers_by_due, offsetof (wtimer_t, due_place));
    return heap;
}

void timers_purge (worker_t *self)
{
    for (size_t i = 0; self->timers && i < heap_size (self->timers); i++)
        s_timer_free (heap_at (self->timers, i));
    if (self->timers)
        heap_clear (self->timers);
    if (self->timers_by_due)
        heap_clear (self->timers_by_due);
    size_t cursor = 0;
    group_t *group;
    while ((group = ptable_next (&self->timer_groups, &cursor)))
        free (group);
    ptable_clear (&self->timer_groups);
}

void timers_destroy (worker_t *self)
{
    timers_purge (self);
    ptable_close (&self->timer_groups);
    heap_destroy (&self->timers);
    heap_destroy (&self->timers_by_due);
}

size_t timers_count (heap_t *timers)
{
    return heap_size (timers);
}

const wtimer_t *timers_of (worker_t *self, const char *address)
{
    group_t *group = ptable_find (&self->timer_groups, address, strlen (address));
    return group ? group->first : NULL;
}

//  Takes timer off its actor's list; the list goes when it is empty.
static void s_unlink (worker_t *self, wtimer_t *timer)
{
    group_t *group = timer->group;
    if (timer->next)
        timer->next->prev = timer->prev;
    if (timer->prev)
        timer->prev->next = timer->next;
    else
        group->first = timer->next;
    timer->next = timer->prev = NULL;
    timer->group = NULL;
    if (!group->first) {
        ptable_remove (&self->timer_groups, group->address, group->len);
        free (group);
    }
}

//  The list of the actor timer is for, made if it has none; NULL out of
//  memory, or for a frame whose address cannot be read.
static group_t *s_group_of (worker_t *self, const wtimer_t *timer)
{
    const uint8_t *to;
    size_t len;
    if (!envelope_to (timer->frame, timer->size, &to, &len) || len == 0)
        return NULL;
    group_t *group = ptable_find (&self->timer_groups, to, len);
    if (!group && (group = malloc (sizeof (group_t) + len + 1))) {
        group->first = NULL;
        group->len = len;
        memcpy (group->address, to, len);
        group->address[len] = '\0';
        if (ptable_insert (&self->timer_groups, group) != 0) {
            free (group);
            group = NULL;
        }
    }
    return group;
}

//  Puts timer (owned) on its actor's list and into the queue; out of
//  memory, or a frame whose address cannot be read, frees it: it fires at
//  the next reload from the journal.
static void s_push (worker_t *self, wtimer_t *timer)
{
    group_t *group = s_group_of (self, timer);
    timer->armed = ++self->timers_armed;
    if (group) {
        timer->group = group;
        timer->prev = NULL;
        timer->next = group->first;
        if (group->first)
            group->first->prev = timer;
        group->first = timer;
    }
    bool pushed = group && heap_push (self->timers, timer) == 0;
    if (pushed && heap_push (self->timers_by_due, timer) != 0) {
        heap_remove (self->timers, timer->place);
        pushed = false;
    }
    if (!pushed) {
        if (group)
            s_unlink (self, timer); //  and its list, if it was the only one
        s_timer_free (timer);
    }
}

void timers_arm (worker_t *self, const wtimer_t *timer)
{
    if (timer->cancelled) { //  by a later turn of its batch: its record is deleted too
        free (timer->frame);
        return;
    }
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
    wtimer_t *timer = calloc (1, sizeof (wtimer_t));
    if (timer && (timer->frame = worker_memdup (frame, size))) {
        timer->due = worker_now () + TIMER_RETRY_MS;
        timer->fire = worker_wall_to_mono (worker_clock (), timer->due);
        timer->size = size;
        s_push (self, timer);
    } else
        free (timer);
}

//  Takes timer out of both heaps.
static void s_take (worker_t *self, wtimer_t *timer)
{
    heap_remove (self->timers, timer->place);
    heap_remove (self->timers_by_due, timer->due_place);
}

void timers_fire (worker_t *self, worker_clock_t now)
{
    while (true) {
        //  The first due by the monotonic clock, and by the wall clock:
        //  of the two, the one whose due time comes first.
        wtimer_t *by_mono = heap_peek (self->timers), *by_wall = heap_peek (self->timers_by_due);
        if (by_mono && by_mono->fire > now.mono)
            by_mono = NULL;
        if (by_wall && by_wall->due > now.wall)
            by_wall = NULL;
        wtimer_t *timer = by_mono && by_wall
                              ? (s_by_due (by_mono, by_wall) <= 0 ? by_mono : by_wall)
                          : by_mono ? by_mono
                                    : by_wall;
        if (!timer)
            break;
        s_take (self, timer);
        s_unlink (self, timer);
        worker_local_push (self, timer->frame, timer->size);
        free (timer);
    }
}

//  If timer is one of address's named name and not cancelled yet, deletes
//  its record in the batch. Returns 1 if it did, 0 if timer is another's,
//  or the batch's error.
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
    return rc ? rc : 1;
}

int timers_cancel (worker_t *self, const char *address, const char *name)
{
    //  The armed ones leave the queue now: if the batch is aborted, the
    //  reload from the journal arms them again.
    wtimer_t *timer = (wtimer_t *) timers_of (self, address), *next;
    for (; timer; timer = next) {
        next = timer->next;
        int rc = s_cancel_one (self, timer, address, name);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            s_unlink (self, timer);
            s_take (self, timer);
            s_timer_free (timer);
        }
    }
    for (size_t i = 0; i < self->staged_timer_count; i++) {
        wtimer_t *staged = &self->staged_timers[i];
        if (!envelope_is_to (staged->frame, staged->size, address))
            continue;
        int rc = s_cancel_one (self, staged, address, name);
        if (rc < 0)
            return rc;
        staged->cancelled |= rc == 1;
    }
    return 0;
}

int64_t timers_wait (worker_t *self, worker_clock_t now)
{
    const wtimer_t *by_mono = heap_peek (self->timers), *by_wall = heap_peek (self->timers_by_due);
    return worker_until_either (now, by_mono ? by_mono->fire : INT64_MAX,
                                by_wall ? by_wall->due : INT64_MAX);
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
    wtimer_t *timer = calloc (1, sizeof (wtimer_t));
    if (timer && (timer->frame = worker_memdup (value, size))) {
        timer->due = due;
        timer->fire = worker_wall_to_mono (worker_clock (), due);
        timer->size = size;
        s_push (self, timer);
    } else
        free (timer);
    return 0;
}

int timers_load (worker_t *self)
{
    return journal_timer_scan (self->config->journal, s_load_timer, self);
}
