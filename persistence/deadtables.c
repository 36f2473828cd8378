/*  deadtables.c - the table files of a store that no version of it names
    any more, removed when a full disk keeps the store from opening.

    LevelDB deletes the tables a compaction replaced once the compaction's
    version is written (DeleteObsoleteFiles), and at an open only after
    the open has turned its log files into a table. A compaction cut short
    by a full disk leaves its inputs on the disk; the next open needs room
    for the log's table before it would delete them, and so a node stayed
    down, asking for room, while its own directory held tens of MiB that
    nothing read (000005.ldb and 000007.ldb on a 48 MiB disk).

    What is dead is read from the MANIFEST that CURRENT names, as LevelDB
    reads it (db/log_format.h, db/version_edit.cc): its records checked
    with their CRC32C, its version edits applied in order. With the
    store's LOCK held (no LevelDB has it open, nor can open it meanwhile),
    a table is removed if the MANIFEST reads whole and no version it
    builds names it, as LevelDB's own RemoveObsoleteFiles does after an
    open: the inputs of a compaction whose version was written, and the
    outputs of one (or of an open's log) whose version never was (numbered
    past the MANIFEST's next file). So is a log file of no bytes, which
    holds nothing to recover (each open the full disk refused left one).
    Anything the reader does not understand removes nothing.

    Threads: any; no state.
*/
#include "journal_internal.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK_SIZE 32768        //  a log's block (db/log_format.h)
#define HEADER_SIZE 7           //  checksum:4 length:2 type:1
#define MANIFEST_MAX (64 << 20) //  a MANIFEST larger than this is not read

enum { ZERO = 0, FULL = 1, FIRST = 2, MIDDLE = 3, LAST = 4 };

//  CRC32C (Castagnoli), as LevelDB's util/crc32c.cc computes it.
static uint32_t s_crc32c (const uint8_t *data, size_t size, uint32_t crc)
{
    static uint32_t table[256];
    static bool made; //  a race makes the same table twice: harmless
    if (!made) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
            table[i] = c;
        }
        made = true;
    }
    crc = ~crc;
    for (size_t i = 0; i < size; i++)
        crc = table[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static uint32_t s_unmask (uint32_t masked)
{
    uint32_t rot = masked - 0xa282ead8u;
    return (rot >> 17) | (rot << 15);
}

static uint32_t s_fixed32 (const uint8_t *p)
{
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

//  A varint of at most 64 bits at *at (before end). False if malformed.
static bool s_varint (const uint8_t **at, const uint8_t *end, uint64_t *value)
{
    *value = 0;
    for (int shift = 0; shift <= 63 && *at < end; shift += 7) {
        uint8_t byte = *(*at)++;
        *value |= (uint64_t) (byte & 0x7f) << shift;
        if (!(byte & 0x80))
            return true;
    }
    return false;
}

//  Skips a length-prefixed slice.
static bool s_skip_slice (const uint8_t **at, const uint8_t *end)
{
    uint64_t len;
    if (!s_varint (at, end, &len) || len > (uint64_t) (end - *at))
        return false;
    *at += len;
    return true;
}

//  The tables the versions name: (level, number) pairs.
typedef struct {
    uint64_t *numbers;
    uint32_t *levels;
    size_t count, cap;
    uint64_t next_file; //  the largest next file number said
} live_t;

static bool s_live_add (live_t *live, uint32_t level, uint64_t number)
{
    if (live->count == live->cap) {
        size_t cap = live->cap ? 2 * live->cap : 64;
        uint64_t *numbers = realloc (live->numbers, cap * sizeof (uint64_t));
        if (numbers)
            live->numbers = numbers;
        uint32_t *levels = numbers ? realloc (live->levels, cap * sizeof (uint32_t)) : NULL;
        if (!levels)
            return false;
        live->levels = levels;
        live->cap = cap;
    }
    live->numbers[live->count] = number;
    live->levels[live->count++] = level;
    return true;
}

static void s_live_remove (live_t *live, uint32_t level, uint64_t number)
{
    for (size_t i = 0; i < live->count; i++)
        if (live->numbers[i] == number && live->levels[i] == level) {
            live->numbers[i] = live->numbers[--live->count];
            live->levels[i] = live->levels[live->count];
            return;
        }
}

static bool s_live_has (const live_t *live, uint64_t number)
{
    for (size_t i = 0; i < live->count; i++)
        if (live->numbers[i] == number)
            return true;
    return false;
}

//  Applies one version edit (db/version_edit.cc, DecodeFrom): its deleted
//  files, then its new ones, as VersionSet::Builder does. False if it
//  does not decode.
static bool s_apply_edit (live_t *live, const uint8_t *at, size_t size)
{
    const uint8_t *end = at + size;
    //  Deletions first, then additions: a file moved down a level (its
    //  deletion and addition in one edit) stays.
    live_t added = {0};
    bool ok = true;
    while (ok && at < end) {
        uint64_t tag, level, number, ignored;
        if (!s_varint (&at, end, &tag))
            ok = false;
        else if (tag == 1) //  comparator
            ok = s_skip_slice (&at, end);
        else if (tag == 2 || tag == 4 || tag == 9) //  log number, last sequence, prev log
            ok = s_varint (&at, end, &ignored);
        else if (tag == 3) { //  next file number
            ok = s_varint (&at, end, &number);
            if (ok && number > live->next_file)
                live->next_file = number;
        } else if (tag == 5) //  compact pointer: level, internal key
            ok = s_varint (&at, end, &level) && s_skip_slice (&at, end);
        else if (tag == 6) { //  deleted file: level, number
            ok = s_varint (&at, end, &level) && s_varint (&at, end, &number) && level < 64;
            if (ok)
                s_live_remove (live, (uint32_t) level, number);
        } else if (tag == 7) //  new file: level, number, size, smallest, largest
            ok = s_varint (&at, end, &level) && s_varint (&at, end, &number) &&
                 s_varint (&at, end, &ignored) && s_skip_slice (&at, end) &&
                 s_skip_slice (&at, end) && level < 64 &&
                 s_live_add (&added, (uint32_t) level, number);
        else
            ok = false; //  a tag this reader does not know: remove nothing
    }
    for (size_t i = 0; ok && i < added.count; i++)
        ok = s_live_add (live, added.levels[i], added.numbers[i]);
    free (added.numbers);
    free (added.levels);
    return ok;
}

//  Reads the MANIFEST's records (db/log_reader.cc) and applies each. False
//  if a record's checksum, type or length is wrong, or one is torn.
static bool s_read_manifest (const uint8_t *data, size_t size, live_t *live)
{
    uint8_t *record = NULL;
    size_t record_size = 0;
    bool in_record = false, ok = true;
    size_t at = 0;
    while (ok && at < size) {
        size_t left = BLOCK_SIZE - at % BLOCK_SIZE;
        if (left < HEADER_SIZE) { //  a block's trailer: zeros
            at += left;
            continue;
        }
        if (size - at < HEADER_SIZE) {
            ok = false;
            break;
        }
        const uint8_t *header = data + at;
        size_t length = (size_t) header[4] | (size_t) header[5] << 8;
        uint8_t type = header[6];
        if (type == ZERO && length == 0 && s_fixed32 (header) == 0) {
            //  Preallocated zeros: the rest of the block holds nothing.
            at += left;
            continue;
        }
        if (HEADER_SIZE + length > left || at + HEADER_SIZE + length > size ||
            s_unmask (s_fixed32 (header)) !=
                s_crc32c (header + HEADER_SIZE, length, s_crc32c (&header[6], 1, 0))) {
            ok = false;
            break;
        }
        const uint8_t *payload = header + HEADER_SIZE;
        at += HEADER_SIZE + length;
        if (type == FULL && !in_record)
            ok = s_apply_edit (live, payload, length);
        else if ((type == FIRST && !in_record) || ((type == MIDDLE || type == LAST) && in_record)) {
            uint8_t *grown = realloc (record, record_size + length + 1);
            ok = grown != NULL;
            if (ok) {
                record = grown;
                memcpy (record + record_size, payload, length);
                record_size += length;
                in_record = type != LAST;
                if (type == LAST) {
                    ok = s_apply_edit (live, record, record_size);
                    record_size = 0;
                }
            }
        } else
            ok = false;
    }
    free (record);
    return ok && !in_record;
}

//  The bytes of the file at path, whole, into *data (to free). False if
//  it cannot be read or is larger than max.
static bool s_slurp (const char *path, size_t max, uint8_t **data, size_t *size)
{
    FILE *file = fopen (path, "rb");
    struct stat st;
    if (!file || fstat (fileno (file), &st) != 0 || (uint64_t) st.st_size > max) {
        if (file)
            fclose (file);
        return false;
    }
    *size = (size_t) st.st_size;
    *data = malloc (*size + 1);
    bool ok = *data && fread (*data, 1, *size, file) == *size;
    fclose (file);
    if (!ok) {
        free (*data);
        *data = NULL;
    }
    return ok;
}

//  The number of a file's name "NUMBER.ext" (ext: "ldb" or "sst" for a
//  table, "log"), or -1; *table says which.
static int64_t s_file_number (const char *name, bool *table)
{
    char *end = NULL;
    if (name[0] < '0' || name[0] > '9')
        return -1;
    errno = 0;
    unsigned long long number = strtoull (name, &end, 10);
    if (errno || !end || number > INT64_MAX)
        return -1;
    *table = strcmp (end, ".ldb") == 0 || strcmp (end, ".sst") == 0;
    return *table || strcmp (end, ".log") == 0 ? (int64_t) number : -1;
}

//  Takes the store's LOCK as LevelDB does (a write lock on the whole file).
//  Returns its descriptor (closing it lets go), or -1 if another process
//  holds it, or it cannot be opened.
static int s_lock (const char *dir)
{
    char path[4096];
    snprintf (path, sizeof path, "%s/LOCK", dir);
    int fd = open (path, O_RDWR | O_CLOEXEC);
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fd >= 0 && fcntl (fd, F_SETLK, &lock) != 0) {
        close (fd);
        fd = -1;
    }
    return fd;
}

//  journal_dead_tables_remove, with the store's LOCK held.
static int s_remove_held (const char *dir, uint64_t *bytes, char *names, size_t names_size)
{
    char path[4096], current[256];
    uint8_t *text = NULL, *manifest = NULL;
    size_t size = 0;
    snprintf (path, sizeof path, "%s/CURRENT", dir);
    if (!s_slurp (path, sizeof current - 1, &text, &size))
        return 0;
    memcpy (current, text, size);
    current[size] = 0;
    free (text);
    //  "MANIFEST-000123\n", and nothing else.
    size_t name_len = strcspn (current, "\n");
    if (strncmp (current, "MANIFEST-", 9) != 0 || current[name_len] != '\n' ||
        current[name_len + 1] != 0 || strchr (current, '/'))
        return 0;
    current[name_len] = 0;
    snprintf (path, sizeof path, "%s/%s", dir, current);
    live_t live = {0};
    bool read = s_slurp (path, MANIFEST_MAX, &manifest, &size) &&
                s_read_manifest (manifest, size, &live) && live.next_file > 0;
    free (manifest);
    DIR *listing = read ? opendir (dir) : NULL;
    int removed = 0;
    struct dirent *entry;
    while (listing && (entry = readdir (listing))) {
        bool table = false;
        int64_t number = s_file_number (entry->d_name, &table);
        if (number < 0 || (table && s_live_has (&live, (uint64_t) number)))
            continue;
        snprintf (path, sizeof path, "%s/%s", dir, entry->d_name);
        struct stat st;
        if (lstat (path, &st) != 0 || !S_ISREG (st.st_mode) || (!table && st.st_size != 0))
            continue;
        if (unlink (path) != 0 || !table)
            continue; //  an empty log: not said
        *bytes += (uint64_t) st.st_size;
        size_t used = strlen (names);
        if (used + strlen (entry->d_name) + 8 < names_size)
            snprintf (names + used, names_size - used, "%s%s", used ? ", " : "", entry->d_name);
        else if (used + 5 < names_size && !strstr (names, "..."))
            snprintf (names + used, names_size - used, ", ...");
        removed++;
    }
    if (listing)
        closedir (listing);
    free (live.numbers);
    free (live.levels);
    return removed;
}

int journal_dead_tables_remove (const char *dir, uint64_t *bytes, char *names, size_t names_size)
{
    *bytes = 0;
    if (names_size)
        names[0] = 0;
    int lock = s_lock (dir);
    if (lock < 0)
        return 0;
    int removed = s_remove_held (dir, bytes, names, names_size);
    close (lock);
    return removed;
}
