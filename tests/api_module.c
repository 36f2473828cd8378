/*  api_module.c - a module that uses every part of the module API that
    test_module_api.c checks, built as api.so and loaded with --module. It
    sees only the public header, as a user's module would.

    note/ID holds a value:
    - Add{by} -> Added{by}, replies {value}; Get replies {value, restored}
      (restored: the state came from a snapshot).
    - Scribble{accept} writes into its const state through a cast, then
      rejects (or, with accept=true, accepts with nothing emitted): the
      node must undo the write either way.
    - Whoami replies {id, created}: shoal_msg_id and shoal_msg_created.
    - Alias writes into the string shoal_ctx_address gives (its last byte
      flipped: note/b0 reads note/b1), then emits Added{by: 1}; Rename
      writes into shoal_msg_name's and shoal_msg_from's, and accepts: the
      node must keep both to the note and the message they were.
    - Ret{code} returns code from the handler.
    - Remind{name, ms} sets timer name; when one fires: Rang{name}.
      Cancel{name} cancels this note's timers of that name.
    - Option replies {greeting}: the module option "greeting" ("" unset).
    - Log{text} logs "note says TEXT" at WARN and replies nothing.
    - Pad{bytes} -> Padded{bytes} (0 to 4 MiB): the view and the snapshot
      carry that many zero bytes as "pad" (the state, not its events,
      grows); Get replies {pad} too.
    With the module option "empty" its init registers nothing.
    Snapshots write {value, version, pad}; snapshot_version is the module
    option "snapshot_version" (default 1), and restore takes only that
    version (refusing any other, as a module that dropped an old shape).
*/
#include "shoal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

SHOAL_MODULE;

typedef struct {
    int64_t value;
    int64_t pad;   //  zero bytes its view and snapshot carry
    bool restored; //  set by restore only
} note_t;

#define NOTE_PAD_MAX (4 << 20)

//  Read once, at init: constant afterwards.
static char s_greeting[256];
static shoal_type_t s_note;

static int s_handle (shoal_ctx_t *ctx, const void *state, const shoal_msg_t *msg)
{
    const note_t *note = state;
    const shoal_data_t *data = shoal_msg_data (msg);
    const char *name = shoal_msg_name (msg);
    char text[256];
    if (shoal_msg_kind (msg) == SHOAL_TIMER) {
        shoal_rec_str (shoal_ctx_emit (ctx, "Rang"), "name", name);
        return 0;
    }
    if (shoal_msg_kind (msg) != SHOAL_COMMAND)
        return 0;
    if (strcmp (name, "Add") == 0) {
        int64_t by;
        if (shoal_data_int (data, "by", &by) != 0)
            return shoal_ctx_reject (ctx, "invalid_field", "by is an integer");
        shoal_rec_int (shoal_ctx_emit (ctx, "Added"), "by", by);
        shoal_rec_int (shoal_ctx_reply (ctx), "value", note->value + by);
        return 0;
    }
    if (strcmp (name, "Get") == 0) {
        shoal_rec_int (shoal_ctx_reply (ctx), "value", note->value);
        shoal_rec_bool (shoal_ctx_reply (ctx), "restored", note->restored);
        shoal_rec_int (shoal_ctx_reply (ctx), "pad", note->pad);
        return 0;
    }
    if (strcmp (name, "Pad") == 0) {
        int64_t bytes;
        if (shoal_data_int (data, "bytes", &bytes) != 0 || bytes < 0 || bytes > NOTE_PAD_MAX)
            return shoal_ctx_reject (ctx, "invalid_field", "bytes is 0 to 4 MiB");
        shoal_rec_int (shoal_ctx_emit (ctx, "Padded"), "bytes", bytes);
        shoal_rec_int (shoal_ctx_reply (ctx), "pad", bytes);
        return 0;
    }
    if (strcmp (name, "Scribble") == 0) {
        bool accept = false;
        shoal_data_bool (data, "accept", &accept);
        ((note_t *) state)->value = 999999; //  what a handler must not do
        if (accept)
            return 0;
        return shoal_ctx_reject (ctx, "scribbled", "wrote into its state, then refused");
    }
    if (strcmp (name, "Alias") == 0) {
        char *address = (char *) shoal_ctx_address (ctx); //  what a handler must not do
        address[strlen (address) - 1] ^= 1;
        shoal_rec_int (shoal_ctx_emit (ctx, "Added"), "by", 1);
        return 0;
    }
    if (strcmp (name, "Rename") == 0) {
        ((char *) name)[0] = 'X'; //  nor this
        ((char *) shoal_msg_from (msg))[0] = 'X';
        return 0;
    }
    if (strcmp (name, "Ret") == 0) {
        int64_t code = 0;
        shoal_data_int (data, "code", &code);
        return (int) code;
    }
    if (strcmp (name, "Whoami") == 0) {
        shoal_rec_str (shoal_ctx_reply (ctx), "id", shoal_msg_id (msg));
        shoal_rec_int (shoal_ctx_reply (ctx), "created", shoal_msg_created (msg));
        return 0;
    }
    if (strcmp (name, "Remind") == 0 || strcmp (name, "Cancel") == 0) {
        int64_t ms = 0;
        if (shoal_data_str (data, "name", text, sizeof text) != 0)
            return shoal_ctx_reject (ctx, "invalid_field", "name is a string");
        if (name[0] == 'C')
            return shoal_ctx_cancel (ctx, text);
        shoal_data_int (data, "ms", &ms);
        shoal_ctx_after (ctx, ms, text);
        return 0;
    }
    if (strcmp (name, "Option") == 0) {
        shoal_rec_str (shoal_ctx_reply (ctx), "greeting", s_greeting);
        return 0;
    }
    if (strcmp (name, "Log") == 0) {
        if (shoal_data_str (data, "text", text, sizeof text) != 0)
            return shoal_ctx_reject (ctx, "invalid_field", "text is a string");
        shoal_log (ctx, SHOAL_LOG_WARN, "note says %s", text);
        return 0;
    }
    return shoal_ctx_reject (ctx, "unknown_command", "see api_module.c");
}

static int s_apply (void *state, const char *event, const shoal_data_t *data)
{
    note_t *note = state;
    int64_t by;
    if (strcmp (event, "Rang") == 0)
        return 0;
    if (strcmp (event, "Padded") == 0)
        return shoal_data_int (data, "bytes", &note->pad);
    if (strcmp (event, "Added") != 0 || shoal_data_int (data, "by", &by) != 0)
        return SHOAL_EFORMAT;
    note->value += by;
    return 0;
}

//  Writes the note's pad, if any, into out: pad zero bytes.
static void s_pad (const note_t *note, shoal_rec_t *out)
{
    void *zeros = note->pad ? calloc (1, (size_t) note->pad) : NULL;
    if (zeros)
        shoal_rec_bytes (out, "pad", zeros, (size_t) note->pad);
    free (zeros);
}

static void s_view (const void *state, shoal_rec_t *out)
{
    shoal_rec_int (out, "value", ((const note_t *) state)->value);
    s_pad (state, out);
}

static void s_snapshot (const void *state, shoal_rec_t *out)
{
    shoal_rec_int (out, "value", ((const note_t *) state)->value);
    shoal_rec_int (out, "version", s_note.snapshot_version);
    s_pad (state, out);
}

static int s_restore (void *state, int version, const shoal_data_t *snapshot)
{
    note_t *note = state;
    int64_t written;
    if (version != s_note.snapshot_version || shoal_data_int (snapshot, "version", &written) != 0 ||
        written != version || shoal_data_int (snapshot, "value", &note->value) != 0)
        return SHOAL_EFORMAT;
    const uint8_t *pad;
    size_t pad_size = 0;
    if (shoal_data_has (snapshot, "pad") && shoal_data_bytes (snapshot, "pad", &pad, &pad_size))
        return SHOAL_EFORMAT;
    note->pad = (int64_t) pad_size;
    note->restored = true;
    return 0;
}

int shoal_module_init (shoal_registry_t *registry)
{
    const char *greeting = shoal_registry_option (registry, "greeting");
    snprintf (s_greeting, sizeof s_greeting, "%s", greeting ? greeting : "");
    const char *version = shoal_registry_option (registry, "snapshot_version");
    s_note = (shoal_type_t){
        .name = "note",
        .state_size = sizeof (note_t),
        .apply = s_apply,
        .handle = s_handle,
        .view = s_view,
        .snapshot = s_snapshot,
        .restore = s_restore,
        .snapshot_version = version ? atoi (version) : 1,
    };
    shoal_log (NULL, SHOAL_LOG_INFO, "api module: note snapshots are version %d",
               s_note.snapshot_version);
    if (shoal_registry_option (registry, "empty")) //  a module that forgot to register
        return 0;
    return shoal_register (registry, &s_note);
}
