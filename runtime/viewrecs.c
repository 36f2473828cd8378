/*  viewrecs.c - the recs a projection's apply is handed (viewrecs.h).
 */
#include "viewrecs.h"

#include <stdlib.h>

void viewrecs_init (viewrecs_t *self)
{
    self->recs = NULL;
    self->count = self->cap = 0;
}

void viewrecs_close (viewrecs_t *self)
{
    for (size_t i = 0; i < self->cap; i++) {
        rec_close (self->recs[i]);
        free (self->recs[i]);
    }
    free (self->recs);
    viewrecs_init (self);
}

void viewrecs_restart (viewrecs_t *self)
{
    self->count = 0;
}

shoal_rec_t *viewrecs_next (viewrecs_t *self)
{
    if (self->count == self->cap) {
        size_t cap = self->cap ? 2 * self->cap : 4;
        shoal_rec_t **recs = realloc (self->recs, cap * sizeof *recs);
        if (!recs)
            return NULL;
        self->recs = recs;
        while (self->cap < cap) {
            shoal_rec_t *rec = malloc (sizeof *rec);
            if (!rec)
                return NULL;
            rec_init (rec);
            self->recs[self->cap++] = rec;
        }
    }
    shoal_rec_t *rec = self->recs[self->count++];
    rec_reset (rec);
    return rec;
}

shoal_rec_t *viewrecs_last (const viewrecs_t *self)
{
    return self->count ? self->recs[self->count - 1] : NULL;
}

void viewrecs_seal_last (viewrecs_t *self)
{
    if (self->count)
        rec_seal (self->recs[self->count - 1]);
}

bool viewrecs_late (const viewrecs_t *self)
{
    for (size_t i = 0; i < self->count; i++)
        if (rec_written_late (self->recs[i]))
            return true;
    return false;
}
