/*  test_cluster_nodes_restored.c - a node of a cluster restored from an
    older backup, on real nodes: its peer saw its store further
    (PEERS-SEEN, kept across the peer's own restart) and refuses it, and
    it takes no command, until it is started with --restored; and one
    started alone, that took commands until its log passed what its peer
    saw, is found out by its event there; and a node's start holds its
    clients' commands until a peer has checked its store. The fixture:
    cluster_nodes_test_util.h.
*/
#include "client.h"
#include "cluster.h"
#include "proc.h"

#include <czmq.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cluster_nodes_test_util.h"

#define PEERS_HOLD_DEFAULT_MS 5000 //  a node's start hold without --start-hold

//  --------------------------------------------------------------------------
//  10. A node restored from an older backup: its peer saw its store
//      further (PEERS-SEEN, kept across the peer's own restart), refuses
//      it, and it takes no command, until it is started with --restored,
//      which takes it as it is. Before, it served its shards from the
//      backup, and the deposits made since were gone without a word.

//  The last mark of dir's SYNCED file (sync.c: where the event log ends,
//  durably; a clean stop writes one last).
static uint64_t s_synced_mark (const char *dir)
{
    char path[256], line[64];
    snprintf (path, sizeof path, "%s/SYNCED", dir);
    FILE *file = fopen (path, "r");
    assert_non_null (file);
    uint64_t mark = 0;
    while (fgets (line, sizeof line, file))
        mark = strtoull (line, NULL, 10);
    fclose (file);
    return mark;
}

//  How far dir's PEERS-SEEN says its node saw name's store, 0 if not.
static uint64_t s_seen (const char *dir, const char *name)
{
    char path[256], line[256], who[128];
    snprintf (path, sizeof path, "%s/PEERS-SEEN", dir);
    FILE *file = fopen (path, "r");
    uint64_t seen = 0, position;
    while (file && fgets (line, sizeof line, file))
        if (sscanf (line, "%127s %" SCNu64, who, &position) == 2 && streq (who, name))
            seen = position;
    if (file)
        fclose (file);
    return seen;
}

static void s_shell (const char *command)
{
    if (system (command) != 0)
        fail_msg ("failed: %s", command);
}

//  A deposit to y through client must be refused unavailable, saying why.
static void s_deposit_refused (client_t *client, const char *y, const char *why)
{
    client_reply_t reply;
    assert_int_equal (cluster_client_call (client, ENVELOPE_COMMAND, y, "Deposit", 5000, &reply,
                                           "amount=1", NULL),
                      0);
    if (reply.ok || !streq (reply.code, "unavailable") || !strstr (reply.reason, why))
        fail_msg ("a deposit to %s: %s %s %s (expected unavailable: %s)", y,
                  reply.ok ? "ok" : "refused", reply.code, reply.reason, why);
    client_reply_close (&reply);
}

//  The paths of a test of two nodes, y an account of n2's.
typedef struct {
    char y[64], n1dir[192], n2dir[192], backup[192], n1log[192], n2log[192];
    uint64_t backed_up; //  where n2's log ended in the backup
} restore_t;

//  Two nodes up, y funded; n2's backup taken while it is stopped; five
//  deposits of 10 on y after it, which n1 keeps it saw; then n2 (and n1
//  unless n1_stays) stopped and n2's backup put back.
static void s_backup_then_restore (fixture_t *f, restore_t *r, bool n1_stays)
{
    cluster_nodes_init (f, 2);
    cluster_nodes_start_node (f, 0);
    cluster_nodes_start_node (f, 1);
    cluster_nodes_wait_all_up (f);
    char command[640];
    int next = 0;
    cluster_client_address_on (f->cluster, "account/y", 1, &next, r->y, sizeof r->y);
    cluster_nodes_fund (f->client[0], r->y);
    snprintf (r->n1dir, sizeof r->n1dir, "%s/c/n1/data", f->dir);
    snprintf (r->n2dir, sizeof r->n2dir, "%s/c/n2/data", f->dir);
    snprintf (r->backup, sizeof r->backup, "%s/n2-backup", f->dir);
    snprintf (r->n1log, sizeof r->n1log, "%s/n1.log", f->dir);
    snprintf (r->n2log, sizeof r->n2log, "%s/n2.log", f->dir);

    proc_kill_with (&f->node[1], SIGTERM);
    snprintf (command, sizeof command, "cp -a '%s' '%s'", r->n2dir, r->backup);
    s_shell (command);
    r->backed_up = s_synced_mark (r->backup);
    assert_true (r->backed_up > 0);
    cluster_nodes_start_node (f, 1);
    cluster_nodes_wait_all_up (f);
    for (int i = 0; i < 5; i++)
        cluster_nodes_accept (f->client[0], r->y, "Deposit", "amount=10", NULL);
    assert_int_equal (cluster_client_balance (f->client[0], r->y), FUNDING + 50);
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (s_seen (r->n1dir, "n2") <= r->backed_up) {
        if (zclock_mono () > deadline)
            fail_msg ("n1 never kept n2's store past %" PRIu64, r->backed_up);
        zclock_sleep (50); //  a bounded poll: kept within a second or two
    }
    proc_kill_with (&f->node[1], SIGTERM);
    if (!n1_stays)
        proc_kill_with (&f->node[0], SIGTERM);
    snprintf (command, sizeof command, "rm -rf '%s' && cp -a '%s' '%s'", r->n2dir, r->backup,
              r->n2dir);
    s_shell (command);
}

//  A get of y through client must be refused unavailable, saying why.
static void s_get_refused (client_t *client, const char *y, const char *why)
{
    client_reply_t reply;
    assert_int_equal (cluster_client_call (client, ENVELOPE_QUERY, y, "get", 5000, &reply, NULL),
                      0);
    if (reply.ok || !streq (reply.code, "unavailable") || !strstr (reply.reason, why))
        fail_msg ("a get of %s: %s %s %s (expected unavailable: %s)", y,
                  reply.ok ? "ok" : "refused", reply.code, reply.reason, why);
    client_reply_close (&reply);
}

//  n2 stopped and started once with --restored, its log into log (size
//  bytes), which says it took its store as it is.
static void s_restart_restored (fixture_t *f, char *log, size_t size)
{
    proc_kill_with (&f->node[1], SIGTERM);
    snprintf (log, size, "%s/n2-restored.log", f->dir);
    char *argv[] = {getenv ("SHOAL_BIN"), "node", "--cluster",  f->cfg, "--name", "n2",
                    "--workers",          "2",    "--restored", NULL};
    f->node[1] = proc_spawn_ready (argv, log, DEADLINE_MS);
    assert_true (f->node[1] > 0);
    assert_true (cluster_nodes_file_has (log, "this node's store is taken as it is (--restored)"));
}

static void test_restored_backup_refused (void **state)
{
    fixture_t *f = *state;
    restore_t r;
    s_backup_then_restore (f, &r, false);
    char *y = r.y, *n1dir = r.n1dir, *n2log = r.n2log, *n1log = r.n1log;
    uint64_t backed_up = r.backed_up;
    int64_t deadline;

    //  Both started: n1 refuses n2.
    cluster_nodes_start_node (f, 0);
    cluster_nodes_start_node (f, 1);
    char said[256];
    snprintf (said, sizeof said,
              "refused peer n2: it has a store behind what n1 saw of it: its event log ends at "
              "%" PRIu64 ", n1 saw ",
              backed_up);
    cluster_nodes_wait_file_has (n1log, said);
    cluster_nodes_wait_file_has (n2log,
                                 "peer n1 refused us: we have a store behind what n1 saw of it");
    cluster_nodes_wait_file_has (n2log, "start it with --restored");
    //  n2 takes no command, from its own clients nor through n1, which
    //  says why (it said n2 was down or cut off); nor does it answer a get,
    //  which would show y without the deposits it lost (it answered).
    s_deposit_refused (f->client[1], y, "n1 saw this node's store further than it is now");
    s_deposit_refused (f->client[0], y,
                       "is refused by this node: its store is behind what was seen of it");
    s_get_refused (f->client[1], y, "n1 saw this node's store further than it is now");
    //  Counted as such, not as a node down (shoal_unavailable_total
    //  counted them before).
    stats_t stats;
    cluster_nodes_stats (f, f->client[1], &stats);
    assert_int_equal (stats.refused_unsafe, 2);
    assert_int_equal (stats.unavailable, 0);
    //  cluster status says why (exit 1: all up, something wrong).
    char out[192], *output = NULL;
    snprintf (out, sizeof out, "%s/status.out", f->dir);
    char *status[] = {getenv ("SHOAL_BIN"), "cluster", "status", "--cluster", f->cfg, NULL};
    int code = proc_run_argv (status, NULL, out, &output);
    if (code != 1 || !strstr (output, "its store is behind what n1 saw of it") ||
        !strstr (output, "until started once with --restored"))
        fail_msg ("cluster status with n2 refused: exit %d: %s", code, output);
    free (output);

    //  The refusal is kept in n2's store (its mark): with n1 stopped and
    //  n2 started again, n2 still takes no command. (It took them again
    //  5 s after the last refusal, and could grow past what n1 saw, to be
    //  taken by n1 later: a review's find.)
    proc_kill_with (&f->node[0], SIGTERM);
    proc_kill_with (&f->node[1], SIGTERM);
    cluster_nodes_start_node (f, 1);
    assert_true (cluster_nodes_file_has (
        n2log, "this node's store is behind what n1 saw of it (STORE-BEHIND"));
    s_deposit_refused (f->client[1], y, "n1 saw this node's store further than it is now");

    //  Started once with --restored while n1 is down, n2 is taken as it
    //  is when they next meet, without it: the deposits the backup lacks
    //  are lost, as its operator said.
    char log[192];
    s_restart_restored (f, log, sizeof log);
    proc_kill_with (&f->node[1], SIGTERM);
    cluster_nodes_start_node (f, 0);
    cluster_nodes_start_node (f, 1);
    cluster_nodes_wait_all_up (f);
    cluster_nodes_wait_file_has (n1log, "peer n2 came back with a store behind what we saw of it");
    cluster_nodes_wait_file_has (n1log, "its operator took it so (--restored or --new-store)");
    assert_int_equal (cluster_client_balance (f->client[0], y), FUNDING);
    cluster_nodes_accept (f->client[0], y, "Deposit", "amount=7", NULL);
    cluster_nodes_accept (f->client[1], y, "Deposit", "amount=3", NULL);
    assert_int_equal (cluster_client_balance (f->client[1], y), FUNDING + 10);
    //  A floor holds for a run in async durability too: its ends are not
    //  kept (a crash may take its tail), but the floor comes of sync runs,
    //  whose events no crash takes. A second backup put back and started
    //  async is refused (it was taken, and the floor wiped: a review's
    //  find; a first version kept the async end, and a node that lost it
    //  in a crash, back in sync, was refused).
    proc_kill_with (&f->node[1], SIGTERM);
    char second[192], command[640];
    snprintf (second, sizeof second, "%s/n2-second", f->dir);
    snprintf (command, sizeof command, "cp -a '%s' '%s'", r.n2dir, second);
    s_shell (command);
    uint64_t second_end = s_synced_mark (second);
    cluster_nodes_start_node (f, 1);
    cluster_nodes_wait_all_up (f);
    cluster_nodes_accept (f->client[0], y, "Deposit", "amount=2", NULL);
    cluster_nodes_accept (f->client[0], y, "Deposit", "amount=2", NULL);
    deadline = zclock_mono () + DEADLINE_MS;
    while (s_seen (n1dir, "n2") <= second_end) {
        if (zclock_mono () > deadline)
            fail_msg ("n1 never kept n2's store past %" PRIu64, second_end);
        zclock_sleep (50); //  a bounded poll: kept within a second or two
    }
    uint64_t seen = s_seen (n1dir, "n2");
    proc_kill_with (&f->node[1], SIGTERM);
    snprintf (command, sizeof command, "rm -rf '%s' && cp -a '%s' '%s'", r.n2dir, second, r.n2dir);
    s_shell (command);
    char *async[] = {getenv ("SHOAL_BIN"), "node", "--cluster",    f->cfg,  "--name", "n2",
                     "--workers",          "2",    "--durability", "async", NULL};
    snprintf (log, sizeof log, "%s/n2-async.log", f->dir);
    f->node[1] = proc_spawn_ready (async, log, DEADLINE_MS);
    assert_true (f->node[1] > 0);
    snprintf (said, sizeof said,
              "refused peer n2: it has a store behind what n1 saw of it: its event log ends at "
              "%" PRIu64 ", n1 saw %" PRIu64,
              second_end, seen);
    cluster_nodes_wait_file_has (n1log, said);
    s_deposit_refused (f->client[1], y, "n1 saw this node's store further than it is now");
    assert_true (s_seen (n1dir, "n2") == seen);
}

//  --------------------------------------------------------------------------
//  11. The backup put back and started alone, while n1 is down: it takes
//      deposits until its log ends past what n1 saw of it, so its end
//      alone proves nothing. n1 asks for its event before what it saw,
//      and that event is another: n2 marks itself, n1 refuses it, and it
//      takes no command. Before, n1 took it, and the 50 deposited after
//      the backup were gone without a word.

static void test_restored_alone_then_written_refused (void **state)
{
    fixture_t *f = *state;
    restore_t r;
    s_backup_then_restore (f, &r, false);
    uint64_t seen = s_seen (r.n1dir, "n2");
    cluster_nodes_start_node (f, 1); //  alone
    //  Held for a few seconds (no peer checked it), then taken all the
    //  same, n1 being down: one event a deposit, past what n1 saw by two.
    s_deposit_refused (f->client[1], r.y, "no peer has yet found its store as it saw it");
    for (uint64_t i = r.backed_up; i < seen + 2; i++)
        cluster_nodes_accept (f->client[1], r.y, "Deposit", "amount=1", NULL);
    cluster_nodes_start_node (f, 0);
    char said[256];
    snprintf (said, sizeof said,
              "our event at position %" PRIu64 " is not the one peer n1 saw there", seen - 1);
    cluster_nodes_wait_file_has (r.n2log, said);
    cluster_nodes_wait_file_has (r.n1log, "refused peer n2: it has a store behind what a peer saw "
                                          "of it, as it knows itself");
    s_deposit_refused (f->client[1], r.y, "n1 saw this node's store further than it is now");
    assert_true (cluster_nodes_file_has (r.n2log, "takes no command until it is started once "
                                                  "with --restored"));

    //  Taken as it is with --restored: its newer generation is not asked
    //  about the old one, and it takes commands again.
    char log[192];
    s_restart_restored (f, log, sizeof log);
    cluster_nodes_wait_all_up (f);
    cluster_nodes_accept (f->client[0], r.y, "Deposit", "amount=5", NULL);
    assert_int_equal (cluster_client_balance (f->client[1], r.y),
                      FUNDING + (int64_t) (seen + 2 - r.backed_up) + 5);
    assert_false (cluster_nodes_file_has (log, "is not the one peer"));
}

//  --------------------------------------------------------------------------
//  12. The same while n1 stays up, and n2 cannot reach n1 (n1's peer socket
//      moved away): n1 hears n2 only through its own link, refuses it
//      (ends at 4, saw 9) without n2 knowing, and asks it, all along, for
//      its event before what it saw of its last run. Once n2's log has
//      passed that, n2 finds the event is another and marks itself.
//      Before (a review's find), n1 asked what it had kept before n2's
//      last run, which the backup held: n2 took it for checked, n1 took
//      n2's new ends once its link came back, and the deposits were lost.

static void test_restored_cut_off_then_written_refused (void **state)
{
    fixture_t *f = *state;
    restore_t r;
    s_backup_then_restore (f, &r, true);
    uint64_t seen = s_seen (r.n1dir, "n2");
    const char *peer = cluster_node_peer (f->cluster, 0);
    assert_true (strncmp (peer, "ipc://", 6) == 0);
    char hidden[256], command[640];
    snprintf (hidden, sizeof hidden, "%s.hidden", peer + 6);
    assert_int_equal (rename (peer + 6, hidden), 0);
    cluster_nodes_start_node (f, 1);
    //  n1 refuses it first, as it ends before what n1 saw (n2 is not told).
    char said[256];
    snprintf (said, sizeof said,
              "refused peer n2: it has a store behind what n1 saw of it: its event log ends at "
              "%" PRIu64 ", n1 saw %" PRIu64,
              r.backed_up, seen);
    cluster_nodes_wait_file_has (r.n1log, said);
    for (uint64_t i = r.backed_up; i < seen + 2; i++)
        cluster_nodes_accept (f->client[1], r.y, "Deposit", "amount=1", NULL);
    snprintf (said, sizeof said,
              "our event at position %" PRIu64 " is not the one peer n1 saw there", seen - 1);
    cluster_nodes_wait_file_has (r.n2log, said);
    snprintf (command, sizeof command, "mv '%s' '%s'", hidden, peer + 6);
    s_shell (command);
    s_deposit_refused (f->client[1], r.y, "n1 saw this node's store further than it is now");
    cluster_nodes_wait_file_has (r.n1log, "refused peer n2: it has a store behind what a peer saw "
                                          "of it, as it knows itself");
    //  n1 kept nothing of n2's new run.
    assert_true (s_seen (r.n1dir, "n2") == seen);
}

//  --------------------------------------------------------------------------
//  13. The backup put back and started while n1 is up but frozen
//      (SIGSTOP): n2 has met no peer, and holds its clients' commands (a
//      few seconds at most) rather than run them on what it lost; n1 goes
//      on, meets n2 and refuses it, and the deposit held never ran. Before,
//      n2 took commands from its start, until a peer asked it. Then, n1
//      stopped for good: n2, restarted with --restored, holds its commands
//      for the few seconds and takes them, saying it could not check.

static void test_restored_held_until_checked (void **state)
{
    fixture_t *f = *state;
    restore_t r;
    s_backup_then_restore (f, &r, true);
    assert_int_equal (kill (f->node[0], SIGSTOP), 0);
    //  A hold of a minute (--start-hold): the Deposit below is held
    //  however slow the machine (within the default 5 s, it was a race).
    char *argv[] = {getenv ("SHOAL_BIN"), "node", "--cluster",    f->cfg,  "--name", "n2",
                    "--workers",          "2",    "--start-hold", "60000", NULL};
    f->node[1] = proc_spawn_ready (argv, r.n2log, DEADLINE_MS);
    assert_true (f->node[1] > 0);
    client_reply_t reply;
    assert_int_equal (cluster_client_call (f->client[1], ENVELOPE_COMMAND, r.y, "Deposit", 5000,
                                           &reply, "amount=1", NULL),
                      0);
    bool held = !reply.ok && streq (reply.code, "unavailable") &&
                strstr (reply.reason, "no peer has yet found its store as it saw it");
    char said[ENVELOPE_REASON_MAX + 128];
    snprintf (said, sizeof said, "%s %s %s", reply.ok ? "ok" : "refused", reply.code, reply.reason);
    client_reply_close (&reply);
    assert_int_equal (kill (f->node[0], SIGCONT), 0);
    if (!held)
        fail_msg ("a deposit to the backup put back, n1 frozen: %s (expected held)", said);
    cluster_nodes_wait_file_has (r.n2log,
                                 "peer n1 refused us: we have a store behind what n1 saw of it");
    s_deposit_refused (f->client[1], r.y, "n1 saw this node's store further than it is now");
    proc_kill_with (&f->node[0], SIGTERM);
    char log[192];
    s_restart_restored (f, log, sizeof log);
    s_deposit_refused (f->client[1], r.y, "no peer has yet found its store as it saw it");
    cluster_nodes_wait_file_has (log, "no peer checked our store within 5000 ms of our start");
    assert_int_equal (cluster_client_balance (f->client[1], r.y), FUNDING); //  nothing held ran
    cluster_nodes_accept (f->client[1], r.y, "Deposit", "amount=3", NULL);
    assert_int_equal (cluster_client_balance (f->client[1], r.y), FUNDING + 3);
}

//  With --start-hold forever, the backup put back and started while its
//  peer is down serves nothing for as long as no peer has checked it:
//  past the default's 5 s, its deposits are still held, and it never
//  says it takes commands. Its peer back, the peer refuses it; started
//  with --restored, the held deposits never ran. (Before, there was no
//  such choice: past 5 s the node served what it had lost.)
static void test_restored_held_forever (void **state)
{
    fixture_t *f = *state;
    restore_t r;
    s_backup_then_restore (f, &r, false);
    char log[192];
    snprintf (log, sizeof log, "%s/n2-forever.log", f->dir);
    char *argv[] = {getenv ("SHOAL_BIN"), "node", "--cluster",    f->cfg,    "--name", "n2",
                    "--workers",          "2",    "--start-hold", "forever", NULL};
    f->node[1] = proc_spawn_ready (argv, log, DEADLINE_MS);
    assert_true (f->node[1] > 0);
    //  Held at each ask until well past the default hold: a bounded
    //  poll that fails at the first deposit taken.
    int64_t until = zclock_mono () + PEERS_HOLD_DEFAULT_MS + 2000;
    int asked = 0;
    while (zclock_mono () < until) {
        s_deposit_refused (f->client[1], r.y, "it waits for one (shoal node --start-hold forever)");
        asked++;
        zclock_sleep (250); //  between two asks, until the deadline
    }
    assert_true (asked > 1);
    if (cluster_nodes_file_has (log, "no peer checked our store within"))
        fail_msg ("n2 stopped holding with --start-hold forever: %s", log);
    //  cluster status says why it takes nothing (it said only that it
    //  cannot reach n1: an operator's review).
    char out[4096];
    proc_sh (out, sizeof out, "\"%s\" cluster status --cluster '%s' --timeout 1000 2>&1",
             getenv ("SHOAL_BIN"), f->cfg);
    if (!strstr (out, "takes no client command yet: no peer has checked its store since its "
                      "start (--start-hold)"))
        fail_msg ("cluster status, n2 held: %s", out);
    cluster_nodes_start_node (f, 0);
    cluster_nodes_wait_file_has (log,
                                 "peer n1 refused us: we have a store behind what n1 saw of it");
    s_deposit_refused (f->client[1], r.y, "n1 saw this node's store further than it is now");
    s_restart_restored (f, log, sizeof log);
    cluster_nodes_wait_file_has (log, "finds our store as it saw it: taking commands");
    assert_int_equal (cluster_client_balance (f->client[1], r.y), FUNDING); //  nothing held ran
}

int main (void)
{
    signal (SIGPIPE, SIG_IGN);
    zsys_init ();
    zsys_set_logstream (stderr);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_restored_backup_refused, cluster_nodes_setup,
                                         cluster_nodes_teardown),
        cmocka_unit_test_setup_teardown (test_restored_alone_then_written_refused,
                                         cluster_nodes_setup, cluster_nodes_teardown),
        cmocka_unit_test_setup_teardown (test_restored_cut_off_then_written_refused,
                                         cluster_nodes_setup, cluster_nodes_teardown),
        cmocka_unit_test_setup_teardown (test_restored_held_until_checked, cluster_nodes_setup,
                                         cluster_nodes_teardown),
        cmocka_unit_test_setup_teardown (test_restored_held_forever, cluster_nodes_setup,
                                         cluster_nodes_teardown),
    };
    if (getenv ("SHOAL_TEST_FILTER"))
        cmocka_set_test_filter (getenv ("SHOAL_TEST_FILTER"));
    return cmocka_run_group_tests (tests, NULL, NULL);
}
