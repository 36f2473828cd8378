/*  transfer.h - the transfer saga (process manager) shipped with shoal.

    transfer/ID: Start{from, to, amount} -> Debit the source -> on its
    acceptance Credit the target -> Completed. A rejected debit -> Failed
    (nothing moved). A rejected credit -> Refund the source -> Compensated.
    The id is the client's idempotency key: a second Start returns the
    transfer's status and starts nothing.

    Status: started, debited, compensating, completed, failed, compensated.
    A leg with no answer for stall_ms is marked stalled (an event, so it
    survives restarts) while the runtime keeps re-sending it.

    Events: Started{from,to,amount}, Debited, Completed, Failed{code,reason},
    Compensating{code,reason}, Compensated, Stalled{leg}.
*/
#ifndef TRANSFER_H_INCLUDED
#define TRANSFER_H_INCLUDED

#include "shoal.h"

#define TRANSFER_DEFAULT_STALL_MS 30000

extern const shoal_type_t transfer_type;

//  Sets how long a leg may go unanswered before the transfer is marked
//  stalled. Call before the node starts (it is read by every worker).
void transfer_set_stall_ms (int64_t ms);

#endif
