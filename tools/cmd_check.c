/*  cmd_check.c - `shoal check`: the bank's invariants checked from the
    journals of stopped nodes (bench/books.c does the reading and the
    checking; this file parses and prints).

    Besides the invariants, every record's format is checked (books.c's
    books_check_journal: events, snapshots, inbox records, outbox entries
    and timers decoded as the node would), and every stream of the bank's
    actor types is replayed through its type from event 1, as a node's load
    does (actor_replay_check): an event that decodes but that its type's
    apply refuses (an amount that is not an integer) is one a node answers
    `unavailable` for. The counts are printed, and the first bad one named.

    It reads a copy of each store (storecopy.h), never the store itself:
    opening a LevelDB store writes to it, and a check leaves what it
    checks as it was.

    Exit codes: 0 every invariant holds and every record decodes and
    applies, 1 one or more are broken or do not (stderr names each), 2 bad usage or a data
    directory that cannot be read (none there, no store in it, a node
    holds it), EXIT_DAMAGED a store that journal_open refuses as damaged
    (no CURRENT, a bad CURRENT, log or table), which `shoal repair` is for.
*/
#include "commands.h"
#include "actors.h"
#include "books.h"
#include "journal.h"
#include "registry.h"
#include "storecopy.h"
#include "options.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define CHECK_DIRS_MAX 64
#define CHECK_OWNER_MAX 160 //  a store's "CLUSTER/NODE", at most
#define EXIT_DAMAGED 4      //  a damaged store: shoal repair's work, not check's

static void s_help (FILE *out)
{
    fprintf (out, "Usage: shoal check --data DIR [--data DIR ...] [--list [--limit N]] [--json]\n\n"
                  "Checks the bank's books from the journals of stopped nodes, read directly\n"
                  "(stop the nodes first). With several --data (a cluster's nodes), the books\n"
                  "of all of them together must hold (one node's alone shows its transfers'\n"
                  "other legs missing). Each store is left as it was: opening a LevelDB store\n"
                  "writes to it, so check opens a private copy, DIR/.shoal-check-* (its tables\n"
                  "hard links, its other files copied; under $TMPDIR when DIR is read-only),\n"
                  "removed when it is done; no node can start on DIR meanwhile.\n"
                  "The invariants:\n");
    for (int i = 0; i < BOOKS_INVARIANT_COUNT; i++)
        fprintf (out, "  %-10s %s\n", books_invariant_name (i), books_invariant_text (i));
    fprintf (out, "\nPrints accounts, transfers by status, the total balance and each\n"
                  "invariant ok or broken (the first break of each); the records of each\n"
                  "store by kind, and the positions its event log lacks after a repair\n"
                  "that dropped commits. --list names every break, invariant by invariant,\n"
                  "each transfer with the accounts and amounts its events name: after a\n"
                  "node is lost for good, check the others' stores with --list: each\n"
                  "transfer whose stream is in none of them (\"its saga's node was not\n"
                  "given, or is lost\") that debited an account and was neither\n"
                  "credited nor refunded is said \"give N back to account/A by hand\"\n"
                  "(JSON \"give_back\"): money no saga will return (shoal send account/A\n"
                  "Deposit amount=N). One credited or refunded too is whole: give nothing.\n\n"
                  "Exit: 0 the books hold; 1 an invariant is broken, a record does not\n"
                  "decode, a stream has a hole, or an event does not apply to its actor (the\n"
                  "bank's types replay each stream as a node's load does; stderr names\n"
                  "each); 2 bad usage, or a directory that holds no store or cannot be read\n"
                  "(a node runs on it); 4 a store that is damaged and cannot be opened or\n"
                  "read (its CURRENT file lost or corrupt, a bad log or table, a hole in\n"
                  "one of the bank's streams): stop there, copy DIR, run\n"
                  "`shoal repair --data DIR`, then check.\n\n"
                  "Options:\n"
                  "  --data DIR   a stopped node's data directory (repeatable, at most 64)\n"
                  "  --list       name every break (text: after the summary; JSON: \"breaks\")\n"
                  "  --limit N    with --list, at most N breaks (default 1000; the rest\n"
                  "               counted: \"breaks_left_off\")\n"
                  "  --json       print the summary as one JSON object\n\n"
                  "Examples:\n"
                  "  shoal demo --data ./bank && shoal check --data ./bank\n"
                  "  shoal check --data node1 --data node2 --data node3 --json\n"
                  "  shoal check --data node1 --data node3 --list --json | jq '.breaks[]'\n");
}

static void s_print_text (const char *const *dirs, int count, const books_summary_t *s)
{
    printf ("shoal check: the books of %d data director%s\n", count, count == 1 ? "y" : "ies");
    for (int i = 0; i < count; i++)
        printf ("  data           %s\n", dirs[i]);
    printf ("  accounts       %8zu\n", s->accounts);
    printf ("  transfers      %8zu   (completed %zu, failed %zu, compensated %zu, "
            "unfinished %zu)\n",
            s->transfers, s->completed, s->failed, s->compensated, s->unfinished);
    char total[BOOKS_MONEY_CHARS], in[BOOKS_MONEY_CHARS], out[BOOKS_MONEY_CHARS],
        flight[BOOKS_MONEY_CHARS];
    printf ("  total balance  %8s   (deposits %s, withdrawals %s)\n",
            books_money_str (s->total, total), books_money_str (s->deposits, in),
            books_money_str (s->withdrawals, out));
    if (s->in_flight)
        printf ("  in flight      %8s   (debited by unfinished transfers, not yet credited)\n",
                books_money_str (s->in_flight, flight));
    for (int i = 0; i < BOOKS_INVARIANT_COUNT; i++) {
        if (s->broken[i] == 0)
            printf ("  %-14s ok\n", books_invariant_name (i));
        else
            printf ("  %-14s BROKEN   %zu time%s; first: %s\n", books_invariant_name (i),
                    s->broken[i], s->broken[i] == 1 ? "" : "s", s->first[i]);
    }
}

//  The optional strings of a break's JSON: "NAME":"VALUE" or "NAME":null.
static void s_json_field (const char *name, const char *value)
{
    printf (",\"%s\":", name);
    if (value)
        json_string (stdout, value, strlen (value));
    else
        printf ("null");
}

//  One break as a JSON object.
static void s_print_break_json (const books_break_t *brk, const books_summary_t *s)
{
    char said[768];
    books_break_say (brk, s, said, sizeof said);
    printf ("{\"invariant\":\"%s\"", books_invariant_name (brk->invariant));
    s_json_field ("said", said);
    if (brk->account) {
        s_json_field ("account", brk->key);
        printf (",\"went_to\":%lld,\"at_seq\":%lld,\"overdraft\":%lld",
                (long long) brk->account->below, (long long) brk->account->below_seq,
                (long long) brk->account->overdraft);
    }
    const books_transfer_t *t = brk->transfer;
    if (t) {
        s_json_field ("transfer", brk->key);
        printf (",\"stream\":%s", t->last[0] ? "true" : "false");
        s_json_field ("last", t->last[0] ? t->last : NULL);
        s_json_field ("from", t->from);
        s_json_field ("to", t->to);
        printf (",\"amount\":%lld,\"debits\":%u,\"credits\":%u,\"refunds\":%u",
                (long long) t->amount, t->debits, t->credits, t->refunds);
        s_json_field ("debited_from", t->debited_from);
        printf (",\"debited\":%lld", (long long) t->debited);
        s_json_field ("credited_to", t->credited_to);
        printf (",\"credited\":%lld", (long long) t->credited);
        s_json_field ("refunded_to", t->refunded_to);
        printf (",\"refunded\":%lld", (long long) t->refunded);
        const char *account;
        int64_t amount;
        if (books_break_give_back (brk, &account, &amount)) {
            printf (",\"give_back\":{\"account\":");
            json_string (stdout, account ? account : "", account ? strlen (account) : 0);
            printf (",\"amount\":%lld}", (long long) amount);
        } else
            printf (",\"give_back\":null");
    }
    printf ("}");
}

//  The list of breaks (--list): JSON's "breaks" and "breaks_left_off"
//  (after a ',' of the object being printed), or text lines.
static void s_print_breaks (const books_break_t *breaks, size_t count, size_t limit,
                            const books_summary_t *s, bool json)
{
    size_t shown = count < limit ? count : limit;
    if (json) {
        printf (",\"breaks\":[");
        for (size_t i = 0; i < shown; i++) {
            printf ("%s", i ? "," : "");
            s_print_break_json (&breaks[i], s);
        }
        printf ("],\"breaks_left_off\":%zu", count - shown);
        return;
    }
    if (count == 0)
        return;
    printf ("breaks (%zu%s, by invariant, then address):\n", count,
            shown < count ? "; the first ones" : "");
    for (size_t i = 0; i < shown; i++) {
        char said[768];
        printf ("  %-10s %s\n", books_invariant_name (breaks[i].invariant),
                books_break_say (&breaks[i], s, said, sizeof said));
    }
    if (shown < count)
        printf ("  ... and %zu more (--limit N shows more)\n", count - shown);
}

static void s_print_json (const char *const *dirs, int count, const books_summary_t *s, bool held,
                          const books_break_t *breaks, size_t broken, size_t limit)
{
    char total[BOOKS_MONEY_CHARS], in[BOOKS_MONEY_CHARS], out[BOOKS_MONEY_CHARS],
        flight[BOOKS_MONEY_CHARS];
    printf ("{\"data\":[");
    for (int i = 0; i < count; i++) {
        if (i)
            printf (",");
        json_string (stdout, dirs[i], strlen (dirs[i]));
    }
    printf ("],\"accounts\":%zu,\"transfers\":%zu,\"completed\":%zu,\"failed\":%zu,"
            "\"compensated\":%zu,\"unfinished\":%zu,\"total_balance\":%s,\"in_flight\":%s,"
            "\"deposits\":%s,\"withdrawals\":%s,\"invariants\":{",
            s->accounts, s->transfers, s->completed, s->failed, s->compensated, s->unfinished,
            books_money_str (s->total, total), books_money_str (s->in_flight, flight),
            books_money_str (s->deposits, in), books_money_str (s->withdrawals, out));
    for (int i = 0; i < BOOKS_INVARIANT_COUNT; i++) {
        printf ("%s\"%s\":{\"ok\":%s,\"broken\":%zu,\"first\":", i ? "," : "",
                books_invariant_name (i), s->broken[i] ? "false" : "true", s->broken[i]);
        if (s->broken[i])
            json_string (stdout, s->first[i], strlen (s->first[i]));
        else
            printf ("null");
        printf ("}");
    }
    printf ("}");
    if (breaks)
        s_print_breaks (breaks, broken, limit, s, true);
    printf (",\"ok\":%s}\n", held ? "true" : "false");
}

//  What the store at path says it belongs to ("CLUSTER/NODE", "/" for a
//  node alone; "" if it says nothing) into owner (size bytes).
static void s_owner (const char *path, char *owner, size_t size, char **placed)
{
    owner[0] = 0;
    *placed = NULL;
    int code = 0;
    char *error = NULL, *stored = NULL;
    journal_t *journal = journal_open (path, NULL, &code, &error);
    if (journal && journal_meta_get (journal, "owner", &stored) == 0)
        snprintf (owner, size, "%s", stored);
    free (stored);
    if (journal && journal_meta_get (journal, "owner_shards", placed) != 0)
        *placed = NULL; //  whole, however long: a map of scattered shards is
    free (error);       //  kilobytes, and a cut one named nodes wrongly
    journal_destroy (&journal);
}

//  True if every node that the placement placed ("n1=0-84;n2=85-170;...",
//  the store's owner_shards) is among the count owners ("CLUSTER/NODE")
//  of cluster (cluster_len bytes).
static bool s_all_given (const char *placed, char (*owners)[CHECK_OWNER_MAX], int count,
                         const char *cluster, int cluster_len)
{
    if (!placed || !placed[0])
        return false; //  not known: a store of a map before placements
    for (const char *at = placed; *at;) {
        size_t name_len = strcspn (at, "=;");
        bool given = false;
        for (int j = 0; j < count && !given; j++)
            given = strncmp (owners[j], cluster, (size_t) cluster_len + 1) == 0 &&
                    strlen (owners[j] + cluster_len + 1) == name_len &&
                    strncmp (owners[j] + cluster_len + 1, at, name_len) == 0;
        if (!given)
            return false;
        at += strcspn (at, ";");
        at += *at == ';';
    }
    return true;
}

//  Books that do not hold over stores of a cluster's nodes may hold over
//  all of them: a transfer between two nodes is in both their stores.
//  Says which nodes were given, of which cluster, from the stores' copies
//  (read again only here: the books not holding is rare).
static void s_cluster_hint (storecopy_t *const *copies, int count)
{
    static char owners[CHECK_DIRS_MAX][CHECK_OWNER_MAX];
    char *placed[CHECK_DIRS_MAX] = {NULL};
    for (int i = 0; i < count; i++)
        if (copies[i])
            s_owner (storecopy_path (copies[i]), owners[i], sizeof owners[i], &placed[i]);
        else
            owners[i][0] = 0;
    bool said = false;
    for (int i = 0; i < count && !said; i++) {
        const char *slash = strchr (owners[i], '/');
        if (!slash || slash == owners[i] || !slash[1])
            continue;
        int cluster_len = (int) (slash - owners[i]);
        char nodes[512] = "";
        for (int j = 0; j < count; j++)
            if (strncmp (owners[j], owners[i], (size_t) cluster_len + 1) == 0) {
                size_t used = strlen (nodes);
                snprintf (nodes + used, sizeof nodes - used, "%s%s", used ? ", " : "",
                          owners[j] + cluster_len + 1);
            }
        //  Every node's store given: nothing is missing (it said to give
        //  them all, and an operator looked for a node that was not there).
        if (s_all_given (placed[i], owners, count, owners[i], cluster_len))
            fprintf (stderr,
                     "shoal check: these stores are every node of cluster %.*s (%s): its books "
                     "do not hold over all of them\n",
                     cluster_len, owners[i], nodes);
        else
            fprintf (stderr,
                     "shoal check: these stores are node%s %s of cluster %.*s: a transfer "
                     "between two of its nodes is in both their stores, so its books hold only "
                     "over all of them: give every node's store, stopped (--data per node); a "
                     "node lost for good cannot be given: --list names the transfers its sagas "
                     "left, and the money to give back by hand\n",
                     strchr (nodes, ',') ? "s" : "", nodes, cluster_len, owners[i]);
        said = true;
    }
    for (int i = 0; i < count; i++)
        free (placed[i]);
}

int cmd_check (int argc, char **argv)
{
    const char *dirs[CHECK_DIRS_MAX];
    int count = 0;
    bool json = false, list = false, limited = false;
    long limit = 1000;
    const option_t table[] = {OPT_LIST ("data", dirs, &count), OPT_FLAG ("json", &json),
                              OPT_FLAG ("list", &list),
                              OPT_COUNT ("limit", &limit, 1, 100000000, &limited), OPT_END};
    int first = options_parse (table, argc, argv, s_help);
    if (first == OPTIONS_HELP)
        return 0;
    if (first == OPTIONS_ERROR)
        return EXIT_USAGE;
    if (first < argc) {
        fprintf (stderr, "shoal check: unexpected argument '%s'\n", argv[first]);
        return EXIT_USAGE;
    }
    if (limited && !list) {
        fprintf (stderr, "shoal check: --limit N goes with --list\n");
        return EXIT_USAGE;
    }
    if (count == 0) {
        fprintf (stderr, "shoal check: --data DIR is required\n\n");
        s_help (stderr);
        return EXIT_USAGE;
    }
    //  One directory named twice (./d and d/, or a link) would count its
    //  accounts twice: the sums would be wrong and look right.
    struct stat seen[CHECK_DIRS_MAX];
    bool known[CHECK_DIRS_MAX];
    for (int i = 0; i < count; i++) {
        known[i] = stat (dirs[i], &seen[i]) == 0; //  else said by books_read_dir
        for (int j = 0; j < i && known[i]; j++)
            if (known[j] && seen[j].st_ino == seen[i].st_ino && seen[j].st_dev == seen[i].st_dev) {
                fprintf (stderr,
                         "shoal check: --data %s and --data %s are the same directory: each "
                         "node's once\n",
                         dirs[j], dirs[i]);
                return EXIT_USAGE;
            }
    }
    books_t *books = books_new ();
    if (!books) {
        fprintf (stderr, "shoal check: out of memory\n");
        return EXIT_USAGE;
    }
    storecopy_t *copies[CHECK_DIRS_MAX] = {NULL};
    int rc = 0;
    for (int i = 0; i < count && rc == 0; i++) {
        char *error = NULL;
        //  Where there is no store, books_read_dir says so (and makes none).
        if (journal_holds_store (dirs[i]))
            copies[i] = storecopy_new (dirs[i], &rc, &error);
        if (rc == 0)
            rc = books_read_dir (books, copies[i] ? storecopy_path (copies[i]) : dirs[i], &error);
        if (copies[i])
            error = storecopy_unname (copies[i], error);
        if (rc) {
            fprintf (stderr, "shoal check: %s%s\n", error ? error : shoal_strerror (rc),
                     rc == SHOAL_EBUSY ? " (stop the node first)" : "");
            if (rc == SHOAL_EFORMAT && !(error && strstr (error, "shoal repair")))
                fprintf (stderr,
                         "shoal check: %s is damaged: `shoal repair --data %s` can "
                         "salvage what is readable\n",
                         dirs[i], dirs[i]);
        }
        free (error);
    }
    size_t bad_records = 0;
    for (int i = 0; i < count && rc == 0; i++)
        bad_records += cmd_check_records (dirs[i], copies[i], true, json ? stderr : stdout);
    if (rc) {
        for (int i = 0; i < count; i++)
            storecopy_destroy (&copies[i]);
        books_destroy (&books);
        return rc == SHOAL_EFORMAT ? EXIT_DAMAGED : EXIT_USAGE;
    }
    books_summary_t summary;
    bool held = books_verify (books, &summary) == 0;
    books_break_t *breaks = NULL;
    size_t broken = 0;
    if (list && books_breaks (books, &summary, &breaks, &broken) != 0)
        fprintf (stderr, "shoal check: out of memory for the list of breaks: the summary only\n");
    if (json)
        s_print_json (dirs, count, &summary, held, breaks, broken, (size_t) limit);
    else {
        s_print_text (dirs, count, &summary);
        if (breaks)
            s_print_breaks (breaks, broken, (size_t) limit, &summary, false);
    }
    free (breaks);
    books_destroy (&books); //  after the list: its keys and accounts are the books'
    if (!held && !list)
        fprintf (stderr, "shoal check: --list names every break, with its accounts\n");
    for (int i = 0; i < BOOKS_INVARIANT_COUNT && !held; i++)
        if (summary.broken[i])
            fprintf (stderr, "shoal check: invariant '%s' broken: %s\n", books_invariant_name (i),
                     summary.first[i]);
    if (!held)
        s_cluster_hint (copies, count);
    for (int i = 0; i < count; i++)
        storecopy_destroy (&copies[i]);
    if (bad_records)
        fprintf (stderr,
                 "shoal check: %zu record%s that a node cannot read (not decoding, or refused "
                 "by %s actor's type)\n",
                 bad_records, bad_records == 1 ? "" : "s", bad_records == 1 ? "its" : "their");
    return held && bad_records == 0 ? 0 : EXIT_REJECTED;
}

//  The streams of the bank's actors replayed through their types.
typedef struct {
    journal_t *journal;
    shoal_registry_t *registry;
    size_t refused;  //  events a type's apply refuses, one a stream at most
    int rc;          //  a read that failed otherwise than on a bad record
    char first[400]; //  the first event refused, described ("" if none)
} replays_t;

//  Replays stream through its type, if the bank has one, as a node's load
//  does: an event the type refuses is one the node answers `unavailable`
//  for (malformed record), though it decodes. A record that does not
//  decode (journal_check_records counts it) is not counted again.
static int s_replay_stream (void *arg, const char *stream)
{
    replays_t *self = arg;
    const shoal_type_t *type = registry_lookup (self->registry, stream);
    if (!type)
        return 0;
    int64_t refused = 0;
    int rc = actor_replay_check (self->journal, type, stream, &refused);
    if (rc == 0 || ((rc == SHOAL_EFORMAT || rc == SHOAL_EVERSION) && refused == 0))
        return 0;
    if (rc != SHOAL_EFORMAT) {
        self->rc = rc;
        return 1;
    }
    if (self->refused++ == 0)
        snprintf (self->first, sizeof self->first,
                  "event %" PRId64 " of %s: the %s type refuses it (a node answers `unavailable`, "
                  "\"cannot be loaded\", for this actor)",
                  refused, stream, type->name);
    return 0;
}

//  Replays every stream of the bank's types in journal into replays.
//  Returns 0 or an error (replays->rc, or the scan's).
static int s_check_replays (journal_t *journal, replays_t *replays)
{
    replays->journal = journal;
    replays->registry = registry_new ();
    int rc = replays->registry ? bank_register (replays->registry) : SHOAL_ENOMEM;
    if (rc == 0)
        rc = journal_stream_scan (journal, s_replay_stream, replays);
    if (rc == 0)
        rc = replays->rc;
    registry_destroy (&replays->registry);
    return rc;
}

//  Reads what repairs kept of the acknowledged events they found cut from
//  the log's end (lost: JOURNAL_REPAIR_LOST_META's lines, or NULL) into
//  *cut, the first repair said into first (size bytes). Returns how many
//  repairs cut some.
static size_t s_repairs_cut (const char *lost, size_t *cut, char *first, size_t size)
{
    size_t repairs = 0;
    for (const char *line = lost; line && *line;
         line = strchr (line, '\n') ? strchr (line, '\n') + 1 : NULL) {
        int64_t when;
        uint64_t end, synced;
        if (sscanf (line, "%" SCNd64 " %" SCNu64 " %" SCNu64, &when, &end, &synced) != 3 ||
            end >= synced)
            continue;
        if (repairs++ == 0) {
            time_t at = (time_t) (when / 1000);
            struct tm tm;
            gmtime_r (&at, &tm);
            char stamp[32];
            strftime (stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
            snprintf (first, size,
                      "the first on %s found the log ending at %" PRIu64 " where %" PRIu64
                      " had been made durable",
                      stamp, end, synced);
        }
        *cut += (size_t) (synced - end);
    }
    return repairs;
}

size_t cmd_check_records (const char *dir, storecopy_t *copy, bool replay, FILE *out)
{
    journal_records_t n;
    size_t bad_envelopes = 0;
    replays_t replays = {0};
    const char *path = copy ? storecopy_path (copy) : dir;
    int code = 0;
    char *message = NULL, *error = NULL;
    journal_t *journal = journal_open (path, NULL, &code, &message);
    if (!journal)
        error = zsys_sprintf ("cannot open the journal in %s: %s", path,
                              message ? message : shoal_strerror (code));
    int rc = journal ? books_check_journal (journal, &n, &bad_envelopes) : 0;
    if (journal && rc == 0 && replay)
        rc = s_check_replays (journal, &replays);
    char *lost = NULL; //  what repairs accepted as lost from the log's end
    if (journal && rc == 0 && journal_meta_get (journal, JOURNAL_REPAIR_LOST_META, &lost) != 0)
        lost = NULL;
    if (rc)
        error = zsys_sprintf ("the journal in %s could not be read whole: %s", path,
                              shoal_strerror (rc));
    journal_destroy (&journal);
    free (message);
    if (error) {
        if (copy)
            error = storecopy_unname (copy, error);
        fprintf (stderr, "shoal check: %s\n", error);
        free (error);
        return 1;
    }
    size_t bad =
        n.bad_events + n.bad_snapshots + n.bad_inbox + n.bad_log + n.bad_keys + bad_envelopes;
    fprintf (out,
             "records of %s: %zu events, %zu snapshots, %zu inbox, %zu outbox, %zu timers, "
             "%zu event log, %zu projection, %zu metadata: %zu do not decode, %zu stream%s "
             "with a hole",
             dir, n.events, n.snapshots, n.inbox, n.outbox, n.timers, n.log, n.views, n.meta, bad,
             n.holes, n.holes == 1 ? "" : "s");
    if (replay)
        fprintf (out, ", %zu event%s refused by %s actor's type", replays.refused,
                 replays.refused == 1 ? "" : "s", replays.refused == 1 ? "its" : "their");
    //  A repaired store's holes: what the repair said it dropped, not
    //  damage (an open refuses a hole in a store not repaired).
    if (n.log_missing)
        fprintf (out,
                 "; the event log lacks %" PRIu64 " position%s (the first from %" PRIu64
                 " to %" PRIu64 "): commits a repair dropped",
                 n.log_missing, n.log_missing == 1 ? "" : "s", n.log_from, n.log_to - 1);
    if (n.repaired_holes)
        fprintf (out,
                 "; %zu stream%s with a hole in a store not marked GAPLESS (its events dropped "
                 "by a repair, or the store made before the mark; a node serves them as they "
                 "are; the first: %s)",
                 n.repaired_holes, n.repaired_holes == 1 ? "" : "s", n.first_repaired);
    //  Acknowledged events gone from their streams, which the event log
    //  still holds: each such actor reads without them (an account lost
    //  whole reads as never opened). Not a store a node refuses, but not
    //  the books that were acknowledged: check fails, naming them.
    if (n.unstreamed)
        fprintf (out,
                 "; %zu event%s of the event log missing from %s stream%s (the first: %s): "
                 "a repair dropped them, and %s actor%s read%s as if %s never happened",
                 n.unstreamed, n.unstreamed == 1 ? "" : "s", n.unstreamed == 1 ? "its" : "their",
                 n.unstreamed == 1 ? "" : "s", n.first_unstreamed,
                 n.unstreamed == 1 ? "its" : "their", n.unstreamed == 1 ? "" : "s",
                 n.unstreamed == 1 ? "s" : "", n.unstreamed == 1 ? "it" : "they");
    //  Acknowledged positions a repair found gone from the log's end: no
    //  hole is left (new events take them), so only what it kept says so.
    size_t cut = 0;
    char first[160] = "";
    size_t repairs = s_repairs_cut (lost, &cut, first, sizeof first);
    free (lost);
    if (repairs)
        fprintf (out,
                 "; %zu acknowledged event%s cut from the event log's end by %zu repair%s (%s)",
                 cut, cut == 1 ? "" : "s", repairs, repairs == 1 ? "" : "s", first);
    fprintf (out, "\n");
    bad += n.holes;
    if (bad)
        fprintf (stderr, "shoal check: in %s: first bad: %s\n", dir, n.first_bad);
    if (n.unstreamed)
        fprintf (stderr,
                 "shoal check: in %s: %zu acknowledged event%s lost from %s stream%s (the "
                 "first: %s); the event log keeps %s: shoal events cannot show %s, restore "
                 "a backup to have %s back\n",
                 dir, n.unstreamed, n.unstreamed == 1 ? "" : "s",
                 n.unstreamed == 1 ? "its" : "their", n.unstreamed == 1 ? "" : "s",
                 n.first_unstreamed, n.unstreamed == 1 ? "a copy" : "copies",
                 n.unstreamed == 1 ? "it" : "them", n.unstreamed == 1 ? "it" : "them");
    bad += n.unstreamed;
    //  A repaired store's holes and the commits its log lacks: what a
    //  repair dropped, which a node serves as it is; acknowledged work
    //  gone all the same (its --help says a hole fails; it passed, and
    //  a backup copied over a store passed as books ok).
    if (n.repaired_holes || n.log_missing)
        fprintf (stderr,
                 "shoal check: in %s: what a repair dropped: %zu stream%s with a hole, %" PRIu64
                 " commit%s missing from the event log; those actors read without them\n",
                 dir, n.repaired_holes, n.repaired_holes == 1 ? "" : "s", n.log_missing,
                 n.log_missing == 1 ? "" : "s");
    bad += n.repaired_holes + (size_t) n.log_missing;
    if (repairs)
        fprintf (stderr,
                 "shoal check: in %s: %zu acknowledged event%s gone: a repair took the store as "
                 "it was without %s (what they did is not in the books; restore a backup to "
                 "have %s back)\n",
                 dir, cut, cut == 1 ? "" : "s", cut == 1 ? "it" : "them", cut == 1 ? "it" : "them");
    bad += cut;
    if (replays.refused)
        fprintf (stderr, "shoal check: in %s: first refused: %s\n", dir, replays.first);
    return bad + replays.refused;
}
