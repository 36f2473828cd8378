/*  bank_projections.h - the read models that ship with the bank
    (DESIGN.md, "Projections"), registered by bank_register:

    - bank_totals: the sum of all balances, accounts by status, transfers
      by outcome, in one row "totals" (bank_totals.c);
    - account_transfers: each account's transfers, newest first, under
      "ACCOUNT/" (account_transfers.c);
    - large_debits: a reaction that flags every debit of at least
      LARGE_DEBIT_MIN to review/ACCOUNT (large_debits.c, actors/review.h).
*/
#ifndef BANK_PROJECTIONS_H_INCLUDED
#define BANK_PROJECTIONS_H_INCLUDED

#include "shoal.h"

//  The smallest debit large_debits flags, in minor units: low enough that
//  `shoal demo`'s transfers (1 to 700) reach it now and then.
#define LARGE_DEBIT_MIN 600

extern const shoal_projection_t bank_totals_projection;
extern const shoal_projection_t account_transfers_projection;
extern const shoal_projection_t large_debits_projection;

#endif
