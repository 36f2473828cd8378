/*  layout.c - what a store says of itself, checked when it is opened:
    its key layout, its shard count (no record lies past it, and a sample
    of its actors' records lies where the count puts them),
    whose it is when it has no metadata, the marks a new store is made
    with (layout, shards, the reactions' salt) and its GAPLESS file. See
    journal.c, which calls journal_open_layout while opening.

    Threads: journal_open's, before any other thread has the journal;
    journal_shard_next (a node's start, once it serves) any thread, in
    the journal's handle as every read.
*/
#include "journal_internal.h"
#include "dirsync.h"
#include "keys.h"
#include "log.h"
#include "storecopy.h"
#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <leveldb/c.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

//  Parses a stored shard count: decimal digits, 1 to SHOAL_SHARDS_MAX.
//  Returns it, or 0 if text is anything else.
static int s_parse_shards (const char *text)
{
    long value = 0;
    for (const char *digit = text; *digit; digit++) {
        if (*digit < '0' || *digit > '9' || value > SHOAL_SHARDS_MAX)
            return 0;
        value = value * 10 + (*digit - '0');
    }
    return value <= SHOAL_SHARDS_MAX ? (int) value : 0;
}

//  Says that the journal in dir cannot be read, with LevelDB's words (a
//  damaged table: "Corruption: ...", a cut one: "Invalid argument") and
//  what to do: it said "cannot read the journal" and no more, where
//  shoal check named the file and the repair.
static char *s_unreadable (journal_t *self, const char *dir)
{
    char why[300];
    journal_last_error (self, why, sizeof why);
    return zsys_sprintf ("cannot read the journal in %s%s%s%s: shoal check --data %s says what "
                         "is damaged, shoal repair --data %s salvages what can be read",
                         dir, why[0] ? " (" : "", why, why[0] ? ")" : "", dir, dir);
}

//  Sets *empty to whether the store db holds no key at all. Returns 0 or
//  SHOAL_EIO. Called while opening, before any other thread has the store.
static int s_is_empty (leveldb_t *db, const leveldb_readoptions_t *read, bool *empty)
{
    leveldb_iterator_t *it = leveldb_create_iterator (db, read);
    leveldb_iter_seek_to_first (it);
    *empty = !leveldb_iter_valid (it);
    return journal_iter_close (it, 0);
}

//  Sets *beyond to 1 + the shard of the first actor's record at shard
//  shards or above ('S' shard:u16be), 0 if there is none: one seek.
//  Returns 0 or SHOAL_EIO.
static int s_shard_beyond (journal_t *self, uint32_t shards, uint32_t *beyond)
{
    char start[3] = {'S', (char) (shards >> 8), (char) (shards & 0xff)};
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, self->read);
    leveldb_iter_seek (it, start, sizeof start);
    *beyond = 0;
    if (leveldb_iter_valid (it)) {
        size_t len;
        const uint8_t *key = (const uint8_t *) leveldb_iter_key (it, &len);
        if (len >= 3 && key[0] == 'S')
            *beyond = 1 + ((uint32_t) key[1] << 8 | key[2]);
    }
    return journal_iter_close (it, 0);
}

int journal_shard_next (journal_t *self, uint32_t from, uint32_t *shard)
{
    assert (self && shard);
    if (from >= SHOAL_SHARDS_MAX)
        return SHOAL_ENOTFOUND;
    int rc = journal_enter (self);
    if (rc)
        return rc;
    char start[3] = {'S', (char) (from >> 8), (char) (from & 0xff)};
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, self->read);
    leveldb_iter_seek (it, start, sizeof start);
    rc = SHOAL_ENOTFOUND;
    if (leveldb_iter_valid (it)) {
        size_t len;
        const uint8_t *key = (const uint8_t *) leveldb_iter_key (it, &len);
        if (len >= 3 && key[0] == 'S') {
            *shard = (uint32_t) key[1] << 8 | key[2];
            rc = 0;
        }
    }
    rc = journal_iter_close (it, rc);
    journal_leave (self);
    return rc;
}

//  Streams an open reads to check the shard count: each one a seek.
#define LAYOUT_SAMPLES 64

//  One actor's record seen by s_shards_sample: its stream and the shard
//  its key holds.
typedef struct {
    char stream[SHOAL_ADDRESS_MAX + 1];
    uint32_t shard;
} layout_sample_t;

//  Copies the stream of an actor's key ('S' shard:u16be kind stream, then
//  0x00 and more but for a snapshot's) into stream, NUL-terminated, and
//  returns the key's length up to the stream's end; 0 if the key holds
//  none (a timer's, or one that does not parse).
static size_t s_key_stream (const uint8_t *key, size_t len, char *stream)
{
    if (len < 5 || !strchr ("deios", key[3]))
        return 0;
    const uint8_t *end = key[3] == 's' ? key + len : memchr (key + 4, 0, len - 4);
    size_t size = end ? (size_t) (end - (key + 4)) : 0;
    if (size == 0 || size > SHOAL_ADDRESS_MAX || memchr (key + 4, 0, size))
        return 0;
    memcpy (stream, key + 4, size);
    stream[size] = '\0';
    return 4 + size;
}

//  True if stream is one of samples' first count.
static bool s_sampled (const layout_sample_t *samples, size_t count, const char *stream)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp (samples[i].stream, stream) == 0)
            return true;
    return false;
}

//  Reads the streams of up to LAYOUT_SAMPLES actors' records in key order,
//  one seek each: from a stream's record on to the next stream's (past its
//  records of that kind), and on to the next shard after a key with no
//  stream (a timer's) or a stream already read (its records of the next
//  kind). Sets *count. Returns 0 or SHOAL_EIO. At most LAYOUT_SAMPLES
//  seeks, whatever the store's size.
static int s_shards_sample (journal_t *self, layout_sample_t *samples, size_t *count)
{
    *count = 0;
    uint8_t target[KEYS_TAG_SIZE + SHOAL_ADDRESS_MAX + 1] = {'S', 0, 0};
    size_t target_len = 3;
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, self->read);
    for (int seek = 0; seek < LAYOUT_SAMPLES; seek++) {
        leveldb_iter_seek (it, (const char *) target, target_len);
        if (!leveldb_iter_valid (it))
            break;
        size_t len;
        const uint8_t *key = (const uint8_t *) leveldb_iter_key (it, &len);
        if (len < 3 || key[0] != 'S')
            break;
        uint32_t shard = (uint32_t) key[1] << 8 | key[2];
        layout_sample_t *sample = &samples[*count];
        size_t end = s_key_stream (key, len, sample->stream);
        if (end && !s_sampled (samples, *count, sample->stream)) {
            sample->shard = shard;
            (*count)++;
            //  Past this stream's keys of this kind: its name, then 0x01
            //  (a snapshot's key ends with the name: 0x00 is just past it).
            memcpy (target, key, end);
            target[end] = key[3] == 's' ? 0x00 : 0x01;
            target_len = end + 1;
        } else if (shard + 1 < SHOAL_SHARDS_MAX) {
            target[1] = (uint8_t) ((shard + 1) >> 8);
            target[2] = (uint8_t) (shard + 1);
            target_len = 3;
        } else
            break;
    }
    return journal_iter_close (it, 0);
}

//  The first sample that shards would not put where it is, or NULL.
static const layout_sample_t *s_misplaced (const layout_sample_t *samples, size_t count,
                                           uint32_t shards)
{
    for (size_t i = 0; i < count; i++)
        if (shoal_shard (samples[i].stream, shards) != samples[i].shard)
            return &samples[i];
    return NULL;
}

//  Checks that the actors' records lie where the stated shard count puts
//  them (a sample: s_shards_sample). A count changed under the store (its
//  metadata rewritten, damaged) would read every actor as never written
//  where a larger count puts it elsewhere: refused, naming a stream and
//  the count its records fit, if one of 1 to SHOAL_SHARDS_MAX does.
//  Returns 0, or a code with *message set (free with free()).
static int s_shards_verify (journal_t *self, const char *dir, int shards, char **message)
{
    layout_sample_t *samples = calloc (LAYOUT_SAMPLES, sizeof (layout_sample_t));
    if (!samples) {
        *message = zsys_sprintf ("out of memory opening the journal in %s", dir);
        return SHOAL_ENOMEM;
    }
    size_t count = 0;
    int rc = s_shards_sample (self, samples, &count);
    if (rc) {
        *message = s_unreadable (self, dir);
        free (samples);
        return rc;
    }
    const layout_sample_t *misplaced = s_misplaced (samples, count, (uint32_t) shards);
    if (misplaced) {
        //  The counts the streams read fit: the first two, and whether
        //  there are more (a few streams fit several, a divisor or a
        //  multiple of the store's count among them).
        uint32_t fits[4];
        int fit_count = 0;
        for (uint32_t n = 1; n <= SHOAL_SHARDS_MAX && fit_count < 4; n++)
            if (!s_misplaced (samples, count, n))
                fits[fit_count++] = n;
        char fit[160] = "";
        if (fit_count == 1)
            snprintf (fit, sizeof fit, "; the %zu streams read fit %" PRIu32 " shards", count,
                      fits[0]);
        else if (fit_count > 1)
            snprintf (fit, sizeof fit,
                      "; the %zu streams read fit %" PRIu32 " or %" PRIu32 " shards%s", count,
                      fits[0], fits[1], fit_count > 2 ? ", or another count" : "");
        *message = zsys_sprintf (
            "the store in %s says it has %d shards (metadata \"shards\"), but its records are "
            "not laid out for %d: %s is in shard %" PRIu32 ", where %d shards put it in shard "
            "%" PRIu32 "%s. Its metadata was changed or damaged: it was not opened, as its "
            "actors would read as never written",
            dir, shards, shards, misplaced->stream, misplaced->shard, shards,
            shoal_shard (misplaced->stream, (uint32_t) shards), fit);
        rc = SHOAL_EFORMAT;
    }
    free (samples);
    return rc;
}

//  Whose a store without shoal's metadata is, from its first keys: 2 if
//  they are this shoal's (an actor's record: 'S' shard:u16be and its kind),
//  1 if an older shoal's (key layout 1: the kind, then an address), 0 if
//  neither (another program's).
static int s_origin (leveldb_t *db, const leveldb_readoptions_t *read)
{
    int layout2 = 0, layout1 = 0, other = 0;
    leveldb_iterator_t *it = leveldb_create_iterator (db, read);
    leveldb_iter_seek_to_first (it);
    for (int seen = 0; leveldb_iter_valid (it) && seen < 4096; seen++) {
        size_t len;
        const char *key = leveldb_iter_key (it, &len);
        if (len >= 5 && key[0] == 'S' && strchr ("esiot", key[3]))
            layout2++;
        else if (len >= 4 && strchr ("esiot", key[0]) && memchr (key + 1, '/', len - 1))
            layout1++;
        else if (!strchr ("LWVm", key[0]))
            other++;
        leveldb_iter_next (it);
    }
    journal_iter_close (it, 0);
    if (layout2 > other && layout2 >= layout1)
        return 2;
    return layout1 > other ? 1 : 0;
}

//  The refusal of the store in dir, without shoal's metadata, whose keys
//  are this shoal's (origin 2: the metadata's table lost), an older
//  shoal's (1) or another program's (0).
static char *s_not_ours (const char *dir, int origin)
{
    if (origin == 2)
        return zsys_sprintf ("the store in %s holds this shoal's records (key layout %s) but not "
                             "its metadata (the layout and the shard count): the table that held "
                             "it is damaged or lost, and with it whatever else it held. It "
                             "cannot be opened safely without it, and a repair cannot put it "
                             "back: restore the directory from a backup (keep a copy of this "
                             "one)",
                             dir, KEYS_LAYOUT);
    if (origin == 1)
        return zsys_sprintf ("the store in %s was made by an older shoal (key layout 1, without "
                             "shards in its keys); this shoal reads key layout %s only and "
                             "cannot convert it: move it away",
                             dir, KEYS_LAYOUT);
    return zsys_sprintf ("the store in %s is a LevelDB store but not shoal's (no shoal metadata, "
                         "and keys that are not shoal's): give a shoal node's data directory",
                         dir);
}

int journal_open_unmarked (const char *dir, char **message)
{
    *message = NULL;
    int rc = 0;
    char *why = NULL;
    storecopy_t *copy = storecopy_new_linked (dir, &rc, &why);
    if (!copy) {
        if (rc == SHOAL_EBUSY) {
            *message = why;
            return rc;
        }
        //  No room for a copy beside it (a disk full or read-only, where
        //  LevelDB's open fails too): opened as before the mark, whose
        //  open tells whose it is. A copy elsewhere would be the whole
        //  store's size.
        log_warn ("journal %s: it has no %s file, and whose store it is cannot be told from a "
                  "copy (%s): it is opened to read its keys",
                  dir, JOURNAL_STORE_FILE, why ? why : shoal_strerror (rc));
        free (why);
        return 0;
    }
    leveldb_options_t *options = leveldb_options_create ();
    leveldb_readoptions_t *read = leveldb_readoptions_create ();
    char *err = NULL;
    leveldb_t *db = leveldb_open (options, storecopy_path (copy), &err);
    if (db) {
        uint8_t key[1 + KEYS_META_NAME_MAX];
        size_t key_len = keys_meta_key (key, "layout"), size = 0;
        char *layout = leveldb_get (db, read, (const char *) key, key_len, &size, &err);
        if (!layout && !err) {
            bool empty = true;
            if (s_is_empty (db, read, &empty) == 0 &&
                !empty) { //  refused as journal_open_layout would, after an open
                int origin = s_origin (db, read);
                *message = s_not_ours (dir, origin);
                rc = origin ? SHOAL_EVERSION : SHOAL_EINVAL;
            }
        }
        leveldb_free (layout);
        leveldb_close (db);
    } else if (err && strstr (err, "does not match existing comparator")) {
        //  Another program's keys, in an order of its own.
        *message = zsys_sprintf ("the store in %s is a LevelDB store but not shoal's (%s): give "
                                 "a shoal node's data directory",
                                 dir, err);
        rc = SHOAL_EINVAL;
    }
    leveldb_free (err); //  another copy that cannot be read: the store's own open says why
    leveldb_readoptions_destroy (read);
    leveldb_options_destroy (options);
    storecopy_destroy (&copy);
    return rc;
}

void journal_salt_make (char text[JOURNAL_SALT_CHARS])
{
    uint64_t salt = 0;
    if (getrandom (&salt, sizeof salt, 0) != (ssize_t) sizeof salt)
        salt = (uint64_t) zclock_time () * 0x9e3779b97f4a7c15ull ^ (uint64_t) getpid ();
    snprintf (text, JOURNAL_SALT_CHARS, "%016" PRIx64, salt | 1); //  never 0: unsalted
}

//  Marks a new, empty store with the key layout and its shard count, in
//  one write. Returns 0 or SHOAL_EIO.
static int s_mark_new_store (journal_t *self, int shards)
{
    char text[16];
    snprintf (text, sizeof text, "%d", shards);
    uint8_t layout_key[1 + KEYS_META_NAME_MAX], shards_key[1 + KEYS_META_NAME_MAX];
    size_t layout_len = keys_meta_key (layout_key, "layout");
    size_t shards_len = keys_meta_key (shards_key, "shards");
    leveldb_writebatch_t *marks = leveldb_writebatch_create ();
    leveldb_writebatch_put (marks, (const char *) layout_key, layout_len, KEYS_LAYOUT,
                            strlen (KEYS_LAYOUT));
    leveldb_writebatch_put (marks, (const char *) shards_key, shards_len, text, strlen (text));
    uint8_t log_key[1 + KEYS_META_NAME_MAX];
    size_t log_len = keys_meta_key (log_key, JOURNAL_LOG_META);
    leveldb_writebatch_put (marks, (const char *) log_key, log_len, "1", 1);
    //  The secret the projections mix into their reactions' ids, made with
    //  the store so that it is there before any reaction can be.
    char salt_text[JOURNAL_SALT_CHARS];
    journal_salt_make (salt_text);
    uint8_t salt_key[1 + KEYS_META_NAME_MAX];
    size_t salt_len = keys_meta_key (salt_key, JOURNAL_SALT_META);
    leveldb_writebatch_put (marks, (const char *) salt_key, salt_len, salt_text, 16);
    //  Synced whatever the durability: the marker files written next
    //  (GAPLESS, SHOAL) say a store was made here, and a store that has
    //  them and no record is refused as one whose records were lost.
    leveldb_writeoptions_t *synced = leveldb_writeoptions_create ();
    leveldb_writeoptions_set_sync (synced, 1);
    int rc = journal_enter (self);
    if (rc == 0) {
        rc = journal_write_held (self, synced, marks, false);
        journal_leave (self);
    }
    leveldb_writeoptions_destroy (synced);
    leveldb_writebatch_destroy (marks);
    return rc;
}

//  True if dir holds JOURNAL_GAPLESS_FILE.
bool journal_marked_gapless (const char *dir)
{
    char path[PATH_MAX];
    return snprintf (path, sizeof path, "%s/%s", dir, JOURNAL_GAPLESS_FILE) < (int) sizeof path &&
           access (path, F_OK) == 0;
}

bool journal_marked_store (const char *dir)
{
    char path[PATH_MAX];
    return snprintf (path, sizeof path, "%s/%s", dir, JOURNAL_STORE_FILE) < (int) sizeof path &&
           access (path, F_OK) == 0;
}

//  Writes the file name, holding text, into the store's directory, synced
//  with the directory. Returns true if it is there.
static bool s_mark_file (const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX];
    if (snprintf (path, sizeof path, "%s/%s", dir, name) >= (int) sizeof path)
        return false;
    //  O_NONBLOCK: a FIFO put there fails (ENXIO), never waited on.
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NONBLOCK, 0600);
    if (fd < 0)
        return false;
    size_t size = strlen (text);
    bool ok = write (fd, text, size) == (ssize_t) size && fsync (fd) == 0;
    close (fd);
    ok = ok && dirsync_sync (dir, NULL) == 0;
    if (!ok)
        unlink (path);
    return ok;
}

//  Writes JOURNAL_GAPLESS_FILE into the new store's directory. Returns
//  true if it is there.
static bool s_mark_gapless (const char *dir)
{
    return s_mark_file (
        dir, JOURNAL_GAPLESS_FILE,
        "Made with this store by shoal. While this file is here, every stream's events\n"
        "run from 1 without a gap. `shoal repair` removes it first. Do not copy it.\n");
}

//  Writes JOURNAL_STORE_FILE beside the store, shoal's, if it is not there.
//  Without it the next open judges the store from a copy first: slower,
//  no worse.
static void s_mark_store (const char *dir)
{
    if (!journal_marked_store (dir) &&
        !s_mark_file (dir, JOURNAL_STORE_FILE,
                      "This directory is a shoal node's store (key layout " KEYS_LAYOUT "). A\n"
                      "store without this file is read from a copy before it is opened.\n"))
        log_warn ("journal %s: cannot write its %s file: %s", dir, JOURNAL_STORE_FILE,
                  strerror (errno));
}

//  Sets self->shards from the store's metadata, marking a new store with
//  wanted shards (SHOAL_SHARDS_DEFAULT if 0). Returns 0, or a code with
//  *message set (free with free()): see journal_open.
int journal_open_layout (journal_t *self, const char *dir, int wanted, char **message)
{
    char *layout = NULL;
    int rc = journal_meta_get (self, "layout", &layout);
    if (rc == SHOAL_ENOTFOUND) {
        bool empty;
        if ((rc = s_is_empty (self->db, self->read, &empty)) != 0) {
            *message = s_unreadable (self, dir);
            return rc;
        }
        if (!empty) {
            int origin = s_origin (self->db, self->read);
            *message = s_not_ours (dir, origin);
            return origin ? SHOAL_EVERSION : SHOAL_EINVAL;
        }
        //  Empty, but a sync had made events durable here: its logs were
        //  lost whole, and it is not a new store to mark as one.
        if ((rc = journal_mark_check (self, message)) != 0)
            return rc;
        //  Empty, but its marker files say shoal made a store here (they
        //  are written after its metadata, synced): its records were lost
        //  (a log deleted while the node was stopped, in async durability,
        //  where no SYNCED mark says how far). It was marked new again, the
        //  accounts it held read as never opened.
        const char *marker = journal_marked_store (dir)     ? JOURNAL_STORE_FILE
                             : journal_marked_gapless (dir) ? JOURNAL_GAPLESS_FILE
                                                            : NULL;
        if (marker) {
            *message = zsys_sprintf (
                "the journal in %s holds no record, but its %s file says a shoal store was "
                "made here: its records were lost (a log file deleted or truncated while the "
                "node was stopped?). Nothing was started on it: restore the directory from a "
                "backup; to start anew, start on another, empty directory",
                dir, marker);
            return SHOAL_ENOTFOUND;
        }
        int shards = wanted ? wanted : SHOAL_SHARDS_DEFAULT;
        if ((rc = s_mark_new_store (self, shards)) != 0) {
            *message = zsys_sprintf ("cannot write to the journal in %s", dir);
            return rc;
        }
        self->shards = (uint32_t) shards;
        self->marked_new = true;
        //  Without the file the store is read as one that may have gaps:
        //  a hole in a stream is not refused.
        self->gapless = s_mark_gapless (dir);
        s_mark_store (dir);
        return 0;
    }
    if (rc != 0) {
        *message = s_unreadable (self, dir);
        return SHOAL_EIO;
    }
    bool known = strcmp (layout, KEYS_LAYOUT) == 0;
    if (!known)
        *message = zsys_sprintf ("the store in %s has key layout '%s'; this shoal reads key "
                                 "layout %s only",
                                 dir, layout, KEYS_LAYOUT);
    free (layout);
    if (!known)
        return SHOAL_EVERSION;

    char *stored = NULL;
    rc = journal_meta_get (self, "shards", &stored);
    int shards = rc == 0 ? s_parse_shards (stored) : 0;
    free (stored);
    if (rc != 0 && rc != SHOAL_ENOTFOUND) {
        *message = s_unreadable (self, dir);
        return SHOAL_EIO;
    }
    if (shards == 0) {
        *message =
            zsys_sprintf ("the store in %s has no valid shard count (metadata \"shards\")", dir);
        return SHOAL_EFORMAT;
    }
    if (wanted && wanted != shards) {
        *message = zsys_sprintf ("the store in %s has %d shards; --shards %d was given", dir,
                                 shards, wanted);
        return SHOAL_EINVAL;
    }
    //  An actor's record past the count: the count was changed under the
    //  store (those actors would read as never written).
    uint32_t beyond = 0;
    if (shards < SHOAL_SHARDS_MAX && s_shard_beyond (self, (uint32_t) shards, &beyond) != 0) {
        *message = s_unreadable (self, dir);
        return SHOAL_EIO;
    }
    if (beyond) {
        *message = zsys_sprintf ("the store in %s holds records of shard %" PRIu32
                                 " but its metadata says %d shards: the store is damaged",
                                 dir, beyond - 1, shards);
        return SHOAL_EFORMAT;
    }
    //  A count larger than the store's (or smaller, with no record past
    //  it): its records are not where it puts them, unless the stated
    //  count divides the real one and every record sampled lies below
    //  it (hash % 256 == s gives hash % 128 == s): such a count reads
    //  those records right, and is not caught.
    if ((rc = s_shards_verify (self, dir, shards, message)) != 0)
        return rc;
    self->shards = (uint32_t) shards;
    self->gapless = journal_marked_gapless (dir);
    s_mark_store (dir);
    return 0;
}
