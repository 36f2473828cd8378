/*  inbox.c - a worker's inbox lookups, the creator's record included. See
    inbox.h.

    Contract: a command's record is found wherever it was kept (the batch,
    its 'i' key, its stream's first event), so a retry gets the first reply
    whichever; a lookup that cannot read what may hold the record says so
    rather than "not found". Runs on the worker thread.
*/
#include "inbox.h"
#include "ctx.h"
#include "worker_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t inbox_creator_hash (const uint8_t id[ENVELOPE_ID_SIZE])
{
    //  64-bit FNV-1a: an id is random, or a client's key hashed already.
    uint64_t hash = 14695981039346656037ull;
    for (size_t i = 0; i < ENVELOPE_ID_SIZE; i++)
        hash = (hash ^ id[i]) * 1099511628211ull;
    return hash ? hash : 1;
}

int inbox_find (worker_t *self, const char *stream, const uint8_t id[ENVELOPE_ID_SIZE],
                uint8_t **reply, size_t *size, journal_request_t *request)
{
    int rc = journal_batch_inbox_find (self->batch, stream, id, reply, size, request);
    if (rc != SHOAL_ENOTFOUND)
        return rc;
    actor_t *actor = actor_table_get (self, stream, &rc);
    if (!actor)
        return rc;
    if (actor->version == 0 || actor->creator != inbox_creator_hash (id))
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
    snprintf (request.name, sizeof request.name, "%s", command->name);
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

int inbox_record (worker_t *self, const envelope_t *command, const uint8_t *reply, size_t size,
                  int64_t created, const journal_request_t *request)
{
    if (self->ctx.inbox_held)
        return 0;
    return journal_batch_inbox_record (self->batch, command->to, command->id, reply, size, created,
                                       request);
}
