/*  turnfile.h - the turn in progress on each worker, kept where a crash of
    the process cannot lose it, so that the next start knows which message
    was running when the node died (DESIGN.md, "Bad input and faults").

    One small file per worker in the data directory, "turn-<index>",
    mapped shared (mmap MAP_SHARED). A turn's start writes the message's
    receiver, key, kind, name and (up to TURNFILE_FRAME_MAX bytes) its
    encoded envelope into the mapping, then marks it running; its end
    clears the mark. No system call and no fsync per message: the pages
    belong to the kernel's page cache, which a process crash (SIGSEGV,
    abort, SIGKILL) leaves intact, and which the next open reads back. A
    machine crash may lose the mark; then the message is simply not
    counted, which only delays its setting aside.

    At start, before the workers, turnfile_recover reads every turn file
    of the directory (whatever the worker count was) and hands each
    running turn to deadletter_crashed.

    Threads: the node opens and closes the set; worker i alone begins and
    ends turns on file i; the watchdog (turnfile_watch) reads any file's
    start time (an atomic) and copies its address and name, checking the
    start time again after the copy so that a torn copy is dropped.
*/
#ifndef TURNFILE_H_INCLUDED
#define TURNFILE_H_INCLUDED

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <czmq.h>

#include "envelope.h"
#include "journal.h"
#include "shoal_base.h"

#define TURNFILE_FRAME_MAX (60 * 1024) //  envelopes past this are not kept (retry by re-send)

typedef struct _turnfile_t turnfile_t;

//  What a turn file says about a turn: its message.
typedef struct {
    uint8_t kind;                   //  envelope_kind_t
    uint8_t key[ENVELOPE_ID_SIZE];  //  deadletter_key of the message
    char to[SHOAL_ADDRESS_MAX + 1]; //  its receiver
    char name[SHOAL_NAME_MAX + 1];  //  its command, reply or timer name
    int64_t started;                //  wall clock ms
    const uint8_t *frame;           //  its encoded envelope, or NULL if not kept
    size_t frame_size;
} turnfile_turn_t;

//  Opens (creating) the turn files of count workers in dir. Returns an
//  array of count, or NULL with *error set (free() it).
turnfile_t **turnfile_open_all (const char *dir, int count, char **error);
//  Unmaps and closes them; sets *files_p to NULL. Safe to call twice.
void turnfile_close_all (turnfile_t ***files_p, int count);

//  The key a turn of envelope is counted under (deadletter.h): a
//  command's or timer's id, a reply's or stall notice's correlation
//  turned by a constant of each kind's own (no two share a record); for
//  a query (a get, which runs the type's apply and view), a digest of its
//  name and address, so that every get of one address is one message.
void turnfile_key (const envelope_t *envelope, uint8_t key[ENVELOPE_ID_SIZE]);

//  Marks a turn of envelope (frame: its encoding, borrowed) as running,
//  since now (ms since the epoch) and mono (zclock_mono's clock, ms).
//  self may be NULL (a worker without files, in tests). Can't fail.
void turnfile_begin (turnfile_t *self, const envelope_t *envelope, const uint8_t *frame,
                     size_t size, int64_t now, int64_t mono);
//  Marks the turn as ended. self may be NULL.
void turnfile_end (turnfile_t *self);

//  Called for each turn that was running when the node died.
typedef void (turnfile_crash_fn) (void *arg, const turnfile_turn_t *turn);

//  Reads every "turn-*" file of dir, calls fn for each turn it finds
//  running, then clears it. Returns how many there were. A file that
//  cannot be read is skipped with a warning.
int turnfile_recover (const char *dir, turnfile_crash_fn *fn, void *arg);

//  The projection thread's apply in progress (a module's apply or
//  batch_end), which the watchdog looks at too: started (the monotonic
//  clock's ms, 0 when none) is stored last, after position, the event it
//  applies; what ("NAME@VERSION") is the batch's, written between
//  applies. Written by the projection thread alone.
typedef struct {
    _Atomic int64_t started;
    _Atomic uint64_t position;
    char what[SHOAL_TYPE_MAX + 16];
} turnfile_busy_t;

//  The watchdog, a czmq zactor (arg: a turnfile_watch_t that outlives
//  it): every tenth of the timeout (at most 250 ms) it looks at each
//  worker's running turn; one past timeout_ms is logged once with its
//  address and counted (overdue_turns; overdue_now while it runs); and
//  at the projection thread's apply, logged once too.
typedef struct {
    const struct worker_config_s *config; //  the workers' stats and turn files
    int64_t timeout_ms;                   //  --turn-timeout
    turnfile_busy_t *projection;          //  the projection thread's (NULL: none)
} turnfile_watch_t;
void turnfile_watchdog (zsock_t *pipe, void *arg);

//  The projection thread's batch is of build what ("NAME@VERSION"); an
//  apply of the event at position begins, now (the monotonic clock's ms:
//  the thread's coarse one will do); it ends. busy may be NULL.
void turnfile_busy_name (turnfile_busy_t *busy, const char *what);
void turnfile_busy_at (turnfile_busy_t *busy, uint64_t position, int64_t now);
void turnfile_busy_end (turnfile_busy_t *busy);
//  The monotonic ms at which busy's apply began (0 if none) and, when one
//  runs, a copy of its what (sizeof busy->what bytes) and position.
int64_t turnfile_busy_running (turnfile_busy_t *busy, char *what, uint64_t *position);

//  For the watchdog: the monotonic ms at which the running turn of self
//  started (0 if none) and, when running, a copy of its receiver and name.
int64_t turnfile_running (turnfile_t *self, char *to, char *name);

#endif
