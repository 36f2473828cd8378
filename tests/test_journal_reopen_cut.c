/*  test_journal_reopen_cut.c - a journal reopened after a failed write,
    then a power cut: what its readers were shown (journal_log_end, which
    the projections read up to) is all there after the cut.

    A write fails (the journal's test hook: the reopen is the same whatever
    failed); the next commit reopens the store, whose open turns LevelDB's
    log, holding every commit since the last sync, into a synced table. The
    journal then showed its readers the recovered end at once, while the
    directory that names the table (LevelDB's CURRENT, renamed to its new
    MANIFEST) was not synced: a cut brought back the old CURRENT and the old
    log, cut at its last fsync, and the events the projections had applied
    were gone (a crash-consistency review's find).

    The child, this program run again with tests/powerloss.c preloaded,
    makes the store, commits COUNT events without a sync (a node's commits
    before the syncer's fsync), fails one, commits once more (the reopen),
    writes journal_log_end to a file and _exits: nothing syncs after it.
    The parent cuts the directory as a power cut would and opens it.
*/
#include "journal_test_util.h"
#include "powerloss_apply.h"
#include "proc.h"

#define COUNT 300
#define CHILD_MS 60000 //  the child's whole run, at most

//  COUNT lazy commits of {"n": i} to counter/a, seq i + 1; a failed one;
//  one more (the reopen). Returns 0, or the step that went wrong.
static int s_child_commits (journal_t *journal)
{
    journal_batch_t *batch = journal_batch_new (journal);
    if (!batch)
        return 1;
    journal_batch_set_lazy (batch, true);
    int rc = 0;
    for (int64_t i = 0; i <= COUNT && rc == 0; i++) {
        if (i == COUNT)
            journal_fail_commits_after (journal, 1);
        map_t map = journal_map (i);
        journal_event_t event = {"Counted", map.bytes, map.size};
        if (journal_batch_append (batch, "counter/a", JOURNAL_ANY, &event, 1, 1000, NULL) != 0)
            rc = 2;
        else if (journal_batch_commit (batch) != (i == COUNT ? SHOAL_EIO : 0))
            rc = 3;
    }
    journal_fail_commits_after (journal, 0);
    //  The reopen: the failed commit's event is staged again, as a worker
    //  would after its batch was aborted.
    map_t map = journal_map (COUNT);
    journal_event_t event = {"Counted", map.bytes, map.size};
    if (rc == 0 &&
        (journal_batch_append (batch, "counter/a", JOURNAL_ANY, &event, 1, 1000, NULL) != 0 ||
         journal_batch_commit (batch) != 0))
        rc = 4;
    journal_batch_destroy (&batch);
    return rc;
}

static int s_child (const char *dir, const char *out)
{
    int code = 0;
    char *error = NULL;
    journal_t *journal = journal_open (dir, NULL, &code, &error);
    if (!journal) {
        fprintf (stderr, "child: journal_open: %s\n", error ? error : "?");
        return 10;
    }
    int rc = s_child_commits (journal);
    if (rc) {
        fprintf (stderr, "child: commits: step %d\n", rc);
        return 10 + rc;
    }
    FILE *file = fopen (out, "w");
    if (!file || fprintf (file, "%llu\n", (unsigned long long) journal_log_end (journal)) < 0 ||
        fclose (file) != 0)
        return 20;
    _exit (0); //  no close: it would sync
}

static void test_reopen_then_cut_keeps_what_readers_saw (void **state)
{
    (void) state;
    char dir[64], data[128], log[128], out[128];
    harness_tempdir (dir, sizeof dir, "reopen-cut");
    snprintf (data, sizeof data, "%s/data", dir);
    snprintf (log, sizeof log, "%s/powerloss.log", dir);
    snprintf (out, sizeof out, "%s/log-end", dir);
    const char *library = getenv ("SHOAL_POWERLOSS");
    assert_non_null (library);

    pid_t child = fork ();
    assert_true (child >= 0);
    if (child == 0) {
        harness_env_t saved;
        harness_preload_begin (library, NULL, &saved);
        setenv ("SHOALPL_DIR", data, 1);
        setenv ("SHOALPL_LOG", log, 1);
        execl ("/proc/self/exe", "test_journal_reopen_cut", "child", data, out, (char *) NULL);
        _exit (127);
    }
    //  Bounded: the child's run takes well under a second.
    int code = proc_wait_exit (child, CHILD_MS);
    if (code != 0) {
        proc_kill (&child); //  past CHILD_MS: still running
        fail_msg ("the child failed, or ran past %d ms (exit %d)", CHILD_MS, code);
    }
    FILE *file = fopen (out, "r");
    assert_non_null (file);
    unsigned long long shown = 0;
    assert_int_equal (fscanf (file, "%llu", &shown), 1);
    fclose (file);
    //  The readers were shown the recovered commits (and not the one after
    //  the reopen, not synced).
    assert_int_equal (shown, COUNT);

    powerloss_stats_t stats;
    char report[8192];
    if (powerloss_apply (data, log, &stats, report, sizeof report) != 0)
        fail_msg ("powerloss_apply: %s", report);
    //  The cut had something to take: the commits were never fsynced.
    assert_true (stats.bytes_cut > 0);

    journal_t *journal = journal_test_open (data);
    if (journal_log_end (journal) < shown)
        fail_msg ("readers were shown %llu events, and a power cut left %llu (%s)", shown,
                  (unsigned long long) journal_log_end (journal), report);
    events_t *events = calloc (1, sizeof (events_t));
    assert_non_null (events);
    assert_int_equal (journal_read (journal, "counter/a", 1, 0, journal_collect, events), 0);
    assert_true (events->count >= COUNT);
    for (size_t i = 0; i < COUNT; i++)
        assert_int_equal (events->n[i], (int64_t) i);
    free (events);
    journal_destroy (&journal);
    harness_rm_rf (dir);
}

int main (int argc, char **argv)
{
    if (argc == 4 && strcmp (argv[1], "child") == 0)
        return s_child (argv[2], argv[3]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_reopen_then_cut_keeps_what_readers_saw),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
