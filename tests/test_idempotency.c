/*  test_idempotency.c - idempotency keys that cannot be misused, with real
    processes: the same id with another command or another payload is
    refused as id_reused, naming the first command, and changes nothing;
    the same request again gets the first reply, across restarts, also for
    a stream that had no events when it was first answered (the inbox
    filter). A send that times out
    (its node SIGSTOPped) says its id and the exact command to retry,
    and that command, run once the node goes on, has one effect, whatever
    the order of its options, also for fields read from stdin, and shows
    no control byte of a field. A
    transfer's id reused with other fields is
    refused too; a transfer's id too long to be one is bad usage, as is a
    request too big to send and a number that is not finite. A command its
    node took and lost in a crash is answered once the node is back,
    within the client's timeout, with one effect (the client sends it
    again under its id each second); a copy's failure (not stored) is not
    taken for the answer while another copy may still run.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "proc.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NODE                                                                                       \
    "$SHOAL node --endpoint $E --data $DIR/data --workers 2 --metrics off --module "               \
    "\"$SHOAL_TEST_MODULE\""
#define RETRY_PREFIX "Retry safely with: shoal "

static int s_setup (void **state)
{
    *state = proc_new ("test-idem");
    return 0;
}

static int s_teardown (void **state)
{
    proc_t *p = *state;
    proc_destroy (&p);
    return 0;
}

static int s_count (const char *text, const char *needle)
{
    int count = 0;
    for (const char *at = strstr (text, needle); at; at = strstr (at + 1, needle))
        count++;
    return count;
}

//  Fails unless out has needle.
#define assert_has(out, needle)                                                                    \
    do {                                                                                           \
        if (!strstr ((out), (needle)))                                                             \
            fail_msg ("expected %s in: %s", (needle), (out));                                      \
    } while (0)

//  --------------------------------------------------------------------------
//  1. id_reused: another payload or another command under the same id.

static void test_id_reused (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    proc_node_start (p, NODE);
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL send --endpoint $E --id k1 counter/a Add by=5"), 0);
    assert_has (out, "\"value\":5");
    assert_has (out, "\"id\":\"k1\""); //  the user's own id, and the hex it stands for
    assert_has (out, "\"id_hex\":\"");

    //  Another payload.
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL send --endpoint $E --id k1 counter/a Add by=6"), 1);
    assert_has (out, "\"code\":\"id_reused\"");
    assert_has (out, "was used for Add with other fields; use a new id");
    assert_has (out, "\"id\":\"k1\"");
    //  Another command.
    assert_int_equal (proc_run (p, out, err, "$SHOAL send --endpoint $E --id k1 counter/a Get"), 1);
    assert_has (out, "\"code\":\"id_reused\"");
    assert_has (out, "was used for Add, not Get");
    //  Nothing changed.
    assert_int_equal (proc_run (p, out, err, "$SHOAL get --endpoint $E counter/a"), 0);
    assert_has (out, "\"value\":5");
    //  The same request again: the first reply.
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL send --endpoint $E --id k1 counter/a Add by=5"), 0);
    assert_has (out, "\"value\":5");
    assert_int_equal (proc_run (p, out, err, "$SHOAL events --endpoint $E counter/a"), 0);
    assert_int_equal (s_count (out, "\"Added\""), 1);
    //  The id names one request for one actor: another actor may use it.
    assert_int_equal (proc_run (p, out, err, "$SHOAL send --endpoint $E --id k1 counter/b Get"), 0);
    //  And a restart (the record read back from the store) changes nothing.
    proc_node_signal (p, SIGTERM);
    proc_node_start (p, NODE);
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL send --endpoint $E --id k1 counter/a Add by=7"), 1);
    assert_has (out, "\"code\":\"id_reused\"");
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL send --endpoint $E --id k1 counter/a Add by=5"), 0);
    assert_has (out, "\"value\":5");
}

//  --------------------------------------------------------------------------
//  2. The first reply of a stream that had no events yet, across a restart.
//  Such a reply is kept under the command's inbox key; the node's inbox
//  filter (persistence/filters.c) spares the read of that key for a
//  stream it knows has none, so a filter that missed the key would run
//  the retry again and answer the stream's later state instead.

//  Waits (deadline) for the node's log to say its stream filters are ready
//  for the count-th time.
static void s_wait_filter_ready (proc_t *p, int count)
{
    char log[PROC_OUTPUT_MAX];
    for (int64_t deadline = proc_now_ms () + 10000; proc_now_ms () < deadline; usleep (10000)) {
        proc_read (p, "node.log", log);
        if (s_count (log, "stream filters ready") >= count)
            return;
    }
    fail_msg ("the stream filters were not ready within 10 s: %s", log);
}

//  A counter of the node's stats ("inbox_reads_spared").
static long s_stat (proc_t *p, const char *name)
{
    char out[PROC_OUTPUT_MAX], field[64];
    assert_int_equal (proc_run (p, out, NULL, "$SHOAL stats --endpoint $E"), 0);
    snprintf (field, sizeof field, "\"%s\":", name);
    const char *at = strstr (out, field);
    if (!at)
        fail_msg ("no %s in: %s", name, out);
    return atol (at + strlen (field));
}

//  Sends `send --id ID ADDRESS COMMAND` and checks that it succeeds with
//  expect in its output.
static void s_send_expect (proc_t *p, const char *id, const char *address, const char *command,
                           const char *expect)
{
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL send --endpoint $E --id %s %s %s", id, address, command), 0);
    assert_has (out, expect);
}

static void test_first_reply_before_events (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX];
    proc_node_start (p, NODE);
    s_wait_filter_ready (p, 1);
    //  A command to a new stream, which the filter spares the read.
    long spared = s_stat (p, "inbox_reads_spared");
    long loads_spared = s_stat (p, "stream_reads_spared");
    s_send_expect (p, "g1", "counter/e", "Get", "\"value\":0");
    assert_true (s_stat (p, "inbox_reads_spared") > spared);
    assert_true (s_stat (p, "stream_reads_spared") > loads_spared);
    //  Then the stream gets its first event.
    s_send_expect (p, "a1", "counter/e", "Add by=3", "\"value\":3");
    //  g1 again: its first reply (the filter took the stream in when g1's
    //  record was written).
    s_send_expect (p, "g1", "counter/e", "Get", "\"value\":0");
    //  After a restart the filter is made again from the store: g1 still
    //  gets its first reply, not 3.
    proc_node_signal (p, SIGTERM);
    proc_node_start (p, NODE);
    s_wait_filter_ready (p, 2);
    s_send_expect (p, "g1", "counter/e", "Get", "\"value\":0");
    //  And so after a SIGKILL, g2's record read back from the log.
    s_send_expect (p, "g2", "counter/f", "Get", "\"value\":0");
    s_send_expect (p, "a2", "counter/f", "Add by=4", "\"value\":4");
    proc_node_signal (p, SIGKILL);
    proc_node_start (p, NODE);
    s_wait_filter_ready (p, 3);
    s_send_expect (p, "g2", "counter/f", "Get", "\"value\":0");
    s_send_expect (p, "g1", "counter/e", "Get", "\"value\":0");
    //  A new id on the stream runs: the stream's state now, read whole
    //  (the filters took in the stream's events from the store).
    s_send_expect (p, "g3", "counter/f", "Get", "\"value\":4");
    assert_int_equal (proc_run (p, out, NULL, "$SHOAL get --endpoint $E counter/e"), 0);
    assert_has (out, "\"value\":3");
}

//  --------------------------------------------------------------------------
//  3. A send that times out says how to retry it safely.

//  Sends to a stopped node with --timeout 300 (extra: more options), then
//  lets it go on, runs the retry command it printed, and checks that
//  address's counter was added to once, by by.
static void s_timeout_then_retry (proc_t *p, const char *extra, const char *address, int by,
                                  const char *shown)
{
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    proc_node_signal (p, SIGSTOP);
    int rc = proc_run (p, out, err, "$SHOAL send --endpoint $E --timeout 300 %s %s Add by=%d",
                       extra, address, by);
    proc_node_signal (p, SIGCONT);
    assert_int_equal (rc, 3);
    assert_has (err, "no answer from");
    //  Its handshake never went through: nothing was sent (it said "may
    //  still take effect").
    assert_has (err, "within 300 ms; it reached no node, so it has taken no effect");
    assert_has (err, RETRY_PREFIX "send --id ");
    if (shown)
        assert_has (err, shown);
    //  The retry command, exactly as printed, with $SHOAL for shoal.
    char *line = strstr (err, RETRY_PREFIX) + strlen (RETRY_PREFIX);
    char *end = strchr (line, '\n');
    if (end)
        *end = 0;
    //  (a longer timeout than the first try's 300 ms: the machine may be busy)
    assert_int_equal (proc_run (p, out, NULL, "$SHOAL %s --timeout 5000", line), 0);
    char value[32];
    snprintf (value, sizeof value, "\"value\":%d", by);
    assert_has (out, value);
    assert_int_equal (proc_run (p, out, NULL, "$SHOAL events --endpoint $E %s", address), 0);
    assert_int_equal (s_count (out, "\"Added\""), 1);
    assert_int_equal (proc_run (p, out, NULL, "$SHOAL get --endpoint $E %s", address), 0);
    assert_has (out, value);
}

//  The retry line keeps the first send's time (--created): run again past
//  the inbox retention, once the command's record is pruned, it is refused
//  expired. It carried none, so the retry was stamped anew and ran again
//  (a review's Deposit ran twice, 12 s later, with a 3 s retention).
static void test_retry_past_retention (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    //  3 s: the retry runs before the record is pruned on a busy machine.
    proc_node_start (p, NODE " --inbox-retention-ms 3000");
    //  The stream's first command keeps its record in its first event for
    //  good: the one retried is the second.
    assert_int_equal (proc_run (p, out, err, "$SHOAL send --endpoint $E counter/r Add by=1"), 0);
    proc_node_signal (p, SIGSTOP);
    int rc = proc_run (p, out, err, "$SHOAL send --endpoint $E --timeout 300 counter/r Add by=2");
    proc_node_signal (p, SIGCONT);
    assert_int_equal (rc, 3);
    char *line = strstr (err, RETRY_PREFIX);
    assert_non_null (line);
    line += strlen (RETRY_PREFIX);
    line[strcspn (line, "\n")] = 0;
    assert_has (line, " --created ");
    assert_int_equal (proc_run (p, out, NULL, "$SHOAL %s --timeout 5000", line), 0);
    assert_has (out, "\"value\":3");
    //  A bounded poll: past the retention, its margin and a janitor pass.
    int64_t deadline = proc_now_ms () + 30000;
    do {
        assert_int_equal (proc_run (p, out, NULL, "$SHOAL stats --endpoint $E"), 0);
        if (!strstr (out, "\"pruned\":0,"))
            break;
        usleep (100 * 1000); //  between two asks, within the deadline
    } while (proc_now_ms () < deadline);
    assert_null (strstr (out, "\"pruned\":0,"));
    //  Exit 3, its fate open (exit 1 had a script send it anew: a review's find).
    rc = proc_run (p, out, err, "$SHOAL %s --timeout 5000", line);
    if (rc != 3 || !strstr (out, "\"code\":\"expired\"") ||
        !strstr (err, "may have run, and whether it did cannot be told"))
        fail_msg ("the retry past the retention: exit %d: %s %s", rc, out, err);
    assert_int_equal (proc_run (p, out, NULL, "$SHOAL events --endpoint $E counter/r"), 0);
    assert_int_equal (s_count (out, "\"Added\""), 2);
    //  Restarted with the default retention (7 days), which would keep the
    //  record the 3 s one pruned: still expired (it ran again: a hostile
    //  review's Deposit, twice, after such a restart).
    proc_node_signal (p, SIGTERM);
    proc_node_start (p, NODE);
    rc = proc_run (p, out, err, "$SHOAL %s --timeout 5000", line);
    if (rc != 3 || !strstr (out, "\"code\":\"expired\""))
        fail_msg ("the retry past a shorter retention, after a restart: exit %d: %s %s", rc, out,
                  err);
    assert_int_equal (proc_run (p, out, NULL, "$SHOAL events --endpoint $E counter/r"), 0);
    assert_int_equal (s_count (out, "\"Added\""), 2);
    //  --created is send's alone, and in ms since the epoch (seconds are
    //  refused, as a time past tomorrow: nothing sent).
    assert_int_equal (proc_run (p, out, err, "$SHOAL get --endpoint $E --created 5 counter/r"), 2);
    assert_has (err, "--created goes with send");
    rc =
        proc_run (p, out, err, "$SHOAL send --endpoint $E --created 1796600000 counter/r Add by=9");
    if (rc != 2 || !strstr (err, "is not the time of a first send in ms since the epoch"))
        fail_msg ("send --created in seconds: exit %d: %s", rc, err);
}

static void test_timeout_shows_retry (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, NODE);
    //  An id chosen by shoal send (32 hex digits, shown as is).
    s_timeout_then_retry (p, "", "counter/c", 7, NULL);
    //  An id of the user's: shown as given, quoted for the shell.
    s_timeout_then_retry (p, "--id 'order 77'", "counter/d", 3, "--id 'order 77'");
}

//  --------------------------------------------------------------------------
//  4. A transfer's id is its idempotency key: a Start under it with other
//  from, to or amount is refused as id_reused, with or without --wait,
//  naming what differs, and changes nothing; the same Start again is
//  answered with the transfer's status.

//  Opens account/alice (100) and account/bob (0).
static void s_open_accounts (proc_t *p)
{
    char out[PROC_OUTPUT_MAX];
    assert_int_equal (proc_run (p, out, NULL,
                                "$SHOAL send --endpoint $E account/alice Open "
                                "owner=Alice"),
                      0);
    assert_int_equal (
        proc_run (p, out, NULL, "$SHOAL send --endpoint $E account/alice Deposit amount=100"), 0);
    assert_int_equal (
        proc_run (p, out, NULL, "$SHOAL send --endpoint $E account/bob Open owner=Bob"), 0);
}

static void test_transfer_id_reused (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    proc_node_start (p, NODE);
    s_open_accounts (p);
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL transfer --endpoint $E --wait --id tshort alice bob 1"), 0);
    assert_has (out, "\"status\":\"completed\"");
    assert_has (out, "\"amount\":1}");

    //  Another amount, with --wait: refused, exit 1, not "completed".
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL transfer --endpoint $E --wait --id tshort alice bob 2"), 1);
    assert_has (out, "\"ok\":false,\"address\":\"transfer/tshort\",\"command\":\"Start\"");
    assert_has (out, "\"code\":\"id_reused\"");
    assert_has (out, "(amount 1, not 2); it is completed and unchanged: a new transfer needs "
                     "a new id");
    //  Other accounts, without --wait.
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL transfer --endpoint $E --id tshort bob alice 3"), 1);
    assert_has (out, "\"code\":\"id_reused\"");
    assert_has (out, "from account/alice, not account/bob; to account/bob, not account/alice; "
                     "amount 1, not 3");
    //  The same transfer again (account/alice is alice): its status.
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL transfer --endpoint $E --id tshort account/alice bob 1"), 0);
    assert_has (out, "{\"transfer\":\"tshort\",\"status\":\"completed\"}");
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL transfer --endpoint $E --wait --id tshort alice bob 1"), 0);
    assert_has (out, "\"status\":\"completed\"");
    //  Nothing changed: one Started, 1 moved.
    assert_int_equal (proc_run (p, out, NULL, "$SHOAL events --endpoint $E transfer/tshort"), 0);
    assert_int_equal (s_count (out, "\"Started\""), 1);
    assert_int_equal (proc_run (p, out, NULL, "$SHOAL get --endpoint $E account/alice"), 0);
    assert_has (out, "\"balance\":99,");
    assert_int_equal (proc_run (p, out, NULL, "$SHOAL get --endpoint $E account/bob"), 0);
    assert_has (out, "\"balance\":1,");
}

//  --------------------------------------------------------------------------
//  5. Long ids: a transfer's --id past SHOAL_ID_MAX (200) bytes is a usage
//  error (it was cut short, so two ids named one transfer); send's --id,
//  hashed into the message id, is not cut: two long ids are two requests.

static void test_long_ids (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    char id200[201], id250[251];
    memset (id200, 'a', 200);
    id200[200] = 0;
    memset (id250, 'b', 250);
    id250[250] = 0;
    proc_node_start (p, NODE);
    s_open_accounts (p);
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL transfer --endpoint $E --id %sX alice bob 1", id200), 2);
    assert_has (err, "shoal transfer: --id is 201 bytes, more than the 200 bytes a transfer's id "
                     "may have (nothing was sent)");
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL transfer --endpoint $E --id %sY alice bob 2", id200), 2);
    assert_int_equal (proc_run (p, out, NULL, "$SHOAL get --endpoint $E transfer/%s", id200), 0);
    assert_has (out, "\"status\":\"none\"");
    //  200 bytes is a transfer's id.
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL transfer --endpoint $E --wait --id %s alice bob 1", id200),
        0);
    assert_has (out, "\"status\":\"completed\"");

    assert_int_equal (
        proc_run (p, out, err, "$SHOAL send --endpoint $E --id %sX counter/l Add by=1", id250), 0);
    assert_has (out, "\"value\":1");
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL send --endpoint $E --id %sY counter/l Add by=1", id250), 0);
    assert_has (out, "\"value\":2");
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL send --endpoint $E --id %sX counter/l Add by=1", id250), 0);
    assert_has (out, "\"value\":1");
}

//  --------------------------------------------------------------------------
//  6. The retry command of a request whose options came after its
//  arguments: each argument once, every option that says where and what
//  (the endpoint from $SHOAL_ENDPOINT too), and, run by the shell, the
//  same request: answered as the first's duplicate.

//  Runs command (its node stopped) and returns its printed retry line, in
//  err, less its "shoal " (for "$SHOAL ..."). Fails unless it exits 3.
static char *s_retry_line (proc_t *p, char *err, const char *command)
{
    char out[PROC_OUTPUT_MAX];
    proc_node_signal (p, SIGSTOP);
    int rc = proc_run (p, out, err, "%s", command);
    proc_node_signal (p, SIGCONT);
    assert_int_equal (rc, 3);
    assert_has (err, RETRY_PREFIX);
    char *line = strstr (err, RETRY_PREFIX) + strlen (RETRY_PREFIX);
    char *end = strchr (line, '\n');
    if (end)
        *end = 0;
    return line;
}

static void test_retry_options_after_arguments (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX], expect[512];
    proc_node_start (p, NODE);
    s_open_accounts (p);

    //  Options after the arguments, the endpoint from the environment, a
    //  field the shell must quote.
    char *line = s_retry_line (
        p, err, "SHOAL_ENDPOINT=$E $SHOAL send counter/r Add by=4 'note=a b' --timeout 300");
    snprintf (expect, sizeof expect, "--endpoint %s --timeout 300 counter/r Add by=4 'note=a b'",
              p->endpoint);
    assert_has (line, expect);
    assert_int_equal (s_count (line, "counter/r"), 1);
    //  (a longer timeout than the first try's: the machine may be busy)
    assert_int_equal (proc_run (p, out, NULL, "sh -c \"$SHOAL %s --timeout 10000\"", line), 0);
    assert_has (out, "\"value\":4");
    assert_int_equal (proc_run (p, out, NULL, "$SHOAL events --endpoint $E counter/r"), 0);
    assert_int_equal (s_count (out, "\"Added\""), 1);

    //  --endpoint after the arguments too, and --id.
    line = s_retry_line (p, err,
                         "$SHOAL send counter/s Add by=5 --timeout 300 --id 'r 2' --endpoint $E");
    assert_has (line, "send --id 'r 2' --created ");
    snprintf (expect, sizeof expect, " --endpoint %s --timeout 300 counter/s Add by=5",
              p->endpoint);
    assert_has (line, expect);
    assert_int_equal (proc_run (p, out, NULL, "sh -c \"$SHOAL %s --timeout 10000\"", line), 0);
    assert_has (out, "\"value\":5");
    assert_int_equal (proc_run (p, out, NULL, "$SHOAL events --endpoint $E counter/s"), 0);
    assert_int_equal (s_count (out, "\"Added\""), 1);

    //  A transfer with --wait: the retry waits too, and moves the money once.
    line = s_retry_line (p, err, "$SHOAL transfer --endpoint $E --wait alice bob 7 --timeout 300");
    snprintf (expect, sizeof expect, "--endpoint %s --timeout 300 --wait alice bob 7", p->endpoint);
    assert_has (line, expect);
    assert_int_equal (s_count (line, "alice"), 1);
    assert_int_equal (proc_run (p, out, NULL, "sh -c \"$SHOAL %s --timeout 10000\"", line), 0);
    assert_has (out, "\"status\":\"completed\"");
    assert_has (out, "\"amount\":7}");
    assert_int_equal (proc_run (p, out, NULL, "$SHOAL get --endpoint $E account/bob"), 0);
    assert_has (out, "\"balance\":7,");
}

//  --------------------------------------------------------------------------
//  6b. The retry command of a send whose fields came from stdin (--input
//  -): it cannot read them again (it read what the retrier's stdin held:
//  nothing, or another request), so it holds them as key:=JSON arguments
//  that pack to the same bytes, every JSON type and a key that needs "--"
//  or ends in ':' included; run by the shell with nothing on stdin, it is
//  answered as the first's duplicate. A key that cannot be an argument
//  ("a=b") leaves --input - in the line, with a comment that says so.

//  Runs the retry line (as printed, less its "shoal ") through sh -c with
//  stdin from stdin_from (a shell word), its "--timeout 300" made 10000
//  (the machine may be busy; an option after its "--" would be a field);
//  output in out.
static int s_run_retry_in (proc_t *p, char *out, const char *line, const char *stdin_from,
                           const char *shell)
{
    const char *timeout = strstr (line, " --timeout 300 ");
    assert_non_null (timeout);
    //  The line holds both kinds of quotes: it goes to sh -c from a file.
    char path[128];
    snprintf (path, sizeof path, "%s/retry.sh", p->dir);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fprintf (file, "\"$SHOAL\" %.*s --timeout 10000 %s\n", (int) (timeout - line), line,
             timeout + strlen (" --timeout 300 "));
    fclose (file);
    return proc_run (p, out, NULL, "SHOAL=\"$SHOAL\" %s -c \"$(cat \"$DIR/retry.sh\")\" <%s", shell,
                     stdin_from);
}

static int s_run_retry (proc_t *p, char *out, const char *line, const char *stdin_from)
{
    return s_run_retry_in (p, out, line, stdin_from, "sh");
}

static void test_retry_input_stdin (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    proc_node_start (p, NODE);
    assert_int_equal (
        proc_run (p, out, NULL,
                  "printf '%%s' '{\"by\":6,\"note\":\"it'\\''s a\\nb \\\"q\\\" \\u00e9 $x\","
                  "\"price\":12.50,\"zero\":-0.0,\"big\":1e300,\"n\":null,\"t\":true,"
                  "\"raw\":{\"$bytes\":\"AAEC/w==\"},\"items\":[{\"sku\":\"a\",\"qty\":2},[]],"
                  "\"u\":18446744073709551615,\"neg\":-9223372036854775808,\"-dash\":1,"
                  "\"a:\":{}}' >\"$DIR/in.json\""),
        0);
    char *line = s_retry_line (p, err,
                               "$SHOAL send --endpoint $E --timeout 300 --input - counter/in Add "
                               "extra=1 <\"$DIR/in.json\"");
    assert_null (strstr (line, "--input"));
    assert_null (strstr (line, "#"));
    assert_has (line, "--timeout 300 -- counter/in Add by:=6 'note:=\"it'\\''s a\\nb \\\"q\\\" ");
    assert_has (line, " price:=12.5 zero:=-0.0 big:=1e+300 n:=null t:=true "
                      "'raw:={\"$bytes\":\"AAEC/w==\"}' "
                      "'items:=[{\"sku\":\"a\",\"qty\":2},[]]' u:=18446744073709551615 "
                      "neg:=-9223372036854775808 -dash:=1 'a::={}' extra=1");
    assert_int_equal (s_run_retry (p, out, line, "/dev/null"), 0);
    assert_has (out, "\"value\":6");
    assert_int_equal (proc_run (p, out, NULL, "$SHOAL events --endpoint $E counter/in"), 0);
    assert_int_equal (s_count (out, "\"Added\""), 1);

    //  A key with '=': the line reads stdin again, and says so.
    assert_int_equal (proc_run (p, out, NULL, "printf '{\"by\":2,\"a=b\":1}' >\"$DIR/eq.json\""),
                      0);
    line = s_retry_line (p, err,
                         "$SHOAL send --endpoint $E --timeout 300 --input - counter/eq Add "
                         "<\"$DIR/eq.json\"");
    assert_has (line, "--input - --timeout 300 counter/eq Add  # with the same JSON on stdin "
                      "again");
    *strchr (line, '#') = 0;
    assert_int_equal (s_run_retry (p, out, line, "\"$DIR/eq.json\""), 0);
    assert_has (out, "\"value\":2");
    assert_int_equal (proc_run (p, out, NULL, "$SHOAL events --endpoint $E counter/eq"), 0);
    assert_int_equal (s_count (out, "\"Added\""), 1);
}

//  --------------------------------------------------------------------------
//  6c. The retry line shows what runs: a field holding control bytes (CR,
//  ESC, a trailing newline) is written as key:=JSON, whose escapes are
//  ASCII, so the line has no control byte but its final newline, and sh
//  runs it as the first request's duplicate; a word starting with '='
//  (zsh's =name) is quoted. A field whose key holds one can only be
//  written as $'...', and the line says it is for bash, zsh or ksh.

static void test_retry_control_bytes (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    proc_node_start (p, NODE);
    char *line =
        s_retry_line (p, err,
                      "n=$(printf 'a\\rb\\033[31mc\\n_'); n=${n%%_}; $SHOAL send "
                      "--endpoint $E --timeout 300 --id =r9 counter/cr Add by=3 \"note=$n\"");
    size_t len = strlen (line);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) line[i] < 0x20 || line[i] == 0x7f)
            fail_msg ("byte 0x%02x at %zu in the retry line: %s", line[i], i, line);
    assert_int_equal (line[len + 1], 0); //  its newline was the last byte
    assert_has (line, "--id '=r9' ");
    assert_has (line, " counter/cr Add by=3 'note:=\"a\\rb\\u001b[31mc\\n\"'");
    assert_null (strstr (line, "#"));
    assert_int_equal (s_run_retry (p, out, line, "/dev/null"), 0);
    assert_has (out, "\"value\":3");
    assert_int_equal (proc_run (p, out, NULL, "$SHOAL events --endpoint $E counter/cr"), 0);
    assert_int_equal (s_count (out, "\"Added\""), 1);

    //  A key with a control byte: $'...', for bash.
    line = s_retry_line (p, err,
                         "k=$(printf 'k\\001'); $SHOAL send --endpoint $E --timeout 300 "
                         "counter/ck Add by=2 \"$k=v\"");
    assert_has (line, " counter/ck Add by=2 $'k\\001=v'  # in bash, zsh or ksh (it has $'...' "
                      "quoting)");
    assert_int_equal (s_run_retry_in (p, out, line, "/dev/null", "bash"), 0);
    assert_has (out, "\"value\":2");
    assert_int_equal (proc_run (p, out, NULL, "$SHOAL events --endpoint $E counter/ck"), 0);
    assert_int_equal (s_count (out, "\"Added\""), 1);
}

//  --------------------------------------------------------------------------
//  7. A request too big to send is bad input (exit 2), with its size and
//  the limit, never "no answer" with a retry to offer: nothing was sent.

static void test_too_big (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    proc_node_start (p, NODE);
    //  11 fields of 100,000 bytes.
    assert_int_equal (
        proc_run (p, out, err,
                  "big=$(head -c 100000 /dev/zero | tr '\\0' a); $SHOAL send --endpoint $E "
                  "account/in9 Open owner=x p1=$big p2=$big p3=$big p4=$big p5=$big p6=$big "
                  "p7=$big p8=$big p9=$big p10=$big p11=$big"),
        2);
    assert_has (err, "shoal send: the request is too big: its fields are 1100");
    assert_has (err, "bytes, and a request may have 1048576 bytes (1 MiB) in all; nothing was "
                     "sent\n");
    assert_null (strstr (err, "etry"));
    //  A JSON file of 2,000,000 bytes.
    assert_int_equal (proc_run (p, out, err,
                                "{ printf '{\"owner\":\"x\",\"p\":\"'; head -c 2000000 /dev/zero "
                                "| tr '\\0' a; printf '\"}'; } >$DIR/big.json; $SHOAL send "
                                "--endpoint $E --input $DIR/big.json account/in9 Open"),
                      2);
    assert_has (err, "shoal send: the request is too big: its fields are 2000");
    assert_null (strstr (err, "etry"));
    //  Nothing reached the account.
    assert_int_equal (proc_run (p, out, NULL, "$SHOAL events --endpoint $E account/in9"), 0);
    assert_null (strstr (out, "Opened"));
}

//  --------------------------------------------------------------------------
//  8. A number that is not finite (1e400 reads as inf; json-c takes NaN
//  and Infinity) is bad input, in --input and in key:=JSON, naming its
//  field: JSON prints it as null, so its retry line would send another
//  request. Nothing is sent.

static void test_non_finite (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    proc_node_start (p, NODE);
    assert_int_equal (proc_run (p, out, err,
                                "printf '{\"by\":1,\"x\":1e400}' | $SHOAL send --endpoint $E "
                                "--input - counter/nf Add"),
                      2);
    assert_has (err, "field 'x': 1e400 is not a finite number");
    assert_null (strstr (err, "etry"));
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL send --endpoint $E counter/nf Add by=1 'y:=-1e400'"), 2);
    assert_has (err, "field 'y': -1e400 is not a finite number");
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL send --endpoint $E counter/nf Add by=1 'z:=[1,NaN]'"), 2);
    assert_has (err, "field 'z': NaN is not a finite number");
    assert_int_equal (proc_run (p, out, err,
                                "$SHOAL send --endpoint $E counter/nf Add by=1 "
                                "'w:={\"a\":-Infinity}'"),
                      2);
    assert_has (err, "field 'w': -Infinity is not a finite number");
    //  Nothing reached the counter; a finite double still goes.
    assert_int_equal (proc_run (p, out, NULL, "$SHOAL events --endpoint $E counter/nf"), 0);
    assert_null (strstr (out, "Added"));
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL send --endpoint $E counter/nf Add by=1 v:=1e300"), 0);
    assert_has (out, "\"value\":1");
}

//  Starts `shoal send --endpoint E --timeout MS ADDRESS NAME FIELD...` (at
//  most 2 fields) with its stdout on *reply_fd, its stderr appended to
//  DIR/clients.log. Returns its pid.
static pid_t s_send_started (proc_t *p, int *reply_fd, const char *timeout_ms, const char *address,
                             const char *name, const char *field, const char *other)
{
    char log[160];
    snprintf (log, sizeof log, "%s/clients.log", p->dir);
    char *argv[] = {(char *) proc_bin (), "send",        "--endpoint",
                    p->endpoint,          "--timeout",   (char *) timeout_ms,
                    (char *) address,     (char *) name, (char *) field,
                    (char *) other,       NULL};
    return proc_spawn (argv, log, reply_fd);
}

//  Waits at most 20 s for the file at path to be there.
static void s_wait_file (const char *path)
{
    int64_t deadline = proc_now_ms () + 20000;
    while (access (path, F_OK) != 0) {
        if (proc_now_ms () > deadline)
            fail_msg ("%s did not come within 20 s", path);
        usleep (10000); //  a poll of the deadline's loop
    }
}

//  Starts the node, and names the gate of counter's Hold: go (the file that
//  lets it go on), held (the file it makes when it holds) and path (the
//  Hold's field naming go).
#define GATE_MAX 128
static void s_gated_node (proc_t *p, char go[GATE_MAX], char held[GATE_MAX + 8],
                          char path[GATE_MAX + 8])
{
    proc_node_start (p, NODE);
    snprintf (go, GATE_MAX, "%s/go", p->dir);
    snprintf (held, GATE_MAX + 8, "%s.held", go);
    snprintf (path, GATE_MAX + 8, "path=%s", go);
}

//  Lets a held Hold go on.
static void s_open_gate (const char *go)
{
    FILE *file = fopen (go, "w");
    assert_non_null (file);
    fclose (file);
}

//  Reads the reply line of a client of s_send_started (at most ms to
//  come) into line, then reaps the client; fails unless it said ok and
//  exited 0.
static void s_answered (proc_t *p, pid_t *client, int reply_fd, int64_t ms, char *line, size_t size)
{
    bool answered = proc_read_line_until (reply_fd, "\"ok\":true", line, size, (int) ms);
    close (reply_fd);
    int rc = proc_wait_exit (*client, 5000);
    if (rc < 0)
        proc_kill (client);
    *client = 0;
    if (!answered || rc != 0) {
        char log[PROC_OUTPUT_MAX];
        proc_read (p, "clients.log", log);
        fail_msg ("no ok answer within %lld ms (exit %d): %s", (long long) ms, rc, log);
    }
}

//  A command its node took and lost: the node is SIGKILLed while the
//  turn runs (counter's Hold, held until a file comes), so nothing of it
//  was committed. The client, which sends it again under its id every
//  second meanwhile, is answered once the node is back, well within its
//  timeout (60 s), and the command took effect once, however many copies
//  came.
static void test_resent_after_crash (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], line[1024], go[GATE_MAX], held[GATE_MAX + 8], path[GATE_MAX + 8];
    s_gated_node (p, go, held, path);
    int reply_fd = -1;
    pid_t client = s_send_started (p, &reply_fd, "60000", "counter/h", "Hold", path, "by=7");
    s_wait_file (held);
    proc_node_signal (p, SIGKILL);
    s_open_gate (go);
    proc_node_start (p, NODE);
    s_answered (p, &client, reply_fd, 15000, line, sizeof line);
    assert_has (line, "\"value\":7");
    assert_int_equal (proc_run (p, out, NULL, "$SHOAL events --endpoint $E counter/h"), 0);
    assert_int_equal (s_count (out, "\"Added\""), 1);
    assert_int_equal (proc_run (p, out, NULL, "$SHOAL get --endpoint $E counter/h"), 0);
    assert_has (out, "\"value\":7");
}

//  Copies of a command queued behind a held turn: the first fails
//  (counter's Flaky: its handler errs every other run, and a failure is
//  not stored), the second runs. The client, which has sent copies, does
//  not take the first copy's handler_error for the answer, since another
//  copy may still run: it waits, and says what the copy that ran did,
//  with the one effect it had.
static void test_copy_failed_then_ran (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], line[1024], go[GATE_MAX], held[GATE_MAX + 8], path[GATE_MAX + 8];
    s_gated_node (p, go, held, path);
    //  The Hold sent once (it gives up before a copy would go), so that
    //  the worker's queue holds the Flaky's copies alone.
    int flaky_fd = -1;
    pid_t holder = s_send_started (p, NULL, "900", "counter/f", "Hold", path, NULL);
    s_wait_file (held);
    pid_t flaky = s_send_started (p, &flaky_fd, "60000", "counter/f", "Flaky", NULL, NULL);
    //  Two copies of the Flaky queued behind the Hold, as the worker's
    //  queue counts them in bytes.
    int64_t deadline = proc_now_ms () + 20000;
    long one = 0;
    while ((one = s_stat (p, "queued_bytes")) == 0 && proc_now_ms () < deadline)
        usleep (10000); //  a poll of the deadline's loop
    while (one > 0 && s_stat (p, "queued_bytes") < 2 * one && proc_now_ms () < deadline)
        usleep (10000); //  a poll of the deadline's loop
    if (one == 0 || s_stat (p, "queued_bytes") < 2 * one) {
        proc_kill (&flaky);
        proc_kill (&holder);
        fail_msg ("two copies of the Flaky were not queued within 20 s");
    }
    s_open_gate (go);
    s_answered (p, &flaky, flaky_fd, 15000, line, sizeof line);
    if (proc_wait_exit (holder, 5000) < 0) //  it gave up on its answer (exit 3)
        proc_kill (&holder);
    assert_has (line, "\"value\":1");
    assert_int_equal (proc_run (p, out, NULL, "$SHOAL events --endpoint $E counter/f"), 0);
    assert_int_equal (s_count (out, "\"Added\""), 1);
}

int main (void)
{
    if (!getenv ("SHOAL_BIN") || !getenv ("SHOAL_TEST_MODULE")) {
        fprintf (stderr, "test_idempotency: run through ctest\n");
        return 1;
    }
    signal (SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_id_reused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_first_reply_before_events, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_timeout_shows_retry, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_retry_past_retention, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_transfer_id_reused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_long_ids, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_retry_options_after_arguments, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_retry_input_stdin, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_retry_control_bytes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_too_big, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_non_finite, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_resent_after_crash, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_copy_failed_then_ran, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
