/*  test_tablefile.c - LevelDB's table files written a mebibyte at a time
    (persistence/tablefile.h), on real LevelDB stores: the environment is
    made on this LevelDB; tables come out whole and in large writes; and
    a disk that fills while a memtable's table is being written loses no
    acknowledged put: the failed table is LevelDB's failed flush, the
    puts are in its log, and they are all there after the reopen.

    The full-disk case mounts a 4 MiB tmpfs, which needs root (CI runs the
    tests as root); without it the test fails saying so, it is never
    skipped.
*/
#include "harness.h"
#include "tablefile.h"

#include <czmq.h>
#include <errno.h>
#include <leveldb/c.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define VALUE_SIZE 200

typedef struct {
    char dir[128];  //  a temporary directory, removed after
    char disk[160]; //  a tmpfs mounted under dir, or ""
    char data[192]; //  the store's directory
    bool mounted;
} fixture_t;

static int s_setup (void **state)
{
    fixture_t *f = calloc (1, sizeof (fixture_t));
    assert_non_null (f);
    snprintf (f->dir, sizeof f->dir, "/tmp/shoal-test-tablefile-XXXXXX");
    assert_non_null (mkdtemp (f->dir));
    snprintf (f->disk, sizeof f->disk, "%s/disk", f->dir);
    snprintf (f->data, sizeof f->data, "%s/data", f->dir);
    *state = f;
    return 0;
}

static int s_teardown (void **state)
{
    fixture_t *f = *state;
    if (f->mounted)
        umount2 (f->disk, MNT_DETACH);
    harness_rm_rf (f->dir);
    free (f);
    return 0;
}

//  The key and value of record i: keys spread over the key space, as the
//  events' are; values that say which record they are.
static size_t s_key (char *key, size_t size, int i)
{
    uint64_t spread = (uint64_t) i * 0x9E3779B97F4A7C15ull;
    return (size_t) snprintf (key, size, "k%016llx-%d", (unsigned long long) spread, i);
}

static void s_value (char *value, int i)
{
    memset (value, 'a' + i % 26, VALUE_SIZE);
    snprintf (value, VALUE_SIZE, "value of %d", i);
}

static leveldb_t *s_open (const char *dir, size_t write_buffer)
{
    leveldb_options_t *options = leveldb_options_create ();
    leveldb_options_set_create_if_missing (options, 1);
    leveldb_options_set_paranoid_checks (options, 1);
    leveldb_options_set_compression (options, leveldb_no_compression);
    leveldb_options_set_write_buffer_size (options, write_buffer);
    assert_non_null (tablefile_env ());
    leveldb_options_set_env (options, tablefile_env ());
    char *err = NULL;
    leveldb_t *db = leveldb_open (options, dir, &err);
    leveldb_options_destroy (options); //  LevelDB copies the options
    if (err)
        fail_msg ("cannot open a store in %s: %s", dir, err);
    return db;
}

//  The error of the last put LevelDB refused
static char s_put_error[256];

//  Puts records [from, to) in synced batches of 64. Returns the first
//  record not acknowledged (to when every batch was); the refusal's
//  error in s_put_error.
static int s_put (leveldb_t *db, int from, int to)
{
    s_put_error[0] = '\0';
    leveldb_writeoptions_t *synced = leveldb_writeoptions_create ();
    leveldb_writeoptions_set_sync (synced, 1);
    leveldb_writebatch_t *batch = leveldb_writebatch_create ();
    int acknowledged = from;
    for (int i = from; i < to; i += 64) {
        leveldb_writebatch_clear (batch);
        int end = i + 64 < to ? i + 64 : to;
        for (int j = i; j < end; j++) {
            char key[64], value[VALUE_SIZE];
            s_value (value, j);
            leveldb_writebatch_put (batch, key, s_key (key, sizeof key, j), value, VALUE_SIZE);
        }
        char *err = NULL;
        leveldb_write (db, synced, batch, &err);
        if (err) {
            snprintf (s_put_error, sizeof s_put_error, "%s", err);
            leveldb_free (err);
            break;
        }
        acknowledged = end;
    }
    leveldb_writebatch_destroy (batch);
    leveldb_writeoptions_destroy (synced);
    return acknowledged;
}

//  Reads records [0, count) back, checksums verified: every one is there,
//  with its value.
static void s_assert_all (leveldb_t *db, int count)
{
    leveldb_readoptions_t *read = leveldb_readoptions_create ();
    leveldb_readoptions_set_verify_checksums (read, 1);
    for (int i = 0; i < count; i++) {
        char key[64], value[VALUE_SIZE];
        s_value (value, i);
        size_t size = 0;
        char *err = NULL;
        char *got = leveldb_get (db, read, key, s_key (key, sizeof key, i), &size, &err);
        if (err)
            fail_msg ("record %d of %d: %s", i, count, err);
        if (!got)
            fail_msg ("record %d of %d, acknowledged, is lost", i, count);
        assert_int_equal (size, VALUE_SIZE);
        assert_memory_equal (got, value, VALUE_SIZE);
        leveldb_free (got);
    }
    leveldb_readoptions_destroy (read);
}

//  The store's table files, and their bytes.
static int s_tables (const char *dir, size_t *bytes)
{
    zdir_t *listing = zdir_new (dir, "-");
    assert_non_null (listing);
    zfile_t **files = zdir_flatten (listing);
    int tables = 0;
    *bytes = 0;
    for (zfile_t **file = files; *file; file++) {
        const char *name = zfile_filename (*file, NULL);
        size_t len = strlen (name);
        if (len > 4 && streq (name + len - 4, ".ldb")) {
            tables++;
            *bytes += (size_t) zfile_cursize (*file);
        }
    }
    zdir_flatten_free (&files);
    zdir_destroy (&listing);
    return tables;
}

static void test_env_made (void **state)
{
    //  Made on this LevelDB (its handle laid out as expected), once.
    leveldb_env_t *env = tablefile_env ();
    assert_non_null (env);
    assert_ptr_equal (tablefile_env (), env);
}

static void test_tables_in_chunks (void **state)
{
    fixture_t *f = *state;
    enum { COUNT = 40000 }; //  8 MB of values
    tablefile_stats_t before, after;
    tablefile_stats (&before);

    leveldb_t *db = s_open (f->data, 1u << 20);
    assert_int_equal (s_put (db, 0, COUNT), COUNT);
    leveldb_compact_range (db, NULL, 0, NULL, 0); //  every memtable flushed, then merged
    leveldb_close (db);
    tablefile_stats (&after);

    size_t table_bytes;
    int tables = s_tables (f->data, &table_bytes);
    assert_true (tables >= 1);
    assert_true (table_bytes > (size_t) COUNT * VALUE_SIZE);
    uint64_t files = after.files - before.files;
    uint64_t writes = after.writes - before.writes;
    uint64_t bytes = after.bytes - before.bytes;
    assert_int_equal (after.failures, before.failures);
    //  Every table written went through the chunks, the compaction's too
    assert_true (files >= (uint64_t) tables);
    assert_true (bytes >= table_bytes);
    //  A write a MiB, and the last of each file: not one per 4 KiB block
    //  (some 2,000 for these bytes)
    uint64_t most = bytes / TABLEFILE_CHUNK + files;
    if (writes > most)
        fail_msg ("%llu writes for %llu bytes in %llu table files: at most %llu expected",
                  (unsigned long long) writes, (unsigned long long) bytes,
                  (unsigned long long) files, (unsigned long long) most);

    //  Whole: the reopen checks every table, each get its block's checksum
    db = s_open (f->data, 1u << 20);
    s_assert_all (db, COUNT);
    leveldb_close (db);
}

static void test_full_disk (void **state)
{
    fixture_t *f = *state;
    assert_int_equal (mkdir (f->disk, 0700), 0);
    if (mount ("tmpfs", f->disk, "tmpfs", 0, "size=4m") != 0)
        fail_msg ("cannot mount a tmpfs at %s: %s; this test needs root (uid %d here), as in "
                  "CI: it is not skipped",
                  f->disk, strerror (errno), (int) getuid ());
    f->mounted = true;
    snprintf (f->data, sizeof f->data, "%s/data", f->disk);

    //  1.5 MiB of puts stay in the memtable (its buffer is 8 MiB) and in
    //  LevelDB's log; a filler leaves less room than their table needs.
    char filler[200];
    snprintf (filler, sizeof filler, "%s/filler", f->disk);
    enum { COUNT = 6000 }; //  some 1.5 MiB of keys and values
    leveldb_t *db = s_open (f->data, 8u << 20);
    assert_int_equal (s_put (db, 0, COUNT), COUNT);
    //  The filler takes what is left of the disk, less 512 KiB: the
    //  table (some 1.5 MiB) cannot fit, its first chunk (1 MiB) fails
    FILE *file = fopen (filler, "w");
    assert_non_null (file);
    char block[4096] = {0};
    size_t written = 0;
    while (fwrite (block, 1, sizeof block, file) == sizeof block)
        written += sizeof block;
    fclose (file);
    assert_true (written > (512u << 10));
    assert_int_equal (truncate (filler, (off_t) (written - (512u << 10))), 0);

    tablefile_stats_t before, after;
    tablefile_stats (&before);
    leveldb_compact_range (db, NULL, 0, NULL, 0); //  the memtable's table: ENOSPC
    tablefile_stats (&after);
    assert_true (after.failures > before.failures);
    //  LevelDB refuses writes after its failed flush, saying why (the
    //  write's error reached it: had it been lost, LevelDB's read of the
    //  table it took for whole would have said Corruption): none is
    //  acknowledged
    assert_int_equal (s_put (db, COUNT, COUNT + 64), COUNT);
    if (!strstr (s_put_error, "No space left"))
        fail_msg ("the put after the failed flush was refused with \"%s\", not ENOSPC",
                  s_put_error);
    leveldb_close (db);

    //  Room again: every acknowledged put is there, from LevelDB's log,
    //  and the store takes writes and flushes its tables
    assert_int_equal (unlink (filler), 0);
    db = s_open (f->data, 8u << 20);
    s_assert_all (db, COUNT);
    assert_int_equal (s_put (db, COUNT, COUNT + 640), COUNT + 640);
    leveldb_compact_range (db, NULL, 0, NULL, 0);
    leveldb_close (db);
    size_t table_bytes;
    assert_true (s_tables (f->data, &table_bytes) >= 1);
    db = s_open (f->data, 8u << 20);
    s_assert_all (db, COUNT + 640);
    leveldb_close (db);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_env_made),
        cmocka_unit_test_setup_teardown (test_tables_in_chunks, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_full_disk, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
