/*  bank_internal.h - what the bank run's two files share: the run's state
    (run_t) and the cluster side's functions. Internal to bench/: other
    folders include bank.h only.

    Files: bank.c is the bank workload (the requests of each phase, their
    replies, the books check and bank_run); bank_nodes.c is the cluster
    side of a run (starting the node or each node of a cluster, the kills,
    the freeze, the nodes' counters).

    Threads: a run_t belongs to the one thread that runs bank_run.
*/
#ifndef BANK_INTERNAL_H_INCLUDED
#define BANK_INTERNAL_H_INCLUDED

#include "bank.h"
#include "books.h"

typedef enum {
    PHASE_OPEN,
    PHASE_FUND,
    PHASE_CLOSE,
    PHASE_BALANCE,
    PHASE_TRANSFER,
    PHASE_WAIT,
    PHASE_FOLLOW //  with an endpoint: Start, then get until terminal
} phase_t;

typedef struct {
    const bank_options_t *options;
    bank_result_t *result;
    node_child_t nodes[BANK_NODES_MAX]; //  one, or a cluster's (node i is n(i+1))
    int node_count;                     //  nodes started (1 with an endpoint too)
    const char *endpoint;               //  the node's: options->endpoint or nodes[0].endpoint
    const char *cluster;                //  the cluster file (NULL: one node)
    int frozen;                         //  the node stopped with SIGSTOP, or -1
    int64_t thaw_at;                    //  ms (monotonic) when it gets SIGCONT
    bool stopped;                       //  a tick stopped the phase, and said why
    char refusal[400];                  //  the last "code: reason" the node could not take
    int64_t refused_at;                 //  ... and when (monotonic ms; 0: none)
    int64_t answered_at;                //  the last answer of any kind (monotonic ms)
    size_t progress;                    //  the phase's progress last seen by a tick
    int64_t progress_at;                //  when it last moved (monotonic ms)
    size_t freeze_at;                   //  progress at which to freeze
    bank_watch_t *watch;                //  bank_totals beside the progress, or NULL
    phase_t phase;
    char run[48];       //  run id: names transfers and message ids
    char accounts[64];  //  account ids are this and a number
    int64_t sum;        //  PHASE_BALANCE
    uint8_t *status;    //  per transfer: a status_t
    size_t kill_at[16]; //  progress at which to kill, per kill
    int64_t last_start; //  ms (monotonic) the node last started
    int failures;       //  requests that could not be made
    float *start_ms;    //  Start reply latencies, start_count of them
    size_t start_count; //  samples in start_ms
    float *done_ms;     //  completion latencies, done_count of them
    size_t done_count;  //  samples in done_ms
    int64_t first_us;   //  PHASE_FOLLOW: first Start sent (zclock_usecs)
    int64_t last_us;    //  PHASE_FOLLOW: last transfer seen terminal
    bool counting;      //  count the queries sent
    size_t queries;     //  queries sent while counting
} run_t;

//  Mixes x into a well-spread 64-bit number (splitmix64's finaliser): every
//  seeded choice of the run comes from it.
static inline uint64_t bank_mix (uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

//  Starts the run's nodes: the one node, or a cluster of them (made first
//  with `shoal cluster init --ipc` in DATA/cluster unless it is there).
//  Returns 0 or a negative code, said on stderr.
int bank_nodes_start (run_t *run);

//  What node i is called in progress lines: "node" alone, or "node n2".
void bank_node_label (const run_t *run, int i, char *label, size_t size);

//  SIGKILLs a seeded random node and restarts it. Returns non-zero if it
//  did not come back.
int bank_nodes_kill (run_t *run, size_t done, size_t total);

//  True if one of the run's own nodes has exited on its own (a crash, a
//  kill from outside, the OOM killer): said on stderr, with how it ended,
//  and reaped. A run that went on would wait for answers that never come.
bool bank_nodes_gone (run_t *run);

//  SIGSTOPs a seeded random node for freeze_ms; bank_nodes_thaw ends it.
void bank_nodes_freeze (run_t *run, size_t done, size_t total);

//  Ends the freeze, if any: SIGCONT to the stopped node.
void bank_nodes_thaw (run_t *run);

//  Reads the node's counters into stats, a cluster's summed over its nodes.
//  Says on stderr when it cannot. True if it could.
bool bank_nodes_counters (const run_t *run, bank_stats_t *stats);

//  The CPU time, user and system, that the run's own nodes have used so
//  far (µs, a cluster's summed); -1 if any node's is not known (one not
//  started by the run, or not running).
int64_t bank_nodes_cpu_us (const run_t *run);

//  The CPU time of the run's own nodes' threads so far, by thread name (a
//  cluster's summed name by name) into *threads. False if any node's is
//  not known.
bool bank_nodes_threads (const run_t *run, measure_threads_t *threads);

//  bank_view.c: waits (at most 2 minutes) until the bank's projections
//  of every node have read their log to the end and their reactions are
//  answered, and reads bank_totals into result->projected. Returns 0, or
//  a negative code with result->problem set.
int bank_view_settle (run_t *run);

//  bank_view.c: waits (at most 2 minutes) until every projection each
//  node serves, whichever it runs (none: at once), has read its log to
//  the end and its reactions are answered. Returns 0, SHOAL_EBUSY (not
//  in time), SHOAL_EREJECTED (one failed or is paused) or a client's error.
int bank_view_caught_up (run_t *run);

//  bank_view.c: the journal's figures beside bank_totals' (result->open,
//  closed, started, large_debits, flags), and result->problem, unless it
//  holds one, if bank_totals differs from the journal or a large debit
//  was not flagged exactly once.
void bank_view_check (run_t *run, books_t *books);

#endif
