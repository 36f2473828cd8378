/*  turn.h - one turn of an actor, and its reply: a command (dedupe,
    expiry, activate, decide and evolve, stage), a reply to a command the
    actor sent, a timer, or a stall notice (DESIGN.md, "the life of a
    command"; DESIGN-NOTES.md has the details).

    A turn decides on the actor's state and stages what it decided in the
    worker's batch; nothing leaves before the commit. A decision (accepted
    or rejected) is recorded in the inbox and replied; a failure that may
    pass is replied to a client only, so an actor's outbox re-sends. A turn
    that finds the actor's state in doubt drops the actor, or aborts the
    whole batch when the actor has events staged in it. Internal to the
    worker: runs on the worker thread, on its actors.
*/
#ifndef TURN_H_INCLUDED
#define TURN_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "outbox.h"

typedef struct _worker_t worker_t;

//  A command from a client (route, its ROUTER identity, borrowed) or from
//  an actor (route_size 0): runs it and stages the reply. via is the
//  WORKER_ROUTE_* of a command an actor of this node sent, else 0: its
//  first send cannot have been seen before, so its inbox is not looked up,
//  and its inbox record is noted (inbox.h).
void turn_on_command (worker_t *self, const uint8_t *route, size_t route_size,
                      const envelope_t *envelope, uint8_t via);

//  A reply to a command one of our actors sent: the turn that handles it
//  also deletes the outbox entry, so a duplicate reply finds none.
void turn_on_reply (worker_t *self, const envelope_t *envelope);

//  A reply is taken only from the actor its command was sent to
//  (outbox_pending_answered_by), whatever node it came from; a timer only
//  from its own actor (from == to), as stage.c makes them.

//  A timer that is due; frame (borrowed) is its encoded envelope, armed
//  again if the turn could not run.
//  One that is not its actor's own (another node's MSG) is refused
//  (turn_forged).
void turn_on_timer (worker_t *self, const envelope_t *envelope, const uint8_t *frame, size_t size);

//  Refuses envelope, which claims to be what (a reply, a timer) but is
//  not from only: counted in the stats' `forged`, logged at most once a
//  second, nothing of it run. A peer whose key was stolen speaks for the
//  actors it owns (front.c checks that), never for the one it forges.
void turn_forged (worker_t *self, const envelope_t *envelope, const char *what, const char *only);

//  Tells the sender of pending, unanswered for stall_ms, in a turn of its
//  own (kind SHOAL_STALLED: name = the command, data = {to, attempts,
//  since}). May abort the batch, which frees pending.
void turn_on_stalled (worker_t *self, pending_t *pending);

//  Stages the reply to request with payload (borrowed): to the client by
//  route, or to the actor that sent the request. A reply that cannot be
//  encoded becomes an error reply saying so.
void turn_reply (worker_t *self, const uint8_t *route, size_t route_size, const envelope_t *request,
                 const uint8_t *payload, size_t payload_size);

//  Says in text what failed and, for a store that is down (rc
//  SHOAL_EIO), why: "what: storage error (No space left on device)", so
//  that a client or an operator tells a full disk from a damaged store.
//  Returns text.
const char *turn_store_why (worker_t *self, int rc, const char *what, char *text, size_t size);
//  If the journal's cause (journal_last_error) is a full disk, writes
//  "WHAT: the node's disk is full (...)" and what to do into text (size
//  bytes), short enough for a reply's reason, and returns true.
bool turn_disk_full (const char *cause, const char *what, char *text, size_t size);

//  Stages a rejection that is not recorded in the inbox (the request never
//  reached a handler: unknown type, bad payload, storage trouble), and
//  counts it as rejected.
void turn_error (worker_t *self, const uint8_t *route, size_t route_size, const envelope_t *request,
                 const char *code, const char *reason);

#endif
