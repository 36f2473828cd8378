/*  test_ctx_turn.c - a handler's turn through the probe actor: the usage
    example, the message's accessors, malformed messages, the limits of
    emits, sends and timers, bad addresses and names, timer delays.
    The fixture: ctx_test_util.h.
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

//  --------------------------------------------------------------------------
//  ctx: the turn

static void test_turn_usage (void **state)
{
    fixture_t *f = *state;
    shoal_rec_int (&f->payload, "n", 3);
    ACCEPT (f, "Emit", 3, 0, 0);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal (f->ctx.events[i].name, "E");
        assert_int_equal (harness_rec_int (&f->ctx.events[i].rec, "n"), i);
    }
    assert_int_equal (harness_rec_int (&f->ctx.reply, "count"), 3);
    //  The events were applied to the state, in order.
    assert_int_equal (ctx_probe (f)->applied, 3);
    assert_int_equal (ctx_probe (f)->sum, 0 + 1 + 2);
    assert_string_equal (ctx_probe (f)->last, "E");

    shoal_rec_str (&f->payload, "to", "account/alice");
    shoal_rec_str (&f->payload, "name", "Debit");
    ACCEPT (f, "Send", 0, 1, 0);
    assert_string_equal (f->ctx.sends[0].to, "account/alice");
    assert_string_equal (f->ctx.sends[0].name, "Debit");
    assert_int_equal (harness_rec_int (&f->ctx.sends[0].rec, "n"), 0);
    size_t size;
    rec_finish (&f->ctx.reply, &size);
    assert_int_equal (size, 1); //  the reply of the previous turn is gone

    shoal_rec_int (&f->payload, "ms", 250);
    shoal_rec_int (&f->payload, "n", 2);
    ACCEPT (f, "After", 0, 0, 2);
    assert_string_equal (f->ctx.timers[1].name, "tick");
    assert_int_equal (f->ctx.timers[1].ms, 250);
    assert_int_equal (harness_rec_int (&f->ctx.timers[1].rec, "n"), 1);

    //  What a handler sees of its ctx.
    ACCEPT (f, "Info", 0, 0, 0);
    assert_string_equal (ctx_seen.address, ADDRESS);
    assert_string_equal (ctx_seen.id, "p1");
    assert_int_equal (ctx_seen.version, 3);
    assert_int_equal (ctx_seen.now, NOW);
    assert_int_equal (f->version, 3);
}

static void test_msg_accessors (void **state)
{
    fixture_t *f = *state;

    //  A command from a client.
    shoal_rec_int (&f->payload, "x", 17);
    ACCEPT (f, "Info", 0, 0, 0);
    assert_int_equal (ctx_seen.kind, SHOAL_COMMAND);
    assert_string_equal (ctx_seen.name, "Info");
    assert_string_equal (ctx_seen.from, "");
    assert_false (ctx_seen.accepted);
    assert_string_equal (ctx_seen.code, "");
    assert_string_equal (ctx_seen.reason, "");
    assert_int_equal (ctx_seen.x_rc, 0);
    assert_int_equal (ctx_seen.x, 17);

    //  An empty payload: every field absent.
    assert_int_equal (harness_turn_run_bytes (f, ENVELOPE_COMMAND, "probe/q", "Info", NULL, 0),
                      CTX_ACCEPTED);
    assert_string_equal (ctx_seen.from, "probe/q");
    assert_int_equal (ctx_seen.x_rc, SHOAL_ENOTFOUND);

    //  An accepted reply: its data is the replier's fields.
    static const uint8_t x5[] = {0x81, 0xa1, 'x', 0x05};
    uint8_t *payload;
    size_t size;
    assert_int_equal (envelope_reply_encode (true, NULL, NULL, x5, sizeof x5, &payload, &size), 0);
    assert_int_equal (
        harness_turn_run_bytes (f, ENVELOPE_REPLY, "account/bob", "Credit", payload, size),
        CTX_ACCEPTED);
    free (payload);
    assert_int_equal (ctx_seen.kind, SHOAL_REPLY);
    assert_string_equal (ctx_seen.name, "Credit");
    assert_string_equal (ctx_seen.from, "account/bob");
    assert_true (ctx_seen.accepted);
    assert_string_equal (ctx_seen.code, "");
    assert_int_equal (ctx_seen.x, 5);

    //  A rejected reply: code and reason, no data.
    assert_int_equal (
        envelope_reply_encode (false, "closed", "account bob is closed", NULL, 0, &payload, &size),
        0);
    assert_int_equal (
        harness_turn_run_bytes (f, ENVELOPE_REPLY, "account/bob", "Credit", payload, size),
        CTX_ACCEPTED);
    free (payload);
    assert_false (ctx_seen.accepted);
    assert_string_equal (ctx_seen.code, "closed");
    assert_string_equal (ctx_seen.reason, "account bob is closed");
    assert_int_equal (ctx_seen.x_rc, SHOAL_ENOTFOUND);

    //  A timer: never "accepted", fields as set.
    assert_int_equal (harness_turn_run_bytes (f, ENVELOPE_TIMER, ADDRESS, "tick", x5, sizeof x5),
                      CTX_ACCEPTED);
    assert_int_equal (ctx_seen.kind, SHOAL_TIMER);
    assert_string_equal (ctx_seen.name, "tick");
    assert_false (ctx_seen.accepted);
    assert_int_equal (ctx_seen.x, 5);

    //  A stall notice: named by the unanswered command, never "accepted".
    assert_int_equal (
        harness_turn_run_bytes (f, ENVELOPE_STALLED, "account/bob", "Credit", x5, sizeof x5),
        CTX_ACCEPTED);
    assert_int_equal (ctx_seen.kind, SHOAL_STALLED);
    assert_string_equal (ctx_seen.name, "Credit");
    assert_string_equal (ctx_seen.from, "account/bob");
    assert_false (ctx_seen.accepted);
    assert_string_equal (ctx_seen.code, "");
    assert_int_equal (ctx_seen.x, 5);
}

static void test_msg_init_malformed (void **state)
{
    (void) state;
    envelope_t env;
    memset (&env, 0, sizeof env);
    snprintf (env.to, sizeof env.to, "%s", ADDRESS);
    snprintf (env.name, sizeof env.name, "Info");
    shoal_msg_t msg;

    //  A command or timer whose payload is not a map.
    static const uint8_t array[] = {0x91, 0x01};
    env.kind = ENVELOPE_COMMAND;
    env.payload = array;
    env.payload_size = sizeof array;
    assert_int_equal (msg_init (&msg, &env), SHOAL_EFORMAT);
    assert_false (shoal_data_has (shoal_msg_data (&msg), "x"));
    msg_close (&msg);
    env.kind = ENVELOPE_TIMER;
    assert_int_equal (msg_init (&msg, &env), SHOAL_EFORMAT);
    msg_close (&msg);

    //  A reply whose payload is a map but not a reply.
    static const uint8_t x5[] = {0x81, 0xa1, 'x', 0x05};
    env.kind = ENVELOPE_REPLY;
    env.payload = x5;
    env.payload_size = sizeof x5;
    assert_int_equal (msg_init (&msg, &env), SHOAL_EFORMAT);
    assert_false (shoal_data_has (shoal_msg_data (&msg), "x"));
    assert_false (shoal_msg_accepted (&msg));
    msg_close (&msg);
}

static void test_emit_limit (void **state)
{
    fixture_t *f = *state;
    shoal_rec_int (&f->payload, "n", CTX_MAX_EVENTS);
    ACCEPT (f, "Emit", CTX_MAX_EVENTS, 0, 0);
    assert_int_equal (ctx_probe (f)->applied, CTX_MAX_EVENTS);
    assert_int_equal (harness_rec_int (&f->ctx.events[CTX_MAX_EVENTS - 1].rec, "n"),
                      CTX_MAX_EVENTS - 1);

    shoal_rec_int (&f->payload, "n", CTX_MAX_EVENTS + 1);
    REJECT (f, "Emit", "handler_error");
    assert_non_null (strstr (f->ctx.reason, shoal_strerror (SHOAL_ETOOBIG)));
    //  The reason names the limit, not only "too big".
    assert_non_null (strstr (f->ctx.reason, "(more than 32 events emitted in one turn)"));
    assert_int_equal (ctx_probe (f)->applied, CTX_MAX_EVENTS);
}

static void test_send_limit (void **state)
{
    fixture_t *f = *state;
    shoal_rec_int (&f->payload, "n", CTX_MAX_SENDS);
    ACCEPT (f, "Send", 0, CTX_MAX_SENDS, 0);
    assert_string_equal (f->ctx.sends[CTX_MAX_SENDS - 1].to, "probe/other");
    shoal_rec_int (&f->payload, "n", CTX_MAX_SENDS + 1);
    REJECT (f, "Send", "handler_error");
    assert_non_null (strstr (f->ctx.reason, "(more than 16 commands sent in one turn)"));
}

static void test_timer_limit (void **state)
{
    fixture_t *f = *state;
    shoal_rec_int (&f->payload, "n", CTX_MAX_TIMERS);
    ACCEPT (f, "After", 0, 0, CTX_MAX_TIMERS);
    shoal_rec_int (&f->payload, "n", CTX_MAX_TIMERS + 1);
    REJECT (f, "After", "handler_error");
    assert_non_null (strstr (f->ctx.reason, "(more than 16 timers set in one turn)"));
}

static void test_bad_send_address (void **state)
{
    fixture_t *f = *state;
    char too_long[SHOAL_ADDRESS_MAX + 8];
    memset (too_long, 'x', sizeof too_long - 1);
    memcpy (too_long, "probe/", 6);
    too_long[sizeof too_long - 1] = 0;
    const char *bad[] = {"",   "alice",    "Probe/x",    "probe/",
                         "/x", "9probe/x", "probe/a\nb", too_long};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        shoal_rec_str (&f->payload, "to", bad[i]);
        REJECT (f, "Send", "handler_error");
        assert_non_null (strstr (f->ctx.reason, shoal_strerror (SHOAL_EADDRESS)));
        assert_non_null (strstr (f->ctx.reason, "(a command sent to something that is not"));
    }
    shoal_rec_bool (&f->payload, "null_to", true);
    REJECT (f, "Send", "handler_error");

    //  The longest valid address.
    char longest[SHOAL_ADDRESS_MAX + 1];
    memset (longest, 'i', sizeof longest - 1);
    memset (longest, 't', SHOAL_TYPE_MAX);
    longest[SHOAL_TYPE_MAX] = '/';
    longest[SHOAL_TYPE_MAX + 1 + SHOAL_ID_MAX] = 0;
    shoal_rec_str (&f->payload, "to", longest);
    ACCEPT (f, "Send", 0, 1, 0);
    assert_string_equal (f->ctx.sends[0].to, longest);
}

//  Each command that names something (Emit, Send, After) with a bad name.
static void test_bad_names (void **state)
{
    fixture_t *f = *state;
    char name64[SHOAL_NAME_MAX + 2];
    memset (name64, 'N', SHOAL_NAME_MAX + 1);
    name64[SHOAL_NAME_MAX + 1] = 0;
    char name63[SHOAL_NAME_MAX + 1];
    memset (name63, 'N', SHOAL_NAME_MAX);
    name63[SHOAL_NAME_MAX] = 0;
    const char *bad[] = {"", "has space", " lead", "tab\t", "del\x7f", "caf\xc3\xa9", name64};
    const char *commands[] = {"Emit", "Send", "After"};
    for (size_t c = 0; c < 3; c++) {
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            shoal_rec_str (&f->payload, "name", bad[i]);
            REJECT (f, commands[c], "handler_error");
            assert_non_null (strstr (f->ctx.reason, shoal_strerror (SHOAL_EINVAL)));
        }
        shoal_rec_bool (&f->payload, "null_name", true);
        REJECT (f, commands[c], "handler_error");

        shoal_rec_str (&f->payload, "name", name63);
        ACCEPT (f, commands[c], c == 0, c == 1, c == 2);
        const char *staged = c == 0   ? f->ctx.events[0].name
                             : c == 1 ? f->ctx.sends[0].name
                                      : f->ctx.timers[0].name;
        assert_string_equal (staged, name63);
        shoal_rec_str (&f->payload, "name", "Punct!#$%&'()*+,-./:;<=>?@[]^_`{|}~");
        ACCEPT (f, commands[c], c == 0, c == 1, c == 2);
    }
}

static void test_timer_delays (void **state)
{
    fixture_t *f = *state;
    shoal_rec_int (&f->payload, "ms", -1);
    REJECT (f, "After", "handler_error");
    shoal_rec_int (&f->payload, "ms", INT64_MIN);
    REJECT (f, "After", "handler_error");
    shoal_rec_int (&f->payload, "ms", 0);
    ACCEPT (f, "After", 0, 0, 1);
    assert_int_equal (f->ctx.timers[0].ms, 0);
    shoal_rec_int (&f->payload, "ms", CTX_MAX_TIMER_MS);
    ACCEPT (f, "After", 0, 0, 1);
    assert_true (f->ctx.timers[0].ms == CTX_MAX_TIMER_MS);
    //  Past the bound (100 years), so that now + ms cannot overflow.
    shoal_rec_int (&f->payload, "ms", CTX_MAX_TIMER_MS + 1);
    REJECT (f, "After", "handler_error");
    shoal_rec_int (&f->payload, "ms", INT64_MAX);
    REJECT (f, "After", "handler_error");
    assert_non_null (strstr (f->ctx.reason, shoal_strerror (SHOAL_EINVAL)));
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_turn_usage, ctx_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_msg_accessors, ctx_setup, harness_turn_teardown),
        cmocka_unit_test (test_msg_init_malformed),
        cmocka_unit_test_setup_teardown (test_emit_limit, ctx_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_send_limit, ctx_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_timer_limit, ctx_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_bad_send_address, ctx_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_bad_names, ctx_setup, harness_turn_teardown),
        cmocka_unit_test_setup_teardown (test_timer_delays, ctx_setup, harness_turn_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
