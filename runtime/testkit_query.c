/*  testkit_query.c - reading what a kit's last turn did (its reply,
    events, commands sent, timers set and cancelled) and the actor itself
    (view, state, version, history). See shoal_testkit.h. Owned by the
    test's thread.
*/
#include "testkit_internal.h"

//  --------------------------------------------------------------------------
//  The last turn

bool shoal_testkit_accepted (const shoal_testkit_t *self)
{
    return self->accepted;
}

const char *shoal_testkit_code (const shoal_testkit_t *self)
{
    return self->last_code;
}

const char *shoal_testkit_why (const shoal_testkit_t *self)
{
    return self->why;
}

const shoal_data_t *shoal_testkit_replied (shoal_testkit_t *self)
{
    return testkit_item_data (&self->reply);
}

size_t shoal_testkit_events (const shoal_testkit_t *self)
{
    return self->events.count;
}

const char *shoal_testkit_event (const shoal_testkit_t *self, size_t i)
{
    item_t *item = testkit_list_at (&self->events, i);
    return item ? item->name : NULL;
}

const shoal_data_t *shoal_testkit_event_fields (shoal_testkit_t *self, size_t i)
{
    item_t *item = testkit_list_at (&self->events, i);
    return item ? testkit_item_data (item) : NULL;
}

size_t shoal_testkit_sent (const shoal_testkit_t *self)
{
    return self->sent.count;
}

const char *shoal_testkit_sent_to (const shoal_testkit_t *self, size_t i)
{
    item_t *item = testkit_list_at (&self->sent, i);
    return item ? item->to : NULL;
}

const char *shoal_testkit_sent_name (const shoal_testkit_t *self, size_t i)
{
    item_t *item = testkit_list_at (&self->sent, i);
    return item ? item->name : NULL;
}

const shoal_data_t *shoal_testkit_sent_fields (shoal_testkit_t *self, size_t i)
{
    item_t *item = testkit_list_at (&self->sent, i);
    return item ? testkit_item_data (item) : NULL;
}

const char *shoal_testkit_sent_id (const shoal_testkit_t *self, size_t i)
{
    item_t *item = testkit_list_at (&self->sent, i);
    return item ? item->id : NULL;
}

size_t shoal_testkit_timers (const shoal_testkit_t *self)
{
    return self->timers.count;
}

const char *shoal_testkit_timer_name (const shoal_testkit_t *self, size_t i)
{
    item_t *item = testkit_list_at (&self->timers, i);
    return item ? item->name : NULL;
}

int64_t shoal_testkit_timer_due (const shoal_testkit_t *self, size_t i)
{
    item_t *item = testkit_list_at (&self->timers, i);
    return item ? item->due : -1;
}

const shoal_data_t *shoal_testkit_timer_fields (shoal_testkit_t *self, size_t i)
{
    item_t *item = testkit_list_at (&self->timers, i);
    return item ? testkit_item_data (item) : NULL;
}

size_t shoal_testkit_cancels (const shoal_testkit_t *self)
{
    return self->cancel_count;
}

const char *shoal_testkit_cancel_name (const shoal_testkit_t *self, size_t i)
{
    return i < self->cancel_count ? self->cancels[i] : NULL;
}

bool shoal_testkit_passivated (const shoal_testkit_t *self)
{
    return self->passivated;
}

//  --------------------------------------------------------------------------
//  The actor

const shoal_data_t *shoal_testkit_view (shoal_testkit_t *self)
{
    if (self->view_open)
        data_close (&self->view);
    self->view_open = false;
    size_t size;
    const uint8_t *bytes = testkit_view_bytes (self, self->state, &self->view_rec, &size);
    if (!bytes)
        return NULL;
    self->view_open = true;
    if (data_init (&self->view, bytes, size) != 0)
        return NULL;
    return self->view.map ? &self->view : &testkit_empty;
}

const void *shoal_testkit_state (const shoal_testkit_t *self)
{
    return self->state;
}

int64_t shoal_testkit_version (const shoal_testkit_t *self)
{
    return (int64_t) self->history.count;
}

const char *shoal_testkit_history (const shoal_testkit_t *self, size_t i)
{
    item_t *item = testkit_list_at (&self->history, i);
    return item ? item->name : NULL;
}

const shoal_data_t *shoal_testkit_history_fields (shoal_testkit_t *self, size_t i)
{
    item_t *item = testkit_list_at (&self->history, i);
    return item ? testkit_item_data (item) : NULL;
}
