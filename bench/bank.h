/*  bank.h - a whole bank run against a `shoal node` child process: open
    and fund accounts, close a few, run concurrent transfers while killing
    the node with SIGKILL and restarting it, wait for every transfer to be
    terminal, then check the books from the journal itself. Used by
    `shoal demo`, `shoal bench` and the process tests.

    With options->endpoint the run goes against a node that is already
    running instead: no kills, no journal to read, so the books are checked
    with `get` queries (the run's accounts sum to what was deposited, every
    transfer is terminal) and latencies are seen from the client. Its
    accounts and transfers are named after the seed and the clock, so runs
    on the same node do not meet.

    With options->nodes >= 2 the run goes against a cluster of its own on
    this machine: `shoal cluster init --ipc` in a temporary directory, one
    child per node (data DIR/nI), one client connected to every node. Kills
    land on random nodes, a freeze (freeze_ms) stops one with SIGSTOP for a
    while, and the books are read from every node's journal together.
*/
#ifndef BANK_H_INCLUDED
#define BANK_H_INCLUDED

#include "bank_view.h"
#include "client.h"
#include "shoal_stats.h"
#include "measure.h"
#include "node_child.h"

typedef struct {
    const char *shoal;      //  the shoal executable (NULL: this process)
    const char *data_dir;   //  store (NULL: a new temporary directory)
    bool keep;              //  keep a temporary directory afterwards
    const char *log;        //  node stderr goes here (NULL: inherited)
    size_t accounts;        //  accounts opened
    int64_t funding;        //  deposited into each
    size_t closed;          //  accounts closed before the transfers
    size_t transfers;       //  transfers started
    int64_t max_amount;     //  amounts drawn from 1..max_amount
    size_t hot;             //  0, or: every transfer debits one of the first hot accounts
    size_t window;          //  requests in flight
    size_t setup_window;    //  in flight while opening, funding, closing and reading balances
                            //  (0: window); set-up is not measured
    int kills;              //  SIGKILLs during the transfers
    uint64_t seed;          //  drives every random choice
    int workers;            //  node workers (0: default)
    char *const *node_args; //  more options for every node it starts, last (NULL-terminated;
                            //  NULL: none): `shoal bench --node-arg`
    bool async;             //  node durability
    bool progress;          //  progress on stderr
    const char *endpoint;   //  an existing node's (NULL: start a child; see above)
    const char *listen;     //  its own node's endpoint, kept across kills (NULL: a free
                            //  loopback TCP port); a test gives ipc:// in its own directory
    int poll_ms;            //  with endpoint: pause between gets of a transfer (0: 20)
    int nodes;              //  0 or 1: one node; 2 to BANK_NODES_MAX: a cluster of its own
    int freeze_ms;          //  SIGSTOP one random node this long once mid-run (0: never)
    //  Follow the bank's projections: bank_totals' balance beside the
    //  progress; and on nodes of its own, at the end, wait until they have
    //  caught up and answered their reactions, and check bank_totals and
    //  the review flags against the journal (an invariant like the others).
    bool projections;
} bank_options_t;

#define BANK_NODES_MAX 16

//  A node's counters, from its "stats" query (see `shoal stats`): one field
//  per entry of SHOAL_COUNTERS and SHOAL_NODE_COUNTERS (shoal_stats.h).
//  Those of a node that restarted start again from zero.
typedef struct {
#define BANK_STATS_FIELD(name, description) int64_t name;
    SHOAL_COUNTERS (BANK_STATS_FIELD)
    SHOAL_NODE_COUNTERS (BANK_STATS_FIELD)
#undef BANK_STATS_FIELD
} bank_stats_t;

//  A latency distribution, in ms (nearest-rank percentiles).
typedef struct {
    size_t count; //  samples; 0: none (the figures are 0)
    double p50, p99, p999, max;
} bank_latency_t;

typedef struct {
    size_t completed, failed, compensated, unfinished;
    int64_t total_before, total_after; //  from gets / the journal (endpoint: gets)
    size_t debits, credits, refunds;   //  events found in accounts
    int kills;                         //  SIGKILLs done
    int nodes;                         //  nodes run (1 for one node or an endpoint)
    int freezes;                       //  SIGSTOPs done (each followed by SIGCONT)
    size_t resends;                    //  client re-sends
    double transfer_seconds;           //  wall clock from the first Start, set-up excluded, to
                                       //  the nodes' quiet (cpu_quiet), else after the gets
    double transfers_per_second;       //  completed / transfer_seconds
    bool balanced;                     //  every invariant held
    char problem[512];                 //  the first broken invariant
    char endpoint[128];                //  the node's (a cluster: its first node's)
    char data_dir[512];                //  a cluster: holds cluster/ and a directory per node
    char cluster[512];                 //  the cluster file ("": one node)
    bool node_usage;                   //  a node exited 2 at its start: --node-arg it does not take
    //  End to end, from the node's journal (own node) or the client (endpoint):
    //  journal: from the first Started event to the last terminal event, by
    //  their created stamps (ms); client: from the first Start sent to the
    //  last get that showed a transfer terminal.
    bool from_journal;          //  which of the two
    double span_seconds;        //  0 when not measured
    double span_per_second;     //  completed / span_seconds
    bank_latency_t completion;  //  per transfer over the same two ends
    bank_latency_t start_reply; //  client side: Start first sent to its reply
    bool counters;              //  before/after hold the node's counters (no kills)
    bank_stats_t before, after; //  around the transfers (after: before the node stops);
                                //  a cluster's summed over its nodes (see bank_stats_add)
    size_t own_queries;         //  gets the run sent between before and after
    //  CPU time, user and system, from the first Start to the end of the
    //  transfers' work (cpu_seconds of wall clock): the nodes' from
    //  /proc/PID/stat (in clock ticks), and this process's own, every thread
    //  of it (the client, on the same cores). On nodes of its own, the span
    //  ends once they are quiet (no command awaiting its reply, no event
    //  committed, over three reads of their counters 50 ms apart) and, with
    //  options->projections, their projections have caught up: before the
    //  gets that check every transfer is terminal. Else (a freeze, or
    //  counters that do not come) it ends after those gets, included.
    bool node_cpu;             //  node_cpu_us is known: nodes of its own, no kills
    int64_t node_cpu_us;       //  the nodes' summed
    bool node_threads;         //  threads is known, as node_cpu_us
    measure_threads_t threads; //  the same span by thread name (nodes summed)
    bool client_cpu;           //  client_cpu_us is known
    int64_t client_cpu_us;     //  this process's
    double cpu_seconds;        //  the wall clock of that span
    bool cpu_quiet;            //  the span ended at the nodes' quiet, not after the gets
    //  With options->projections, on nodes of its own: bank_totals once
    //  caught up (summed over the nodes), and from the journal what it is
    //  checked against beside the figures above.
    bool has_projected;      //  projected was read
    bank_totals_t projected; //  bank_totals' row
    size_t open, closed;     //  accounts, from the journal
    size_t started;          //  transfers started, from the journal
    size_t large_debits;     //  transfers debited at least LARGE_DEBIT_MIN, from the journal
    size_t flags;            //  Flagged events of the review actors, from the journal
} bank_result_t;

//  Runs the bank. Returns 0 when the run went through and every invariant
//  held; SHOAL_EREJECTED if an invariant broke (result->problem says
//  which); another negative code if the run itself failed (stderr says).
int bank_run (const bank_options_t *options, bank_result_t *result);

//  What bank_run cleaned up when SIGINT or SIGTERM cut it short (see
//  bench_signals_catch), for the line that says so: the nodes it stopped,
//  the data it removed or kept. A static string.
const char *bank_interrupted_text (const bank_options_t *options);

//  Asks the node at endpoint for its counters, waiting at most timeout_ms.
//  Returns 0, SHOAL_ETIMEOUT, SHOAL_EREJECTED or another negative code.
//  A counter the node does not report is left at 0.
int bank_stats (const char *endpoint, int timeout_ms, bank_stats_t *stats);
//  Asks the node at endpoint for its stats, to see that one answers there.
//  Returns 0, or an error with why (size bytes) saying what the link saw:
//  nothing listening, a handshake ended (a cluster's node), no answer.
int bank_probe (const char *endpoint, int timeout_ms, char *why, size_t size);

//  The same, of node (a name) of the cluster whose file is at cluster,
//  over CURVE with the client certificate beside it.
int bank_stats_cluster (const char *cluster, const char *node, int timeout_ms, bank_stats_t *stats);

//  Adds the counters of one node to sum: every field is summed (workers
//  and peak_rss_kb too: the cluster's), but shards and uptime_ms, which
//  take the largest.
void bank_stats_add (bank_stats_t *sum, const bank_stats_t *node);

#endif
