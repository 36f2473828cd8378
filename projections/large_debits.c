/*  large_debits.c - a reaction that moves no money: on every Debited of
    at least LARGE_DEBIT_MIN, it sends Flag{account, transfer, amount} to
    review/ACCOUNT (actors/review.c), through the node's outbox, so that
    each large debit is flagged exactly once across crashes (the command's
    id comes from the event's position: a re-send is answered by the
    review's inbox, not run again). Only the served build sends; a rebuild
    replays without sending again.

    Its rows, one per account flagged, under the account's id:

        ACCOUNT  {"flagged": n, "amount": sum, "last": TRANSFER, "at": MS}

    The threshold is a constant, not an option: the node's own types get
    no module options, and a threshold that changed under a running
    projection would flag by two rules at once. Change it with a new
    version. Version 1.
*/
#include "bank_projections.h"
#include <stdio.h>
#include <string.h>

static int s_apply (shoal_view_t *view, const shoal_event_t *event)
{
    const shoal_data_t *data = shoal_event_data (event);
    int64_t amount;
    char transfer[SHOAL_ID_MAX + 1];
    if (shoal_data_int (data, "amount", &amount) != 0 ||
        shoal_data_str (data, "transfer", transfer, sizeof transfer) != 0)
        return shoal_view_fail (view, "Debited of %s lacks amount or transfer",
                                shoal_event_address (event));
    if (amount < LARGE_DEBIT_MIN)
        return 0;
    const char *account = shoal_event_id (event);
    char review[SHOAL_ADDRESS_MAX + 1];
    snprintf (review, sizeof review, "review/%s", account);
    shoal_rec_t *flag = shoal_view_send (view, review, "Flag");
    shoal_rec_str (flag, "account", account);
    shoal_rec_str (flag, "transfer", transfer);
    shoal_rec_int (flag, "amount", amount);

    int64_t flagged = 0, sum = 0;
    const shoal_data_t *row;
    if (shoal_view_get (view, account, &row) == 0) {
        shoal_data_int (row, "flagged", &flagged);
        shoal_data_int (row, "amount", &sum);
    }
    if (__builtin_add_overflow (sum, amount, &sum))
        sum = INT64_MAX;
    shoal_rec_t *out = shoal_view_put (view, account);
    shoal_rec_int (out, "flagged", flagged + 1);
    shoal_rec_int (out, "amount", sum);
    shoal_rec_str (out, "last", transfer);
    shoal_rec_int (out, "at", shoal_event_created (event));
    return 0;
}

const shoal_projection_t large_debits_projection = {
    .name = "large_debits",
    .version = 1,
    .events = "account:Debited",
    .apply = s_apply,
};
