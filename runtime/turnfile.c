/*  turnfile.c - the turn in progress on each worker, in a shared mapping.
    See turnfile.h.

    Layout of a file (TURNFILE_SIZE bytes): a header (turn_header_t) at 0,
    the envelope at FRAME_AT. The header's running word is written last by
    a turn's start (release) and cleared by its end, so a reader that sees
    it set sees the rest.
*/
#include "turnfile.h"
#include "log.h"
#include "worker.h"
#include "threadname.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define TURNFILE_MAGIC "shoalTF1"
#define FRAME_AT 4096
#define TURNFILE_SIZE (FRAME_AT + TURNFILE_FRAME_MAX)

typedef struct {
    char magic[8];
    atomic_uint running;           //  1 while a turn runs
    uint32_t frame_size;           //  bytes at FRAME_AT, 0 if not kept
    int64_t started;               //  wall clock ms
    uint8_t kind;                  //  envelope_kind_t
    uint8_t key[ENVELOPE_ID_SIZE]; //  the message's key
    char to[SHOAL_ADDRESS_MAX + 1];
    char name[SHOAL_NAME_MAX + 1];
} turn_header_t;

struct _turnfile_t {
    uint8_t *map;             //  TURNFILE_SIZE bytes, shared with the file
    atomic_int_fast64_t mono; //  monotonic ms of the running turn's start, 0 if none
};

//  Opens (creating) path and maps it. NULL with errno set on failure.
static uint8_t *s_map (const char *path)
{
    //  Not through a link, and a regular file only: a turn-* entry that
    //  is a link to another file of the node's user, or a device, is not
    //  resized nor mapped.
    int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
    if (fd == -1)
        return NULL;
    struct stat status;
    if (fstat (fd, &status) != 0 || !S_ISREG (status.st_mode)) {
        close (fd);
        errno = EINVAL;
        return NULL;
    }
    uint8_t *map = NULL;
    //  Every block allocated now: a mapping's page first written on a full
    //  disk (a tmpfs, or a sparse file's hole on ext4) raises SIGBUS, and
    //  the node died at its first turn once the disk had filled before it
    //  (a review's find). Refused here instead, said at the start.
    int allocated =
        ftruncate (fd, TURNFILE_SIZE) == 0 ? posix_fallocate (fd, 0, TURNFILE_SIZE) : -1;
    if (allocated > 0)
        errno = allocated;
    if (allocated == 0) {
        map = mmap (NULL, TURNFILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (map == MAP_FAILED)
            map = NULL;
    }
    int saved = errno;
    close (fd); //  the mapping keeps the file
    errno = saved;
    return map;
}

turnfile_t **turnfile_open_all (const char *dir, int count, char **error)
{
    turnfile_t **files = calloc ((size_t) count, sizeof (turnfile_t *));
    if (!files) {
        *error = strdup ("out of memory");
        return NULL;
    }
    for (int i = 0; i < count; i++) {
        char *path = zsys_sprintf ("%s/turn-%d", dir, i);
        files[i] = calloc (1, sizeof (turnfile_t));
        uint8_t *map = path && files[i] ? s_map (path) : NULL;
        if (!map) {
            *error = zsys_sprintf ("cannot map %s: %s", path ? path : dir, strerror (errno));
            zstr_free (&path);
            turnfile_close_all (&files, count);
            return NULL;
        }
        zstr_free (&path);
        files[i]->map = map;
        turn_header_t *header = (turn_header_t *) map;
        memcpy (header->magic, TURNFILE_MAGIC, sizeof header->magic);
        atomic_store (&header->running, 0);
    }
    return files;
}

void turnfile_close_all (turnfile_t ***files_p, int count)
{
    turnfile_t **files = *files_p;
    if (!files)
        return;
    for (int i = 0; i < count; i++)
        if (files[i]) {
            if (files[i]->map)
                munmap (files[i]->map, TURNFILE_SIZE);
            free (files[i]);
        }
    free (files);
    *files_p = NULL;
}

//  The key that names a message across its re-sends: a command's or
//  timer's id; a reply's or stall notice's correlation (the command's id)
//  with every byte turned by a constant of the kind's own. A notice and
//  the reply of one command both go to its sender, as does the command
//  itself when an actor sends one to itself, and a turn that survives
//  sets its record's crash count back to 0 (deadletter.c): under one key
//  a reply that crashed the node at each start was never set aside, as
//  the notice (or the command's duplicate) that ran before it at each
//  start survived.
void turnfile_key (const envelope_t *envelope, uint8_t key[ENVELOPE_ID_SIZE])
{
    if (envelope->kind == ENVELOPE_STALLED || envelope->kind == ENVELOPE_REPLY) {
        static const uint8_t notice[ENVELOPE_ID_SIZE] = "stall notice key",
                             reply[ENVELOPE_ID_SIZE] = "reply record key";
        const uint8_t *turn = envelope->kind == ENVELOPE_REPLY ? reply : notice;
        for (size_t i = 0; i < ENVELOPE_ID_SIZE; i++)
            key[i] = envelope->correlation[i] ^ turn[i];
    } else if (envelope->kind == ENVELOPE_QUERY) {
        //  Every get of an address is one message: its crashes add up.
        size_t len = strlen (envelope->to);
        uint64_t halves[2] = {
            journal_request_digest (envelope->name, (const uint8_t *) envelope->to, len),
            journal_request_digest ("$query", (const uint8_t *) envelope->to, len)};
        memcpy (key, halves, ENVELOPE_ID_SIZE);
    } else
        memcpy (key, envelope->id, ENVELOPE_ID_SIZE);
}

void turnfile_begin (turnfile_t *self, const envelope_t *envelope, const uint8_t *frame,
                     size_t size, int64_t now, int64_t mono)
{
    if (!self)
        return;
    turn_header_t *header = (turn_header_t *) self->map;
    header->kind = envelope->kind;
    turnfile_key (envelope, header->key);
    strcpy (header->to, envelope->to);
    strcpy (header->name, envelope->name);
    header->started = now;
    if (frame && size <= TURNFILE_FRAME_MAX) {
        memcpy (self->map + FRAME_AT, frame, size);
        header->frame_size = (uint32_t) size;
    } else
        header->frame_size = 0;
    atomic_store_explicit (&header->running, 1, memory_order_release);
    atomic_store_explicit (&self->mono, mono, memory_order_release);
}

void turnfile_end (turnfile_t *self)
{
    if (!self)
        return;
    atomic_store_explicit (&self->mono, 0, memory_order_release);
    atomic_store_explicit (&((turn_header_t *) self->map)->running, 0, memory_order_release);
}

int64_t turnfile_running (turnfile_t *self, char *to, char *name)
{
    int64_t started = atomic_load_explicit (&self->mono, memory_order_acquire);
    if (!started)
        return 0;
    const turn_header_t *header = (const turn_header_t *) self->map;
    //  A copy that races the turn's end is checked below and dropped.
    memcpy (to, header->to, sizeof header->to);
    memcpy (name, header->name, sizeof header->name);
    to[SHOAL_ADDRESS_MAX] = 0;
    name[SHOAL_NAME_MAX] = 0;
    return atomic_load_explicit (&self->mono, memory_order_acquire) == started ? started : 0;
}

//  Whether a running turn's address or command name is not one (a file
//  damaged, or written by something else than a node): said, and not
//  counted, so that no dead letter is journaled for a non-address, and no
//  raw bytes reach a log or a table.
static bool s_damaged (const char *path, const char *to, const char *name)
{
    if (shoal_address_check (to, strlen (to)) == 0 && shoal_name_check (name, strlen (name)) == 0)
        return false;
    log_warn ("the turn file %s is damaged: its turn's address or command name is not one; "
              "not counted as a crash",
              path);
    return true;
}

//  Reads one turn file; calls fn if its turn was running, then clears it.
static int s_recover_file (const char *path, turnfile_crash_fn *fn, void *arg)
{
    uint8_t *map = s_map (path);
    if (!map) {
        log_warn ("cannot read the turn file %s: %s", path, strerror (errno));
        return 0;
    }
    turn_header_t *header = (turn_header_t *) map;
    int found = 0;
    if (memcmp (header->magic, TURNFILE_MAGIC, sizeof header->magic) == 0 &&
        atomic_load (&header->running) == 1 && header->frame_size <= TURNFILE_FRAME_MAX &&
        memchr (header->to, 0, sizeof header->to) &&
        memchr (header->name, 0, sizeof header->name) &&
        !s_damaged (path, header->to, header->name)) {
        turnfile_turn_t turn = {header->kind,
                                {0},
                                "",
                                "",
                                header->started,
                                header->frame_size ? map + FRAME_AT : NULL,
                                header->frame_size};
        memcpy (turn.key, header->key, ENVELOPE_ID_SIZE);
        strcpy (turn.to, header->to);
        strcpy (turn.name, header->name);
        //  The header's page and the frame's are written back apart: after
        //  a machine crash the frame may be another turn's. Kept only if it
        //  is this turn's message (never retried as the wrong one).
        envelope_t envelope;
        uint8_t key[ENVELOPE_ID_SIZE];
        bool decoded = turn.frame && envelope_decode (&envelope, turn.frame, turn.frame_size) == 0;
        if (decoded)
            turnfile_key (&envelope, key);
        if (turn.frame && (!decoded || memcmp (key, turn.key, ENVELOPE_ID_SIZE) != 0 ||
                           strcmp (envelope.to, turn.to) != 0 || envelope.kind != turn.kind)) {
            log_warn ("the turn file %s holds another message than its turn's (%s on %s): "
                      "not kept",
                      path, turn.name, turn.to);
            turn.frame = NULL;
            turn.frame_size = 0;
        }
        fn (arg, &turn);
        found = 1;
    }
    atomic_store (&header->running, 0);
    //  Cleared on disk before the node goes on, so that a power cut does
    //  not bring the mark back (deadletter_crashed also knows a turn it
    //  counted already, by its start)
    if (msync (map, FRAME_AT, MS_SYNC) != 0)
        log_warn ("cannot sync the turn file %s: %s", path, strerror (errno));
    munmap (map, TURNFILE_SIZE);
    return found;
}

int turnfile_recover (const char *dir, turnfile_crash_fn *fn, void *arg)
{
    DIR *handle = opendir (dir);
    if (!handle)
        return 0;
    int found = 0;
    struct dirent *entry;
    while ((entry = readdir (handle))) {
        if (strncmp (entry->d_name, "turn-", 5) != 0)
            continue;
        char *path = zsys_sprintf ("%s/%s", dir, entry->d_name);
        if (path)
            found += s_recover_file (path, fn, arg);
        zstr_free (&path);
    }
    closedir (handle);
    return found;
}

//  --------------------------------------------------------------------------
//  The projection thread's batch

void turnfile_busy_name (turnfile_busy_t *busy, const char *what)
{
    if (busy)
        snprintf (busy->what, sizeof busy->what, "%s", what);
}

void turnfile_busy_at (turnfile_busy_t *busy, uint64_t position, int64_t now)
{
    if (!busy)
        return;
    atomic_store_explicit (&busy->position, position, memory_order_relaxed);
    atomic_store_explicit (&busy->started, now > 0 ? now : 1, memory_order_release);
}

void turnfile_busy_end (turnfile_busy_t *busy)
{
    if (busy)
        atomic_store_explicit (&busy->started, 0, memory_order_release);
}

int64_t turnfile_busy_running (turnfile_busy_t *busy, char *what, uint64_t *position)
{
    int64_t started = busy ? atomic_load_explicit (&busy->started, memory_order_acquire) : 0;
    if (!started)
        return 0;
    memcpy (what, busy->what, sizeof busy->what);
    what[sizeof busy->what - 1] = 0;
    *position = atomic_load_explicit (&busy->position, memory_order_relaxed);
    //  An apply that began meanwhile may have torn the copy: taken as none.
    atomic_thread_fence (memory_order_acquire);
    return atomic_load_explicit (&busy->started, memory_order_relaxed) == started ? started : 0;
}

//  --------------------------------------------------------------------------
//  The watchdog

//  Looks at the projection thread's apply once; *reported is the start of
//  the one already reported, 0 if none.
static void s_watch_projection (const turnfile_watch_t *watch, int64_t *reported)
{
    char what[sizeof watch->projection->what];
    uint64_t position;
    int64_t started = turnfile_busy_running (watch->projection, what, &position);
    if (*reported && started != *reported) {
        log_info ("projection thread: the apply past --turn-timeout ended");
        *reported = 0;
    }
    int64_t now = zclock_mono ();
    if (!started || *reported || now - started <= watch->timeout_ms)
        return;
    log_warn ("projection thread: %s has run for %lld ms, at the event at position %" PRIu64
              ", past --turn-timeout (%lld ms): an apply that does not return (its module's); "
              "every projection, `shoal projections` and `shoal query` wait",
              what, (long long) (now - started), position, (long long) watch->timeout_ms);
    *reported = started;
}

//  Looks at each worker's turn once; reported[w] is the start of the
//  turn of worker w already reported, 0 if none.
static void s_watch (const turnfile_watch_t *watch, int64_t *reported)
{
    const worker_config_t *config = watch->config;
    int64_t now = zclock_mono ();
    for (int w = 0; w < config->workers; w++) {
        char to[SHOAL_ADDRESS_MAX + 1], name[SHOAL_NAME_MAX + 1];
        int64_t started = turnfile_running (config->turn_files[w], to, name);
        if (reported[w] && started != reported[w]) {
            log_info ("worker %d: the turn past --turn-timeout ended", w);
            config->stats[w].overdue_now = 0;
            reported[w] = 0;
        }
        if (!started || reported[w] || now - started <= watch->timeout_ms)
            continue;
        log_warn ("worker %d: %s on %s has run for %lld ms, past --turn-timeout (%lld ms); "
                  "everything else of worker %d waits",
                  w, name, to, (long long) (now - started), (long long) watch->timeout_ms, w);
        config->stats[w].overdue_turns++;
        config->stats[w].overdue_now = 1;
        reported[w] = started;
    }
}

void turnfile_watchdog (zsock_t *pipe, void *arg)
{
    thread_name ("shoal-watchdog");
    const turnfile_watch_t *watch = arg;
    zsock_signal (pipe, 0);
    int64_t *reported = calloc ((size_t) watch->config->workers, sizeof (int64_t));
    int64_t projection_reported = 0;
    zpoller_t *poller = zpoller_new (pipe, NULL);
    int interval = (int) (watch->timeout_ms / 10 > 250 ? 250 : watch->timeout_ms / 10);
    while (reported && poller && watch->config->turn_files) {
        void *which = zpoller_wait (poller, interval < 1 ? 1 : interval);
        if (which == pipe) {
            char *command = zstr_recv (pipe);
            bool term = !command || streq (command, "$TERM");
            zstr_free (&command);
            if (term)
                break;
        } else if (zpoller_terminated (poller))
            break;
        s_watch (watch, reported);
        if (watch->projection)
            s_watch_projection (watch, &projection_reported);
    }
    //  Without files or memory it has nothing to do but wait for $TERM.
    if (!reported || !watch->config->turn_files) {
        char *command = zstr_recv (pipe);
        zstr_free (&command);
    }
    zpoller_destroy (&poller);
    free (reported);
}
