/*  applyfile.c - the projection apply in progress, in a shared mapping
    (see applyfile.h).
*/
#include "applyfile.h"
#include "log.h"
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define APPLYFILE_MAGIC "shoalpa2" //  pa1 had one crash record for all builds

//  A build's crashes in a row at one event; crashes 0: a free slot.
typedef struct {
    uint32_t crashes;
    uint32_t version, build;
    uint64_t position;
    char view[SHOAL_TYPE_MAX + 1];
} crash_slot_t;

typedef struct {
    char magic[8];
    atomic_uint running;     //  1 while an apply runs
    uint32_t version, build; //  the apply running, or the last one begun
    uint64_t position;
    char view[SHOAL_TYPE_MAX + 1];
    crash_slot_t slots[APPLYFILE_SLOTS];
} apply_header_t;

struct _applyfile_t {
    apply_header_t *map;
};

static bool s_same_build (const crash_slot_t *slot, const char *view, uint32_t version,
                          uint32_t build)
{
    return slot->crashes && slot->version == version && slot->build == build &&
           strncmp (slot->view, view, sizeof slot->view) == 0;
}

//  The slot of a build, or NULL.
static crash_slot_t *s_slot (apply_header_t *map, const char *view, uint32_t version,
                             uint32_t build)
{
    for (int i = 0; i < APPLYFILE_SLOTS; i++)
        if (s_same_build (&map->slots[i], view, version, build))
            return &map->slots[i];
    return NULL;
}

//  Counts a crash in the apply the map says was running: in a row if its
//  build's last crash was at the same event. A build with no slot takes a
//  free one, or the one with the fewest crashes.
static crash_slot_t *s_count (apply_header_t *map)
{
    crash_slot_t *slot = s_slot (map, map->view, map->version, map->build);
    if (!slot) {
        slot = &map->slots[0];
        for (int i = 1; i < APPLYFILE_SLOTS && slot->crashes; i++)
            if (map->slots[i].crashes < slot->crashes)
                slot = &map->slots[i];
        *slot = (crash_slot_t){.version = map->version, .build = map->build};
        memcpy (slot->view, map->view, sizeof slot->view);
    }
    slot->crashes = slot->crashes && slot->position == map->position ? slot->crashes + 1 : 1;
    slot->position = map->position;
    return slot;
}

static void s_report (const crash_slot_t *slot, applyfile_crash_t *crash)
{
    memcpy (crash->view, slot->view, sizeof crash->view);
    crash->version = slot->version;
    crash->build = slot->build;
    crash->position = slot->position;
    crash->crashes = slot->crashes;
}

applyfile_t *applyfile_open (const char *dir, applyfile_crash_t *crash)
{
    memset (crash, 0, sizeof *crash);
    char path[4096];
    if (snprintf (path, sizeof path, "%s/projection-apply", dir) >= (int) sizeof path) {
        errno = ENAMETOOLONG; //  not another file's name, cut short
        return NULL;
    }
    int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd == -1)
        return NULL;
    apply_header_t *map = NULL;
    if (ftruncate (fd, sizeof (apply_header_t)) == 0) {
        map = mmap (NULL, sizeof (apply_header_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (map == MAP_FAILED)
            map = NULL;
    }
    int saved = errno;
    close (fd);
    errno = saved;
    applyfile_t *self = map ? calloc (1, sizeof (applyfile_t)) : NULL;
    if (!self) {
        if (map)
            munmap (map, sizeof (apply_header_t));
        return NULL;
    }
    self->map = map;
    if (memcmp (map->magic, APPLYFILE_MAGIC, 8) != 0) { //  new, or not ours: start clean
        memset (map, 0, sizeof *map);
        memcpy (map->magic, APPLYFILE_MAGIC, 8);
        return self;
    }
    map->view[SHOAL_TYPE_MAX] = 0;
    for (int i = 0; i < APPLYFILE_SLOTS; i++)
        map->slots[i].view[SHOAL_TYPE_MAX] = 0;
    if (atomic_load (&map->running)) {
        s_report (s_count (map), crash);
        atomic_store (&map->running, 0);
    }
    return self;
}

size_t applyfile_standing (applyfile_t *self, applyfile_crash_t *crashes, size_t max)
{
    size_t count = 0;
    for (int i = 0; self && i < APPLYFILE_SLOTS && count < max; i++)
        if (self->map->slots[i].crashes >= APPLYFILE_STRIKES)
            s_report (&self->map->slots[i], &crashes[count++]);
    return count;
}

void applyfile_clear (applyfile_t *self, const journal_build_t *build, uint64_t position)
{
    crash_slot_t *slot =
        self ? s_slot (self->map, build->view, build->version, build->build) : NULL;
    if (slot && (position == APPLYFILE_ANY || slot->position == position))
        slot->crashes = 0;
}

void applyfile_close (applyfile_t **self_p)
{
    applyfile_t *self = *self_p;
    if (self) {
        munmap (self->map, sizeof (apply_header_t));
        free (self);
        *self_p = NULL;
    }
}

void applyfile_begin (applyfile_t *self, const journal_build_t *build, uint64_t position)
{
    if (!self)
        return;
    apply_header_t *map = self->map;
    if (strncmp (map->view, build->view, sizeof map->view) != 0)
        snprintf (map->view, sizeof map->view, "%s", build->view);
    map->version = build->version;
    map->build = build->build;
    map->position = position;
    atomic_store (&map->running, 1);
}

void applyfile_pause (applyfile_t *self)
{
    if (self)
        atomic_store (&((apply_header_t *) self->map)->running, 0);
}

void applyfile_passed (applyfile_t *self, uint64_t first, uint64_t last)
{
    if (!self)
        return;
    apply_header_t *map = self->map;
    atomic_store (&map->running, 0);
    crash_slot_t *slot = s_slot (map, map->view, map->version, map->build);
    if (slot && slot->position >= first && slot->position <= last)
        slot->crashes = 0;
}

void applyfile_end (applyfile_t *self)
{
    if (!self)
        return;
    apply_header_t *map = self->map;
    atomic_store (&map->running, 0);
    //  An apply that passes the event that crashed the node ends the count.
    crash_slot_t *slot = s_slot (map, map->view, map->version, map->build);
    if (slot && slot->position == map->position)
        slot->crashes = 0;
}
