/*  test_faults.c - storage faults injected from outside a real `shoal
    node`: a full disk (the data directory on an 8 MiB tmpfs, filled by a
    file of the test's and then by the node's own writes) while deposits
    and transfers are in flight, with service coming back without a
    restart and after a SIGKILL; and stores damaged while the node is
    stopped (bytes flipped in the log and in a table file, a missing
    CURRENT, a read-only directory), each refused with a message and a
    non-zero exit, then salvaged by `shoal repair` and counted by `shoal
    check`; `shoal repair` under a running node, or on a directory with no
    store, refused with nothing changed.

    A client keeps 32 commands in flight, each with its own id, asking
    again with the same id while the node answers `unavailable`, as a
    client should; it counts the deposits (of 1, to account/a) that were
    acknowledged. The books after must balance (bench/books.c: no money
    made or lost, every transfer ended, none debited, credited or refunded
    twice), and account/a's balance must equal that count: nothing
    acknowledged lost, nothing done twice.

    The tmpfs needs root (CI runs the tests as root); without it the test
    fails saying so, it is never skipped.
*/
#include "books.h"
#include "client.h"
#include "node_child.h"

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

#define WAIT_MS 30000 //  the longest any condition is waited for

#define WINDOW 32         //  commands in flight
#define FUNDED 8          //  account/b0..b7, funded, for the transfers
#define FUNDING 1000      //  deposited into each
#define SLACK (256 << 10) //  the room the filler leaves for the node's own writes

//  A client's command, with the id it keeps: asked again with it after an
//  `unavailable`, until acknowledged.
typedef struct {
    char to[48];
    char name[12];
    char fields[3][48];
    int field_count;
    uint8_t id[ENVELOPE_ID_SIZE];
    bool deposit;     //  a deposit of 1 to account/a
    bool waiting;     //  sent, not answered
    bool acked;       //  answered ok
    int64_t sent_at;  //  monotonic ms
    int64_t retry_at; //  after an `unavailable`: not before (monotonic ms)
} request_t;

typedef struct {
    char dir[256];      //  the test's own directory
    char disk[300];     //  a tmpfs mounted under dir (full-disk tests)
    char data[320];     //  the node's data directory
    char endpoint[320]; //  ipc:// in dir
    char log[320];      //  the node's stderr
    char out[320];      //  a command's stdout and stderr
    bool mounted;
    node_child_t node;
    client_t *client;
    request_t *requests;                         //  every command sent
    size_t count, cap;                           //  requests used, allocated
    size_t waiting;                              //  requests in flight
    size_t window;                               //  at most (0: WINDOW)
    int transfers;                               //  transfers started (transfer/tI)
    int mixed;                                   //  commands s_add_mix added
    uint64_t rand;                               //  the transfers' plans
    int64_t acked;                               //  deposits to account/a acknowledged
    int64_t refused;                             //  `unavailable` answers seen
    bool full;                                   //  the disk is full: an `unavailable` must say so
    int64_t unnamed;                             //  `unavailable` answers while full that did not
    char first_unnamed[ENVELOPE_REASON_MAX + 1]; //  the first of them
    bool no_projections;                         //  start the node with --projections off
} fixture_t;

static int s_setup (void **state)
{
    fixture_t *f = calloc (1, sizeof (fixture_t));
    assert_int_equal (bench_temp_dir ("shoal-test-faults", f->dir, sizeof f->dir), 0);
    snprintf (f->disk, sizeof f->disk, "%s/disk", f->dir);
    snprintf (f->data, sizeof f->data, "%s/data", f->dir);
    snprintf (f->endpoint, sizeof f->endpoint, "ipc://%s/node.ipc", f->dir);
    snprintf (f->log, sizeof f->log, "%s/node.log", f->dir);
    snprintf (f->out, sizeof f->out, "%s/cmd.out", f->dir);
    f->rand = 13;
    *state = f;
    return 0;
}

static int s_teardown (void **state)
{
    fixture_t *f = *state;
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGKILL);
    if (f->mounted)
        umount2 (f->disk, MNT_DETACH);
    assert_int_equal (bench_remove_tree (f->dir), 0);
    free (f->requests);
    free (f);
    return 0;
}

//  Mounts an 8 MiB tmpfs at f->disk and puts the data directory in it.
static void s_mount_small_disk (fixture_t *f)
{
    assert_int_equal (mkdir (f->disk, 0700), 0);
    if (mount ("tmpfs", f->disk, "tmpfs", 0, "size=8m") != 0)
        fail_msg ("cannot mount a tmpfs at %s: %s; this test needs root (uid %d here), as "
                  "in CI: it is not skipped",
                  f->disk, strerror (errno), (int) getuid ());
    f->mounted = true;
    snprintf (f->data, sizeof f->data, "%s/data", f->disk);
}

//  Starts the node (again) and connects a new client: what was in flight
//  is asked again.
static void s_start (fixture_t *f, const char *durability)
{
    char *extra[] = {"--workers",
                     "2",
                     "--durability",
                     (char *) durability,
                     "--projections",
                     f->no_projections ? "off" : "on",
                     NULL};
    int rc = node_child_start (&f->node, getenv ("SHOAL_BIN"), f->data, f->endpoint, extra, f->log,
                               WAIT_MS);
    if (rc)
        fail_msg ("shoal node did not start: %s (see %s)", shoal_strerror (rc), f->log);
    client_destroy (&f->client);
    f->client = client_new (f->node.endpoint);
    assert_non_null (f->client);
    for (size_t i = 0; i < f->count; i++)
        f->requests[i].waiting = false;
    f->waiting = 0;
}

//  --------------------------------------------------------------------------
//  The client: commands in flight, each asked again until acknowledged

//  Adds a command to address with up to 3 "k=v" fields (NULL-terminated).
static request_t *s_add (fixture_t *f, const char *to, const char *name, ...)
{
    if (f->count == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 256;
        f->requests = realloc (f->requests, f->cap * sizeof (request_t));
        assert_non_null (f->requests);
    }
    request_t *request = &f->requests[f->count];
    memset (request, 0, sizeof *request);
    snprintf (request->to, sizeof request->to, "%s", to);
    snprintf (request->name, sizeof request->name, "%s", name);
    va_list args;
    va_start (args, name);
    for (char *field = va_arg (args, char *); field && request->field_count < 3;
         field = va_arg (args, char *))
        snprintf (request->fields[request->field_count++], sizeof request->fields[0], "%s", field);
    va_end (args);
    char text[64];
    snprintf (text, sizeof text, "faults-%zu", f->count++);
    client_id_from_string (text, request->id);
    return request;
}

static void s_add_deposit (fixture_t *f)
{
    s_add (f, "account/a", "Deposit", "amount=1", NULL)->deposit = true;
}

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
    s_add (f, address, "Start", from, to, amount, NULL);
    f->transfers++;
}

static void s_send (fixture_t *f, request_t *request)
{
    char *fields[3] = {request->fields[0], request->fields[1], request->fields[2]};
    uint8_t *payload;
    size_t size;
    char error[128];
    assert_int_equal (
        client_fields (request->field_count, fields, &payload, &size, error, sizeof error), 0);
    envelope_t envelope;
    client_request (&envelope, ENVELOPE_COMMAND, request->id, request->to, request->name, payload,
                    size);
    assert_int_equal (client_send (f->client, &envelope), 0);
    free (payload);
    request->waiting = true;
    request->sent_at = zclock_mono ();
    f->waiting++;
}

//  Takes one answer in, waiting at most timeout_ms: ok acknowledges its
//  command; `unavailable` (or `busy`) has it asked again 20 ms later; any
//  other answer fails the test. Returns false if none came.
static bool s_take (fixture_t *f, int timeout_ms)
{
    client_reply_t reply;
    int rc = client_recv (f->client, timeout_ms, &reply);
    if (rc == SHOAL_ETIMEOUT)
        return false;
    assert_int_equal (rc, 0);
    request_t *request = NULL;
    for (size_t i = 0; i < f->count && !request; i++)
        if (memcmp (f->requests[i].id, reply.correlation, ENVELOPE_ID_SIZE) == 0)
            request = &f->requests[i];
    assert_non_null (request);
    if (request->waiting) {
        request->waiting = false;
        f->waiting--;
    }
    if (reply.ok) {
        f->acked += request->deposit && !request->acked;
        request->acked = true;
    } else if (client_reply_transient (&reply)) {
        f->refused++;
        if (f->full && streq (reply.code, "unavailable") &&
            !strstr (reply.reason, "No space left on device") && f->unnamed++ == 0)
            snprintf (f->first_unnamed, sizeof f->first_unnamed, "%s", reply.reason);
        request->retry_at = zclock_mono () + 20;
    } else
        fail_msg ("%s %s refused: %s %s", request->to, request->name, reply.code, reply.reason);
    client_reply_close (&reply);
    return true;
}

//  True once every command is acknowledged.
static bool s_all_acked (fixture_t *f)
{
    for (size_t i = 0; i < f->count; i++)
        if (!f->requests[i].acked)
            return false;
    return true;
}

//  Sends what is neither acknowledged nor in flight (WINDOW at most in
//  flight) and takes the answers in, until done (NULL: s_all_acked)
//  returns true; done may add commands. A command unanswered for WAIT_MS
//  fails the test: a node must answer, not fall silent.
static void s_pump (fixture_t *f, bool (*done) (fixture_t *))
{
    int64_t deadline = zclock_mono () + 4 * WAIT_MS;
    while (!(done ? done (f) : s_all_acked (f))) {
        int64_t now = zclock_mono ();
        for (size_t i = 0; i < f->count; i++) {
            request_t *request = &f->requests[i];
            if (request->waiting && now - request->sent_at > WAIT_MS)
                fail_msg ("%s %s: no answer in %d ms", request->to, request->name, WAIT_MS);
            if (!request->acked && !request->waiting && request->retry_at <= now &&
                f->waiting < (f->window ? f->window : WINDOW))
                s_send (f, request);
        }
        if (now > deadline) {
            size_t acked = 0;
            for (size_t i = 0; i < f->count; i++)
                acked += f->requests[i].acked;
            fail_msg ("%zu of %zu commands acknowledged after %d ms (%lld unavailable answers; "
                      "see %s)",
                      acked, f->count, 4 * WAIT_MS, (long long) f->refused, f->log);
        }
        s_take (f, 20);
    }
}

//  Adds deposits and transfers (three deposits to two transfers) as the
//  window empties.
static void s_add_mix (fixture_t *f, int count)
{
    for (int i = 0; i < count; i++)
        if (f->mixed++ % 5 < 3)
            s_add_deposit (f);
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
        s_add_mix (f, WINDOW - (int) f->waiting);
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
static void s_fill (fixture_t *f, char *path, size_t size, off_t leave)
{
    snprintf (path, size, "%s/filler", f->disk);
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

//  The stopped node's books, with every invariant of the bank holding:
//  the balance of account/a, and the transfers' endings in summary.
static int64_t s_books (fixture_t *f, books_summary_t *summary)
{
    books_t *books = books_new ();
    char *error = NULL;
    if (books_read_dir (books, f->data, &error) != 0)
        fail_msg ("cannot read the books in %s: %s", f->data, error ? error : "");
    books_summary_t local;
    summary = summary ? summary : &local;
    int verified = books_verify (books, summary);
    for (int i = 0; i < BOOKS_INVARIANT_COUNT; i++)
        if (summary->broken[i])
            print_error ("%s broken: %s\n", books_invariant_name ((books_invariant_t) i),
                         summary->first[i]);
    assert_int_equal (verified, 0);
    const books_account_t *account = books_account (books, "account/a");
    int64_t balance = account ? account->balance : 0;
    books_destroy (&books);
    return balance;
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
static void s_store_said_failing (fixture_t *f)
{
    client_t *client = client_new (f->node.endpoint);
    assert_non_null (client);
    int64_t ago = -2, deadline = zclock_mono () + WAIT_MS;
    char error[256] = "";
    //  The cause is left out of an answer given while a write is under
    //  way (stats never wait for one): asked again until it is in.
    do {
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
        if (!error[0])
            zclock_sleep (20);
    } while (!error[0] && zclock_mono () < deadline);
    client_destroy (&client);
    if (ago < 0 || ago >= 10000 || !strstr (error, "No space left on device"))
        fail_msg ("stats of a node whose disk is full: store_failed_ago_ms %lld, store_error '%s'",
                  (long long) ago, error);
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
    s_mount_small_disk (f);
    s_start (f, "sync");
    s_add (f, "account/a", "Open", "owner=faults", NULL);
    s_add (f, "account/bx", "Open", "owner=closed", NULL);
    for (int b = 0; b < FUNDED; b++) {
        char address[32];
        snprintf (address, sizeof address, "account/b%d", b);
        s_add (f, address, "Open", "owner=funded", NULL);
    }
    s_pump (f, NULL);
    s_add (f, "account/bx", "Close", NULL);
    for (int b = 0; b < FUNDED; b++) {
        char address[32], amount[32];
        snprintf (address, sizeof address, "account/b%d", b);
        snprintf (amount, sizeof amount, "amount=%d", FUNDING);
        s_add (f, address, "Deposit", amount, NULL);
    }
    s_add_mix (f, 80);
    s_pump (f, NULL);

    char filler[400];
    s_fill (f, filler, sizeof filler, SLACK);
    f->full = true;
    size_t before = f->count;
    s_pump (f, s_disk_refuses);
    int transfers_when_full = f->transfers;
    print_message ("the disk filled after %zu more commands (%d transfers so far)\n",
                   f->count - before, transfers_when_full);
    //  Still full: the node keeps answering, and refusing.
    s_refused_goal = f->refused + 50;
    s_pump (f, s_refused_more);
    //  Its stats say its store failed a write lately, and why (a node whose
    //  disk was full looked well in stats, top and cluster status).
    s_store_said_failing (f);
    //  Each refusal names the cause (it said "its inbox record cannot be
    //  read", as of a damaged store).
    f->full = false;
    if (f->unnamed)
        fail_msg ("%lld unavailable answers did not name the full disk; the first: %s",
                  (long long) f->unnamed, f->first_unnamed);

    //  Space again: what was refused goes through when asked again, and
    //  more besides, without a restart.
    assert_int_equal (unlink (filler), 0);
    s_add_mix (f, 80);
    s_pump (f, NULL);
    if (restart) {
        //  SIGKILLed with commands in flight: those not acknowledged yet
        //  are asked again of the restarted node.
        s_add_mix (f, 2 * WINDOW);
        s_pump (f, s_half_acked);
        node_child_stop (&f->node, SIGKILL);
        s_start (f, "sync");
        s_add_mix (f, 40);
        s_pump (f, NULL);
    }
    for (int i = 0; i < f->transfers; i++)
        s_wait_terminal (f, i);
    int64_t projected = s_projected_balance (f);
    size_t projected_transfers = s_projected_transfers (f);
    node_child_stop (&f->node, SIGTERM);
    print_message ("%lld deposits and %d transfers acknowledged, %lld unavailable answers\n",
                   (long long) f->acked, f->transfers, (long long) f->refused);
    books_summary_t summary;
    assert_int_equal (s_books (f, &summary), f->acked);
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

//  --------------------------------------------------------------------------
//  Damaged stores

//  Runs the shoal binary with args (NULL-terminated) to its end, at most
//  60 s, stdin from /dev/null. Returns its exit code (fails the test if it
//  did not exit by itself); *output (to free) holds its stdout and stderr.
static int s_run (fixture_t *f, char **output, ...)
{
    char *argv[16] = {getenv ("SHOAL_BIN")};
    int argc = 1;
    va_list args;
    va_start (args, output);
    for (char *arg = va_arg (args, char *); arg && argc < 15; arg = va_arg (args, char *))
        argv[argc++] = arg;
    va_end (args);
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        int in = open ("/dev/null", O_RDONLY);
        if (in < 0 || dup2 (in, STDIN_FILENO) < 0 || !freopen (f->out, "w", stdout) ||
            dup2 (STDOUT_FILENO, STDERR_FILENO) < 0)
            _exit (127);
        execv (argv[0], argv);
        _exit (127);
    }
    int status = 0;
    int64_t deadline = zclock_mono () + 60000;
    while (waitpid (pid, &status, WNOHANG) == 0) {
        if (zclock_mono () > deadline) {
            kill (pid, SIGKILL);
            waitpid (pid, &status, 0);
            fail_msg ("shoal %s did not end within 60 s (a node started on a damaged store?)",
                      argv[1]);
        }
        zclock_sleep (10);
    }
    zfile_t *file = zfile_new (NULL, f->out);
    assert_non_null (file);
    assert_int_equal (zfile_input (file), 0);
    zchunk_t *chunk = zfile_read (file, (size_t) zfile_cursize (file), 0);
    *output = zchunk_strdup (chunk);
    zchunk_destroy (&chunk);
    zfile_destroy (&file);
    assert_true (WIFEXITED (status));
    return WEXITSTATUS (status);
}

//  A node started on f->data must refuse it: a non-zero exit and a message
//  that holds each of the words (NULL-terminated).
static void s_refused (fixture_t *f, ...)
{
    char *output = NULL;
    int code = s_run (f, &output, "node", "--data", f->data, "--endpoint", f->endpoint, NULL);
    print_message ("refused (exit %d): %s", code, output);
    assert_int_not_equal (code, 0);
    va_list args;
    va_start (args, f);
    for (const char *word = va_arg (args, const char *); word; word = va_arg (args, const char *))
        if (!strstr (output, word)) {
            va_end (args);
            fail_msg ("the node's message lacks '%s': %s", word, output);
        }
    va_end (args);
    free (output);
}

//  `shoal repair --yes` and then `shoal check` on f->data: repair ends
//  well and check counts the records left (and sees the bank's books).
static void s_repair_and_check (fixture_t *f)
{
    char *output = NULL;
    //  Without --yes and with stdin not a terminal, repair refuses.
    assert_int_equal (s_run (f, &output, "repair", "--data", f->data, NULL), 2);
    assert_non_null (strstr (output, "refused"));
    free (output);
    int code = s_run (f, &output, "repair", "--data", f->data, "--yes", NULL);
    print_message ("repair (exit %d): %s", code, output);
    assert_true (code == 0 || code == 1);
    assert_non_null (strstr (output, "records of"));
    free (output);
    code = s_run (f, &output, "check", "--data", f->data, NULL);
    print_message ("check (exit %d): %s", code, output);
    assert_non_null (strstr (output, "records of"));
    assert_non_null (strstr (output, "accounts"));
    free (output);
}

//  Writes the open account and deposits, then stops the node with sig.
static void s_fill_store (fixture_t *f, int deposits, int sig)
{
    f->window = 1; //  one deposit a batch: the damage tests know the log's layout
    s_start (f, "sync");
    s_add (f, "account/a", "Open", "owner=faults", NULL);
    s_pump (f, NULL);
    for (int i = 0; i < deposits; i++)
        s_add_deposit (f);
    s_pump (f, NULL);
    client_destroy (&f->client);
    node_child_stop (&f->node, sig);
}

//  The path of the newest file in f->data whose name ends with tail.
static void s_newest (fixture_t *f, const char *tail, char *path, size_t size)
{
    zdir_t *dir = zdir_new (f->data, NULL);
    assert_non_null (dir);
    zlist_t *files = zdir_list (dir);
    path[0] = '\0';
    for (zfile_t *file = zlist_first (files); file; file = zlist_next (files)) {
        const char *name = zfile_filename (file, NULL);
        size_t len = strlen (name);
        if (len > strlen (tail) && strcmp (name + len - strlen (tail), tail) == 0 &&
            strcmp (name, path) > 0)
            snprintf (path, size, "%s", name);
    }
    zlist_destroy (&files);
    zdir_destroy (&dir);
    assert_true (path[0]);
}

//  Flips 16 bytes in the middle of path.
static void s_flip (const char *path)
{
    int fd = open (path, O_RDWR);
    assert_true (fd >= 0);
    off_t size = lseek (fd, 0, SEEK_END);
    assert_true (size > 64);
    uint8_t bytes[16];
    assert_int_equal (pread (fd, bytes, sizeof bytes, size / 2), (ssize_t) sizeof bytes);
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] ^= 0xff;
    assert_int_equal (pwrite (fd, bytes, sizeof bytes, size / 2), (ssize_t) sizeof bytes);
    close (fd);
}

static void test_damaged_log (void **state)
{
    fixture_t *f = *state;
    //  The log then holds the deposits' commits alone: the damage hits one
    //  of them, not a projection's batch (whose loss is rebuilt, not lost).
    f->no_projections = true;
    s_fill_store (f, 300, SIGKILL);
    char log[600];
    s_newest (f, ".log", log, sizeof log);
    s_flip (log);
    s_refused (f, "damaged", "Corruption", ".log: dropping", NULL);
    s_repair_and_check (f);
    //  Repair keeps the log up to the damage: what came after is lost,
    //  and the books show how much.
    int64_t balance = s_books (f, NULL);
    print_message ("after repair: balance %lld of %lld deposits acknowledged\n",
                   (long long) balance, (long long) f->acked);
    assert_true (balance < f->acked);
}

//  The position the node's SYNCED file holds: its last line (0: none yet).
static uint64_t s_synced_mark (fixture_t *f)
{
    char path[600], line[64];
    snprintf (path, sizeof path, "%s/SYNCED", f->data);
    FILE *file = fopen (path, "r");
    if (!file)
        return 0;
    uint64_t mark = 0;
    while (fgets (line, sizeof line, file))
        if (strchr (line, '\n'))
            mark = strtoull (line, NULL, 10);
    fclose (file);
    return mark;
}

//  Takes deposits on a store whose event log holds events, until the
//  node's SYNCED mark covers them all, then SIGKILLs it and cuts its
//  newest log to keep bytes (-1: half of it).
static void s_deposits_then_cut_log (fixture_t *f, int64_t events, int deposits, long keep)
{
    for (int i = 0; i < deposits; i++)
        s_add_deposit (f);
    s_pump (f, NULL);
    //  The mark follows within a second.
    uint64_t want = (uint64_t) (events + deposits);
    int64_t deadline = zclock_mono () + 30000;
    while (s_synced_mark (f) < want && zclock_mono () < deadline)
        zclock_sleep (20);
    assert_true (s_synced_mark (f) >= want);
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGKILL);
    //  The newest log of the store itself (not one a repair set aside in
    //  lost/, which s_newest would take).
    char log[600] = "", name[64] = "";
    DIR *dir = opendir (f->data);
    assert_non_null (dir);
    for (struct dirent *entry; (entry = readdir (dir));) {
        size_t len = strlen (entry->d_name);
        if (len > 4 && len < sizeof name && strcmp (entry->d_name + len - 4, ".log") == 0 &&
            strcmp (entry->d_name, name) > 0)
            snprintf (name, sizeof name, "%s", entry->d_name);
    }
    closedir (dir);
    assert_true (name[0]);
    snprintf (log, sizeof log, "%s/%s", f->data, name);
    struct stat st;
    assert_int_equal (stat (log, &st), 0);
    assert_int_equal (truncate (log, keep < 0 ? st.st_size / 2 : keep), 0);
}

//  A log file truncated while the node is stopped (a restore gone wrong,
//  a disk that dropped writes): LevelDB takes its missing end for a
//  crash's torn tail and drops it without a word, acknowledged deposits
//  with it; the node started on what was left, and shoal check found the
//  books balanced. The node's SYNCED mark (how far a sync made the event
//  log durable) makes the start refuse it, saying so; `shoal repair`
//  accepts the loss, which the books then show. First half of the last
//  log cut (the first deposits in a table since a restart), then all of
//  it (an empty store with a mark: refused, not taken for a new one).
static void test_truncated_log (void **state)
{
    fixture_t *f = *state;
    f->no_projections = true;
    s_fill_store (f, 30, SIGTERM);
    s_start (f, "sync"); //  its log made a table: the 31 events stay
    s_deposits_then_cut_log (f, 31, 60, -1);
    s_refused (f, "lost writes that were acknowledged", "SYNCED", "shoal repair", NULL);
    s_repair_and_check (f);
    int64_t balance = s_books (f, NULL);
    print_message ("after repair: balance %lld of %lld deposits acknowledged\n",
                   (long long) balance, (long long) f->acked);
    assert_true (balance >= 30 && balance < f->acked);

    //  After the repair, marks go on: a second loss is seen too.
    s_start (f, "sync");
    s_deposits_then_cut_log (f, balance + 1, 40, 0);
    s_refused (f, "lost writes that were acknowledged", NULL);

    //  A new store's one log lost whole: empty, with a mark. Refused, and
    //  not made a new store meanwhile (it was, before the refusal).
    char command[700];
    snprintf (command, sizeof command, "rm -rf '%s'", f->data);
    assert_int_equal (system (command), 0);
    s_start (f, "sync");
    s_add (f, "account/a", "Open", "owner=faults", NULL);
    s_pump (f, NULL);
    s_deposits_then_cut_log (f, 1, 40, 0);
    s_refused (f, "lost writes that were acknowledged", "ends at position 0", NULL);
    s_refused (f, "lost writes that were acknowledged", "ends at position 0", NULL);
}

static void test_damaged_table (void **state)
{
    fixture_t *f = *state;
    s_fill_store (f, 300, SIGTERM);
    //  Opened again, the store turns its log into a table file (.ldb).
    s_start (f, "sync");
    node_child_stop (&f->node, SIGTERM);
    char table[600];
    s_newest (f, ".ldb", table, sizeof table);
    s_flip (table);
    s_refused (f, "damaged", "checksum", "table", NULL);
    s_repair_and_check (f);
}

static void test_missing_current (void **state)
{
    fixture_t *f = *state;
    s_fill_store (f, 20, SIGTERM);
    char current[400];
    snprintf (current, sizeof current, "%s/CURRENT", f->data);
    assert_int_equal (unlink (current), 0);
    s_refused (f, "no CURRENT", "never makes a new store", NULL);
    //  Refused, it made nothing: CURRENT is still missing.
    assert_int_not_equal (access (current, F_OK), 0);
    s_repair_and_check (f);
    //  Repaired, every deposit is there.
    assert_int_equal (s_books (f, NULL), f->acked);
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
    s_mount_small_disk (f);
    f->no_projections = true; //  the log then holds the deposits alone
    s_fill_store (f, 300, SIGKILL);
    char current[400];
    snprintf (current, sizeof current, "%s/CURRENT", f->data);
    assert_int_equal (unlink (current), 0);
    char filler[400];
    s_fill (f, filler, sizeof filler, 16 << 10); //  less than the log's table
    char *output = NULL;
    int code = s_run (f, &output, "repair", "--data", f->data, "--yes", NULL);
    print_message ("repair on a full disk (exit %d): %s", code, output);
    assert_int_equal (code, 2);
    assert_non_null (strstr (output, "run the repair again"));
    free (output);
    s_refused (f, "no CURRENT", NULL);
    assert_int_equal (unlink (filler), 0);
    code = s_run (f, &output, "repair", "--data", f->data, "--yes", NULL);
    print_message ("repair with room (exit %d): %s", code, output);
    assert_int_equal (code, 0);
    free (output);
    assert_int_equal (f->acked, 300);
    assert_int_equal (s_books (f, NULL), f->acked);
}

static void test_read_only_directory (void **state)
{
    fixture_t *f = *state;
    s_mount_small_disk (f);
    s_fill_store (f, 5, SIGTERM);
    if (mount (NULL, f->disk, NULL, MS_REMOUNT | MS_RDONLY, NULL) != 0)
        fail_msg ("cannot remount %s read-only: %s", f->disk, strerror (errno));
    s_refused (f, "Read-only file system", NULL);
}

//  `shoal repair` under a running node is refused and changes nothing:
//  the node's log and MANIFEST stay where they are, so what it
//  acknowledges afterwards is there after a restart (a repair used to move
//  them to lost/, and the later deposits were gone). A directory that
//  holds no store is refused too, and nothing is made in it.
static void test_repair_refused (void **state)
{
    fixture_t *f = *state;
    f->window = 1;
    s_start (f, "sync");
    s_add (f, "account/a", "Open", "owner=faults", NULL);
    s_pump (f, NULL);
    for (int i = 0; i < 20; i++)
        s_add_deposit (f);
    s_pump (f, NULL);
    char *output = NULL;
    int code = s_run (f, &output, "repair", "--data", f->data, "--yes", NULL);
    print_message ("repair of a live node's data (exit %d): %s", code, output);
    assert_int_equal (code, 2);
    assert_non_null (strstr (output, "is in use by another process"));
    assert_non_null (strstr (output, "nothing was changed"));
    free (output);
    char lost[400];
    snprintf (lost, sizeof lost, "%s/lost", f->data);
    assert_int_not_equal (access (lost, F_OK), 0);
    for (int i = 0; i < 20; i++) //  acknowledged after the refused repair
        s_add_deposit (f);
    s_pump (f, NULL);
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGKILL);
    s_start (f, "sync"); //  its log replayed: every deposit there
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGTERM);
    assert_int_equal (f->acked, 40);
    assert_int_equal (s_books (f, NULL), f->acked);

    char empty[400];
    snprintf (empty, sizeof empty, "%s/empty", f->dir);
    assert_int_equal (mkdir (empty, 0700), 0);
    code = s_run (f, &output, "repair", "--data", empty, "--yes", NULL);
    print_message ("repair of an empty directory (exit %d): %s", code, output);
    assert_int_equal (code, 2);
    assert_non_null (strstr (output, "holds no LevelDB store"));
    free (output);
    zdir_t *made = zdir_new (empty, NULL);
    assert_non_null (made);
    assert_int_equal (zdir_count (made), 0);
    zdir_destroy (&made);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_full_disk_service_back, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_full_disk_then_restart, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_damaged_log, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_truncated_log, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_damaged_table, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_missing_current, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_full_disk_during_repair, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_read_only_directory, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_repair_refused, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
