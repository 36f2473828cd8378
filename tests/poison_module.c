/*  poison_module.c - a module whose handler can crash the node, loaded by
    test_poison with --module poison.so. It sees only the public header.

    poison/ID: Boom -> Boomed{} (reply {booms}); Later{ms} sets a timer
    "boom"; when it fires -> Rang{}; Exit calls exit(0), always. With $SHOAL_POISON set in the
   node's environment, Boom and the timer abort() the process instead: the "module with a bug" that
   a fixed build (no $SHOAL_POISON) replaces.

    twice/ID: as poison/ID (without $SHOAL_POISON), but its snapshot()
    and view() write a key twice: a module misusing shoal_rec_*.

    asker/ID: Ask{to} sends Boom to `to` (a poison/ID) and emits Asked;
    with $SHOAL_POISON_REPLY set, the reply to it aborts the process, and
    a stall notice is taken (Stalled): a saga whose reply is the poison.

    With $SHOAL_POISON_VIEW=abort, poison's view() aborts (a `shoal get`
    crashes the node); with spin, it never returns. With
    $SHOAL_POISON_REFUSE set, its apply() refuses Boomed: a module that
    no longer takes an event it once emitted.
*/
#include "shoal.h"
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

SHOAL_MODULE;

typedef struct {
    int64_t booms;
} poison_t;

static void s_crash_if_poisoned (void)
{
    if (getenv ("SHOAL_POISON"))
        abort ();
}

static int s_handle (shoal_ctx_t *ctx, const void *state, const shoal_msg_t *msg)
{
    const poison_t *poison = state;
    if (shoal_msg_kind (msg) == SHOAL_TIMER) {
        s_crash_if_poisoned ();
        shoal_ctx_emit (ctx, "Rang");
        return 0;
    }
    if (strcmp (shoal_msg_name (msg), "Boom") == 0) {
        s_crash_if_poisoned ();
        shoal_ctx_emit (ctx, "Boomed");
        shoal_rec_int (shoal_ctx_reply (ctx), "booms", poison->booms + 1);
        return 0;
    }
    if (strcmp (shoal_msg_name (msg), "Exit") == 0)
        exit (0); //  a module's bug: a C habit's exit() in a handler
    if (strcmp (shoal_msg_name (msg), "Later") == 0) {
        int64_t ms;
        if (shoal_data_int (shoal_msg_data (msg), "ms", &ms) != 0 || ms < 0)
            return shoal_ctx_reject (ctx, "invalid_field", "ms must be an integer >= 0");
        shoal_ctx_after (ctx, ms, "boom");
        return 0;
    }
    return shoal_ctx_reject (ctx, "unknown_command", "poison takes Boom, Later and Exit");
}

static int s_apply (void *state, const char *event, const shoal_data_t *data)
{
    (void) data;
    if (strcmp (event, "Boomed") == 0 && getenv ("SHOAL_POISON_REFUSE"))
        return SHOAL_EFORMAT;
    if (strcmp (event, "Boomed") == 0)
        ((poison_t *) state)->booms++;
    else if (strcmp (event, "Rang") != 0)
        return SHOAL_EFORMAT;
    return 0;
}

static void s_view (const void *state, shoal_rec_t *out)
{
    const char *how = getenv ("SHOAL_POISON_VIEW");
    if (how && strcmp (how, "abort") == 0)
        abort ();
    volatile bool spin = how && strcmp (how, "spin") == 0;
    while (spin)
        ; //  never returns (volatile: a loop the compiler may not drop)
    shoal_rec_int (out, "booms", ((const poison_t *) state)->booms);
}

static const shoal_type_t s_poison = {
    .name = "poison",
    .state_size = sizeof (poison_t),
    .apply = s_apply,
    .handle = s_handle,
    .view = s_view,
};

//  twice/ID: a module with a bug that does not crash: Boom -> Boomed{}
//  (reply {booms}), but its snapshot() and view() write the key "booms"
//  twice, which the rec refuses as misuse.
static void s_twice_write (const void *state, shoal_rec_t *out)
{
    shoal_rec_int (out, "booms", ((const poison_t *) state)->booms);
    shoal_rec_int (out, "booms", ((const poison_t *) state)->booms);
}

static int s_twice_restore (void *state, int version, const shoal_data_t *snapshot)
{
    (void) version;
    return shoal_data_int (snapshot, "booms", &((poison_t *) state)->booms);
}

static const shoal_type_t s_twice = {
    .name = "twice",
    .state_size = sizeof (poison_t),
    .apply = s_apply,
    .handle = s_handle,
    .view = s_twice_write,
    .snapshot = s_twice_write,
    .restore = s_twice_restore,
};

//  asker/ID: a saga of one command, whose reply can be the poison.
static int s_asker_handle (shoal_ctx_t *ctx, const void *state, const shoal_msg_t *msg)
{
    (void) state;
    switch (shoal_msg_kind (msg)) {
    case SHOAL_REPLY:
        if (getenv ("SHOAL_POISON_REPLY"))
            abort ();
        shoal_ctx_emit (ctx, "Answered");
        return 0;
    case SHOAL_STALLED:
        shoal_ctx_emit (ctx, "Stalled");
        return 0;
    default:
        break;
    }
    char to[SHOAL_ADDRESS_MAX + 1];
    if (strcmp (shoal_msg_name (msg), "Ask") != 0 ||
        shoal_data_str (shoal_msg_data (msg), "to", to, sizeof to) != 0)
        return shoal_ctx_reject (ctx, "unknown_command", "asker takes Ask{to}");
    if (!shoal_ctx_send (ctx, to, "Boom"))
        return shoal_ctx_reject (ctx, "invalid_field", "cannot send to %s", to);
    shoal_ctx_emit (ctx, "Asked");
    return 0;
}

static int s_asker_apply (void *state, const char *event, const shoal_data_t *data)
{
    (void) state;
    (void) data;
    return strcmp (event, "Asked") == 0 || strcmp (event, "Answered") == 0 ||
                   strcmp (event, "Stalled") == 0
               ? 0
               : SHOAL_EFORMAT;
}

static void s_asker_view (const void *state, shoal_rec_t *out)
{
    (void) state;
    (void) out;
}

static const shoal_type_t s_asker = {
    .name = "asker",
    .state_size = sizeof (int64_t),
    .apply = s_asker_apply,
    .handle = s_asker_handle,
    .view = s_asker_view,
};

int shoal_module_init (shoal_registry_t *registry)
{
    int rc = shoal_register (registry, &s_poison);
    rc = rc ? rc : shoal_register (registry, &s_asker);
    return rc ? rc : shoal_register (registry, &s_twice);
}
