/*  viewrecs.c - the recs a projection's apply is handed (viewrecs.h).
 */
#include "viewrecs.h"

#include <stdlib.h>

void viewrecs_init (viewrecs_t *self)
{
    *self = (viewrecs_t){0};
}

void viewrecs_close (viewrecs_t *self)
{
    for (size_t i = 0; i < self->cap; i++) {
        rec_close (self->recs[i]);
        free (self->recs[i]);
    }
    free (self->recs);
    free (self->gens);
    viewrecs_init (self);
}

void viewrecs_restart (viewrecs_t *self)
{
    self->gen++;
    self->any = false;
}

//  Adds a rec to the ring at its end. False if out of memory.
static bool s_grow (viewrecs_t *self)
{
    shoal_rec_t **recs = realloc (self->recs, (self->cap + 1) * sizeof *recs);
    if (recs)
        self->recs = recs;
    uint64_t *gens = realloc (self->gens, (self->cap + 1) * sizeof *gens);
    if (gens)
        self->gens = gens;
    shoal_rec_t *rec = recs && gens ? malloc (sizeof *rec) : NULL;
    if (!rec)
        return false;
    rec_init (rec);
    self->recs[self->cap] = rec;
    self->gens[self->cap] = 0;
    self->cap++;
    return true;
}

shoal_rec_t *viewrecs_next (viewrecs_t *self)
{
    size_t at = self->cap ? self->next % self->cap : 0;
    //  One more while the ring is short, or when every rec is this apply's.
    if (self->cap < VIEWRECS_RING_MIN || self->gens[at] == self->gen) {
        if (!s_grow (self))
            return NULL;
        at = self->cap - 1;
    }
    shoal_rec_t *rec = self->recs[at];
    //  The last one's buffers, warm in the cache, go on with the new one
    //  (it is sealed: a write into it never reaches them).
    shoal_rec_t *last = self->cap ? self->recs[self->last] : NULL;
    if (last && last != rec && last->sealed)
        rec_swap_memory (rec, last);
    self->next = at + 1;
    self->last = at;
    self->any = true;
    self->gens[at] = self->gen;
    rec_reset (rec);
    return rec;
}

shoal_rec_t *viewrecs_open (viewrecs_t *self, int *error, bool *open)
{
    shoal_rec_t *rec = viewrecs_next (self);
    if (!rec) {
        if (!*error)
            *error = SHOAL_ENOMEM;
        return NULL;
    }
    *open = true;
    return rec;
}

shoal_rec_t *viewrecs_last (const viewrecs_t *self)
{
    return self->any ? self->recs[self->last] : NULL;
}

void viewrecs_seal_last (viewrecs_t *self)
{
    if (!self->any)
        return;
    shoal_rec_t *rec = self->recs[self->last];
    rec_seal (rec, &self->late);
    if (self->cap > VIEWRECS_KEEP)
        rec_release (rec);
}

bool viewrecs_late (viewrecs_t *self)
{
    bool late = self->late > 0;
    self->late = 0;
    return late;
}
