/*  deadletter.h - messages that crash the node are set aside (DESIGN.md,
    "Bad input and faults"; DESIGN-NOTES.md, "Poison messages").

    A turn that was running when the node died (turnfile.h) counts one
    crash against its message, in a dead-letter record of the journal
    (journal_dead.h), written at the next start before any worker runs.
    A message that runs through its turn again resets its count ("in a
    row"). At DEADLETTER_CRASHES crashes it is dead: not run again. Then:
    - a command from a client is answered `poisoned`; one from an actor is
      answered nothing, so the sender's outbox keeps re-sending it and
      shows it stalled;
    - a reply, a timer or a stall notice is not delivered (kept where it
      is: the pending outbox entry, the timer's record);
    - a get (all gets of one address, turnfile_key) is answered
      `poisoned`; retry and drop alike let the gets run again.
    An operator retries it (run once more: its count starts again; the
    envelope kept with the record, if any, is run at once) or drops it
    (a command is then answered `dropped`, a reply forgets its outbox
    entry when it comes again, a timer is deleted). A reply is dropped
    only with force: its saga never sees it, and is left with nothing
    pending that a resolve could end (refused `strands_saga` without).
    Each decision is written in the record with who, why and when, and
    the key and certificate the node let the operator in by (signer.h).

    Record: [1, kind, name, crashes, last_crash, state, who, decided_at,
    frame, why, operator_key, operator_cert] (9 items with no why and no
    key, 10 with a why and no key); state is one of "suspect", "dead", "retried", "dropped", "ran",
    "cancelled" (it went through answered from a resolve's $cancel record:
    it never ran).

    Threads: deadletter_crashed runs on the node's thread before the
    workers start; deadletter_list on the front's; the rest on a worker's
    thread, over that worker's table (records of its own shards).
*/
#ifndef DEADLETTER_H_INCLUDED
#define DEADLETTER_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>

#include "envelope.h"
#include "journal.h"
#include "turnfile.h"
#include "worker.h"

#define DEADLETTER_CRASHES 3 //  crashes in a row that make a message dead

typedef struct _worker_t worker_t;

//  A turnfile_crash_fn (arg: the journal_t): counts one crash of the
//  turn's message, durably, and logs it. Failures are logged.
void deadletter_crashed (void *arg, const turnfile_turn_t *turn);

//  The records of the shards of worker index (the ones not "ran"), as a
//  table for deadletter_stop. NULL with *rc set if the store cannot be
//  read or memory ran out.
zhashx_t *deadletter_table_new (journal_t *journal, const worker_config_t *config, int index,
                                int *rc);

//  Before a turn: true if envelope is dead or dropped and must not run;
//  then it was answered or set aside as the header says.
bool deadletter_stop (worker_t *self, const uint8_t *route, size_t route_size,
                      const envelope_t *envelope);

//  After a turn that ran through: a message that had crashed before has
//  its count reset (record "ran", or "cancelled" when the turn answered a
//  command from its $cancel's record). Cheap when the table is empty.
void deadletter_survived (worker_t *self, const envelope_t *envelope);

//  True for the queries deadletter_query answers ("dead_letter_retry",
//  "dead_letter_drop"; data {id: 32 hex digits, who, why, force, and the
//  front's operator_key and operator_cert}; to: the message's
//  receiver).
bool deadletter_is_query (const char *name);
void deadletter_query (worker_t *self, const uint8_t *route, size_t route_size,
                       const envelope_t *envelope);

//  The "dead_letters" query of the front (data {all: bool, id: 32 hex
//  digits}): a reply payload {dead_letters: [{address, kind, command, id,
//  crashes, last_crash, state, who, why, operator_key, operator_cert,
//  decided_at}], not_shown: count}, dead
//  ones only unless all, that message's only with id; the first 2,000 in
//  key order (fewer past 512 KiB), not_shown counting those past them. *payload is the
//  caller's to free(). Returns 0, SHOAL_ETYPE with why (why_size bytes)
//  when all is not a bool or id not an id, or an error.
int deadletter_list (journal_t *journal, const envelope_t *request, uint8_t **payload, size_t *size,
                     char *why, size_t why_size);

#endif
