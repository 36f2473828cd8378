/*  test_cluster_bank.c - the bank across a cluster of real `shoal node`
    processes on this machine (ipc:// endpoints in the test's own temporary
    directory): the invariants while random nodes are killed and one is
    frozen, and `shoal cluster up`, which runs such a cluster for a
    developer and stops it on SIGTERM.
*/
#include "bank.h"
#include "client_window.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

//  The invariants of DESIGN.md, from every node's journal, after 10,000
//  concurrent transfers over 1,000 accounts spread over 3 nodes, while
//  random nodes are killed with SIGKILL 3 times (and restarted) and one is
//  frozen with SIGSTOP for 2 s.
static void test_cluster_invariants_under_kills (void **state)
{
    (void) state;
    uint64_t seed = getenv ("SHOAL_TEST_SEED") ? strtoull (getenv ("SHOAL_TEST_SEED"), NULL, 10)
                                               : (uint64_t) time (NULL);
    print_message ("test_cluster_invariants_under_kills: seed %llu (replay with "
                   "SHOAL_TEST_SEED)\n",
                   (unsigned long long) seed);
    bank_options_t o = {
        .shoal = getenv ("SHOAL_BIN"),
        .accounts = 1000,
        .funding = 1000,
        .closed = 10,
        .transfers = 10000,
        .max_amount = 700,
        .window = 512,
        .kills = 3,
        .seed = seed,
        .workers = 1,
        .nodes = 3,
        .freeze_ms = 2000,
    };
    bank_result_t r;
    int64_t started = zclock_mono ();
    int rc = bank_run (&o, &r);
    print_message ("%.1f s: completed %zu failed %zu compensated %zu kills %d freezes %d "
                   "resends %zu: %s\n",
                   (double) (zclock_mono () - started) / 1000.0, r.completed, r.failed,
                   r.compensated, r.kills, r.freezes, r.resends,
                   r.problem[0] ? r.problem : "books balance");
    assert_int_equal (rc, 0);
    assert_true (r.balanced);
    assert_int_equal (r.nodes, 3);
    assert_true (r.kills >= 3);
    assert_int_equal (r.freezes, 1);
    assert_int_equal (r.unfinished, 0);
    assert_int_equal (r.completed + r.failed + r.compensated, o.transfers);
    assert_int_equal (r.total_before, 1000 * 1000);
    assert_int_equal (r.total_after, 1000 * 1000);
    //  Every kind of ending happened, so every path was exercised.
    assert_true (r.completed > 0 && r.failed > 0 && r.compensated > 0);
    //  Each transfer debited, credited and refunded at most once, by its legs.
    assert_int_equal (r.debits, r.completed + r.compensated);
    assert_int_equal (r.credits, r.completed);
    assert_int_equal (r.refunds, r.compensated);
}

//  --------------------------------------------------------------------------
//  `shoal cluster up`

typedef struct {
    char dir[64]; //  short: ipc:// paths live under it
    pid_t up;     //  the `shoal cluster up` process (0: none)
    int out;      //  its stdout, read end (-1: none)
} up_fixture_t;

static int s_up_setup (void **state)
{
    up_fixture_t *f = calloc (1, sizeof (up_fixture_t));
    snprintf (f->dir, sizeof f->dir, "/tmp/shoal-test-up-XXXXXX");
    assert_non_null (mkdtemp (f->dir));
    f->out = -1;
    *state = f;
    return 0;
}

static int s_up_teardown (void **state)
{
    up_fixture_t *f = *state;
    if (f->up > 0) { //  the test failed half-way: its nodes die with it
        kill (f->up, SIGKILL);
        waitpid (f->up, NULL, 0);
    }
    if (f->out >= 0)
        close (f->out);
    assert_int_equal (bench_remove_tree (f->dir), 0);
    free (f);
    return 0;
}

//  Starts `shoal cluster up ARGS...` with its stdout on a pipe.
static void s_up_start (up_fixture_t *f, ...)
{
    char *argv[16] = {getenv ("SHOAL_BIN"), "cluster", "up"};
    int argc = 3;
    va_list args;
    va_start (args, f);
    for (char *arg = va_arg (args, char *); arg && argc < 15; arg = va_arg (args, char *))
        argv[argc++] = arg;
    va_end (args);
    int out[2];
    assert_int_equal (pipe (out), 0);
    f->up = fork ();
    assert_true (f->up >= 0);
    if (f->up == 0) {
        dup2 (out[1], STDOUT_FILENO);
        close (out[0]);
        close (out[1]);
        execv (argv[0], argv);
        _exit (127);
    }
    close (out[1]);
    f->out = out[0];
}

//  Reads f's stdout until count lines hold needle, or fails at the
//  deadline (ms from now).
static void s_up_wait_lines (up_fixture_t *f, const char *needle, int count, int deadline_ms)
{
    char text[4096];
    size_t used = 0;
    int64_t deadline = zclock_mono () + deadline_ms;
    int ready = 0;
    while (ready < count) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            fail_msg ("%d of %d lines with '%s' after %d ms; stdout: %.*s", ready, count, needle,
                      deadline_ms, (int) used, text);
        struct pollfd item = {.fd = f->out, .events = POLLIN};
        if (poll (&item, 1, (int) left) <= 0)
            continue;
        ssize_t n = read (f->out, text + used, sizeof text - 1 - used);
        if (n <= 0)
            fail_msg ("shoal cluster up ended its output after %d lines with '%s': %.*s", ready,
                      needle, (int) used, text);
        used += (size_t) n;
        text[used] = 0;
        ready = 0;
        for (char *at = strstr (text, needle); at; at = strstr (at + 1, needle))
            ready++;
    }
}

//  The pids of pid's children, from /proc (at most max). Returns how many.
static int s_children (pid_t pid, pid_t *children, int max)
{
    int count = 0;
    DIR *proc = opendir ("/proc");
    assert_non_null (proc);
    for (struct dirent *entry = readdir (proc); entry && count < max; entry = readdir (proc)) {
        char path[300], stat[512];
        snprintf (path, sizeof path, "/proc/%s/stat", entry->d_name);
        FILE *file = fopen (path, "r");
        if (!file)
            continue;
        size_t size = fread (stat, 1, sizeof stat - 1, file);
        fclose (file);
        stat[size] = 0;
        //  "pid (comm) state ppid ...": comm may hold spaces, so after the last ')'.
        char *close = strrchr (stat, ')');
        char state;
        int ppid;
        if (close && sscanf (close + 1, " %c %d", &state, &ppid) == 2 && ppid == pid)
            children[count++] = (pid_t) atoi (entry->d_name);
    }
    closedir (proc);
    return count;
}

//  `shoal cluster up --nodes 2 --ipc` plans the cluster, starts both nodes
//  (each answers its stats), and SIGTERM stops them and exits 0.
static void test_cluster_up (void **state)
{
    up_fixture_t *f = *state;
    char dir[128], cfg[160];
    snprintf (dir, sizeof dir, "%s/c", f->dir);
    snprintf (cfg, sizeof cfg, "%s/cluster.cfg", dir);
    //  With a module of the user's, loaded on every node (and its option).
    s_up_start (f, "--nodes", "2", "--dir", dir, "--ipc", "--workers", "1", "--module",
                getenv ("SHOAL_TEST_MODULE"), NULL);
    //  "2 nodes up" comes after each node's ready line, once the nodes'
    //  links are up: a command sent then is forwarded (before, the links
    //  came up after it, and the first command for the other node's actor
    //  was answered unavailable).
    s_up_wait_lines (f, "2 nodes up;", 1, 60000);
    char links_command[512];
    snprintf (links_command, sizeof links_command,
              "\"$SHOAL_BIN\" cluster status --json --cluster '%s' | grep -o '\"peers\":{[^}]*}'",
              cfg);
    char links[256] = "";
    FILE *pipe = popen (links_command, "r");
    assert_non_null (pipe);
    links[fread (links, 1, sizeof links - 1, pipe)] = 0;
    assert_int_equal (pclose (pipe), 0);
    assert_string_equal (links, "\"peers\":{\"n2\":true}\n\"peers\":{\"n1\":true}\n");
    pid_t nodes[8];
    assert_int_equal (s_children (f->up, nodes, 8), 2);
    bank_stats_t stats;
    assert_int_equal (bank_stats_cluster (cfg, "n1", 10000, &stats), 0);
    assert_int_equal (stats.workers, 1);
    assert_int_equal (bank_stats_cluster (cfg, "n2", 10000, &stats), 0);
    for (int i = 0; i < 4; i++) { //  counters on either node, any node asked
        char command[512];
        snprintf (command, sizeof command,
                  "\"$SHOAL_BIN\" send --cluster '%s' --timeout 10000 --id up%d counter/up%d "
                  "Add by=3 | grep -q '\"value\":3'",
                  cfg, i, i);
        if (system (command) != 0)
            fail_msg ("counter/up%d: not answered, or the module is not on its node", i);
    }

    assert_int_equal (kill (f->up, SIGTERM), 0);
    int status = 0;
    int64_t deadline = zclock_mono () + 60000;
    pid_t ended = 0;
    while ((ended = waitpid (f->up, &status, WNOHANG)) == 0 && zclock_mono () < deadline)
        zclock_sleep (20);
    assert_int_equal (ended, f->up);
    f->up = 0;
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);
    //  It waited for its nodes: they are gone (reaped), not orphaned.
    for (int i = 0; i < 2; i++)
        assert_true (kill (nodes[i], 0) == -1 && errno == ESRCH);
}

int main (void)
{
    if (!getenv ("SHOAL_BIN")) {
        fprintf (stderr, "test_cluster_bank: run through ctest (SHOAL_BIN unset)\n");
        return 1;
    }
    signal (SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_cluster_up, s_up_setup, s_up_teardown),
        cmocka_unit_test (test_cluster_invariants_under_kills),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
