/*  ctx.c - the handler's context and message accessors (shoal_ctx_*,
    shoal_msg_*), and the turn itself: decide, then evolve. See ctx.h.
    Owned by one worker thread.
*/
#include "ctx.h"
#include "log.h"
#include "utf8.h"
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const shoal_data_t s_empty_data; //  map NULL: every key absent

//  Writes the id's bytes in lowercase hex and a NUL into hex, which holds
//  2 * ENVELOPE_ID_SIZE + 1 bytes. A table, not snprintf: this runs for
//  every message a worker takes.
static void s_id_hex (const uint8_t id[ENVELOPE_ID_SIZE], char *hex)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < ENVELOPE_ID_SIZE; i++) {
        hex[2 * i] = digits[id[i] >> 4];
        hex[2 * i + 1] = digits[id[i] & 0x0f];
    }
    hex[2 * ENVELOPE_ID_SIZE] = '\0';
}

//  Copies the string src into dst (size bytes), cut to fit: a memcpy,
//  not a printf, as it runs three times a turn.
static void s_copy (char *dst, size_t size, const char *src)
{
    size_t len = strnlen (src, size - 1);
    memcpy (dst, src, len);
    dst[len] = 0;
}

int msg_init (shoal_msg_t *msg, const envelope_t *envelope)
{
    memset (msg, 0, offsetof (shoal_msg_t, name));
    msg->envelope = envelope;
    s_copy (msg->name, sizeof msg->name, envelope->name);
    s_copy (msg->from, sizeof msg->from, envelope->from);
    s_id_hex (envelope->id, msg->id);
    const uint8_t *data = envelope->payload;
    size_t size = envelope->payload_size;
    if (envelope->kind == ENVELOPE_REPLY &&
        envelope_reply_decode (envelope->payload, envelope->payload_size, &msg->accepted, msg->code,
                               msg->reason, &data, &size)) {
        data_init (&msg->data, NULL, 0);
        return SHOAL_EFORMAT;
    }
    return data_init (&msg->data, data, size);
}

void msg_close (shoal_msg_t *msg)
{
    data_close (&msg->data);
}

shoal_kind_t shoal_msg_kind (const shoal_msg_t *msg)
{
    switch (msg->envelope->kind) {
    case ENVELOPE_REPLY:
        return SHOAL_REPLY;
    case ENVELOPE_TIMER:
        return SHOAL_TIMER;
    case ENVELOPE_STALLED:
        return SHOAL_STALLED;
    default:
        return SHOAL_COMMAND;
    }
}

const char *shoal_msg_name (const shoal_msg_t *msg)
{
    return msg->name;
}

const char *shoal_msg_id (const shoal_msg_t *msg)
{
    return msg->id;
}

int64_t shoal_msg_created (const shoal_msg_t *msg)
{
    return msg->envelope->created;
}

const char *shoal_msg_from (const shoal_msg_t *msg)
{
    return msg->from;
}

const shoal_data_t *shoal_msg_data (const shoal_msg_t *msg)
{
    return msg->data.map ? &msg->data : &s_empty_data;
}

bool shoal_msg_accepted (const shoal_msg_t *msg)
{
    return msg->envelope->kind == ENVELOPE_REPLY && msg->accepted;
}

const char *shoal_msg_code (const shoal_msg_t *msg)
{
    return msg->code;
}

const char *shoal_msg_reason (const shoal_msg_t *msg)
{
    return msg->reason;
}

//  --------------------------------------------------------------------------

void ctx_init (shoal_ctx_t *ctx)
{
    memset (ctx, 0, sizeof (*ctx));
    for (size_t i = 0; i < CTX_MAX_EVENTS; i++)
        rec_init (&ctx->events[i].rec);
    for (size_t i = 0; i < CTX_MAX_SENDS; i++)
        rec_init (&ctx->sends[i].rec);
    for (size_t i = 0; i < CTX_MAX_TIMERS; i++)
        rec_init (&ctx->timers[i].rec);
    rec_init (&ctx->reply);
}

void ctx_close (shoal_ctx_t *ctx)
{
    for (size_t i = 0; i < CTX_MAX_EVENTS; i++)
        rec_close (&ctx->events[i].rec);
    for (size_t i = 0; i < CTX_MAX_SENDS; i++)
        rec_close (&ctx->sends[i].rec);
    for (size_t i = 0; i < CTX_MAX_TIMERS; i++)
        rec_close (&ctx->timers[i].rec);
    rec_close (&ctx->reply);
    free (ctx->before);
    ctx->before = NULL;
    ctx->before_size = 0;
}

void ctx_begin (shoal_ctx_t *ctx, const char *address, int64_t version, int64_t now)
{
    s_copy (ctx->address, sizeof ctx->address, address);
    ctx->lent = address;
    const char *slash = strchr (ctx->address, '/');
    ctx->id = slash ? slash + 1 : ctx->address;
    ctx->undone = NULL;
    ctx->version = version;
    ctx->now = now;
    ctx->event_count = 0;
    ctx->send_count = 0;
    ctx->timer_count = 0;
    ctx->cancel_count = 0;
    rec_reset (&ctx->reply);
    ctx->rejected = false;
    ctx->failed = false;
    ctx->inbox_held = false;
    ctx->passivate = false;
    ctx->code[0] = 0;
    ctx->reason[0] = 0;
    ctx->error = 0;
    ctx->misuse = NULL;
}

const char *shoal_ctx_address (const shoal_ctx_t *ctx)
{
    return ctx->address;
}

const char *shoal_ctx_id (const shoal_ctx_t *ctx)
{
    return ctx->id;
}

int64_t shoal_ctx_version (const shoal_ctx_t *ctx)
{
    return ctx->version;
}

int64_t shoal_ctx_now (const shoal_ctx_t *ctx)
{
    return ctx->now;
}

//  Copies a name, checking it as the envelope does. Returns false (and
//  marks the ctx) if it is empty, too long or not printable ASCII, or
//  starts with '$': those names are the runtime's (an operator's record,
//  a $cancel; see repair.h), never a handler's.
#define s_str(x) s_str_of (x)
#define s_str_of(x) #x

//  Records a misuse of ctx: error, and what it was for the handler_error's
//  reason. The first one stays. Returns error.
static int s_misuse (shoal_ctx_t *ctx, int error, const char *what)
{
    if (!ctx->error) {
        ctx->error = error;
        ctx->misuse = what;
    }
    return error;
}

static bool s_name_copy (shoal_ctx_t *ctx, char *dest, const char *name)
{
    size_t len = name ? strlen (name) : 0;
    if (shoal_name_check (name, len) != 0 || name[0] == '$') {
        s_misuse (ctx, SHOAL_EINVAL,
                  "an event, command or timer name that is not a name (1 to " s_str (
                      SHOAL_NAME_MAX) " printable ASCII bytes, no space, not starting with $)");
        return false;
    }
    memcpy (dest, name, len + 1);
    return true;
}

shoal_rec_t *shoal_ctx_emit (shoal_ctx_t *ctx, const char *event)
{
    if (ctx->event_count == CTX_MAX_EVENTS) {
        s_misuse (ctx, SHOAL_ETOOBIG,
                  "more than " s_str (CTX_MAX_EVENTS) " events emitted in one turn");
        return NULL;
    }
    ctx_event_t *slot = &ctx->events[ctx->event_count];
    if (!s_name_copy (ctx, slot->name, event))
        return NULL;
    rec_reset (&slot->rec);
    ctx->event_count++;
    return &slot->rec;
}

shoal_rec_t *shoal_ctx_reply (shoal_ctx_t *ctx)
{
    return &ctx->reply;
}

//  A code that is not a name (say "a b\n\xff", or one of 64 bytes) is a
//  misuse, as a bad event name is: cut or patched it would be another
//  code, which the module never chose and its clients would misread. The
//  reason is cut between characters and made UTF-8 (utf8_scrub): it is a
//  sentence for a person, and the wire's strings are UTF-8.
//  shoal_ctx_reject, and the runtime's own: ctx_reject_runtime may answer
//  a code a handler may not (unavailable: the turn could not be staged).
static int s_reject (shoal_ctx_t *ctx, bool runtime, const char *code, const char *format,
                     va_list args)
{
    ctx->rejected = true;
    if (!code || !*code)
        code = "rejected";
    size_t code_len = strlen (code);
    //  busy and unavailable say "not run, ask again": a client that does
    //  would get a handler's stored rejection again, for ever.
    bool transient = !runtime && (strcmp (code, "busy") == 0 || strcmp (code, "unavailable") == 0);
    //  expired says the runtime cannot tell whether a command ran (older
    //  than the inbox retention): a sender keeps it for an operator.
    bool expired = !runtime && strcmp (code, "expired") == 0;
    //  The runtime's other answers, read as the runtime's by clients and
    //  tools (handler_error and conflict: "not settled, ask again";
    //  poisoned: "see the dead letters"), but for the two a handler means
    //  as they are: a request it cannot take again, or cannot read.
    bool reserved = !runtime && !transient && !expired && envelope_code_reserved (code) &&
                    strcmp (code, "id_reused") != 0 && strcmp (code, "invalid_payload") != 0;
    if (shoal_name_check (code, code_len) == 0 && !transient && !expired && !reserved)
        memcpy (ctx->code, code, code_len + 1);
    else if (transient)
        s_misuse (ctx, SHOAL_EINVAL,
                  "a rejection code the runtime keeps for work it did not run (busy, "
                  "unavailable): a client would ask again for ever");
    else if (expired)
        s_misuse (ctx, SHOAL_EINVAL,
                  "a rejection code the runtime keeps for a command older than the inbox "
                  "retention (expired): a sender would keep it pending for an operator");
    else if (reserved)
        s_misuse (ctx, SHOAL_EINVAL,
                  "a rejection code the runtime keeps for its own answers (bad_frame, "
                  "handler_error, conflict, poisoned, ...: docs/PROTOCOL.md): its clients and "
                  "tools would read it as the runtime's");
    else
        s_misuse (ctx, SHOAL_EINVAL,
                  "a rejection code that is not a code (1 to " s_str (
                      ENVELOPE_CODE_MAX) " printable ASCII bytes, no space)");
    if (vsnprintf (ctx->reason, sizeof ctx->reason, format ? format : "", args) < 0)
        ctx->reason[0] = 0;
    utf8_scrub (ctx->reason, strlen (ctx->reason));
    return SHOAL_EREJECTED;
}

int shoal_ctx_reject (shoal_ctx_t *ctx, const char *code, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    int rc = s_reject (ctx, false, code, format, args);
    va_end (args);
    return rc;
}

int ctx_reject_runtime (shoal_ctx_t *ctx, const char *code, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    int rc = s_reject (ctx, true, code, format, args);
    va_end (args);
    return rc;
}

shoal_rec_t *shoal_ctx_send (shoal_ctx_t *ctx, const char *to, const char *command)
{
    if (ctx->send_count == CTX_MAX_SENDS) {
        s_misuse (ctx, SHOAL_ETOOBIG,
                  "more than " s_str (CTX_MAX_SENDS) " commands sent in one turn");
        return NULL;
    }
    if (!to || shoal_address_check (to, strlen (to))) {
        s_misuse (ctx, SHOAL_EADDRESS, "a command sent to something that is not an address");
        return NULL;
    }
    ctx_send_t *slot = &ctx->sends[ctx->send_count];
    if (!s_name_copy (ctx, slot->name, command))
        return NULL;
    memcpy (slot->to, to, strlen (to) + 1);
    rec_reset (&slot->rec);
    ctx->send_count++;
    return &slot->rec;
}

shoal_rec_t *shoal_ctx_after (shoal_ctx_t *ctx, int64_t ms, const char *name)
{
    if (ctx->timer_count == CTX_MAX_TIMERS || ms < 0 || ms > CTX_MAX_TIMER_MS) {
        if (ctx->timer_count == CTX_MAX_TIMERS)
            s_misuse (ctx, SHOAL_ETOOBIG,
                      "more than " s_str (CTX_MAX_TIMERS) " timers set in one turn");
        else
            s_misuse (ctx, SHOAL_EINVAL, "a timer's delay below 0 or over 100 years");
        return NULL;
    }
    ctx_timer_t *slot = &ctx->timers[ctx->timer_count];
    if (!s_name_copy (ctx, slot->name, name))
        return NULL;
    slot->ms = ms;
    rec_reset (&slot->rec);
    ctx->timer_count++;
    return &slot->rec;
}

int shoal_ctx_cancel (shoal_ctx_t *ctx, const char *name)
{
    if (ctx->cancel_count == CTX_MAX_CANCELS)
        return s_misuse (ctx, SHOAL_ETOOBIG,
                         "more than " s_str (CTX_MAX_CANCELS) " timers cancelled in one turn");
    if (!s_name_copy (ctx, ctx->cancels[ctx->cancel_count], name))
        return SHOAL_EINVAL;
    ctx->cancel_count++;
    return 0;
}

void shoal_ctx_passivate (shoal_ctx_t *ctx)
{
    if (ctx)
        ctx->passivate = true;
}

void shoal_log (const shoal_ctx_t *ctx, shoal_log_level_t level, const char *format, ...)
{
    //  A level that is none of the four (a module's mistake) is written at
    //  WARN, saying so, rather than dropped.
    bool unknown = (int) level < (int) SHOAL_LOG_DEBUG || (int) level > (int) SHOAL_LOG_ERROR;
    if (!log_enabled (unknown ? SHOAL_LOG_WARN : level))
        return;
    char text[LOG_LINE_MAX];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format ? format : "", args);
    va_end (args);
    char prefix[48] = "";
    if (unknown)
        snprintf (prefix, sizeof prefix, "(shoal_log at level %d, not a level) ", (int) level);
    if (ctx)
        log_write (unknown ? SHOAL_LOG_WARN : level, "%s: %s%s", ctx->address, prefix, text);
    else
        log_write (unknown ? SHOAL_LOG_WARN : level, "%s%s", prefix, text);
}

//  Checks that every rec the handler wrote encoded. Returns 0 or the first
//  error. what and name say which rec ("the event", "Deposited"; "the
//  reply", ""), for a rec too big.
static int s_rec_error (shoal_ctx_t *ctx, const shoal_rec_t *rec, const char *what,
                        const char *name)
{
    if (rec->error)
        return s_misuse (ctx, rec->error, rec_misuse (rec));
    if (rec->buffer.size <= CTX_MAX_REC_BYTES)
        return 0;
    if (ctx->error)
        return ctx->error; //  the first misuse is the one said
    snprintf (ctx->misuse_text, sizeof ctx->misuse_text, "%s%s%s: " CTX_TOO_BIG_TEXT, what,
              name[0] ? " " : "", name, rec->buffer.size, CTX_MAX_REC_BYTES);
    return s_misuse (ctx, SHOAL_ETOOBIG, ctx->misuse_text);
}

static int s_recs_error (shoal_ctx_t *ctx)
{
    int rc = s_rec_error (ctx, &ctx->reply, "the reply", "");
    for (size_t i = 0; rc == 0 && i < ctx->event_count; i++)
        rc = s_rec_error (ctx, &ctx->events[i].rec, "the event", ctx->events[i].name);
    for (size_t i = 0; rc == 0 && i < ctx->send_count; i++)
        rc = s_rec_error (ctx, &ctx->sends[i].rec, "the command", ctx->sends[i].name);
    for (size_t i = 0; rc == 0 && i < ctx->timer_count; i++)
        rc = s_rec_error (ctx, &ctx->timers[i].rec, "the timer", ctx->timers[i].name);
    return rc;
}

static void s_drop_staged (shoal_ctx_t *ctx)
{
    ctx->event_count = 0;
    ctx->send_count = 0;
    ctx->timer_count = 0;
    ctx->cancel_count = 0;
    rec_reset (&ctx->reply);
}

//  Keeps a copy of the state_size bytes of state in ctx->before. Returns 0
//  or SHOAL_ENOMEM.
static int s_keep_state (shoal_ctx_t *ctx, const void *state, size_t size)
{
    if (size > ctx->before_size) {
        uint8_t *grown = realloc (ctx->before, size);
        if (!grown)
            return SHOAL_ENOMEM;
        ctx->before = grown;
        ctx->before_size = size;
    }
    if (size)
        memcpy (ctx->before, state, size);
    return 0;
}

//  Says that handle wrote into what (kind: 0 its state, 1 its address, 2
//  its message), at most once a second per worker and kind.
static void s_undone (shoal_ctx_t *ctx, const shoal_type_t *type, int kind, const char *what)
{
    static _Thread_local int64_t logged_at[3];
    ctx->undone = what;
    int64_t now = ctx->now;
    if (logged_at[kind] && now - logged_at[kind] >= 0 && now - logged_at[kind] < 1000)
        return;
    logged_at[kind] = now;
    log_warn ("%s: the %s handler wrote into %s: the write was undone", ctx->address, type->name,
              what);
}

//  Puts back what handle saw read-only, if it wrote into it (through a
//  cast): the state, its address (and id), the message's name and sender.
//  Each write is undone (the message's copies are the handler's only, and
//  the runtime reads the envelope's), kept in ctx->undone, and logged.
static void s_restore_lent (shoal_ctx_t *ctx, const shoal_type_t *type, void *state,
                            const shoal_msg_t *msg)
{
    if (strcmp (ctx->address, ctx->lent) != 0) {
        s_copy (ctx->address, sizeof ctx->address, ctx->lent);
        s_undone (ctx, type, 1,
                  "its address (shoal_ctx_address, shoal_ctx_id), which is read-only");
    }
    if (type->state_size && memcmp (ctx->before, state, type->state_size) != 0) {
        memcpy (state, ctx->before, type->state_size);
        s_undone (ctx, type, 0, "its state, which only apply may change");
    }
    if (strcmp (msg->name, msg->envelope->name) != 0 ||
        strcmp (msg->from, msg->envelope->from) != 0)
        s_undone (ctx, type, 2, "its message's name or sender, which are read-only");
}

//  The turn whose handler runs in this thread (ctx_running), NULL outside
//  a handler: a thread's own, as handlers run one at a time in a thread.
static _Thread_local const shoal_ctx_t *s_running;
static _Thread_local const shoal_type_t *s_running_type;
static _Thread_local const shoal_msg_t *s_running_msg;

bool ctx_running (char *text, size_t size)
{
    if (!s_running)
        return false;
    snprintf (text, size, "the handler of %s on %s, in a turn of %s", s_running_type->name,
              s_running->address, s_running_msg->envelope->name);
    return true;
}

int ctx_run (shoal_ctx_t *ctx, const shoal_type_t *type, void *state, const shoal_msg_t *msg)
{
    int rc = s_keep_state (ctx, state, type->state_size);
    bool returned = false; //  rc is what handle returned
    if (rc == 0) {
        s_running = ctx, s_running_type = type, s_running_msg = msg;
        rc = type->handle (ctx, state, msg);
        s_running = NULL;
        returned = true;
        s_restore_lent (ctx, type, state, msg);
    }
    if (rc == 0 && !ctx->rejected && !ctx->error)
        ctx->error = s_recs_error (ctx);
    if (rc != 0 || ctx->rejected || ctx->error) {
        if (!ctx->rejected || ctx->error) {
            int why = ctx->error ? ctx->error : rc;
            ctx->failed = true;
            snprintf (ctx->code, sizeof ctx->code, "handler_error");
            //  What the handler returned, said as its number too: a module's
            //  -10 is no storage error of the node's.
            char returned_text[32] = "";
            if (returned && !ctx->error)
                snprintf (returned_text, sizeof returned_text, "returned %d (", rc);
            snprintf (ctx->reason, sizeof ctx->reason, "%s handler failed on %s: %s%s%s%s%s%s",
                      type->name, msg->envelope->name, returned_text, shoal_strerror (why),
                      returned_text[0] ? ")" : "", ctx->misuse ? " (" : "",
                      ctx->misuse ? ctx->misuse : "", ctx->misuse ? ")" : "");
        }
        ctx->rejected = true;
        s_drop_staged (ctx);
        return CTX_REJECTED;
    }
    for (size_t i = 0; i < ctx->event_count; i++) {
        size_t size;
        const uint8_t *bytes = rec_finish (&ctx->events[i].rec, &size);
        if (ctx_apply (type, state, ctx->events[i].name, bytes, size) != 0) {
            ctx->rejected = true;
            ctx->failed = true;
            snprintf (ctx->code, sizeof ctx->code, "handler_error");
            snprintf (ctx->reason, sizeof ctx->reason, "%s refused its own event %s", type->name,
                      ctx->events[i].name);
            s_drop_staged (ctx);
            return CTX_CORRUPT;
        }
    }
    return CTX_ACCEPTED;
}

int ctx_apply (const shoal_type_t *type, void *state, const char *event, const uint8_t *data,
               size_t size)
{
    shoal_data_t parsed;
    int rc = data_init (&parsed, data, size);
    if (rc == 0) {
        const shoal_data_t *view = parsed.map ? &parsed : &s_empty_data;
        rc = type->apply (state, event, view) == 0 ? 0 : SHOAL_EFORMAT;
    }
    data_close (&parsed);
    return rc;
}
