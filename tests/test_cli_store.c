/*  test_cli_store.c - the command line and a node's store: a refused start
    makes no store, pending with the node down, the client commands
    reading a fake node's impossible numbers (and its reply of nobody's),
    events of an unknown type, send refusing altered fields, follow across
    a restart, shards that do not match. The fixture: cli_test_util.h.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "envelope.h"
#include "harness.h"
#include "utf8.h"

#include <czmq.h>
#include <msgpack.h>

#include <dirent.h>
#include <leveldb/c.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_test_util.h"

//  The number of entries of the directory at path besides . and .., -1
//  if it cannot be read.
static int s_entries (const char *path)
{
    DIR *dir = opendir (path);
    if (!dir)
        return -1;
    int count = 0;
    for (struct dirent *entry = readdir (dir); entry; entry = readdir (dir))
        count += strcmp (entry->d_name, ".") != 0 && strcmp (entry->d_name, "..") != 0;
    closedir (dir);
    return count;
}

//  Writes text to the file at path, or fails the test.
static void s_write_file (const char *path, const char *text)
{
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    assert_int_equal (fputs (text, file) >= 0, 1);
    assert_int_equal (fclose (file), 0);
}

//  Fails the test (saying after what) unless the file at path holds
//  exactly text.
static void s_assert_file (const char *path, const char *text, const char *after)
{
    char held[256] = "";
    FILE *file = fopen (path, "r");
    size_t len = file ? fread (held, 1, sizeof held - 1, file) : 0;
    if (file)
        fclose (file);
    held[len] = '\0';
    if (!file || strcmp (held, text) != 0)
        fail_msg ("%s: %s %s (holds '%s', not '%s')", after, path, file ? "was changed" : "is gone",
                  held, text);
}

//  A start refused for bad input: the modules' variables, the options
//  after "$SHOAL" node --data D --workers 1 --endpoint E, and what it says.
typedef struct {
    const char *env;
    const char *options;
    const char *said;
} refusal_t;

//  Runs the refused start of refusal on the data directory data; fails
//  the test unless it exits 1 saying why, without a ready line.
static void s_refused (fixture_t *fx, const refusal_t *refusal, const char *data)
{
    char out[OUTPUT_MAX], err[OUTPUT_MAX];
    int code = cli_run (fx, out, err,
                        "CLASH='%s'; COUNTER='%s'; %s timeout 30 \"$SHOAL\" node --data '%s' "
                        "--workers 1 --metrics off --endpoint '%s' %s",
                        getenv ("SHOAL_CLASH_MODULE"), getenv ("SHOAL_TEST_MODULE"), refusal->env,
                        data, fx->endpoint, refusal->options);
    if (code != 1 || !strstr (err, refusal->said) || strstr (out, "ready on"))
        fail_msg ("%s on %s: exit %d, stderr: %s", refusal->options, data, code, err);
}

//  A start refused for bad input (a module whose init fails, an option for
//  no module, a type clash) changes nothing: on a new data directory it
//  leaves no store (before, it left one with its shard count fixed, and a
//  later --shards 8 was refused), neither the directories it made nor
//  anything in an empty one; a store that was there keeps its data and
//  its shards.
static void test_refused_start_makes_no_store (void **state)
{
    fixture_t *fx = *state;
    static const refusal_t cases[] = {
        {"COUNTER_MODULE_FAIL=1", "--module \"$COUNTER\"",
         "counter.so failed to start: its shoal_module_init returned -1 (invalid argument)\n"},
        {"", "--module \"$COUNTER\" --module-opt countr.start=10",
         "shoal node: --module-opt countr.start: no module countr is loaded"},
        {"CLASH_TYPE=account", "--module \"$CLASH\"",
         "failed to start: actor type 'account' already exists"},
        {"CLASH_TYPE=node", "--module \"$CLASH\"",
         "failed to start: actor type 'node' is the runtime's"},
        //  A refused registration says which type and why ("invalid
        //  argument" alone before).
        {"CLASH_TYPE=Bad", "--module \"$CLASH\"",
         "failed to start: actor type name 'Bad' is not 1 to 63 bytes of [a-z0-9_-] starting "
         "with a letter"},
        //  Refused even when the module's init does not pass the refusal
        //  on (it started, without the type).
        {"CLASH_TYPE=node CLASH_IGNORE=1", "--module \"$CLASH\"",
         "failed to start: actor type 'node' is the runtime's"},
        //  A projection's refusal says why ("invalid argument" alone).
        {"CLASH_PROJECTION=p CLASH_PROJECTION_VERSION=0", "--module \"$CLASH\"",
         "failed to start: projection 'p': version must be 1 or more"},
        //  An events list of more words than a node matches (the words
        //  past 32 were dropped: their events never applied).
        {"CLASH_PROJECTION=p CLASH_PROJECTION_EVENTS=\"$(seq -f t%g 33 | xargs)\"",
         "--module \"$CLASH\"", "failed to start: projection 'p': events lists more than 32 words"},
        //  (A host name where ZeroMQ binds an interface's is bad usage
        //  now, refused before the store: test_cli_usage.)
    };
    size_t count = sizeof cases / sizeof cases[0];
    char ready[OUTPUT_MAX], out[OUTPUT_MAX], err[OUTPUT_MAX], top[160], data[192], empty[160];
    snprintf (top, sizeof top, "%s/new", fx->dir);
    snprintf (data, sizeof data, "%s/d", top); //  neither is there yet
    snprintf (empty, sizeof empty, "%s/empty", fx->dir);
    assert_int_equal (mkdir (empty, 0755), 0);
    struct stat st;
    for (size_t i = 0; i < count; i++) {
        s_refused (fx, &cases[i], data);
        if (stat (top, &st) == 0)
            fail_msg ("%s left %s (%d entries in %s)", cases[i].options, top, s_entries (data),
                      data);
        s_refused (fx, &cases[i], empty);
        if (s_entries (empty) != 0)
            fail_msg ("%s left %d entries in %s", cases[i].options, s_entries (empty), empty);
    }

    //  A directory that holds other files but no store is left alone: the
    //  store the start made stays, and the files too (the undo once took
    //  LOG.old, the user's LOG that LevelDB renames when it opens, and
    //  kept LevelDB's LOG). One directory for each case: a second open
    //  would rename LevelDB's own LOG over LOG.old.
    static const char user_log[] = "the user's own LOG\n", user_notes[] = "notes\n";
    for (size_t i = 0; i < count; i++) {
        char user[160], log[192], log_old[192], notes[192], made[192];
        snprintf (user, sizeof user, "%s/user%zu", fx->dir, i);
        snprintf (made, sizeof made, "%s/CURRENT", user);
        snprintf (log, sizeof log, "%s/LOG", user);
        snprintf (log_old, sizeof log_old, "%s/LOG.old", user);
        snprintf (notes, sizeof notes, "%s/notes", user);
        assert_int_equal (mkdir (user, 0755), 0);
        s_write_file (log, user_log);
        s_write_file (notes, user_notes);
        s_refused (fx, &cases[i], user);
        s_assert_file (notes, user_notes, cases[i].options);
        //  A module's refusal comes before the store is opened: none made
        //  (a misspelt --module-opt was refused after, leaving one).
        if (strstr (cases[i].options, "--module") && access (made, F_OK) == 0)
            fail_msg ("%s made a store in %s, which holds other files", cases[i].options, user);
        //  A start refused before it opened the store (a module's)
        //  leaves the user's LOG as it was; one refused after, where
        //  LevelDB's open renamed it.
        if (access (log_old, F_OK) == 0)
            s_assert_file (log_old, user_log, cases[i].options);
        else
            s_assert_file (log, user_log, cases[i].options);
    }

    //  A relative --data, and a module whose init calls chdir to where a
    //  directory of the same name holds files of a store's names: the
    //  undo takes back the store made, not those (it went by path, and
    //  removed them).
    char elsewhere[160], decoy[192], decoy_current[224], decoy_log[224], rel[160];
    snprintf (elsewhere, sizeof elsewhere, "%s/elsewhere", fx->dir);
    snprintf (decoy, sizeof decoy, "%s/rel", elsewhere);
    snprintf (decoy_current, sizeof decoy_current, "%s/CURRENT", decoy);
    snprintf (decoy_log, sizeof decoy_log, "%s/LOG", decoy);
    snprintf (rel, sizeof rel, "%s/rel", fx->dir);
    assert_int_equal (mkdir (elsewhere, 0755), 0);
    assert_int_equal (mkdir (decoy, 0755), 0);
    s_write_file (decoy_current, user_notes);
    s_write_file (decoy_log, user_log);
    int code = cli_run (fx, out, err,
                        "cd \"$DIR\" && COUNTER_MODULE_FAIL=1 COUNTER_MODULE_CHDIR='%s' timeout 30 "
                        "\"$SHOAL\" node --data rel --workers 1 --metrics off --endpoint '%s' "
                        "--module '%s'",
                        elsewhere, fx->endpoint, getenv ("SHOAL_TEST_MODULE"));
    if (code != 1 || !strstr (err, "failed to start"))
        fail_msg ("a module that calls chdir: exit %d, stderr: %s", code, err);
    s_assert_file (decoy_current, user_notes, "a module that calls chdir");
    s_assert_file (decoy_log, user_log, "a module that calls chdir");
    if (stat (rel, &st) == 0)
        fail_msg ("a module that calls chdir: left %s (%d entries)", rel, s_entries (rel));

    //  A module that crashes in its init (ABORT): the log's last line names
    //  it; one that calls exit (0) there (EXIT): exit 1, said (it exited 0
    //  with nothing said, as a clean stop). No store is made either way
    //  (the store was opened first, and stayed, its shard count fixed).
    for (int exits = 0; exits < 2; exits++) {
        code = cli_run (fx, out, err,
                        "COUNTER_MODULE_%s=1 timeout 30 \"$SHOAL\" node --data '%s' --workers 1 "
                        "--metrics off --endpoint '%s' --module '%s'",
                        exits ? "EXIT" : "ABORT", data, fx->endpoint, getenv ("SHOAL_TEST_MODULE"));
        if (exits ? code != 1 || !strstr (err, "called exit() while it was loading: the node did "
                                               "not start")
                  : code == 0 || code == 1 || !strstr (err, "shoal node: loading module "))
            fail_msg ("a module that %s in its init: exit %d, stderr: %s",
                      exits ? "exits" : "aborts", code, err);
        if (stat (top, &st) == 0)
            fail_msg ("a module that %s in its init left %s", exits ? "exits" : "aborts", top);
    }
    //  One that changes the working directory and starts: the relative
    //  --data is where it was given (the node changes it back).
    char moved[192];
    snprintf (moved, sizeof moved, "%s/moved", elsewhere);
    cli_node_start (fx, ready,
                    "env -C \"$DIR\" COUNTER_MODULE_CHDIR='%s' \"$SHOAL\" node --data moved "
                    "--workers 1 --metrics off --endpoint '%s' --module '%s'",
                    elsewhere, fx->endpoint, getenv ("SHOAL_TEST_MODULE"));
    assert_int_equal (cli_node_stop (fx, SIGTERM), 0);
    char moved_here[192];
    snprintf (moved_here, sizeof moved_here, "%s/moved/CURRENT", fx->dir);
    if (stat (moved_here, &st) != 0 || stat (moved, &st) == 0)
        fail_msg ("the store of --data moved is not in %s/moved, or is in %s", fx->dir, moved);

    //  After them the store is new: it takes --shards.
    const char *node = "\"$SHOAL\" node --data '%s' --workers 1 --metrics off --endpoint '%s' %s";
    cli_node_start (fx, ready, node, data, fx->endpoint, "--shards 8");
    if (!strstr (ready, "8 shards"))
        fail_msg ("not 8 shards: %s", ready);
    assert_int_equal (cli_run (fx, out, err,
                               "\"$SHOAL\" send --endpoint '%s' account/k Open owner=k && "
                               "\"$SHOAL\" send --endpoint '%s' account/k Deposit amount=7",
                               fx->endpoint, fx->endpoint),
                      0);
    assert_int_equal (cli_node_stop (fx, SIGTERM), 0);

    //  On that store the same starts are refused, and take nothing from it.
    char current[224];
    snprintf (current, sizeof current, "%s/CURRENT", data);
    for (size_t i = 0; i < count; i++) {
        s_refused (fx, &cases[i], data);
        if (stat (current, &st) != 0)
            fail_msg ("%s removed %s", cases[i].options, current);
    }
    cli_node_start (fx, ready, node, data, fx->endpoint, "");
    if (!strstr (ready, "8 shards"))
        fail_msg ("not 8 shards: %s", ready);
    assert_int_equal (
        cli_run (fx, out, err, "\"$SHOAL\" get --endpoint '%s' account/k", fx->endpoint), 0);
    if (!strstr (out, "\"balance\":7"))
        fail_msg ("the deposit is gone: %s", out);
}

//  `shoal pending` against a node that does not answer says so, exits 3,
//  and does not say that nothing is pending (it does not know).
static void test_pending_node_down (void **state)
{
    fixture_t *fx = *state;
    char out[OUTPUT_MAX], err[OUTPUT_MAX];
    int code = cli_run (
        fx, out, err,
        "timeout 30 \"$SHOAL\" pending --endpoint 'ipc://%s/nobody.ipc' --timeout 300", fx->dir);
    assert_int_equal (code, 3);
    //  On stderr, as every error (it was on stdout, without the prefix).
    if (!strstr (err, "shoal pending: node ipc://") ||
        !strstr (err, "did not answer within 300 ms"))
        fail_msg ("no line about the node on stderr: %s", err);
    if (strstr (out, "no command is pending"))
        fail_msg ("says nothing is pending with no node answering: %s", out);
    //  explain --json says it on stdout too (it printed nothing there).
    code = cli_run (fx, out, err,
                    "timeout 30 \"$SHOAL\" explain --json --endpoint 'ipc://%s/nobody.ipc' "
                    "--timeout 300 account/a",
                    fx->dir);
    assert_int_equal (code, 3);
    if (!strstr (out, "{\"ok\":false,\"address\":\"account/a\",\"code\":\"no_answer\","))
        fail_msg ("explain --json, no node: %s", out);
}

//  --------------------------------------------------------------------------
//  A fake node: a ROUTER of the test's own on ipc:// in the test's
//  directory, run on a czmq actor of this process, that answers each
//  request with numbers no real node sends, but that msgpack carries and a
//  node (or whatever answers on its endpoint) may send: the client must
//  print them, not crash (a difference of two of them overflowed; the
//  sanitizer build aborted).

//  Packs "key": value into pk.
static void s_pack_int (msgpack_packer *pk, const char *key, int64_t value)
{
    msgpack_pack_str_with_body (pk, key, strlen (key));
    msgpack_pack_int64 (pk, value);
}

static void s_pack_str (msgpack_packer *pk, const char *key, const char *value)
{
    msgpack_pack_str_with_body (pk, key, strlen (key));
    msgpack_pack_str_with_body (pk, value, strlen (value));
}

//  The data of the fake node's answer to the query or command name (its
//  nth stats answer when it is stats: the counters jump between the two
//  samples of top --once), into buffer.
static void s_fake_data (msgpack_sbuffer *buffer, const char *name, int nth)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buffer, msgpack_sbuffer_write);
    if (streq (name, "pending")) {
        msgpack_pack_map (&pk, 4);
        s_pack_int (&pk, "now", INT64_MAX);
        s_pack_int (&pk, "truncated", INT64_MAX);
        msgpack_pack_str_with_body (&pk, "pending", 7);
        msgpack_pack_array (&pk, 1);
        msgpack_pack_map (&pk, 8);
        s_pack_str (&pk, "sender", "account/a");
        s_pack_str (&pk, "command", "Debit");
        s_pack_str (&pk, "target", "account/b");
        s_pack_str (&pk, "id", "0123456789abcdef0123456789abcdef");
        s_pack_int (&pk, "attempts", INT64_MAX);
        s_pack_int (&pk, "first_sent", INT64_MIN);
        s_pack_int (&pk, "last_sent", INT64_MIN);
        msgpack_pack_str_with_body (&pk, "stalled", 7);
        msgpack_pack_true (&pk);
        msgpack_pack_str_with_body (&pk, "timers", 6);
        msgpack_pack_array (&pk, 1);
        msgpack_pack_map (&pk, 2);
        s_pack_str (&pk, "name", "t");
        s_pack_int (&pk, "due", INT64_MIN);
    } else if (streq (name, "stats")) {
        //  From the least to the most: every rate is a difference.
        int64_t value = nth % 2 ? INT64_MAX : INT64_MIN;
        static const char *counters[] = {"accepted", "rejected",    "replies",
                                         "commits",  "records",     "bad_frames",
                                         "busy",     "unavailable", "failures"};
        size_t count = sizeof counters / sizeof counters[0];
        msgpack_pack_map (&pk, count + 3);
        s_pack_int (&pk, "uptime_ms", value);
        for (size_t i = 0; i < count; i++)
            s_pack_int (&pk, counters[i], nth % 2 ? INT64_MAX : 0);
        msgpack_pack_str_with_body (&pk, "commit_latency", 14);
        msgpack_pack_map (&pk, 2);
        msgpack_pack_str_with_body (&pk, "counts", 6);
        msgpack_pack_array (&pk, 3);
        for (int i = 0; i < 3; i++)
            msgpack_pack_uint64 (&pk, nth % 2 ? UINT64_MAX : 0);
        msgpack_pack_str_with_body (&pk, "le_ns", 5);
        msgpack_pack_array (&pk, 2);
        msgpack_pack_uint64 (&pk, UINT64_MAX - 1);
        msgpack_pack_uint64 (&pk, UINT64_MAX);
        s_pack_int (&pk, "stalled", INT64_MAX);
    } else if (streq (name, "busiest")) {
        msgpack_pack_map (&pk, 1);
        msgpack_pack_str_with_body (&pk, "busiest", 7);
        msgpack_pack_array (&pk, 2);
        int64_t messages[] = {INT64_MIN, INT64_MAX}, errors[] = {INT64_MAX, INT64_MIN};
        for (int i = 0; i < 2; i++) {
            msgpack_pack_map (&pk, 4);
            s_pack_str (&pk, "address", i ? "account/b" : "account/a");
            s_pack_int (&pk, "messages", messages[i]);
            s_pack_int (&pk, "error", errors[i]);
            s_pack_int (&pk, "interval_ms", 1000);
        }
    } else if (streq (name, "get")) {
        msgpack_pack_map (&pk, 3);
        s_pack_str (&pk, "address", "account/a");
        s_pack_int (&pk, "version", INT64_MAX);
        msgpack_pack_str_with_body (&pk, "state", 5);
        msgpack_pack_map (&pk, 0);
    } else if (streq (name, "dead_letters")) {
        msgpack_pack_map (&pk, 1);
        msgpack_pack_str_with_body (&pk, "dead_letters", 12);
        msgpack_pack_array (&pk, 1);
        msgpack_pack_map (&pk, 7);
        s_pack_str (&pk, "id", "0123456789abcdef0123456789abcdef");
        s_pack_str (&pk, "address", "account/b");
        s_pack_str (&pk, "state", "dead");
        s_pack_str (&pk, "kind", "command");
        s_pack_int (&pk, "crashes", INT64_MAX);
        s_pack_int (&pk, "last_crash", INT64_MAX);
        s_pack_int (&pk, "decided_at", INT64_MAX);
    } else if (streq (name, "projections")) {
        msgpack_pack_map (&pk, 2);
        s_pack_int (&pk, "end", INT64_MAX);
        msgpack_pack_str_with_body (&pk, "projections", 11);
        msgpack_pack_array (&pk, 1);
        msgpack_pack_map (&pk, 6);
        s_pack_str (&pk, "name", "totals");
        s_pack_str (&pk, "status", "building");
        s_pack_int (&pk, "version", 1);
        s_pack_int (&pk, "build", 1);
        s_pack_int (&pk, "position", INT64_MAX - 1);
        s_pack_int (&pk, "lag", 1);
    } else
        msgpack_pack_map (&pk, 0);
}

//  The fake node's actor: binds a ROUTER at args (an endpoint), signals,
//  and answers every request until $TERM: under the request's id, but for
//  one to account/nil, which it answers ok under a nil correlation (what
//  the node says only of a frame it could not read, and as a refusal).
static void s_fake_node (zsock_t *pipe, void *args)
{
    zsock_t *router = zsock_new_router ((const char *) args);
    zsock_signal (pipe, router ? 0 : 1);
    zpoller_t *poller = router ? zpoller_new (pipe, router, NULL) : NULL;
    int stats = 0;
    while (poller && zpoller_wait (poller, -1) == router) {
        zmsg_t *msg = zmsg_recv (router);
        zframe_t *peer = msg ? zmsg_pop (msg) : NULL, *frame = msg ? zmsg_pop (msg) : NULL;
        envelope_t request;
        if (frame && envelope_decode (&request, zframe_data (frame), zframe_size (frame)) == 0) {
            msgpack_sbuffer data;
            msgpack_sbuffer_init (&data);
            s_fake_data (&data, request.name, streq (request.name, "stats") ? stats++ : 0);
            uint8_t *payload = NULL, *encoded = NULL;
            size_t payload_size, size;
            envelope_t reply = {.kind = ENVELOPE_REPLY, .created = 1};
            envelope_new_id (reply.id);
            if (!streq (request.to, "account/nil"))
                memcpy (reply.correlation, request.id, ENVELOPE_ID_SIZE);
            snprintf (reply.name, sizeof reply.name, "%s", request.name);
            if (envelope_reply_encode (true, "", "", (const uint8_t *) data.data, data.size,
                                       &payload, &payload_size) == 0) {
                reply.payload = payload;
                reply.payload_size = payload_size;
                if (envelope_encode (&reply, &encoded, &size) == 0) {
                    zframe_send (&peer, router, ZFRAME_MORE);
                    zmq_send (zsock_resolve (router), encoded, size, 0);
                }
            }
            free (encoded);
            free (payload);
            msgpack_sbuffer_destroy (&data);
        }
        zframe_destroy (&frame);
        zframe_destroy (&peer);
        zmsg_destroy (&msg);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&router);
}

//  The client commands read a node's numbers without overflowing: pending
//  (text and --json), explain and top --once print a fake node's "now"
//  2^63-1 and "first_sent" -2^63 (their age), its counters jumping from
//  0 to 2^63-1 and its uptime from -2^63 to 2^63-1 (the rates), a
//  truncated count of 2^63-1 (plus the row shown), a busiest row of
//  -2^63 messages less 2^63-1 errors; projections a position of 2^63-2
//  (its progress bar). A time before 1970 is said "?". Each aborted at
//  the overflow in the sanitizer build. And send does not take a reply
//  with a nil correlation that says ok for its answer (it printed
//  "ok":true, exit 0): no answer in time, exit 3.
static void test_numbers_past_the_possible (void **state)
{
    fixture_t *fx = *state;
    char out[OUTPUT_MAX], err[OUTPUT_MAX], endpoint[160];
    snprintf (endpoint, sizeof endpoint, "@%s", fx->endpoint);
    zactor_t *node = zactor_new (s_fake_node, endpoint);
    assert_non_null (node);
    static const struct {
        const char *command;
        int code;
        const char *says;
    } cases[] = {
        {"pending", 0, "9223372036854775807 more"},
        {"pending --json", 0, "\"age_ms\":9223372036854775807,"},
        {"explain account/a", 0, "sent 9223372036854775807 times since ?"},
        {"explain --json account/a", 0, "\"first_sent\":\"?\""},
        {"top --once --interval 100", 0, "STALLED (9223372036854775807)"},
        {"top --once --json --interval 100", 0, "\"errors\":9223372036854775807"},
        {"projections", 0, "99%"},
        {"send --timeout 1000 account/nil Open owner=a", 3, "no answer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int code = cli_run (fx, out, err, "timeout 30 \"$SHOAL\" %s --endpoint '%s'",
                            cases[i].command, fx->endpoint);
        if (code != cases[i].code || (!strstr (out, cases[i].says) && !strstr (err, cases[i].says)))
            fail_msg ("shoal %s: exit %d (not %d), stdout: %s\nstderr: %s", cases[i].command, code,
                      cases[i].code, out, err);
    }
    assert_null (strstr (out, "\"ok\":true"));
    //  A node alone is named by its whole endpoint (cut to 32 bytes, as
    //  a cluster's node name, before).
    assert_int_equal (
        cli_run (fx, out, err,
                 "timeout 30 \"$SHOAL\" top --once --json --interval 100 --endpoint '%s'",
                 fx->endpoint),
        0);
    char named[200];
    snprintf (named, sizeof named, "\"node\":\"%s\"", fx->endpoint);
    if (strlen (fx->endpoint) <= 32 || !strstr (out, named))
        fail_msg ("expected %s (past 32 bytes) in: %s", named, out);
    zactor_destroy (&node);
}

//  --------------------------------------------------------------------------
//  5. The events of an address of no registered type are refused, as its
//     state is.

static void test_events_unknown_type (void **state)
{
    fixture_t *fx = *state;
    char ready[OUTPUT_MAX], out[OUTPUT_MAX], err[OUTPUT_MAX];
    cli_node_start (fx, ready, "\"$SHOAL\" node --data '%s' --workers 1 --endpoint '%s'", fx->data,
                    fx->endpoint);
    const char *queries[] = {"get", "events"};
    for (size_t i = 0; i < 2; i++) {
        int code = cli_run (fx, out, err, "\"$SHOAL\" %s --endpoint '%s' nosuchtype/x", queries[i],
                            fx->endpoint);
        assert_int_equal (code, 1);
        assert_non_null (strstr (out, "\"ok\":false"));
        assert_non_null (strstr (out, "\"code\":\"unknown_type\""));
    }
    //  A known type with no events is no error.
    assert_int_equal (
        cli_run (fx, out, err, "\"$SHOAL\" events --endpoint '%s' account/nobody", fx->endpoint),
        0);
    assert_string_equal (out, "");
}

//  Fails unless text is one line of printable UTF-8, its newline last.
static void s_assert_one_clean_line (const char *text, const char *what)
{
    size_t len = strlen (text);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) text[i];
        bool bad = c >= 0x80 ? utf8_char ((const uint8_t *) text + i, len - i) == 0
                             : (c < 0x20 && !(c == '\n' && i == len - 1)) || c == 0x7f;
        if (bad)
            fail_msg ("%s: byte 0x%02x at %zu of: %s", what, c, i, text);
    }
}

//  `shoal send` refuses what it would send otherwise than the user wrote:
//  a string that is not UTF-8, a key repeated in --input, a key cut at
//  \u0000, an integer past int64 or uint64 in key:=JSON or --input (json-c
//  clamped it), a second --input (it replaced the first: the owner was "b"),
//  a second --id (the idempotency key: the last one was taken).
//  Each exits 2 naming the field, key or option, and nothing reaches the
//  node (the account stays unopened). A key, address or name it names is
//  quoted escaped, in one clean line (an ESC or 0xff came out raw); so
//  are the addresses, MSGIDs and codes explain, resend and resolve refuse.
static void test_send_refuses_altered_fields (void **state)
{
    fixture_t *fx = *state;
    char ready[OUTPUT_MAX], out[OUTPUT_MAX], err[OUTPUT_MAX];
    cli_node_start (fx, ready, "\"$SHOAL\" node --data '%s' --workers 1 --endpoint '%s'", fx->data,
                    fx->endpoint);
    struct {
        const char *command;
        const char *error;
    } cases[] = {
        {"send account/zz Open \"owner=$(printf 'a\\377b')\"",
         "field 'owner': the value is not UTF-8"},
        {"send --input \"$DIR/f.json\" account/zz Open",
         "input: key \"owner\\u0000\" holds \\u0000"},
        {"send --input \"$DIR/d.json\" account/zz Open", "input: key \"owner\" is repeated"},
        {"send --input \"$DIR/a.json\" account/zz Open --input \"$DIR/b.json\"",
         "shoal send: --input given twice"},
        {"send --input=- --input - account/zz Open <\"$DIR/a.json\"",
         "shoal send: --input given twice"},
        {"send --id one account/zz Open owner=a --id two", "shoal send: --id given twice"},
        {"send account/zz Open \"$(printf 'ow\\033ner')=x\" \"$(printf 'ow\\033ner')=y\"",
         "shoal send: field 'ow\\u001bner' is given twice\n"},
        {"send --input \"$DIR/x.json\" account/zz Open",
         "shoal send: input: key \"\\xff\\n\" is repeated in one object\n"},
        //  json-c clamped these to 18446744073709551615 and
        //  -9223372036854775808, and they were sent so.
        {"send account/zz Open amount:=99999999999999999999999",
         "shoal send: field 'amount': 99999999999999999999999 is out of the uint64 range\n"},
        {"send account/zz Open amount:=-9223372036854775809",
         "shoal send: field 'amount': -9223372036854775809 is out of the int64 range\n"},
        {"send --input - account/zz Open <\"$DIR/n.json\"",
         "shoal send: input: field 'amount': -99999999999999999999999 is out of the int64 "
         "range\n"},
        {"send \"$(printf 'account/z\\033')\" Open",
         "shoal send: 'account/z\\u001b' is not an address"},
        {"send account/zz \"$(printf 'Op\\377en')\"",
         "shoal send: 'Op\\xffen' is not a command name"},
        //  The stuck-work commands say an address, a MSGID or a code as
        //  send does (they wrote its bytes raw: an ESC reached the
        //  terminal).
        {"explain \"$(printf 'account/z\\033[2J')\"",
         "shoal explain: 'account/z\\u001b[2J' is not an address"},
        {"resend \"$(printf 'account/z\\033')\"",
         "shoal resend: 'account/z\\u001b' is not an address"},
        {"resolve \"$(printf 'transfer/t\\033')\" 0123456789abcdef0123456789abcdef --reject x "
         "--reason y",
         "shoal resolve: 'transfer/t\\u001b' is not an address"},
        {"resolve transfer/t \"$(printf '\\033[2J')\" --reject x --reason y",
         "shoal resolve: MSGID is 32 lowercase hex digits, as shoal pending prints it, not "
         "'\\u001b[2J'\n"},
        {"resolve transfer/t 0123456789abcdef0123456789abcdef --reject \"$(printf 'a\\033')\" "
         "--reason y",
         "shoal resolve: --reject CODE is 1 to 63 printable characters without spaces, not "
         "'a\\u001b'\n"},
        //  A reason that is not UTF-8 is bad usage, as a field of send is
        //  (the node refused it as bad_frame, exit 1).
        {"resolve transfer/t 0123456789abcdef0123456789abcdef --reject x --reason "
         "\"$(printf 'a\\377b')\"",
         "shoal resolve: --reason TEXT is not UTF-8: 'a\\xffb'\n"},
        //  Both given: said so (it asked for one of them, as if neither was).
        {"resolve transfer/t 0123456789abcdef0123456789abcdef --accept --reject x --reason y",
         "shoal resolve: --reject and --accept do not go together"},
    };
    assert_int_equal (
        cli_run (fx, out, err,
                 "printf '{\"owner\":\"a\",\"owner\\\\u0000\":\"b\"}' >\"$DIR/f.json\" && "
                 "printf '{\"owner\":\"a\",\"owner\":\"b\"}' >\"$DIR/d.json\" && "
                 "printf '{\"owner\":\"a\"}' >\"$DIR/a.json\" && "
                 "printf '{\"owner\":\"b\"}' >\"$DIR/b.json\" && "
                 "printf '{\"\\377\\\\n\":1,\"\\377\\\\n\":2}' >\"$DIR/x.json\" && "
                 "printf '{\"owner\":\"a\",\"amount\":-99999999999999999999999}' "
                 ">\"$DIR/n.json\""),
        0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int code =
            cli_run (fx, out, err, "\"$SHOAL\" %s --endpoint '%s'", cases[i].command, fx->endpoint);
        if (code != 2 || !strstr (err, cases[i].error))
            fail_msg ("case %zu: exit %d, stderr '%s'", i, code, err);
        s_assert_one_clean_line (err, cases[i].command);
    }
    int code = cli_run (fx, out, err, "\"$SHOAL\" get --endpoint '%s' account/zz", fx->endpoint);
    assert_int_equal (code, 0);
    assert_non_null (strstr (out, "\"version\":0,"));
}

//  `shoal events --follow` outlives a restart of its node: it asks again
//  until the node answers, and goes on printing (it exited 3 on the first
//  unanswered ask); and ends once nobody reads its output.
static void test_follow_across_restart (void **state)
{
    fixture_t *fx = *state;
    char ready[OUTPUT_MAX], out[OUTPUT_MAX], err[OUTPUT_MAX];
    //  The follower is the shell's child, and becomes ours when it exits.
    assert_int_equal (prctl (PR_SET_CHILD_SUBREAPER, 1), 0);
    const char *node = "\"$SHOAL\" node --data '%s' --workers 1 --endpoint '%s' --metrics off";
    cli_node_start (fx, ready, node, fx->data, fx->endpoint);
    assert_int_equal (cli_run (fx, out, err,
                               "\"$SHOAL\" send --endpoint '%s' account/f Open owner=f && "
                               "\"$SHOAL\" send --endpoint '%s' account/f Deposit amount=3",
                               fx->endpoint, fx->endpoint),
                      0);
    assert_int_equal (cli_run (fx, out, err,
                               "\"$SHOAL\" events --follow --timeout 300 --endpoint '%s' "
                               "account/f >\"$DIR/follow.out\" 2>\"$DIR/follow.err\" & echo $!",
                               fx->endpoint),
                      0);
    pid_t follower = (pid_t) atoi (out);
    assert_true (follower > 0);
    char path[160], err_path[160], text[OUTPUT_MAX];
    snprintf (path, sizeof path, "%s/follow.out", fx->dir);
    snprintf (err_path, sizeof err_path, "%s/follow.err", fx->dir);
    int64_t deadline = proc_now_ms () + START_TIMEOUT_MS;
    for (proc_read_file (path, text); !strstr (text, "\"amount\":3"); proc_read_file (path, text)) {
        if (proc_now_ms () > deadline)
            fail_msg ("the follower never printed the first deposit: %s", text);
        usleep (20 * 1000);
    }
    assert_int_equal (cli_node_stop (fx, SIGTERM), 0);
    for (proc_read_file (err_path, text); !strstr (text, "still following account/f from seq 3");
         proc_read_file (err_path, text)) {
        if (proc_now_ms () > deadline)
            fail_msg ("the follower did not say it goes on: %s", text);
        assert_int_equal (waitpid (follower, NULL, WNOHANG), 0); //  still running
        usleep (20 * 1000);
    }
    cli_node_start (fx, ready, node, fx->data, fx->endpoint);
    assert_int_equal (cli_run (fx, out, err,
                               "\"$SHOAL\" send --endpoint '%s' account/f Deposit "
                               "amount=4",
                               fx->endpoint),
                      0);
    for (proc_read_file (path, text); !strstr (text, "\"amount\":4"); proc_read_file (path, text)) {
        if (proc_now_ms () > deadline)
            fail_msg ("the follower never printed the deposit after the restart: %s", text);
        usleep (20 * 1000);
    }
    proc_read_file (err_path, text);
    assert_non_null (strstr (text, "account/f answers again"));
    assert_int_equal (waitpid (follower, NULL, WNOHANG), 0);
    kill (follower, SIGINT);
    assert_int_equal (waitpid (follower, NULL, 0), follower);
    assert_int_equal (prctl (PR_SET_CHILD_SUBREAPER, 0), 0);
    //  Each event once: the restart printed nothing twice.
    proc_read_file (path, text);
    assert_int_equal (strstr (strstr (text, "\"seq\":1") + 1, "\"seq\":1"), NULL);
    assert_int_equal (strstr (strstr (text, "\"seq\":2") + 1, "\"seq\":2"), NULL);
    assert_int_equal (strstr (strstr (text, "\"seq\":3") + 1, "\"seq\":3"), NULL);
    //  A follower whose reader is gone ends (it waited, writing nothing,
    //  for an event that would bring SIGPIPE; with SIGPIPE ignored, for
    //  ever): `| head -1` returns.
    assert_int_equal (cli_run (fx, out, err,
                               "{ timeout 60 \"$SHOAL\" events --follow --endpoint '%s' "
                               "account/f; echo \" exit $?\" >&2; } | head -1",
                               fx->endpoint),
                      0);
    if (!strstr (out, "\"seq\":1") || !strstr (err, " exit 0"))
        fail_msg ("events --follow | head -1: %s%s", out, err);
    //  And output it cannot write is a failure, said (it exited 0).
    int code = cli_run (fx, out, err, "\"$SHOAL\" events --endpoint '%s' account/f >/dev/full",
                        fx->endpoint);
    if (code != 1 || !strstr (err, "shoal events: cannot write the events: No space left"))
        fail_msg ("events >/dev/full: exit %d: %s", code, err);
    //  A send the node took, whose answer cannot be written: exit 3, and
    //  the line that reads it again under its id, which runs nothing
    //  twice (it exited 1, "rejected": a script that sent it again under
    //  a new id deposited twice).
    code = cli_run (fx, out, err,
                    "\"$SHOAL\" send --endpoint '%s' --id full-1 account/f Deposit amount=7 "
                    ">/dev/full",
                    fx->endpoint);
    const char *again = strstr (err, "read it again, changing nothing, with: ");
    if (code != 3 ||
        !strstr (err, "shoal send: the node answered, but its answer could not be written: No "
                      "space left on device") ||
        !again || strstr (err, "cannot write its output"))
        fail_msg ("send >/dev/full: exit %d: %s", code, err);
    char line[512];
    snprintf (line, sizeof line, "%s", again + strlen ("read it again, changing nothing, with: "));
    line[strcspn (line, "\n")] = 0;
    assert_non_null (strstr (line, "--id full-1"));
    assert_int_equal (strncmp (line, "shoal send ", 11), 0);
    //  The retry line as given, its shoal the binary under test.
    assert_int_equal (cli_run (fx, out, err, "\"$SHOAL\" %s", line + 6), 0);
    assert_int_equal (
        cli_run (fx, out, err, "\"$SHOAL\" events --endpoint '%s' account/f", fx->endpoint), 0);
    const char *first = strstr (out, "\"amount\":7");
    if (!first || strstr (first + 1, "\"amount\":7"))
        fail_msg ("the deposit of 7 is not there once: %s", out);
}

//  --------------------------------------------------------------------------
//  6. --shards for a store made with another count is refused, saying both;
//  so is a store whose stated count was changed under it.

static void test_shards_mismatch (void **state)
{
    fixture_t *fx = *state;
    char ready[OUTPUT_MAX], out[OUTPUT_MAX], err[OUTPUT_MAX];
    cli_node_start (fx, ready, "\"$SHOAL\" node --data '%s' --workers 1 --endpoint '%s' --shards 8",
                    fx->data, fx->endpoint);
    assert_non_null (strstr (ready, "8 shards"));
    assert_true (WIFEXITED (cli_node_stop (fx, SIGTERM)));

    int code = cli_run (fx, out, err,
                        "timeout 30 \"$SHOAL\" node --data '%s' --workers 1 --endpoint '%s' "
                        "--shards 16",
                        fx->data, fx->endpoint);
    assert_int_equal (code, 1);
    assert_null (strstr (out, "ready on"));
    cli_all_lines_start (err, "shoal node: ", "--shards 16");
    assert_non_null (strstr (err, "has 8 shards; --shards 16 was given"));

    //  The same count, or none, opens it.
    cli_node_start (fx, ready, "\"$SHOAL\" node --data '%s' --workers 1 --endpoint '%s' --shards 8",
                    fx->data, fx->endpoint);
    assert_true (WIFEXITED (cli_node_stop (fx, SIGTERM)));
    cli_node_start (fx, ready, "\"$SHOAL\" node --data '%s' --workers 1 --endpoint '%s'", fx->data,
                    fx->endpoint);
    assert_non_null (strstr (ready, "8 shards"));

    //  The count changed under the store (its metadata "shards"), larger:
    //  no record lies past it, and the node started with every account
    //  read as never written. Refused now, as a smaller one is; put back,
    //  the store opens with its accounts.
    assert_int_equal (cli_run (fx, out, err,
                               "for i in 1 2 3 4 5 6 7 8 9 10; do \"$SHOAL\" send --endpoint '%s' "
                               "account/s$i Open owner=s || exit 1; done",
                               fx->endpoint),
                      0);
    assert_true (WIFEXITED (cli_node_stop (fx, SIGTERM)));
    static const char *const counts[] = {"16", "65536", "4"};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        harness_raw_write (fx->data, "mshards", 7, counts[i],
                           strlen (counts[i])); //  metadata shards
        code = cli_run (fx, out, err,
                        "timeout 30 \"$SHOAL\" node --data '%s' --workers 1 --endpoint '%s'",
                        fx->data, fx->endpoint);
        print_message ("shards %s: exit %d: %s", counts[i], code, err);
        assert_int_equal (code, 1);
        assert_null (strstr (out, "ready on"));
        char says[64];
        snprintf (says, sizeof says, "%s shards", counts[i]);
        assert_non_null (strstr (err, says));
        assert_non_null (strstr (err, i < 2 ? "fit 8 shards" : "the store is damaged"));
    }
    harness_raw_write (fx->data, "mshards", 7, "8", strlen ("8")); //  metadata shards
    cli_node_start (fx, ready, "\"$SHOAL\" node --data '%s' --workers 1 --endpoint '%s'", fx->data,
                    fx->endpoint);
    assert_int_equal (
        cli_run (fx, out, err, "\"$SHOAL\" get --endpoint '%s' account/s3", fx->endpoint), 0);
    assert_non_null (strstr (out, "\"version\":1"));
}

int main (void)
{
    if (!getenv ("SHOAL_BIN") || !getenv ("SHOAL_TEST_MODULE")) {
        fprintf (stderr,
                 "test_cli_store: run through ctest (SHOAL_BIN and SHOAL_TEST_MODULE unset)\n");
        return 1;
    }
    signal (SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_events_unknown_type, cli_setup, cli_teardown),
        cmocka_unit_test_setup_teardown (test_send_refuses_altered_fields, cli_setup, cli_teardown),
        cmocka_unit_test_setup_teardown (test_follow_across_restart, cli_setup, cli_teardown),
        cmocka_unit_test_setup_teardown (test_shards_mismatch, cli_setup, cli_teardown),
        cmocka_unit_test_setup_teardown (test_pending_node_down, cli_setup, cli_teardown),
        cmocka_unit_test_setup_teardown (test_numbers_past_the_possible, cli_setup, cli_teardown),
        cmocka_unit_test_setup_teardown (test_refused_start_makes_no_store, cli_setup,
                                         cli_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
