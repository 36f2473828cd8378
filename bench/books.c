/*  books.c - the bank's books from journals, and its invariants. See
    books.h. One thread.

    Accounts and transfers are kept in two zhashx tables keyed by the
    account's address and the transfer's id. Known limits: everything is
    held in memory, O(accounts + transfers); an account's overdraft is the
    one its Opened event set, Opened being the only event that sets it.
*/
#include "books.h"
#include "client.h"
#include "journal.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _books_t {
    zhashx_t *accounts;        //  address -> books_account_t, owned
    zhashx_t *transfers;       //  transfer id -> books_transfer_t, owned
    zhashx_t *flags;           //  transfer id -> uint32_t, Flagged events naming it, owned
    zhashx_t *names;           //  account address -> the same, owned: the transfers' accounts
    size_t flag_count;         //  Flagged events
    books_money_t deposits;    //  sum of Deposited
    books_money_t withdrawals; //  sum of Withdrawn
};

static const char *s_names[] = {
#define BOOKS_NAME(id, name, text) name,
    BOOKS_INVARIANTS (BOOKS_NAME)
#undef BOOKS_NAME
};
static const char *s_texts[] = {
#define BOOKS_TEXT(id, name, text) text,
    BOOKS_INVARIANTS (BOOKS_TEXT)
#undef BOOKS_TEXT
};

const char *books_invariant_name (books_invariant_t invariant)
{
    return invariant < BOOKS_INVARIANT_COUNT ? s_names[invariant] : "?";
}

const char *books_invariant_text (books_invariant_t invariant)
{
    return invariant < BOOKS_INVARIANT_COUNT ? s_texts[invariant] : "?";
}

static void s_free_item (void **item)
{
    free (*item);
    *item = NULL;
}

books_t *books_new (void)
{
    books_t *self = calloc (1, sizeof (books_t));
    if (!self)
        return NULL;
    self->accounts = zhashx_new ();
    self->transfers = zhashx_new ();
    self->flags = zhashx_new ();
    self->names = zhashx_new ();
    if (!self->accounts || !self->transfers || !self->flags || !self->names) {
        books_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->accounts, s_free_item);
    zhashx_set_destructor (self->transfers, s_free_item);
    zhashx_set_destructor (self->flags, s_free_item);
    zhashx_set_destructor (self->names, s_free_item);
    return self;
}

void books_destroy (books_t **self_p)
{
    if (*self_p) {
        zhashx_destroy (&(*self_p)->accounts);
        zhashx_destroy (&(*self_p)->transfers);
        zhashx_destroy (&(*self_p)->flags);
        zhashx_destroy (&(*self_p)->names);
        free (*self_p);
        *self_p = NULL;
    }
}

//  The entry for key in table, made (zeroed, size bytes) if missing.
//  NULL if memory ran out.
static void *s_entry (zhashx_t *table, const char *key, size_t size)
{
    void *entry = zhashx_lookup (table, key);
    if (entry)
        return entry;
    entry = calloc (1, size);
    if (entry && zhashx_insert (table, key, entry) != 0) {
        free (entry);
        entry = NULL;
    }
    return entry;
}

//  name, kept as long as the books (one copy however often it is
//  asked). NULL if memory ran out.
static const char *s_intern (books_t *self, const char *name)
{
    char *kept = zhashx_lookup (self->names, name);
    if (kept)
        return kept;
    kept = strdup (name);
    if (kept && zhashx_insert (self->names, name, kept) != 0) {
        free (kept);
        kept = NULL;
    }
    return kept;
}

//  Reading one stream: the books, and the entry the stream is about.
typedef struct {
    books_t *books;
    journal_t *journal;                 //  the one being read
    void *entry;                        //  books_account_t or books_transfer_t
    const char *address;                //  an account's, interned (else NULL)
    int rc;                             //  the first error met
    char stream[SHOAL_ADDRESS_MAX + 1]; //  the stream read when it was met, or ""
} reading_t;

static int s_account_event (void *arg, int64_t seq, const char *name, const uint8_t *data,
                            size_t size, int64_t created)
{
    reading_t *reading = arg;
    books_account_t *account = reading->entry;
    int64_t amount = 0, sign = 0;
    books_money_t *sum = NULL;
    map_int (data, size, "amount", &amount);
    bool moves = strcmp (name, "Deposited") == 0 || strcmp (name, "Withdrawn") == 0 ||
                 strcmp (name, "Debited") == 0 || strcmp (name, "Credited") == 0 ||
                 strcmp (name, "Refunded") == 0;
    if (strcmp (name, "Opened") == 0) {
        map_int (data, size, "overdraft", &account->overdraft);
        account->opened = true;
    } else if (strcmp (name, "Closed") == 0)
        account->closed = true;
    if (!moves)
        return 0;
    sign = strcmp (name, "Withdrawn") == 0 || strcmp (name, "Debited") == 0 ? -1 : 1;
    if (strcmp (name, "Deposited") == 0)
        sum = &reading->books->deposits;
    else if (strcmp (name, "Withdrawn") == 0)
        sum = &reading->books->withdrawals;
    //  An account's own balance past 64 bits: not the bank's events (an
    //  account refuses the command that would take it there).
    if (amount < 0 || __builtin_add_overflow (account->balance, sign * amount, &account->balance)) {
        reading->rc = SHOAL_EFORMAT;
        return 1;
    }
    if (sum)
        *sum += amount;
    if (account->balance < -account->overdraft && account->below_seq == 0) {
        account->below_seq = seq;
        account->below = account->balance;
    }
    char id[SHOAL_ID_MAX + 1];
    if (map_str (data, size, "transfer", id, sizeof id) != 0)
        return 0;
    books_transfer_t *transfer = s_entry (reading->books->transfers, id, sizeof (books_transfer_t));
    if (!transfer) {
        reading->rc = SHOAL_ENOMEM;
        return 1;
    }
    if (strcmp (name, "Debited") == 0) {
        transfer->debits++;
        transfer->debited = amount;
        transfer->debited_from = reading->address;
    } else if (strcmp (name, "Credited") == 0) {
        transfer->credits++;
        transfer->credited = amount;
        transfer->credited_to = reading->address;
    } else if (strcmp (name, "Refunded") == 0) {
        transfer->refunds++;
        transfer->refunded = amount;
        transfer->refunded_to = reading->address;
    }
    return 0;
}

static int s_transfer_event (void *arg, int64_t seq, const char *name, const uint8_t *data,
                             size_t size, int64_t created)
{
    reading_t *reading = arg;
    books_transfer_t *transfer = reading->entry;
    if (strcmp (name, "Stalled") == 0 || name[0] == '$') //  '$': an operator's record
        return 0;
    snprintf (transfer->last, sizeof transfer->last, "%s", name);
    transfer->ended = created;
    if (strcmp (name, "Started") != 0)
        return 0;
    transfer->started = created;
    //  Its accounts, for a break's report: an account lost with its node
    //  is named by them alone.
    char account[SHOAL_ADDRESS_MAX + 1];
    if (map_str (data, size, "from", account, sizeof account) == 0)
        transfer->from = s_intern (reading->books, account);
    if (map_str (data, size, "to", account, sizeof account) == 0)
        transfer->to = s_intern (reading->books, account);
    map_int (data, size, "amount", &transfer->amount);
    return 0;
}

static int s_review_event (void *arg, int64_t seq, const char *name, const uint8_t *data,
                           size_t size, int64_t created)
{
    (void) seq, (void) created;
    reading_t *reading = arg;
    char id[SHOAL_ID_MAX + 1];
    if (strcmp (name, "Flagged") != 0 || map_str (data, size, "transfer", id, sizeof id) != 0)
        return 0;
    uint32_t *flags = s_entry (reading->books->flags, id, sizeof (uint32_t));
    if (!flags) {
        reading->rc = SHOAL_ENOMEM;
        return 1;
    }
    (*flags)++;
    reading->books->flag_count++;
    return 0;
}

static int s_stream (void *arg, const char *stream)
{
    reading_t *reading = arg;
    reading_t inner = {reading->books, reading->journal, NULL, NULL, 0, ""};
    journal_event_fn *fn = NULL;
    if (strncmp (stream, "account/", 8) == 0) {
        inner.address = s_intern (reading->books, stream);
        inner.entry = inner.address
                          ? s_entry (reading->books->accounts, stream, sizeof (books_account_t))
                          : NULL;
        fn = s_account_event;
    } else if (strncmp (stream, "transfer/", 9) == 0) {
        inner.entry = s_entry (reading->books->transfers, stream + 9, sizeof (books_transfer_t));
        fn = s_transfer_event;
    } else if (strncmp (stream, "review/", 7) == 0) {
        inner.entry = reading->books; //  the flags are by transfer: no entry of its own
        fn = s_review_event;
    } else
        return 0;
    int rc = inner.entry ? journal_read (reading->journal, stream, 1, 0, fn, &inner) : SHOAL_ENOMEM;
    reading->rc = rc ? rc : inner.rc;
    if (reading->rc)
        snprintf (reading->stream, sizeof reading->stream, "%s", stream);
    return reading->rc != 0;
}

int books_read_dir (books_t *self, const char *dir, char **error)
{
    assert (self);
    //  journal_open makes a store where there is none: look for one first,
    //  so that a mistyped directory is not made into an empty store. A
    //  damaged one (no CURRENT) is journal_open's to refuse, saying so.
    if (!journal_holds_store (dir)) {
        DIR *listing = opendir (dir);
        int why = listing ? 0 : errno;
        if (listing)
            closedir (listing);
        if (error)
            *error = why == ENOENT ? zsys_sprintf ("%s does not exist", dir)
                     : why         ? zsys_sprintf ("cannot read %s: %s", dir, strerror (why))
                                   : zsys_sprintf ("%s holds no shoal journal", dir);
        why = why == ENOENT ? 0 : why;
        return why ? SHOAL_EIO : SHOAL_ENOTFOUND;
    }
    int code = 0;
    char *message = NULL;
    journal_t *journal = journal_open (dir, NULL, &code, &message);
    if (!journal) {
        //  journal_open's messages name dir and what is wrong with it.
        if (error)
            *error = message ? message
                             : zsys_sprintf ("cannot open the journal in %s: %s", dir,
                                             shoal_strerror (code));
        else
            free (message);
        return code ? code : SHOAL_EIO;
    }
    reading_t reading = {self, journal, NULL, NULL, 0, ""};
    int rc = journal_stream_scan (journal, s_stream, &reading);
    if (rc == 0)
        rc = reading.rc;
    if (rc && error)
        *error = reading.stream[0]
                     ? zsys_sprintf ("the journal in %s could not be read: stream %s: %s", dir,
                                     reading.stream, shoal_strerror (rc))
                     : zsys_sprintf ("the journal in %s could not be read: %s", dir,
                                     shoal_strerror (rc));
    journal_destroy (&journal);
    return rc;
}

//  Counts an outbox entry or timer that does not decode as an envelope.
static int s_check_envelope (void *arg, const char *stream, const uint8_t id[JOURNAL_ID_SIZE],
                             int64_t due, const uint8_t *value, size_t size)
{
    (void) stream, (void) id, (void) due;
    envelope_t envelope;
    if (envelope_decode (&envelope, value, size) == 0)
        return 0;
    (*(size_t *) arg)++;
    return 1;
}

int books_check_journal (journal_t *journal, journal_records_t *counts, size_t *bad_envelopes)
{
    *bad_envelopes = 0;
    memset (counts, 0, sizeof *counts);
    return journal_check_records (journal, counts, s_check_envelope, bad_envelopes);
}

const books_account_t *books_account (books_t *self, const char *address)
{
    return zhashx_lookup (self->accounts, address);
}

const books_transfer_t *books_transfer (books_t *self, const char *id)
{
    return zhashx_lookup (self->transfers, id);
}

books_status_t books_transfer_status (const books_transfer_t *transfer)
{
    if (!transfer)
        return BOOKS_UNFINISHED;
    if (strcmp (transfer->last, "Completed") == 0)
        return BOOKS_COMPLETED;
    if (strcmp (transfer->last, "Failed") == 0)
        return BOOKS_FAILED;
    if (strcmp (transfer->last, "Compensated") == 0)
        return BOOKS_COMPENSATED;
    return BOOKS_UNFINISHED;
}

bool books_transfer_repeated (const books_transfer_t *transfer)
{
    return transfer && (transfer->debits > 1 || transfer->credits > 1 || transfer->refunds > 1);
}

const char *books_transfer_legs (const books_transfer_t *transfer)
{
    if (!transfer)
        return NULL;
    uint32_t debits = transfer->debits, credits = transfer->credits, refunds = transfer->refunds;
    switch (books_transfer_status (transfer)) {
    case BOOKS_COMPLETED: //  what is wrong is named (a review's find: "without" misled)
        return debits != 1 || credits != 1 ? "completed without exactly one debit and one credit"
               : refunds                   ? "completed but refunded too"
                                           : NULL;
    case BOOKS_FAILED:
        return debits || credits || refunds ? "failed but moved money" : NULL;
    case BOOKS_COMPENSATED:
        return debits != 1 || refunds != 1 ? "compensated without exactly one debit and one refund"
               : credits                   ? "compensated but credited too (a credit ran after all)"
                                           : NULL;
    default:
        return NULL;
    }
}

//  Calls fn (arg) with each break of the transfer id.
typedef void (break_fn) (void *arg, const books_break_t *brk);

static void s_transfer_breaks (const char *id, const books_transfer_t *transfer, break_fn *fn,
                               void *arg)
{
    books_break_t brk = {BOOKS_ONCE, id, NULL, transfer};
    if (books_transfer_repeated (transfer))
        fn (arg, &brk);
    brk.invariant = BOOKS_TERMINAL;
    if (books_transfer_status (transfer) == BOOKS_UNFINISHED)
        fn (arg, &brk);
    brk.invariant = BOOKS_LEGS;
    if (books_transfer_legs (transfer))
        fn (arg, &brk);
}

//  Calls fn (arg) with each break of every account and transfer (money
//  is the sums', books_verify's).
static void s_each_break (books_t *self, break_fn *fn, void *arg)
{
    for (books_account_t *account = zhashx_first (self->accounts); account;
         account = zhashx_next (self->accounts))
        if (account->below_seq) {
            books_break_t brk = {BOOKS_OVERDRAFT, zhashx_cursor (self->accounts), account, NULL};
            fn (arg, &brk);
        }
    for (books_transfer_t *transfer = zhashx_first (self->transfers); transfer;
         transfer = zhashx_next (self->transfers))
        s_transfer_breaks (zhashx_cursor (self->transfers), transfer, fn, arg);
}

//  Counts a break, and keeps the first by key of its invariant (so the
//  report does not depend on the tables' order).
typedef struct {
    books_summary_t *summary;
    books_break_t firsts[BOOKS_INVARIANT_COUNT]; //  the first of each, by key
} counting_t;

static void s_count_break (void *arg, const books_break_t *brk)
{
    counting_t *counting = arg;
    books_break_t *first = &counting->firsts[brk->invariant];
    if (counting->summary->broken[brk->invariant]++ == 0 || strcmp (brk->key, first->key) < 0)
        *first = *brk;
}

//  Appends ", WHAT ACCOUNT AMOUNT" (the first without the comma) to text.
static void s_said_leg (char *text, size_t size, const char *what, const char *account,
                        int64_t amount)
{
    size_t used = strlen (text);
    if (used < size)
        snprintf (text + used, size - used, "%s%s %s %lld", text[used - 1] == ' ' ? "" : ", ", what,
                  account ? account : "an account", (long long) amount);
}

//  Appends what the transfer's events say of its accounts to text: where
//  it was started from and to, what was debited, credited and refunded.
static void s_said_accounts (char *text, size_t size, const books_transfer_t *transfer)
{
    size_t used = strlen (text);
    if (used + 3 >= size)
        return;
    snprintf (text + used, size - used, "; ");
    if (transfer->from) {
        used = strlen (text);
        snprintf (text + used, size - used, "started %lld from %s to %s",
                  (long long) transfer->amount, transfer->from, transfer->to ? transfer->to : "?");
    }
    if (transfer->debits)
        s_said_leg (text, size, "debited", transfer->debited_from, transfer->debited);
    if (transfer->credits)
        s_said_leg (text, size, "credited", transfer->credited_to, transfer->credited);
    if (transfer->refunds)
        s_said_leg (text, size, "refunded", transfer->refunded_to, transfer->refunded);
    used = strlen (text);
    if (text[used - 1] == ' ') //  nothing to say: no Started, no leg
        text[used - 2] = 0;
}

bool books_break_give_back (const books_break_t *brk, const char **account, int64_t *amount)
{
    const books_transfer_t *transfer = brk->transfer;
    if (brk->invariant != BOOKS_TERMINAL || !transfer || transfer->last[0] ||
        transfer->debits != 1 || transfer->credits || transfer->refunds)
        return false;
    *account = transfer->debited_from;
    *amount = transfer->debited;
    return true;
}

const char *books_break_say (const books_break_t *brk, const books_summary_t *summary, char *text,
                             size_t size)
{
    const books_transfer_t *transfer = brk->transfer;
    const books_account_t *account = brk->account;
    text[0] = 0;
    switch (brk->invariant) {
    case BOOKS_MONEY: {
        char total[BOOKS_MONEY_CHARS], wanted[BOOKS_MONEY_CHARS], in[BOOKS_MONEY_CHARS],
            out[BOOKS_MONEY_CHARS], flight[BOOKS_MONEY_CHARS];
        snprintf (
            text, size,
            "the total balance is %s, and %s in flight, not %s (deposits %s minus "
            "withdrawals %s)",
            books_money_str (summary->total, total), books_money_str (summary->in_flight, flight),
            books_money_str (summary->deposits - summary->withdrawals, wanted),
            books_money_str (summary->deposits, in), books_money_str (summary->withdrawals, out));
        return text;
    }
    case BOOKS_OVERDRAFT:
        snprintf (text, size, "%s went to %lld at seq %lld, below its overdraft of %lld", brk->key,
                  (long long) account->below, (long long) account->below_seq,
                  (long long) account->overdraft);
        return text;
    case BOOKS_ONCE:
        snprintf (text, size, "transfer/%s was debited %u, credited %u and refunded %u times",
                  brk->key, transfer->debits, transfer->credits, transfer->refunds);
        break;
    case BOOKS_TERMINAL:
        //  No stream in any store read: a node not given, or lost for good
        //  (its sagas went with its store, and only their legs are left).
        snprintf (text, size, "transfer/%s is not terminal (journal: %s)", brk->key,
                  transfer->last[0] ? transfer->last
                                    : "no events: its stream is in none of the stores read, so "
                                      "its saga's node was not given, or is lost");
        break;
    case BOOKS_LEGS:
        snprintf (text, size, "transfer/%s %s (debits %u, credits %u, refunds %u)", brk->key,
                  books_transfer_legs (transfer), transfer->debits, transfer->credits,
                  transfer->refunds);
        break;
    default:
        return text;
    }
    s_said_accounts (text, size, transfer);
    const char *to;
    int64_t amount;
    size_t used = strlen (text);
    if (books_break_give_back (brk, &to, &amount) && used < size)
        snprintf (text + used, size - used,
                  ": no saga will credit or refund it, give %lld back to %s by hand",
                  (long long) amount, to ? to : "its account");
    return text;
}

void books_review (books_t *self, int64_t min, books_review_t *review)
{
    memset (review, 0, sizeof *review);
    review->flags = self->flag_count;
    for (books_transfer_t *transfer = zhashx_first (self->transfers); transfer;
         transfer = zhashx_next (self->transfers)) {
        if (transfer->debits == 0 || transfer->debited < min)
            continue;
        review->debits++;
        uint32_t *flags = zhashx_lookup (self->flags, zhashx_cursor (self->transfers));
        review->flagged_once += flags && *flags == 1;
    }
    for (uint32_t *flags = zhashx_first (self->flags); flags; flags = zhashx_next (self->flags)) {
        const char *id = zhashx_cursor (self->flags);
        const books_transfer_t *transfer = zhashx_lookup (self->transfers, id);
        bool large = transfer && transfer->debits && transfer->debited >= min;
        if (*flags == 1 && large)
            continue;
        review->wrong++;
        if (!review->first_wrong[0] || strcmp (id, review->first_wrong) < 0)
            snprintf (review->first_wrong, sizeof review->first_wrong, "%s", id);
    }
}

const char *books_money_str (books_money_t money, char *text)
{
    char digits[BOOKS_MONEY_CHARS];
    size_t n = 0;
    unsigned __int128 magnitude =
        money < 0 ? -(unsigned __int128) money : (unsigned __int128) money;
    do {
        digits[n++] = (char) ('0' + (int) (magnitude % 10));
        magnitude /= 10;
    } while (magnitude);
    size_t at = 0;
    if (money < 0)
        text[at++] = '-';
    while (n)
        text[at++] = digits[--n];
    text[at] = 0;
    return text;
}

int books_money_parse (const char *text, books_money_t *money)
{
    bool negative = *text == '-';
    const char *digit = text + negative;
    if (!*digit)
        return SHOAL_EFORMAT;
    books_money_t value = 0;
    for (; *digit; digit++)
        if (*digit < '0' || *digit > '9' || __builtin_mul_overflow (value, 10, &value) ||
            __builtin_add_overflow (value, negative ? '0' - *digit : *digit - '0', &value))
            return SHOAL_EFORMAT;
    *money = value;
    return 0;
}

int books_verify (books_t *self, books_summary_t *summary)
{
    memset (summary, 0, sizeof *summary);
    for (books_account_t *account = zhashx_first (self->accounts); account;
         account = zhashx_next (self->accounts)) {
        summary->accounts++;
        summary->closed += account->closed;
        summary->open += account->opened && !account->closed;
        summary->total += account->balance;
    }
    size_t *counts[] = {&summary->unfinished, &summary->completed, &summary->failed,
                        &summary->compensated};
    for (books_transfer_t *transfer = zhashx_first (self->transfers); transfer;
         transfer = zhashx_next (self->transfers)) {
        summary->transfers++;
        summary->started += transfer->started != 0;
        books_status_t status = books_transfer_status (transfer);
        (*counts[status])++;
        //  Between its debit and its credit (a node stopped mid-transfer):
        //  its money is in no account, and not lost (terminal says it).
        if (status == BOOKS_UNFINISHED && transfer->debits == 1 && transfer->credits == 0 &&
            transfer->refunds == 0)
            summary->in_flight += transfer->debited;
    }
    summary->deposits = self->deposits;
    summary->withdrawals = self->withdrawals;
    counting_t counting = {.summary = summary};
    s_each_break (self, s_count_break, &counting);
    if (summary->total + summary->in_flight != self->deposits - self->withdrawals) {
        books_break_t money = {BOOKS_MONEY, "", NULL, NULL};
        s_count_break (&counting, &money);
    }
    bool held = true;
    for (int i = 0; i < BOOKS_INVARIANT_COUNT; i++)
        if (summary->broken[i]) {
            books_break_say (&counting.firsts[i], summary, summary->first[i],
                             sizeof summary->first[i]);
            held = false;
        }
    return held ? 0 : SHOAL_EREJECTED;
}

//  Collects a break into an array (its size counted beforehand).
typedef struct {
    books_break_t *breaks; //  most of them at the most
    size_t count, most;
} collecting_t;

static void s_collect_break (void *arg, const books_break_t *brk)
{
    collecting_t *collecting = arg;
    if (collecting->count < collecting->most)
        collecting->breaks[collecting->count++] = *brk;
}

static int s_by_invariant_and_key (const void *a, const void *b)
{
    const books_break_t *x = a, *y = b;
    if (x->invariant != y->invariant)
        return x->invariant < y->invariant ? -1 : 1;
    return strcmp (x->key, y->key);
}

int books_breaks (books_t *self, const books_summary_t *summary, books_break_t **breaks,
                  size_t *count)
{
    collecting_t collecting = {0};
    for (int i = 0; i < BOOKS_INVARIANT_COUNT; i++)
        collecting.most += summary->broken[i];
    *count = 0;
    collecting.breaks = calloc (collecting.most ? collecting.most : 1, sizeof (books_break_t));
    if (!(*breaks = collecting.breaks))
        return SHOAL_ENOMEM;
    if (summary->broken[BOOKS_MONEY])
        collecting.breaks[collecting.count++] = (books_break_t){BOOKS_MONEY, "", NULL, NULL};
    s_each_break (self, s_collect_break, &collecting);
    qsort (collecting.breaks, collecting.count, sizeof (books_break_t), s_by_invariant_and_key);
    *count = collecting.count;
    return 0;
}
