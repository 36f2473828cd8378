/*  test_bank_projections.c - the bank's projections and its reaction,
    through real `shoal node` processes: bank_totals against the journal
    after concurrent transfers under SIGKILLs, account_transfers newest
    first with each transfer's status, large_debits flagging each large
    debit exactly once across SIGKILLs while its reactions are in flight,
    the review actor's refusals, and `shoal demo`'s end check.

    Each test's node keeps its store in DIR/data and listens on
    ipc://DIR/node.ipc, in the test's own directory. Queries to the
    projections go to "node/projections" (projection_rows, projections)
    through the client library. Waits poll against a deadline.
*/
#include "bank.h"
#include "bank_projections.h"
#include "books.h"
#include "client_window.h"

#include <czmq.h>
#include <msgpack.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

typedef struct {
    char dir[64];      //  the test's temporary directory
    char data[96];     //  dir/data: the node's store
    char endpoint[96]; //  ipc://dir/node.ipc
    node_child_t node; //  pid 0 when not running
    client_t *client;  //  of the running node
} fixture_t;

#define WAIT_MS 30000 //  the most a test waits for what must come

static char *s_workers[] = {"--workers", "2", NULL};

static int s_setup (void **state)
{
    fixture_t *f = calloc (1, sizeof (fixture_t));
    snprintf (f->dir, sizeof f->dir, "/tmp/shoal-test-bankproj-XXXXXX");
    assert_non_null (mkdtemp (f->dir));
    snprintf (f->data, sizeof f->data, "%s/data", f->dir);
    snprintf (f->endpoint, sizeof f->endpoint, "ipc://%s/node.ipc", f->dir);
    *state = f;
    return 0;
}

static int s_teardown (void **state)
{
    fixture_t *f = *state;
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGKILL);
    assert_int_equal (bench_remove_tree (f->dir), 0);
    free (f);
    return 0;
}

static void s_start (fixture_t *f)
{
    int rc = node_child_start (&f->node, getenv ("SHOAL_BIN"), f->data, f->endpoint, s_workers,
                               NULL, 30000);
    assert_int_equal (rc, 0);
    client_destroy (&f->client);
    f->client = client_new (f->endpoint);
    assert_non_null (f->client);
}

static void s_stop (fixture_t *f, int sig)
{
    client_destroy (&f->client);
    node_child_stop (&f->node, sig);
}

//  A request with "k=v" fields (NULL-terminated), its id from id_text
//  (NULL: random). Returns client_call's code; the reply is the caller's.
static int s_call (fixture_t *f, envelope_kind_t kind, const char *id_text, const char *to,
                   const char *name, client_reply_t *reply, ...)
{
    char *fields[8];
    int count = 0;
    va_list args;
    va_start (args, reply);
    for (char *field = va_arg (args, char *); field && count < 8; field = va_arg (args, char *))
        fields[count++] = field;
    va_end (args);
    uint8_t *payload, id[ENVELOPE_ID_SIZE];
    size_t size;
    char error[128];
    assert_int_equal (client_fields (count, fields, &payload, &size, error, sizeof error), 0);
    if (id_text)
        client_id_from_string (id_text, id);
    envelope_t request;
    client_request (&request, kind, id_text ? id : NULL, to, name, payload, size);
    int rc = client_call (f->client, &request, 10000, reply);
    free (payload);
    return rc;
}

//  A command that must be accepted.
#define s_must(f, to, name, ...)                                                                   \
    do {                                                                                           \
        client_reply_t reply_;                                                                     \
        assert_int_equal (s_call (f, ENVELOPE_COMMAND, NULL, to, name, &reply_, __VA_ARGS__), 0);  \
        if (!reply_.ok)                                                                            \
            fail_msg ("%s %s rejected: %s %s", to, name, reply_.code, reply_.reason);              \
        client_reply_close (&reply_);                                                              \
    } while (0)

//  The code a command is rejected with ("" if accepted).
static void s_refused (fixture_t *f, const char *to, const char *name, const char *code, ...)
{
    char *fields[4] = {NULL};
    va_list args;
    va_start (args, code);
    for (int i = 0; i < 3 && (fields[i] = va_arg (args, char *)); i++)
        ;
    va_end (args);
    client_reply_t reply;
    assert_int_equal (
        s_call (f, ENVELOPE_COMMAND, NULL, to, name, &reply, fields[0], fields[1], fields[2], NULL),
        0);
    assert_false (reply.ok);
    assert_string_equal (reply.code, code);
    client_reply_close (&reply);
}

//  Polls transfer/ID until terminal; returns its status.
static void s_wait_terminal (fixture_t *f, const char *id, char *status, size_t size)
{
    char address[SHOAL_ADDRESS_MAX + 1];
    snprintf (address, sizeof address, "transfer/%s", id);
    snprintf (status, size, "unknown");
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (zclock_mono () < deadline) {
        client_reply_t reply;
        if (s_call (f, ENVELOPE_QUERY, NULL, address, "get", &reply, NULL) == 0) {
            int found = reply_state_str (&reply, "status", status, size);
            client_reply_close (&reply);
            if (found == 0 && (streq (status, "completed") || streq (status, "failed") ||
                               streq (status, "compensated")))
                return;
        }
        zclock_sleep (20);
    }
    fail_msg ("transfer %s is not terminal (status %s)", id, status);
}

//  Waits until the bank's projections have read the log to its end and
//  their reactions are answered.
static void s_wait_settled (fixture_t *f)
{
    char reason[256] = "";
    int rc = SHOAL_ETIMEOUT;
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (zclock_mono () < deadline &&
           (rc = bank_view_settled (f->client, bank_view_names, 5000, reason, sizeof reason)) != 0)
        zclock_sleep (20);
    if (rc)
        fail_msg ("the projections did not settle: %s (%s)", shoal_strerror (rc), reason);
}

//  What the projections list says of the builds of one projection.
typedef struct {
    int count;              //  builds of the name
    int64_t number;         //  the last one's build number
    int64_t applied;        //  its events applied
    int64_t sends;          //  its reactions awaiting their answer
    char status[16];        //  its status
    char error[256];        //  its error ("" if none)
    int64_t error_position; //  the event it failed at (-1 if none)
    int64_t end;            //  the log's end, as the list said it
} build_t;

//  Reads the builds of name from the projections list; false if the node
//  did not answer.
static bool s_build (fixture_t *f, const char *name, build_t *build)
{
    memset (build, 0, sizeof *build);
    build->error_position = -1;
    client_reply_t reply;
    if (s_call (f, ENVELOPE_QUERY, NULL, "node/projections", "projections", &reply, NULL) != 0)
        return false;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *answer = map_unpack (&unpacked, reply.data, reply.size);
    map_find_int (answer, "end", &build->end);
    const msgpack_object *list = map_find (answer, "projections");
    for (uint32_t i = 0; list && list->type == MSGPACK_OBJECT_ARRAY && i < list->via.array.size;
         i++) {
        char each[64];
        const msgpack_object *item = &list->via.array.ptr[i];
        if (map_find_str (item, "name", each, sizeof each) == 0 && streq (each, name)) {
            build->count++;
            map_find_int (item, "build", &build->number);
            map_find_int (item, "applied", &build->applied);
            map_find_int (item, "sends", &build->sends);
            map_find_str (item, "status", build->status, sizeof build->status);
            map_find_str (item, "error", build->error, sizeof build->error);
            map_find_int (item, "error_position", &build->error_position);
        }
    }
    msgpack_unpacked_destroy (&unpacked);
    bool ok = reply.ok;
    client_reply_close (&reply);
    return ok;
}

//  Sends an operator's action (pause, resume, rebuild) on name; it must be
//  taken.
static void s_control (fixture_t *f, const char *action, const char *name)
{
    char action_field[32], name_field[64];
    snprintf (action_field, sizeof action_field, "action=%s", action);
    snprintf (name_field, sizeof name_field, "name=%s", name);
    client_reply_t reply;
    assert_int_equal (s_call (f, ENVELOPE_QUERY, NULL, "node/projections", "projection_control",
                              &reply, action_field, name_field, NULL),
                      0);
    if (!reply.ok)
        fail_msg ("%s %s refused: %s %s", action, name, reply.code, reply.reason);
    client_reply_close (&reply);
}

//  --------------------------------------------------------------------------
//  Rows of account_transfers

#define ROWS_MAX 16

typedef struct {
    char key[64];
    char transfer[32], from[32], to[32], direction[8], status[16], code[32];
    int64_t amount;
} row_t;

//  The rows of name under prefix (at most ROWS_MAX), in the order given.
static size_t s_rows (fixture_t *f, const char *name, const char *prefix, row_t *rows)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 2);
    msgpack_pack_str_with_body (&pk, "name", 4);
    msgpack_pack_str_with_body (&pk, name, strlen (name));
    msgpack_pack_str_with_body (&pk, "prefix", 6);
    msgpack_pack_str_with_body (&pk, prefix, strlen (prefix));
    envelope_t request;
    client_request (&request, ENVELOPE_QUERY, NULL, "node/projections", "projection_rows",
                    (const uint8_t *) buffer.data, buffer.size);
    client_reply_t reply;
    assert_int_equal (client_call (f->client, &request, 10000, &reply), 0);
    msgpack_sbuffer_destroy (&buffer);
    if (!reply.ok)
        fail_msg ("projection_rows of %s: %s %s", name, reply.code, reply.reason);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *list = map_find (map_unpack (&unpacked, reply.data, reply.size), "rows");
    assert_non_null (list);
    assert_int_equal (list->type, MSGPACK_OBJECT_ARRAY);
    size_t count = list->via.array.size;
    assert_true (count <= ROWS_MAX);
    for (size_t i = 0; i < count; i++) {
        const msgpack_object *item = &list->via.array.ptr[i];
        const msgpack_object *row = map_find (item, "row");
        row_t *r = &rows[i];
        memset (r, 0, sizeof *r);
        assert_int_equal (map_find_str (item, "key", r->key, sizeof r->key), 0);
        map_find_str (row, "transfer", r->transfer, sizeof r->transfer);
        map_find_str (row, "from", r->from, sizeof r->from);
        map_find_str (row, "to", r->to, sizeof r->to);
        map_find_str (row, "direction", r->direction, sizeof r->direction);
        map_find_str (row, "status", r->status, sizeof r->status);
        map_find_str (row, "code", r->code, sizeof r->code);
        map_find_int (row, "amount", &r->amount);
    }
    msgpack_unpacked_destroy (&unpacked);
    client_reply_close (&reply);
    return count;
}

static void s_row_is (const row_t *row, const char *transfer, const char *direction,
                      const char *status, const char *code)
{
    assert_string_equal (row->transfer, transfer);
    assert_string_equal (row->direction, direction);
    assert_string_equal (row->status, status);
    assert_string_equal (row->code, code);
}

//  --------------------------------------------------------------------------
//  (a) bank_totals equals the journal after concurrent transfers

//  The bank workload on a node of its own, 2 SIGKILLs mid-run: bank_run
//  waits for the projections to catch up before the node stops, reads
//  bank_totals, then the books from the journal. Each figure is set side
//  by side here: the projection's against the journal's.
static void test_totals_equal_journal (void **state)
{
    (void) state;
    uint64_t seed = getenv ("SHOAL_TEST_SEED") ? strtoull (getenv ("SHOAL_TEST_SEED"), NULL, 10)
                                               : (uint64_t) time (NULL);
    print_message ("test_totals_equal_journal: seed %llu (replay with SHOAL_TEST_SEED)\n",
                   (unsigned long long) seed);
    bank_options_t o = {
        .shoal = getenv ("SHOAL_BIN"),
        .accounts = 200,
        .funding = 1000,
        .closed = 4,
        .transfers = 2000,
        .max_amount = 700,
        .window = 128,
        .kills = 2,
        .seed = seed,
        .workers = 2,
        .projections = true,
    };
    bank_result_t r;
    int rc = bank_run (&o, &r);
    print_message ("completed %zu failed %zu compensated %zu kills %d; bank_totals %lld at %llu; "
                   "large debits %zu flags %zu: %s\n",
                   r.completed, r.failed, r.compensated, r.kills, (long long) r.projected.balance,
                   (unsigned long long) r.projected.position, r.large_debits, r.flags,
                   r.problem[0] ? r.problem : "books balance");
    assert_int_equal (rc, 0);
    assert_true (r.balanced);
    assert_true (r.kills >= 2);
    assert_true (r.has_projected);
    assert_int_equal (r.projected.lag, 0);
    assert_int_equal (r.projected.balance, 200 * 1000);
    assert_int_equal (r.projected.balance, r.total_after);
    assert_int_equal (r.projected.open, 196);
    assert_int_equal (r.projected.closed, 4);
    assert_int_equal (r.projected.open, (int64_t) r.open);
    assert_int_equal (r.projected.closed, (int64_t) r.closed);
    //  By outcome: the journal's counts come from each saga's own stream.
    assert_int_equal (r.projected.started, 2000);
    assert_int_equal (r.projected.completed, (int64_t) r.completed);
    assert_int_equal (r.projected.failed, (int64_t) r.failed);
    assert_int_equal (r.projected.compensated, (int64_t) r.compensated);
    assert_true (r.completed > 0 && r.failed > 0);
    //  And each large debit flagged once (amounts go up to 700).
    assert_true (r.large_debits > 0);
    assert_int_equal (r.flags, r.large_debits);
}

//  --------------------------------------------------------------------------
//  (b) account_transfers

//  Four transfers of alice, one at a time, each reaching another end:
//  completed out, completed in, failed (overdrawn), compensated (closed
//  target). `--prefix alice/` lists them newest first with their status;
//  bob's and carol's rows are the other sides; no index row outlives its
//  transfer; and a rebuild from position 0 gives the same rows.
static void test_account_transfers_newest_first (void **state)
{
    fixture_t *f = *state;
    s_start (f);
    const char *accounts[] = {"account/alice", "account/bob", "account/carol"};
    for (int i = 0; i < 3; i++) {
        s_must (f, accounts[i], "Open", "owner=someone", NULL);
        s_must (f, accounts[i], "Deposit", "amount=1000", NULL);
    }
    s_must (f, "account/carol", "Close", NULL);
    struct {
        const char *id, *from, *to, *amount, *status;
    } plan[] = {
        {"t1", "from=alice", "to=bob", "amount=100", "completed"},
        {"t2", "from=bob", "to=alice", "amount=50", "completed"},
        {"t3", "from=alice", "to=bob", "amount=5000", "failed"},
        {"t4", "from=alice", "to=carol", "amount=10", "compensated"},
    };
    for (size_t i = 0; i < 4; i++) {
        char address[32], status[32];
        snprintf (address, sizeof address, "transfer/%s", plan[i].id);
        s_must (f, address, "Start", plan[i].from, plan[i].to, plan[i].amount, NULL);
        s_wait_terminal (f, plan[i].id, status, sizeof status);
        assert_string_equal (status, plan[i].status);
    }
    s_wait_settled (f);

    row_t rows[ROWS_MAX];
    assert_int_equal (s_rows (f, "account_transfers", "alice/", rows), 4);
    s_row_is (&rows[0], "t4", "out", "compensated", "closed");
    s_row_is (&rows[1], "t3", "out", "failed", "insufficient_funds");
    s_row_is (&rows[2], "t2", "in", "completed", "");
    s_row_is (&rows[3], "t1", "out", "completed", "");
    assert_string_equal (rows[0].to, "carol");
    assert_string_equal (rows[2].from, "bob");
    assert_int_equal (rows[1].amount, 5000);
    for (int i = 0; i < 4; i++) {
        //  alice/ and UINT64_MAX - position in 20 digits: a position
        //  below 10^19 leaves the first digit a 1, the second an 8.
        assert_int_equal (strlen (rows[i].key), strlen ("alice/") + 20);
        assert_int_equal (strspn (rows[i].key + 6, "0123456789"), 20);
        assert_memory_equal (rows[i].key, "alice/18", 8);
        if (i > 0)
            assert_true (strcmp (rows[i - 1].key, rows[i].key) < 0);
    }
    assert_int_equal (s_rows (f, "account_transfers", "bob/", rows), 3);
    s_row_is (&rows[0], "t3", "in", "failed", "insufficient_funds");
    s_row_is (&rows[1], "t2", "out", "completed", "");
    s_row_is (&rows[2], "t1", "in", "completed", "");
    assert_int_equal (s_rows (f, "account_transfers", "carol/", rows), 1);
    s_row_is (&rows[0], "t4", "in", "compensated", "closed");
    //  Every row is an account's: the index rows went with their transfers.
    assert_int_equal (s_rows (f, "account_transfers", "", rows), 8);

    //  A rebuild replays the same events into the same rows.
    row_t before[ROWS_MAX], after[ROWS_MAX];
    assert_int_equal (s_rows (f, "account_transfers", "", before), 8);
    client_reply_t reply;
    assert_int_equal (s_call (f, ENVELOPE_QUERY, NULL, "node/projections", "projection_control",
                              &reply, "action=rebuild", "name=account_transfers", NULL),
                      0);
    if (!reply.ok)
        fail_msg ("rebuild refused: %s %s", reply.code, reply.reason);
    client_reply_close (&reply);
    //  The rebuild serves once caught up, and drops the build it replaces:
    //  then one build of account_transfers is left, build 1.
    int64_t deadline = zclock_mono () + WAIT_MS;
    build_t build = {0};
    while (zclock_mono () < deadline &&
           !(s_build (f, "account_transfers", &build) && build.count == 1 && build.number == 1))
        zclock_sleep (20);
    assert_int_equal (build.count, 1);
    assert_int_equal (build.number, 1);
    s_wait_settled (f);
    assert_int_equal (s_rows (f, "account_transfers", "", after), 8);
    assert_memory_equal (before, after, sizeof (row_t) * 8);
}

//  An account's id never holds a '/': its Open is refused, and a transfer
//  naming such an id gets no row under it. Before, `--prefix alice/`
//  listed the rows of "alice/x" with alice's.
static void test_account_ids_without_slash (void **state)
{
    fixture_t *f = *state;
    s_start (f);
    s_must (f, "account/alice", "Open", "owner=a", NULL);
    s_must (f, "account/alice", "Deposit", "amount=100", NULL);
    s_refused (f, "account/alice/x", "Open", "invalid_id", "owner=x", NULL);
    s_must (f, "transfer/t1", "Start", "from=alice", "to=account/alice/x", "amount=10", NULL);
    char status[32];
    s_wait_terminal (f, "t1", status, sizeof status);
    assert_string_equal (status, "compensated");
    s_wait_settled (f);
    row_t rows[ROWS_MAX];
    assert_int_equal (s_rows (f, "account_transfers", "alice/", rows), 1);
    s_row_is (&rows[0], "t1", "out", "compensated", "not_open");
    assert_int_equal (s_rows (f, "account_transfers", "", rows), 1);
}

//  --------------------------------------------------------------------------
//  (c) large_debits: each large debit flagged exactly once across SIGKILLs

#define ROUND_TRANSFERS 24

//  The amount of transfer k: 599 (just under the threshold), 600 (at it)
//  or more.
static int64_t s_amount (int k)
{
    return k % 3 == 0 ? LARGE_DEBIT_MIN - 1 : k % 3 == 1 ? LARGE_DEBIT_MIN : 650 + k;
}

//  Sends the Start of every transfer of round (ids "rROUND-K"), without
//  waiting for the replies: the same ids every time, so a second call
//  after a restart starts only what the first did not.
static void s_send_round (fixture_t *f, int round)
{
    for (int k = 0; k < ROUND_TRANSFERS; k++) {
        char id[32], address[48], from[32], to[32], amount[32];
        snprintf (id, sizeof id, "r%d-%d", round, k);
        snprintf (address, sizeof address, "transfer/%s", id);
        snprintf (from, sizeof from, "from=x%d", k % 4);
        snprintf (to, sizeof to, "to=x%d", (k + 1) % 4);
        snprintf (amount, sizeof amount, "amount=%lld", (long long) s_amount (k));
        char *fields[] = {from, to, amount};
        uint8_t *payload, message_id[ENVELOPE_ID_SIZE];
        size_t size;
        char error[64];
        assert_int_equal (client_fields (3, fields, &payload, &size, error, sizeof error), 0);
        client_id_from_string (id, message_id);
        envelope_t request;
        client_request (&request, ENVELOPE_COMMAND, message_id, address, "Start", payload, size);
        assert_int_equal (client_send (f->client, &request), 0);
        free (payload);
    }
}

//  Starts a round and kills the node with SIGKILL as soon as large_debits
//  has applied a debit of it, at the first sight of a reaction still
//  unanswered if there is one in the meantime.
static void s_round_killed (fixture_t *f, int round)
{
    build_t before, now = {0};
    assert_true (s_build (f, "large_debits", &before));
    s_send_round (f, round);
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (zclock_mono () < deadline &&
           !(s_build (f, "large_debits", &now) && (now.sends > 0 || now.applied > before.applied)))
        ;
    print_message ("round %d: SIGKILL with large_debits at %lld debits applied, %lld sends "
                   "unanswered\n",
                   round, (long long) now.applied, (long long) now.sends);
    assert_true (now.applied > before.applied || now.sends > 0);
    s_stop (f, SIGKILL);
    s_start (f);
}

static void test_large_debits_flagged_once (void **state)
{
    fixture_t *f = *state;
    s_start (f);
    for (int i = 0; i < 4; i++) {
        char address[32];
        snprintf (address, sizeof address, "account/x%d", i);
        s_must (f, address, "Open", "owner=x", NULL);
        s_must (f, address, "Deposit", "amount=1000000", NULL);
    }
    s_round_killed (f, 1);
    s_round_killed (f, 2);
    //  Every Start again (the node may have lost some in the kills): the
    //  same ids start nothing twice.
    for (int round = 1; round <= 2; round++) {
        s_send_round (f, round);
        for (int k = 0; k < ROUND_TRANSFERS; k++) {
            char id[32], status[32];
            snprintf (id, sizeof id, "r%d-%d", round, k);
            s_wait_terminal (f, id, status, sizeof status);
            assert_string_equal (status, "completed");
        }
    }
    s_wait_settled (f);
    //  review/x1 collects the large debits of account/x1: the transfers
    //  k = 1 (mod 4) of each round whose amount is at least 600.
    int64_t expected_x1 = 0, expected = 0;
    for (int k = 0; k < ROUND_TRANSFERS; k++)
        if (s_amount (k) >= LARGE_DEBIT_MIN) {
            expected += 2;
            expected_x1 += k % 4 == 1 ? 2 : 0;
        }
    client_reply_t reply;
    assert_int_equal (s_call (f, ENVELOPE_QUERY, NULL, "review/x1", "get", &reply, NULL), 0);
    assert_true (reply.ok);
    int64_t flags = -1;
    assert_int_equal (reply_state_int (&reply, "flags", &flags), 0);
    client_reply_close (&reply);
    assert_int_equal (flags, expected_x1);
    s_stop (f, SIGTERM);

    //  The journal: one Flagged per debit of 600 or more, none for 599.
    books_t *books = books_new ();
    char *error = NULL;
    assert_int_equal (books_read_dir (books, f->data, &error), 0);
    books_review_t review;
    books_review (books, LARGE_DEBIT_MIN, &review);
    books_destroy (&books);
    print_message ("large debits %zu, flagged once %zu, flags %zu, wrong %zu %s\n", review.debits,
                   review.flagged_once, review.flags, review.wrong, review.first_wrong);
    assert_int_equal (review.debits, expected);
    assert_int_equal (review.flagged_once, expected);
    assert_int_equal (review.flags, expected);
    assert_int_equal (review.wrong, 0);
}

//  --------------------------------------------------------------------------
//  (c2) Balances whose sum passes 64 bits: each account holds 2^63 - 1,
//  which it may; bank_totals cannot hold their sum and stops, failed,
//  saying so, and the node goes on (it aborted on the signed overflow
//  under the sanitizers, at every start). The journal's books hold, their
//  sums in 128 bits (check called the store damaged). It stops at the
//  event that overflowed, the ones before it in its batch applied: it
//  named the batch's first event, which a skip then stepped over.

//  Polls name's build until its status is status; returns what it said.
static build_t s_wait_build (fixture_t *f, const char *name, const char *status)
{
    build_t build = {0};
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (zclock_mono () < deadline &&
           !(s_build (f, name, &build) && streq (build.status, status)))
        zclock_sleep (20);
    if (!streq (build.status, status))
        fail_msg ("%s is %s, not %s: %s", name, build.status, status, build.error);
    return build;
}

static void test_totals_past_64_bits (void **state)
{
    fixture_t *f = *state;
    s_start (f);
    //  Paused, so that the four events come to it in one batch.
    s_control (f, "pause", "bank_totals");
    s_must (f, "account/a", "Open", "owner=a", NULL);
    s_must (f, "account/b", "Open", "owner=b", NULL);
    s_must (f, "account/a", "Deposit", "amount=9223372036854775807", NULL);
    s_must (f, "account/b", "Deposit", "amount=9223372036854775807", NULL);
    build_t totals;
    assert_true (s_build (f, "bank_totals", &totals));
    int64_t overflow = totals.end - 1; //  b's Deposited: the log's last event
    s_control (f, "resume", "bank_totals");
    totals = s_wait_build (f, "bank_totals", "failed");
    if (!strstr (totals.error, "Deposited 9223372036854775807 on account/b: the sum of the "
                               "balances would pass 2^63 - 1"))
        fail_msg ("bank_totals failed with: %s", totals.error);
    //  It stopped at the event that overflowed, not at its batch's first;
    //  the three before it are applied.
    assert_int_equal (totals.error_position, overflow);
    assert_int_equal (totals.applied, 3);
    //  The node serves on, and starts again.
    s_must (f, "account/c", "Open", "owner=c", NULL);
    s_stop (f, SIGTERM);
    s_start (f);
    totals = s_wait_build (f, "bank_totals", "failed");
    assert_int_equal (totals.error_position, overflow);
    //  The event skipped, it goes on to c's deposit, which fails in turn.
    char position[64];
    snprintf (position, sizeof position, "position=%lld", (long long) overflow);
    client_reply_t reply;
    assert_int_equal (s_call (f, ENVELOPE_QUERY, NULL, "node/projections", "projection_control",
                              &reply, "action=skip", "name=bank_totals", "version=1", position,
                              NULL),
                      0);
    if (!reply.ok)
        fail_msg ("skip refused: %s %s", reply.code, reply.reason);
    client_reply_close (&reply);
    s_must (f, "account/c", "Deposit", "amount=5", NULL);
    assert_true (s_build (f, "bank_totals", &totals));
    overflow = totals.end - 1;
    totals = s_wait_build (f, "bank_totals", "failed");
    assert_int_equal (totals.error_position, overflow);
    assert_non_null (strstr (totals.error, "Deposited 5 on account/c"));
    assert_int_equal (totals.applied, 4); //  c's Opened
    s_stop (f, SIGTERM);

    books_t *books = books_new ();
    char *why = NULL;
    if (books_read_dir (books, f->data, &why) != 0)
        fail_msg ("the journal could not be read: %s", why);
    books_summary_t summary;
    assert_int_equal (books_verify (books, &summary), 0);
    books_destroy (&books);
    char total[BOOKS_MONEY_CHARS];
    assert_string_equal (books_money_str (summary.total, total), "18446744073709551619");
    assert_true (summary.total == summary.deposits);
}

//  --------------------------------------------------------------------------
//  (c3) A reaction's id cannot be taken first. Its last 8 bytes are the
//  event's position and rank, which a client reads (the projections'
//  `end`); its first 8 were a hash of the projection's name and them
//  alone. A client sent review/a a command under the ids large_debits
//  would use for the next events: the Flag was refused as a reused id and
//  the debit never flagged. The store's secret salt is mixed in now.

//  The id of a reaction as it was computed before the salt.
static void s_unsalted_id (uint8_t id[ENVELOPE_ID_SIZE], const char *name, uint64_t position)
{
    uint64_t hash = 14695981039346656037ull;
    for (const char *c = name; *c; c++)
        hash = (hash ^ (uint8_t) *c) * 1099511628211ull;
    uint64_t tail = position << 4;
    uint64_t mixed = hash ^ tail;
    mixed = (mixed ^ (mixed >> 30)) * 0xbf58476d1ce4e5b9ull;
    mixed = (mixed ^ (mixed >> 27)) * 0x94d049bb133111ebull;
    mixed ^= mixed >> 31;
    for (int i = 0; i < 8; i++) {
        id[i] = (uint8_t) (mixed >> (56 - 8 * i));
        id[8 + i] = (uint8_t) (tail >> (56 - 8 * i));
    }
}

static void test_reaction_ids_cannot_be_taken (void **state)
{
    fixture_t *f = *state;
    s_start (f);
    s_must (f, "account/a", "Open", "owner=a", NULL);
    s_must (f, "account/b", "Open", "owner=b", NULL);
    s_must (f, "account/a", "Deposit", "amount=5000", NULL);
    s_wait_settled (f);
    client_reply_t reply;
    assert_int_equal (
        s_call (f, ENVELOPE_QUERY, NULL, "node/projections", "projections", &reply, NULL), 0);
    int64_t end = -1;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    map_find_int (map_unpack (&unpacked, reply.data, reply.size), "end", &end);
    msgpack_unpacked_destroy (&unpacked);
    client_reply_close (&reply);
    assert_true (end > 0);
    //  The ids of the next 16 positions, taken with a Flag review/a refuses
    //  (once because a client's is not a projection's, once because it had
    //  no account field).
    for (int64_t position = end; position < end + 16; position++) {
        char *fields[] = {"squat=1"};
        uint8_t *payload, id[ENVELOPE_ID_SIZE];
        size_t size;
        char error[64];
        assert_int_equal (client_fields (1, fields, &payload, &size, error, sizeof error), 0);
        s_unsalted_id (id, "large_debits", (uint64_t) position);
        envelope_t request;
        client_request (&request, ENVELOPE_COMMAND, id, "review/a", "Flag", payload, size);
        assert_int_equal (client_call (f->client, &request, 10000, &reply), 0);
        assert_false (reply.ok);
        assert_string_equal (reply.code, "not_a_projection");
        client_reply_close (&reply);
        free (payload);
    }
    s_must (f, "transfer/t1", "Start", "from=a", "to=b", "amount=900", NULL);
    char status[32];
    s_wait_terminal (f, "t1", status, sizeof status);
    assert_string_equal (status, "completed");
    s_wait_settled (f);
    assert_int_equal (s_call (f, ENVELOPE_QUERY, NULL, "review/a", "get", &reply, NULL), 0);
    assert_true (reply.ok);
    int64_t flags = -1;
    assert_int_equal (reply_state_int (&reply, "flags", &flags), 0);
    client_reply_close (&reply);
    assert_int_equal (flags, 1); //  the debit of 900, flagged
    s_stop (f, SIGTERM);
}

//  --------------------------------------------------------------------------
//  (d) large_debits rebuilt while the build it replaces is behind

//  A rebuild of large_debits while the build it replaces is paused (or
//  behind the log for another reason: a full disk's retries, the linger)
//  must not lose the reactions of the events in between. The new build
//  does not react while the old one serves, and its switch drops the old
//  one wherever it stood: the debit of 800 made while it was paused was
//  never flagged (found from outside: `shoal projections pause
//  large_debits`, a transfer, `shoal projections rebuild large_debits`;
//  review/ACCOUNT then lacks its Flagged for good, while the projection's
//  own row counts it).
static void test_rebuild_keeps_reactions (void **state)
{
    fixture_t *f = *state;
    s_start (f);
    s_must (f, "account/x0", "Open", "owner=x", NULL);
    s_must (f, "account/x0", "Deposit", "amount=1000000", NULL);
    s_must (f, "account/x1", "Open", "owner=x", NULL);
    char status[32];
    s_must (f, "transfer/rb-1", "Start", "from=x0", "to=x1", "amount=700", NULL);
    s_wait_terminal (f, "rb-1", status, sizeof status);
    assert_string_equal (status, "completed");
    s_wait_settled (f);
    s_control (f, "pause", "large_debits");
    s_must (f, "transfer/rb-2", "Start", "from=x0", "to=x1", "amount=800", NULL);
    s_wait_terminal (f, "rb-2", status, sizeof status);
    assert_string_equal (status, "completed");
    s_control (f, "rebuild", "large_debits");
    //  The rebuild serves once caught up and drops the build it replaced.
    int64_t deadline = zclock_mono () + WAIT_MS;
    build_t build = {0};
    while (zclock_mono () < deadline &&
           !(s_build (f, "large_debits", &build) && build.count == 1 && build.number == 1))
        zclock_sleep (20);
    assert_int_equal (build.count, 1);
    assert_int_equal (build.number, 1);
    s_wait_settled (f); //  every reaction sent is answered
    client_reply_t reply;
    assert_int_equal (s_call (f, ENVELOPE_QUERY, NULL, "review/x0", "get", &reply, NULL), 0);
    assert_true (reply.ok);
    int64_t flags = -1;
    assert_int_equal (reply_state_int (&reply, "flags", &flags), 0);
    client_reply_close (&reply);
    print_message ("review/x0: %lld flags of 2 large debits\n", (long long) flags);
    s_stop (f, SIGTERM);
    books_t *books = books_new ();
    char *error = NULL;
    assert_int_equal (books_read_dir (books, f->data, &error), 0);
    books_review_t review;
    books_review (books, LARGE_DEBIT_MIN, &review);
    books_destroy (&books);
    assert_int_equal (review.debits, 2);
    assert_int_equal (review.flags, 2);
    assert_int_equal (review.flagged_once, 2);
    assert_int_equal (review.wrong, 0);
    assert_int_equal (flags, 2);
}

//  --------------------------------------------------------------------------
//  The review actor's refusals, and its view

//  A flag is the bank's word on a debit: only a projection's reaction may
//  raise one. A client's Flag was taken (review/ID showed it to the person
//  who reviews), and a client could not be told from large_debits, whose
//  reactions went out as a client's commands. Now they come from
//  "projection/large_debits", which the front takes from the projection
//  thread's own socket alone.
static void test_flags_from_projections_only (void **state)
{
    fixture_t *f = *state;
    s_start (f);
    s_refused (f, "review/r", "Flag", "not_a_projection", "account=r", "transfer=t", "amount=700");
    //  A client that names the projection as its sender.
    char *fields[] = {"account=r", "transfer=t", "amount=700"};
    uint8_t *payload;
    size_t size;
    char error[64];
    assert_int_equal (client_fields (3, fields, &payload, &size, error, sizeof error), 0);
    envelope_t request;
    client_request (&request, ENVELOPE_COMMAND, NULL, "review/r", "Flag", payload, size);
    snprintf (request.from, sizeof request.from, "%s", "projection/large_debits");
    client_reply_t reply;
    assert_int_equal (client_call (f->client, &request, 10000, &reply), 0);
    assert_false (reply.ok);
    assert_string_equal (reply.code, "bad_from");
    client_reply_close (&reply);
    free (payload);
    int64_t flags = -1, amount = -1;
    assert_int_equal (s_call (f, ENVELOPE_QUERY, NULL, "review/r", "get", &reply, NULL), 0);
    assert_true (reply.ok);
    assert_int_equal (reply_state_int (&reply, "flags", &flags), 0);
    assert_int_equal (flags, 0);
    client_reply_close (&reply);
    //  Seven large debits of account/r: seven flags, one at a time, so
    //  that they come in the transfers' order.
    s_must (f, "account/r", "Open", "owner=r", NULL);
    s_must (f, "account/s", "Open", "owner=s", NULL);
    s_must (f, "account/r", "Deposit", "amount=10000", NULL);
    for (int i = 1; i <= 7; i++) {
        char address[32], status[32];
        snprintf (address, sizeof address, "transfer/t%d", i);
        s_must (f, address, "Start", "from=r", "to=s", "amount=700", NULL);
        snprintf (address, sizeof address, "t%d", i);
        s_wait_terminal (f, address, status, sizeof status);
        assert_string_equal (status, "completed");
        s_wait_settled (f);
    }
    assert_int_equal (s_call (f, ENVELOPE_QUERY, NULL, "review/r", "get", &reply, NULL), 0);
    assert_true (reply.ok);
    assert_int_equal (reply_state_int (&reply, "flags", &flags), 0);
    assert_int_equal (reply_state_int (&reply, "amount", &amount), 0);
    assert_int_equal (flags, 7);
    assert_int_equal (amount, 4900);
    //  The last REVIEW_LAST (5), newest first: t7 down to t3.
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *view = map_find (map_unpack (&unpacked, reply.data, reply.size), "state");
    const msgpack_object *last = map_find (view, "last");
    assert_non_null (last);
    assert_int_equal (last->type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal (last->via.array.size, 5);
    for (int i = 0; i < 5; i++) {
        char transfer[16], expected[16];
        snprintf (expected, sizeof expected, "t%d", 7 - i);
        assert_int_equal (
            map_find_str (&last->via.array.ptr[i], "transfer", transfer, sizeof transfer), 0);
        assert_string_equal (transfer, expected);
    }
    msgpack_unpacked_destroy (&unpacked);
    client_reply_close (&reply);
}

//  --------------------------------------------------------------------------
//  (d) `shoal demo` checks bank_totals and the flags against the journal

static void test_demo_end_check (void **state)
{
    fixture_t *f = *state;
    char command[512], out[4096] = "";
    snprintf (command, sizeof command,
              "TMPDIR='%s' timeout 300 '%s' demo --accounts 20 --transfers 60 --concurrency 8 "
              "--kills 1 --workers 1 --seed 11 --json 2>/dev/null",
              f->dir, getenv ("SHOAL_BIN"));
    FILE *pipe = popen (command, "r");
    assert_non_null (pipe);
    size_t size = fread (out, 1, sizeof out - 1, pipe);
    out[size] = 0;
    int status = pclose (pipe);
    print_message ("%s", out);
    assert_int_equal (status, 0);
    assert_non_null (strstr (out, "\"balanced\":true"));
    assert_non_null (strstr (out, "\"bank_totals\":{\"balance\":20000,"));
    assert_non_null (strstr (out, "\"problem\":null"));
}

int main (void)
{
    if (!getenv ("SHOAL_BIN")) {
        fprintf (stderr, "test_bank_projections: run through ctest (SHOAL_BIN unset)\n");
        return 1;
    }
    signal (SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_totals_equal_journal),
        cmocka_unit_test_setup_teardown (test_account_transfers_newest_first, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_account_ids_without_slash, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_large_debits_flagged_once, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_totals_past_64_bits, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_reaction_ids_cannot_be_taken, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_rebuild_keeps_reactions, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_flags_from_projections_only, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_demo_end_check, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
