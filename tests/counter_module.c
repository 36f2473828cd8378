/*  counter_module.c - a tiny actor module, built as a shared library and
    loaded by `shoal node --module counter.so` in the tests. It sees only
    the public header, as a user's module would.

    counter/ID: Add{by} -> Added{by}; Get -> {value}. by must be 1..1000.
    Remind{ms} sets a durable timer "ring"; when it fires: Rang{}.
    Forget cancels its "ring" timers (Forgot{}).
    Forward{to, name} sends command name to address to; its reply is
    recorded as Answered{accepted}, a stall notice as Stalled{command};
    the reply to a command named Fussy it fails on, every time.
    Spin never returns: a handler that runs away (test_bounded).
    Hold{path} holds its worker until a file is at path (at most a
    minute), for a test to fill the worker's queue first (test_node_frames).

    sink/ID: every command fails to apply (a corrupt actor), so commands to
    it are never answered: what the stall notices are tested with.
*/
#include "shoal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

SHOAL_MODULE;

typedef struct {
    int64_t value;
} counter_t;

static int s_handle (shoal_ctx_t *ctx, const void *state, const shoal_msg_t *msg)
{
    const counter_t *counter = state;
    if (strcmp (shoal_msg_name (msg), "Add") == 0) {
        int64_t by;
        if (shoal_data_int (shoal_msg_data (msg), "by", &by) != 0 || by < 1 || by > 1000)
            return shoal_ctx_reject (ctx, "invalid_field", "by must be an integer in 1..1000");
        shoal_rec_int (shoal_ctx_emit (ctx, "Added"), "by", by);
        shoal_rec_int (shoal_ctx_reply (ctx), "value", counter->value + by);
        return 0;
    }
    if (shoal_msg_kind (msg) == SHOAL_TIMER) {
        shoal_ctx_emit (ctx, "Rang");
        return 0;
    }
    if (shoal_msg_kind (msg) == SHOAL_REPLY && strcmp (shoal_msg_name (msg), "Fussy") == 0)
        return SHOAL_EIO;
    if (shoal_msg_kind (msg) == SHOAL_REPLY) {
        shoal_rec_bool (shoal_ctx_emit (ctx, "Answered"), "accepted", shoal_msg_accepted (msg));
        return 0;
    }
    if (shoal_msg_kind (msg) == SHOAL_STALLED) {
        shoal_rec_str (shoal_ctx_emit (ctx, "Stalled"), "command", shoal_msg_name (msg));
        return 0;
    }
    if (strcmp (shoal_msg_name (msg), "Forward") == 0) {
        char to[SHOAL_ADDRESS_MAX + 1], name[SHOAL_NAME_MAX + 1];
        if (shoal_data_str (shoal_msg_data (msg), "to", to, sizeof to) != 0 ||
            shoal_data_str (shoal_msg_data (msg), "name", name, sizeof name) != 0)
            return shoal_ctx_reject (ctx, "invalid_field", "to and name are strings");
        shoal_ctx_send (ctx, to, name);
        return 0;
    }
    if (strcmp (shoal_msg_name (msg), "Remind") == 0) {
        int64_t ms;
        if (shoal_data_int (shoal_msg_data (msg), "ms", &ms) != 0 || ms < 0)
            return shoal_ctx_reject (ctx, "invalid_field", "ms must be an integer >= 0");
        shoal_ctx_after (ctx, ms, "ring");
        return 0;
    }
    if (strcmp (shoal_msg_name (msg), "Forget") == 0) {
        shoal_ctx_emit (ctx, "Forgot");
        return shoal_ctx_cancel (ctx, "ring");
    }
    //  Fails (as a handler may, out of memory or on a bad disk) every other
    //  time it runs, else adds 1. Counted per module: test with one actor.
    if (strcmp (shoal_msg_name (msg), "Flaky") == 0) {
        static int s_flaky_runs;
        if (s_flaky_runs++ % 2 == 0)
            return SHOAL_EIO;
        shoal_rec_int (shoal_ctx_emit (ctx, "Added"), "by", 1);
        shoal_rec_int (shoal_ctx_reply (ctx), "value", counter->value + 1);
        return 0;
    }
    //  Takes its time: holds the worker ms (at most 1000) milliseconds.
    if (strcmp (shoal_msg_name (msg), "Slow") == 0) {
        int64_t ms;
        if (shoal_data_int (shoal_msg_data (msg), "ms", &ms) != 0 || ms < 0 || ms > 1000)
            return shoal_ctx_reject (ctx, "invalid_field", "ms must be an integer in 0..1000");
        usleep ((useconds_t) ms * 1000);
        return 0;
    }
    //  Holds the worker until a file is at path, having made PATH.held to
    //  say so; with by, adds it as Add does (an effect a crash meanwhile
    //  loses: the turn is not committed).
    if (strcmp (shoal_msg_name (msg), "Hold") == 0) {
        char path[256], held[264];
        if (shoal_data_str (shoal_msg_data (msg), "path", path, sizeof path) != 0)
            return shoal_ctx_reject (ctx, "invalid_field", "path must be a string");
        int64_t by = 0;
        if (shoal_data_has (shoal_msg_data (msg), "by") &&
            (shoal_data_int (shoal_msg_data (msg), "by", &by) != 0 || by < 1 || by > 1000))
            return shoal_ctx_reject (ctx, "invalid_field", "by must be an integer in 1..1000");
        snprintf (held, sizeof held, "%s.held", path);
        FILE *file = fopen (held, "w");
        if (file)
            fclose (file);
        for (int waited_ms = 0; access (path, F_OK) != 0; waited_ms += 10) {
            if (waited_ms >= 60000)
                return shoal_ctx_reject (ctx, "timeout", "no file came at path in a minute");
            usleep (10000);
        }
        if (by) {
            shoal_rec_int (shoal_ctx_emit (ctx, "Added"), "by", by);
            shoal_rec_int (shoal_ctx_reply (ctx), "value", counter->value + by);
        }
        return 0;
    }
    if (strcmp (shoal_msg_name (msg), "Spin") == 0)
        for (;;)
            usleep (100000);
    if (strcmp (shoal_msg_name (msg), "Get") == 0) {
        shoal_rec_int (shoal_ctx_reply (ctx), "value", counter->value);
        return 0;
    }
    return shoal_ctx_reject (ctx, "unknown_command", "a counter takes Add and Get");
}

static int s_apply (void *state, const char *event, const shoal_data_t *data)
{
    counter_t *counter = state;
    int64_t by;
    if (strcmp (event, "Rang") == 0 || strcmp (event, "Answered") == 0 ||
        strcmp (event, "Stalled") == 0 || strcmp (event, "Forgot") == 0)
        return 0;
    if (strcmp (event, "Added") != 0 || shoal_data_int (data, "by", &by) != 0)
        return SHOAL_EFORMAT;
    counter->value += by;
    return 0;
}

static void s_view (const void *state, shoal_rec_t *out)
{
    shoal_rec_int (out, "value", ((const counter_t *) state)->value);
}

static const shoal_type_t s_counter = {
    .name = "counter",
    .state_size = sizeof (counter_t),
    .apply = s_apply,
    .handle = s_handle,
    .view = s_view,
};

static int s_sink_handle (shoal_ctx_t *ctx, const void *state, const shoal_msg_t *msg)
{
    shoal_ctx_emit (ctx, "Swallowed");
    return 0;
}

static int s_sink_apply (void *state, const char *event, const shoal_data_t *data)
{
    return SHOAL_EFORMAT;
}

static void s_sink_view (const void *state, shoal_rec_t *out) {}

static const shoal_type_t s_sink = {
    .name = "sink",
    .state_size = 1,
    .apply = s_sink_apply,
    .handle = s_sink_handle,
    .view = s_sink_view,
};

//  With COUNTER_MODULE_FAIL set it fails after registering counter, for
//  the test that a failed module leaves no type behind. With
//  COUNTER_MODULE_CHDIR set it first changes the working directory there
//  (a module may), for the test that the node's undo does not follow it.
//  With COUNTER_MODULE_ABORT set it aborts the process: a module that
//  crashes in its init, for the test that it leaves no store behind; with
//  COUNTER_MODULE_EXIT it calls exit (0) there.
int shoal_module_init (shoal_registry_t *registry)
{
    const char *dir = getenv ("COUNTER_MODULE_CHDIR");
    if (dir && chdir (dir) != 0)
        return SHOAL_EINVAL;
    if (getenv ("COUNTER_MODULE_ABORT"))
        abort ();
    if (getenv ("COUNTER_MODULE_EXIT"))
        exit (0);
    int rc = shoal_register (registry, &s_counter);
    if (rc == 0 && getenv ("COUNTER_MODULE_FAIL"))
        return SHOAL_EINVAL;
    return rc ? rc : shoal_register (registry, &s_sink);
}
