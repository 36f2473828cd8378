/*  test_faults_full_disk.c - a full disk under a real node (a small tmpfs, root):
    service back once room is made, a restart on the full disk, a full disk
    during `shoal repair`. The fixture: faults_test_util.h.
*/
#include "books.h"
#include "client.h"
#include "node_child.h"
#include "proc.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "faults_test_util.h"

#define FUNDED 8 //  account/b0..b7, funded, for the transfers

#define FUNDING 1000 //  deposited into each

#define SLACK (256 << 10) //  the room the filler leaves for the node's own writes

//  Adds transfer/tI between two of the funded accounts (seeded); every
//  sixth goes to the closed account/bx, and is compensated.
static void s_add_transfer (fixture_t *f)
{
    char address[32], from[48], to[48], amount[32];
    f->rand = f->rand * 6364136223846793005ULL + 1442695040888963407ULL;
    int source = (int) ((f->rand >> 33) % FUNDED);
    int target = (source + 1 + (int) ((f->rand >> 40) % (FUNDED - 1))) % FUNDED;
    snprintf (address, sizeof address, "transfer/t%d", f->transfers);
    snprintf (from, sizeof from, "from=account/b%d", source);
    if (f->transfers % 6 == 5)
        snprintf (to, sizeof to, "to=account/bx");
    else
        snprintf (to, sizeof to, "to=account/b%d", target);
    snprintf (amount, sizeof amount, "amount=%d", 1 + (int) ((f->rand >> 20) % 400));
    faults_add (f, address, "Start", from, to, amount, NULL);
    f->transfers++;
}

//  Adds deposits and transfers (three deposits to two transfers) as the
//  window empties.
static void faults_add_mix (fixture_t *f, int count)
{
    for (int i = 0; i < count; i++)
        if (f->mixed++ % 5 < 3)
            faults_add_deposit (f);
        else
            s_add_transfer (f);
}

//  Keeps the window full of new deposits and transfers until the node
//  answers `unavailable` (at most 20,000 commands).
static bool s_disk_refuses (fixture_t *f)
{
    if (f->refused > 0)
        return true;
    assert_true (f->count < 20000);
    if (f->waiting < WINDOW)
        faults_add_mix (f, WINDOW - (int) f->waiting);
    return false;
}

//  True once the node (its disk still full) has refused 50 more times.
static int64_t s_refused_goal;

static bool s_refused_more (fixture_t *f)
{
    return f->refused >= s_refused_goal;
}

//  True once at most WINDOW commands are left unacknowledged.
static bool s_half_acked (fixture_t *f)
{
    size_t left = 0;
    for (size_t i = 0; i < f->count; i++)
        left += !f->requests[i].acked;
    return left <= WINDOW;
}

//  --------------------------------------------------------------------------
//  A full disk

//  Fills the disk under f->disk with a file of the test's, then gives back
//  leave bytes of it. Writes its path into path.
static void s_fill_named (fixture_t *f, const char *name, char *path, size_t size, off_t leave)
{
    snprintf (path, size, "%s/%s", f->disk, name);
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true (fd >= 0);
    static char block[4096];
    while (write (fd, block, sizeof block) > 0)
        ;
    while (write (fd, block, 1) > 0)
        ;
    assert_int_equal (errno, ENOSPC);
    off_t length = lseek (fd, 0, SEEK_END);
    assert_int_equal (ftruncate (fd, length > leave ? length - leave : 0), 0);
    close (fd);
}

static void s_fill (fixture_t *f, char *path, size_t size, off_t leave)
{
    s_fill_named (f, "filler", path, size, leave);
}

//  Waits until transfer/tI is completed, failed or compensated, by gets.
static void s_wait_terminal (fixture_t *f, int i)
{
    char address[32], status[32] = "";
    snprintf (address, sizeof address, "transfer/t%d", i);
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (zclock_mono () < deadline) {
        envelope_t request;
        client_request (&request, ENVELOPE_QUERY, NULL, address, "get", NULL, 0);
        client_reply_t reply;
        if (client_call (f->client, &request, 5000, &reply) == 0) {
            int found = reply_state_str (&reply, "status", status, sizeof status);
            client_reply_close (&reply);
            if (found == 0 && (streq (status, "completed") || streq (status, "failed") ||
                               streq (status, "compensated")))
                return;
        }
        zclock_sleep (20);
    }
    fail_msg ("%s is not terminal after %d ms (status %s)", address, WAIT_MS, status);
}

//  The node's stats say its store failed a write within the last 10 s,
//  for want of space. Asked on a client of its own: the pump's has
//  requests in flight, whose answers a call would take and drop.
static void s_store_said_failing (fixture_t *f, const char *needle)
{
    client_t *client = client_new (f->node.endpoint);
    assert_non_null (client);
    int64_t ago = -2, deadline = zclock_mono () + WAIT_MS;
    char error[1024] = "";
    //  The cause is left out of an answer given while a write is under
    //  way (stats never wait for one): asked again until it is in (and
    //  holds needle, if given).
    do {
        error[0] = 0;
        envelope_t request;
        client_reply_t reply;
        client_request (&request, ENVELOPE_QUERY, NULL, "node/stats", "stats", NULL, 0);
        assert_int_equal (client_call (client, &request, 5000, &reply), 0);
        assert_true (reply.ok);
        msgpack_unpacked unpacked;
        msgpack_unpacked_init (&unpacked);
        const msgpack_object *map = map_unpack (&unpacked, reply.data, reply.size);
        assert_int_equal (map_find_int (map, "store_failed_ago_ms", &ago), 0);
        assert_int_equal (map_find_str (map, "store_error", error, sizeof error), 0);
        msgpack_unpacked_destroy (&unpacked);
        client_reply_close (&reply);
        if (error[0] && (!needle || strstr (error, needle)))
            break;
        zclock_sleep (20); //  between two asks, within the deadline
    } while (zclock_mono () < deadline);
    client_destroy (&client);
    if (ago < 0 || ago >= 10000 || !strstr (error, "No space left on device") ||
        (needle && !strstr (error, needle)))
        fail_msg ("stats of a node whose disk is full: store_failed_ago_ms %lld, store_error '%s'",
                  (long long) ago, error);
    //  A reopen that failed says the node opens the store again by itself
    //  (it said "then start it again", of a node that needs no restart).
    if (strstr (error, "cannot open the journal") &&
        (strstr (error, "start it again") || !strstr (error, "opens it again by itself")))
        fail_msg ("a failed reopen's words, in stats: %s", error);
}

//  Waits until the projection name is live and has caught up with the log
//  (it went on through the full disk: a batch it could not write was
//  applied again from its checkpoint when space came back).
static void s_wait_projected (fixture_t *f, const char *wanted)
{
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (zclock_mono () < deadline) {
        envelope_t request;
        client_reply_t reply;
        client_request (&request, ENVELOPE_QUERY, NULL, "node/projections", "projections", NULL, 0);
        bool live = false;
        if (client_call (f->client, &request, 5000, &reply) == 0 && reply.ok) {
            msgpack_unpacked unpacked;
            msgpack_unpacked_init (&unpacked);
            const msgpack_object *map = map_unpack (&unpacked, reply.data, reply.size);
            const msgpack_object *list = map ? map_find (map, "projections") : NULL;
            for (uint32_t i = 0; list && i < list->via.array.size; i++) {
                const msgpack_object *build = &list->via.array.ptr[i];
                char name[64] = "", status[16] = "";
                int64_t lag = -1;
                map_find_str (build, "name", name, sizeof name);
                map_find_str (build, "status", status, sizeof status);
                map_find_int (build, "lag", &lag);
                if (streq (name, wanted))
                    live = streq (status, "live") && lag == 0;
            }
            msgpack_unpacked_destroy (&unpacked);
            client_reply_close (&reply);
        }
        if (live)
            return;
        zclock_sleep (20);
    }
    fail_msg ("%s did not catch up in %d ms", wanted, WAIT_MS);
}

//  The rows of the projection name that match (a field of the query:
//  "key=K" or "prefix=P"), at most 10,000: the "rows" array of reply,
//  unpacked into unpacked (pointing into reply). The caller closes both.
static const msgpack_object *s_projected_rows (fixture_t *f, const char *name, const char *match,
                                               client_reply_t *reply, msgpack_unpacked *unpacked)
{
    char name_field[64], match_field[64];
    snprintf (name_field, sizeof name_field, "name=%s", name);
    snprintf (match_field, sizeof match_field, "%s", match);
    const char *fields[] = {name_field, match_field, "limit=10000"};
    uint8_t *payload;
    size_t size;
    char error[64];
    assert_int_equal (client_fields (3, (char **) fields, &payload, &size, error, sizeof error), 0);
    envelope_t request;
    client_request (&request, ENVELOPE_QUERY, NULL, "node/projections", "projection_rows", payload,
                    size);
    assert_int_equal (client_call (f->client, &request, 5000, reply), 0);
    free (payload);
    if (!reply->ok)
        fail_msg ("the rows of %s were refused: %s %s", name, reply->code, reply->reason);
    msgpack_unpacked_init (unpacked);
    const msgpack_object *map = map_unpack (unpacked, reply->data, reply->size);
    const msgpack_object *rows = map ? map_find (map, "rows") : NULL;
    assert_true (rows && rows->type == MSGPACK_OBJECT_ARRAY);
    return rows;
}

//  The balance of the bank_totals projection once it has caught up.
static int64_t s_projected_balance (fixture_t *f)
{
    s_wait_projected (f, "bank_totals");
    client_reply_t reply;
    msgpack_unpacked unpacked;
    const msgpack_object *rows =
        s_projected_rows (f, "bank_totals", "key=totals", &reply, &unpacked);
    assert_int_equal (rows->via.array.size, 1);
    int64_t balance = -1;
    map_find_int (map_find (&rows->via.array.ptr[0], "row"), "balance", &balance);
    msgpack_unpacked_destroy (&unpacked);
    client_reply_close (&reply);
    return balance;
}

//  account_transfers once it has caught up: every transfer that started
//  has its two rows (one under each account), each at its terminal
//  status, and no index row is left (a batch that could not be written
//  while the disk was full, its index rows' puts or deletes with it, was
//  applied again). Returns the transfers with rows.
static size_t s_projected_transfers (fixture_t *f)
{
    s_wait_projected (f, "account_transfers");
    client_reply_t reply;
    msgpack_unpacked unpacked;
    //  The transfers' accounts are b0 to b7 and bx: their rows, a prefix
    //  each (at most 10,000 rows a query); then the index rows.
    size_t rows_seen = 0, transfers_out = 0;
    const char *prefixes[] = {"prefix=b0/", "prefix=b1/", "prefix=b2/", "prefix=b3/", "prefix=b4/",
                              "prefix=b5/", "prefix=b6/", "prefix=b7/", "prefix=bx/"};
    for (size_t p = 0; p < sizeof prefixes / sizeof prefixes[0]; p++) {
        const msgpack_object *rows =
            s_projected_rows (f, "account_transfers", prefixes[p], &reply, &unpacked);
        assert_true (rows->via.array.size < 10000);
        for (uint32_t i = 0; i < rows->via.array.size; i++) {
            const msgpack_object *row = map_find (&rows->via.array.ptr[i], "row");
            char status[32] = "", direction[8] = "";
            map_find_str (row, "status", status, sizeof status);
            map_find_str (row, "direction", direction, sizeof direction);
            if (!(streq (status, "completed") || streq (status, "failed") ||
                  streq (status, "compensated")))
                fail_msg ("a row of account_transfers under %s has status '%s' after every "
                          "transfer ended",
                          prefixes[p], status);
            rows_seen++;
            transfers_out += streq (direction, "out");
        }
        msgpack_unpacked_destroy (&unpacked);
        client_reply_close (&reply);
    }
    const msgpack_object *index =
        s_projected_rows (f, "account_transfers", "prefix=\x01transfer/", &reply, &unpacked);
    if (index->via.array.size != 0)
        fail_msg ("%u index rows of account_transfers outlived their transfers",
                  index->via.array.size);
    msgpack_unpacked_destroy (&unpacked);
    client_reply_close (&reply);
    assert_int_equal (rows_seen, 2 * transfers_out);
    return transfers_out;
}

//  The full-disk run: accounts opened and funded, deposits and transfers
//  in flight while the disk fills (a filler leaves the node SLACK bytes,
//  which its own writes use up) until the node answers `unavailable`; it
//  keeps answering (and refusing) while full; the filler is deleted and
//  everything refused is acknowledged when asked again, without a
//  restart. With restart, the node is then SIGKILLed with commands in
//  flight and restarted, and those and more go through. Then every
//  transfer ends; the books balance, every acknowledged deposit is there
//  once, no transfer moved money twice.
static void s_full_disk (fixture_t *f, bool restart)
{
    faults_mount_small_disk (f);
    faults_start (f, "sync");
    faults_add (f, "account/a", "Open", "owner=faults", NULL);
    faults_add (f, "account/bx", "Open", "owner=closed", NULL);
    for (int b = 0; b < FUNDED; b++) {
        char address[32];
        snprintf (address, sizeof address, "account/b%d", b);
        faults_add (f, address, "Open", "owner=funded", NULL);
    }
    faults_pump (f, NULL);
    faults_add (f, "account/bx", "Close", NULL);
    for (int b = 0; b < FUNDED; b++) {
        char address[32], amount[32];
        snprintf (address, sizeof address, "account/b%d", b);
        snprintf (amount, sizeof amount, "amount=%d", FUNDING);
        faults_add (f, address, "Deposit", amount, NULL);
    }
    faults_add_mix (f, 80);
    faults_pump (f, NULL);

    char filler[400];
    s_fill (f, filler, sizeof filler, SLACK);
    f->full = true;
    size_t before = f->count;
    faults_pump (f, s_disk_refuses);
    int transfers_when_full = f->transfers;
    print_message ("the disk filled after %zu more commands (%d transfers so far)\n",
                   f->count - before, transfers_when_full);
    //  Still full: the node keeps answering, and refusing.
    s_refused_goal = f->refused + 50;
    faults_pump (f, s_refused_more);
    //  Its stats say its store failed a write lately, and why (a node whose
    //  disk was full looked well in stats, top and cluster status).
    s_store_said_failing (f, NULL);
    //  ... and top says it unwell (exit 1), as cluster status would: it
    //  printed the store's line and said ok, exit 0.
    char *output = NULL;
    int top = faults_run (f, &output, "top", "--once", "--json", "--interval", "200", "--endpoint",
                          f->node.endpoint, NULL);
    if (top != 1 || !strstr (output, "{\"ok\":false,\"code\":\"unwell\",\"reason\":") ||
        !strstr (output, "No space left on device"))
        fail_msg ("top --once --json, the disk full: exit %d: %s", top, output);
    free (output);
    //  And once a worker's reopen failed too (the disk still full), which
    //  the log says while it lasts (one ERROR, then nothing for as long
    //  as the disk stayed full).
    s_store_said_failing (f, "cannot open the journal");
    char *log = malloc (PROC_OUTPUT_MAX);
    assert_non_null (log);
    proc_read_file (f->log, log);
    if (!strstr (log, "still down, its reopen failed: "))
        fail_msg ("the node's log does not say its store is still down: %s", log);
    free (log);
    //  Each refusal names the cause (it said "its inbox record cannot be
    //  read", as of a damaged store).
    f->full = false;
    if (f->unnamed)
        fail_msg ("%lld unavailable answers did not name the full disk; the first: %s",
                  (long long) f->unnamed, f->first_unnamed);

    if (restart) {
        //  Killed, and every last byte taken: a start is refused, saying
        //  how much room the open needs (it said "No space left" alone,
        //  and a few MiB freed were not enough).
        node_child_stop (&f->node, SIGKILL);
        char rest[400];
        s_fill_named (f, "rest", rest, sizeof rest, 0);
        faults_refused (f, "No space left on device",
                        "MiB here) out as a table first: free at least", NULL);
        assert_int_equal (unlink (rest), 0);
    }
    //  Space again: what was refused goes through when asked again, and
    //  more besides, without a restart.
    assert_int_equal (unlink (filler), 0);
    if (restart)
        faults_start (f, "sync");
    faults_add_mix (f, 80);
    faults_pump (f, NULL);
    if (restart) {
        //  SIGKILLed with commands in flight: those not acknowledged yet
        //  are asked again of the restarted node.
        faults_add_mix (f, 2 * WINDOW);
        faults_pump (f, s_half_acked);
        node_child_stop (&f->node, SIGKILL);
        faults_start (f, "sync");
        faults_add_mix (f, 40);
        faults_pump (f, NULL);
    }
    for (int i = 0; i < f->transfers; i++)
        s_wait_terminal (f, i);
    int64_t projected = s_projected_balance (f);
    size_t projected_transfers = s_projected_transfers (f);
    node_child_stop (&f->node, SIGTERM);
    print_message ("%lld deposits and %d transfers acknowledged, %lld unavailable answers\n",
                   (long long) f->acked, f->transfers, (long long) f->refused);
    books_summary_t summary;
    assert_int_equal (faults_books (f, &summary), f->acked);
    print_message ("transfers: %zu completed, %zu failed, %zu compensated\n", summary.completed,
                   summary.failed, summary.compensated);
    assert_int_equal (summary.unfinished, 0);
    assert_int_equal (summary.completed + summary.failed + summary.compensated, f->transfers);
    assert_int_equal (summary.total, f->acked + FUNDED * FUNDING);
    assert_int_equal (projected, summary.total); //  the projection lost and doubled nothing
    assert_int_equal (projected_transfers, f->transfers);
    assert_int_equal (summary.deposits, f->acked + FUNDED * FUNDING);
    assert_true (summary.compensated > 0);
}

static void test_full_disk_service_back (void **state)
{
    s_full_disk (*state, false);
}

static void test_full_disk_then_restart (void **state)
{
    s_full_disk (*state, true);
}

//  A disk that fills while `shoal repair` runs. LevelDB's repair turns
//  each log into a table; when that write fails (ENOSPC) it logs "ignoring
//  conversion error", sets the log aside in lost/ all the same and writes
//  a store without it: the repair said "repaired" (exit 0), the node then
//  started on an empty store and `shoal check` found the books balanced,
//  every acknowledged deposit gone. Now the repair fails, puts back what
//  it set aside without a copy, and leaves the store for another repair
//  (no CURRENT: the node refuses it meanwhile); once there is room, that
//  repair keeps every deposit.
static void test_full_disk_during_repair (void **state)
{
    fixture_t *f = *state;
    faults_mount_small_disk (f);
    f->no_projections = true; //  the log then holds the deposits alone
    faults_fill_store (f, 300, SIGKILL);
    char current[400];
    snprintf (current, sizeof current, "%s/CURRENT", f->data);
    assert_int_equal (unlink (current), 0);
    char filler[400];
    s_fill (f, filler, sizeof filler, 16 << 10); //  less than the log's table
    char *output = NULL;
    int code = faults_run (f, &output, "repair", "--data", f->data, "--yes", NULL);
    print_message ("repair on a full disk (exit %d): %s", code, output);
    assert_int_equal (code, 2);
    assert_non_null (strstr (output, "run the repair again"));
    free (output);
    faults_refused (f, "no CURRENT", NULL);
    assert_int_equal (unlink (filler), 0);
    code = faults_run (f, &output, "repair", "--data", f->data, "--yes", NULL);
    print_message ("repair with room (exit %d): %s", code, output);
    assert_int_equal (code, 0);
    free (output);
    assert_int_equal (f->acked, 300);
    assert_int_equal (faults_books (f, NULL), f->acked);
}

//  The bytes of the store's LevelDB log files.
static uint64_t s_log_bytes (fixture_t *f)
{
    DIR *dir = opendir (f->data);
    assert_non_null (dir);
    uint64_t bytes = 0;
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        size_t len = strlen (entry->d_name);
        char path[640];
        struct stat st;
        snprintf (path, sizeof path, "%s/%s", f->data, entry->d_name);
        if (len > 4 && streq (entry->d_name + len - 4, ".log") && stat (path, &st) == 0)
            bytes += (uint64_t) st.st_size;
    }
    closedir (dir);
    return bytes;
}

//  A compaction that a full disk cut short leaves the tables it replaced
//  on the disk; the next open needs room for its log's table before
//  LevelDB would remove them, and the node stayed down, asking for room
//  that its own directory held. Such a table (named by no version of the
//  store, below its next file number: 000001.ldb here, filling the disk)
//  is removed, said, and the node starts with every deposit.
static void test_dead_tables_make_room (void **state)
{
    fixture_t *f = *state;
    faults_mount_small_disk (f);
    f->no_projections = true;
    faults_start (f, "sync");
    faults_add (f, "account/a", "Open", "owner=faults", NULL);
    for (int i = 0; i < 3000; i++)
        faults_add_deposit (f);
    faults_pump (f, NULL);
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGKILL);
    uint64_t log_bytes = s_log_bytes (f);
    if (log_bytes < (256 << 10))
        fail_msg ("the log holds %llu bytes: too few for its table to need the room",
                  (unsigned long long) log_bytes);
    char dead[400];
    s_fill_named (f, "data/000001.ldb", dead, sizeof dead, 64 << 10);
    faults_start (f, "sync");
    FILE *file = fopen (f->log, "r");
    assert_non_null (file);
    static char log[1 << 16];
    size_t read = fread (log, 1, sizeof log - 1, file);
    log[read] = 0;
    fclose (file);
    if (!strstr (log, "the disk is full: removed 000001.ldb ("))
        fail_msg ("no removal said: %s", log);
    struct stat st;
    assert_int_equal (stat (dead, &st), -1);
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGTERM);
    assert_int_equal (f->acked, 3000);
    assert_int_equal (faults_books (f, NULL), f->acked);
}

//  A node whose disk filled before its first turn: `shoal bench` against
//  it stops once nothing
//  moved for 30 s while the node refused every request, saying the
//  refusal, and exits non-zero (it waited out its 15 min deadline at
//  "0/N", saying nothing: a review's find).
static void test_full_disk_bench_says (void **state)
{
    fixture_t *f = *state;
    faults_mount_small_disk (f);
    faults_start (f, "sync");
    char filler[400];
    s_fill (f, filler, sizeof filler, 0);
    //  Before any write fails, top says the disk short of what a restart
    //  needs (exit 1, unwell), from the node's stats.
    char *output = NULL;
    int top = faults_run (f, &output, "top", "--once", "--json", "--interval", "200", "--endpoint",
                          f->node.endpoint, NULL);
    if (top != 1 || !strstr (output, "\"code\":\"unwell\"") ||
        !strstr (output, "its disk has 0 MiB free, less than the ") ||
        !strstr (output, "its store's next start writes first: a restart would be refused"))
        fail_msg ("top --once --json, the disk full before any write: exit %d: %s", top, output);
    free (output);
    int bench = faults_run (f, &output, "bench", "--endpoint", f->node.endpoint, "--accounts", "10",
                            "--transfers", "50", "--concurrency", "4", NULL);
    if (bench == 0 ||
        !strstr (output, "nothing done for 30 s, the node refusing requests for now meanwhile, "
                         "the last: unavailable: ") ||
        !strstr (output, "No space left on device"))
        fail_msg ("bench against the node whose disk is full: exit %d: %s", bench, output);
    free (output);
    //  The node lived through it: its first turns came once the disk was
    //  full, and a worker's turn file, mapped and never written yet, died
    //  of SIGBUS at the first (its blocks are allocated at its start now).
    client_destroy (&f->client);
    int status = node_child_stop (&f->node, SIGTERM);
    if (status != 0)
        fail_msg ("the node did not stop cleanly (status %d): it died on the full disk", status);
}

//  A disk out of inodes (files), with bytes to spare: the node says so,
//  in top (as stats carry it) and in the refusal of its restart, which
//  asked for MiB of room that were free (a review's find). Once files
//  are removed, it starts, every deposit there.
static void test_no_inodes_said (void **state)
{
    fixture_t *f = *state;
    assert_int_equal (mkdir (f->disk, 0700), 0);
    if (mount ("tmpfs", f->disk, "tmpfs", 0, "size=64m,nr_inodes=200") != 0)
        fail_msg ("cannot mount a tmpfs at %s: %s; this test needs root, as in CI", f->disk,
                  strerror (errno));
    f->mounted = true;
    snprintf (f->data, sizeof f->data, "%s/data", f->disk);
    faults_start (f, "sync");
    faults_add (f, "account/a", "Open", "owner=faults", NULL);
    for (int i = 0; i < 20; i++)
        faults_add_deposit (f);
    faults_pump (f, NULL);
    //  Every inode left taken by empty files.
    int taken = 0;
    for (;; taken++) {
        char path[400];
        snprintf (path, sizeof path, "%s/inode-%d", f->disk, taken);
        int fd = open (path, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd < 0) {
            assert_int_equal (errno, ENOSPC);
            break;
        }
        close (fd);
    }
    char *output = NULL;
    int top = faults_run (f, &output, "top", "--once", "--json", "--interval", "200", "--endpoint",
                          f->node.endpoint, NULL);
    if (top != 1 || !strstr (output, "its disk has no inode (file) left"))
        fail_msg ("top --once --json, no inode left: exit %d: %s", top, output);
    free (output);
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGKILL);
    faults_refused (f, "its disk has no free inodes (files) left, though ", " MiB are free", NULL);
    for (int i = 0; i < taken; i++) {
        char path[400];
        snprintf (path, sizeof path, "%s/inode-%d", f->disk, i);
        assert_int_equal (unlink (path), 0);
    }
    faults_start (f, "sync");
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGTERM);
    assert_int_equal (faults_books (f, NULL), f->acked);
    assert_int_equal (f->acked, 20);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_full_disk_service_back, faults_setup,
                                         faults_teardown),
        cmocka_unit_test_setup_teardown (test_full_disk_then_restart, faults_setup,
                                         faults_teardown),
        cmocka_unit_test_setup_teardown (test_full_disk_during_repair, faults_setup,
                                         faults_teardown),
        cmocka_unit_test_setup_teardown (test_dead_tables_make_room, faults_setup, faults_teardown),
        cmocka_unit_test_setup_teardown (test_full_disk_bench_says, faults_setup, faults_teardown),
        cmocka_unit_test_setup_teardown (test_no_inodes_said, faults_setup, faults_teardown),
    };
    if (getenv ("SHOAL_TEST_FILTER"))
        cmocka_set_test_filter (getenv ("SHOAL_TEST_FILTER"));
    return cmocka_run_group_tests (tests, NULL, NULL);
}
