/*  test_powerloss_sync.c - a node and its log's syncs: a failed sync stops the
    node, replies wait for the sync, answers held behind it bounded, async
    keeps an operator's decisions. The fixture: powerloss_test_util.h.
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

#define FAIL_SYNCS_AFTER 100 //  log syncs that succeed before the disk fails

#define SLOW_SYNC_MS 40 //  a slow disk's log fsync

#define SLOW_DEPOSITS 30 //  deposits, one at a time, on it

#define HOLD_SYNC_MS 3000 //  the log fsync while replies pile up behind it

#define HOLD_EVENTS 300 //  account/a's deposits: its events answer is ~18 KB

#define HOLD_QUERIES 20000 //  events queries sent at once: ~360 MB of answers

#define HOLD_EVERY 500 //  a deposit among them this often, unsynced ahead

#define HOLD_MAX (64u << 20) //  runtime/worker.h's WORKER_OUTBOUND_MAX

#define HOLD_BUNDLE (1u << 20) //  runtime/worker.h's WORKER_BUNDLE_MAX

#define HOLD_RSS_MAX (144u << 20) //  the node's peak RSS grows by less

//  After the node was killed: applies the cut, starts it again without the
//  preload, and returns account/a's balance, which the books (every
//  invariant holding) must agree with.
static int64_t s_cut_and_count (fixture_t *f)
{
    powerloss_stats_t stats;
    if (powerloss_apply (f->data, f->pl_log, &stats, f->report, sizeof f->report) != 0)
        fail_msg ("the cut failed: %s", f->report);
    assert_int_equal (stats.overwrites, 0);
    powerloss_start (f, "sync", false);
    int64_t balance = powerloss_balance (f);
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGTERM);
    assert_int_equal (powerloss_books_balance (f), balance);
    return balance;
}

//  Waits for the node to stop with exit code 3, saying that a fsync
//  failed; fails the test if it runs on past WAIT_MS or ends otherwise.
static void s_wait_stopped_on_sync (fixture_t *f)
{
    int status = 0;
    int64_t deadline = zclock_mono () + WAIT_MS;
    pid_t pid = 0;
    while ((pid = waitpid (f->node.pid, &status, WNOHANG)) == 0 && zclock_mono () < deadline)
        zclock_sleep (10); //  between two asks, within the deadline
    if (pid != f->node.pid)
        fail_msg ("the node is still running after its fsync failed (see %s)", f->log);
    f->node.pid = 0;
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 3)
        fail_msg ("the node ended with wait status %d, not exit code 3 (see %s)", status, f->log);
    char *text = powerloss_read_file (f->log);
    assert_non_null (text);
    if (!strstr (text, "cannot make its writes durable"))
        fail_msg ("the node's stderr does not say why it stopped (see %s)", f->log);
    free (text);
}

//  sync, a disk that stops writing the log: the first fsync that fails
//  stops the node (exit code 3, the cause on stderr) before anything it
//  could not make durable is acknowledged; after the cut and a restart
//  every acknowledged deposit is there and none is there twice.
static void test_failed_sync_stops_the_node (void **state)
{
    fixture_t *f = *state;
    powerloss_name_round (f, "failsync");
    f->fail_syncs = FAIL_SYNCS_AFTER;
    powerloss_start (f, "sync", true);
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
    s_wait_stopped_on_sync (f);

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
    powerloss_name_round (f, "slow");
    f->slow_ms = SLOW_SYNC_MS;
    powerloss_start (f, "sync", true);
    f->slow_ms = 0;
    f->acked = 0;
    powerloss_command (f, "Open", "owner=powerloss");
    int64_t quickest = INT64_MAX;
    for (int i = 0; i < SLOW_DEPOSITS; i++) {
        int64_t started = zclock_usecs ();
        if (powerloss_command (f, "Deposit", "amount=1"))
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
    powerloss_name_round (f, "held");
    f->slow_ms = HOLD_SYNC_MS;
    f->lean = true;
    powerloss_start (f, "sync", true);
    f->slow_ms = 0;
    f->lean = false;
    powerloss_command (f, "Open", "owner=powerloss");
    for (int i = 0; i < HOLD_EVENTS; i++)
        powerloss_send_command (f, "account/a", "Deposit", i, "amount=1", NULL, NULL);
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
            powerloss_send_command (f, "account/a", "Deposit", HOLD_EVENTS + deposits++, "amount=1",
                                    NULL, NULL);
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
        int index = powerloss_transfer_index (&reply);
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
            powerloss_send_command (f, "account/a", "Deposit", HOLD_EVENTS + i, "amount=1", NULL,
                                    NULL);
            if (client_recv (f->client, WAIT_MS, &reply) != 0)
                fail_msg ("deposit %d: no answer when sent again", i);
            deposited[i] = reply.ok && powerloss_transfer_index (&reply) == HOLD_EVENTS + i;
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
//  s_projections_call returns client_call's code instead, and waits
//  timeout_ms.
static int s_projections_call (fixture_t *f, const char *name, int argc, char **argv,
                               int timeout_ms, client_reply_t *reply)
{
    uint8_t *payload = NULL;
    size_t size = 0;
    char error[128];
    assert_int_equal (client_fields (argc, argv, &payload, &size, error, sizeof error), 0);
    envelope_t request;
    client_request (&request, ENVELOPE_QUERY, NULL, "node/projections", name, payload, size);
    int rc = client_call (f->client, &request, timeout_ms, reply);
    free (payload);
    return rc;
}

static void s_projections_query (fixture_t *f, const char *name, int argc, char **argv,
                                 client_reply_t *reply)
{
    int rc = s_projections_call (f, name, argc, argv, 10000, reply);
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
    powerloss_name_round (f, "async-pause");
    powerloss_start (f, "async", true);
    powerloss_command (f, "Open", "owner=powerloss");
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
        powerloss_command (f, "Deposit", "amount=1");
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
    powerloss_start (f, "async", false);
    s_totals_status (f, status, sizeof status);
    if (!streq (status, "paused"))
        fail_msg ("bank_totals@1 is %s after the cut: the pause an operator was told was done "
                  "is lost",
                  status);
}

//  In async durability an operator's decision is fsynced on its own. When
//  that fsync fails the decision is in the store already, read by the
//  node's readers, and cannot be taken back: the node stops (exit 3),
//  unanswered, as in sync durability. It answered "storage error" and
//  went on, its memory saying live while its store said paused (a restart
//  brought the pause back).
static void test_async_failed_decision_sync_stops_the_node (void **state)
{
    fixture_t *f = *state;
    powerloss_name_round (f, "async-failsync");
    powerloss_start (f, "async", false); //  the store made, its start's syncs done
    assert_int_equal (node_child_stop (&f->node, SIGTERM), 0);
    f->fail_syncs = 0; //  every log sync fails
    powerloss_start (f, "async", true);
    f->fail_syncs = -1;
    powerloss_command (f, "Open", "owner=powerloss"); //  async: answered unsynced
    char *fields[] = {"action=pause", "name=bank_totals", "version=1"};
    client_reply_t reply;
    if (s_projections_call (f, "projection_control", 3, fields, 3000, &reply) == 0) {
        if (reply.ok)
            fail_msg ("the pause was answered done though its fsync failed (see %s)", f->pl_log);
        print_message ("the pause was answered %s %s\n", reply.code, reply.reason);
        client_reply_close (&reply);
    }
    s_wait_stopped_on_sync (f);
    client_destroy (&f->client);

    powerloss_start (f, "async", false); //  the store reopens, whatever it kept
    char status[32];
    s_totals_status (f, status, sizeof status);
    if (!streq (status, "live") && !streq (status, "paused"))
        fail_msg ("bank_totals@1 is '%s' after the restart", status);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_failed_sync_stops_the_node, powerloss_setup,
                                         powerloss_teardown),
        cmocka_unit_test_setup_teardown (test_replies_wait_for_the_sync, powerloss_setup,
                                         powerloss_teardown),
        cmocka_unit_test_setup_teardown (test_held_answers_bounded, powerloss_setup,
                                         powerloss_teardown),
        cmocka_unit_test_setup_teardown (test_async_keeps_operator_decisions, powerloss_setup,
                                         powerloss_teardown),
        cmocka_unit_test_setup_teardown (test_async_failed_decision_sync_stops_the_node,
                                         powerloss_setup, powerloss_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
