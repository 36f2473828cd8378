/*  test_check_bank.c - `shoal check` on the bank's books: balanced books, two
    nodes, an overdraft, transfers in flight, an event its account refuses. The fixture:
   check_test_util.h.
*/
#include "books.h"
#include "client.h"
#include "harness.h"
#include "journal.h"
#include "node_child.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <leveldb/c.h>
#include <msgpack.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "check_test_util.h"

//  Collects the Debited events of one transfer in an account's stream.
typedef struct {
    const char *transfer;
    size_t count;
    uint8_t data[256]; //  the last one's data
    size_t size;
} debits_t;

static int s_find_debit (void *arg, int64_t seq, const char *name, const uint8_t *data, size_t size,
                         int64_t created)
{
    debits_t *debits = arg;
    char transfer[SHOAL_ID_MAX + 1];
    if (strcmp (name, "Debited") == 0 &&
        map_str (data, size, "transfer", transfer, sizeof transfer) == 0 &&
        strcmp (transfer, debits->transfer) == 0 && size <= sizeof debits->data) {
        debits->count++;
        memcpy (debits->data, data, size);
        debits->size = size;
    }
    return 0;
}

static journal_t *s_open (const char *dir)
{
    int code = 0;
    char *error = NULL;
    journal_t *journal = journal_open (dir, NULL, &code, &error);
    if (!journal)
        fail_msg ("journal_open %s: %s", dir, error ? error : "");
    return journal;
}

//  The example: a bank run checks out; a second debit of t1 breaks `once`.
static void test_check_books (void **state)
{
    fixture_t *f = *state;
    check_run_bank (f);
    char *output = NULL;
    //  A running node holds its journal: nothing to read yet.
    assert_int_equal (check_check (f, &output, "--data", f->data, NULL), 2);
    assert_non_null (strstr (output, "stop the node first"));
    free (output);
    assert_int_equal (node_child_stop (&f->node, SIGTERM), 0);

    int rc = check_check (f, &output, "--data", f->data, NULL);
    if (rc != 0)
        fail_msg ("shoal check exited %d:\n%s", rc, output);
    assert_non_null (strstr (output, "completed 1, failed 1, compensated 1, unfinished 0"));
    assert_non_null (strstr (output, "total balance       100"));
    assert_null (strstr (output, "BROKEN"));
    free (output);

    //  A second Debited of t1 in the source account's stream.
    journal_t *journal = s_open (f->data);
    debits_t debits = {.transfer = "t1"};
    assert_int_equal (journal_read (journal, "account/a", 1, 0, s_find_debit, &debits), 0);
    assert_int_equal (debits.count, 1);
    journal_batch_t *batch = journal_batch_new (journal);
    journal_event_t event = {"Debited", debits.data, debits.size};
    assert_int_equal (
        journal_batch_append (batch, "account/a", JOURNAL_ANY, &event, 1, zclock_time (), NULL), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);
    journal_destroy (&journal);

    assert_int_equal (check_check (f, &output, "--data", f->data, NULL), 1);
    assert_non_null (strstr (output, "invariant 'once' broken: transfer/t1 was debited 2"));
    assert_non_null (strstr (output, "once           BROKEN"));
    free (output);
    assert_int_equal (check_check (f, &output, "--data", f->data, "--json", NULL), 1);
    assert_non_null (strstr (output, "\"once\":{\"ok\":false,\"broken\":1"));
    assert_non_null (strstr (output, "\"ok\":false}"));
    free (output);
}

//  Appends one event {"transfer": transfer, "amount": amount} (either may
//  be absent: NULL, 0) named name to stream, with the fields its type
//  needs besides (an Opened's owner, a Started's from and to), so that a
//  node would take it (shoal check replays each stream through its type).
static void s_append (journal_t *journal, const char *stream, const char *name,
                      const char *transfer, int64_t amount)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    bool opened = strcmp (name, "Opened") == 0, started = strcmp (name, "Started") == 0;
    msgpack_pack_map (&pk,
                      (transfer ? 1 : 0) + (amount ? 1 : 0) + (opened ? 1 : 0) + (started ? 2 : 0));
    if (opened) {
        msgpack_pack_str_with_body (&pk, "owner", 5);
        msgpack_pack_str_with_body (&pk, "someone", 7);
    }
    if (started) {
        msgpack_pack_str_with_body (&pk, "from", 4);
        msgpack_pack_str_with_body (&pk, "account/a", 9);
        msgpack_pack_str_with_body (&pk, "to", 2);
        msgpack_pack_str_with_body (&pk, "account/b", 9);
    }
    if (transfer) {
        msgpack_pack_str_with_body (&pk, "transfer", 8);
        msgpack_pack_str_with_body (&pk, transfer, strlen (transfer));
    }
    if (amount) {
        msgpack_pack_str_with_body (&pk, "amount", 6);
        msgpack_pack_int64 (&pk, amount);
    }
    journal_batch_t *batch = journal_batch_new (journal);
    journal_event_t event = {name, (const uint8_t *) buffer.data, buffer.size};
    assert_int_equal (journal_batch_append (batch, stream, JOURNAL_ANY, &event, 1, 1000, NULL), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);
    msgpack_sbuffer_destroy (&buffer);
}

//  A cluster's books: the accounts on one node, the transfer on another.
//  Each journal alone breaks an invariant; the two together hold.
static void test_check_two_nodes (void **state)
{
    fixture_t *f = *state;
    char accounts[300], transfers[300];
    snprintf (accounts, sizeof accounts, "%s/node1", f->dir);
    snprintf (transfers, sizeof transfers, "%s/node2", f->dir);
    journal_t *journal = s_open (accounts);
    s_append (journal, "account/a", "Opened", NULL, 0);
    s_append (journal, "account/a", "Deposited", NULL, 100);
    s_append (journal, "account/a", "Debited", "x", 30);
    s_append (journal, "account/b", "Opened", NULL, 0);
    s_append (journal, "account/b", "Credited", "x", 30);
    assert_int_equal (journal_meta_put (journal, "owner", "bank/n1"), 0);
    assert_int_equal (journal_meta_put (journal, "owner_shards", "n1=0-127;n2=128-255"), 0);
    journal_destroy (&journal);
    journal = s_open (transfers);
    s_append (journal, "transfer/x", "Started", NULL, 30);
    s_append (journal, "transfer/x", "Debited", NULL, 0);
    s_append (journal, "transfer/x", "Completed", NULL, 0);
    assert_int_equal (journal_meta_put (journal, "owner", "bank/n2"), 0);
    assert_int_equal (journal_meta_put (journal, "owner_shards", "n1=0-127;n2=128-255"), 0);
    journal_destroy (&journal);

    //  One node's store alone: broken, and said to be one node's of a
    //  cluster (the store knows it), whose books hold over all of them.
    char *output = NULL;
    assert_int_equal (check_check (f, &output, "--data", accounts, NULL), 1);
    assert_non_null (strstr (output, "invariant 'terminal' broken: transfer/x is not terminal"));
    assert_non_null (strstr (output, "these stores are node n1 of cluster bank: a transfer"));
    free (output);
    assert_int_equal (check_check (f, &output, "--data", transfers, NULL), 1);
    assert_non_null (strstr (output, "invariant 'legs' broken: transfer/x completed without"));
    free (output);
    //  --list names each break with the accounts its events name: the
    //  legs' on one node, the Started's on the other. Debited and
    //  credited, no stream: whole, nothing to give back (a review: the
    //  README had the operator give back the debit of any such transfer).
    assert_int_equal (check_check (f, &output, "--data", accounts, "--list", NULL), 1);
    if (!strstr (output, "  terminal   transfer/x is not terminal (journal: no events: its stream "
                         "is in none of the stores read, so its saga's node was not given, or is "
                         "lost); debited account/a 30, credited account/b 30\n") ||
        strstr (output, "back to account/a by hand"))
        fail_msg ("check --list of the accounts' store: %s", output);
    free (output);
    assert_int_equal (check_check (f, &output, "--data", transfers, "--list", NULL), 1);
    if (!strstr (output, "  legs       transfer/x completed without exactly one debit and one "
                         "credit (debits 0, credits 0, refunds 0); started 30 from account/a to "
                         "account/b\n"))
        fail_msg ("check --list of the transfers' store: %s", output);
    free (output);
    assert_int_equal (check_check (f, &output, "--data", transfers, "--limit", "5", NULL), 2);
    assert_non_null (strstr (output, "--limit N goes with --list"));
    free (output);
    int rc = check_check (f, &output, "--data", accounts, "--data", transfers, NULL);
    if (rc != 0)
        fail_msg ("shoal check exited %d:\n%s", rc, output);
    assert_non_null (strstr (output, "accounts              2"));
    assert_null (strstr (output, "these stores are"));
    free (output);

    //  The same books, read in-process: the transfer's Debited (in its own
    //  stream) is not a debit of money.
    books_t *books = books_new ();
    assert_int_equal (books_read_dir (books, accounts, NULL), 0);
    assert_int_equal (books_read_dir (books, transfers, NULL), 0);
    const books_transfer_t *x = books_transfer (books, "x");
    assert_non_null (x);
    assert_int_equal (x->debits, 1);
    assert_int_equal (x->credits, 1);
    assert_string_equal (x->last, "Completed");
    assert_int_equal (books_account (books, "account/a")->balance, 70);
    books_summary_t summary;
    assert_int_equal (books_verify (books, &summary), 0);
    assert_int_equal (summary.total, 100);
    assert_int_equal (summary.completed, 1);
    books_destroy (&books);

    //  A broken leg is named by what is wrong: a compensated transfer
    //  whose credit ran after all (a forced resolve contradicted) was said
    //  "without exactly one debit and one refund", which it had.
    books_transfer_t leg = {.debits = 1, .credits = 1, .refunds = 1, .last = "Compensated"};
    assert_string_equal (books_transfer_legs (&leg),
                         "compensated but credited too (a credit ran after all)");
    leg.credits = 0;
    assert_null (books_transfer_legs (&leg));
    leg.refunds = 2;
    assert_string_equal (books_transfer_legs (&leg),
                         "compensated without exactly one debit and one refund");
    leg = (books_transfer_t){.debits = 1, .credits = 1, .refunds = 1, .last = "Completed"};
    assert_string_equal (books_transfer_legs (&leg), "completed but refunded too");

    //  Broken over both: said so, not "give every node's store", which
    //  sent an operator looking for a store it had given.
    journal = s_open (accounts);
    s_append (journal, "account/b", "Withdrawn", NULL, 200);
    journal_destroy (&journal);
    rc = check_check (f, &output, "--data", accounts, "--data", transfers, NULL);
    assert_int_equal (rc, 1);
    assert_non_null (strstr (output, "invariant 'overdraft' broken: account/b"));
    if (!strstr (output, "these stores are every node of cluster bank (n1, n2): its books do not "
                         "hold over all of them") ||
        strstr (output, "give every node's store"))
        fail_msg ("both nodes' stores given, books broken:\n%s", output);
    free (output);
}

//  An overdraft: the journal alone shows a balance below it.
static void test_check_overdraft (void **state)
{
    fixture_t *f = *state;
    journal_t *journal = s_open (f->data);
    s_append (journal, "account/a", "Opened", NULL, 0);
    s_append (journal, "account/a", "Withdrawn", NULL, 5);
    journal_destroy (&journal);
    char *output = NULL;
    assert_int_equal (check_check (f, &output, "--data", f->data, NULL), 1);
    assert_non_null (
        strstr (output, "invariant 'overdraft' broken: account/a went to -5 at seq 2"));
    assert_non_null (strstr (output, "money          ok"));
    free (output);
}

//  A node stopped between a transfer's debit and its credit: the money is
//  in flight, not lost. terminal says the transfer is unfinished; money
//  counts the debit in flight and holds (it was called broken too, which
//  alarms for nothing). Money made from nothing beside it still breaks it.
static void test_check_in_flight (void **state)
{
    fixture_t *f = *state;
    journal_t *journal = s_open (f->data);
    s_append (journal, "account/a", "Opened", NULL, 0);
    s_append (journal, "account/a", "Deposited", NULL, 100);
    s_append (journal, "account/b", "Opened", NULL, 0);
    s_append (journal, "transfer/t1", "Started", NULL, 0);
    s_append (journal, "account/a", "Debited", "t1", 30);
    journal_destroy (&journal);
    char *output = NULL;
    assert_int_equal (check_check (f, &output, "--data", f->data, NULL), 1);
    assert_non_null (strstr (output, "invariant 'terminal' broken: transfer/t1 is not terminal"));
    assert_non_null (strstr (output, "money          ok"));
    assert_non_null (strstr (output, "in flight            30"));
    free (output);
    assert_int_equal (check_check (f, &output, "--data", f->data, "--json", NULL), 1);
    assert_non_null (strstr (output, "\"total_balance\":70,\"in_flight\":30,"));
    free (output);
    //  Money made from nothing (a credit of no debit): broken, whatever is
    //  in flight.
    journal = s_open (f->data);
    s_append (journal, "account/b", "Credited", "t9", 1);
    journal_destroy (&journal);
    assert_int_equal (check_check (f, &output, "--data", f->data, NULL), 1);
    assert_non_null (strstr (output, "money          BROKEN"));
    free (output);
    //  Three breaks, listed by invariant then key, two of them at most.
    assert_int_equal (
        check_check (f, &output, "--data", f->data, "--list", "--limit", "2", "--json", NULL), 1);
    const char *money = strstr (output, "{\"invariant\":\"money\",\"said\":\"the total balance");
    const char *t1 = strstr (output, "{\"invariant\":\"terminal\",\"said\":\"transfer/t1 is not");
    if (!money || !t1 || t1 < money || strstr (output, "transfer/t9 is not") ||
        !strstr (output, "\"breaks_left_off\":1,\"ok\":false}"))
        fail_msg ("check --list --limit 2 --json, three breaks: %s", output);
    free (output);
    assert_int_equal (check_check (f, &output, "--data", f->data, "--list", NULL), 1);
    if (!strstr (output, "breaks (3, by invariant, then address):\n  money      the total") ||
        !strstr (output, "  terminal   transfer/t9 is not terminal (journal: no events: its "
                         "stream is in none of the stores read, so its saga's node was not given, "
                         "or is lost); credited account/b 1\n"))
        fail_msg ("check --list, three breaks: %s", output);
    free (output);
}

//  Runs `shoal COMMAND` with args (NULL-terminated), as check_shoal_v.
static int s_shoal (const fixture_t *f, char **output, char *command, ...)
{
    va_list args;
    va_start (args, command);
    int code = check_shoal_v (f, output, command, args);
    va_end (args);
    return code;
}

//  An event that decodes but that its actor's type refuses (a Deposited
//  whose amount is the string "x"): a node answers `unavailable` for the
//  account, and check said "0 do not decode", the books balanced, exit 0
//  (they took the amount for 0). It counts the event now, names its stream
//  and seq, and exits 1, as a node agrees.
static void test_check_refused_event (void **state)
{
    fixture_t *f = *state;
    check_run_bank (f);
    assert_int_equal (node_child_stop (&f->node, SIGTERM), 0);
    char *output = NULL;
    assert_int_equal (check_check (f, &output, "--data", f->data, NULL), 0);
    assert_non_null (strstr (
        output, "0 do not decode, 0 streams with a hole, 0 events refused by their actor's type"));
    free (output);

    journal_t *journal = s_open (f->data);
    int64_t version = 0;
    assert_int_equal (journal_version (journal, "account/b", &version), 0);
    harness_append_refused_deposit (journal, "account/b", version);
    journal_destroy (&journal);

    assert_int_equal (check_check (f, &output, "--data", f->data, NULL), 1);
    print_message ("%s", output);
    assert_non_null (strstr (
        output, "0 do not decode, 0 streams with a hole, 1 event refused by its actor's type"));
    char named[128];
    snprintf (named, sizeof named, "first refused: event %lld of account/b: the account type",
              (long long) version + 1);
    assert_non_null (strstr (output, named));
    assert_non_null (strstr (output, "1 record that a node cannot read"));
    free (output);

    //  The node agrees: the account is unavailable, the others are served.
    char *extra[] = {"--workers", "2", NULL};
    char log[300];
    snprintf (log, sizeof log, "%s/node.log", f->dir);
    assert_int_equal (
        node_child_start (&f->node, getenv ("SHOAL_BIN"), f->data, f->endpoint, extra, log, 20000),
        0);
    assert_int_equal (
        s_shoal (f, &output, "get", "--endpoint", f->node.endpoint, "account/b", NULL), 1);
    //  Named (it said "malformed record", as if the store were damaged).
    snprintf (named, sizeof named,
              "account/b cannot be loaded: the apply() of actor type 'account' refused its "
              "stored event %lld (Deposited)",
              (long long) version + 1);
    if (!strstr (output, named))
        fail_msg ("expected '%s' in: %s", named, output);
    free (output);
    assert_int_equal (
        s_shoal (f, &output, "get", "--endpoint", f->node.endpoint, "account/a", NULL), 0);
    free (output);
    assert_int_equal (node_child_stop (&f->node, SIGTERM), 0);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_check_books, check_setup, check_teardown),
        cmocka_unit_test_setup_teardown (test_check_two_nodes, check_setup, check_teardown),
        cmocka_unit_test_setup_teardown (test_check_overdraft, check_setup, check_teardown),
        cmocka_unit_test_setup_teardown (test_check_in_flight, check_setup, check_teardown),
        cmocka_unit_test_setup_teardown (test_check_refused_event, check_setup, check_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
