/*  test_module_api.c - the module API of ABI 2, as a module sees it
    (tests/api_module.c, loaded into real `shoal node` processes), and the
    runtime pieces under it on their own:

    1. handle sees its state read-only: a handler that casts the const
       away and writes into its state has the write undone, whether it
       then rejects or accepts (the turn fixture, then across a get); its
       address and its message's name and sender likewise, across a
       restart; a handler's own return code is said as a number;
    2. a message's id and created time (shoal_msg_id, shoal_msg_created);
    3. a timer cancelled by name never fires, also across a restart;
    4. snapshots with a version: written and read back with it; one that
       cannot be restored (a version the type refuses or does not know
       yet, a damaged record) is logged and the actor rebuilt from all its
       events, with the right state; one too big is not written, and
       `get` of a view too big is refused, both saying the size;
    5. module options (--module-opt, the config file's module entry) and
       shoal_log's lines, which carry the actor's address.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "data.h"
#include "harness.h"
#include "journal.h"
#include "proc.h"
#include "registry.h"
#include "shard.h"

#include <leveldb/c.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 30000 //  a condition's deadline (ASan on a busy machine)
#define NODE                                                                                       \
    "$SHOAL node --endpoint $E --data $DIR/data --workers 2 --metrics off --module "               \
    "\"$SHOAL_API_MODULE\""

static int s_setup (void **state)
{
    *state = proc_new ("test-api");
    return 0;
}

static int s_teardown (void **state)
{
    proc_t *p = *state;
    proc_destroy (&p);
    return 0;
}

//  Fails unless text has needle.
#define assert_has(text, needle)                                                                   \
    do {                                                                                           \
        if (!strstr ((text), (needle)))                                                            \
            fail_msg ("expected %s in: %s", (needle), (text));                                     \
    } while (0)
#define assert_lacks(text, needle)                                                                 \
    do {                                                                                           \
        if (strstr ((text), (needle)))                                                             \
            fail_msg ("did not expect %s in: %s", (needle), (text));                               \
    } while (0)

static int s_count (const char *text, const char *needle)
{
    int count = 0;
    for (const char *at = strstr (text, needle); at; at = strstr (at + 1, needle))
        count++;
    return count;
}

//  Sends command to address (fields: "k=v ..."); fails unless the exit
//  code is rc. The reply's JSON is in out.
static void s_send (proc_t *p, char *out, int rc, const char *address, const char *command,
                    const char *fields)
{
    char err[PROC_OUTPUT_MAX];
    int got = proc_run (p, out, err, "$SHOAL send --endpoint $E %s %s %s", address, command,
                        fields ? fields : "");
    if (got != rc)
        fail_msg ("send %s %s %s: exit %d, not %d: %s %s", address, command, fields ? fields : "",
                  got, rc, out, err);
}

//  --------------------------------------------------------------------------
//  1. A handler sees its state read-only.

typedef struct {
    int64_t value;
} plain_t;

static int s_plain_apply (void *state, const char *event, const shoal_data_t *data)
{
    (void) data;
    if (strcmp (event, "Added") != 0)
        return SHOAL_EFORMAT;
    ((plain_t *) state)->value++;
    return 0;
}

//  Add emits Added; Scribble writes through a cast and rejects; Sneak
//  writes through a cast and accepts; Fail writes and fails.
static int s_plain_handle (shoal_ctx_t *ctx, const void *state, const shoal_msg_t *msg)
{
    const char *name = shoal_msg_name (msg);
    if (strcmp (name, "Add") == 0) {
        shoal_ctx_emit (ctx, "Added");
        return 0;
    }
    ((plain_t *) state)->value = 4242;
    if (strcmp (name, "Scribble") == 0)
        return shoal_ctx_reject (ctx, "scribbled", "wrote, then refused");
    return strcmp (name, "Sneak") == 0 ? 0 : SHOAL_EIO;
}

static void s_plain_view (const void *state, shoal_rec_t *out)
{
    shoal_rec_int (out, "value", ((const plain_t *) state)->value);
}

static const shoal_type_t s_plain = {
    .name = "plain",
    .state_size = sizeof (plain_t),
    .apply = s_plain_apply,
    .handle = s_plain_handle,
    .view = s_plain_view,
};

static void test_state_read_only (void **state)
{
    (void) state;
    harness_turn_t *f = harness_turn_new (&s_plain, "plain/p", 1000);
    int rc = harness_turn_run (f, ENVELOPE_COMMAND, "Add");
    harness_turn_accepted (f, rc, "Add", 1, 0, 0, __LINE__);
    assert_int_equal (((plain_t *) f->state)->value, 1);
    //  Each fixture check compares the state with the one before the turn.
    rc = harness_turn_run (f, ENVELOPE_COMMAND, "Scribble");
    harness_turn_rejected (f, rc, "Scribble", "scribbled", __LINE__);
    rc = harness_turn_run (f, ENVELOPE_COMMAND, "Sneak");
    harness_turn_nothing (f, rc, "Sneak", __LINE__);
    rc = harness_turn_run (f, ENVELOPE_COMMAND, "Fail");
    harness_turn_rejected (f, rc, "Fail", "handler_error", __LINE__);
    assert_int_equal (((plain_t *) f->state)->value, 1);
    harness_turn_assert_replay (f);
    harness_turn_destroy (&f);
}

//  The same through a node: the write is undone before anyone can read it,
//  and the node says which handler did it.
static void test_state_read_only_across_a_get (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], log[PROC_OUTPUT_MAX];
    proc_node_start (p, NODE);
    s_send (p, out, 0, "note/s", "Add", "by=5");
    s_send (p, out, 1, "note/s", "Scribble", NULL);
    assert_has (out, "\"code\":\"scribbled\"");
    s_send (p, out, 0, "note/s", "Get", NULL);
    assert_has (out, "\"value\":5");
    s_send (p, out, 0, "note/s", "Scribble", "accept=true");
    s_send (p, out, 0, "note/s", "Get", NULL);
    assert_has (out, "\"value\":5");
    assert_int_equal (proc_run (p, out, NULL, "$SHOAL get --endpoint $E note/s"), 0);
    assert_has (out, "\"value\":5");
    proc_read (p, "node.log", log);
    assert_has (log, "note/s: the note handler wrote into its state");
}

//  What else a handler reads but may not write: its address (and id),
//  and its message's name and sender. A handler that wrote into its
//  address's string wrote its event over another note's acknowledged
//  first event (note/b0's Alias over note/b1's Added), and one that wrote
//  into the name had the command's inbox record stored under the new
//  name (its retry refused as id_reused). Each now writes a copy only,
//  and the node says so. And a handler's own return code is said as a
//  number: its -10 read as the node's "storage error".
static void test_lent_strings_read_only (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX], log[PROC_OUTPUT_MAX];
    proc_node_start (p, NODE);
    s_send (p, out, 0, "note/b1", "Add", "by=5");
    s_send (p, out, 0, "note/b0", "Alias", NULL);
    assert_int_equal (proc_run (p, out, err, "$SHOAL events --endpoint $E note/b1"), 0);
    assert_has (out, "\"by\":5");
    assert_int_equal (s_count (out, "\"seq\":"), 1);
    assert_int_equal (proc_run (p, out, err, "$SHOAL events --endpoint $E note/b0"), 0);
    assert_has (out, "\"seq\":1,\"event\":\"Added\",\"data\":{\"by\":1}");
    s_send (p, out, 0, "note/b0", "Get", NULL);
    assert_has (out, "\"value\":1");
    //  A retry of Rename is answered from its inbox record, as any retry.
    for (int i = 0; i < 2; i++)
        if (proc_run (p, out, err, "$SHOAL send --endpoint $E --id r7 note/b0 Rename") != 0)
            fail_msg ("Rename, copy %d: %s %s", i + 1, out, err);
    proc_read (p, "node.log", log);
    assert_has (log, "note/b0: the note handler wrote into its address");
    assert_has (log, "note/b0: the note handler wrote into its message's name or sender");
    //  Across a restart too: what the store holds.
    proc_node_signal (p, SIGKILL);
    proc_node_start (p, NODE);
    assert_int_equal (proc_run (p, out, err, "$SHOAL events --endpoint $E note/b1"), 0);
    assert_int_equal (s_count (out, "\"seq\":"), 1);
    assert_has (out, "\"by\":5");
    s_send (p, out, 0, "note/b0", "Get", NULL);
    assert_has (out, "\"value\":1");
    assert_int_equal (proc_run (p, out, err, "$SHOAL send --endpoint $E --id r7 note/b0 Rename"),
                      0);
    s_send (p, out, 1, "note/b0", "Ret", "code=-10");
    assert_has (out, "note handler failed on Ret: returned -10 (storage error)");
}

//  --------------------------------------------------------------------------
//  2. A message's id and created time.

//  Wall-clock ms since the epoch (proc_now_ms is monotonic).
static int64_t s_wall_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void test_msg_id_and_created (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    proc_node_start (p, NODE);
    int64_t before = s_wall_ms ();
    assert_int_equal (proc_run (p, out, err, "$SHOAL send --endpoint $E --id k1 note/w Whoami"), 0);
    int64_t after = s_wall_ms ();
    //  The handler's id is the hex the client shows for its key.
    const char *shown = strstr (out, "\"id_hex\":\"");
    assert_non_null (shown);
    char hex[33];
    snprintf (hex, sizeof hex, "%s", shown + strlen ("\"id_hex\":\""));
    assert_int_equal (strspn (hex, "0123456789abcdef"), 32);
    char field[64];
    snprintf (field, sizeof field, "\"id\":\"%s\"", hex);
    assert_has (out, field);
    const char *created = strstr (out, "\"created\":");
    assert_non_null (created);
    long long ms = atoll (created + strlen ("\"created\":"));
    assert_in_range (ms, before - 1000, after + 1000);
    //  Another message, another id.
    assert_int_equal (proc_run (p, out, err, "$SHOAL send --endpoint $E note/w Whoami"), 0);
    assert_lacks (out, field);
}

//  --------------------------------------------------------------------------
//  3. A timer cancelled by name never fires.

//  Waits until note's events have "Rang" for timer name; returns them in
//  out.
static void s_wait_rang (proc_t *p, const char *address, const char *name, char *out)
{
    char needle[128];
    snprintf (needle, sizeof needle, "\"name\":\"%s\"", name);
    int64_t deadline = proc_now_ms () + WAIT_MS;
    while (true) {
        assert_int_equal (proc_run (p, out, NULL, "$SHOAL events --endpoint $E %s", address), 0);
        if (strstr (out, needle))
            return;
        if (proc_now_ms () > deadline)
            fail_msg ("timer %s of %s never fired: %s", name, address, out);
        usleep (100 * 1000);
    }
}

//  Timers of one actor fire in due order: once control (due after the
//  cancelled one) has fired, the cancelled one would have fired first.
static void test_timer_cancel (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX];
    proc_node_start (p, NODE);
    //  Cancelled in a later turn, in the running node.
    s_send (p, out, 0, "note/t", "Remind", "name=ring ms=3000");
    s_send (p, out, 0, "note/t", "Remind", "name=control ms=4000");
    s_send (p, out, 0, "note/t", "Cancel", "name=ring");
    s_send (p, out, 0, "note/t", "Cancel", "name=nothing"); //  none pending: fine
    s_wait_rang (p, "note/t", "control", out);
    assert_lacks (out, "\"name\":\"ring\"");

    //  Cancelled, then the node restarts before either is due.
    s_send (p, out, 0, "note/t", "Remind", "name=late ms=4000");
    s_send (p, out, 0, "note/t", "Remind", "name=later ms=5000");
    s_send (p, out, 0, "note/t", "Cancel", "name=late");
    proc_node_signal (p, SIGTERM);
    proc_node_start (p, NODE);
    s_wait_rang (p, "note/t", "later", out);
    assert_lacks (out, "\"name\":\"late\"");
    assert_int_equal (s_count (out, "\"Rang\""), 2);
    //  A bad name fails the turn, as other misuse of ctx does.
    s_send (p, out, 1, "note/t", "Cancel", "name='has space'");
    assert_has (out, "handler_error");
}

//  Each actor's timers are its own (timers.c keeps a list per actor): a
//  cancel takes every timer of that name of that actor, and none of
//  another's of the same name, nor of its own of another name; `explain`
//  lists an actor's own timers.
static void test_timer_cancel_among_many (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX];
    proc_node_start (p, NODE);
    s_send (p, out, 0, "note/m1", "Remind", "name=ring ms=3000");
    s_send (p, out, 0, "note/m1", "Remind", "name=ring ms=3100");
    s_send (p, out, 0, "note/m1", "Remind", "name=keep ms=3000");
    s_send (p, out, 0, "note/m2", "Remind", "name=ring ms=3000");
    s_send (p, out, 0, "note/m3", "Remind", "name=control ms=4000");
    s_send (p, out, 0, "note/m1", "Cancel", "name=ring");
    assert_int_equal (proc_run (p, out, NULL, "$SHOAL explain --endpoint $E --json note/m1"), 0);
    assert_has (out, "\"name\":\"keep\"");
    assert_lacks (out, "\"name\":\"ring\"");
    assert_int_equal (proc_run (p, out, NULL, "$SHOAL explain --endpoint $E --json note/m2"), 0);
    assert_has (out, "\"name\":\"ring\"");
    s_wait_rang (p, "note/m3", "control", out);
    assert_int_equal (proc_run (p, out, NULL, "$SHOAL events --endpoint $E note/m1"), 0);
    assert_has (out, "\"name\":\"keep\"");
    assert_lacks (out, "\"name\":\"ring\"");
    s_wait_rang (p, "note/m2", "ring", out);
}

//  --------------------------------------------------------------------------
//  4. Snapshots with a version.

//  Sends Get to note/s and checks its value and whether it came from a
//  snapshot.
static void s_note_is (proc_t *p, int value, bool restored)
{
    char out[PROC_OUTPUT_MAX], want[64];
    s_send (p, out, 0, "note/s", "Get", NULL);
    snprintf (want, sizeof want, "\"value\":%d", value);
    assert_has (out, want);
    assert_has (out, restored ? "\"restored\":true" : "\"restored\":false");
}

//  Restarts the node (if it runs) with extra options; truncates its log
//  first.
static void s_restart (proc_t *p, const char *extra)
{
    proc_node_signal (p, SIGTERM);
    assert_int_equal (proc_run (p, NULL, NULL, ": > $DIR/node.log"), 0);
    proc_node_start (p, NODE " --snapshot-every 2 %s", extra);
}

//  Overwrites note/s's snapshot record with bytes that are no record.
static void s_damage_snapshot (proc_t *p)
{
    char dir[128];
    snprintf (dir, sizeof dir, "%s/data", p->dir);
    uint8_t key[4 + SHOAL_ADDRESS_MAX];
    uint32_t shard = shoal_shard ("note/s", SHOAL_SHARDS_DEFAULT);
    key[0] = 'S';
    key[1] = (uint8_t) (shard >> 8);
    key[2] = (uint8_t) shard;
    key[3] = 's';
    memcpy (key + 4, "note/s", 6);
    leveldb_options_t *options = leveldb_options_create ();
    char *err = NULL;
    leveldb_t *db = leveldb_open (options, dir, &err);
    assert_null (err);
    //  Also check that a record is there to damage.
    leveldb_readoptions_t *read = leveldb_readoptions_create ();
    size_t size = 0;
    char *value = leveldb_get (db, read, (const char *) key, 10, &size, &err);
    assert_null (err);
    assert_non_null (value);
    leveldb_free (value);
    leveldb_readoptions_destroy (read);
    leveldb_writeoptions_t *write = leveldb_writeoptions_create ();
    leveldb_put (db, write, (const char *) key, 10, "\x93\x01\xc1", 3, &err);
    assert_null (err);
    leveldb_writeoptions_destroy (write);
    leveldb_close (db);
    leveldb_options_destroy (options);
}

static void test_snapshot_versions (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], log[PROC_OUTPUT_MAX];
    proc_node_start (p, NODE " --snapshot-every 2");
    for (int by = 1; by <= 5; by++) {
        char fields[32];
        snprintf (fields, sizeof fields, "by=%d", by);
        s_send (p, out, 0, "note/s", "Add", fields);
    }
    //  Restored from the snapshot at 4, then event 5 replayed.
    s_restart (p, "");
    s_note_is (p, 15, true);
    proc_read (p, "node.log", log);
    assert_lacks (log, "ignored its snapshot");

    //  A type whose restore refuses the version of the snapshot (1): a
    //  full replay, logged.
    s_restart (p, "--module-opt api.snapshot_version=2");
    s_note_is (p, 15, false);
    proc_read (p, "node.log", log);
    assert_has (log, "note/s: ignored its snapshot (version 1, note type version 2): restore "
                     "refused it; rebuilding it from all its events");
    //  Its next events write a snapshot of version 2, which it restores.
    s_send (p, out, 0, "note/s", "Add", "by=1");
    s_restart (p, "--module-opt api.snapshot_version=2");
    s_note_is (p, 16, true);

    //  An older module meets the snapshot of version 2: not given to its
    //  restore, a full replay.
    s_restart (p, "");
    s_note_is (p, 16, false);
    proc_read (p, "node.log", log);
    assert_has (log, "version 2, note type version 1): its version is newer than the type's");

    //  A damaged record: the same.
    s_send (p, out, 0, "note/s", "Add", "by=2"); //  18, a snapshot of version 1
    s_restart (p, "");
    s_note_is (p, 18, true);
    proc_node_signal (p, SIGTERM);
    s_damage_snapshot (p);
    s_restart (p, "");
    s_note_is (p, 18, false);
    proc_read (p, "node.log", log);
    assert_has (log, "note/s: ignored its snapshot");
    assert_has (log, "its record is damaged; rebuilding it from all its events");
}

//  A note padded by 2 MB (small events, a big state): its snapshot, over
//  1 MiB less 8 KiB, is not written (it was, without a word), which is
//  logged with the type, the address, the size and the limit, and
//  counted; the note is rebuilt from its events, whole. `shoal get` of
//  it answers handler_error with its view's size (no answer came: the
//  reply could not be sent, and the client waited for its timeout). A
//  state small again writes its snapshot, which is restored.
static void test_snapshot_too_big (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX], log[PROC_OUTPUT_MAX];
    proc_node_start (p, NODE " --snapshot-every 2");
    s_send (p, out, 0, "note/big", "Pad", "bytes=2000000");
    s_send (p, out, 0, "note/big", "Add", "by=3"); //  event 2: a snapshot is due
    if (!proc_log_until (p, "no snapshot written", WAIT_MS, log))
        fail_msg ("the snapshot too big was not logged: %s", log);
    assert_has (log, "WARN worker ");
    assert_has (log, ": note/big: no snapshot written: the snapshot() of actor type 'note' wrote "
                     "20000");
    assert_has (log, " bytes of fields, more than 1 MiB less 8 KiB (1040384); its events keep "
                     "its state");
    assert_int_equal (proc_run (p, out, err, "$SHOAL stats --endpoint $E"), 0);
    assert_has (out, "\"snapshots_skipped\":1");
    //  Told, exit 1: not transient.
    assert_int_equal (proc_run (p, out, err, "$SHOAL get --endpoint $E note/big"), 1);
    strncat (out, err, sizeof out - strlen (out) - 1);
    assert_has (out, "handler_error");
    assert_has (out, "view() of actor type 'note' wrote 20000");
    //  explain tells the rest, the state left out, saying why.
    assert_int_equal (proc_run (p, out, err, "$SHOAL explain --endpoint $E note/big"), 0);
    assert_has (out, "state: not shown: ");
    assert_has (out, "view() of actor type 'note' wrote 20000");

    s_restart (p, "");
    char want[64];
    s_send (p, out, 0, "note/big", "Get", NULL);
    assert_has (out, "\"value\":3");
    assert_has (out, "\"restored\":false");
    snprintf (want, sizeof want, "\"pad\":%d", 2000000);
    assert_has (out, want);
    proc_read (p, "node.log", log);
    assert_lacks (log, "ignored its snapshot");

    s_send (p, out, 0, "note/big", "Pad", "bytes=10");
    s_send (p, out, 0, "note/big", "Add", "by=1"); //  event 4: two after the one skipped
    s_restart (p, "");
    s_send (p, out, 0, "note/big", "Get", NULL);
    assert_has (out, "\"value\":4");
    assert_has (out, "\"restored\":true");
    assert_has (out, "\"pad\":10");
    assert_int_equal (proc_run (p, out, err, "$SHOAL get --endpoint $E note/big"), 0);
    assert_has (out, "\"pad\":{\"$bytes\":\"AAAAAAAAAAAAAA==\"}");

    //  A snapshot as big that an older node wrote is still restored.
    proc_node_signal (p, SIGTERM);
    char dir[128], *error = NULL;
    snprintf (dir, sizeof dir, "%s/data", p->dir);
    int code;
    journal_t *journal = journal_open (dir, NULL, &code, &error);
    assert_non_null (journal);
    shoal_rec_t rec;
    rec_init (&rec);
    void *zeros = calloc (1, 2000000);
    assert_non_null (zeros);
    shoal_rec_int (&rec, "value", 4);
    shoal_rec_int (&rec, "version", 1);
    shoal_rec_bytes (&rec, "pad", zeros, 2000000);
    size_t size;
    const uint8_t *bytes = rec_finish (&rec, &size);
    assert_non_null (bytes);
    journal_batch_t *batch = journal_batch_new (journal);
    assert_int_equal (journal_batch_snapshot_versioned (batch, "note/big", 4, 1, bytes, size), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    journal_batch_destroy (&batch);
    journal_destroy (&journal);
    rec_close (&rec);
    free (zeros);
    s_restart (p, "");
    s_send (p, out, 0, "note/big", "Get", NULL);
    assert_has (out, "\"restored\":true");
    assert_has (out, want); //  pad 2000000
}

//  The journal keeps the version; a record made before versions were kept
//  (three fields) reads as version 0.
static void test_snapshot_record_version (void **state)
{
    proc_t *p = *state;
    char dir[128];
    snprintf (dir, sizeof dir, "%s/store", p->dir);
    int code;
    char *error = NULL;
    journal_t *journal = journal_open (dir, NULL, &code, &error);
    assert_non_null (journal);
    journal_batch_t *batch = journal_batch_new (journal);
    const uint8_t map[] = {0x81, 0xa1, 'n', 0x07}; //  {"n": 7}
    assert_int_equal (journal_batch_snapshot_versioned (batch, "note/a", 3, 5, map, sizeof map), 0);
    assert_int_equal (journal_batch_snapshot_versioned (batch, "note/b", 3, -1, map, sizeof map),
                      SHOAL_EINVAL);
    assert_int_equal (journal_batch_snapshot (batch, "note/c", 2, map, sizeof map), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    int64_t seq;
    uint8_t *bytes;
    size_t size;
    int version = -1;
    assert_int_equal (journal_snapshot_read (journal, "note/a", &seq, &bytes, &size, &version), 0);
    assert_int_equal (seq, 3);
    assert_int_equal (version, 5);
    assert_memory_equal (bytes, map, sizeof map);
    free (bytes);
    assert_int_equal (journal_snapshot_read (journal, "note/c", &seq, &bytes, &size, &version), 0);
    assert_int_equal (version, 0);
    free (bytes);
    journal_batch_destroy (&batch);
    journal_destroy (&journal);

    //  [1, 9, {"n": 7}]: three fields, as shoal wrote them before.
    uint8_t key[4 + SHOAL_ADDRESS_MAX];
    uint32_t shard = shoal_shard ("note/old", SHOAL_SHARDS_DEFAULT);
    key[0] = 'S';
    key[1] = (uint8_t) (shard >> 8);
    key[2] = (uint8_t) shard;
    key[3] = 's';
    memcpy (key + 4, "note/old", 8);
    uint8_t old[3 + sizeof map] = {0x93, 0x01, 0x09};
    memcpy (old + 3, map, sizeof map);
    leveldb_options_t *options = leveldb_options_create ();
    char *err = NULL;
    leveldb_t *db = leveldb_open (options, dir, &err);
    assert_null (err);
    leveldb_writeoptions_t *write = leveldb_writeoptions_create ();
    leveldb_put (db, write, (const char *) key, 12, (const char *) old, sizeof old, &err);
    assert_null (err);
    leveldb_writeoptions_destroy (write);
    leveldb_close (db);
    leveldb_options_destroy (options);
    journal = journal_open (dir, NULL, &code, &error);
    assert_non_null (journal);
    version = -1;
    assert_int_equal (journal_snapshot_read (journal, "note/old", &seq, &bytes, &size, &version),
                      0);
    assert_int_equal (seq, 9);
    assert_int_equal (version, 0);
    free (bytes);
    journal_destroy (&journal);
}

//  A type registers snapshot and restore together, and an ABI 1 struct
//  (64 bytes, restore without a version) is refused.
static int s_restore_any (void *state, int version, const shoal_data_t *snapshot)
{
    (void) state, (void) version, (void) snapshot;
    return 0;
}

static void test_register_snapshot_pair (void **state)
{
    (void) state;
    shoal_registry_t *registry = registry_new ();
    shoal_type_t type = s_plain;
    type.restore = s_restore_any;
    assert_int_equal (shoal_register (registry, &type), SHOAL_EINVAL);
    type.restore = NULL;
    type.snapshot = s_plain_view;
    assert_int_equal (shoal_register (registry, &type), SHOAL_EINVAL);
    type.restore = s_restore_any;
    type.snapshot_version = -1;
    assert_int_equal (shoal_register (registry, &type), SHOAL_EINVAL);
    type.snapshot_version = 3;
    assert_int_equal (shoal_register_sized (registry, &type, 8 * sizeof (void *)), SHOAL_EVERSION);
    assert_int_equal (shoal_register (registry, &type), 0);
    assert_int_equal (registry_lookup (registry, "plain/x")->snapshot_version, 3);
    registry_destroy (&registry);
}

//  --------------------------------------------------------------------------
//  5. Module options and the log.

//  Options are per module, read while that module loads.
static void test_registry_options (void **state)
{
    (void) state;
    shoal_registry_t *registry = registry_new ();
    assert_int_equal (registry_option_set (registry, "api", "greeting", "hi"), 0);
    assert_int_equal (registry_option_set (registry, "api", "greeting", "hello"), 0);
    assert_int_equal (registry_option_set (registry, "other", "greeting", "no"), 0);
    assert_int_equal (registry_option_set (registry, "", "greeting", "no"), SHOAL_EINVAL);
    assert_int_equal (registry_option_set (registry, "api", "", "no"), SHOAL_EINVAL);
    assert_null (shoal_registry_option (registry, "greeting")); //  no module loading
    assert_int_equal (registry_loading (registry, "api"), 0);
    assert_string_equal (shoal_registry_option (registry, "greeting"), "hello");
    assert_null (shoal_registry_option (registry, "missing"));
    assert_int_equal (registry_loading (registry, "third"), 0);
    assert_null (shoal_registry_option (registry, "greeting"));
    assert_int_equal (registry_loading (registry, NULL), 0);
    assert_null (shoal_registry_option (registry, "greeting"));
    assert_null (shoal_registry_option (NULL, "greeting"));
    registry_destroy (&registry);
}

static void test_module_options (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    //  On the command line, by the file's base name.
    proc_node_start (p, NODE " --module-opt api.greeting=hello --module-opt api.greting=typo");
    s_send (p, out, 0, "note/o", "Option", NULL);
    assert_has (out, "\"greeting\":\"hello\"");
    proc_node_signal (p, SIGTERM);
    //  One the module never asked for (a typo) is said at its start.
    char log[PROC_OUTPUT_MAX];
    proc_read (p, "node.log", log);
    assert_has (log, "module api: its option 'greting' was given, but the module did not read it");
    assert_null (strstr (log, "its option 'greeting'"));
    //  An option for a module that is not loaded is refused, not dropped.
    assert_int_equal (proc_run (p, out, err,
                                NODE
                                " --module-opt api.greeting=hello --module-opt other.greeting=no"),
                      1);
    assert_has (err, "--module-opt other.greeting: no module other is loaded");

    //  In the config file, under the module's entry, by the name it has
    //  there; the command line wins.
    assert_int_equal (proc_run (p, out, err,
                                "printf 'node\\n    modules\\n        notes = %%s\\n"
                                "            greeting = fromfile\\n' \"$SHOAL_API_MODULE\" "
                                "> $DIR/node.cfg"),
                      0);
    proc_node_start (p, "$SHOAL node --endpoint $E --data $DIR/data --workers 2 --metrics off "
                        "--config $DIR/node.cfg");
    s_send (p, out, 0, "note/o", "Option", NULL);
    assert_has (out, "\"greeting\":\"fromfile\"");
    proc_node_signal (p, SIGTERM);
    //  There the module is called notes, not api.
    assert_int_equal (proc_run (p, out, err,
                                "$SHOAL node --endpoint $E --data $DIR/data --workers 2 --metrics "
                                "off --config $DIR/node.cfg --module-opt api.greeting=cli"),
                      1);
    assert_has (err, "--module-opt api.greeting: no module api is loaded");
    proc_node_start (p, "$SHOAL node --endpoint $E --data $DIR/data --workers 2 --metrics off "
                        "--config $DIR/node.cfg --module-opt notes.greeting=cli");
    s_send (p, out, 0, "note/o", "Option", NULL);
    assert_has (out, "\"greeting\":\"cli\"");
    proc_node_signal (p, SIGTERM);

    //  A module whose file's name holds a dot keeps it in its name, and
    //  gets its options by that name (the command line split them at the
    //  first dot: "no module api is loaded"); a key may hold dots too, as
    //  in the config file.
    assert_int_equal (proc_run (p, out, err, "cp \"$SHOAL_API_MODULE\" $DIR/api.v2.so"), 0);
    proc_node_start (p, "$SHOAL node --endpoint $E --data $DIR/data --workers 2 --metrics off "
                        "--module $DIR/api.v2.so --module-opt api.v2.greeting=dotted "
                        "--module-opt api.v2.greeting.x=1");
    s_send (p, out, 0, "note/o", "Option", NULL);
    assert_has (out, "\"greeting\":\"dotted\"");
    proc_node_signal (p, SIGTERM);
    proc_read (p, "node.log", log);
    assert_has (log, "module api.v2: its option 'greeting.x' was given, but the module did not");

    //  A --module-opt that is not NAME.KEY=VALUE is a usage error.
    assert_int_equal (proc_run (p, out, err, NODE " --module-opt greeting=hello"), 2);
    assert_has (err, "--module-opt 'greeting=hello' is not NAME.KEY=VALUE");
}

//  A module that registers nothing loads, and the node warns that nothing
//  of it runs (it said so at INFO, as a module loaded).
static void test_module_registers_nothing (void **state)
{
    proc_t *p = *state;
    char log[PROC_OUTPUT_MAX];
    proc_node_start (p, NODE " --module-opt api.empty=1");
    proc_read (p, "node.log", log);
    assert_has (log, " WARN shoal node: module ");
    assert_has (log, " loaded (0 actor types, 0 projections): it registered nothing, so nothing "
                     "of it runs");
}

static void test_log_carries_address (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], log[PROC_OUTPUT_MAX];
    proc_node_start (p, NODE);
    s_send (p, out, 0, "note/logger", "Log", "text=hello");
    //  The line is written before the reply is sent: no wait is needed.
    proc_read (p, "node.log", log);
    assert_has (log, " WARN note/logger: note says hello\n");
    assert_has (log, " INFO api module: note snapshots are version 1\n");
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_state_read_only),
        cmocka_unit_test_setup_teardown (test_state_read_only_across_a_get, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_lent_strings_read_only, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_msg_id_and_created, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_timer_cancel, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_timer_cancel_among_many, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_snapshot_versions, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_snapshot_too_big, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_snapshot_record_version, s_setup, s_teardown),
        cmocka_unit_test (test_register_snapshot_pair),
        cmocka_unit_test (test_registry_options),
        cmocka_unit_test_setup_teardown (test_module_options, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_log_carries_address, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_module_registers_nothing, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
