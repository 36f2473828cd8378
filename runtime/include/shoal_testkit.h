/*  shoal_testkit.h - a test kit for actor modules: one actor of one type,
    driven turn by turn as a node would drive it, with no node, journal or
    network, and a clock that only the test moves.

    A test gives the actor past events (shoal_testkit_given), sends it a
    command, a reply to a command it sent, a stall notice or a timer,
    runs the turn (shoal_testkit_run), and reads what the turn did: the
    events it emitted, its reply or rejection, the commands it sent, the
    timers it set and cancelled. shoal_testkit_advance moves the clock and
    fires the timers that fall due, in due order, so an hour-long timeout
    is tested at once. After every accepted turn the kit rebuilds the state
    from all the events on a fresh state and compares the views (and, for a
    type with snapshots, a snapshot restored): an apply that disagrees with
    what handle decided fails the turn. docs/MODULES.md section 8 has a
    complete example.

    A projection is tested the same way with a shoal_testkit_view_t (the
    second part of this header): events given one at a time, its rows in
    memory, and a check that a rebuild gives the same rows.

        cc -o test_x test_x.c x.c $(pkg-config --cflags --libs shoal-testkit)

    Conventions:
    1. Functions that can fail return 0 or a negative SHOAL_E... code, or
       NULL. The kit never aborts the test: the test checks what it gets.
    2. What a turn did is kept until the next turn runs (shoal_testkit_run,
       shoal_testkit_advance) or the kit is destroyed: the strings and
       datas these functions return are borrowed until then.
    3. One kit belongs to one thread. Kits are independent of each other.
    4. The kit is a static library linked into the test program, not part
       of a node: a module under test is compiled into the program, or its
       shoal_module_init is handed to shoal_testkit_new_module.
*/
#ifndef SHOAL_TESTKIT_H_INCLUDED
#define SHOAL_TESTKIT_H_INCLUDED

#include "shoal.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _shoal_testkit_t shoal_testkit_t;

//  The kit's clock when it is made (2023-11-14T22:13:20Z), in ms since the
//  epoch: every run of a test sees the same times.
#define SHOAL_TESTKIT_EPOCH 1700000000000LL

//  --------------------------------------------------------------------------
//  Making a kit

//  Returns a kit holding the actor at address (copied) of type (borrowed:
//  it must outlive the kit), its state zeroed and given to init, no
//  events, the clock at SHOAL_TESTKIT_EPOCH. NULL if address is not a
//  valid address of the type's name, the type lacks handle, apply or view,
//  or out of memory.
shoal_testkit_t *shoal_testkit_new (const shoal_type_t *type, const char *address);
//  The same for a module: runs its shoal_module_init with a registry of
//  the kit's own (shoal_registry_option is NULL for every key) and takes
//  the type that address names. NULL if init fails, a registration it
//  made is refused (even when init returns 0: a node refuses that module
//  too) or it registers no such type; the first two say why on stderr,
//  in the node's words.
shoal_testkit_t *shoal_testkit_new_module (shoal_module_init_fn *init, const char *address);
//  Calls fini on the state, frees the kit and sets *self_p to NULL. Safe to
//  call twice.
void shoal_testkit_destroy (shoal_testkit_t **self_p);

//  --------------------------------------------------------------------------
//  The past

//  Records a past event: its fields are written into the returned rec
//  (borrowed until the event is committed). Given events are applied, in
//  order, by shoal_testkit_commit or before the next turn, as a node
//  replays a stream when it loads an actor. NULL past 1024 uncommitted
//  events, for a bad name, or out of memory.
shoal_rec_t *shoal_testkit_given (shoal_testkit_t *self, const char *event);
//  Applies the given events. Returns 0, SHOAL_EINVAL if a rec was misused,
//  SHOAL_EFORMAT if apply refused one (shoal_testkit_why says which); the
//  events before it stay applied, the rest are dropped.
int shoal_testkit_commit (shoal_testkit_t *self);

//  --------------------------------------------------------------------------
//  The next message: each of these prepares one (replacing one prepared
//  and not run), and shoal_testkit_run delivers it.

//  A command named name from a client (or from shoal_testkit_from); its
//  fields are written into the returned rec. NULL for a bad name.
shoal_rec_t *shoal_testkit_command (shoal_testkit_t *self, const char *name);
//  A SHOAL_REPLY to the command named name that the actor sent: the oldest
//  unanswered one, which is marked answered (else the newest of that name,
//  as a late or repeated reply; else one never sent, from ""). Accepted:
//  code is ignored and the rec holds the replier's fields. Rejected: code
//  (NULL is "rejected") and shoal_testkit_reply_reason's reason; the rec's
//  fields are ignored. NULL for a bad name.
shoal_rec_t *shoal_testkit_reply (shoal_testkit_t *self, const char *name, bool accepted,
                                  const char *code);
//  The same, to the command the actor sent under msg_id
//  (shoal_testkit_sent_id): of two commands of one name, the later may be
//  answered first, as a node may. NULL for an id the actor never sent.
shoal_rec_t *shoal_testkit_reply_to (shoal_testkit_t *self, const char *msg_id, bool accepted,
                                     const char *code);
//  The reason of the rejected reply being prepared (copied); "rejected by
//  the receiver" when not set.
void shoal_testkit_reply_reason (shoal_testkit_t *self, const char *reason);
//  The runtime's notice that the command the actor sent with id msg_id
//  (shoal_testkit_sent_id) is unanswered: SHOAL_STALLED, named by the
//  command, data {to, attempts, since}. Returns 0 or SHOAL_ENOTFOUND.
int shoal_testkit_stall (shoal_testkit_t *self, const char *msg_id);
//  A SHOAL_TIMER named name, now: the pending timer of that name due first
//  (taken out of the pending ones; its fields, the rec ignored), else one
//  never set with the rec's fields (a late timer, or one already
//  cancelled). Timers that fall due are fired by shoal_testkit_advance.
shoal_rec_t *shoal_testkit_timer (shoal_testkit_t *self, const char *name);
//  The sender of the prepared command (copied): another actor's address,
//  or "" for a client (the default). Returns 0 or SHOAL_EADDRESS.
int shoal_testkit_from (shoal_testkit_t *self, const char *from);

//  Runs one turn with the prepared message, after committing the given
//  events. Returns
//  - 0: accepted, and the state rebuilt from all events has the same view;
//  - SHOAL_EREJECTED: the handler rejected it (shoal_testkit_code); nothing
//    of the turn is kept and the state is as before;
//  - SHOAL_EMODULE: the handler failed or misused ctx (code
//    "handler_error"), or wrote into what it may only read (its state, its
//    address, its message's name or sender: a node undoes such a write
//    and logs it); nothing kept;
//  - SHOAL_EFORMAT: apply refused an event of the turn (the state is
//    rebuilt from the events before it), or the rebuilt state's view, or
//    a restored snapshot's, differs from the live one; shoal_testkit_why
//    says what;
//  - SHOAL_EINVAL: no message prepared, or its rec misused; or
//    shoal_testkit_commit's error.
int shoal_testkit_run (shoal_testkit_t *self);

//  --------------------------------------------------------------------------
//  Time

//  The kit's clock: shoal_ctx_now of every turn, in ms since the epoch.
int64_t shoal_testkit_now (const shoal_testkit_t *self);
//  Moves the clock ms (>= 0) forward, firing on the way each pending timer
//  that falls due, in due order (then in the order they were set), each in
//  a turn of its own at its due time; timers those turns set fire too if
//  they fall due in time. Returns the number of timers fired, or stops at
//  the first turn that does not return 0 and returns that (what that turn
//  did is the kit's last turn). SHOAL_EINVAL for a negative ms.
int shoal_testkit_advance (shoal_testkit_t *self, int64_t ms);
//  The number of timers set and not yet fired nor cancelled.
size_t shoal_testkit_pending (const shoal_testkit_t *self);

//  --------------------------------------------------------------------------
//  What the last turn did. Out of range i gives NULL, or -1 for a time.

//  Whether it was accepted; its rejection code ("" when accepted) and the
//  reason, or what the kit found wrong.
bool shoal_testkit_accepted (const shoal_testkit_t *self);
const char *shoal_testkit_code (const shoal_testkit_t *self);
const char *shoal_testkit_why (const shoal_testkit_t *self);
//  The fields of its reply (an empty map when it wrote none or rejected).
const shoal_data_t *shoal_testkit_replied (shoal_testkit_t *self);

//  The events it emitted: how many, the name of event i, its fields.
size_t shoal_testkit_events (const shoal_testkit_t *self);
const char *shoal_testkit_event (const shoal_testkit_t *self, size_t i);
const shoal_data_t *shoal_testkit_event_fields (shoal_testkit_t *self, size_t i);

//  The commands it sent: how many, and of command i its receiver, name,
//  fields and message id (32 hex digits, for shoal_testkit_stall).
size_t shoal_testkit_sent (const shoal_testkit_t *self);
const char *shoal_testkit_sent_to (const shoal_testkit_t *self, size_t i);
const char *shoal_testkit_sent_name (const shoal_testkit_t *self, size_t i);
const shoal_data_t *shoal_testkit_sent_fields (shoal_testkit_t *self, size_t i);
const char *shoal_testkit_sent_id (const shoal_testkit_t *self, size_t i);

//  The timers it set: how many, and of timer i its name, when it is due
//  (ms since the epoch) and its fields.
size_t shoal_testkit_timers (const shoal_testkit_t *self);
const char *shoal_testkit_timer_name (const shoal_testkit_t *self, size_t i);
int64_t shoal_testkit_timer_due (const shoal_testkit_t *self, size_t i);
const shoal_data_t *shoal_testkit_timer_fields (shoal_testkit_t *self, size_t i);

//  The timer names it cancelled (shoal_ctx_cancel): how many, name i.
size_t shoal_testkit_cancels (const shoal_testkit_t *self);
const char *shoal_testkit_cancel_name (const shoal_testkit_t *self, size_t i);

//  True if it asked to leave memory once committed (shoal_ctx_passivate);
//  false for a turn rejected or failed, which keeps nothing of it.
bool shoal_testkit_passivated (const shoal_testkit_t *self);

//  --------------------------------------------------------------------------
//  The actor

//  The view of the state now (what `shoal get` would show), borrowed until
//  the next call of this function or the next turn. NULL if view misused
//  its rec.
const shoal_data_t *shoal_testkit_view (shoal_testkit_t *self);
//  The state itself, type->state_size bytes, read-only.
const void *shoal_testkit_state (const shoal_testkit_t *self);
//  The number of events kept so far (given and emitted): the stream's
//  version, shoal_ctx_version of the next turn.
int64_t shoal_testkit_version (const shoal_testkit_t *self);
//  Event i of all events kept, from 0: its name and fields.
const char *shoal_testkit_history (const shoal_testkit_t *self, size_t i);
const shoal_data_t *shoal_testkit_history_fields (shoal_testkit_t *self, size_t i);
//  Rebuilds the state from all events on a fresh one, as a node does when
//  it loads the actor, and compares its view with the live state's (and,
//  with snapshots, a snapshot restored). run does this after each
//  accepted turn. Returns 0, or SHOAL_EFORMAT (shoal_testkit_why says
//  what differs).
int shoal_testkit_replay (shoal_testkit_t *self);

//  ==========================================================================
//  Projections (shoal.h, "Projections"): a kit of one projection, fed
//  events one at a time as a node's projection thread feeds it, its rows
//  kept in memory in key order (bytewise, as a node's are). Not to be
//  confused with shoal_testkit_view above, an actor's view: this part is
//  shoal_testkit_view_* on a shoal_testkit_view_t. Conventions 1, 3 and 4
//  hold; what its readers return (rows, keys, commands sent) is borrowed
//  until the next shoal_testkit_view_apply or the kit is destroyed.

typedef struct _shoal_testkit_view_t shoal_testkit_view_t;

//  Returns a kit of projection, copied as shoal_register_projection copies
//  it (its name, events and apply stay borrowed: they must outlive the
//  kit), with no rows, no events, the clock at SHOAL_TESTKIT_EPOCH. NULL if
//  a node would refuse to register it (a bad name, version or events
//  list, no apply) or out of memory.
shoal_testkit_view_t *shoal_testkit_view_new (const shoal_projection_t *projection);
//  The same for a module: runs its shoal_module_init with a registry of
//  the kit's own and takes the projection registered as name: "name" for
//  its highest version, "name@version" for one. NULL if init fails, a
//  registration it made is refused, or it registers no such projection,
//  as shoal_testkit_new_module.
shoal_testkit_view_t *shoal_testkit_view_new_module (shoal_module_init_fn *init, const char *name);
//  Frees the kit and sets *self_p to NULL. Safe to call twice.
void shoal_testkit_view_destroy (shoal_testkit_view_t **self_p);

//  Prepares the next event of the node's log: named name, of the actor at
//  address; its fields are written into the returned rec (borrowed until
//  the event is applied). Replaces an event prepared and not applied. NULL
//  for a bad address or name.
shoal_rec_t *shoal_testkit_view_event (shoal_testkit_view_t *self, const char *address,
                                       const char *name);
//  Gives the prepared event to the log, at the next position (from 0, for
//  every event given, wanted or not), with seq the count of the events of
//  its address given so far, this one included (from 1), created the
//  kit's clock; and applies it if the projection's events list wants it
//  (as a node does: "type:Event", "type", "*" or NULL). Returns
//  - 0: applied, or not wanted (shoal_testkit_view_wanted says which);
//  - apply's error (SHOAL_EREJECTED from shoal_view_fail), SHOAL_EINVAL or
//    SHOAL_ETOOBIG for a misuse of shoal_view_* (a bad key, address or
//    command, more than 16 sends), SHOAL_ENOMEM: nothing of the event is
//    kept, neither rows nor commands, and shoal_testkit_view_why says
//    why. The event keeps its position, and rebuilds leave it out, as
//    after an operator's `shoal projections skip`;
//  - SHOAL_EINVAL: no event prepared, or its rec misused; SHOAL_ENOMEM:
//    nothing given.
int shoal_testkit_view_apply (shoal_testkit_view_t *self);
//  Whether the projection wanted the last event given.
bool shoal_testkit_view_wanted (const shoal_testkit_view_t *self);
//  Why the last apply or check failed: shoal_view_fail's reason, the
//  misuse, what differs. "" after an apply that succeeded.
const char *shoal_testkit_view_why (const shoal_testkit_view_t *self);
//  The number of events given so far: the next event's position.
uint64_t shoal_testkit_view_given (const shoal_testkit_view_t *self);

//  The kit's clock, the created time of the next event (ms since the
//  epoch), and moving it ms (>= 0) forward. advance returns 0, or
//  SHOAL_EINVAL for a negative ms.
int64_t shoal_testkit_view_now (const shoal_testkit_view_t *self);
int shoal_testkit_view_advance (shoal_testkit_view_t *self, int64_t ms);

//  The row under key, NULL if there is none; the number of rows; the key
//  of row i in key order (NULL past the end).
const shoal_data_t *shoal_testkit_view_row (shoal_testkit_view_t *self, const char *key);
size_t shoal_testkit_view_rows (const shoal_testkit_view_t *self);
const char *shoal_testkit_view_key (const shoal_testkit_view_t *self, size_t i);

//  The commands the last apply sent (shoal_view_send), in order: how many,
//  and of command i its receiver, name and fields. None after an apply
//  that failed.
size_t shoal_testkit_view_sent (const shoal_testkit_view_t *self);
const char *shoal_testkit_view_sent_to (const shoal_testkit_view_t *self, size_t i);
const char *shoal_testkit_view_sent_name (const shoal_testkit_view_t *self, size_t i);
const shoal_data_t *shoal_testkit_view_sent_fields (shoal_testkit_view_t *self, size_t i);

//  Applies every event applied so far again, in order, to empty rows, as
//  a node does when it rebuilds the projection (`shoal projections
//  rebuild`, a new version), and compares the rows with the live ones
//  byte for byte. Returns 0, or SHOAL_EFORMAT (shoal_testkit_view_why
//  says which row differs, or which event the rebuild's apply refused):
//  apply depends on something besides the events and the rows (the wall
//  clock, global state), or, with a batch state, on how the events fall
//  into batches (the rebuild is one batch, the live rows took one an
//  event). SHOAL_ENOMEM out of memory. The live rows and the
//  last apply's commands are left as they were; the rebuild sends nothing.
int shoal_testkit_view_check_rebuild (shoal_testkit_view_t *self);

#ifdef __cplusplus
}
#endif

#endif
