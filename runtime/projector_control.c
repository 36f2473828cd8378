/*  projector_control.c - an operator's actions on a projection's builds
    (`shoal projections pause|resume|skip|switch|drop|rebuild|forget`), as the
    projection thread takes them (projector_serve.c passes them on). Each
    is written, synced, before it is answered.

    Threads: the projection thread's.
*/
#include "projector_internal.h"
#include "log.h"
#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int s_fail (char *reason, size_t size, int rc, const char *format, const char *name,
                   uint32_t version, uint64_t detail)
{
    snprintf (reason, size, format, name, version, detail);
    return rc;
}

//  The events an operator skipped in a version's builds, for a rebuild.
typedef struct {
    journal_skip_t *items;
    size_t count;
    const build_t *from; //  the build read
} skips_t;

static int s_skip_found (void *arg, const char *key, size_t key_len, const uint8_t *value,
                         size_t size)
{
    skips_t *skips = arg;
    journal_skip_t skip;
    int rc = journal_view_skip_decode (key, key_len, value, size, &skip);
    if (rc) { //  as at a start (projector.c): its rebuild stops there, to be skipped again
        log_warn ("projection %s@%" PRIu32 ": build %" PRIu32 " has a damaged skip record (%s): "
                  "left out",
                  skips->from->name, skips->from->build.version, skips->from->build.build,
                  shoal_strerror (rc));
        return 0;
    }
    journal_skip_t *grown = realloc (skips->items, (skips->count + 1) * sizeof (journal_skip_t));
    if (!grown)
        return SHOAL_ENOMEM;
    grown[skips->count++] = skip;
    skips->items = grown;
    return 0;
}

//  True if build, of name@version, is to skip position now: it has not
//  passed it, and has not been told to skip it already (a rebuild that
//  inherited it), or it is stopped there.
static bool s_skips_now (const build_t *build, const char *name, uint32_t version,
                         uint64_t position)
{
    if (strcmp (build->name, name) != 0 || build->build.version != version ||
        build->cp.next > position)
        return false;
    return (build->failed && build->error_position == position) ||
           !projector_skipped (build, position);
}

//  build's checkpoint once it skips position (s_skips_now): past it if it
//  is stopped there, and the skip counted.
static journal_checkpoint_t s_skipped_cp (const build_t *build, uint64_t position)
{
    journal_checkpoint_t cp = build->cp;
    if (build->failed && build->error_position == position)
        cp.next = position + 1;
    cp.skipped++;
    return cp;
}

static int s_skip_compare (const void *a, const void *b)
{
    uint64_t x = ((const journal_skip_t *) a)->position, y = ((const journal_skip_t *) b)->position;
    return (x > y) - (x < y);
}

//  Gives fresh, a rebuild, the events an operator skipped in the other
//  builds of its version (the operator found them poison to that code):
//  each position once, in order, into *skips (the caller frees items),
//  staged as fresh's skip records in the projector's batch, left out by
//  its steps and counted in its checkpoint's skipped. The caller commits
//  the batch with fresh's checkpoint. Returns 0 or a SHOAL_E... code.
static int s_inherit_skips (projector_t *self, build_t *fresh, skips_t *skips)
{
    int rc = 0;
    for (size_t i = 0; i < self->build_count && rc == 0; i++) {
        build_t *each = self->builds[i];
        if (each == fresh || strcmp (each->name, fresh->name) != 0 ||
            each->build.version != fresh->build.version)
            continue;
        skips->from = each;
        rc = journal_view_skips (self->journal, &each->build, s_skip_found, skips);
    }
    if (skips->count)
        qsort (skips->items, skips->count, sizeof (journal_skip_t), s_skip_compare);
    size_t kept = 0;
    for (size_t i = 0; i < skips->count && rc == 0; i++) {
        journal_skip_t *skip = &skips->items[i];
        if (kept && skips->items[kept - 1].position == skip->position)
            continue; //  skipped in two builds: once
        rc = journal_batch_view_skip (self->view.batch, &fresh->build, skip->position, skip->at,
                                      skip->reason);
        if (rc == 0)
            rc = projector_skip_add (fresh, skip->position);
        if (kept != i)
            skips->items[kept] = *skip;
        kept++;
    }
    skips->count = kept;
    fresh->cp.skipped = kept;
    return rc;
}

//  True if an operator's skip of position is in the skip records of a
//  build of build's version (the one it stopped, maybe a rebuild under
//  way): the same skip asked again, by an operator who heard no answer.
static bool s_skipped_already (projector_t *self, const build_t *build, uint64_t position)
{
    bool found = false;
    for (size_t k = 0; k < self->build_count && !found; k++) {
        const build_t *each = self->builds[k];
        if (strcmp (each->name, build->name) != 0 || each->build.version != build->build.version)
            continue;
        skips_t skips = {.from = each};
        if (journal_view_skips (self->journal, &each->build, s_skip_found, &skips) == 0)
            for (size_t i = 0; i < skips.count && !found; i++)
                found = skips.items[i].position == position;
        free (skips.items);
    }
    return found;
}

int projector_control (projector_t *self, const char *action, const char *name, uint32_t version,
                       uint64_t position, const char *id, bool *changed, char *reason,
                       size_t reason_size)
{
    *changed = true;
    build_t *build = version ? projector_pick (self, name, version) : projector_served (self, name);
    if (!build && version)
        return s_fail (reason, reason_size, SHOAL_ENOTFOUND,
                       "no projection %s@%" PRIu32 " on this node%.0" PRIu64, name, version, 0);
    if (!build)
        return s_fail (reason, reason_size, SHOAL_ENOTFOUND,
                       "no version of %s is served on this node (name a version: "
                       "NAME@VERSION)%.0" PRIu32 "%.0" PRIu64,
                       name, version, 0);
    version = build->build.version;
    int rc = 0;
    if (strcmp (action, "pause") == 0 || strcmp (action, "resume") == 0) {
        //  Only the builds it changes are written: a pause of a paused
        //  build, or a resume of one neither paused nor failed, is no
        //  action, and *changed says so.
        bool pause = action[0] == 'p';
        *changed = false;
        for (size_t i = 0; i < self->build_count && rc == 0; i++) {
            build_t *each = self->builds[i];
            if (strcmp (each->name, name) != 0 || each->build.version != version)
                continue;
            if (pause ? each->cp.paused : !each->cp.paused && !each->failed)
                continue;
            bool was_failed = each->failed, was_paused = each->cp.paused;
            each->cp.paused = pause;
            if (!pause)
                each->failed = false; //  a fixed module tries again
            rc = projector_save (self, each);
            if (rc) { //  not done: as it was
                each->cp.paused = was_paused;
                each->failed = was_failed;
            } else if (was_failed && !pause) //  the count of crashes at its event too
                applyfile_clear (self->guard, &each->build, each->error_position);
            *changed = true;
        }
    } else if (strcmp (action, "skip") == 0) {
        //  The build stopped there: the one served, or a rebuild of it.
        for (size_t i = 0; i < self->build_count; i++) {
            build_t *each = self->builds[i];
            if (strcmp (each->name, name) == 0 && each->build.version == version && each->failed &&
                each->error_position == position &&
                !(build->failed && build->error_position == position))
                build = each;
        }
        if ((!build->failed || build->error_position != position) &&
            s_skipped_already (self, build, position)) {
            *changed = false; //  a skip asked again (no answer heard): done already
            return 0;
        }
        if (!build->failed || build->error_position != position)
            return s_fail (reason, reason_size, SHOAL_EINVAL,
                           "%s@%" PRIu32 " is not stopped at position %" PRIu64
                           " (see `shoal projections`)",
                           name, version, position);
        //  The skip is the operator's word that p is poison to this
        //  version's code: every build of it that has not passed p skips
        //  it, in one write, a rebuild under way as the build stopped
        //  there (which a rebuild started later inherits, s_inherit_skips).
        //  Each one's checkpoint counts it from now, as an inherited skip.
        char error[sizeof build->error];
        snprintf (error, sizeof error, "%s", build->error);
        journal_batch_t *batch = self->view.batch;
        for (size_t i = 0; i < self->build_count && rc == 0; i++) {
            build_t *each = self->builds[i];
            if (!s_skips_now (each, name, version, position))
                continue;
            journal_checkpoint_t cp = s_skipped_cp (each, position);
            rc = journal_batch_view_skip (batch, &each->build, position, zclock_time (), error);
            if (rc == 0)
                rc = journal_batch_view_checkpoint (batch, &each->build, &cp);
        }
        rc = rc ? (journal_batch_clear (batch), rc) : projector_commit_synced (self);
        for (size_t i = 0; i < self->build_count && rc == 0; i++) {
            build_t *each = self->builds[i];
            if (!s_skips_now (each, name, version, position))
                continue;
            each->cp = s_skipped_cp (each, position);
            if (each->guard_at == position) //  it crashed the node there: skipped, not stopped at
                each->guard_at = UINT64_MAX;
            applyfile_clear (self->guard, &each->build, position);
            if (each->failed && each->error_position == position)
                each->failed = false;
            else if (projector_skip_add (each, position) != 0)
                //  Written, so its next start reads it: until then this
                //  build stops at p, to be skipped again.
                log_warn ("projection %s@%" PRIu32 ": build %" PRIu32 " keeps its skip of "
                          "position %" PRIu64 " from its next start only (out of memory)",
                          name, version, each->build.build, position);
            log_warn ("projection %s@%" PRIu32 ": build %" PRIu32 " leaves out the event at "
                      "position %" PRIu64 ", skipped by an operator (it failed with: %s)",
                      name, version, each->build.build, position, error);
        }
    } else if (strcmp (action, "switch") == 0) {
        if (build->served) {
            *changed = false;
            return 0;
        }
        uint64_t end = journal_log_end (self->journal);
        if (!build->cp.caught_up || build->failed)
            return s_fail (reason, reason_size, SHOAL_EINVAL,
                           "%s@%" PRIu32 " has not caught up yet (%" PRIu64
                           " events behind): it is served once it has",
                           name, version, end - build->cp.next);
        //  A build lingers behind the log's end: it is moved on to where
        //  the version served has decided reactions, or the switch would
        //  have it decide them again.
        if (!projector_catch_up (self, build))
            return s_fail (reason, reason_size, SHOAL_EINVAL,
                           "%s@%" PRIu32 " is behind the version served and cannot move on now "
                           "(paused, failed or the store): resume it, then switch%.0" PRIu64,
                           name, version, 0);
        if (build->served)
            return 0; //  it switched on its own on the way
        rc = projector_set_served (self, build);
    } else if (strcmp (action, "drop") == 0) {
        if (build->served)
            return s_fail (reason, reason_size, SHOAL_EBUSY,
                           "%s@%" PRIu32
                           " is the version served: switch to another first%.0" PRIu64,
                           name, version, 0);
        if (build->def)
            return s_fail (reason, reason_size, SHOAL_EBUSY,
                           "%s@%" PRIu32 " is registered by a module, which would build it "
                           "again: remove it from the module first%.0" PRIu64,
                           name, version, 0);
        //  Its commands are the ones sent, and how far it decided says
        //  which of another version's held ones go out at its switch.
        if (!projector_served (self, name) && projector_deciding (self, name) == version)
            return s_fail (reason, reason_size, SHOAL_EBUSY,
                           "%s@%" PRIu32 " sends the reactions while no version of its name "
                           "is served: switch to another first%.0" PRIu64,
                           name, version, 0);
        rc = projector_drop_builds (self, name, version, NULL);
    } else if (strcmp (action, "forget") == 0) {
        rc = projector_forget (self, build, id, reason, reason_size);
    } else if (strcmp (action, "rebuild") == 0) {
        if (!build->def)
            return s_fail (reason, reason_size, SHOAL_EINVAL,
                           "%s@%" PRIu32 " is not registered by a module: nothing can "
                           "rebuild it%.0" PRIu64,
                           name, version, 0);
        //  Numbered after the newest build of the version, not after the
        //  one served: a rebuild asked for while another builds must not
        //  share its number, and so its checkpoint and rows.
        build_t *newest = projector_find (self, name, version);
        build_t *fresh = projector_build_add (self, name, version, newest->build.build + 1);
        if (!fresh)
            return SHOAL_ENOMEM;
        fresh->def = build->def;
        registry_filter_parse (&fresh->filter, fresh->def->events);
        //  Its skips and its checkpoint, in one write: a start finds both
        //  or neither.
        skips_t skips = {0};
        rc = s_inherit_skips (self, fresh, &skips);
        if (rc == 0)
            rc = projector_save (self, fresh);
        else
            journal_batch_clear (self->view.batch);
        if (rc)
            projector_build_remove (self, fresh); //  not asked for: the operator asks again
        else {
            log_info ("projection %s@%" PRIu32 ": rebuilding from position 0 (build %" PRIu32
                      "); build %" PRIu32 " serves until it has caught up",
                      name, version, fresh->build.build, build->build.build);
            for (size_t i = 0; i < skips.count; i++)
                log_warn ("projection %s@%" PRIu32 ": build %" PRIu32 " leaves out the event at "
                          "position %" PRIu64 ", skipped by an operator (it failed with: %s)",
                          name, version, fresh->build.build, skips.items[i].position,
                          skips.items[i].reason);
        }
        free (skips.items);
    } else
        return s_fail (reason, reason_size, SHOAL_EINVAL,
                       "unknown action for %s@%" PRIu32
                       " (pause, resume, rebuild, skip, switch, drop, forget)%.0" PRIu64,
                       name, version, 0);
    if (rc && !reason[0])
        snprintf (reason, reason_size, "%s", shoal_strerror (rc));
    return rc;
}
