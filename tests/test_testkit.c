/*  test_testkit.c - the test kit itself (runtime/testkit.c): that it
    catches what it promises to catch. An apply that disagrees with handle
    fails the turn, and so does a handler that writes into its state, its
    address or its message, a snapshot that writes a wrong state, or
    one (or a view) too big for a node; a rejected turn keeps nothing;
   timers fire in due order at their due time, cancelled ones never; bad kits are refused,
   and a module a node refuses, with the node's reason.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "shoal_testkit.h"
#include "stderr_capture.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    int64_t value;
    int64_t ticks;
} tally_t;

//  Add{by}: Added{by}. Arm{ms, name}: a timer. Disarm{name}: cancels it.
//  A timer: Ticked{name}. Lie: Added{by: 1}, which the buggy apply skips.
//  Scribble writes into its state, Alias into its address, Rename into its
//  message's name (each through a cast), and then emits Added{by: 1}. Fan
//  sends Ping to tally/a and tally/b; a reply: Heard{from}.
static int s_handle (shoal_ctx_t *ctx, const void *state, const shoal_msg_t *msg)
{
    const char *name = shoal_msg_name (msg);
    const shoal_data_t *data = shoal_msg_data (msg);
    char text[64];
    int64_t n;
    if (shoal_msg_kind (msg) == SHOAL_TIMER) {
        shoal_rec_str (shoal_ctx_emit (ctx, "Ticked"), "name", name);
        shoal_rec_int (shoal_ctx_reply (ctx), "at", shoal_ctx_now (ctx));
        return 0;
    }
    if (strcmp (name, "Add") == 0 && shoal_data_int (data, "by", &n) == 0 && n > 0) {
        shoal_rec_int (shoal_ctx_emit (ctx, "Added"), "by", n);
        return 0;
    }
    if (strcmp (name, "Arm") == 0 && shoal_data_int (data, "ms", &n) == 0 &&
        shoal_data_str (data, "name", text, sizeof text) == 0) {
        shoal_rec_int (shoal_ctx_after (ctx, n, text), "ms", n);
        return 0;
    }
    if (strcmp (name, "Disarm") == 0 && shoal_data_str (data, "name", text, sizeof text) == 0)
        return shoal_ctx_cancel (ctx, text);
    if (strcmp (name, "Lie") == 0) {
        shoal_rec_int (shoal_ctx_emit (ctx, "Added"), "by", 1);
        shoal_rec_int (shoal_ctx_emit (ctx, "Skipped"), "by", 1);
        return 0;
    }
    if (strcmp (name, "Scribble") == 0 || strcmp (name, "Alias") == 0 ||
        strcmp (name, "Rename") == 0) {
        if (name[0] == 'S')
            ((tally_t *) state)->value = 1000; //  what a handler must not do
        else if (name[0] == 'A')
            ((char *) shoal_ctx_id (ctx))[0] = 'X';
        else
            ((char *) name)[0] = 'X';
        shoal_rec_int (shoal_ctx_emit (ctx, "Added"), "by", 1);
        return 0;
    }
    if (strcmp (name, "Fan") == 0) { //  Ping to tally/a, then tally/b
        shoal_ctx_send (ctx, "tally/a", "Ping");
        shoal_ctx_send (ctx, "tally/b", "Ping");
        return 0;
    }
    if (shoal_msg_kind (msg) == SHOAL_REPLY) { //  Heard{from} of whoever answered
        shoal_rec_str (shoal_ctx_emit (ctx, "Heard"), "from", shoal_msg_from (msg));
        return 0;
    }
    if (strcmp (name, "Misuse") == 0) {
        shoal_rec_map_begin (shoal_ctx_reply (ctx), "open");
        return 0;
    }
    shoal_ctx_emit (ctx, "Added"); //  staged, then dropped by the rejection
    return shoal_ctx_reject (ctx, "no", "not %s", name);
}

static int s_apply (void *state, const char *event, const shoal_data_t *data)
{
    tally_t *tally = state;
    int64_t by;
    if (strcmp (event, "Ticked") == 0) {
        tally->ticks++;
        return 0;
    }
    if (strcmp (event, "Heard") == 0)
        return 0;
    if (shoal_data_int (data, "by", &by) != 0)
        return SHOAL_EFORMAT;
    if (strcmp (event, "Added") == 0)
        tally->value += by;
    else if (strcmp (event, "Skipped") != 0)
        return SHOAL_EFORMAT;
    return 0;
}

static void s_view (const void *state, shoal_rec_t *out)
{
    const tally_t *tally = state;
    shoal_rec_int (out, "value", tally->value);
    shoal_rec_int (out, "ticks", tally->ticks);
}

static const shoal_type_t s_tally = {
    .name = "tally",
    .state_size = sizeof (tally_t),
    .handle = s_handle,
    .apply = s_apply,
    .view = s_view,
};

//  The same type whose apply, live, counts an Added twice once the value
//  passed 10: a replay of the same events disagrees.
static int s_apply_drifting (void *state, const char *event, const shoal_data_t *data)
{
    tally_t *tally = state;
    int rc = s_apply (state, event, data);
    static int calls; //  the bug: a global that changes what apply does
    if (rc == 0 && strcmp (event, "Added") == 0 && tally->value > 10 && calls++ == 0)
        tally->value += 1;
    return rc;
}

static const shoal_type_t s_drifting = {
    .name = "tally",
    .state_size = sizeof (tally_t),
    .handle = s_handle,
    .apply = s_apply_drifting,
    .view = s_view,
};

//  The same type with snapshots, whose snapshot writes a wrong value
//  (restore takes it whole): a state restored from one is not the live one.
static void s_snapshot_wrong (const void *state, shoal_rec_t *out)
{
    const tally_t *tally = state;
    shoal_rec_int (out, "value", tally->value * 1000 + 7);
    shoal_rec_int (out, "ticks", tally->ticks);
}

static int s_restore (void *state, int version, const shoal_data_t *snapshot)
{
    (void) version;
    tally_t *tally = state;
    return shoal_data_int (snapshot, "value", &tally->value) ||
           shoal_data_int (snapshot, "ticks", &tally->ticks);
}

static const shoal_type_t s_snapshotting_wrong = {
    .name = "tally",
    .state_size = sizeof (tally_t),
    .handle = s_handle,
    .apply = s_apply,
    .view = s_view,
    .snapshot = s_snapshot_wrong,
    .restore = s_restore,
};

//  The same type whose snapshot, or whose view, also carries value zero
//  bytes: past 1 MiB less 8 KiB, a node would not write the snapshot, or
//  could not answer a get with the view.
static void s_pad (const void *state, shoal_rec_t *out)
{
    const tally_t *tally = state;
    void *zeros = calloc (1, (size_t) tally->value + 1);
    shoal_rec_bytes (out, "pad", zeros, zeros ? (size_t) tally->value : 0);
    free (zeros);
}

static void s_snapshot_padded (const void *state, shoal_rec_t *out)
{
    s_view (state, out);
    s_pad (state, out);
}

static const shoal_type_t s_snapshotting_padded = {
    .name = "tally",
    .state_size = sizeof (tally_t),
    .handle = s_handle,
    .apply = s_apply,
    .view = s_view,
    .snapshot = s_snapshot_padded,
    .restore = s_restore,
};

static const shoal_type_t s_viewing_padded = {
    .name = "tally",
    .state_size = sizeof (tally_t),
    .handle = s_handle,
    .apply = s_apply,
    .view = s_snapshot_padded,
};

static int64_t s_int (const shoal_data_t *data, const char *key)
{
    int64_t value = -1;
    assert_int_equal (shoal_data_int (data, key, &value), 0);
    return value;
}

static void s_add (shoal_testkit_t *kit, int64_t by)
{
    shoal_rec_int (shoal_testkit_command (kit, "Add"), "by", by);
}

static void s_arm (shoal_testkit_t *kit, int64_t ms, const char *name)
{
    shoal_rec_t *rec = shoal_testkit_command (kit, "Arm");
    shoal_rec_int (rec, "ms", ms);
    shoal_rec_str (rec, "name", name);
    assert_int_equal (shoal_testkit_run (kit), 0);
}

static void test_usage (void **state)
{
    shoal_testkit_t *kit = shoal_testkit_new (&s_tally, "tally/t1");
    assert_non_null (kit);
    shoal_rec_int (shoal_testkit_given (kit, "Added"), "by", 2);
    s_add (kit, 3);
    assert_int_equal (shoal_testkit_run (kit), 0);
    assert_true (shoal_testkit_accepted (kit));
    assert_int_equal (shoal_testkit_events (kit), 1);
    assert_int_equal (s_int (shoal_testkit_view (kit), "value"), 5);
    assert_int_equal (shoal_testkit_version (kit), 2);
    assert_string_equal (shoal_testkit_history (kit, 0), "Added");
    assert_int_equal (s_int (shoal_testkit_history_fields (kit, 1), "by"), 3);
    assert_null (shoal_testkit_history (kit, 2));
    assert_null (shoal_testkit_event (kit, 1));
    assert_int_equal (shoal_testkit_timer_due (kit, 0), -1);
    shoal_testkit_destroy (&kit);
    shoal_testkit_destroy (&kit);
    assert_null (kit);
}

static void test_rejected_keeps_nothing (void **state)
{
    shoal_testkit_t *kit = shoal_testkit_new (&s_tally, "tally/t1");
    s_add (kit, 4);
    assert_int_equal (shoal_testkit_run (kit), 0);
    shoal_testkit_command (kit, "Explode");
    assert_int_equal (shoal_testkit_run (kit), SHOAL_EREJECTED);
    assert_false (shoal_testkit_accepted (kit));
    assert_string_equal (shoal_testkit_code (kit), "no");
    assert_string_equal (shoal_testkit_why (kit), "not Explode");
    assert_int_equal (shoal_testkit_events (kit), 0);
    assert_int_equal (shoal_testkit_version (kit), 1);
    assert_int_equal (s_int (shoal_testkit_view (kit), "value"), 4);
    //  A misused rec is the handler's failure, not a rejection.
    shoal_testkit_command (kit, "Misuse");
    assert_int_equal (shoal_testkit_run (kit), SHOAL_EMODULE);
    assert_string_equal (shoal_testkit_code (kit), "handler_error");
    //  Nothing prepared.
    assert_int_equal (shoal_testkit_run (kit), SHOAL_EINVAL);
    shoal_testkit_destroy (&kit);
}

//  A handler that writes into what it may only read fails its turn in the
//  kit (a node undoes the write and logs it, which a test would not see):
//  the kit passed it, with a warning on stderr.
static void test_read_only_writes_fail (void **state)
{
    const char *commands[] = {"Scribble", "Alias", "Rename"};
    const char *said[] = {"wrote into its state", "wrote into its address",
                          "wrote into its message's name"};
    for (int i = 0; i < 3; i++) {
        shoal_testkit_t *kit = shoal_testkit_new (&s_tally, "tally/t1");
        s_add (kit, 4);
        assert_int_equal (shoal_testkit_run (kit), 0);
        shoal_testkit_command (kit, commands[i]);
        assert_int_equal (shoal_testkit_run (kit), SHOAL_EMODULE);
        assert_string_equal (shoal_testkit_code (kit), "handler_error");
        if (!strstr (shoal_testkit_why (kit), said[i]))
            fail_msg ("%s: %s", commands[i], shoal_testkit_why (kit));
        //  Nothing of the turn kept.
        assert_false (shoal_testkit_accepted (kit));
        assert_int_equal (shoal_testkit_events (kit), 0);
        assert_int_equal (shoal_testkit_version (kit), 1);
        assert_int_equal (s_int (shoal_testkit_view (kit), "value"), 4);
        //  And the next turn is an ordinary one.
        s_add (kit, 1);
        assert_int_equal (shoal_testkit_run (kit), 0);
        assert_int_equal (shoal_testkit_version (kit), 2);
        assert_int_equal (s_int (shoal_testkit_view (kit), "value"), 5);
        shoal_testkit_destroy (&kit);
    }
}

//  Two commands of one name, answered out of order by id: each reply comes
//  from the actor its command went to (shoal_testkit_reply by name could
//  only answer the oldest first).
static void test_reply_to_by_id (void **state)
{
    shoal_testkit_t *kit = shoal_testkit_new (&s_tally, "tally/t1");
    shoal_testkit_command (kit, "Fan");
    assert_int_equal (shoal_testkit_run (kit), 0);
    assert_int_equal (shoal_testkit_sent (kit), 2);
    char first[40], second[40];
    snprintf (first, sizeof first, "%s", shoal_testkit_sent_id (kit, 0));
    snprintf (second, sizeof second, "%s", shoal_testkit_sent_id (kit, 1));
    assert_non_null (shoal_testkit_reply_to (kit, second, true, NULL));
    assert_int_equal (shoal_testkit_run (kit), 0);
    char from[32];
    assert_int_equal (
        shoal_data_str (shoal_testkit_event_fields (kit, 0), "from", from, sizeof from), 0);
    assert_string_equal (from, "tally/b");
    //  The first is still unanswered: by name, the oldest unanswered is it.
    assert_non_null (shoal_testkit_reply (kit, "Ping", true, NULL));
    assert_int_equal (shoal_testkit_run (kit), 0);
    assert_int_equal (
        shoal_data_str (shoal_testkit_event_fields (kit, 0), "from", from, sizeof from), 0);
    assert_string_equal (from, "tally/a");
    assert_non_null (shoal_testkit_reply_to (kit, first, false, "no"));
    assert_null (shoal_testkit_reply_to (kit, "0123456789abcdef0123456789abcdef", true, NULL));
    shoal_testkit_destroy (&kit);
}

static void test_apply_disagreeing_with_handle (void **state)
{
    shoal_testkit_t *kit = shoal_testkit_new (&s_drifting, "tally/t1");
    s_add (kit, 6);
    assert_int_equal (shoal_testkit_run (kit), 0);
    s_add (kit, 6); //  the live apply adds 7
    assert_int_equal (shoal_testkit_run (kit), SHOAL_EFORMAT);
    assert_non_null (strstr (shoal_testkit_why (kit), "rebuilt from all events"));
    shoal_testkit_destroy (&kit);

    //  An event apply refuses, emitted by handle: the turn is undone.
    kit = shoal_testkit_new (&s_tally, "tally/t1");
    shoal_testkit_given (kit, "Unknown");
    assert_int_equal (shoal_testkit_commit (kit), SHOAL_EFORMAT);
    s_add (kit, 1);
    assert_int_equal (shoal_testkit_run (kit), 0);
    shoal_testkit_command (kit, "Lie"); //  Added then Skipped: both apply
    assert_int_equal (shoal_testkit_run (kit), 0);
    assert_int_equal (s_int (shoal_testkit_view (kit), "value"), 2);
    shoal_testkit_destroy (&kit);

    //  A snapshot that writes a wrong state: snapshot and restore are
    //  named, not apply (it blamed apply, which is right).
    kit = shoal_testkit_new (&s_snapshotting_wrong, "tally/t1");
    s_add (kit, 5);
    assert_int_equal (shoal_testkit_run (kit), SHOAL_EFORMAT);
    if (!strstr (shoal_testkit_why (kit), "restored from a snapshot") ||
        !strstr (shoal_testkit_why (kit), "snapshot does not write, or restore does not read"))
        fail_msg ("a wrong snapshot: %s", shoal_testkit_why (kit));
    shoal_testkit_destroy (&kit);
}

//  A snapshot over 1 MiB less 8 KiB, which a node does not write, and a
//  view as big, with which it cannot answer a get: the turn that grows
//  the state past it fails, saying which and how big.
static void test_too_big (void **state)
{
    shoal_testkit_t *kit = shoal_testkit_new (&s_snapshotting_padded, "tally/t1");
    s_add (kit, 1000);
    assert_int_equal (shoal_testkit_run (kit), 0);
    s_add (kit, 2000000);
    assert_int_equal (shoal_testkit_run (kit), SHOAL_EFORMAT);
    if (!strstr (shoal_testkit_why (kit), "snapshot wrote 2001") ||
        !strstr (shoal_testkit_why (kit), " bytes of fields, more than 1 MiB less 8 KiB "
                                          "(1040384): a node does not write it"))
        fail_msg ("a snapshot too big: %s", shoal_testkit_why (kit));
    shoal_testkit_destroy (&kit);

    kit = shoal_testkit_new (&s_viewing_padded, "tally/t1");
    s_add (kit, 1040000); //  its view fits, just
    assert_int_equal (shoal_testkit_run (kit), 0);
    s_add (kit, 1000);
    assert_int_equal (shoal_testkit_run (kit), SHOAL_EFORMAT);
    if (!strstr (shoal_testkit_why (kit), "view wrote 1041") ||
        !strstr (shoal_testkit_why (kit), "(1040384): a node's `shoal get` answers handler_error"))
        fail_msg ("a view too big: %s", shoal_testkit_why (kit));
    shoal_testkit_destroy (&kit);
}

static void test_timers_in_due_order (void **state)
{
    shoal_testkit_t *kit = shoal_testkit_new (&s_tally, "tally/t1");
    int64_t t0 = shoal_testkit_now (kit);
    assert_int_equal (t0, SHOAL_TESTKIT_EPOCH);
    s_arm (kit, 3600000, "late");
    assert_int_equal (shoal_testkit_timer_due (kit, 0), t0 + 3600000);
    assert_int_equal (s_int (shoal_testkit_timer_fields (kit, 0), "ms"), 3600000);
    s_arm (kit, 1000, "soon");
    s_arm (kit, 5000, "cancelled");
    assert_int_equal (shoal_testkit_pending (kit), 3);
    shoal_rec_str (shoal_testkit_command (kit, "Disarm"), "name", "cancelled");
    assert_int_equal (shoal_testkit_run (kit), 0);
    assert_int_equal (shoal_testkit_cancels (kit), 1);
    assert_string_equal (shoal_testkit_cancel_name (kit, 0), "cancelled");
    assert_int_equal (shoal_testkit_pending (kit), 2);

    assert_int_equal (shoal_testkit_advance (kit, -1), SHOAL_EINVAL);
    assert_int_equal (shoal_testkit_advance (kit, 999), 0);
    assert_int_equal (shoal_testkit_advance (kit, 1), 1); //  "soon", at t0 + 1000
    assert_int_equal (s_int (shoal_testkit_replied (kit), "at"), t0 + 1000);
    assert_string_equal (shoal_testkit_event (kit, 0), "Ticked");
    char name[16];
    assert_int_equal (
        shoal_data_str (shoal_testkit_event_fields (kit, 0), "name", name, sizeof name), 0);
    assert_string_equal (name, "soon");
    //  Two hours: "late" fires at its time, the clock ends at the target.
    assert_int_equal (shoal_testkit_advance (kit, 7200000), 1);
    assert_int_equal (s_int (shoal_testkit_replied (kit), "at"), t0 + 3600000);
    assert_int_equal (shoal_testkit_now (kit), t0 + 1000 + 7200000);
    assert_int_equal (s_int (shoal_testkit_view (kit), "ticks"), 2);
    assert_int_equal (shoal_testkit_pending (kit), 0);
    shoal_testkit_destroy (&kit);
}

static int s_init_ok (shoal_registry_t *registry)
{
    return shoal_register (registry, &s_tally);
}

static int s_init_fails (shoal_registry_t *registry)
{
    return SHOAL_EINVAL;
}

//  Registers a good type, then one a node refuses, and returns 0 all the
//  same: a node refuses the module (it would run without that type).
static int s_init_ignores_refusal (shoal_registry_t *registry)
{
    shoal_type_t bad = s_tally;
    bad.name = "Bad/x";
    shoal_register (registry, &s_tally);
    shoal_register (registry, &bad);
    return 0;
}

//  shoal_testkit_new_module (init, address) with stderr in a file: what
//  the kit said into said (size bytes). Returns the kit.
static shoal_testkit_t *s_new_module_saying (shoal_module_init_fn *init, const char *address,
                                             char *said, size_t size)
{
    stderr_capture_t capture;
    stderr_capture_begin (&capture);
    shoal_testkit_t *kit = shoal_testkit_new_module (init, address);
    stderr_capture_end (&capture, said, size);
    return kit;
}

//  A module a node refuses, the kit refuses too, with the node's reason:
//  a registration refused, though its init returned 0 (the kit took it).
static void test_refused_registration (void **state)
{
    char said[1024];
    shoal_testkit_t *kit =
        s_new_module_saying (s_init_ignores_refusal, "tally/t1", said, sizeof said);
    assert_null (kit);
    if (!strstr (said, "shoal_testkit_new_module: the module failed to start: actor type name "
                       "'Bad/x' is not 1 to 63 bytes of [a-z0-9_-] starting with a letter\n"))
        fail_msg ("the kit said: %s", said);
    kit = s_new_module_saying (s_init_fails, "tally/t1", said, sizeof said);
    assert_null (kit);
    assert_non_null (strstr (said, "its shoal_module_init returned -1 (invalid argument)\n"));
    kit = s_new_module_saying (s_init_ok, "tally/t1", said, sizeof said);
    assert_non_null (kit);
    assert_string_equal (said, "");
    shoal_testkit_destroy (&kit);
}

static void test_bad_kits (void **state)
{
    assert_null (shoal_testkit_new (&s_tally, "tally"));
    assert_null (shoal_testkit_new (&s_tally, "other/t1"));
    assert_null (shoal_testkit_new (&s_tally, "tally/"));
    assert_null (shoal_testkit_new (NULL, "tally/t1"));
    assert_null (shoal_testkit_new_module (s_init_fails, "tally/t1"));
    assert_null (shoal_testkit_new_module (s_init_ok, "other/t1"));
    shoal_testkit_t *kit = shoal_testkit_new_module (s_init_ok, "tally/t1");
    assert_non_null (kit);
    assert_null (shoal_testkit_command (kit, "bad name"));
    assert_null (shoal_testkit_given (kit, ""));
    assert_int_equal (shoal_testkit_stall (kit, "0123"), SHOAL_ENOTFOUND);
    assert_int_equal (shoal_testkit_from (kit, "no slash"), SHOAL_EADDRESS);
    shoal_testkit_destroy (&kit);
}

//  shoal_log at a level that is none of the four (a module's mistake) is
//  written at WARN, saying so (it was dropped, silently); a byte that is
//  not UTF-8 is written as \xNN, so that the log stays text.
static void test_log_odd_level (void **state)
{
    (void) state;
    char said[1024];
    stderr_capture_t capture;
    stderr_capture_begin (&capture);
    shoal_log (NULL, (shoal_log_level_t) 99, "bad level");
    shoal_log (NULL, (shoal_log_level_t) -1, "below");
    shoal_log (NULL, SHOAL_LOG_WARN, "byte \xff here, caf\xc3\xa9");
    stderr_capture_end (&capture, said, sizeof said);
    assert_non_null (strstr (said, " WARN (shoal_log at level 99, not a level) bad level\n"));
    assert_non_null (strstr (said, " WARN (shoal_log at level -1, not a level) below\n"));
    assert_non_null (strstr (said, " WARN byte \\xff here, caf\xc3\xa9\n"));
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_usage),
        cmocka_unit_test (test_rejected_keeps_nothing),
        cmocka_unit_test (test_read_only_writes_fail),
        cmocka_unit_test (test_reply_to_by_id),
        cmocka_unit_test (test_apply_disagreeing_with_handle),
        cmocka_unit_test (test_too_big),
        cmocka_unit_test (test_timers_in_due_order),
        cmocka_unit_test (test_bad_kits),
        cmocka_unit_test (test_refused_registration),
        cmocka_unit_test (test_log_odd_level),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
