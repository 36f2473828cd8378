/*  projector_serve.c - the projection thread's answers to the queries the
    front passes it (projector.h): the list of builds ("projections"), an
    operator's action ("projection_control") and rows ("projection_rows");
    and the builds' rates and gauges, measured once a second.

    Contract: a query's payload is checked field by field; a bad one is
    answered with "invalid" and changes nothing. Rows are read from the
    build served (or the version asked for), never from one still
    building: a query never sees a half-built version. A page of rows
    stays under half the envelope limit (but for one row alone) and names
    the row the next page starts from, so its answer fits; every request
    gets one reply, an answer that does not fit refused as reply_too_big.

    Threads: the projection thread's.
*/
#include "signer.h"
#include "projector_internal.h"
#include "log.h"
#include "mpread.h"
#include "repair.h"
#include <inttypes.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#define ROWS_LIMIT_DEFAULT 100
#define UNANSWERED_LISTED 10 //  a build's oldest unanswered reactions, listed
#define ROWS_LIMIT_MAX 10000
//  Bytes of rows in one answer at most, but for a row alone: half a
//  reply, as the events query's pages (query.c).
#define ROWS_PAGE_BYTES (ENVELOPE_MAX_SIZE / 2)

//  Encodes the reply and sends it to route through the front. Returns 0,
//  or SHOAL_ETOOBIG (over ENVELOPE_MAX_SIZE), SHOAL_ENOMEM, SHOAL_EIO (the
//  front would not take it) with nothing sent.
static int s_send (projector_t *self, const uint8_t *route, size_t route_size,
                   const envelope_t *request, bool ok, const char *code, const char *reason,
                   const uint8_t *data, size_t size)
{
    uint8_t *payload = NULL, *frame = NULL;
    size_t payload_size = 0, frame_size = 0;
    int rc = envelope_reply_encode (ok, code, reason, data, size, &payload, &payload_size);
    if (rc)
        return rc;
    envelope_t reply = {0};
    reply.kind = ENVELOPE_REPLY;
    envelope_new_id (reply.id);
    memcpy (reply.correlation, request->id, ENVELOPE_ID_SIZE);
    snprintf (reply.from, sizeof reply.from, "%s", request->to);
    snprintf (reply.name, sizeof reply.name, "%s", request->name);
    reply.payload = payload;
    reply.payload_size = payload_size;
    reply.created = zclock_time ();
    rc = envelope_encode (&reply, &frame, &frame_size);
    if (rc == 0) {
        void *front = zsock_resolve (self->front);
        //  Held by the front behind a sync as a worker's are, and bounded
        //  with them: past 64 MiB out this thread waits too.
        worker_outbound_add (self->config->outbound, route_size + frame_size);
        if (zmq_send (front, route, route_size, ZMQ_SNDMORE) == -1 ||
            zmq_send (front, frame, frame_size, 0) == -1) {
            worker_outbound_sub (self->config->outbound, route_size + frame_size);
            rc = SHOAL_EIO;
        }
    }
    free (payload);
    free (frame);
    return rc;
}

void projector_answer (projector_t *self, const uint8_t *route, size_t route_size,
                       const envelope_t *request, bool ok, const char *code, const char *reason,
                       const uint8_t *data, size_t size)
{
    int rc = s_send (self, route, route_size, request, ok, code, reason, data, size);
    if (rc == SHOAL_ETOOBIG) { //  said, never silence: one reply per request
        char why[ENVELOPE_REASON_MAX + 1];
        snprintf (why, sizeof why,
                  "the answer to %s is %zu bytes, more than a reply holds (%d bytes in all)",
                  request->name, size, ENVELOPE_MAX_SIZE);
        log_warn ("projection thread: %s: answered reply_too_big", why);
        rc = s_send (self, route, route_size, request, false, "reply_too_big", why, NULL, 0);
    }
    if (rc)
        log_error ("projection thread: the answer to %s was not sent: %s", request->name,
                   shoal_strerror (rc));
}

static void s_pack_str (msgpack_packer *pk, const char *key, const char *value)
{
    msgpack_pack_str_with_body (pk, key, strlen (key));
    msgpack_pack_str_with_body (pk, value, strlen (value));
}

static void s_pack_uint (msgpack_packer *pk, const char *key, uint64_t value)
{
    msgpack_pack_str_with_body (pk, key, strlen (key));
    msgpack_pack_uint64 (pk, value);
}

static void s_pack_bool (msgpack_packer *pk, const char *key, bool value)
{
    msgpack_pack_str_with_body (pk, key, strlen (key));
    if (value)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
}

//  "sends_oldest_ms", how long the oldest of build's reactions sent and
//  not answered has waited since its first send (0: none), and
//  "unanswered": the oldest of them, each {id, to, command, sent (times),
//  waited_ms, code (the last refusal that left it open, "" for none: no
//  answer)}.
static void s_pack_unanswered (msgpack_packer *pk, const build_t *build)
{
    const reaction_t *oldest[UNANSWERED_LISTED];
    size_t count = projector_unanswered (build, oldest, UNANSWERED_LISTED);
    int64_t now = zclock_mono ();
    s_pack_uint (pk, "sends_oldest_ms", count ? (uint64_t) (now - oldest[0]->first_at) : 0);
    msgpack_pack_str_with_body (pk, "unanswered", 10);
    msgpack_pack_array (pk, (uint32_t) count);
    for (size_t i = 0; i < count; i++) {
        const reaction_t *reaction = oldest[i];
        envelope_t envelope;
        bool known = envelope_decode (&envelope, reaction->frame, reaction->size) == 0;
        char hex[2 * ENVELOPE_ID_SIZE + 1];
        repair_hex (reaction->id, hex);
        msgpack_pack_map (pk, 6);
        s_pack_str (pk, "id", hex);
        s_pack_str (pk, "to", known ? envelope.to : "");
        s_pack_str (pk, "command", known ? envelope.name : "");
        s_pack_uint (pk, "sent", (uint64_t) reaction->attempts);
        s_pack_uint (pk, "waited_ms", (uint64_t) (now - reaction->first_at));
        s_pack_str (pk, "code", reaction->code);
    }
}

//  {"end": N, "projections": [{name, version, build, status, served,
//  registered, manual_switch, position, lag, applied, batches, skipped, rate,
//  eta_s, error, error_position, sends}...]}, and "changed" after an
//  action (changed not NULL): false when it found nothing to do.
static void s_list (projector_t *self, const uint8_t *route, size_t route_size,
                    const envelope_t *request, const bool *changed)
{
    uint64_t end = journal_log_end (self->journal);
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, changed ? 3 : 2);
    s_pack_uint (&pk, "end", end);
    if (changed)
        s_pack_bool (&pk, "changed", *changed);
    msgpack_pack_str_with_body (&pk, "projections", 11);
    msgpack_pack_array (&pk, (uint32_t) self->build_count);
    for (size_t i = 0; i < self->build_count; i++) {
        build_t *build = self->builds[i];
        uint64_t lag = end > build->cp.next ? end - build->cp.next : 0;
        msgpack_pack_map (&pk, 19);
        s_pack_str (&pk, "name", build->name);
        s_pack_uint (&pk, "version", build->build.version);
        s_pack_uint (&pk, "build", build->build.build);
        s_pack_str (&pk, "status", projector_status_name (self, build));
        s_pack_bool (&pk, "served", build->served);
        s_pack_bool (&pk, "registered", build->def != NULL);
        s_pack_bool (&pk, "manual_switch", build->def && build->def->manual_switch);
        s_pack_uint (&pk, "position", build->cp.next);
        s_pack_uint (&pk, "lag", lag);
        s_pack_uint (&pk, "applied", build->cp.applied);
        s_pack_uint (&pk, "batches", build->batches);
        s_pack_uint (&pk, "skipped", build->cp.skipped);
        //  A paused or failed build does not move, whatever it did before.
        bool still = build->cp.paused || build->failed;
        s_pack_uint (&pk, "rate", still ? 0 : (uint64_t) (build->rate + 0.5));
        //  The time left at the measured rate; -1 when it is not moving.
        msgpack_pack_str_with_body (&pk, "eta_s", 5);
        if (lag == 0)
            msgpack_pack_int64 (&pk, 0);
        else if (build->rate >= 1 && build->def && !build->failed && !build->cp.paused)
            msgpack_pack_int64 (&pk, (int64_t) ((double) lag / build->rate + 0.5));
        else
            msgpack_pack_int64 (&pk, -1);
        s_pack_str (&pk, "error", build->failed ? build->error : "");
        msgpack_pack_str_with_body (&pk, "error_position", 14);
        if (build->failed)
            msgpack_pack_uint64 (&pk, build->error_position);
        else
            msgpack_pack_nil (&pk);
        s_pack_uint (&pk, "sends", zhashx_size (build->reactions));
        s_pack_unanswered (&pk, build);
    }
    projector_answer (self, route, route_size, request, true, NULL, NULL,
                      (const uint8_t *) buffer.data, buffer.size);
    msgpack_sbuffer_destroy (&buffer);
}

//  A query's fields, each read as it was sent or refused: a field that
//  is present but of another type, holds a NUL or is too long is never
//  read as absent, nor as the bytes before its NUL ("pause\0x" is not
//  "pause"). why gets what is wrong, to answer "invalid" with.
typedef struct {
    shoal_data_t data;                 //  the payload
    char why[ENVELOPE_REASON_MAX + 1]; //  what is wrong, once a read said SHOAL_EINVAL
} args_t;

//  Parses the request's payload. Returns 0 or SHOAL_EINVAL (args->why
//  says so); close args->data either way.
static int s_args_init (args_t *args, const envelope_t *request)
{
    snprintf (args->why, sizeof args->why, "the payload is not a map");
    return data_init (&args->data, request->payload, request->payload_size) ? SHOAL_EINVAL : 0;
}

//  Reads string field key into buf (size bytes, so size - 1 at most);
//  present (may be NULL) says whether it was there. Returns 0 (absent:
//  buf unchanged) or SHOAL_EINVAL.
static int s_arg_str (args_t *args, const char *key, char *buf, size_t size, bool *present)
{
    int rc = shoal_data_str (&args->data, key, buf, size);
    if (present)
        *present = rc != SHOAL_ENOTFOUND;
    if (rc == 0 || rc == SHOAL_ENOTFOUND)
        return 0;
    snprintf (args->why, sizeof args->why,
              "%s must be a string of at most %zu bytes without NUL (it %s)", key, size - 1,
              rc == SHOAL_ETYPE     ? "is not a string"
              : rc == SHOAL_EFORMAT ? "holds a NUL byte"
                                    : "is longer");
    return SHOAL_EINVAL;
}

//  Reads integer field key into value, which must be from min to max.
//  Returns 0 (absent: value unchanged) or SHOAL_EINVAL.
static int s_arg_int (args_t *args, const char *key, int64_t min, int64_t max, int64_t *value)
{
    int64_t number;
    int rc = shoal_data_int (&args->data, key, &number);
    if (rc == SHOAL_ENOTFOUND)
        return 0;
    if (rc != 0 || number < min || number > max) {
        snprintf (args->why, sizeof args->why, "%s must be an integer from %" PRId64 " to %" PRId64,
                  key, min, max);
        return SHOAL_EINVAL;
    }
    *value = number;
    return 0;
}

//  The name and version a request names: {"name": str, "version": int}
//  (version absent or 0: the one served). Returns 0 or SHOAL_EINVAL.
static int s_target (args_t *args, char *name, size_t name_size, uint32_t *version)
{
    int64_t number = 0;
    bool present;
    if (s_arg_str (args, "name", name, name_size, &present) != 0)
        return SHOAL_EINVAL;
    if (!present || !journal_view_name_ok (name)) {
        snprintf (args->why, sizeof args->why,
                  "name must be a projection's name ([a-z][a-z0-9_-]*, 1 to %d bytes)",
                  SHOAL_TYPE_MAX);
        return SHOAL_EINVAL;
    }
    if (s_arg_int (args, "version", 0, UINT32_MAX, &number) != 0)
        return SHOAL_EINVAL;
    *version = (uint32_t) number;
    return 0;
}

static const char *s_code (int rc)
{
    return rc == SHOAL_ENOTFOUND ? "not_found"
           : rc == SHOAL_EBUSY   ? "busy_projection"
           : rc == SHOAL_EINVAL  ? "invalid"
                                 : "unavailable";
}

static void s_control (projector_t *self, const uint8_t *route, size_t route_size,
                       const envelope_t *request)
{
    char name[SHOAL_TYPE_MAX + 1], action[16], id[2 * ENVELOPE_ID_SIZE + 1] = "";
    char who[64] = "", why[ENVELOPE_REASON_MAX + 1] = ""; //  the operator's, as they said them
    uint32_t version = 0;
    int64_t position = -1;
    bool has_action = false, has_id = false;
    args_t args;
    int rc = s_args_init (&args, request);
    if (rc == 0)
        rc = s_target (&args, name, sizeof name, &version);
    if (rc == 0)
        rc = s_arg_str (&args, "action", action, sizeof action, &has_action);
    if (rc == 0 && !has_action) {
        snprintf (args.why, sizeof args.why, "expected {action, name, version, position}");
        rc = SHOAL_EINVAL;
    }
    if (rc == 0)
        rc = s_arg_int (&args, "position", 0, INT64_MAX, &position);
    if (rc == 0)
        rc = s_arg_str (&args, "id", id, sizeof id, &has_id);
    if (rc == 0)
        rc = s_arg_str (&args, "who", who, sizeof who, NULL);
    if (rc == 0)
        rc = s_arg_str (&args, "why", why, sizeof why, NULL);
    data_close (&args.data);
    if (rc) {
        projector_answer (self, route, route_size, request, false, "invalid", args.why, NULL, 0);
        return;
    }
    if (strcmp (action, "skip") == 0 && position < 0) {
        projector_answer (self, route, route_size, request, false, "invalid",
                          "skip needs the position of the event to skip", NULL, 0);
        return;
    }
    char reason[ENVELOPE_REASON_MAX + 1] = "";
    bool changed;
    rc = projector_control (self, action, name, version, (uint64_t) position, has_id ? id : NULL,
                            &changed, reason, sizeof reason);
    if (rc) {
        projector_answer (self, route, route_size, request, false, s_code (rc), reason, NULL, 0);
        return;
    }
    //  Who and why as they said them, and the key the front let them in
    //  by (signer.h).
    signer_t signer;
    char signed_by[SIGNER_TEXT_MAX];
    signer_read (request, &signer);
    signer_text (who[0] ? who : "unknown", &signer, signed_by, sizeof signed_by);
    log_info ("projection %s%s%.0" PRIu32 ": %s by operator %s%s%s%s", name, version ? "@" : "",
              version, action, signed_by, changed ? "" : " (nothing to do)", why[0] ? ": " : "",
              why);
    s_list (self, route, route_size, request, &changed);
}

//  A page of rows: it stops at the rows asked for or at ROWS_PAGE_BYTES,
//  so that its answer fits in a reply, and says where the next page
//  starts.
typedef struct {
    msgpack_sbuffer buffer;              //  the rows, packed one after the other
    msgpack_packer pk;                   //  into buffer
    uint32_t count;                      //  rows in buffer
    uint32_t limit;                      //  rows asked for, at most
    char next[JOURNAL_VIEW_KEY_MAX + 1]; //  the first row left out, "" if none
} rows_t;

//  Adds a row to the page, or, once the page is full (limit rows, or this
//  one would take it past ROWS_PAGE_BYTES), keeps its key as next and
//  returns 1 to stop. A row alone in its page is always added, whatever
//  its size: the answer refuses it as reply_too_big if it does not fit.
static int s_row (void *arg, const char *key, size_t key_len, const uint8_t *value, size_t size)
{
    rows_t *rows = arg;
    if (!mpread_is_map (value, size, MPREAD_DEPTH_ANY))
        return 0; //  shoal check reports it
    if (key_len > JOURNAL_VIEW_KEY_MAX)
        return SHOAL_EFORMAT;
    if (rows->count == rows->limit ||
        (rows->count > 0 && rows->buffer.size + key_len + size + 16 > ROWS_PAGE_BYTES)) {
        memcpy (rows->next, key, key_len);
        rows->next[key_len] = 0;
        return 1;
    }
    msgpack_pack_map (&rows->pk, 2);
    msgpack_pack_str_with_body (&rows->pk, "key", 3);
    msgpack_pack_str_with_body (&rows->pk, key, key_len);
    msgpack_pack_str_with_body (&rows->pk, "row", 3);
    msgpack_sbuffer_write (&rows->buffer, (const char *) value, size);
    rows->count++;
    return 0;
}

//  Reads the arguments of a projection_rows request. Returns 0, or
//  SHOAL_EINVAL with args->why.
static int s_rows_args (args_t *args, const envelope_t *request, char *name, uint32_t *version,
                        char *key, bool *by_key, char *prefix, char *from, int64_t *limit)
{
    bool has_from = false;
    int rc = s_args_init (args, request);
    if (rc == 0)
        rc = s_target (args, name, SHOAL_TYPE_MAX + 1, version);
    if (rc == 0)
        rc = s_arg_str (args, "key", key, JOURNAL_VIEW_KEY_MAX + 1, by_key);
    if (rc == 0 && *by_key && !key[0]) {
        snprintf (args->why, sizeof args->why, "key must be 1 to %d bytes, not empty",
                  JOURNAL_VIEW_KEY_MAX);
        rc = SHOAL_EINVAL;
    }
    if (rc == 0)
        rc = s_arg_str (args, "prefix", prefix, JOURNAL_VIEW_KEY_MAX + 1, NULL);
    if (rc == 0)
        rc = s_arg_str (args, "from", from, JOURNAL_VIEW_KEY_MAX + 1, &has_from);
    if (rc == 0 && *by_key && (has_from || prefix[0])) { //  a prefix was dropped without a word
        snprintf (args->why, sizeof args->why, "%s",
                  has_from ? "from goes with a prefix, not with a key"
                           : "a prefix lists rows, a key asks for one: not both");
        rc = SHOAL_EINVAL;
    }
    if (rc == 0)
        rc = s_arg_int (args, "limit", 1, ROWS_LIMIT_MAX, limit);
    data_close (&args->data);
    return rc;
}

//  {name, version?, key? | prefix?, from?, limit?} -> {name, version,
//  position, lag, rows: [{key, row}], next: str | nil}
static void s_rows (projector_t *self, const uint8_t *route, size_t route_size,
                    const envelope_t *request)
{
    char name[SHOAL_TYPE_MAX + 1], key[JOURNAL_VIEW_KEY_MAX + 1] = "",
                                                              prefix[JOURNAL_VIEW_KEY_MAX + 1] = "",
                                                              from[JOURNAL_VIEW_KEY_MAX + 1] = "";
    uint32_t version = 0;
    int64_t limit = ROWS_LIMIT_DEFAULT;
    bool by_key = false;
    args_t args;
    if (s_rows_args (&args, request, name, &version, key, &by_key, prefix, from, &limit) != 0) {
        projector_answer (self, route, route_size, request, false, "invalid", args.why, NULL, 0);
        return;
    }
    //  A version asked for by number is read from its served build, else
    //  its newest that has caught up; never one that has not.
    build_t *build = version ? projector_pick (self, name, version) : projector_served (self, name);
    char reason[ENVELOPE_REASON_MAX + 1];
    if (!build) {
        //  "yet" only for a name with builds, none served so far (its
        //  first version still building): another name may never be.
        bool named = false;
        for (size_t i = 0; i < self->build_count && !named; i++)
            named = strcmp (self->builds[i]->name, name) == 0;
        snprintf (reason, sizeof reason,
                  version ? "no projection %s@%" PRIu32 " on this node"
                  : named ? "no version of %s is served yet on this node%.0" PRIu32
                          : "no version of %s is served on this node (shoal projections lists "
                            "them)%.0" PRIu32,
                  name, version);
        projector_answer (self, route, route_size, request, false, "not_found", reason, NULL, 0);
        return;
    }
    if (!build->served && !build->cp.caught_up) {
        uint64_t end = journal_log_end (self->journal);
        snprintf (reason, sizeof reason,
                  "%s@%" PRIu32 " is still building (%" PRIu64 " of %" PRIu64
                  " events): it answers once it has caught up",
                  name, build->build.version, build->cp.next, end);
        projector_answer (self, route, route_size, request, false, "not_ready", reason, NULL, 0);
        return;
    }
    rows_t rows = {.count = 0, .limit = by_key ? 1 : (uint32_t) limit};
    msgpack_sbuffer_init (&rows.buffer);
    msgpack_packer_init (&rows.pk, &rows.buffer, msgpack_sbuffer_write);
    int rc;
    if (by_key) {
        uint8_t *row = NULL;
        size_t row_size = 0;
        rc = journal_view_get (self->journal, &build->build, key, &row, &row_size);
        if (rc == 0)
            rc = s_row (&rows, key, strlen (key), row, row_size);
        if (rc == SHOAL_ENOTFOUND)
            rc = 0;
        free (row);
    } else {
        rc = journal_view_scan (self->journal, &build->build, prefix, from, 0, s_row, &rows);
        if (rc > 0) //  the page is full
            rc = 0;
    }
    if (rc) {
        projector_answer (self, route, route_size, request, false, "unavailable",
                          shoal_strerror (rc), NULL, 0);
        msgpack_sbuffer_destroy (&rows.buffer);
        return;
    }
    msgpack_sbuffer answer;
    msgpack_sbuffer_init (&answer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &answer, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 7);
    s_pack_str (&pk, "name", build->name);
    s_pack_uint (&pk, "version", build->build.version);
    s_pack_uint (&pk, "position", build->cp.next);
    s_pack_uint (&pk, "lag", journal_log_end (self->journal) - build->cp.next);
    //  Why its rows do not move, if they do not: a reader of stale rows is
    //  told so (shoal query says it on stderr).
    //  An orphan (no module registers its version any more: the upgrade
    //  replaced it) is served until its successor has caught up, and
    //  never moves: it was said held by nothing.
    s_pack_str (&pk, "held",
                build->cp.paused ? "paused"
                : build->failed  ? "failed"
                : !build->def    ? "orphan"
                                 : "");
    msgpack_pack_str_with_body (&pk, "rows", 4);
    msgpack_pack_array (&pk, rows.count);
    msgpack_sbuffer_write (&answer, rows.buffer.data, rows.buffer.size);
    msgpack_pack_str_with_body (&pk, "next", 4);
    if (rows.next[0])
        msgpack_pack_str_with_body (&pk, rows.next, strlen (rows.next));
    else
        msgpack_pack_nil (&pk);
    projector_answer (self, route, route_size, request, true, NULL, NULL,
                      (const uint8_t *) answer.data, answer.size);
    msgpack_sbuffer_destroy (&answer);
    msgpack_sbuffer_destroy (&rows.buffer);
}

void projector_serve (projector_t *self, const uint8_t *route, size_t route_size,
                      const uint8_t *frame, size_t size)
{
    envelope_t request;
    if (envelope_decode (&request, frame, size) != 0)
        return; //  the front checked it
    if (strcmp (request.name, "projections") == 0)
        s_list (self, route, route_size, &request, NULL);
    else if (strcmp (request.name, "projection_control") == 0)
        s_control (self, route, route_size, &request);
    else if (strcmp (request.name, "projection_rows") == 0)
        s_rows (self, route, route_size, &request);
    else
        projector_answer (self, route, route_size, &request, false, "unknown_query",
                          "the projection thread answers projections, projection_control and "
                          "projection_rows",
                          NULL, 0);
}

//  --------------------------------------------------------------------------
//  What the builds show: rates and the metrics' gauges

//  The builds' gauges, for the metrics (projector_config_t.gauges).
static void s_gauges (projector_t *self)
{
    projector_gauges_t *gauges = self->config->gauges;
    if (!gauges)
        return;
    uint64_t end = journal_log_end (self->journal);
    pthread_mutex_lock (&gauges->lock);
    gauges->count = 0;
    for (size_t i = 0; i < self->build_count && gauges->count < PROJECTOR_GAUGES_MAX; i++) {
        build_t *build = self->builds[i];
        projector_gauge_t *gauge = &gauges->items[gauges->count++];
        snprintf (gauge->name, sizeof gauge->name, "%s", build->name);
        gauge->version = build->build.version;
        gauge->build = build->build.build;
        gauge->position = build->cp.next;
        gauge->lag = end > build->cp.next ? end - build->cp.next : 0;
        gauge->applied = build->cp.applied;
        gauge->batches = build->batches;
        gauge->failed = build->failed;
        gauge->paused = build->cp.paused;
        gauge->served = build->served;
    }
    pthread_mutex_unlock (&gauges->lock);
}

//  Each build's events applied per second, smoothed, for the list.
static void s_rates (projector_t *self)
{
    int64_t now = zclock_mono ();
    for (size_t i = 0; i < self->build_count; i++) {
        build_t *build = self->builds[i];
        int64_t elapsed = now - build->rate_at;
        if (elapsed < PROJECTOR_RATE_EVERY_MS)
            continue;
        double rate = (double) (build->cp.next - build->rate_mark) * 1000.0 / (double) elapsed;
        build->rate = build->rate == 0 ? rate : 0.5 * build->rate + 0.5 * rate;
        build->rate_mark = build->cp.next;
        build->rate_at = now;
    }
}

void projector_measure (projector_t *self)
{
    s_rates (self);
    s_gauges (self);
}
