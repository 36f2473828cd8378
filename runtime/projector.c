/*  projector.c - the projection thread: every build of every projection,
    moved forward over the node's event log in batches, switched when
    caught up, paused, resumed, rebuilt, skipped and dropped on an
    operator's word; and the reactions' commands, re-sent until answered
    (projector_reactions.c).

    The life of a batch (s_step): read up to PROJECTOR_CHUNK events from
    the build's checkpoint; give each one it wants to apply (view.c); stage
    the rows, the reactions' commands and the new checkpoint in one
    journal batch and commit it. If an apply fails at position p, the
    batch is dropped, the events before p are applied again and committed
    with the checkpoint at p, and the build stops there, failed, until an
    operator resumes it (after a fix) or skips p. So the rows and the
    checkpoint always move together: a crash never applies an event twice
    nor skips one.

    Builds take turns, one batch each, so that a rebuild of a million
    events does not hold up the projections that follow the log live.
    Switches: see s_caught_up. A build's served state is the metadata
    "projection/NAME" = "VERSION.BUILD".

    Threads: one zactor; its builds are its own. The journal is shared.
*/
#include "projector_internal.h"
#include "log.h"
#include "threadname.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORE_RETRY_MS 1000 //  a build whose store was down tries again after this

//  --------------------------------------------------------------------------
//  Builds

bool projector_wants (const build_t *build, const char *address, const char *name)
{
    return registry_filter_wants (&build->filter, address, name);
}

build_t *projector_build_add (projector_t *self, const char *name, uint32_t version,
                              uint32_t number)
{
    if (self->build_count == self->build_cap) {
        size_t cap = self->build_cap ? 2 * self->build_cap : 16;
        build_t **grown = realloc (self->builds, cap * sizeof (build_t *));
        if (!grown)
            return NULL;
        self->builds = grown;
        self->build_cap = cap;
    }
    build_t *build = calloc (1, sizeof (build_t));
    if (!build)
        return NULL;
    snprintf (build->name, sizeof build->name, "%s", name);
    build->build = (journal_build_t){build->name, version, number};
    build->reactions = envelope_id_table_new (projector_reaction_destroy);
    build->due = projector_due_new ();
    if (!build->reactions || !build->due) {
        zhashx_destroy (&build->reactions);
        heap_destroy (&build->due);
        free (build);
        return NULL;
    }
    build->rate_at = zclock_mono ();
    build->guard_at = UINT64_MAX;
    vmap_init (&build->kept);
    self->builds[self->build_count++] = build;
    return build;
}

void projector_build_remove (projector_t *self, build_t *build)
{
    for (size_t i = 0; i < self->build_count; i++)
        if (self->builds[i] == build) {
            memmove (&self->builds[i], &self->builds[i + 1],
                     (self->build_count - i - 1) * sizeof (build_t *));
            self->build_count--;
            break;
        }
    zhashx_destroy (&build->reactions); //  each leaves build->due on its way
    heap_destroy (&build->due);
    vmap_close (&build->kept);
    free (build->skips);
    free (build);
}

int projector_skip_add (build_t *build, uint64_t position)
{
    size_t at = build->skip_count; //  from the end: a rebuild's come in order
    while (at && build->skips[at - 1] > position)
        at--;
    if (at && build->skips[at - 1] == position)
        return 0;
    uint64_t *grown = realloc (build->skips, (build->skip_count + 1) * sizeof (uint64_t));
    if (!grown)
        return SHOAL_ENOMEM;
    memmove (&grown[at + 1], &grown[at], (build->skip_count - at) * sizeof (uint64_t));
    grown[at] = position;
    build->skips = grown;
    build->skip_count++;
    return 0;
}

bool projector_skipped (const build_t *build, uint64_t position)
{
    for (size_t i = 0; i < build->skip_count; i++)
        if (build->skips[i] == position)
            return true;
    return false;
}

build_t *projector_find (projector_t *self, const char *name, uint32_t version)
{
    build_t *found = NULL; //  the newest build of that version
    for (size_t i = 0; i < self->build_count; i++) {
        build_t *build = self->builds[i];
        if (strcmp (build->name, name) == 0 && build->build.version == version &&
            (!found || build->build.build > found->build.build))
            found = build;
    }
    return found;
}

build_t *projector_pick (projector_t *self, const char *name, uint32_t version)
{
    build_t *caught_up = NULL;
    for (size_t i = 0; i < self->build_count; i++) {
        build_t *build = self->builds[i];
        if (strcmp (build->name, name) != 0 || build->build.version != version)
            continue;
        if (build->served)
            return build;
        if (build->cp.caught_up && (!caught_up || build->build.build > caught_up->build.build))
            caught_up = build;
    }
    return caught_up ? caught_up : projector_find (self, name, version);
}

build_t *projector_served (projector_t *self, const char *name)
{
    for (size_t i = 0; i < self->build_count; i++)
        if (self->builds[i]->served && strcmp (self->builds[i]->name, name) == 0)
            return self->builds[i];
    return NULL;
}

const char *projector_status_name (const projector_t *self, const build_t *build)
{
    (void) self;
    if (build->failed)
        return "failed";
    if (build->cp.paused)
        return "paused";
    if (!build->def)
        return "orphan";
    if (build->served)
        return "live";
    if (!build->cp.caught_up)
        return "building";
    return build->def->manual_switch ? "ready" : "old";
}

//  --------------------------------------------------------------------------
//  Commits

//  Commits the projector's batch synced: an operator's word (a pause, a
//  skip) or a new build is kept whatever the node's durability.
int projector_commit_synced (projector_t *self)
{
    journal_batch_set_lazy (self->view.batch, false);
    int rc = journal_batch_commit (self->view.batch);
    journal_batch_set_lazy (self->view.batch, true);
    return rc;
}

//  Writes the checkpoint alone (a pause, a new build, a flag).
int projector_save (projector_t *self, build_t *build)
{
    journal_batch_t *batch = self->view.batch;
    int rc = journal_batch_view_checkpoint (batch, &build->build, &build->cp);
    if (rc == 0)
        rc = projector_commit_synced (self);
    else
        journal_batch_clear (batch);
    return rc;
}

//  The build that takes over the unanswered commands of build, dropped:
//  the one served of its name, or with none served, the newest other
//  build of the version that sends (NULL: none).
static build_t *s_heir (projector_t *self, build_t *build)
{
    build_t *served = projector_served (self, build->name);
    if (served)
        return served;
    uint32_t deciding = projector_deciding (self, build->name);
    build_t *heir = NULL;
    for (size_t i = 0; i < self->build_count; i++) {
        build_t *each = self->builds[i];
        if (each != build && each->build.version == deciding &&
            strcmp (each->name, build->name) == 0 &&
            (!heir || each->build.build > heir->build.build))
            heir = each;
    }
    return heir;
}

//  See projector_internal.h. The unanswered commands go to the heir
//  (s_heir, projector_adopt_reactions): a command a reaction decided is
//  sent until answered, whichever build serves.
int projector_drop (projector_t *self, build_t *build, bool warn, const char *why)
{
    size_t dropped = 0;
    int rc = projector_adopt_reactions (self, s_heir (self, build), build);
    if (rc)
        return rc;
    rc = journal_view_drop (self->journal, &build->build, &dropped);
    if (rc)
        return rc;
    //  Its crashes' count, which a new build of the same numbers (its
    //  version registered again) would take for its own.
    applyfile_clear (self->guard, &build->build, APPLYFILE_ANY);
    char line[SHOAL_TYPE_MAX + 256];
    snprintf (line, sizeof line,
              "projection %s@%" PRIu32 ": build %" PRIu32 " dropped (%zu records)%s%s", build->name,
              build->build.version, build->build.build, dropped, *why ? ": " : "", why);
    if (warn)
        log_warn ("%s", line);
    else
        log_info ("%s", line);
    projector_build_remove (self, build);
    return 0;
}

//  Drops every build of name@version older than keep (NULL: all of
//  them). A newer one (a rebuild an operator asked for since) goes on,
//  to replace keep in its turn.
int projector_drop_builds (projector_t *self, const char *name, uint32_t version, build_t *keep)
{
    int rc = 0;
    for (size_t i = 0; i < self->build_count && rc == 0;) {
        build_t *build = self->builds[i];
        if ((keep && build->build.build >= keep->build.build) || strcmp (build->name, name) != 0 ||
            build->build.version != version) {
            i++;
            continue;
        }
        rc = projector_drop (self, build, false, ""); //  the next build moved to i
    }
    return rc;
}

//  True if a module registers name@version (an orphan never moves).
static bool s_registered (projector_t *self, const char *name, uint32_t version)
{
    for (size_t i = 0; i < self->build_count; i++)
        if (self->builds[i]->def && self->builds[i]->build.version == version &&
            strcmp (self->builds[i]->name, name) == 0)
            return true;
    return false;
}

//  A build that reached the log's end: served at once when nothing of its
//  name is and it is the version that sends (projector_deciding), or that
//  version is an orphan (its commands are handed over at the switch), when it
//  rebuilds the version served, or when it is a newer version than the
//  one served and its module does not ask for a manual switch. A rebuild
//  that takes over drops the build it replaces.
static void s_caught_up (projector_t *self, build_t *build)
{
    if (build->served || !build->def)
        return;
    build_t *served = projector_served (self, build->name);
    bool same = served && served->build.version == build->build.version;
    if (same && build->build.build < served->build.build) {
        //  A build a rebuild replaced, whose drop failed: never served again
        projector_drop (self, build, false, "a rebuild replaced it");
        return;
    }
    bool rebuild = same;
    bool newer = served && served->build.version < build->build.version;
    if (served && !rebuild && !(newer && !build->def->manual_switch))
        return;
    uint32_t deciding = served ? 0 : projector_deciding (self, build->name);
    if (deciding && deciding != build->build.version && s_registered (self, build->name, deciding))
        return; //  nothing served yet: the version that sends goes first, unless it is an orphan
    if (projector_set_served (self, build) != 0)
        return;
    if (rebuild)
        projector_drop_builds (self, build->name, build->build.version, build);
}

//  The step's clock, read after every event applied: the coarse monotonic
//  clock (a few ms steps, against a step of PROJECTOR_STEP_MS), which
//  costs a read of memory where the fine one (zclock_mono) was about 1 %
//  of this thread's samples.
static int64_t s_coarse_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC_COARSE, &now);
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

//  One batch of events, from the checkpoint, for the build.
typedef struct {
    projector_t *self;
    build_t *build;
    uint64_t stop_at; //  apply nothing from this position on (a failure's)
    uint64_t next;    //  the position after the last event read
    uint64_t applied;
    int64_t until; //  stop after this (monotonic ms): queries wait no longer
    int error;     //  the first apply's failure
    uint64_t error_position;
    uint64_t first; //  the position of the first event applied
    size_t skip;    //  the build's first skip not behind the events read
    bool single;    //  before build->single_until: batch_end after each event
} step_t;

//  True if an operator skipped the event at position for step's build:
//  it is left out as an event not wanted.
static bool s_skipped (step_t *step, uint64_t position)
{
    const build_t *build = step->build;
    while (step->skip < build->skip_count && build->skips[step->skip] < position)
        step->skip++;
    return step->skip < build->skip_count && build->skips[step->skip] == position;
}

static int s_step_event (void *arg, const journal_logged_t *logged)
{
    step_t *step = arg;
    if (logged->position >= step->stop_at ||
        (step->single && logged->position >= step->build->single_until))
        return 1;
    step->next = logged->position + 1;
    if (!projector_wants (step->build, logged->stream, logged->name) ||
        s_skipped (step, logged->position))
        return 0;
    if (!step->applied)
        step->first = logged->position;
    turnfile_busy_at (step->self->config->busy, logged->position, s_coarse_ms ());
    applyfile_begin (step->self->guard, &step->build->build, logged->position);
    int rc = view_apply (&step->self->view, logged);
    turnfile_busy_end (step->self->config->busy);
    if (step->build->def->batch_end)
        applyfile_pause (step->self->guard); //  passed once batch_end has
    else
        applyfile_end (step->self->guard);
    if (rc) {
        step->error = rc;
        step->error_position = logged->position;
        snprintf (step->build->error, sizeof step->build->error, "%s", step->self->view.reason);
        return 1;
    }
    step->applied++;
    if (step->single && step->build->def->batch_end) {
        //  The event a batch of its own: its batch_end now, guarded at
        //  this event, into the same commit (the rows come out the same).
        applyfile_begin (step->self->guard, &step->build->build, logged->position);
        turnfile_busy_at (step->self->config->busy, logged->position, s_coarse_ms ());
        rc = view_end (&step->self->view, logged->position);
        turnfile_busy_end (step->self->config->busy);
        if (rc == 0)
            applyfile_passed (step->self->guard, logged->position, logged->position);
        else
            applyfile_pause (step->self->guard);
        view_batch_zero (&step->self->view);
        if (rc) {
            step->applied--;
            step->error = rc;
            step->error_position = logged->position;
            snprintf (step->build->error, sizeof step->build->error, "in batch_end: %.*s",
                      (int) (sizeof step->build->error - sizeof "in batch_end: "),
                      step->self->view.reason);
            return 1;
        }
    }
    return s_coarse_ms () >= step->until ? 1 : 0;
}

//  The store could not be read or written (a full disk, an I/O error):
//  the build tries again from its checkpoint in STORE_RETRY_MS, and says
//  so once.
static void s_store_down (build_t *build, int rc)
{
    build->retry_at = zclock_mono () + STORE_RETRY_MS;
    if (!build->store_down)
        log_warn ("projection %s@%" PRIu32 ": the store is not writable (%s); trying again "
                  "from the checkpoint every %d ms",
                  build->name, build->build.version, shoal_strerror (rc), STORE_RETRY_MS);
    build->store_down = true;
}

//  A build whose checkpoint reached the event that crashed the node
//  (guard_at) stops there, failed.
static void s_guard_reached (build_t *build)
{
    build->failed = true;
    build->error_position = build->guard_at;
    snprintf (build->error, sizeof build->error, "%s", build->guard_error);
    log_error ("projection %s@%" PRIu32 " stopped at position %" PRIu64 ": %s", build->name,
               build->build.version, build->guard_at, build->error);
    build->guard_at = UINT64_MAX;
}

//  Reads and applies one batch. Returns true if it moved.
static bool s_step (projector_t *self, build_t *build)
{
    //  Its applies are watched (turnfile_busy_t): one that never returns
    //  is logged by the watchdog, naming the build and the event.
    char what[SHOAL_TYPE_MAX + 16];
    snprintf (what, sizeof what, "%s@%" PRIu32, build->name, build->build.version);
    turnfile_busy_name (self->config->busy, what);
    uint64_t from = build->cp.next;
    bool single = from < build->single_until;
    step_t step = {self, build, build->guard_at, from, 0, s_coarse_ms () + PROJECTOR_STEP_MS, 0, 0,
                   0,    0,     single};
    int rc = projector_fix_sender (self, build->name);
    if (rc == 0)
        rc = view_begin (&self->view, build, projector_react_from (self, build),
                         projector_holds (self, build));
    if (rc) { //  the store, or no memory for its batch state: as a store that is down
        s_store_down (build, rc);
        return false;
    }
    rc = journal_log_read (self->journal, from, PROJECTOR_CHUNK, s_step_event, &step);
    if (rc == SHOAL_EIO) { //  the store is down (a full disk): not the build's failure
        view_discard (&self->view);
        s_store_down (build, rc);
        return false;
    }
    if (rc < 0) {
        view_discard (&self->view);
        build->failed = true;
        build->error_position = from;
        snprintf (build->error, sizeof build->error, "cannot read the event log: %s",
                  shoal_strerror (rc));
        return false;
    }
    if (step.error == SHOAL_EIO) { //  a row could not be read: the store, not the build
        view_discard (&self->view);
        build->error[0] = '\0';
        s_store_down (build, step.error);
        return false;
    }
    bool stopped = false; //  at failed_at, once the applies before it are written
    uint64_t failed_at = 0;
    char reason[sizeof build->error] = "";
    if (step.error) {
        //  Again without the failing event and what follows it.
        failed_at = step.error_position;
        snprintf (reason, sizeof reason, "%s", build->error);
        step = (step_t){self, build, failed_at, from, 0, INT64_MAX, 0, 0, 0, 0, single};
        rc = view_begin (&self->view, build, projector_react_from (self, build),
                         projector_holds (self, build));
        if (rc == 0)
            rc = journal_log_read (self->journal, from, PROJECTOR_CHUNK, s_step_event, &step);
        if (rc < 0 || step.error) {
            //  The applies before the failing event did not all pass again
            //  (the store, or an apply that fails now and not before):
            //  nothing of the batch is kept, and the build tries again
            //  from its checkpoint, never past events it did not apply.
            view_discard (&self->view);
            snprintf (build->error, sizeof build->error, "%s", reason);
            log_warn ("projection %s@%" PRIu32 ": the events before position %" PRIu64
                      " did not apply again (%s); trying again from the checkpoint",
                      build->name, build->build.version, failed_at,
                      shoal_strerror (rc < 0 ? rc : step.error));
            build->retry_at = zclock_mono () + STORE_RETRY_MS;
            return false;
        }
        step.next = failed_at;
        stopped = true;
    }
    //  The projection's batch_end writes what its applies summed up,
    //  guarded as an apply of the batch's first event (a crash in it sets
    //  the build aside there), and answerable for the whole batch.
    if (step.applied && build->def->batch_end && !single) {
        applyfile_begin (self->guard, &build->build, step.first);
        turnfile_busy_at (self->config->busy, step.first, s_coarse_ms ());
        rc = view_end (&self->view, step.first);
        turnfile_busy_end (self->config->busy);
        if (rc == 0)
            applyfile_passed (self->guard, step.first, step.next - 1);
        else
            applyfile_pause (self->guard);
        if (rc == SHOAL_EIO) { //  the store's trouble: tried again, stopped nowhere
            view_discard (&self->view);
            build->error[0] = '\0';
            s_store_down (build, rc);
            return false;
        }
        if (rc && step.applied > 1) {
            //  Which event? The rows must come out the same however the
            //  events fall into batches: the same events again, each a
            //  batch of its own, stop at the one it fails on. An operator
            //  who skipped the batch's first event skipped one that may be
            //  fine, and the next batch failed again at its own first.
            view_discard (&self->view);
            build->single_until = step.next;
            log_warn ("projection %s@%" PRIu32 ": its batch_end failed over the %" PRIu64
                      " events from position %" PRIu64 " to %" PRIu64
                      " (%s); running them again a batch each, to stop at the one it fails on",
                      build->name, build->build.version, step.applied, step.first, step.next - 1,
                      self->view.reason);
            return true;
        }
        if (rc) {
            view_discard (&self->view);
            build->failed = true;
            build->error_position = step.first;
            snprintf (build->error, sizeof build->error, "in batch_end: %.*s",
                      (int) (sizeof build->error - sizeof "in batch_end: "), self->view.reason);
            log_error ("projection %s@%" PRIu32 " stopped at position %" PRIu64
                       ": its batch_end failed: %s",
                       build->name, build->build.version, step.first, self->view.reason);
            return false;
        }
    }
    if (stopped) {
        build->failed = true;
        build->error_position = failed_at;
        snprintf (build->error, sizeof build->error, "%s", reason);
        log_error ("projection %s@%" PRIu32 " stopped at position %" PRIu64 ": %s", build->name,
                   build->build.version, failed_at, reason);
    }
    if (step.next == from) {
        view_discard (&self->view);
        return false;
    }
    journal_checkpoint_t cp = build->cp;
    cp.next = step.next;
    cp.applied += step.applied;
    bool caught_up = !build->failed && cp.next >= journal_log_end (self->journal);
    if (caught_up)
        cp.caught_up = true;
    rc = view_stage (&self->view);
    if (rc == 0)
        rc = journal_batch_view_checkpoint (self->view.batch, &build->build, &cp);
    if (rc == 0)
        rc = journal_batch_commit (self->view.batch);
    else
        journal_batch_clear (self->view.batch);
    if (rc) {
        view_discard (&self->view);
        view_forget (build, cp.next); //  whatever of the batch reached the store
        build->failed = false;        //  tried again from the checkpoint
        s_store_down (build, rc);
        return false;
    }
    if (build->store_down)
        log_info ("projection %s@%" PRIu32 ": writing again", build->name, build->build.version);
    build->store_down = false;
    build->cp = cp;
    build->batches++;
    if (build->cp.next >= build->guard_at)
        s_guard_reached (build);
    bool held = self->view.hold;
    projector_release_sends (self, build);
    view_committed (&self->view);
    if (held)
        projector_trim_held (self, build);
    if (caught_up)
        s_caught_up (self, build);
    return true;
}

bool projector_catch_up (projector_t *self, build_t *build)
{
    uint32_t deciding = projector_deciding (self, build->name);
    if (build->served || !deciding || deciding == build->build.version)
        return true;
    uint64_t decided = projector_decided (self, build->name, deciding);
    //  Each step moves it on, or it is stopped (failed, paused, the store):
    //  a few batches at most for a build that has caught up once.
    while (build->cp.next < decided && build->def && !build->failed && !build->cp.paused &&
           s_step (self, build))
        ;
    return build->cp.next >= decided;
}

//  --------------------------------------------------------------------------
//  Reactions

//  --------------------------------------------------------------------------
//  Start: the builds in the store, and the projections registered

//  Opens the apply guard and sets aside each event that crashed the node
//  APPLYFILE_STRIKES times in a row (the count is kept across starts, by
//  build, until an apply passes it or an operator skips or resumes): its
//  build applies the events before it, then stops there, failed, as if
//  its apply had returned an error, until an operator resumes or skips.
static void s_guard (projector_t *self)
{
    applyfile_crash_t crash;
    if (!self->config->data_dir)
        return;
    self->guard = applyfile_open (self->config->data_dir, &crash);
    if (!self->guard) {
        log_warn ("projections: cannot keep the apply in progress in %s (%s): an apply that "
                  "crashes the node will crash it again at each start",
                  self->config->data_dir, strerror (errno));
        return;
    }
    if (crash.crashes && crash.crashes < APPLYFILE_STRIKES)
        log_warn ("projection %s@%" PRIu32 ": the node died applying the event at position %" PRIu64
                  " (crash %" PRIu32 " of %d before it is set aside)",
                  crash.view, crash.version, crash.position, crash.crashes, APPLYFILE_STRIKES);
    //  A crash in a batch_end is counted at its batch's first event, which
    //  may be fine: the batch runs again event by event (a batch holds at
    //  most PROJECTOR_CHUNK), so that the next crashes are counted at the
    //  event that crashes it, and a skip there skips that one.
    for (size_t i = 0; crash.crashes && i < self->build_count; i++) {
        build_t *build = self->builds[i];
        if (build->def && build->def->batch_end && strcmp (build->name, crash.view) == 0 &&
            build->build.version == crash.version && build->build.build == crash.build)
            build->single_until = crash.position + PROJECTOR_CHUNK;
    }
    applyfile_crash_t standing[APPLYFILE_SLOTS];
    size_t count = applyfile_standing (self->guard, standing, APPLYFILE_SLOTS);
    for (size_t c = 0; c < count; c++) {
        const applyfile_crash_t *at = &standing[c];
        build_t *build = NULL;
        for (size_t i = 0; i < self->build_count && !build; i++)
            if (strcmp (self->builds[i]->name, at->view) == 0 &&
                self->builds[i]->build.version == at->version &&
                self->builds[i]->build.build == at->build)
                build = self->builds[i];
        //  Dropped, skipped past, or a skip that reached it ahead.
        if (!build || build->cp.next > at->position || projector_skipped (build, at->position)) {
            applyfile_clear (self->guard, &(journal_build_t){at->view, at->version, at->build},
                             at->position);
            continue;
        }
        //  It stops there once the events before it are applied: a batch
        //  that crashed may have begun before it (a rebuild, a linger).
        build->guard_at = at->position;
        snprintf (build->guard_error, sizeof build->guard_error,
                  "the node crashed %" PRIu32 " times in a row applying this event (a crash in "
                  "apply): fix the module and resume, or skip it",
                  at->crashes);
        if (build->cp.next >= build->guard_at)
            s_guard_reached (build);
    }
}

//  --------------------------------------------------------------------------
//  The thread

//  One batch for each build that can move. Returns true if any moved.
static bool s_work (projector_t *self)
{
    bool moved = false;
    uint64_t end = journal_log_end (self->journal);
    for (size_t i = 0; i < self->build_count; i++) {
        build_t *build = self->builds[i];
        if (!build->def || build->failed || build->cp.paused || zclock_mono () < build->retry_at)
            continue;
        if (build->cp.next < end) {
            //  Following the log, a build lingers: its batch then holds the
            //  later steps of the same sagas, whose rows it writes once.
            int64_t now = zclock_mono ();
            if (build->cp.caught_up && end - build->cp.next < PROJECTOR_LINGER_EVENTS &&
                now - build->stepped_at < self->config->linger_ms)
                continue;
            build->stepped_at = now;
            moved |= s_step (self, build);
        } else if (!build->cp.caught_up) {
            build->cp.caught_up = true;
            if (projector_save (self, build) == 0)
                s_caught_up (self, build);
            else
                build->cp.caught_up = false;
        }
    }
    return moved;
}

static void s_destroy (projector_t **self_p)
{
    projector_t *self = *self_p;
    if (!self)
        return;
    while (self->build_count)
        projector_build_remove (self, self->builds[self->build_count - 1]);
    free (self->builds);
    view_close (&self->view);
    journal_batch_destroy (&self->view.batch);
    zsock_destroy (&self->requests);
    zsock_destroy (&self->front);
    zsock_destroy (&self->client);
    zhashx_destroy (&self->senders);
    applyfile_close (&self->guard);
    free (self);
    *self_p = NULL;
}

static void s_actor (zsock_t *pipe, void *arg)
{
    const projector_config_t *config = arg;
    projector_t *self = calloc (1, sizeof (projector_t));
    thread_name ("shoal-projector");
    if (self) {
        self->config = config;
        self->journal = config->journal;
        self->pipe = pipe;
        view_init (&self->view, self);
        self->view.batch = journal_batch_new (config->journal);
        //  Not synced: a build that loses its last batches to a power cut
        //  applies them again from the checkpoint that survived (rows and
        //  checkpoint are lost together), and its reactions' commands, sent
        //  again with the same ids, are answered from their targets' inbox.
        if (self->view.batch)
            journal_batch_set_lazy (self->view.batch, true);
        self->requests = zsock_new (ZMQ_PULL);
        self->front = zsock_new (ZMQ_PUSH);
        self->client = zsock_new (ZMQ_DEALER);
        self->senders = zhashx_new ();
    }
    int rc = !self || !self->view.batch || !self->requests || !self->front || !self->client ||
             !self->senders;
    if (!rc && (zsock_bind (self->requests, "%s-proj", config->prefix) != 0 ||
                zsock_connect (self->front, "%s-front", config->prefix) != 0 ||
                zmq_setsockopt (zsock_resolve (self->client), ZMQ_ROUTING_ID, config->id,
                                WORKER_PROJECTOR_ID_SIZE) != 0 ||
                zsock_connect (self->client, "%s-clients", config->prefix) != 0))
        rc = SHOAL_EIO;
    if (!rc)
        rc = projector_load (self);
    if (!rc)
        s_guard (self);
    zsock_signal (pipe, 0); //  the handshake zactor_new waits for
    if (rc) {
        log_error ("projections: cannot start: %s", shoal_strerror (rc < 0 ? rc : SHOAL_ENOMEM));
        s_destroy (&self);
        zsock_signal (pipe, 1);
        return;
    }
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, self->requests, self->client, NULL);
    int64_t next_rates = zclock_mono () + PROJECTOR_RATE_EVERY_MS;
    bool busy = true;
    while (true) {
        zsock_t *which = zpoller_wait (poller, busy ? 0 : PROJECTOR_IDLE_MS);
        if (which == pipe)
            break; //  $TERM
        if (zpoller_terminated (poller))
            break;
        for (int n = 0; n < 64 && zsock_events (self->requests) & ZMQ_POLLIN; n++) {
            zframe_t *route = zframe_recv (self->requests);
            zframe_t *frame = route && zframe_more (route) ? zframe_recv (self->requests) : NULL;
            if (frame)
                projector_serve (self, zframe_data (route), zframe_size (route),
                                 zframe_data (frame), zframe_size (frame));
            zframe_destroy (&route);
            zframe_destroy (&frame);
        }
        while (zsock_events (self->client) & ZMQ_POLLIN)
            projector_on_answer (self);
        busy = s_work (self);
        projector_send_due (self);
        if (zclock_mono () >= next_rates) {
            projector_measure (self);
            next_rates = zclock_mono () + PROJECTOR_RATE_EVERY_MS;
        }
    }
    zpoller_destroy (&poller);
    s_destroy (&self);
}

zactor_t *projector_new (const projector_config_t *config)
{
    zactor_t *actor = zactor_new (s_actor, (void *) config);
    if (actor && zsock_wait (actor) != 0)
        zactor_destroy (&actor);
    return actor;
}
