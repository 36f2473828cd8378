/*  testkit_view.c - the test kit for projections (shoal_testkit.h, its
    second part): one projection fed events one at a time, as a node's
    projection thread feeds it; testkit_view_apply.c runs each apply.

    Contract: the events list is matched as projector.c matches it; every
    event given takes the next position, wanted or not; a rebuild applies
    the events the live rows took, again, to empty rows. Owned by the
    test's thread.
*/
#include "testkit_view.h"
#include "testkit_internal.h"
#include "registry.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  --------------------------------------------------------------------------
//  Making a kit

//  Makes a kit of the projection at index of registry, taking registry.
static shoal_testkit_view_t *s_new (shoal_registry_t *registry, size_t index)
{
    shoal_testkit_view_t *self = calloc (1, sizeof (shoal_testkit_view_t));
    if (!self) {
        registry_destroy (&registry);
        return NULL;
    }
    self->registry = registry;
    self->projection = registry_projection (registry, index);
    self->view.projection = self->projection->name;
    size_t state_size = self->projection->batch_state_size;
    if (state_size && !(self->view.batch_state = malloc (state_size))) {
        registry_destroy (&self->registry);
        free (self);
        return NULL;
    }
    registry_filter_parse (&self->filter, self->projection->events);
    self->now = SHOAL_TESTKIT_EPOCH;
    rec_init (&self->payload);
    viewrecs_init (&self->view.recs);
    return self;
}

shoal_testkit_view_t *shoal_testkit_view_new (const shoal_projection_t *projection)
{
    shoal_registry_t *registry = registry_new ();
    if (!registry || !projection || shoal_register_projection (registry, projection) != 0) {
        registry_destroy (&registry);
        return NULL;
    }
    return s_new (registry, 0);
}

shoal_testkit_view_t *shoal_testkit_view_new_module (shoal_module_init_fn *init, const char *name)
{
    shoal_registry_t *registry = registry_new ();
    if (!registry || !init || !name ||
        testkit_module_init (registry, init, "shoal_testkit_view_new_module") != 0) {
        registry_destroy (&registry);
        return NULL;
    }
    const char *at = strchr (name, '@');
    size_t name_len = at ? (size_t) (at - name) : strlen (name);
    int version = 0; //  0: the highest
    if (at) {
        char *end;
        long wanted = strtol (at + 1, &end, 10);
        bool digit = at[1] >= '0' && at[1] <= '9'; //  strtol takes " 1" and "+1" too
        version = !digit || *end || wanted < 1 || wanted > 1000000 ? -1 : (int) wanted;
    }
    long best = -1;
    for (size_t i = 0; version >= 0 && i < registry_projection_count (registry); i++) {
        const shoal_projection_t *projection = registry_projection (registry, i);
        if (strlen (projection->name) != name_len || memcmp (projection->name, name, name_len) != 0)
            continue;
        if (version ? projection->version == version
                    : best < 0 || projection->version >
                                      registry_projection (registry, (size_t) best)->version)
            best = (long) i;
    }
    if (best < 0) {
        registry_destroy (&registry);
        return NULL;
    }
    return s_new (registry, (size_t) best);
}

void shoal_testkit_view_destroy (shoal_testkit_view_t **self_p)
{
    shoal_testkit_view_t *self = *self_p;
    if (!self)
        return;
    kitview_discard (&self->view);
    free (self->view.staged);
    free (self->view.batch_state);
    viewrecs_close (&self->view.recs);
    kitview_sent_clear (self->sent, &self->sent_count);
    kitview_rows_close (&self->rows);
    for (size_t i = 0; i < self->log_count; i++)
        free (self->log[i].bytes);
    free (self->log);
    rec_close (&self->payload);
    registry_destroy (&self->registry);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  Events

shoal_rec_t *shoal_testkit_view_event (shoal_testkit_view_t *self, const char *address,
                                       const char *name)
{
    self->prepared = false;
    if (!address || shoal_address_check (address, strlen (address)) != 0 || !name ||
        shoal_name_check (name, strlen (name)) != 0)
        return NULL;
    snprintf (self->address, sizeof self->address, "%s", address);
    snprintf (self->name, sizeof self->name, "%s", name);
    rec_reset (&self->payload);
    self->prepared = true;
    return &self->payload;
}

//  Appends the prepared event to the log, at *event_p. Returns 0, or
//  SHOAL_EINVAL (its rec misused) or SHOAL_ENOMEM with why set.
static int s_log_add (shoal_testkit_view_t *self, kitview_event_t **event_p)
{
    size_t size;
    const uint8_t *fields = rec_finish (&self->payload, &size);
    if (!fields) {
        snprintf (self->why, sizeof self->why, "the event's rec was misused");
        return SHOAL_EINVAL;
    }
    if (self->log_count == self->log_max) {
        size_t max = self->log_max ? 2 * self->log_max : 64;
        kitview_event_t *grown = realloc (self->log, max * sizeof (kitview_event_t));
        if (!grown) {
            snprintf (self->why, sizeof self->why, "out of memory");
            return SHOAL_ENOMEM;
        }
        self->log = grown;
        self->log_max = max;
    }
    kitview_event_t *event = &self->log[self->log_count];
    memset (event, 0, sizeof *event);
    if (!(event->bytes = malloc (size))) {
        snprintf (self->why, sizeof self->why, "out of memory");
        return SHOAL_ENOMEM;
    }
    memcpy (event->bytes, fields, size);
    event->size = size;
    snprintf (event->address, sizeof event->address, "%s", self->address);
    snprintf (event->name, sizeof event->name, "%s", self->name);
    event->position = self->log_count;
    event->seq = 1;
    for (size_t i = 0; i < self->log_count; i++)
        if (strcmp (self->log[i].address, event->address) == 0)
            event->seq++;
    event->created = self->now;
    self->log_count++;
    *event_p = event;
    return 0;
}

int shoal_testkit_view_apply (shoal_testkit_view_t *self)
{
    //  What readers returned is borrowed until now.
    for (size_t i = 0; i < self->rows.count; i++)
        kitview_row_unparse (self->rows.rows[i]);
    kitview_sent_clear (self->sent, &self->sent_count);
    self->wanted = false;
    self->why[0] = 0;
    if (!self->prepared) {
        snprintf (self->why, sizeof self->why, "no event prepared");
        return SHOAL_EINVAL;
    }
    self->prepared = false;
    kitview_event_t *event;
    int rc = s_log_add (self, &event);
    if (rc)
        return rc;
    self->wanted = registry_filter_wants (&self->filter, event->address, event->name);
    if (!self->wanted)
        return 0;
    rc = kitview_apply (self, &self->rows, event, true, true);
    if (rc) {
        snprintf (self->why, sizeof self->why, "%s", self->view.reason);
        return rc;
    }
    event->applied = true;
    memcpy (self->sent, self->view.sent, sizeof self->sent);
    self->sent_count = self->view.sent_count;
    self->view.sent_count = 0; //  taken
    return 0;
}

bool shoal_testkit_view_wanted (const shoal_testkit_view_t *self)
{
    return self->wanted;
}

const char *shoal_testkit_view_why (const shoal_testkit_view_t *self)
{
    return self->why;
}

uint64_t shoal_testkit_view_given (const shoal_testkit_view_t *self)
{
    return self->log_count;
}

int64_t shoal_testkit_view_now (const shoal_testkit_view_t *self)
{
    return self->now;
}

int shoal_testkit_view_advance (shoal_testkit_view_t *self, int64_t ms)
{
    if (ms < 0)
        return SHOAL_EINVAL;
    self->now += ms;
    return 0;
}

//  --------------------------------------------------------------------------
//  Reading the rows and the commands

const shoal_data_t *shoal_testkit_view_row (shoal_testkit_view_t *self, const char *key)
{
    bool found = false;
    size_t at = key ? kitview_rows_find (&self->rows, key, &found) : 0;
    if (!found)
        return NULL;
    kitview_row_t *row = self->rows.rows[at];
    if (!row->parsed) {
        if (data_init (&row->data, row->bytes, row->size) != 0) {
            data_close (&row->data);
            return NULL;
        }
        row->parsed = true;
    }
    return row->data.map ? &row->data : &testkit_empty;
}

size_t shoal_testkit_view_rows (const shoal_testkit_view_t *self)
{
    return self->rows.count;
}

const char *shoal_testkit_view_key (const shoal_testkit_view_t *self, size_t i)
{
    return i < self->rows.count ? self->rows.rows[i]->key : NULL;
}

size_t shoal_testkit_view_sent (const shoal_testkit_view_t *self)
{
    return self->sent_count;
}

const char *shoal_testkit_view_sent_to (const shoal_testkit_view_t *self, size_t i)
{
    return i < self->sent_count ? self->sent[i].to : NULL;
}

const char *shoal_testkit_view_sent_name (const shoal_testkit_view_t *self, size_t i)
{
    return i < self->sent_count ? self->sent[i].name : NULL;
}

const shoal_data_t *shoal_testkit_view_sent_fields (shoal_testkit_view_t *self, size_t i)
{
    if (i >= self->sent_count)
        return NULL;
    kitview_sent_t *sent = &self->sent[i];
    if (!sent->parsed) {
        if (data_init (&sent->data, sent->bytes, sent->size) != 0) {
            data_close (&sent->data);
            return &testkit_empty;
        }
        sent->parsed = true;
    }
    return sent->data.map ? &sent->data : &testkit_empty;
}

//  --------------------------------------------------------------------------
//  Rebuilding

//  Compares the rebuilt rows with the live ones. Returns 0, or
//  SHOAL_EFORMAT with why naming the first key that differs.
static int s_same_rows (shoal_testkit_view_t *self, const kitview_rows_t *rebuilt)
{
    const kitview_rows_t *live = &self->rows;
    size_t i = 0, j = 0;
    while (i < live->count || j < rebuilt->count) {
        const kitview_row_t *a = i < live->count ? live->rows[i] : NULL;
        const kitview_row_t *b = j < rebuilt->count ? rebuilt->rows[j] : NULL;
        int cmp = !a ? 1 : !b ? -1 : strcmp (a->key, b->key);
        const char *what = NULL, *key = NULL;
        if (cmp < 0) {
            what = "the rebuild has no row \"%s\"";
            key = a->key;
        } else if (cmp > 0) {
            what = "the rebuild has a row \"%s\" that the live rows lack";
            key = b->key;
        } else if (a->size != b->size || memcmp (a->bytes, b->bytes, a->size) != 0) {
            what = "the rebuild's row \"%s\" differs from the live one";
            key = a->key;
        }
        if (what) {
            char head[SHOAL_VIEW_KEY_MAX + 64];
            snprintf (head, sizeof head, what, key);
            snprintf (self->why, sizeof self->why,
                      "%s: apply depends on something besides the events and its rows "
                      "(the clock, global state, or with a batch state how the events fall "
                      "into batches: the rebuild is one batch, the live rows one an event)",
                      head);
            return SHOAL_EFORMAT;
        }
        i += cmp <= 0;
        j += cmp >= 0;
    }
    return 0;
}

int shoal_testkit_view_check_rebuild (shoal_testkit_view_t *self)
{
    //  The rebuild is one batch, where the live rows took one an event: a
    //  batch state's rows must not depend on how events fall into batches.
    kitview_rows_t rebuilt = {0};
    const kitview_event_t *last = NULL;
    if (self->view.batch_state)
        memset (self->view.batch_state, 0, self->projection->batch_state_size);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < self->log_count; i++) {
        const kitview_event_t *event = &self->log[i];
        if (!event->applied)
            continue;
        last = event;
        rc = kitview_apply (self, &rebuilt, event, false, false);
        if (rc && rc != SHOAL_ENOMEM) {
            snprintf (self->why, sizeof self->why,
                      "the rebuild's apply refused the event at position %" PRIu64
                      " (%s of %s), which the live apply took: %s",
                      event->position, event->name, event->address, self->view.reason);
            rc = SHOAL_EFORMAT;
        } else if (rc)
            snprintf (self->why, sizeof self->why, "out of memory");
    }
    if (rc == 0 && last && (rc = kitview_end (self, &rebuilt, last)) != 0) {
        if (rc != SHOAL_ENOMEM) {
            snprintf (self->why, sizeof self->why,
                      "the rebuild's batch_end failed over the events applied: %s",
                      self->view.reason);
            rc = SHOAL_EFORMAT;
        } else
            snprintf (self->why, sizeof self->why, "out of memory");
    }
    if (rc == 0)
        rc = s_same_rows (self, &rebuilt);
    kitview_rows_close (&rebuilt);
    return rc;
}
