/*  actors.h - a worker's table of active actors: activation (the latest
    snapshot, then the events after it replayed through the type's apply),
    lookup, drop and passivation.

    The table (common/ptable.h: open addressing, 8 bytes a slot, no
    allocation per actor) maps an address to its actor_t, which holds
    the address, and owns it: dropping an
    actor from the table calls its type's fini and frees it. An actor is
    dropped when its state may no longer match its stream (its apply
    refused its own event, or a batch was aborted) and is reloaded from the
    journal on its next message.

    The table holds at most the worker's max_actors: activating one more
    passivates the least recently used first, unless it has events staged
    in the batch being built (then the table grows past the cap until the
    commit: the batch's actors are never dropped before it). The actors
    are also kept in a list, most recently used first, so that eviction
    and passivation take O(1) per actor dropped. Internal to the worker:
    the worker thread owns the table and every actor in it.
*/
#ifndef ACTORS_H_INCLUDED
#define ACTORS_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>

#include "journal.h"
#include "ptable.h"
#include "registry.h"

typedef struct _worker_t worker_t;

//  An active actor. Owned by the worker's table.
typedef struct _actor_t actor_t;
struct _actor_t {
    char *address;            //  key in the table: after the state, in the same allocation
    const shoal_type_t *type; //  its type
    int64_t version;          //  events in its stream, staged included
    int64_t snapshot_seq;     //  seq of its latest snapshot, or of the latest one its
                              //  module wrote too big or wrongly (stage.c)
    int64_t last_used;        //  monotonic ms (worker_mono), for passivation
    uint32_t staged_in;       //  the batch number its last events were staged in, its
                              //  low 32 bits (actor_staged_in)
    uint32_t creator;         //  the hash of the id of the command that created its
                              //  stream (inbox_creator_hash), 0: none
    actor_t *newer, *older;   //  its neighbours in the table's use order
    max_align_t state[];      //  type->state_size bytes
};

//  True if actor's last events were staged in batch (the worker's batch
//  number). Compares the low 32 bits, so that actor_t keeps 64 bytes: an
//  actor staged 2^32 batches ago, or never, may be taken for one of this
//  batch, which only keeps it in memory until the commit (s_evict) or
//  aborts the batch where dropping the actor would have done (turn.c):
//  both safe. Can't fail.
static inline bool actor_staged_in (const actor_t *actor, uint64_t batch)
{
    return actor->staged_in == (uint32_t) batch;
}

//  The table's actors in the order of their use: first the most recent.
typedef struct {
    actor_t *newest;
    actor_t *oldest;
} actor_lru_t;

//  An empty table, which owns the actors put in it. Can't fail (allocates
//  nothing until the first actor).
void actor_table_init (ptable_t *actors);

//  Frees every actor of the table and the table's slots; it is empty
//  again. Safe twice.
void actor_table_close (ptable_t *actors);

//  How many actors are active. Can't fail.
size_t actor_table_size (const ptable_t *actors);

//  Returns the active actor at address, activating it if needed, or NULL
//  with *rc: SHOAL_ENOTFOUND for an unknown type, else a load error. The
//  actor is borrowed until it is dropped (by actor_table_drop or
//  actor_table_passivate, or an aborted batch).
actor_t *actor_table_get (worker_t *self, const char *address, int *rc);

//  Why the load of the actor at address failed with rc (from
//  actor_table_get or its kin), for a client, when its type's apply
//  refused one of its stored events: which one and what to do. NULL for
//  any other failure.
const char *actor_load_refused (worker_t *self, const char *address, int rc);

//  For a read: the active actor at address (*transient false), else, when
//  its stream has no event or the actor left memory on its own ask
//  (actor_table_passivate_asked) since the node started, among the last
//  100,000 to 200,000 of its worker to ask (a Bloom filter: now and then
//  another one too), one loaded for the read (*transient true) that is not
//  put in the table: the caller frees it with actor_free. Otherwise as
//  actor_table_get. So that reading an address that never existed, or a
//  saga that finished recently, keeps nothing in memory.
actor_t *actor_table_read (worker_t *self, const char *address, bool *transient, int *rc);

//  As actor_table_get, but an inactive actor that left memory on its own
//  ask (or, now and then, another: see actor_table_read) is loaded for the
//  caller only (*transient true; free it with actor_free), not put back
//  in the table: for the inbox's look at a finished saga's first event
//  when a client sends its Start again.
actor_t *actor_table_get_unless_asked (worker_t *self, const char *address, bool *transient,
                                       int *rc);

//  Frees an actor that is in no table (actor_table_read's transient one).
void actor_free (actor_t **actor_p);

//  Drops the actor at address, if active; it is reloaded when next used.
void actor_table_drop (worker_t *self, const char *address);

//  Drops every actor, as after an aborted batch.
void actor_table_purge (worker_t *self);

//  Notes that actor asked to leave memory once the batch being built
//  commits (shoal_ctx_passivate). Returns 0, or SHOAL_ENOMEM: then it
//  stays until it is idle, as if it had not asked.
int actor_table_ask_passivate (worker_t *self, const actor_t *actor);

//  Passivates the actors that asked it in the batch just committed (call
//  it right after the commit, before the next turn; a purge forgets what
//  they asked). O(actors asking).
void actor_table_passivate_asked (worker_t *self);

//  Drops actors idle for idle_ms or longer by now (monotonic ms, as
//  worker_mono), but none with events staged in the batch being built (the
//  worker calls it between batches). O(actors dropped).
void actor_table_passivate (worker_t *self, int64_t now);

//  For a check of a stopped store (shoal check), not a worker: replays
//  every event of address, from event 1, into a fresh state of type
//  (init, then apply each event but '$' ones, as a load does; fini), on
//  any thread. Returns 0 if each one applies; SHOAL_EFORMAT with *refused
//  the seq of the first event type's apply refuses (the event a node's
//  load stops at, answering `unavailable`), or with *refused 0 for a
//  record that does not decode or a stream with a hole (journal_read);
//  SHOAL_EINVAL for an address without '/', SHOAL_EIO, SHOAL_ENOMEM.
int actor_replay_check (journal_t *journal, const shoal_type_t *type, const char *address,
                        int64_t *refused);

#endif
