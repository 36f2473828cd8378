/*  test_worker_bank.c - the bank's actors (account, transfer saga) on two
    workers with no node and no network: the test plays the front (it
    binds "<prefix>-front", pushes client frames to each worker's
    "<prefix>-wN" and keeps queued_bytes as the front does), a real
    LevelDB journal underneath, and a commit made to fail on purpose
    (journal_fail_commits_after: the Nth commit from now and every one
    after it) while deposits and transfers are in flight.

    What it shows:
    - nothing of a failed batch is acknowledged: every `ok` the client
      gets has its inbox record in the journal when it arrives, and while
      commits fail the client hears `unavailable` at once, never silence;
    - the workers reload (the store is reopened) and the client's retries,
      with the same ids, are all accepted once commits succeed again;
    - the books balance (bench/books.c): every deposit once, every
      transfer terminal with its legs once, no money made or lost;
    - a command asked again after its answer is answered from the inbox;
    - the counters count each outcome once: accepted, rejected and replies
      are what the journal says happened, and messages are their sum with
      the duplicates (re-sends answered from the inbox).

    And, on its own, a worker whose reload keeps failing after a failed
    commit (the store's scan of the inbox's notes, wrapped at link time to
    fail while the test says so): it refuses commands `unavailable`,
    counts nothing for them, and takes each once when the reload works.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "account.h"
#include "books.h"
#include "client.h"
#include "envelope.h"
#include "harness.h"
#include "journal.h"
#include "registry.h"
#include "transfer.h"
#include "worker.h"

#include <czmq.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAIT_MS 30000    //  a condition's deadline (ASan on a busy machine)
#define WORKERS 2        //  sagas and accounts on both
#define ACCOUNTS 8       //  account/a0..a7, funded; account/shut is closed
#define FUNDING 500      //  deposited into each account first
#define DEPOSITS 60      //  deposits sent while the commit fails
#define TRANSFERS 40     //  transfers started meanwhile
#define FAIL_AT 3        //  the commit that fails, counted from the mix's start
#define ROUTE "client-1" //  the client's identity, as the front would pass it
#define REQUESTS_MAX (2 * ACCOUNTS + 2 + DEPOSITS + TRANSFERS)

//  The store's scan of the inbox's notes, which a worker's reload makes
//  (runtime/inbox.c), fails with SHOAL_EIO while this is set.
static atomic_bool s_scans_fail;

int __real_journal_inbox_scan_notes (journal_t *self, journal_entry_fn *fn, void *arg);
int __wrap_journal_inbox_scan_notes (journal_t *self, journal_entry_fn *fn, void *arg)
{
    if (atomic_load (&s_scans_fail))
        return SHOAL_EIO;
    return __real_journal_inbox_scan_notes (self, fn, arg);
}

//  A client's command, with the id it keeps on every re-send.
typedef struct {
    char to[64];
    char name[16];
    uint8_t *payload;
    size_t size;
    uint8_t id[ENVELOPE_ID_SIZE];
    int64_t created;  //  the first send (ms); re-sends keep it
    uint32_t attempt; //  sends so far
    bool waiting;     //  sent, not answered yet
    bool acked;       //  answered ok
} request_t;

typedef struct {
    char dir[64];                     //  the test's temporary directory
    char prefix[96];                  //  inproc endpoint prefix
    journal_t *journal;               //  the workers' store
    shoal_registry_t *registry;       //  account and transfer
    worker_stats_t stats[WORKERS];    //  the workers' counters
    worker_config_t config;           //  what the workers share
    zsock_t *front;                   //  PULL: the workers' replies to clients
    zsock_t *push[WORKERS];           //  PUSH: client frames to each worker
    zactor_t *workers[WORKERS];       //  NULL once stopped
    request_t requests[REQUESTS_MAX]; //  every command the client sent
    size_t count;                     //  requests used
    size_t unavailable;               //  `unavailable` answers
    size_t unreadable;                //  those of a turn that could not read the inbox
    size_t acked_while_failing;       //  ok answers while the hook was on
    int64_t deposited;                //  the sum of every deposit
} fixture_t;

static int s_setup (void **state)
{
    fixture_t *fx = calloc (1, sizeof (fixture_t));
    assert_non_null (fx);
    snprintf (fx->dir, sizeof fx->dir, "/tmp/shoal-test-worker-bank-XXXXXX");
    assert_non_null (mkdtemp (fx->dir));
    snprintf (fx->prefix, sizeof fx->prefix, "inproc://test-worker-bank-%d-%p", (int) getpid (),
              (void *) fx);
    int code;
    char *error = NULL;
    fx->journal = journal_open (fx->dir, &(journal_options_t){.sync = false}, &code, &error);
    assert_non_null (fx->journal);
    fx->registry = registry_new ();
    assert_non_null (fx->registry);
    assert_int_equal (shoal_register (fx->registry, &account_type), 0);
    assert_int_equal (shoal_register (fx->registry, &transfer_type), 0);
    fx->config = (worker_config_t){
        .journal = fx->journal,
        .registry = fx->registry,
        .prefix = fx->prefix,
        .workers = WORKERS,
        .shards = 64,
        .idle_ms = 600000,
        .snapshot_every = 100,
        .retention_ms = 7LL * 24 * 3600 * 1000,
        .stall_ms = 600000, //  no Stalled events: the counts below are exact
        .batch_max = 8,     //  many batches while the mix is in flight
        .stats = fx->stats,
    };
    fx->front = zsock_new_pull (NULL);
    assert_non_null (fx->front);
    assert_int_equal (zsock_bind (fx->front, "%s-front", fx->prefix), 0);
    for (int w = 0; w < WORKERS; w++) {
        fx->workers[w] = worker_new (&fx->config, w);
        assert_non_null (fx->workers[w]);
    }
    for (int w = 0; w < WORKERS; w++) {
        fx->push[w] = zsock_new_push (NULL);
        assert_non_null (fx->push[w]);
        assert_int_equal (zsock_connect (fx->push[w], "%s-w%d", fx->prefix, w), 0);
    }
    *state = fx;
    return 0;
}

static void s_stop_workers (fixture_t *fx)
{
    for (int w = 0; w < WORKERS; w++)
        zactor_destroy (&fx->workers[w]);
}

static int s_teardown (void **state)
{
    fixture_t *fx = *state;
    s_stop_workers (fx);
    for (int w = 0; w < WORKERS; w++)
        zsock_destroy (&fx->push[w]);
    harness_recv_close (fx->front);
    zsock_destroy (&fx->front);
    registry_destroy (&fx->registry);
    journal_destroy (&fx->journal);
    harness_rm_rf (fx->dir);
    for (size_t i = 0; i < fx->count; i++)
        free (fx->requests[i].payload);
    free (fx);
    return 0;
}

//  --------------------------------------------------------------------------
//  The client, through the front's sockets

//  Adds a command to address with "k=v" fields (NULL-terminated). Its id
//  holds its index (bytes 4-7), behind 4 bytes that spread it in the
//  workers' id tables. Returns the request.
static request_t *s_add (fixture_t *fx, const char *to, const char *name, ...)
{
    assert_true (fx->count < REQUESTS_MAX);
    size_t index = fx->count++;
    request_t *request = &fx->requests[index];
    snprintf (request->to, sizeof request->to, "%s", to);
    snprintf (request->name, sizeof request->name, "%s", name);
    char *fields[4];
    int count = 0;
    va_list args;
    va_start (args, name);
    for (char *field = va_arg (args, char *); field && count < 4; field = va_arg (args, char *))
        fields[count++] = field;
    va_end (args);
    char error[128];
    assert_int_equal (
        client_fields (count, fields, &request->payload, &request->size, error, sizeof error), 0);
    uint32_t spread = (uint32_t) (index * 2654435761u);
    for (int b = 0; b < 4; b++) {
        request->id[b] = (uint8_t) (spread >> (8 * b));
        request->id[4 + b] = (uint8_t) (index >> (24 - 8 * b));
    }
    memcpy (request->id + 8, "wkrbank!", 8);
    return request;
}

//  Sends request (again, with the same id and created time) to the worker
//  that owns its receiver, as the front does.
static void s_send (fixture_t *fx, request_t *request)
{
    if (request->attempt == 0)
        request->created = zclock_time ();
    envelope_t command = {.kind = ENVELOPE_COMMAND,
                          .attempt = request->attempt++,
                          .created = request->created,
                          .payload = request->payload,
                          .payload_size = request->size};
    memcpy (command.id, request->id, ENVELOPE_ID_SIZE);
    snprintf (command.to, sizeof command.to, "%s", request->to);
    snprintf (command.name, sizeof command.name, "%s", request->name);
    uint8_t *frame;
    size_t size;
    assert_int_equal (envelope_encode (&command, &frame, &size), 0);
    int w = worker_of (&fx->config, request->to);
    fx->stats[w].queued_bytes += size;
    void *push = zsock_resolve (fx->push[w]);
    assert_int_equal (zmq_send (push, ROUTE, strlen (ROUTE), ZMQ_SNDMORE), (int) strlen (ROUTE));
    assert_int_equal (zmq_send (push, frame, size, 0), (int) size);
    free (frame);
    request->waiting = true;
}

//  Sends every request from first on that is neither acknowledged nor
//  waiting for its answer.
static void s_send_unacked (fixture_t *fx, size_t first)
{
    for (size_t i = first; i < fx->count; i++)
        if (!fx->requests[i].acked && !fx->requests[i].waiting)
            s_send (fx, &fx->requests[i]);
}

//  Waits up to timeout_ms for one reply and takes it in: an `ok` must
//  find its command's inbox record already in the journal (the batch that
//  ran it was committed before anybody was told); any answer but ok is
//  `unavailable`. Returns false if none came.
static bool s_recv (fixture_t *fx, int timeout_ms, bool failing)
{
    zmsg_t *msg = harness_recv (fx->front, timeout_ms);
    if (!msg)
        return false;
    assert_int_equal (zmsg_size (msg), 2);
    zframe_t *route = zmsg_first (msg), *frame = zmsg_next (msg);
    assert_memory_equal (zframe_data (route), ROUTE, strlen (ROUTE));
    envelope_t reply;
    assert_int_equal (envelope_decode (&reply, zframe_data (frame), zframe_size (frame)), 0);
    assert_int_equal (reply.kind, ENVELOPE_REPLY);
    size_t index = 0;
    for (int b = 0; b < 4; b++)
        index = index << 8 | reply.correlation[4 + b];
    assert_true (index < fx->count);
    request_t *request = &fx->requests[index];
    assert_memory_equal (reply.correlation, request->id, ENVELOPE_ID_SIZE);
    bool ok;
    char code[ENVELOPE_CODE_MAX + 1], reason[ENVELOPE_REASON_MAX + 1];
    const uint8_t *data;
    size_t data_size;
    assert_int_equal (envelope_reply_decode (reply.payload, reply.payload_size, &ok, code, reason,
                                             &data, &data_size),
                      0);
    request->waiting = false;
    if (ok) {
        uint8_t *stored = NULL;
        size_t stored_size;
        //  While another worker's commit has just failed, the store is down
        //  until its reopen: a read then says SHOAL_EIO, not "absent".
        int rc;
        int64_t deadline = zclock_mono () + 10000;
        //  A command that created its stream has its record in the
        //  stream's first event (runtime/inbox.h).
        while (((rc = journal_inbox_get (fx->journal, request->to, request->id, &stored,
                                         &stored_size)) == SHOAL_EIO ||
                (rc == SHOAL_ENOTFOUND &&
                 (rc = journal_creator_find (fx->journal, request->to, request->id, &stored,
                                             &stored_size, NULL)) == SHOAL_EIO)) &&
               zclock_mono () < deadline)
            zclock_sleep (5);
        if (rc != 0)
            fail_msg ("%s %s #%zu acknowledged, but its inbox record is not in the journal (%s)",
                      request->to, request->name, index, shoal_strerror (rc));
        free (stored);
        request->acked = true;
        fx->acked_while_failing += failing;
    } else if (strcmp (code, "unavailable") == 0) {
        fx->unavailable++;
        fx->unreadable +=
            strncmp (reason, "its inbox record cannot be read: storage error", 46) == 0;
    } else
        fail_msg ("%s %s #%zu refused: %s: %s", request->to, request->name, index, code, reason);
    zmsg_destroy (&msg);
    return true;
}

//  Takes replies in, re-sending what was refused, until every request is
//  acknowledged (at most WAIT_MS).
static void s_until_acked (fixture_t *fx)
{
    int64_t deadline = zclock_mono () + WAIT_MS;
    for (;;) {
        s_send_unacked (fx, 0);
        size_t acked = 0;
        for (size_t i = 0; i < fx->count; i++)
            acked += fx->requests[i].acked;
        if (acked == fx->count)
            return;
        if (zclock_mono () > deadline)
            fail_msg ("%zu of %zu commands acknowledged after %d ms", acked, fx->count, WAIT_MS);
        s_recv (fx, 100, false);
    }
}

//  The sum of one counter over the workers.
#define S_SUM(fx, name) (atomic_load (&(fx)->stats[0].name) + atomic_load (&(fx)->stats[1].name))

//  The name of stream's last event into name ("" if none).
static int s_last_event (void *arg, int64_t seq, const char *name, const uint8_t *data, size_t size,
                         int64_t created)
{
    (void) seq, (void) data, (void) size, (void) created;
    snprintf (arg, 32, "%s", name);
    return 0;
}

//  True once transfer/tI's last committed event is terminal.
static bool s_terminal (fixture_t *fx, int i)
{
    char stream[32], last[32] = "";
    snprintf (stream, sizeof stream, "transfer/t%d", i);
    int64_t version = 0;
    if (journal_version (fx->journal, stream, &version) != 0 || version == 0)
        return false;
    if (journal_read (fx->journal, stream, version, 1, s_last_event, last) != 0)
        return false;
    return streq (last, "Completed") || streq (last, "Failed") || streq (last, "Compensated");
}

//  --------------------------------------------------------------------------

static void test_commit_fails_during_transfers (void **state)
{
    fixture_t *fx = *state;
    char address[32], owner[32], amount[32], from[48], to[48];

    //  The accounts, funded; account/shut is closed, so that transfers to
    //  it are compensated.
    for (int a = 0; a < ACCOUNTS; a++) {
        snprintf (address, sizeof address, "account/a%d", a);
        snprintf (owner, sizeof owner, "owner=A%d", a);
        s_add (fx, address, "Open", owner, NULL);
    }
    s_add (fx, "account/shut", "Open", "owner=Shut", NULL);
    s_until_acked (fx);
    for (int a = 0; a < ACCOUNTS; a++) {
        snprintf (address, sizeof address, "account/a%d", a);
        snprintf (amount, sizeof amount, "amount=%d", FUNDING);
        s_add (fx, address, "Deposit", amount, NULL);
        fx->deposited += FUNDING;
    }
    s_add (fx, "account/shut", "Close", NULL);
    s_until_acked (fx);
    size_t setup = fx->count;
    uint64_t commits_before = S_SUM (fx, commits);

    //  The FAIL_AT-th commit from now fails, and every one after it, while
    //  deposits and transfers are all in flight together.
    journal_fail_commits_after (fx->journal, FAIL_AT);
    harness_rand_seed (13);
    for (int i = 0, d = 0, t = 0; d < DEPOSITS || t < TRANSFERS; i++) {
        if (i % 5 < 3 && d < DEPOSITS) {
            snprintf (address, sizeof address, "account/a%d", d % ACCOUNTS);
            snprintf (amount, sizeof amount, "amount=%d", d % 5 + 1);
            s_add (fx, address, "Deposit", amount, NULL);
            fx->deposited += d % 5 + 1;
            d++;
        } else if (t < TRANSFERS) {
            int source = (int) (harness_rand () % ACCOUNTS);
            int target = (source + 1 + (int) (harness_rand () % (ACCOUNTS - 1))) % ACCOUNTS;
            snprintf (address, sizeof address, "transfer/t%d", t);
            snprintf (from, sizeof from, "from=account/a%d", source);
            if (t % 8 == 7)
                snprintf (to, sizeof to, "to=account/shut");
            else
                snprintf (to, sizeof to, "to=account/a%d", target);
            snprintf (amount, sizeof amount, "amount=%d", 1 + (int) (harness_rand () % 400));
            s_add (fx, address, "Start", from, to, amount, NULL);
            t++;
        }
    }
    s_send_unacked (fx, setup);

    //  Every command is answered while the commits fail: `ok` only for
    //  those of the batches committed before the failure (s_recv checks
    //  their inbox records), `unavailable` for the rest, never silence.
    int64_t deadline = zclock_mono () + WAIT_MS;
    bool answered = false;
    while (!answered || S_SUM (fx, failures) < 2) {
        if (zclock_mono () > deadline)
            fail_msg ("the failing commits: %llu failures, commands %s",
                      (unsigned long long) S_SUM (fx, failures),
                      answered ? "answered" : "still waiting");
        s_recv (fx, 100, true);
        answered = true;
        for (size_t i = setup; i < fx->count; i++)
            answered = answered && !fx->requests[i].waiting;
    }
    uint64_t failures = S_SUM (fx, failures);
    assert_true (journal_reopens (fx->journal) >= 1);
    assert_int_equal (S_SUM (fx, commits), commits_before + FAIL_AT - 1);
    assert_true (fx->unavailable > 0);
    size_t refused = fx->count - setup - fx->acked_while_failing;
    print_message ("while commits failed: %zu of %zu commands acknowledged, %zu unavailable "
                   "(%llu failed commits, %llu reopens)\n",
                   fx->acked_while_failing, fx->count - setup, refused,
                   (unsigned long long) failures,
                   (unsigned long long) journal_reopens (fx->journal));
    assert_true (refused > 0);

    //  Commits succeed again: the client retries what was refused, with
    //  the same ids, and every command is accepted; every transfer ends.
    journal_fail_commits_after (fx->journal, 0);
    s_until_acked (fx);
    deadline = zclock_mono () + WAIT_MS;
    for (int t = 0; t < TRANSFERS; t++)
        while (!s_terminal (fx, t)) {
            if (zclock_mono () > deadline)
                fail_msg ("transfer/t%d is not terminal after %d ms", t, WAIT_MS);
            s_recv (fx, 20, false); //  a late reply is still checked
        }
    while (s_recv (fx, 50, false))
        ;
    //  A client that missed its answer asks again: every 7th command, once
    //  more with its id, is answered from the inbox, a duplicate, and
    //  counted as nothing else.
    uint64_t accepted_before = S_SUM (fx, accepted), duplicates_before = S_SUM (fx, duplicates);
    size_t asked_again = 0;
    for (size_t i = 0; i < fx->count; i += 7, asked_again++)
        fx->requests[i].acked = false;
    s_until_acked (fx);
    assert_int_equal (S_SUM (fx, accepted), accepted_before);
    assert_true (S_SUM (fx, duplicates) >= duplicates_before + asked_again);

    //  The events every stream holds, before the store is closed.
    int64_t events = 0, version;
    for (int a = 0; a <= ACCOUNTS; a++) {
        if (a < ACCOUNTS)
            snprintf (address, sizeof address, "account/a%d", a);
        else
            snprintf (address, sizeof address, "account/shut");
        assert_int_equal (journal_version (fx->journal, address, &version), 0);
        events += version;
    }
    for (int t = 0; t < TRANSFERS; t++) {
        snprintf (address, sizeof address, "transfer/t%d", t);
        assert_int_equal (journal_version (fx->journal, address, &version), 0);
        events += version;
    }
    s_stop_workers (fx); //  the counters settle
    journal_destroy (&fx->journal);

    //  The books, from the journal: they balance, every deposit counted once.
    books_t *books = books_new ();
    char *error = NULL;
    if (books_read_dir (books, fx->dir, &error) != 0)
        fail_msg ("cannot read the books: %s", error ? error : "");
    books_summary_t summary;
    int verified = books_verify (books, &summary);
    for (int i = 0; i < BOOKS_INVARIANT_COUNT; i++)
        if (summary.broken[i])
            print_error ("%s broken: %s\n", books_invariant_name ((books_invariant_t) i),
                         summary.first[i]);
    books_destroy (&books);
    assert_int_equal (verified, 0);
    assert_int_equal (summary.deposits, fx->deposited);
    assert_int_equal (summary.total, fx->deposited);
    assert_int_equal (summary.unfinished, 0);
    assert_int_equal (summary.completed + summary.failed + summary.compensated, TRANSFERS);
    assert_true (summary.compensated > 0); //  the closed target
    print_message ("transfers: %zu completed, %zu failed, %zu compensated; %lld deposited\n",
                   summary.completed, summary.failed, summary.compensated,
                   (long long) summary.deposits);

    //  The counters: each outcome once, as the journal has it. Accepted:
    //  the client's commands, and the legs the accounts took; rejected:
    //  the debits (insufficient funds) and credits (closed) refused; the
    //  sagas handled one reply per leg.
    size_t legs_taken = 2 * summary.completed + 2 * summary.compensated;
    uint64_t accepted = S_SUM (fx, accepted), rejected = S_SUM (fx, rejected);
    uint64_t replies = S_SUM (fx, replies), duplicates = S_SUM (fx, duplicates);
    print_message (
        "counters: %llu accepted, %llu rejected, %llu replies, %llu duplicates, "
        "%llu messages, %llu events, %llu failures\n",
        (unsigned long long) accepted, (unsigned long long) rejected, (unsigned long long) replies,
        (unsigned long long) duplicates, (unsigned long long) S_SUM (fx, messages),
        (unsigned long long) S_SUM (fx, events), (unsigned long long) S_SUM (fx, failures));
    assert_int_equal (accepted, fx->count + legs_taken);
    assert_int_equal (rejected, summary.failed + summary.compensated);
    assert_int_equal (replies, 2 * summary.completed + summary.failed + 3 * summary.compensated);
    assert_int_equal (S_SUM (fx, messages), accepted + rejected + replies + duplicates);
    assert_int_equal (S_SUM (fx, events), events);
    assert_int_equal (S_SUM (fx, expired), 0);
    assert_true (S_SUM (fx, failures) >= 2);
    //  The workers reloaded: the actors they dropped were loaded again.
    assert_true (S_SUM (fx, activations) > ACCOUNTS + 1 + TRANSFERS);
}

//  A commit fails, and the worker's reload after it fails too, again and
//  again: until it works, the worker cannot tell a command it ran from a
//  new one (its inbox is not whole), so it refuses each `unavailable`
//  ("its inbox record cannot be read"). Those refusals, like an aborted
//  batch's, count nothing: once the reload works, each command is taken
//  once and the counters add up exactly.
static void test_reload_fails_counts_nothing (void **state)
{
    fixture_t *fx = *state;
    s_add (fx, "account/a0", "Open", "owner=A0", NULL);
    s_until_acked (fx);
    uint64_t messages = S_SUM (fx, messages), accepted = S_SUM (fx, accepted);

    //  The next commit fails, and every reload after it.
    atomic_store (&s_scans_fail, true);
    journal_fail_commits_after (fx->journal, 1);
    request_t *first = s_add (fx, "account/a0", "Deposit", "amount=7", NULL);
    s_send (fx, first);
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (S_SUM (fx, failures) == 0 || first->waiting) {
        if (zclock_mono () > deadline)
            fail_msg ("no failed commit after %d ms", WAIT_MS);
        s_recv (fx, 100, true);
    }
    journal_fail_commits_after (fx->journal, 0);

    //  Commits would work now, but the reload does not: the client keeps
    //  asking and hears the turn's refusal.
    for (int d = 0; d < 4; d++)
        s_add (fx, "account/a0", "Deposit", "amount=5", NULL);
    deadline = zclock_mono () + WAIT_MS;
    while (fx->unreadable < 20) {
        if (zclock_mono () > deadline)
            fail_msg ("%zu refusals of unreadable inbox records after %d ms", fx->unreadable,
                      WAIT_MS);
        s_send_unacked (fx, 0);
        s_recv (fx, 100, false);
    }
    for (size_t i = 0; i < fx->count; i++)
        assert_true (fx->requests[i].acked == (i == 0)); //  only the Open
    assert_int_equal (S_SUM (fx, rejected), 0);
    assert_int_equal (S_SUM (fx, messages), messages);

    //  The reload works: each deposit taken once, nothing else counted.
    atomic_store (&s_scans_fail, false);
    s_until_acked (fx);
    while (s_recv (fx, 50, false))
        ;
    assert_int_equal (S_SUM (fx, accepted), accepted + 5);
    assert_int_equal (S_SUM (fx, rejected), 0);
    assert_int_equal (S_SUM (fx, messages), messages + 5 + S_SUM (fx, duplicates));
    int64_t version;
    assert_int_equal (journal_version (fx->journal, "account/a0", &version), 0);
    assert_int_equal (version, 6); //  Opened and five Deposited
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_commit_fails_during_transfers, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_reload_fails_counts_nothing, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
