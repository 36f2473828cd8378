/*  bank.h - a whole bank run against a `shoal node` child process: open
    and fund accounts, close a few, run concurrent transfers while killing
    the node with SIGKILL and restarting it, wait for every transfer to be
    terminal, then check the books from the journal itself. Used by
    `shoal demo`, `shoal bench` and the process tests.
*/
#ifndef BANK_H_INCLUDED
#define BANK_H_INCLUDED

#include "client.h"

typedef struct {
    const char *shoal;    //  the shoal executable (NULL: this process)
    const char *data_dir; //  store (NULL: a new temporary directory)
    bool keep;            //  keep a temporary directory afterwards
    const char *log;      //  node stderr goes here (NULL: inherited)
    size_t accounts;      //  accounts opened
    int64_t funding;      //  deposited into each
    size_t closed;        //  accounts closed before the transfers
    size_t transfers;     //  transfers started
    int64_t max_amount;   //  amounts drawn from 1..max_amount
    size_t hot;           //  0, or: every transfer debits one of the first hot accounts
    size_t window;        //  requests in flight
    int kills;            //  SIGKILLs during the transfers
    uint64_t seed;        //  drives every random choice
    int workers;          //  node workers (0: default)
    bool async;           //  node durability
    bool progress;        //  progress on stderr
} bank_options_t;

typedef struct {
    size_t completed, failed, compensated, unfinished;
    int64_t total_before, total_after; //  from the journal
    size_t debits, credits, refunds;   //  events found in accounts
    int kills;                         //  SIGKILLs done
    size_t resends;                    //  client re-sends
    double transfer_seconds;           //  start of first to last terminal
    double transfers_per_second;       //  completed end to end
    bool balanced;                     //  every invariant held
    char problem[512];                 //  the first broken invariant
    char endpoint[128];                //  the node's
    char data_dir[512];
} bank_result_t;

//  Runs the bank. Returns 0 when the run went through and every invariant
//  held; SHOAL_EREJECTED if an invariant broke (result->problem says
//  which); another negative code if the run itself failed (stderr says).
int bank_run (const bank_options_t *options, bank_result_t *result);

#endif
