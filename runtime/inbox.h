/*  inbox.h - a worker's inbox records in notes (the inbox in two tiers,
    docs/DESIGN-NOTES.md), and the record of the command that created a
    stream, which the stream's first event holds.

    The inbox record of a command (its id -> its reply, so that a copy sent
    again is answered, not run) is what makes a re-sent command safe. A
    command an actor of this node sent is re-sent only until its sender
    commits the answer; so its record is needed only until then, and no
    later than that can a copy of it arrive: the sender's copies and its
    word that it is done travel the same queue, in order. Such a record is
    written into the receiver's commit note, not under a key of its own,
    and kept in memory here; at the worker's checkpoints (with the
    outbox's, outbox_checkpoint), a record noted before the previous
    checkpoint is dropped with its note if its sender said it is done, and
    stored under its 'i' key otherwise. A sender says so after the commit
    that forgets the command (outbox_forget): one message per commit and
    receiving worker, the ids of the commands (WORKER_ROUTE_DONE). A node
    that crashes leaves its notes: the open's fold keeps a record exactly
    when its command is still in the outbox (persistence/notes.c). A
    command from a client or another node keeps its record under its key,
    as before: nobody tells the receiver when it stops sending.

    The record of a command that created a stream (its turn, on an actor
    with no event, appended some) is in the stream's first event instead,
    neither in a note nor under its key (persistence/keys.h), for as long
    as the stream. An actor remembers its creator as a 32-bit hash of the
    command's id (actor_t.creator, 0 for none): set by the turn that
    creates its stream and by its load (the replay of event 1, or one read
    of event 1 when it is restored from a snapshot). The hash only saves a
    read: the first event's record is taken only for the very same id.

    Internal to the worker: the worker thread owns everything here.
*/
#ifndef INBOX_H_INCLUDED
#define INBOX_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actors.h"
#include "envelope.h"
#include "journal.h"
#include "ptable.h"

typedef struct _worker_t worker_t;

//  An inbox record in a note only.
typedef struct {
    uint8_t id[ENVELOPE_ID_SIZE]; //  the command's id, the table's key
    bool done;                    //  its sender will never send it again
    uint8_t *record;              //  the encoded record, owned
    size_t size;                  //  its bytes
    char stream[];                //  the receiver's address
} noted_inbox_t;

//  Records in notes only, owned: one generation, or a batch's.
typedef struct {
    noted_inbox_t **items;
    size_t count;
    size_t cap;
} inbox_list_t;

//  A command whose sender forgot it in the batch being built, to tell its
//  receiver's worker once the batch is committed.
typedef struct {
    int dest;
    uint8_t id[ENVELOPE_ID_SIZE];
} inbox_done_t;

typedef struct {
    ptable_t table;       //  id -> noted_inbox_t *, every record of gens (not owning)
    inbox_list_t gens[2]; //  [epoch & 1]: noted since the last checkpoint
    inbox_list_t staged;  //  noted in the batch being built
    inbox_done_t *dones;  //  forgotten in the batch being built
    size_t done_count, done_cap;
    uint8_t *frame; //  reused to send dones
    size_t frame_cap;
    bool complete; //  every record of the worker's notes is in table
} inbox_notes_t;

//  Makes the worker's table, empty (it allocates nothing until the first
//  record). Returns 0: can't fail.
int inbox_init (worker_t *self);
//  Frees everything. Safe twice.
void inbox_close (worker_t *self);

//  Looks (stream, id) up: in the notes, then in the batch and the store
//  (journal_batch_inbox_find, same contract), then, if the command
//  created the stream, in its first event (which loads the actor at
//  stream). Returns 0 with *reply (the caller frees it), SHOAL_ENOTFOUND
//  (an unknown actor type too), or an error: the record or the actor
//  could not be read, so the command may have run. While the notes in
//  memory are incomplete (their last load failed), a record not found may
//  be in a note: SHOAL_EIO then, not SHOAL_ENOTFOUND, so that nothing runs
//  or is cancelled on a miss.
int inbox_find (worker_t *self, const char *stream, const uint8_t id[ENVELOPE_ID_SIZE],
                uint8_t **reply, size_t *size, journal_request_t *request);

//  Stages the inbox record of command (its reply), in the batch's note if
//  local (sent by an actor of this node), else under its key; nothing if
//  the turn just run kept it in the stream's first event
//  (inbox_append_creating). Returns 0 or an error (the batch must then be
//  aborted).
int inbox_record (worker_t *self, const envelope_t *command, bool local, const uint8_t *reply,
                  size_t size, int64_t created, const journal_request_t *request);

//  The hash of a command's id that actor_t.creator holds: never 0. Can't
//  fail.
uint32_t inbox_creator_hash (const uint8_t id[ENVELOPE_ID_SIZE]);

//  Stages the events of an accepted turn of actor on command, the first
//  of its stream (actor->version 0, count 1 or more): the first event
//  holds the command's inbox record, with the reply the turn gives (the
//  accepted reply of self->ctx), stamped as turn_on_command stamps one.
//  Sets actor->creator and actor->version. Returns 0, or an error having
//  staged nothing (journal_batch_append_creator's).
int inbox_append_creating (worker_t *self, actor_t *actor, const envelope_t *command,
                           const journal_event_t *events, size_t count, int64_t now);

//  After a commit: the batch's noted records join the current generation,
//  and each receiving worker is told the commands forgotten.
void inbox_release (worker_t *self);
//  After an abort: forgets what the batch noted and forgot.
void inbox_drop_staged (worker_t *self);

//  A sender forgot command id, sent to worker dest (outbox_forget).
void inbox_forgotten (worker_t *self, int dest, const uint8_t id[ENVELOPE_ID_SIZE]);
//  A sender's word (WORKER_ROUTE_DONE): the ids in frame are done.
void inbox_on_done (worker_t *self, const uint8_t *frame, size_t size);

//  At a checkpoint (outbox_checkpoint, in the batch that drops the notes):
//  stores the records of the older generation (both, if all) whose
//  senders are not done, and frees them all. False if the batch broke.
bool inbox_checkpoint (worker_t *self, int older, bool all);

//  Empties the notes in memory and loads the records of this worker's
//  actors that the store's notes hold (at start and after an abort).
//  Returns 0 or the journal's error.
int inbox_load (worker_t *self);

#endif
