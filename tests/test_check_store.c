/*  test_check_store.c - `shoal check` and `shoal repair` on a store: the usage,
    the store left as it was, a full or read-only disk, a damaged store,
    repairs refused. The fixture: check_test_util.h.
*/
#include "books.h"
#include "client.h"
#include "journal.h"
#include "node_child.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <leveldb/c.h>
#include <msgpack.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "check_test_util.h"
#include "proc.h"

//  `shoal repair` with args (NULL-terminated), as check_shoal_v.
static int s_repair (const fixture_t *f, char **output, ...)
{
    va_list args;
    va_start (args, output);
    int rc = check_shoal_v (f, output, "repair", args);
    va_end (args);
    return rc;
}

//  What dir holds, one line a file: name, inode, size, mtime (ns) and
//  links, sorted by name, into text (at most size bytes).
static void s_listing (const char *dir, char *text, size_t size)
{
    struct dirent **entries = NULL;
    int n = scandir (dir, &entries, NULL, alphasort);
    assert_true (n >= 0);
    size_t used = 0;
    text[0] = 0;
    for (int i = 0; i < n; i++) {
        char path[600];
        struct stat info;
        snprintf (path, sizeof path, "%s/%s", dir, entries[i]->d_name);
        if (strcmp (entries[i]->d_name, ".") != 0 && strcmp (entries[i]->d_name, "..") != 0 &&
            lstat (path, &info) == 0 && used < size)
            used += (size_t) snprintf (text + used, size - used, "%s %lu %lld %lld.%09ld %lu\n",
                                       entries[i]->d_name, (unsigned long) info.st_ino,
                                       (long long) info.st_size, (long long) info.st_mtim.tv_sec,
                                       info.st_mtim.tv_nsec, (unsigned long) info.st_nlink);
        free (entries[i]);
    }
    free (entries);
    assert_true (used < size);
}

//  The store is left as it was: check reads a copy. A node SIGKILLed
//  leaves its last writes in LevelDB's log, which an open of the store
//  itself turned into a table (a new log, a new MANIFEST, the old one
//  deleted). A copy a killed check left in the store is removed.

//  Makes path's times an hour old: a copy a check killed long ago.
static void s_backdate (const char *path)
{
    struct timespec times[2] = {{.tv_sec = time (NULL) - 3600}, {.tv_sec = time (NULL) - 3600}};
    assert_int_equal (utimensat (AT_FDCWD, path, times, 0), 0);
}

static void test_check_leaves_store (void **state)
{
    fixture_t *f = *state;
    check_run_bank (f);
    assert_int_equal (node_child_stop (&f->node, SIGKILL), SIGKILL);
    char stale[400], stale_file[420];
    snprintf (stale, sizeof stale, "%s/.shoal-check-AbC123", f->data);
    snprintf (stale_file, sizeof stale_file, "%s/000001.ldb", stale);

    char before[8192], after[8192];
    s_listing (f->data, before, sizeof before);
    assert_non_null (strstr (before, ".log "));
    char *output = NULL;
    int rc = check_check (f, &output, "--data", f->data, NULL);
    if (rc != 0)
        fail_msg ("shoal check exited %d:\n%s", rc, output);
    assert_non_null (strstr (output, "completed 1, failed 1, compensated 1, unfinished 0"));
    free (output);
    s_listing (f->data, after, sizeof after);
    assert_string_equal (before, after);

    //  A copy left behind by a check that was killed: removed by the next,
    //  once it is some seconds old (one just made may be a live check's
    //  that has not locked it yet: it was removed under it).
    assert_int_equal (zsys_dir_create ("%s", stale), 0);
    FILE *file = fopen (stale_file, "w");
    assert_non_null (file);
    assert_int_equal (fclose (file), 0);
    assert_int_equal (check_check (f, &output, "--data", f->data, "--json", NULL), 0);
    free (output);
    assert_true (zsys_file_exists (stale));
    s_backdate (stale);
    assert_int_equal (check_check (f, &output, "--data", f->data, "--json", NULL), 0);
    free (output);
    assert_false (zsys_file_exists (stale));
    s_listing (f->data, after, sizeof after);
    assert_string_equal (before, after);

    //  One another check still uses (two checks share the LOCK's read
    //  lock; each holds an flock on its copy) is left alone: the first
    //  removed the second's, whose LevelDB then failed on a table gone.
    assert_int_equal (zsys_dir_create ("%s", stale), 0);
    s_backdate (stale);
    int held = open (stale, O_RDONLY | O_DIRECTORY);
    assert_true (held >= 0);
    assert_int_equal (flock (held, LOCK_EX), 0);
    assert_int_equal (check_check (f, &output, "--data", f->data, NULL), 0);
    free (output);
    assert_true (zsys_file_exists (stale));
    close (held);
    //  A node's start removes what no check uses any more.
    assert_int_equal (
        node_child_start (&f->node, getenv ("SHOAL_BIN"), f->data, f->endpoint, NULL, NULL, 30000),
        0);
    assert_false (zsys_file_exists (stale));
    assert_int_equal (node_child_stop (&f->node, SIGTERM), 0);

    //  A table moved to another disk and linked back: copied, where it
    //  was passed over and the store called damaged.
    char table[600] = "", moved[400];
    struct dirent **entries = NULL;
    int n = scandir (f->data, &entries, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        size_t len = strlen (entries[i]->d_name);
        if (!table[0] && len > 4 && strcmp (entries[i]->d_name + len - 4, ".ldb") == 0)
            snprintf (table, sizeof table, "%s/%s", f->data, entries[i]->d_name);
        free (entries[i]);
    }
    free (entries);
    assert_true (table[0]);
    snprintf (moved, sizeof moved, "%s/moved.ldb", f->dir);
    assert_int_equal (rename (table, moved), 0);
    assert_int_equal (symlink (moved, table), 0);
    rc = check_check (f, &output, "--data", f->data, NULL);
    if (rc != 0)
        fail_msg ("shoal check with a linked table exited %d:\n%s", rc, output);
    assert_non_null (strstr (output, "completed 1, failed 1, compensated 1, unfinished 0"));
    free (output);
}

//  An account's events all gone from its stream (a repair that dropped
//  the table holding them; done here from outside, by LevelDB's own
//  deletes on the stopped node's store), while the event log keeps their
//  copies: the account reads as never opened, and a stream lost whole
//  has no hole to show it. check said every invariant ok, exit 0 (a
//  hostile-input review's find); it names them now, and fails.
static void test_check_unstreamed (void **state)
{
    fixture_t *f = *state;
    check_run_bank (f);
    assert_int_equal (node_child_stop (&f->node, SIGTERM), 0);
    leveldb_options_t *options = leveldb_options_create ();
    char *err = NULL;
    leveldb_t *db = leveldb_open (options, f->data, &err);
    assert_null (err);
    leveldb_readoptions_t *read = leveldb_readoptions_create ();
    leveldb_writeoptions_t *write = leveldb_writeoptions_create ();
    leveldb_writeoptions_set_sync (write, 1);
    leveldb_writebatch_t *deletes = leveldb_writebatch_create ();
    leveldb_iterator_t *it = leveldb_create_iterator (db, read);
    char stream[128] = "";
    int deleted = 0;
    for (leveldb_iter_seek (it, "S", 1); leveldb_iter_valid (it); leveldb_iter_next (it)) {
        size_t len;
        const char *key = leveldb_iter_key (it, &len);
        //  'S' shard:u16be 'e' stream 0x00 seq:u64be, or 's' stream: the
        //  first account's events and its snapshot, if any
        if (len < 5 || key[0] != 'S' || (key[3] != 'e' && key[3] != 's'))
            continue;
        const char *name = key + 4;
        size_t name_len = strnlen (name, len - 4);
        if (!stream[0] && key[3] == 'e' && name_len < sizeof stream &&
            strncmp (name, "account/", 8) == 0)
            snprintf (stream, sizeof stream, "%.*s", (int) name_len, name);
        if (stream[0] && name_len == strlen (stream) && memcmp (name, stream, name_len) == 0) {
            leveldb_writebatch_delete (deletes, key, len);
            deleted++;
        }
    }
    leveldb_iter_destroy (it);
    assert_true (stream[0] && deleted > 0);
    leveldb_write (db, write, deletes, &err);
    assert_null (err);
    leveldb_writebatch_destroy (deletes);
    leveldb_writeoptions_destroy (write);
    leveldb_readoptions_destroy (read);
    leveldb_close (db);
    leveldb_options_destroy (options);

    char *output = NULL;
    int rc = check_check (f, &output, "--data", f->data, NULL);
    print_message ("check with %s's events gone (exit %d): %s", stream, rc, output);
    char first[200];
    snprintf (first, sizeof first, "(the first: event 1 of %s)", stream);
    if (rc != 1 || !strstr (output, "of the event log missing from") || !strstr (output, first) ||
        !strstr (output, "acknowledged event"))
        fail_msg ("shoal check with %s's events gone exited %d:\n%s", stream, rc, output);
    free (output);
}

//  A store on a full disk, or on one mounted read-only (when a check is
//  wanted most), is copied under $TMPDIR rather than beside itself, and
//  nothing in it changes. The disk is a 16 MiB tmpfs, which needs root
//  (CI runs the tests as root): read-only holds for root too.
static void test_check_full_or_read_only (void **state)
{
    fixture_t *f = *state;
    snprintf (f->disk, sizeof f->disk, "%s/disk", f->dir);
    assert_int_equal (zsys_dir_create ("%s", f->disk), 0);
    if (mount ("tmpfs", f->disk, "tmpfs", 0, "size=16m") != 0) {
        int error = errno;
        f->disk[0] = 0;
        fail_msg ("cannot mount a tmpfs: %s; this test needs root (uid %d here), as in CI",
                  strerror (error), (int) getuid ());
    }
    snprintf (f->data, sizeof f->data, "%s/data", f->disk);
    check_run_bank (f);
    assert_int_equal (node_child_stop (&f->node, SIGKILL), SIGKILL);
    //  The disk filled to its last byte, beside the store.
    char filler[400];
    snprintf (filler, sizeof filler, "%s/filler", f->disk);
    int fd = open (filler, O_WRONLY | O_CREAT, 0600);
    assert_true (fd >= 0);
    static char block[65536];
    for (size_t chunk = sizeof block; chunk > 0; chunk /= 2)
        while (write (fd, block, chunk) == (ssize_t) chunk)
            ;
    assert_int_equal (errno, ENOSPC);
    close (fd);
    char tmp[400], before[8192], after[8192];
    snprintf (tmp, sizeof tmp, "%s/tmp", f->dir);
    assert_int_equal (zsys_dir_create ("%s", tmp), 0);
    char *was = getenv ("TMPDIR") ? strdup (getenv ("TMPDIR")) : NULL;
    setenv ("TMPDIR", tmp, 1);
    //  What a check killed there left (a whole copy of a store): the next
    //  check removes it (it stayed for good, a store's size each time).
    assert_int_equal (zsys_dir_create ("%s/.shoal-check-Killed", tmp), 0);
    char left[460];
    snprintf (left, sizeof left, "%s/.shoal-check-Killed/000005.ldb", tmp);
    FILE *copy = fopen (left, "w");
    assert_non_null (copy);
    fclose (copy);
    snprintf (left, sizeof left, "%s/.shoal-check-Killed", tmp);
    s_backdate (left);
    s_listing (f->data, before, sizeof before);
    for (int read_only = 0; read_only < 2; read_only++) {
        if (read_only)
            assert_int_equal (mount (NULL, f->disk, NULL, MS_REMOUNT | MS_RDONLY, NULL), 0);
        char *output = NULL;
        int rc = check_check (f, &output, "--data", f->data, NULL);
        if (rc != 0)
            fail_msg ("shoal check on a %s disk exited %d:\n%s", read_only ? "read-only" : "full",
                      rc, output);
        assert_non_null (strstr (output, "completed 1, failed 1, compensated 1, unfinished 0"));
        free (output);
        s_listing (f->data, after, sizeof after);
        assert_string_equal (before, after);
        //  Its copy under $TMPDIR, removed, and the killed one's.
        s_listing (tmp, after, sizeof after);
        assert_string_equal (after, "");
    }
    if (was)
        setenv ("TMPDIR", was, 1);
    else
        unsetenv ("TMPDIR");
    free (was);
}

//  Bad usage, a directory that is not there, and one that holds no journal
//  (none at all, or other files named like LevelDB's): exit 2, and no
//  journal is made where there was none.
static void test_check_usage (void **state)
{
    fixture_t *f = *state;
    char *output = NULL;
    assert_int_equal (check_check (f, &output, NULL), 2);
    assert_non_null (strstr (output, "--data DIR is required"));
    free (output);
    //  A directory that is not there says so (it said "holds no shoal
    //  journal", as repair says "does not exist").
    assert_int_equal (check_check (f, &output, "--data", f->data, NULL), 2);
    if (!strstr (output, "does not exist"))
        fail_msg ("check of a directory that is not there: %s", output);
    free (output);
    assert_false (zsys_file_exists (f->data));
    //  A directory that is there, with no store in it: the same.
    assert_int_equal (zsys_dir_create ("%s", f->data), 0);
    assert_int_equal (check_check (f, &output, "--data", f->data, NULL), 2);
    assert_non_null (strstr (output, "holds no shoal journal"));
    free (output);
    char current[400];
    snprintf (current, sizeof current, "%s/CURRENT", f->data);
    assert_false (zsys_file_exists (current));
    //  A directory of an application's logs (app.log) holds no store
    //  either: LevelDB names its logs 000003.log. They were taken for a
    //  store's files, check said it was damaged (exit 4) and repair made
    //  a store among them.
    char log[400];
    snprintf (log, sizeof log, "%s/app.log", f->data);
    FILE *file = fopen (log, "w");
    assert_non_null (file);
    fprintf (file, "not a LevelDB log\n");
    fclose (file);
    assert_int_equal (check_check (f, &output, "--data", f->data, NULL), 2);
    if (!strstr (output, "holds no shoal journal"))
        fail_msg ("check of a directory holding app.log: %s", output);
    free (output);
    assert_int_equal (s_repair (f, &output, "--data", f->data, "--yes", NULL), 2);
    if (!strstr (output, "holds no LevelDB store"))
        fail_msg ("repair of a directory holding app.log: %s", output);
    free (output);
    assert_false (zsys_file_exists (current));
    assert_int_equal (unlink (log), 0);
    assert_int_equal (check_check (f, &output, "--help", NULL), 0);
    assert_non_null (strstr (output, "shoal check --data"));
    free (output);
    //  One directory given twice, by another name: its accounts would be
    //  counted twice, the sums wrong and every invariant "ok".
    char again[400];
    snprintf (again, sizeof again, "%s/.", f->data);
    assert_int_equal (check_check (f, &output, "--data", f->data, "--data", again, NULL), 2);
    assert_non_null (strstr (output, "are the same directory"));
    free (output);
}

//  A real node's store that lost its CURRENT file, or has a corrupt one:
//  a damaged store (exit 4, pointing to shoal repair), not "no journal";
//  nothing is made there, and after the repair the books check out.
static void test_check_damaged (void **state)
{
    fixture_t *f = *state;
    check_run_bank (f);
    assert_int_equal (node_child_stop (&f->node, SIGTERM), 0);
    char current[400], repair[400];
    snprintf (current, sizeof current, "%s/CURRENT", f->data);
    snprintf (repair, sizeof repair, "`shoal repair --data %s`", f->data);
    assert_int_equal (unlink (current), 0);

    char *output = NULL;
    assert_int_equal (check_check (f, &output, "--data", f->data, NULL), 4);
    assert_null (strstr (output, "holds no shoal journal"));
    if (!strstr (output, "has no CURRENT file") || !strstr (output, repair))
        fail_msg ("expected a damaged store and %s in: %s", repair, output);
    free (output);
    assert_false (zsys_file_exists (current)); //  no new store made over it
    assert_int_equal (check_check (f, &output, "--data", f->data, "--json", NULL), 4);
    free (output);

    //  A CURRENT that names no manifest.
    FILE *file = fopen (current, "w");
    assert_non_null (file);
    fputs ("MANIFEST-999999\n", file);
    assert_int_equal (fclose (file), 0);
    assert_int_equal (check_check (f, &output, "--data", f->data, NULL), 4);
    if (!strstr (output, "damaged") || !strstr (output, repair))
        fail_msg ("expected a damaged store and %s in: %s", repair, output);
    free (output);

    //  What the message points to works: repaired, the books hold.
    assert_int_equal (unlink (current), 0);
    int rc = s_repair (f, &output, "--data", f->data, "--yes", NULL);
    if (rc != 0)
        fail_msg ("shoal repair exited %d:\n%s", rc, output);
    free (output);
    rc = check_check (f, &output, "--data", f->data, NULL);
    if (rc != 0)
        fail_msg ("shoal check after the repair exited %d:\n%s", rc, output);
    assert_non_null (strstr (output, "completed 1, failed 1, compensated 1, unfinished 0"));
    free (output);
    assert_int_equal (check_check (f, &output, "--help", NULL), 0);
    assert_non_null (strstr (output, "4 a store that is damaged"));
    free (output);
}

//  What dir holds, byte for byte: s_listing's line for each entry, with
//  the FNV-1a hash of a file's bytes, into text (at most size bytes).
static void s_contents (const char *dir, char *text, size_t size)
{
    char listing[8192];
    s_listing (dir, listing, sizeof listing);
    size_t used = (size_t) snprintf (text, size, "%s", listing);
    struct dirent **entries = NULL;
    int n = scandir (dir, &entries, NULL, alphasort);
    assert_true (n >= 0);
    for (int i = 0; i < n; i++) {
        char path[600];
        snprintf (path, sizeof path, "%s/%s", dir, entries[i]->d_name);
        FILE *file = entries[i]->d_type == DT_REG ? fopen (path, "rb") : NULL;
        uint64_t hash = 14695981039346656037ull;
        for (int c; file && (c = fgetc (file)) != EOF;)
            hash = (hash ^ (uint8_t) c) * 1099511628211ull;
        if (file && used < size)
            used += (size_t) snprintf (text + used, size - used, "%s %016llx\n", entries[i]->d_name,
                                       (unsigned long long) hash);
        if (file)
            fclose (file);
        free (entries[i]);
    }
    free (entries);
    assert_true (used < size);
}

//  Another program's LevelDB store in dir: keys of its own, in a table
//  and in a log (two opens).
static void s_foreign_store (const char *dir)
{
    for (int open = 0; open < 2; open++) {
        leveldb_options_t *options = leveldb_options_create ();
        leveldb_options_set_create_if_missing (options, 1);
        leveldb_writeoptions_t *write = leveldb_writeoptions_create ();
        char *err = NULL;
        leveldb_t *db = leveldb_open (options, dir, &err);
        if (!db)
            fail_msg ("leveldb_open %s: %s", dir, err);
        for (int i = 0; i < 100 && !err; i++) {
            char key[32], value[64];
            snprintf (key, sizeof key, "user:%d:%d", open, i);
            snprintf (value, sizeof value, "{\"name\":\"user %d\"}", i);
            leveldb_put (db, write, key, strlen (key), value, strlen (value), &err);
        }
        assert_null (err);
        leveldb_close (db);
        leveldb_writeoptions_destroy (write);
        leveldb_options_destroy (options);
    }
}

static int s_reversed (void *state, const char *a, size_t a_len, const char *b, size_t b_len)
{
    (void) state;
    int order = memcmp (a, b, a_len < b_len ? a_len : b_len);
    return order ? -order : (a_len < b_len) - (a_len > b_len);
}

static void s_reversed_destroy (void *state)
{
    (void) state;
}

static const char *s_reversed_name (void *state)
{
    (void) state;
    return "another.program.Reversed";
}

//  Another program's store in dir whose keys are in an order of its own
//  (a comparator LevelDB's default refuses to open it with).
static void s_foreign_ordered_store (const char *dir)
{
    leveldb_comparator_t *reversed =
        leveldb_comparator_create (NULL, s_reversed_destroy, s_reversed, s_reversed_name);
    leveldb_options_t *options = leveldb_options_create ();
    leveldb_options_set_create_if_missing (options, 1);
    leveldb_options_set_comparator (options, reversed);
    leveldb_writeoptions_t *write = leveldb_writeoptions_create ();
    char *err = NULL;
    leveldb_t *db = leveldb_open (options, dir, &err);
    if (!db)
        fail_msg ("leveldb_open %s: %s", dir, err);
    leveldb_put (db, write, "b", 1, "2", 1, &err);
    leveldb_put (db, write, "a", 1, "1", 1, &err);
    assert_null (err);
    leveldb_close (db);
    leveldb_writeoptions_destroy (write);
    leveldb_options_destroy (options);
    leveldb_comparator_destroy (reversed);
}

//  `shoal node` on another program's LevelDB store is refused (exit 1)
//  with every file as it was: judged from a private copy, since LevelDB's
//  open makes its log a table and writes a new MANIFEST. It was refused
//  after that open; one in an order of its own was refused by LevelDB's
//  open after it had moved its LOG, with no word of whose it was.
static void test_node_refuses_foreign (void **state)
{
    fixture_t *f = *state;
    char ordered[400];
    snprintf (ordered, sizeof ordered, "%s/ordered", f->dir);
    s_foreign_store (f->data);
    s_foreign_ordered_store (ordered);
    char *dirs[] = {f->data, ordered};
    for (int i = 0; i < 2; i++) {
        char before[16384], after[16384], *output = NULL;
        s_contents (dirs[i], before, sizeof before);
        assert_non_null (strstr (before, ".log ")); //  what an open would make a table
        char *argv[] = {getenv ("SHOAL_BIN"), "node",      "--data", dirs[i], "--endpoint",
                        f->endpoint,          "--metrics", "off",    NULL};
        int rc = proc_run_argv (argv, NULL, f->out, &output);
        if (rc != 1 || !strstr (output, "is a LevelDB store but not shoal's"))
            fail_msg ("expected a refusal of another program's store %s (exit 1): exit %d: %s",
                      dirs[i], rc, output);
        free (output);
        s_contents (dirs[i], after, sizeof after);
        assert_string_equal (before, after);
    }
}

//  `shoal repair` of a directory that holds no shoal store is refused
//  (exit 2) before its warning, and changes nothing: one that does not
//  exist, an empty one, a file, and another program's LevelDB store, whole
//  or damaged (no CURRENT: a copy of it is repaired to read its keys). It
//  was repaired: rebuilt by LevelDB, its logs moved to lost/.
static void test_repair_refuses (void **state)
{
    fixture_t *f = *state;
    char *output = NULL;
    assert_int_equal (s_repair (f, &output, "--data", f->data, "--yes", NULL), 2);
    if (!strstr (output, "does not exist: nothing to repair") || strstr (output, "WARNING"))
        fail_msg ("expected a refusal of a directory that does not exist: %s", output);
    free (output);
    assert_false (zsys_file_exists (f->data));

    assert_int_equal (zsys_dir_create ("%s", f->data), 0);
    assert_int_equal (s_repair (f, &output, "--data", f->data, "--yes", NULL), 2);
    if (!strstr (output, "holds no LevelDB store") || strstr (output, "WARNING"))
        fail_msg ("expected a refusal of an empty directory: %s", output);
    free (output);
    char empty[8192];
    s_listing (f->data, empty, sizeof empty);
    assert_string_equal (empty, "");

    char file[400];
    snprintf (file, sizeof file, "%s/a-file", f->dir);
    FILE *made = fopen (file, "w");
    assert_non_null (made);
    assert_int_equal (fclose (made), 0);
    assert_int_equal (s_repair (f, &output, "--data", file, "--yes", NULL), 2);
    if (!strstr (output, "is not a directory") || strstr (output, "WARNING"))
        fail_msg ("expected a refusal of a file: %s", output);
    free (output);

    s_foreign_store (f->data);
    char before[16384], after[16384], current[400];
    snprintf (current, sizeof current, "%s/CURRENT", f->data);
    for (int damaged = 0; damaged < 2; damaged++) {
        if (damaged)
            assert_int_equal (unlink (current), 0);
        s_contents (f->data, before, sizeof before);
        assert_int_equal (s_repair (f, &output, "--data", f->data, "--yes", NULL), 2);
        if (!strstr (output, "is a LevelDB store but not shoal's") ||
            !strstr (output, "nothing was changed") || strstr (output, "WARNING") ||
            strstr (output, ".shoal-check-"))
            fail_msg ("expected a refusal of another program's store%s: %s",
                      damaged ? " without CURRENT" : "", output);
        free (output);
        s_contents (f->data, after, sizeof after);
        assert_string_equal (before, after);
    }
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_check_leaves_store, check_setup, check_teardown),
        cmocka_unit_test_setup_teardown (test_check_full_or_read_only, check_setup, check_teardown),
        cmocka_unit_test_setup_teardown (test_check_usage, check_setup, check_teardown),
        cmocka_unit_test_setup_teardown (test_check_damaged, check_setup, check_teardown),
        cmocka_unit_test_setup_teardown (test_check_unstreamed, check_setup, check_teardown),
        cmocka_unit_test_setup_teardown (test_repair_refuses, check_setup, check_teardown),
        cmocka_unit_test_setup_teardown (test_node_refuses_foreign, check_setup, check_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
