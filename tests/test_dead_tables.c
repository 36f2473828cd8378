/*  test_dead_tables.c - the files a full disk's open removes
    (persistence/deadtables.c), against LevelDB's own view of a real
    store: a store of many tables (often over several levels), made by
    compactions with deletes among the puts (its MANIFEST a history of
    edits); LevelDB's "leveldb.sstables" lists the tables its current
    version names. Planted tables no version names (below the next file
    number, and past it) and an empty log are removed, and nothing else:
    every table LevelDB names stays, a log with bytes stays, and the store
    opens with every key. While another process has the store open, or
    when the MANIFEST does not read whole, nothing is.
*/
#include "journal_internal.h"

#include <czmq.h>
#include <errno.h>
#include <leveldb/c.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define KEYS 40000
#define LIVE_MAX 4096

static leveldb_t *s_open (const char *dir, leveldb_options_t **options)
{
    *options = leveldb_options_create ();
    leveldb_options_set_create_if_missing (*options, 1);
    leveldb_options_set_paranoid_checks (*options, 1);
    leveldb_options_set_write_buffer_size (*options, 64 << 10); //  many tables
    leveldb_options_set_max_file_size (*options, 64 << 10);
    leveldb_options_set_compression (*options, leveldb_no_compression);
    char *err = NULL;
    leveldb_t *db = leveldb_open (*options, dir, &err);
    if (!db)
        fail_msg ("%s: %s", dir, err);
    return db;
}

//  The numbers of the tables LevelDB's current version names, from its
//  "leveldb.sstables" (lines " NUMBER:SIZE[SMALLEST .. LARGEST]" under
//  "--- level N ---"); the levels that hold any into *levels.
static size_t s_live (leveldb_t *db, uint64_t *numbers, int *levels)
{
    char *text = leveldb_property_value (db, "leveldb.sstables");
    assert_non_null (text);
    size_t count = 0;
    *levels = 0;
    bool counted = false;
    for (char *line = strtok (text, "\n"); line; line = strtok (NULL, "\n")) {
        if (strncmp (line, "--- level", 9) == 0) {
            counted = false;
            continue;
        }
        char *end = NULL;
        uint64_t number = strtoull (line, &end, 10);
        if (end && *end == ':' && count < LIVE_MAX) {
            numbers[count++] = number;
            *levels += !counted;
            counted = true;
        }
    }
    leveldb_free (text);
    return count;
}

static bool s_exists (const char *dir, const char *name)
{
    char path[256];
    struct stat st;
    snprintf (path, sizeof path, "%s/%s", dir, name);
    return stat (path, &st) == 0;
}

//  A file of bytes bytes (zeros) in dir.
static void s_plant (const char *dir, const char *name, size_t bytes)
{
    char path[256];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    FILE *file = fopen (path, "wb");
    assert_non_null (file);
    static char block[32 << 10];
    assert_true (bytes <= sizeof block);
    assert_int_equal (fwrite (block, 1, bytes, file), bytes);
    assert_int_equal (fclose (file), 0);
}

//  While a child process has the store open (LevelDB's lock), nothing is
//  removed: it could be writing what its version will name.
static void s_held_by_another (const char *dir)
{
    int ready[2], done[2];
    assert_int_equal (pipe (ready), 0);
    assert_int_equal (pipe (done), 0);
    pid_t child = fork ();
    assert_true (child >= 0);
    if (child == 0) {
        leveldb_options_t *options;
        leveldb_t *db = s_open (dir, &options);
        char byte = 1;
        if (write (ready[1], &byte, 1) != 1 || read (done[0], &byte, 1) != 1)
            _exit (1);
        leveldb_close (db);
        _exit (0);
    }
    char byte;
    assert_int_equal (read (ready[0], &byte, 1), 1);
    s_plant (dir, "000001.ldb", 1024);
    uint64_t bytes;
    char names[256];
    assert_int_equal (journal_dead_tables_remove (dir, &bytes, names, sizeof names), 0);
    assert_true (s_exists (dir, "000001.ldb"));
    assert_int_equal (write (done[1], &byte, 1), 1);
    int status;
    assert_int_equal (waitpid (child, &status, 0), child);
    assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    for (int i = 0; i < 2; i++) {
        close (ready[i]);
        close (done[i]);
    }
}

static void test_only_dead_tables_removed (void **state)
{
    (void) state;
    char dir[] = "/tmp/shoal-test-dead-tables-XXXXXX";
    assert_non_null (mkdtemp (dir));
    leveldb_options_t *options;
    leveldb_t *db = s_open (dir, &options);
    leveldb_writeoptions_t *write = leveldb_writeoptions_create ();
    char *err = NULL;
    char key[32], value[400];
    uint64_t seed = 42;
    //  Keys in a scattered order, every fifth deleted again: compactions
    //  over several levels, with deleted files in the MANIFEST's edits.
    for (uint64_t i = 0; i < KEYS; i++) {
        uint64_t k = (i * 2654435761u) % KEYS;
        snprintf (key, sizeof key, "k%08llu", (unsigned long long) k);
        for (size_t b = 0; b < sizeof value; b++) //  no run that compresses
            value[b] = (char) ((seed = seed * 6364136223846793005ULL + 1) >> 56);
        leveldb_put (db, write, key, strlen (key), value, sizeof value, &err);
        assert_null (err);
        if (i % 5 == 4) {
            snprintf (key, sizeof key, "k%08llu",
                      (unsigned long long) ((i - 2) * 2654435761u % KEYS));
            leveldb_delete (db, write, key, strlen (key), &err);
            assert_null (err);
        }
    }
    //  Half the keys compacted down, and nothing else left to do: what
    //  LevelDB names now is what its MANIFEST's edits, deletions among
    //  them, build (no open has rewritten it as one edit).
    leveldb_compact_range (db, "k00000000", 9, "k00020000", 9);
    static uint64_t live[LIVE_MAX];
    int levels;
    size_t count = s_live (db, live, &levels);
    leveldb_close (db);
    leveldb_options_destroy (options);
    print_message ("%zu tables over %d levels\n", count, levels);
    assert_true (count >= 8 && levels >= 1);

    //  Nothing is dead in a store LevelDB closed: nothing removed.
    uint64_t bytes;
    char names[256];
    assert_int_equal (journal_dead_tables_remove (dir, &bytes, names, sizeof names), 0);
    //  Dead tables are removed: below the next file number (a compaction's
    //  inputs) and past it (the outputs of one whose version was never
    //  written); so is an empty log, and a log with bytes is not.
    s_plant (dir, "000001.ldb", 32 << 10);
    s_plant (dir, "9999999.ldb", 16 << 10);
    s_plant (dir, "9999998.log", 0);
    s_plant (dir, "9999997.log", 100);
    assert_int_equal (journal_dead_tables_remove (dir, &bytes, names, sizeof names), 2);
    assert_non_null (strstr (names, "000001.ldb"));
    assert_non_null (strstr (names, "9999999.ldb"));
    assert_int_equal (bytes, 48 << 10);
    assert_false (s_exists (dir, "000001.ldb"));
    assert_false (s_exists (dir, "9999999.ldb"));
    assert_false (s_exists (dir, "9999998.log"));
    assert_true (s_exists (dir, "9999997.log"));
    for (size_t i = 0; i < count; i++) {
        char name[32];
        snprintf (name, sizeof name, "%06llu.ldb", (unsigned long long) live[i]);
        if (!s_exists (dir, name))
            fail_msg ("the live table %s was removed", name);
    }
    char path[256];
    snprintf (path, sizeof path, "%s/9999997.log", dir); //  not LevelDB's: it would refuse it
    assert_int_equal (unlink (path), 0);

    //  The store opens, every key there (each key's last put or delete).
    db = s_open (dir, &options);
    leveldb_readoptions_t *read = leveldb_readoptions_create ();
    leveldb_readoptions_set_verify_checksums (read, 1);
    leveldb_iterator_t *it = leveldb_create_iterator (db, read);
    size_t keys = 0;
    for (leveldb_iter_seek_to_first (it); leveldb_iter_valid (it); leveldb_iter_next (it))
        keys++;
    leveldb_iter_get_error (it, &err);
    assert_null (err);
    leveldb_iter_destroy (it);
    leveldb_readoptions_destroy (read);
    leveldb_close (db);
    leveldb_options_destroy (options);
    print_message ("%zu keys after\n", keys);
    assert_true (keys > KEYS / 2 && keys < KEYS);

    s_held_by_another (dir);
    //  A MANIFEST with a byte changed does not read whole: nothing removed.
    FILE *current = fopen (strcat (strcpy (path, dir), "/CURRENT"), "r");
    assert_non_null (current);
    char manifest[64] = "";
    assert_non_null (fgets (manifest, sizeof manifest, current));
    fclose (current);
    manifest[strcspn (manifest, "\n")] = 0;
    snprintf (path, sizeof path, "%s/%s", dir, manifest);
    FILE *file = fopen (path, "r+b");
    assert_non_null (file);
    assert_int_equal (fseek (file, 20, SEEK_SET), 0);
    int byte = fgetc (file);
    assert_int_equal (fseek (file, 20, SEEK_SET), 0);
    fputc (byte ^ 0x40, file);
    fclose (file);
    s_plant (dir, "000001.ldb", 1024);
    assert_int_equal (journal_dead_tables_remove (dir, &bytes, names, sizeof names), 0);
    assert_true (s_exists (dir, "000001.ldb"));

    leveldb_writeoptions_destroy (write);
    char command[128];
    snprintf (command, sizeof command, "rm -rf %s", dir);
    assert_int_equal (system (command), 0);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_only_dead_tables_removed),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
