/*  bank_projections.h - the read models that ship with the bank
    (DESIGN.md, "Projections"): bank_totals (the sum of all balances,
    accounts by status, transfers by outcome) and account_transfers (each
    account's transfers, newest first). Registered by bank_register.
*/
#ifndef BANK_PROJECTIONS_H_INCLUDED
#define BANK_PROJECTIONS_H_INCLUDED

#include "shoal.h"

extern const shoal_projection_t bank_totals_projection;

#endif
