/*  notes.c - the outbox's notes (keys.h, "The outbox in two tiers"):
    reading them back, and folding them into 'o' keys when a store opens.

    A note ('W' worker pos) is written by a worker's commit that sent
    commands or answered commands not yet stored under their own keys;
    the worker deletes its notes when it stores what they still hold
    (runtime/outbox.c). So the outbox is the 'o' keys plus the commands
    the notes send that no note answers. A node that stops, or crashes,
    leaves its last notes: the next open folds them into 'o' keys and
    deletes them in one synced write, so a store at rest has no notes and
    every reader of the outbox (a scan, the books, a tool) finds it under
    'o' keys alone.

    Contract: entries are matched by (stream, id). An answer whose command
    is under its 'o' key (none is written so, but a damaged or older store
    may hold one) deletes that key at the fold. A note that does not parse
    is skipped with a warning, as a scan skips a bad key: one damaged
    record does not keep a node from starting.

    Threads: any thread, as for journal_t. The fold runs at open, before
    the store is shared; journal_notes_list and journal_outbox_scan_notes
    hold the handle (journal_enter).
*/
#include "journal_internal.h"
#include "keys.h"
#include "log.h"
#include <assert.h>
#include <czmq.h>
#include <leveldb/c.h>
#include <stdlib.h>
#include <string.h>

//  A command a note sends, or an inbox record it holds, copied out of the
//  note.
typedef struct {
    char stream[SHOAL_ADDRESS_MAX + 1];
    uint8_t id[JOURNAL_ID_SIZE];
    char *sender; //  an inbox record's: who sent the command (in envelope[])
    size_t size;
    uint8_t envelope[];
} noted_t;

//  What the notes hold: the commands sent, the answers and the inbox
//  records, by (id, stream).
typedef struct {
    zhashx_t *sent;     //  hash key -> noted_t *
    zhashx_t *answered; //  hash key -> noted_t * (size 0)
    zhashx_t *inbox;    //  hash key -> noted_t * (the record, then the sender)
    size_t notes;       //  notes read
    size_t keys;        //  keys under 'W' seen, those that do not parse too
} notes_t;

static void s_free_item (void **item)
{
    free (*item);
    *item = NULL;
}

static void s_notes_close (notes_t *notes)
{
    zhashx_destroy (&notes->sent);
    zhashx_destroy (&notes->answered);
    zhashx_destroy (&notes->inbox);
}

//  Adds one note's entries to notes. Returns 0, SHOAL_EFORMAT (the note is
//  skipped whole) or SHOAL_ENOMEM.
static int s_note_add (notes_t *notes, const uint8_t *value, size_t size)
{
    size_t offset;
    uint64_t count;
    int rc = keys_log_open (value, size, &offset, &count);
    //  Checked whole first, so that a damaged note adds nothing.
    size_t at = offset;
    keys_note_entry_t entry;
    for (uint64_t i = 0; rc == 0 && i < count; i++)
        rc = keys_note_next (value, size, &at, &entry);
    if (rc)
        return SHOAL_EFORMAT;
    for (uint64_t i = 0; i < count; i++) {
        keys_note_next (value, size, &offset, &entry);
        size_t sender_len = strlen (entry.sender);
        noted_t *noted = malloc (sizeof (noted_t) + entry.size + sender_len + 1);
        if (!noted)
            return SHOAL_ENOMEM;
        memcpy (noted->stream, entry.stream, sizeof noted->stream);
        memcpy (noted->id, entry.id, JOURNAL_ID_SIZE);
        noted->size = entry.size;
        if (entry.size)
            memcpy (noted->envelope, entry.envelope, entry.size);
        noted->sender = (char *) noted->envelope + entry.size;
        memcpy (noted->sender, entry.sender, sender_len + 1);
        char key[KEYS_HASH_KEY_MAX];
        keys_hash_key (key, noted->stream, strlen (noted->stream), noted->id);
        zhashx_t *table = entry.kind == KEYS_NOTE_SENT       ? notes->sent
                          : entry.kind == KEYS_NOTE_ANSWERED ? notes->answered
                                                             : notes->inbox;
        zhashx_update (table, key, noted);
    }
    notes->notes++;
    return 0;
}

//  Reads every note into notes, with db held. Returns 0, SHOAL_EIO or
//  SHOAL_ENOMEM.
static int s_notes_read (journal_t *self, notes_t *notes)
{
    notes->sent = zhashx_new ();
    notes->answered = zhashx_new ();
    notes->inbox = zhashx_new ();
    notes->notes = notes->keys = 0;
    if (!notes->sent || !notes->answered || !notes->inbox)
        return SHOAL_ENOMEM;
    zhashx_set_destructor (notes->sent, s_free_item);
    zhashx_set_destructor (notes->answered, s_free_item);
    zhashx_set_destructor (notes->inbox, s_free_item);
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, self->read);
    int rc = 0;
    for (leveldb_iter_seek (it, "W", 1); rc == 0 && leveldb_iter_valid (it);
         leveldb_iter_next (it)) {
        size_t key_len, value_len;
        const char *key = leveldb_iter_key (it, &key_len);
        if (key_len < 1 || key[0] != 'W')
            break;
        const char *value = leveldb_iter_value (it, &value_len);
        notes->keys++;
        if (key_len != KEYS_NOTE_KEY_SIZE ||
            (rc = s_note_add (notes, (const uint8_t *) value, value_len)) == SHOAL_EFORMAT) {
            log_warn ("journal: skipped a malformed outbox note (%zu bytes of key, %zu of value)",
                      key_len, value_len);
            rc = 0;
        }
    }
    return journal_iter_close (it, rc);
}

//  The hash key's stream and id of an answer: does it answer a sent one?
static bool s_answered (notes_t *notes, const char *hash_key)
{
    return zhashx_lookup (notes->answered, hash_key) != NULL;
}

//  Is command id of sender still in the outbox, as the notes and the 'o'
//  keys say? Returns 0 or a read error.
static int s_pending (journal_t *self, notes_t *notes, const char *sender,
                      const uint8_t id[JOURNAL_ID_SIZE], bool *pending)
{
    size_t len = keys_stream_len (sender);
    *pending = true; //  a sender that cannot be named: keep the record
    if (len == 0)
        return 0;
    char hash_key[KEYS_HASH_KEY_MAX];
    keys_hash_key (hash_key, sender, len, id);
    if (s_answered (notes, hash_key)) {
        *pending = false;
        return 0;
    }
    if (zhashx_lookup (notes->sent, hash_key))
        return 0;
    uint8_t key[KEYS_STREAM_MAX];
    size_t key_len = keys_id_key (key, journal_shard (self, sender), 'o', sender, len, id);
    char *error = NULL;
    size_t value_len;
    char *value =
        leveldb_get (self->db, self->read, (const char *) key, key_len, &value_len, &error);
    if (error) {
        journal_read_failed (error);
        return SHOAL_EIO;
    }
    *pending = value != NULL;
    leveldb_free (value);
    return 0;
}

//  Stages noted's bytes under its own key of table tag ('o' or 'i').
static void s_fold_put (journal_t *self, leveldb_writebatch_t *writes, char tag,
                        const noted_t *noted)
{
    if (tag == 'i')
        journal_filter_add (self, JOURNAL_FILTER_INBOX, noted->stream, strlen (noted->stream));
    uint8_t key[KEYS_STREAM_MAX];
    size_t key_len = keys_id_key (key, journal_shard (self, noted->stream), tag, noted->stream,
                                  strlen (noted->stream), noted->id);
    leveldb_writebatch_put (writes, (const char *) key, key_len, (const char *) noted->envelope,
                            noted->size);
}

int journal_notes_fold (journal_t *self)
{
    assert (self);
    notes_t notes;
    int rc = s_notes_read (self, &notes);
    if (rc == 0 && notes.keys == 0) {
        s_notes_close (&notes);
        return 0;
    }
    leveldb_writebatch_t *writes = leveldb_writebatch_create ();
    size_t kept = 0;
    for (noted_t *noted = rc == 0 ? zhashx_first (notes.sent) : NULL; noted;
         noted = zhashx_next (notes.sent)) {
        if (s_answered (&notes, zhashx_cursor (notes.sent)))
            continue;
        s_fold_put (self, writes, 'o', noted);
        kept++;
    }
    for (noted_t *noted = rc == 0 ? zhashx_first (notes.answered) : NULL; noted;
         noted = zhashx_next (notes.answered)) {
        if (zhashx_lookup (notes.sent, zhashx_cursor (notes.answered)))
            continue;
        uint8_t key[KEYS_STREAM_MAX];
        size_t key_len = keys_id_key (key, journal_shard (self, noted->stream), 'o', noted->stream,
                                      strlen (noted->stream), noted->id);
        leveldb_writebatch_delete (writes, (const char *) key, key_len);
    }
    //  An inbox record in a note is kept while its command's sender may
    //  still send it again: while the command is in the outbox (an 'o' key
    //  or a note's, unanswered). Otherwise the sender has committed the
    //  answer and will never send it again: the record goes with the note.
    size_t inbox_kept = 0;
    for (noted_t *noted = rc == 0 ? zhashx_first (notes.inbox) : NULL; rc == 0 && noted;
         noted = zhashx_next (notes.inbox)) {
        bool pending;
        rc = s_pending (self, &notes, noted->sender, noted->id, &pending);
        if (rc || !pending)
            continue;
        s_fold_put (self, writes, 'i', noted);
        inbox_kept++;
    }
    size_t notes_read = notes.notes;
    s_notes_close (&notes);
    //  Every note goes, the malformed ones too.
    leveldb_iterator_t *it = rc == 0 ? leveldb_create_iterator (self->db, self->read) : NULL;
    for (it ? leveldb_iter_seek (it, "W", 1) : (void) 0; it && leveldb_iter_valid (it);
         leveldb_iter_next (it)) {
        size_t key_len;
        const char *key = leveldb_iter_key (it, &key_len);
        if (key_len < 1 || key[0] != 'W')
            break;
        leveldb_writebatch_delete (writes, key, key_len);
    }
    if (it)
        rc = journal_iter_close (it, rc);
    if (rc == 0 && (rc = journal_enter (self)) == 0) {
        rc = journal_write_held (self, self->write, writes, false);
        journal_leave (self);
    }
    leveldb_writebatch_destroy (writes);
    if (rc == 0)
        log_info ("journal %s: %zu outbox note%s of the last run folded: %zu command%s still "
                  "unanswered kept in the outbox, %zu inbox record%s kept for them",
                  self->dir, notes_read, notes_read == 1 ? "" : "s", kept, kept == 1 ? "" : "s",
                  inbox_kept, inbox_kept == 1 ? "" : "s");
    return rc;
}

//  Reads the notes and calls fn for each command they send that none
//  answers (inbox false), or for each inbox record they hold (true).
static int s_scan_notes (journal_t *self, bool inbox, journal_entry_fn *fn, void *arg)
{
    assert (self);
    assert (fn);
    int rc = journal_enter (self);
    if (rc)
        return rc;
    notes_t notes;
    rc = s_notes_read (self, &notes);
    journal_leave (self);
    zhashx_t *table = inbox ? notes.inbox : notes.sent;
    for (noted_t *noted = rc == 0 ? zhashx_first (table) : NULL; noted; noted = zhashx_next (table))
        if ((inbox || !s_answered (&notes, zhashx_cursor (table))) &&
            fn (arg, noted->stream, noted->id, 0, noted->envelope, noted->size))
            break;
    s_notes_close (&notes);
    return rc;
}

int journal_outbox_scan_notes (journal_t *self, journal_entry_fn *fn, void *arg)
{
    return s_scan_notes (self, false, fn, arg);
}

int journal_inbox_scan_notes (journal_t *self, journal_entry_fn *fn, void *arg)
{
    return s_scan_notes (self, true, fn, arg);
}

int journal_notes_list (journal_t *self, uint32_t worker, uint64_t **positions, size_t *count)
{
    assert (self);
    assert (positions && count);
    *positions = NULL;
    *count = 0;
    if (worker > UINT16_MAX)
        return SHOAL_EINVAL;
    int rc = journal_enter (self);
    if (rc)
        return rc;
    //  Keys only: a note that does not parse is listed too, so that a
    //  drop deletes it.
    const uint8_t prefix[3] = {'W', (uint8_t) (worker >> 8), (uint8_t) worker};
    size_t cap = 0;
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, self->read);
    for (leveldb_iter_seek (it, (const char *) prefix, sizeof prefix);
         rc == 0 && leveldb_iter_valid (it); leveldb_iter_next (it)) {
        size_t key_len;
        const char *key = leveldb_iter_key (it, &key_len);
        if (!keys_has_prefix (key, key_len, prefix, sizeof prefix))
            break;
        if (key_len != KEYS_NOTE_KEY_SIZE)
            continue;
        if (*count == cap) {
            cap = cap ? 2 * cap : 64;
            uint64_t *grown = realloc (*positions, cap * sizeof (uint64_t));
            if (!grown) {
                rc = SHOAL_ENOMEM;
                break;
            }
            *positions = grown;
        }
        (*positions)[(*count)++] = keys_get_be ((const uint8_t *) key + 3, 8);
    }
    rc = journal_iter_close (it, rc);
    journal_leave (self);
    if (rc) {
        free (*positions);
        *positions = NULL;
        *count = 0;
    }
    return rc;
}
