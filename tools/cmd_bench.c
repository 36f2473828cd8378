/*  cmd_bench.c - `shoal bench`: transfers per second, end to end, on a node
    of its own (or an existing one with --endpoint), with completion
    latency, the node's own counters over the transfers and the books
    checked at the end; with --nodes N on a cluster of its own on this
    machine (ipc:// endpoints). Human-readable lines on stdout, then with --json
    one JSON object as the last line; progress on stderr.

    Two other modes, --recovery and --memory, are in bench_probe.c; a
    third, --ceiling (LevelDB alone on the same disk), in ceiling.c. One
    thread.
*/
#include "commands.h"
#include "bank.h"
#include "bench_probe.h"
#include "ceiling.h"
#include "cluster.h"
#include "node_child.h"
#include "options.h"

#include <czmq.h>
#include <stdlib.h>

//  --node-arg given at most this often.
#define BENCH_NODE_ARGS_MAX 16

static void s_help (FILE *out)
{
    fprintf (out,
             "Usage: shoal bench [OPTIONS]\n\n"
             "Starts its own node (a child process on a free loopback port, a temporary data\n"
             "directory), opens and funds the accounts, drives transfers over TCP with C\n"
             "Start requests in flight, waits for every saga to be terminal, checks the books\n"
             "from the journal and prints what it measured:\n"
             "  transfers/s    completed transfers over the end-to-end span: from the first\n"
             "                 Started event to the last terminal one, by the journal's own\n"
             "                 timestamps (set-up excluded); the wall-clock figure too,\n"
             "                 from the first Start sent to the node's quiet (below)\n"
             "  latency        per transfer, Started to terminal event (journal, 1 ms steps);\n"
             "                 the Start reply as the client saw it\n"
             "  node           events/s, commits/s, fsyncs/s (JSON syncs_per_second: in sync\n"
             "                 durability one fsync covers the commits of every worker\n"
             "                 written before it), records and messages per commit and\n"
             "                 outbox re-sends over the transfers, from the node's counters\n"
             "                 (the bench's own gets left out); LevelDB records per\n"
             "                 completed transfer (JSON records_per_transfer: the journal's,\n"
             "                 the workers' commits; store_records_per_transfer: with the\n"
             "                 projections' rows) and per second; the node's peak RSS\n"
             "  node CPU       the node's CPU time, user and system, all its threads\n"
             "                 (utime + stime of /proc/PID/stat, in clock ticks of 10 ms at\n"
             "                 100 Hz), read just before the first Start and once the\n"
             "                 node is quiet (no command awaiting its reply, no event\n"
             "                 committed over 3 reads of its counters 50 ms apart) and\n"
             "                 its projections have caught up, before the gets that\n"
             "                 check every transfer (JSON cpu_quiet true; false: a\n"
             "                 freeze, or no counters, and the span ends after the gets,\n"
             "                 answering them included):\n"
             "                 per completed transfer (JSON cpu_us_per_transfer, µs), in all\n"
             "                 (node_cpu_seconds) and over the wall clock of that span\n"
             "                 (cpu_wall_seconds), in\n"
             "                 cores (node_cpu_cores: 1.0 is one core busy throughout); and\n"
             "                 the bench's own, every thread, over the same span\n"
             "                 (client_cpu_seconds): it runs on the same cores as the node\n"
             "  node threads   the same span thread by thread, by name (shoal-worker-N,\n"
             "                 shoal-leveldb: LevelDB's compactions, shoal-projector, ...;\n"
             "                 a cluster's summed name by name), µs per completed\n"
             "                 transfer, busiest first (JSON node_threads_us_per_transfer,\n"
             "                 an object; null where node CPU is not known)\n\n"
             "With --nodes N it starts a cluster of N nodes of its own instead\n"
             "(`shoal cluster init --ipc` in the temporary directory, one child process per\n"
             "node) and one client connected to all of them; requests go to any node, which\n"
             "forwards what it does not own. The books are checked across every node's\n"
             "journal; the node figures are the nodes' counters summed (peak RSS and CPU\n"
             "time too).\n\n"
             "With --endpoint it runs against a node that is already running instead. Its\n"
             "accounts and transfers are named from the seed and the clock, so they do not\n"
             "meet earlier runs. There is no journal to read from here, so:\n"
             "  - each of the C slots holds one transfer from its Start until a get shows it\n"
             "    terminal (polled every --poll-ms): C bounds the sagas in flight, not only\n"
             "    the Starts, and the gets add load to the node;\n"
             "  - latency is the client's: Start first sent to the get that showed it\n"
             "    terminal (so up to --poll-ms late); the span is the first Start sent to the\n"
             "    last transfer seen terminal;\n"
             "  - the books are checked with gets: the run's accounts still hold what was\n"
             "    deposited and every transfer is terminal;\n"
             "  - the node's counters and peak RSS include whatever else it did meanwhile;\n"
             "    its CPU time is not known (no pid): node_cpu_seconds, node_cpu_cores and\n"
             "    cpu_us_per_transfer are null, client_cpu_seconds is there;\n"
             "    --durability and --workers are the node's own and not set from here.\n\n"
             "Set-up (opening, funding, reading balances) runs with max(C, 1024) requests in\n"
             "flight; it is not measured.\n\n"
             "--recovery [N] (default 1000000), on a node of its own:\n"
             "  - writes a journal of N events: 1000 accounts opened, then N-1000 deposits\n"
             "    with 4096 in flight (or --concurrency), which the node commits in groups;\n"
             "  - kills the node with SIGKILL and restarts it, 3 times: the time from just\n"
             "    before the spawn to its ready line, and to the first answer to a `get` of an\n"
             "    account that a probe sends from before the spawn (reconnecting every ms);\n"
             "  - writes two streams of R (--replay, default 200000) deposits into one account\n"
             "    each, one with snapshots every 100 events and one with none, then restarts\n"
             "    the node 3 times for each and times the first `get` of the stream (full\n"
             "    replay: R events/time; or snapshot + the events after it).\n"
             "  The OS page cache is warm (the files were just written).\n"
             "--memory [N] (default 1000000), on a node of its own with --idle-ms 3600000\n"
             "  and --max-actors 2N+1024 (the cap is split between the workers):\n"
             "  opens N accounts (1024 in flight, or --concurrency), each an active actor, and\n"
             "  reports the node's resident set (VmRSS) growth per active actor; then\n"
             "  restarts the node and activates the same accounts with `get` only (no\n"
             "  writes) and reports it again. Both include LevelDB's block cache (64 MiB at\n"
             "  most), the first its memtables too; the growth over the second half of the\n"
             "  accounts is shown as well, and the growth of its anonymous part (RssAnon, JSON\n"
             "  anon_bytes_per_actor: the heap, without the pages of LevelDB's tables that\n"
             "  are mapped into the process and counted in VmRSS while the kernel keeps them).\n"
             "--ceiling, with no node: what LevelDB alone sustains on the disk of the bench's\n"
             "  data directory ($TMPDIR, else /tmp), so that a transfers/s figure can be held\n"
             "  against it. For each batch size B (--batch, default 1, 64 and 1000) a new\n"
             "  store there, opened with the options of shoal's own, takes synced writes of B\n"
             "  records each from one thread (shoal's journal serializes its writes) for\n"
             "  --ceiling-ms, and is removed. The records are shaped as a transfer writes\n"
             "  them today: per 5, 5 events, the first holding the client's inbox record,\n"
             "  keys laid out as shoal's, 70 or 165 bytes of key and value; and in each\n"
             "  write one record of the node's event log, which copies the write's events,\n"
             "  and one note of the commands sent and answered and the inbox records noted\n"
             "  (neither counted as a record; the node counts its note). It prints\n"
             "  commits/s, records/s and MB/s over the time spent in LevelDB's write (as\n"
             "  if the next batch were always staged, as a node's other worker stages its\n"
             "  own meanwhile), records/s with the staging counted too, and the time of\n"
             "  one synced write (p50, p99, max) per batch size. Then, for as long, in a\n"
             "  new store, the group phase, as shoal writes since its group sync: the same\n"
             "  batches without sync, back to back, while a second thread fsyncs LevelDB's\n"
             "  log files back to back; records/s and commits/s over its wall clock, and\n"
             "  fsyncs/s (JSON \"group\"). Each store starts empty: a store that holds a\n"
             "  long journal compacts more.\n\n"
             "A run that moves nowhere for 30 s while the node refuses its requests for now\n"
             "(a full disk), or for 60 s with no answer at all, stops, says why, exits 1.\n"
             "Ctrl-C (SIGINT) or SIGTERM stops the nodes it started, removes its temporary\n"
             "directories and exits 130 or 143, with no figures; a second one ends it at once.\n\n"
             "Options:\n"
             "  --endpoint E       run against the node at E (default: start one)\n"
             "  --nodes N          start a cluster of N nodes, 1 to %d, CURVE on every\n"
             "                     link (default: one node alone, no CURVE)\n"
             "  --accounts N       accounts (default 10000)\n"
             "  --transfers M      transfers (default 100000)\n"
             "  --concurrency C    requests in flight (default 256)\n"
             "  --hot K            every transfer debits one of K accounts (default: off);\n"
             "                     those are funded to cover every debit, so none fails\n"
             "  --durability MODE  sync (default) or async\n"
             "  --workers N        node workers (default: number of cores)\n"
             "  --node-arg ARG     one more option for every node it starts, after its own\n"
             "                     (repeatable, up to %d; a value in the same word:\n"
             "                     --node-arg=--projections=off)\n"
             "  --poll-ms MS       with --endpoint: pause between gets of a transfer (default 20)\n"
             "  --seed N           random seed (default 1)\n"
             "  --json             print one JSON object as the last line\n"
             "  --recovery [N]     measure restart and replay instead (see above)\n"
             "  --replay R         --recovery: events in each long stream (default 200000)\n"
             "  --memory [N]       measure memory per active actor instead (see above)\n"
             "  --ceiling          measure LevelDB alone on this disk instead (see above)\n"
             "  --batch B          --ceiling: records per write; repeat for more sizes, up to\n"
             "                     %d (default: 1, 64 and 1000)\n"
             "  --ceiling-ms MS    --ceiling: time spent on each batch size (default 3000)\n\n"
             "Examples:\n"
             "  shoal bench\n"
             "  shoal bench --accounts 10000 --transfers 200000 --concurrency 1024 --json\n"
             "  shoal bench --hot 1\n"
             "  shoal bench --concurrency 16 --node-arg=--projections=off\n"
             "  shoal bench --nodes 3 --json\n"
             "  shoal bench --recovery 1000000 --json\n"
             "  shoal bench --memory 100000\n"
             "  shoal bench --ceiling --json\n"
             "  shoal bench --ceiling --batch 1000 --batch 4000 --ceiling-ms 10000\n"
             "  shoal bench --endpoint tcp://127.0.0.1:7700 --transfers 20000\n",
             BANK_NODES_MAX, BENCH_NODE_ARGS_MAX, CEILING_BATCHES_MAX);
}

//  What the bench prints, worked out from the bank's result.
typedef struct {
    double seconds;                    //  end to end (the span; wall clock if none)
    double per_second;                 //  completed / seconds
    bool counters;                     //  the node's figures below are known
    double events_per_second;          //  over seconds
    double commits_per_second;         //  over seconds
    double syncs_per_second;           //  the node's fsyncs, over seconds
    double records_per_commit;         //  records per LevelDB write
    double records_per_second;         //  LevelDB records written, over seconds
    double records_per_transfer;       //  records over the completed transfers
    double store_records_per_transfer; //  and all the store's (projections' too)
    double messages_per_commit;        //  the bench's own gets left out
    int64_t resends;                   //  the node's outbox re-sends
    int64_t duplicates;                //  commands and replies it had seen already
    int64_t peak_rss_kb;               //  the node's, over its life
    int64_t workers;                   //  0: unknown
    bool node_cpu;                     //  the node's CPU figures below are known
    double node_cpu_seconds;    //  user + system over the wall clock's span (summed: a cluster)
    double node_cpu_cores;      //  node_cpu_seconds over that span's seconds
    double cpu_us_per_transfer; //  node CPU µs per completed transfer (0: none completed)
    bool client_cpu;            //  client_cpu_seconds is known
    double client_cpu_seconds;  //  this process's, over the same span
} figures_t;

//  The node threads that used CPU in the span, busiest first, as indexes
//  into r->threads; how many (0: not known, or no transfer completed).
static size_t s_threads_order (const bank_result_t *r, size_t order[MEASURE_THREADS_MAX])
{
    size_t count = 0;
    if (!r->node_threads || r->completed == 0)
        return 0;
    for (size_t i = 0; i < r->threads.count; i++) {
        if (r->threads.threads[i].us <= 0)
            continue;
        size_t at = count++;
        while (at > 0 && r->threads.threads[order[at - 1]].us < r->threads.threads[i].us) {
            order[at] = order[at - 1];
            at--;
        }
        order[at] = i;
    }
    return count;
}

static void s_figures (const bank_result_t *r, figures_t *f)
{
    memset (f, 0, sizeof *f);
    f->seconds = r->span_seconds > 0 ? r->span_seconds : r->transfer_seconds;
    f->per_second = r->span_seconds > 0 ? r->span_per_second : r->transfers_per_second;
    f->counters = r->counters;
    f->node_cpu = r->node_cpu;
    f->node_cpu_seconds = (double) r->node_cpu_us / 1e6;
    if (r->cpu_seconds > 0)
        f->node_cpu_cores = f->node_cpu_seconds / r->cpu_seconds;
    if (r->completed > 0)
        f->cpu_us_per_transfer = (double) r->node_cpu_us / (double) r->completed;
    f->client_cpu = r->client_cpu;
    f->client_cpu_seconds = (double) r->client_cpu_us / 1e6;
    if (!r->counters)
        return;
    const bank_stats_t *a = &r->after, *b = &r->before;
    int64_t commits = a->commits - b->commits;
    int64_t messages = a->messages - b->messages - (int64_t) r->own_queries;
    int64_t records = a->records - b->records;
    if (f->seconds > 0) {
        f->events_per_second = (double) (a->events - b->events) / f->seconds;
        f->commits_per_second = (double) commits / f->seconds;
        f->syncs_per_second = (double) (a->syncs - b->syncs) / f->seconds;
        f->records_per_second = (double) records / f->seconds;
    }
    if (r->completed > 0) {
        f->records_per_transfer = (double) records / (double) r->completed;
        f->store_records_per_transfer =
            (double) (a->store_records - b->store_records) / (double) r->completed;
    }
    if (commits > 0) {
        f->records_per_commit = (double) records / (double) commits;
        f->messages_per_commit = (double) (messages > 0 ? messages : 0) / (double) commits;
    }
    f->resends = a->resends - b->resends;
    f->duplicates = a->duplicates - b->duplicates;
    f->peak_rss_kb = a->peak_rss_kb;
    f->workers = a->workers;
}

static void s_print_text (const bank_options_t *o, const bank_result_t *r, const figures_t *f)
{
    char hot[32] = "off", workers[32] = "default", where[160];
    if (o->hot)
        snprintf (hot, sizeof hot, "%zu", o->hot);
    if (f->workers)
        snprintf (workers, sizeof workers, "%lld", (long long) f->workers);
    if (o->endpoint)
        snprintf (where, sizeof where, "%s", o->endpoint);
    else if (r->cluster[0])
        snprintf (where, sizeof where, "own cluster of %d node%s (CURVE)", r->nodes,
                  r->nodes == 1 ? "" : "s");
    else
        snprintf (where, sizeof where, "own node");
    printf ("shoal bench: %zu accounts, %zu transfers, %zu in flight, hot %s, durability %s, "
            "%s workers%s, %s\n",
            o->accounts, o->transfers, o->window, hot,
            o->endpoint ? "of the node"
            : o->async  ? "async"
                        : "sync",
            workers, r->nodes >= 2 ? " in all" : "", where);
    printf ("  transfers      %zu (completed %zu, failed %zu, compensated %zu", o->transfers,
            r->completed, r->failed, r->compensated);
    if (r->unfinished)
        printf (", unfinished %zu", r->unfinished);
    printf (")\n");
    printf ("  throughput     %.0f completed transfers/s end to end (%.3f s, %s)\n", f->per_second,
            f->seconds,
            r->from_journal ? "journal: first Started to last terminal event"
                            : "client: first Start sent to last seen terminal");
    printf ("  wall clock     %.0f completed transfers/s (%.3f s, first Start sent to %s)\n",
            r->transfers_per_second, r->transfer_seconds,
            r->cpu_quiet ? "the node quiet" : "every transfer seen terminal");
    printf ("  latency        p50 %.1f ms, p99 %.1f ms, p99.9 %.1f ms, max %.1f ms (%s)\n",
            r->completion.p50, r->completion.p99, r->completion.p999, r->completion.max,
            r->from_journal ? "Started to terminal, journal" : "Start sent to seen terminal");
    printf ("  Start reply    p50 %.1f ms, p99 %.1f ms (client)\n", r->start_reply.p50,
            r->start_reply.p99);
    if (f->counters) {
        printf (
            "  node           %.0f events/s, %.0f commits/s, %.0f fsyncs/s, %.1f records/commit, "
            "%.1f messages/commit, %lld resends, %lld duplicates\n",
            f->events_per_second, f->commits_per_second, f->syncs_per_second, f->records_per_commit,
            f->messages_per_commit, (long long) f->resends, (long long) f->duplicates);
        printf ("  records        %.0f LevelDB records/s, %.1f per completed transfer "
                "(%.1f with the projections')\n",
                f->records_per_second, f->records_per_transfer, f->store_records_per_transfer);
        printf ("  peak RSS       %.1f MB (%s)\n", (double) f->peak_rss_kb / 1024.0,
                r->nodes >= 2 ? "the nodes' summed" : "node");
    } else
        printf ("  node           counters not available\n");
    if (f->node_cpu)
        printf ("  node CPU       %.1f µs per completed transfer, %.3f s%s, %.2f cores over "
                "%.3f s wall",
                f->cpu_us_per_transfer, f->node_cpu_seconds, r->nodes >= 2 ? " (nodes summed)" : "",
                f->node_cpu_cores, r->cpu_seconds);
    else
        printf ("  node CPU       not known (%s)",
                o->endpoint ? "a node the bench did not start" : "not readable from /proc");
    if (f->client_cpu)
        printf ("; client %.3f s (%.2f cores)", f->client_cpu_seconds,
                r->cpu_seconds > 0 ? f->client_cpu_seconds / r->cpu_seconds : 0.0);
    printf ("\n");
    size_t order[MEASURE_THREADS_MAX];
    size_t busy = s_threads_order (r, order);
    if (busy) {
        printf ("  node threads   µs per completed transfer:");
        for (size_t i = 0; i < busy; i++)
            printf ("%s %s %.1f", i ? "," : "", r->threads.threads[order[i]].name,
                    (double) r->threads.threads[order[i]].us / (double) r->completed);
        printf ("\n");
    }
    printf ("  books balance  %s\n", r->balanced ? "yes" : "NO");
    if (r->problem[0])
        printf ("  broken: %s (seed %llu)\n", r->problem, (unsigned long long) o->seed);
}

//  "key":value, with decimals digits after the point, or null when it is
//  not known; then a comma.
static void s_json_number (const char *key, bool known, double value, int decimals)
{
    if (known)
        printf ("\"%s\":%.*f,", key, decimals, value);
    else
        printf ("\"%s\":null,", key);
}

static void s_print_json (const bank_options_t *o, const bank_result_t *r, const figures_t *f)
{
    printf ("{\"transfers\":%zu,\"completed\":%zu,\"failed\":%zu,\"compensated\":%zu,"
            "\"unfinished\":%zu,\"seconds\":%.3f,\"transfers_per_second\":%.1f,"
            "\"wall_seconds\":%.3f,\"wall_transfers_per_second\":%.1f,\"measured_by\":\"%s\","
            "\"latency_ms\":{\"p50\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f},"
            "\"start_reply_ms\":{\"p50\":%.2f,\"p99\":%.2f},",
            o->transfers, r->completed, r->failed, r->compensated, r->unfinished, f->seconds,
            f->per_second, r->transfer_seconds, r->transfers_per_second,
            r->from_journal ? "journal" : "client", r->completion.p50, r->completion.p99,
            r->completion.p999, r->completion.max, r->start_reply.p50, r->start_reply.p99);
    s_json_number ("events_per_second", f->counters, f->events_per_second, 1);
    s_json_number ("commits_per_second", f->counters, f->commits_per_second, 1);
    s_json_number ("syncs_per_second", f->counters, f->syncs_per_second, 1);
    s_json_number ("records_per_commit", f->counters, f->records_per_commit, 2);
    s_json_number ("messages_per_commit", f->counters, f->messages_per_commit, 2);
    s_json_number ("records_per_second", f->counters, f->records_per_second, 1);
    s_json_number ("records_per_transfer", f->counters, f->records_per_transfer, 2);
    s_json_number ("store_records_per_transfer", f->counters, f->store_records_per_transfer, 2);
    s_json_number ("resends", f->counters, (double) f->resends, 0);
    s_json_number ("duplicates", f->counters, (double) f->duplicates, 0);
    s_json_number ("peak_rss_kb", f->counters, (double) f->peak_rss_kb, 0);
    s_json_number ("node_cpu_seconds", f->node_cpu, f->node_cpu_seconds, 3);
    s_json_number ("node_cpu_cores", f->node_cpu, f->node_cpu_cores, 2);
    s_json_number ("cpu_us_per_transfer", f->node_cpu && r->completed > 0, f->cpu_us_per_transfer,
                   1);
    s_json_number ("client_cpu_seconds", f->client_cpu, f->client_cpu_seconds, 3);
    s_json_number ("cpu_wall_seconds", r->cpu_seconds > 0, r->cpu_seconds, 3);
    printf ("\"cpu_quiet\":%s,", r->cpu_quiet ? "true" : "false");
    size_t order[MEASURE_THREADS_MAX];
    size_t busy = s_threads_order (r, order);
    printf ("\"node_threads_us_per_transfer\":");
    if (busy) {
        for (size_t i = 0; i < busy; i++) {
            printf ("%s", i ? "," : "{");
            json_string (stdout, r->threads.threads[order[i]].name,
                         strlen (r->threads.threads[order[i]].name));
            printf (":%.1f", (double) r->threads.threads[order[i]].us / (double) r->completed);
        }
        printf ("},");
    } else
        printf ("null,");
    printf ("\"client_resends\":%zu,\"balanced\":%s,\"accounts\":%zu,\"concurrency\":%zu,"
            "\"hot\":%zu,\"durability\":",
            r->resends, r->balanced ? "true" : "false", o->accounts, o->window, o->hot);
    if (o->endpoint)
        printf ("null"); //  the node's own, not known from here
    else
        printf ("\"%s\"", o->async ? "async" : "sync");
    printf (",");
    s_json_number ("workers", f->workers > 0, (double) f->workers, 0);
    printf ("\"nodes\":%d,\"seed\":%llu,\"endpoint\":", r->nodes, (unsigned long long) o->seed);
    json_string (stdout, r->endpoint, strlen (r->endpoint));
    printf (",\"node_args\":[");
    for (size_t i = 0; o->node_args && o->node_args[i]; i++) {
        printf ("%s", i ? "," : "");
        json_string (stdout, o->node_args[i], strlen (o->node_args[i]));
    }
    printf ("],\"problem\":");
    if (r->problem[0])
        json_string (stdout, r->problem, strlen (r->problem));
    else
        printf ("null");
    printf ("}\n");
}

//  --ceiling: measures each batch size in turn (see ceiling.h) and prints
//  a line for each, then with json one JSON object. Returns the exit code.
static int s_ceiling (const size_t *batches, size_t count, int ms, uint64_t seed, bool json)
{
    ceiling_row_t rows[CEILING_BATCHES_MAX];
    char dir[512] = "", where[512];
    const char *tmp = getenv ("TMPDIR");
    snprintf (where, sizeof where, "%s", tmp ? tmp : "/tmp"); //  as bench_temp_dir
    double record_bytes;
    int major, minor;
    ceiling_leveldb_version (&major, &minor);
    const char *mix = ceiling_mix (&record_bytes);
    printf ("shoal bench --ceiling: LevelDB %d.%d alone, synced writes from one thread, then "
            "unsynced ones with fsyncs beside them, %d ms each per batch size, stores in %s "
            "(as the bench's data directory)\n",
            major, minor, ms, where);
    printf ("  records        %s; %.1f B per record on average, the log's share included\n", mix,
            record_bytes);
    printf ("  rates over the time inside leveldb_write; \"staging too\": one thread staging "
            "each batch and writing it\n");
    for (size_t i = 0; i < count; i++) {
        fprintf (stderr, "shoal bench: --ceiling: writes of %zu record%s for %d ms\n", batches[i],
                 batches[i] == 1 ? "" : "s", ms);
        if (ceiling_measure (batches[i], ms, seed, &rows[i], dir, sizeof dir) != 0 ||
            zsys_interrupted) //  cut short: no figures
            return 1;
        const ceiling_row_t *r = &rows[i];
        printf ("  batch %-8zu %.0f commits/s, %.0f records/s (staging too: %.0f), %.1f MB/s; "
                "a synced write: p50 %.2f ms, p99 %.2f ms, max %.2f ms (%zu writes); "
                "unsynced, fsyncs beside: %.0f records/s, %.0f commits/s, %.0f fsyncs/s\n",
                r->records, r->commits_per_second, r->records_per_second,
                r->wall_records_per_second, r->mb_per_second, r->p50_ms, r->p99_ms, r->max_ms,
                r->commits, r->group_records_per_second, r->group_commits_per_second,
                r->group_syncs_per_second);
        fflush (stdout);
    }
    if (!json)
        return 0;
    printf ("{\"mode\":\"ceiling\",\"leveldb\":\"%d.%d\",\"ms_per_batch\":%d,\"seed\":%llu,"
            "\"record_bytes\":%.1f,\"dir\":",
            major, minor, ms, (unsigned long long) seed, record_bytes);
    json_string (stdout, where, strlen (where));
    printf (",\"batches\":[");
    for (size_t i = 0; i < count; i++) {
        const ceiling_row_t *r = &rows[i];
        printf ("%s{\"records_per_commit\":%zu,\"commits\":%zu,\"records\":%zu,\"bytes\":%zu,"
                "\"seconds\":%.3f,\"write_seconds\":%.3f,",
                i ? "," : "", r->records, r->commits, r->written, r->bytes, r->seconds,
                r->write_seconds);
        printf ("\"commits_per_second\":%.1f,\"records_per_second\":%.1f,"
                "\"wall_records_per_second\":%.1f,\"mb_per_second\":%.2f,"
                "\"write_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f},",
                r->commits_per_second, r->records_per_second, r->wall_records_per_second,
                r->mb_per_second, r->p50_ms, r->p99_ms, r->max_ms);
        printf ("\"group\":{\"commits\":%zu,\"records\":%zu,\"syncs\":%zu,\"seconds\":%.3f,"
                "\"commits_per_second\":%.1f,\"records_per_second\":%.1f,"
                "\"syncs_per_second\":%.1f}}",
                r->group_commits, r->group_written, r->group_syncs, r->group_seconds,
                r->group_commits_per_second, r->group_records_per_second,
                r->group_syncs_per_second);
    }
    printf ("]}\n");
    return 0;
}

//  Parses the --batch values given into batches (the defaults if none).
//  Returns how many, or 0 after a message on stderr.
static size_t s_batches (const char *const *given, int count, size_t *batches)
{
    static const size_t defaults[] = {1, 64, 1000};
    if (count == 0) {
        memcpy (batches, defaults, sizeof defaults);
        return sizeof defaults / sizeof defaults[0];
    }
    for (int i = 0; i < count; i++) {
        long value;
        if (!options_int ("bench", "--batch", given[i], 1, CEILING_RECORDS_MAX, &value))
            return 0;
        batches[i] = (size_t) value;
    }
    return (size_t) count;
}

int cmd_bench (int argc, char **argv)
{
    bank_options_t o = {
        .accounts = 10000,
        .funding = 1000000,
        .transfers = 100000,
        .max_amount = 100,
        .seed = 1,
        .progress = true,
    };
    bool json = false, recovery = false, memory = false, ceiling = false;
    const char *batch_given[CEILING_BATCHES_MAX];
    const char *node_arg[BENCH_NODE_ARGS_MAX + 1] = {NULL};
    int node_arg_count = 0;
    int batch_count = 0, ceiling_ms = 0;
    size_t recovery_events = 1000000, replay = 200000, memory_accounts = 1000000;
    const option_t table[] = {
        OPT_STRING ("endpoint", &o.endpoint),
        OPT_INT ("nodes", &o.nodes, 1, BANK_NODES_MAX),
        OPT_INT ("accounts", &o.accounts, 2, 100000000),
        OPT_INT ("transfers", &o.transfers, 1, 1000000000),
        OPT_INT ("concurrency", &o.window, 1, 1000000),
        OPT_INT ("hot", &o.hot, 1, 100000000),
        OPT_WORD ("durability", &o.async, "sync|async"),
        OPT_INT ("workers", &o.workers, 1, 256),
        {.name = "node-arg",
         .kind = OPTION_LIST,
         .value = node_arg,
         .max = BENCH_NODE_ARGS_MAX,
         .given = &node_arg_count},
        OPT_INT ("poll-ms", &o.poll_ms, 1, 10000),
        OPT_INT ("seed", &o.seed, 0, LONG_MAX),
        OPT_FLAG ("json", &json),
        OPT_COUNT ("recovery", &recovery_events, 1000, 1000000000, &recovery),
        OPT_INT ("replay", &replay, 1, 100000000),
        OPT_COUNT ("memory", &memory_accounts, 1000, 1000000000, &memory),
        OPT_FLAG ("ceiling", &ceiling),
        OPT_LIST ("batch", batch_given, &batch_count),
        OPT_INT ("ceiling-ms", &ceiling_ms, 10, 3600000),
        OPT_END,
    };
    int first = options_parse (table, argc, argv, s_help);
    if (first < 0)
        return first == OPTIONS_HELP ? 0 : EXIT_USAGE;
    if (first < argc) {
        fprintf (stderr, "shoal bench: unexpected argument '%s'\n", argv[first]);
        return EXIT_USAGE;
    }
    o.node_args = node_arg_count ? (char *const *) node_arg : NULL;
    bool window_set = o.window > 0; //  --concurrency given (its least is 1)
    if (!window_set)
        o.window = 256;
    if (o.endpoint && o.nodes > 1) {
        fprintf (stderr, "shoal bench: --nodes starts a cluster of its own; not with --endpoint\n");
        return EXIT_USAGE;
    }
    const char *problem = o.endpoint ? cluster_endpoint_problem (o.endpoint) : NULL;
    if (problem) { //  it said "no node answers on bogus: invalid argument" (exit 1)
        fprintf (stderr, "shoal bench: --endpoint %s is not an endpoint: %s\n", o.endpoint,
                 problem);
        return EXIT_USAGE;
    }
    if ((recovery || memory) && (o.endpoint || o.nodes > 1 || (recovery && memory))) {
        fprintf (stderr,
                 "shoal bench: --recovery and --memory run alone, on a node of their own\n");
        return EXIT_USAGE;
    }
    if ((batch_count || ceiling_ms) && !ceiling) {
        fprintf (stderr, "shoal bench: --batch and --ceiling-ms go with --ceiling\n");
        return EXIT_USAGE;
    }
    if (ceiling && (o.endpoint || o.nodes > 1 || recovery || memory)) {
        fprintf (stderr, "shoal bench: --ceiling runs alone, with no node\n");
        return EXIT_USAGE;
    }
    if (ceiling) {
        size_t batches[CEILING_BATCHES_MAX];
        size_t count = s_batches (batch_given, batch_count, batches);
        if (count == 0)
            return EXIT_USAGE;
        zsys_init ();
        bench_signals_catch ();
        int code = s_ceiling (batches, count, ceiling_ms ? ceiling_ms : 3000, o.seed, json);
        int interrupted = bench_interrupted_exit ("shoal bench", "its stores removed");
        return interrupted ? interrupted : code;
    }
    if (recovery || memory) {
        zsys_init ();
        bench_signals_catch ();
        int code =
            recovery
                ? bench_recovery (&o, recovery_events, replay, window_set ? o.window : 4096, json)
                : bench_memory (&o, memory_accounts, window_set ? o.window : 1024, json);
        int interrupted =
            bench_interrupted_exit ("shoal bench", "its node stopped, its data directory removed");
        return interrupted ? interrupted : code;
    }
    if (o.hot > o.accounts) {
        fprintf (stderr, "shoal bench: --hot is at most --accounts\n");
        return EXIT_USAGE;
    }
    if (o.hot) {
        //  Fund every account for twice its hot share of debits, so the
        //  hot ones do not run dry and turn transfers into cheap failures.
        int64_t need = (int64_t) (o.transfers / o.hot * 2 + 16) * o.max_amount;
        int64_t cap = INT64_MAX / 4 / (int64_t) o.accounts;
        o.funding = need > o.funding ? (need < cap ? need : cap) : o.funding;
    }
    //  Set-up is not measured: do it with plenty in flight whatever C is.
    o.setup_window = o.window < 1024 ? 1024 : o.window;
    zsys_init ();
    bench_signals_catch ();
    bank_result_t r;
    int rc = bank_run (&o, &r);
    int interrupted = bench_interrupted_exit ("shoal bench", bank_interrupted_text (&o));
    if (interrupted)
        return interrupted;
    if (rc != 0 && r.node_usage) //  the node said why, once
        return EXIT_USAGE;
    if (rc != 0 && rc != SHOAL_EREJECTED)
        return 1;
    figures_t f;
    s_figures (&r, &f);
    s_print_text (&o, &r, &f);
    if (json)
        s_print_json (&o, &r, &f);
    return r.balanced ? 0 : 1;
}
