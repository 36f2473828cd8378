/*  test_top.c - `shoal top` on a real cluster: 3 nodes on ipc:// in the
    test's own directory, `shoal top` running in a tmux pane of a private
    tmux server (tmux -S DIR/tmux.sock), its screen read with
    `tmux capture-pane -p`. Every wait polls the screen (or a command)
    against a deadline.

    First `shoal top --once --json`: one valid JSON object with the three
    nodes up. Then a terminal whose TERM is unknown, unset or dumb: a line
    that says so, exit 2, the terminal's modes unchanged. Then the screen:
    the three rows; the help and the sort key; a resize followed; node n2
    killed with SIGKILL and shown DOWN with the reason; a transfer whose
    source account is on n2 has its Debit stalled, and the stalled list
    shows it; --once then exits 3 and says n2 is down;
    (before that, a lone node's row, named by its whole endpoint);
    q quits with exit code 0. Last, 105 more stalled, past the 100 a node
    lists for top: counted whole, the rest said "... and N more".
*/
#include "client.h"
#include "cluster.h"
#include "shard.h"

#include <czmq.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "proc.h"

#define NODES 3
#define DEADLINE_MS 30000

typedef struct {
    char dir[256];
    char cfg[300];
    char tmux[300]; //  the tmux server's socket
    pid_t pids[NODES];
    cluster_t *cluster;
} fixture_t;

static const char *s_bin (void)
{
    const char *bin = getenv ("SHOAL_BIN");
    assert_non_null (bin);
    return bin;
}

static bool s_answers_stats (fixture_t *fx, const char *name)
{
    char *error = NULL;
    client_t *client = client_new_cluster (fx->cfg, name, &error);
    free (error);
    assert_non_null (client);
    envelope_t request;
    client_request (&request, ENVELOPE_QUERY, NULL, "node/stats", "stats", NULL, 0);
    client_reply_t reply;
    int rc = client_call (client, &request, 300, &reply);
    client_destroy (&client);
    if (rc == 0)
        client_reply_close (&reply);
    return rc == 0;
}

//  Runs shoal with argv (argv[0] "shoal", NULL-terminated), its output
//  appended to log. Its pid.
static pid_t s_spawn (const char *log, char *const argv[])
{
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        FILE *err = fopen (log, "a");
        if (err) {
            dup2 (fileno (err), 1);
            dup2 (fileno (err), 2);
        }
        execv (s_bin (), argv);
        _exit (127);
    }
    return pid;
}

static void s_node_start (fixture_t *fx, int i)
{
    const char *name = cluster_node_name (fx->cluster, i);
    char log[400];
    snprintf (log, sizeof log, "%s/%s.log", fx->dir, name);
    pid_t pid =
        s_spawn (log, (char *[]){"shoal", "node", "--cluster", fx->cfg, "--name", (char *) name,
                                 "--stall-ms", "1000", "--workers", "2", NULL});
    fx->pids[i] = pid;
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (zclock_mono () < deadline) {
        if (s_answers_stats (fx, name))
            return;
        assert_int_equal (waitpid (pid, NULL, WNOHANG), 0); //  still running
    }
    fail_msg ("node %s did not start", name);
}

static void s_node_kill (fixture_t *fx, int i)
{
    if (fx->pids[i] > 0) {
        kill (fx->pids[i], SIGKILL);
        waitpid (fx->pids[i], NULL, 0);
        fx->pids[i] = 0;
    }
}

//  The first id "prefix-N" of an actor of type that node owns.
static void s_id_on (fixture_t *fx, const char *type, const char *prefix, int node, char *id,
                     size_t size)
{
    for (int n = 0;; n++) {
        char address[128];
        snprintf (id, size, "%s-%d", prefix, n);
        snprintf (address, sizeof address, "%s/%s", type, id);
        if (cluster_owner (fx->cluster, shoal_shard (address, cluster_shards (fx->cluster))) ==
            node)
            return;
    }
}

//  The pane's screen, into out.
static void s_screen (fixture_t *fx, char *out, size_t size)
{
    proc_sh (out, size, "tmux -S %s capture-pane -p -t top 2>&1", fx->tmux);
}

//  The screen's line that starts with prefix, into line ("" if none).
static void s_line (const char *screen, const char *prefix, char *line, size_t size)
{
    line[0] = 0;
    for (const char *at = screen; at && *at; at = strchr (at, '\n') ? strchr (at, '\n') + 1 : NULL)
        if (strncmp (at, prefix, strlen (prefix)) == 0) {
            size_t length = strcspn (at, "\n");
            snprintf (line, size, "%.*s", (int) (length < size ? length : size - 1), at);
            return;
        }
}

//  Polls the screen until the line starting with prefix holds each of the
//  texts (NULL-terminated), or the deadline fails the test.
static void s_wait_line (fixture_t *fx, const char *prefix, ...)
{
    char screen[16384], line[1024];
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (true) {
        s_screen (fx, screen, sizeof screen);
        s_line (screen, prefix, line, sizeof line);
        bool all = line[0] != 0;
        va_list texts;
        va_start (texts, prefix);
        for (const char *text = va_arg (texts, const char *); all && text;
             text = va_arg (texts, const char *))
            all = strstr (line, text) != NULL;
        va_end (texts);
        if (all)
            return;
        if (zclock_mono () > deadline)
            fail_msg ("no line '%s...' with the texts; the screen:\n%s", prefix, screen);
        zclock_sleep (100);
    }
}

static int s_setup (void **state)
{
    fixture_t *fx = calloc (1, sizeof (fixture_t));
    const char *tmp = getenv ("TMPDIR") ? getenv ("TMPDIR") : "/tmp";
    snprintf (fx->dir, sizeof fx->dir, "%s/shoal-top-XXXXXX", tmp);
    assert_non_null (mkdtemp (fx->dir));
    snprintf (fx->cfg, sizeof fx->cfg, "%s/cluster.cfg", fx->dir);
    snprintf (fx->tmux, sizeof fx->tmux, "%s/tmux.sock", fx->dir);
    assert_int_equal (proc_sh (NULL, 0, "%s cluster init --nodes %d --dir %s --ipc >/dev/null",
                               s_bin (), NODES, fx->dir),
                      0);
    char *error = NULL;
    fx->cluster = cluster_load (fx->cfg, &error);
    assert_non_null (fx->cluster);
    for (int i = 0; i < NODES; i++)
        s_node_start (fx, i);
    *state = fx;
    return 0;
}

static int s_teardown (void **state)
{
    fixture_t *fx = *state;
    proc_sh (NULL, 0, "tmux -S %s kill-server 2>/dev/null", fx->tmux);
    for (int i = 0; i < NODES; i++)
        s_node_kill (fx, i);
    cluster_destroy (&fx->cluster);
    proc_sh (NULL, 0, "rm -rf %s", fx->dir);
    free (fx);
    return 0;
}

//  `shoal top --once --json`: one JSON object, the three nodes up.
static void test_once_json (void **state)
{
    fixture_t *fx = *state;
    char out[65536];
    //  The nodes' links come up on their own time: wait for three up.
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    int rc;
    while ((rc = proc_sh (out, sizeof out, "%s top --once --json --interval 300 --cluster %s",
                          s_bin (), fx->cfg)) != 0) {
        if (zclock_mono () > deadline)
            fail_msg ("top --once exited %d: %s", rc, out);
        zclock_sleep (100);
    }
    char check[8192];
    snprintf (check, sizeof check,
              "python3 -c 'import json, sys\n"
              "d = json.load (open (\"%s/once.json\"))\n"
              "assert [n[\"node\"] for n in d[\"nodes\"]] == [\"n1\", \"n2\", \"n3\"], d\n"
              "assert all (n[\"up\"] and n[\"uptime_ms\"] > 0 for n in d[\"nodes\"]), d\n"
              "assert d[\"nodes_up\"] == 3 and d[\"stalled\"] == [], d\n"
              "assert d[\"ok\"] is True and \"code\" not in d, d\n"
              "assert all (\"p99_commit_ms\" in n and \"steps_per_s\" in n for n in d[\"nodes\"])\n"
              "t = [n[\"busiest_thread\"] for n in d[\"nodes\"]]\n"
              "assert all (b[\"name\"] and 0 <= b[\"cpu_percent\"] <= 150 for b in t), t'",
              fx->dir);
    char path[400];
    snprintf (path, sizeof path, "%s/once.json", fx->dir);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fputs (out, file);
    fclose (file);
    assert_int_equal (proc_sh (NULL, 0, "%s", check), 0);
    //  Text too, without a terminal.
    assert_int_equal (
        proc_sh (out, sizeof out, "%s top --once --interval 200 --cluster %s", s_bin (), fx->cfg),
        0);
    assert_non_null (strstr (out, "3 of 3 nodes up"));
    //  A busy actor with a long address: the columns after it stay in line
    //  (MSGS/S was pushed out by a 41-byte address).
    const char *longest = "account/an-address-longer-than-the-column-is";
    deadline = zclock_mono () + DEADLINE_MS;
    const char *row = NULL, *header = NULL;
    while (!row) {
        proc_sh (NULL, 0,
                 "(for i in $(seq 30); do %s send --cluster %s %s Open owner=x "
                 ">/dev/null 2>&1; done) & %s top --once --interval 1500 --cluster %s "
                 ">%s/once.txt; wait",
                 s_bin (), fx->cfg, longest, s_bin (), fx->cfg, fx->dir);
        proc_sh (out, sizeof out, "cat %s/once.txt", fx->dir);
        header = strstr (out, "\nBUSIEST\n");
        row = header ? strstr (header, longest) : NULL;
        if (!row && zclock_mono () > deadline)
            fail_msg ("%s never showed among the busiest: %.3000s", longest, header ? header : out);
    }
    header += strlen ("\nBUSIEST\n");
    const char *rate_end = strstr (header, "MSGS/S") + strlen ("MSGS/S");
    const char *row_line = row;
    //  The rate right-aligned under MSGS/S: the same column ends both.
    size_t column = (size_t) (rate_end - header);
    assert_true (strlen (row_line) > column);
    assert_true (row_line[column] == ' ' && row_line[column - 1] != ' ');
    //  No node answering: no count of stalled commands is known, and none
    //  is said ("STALLED (0)" was).
    assert_int_equal (proc_sh (out, sizeof out,
                               "%s top --once --interval 200 --endpoint ipc://%s/nobody.ipc",
                               s_bin (), fx->dir),
                      3);
    if (!strstr (out, "\nSTALLED (no node answered)\n") || strstr (out, "STALLED (0)"))
        fail_msg ("top --once, no node up: %s", out);
    //  Without --once it needs a terminal.
    assert_int_equal (
        proc_sh (NULL, 0, "%s top --cluster %s </dev/null 2>/dev/null", s_bin (), fx->cfg), 2);
}

//  Waits for DIR/name (the last file a pane's script writes) and reads it
//  into out.
static void s_wait_file (fixture_t *fx, const char *name, char *out, size_t size)
{
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (proc_sh (out, size, "cat %s/%s 2>/dev/null", fx->dir, name) != 0 || !out[0]) {
        if (zclock_mono () > deadline)
            fail_msg ("%s/%s was not written", fx->dir, name);
        zclock_sleep (100);
    }
}

//  In a terminal whose TERM is unknown, unset or cannot move the cursor,
//  `shoal top` says so and exits 2, the terminal's modes as they were
//  (ncurses' initscr printed its own line and exited 1).
static void test_bad_term (void **state)
{
    fixture_t *fx = *state;
    char script[400];
    snprintf (script, sizeof script, "%s/term.sh", fx->dir);
    FILE *file = fopen (script, "w");
    assert_non_null (file);
    fprintf (file,
             "cd %s\n"
             "stty -g > before\n"
             "TERM=nosuchterm %s top --cluster %s 2> unknown.err; echo $? > unknown.rc\n"
             "env -u TERM %s top --cluster %s 2> unset.err; echo $? > unset.rc\n"
             "TERM=dumb %s top --cluster %s 2> dumb.err; echo $? > dumb.rc\n"
             "stty -g > after.tmp && mv after.tmp after\n",
             fx->dir, s_bin (), fx->cfg, s_bin (), fx->cfg, s_bin (), fx->cfg);
    assert_int_equal (fclose (file), 0);
    assert_int_equal (proc_sh (NULL, 0,
                               "tmux -S %s -f /dev/null new-session -d -s term -x 100 -y 40 "
                               "\"sh %s; sleep 60\"",
                               fx->tmux, script),
                      0);
    char before[1024], after[1024], out[4096];
    s_wait_file (fx, "after", after, sizeof after);
    s_wait_file (fx, "before", before, sizeof before);
    assert_string_equal (before, after);

    s_wait_file (fx, "unknown.rc", out, sizeof out);
    assert_string_equal (out, "2\n");
    s_wait_file (fx, "unknown.err", out, sizeof out);
    assert_string_equal (out, "shoal top: terminal type 'nosuchterm' is not known; try TERM=xterm, "
                              "or `shoal top --once` (no terminal; --json for a script)\n");
    //  What the hint names runs, without a terminal (it named `shoal stats
    //  --json`, an option stats does not have: exit 2).
    assert_int_equal (proc_sh (out, sizeof out, "%s top --once --json --cluster %s < /dev/null",
                               s_bin (), fx->cfg),
                      0);
    s_wait_file (fx, "unset.rc", out, sizeof out);
    assert_string_equal (out, "2\n");
    s_wait_file (fx, "unset.err", out, sizeof out);
    assert_non_null (strstr (out, "shoal top: TERM is not set; try TERM=xterm"));
    s_wait_file (fx, "dumb.rc", out, sizeof out);
    assert_string_equal (out, "2\n");
    s_wait_file (fx, "dumb.err", out, sizeof out);
    assert_non_null (strstr (out, "shoal top: terminal type 'dumb' cannot draw a screen"));
    proc_sh (NULL, 0, "tmux -S %s kill-session -t term", fx->tmux);
}

//  A lone node (`--endpoint E`, no cluster): its row is named by its
//  endpoint, whole (the column cut it to its first 8 characters:
//  "ipc:///t"); the tmux session is gone after.
static void test_lone_node (void **state)
{
    fixture_t *fx = *state;
    char endpoint[400], log[400], data[400];
    snprintf (endpoint, sizeof endpoint, "ipc://%s/lone.ipc", fx->dir);
    snprintf (log, sizeof log, "%s/lone.log", fx->dir);
    snprintf (data, sizeof data, "%s/lone", fx->dir);
    pid_t pid = s_spawn (log, (char *[]){"shoal", "node", "--data", data, "--endpoint", endpoint,
                                         "--workers", "1", NULL});
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (proc_sh (NULL, 0, "%s stats --endpoint %s --timeout 300 >/dev/null 2>&1", s_bin (),
                    endpoint) != 0) {
        if (zclock_mono () > deadline || waitpid (pid, NULL, WNOHANG) != 0)
            fail_msg ("the lone node did not start (see %s)", log);
        zclock_sleep (100); //  between two asks, within the deadline
    }
    assert_int_equal (proc_sh (NULL, 0,
                               "tmux -S %s -f /dev/null new-session -d -s top -x 160 -y 30 "
                               "\"%s top --endpoint %s\"",
                               fx->tmux, s_bin (), endpoint),
                      0);
    char row[500];
    snprintf (row, sizeof row, "%s up ", endpoint);
    s_wait_line (fx, endpoint, row, NULL);
    proc_sh (NULL, 0, "tmux -S %s kill-session -t top", fx->tmux);
    kill (pid, SIGKILL);
    waitpid (pid, NULL, 0);
}

//  The screen in tmux: rows, keys, resize, a node down, a stalled debit.
static void test_screen (void **state)
{
    fixture_t *fx = *state;
    //  Sagas on n1, sources on n2, targets on n3.
    char from[64], to[64], transfer[64];
    s_id_on (fx, "account", "src", 1, from, sizeof from);
    s_id_on (fx, "account", "dst", 2, to, sizeof to);
    s_id_on (fx, "transfer", "t", 0, transfer, sizeof transfer);
    assert_int_equal (proc_sh (NULL, 0,
                               "%s send --cluster %s account/%s Open owner=x >/dev/null && "
                               "%s send --cluster %s account/%s Deposit amount=100 >/dev/null && "
                               "%s send --cluster %s account/%s Open owner=y >/dev/null",
                               s_bin (), fx->cfg, from, s_bin (), fx->cfg, from, s_bin (), fx->cfg,
                               to),
                      0);

    int64_t started = zclock_mono ();
    assert_int_equal (proc_sh (NULL, 0,
                               "tmux -S %s -f /dev/null new-session -d -s top -x 100 -y 40 "
                               "\"%s top --cluster %s; echo \\$? > %s/top.rc\"",
                               fx->tmux, s_bin (), fx->cfg, fx->dir),
                      0);
    for (int i = 0; i < NODES; i++)
        s_wait_line (fx, cluster_node_name (fx->cluster, i), " up ", NULL);
    s_wait_line (fx, "NODE", "CMD/S", "STEP/S", "P99CMT", "STALL", "BUSIEST THREAD", NULL);
    //  The sparkline's span is the time sampled, not its width's: "last
    //  60s" a second after the start, before.
    {
        char first[16384];
        s_screen (fx, first, sizeof first);
        int64_t elapsed_s = (zclock_mono () - started) / 1000;
        const char *span = strstr (first, " (last ");
        int seconds = -1;
        if (!span || sscanf (span, " (last %ds)", &seconds) != 1 || seconds > elapsed_s + 1)
            fail_msg ("the sparkline spans %ds after %llds:\n%s", seconds, (long long) elapsed_s,
                      first);
    }
    s_wait_line (fx, "STALLED COMMANDS", "(0)", NULL);

    //  Keys: help, any key closes it, s sorts by the next column.
    proc_sh (NULL, 0, "tmux -S %s send-keys -t top h", fx->tmux);
    s_wait_line (fx, "  shoal top - keys", NULL);
    proc_sh (NULL, 0, "tmux -S %s send-keys -t top x", fx->tmux);
    s_wait_line (fx, "NODE", NULL);
    proc_sh (NULL, 0, "tmux -S %s send-keys -t top s", fx->tmux);
    s_wait_line (fx, "shoal top", "sort cmd/s", NULL);

    //  A smaller terminal: the footer moves to its last line.
    proc_sh (NULL, 0, "tmux -S %s resize-window -t top -x 90 -y 20", fx->tmux);
    char screen[16384];
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (true) {
        s_screen (fx, screen, sizeof screen);
        int lines = 0;
        const char *last = screen;
        for (const char *at = screen; (at = strchr (at, '\n')); at++, lines++)
            if (at[1])
                last = at + 1;
        if (lines == 20 && strncmp (last, "q quit", 6) == 0)
            break;
        if (zclock_mono () > deadline)
            fail_msg ("the screen did not follow the resize:\n%s", screen);
        zclock_sleep (100);
    }

    //  n2 killed: shown down with why; its peers see its link down.
    s_node_kill (fx, 1);
    s_wait_line (fx, "n2", "DOWN", "no answer", NULL);
    s_wait_line (fx, "n2", "DOWN", "n1, n3 see its link down", NULL);

    //  A transfer from an account of n2: its Debit stalls on n1.
    assert_int_equal (proc_sh (NULL, 0, "%s transfer --cluster %s --id %s %s %s 10 >/dev/null",
                               s_bin (), fx->cfg, transfer, from, to),
                      0);
    char sender[128];
    snprintf (sender, sizeof sender, "transfer/%s", transfer);
    s_wait_line (fx, sender, "Debit", from, "n2", NULL);
    s_wait_line (fx, "STALLED COMMANDS", "(1)", NULL);
    s_wait_line (fx, "n1", " up ", NULL);

    //  --once says so too, and exits 3: a node did not answer.
    char out[65536];
    assert_int_equal (proc_sh (out, sizeof out, "%s top --once --json --interval 200 --cluster %s",
                               s_bin (), fx->cfg),
                      3);
    assert_non_null (strstr (out, "{\"node\":\"n2\""));
    assert_non_null (strstr (out, "\"up\":false,\"reason\":\"no answer"));
    assert_non_null (strstr (out, "\"command\":\"Debit\""));
    //  ok, code and reason, as every command's failure (README).
    assert_non_null (
        strstr (out, "{\"ok\":false,\"code\":\"no_answer\",\"reason\":\"n2: no answer"));

    //  q quits, with exit code 0.
    proc_sh (NULL, 0, "tmux -S %s send-keys -t top q", fx->tmux);
    char rc[64] = "";
    deadline = zclock_mono () + DEADLINE_MS;
    while (proc_sh (rc, sizeof rc, "cat %s/top.rc 2>/dev/null", fx->dir) != 0 || !rc[0]) {
        if (zclock_mono () > deadline)
            fail_msg ("shoal top did not quit on q");
        zclock_sleep (100);
    }
    assert_string_equal (rc, "0\n");
}

//  More stalled commands than a node lists for top (TOP_STALLED_MAX, 100):
//  the count is every stalled one, the ones not listed "... and N more",
//  and --once --json says how many it left out (stalled_more). It said
//  "STALLED (100)" of 106, a count that was the list's length. (After
//  test_screen: n2 is down, one Debit stalled already.)
static void test_stalled_past_the_list (void **state)
{
    fixture_t *fx = *state;
    const int count = 105;
    //  Sagas on n1, their sources on n2, killed: every Debit stalls.
    char from[64], to[64];
    s_id_on (fx, "account", "src", 1, from, sizeof from);
    s_id_on (fx, "account", "dst", 2, to, sizeof to);
    s_node_kill (fx, 1);
    proc_sh (NULL, 0, "tmux -S %s kill-session -t top 2>/dev/null", fx->tmux);
    char ids[8192] = "";
    for (int n = 0, found = 0; found < count; n++) {
        char address[64];
        snprintf (address, sizeof address, "transfer/many-%d", n);
        if (cluster_owner (fx->cluster, shoal_shard (address, cluster_shards (fx->cluster))) != 0)
            continue;
        size_t used = strlen (ids);
        snprintf (ids + used, sizeof ids - used, " many-%d", n);
        found++;
    }
    assert_int_equal (proc_sh (NULL, 0,
                               "for id in%s; do %s transfer --cluster %s --node n1 --id $id %s %s "
                               "1 >/dev/null || exit 1; done",
                               ids, s_bin (), fx->cfg, from, to),
                      0);
    char path[400], out[262144];
    snprintf (path, sizeof path, "%s/stalled.json", fx->dir);
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (true) {
        proc_sh (out, sizeof out, "%s top --once --json --interval 200 --cluster %s >%s", s_bin (),
                 fx->cfg, path);
        //  Every one stalled (a node's stats count them), then the list
        //  and its count agree (the stats are asked first: one passing
        //  --stall-ms between the two is counted by the list alone).
        int rc = proc_sh (out, sizeof out,
                          "python3 -c 'import json, sys\n"
                          "d = json.load (open (\"%s\"))\n"
                          "total = sum (n.get (\"stalled\", 0) for n in d[\"nodes\"])\n"
                          "sys.exit (7) if total < %d else None\n"
                          "assert len (d[\"stalled\"]) == 100, len (d[\"stalled\"])\n"
                          "listed = len (d[\"stalled\"]) + d[\"stalled_more\"]\n"
                          "sys.exit (7) if listed != total else None\n"
                          "print (total)' 2>&1",
                          path, count);
        if (rc == 0)
            break;
        if (rc != 7 || zclock_mono () > deadline) //  7: not yet
            fail_msg ("top --once --json, %d stalled: exit %d: %s", count, rc, out);
        zclock_sleep (200);
    }
    int total = atoi (out);
    assert_int_equal (
        proc_sh (out, sizeof out, "%s top --once --interval 200 --cluster %s", s_bin (), fx->cfg),
        3);
    //  (Any that stalled since are counted too.)
    const char *header_at = strstr (out, "\nSTALLED (");
    const char *more_at = strstr (out, "\n... and ");
    int all = -1, more = -1;
    if (!header_at || sscanf (header_at, "\nSTALLED (%d)", &all) != 1 || all < total || !more_at ||
        sscanf (more_at, "\n... and %d more (shoal pending --stalled)", &more) != 1 ||
        more != all - 100)
        fail_msg ("top --once, %d stalled: %s", total, out);
    //  The screen: the count of all, and how many it does not show.
    assert_int_equal (proc_sh (NULL, 0,
                               "tmux -S %s -f /dev/null new-session -d -s top -x 100 -y 30 "
                               "\"%s top --cluster %s\"",
                               fx->tmux, s_bin (), fx->cfg),
                      0);
    s_wait_line (fx, "... and ", " more (shoal pending --stalled)", NULL);
    char screen[16384], line[1024];
    s_screen (fx, screen, sizeof screen);
    s_line (screen, "STALLED COMMANDS (", line, sizeof line);
    int before = all;
    if (sscanf (line, "STALLED COMMANDS (%d)", &all) != 1 || all < before)
        fail_msg ("the screen counts '%s', --once %d:\n%s", line, before, screen);
    int shown = 0;
    for (const char *at = strstr (screen, "\ntransfer/"); at; at = strstr (at + 1, "\ntransfer/"))
        shown++;
    s_line (screen, "... and ", line, sizeof line);
    if (sscanf (line, "... and %d more", &more) != 1 || shown + more != all)
        fail_msg ("%d rows shown and '%s', of %d:\n%s", shown, line, all, screen);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_once_json),
        cmocka_unit_test (test_bad_term),
        cmocka_unit_test (test_lone_node),
        cmocka_unit_test (test_screen),
        cmocka_unit_test (test_stalled_past_the_list),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
