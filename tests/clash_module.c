/*  clash_module.c - a module that registers what another already has, for
    the test of the words a node refuses it with (test_cli_usage). Its type is
    named $CLASH_TYPE and its projection $CLASH_PROJECTION (version 1, or
    $CLASH_PROJECTION_VERSION; its events list $CLASH_PROJECTION_EVENTS,
    or every event); each is registered only if its variable is set. With $CLASH_IGNORE set, its
   init returns 0 whatever its registrations returned (a module that does not check them).
*/
#include "shoal.h"
#include <stdlib.h>

SHOAL_MODULE;

static int s_handle (shoal_ctx_t *ctx, const void *state, const shoal_msg_t *msg)
{
    (void) ctx, (void) state, (void) msg;
    return 0;
}

static int s_apply (void *state, const char *event, const shoal_data_t *data)
{
    (void) state, (void) event, (void) data;
    return 0;
}

static void s_view (const void *state, shoal_rec_t *rec)
{
    (void) state, (void) rec;
}

static int s_project (shoal_view_t *view, const shoal_event_t *event)
{
    (void) view, (void) event;
    return 0;
}

int shoal_module_init (shoal_registry_t *registry)
{
    int rc = 0;
    if (getenv ("CLASH_TYPE")) {
        shoal_type_t type = {.name = getenv ("CLASH_TYPE"),
                             .state_size = 1,
                             .handle = s_handle,
                             .apply = s_apply,
                             .view = s_view};
        rc = shoal_register (registry, &type);
    }
    if (rc == 0 && getenv ("CLASH_PROJECTION")) {
        const char *version = getenv ("CLASH_PROJECTION_VERSION");
        shoal_projection_t projection = {.name = getenv ("CLASH_PROJECTION"),
                                         .version = version ? atoi (version) : 1,
                                         .events = getenv ("CLASH_PROJECTION_EVENTS"),
                                         .apply = s_project};
        rc = shoal_register_projection (registry, &projection);
    }
    return getenv ("CLASH_IGNORE") ? 0 : rc;
}
