/*  logclean.c - a repair's first step: LevelDB's log files made to hold
    only records whose checksums hold. See journal_internal.h
    (journal_logs_clean).

    LevelDB's repair reads the logs without their checksums (its reader is
    made with checksum false in repair.cc), so a record whose bytes were
    damaged while their framing held (a flipped byte in a key or a value)
    went into the repaired store as it read: a malformed record, or worse,
    one that decodes, an amount changed. So before it runs, each log is
    read as LevelDB's recovery reads it, with checksums (the format of
    LevelDB's doc/log_format.md: 32 KiB blocks of records, each with a
    7-byte header: masked CRC32C of its type and data, length, type; a
    record cut in fragments FIRST, MIDDLE..., LAST). Where a physical
    record's checksum fails, or its length passes its block, or its header
    is zeros, LevelDB's reader drops the rest of the block; this one goes
    on at the next whole record in it whose write batch's sequence follows
    the last good one's (s_resync), so that the records after damage are
    kept, and not, within the limits s_resync gives, at bytes inside a
    damaged record that only look like one (a client's payload may hold a
    copy of a log, checksums and all); a record the log's end cuts is a
    torn write, as to LevelDB, and its bytes are never searched. A
    logical record missing a fragment is dropped whole. A log with
    something dropped is written again with its good records only, in the
    same format, as NAME.clean beside it, the original kept in lost/ as
    NAME.damaged first; the clean one takes the log's name by a rename
    (journal_logs_swap) once the repair has removed the store's marks, so
    that a clean that fails, or a repair cut short before, leaves the store
    as it was, and at every moment the log or its clean copy has its name.
*/
#include "journal_internal.h"
#include "dirsync.h"
#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK 32768
#define HEADER 7
enum { ZERO = 0, FULL = 1, FIRST = 2, MIDDLE = 3, LAST = 4 };

static uint32_t s_crc_table[256];
static pthread_once_t s_crc_once = PTHREAD_ONCE_INIT;

static void s_crc_init (void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t crc = i;
        for (int k = 0; k < 8; k++)
            crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78u : crc >> 1; //  CRC32C, reflected
        s_crc_table[i] = crc;
    }
}

static uint32_t s_crc (uint32_t crc, const uint8_t *data, size_t size)
{
    crc = ~crc;
    for (size_t i = 0; i < size; i++)
        crc = s_crc_table[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

//  LevelDB stores a CRC masked (crc32c.h: Mask).
static uint32_t s_mask (uint32_t crc)
{
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

//  The checksum a record of type over data holds.
static uint32_t s_record_crc (uint8_t type, const uint8_t *data, size_t size)
{
    return s_mask (s_crc (s_crc (0, &type, 1), data, size));
}

//  Appends one logical record to out, fragmented as LevelDB's log writer
//  does (log_writer.cc); out's size is its offset in the file.
static void s_write_record (zchunk_t *out, const uint8_t *data, size_t size)
{
    bool begin = true;
    do {
        size_t left = BLOCK - zchunk_size (out) % BLOCK;
        if (left < HEADER) { //  a trailer of zeros
            static const uint8_t zeros[HEADER] = {0};
            zchunk_extend (out, zeros, left);
            left = BLOCK;
        }
        size_t room = left - HEADER, piece = size < room ? size : room;
        bool end = piece == size;
        uint8_t type = begin && end ? FULL : begin ? FIRST : end ? LAST : MIDDLE;
        uint32_t crc = s_record_crc (type, data, piece);
        uint8_t header[HEADER] = {(uint8_t) crc,
                                  (uint8_t) (crc >> 8),
                                  (uint8_t) (crc >> 16),
                                  (uint8_t) (crc >> 24),
                                  (uint8_t) piece,
                                  (uint8_t) (piece >> 8),
                                  type};
        zchunk_extend (out, header, HEADER);
        zchunk_extend (out, data, piece);
        data += piece;
        size -= piece;
        begin = false;
    } while (size > 0);
}

//  Drops the record whose fragments were being gathered, if any: its
//  bytes counted, why said, as LevelDB's reader does.
static void s_drop_gathered (zchunk_t *record, bool *in_record, size_t *dropped, const char **why,
                             const char *reason)
{
    if (*in_record && zchunk_size (record)) {
        *dropped += zchunk_size (record);
        *why = *why ? *why : reason;
    }
    *in_record = false;
}

//  True if a whole physical record starts at in + at: a known type, its
//  length within end, its checksum holding.
static bool s_whole_at (const uint8_t *in, size_t at, size_t end)
{
    if (at + HEADER > end)
        return false;
    const uint8_t *h = in + at;
    size_t length = (size_t) h[4] | (size_t) h[5] << 8;
    uint8_t type = h[6];
    if (type < FULL || type > LAST || at + HEADER + length > end)
        return false;
    uint32_t crc =
        (uint32_t) h[0] | (uint32_t) h[1] << 8 | (uint32_t) h[2] << 16 | (uint32_t) h[3] << 24;
    return s_record_crc (type, h + HEADER, length) == crc;
}

//  A log record's data is a LevelDB write batch: its first sequence
//  number (8 bytes) and its count of operations (4), little-endian, then
//  the operations, each of 2 bytes at least. Where a batch at data
//  (size bytes) begins, into *seq, and the next batch's into *next.
static bool s_batch_seq (const uint8_t *data, size_t size, uint64_t *seq, uint64_t *next)
{
    if (size < 12)
        return false;
    uint64_t first = 0;
    for (int i = 7; i >= 0; i--)
        first = first << 8 | data[i];
    uint32_t count = (uint32_t) data[8] | (uint32_t) data[9] << 8 | (uint32_t) data[10] << 16 |
                     (uint32_t) data[11] << 24;
    *seq = first;
    *next = first + count;
    return true;
}

//  Where a read goes on after damage at at in [block, end): the first
//  whole record from there that begins a batch (FULL or FIRST) whose
//  sequence follows the last good batch's (next), within what the
//  skipped bytes could have held (an operation takes 2 bytes at least);
//  the damaged record's own end first, if its length fits, and if it does
//  not, only its true end, where its checksum holds (s_true_end). Returns
//  end if none, or if no good batch was read yet (known false): then the
//  rest of the block is dropped, as LevelDB's reader drops it. A whole
//  record inside damaged bytes (a client's payload may hold one, checksum
//  and all: a copy of another log) is not taken unless its sequence
//  follows: a copy from a store of nearby sequence numbers, inside a
//  record whose checksum failed or whose header is zeros, would be.
static bool s_follows (const uint8_t *in, size_t p, size_t end, size_t at, uint64_t next)
{
    uint8_t type = in[p + 6];
    size_t size = (size_t) in[p + 4] | (size_t) in[p + 5] << 8;
    uint64_t seq, after;
    return (type == FULL || type == FIRST) && s_whole_at (in, p, end) &&
           s_batch_seq (in + p + HEADER, size, &seq, &after) && seq >= next &&
           seq - next <= (p - at) / 2;
}

//  Where the record at at, whose length is past its block, truly ends:
//  the first p at which its header's checksum holds over [at + HEADER, p)
//  (its length alone was damaged), or end if none.
static size_t s_true_end (const uint8_t *in, size_t at, size_t end)
{
    const uint8_t *h = in + at;
    uint32_t want =
        (uint32_t) h[0] | (uint32_t) h[1] << 8 | (uint32_t) h[2] << 16 | (uint32_t) h[3] << 24;
    uint8_t type = h[6];
    uint32_t crc = s_crc (0, &type, 1);
    for (size_t p = at + HEADER; p + HEADER <= end; p++) {
        if (s_mask (crc) == want)
            return p;
        crc = s_crc (crc, in + p, 1);
    }
    return end;
}

static size_t s_resync (const uint8_t *in, size_t at, size_t end, bool known, uint64_t next)
{
    if (!known)
        return end;
    size_t length = (size_t) in[at + 4] | (size_t) in[at + 5] << 8;
    if (at + HEADER + length > end) { //  its length damaged: its end by its checksum
        size_t p = s_true_end (in, at, end);
        return p < end && s_follows (in, p, end, at, next) ? p : end;
    }
    size_t claimed = at + HEADER + length;
    if (claimed + HEADER <= end && s_follows (in, claimed, end, at, next))
        return claimed;
    for (size_t p = at + HEADER; p + HEADER <= end; p++)
        if (s_follows (in, p, end, at, next))
            return p;
    return end;
}

//  True if [from, end) of in is zeros.
static bool s_zeros (const uint8_t *in, size_t from, size_t end)
{
    for (size_t i = from; i < end; i++)
        if (in[i])
            return false;
    return true;
}

//  Reads the log in (size bytes) with checksums, as LevelDB's log_reader.cc
//  does, into out (its good logical records, written again); the bytes
//  dropped into *dropped and the first reason into why (a static text).
//  Never fails: what does not read is dropped. Where LevelDB's reader
//  drops the rest of a block (a checksum that fails, a length past the
//  block, a zeroed header), this one goes on at the next whole record in
//  it whose batch follows the last good one (s_resync), and so keeps the
//  records that follow damage. What LevelDB takes for a crash's torn end
//  (a header or a record cut by the file's end in a last block shorter
//  than a block, a record whose fragments end there, with no record
//  after it) is not counted, and is left out as it is.
static void s_clean (const uint8_t *in, size_t size, zchunk_t *out, size_t *dropped,
                     const char **why)
{
    zchunk_t *record = zchunk_new (NULL, 0); //  the fragments so far
    bool in_record = false, torn = false;
    bool known = false; //  a good batch read: next is the sequence that follows it
    uint64_t next = 0, seq;
    for (size_t block = 0; block < size && !torn; block += BLOCK) {
        size_t end = block + BLOCK < size ? block + BLOCK : size;
        for (size_t at = block; at + HEADER <= end;) {
            const uint8_t *h = in + at;
            uint32_t crc = (uint32_t) h[0] | (uint32_t) h[1] << 8 | (uint32_t) h[2] << 16 |
                           (uint32_t) h[3] << 24;
            size_t length = (size_t) h[4] | (size_t) h[5] << 8;
            uint8_t type = h[6];
            bool zero = type == ZERO && length == 0;
            const char *bad = zero                         ? "zeroed record header"
                              : at + HEADER + length > end ? "bad record length"
                              : s_record_crc (type, h + HEADER, length) != crc ? "checksum mismatch"
                                                                               : NULL;
            if (bad) {
                bool last = end == size && end - block < BLOCK; //  the log's last, short block
                bool cut = last && at + HEADER + length > end;
                //  A record the log's end cuts is a torn write, as to
                //  LevelDB: its bytes are a client's, never searched.
                size_t resync = cut ? end : s_resync (in, at, end, known, next);
                if (resync == end && ((zero && (last || s_zeros (in, at, end))) || cut)) {
                    //  Zeros to the block's end (a page a crash lost), or
                    //  the end of a log the writer died writing (zeros a
                    //  crash left before a torn record among them): no
                    //  damage, as to LevelDB. A record being gathered is
                    //  dropped.
                    if (zero)
                        s_drop_gathered (record, &in_record, dropped, why,
                                         "error in middle of record");
                    else
                        torn = true;
                    break;
                }
                *dropped += resync - at; //  up to where it goes on, and the one gathered
                *why = *why ? *why : bad;
                s_drop_gathered (record, &in_record, dropped, why, bad);
                at = resync;
                continue;
            }
            const uint8_t *data = h + HEADER;
            at += HEADER + length;
            if (type < FULL || type > LAST) { //  that fragment, and the record being gathered
                *dropped += length;
                *why = *why ? *why : "unknown record type";
                s_drop_gathered (record, &in_record, dropped, why, "unknown record type");
            } else if (type == FULL || type == FIRST) {
                s_drop_gathered (record, &in_record, dropped, why, "partial record without end");
                if (type == FULL) {
                    s_write_record (out, data, length);
                    known = s_batch_seq (data, length, &seq, &next) || known;
                } else {
                    zchunk_set (record, NULL, 0); //  (zchunk_set cuts what passes its room)
                    zchunk_extend (record, data, length);
                    in_record = true;
                }
            } else if (!in_record) { //  MIDDLE or LAST without its FIRST
                *dropped += length;
                *why = *why ? *why : "missing start of fragmented record";
            } else {
                zchunk_extend (record, data, length);
                if (type == LAST) {
                    s_write_record (out, zchunk_data (record), zchunk_size (record));
                    known = s_batch_seq (zchunk_data (record), zchunk_size (record), &seq, &next) ||
                            known;
                    in_record = false;
                }
            }
        }
    }
    //  A record whose fragments the file's end cut is a crash's torn write,
    //  which LevelDB's recovery drops without a word too: not counted.
    zchunk_destroy (&record);
}

//  Writes size bytes of data to path, synced. Returns 0 or an errno.
static int s_write_file (const char *path, const void *data, size_t size)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno;
    const uint8_t *p = data;
    int rc = 0;
    while (size > 0 && rc == 0) {
        ssize_t n = write (fd, p, size);
        if (n > 0) {
            p += n;
            size -= (size_t) n;
        } else if (n < 0 && errno != EINTR)
            rc = errno;
    }
    if (rc == 0 && fsync (fd) != 0)
        rc = errno;
    close (fd);
    return rc;
}

//  Cleans the log dir/name; a line of what it dropped into said.
static int s_clean_log (const char *dir, const char *name, zchunk_t *said, bool *wrote,
                        char **error)
{
    *wrote = false;
    char path[PATH_MAX], kept[PATH_MAX], clean[PATH_MAX], lost[PATH_MAX];
    if (snprintf (path, sizeof path, "%s/%s", dir, name) >= (int) sizeof path ||
        snprintf (lost, sizeof lost, "%s/lost", dir) >= (int) sizeof lost ||
        snprintf (kept, sizeof kept, "%s/%s.damaged", lost, name) >= (int) sizeof kept ||
        snprintf (clean, sizeof clean, "%s/%s.clean", dir, name) >= (int) sizeof clean) {
        *error = zsys_sprintf ("the path of %s is too long", dir);
        return SHOAL_EINVAL;
    }
    zfile_t *file = zfile_new (dir, name);
    zchunk_t *in =
        file && zfile_input (file) == 0 ? zfile_read (file, zfile_cursize (file), 0) : NULL;
    zfile_destroy (&file);
    if (!in) {
        *error = zsys_sprintf ("cannot read %s: %s", path, strerror (errno ? errno : EIO));
        return SHOAL_EIO;
    }
    zchunk_t *out = zchunk_new (NULL, 0);
    size_t dropped = 0;
    const char *why = NULL;
    s_clean (zchunk_data (in), zchunk_size (in), out, &dropped, &why);
    int rc = 0;
    if (dropped) {
        //  The original kept first, then the clean copy takes its name: at
        //  every moment one of the two is there, and the original is kept.
        int err = dirsync_create (lost, NULL); //  lost/, its name in dir synced
        if (!err)
            err = s_write_file (kept, zchunk_data (in), zchunk_size (in));
        if (!err)
            err = s_write_file (clean, zchunk_data (out), zchunk_size (out));
        if (!err)
            err = dirsync_sync (lost, NULL);
        if (!err)
            err = dirsync_sync (dir, NULL); //  NAME.clean, for journal_logs_swap
        if (err) {
            unlink (clean);
            unlink (kept);
            *error = zsys_sprintf ("cannot write %s without its damaged records: %s; the store is "
                                   "as it was%s",
                                   path, strerror (err),
                                   err == ENOSPC ? ": make room, then run the repair again" : "");
            rc = SHOAL_EIO;
        } else {
            *wrote = true;
            char *line = zsys_sprintf ("shoal: %s: dropping %zu bytes; Corruption: %s (records "
                                       "LevelDB's recovery refuses, which its repair would have "
                                       "kept; the log as it was is in lost/%s.damaged)\n",
                                       name, dropped, why, name);
            zchunk_extend (said, line, strlen (line));
            zstr_free (&line);
        }
    } else if (access (kept, F_OK) == 0) { //  cleaned by a repair cut short after
        char *line = zsys_sprintf ("shoal: %s: an earlier repair, cut short, dropped records of it "
                                   "(the log as it was is in lost/%s.damaged)\n",
                                   name, name);
        zchunk_extend (said, line, strlen (line));
        zstr_free (&line);
    }
    zchunk_destroy (&in);
    zchunk_destroy (&out);
    return rc;
}

//  The names of dir's LevelDB log files, or NULL with errno set. A clean
//  copy a repair cut short left, whose log may be gone since, is removed
//  if stale is true: never swapped in by this repair (only what it writes
//  is).
static zlist_t *s_logs (const char *dir, bool stale)
{
    DIR *listing = opendir (dir);
    if (!listing)
        return NULL;
    zlist_t *logs = zlist_new ();
    zlist_autofree (logs);
    for (struct dirent *entry; (entry = readdir (listing));) {
        size_t len = strlen (entry->d_name);
        if (len > 4 && strcmp (entry->d_name + len - 4, ".log") == 0 &&
            strspn (entry->d_name, "0123456789") == len - 4)
            zlist_append (logs, entry->d_name);
        if (stale && len > 10 && strcmp (entry->d_name + len - 10, ".log.clean") == 0) {
            char path[PATH_MAX];
            if (snprintf (path, sizeof path, "%s/%s", dir, entry->d_name) < (int) sizeof path)
                unlink (path);
        }
    }
    closedir (listing);
    return logs;
}

int journal_logs_clean (const char *dir, zchunk_t *said, char **error)
{
    pthread_once (&s_crc_once, s_crc_init);
    zlist_t *logs = s_logs (dir, true);
    if (!logs) {
        *error = zsys_sprintf ("cannot list %s: %s", dir, strerror (errno));
        return SHOAL_EIO;
    }
    int rc = 0;
    zlist_t *written = zlist_new (); //  the logs a clean copy was written for
    for (char *name = zlist_first (logs); name && rc == 0; name = zlist_next (logs)) {
        bool wrote;
        rc = s_clean_log (dir, name, said, &wrote, error);
        if (wrote)
            zlist_append (written, name);
    }
    //  One that failed: what the others wrote goes too, so that the store
    //  is as it was (the error says so).
    for (char *name = zlist_first (written); rc && name; name = zlist_next (written)) {
        char path[PATH_MAX];
        snprintf (path, sizeof path, "%s/%s.clean", dir, name);
        unlink (path);
        snprintf (path, sizeof path, "%s/lost/%s.damaged", dir, name);
        unlink (path);
    }
    zlist_destroy (&written);
    zlist_destroy (&logs);
    return rc;
}

int journal_logs_swap (const char *dir, char **error)
{
    DIR *listing = opendir (dir);
    if (!listing) {
        *error = zsys_sprintf ("cannot list %s: %s", dir, strerror (errno));
        return SHOAL_EIO;
    }
    int rc = 0;
    for (struct dirent *entry; rc == 0 && (entry = readdir (listing));) {
        size_t len = strlen (entry->d_name);
        if (len <= 10 || strcmp (entry->d_name + len - 10, ".log.clean") != 0)
            continue;
        char from[PATH_MAX], to[PATH_MAX];
        snprintf (from, sizeof from, "%s/%s", dir, entry->d_name);
        snprintf (to, sizeof to, "%s/%.*s", dir, (int) (len - 6), entry->d_name);
        if (rename (from, to) != 0) {
            *error = zsys_sprintf ("cannot put %s in place of %s: %s; run the repair again", from,
                                   to, strerror (errno));
            rc = SHOAL_EIO;
        }
    }
    closedir (listing);
    int err = rc == 0 ? dirsync_sync (dir, NULL) : 0; //  an errno value, not errno
    if (err) {
        *error = zsys_sprintf ("cannot sync %s: %s; run the repair again", dir, strerror (err));
        rc = SHOAL_EIO;
    }
    return rc;
}
