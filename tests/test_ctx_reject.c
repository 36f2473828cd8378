/*  test_ctx_reject.c - turns that fail or reject through the probe actor: an
    error without a reject, rejects and their codes and reasons, recs that
    fail the turn, an apply of its own event, a context reused after
    errors, ctx_apply. The fixture: ctx_test_util.h.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ctx.h"
#include "data.h"
#include "envelope.h"
#include "harness.h"
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx_test_util.h"

static void test_handler_error_without_reject (void **state)
{
    fixture_t *f = *state;
    REJECT (f, "Fail", "handler_error");
    assert_non_null (strstr (f->ctx.reason, "probe"));
    assert_non_null (strstr (f->ctx.reason, "Fail"));
    assert_non_null (strstr (f->ctx.reason, shoal_strerror (SHOAL_EIO)));
    assert_int_equal (ctx_probe (f)->applied, 0);
}

static void test_reject (void **state)
{
    fixture_t *f = *state;
    //  Everything staged before the rejection is dropped.
    shoal_rec_str (&f->payload, "code", "insufficient_funds");
    shoal_rec_str (&f->payload, "reason", "balance 3");
    REJECT (f, "Reject", "insufficient_funds");
    assert_string_equal (f->ctx.reason, "balance 3");

    //  Rejected even if the handler then returns 0.
    shoal_rec_bool (&f->payload, "zero", true);
    REJECT (f, "Reject", "nope");
    assert_string_equal (f->ctx.reason, "because");

    //  An empty code becomes "rejected"; a long reason is cut, not overrun.
    shoal_rec_str (&f->payload, "code", "");
    REJECT (f, "Reject", "rejected");
    char code[ENVELOPE_CODE_MAX + 1], reason[400];
    memset (code, 'c', sizeof code - 1);
    code[sizeof code - 1] = 0;
    memset (reason, 'r', sizeof reason - 1);
    reason[sizeof reason - 1] = 0;
    shoal_rec_str (&f->payload, "code", code);
    shoal_rec_str (&f->payload, "reason", reason);
    REJECT (f, "Reject", code);
    assert_int_equal (strlen (f->ctx.reason), ENVELOPE_REASON_MAX);

    //  A rejection that also misused the ctx is a handler error.
    REJECT (f, "RejectMisuse", "handler_error");
    assert_int_equal (ctx_probe (f)->applied, 0);
}

//  A rejection's code is a word, as the protocol says: one that is not
//  (a space, a newline, a byte past ASCII, more than ENVELOPE_CODE_MAX
//  bytes) is a misuse, and the turn fails as handler_error, naming it;
//  before, it was stored and sent as it came ("a b\n\xff"), or cut.
static void test_reject_bad_code (void **state)
{
    fixture_t *f = *state;
    char long_code[ENVELOPE_CODE_MAX + 2];
    memset (long_code, 'c', sizeof long_code - 1);
    long_code[sizeof long_code - 1] = 0;
    //  busy and unavailable tell a client to ask again: the stored
    //  rejection would answer it for ever. expired: the runtime's "cannot
    //  tell whether it ran" (repair.h). The runtime's own answers, which
    //  clients and tools read as the runtime's: handler_error and conflict
    //  would keep a client asking until its deadline, poisoned send an
    //  operator to the dead letters (stored and answered as they came,
    //  before).
    static const char *not_code = "a rejection code that is not a code",
                      *again = "a client would ask again for ever",
                      *expired = "older than the inbox retention (expired)",
                      *runtime = "the runtime keeps for its own answers";
    const struct {
        const char *code, *said;
    } refused[] = {
        {"a b\n\xff", not_code},   {"a b", not_code},       {"tab\there", not_code},
        {"caf\xc3\xa9", not_code}, {long_code, not_code},   {"busy", again},
        {"unavailable", again},    {"expired", expired},    {"handler_error", runtime},
        {"conflict", runtime},     {"poisoned", runtime},   {"dropped", runtime},
        {"key_revoked", runtime},  {"bad_frame", runtime},  {"bad_reply", runtime},
        {"too_soon", runtime},     {"bad_cancel", runtime},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        shoal_rec_str (&f->payload, "code", refused[i].code);
        REJECT (f, "Reject", "handler_error");
        assert_true (f->ctx.failed);
        assert_non_null (strstr (f->ctx.reason, refused[i].said));
        assert_int_equal (ctx_probe (f)->applied, 0);
    }
    //  The runtime's codes a handler may mean as they are.
    shoal_rec_str (&f->payload, "code", "id_reused");
    REJECT (f, "Reject", "id_reused");
    shoal_rec_str (&f->payload, "code", "invalid_payload");
    REJECT (f, "Reject", "invalid_payload");
    //  The runtime itself answers unavailable (a turn it could not stage):
    //  not a misuse, the code kept (it was refused, and the reply, with
    //  an empty code, did not encode: the client heard nothing).
    shoal_ctx_t *ctx = &f->ctx;
    ctx_begin (ctx, "counter/c1", 0, 0);
    assert_int_equal (ctx_reject_runtime (ctx, "unavailable", "could not stage: %s", "full"),
                      SHOAL_EREJECTED);
    assert_true (ctx->rejected);
    assert_false (ctx->failed);
    assert_null (ctx->misuse);
    assert_string_equal (ctx->code, "unavailable");
    assert_string_equal (ctx->reason, "could not stage: full");
}

//  A rejection's reason is UTF-8 whatever the handler wrote: cut at
//  ENVELOPE_REASON_MAX bytes between characters (the bank's transfer saga
//  quoting 200-byte ids of 'é' in its id_reused reason was cut after the
//  first byte of one, and the reply did not decode as UTF-8), a byte that
//  is not UTF-8 replaced by '?'.
static void test_reject_reason_utf8 (void **state)
{
    fixture_t *f = *state;
    char reason[2 * 200 + 1];
    for (size_t i = 0; i < 200; i++)
        memcpy (reason + 2 * i, "\xc3\xa9", 2);
    reason[sizeof reason - 1] = 0;
    shoal_rec_str (&f->payload, "code", "id_reused");
    shoal_rec_str (&f->payload, "reason", reason);
    REJECT (f, "Reject", "id_reused");
    assert_int_equal (strlen (f->ctx.reason), ENVELOPE_REASON_MAX - 1); //  127 of them
    assert_memory_equal (f->ctx.reason, reason, ENVELOPE_REASON_MAX - 1);

    shoal_rec_str (&f->payload, "code", "no");
    shoal_rec_str (&f->payload, "reason", "bad \xff byte, cut \xe2\x82");
    REJECT (f, "Reject", "no");
    assert_string_equal (f->ctx.reason, "bad ? byte, cut ");
}

static void test_rec_error_fails_turn (void **state)
{
    fixture_t *f = *state;
    const char *targets[] = {"event", "send", "timer", "reply"};
    for (size_t i = 0; i < 4; i++) {
        shoal_rec_str (&f->payload, "target", targets[i]);
        REJECT (f, "RecNull", "handler_error");
        assert_non_null (strstr (f->ctx.reason, shoal_strerror (SHOAL_EINVAL)));
        assert_non_null (
            strstr (f->ctx.reason, "(a field written wrongly with shoal_rec_*: a NULL string)"));
    }
}

//  A key written twice into one rec's map fails the turn as any other
//  misuse of a rec, and the reason names the key (the rec held it twice,
//  and `shoal` printed {"k":1,"k":2}).
static void test_rec_key_twice_fails_turn (void **state)
{
    fixture_t *f = *state;
    const char *targets[] = {"event", "send", "timer", "reply"};
    for (size_t i = 0; i < 4; i++) {
        shoal_rec_str (&f->payload, "target", targets[i]);
        shoal_rec_str (&f->payload, "to", "probe/other");
        REJECT (f, "RecTwice", "handler_error");
        assert_true (f->ctx.failed);
        assert_non_null (strstr (f->ctx.reason, shoal_strerror (SHOAL_EINVAL)));
        assert_non_null (strstr (f->ctx.reason, "(a field written wrongly with shoal_rec_*: the "
                                                "key 'k' written twice in one map)"));
    }
    assert_int_equal (ctx_probe (f)->applied, 0);
}

//  A field map that could not travel (over CTX_MAX_REC_BYTES) fails the
//  turn before anything is applied: the handler's error, not a decision.
static void test_rec_too_big_fails_turn (void **state)
{
    fixture_t *f = *state;
    const char *targets[] = {"event", "send", "reply"};
    for (size_t i = 0; i < 3; i++) {
        shoal_rec_str (&f->payload, "target", targets[i]);
        shoal_rec_int (&f->payload, "n", CTX_MAX_REC_BYTES);
        REJECT (f, "Big", "handler_error");
        assert_true (f->ctx.failed);
        assert_non_null (strstr (f->ctx.reason, shoal_strerror (SHOAL_ETOOBIG)));
        //  It names which, and its size (it said "a reply, event, command or
        //  timer of more than 1 MiB less 8 KiB").
        char said[64];
        snprintf (said, sizeof said, "the %s", i == 0 ? "event " : i == 1 ? "command " : "reply: ");
        if (!strstr (f->ctx.reason, said) ||
            !strstr (f->ctx.reason, " bytes of fields, more than 1 MiB less 8 KiB (1040384))"))
            fail_msg ("a %s too big: %s", targets[i], f->ctx.reason);
        shoal_rec_str (&f->payload, "target", targets[i]);
        shoal_rec_int (&f->payload, "n", 100000);
        assert_int_equal (ctx_test_run (f, "Big"), CTX_ACCEPTED);
        assert_false (f->ctx.failed);
    }
    //  A deliberate rejection is not a failure.
    shoal_rec_str (&f->payload, "code", "no");
    REJECT (f, "Reject", "no");
    assert_false (f->ctx.failed);
}

static void test_apply_refuses_own_event (void **state)
{
    fixture_t *f = *state;
    int rc = ctx_test_run (f, "Corrupt");
    assert_int_equal (rc, CTX_CORRUPT);
    assert_true (f->ctx.rejected);
    assert_string_equal (f->ctx.code, "handler_error");
    assert_non_null (strstr (f->ctx.reason, "Bad"));
    assert_int_equal (f->ctx.event_count, 0);
    assert_int_equal (f->ctx.send_count, 0);
    assert_int_equal (f->ctx.timer_count, 0);
    size_t size;
    rec_finish (&f->ctx.reply, &size);
    assert_int_equal (size, 1);
    //  The events before it were applied: the state must be dropped.
    assert_int_equal (ctx_probe (f)->applied, 1);
}

static void test_ctx_reused_after_errors (void **state)
{
    fixture_t *f = *state;
    shoal_rec_int (&f->payload, "n", CTX_MAX_EVENTS + 1);
    REJECT (f, "Emit", "handler_error");
    REJECT (f, "Fail", "handler_error");
    REJECT (f, "Reject", "nope");
    //  Nothing of the failed turns leaks into the next.
    shoal_rec_int (&f->payload, "n", 2);
    ACCEPT (f, "Emit", 2, 0, 0);
    assert_string_equal (f->ctx.code, "");
    assert_string_equal (f->ctx.reason, "");
    assert_int_equal (f->ctx.error, 0);
    assert_int_equal (harness_rec_int (&f->ctx.reply, "count"), 2);
    assert_int_equal (ctx_probe (f)->applied, 2);
    REJECT (f, "Nope", "unknown_command");
    assert_string_equal (f->ctx.reason, "probe takes no Nope");
}

static void test_ctx_apply (void **state)
{
    (void) state;
    probe_t probe;
    memset (&probe, 0, sizeof probe);
    static const uint8_t n4[] = {0x81, 0xa1, 'n', 0x04};
    static const uint8_t array[] = {0x91, 0x04};
    assert_int_equal (ctx_apply (&ctx_probe_type, &probe, "E", n4, sizeof n4), 0);
    assert_int_equal (probe.sum, 4);
    assert_int_equal (ctx_apply (&ctx_probe_type, &probe, "E", NULL, 0), 0);
    assert_int_equal (probe.applied, 2);
    assert_int_equal (ctx_apply (&ctx_probe_type, &probe, "E", array, sizeof array), SHOAL_EFORMAT);
    assert_int_equal (ctx_apply (&ctx_probe_type, &probe, "E", n4, sizeof n4 - 1), SHOAL_EFORMAT);
    //  apply's own error becomes SHOAL_EFORMAT.
    assert_int_equal (ctx_apply (&ctx_probe_type, &probe, "Bad", n4, sizeof n4), SHOAL_EFORMAT);
    assert_int_equal (probe.applied, 2);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_handler_error_without_reject, ctx_setup,
                                         harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_reject, ctx_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_reject_bad_code, ctx_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_reject_reason_utf8, ctx_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_rec_error_fails_turn, ctx_setup,
                                         harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_rec_key_twice_fails_turn, ctx_setup,
                                         harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_rec_too_big_fails_turn, ctx_setup,
                                         harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_apply_refuses_own_event, ctx_setup,
                                         harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_ctx_reused_after_errors, ctx_setup,
                                         harness_turn_teardown),
        cmocka_unit_test (test_ctx_apply),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
