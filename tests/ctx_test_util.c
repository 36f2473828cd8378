/*  ctx_test_util.c - what test_ctx_*.c share (ctx_test_util.h says what each is).
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

seen_t ctx_seen;

static int s_probe_apply (void *state, const char *event, const shoal_data_t *data)
{
    probe_t *probe = state;
    if (strcmp (event, "Bad") == 0)
        return SHOAL_EINVAL;
    int64_t n = 0;
    shoal_data_int (data, "n", &n);
    probe->applied++;
    probe->sum += n;
    snprintf (probe->last, sizeof probe->last, "%s", event);
    return 0;
}

//  Fields: n (how many, default 1), ms (timer delay), name (event,
//  command or timer name), to (send address), null_name / null_to (pass
//  NULL instead), target (which rec RecNull spoils), code, reason, zero.
static int s_probe_handle (shoal_ctx_t *ctx, const void *state, const shoal_msg_t *msg)
{
    const shoal_data_t *data = shoal_msg_data (msg);
    const char *command = shoal_msg_name (msg);
    int64_t n = 1, ms = 0;
    shoal_data_int (data, "n", &n);
    shoal_data_int (data, "ms", &ms);
    char name[128], to[512], target[16] = "", code[128] = "nope", reason[512] = "because";
    bool null_name = false, null_to = false, zero = false;
    shoal_data_bool (data, "null_name", &null_name);
    shoal_data_bool (data, "null_to", &null_to);
    shoal_data_bool (data, "zero", &zero);
    bool has_name = shoal_data_str (data, "name", name, sizeof name) == 0;
    if (shoal_data_str (data, "to", to, sizeof to) != 0)
        snprintf (to, sizeof to, "probe/other");
    shoal_data_str (data, "target", target, sizeof target);
    shoal_data_str (data, "code", code, sizeof code);
    shoal_data_str (data, "reason", reason, sizeof reason);

    if (strcmp (command, "Emit") == 0) {
        for (int64_t i = 0; i < n; i++)
            shoal_rec_int (shoal_ctx_emit (ctx, null_name ? NULL : has_name ? name : "E"), "n", i);
        shoal_rec_int (shoal_ctx_reply (ctx), "count", n);
        return 0;
    }
    if (strcmp (command, "Send") == 0) {
        for (int64_t i = 0; i < n; i++)
            shoal_rec_int (shoal_ctx_send (ctx, null_to ? NULL : to,
                                           null_name  ? NULL
                                           : has_name ? name
                                                      : "Ping"),
                           "n", i);
        return 0;
    }
    if (strcmp (command, "After") == 0) {
        for (int64_t i = 0; i < n; i++)
            shoal_rec_int (shoal_ctx_after (ctx, ms,
                                            null_name  ? NULL
                                            : has_name ? name
                                                       : "tick"),
                           "n", i);
        return 0;
    }
    if (strcmp (command, "Info") == 0 || shoal_msg_kind (msg) != SHOAL_COMMAND) {
        ctx_seen.kind = shoal_msg_kind (msg);
        snprintf (ctx_seen.name, sizeof ctx_seen.name, "%s", command);
        snprintf (ctx_seen.from, sizeof ctx_seen.from, "%s", shoal_msg_from (msg));
        snprintf (ctx_seen.address, sizeof ctx_seen.address, "%s", shoal_ctx_address (ctx));
        snprintf (ctx_seen.id, sizeof ctx_seen.id, "%s", shoal_ctx_id (ctx));
        ctx_seen.version = shoal_ctx_version (ctx);
        ctx_seen.now = shoal_ctx_now (ctx);
        ctx_seen.accepted = shoal_msg_accepted (msg);
        snprintf (ctx_seen.code, sizeof ctx_seen.code, "%s", shoal_msg_code (msg));
        snprintf (ctx_seen.reason, sizeof ctx_seen.reason, "%s", shoal_msg_reason (msg));
        ctx_seen.x = -1;
        ctx_seen.x_rc = shoal_data_int (data, "x", &ctx_seen.x);
        return 0;
    }
    if (strcmp (command, "Fail") == 0) {
        shoal_ctx_emit (ctx, "E");
        return SHOAL_EIO;
    }
    if (strcmp (command, "Reject") == 0) {
        shoal_ctx_emit (ctx, "E");
        shoal_ctx_send (ctx, "probe/other", "Ping");
        shoal_ctx_after (ctx, 10, "tick");
        shoal_rec_int (shoal_ctx_reply (ctx), "count", 1);
        int rc = shoal_ctx_reject (ctx, code, "%s", reason);
        assert_int_equal (rc, SHOAL_EREJECTED);
        return zero ? 0 : rc;
    }
    if (strcmp (command, "RejectMisuse") == 0) {
        int rc = shoal_ctx_reject (ctx, "nope", "because");
        shoal_ctx_emit (ctx, "has space");
        return rc;
    }
    if (strcmp (command, "Corrupt") == 0) {
        shoal_ctx_emit (ctx, "E");
        shoal_ctx_emit (ctx, "Bad");
        shoal_ctx_emit (ctx, "E");
        shoal_rec_int (shoal_ctx_reply (ctx), "count", 3);
        return 0;
    }
    if (strcmp (command, "Big") == 0) { //  a string of n bytes in the target rec
        char *big = malloc ((size_t) n + 1);
        assert_non_null (big);
        memset (big, 'b', (size_t) n);
        big[n] = 0;
        shoal_rec_t *rec = strcmp (target, "event") == 0  ? shoal_ctx_emit (ctx, "E")
                           : strcmp (target, "send") == 0 ? shoal_ctx_send (ctx, to, "Ping")
                                                          : shoal_ctx_reply (ctx);
        shoal_rec_str (rec, "big", big);
        free (big);
        return 0;
    }
    if (strcmp (command, "RecNull") == 0) {
        shoal_rec_t *rec = strcmp (target, "event") == 0   ? shoal_ctx_emit (ctx, "E")
                           : strcmp (target, "send") == 0  ? shoal_ctx_send (ctx, to, "Ping")
                           : strcmp (target, "timer") == 0 ? shoal_ctx_after (ctx, 1, "tick")
                                                           : shoal_ctx_reply (ctx);
        shoal_rec_str (rec, "k", NULL);
        return 0;
    }
    if (strcmp (command, "RecTwice") == 0) { //  the key k written twice into target's rec
        shoal_rec_t *rec = strcmp (target, "event") == 0   ? shoal_ctx_emit (ctx, "E")
                           : strcmp (target, "send") == 0  ? shoal_ctx_send (ctx, to, "Ping")
                           : strcmp (target, "timer") == 0 ? shoal_ctx_after (ctx, 1, "tick")
                                                           : shoal_ctx_reply (ctx);
        shoal_rec_int (rec, "k", 1);
        shoal_rec_str (rec, "other", "x");
        shoal_rec_int (rec, "k", 2);
        return 0;
    }
    return shoal_ctx_reject (ctx, "unknown_command", "probe takes no %s", command);
}

static void s_probe_view (const void *state, shoal_rec_t *out)
{
    const probe_t *probe = state;
    shoal_rec_int (out, "applied", probe->applied);
    shoal_rec_int (out, "sum", probe->sum);
}

const shoal_type_t ctx_probe_type = {
    .name = "probe",
    .state_size = sizeof (probe_t),
    .apply = s_probe_apply,
    .handle = s_probe_handle,
    .view = s_probe_view,
};

int ctx_setup (void **state)
{
    *state = harness_turn_new (&ctx_probe_type, ADDRESS, NOW);
    memset (&ctx_seen, 0, sizeof ctx_seen);
    return 0;
}

const probe_t *ctx_probe (fixture_t *f)
{
    return (const probe_t *) f->state;
}

int ctx_test_run (fixture_t *f, const char *name)
{
    return harness_turn_run (f, ENVELOPE_COMMAND, name);
}
