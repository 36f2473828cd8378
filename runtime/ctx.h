/*  ctx.h - one handler turn: the message as a handler sees it
    (shoal_msg_t) and what the handler staged (shoal_ctx_t).

    A worker owns one ctx and reuses it for every turn: ctx_begin, then
    ctx_run (handle, then apply the emitted events), then the worker reads
    the staged events, reply, sends and timers and commits them. Nothing in
    a ctx ever leaves the worker thread. Internal to the runtime.
*/
#ifndef CTX_H_INCLUDED
#define CTX_H_INCLUDED

#include "data.h"
#include "envelope.h"

#define CTX_MAX_EVENTS 32                                 //  events one turn may emit
#define CTX_MAX_SENDS 16                                  //  commands one turn may send
#define CTX_MAX_TIMERS 16                                 //  timers one turn may set
#define CTX_MAX_REC_BYTES (ENVELOPE_MAX_SIZE - 8192)      //  one rec's bytes at most
#define CTX_MAX_TIMER_MS (100LL * 365 * 24 * 3600 * 1000) //  a timer's delay at most

//  How a rec over CTX_MAX_REC_BYTES is said, after what it is (a printf
//  format for its size_t bytes and the int limit): the same words for an
//  event's fields, a view's and a snapshot's, in a node and the test kit.
#define CTX_TOO_BIG_TEXT "%zu bytes of fields, more than 1 MiB less 8 KiB (%d)"

struct _shoal_msg_t {
    const envelope_t *envelope;           //  borrowed for the turn
    char id[2 * ENVELOPE_ID_SIZE + 1];    //  the envelope's id in hex
    shoal_data_t data;                    //  payload, or a reply's data
    bool accepted;                        //  reply only
    char code[ENVELOPE_CODE_MAX + 1];     //  reply only
    char reason[ENVELOPE_REASON_MAX + 1]; //  reply only
    //  Last: msg_init zeroes what comes before, and copies these.
    char name[SHOAL_NAME_MAX + 1];    //  the envelope's, the handler's copy
    char from[SHOAL_ADDRESS_MAX + 1]; //  ... likewise
};

typedef struct {
    char name[SHOAL_NAME_MAX + 1];
    shoal_rec_t rec;
} ctx_event_t;

typedef struct {
    char to[SHOAL_ADDRESS_MAX + 1];
    char name[SHOAL_NAME_MAX + 1];
    shoal_rec_t rec;
} ctx_send_t;

typedef struct {
    int64_t ms;
    char name[SHOAL_NAME_MAX + 1];
    shoal_rec_t rec;
} ctx_timer_t;

#define CTX_MAX_CANCELS 16 //  timer names one turn may cancel

struct _shoal_ctx_t {
    char address[SHOAL_ADDRESS_MAX + 1]; //  the handler's copy of the actor's
    const char *lent;                    //  ... address, borrowed for the turn
    const char *id;                      //  part of address after '/'
    int64_t version;                     //  stream version before the turn
    int64_t now;                         //  ms since epoch, fixed for the turn
    ctx_event_t events[CTX_MAX_EVENTS];  //  emitted, in order
    size_t event_count;
    ctx_send_t sends[CTX_MAX_SENDS]; //  commands to send
    size_t send_count;
    ctx_timer_t timers[CTX_MAX_TIMERS]; //  timers to set
    size_t timer_count;
    char cancels[CTX_MAX_CANCELS][SHOAL_NAME_MAX + 1]; //  timer names to cancel
    size_t cancel_count;
    shoal_rec_t reply;                    //  accepted reply's fields
    bool rejected;                        //  shoal_ctx_reject was called
    bool failed;                          //  ...or the handler failed instead
    bool inbox_held;                      //  the command's inbox record is staged in
                                          //  its stream's first event (inbox.h)
    bool passivate;                       //  shoal_ctx_passivate was called
    char code[ENVELOPE_CODE_MAX + 1];     //  rejection code
    char reason[ENVELOPE_REASON_MAX + 1]; //  rejection reason
    int error;                            //  sticky misuse or ENOMEM
    const char *misuse;                   //  what the first misuse was (static text), or NULL
    char misuse_text[160];                //  ... or this, when it names what (a rec too big)
    uint8_t *before;                      //  the state before handle, to restore
    size_t before_size;                   //  bytes before holds
    const char *undone;                   //  what handle wrote and had undone, or NULL
};

//  Parses msg from an envelope (borrowed until msg_close). Returns 0 or
//  SHOAL_EFORMAT if its payload is not what its kind needs.
int msg_init (shoal_msg_t *msg, const envelope_t *envelope);
void msg_close (shoal_msg_t *msg);

void ctx_init (shoal_ctx_t *ctx);
void ctx_close (shoal_ctx_t *ctx);
//  Empties ctx for a turn of the actor at address (borrowed for the turn).
void ctx_begin (shoal_ctx_t *ctx, const char *address, int64_t version, int64_t now);

//  Result of ctx_run.
#define CTX_ACCEPTED 0
#define CTX_REJECTED 1 //  ctx->code/reason say why; nothing else kept
#define CTX_CORRUPT 2  //  apply failed half-way: the state must be dropped

//  Runs the handler, then applies the emitted events to state. A handler
//  error or misuse of ctx (a field map over CTX_MAX_REC_BYTES included)
//  becomes a rejection with code "handler_error" and ctx->failed set;
//  returns CTX_ACCEPTED, CTX_REJECTED or CTX_CORRUPT. The handler sees the
//  state const; one that casts that away and writes into it anyway has its
//  write undone (the state_size bytes are copied before and put back
//  after, a shallow copy: memory the state points to is not restored), so
//  that only apply changes the state. Its address, and the message's name
//  and sender, it sees as copies: a write into them changes nothing of
//  the actor's or the message's (it once wrote an event into another
//  actor's stream). Each such write is logged, and ctx->undone says what
//  it was (the test kit fails the turn for it).
int ctx_run (shoal_ctx_t *ctx, const shoal_type_t *type, void *state, const shoal_msg_t *msg);

//  Says into text (size bytes) which handler this thread runs now ("the
//  handler of TYPE on ADDRESS, in a turn of NAME"), for a module's exit()
//  (modules.c). Returns false, text untouched, outside a handler.
bool ctx_running (char *text, size_t size);

//  shoal_ctx_reject for the runtime itself, which may answer the codes a
//  handler may not (busy, unavailable: not run, ask again).
int ctx_reject_runtime (shoal_ctx_t *ctx, const char *code, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  Replays one stored event into state (activation). Returns 0 or
//  SHOAL_EFORMAT when the data does not parse or apply refuses it.
int ctx_apply (const shoal_type_t *type, void *state, const char *event, const uint8_t *data,
               size_t size);

#endif
