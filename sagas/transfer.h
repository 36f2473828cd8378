/*  transfer.h - the transfer saga (process manager) shipped with shoal.

    transfer/ID: Start{from, to, amount} -> Debit the source -> on its
    acceptance Credit the target -> Completed. A rejected debit -> Failed
    (nothing moved). A rejected credit -> Refund the source -> Compensated.
    The id is the client's idempotency key: a second Start with the same
    from, to and amount returns the transfer's status and starts nothing;
    one with other fields is rejected as id_reused (the reason names what
    differs and what the first Start had) and changes nothing.

    Status: started, debited, compensating, completed, failed, compensated.
    A leg the runtime reports stalled (no answer for the node's --stall-ms,
    30 s by default) is marked stalled (an event, so it survives restarts)
    while the runtime keeps re-sending it; the next step clears the mark.

    A refund the source refuses (its balance would overflow) stalls the
    transfer and is tried again every minute until it lands.

    Events: Started{from,to,amount}, Debited, Completed, Failed{code,reason},
    Compensating{code,reason}, Compensated, Stalled{leg}.
*/
#ifndef TRANSFER_H_INCLUDED
#define TRANSFER_H_INCLUDED

#include "shoal.h"

extern const shoal_type_t transfer_type;

#endif
