/*  inboxfilter.c - which streams may hold an 'i' record: a Bloom filter
    that spares a command to a stream with none (a client's first command
    to a new stream, the Start of every transfer) the LevelDB read of its
    'i' key, a miss that walks the memtables and every level.

    What it holds: every stream that has had an 'i' record since the
    filter was made, and possibly others. It is filled from two sides:
      - every write of an 'i' key adds its stream when it is staged
        (batch.c, notes.c's fold: journal_inbox_filter_add), before the
        write, so that no thread reads the record before the stream is in;
      - a thread (journal_inbox_filter_start) reads every 'i' key of the
        store, shard by shard, and adds their streams. The records it does
        not see were written after it began, by the writes above.
    Only when that thread has read every shard is the filter ready
    (acquire/release on `ready`): until then, and for good if it could not
    read the store, journal_inbox_find reads as before. A stream is never
    taken out (a pruned record leaves its stream in, a false positive), so
    a filter is a superset of the streams with records at any time: "not
    in" is a proof of "no record", and a stream in it costs the read it
    cost before.

    The bits: JOURNAL_INBOX_FILTER_BITS in blocks of 512 bits (a cache
    line); a stream's hash picks a block and FILTER_PROBES bits in it. At
    8 MiB, 10 million streams with records read ~2% of the misses as
    maybe. Memory is mapped when first written.

    Threads: any thread adds and checks (atomic words); the scan thread is
    the journal's, joined by journal_inbox_filter_stop or journal_destroy.
*/
#include "journal_internal.h"
#include "keys.h"
#include "log.h"
#include "ptable.h"
#include <czmq.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define FILTER_BLOCK_WORDS 8 //  512 bits, one cache line
#define FILTER_PROBES 6

struct _journal_inbox_filter_t {
    _Atomic uint64_t *words;    //  JOURNAL_INBOX_FILTER_BITS / 64 of them
    uint64_t blocks;            //  their count / FILTER_BLOCK_WORDS, a power of 2
    atomic_bool ready;          //  every 'i' key of the store was read
    atomic_bool stop;           //  the journal closes: the scan gives up
    atomic_uint_fast64_t skips; //  reads it spared
    pthread_t scanner;
    bool scanning; //  scanner runs, to be joined
};

//  The stream's hash; its low bits pick the block, the rest the bits.
static uint64_t s_hash (const char *stream, size_t len)
{
    return ptable_hash (stream, len);
}

//  FILTER_PROBES bit numbers of 9 bits each, from another mix of hash
//  than the block's.
static uint64_t s_probes (uint64_t hash)
{
    hash ^= hash >> 29;
    return hash * UINT64_C (0xbf58476d1ce4e5b9);
}

static void s_add (journal_inbox_filter_t *self, uint64_t hash)
{
    _Atomic uint64_t *block = self->words + (hash & (self->blocks - 1)) * FILTER_BLOCK_WORDS;
    uint64_t bits = s_probes (hash);
    for (int i = 0; i < FILTER_PROBES; i++, bits >>= 9) {
        unsigned bit = (unsigned) (bits & 511);
        atomic_fetch_or_explicit (&block[bit >> 6], UINT64_C (1) << (bit & 63),
                                  memory_order_release);
    }
}

static bool s_maybe (journal_inbox_filter_t *self, uint64_t hash)
{
    _Atomic uint64_t *block = self->words + (hash & (self->blocks - 1)) * FILTER_BLOCK_WORDS;
    uint64_t bits = s_probes (hash);
    for (int i = 0; i < FILTER_PROBES; i++, bits >>= 9) {
        unsigned bit = (unsigned) (bits & 511);
        uint64_t word = atomic_load_explicit (&block[bit >> 6], memory_order_acquire);
        if (!(word & (UINT64_C (1) << (bit & 63))))
            return false;
    }
    return true;
}

int journal_inbox_filter_init (journal_t *self)
{
    journal_inbox_filter_t *filter = calloc (1, sizeof *filter);
    if (!filter)
        return SHOAL_ENOMEM;
    size_t words = JOURNAL_INBOX_FILTER_BITS / 64;
    filter->words = calloc (words, sizeof (uint64_t));
    if (!filter->words) {
        free (filter);
        return SHOAL_ENOMEM;
    }
    filter->blocks = words / FILTER_BLOCK_WORDS;
    atomic_init (&filter->ready, false);
    atomic_init (&filter->stop, false);
    atomic_init (&filter->skips, 0);
    self->inbox_filter = filter;
    return 0;
}

void journal_inbox_filter_add (journal_t *self, const char *stream, size_t len)
{
    if (self->inbox_filter)
        s_add (self->inbox_filter, s_hash (stream, len));
}

bool journal_inbox_filter_absent (journal_t *self, const char *stream, size_t len)
{
    journal_inbox_filter_t *filter = self->inbox_filter;
    if (!filter || !atomic_load_explicit (&filter->ready, memory_order_acquire))
        return false;
    if (s_maybe (filter, s_hash (stream, len)))
        return false;
    atomic_fetch_add_explicit (&filter->skips, 1, memory_order_relaxed);
    return true;
}

//  Adds the streams of one shard's 'i' keys. Returns 0 or SHOAL_EIO.
static int s_scan_shard (journal_t *self, uint32_t shard, uint64_t *keys)
{
    int rc = journal_enter (self);
    if (rc)
        return rc;
    leveldb_readoptions_t *read = leveldb_readoptions_create ();
    leveldb_readoptions_set_verify_checksums (read, 1);
    leveldb_readoptions_set_fill_cache (read, 0);
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, read);
    uint8_t prefix[KEYS_TAG_SIZE];
    keys_tag_key (prefix, shard, 'i');
    for (leveldb_iter_seek (it, (const char *) prefix, sizeof prefix); leveldb_iter_valid (it);
         leveldb_iter_next (it)) {
        size_t key_len;
        const char *key = leveldb_iter_key (it, &key_len);
        if (!keys_has_prefix (key, key_len, prefix, sizeof prefix))
            break;
        //  'S' shard 'i' stream 0x00 id: a key without its NUL (damaged)
        //  adds all it has, a superset still.
        const char *stream = key + KEYS_TAG_SIZE;
        const char *nul = memchr (stream, 0, key_len - KEYS_TAG_SIZE);
        size_t len = nul ? (size_t) (nul - stream) : key_len - KEYS_TAG_SIZE;
        s_add (self->inbox_filter, s_hash (stream, len));
        (*keys)++;
    }
    rc = journal_iter_close (it, 0);
    leveldb_readoptions_destroy (read);
    journal_leave (self);
    return rc;
}

static void *s_scanner (void *arg)
{
    journal_t *self = arg;
    journal_inbox_filter_t *filter = self->inbox_filter;
    int64_t started = zclock_mono ();
    uint64_t keys = 0;
    int rc = 0;
    for (uint32_t shard = 0; rc == 0 && shard < self->shards; shard++) {
        if (atomic_load (&filter->stop))
            return NULL;
        rc = s_scan_shard (self, shard, &keys);
    }
    if (rc) {
        log_warn ("journal: the inbox filter could not read the store (%s): every command's "
                  "inbox record is read from the store",
                  shoal_strerror (rc));
        return NULL;
    }
    atomic_store_explicit (&filter->ready, true, memory_order_release);
    log_info ("journal: inbox filter ready: %" PRIu64 " inbox records read in %" PRId64 " ms", keys,
              zclock_mono () - started);
    return NULL;
}

int journal_inbox_filter_start (journal_t *self)
{
    assert (self);
    journal_inbox_filter_t *filter = self->inbox_filter;
    if (!filter || filter->scanning || atomic_load (&filter->ready))
        return 0;
    atomic_store (&filter->stop, false);
    if (pthread_create (&filter->scanner, NULL, s_scanner, self) != 0)
        return SHOAL_ENOMEM;
    filter->scanning = true;
    return 0;
}

void journal_inbox_filter_stop (journal_t *self)
{
    journal_inbox_filter_t *filter = self->inbox_filter;
    if (!filter || !filter->scanning)
        return;
    atomic_store (&filter->stop, true);
    pthread_join (filter->scanner, NULL);
    filter->scanning = false;
}

void journal_inbox_filter_destroy (journal_t *self)
{
    journal_inbox_filter_stop (self);
    if (self->inbox_filter) {
        free (self->inbox_filter->words);
        free (self->inbox_filter);
        self->inbox_filter = NULL;
    }
}

bool journal_inbox_filter_ready (journal_t *self)
{
    assert (self);
    return self->inbox_filter && atomic_load (&self->inbox_filter->ready);
}

uint64_t journal_inbox_filter_skips (journal_t *self)
{
    assert (self);
    return self->inbox_filter ? atomic_load (&self->inbox_filter->skips) : 0;
}
