/*  test_ceiling.c - `shoal bench --ceiling` as a script reads it: a short
    run whose --json line is one well-formed object (python3's json) with
    a row per batch size asked for and every figure positive and
    consistent; the text lines beside it; its stores made in $TMPDIR and
    removed; and its refusals (bad --batch, options of other modes, a
    $TMPDIR it cannot write). Only that the figures are there and sane:
    how high they are belongs to `shoal bench`, not to a test.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "proc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  The command, with $DIR/tmp as its $TMPDIR.
#define CEILING "mkdir -p $DIR/tmp && TMPDIR=$DIR/tmp $SHOAL bench --ceiling"

static int s_setup (void **state)
{
    *state = proc_new ("test-ceiling");
    return 0;
}

static int s_teardown (void **state)
{
    proc_t *p = *state;
    proc_destroy (&p);
    return 0;
}

//  A short run with two batch sizes: the JSON line and the text lines.
static void test_json (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    int rc = proc_run (p, out, err, CEILING " --batch 1 --batch 50 --ceiling-ms 200 --json");
    if (rc != 0)
        fail_msg ("bench --ceiling exited %d: %s", rc, err);
    proc_assert_has (out, "shoal bench --ceiling: LevelDB ");
    proc_assert_has (out, "\n  batch 1 ");
    proc_assert_has (out, "\n  batch 50 ");
    proc_assert_has (out, " commits/s, ");
    proc_assert_has (out, "; unsynced, fsyncs beside: ");

    char path[256];
    snprintf (path, sizeof path, "%s/ceiling.json", p->dir);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fprintf (file, "%s\n", proc_last_line (out));
    fclose (file);
    //  json.loads refuses anything but one well-formed value; then every
    //  figure: positive where it must be, and the rows' sums consistent.
    rc = proc_sh (
        out, sizeof out,
        "python3 -c 'import json, sys\n"
        "d = json.loads (open (sys.argv[1]).read ())\n"
        "assert d[\"mode\"] == \"ceiling\" and d[\"ms_per_batch\"] == 200, d\n"
        "assert d[\"record_bytes\"] > 0 and d[\"leveldb\"] and d[\"dir\"], d\n"
        "b = d[\"batches\"]\n"
        "assert [r[\"records_per_commit\"] for r in b] == [1, 50], b\n"
        "for r in b:\n"
        "    for k in (\"commits\", \"records\", \"bytes\", \"seconds\", \"write_seconds\",\n"
        "              \"commits_per_second\", \"records_per_second\",\n"
        "              \"wall_records_per_second\"):\n"
        "        assert r[k] > 0, (k, r)\n"
        "    assert r[\"records\"] == r[\"commits\"] * r[\"records_per_commit\"], r\n"
        "    assert r[\"seconds\"] >= 0.2 and r[\"mb_per_second\"] >= 0, r\n"
        "    w = r[\"write_ms\"]\n"
        "    assert 0 < w[\"p50\"] <= w[\"p99\"] <= w[\"max\"], r\n"
        "    assert r[\"write_seconds\"] <= r[\"seconds\"], r\n"
        "    assert abs (r[\"records_per_second\"] * r[\"write_seconds\"] - r[\"records\"]) "
        "<= 0.01 * r[\"records\"] + 1, r\n"
        "    assert r[\"wall_records_per_second\"] <= r[\"records_per_second\"], r\n"
        "    g = r[\"group\"]\n"
        "    assert g[\"commits\"] > 0 and g[\"syncs\"] > 0 and g[\"seconds\"] >= 0.2, g\n"
        "    assert g[\"records\"] == g[\"commits\"] * r[\"records_per_commit\"], g\n"
        "    assert abs (g[\"records_per_second\"] * g[\"seconds\"] - g[\"records\"]) "
        "<= 0.01 * g[\"records\"] + 1, g\n"
        "    assert g[\"syncs_per_second\"] > 0, g\n"
        "print (\"ok\")' %s 2>&1",
        path);
    if (rc != 0)
        fail_msg ("the JSON line is not as expected: %s", out);

    //  Its stores are gone: nothing left in its $TMPDIR.
    assert_int_equal (proc_run (p, out, NULL, "ls -A $DIR/tmp"), 0);
    assert_string_equal (out, "");
}

//  What it refuses, each with its own message and exit code 2; and a
//  $TMPDIR it cannot use, with exit code 1.
static void test_refused (void **state)
{
    proc_t *p = *state;
    static const struct {
        const char *args;
        const char *said;
    } cases[] = {
        {"--batch 0", "shoal bench: --batch must be an integer from 1 to 100000"},
        {"--batch many", "shoal bench: --batch must be an integer"},
        {"--batch 1 --batch 2 --batch 3 --batch 4 --batch 5 --batch 6 --batch 7 --batch 8 "
         "--batch 9",
         "shoal bench: --batch is given more than 8 times"},
        {"--ceiling-ms 5", "shoal bench: --ceiling-ms must be an integer from 10"},
        {"--endpoint tcp://127.0.0.1:1", "shoal bench: --ceiling runs alone, with no node"},
        {"--memory", "shoal bench: --ceiling runs alone, with no node"},
    };
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = proc_run (p, out, err, CEILING " %s", cases[i].args);
        if (rc != 2 || !strstr (err, cases[i].said))
            fail_msg ("'%s': exit %d, stderr: %s", cases[i].args, rc, err);
    }
    //  --batch and --ceiling-ms alone are the ceiling's, not the transfers'.
    assert_int_equal (proc_run (p, out, err, "$SHOAL bench --batch 10"), 2);
    proc_assert_has (err, "shoal bench: --batch and --ceiling-ms go with --ceiling");

    int rc = proc_run (p, out, err, "TMPDIR=$DIR/missing $SHOAL bench --ceiling --ceiling-ms 10");
    if (rc != 1)
        fail_msg ("a missing $TMPDIR: exit %d, stderr: %s", rc, err);
    proc_assert_has (err, "shoal bench: --ceiling: cannot make a temporary directory");
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_json, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_refused, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
