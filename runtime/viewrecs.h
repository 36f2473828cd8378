/*  viewrecs.h - the recs a projection's apply (or batch_end) is handed:
    one of its own for each shoal_view_put, put_new and send, good until
    the next shoal_view_ call closes it (shoal.h). All of them were one
    rec, reused: a write through an earlier one after that call landed in
    the next row, or nowhere, and the apply passed (a review's find). Now
    each closed rec is sealed, a write into it is counted, and the apply
    fails (viewrecs_late). Shared by the node's view (view.c) and the test
    kit's (testkit_view_apply.c).

    Threads: one view's, the projection thread's (or the test's).
*/
#ifndef VIEWRECS_H_INCLUDED
#define VIEWRECS_H_INCLUDED

#include "data.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    shoal_rec_t **recs; //  each allocated once and kept (a module holds pointers to them)
    size_t count;       //  handed out since viewrecs_restart
    size_t cap;         //  allocated
} viewrecs_t;

void viewrecs_init (viewrecs_t *self);
void viewrecs_close (viewrecs_t *self);
//  Starts an apply: the recs are handed out again from the first.
void viewrecs_restart (viewrecs_t *self);
//  An empty rec not handed out since the restart; NULL if out of memory.
shoal_rec_t *viewrecs_next (viewrecs_t *self);
//  The rec handed out last, NULL if none since the restart.
shoal_rec_t *viewrecs_last (const viewrecs_t *self);
//  Seals the rec handed out last, once finished: writes into it fail, and
//  are counted.
void viewrecs_seal_last (viewrecs_t *self);
//  True if a rec handed out since the restart was written after its seal.
bool viewrecs_late (const viewrecs_t *self);

//  The words of the misuse viewrecs_late finds.
#define VIEWRECS_LATE_TEXT                                                                         \
    "fields written into a row or a command after the next shoal_view_ call (the rec "             \
    "shoal_view_put, put_new or send returns is good until then): they would be lost, or land "    \
    "in another row"

#endif
