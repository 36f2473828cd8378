/*  clientkeys.c - the keys of a node's clients/ and operators/, read at
    one moment. See clientkeys.h.

    A set is a sorted array of keys, looked up by binary search; it keeps
    a mark of each directory as it was before it was read (its files'
    names, inodes, sizes, and change and modification times to the
    nanosecond, summed as hashes; the directory's own times), which
    clientkeys_stale compares with the directory now. Only the files
    named *.cert right in the directory are certificates: one moved
    aside (app.cert.disabled, or into a subdirectory, as a zcertstore
    would still read) is taken back, and said. A certificate is read
    through a descriptor opened without blocking and checked to be a
    regular file: an entry swapped for a FIFO after the walk's stat is
    skipped, not waited on (fopen would hang the authenticator, and
    every handshake with it).
    Any thread; a set belongs to one at a time.
*/
#include "clientkeys.h"
#include "log.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_SIZE 40 //  a public key in Z85
#define CERT_SUFFIX ".cert"
#define CERT_BYTES_MAX (64 * 1024) //  a certificate is a few hundred bytes

typedef struct {
    char text[KEY_SIZE + 1];
    char name[CLIENTKEYS_NAME_MAX + 1]; //  its file's, without .cert
    clientkeys_place_t place;
} entry_t;

//  A directory as it was: what clientkeys_stale compares. A file written
//  again in place, whatever its size and its mtime (cp -p, touch -r),
//  has a new ctime; one put in by a rename, a new inode or ctime.
typedef struct {
    bool present;
    size_t entries;               //  every entry but . and ..
    uint64_t sum;                 //  of each entry's hash (s_entry_hash): order-free
    struct timespec dir_times[2]; //  the directory's own mtime and ctime
} mark_t;

struct _clientkeys_t {
    const char *clients_dir;   //  borrowed
    const char *operators_dir; //  borrowed; NULL: every client is an operator
    bool legacy;               //  no operators/ since the start: every client is one
    mark_t marks[2];           //  of each, before it was read
    entry_t *keys;             //  sorted by text, each key once
    size_t count;
};

static uint64_t s_fnv (uint64_t hash, const void *data, size_t size)
{
    const unsigned char *bytes = data;
    for (size_t i = 0; i < size; i++)
        hash = (hash ^ bytes[i]) * 0x100000001b3ULL;
    return hash;
}

//  An entry's name and what stat says of it (following a link), hashed.
static uint64_t s_entry_hash (const char *name, const struct stat *status)
{
    uint64_t hash = s_fnv (0xcbf29ce484222325ULL, name, strlen (name) + 1);
    const uint64_t fields[] = {
        (uint64_t) status->st_ino,          (uint64_t) status->st_size,
        (uint64_t) status->st_mode,         (uint64_t) status->st_mtim.tv_sec,
        (uint64_t) status->st_mtim.tv_nsec, (uint64_t) status->st_ctim.tv_sec,
        (uint64_t) status->st_ctim.tv_nsec};
    return s_fnv (hash, fields, sizeof fields);
}

//  True if name is a certificate's: NAME.cert, not hidden.
static bool s_cert_name (const char *name)
{
    size_t size = strlen (name), suffix = strlen (CERT_SUFFIX);
    return name[0] != '.' && size > suffix && streq (name + size - suffix, CERT_SUFFIX);
}

//  Called for each entry of a directory but . and ..: its path, name and
//  stat (lstat's when stat fails: a link to nothing).
typedef void (s_entry_fn) (void *arg, const char *path, const char *name,
                           const struct stat *status);

//  The mark of the directory at path, calling fn (if not NULL) for each
//  entry. Not there or unreadable: not present.
static mark_t s_walk (const char *path, s_entry_fn *fn, void *arg)
{
    mark_t mark = {0};
    struct stat status;
    DIR *dir = path && stat (path, &status) == 0 ? opendir (path) : NULL;
    if (!dir)
        return mark;
    mark.present = true;
    mark.dir_times[0] = status.st_mtim;
    mark.dir_times[1] = status.st_ctim;
    for (struct dirent *entry = readdir (dir); entry; entry = readdir (dir)) {
        if (streq (entry->d_name, ".") || streq (entry->d_name, ".."))
            continue;
        char file[PATH_MAX];
        snprintf (file, sizeof file, "%s/%s", path, entry->d_name);
        struct stat file_status = {0};
        if (stat (file, &file_status) != 0)
            lstat (file, &file_status);
        mark.entries++;
        mark.sum += s_entry_hash (entry->d_name, &file_status);
        if (fn)
            fn (arg, file, entry->d_name, &file_status);
    }
    closedir (dir);
    return mark;
}

static bool s_time_equal (struct timespec a, struct timespec b)
{
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

static bool s_mark_equal (const mark_t *a, const mark_t *b)
{
    return a->present == b->present && a->entries == b->entries && a->sum == b->sum &&
           s_time_equal (a->dir_times[0], b->dir_times[0]) &&
           s_time_equal (a->dir_times[1], b->dir_times[1]);
}

//  Reads the public key of the certificate at path into text (Z85, as
//  zcert_public_txt writes it). False if path is not a regular file (a
//  FIFO put there since the walk's stat is not waited on), cannot be
//  read, or holds no valid curve/public-key.
static bool s_load_key (const char *path, char text[KEY_SIZE + 1])
{
    int fd = open (path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct stat status;
    char *bytes = NULL;
    ssize_t size = -1;
    if (fstat (fd, &status) == 0 && S_ISREG (status.st_mode) && status.st_size < CERT_BYTES_MAX &&
        (bytes = malloc (CERT_BYTES_MAX + 1))) {
        ssize_t got = 0;
        size = 0;
        while (size < CERT_BYTES_MAX &&
               ((got = read (fd, bytes + size, (size_t) (CERT_BYTES_MAX - size))) > 0 ||
                (got < 0 && errno == EINTR)))
            size += got > 0 ? got : 0;
        if (got < 0)
            size = -1;
    }
    close (fd);
    bool ok = false;
    if (size >= 0) {
        bytes[size] = 0;
        zconfig_t *root = zconfig_str_load (bytes);
        const char *found = root ? zconfig_get (root, "/curve/public-key", NULL) : NULL;
        uint8_t key[32];
        if (found && strlen (found) == KEY_SIZE && zmq_z85_decode (key, found)) {
            zmq_z85_encode (text, key, sizeof key); //  the form a User-Id has
            ok = true;
        }
        zconfig_destroy (&root);
    }
    free (bytes);
    return ok;
}

//  The name a certificate is known by in the records of operators' acts:
//  its file's name without .cert, cut to CLIENTKEYS_NAME_MAX bytes, each
//  byte but printable ASCII written '?' (a file name may hold any).
static void s_name_of (char name[CLIENTKEYS_NAME_MAX + 1], const char *file)
{
    size_t size = strlen (file) - strlen (CERT_SUFFIX);
    if (size > CLIENTKEYS_NAME_MAX)
        size = CLIENTKEYS_NAME_MAX;
    for (size_t i = 0; i < size; i++)
        name[i] = file[i] > ' ' && file[i] < 0x7f ? file[i] : '?';
    name[size] = 0;
}

typedef struct {
    clientkeys_t *self;
    clientkeys_place_t place;
    size_t *cap;
    bool ok; //  false: out of memory
} read_t;

//  Adds the key of the certificate at path, if it is one (s_walk's fn).
static void s_read_entry (void *arg, const char *path, const char *name, const struct stat *status)
{
    read_t *read = arg;
    clientkeys_t *self = read->self;
    if (!read->ok || name[0] == '.')
        return;
    if (!s_cert_name (name) || !S_ISREG (status->st_mode)) {
        //  Said at each read of the directory (at a change): a
        //  certificate moved aside lets its client in no more.
        log_warn ("%s is not read: a node takes only the certificates named *" CERT_SUFFIX
                  " right in its clients/ and operators/ (a file, not a directory)",
                  path);
        return;
    }
    char text[KEY_SIZE + 1];
    if (!s_load_key (path, text)) {
        //  Skipped, as zcertstore skips it; said, at each read of the
        //  directory: a damaged certificate lets no client in.
        log_warn ("%s is not a certificate (a ZPL file with a curve public-key): skipped; "
                  "a client whose certificate it was is refused",
                  path);
        return;
    }
    if (self->count == *read->cap) {
        size_t grown = *read->cap ? 2 * *read->cap : 16;
        entry_t *keys = realloc (self->keys, grown * sizeof (entry_t));
        if (keys) {
            self->keys = keys;
            *read->cap = grown;
        }
    }
    if (self->count < *read->cap) {
        entry_t *key = &self->keys[self->count++];
        memcpy (key->text, text, sizeof key->text);
        s_name_of (key->name, name);
        key->place = read->place;
    } else
        read->ok = false;
}

//  By text, and an operator's place before a client's: the first of a
//  run of equal keys is the one kept.
static int s_compare (const void *a, const void *b)
{
    const entry_t *x = a, *y = b;
    int order = memcmp (x->text, y->text, KEY_SIZE);
    //  Of one key in two files of a place, the first name: the same one
    //  at every read, whatever order the directory lists them in.
    if (!order)
        order = (int) y->place - (int) x->place;
    return order ? order : strcmp (x->name, y->name);
}

clientkeys_t *clientkeys_load (const char *clients_dir, const char *operators_dir,
                               const clientkeys_t *before)
{
    clientkeys_t *self = calloc (1, sizeof (clientkeys_t));
    if (!self)
        return NULL;
    self->clients_dir = clients_dir;
    self->operators_dir = operators_dir;
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
    else if (operators_dir && (missing || stat (operators_dir, &status) != 0 ||
                               access (operators_dir, R_OK | X_OK) != 0))
        log_warn ("shoal node: the operators directory %s %s: no client is an operator until "
                  "it can be read",
                  operators_dir, missing ? "is gone" : "cannot be read");
    clientkeys_place_t places[2] = {self->legacy ? CLIENTKEYS_OPERATOR : CLIENTKEYS_CLIENT,
                                    CLIENTKEYS_OPERATOR};
    //  Each mark is of the directory as the read found it: a change
    //  after an entry was read changes its ctime, so the next look sees
    //  it.
    const char *paths[2] = {clients_dir, operators_dir};
    size_t cap = 0;
    read_t read = {.self = self, .cap = &cap, .ok = true};
    for (int i = 0; i < 2 && read.ok; i++) {
        read.place = places[i];
        self->marks[i] = s_walk (paths[i], s_read_entry, &read);
    }
    if (!read.ok) {
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
        mark_t now = s_walk (paths[i], NULL, NULL);
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

//  The entry of the key public_txt in self, or NULL. O(log n).
static const entry_t *s_find (const clientkeys_t *self, const char *public_txt)
{
    if (!self || !self->count || strnlen (public_txt, KEY_SIZE + 1) != KEY_SIZE)
        return NULL;
    return bsearch (public_txt, self->keys, self->count, sizeof (entry_t), s_compare_text);
}

clientkeys_place_t clientkeys_place (const clientkeys_t *self, const char *public_txt)
{
    const entry_t *key = s_find (self, public_txt);
    return key ? key->place : CLIENTKEYS_NONE;
}

const char *clientkeys_name (const clientkeys_t *self, const char *public_txt)
{
    const entry_t *key = s_find (self, public_txt);
    return key ? key->name : NULL;
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
