/*  test_bank_projections_rows.c - the bank's projections' rows through real nodes:
    bank_totals against the journal under SIGKILLs and past 64 bits,
    account_transfers newest first, account ids without a slash, `shoal
    demo`'s end check. The fixture: bank_projections_test_util.h.
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

#include "bank_projections_test_util.h"

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
    bank_projections_start (f);
    const char *accounts[] = {"account/alice", "account/bob", "account/carol"};
    for (int i = 0; i < 3; i++) {
        bank_projections_must (f, accounts[i], "Open", "owner=someone", NULL);
        bank_projections_must (f, accounts[i], "Deposit", "amount=1000", NULL);
    }
    bank_projections_must (f, "account/carol", "Close", NULL);
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
        bank_projections_must (f, address, "Start", plan[i].from, plan[i].to, plan[i].amount, NULL);
        bank_projections_wait_terminal (f, plan[i].id, status, sizeof status);
        assert_string_equal (status, plan[i].status);
    }
    bank_projections_wait_settled (f);

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
    assert_int_equal (bank_projections_call (f, ENVELOPE_QUERY, NULL, "node/projections",
                                             "projection_control", &reply, "action=rebuild",
                                             "name=account_transfers", NULL),
                      0);
    if (!reply.ok)
        fail_msg ("rebuild refused: %s %s", reply.code, reply.reason);
    client_reply_close (&reply);
    //  The rebuild serves once caught up, and drops the build it replaces:
    //  then one build of account_transfers is left, build 1.
    int64_t deadline = zclock_mono () + WAIT_MS;
    build_t build = {0};
    while (zclock_mono () < deadline && !(bank_projections_build (f, "account_transfers", &build) &&
                                          build.count == 1 && build.number == 1))
        zclock_sleep (20);
    assert_int_equal (build.count, 1);
    assert_int_equal (build.number, 1);
    bank_projections_wait_settled (f);
    assert_int_equal (s_rows (f, "account_transfers", "", after), 8);
    assert_memory_equal (before, after, sizeof (row_t) * 8);
}

//  An account's id never holds a '/': its Open is refused, and a transfer
//  naming such an id gets no row under it. Before, `--prefix alice/`
//  listed the rows of "alice/x" with alice's.
static void test_account_ids_without_slash (void **state)
{
    fixture_t *f = *state;
    bank_projections_start (f);
    bank_projections_must (f, "account/alice", "Open", "owner=a", NULL);
    bank_projections_must (f, "account/alice", "Deposit", "amount=100", NULL);
    bank_projections_refused (f, "account/alice/x", "Open", "invalid_id", "owner=x", NULL);
    bank_projections_must (f, "transfer/t1", "Start", "from=alice", "to=account/alice/x",
                           "amount=10", NULL);
    char status[32];
    bank_projections_wait_terminal (f, "t1", status, sizeof status);
    assert_string_equal (status, "compensated");
    bank_projections_wait_settled (f);
    row_t rows[ROWS_MAX];
    assert_int_equal (s_rows (f, "account_transfers", "alice/", rows), 1);
    s_row_is (&rows[0], "t1", "out", "compensated", "not_open");
    assert_int_equal (s_rows (f, "account_transfers", "", rows), 1);
}

//  --------------------------------------------------------------------------
//  (c2) Balances whose sum passes 64 bits: each account holds 2^63 - 1,
//  which it may. bank_totals sums them in 128 bits, and its row holds
//  such a sum as a string of its digits, read back after a restart, and
//  as an integer again once the sum fits. (It stopped, failed, at the
//  second deposit: two deposits of a client halted the projection.)

//  Checks bank_totals' row holds "balance" as type, written text.
static void s_balance_is (fixture_t *f, msgpack_object_type type, const char *text)
{
    client_reply_t reply;
    assert_int_equal (bank_projections_call (f, ENVELOPE_QUERY, NULL, "node/projections",
                                             "projection_rows", &reply, "name=bank_totals",
                                             "key=totals", NULL),
                      0);
    if (!reply.ok)
        fail_msg ("projection_rows of bank_totals: %s %s", reply.code, reply.reason);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *rows = map_find (map_unpack (&unpacked, reply.data, reply.size), "rows");
    assert_true (rows && rows->type == MSGPACK_OBJECT_ARRAY && rows->via.array.size == 1);
    const msgpack_object *balance = map_find (map_find (&rows->via.array.ptr[0], "row"), "balance");
    assert_non_null (balance);
    char said[64] = "";
    if (balance->type == MSGPACK_OBJECT_STR && balance->via.str.size < sizeof said)
        memcpy (said, balance->via.str.ptr, balance->via.str.size);
    else if (balance->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        snprintf (said, sizeof said, "%llu", (unsigned long long) balance->via.u64);
    if (balance->type != type || strcmp (said, text) != 0)
        fail_msg ("the row's balance is '%s' (msgpack type %d), not '%s' (type %d)", said,
                  balance->type, text, type);
    msgpack_unpacked_destroy (&unpacked);
    client_reply_close (&reply);
    //  And as `shoal bench` and `shoal demo` read it.
    bank_totals_t totals;
    char reason[256] = "", digits[BOOKS_MONEY_CHARS];
    assert_int_equal (bank_view_totals (f->client, 10000, &totals, reason, sizeof reason), 0);
    assert_string_equal (books_money_str (totals.balance, digits), text);
}

static void test_totals_past_64_bits (void **state)
{
    fixture_t *f = *state;
    bank_projections_start (f);
    //  Paused, so that the four events come to it in one batch.
    bank_projections_control (f, "pause", "bank_totals");
    bank_projections_must (f, "account/a", "Open", "owner=a", NULL);
    bank_projections_must (f, "account/b", "Open", "owner=b", NULL);
    bank_projections_must (f, "account/a", "Deposit", "amount=9223372036854775807", NULL);
    bank_projections_must (f, "account/b", "Deposit", "amount=9223372036854775807", NULL);
    bank_projections_control (f, "resume", "bank_totals");
    bank_projections_wait_settled (f);
    s_balance_is (f, MSGPACK_OBJECT_STR, "18446744073709551614");
    //  After a restart the row's digits are read back and added to.
    bank_projections_stop (f, SIGTERM);
    bank_projections_start (f);
    bank_projections_must (f, "account/c", "Open", "owner=c", NULL);
    bank_projections_must (f, "account/c", "Deposit", "amount=5", NULL);
    bank_projections_wait_settled (f);
    s_balance_is (f, MSGPACK_OBJECT_STR, "18446744073709551619");
    //  Back within 64 bits, an integer again.
    bank_projections_must (f, "account/a", "Withdraw", "amount=9223372036854775807", NULL);
    bank_projections_must (f, "account/b", "Withdraw", "amount=9223372036854775000", NULL);
    bank_projections_wait_settled (f);
    s_balance_is (f, MSGPACK_OBJECT_POSITIVE_INTEGER, "812");
    bank_projections_stop (f, SIGTERM);

    books_t *books = books_new ();
    char *why = NULL;
    if (books_read_dir (books, f->data, &why) != 0)
        fail_msg ("the journal could not be read: %s", why);
    books_summary_t summary;
    assert_int_equal (books_verify (books, &summary), 0);
    books_destroy (&books);
    char total[BOOKS_MONEY_CHARS];
    assert_string_equal (books_money_str (summary.total, total), "812");
    assert_string_equal (books_money_str (summary.deposits, total), "18446744073709551619");
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
        fprintf (stderr, "test_bank_projections_rows: run through ctest (SHOAL_BIN unset)\n");
        return 1;
    }
    signal (SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_totals_equal_journal),
        cmocka_unit_test_setup_teardown (test_account_transfers_newest_first,
                                         bank_projections_setup, bank_projections_teardown),
        cmocka_unit_test_setup_teardown (test_account_ids_without_slash, bank_projections_setup,
                                         bank_projections_teardown),
        cmocka_unit_test_setup_teardown (test_totals_past_64_bits, bank_projections_setup,
                                         bank_projections_teardown),
        cmocka_unit_test_setup_teardown (test_demo_end_check, bank_projections_setup,
                                         bank_projections_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
