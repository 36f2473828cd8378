/*  journal_dead.h - dead-letter records in the journal: what a node knows
    of the messages whose turns crashed it (runtime/deadletter.c decides
    what they mean; here they are opaque bytes).

        'S' shard:u16be 'd' stream 0x00 id:16 -> the record's bytes

    stream is the message's receiver (so a record lives in its receiver's
    shard and moves with it), id the message's key (a command's id; the
    commanded id for a reply or a stall notice, so that re-sends share it).
    Records are few: written when a node starts after a crash and when an
    operator decides, never on the command path.

    Threads: any thread (LevelDB is thread-safe). Writes are synced unless
    the journal was opened with durability async.
*/
#ifndef JOURNAL_DEAD_H_INCLUDED
#define JOURNAL_DEAD_H_INCLUDED

#include "journal.h"

//  The record for (stream, id): its bytes into *value (the caller frees
//  them with free()). SHOAL_ENOTFOUND if none, SHOAL_EINVAL on a bad
//  stream, SHOAL_EIO if the store cannot be read.
int journal_dead_get (journal_t *self, const char *stream, const uint8_t id[JOURNAL_ID_SIZE],
                      uint8_t **value, size_t *size);

//  Writes the record for (stream, id) in a write of its own. Returns 0,
//  SHOAL_EINVAL or SHOAL_EIO.
int journal_dead_put (journal_t *self, const char *stream, const uint8_t id[JOURNAL_ID_SIZE],
                      const uint8_t *value, size_t size);

//  Called for each record by journal_dead_scan; non-zero stops the scan.
typedef int (journal_dead_fn) (void *arg, const char *stream, const uint8_t id[JOURNAL_ID_SIZE],
                               const uint8_t *value, size_t size);

//  Calls fn for every record of every shard, in key order. A key that does
//  not parse is skipped. Returns 0 or SHOAL_EIO.
int journal_dead_scan (journal_t *self, journal_dead_fn *fn, void *arg);

#endif
