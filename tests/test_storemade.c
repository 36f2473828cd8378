/*  test_storemade.c - runtime/storemade.h: a store a refused start made is
    taken back by handle and under the store's lock; a directory that held
    anything is never noted; a lock another process holds, a working
    directory changed, a directory renamed or swapped for a symlink make
    the undo remove nothing it did not make. LevelDB is not run: the
    "store" is a few files named as LevelDB names them (the real thing is
    test_cli_store test_refused_start_makes_no_store).
*/
#include "harness.h"
#include "storemade.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

static const char *s_store_files[] = {"LOCK", "CURRENT", "MANIFEST-000002", "000003.log", "LOG"};
#define STORE_FILES (sizeof s_store_files / sizeof s_store_files[0])

//  Writes text to the file dir/name, or fails the test.
static void s_write (const char *dir, const char *name, const char *text)
{
    char path[1024];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    assert_true (fputs (text, file) >= 0);
    assert_int_equal (fclose (file), 0);
}

//  Makes what journal_open would in dir, made with its parents if missing.
static void s_make_store (const char *dir)
{
    char command[600];
    snprintf (command, sizeof command, "mkdir -p '%s'", dir);
    assert_int_equal (system (command), 0);
    for (size_t i = 0; i < STORE_FILES; i++)
        s_write (dir, s_store_files[i], s_store_files[i]);
}

static bool s_exists (const char *dir, const char *name)
{
    char path[1024];
    snprintf (path, sizeof path, "%s%s%s", dir, name ? "/" : "", name ? name : "");
    struct stat st;
    return lstat (path, &st) == 0;
}

//  The usage: a note of a missing directory, the store made, the undo
//  takes it all back, parents made included, and not a byte more.
static void test_undo_takes_back_what_was_made (void **state)
{
    (void) state;
    char tmp[] = "/tmp/shoal-test-storemade-XXXXXX", top[512], dir[512], sub[512];
    assert_non_null (mkdtemp (tmp));
    snprintf (top, sizeof top, "%s/a", tmp);
    snprintf (dir, sizeof dir, "%s//a/b/d/", tmp); //  b and d are missing
    assert_int_equal (mkdir (top, 0755), 0);
    s_write (tmp, "keep", "keep");
    storemade_t *made = storemade_note (dir);
    assert_non_null (made);
    s_make_store (dir);
    snprintf (sub, sizeof sub, "%s/a/b/d/clients", tmp);
    assert_int_equal (mkdir (sub, 0755), 0); //  an empty directory made too
    storemade_made (&made, dir);
    assert_non_null (made);
    storemade_drop_current (made);
    assert_false (s_exists (dir, "CURRENT"));
    storemade_undo (&made);
    assert_null (made);
    assert_true (s_exists (top, NULL)); //  it was there
    snprintf (sub, sizeof sub, "%s/a/b", tmp);
    assert_false (s_exists (sub, NULL));
    assert_true (s_exists (tmp, "keep"));
    storemade_undo (&made); //  NULL: nothing
    storemade_destroy (&made);

    //  An empty directory that was there keeps being there, empty.
    storemade_t *again = storemade_note (top);
    assert_non_null (again);
    s_make_store (top);
    storemade_made (&again, top);
    storemade_undo (&again);
    assert_true (s_exists (top, NULL));
    assert_true (rmdir (top) == 0); //  empty
    harness_rm_rf (tmp);
}

//  A directory that holds anything (a user's LOG, a LOCK, a store) is not
//  noted: nothing there is ever removed. Nor is a path whose missing part
//  has "..", nor a directory that cannot be read.
static void test_not_noted (void **state)
{
    (void) state;
    char tmp[] = "/tmp/shoal-test-storemade-XXXXXX", dir[512];
    assert_non_null (mkdtemp (tmp));
    const char *names[] = {"LOG", "LOCK", "CURRENT", ".hidden"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf (dir, sizeof dir, "%s/d%zu", tmp, i);
        assert_int_equal (mkdir (dir, 0755), 0);
        s_write (dir, names[i], "user");
        assert_null (storemade_note (dir));
    }
    snprintf (dir, sizeof dir, "%s/missing/../d", tmp);
    assert_null (storemade_note (dir));
    snprintf (dir, sizeof dir, "%s/d0/LOG/x", tmp); //  a file on the way
    assert_null (storemade_note (dir));
    assert_null (storemade_note (""));
    assert_null (storemade_note (NULL));
    harness_rm_rf (tmp);
}

//  Another process holds the store's lock (it took it when the refused
//  node closed the store): the undo removes nothing, not even what the
//  note made.
static void test_lock_held_skips_undo (void **state)
{
    (void) state;
    char tmp[] = "/tmp/shoal-test-storemade-XXXXXX", dir[512], lock_path[600];
    assert_non_null (mkdtemp (tmp));
    snprintf (dir, sizeof dir, "%s/new", tmp);
    storemade_t *made = storemade_note (dir);
    assert_non_null (made);
    s_make_store (dir);
    storemade_made (&made, dir);
    assert_non_null (made);

    int locked[2], done[2];
    assert_int_equal (pipe (locked), 0);
    assert_int_equal (pipe (done), 0);
    snprintf (lock_path, sizeof lock_path, "%s/LOCK", dir);
    pid_t child = fork ();
    assert_true (child >= 0);
    if (child == 0) { //  LevelDB's lock, as another node's open takes it
        close (locked[0]);
        close (done[1]); //  the parent's exit ends the read below, even on a failure
        int fd = open (lock_path, O_RDWR);
        struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        char byte = fd >= 0 && fcntl (fd, F_SETLK, &lock) == 0 ? 'y' : 'n';
        if (write (locked[1], &byte, 1) != 1 || read (done[0], &byte, 1) < 0)
            _exit (2);
        _exit (0);
    }
    close (locked[1]);
    close (done[0]);
    char byte = 0;
    assert_int_equal (read (locked[0], &byte, 1), 1); //  blocks until it holds it
    assert_int_equal (byte, 'y');
    storemade_undo (&made);
    assert_null (made);
    size_t kept = 0;
    for (size_t i = 0; i < STORE_FILES; i++)
        kept += s_exists (dir, s_store_files[i]);
    assert_int_equal (write (done[1], "x", 1), 1);
    int status = 0;
    assert_int_equal (waitpid (child, &status, 0), child);
    assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    if (kept != STORE_FILES)
        fail_msg ("%zu of the %zu files removed under another's lock", STORE_FILES - kept,
                  STORE_FILES);
    close (locked[0]);
    close (done[1]);
    harness_rm_rf (tmp);
}

//  A relative path and a chdir between the note and the undo (a module's
//  init may call it): the undo takes back the store made, not the files
//  of the same name where the path now leads.
static void test_chdir_changes_nothing (void **state)
{
    (void) state;
    char tmp[] = "/tmp/shoal-test-storemade-XXXXXX", cwd[512], other[512], decoy[512];
    assert_non_null (getcwd (cwd, sizeof cwd));
    assert_non_null (mkdtemp (tmp));
    assert_int_equal (chdir (tmp), 0);
    storemade_t *made = storemade_note ("rel");
    assert_non_null (made);
    s_make_store ("rel");
    storemade_made (&made, "rel");
    assert_non_null (made);
    snprintf (other, sizeof other, "%s/other", tmp);
    snprintf (decoy, sizeof decoy, "%s/other/rel", tmp);
    s_make_store (decoy); //  the same names, not made by this start
    assert_int_equal (chdir (other), 0);
    storemade_undo (&made);
    assert_int_equal (chdir (cwd), 0);
    char rel[512];
    snprintf (rel, sizeof rel, "%s/rel", tmp);
    assert_false (s_exists (rel, NULL));
    for (size_t i = 0; i < STORE_FILES; i++)
        if (!s_exists (decoy, s_store_files[i]))
            fail_msg ("%s/%s was removed", decoy, s_store_files[i]);
    harness_rm_rf (tmp);
}

//  The data directory renamed after the store was made, and another put
//  at its path: the store made is taken back where it went, the directory
//  at the path is not removed, nor what it holds.
static void test_rename_changes_nothing (void **state)
{
    (void) state;
    char tmp[] = "/tmp/shoal-test-storemade-XXXXXX", dir[512], moved[512];
    assert_non_null (mkdtemp (tmp));
    snprintf (dir, sizeof dir, "%s/new", tmp);
    snprintf (moved, sizeof moved, "%s/moved", tmp);
    storemade_t *made = storemade_note (dir);
    assert_non_null (made);
    s_make_store (dir);
    storemade_made (&made, dir);
    assert_non_null (made);
    assert_int_equal (rename (dir, moved), 0);
    assert_int_equal (mkdir (dir, 0755), 0);
    storemade_undo (&made);
    assert_true (s_exists (dir, NULL)); //  not the one made: stays (empty though it is)
    assert_true (s_exists (moved, NULL));
    for (size_t i = 0; i < STORE_FILES; i++)
        assert_false (s_exists (moved, s_store_files[i]));

    //  The path swapped for a symlink to a user's directory before
    //  storemade_made: no note, nothing will be removed.
    char user[512];
    snprintf (dir, sizeof dir, "%s/link", tmp);
    snprintf (user, sizeof user, "%s/user", tmp);
    made = storemade_note (dir);
    assert_non_null (made);
    s_make_store (user);
    assert_int_equal (symlink (user, dir), 0);
    storemade_made (&made, dir);
    assert_null (made);
    storemade_undo (&made);
    for (size_t i = 0; i < STORE_FILES; i++)
        assert_true (s_exists (user, s_store_files[i]));

    //  An empty directory swapped for another between the note and
    //  storemade_made: the store went elsewhere than the handle; no note.
    snprintf (dir, sizeof dir, "%s/empty", tmp);
    snprintf (moved, sizeof moved, "%s/empty.moved", tmp);
    assert_int_equal (mkdir (dir, 0755), 0);
    made = storemade_note (dir);
    assert_non_null (made);
    assert_int_equal (rename (dir, moved), 0);
    s_make_store (dir);
    storemade_made (&made, dir);
    assert_null (made);
    harness_rm_rf (tmp);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_undo_takes_back_what_was_made),
        cmocka_unit_test (test_not_noted),
        cmocka_unit_test (test_lock_held_skips_undo),
        cmocka_unit_test (test_chdir_changes_nothing),
        cmocka_unit_test (test_rename_changes_nothing),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
