/*  test_data_dir_files.c - the files beside a node's store replaced by
    what is not a regular file (a careless restore, a hostile hand): a
    FIFO for SYNCED and LOGCHECK, a directory for SYNCED. A start opened
    the FIFO for reading and waited for a writer for ever, saying nothing;
    it now takes each as none, says so, and serves, its books whole.
    And the stop's line names the signal and its sender. Real processes
    (tests/proc.h).
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>

#include <cmocka.h>

#include "proc.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NODE                                                                                       \
    "$SHOAL node --endpoint $E --data $DIR/data --workers 2 --metrics off --module "               \
    "\"$SHOAL_TEST_MODULE\""

static int s_setup (void **state)
{
    *state = proc_new ("test-data-dir-files");
    return 0;
}

static int s_teardown (void **state)
{
    proc_t *p = *state;
    proc_destroy (&p);
    return 0;
}

static void test_fifo_and_directory (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX], log[PROC_OUTPUT_MAX];
    proc_node_start (p, NODE);
    assert_int_equal (proc_run (p, out, err, "$SHOAL send --endpoint $E counter/c Add by=5"), 0);
    proc_node_signal (p, SIGTERM);
    //  A FIFO for the sync mark and for the check's reach.
    assert_int_equal (
        proc_run (p, out, err, "cd $DIR/data && rm -f SYNCED LOGCHECK && mkfifo SYNCED LOGCHECK"),
        0);
    proc_node_start (p, NODE); //  fails the test if no ready line comes within its deadline
    proc_read (p, "node.log", log);
    proc_assert_has (log, "SYNCED is not a regular file: taken as none");
    assert_int_equal (proc_run (p, out, err, "$SHOAL get --endpoint $E counter/c"), 0);
    proc_assert_has (out, "\"value\":5");
    assert_int_equal (proc_run (p, out, err, "$SHOAL send --endpoint $E counter/c Add by=1"), 0);
    proc_node_signal (p, SIGTERM);
    //  A directory for it: the same, not a mark of 2^63 - 1 bytes said.
    assert_int_equal (proc_run (p, out, err, "cd $DIR/data && rm -f SYNCED && mkdir SYNCED"), 0);
    proc_node_start (p, NODE);
    assert_int_equal (proc_run (p, out, err, "$SHOAL get --endpoint $E counter/c"), 0);
    proc_assert_has (out, "\"value\":6");
    proc_read (p, "node.log", log);
    assert_null (strstr (log, "9223372036854775807"));
    proc_node_signal (p, SIGTERM);
    //  The stop's line says by what, and from whom: this test's process
    //  (a node stopped by a stray `pkill` said only "stopped").
    char said[96];
    snprintf (said, sizeof said, "shoal node: stopped by SIGTERM from pid %d (test_data_dir_f)",
              (int) getpid ());
    proc_read (p, "node.log", log);
    proc_assert_has (log, said);
}

int main (void)
{
    if (!getenv ("SHOAL_BIN") || !getenv ("SHOAL_TEST_MODULE")) {
        fprintf (stderr, "test_data_dir_files: run through ctest\n");
        return 1;
    }
    signal (SIGPIPE, SIG_IGN);
    if (getenv ("SHOAL_TEST_FILTER"))
        cmocka_set_test_filter (getenv ("SHOAL_TEST_FILTER"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_fifo_and_directory, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
