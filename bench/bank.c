/*  bank.c - a whole bank run with crashes, checked from the journal. See
    bank.h. One thread; the node, or each node of a cluster, is a child
    process.

    Every request is deterministic in (seed, phase, index): a re-send after
    a crash is the same message with the same id, so the node's inbox (and,
    for Start, the transfer's own idempotency) makes it harmless.

    What it measures: on its own node, latency and the end-to-end span come
    from the journal's created stamps (ms, the node's clock, taken when the
    turn runs, before its commit): Started to the last event of each
    transfer. Against an existing node, each transfer holds its slot of the
    window from its Start until a get shows it terminal (polled every
    poll_ms), and the client's clock measures both.
*/
#include "bank.h"
#include "books.h"
#include "client_window.h"

#include <czmq.h>
#include <limits.h>
#include <msgpack.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum {
    PHASE_OPEN,
    PHASE_FUND,
    PHASE_CLOSE,
    PHASE_BALANCE,
    PHASE_TRANSFER,
    PHASE_WAIT,
    PHASE_FOLLOW //  with an endpoint: Start, then get until terminal
} phase_t;

static const char *s_phase_labels[] = {
    "opening accounts", "funding accounts",      "closing accounts",     "reading balances",
    "transfers",        "waiting for transfers", "transfers to terminal"};

typedef struct {
    const bank_options_t *options;
    bank_result_t *result;
    node_child_t nodes[BANK_NODES_MAX]; //  one, or a cluster's (node i is n(i+1))
    int node_count;                     //  nodes started (1 with an endpoint too)
    const char *endpoint;               //  the node's: options->endpoint or nodes[0].endpoint
    const char *cluster;                //  the cluster file (NULL: one node)
    int frozen;                         //  the node stopped with SIGSTOP, or -1
    int64_t thaw_at;                    //  ms (monotonic) when it gets SIGCONT
    size_t freeze_at;                   //  progress at which to freeze
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

//  What a transfer is, as far as the run knows.
typedef enum {
    STATUS_NONE = 0,
    DONE_COMPLETED,
    DONE_FAILED,
    DONE_COMPENSATED,
    STATUS_STARTED, //  PHASE_FOLLOW: Start accepted, not yet seen terminal
    STATUS_REFUSED  //  PHASE_FOLLOW: Start rejected
} status_t;

static uint64_t s_mix (uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static void s_account_address (const run_t *run, size_t index, char *address, size_t size)
{
    snprintf (address, size, "account/%s%05zu", run->accounts, index);
}

static void s_transfer_address (const run_t *run, size_t index, char *address, size_t size)
{
    snprintf (address, size, "transfer/%s-%zu", run->run, index);
}

//  The transfer number index: source, target, amount.
static void s_transfer_plan (const run_t *run, size_t index, size_t *from, size_t *to,
                             int64_t *amount)
{
    const bank_options_t *o = run->options;
    uint64_t r1 = s_mix (o->seed ^ (index * 3 + 1)), r2 = s_mix (o->seed ^ (index * 3 + 2)),
             r3 = s_mix (o->seed ^ (index * 3 + 3));
    *from = o->hot ? (size_t) (r1 % o->hot) : (size_t) (r1 % o->accounts);
    *to = (size_t) (r2 % (o->accounts - 1));
    if (*to >= *from)
        (*to)++;
    *amount = 1 + (int64_t) (r3 % (uint64_t) o->max_amount);
}

static void s_request_id (const run_t *run, size_t index, uint8_t id[ENVELOPE_ID_SIZE])
{
    char text[96];
    snprintf (text, sizeof text, "%s-%d-%zu", run->run, (int) run->phase, index);
    client_id_from_string (text, id);
}

static int s_make (void *arg, size_t index, envelope_t *request, uint8_t *payload, size_t cap)
{
    run_t *run = arg;
    const bank_options_t *o = run->options;
    driver_payload_t packed;
    msgpack_packer pk;
    driver_payload_init (&packed, &pk, payload, cap);
    char to[SHOAL_ADDRESS_MAX + 1];
    const char *name;
    envelope_kind_t kind = ENVELOPE_COMMAND;
    phase_t phase = run->phase;
    if (phase == PHASE_FOLLOW)
        phase = run->status[index] == STATUS_NONE ? PHASE_TRANSFER : PHASE_WAIT;
    if (phase == PHASE_WAIT && run->status[index] == STATUS_REFUSED)
        return 1; //  never started: nothing to wait for
    switch (phase) {
    case PHASE_OPEN:
        s_account_address (run, index, to, sizeof to);
        name = "Open";
        msgpack_pack_map (&pk, 1);
        driver_pack_str (&pk, "owner", to + 8);
        break;
    case PHASE_FUND:
        s_account_address (run, index, to, sizeof to);
        name = "Deposit";
        msgpack_pack_map (&pk, 1);
        driver_pack_int (&pk, "amount", o->funding);
        break;
    case PHASE_CLOSE:
        s_account_address (run, o->accounts - o->closed + index, to, sizeof to);
        name = "Close";
        msgpack_pack_map (&pk, 0);
        break;
    case PHASE_BALANCE:
        s_account_address (run, index, to, sizeof to);
        name = "get";
        kind = ENVELOPE_QUERY;
        msgpack_pack_map (&pk, 0);
        break;
    case PHASE_TRANSFER: {
        size_t from_index, to_index;
        int64_t amount;
        s_transfer_plan (run, index, &from_index, &to_index, &amount);
        char from[SHOAL_ADDRESS_MAX + 1], target[SHOAL_ADDRESS_MAX + 1];
        s_account_address (run, from_index, from, sizeof from);
        s_account_address (run, to_index, target, sizeof target);
        s_transfer_address (run, index, to, sizeof to);
        name = "Start";
        msgpack_pack_map (&pk, 3);
        driver_pack_str (&pk, "from", from);
        driver_pack_str (&pk, "to", target);
        driver_pack_int (&pk, "amount", amount);
        break;
    }
    case PHASE_WAIT:
    case PHASE_FOLLOW:
    default:
        s_transfer_address (run, index, to, sizeof to);
        name = "get";
        kind = ENVELOPE_QUERY;
        msgpack_pack_map (&pk, 0);
        break;
    }
    uint8_t id[ENVELOPE_ID_SIZE];
    s_request_id (run, index, id);
    if (kind == ENVELOPE_QUERY) {
        envelope_new_id (id); //  queries have no effect: any id will do
        if (run->counting)
            run->queries++;
    }
    client_request (request, kind, id, to, name, payload, packed.size);
    return 0;
}

//  The terminal status a get reply shows, or STATUS_NONE.
static status_t s_terminal_status (const client_reply_t *reply)
{
    char status[32];
    if (!reply->ok || reply_state_str (reply, "status", status, sizeof status) != 0)
        return STATUS_NONE;
    if (strcmp (status, "completed") == 0)
        return DONE_COMPLETED;
    if (strcmp (status, "failed") == 0)
        return DONE_FAILED;
    if (strcmp (status, "compensated") == 0)
        return DONE_COMPENSATED;
    return STATUS_NONE;
}

static void s_rejected (run_t *run, size_t index, const client_reply_t *reply)
{
    if (run->failures++ < 5)
        fprintf (stderr, "%s: request %zu of %s rejected: %s %s\n", driver_command, index,
                 s_phase_labels[run->phase], reply->code, reply->reason);
}

//  PHASE_FOLLOW: the reply to a transfer's Start, then to its gets. Returns
//  non-zero to ask again (a get) until the transfer is terminal.
static int s_follow (run_t *run, size_t index, const client_reply_t *reply, int64_t latency_us)
{
    int64_t now = zclock_usecs ();
    if (run->status[index] == STATUS_NONE) {
        if (!reply->ok) {
            s_rejected (run, index, reply);
            run->status[index] = STATUS_REFUSED;
            return 0;
        }
        run->start_ms[run->start_count++] = (float) latency_us / 1000.0f;
        if (run->first_us == 0 || now - latency_us < run->first_us)
            run->first_us = now - latency_us;
        run->status[index] = STATUS_STARTED;
        return 1;
    }
    status_t status = s_terminal_status (reply);
    if (status == STATUS_NONE)
        return 1;
    run->status[index] = (uint8_t) status;
    run->done_ms[run->done_count++] = (float) latency_us / 1000.0f;
    if (now > run->last_us)
        run->last_us = now;
    return 0;
}

static int s_reply (void *arg, size_t index, const client_reply_t *reply, int64_t latency_us)
{
    run_t *run = arg;
    if (client_reply_transient (reply))
        return 1; //  the node could not take it now: ask again
    switch (run->phase) {
    case PHASE_OPEN:
    case PHASE_FUND:
    case PHASE_CLOSE:
        if (!reply->ok)
            s_rejected (run, index, reply);
        return 0;
    case PHASE_TRANSFER:
        if (!reply->ok) {
            s_rejected (run, index, reply);
            run->status[index] = STATUS_REFUSED; //  the journal check reports it
        } else
            run->start_ms[run->start_count++] = (float) latency_us / 1000.0f;
        return 0;
    case PHASE_FOLLOW:
        return s_follow (run, index, reply, latency_us);
    case PHASE_BALANCE: {
        int64_t balance;
        if (reply->ok && reply_state_int (reply, "balance", &balance) == 0)
            run->sum += balance;
        else
            run->failures++;
        return 0;
    }
    case PHASE_WAIT: {
        status_t status = s_terminal_status (reply);
        if (status == STATUS_NONE)
            return 1;
        run->status[index] = (uint8_t) status;
        return 0;
    }
    }
    return 0;
}

//  Starts node i of the run's cluster (again): `shoal node --cluster F
//  --name nI --data DIR/nI`. Its endpoint is the cluster file's, an ipc://
//  path that no other program takes meanwhile. Returns 0 or a negative code.
static int s_start_cluster_node (run_t *run, int i)
{
    const bank_options_t *o = run->options;
    char name[16], data[sizeof run->nodes[i].data_dir];
    snprintf (name, sizeof name, "n%d", i + 1);
    if (snprintf (data, sizeof data, "%s/%s", run->result->data_dir, name) >= (int) sizeof data)
        return SHOAL_EINVAL;
    node_child_args_t args;
    node_child_args (&args, o->async, o->workers, NULL);
    char *argv[32] = {"node", "--cluster", (char *) run->cluster, "--name", name, "--data", data};
    int argc = 7;
    for (int a = 0; args.argv[a] && argc < 31; a++)
        argv[argc++] = args.argv[a];
    argv[argc] = NULL;
    int rc = SHOAL_ETIMEOUT;
    for (int attempt = 0; attempt < 3 && rc != 0; attempt++)
        if ((rc = node_child_spawn (&run->nodes[i], o->shoal, argv, o->log, 30000)) != 0)
            zclock_sleep (250);
    snprintf (run->nodes[i].data_dir, sizeof run->nodes[i].data_dir, "%s", data);
    return rc;
}

//  Starts node i (again): the one node on its endpoint, or a cluster's.
static int s_restart (run_t *run, int i)
{
    const bank_options_t *o = run->options;
    int rc;
    if (run->cluster)
        rc = s_start_cluster_node (run, i);
    else {
        node_child_args_t args;
        node_child_args (&args, o->async, o->workers, NULL);
        node_child_t *node = &run->nodes[0];
        const char *endpoint = node->endpoint[0] ? node->endpoint : NODE_CHILD_FREE_ENDPOINT;
        rc = node_child_start_retry (node, o->shoal, run->result->data_dir, endpoint, &args, o->log,
                                     30000);
    }
    if (rc == 0 && i == 0)
        snprintf (run->result->endpoint, sizeof run->result->endpoint, "%s",
                  run->nodes[0].endpoint);
    run->last_start = zclock_mono ();
    return rc;
}

//  What a node is called in progress lines: "node" alone, or "node n2".
static void s_node_label (const run_t *run, int i, char *label, size_t size)
{
    if (run->cluster)
        snprintf (label, size, "node n%d", i + 1);
    else
        snprintf (label, size, "node");
}

//  Ends the freeze: SIGCONT to the stopped node.
static void s_thaw (run_t *run)
{
    if (run->frozen < 0)
        return;
    node_child_t *node = &run->nodes[run->frozen];
    if (node->pid > 0)
        kill (node->pid, SIGCONT);
    if (run->options->progress) {
        char label[32];
        s_node_label (run, run->frozen, label, sizeof label);
        fprintf (stderr, "%s  %s continued with SIGCONT\n", isatty (STDERR_FILENO) ? "\n" : "",
                 label);
    }
    run->frozen = -1;
}

//  SIGKILLs a seeded random node and restarts it. Returns non-zero if it
//  did not come back.
static int s_kill (run_t *run, size_t done, size_t total)
{
    const bank_options_t *o = run->options;
    int victim = (int) (s_mix (o->seed ^ (0xbeef + (uint64_t) run->result->kills)) %
                        (uint64_t) run->node_count);
    if (victim == run->frozen)
        run->frozen = -1; //  SIGKILL ends a stopped process too
    node_child_stop (&run->nodes[victim], SIGKILL);
    run->result->kills++;
    char label[32];
    s_node_label (run, victim, label, sizeof label);
    if (o->progress)
        fprintf (stderr, "%s  %s killed with SIGKILL (%d of %d) at %zu/%zu; restarting\n",
                 isatty (STDERR_FILENO) ? "\n" : "", label, run->result->kills, o->kills, done,
                 total);
    if (s_restart (run, victim) != 0) {
        fprintf (stderr, "%s: the %s did not come back after a kill\n", driver_command, label);
        return 1;
    }
    return 0;
}

//  SIGSTOPs a seeded random node for freeze_ms; s_tick thaws it.
static void s_freeze (run_t *run, size_t done, size_t total)
{
    const bank_options_t *o = run->options;
    int victim = (int) (s_mix (o->seed ^ 0xf4ee2eULL) % (uint64_t) run->node_count);
    if (run->nodes[victim].pid <= 0 || kill (run->nodes[victim].pid, SIGSTOP) != 0)
        return;
    run->frozen = victim;
    run->thaw_at = zclock_mono () + o->freeze_ms;
    run->result->freezes++;
    if (o->progress) {
        char label[32];
        s_node_label (run, victim, label, sizeof label);
        fprintf (stderr, "%s  %s frozen with SIGSTOP for %d ms at %zu/%zu\n",
                 isatty (STDERR_FILENO) ? "\n" : "", label, o->freeze_ms, done, total);
    }
}

static int s_tick (void *arg, size_t done, size_t total)
{
    run_t *run = arg;
    const bank_options_t *o = run->options;
    if (o->progress)
        progress_show (s_phase_labels[run->phase], done, total, false);
    if (run->frozen >= 0 && zclock_mono () >= run->thaw_at)
        s_thaw (run);
    //  Kills land in the transfers at their planned points, at least 250 ms
    //  of work apart; those a fast run did not reach land while waiting.
    //  The freeze likewise.
    bool due = run->result->kills < o->kills &&
               ((run->phase == PHASE_TRANSFER && done >= run->kill_at[run->result->kills] &&
                 zclock_mono () - run->last_start >= 250) ||
                run->phase == PHASE_WAIT);
    if (due && s_kill (run, done, total) != 0)
        return 1;
    bool freeze =
        o->freeze_ms > 0 && run->result->freezes == 0 &&
        ((run->phase == PHASE_TRANSFER && done >= run->freeze_at) || run->phase == PHASE_WAIT);
    if (freeze)
        s_freeze (run, done, total);
    return 0;
}

static int s_phase (run_t *run, phase_t phase, size_t count)
{
    run->phase = phase;
    int retry_ms = 50;
    if (phase == PHASE_FOLLOW)
        retry_ms = run->options->poll_ms > 0 ? run->options->poll_ms : 20;
    size_t window = run->options->window;
    bool setup = phase == PHASE_OPEN || phase == PHASE_FUND || phase == PHASE_CLOSE ||
                 phase == PHASE_BALANCE;
    if (setup && run->options->setup_window)
        window = run->options->setup_window;
    driver_t driver = {
        .endpoint = run->endpoint,
        .cluster = run->cluster,
        .count = count,
        .window = window,
        .resend_ms = 3000,
        .retry_ms = retry_ms,
        .deadline_ms = 15 * 60 * 1000,
        .make = s_make,
        .reply = s_reply,
        .tick = s_tick,
        .arg = run,
    };
    size_t resent = 0;
    int rc = driver_run (&driver, &resent);
    run->result->resends += resent;
    if (run->options->progress)
        progress_show (s_phase_labels[phase], count, count, false);
    if (rc)
        fprintf (stderr, "%s: %s did not finish: %s\n", driver_command, s_phase_labels[phase],
                 shoal_strerror (rc));
    return rc;
}

//  --------------------------------------------------------------------------
//  The check, from the journal (books.c reads it)

static int s_float_compare (const void *a, const void *b)
{
    float x = *(const float *) a, y = *(const float *) b;
    return x < y ? -1 : x > y;
}

//  The sample at rank permille/1000 (nearest rank) of count sorted samples.
static double s_rank (const float *sorted, size_t count, size_t permille)
{
    size_t rank = (count * permille + 999) / 1000;
    return sorted[rank ? rank - 1 : 0];
}

//  Sorts samples in place and fills latency from them.
static void s_latency (float *samples, size_t count, bank_latency_t *latency)
{
    memset (latency, 0, sizeof *latency);
    latency->count = count;
    if (count == 0)
        return;
    qsort (samples, count, sizeof (float), s_float_compare);
    latency->p50 = s_rank (samples, count, 500);
    latency->p99 = s_rank (samples, count, 990);
    latency->p999 = s_rank (samples, count, 999);
    latency->max = samples[count - 1];
}

//  Sets result->problem, unless it holds one already, if the total balance
//  before or after the transfers is not what was deposited. The journal's
//  check looks at the total after first; the check from gets (from_gets)
//  at the one before first, and says where the total after came from.
static void s_check_totals (run_t *run, bool from_gets)
{
    bank_result_t *result = run->result;
    int64_t expected = (int64_t) run->options->accounts * run->options->funding;
    bool before_bad = result->total_before != expected, after_bad = result->total_after != expected;
    if (result->problem[0] || !(before_bad || after_bad))
        return;
    bool say_after = from_gets ? !before_bad : after_bad;
    if (!say_after)
        snprintf (result->problem, sizeof result->problem,
                  "the total balance before transfers was %lld, not %lld",
                  (long long) result->total_before, (long long) expected);
    else if (from_gets)
        snprintf (result->problem, sizeof result->problem,
                  "the total balance after transfers is %lld, not %lld (from gets)",
                  (long long) result->total_after, (long long) expected);
    else
        snprintf (result->problem, sizeof result->problem, "the total balance is %lld, not %lld",
                  (long long) result->total_after, (long long) expected);
}

static int s_check (run_t *run)
{
    const bank_options_t *o = run->options;
    bank_result_t *result = run->result;
    books_t *books = books_new ();
    if (!books)
        return SHOAL_ENOMEM;
    //  One node's journal, or every node's of a cluster together.
    for (int i = 0; i < run->node_count; i++) {
        char *error = NULL;
        const char *dir = run->cluster ? run->nodes[i].data_dir : result->data_dir;
        int rc = books_read_dir (books, dir, &error);
        if (rc) {
            fprintf (stderr, "%s: cannot check the books: %s\n", driver_command,
                     error ? error : shoal_strerror (rc));
            free (error);
            books_destroy (&books);
            return rc;
        }
    }
    char address[SHOAL_ADDRESS_MAX + 1];
    result->total_after = 0;
    for (size_t i = 0; i < o->accounts; i++) {
        s_account_address (run, i, address, sizeof address);
        const books_account_t *account = books_account (books, address);
        if (!account)
            continue;
        result->total_after += account->balance;
        if (account->below_seq && !result->problem[0]) //  the run's overdrafts are 0
            snprintf (result->problem, sizeof result->problem, "%s went below zero at seq %lld",
                      address, (long long) account->below_seq);
    }
    int64_t first_started = INT64_MAX, last_ended = INT64_MIN;
    for (size_t i = 0; i < o->transfers; i++) {
        s_transfer_address (run, i, address, sizeof address);
        static const books_transfer_t none;
        const books_transfer_t *transfer = books_transfer (books, address + 9);
        if (!transfer)
            transfer = &none;
        result->debits += transfer->debits;
        result->credits += transfer->credits;
        result->refunds += transfer->refunds;
        books_status_t status = books_transfer_status (transfer);
        if (status != BOOKS_UNFINISHED && transfer->started) {
            run->done_ms[run->done_count++] = (float) (transfer->ended - transfer->started);
            first_started = transfer->started < first_started ? transfer->started : first_started;
            last_ended = transfer->ended > last_ended ? transfer->ended : last_ended;
        }
        const char *broken = NULL;
        if (books_transfer_repeated (transfer))
            broken = "was debited, credited or refunded more than once";
        else {
            size_t *counts[] = {&result->unfinished, &result->completed, &result->failed,
                                &result->compensated};
            (*counts[status])++;
            broken =
                status == BOOKS_UNFINISHED ? "is not terminal" : books_transfer_legs (transfer);
        }
        if (broken && !result->problem[0])
            snprintf (result->problem, sizeof result->problem, "%s %s (journal: %s)", address,
                      broken, transfer->last[0] ? transfer->last : "no events");
    }
    books_destroy (&books);
    result->from_journal = true;
    s_latency (run->done_ms, run->done_count, &result->completion);
    if (run->done_count && last_ended > first_started)
        result->span_seconds = (double) (last_ended - first_started) / 1000.0;
    s_check_totals (run, false);
    result->balanced = !result->problem[0];
    return result->balanced ? 0 : SHOAL_EREJECTED;
}

//  The check against an existing node, from gets: every transfer terminal,
//  and the run's accounts still hold what was deposited into them.
static int s_check_gets (run_t *run)
{
    const bank_options_t *o = run->options;
    bank_result_t *result = run->result;
    char address[SHOAL_ADDRESS_MAX + 1];
    for (size_t i = 0; i < o->transfers; i++) {
        switch (run->status[i]) {
        case DONE_COMPLETED:
            result->completed++;
            break;
        case DONE_FAILED:
            result->failed++;
            break;
        case DONE_COMPENSATED:
            result->compensated++;
            break;
        default:
            result->unfinished++;
            if (!result->problem[0]) {
                s_transfer_address (run, i, address, sizeof address);
                snprintf (result->problem, sizeof result->problem, "%s is not terminal (%s)",
                          address,
                          run->status[i] == STATUS_REFUSED ? "its Start was rejected"
                                                           : "never seen terminal");
            }
        }
    }
    s_latency (run->done_ms, run->done_count, &result->completion);
    if (run->done_count && run->last_us > run->first_us)
        result->span_seconds = (double) (run->last_us - run->first_us) / 1e6;
    s_check_totals (run, true);
    result->balanced = !result->problem[0];
    return result->balanced ? 0 : SHOAL_EREJECTED;
}

//  Asks the node behind *client_p for its "stats" and destroys the client.
static int s_stats_call (client_t **client_p, int timeout_ms, bank_stats_t *stats)
{
    static const struct {
        const char *name;
        size_t offset;
    } fields[] = {
#define FIELD(name, description) {#name, offsetof (bank_stats_t, name)},
        SHOAL_COUNTERS (FIELD) SHOAL_NODE_COUNTERS (FIELD)
#undef FIELD
    };
    envelope_t request;
    client_request (&request, ENVELOPE_QUERY, NULL, "node/stats", "stats", NULL, 0);
    client_reply_t reply;
    int rc = client_call (*client_p, &request, timeout_ms, &reply);
    if (rc == 0) {
        if (reply.ok)
            for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
                map_int (reply.data, reply.size, fields[i].name,
                         (int64_t *) ((char *) stats + fields[i].offset));
        else
            rc = SHOAL_EREJECTED;
        client_reply_close (&reply);
    }
    client_destroy (client_p);
    return rc;
}

int bank_stats (const char *endpoint, int timeout_ms, bank_stats_t *stats)
{
    memset (stats, 0, sizeof *stats);
    client_t *client = client_new (endpoint);
    if (!client)
        return SHOAL_EINVAL;
    return s_stats_call (&client, timeout_ms, stats);
}

int bank_stats_cluster (const char *cluster, const char *node, int timeout_ms, bank_stats_t *stats)
{
    memset (stats, 0, sizeof *stats);
    char *error = NULL;
    client_t *client = client_new_cluster (cluster, node, &error);
    if (!client) {
        fprintf (stderr, "%s: %s\n", driver_command, error ? error : "out of memory");
        free (error);
        return SHOAL_EINVAL;
    }
    return s_stats_call (&client, timeout_ms, stats);
}

void bank_stats_add (bank_stats_t *sum, const bank_stats_t *node)
{
    int64_t shards = sum->shards > node->shards ? sum->shards : node->shards;
    int64_t uptime_ms = sum->uptime_ms > node->uptime_ms ? sum->uptime_ms : node->uptime_ms;
#define BANK_STATS_ADD(name, description) sum->name += node->name;
    SHOAL_COUNTERS (BANK_STATS_ADD)
    SHOAL_NODE_COUNTERS (BANK_STATS_ADD)
#undef BANK_STATS_ADD
    sum->shards = shards;
    sum->uptime_ms = uptime_ms;
}

//  --------------------------------------------------------------------------

//  Reads the node's counters into stats. Says on stderr when it cannot.
//  A cluster's are summed over its nodes.
static bool s_counters (const run_t *run, bank_stats_t *stats)
{
    int rc = 0;
    if (run->cluster) {
        memset (stats, 0, sizeof *stats);
        for (int i = 0; rc == 0 && i < run->node_count; i++) {
            char name[16];
            bank_stats_t node;
            snprintf (name, sizeof name, "n%d", i + 1);
            if ((rc = bank_stats_cluster (run->cluster, name, 5000, &node)) == 0)
                bank_stats_add (stats, &node);
        }
    } else
        rc = bank_stats (run->endpoint, 5000, stats);
    if (rc)
        fprintf (stderr, "%s: the node's stats did not come: %s\n", driver_command,
                 shoal_strerror (rc));
    return rc == 0;
}

//  Starts the run's nodes: the one node, or a cluster of them (made first
//  with `shoal cluster init --ipc` in DATA/cluster unless it is there).
//  Returns 0 or a negative code, said on stderr.
static int s_start_nodes (run_t *run)
{
    const bank_options_t *o = run->options;
    bank_result_t *result = run->result;
    if (!run->cluster) {
        int rc = s_restart (run, 0);
        if (rc)
            fprintf (stderr, "%s: the node did not start (data %s)\n", driver_command,
                     result->data_dir);
        return rc;
    }
    char dir[PATH_MAX], count[16];
    snprintf (dir, sizeof dir, "%s/cluster", result->data_dir);
    snprintf (count, sizeof count, "%d", run->node_count);
    char *init[] = {"cluster", "init", "--nodes", count, "--dir", dir, "--ipc", NULL};
    if (access (result->cluster, F_OK) != 0 && node_child_run (o->shoal, init, o->log) != 0) {
        fprintf (stderr,
                 "%s: `shoal cluster init --ipc` failed in %s (its full path may have at most "
                 "80 bytes)\n",
                 driver_command, dir);
        return SHOAL_EIO;
    }
    for (int i = 0; i < run->node_count; i++) {
        int rc = s_restart (run, i);
        if (rc) {
            fprintf (stderr, "%s: node n%d did not start (data %s)\n", driver_command, i + 1,
                     run->nodes[i].data_dir);
            return rc;
        }
    }
    return 0;
}

int bank_run (const bank_options_t *options, bank_result_t *result)
{
    memset (result, 0, sizeof *result);
    if (options->accounts < 2 || options->closed >= options->accounts || options->funding <= 0 ||
        options->max_amount <= 0 || options->window == 0 || options->kills > 15 ||
        options->hot > options->accounts || (options->endpoint && options->kills) ||
        options->nodes < 0 || options->nodes > BANK_NODES_MAX || options->freeze_ms < 0 ||
        (options->endpoint && (options->nodes > 1 || options->freeze_ms))) {
        fprintf (stderr, "%s: the bank run's options are out of range\n", driver_command);
        return SHOAL_EINVAL;
    }
    bool own = !options->endpoint; //  a node of our own, as a child
    bool temporary = own && !options->data_dir;
    if (temporary) {
        if (bench_temp_dir ("shoal-bank", result->data_dir, sizeof result->data_dir) != 0) {
            fprintf (stderr, "%s: cannot make a temporary directory\n", driver_command);
            return SHOAL_EIO;
        }
    } else if (own)
        snprintf (result->data_dir, sizeof result->data_dir, "%s", options->data_dir);

    run_t run = {.options = options, .result = result, .node_count = 1, .frozen = -1};
    int rc = 0;
    if (own && options->nodes >= 1) {
        run.node_count = options->nodes;
        if (snprintf (result->cluster, sizeof result->cluster, "%s/cluster/cluster.cfg",
                      result->data_dir) >= (int) sizeof result->cluster) {
            fprintf (stderr, "%s: the data directory's path is too long\n", driver_command);
            rc = SHOAL_EINVAL;
            goto done;
        }
        run.cluster = result->cluster;
    }
    result->nodes = run.node_count;
    if (own) {
        snprintf (run.run, sizeof run.run, "r%llx",
                  (unsigned long long) (options->seed & 0xffffffffffULL));
        snprintf (run.accounts, sizeof run.accounts, "a");
        run.endpoint = run.nodes[0].endpoint;
    } else {
        //  Names no earlier run on that node took: from the seed and the clock.
        snprintf (run.run, sizeof run.run, "r%llx-%llx",
                  (unsigned long long) (options->seed & 0xffffffffffULL),
                  (unsigned long long) zclock_time ());
        snprintf (run.accounts, sizeof run.accounts, "%s-a", run.run);
        snprintf (result->endpoint, sizeof result->endpoint, "%s", options->endpoint);
        run.endpoint = result->endpoint;
    }
    run.status = calloc (options->transfers + 1, 1);
    run.start_ms = calloc (options->transfers + 1, sizeof (float));
    run.done_ms = calloc (options->transfers + 1, sizeof (float));
    if (!run.status || !run.start_ms || !run.done_ms) {
        fprintf (stderr, "%s: no memory for %zu transfers\n", driver_command, options->transfers);
        rc = SHOAL_ENOMEM;
        goto done;
    }
    for (int k = 0; k < options->kills; k++) {
        //  Spread the kills over the run, each at a seeded point in its slice.
        size_t slice = options->transfers / (size_t) (options->kills + 1);
        size_t jitter =
            slice ? (size_t) (s_mix (options->seed ^ (0xdead + k)) % (slice / 2 + 1)) : 0;
        run.kill_at[k] = slice * (size_t) (k + 1) - slice / 4 + jitter;
    }
    //  The freeze: at a seeded point between a third and two thirds in.
    run.freeze_at = options->transfers / 3 +
                    (size_t) (s_mix (options->seed ^ 0xf4ee2eULL) % (options->transfers / 3 + 1));
    if (own && (rc = s_start_nodes (&run)) != 0)
        goto done;
    bank_stats_t probe; //  a node that is not there would keep the driver waiting
    if (!own && (rc = bank_stats (run.endpoint, 5000, &probe)) != 0) {
        fprintf (stderr, "%s: no node answers on %s: %s\n", driver_command, run.endpoint,
                 shoal_strerror (rc));
        goto done;
    }
    if ((rc = s_phase (&run, PHASE_OPEN, options->accounts)) ||
        (rc = s_phase (&run, PHASE_FUND, options->accounts)) ||
        (rc = s_phase (&run, PHASE_CLOSE, options->closed)) ||
        (rc = s_phase (&run, PHASE_BALANCE, options->accounts)))
        goto done;
    result->total_before = run.sum;
    //  The node's counters around the transfers; a kill would reset them.
    if (options->kills == 0)
        result->counters = s_counters (&run, &result->before);
    run.counting = true;
    int64_t started = zclock_usecs ();
    if ((rc = s_phase (&run, own ? PHASE_TRANSFER : PHASE_FOLLOW, options->transfers)) ||
        (own && (rc = s_phase (&run, PHASE_WAIT, options->transfers))))
        goto done;
    s_thaw (&run); //  a freeze may outlast the transfers
    result->transfer_seconds = (double) (zclock_usecs () - started) / 1e6;
    run.counting = false;
    result->own_queries = run.queries;
    if (result->counters)
        result->counters = s_counters (&run, &result->after);
    s_latency (run.start_ms, run.start_count, &result->start_reply);
    if (own) {
        //  A clean stop, then the books from the journal itself.
        for (int i = 0; i < run.node_count; i++)
            if (node_child_stop (&run.nodes[i], SIGTERM) != 0) {
                char label[32];
                s_node_label (&run, i, label, sizeof label);
                fprintf (stderr, "%s: the %s did not stop cleanly\n", driver_command, label);
            }
        rc = s_check (&run);
    } else {
        run.sum = 0;
        if ((rc = s_phase (&run, PHASE_BALANCE, options->accounts)))
            goto done;
        result->total_after = run.sum;
        rc = s_check_gets (&run);
    }
    if (result->transfer_seconds > 0)
        result->transfers_per_second = (double) result->completed / result->transfer_seconds;
    if (result->span_seconds > 0)
        result->span_per_second = (double) result->completed / result->span_seconds;
done:
    for (int i = 0; i < run.node_count; i++)
        node_child_stop (&run.nodes[i], SIGKILL); //  SIGKILL ends a stopped node too
    free (run.status);
    free (run.start_ms);
    free (run.done_ms);
    if (temporary && !options->keep)
        bench_remove_tree (result->data_dir);
    return rc;
}
