/*  review.h - the review actor shipped with the bank: the flags raised on
    an account for a person to look at. It moves no money. The bank's
    large_debits projection (projections/large_debits.c) sends it Flag on
    every large debit, as a reaction: review/ID collects the flags of
    account/ID.

    Command: Flag{account, transfer, amount}, from a projection's reaction
    only (shoal_msg_from "projection/NAME"). Event: Flagged{account,
    transfer, amount, at} (at: ms since the epoch, when it was flagged).
    Rejections: not_a_projection (a client's Flag, or an actor's),
    invalid_field (account or transfer not a non-empty string of at most
    SHOAL_ID_MAX bytes), invalid_amount (not a positive integer),
    unknown_command.

    `shoal get review/ID` shows {flags, amount, last}: how many flags, the
    sum of their amounts, and the REVIEW_LAST newest, newest first.

    A Flag is not deduplicated by transfer: a command sent twice with one
    id is answered once by the node's inbox, which is what makes each
    reaction flag once; two Flags with two ids are two flags.
*/
#ifndef REVIEW_H_INCLUDED
#define REVIEW_H_INCLUDED

#include "shoal.h"

#define REVIEW_LAST 5 //  flags `get` shows

extern const shoal_type_t review_type;

#endif
