/*  logtail.c - the latest records of the event log, kept in memory, so
    that a reader that follows the log (the projections) reads what was
    just committed without going back to LevelDB (an iterator over the
    memtables and the young tables, and a checksum per block: a tenth of
    a busy node's CPU).

    Contract: a record enters the tail only once its write has succeeded,
    under the journal's write mutex, in log order; so the tail is always
    the log's last records, contiguous up to its end, as the store holds
    them. It keeps at most LOG_TAIL_RECORDS records and LOG_TAIL_BYTES
    bytes, dropping the oldest. A reopen (journal_log_recover) empties it:
    the write that failed may have been kept by the store, and the tail
    would miss it. A read from a position older than the tail goes to the
    store (journal_log_read).

    Threads: any thread; the tail has a mutex of its own, held only to
    push a record or to copy records out (never across a reader's
    callback), so a slow reader never holds up a commit.
*/
#include "journal_internal.h"
#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define LOG_TAIL_RECORDS 4096     //  records kept, at most
#define LOG_TAIL_BYTES (8u << 20) //  and their bytes

typedef struct {
    uint64_t first;  //  the position of its first event
    uint64_t count;  //  its events
    size_t size;     //  bytes
    uint8_t *record; //  the record as stored, owned
} tail_record_t;

struct _log_tail_t {
    pthread_mutex_t lock;
    tail_record_t ring[LOG_TAIL_RECORDS];
    size_t oldest; //  index of the oldest record
    size_t count;  //  records held
    size_t bytes;  //  their bytes
};

log_tail_t *log_tail_new (void)
{
    log_tail_t *self = calloc (1, sizeof (log_tail_t));
    if (self)
        pthread_mutex_init (&self->lock, NULL);
    return self;
}

static void s_drop_oldest (log_tail_t *self)
{
    tail_record_t *record = &self->ring[self->oldest];
    self->bytes -= record->size;
    free (record->record);
    *record = (tail_record_t){0};
    self->oldest = (self->oldest + 1) % LOG_TAIL_RECORDS;
    self->count--;
}

void log_tail_clear (log_tail_t *self)
{
    if (!self)
        return;
    pthread_mutex_lock (&self->lock);
    while (self->count)
        s_drop_oldest (self);
    pthread_mutex_unlock (&self->lock);
}

void log_tail_destroy (log_tail_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    log_tail_clear (*self_p);
    pthread_mutex_destroy (&(*self_p)->lock);
    free (*self_p);
    *self_p = NULL;
}

void log_tail_push (log_tail_t *self, uint64_t first, uint64_t count, const void *record,
                    size_t size)
{
    if (!self || count == 0)
        return;
    uint8_t *copy = malloc (size);
    pthread_mutex_lock (&self->lock);
    //  Out of memory, or not following the last one (a gap): start over.
    tail_record_t *last =
        self->count ? &self->ring[(self->oldest + self->count - 1) % LOG_TAIL_RECORDS] : NULL;
    if (!copy || (last && last->first + last->count != first)) {
        while (self->count)
            s_drop_oldest (self);
    }
    if (copy) {
        memcpy (copy, record, size);
        while (self->count == LOG_TAIL_RECORDS ||
               (self->count && self->bytes + size > LOG_TAIL_BYTES))
            s_drop_oldest (self);
        self->ring[(self->oldest + self->count) % LOG_TAIL_RECORDS] =
            (tail_record_t){.first = first, .count = count, .size = size, .record = copy};
        self->count++;
        self->bytes += size;
    }
    pthread_mutex_unlock (&self->lock);
}

int log_tail_copy (log_tail_t *self, uint64_t from, size_t limit, log_tail_copy_t *out)
{
    memset (out, 0, sizeof *out);
    if (!self)
        return SHOAL_ENOTFOUND;
    pthread_mutex_lock (&self->lock);
    int rc = SHOAL_ENOTFOUND;
    const tail_record_t *oldest = &self->ring[self->oldest];
    if (self->count && from >= oldest->first) {
        rc = 0;
        size_t at = 0;
        //  The record that holds from (or none: from is the log's end).
        while (at < self->count) {
            const tail_record_t *record = &self->ring[(self->oldest + at) % LOG_TAIL_RECORDS];
            if (from < record->first + record->count)
                break;
            at++;
        }
        uint64_t events = 0;
        size_t bytes = 0, records = 0;
        for (size_t i = at; i < self->count && !(limit && events >= limit); i++) {
            const tail_record_t *record = &self->ring[(self->oldest + i) % LOG_TAIL_RECORDS];
            events += record->first + record->count - (from > record->first ? from : record->first);
            bytes += record->size;
            records++;
        }
        if (records && !(out->bytes = malloc (bytes)))
            rc = SHOAL_ENOMEM;
        if (records && !(out->records = malloc (records * sizeof (log_tail_item_t))))
            rc = SHOAL_ENOMEM;
        for (size_t i = 0; rc == 0 && i < records; i++) {
            const tail_record_t *record = &self->ring[(self->oldest + at + i) % LOG_TAIL_RECORDS];
            memcpy (out->bytes + out->size, record->record, record->size);
            out->records[i] = (log_tail_item_t){
                .first = record->first, .offset = out->size, .size = record->size};
            out->size += record->size;
            out->count++;
        }
    }
    pthread_mutex_unlock (&self->lock);
    if (rc)
        log_tail_copy_free (out);
    return rc;
}

void log_tail_copy_free (log_tail_copy_t *copy)
{
    free (copy->bytes);
    free (copy->records);
    memset (copy, 0, sizeof *copy);
}
