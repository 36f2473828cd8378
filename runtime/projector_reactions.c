/*  projector_reactions.c - a projection's reactions: the commands its
    applies send (shoal_view_send), written with the checkpoint and re-sent
    until answered; which build decides them, which sends them and which
    holds them ('h' records) while another version is served; a switch's
    handover; a dropped build's unanswered commands taken over; loading
    them at a start. See docs/DESIGN-NOTES.md, "The event log and
    projections", and projector.c for the builds' batches.

    Threads: the projection thread's (projector.c).
*/
#include "projector_internal.h"
#include "log.h"
#include "repair.h"
#include "viewcheck.h"
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESEND_FIRST_MS 1000
#define RESEND_MAX_MS 30000

void projector_reaction_destroy (void **item)
{
    reaction_t *reaction = *item;
    if (reaction) {
        if (reaction->heap && reaction->due_at != HEAP_NONE)
            heap_remove (reaction->heap, reaction->due_at);
        free (reaction->frame);
        free (reaction);
        *item = NULL;
    }
}

static int s_by_next_send (const void *a, const void *b)
{
    int64_t x = ((const reaction_t *) a)->next_send, y = ((const reaction_t *) b)->next_send;
    return (x > y) - (x < y);
}

heap_t *projector_due_new (void)
{
    heap_t *due = heap_new (s_by_next_send);
    if (due)
        heap_set_index (due, offsetof (reaction_t, due_at));
    return due;
}

//  Keeps reaction among build's unanswered ones, sent when due. Returns 0,
//  or -1 if build has one of its id already (a replay): reaction is the
//  caller's again. Out of memory for the heap, it waits in the store for
//  the next start (said).
static int s_keep (build_t *build, reaction_t *reaction)
{
    if (zhashx_insert (build->reactions, reaction->id, reaction) != 0)
        return -1;
    if (heap_push (build->due, reaction) == 0)
        reaction->heap = build->due;
    else
        log_error ("projection %s@%" PRIu32 ": out of memory: a reaction waits for the next "
                   "start to be sent",
                   build->name, build->build.version);
    return 0;
}

//  A reaction of the command id, its envelope frame copied (NULL out of
//  memory).
static reaction_t *s_reaction_new (const uint8_t *id, const uint8_t *frame, size_t size)
{
    reaction_t *reaction = calloc (1, sizeof (reaction_t));
    if (!reaction || !(reaction->frame = malloc (size))) {
        free (reaction);
        return NULL;
    }
    memcpy (reaction->id, id, ENVELOPE_ID_SIZE);
    memcpy (reaction->frame, frame, size);
    reaction->size = size;
    return reaction;
}

//  Stamps the command of reaction created now: a held command sent at its
//  switch, its version the first to decide its event, goes out as new
//  however long it was held (projector_created). A frame that does not
//  decode, or no memory, is left as it was.
static void s_restamp (reaction_t *reaction)
{
    envelope_t envelope;
    uint8_t *frame = NULL;
    size_t size = 0;
    if (envelope_decode (&envelope, reaction->frame, reaction->size) != 0)
        return;
    envelope.created = zclock_time ();
    if (envelope_encode (&envelope, &frame, &size) != 0)
        return;
    free (reaction->frame);
    reaction->frame = frame;
    reaction->size = size;
}

//  The position of the event a reaction's command was decided on: its
//  id ends with position << 4 | rank (view.c).
static uint64_t s_id_position (const uint8_t *id)
{
    uint64_t tail = 0;
    for (int i = 8; i < 16; i++)
        tail = tail << 8 | id[i];
    return tail >> 4;
}

//  The commands a build holds, read from the store (reaction_t *, owned).
static int s_read_held (void *arg, const char *key, size_t key_len, const uint8_t *value,
                        size_t size)
{
    zlist_t *held = arg;
    if (key_len != ENVELOPE_ID_SIZE || size == 0)
        return 0; //  not one of ours: left as it is
    reaction_t *reaction = s_reaction_new ((const uint8_t *) key, value, size);
    if (!reaction)
        return SHOAL_ENOMEM;
    if (zlist_append (held, reaction) != 0) {
        projector_reaction_destroy ((void **) &reaction);
        return SHOAL_ENOMEM;
    }
    return 0;
}

//  Frees a list of s_read_held's.
static void s_held_destroy (zlist_t **held_p)
{
    reaction_t *reaction;
    while (*held_p && (reaction = zlist_pop (*held_p)))
        projector_reaction_destroy ((void **) &reaction);
    zlist_destroy (held_p);
}

//  The events version of name has decided the reactions of: up to the
//  highest checkpoint of its builds (the one served and its rebuilds,
//  which send too).
uint64_t projector_decided (projector_t *self, const char *name, uint32_t version)
{
    uint64_t decided = 0;
    for (size_t i = 0; i < self->build_count; i++) {
        build_t *each = self->builds[i];
        if (strcmp (each->name, name) == 0 && each->build.version == version &&
            each->cp.next > decided)
            decided = each->cp.next;
    }
    return decided;
}

//  The version of name that would send while nothing of name is served,
//  from the modules: the newest a module registers to switch to without
//  an operator, else the newest registered (0: none).
static uint32_t s_preferred (projector_t *self, const char *name)
{
    uint32_t automatic = 0, any = 0;
    for (size_t i = 0; i < self->build_count; i++) {
        build_t *each = self->builds[i];
        if (!each->def || strcmp (each->name, name) != 0)
            continue;
        if (each->build.version > any)
            any = each->build.version;
        if (!each->def->manual_switch && each->build.version > automatic)
            automatic = each->build.version;
    }
    return automatic ? automatic : any;
}

//  The version of name whose reactions are sent: the version served;
//  while none is, the one fixed when a build of name first applied
//  (projector_fix_sender), the one that is served first. Every other
//  version holds what it decides, so that two versions built at once
//  before anything of name is served do not both act on one event (under
//  one id, with their own code: the target would refuse one as
//  id_reused, or run both).
uint32_t projector_deciding (projector_t *self, const char *name)
{
    build_t *served = projector_served (self, name);
    if (served)
        return served->build.version;
    uintptr_t fixed = (uintptr_t) zhashx_lookup (self->senders, name);
    return fixed ? (uint32_t) fixed : s_preferred (self, name);
}

//  The metadata key of name's sender.
static void s_sender_key (char *key, size_t size, const char *name)
{
    snprintf (key, size, "projection-sender/%s", name);
}

//  Before a build of name applies while nothing of name is served, fixes
//  which version sends (s_preferred), synced: a module changed at a
//  restart (a version added, removed or made manual) then changes
//  nothing of who sent what, and the others hold from their first event.
//  Returns 0 or the store's error (nothing applies then).
int projector_fix_sender (projector_t *self, const char *name)
{
    if (zhashx_lookup (self->senders, name) || projector_served (self, name))
        return 0;
    uint32_t version = s_preferred (self, name);
    if (version == 0)
        return 0;
    char key[SHOAL_TYPE_MAX + 32], value[16];
    s_sender_key (key, sizeof key, name);
    snprintf (value, sizeof value, "%" PRIu32, version);
    int rc = journal_meta_put (self->journal, key, value);
    if (rc == 0 && zhashx_insert (self->senders, name, (void *) (uintptr_t) version) != 0)
        rc = SHOAL_ENOMEM;
    if (rc == 0)
        log_info ("projection %s@%" PRIu32 ": sends its reactions until a version of %s is "
                  "served",
                  name, version, name);
    return rc;
}

//  Reads name's sender, if one was fixed. Returns 0 or the store's error.
int projector_load_sender (projector_t *self, const char *name)
{
    if (zhashx_lookup (self->senders, name))
        return 0; //  another build of name read it
    char key[SHOAL_TYPE_MAX + 32], *value = NULL;
    s_sender_key (key, sizeof key, name);
    int rc = journal_meta_get (self->journal, key, &value);
    if (rc == SHOAL_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    char *end = NULL;
    unsigned long version = strtoul (value, &end, 10);
    if (*end == '\0' && version > 0 && version <= UINT32_MAX)
        rc = zhashx_insert (self->senders, name, (void *) (uintptr_t) version) == 0 ? 0
                                                                                    : SHOAL_ENOMEM;
    else
        log_warn ("projection %s: its sender is not a version (%s): taken as not fixed", name,
                  value);
    free (value);
    return rc;
}

//  Deletes the commands build holds on events the version served has
//  decided since: they would be dropped at its switch, and a version
//  waiting for its switch would otherwise keep one for every event.
//  Only while build->held_hint says it may hold some. A write that fails
//  leaves them for the next batch.
void projector_trim_held (projector_t *self, build_t *build)
{
    uint32_t deciding = projector_deciding (self, build->name);
    if (!build->held_hint || !deciding || deciding == build->build.version)
        return;
    uint64_t decided = projector_decided (self, build->name, deciding);
    zlist_t *held = zlist_new ();
    int rc =
        held ? journal_view_held (self->journal, &build->build, s_read_held, held) : SHOAL_ENOMEM;
    journal_batch_t *batch = self->view.batch;
    size_t left = 0, gone = 0;
    for (reaction_t *reaction = held ? zlist_first (held) : NULL; reaction && rc == 0;
         reaction = zlist_next (held))
        if (s_id_position (reaction->id) < decided) {
            rc = journal_batch_view_hold (batch, &build->build, reaction->id, NULL, 0);
            gone++;
        } else
            left++;
    rc = rc ? rc : (gone ? journal_batch_commit (batch) : 0);
    if (rc)
        journal_batch_clear (batch);
    else
        build->held_hint = left;
    s_held_destroy (&held);
}

//  Makes build the one served of its name. When another version was
//  served (old), build held what it decided (projector_holds): in the same synced
//  write as the switch, each held command becomes one to send ('o'), or
//  goes when the old version had decided its event (projector_decided); build
//  must have reached that point (SHOAL_EINVAL if not: it would decide
//  again, with its own code, events the old version reacted to). A
//  rebuild of the version served holds nothing it would need: what it
//  holds goes. A crash keeps all of it or none. The old version's builds
//  go on re-sending what they sent until it is answered, and hold from
//  then on.
int projector_set_served (projector_t *self, build_t *build)
{
    char key[SHOAL_TYPE_MAX + 16], value[32];
    snprintf (key, sizeof key, "projection/%s", build->name);
    snprintf (value, sizeof value, "%" PRIu32 ".%" PRIu32, build->build.version,
              build->build.build);
    build_t *old = projector_served (self, build->name);
    if (old == build)
        old = NULL;
    //  The version whose commands were sent until now: the one served, or
    //  with none, the one that would have been (projector_deciding).
    uint32_t from = projector_deciding (self, build->name);
    bool handover = from && from != build->build.version;
    uint64_t decided = handover ? projector_decided (self, build->name, from) : 0;
    if (handover && build->cp.next < decided)
        return SHOAL_EINVAL;
    zlist_t *held = old || handover ? zlist_new () : NULL;
    int rc = (old || handover) && !held ? SHOAL_ENOMEM : 0;
    if (held)
        rc = journal_view_held (self->journal, &build->build, s_read_held, held);
    journal_batch_t *batch = self->view.batch;
    size_t sent = 0, dropped = 0;
    for (reaction_t *reaction = held ? zlist_first (held) : NULL; reaction && rc == 0;
         reaction = zlist_next (held)) {
        rc = journal_batch_view_hold (batch, &build->build, reaction->id, NULL, 0);
        if (rc == 0 && handover && s_id_position (reaction->id) >= decided) {
            s_restamp (reaction);
            rc = journal_batch_view_send (batch, &build->build, reaction->id, reaction->frame,
                                          reaction->size);
            sent++;
        } else
            dropped++;
    }
    rc = rc ? rc : journal_batch_meta_put (batch, key, value);
    rc = rc ? rc : projector_commit_synced (self);
    if (rc)
        journal_batch_clear (batch);
    reaction_t *reaction; //  in memory what the write made 'o', the rest freed
    while (held && (reaction = zlist_pop (held))) {
        bool send = rc == 0 && handover && s_id_position (reaction->id) >= decided;
        if (send && s_keep (build, reaction) == 0)
            continue; //  sent from now on
        projector_reaction_destroy ((void **) &reaction);
    }
    zlist_destroy (&held);
    if (rc)
        return rc;
    build->held_hint = 0;
    if (sent || dropped)
        log_info ("projection %s@%" PRIu32 ": at its switch from version %" PRIu32 ", %zu held "
                  "commands sent, %zu dropped (decided by version %" PRIu32 ")",
                  build->name, build->build.version, from, sent, dropped, from);
    for (size_t i = 0; i < self->build_count; i++)
        if (strcmp (self->builds[i]->name, build->name) == 0)
            self->builds[i]->served = false;
    build->served = true;
    log_info ("projection %s@%" PRIu32 " is served (build %" PRIu32 ", at position %" PRIu64 ")",
              build->name, build->build.version, build->build.build, build->cp.next);
    return 0;
}

//  Gives the commands from has sent and not seen answered to to, which
//  re-sends them until they are: written under to's build first, then
//  kept in its memory. Returns 0 or the store's error (nothing moved).
//  One left in from's records as well (a crash before its drop ends) is
//  sent by both under one id: its receiver runs it once.
int projector_adopt_reactions (projector_t *self, build_t *to, build_t *from)
{
    if (!to || to == from || zhashx_size (from->reactions) == 0)
        return 0;
    journal_batch_t *batch = self->view.batch;
    int rc = 0;
    for (reaction_t *reaction = zhashx_first (from->reactions); reaction && rc == 0;
         reaction = zhashx_next (from->reactions))
        rc = journal_batch_view_send (batch, &to->build, reaction->id, reaction->frame,
                                      reaction->size);
    rc = rc ? rc : journal_batch_commit (batch);
    if (rc) {
        journal_batch_clear (batch);
        return rc;
    }
    size_t moved = 0;
    for (reaction_t *reaction = zhashx_first (from->reactions); reaction;
         reaction = zhashx_next (from->reactions)) {
        reaction_t *copy = s_reaction_new (reaction->id, reaction->frame, reaction->size);
        moved += copy != NULL;
        if (copy && s_keep (to, copy) == 0)
            continue;
        projector_reaction_destroy (
            (void **) &copy); //  already there, or no memory: a restart loads it
    }
    log_info ("projection %s@%" PRIu32 ": build %" PRIu32 " takes over %zu unanswered commands of "
              "build %" PRIu32,
              to->name, to->build.version, to->build.build, moved, from->build.build);
    return 0;
}

//  Keeps the batch's reactions: each goes out now, and again until answered.
void projector_release_sends (projector_t *self, build_t *build)
{
    shoal_view_t *view = &self->view;
    for (size_t i = 0; i < view->staged_count; i++) {
        reaction_t *reaction = view->staged_sends[i];
        view->staged_sends[i] = NULL;
        reaction->next_send = 0;
        if (view->hold) { //  written held: in the store alone until its switch
            build->held_hint++;
            projector_reaction_destroy ((void **) &reaction);
        } else if (s_keep (build, reaction) != 0)
            projector_reaction_destroy ((void **) &reaction); //  already there: a replay
    }
    view->staged_count = 0;
}

//  The first position whose reactions the build decides: every one for
//  the build served, or for any while nothing of its name is served (no
//  build has sent for these events; only the version projector_deciding
//  names sends, the others hold). Another build replays
//  the events the served build has applied without deciding again, and
//  decides for those it has not (its checkpoint on): the served build may
//  be paused, failed, waiting on a full disk or lingering when the other
//  takes its place. A rebuild of the version served sends what it decides
//  at once (projector_holds): an event both apply is sent twice under one id (the
//  projection's name, the event's position and the send's rank: view.c),
//  the same command from the same code, with the event's time as its
//  created, so its receiver runs it once: the second copy finds the first
//  one's inbox record or, past the retention, is refused as expired.
uint64_t projector_react_from (projector_t *self, build_t *build)
{
    build_t *served = build->served ? NULL : projector_served (self, build->name);
    return served ? served->cp.next : 0;
}

//  The created of a command that build decides at position, an event of
//  event_created: now, when no other build of its name that sends has
//  applied that event (the first to decide it: no copy of it ran), so
//  that its target runs it however long after its event it goes out (a
//  projection paused, failed or turned off for longer than the inbox
//  retention; with the event's time, its target refused it as expired
//  and it was dropped, never run). Else the event's time: another build
//  sent it under the same id first (a rebuild ahead of a paused build
//  served, say), and the target runs it once, finding that copy's inbox
//  record or, past the retention, refusing this one as expired. Known
//  limit: a build ahead that is dropped takes that knowledge with it, so
//  a build that decides the same events after it, more than the
//  retention after its copies ran, sends them as new.
int64_t projector_created (projector_t *self, const build_t *build, uint64_t position,
                           int64_t event_created)
{
    for (size_t i = 0; i < self->build_count; i++) {
        const build_t *other = self->builds[i];
        if (other != build && strcmp (other->name, build->name) == 0 && other->cp.next > position &&
            !projector_holds (self, other))
            return event_created;
    }
    return zclock_time ();
}

//  True if what build's reactions decide is held, not sent: it is not
//  served, and another version of its name is, or would be first
//  (projector_deciding). Its code may decide
//  otherwise under the same ids (where the target would refuse one as
//  id_reused, or run both), and a version waiting for its manual switch
//  must not act before it: its commands are written apart ('h' records)
//  and its switch sends those the old version had not decided
//  (projector_set_served). A version that stops being served sends what
//  it had sent until answered, and holds from then on.
bool projector_holds (projector_t *self, const build_t *build)
{
    return !build->served && projector_deciding (self, build->name) != build->build.version;
}

//  A reaction stored before its projection was named as its sender (from
//  ""), named now: its receiver must not take it for a client's command.
//  A frame that does not decode is left as it is (the front refuses it;
//  shoal check reports it). Returns false if it could not be named yet
//  (out of memory: tried at the next send; it is not sent unnamed, which
//  a receiver that takes it from a projection only would refuse for good).
static bool s_sender_named (reaction_t *reaction, const char *name)
{
    envelope_t envelope;
    if (envelope_decode (&envelope, reaction->frame, reaction->size) != 0 || envelope.from[0])
        return true;
    viewcheck_sender (envelope.from, name);
    uint8_t *frame;
    size_t size;
    if (envelope_encode (&envelope, &frame, &size) != 0)
        return false;
    free (reaction->frame);
    reaction->frame = frame;
    reaction->size = size;
    return true;
}

//  Called at every turn of the projection thread's loop: it costs the
//  reactions due (each build's heap by next_send), not those waiting (it
//  walked every one, at every batch).
void projector_send_due (projector_t *self)
{
    int64_t now = zclock_mono ();
    for (size_t i = 0; i < self->build_count; i++) {
        build_t *build = self->builds[i];
        reaction_t *reaction;
        while ((reaction = heap_peek (build->due)) && reaction->next_send <= now) {
            if (!reaction->named && !(reaction->named = s_sender_named (reaction, build->name))) {
                reaction->next_send = now + RESEND_FIRST_MS; //  out of memory: later
                heap_update (build->due, reaction->due_at);
                continue;
            }
            if (zmq_send (zsock_resolve (self->client), reaction->frame, reaction->size,
                          ZMQ_DONTWAIT) == -1)
                return; //  the front's queue is full: later
            if (!reaction->first_at)
                reaction->first_at = now;
            int64_t wait = RESEND_FIRST_MS << (reaction->attempts < 5 ? reaction->attempts : 5);
            reaction->next_send = now + (wait < RESEND_MAX_MS ? wait : RESEND_MAX_MS);
            reaction->attempts++;
            heap_update (build->due, reaction->due_at);
        }
    }
}

//  An answer to a reaction's command: it is done once the answer settles it.
void projector_on_answer (projector_t *self)
{
    zframe_t *frame = zframe_recv (self->client);
    if (!frame)
        return;
    envelope_t reply;
    bool ok = false;
    char code[ENVELOPE_CODE_MAX + 1] = "", reason[ENVELOPE_REASON_MAX + 1] = "";
    const uint8_t *data;
    size_t size;
    if (envelope_decode (&reply, zframe_data (frame), zframe_size (frame)) != 0 ||
        envelope_reply_decode (reply.payload, reply.payload_size, &ok, code, reason, &data,
                               &size) != 0) {
        zframe_destroy (&frame);
        return;
    }
    //  A refusal that is not stored (busy, unavailable, a failed turn's
    //  handler_error or conflict: envelope_code_settles) did not run it, and
    //  a copy may: it is re-sent when due, as an actor's outbox does, until
    //  an answer settles it (a module fixed and the node restarted, say).
    //  bad_from: a node of the cluster that runs a shoal from before the
    //  reactions named their projection; it takes this one once upgraded.
    bool open = !ok && (!envelope_code_settles (code) || strcmp (code, "bad_from") == 0);
    for (size_t i = 0; i < self->build_count; i++) {
        build_t *build = self->builds[i];
        reaction_t *reaction = zhashx_lookup (build->reactions, reply.correlation);
        if (!reaction)
            continue;
        if (open) { //  re-sent when due; said once (the target logs each failed turn)
            snprintf (reaction->code, sizeof reaction->code, "%s", code);
            if (!reaction->said && strcmp (code, "busy") != 0 &&
                strcmp (code, "unavailable") != 0) {
                log_warn ("projection %s@%" PRIu32 ": %s to %s was not run: %s: %s; it is sent "
                          "again until it is",
                          build->name, build->build.version, reply.name, reply.from, code, reason);
                reaction->said = true;
            }
            break;
        }
        if (!ok)
            log_warn ("projection %s@%" PRIu32 ": %s to %s was rejected: %s: %s", build->name,
                      build->build.version, reply.name, reply.from, code, reason);
        journal_batch_t *batch = self->view.batch;
        if (journal_batch_view_send (batch, &build->build, reaction->id, NULL, 0) == 0 &&
            journal_batch_commit (batch) == 0)
            zhashx_delete (build->reactions, reply.correlation);
        else
            journal_batch_clear (batch);
        break;
    }
    zframe_destroy (&frame);
}

static int s_load_send (void *arg, const char *key, size_t key_len, const uint8_t *value,
                        size_t size)
{
    build_t *build = arg;
    envelope_t envelope;
    if (key_len != ENVELOPE_ID_SIZE || envelope_decode (&envelope, value, size) != 0)
        return 0; //  shoal check reports it
    reaction_t *reaction = s_reaction_new ((const uint8_t *) key, value, size);
    if (!reaction)
        return SHOAL_ENOMEM;
    if (s_keep (build, reaction) != 0)
        projector_reaction_destroy ((void **) &reaction);
    return 0;
}

int projector_load_sends (projector_t *self, build_t *build)
{
    return journal_view_sends (self->journal, &build->build, s_load_send, build);
}

//  The reactions' salt (projector_t.salt), made with the store
//  (journal.c). A store made before it: "none" if it has builds, whose
//  reactions went out under unsalted ids (a rebuild must send the same
//  ones again); else none was ever sent, and one is made here, synced
//  before any can be. After journal_view_list.
int projector_load_salt (projector_t *self)
{
    char *value = NULL;
    int rc = journal_meta_get (self->journal, JOURNAL_SALT_META, &value);
    if (rc == 0) {
        char *end = NULL;
        errno = 0;
        unsigned long long salt = strtoull (value, &end, 16);
        bool none = strcmp (value, "none") == 0;
        bool good = none || (strlen (value) == 16 && end && *end == 0 && errno == 0 &&
                             strspn (value, "0123456789abcdef") == 16);
        if (!good)
            log_error ("projections: the store's %s is '%.40s', not 16 hex digits",
                       JOURNAL_SALT_META, value);
        self->salt = none || !good ? 0 : (uint64_t) salt;
        free (value);
        return good ? 0 : SHOAL_EFORMAT;
    }
    if (rc != SHOAL_ENOTFOUND)
        return rc;
    if (self->build_count > 0) {
        rc = journal_meta_put (self->journal, JOURNAL_SALT_META, "none");
        return rc ? rc : journal_sync_all (self->journal);
    }
    char text[JOURNAL_SALT_CHARS];
    journal_salt_make (text);
    rc = journal_meta_put (self->journal, JOURNAL_SALT_META, text);
    if (rc == 0)
        rc = journal_sync_all (self->journal);
    if (rc == 0)
        self->salt = strtoull (text, NULL, 16);
    return rc;
}

static int s_first_sent (const void *a, const void *b)
{
    int64_t x = (*(const reaction_t *const *) a)->first_at;
    int64_t y = (*(const reaction_t *const *) b)->first_at;
    return (x > y) - (x < y);
}

size_t projector_unanswered (const build_t *build, const reaction_t **out, size_t max)
{
    size_t count = 0, size = zhashx_size (build->reactions);
    const reaction_t **all = size ? malloc (size * sizeof (reaction_t *)) : NULL;
    if (!all)
        return 0;
    for (reaction_t *reaction = zhashx_first (build->reactions); reaction;
         reaction = zhashx_next (build->reactions))
        if (reaction->first_at)
            all[count++] = reaction;
    qsort (all, count, sizeof (reaction_t *), s_first_sent);
    count = count < max ? count : max;
    memcpy (out, all, count * sizeof (reaction_t *));
    free (all);
    return count;
}

int projector_forget (projector_t *self, build_t *build, const char *id, char *reason,
                      size_t reason_size)
{
    uint8_t key[ENVELOPE_ID_SIZE];
    if (!id || repair_unhex (id, key) != 0) {
        snprintf (reason, reason_size,
                  "forget needs the id of an unanswered reaction: 32 hex digits, as shoal "
                  "projections lists it");
        return SHOAL_EINVAL;
    }
    reaction_t *reaction = zhashx_lookup (build->reactions, key);
    if (!reaction) {
        snprintf (reason, reason_size,
                  "%s@%" PRIu32 " has no reaction %s awaiting an answer (answered, or forgotten "
                  "already: see shoal projections)",
                  build->name, build->build.version, id);
        return SHOAL_ENOTFOUND;
    }
    journal_batch_t *batch = self->view.batch;
    int rc = journal_batch_view_send (batch, &build->build, key, NULL, 0);
    rc = rc ? (journal_batch_clear (batch), rc) : projector_commit_synced (self);
    if (rc)
        return rc;
    envelope_t envelope;
    bool known = envelope_decode (&envelope, reaction->frame, reaction->size) == 0;
    log_warn ("projection %s@%" PRIu32 ": an operator forgot reaction %s (%s to %s, sent %d "
              "times, last refused %s): it is not sent again",
              build->name, build->build.version, id, known ? envelope.name : "?",
              known ? envelope.to : "?", reaction->attempts,
              reaction->code[0] ? reaction->code : "by none");
    zhashx_delete (build->reactions, key);
    return 0;
}
