/*  journal_internal.h - what the journal's .c files share: the journal_t
    struct and the few helpers journal.c lends to batch.c and scan.c.
    Internal to persistence/: other folders include journal.h only.

    Files: journal.c opens and reads the store; keys.c holds the key
    layout and record codecs (keys.h); batch.c stages and commits writes;
    scan.c walks the outbox, timers and inbox. A journal_batch_t's struct
    is private to batch.c, the one file that uses it.

    Threads: a journal_t is immutable after journal_open except for the
    commit-failure test counter, which is atomic, so any thread may use it.
*/
#ifndef JOURNAL_INTERNAL_H_INCLUDED
#define JOURNAL_INTERNAL_H_INCLUDED

#include "journal.h"
#include <leveldb/c.h>
#include <stdatomic.h>

struct _journal_t {
    leveldb_t *db;                      //  the store
    leveldb_options_t *options;         //  open options, live as long as db
    leveldb_filterpolicy_t *filter;     //  bloom filter, owned
    leveldb_cache_t *cache;             //  block cache, owned
    leveldb_readoptions_t *read;        //  checksummed reads
    leveldb_writeoptions_t *write;      //  commits: synced unless async
    leveldb_writeoptions_t *write_lazy; //  prune deletes: never synced
    atomic_int fail_after;              //  test hook, 0 = off
    uint32_t shards;                    //  the store's shard count, fixed
};

//  Counts one commit against the test hook (journal_fail_commits_after).
//  True if it must fail. Any thread.
bool journal_commit_must_fail (journal_t *self);

//  Copies bytes into a fresh buffer for the caller to free(); never
//  returns NULL for size 0 unless memory ran out.
uint8_t *journal_memdup (const void *bytes, size_t size);

#endif
