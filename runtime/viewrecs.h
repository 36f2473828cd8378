/*  viewrecs.h - the recs a projection's apply (or batch_end) is handed:
    one of its own for each shoal_view_put, put_new and send, good until
    the next shoal_view_ call closes it (shoal.h). All of them were one
    rec, reused: a write through an earlier one after that call landed in
    the next row, or nowhere, and the apply passed (a review's find). Now
    each closed rec is sealed, a write into it is counted, and the apply
    (or batch_end) that runs when it is counted fails (viewrecs_late).
    Shared by the node's view (view.c) and the test kit's
    (testkit_view_apply.c).

    The recs go round a ring that grows as an apply needs: a rec is handed
    out again only once every other has been since (VIEWRECS_RING_MIN at
    least), and never twice in one apply, so that a pointer kept past its
    apply (into the next, or its batch_end) finds its rec sealed still
    unless that many puts came between. Their structs are
    never freed while the view lives (a module's stale write into one is
    refused, not a write into freed memory); past VIEWRECS_KEEP of them, a
    sealed rec gives its buffers back.

    Threads: one view's, the projection thread's (or the test's).
*/
#ifndef VIEWRECS_H_INCLUDED
#define VIEWRECS_H_INCLUDED

#include "data.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIEWRECS_KEEP 64     //  recs that keep their buffers for the next apply
#define VIEWRECS_RING_MIN 16 //  puts before a rec is handed out again, at least

typedef struct {
    shoal_rec_t **recs; //  each allocated once and kept (a module holds pointers to them)
    uint64_t *gens;     //  per rec: the apply it was last handed out in
    size_t cap;         //  recs allocated
    size_t next;        //  where the ring hands out from
    size_t last;        //  the rec handed out last
    bool any;           //  one was handed out since viewrecs_restart
    uint64_t gen;       //  this apply's number
    uint32_t late;      //  writes into sealed recs not yet said (rec_seal's sink)
} viewrecs_t;

void viewrecs_init (viewrecs_t *self);
void viewrecs_close (viewrecs_t *self);
//  Starts an apply (or a batch_end).
void viewrecs_restart (viewrecs_t *self);
//  An empty rec not handed out in this apply; NULL if out of memory.
shoal_rec_t *viewrecs_next (viewrecs_t *self);
//  viewrecs_next for a view: *open set, or NULL with *error set to
//  SHOAL_ENOMEM unless it holds an error already (the apply fails).
shoal_rec_t *viewrecs_open (viewrecs_t *self, int *error, bool *open);
//  The rec handed out last in this apply, NULL if none.
shoal_rec_t *viewrecs_last (const viewrecs_t *self);
//  Seals the rec handed out last, once finished and copied: writes into
//  it fail, and are counted.
void viewrecs_seal_last (viewrecs_t *self);
//  True if a write into a sealed rec was counted since the last call
//  (this apply's, or one kept from an earlier apply).
bool viewrecs_late (viewrecs_t *self);

//  The words of the misuse viewrecs_late finds.
#define VIEWRECS_LATE_TEXT                                                                         \
    "fields written into a row or a command after the next shoal_view_ call (the rec "             \
    "shoal_view_put, put_new or send returns is good until then): they would be lost, or land "    \
    "in another row"

#endif
