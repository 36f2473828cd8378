/*  bank_totals.c - the bank's totals as a projection: the sum of every
    account's balance, the accounts by status and the transfers by
    outcome, in one row "totals":

        {"balance": N, "accounts": {"open": n, "closed": n},
         "transfers": {"started": n, "completed": n, "failed": n,
                       "compensated": n}}

    It must equal what the journal's events sum to (`shoal demo` checks
    it at the end). Version 1.
*/
#include "bank_projections.h"
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#define TOTALS_KEY "totals"

typedef struct {
    int64_t balance;
    int64_t open, closed;
    int64_t started, completed, failed, compensated;
} totals_t;

//  A batch's sums. Its money in 128 bits: each account's balance fits in
//  64 (the account refuses more), their sum may not, and a batch's sum
//  may pass 2^63 while the row's total, which it adds to, does not.
typedef struct {
    __int128 balance;
    int64_t open, closed;
    int64_t started, completed, failed, compensated;
    bool changed; //  an event moved one
    bool based;   //  base is read: the batch's first event that moves money
    int64_t base; //  the row's balance before the batch
} sums_t;

static void s_read (shoal_view_t *view, totals_t *totals)
{
    memset (totals, 0, sizeof *totals);
    const shoal_data_t *row, *accounts = NULL, *transfers = NULL;
    if (shoal_view_get (view, TOTALS_KEY, &row) != 0)
        return;
    shoal_data_int (row, "balance", &totals->balance);
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
}

static void s_write (shoal_view_t *view, const totals_t *totals)
{
    shoal_rec_t *row = shoal_view_put (view, TOTALS_KEY);
    shoal_rec_int (row, "balance", totals->balance);
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

//  The batch's sums: what its events add to the row. Each apply adds to
//  them; batch_end reads the row once, adds them and writes it once (a
//  row read and written at every event was a sixth of the projections'
//  thread). The balance the row would hold after each event is checked
//  in apply, against the row's balance read once a batch: so an event
//  whose money the row's 64 bits cannot hold fails itself, at its own
//  position (where `shoal projections skip` takes it), and the events
//  before it are kept, as they are when each event is a batch of its own.
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
        if (!sums->based) {
            totals_t totals;
            s_read (view, &totals);
            sums->base = totals.balance;
            sums->based = true;
        }
        __int128 balance = sums->balance + (in ? (__int128) amount : -(__int128) amount);
        __int128 total = (__int128) sums->base + balance;
        if (total > INT64_MAX || total < INT64_MIN)
            return shoal_view_fail (view,
                                    "%s %" PRId64 " on %s: the sum of the balances would pass %s: "
                                    "the row's 64 bits cannot hold it",
                                    name, amount, shoal_event_address (event),
                                    total > 0 ? "2^63 - 1" : "-2^63");
        sums->balance = balance;
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
    s_read (view, &totals);
    //  Each apply checked the balance this adds up to (s_apply).
    totals.balance = (int64_t) ((__int128) totals.balance + sums->balance);
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
