/*  cmd_demo.c - `shoal demo`: the bank under crashes, on an embedded
    default. Starts its own node on a free loopback port with its own data
    directory, opens and funds accounts, closes a few, runs concurrent
    transfers while killing the node with SIGKILL and restarting it, waits
    for every transfer to finish and checks the books from the journal.
*/
#include "commands.h"
#include "bank.h"
#include "options.h"

#include <czmq.h>
#include <limits.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static void s_help (FILE *out)
{
    fprintf (out, "Usage: shoal demo [OPTIONS]\n\n"
                  "Runs the bank on a node of its own (a child process on a free loopback port,\n"
                  "a temporary data directory): opens and funds accounts, closes 1%% of them,\n"
                  "runs concurrent transfers (some overdraw and fail, some hit a closed account\n"
                  "and are compensated), kills the node with SIGKILL mid-run and restarts it,\n"
                  "waits for every transfer, then checks the books from the journal itself.\n"
                  "Exits 1 if any invariant fails.\n\n"
                  "Options:\n"
                  "  --accounts N      accounts (default 1000)\n"
                  "  --transfers N     transfers (default 20000)\n"
                  "  --concurrency N   requests in flight (default 256)\n"
                  "  --kills N         SIGKILLs during the transfers (default 2, at most 15)\n"
                  "  --seed N          random seed (default: from the clock; printed)\n"
                  "  --workers N       node workers (default: number of cores)\n"
                  "  --data DIR        use DIR (kept) instead of a temporary directory\n"
                  "  --json            print the summary as one JSON object\n\n"
                  "Examples:\n"
                  "  shoal demo\n"
                  "  shoal demo --transfers 100000 --kills 5 --seed 42\n");
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
    };
    bool json = false;
    const option_t table[] = {
        OPT_INT ("accounts", &o.accounts, 2, 10000000),
        OPT_INT ("transfers", &o.transfers, 1, 100000000),
        OPT_INT ("concurrency", &o.window, 1, 100000),
        OPT_INT ("kills", &o.kills, 0, 15),
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
    o.seed &= 0x7fffffffffffffffULL;
    o.closed = o.accounts / 100 ? o.accounts / 100 : 1;
    zsys_init ();
    zsys_handler_set (NULL); //  Ctrl-C kills the demo and its node at once
    fprintf (stderr,
             "shoal demo: %zu accounts of %lld, %zu transfers, %zu in flight, %d SIGKILLs, "
             "seed %llu\n",
             o.accounts, (long long) o.funding, o.transfers, o.window, o.kills,
             (unsigned long long) o.seed);
    //  The node's own lines (ready, stopped) would land among the progress
    //  and the summary: they go to a log, kept only if something failed.
    char log[PATH_MAX];
    const char *tmp = getenv ("TMPDIR");
    snprintf (log, sizeof log, "%s/shoal-demo-%d.log", tmp && *tmp ? tmp : "/tmp", (int) getpid ());
    o.log = log;
    bank_result_t r;
    int rc = bank_run (&o, &r);
    if ((rc != 0 && rc != SHOAL_EREJECTED) || !r.balanced)
        fprintf (stderr, "shoal demo: the node's log is in %s\n", log);
    else
        unlink (log);
    if (rc != 0 && rc != SHOAL_EREJECTED)
        return 1;
    if (json) {
        printf ("{\"accounts\":%zu,\"transfers\":%zu,\"completed\":%zu,\"failed\":%zu,"
                "\"compensated\":%zu,\"unfinished\":%zu,\"kills\":%d,\"total_before\":%lld,"
                "\"total_after\":%lld,\"balanced\":%s,\"seconds\":%.3f,"
                "\"completed_per_second\":%.1f,\"resends\":%zu,\"seed\":%llu,\"problem\":",
                o.accounts, o.transfers, r.completed, r.failed, r.compensated, r.unfinished,
                r.kills, (long long) r.total_before, (long long) r.total_after,
                r.balanced ? "true" : "false", r.transfer_seconds, r.transfers_per_second,
                r.resends, (unsigned long long) o.seed);
        if (r.problem[0])
            json_string (stdout, r.problem, strlen (r.problem));
        else
            printf ("null");
        printf ("}\n");
    } else {
        printf ("\nshoal demo: %zu transfers over %zu accounts, node killed %d times\n",
                o.transfers, o.accounts, r.kills);
        printf ("  completed      %8zu\n", r.completed);
        printf ("  failed         %8zu   (overdrawn or closed source: nothing moved)\n", r.failed);
        printf ("  compensated    %8zu   (closed target: money returned)\n", r.compensated);
        if (r.unfinished)
            printf ("  unfinished     %8zu\n", r.unfinished);
        printf ("  total before   %8lld\n", (long long) r.total_before);
        printf ("  total after    %8lld   (from the journal)\n", (long long) r.total_after);
        printf ("  took           %8.2f s  (%.0f completed transfers/s, crashes included)\n",
                r.transfer_seconds, r.transfers_per_second);
        printf ("  books balance: %s\n", r.balanced ? "yes" : "NO");
        if (r.problem[0])
            printf ("  broken: %s (seed %llu)\n", r.problem, (unsigned long long) o.seed);
    }
    return r.balanced ? 0 : 1;
}
