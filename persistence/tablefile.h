/*  tablefile.h - LevelDB's table files written a mebibyte at a time.

    LevelDB (1.23, Debian's) writes a table file one block at a time: its
    TableBuilder flushes the file after each 4 KiB block, a write(2) each.
    On ext4 each such write starts and ends inside a page, so the kernel
    zeroes the rest of every new page before the copy, and handles most
    pages twice: in a profile of the node at full speed that was 40 % of
    the compaction thread (docs/PERFORMANCE.md, tenth round). The
    environment here is LevelDB's own (Env::Default) but for the files it
    makes whose name ends in ".ldb": those are buffered up to
    TABLEFILE_CHUNK bytes, their Flush does nothing, and their bytes go
    out when the buffer is full (its whole pages, the rest kept for the
    next: two write(2)s, as LevelDB's own file takes the first 64 KiB
    through its buffer), at Sync and at Close (all of it).

    Why that is safe: LevelDB never relies on a table's bytes before the
    file's Sync, which it calls before it names the table in its MANIFEST
    (a memtable's flush, a compaction's output); a table not named there
    is deleted at the next open. A failed write(2) (ENOSPC) fails the
    Append, Sync or Close that pushed it, which LevelDB takes as a failed
    flush or compaction, as it would the same write a block at a time. The log
    (".log"), whose every write the group sync must find in the kernel
    (sync.c), and the MANIFEST keep LevelDB's own files, unbuffered.

    How: a C++ EnvWrapper (tablefile.cc), handed to the C API through
    its opaque leveldb_env_t, whose layout (leveldb/c.cc: the Env, then
    a flag) the first call checks against a handle LevelDB makes itself,
    after checking that the library's version is the headers' (the C++
    classes it derives from are theirs). Should either check fail,
    tablefile_env returns NULL and the store keeps LevelDB's default
    environment (a warning in the node's log). Out of memory, a table
    file is LevelDB's own, or its Append fails: no exception reaches
    LevelDB, which is built without them.

    Threads: any. The environment lives until the process ends.
*/
#ifndef TABLEFILE_H_INCLUDED
#define TABLEFILE_H_INCLUDED

#include <leveldb/c.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TABLEFILE_CHUNK (1u << 20) //  a table file's bytes are written when this many wait
#define TABLEFILE_PAGE 4096u       //  ... a multiple of this many at a time (whole pages)

//  The environment for leveldb_options_set_env, or NULL when this
//  LevelDB's C handle is not laid out as expected (the default is then
//  to be kept). The same one every call; never destroy it.
leveldb_env_t *tablefile_env (void);

//  What the environment's table files did since the process started.
typedef struct {
    uint64_t files;    //  table files opened for writing
    uint64_t writes;   //  chunks handed to the file (a write(2) each, or a few)
    uint64_t bytes;    //  bytes in those chunks
    uint64_t failures; //  chunks whose write failed (ENOSPC, EIO)
} tablefile_stats_t;

void tablefile_stats (tablefile_stats_t *stats);

#ifdef __cplusplus
}
#endif

#endif
