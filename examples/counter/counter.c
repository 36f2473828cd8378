/*  counter.c - the counter of README's "Writing a module": an actor type in
    a module of its own, built outside shoal's tree against the installed
    shoal.h (see Makefile) and loaded with `shoal node --module`.

    counter/ID: Add{by} -> Added{by}, replies {value}; by must be >= 1.
*/
#include "shoal.h"
#include <string.h>

SHOAL_MODULE; //  records the ABI this module was built for

typedef struct {
    int64_t value;
} counter_t;

static int handle (shoal_ctx_t *ctx, const void *state, const shoal_msg_t *msg)
{
    const counter_t *counter = state;
    int64_t by;
    if (strcmp (shoal_msg_name (msg), "Add") != 0)
        return shoal_ctx_reject (ctx, "unknown_command", "a counter takes Add");
    if (shoal_data_int (shoal_msg_data (msg), "by", &by) != 0 || by < 1)
        return shoal_ctx_reject (ctx, "invalid_field", "by must be a positive integer");
    int64_t value;
    if (__builtin_add_overflow (counter->value, by, &value))
        return shoal_ctx_reject (ctx, "overflow", "the counter would pass 2^63 - 1");
    shoal_rec_int (shoal_ctx_emit (ctx, "Added"), "by", by);
    shoal_rec_int (shoal_ctx_reply (ctx), "value", value);
    return 0;
}

static int apply (void *state, const char *event, const shoal_data_t *data)
{
    int64_t by;
    if (strcmp (event, "Added") != 0 || shoal_data_int (data, "by", &by) != 0)
        return SHOAL_EFORMAT;
    //  handle never emits an Added that overflows; a stored one that
    //  would is not this type's event.
    if (__builtin_add_overflow (((counter_t *) state)->value, by, &((counter_t *) state)->value))
        return SHOAL_EFORMAT;
    return 0;
}

static void view (const void *state, shoal_rec_t *out)
{
    shoal_rec_int (out, "value", ((const counter_t *) state)->value);
}

static const shoal_type_t counter = {
    .name = "counter",
    .state_size = sizeof (counter_t),
    .handle = handle,
    .apply = apply,
    .view = view,
};

int shoal_module_init (shoal_registry_t *registry)
{
    return shoal_register (registry, &counter);
}
