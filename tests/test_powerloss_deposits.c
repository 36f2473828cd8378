/*  test_powerloss_deposits.c - power cuts after acknowledged work: sync keeps
    every acknowledged deposit and async loses some, transfers keep the
    books, a new log out of reach. The fixture: powerloss_test_util.h.
*/
#include "books.h"
#include "client.h"
#include "cluster.h"
#include "node_child.h"
#include "powerloss_apply.h"

#include <czmq.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "powerloss_test_util.h"

#define ASYNC_ROUNDS 3 //  rounds of async before the test gives up

#define ACCOUNTS 16 //  account/p0..p15, funded, for the transfers

#define FUNDING 1000000 //  deposited into each

#define TRANSFERS 60000 //  Starts at most: until LevelDB switched logs, and AFTER more

#define AFTER 3000 //  Starts sent after the switch was seen

#define TRANSFER_WINDOW 128 //  Starts in flight

#define UNREACHABLE_MS 300 //  the new log cannot be opened this long after the switch

//  Sends command name to address with up to two fields and waits for its
//  acknowledgement; fails the test on silence or a refusal.
static void s_call (fixture_t *f, const char *address, const char *name, char *a, char *b)
{
    static int calls;
    powerloss_send_command (f, address, name, TRANSFERS + calls++, a, b, NULL);
    client_reply_t reply;
    int rc = client_recv (f->client, 10000, &reply);
    if (rc)
        fail_msg ("%s %s: no answer (%s)", address, name, shoal_strerror (rc));
    if (!reply.ok)
        fail_msg ("%s %s refused: %s %s", address, name, reply.code, reply.reason);
    client_reply_close (&reply);
}

//  One round in a fresh data directory: the preloaded node takes deposits
//  deposits, is killed, the cut is applied, and the node is started again
//  without the preload. Returns the balance found; f->acked holds what was
//  acknowledged, *stats what the cut did.
static int64_t s_round (fixture_t *f, int round, const char *durability, int deposits,
                        powerloss_stats_t *stats)
{
    char name[64];
    snprintf (name, sizeof name, "%s-%d", durability, round);
    powerloss_name_round (f, name);
    f->acked = 0;
    powerloss_start (f, durability, true);
    powerloss_command (f, "Open", "owner=powerloss");
    for (int i = 0; i < deposits; i++)
        if (powerloss_command (f, "Deposit", "amount=1"))
            f->acked++;
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGKILL);

    if (powerloss_apply (f->data, f->pl_log, stats, f->report, sizeof f->report) != 0)
        fail_msg ("the cut failed: %s", f->report);
    print_message ("%s round %d: %lld deposits acknowledged; cut: %d files kept (%d restored), "
                   "%d vanished, %lld bytes dropped, after %d syncs and %d dirsyncs\n%s",
                   durability, round, (long long) f->acked, stats->kept, stats->restored,
                   stats->vanished, stats->bytes_cut, stats->syncs, stats->dirsyncs, f->report);
    //  The preload must have seen the node's fsyncs: otherwise it was not
    //  interposed (ASan's interceptors, a static call) and cut nothing.
    if (stats->syncs == 0 || stats->dirsyncs == 0)
        fail_msg ("the preload saw %d syncs and %d dirsyncs: it did not interpose the node's calls "
                  "(see %s)",
                  stats->syncs, stats->dirsyncs, f->pl_log);
    assert_int_equal (stats->overwrites, 0); //  the model cannot undo an overwrite

    powerloss_start (f, durability, false);
    int64_t balance = powerloss_balance (f);
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGTERM);
    assert_int_equal (powerloss_books_balance (f), balance);
    if (balance > f->acked)
        fail_msg ("balance %lld after the cut, more than the %lld deposits acknowledged",
                  (long long) balance, (long long) f->acked);
    print_message ("%s round %d: balance %lld after the cut, %lld acknowledged deposits lost\n",
                   durability, round, (long long) balance, (long long) (f->acked - balance));
    return balance;
}

//  sync: every acknowledged deposit survives the cut.
static void test_sync_keeps_every_acknowledged_deposit (void **state)
{
    fixture_t *f = *state;
    powerloss_stats_t stats;
    int64_t balance = s_round (f, 0, "sync", 200, &stats);
    assert_int_equal (f->acked, 200);
    if (balance != f->acked)
        fail_msg ("sync: %lld acknowledged deposits, balance %lld after the power cut",
                  (long long) f->acked, (long long) balance);
}

//  async: a cut loses acknowledged deposits (at least once in a few
//  rounds), or the model is not cutting anything.
static void test_async_loses_acknowledged_deposits (void **state)
{
    fixture_t *f = *state;
    powerloss_stats_t stats;
    for (int round = 0; round < ASYNC_ROUNDS; round++) {
        int64_t balance = s_round (f, round, "async", 100, &stats);
        if (balance < f->acked)
            return;
    }
    fail_msg ("async never lost an acknowledged deposit in %d rounds: the model is not cutting "
              "anything (so the sync test proves nothing)",
              ASYNC_ROUNDS);
}

//  Counts the LevelDB log files the node created (powerloss.c's "create
//  INO NNNNNN.log" lines) into *created, reading the side log on from
//  *offset (a running node's: it grows).
static void s_logs_created (fixture_t *f, long *offset, int *created)
{
    FILE *file = fopen (f->pl_log, "r");
    assert_non_null (file);
    assert_int_equal (fseek (file, *offset, SEEK_SET), 0);
    char line[1024];
    while (fgets (line, sizeof line, file) && strchr (line, '\n')) {
        *offset += (long) strlen (line);
        unsigned long long ino;
        char name[512];
        size_t len;
        if (sscanf (line, "create %llu %511s", &ino, name) == 2 && (len = strlen (name)) > 4 &&
            streq (name + len - 4, ".log"))
            (*created)++;
    }
    fclose (file);
}

//  True if the node's first LevelDB log was synced to its whole length:
//  the writes it took just before LevelDB switched to the next log were
//  made durable by our sync (LevelDB never syncs a log it left). Its whole
//  length is the file's own, or its grave's once LevelDB deleted it
//  (powerloss.c links it there first). Before the cut, which truncates. A
//  sync that left the old log out fails this when writes reached the old
//  log after its last sync before the switch (about one run in three here:
//  LevelDB often pauses before a switch, long enough for a sync).
static bool s_first_log_synced_whole (fixture_t *f, long long *synced, long long *size)
{
    FILE *file = fopen (f->pl_log, "r");
    assert_non_null (file);
    char line[1024], first_name[512] = "";
    unsigned long long first = 0;
    *synced = -1;
    while (fgets (line, sizeof line, file)) {
        unsigned long long ino;
        long long len;
        char name[512];
        size_t name_len;
        if (!first && sscanf (line, "create %llu %511s", &ino, name) == 2 &&
            (name_len = strlen (name)) > 4 && streq (name + name_len - 4, ".log")) {
            first = ino;
            snprintf (first_name, sizeof first_name, "%s", name);
        } else if (first && sscanf (line, "sync %llu %lld", &ino, &len) == 2 && ino == first &&
                   len > *synced)
            *synced = len;
    }
    fclose (file);
    assert_true (first != 0);
    char path[1200];
    struct stat st;
    snprintf (path, sizeof path, "%s/%s", f->data, first_name);
    if (stat (path, &st) != 0 || (unsigned long long) st.st_ino != first) {
        snprintf (path, sizeof path, "%s.grave/%llu", f->pl_log, first);
        assert_int_equal (stat (path, &st), 0);
    }
    *size = (long long) st.st_size;
    return *synced == *size;
}

//  The node's count of outbox entries awaiting a reply.
static int64_t s_pending (fixture_t *f)
{
    envelope_t request;
    client_request (&request, ENVELOPE_QUERY, NULL, "node/stats", "stats", NULL, 0);
    client_reply_t reply;
    assert_int_equal (client_call (f->client, &request, 10000, &reply), 0);
    int64_t pending = -1;
    assert_int_equal (map_int (reply.data, reply.size, "pending", &pending), 0);
    client_reply_close (&reply);
    return pending;
}

//  sync, transfers: a cut while thousands of transfers are half-way keeps
//  every acknowledged Start, and the books balance once the node finished
//  them: no money made or lost, no leg done twice.
//  One round of it in data-NAME; with open_fails_ms, the node cannot open
//  LevelDB's new log for that long after the switch.
static void s_transfers_round (fixture_t *f, const char *name, int open_fails_ms)
{
    powerloss_name_round (f, name);
    f->open_fails_ms = open_fails_ms;
    powerloss_start (f, "sync", true);
    f->open_fails_ms = 0;
    for (int i = 0; i < ACCOUNTS; i++) {
        char address[32], amount[32];
        snprintf (address, sizeof address, "account/p%d", i);
        snprintf (amount, sizeof amount, "amount=%d", FUNDING);
        s_call (f, address, "Open", "owner=powerloss", NULL);
        s_call (f, address, "Deposit", amount, NULL);
    }
    //  Starts with TRANSFER_WINDOW in flight, until LevelDB switched to a
    //  new log (its first, and one more) and AFTER more were sent; which
    //  ones were acknowledged.
    bool *acked = calloc (TRANSFERS, sizeof (bool));
    assert_non_null (acked);
    int sent = 0, answered = 0, acks = 0, logs = 0, last = TRANSFERS;
    long offset = 0;
    uint64_t rand = 7;
    int64_t deadline = zclock_mono () + 4 * WAIT_MS;
    while (answered < sent || sent < last) {
        if (logs < 2 && sent % 500 == 0 && sent > 0 && sent - answered < TRANSFER_WINDOW) {
            s_logs_created (f, &offset, &logs);
            if (logs >= 2)
                last = sent + AFTER < TRANSFERS ? sent + AFTER : TRANSFERS;
        }
        while (sent < last && sent - answered < TRANSFER_WINDOW) {
            rand = rand * 6364136223846793005ULL + 1442695040888963407ULL;
            int source = (int) ((rand >> 33) % ACCOUNTS);
            int target = (source + 1 + (int) ((rand >> 40) % (ACCOUNTS - 1))) % ACCOUNTS;
            char address[32], from[32], to[32], amount[32];
            snprintf (address, sizeof address, "transfer/p%d", sent);
            snprintf (from, sizeof from, "from=account/p%d", source);
            snprintf (to, sizeof to, "to=account/p%d", target);
            snprintf (amount, sizeof amount, "amount=%d", 1 + (int) ((rand >> 20) % 100));
            powerloss_send_command (f, address, "Start", sent, from, to, amount);
            sent++;
            if (sent % 500 == 0)
                break; //  a look at the side log
        }
        if (answered == sent)
            continue;
        client_reply_t reply;
        int rc = client_recv (f->client, 1000, &reply);
        if (rc == SHOAL_ETIMEOUT) {
            if (zclock_mono () > deadline)
                fail_msg ("%d of %d Starts answered (see %s)", answered, sent, f->log);
            continue;
        }
        assert_int_equal (rc, 0);
        int index = powerloss_transfer_index (&reply);
        assert_true (index >= 0 && index < sent);
        if (!reply.ok)
            fail_msg ("Start %d refused: %s %s", index, reply.code, reply.reason);
        acked[index] = true;
        acks++;
        answered++;
        client_reply_close (&reply);
    }
    //  The last Start is just acknowledged: most transfers are half-way.
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGKILL);
    //  The first log, left by LevelDB at the switch, was synced whole.
    long long first_synced, first_size;
    if (!s_first_log_synced_whole (f, &first_synced, &first_size))
        fail_msg ("the first log holds %lld bytes and was synced to %lld: the writes it took "
                  "just before LevelDB switched logs were never made durable (see %s)",
                  first_size, first_synced, f->pl_log);
    powerloss_stats_t stats;
    if (powerloss_apply (f->data, f->pl_log, &stats, f->report, sizeof f->report) != 0)
        fail_msg ("the cut failed: %s", f->report);
    s_logs_created (f, &offset, &logs);
    print_message ("transfers: %d Starts acknowledged; %d log files created; cut: %d files kept "
                   "(%d restored), %d vanished, %lld bytes dropped, after %d syncs\n",
                   acks, logs, stats.kept, stats.restored, stats.vanished,
                   (long long) stats.bytes_cut, stats.syncs);
    assert_int_equal (stats.overwrites, 0);
    if (stats.syncs == 0)
        fail_msg ("the preload saw no sync (see %s)", f->pl_log);
    //  The node's first log, and at least one more: the cut covered a
    //  switch of logs, with writes in the old one that only our sync made
    //  durable.
    if (logs < 2)
        fail_msg ("LevelDB created %d log file(s) for %d transfers: it never switched logs", logs,
                  sent);

    //  Without the preload: the node finishes what was half-way.
    powerloss_start (f, "sync", false);
    int64_t done_by = zclock_mono () + 4 * WAIT_MS;
    while (s_pending (f) != 0) {
        if (zclock_mono () > done_by)
            fail_msg ("transfers still pending after %d ms (see %s)", 4 * WAIT_MS, f->log);
        zclock_sleep (50);
    }
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGTERM);

    books_t *books = books_new ();
    char *error = NULL;
    if (books_read_dir (books, f->data, &error) != 0)
        fail_msg ("cannot read the books in %s: %s", f->data, error ? error : "");
    books_summary_t summary;
    int verified = books_verify (books, &summary);
    for (int i = 0; i < BOOKS_INVARIANT_COUNT; i++)
        if (summary.broken[i])
            print_error ("%s broken: %s\n", books_invariant_name ((books_invariant_t) i),
                         summary.first[i]);
    assert_int_equal (verified, 0);
    assert_int_equal (summary.total, (int64_t) ACCOUNTS * FUNDING);
    int lost = 0;
    for (int i = 0; i < sent; i++) {
        char id[32]; //  the books name a transfer without "transfer/"
        snprintf (id, sizeof id, "p%d", i);
        const books_transfer_t *transfer = books_transfer (books, id);
        if (acked[i] && (!transfer || !transfer->started))
            lost++;
    }
    books_destroy (&books);
    free (acked);
    if (lost)
        fail_msg ("%d acknowledged Starts lost in the cut", lost);
    print_message ("transfers: %zu started, %zu completed, %zu failed, %zu compensated after the "
                   "cut\n",
                   summary.started, summary.completed, summary.failed, summary.compensated);
}

static void test_sync_transfers_keep_the_books (void **state)
{
    s_transfers_round (*state, "transfers", 0);
}

//  The same, the new log out of reach for a while after the switch (no
//  descriptor left, as the node sees it): the node says it cannot find its
//  logs, takes nothing for durable meanwhile, and goes on once it can; the
//  cut keeps every acknowledged Start and the books.
static void test_new_log_out_of_reach (void **state)
{
    fixture_t *f = *state;
    s_transfers_round (f, "unreachable", UNREACHABLE_MS);
    char *text = powerloss_read_file (f->log);
    assert_non_null (text);
    bool said = strstr (text, "cannot find its log files to sync them") != NULL;
    free (text);
    if (!said)
        fail_msg ("the node never said it could not find its new log (see %s)", f->log);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_sync_keeps_every_acknowledged_deposit,
                                         powerloss_setup, powerloss_teardown),
        cmocka_unit_test_setup_teardown (test_async_loses_acknowledged_deposits, powerloss_setup,
                                         powerloss_teardown),
        cmocka_unit_test_setup_teardown (test_sync_transfers_keep_the_books, powerloss_setup,
                                         powerloss_teardown),
        cmocka_unit_test_setup_teardown (test_new_log_out_of_reach, powerloss_setup,
                                         powerloss_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
