/*  account.h - the account aggregate shipped with shoal (the bank).

    Commands: Open{owner, overdraft=0}, Deposit{amount}, Withdraw{amount},
    Debit{transfer, amount}, Credit{transfer, amount},
    Refund{transfer, amount}, Close.
    Events: Opened, Deposited, Withdrawn, Debited, Credited, Refunded, Closed.
    Rejections: insufficient_funds, closed, not_open, already_open,
    invalid_amount, overflow, invalid_field, unknown_command, invalid_id
    (an id with a '/', which account_transfers' keys cannot tell from
    another account's rows), and
    not_a_transfer: Debit, Credit and Refund are a transfer's legs, taken
    from transfer/ID naming ID only.

    Amounts are int64 minor units, > 0. A balance never goes below
    -overdraft and never overflows. A closed account refuses everything but
    Refund (money coming back from a compensated transfer always lands).
*/
#ifndef ACCOUNT_H_INCLUDED
#define ACCOUNT_H_INCLUDED

#include "shoal.h"

#define ACCOUNT_OWNER_MAX 64

extern const shoal_type_t account_type;

#endif
