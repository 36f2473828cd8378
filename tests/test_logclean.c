/*  test_logclean.c - the repair's clean of LevelDB's log files
    (persistence/logclean.c), on real LevelDB files: after damage it reads
    on at the next record whose write batch follows the last good one,
    never at bytes inside a damaged or torn record that only look like
    records (a client's payload may hold a copy of another log, checksums
    and all: those records went into the repaired store as writes).
*/
#include "../persistence/journal_internal.h" //  journal_logs_clean, journal_logs_swap
#include "journal.h"

#include <czmq.h>
#include <dirent.h>
#include <leveldb/c.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define EMBEDDED_KEYS 12 //  in the log a payload copies
#define BEFORE_KEYS 100  //  written before it: the target's sequence is past the copy's

typedef struct {
    char dir[256];    //  the test's own directory
    char source[300]; //  the store whose log a payload copies
    char target[300]; //  the store under test
} fixture_t;

static int s_setup (void **state)
{
    fixture_t *f = calloc (1, sizeof (fixture_t));
    assert_non_null (f);
    snprintf (f->dir, sizeof f->dir, "%s/shoal-test-logclean-XXXXXX",
              getenv ("TMPDIR") ? getenv ("TMPDIR") : "/tmp");
    assert_non_null (mkdtemp (f->dir));
    snprintf (f->source, sizeof f->source, "%s/source", f->dir);
    snprintf (f->target, sizeof f->target, "%s/target", f->dir);
    *state = f;
    return 0;
}

static int s_teardown (void **state)
{
    fixture_t *f = *state;
    char command[400];
    snprintf (command, sizeof command, "rm -rf '%s'", f->dir);
    assert_int_equal (system (command), 0);
    free (f);
    return 0;
}

static leveldb_t *s_open (const char *path)
{
    leveldb_options_t *options = leveldb_options_create ();
    leveldb_options_set_create_if_missing (options, 1);
    leveldb_options_set_compression (options, leveldb_no_compression);
    char *err = NULL;
    leveldb_t *db = leveldb_open (options, path, &err);
    leveldb_options_destroy (options);
    if (err)
        fail_msg ("cannot open %s: %s", path, err);
    return db;
}

static void s_put (leveldb_t *db, const char *key, const void *value, size_t size)
{
    leveldb_writeoptions_t *write = leveldb_writeoptions_create ();
    char *err = NULL;
    leveldb_put (db, write, key, strlen (key), value, size, &err);
    leveldb_writeoptions_destroy (write);
    assert_null (err);
}

//  The path of the one log file in dir.
static void s_log_path (const char *dir, char *path, size_t size)
{
    DIR *listing = opendir (dir);
    assert_non_null (listing);
    path[0] = '\0';
    for (struct dirent *entry; (entry = readdir (listing));) {
        size_t len = strlen (entry->d_name);
        if (len > 4 && strcmp (entry->d_name + len - 4, ".log") == 0)
            snprintf (path, size, "%s/%s", dir, entry->d_name);
    }
    closedir (listing);
    assert_true (path[0]);
}

//  The bytes of the one log file in dir (to destroy), its path into path.
static zchunk_t *s_log_bytes (const char *dir, char *path, size_t size)
{
    s_log_path (dir, path, size);
    zfile_t *file = zfile_new (NULL, path);
    assert_int_equal (zfile_input (file), 0);
    zchunk_t *bytes = zfile_read (file, zfile_cursize (file), 0);
    zfile_destroy (&file);
    assert_non_null (bytes);
    return bytes;
}

//  The target store: before keys p..., then "blob" whose value is the
//  source store's log (EMBEDDED_KEYS records k..., whole, their sequence
//  numbers after skip writes of the source's own), then "z". Left closed
//  with its writes in its log. Returns the log's size, and the offset of
//  the record holding the blob in *blob (its header).
static long s_target (fixture_t *f, char *log, size_t size, long *blob, int skip, int before,
                      int after)
{
    leveldb_t *db = s_open (f->source);
    char key[32], value[32];
    for (int i = 0; i < skip; i++) {
        snprintf (key, sizeof key, "s%06d", i);
        s_put (db, key, "skipped", 7);
    }
    if (skip) { //  those made a table: the log holds the k... alone
        leveldb_close (db);
        db = s_open (f->source);
    }
    for (int i = 0; i < EMBEDDED_KEYS; i++) {
        snprintf (key, sizeof key, "k%06d", i);
        snprintf (value, sizeof value, "embedded value %06d", i);
        s_put (db, key, value, strlen (value));
    }
    leveldb_close (db);
    char source_log[400];
    zchunk_t *copy = s_log_bytes (f->source, source_log, sizeof source_log);

    db = s_open (f->target);
    for (int i = 0; i < before; i++) {
        snprintf (key, sizeof key, "p%06d", i);
        s_put (db, key, "before", 6);
    }
    s_put (db, "blob", zchunk_data (copy), zchunk_size (copy));
    s_put (db, "z", "after", 5);
    for (int i = 0; i < after; i++) { //  the blob's block then not the log's last
        snprintf (key, sizeof key, "q%06d", i);
        s_put (db, key, "after the blob, in blocks of their own", 38);
    }
    leveldb_close (db);
    zchunk_t *bytes = s_log_bytes (f->target, log, size);
    long total = (long) zchunk_size (bytes);
    assert_true (after ? total > 32768 : total < 32768); //  the blob's block the last or not
    //  The physical record holding the copy: walked by the headers.
    const uint8_t *in = zchunk_data (bytes);
    void *found = memmem (in, zchunk_size (bytes), zchunk_data (copy), 64);
    assert_non_null (found);
    long copy_at = (const uint8_t *) found - in;
    *blob = -1;
    for (long at = 0; at + 7 <= total;) {
        long length = in[at + 4] | in[at + 5] << 8;
        if (at < copy_at && copy_at < at + 7 + length)
            *blob = at;
        at += 7 + length;
    }
    assert_true (*blob >= 0 && *blob + 2000 < 32768); //  in the first block
    zchunk_destroy (&copy);
    zchunk_destroy (&bytes);
    return total;
}

//  Writes size bytes at offset of path.
static void s_write_at (const char *path, long offset, const void *bytes, size_t size)
{
    FILE *file = fopen (path, "r+b");
    assert_non_null (file);
    assert_int_equal (fseek (file, offset, SEEK_SET), 0);
    assert_int_equal (fwrite (bytes, 1, size, file), size);
    fclose (file);
}

//  The clean, its swap and LevelDB's repair, as `shoal repair` runs them;
//  what the clean said into said (to free).
static void s_clean_and_repair (fixture_t *f, char **said)
{
    zchunk_t *lines = zchunk_new (NULL, 0);
    char *error = NULL;
    if (journal_logs_clean (f->target, lines, &error) != 0)
        fail_msg ("the clean failed: %s", error);
    if (journal_logs_swap (f->target, &error) != 0)
        fail_msg ("the swap failed: %s", error);
    zchunk_extend (lines, "", 1);
    *said = strdup ((char *) zchunk_data (lines));
    zchunk_destroy (&lines);
    print_message ("the clean said: %s\n", *said);
    leveldb_options_t *options = leveldb_options_create ();
    leveldb_options_set_paranoid_checks (options, 1);
    char *err = NULL;
    leveldb_repair_db (options, f->target, &err);
    leveldb_options_destroy (options);
    if (err)
        fail_msg ("LevelDB's repair failed: %s", err);
}

//  True if the repaired target holds key.
static bool s_has (fixture_t *f, const char *key)
{
    leveldb_t *db = s_open (f->target);
    leveldb_readoptions_t *read = leveldb_readoptions_create ();
    size_t size = 0;
    char *err = NULL;
    char *value = leveldb_get (db, read, key, strlen (key), &size, &err);
    leveldb_readoptions_destroy (read);
    leveldb_close (db);
    assert_null (err);
    leveldb_free (value);
    return value != NULL;
}

//  No key of the copied log in the repaired store, and the target's own
//  before the damage all there.
static void s_no_copied_keys (fixture_t *f, int before)
{
    char key[32];
    for (int i = 0; i < EMBEDDED_KEYS; i++) {
        snprintf (key, sizeof key, "k%06d", i);
        if (s_has (f, key))
            fail_msg ("%s, a record inside the blob's bytes, is in the repaired store", key);
    }
    for (int i = 0; i < before; i++) {
        snprintf (key, sizeof key, "p%06d", i);
        assert_true (s_has (f, key));
    }
}

//  A log cut inside the blob's value (a crash's torn write): nothing of it
//  is damage, and the records inside the cut value are not taken, even
//  numbered as the next batch would be (skip: the copy's sequence numbers
//  start where the target's next one is).
static void s_torn_inside_a_copy (fixture_t *f, int skip)
{
    char log[400];
    long blob;
    s_target (f, log, sizeof log, &blob, skip, BEFORE_KEYS, 0);
    FILE *file = fopen (log, "rb");
    assert_non_null (file);
    uint8_t header[7];
    assert_int_equal (fseek (file, blob, SEEK_SET), 0);
    assert_int_equal (fread (header, 1, 7, file), 7);
    fclose (file);
    long end = blob + 7 + (header[4] | header[5] << 8);
    //  In the blob, its copied records but the last whole.
    assert_int_equal (truncate (log, end - 20), 0);
    char *said = NULL;
    s_clean_and_repair (f, &said);
    if (strstr (said, "dropping"))
        fail_msg ("a torn end taken for damage: %s", said);
    free (said);
    s_no_copied_keys (f, BEFORE_KEYS);
    assert_false (s_has (f, "blob"));
}

//  The blob's record damaged (its checksum, or its length): it is
//  dropped, the records inside it are not taken, and "z", the next batch,
//  is kept (LevelDB's reader drops the rest of the block); with no batch
//  before it in the log, nothing tells which record is the next one, and
//  the rest goes, "z" with it, as LevelDB drops it.
static void s_damaged_copy (fixture_t *f, bool length, int skip, int before)
{
    char log[400];
    long blob;
    //  A length past its block at the log's end is a torn write: the
    //  blob's block is a whole one, then.
    s_target (f, log, sizeof log, &blob, skip, before, length ? 1000 : 0);
    uint8_t bytes[2] = {0xff, 0xff};
    s_write_at (log, blob + (length ? 4 : 0), bytes, length ? 2 : 1);
    char *said = NULL;
    s_clean_and_repair (f, &said);
    //  (The first record's length past the log's end is a torn write to
    //  LevelDB too: nothing said.)
    if (before && !strstr (said, length ? "bad record length" : "checksum mismatch"))
        fail_msg ("the clean did not say what it dropped: %s", said);
    free (said);
    s_no_copied_keys (f, before);
    assert_false (s_has (f, "blob"));
    assert_true (s_has (f, "z") == (before > 0));
}

static void test_torn_inside_a_copy (void **state)
{
    s_torn_inside_a_copy (*state, 0);
}

static void test_torn_inside_a_copy_numbered_next (void **state)
{
    s_torn_inside_a_copy (*state, BEFORE_KEYS);
}

static void test_damaged_checksum_of_a_copy (void **state)
{
    s_damaged_copy (*state, false, 0, BEFORE_KEYS);
}

static void test_damaged_length_of_a_copy (void **state)
{
    s_damaged_copy (*state, true, 0, BEFORE_KEYS);
}

//  The copy's records numbered far past the target's: past what the
//  damaged bytes could have held.
static void test_damaged_length_of_a_later_copy (void **state)
{
    s_damaged_copy (*state, true, 5000, BEFORE_KEYS);
}

//  The blob the log's first record: no batch read before it.
static void test_damaged_length_of_a_first_copy (void **state)
{
    s_damaged_copy (*state, true, 0, 0);
}

//  The names of dir's entries in the order readdir lists them.
static zlist_t *s_listing (const char *dir)
{
    zlist_t *names = zlist_new ();
    zlist_autofree (names);
    DIR *listing = opendir (dir);
    assert_non_null (listing);
    for (struct dirent *entry; (entry = readdir (listing));)
        zlist_append (names, entry->d_name);
    closedir (listing);
    return names;
}

//  True if dir lists first before second.
static bool s_listed_before (const char *dir, const char *first, const char *second)
{
    zlist_t *names = s_listing (dir);
    bool seen = false, before = false;
    for (char *name = zlist_first (names); name; name = zlist_next (names)) {
        if (strcmp (name, first) == 0)
            seen = true;
        if (strcmp (name, second) == 0) {
            before = seen;
            break;
        }
    }
    zlist_destroy (&names);
    return before;
}

//  Two logs in a shoal store, the newer writing a key the older wrote (a
//  crash while a node switched logs, then a repair). LevelDB's repair
//  turns them into tables in the order the directory lists them, and a
//  read of level 0 takes the table numbered highest first: with the newer
//  log listed first, the repaired store read the older value, and a key
//  deleted in the newer log came back. The repair now compacts the store
//  before anything reads it.
static void s_two_logs (fixture_t *f, bool large)
{
    int code = 0;
    char *error = NULL;
    journal_t *journal = journal_open (f->target, NULL, &code, &error); //  shoal's store
    if (!journal)
        fail_msg ("cannot make a store: %s", error);
    journal_destroy (&journal);
    leveldb_t *db = s_open (f->target);
    for (int i = 0; large && i < 1500; i++) { //  1.5 MB in a table, over every key
        char key[32], value[1000];
        snprintf (key, sizeof key, "%c-large-%06d", 'a' + i % 26, i);
        memset (value, 'v', sizeof value);
        s_put (db, key, value, sizeof value);
    }
    if (large)
        leveldb_compact_range (db, NULL, 0, NULL, 0);
    leveldb_close (db);
    db = s_open (f->target); //  the older log: x=old, gone=here
    s_put (db, "x-test", "old", 3);
    s_put (db, "gone-test", "here", 4);
    leveldb_close (db);
    char older[400];
    zchunk_t *bytes = s_log_bytes (f->target, older, sizeof older);
    db = s_open (f->target); //  its log made a table; the newer log: x=new, gone deleted
    s_put (db, "x-test", "new", 3);
    leveldb_writeoptions_t *write = leveldb_writeoptions_create ();
    char *err = NULL;
    leveldb_delete (db, write, "gone-test", 9, &err);
    leveldb_writeoptions_destroy (write);
    assert_null (err);
    leveldb_close (db);
    char newer[400];
    s_log_path (f->target, newer, sizeof newer);
    //  The two logs under names the directory lists newest first (any
    //  numbers do: LevelDB's repair orders them by the listing).
    char newer_name[64] = "", older_name[64] = "", path[400];
    for (int n = 900; n < 1000 && !older_name[0]; n += 2) {
        snprintf (newer_name, sizeof newer_name, "%06d.log", n);
        snprintf (path, sizeof path, "%s/%s", f->target, newer_name);
        assert_int_equal (rename (newer, path), 0);
        snprintf (newer, sizeof newer, "%s", path);
        char candidate[64];
        snprintf (candidate, sizeof candidate, "%06d.log", n + 1);
        snprintf (path, sizeof path, "%s/%s", f->target, candidate);
        FILE *out = fopen (path, "wb");
        assert_non_null (out);
        fclose (out);
        if (s_listed_before (f->target, newer_name, candidate))
            snprintf (older_name, sizeof older_name, "%s", candidate);
        else
            unlink (path);
    }
    assert_true (older_name[0]);
    snprintf (path, sizeof path, "%s/%s", f->target, older_name);
    zfile_t *file = zfile_new (NULL, path);
    assert_int_equal (zfile_output (file), 0);
    assert_int_equal (zfile_write (file, bytes, 0), 0);
    zfile_close (file);
    zfile_destroy (&file);
    zchunk_destroy (&bytes);
}

//  Repairs the target, which must then read x-test as 'new', and no
//  gone-test.
static void s_repaired_newest (fixture_t *f)
{
    char *error = NULL, *err = NULL, *report = NULL;
    if (journal_repair (f->target, NULL, NULL, &report, &error) != 0)
        fail_msg ("the repair failed: %s", error);
    print_message ("repair: %s\n", report);
    free (report);
    leveldb_t *db = s_open (f->target);
    leveldb_readoptions_t *read = leveldb_readoptions_create ();
    size_t size = 0, gone_size = 0;
    char *value = leveldb_get (db, read, "x-test", 6, &size, &err);
    char *gone = leveldb_get (db, read, "gone-test", 9, &gone_size, &err);
    leveldb_readoptions_destroy (read);
    leveldb_close (db);
    if (!value || size != 3 || memcmp (value, "new", 3) != 0)
        fail_msg ("the repaired store reads x-test as '%.*s', not 'new'", value ? (int) size : 6,
                  value ? value : "(none)");
    if (gone)
        fail_msg ("a key the newer log deleted is back after the repair");
    leveldb_free (value);
    leveldb_free (gone);
}

//  Two logs in a shoal store, the newer writing a key the older wrote: see
//  s_two_logs.
static void test_repair_of_two_logs (void **state)
{
    s_two_logs (*state, false);
    s_repaired_newest (*state);
}

//  The compaction after LevelDB's repair fails (files over 1 MiB refused,
//  as a full disk would refuse them): the repair fails, saying so (it
//  said "repaired", the older value read); run again, it ends.
static void test_repair_compaction_fails (void **state)
{
    fixture_t *f = *state;
    s_two_logs (f, true);
    struct rlimit before, small = {1 << 20, 1 << 20};
    assert_int_equal (getrlimit (RLIMIT_FSIZE, &before), 0);
    small.rlim_max = before.rlim_max;
    signal (SIGXFSZ, SIG_IGN);
    assert_int_equal (setrlimit (RLIMIT_FSIZE, &small), 0);
    char *report = NULL, *error = NULL;
    int rc = journal_repair (f->target, NULL, NULL, &report, &error);
    assert_int_equal (setrlimit (RLIMIT_FSIZE, &before), 0);
    print_message ("repair under the limit: %d %s\n", rc, error ? error : "");
    assert_int_not_equal (rc, 0);
    assert_non_null (strstr (error, "compaction after did not end"));
    char current[400]; //  no node opens it meanwhile
    snprintf (current, sizeof current, "%s/CURRENT", f->target);
    assert_int_not_equal (access (current, F_OK), 0);
    free (report);
    free (error);
    s_repaired_newest (f);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_torn_inside_a_copy, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_torn_inside_a_copy_numbered_next, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_damaged_checksum_of_a_copy, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_damaged_length_of_a_copy, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_damaged_length_of_a_later_copy, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_damaged_length_of_a_first_copy, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_repair_of_two_logs, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_repair_compaction_fails, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
