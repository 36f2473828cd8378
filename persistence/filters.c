/*  filters.c - which streams may hold an 'i' record, and which may have
    events: two Bloom filters that spare the LevelDB reads that miss on
    the busiest path, a client's first command to a new stream (the Start
    of every transfer): the read of its 'i' key and of its event 1, each a
    get that walks both memtables and every level of the store.

    What a filter holds: every stream that has had such a record since
    the filter was made, and possibly others. Each is filled from two
    sides:
      - every write of an 'i' key, and every append of events, adds its
        stream when it is staged (batch.c, notes.c's fold:
        journal_filter_add), before the write, so that no thread reads the
        record before the stream is in (every append, not only event 1's:
        a stream a repair left with a snapshot and no events has its
        version from the snapshot, and no 'e' key for the scan; an owned
        batch adds only new streams, its caller the others as it loads
        them: journal_batch_keep);
      - a thread (journal_filters_start) reads the store's 'i' and 'e'
        keys once, shard by shard, and adds their streams. What it does
        not see was written after it began, by the writes above.
    Only when that thread has read every shard are the filters ready
    (acquire/release on `ready`): until then, and for good if it could not
    read the store, every lookup reads as before. A stream is never taken
    out (a pruned record leaves its stream in: a false positive), so a
    filter is a superset of the streams with records at any time: "not
    in" proves "none", and a stream in it costs the read it cost before.

    The bits: blocks of 512 bits (a cache line); a stream's hash picks a
    block and 6 bits in it (common/bloom.h). The inbox filter has 8 MiB, the
    streams' 16 MiB (every transfer is a stream): at 10 million streams
    ~1% of the misses read as maybe, and more as streams accumulate, up to
    every miss read as before. Memory is mapped when first written.

    The scan reads each 'i' key, and the first keys of each stream's
    events, then seeks past the stream's others.

    Threads: any thread adds and checks (atomic words); the scan thread is
    the journal's, joined by journal_filters_stop or journal_destroy.
*/
#include "journal_internal.h"
#include "keys.h"
#include "bloom.h"
#include "log.h"
#include "ptable.h"
#include "threadname.h"
#include <czmq.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define FILTER_INBOX_BITS (UINT64_C (1) << 26)   //  8 MiB
#define FILTER_STREAMS_BITS (UINT64_C (1) << 27) //  16 MiB
#define SCAN_NEXTS 4 //  a stream's events stepped over before a seek past them

struct _journal_filters_t {
    bloom_t sets[JOURNAL_FILTERS];               //  by journal_filter_t (common/bloom.h)
    atomic_uint_fast64_t skips[JOURNAL_FILTERS]; //  reads each spared
    atomic_bool ready;                           //  the store's keys were read
    atomic_bool stop;                            //  the journal closes: the scan gives up
    pthread_t scanner;
    bool scanning; //  scanner runs, to be joined
};

void journal_filters_init (journal_t *self)
{
    journal_filters_t *filters = calloc (1, sizeof *filters);
    if (!filters)
        return;
    const uint64_t bits[JOURNAL_FILTERS] = {FILTER_INBOX_BITS, FILTER_STREAMS_BITS};
    for (int i = 0; i < JOURNAL_FILTERS; i++) {
        atomic_init (&filters->skips[i], 0);
        if (bloom_init (&filters->sets[i], bits[i]) != 0) {
            for (int j = 0; j < i; j++)
                bloom_close (&filters->sets[j]);
            free (filters);
            return;
        }
    }
    atomic_init (&filters->ready, false);
    atomic_init (&filters->stop, false);
    self->filters = filters;
}

void journal_filter_add (journal_t *self, journal_filter_t which, const char *stream, size_t len)
{
    if (!self->filters)
        return;
    //  A stream in already (most appends) writes nothing: no cache line
    //  bounced between the workers.
    bloom_t *bloom = &self->filters->sets[which];
    uint64_t hash = ptable_hash (stream, len);
    if (!bloom_maybe (bloom, hash))
        bloom_add (bloom, hash);
}

bool journal_filter_absent (journal_t *self, journal_filter_t which, const char *stream, size_t len)
{
    journal_filters_t *filters = self->filters;
    if (!filters || !atomic_load_explicit (&filters->ready, memory_order_acquire))
        return false;
    bloom_t *bloom = &filters->sets[which];
    if (bloom_maybe (bloom, ptable_hash (stream, len)))
        return false;
    atomic_fetch_add_explicit (&filters->skips[which], 1, memory_order_relaxed);
    return true;
}

//  The stream of key, a key of tag's table under prefix ('S' shard tag
//  stream 0x00 ...): its length; a key without its NUL (damaged) gives
//  all it has, which adds a stream too many, never one too few.
static size_t s_key_stream (const char *key, size_t key_len)
{
    const char *stream = key + KEYS_TAG_SIZE;
    const char *nul = memchr (stream, 0, key_len - KEYS_TAG_SIZE);
    return nul ? (size_t) (nul - stream) : key_len - KEYS_TAG_SIZE;
}

//  Adds the streams of one shard's keys of tag to bloom; with skip, steps
//  over a stream's later keys (events), seeking past them. Returns 0 or
//  SHOAL_EIO.
static int s_scan_table (leveldb_iterator_t *it, uint32_t shard, char tag, bloom_t *bloom,
                         bool skip, uint64_t *streams)
{
    uint8_t prefix[KEYS_TAG_SIZE];
    keys_tag_key (prefix, shard, tag);
    char last[SHOAL_ADDRESS_MAX + 1];
    size_t last_len = SIZE_MAX; //  none yet
    int nexts = 0;
    leveldb_iter_seek (it, (const char *) prefix, sizeof prefix);
    while (leveldb_iter_valid (it)) {
        size_t key_len;
        const char *key = leveldb_iter_key (it, &key_len);
        if (!keys_has_prefix (key, key_len, prefix, sizeof prefix))
            break;
        size_t len = s_key_stream (key, key_len);
        const char *stream = key + KEYS_TAG_SIZE;
        if (len == last_len && memcmp (stream, last, len) == 0) {
            if (skip && ++nexts > SCAN_NEXTS && len <= SHOAL_ADDRESS_MAX) {
                //  Past every key of the stream: 'S' shard tag stream 0x01.
                uint8_t past[KEYS_TAG_SIZE + SHOAL_ADDRESS_MAX + 1];
                memcpy (past, prefix, sizeof prefix);
                memcpy (past + sizeof prefix, stream, len);
                past[sizeof prefix + len] = 0x01;
                leveldb_iter_seek (it, (const char *) past, sizeof prefix + len + 1);
                nexts = 0;
                continue;
            }
        } else {
            bloom_add (bloom, ptable_hash (stream, len));
            (*streams)++;
            last_len = len <= SHOAL_ADDRESS_MAX ? len : SIZE_MAX;
            if (last_len != SIZE_MAX)
                memcpy (last, stream, len);
            nexts = 0;
        }
        leveldb_iter_next (it);
    }
    char *error = NULL;
    leveldb_iter_get_error (it, &error);
    if (!error)
        return 0;
    log_warn ("journal: the stream filters' scan of shard %" PRIu32 " failed: %s", shard, error);
    leveldb_free (error);
    return SHOAL_EIO;
}

static int s_scan_shard (journal_t *self, uint32_t shard, uint64_t counts[JOURNAL_FILTERS])
{
    int rc = journal_enter (self);
    if (rc)
        return rc;
    leveldb_readoptions_t *read = leveldb_readoptions_create ();
    leveldb_readoptions_set_verify_checksums (read, 1);
    leveldb_readoptions_set_fill_cache (read, 0);
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, read);
    journal_filters_t *filters = self->filters;
    rc = s_scan_table (it, shard, 'i', &filters->sets[JOURNAL_FILTER_INBOX], false,
                       &counts[JOURNAL_FILTER_INBOX]);
    if (rc == 0)
        rc = s_scan_table (it, shard, 'e', &filters->sets[JOURNAL_FILTER_STREAMS], true,
                           &counts[JOURNAL_FILTER_STREAMS]);
    rc = journal_iter_close (it, rc);
    leveldb_readoptions_destroy (read);
    journal_leave (self);
    return rc;
}

static void *s_scanner (void *arg)
{
    thread_name ("shoal-filters");
    journal_t *self = arg;
    journal_filters_t *filters = self->filters;
    int64_t started = zclock_mono ();
    uint64_t counts[JOURNAL_FILTERS] = {0};
    int rc = 0;
    for (uint32_t shard = 0; rc == 0 && shard < self->shards; shard++) {
        if (atomic_load (&filters->stop))
            return NULL;
        rc = s_scan_shard (self, shard, counts);
    }
    if (rc) {
        log_warn ("journal: the stream filters could not read the store (%s): every lookup "
                  "reads it",
                  shoal_strerror (rc));
        return NULL;
    }
    atomic_store_explicit (&filters->ready, true, memory_order_release);
    log_info ("journal: stream filters ready: %" PRIu64 " streams with inbox records, %" PRIu64
              " with events, read in %" PRId64 " ms",
              counts[JOURNAL_FILTER_INBOX], counts[JOURNAL_FILTER_STREAMS],
              zclock_mono () - started);
    return NULL;
}

int journal_filters_start (journal_t *self)
{
    assert (self);
    journal_filters_t *filters = self->filters;
    if (!filters || filters->scanning || atomic_load (&filters->ready))
        return 0;
    atomic_store (&filters->stop, false);
    if (pthread_create (&filters->scanner, NULL, s_scanner, self) != 0)
        return SHOAL_ENOMEM;
    filters->scanning = true;
    return 0;
}

void journal_filters_stop (journal_t *self)
{
    journal_filters_t *filters = self->filters;
    if (!filters || !filters->scanning)
        return;
    atomic_store (&filters->stop, true);
    pthread_join (filters->scanner, NULL);
    filters->scanning = false;
}

void journal_filters_destroy (journal_t *self)
{
    journal_filters_stop (self);
    if (self->filters) {
        for (int i = 0; i < JOURNAL_FILTERS; i++)
            bloom_close (&self->filters->sets[i]);
        free (self->filters);
        self->filters = NULL;
    }
}

bool journal_filters_ready (journal_t *self)
{
    assert (self);
    return self->filters && atomic_load (&self->filters->ready);
}

uint64_t journal_filter_skips (journal_t *self, journal_filter_t which)
{
    assert (self);
    return self->filters ? atomic_load (&self->filters->skips[which]) : 0;
}
