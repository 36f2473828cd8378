/*  repair.h - watching and repairing stuck work from the command line:
    the `pending` query (what an actor, or a whole worker, waits for), and
    the control commands an operator sends (`$resend`, `$resolve`) and the
    one a worker sends for them (`$cancel`). DESIGN-NOTES.md, "Repairing stuck work",
    has the whole story; in short:

    - `pending` (a query): to an address, that actor's pending commands and
      its timers; to `node/...` (the front sends it to every worker with a
      gather route, front.h), every pending command of the worker. Args
      {stalled: bool, limit: int}; at most REPAIR_ROWS_MAX rows, the rest
      counted in "truncated".
    - `$resend` (a client's command to an actor): its pending commands are
      due now. Changes nothing durable.
    - `$resolve` (a client's command to a saga) {id, code, reason,
      operator, force}: ends one pending command of the actor. Stages, in
      the actor's stream, the event `$Resolved` (who, when, why: '$' events
      are the runtime's, skipped by replay, so the type's apply never sees
      them) and, unless force, a `$cancel` command to the target in the
      actor's outbox, re-sent until answered like any command; the command
      itself is no longer re-sent. With force, the actor gets the
      rejection {code, reason} as the reply to its command at once.
    - `$cancel` {id, code, reason} (from an actor only): the target's
      worker answers with the stored reply if its inbox holds id (the
      command ran), else records {code, reason} as id's reply in the inbox
      (so a copy still in flight is answered that, never run) and answers
      it. Either way the answer is the command's one true reply.
    - the reply to a `$cancel` is handed to the actor as the reply to the
      command it cancels (a SHOAL_REPLY named after it), which ends that
      command's entry; then the `$cancel`'s own entry is deleted.

    Internal to the worker: runs on the worker thread.
*/
#ifndef REPAIR_H_INCLUDED
#define REPAIR_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "outbox.h"

#define REPAIR_ROWS_MAX 1000           //  rows of one pending answer at most
#define REPAIR_RESOLVED "$Resolved"    //  the operator's record in a stream
#define REPAIR_FORCED_RAN "$ForcedRan" //  its target ran a command resolved with --force
#define REPAIR_CANCEL "$cancel"        //  the command that cancels another
#define REPAIR_FORCE_SILENT_MS 30000 //  how long --force waits for a node to be silent, by default
#define REPAIR_FORCE_SILENT_MAX_MS 86400000

typedef struct _worker_t worker_t;
typedef struct _shoal_rec_t shoal_rec_t;

//  If envelope is a $cancel command, writes the id of the command it
//  cancels into id and returns 0; else SHOAL_EINVAL.
int repair_cancel_of (const envelope_t *envelope, uint8_t id[ENVELOPE_ID_SIZE]);

//  Answers the pending query into out (see above). Returns 0,
//  SHOAL_ETYPE with why (why_size bytes) when a field is of another type
//  (queryargs.h), or SHOAL_ENOMEM.
int repair_pending (worker_t *self, const envelope_t *envelope, shoal_rec_t *out, char *why,
                    size_t why_size);

//  A command whose name starts with '$': $resend, $resolve (from a client,
//  route borrowed), $cancel (from an actor, route_size 0). Stages its
//  reply; an unknown one is refused as unknown_command.
void repair_on_command (worker_t *self, const uint8_t *route, size_t route_size,
                        const envelope_t *envelope);

//  The reply to a $cancel one of our actors sent.
void repair_on_cancel_reply (worker_t *self, const envelope_t *envelope);

//  Writes id as 32 lowercase hex digits and a NUL into hex.
void repair_hex (const uint8_t id[ENVELOPE_ID_SIZE], char hex[2 * ENVELOPE_ID_SIZE + 1]);
//  Parses 32 hex digits into id. Returns 0 or SHOAL_EINVAL.
int repair_unhex (const char *hex, uint8_t id[ENVELOPE_ID_SIZE]);

//  Between repair.c and repair_cancel.c:

//  What pending and explain say of an untellable command (at most 127 bytes).
#define REPAIR_UNTELLABLE_ERROR                                                                    \
    "its target cannot tell if it ran it (older than its inbox retention): see its events, then "  \
    "resolve --accept or --force"

#define REPAIR_CANCEL_REASON                                                                       \
    "cancelled by an operator: " //  a $cancel's reason, then the operator's

//  True if reply, to a command or its $cancel, says its target cannot
//  tell whether it ran the command: expired, older than its inbox
//  retention, its record maybe pruned (repair_cancel.c). Not handed to
//  the sender, which would take it for a command not run: the command
//  stays pending, marked untellable, for an operator's resolve --accept
//  or --force.
bool repair_reply_untellable (const envelope_t *reply);

//  True if payload (a reply's, as an inbox stores it) is a $cancel's
//  rejection: the command it answers never ran (its reason starts
//  REPAIR_CANCEL_REASON).
bool repair_reply_cancelled (const uint8_t *payload, size_t size);

//  Marks command untellable (its target said it cannot tell whether it
//  ran it): logged once, its error saying so (repair_cancel.c).
void repair_mark_untellable (worker_t *self, pending_t *command, const char *target);

//  A $cancel's turn at its target (repair_cancel.c).
void repair_cancel (worker_t *self, const uint8_t *route, size_t route_size,
                    const envelope_t *request);

//  The actor's turn on a reply {ok, code, reason} to its command pending,
//  as if the target had sent it (repair.c). Returns true if the command's
//  entry is gone.
bool repair_hand_reply (worker_t *self, const pending_t *pending, const envelope_t *command,
                        const uint8_t *payload, size_t size);

#endif
