/*  inbox.h - a worker's inbox lookups: the record of the command that
    created a stream lives in the stream's first event, not under an 'i'
    key (persistence/keys.h), so "did command id to stream run, and what
    did it answer" is the batch's staged records, then the 'i' key, then,
    when the stream's creator is that command, its first event.

    An actor remembers its creator as a 64-bit hash of the command's id
    (actor_t.creator, 0 for none): set by the turn that creates its stream
    and by its load (the replay of event 1, or one read of event 1 when it
    is restored from a snapshot). The hash only saves a read: the first
    event's record is taken only if it holds the very same id.

    Internal to the worker: runs on the worker thread, which owns the
    actors and the batch.
*/
#ifndef INBOX_H_INCLUDED
#define INBOX_H_INCLUDED

#include <stdint.h>

#include "actors.h"
#include "envelope.h"
#include "journal.h"

typedef struct _worker_t worker_t;

//  The hash of a command's id that actor_t.creator holds: never 0. Can't
//  fail.
uint64_t inbox_creator_hash (const uint8_t id[ENVELOPE_ID_SIZE]);

//  Looks up the inbox record of command id to stream: in the worker's
//  batch, then under its 'i' key, then in the stream's first event if the
//  command created the stream (which loads the actor at stream). Returns
//  0 with *reply (the caller frees it) and request (may be NULL) as
//  journal_batch_inbox_find, SHOAL_ENOTFOUND (an unknown actor type too),
//  or an error: the record or the actor could not be read, so the command
//  may have run.
int inbox_find (worker_t *self, const char *stream, const uint8_t id[ENVELOPE_ID_SIZE],
                uint8_t **reply, size_t *size, journal_request_t *request);

//  Stages the events of an accepted turn of actor on command, the first
//  of its stream (actor->version 0, count 1 or more): the first event
//  holds the command's inbox record, with the reply the turn gives (the
//  accepted reply of self->ctx), stamped created. Sets actor->creator and
//  actor->version. Returns 0, or an error having staged nothing
//  (journal_batch_append_creator's).
int inbox_append_creating (worker_t *self, actor_t *actor, const envelope_t *command,
                           const journal_event_t *events, size_t count, int64_t now);

//  Stages the inbox record of command to stream, unless the turn just run
//  kept it in the stream's first event (inbox_append_creating). Returns 0
//  or journal_batch_inbox_record's error.
int inbox_record (worker_t *self, const envelope_t *command, const uint8_t *reply, size_t size,
                  int64_t created, const journal_request_t *request);

#endif
