/*  books.h - the bank's books, read from the journals of stopped nodes,
    and the bank's invariants (DESIGN.md, "The bank") checked on them.
    Used by `shoal check`, by the demo's check and by the process tests.

    books_read_dir reads every account/ and transfer/ stream of a data
    directory: per account its balance (from Deposited, Withdrawn,
    Debited, Credited and Refunded), its overdraft (from Opened) and the
    first seq at which it went below it, whether it was opened and
    closed; per transfer id the debits, credits and refunds that account
    events name (and the amount debited), and its own stream's last event;
    per transfer id the flags that review/ streams' Flagged events name. Several directories (a
   cluster's nodes) add up into one set of books, so an account on one node and a transfer on
   another meet.

    A books_t belongs to one thread. A node must not be running on a
    directory being read: LevelDB locks it (SHOAL_EBUSY).
*/
#ifndef BOOKS_H_INCLUDED
#define BOOKS_H_INCLUDED

#include "journal.h"
#include "shoal_base.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _books_t books_t;

//  An account, as its events tell it.
typedef struct {
    int64_t balance;   //  from its events
    int64_t overdraft; //  from Opened (0 if none)
    int64_t below_seq; //  first seq with balance < -overdraft (0: never)
    int64_t below;     //  the balance then
    bool opened;       //  an Opened event
    bool closed;       //  a Closed event
} books_account_t;

//  A transfer, as its own stream and the accounts' events tell it. The
//  accounts' addresses are the books' (borrowed until they are destroyed),
//  NULL where no event names one.
typedef struct {
    uint32_t debits, credits, refunds; //  account events naming it
    int64_t debited;                   //  the amount of its (last) Debited
    int64_t credited, refunded;        //  the amounts of its (last) Credited, Refunded
    const char *debited_from;          //  the account of its (last) Debited
    const char *credited_to;           //  of its (last) Credited
    const char *refunded_to;           //  of its (last) Refunded
    const char *from, *to;             //  its Started event's accounts
    int64_t amount;                    //  its Started event's amount
    char last[32];                     //  its stream's last event but Stalled ("": none)
    int64_t started;                   //  created of its Started event (0: none)
    int64_t ended;                     //  created of its last event but Stalled
} books_transfer_t;

typedef enum {
    BOOKS_UNFINISHED, //  no terminal last event (or no stream at all)
    BOOKS_COMPLETED,
    BOOKS_FAILED,
    BOOKS_COMPENSATED,
} books_status_t;

//  A sum of money over accounts: each balance and amount fits in 64 bits
//  (an account refuses more), their sums may not.
typedef __int128 books_money_t;
#define BOOKS_MONEY_CHARS 41 //  the longest books_money_str, with its NUL

//  money in decimal, into text (BOOKS_MONEY_CHARS at least). Returns text.
const char *books_money_str (books_money_t money, char *text);

//  Reads text, an optional '-' and decimal digits (one at least) whose
//  value fits in books_money_t, into *money. Returns 0, or SHOAL_EFORMAT for anything
//  else (*money unchanged).
int books_money_parse (const char *text, books_money_t *money);

//  The invariants: name (as `shoal check` prints it) and what it says.
#define BOOKS_INVARIANTS(X)                                                                        \
    X (MONEY, "money", "balances + in flight (unfinished) = deposits - withdrawals")               \
    X (ONCE, "once", "each transfer debits, credits and refunds at most once")                     \
    X (TERMINAL, "terminal", "every transfer is completed, failed or compensated")                 \
    X (OVERDRAFT, "overdraft", "no balance went below its overdraft")                              \
    X (LEGS, "legs",                                                                               \
       "completed: one debit and one credit; failed: none; compensated: one debit and one refund")

typedef enum {
#define BOOKS_ENUM(id, name, text) BOOKS_##id,
    BOOKS_INVARIANTS (BOOKS_ENUM)
#undef BOOKS_ENUM
        BOOKS_INVARIANT_COUNT
} books_invariant_t;

//  The invariant's name ("money", ...) and its statement. Static strings.
const char *books_invariant_name (books_invariant_t invariant);
const char *books_invariant_text (books_invariant_t invariant);

//  What books_verify finds.
typedef struct {
    size_t accounts;  //  account streams
    size_t open;      //  accounts opened and not closed
    size_t closed;    //  accounts closed
    size_t transfers; //  transfer ids seen
    size_t started;   //  transfers with a Started event
    size_t completed, failed, compensated, unfinished;
    books_money_t total;                    //  sum of balances
    books_money_t in_flight;                //  debited by unfinished transfers, not yet
                                            //  credited or refunded
    books_money_t deposits, withdrawals;    //  sums of Deposited, Withdrawn
    size_t broken[BOOKS_INVARIANT_COUNT];   //  accounts or transfers that break it
    char first[BOOKS_INVARIANT_COUNT][512]; //  the first of them (by key), said
} books_summary_t;

//  Returns empty books, or NULL if memory ran out.
books_t *books_new (void);
void books_destroy (books_t **self_p);

//  Adds the account and transfer streams of the journal in dir. Returns
//  0; SHOAL_ENOTFOUND if dir holds no journal (no LevelDB file at all:
//  nothing is made there); SHOAL_EFORMAT if it holds a damaged one that
//  journal_open refuses (no CURRENT, a bad CURRENT, log or table: the
//  message names `shoal repair`); SHOAL_EBUSY if a node holds it;
//  SHOAL_EIO, SHOAL_EVERSION or SHOAL_ENOMEM. On failure *error
//  (may be NULL) gets a message, the caller's to free(); the books may
//  then hold part of dir.
int books_read_dir (books_t *self, const char *dir, char **error);

//  Checks the format of every record of journal: events, snapshots and
//  inbox records with the journal's decoders, outbox entries and timers as
//  envelopes. Fills *counts; *bad_envelopes gets the outbox entries and
//  timers that do not decode. Returns 0 (even with bad records: see the
//  counts), or SHOAL_EIO if the journal could not be read whole.
int books_check_journal (journal_t *journal, journal_records_t *counts, size_t *bad_envelopes);

//  The account at address / the transfer with id (without "transfer/").
//  Borrowed from the books until they are destroyed or read into; NULL if
//  no event names it.
const books_account_t *books_account (books_t *self, const char *address);
const books_transfer_t *books_transfer (books_t *self, const char *id);

//  The transfer's status by its last event. transfer may be NULL.
books_status_t books_transfer_status (const books_transfer_t *transfer);
//  True if the transfer was debited, credited or refunded more than once.
bool books_transfer_repeated (const books_transfer_t *transfer);
//  What is wrong with a terminal transfer's legs for its status, or NULL.
const char *books_transfer_legs (const books_transfer_t *transfer);

//  The large debits and their flags (actors/review.h): transfers debited
//  at least min, and the Flagged events of review/ streams.
typedef struct {
    size_t debits;        //  transfers debited at least min
    size_t flagged_once;  //  of those, flagged exactly once
    size_t flags;         //  Flagged events, all of them
    size_t wrong;         //  transfers flagged more than once, or flagged and not debited
                          //  at least min
    char first_wrong[96]; //  one of those ("" if none)
} books_review_t;

//  Counts the large debits and their flags into review. This function
//  can't fail.
void books_review (books_t *self, int64_t min, books_review_t *review);

//  Checks every invariant over all that was read into summary. Returns 0
//  if all hold, else SHOAL_EREJECTED. This function can't fail otherwise.
int books_verify (books_t *self, books_summary_t *summary);

//  One break of an invariant: an account (overdraft), a transfer (once,
//  terminal, legs) or the books as a whole (money). Borrowed from the
//  books, as its key: the account's address, the transfer's id (without
//  "transfer/"), "" for money.
typedef struct {
    books_invariant_t invariant;
    const char *key;
    const books_account_t *account;   //  overdraft's, else NULL
    const books_transfer_t *transfer; //  once's, terminal's and legs', else NULL
} books_break_t;

//  Every break of the books as summary (books_verify's) found them, in
//  the order of the invariants, then of their keys: *breaks (the
//  caller's to free) gets *count of them. Returns 0 or SHOAL_ENOMEM.
int books_breaks (books_t *self, const books_summary_t *summary, books_break_t **breaks,
                  size_t *count);

//  The money a transfer's break leaves in no account for good: a transfer
//  whose stream is in no store read (its saga's node not given, or lost)
//  that debited one account and did nothing else. Its account and amount
//  into *account and *amount; false for any other break (a transfer also
//  credited or refunded is whole, whatever its stream).
bool books_break_give_back (const books_break_t *brk, const char **account, int64_t *amount);

//  What the break is, said in text (size bytes, cut to it): its account,
//  or its transfer with the accounts its events name, and the amounts,
//  and the money to give back (books_break_give_back).
//  summary is books_verify's (for money's). Returns text.
const char *books_break_say (const books_break_t *brk, const books_summary_t *summary, char *text,
                             size_t size);

#endif
