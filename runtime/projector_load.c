/*  projector_load.c - what the projection thread finds in the store at
    its start: the builds and their checkpoints, the reactions' salt and
    senders, the skips ahead of a rebuild's checkpoint, the unanswered
    reactions, the drops a crash cut short, a build for each registered
    projection that has none, and a record of the build served that names
    none of them (said). See projector_internal.h.
    Thread: the projection thread's, before anything applies.
*/
#include "projector_internal.h"
#include "log.h"
#include "utf8.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int s_found_build (void *arg, const journal_build_t *found, const journal_checkpoint_t *cp)
{
    projector_t *self = arg;
    build_t *build = projector_build_add (self, found->view, found->version, found->build);
    if (!build)
        return SHOAL_ENOMEM;
    if (cp)
        build->cp = *cp;
    else
        build->unchecked = true;
    build->rate_mark = build->cp.next;
    return 0;
}

//  A skip record of a build found in the store, kept when it is ahead of
//  the build's checkpoint (a rebuild's, not reached yet). One that does
//  not decode is said and left out: the build stops at that event, for
//  an operator to skip again.
static int s_found_skip (void *arg, const char *key, size_t key_len, const uint8_t *value,
                         size_t size)
{
    build_t *build = arg;
    journal_skip_t skip;
    int rc = journal_view_skip_decode (key, key_len, value, size, &skip);
    if (rc) {
        log_warn ("projection %s@%" PRIu32 ": build %" PRIu32 " has a damaged skip record (%s): "
                  "left out",
                  build->name, build->build.version, build->build.build, shoal_strerror (rc));
        return 0;
    }
    return skip.position < build->cp.next ? 0 : projector_skip_add (build, skip.position);
}

//  Finishes the drops a crash cut short, before anything applies:
//  - a build without a checkpoint: every build has one from its start
//    (projector_save), and a drop deletes it first (it is the build's first key),
//    so the rest of its records are what the drop had still to delete;
//  - a build older than the one served of its version: a rebuild took
//    over, and the crash came before the build it replaced was dropped.
//  Left alone, either would be built on again (from position 0, over the
//  rows left; or from its checkpoint) and, caught up, served in place of
//  the rebuild, which it would then drop. The commands either left
//  unanswered go to the build served (s_drop).
static int s_finish_drops (projector_t *self)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < self->build_count;) {
        build_t *build = self->builds[i];
        build_t *served = projector_served (self, build->name);
        bool replaced = served && served != build &&
                        served->build.version == build->build.version &&
                        build->build.build < served->build.build;
        if (!build->unchecked && !replaced) {
            i++;
            continue;
        }
        rc = projector_drop (self, build, true,
                             build->unchecked
                                 ? "its drop had been cut short"
                                 : "a rebuild replaced it, and its drop had been cut short");
    }
    return rc;
}

//  Says, for each projection whose served build the metadata names
//  ("projection/NAME" = "VERSION.BUILD") when no build of it is that one:
//  a damaged or hand-edited value took the projection out of service
//  without a word, its queries answered not_found.
static void s_warn_unserved (projector_t *self)
{
    for (size_t i = 0; i < self->build_count; i++) {
        const build_t *build = self->builds[i];
        bool first = true, served = false;
        for (size_t j = 0; j < self->build_count; j++)
            if (strcmp (self->builds[j]->name, build->name) == 0) {
                first = first && j >= i;
                served = served || self->builds[j]->served;
            }
        char key[SHOAL_TYPE_MAX + 16], *value = NULL;
        snprintf (key, sizeof key, "projection/%s", build->name);
        if (first && !served && journal_meta_get (self->journal, key, &value) == 0) {
            char quoted[80];
            utf8_quote (quoted, sizeof quoted, value, strlen (value), '\'');
            log_warn ("projection %s: the build it serves is recorded as %s, which is none of "
                      "its builds (VERSION.BUILD): none is served, and its queries answer "
                      "not_found; `shoal projections switch %s@VERSION` serves one",
                      build->name, quoted, build->name);
        }
        free (value);
    }
}

int projector_load (projector_t *self)
{
    int rc = journal_view_list (self->journal, s_found_build, self);
    if (rc == 0)
        rc = projector_load_salt (self);
    for (size_t i = 0; rc == 0 && i < self->build_count; i++) {
        build_t *build = self->builds[i];
        char key[SHOAL_TYPE_MAX + 16], *value = NULL;
        snprintf (key, sizeof key, "projection/%s", build->name);
        if (journal_meta_get (self->journal, key, &value) == 0) {
            char mine[32];
            snprintf (mine, sizeof mine, "%" PRIu32 ".%" PRIu32, build->build.version,
                      build->build.build);
            build->served = strcmp (value, mine) == 0;
        }
        free (value);
        rc = projector_load_sender (self, build->name);
        if (rc == 0 && !build->unchecked)
            rc = journal_view_skips (self->journal, &build->build, s_found_skip, build);
    }
    if (rc == 0)
        s_warn_unserved (self);
    //  The unanswered commands before the drops, which hand theirs over.
    //  What each holds is not known yet: the first trim looks.
    for (size_t i = 0; i < self->build_count; i++)
        self->builds[i]->held_hint = 1;
    for (size_t i = 0; rc == 0 && i < self->build_count; i++)
        rc = projector_load_sends (self, self->builds[i]);
    if (rc == 0)
        rc = s_finish_drops (self);
    size_t registered = registry_projection_count (self->config->registry);
    for (size_t i = 0; rc == 0 && i < registered; i++) {
        const shoal_projection_t *def = registry_projection (self->config->registry, i);
        bool any = false;
        for (size_t j = 0; j < self->build_count; j++) {
            build_t *build = self->builds[j];
            if (strcmp (build->name, def->name) == 0 &&
                build->build.version == (uint32_t) def->version) {
                build->def = def;
                registry_filter_parse (&build->filter, def->events);
                any = true;
            }
        }
        if (!any) {
            build_t *build = projector_build_add (self, def->name, (uint32_t) def->version, 0);
            if (!build)
                return SHOAL_ENOMEM;
            build->def = def;
            registry_filter_parse (&build->filter, def->events);
            if ((rc = projector_save (self, build)) == 0)
                log_info ("projection %s@%d: new, building from position 0", def->name,
                          def->version);
        }
    }
    return rc; //  a build made here has sent nothing yet
}
