/*  cmd_demo.c - `shoal demo`: the bank under crashes, on an embedded
    default. Starts its own node on a free loopback port with its own data
    directory, opens and funds accounts, closes a few, runs concurrent
    transfers while killing the node with SIGKILL and restarting it, waits
    for every transfer to finish and checks the books from the journal.
    Meanwhile it shows the live balance from the bank_totals projection;
    at the end it waits for the projections to catch up and checks
    bank_totals and the review flags (large_debits' reaction) against the
    journal too.
    With --nodes N it runs a cluster of N nodes of its own instead (ipc://
    endpoints in its directory), kills random nodes and freezes one.
*/
#include "commands.h"
#include "bank.h"
#include "bank_projections.h"
#include "node_child.h"
#include "options.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void s_help (FILE *out)
{
    fprintf (out,
             "Usage: shoal demo [OPTIONS]\n\n"
             "Runs the bank on a node of its own (a child process on a free loopback port,\n"
             "a temporary data directory): opens and funds accounts, closes 1%% of them,\n"
             "runs concurrent transfers (some overdraw and fail, some hit a closed account\n"
             "and are compensated), kills the node with SIGKILL mid-run and restarts it,\n"
             "waits for every transfer, then checks the books from the journal itself.\n"
             "Beside the progress: the balance of the bank_totals projection, live. At the\n"
             "end, once the projections have caught up: bank_totals (balance, accounts,\n"
             "transfers by outcome) must equal the journal, and every debit of %d or more\n"
             "must have been flagged exactly once in review/ACCOUNT (large_debits).\n"
             "With --nodes N the same runs on a cluster of N nodes of its own\n"
             "(`shoal cluster init --ipc` in the temporary directory, one child process\n"
             "per node, a client connected to all of them): the kills hit random nodes,\n"
             "one random node is frozen with SIGSTOP mid-run (then SIGCONT), and the\n"
             "books are checked across every node's journal.\n"
             "Exits 1 if any invariant fails, or once nothing moved for 30 s while a node\n"
             "refused its requests for now (60 s with no answer at all; its own kills and\n"
             "freeze not counted). Ctrl-C (SIGINT) or SIGTERM stops its nodes,\n"
             "removes its temporary directory and exits 130 or 143; a second one ends it\n"
             "at once.\n\n"
             "Options:\n"
             "  --accounts N      accounts (default 1000)\n"
             "  --transfers N     transfers (default 20000)\n"
             "  --concurrency N   requests in flight (default 256)\n"
             "  --kills N         SIGKILLs during the transfers (default 2, at most 15)\n"
             "  --nodes N         run a cluster of N nodes, 1 to %d (1: a cluster of one,\n"
             "                    with CURVE; default: one node alone)\n"
             "  --freeze-ms MS    SIGSTOP one random node for MS once mid-run, 0 for none\n"
             "                    (default 3000 with --nodes 2 or more; a node alone is\n"
             "                    never frozen)\n"
             "  --seed N          random seed (default: from the clock; printed)\n"
             "  --workers N       node workers (default: number of cores)\n"
             "  --data DIR        use DIR (kept) instead of a temporary directory (with\n"
             "                    --nodes: DIR/cluster and DIR/nI; at most 72 bytes); new\n"
             "                    or empty: a store of an earlier run is refused\n"
             "  --json            print the summary as one JSON object\n\n"
             "Examples:\n"
             "  shoal demo\n"
             "  shoal demo --transfers 100000 --kills 5 --seed 42\n"
             "  shoal demo --nodes 3\n"
             "  shoal demo --nodes 5 --kills 6 --freeze-ms 5000 --seed 42\n",
             LARGE_DEBIT_MIN, BANK_NODES_MAX);
}

//  Whether bank_totals (caught up) says what the run's check of the
//  journal says: the summary prints the one beside the other.
static bool s_projected_same (const bank_result_t *r)
{
    const bank_totals_t *p = &r->projected;
    return p->balance == r->total_after && p->open == (int64_t) r->open &&
           p->closed == (int64_t) r->closed && p->completed == (int64_t) r->completed &&
           p->failed == (int64_t) r->failed && p->compensated == (int64_t) r->compensated;
}

//  Whether dir is missing or empty (false, said on stderr, if it holds
//  anything or cannot be read): the demo's checks count every account and
//  transfer of its store, so a store of an earlier run would be mixed in.
static bool s_data_dir_fresh (const char *dir)
{
    DIR *handle = opendir (dir);
    if (!handle && errno == ENOENT)
        return true;
    if (!handle) {
        fprintf (stderr, "shoal demo: --data %s: %s\n", dir, strerror (errno));
        return false;
    }
    struct dirent *entry;
    bool empty = true;
    while (empty && (entry = readdir (handle)))
        empty = streq (entry->d_name, ".") || streq (entry->d_name, "..");
    closedir (handle);
    if (!empty)
        fprintf (stderr,
                 "shoal demo: --data %s is not empty (a store of an earlier run?): the demo "
                 "checks the books of everything in it; give it a new or empty directory\n",
                 dir);
    return empty;
}

//  bank_totals beside the journal, and the review flags: the summary's
//  lines about the projections.
static void s_print_projected (const bank_result_t *r)
{
    if (!r->has_projected) {
        printf ("  bank_totals         -   (the projections did not catch up)\n");
        return;
    }
    const bank_totals_t *p = &r->projected;
    bool same = s_projected_same (r);
    char where[64];
    if (r->nodes >= 2)
        snprintf (where, sizeof where, "summed over %d nodes, each caught up", r->nodes);
    else
        snprintf (where, sizeof where, "caught up at log position %llu",
                  (unsigned long long) p->position);
    char balance[BOOKS_MONEY_CHARS];
    printf ("  bank_totals    %8s   (the projection, %s)\n", books_money_str (p->balance, balance),
            where);
    printf ("                 %8s   accounts %lld open, %lld closed; transfers %lld completed, "
            "%lld failed, %lld compensated\n",
            "", (long long) p->open, (long long) p->closed, (long long) p->completed,
            (long long) p->failed, (long long) p->compensated);
    printf ("                 %8s   %s the journal (%zu open, %zu closed)\n", "",
            same ? "the same as" : "NOT the same as", r->open, r->closed);
    printf ("  review flags   %8zu   (large_debits: one per debit of %d or more; %zu such "
            "debits)\n",
            r->flags, LARGE_DEBIT_MIN, r->large_debits);
}

int cmd_demo (int argc, char **argv)
{
    bank_options_t o = {
        .accounts = 1000,
        .funding = 1000,
        .transfers = 20000,
        .max_amount = 700,
        .window = 256,
        .kills = 2,
        .seed = (uint64_t) time (NULL) ^ ((uint64_t) getpid () << 32),
        .progress = true,
        .projections = true,
    };
    bool json = false;
    long freeze_ms = -1; //  not given
    const option_t table[] = {
        OPT_INT ("accounts", &o.accounts, 2, 10000000),
        OPT_INT ("transfers", &o.transfers, 1, 100000000),
        OPT_INT ("concurrency", &o.window, 1, 100000),
        OPT_INT ("kills", &o.kills, 0, 15),
        OPT_INT ("nodes", &o.nodes, 1, BANK_NODES_MAX),
        OPT_INT ("freeze-ms", &freeze_ms, 0, 600000),
        OPT_INT ("seed", &o.seed, 0, LONG_MAX),
        OPT_INT ("workers", &o.workers, 1, 256),
        OPT_STRING ("data", &o.data_dir),
        OPT_FLAG ("json", &json),
        OPT_END,
    };
    int first = options_parse (table, argc, argv, s_help);
    if (first < 0)
        return first == OPTIONS_HELP ? 0 : EXIT_USAGE;
    if (first < argc) {
        fprintf (stderr, "shoal demo: unexpected argument '%s'\n", argv[first]);
        return EXIT_USAGE;
    }
    if (freeze_ms > 0 && o.nodes < 2) {
        fprintf (stderr, "shoal demo: --freeze-ms freezes one node of a cluster: give --nodes 2 "
                         "or more\n");
        return EXIT_USAGE;
    }
    if (o.data_dir && !s_data_dir_fresh (o.data_dir))
        return EXIT_USAGE;
    //  Its nodes' stores, and what its check of them writes there after
    //  they stop, as private as a node makes them (cmd_node.c).
    umask (077);
    o.seed &= 0x7fffffffffffffffULL;
    o.freeze_ms = freeze_ms >= 0 ? (int) freeze_ms : o.nodes >= 2 ? 3000 : 0;
    o.closed = o.accounts / 100 ? o.accounts / 100 : 1;
    zsys_init ();
    bench_signals_catch (); //  Ctrl-C stops its nodes and removes what it made
    char nodes[64] = "";
    if (o.nodes >= 2)
        snprintf (nodes, sizeof nodes, "%d nodes, ", o.nodes);
    char freeze[64] = "";
    if (o.freeze_ms > 0)
        snprintf (freeze, sizeof freeze, ", a %d ms SIGSTOP", o.freeze_ms);
    fprintf (stderr,
             "shoal demo: %s%zu accounts of %lld, %zu transfers, %zu in flight, %d SIGKILL%s%s, "
             "seed %llu\n",
             nodes, o.accounts, (long long) o.funding, o.transfers, o.window, o.kills,
             o.kills == 1 ? "" : "s", freeze, (unsigned long long) o.seed);
    //  The node's own lines (ready, stopped) would land among the progress
    //  and the summary: they go to a log, kept only if something failed.
    char log[PATH_MAX];
    const char *tmp = getenv ("TMPDIR");
    snprintf (log, sizeof log, "%s/shoal-demo-%d.log", tmp && *tmp ? tmp : "/tmp", (int) getpid ());
    o.log = log;
    bank_result_t r;
    int rc = bank_run (&o, &r);
    if (bench_interrupted ()) {
        unlink (log);
        return bench_interrupted_exit ("shoal demo", bank_interrupted_text (&o));
    }
    //  A difference the summary shows is a failed invariant, whether or not
    //  bank_run's own check of the projection caught it.
    if (rc == 0 && r.has_projected && !s_projected_same (&r)) {
        snprintf (r.problem, sizeof r.problem, "bank_totals is not the same as the journal");
        r.balanced = false;
        rc = SHOAL_EREJECTED;
    }
    if ((rc != 0 && rc != SHOAL_EREJECTED) || !r.balanced)
        fprintf (stderr, "shoal demo: the %s log is in %s\n", o.nodes >= 2 ? "nodes'" : "node's",
                 log);
    else
        unlink (log);
    if (rc != 0 && rc != SHOAL_EREJECTED)
        return 1;
    if (json) {
        printf ("{\"accounts\":%zu,\"transfers\":%zu,\"completed\":%zu,\"failed\":%zu,"
                "\"compensated\":%zu,\"unfinished\":%zu,\"nodes\":%d,\"kills\":%d,\"freezes\":%d,"
                "\"freeze_ms\":%d,\"total_before\":%lld,"
                "\"total_after\":%lld,\"balanced\":%s,\"seconds\":%.3f,"
                "\"completed_per_second\":%.1f,\"resends\":%zu,\"seed\":%llu,",
                o.accounts, o.transfers, r.completed, r.failed, r.compensated, r.unfinished,
                r.nodes, r.kills, r.freezes, o.freeze_ms, (long long) r.total_before,
                (long long) r.total_after, r.balanced ? "true" : "false", r.transfer_seconds,
                r.transfers_per_second, r.resends, (unsigned long long) o.seed);
        char balance[BOOKS_MONEY_CHARS];
        if (r.has_projected)
            printf ("\"bank_totals\":{\"balance\":%s,\"open\":%lld,\"closed\":%lld,"
                    "\"completed\":%lld,\"failed\":%lld,\"compensated\":%lld},",
                    books_money_str (r.projected.balance, balance), (long long) r.projected.open,
                    (long long) r.projected.closed, (long long) r.projected.completed,
                    (long long) r.projected.failed, (long long) r.projected.compensated);
        else
            printf ("\"bank_totals\":null,");
        printf ("\"large_debits\":%zu,\"flags\":%zu,\"problem\":", r.large_debits, r.flags);
        if (r.problem[0])
            json_string (stdout, r.problem, strlen (r.problem));
        else
            printf ("null");
        printf ("}\n");
    } else {
        //  A blank line after the progress, on its stream: stdout has the
        //  summary alone.
        if (isatty (STDERR_FILENO))
            fputc ('\n', stderr);
        if (r.nodes >= 2) {
            printf ("shoal demo: %zu transfers over %zu accounts on %d nodes, nodes killed %d "
                    "time%s, ",
                    o.transfers, o.accounts, r.nodes, r.kills, r.kills == 1 ? "" : "s");
            if (r.freezes)
                printf ("frozen %d time%s (%d ms)\n", r.freezes, r.freezes == 1 ? "" : "s",
                        o.freeze_ms);
            else
                printf ("frozen 0 times\n");
        } else {
            printf ("shoal demo: %zu transfers over %zu accounts, node killed %d time%s",
                    o.transfers, o.accounts, r.kills, r.kills == 1 ? "" : "s");
            if (r.freezes)
                printf (", frozen %d time%s (%d ms)", r.freezes, r.freezes == 1 ? "" : "s",
                        o.freeze_ms);
            printf ("\n");
        }
        printf ("  completed      %8zu\n", r.completed);
        printf ("  failed         %8zu   (overdrawn or closed source: nothing moved)\n", r.failed);
        printf ("  compensated    %8zu   (closed target: money returned)\n", r.compensated);
        if (r.unfinished)
            printf ("  unfinished     %8zu\n", r.unfinished);
        printf ("  total before   %8lld\n", (long long) r.total_before);
        printf ("  total after    %8lld   (from the %s)\n", (long long) r.total_after,
                r.nodes >= 2 ? "journals of every node" : "journal");
        s_print_projected (&r);
        printf ("  took           %8.2f s  (%.0f completed transfers/s, crashes included)\n",
                r.transfer_seconds, r.transfers_per_second);
        printf ("  books balance: %s\n", r.balanced ? "yes" : "NO");
        if (r.problem[0])
            printf ("  broken: %s (seed %llu)\n", r.problem, (unsigned long long) o.seed);
    }
    return r.balanced ? 0 : 1;
}
