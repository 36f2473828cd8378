/*  clientkeys.c - the keys of a node's clients/ and operators/, read at
    one moment. See clientkeys.h.

    A set is a sorted array of keys, looked up by binary search; it keeps
    a mark of each directory as it was before it was read (entries, their
    bytes, the newest file's mtime, the directory's own mtime to the
    nanosecond), which clientkeys_stale compares with the directory now.
    Any thread; a set belongs to one at a time.
*/
#include "clientkeys.h"
#include "log.h"

#include <czmq.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define KEY_SIZE 40 //  a public key in Z85

typedef struct {
    char text[KEY_SIZE + 1];
    clientkeys_place_t place;
} entry_t;

//  A directory as it was: what clientkeys_stale compares.
typedef struct {
    bool present;
    size_t files;            //  regular files, in subdirectories too
    off_t bytes;             //  theirs
    time_t newest;           //  the newest one's mtime (s)
    struct timespec changed; //  the directory's own mtime: an entry added, removed, renamed
} mark_t;

struct _clientkeys_t {
    const char *clients_dir;   //  borrowed
    const char *operators_dir; //  borrowed; NULL: every client is an operator
    bool legacy;               //  no operators/ since the start: every client is one
    mark_t marks[2];           //  of each, before it was read
    entry_t *keys;             //  sorted by text, each key once
    size_t count;
};

//  The mark of path; dir (may be NULL) is the caller's, opened already.
static mark_t s_mark (const char *path, zdir_t *dir)
{
    mark_t mark = {0};
    struct stat status;
    if (!path || !dir || stat (path, &status) != 0)
        return mark;
    mark.present = true;
    mark.files = (size_t) zdir_count (dir);
    mark.bytes = zdir_cursize (dir);
    mark.newest = zdir_modified (dir);
    mark.changed = status.st_mtim;
    return mark;
}

static bool s_mark_equal (const mark_t *a, const mark_t *b)
{
    return a->present == b->present && a->files == b->files && a->bytes == b->bytes &&
           a->newest == b->newest && a->changed.tv_sec == b->changed.tv_sec &&
           a->changed.tv_nsec == b->changed.tv_nsec;
}

//  Adds the keys of the certificates in dir at place. Returns false out
//  of memory.
static bool s_read (clientkeys_t *self, zdir_t *dir, clientkeys_place_t place, size_t *cap)
{
    zfile_t **files = zdir_flatten (dir);
    if (!files)
        return false;
    bool ok = true;
    for (size_t i = 0; ok && files[i]; i++) {
        if (!zfile_is_regular (files[i]))
            continue;
        const char *path = zfile_filename (files[i], NULL);
        zcert_t *cert = zcert_load (path);
        if (!cert) {
            //  Skipped, as zcertstore skips it; said, at each read of
            //  the directory: a damaged certificate lets no client in.
            log_warn ("%s is not a certificate (a ZPL file with a curve public-key): skipped; "
                      "a client whose certificate it was is refused",
                      path);
            continue;
        }
        if (self->count == *cap) {
            size_t grown = *cap ? 2 * *cap : 16;
            entry_t *keys = realloc (self->keys, grown * sizeof (entry_t));
            if (keys) {
                self->keys = keys;
                *cap = grown;
            }
        }
        if (self->count < *cap) {
            entry_t *key = &self->keys[self->count++];
            snprintf (key->text, sizeof key->text, "%s", zcert_public_txt (cert));
            key->place = place;
        } else
            ok = false;
        zcert_destroy (&cert);
    }
    zdir_flatten_free (&files);
    return ok;
}

//  By text, and an operator's place before a client's: the first of a
//  run of equal keys is the one kept.
static int s_compare (const void *a, const void *b)
{
    const entry_t *x = a, *y = b;
    int order = memcmp (x->text, y->text, KEY_SIZE);
    return order ? order : (int) y->place - (int) x->place;
}

clientkeys_t *clientkeys_load (const char *clients_dir, const char *operators_dir,
                               const clientkeys_t *before)
{
    clientkeys_t *self = calloc (1, sizeof (clientkeys_t));
    if (!self)
        return NULL;
    self->clients_dir = clients_dir;
    self->operators_dir = operators_dir;
    const char *paths[2] = {clients_dir, operators_dir};
    zdir_t *dirs[2];
    for (int i = 0; i < 2; i++) {
        dirs[i] = paths[i] ? zdir_new (paths[i], NULL) : NULL;
        self->marks[i] = s_mark (paths[i], dirs[i]); //  before the read: a change during it shows
    }
    //  Every client is an operator only in a cluster made before operators
    //  were told apart: no operators/ at all, and none since this node
    //  started (decided at each load, so that the directory made later is
    //  seen: decided once at the start, every client stayed an operator
    //  until a restart). One that is there but cannot be read, or that is
    //  gone since it was seen, makes no client an operator.
    struct stat status;
    bool missing = operators_dir && stat (operators_dir, &status) != 0 && errno == ENOENT;
    self->legacy = !operators_dir || (missing && (!before || before->legacy));
    if (operators_dir && self->legacy)
        log_warn ("shoal node: no operators directory %s: every client is an operator (may "
                  "resolve, resend, retry or drop dead letters, control projections); make it "
                  "and put the operators' certificates there",
                  operators_dir);
    else if (operators_dir && !self->marks[1].present)
        log_warn ("shoal node: the operators directory %s %s: no client is an operator until "
                  "it can be read",
                  operators_dir, missing ? "is gone" : "cannot be read");
    clientkeys_place_t places[2] = {self->legacy ? CLIENTKEYS_OPERATOR : CLIENTKEYS_CLIENT,
                                    CLIENTKEYS_OPERATOR};
    size_t cap = 0;
    bool ok = true;
    for (int i = 0; i < 2 && ok; i++)
        if (dirs[i])
            ok = s_read (self, dirs[i], places[i], &cap);
    for (int i = 0; i < 2; i++)
        zdir_destroy (&dirs[i]);
    if (!ok) {
        clientkeys_destroy (&self);
        return NULL;
    }
    if (self->count)
        qsort (self->keys, self->count, sizeof (entry_t), s_compare);
    size_t kept = 0;
    for (size_t i = 0; i < self->count; i++)
        if (kept == 0 || memcmp (self->keys[kept - 1].text, self->keys[i].text, KEY_SIZE) != 0)
            self->keys[kept++] = self->keys[i];
    self->count = kept;
    return self;
}

bool clientkeys_stale (const clientkeys_t *self)
{
    const char *paths[2] = {self->clients_dir, self->operators_dir};
    for (int i = 0; i < 2; i++) {
        zdir_t *dir = paths[i] ? zdir_new (paths[i], NULL) : NULL;
        mark_t now = s_mark (paths[i], dir);
        zdir_destroy (&dir);
        if (!s_mark_equal (&now, &self->marks[i]))
            return true;
    }
    return false;
}

clientkeys_t *clientkeys_dup (const clientkeys_t *self)
{
    clientkeys_t *copy = malloc (sizeof (clientkeys_t));
    if (!copy)
        return NULL;
    *copy = *self;
    copy->keys = self->count ? malloc (self->count * sizeof (entry_t)) : NULL;
    if (self->count && !copy->keys) {
        free (copy);
        return NULL;
    }
    if (self->count)
        memcpy (copy->keys, self->keys, self->count * sizeof (entry_t));
    return copy;
}

static int s_compare_text (const void *text, const void *key)
{
    return memcmp (text, ((const entry_t *) key)->text, KEY_SIZE);
}

clientkeys_place_t clientkeys_place (const clientkeys_t *self, const char *public_txt)
{
    if (!self || !self->count || strnlen (public_txt, KEY_SIZE + 1) != KEY_SIZE)
        return CLIENTKEYS_NONE;
    const entry_t *key =
        bsearch (public_txt, self->keys, self->count, sizeof (entry_t), s_compare_text);
    return key ? key->place : CLIENTKEYS_NONE;
}

size_t clientkeys_count (const clientkeys_t *self)
{
    return self->count;
}

void clientkeys_destroy (clientkeys_t **self_p)
{
    clientkeys_t *self = *self_p;
    if (!self)
        return;
    free (self->keys);
    free (self);
    *self_p = NULL;
}

void clientkeys_post (clientkeys_box_t *box, clientkeys_t **keys_p)
{
    //  Release: the taker sees the set whole. Acquire: an older one given
    //  back is ours to destroy, whatever the taker did before.
    clientkeys_t *older = atomic_exchange_explicit (&box->newest, *keys_p, memory_order_acq_rel);
    *keys_p = NULL;
    clientkeys_destroy (&older);
}

clientkeys_t *clientkeys_take (clientkeys_box_t *box)
{
    if (!atomic_load_explicit (&box->newest, memory_order_relaxed))
        return NULL;
    return atomic_exchange_explicit (&box->newest, NULL, memory_order_acq_rel);
}
