/*  inbox.c - a worker's inbox records in notes. See inbox.h.

    Contract: every record in gens is in the table and in exactly one
    generation, noted in a note written before the checkpoint that ends
    its generation; a note is dropped only by a checkpoint that stores or
    frees every record of the generation before, so a record leaves its
    note only for its 'i' key or because its sender is done. A record that
    cannot be kept in memory, or found there (out of memory: not in its
    list, or not in the table), pins the notes until a reload lists it
    again, as an outbox entry does (outbox.c); the table is a ptable_t
    (common/ptable.h) of records that hold their key.

    A command's record is found wherever it was kept (a note, the batch,
    its 'i' key, its stream's first event), so a retry gets the first
    reply whichever; a lookup that cannot read what may hold the record
    says so rather than "not found".
*/
#include "inbox.h"
#include "ctx.h"
#include "worker_internal.h"
#include "log.h"
#include "strcopy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_entry_free (noted_inbox_t **entry_p)
{
    if (*entry_p) {
        free ((*entry_p)->record);
        free (*entry_p);
        *entry_p = NULL;
    }
}

static void s_list_clear (inbox_list_t *list)
{
    for (size_t i = 0; i < list->count; i++)
        s_entry_free (&list->items[i]);
    list->count = 0;
}

//  Makes room in list for more entries. False if out of memory.
static bool s_list_reserve (inbox_list_t *list, size_t more)
{
    if (list->count + more <= list->cap)
        return true;
    size_t cap = list->cap ? 2 * list->cap : 1024;
    while (cap < list->count + more)
        cap *= 2;
    noted_inbox_t **items = realloc (list->items, cap * sizeof (noted_inbox_t *));
    if (!items)
        return false;
    list->items = items;
    list->cap = cap;
    return true;
}

static bool s_list_add (inbox_list_t *list, noted_inbox_t *entry)
{
    if (!s_list_reserve (list, 1))
        return false;
    list->items[list->count++] = entry;
    return true;
}

static const void *s_entry_key (const void *item, size_t *size)
{
    *size = ENVELOPE_ID_SIZE;
    return ((const noted_inbox_t *) item)->id;
}

//  The record of command id in the table, or NULL.
static noted_inbox_t *s_table_find (worker_t *self, const uint8_t id[ENVELOPE_ID_SIZE])
{
    return ptable_find (&self->inbox.table, id, ENVELOPE_ID_SIZE);
}

//  Puts entry in the table, whose key points into it. A record is noted
//  once (its copies find it), but were an id to come twice, the older
//  entry would leave the table (it stays in its list, and is stored).
//  Returns 0, or -1 when out of memory: entry is not in the table then
//  (nor any older one), and stays in its list.
static int s_table_put (worker_t *self, noted_inbox_t *entry)
{
    ptable_remove (&self->inbox.table, entry->id, ENVELOPE_ID_SIZE);
    return ptable_insert (&self->inbox.table, entry);
}

int inbox_init (worker_t *self)
{
    self->inbox = (inbox_notes_t){0};
    ptable_init (&self->inbox.table, s_entry_key);
    return 0;
}

void inbox_close (worker_t *self)
{
    inbox_notes_t *inbox = &self->inbox;
    ptable_close (&inbox->table);
    for (int i = 0; i < 2; i++) {
        s_list_clear (&inbox->gens[i]);
        free (inbox->gens[i].items);
    }
    s_list_clear (&inbox->staged);
    free (inbox->staged.items);
    free (inbox->dones);
    free (inbox->frame);
    *inbox = (inbox_notes_t){0};
}

uint32_t inbox_creator_hash (const uint8_t id[ENVELOPE_ID_SIZE])
{
    //  64-bit FNV-1a folded to 32: an id is random, or a client's key
    //  hashed already. Two ids that meet cost one read of event 1.
    uint64_t hash = 14695981039346656037ull;
    for (size_t i = 0; i < ENVELOPE_ID_SIZE; i++)
        hash = (hash ^ id[i]) * 1099511628211ull;
    uint32_t folded = (uint32_t) (hash ^ (hash >> 32));
    return folded ? folded : 1;
}

//  Looks (stream, id) up in the batch, under its 'i' key, then in the
//  stream's first event if the command created the stream (inbox_find).
static int s_find_kept (worker_t *self, const char *stream, const uint8_t id[ENVELOPE_ID_SIZE],
                        uint8_t **reply, size_t *size, journal_request_t *request)
{
    int rc = journal_batch_inbox_find (self->batch, stream, id, reply, size, request);
    if (rc != SHOAL_ENOTFOUND)
        return rc;
    //  A finished saga that left memory is looked at, not brought back
    //  (a client sending its Start again).
    bool transient;
    actor_t *actor = actor_table_get_unless_asked (self, stream, &transient, &rc);
    if (!actor)
        return rc;
    bool created = actor->version > 0 && actor->creator == inbox_creator_hash (id);
    if (transient)
        actor_free (&actor);
    if (!created)
        return SHOAL_ENOTFOUND;
    //  Staged in this batch, the creating turn's record was found above:
    //  this one is committed.
    return journal_creator_find (self->config->journal, stream, id, reply, size, request);
}

int inbox_append_creating (worker_t *self, actor_t *actor, const envelope_t *command,
                           const journal_event_t *events, size_t count, int64_t now)
{
    shoal_ctx_t *ctx = &self->ctx;
    size_t data_size;
    const uint8_t *data = rec_finish (&ctx->reply, &data_size);
    uint8_t *payload;
    size_t payload_size;
    int rc = envelope_reply_encode (true, NULL, NULL, data, data_size, &payload, &payload_size);
    if (rc)
        return rc;
    journal_request_t request = {
        journal_request_digest (command->name, command->payload, command->payload_size), ""};
    str_copy (request.name, sizeof request.name, command->name);
    //  As turn_on_command stamps an 'i' record (see there).
    journal_creator_t creator = {command->id, payload, payload_size,
                                 command->created > now ? command->created : now, &request};
    rc = journal_batch_append_creator (self->batch, actor->address, events, count, now,
                                       &actor->version, &creator);
    free (payload);
    if (rc == 0) {
        actor->creator = inbox_creator_hash (command->id);
        ctx->inbox_held = true;
    }
    return rc;
}

int inbox_find (worker_t *self, const char *stream, const uint8_t id[ENVELOPE_ID_SIZE],
                uint8_t **reply, size_t *size, journal_request_t *request)
{
    noted_inbox_t *entry = s_table_find (self, id);
    if (!entry || !streq (entry->stream, stream)) {
        int rc = s_find_kept (self, stream, id, reply, size, request);
        //  Not found while the notes in memory are incomplete (a reload
        //  that failed): its record may be in a note only, so it is not
        //  run (nor cancelled) until a reload lists them all.
        return rc == SHOAL_ENOTFOUND && !self->inbox.complete ? SHOAL_EIO : rc;
    }
    const uint8_t *bytes;
    journal_request_t first;
    if (journal_inbox_decode (entry->record, entry->size, &bytes, size, &first) != 0)
        return SHOAL_EFORMAT;
    if (!(*reply = worker_memdup (bytes, *size)))
        return SHOAL_ENOMEM;
    if (request)
        *request = first;
    return 0;
}

//  A record noted in memory: (stream, id) and its encoded bytes (owned).
static noted_inbox_t *s_entry_new (const char *stream, const uint8_t id[ENVELOPE_ID_SIZE],
                                   uint8_t *record, size_t size)
{
    size_t len = strlen (stream);
    noted_inbox_t *entry = malloc (sizeof (noted_inbox_t) + len + 1);
    if (!entry) {
        free (record);
        return NULL;
    }
    memcpy (entry->id, id, ENVELOPE_ID_SIZE);
    entry->done = false;
    entry->record = record;
    entry->size = size;
    memcpy (entry->stream, stream, len + 1);
    return entry;
}

int inbox_record (worker_t *self, const envelope_t *command, bool local, const uint8_t *reply,
                  size_t size, int64_t created, const journal_request_t *request)
{
    if (self->ctx.inbox_held)
        return 0;
    inbox_notes_t *inbox = &self->inbox;
    //  Room first, for the entry and its place now and after the commit,
    //  so that a record noted is always in memory too; without it, the
    //  record goes under its key as a client's.
    noted_inbox_t *entry = NULL;
    if (local && command->from[0] && s_list_reserve (&inbox->staged, 1) &&
        s_list_reserve (&inbox->gens[self->pending_order.epoch & 1], inbox->staged.count + 1))
        entry = s_entry_new (command->to, command->id, NULL, 0);
    if (!entry)
        return journal_batch_inbox_record (self->batch, command->to, command->id, reply, size,
                                           created, request);
    int rc = journal_batch_inbox_note (self->batch, command->to, command->id, reply, size, created,
                                       request, command->from, &entry->record, &entry->size);
    if (rc) {
        s_entry_free (&entry);
        return rc;
    }
    inbox->staged.items[inbox->staged.count++] = entry;
    return 0;
}

//  Sends the dones of the batch to each receiving worker, in one message
//  each, after the copies of their commands (the same queue).
static void s_send_dones (worker_t *self)
{
    inbox_notes_t *inbox = &self->inbox;
    size_t need = inbox->done_count * ENVELOPE_ID_SIZE;
    if (need > inbox->frame_cap) {
        uint8_t *frame = realloc (inbox->frame, need);
        if (!frame) //  the receivers store these records: safe, one more write each
            return;
        inbox->frame = frame;
        inbox->frame_cap = need;
    }
    static const uint8_t route = WORKER_ROUTE_DONE;
    for (int dest = 0; dest < self->config->workers; dest++) {
        size_t size = 0;
        for (size_t i = 0; i < inbox->done_count; i++)
            if (inbox->dones[i].dest == dest) {
                memcpy (inbox->frame + size, inbox->dones[i].id, ENVELOPE_ID_SIZE);
                size += ENVELOPE_ID_SIZE;
            }
        if (size == 0)
            continue;
        worker_send (self, dest, &route, 1, inbox->frame, size);
    }
}

void inbox_release (worker_t *self)
{
    inbox_notes_t *inbox = &self->inbox;
    inbox_list_t *gen = &inbox->gens[self->pending_order.epoch & 1];
    for (size_t i = 0; i < inbox->staged.count; i++) {
        noted_inbox_t *entry = inbox->staged.items[i];
        bool listed = s_list_add (gen, entry);
        if (!listed)
            s_entry_free (&entry);
        //  Out of memory, a record committed in a note is not found in
        //  memory: the notes are kept and reloaded, and until then they
        //  are incomplete, so that a copy of its command is not run on a
        //  miss (inbox_find). One that is listed stays in its list.
        if (!listed || s_table_put (self, entry) != 0) {
            log_error ("worker %d: out of memory: an inbox record waits for the next reload",
                       self->index);
            self->notes_pinned = self->reload_due = true;
            inbox->complete = false;
        }
    }
    inbox->staged.count = 0;
    if (inbox->done_count)
        s_send_dones (self);
    inbox->done_count = 0;
}

void inbox_drop_staged (worker_t *self)
{
    s_list_clear (&self->inbox.staged);
    self->inbox.done_count = 0;
}

void inbox_forgotten (worker_t *self, int dest, const uint8_t id[ENVELOPE_ID_SIZE])
{
    inbox_notes_t *inbox = &self->inbox;
    if (dest < 0 || dest >= self->config->workers)
        return; //  another node's: its receiver keeps the record under its key
    if (inbox->done_count == inbox->done_cap) {
        size_t cap = inbox->done_cap ? 2 * inbox->done_cap : 256;
        inbox_done_t *dones = realloc (inbox->dones, cap * sizeof (inbox_done_t));
        if (!dones) //  not told: the receiver stores the record, safe
            return;
        inbox->dones = dones;
        inbox->done_cap = cap;
    }
    inbox_done_t *done = &inbox->dones[inbox->done_count++];
    done->dest = dest;
    memcpy (done->id, id, ENVELOPE_ID_SIZE);
}

void inbox_on_done (worker_t *self, const uint8_t *frame, size_t size)
{
    for (size_t at = 0; at + ENVELOPE_ID_SIZE <= size; at += ENVELOPE_ID_SIZE) {
        noted_inbox_t *entry = s_table_find (self, frame + at);
        if (entry)
            entry->done = true;
    }
}

//  Stores or frees every record of list. False if the batch broke (the
//  list is then freed all the same: the commit fails and reloads).
static bool s_store (worker_t *self, inbox_list_t *list)
{
    bool ok = true;
    for (size_t i = 0; i < list->count; i++) {
        noted_inbox_t *entry = list->items[i];
        if (s_table_find (self, entry->id) == entry)
            ptable_remove (&self->inbox.table, entry->id, ENVELOPE_ID_SIZE);
        if (!entry->done && ok &&
            journal_batch_inbox_restore (self->batch, entry->stream, entry->id, entry->record,
                                         entry->size) != 0)
            ok = false;
        s_entry_free (&list->items[i]);
    }
    list->count = 0;
    return ok;
}

bool inbox_checkpoint (worker_t *self, int older, bool all)
{
    bool ok = s_store (self, &self->inbox.gens[older]);
    if (all)
        ok = s_store (self, &self->inbox.gens[older ^ 1]) && ok;
    return ok;
}

static int s_load_noted (void *arg, const char *stream, const uint8_t id[JOURNAL_ID_SIZE],
                         int64_t due, const uint8_t *value, size_t size)
{
    worker_t *self = arg;
    if (worker_of (self->config, stream) != self->index)
        return 0;
    inbox_notes_t *inbox = &self->inbox;
    uint8_t *record = worker_memdup (value, size);
    noted_inbox_t *entry = record ? s_entry_new (stream, id, record, size) : NULL;
    if (!entry || !s_list_add (&inbox->gens[self->pending_order.epoch & 1], entry)) {
        s_entry_free (&entry);
        self->load_failed = true;
        return -1;
    }
    if (s_table_put (self, entry) != 0) { //  listed: freed with its list
        self->load_failed = true;
        return -1;
    }
    return 0;
}

int inbox_load (worker_t *self)
{
    inbox_notes_t *inbox = &self->inbox;
    inbox->complete = false; //  until every record of the notes is listed
    ptable_clear (&inbox->table);
    for (int i = 0; i < 2; i++)
        s_list_clear (&inbox->gens[i]);
    s_list_clear (&inbox->staged);
    inbox->done_count = 0;
    int rc = journal_inbox_scan_notes (self->config->journal, s_load_noted, self);
    if (rc == 0 && self->load_failed)
        rc = SHOAL_ENOMEM;
    inbox->complete = rc == 0;
    return rc;
}
