/*  deadletter.c - messages that crash the node, set aside. See
    deadletter.h for the rules and the record.

    Contract: nothing here runs on the command path unless the worker's
    table holds records (a hash lookup per message then); records are
    written with journal_dead_put, a synced write of their own, only at
    start, when a message that had crashed runs through, and on an
    operator's decision.
*/
#include "deadletter.h"
#include "queryargs.h"
#include "data.h"
#include "journal_dead.h"
#include "log.h"
#include "mpread.h"
#include "signer.h"
#include "turn.h"
#include "worker_internal.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WHO_MAX 63
#define WHY_MAX ENVELOPE_REASON_MAX //  an operator's reason, in bytes (resolve's)
#define RECORD_VERSION 1

//  DEAD_CANCELLED: it survived a turn that answered it from its inbox
//  record, a resolve's $cancel (it never ran: it was shown "ran").
typedef enum {
    DEAD_SUSPECT,
    DEAD_DEAD,
    DEAD_RETRIED,
    DEAD_DROPPED,
    DEAD_RAN,
    DEAD_CANCELLED
} dead_state_t;
static const char *s_states[] = {"suspect", "dead", "retried", "dropped", "ran", "cancelled"};
#define DEAD_LAST DEAD_CANCELLED

//  A record, decoded; frame points into the bytes it was decoded from.
typedef struct {
    int64_t kind;
    char name[SHOAL_NAME_MAX + 1];
    int64_t crashes;
    int64_t last_crash; //  ms since the epoch
    dead_state_t state;
    char who[WHO_MAX + 1]; //  the operator who decided, "" if none
    char why[WHY_MAX + 1]; //  and why, as they said it ("" if none: a record of before)
    signer_t signer;       //  the node's word on who ("" if none: no CURVE, or of before)
    int64_t decided_at;    //  ms, 0 if none
    const uint8_t *frame;  //  the envelope, NULL if not kept
    size_t frame_size;
} record_t;

//  A worker's table entry: the state of a record of its shards.
typedef struct {
    dead_state_t state;
} entry_t;

static void s_hex (const uint8_t id[ENVELOPE_ID_SIZE], char *hex)
{
    for (size_t i = 0; i < ENVELOPE_ID_SIZE; i++)
        snprintf (hex + 2 * i, 3, "%02x", id[i]);
}

//  The table key: the id in hex, then the receiver.
static void s_table_key (char *key, const char *to, const uint8_t id[ENVELOPE_ID_SIZE])
{
    s_hex (id, key);
    strcpy (key + 2 * ENVELOPE_ID_SIZE, to);
}
#define TABLE_KEY_MAX (2 * ENVELOPE_ID_SIZE + SHOAL_ADDRESS_MAX + 1)

//  Copies a str of a record into text (max + 1 bytes).
static int s_read_text (const uint8_t *buf, size_t size, size_t *offset, char *text, size_t max)
{
    const uint8_t *bytes;
    size_t len;
    if (mpread_str (buf, size, offset, &bytes, &len) || len > max)
        return SHOAL_EFORMAT;
    memcpy (text, bytes, len);
    text[len] = 0;
    return 0;
}

static int s_decode (const uint8_t *buf, size_t size, record_t *record)
{
    size_t offset = 0;
    uint64_t count;
    int64_t version, state;
    char state_text[16];
    memset (record, 0, sizeof *record);
    //  9 items, or 10 with the operator's reason last (since 2026-12-07),
    //  or 12 with the key and certificate the node found them by (since
    //  2026-12-08).
    if (mpread_array (buf, size, &offset, &count) || (count != 9 && count != 10 && count != 12) ||
        mpread_int (buf, size, &offset, 0, INT64_MAX, &version) || version != RECORD_VERSION ||
        mpread_int (buf, size, &offset, 0, 255, &record->kind) ||
        s_read_text (buf, size, &offset, record->name, SHOAL_NAME_MAX) ||
        mpread_int (buf, size, &offset, 0, INT64_MAX, &record->crashes) ||
        mpread_int (buf, size, &offset, INT64_MIN, INT64_MAX, &record->last_crash) ||
        s_read_text (buf, size, &offset, state_text, sizeof state_text - 1) ||
        s_read_text (buf, size, &offset, record->who, WHO_MAX) ||
        mpread_int (buf, size, &offset, INT64_MIN, INT64_MAX, &record->decided_at) ||
        mpread_bin (buf, size, &offset, &record->frame, &record->frame_size) ||
        (count >= 10 && s_read_text (buf, size, &offset, record->why, WHY_MAX)) ||
        (count == 12 && (s_read_text (buf, size, &offset, record->signer.key, SIGNER_KEY_MAX) ||
                         s_read_text (buf, size, &offset, record->signer.cert, SIGNER_CERT_MAX))) ||
        offset != size)
        return SHOAL_EFORMAT;
    for (state = 0; state <= DEAD_LAST; state++)
        if (strcmp (state_text, s_states[state]) == 0)
            break;
    if (state > DEAD_LAST)
        return SHOAL_EFORMAT;
    record->state = (dead_state_t) state;
    if (record->frame_size == 0)
        record->frame = NULL;
    return 0;
}

//  Encodes record and writes it for (to, key). Returns 0 or an error.
static int s_put (journal_t *journal, const char *to, const uint8_t key[ENVELOPE_ID_SIZE],
                  const record_t *record)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    //  9 items with no reason (a crash's count): a node of before, which
    //  reads 9 only, still reads them after a rollback (a review's find);
    //  12 only with a key.
    bool signed_ = record->signer.key[0] != 0;
    int rc = msgpack_pack_array (&pk, signed_ ? 12 : record->why[0] ? 10 : 9);
    rc |= msgpack_pack_int (&pk, RECORD_VERSION);
    rc |= msgpack_pack_int64 (&pk, record->kind);
    rc |= msgpack_pack_str_with_body (&pk, record->name, strlen (record->name));
    rc |= msgpack_pack_int64 (&pk, record->crashes);
    rc |= msgpack_pack_int64 (&pk, record->last_crash);
    const char *state = s_states[record->state];
    rc |= msgpack_pack_str_with_body (&pk, state, strlen (state));
    rc |= msgpack_pack_str_with_body (&pk, record->who, strlen (record->who));
    rc |= msgpack_pack_int64 (&pk, record->decided_at);
    rc |= msgpack_pack_bin_with_body (&pk, record->frame, record->frame ? record->frame_size : 0);
    if (record->why[0] || signed_)
        rc |= msgpack_pack_str_with_body (&pk, record->why, strlen (record->why));
    if (signed_) {
        rc |= msgpack_pack_str_with_body (&pk, record->signer.key, strlen (record->signer.key));
        rc |= msgpack_pack_str_with_body (&pk, record->signer.cert, strlen (record->signer.cert));
    }
    if (rc == 0)
        rc = journal_dead_put (journal, to, key, (const uint8_t *) buffer.data, buffer.size);
    else
        rc = SHOAL_ENOMEM;
    msgpack_sbuffer_destroy (&buffer);
    return rc;
}

//  Reads the record of (to, key) into record; *bytes holds what it points
//  into (free() it). SHOAL_ENOTFOUND if none.
static int s_get (journal_t *journal, const char *to, const uint8_t key[ENVELOPE_ID_SIZE],
                  record_t *record, uint8_t **bytes)
{
    size_t size;
    *bytes = NULL;
    int rc = journal_dead_get (journal, to, key, bytes, &size);
    if (rc == 0 && (rc = s_decode (*bytes, size, record)) != 0) {
        free (*bytes);
        *bytes = NULL;
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  At start

//  True if turn is a command whose inbox record the journal holds under
//  its 'i' key: its turn was committed, so it ended, and its file came
//  back marked running because a power cut took the clearing back. (A
//  command answered from that record as a duplicate runs no module code,
//  so cannot have crashed the node.) Not so for a turn that ended but
//  whose commit the cut took too, nor for a command whose record is kept
//  in its stream's first event or was dropped since: a duplicate of a
//  creating command loads its actor, whose code may crash the node, and
//  notes are folded at open. Those are counted as before (one crash of
//  three).
static bool s_committed (journal_t *journal, const turnfile_turn_t *turn)
{
    if (turn->kind != ENVELOPE_COMMAND)
        return false;
    uint8_t *reply = NULL;
    size_t size;
    int rc = journal_inbox_get (journal, turn->to, turn->key, &reply, &size);
    free (reply);
    return rc == 0;
}

void deadletter_crashed (void *arg, const turnfile_turn_t *turn)
{
    journal_t *journal = arg;
    record_t record;
    uint8_t *bytes;
    int rc = s_get (journal, turn->to, turn->key, &record, &bytes);
    if (rc == SHOAL_ENOTFOUND || rc == SHOAL_EFORMAT) {
        memset (&record, 0, sizeof record);
        record.state = DEAD_SUSPECT;
    } else if (rc) {
        log_error ("cannot read the dead-letter record of %s: %s", turn->to, shoal_strerror (rc));
        return;
    } else if (record.last_crash == turn->started) {
        //  This very turn was counted at an earlier start: its file came
        //  back marked running (a power cut took the clearing back)
        log_info ("the turn of %s on %s that died at %lld was counted already", turn->name,
                  turn->to, (long long) turn->started);
        free (bytes);
        return;
    }
    if (s_committed (journal, turn)) {
        log_info ("the turn of %s on %s marked running at %lld was committed: it ended, and is "
                  "not counted as a crash",
                  turn->name, turn->to, (long long) turn->started);
        free (bytes);
        return;
    }
    record.kind = turn->kind;
    snprintf (record.name, sizeof record.name, "%s", turn->name);
    record.crashes++;
    record.last_crash = turn->started;
    record.frame = turn->frame;
    record.frame_size = turn->frame_size;
    if (record.state == DEAD_RAN || record.state == DEAD_CANCELLED)
        record.state = DEAD_SUSPECT;
    if (record.crashes >= DEADLETTER_CRASHES)
        record.state = DEAD_DEAD;
    char hex[2 * ENVELOPE_ID_SIZE + 1];
    s_hex (turn->key, hex);
    rc = s_put (journal, turn->to, turn->key, &record);
    if (rc)
        log_error ("cannot record the crash of %s on %s (id %s): %s", turn->to, turn->name, hex,
                   shoal_strerror (rc));
    else if (record.state == DEAD_DEAD)
        log_error ("%s on %s (id %s) crashed the node %lld times in a row: set aside as a dead "
                   "letter (shoal dead-letters)",
                   turn->name, turn->to, hex, (long long) record.crashes);
    else
        log_error ("the node died in a turn of %s on %s (id %s): crash %lld of %d before it is "
                   "set aside",
                   turn->name, turn->to, hex, (long long) record.crashes, DEADLETTER_CRASHES);
    free (bytes);
}

//  --------------------------------------------------------------------------
//  A worker's table

typedef struct {
    zhashx_t *table;
    const worker_config_t *config;
    int index;
} load_t;

static int s_load_entry (void *arg, const char *stream, const uint8_t id[JOURNAL_ID_SIZE],
                         const uint8_t *value, size_t size)
{
    load_t *load = arg;
    record_t record;
    if (worker_of (load->config, stream) != load->index || s_decode (value, size, &record) != 0 ||
        record.state == DEAD_RAN || record.state == DEAD_CANCELLED)
        return 0;
    entry_t *entry = malloc (sizeof (entry_t));
    if (!entry)
        return SHOAL_ENOMEM;
    entry->state = record.state;
    char key[TABLE_KEY_MAX];
    s_table_key (key, stream, id);
    zhashx_update (load->table, key, entry);
    return 0;
}

static void s_free_entry (void **item)
{
    free (*item);
    *item = NULL;
}

//  The dead ones of a worker's table, into its stats (the metrics'
//  shoal_dead_letters): after its load and each change. O(table): a
//  table holds the few messages that ever crashed the node.
static void s_gauge (zhashx_t *table, worker_stats_t *stats)
{
    uint64_t dead = 0;
    for (entry_t *entry = zhashx_first (table); entry; entry = zhashx_next (table))
        dead += entry->state == DEAD_DEAD;
    stats->dead_letters = dead;
}

zhashx_t *deadletter_table_new (journal_t *journal, const worker_config_t *config, int index,
                                int *rc)
{
    zhashx_t *table = zhashx_new ();
    if (!table) {
        *rc = SHOAL_ENOMEM;
        return NULL;
    }
    zhashx_set_destructor (table, s_free_entry);
    load_t load = {table, config, index};
    *rc = journal_dead_scan (journal, s_load_entry, &load);
    if (*rc)
        zhashx_destroy (&table);
    else
        s_gauge (table, &config->stats[index]);
    return table;
}

static entry_t *s_lookup (worker_t *self, const envelope_t *envelope)
{
    if (!self->dead || zhashx_size (self->dead) == 0)
        return NULL;
    char key[TABLE_KEY_MAX];
    uint8_t id[ENVELOPE_ID_SIZE];
    turnfile_key (envelope, id);
    s_table_key (key, envelope->to, id);
    return zhashx_lookup (self->dead, key);
}

//  A dropped reply: its outbox entry is forgotten, unseen by its actor
//  (if it comes from the command's target, as any reply: turn.h).
static void s_forget_reply (worker_t *self, const envelope_t *envelope)
{
    pending_t *pending = outbox_pending_find (self, envelope->correlation);
    if (pending && strcmp (pending->sender, envelope->to) == 0 &&
        outbox_pending_answered_by (pending, envelope->from))
        outbox_forget (self, pending);
}

bool deadletter_stop (worker_t *self, const uint8_t *route, size_t route_size,
                      const envelope_t *envelope)
{
    entry_t *entry = s_lookup (self, envelope);
    if (!entry || (entry->state != DEAD_DEAD && entry->state != DEAD_DROPPED))
        return false;
    bool dropped = entry->state == DEAD_DROPPED;
    if (envelope->kind == ENVELOPE_QUERY && dropped)
        return false; //  an operator let its gets run again
    char hex[2 * ENVELOPE_ID_SIZE + 1];
    uint8_t id[ENVELOPE_ID_SIZE];
    turnfile_key (envelope, id);
    s_hex (id, hex);
    //  Room for the longest address: a reply's reason is cut to its
    //  length when it is encoded (envelope_reply_encode).
    char reason[ENVELOPE_REASON_MAX + SHOAL_ADDRESS_MAX + 160];
    if (envelope->kind == ENVELOPE_COMMAND) {
        if (dropped) {
            snprintf (reason, sizeof reason,
                      "%s (id %s) crashed the node and an operator dropped it; it was not run",
                      envelope->name, hex);
            turn_error (self, route, route_size, envelope, "dropped", reason);
        } else if (route_size) { //  an actor's outbox re-sends: it shows stalled
            snprintf (reason, sizeof reason,
                      "%s (id %s) crashed the node %d times and is set aside as a dead letter; "
                      "see shoal dead-letters",
                      envelope->name, hex, DEADLETTER_CRASHES);
            turn_error (self, route, route_size, envelope, "poisoned", reason);
        }
    } else if (envelope->kind == ENVELOPE_QUERY) {
        snprintf (reason, sizeof reason,
                  "a %s of %s crashed the node %d times (its type's apply(), restore() or "
                  "view()) and is set aside (id %s): fix the module, then shoal dead-letters "
                  "retry --reason WHY %s",
                  envelope->name, envelope->to, DEADLETTER_CRASHES, hex, hex);
        turn_error (self, route, route_size, envelope, "poisoned", reason);
    } else if (envelope->kind == ENVELOPE_REPLY && dropped)
        s_forget_reply (self, envelope);
    else if (envelope->kind == ENVELOPE_TIMER && dropped)
        journal_batch_timer_del (self->batch, envelope->to, envelope->created, envelope->id);
    return true;
}

void deadletter_survived (worker_t *self, const envelope_t *envelope)
{
    entry_t *entry = s_lookup (self, envelope);
    if (!entry || (entry->state != DEAD_SUSPECT && entry->state != DEAD_RETRIED))
        return;
    uint8_t key[ENVELOPE_ID_SIZE];
    turnfile_key (envelope, key);
    record_t record;
    uint8_t *bytes;
    if (s_get (self->config->journal, envelope->to, key, &record, &bytes) == 0) {
        record.state = self->turn_cancelled ? DEAD_CANCELLED : DEAD_RAN;
        record.crashes = 0;
        if (s_put (self->config->journal, envelope->to, key, &record) != 0)
            log_warn ("worker %d: cannot reset the crash count of %s", self->index, envelope->to);
        free (bytes);
    }
    char table_key[TABLE_KEY_MAX];
    s_table_key (table_key, envelope->to, key);
    zhashx_delete (self->dead, table_key);
    s_gauge (self->dead, self->stats);
}

//  --------------------------------------------------------------------------
//  The operator's decisions

bool deadletter_is_query (const char *name)
{
    return strcmp (name, "dead_letter_retry") == 0 || strcmp (name, "dead_letter_drop") == 0;
}

static bool s_parse_hex (const char *hex, uint8_t id[ENVELOPE_ID_SIZE])
{
    if (strlen (hex) != 2 * ENVELOPE_ID_SIZE)
        return false;
    for (size_t i = 0; i < ENVELOPE_ID_SIZE; i++) {
        unsigned value;
        if (!isxdigit ((unsigned char) hex[2 * i]) || !isxdigit ((unsigned char) hex[2 * i + 1]) ||
            sscanf (hex + 2 * i, "%2x", &value) != 1)
            return false;
        id[i] = (uint8_t) value;
    }
    return true;
}

//  Applies the decision to record (read for (to, id)) and its table entry.
static int s_decide (worker_t *self, const char *to, const uint8_t id[ENVELOPE_ID_SIZE],
                     record_t *record, bool retry, const char *who, const char *why,
                     const signer_t *signer)
{
    record->state = retry ? DEAD_RETRIED : DEAD_DROPPED;
    //  A get's drop lets its gets run as a retry does: counted afresh.
    if (retry || record->kind == ENVELOPE_QUERY)
        record->crashes = 0;
    snprintf (record->who, sizeof record->who, "%s", who[0] ? who : "unknown");
    snprintf (record->why, sizeof record->why, "%s", why);
    record->signer = *signer;
    record->decided_at = worker_now ();
    int rc = s_put (self->config->journal, to, id, record);
    if (rc)
        return rc;
    char key[TABLE_KEY_MAX];
    s_table_key (key, to, id);
    entry_t *entry = zhashx_lookup (self->dead, key);
    if (!entry) {
        if (!(entry = malloc (sizeof (entry_t))))
            return SHOAL_ENOMEM;
        zhashx_update (self->dead, key, entry);
    }
    entry->state = record->state;
    s_gauge (self->dead, self->stats);
    envelope_t envelope;
    if (!record->frame || envelope_decode (&envelope, record->frame, record->frame_size) != 0)
        return 0; //  not kept: it comes again when its sender re-sends it
    if (retry)
        worker_send (self, self->index, NULL, 0, record->frame, record->frame_size);
    else if (envelope.kind == ENVELOPE_TIMER)
        journal_batch_timer_del (self->batch, envelope.to, envelope.created, envelope.id);
    return 0;
}

//  A reply's drop strands its saga: the saga never sees it, its command
//  is no longer pending (so no resolve can end it), and, if its target
//  ran the command, the effect stands unanswered (a Debit taken, its
//  transfer never credited nor refunded). True, with why, unless force:
//  the operator must say so.
static bool s_drop_strands (const record_t *record, const char *to, bool force, char *why,
                            size_t size)
{
    if (force || record->kind != ENVELOPE_REPLY)
        return false;
    envelope_t reply;
    bool ok = false;
    char code[ENVELOPE_CODE_MAX + 1] = "", reason[ENVELOPE_REASON_MAX + 1];
    const uint8_t *data;
    size_t data_size;
    bool known = record->frame &&
                 envelope_decode (&reply, record->frame, record->frame_size) == 0 &&
                 envelope_reply_decode (reply.payload, reply.payload_size, &ok, code, reason, &data,
                                        &data_size) == 0;
    //  A reason is at most ENVELOPE_REASON_MAX bytes: what to do comes
    //  first, and the addresses are cut.
    if (known && ok)
        snprintf (why, size,
                  "drop it with --force, or fix the module and retry: it is the reply to %s, "
                  "which %.48s ran (ok); dropped, %.48s never sees it, the effect stands "
                  "unanswered and nothing of it stays pending to resolve",
                  record->name, reply.from, to);
    else if (known)
        snprintf (why, size,
                  "drop it with --force, or fix the module and retry: it is %.48s's refusal of "
                  "%s (%s); dropped, %.48s never sees it and waits, with nothing pending to "
                  "resolve",
                  reply.from, record->name, code, to);
    else
        snprintf (why, size,
                  "drop it with --force, or fix the module and retry: it is a reply to %s; "
                  "dropped, %.48s never sees it and waits, with nothing pending to resolve, and "
                  "any effect of %s stands",
                  record->name, to, record->name);
    return true;
}

void deadletter_query (worker_t *self, const uint8_t *route, size_t route_size,
                       const envelope_t *envelope)
{
    bool retry = strcmp (envelope->name, "dead_letter_retry") == 0;
    char hex[2 * ENVELOPE_ID_SIZE + 2] = "", who[WHO_MAX + 1] = "", why[WHY_MAX + 1] = "";
    char wrong[ENVELOPE_REASON_MAX + 1] = "";
    int who_rc = SHOAL_ENOTFOUND, why_rc = SHOAL_ENOTFOUND;
    bool force = false;
    signer_t signer;
    signer_read (envelope, &signer);
    shoal_data_t args;
    if (data_init (&args, envelope->payload, envelope->payload_size) == 0) {
        shoal_data_str (&args, "id", hex, sizeof hex);
        who_rc = shoal_data_str (&args, "who", who, sizeof who);
        why_rc = shoal_data_str (&args, "why", why, sizeof why);
        queryargs_bool (&args, "force", &force, wrong, sizeof wrong);
    }
    data_close (&args);
    if (wrong[0]) {
        turn_error (self, route, route_size, envelope, "invalid_field", wrong);
        return;
    }
    uint8_t id[ENVELOPE_ID_SIZE];
    if (!s_parse_hex (hex, id)) {
        turn_error (self, route, route_size, envelope, "invalid_field",
                    "id must be 32 hex digits, as shoal dead-letters shows it");
        return;
    }
    //  A who or why that is there but unreadable is refused, not taken as
    //  absent ("unknown", or no reason: an older client sends none) nor cut
    //  at a NUL: the record would name someone, or something, else.
    const char *unread = who_rc != 0 && who_rc != SHOAL_ENOTFOUND   ? "who"
                         : why_rc != 0 && why_rc != SHOAL_ENOTFOUND ? "why"
                                                                    : NULL;
    if (unread) {
        char text[96];
        snprintf (text, sizeof text, "%s must be a string of at most %d bytes without NUL", unread,
                  streq (unread, "who") ? WHO_MAX : WHY_MAX);
        turn_error (self, route, route_size, envelope, "invalid_field", text);
        return;
    }
    record_t record;
    uint8_t *bytes;
    int rc = s_get (self->config->journal, envelope->to, id, &record, &bytes);
    //  Room for the longest address; cut to a reason's length when it is
    //  encoded (envelope_reply_encode).
    char reason[ENVELOPE_REASON_MAX + SHOAL_ADDRESS_MAX + 64];
    if (rc == 0 && record.state != DEAD_DEAD && record.state != DEAD_SUSPECT) {
        snprintf (reason, sizeof reason,
                  "the message %s to %s %s already: only a dead or suspect one is retried "
                  "or dropped",
                  hex, envelope->to,
                  record.state == DEAD_RAN         ? "has run"
                  : record.state == DEAD_CANCELLED ? "was cancelled by a resolve"
                  : record.state == DEAD_DROPPED   ? "was dropped"
                                                   : "was retried");
        turn_error (self, route, route_size, envelope, "not_dead", reason);
    } else if (rc == 0 && !retry &&
               s_drop_strands (&record, envelope->to, force, reason, sizeof reason)) {
        turn_error (self, route, route_size, envelope, "strands_saga", reason);
    } else if (rc == 0 &&
               (rc = s_decide (self, envelope->to, id, &record, retry, who, why, &signer)) == 0) {
        //  An operator's decision, in the log as a resolve is: a retried
        //  message that crashes the node again is then explained there.
        char signed_by[SIGNER_TEXT_MAX];
        signer_text (record.who, &record.signer, signed_by, sizeof signed_by);
        log_info ("worker %d: operator %s %s dead letter %s to %s: %s", self->index, signed_by,
                  retry ? "retries" : "drops", hex, envelope->to,
                  record.why[0] ? record.why : "no reason given");
        shoal_rec_t out;
        rec_init (&out);
        shoal_rec_str (&out, "address", envelope->to);
        shoal_rec_str (&out, "id", hex);
        shoal_rec_str (&out, "state", s_states[record.state]);
        shoal_rec_str (&out, "who", record.who);
        shoal_rec_str (&out, "why", record.why);
        signer_rec (&record.signer, &out);
        size_t size;
        const uint8_t *data = rec_finish (&out, &size);
        uint8_t *payload;
        size_t payload_size;
        if (data &&
            envelope_reply_encode (true, NULL, NULL, data, size, &payload, &payload_size) == 0) {
            turn_reply (self, route, route_size, envelope, payload, payload_size);
            free (payload);
        }
        rec_close (&out);
    } else if (rc == SHOAL_ENOTFOUND) {
        snprintf (reason, sizeof reason, "no dead letter %s for %s", hex, envelope->to);
        turn_error (self, route, route_size, envelope, "not_found", reason);
    } else if (rc) {
        char why_store[ENVELOPE_REASON_MAX + 1];
        turn_error (self, route, route_size, envelope, "unavailable",
                    turn_store_why (self, rc, envelope->name, why_store, sizeof why_store));
    }
    free (bytes);
}

//  --------------------------------------------------------------------------
//  The list

//  A node lists at most this many records, and stops once their bytes pass
//  LIST_BYTES_MAX (2,000 of the longest would not fit a reply); those past
//  are counted (not_shown), and a retry or drop asks for its id alone.
#define LIST_MAX 2000
#define LIST_BYTES_MAX (ENVELOPE_MAX_SIZE / 2)

typedef struct {
    msgpack_packer *pk;
    bool all;
    const uint8_t *id; //  that message's records only; NULL: any
    size_t count;
    size_t not_shown;
} list_t;

static void s_pack_str (msgpack_packer *pk, const char *key, const char *value)
{
    msgpack_pack_str_with_body (pk, key, strlen (key));
    msgpack_pack_str_with_body (pk, value, strlen (value));
}

static void s_pack_int (msgpack_packer *pk, const char *key, int64_t value)
{
    msgpack_pack_str_with_body (pk, key, strlen (key));
    msgpack_pack_int64 (pk, value);
}

static int s_list_entry (void *arg, const char *stream, const uint8_t id[JOURNAL_ID_SIZE],
                         const uint8_t *value, size_t size)
{
    list_t *list = arg;
    record_t record;
    if ((list->id && memcmp (id, list->id, ENVELOPE_ID_SIZE) != 0) ||
        s_decode (value, size, &record) != 0 || (!list->all && record.state != DEAD_DEAD))
        return 0;
    static const char *kinds[] = {"?", "command", "reply", "timer", "query", "stalled"};
    char hex[2 * ENVELOPE_ID_SIZE + 1];
    s_hex (id, hex);
    if (list->count >= LIST_MAX || ((msgpack_sbuffer *) list->pk->data)->size > LIST_BYTES_MAX) {
        list->not_shown++;
        return 0;
    }
    msgpack_packer *pk = list->pk;
    msgpack_pack_map (pk, 12);
    s_pack_str (pk, "address", stream);
    s_pack_str (pk, "kind", kinds[record.kind < 6 ? record.kind : 0]);
    s_pack_str (pk, "command", record.name);
    s_pack_str (pk, "id", hex);
    s_pack_int (pk, "crashes", record.crashes);
    s_pack_int (pk, "last_crash", record.last_crash);
    s_pack_str (pk, "state", s_states[record.state]);
    s_pack_str (pk, "who", record.who);
    s_pack_str (pk, "why", record.why);
    s_pack_str (pk, SIGNER_KEY, record.signer.key);
    s_pack_str (pk, SIGNER_CERT, record.signer.cert);
    s_pack_int (pk, "decided_at", record.decided_at);
    list->count++;
    return 0;
}

int deadletter_list (journal_t *journal, const envelope_t *request, uint8_t **payload, size_t *size,
                     char *why, size_t why_size)
{
    bool all = false;
    char id[2 * ENVELOPE_ID_SIZE + 2] = "";
    uint8_t binary[ENVELOPE_ID_SIZE];
    shoal_data_t args;
    int wrong = 0;
    if (data_init (&args, request->payload, request->payload_size) == 0) {
        wrong = queryargs_bool (&args, "all", &all, why, why_size);
        int rc = wrong ? SHOAL_ENOTFOUND : shoal_data_str (&args, "id", id, sizeof id);
        if (rc != 0 && rc != SHOAL_ENOTFOUND)
            id[0] = '?'; //  not a string, or too long
        if (rc != SHOAL_ENOTFOUND && !s_parse_hex (id, binary)) {
            snprintf (why, why_size, "id must be 32 hex digits, as shoal dead-letters shows it");
            wrong = SHOAL_ETYPE;
        }
    }
    data_close (&args);
    if (wrong)
        return wrong;
    msgpack_sbuffer entries;
    msgpack_sbuffer_init (&entries);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &entries, msgpack_sbuffer_write);
    list_t list = {&pk, all, id[0] ? binary : NULL, 0, 0};
    int rc = journal_dead_scan (journal, s_list_entry, &list);
    if (rc == 0) {
        msgpack_sbuffer map;
        msgpack_sbuffer_init (&map);
        msgpack_packer mpk;
        msgpack_packer_init (&mpk, &map, msgpack_sbuffer_write);
        msgpack_pack_map (&mpk, 2);
        msgpack_pack_str_with_body (&mpk, "dead_letters", 12);
        msgpack_pack_array (&mpk, list.count);
        msgpack_sbuffer_write (&map, entries.data, entries.size);
        msgpack_pack_str_with_body (&mpk, "not_shown", 9);
        msgpack_pack_uint64 (&mpk, list.not_shown);
        rc = envelope_reply_encode (true, NULL, NULL, (const uint8_t *) map.data, map.size, payload,
                                    size);
        msgpack_sbuffer_destroy (&map);
    }
    msgpack_sbuffer_destroy (&entries);
    return rc;
}
