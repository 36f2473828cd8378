/*  applyfile.c - the projection apply in progress, in a shared mapping
    (see applyfile.h).
*/
#include "applyfile.h"
#include "log.h"
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define APPLYFILE_MAGIC "shoalpa1"

typedef struct {
    char magic[8];
    atomic_uint running;     //  1 while an apply runs
    uint32_t version, build; //  the apply running, or the last one begun
    uint64_t position;
    char view[SHOAL_TYPE_MAX + 1];
    uint32_t crashes; //  crashes in a row at crash_* below
    uint32_t crash_version, crash_build;
    uint64_t crash_position;
    char crash_view[SHOAL_TYPE_MAX + 1];
} apply_header_t;

struct _applyfile_t {
    apply_header_t *map;
};

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
    map->crash_view[SHOAL_TYPE_MAX] = 0;
    if (atomic_load (&map->running)) {
        bool again = map->crashes && strcmp (map->crash_view, map->view) == 0 &&
                     map->crash_version == map->version && map->crash_build == map->build &&
                     map->crash_position == map->position;
        map->crashes = again ? map->crashes + 1 : 1;
        memcpy (map->crash_view, map->view, sizeof map->view);
        map->crash_version = map->version;
        map->crash_build = map->build;
        map->crash_position = map->position;
        atomic_store (&map->running, 0);
        memcpy (crash->view, map->view, sizeof crash->view);
        crash->version = map->version;
        crash->build = map->build;
        crash->position = map->position;
        crash->crashes = map->crashes;
    }
    return self;
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
    if (map->crashes && map->crash_position >= first && map->crash_position <= last &&
        map->build == map->crash_build && map->version == map->crash_version &&
        strcmp (map->view, map->crash_view) == 0)
        map->crashes = 0;
}

void applyfile_end (applyfile_t *self)
{
    if (!self)
        return;
    apply_header_t *map = self->map;
    atomic_store (&map->running, 0);
    //  An apply that passes the event that crashed the node ends the count.
    if (map->crashes && map->position == map->crash_position && map->build == map->crash_build &&
        map->version == map->crash_version && strcmp (map->view, map->crash_view) == 0)
        map->crashes = 0;
}
