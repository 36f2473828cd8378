/*  fuzz_records.c - libFuzzer target: every stored record's decoder of
    persistence/keys.c (event, a first event with its creator's inbox
    record, snapshot, inbox, event log, outbox note) and views.c
    (a projection's checkpoint) over arbitrary bytes, as a damaged store
    would give them; and the event key's seq parser.

    Properties: a decoded record's borrowed parts lie inside it, its name
    fits SHOAL_NAME_MAX, its map parts are well-formed maps, and the inbox
    record a first event holds decodes.
*/
#include "keys.h"
#include "mpread.h"
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap ();                                                                     \
    } while (0)

static void s_inside (const uint8_t *buf, size_t size, const uint8_t *part, size_t len)
{
    CHECK (len == 0 || (part >= buf && len <= size && part - buf <= (ptrdiff_t) (size - len)));
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const uint8_t *name, *part;
    size_t name_len, part_len;
    int64_t created, seq;
    if (keys_event_decode (data, size, &name, &name_len, &part, &part_len, &created) == 0) {
        s_inside (data, size, name, name_len);
        s_inside (data, size, part, part_len);
        CHECK (mpread_is_map (part, part_len, MPREAD_DEPTH_ANY));
    }
    keys_creator_t creator;
    if (keys_event_decode_creator (data, size, &name, &name_len, &part, &part_len, &created,
                                   &creator) == 0 &&
        creator.id) {
        s_inside (data, size, creator.id, JOURNAL_ID_SIZE);
        s_inside (data, size, creator.inbox, creator.inbox_len);
        const uint8_t *reply;
        size_t reply_len;
        int64_t at;
        journal_request_t held;
        CHECK (keys_inbox_decode (creator.inbox, creator.inbox_len, &at, &reply, &reply_len,
                                  &held) == 0);
        s_inside (data, size, reply, reply_len);
    }
    int version = 0;
    if (keys_snapshot_decode (data, size, &seq, &part, &part_len, &version) == 0) {
        CHECK (version >= 0);
        s_inside (data, size, part, part_len);
        CHECK (mpread_is_map (part, part_len, MPREAD_DEPTH_ANY));
    }
    keys_snapshot_decode (data, size, &seq, &part, &part_len, NULL);
    journal_request_t request;
    if (keys_inbox_decode (data, size, &created, &part, &part_len, &request) == 0)
        s_inside (data, size, part, part_len);
    keys_inbox_decode (data, size, &created, &part, &part_len, NULL);
    size_t offset;
    uint64_t count;
    if (keys_log_open (data, size, &offset, &count) == 0) {
        keys_log_entry_t entry;
        for (uint64_t i = 0; i < count && keys_log_next (data, size, &offset, &entry) == 0; i++) {
            CHECK (offset <= size);
            s_inside (data, size, entry.stream, entry.stream_len);
            s_inside (data, size, entry.name, entry.name_len);
            s_inside (data, size, entry.data, entry.size);
            CHECK (entry.stream_len >= 1 && entry.stream_len <= SHOAL_ADDRESS_MAX);
            CHECK (entry.name_len >= 1 && entry.name_len <= SHOAL_NAME_MAX);
            CHECK (entry.seq >= 1);
            CHECK (mpread_is_map (entry.data, entry.size, MPREAD_DEPTH_ANY));
        }
    }
    if (keys_log_open (data, size, &offset, &count) == 0) { //  as an outbox note
        keys_note_entry_t note;
        for (uint64_t i = 0; i < count && keys_note_next (data, size, &offset, &note) == 0; i++) {
            CHECK (offset <= size);
            size_t len = strlen (note.stream);
            CHECK (len >= 1 && len <= SHOAL_ADDRESS_MAX);
            s_inside (data, size, note.id, JOURNAL_ID_SIZE);
            if (note.envelope)
                s_inside (data, size, note.envelope, note.size);
            else
                CHECK (note.size == 0);
            CHECK ((note.kind == KEYS_NOTE_ANSWERED) == !note.envelope);
            size_t sender_len = strlen (note.sender);
            CHECK ((note.kind == KEYS_NOTE_INBOX) == (sender_len > 0));
            CHECK (sender_len <= SHOAL_ADDRESS_MAX);
            if (note.kind == KEYS_NOTE_INBOX) { //  its record, as a lookup reads it
                const uint8_t *reply;
                size_t reply_len;
                if (keys_inbox_decode (note.envelope, note.size, &created, &reply, &reply_len,
                                       &request) == 0)
                    s_inside (data, size, reply, reply_len);
            }
        }
    }
    journal_checkpoint_t checkpoint;
    journal_view_checkpoint_decode (data, size, &checkpoint);
    for (size_t prefix = 0; prefix <= size && prefix < 8; prefix++)
        keys_event_seq ((const char *) data, size, prefix);
    return 0;
}
