/*  transfer.c - the transfer saga. See transfer.h. It sees only the public
    header; its state is a fixed struct.
*/
#include "transfer.h"
#include <stdio.h>
#include <string.h>

typedef enum {
    TRANSFER_NONE = 0,
    TRANSFER_STARTED,      //  debit sent
    TRANSFER_DEBITED,      //  credit sent
    TRANSFER_COMPENSATING, //  credit rejected, refund sent
    TRANSFER_COMPLETED,
    TRANSFER_FAILED,
    TRANSFER_COMPENSATED,
} transfer_status_t;

#define TRANSFER_REFUND_RETRY_MS 60000 //  after a refused refund

static const char *s_status_names[] = {"none",      "started", "debited",    "compensating",
                                       "completed", "failed",  "compensated"};

typedef struct {
    int status;   //  transfer_status_t
    bool stalled; //  current leg unanswered too long
    int64_t amount;
    char from[SHOAL_ADDRESS_MAX + 1]; //  source account address
    char to[SHOAL_ADDRESS_MAX + 1];   //  target account address
    char code[64];                    //  why it failed or was compensated
} transfer_t;

static bool s_terminal (int status)
{
    return status >= TRANSFER_COMPLETED;
}

static void s_reply_status (shoal_ctx_t *ctx, int status)
{
    shoal_rec_t *reply = shoal_ctx_reply (ctx);
    shoal_rec_str (reply, "transfer", shoal_ctx_id (ctx));
    shoal_rec_str (reply, "status", s_status_names[status]);
}

//  Sends a leg's command to account with {transfer, amount}.
static void s_leg (shoal_ctx_t *ctx, const char *account, const char *command, int64_t amount)
{
    shoal_rec_t *rec = shoal_ctx_send (ctx, account, command);
    shoal_rec_str (rec, "transfer", shoal_ctx_id (ctx));
    shoal_rec_int (rec, "amount", amount);
}

//  Reads an account field: "alice" means account/alice.
static int s_account (const shoal_msg_t *msg, const char *key, char *address, size_t size)
{
    char value[SHOAL_ADDRESS_MAX + 1];
    if (shoal_data_str (shoal_msg_data (msg), key, value, sizeof value) != 0 || !value[0])
        return SHOAL_EINVAL;
    if (strchr (value, '/'))
        snprintf (address, size, "%s", value);
    else if (snprintf (address, size, "account/%s", value) >= (int) size)
        return SHOAL_EINVAL;
    if (strncmp (address, "account/", 8) != 0 || shoal_address_check (address, strlen (address)))
        return SHOAL_EINVAL;
    return 0;
}

//  Appends to said (size bytes) "; KEY FIRST, not THIS" for a field of a
//  repeated Start that differs from the first's.
static void s_differs (char *said, size_t size, const char *key, const char *first,
                       const char *this)
{
    size_t used = strlen (said);
    if (used < size)
        snprintf (said + used, size - used, "%s%s %s, not %s", used ? "; " : "", key, first, this);
}

//  A Start for a transfer already started: the same from, to and amount
//  (as the first Start gave them, "alice" being "account/alice") is a
//  retry, answered with the status; anything else reuses the transfer's
//  id for another transfer, and is refused as id_reused, naming what
//  differs and what the first Start had, changing nothing.
static int s_start_again (shoal_ctx_t *ctx, const transfer_t *transfer, const shoal_msg_t *msg)
{
    const shoal_data_t *data = shoal_msg_data (msg);
    char said[256] = ""; //  a rejection reason is cut at 255 bytes anyway
    static const char *keys[] = {"from", "to"};
    const char *firsts[] = {transfer->from, transfer->to};
    for (int i = 0; i < 2; i++) {
        char address[SHOAL_ADDRESS_MAX + 1], given[SHOAL_ADDRESS_MAX + 3] = "none";
        char value[SHOAL_ADDRESS_MAX + 1];
        if (s_account (msg, keys[i], address, sizeof address) == 0) {
            if (strcmp (address, firsts[i]) == 0)
                continue;
            snprintf (given, sizeof given, "%s", address);
        } else if (shoal_data_str (data, keys[i], value, sizeof value) == 0)
            snprintf (given, sizeof given, "'%s'", value);
        s_differs (said, sizeof said, keys[i], firsts[i], given);
    }
    int64_t amount;
    char first_amount[32], given[32] = "none";
    snprintf (first_amount, sizeof first_amount, "%lld", (long long) transfer->amount);
    if (shoal_data_int (data, "amount", &amount) != 0 || amount != transfer->amount) {
        if (shoal_data_int (data, "amount", &amount) == 0)
            snprintf (given, sizeof given, "%lld", (long long) amount);
        s_differs (said, sizeof said, "amount", first_amount, given);
    }
    if (!said[0]) {
        s_reply_status (ctx, transfer->status);
        return 0;
    }
    return shoal_ctx_reject (ctx, "id_reused",
                             "transfer %s was started with other fields (%s); it is %s and "
                             "unchanged: a new transfer needs a new id",
                             shoal_ctx_id (ctx), said, s_status_names[transfer->status]);
}

static int s_start (shoal_ctx_t *ctx, const transfer_t *transfer, const shoal_msg_t *msg)
{
    if (transfer->status != TRANSFER_NONE)
        return s_start_again (ctx, transfer, msg);
    char from[SHOAL_ADDRESS_MAX + 1], to[SHOAL_ADDRESS_MAX + 1];
    int64_t amount;
    if (s_account (msg, "from", from, sizeof from) || s_account (msg, "to", to, sizeof to))
        return shoal_ctx_reject (ctx, "invalid_field",
                                 "from and to must be account addresses (account/ID or ID)");
    if (strcmp (from, to) == 0)
        return shoal_ctx_reject (ctx, "invalid_field", "from and to are the same account");
    int rc = shoal_data_int (shoal_msg_data (msg), "amount", &amount);
    if (rc != 0 || amount <= 0)
        return shoal_ctx_reject (ctx, "invalid_amount", "amount must be a positive integer");
    shoal_rec_t *event = shoal_ctx_emit (ctx, "Started");
    shoal_rec_str (event, "from", from);
    shoal_rec_str (event, "to", to);
    shoal_rec_int (event, "amount", amount);
    s_leg (ctx, from, "Debit", amount);
    s_reply_status (ctx, TRANSFER_STARTED);
    return 0;
}

static void s_emit_why (shoal_ctx_t *ctx, const char *event, const shoal_msg_t *msg)
{
    shoal_rec_t *rec = shoal_ctx_emit (ctx, event);
    shoal_rec_str (rec, "code", shoal_msg_code (msg));
    shoal_rec_str (rec, "reason", shoal_msg_reason (msg));
}

//  The leg a status waits on: the command in flight and its name in
//  Stalled events. NULL when no leg is in flight.
static const char *s_leg_command (int status, const char **leg)
{
    static const struct {
        int status;
        const char *command, *leg;
    } legs[] = {{TRANSFER_STARTED, "Debit", "debit"},
                {TRANSFER_DEBITED, "Credit", "credit"},
                {TRANSFER_COMPENSATING, "Refund", "refund"}};
    for (size_t i = 0; i < sizeof legs / sizeof legs[0]; i++)
        if (legs[i].status == status) {
            *leg = legs[i].leg;
            return legs[i].command;
        }
    return NULL;
}

static int s_on_reply (shoal_ctx_t *ctx, const transfer_t *transfer, const shoal_msg_t *msg)
{
    const char *leg;
    const char *command = s_leg_command (transfer->status, &leg);
    if (!command || strcmp (shoal_msg_name (msg), command) != 0)
        return 0; //  a late or unexpected reply changes nothing
    bool accepted = shoal_msg_accepted (msg);
    //  "expired": the leg outlived the receiver's inbox retention and was
    //  not run; whether an earlier copy ran is unknown. Only an operator
    //  can settle it: stay stalled, visibly, rather than guess. (The
    //  runtime keeps such a leg pending for the operator and does not
    //  hand this reply over; a saga run elsewhere, the testkit's, may.)
    if (!accepted && strcmp (shoal_msg_code (msg), "expired") == 0) {
        if (!transfer->stalled) {
            shoal_rec_t *event = shoal_ctx_emit (ctx, "Stalled");
            shoal_rec_str (event, "leg", leg);
            shoal_rec_str (event, "code", "expired");
        }
        return 0;
    }
    switch (transfer->status) {
    case TRANSFER_STARTED:
        if (accepted) {
            shoal_ctx_emit (ctx, "Debited");
            s_leg (ctx, transfer->to, "Credit", transfer->amount);
        } else {
            s_emit_why (ctx, "Failed", msg);
            shoal_ctx_passivate (ctx);
        }
        break;
    case TRANSFER_DEBITED:
        if (accepted) {
            shoal_ctx_emit (ctx, "Completed");
            shoal_ctx_passivate (ctx);
        } else {
            s_emit_why (ctx, "Compensating", msg);
            s_leg (ctx, transfer->from, "Refund", transfer->amount);
        }
        break;
    default: //  TRANSFER_COMPENSATING
        if (accepted) {
            shoal_ctx_emit (ctx, "Compensated");
            shoal_ctx_passivate (ctx);
        } else {
            //  The money must go back, but the source refuses it now (its
            //  balance would overflow): stall visibly, try again later.
            if (!transfer->stalled) {
                shoal_rec_t *event = shoal_ctx_emit (ctx, "Stalled");
                shoal_rec_str (event, "leg", "refund");
                shoal_rec_str (event, "code", shoal_msg_code (msg));
            }
            shoal_ctx_after (ctx, TRANSFER_REFUND_RETRY_MS, "refund");
        }
    }
    return 0;
}

//  The runtime says the command of the current leg has had no answer for
//  the node's --stall-ms (it keeps re-sending it): mark the transfer stalled.
static int s_on_stalled (shoal_ctx_t *ctx, const transfer_t *transfer, const shoal_msg_t *msg)
{
    const char *leg;
    const char *command = s_leg_command (transfer->status, &leg);
    if (command && strcmp (shoal_msg_name (msg), command) == 0 && !transfer->stalled)
        shoal_rec_str (shoal_ctx_emit (ctx, "Stalled"), "leg", leg);
    return 0;
}

static int s_handle (shoal_ctx_t *ctx, const void *state, const shoal_msg_t *msg)
{
    const transfer_t *transfer = state;
    //  A saga at its end expects nothing more: it leaves memory once this
    //  turn is committed (a late reply or a client's Status loads it
    //  again). So does one that reaches its end in this turn (s_on_reply).
    if (s_terminal (transfer->status))
        shoal_ctx_passivate (ctx);
    switch (shoal_msg_kind (msg)) {
    case SHOAL_REPLY:
        return s_on_reply (ctx, transfer, msg);
    case SHOAL_STALLED:
        return s_on_stalled (ctx, transfer, msg);
    case SHOAL_TIMER: //  "refund": try a refused refund again
        if (transfer->status == TRANSFER_COMPENSATING &&
            strcmp (shoal_msg_name (msg), "refund") == 0)
            s_leg (ctx, transfer->from, "Refund", transfer->amount);
        return 0;
    case SHOAL_COMMAND:
        break;
    }
    if (strcmp (shoal_msg_name (msg), "Start") == 0)
        return s_start (ctx, transfer, msg);
    if (strcmp (shoal_msg_name (msg), "Status") == 0) {
        s_reply_status (ctx, transfer->status);
        return 0;
    }
    return shoal_ctx_reject (ctx, "unknown_command", "a transfer takes Start and Status, not %s",
                             shoal_msg_name (msg));
}

static int s_apply (void *state, const char *event, const shoal_data_t *data)
{
    transfer_t *transfer = state;
    if (strcmp (event, "Stalled") == 0) {
        transfer->stalled = true;
        return 0;
    }
    transfer->stalled = false;
    if (strcmp (event, "Started") == 0) {
        if (shoal_data_str (data, "from", transfer->from, sizeof transfer->from) ||
            shoal_data_str (data, "to", transfer->to, sizeof transfer->to) ||
            shoal_data_int (data, "amount", &transfer->amount))
            return SHOAL_EFORMAT;
        transfer->status = TRANSFER_STARTED;
    } else if (strcmp (event, "Debited") == 0)
        transfer->status = TRANSFER_DEBITED;
    else if (strcmp (event, "Completed") == 0)
        transfer->status = TRANSFER_COMPLETED;
    else if (strcmp (event, "Failed") == 0 || strcmp (event, "Compensating") == 0) {
        if (shoal_data_str (data, "code", transfer->code, sizeof transfer->code) != 0)
            snprintf (transfer->code, sizeof transfer->code, "unknown");
        transfer->status = event[0] == 'F' ? TRANSFER_FAILED : TRANSFER_COMPENSATING;
    } else if (strcmp (event, "Compensated") == 0)
        transfer->status = TRANSFER_COMPENSATED;
    else
        return SHOAL_EFORMAT;
    return 0;
}

static void s_view (const void *state, shoal_rec_t *out)
{
    const transfer_t *transfer = state;
    shoal_rec_str (out, "status", s_status_names[transfer->status]);
    shoal_rec_str (out, "from", transfer->from);
    shoal_rec_str (out, "to", transfer->to);
    shoal_rec_int (out, "amount", transfer->amount);
    if (transfer->code[0])
        shoal_rec_str (out, "code", transfer->code);
    shoal_rec_bool (out, "stalled", transfer->stalled);
    shoal_rec_bool (out, "terminal", s_terminal (transfer->status));
}

const shoal_type_t transfer_type = {
    .name = "transfer",
    .state_size = sizeof (transfer_t),
    .apply = s_apply,
    .handle = s_handle,
    .view = s_view,
};
