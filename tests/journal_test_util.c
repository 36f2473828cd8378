/*  journal_test_util.c - what test_journal_*.c share (journal_test_util.h says what each is).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"
#include "journal.h"
#include <leveldb/c.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <limits.h>
#include <unistd.h>
#include "journal_test_util.h"

journal_t *journal_test_open (const char *dir)
{
    int code = 0;
    char *error = NULL;
    journal_t *journal = journal_open (dir, NULL, &code, &error);
    if (!journal)
        fprintf (stderr, "journal_open: %d %s\n", code, error ? error : "");
    free (error);
    assert_non_null (journal);
    return journal;
}

int journal_setup (void **state)
{
    fixture_t *fixture = calloc (1, sizeof (fixture_t));
    assert_non_null (fixture);
    harness_tempdir (fixture->dir, sizeof fixture->dir, "journal");
    fixture->journal = journal_test_open (fixture->dir);
    *state = fixture;
    return 0;
}

int journal_teardown (void **state)
{
    fixture_t *fixture = *state;
    journal_destroy (&fixture->journal);
    harness_rm_rf (fixture->dir);
    free (fixture);
    return 0;
}

void journal_reopen (fixture_t *fixture)
{
    journal_destroy (&fixture->journal);
    assert_null (fixture->journal);
    fixture->journal = journal_test_open (fixture->dir);
}

map_t journal_map (int64_t n)
{
    map_t map;
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    msgpack_pack_str_with_body (&pk, "n", 1);
    msgpack_pack_int64 (&pk, n);
    assert_true (buffer.size <= sizeof map.bytes);
    memcpy (map.bytes, buffer.data, buffer.size);
    map.size = buffer.size;
    msgpack_sbuffer_destroy (&buffer);
    return map;
}

int64_t journal_map_n (const uint8_t *data, size_t size)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    size_t offset = 0;
    int64_t n = NO_N;
    if (msgpack_unpack_next (&unpacked, (const char *) data, size, &offset) ==
            MSGPACK_UNPACK_SUCCESS &&
        offset == size && unpacked.data.type == MSGPACK_OBJECT_MAP &&
        unpacked.data.via.map.size == 1) {
        msgpack_object *value = &unpacked.data.via.map.ptr[0].val;
        if (value->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            n = (int64_t) value->via.u64;
        else if (value->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            n = value->via.i64;
    }
    msgpack_unpacked_destroy (&unpacked);
    return n;
}

int journal_collect (void *arg, int64_t seq, const char *name, const uint8_t *data, size_t size,
                     int64_t created)
{
    events_t *events = arg;
    if (events->count == MAX_EVENTS)
        return 1;
    size_t i = events->count++;
    events->seq[i] = seq;
    snprintf (events->name[i], sizeof events->name[i], "%s", name);
    events->n[i] = journal_map_n (data, size);
    events->created[i] = created;
    return events->stop_after && events->count == events->stop_after;
}

int journal_collect_entry (void *arg, const char *stream, const uint8_t id[JOURNAL_ID_SIZE],
                           int64_t due, const uint8_t *value, size_t size)
{
    entries_t *entries = arg;
    if (entries->count == 16)
        return 1;
    size_t i = entries->count++;
    entries->stream_null[i] = stream == NULL;
    snprintf (entries->stream[i], sizeof entries->stream[i], "%s", stream ? stream : "");
    memcpy (entries->id[i], id, JOURNAL_ID_SIZE);
    entries->due[i] = due;
    snprintf (entries->value[i], sizeof entries->value[i], "%.*s", (int) size,
              (const char *) value);
    return 0;
}

void journal_id (uint8_t id[JOURNAL_ID_SIZE], uint8_t fill)
{
    memset (id, fill, JOURNAL_ID_SIZE);
}

int journal_append_one (journal_batch_t *batch, const char *stream, int64_t expected,
                        const char *name, int64_t n, int64_t *version)
{
    map_t map = journal_map (n);
    journal_event_t event = {name, map.bytes, map.size};
    return journal_batch_append (batch, stream, expected, &event, 1, 1000 + n, version);
}

events_t *journal_read_all (journal_t *journal, const char *stream)
{
    events_t *events = calloc (1, sizeof (events_t));
    assert_non_null (events);
    assert_int_equal (journal_read (journal, stream, 1, 0, journal_collect, events), 0);
    return events;
}

int64_t journal_test_version (journal_t *journal, const char *stream)
{
    int64_t version = -99;
    assert_int_equal (journal_version (journal, stream, &version), 0);
    return version;
}

void journal_raw_put (const char *dir, const uint8_t *key, size_t key_len, const void *value,
                      size_t value_len)
{
    harness_raw_write (dir, key, key_len, value, value_len);
}

size_t journal_tag (uint8_t *key, const char *stream, char tag)
{
    uint32_t shard = shoal_shard (stream, SHOAL_SHARDS_DEFAULT);
    key[0] = 'S';
    key[1] = (uint8_t) (shard >> 8);
    key[2] = (uint8_t) shard;
    key[3] = (uint8_t) tag;
    return 4;
}

size_t journal_key (uint8_t *key, char tag, const char *stream, const uint8_t *tail,
                    size_t tail_len)
{
    size_t len = strlen (stream);
    size_t at = journal_tag (key, stream, tag);
    memcpy (key + at, stream, len);
    key[at + len] = 0;
    memcpy (key + at + len + 1, tail, tail_len);
    return at + len + 1 + tail_len;
}
