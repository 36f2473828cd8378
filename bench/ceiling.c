/*  ceiling.c - LevelDB alone on the bench's disk: synced group commits of
    records shaped like a transfer's, then the same writes without sync
    beside a thread that fsyncs the logs (see ceiling.h).

    The records follow, in a cycle of 5, what one completed transfer
    writes today: 5 events, the first of which holds the client's inbox
    record (Start created the saga's stream, persistence/keys.h). Their
    key and value sizes are the means seen in `shoal bench --accounts
    10000` (leveldb_writebatch_put counted by a preloaded shim,
    2026-12-02): events 28 + 42 bytes, inbox records 36 + 75, so the first
    event 28 + 137 (42, the id's 18 and the record's 75 in a bin of 2
    bytes of header). Keys are laid out as
    persistence/keys.h lays them out ('S' shard tag stream ...), over
    10,000 account streams drawn at random, events with a sequence number
    that grows per stream, inbox ids random; values are random bytes
    (compression is off, as in shoal's store). Each write also holds one
    record of the node's event log ('L' pos, 9 bytes of key), which copies
    every event of the write (6 bytes and 59 per event, the mean seen the
    same way), and one note ('W' worker pos, 11 bytes of key: per
    transfer, 2 commands sent of CEILING_NOTE_SENT bytes, 2 answers of
    CEILING_NOTE_ANSWER and 2 inbox records of CEILING_NOTE_INBOX, the
    Debit's and the Credit's, their size reckoned from keys.h's line and
    an inbox record's mean), neither counted among the records (the node
    counts its note, one record per write). The outbox entries and inbox
    records a worker stores under their keys when still noted after a
    second, and the projections' records, are left out.

    Limits: a store that starts empty, so compaction costs less than in a
    store that holds months of journal; the options copy journal_open's
    (persistence/journal.c) and must follow them by hand.
*/
#include "ceiling.h"
#include "node_child.h"
#include "tablefile.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <leveldb/c.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  As journal_open sets them (persistence/journal.c).
#define STORE_CACHE_BYTES (64u << 20)
#define STORE_WRITE_BUFFER_BYTES (16u << 20)
#define STORE_BLOOM_BITS_PER_KEY 10

#define CEILING_STREAMS 10000  //  account streams
#define CEILING_KEY_MAX 64     //  bytes of the longest key below
#define CEILING_VALUE_MAX 144  //  bytes of the longest value below
#define CEILING_LOG_KEY 9      //  'L' pos:u64be
#define CEILING_LOG_HEADER 6   //  a log record's header
#define CEILING_LOG_ENTRY 59   //  a log record's bytes per event
#define CEILING_NOTE_KEY 11    //  'W' worker:u16be pos:u64be
#define CEILING_NOTE_SENT 156  //  a note's bytes per command sent (stream, id, envelope)
#define CEILING_NOTE_ANSWER 35 //  and per answer (stream, id)
#define CEILING_NOTE_INBOX 137 //  and per inbox record (stream, id, record, sender)
#define CEILING_CYCLE_EVENTS 5 //  events per cycle: one cycle is one transfer

typedef enum { RECORD_EVENT, RECORD_INBOX } record_kind_t;

//  One record of the cycle: its kind and its key and value bytes.
typedef struct {
    record_kind_t kind;
    size_t key;
    size_t value;
} record_shape_t;

static const record_shape_t s_cycle[] = {
    {RECORD_EVENT, 28, 137}, {RECORD_EVENT, 28, 42}, {RECORD_EVENT, 28, 42},
    {RECORD_EVENT, 28, 42},  {RECORD_EVENT, 28, 42},
};
#define CEILING_CYCLE (sizeof s_cycle / sizeof s_cycle[0])

const char *ceiling_mix (double *bytes_per_record)
{
    if (bytes_per_record) {
        size_t bytes = 0;
        for (size_t i = 0; i < CEILING_CYCLE; i++)
            bytes += s_cycle[i].key + s_cycle[i].value +
                     (s_cycle[i].kind == RECORD_EVENT ? CEILING_LOG_ENTRY : 0);
        bytes += 2 * CEILING_NOTE_SENT + 2 * CEILING_NOTE_ANSWER + 2 * CEILING_NOTE_INBOX;
        *bytes_per_record = (double) bytes / (double) CEILING_CYCLE;
    }
    return "per 5 records, as a transfer writes them: 5 events (28 + 42 B; the first 28 + 137 B, "
           "holding the client's inbox record); and per write one event log record (59 B per event "
           "in it) and one "
           "note (2 x 156 B + 2 x 35 B + 2 x 137 B per transfer in it), not counted as records";
}

void ceiling_leveldb_version (int *major, int *minor)
{
    *major = leveldb_major_version ();
    *minor = leveldb_minor_version ();
}

//  The state of one run: the store, the generator, the keys to delete.
typedef struct {
    leveldb_t *db;
    leveldb_options_t *options;
    leveldb_filterpolicy_t *filter;
    leveldb_cache_t *cache;
    leveldb_writeoptions_t *synced;
    leveldb_writeoptions_t *lazy; //  the group phase's writes: not synced
    leveldb_writebatch_t *batch;
    uint64_t random;               //  xorshift64* state, never 0
    uint64_t seq[CEILING_STREAMS]; //  each account stream's last event
    uint64_t notes;                //  notes written so far
    size_t next;                   //  position in s_cycle
    uint64_t logged;               //  events in the log so far
    size_t batch_events;           //  events in the batch being staged
    uint8_t *log;                  //  a log record's value (random bytes)
} run_t;

static uint64_t s_random (run_t *run)
{
    run->random ^= run->random >> 12;
    run->random ^= run->random << 25;
    run->random ^= run->random >> 27;
    return run->random * 2685821657736338717ULL;
}

static void s_put_be (uint8_t *out, uint64_t value, size_t bytes)
{
    for (size_t i = 0; i < bytes; i++)
        out[i] = (uint8_t) (value >> (8 * (bytes - 1 - i)));
}

//  Writes the key of shape into key: 'S' shard:u16be tag stream 0x00, then
//  the sequence number (events) or a 16-byte id (inbox, outbox), padded or
//  cut to shape->key bytes.
static void s_key (run_t *run, const record_shape_t *shape, uint8_t *key)
{
    uint64_t stream = s_random (run) % CEILING_STREAMS;
    char name[32];
    int len = snprintf (name, sizeof name, "account/%07u", (unsigned) stream);
    uint8_t full[CEILING_KEY_MAX + 32] = {'S'};
    s_put_be (full + 1, stream % 256, 2);
    full[3] = shape->kind == RECORD_EVENT ? 'e' : 'i';
    memcpy (full + 4, name, (size_t) len);
    size_t at = 4 + (size_t) len + 1; //  and the 0x00 after the stream
    if (shape->kind == RECORD_EVENT)
        s_put_be (full + at, ++run->seq[stream], 8);
    else {
        s_put_be (full + at, s_random (run), 8);
        s_put_be (full + at + 8, s_random (run), 8);
    }
    memcpy (key, full, shape->key);
}

//  Stages the next record of the cycle into the run's batch.
static void s_stage (run_t *run)
{
    const record_shape_t *shape = &s_cycle[run->next];
    run->next = (run->next + 1) % CEILING_CYCLE;
    uint8_t key[CEILING_KEY_MAX];
    uint64_t value[CEILING_VALUE_MAX / 8];
    s_key (run, shape, key);
    for (size_t i = 0; i < CEILING_VALUE_MAX / 8; i++)
        value[i] = s_random (run);
    leveldb_writebatch_put (run->batch, (const char *) key, shape->key, (const char *) value,
                            shape->value);
    if (shape->kind == RECORD_EVENT)
        run->batch_events++;
}

//  Stages the outbox note of the batch's transfers (a cycle's events
//  each). Returns its key and value bytes.
static size_t s_stage_note (run_t *run)
{
    size_t transfers = (run->batch_events + CEILING_CYCLE_EVENTS - 1) / CEILING_CYCLE_EVENTS;
    size_t size =
        CEILING_LOG_HEADER +
        transfers * (2 * CEILING_NOTE_SENT + 2 * CEILING_NOTE_ANSWER + 2 * CEILING_NOTE_INBOX);
    uint8_t key[CEILING_NOTE_KEY] = {'W'};
    s_put_be (key + 3, ++run->notes, 8);
    leveldb_writebatch_put (run->batch, (const char *) key, sizeof key, (const char *) run->log,
                            size);
    return sizeof key + size;
}

//  Stages the event log's record of the batch's events, if it has any,
//  and its outbox note. Returns their key and value bytes.
static size_t s_stage_log (run_t *run)
{
    if (run->batch_events == 0)
        return 0;
    size_t note = s_stage_note (run);
    uint8_t key[CEILING_LOG_KEY] = {'L'};
    s_put_be (key + 1, run->logged, 8);
    size_t size = CEILING_LOG_HEADER + run->batch_events * CEILING_LOG_ENTRY;
    leveldb_writebatch_put (run->batch, (const char *) key, sizeof key, (const char *) run->log,
                            size);
    run->logged += run->batch_events;
    run->batch_events = 0;
    return note + sizeof key + size;
}

static int s_compare_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

//  The nearest-rank percentile p (0-100) of sorted[0..count-1].
static double s_percentile (const double *sorted, size_t count, double p)
{
    if (count == 0)
        return 0;
    size_t rank = (size_t) (p / 100.0 * (double) count + 0.999999);
    return sorted[rank ? rank - 1 : 0];
}

static void s_close (run_t *run)
{
    if (run->db)
        leveldb_close (run->db);
    if (run->batch)
        leveldb_writebatch_destroy (run->batch);
    if (run->synced)
        leveldb_writeoptions_destroy (run->synced);
    if (run->lazy)
        leveldb_writeoptions_destroy (run->lazy);
    if (run->options)
        leveldb_options_destroy (run->options);
    if (run->filter)
        leveldb_filterpolicy_destroy (run->filter);
    if (run->cache)
        leveldb_cache_destroy (run->cache);
}

//  Opens a new store in dir as journal_open would. Returns 0 or SHOAL_EIO
//  (said on stderr).
static int s_open (run_t *run, const char *dir)
{
    run->options = leveldb_options_create ();
    run->filter = leveldb_filterpolicy_create_bloom (STORE_BLOOM_BITS_PER_KEY);
    run->cache = leveldb_cache_create_lru (STORE_CACHE_BYTES);
    leveldb_options_set_create_if_missing (run->options, 1);
    leveldb_options_set_error_if_exists (run->options, 1);
    leveldb_options_set_paranoid_checks (run->options, 1);
    leveldb_options_set_filter_policy (run->options, run->filter);
    leveldb_options_set_cache (run->options, run->cache);
    leveldb_options_set_write_buffer_size (run->options, STORE_WRITE_BUFFER_BYTES);
    leveldb_options_set_compression (run->options, leveldb_no_compression);
    if (tablefile_env ())
        leveldb_options_set_env (run->options, tablefile_env ());
    run->synced = leveldb_writeoptions_create ();
    leveldb_writeoptions_set_sync (run->synced, 1);
    run->lazy = leveldb_writeoptions_create ();
    leveldb_writeoptions_set_sync (run->lazy, 0);
    run->batch = leveldb_writebatch_create ();
    char *err = NULL;
    run->db = leveldb_open (run->options, dir, &err);
    if (err) {
        fprintf (stderr, "shoal bench: --ceiling: cannot open a store in %s: %s\n", dir, err);
        leveldb_free (err);
        run->db = NULL;
        return SHOAL_EIO;
    }
    return 0;
}

//  Writes batches of records records, synced, for ms milliseconds; one
//  latency sample (ms) per write into *samples (grown with realloc).
//  Returns 0, SHOAL_EIO or SHOAL_ENOMEM (said on stderr).
static int s_write (run_t *run, size_t records, int ms, ceiling_row_t *row, double **samples,
                    size_t *capacity)
{
    int64_t start = zclock_usecs (), deadline = start + (int64_t) ms * 1000, now = start;
    while (now < deadline && !zsys_interrupted) {
        leveldb_writebatch_clear (run->batch);
        for (size_t i = 0; i < records; i++) {
            row->bytes += s_cycle[run->next].key + s_cycle[run->next].value;
            s_stage (run);
        }
        row->bytes += s_stage_log (run);
        int64_t before = zclock_usecs ();
        char *err = NULL;
        leveldb_write (run->db, run->synced, run->batch, &err);
        now = zclock_usecs ();
        if (err) {
            fprintf (stderr, "shoal bench: --ceiling: a synced write failed: %s\n", err);
            leveldb_free (err);
            return SHOAL_EIO;
        }
        if (row->commits == *capacity) {
            size_t grown = *capacity ? *capacity * 2 : 4096;
            double *more = realloc (*samples, grown * sizeof (double));
            if (!more) {
                fprintf (stderr, "shoal bench: --ceiling: out of memory\n");
                return SHOAL_ENOMEM;
            }
            *samples = more;
            *capacity = grown;
        }
        (*samples)[row->commits++] = (double) (now - before) / 1000.0;
        row->write_seconds += (double) (now - before) / 1e6;
        row->written += records;
    }
    row->seconds = (double) (now - start) / 1e6;
    return 0;
}

//  The group phase's syncing thread: fdatasync of every log file in dir,
//  back to back, as shoal's syncer does (persistence/sync.c), until stop.
typedef struct {
    const char *dir;
    atomic_bool stop;
    size_t syncs; //  rounds that synced every log there
    int rc;       //  0, or the errno of a failed fdatasync
} syncer_t;

static void *s_syncer (void *arg)
{
    syncer_t *syncer = arg;
    while (!atomic_load (&syncer->stop) && syncer->rc == 0) {
        DIR *dir = opendir (syncer->dir);
        if (!dir) {
            syncer->rc = errno ? errno : EIO;
            break;
        }
        struct dirent *entry;
        while ((entry = readdir (dir))) {
            size_t len = strlen (entry->d_name);
            if (len < 5 || strcmp (entry->d_name + len - 4, ".log") != 0)
                continue;
            char path[1024];
            snprintf (path, sizeof path, "%s/%s", syncer->dir, entry->d_name);
            int fd = open (path, O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                continue; //  compacted and deleted
            if (fdatasync (fd) != 0)
                syncer->rc = errno ? errno : EIO;
            close (fd);
        }
        closedir (dir);
        syncer->syncs++;
    }
    return NULL;
}

//  The group phase: batches of records records written without sync, back
//  to back from one thread, for ms milliseconds, while a second thread
//  fsyncs the logs back to back. Returns 0 or SHOAL_EIO (said on stderr).
static int s_write_group (run_t *run, const char *dir, size_t records, int ms, ceiling_row_t *row)
{
    syncer_t syncer = {.dir = dir};
    atomic_init (&syncer.stop, false);
    pthread_t thread;
    if (pthread_create (&thread, NULL, s_syncer, &syncer) != 0) {
        fprintf (stderr, "shoal bench: --ceiling: cannot start the syncing thread\n");
        return SHOAL_EIO;
    }
    int rc = 0;
    int64_t start = zclock_usecs (), deadline = start + (int64_t) ms * 1000, now = start;
    while (now < deadline && rc == 0 && !zsys_interrupted) {
        leveldb_writebatch_clear (run->batch);
        for (size_t i = 0; i < records; i++)
            s_stage (run);
        s_stage_log (run);
        char *err = NULL;
        leveldb_write (run->db, run->lazy, run->batch, &err);
        now = zclock_usecs ();
        if (err) {
            fprintf (stderr, "shoal bench: --ceiling: a write failed: %s\n", err);
            leveldb_free (err);
            rc = SHOAL_EIO;
            break;
        }
        row->group_commits++;
        row->group_written += records;
    }
    atomic_store (&syncer.stop, true);
    pthread_join (thread, NULL);
    if (rc == 0 && syncer.rc) {
        fprintf (stderr, "shoal bench: --ceiling: an fdatasync failed: %s\n", strerror (syncer.rc));
        rc = SHOAL_EIO;
    }
    row->group_syncs = syncer.syncs;
    row->group_seconds = (double) (now - start) / 1e6;
    return rc;
}

int ceiling_measure (size_t records, int ms, uint64_t seed, ceiling_row_t *row, char *dir,
                     size_t dir_size)
{
    memset (row, 0, sizeof *row);
    row->records = records;
    if (dir_size)
        dir[0] = 0;
    if (records == 0 || records > CEILING_RECORDS_MAX || ms <= 0 || dir_size == 0)
        return SHOAL_EINVAL;
    if (bench_temp_dir ("shoal-ceiling", dir, dir_size) != 0) {
        fprintf (stderr, "shoal bench: --ceiling: cannot make a temporary directory: %s\n",
                 strerror (errno));
        dir[0] = 0;
        return SHOAL_EIO;
    }
    //  A batch holds no more events than records, and at most records / 5 + 2
    //  transfers: random bytes enough for its log record and its note.
    size_t log_size = CEILING_LOG_HEADER + records * CEILING_LOG_ENTRY;
    size_t note_size = CEILING_LOG_HEADER + (records / CEILING_CYCLE + 2) *
                                                (2 * CEILING_NOTE_SENT + 2 * CEILING_NOTE_ANSWER +
                                                 2 * CEILING_NOTE_INBOX);
    if (note_size > log_size)
        log_size = note_size;
    run_t *run = calloc (1, sizeof (run_t));
    if (!run || !(run->log = malloc (log_size))) {
        fprintf (stderr, "shoal bench: --ceiling: out of memory\n");
        free (run);
        bench_remove_tree (dir);
        return SHOAL_ENOMEM;
    }
    run->random = seed * 0x9E3779B97F4A7C15ULL + records + 1;
    if (run->random == 0)
        run->random = 1;
    for (size_t i = 0; i < log_size; i++)
        run->log[i] = (uint8_t) s_random (run);
    double *samples = NULL;
    size_t capacity = 0;
    int rc = s_open (run, dir);
    if (rc == 0)
        rc = s_write (run, records, ms, row, &samples, &capacity);
    s_close (run);
    if (bench_remove_tree (dir) != 0)
        fprintf (stderr, "shoal bench: --ceiling: could not remove all of %s\n", dir);
    //  Then, in a store of its own, as shoal writes since its group sync.
    if (rc == 0) {
        run_t *group = calloc (1, sizeof (run_t));
        if (!group)
            rc = SHOAL_ENOMEM;
        else if (bench_temp_dir ("shoal-ceiling", dir, dir_size) != 0) {
            fprintf (stderr, "shoal bench: --ceiling: cannot make a temporary directory: %s\n",
                     strerror (errno));
            dir[0] = 0;
            rc = SHOAL_EIO;
        } else {
            group->log = run->log;
            group->random = run->random;
            rc = s_open (group, dir);
            if (rc == 0)
                rc = s_write_group (group, dir, records, ms, row);
            s_close (group);
            if (bench_remove_tree (dir) != 0)
                fprintf (stderr, "shoal bench: --ceiling: could not remove all of %s\n", dir);
        }
        free (group);
    }
    free (run->log);
    free (run);
    if (rc == 0 && row->write_seconds > 0) {
        qsort (samples, row->commits, sizeof (double), s_compare_double);
        row->p50_ms = s_percentile (samples, row->commits, 50);
        row->p99_ms = s_percentile (samples, row->commits, 99);
        row->max_ms = row->commits ? samples[row->commits - 1] : 0;
        row->commits_per_second = (double) row->commits / row->write_seconds;
        row->records_per_second = (double) row->written / row->write_seconds;
        row->wall_records_per_second = (double) row->written / row->seconds;
        row->mb_per_second = (double) row->bytes / row->write_seconds / 1e6;
    }
    if (rc == 0 && row->group_seconds > 0) {
        row->group_commits_per_second = (double) row->group_commits / row->group_seconds;
        row->group_records_per_second = (double) row->group_written / row->group_seconds;
        row->group_syncs_per_second = (double) row->group_syncs / row->group_seconds;
    }
    free (samples);
    return rc;
}
