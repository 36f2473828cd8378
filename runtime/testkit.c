/*  testkit.c - the test kit for actor modules; see shoal_testkit.h. A kit
    drives its one actor through the same turn machinery as a worker
    (msg_init, ctx_begin, ctx_run, ctx_apply), minus the journal, the
    inbox, the outbox and the sockets: what a turn staged is copied out of
    the ctx into the kit's own lists. Owned by the test's thread.

    Known limits: commands are not deduplicated (there is no inbox: a test
    that sends a command twice runs it twice), and a module's options are
    never set.
*/
#include "testkit_internal.h"
#include "ctx.h"
#include "data.h"
#include "registry.h"
#include "log.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const shoal_data_t testkit_empty; //  map NULL: every key absent

//  --------------------------------------------------------------------------
//  Items and lists

static void s_item_close (item_t *item)
{
    if (item->parsed)
        data_close (&item->data);
    item->parsed = false;
    free (item->bytes);
    item->bytes = NULL;
    item->size = 0;
}

//  Sets item's bytes to a copy of rec's. Returns 0, SHOAL_EINVAL for a
//  misused rec, SHOAL_ENOMEM.
static int s_item_take (item_t *item, shoal_rec_t *rec)
{
    size_t size;
    const uint8_t *bytes = rec_finish (rec, &size);
    if (!bytes)
        return rec->error ? rec->error : SHOAL_EINVAL;
    item->bytes = malloc (size);
    if (!item->bytes)
        return SHOAL_ENOMEM;
    memcpy (item->bytes, bytes, size);
    item->size = size;
    return 0;
}

//  The item's fields, parsed on first use. Never NULL.
const shoal_data_t *testkit_item_data (item_t *item)
{
    if (!item->parsed) {
        if (data_init (&item->data, item->bytes, item->size) != 0) {
            data_close (&item->data);
            return &testkit_empty;
        }
        item->parsed = true;
    }
    return item->data.map ? &item->data : &testkit_empty;
}

//  Appends a zeroed item. Returns it, or NULL out of memory. Growing the
//  list closes the datas parsed from its items (parsed again when read).
static item_t *s_list_add (list_t *list)
{
    if (list->count == list->max) {
        //  A parsed data points into its own item: closed before moving.
        for (size_t i = 0; i < list->count; i++)
            if (list->items[i].parsed) {
                data_close (&list->items[i].data);
                list->items[i].parsed = false;
            }
        size_t max = list->max ? 2 * list->max : 16;
        item_t *grown = realloc (list->items, max * sizeof (item_t));
        if (!grown)
            return NULL;
        list->items = grown;
        list->max = max;
    }
    item_t *item = &list->items[list->count++];
    memset (item, 0, sizeof *item);
    return item;
}

static void s_list_remove (list_t *list, size_t index)
{
    s_item_close (&list->items[index]);
    memmove (&list->items[index], &list->items[index + 1],
             (list->count - index - 1) * sizeof (item_t));
    list->count--;
}

static void s_list_clear (list_t *list)
{
    for (size_t i = 0; i < list->count; i++)
        s_item_close (&list->items[i]);
    list->count = 0;
}

static void s_list_destroy (list_t *list)
{
    s_list_clear (list);
    free (list->items);
    list->items = NULL;
    list->max = 0;
}

item_t *testkit_list_at (const list_t *list, size_t i)
{
    return i < list->count ? &list->items[i] : NULL;
}

//  --------------------------------------------------------------------------
//  Making a kit

//  Writes the next id of the kit, 32 hex digits.
static void s_new_id (shoal_testkit_t *self, char *id)
{
    snprintf (id, 2 * ENVELOPE_ID_SIZE + 1, "%016llx%016llx", 0x7e57c17ull,
              (unsigned long long) ++self->seq);
}

//  A fresh state of the type: zeroed, then init. NULL out of memory.
static uint8_t *s_fresh_state (shoal_testkit_t *self)
{
    uint8_t *state = calloc (1, self->type->state_size ? self->type->state_size : 1);
    if (state && self->type->init)
        self->type->init (state, self->id);
    return state;
}

static void s_free_state (shoal_testkit_t *self, uint8_t **state_p)
{
    if (*state_p && self->type->fini)
        self->type->fini (*state_p);
    free (*state_p);
    *state_p = NULL;
}

//  Makes a kit of an already chosen type, taking registry (may be NULL).
static shoal_testkit_t *s_new (const shoal_type_t *type, const char *address,
                               shoal_registry_t *registry)
{
    const char *slash = address ? strchr (address, '/') : NULL;
    if (!type || !type->handle || !type->apply || !type->view || !slash ||
        shoal_address_check (address, strlen (address)) != 0 ||
        strlen (type->name) != (size_t) (slash - address) ||
        strncmp (type->name, address, (size_t) (slash - address)) != 0) {
        registry_destroy (&registry);
        return NULL;
    }
    shoal_testkit_t *self = calloc (1, sizeof (shoal_testkit_t));
    if (!self) {
        registry_destroy (&registry);
        return NULL;
    }
    self->type = type;
    self->registry = registry;
    snprintf (self->address, sizeof self->address, "%s", address);
    self->id = self->address + (slash - address) + 1;
    self->now = SHOAL_TESTKIT_EPOCH;
    ctx_init (&self->ctx);
    for (size_t i = 0; i < TESTKIT_MAX_GIVEN; i++)
        rec_init (&self->given[i]);
    rec_init (&self->payload);
    rec_init (&self->view_rec);
    self->state = s_fresh_state (self);
    self->before = malloc (type->state_size ? type->state_size : 1);
    if (!self->state || !self->before) {
        shoal_testkit_destroy (&self);
        return NULL;
    }
    return self;
}

shoal_testkit_t *shoal_testkit_new (const shoal_type_t *type, const char *address)
{
    return s_new (type, address, NULL);
}

int testkit_module_init (shoal_registry_t *registry, shoal_module_init_fn *init, const char *caller)
{
    int rc = registry_module_init (registry, init);
    const char *why = registry_error (registry);
    if (rc && why)
        log_error ("%s: the module failed to start: %s", caller, why);
    else if (rc)
        log_error ("%s: the module failed to start: its %s returned %d (%s)", caller,
                   SHOAL_MODULE_ENTRY, rc, shoal_strerror (rc));
    return rc;
}

shoal_testkit_t *shoal_testkit_new_module (shoal_module_init_fn *init, const char *address)
{
    shoal_registry_t *registry = registry_new ();
    if (!registry || !init || !address ||
        testkit_module_init (registry, init, "shoal_testkit_new_module") != 0) {
        registry_destroy (&registry);
        return NULL;
    }
    const shoal_type_t *type = registry_lookup (registry, address);
    return s_new (type, address, registry);
}

static void s_last_clear (shoal_testkit_t *self)
{
    s_item_close (&self->reply);
    s_list_clear (&self->events);
    s_list_clear (&self->sent);
    s_list_clear (&self->timers);
    self->cancel_count = 0;
    self->passivated = false;
    self->accepted = false;
    self->last_code[0] = 0;
    self->why[0] = 0;
    if (self->view_open)
        data_close (&self->view);
    self->view_open = false;
}

void shoal_testkit_destroy (shoal_testkit_t **self_p)
{
    shoal_testkit_t *self = *self_p;
    if (!self)
        return;
    s_last_clear (self);
    s_free_state (self, &self->state);
    free (self->before);
    s_list_destroy (&self->history);
    s_list_destroy (&self->ledger);
    s_list_destroy (&self->pending);
    s_list_destroy (&self->events);
    s_list_destroy (&self->sent);
    s_list_destroy (&self->timers);
    s_item_close (&self->fired);
    for (size_t i = 0; i < TESTKIT_MAX_GIVEN; i++)
        rec_close (&self->given[i]);
    rec_close (&self->payload);
    rec_close (&self->view_rec);
    ctx_close (&self->ctx);
    registry_destroy (&self->registry);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  The past

shoal_rec_t *shoal_testkit_given (shoal_testkit_t *self, const char *event)
{
    if (self->given_count == TESTKIT_MAX_GIVEN || !event ||
        shoal_name_check (event, strlen (event)) != 0)
        return NULL;
    size_t i = self->given_count++;
    snprintf (self->given_names[i], sizeof self->given_names[i], "%s", event);
    rec_reset (&self->given[i]);
    return &self->given[i];
}

//  Appends an event to the history. Returns 0 or an error of s_item_take.
static int s_history_add (shoal_testkit_t *self, const char *name, shoal_rec_t *rec)
{
    item_t *item = s_list_add (&self->history);
    if (!item)
        return SHOAL_ENOMEM;
    snprintf (item->name, sizeof item->name, "%s", name);
    int rc = s_item_take (item, rec);
    if (rc != 0)
        self->history.count--;
    return rc;
}

int shoal_testkit_commit (shoal_testkit_t *self)
{
    int rc = 0;
    size_t i;
    for (i = 0; rc == 0 && i < self->given_count; i++) {
        size_t size;
        const uint8_t *bytes = rec_finish (&self->given[i], &size);
        if (!bytes) {
            rc = SHOAL_EINVAL;
            snprintf (self->why, sizeof self->why, "given event %s: its rec was misused",
                      self->given_names[i]);
        } else if (ctx_apply (self->type, self->state, self->given_names[i], bytes, size) != 0) {
            rc = SHOAL_EFORMAT;
            snprintf (self->why, sizeof self->why, "apply refused the given event %s",
                      self->given_names[i]);
        } else
            rc = s_history_add (self, self->given_names[i], &self->given[i]);
    }
    self->given_count = 0;
    return rc;
}

//  --------------------------------------------------------------------------
//  The next message

//  Starts preparing a message of kind named name. Returns its rec, or NULL
//  for a bad name.
static shoal_rec_t *s_prepare (shoal_testkit_t *self, uint8_t kind, const char *name)
{
    s_item_close (&self->fired);
    self->has_fired = false;
    self->prepared = false;
    if (!name || shoal_name_check (name, strlen (name)) != 0)
        return NULL;
    self->prepared = true;
    self->kind = kind;
    snprintf (self->name, sizeof self->name, "%s", name);
    self->from[0] = 0;
    s_new_id (self, self->msg_id);
    self->created = self->now;
    self->accepted_reply = false;
    self->code[0] = 0;
    snprintf (self->reason, sizeof self->reason, "rejected by the receiver");
    rec_reset (&self->payload);
    return &self->payload;
}

shoal_rec_t *shoal_testkit_command (shoal_testkit_t *self, const char *name)
{
    return s_prepare (self, ENVELOPE_COMMAND, name);
}

shoal_rec_t *shoal_testkit_reply (shoal_testkit_t *self, const char *name, bool accepted,
                                  const char *code)
{
    shoal_rec_t *rec = s_prepare (self, ENVELOPE_REPLY, name);
    if (!rec)
        return NULL;
    self->accepted_reply = accepted;
    if (!accepted)
        snprintf (self->code, sizeof self->code, "%s", code && *code ? code : "rejected");
    item_t *oldest = NULL, *newest = NULL;
    for (size_t i = 0; i < self->ledger.count; i++) {
        item_t *sent = &self->ledger.items[i];
        if (strcmp (sent->name, name) != 0)
            continue;
        if (!sent->answered && !oldest)
            oldest = sent;
        newest = sent;
    }
    item_t *to = oldest ? oldest : newest;
    if (oldest)
        oldest->answered = true;
    if (to)
        snprintf (self->from, sizeof self->from, "%s", to->to);
    return rec;
}

shoal_rec_t *shoal_testkit_reply_to (shoal_testkit_t *self, const char *msg_id, bool accepted,
                                     const char *code)
{
    for (size_t i = 0; msg_id && i < self->ledger.count; i++) {
        item_t *sent = &self->ledger.items[i];
        if (strcmp (sent->id, msg_id) != 0)
            continue;
        shoal_rec_t *rec = s_prepare (self, ENVELOPE_REPLY, sent->name);
        if (!rec)
            return NULL;
        self->accepted_reply = accepted;
        if (!accepted)
            snprintf (self->code, sizeof self->code, "%s", code && *code ? code : "rejected");
        sent->answered = true;
        snprintf (self->from, sizeof self->from, "%s", sent->to);
        return rec;
    }
    return NULL;
}

void shoal_testkit_reply_reason (shoal_testkit_t *self, const char *reason)
{
    snprintf (self->reason, sizeof self->reason, "%s", reason ? reason : "");
}

int shoal_testkit_stall (shoal_testkit_t *self, const char *msg_id)
{
    for (size_t i = 0; msg_id && i < self->ledger.count; i++) {
        item_t *sent = &self->ledger.items[i];
        if (strcmp (sent->id, msg_id) != 0)
            continue;
        shoal_rec_t *rec = s_prepare (self, ENVELOPE_STALLED, sent->name);
        snprintf (self->from, sizeof self->from, "%s", sent->to);
        shoal_rec_str (rec, "to", sent->to);
        shoal_rec_int (rec, "attempts", 1 + (self->now - sent->due) / 1000);
        shoal_rec_int (rec, "since", sent->due);
        return 0;
    }
    return SHOAL_ENOTFOUND;
}

//  The index of the pending timer named name due first (any name when
//  name is NULL), or -1.
static long s_pending_first (const shoal_testkit_t *self, const char *name)
{
    long best = -1;
    for (size_t i = 0; i < self->pending.count; i++) {
        const item_t *timer = &self->pending.items[i];
        if (name && strcmp (timer->name, name) != 0)
            continue;
        const item_t *other = best >= 0 ? &self->pending.items[best] : NULL;
        if (!other || timer->due < other->due ||
            (timer->due == other->due && timer->seq < other->seq))
            best = (long) i;
    }
    return best;
}

//  Prepares the pending timer at index as the next message, taking it out.
static void s_prepare_pending (shoal_testkit_t *self, size_t index)
{
    item_t timer = self->pending.items[index];
    memmove (&self->pending.items[index], &self->pending.items[index + 1],
             (self->pending.count - index - 1) * sizeof (item_t));
    self->pending.count--;
    s_prepare (self, ENVELOPE_TIMER, timer.name);
    snprintf (self->from, sizeof self->from, "%s", self->address);
    snprintf (self->msg_id, sizeof self->msg_id, "%s", timer.id);
    self->created = timer.due;
    self->fired = timer;
    self->has_fired = true;
}

shoal_rec_t *shoal_testkit_timer (shoal_testkit_t *self, const char *name)
{
    long index = name ? s_pending_first (self, name) : -1;
    if (index >= 0) {
        s_prepare_pending (self, (size_t) index);
        return &self->payload; //  ignored: the timer's own fields go
    }
    shoal_rec_t *rec = s_prepare (self, ENVELOPE_TIMER, name);
    if (rec)
        snprintf (self->from, sizeof self->from, "%s", self->address);
    return rec;
}

int shoal_testkit_from (shoal_testkit_t *self, const char *from)
{
    if (!from || (*from && shoal_address_check (from, strlen (from)) != 0))
        return SHOAL_EADDRESS;
    snprintf (self->from, sizeof self->from, "%s", from);
    return 0;
}

//  --------------------------------------------------------------------------
//  The turn

//  Writes the view of state into rec. Returns its bytes (borrowed until rec
//  changes) or NULL if view misused it.
const uint8_t *testkit_view_bytes (shoal_testkit_t *self, const void *state, shoal_rec_t *rec,
                                   size_t *size)
{
    rec_reset (rec);
    self->type->view (state, rec);
    return rec_finish (rec, size);
}

//  Compares the views of two states. Returns 0, or SHOAL_EFORMAT with why
//  set to what.
static int s_same_view (shoal_testkit_t *self, const void *live, const void *other,
                        const char *what, const char *culprit)
{
    shoal_rec_t a, b;
    rec_init (&a);
    rec_init (&b);
    size_t a_size, b_size;
    const uint8_t *a_bytes = testkit_view_bytes (self, live, &a, &a_size);
    const uint8_t *b_bytes = testkit_view_bytes (self, other, &b, &b_size);
    int rc = 0;
    if (!a_bytes || !b_bytes) {
        rc = SHOAL_EFORMAT;
        snprintf (self->why, sizeof self->why, "view misused its rec");
    } else if (a_size > CTX_MAX_REC_BYTES) {
        rc = SHOAL_EFORMAT;
        snprintf (self->why, sizeof self->why,
                  "view wrote " CTX_TOO_BIG_TEXT ": a node's `shoal get` answers handler_error",
                  a_size, CTX_MAX_REC_BYTES);
    } else if (a_size != b_size || memcmp (a_bytes, b_bytes, a_size) != 0) {
        rc = SHOAL_EFORMAT;
        snprintf (self->why, sizeof self->why, "%s has another view than the live state: %s", what,
                  culprit);
    }
    rec_close (&a);
    rec_close (&b);
    return rc;
}

//  Rebuilds a fresh state from the history into *state_p. Returns 0 or
//  SHOAL_EFORMAT (why set) or SHOAL_ENOMEM.
static int s_rebuild (shoal_testkit_t *self, uint8_t **state_p)
{
    *state_p = s_fresh_state (self);
    if (!*state_p)
        return SHOAL_ENOMEM;
    for (size_t i = 0; i < self->history.count; i++) {
        item_t *event = &self->history.items[i];
        if (ctx_apply (self->type, *state_p, event->name, event->bytes, event->size) != 0) {
            snprintf (self->why, sizeof self->why, "replay: apply refused event %zu, %s", i,
                      event->name);
            return SHOAL_EFORMAT;
        }
    }
    return 0;
}

//  Restores a snapshot of the live state into a fresh one and compares
//  views. Returns 0 or SHOAL_EFORMAT (why set).
static int s_check_snapshot (shoal_testkit_t *self)
{
    const shoal_type_t *type = self->type;
    if (!type->snapshot || !type->restore)
        return 0;
    shoal_rec_t rec;
    rec_init (&rec);
    type->snapshot (self->state, &rec);
    size_t size;
    const uint8_t *bytes = rec_finish (&rec, &size);
    int rc = SHOAL_EFORMAT;
    uint8_t *fresh = s_fresh_state (self);
    shoal_data_t data;
    if (!bytes)
        snprintf (self->why, sizeof self->why, "snapshot misused its rec");
    else if (size > CTX_MAX_REC_BYTES)
        snprintf (self->why, sizeof self->why,
                  "snapshot wrote " CTX_TOO_BIG_TEXT ": a node does not write it, and replays "
                  "all the actor's events at each load",
                  size, CTX_MAX_REC_BYTES);
    else if (!fresh)
        rc = SHOAL_ENOMEM;
    else if (data_init (&data, bytes, size) != 0) {
        data_close (&data);
        snprintf (self->why, sizeof self->why, "snapshot wrote what does not parse");
    } else {
        if (type->restore (fresh, type->snapshot_version, data.map ? &data : &testkit_empty) != 0)
            snprintf (self->why, sizeof self->why, "restore refused a snapshot of version %d",
                      type->snapshot_version);
        else
            rc = s_same_view (self, self->state, fresh, "a state restored from a snapshot",
                              "snapshot does not write, or restore does not read back, what "
                              "the state holds");
        data_close (&data);
    }
    s_free_state (self, &fresh);
    rec_close (&rec);
    return rc;
}

int shoal_testkit_replay (shoal_testkit_t *self)
{
    uint8_t *fresh = NULL;
    int rc = s_rebuild (self, &fresh);
    if (rc == 0)
        rc = s_same_view (self, self->state, fresh, "the state rebuilt from all events",
                          "apply does not rebuild what handle decided");
    s_free_state (self, &fresh);
    if (rc == 0)
        rc = s_check_snapshot (self);
    return rc;
}

//  Copies what the accepted turn staged out of the ctx into the last
//  turn's lists, the history, the ledger and the pending timers. Returns 0
//  or SHOAL_ENOMEM.
static int s_keep_turn (shoal_testkit_t *self)
{
    shoal_ctx_t *ctx = &self->ctx;
    int rc = s_item_take (&self->reply, &ctx->reply);
    for (size_t i = 0; rc == 0 && i < ctx->event_count; i++) {
        item_t *event = s_list_add (&self->events);
        if (!event)
            return SHOAL_ENOMEM;
        snprintf (event->name, sizeof event->name, "%s", ctx->events[i].name);
        rc = s_item_take (event, &ctx->events[i].rec);
        if (rc == 0)
            rc = s_history_add (self, ctx->events[i].name, &ctx->events[i].rec);
    }
    for (size_t i = 0; rc == 0 && i < ctx->send_count; i++) {
        item_t *sent = s_list_add (&self->sent), *kept = s_list_add (&self->ledger);
        if (!sent || !kept)
            return SHOAL_ENOMEM;
        snprintf (sent->name, sizeof sent->name, "%s", ctx->sends[i].name);
        snprintf (sent->to, sizeof sent->to, "%s", ctx->sends[i].to);
        s_new_id (self, sent->id);
        sent->due = self->now;
        rc = s_item_take (sent, &ctx->sends[i].rec);
        *kept = *sent;
        kept->bytes = NULL; //  the ledger keeps names and ids only
        kept->size = 0;
    }
    //  Cancels reach the timers of earlier turns, so before this turn's.
    for (size_t c = 0; c < ctx->cancel_count; c++) {
        snprintf (self->cancels[c], sizeof self->cancels[c], "%s", ctx->cancels[c]);
        for (size_t i = self->pending.count; i-- > 0;)
            if (strcmp (self->pending.items[i].name, ctx->cancels[c]) == 0)
                s_list_remove (&self->pending, i);
    }
    self->cancel_count = ctx->cancel_count;
    self->passivated = ctx->passivate;
    for (size_t i = 0; rc == 0 && i < ctx->timer_count; i++) {
        item_t *timer = s_list_add (&self->timers), *kept = s_list_add (&self->pending);
        if (!timer || !kept)
            return SHOAL_ENOMEM;
        snprintf (timer->name, sizeof timer->name, "%s", ctx->timers[i].name);
        s_new_id (self, timer->id);
        timer->due = self->now + ctx->timers[i].ms;
        timer->seq = self->seq;
        rc = s_item_take (timer, &ctx->timers[i].rec);
        *kept = *timer;
        kept->bytes = NULL;
        if (rc == 0 && timer->size) {
            kept->bytes = malloc (timer->size);
            if (!kept->bytes)
                return SHOAL_ENOMEM;
            memcpy (kept->bytes, timer->bytes, timer->size);
        }
    }
    return rc;
}

//  Rebuilds the live state from the history, after apply failed half-way.
static void s_reload (shoal_testkit_t *self)
{
    uint8_t *fresh = NULL;
    char why[sizeof self->why];
    memcpy (why, self->why, sizeof why);
    if (s_rebuild (self, &fresh) == 0) {
        s_free_state (self, &self->state);
        self->state = fresh;
    } else
        s_free_state (self, &fresh);
    memcpy (self->why, why, sizeof why);
}

int shoal_testkit_run (shoal_testkit_t *self)
{
    s_last_clear (self);
    int rc = shoal_testkit_commit (self);
    if (rc != 0)
        return rc;
    if (!self->prepared) {
        snprintf (self->why, sizeof self->why, "no message prepared");
        return SHOAL_EINVAL;
    }
    self->prepared = false;
    uint8_t *payload = NULL;
    size_t size = 0;
    const uint8_t *fields;
    if (self->has_fired) {
        fields = self->fired.bytes;
        size = self->fired.size;
    } else if (!(fields = rec_finish (&self->payload, &size))) {
        snprintf (self->why, sizeof self->why, "the message's rec was misused");
        return SHOAL_EINVAL;
    }
    if (self->kind == ENVELOPE_REPLY) {
        bool ok = self->accepted_reply;
        rc = envelope_reply_encode (ok, ok ? NULL : self->code, ok ? NULL : self->reason,
                                    self->accepted_reply ? fields : NULL,
                                    self->accepted_reply ? size : 0, &payload, &size);
        if (rc != 0) {
            snprintf (self->why, sizeof self->why, "the reply does not encode: %s",
                      shoal_strerror (rc));
            return rc;
        }
        fields = payload;
    }
    envelope_t env;
    memset (&env, 0, sizeof env);
    env.kind = self->kind;
    for (size_t i = 0; i < ENVELOPE_ID_SIZE; i++)
        sscanf (self->msg_id + 2 * i, "%2hhx", &env.id[i]);
    snprintf (env.from, sizeof env.from, "%s", self->from);
    snprintf (env.to, sizeof env.to, "%s", self->address);
    snprintf (env.name, sizeof env.name, "%s", self->name);
    env.payload = fields;
    env.payload_size = size;
    env.created = self->created;
    shoal_msg_t msg;
    rc = msg_init (&msg, &env);
    if (rc == 0) {
        memcpy (self->before, self->state, self->type->state_size);
        ctx_begin (&self->ctx, self->address, (int64_t) self->history.count, self->now);
        int result = ctx_run (&self->ctx, self->type, self->state, &msg);
        snprintf (self->why, sizeof self->why, "%s", self->ctx.reason);
        if (self->ctx.undone) {
            //  A node undoes the write and goes on, with a warning a test
            //  would not see: here it fails the turn, which keeps nothing.
            snprintf (self->why, sizeof self->why,
                      "the %s handler wrote into %s (a node undoes it)", self->type->name,
                      self->ctx.undone);
            snprintf (self->last_code, sizeof self->last_code, "handler_error");
            if (result != CTX_REJECTED) //  its events were applied
                s_reload (self);
            rc = SHOAL_EMODULE;
        } else if (result == CTX_ACCEPTED) {
            self->accepted = true;
            rc = s_keep_turn (self);
            if (rc == 0)
                rc = shoal_testkit_replay (self);
        } else {
            snprintf (self->last_code, sizeof self->last_code, "%s", self->ctx.code);
            if (result == CTX_CORRUPT) {
                s_reload (self);
                rc = SHOAL_EFORMAT;
            } else
                rc = self->ctx.failed ? SHOAL_EMODULE : SHOAL_EREJECTED;
            if (result == CTX_REJECTED &&
                memcmp (self->before, self->state, self->type->state_size) != 0) {
                snprintf (self->why, sizeof self->why, "a rejected turn changed the state");
                rc = SHOAL_EFORMAT;
            }
        }
    } else
        snprintf (self->why, sizeof self->why, "the message does not parse");
    msg_close (&msg);
    free (payload);
    s_item_close (&self->fired);
    self->has_fired = false;
    return rc;
}

//  --------------------------------------------------------------------------
//  Time

int64_t shoal_testkit_now (const shoal_testkit_t *self)
{
    return self->now;
}

int shoal_testkit_advance (shoal_testkit_t *self, int64_t ms)
{
    if (ms < 0)
        return SHOAL_EINVAL;
    int64_t until = self->now + ms;
    int fired = 0;
    long index;
    while ((index = s_pending_first (self, NULL)) >= 0 && self->pending.items[index].due <= until) {
        if (self->pending.items[index].due > self->now)
            self->now = self->pending.items[index].due;
        s_prepare_pending (self, (size_t) index);
        int rc = shoal_testkit_run (self);
        if (rc != 0)
            return rc;
        fired++;
    }
    self->now = until;
    return fired;
}

size_t shoal_testkit_pending (const shoal_testkit_t *self)
{
    return self->pending.count;
}
