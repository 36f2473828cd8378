/*  test_projections.c - projections against real `shoal node` processes
    and real LevelDB files, with the projections of
    tests/projection_module.c:

    1. a rebuild from position 0 gives the same rows as the build that
       followed the events live;
    2. a node SIGKILLed in the middle of a rebuild resumes from its
       checkpoint, and no event is applied twice (tally's "seen" rows); a
       rebuild asked for while another builds is a build of its own;
    3. version 2 builds while version 1 answers, the switch comes only
       once version 2 has caught up, and a query never sees a half-built
       version; a manual version waits for `switch`; `drop`;
    4. an apply that fails stops its projection with the error and the
       position shown, `skip` moves past it, and the other projections
       and the commands go on meanwhile;
    5. a reaction whose node is SIGKILLed again and again sends each
       command exactly once: one Echoed per Pinged; a rebuild that
       replaces the build served takes over its unanswered commands;
    6. an apply that crashes the node three times in a row at one event is
       set aside: the node starts, that projection stopped there, the
       events before it applied;
    7. an apply that fails when its batch is applied again without the
       failing event: nothing of the batch kept, no event skipped;
    8. shoal_view_put_new of a key that holds a row, committed in an
       earlier batch or staged in the same one, stops the projection with
       the misuse shown, and its rows stay as they were;
    9. drops a crash cut short (a rebuild served, the build it replaced
       still in the store; a build whose checkpoint a drop deleted, its
       rows not yet) are finished at the next start: the rebuild stays
       served, with its rows;
   10. a projection that sums in its batch state (summed@1) writes what
       tally writes event by event, across batches, a failed apply (its
       batch applied again with the sums zeroed) and a SIGKILL; a
       batch_end that fails keeps nothing of its batch, and may not send;
       one that crashes the node three times is set aside at its batch's
       first event, as an apply would be;
   11. a misuse of the view API (misuse@1) stops its projection with a
       reason that names the call and the limit it broke, shown by `shoal
       projections` and logged.
   12. a query's field that is there but of another type, holds a NUL or
       is too long is refused as invalid, naming it, and changes nothing
       (projection_control, projection_rows; dead_letter_retry's who).
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "client.h"
#include "journal.h"
#include "proc.h"

#include <leveldb/c.h>
#include <msgpack.h>

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NODE                                                                                       \
    "$SHOAL node --endpoint $E --data $DIR/data --workers 2 --metrics off --module "               \
    "\"$SHOAL_PROJECTION_MODULE\""
#define WAIT_MS 60000 //  for a projection to reach a state (ASan is slow)

static int s_setup (void **state)
{
    *state = proc_new ("test-proj");
    return 0;
}

static int s_teardown (void **state)
{
    proc_t *p = *state;
    proc_destroy (&p);
    return 0;
}

//  --------------------------------------------------------------------------
//  Talking to the node

//  Sends count commands `command` to item/i (i from first, modulo spread)
//  with {"by": i}, window of 100, and checks every one is accepted.
static void s_send_many (proc_t *p, const char *command, int first, int count, int spread)
{
    client_t *client = client_new (p->endpoint);
    assert_non_null (client);
    int sent = 0, answered = 0;
    while (answered < count) {
        while (sent < count && sent - answered < 100) {
            char address[32], field[32];
            int n = first + sent;
            snprintf (address, sizeof address, "item/i%d", n % spread);
            snprintf (field, sizeof field, "by=%d", n);
            char *argv[] = {field};
            uint8_t *payload = NULL;
            size_t size = 0;
            char error[128];
            assert_int_equal (client_fields (1, argv, &payload, &size, error, sizeof error), 0);
            envelope_t request;
            client_request (&request, ENVELOPE_COMMAND, NULL, address, command, payload, size);
            assert_int_equal (client_send (client, &request), 0);
            free (payload);
            sent++;
        }
        client_reply_t reply;
        int rc = client_recv (client, 20000, &reply);
        assert_int_equal (rc, 0);
        if (!reply.ok)
            fail_msg ("%s refused: %s: %s", command, reply.code, reply.reason);
        client_reply_close (&reply);
        answered++;
    }
    client_destroy (&client);
}

//  A query to the projection thread; fields are "key=value" strings.
//  Returns 0 with *reply filled (close it), or fails the test on no answer.
static void s_query (proc_t *p, const char *name, client_reply_t *reply, int argc, char **argv)
{
    client_t *client = client_new (p->endpoint);
    assert_non_null (client);
    uint8_t *payload = NULL;
    size_t size = 0;
    char error[128];
    assert_int_equal (client_fields (argc, argv, &payload, &size, error, sizeof error), 0);
    envelope_t request;
    client_request (&request, ENVELOPE_QUERY, NULL, "node/projections", name, payload, size);
    assert_int_equal (client_call (client, &request, 20000, reply), 0);
    free (payload);
    client_destroy (&client);
}

//  One build as the list shows it.
typedef struct {
    bool found;
    int64_t version, build, position, lag, applied, skipped, error_position, sends;
    char status[16];
    char error[256];
    bool served;
} build_info_t;

static int64_t s_int (const msgpack_object *map, const char *key)
{
    int64_t value = -1;
    map_find_int (map, key, &value);
    return value;
}

//  The newest build of name@version (version 0: the served one).
static build_info_t s_build (proc_t *p, const char *name, int64_t version)
{
    client_reply_t reply;
    s_query (p, "projections", &reply, 0, NULL);
    assert_true (reply.ok);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *map = map_unpack (&unpacked, reply.data, reply.size);
    const msgpack_object *list = map ? map_find (map, "projections") : NULL;
    assert_non_null (list);
    build_info_t info = {0};
    for (uint32_t i = 0; i < list->via.array.size; i++) {
        const msgpack_object *item = &list->via.array.ptr[i];
        char item_name[64];
        const msgpack_object *served = map_find (item, "served");
        bool is_served = served && served->type == MSGPACK_OBJECT_BOOLEAN && served->via.boolean;
        if (map_find_str (item, "name", item_name, sizeof item_name) != 0 ||
            strcmp (item_name, name) != 0)
            continue;
        if (version ? s_int (item, "version") != version : !is_served)
            continue;
        if (info.found && s_int (item, "build") < info.build)
            continue;
        info.found = true;
        info.served = is_served;
        info.version = s_int (item, "version");
        info.build = s_int (item, "build");
        info.position = s_int (item, "position");
        info.lag = s_int (item, "lag");
        info.applied = s_int (item, "applied");
        info.skipped = s_int (item, "skipped");
        info.error_position = s_int (item, "error_position");
        info.sends = s_int (item, "sends");
        map_find_str (item, "status", info.status, sizeof info.status);
        map_find_str (item, "error", info.error, sizeof info.error);
    }
    msgpack_unpacked_destroy (&unpacked);
    client_reply_close (&reply);
    return info;
}

//  Waits until name@version (0: the served one) has status, with lag 0
//  when status is "live". Returns what it last saw.
static build_info_t s_wait_status (proc_t *p, const char *name, int64_t version, const char *status)
{
    int64_t deadline = proc_now_ms () + WAIT_MS;
    build_info_t info;
    do {
        info = s_build (p, name, version);
        if (info.found && strcmp (info.status, status) == 0 &&
            (strcmp (status, "live") != 0 || info.lag == 0))
            return info;
        usleep (20 * 1000);
    } while (proc_now_ms () < deadline);
    fail_msg ("%s@%" PRId64 " never became %s (last: %s, lag %" PRId64 ")", name, version, status,
              info.found ? info.status : "absent", info.lag);
    return info;
}

static void s_control (proc_t *p, const char *action, const char *name, int64_t version,
                       int64_t position, const char *expect_code)
{
    char fields[4][64];
    snprintf (fields[0], sizeof fields[0], "action=%s", action);
    snprintf (fields[1], sizeof fields[1], "name=%s", name);
    snprintf (fields[2], sizeof fields[2], "version=%" PRId64, version);
    snprintf (fields[3], sizeof fields[3], "position=%" PRId64, position);
    char *argv[] = {fields[0], fields[1], fields[2], fields[3]};
    client_reply_t reply;
    s_query (p, "projection_control", &reply, position >= 0 ? 4 : 3, argv);
    if (expect_code) {
        assert_false (reply.ok);
        assert_string_equal (reply.code, expect_code);
    } else if (!reply.ok)
        fail_msg ("%s %s@%" PRId64 " refused: %s: %s", action, name, version, reply.code,
                  reply.reason);
    client_reply_close (&reply);
}

//  All the rows of name@version (0: served), as "key=times|events..." text
//  lines in key order, into text. Returns the reply's code ("" when ok).
static void s_rows (proc_t *p, const char *name, int64_t version, char *text, size_t size,
                    char *code)
{
    char fields[3][64];
    snprintf (fields[0], sizeof fields[0], "name=%s", name);
    snprintf (fields[1], sizeof fields[1], "version=%" PRId64, version);
    snprintf (fields[2], sizeof fields[2], "limit=10000");
    char *argv[] = {fields[0], fields[1], fields[2]};
    client_reply_t reply;
    s_query (p, "projection_rows", &reply, 3, argv);
    text[0] = 0;
    code[0] = 0;
    if (!reply.ok) {
        snprintf (code, 64, "%s", reply.code);
        client_reply_close (&reply);
        return;
    }
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *map = map_unpack (&unpacked, reply.data, reply.size);
    const msgpack_object *rows = map ? map_find (map, "rows") : NULL;
    assert_non_null (rows);
    size_t used = 0;
    for (uint32_t i = 0; i < rows->via.array.size; i++) {
        const msgpack_object *item = &rows->via.array.ptr[i];
        const msgpack_object *row = map_find (item, "row");
        char key[64];
        assert_int_equal (map_find_str (item, "key", key, sizeof key), 0);
        int n = snprintf (text + used, size - used,
                          "%s times=%" PRId64 " events=%" PRId64 " sum=%" PRId64 " version=%" PRId64
                          "\n",
                          key, s_int (row, "times"), s_int (row, "events"), s_int (row, "sum"),
                          s_int (row, "version"));
        assert_true (n > 0 && (size_t) n < size - used);
        used += (size_t) n;
    }
    msgpack_unpacked_destroy (&unpacked);
    client_reply_close (&reply);
}

static int s_count (const char *text, const char *needle)
{
    int count = 0;
    for (const char *at = strstr (text, needle); at; at = strstr (at + 1, needle))
        count++;
    return count;
}

//  Every "seen" row of tally says times=1, and there are events of them.
static void s_assert_each_once (const char *rows, int events)
{
    assert_int_equal (s_count (rows, "seen/"), events);
    assert_int_equal (s_count (rows, "times=1 "), events);
    char total[64];
    snprintf (total, sizeof total, "total times=-1 events=%d ", events);
    if (!strstr (rows, total))
        fail_msg ("expected '%s' in the rows", total);
}

#define ROWS_MAX (1 << 21)

//  The rows of name@version (0: served) answer, and count each of events
//  once.
static void s_rows_each_once (proc_t *p, const char *name, int64_t version, int events)
{
    char *rows = malloc (ROWS_MAX), code[64];
    assert_non_null (rows);
    s_rows (p, name, version, rows, ROWS_MAX, code);
    assert_string_equal (code, "");
    s_assert_each_once (rows, events);
    free (rows);
}

//  --------------------------------------------------------------------------
//  1. A rebuild gives the rows the live build gave.

static void test_rebuild_equals_live (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, NODE);
    s_send_many (p, "Add", 0, 600, 37);
    s_wait_status (p, "tally", 1, "live");
    char *live = malloc (ROWS_MAX), *rebuilt = malloc (ROWS_MAX), code[64];
    s_rows (p, "tally", 0, live, ROWS_MAX, code);
    assert_string_equal (code, "");
    s_assert_each_once (live, 600);
    //  wide read twelve rows in each apply before using them.
    s_wait_status (p, "wide", 1, "live");
    char *wide = malloc (ROWS_MAX);
    s_rows (p, "wide", 0, wide, ROWS_MAX, code);
    assert_int_equal (s_count (wide, "slot/"), 12);
    for (int i = 0; i < 12; i++) {
        char slot[64];
        snprintf (slot, sizeof slot, "slot/%02d times=-1 events=-1 sum=-1 version=-1", i);
        assert_non_null (strstr (wide, slot));
    }
    free (wide);
    client_reply_t reply;
    char *argv[] = {"name=wide", "key=slot/11"};
    s_query (p, "projection_rows", &reply, 2, argv);
    assert_true (reply.ok);
    int64_t n = -1;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *map = map_unpack (&unpacked, reply.data, reply.size);
    const msgpack_object *rows = map ? map_find (map, "rows") : NULL;
    assert_true (rows && rows->via.array.size == 1);
    map_find_int (map_find (&rows->via.array.ptr[0], "row"), "n", &n);
    assert_int_equal (n, 600);
    msgpack_unpacked_destroy (&unpacked);
    client_reply_close (&reply);

    s_control (p, "rebuild", "tally", 1, -1, NULL);
    int64_t deadline = proc_now_ms () + WAIT_MS;
    build_info_t info;
    do { //  served again once the new build (1) has caught up
        info = s_build (p, "tally", 0);
        usleep (10 * 1000);
    } while (!(info.build == 1 && info.lag == 0) && proc_now_ms () < deadline);
    assert_int_equal (info.build, 1);
    s_rows (p, "tally", 0, rebuilt, ROWS_MAX, code);
    assert_string_equal (code, "");
    assert_string_equal (live, rebuilt);
    char log[PROC_OUTPUT_MAX];
    proc_read (p, "node.log", log);
    assert_non_null (strstr (log, "tally@1: build 0 dropped")); //  the one it replaced
    free (live);
    free (rebuilt);
}

//  --------------------------------------------------------------------------
//  2. SIGKILL in the middle of a rebuild.

static void test_kill_mid_rebuild (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, NODE);
    s_send_many (p, "Add", 0, 3000, 101);
    s_wait_status (p, "tally", 1, "live");
    proc_node_signal (p, SIGTERM);
    //  Slow applies (300 µs each): the rebuild takes about a second.
    proc_node_start (p, NODE " --module-opt projection.slow_us=300");
    s_control (p, "rebuild", "tally", 1, -1, NULL);
    int64_t deadline = proc_now_ms () + WAIT_MS;
    build_info_t info;
    do {
        info = s_build (p, "tally", 1);
        usleep (5 * 1000);
    } while (!(info.build == 1 && info.position >= 1000) && proc_now_ms () < deadline);
    assert_int_equal (info.build, 1);
    assert_true (info.position < 3000); //  still rebuilding
    proc_node_signal (p, SIGKILL);

    proc_node_start (p, NODE);
    info = s_build (p, "tally", 1);
    assert_int_equal (info.build, 1);
    assert_true (info.position >= 1000); //  resumed from its checkpoint, not from 0
    deadline = proc_now_ms () + WAIT_MS;
    do {
        info = s_build (p, "tally", 0);
        usleep (10 * 1000);
    } while (!(info.build == 1 && info.lag == 0) && proc_now_ms () < deadline);
    assert_int_equal (info.build, 1);
    assert_int_equal (info.applied, 3000); //  each event given to apply once, across the kill
    char *rows = malloc (ROWS_MAX), code[64];
    s_rows (p, "tally", 0, rows, ROWS_MAX, code);
    s_assert_each_once (rows, 3000);
    free (rows);
}

//  2b. A rebuild asked for while another builds: each its own build.
//  Both asked of the version served (version 0), as `shoal projections
//  rebuild tally` asks. The second was numbered after the build served,
//  not after the newest: two builds 1 wrote the same rows, each event
//  counted twice.

//  How many builds of name@version are numbered number.
static int s_builds_numbered (proc_t *p, const char *name, int64_t version, int64_t number)
{
    client_reply_t reply;
    s_query (p, "projections", &reply, 0, NULL);
    assert_true (reply.ok);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *map = map_unpack (&unpacked, reply.data, reply.size);
    const msgpack_object *list = map ? map_find (map, "projections") : NULL;
    assert_non_null (list);
    int count = 0;
    for (uint32_t i = 0; i < list->via.array.size; i++) {
        const msgpack_object *item = &list->via.array.ptr[i];
        char item_name[64];
        if (map_find_str (item, "name", item_name, sizeof item_name) == 0 &&
            strcmp (item_name, name) == 0 && s_int (item, "version") == version &&
            s_int (item, "build") == number)
            count++;
    }
    msgpack_unpacked_destroy (&unpacked);
    client_reply_close (&reply);
    return count;
}

static void test_rebuild_while_rebuilding (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, NODE);
    s_send_many (p, "Add", 0, 3000, 101);
    s_wait_status (p, "tally", 1, "live");
    proc_node_signal (p, SIGTERM);
    //  Slow applies (300 µs each): a rebuild takes about a second.
    proc_node_start (p, NODE " --module-opt projection.slow_us=300");
    s_control (p, "rebuild", "tally", 0, -1, NULL);
    s_control (p, "rebuild", "tally", 0, -1, NULL);
    build_info_t info = s_build (p, "tally", 1);
    assert_int_equal (info.build, 2);
    assert_true (info.position < 3000); //  the second asked while the first builds
    assert_int_equal (s_builds_numbered (p, "tally", 1, 1), 1);
    assert_int_equal (s_builds_numbered (p, "tally", 1, 2), 1);
    int64_t deadline = proc_now_ms () + WAIT_MS;
    do { //  the newest serves once caught up, and the others are dropped
        info = s_build (p, "tally", 0);
        usleep (10 * 1000);
    } while (!(info.build == 2 && info.lag == 0 && s_builds_numbered (p, "tally", 1, 1) == 0) &&
             proc_now_ms () < deadline);
    assert_int_equal (info.build, 2);
    assert_int_equal (info.applied, 3000);
    assert_int_equal (s_builds_numbered (p, "tally", 1, 0), 0);
    assert_int_equal (s_builds_numbered (p, "tally", 1, 1), 0);
    s_rows_each_once (p, "tally", 0, 3000);
}

//  2c. An operator's actions while a rebuild runs act on the version's
//  build that stands for it (served, else caught up), not on the rebuild:
//  a switch to the version served was refused as "not caught up", a query
//  of it as not ready, a skip of the served build's failed event as "not
//  stopped there", a drop of an orphan version served while it rebuilt
//  dropped the rows served.
static void test_actions_while_rebuilding (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, NODE);
    s_send_many (p, "Add", 0, 3000, 101);
    s_send_many (p, "Poison", 0, 1, 1);
    s_wait_status (p, "tally", 1, "live");
    assert_int_equal (s_wait_status (p, "strict", 1, "failed").error_position, 3000);
    proc_node_signal (p, SIGTERM);
    //  Slow applies (1 ms each): a rebuild takes some 3 s.
    proc_node_start (p, NODE " --module-opt projection.slow_us=1000");
    s_control (p, "rebuild", "tally", 0, -1, NULL);
    assert_int_equal (s_build (p, "tally", 1).build, 1);
    s_control (p, "switch", "tally", 1, -1, NULL); //  served already
    s_rows_each_once (p, "tally", 1, 3001);

    //  strict: the served build and its rebuild both stopped at 3000; a
    //  skip is the served build's first, then the rebuild's.
    s_control (p, "rebuild", "strict", 0, -1, NULL);
    assert_int_equal (s_wait_status (p, "strict", 1, "failed").build, 1);
    s_control (p, "skip", "strict", 1, 3000, NULL);
    build_info_t served = s_build (p, "strict", 0);
    assert_int_equal (served.build, 0);
    assert_int_equal (served.skipped, 1);
    assert_string_equal (s_build (p, "strict", 1).status, "failed");
    s_control (p, "skip", "strict", 1, 3000, NULL);
    int64_t deadline = proc_now_ms () + WAIT_MS;
    do { //  the rebuild, skipped, catches up and replaces build 0
        served = s_build (p, "strict", 0);
        usleep (10 * 1000);
    } while (!(served.build == 1 && served.lag == 0) && proc_now_ms () < deadline);
    assert_int_equal (served.build, 1);
    assert_int_equal (served.skipped, 1);
    s_control (p, "rebuild", "tally", 0, -1, NULL); //  behind, at the stop
    proc_node_signal (p, SIGTERM);

    //  tally@1 an orphan (the module registers 2 alone, switched by hand),
    //  served, with rebuilds behind it: not dropped.
    proc_node_start (p, NODE " --module-opt projection.version=2 --module-opt "
                             "projection.manual=1");
    s_control (p, "drop", "tally", 1, -1, "busy_projection");
    assert_int_equal (s_build (p, "tally", 0).version, 1);
    s_rows_each_once (p, "tally", 0, 3001);
}

//  2d. The reactions' salt (runtime/view.c's ids): made with the store, in
//  its first write, before any reaction can be; a store made before the
//  salt keeps unsalted ids ("none") if it has builds, whose reactions went
//  out under them, else is given one at its start. Before, the salt was
//  made at the projections' start, after the workers': an event logged
//  in between made a new store "none" for good.

//  The metadata name of the store in dir, into value ("" if absent).
static void s_meta (const char *dir, const char *name, char *value, size_t size)
{
    int code = 0;
    char *error = NULL, *got = NULL;
    journal_t *journal = journal_open (dir, NULL, &code, &error);
    if (!journal)
        fail_msg ("cannot open %s: %s", dir, error ? error : "");
    snprintf (value, size, "%s", journal_meta_get (journal, name, &got) == 0 ? got : "");
    free (got);
    journal_destroy (&journal);
}

//  Deletes the metadata name of the stopped store in dir, as a store made
//  before it has none.
static void s_meta_delete (const char *dir, const char *name)
{
    char key[64];
    int len = snprintf (key, sizeof key, "m%s", name);
    leveldb_options_t *options = leveldb_options_create ();
    char *err = NULL;
    leveldb_t *db = leveldb_open (options, dir, &err);
    assert_null (err);
    leveldb_writeoptions_t *write = leveldb_writeoptions_create ();
    leveldb_writeoptions_set_sync (write, 1);
    leveldb_delete (db, write, key, (size_t) len, &err);
    assert_null (err);
    leveldb_writeoptions_destroy (write);
    leveldb_close (db);
    leveldb_options_destroy (options);
}

static void test_reaction_salt (void **state)
{
    proc_t *p = *state;
    char dir[128], salt[64], again[64];
    snprintf (dir, sizeof dir, "%s/data", p->dir);
    //  Made by the journal alone, no node yet: salted.
    int code = 0;
    char *error = NULL;
    journal_options_t opts = {.sync = true};
    journal_t *journal = journal_open (dir, &opts, &code, &error);
    assert_non_null (journal);
    journal_destroy (&journal);
    s_meta (dir, JOURNAL_SALT_META, salt, sizeof salt);
    assert_int_equal (strlen (salt), 16);
    assert_int_equal (strspn (salt, "0123456789abcdef"), 16);
    //  Kept across starts.
    proc_node_start (p, NODE);
    s_send_many (p, "Ping", 0, 3, 1);
    s_wait_status (p, "pinger", 1, "live");
    proc_node_signal (p, SIGTERM);
    s_meta (dir, JOURNAL_SALT_META, again, sizeof again);
    assert_string_equal (again, salt);
    //  A store without one, that has builds: unsalted, for good.
    s_meta_delete (dir, JOURNAL_SALT_META);
    proc_node_start (p, NODE);
    s_wait_status (p, "pinger", 1, "live");
    proc_node_signal (p, SIGTERM);
    s_meta (dir, JOURNAL_SALT_META, again, sizeof again);
    assert_string_equal (again, "none");
    //  A store without one, with no build (its projections never ran): a
    //  new salt at the start.
    char bare[128];
    snprintf (bare, sizeof bare, "%s/bare", p->dir);
    journal = journal_open (bare, &opts, &code, &error);
    assert_non_null (journal);
    journal_destroy (&journal);
    s_meta_delete (bare, JOURNAL_SALT_META);
    proc_node_start (p, "$SHOAL node --endpoint $E --data $DIR/bare --workers 2 --metrics off "
                        "--module \"$SHOAL_PROJECTION_MODULE\"");
    s_wait_status (p, "pinger", 1, "live");
    proc_node_signal (p, SIGTERM);
    s_meta (bare, JOURNAL_SALT_META, again, sizeof again);
    assert_int_equal (strspn (again, "0123456789abcdef"), 16);
    assert_string_not_equal (again, salt);
}

//  --------------------------------------------------------------------------
//  3. Versions: 2 builds while 1 answers; a manual 3 waits for a switch.

static void test_versions_switch (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, NODE);
    s_send_many (p, "Add", 0, 1500, 13);
    s_wait_status (p, "tally", 1, "live");
    proc_node_signal (p, SIGTERM);

    proc_node_start (p, NODE " --module-opt projection.version=2 --module-opt "
                             "projection.slow_us=1000");
    char *rows = malloc (ROWS_MAX), code[64];
    int v1_answers = 0;
    int64_t deadline = proc_now_ms () + WAIT_MS;
    build_info_t v2;
    for (;;) {
        v2 = s_build (p, "tally", 2);
        s_rows (p, "tally", 0, rows, ROWS_MAX, code); //  the served version
        assert_string_equal (code, "");
        if (strstr (rows, "version=1\n")) {
            s_assert_each_once (rows, 1500); //  version 1, whole
            v1_answers++;
        } else {
            assert_non_null (strstr (rows, "version=2\n"));
            s_assert_each_once (rows, 1500); //  version 2, never half-built
            break;
        }
        if (!v2.served && v2.lag > 0) {
            //  Still building: refused; or caught up in between: whole.
            s_rows (p, "tally", 2, rows, ROWS_MAX, code);
            if (code[0])
                assert_string_equal (code, "not_ready");
            else
                s_assert_each_once (rows, 1500);
        }
        assert_true (proc_now_ms () < deadline);
        usleep (20 * 1000);
    }
    assert_true (v1_answers > 0); //  version 1 answered while 2 was building
    assert_string_equal (s_wait_status (p, "tally", 2, "live").status, "live");
    assert_string_equal (s_build (p, "tally", 1).status, "orphan"); //  kept until dropped
    s_control (p, "drop", "tally", 2, -1, "busy_projection");       //  the one served
    s_control (p, "drop", "tally", 1, -1, NULL);
    assert_false (s_build (p, "tally", 1).found);
    proc_node_signal (p, SIGTERM);

    //  A version built already is reused at the next start, not rebuilt.
    proc_node_start (p, NODE " --module-opt projection.version=2");
    build_info_t again = s_build (p, "tally", 2);
    assert_true (again.served);
    assert_int_equal (again.applied, 1500);
    proc_node_signal (p, SIGTERM);

    //  A manual version: caught up, it waits for the operator.
    proc_node_start (p, NODE " --module-opt projection.version=3 --module-opt projection.manual=1");
    s_wait_status (p, "tally", 3, "ready");
    assert_true (s_build (p, "tally", 2).served);
    s_control (p, "switch", "tally", 3, -1, NULL);
    assert_true (s_build (p, "tally", 3).served);
    s_rows (p, "tally", 0, rows, ROWS_MAX, code);
    assert_non_null (strstr (rows, "version=3\n"));
    free (rows);
}

//  --------------------------------------------------------------------------
//  4. A failing apply stops its projection alone; skip moves past it.

static void test_failure_and_skip (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, NODE);
    s_send_many (p, "Add", 0, 10, 3);
    s_send_many (p, "Poison", 0, 1, 1);
    s_send_many (p, "Add", 10, 10, 3);
    build_info_t strict = s_wait_status (p, "strict", 1, "failed");
    assert_int_equal (strict.error_position, 10); //  the 11th event
    assert_int_equal (strict.position, 10);       //  stopped there, the 10 before it kept
    assert_non_null (strstr (strict.error, "Poisoned of item/i0 cannot be counted"));
    //  The others go on, and so do commands.
    s_wait_status (p, "tally", 1, "live");
    s_send_many (p, "Add", 20, 5, 3);
    assert_int_equal (s_wait_status (p, "tally", 1, "live").applied, 26);
    assert_string_equal (s_build (p, "strict", 1).status, "failed");

    s_control (p, "skip", "strict", 1, 9, "invalid"); //  not where it stopped
    s_control (p, "skip", "strict", 1, 10, NULL);
    strict = s_wait_status (p, "strict", 1, "live");
    assert_int_equal (strict.skipped, 1);
    assert_int_equal (strict.applied, 25);
    char log[PROC_OUTPUT_MAX];
    proc_read (p, "node.log", log);
    assert_non_null (strstr (log, "skipped by an operator"));
    //  A restart keeps the skip: nothing fails again.
    proc_node_signal (p, SIGTERM);
    proc_node_start (p, NODE);
    assert_string_equal (s_wait_status (p, "strict", 1, "live").status, "live");
}

//  Reactions a target does not answer show in `shoal projections`: they
//  were only a count in --json ("sends"), and pending, top and explain
//  list actors' commands alone (a QA pass: a Flag to a stopped node's
//  review was nowhere to be seen). Each Echo takes 2.5 s here.
static void test_reactions_unanswered_shown (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, NODE " --module-opt projection.echo_ms=2500");
    s_send_many (p, "Ping", 0, 2, 2);
    char out[PROC_OUTPUT_MAX];
    int64_t deadline = proc_now_ms () + WAIT_MS;
    do {
        assert_int_equal (proc_run (p, out, NULL, "$SHOAL projections --endpoint $E"), 0);
        if (strstr (out, "unanswered, the oldest sent"))
            break;
        usleep (50 * 1000);
    } while (proc_now_ms () < deadline);
    const char *line = strstr (out, "pinger@1");
    assert_non_null (line);
    const char *note = strstr (line, "unanswered, the oldest sent");
    assert_non_null (note);
    assert_true (note < strchr (line, '\n'));
    assert_int_equal (proc_run (p, out, NULL, "$SHOAL projections --endpoint $E --json"), 0);
    assert_non_null (strstr (out, "\"sends_oldest_ms\":"));
}

//  --------------------------------------------------------------------------
//  5. A reaction, SIGKILLed again and again: each command once.

//  No command of pinger was rejected (the node logs it): a second
//  version's Echo under an id the first used is refused id_reused.
static void s_assert_none_rejected (proc_t *p)
{
    char log[PROC_OUTPUT_MAX];
    proc_read (p, "node.log", log);
    const char *rejected = strstr (log, "was rejected");
    if (rejected)
        fail_msg ("a command of pinger was rejected: %.240s",
                  rejected - log > 160 ? rejected - 160 : log);
}

static int s_echoed (proc_t *p, int item)
{
    char out[PROC_OUTPUT_MAX];
    int rc = proc_run (p, out, NULL, "$SHOAL events --endpoint $E echo/i%d", item);
    return rc == 0 ? s_count (out, "Echoed") : 0;
}

//  Echoed events over the five items.
static int s_echoed_all (proc_t *p)
{
    int total = 0;
    for (int i = 0; i < 5; i++)
        total += s_echoed (p, i);
    return total;
}

//  Echoed events over the five items that pinger@2 sent (its Echo has
//  "by": 2).
static int s_echoed_by_2 (proc_t *p)
{
    int total = 0;
    for (int i = 0; i < 5; i++) {
        char out[PROC_OUTPUT_MAX];
        if (proc_run (p, out, NULL, "$SHOAL events --endpoint $E echo/i%d", i) == 0)
            total += s_count (out, "\"by\":2");
    }
    return total;
}

static void test_reaction_exactly_once (void **state)
{
    proc_t *p = *state;
    //  First, pings with the projections off: when pinger first runs, it
    //  builds from position 0 and, the first of its name, reacts to those.
    proc_node_start (p, NODE " --projections off");
    s_send_many (p, "Ping", 0, 30, 5);
    proc_node_signal (p, SIGTERM);
    int pings = 30;
    for (int round = 0; round < 4; round++) {
        //  Each Echo takes 20 ms: the reaction's commands wait for answers.
        proc_node_start (p, NODE " --module-opt projection.echo_ms=20");
        s_send_many (p, "Ping", pings, 30, 5);
        pings += 30;
        //  Killed at once (the reaction's checkpoint or sends not made
        //  yet), or once its checkpoint and commands are committed and
        //  wait for their answers (some of them answered, the answer lost
        //  with the node).
        if (round % 2) {
            int64_t deadline = proc_now_ms () + WAIT_MS;
            while (s_build (p, "pinger", 1).sends == 0 && proc_now_ms () < deadline)
                usleep (2 * 1000);
            assert_true (proc_now_ms () < deadline);
        }
        proc_node_signal (p, SIGKILL);
    }
    proc_node_start (p, NODE);
    s_wait_status (p, "pinger", 1, "live");
    int64_t deadline = proc_now_ms () + WAIT_MS;
    int total;
    do {
        total = 0;
        for (int i = 0; i < 5; i++)
            total += s_echoed (p, i);
        usleep (20 * 1000);
    } while (total < pings && proc_now_ms () < deadline);
    for (int i = 0; i < 5; i++)
        assert_int_equal (s_echoed (p, i), pings / 5); //  one Echoed per Pinged, no more
}

//  A reaction comes from "projection/NAME" (shoal_msg_from), so that its
//  receiver can tell it from a client's command: one sent before that was
//  stored with an empty sender, and is named when it is sent again after
//  an upgrade (else a receiver that takes the command from a projection
//  only, as the bank's review, would refuse it for good).

//  Rewrites each command pinger@1 awaits an answer to with an empty
//  sender, as a node before the sender was named stored it.
static int s_unname_send (void *arg, const char *key, size_t key_len, const uint8_t *value,
                          size_t size)
{
    journal_batch_t *batch = arg;
    envelope_t envelope;
    assert_int_equal (key_len, ENVELOPE_ID_SIZE);
    assert_int_equal (envelope_decode (&envelope, value, size), 0);
    assert_string_equal (envelope.from, "projection/pinger");
    envelope.from[0] = 0;
    uint8_t *frame;
    size_t frame_size;
    assert_int_equal (envelope_encode (&envelope, &frame, &frame_size), 0);
    journal_build_t build = {"pinger", 1, 0};
    assert_int_equal (
        journal_batch_view_send (batch, &build, (const uint8_t *) key, frame, frame_size), 0);
    free (frame);
    return 0;
}

static void test_reaction_sender (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, NODE " --projections off");
    s_send_many (p, "Ping", 0, 10, 5);
    proc_node_signal (p, SIGTERM);
    //  Each Echo takes 300 ms: killed while the reactions wait for answers.
    proc_node_start (p, NODE " --module-opt projection.echo_ms=300");
    int64_t deadline = proc_now_ms () + WAIT_MS;
    while (s_build (p, "pinger", 1).sends < 5 && proc_now_ms () < deadline)
        usleep (2 * 1000);
    assert_true (proc_now_ms () < deadline);
    proc_node_signal (p, SIGKILL);
    char dir[128];
    snprintf (dir, sizeof dir, "%s/data", p->dir);
    int code = 0;
    char *error = NULL;
    journal_options_t opts = {.sync = true};
    journal_t *journal = journal_open (dir, &opts, &code, &error);
    assert_non_null (journal);
    journal_batch_t *batch = journal_batch_new (journal);
    journal_build_t build = {"pinger", 1, 0};
    assert_int_equal (journal_view_sends (journal, &build, s_unname_send, batch), 0);
    assert_true (journal_batch_count (batch) >= 5);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);
    journal_destroy (&journal);
    //  Sent again: every Echo, the rewritten ones included, from pinger.
    proc_node_start (p, NODE);
    deadline = proc_now_ms () + WAIT_MS;
    while (s_echoed_all (p) < 10 && proc_now_ms () < deadline)
        usleep (20 * 1000);
    assert_int_equal (s_echoed_all (p), 10);
    int named = 0;
    for (int i = 0; i < 5; i++) {
        char out[PROC_OUTPUT_MAX];
        assert_int_equal (proc_run (p, out, NULL, "$SHOAL events --endpoint $E echo/i%d", i), 0);
        named += s_count (out, "\"from\":\"projection/pinger\"");
    }
    assert_int_equal (named, 10);
}

//  5b. A rebuild takes over the commands the build it replaces sent and
//  has not seen answered: pinger's Echo to echo/i0 is being handled (an
//  Echo takes 4 s here) when a rebuild of pinger catches up, is served
//  and drops the build it replaced; the node is SIGKILLed before the Echo
//  commits. The rebuild does not send for the Ping (the build it
//  replaced had), so the command was in the dropped build's records
//  alone: gone with it, echo/i0 was never Echoed. Now the rebuild writes
//  it under its own build before the drop, and re-sends it after the
//  restart: one Echoed.
static void test_rebuild_takes_over_sends (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, NODE " --module-opt projection.echo_ms=4000 --turn-timeout 60000");
    s_send_many (p, "Ping", 0, 1, 1);
    int64_t deadline = proc_now_ms () + WAIT_MS;
    while (s_build (p, "pinger", 1).sends == 0 && proc_now_ms () < deadline)
        usleep (2 * 1000);
    assert_int_equal (s_build (p, "pinger", 1).sends, 1);
    int64_t sent_at = proc_now_ms ();
    s_control (p, "rebuild", "pinger", 1, -1, NULL);
    build_info_t info;
    do {
        info = s_build (p, "pinger", 1);
        usleep (2 * 1000);
    } while (!(info.served && info.build == 1) && proc_now_ms () < deadline);
    assert_true (info.served && info.build == 1);
    assert_int_equal (info.sends, 1); //  taken over, still unanswered
    //  Before the Echo's turn ends: its command is not answered, nor
    //  its event committed.
    assert_true (proc_now_ms () - sent_at < 3000);
    proc_node_signal (p, SIGKILL);
    proc_node_start (p, NODE);
    s_wait_status (p, "pinger", 1, "live");
    deadline = proc_now_ms () + WAIT_MS;
    while (s_echoed (p, 0) < 1 && proc_now_ms () < deadline)
        usleep (20 * 1000);
    assert_int_equal (s_echoed (p, 0), 1);
    deadline = proc_now_ms () + WAIT_MS;
    while (s_build (p, "pinger", 1).sends != 0 && proc_now_ms () < deadline)
        usleep (20 * 1000);
    assert_int_equal (s_build (p, "pinger", 1).sends, 0);
    assert_int_equal (s_echoed (p, 0), 1); //  once, not twice
}

//  5c. A new version takes over the reactions of the events the version
//  it replaces had not applied: pinger@1 is paused (it could as well be
//  failed, or lingering), ten Pings come, and the node restarts with
//  pinger@2 instead. Version 2 builds from position 0 while version 1 is
//  served, deciding the Echoes of the events past version 1's checkpoint
//  without sending them (a version not served must not act), and sends
//  them at its switch: every Ping Echoed once. They were never sent: the
//  version served had not reached them, the new one sent nothing for
//  events before its switch.
static void test_version_switch_sends_the_gap (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, NODE);
    s_send_many (p, "Ping", 0, 10, 5);
    int64_t deadline = proc_now_ms () + WAIT_MS;
    while (s_echoed_all (p) < 10 && proc_now_ms () < deadline)
        usleep (20 * 1000);
    assert_int_equal (s_echoed_all (p), 10);
    s_control (p, "pause", "pinger", 1, -1, NULL);
    s_send_many (p, "Ping", 10, 10, 5);
    proc_node_signal (p, SIGTERM);
    proc_node_start (p, NODE " --module-opt projection.pinger_version=2");
    build_info_t v2;
    deadline = proc_now_ms () + WAIT_MS;
    do {
        v2 = s_build (p, "pinger", 2);
        usleep (20 * 1000);
    } while (!(v2.served && v2.sends == 0 && s_echoed_all (p) >= 20) && proc_now_ms () < deadline);
    assert_true (v2.served);
    assert_int_equal (v2.sends, 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal (s_echoed (p, i), 4); //  one Echoed per Pinged, no more
    char log[PROC_OUTPUT_MAX];
    proc_read (p, "node.log", log);
    proc_assert_has (log, "projection pinger@2: at its switch from version 1, 10 held commands "
                          "sent");
}

//  5d. A version waiting for its manual switch does not act: pinger@2
//  builds beside pinger@1, which serves and sends, while Pings keep
//  coming; every Ping is Echoed once before the switch (version 2 holds
//  its decisions, and its Echo differs: one sent would be refused
//  id_reused, and logged), and after it version 2 sends alone: once
//  each, across the switch. (The switch's catch-up, for a build lingering
//  behind version 1's, is not forced here: the two builds' lingers.)
static void test_manual_version_waits (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, NODE);
    s_send_many (p, "Ping", 0, 10, 5);
    proc_node_signal (p, SIGTERM);
    proc_node_start (p, NODE " --module-opt projection.pinger_next=1");
    s_wait_status (p, "pinger", 2, "ready");
    for (int round = 1; round < 4; round++) {
        s_send_many (p, "Ping", 10 * round, 10, 5);
        int64_t deadline = proc_now_ms () + WAIT_MS;
        while (s_echoed_all (p) < 10 * (round + 1) && proc_now_ms () < deadline)
            usleep (20 * 1000);
        assert_int_equal (s_echoed_all (p), 10 * (round + 1));
    }
    s_control (p, "switch", "pinger", 2, -1, NULL);
    assert_true (s_build (p, "pinger", 2).served);
    s_send_many (p, "Ping", 40, 10, 5);
    int64_t deadline = proc_now_ms () + WAIT_MS;
    build_info_t v2;
    do {
        v2 = s_build (p, "pinger", 2);
        usleep (20 * 1000);
    } while (!(v2.sends == 0 && s_echoed_all (p) >= 50) && proc_now_ms () < deadline);
    //  A copy sent twice would show once it is answered: wait for quiet.
    s_wait_status (p, "pinger", 2, "live");
    for (int i = 0; i < 5; i++)
        assert_int_equal (s_echoed (p, i), 10); //  one Echoed per Pinged, no more
    //  Version 2's Echo differs from version 1's: one sent for an event
    //  version 1 had reacted to would be refused id_reused, and logged.
    s_assert_none_rejected (p);
}

//  5e. A switch moves the new version on to where the served one has
//  decided first: pinger@2 paused while version 1 reacts to 20 Pings,
//  then resumed and switched at once, while it has those 20 to apply
//  (50 ms each). Without the catch-up the switch was refused (version 2
//  would have decided again, with its own code, events version 1 had
//  reacted to); while paused, it is refused, saying why.
static void test_switch_catches_up (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, NODE " --module-opt projection.pinger_next=1 "
                             "--module-opt projection.pinger_us=50000");
    s_wait_status (p, "pinger", 2, "ready");
    s_control (p, "pause", "pinger", 2, -1, NULL);
    s_send_many (p, "Ping", 0, 20, 5);
    int64_t deadline = proc_now_ms () + WAIT_MS;
    while (s_echoed_all (p) < 20 && proc_now_ms () < deadline)
        usleep (20 * 1000);
    assert_int_equal (s_echoed_all (p), 20);
    s_control (p, "switch", "pinger", 2, -1, "invalid");
    assert_int_equal (s_build (p, "pinger", 2).position, 0);
    s_control (p, "resume", "pinger", 2, -1, NULL);
    s_control (p, "switch", "pinger", 2, -1, NULL);
    build_info_t v2 = s_build (p, "pinger", 2);
    assert_true (v2.served);
    assert_true (v2.position >= s_build (p, "pinger", 1).position);
    s_send_many (p, "Ping", 20, 10, 5);
    deadline = proc_now_ms () + WAIT_MS;
    do {
        v2 = s_build (p, "pinger", 2);
        usleep (20 * 1000);
    } while (!(v2.sends == 0 && s_echoed_all (p) >= 30) && proc_now_ms () < deadline);
    for (int i = 0; i < 5; i++)
        assert_int_equal (s_echoed (p, i), 6); //  one Echoed per Pinged, no more
    s_assert_none_rejected (p);
}

//  5f. Two versions of pinger registered at once on a store where pinger
//  never ran: both build from position 0 with nothing of the name served,
//  each taking several steps (an apply pauses 5 ms, a step lasts 50 ms).
//  Only the version that will be served first sends (version 1 when 2
//  waits for a manual switch, version 2 when it does not: every Echoed
//  then carries its "by": 2); the other holds. Both sent before: one Echo
//  per event from each, under one id, the second refused id_reused.
static void s_first_versions (proc_t *p, const char *next, int64_t sender, int64_t other,
                              const char *other_status)
{
    proc_node_start (p, NODE " --projections off");
    s_send_many (p, "Ping", 0, 40, 5);
    proc_node_signal (p, SIGTERM);
    proc_node_start (p,
                     "%s --module-opt projection.pinger_next=%s "
                     "--module-opt projection.pinger_us=5000",
                     NODE, next);
    assert_true (s_wait_status (p, "pinger", sender, "live").served);
    int64_t deadline = proc_now_ms () + WAIT_MS;
    build_info_t info;
    do {
        info = s_build (p, "pinger", sender);
        usleep (20 * 1000);
    } while (!(info.sends == 0 && s_echoed_all (p) >= 40) && proc_now_ms () < deadline);
    for (int i = 0; i < 5; i++)
        assert_int_equal (s_echoed (p, i), 8); //  one Echoed per Pinged
    info = s_wait_status (p, "pinger", other, other_status);
    assert_false (info.served);
    assert_int_equal (s_echoed_by_2 (p), sender == 2 ? 40 : 0); //  the other sent nothing
    s_assert_none_rejected (p);
}

static void test_first_versions_manual (void **state)
{
    s_first_versions (*state, "1", 1, 2, "ready");
}

static void test_first_versions_auto (void **state)
{
    s_first_versions (*state, "auto", 2, 1, "old");
}

//  Waits until every item has been Echoed per times, then asserts once
//  more per item (one Echoed per Pinged, no more) and that no command of
//  pinger was rejected (a second version's Echo under one id is).
static void s_echoes_once (proc_t *p, int per_item)
{
    int64_t deadline = proc_now_ms () + WAIT_MS;
    while (s_echoed_all (p) < 5 * per_item && proc_now_ms () < deadline)
        usleep (20 * 1000);
    for (int i = 0; i < 5; i++)
        assert_int_equal (s_echoed (p, i), per_item);
    s_assert_none_rejected (p);
}

//  5g. The version that sends while nothing is served is fixed when a
//  build of the name first applies, not taken from the modules at each
//  start. pinger@2 (switched to without an operator) sends and is paused
//  at once; pinger@1 holds to the log's end. Restarted with version 2
//  gone from the module (an orphan, which never moves), version 1 is
//  served and sends what it held past what version 2 had decided;
//  restarted with version 2 made manual instead, version 2 still sends,
//  and is served once resumed. Before, version 1 took over as the sender
//  and never sent what it held: 8 of 45 Echoed.
static void s_sender_changed (proc_t *p, const char *restart_next)
{
    proc_node_start (p, NODE " --projections off");
    s_send_many (p, "Ping", 0, 40, 5);
    proc_node_signal (p, SIGTERM);
    proc_node_start (p, NODE " --module-opt projection.pinger_next=auto "
                             "--module-opt projection.pinger_us=20000");
    s_control (p, "pause", "pinger", 2, -1, NULL);
    assert_false (s_wait_status (p, "pinger", 1, "old").served);
    proc_node_signal (p, SIGTERM);
    proc_node_start (p, "%s --module-opt projection.pinger_us=20000%s%s", NODE,
                     restart_next ? " --module-opt projection.pinger_next=" : "",
                     restart_next ? restart_next : "");
    if (!restart_next) { //  the orphan sends: not dropped before another is served
        char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
        assert_int_equal (proc_run (p, out, err, "$SHOAL projections --endpoint $E drop pinger@2"),
                          1);
        assert_non_null (strstr (err, "sends the reactions while no version of its name is "
                                      "served"));
    } else {
        assert_false (s_build (p, "pinger", 1).served);
        s_control (p, "resume", "pinger", 2, -1, NULL);
        assert_true (s_wait_status (p, "pinger", 2, "live").served);
    }
    s_send_many (p, "Ping", 40, 5, 5);
    assert_true (s_wait_status (p, "pinger", restart_next ? 2 : 1, "live").served);
    s_echoes_once (p, 9);
    char log[PROC_OUTPUT_MAX];
    proc_read (p, "node.log", log);
    assert_non_null (strstr (log, "pinger@2: sends its reactions until a version of pinger is "
                                  "served"));
    if (!restart_next)
        assert_non_null (strstr (log, "at its switch from version 2"));
}

static void test_sender_removed (void **state)
{
    s_sender_changed (*state, NULL);
    //  Not dropped while it was the sender; now version 1 is served, it may be.
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    assert_int_equal (proc_run (*state, out, err, "$SHOAL projections --endpoint $E drop pinger@2"),
                      0);
}

static void test_sender_made_manual (void **state)
{
    s_sender_changed (*state, "1");
}

//  5h. A version added at a restart while nothing is served holds what
//  the version that has been sending decides: pinger@1 alone sends part
//  of the log and is paused; restarted with pinger@2 (switched to without
//  an operator), version 2 holds, version 1 (resumed) is served first,
//  and version 2 takes over at its switch (on its next step: the Echoed
//  events are enough) with what version 1 had not reached. Before, version 2 became the sender and
//  sent again from position 0 what version 1 had sent: 10 rejected id_reused. An orphan that sends
//  cannot be dropped before another version is served.
static void test_sender_added (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, NODE " --projections off");
    s_send_many (p, "Ping", 0, 40, 5);
    proc_node_signal (p, SIGTERM);
    proc_node_start (p, NODE " --module-opt projection.pinger_us=50000");
    int64_t deadline = proc_now_ms () + WAIT_MS;
    while (s_echoed_all (p) < 5 && proc_now_ms () < deadline)
        usleep (20 * 1000);
    s_control (p, "pause", "pinger", 1, -1, NULL);
    build_info_t v1 = s_build (p, "pinger", 1);
    assert_false (v1.served);
    assert_true (v1.position > 0 && v1.position < 40);
    proc_node_signal (p, SIGTERM);
    proc_node_start (p, NODE " --module-opt projection.pinger_next=auto");
    assert_false (s_wait_status (p, "pinger", 2, "old").served);
    s_control (p, "resume", "pinger", 1, -1, NULL);
    s_echoes_once (p, 8);
    s_send_many (p, "Ping", 40, 5, 5);
    assert_true (s_wait_status (p, "pinger", 2, "live").served);
    s_echoes_once (p, 9);
    char log[PROC_OUTPUT_MAX];
    proc_read (p, "node.log", log);
    assert_non_null (strstr (log, "projection pinger@1 is served"));
    assert_non_null (strstr (log, "pinger@1: sends its reactions until a version of pinger is "
                                  "served"));
}

//  --------------------------------------------------------------------------
//  6. An apply that crashes the node: after 3 crashes in a row at the same
//  event, the node starts with that projection stopped there, failed, and
//  serves everything else; skip moves past it.

//  Sends Boom to item/i0 without waiting (its answer may never come:
//  something aborts the node once the event is committed, maybe before
//  the reply leaves), then plays the supervisor: starts node again after
//  each crash, three in all, each a SIGABRT. (It may die before or after
//  its ready line.)
static void s_boom_three_crashes (proc_t *p, const char *node)
{
    client_t *client = client_new (p->endpoint);
    assert_non_null (client);
    envelope_t request;
    client_request (&request, ENVELOPE_COMMAND, NULL, "item/i0", "Boom", NULL, 0);
    assert_int_equal (client_send (client, &request), 0);
    int status;
    for (int crash = 1; crash <= 3; crash++) {
        bool ready = crash == 1 || proc_node_try_start (p, &status, "%s", node);
        if (ready)
            assert_true (proc_node_wait_exit (p, WAIT_MS, &status));
        assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGABRT);
    }
    client_destroy (&client);
}

static void test_crashing_apply (void **state)
{
    proc_t *p = *state;
    const char *node = NODE " --module-opt projection.crasher=1";
    proc_node_start (p, node);
    s_send_many (p, "Add", 0, 5, 1);
    s_boom_three_crashes (p, node); //  Boom at position 5: crasher aborts on it
    proc_node_start (p, node);
    build_info_t crasher = s_wait_status (p, "crasher", 1, "failed");
    assert_int_equal (crasher.error_position, 5);
    assert_non_null (strstr (crasher.error, "crashed 3 times in a row"));
    s_send_many (p, "Add", 5, 3, 1); //  commands go on
    assert_int_equal (s_wait_status (p, "tally", 1, "live").applied, 9);
    s_control (p, "skip", "crasher", 1, 5, NULL);
    s_send_many (p, "Add", 8, 2, 1);
    crasher = s_wait_status (p, "crasher", 1, "live");
    assert_int_equal (crasher.skipped, 1);
    char log[PROC_OUTPUT_MAX];
    proc_read (p, "node.log", log);
    assert_non_null (strstr (log, "crash 2 of 3 before it is set aside"));
}

//  6b. The event that crashed the node three times came in a batch that
//  began before it (a projection built from position 0): the build applies
//  the events before it, then stops there. A skip then loses nothing but
//  that event (the build used to stop at its old checkpoint, and a skip
//  moved it past every event in between, never applied).

static void test_crash_guard_applies_before (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, NODE);
    s_send_many (p, "Add", 0, 5, 1);  //  positions 0-4
    s_send_many (p, "Boom", 0, 1, 1); //  5: crasher is not there yet
    s_send_many (p, "Add", 5, 2, 1);  //  6-7
    assert_int_equal (s_wait_status (p, "tally", 1, "live").applied, 8);
    proc_node_signal (p, SIGTERM);
    //  crasher builds from position 0: its first batch reaches Boomed.
    const char *node = NODE " --module-opt projection.crasher=1";
    int status;
    for (int crash = 1; crash <= 3; crash++) {
        if (proc_node_try_start (p, &status, "%s", node))
            assert_true (proc_node_wait_exit (p, WAIT_MS, &status));
        assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGABRT);
    }
    proc_node_start (p, node);
    build_info_t crasher = s_wait_status (p, "crasher", 1, "failed");
    assert_int_equal (crasher.error_position, 5);
    assert_int_equal (crasher.position, 5); //  0-4 applied
    assert_int_equal (crasher.applied, 5);
    assert_non_null (strstr (crasher.error, "crashed 3 times in a row"));
    s_control (p, "skip", "crasher", 1, 5, NULL);
    crasher = s_wait_status (p, "crasher", 1, "live");
    assert_int_equal (crasher.skipped, 1);
    assert_int_equal (crasher.applied, 7); //  every item event but Boomed
}

//  --------------------------------------------------------------------------
//  7. An apply fails at Poisoned; the batch is applied again without it,
//  and in that second pass an earlier apply fails (flaky: Pinged, the
//  second time). Nothing of the batch is kept then, and the build tries
//  again from its checkpoint: it stops at Poisoned with every event
//  before it applied, none skipped (it used to keep the applies before
//  the flaky one and move its checkpoint to Poisoned all the same).

static void test_rerun_fails (void **state)
{
    proc_t *p = *state;
    //  The projections off while the events are written: pinger's Echoed
    //  (its reaction to Pinged) would land among them, wherever its echo
    //  came back, and move Poisoned. It lands after them at the restart.
    proc_node_start (p, NODE " --projections off");
    s_send_many (p, "Add", 0, 3, 1);    //  positions 0-2
    s_send_many (p, "Ping", 0, 1, 1);   //  3
    s_send_many (p, "Add", 3, 3, 1);    //  4-6
    s_send_many (p, "Poison", 0, 1, 1); //  7
    s_send_many (p, "Add", 6, 2, 1);    //  8-9
    proc_node_signal (p, SIGTERM);
    //  flaky builds from position 0, all ten events in its first batch.
    proc_node_start (p, NODE " --module-opt projection.flaky=1");
    build_info_t flaky = s_wait_status (p, "flaky", 1, "failed");
    assert_int_equal (flaky.error_position, 7);
    assert_int_equal (flaky.position, 7);
    //  Its checkpoint's count (its rows are not served: it never caught
    //  up): the seven events before Poisoned, where it was 3 (0-2, the
    //  applies before the flaky one) with 3-6 skipped.
    assert_int_equal (flaky.applied, 7);
    assert_non_null (strstr (flaky.error, "Poisoned of item/i0 cannot be counted"));
    char log[PROC_OUTPUT_MAX];
    proc_read (p, "node.log", log);
    assert_non_null (strstr (log, "did not apply again"));
}

//  --------------------------------------------------------------------------
//  8. shoal_view_put_new misused: once@1 puts "added/ID" new at each Added.

static void test_put_new_misuse (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, NODE " --module-opt projection.once=1");
    s_send_many (p, "Add", 0, 1, 1); //  item/i0, position 0
    assert_int_equal (s_wait_status (p, "once", 1, "live").applied, 1);
    //  i0 again, in the next batch: the node knows the row it committed.
    s_send_many (p, "Add", 1, 1, 1);
    build_info_t once = s_wait_status (p, "once", 1, "failed");
    assert_int_equal (once.error_position, 1);
    assert_non_null (strstr (once.error, "shoal_view_put_new of added/i0, which holds a row"));
    char rows[PROC_OUTPUT_MAX], code[64];
    s_rows (p, "once", 1, rows, sizeof rows, code);
    assert_string_equal (code, "");
    assert_non_null (strstr (rows, "added/i0 "));
    //  Skipped, and the node restarted: it no longer knows added/i0's
    //  row, so the next Added of i0 (position 2) passes unseen, the
    //  misuse the contract leaves to the module (shoal.h); the one after
    //  it (3) is caught, staged in the same batch or committed in the one
    //  before.
    s_control (p, "skip", "once", 1, 1, NULL);
    s_wait_status (p, "once", 1, "live");
    proc_node_signal (p, SIGTERM);
    proc_node_start (p, NODE " --module-opt projection.once=1");
    s_send_many (p, "Add", 2, 2, 1);
    once = s_wait_status (p, "once", 1, "failed");
    assert_int_equal (once.error_position, 3);
    assert_non_null (strstr (once.error, "shoal_view_put_new of added/i0, which holds a row"));
    print_message ("once@1 stopped: %s\n", once.error);
}

//  --------------------------------------------------------------------------
//  9. Drops that a crash cut short.

//  Writes, into the stopped node's store, what a crash in the middle of a
//  drop leaves: build 0 of tally@1 whole (its checkpoint at the log's end,
//  caught up) though build 1 replaced it, and build 7 without a
//  checkpoint (a drop deletes it first), each with a row the rebuild has
//  not.
static void s_leave_cut_drops (proc_t *p, uint64_t position)
{
    char dir[128];
    snprintf (dir, sizeof dir, "%s/data", p->dir);
    int code = 0;
    char *error = NULL;
    journal_t *journal = journal_open (dir, NULL, &code, &error);
    if (!journal)
        fail_msg ("cannot open %s: %s", dir, error ? error : "");
    journal_batch_t *batch = journal_batch_new (journal);
    assert_non_null (batch);
    msgpack_sbuffer row;
    msgpack_sbuffer_init (&row);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &row, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    msgpack_pack_str_with_body (&pk, "times", 5);
    msgpack_pack_int64 (&pk, 99);
    journal_build_t replaced = {.view = "tally", .version = 1, .build = 0};
    journal_checkpoint_t cp = {.next = position, .applied = position, .caught_up = true};
    assert_int_equal (journal_batch_view_checkpoint (batch, &replaced, &cp), 0);
    assert_int_equal (
        journal_batch_view_put (batch, &replaced, "seen/stale", (uint8_t *) row.data, row.size), 0);
    journal_build_t half = {.view = "tally", .version = 1, .build = 7};
    assert_int_equal (
        journal_batch_view_put (batch, &half, "seen/half", (uint8_t *) row.data, row.size), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    msgpack_sbuffer_destroy (&row);
    journal_batch_destroy (&batch);
    journal_destroy (&journal);
}

static void test_drops_cut_short (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, NODE);
    s_send_many (p, "Add", 0, 300, 37);
    s_wait_status (p, "tally", 1, "live");
    s_control (p, "rebuild", "tally", 1, -1, NULL);
    int64_t deadline = proc_now_ms () + WAIT_MS;
    build_info_t info;
    do { //  build 1 served, caught up; build 0 dropped
        info = s_build (p, "tally", 0);
        usleep (10 * 1000);
    } while (!(info.build == 1 && info.lag == 0) && proc_now_ms () < deadline);
    assert_int_equal (info.build, 1);
    char *rebuilt = malloc (ROWS_MAX), *after = malloc (ROWS_MAX), code[64];
    s_rows (p, "tally", 0, rebuilt, ROWS_MAX, code);
    assert_string_equal (code, "");
    s_assert_each_once (rebuilt, 300);
    proc_node_signal (p, SIGTERM);

    s_leave_cut_drops (p, (uint64_t) info.position);
    proc_node_start (p, NODE);
    //  Whichever build is served applies the next events: the rebuild's,
    //  with its rows and nothing of the others'
    s_send_many (p, "Add", 300, 10, 37);
    deadline = proc_now_ms () + WAIT_MS;
    do {
        info = s_build (p, "tally", 0);
        usleep (10 * 1000);
    } while (!(info.found && info.applied >= 310 && info.lag == 0) && proc_now_ms () < deadline);
    if (info.build != 1)
        fail_msg ("tally@1 serves build %" PRId64 " after the restart, not the rebuild (1)",
                  info.build);
    assert_int_equal (s_build (p, "tally", 1).build, 1); //  no newer build of tally@1 left
    s_rows (p, "tally", 0, after, ROWS_MAX, code);
    assert_string_equal (code, "");
    assert_null (strstr (after, "stale"));
    assert_null (strstr (after, "half"));
    s_assert_each_once (after, 310);
    //  Both drops were finished as the node started, and said so
    char log[PROC_OUTPUT_MAX];
    proc_read (p, "node.log", log);
    proc_assert_has (log, "tally@1: build 7 dropped (1 records): its drop had been cut short");
    proc_assert_has (log, "tally@1: build 0 dropped");
    proc_assert_has (log, "a rebuild replaced it");
    free (rebuilt);
    free (after);
}

//  --------------------------------------------------------------------------
//  10. A batch state: summed@1.

//  The "total" row of name@version (0: served), "" if none.
static void s_total (proc_t *p, const char *name, int64_t version, char *total, size_t size)
{
    static char rows[ROWS_MAX];
    char code[64];
    s_rows (p, name, version, rows, sizeof rows, code);
    assert_string_equal (code, "");
    const char *at = strstr (rows, "total ");
    const char *end = at ? strchr (at, '\n') : NULL;
    snprintf (total, size, "%.*s", at && end ? (int) (end - at) : 0, at ? at : "");
}

static void test_batch_state (void **state)
{
    proc_t *p = *state;
    //  Written with the projections off, so that summed's first batch
    //  holds them all: Poisoned at 6 fails it, and the six before it are
    //  applied again, into sums zeroed first.
    proc_node_start (p, NODE " --projections off");
    s_send_many (p, "Add", 0, 6, 2);    //  0-5, by 0..5
    s_send_many (p, "Poison", 0, 1, 1); //  6
    s_send_many (p, "Add", 6, 3, 2);    //  7-9, by 6..8
    proc_node_signal (p, SIGTERM);
#define SUMMED NODE " --module-opt projection.summed=1"
    proc_node_start (p, SUMMED);
    build_info_t summed = s_wait_status (p, "summed", 1, "failed");
    assert_int_equal (summed.error_position, 6);
    assert_int_equal (summed.position, 6);
    assert_int_equal (summed.applied, 6);
    assert_non_null (strstr (summed.error, "Poisoned of item/i0 cannot be counted"));
    s_control (p, "skip", "summed", 1, 6, NULL);
    s_wait_status (p, "summed", 1, "live");
    char total[256];
    s_total (p, "summed", 1, total, sizeof total);
    //  0+...+8 over nine Adds (events 15, sum 51 had the sums not been
    //  zeroed before the batch ran again)
    assert_string_equal (total, "total times=-1 events=9 sum=36 version=-1");

    //  More, in many batches, with a SIGKILL between them.
    s_send_many (p, "Add", 9, 200, 3); //  by 9..208
    proc_node_signal (p, SIGKILL);
    proc_node_start (p, SUMMED);
    s_send_many (p, "Add", 209, 100, 3); //  by 209..308
    s_wait_status (p, "summed", 1, "live");
    s_wait_status (p, "tally", 1, "live");
    s_total (p, "summed", 1, total, sizeof total);
    assert_string_equal (total, "total times=-1 events=309 sum=47586 version=-1");
    //  tally's, event by event: the same, and Poisoned (by 0) besides.
    s_total (p, "tally", 0, total, sizeof total);
    assert_string_equal (total, "total times=-1 events=310 sum=47586 version=1");

    //  A batch_end that fails: the projection stops at its batch's first
    //  event, with nothing of the batch kept; its send was refused.
    summed = s_build (p, "summed", 1);
    uint64_t next = (uint64_t) summed.position;
    s_send_many (p, "Ping", 0, 1, 1);
    summed = s_wait_status (p, "summed", 1, "failed");
    assert_int_equal (summed.error_position, (int64_t) next);
    assert_int_equal (summed.position, (int64_t) next);
    assert_non_null (strstr (summed.error, "a batch with a Pinged (send refused: yes)"));
    s_total (p, "summed", 1, total, sizeof total);
    assert_string_equal (total, "total times=-1 events=309 sum=47586 version=-1");
    char log[PROC_OUTPUT_MAX];
    proc_read (p, "node.log", log);
    assert_non_null (strstr (log, "its batch_end failed"));
}

static void test_batch_end_crash (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, SUMMED);
    s_send_many (p, "Add", 0, 5, 1); //  0-4, by 0..4
    assert_int_equal (s_wait_status (p, "summed", 1, "live").applied, 5);
    //  Boom, position 5, alone in summed's next batch: its batch_end
    //  aborts the node.
    s_boom_three_crashes (p, SUMMED);
    proc_node_start (p, SUMMED);
    build_info_t summed = s_wait_status (p, "summed", 1, "failed");
    assert_int_equal (summed.error_position, 5);
    assert_int_equal (summed.position, 5);
    assert_non_null (strstr (summed.error, "crashed 3 times in a row"));
    s_control (p, "skip", "summed", 1, 5, NULL);
    s_send_many (p, "Add", 5, 3, 1); //  6-8, by 5..7
    s_wait_status (p, "summed", 1, "live");
    char total[256];
    s_total (p, "summed", 1, total, sizeof total);
    assert_string_equal (total, "total times=-1 events=8 sum=28 version=-1");
}

//  --------------------------------------------------------------------------
//  11. A misuse of the view API says which: the call and its limit (it
//      said "misuse of shoal_view_*: invalid argument", whatever it was).

#define MISUSE NODE " --log-level warn --module-opt projection.misuse=1"

static void test_misuse_named (void **state)
{
    proc_t *p = *state;
    static const struct {
        int by; //  the misuse, as s_misuse in projection_module.c numbers them
        const char *said;
    } cases[] = {
        {1, "shoal_view_put: a row key of more than 512 bytes"},
        {2, "shoal_view_get: an empty row key (1 to 512 bytes)"},
        {3, "shoal_view_send: more than 16 commands sent by one apply"},
        {4, "shoal_view_send: a command sent to something that is not an address (TYPE/ID, at "
            "most 264 bytes)"},
        {5, "the row row/5: a field written wrongly with shoal_rec_*: a NULL string"},
        {6, "the command Echo sent by shoal_view_send: a field written wrongly with shoal_rec_*: "
            "a map or array begun and not ended"},
        {7, "the row row/7: a field written wrongly with shoal_rec_*: maps and arrays nested "
            "deeper than 16"},
        //  It was kept, and `shoal query` printed {"k":1,"k":2}.
        {8, "the row row/8: a field written wrongly with shoal_rec_*: the key 'k' written twice "
            "in one map"},
        {9, "shoal_view_delete: an empty row key (1 to 512 bytes)"}, //  in batch_end
        {10, "the command Echo sent by shoal_view_send: more than 1 MiB with its envelope"},
        //  It was sent, refused bad_frame by the node's own front, and
        //  dropped: the reaction never ran.
        {11, "the command Echo sent by shoal_view_send: a string that is not UTF-8 (at byte 10 "
             "of its fields)"},
    };
    proc_node_start (p, MISUSE);
    char log[PROC_OUTPUT_MAX], line[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_send_many (p, "Add", cases[i].by, 1, 1000); //  position i
        build_info_t misuse = s_wait_status (p, "misuse", 1, "failed");
        assert_int_equal (misuse.error_position, (int64_t) i);
        if (strcmp (misuse.error, cases[i].said) != 0)
            fail_msg ("by %d: the error is '%s', not '%s'", cases[i].by, misuse.error,
                      cases[i].said);
        print_message ("misuse@1 stopped: %s\n", misuse.error);
        snprintf (line, sizeof line, "projection misuse@1 stopped at position %zu: %s%s", i,
                  cases[i].by == 9 ? "its batch_end failed: " : "", cases[i].said);
        proc_read (p, "node.log", log);
        proc_assert_has (log, line);
        s_control (p, "skip", "misuse", 1, (int64_t) i, NULL);
        s_wait_status (p, "misuse", 1, "live");
    }
    s_send_many (p, "Add", 12, 1, 1000); //  a fine one goes on
    build_info_t after = s_wait_status (p, "misuse", 1, "live");
    assert_int_equal (after.applied, 1);
    assert_int_equal (after.skipped, 11);
}

//  --------------------------------------------------------------------------
//  12. A field present but unreadable is refused, not read as absent.

//  One field of a payload sent as it is, bytes and type, which the
//  command line would not send.
typedef struct {
    const char *key;
    char type;       //  's' a str of len bytes (0: strlen), 'b' a bin of them, 'i' an int
    const char *str; //  's', 'b'
    size_t len;
    int64_t number; //  'i'
} raw_field_t;

#define RAW_STR(key, value)                                                                        \
    {                                                                                              \
        key, 's', value, sizeof value - 1, 0                                                       \
    }
#define RAW_BIN(key, value)                                                                        \
    {                                                                                              \
        key, 'b', value, sizeof value - 1, 0                                                       \
    }
#define RAW_INT(key, value)                                                                        \
    {                                                                                              \
        key, 'i', NULL, 0, value                                                                   \
    }
#define RAW_FIELDS_MAX 4

//  A query to to whose payload holds fields as they are. Fails the test
//  on no answer; *reply is the caller's to close.
static void s_query_raw (proc_t *p, const char *to, const char *name, const raw_field_t *fields,
                         client_reply_t *reply)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    size_t count = 0;
    while (count < RAW_FIELDS_MAX && fields[count].key)
        count++;
    msgpack_pack_map (&pk, (uint32_t) count);
    for (size_t i = 0; i < count; i++) {
        const raw_field_t *field = &fields[i];
        msgpack_pack_str_with_body (&pk, field->key, strlen (field->key));
        if (field->type == 'i')
            msgpack_pack_int64 (&pk, field->number);
        else if (field->type == 'b')
            msgpack_pack_bin_with_body (&pk, field->str, field->len);
        else
            msgpack_pack_str_with_body (&pk, field->str, field->len);
    }
    client_t *client = client_new (p->endpoint);
    assert_non_null (client);
    envelope_t request;
    client_request (&request, ENVELOPE_QUERY, NULL, to, name, (const uint8_t *) buffer.data,
                    buffer.size);
    assert_int_equal (client_call (client, &request, 20000, reply), 0);
    client_destroy (&client);
    msgpack_sbuffer_destroy (&buffer);
}

//  projection_rows and projection_control read each string field whole:
//  "pause\0x" is not "pause", "tally\0junk" not tally (which that paused),
//  and a key of 600 bytes, of an int or a bin is not absent (which read
//  every row). Each is refused as invalid, the reason naming the field,
//  and the build and its rows are as they were. dead_letter_retry's who
//  likewise (a who of "ops\0x" was recorded as "ops").
static void test_query_fields_refused (void **state)
{
    proc_t *p = *state;
    proc_node_start (p, NODE);
    s_send_many (p, "Add", 0, 20, 5);
    s_wait_status (p, "tally", 1, "live");
    static char before[ROWS_MAX], after[ROWS_MAX];
    char code[64];
    s_rows (p, "tally", 1, before, ROWS_MAX, code);
    assert_string_equal (code, "");
    assert_non_null (strstr (before, "total "));

    char long_key[601];
    memset (long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = 0;
    static const struct {
        const char *query;
        raw_field_t fields[RAW_FIELDS_MAX];
        const char *field; //  the reason starts with it
    } cases[] = {
        {"projection_control",
         {RAW_STR ("action", "pause\0x"), RAW_STR ("name", "tally")},
         "action"},
        {"projection_control",
         {RAW_STR ("action", "pause"), RAW_STR ("name", "tally\0junk")},
         "name"},
        {"projection_control", {RAW_STR ("action", "pause"), RAW_INT ("name", 5)}, "name"},
        {"projection_control",
         {RAW_STR ("action", "pause"), RAW_STR ("name", "tally"), RAW_STR ("version", "1")},
         "version"},
        {"projection_control",
         {RAW_STR ("action", "pause"), RAW_STR ("name", "tally"), RAW_STR ("position", "3")},
         "position"},
        {"projection_rows", {RAW_STR ("name", "tally"), RAW_INT ("key", 5)}, "key"},
        {"projection_rows", {RAW_STR ("name", "tally"), RAW_BIN ("key", "total")}, "key"},
        {"projection_rows", {RAW_STR ("name", "tally"), RAW_STR ("key", "total\0")}, "key"},
        {"projection_rows", {RAW_STR ("name", "tally\0x"), RAW_STR ("key", "total")}, "name"},
        {"projection_rows", {RAW_STR ("name", "tally"), RAW_STR ("limit", "5")}, "limit"},
        {"projection_rows", {RAW_STR ("name", "tally"), RAW_INT ("prefix", 1)}, "prefix"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0] + 2; i++) {
        raw_field_t longer[RAW_FIELDS_MAX] = {RAW_STR ("name", "tally"),
                                              {i % 2 ? "prefix" : "key", 's', long_key, 600, 0}};
        bool is_case = i < sizeof cases / sizeof cases[0];
        const char *query = is_case ? cases[i].query : "projection_rows";
        const char *field = is_case ? cases[i].field : longer[1].key;
        client_reply_t reply;
        s_query_raw (p, "node/projections", query, is_case ? cases[i].fields : longer, &reply);
        if (reply.ok || strcmp (reply.code, "invalid") != 0 ||
            strncmp (reply.reason, field, strlen (field)) != 0)
            fail_msg ("%s, case %zu: %s %s: %s, not invalid naming %s", query, i,
                      reply.ok ? "ok" : "refused", reply.code, reply.reason, field);
        client_reply_close (&reply);
    }
    build_info_t tally = s_build (p, "tally", 1);
    assert_string_equal (tally.status, "live");
    s_rows (p, "tally", 1, after, ROWS_MAX, code);
    assert_string_equal (after, before);

    //  A dead letter's who; the same query with a fine who says not_found.
    raw_field_t who_nul[RAW_FIELDS_MAX] = {RAW_STR ("id", "00000000000000000000000000000000"),
                                           RAW_STR ("who", "ops\0x")};
    raw_field_t who_int[RAW_FIELDS_MAX] = {RAW_STR ("id", "00000000000000000000000000000000"),
                                           RAW_INT ("who", 7)};
    raw_field_t who_ok[RAW_FIELDS_MAX] = {RAW_STR ("id", "00000000000000000000000000000000"),
                                          RAW_STR ("who", "ops")};
    const raw_field_t *whos[] = {who_nul, who_int, who_ok};
    for (size_t i = 0; i < 3; i++) {
        client_reply_t reply;
        s_query_raw (p, "item/i1", "dead_letter_retry", whos[i], &reply);
        assert_false (reply.ok);
        assert_string_equal (reply.code, i < 2 ? "invalid_field" : "not_found");
        if (i < 2)
            assert_non_null (strstr (reply.reason, "who must be a string"));
        client_reply_close (&reply);
    }
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_rebuild_equals_live, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_kill_mid_rebuild, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_rebuild_while_rebuilding, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_actions_while_rebuilding, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_reaction_salt, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_versions_switch, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_failure_and_skip, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_reaction_exactly_once, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_reaction_sender, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_reactions_unanswered_shown, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_rebuild_takes_over_sends, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_version_switch_sends_the_gap, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_manual_version_waits, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_switch_catches_up, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_first_versions_manual, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_first_versions_auto, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_sender_removed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_sender_made_manual, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_sender_added, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_crashing_apply, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_crash_guard_applies_before, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_rerun_fails, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_put_new_misuse, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_drops_cut_short, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_batch_state, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_batch_end_crash, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_misuse_named, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_query_fields_refused, s_setup, s_teardown),
    };
    //  SHOAL_TEST_FILTER=test_query* runs the tests whose names match.
    if (getenv ("SHOAL_TEST_FILTER"))
        cmocka_set_test_filter (getenv ("SHOAL_TEST_FILTER"));
    return cmocka_run_group_tests (tests, NULL, NULL);
}
