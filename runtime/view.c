/*  view.c - what an apply sees and does: the event (shoal_event_*), the
    rows of its build (shoal_view_get/put/delete), its reactions
    (shoal_view_send) and its failure (shoal_view_fail), staged for the
    projection thread's next commit (projector.c).

    Contract: a batch's rows are staged in a hash, so that an apply reads
    what the applies before it in the same batch wrote; the journal batch
    gets them only when the batch is committed whole (view_stage). A row
    or command being written (its rec) is closed when the apply calls
    the next shoal_view_* or returns. Misuse (a bad key, address or name,
    too many sends, a row or command written wrongly) fails the apply, and
    nothing of it is kept; its reason names the call and the limit
    (viewcheck.h).

    Threads: the projection thread's.
*/
#include "projector_internal.h"
#include "log.h"
#include "viewcheck.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void view_init (shoal_view_t *view, projector_t *projector)
{
    memset (view, 0, sizeof *view);
    view->projector = projector;
    vmap_init (&view->rows);
    viewrecs_init (&view->recs);
}

static void s_close_reads (shoal_view_t *view)
{
    for (size_t i = 0; i < view->read_count; i++) {
        data_close (view->reads[i]);
        free (view->reads[i]);
        free (view->read_bytes[i]);
    }
    view->read_count = 0;
}

static void s_reaction_free (reaction_t **reaction_p)
{
    if (*reaction_p) {
        free ((*reaction_p)->frame);
        free (*reaction_p);
        *reaction_p = NULL;
    }
}

//  Empties a map for the next batch: its memory is kept, unless a batch
//  larger than those kept (a rebuild's) made it large.
static void s_recycle (vmap_t *map)
{
    if (vmap_bytes (map) > VIEW_KEPT_BYTES_MAX)
        vmap_close (map);
    else
        vmap_clear (map);
}

void view_discard (shoal_view_t *view)
{
    s_recycle (&view->rows);
    for (size_t i = 0; i < view->staged_count; i++)
        s_reaction_free (&view->staged_sends[i]);
    view->staged_count = 0;
}

void view_close (shoal_view_t *view)
{
    view_discard (view);
    s_close_reads (view);
    vmap_close (&view->rows);
    free (view->reads);
    free (view->read_bytes);
    free (view->staged_sends);
    free (view->batch_state);
    viewrecs_close (&view->recs);
}

int view_begin (shoal_view_t *view, build_t *build, uint64_t react_from, bool hold)
{
    view_discard (view);
    view->build = build;
    view->react = react_from != UINT64_MAX;
    view->react_from = react_from;
    view->hold = hold;
    size_t size = build->def ? build->def->batch_state_size : 0;
    if (size > view->batch_state_cap) {
        void *grown = realloc (view->batch_state, size);
        if (!grown)
            return SHOAL_ENOMEM;
        view->batch_state = grown;
        view->batch_state_cap = size;
    }
    if (size)
        memset (view->batch_state, 0, size);
    return 0;
}

void view_committed (shoal_view_t *view)
{
    build_t *build = view->build;
    if (vmap_count (&view->rows) == 0)
        return; //  the batch wrote no row: the rows kept are still the store's
    if (vmap_bytes (&view->rows) > VIEW_KEPT_BYTES_MAX) {
        //  Too large to keep (a rebuild's, or a long linger's): the rows
        //  kept before may be stale now, and go too.
        s_recycle (&view->rows);
        vmap_clear (&build->kept);
        return;
    }
    vmap_t older = build->kept;
    build->kept = view->rows;
    view->rows = older;
    s_recycle (&view->rows);
}

void view_forget (build_t *build, uint64_t until)
{
    vmap_clear (&build->kept);
    if (until > build->doubt_until)
        build->doubt_until = until;
}

static const staged_row_t *s_found (int64_t *found)
{
    return found ? (const staged_row_t *) (intptr_t) *found : NULL;
}

//  The row under key as the build's last committed batch wrote it (as
//  the store holds it), or NULL if it did not: the store knows.
static const staged_row_t *s_kept (const shoal_view_t *view, const char *key)
{
    return s_found (vmap_find (&view->build->kept, key));
}

//  What the store held under key before this batch, as far as it is known
//  without reading it: from the row this batch staged (staged), else from
//  the build's last batch.
static stored_t s_stored (const shoal_view_t *view, const staged_row_t *staged, const char *key)
{
    if (staged)
        return (stored_t) staged->stored;
    const staged_row_t *kept = s_kept (view, key);
    return !kept ? STORED_UNKNOWN : kept->deleted ? STORED_NONE : STORED_ROW;
}

//  Records the apply's first misuse: error, and what it was (printf
//  format) as its reason, which `shoal projections` and the log show.
//  Returns error.
static int s_misuse (shoal_view_t *view, int error, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static int s_misuse (shoal_view_t *view, int error, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    viewcheck_misuse (&view->error, view->reason, sizeof view->reason, error, format, args);
    va_end (args);
    return error;
}

//  --------------------------------------------------------------------------
//  The row or command being written

//  The id of the rank-th command sent for the event at position by the
//  projection name: the same on every replay, so that the target's inbox
//  answers a re-send from its record. Its last 8 bytes are position and
//  rank (unique within the projection); its first 8 mix them with the
//  hash of the store's salt (projector_t.salt: secret, so a client cannot
//  take the id first) and the name, as id tables hash an id by its first
//  bytes.
static void s_reaction_id (uint8_t id[ENVELOPE_ID_SIZE], uint64_t salt, const char *name,
                           uint64_t position, int rank)
{
    uint64_t hash = 14695981039346656037ull;
    for (int i = 0; salt && i < 8; i++) //  an unsalted store's ids as they were
        hash = (hash ^ (uint8_t) (salt >> (56 - 8 * i))) * 1099511628211ull;
    for (const char *c = name; *c; c++)
        hash = (hash ^ (uint8_t) *c) * 1099511628211ull;
    uint64_t tail = position << 4 | (uint64_t) rank;
    uint64_t mixed = hash ^ tail; //  splitmix64's finalizer
    mixed = (mixed ^ (mixed >> 30)) * 0xbf58476d1ce4e5b9ull;
    mixed = (mixed ^ (mixed >> 27)) * 0x94d049bb133111ebull;
    mixed ^= mixed >> 31;
    for (int i = 0; i < 8; i++) {
        id[i] = (uint8_t) (mixed >> (56 - 8 * i));
        id[8 + i] = (uint8_t) (tail >> (56 - 8 * i));
    }
}

//  Keeps the command written in the rec: encoded, staged for the commit,
//  if it could go out (viewcheck_command: else the apply fails, saying
//  why, and the projection stops at the event; an event stored before the
//  node checked its clients' strings may hold bytes that are not UTF-8).
static void s_close_send (shoal_view_t *view, const uint8_t *fields, size_t size)
{
    envelope_t envelope = {0};
    envelope.kind = ENVELOPE_COMMAND;
    s_reaction_id (envelope.id, view->projector->salt, view->build->name, view->logged->position,
                   view->sends - 1);
    viewcheck_sender (envelope.from, view->build->name);
    snprintf (envelope.to, sizeof envelope.to, "%s", view->send_to);
    snprintf (envelope.name, sizeof envelope.name, "%s", view->send_name);
    envelope.payload = fields;
    envelope.payload_size = size;
    envelope.created = projector_created (view->projector, view->build, view->logged->position,
                                          view->logged->created);
    reaction_t *reaction = calloc (1, sizeof (reaction_t));
    if (!reaction) {
        view->error = view->error ? view->error : SHOAL_ENOMEM;
        return;
    }
    if (viewcheck_command (&view->error, view->reason, sizeof view->reason, &envelope,
                           &reaction->frame, &reaction->size) != 0) {
        free (reaction);
        return;
    }
    memcpy (reaction->id, envelope.id, ENVELOPE_ID_SIZE);
    if (view->staged_count == view->staged_cap) {
        size_t cap = view->staged_cap ? 2 * view->staged_cap : 64;
        reaction_t **grown = realloc (view->staged_sends, cap * sizeof (reaction_t *));
        if (!grown) {
            s_reaction_free (&reaction);
            view->error = SHOAL_ENOMEM;
            return;
        }
        view->staged_sends = grown;
        view->staged_cap = cap;
    }
    view->staged_sends[view->staged_count++] = reaction;
}

//  Stages a row (bytes NULL: deleted) in the batch's map, carved from
//  the map's chunks (a row staged again leaves its older room until the
//  batch ends). Returns it, or NULL out of memory (view->error set).
static staged_row_t *s_stage_row (shoal_view_t *view, const char *key, const uint8_t *bytes,
                                  size_t size, stored_t stored)
{
    staged_row_t *row = vmap_alloc (&view->rows, sizeof (staged_row_t) + size);
    if (!row || !vmap_put (&view->rows, key, (int64_t) (intptr_t) row)) {
        view->error = SHOAL_ENOMEM;
        return NULL;
    }
    row->deleted = bytes == NULL;
    row->stored = (uint8_t) stored;
    row->size = size;
    if (size)
        memcpy (row->bytes, bytes, size);
    return row;
}

//  Closes the row or command being written, if any.
static void s_close_rec (shoal_view_t *view)
{
    if (!view->rec_open)
        return;
    view->rec_open = false;
    shoal_rec_t *rec = viewrecs_last (&view->recs);
    size_t size;
    const uint8_t *fields = rec_finish (rec, &size);
    if (!fields) {
        viewcheck_rec_failed (&view->error, view->reason, sizeof view->reason,
                              rec->failed ? rec->failed : SHOAL_EINVAL, rec_misuse (rec),
                              view->open_send, view->send_name, view->open_key);
        viewrecs_seal_last (&view->recs);
        return;
    }
    if (view->open_send) {
        if (view->react && view->logged->position >= view->react_from)
            s_close_send (view, fields, size);
    } else if (viewcheck_row_size (&view->error, view->reason, sizeof view->reason, view->open_key,
                                   size))
        s_stage_row (view, view->open_key, fields, size, view->open_stored);
    viewrecs_seal_last (&view->recs);
}

//  Closes the last rec, and fails the apply (or batch_end) if a rec was
//  written after its close.
static void s_close_recs (shoal_view_t *view)
{
    s_close_rec (view);
    if (viewrecs_late (&view->recs))
        s_misuse (view, SHOAL_EINVAL, "%s", VIEWRECS_LATE_TEXT);
}

//  --------------------------------------------------------------------------
//  Running one apply

int view_apply (shoal_view_t *view, const journal_logged_t *logged)
{
    shoal_event_t event = {.logged = logged};
    const char *slash = strchr (logged->stream, '/');
    size_t type_len = slash ? (size_t) (slash - logged->stream) : 0;
    if (type_len > SHOAL_TYPE_MAX)
        type_len = 0;
    memcpy (event.type, logged->stream, type_len);
    event.type[type_len] = 0;
    event.id = slash ? slash + 1 : logged->stream;
    view->logged = logged;
    view->error = 0;
    view->reason[0] = 0;
    view->sends = 0;
    viewrecs_restart (&view->recs);
    size_t staged_before = view->staged_count;
    int rc = data_init (&event.data, logged->data, logged->size);
    if (rc == 0) {
        //  The rows this apply stages replace the batch's; on a failure
        //  they are dropped with the batch (projector.c commits the
        //  applies before this one alone).
        rc = view->build->def->apply (view, &event);
        s_close_recs (view);
        //  A row the store could not give is the store's trouble, whatever
        //  the apply made of it: the batch is tried again, not failed.
        if (rc == 0 || view->error == SHOAL_EIO)
            rc = view->error;
        else if (!view->reason[0])
            snprintf (view->reason, sizeof view->reason, "apply returned %d (%s)", rc,
                      shoal_strerror (rc));
    } else
        snprintf (view->reason, sizeof view->reason, "the event's data does not decode: %s",
                  shoal_strerror (rc));
    if (rc && !view->reason[0])
        snprintf (view->reason, sizeof view->reason, "misuse of shoal_view_*: %s",
                  shoal_strerror (rc));
    data_close (&event.data);
    s_close_reads (view);
    if (rc)
        while (view->staged_count > staged_before)
            s_reaction_free (&view->staged_sends[--view->staged_count]);
    view->logged = NULL;
    return rc;
}

void view_batch_zero (shoal_view_t *view)
{
    const shoal_projection_t *def = view->build ? view->build->def : NULL;
    if (def && def->batch_state_size && view->batch_state)
        memset (view->batch_state, 0, def->batch_state_size);
}

int view_end (shoal_view_t *view, uint64_t first)
{
    const shoal_projection_t *def = view->build->def;
    if (!def || !def->batch_end)
        return 0;
    view->ending_at = (journal_logged_t){.position = first, .stream = "", .name = ""};
    view->logged = &view->ending_at;
    view->ending = true;
    view->error = 0;
    view->reason[0] = 0;
    viewrecs_restart (&view->recs);
    int rc = def->batch_end (view, view->batch_state);
    s_close_recs (view);
    if (rc == 0 || view->error == SHOAL_EIO)
        rc = view->error;
    else if (!view->reason[0])
        snprintf (view->reason, sizeof view->reason, "batch_end returned %d (%s)", rc,
                  shoal_strerror (rc));
    if (rc && !view->reason[0])
        snprintf (view->reason, sizeof view->reason, "misuse of shoal_view_* in batch_end: %s",
                  shoal_strerror (rc));
    s_close_reads (view);
    view->ending = false;
    view->logged = NULL;
    return rc;
}

int view_stage (shoal_view_t *view)
{
    const journal_build_t *build = &view->build->build;
    int rc = 0;
    size_t cursor = 0;
    const char *key;
    for (int64_t *each = vmap_next (&view->rows, &cursor, &key); each && rc == 0;
         each = vmap_next (&view->rows, &cursor, &key)) {
        const staged_row_t *row = (const staged_row_t *) (intptr_t) *each;
        if (row->deleted && row->stored == STORED_NONE)
            continue;
        rc = row->deleted ? journal_batch_view_del (view->batch, build, key)
                          : journal_batch_view_put (view->batch, build, key, row->bytes, row->size);
    }
    for (size_t i = 0; i < view->staged_count && rc == 0; i++)
        rc = (view->hold ? journal_batch_view_hold : journal_batch_view_send) (
            view->batch, build, view->staged_sends[i]->id, view->staged_sends[i]->frame,
            view->staged_sends[i]->size);
    return rc;
}

//  --------------------------------------------------------------------------
//  The calls an apply makes

//  The key's length, or 0 for a bad key: then the apply fails, its
//  reason naming call (shoal_view_CALL) and the key's limit.
static size_t s_key_len (shoal_view_t *view, const char *key, const char *call)
{
    const char *why = viewcheck_key (key);
    if (why) {
        s_misuse (view, SHOAL_EINVAL, "shoal_view_%s: %s", call, why);
        return 0;
    }
    return strlen (key);
}

static bool s_key_ok (shoal_view_t *view, const char *key, const char *call)
{
    return s_key_len (view, key, call) > 0;
}

int shoal_view_get (shoal_view_t *view, const char *key, const shoal_data_t **row)
{
    if (!view || !row || !view->logged || !s_key_ok (view, key, "get"))
        return SHOAL_EINVAL;
    s_close_rec (view);
    *row = NULL;
    uint8_t *bytes = NULL;
    size_t size = 0;
    const staged_row_t *staged = s_found (vmap_find (&view->rows, key));
    if (!staged)
        staged = s_kept (view, key);
    const uint8_t *at = NULL; //  what the row is read from
    if (staged) {
        if (staged->deleted)
            return SHOAL_ENOTFOUND;
        //  Read in place: a row staged again leaves this room as it is
        //  until the batch ends (s_stage_row), past this apply; a kept
        //  one stays until a later commit.
        at = staged->bytes;
        size = staged->size;
    } else {
        int rc =
            journal_view_get (view->projector->journal, &view->build->build, key, &bytes, &size);
        //  A row that cannot be read is not a row that is not there: the
        //  apply fails whatever it makes of it, and its batch is tried
        //  again from the checkpoint (an apply that took it for missing
        //  would write a row made from nothing: bank_totals from zero).
        if (rc && rc != SHOAL_ENOTFOUND && !view->error) {
            view->error = SHOAL_EIO;
            snprintf (view->reason, sizeof view->reason, "the row %s could not be read: %s", key,
                      shoal_strerror (rc));
        }
        if (rc)
            return rc;
        at = bytes;
    }
    if (view->read_count == view->read_cap) {
        size_t cap = view->read_cap ? 2 * view->read_cap : 8;
        shoal_data_t **reads = realloc (view->reads, cap * sizeof (shoal_data_t *));
        if (reads)
            view->reads = reads;
        uint8_t **read_bytes = realloc (view->read_bytes, cap * sizeof (uint8_t *));
        if (read_bytes)
            view->read_bytes = read_bytes;
        if (!reads || !read_bytes) {
            free (bytes);
            return SHOAL_ENOMEM;
        }
        view->read_cap = cap;
    }
    shoal_data_t *data = malloc (sizeof (shoal_data_t));
    if (!data) {
        free (bytes);
        return SHOAL_ENOMEM;
    }
    //  A row staged in this batch or kept from the last one was encoded
    //  here (rec_finish); one read from the store is checked as any bytes
    //  from the disk.
    int rc = staged ? data_init_own (data, at, size) : data_init (data, at, size);
    view->reads[view->read_count] = data;
    view->read_bytes[view->read_count++] = bytes;
    if (rc)
        return rc;
    *row = data;
    return 0;
}

//  Opens the rec of the row under key; new: the apply says no row is
//  under key (shoal_view_put_new).
static shoal_rec_t *s_put (shoal_view_t *view, const char *key, bool new)
{
    size_t len = view && view->logged ? s_key_len (view, key, new ? "put_new" : "put") : 0;
    if (len == 0)
        return NULL;
    s_close_rec (view);
    const staged_row_t *staged = s_found (vmap_find (&view->rows, key));
    stored_t stored = s_stored (view, staged, key);
    if (new) {
        //  Where the view knows better, that is misuse (else the store
        //  might keep a row the apply deletes).
        if (staged ? !staged->deleted : stored == STORED_ROW) {
            if (!view->error) {
                view->error = SHOAL_EEXIST;
                snprintf (view->reason, sizeof view->reason,
                          "shoal_view_put_new of %.200s, which holds a row", key);
            }
            return NULL;
        }
        //  Taken at its word, but after a failed commit that the store may
        //  have kept whole, a row its batch put new may be there: the
        //  delete reads.
        if (!staged && stored == STORED_UNKNOWN &&
            view->logged->position >= view->build->doubt_until)
            stored = STORED_NONE;
    }
    memcpy (view->open_key, key, len + 1);
    view->open_send = false;
    view->open_stored = stored;
    return viewrecs_open (&view->recs, &view->error, &view->rec_open);
}

shoal_rec_t *shoal_view_put (shoal_view_t *view, const char *key)
{
    return s_put (view, key, false);
}

shoal_rec_t *shoal_view_put_new (shoal_view_t *view, const char *key)
{
    return s_put (view, key, true);
}

int shoal_view_delete (shoal_view_t *view, const char *key)
{
    if (!view || !view->logged || !s_key_ok (view, key, "delete"))
        return SHOAL_EINVAL;
    s_close_rec (view);
    //  A row the store holds none of is not deleted there: an
    //  account_transfers index row put at a transfer's start and deleted
    //  at its end, when the linger put both steps in one batch, writes
    //  neither the put nor a delete. What the store holds is known for a
    //  row put new, or one the build's last batch wrote; for a row this
    //  batch put, else, it is read (a read that fails stages the delete as
    //  any other). A row not staged is deleted unread.
    const staged_row_t *staged = s_found (vmap_find (&view->rows, key));
    stored_t stored = s_stored (view, staged, key);
    if (stored == STORED_UNKNOWN && staged && !staged->deleted) {
        uint8_t *bytes = NULL;
        size_t size = 0;
        int rc =
            journal_view_get (view->projector->journal, &view->build->build, key, &bytes, &size);
        stored = rc == SHOAL_ENOTFOUND ? STORED_NONE : rc == 0 ? STORED_ROW : STORED_UNKNOWN;
        free (bytes);
    }
    s_stage_row (view, key, NULL, 0, stored);
    return view->error;
}

shoal_rec_t *shoal_view_send (shoal_view_t *view, const char *to, const char *command)
{
    if (!view || !view->logged)
        return NULL;
    s_close_rec (view);
    if (view->ending) { //  a batch's end has no event to derive the id from
        s_misuse (view, SHOAL_EINVAL, "shoal_view_send in batch_end");
        return NULL;
    }
    int error;
    const char *why = viewcheck_send (to, command, view->sends, &error);
    if (why) {
        s_misuse (view, error, "shoal_view_send: %s", why);
        return NULL;
    }
    view->sends++;
    snprintf (view->send_to, sizeof view->send_to, "%s", to);
    snprintf (view->send_name, sizeof view->send_name, "%s", command);
    view->open_send = true;
    return viewrecs_open (&view->recs, &view->error, &view->rec_open);
}

void *shoal_view_batch_state (shoal_view_t *view)
{
    return view && view->build && view->build->def && view->build->def->batch_state_size
               ? view->batch_state
               : NULL;
}

int shoal_view_fail (shoal_view_t *view, const char *format, ...)
{
    //  It fails the apply whatever the apply returns after it (it was
    //  taken for done when the apply went on and returned 0: a review's
    //  find), as shoal_ctx_reject a turn.
    if (!view)
        return SHOAL_EREJECTED;
    va_list args;
    va_start (args, format);
    int rc = viewcheck_fail (&view->error, view->reason, sizeof view->reason, format, args);
    va_end (args);
    return rc;
}

//  --------------------------------------------------------------------------
//  The event

const char *shoal_event_address (const shoal_event_t *event)
{
    return event ? event->logged->stream : "";
}

const char *shoal_event_type (const shoal_event_t *event)
{
    return event ? event->type : "";
}

const char *shoal_event_id (const shoal_event_t *event)
{
    return event ? event->id : "";
}

const char *shoal_event_name (const shoal_event_t *event)
{
    return event ? event->logged->name : "";
}

const shoal_data_t *shoal_event_data (const shoal_event_t *event)
{
    return event ? &event->data : NULL;
}

int64_t shoal_event_seq (const shoal_event_t *event)
{
    return event ? event->logged->seq : 0;
}

uint64_t shoal_event_position (const shoal_event_t *event)
{
    return event ? event->logged->position : 0;
}

int64_t shoal_event_created (const shoal_event_t *event)
{
    return event ? event->logged->created : 0;
}
