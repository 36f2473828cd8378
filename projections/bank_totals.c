/*  bank_totals.c - the bank's totals as a projection: the sum of every
    account's balance, the accounts by status and the transfers by
    outcome, in one row "totals":

        {"balance": N, "accounts": {"open": n, "closed": n},
         "transfers": {"started": n, "completed": n, "failed": n,
                       "compensated": n}}

    It must equal what the journal's events sum to (`shoal demo` checks
    it at the end). Version 1.

    The balance is summed in 128 bits: each account's balance fits in 64
    (the account refuses more), the sum of many may not. The row holds it
    as an integer while it fits in 64 bits, and past them as a string of
    its decimal digits ("balance": "18446744073709551614"), which `shoal
    query` prints as it is. A row of this projection made before it
    summed past 64 bits holds an integer, and reads the same.
*/
#include "bank_projections.h"
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#define TOTALS_KEY "totals"

typedef struct {
    __int128 balance;
    int64_t open, closed;
    int64_t started, completed, failed, compensated;
} totals_t;

//  A batch's sums: what its events add to the row.
typedef struct {
    __int128 balance;
    int64_t open, closed;
    int64_t started, completed, failed, compensated;
    bool changed; //  an event moved one
} sums_t;

#define MONEY_CHARS 41 //  a __int128 in decimal, its sign and its NUL

//  money in decimal into text (MONEY_CHARS at least).
static void s_money_str (__int128 money, char *text)
{
    char digits[MONEY_CHARS];
    size_t n = 0;
    unsigned __int128 magnitude =
        money < 0 ? -(unsigned __int128) money : (unsigned __int128) money;
    do {
        digits[n++] = (char) ('0' + (int) (magnitude % 10));
        magnitude /= 10;
    } while (magnitude);
    size_t at = 0;
    if (money < 0)
        text[at++] = '-';
    while (n)
        text[at++] = digits[--n];
    text[at] = 0;
}

//  Reads text, an optional '-' and decimal digits (one at least) whose
//  value a __int128 holds, into *money. Returns 0, or -1 for anything else.
static int s_money_parse (const char *text, __int128 *money)
{
    bool negative = *text == '-';
    const char *digit = text + negative;
    if (!*digit)
        return -1;
    __int128 value = 0;
    for (; *digit; digit++) {
        if (*digit < '0' || *digit > '9' || __builtin_mul_overflow (value, 10, &value) ||
            __builtin_add_overflow (value, negative ? '0' - *digit : *digit - '0', &value))
            return -1;
    }
    *money = value;
    return 0;
}

//  The row's balance: an integer, or past 64 bits its digits in a string.
//  Returns 0, or shoal_view_fail's result for a balance that is neither.
static int s_read_balance (shoal_view_t *view, const shoal_data_t *row, __int128 *balance)
{
    int64_t small;
    char digits[MONEY_CHARS + 1];
    if (!shoal_data_has (row, "balance"))
        return 0;
    if (shoal_data_int (row, "balance", &small) == 0) {
        *balance = small;
        return 0;
    }
    if (shoal_data_str (row, "balance", digits, sizeof digits) == 0 &&
        s_money_parse (digits, balance) == 0)
        return 0;
    return shoal_view_fail (view, "the row %s holds a balance that is not an integer", TOTALS_KEY);
}

//  Reads the row into totals (zeros without one). Returns 0, or what
//  shoal_view_fail returned for a row whose balance does not read.
static int s_read (shoal_view_t *view, totals_t *totals)
{
    memset (totals, 0, sizeof *totals);
    const shoal_data_t *row, *accounts = NULL, *transfers = NULL;
    if (shoal_view_get (view, TOTALS_KEY, &row) != 0)
        return 0;
    int rc = s_read_balance (view, row, &totals->balance);
    if (rc != 0)
        return rc;
    if (shoal_data_map (row, "accounts", &accounts) == 0) {
        shoal_data_int (accounts, "open", &totals->open);
        shoal_data_int (accounts, "closed", &totals->closed);
    }
    if (shoal_data_map (row, "transfers", &transfers) == 0) {
        shoal_data_int (transfers, "started", &totals->started);
        shoal_data_int (transfers, "completed", &totals->completed);
        shoal_data_int (transfers, "failed", &totals->failed);
        shoal_data_int (transfers, "compensated", &totals->compensated);
    }
    return 0;
}

static void s_write (shoal_view_t *view, const totals_t *totals)
{
    shoal_rec_t *row = shoal_view_put (view, TOTALS_KEY);
    if (totals->balance >= INT64_MIN && totals->balance <= INT64_MAX)
        shoal_rec_int (row, "balance", (int64_t) totals->balance);
    else {
        char digits[MONEY_CHARS];
        s_money_str (totals->balance, digits);
        shoal_rec_str (row, "balance", digits);
    }
    shoal_rec_map_begin (row, "accounts");
    shoal_rec_int (row, "open", totals->open);
    shoal_rec_int (row, "closed", totals->closed);
    shoal_rec_map_end (row);
    shoal_rec_map_begin (row, "transfers");
    shoal_rec_int (row, "started", totals->started);
    shoal_rec_int (row, "completed", totals->completed);
    shoal_rec_int (row, "failed", totals->failed);
    shoal_rec_int (row, "compensated", totals->compensated);
    shoal_rec_map_end (row);
}

//  Each apply adds to the batch's sums; batch_end reads the row once,
//  adds them and writes it once (a row read and written at every event
//  was a sixth of the projections' thread). Sums in 128 bits pass no
//  bound short of 2^64 events of the largest amount, which the log's
//  positions cannot number.
static int s_apply (shoal_view_t *view, const shoal_event_t *event)
{
    sums_t *sums = shoal_view_batch_state (view);
    const char *name = shoal_event_name (event);
    bool account = strcmp (shoal_event_type (event), "account") == 0;
    if (account && strcmp (name, "Opened") == 0)
        sums->open++;
    else if (account && strcmp (name, "Closed") == 0) {
        sums->open--;
        sums->closed++;
    } else if (account) {
        bool in = strcmp (name, "Deposited") == 0 || strcmp (name, "Credited") == 0 ||
                  strcmp (name, "Refunded") == 0;
        bool out = strcmp (name, "Withdrawn") == 0 || strcmp (name, "Debited") == 0;
        if (!in && !out)
            return 0; //  an event that moves no money (an operator's $... record)
        int64_t amount;
        if (shoal_data_int (shoal_event_data (event), "amount", &amount) != 0)
            return shoal_view_fail (view, "%s of %s has no amount", name,
                                    shoal_event_address (event));
        sums->balance += in ? (__int128) amount : -(__int128) amount;
    } else if (strcmp (name, "Started") == 0)
        sums->started++;
    else if (strcmp (name, "Completed") == 0)
        sums->completed++;
    else if (strcmp (name, "Failed") == 0)
        sums->failed++;
    else if (strcmp (name, "Compensated") == 0)
        sums->compensated++;
    else
        return 0;
    sums->changed = true;
    return 0;
}

static int s_batch_end (shoal_view_t *view, void *batch_state)
{
    const sums_t *sums = batch_state;
    if (!sums->changed)
        return 0;
    totals_t totals;
    int rc = s_read (view, &totals);
    if (rc != 0)
        return rc;
    totals.balance += sums->balance;
    totals.open += sums->open;
    totals.closed += sums->closed;
    totals.started += sums->started;
    totals.completed += sums->completed;
    totals.failed += sums->failed;
    totals.compensated += sums->compensated;
    s_write (view, &totals);
    return 0;
}

const shoal_projection_t bank_totals_projection = {
    .name = "bank_totals",
    .version = 1,
    .events = "account transfer:Started transfer:Completed transfer:Failed transfer:Compensated",
    .apply = s_apply,
    .batch_state_size = sizeof (sums_t),
    .batch_end = s_batch_end,
};
