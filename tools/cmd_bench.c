/*  cmd_bench.c - `shoal bench`: transfers per second on a node of its own,
    durably, with the books checked at the end.
*/
#include "commands.h"
#include "bank.h"

#include <czmq.h>
#include <getopt.h>
#include <stdlib.h>

static void s_help (FILE *out)
{
    fprintf (out, "Usage: shoal bench [OPTIONS]\n\n"
                  "Starts its own node, opens and funds the accounts, drives transfers over TCP\n"
                  "with C in flight, waits for every saga to be terminal, checks the books from\n"
                  "the journal and prints what it measured.\n\n"
                  "Options:\n"
                  "  --accounts N       accounts (default 10000)\n"
                  "  --transfers M      transfers (default 100000)\n"
                  "  --concurrency C    requests in flight (default 256)\n"
                  "  --hot K            every transfer debits one of K accounts (default: off)\n"
                  "  --durability MODE  sync (default) or async\n"
                  "  --workers N        node workers (default: number of cores)\n"
                  "  --seed N           random seed (default 1)\n"
                  "  --json             print one JSON object as the last line\n\n"
                  "Examples:\n"
                  "  shoal bench\n"
                  "  shoal bench --accounts 10000 --transfers 200000 --concurrency 1024 --json\n"
                  "  shoal bench --hot 1\n");
}

int cmd_bench (int argc, char **argv)
{
    static const struct option options[] = {{"accounts", required_argument, 0, 'a'},
                                            {"transfers", required_argument, 0, 't'},
                                            {"concurrency", required_argument, 0, 'c'},
                                            {"hot", required_argument, 0, 'H'},
                                            {"durability", required_argument, 0, 'D'},
                                            {"workers", required_argument, 0, 'w'},
                                            {"seed", required_argument, 0, 's'},
                                            {"json", no_argument, 0, 'j'},
                                            {"help", no_argument, 0, 'h'},
                                            {0, 0, 0, 0}};
    bank_options_t o = {
        .accounts = 10000,
        .funding = 1000000,
        .transfers = 100000,
        .max_amount = 100,
        .window = 256,
        .seed = 1,
        .progress = true,
    };
    bool json = false;
    long value;
    int c;
    optind = 1;
    while ((c = getopt_long (argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case 'a':
            if (!option_int ("bench", "accounts", optarg, 2, 100000000, &value))
                return EXIT_USAGE;
            o.accounts = (size_t) value;
            break;
        case 't':
            if (!option_int ("bench", "transfers", optarg, 1, 1000000000, &value))
                return EXIT_USAGE;
            o.transfers = (size_t) value;
            break;
        case 'c':
            if (!option_int ("bench", "concurrency", optarg, 1, 1000000, &value))
                return EXIT_USAGE;
            o.window = (size_t) value;
            break;
        case 'H':
            if (!option_int ("bench", "hot", optarg, 1, 100000000, &value))
                return EXIT_USAGE;
            o.hot = (size_t) value;
            break;
        case 'D':
            if (!streq (optarg, "sync") && !streq (optarg, "async")) {
                fprintf (stderr, "shoal bench: --durability is sync or async\n");
                return EXIT_USAGE;
            }
            o.async = streq (optarg, "async");
            break;
        case 'w':
            if (!option_int ("bench", "workers", optarg, 1, 256, &value))
                return EXIT_USAGE;
            o.workers = (int) value;
            break;
        case 's':
            if (!option_int ("bench", "seed", optarg, 0, LONG_MAX, &value))
                return EXIT_USAGE;
            o.seed = (uint64_t) value;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            s_help (stdout);
            return 0;
        default:
            s_help (stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "shoal bench: unexpected argument '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }
    zsys_init ();
    zsys_handler_set (NULL);
    bank_result_t r;
    int rc = bank_run (&o, &r);
    if (rc != 0 && rc != SHOAL_EREJECTED)
        return 1;
    printf ("transfers %zu (completed %zu, failed %zu, compensated %zu) in %.2f s\n", o.transfers,
            r.completed, r.failed, r.compensated, r.transfer_seconds);
    printf ("completed transfers/s  %.0f\n", r.transfers_per_second);
    printf ("books balance          %s\n", r.balanced ? "yes" : "NO");
    if (json)
        printf ("{\"transfers\":%zu,\"completed\":%zu,\"failed\":%zu,\"compensated\":%zu,"
                "\"seconds\":%.3f,\"transfers_per_second\":%.1f,\"balanced\":%s}\n",
                o.transfers, r.completed, r.failed, r.compensated, r.transfer_seconds,
                r.transfers_per_second, r.balanced ? "true" : "false");
    return r.balanced ? 0 : 1;
}
