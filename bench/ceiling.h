/*  ceiling.h - `shoal bench --ceiling`: how many synced group commits, and
    records in them, LevelDB alone sustains on the disk of the bench's data
    directory, with records of the sizes and kinds a transfer writes. What
    shoal's throughput is held against: transfers/s times records per
    transfer, at its records per commit, cannot pass records/s here. The
    rates count the time inside leveldb_write only, as if the next batch
    were always staged (as a node's other worker stages its own while one
    writes); the rate with the staging counted too is given beside them.

    One writer thread, as shoal's journal serializes its writes
    (persistence/journal.c). Then the group phase, as shoal writes since
    its group sync (persistence/sync.c): the same batches written without
    sync, back to back, in a new store, while a second thread fsyncs
    LevelDB's log files back to back; its records/s is over the phase's
    wall clock, its fsyncs/s how often every write so far was made
    durable. The calling thread writes; the group phase starts one more.
*/
#ifndef CEILING_H_INCLUDED
#define CEILING_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CEILING_BATCHES_MAX 8 //  batch sizes in one run at most
#define CEILING_RECORDS_MAX 100000

//  What one batch size sustained.
typedef struct {
    size_t records;                 //  records per commit (puts and deletes)
    size_t commits;                 //  synced writes done
    size_t written;                 //  records in them
    size_t bytes;                   //  their key and value bytes
    double seconds;                 //  from the first write to the last one's return
    double write_seconds;           //  of which inside leveldb_write
    double commits_per_second;      //  commits / write_seconds: the store's own rate
    double records_per_second;      //  written / write_seconds
    double wall_records_per_second; //  written / seconds: one thread staging and writing
    double mb_per_second;           //  bytes / write_seconds, in MB (10^6)
    double p50_ms, p99_ms, max_ms;  //  one synced write (leveldb_write), ms
    //  The group phase: unsynced writes, fsyncs beside them.
    size_t group_commits;            //  writes done
    size_t group_written;            //  records in them
    size_t group_syncs;              //  rounds of fsyncs of every log
    double group_seconds;            //  the phase's wall clock
    double group_commits_per_second; //  group_commits / group_seconds
    double group_records_per_second; //  group_written / group_seconds
    double group_syncs_per_second;   //  group_syncs / group_seconds
} ceiling_row_t;

//  Makes a new LevelDB store in a temporary directory (bench_temp_dir:
//  $TMPDIR or /tmp, where `shoal bench` makes its node's data directory)
//  with the options journal_open gives shoal's store, writes batches of
//  records records each, synced, for ms milliseconds, and removes it; then
//  the group phase for ms milliseconds in another such store.
//  Records follow a transfer's mix (see ceiling.c); seed draws the keys.
//  Fills row. Returns 0, or a negative code (said on stderr); dir gets the
//  store's path either way ("" if none was made).
int ceiling_measure (size_t records, int ms, uint64_t seed, ceiling_row_t *row, char *dir,
                     size_t dir_size);

//  The mix the records follow, in words ("5 events (28 + 42 B), ..."),
//  and the mean bytes of key and value per record, the event log's copy
//  of each event included. Borrowed, static.
const char *ceiling_mix (double *bytes_per_record);

//  The version of the LevelDB library linked in.
void ceiling_leveldb_version (int *major, int *minor);

#endif
