/*  actors.c - a worker's table of active actors. See actors.h.

    Contract: an actor in the table holds the state its stream's events
    give it, staged events included; whoever finds it may not (a turn whose
    apply failed, a batch that could not be committed) drops it, and the
    next message reloads it from the journal. The worker thread owns the
    table and its actors; nothing here is shared with another thread but
    the counters in worker_stats_t.
*/
#include "actors.h"
#include "ctx.h"
#include "data.h"
#include "inbox.h"
#include "worker_internal.h"
#include "log.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static void s_actor_free (actor_t *actor)
{
    if (actor->type->fini)
        actor->type->fini (actor->state);
    free (actor); //  its address too: one allocation
}

_Static_assert(SHOAL_ADDRESS_MAX <= UINT16_MAX, "an address's length fits 2 bytes");

//  The address's length is kept in the 2 bytes before it (s_actor_load):
//  a find compares keys without a strlen.
static const void *s_actor_key (const void *item, size_t *size)
{
    const actor_t *actor = item;
    uint16_t length;
    memcpy (&length, actor->address - sizeof length, sizeof length);
    *size = length;
    return actor->address;
}

void actor_table_init (ptable_t *actors)
{
    ptable_init (actors, s_actor_key);
}

void actor_table_close (ptable_t *actors)
{
    size_t cursor = 0;
    for (actor_t *actor = ptable_next (actors, &cursor); actor;
         actor = ptable_next (actors, &cursor))
        s_actor_free (actor);
    ptable_close (actors);
}

size_t actor_table_size (const ptable_t *actors)
{
    return actors->count;
}

//  The active actor at address, or NULL.
static actor_t *s_find (worker_t *self, const char *address)
{
    return ptable_find (&self->actors, address, strlen (address));
}

//  A stream's events replayed into a state: an actor's load, or a check's.
typedef struct {
    const shoal_type_t *type;
    void *state;
    int64_t version; //  the last event applied (or skipped: '$')
    int64_t refused; //  the event the type's apply refused, 0 if none
    int rc;
    char refused_name[SHOAL_NAME_MAX + 1]; //  its name
} replay_t;

static int s_replay_event (void *arg, int64_t seq, const char *name, const uint8_t *data,
                           size_t size, int64_t created)
{
    replay_t *replay = arg;
    //  A '$' event is the runtime's own record in the stream (an
    //  operator's decision, repair.h): counted in the version, never
    //  shown to the type's apply, which need not know it.
    if (name[0] == '$') {
        replay->version = seq;
        return 0;
    }
    if (ctx_apply (replay->type, replay->state, name, data, size) != 0) {
        replay->rc = SHOAL_EFORMAT;
        replay->refused = seq;
        snprintf (replay->refused_name, sizeof replay->refused_name, "%s", name);
        return 1;
    }
    replay->version = seq;
    return 0;
}

int actor_replay_check (journal_t *journal, const shoal_type_t *type, const char *address,
                        int64_t *refused)
{
    *refused = 0;
    const char *id = strchr (address, '/');
    if (!id)
        return SHOAL_EINVAL;
    void *state = calloc (1, type->state_size ? type->state_size : 1);
    if (!state)
        return SHOAL_ENOMEM;
    if (type->init)
        type->init (state, id + 1);
    replay_t replay = {type, state, 0, 0, 0, ""};
    int rc = journal_read (journal, address, 1, 0, s_replay_event, &replay);
    if (rc == 0)
        rc = replay.rc;
    *refused = replay.refused;
    if (type->fini)
        type->fini (state);
    free (state);
    return rc;
}

//  Starts actor's state afresh: fini what a restore left, zero, init.
static void s_actor_reset (actor_t *actor)
{
    const shoal_type_t *type = actor->type;
    if (type->fini)
        type->fini (actor->state);
    memset (actor->state, 0, type->state_size);
    if (type->init)
        type->init (actor->state, strchr (actor->address, '/') + 1);
    actor->version = actor->snapshot_seq = 0;
}

//  Loads actor's latest snapshot, if its type takes snapshots and one
//  can be restored. Returns 0 (with or without a snapshot) or a storage
//  error. A snapshot that cannot be used (a damaged record, a version
//  above the type's, a restore that refuses it) is logged and ignored:
//  the actor is rebuilt from all its events.
static int s_actor_restore (worker_t *self, actor_t *actor)
{
    const shoal_type_t *type = actor->type;
    uint8_t *snapshot;
    size_t size;
    int64_t seq;
    int version = 0;
    int rc = journal_snapshot_read (self->config->journal, actor->address, &seq, &snapshot, &size,
                                    &version);
    if (rc == SHOAL_ENOTFOUND)
        return 0;
    if (rc != 0 && rc != SHOAL_EFORMAT && rc != SHOAL_EVERSION)
        return rc;
    uint8_t *owned = rc == 0 ? snapshot : NULL;
    const char *why = NULL;
    if (rc != 0)
        why = "its record is damaged";
    else if (seq < 0 || seq > INT64_MAX / 2)
        why = "its seq is out of range";
    else if (version > type->snapshot_version)
        why = "its version is newer than the type's";
    else {
        shoal_data_t data;
        rc = data_init (&data, snapshot, size);
        if (rc == SHOAL_ENOMEM) {
            free (owned);
            return rc;
        }
        if (rc != 0)
            why = "its state is not a map";
        else if (type->restore (actor->state, version, &data) != 0)
            why = "restore refused it";
        data_close (&data);
    }
    free (owned);
    if (why) {
        log_warn ("worker %d: %s: ignored its snapshot (version %d, %s type version %d): %s; "
                  "rebuilding it from all its events",
                  self->index, actor->address, version, type->name, type->snapshot_version, why);
        s_actor_reset (actor);
        return 0;
    }
    actor->version = actor->snapshot_seq = seq;
    return 0;
}

//  Says why an actor cannot be loaded: its type's apply refused one of its
//  stored events. Kept for the reply (actor_load_refused); logged at most once
//  a second per worker, with the loads refused since.
static void s_load_refused (worker_t *self, const shoal_type_t *type, const char *address,
                            const replay_t *replay)
{
    snprintf (self->load_refused_address, sizeof self->load_refused_address, "%s", address);
    snprintf (self->load_refused, sizeof self->load_refused,
              "%s cannot be loaded: the apply() of actor type '%s' refused its stored event "
              "%" PRId64 " (%s); a module must keep taking the events it once emitted "
              "(docs/MODULES.md, 7)",
              address, type->name, replay->refused, replay->refused_name);
    static _Thread_local int64_t logged_at;
    static _Thread_local uint64_t refusals;
    uint64_t said;
    if (log_due (&logged_at, &refusals, 1000, &said))
        log_warn ("worker %d: %s (%llu such loads since the last such line)", self->index,
                  self->load_refused, (unsigned long long) said);
}

const char *actor_load_refused (worker_t *self, const char *address, int rc)
{
    return rc == SHOAL_EFORMAT && strcmp (self->load_refused_address, address) == 0
               ? self->load_refused
               : NULL;
}

//  Loads an actor from its latest snapshot and the events after it, and
//  tells the worker's batch the stream's committed version. Returns the
//  actor (owned by the caller) or NULL with *rc set.
static actor_t *s_actor_load (worker_t *self, const shoal_type_t *type, const char *address,
                              int *rc)
{
    //  The address after the state, in the same allocation, its length
    //  in 2 bytes before it (s_actor_key): one chunk per actor rather than
    //  two (16 bytes less for a short address).
    self->load_refused_address[0] = 0; //  said of the last load only
    size_t length = strlen (address);
    uint16_t stored = (uint16_t) length; //  at most SHOAL_ADDRESS_MAX
    actor_t *actor = calloc (1, sizeof (actor_t) + type->state_size + sizeof stored + length + 1);
    if (!actor) {
        *rc = SHOAL_ENOMEM;
        return NULL;
    }
    char *after = (char *) actor->state + type->state_size;
    memcpy (after, &stored, sizeof stored);
    actor->address = memcpy (after + sizeof stored, address, length + 1);
    actor->type = type;
    if (type->init)
        type->init (actor->state, strchr (address, '/') + 1);
    *rc = type->restore ? s_actor_restore (self, actor) : 0;
    replay_t replay = {type, actor->state, actor->version, 0, 0, ""};
    int64_t from = actor->version + 1;
    uint8_t creator[JOURNAL_ID_SIZE];
    bool has_creator = false;
    if (*rc == 0)
        *rc = journal_read_creator (self->config->journal, address, from, 0, s_replay_event,
                                    &replay, creator, &has_creator);
    actor->version = replay.version;
    if (*rc == 0)
        *rc = replay.rc;
    //  Restored from a snapshot, the replay did not read event 1: one get.
    if (*rc == 0 && from > 1) {
        *rc = journal_creator_id (self->config->journal, address, creator);
        has_creator = *rc == 0;
        if (*rc == SHOAL_ENOTFOUND)
            *rc = 0;
    }
    if (has_creator)
        actor->creator = inbox_creator_hash (creator);
    if (*rc && replay.refused)
        s_load_refused (self, type, address, &replay);
    if (*rc) {
        s_actor_free (actor);
        return NULL;
    }
    self->stats->activations++;
    return actor;
}

//  Links actor as the table's most recently used.
static void s_lru_push (actor_lru_t *lru, actor_t *actor)
{
    actor->older = lru->newest;
    actor->newer = NULL;
    if (lru->newest)
        lru->newest->newer = actor;
    else
        lru->oldest = actor;
    lru->newest = actor;
}

static void s_lru_unlink (actor_lru_t *lru, actor_t *actor)
{
    if (actor->newer)
        actor->newer->older = actor->older;
    else
        lru->newest = actor->older;
    if (actor->older)
        actor->older->newer = actor->newer;
    else
        lru->oldest = actor->newer;
    actor->newer = actor->older = NULL;
}

//  A transient actor's load read its stream to the end: its version is
//  the committed one (a snapshot is committed with the event it was taken
//  at), which the batch would otherwise seek again at the next read.
static actor_t *s_actor_load_transient (worker_t *self, const shoal_type_t *type,
                                        const char *address, int *rc)
{
    actor_t *actor = s_actor_load (self, type, address, rc);
    if (actor)
        journal_batch_remember (self->batch, address, actor->version);
    return actor;
}

//  Unlinks and frees the active actor (the table's destructor frees it).
//  The worker's batch is owned (journal_batch_set_owned): while an actor
//  is in the table its version is the one that counts, and the batch
//  learns it as the actor leaves (committed, or staged in a batch whose
//  failure makes the batch forget every version).
static void s_remove (worker_t *self, actor_t *actor)
{
    if (self->batch) //  none in bench_tick's worker
        journal_batch_remember (self->batch, actor->address, actor->version);
    s_lru_unlink (&self->lru, actor);
    ptable_remove (&self->actors, actor->address, strlen (actor->address));
    s_actor_free (actor);
}

//  Makes room for one more actor: passivates the least recently used
//  while the table is at its cap, but never one with events staged in the
//  batch being built (nor any used after it): the table then stays over
//  the cap until the batch commits.
static void s_evict (worker_t *self)
{
    size_t cap = self->config->max_actors ? self->config->max_actors : SIZE_MAX;
    while (self->actors.count >= cap) {
        actor_t *oldest = self->lru.oldest;
        if (!oldest || actor_staged_in (oldest, self->batch_number))
            return;
        s_remove (self, oldest);
        self->stats->passivations++;
    }
}

actor_t *actor_table_get (worker_t *self, const char *address, int *rc)
{
    actor_t *actor = s_find (self, address);
    if (actor)
        s_lru_unlink (&self->lru, actor);
    else {
        const shoal_type_t *type = registry_lookup (self->config->registry, address);
        if (!type) {
            *rc = SHOAL_ENOTFOUND;
            return NULL;
        }
        actor = s_actor_load (self, type, address, rc);
        if (!actor)
            return NULL;
        if (self->batch)
            journal_batch_keep (self->batch, address, actor->version);
        s_evict (self);
        if (ptable_insert (&self->actors, actor) != 0) {
            s_actor_free (actor);
            *rc = SHOAL_ENOMEM;
            return NULL;
        }
        self->stats->active = self->actors.count;
    }
    s_lru_push (&self->lru, actor);
    actor->last_used = worker_mono ();
    *rc = 0;
    return actor;
}

//  The actors that left memory on their own ask (shoal_ctx_passivate) are
//  kept in two generations of a Bloom filter (common/bloom.h),
//  ASKED_PER_GEN each: a read of one of them (a client polling a finished
//  saga) loads it for the read only, rather than bring it back into the
//  table until it is idle. A false positive only makes a read of another
//  inactive actor load it for itself.
#define ASKED_BITS (UINT64_C (1) << 20) //  per generation: 128 KiB
#define ASKED_PER_GEN 100000

//  Adds address to the newer generation; past ASKED_PER_GEN, the older
//  one is cleared and becomes the newer. Nothing if out of memory.
static void s_asked_add (worker_t *self, const char *address)
{
    if (!self->asked[0].words &&
        (bloom_init (&self->asked[0], ASKED_BITS) || bloom_init (&self->asked[1], ASKED_BITS))) {
        bloom_close (&self->asked[0]);
        return;
    }
    if (self->asked_count == ASKED_PER_GEN) {
        self->asked_newer ^= 1;
        bloom_clear (&self->asked[self->asked_newer]);
        self->asked_count = 0;
    }
    bloom_add (&self->asked[self->asked_newer], ptable_hash (address, strlen (address)));
    self->asked_count++;
}

//  True if address may have left memory on its own ask.
static bool s_asked (const worker_t *self, const char *address)
{
    if (!self->asked[0].words)
        return false;
    uint64_t hash = ptable_hash (address, strlen (address));
    return bloom_maybe (&self->asked[0], hash) || bloom_maybe (&self->asked[1], hash);
}

actor_t *actor_table_read (worker_t *self, const char *address, bool *transient, int *rc)
{
    *transient = false;
    if (s_find (self, address))
        return actor_table_get (self, address, rc);
    const shoal_type_t *type = registry_lookup (self->config->registry, address);
    if (!type) {
        *rc = SHOAL_ENOTFOUND;
        return NULL;
    }
    int64_t version = 0;
    *rc = journal_batch_version (self->batch, address, &version);
    if (*rc)
        return NULL;
    if (version > 0)
        return actor_table_get_unless_asked (self, address, transient, rc);
    *transient = true;
    return s_actor_load_transient (self, type, address, rc);
}

actor_t *actor_table_get_unless_asked (worker_t *self, const char *address, bool *transient,
                                       int *rc)
{
    *transient = false;
    if (s_find (self, address) || !s_asked (self, address))
        return actor_table_get (self, address, rc);
    const shoal_type_t *type = registry_lookup (self->config->registry, address);
    if (!type) {
        *rc = SHOAL_ENOTFOUND;
        return NULL;
    }
    *transient = true;
    return s_actor_load_transient (self, type, address, rc);
}

void actor_free (actor_t **actor_p)
{
    if (*actor_p) {
        s_actor_free (*actor_p);
        *actor_p = NULL;
    }
}

void actor_table_drop (worker_t *self, const char *address)
{
    actor_t *actor = s_find (self, address);
    if (actor)
        s_remove (self, actor);
    self->stats->active = self->actors.count;
}

int actor_table_ask_passivate (worker_t *self, const actor_t *actor)
{
    size_t len = strlen (actor->address) + 1;
    if (self->passivating_size + len > self->passivating_cap) {
        size_t cap = self->passivating_cap ? self->passivating_cap : 4096;
        while (cap < self->passivating_size + len)
            cap *= 2;
        char *grown = realloc (self->passivating, cap);
        if (!grown)
            return SHOAL_ENOMEM;
        self->passivating = grown;
        self->passivating_cap = cap;
    }
    memcpy (self->passivating + self->passivating_size, actor->address, len);
    self->passivating_size += len;
    return 0;
}

void actor_table_passivate_asked (worker_t *self)
{
    for (size_t at = 0; at < self->passivating_size;) {
        const char *address = self->passivating + at;
        at += strlen (address) + 1;
        actor_t *actor = s_find (self, address);
        if (actor && !actor_staged_in (actor, self->batch_number)) {
            s_remove (self, actor);
            self->stats->passivations++;
            s_asked_add (self, address);
        }
    }
    self->passivating_size = 0;
    self->stats->active = self->actors.count;
}

void actor_table_purge (worker_t *self)
{
    //  The actors' versions go with them (s_remove): the batch's may be older.
    if (self->batch)
        journal_batch_forget (self->batch);
    actor_table_close (&self->actors);
    self->lru = (actor_lru_t){NULL, NULL};
    self->passivating_size = 0;
    self->stats->active = 0;
}

void actor_table_passivate (worker_t *self, int64_t now)
{
    //  Never one with events staged in the batch being built (as s_evict):
    //  its version is not yet committed, and were it loaded again before
    //  the commit, the load's version would be the older one.
    while (self->lru.oldest && now - self->lru.oldest->last_used >= self->config->idle_ms &&
           !actor_staged_in (self->lru.oldest, self->batch_number)) {
        s_remove (self, self->lru.oldest);
        self->stats->passivations++;
    }
    self->stats->active = self->actors.count;
}
