/*  bank.c - a whole bank run with crashes, checked from the journal. See
    bank.h. One thread; the node is a child process.

    Every request is deterministic in (seed, phase, index): a re-send after
    a crash is the same message with the same id, so the node's inbox (and,
    for Start, the transfer's own idempotency) makes it harmless.
*/
#include "bank.h"
#include "driver.h"
#include "journal.h"

#include <czmq.h>
#include <msgpack.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum {
    PHASE_OPEN,
    PHASE_FUND,
    PHASE_CLOSE,
    PHASE_BALANCE,
    PHASE_TRANSFER,
    PHASE_WAIT
} phase_t;

static const char *s_phase_labels[] = {"opening accounts", "funding accounts",
                                       "closing accounts", "reading balances",
                                       "transfers",        "waiting for transfers"};

typedef struct {
    const bank_options_t *options;
    bank_result_t *result;
    node_child_t node;
    phase_t phase;
    char run[32];       //  run id: names transfers and message ids
    int64_t sum;        //  PHASE_BALANCE
    uint8_t *status;    //  per transfer: 0 unknown, else terminal kind
    size_t kill_at[16]; //  progress at which to kill, per kill
    int64_t last_start; //  ms (monotonic) the node last started
    int failures;       //  requests that could not be made
} run_t;

enum { DONE_COMPLETED = 1, DONE_FAILED, DONE_COMPENSATED };

static uint64_t s_mix (uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

//  A packer writing into a fixed buffer.
typedef struct {
    uint8_t *data;
    size_t size, cap;
} fixed_t;

static int s_fixed_write (void *arg, const char *buf, size_t len)
{
    fixed_t *fixed = arg;
    if (fixed->size + len > fixed->cap)
        return -1;
    memcpy (fixed->data + fixed->size, buf, len);
    fixed->size += len;
    return 0;
}

static void s_pack_str (msgpack_packer *pk, const char *key, const char *value)
{
    msgpack_pack_str_with_body (pk, key, strlen (key));
    msgpack_pack_str_with_body (pk, value, strlen (value));
}

static void s_pack_int (msgpack_packer *pk, const char *key, int64_t value)
{
    msgpack_pack_str_with_body (pk, key, strlen (key));
    msgpack_pack_int64 (pk, value);
}

static void s_account_address (size_t index, char *address, size_t size)
{
    snprintf (address, size, "account/a%05zu", index);
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
    fixed_t fixed = {payload, 0, cap};
    msgpack_packer pk;
    msgpack_packer_init (&pk, &fixed, s_fixed_write);
    char to[SHOAL_ADDRESS_MAX + 1];
    const char *name;
    envelope_kind_t kind = ENVELOPE_COMMAND;
    switch (run->phase) {
    case PHASE_OPEN:
        s_account_address (index, to, sizeof to);
        name = "Open";
        msgpack_pack_map (&pk, 1);
        s_pack_str (&pk, "owner", to + 8);
        break;
    case PHASE_FUND:
        s_account_address (index, to, sizeof to);
        name = "Deposit";
        msgpack_pack_map (&pk, 1);
        s_pack_int (&pk, "amount", o->funding);
        break;
    case PHASE_CLOSE:
        s_account_address (o->accounts - o->closed + index, to, sizeof to);
        name = "Close";
        msgpack_pack_map (&pk, 0);
        break;
    case PHASE_BALANCE:
        s_account_address (index, to, sizeof to);
        name = "get";
        kind = ENVELOPE_QUERY;
        msgpack_pack_map (&pk, 0);
        break;
    case PHASE_TRANSFER: {
        size_t from_index, to_index;
        int64_t amount;
        s_transfer_plan (run, index, &from_index, &to_index, &amount);
        char from[64], target[64];
        s_account_address (from_index, from, sizeof from);
        s_account_address (to_index, target, sizeof target);
        s_transfer_address (run, index, to, sizeof to);
        name = "Start";
        msgpack_pack_map (&pk, 3);
        s_pack_str (&pk, "from", from);
        s_pack_str (&pk, "to", target);
        s_pack_int (&pk, "amount", amount);
        break;
    }
    case PHASE_WAIT:
    default:
        s_transfer_address (run, index, to, sizeof to);
        name = "get";
        kind = ENVELOPE_QUERY;
        msgpack_pack_map (&pk, 0);
        break;
    }
    uint8_t id[ENVELOPE_ID_SIZE];
    s_request_id (run, index, id);
    if (kind == ENVELOPE_QUERY)
        envelope_new_id (id); //  queries have no effect: any id will do
    client_request (request, kind, id, to, name, payload, fixed.size);
    return 0;
}

static int s_reply (void *arg, size_t index, const client_reply_t *reply, int64_t latency_us)
{
    run_t *run = arg;
    if (!reply->ok && reply->code[0] && strcmp (reply->code, "unavailable") == 0)
        return 1; //  the node could not take it now: ask again
    switch (run->phase) {
    case PHASE_OPEN:
    case PHASE_FUND:
    case PHASE_CLOSE:
    case PHASE_TRANSFER:
        if (!reply->ok) {
            if (run->failures++ < 5)
                fprintf (stderr, "shoal: request %zu of %s rejected: %s %s\n", index,
                         s_phase_labels[run->phase], reply->code, reply->reason);
        }
        return 0;
    case PHASE_BALANCE: {
        int64_t balance;
        if (reply->ok && reply_state_int (reply, "balance", &balance) == 0)
            run->sum += balance;
        else
            run->failures++;
        return 0;
    }
    case PHASE_WAIT: {
        char status[32];
        if (!reply->ok || reply_state_str (reply, "status", status, sizeof status) != 0)
            return 1;
        if (strcmp (status, "completed") == 0)
            run->status[index] = DONE_COMPLETED;
        else if (strcmp (status, "failed") == 0)
            run->status[index] = DONE_FAILED;
        else if (strcmp (status, "compensated") == 0)
            run->status[index] = DONE_COMPENSATED;
        else
            return 1;
        return 0;
    }
    }
    return 0;
}

static int s_restart (run_t *run)
{
    const bank_options_t *o = run->options;
    char workers[16];
    snprintf (workers, sizeof workers, "%d", o->workers);
    char *extra[8] = {"--durability", o->async ? "async" : "sync", NULL};
    if (o->workers) {
        extra[2] = "--workers";
        extra[3] = workers;
        extra[4] = NULL;
    }
    const char *endpoint = run->node.endpoint[0] ? run->node.endpoint : "tcp://127.0.0.1:*";
    char saved[128];
    snprintf (saved, sizeof saved, "%s", endpoint);
    int rc = SHOAL_ETIMEOUT;
    //  A port can stay busy for a moment after a kill: try a few times.
    for (int attempt = 0; attempt < 20 && rc != 0; attempt++) {
        rc = node_child_start (&run->node, o->shoal, run->result->data_dir, saved, extra, o->log,
                               30000);
        if (rc)
            zclock_sleep (250);
    }
    if (rc == 0)
        snprintf (run->result->endpoint, sizeof run->result->endpoint, "%s", run->node.endpoint);
    run->last_start = zclock_mono ();
    return rc;
}

static int s_tick (void *arg, size_t done, size_t total)
{
    run_t *run = arg;
    const bank_options_t *o = run->options;
    if (o->progress)
        progress_show (s_phase_labels[run->phase], done, total, false);
    //  Kills land in the transfers at their planned points, at least 250 ms
    //  of work apart; those a fast run did not reach land while waiting.
    bool due = run->result->kills < o->kills && zclock_mono () - run->last_start >= 250 &&
               ((run->phase == PHASE_TRANSFER && done >= run->kill_at[run->result->kills]) ||
                run->phase == PHASE_WAIT);
    if (due) {
        node_child_stop (&run->node, SIGKILL);
        run->result->kills++;
        if (o->progress)
            fprintf (stderr, "%s  node killed with SIGKILL (%d of %d) at %zu/%zu; restarting\n",
                     isatty (STDERR_FILENO) ? "\n" : "", run->result->kills, o->kills, done, total);
        if (s_restart (run) != 0) {
            fprintf (stderr, "shoal: the node did not come back after a kill\n");
            return 1;
        }
    }
    return 0;
}

static int s_phase (run_t *run, phase_t phase, size_t count)
{
    run->phase = phase;
    driver_t driver = {
        .endpoint = run->node.endpoint,
        .count = count,
        .window = run->options->window,
        .resend_ms = 3000,
        .retry_ms = 50,
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
        fprintf (stderr, "shoal: %s did not finish: %s\n", s_phase_labels[phase],
                 shoal_strerror (rc));
    return rc;
}

//  --------------------------------------------------------------------------
//  The check, from the journal

typedef struct {
    run_t *run;
    int64_t balance;
    uint16_t *debits, *credits, *refunds; //  per transfer index
    char *problem;
    size_t problem_size;
    const char *stream;
} check_t;

static size_t s_transfer_index (const run_t *run, const char *transfer)
{
    size_t prefix = strlen (run->run);
    if (strncmp (transfer, run->run, prefix) != 0 || transfer[prefix] != '-')
        return SIZE_MAX;
    char *end;
    unsigned long long index = strtoull (transfer + prefix + 1, &end, 10);
    return *end || index >= run->options->transfers ? SIZE_MAX : (size_t) index;
}

static int s_check_event (void *arg, int64_t seq, const char *name, const uint8_t *data,
                          size_t size, int64_t created)
{
    check_t *check = arg;
    int64_t amount = 0;
    char transfer[SHOAL_ID_MAX + 1];
    map_int (data, size, "amount", &amount);
    bool with_transfer = map_str (data, size, "transfer", transfer, sizeof transfer) == 0;
    size_t index = with_transfer ? s_transfer_index (check->run, transfer) : SIZE_MAX;
    if (strcmp (name, "Deposited") == 0)
        check->balance += amount;
    else if (strcmp (name, "Withdrawn") == 0)
        check->balance -= amount;
    else if (strcmp (name, "Debited") == 0) {
        check->balance -= amount;
        if (index != SIZE_MAX)
            check->debits[index]++;
    } else if (strcmp (name, "Credited") == 0) {
        check->balance += amount;
        if (index != SIZE_MAX)
            check->credits[index]++;
    } else if (strcmp (name, "Refunded") == 0) {
        check->balance += amount;
        if (index != SIZE_MAX)
            check->refunds[index]++;
    }
    if (check->balance < 0 && !check->problem[0])
        snprintf (check->problem, check->problem_size, "%s went below zero at seq %lld",
                  check->stream, (long long) seq);
    return 0;
}

static int s_last_event (void *arg, int64_t seq, const char *name, const uint8_t *data, size_t size,
                         int64_t created)
{
    char *last = arg;
    if (strcmp (name, "Stalled") != 0)
        snprintf (last, 32, "%s", name);
    return 0;
}

static int s_check (run_t *run)
{
    const bank_options_t *o = run->options;
    bank_result_t *result = run->result;
    int code = 0;
    char *error = NULL;
    journal_t *journal = journal_open (result->data_dir, NULL, &code, &error);
    if (!journal) {
        fprintf (stderr, "shoal: cannot open the journal to check it: %s\n", error);
        free (error);
        return SHOAL_EIO;
    }
    check_t check = {run,
                     0,
                     calloc (o->transfers + 1, 2),
                     calloc (o->transfers + 1, 2),
                     calloc (o->transfers + 1, 2),
                     result->problem,
                     sizeof result->problem,
                     NULL};
    char address[SHOAL_ADDRESS_MAX + 1];
    result->total_after = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < o->accounts; i++) {
        s_account_address (i, address, sizeof address);
        check.balance = 0;
        check.stream = address;
        rc = journal_read (journal, address, 1, 0, s_check_event, &check);
        result->total_after += check.balance;
    }
    for (size_t i = 0; rc == 0 && i < o->transfers; i++) {
        result->debits += check.debits[i];
        result->credits += check.credits[i];
        result->refunds += check.refunds[i];
        char last[32] = "";
        s_transfer_address (run, i, address, sizeof address);
        rc = journal_read (journal, address, 1, 0, s_last_event, last);
        int debits = check.debits[i], credits = check.credits[i], refunds = check.refunds[i];
        const char *broken = NULL;
        if (debits > 1 || credits > 1 || refunds > 1)
            broken = "was debited, credited or refunded more than once";
        else if (strcmp (last, "Completed") == 0) {
            result->completed++;
            if (debits != 1 || credits != 1 || refunds != 0)
                broken = "completed without exactly one debit and one credit";
        } else if (strcmp (last, "Failed") == 0) {
            result->failed++;
            if (debits || credits || refunds)
                broken = "failed but moved money";
        } else if (strcmp (last, "Compensated") == 0) {
            result->compensated++;
            if (debits != 1 || credits != 0 || refunds != 1)
                broken = "compensated without exactly one debit and one refund";
        } else {
            result->unfinished++;
            broken = "is not terminal";
        }
        if (broken && !result->problem[0])
            snprintf (result->problem, sizeof result->problem, "%s %s (journal: %s)", address,
                      broken, last[0] ? last : "no events");
    }
    free (check.debits);
    free (check.credits);
    free (check.refunds);
    journal_destroy (&journal);
    if (rc) {
        fprintf (stderr, "shoal: the journal could not be read: %s\n", shoal_strerror (rc));
        return rc;
    }
    int64_t expected = (int64_t) o->accounts * o->funding;
    if (!result->problem[0] && result->total_after != expected)
        snprintf (result->problem, sizeof result->problem, "the total balance is %lld, not %lld",
                  (long long) result->total_after, (long long) expected);
    if (!result->problem[0] && result->total_before != expected)
        snprintf (result->problem, sizeof result->problem,
                  "the total balance before transfers was %lld, not %lld",
                  (long long) result->total_before, (long long) expected);
    result->balanced = !result->problem[0];
    return result->balanced ? 0 : SHOAL_EREJECTED;
}

//  --------------------------------------------------------------------------

static int s_remove_tree (const char *dir)
{
    char command[600];
    if (!dir[0] || strchr (dir, '\''))
        return -1;
    snprintf (command, sizeof command, "rm -rf -- '%s'", dir);
    return system (command);
}

int bank_run (const bank_options_t *options, bank_result_t *result)
{
    memset (result, 0, sizeof *result);
    if (options->accounts < 2 || options->closed >= options->accounts || options->funding <= 0 ||
        options->max_amount <= 0 || options->window == 0 || options->kills > 15 ||
        options->hot > options->accounts) {
        fprintf (stderr, "shoal: the bank run's options are out of range\n");
        return SHOAL_EINVAL;
    }
    bool temporary = !options->data_dir;
    if (temporary) {
        snprintf (result->data_dir, sizeof result->data_dir, "%s/shoal-bank-XXXXXX",
                  getenv ("TMPDIR") ? getenv ("TMPDIR") : "/tmp");
        if (!mkdtemp (result->data_dir)) {
            fprintf (stderr, "shoal: cannot make a temporary directory\n");
            return SHOAL_EIO;
        }
    } else
        snprintf (result->data_dir, sizeof result->data_dir, "%s", options->data_dir);

    run_t run = {.options = options, .result = result};
    snprintf (run.run, sizeof run.run, "r%llx",
              (unsigned long long) (options->seed & 0xffffffffffULL));
    run.status = calloc (options->transfers + 1, 1);
    for (int k = 0; k < options->kills; k++) {
        //  Spread the kills over the run, each at a seeded point in its slice.
        size_t slice = options->transfers / (size_t) (options->kills + 1);
        size_t jitter =
            slice ? (size_t) (s_mix (options->seed ^ (0xdead + k)) % (slice / 2 + 1)) : 0;
        run.kill_at[k] = slice * (size_t) (k + 1) - slice / 4 + jitter;
    }
    int rc = s_restart (&run);
    if (rc) {
        fprintf (stderr, "shoal: the node did not start (data %s)\n", result->data_dir);
        goto done;
    }
    if ((rc = s_phase (&run, PHASE_OPEN, options->accounts)) ||
        (rc = s_phase (&run, PHASE_FUND, options->accounts)) ||
        (rc = s_phase (&run, PHASE_CLOSE, options->closed)) ||
        (rc = s_phase (&run, PHASE_BALANCE, options->accounts)))
        goto done;
    result->total_before = run.sum;
    int64_t started = zclock_usecs ();
    if ((rc = s_phase (&run, PHASE_TRANSFER, options->transfers)) ||
        (rc = s_phase (&run, PHASE_WAIT, options->transfers)))
        goto done;
    result->transfer_seconds = (double) (zclock_usecs () - started) / 1e6;
    //  A clean stop, then the books from the journal itself.
    if (node_child_stop (&run.node, SIGTERM) != 0)
        fprintf (stderr, "shoal: the node did not stop cleanly\n");
    rc = s_check (&run);
    if (result->transfer_seconds > 0)
        result->transfers_per_second = (double) result->completed / result->transfer_seconds;
done:
    node_child_stop (&run.node, SIGKILL);
    free (run.status);
    if (temporary && !options->keep)
        s_remove_tree (result->data_dir);
    return rc;
}
