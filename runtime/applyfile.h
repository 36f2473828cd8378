/*  applyfile.h - the projection apply in progress, kept where a crash of
    the process cannot lose it, so that an event whose apply crashes the
    node (a segfault in a module's projection) does not crash-loop it: as
    turnfile.h does for handlers, with the same three strikes.

    One small file in the data directory, "projection-apply", mapped
    shared. applyfile_begin writes the build and the event's position and
    marks the apply running; applyfile_end clears the mark. No system call
    and no fsync per event: a process crash leaves the page cache intact. At
    open, a mark still set means the last process died in that apply: it
    is counted, and the count goes on while the node keeps dying at the
    same event of the same build. Each build has a count of its own (up to
    APPLYFILE_SLOTS builds at once), kept until an apply passes that event
    or applyfile_clear: so a build set aside stays set aside across a
    clean restart, and two builds that crash at one event (a rebuild's)
    do not reset each other's count.

    Threads: the projection thread's.
*/
#ifndef APPLYFILE_H_INCLUDED
#define APPLYFILE_H_INCLUDED

#include "journal.h"
#include "shoal_base.h"

#define APPLYFILE_STRIKES 3 //  crashes at one event before it is set aside
#define APPLYFILE_SLOTS 16  //  builds whose crashes are counted at once

typedef struct _applyfile_t applyfile_t;

//  The apply the last process died in, and how many times in a row.
typedef struct {
    char view[SHOAL_TYPE_MAX + 1];
    uint32_t version, build;
    uint64_t position;
    uint32_t crashes; //  0: the last process did not die in an apply
} applyfile_crash_t;

//  Opens (creating) dir/projection-apply and maps it; *crash says how the
//  last process ended (the crash it counted). Returns NULL with errno set
//  when it cannot (then the projections run unguarded: the caller logs it).
applyfile_t *applyfile_open (const char *dir, applyfile_crash_t *crash);
void applyfile_close (applyfile_t **self_p);

//  The events that crashed the node APPLYFILE_STRIKES times or more, and
//  that no apply has passed since, into crashes (at most max). Returns
//  how many.
size_t applyfile_standing (applyfile_t *self, applyfile_crash_t *crashes, size_t max);

//  Forgets build's crashes at position (APPLYFILE_ANY: wherever they are):
//  an operator skipped or resumed that event, or the build is gone. A
//  count at another event stays. self may be NULL.
#define APPLYFILE_ANY UINT64_MAX
void applyfile_clear (applyfile_t *self, const journal_build_t *build, uint64_t position);

//  Marks the apply of the event at position by build as running; ends it.
//  self may be NULL. Can't fail.
void applyfile_begin (applyfile_t *self, const journal_build_t *build, uint64_t position);
void applyfile_end (applyfile_t *self);
//  For a projection with a batch_end, which runs after the batch's
//  applies: applyfile_pause ends an apply without counting it as passed
//  (the batch's batch_end may yet crash, guarded at the batch's first
//  event, and an apply passing that event must not end the count), and
//  applyfile_passed ends batch_end's guard, the whole batch from first
//  to last passed: a crash counted at one of its events ends.
void applyfile_pause (applyfile_t *self);
void applyfile_passed (applyfile_t *self, uint64_t first, uint64_t last);

#endif
