/*  test_dirsync.c - common/dirsync.h: directories made with their
    parents, and what a failure names. That each parent is fsynced is not
    seen here but by test_powerloss_repair, whose preload interposes mkdir
    (test_cluster_init_is_durable; docs/DESIGN-NOTES.md, "Power loss").
*/
#include "dirsync.h"
#include "harness.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static void test_create (void **state)
{
    char dir[] = "/tmp/shoal-test-dirsync-XXXXXX", path[256], failed[PATH_MAX];
    assert_non_null (mkdtemp (dir));
    snprintf (path, sizeof path, "%s/a/b/c/", dir);
    assert_int_equal (dirsync_create (path, failed), 0);
    struct stat st;
    snprintf (path, sizeof path, "%s/a/b/c", dir);
    assert_int_equal (stat (path, &st), 0);
    assert_true (S_ISDIR (st.st_mode));
    //  Each directory made is its user's alone (before: 0755)
    assert_int_equal (st.st_mode & 077, 0);
    snprintf (path, sizeof path, "%s/a", dir);
    assert_int_equal (stat (path, &st), 0);
    assert_int_equal (st.st_mode & 077, 0);
    snprintf (path, sizeof path, "%s/a/b/c", dir);
    //  There already: nothing to do
    assert_int_equal (dirsync_create (path, failed), 0);
    assert_int_equal (dirsync_sync (path, NULL), 0);

    //  A file where a directory should be: ENOTDIR, naming where
    snprintf (path, sizeof path, "%s/a/file", dir);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fclose (file);
    assert_int_equal (dirsync_create (path, failed), ENOTDIR);
    snprintf (path, sizeof path, "%s/a/file/d", dir);
    failed[0] = '\0';
    assert_int_equal (dirsync_create (path, failed), ENOTDIR);
    snprintf (path, sizeof path, "%s/a/file", dir);
    assert_string_equal (failed, path);
    assert_int_equal (dirsync_sync (path, NULL), ENOTDIR);
    assert_int_equal (dirsync_sync ("/nonexistent-shoal-dir", NULL), ENOENT);
    harness_rm_rf (dir);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_create),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
