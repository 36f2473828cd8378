/*  account.c - the account aggregate. See account.h. It sees only the
    public header, like any module. State is a fixed struct: no allocation.
*/
#include "account.h"
#include <string.h>

typedef enum { ACCOUNT_NONE = 0, ACCOUNT_OPEN = 1, ACCOUNT_CLOSED = 2 } account_status_t;

typedef struct {
    int64_t balance;                   //  minor units
    int64_t overdraft;                 //  balance may go down to -overdraft
    int status;                        //  account_status_t
    char owner[ACCOUNT_OWNER_MAX + 1]; //  as opened
} account_t;

static const char *s_status_name (int status)
{
    return status == ACCOUNT_OPEN ? "open" : status == ACCOUNT_CLOSED ? "closed" : "none";
}

//  Reads a positive amount. Returns 0 or a rejection.
static int s_amount (shoal_ctx_t *ctx, const shoal_msg_t *msg, int64_t *amount)
{
    int rc = shoal_data_int (shoal_msg_data (msg), "amount", amount);
    if (rc == SHOAL_ENOTFOUND)
        return shoal_ctx_reject (ctx, "invalid_amount", "amount is missing");
    if (rc != 0)
        return shoal_ctx_reject (ctx, "invalid_amount", "amount must be an integer");
    if (*amount <= 0)
        return shoal_ctx_reject (ctx, "invalid_amount", "amount must be positive, not %lld",
                                 (long long) *amount);
    return 0;
}

//  Reads the transfer id of Debit, Credit and Refund into transfer. They
//  are a transfer's legs: taken from transfer/ID naming ID only. From a
//  client, or another actor, they would move money outside any transfer
//  (the books' money and terminal invariants broken).
static int s_transfer (shoal_ctx_t *ctx, const shoal_msg_t *msg, char *transfer, size_t size)
{
    int rc = shoal_data_str (shoal_msg_data (msg), "transfer", transfer, size);
    if (rc != 0 || !transfer[0])
        return shoal_ctx_reject (ctx, "invalid_field",
                                 "transfer must be a non-empty string of at most %zu bytes",
                                 size - 1);
    const char *from = shoal_msg_from (msg);
    if (strncmp (from, "transfer/", 9) != 0 || strcmp (from + 9, transfer) != 0)
        return shoal_ctx_reject (ctx, "not_a_transfer",
                                 "%s is a leg of a transfer: only transfer/%s may send it, not %s",
                                 shoal_msg_name (msg), transfer, from[0] ? from : "a client");
    return 0;
}

static int s_must_be_open (shoal_ctx_t *ctx, const account_t *account)
{
    if (account->status == ACCOUNT_NONE)
        return shoal_ctx_reject (ctx, "not_open", "account %s is not open", shoal_ctx_id (ctx));
    if (account->status == ACCOUNT_CLOSED)
        return shoal_ctx_reject (ctx, "closed", "account %s is closed", shoal_ctx_id (ctx));
    return 0;
}

static int s_open (shoal_ctx_t *ctx, const account_t *account, const shoal_msg_t *msg)
{
    if (account->status != ACCOUNT_NONE)
        return shoal_ctx_reject (ctx, "already_open", "account %s was already opened",
                                 shoal_ctx_id (ctx));
    //  account_transfers keys an account's rows ID/POSITION: an id with a
    //  '/' would share its prefix with another account's.
    if (strchr (shoal_ctx_id (ctx), '/'))
        return shoal_ctx_reject (ctx, "invalid_id", "an account's id may not hold '/': %s",
                                 shoal_ctx_id (ctx));
    char owner[ACCOUNT_OWNER_MAX + 1];
    int rc = shoal_data_str (shoal_msg_data (msg), "owner", owner, sizeof owner);
    if (rc != 0 || !owner[0])
        return shoal_ctx_reject (ctx, "invalid_field",
                                 "owner must be a non-empty string of at most %d bytes",
                                 ACCOUNT_OWNER_MAX);
    int64_t overdraft = 0;
    rc = shoal_data_int (shoal_msg_data (msg), "overdraft", &overdraft);
    if (rc == SHOAL_ETYPE || overdraft < 0)
        return shoal_ctx_reject (ctx, "invalid_amount", "overdraft must be an integer >= 0");
    shoal_rec_t *event = shoal_ctx_emit (ctx, "Opened");
    shoal_rec_str (event, "owner", owner);
    shoal_rec_int (event, "overdraft", overdraft);
    shoal_rec_int (shoal_ctx_reply (ctx), "balance", 0);
    return 0;
}

typedef enum {
    MOVE_IN,     //  Deposit, Credit
    MOVE_OUT,    //  Withdraw, Debit: down to -overdraft
    MOVE_REFUND, //  money back from a compensated transfer: lands even when closed
} move_t;

//  Moves amount in or out of the account, recording event_name (with the
//  transfer id when with_transfer). Never wraps: an overflow is rejected.
static int s_move (shoal_ctx_t *ctx, const account_t *account, const shoal_msg_t *msg,
                   const char *event_name, bool with_transfer, move_t move)
{
    int64_t amount, balance;
    char transfer[SHOAL_ID_MAX + 1];
    int rc = 0;
    if (move != MOVE_REFUND)
        rc = s_must_be_open (ctx, account);
    else if (account->status == ACCOUNT_NONE)
        rc = shoal_ctx_reject (ctx, "not_open", "account %s is not open", shoal_ctx_id (ctx));
    if (rc == 0)
        rc = s_amount (ctx, msg, &amount);
    if (rc == 0 && with_transfer)
        rc = s_transfer (ctx, msg, transfer, sizeof transfer);
    if (rc)
        return rc;
    if (move == MOVE_OUT) {
        if (__builtin_sub_overflow (account->balance, amount, &balance) ||
            balance < -account->overdraft)
            return shoal_ctx_reject (
                ctx, "insufficient_funds", "balance %lld with overdraft %lld cannot cover %lld",
                (long long) account->balance, (long long) account->overdraft, (long long) amount);
    } else if (__builtin_add_overflow (account->balance, amount, &balance))
        return shoal_ctx_reject (ctx, "overflow", "the balance would overflow");
    shoal_rec_t *event = shoal_ctx_emit (ctx, event_name);
    if (with_transfer)
        shoal_rec_str (event, "transfer", transfer);
    shoal_rec_int (event, "amount", amount);
    shoal_rec_int (shoal_ctx_reply (ctx), "balance", balance);
    return 0;
}

static int s_handle (shoal_ctx_t *ctx, const void *state, const shoal_msg_t *msg)
{
    const account_t *account = state;
    const char *name = shoal_msg_name (msg);
    if (shoal_msg_kind (msg) != SHOAL_COMMAND)
        return shoal_ctx_reject (ctx, "unknown_command", "an account takes commands only");
    if (strcmp (name, "Open") == 0)
        return s_open (ctx, account, msg);
    if (strcmp (name, "Deposit") == 0)
        return s_move (ctx, account, msg, "Deposited", false, MOVE_IN);
    if (strcmp (name, "Credit") == 0)
        return s_move (ctx, account, msg, "Credited", true, MOVE_IN);
    if (strcmp (name, "Withdraw") == 0)
        return s_move (ctx, account, msg, "Withdrawn", false, MOVE_OUT);
    if (strcmp (name, "Debit") == 0)
        return s_move (ctx, account, msg, "Debited", true, MOVE_OUT);
    if (strcmp (name, "Refund") == 0)
        return s_move (ctx, account, msg, "Refunded", true, MOVE_REFUND);
    if (strcmp (name, "Close") == 0) {
        int rc = s_must_be_open (ctx, account);
        if (rc == 0) {
            shoal_ctx_emit (ctx, "Closed");
            shoal_rec_int (shoal_ctx_reply (ctx), "balance", account->balance);
        }
        return rc;
    }
    return shoal_ctx_reject (ctx, "unknown_command",
                             "an account takes Open, Deposit, Withdraw, Debit, Credit, Refund "
                             "and Close, not %s",
                             name);
}

static int s_apply (void *state, const char *event, const shoal_data_t *data)
{
    account_t *account = state;
    int64_t amount = 0;
    if (strcmp (event, "Opened") == 0) {
        if (shoal_data_str (data, "owner", account->owner, sizeof account->owner) != 0)
            return SHOAL_EFORMAT;
        if (shoal_data_int (data, "overdraft", &account->overdraft) == SHOAL_ETYPE ||
            account->overdraft < 0)
            return SHOAL_EFORMAT;
        account->status = ACCOUNT_OPEN;
        return 0;
    }
    if (strcmp (event, "Closed") == 0) {
        account->status = ACCOUNT_CLOSED;
        return 0;
    }
    if (shoal_data_int (data, "amount", &amount) != 0)
        return SHOAL_EFORMAT;
    if (strcmp (event, "Deposited") == 0 || strcmp (event, "Credited") == 0 ||
        strcmp (event, "Refunded") == 0)
        return __builtin_add_overflow (account->balance, amount, &account->balance) ? SHOAL_EFORMAT
                                                                                    : 0;
    if (strcmp (event, "Withdrawn") == 0 || strcmp (event, "Debited") == 0)
        return __builtin_sub_overflow (account->balance, amount, &account->balance) ? SHOAL_EFORMAT
                                                                                    : 0;
    return SHOAL_EFORMAT;
}

static void s_view (const void *state, shoal_rec_t *out)
{
    const account_t *account = state;
    shoal_rec_str (out, "status", s_status_name (account->status));
    shoal_rec_str (out, "owner", account->owner);
    shoal_rec_int (out, "balance", account->balance);
    shoal_rec_int (out, "overdraft", account->overdraft);
}

//  A snapshot is the view (version 0, the only one so far).
static int s_restore (void *state, int version, const shoal_data_t *snapshot)
{
    account_t *account = state;
    char status[16];
    if (version != 0 || shoal_data_str (snapshot, "status", status, sizeof status) != 0 ||
        shoal_data_str (snapshot, "owner", account->owner, sizeof account->owner) != 0 ||
        shoal_data_int (snapshot, "balance", &account->balance) != 0 ||
        shoal_data_int (snapshot, "overdraft", &account->overdraft) != 0 || account->overdraft < 0)
        return SHOAL_EFORMAT;
    account->status = strcmp (status, "open") == 0     ? ACCOUNT_OPEN
                      : strcmp (status, "closed") == 0 ? ACCOUNT_CLOSED
                                                       : ACCOUNT_NONE;
    return 0;
}

const shoal_type_t account_type = {
    .name = "account",
    .state_size = sizeof (account_t),
    .apply = s_apply,
    .handle = s_handle,
    .view = s_view,
    .snapshot = s_view,
    .restore = s_restore,
    .snapshot_version = 0,
};
