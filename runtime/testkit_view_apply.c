/*  testkit_view_apply.c - one apply of the kit's projection
    (testkit_view.c), and the shoal_view_* and shoal_event_* calls it
    makes, over rows in memory rather than over LevelDB.

    Contract: view.c's, so that a projection behaves alike in a node and
    in the kit. An apply reads the rows it wrote itself; a row or command
    being written (its rec) is closed at the next shoal_view_* call or
    when apply returns; misuse (a bad key, address or command, more than
    16 sends, a row or command written wrongly) fails the apply, with the
    node's reason (viewcheck.h), and nothing of a failed apply is kept. The
    node stages a batch of applies before its commit; the kit commits each
    apply alone, which an apply cannot tell apart.

    Rows are a sorted array of pointers: strcmp on keys without NUL is
    LevelDB's bytewise order. Writing a row is O(N) in the rows; the kit is
    meant for tests of thousands of rows, not millions. The archive holds
    no view.c, so these shoal_view_* and shoal_event_* are the only ones
    in a test program. Owned by the test's thread.
*/
#include "testkit_view.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  --------------------------------------------------------------------------
//  Rows

//  A row of key with a copy of size bytes (NULL: a deletion). NULL out of
//  memory.
static kitview_row_t *s_row_new (const char *key, const uint8_t *bytes, size_t size)
{
    size_t key_size = strlen (key) + 1;
    kitview_row_t *row = malloc (sizeof (kitview_row_t) + size + key_size);
    if (!row)
        return NULL;
    row->deleted = bytes == NULL;
    row->parsed = false;
    row->size = size;
    if (size)
        memcpy (row->bytes, bytes, size);
    row->key = (char *) row->bytes + size;
    memcpy (row->key, key, key_size);
    return row;
}

void kitview_row_unparse (kitview_row_t *row)
{
    if (row->parsed)
        data_close (&row->data);
    row->parsed = false;
}

static void s_row_destroy (kitview_row_t **row_p)
{
    if (*row_p) {
        kitview_row_unparse (*row_p);
        free (*row_p);
        *row_p = NULL;
    }
}

//  The index of key in rows, or where it would go, with *found.
size_t kitview_rows_find (const kitview_rows_t *rows, const char *key, bool *found)
{
    size_t low = 0, high = rows->count;
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        int cmp = strcmp (rows->rows[mid]->key, key);
        if (cmp == 0) {
            *found = true;
            return mid;
        }
        if (cmp < 0)
            low = mid + 1;
        else
            high = mid;
    }
    *found = false;
    return low;
}

//  Makes room for extra more rows. Returns 0 or SHOAL_ENOMEM.
static int s_rows_reserve (kitview_rows_t *rows, size_t extra)
{
    if (rows->count + extra <= rows->max)
        return 0;
    size_t max = rows->max ? 2 * rows->max : 64;
    while (max < rows->count + extra)
        max *= 2;
    kitview_row_t **grown = realloc (rows->rows, max * sizeof (kitview_row_t *));
    if (!grown)
        return SHOAL_ENOMEM;
    rows->rows = grown;
    rows->max = max;
    return 0;
}

//  Puts a staged row (or its deletion) into rows, taking it. Needs room
//  for one more row reserved: this function can't fail.
static void s_rows_take (kitview_rows_t *rows, kitview_row_t *row)
{
    bool found;
    size_t at = kitview_rows_find (rows, row->key, &found);
    if (row->deleted) {
        if (found) {
            s_row_destroy (&rows->rows[at]);
            memmove (&rows->rows[at], &rows->rows[at + 1],
                     (rows->count - at - 1) * sizeof (kitview_row_t *));
            rows->count--;
        }
        s_row_destroy (&row);
    } else if (found) {
        s_row_destroy (&rows->rows[at]);
        rows->rows[at] = row;
    } else {
        memmove (&rows->rows[at + 1], &rows->rows[at],
                 (rows->count - at) * sizeof (kitview_row_t *));
        rows->rows[at] = row;
        rows->count++;
    }
}

void kitview_rows_close (kitview_rows_t *rows)
{
    for (size_t i = 0; i < rows->count; i++)
        s_row_destroy (&rows->rows[i]);
    free (rows->rows);
    memset (rows, 0, sizeof *rows);
}

//  --------------------------------------------------------------------------
//  Commands sent

void kitview_sent_clear (kitview_sent_t *sent, size_t *count)
{
    for (size_t i = 0; i < *count; i++) {
        if (sent[i].parsed)
            data_close (&sent[i].data);
        free (sent[i].bytes);
    }
    *count = 0;
}

//  Records the apply's first misuse: error, and what it was (printf
//  format) as its reason, as view.c does. Returns error.
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

//  Keeps the command written in the rec (fields), when the view reacts,
//  if a node could send it (viewcheck_command: its strings UTF-8, 1 MiB
//  at most with its envelope); else the apply fails with the node's
//  reason.
static void s_close_send (shoal_view_t *view, const uint8_t *fields, size_t size)
{
    envelope_t envelope = {.kind = ENVELOPE_COMMAND, .payload = fields, .payload_size = size};
    viewcheck_sender (envelope.from, view->projection);
    snprintf (envelope.to, sizeof envelope.to, "%s", view->send_to);
    snprintf (envelope.name, sizeof envelope.name, "%s", view->send_name);
    envelope.created = view->event ? view->event->created : 0;
    uint8_t *frame;
    size_t frame_size;
    if (viewcheck_command (&view->error, view->reason, sizeof view->reason, &envelope, &frame,
                           &frame_size) != 0)
        return;
    free (frame);
    kitview_sent_t *sent = &view->sent[view->sent_count];
    memset (sent, 0, sizeof *sent);
    if (!(sent->bytes = malloc (size))) {
        view->error = SHOAL_ENOMEM;
        return;
    }
    memcpy (sent->bytes, fields, size);
    sent->size = size;
    snprintf (sent->to, sizeof sent->to, "%s", view->send_to);
    snprintf (sent->name, sizeof sent->name, "%s", view->send_name);
    view->sent_count++;
}

//  --------------------------------------------------------------------------
//  One apply

//  Stages a row (bytes NULL: deleted).
static void s_stage_row (shoal_view_t *view, const char *key, const uint8_t *bytes, size_t size)
{
    if (view->staged_count == view->staged_max) {
        size_t max = view->staged_max ? 2 * view->staged_max : 16;
        kitview_row_t **grown = realloc (view->staged, max * sizeof (kitview_row_t *));
        if (!grown) {
            view->error = SHOAL_ENOMEM;
            return;
        }
        view->staged = grown;
        view->staged_max = max;
    }
    kitview_row_t *row = s_row_new (key, bytes, size);
    if (!row) {
        view->error = SHOAL_ENOMEM;
        return;
    }
    view->staged[view->staged_count++] = row;
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
        if (view->react)
            s_close_send (view, fields, size);
    } else if (viewcheck_row_size (&view->error, view->reason, sizeof view->reason, view->open_key,
                                   size))
        s_stage_row (view, view->open_key, fields, size);
    viewrecs_seal_last (&view->recs);
}

//  Closes the last rec, and fails the apply (or batch_end) if a rec was
//  written after its close, as view.c's.
static void s_close_recs (shoal_view_t *view)
{
    s_close_rec (view);
    if (viewrecs_late (&view->recs))
        s_misuse (view, SHOAL_EINVAL, "%s", VIEWRECS_LATE_TEXT);
}

static void s_close_reads (shoal_view_t *view)
{
    while (view->reads) {
        kitview_read_t *read = view->reads;
        view->reads = read->next;
        data_close (&read->data);
        free (read);
    }
}

void kitview_discard (shoal_view_t *view)
{
    for (size_t i = 0; i < view->staged_count; i++)
        s_row_destroy (&view->staged[i]);
    view->staged_count = 0;
    kitview_sent_clear (view->sent, &view->sent_count);
}

//  Readies the view for an apply of event (or a batch_end) on rows.
static void s_view_begin (shoal_view_t *view, kitview_rows_t *rows, const kitview_event_t *event,
                          bool react)
{
    kitview_discard (view);
    view->rows = rows;
    view->event = event;
    view->react = react;
    view->error = 0;
    view->reason[0] = 0;
    view->sends = 0;
    viewrecs_restart (&view->recs);
}

//  Runs the projection's batch_end, as view.c's view_end. Returns 0 or its
//  error, view->reason set.
static int s_batch_end (shoal_testkit_view_t *self)
{
    shoal_view_t *view = &self->view;
    view->ending = true;
    viewrecs_restart (&view->recs);
    int rc = self->projection->batch_end (view, view->batch_state);
    s_close_recs (view);
    view->ending = false;
    if (rc == 0)
        rc = view->error;
    else if (!view->reason[0])
        snprintf (view->reason, sizeof view->reason, "batch_end returned %d (%s)", rc,
                  shoal_strerror (rc));
    return rc;
}

//  Takes what the view staged into rows if rc is 0, else drops it.
//  Returns rc, or SHOAL_ENOMEM.
static int s_take_staged (shoal_view_t *view, kitview_rows_t *rows, int rc)
{
    if (rc == 0)
        rc = s_rows_reserve (rows, view->staged_count);
    if (rc == 0) {
        for (size_t i = 0; i < view->staged_count; i++)
            s_rows_take (rows, view->staged[i]);
        view->staged_count = 0;
    } else {
        if (rc == SHOAL_ENOMEM && !view->reason[0])
            snprintf (view->reason, sizeof view->reason, "out of memory");
        kitview_discard (view);
    }
    return rc;
}

//  Applies event to rows with the projection's apply, as view_apply does.
//  Returns 0 with the rows changed and, if react, the commands in
//  view->sent; or the apply's error with view->reason set and nothing
//  kept.
int kitview_apply (shoal_testkit_view_t *self, kitview_rows_t *rows, const kitview_event_t *given,
                   bool react, bool alone)
{
    shoal_view_t *view = &self->view;
    shoal_event_t event = {.given = given};
    const char *slash = strchr (given->address, '/');
    size_t type_len = slash ? (size_t) (slash - given->address) : 0;
    if (type_len > SHOAL_TYPE_MAX)
        type_len = 0;
    memcpy (event.type, given->address, type_len);
    event.type[type_len] = 0;
    event.id = slash ? slash + 1 : given->address;
    s_view_begin (view, rows, given, react);
    //  Alone, the event is a batch of its own: its batch state zeroed,
    //  then batch_end after its apply.
    if (alone && view->batch_state)
        memset (view->batch_state, 0, self->projection->batch_state_size);
    int rc = data_init (&event.data, given->bytes, given->size);
    if (rc == 0) {
        rc = self->projection->apply (view, &event);
        s_close_recs (view);
        if (rc == 0)
            rc = view->error;
        else if (!view->reason[0])
            snprintf (view->reason, sizeof view->reason, "apply returned %d (%s)", rc,
                      shoal_strerror (rc));
        if (rc == 0 && alone && self->projection->batch_end)
            rc = s_batch_end (self);
    } else
        snprintf (view->reason, sizeof view->reason, "the event's data does not decode: %s",
                  shoal_strerror (rc));
    if (rc && !view->reason[0])
        snprintf (view->reason, sizeof view->reason, "misuse of shoal_view_*: %s",
                  shoal_strerror (rc));
    data_close (&event.data);
    s_close_reads (view);
    view->event = NULL;
    return s_take_staged (view, rows, rc);
}

int kitview_end (shoal_testkit_view_t *self, kitview_rows_t *rows, const kitview_event_t *last)
{
    shoal_view_t *view = &self->view;
    if (!self->projection->batch_end)
        return 0;
    s_view_begin (view, rows, last, false);
    int rc = s_batch_end (self);
    if (rc && !view->reason[0])
        snprintf (view->reason, sizeof view->reason, "misuse of shoal_view_*: %s",
                  shoal_strerror (rc));
    s_close_reads (view);
    view->event = NULL;
    return s_take_staged (view, rows, rc);
}

//  --------------------------------------------------------------------------
//  The calls an apply makes: view.c's, over the kit's rows

//  True if key is a row key; else the apply fails, its reason naming call
//  (shoal_view_CALL) and the key's limit.
static bool s_key_ok (shoal_view_t *view, const char *key, const char *call)
{
    const char *why = viewcheck_key (key);
    if (why)
        s_misuse (view, SHOAL_EINVAL, "shoal_view_%s: %s", call, why);
    return !why;
}

//  The row under key as the apply sees it: staged by it (the last
//  staging), else applied before; NULL if neither.
static const kitview_row_t *s_find_row (const shoal_view_t *view, const char *key)
{
    for (size_t i = view->staged_count; i-- > 0;)
        if (strcmp (view->staged[i]->key, key) == 0)
            return view->staged[i];
    bool present;
    size_t at = kitview_rows_find (view->rows, key, &present);
    return present ? view->rows->rows[at] : NULL;
}

int shoal_view_get (shoal_view_t *view, const char *key, const shoal_data_t **row)
{
    if (!view || !row || !view->event || !s_key_ok (view, key, "get"))
        return SHOAL_EINVAL;
    s_close_rec (view);
    *row = NULL;
    const kitview_row_t *found = s_find_row (view, key);
    if (!found || found->deleted)
        return SHOAL_ENOTFOUND;
    //  The bytes stay put until apply returns: staged rows are only added
    //  to, and the rows applied to change after it.
    kitview_read_t *read = malloc (sizeof (kitview_read_t));
    if (!read)
        return SHOAL_ENOMEM;
    read->next = view->reads;
    view->reads = read;
    int rc = data_init (&read->data, found->bytes, found->size);
    if (rc)
        return rc;
    *row = &read->data;
    return 0;
}

//  Opens the rec of the row under key, for call (put or put_new).
static shoal_rec_t *s_put (shoal_view_t *view, const char *key, const char *call)
{
    if (!view || !view->event || !s_key_ok (view, key, call))
        return NULL;
    s_close_rec (view);
    snprintf (view->open_key, sizeof view->open_key, "%s", key);
    view->open_send = false;
    return viewrecs_open (&view->recs, &view->error, &view->rec_open);
}

shoal_rec_t *shoal_view_put (shoal_view_t *view, const char *key)
{
    return s_put (view, key, "put");
}

//  The kit knows every row: a key that holds one fails the apply, as the
//  node does when it can tell.
shoal_rec_t *shoal_view_put_new (shoal_view_t *view, const char *key)
{
    if (!view || !view->event || !s_key_ok (view, key, "put_new"))
        return NULL;
    s_close_rec (view);
    const kitview_row_t *found = s_find_row (view, key);
    if (found && !found->deleted) {
        if (!view->error) {
            view->error = SHOAL_EEXIST;
            snprintf (view->reason, sizeof view->reason,
                      "shoal_view_put_new of %.200s, which holds a row", key);
        }
        return NULL;
    }
    return s_put (view, key, "put_new");
}

int shoal_view_delete (shoal_view_t *view, const char *key)
{
    if (!view || !view->event || !s_key_ok (view, key, "delete"))
        return SHOAL_EINVAL;
    s_close_rec (view);
    s_stage_row (view, key, NULL, 0);
    return view->error;
}

shoal_rec_t *shoal_view_send (shoal_view_t *view, const char *to, const char *command)
{
    if (!view || !view->event)
        return NULL;
    s_close_rec (view);
    if (view->ending) { //  as the node: a batch's end has no event
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
    return view ? view->batch_state : NULL;
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
    return event ? event->given->address : "";
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
    return event ? event->given->name : "";
}

const shoal_data_t *shoal_event_data (const shoal_event_t *event)
{
    return event ? &event->data : NULL;
}

int64_t shoal_event_seq (const shoal_event_t *event)
{
    return event ? event->given->seq : 0;
}

uint64_t shoal_event_position (const shoal_event_t *event)
{
    return event ? event->given->position : 0;
}

int64_t shoal_event_created (const shoal_event_t *event)
{
    return event ? event->given->created : 0;
}
