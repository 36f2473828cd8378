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

    This file is the workload: the requests of each phase and their
    replies, the books check and bank_run. Starting the nodes, the kills,
    the freeze and the nodes' counters and CPU time are in bank_nodes.c.
*/
#include "bank_internal.h"
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

static const char *s_phase_labels[] = {
    "opening accounts", "funding accounts",      "closing accounts",     "reading balances",
    "transfers",        "waiting for transfers", "transfers to terminal"};

//  What a transfer is, as far as the run knows.
typedef enum {
    STATUS_NONE = 0,
    DONE_COMPLETED,
    DONE_FAILED,
    DONE_COMPENSATED,
    STATUS_STARTED, //  PHASE_FOLLOW: Start accepted, not yet seen terminal
    STATUS_REFUSED  //  PHASE_FOLLOW: Start rejected
} status_t;

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
    uint64_t r1 = bank_mix (o->seed ^ (index * 3 + 1)), r2 = bank_mix (o->seed ^ (index * 3 + 2)),
             r3 = bank_mix (o->seed ^ (index * 3 + 3));
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

//  How long a phase may move nowhere while the node refuses each request
//  for now (unavailable, busy) before the run stops, saying the refusal.
#define BANK_REFUSED_MS 30000
//  ... or while no answer comes at all (a node gone, with --endpoint).
#define BANK_SILENT_MS 60000

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
    run->answered_at = zclock_mono ();
    if (client_reply_transient (reply)) {
        //  Said if nothing else moves for BANK_REFUSED_MS (s_tick).
        snprintf (run->refusal, sizeof run->refusal, "%s: %s", reply->code, reply->reason);
        run->refused_at = zclock_mono ();
        return 1; //  the node could not take it now: ask again
    }
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

//  bank_totals' balance beside the progress, when a round of the watch
//  has come back.
static void s_watch (run_t *run)
{
    bank_totals_t totals;
    if (!bank_watch_poll (run->watch, &totals))
        return;
    char note[128], balance[BOOKS_MONEY_CHARS];
    snprintf (note, sizeof note, "bank_totals: balance %s, lag %llu",
              books_money_str (totals.balance, balance), (unsigned long long) totals.lag);
    progress_note (note);
}

//  Whether a phase stalls, said: nothing done for BANK_REFUSED_MS while
//  the node refused requests for now (a full disk, a store behind), or for
//  BANK_SILENT_MS with no answer at all (a node gone). It waited out its
//  15 min deadline at "0/N", saying nothing. Not while a node is frozen
//  on purpose, and counted from its thaw or its restart after a kill
//  (s_tick): those refusals and silences are the point.
static bool s_stalled (run_t *run, size_t done, size_t total)
{
    int64_t now = zclock_mono ();
    if (done != run->progress || !run->progress_at) {
        run->progress = done;
        run->progress_at = now;
    }
    if (run->frozen >= 0 || done >= total)
        return false;
    if (run->refused_at > run->progress_at && now - run->progress_at >= BANK_REFUSED_MS) {
        fprintf (stderr,
                 "%s: %s: nothing done for %d s, the node%s refusing requests for now "
                 "meanwhile, the last: %s\n",
                 driver_command, s_phase_labels[run->phase], BANK_REFUSED_MS / 1000,
                 run->node_count > 1 ? "s" : "", run->refusal);
        return true;
    }
    if (run->answered_at <= run->progress_at && now - run->progress_at >= BANK_SILENT_MS) {
        fprintf (stderr,
                 "%s: %s: nothing done, and no answer from %s, for %d s: is it up? (shoal "
                 "stats%s%s)\n",
                 driver_command, s_phase_labels[run->phase],
                 run->cluster ? "the cluster's nodes" : run->endpoint, BANK_SILENT_MS / 1000,
                 run->cluster ? " --cluster " : " --endpoint ",
                 run->cluster ? run->cluster : run->endpoint);
        return true;
    }
    return false;
}

static int s_tick (void *arg, size_t done, size_t total)
{
    run_t *run = arg;
    const bank_options_t *o = run->options;
    if (run->watch)
        s_watch (run);
    if (o->progress)
        progress_show (s_phase_labels[run->phase], done, total, false);
    if (bank_nodes_gone (run))
        return run->stopped = true;
    if (s_stalled (run, done, total))
        return run->stopped = true;
    if (run->frozen >= 0 && zclock_mono () >= run->thaw_at) {
        bank_nodes_thaw (run);
        run->progress_at = zclock_mono (); //  the stall rules count from the thaw
    }
    //  Kills land in the transfers at their planned points, at least 250 ms
    //  of work apart; those a fast run did not reach land while waiting.
    //  The freeze likewise.
    bool due = run->result->kills < o->kills &&
               ((run->phase == PHASE_TRANSFER && done >= run->kill_at[run->result->kills] &&
                 zclock_mono () - run->last_start >= 250) ||
                run->phase == PHASE_WAIT);
    if (due && bank_nodes_kill (run, done, total) != 0)
        return run->stopped = true;
    if (due)
        run->progress_at = zclock_mono (); //  ... and from the restart

    bool freeze =
        o->freeze_ms > 0 && run->result->freezes == 0 &&
        ((run->phase == PHASE_TRANSFER && done >= run->freeze_at) || run->phase == PHASE_WAIT);
    if (freeze)
        bank_nodes_freeze (run, done, total);
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
    if (zsys_interrupted) //  the command says so; nothing here finished
        return rc ? rc : SHOAL_ETIMEOUT;
    if (run->options->progress && rc == 0) //  a phase stopped did not get there
        progress_show (s_phase_labels[phase], count, count, false);
    if (rc && !run->stopped) //  a node gone said its own line (it said "timed out" too)
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
    result->from_journal = true;
    s_latency (run->done_ms, run->done_count, &result->completion);
    if (run->done_count && last_ended > first_started)
        result->span_seconds = (double) (last_ended - first_started) / 1000.0;
    s_check_totals (run, false);
    if (o->projections)
        bank_view_check (run, books);
    books_destroy (&books);
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

//  The CPU time used since node_cpu and client_cpu were read (each -1 if
//  it was not known then) into the result.
static void s_cpu_span (run_t *run, int64_t node_cpu, int64_t client_cpu,
                        const measure_threads_t *threads)
{
    bank_result_t *result = run->result;
    measure_threads_t threads_now;
    result->node_threads = threads && node_cpu >= 0 && bank_nodes_threads (run, &threads_now);
    if (result->node_threads)
        measure_threads_span (threads, &threads_now, &result->threads);
    int64_t node_now = node_cpu >= 0 ? bank_nodes_cpu_us (run) : -1;
    int64_t client_now = client_cpu >= 0 ? measure_self_cpu_us () : -1;
    result->node_cpu = node_now >= node_cpu && node_cpu >= 0;
    result->node_cpu_us = result->node_cpu ? node_now - node_cpu : 0;
    result->client_cpu = client_now >= client_cpu && client_cpu >= 0;
    result->client_cpu_us = result->client_cpu ? client_now - client_cpu : 0;
}

//  Waits until the run's own nodes are quiet: QUIET_READS reads of their
//  counters in a row, QUIET_MS apart, with no outbox entry awaiting a
//  reply and the same events committed (a turn that sends the next leg
//  commits an event), for at most QUIET_WAIT_MS. True if they were.
#define QUIET_READS 3
#define QUIET_MS 50
#define QUIET_WAIT_MS 10000

static bool s_wait_quiet (run_t *run)
{
    bank_stats_t last;
    if (!bank_nodes_counters (run, &last))
        return false;
    int quiet = last.pending == 0; //  reads in a row that were
    int64_t deadline = zclock_mono () + QUIET_WAIT_MS;
    while (quiet < QUIET_READS && zclock_mono () < deadline && !zsys_interrupted) {
        zclock_sleep (QUIET_MS);
        bank_stats_t now;
        if (!bank_nodes_counters (run, &now))
            return false;
        quiet = now.pending == 0 ? (now.events == last.events ? quiet + 1 : 1) : 0;
        last = now;
    }
    return quiet >= QUIET_READS;
}

const char *bank_interrupted_text (const bank_options_t *o)
{
    if (o->endpoint)
        return "nothing measured";
    if (o->data_dir)
        return o->nodes >= 2 ? "its nodes stopped, their data kept"
                             : "its node stopped, its data kept";
    return o->nodes >= 2 ? "its nodes stopped, their data directory removed"
                         : "its node stopped, its data directory removed";
}

int bank_run (const bank_options_t *options, bank_result_t *result)
{
    memset (result, 0, sizeof *result);
    if (options->accounts < 2 || options->closed >= options->accounts || options->funding <= 0 ||
        options->max_amount <= 0 || options->window == 0 || options->kills > 15 ||
        options->hot > options->accounts || (options->endpoint && options->kills) ||
        options->nodes < 0 || options->nodes > BANK_NODES_MAX || options->freeze_ms < 0 ||
        (options->endpoint && (options->nodes > 1 || options->freeze_ms)) ||
        (options->listen && (options->endpoint || options->nodes >= 1))) {
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
            slice ? (size_t) (bank_mix (options->seed ^ (0xdead + k)) % (slice / 2 + 1)) : 0;
        run.kill_at[k] = slice * (size_t) (k + 1) - slice / 4 + jitter;
    }
    //  The freeze: at a seeded point between a third and two thirds in.
    run.freeze_at = options->transfers / 3 + (size_t) (bank_mix (options->seed ^ 0xf4ee2eULL) %
                                                       (options->transfers / 3 + 1));
    if (own && (rc = bank_nodes_start (&run)) != 0)
        goto done;
    if (options->projections && !(run.watch = bank_watch_new (run.cluster ? NULL : run.endpoint,
                                                              run.cluster, run.node_count, 250))) {
        rc = SHOAL_ENOMEM;
        goto done;
    }
    char why[256]; //  a node that is not there would keep the driver waiting
    if (!own && (rc = bank_probe (run.endpoint, 5000, why, sizeof why)) != 0) {
        fprintf (stderr,
                 "%s: no node answers on %s: %s (a cluster's node answers only CURVE "
                 "clients, and the bench drives a node alone: run it on a node of its own, "
                 "or let it start its own cluster with --nodes N)\n",
                 driver_command, run.endpoint, why);
        goto done;
    }
    if ((rc = s_phase (&run, PHASE_OPEN, options->accounts)) ||
        (rc = s_phase (&run, PHASE_FUND, options->accounts)) ||
        (rc = s_phase (&run, PHASE_CLOSE, options->closed)) ||
        (rc = s_phase (&run, PHASE_BALANCE, options->accounts)))
        goto done;
    result->total_before = run.sum;
    //  The node's counters and CPU time around the transfers; a kill would
    //  reset them. The CPU is read inside the stats queries' span, right
    //  around the clock's.
    if (options->kills == 0)
        result->counters = bank_nodes_counters (&run, &result->before);
    measure_threads_t threads;
    bool threads_known = own && options->kills == 0 && bank_nodes_threads (&run, &threads);
    int64_t node_cpu = own && options->kills == 0 ? bank_nodes_cpu_us (&run) : -1;
    int64_t client_cpu = measure_self_cpu_us ();
    run.counting = true;
    int64_t started = zclock_usecs ();
    if ((rc = s_phase (&run, own ? PHASE_TRANSFER : PHASE_FOLLOW, options->transfers)))
        goto done;
    //  The CPU span ends with the transfers' work, not with the gets that
    //  then check each one (a get loads a finished saga from the journal).
    //  The projections' work on the transfers' events counts too: the span
    //  ends once every projection the nodes run has caught up (the demo's
    //  settle reads bank_totals as well).
    result->cpu_quiet =
        own && node_cpu >= 0 && options->freeze_ms == 0 && s_wait_quiet (&run) &&
        (options->projections ? bank_view_settle (&run) : bank_view_caught_up (&run)) == 0;
    if (result->cpu_quiet) {
        s_cpu_span (&run, node_cpu, client_cpu, threads_known ? &threads : NULL);
        result->cpu_seconds = (double) (zclock_usecs () - started) / 1e6;
    }
    if (own && (rc = s_phase (&run, PHASE_WAIT, options->transfers)))
        goto done;
    bank_nodes_thaw (&run); //  a freeze may outlast the transfers
    //  The wall clock ends where the CPU span does: at the nodes' quiet,
    //  when it was seen. The gets that then check each transfer load
    //  finished sagas back from the journal, which no client of a bank
    //  would wait for (at 200,000 transfers they took 0.6-2.7 times the
    //  transfers' own span).
    result->transfer_seconds =
        result->cpu_quiet ? result->cpu_seconds : (double) (zclock_usecs () - started) / 1e6;
    if (!result->cpu_quiet) {
        s_cpu_span (&run, node_cpu, client_cpu, threads_known ? &threads : NULL);
        result->cpu_seconds = result->transfer_seconds;
    }
    run.counting = false;
    result->own_queries = run.queries;
    if (result->counters)
        result->counters = bank_nodes_counters (&run, &result->after);
    s_latency (run.start_ms, run.start_count, &result->start_reply);
    if (own && options->projections)
        bank_view_settle (&run); //  a failure is the run's problem, said at the end
    //  SIGINT or SIGTERM (s_phase ends its phase): cleaned up below.
    if (zsys_interrupted) {
        rc = SHOAL_ETIMEOUT;
        goto done;
    }
    if (own) {
        //  A clean stop, then the books from the journal itself.
        for (int i = 0; i < run.node_count; i++)
            if (node_child_stop (&run.nodes[i], SIGTERM) != 0) {
                char label[32];
                bank_node_label (&run, i, label, sizeof label);
                fprintf (stderr, "%s: the %s did not stop cleanly\n", driver_command, label);
            }
        if (zsys_interrupted) { //  during the stop: no check to wait for
            rc = SHOAL_ETIMEOUT;
            goto done;
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
    bank_watch_destroy (&run.watch);
    progress_note (NULL);
    for (int i = 0; i < run.node_count; i++)
        node_child_stop (&run.nodes[i], SIGKILL); //  SIGKILL ends a stopped node too
    free (run.status);
    free (run.start_ms);
    free (run.done_ms);
    if (temporary && !options->keep)
        bench_remove_tree (result->data_dir);
    return rc;
}
