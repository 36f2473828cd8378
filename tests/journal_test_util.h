/*  journal_test_util.h - the fixture and helpers of test_journal_*.c:
    a store in the test's own directory, batches of one event, reads.

    test_journal_*.c: tests of persistence/journal.c against real LevelDB
    files, in a fresh temporary directory per test.
*/
#ifndef SHOAL_TESTS_JOURNAL_TEST_UTIL_H
#define SHOAL_TESTS_JOURNAL_TEST_UTIL_H

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

#define MAX_EVENTS 1100

typedef struct {
    char dir[64];       //  the test's temporary directory
    journal_t *journal; //  open on dir
} fixture_t;

//  Events seen by journal_collect.
typedef struct {
    size_t count;
    size_t stop_after; //  0 = never stop
    int64_t seq[MAX_EVENTS];
    char name[MAX_EVENTS][SHOAL_NAME_MAX + 1];
    int64_t n[MAX_EVENTS]; //  the "n" field of the data map
    int64_t created[MAX_EVENTS];
} events_t;

//  Outbox entries or timers seen by journal_collect_entry.
typedef struct {
    size_t count;
    char stream[16][SHOAL_ADDRESS_MAX + 1];
    bool stream_null[16];
    uint8_t id[16][JOURNAL_ID_SIZE];
    int64_t due[16];
    char value[16][32];
} entries_t;

//  A small msgpack map, built by journal_map.
typedef struct {
    uint8_t bytes[128];
    size_t size;
} map_t;

journal_t *journal_test_open (const char *dir);

int journal_setup (void **state);

int journal_teardown (void **state);

void journal_reopen (fixture_t *fixture);

//  {"n": n}
map_t journal_map (int64_t n);

//  The "n" of a {"n": n} map, or NO_N if data is anything else. Callbacks
//  do not assert: a failed assert would jump out of a live LevelDB scan.
#define NO_N INT64_MIN

int64_t journal_map_n (const uint8_t *data, size_t size);

int journal_collect (void *arg, int64_t seq, const char *name, const uint8_t *data, size_t size,
                     int64_t created);

int journal_collect_entry (void *arg, const char *stream, const uint8_t id[JOURNAL_ID_SIZE],
                           int64_t due, const uint8_t *value, size_t size);

void journal_id (uint8_t id[JOURNAL_ID_SIZE], uint8_t fill);

//  Appends one event named name with data {"n": n}, expecting expected.
int journal_append_one (journal_batch_t *batch, const char *stream, int64_t expected,
                        const char *name, int64_t n, int64_t *version);

events_t *journal_read_all (journal_t *journal, const char *stream);

int64_t journal_test_version (journal_t *journal, const char *stream);

//  Writes value under key through a raw LevelDB handle on dir.
void journal_raw_put (const char *dir, const uint8_t *key, size_t key_len, const void *value,
                      size_t value_len);

//  Writes 'S' shard tag, the start of a key of table tag in stream's shard
//  (of SHOAL_SHARDS_DEFAULT, the fixture's count). Returns its length.
size_t journal_tag (uint8_t *key, const char *stream, char tag);

size_t journal_key (uint8_t *key, char tag, const char *stream, const uint8_t *tail,
                    size_t tail_len);

#endif
