/*  test_query_pages.c - `shoal query` over rows whose answer would pass a
    reply's limit (1 MiB), against a real node on ipc:// in the test's own
    directory (proc.h), with tests/projection_module.c's fat@1: its rows
    are as many KiB as the Add that made them says.

    1. Twelve rows of 200 KiB (2.4 MB in all): --all --limit 12 gives all
       twelve, in key order, as one whole JSON document; --limit 5 the
       first five, truncated; a prefix pages the same way. 1b: pages read
       while the projection moves are said not to be one moment's.
    2. A row of 700 KiB goes alone in its page; a row of 1.1 MiB, which no
       reply holds, fails the apply that puts it, naming it, and is never
       kept; the rows before it are answered, and a skip goes on.
    3. projection_rows itself: limit rows a page, next the key the next
       starts from, from honoured within the prefix; from with a key, or
       not a string, refused as invalid.
    4. A cluster of two: each node's pages followed, the rows merged.

    Every wait polls a condition against a deadline.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "client.h"
#include "cluster.h"
#include "proc.h"
#include "shard.h"

#include <msgpack.h>

#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NODE                                                                                       \
    "$SHOAL node --endpoint $E --data $DIR/data --workers 2 --metrics off --module "               \
    "\"$SHOAL_PROJECTION_MODULE\" --module-opt projection.fat=1"
#define WAIT_MS 30000 //  a projection catching up, on a busy machine
//  Reads $DIR/q.json, one `shoal query --json` answer, and prints "rows N
//  truncated B keys K,K,... pads P,P,..." (pads: each row's pad in KiB).
#define SUMMARY                                                                                    \
    "python3 -c 'import json, sys; d = json.load (open (sys.argv[1])); print (\"rows\", "          \
    "len (d[\"rows\"]), \"truncated\", d[\"truncated\"], \"keys\", \",\".join (r[\"key\"] for r "  \
    "in d[\"rows\"]), \"pads\", \",\".join (str (len (r[\"row\"][\"pad\"]) // 1024) for r in "     \
    "d[\"rows\"]))' $DIR/q.json"

#define CLUSTER_NODES 2

//  The cluster's nodes (test 4), killed by the teardown if a test fails first.
static pid_t s_cluster[CLUSTER_NODES];

static void s_cluster_kill (int i)
{
    proc_kill (&s_cluster[i]);
}

static int s_setup (void **state)
{
    *state = proc_new ("test-qpages");
    return 0;
}

static int s_teardown (void **state)
{
    proc_t *p = *state;
    for (int i = 0; i < CLUSTER_NODES; i++)
        s_cluster_kill (i);
    proc_destroy (&p);
    return 0;
}

//  Runs the shell command (formatted) and fails unless it exits 0.
static void s_ok (proc_t *p, const char *format, ...)
{
    char command[2048], out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    va_list args;
    va_start (args, format);
    vsnprintf (command, sizeof command, format, args);
    va_end (args);
    int code = proc_run (p, out, err, "%s", command);
    if (code != 0)
        fail_msg ("%s: exit %d: %s %s", command, code, out, err);
}

//  Adds item/ID with by KiB: fat@1's row fat/ID of that size.
static void s_add (proc_t *p, const char *id, int kib)
{
    s_ok (p, "$SHOAL send item/%s Add by=%d --endpoint $E", id, kib);
}

//  Waits until every projection has applied every event of the log (the
//  most lag 0).
//  Runs `shoal projections --json` through the Python script (which
//  reads it on stdin and prints a line) until what it prints starts with
//  want, into out; the test fails after WAIT_MS.
static void s_projections_until (proc_t *p, const char *script, const char *want, char *out)
{
    char err[PROC_OUTPUT_MAX];
    int64_t deadline = proc_now_ms () + WAIT_MS;
    while (true) {
        int code = proc_run (p, out, err,
                             "$SHOAL projections --json --endpoint $E | python3 -c 'import json, "
                             "sys; d = json.load (sys.stdin); %s'",
                             script);
        if (code == 0 && strncmp (out, want, strlen (want)) == 0)
            return;
        if (proc_now_ms () > deadline)
            fail_msg ("projections: no '%s' within %d ms (exit %d): %s %s", want, WAIT_MS, code,
                      out, err);
        usleep (50 * 1000); //  between two asks, within the deadline
    }
}

static void s_wait_caught_up (proc_t *p)
{
    char out[PROC_OUTPUT_MAX];
    s_projections_until (p, "print (\"lag\", max (b[\"lag\"] for b in d[\"projections\"]))",
                         "lag 0\n", out);
}

//  Runs `shoal query ARGS --json` into $DIR/q.json and returns its exit;
//  summary gets SUMMARY's line ("" if the JSON is not whole), err its
//  stderr.
static int s_query_json (proc_t *p, const char *args, char *summary, char *err)
{
    char ignored[PROC_OUTPUT_MAX];
    int code =
        proc_run (p, ignored, err, "$SHOAL query %s --json --endpoint $E >$DIR/q.json", args);
    if (proc_run (p, summary, NULL, SUMMARY) != 0)
        summary[0] = 0;
    return code;
}

//  --------------------------------------------------------------------------
//  1. More than a reply holds: pages, followed

static void test_pages_followed (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    proc_node_start (p, NODE);
    s_ok (p, "for i in 01 02 03 04 05 06 07 08 09 10 11 12; do $SHOAL send item/i$i Add by=200 "
             "--endpoint $E >/dev/null || exit 1; done");
    s_wait_caught_up (p);

    //  2.4 MB of rows, four or five pages: all twelve, whole.
    assert_int_equal (s_query_json (p, "fat --all --limit 12", out, err), 0);
    assert_string_equal (out, "rows 12 truncated False keys "
                              "fat/i01,fat/i02,fat/i03,fat/i04,fat/i05,fat/i06,fat/i07,fat/i08,"
                              "fat/i09,fat/i10,fat/i11,fat/i12 pads "
                              "200,200,200,200,200,200,200,200,200,200,200,200\n");
    //  The default limit, 100, asks for more than there are: not truncated.
    assert_int_equal (s_query_json (p, "fat --all", out, err), 0);
    proc_assert_has (out, "rows 12 truncated False ");
    //  One row a line: twelve lines.
    assert_int_equal (proc_run (p, out, err,
                                "$SHOAL query fat --all --limit 12 --endpoint $E | "
                                "python3 -c 'import json, sys; print (\"lines\", "
                                "len ([json.loads (l) for l in sys.stdin]))'"),
                      0);
    assert_string_equal (out, "lines 12\n");

    //  --limit 5: the first five, and there are more.
    assert_int_equal (s_query_json (p, "fat --all --limit 5", out, err), 0);
    proc_assert_has (out, "rows 5 truncated True keys fat/i01,fat/i02,fat/i03,fat/i04,fat/i05 ");
    assert_int_equal (proc_run (p, out, err,
                                "$SHOAL query fat --all --limit 5 --endpoint $E | "
                                "wc -l"),
                      0);
    assert_string_equal (out, "5\n");
    proc_assert_has (err, "shoal query: the first 5 rows (--limit); there are more: --from "
                          "fat/i06\n");
    //  Page by page with --from the "next" each gives: every row once, in
    //  order (there was no way past the first 10,000 rows).
    static const char *const pages[][2] = {
        {"", "rows 5 truncated True keys fat/i01,fat/i02,fat/i03,fat/i04,fat/i05 next fat/i06"},
        {"--from fat/i06", "rows 5 truncated True keys fat/i06,fat/i07,fat/i08,fat/i09,fat/i10 "
                           "next fat/i11"},
        {"--from fat/i11", "rows 2 truncated False keys fat/i11,fat/i12 next None"}};
    for (size_t k = 0; k < sizeof pages / sizeof pages[0]; k++) {
        assert_int_equal (proc_run (p, out, err,
                                    "$SHOAL query fat --all --limit 5 %s --json --endpoint $E "
                                    ">$DIR/q.json && python3 -c 'import json, sys; d = json.load "
                                    "(open (sys.argv[1])); print (\"rows\", len (d[\"rows\"]), "
                                    "\"truncated\", d[\"truncated\"], \"keys\", \",\".join "
                                    "(r[\"key\"] for r in d[\"rows\"]), \"next\", d[\"next\"])' "
                                    "$DIR/q.json",
                                    pages[k][0]),
                          0);
        if (strncmp (out, pages[k][1], strlen (pages[k][1])) != 0)
            fail_msg ("page %zu (%s): %s, not %s", k, pages[k][0], out, pages[k][1]);
    }
    //  A key is one row: --from goes with --prefix or --all.
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL query fat fat/i01 --from fat/i02 --endpoint $E"), 2);
    proc_assert_has (err, "--from goes with --prefix or --all; a KEY is one row");

    //  A prefix pages within itself: fat/i1 is i10, i11 and i12.
    assert_int_equal (s_query_json (p, "fat --prefix fat/i1", out, err), 0);
    proc_assert_has (out, "rows 3 truncated False keys fat/i10,fat/i11,fat/i12 ");
    //  A key with a quote in it: the hint's --from reads back in a shell
    //  as that key, pasted (it was written as a C string, 'fat/q\'b', which
    //  a shell reads as an unfinished quote).
    s_ok (p, "for i in \"q'a\" \"q'b\"; do $SHOAL send \"item/$i\" Add by=1 --endpoint $E "
             ">/dev/null || exit 1; done");
    s_wait_caught_up (p);
    assert_int_equal (proc_run (p, out, err,
                                "$SHOAL query fat --prefix \"fat/q'\" --limit 1 --endpoint $E "
                                "2>$DIR/hint.txt && cat $DIR/hint.txt >&2"),
                      0);
    proc_assert_has (err, "there are more: --from 'fat/q'\\''b'\n");
    assert_int_equal (proc_run (p, out, err,
                                "eval \"set -- $(sed -n 's/.*there are more: //p' $DIR/hint.txt)\" "
                                "&& $SHOAL query fat --prefix \"fat/q'\" --limit 1 \"$@\" "
                                "--json --endpoint $E >$DIR/q.json && " SUMMARY),
                      0);
    proc_assert_has (out, "rows 1 truncated False keys fat/q'b ");
    //  The node logged no refusal.
    char log[PROC_OUTPUT_MAX];
    proc_read (p, "node.log", log);
    if (strstr (log, "reply_too_big"))
        fail_msg ("a reply refused as too big: %s", log);
}

//  1b. Pages are not a snapshot: rows of fat/ put while the pages are
//      read come from more than one moment, and the query says so
//      ("consistent":false; in text, from which position to which). It
//      said nothing: a review saw two rows written at every event one
//      event apart under one "position". Still, quiet: consistent.

static void test_pages_moved_said (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    proc_node_start (p, NODE " --projection-linger-ms 0");
    //  Six rows of 300 KiB: three pages or more.
    s_ok (p, "for i in 1 2 3 4 5 6; do $SHOAL send item/i$i Add by=300 --endpoint $E >/dev/null "
             "|| exit 1; done");
    s_wait_caught_up (p);
    assert_int_equal (s_query_json (p, "fat --all", out, err), 0);
    proc_assert_has (out, "rows 6 truncated False ");
    assert_int_equal (proc_run (p, out, err, "grep -c '\"consistent\":true' $DIR/q.json"), 0);
    //  Adds go on beside the queries (bounded: 60 s at most, killed once
    //  the query said it); fat@1 moves with each.
    s_ok (p, "timeout 60 sh -c \"while :; do '$SHOAL' send item/x Add by=1 --endpoint '$E' "
             ">/dev/null; done\" >/dev/null 2>&1 & echo $! >$DIR/adds.pid");
    bool json = false, text = false;
    int64_t deadline = proc_now_ms () + WAIT_MS;
    while (!(json && text) && proc_now_ms () < deadline) {
        if (!json) //  rows of MiBs: into a file, not out
            json = proc_run (p, out, err,
                             "$SHOAL query fat --all --json --endpoint $E >$DIR/q.json && "
                             "grep -q '\"consistent\":false' $DIR/q.json") == 0;
        else {
            proc_run (p, out, err, "$SHOAL query fat --all --endpoint $E >/dev/null");
            text = strstr (err, "shoal query: fat moved from position ") &&
                   strstr (err, "pages are not a snapshot, so rows of different pages may be of "
                                "different moments");
        }
    }
    proc_run (p, NULL, NULL, "kill $(cat $DIR/adds.pid) 2>/dev/null; true");
    if (!json || !text)
        fail_msg ("queries while fat@1 moved never said so (json %d, text %d): %s", json, text,
                  err);
}

//  --------------------------------------------------------------------------
//  2. A row bigger than half a reply, and one bigger than a reply

//  fat@1's state and error, as "STATE at POSITION: ERROR", once it is
//  failed (or WAIT_MS has passed: the test fails).
static void s_fat_stopped (proc_t *p, char *said)
{
    s_projections_until (p,
                         "b = [b for b in d[\"projections\"] if b[\"name\"] == \"fat\"][0]; "
                         "print (b[\"status\"], \"at\", b.get (\"error_position\"), end = \": \"); "
                         "print (b.get (\"error\"))",
                         "failed", said);
}

static void test_big_rows (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    proc_node_start (p, NODE);
    s_add (p, "m1", 700);
    s_add (p, "m2", 700);
    s_add (p, "m3", 1);
    s_wait_caught_up (p);

    //  700 KiB: alone in its page, answered; by key too.
    assert_int_equal (s_query_json (p, "fat --prefix fat/m", out, err), 0);
    assert_string_equal (out, "rows 3 truncated False keys fat/m1,fat/m2,fat/m3 pads 700,700,1\n");
    assert_int_equal (s_query_json (p, "fat fat/m2", out, err), 0);
    assert_string_equal (out, "rows 1 truncated False keys fat/m2 pads 700\n");

    //  1.1 MiB, which no answer holds: the apply that puts it fails,
    //  naming the row, and it is never kept (it was kept, and every query
    //  that reached it was refused reply_too_big).
    s_add (p, "z", 1100);
    s_fat_stopped (p, out);
    assert_string_equal (out, "failed at 3: the row fat/z: more than 1 MiB less 8 KiB (no query "
                              "could answer it)\n");
    char log[PROC_OUTPUT_MAX];
    proc_read (p, "node.log", log);
    proc_assert_has (log, "projection fat@1 stopped at position 3: the row fat/z: more than");
    assert_int_equal (s_query_json (p, "fat --all", out, err), 0);
    assert_string_equal (out, "rows 3 truncated False keys fat/m1,fat/m2,fat/m3 pads 700,700,1\n");

    //  Skipped, it goes on.
    s_ok (p, "$SHOAL projections skip fat@1 3 --reason r --endpoint $E");
    s_add (p, "m4", 2);
    s_wait_caught_up (p);
    assert_int_equal (s_query_json (p, "fat --prefix fat/m", out, err), 0);
    assert_string_equal (
        out, "rows 4 truncated False keys fat/m1,fat/m2,fat/m3,fat/m4 pads 700,700,1,2\n");
}

//  --------------------------------------------------------------------------
//  3. projection_rows: limit, next and from

//  Asks projection_rows with fields ("key=value", as shoal send takes
//  them). Returns "" with the rows' keys in keys ("K,K,...") and next
//  ("-" for nil), or the refusal's code with its reason in keys.
static const char *s_page (proc_t *p, int argc, char **argv, char *keys, size_t size, char *next)
{
    static char code[ENVELOPE_CODE_MAX + 1];
    client_t *client = client_new (p->endpoint);
    assert_non_null (client);
    uint8_t *payload = NULL;
    size_t payload_size = 0;
    char error[128];
    assert_int_equal (client_fields (argc, argv, &payload, &payload_size, error, sizeof error), 0);
    envelope_t request;
    client_request (&request, ENVELOPE_QUERY, NULL, "node/projections", "projection_rows", payload,
                    payload_size);
    client_reply_t reply;
    assert_int_equal (client_call (client, &request, 20000, &reply), 0);
    free (payload);
    client_destroy (&client);
    keys[0] = code[0] = 0;
    strcpy (next, "-");
    if (!reply.ok) {
        snprintf (code, sizeof code, "%s", reply.code);
        snprintf (keys, size, "%s", reply.reason);
        client_reply_close (&reply);
        return code;
    }
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *map = map_unpack (&unpacked, reply.data, reply.size);
    const msgpack_object *rows = map ? map_find (map, "rows") : NULL;
    const msgpack_object *after = map ? map_find (map, "next") : NULL;
    assert_true (rows && rows->type == MSGPACK_OBJECT_ARRAY);
    if (!after)
        fail_msg ("no next in the answer");
    if (after->type == MSGPACK_OBJECT_STR)
        snprintf (next, 64, "%.*s", (int) after->via.str.size, after->via.str.ptr);
    for (uint32_t i = 0; i < rows->via.array.size; i++) {
        char key[64];
        assert_int_equal (map_find_str (&rows->via.array.ptr[i], "key", key, sizeof key), 0);
        snprintf (keys + strlen (keys), size - strlen (keys), "%s%s", i ? "," : "", key);
    }
    msgpack_unpacked_destroy (&unpacked);
    client_reply_close (&reply);
    return code;
}

static void test_from_and_next (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, NODE);
    for (int i = 0; i < 6; i++)
        s_add (p, "a", 1);
    s_wait_caught_up (p);
    char all[512], keys[512], next[64], expected[512];
    char *every[] = {"name=tally", "prefix=seen/"};
    assert_string_equal (s_page (p, 2, every, all, sizeof all, next), "");
    assert_string_equal (next, "-");
    //  tally's rows seen/<position, 12 digits>, one per event.
    char seen[6][32];
    const char *cursor = all;
    for (int i = 0; i < 6; i++) {
        size_t length = strcspn (cursor, ",");
        if (length == 0 || length >= sizeof seen[i])
            fail_msg ("expected six seen/ rows: %s", all);
        snprintf (seen[i], sizeof seen[i], "%.*s", (int) length, cursor);
        cursor += length + (cursor[length] == ',');
    }
    assert_int_equal (*cursor, 0);

    //  Two a page, each naming where the next starts.
    char from[256];
    for (int i = 0; i < 6; i += 2) {
        snprintf (from, sizeof from, "from=%s", seen[i]);
        char *args[] = {"name=tally", "prefix=seen/", "limit=2", from};
        assert_string_equal (s_page (p, i ? 4 : 3, args, keys, sizeof keys, next), "");
        snprintf (expected, sizeof expected, "%s,%s", seen[i], seen[i + 1]);
        assert_string_equal (keys, expected);
        assert_string_equal (next, i < 4 ? seen[i + 2] : "-");
    }
    //  from sorting before the prefix: its first row; after it: none.
    char *before[] = {"name=tally", "prefix=seen/", "from=a"};
    assert_string_equal (s_page (p, 3, before, keys, sizeof keys, next), "");
    assert_string_equal (keys, all);
    char *past[] = {"name=tally", "prefix=seen/", "from=seen/z"};
    assert_string_equal (s_page (p, 3, past, keys, sizeof keys, next), "");
    assert_string_equal (keys, "");
    assert_string_equal (next, "-");
    //  from between two keys: the second; without a prefix, every row.
    snprintf (from, sizeof from, "from=%sx", seen[2]);
    char *between[] = {"name=tally", "prefix=seen/", "limit=1", from};
    assert_string_equal (s_page (p, 4, between, keys, sizeof keys, next), "");
    assert_string_equal (keys, seen[3]);
    assert_string_equal (next, seen[4]);
    char *total[] = {"name=tally", "from=t"};
    assert_string_equal (s_page (p, 2, total, keys, sizeof keys, next), "");
    assert_string_equal (keys, "total");

    //  Refused: from or a prefix with a key (a prefix was dropped without
    //  a word, the key's row answered), from not a string.
    char *with_key[] = {"name=tally", "key=total", "from=a"};
    assert_string_equal (s_page (p, 3, with_key, keys, sizeof keys, next), "invalid");
    assert_string_equal (keys, "from goes with a prefix, not with a key");
    char *prefix_key[] = {"name=tally", "key=total", "prefix=seen/"};
    assert_string_equal (s_page (p, 3, prefix_key, keys, sizeof keys, next), "invalid");
    assert_string_equal (keys, "a prefix lists rows, a key asks for one: not both");
    char *number[] = {"name=tally", "from=5"};
    assert_string_equal (s_page (p, 2, number, keys, sizeof keys, next), "invalid");
    proc_assert_has (keys, "from must be a string");
}

//  --------------------------------------------------------------------------
//  4. A cluster: each node's pages followed, the rows merged

//  Starts node n(i+1) of $DIR/c/cluster.cfg with fat@1 and waits for its
//  ready line.
static void s_cluster_start (proc_t *p, int i)
{
    char cfg[160], name[8], log[160];
    snprintf (cfg, sizeof cfg, "%s/c/cluster.cfg", p->dir);
    snprintf (name, sizeof name, "n%d", i + 1);
    snprintf (log, sizeof log, "%s/n%d.log", p->dir, i + 1);
    char *argv[] = {getenv ("SHOAL_BIN"),
                    "node",
                    "--cluster",
                    cfg,
                    "--name",
                    name,
                    "--workers",
                    "1",
                    "--metrics",
                    "off",
                    "--module",
                    getenv ("SHOAL_PROJECTION_MODULE"),
                    "--module-opt",
                    "projection.fat=1",
                    NULL};
    s_cluster[i] = proc_spawn_ready (argv, log, PROC_START_MS);
    if (!s_cluster[i])
        fail_msg ("node n%d did not start: see %s", i + 1, log);
}

static void test_cluster_pages (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    assert_int_equal (proc_run (p, out, err, "$SHOAL cluster init --nodes 2 --dir $DIR/c --ipc"),
                      0);
    for (int i = 0; i < CLUSTER_NODES; i++)
        s_cluster_start (p, i);
    //  Four items of 300 KiB on each node (1.2 MB), sent to its owner.
    char path[128], *error = NULL;
    snprintf (path, sizeof path, "%s/c/cluster.cfg", p->dir);
    cluster_t *cluster = cluster_load (path, &error);
    assert_non_null (cluster);
    int owned[CLUSTER_NODES] = {0};
    for (int k = 0; owned[0] < 4 || owned[1] < 4; k++) {
        char address[32];
        snprintf (address, sizeof address, "item/i%02d", k);
        int owner = cluster_owner (cluster, shoal_shard (address, cluster_shards (cluster)));
        if (owned[owner] == 4)
            continue;
        owned[owner]++;
        s_ok (p, "$SHOAL send %s Add by=300 --cluster $DIR/c/cluster.cfg --node n%d", address,
              owner + 1);
    }
    //  An account on each node: bank_totals has a row "totals" on both.
    bool opened[CLUSTER_NODES] = {false};
    for (int k = 0; !opened[0] || !opened[1]; k++) {
        char address[32];
        snprintf (address, sizeof address, "account/a%02d", k);
        int owner = cluster_owner (cluster, shoal_shard (address, cluster_shards (cluster)));
        if (opened[owner])
            continue;
        opened[owner] = true;
        s_ok (p, "$SHOAL send %s Open owner=q --cluster $DIR/c/cluster.cfg --node n%d", address,
              owner + 1);
    }
    cluster_destroy (&cluster);
    //  Both nodes caught up: eight rows, four from each, in key order.
    const char *query = "$SHOAL query fat --all --cluster $DIR/c/cluster.cfg";
    int64_t deadline = proc_now_ms () + WAIT_MS;
    while (true) {
        int code = proc_run (p, out, err, "%s --json >$DIR/q.json", query);
        if (proc_run (p, out, NULL, SUMMARY) == 0 && code == 0 && strstr (out, "rows 8 "))
            break;
        if (proc_now_ms () > deadline)
            fail_msg ("no eight rows within %d ms (exit %d): %s %s", WAIT_MS, code, out, err);
        usleep (50 * 1000);
    }
    proc_assert_has (out, "rows 8 truncated False ");
    proc_assert_has (out, " pads 300,300,300,300,300,300,300,300\n");
    assert_int_equal (proc_run (p, out, err,
                                "python3 -c 'import json, sys; d = json.load (open (sys.argv[1])); "
                                "k = [r[\"key\"] for r in d[\"rows\"]]; print (k == sorted (k), "
                                "sorted (r[\"node\"] for r in d[\"rows\"]))' $DIR/q.json"),
                      0);
    assert_string_equal (out, "True ['n1', 'n1', 'n1', 'n1', 'n2', 'n2', 'n2', 'n2']\n");
    //  --limit 5: each node gives its 4, the merge keeps the first 5.
    assert_int_equal (proc_run (p, out, err, "%s --limit 5 --json >$DIR/q.json", query), 0);
    assert_int_equal (proc_run (p, out, NULL, SUMMARY), 0);
    proc_assert_has (out, "rows 5 truncated True ");
    //  Page by page with --from the "next" each gives, three a page: the
    //  eight rows once each, in order (as one query gives them), and an end.
#define KEYS_OF                                                                                    \
    "python3 -c 'import json, sys; print (\" \".join (r[\"key\"] for r in json.load (open "        \
    "(sys.argv[1]))[\"rows\"]))' $DIR/q.json"
    assert_int_equal (
        proc_run (p, out, err,
                  "%s --json >$DIR/q.json && full=$(" KEYS_OF "); from=''; all=''; "
                  "for page in 1 2 3 4 5 6; do "
                  "%s --limit 3 --json ${from:+--from \"$from\"} >$DIR/q.json || exit 1; "
                  "all=\"$all $(" KEYS_OF ")\"; "
                  "from=$(python3 -c 'import json, sys; print (json.load (open (sys.argv[1]))"
                  "[\"next\"] or \"\")' $DIR/q.json); "
                  "if [ -z \"$from\" ]; then [ \"$all\" = \" $full\" ] && echo pages $page && "
                  "exit 0; echo \"$all, not $full\"; exit 1; fi; done; echo no end",
                  query, query),
        0);
    assert_string_equal (out, "pages 3\n");
#undef KEYS_OF
    //  A key both nodes hold comes whole on one page: "totals" at --limit
    //  1 (following next gave n1's row again, forever: a review's find).
    int64_t until = proc_now_ms () + WAIT_MS;
    while (proc_run (p, out, err,
                     "$SHOAL query bank_totals --all --limit 1 --json --cluster "
                     "$DIR/c/cluster.cfg >$DIR/q.json && python3 -c 'import json, sys; d = "
                     "json.load (open (sys.argv[1])); print (\"rows\", len (d[\"rows\"]), "
                     "\"next\", d[\"next\"])' $DIR/q.json") != 0 ||
           strcmp (out, "rows 2 next None\n") != 0) {
        if (proc_now_ms () > until)
            fail_msg ("bank_totals at --limit 1 over two nodes: %s %s", out, err);
        usleep (50 * 1000); //  a bounded poll: each node's totals come as it catches up
    }
    for (int i = 0; i < CLUSTER_NODES; i++)
        s_cluster_kill (i);
}

int main (void)
{
    if (getenv ("SHOAL_TEST_FILTER"))
        cmocka_set_test_filter (getenv ("SHOAL_TEST_FILTER"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_pages_followed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_pages_moved_said, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_big_rows, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_from_and_next, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_cluster_pages, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
