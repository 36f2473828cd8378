/*  test_powerloss.c - power loss: a real `shoal node` runs with
    tests/powerloss.c preloaded (it records what the node made durable),
    takes deposits, is SIGKILLed; powerloss_apply then drops every write
    it had not fsynced (and every name whose directory was not fsynced),
    as a power cut would; the node is started again, without the preload,
    and the books are counted.

    With `sync` durability every acknowledged deposit must be there, and
    so must every acknowledged transfer with the books balanced: transfers
    run between actors of two workers, whose steps go from one to the other
    before they are fsynced (sync.c), and the cut comes while thousands are
    half-way, after LevelDB moved to a new log file at least once. With
    `async` a cut must lose acknowledged deposits in at least one of a few
    rounds: if it never does, the model cuts nothing and the sync test
    proves nothing, and the test fails saying so.

    `shoal cluster init` is cut too: the certificates and the map it says
    it wrote must all be there after the cut.

    In `async` an operator's decision (a projection paused) must survive
    a cut all the same: it was answered as done.

    `shoal repair` is cut too: a store with a damaged table is repaired
    under the preload, and the cut must take back nothing the repair
    wrote (the books read the same before and after it).

    A client sends deposits of 1 to account/a, each with its own id, and
    counts the acknowledgements. The node listens on ipc:// in the test's
    own directory; every wait has a deadline.
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

#define WAIT_MS 30000  //  the longest any condition is waited for
#define ASYNC_ROUNDS 3 //  rounds of async before the test gives up
#define REPORT_SIZE 65536
#define ACCOUNTS 16               //  account/p0..p15, funded, for the transfers
#define FUNDING 1000000           //  deposited into each
#define TRANSFERS 60000           //  Starts at most: until LevelDB switched logs, and AFTER more
#define AFTER 3000                //  Starts sent after the switch was seen
#define TRANSFER_WINDOW 128       //  Starts in flight
#define FAIL_SYNCS_AFTER 100      //  log syncs that succeed before the disk fails
#define SLOW_SYNC_MS 40           //  a slow disk's log fsync
#define UNREACHABLE_MS 300        //  the new log cannot be opened this long after the switch
#define SLOW_DEPOSITS 30          //  deposits, one at a time, on it
#define HOLD_SYNC_MS 3000         //  the log fsync while replies pile up behind it
#define HOLD_EVENTS 300           //  account/a's deposits: its events answer is ~18 KB
#define HOLD_QUERIES 20000        //  events queries sent at once: ~360 MB of answers
#define HOLD_EVERY 500            //  a deposit among them this often, unsynced ahead
#define HOLD_MAX (64u << 20)      //  runtime/worker.h's WORKER_OUTBOUND_MAX
#define HOLD_BUNDLE (1u << 20)    //  runtime/worker.h's WORKER_BUNDLE_MAX
#define HOLD_RSS_MAX (144u << 20) //  the node's peak RSS grows by less

typedef struct {
    char dir[256];      //  the test's own directory
    char data[320];     //  the node's data directory (one per round)
    char endpoint[320]; //  ipc:// in dir
    char log[320];      //  the node's stderr
    char pl_log[320];   //  powerloss.c's side log (one per round)
    node_child_t node;
    client_t *client;
    int next_id;       //  deposits sent so far (each its own id)
    int64_t acked;     //  deposits of this round acknowledged
    int fail_syncs;    //  preloaded: log syncs before they fail (-1: none fails)
    int slow_ms;       //  preloaded: each log sync sleeps this long first (0: none)
    bool lean;         //  preloaded: an ASan-built node keeps little freed memory
    int open_fails_ms; //  preloaded: a new log cannot be opened for this long (0: none)
    char report[REPORT_SIZE];
} fixture_t;

static int s_setup (void **state)
{
    fixture_t *f = calloc (1, sizeof (fixture_t));
    assert_int_equal (bench_temp_dir ("shoal-test-powerloss", f->dir, sizeof f->dir), 0);
    snprintf (f->endpoint, sizeof f->endpoint, "ipc://%s/node.ipc", f->dir);
    snprintf (f->log, sizeof f->log, "%s/node.log", f->dir);
    f->fail_syncs = -1;
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

//  A round's node data directory, data-NAME, and preload side log,
//  powerloss-NAME.log, in the test's directory.
static void s_name_round (fixture_t *f, const char *name)
{
    assert_true (snprintf (f->data, sizeof f->data, "%s/data-%s", f->dir, name) <
                 (int) sizeof f->data);
    assert_true (snprintf (f->pl_log, sizeof f->pl_log, "%s/powerloss-%s.log", f->dir, name) <
                 (int) sizeof f->pl_log);
}

//  Starts the node on f->data; with preload, powerloss.c records it into
//  f->pl_log. The preload's variables are set for the child only.
static void s_start (fixture_t *f, const char *durability, bool preload)
{
    char asan[1024];
    const char *old_asan = getenv ("ASAN_OPTIONS");
    snprintf (asan, sizeof asan, "%s", old_asan ? old_asan : "");
    if (preload) {
        const char *library = getenv ("SHOAL_POWERLOSS");
        assert_non_null (library);
        setenv ("LD_PRELOAD", library, 1);
        setenv ("SHOALPL_DIR", f->data, 1);
        setenv ("SHOALPL_LOG", f->pl_log, 1);
        if (f->open_fails_ms > 0) {
            char fails[32];
            snprintf (fails, sizeof fails, "%d", f->open_fails_ms);
            setenv ("SHOALPL_FAIL_NEW_LOG_OPENS_MS", fails, 1);
        }
        if (f->slow_ms > 0) {
            char slow[32];
            snprintf (slow, sizeof slow, "%d", f->slow_ms);
            setenv ("SHOALPL_SLOW_LOG_SYNC_MS", slow, 1);
        }
        if (f->fail_syncs >= 0) {
            char fail[32];
            snprintf (fail, sizeof fail, "%d", f->fail_syncs);
            setenv ("SHOALPL_FAIL_LOG_SYNCS", fail, 1);
        }
        //  The node is ASan-built in CI: the preloaded library comes before
        //  ASan's runtime in the list, which ASan refuses unless told.
        char with[1100];
        //  A lean one keeps 8 MiB of freed memory in quarantine, not 256:
        //  its peak RSS tells what it used.
        snprintf (with, sizeof with, "%s%sverify_asan_link_order=0%s", asan, *asan ? ":" : "",
                  f->lean ? ":quarantine_size_mb=8" : "");
        setenv ("ASAN_OPTIONS", with, 1);
    }
    char *extra[] = {"--workers", "2", "--durability", (char *) durability, NULL};
    int rc = node_child_start (&f->node, getenv ("SHOAL_BIN"), f->data, f->endpoint, extra, f->log,
                               WAIT_MS);
    if (preload) {
        unsetenv ("LD_PRELOAD");
        unsetenv ("SHOALPL_DIR");
        unsetenv ("SHOALPL_LOG");
        unsetenv ("SHOALPL_FAIL_LOG_SYNCS");
        unsetenv ("SHOALPL_SLOW_LOG_SYNC_MS");
        unsetenv ("SHOALPL_FAIL_NEW_LOG_OPENS_MS");
        if (old_asan)
            setenv ("ASAN_OPTIONS", asan, 1);
        else
            unsetenv ("ASAN_OPTIONS");
    }
    if (rc)
        fail_msg ("shoal node (%s%s) did not start: %s (see %s)", durability,
                  preload ? ", preloaded" : "", shoal_strerror (rc), f->log);
    client_destroy (&f->client);
    f->client = client_new (f->node.endpoint);
    assert_non_null (f->client);
}

//  Sends command name to account/a with one field, once, with its own id.
//  Returns true if acknowledged; fails the test on silence or a refusal.
static bool s_command (fixture_t *f, const char *name, char *field)
{
    char text[64];
    snprintf (text, sizeof text, "powerloss-%d", f->next_id++);
    uint8_t id[ENVELOPE_ID_SIZE];
    client_id_from_string (text, id);
    uint8_t *payload;
    size_t size;
    char error[128];
    assert_int_equal (client_fields (1, &field, &payload, &size, error, sizeof error), 0);
    envelope_t request;
    client_request (&request, ENVELOPE_COMMAND, id, "account/a", name, payload, size);
    client_reply_t reply;
    int rc = client_call (f->client, &request, 10000, &reply);
    free (payload);
    if (rc)
        fail_msg ("%s %s: no answer (%s)", name, text, shoal_strerror (rc));
    bool ok = reply.ok;
    if (!ok)
        fail_msg ("%s %s refused: %s %s", name, text, reply.code, reply.reason);
    client_reply_close (&reply);
    return ok;
}

//  The id of command index: "powerloss" and the index, big-endian.
static void s_index_id (int index, uint8_t id[ENVELOPE_ID_SIZE])
{
    memset (id, 0, ENVELOPE_ID_SIZE);
    memcpy (id, "powerloss", 9);
    for (int i = 0; i < 4; i++)
        id[ENVELOPE_ID_SIZE - 1 - i] = (uint8_t) ((unsigned) index >> (8 * i));
}

//  Sends command name to address with up to three "k=v" fields, with the
//  id of index, without waiting.
static void s_send_command (fixture_t *f, const char *address, const char *name, int index, char *a,
                            char *b, char *c)
{
    uint8_t id[ENVELOPE_ID_SIZE];
    s_index_id (index, id);
    char *fields[] = {a, b, c};
    int count = c ? 3 : b ? 2 : a ? 1 : 0;
    uint8_t *payload;
    size_t size;
    char error[128];
    assert_int_equal (client_fields (count, fields, &payload, &size, error, sizeof error), 0);
    envelope_t request;
    client_request (&request, ENVELOPE_COMMAND, id, address, name, payload, size);
    assert_int_equal (client_send (f->client, &request), 0);
    free (payload);
}

//  The index of the command a reply answers (its correlation id), or -1.
static int s_transfer_index (const client_reply_t *reply)
{
    uint8_t id[ENVELOPE_ID_SIZE];
    s_index_id (0, id);
    if (memcmp (id, reply->correlation, ENVELOPE_ID_SIZE - 4) != 0)
        return -1;
    unsigned index = 0;
    for (int i = ENVELOPE_ID_SIZE - 4; i < ENVELOPE_ID_SIZE; i++)
        index = index << 8 | reply->correlation[i];
    return (int) index;
}

//  Sends command name to address with up to two fields and waits for its
//  acknowledgement; fails the test on silence or a refusal.
static void s_call (fixture_t *f, const char *address, const char *name, char *a, char *b)
{
    static int calls;
    s_send_command (f, address, name, TRANSFERS + calls++, a, b, NULL);
    client_reply_t reply;
    int rc = client_recv (f->client, 10000, &reply);
    if (rc)
        fail_msg ("%s %s: no answer (%s)", address, name, shoal_strerror (rc));
    if (!reply.ok)
        fail_msg ("%s %s refused: %s %s", address, name, reply.code, reply.reason);
    client_reply_close (&reply);
}

//  The balance of account/a as the running node answers a get (0 if the
//  account does not exist: its opening may have been cut too).
static int64_t s_balance (fixture_t *f)
{
    uint8_t id[ENVELOPE_ID_SIZE];
    envelope_new_id (id);
    envelope_t request;
    client_request (&request, ENVELOPE_QUERY, id, "account/a", "get", NULL, 0);
    client_reply_t reply;
    int rc = client_call (f->client, &request, 10000, &reply);
    if (rc)
        fail_msg ("get account/a: no answer (%s)", shoal_strerror (rc));
    int64_t balance = 0;
    if (reply.ok && reply_state_int (&reply, "balance", &balance) != 0)
        balance = 0;
    client_reply_close (&reply);
    return balance;
}

//  The balance of account/a in the books of the stopped store in dir,
//  every invariant of the bank holding.
static int64_t s_dir_balance (const char *dir)
{
    books_t *books = books_new ();
    char *error = NULL;
    if (books_read_dir (books, dir, &error) != 0)
        fail_msg ("cannot read the books in %s: %s", dir, error ? error : "");
    books_summary_t summary;
    assert_int_equal (books_verify (books, &summary), 0);
    const books_account_t *account = books_account (books, "account/a");
    int64_t balance = account ? account->balance : 0;
    books_destroy (&books);
    return balance;
}

//  The balance of account/a in the stopped node's books.
static int64_t s_books_balance (fixture_t *f)
{
    return s_dir_balance (f->data);
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
    s_name_round (f, name);
    f->acked = 0;
    s_start (f, durability, true);
    s_command (f, "Open", "owner=powerloss");
    for (int i = 0; i < deposits; i++)
        if (s_command (f, "Deposit", "amount=1"))
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

    s_start (f, durability, false);
    int64_t balance = s_balance (f);
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGTERM);
    assert_int_equal (s_books_balance (f), balance);
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

//  The whole of a small file, NUL-terminated (the caller frees it), or NULL.
static char *s_read_file (const char *path)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return NULL;
    char *text = calloc (1, 1 << 20);
    if (text)
        fread (text, 1, (1 << 20) - 1, file);
    fclose (file);
    return text;
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
    s_name_round (f, name);
    f->open_fails_ms = open_fails_ms;
    s_start (f, "sync", true);
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
            s_send_command (f, address, "Start", sent, from, to, amount);
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
        int index = s_transfer_index (&reply);
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
    s_start (f, "sync", false);
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
    char *text = s_read_file (f->log);
    assert_non_null (text);
    bool said = strstr (text, "cannot find its log files to sync them") != NULL;
    free (text);
    if (!said)
        fail_msg ("the node never said it could not find its new log (see %s)", f->log);
}

//  After the node was killed: applies the cut, starts it again without the
//  preload, and returns account/a's balance, which the books (every
//  invariant holding) must agree with.
static int64_t s_cut_and_count (fixture_t *f)
{
    powerloss_stats_t stats;
    if (powerloss_apply (f->data, f->pl_log, &stats, f->report, sizeof f->report) != 0)
        fail_msg ("the cut failed: %s", f->report);
    assert_int_equal (stats.overwrites, 0);
    s_start (f, "sync", false);
    int64_t balance = s_balance (f);
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGTERM);
    assert_int_equal (s_books_balance (f), balance);
    return balance;
}

//  sync, a disk that stops writing the log: the first fsync that fails
//  stops the node (exit code 3, the cause on stderr) before anything it
//  could not make durable is acknowledged; after the cut and a restart
//  every acknowledged deposit is there and none is there twice.
static void test_failed_sync_stops_the_node (void **state)
{
    fixture_t *f = *state;
    s_name_round (f, "failsync");
    f->fail_syncs = FAIL_SYNCS_AFTER;
    s_start (f, "sync", true);
    f->fail_syncs = -1;
    int sent = 0, acked = 0;
    bool silent = false;
    while (!silent && sent < 5000) {
        char text[64];
        snprintf (text, sizeof text, "powerloss-failsync-%d", sent);
        uint8_t id[ENVELOPE_ID_SIZE];
        client_id_from_string (text, id);
        char *field = sent == 0 ? "owner=powerloss" : "amount=1";
        uint8_t *payload;
        size_t size;
        char error[128];
        assert_int_equal (client_fields (1, &field, &payload, &size, error, sizeof error), 0);
        envelope_t request;
        client_request (&request, ENVELOPE_COMMAND, id, "account/a", sent == 0 ? "Open" : "Deposit",
                        payload, size);
        client_reply_t reply;
        int rc = client_call (f->client, &request, 5000, &reply);
        free (payload);
        if (rc == 0) {
            if (!reply.ok)
                fail_msg ("command %d refused: %s %s", sent, reply.code, reply.reason);
            acked += sent > 0;
            client_reply_close (&reply);
        } else
            silent = true;
        sent++;
    }
    if (!silent)
        fail_msg ("%d commands acknowledged: no fsync failed (see %s)", sent, f->pl_log);
    //  The node started and took deposits before its disk failed: the
    //  test saw acknowledgements it could lose.
    if (acked < FAIL_SYNCS_AFTER / 2)
        fail_msg ("%d deposits acknowledged before the disk failed: the node's start used the "
                  "syncs (raise FAIL_SYNCS_AFTER)",
                  acked);
    int status = 0;
    int64_t deadline = zclock_mono () + WAIT_MS;
    pid_t pid = 0;
    while ((pid = waitpid (f->node.pid, &status, WNOHANG)) == 0 && zclock_mono () < deadline)
        zclock_sleep (10);
    if (pid != f->node.pid)
        fail_msg ("the node is still running after its fsync failed (see %s)", f->log);
    f->node.pid = 0;
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 3)
        fail_msg ("the node ended with wait status %d, not exit code 3 (see %s)", status, f->log);
    char *text = s_read_file (f->log);
    assert_non_null (text);
    if (!strstr (text, "cannot make its writes durable"))
        fail_msg ("the node's stderr does not say why it stopped (see %s)", f->log);
    free (text);

    client_destroy (&f->client);
    int64_t balance = s_cut_and_count (f);
    print_message ("failed sync: %d deposits acknowledged, %d sent; balance %lld after the cut\n",
                   acked, sent - 1, (long long) balance);
    if (balance < acked)
        fail_msg ("%lld acknowledged deposits lost", (long long) (acked - balance));
    if (balance > sent - 1)
        fail_msg ("balance %lld: more than the %d deposits sent", (long long) balance, sent - 1);
}

//  sync, a slow disk (each fsync of the log takes SLOW_SYNC_MS): a reply
//  leaves the node only once the fsync that covers its commit ended, so
//  each deposit takes at least that long, and a SIGKILL at once after the
//  last acknowledgement, then the cut, keeps every acknowledged deposit.
static void test_replies_wait_for_the_sync (void **state)
{
    fixture_t *f = *state;
    s_name_round (f, "slow");
    f->slow_ms = SLOW_SYNC_MS;
    s_start (f, "sync", true);
    f->slow_ms = 0;
    f->acked = 0;
    s_command (f, "Open", "owner=powerloss");
    int64_t quickest = INT64_MAX;
    for (int i = 0; i < SLOW_DEPOSITS; i++) {
        int64_t started = zclock_usecs ();
        if (s_command (f, "Deposit", "amount=1"))
            f->acked++;
        int64_t took = zclock_usecs () - started;
        if (took < quickest)
            quickest = took;
    }
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGKILL); //  right after the last answer
    print_message ("slow disk: %lld deposits acknowledged, the quickest in %.1f ms (each log "
                   "fsync %d ms)\n",
                   (long long) f->acked, (double) quickest / 1000.0, SLOW_SYNC_MS);
    if (quickest < SLOW_SYNC_MS * 1000)
        fail_msg ("a deposit was answered in %.1f ms, before the %d ms fsync of its commit ended",
                  (double) quickest / 1000.0, SLOW_SYNC_MS);
    int64_t balance = s_cut_and_count (f);
    if (balance != f->acked)
        fail_msg ("%lld deposits acknowledged, balance %lld after the cut", (long long) f->acked,
                  (long long) balance);
}

//  One counter of the running node's stats.
static int64_t s_stat (fixture_t *f, const char *name)
{
    envelope_t request;
    client_request (&request, ENVELOPE_QUERY, NULL, "node/stats", "stats", NULL, 0);
    client_t *client = client_new (f->node.endpoint);
    assert_non_null (client);
    client_reply_t reply;
    if (client_call (client, &request, WAIT_MS, &reply) != 0)
        fail_msg ("no answer to stats");
    client_destroy (&client);
    int64_t value = -1;
    assert_int_equal (map_int (reply.data, reply.size, name, &value), 0);
    client_reply_close (&reply);
    return value;
}

//  sync, a disk whose fsync takes HOLD_SYNC_MS, and answers piling up
//  behind an unsynced deposit: what the workers sent the front and it has
//  not handled (held for the sync, or queued) stays under 64 MiB and one
//  bundle per worker (runtime/worker.h's WORKER_OUTBOUND_MAX and
//  WORKER_BUNDLE_MAX), a worker waiting past that, and so does the node's
//  memory: its peak RSS grows by less than HOLD_RSS_MAX while ~HOLD_TOTAL
//  bytes of answers go out. Every answer reaches the client or is counted
//  as dropped unread (the client did not read 64 MiB: its reply queue's
//  bound), none vanishes; every deposit sent again with its id gets its
//  stored answer; nothing is out at the end; and the cut keeps every
//  acknowledged deposit, none twice.
static void test_held_answers_bounded (void **state)
{
    fixture_t *f = *state;
    s_name_round (f, "held");
    f->slow_ms = HOLD_SYNC_MS;
    f->lean = true;
    s_start (f, "sync", true);
    f->slow_ms = 0;
    f->lean = false;
    s_command (f, "Open", "owner=powerloss");
    for (int i = 0; i < HOLD_EVENTS; i++)
        s_send_command (f, "account/a", "Deposit", i, "amount=1", NULL, NULL);
    for (int i = 0; i < HOLD_EVENTS; i++) {
        client_reply_t reply;
        if (client_recv (f->client, WAIT_MS, &reply) != 0)
            fail_msg ("%d of %d deposits answered", i, HOLD_EVENTS);
        if (!reply.ok)
            fail_msg ("deposit refused: %s %s", reply.code, reply.reason);
        client_reply_close (&reply);
    }
    //  The size of one events answer, for the bound.
    envelope_t request;
    client_request (&request, ENVELOPE_QUERY, NULL, "account/a", "events", NULL, 0);
    client_reply_t reply;
    if (client_call (f->client, &request, WAIT_MS, &reply) != 0 || !reply.ok)
        fail_msg ("no events answer");
    size_t answer = reply.size;
    client_reply_close (&reply);

    int64_t unread_before = s_stat (f, "unread");
    int64_t rss_before = s_stat (f, "peak_rss_kb");
    int deposits = 0, queries = 0;
    for (int i = 0; i < HOLD_QUERIES; i++) {
        if (i % HOLD_EVERY == 0) {
            s_send_command (f, "account/a", "Deposit", HOLD_EVENTS + deposits++, "amount=1", NULL,
                            NULL);
            continue;
        }
        client_request (&request, ENVELOPE_QUERY, NULL, "account/a", "events", NULL, 0);
        assert_int_equal (client_send (f->client, &request), 0);
        queries++;
    }
    //  Answers until every one is in or counted dropped (deadline).
    bool *deposited = calloc ((size_t) deposits, sizeof (bool));
    int answered = 0, events = 0, busy = 0;
    int64_t dropped = 0;
    //  Each sync lets at most HOLD_MAX out.
    int64_t syncs = (int64_t) HOLD_QUERIES * (int64_t) answer / HOLD_MAX + 3;
    for (int64_t deadline = zclock_mono () + syncs * HOLD_SYNC_MS + WAIT_MS;
         answered + dropped < HOLD_QUERIES && zclock_mono () < deadline;) {
        if (client_recv (f->client, 500, &reply) != 0) {
            dropped = s_stat (f, "unread") - unread_before;
            continue;
        }
        answered++;
        int index = s_transfer_index (&reply);
        if (index >= HOLD_EVENTS && index < HOLD_EVENTS + deposits)
            deposited[index - HOLD_EVENTS] = reply.ok;
        else if (reply.ok) {
            events++;
            if (reply.size > answer) //  the deposits among the queries grow it
                answer = reply.size;
        } else if (client_reply_transient (&reply))
            busy++;
        else
            fail_msg ("refused: %s %s", reply.code, reply.reason);
        client_reply_close (&reply);
    }
    int64_t peak = s_stat (f, "outbound_bytes_peak");
    int64_t out = s_stat (f, "outbound_bytes");
    int64_t held_peak = s_stat (f, "held_bytes_peak");
    int64_t held = s_stat (f, "held_bytes");
    int64_t waits = s_stat (f, "outbound_waits");
    int64_t rss = s_stat (f, "peak_rss_kb") - rss_before;
    int64_t bound = (int64_t) HOLD_MAX + 2 * ((int64_t) HOLD_BUNDLE + (int64_t) answer + 64);
    print_message ("held answers: %d queries and %d deposits sent (%.0f MiB of answers); %d "
                   "answered (%d with events, %d busy), %lld dropped unread; out at most %.1f MiB "
                   "(bound %.1f MiB), held at most %.1f MiB, %lld waits, %lld and %lld bytes at "
                   "the end; peak RSS grew %.1f MiB (bound %.0f MiB)\n",
                   queries, deposits, (double) queries * (double) answer / (1 << 20), answered,
                   events, busy, (long long) dropped, (double) peak / (1 << 20),
                   (double) bound / (1 << 20), (double) held_peak / (1 << 20), (long long) waits,
                   (long long) out, (long long) held, (double) rss / 1024,
                   (double) HOLD_RSS_MAX / (1 << 20));
    if (answered + dropped != HOLD_QUERIES)
        fail_msg ("%d answered and %lld dropped unread of %d sent: %lld vanished", answered,
                  (long long) dropped, HOLD_QUERIES,
                  (long long) (HOLD_QUERIES - answered - dropped));
    //  The node's memory stayed bounded; the bound was reached (the test
    //  pressed it: the workers waited), and held.
    if (rss * 1024 > (int64_t) HOLD_RSS_MAX)
        fail_msg ("the node's peak RSS grew %lld KiB: past %u MiB", (long long) rss,
                  HOLD_RSS_MAX >> 20);
    if (peak < (int64_t) HOLD_MAX || waits == 0)
        fail_msg ("at most %lld bytes out, %lld waits: the 64 MiB bound was never reached",
                  (long long) peak, (long long) waits);
    if (peak > bound)
        fail_msg ("%lld bytes out: past 64 MiB and a bundle per worker", (long long) peak);
    if (held_peak > peak)
        fail_msg ("%lld bytes held, more than the %lld out", (long long) held_peak,
                  (long long) peak);
    assert_int_equal (out, 0);
    assert_int_equal (held, 0);
    //  One client reading as fast as it can still gets only what its
    //  queues take of a 64 MiB burst (front_replies.c's bounds): the rest
    //  is counted, and a client asks again.
    if (events == 0)
        fail_msg ("no query answered with events");
    //  Each deposit not answered is sent again with its id: its stored
    //  answer (a transient refusal is sent again too).
    int64_t acked = HOLD_EVENTS;
    for (int i = 0; i < deposits; i++) {
        for (int tries = 0; !deposited[i] && tries < 20; tries++) {
            s_send_command (f, "account/a", "Deposit", HOLD_EVENTS + i, "amount=1", NULL, NULL);
            if (client_recv (f->client, WAIT_MS, &reply) != 0)
                fail_msg ("deposit %d: no answer when sent again", i);
            deposited[i] = reply.ok && s_transfer_index (&reply) == HOLD_EVENTS + i;
            client_reply_close (&reply);
        }
        if (!deposited[i])
            fail_msg ("deposit %d never acknowledged", i);
        acked++;
    }
    free (deposited);
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGKILL);
    int64_t balance = s_cut_and_count (f);
    if (balance != acked)
        fail_msg ("%lld deposits acknowledged, balance %lld after the cut", (long long) acked,
                  (long long) balance);
}

//  --------------------------------------------------------------------------
//  An operator's decision in async durability

//  Sends a query to node/projections with "k=v" fields; returns the
//  reply (close it), failing the test on silence.
static void s_projections_query (fixture_t *f, const char *name, int argc, char **argv,
                                 client_reply_t *reply)
{
    uint8_t *payload = NULL;
    size_t size = 0;
    char error[128];
    assert_int_equal (client_fields (argc, argv, &payload, &size, error, sizeof error), 0);
    envelope_t request;
    client_request (&request, ENVELOPE_QUERY, NULL, "node/projections", name, payload, size);
    int rc = client_call (f->client, &request, 10000, reply);
    free (payload);
    if (rc)
        fail_msg ("%s: no answer (%s)", name, shoal_strerror (rc));
}

//  The status of bank_totals@1 as the node lists it.
static void s_totals_status (fixture_t *f, char *status, size_t size)
{
    client_reply_t reply;
    s_projections_query (f, "projections", 0, NULL, &reply);
    assert_true (reply.ok);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *map = map_unpack (&unpacked, reply.data, reply.size);
    const msgpack_object *list = map ? map_find (map, "projections") : NULL;
    assert_non_null (list);
    status[0] = '\0';
    for (uint32_t i = 0; i < list->via.array.size; i++) {
        char name[64];
        if (map_find_str (&list->via.array.ptr[i], "name", name, sizeof name) == 0 &&
            streq (name, "bank_totals"))
            map_find_str (&list->via.array.ptr[i], "status", status, size);
    }
    msgpack_unpacked_destroy (&unpacked);
    client_reply_close (&reply);
}

//  In async durability nothing is fsynced, but what an operator was told
//  is done must be: a projection paused, then a cut, stays paused (the
//  deposits around it may be lost, as async allows).
static void test_async_keeps_operator_decisions (void **state)
{
    fixture_t *f = *state;
    s_name_round (f, "async-pause");
    s_start (f, "async", true);
    s_command (f, "Open", "owner=powerloss");
    char status[32];
    s_totals_status (f, status, sizeof status);
    assert_string_equal (status, "live");
    char *fields[] = {"action=pause", "name=bank_totals", "version=1"};
    client_reply_t reply;
    s_projections_query (f, "projection_control", 3, fields, &reply);
    if (!reply.ok)
        fail_msg ("pause refused: %s %s", reply.code, reply.reason);
    client_reply_close (&reply);
    for (int i = 0; i < 20; i++)
        s_command (f, "Deposit", "amount=1");
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGKILL);

    powerloss_stats_t stats;
    if (powerloss_apply (f->data, f->pl_log, &stats, f->report, sizeof f->report) != 0)
        fail_msg ("the cut failed: %s", f->report);
    print_message ("async pause: cut: %d files kept, %lld bytes dropped, after %d syncs and %d "
                   "dirsyncs\n",
                   stats.kept, stats.bytes_cut, stats.syncs, stats.dirsyncs);
    if (stats.syncs == 0)
        fail_msg ("the preload saw no sync: it did not interpose the node's calls");
    s_start (f, "async", false);
    s_totals_status (f, status, sizeof status);
    if (!streq (status, "paused"))
        fail_msg ("bank_totals@1 is %s after the cut: the pause an operator was told was done "
                  "is lost",
                  status);
}

//  --------------------------------------------------------------------------
//  `shoal repair` under the preload

//  Runs $SHOAL_BIN with args (NULL-terminated) to its end, with
//  powerloss.c preloaded watching the directory watched (recording into
//  f->pl_log), stdout and stderr to f->log. Returns its exit code.
static int s_run_preloaded (fixture_t *f, const char *watched, ...)
{
    const char *library = getenv ("SHOAL_POWERLOSS");
    assert_non_null (library);
    char *argv[16] = {(char *) getenv ("SHOAL_BIN")};
    int argc = 1;
    va_list args;
    va_start (args, watched);
    for (char *arg = va_arg (args, char *); arg && argc < 15; arg = va_arg (args, char *))
        argv[argc++] = arg;
    va_end (args);
    argv[argc] = NULL;
    const char *old_asan = getenv ("ASAN_OPTIONS");
    char asan[1100];
    snprintf (asan, sizeof asan, "%s%sverify_asan_link_order=0", old_asan ? old_asan : "",
              old_asan && *old_asan ? ":" : "");
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        setenv ("LD_PRELOAD", library, 1);
        setenv ("SHOALPL_DIR", watched, 1);
        setenv ("SHOALPL_LOG", f->pl_log, 1);
        setenv ("ASAN_OPTIONS", asan, 1);
        if (!freopen ("/dev/null", "r", stdin) || !freopen (f->log, "w", stdout) ||
            dup2 (STDOUT_FILENO, STDERR_FILENO) < 0)
            _exit (127);
        execv (argv[0], argv);
        _exit (127);
    }
    int status = 0;
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (waitpid (pid, &status, WNOHANG) == 0) {
        if (zclock_mono () > deadline) {
            kill (pid, SIGKILL);
            waitpid (pid, &status, 0);
            fail_msg ("shoal %s did not end within %d ms (see %s)", argv[1], WAIT_MS, f->log);
        }
        zclock_sleep (10);
    }
    if (WIFSIGNALED (status)) //  as a shell says it
        return 128 + WTERMSIG (status);
    assert_true (WIFEXITED (status));
    return WEXITSTATUS (status);
}

//  The newest file in dir whose name ends with tail, as a path.
static void s_newest_file (const char *dir, const char *tail, char *path, size_t size)
{
    zdir_t *listing = zdir_new (dir, NULL);
    assert_non_null (listing);
    zlist_t *files = zdir_list (listing);
    path[0] = '\0';
    for (zfile_t *file = zlist_first (files); file; file = zlist_next (files)) {
        const char *name = zfile_filename (file, NULL);
        size_t len = strlen (name);
        if (len > strlen (tail) && streq (name + len - strlen (tail), tail) &&
            strcmp (name, path) > 0)
            snprintf (path, size, "%s", name);
    }
    zlist_destroy (&files);
    zdir_destroy (&listing);
    assert_true (path[0]);
}

//  A store with a damaged table is repaired (LevelDB copies the table's
//  good records into a new file and renames it over the old), then the
//  power is cut: what the repair left must all be on disk, as it says
//  "repaired" when it is done. Without its syncs, the cut empties the
//  copied table, which the store by then names, and the deposits in it
//  are gone (or the store does not open).
//  `shoal repair` cut short (SIGKILL, a power cut, Ctrl-C on a long table
//  scan) after LevelDB's repair moved the logs to lost/, their records
//  copied into a table, and before it wrote its MANIFEST: CURRENT still
//  named the old MANIFEST, whose log was gone, so a node started there
//  opened the store without the log (and deleted the new table, which no
//  MANIFEST names): 300 acknowledged deposits gone, without a word. Now
//  CURRENT goes (synced) before LevelDB's repair runs: the node refuses the
//  store until a repair ends, and that repair keeps every deposit.
static void test_repair_cut_short (void **state)
{
    fixture_t *f = *state;
    s_name_round (f, "repair-cut");
    s_start (f, "sync", false);
    s_command (f, "Open", "owner=powerloss");
    for (int i = 0; i < 300; i++)
        if (s_command (f, "Deposit", "amount=1"))
            f->acked++;
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGKILL); //  the deposits are in the log alone
    //  A record whose checksum is wrong appended to the log: the node
    //  refuses the store, and LevelDB's repair drops that record alone
    //  (its 8 bytes are too small for a batch): every deposit is kept.
    char log[600];
    s_newest_file (f->data, ".log", log, sizeof log);
    int fd = open (log, O_WRONLY | O_APPEND);
    assert_true (fd >= 0);
    const uint8_t bad[15] = {0xde, 0xad, 0xbe, 0xef, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal (write (fd, bad, sizeof bad), (ssize_t) sizeof bad);
    close (fd);
    int rc = node_child_start (&f->node, getenv ("SHOAL_BIN"), f->data, f->endpoint, NULL, f->log,
                               WAIT_MS);
    assert_int_not_equal (rc, 0);

    //  The repair, killed before it sets the old MANIFEST aside.
    setenv ("SHOALPL_KILL_BEFORE_RENAME", "lost/MANIFEST", 1);
    int code = s_run_preloaded (f, f->data, "repair", "--data", f->data, "--yes", NULL);
    unsetenv ("SHOALPL_KILL_BEFORE_RENAME");
    assert_int_equal (code, 128 + SIGKILL);
    char lost[400];
    snprintf (lost, sizeof lost, "%s/lost", f->data);
    assert_int_equal (access (lost, F_OK), 0); //  it had set the log aside

    //  A node started now must refuse the store.
    rc = node_child_start (&f->node, getenv ("SHOAL_BIN"), f->data, f->endpoint, NULL, f->log,
                           WAIT_MS);
    if (rc == 0) {
        node_child_stop (&f->node, SIGTERM);
        fail_msg ("a node started on a store whose repair was cut short: balance %lld of %lld "
                  "acknowledged",
                  (long long) s_dir_balance (f->data), (long long) f->acked);
    }
    //  The repair again, to its end: what a repair never cut short keeps.
    code = s_run_preloaded (f, f->data, "repair", "--data", f->data, "--yes", NULL);
    if (code != 0)
        fail_msg ("shoal repair exited %d (see %s)", code, f->log);
    int64_t repaired = s_dir_balance (f->data);
    print_message ("repair cut short, then run again: balance %lld of %lld acknowledged\n",
                   (long long) repaired, (long long) f->acked);
    assert_int_equal (f->acked, 300);
    assert_int_equal (repaired, f->acked);
}

static void test_repair_is_durable (void **state)
{
    fixture_t *f = *state;
    s_name_round (f, "repair");
    s_start (f, "sync", false);
    s_command (f, "Open", "owner=powerloss");
    for (int i = 0; i < 300; i++)
        if (s_command (f, "Deposit", "amount=1"))
            f->acked++;
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGTERM);
    //  Opened again, the store turns its log into a table file (.ldb)
    s_start (f, "sync", false);
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGTERM);

    //  16 bytes flipped in the middle of the table
    char table[600];
    s_newest_file (f->data, ".ldb", table, sizeof table);
    int fd = open (table, O_RDWR);
    assert_true (fd >= 0);
    off_t size = lseek (fd, 0, SEEK_END);
    assert_true (size > 4096);
    uint8_t bytes[16];
    assert_int_equal (pread (fd, bytes, sizeof bytes, size / 2), (ssize_t) sizeof bytes);
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] ^= 0xff;
    assert_int_equal (pwrite (fd, bytes, sizeof bytes, size / 2), (ssize_t) sizeof bytes);
    assert_int_equal (fsync (fd), 0);
    close (fd);

    int code = s_run_preloaded (f, f->data, "repair", "--data", f->data, "--yes", NULL);
    if (code != 0 && code != 1)
        fail_msg ("shoal repair exited %d (see %s)", code, f->log);
    //  The store as the repair left it, copied aside (the cut's own
    //  DIR.before-cut shares the cut files' inodes)
    char repaired_dir[400], copy[900];
    snprintf (repaired_dir, sizeof repaired_dir, "%s.repaired", f->data);
    snprintf (copy, sizeof copy, "cp -a '%s' '%s'", f->data, repaired_dir);
    assert_int_equal (system (copy), 0);
    powerloss_stats_t stats;
    if (powerloss_apply (f->data, f->pl_log, &stats, f->report, sizeof f->report) != 0)
        fail_msg ("the cut failed: %s", f->report);
    print_message ("repair: cut: %d files kept (%d restored), %d vanished, %lld bytes dropped, "
                   "after %d syncs and %d dirsyncs\n%s",
                   stats.kept, stats.restored, stats.vanished, stats.bytes_cut, stats.syncs,
                   stats.dirsyncs, f->report);
    if (stats.syncs == 0)
        fail_msg ("the preload saw no sync: it did not interpose the repair's calls (see %s)",
                  f->pl_log);
    assert_int_equal (stats.overwrites, 0);

    //  The store as the repair left it, and the same store after the cut
    int64_t repaired = s_dir_balance (repaired_dir);
    int64_t cut = s_dir_balance (f->data);
    print_message ("repair: %lld deposits acknowledged, balance %lld after the repair, %lld "
                   "after the cut\n",
                   (long long) f->acked, (long long) repaired, (long long) cut);
    assert_true (repaired > 0); //  the table lost a block, not everything
    assert_true (repaired <= f->acked);
    if (cut != repaired)
        fail_msg ("the repair left balance %lld, the cut after it %lld: the repair's writes "
                  "were not all synced",
                  (long long) repaired, (long long) cut);
}

//  --------------------------------------------------------------------------
//  `shoal cluster init` under the preload

//  The certificates and the map `shoal cluster init` says it wrote are
//  all there after a cut: each node's certificate with the key the map
//  gives it, its secret, the client's certificate it authorizes. Its
//  directory is two levels below the one the cut sees, made by the
//  command: nothing it writes there syncs the top, so the directories
//  are there only if their making was synced (common/dirsync.c).
static void test_cluster_init_is_durable (void **state)
{
    fixture_t *f = *state;
    char root[320], dir[360], path[440];
    snprintf (root, sizeof root, "%s/cluster", f->dir);
    assert_int_equal (mkdir (root, 0700), 0);
    snprintf (dir, sizeof dir, "%s/deploy/cluster", root);
    snprintf (f->pl_log, sizeof f->pl_log, "%s/powerloss-cluster.log", f->dir);
    snprintf (f->log, sizeof f->log, "%s/cluster-init.txt", f->dir);
    int code = s_run_preloaded (f, root, "cluster", "init", "--nodes", "2", "--dir", dir, NULL);
    if (code != 0)
        fail_msg ("shoal cluster init exited %d (see %s)", code, f->log);
    powerloss_stats_t stats;
    if (powerloss_apply (root, f->pl_log, &stats, f->report, sizeof f->report) != 0)
        fail_msg ("the cut failed: %s", f->report);
    print_message ("cluster init: cut: %d files kept, %d vanished, %lld bytes dropped, after %d "
                   "syncs and %d dirsyncs\n%s",
                   stats.kept, stats.vanished, stats.bytes_cut, stats.syncs, stats.dirsyncs,
                   f->report);
    if (stats.syncs == 0)
        fail_msg ("the preload saw no sync: it did not interpose the command's calls");

    snprintf (path, sizeof path, "%s/cluster.cfg", dir);
    char *error = NULL;
    cluster_t *cluster = cluster_load (path, &error);
    if (!cluster)
        fail_msg ("the map after the cut: %s", error ? error : "");
    assert_int_equal (cluster_node_count (cluster), 2);
    snprintf (path, sizeof path, "%s/client.cert", dir);
    zcert_t *client = zcert_load (path);
    if (!client)
        fail_msg ("%s is lost or damaged after the cut", path);
    for (int i = 0; i < 2; i++) {
        const char *name = cluster_node_name (cluster, i);
        const char *tails[] = {"node.cert", "node.cert_secret", "operators/client.cert"};
        zcert_t *certs[3];
        for (int t = 0; t < 3; t++) {
            snprintf (path, sizeof path, "%s/%s/%s", dir, name, tails[t]);
            if (!(certs[t] = zcert_load (path)))
                fail_msg ("%s is lost or damaged after the cut", path);
        }
        assert_string_equal (zcert_public_txt (certs[0]), cluster_node_key (cluster, i));
        assert_string_equal (zcert_public_txt (certs[1]), cluster_node_key (cluster, i));
        assert_string_not_equal (zcert_secret_txt (certs[1]),
                                 "0000000000000000000000000000000000000000");
        assert_string_equal (zcert_public_txt (certs[2]), zcert_public_txt (client));
        for (int t = 0; t < 3; t++)
            zcert_destroy (&certs[t]);
    }
    zcert_destroy (&client);
    cluster_destroy (&cluster);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_sync_keeps_every_acknowledged_deposit, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_async_loses_acknowledged_deposits, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_sync_transfers_keep_the_books, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_new_log_out_of_reach, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_failed_sync_stops_the_node, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_replies_wait_for_the_sync, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_held_answers_bounded, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_repair_is_durable, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_repair_cut_short, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_cluster_init_is_durable, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_async_keeps_operator_decisions, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
