/*  projector.h - the node's projection thread: it runs every projection
    registered (shoal.h, "Projections") over the node's event log, in the
    background, and answers `shoal projections` and `shoal query`.

    A czmq zactor. It binds a PULL socket at "<prefix>-proj" that takes
    two-frame messages [route, envelope] from the front: queries named
    "projections" (the list), "projection_control" ({action, name,
    version, position}: pause, resume, rebuild, skip, switch, drop) and
    "projection_rows" ({name, version, key | prefix, limit}); it answers
    each by pushing [route, reply] to "<prefix>-front", as workers do.
    Reactions' commands go through the front as a client's would, over
    its inproc endpoint "<prefix>-clients" (so that they reach the actor
    wherever it lives in a cluster).

    The commit path never waits for it: it reads the log up to
    journal_log_end and follows it by looking again every
    PROJECTOR_IDLE_MS when it has nothing to do.
*/
#ifndef PROJECTOR_H_INCLUDED
#define PROJECTOR_H_INCLUDED

#include <czmq.h>
#include <pthread.h>

#include "journal.h"
#include "registry.h"
#include "turnfile.h"
#include "worker.h"

#define PROJECTOR_IDLE_MS 20

//  For the metrics: one gauge per build, written by the projection thread
//  about once a second and read by any thread under lock.
#define PROJECTOR_GAUGES_MAX 64
typedef struct {
    char name[SHOAL_TYPE_MAX + 1];
    uint32_t version;
    uint32_t build;
    uint64_t position; //  its checkpoint
    uint64_t lag;      //  events behind the log
    uint64_t applied;
    uint64_t batches; //  committed since the node started
    bool failed;
    bool paused; //  by an operator (shoal projections pause)
    bool served;
} projector_gauge_t;

typedef struct {
    pthread_mutex_t lock;
    size_t count;
    projector_gauge_t items[PROJECTOR_GAUGES_MAX];
} projector_gauges_t;

typedef struct _projector_t projector_t;

typedef struct {
    journal_t *journal;
    const shoal_registry_t *registry;
    const char *prefix;          //  the node's inproc endpoint prefix
    projector_gauges_t *gauges;  //  for the metrics (may be NULL)
    const char *data_dir;        //  where the apply in progress is kept (applyfile.h)
    int64_t linger_ms;           //  a build that follows the log takes a batch at most
                                 //  this often (0: as soon as events come), unless
                                 //  PROJECTOR_LINGER_EVENTS are waiting
    worker_outbound_t *outbound; //  what it answers counts there, as a worker's
                                 //  sends to the front do (worker.h; NULL: not counted)
    const uint8_t *id;           //  its client socket's routing id at the front
                                 //  (worker_config_t.projector_id)
    turnfile_busy_t *busy;       //  the apply in progress, for the watchdog (may be NULL)
} projector_config_t;

//  Starts the projection thread (config must outlive it). Returns NULL if
//  it could not bind or read the store; the reason is logged.
zactor_t *projector_new (const projector_config_t *config);

#endif
