/*  test_cli_config.c - configuration files and `shoal demo`: config errors, a
    module path relative to the config, demo's summary, demo's data in use.
    The fixture: cli_test_util.h.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"
#include "utf8.h"

#include <dirent.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_test_util.h"

//  --------------------------------------------------------------------------
//  7. A config file's misspelt key or bad value is named with the file, its
//     line and the key, in shoal's words.

static void test_config_errors (void **state)
{
    fixture_t *fx = *state;
    char path[160], out[OUTPUT_MAX], err[OUTPUT_MAX], expected[320];
    snprintf (path, sizeof path, "%s/node.cfg", fx->dir);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fprintf (file, "#   a node\nnode\n    durability = async\n    wrokers = 2\n");
    fclose (file);
    int code = cli_run (fx, out, err, "timeout 30 \"$SHOAL\" node --config '%s' --data '%s'", path,
                        fx->data);
    assert_int_equal (code, 2);
    assert_string_equal (out, "");
    snprintf (expected, sizeof expected, "shoal node: %s:4: unknown key node/wrokers\n", path);
    assert_string_equal (err, expected);

    file = fopen (path, "w");
    assert_non_null (file);
    fprintf (file, "node\n    workers = many\n");
    fclose (file);
    code = cli_run (fx, out, err, "timeout 30 \"$SHOAL\" node --config '%s' --data '%s'", path,
                    fx->data);
    assert_int_equal (code, 2);
    snprintf (expected, sizeof expected,
              "shoal node: %s:2: node/workers must be an integer from 1 to 256, not 'many'\n",
              path);
    assert_string_equal (err, expected);

    file = fopen (path, "w");
    assert_non_null (file);
    fprintf (file, "#  a comment\nnodes\n    workers = 1\n");
    fclose (file);
    code = cli_run (fx, out, err, "timeout 30 \"$SHOAL\" node --config '%s' --data '%s'", path,
                    fx->data);
    assert_int_equal (code, 2);
    //  With its line, as a key under node has (it had none).
    snprintf (expected, sizeof expected, "shoal node: %s:2: unknown key nodes\n", path);
    assert_string_equal (err, expected);

    //  Said twice, as the cluster file refuses it (before, taken without
    //  a word, the last one winning), and a node section with a value.
    //  Ignored before: keys under a value, a value for the modules; an
    //  indent zconfig refused in a line of its own (raw, unprefixed).
    static const struct {
        const char *text;
        const char *says; //  after "shoal node: PATH"
    } wrong[] = {
        {"node\n    workers = 1\n    workers = 2\n", ": node/workers given twice\n"},
        {"node\n    workers = 1\nnode\n    durability = async\n", ": section node given twice\n"},
        {"node = 1\n", ": node is a section, its keys indented under it; not 'node = VALUE'\n"},
        {"node\n    modules\n        c = a.so\n        c = b.so\n",
         ": node/modules/c given twice\n"},
        {"node\n    modules\n        c = a.so\n            k = 1\n            k = 2\n",
         ": node/modules/c/k given twice\n"},
        {"node\n    workers = 2\n        deeper = 1\n",
         ":2: node/workers takes a value, not keys indented under it (deeper)\n"},
        {"node\n    modules = 3\n",
         ":2: node/modules is a section, its modules indented under it; not 'modules = "
         "VALUE'\n"},
        {"node\n      workers = 2\n", ": line 2: indent by 4 spaces at a time\n"},
        //  For one start only (before, taken: every start took the store
        //  as it was, and a node restored from an older backup was never
        //  refused).
        {"node\n    restored = true\n",
         ":2: node/restored: restored is for the one start that needs it: give --restored on "
         "the command line, not in the config file\n"},
        {"node\n    new-store = 1\n",
         ":2: node/new-store: new-store is for the one start that needs it: give --new-store "
         "on the command line, not in the config file\n"},
    };
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        file = fopen (path, "w");
        assert_non_null (file);
        fputs (wrong[i].text, file);
        fclose (file);
        //  Before, a node ran: on an endpoint of the test's own.
        code = cli_run (fx, out, err,
                        "timeout 30 \"$SHOAL\" node --config '%s' --data '%s' --endpoint '%s' "
                        "--metrics off",
                        path, fx->data, fx->endpoint);
        snprintf (expected, sizeof expected, "shoal node: %s%s", path, wrong[i].says);
        if (code != 2 || strcmp (err, expected) != 0)
            fail_msg ("config '%s': exit %d, stderr: %s", wrong[i].text, code, err);
        assert_string_equal (out, "");
    }

    //  module and module-opt are lists, on the command line and here: given
    //  twice, both are taken (the node loads the module they are for and
    //  goes on to the data directory, a file here, which it refuses).
    file = fopen (path, "w");
    assert_non_null (file);
    fputs ("node\n    module-opt = counter.x=1\n    module-opt = counter.y=2\n", file);
    fclose (file);
    code = cli_run (fx, out, err,
                    "timeout 30 \"$SHOAL\" node --config '%s' --data '%s' --metrics off "
                    "--module '%s'",
                    path, path, getenv ("SHOAL_TEST_MODULE"));
    assert_int_equal (code, 1);
    if (strstr (err, "given twice") || !strstr (err, "Not a directory"))
        fail_msg ("two module-opt in a config: %s", err);

    //  A line past 1,024 bytes (a long data path) is read whole: the
    //  check of the file's shape refused it, though zconfig reads it.
    file = fopen (path, "w");
    assert_non_null (file);
    fputs ("node\n    data = /", file);
    for (int i = 0; i < 1000; i++)
        fputs ("d/", file);
    fputs ("\n    workers = many\n", file);
    fclose (file);
    code = cli_run (fx, out, err, "timeout 30 \"$SHOAL\" node --config '%s'", path);
    snprintf (expected, sizeof expected,
              "shoal node: %s:3: node/workers must be an integer from 1 to 256, not 'many'\n",
              path);
    if (code != 2 || strcmp (err, expected) != 0)
        fail_msg ("a config with a line of 2,000 bytes: exit %d, stderr: %s", code, err);

    //  A NUL byte: what followed it was not read (zconfig stops there).
    file = fopen (path, "w");
    assert_non_null (file);
    fwrite ("node\n    workers = 2\n\0garbage = 1\n", 1, 35, file);
    fclose (file);
    code = cli_run (fx, out, err, "timeout 30 \"$SHOAL\" node --config '%s' --data '%s'", path,
                    fx->data);
    assert_int_equal (code, 2);
    snprintf (expected, sizeof expected,
              "shoal node: %s: line 3: byte 0x00 is not printable ASCII\n", path);
    assert_string_equal (err, expected);

    //  A byte order mark, as some editors write: said, where zconfig
    //  printed "invalid syntax" of a first line that looks right.
    file = fopen (path, "w");
    assert_non_null (file);
    fputs ("\xef\xbb\xbfnode\n    workers = 2\n", file);
    fclose (file);
    code = cli_run (fx, out, err, "timeout 30 \"$SHOAL\" node --config '%s' --data '%s'", path,
                    fx->data);
    assert_int_equal (code, 2);
    assert_string_equal (out, "");
    snprintf (expected, sizeof expected,
              "shoal node: the config file %s starts with a UTF-8 byte order mark (EF BB BF): "
              "save it without one\n",
              path);
    assert_string_equal (err, expected);

    //  A FIFO (or a directory) is not read: refused at once, where the
    //  node waited for a writer in open() before.
    snprintf (path, sizeof path, "%s/fifo.cfg", fx->dir);
    assert_int_equal (mkfifo (path, 0600), 0);
    code = cli_run (fx, out, err, "timeout 30 \"$SHOAL\" node --config '%s' --data '%s'", path,
                    fx->data);
    assert_int_equal (code, 2);
    assert_string_equal (out, "");
    snprintf (expected, sizeof expected,
              "shoal node: cannot read the config file %s: not a regular file", path);
    assert_true (strncmp (err, expected, strlen (expected)) == 0);
    code = cli_run (fx, out, err, "timeout 30 \"$SHOAL\" node --config '%s' --data '%s'", fx->dir,
                    fx->data);
    assert_int_equal (code, 2);
    assert_non_null (strstr (err, "not a regular file"));
}

//  --------------------------------------------------------------------------
//  8. A module path in a config file is taken from the file's directory,
//     whatever the current directory, under modules or as the key module.

static void test_config_module_relative (void **state)
{
    fixture_t *fx = *state;
    const char *module = getenv ("SHOAL_TEST_MODULE");
    assert_non_null (module);
    char conf[160], link[200], path[200];
    snprintf (conf, sizeof conf, "%s/conf", fx->dir);
    assert_int_equal (mkdir (conf, 0755), 0);
    snprintf (link, sizeof link, "%s/mods", conf);
    assert_int_equal (mkdir (link, 0755), 0);
    snprintf (link, sizeof link, "%s/mods/counter.so", conf);
    assert_int_equal (symlink (module, link), 0);
    snprintf (path, sizeof path, "%s/node.cfg", conf);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fprintf (file, "node\n    workers = 1\n    modules\n        counter = mods/counter.so\n");
    fclose (file);

    char ready[OUTPUT_MAX], out[OUTPUT_MAX], err[OUTPUT_MAX];
    cli_node_start (fx, ready, "\"$SHOAL\" node --config '%s' --data '%s' --endpoint '%s'", path,
                    fx->data, fx->endpoint);
    int code =
        cli_run (fx, out, err, "\"$SHOAL\" send counter/c Add by=2 --endpoint '%s'", fx->endpoint);
    assert_int_equal (code, 0);
    assert_non_null (strstr (out, "\"reply\":{\"value\":2}"));

    //  --module with a file name alone takes the file here, as other
    //  commands do (dlopen looked it up on the linker's path: not found).
    assert_int_equal (cli_node_stop (fx, SIGTERM), 0);
    cli_node_start (fx, ready,
                    "sh -c \"cd '%s/mods' && exec '$SHOAL' node --module counter.so --data '%s' "
                    "--endpoint '%s'\"",
                    conf, fx->data, fx->endpoint);
    code =
        cli_run (fx, out, err, "\"$SHOAL\" send counter/c Add by=3 --endpoint '%s'", fx->endpoint);
    assert_int_equal (code, 0);
    assert_non_null (strstr (out, "\"reply\":{\"value\":5}"));

    //  The key module (a list, as --module) is taken from the file's
    //  directory too, from elsewhere (it was taken from the current one:
    //  not found, exit 1).
    assert_int_equal (cli_node_stop (fx, SIGTERM), 0);
    file = fopen (path, "w");
    assert_non_null (file);
    fprintf (file, "node\n    workers = 1\n    module = mods/counter.so\n");
    fclose (file);
    cli_node_start (fx, ready,
                    "sh -c \"cd / && exec '$SHOAL' node --config '%s' --data '%s' --endpoint "
                    "'%s'\"",
                    path, fx->data, fx->endpoint);
    code =
        cli_run (fx, out, err, "\"$SHOAL\" send counter/c Add by=1 --endpoint '%s'", fx->endpoint);
    assert_int_equal (code, 0);
    assert_non_null (strstr (out, "\"reply\":{\"value\":6}"));
}

//  --------------------------------------------------------------------------
//  9. The demo's output has no line of its node child's: stdout is the
//     summary alone, and stdout and stderr together have no "shoal node".

static void test_demo_summary (void **state)
{
    fixture_t *fx = *state;
    char out[OUTPUT_MAX], both[OUTPUT_MAX];
    int code = cli_run (fx, out, NULL,
                        "TMPDIR=\"$DIR\" timeout 300 \"$SHOAL\" demo --accounts 20 --transfers 40 "
                        "--concurrency 8 --kills 1 --workers 1 --seed 7");
    assert_int_equal (code, 0);
    //  Its first line first (an empty line came before it).
    const char *summary = "shoal demo: 40 transfers over 20 accounts, node killed 1 time\n";
    assert_true (strncmp (out, summary, strlen (summary)) == 0);
    for (const char *line = out + strlen (summary); *line; line = strchr (line, '\n') + 1)
        if (strncmp (line, "  ", 2) != 0)
            fail_msg ("a line in the summary that is not the summary's: %s", line);
    assert_non_null (strstr (out, "  books balance: yes\n"));

    code = cli_run (fx, both, NULL,
                    "TMPDIR=\"$DIR\" timeout 300 \"$SHOAL\" demo --accounts 20 --transfers 40 "
                    "--concurrency 8 --kills 1 --workers 1 --seed 7 2>&1");
    assert_int_equal (code, 0);
    assert_null (strstr (both, "shoal node"));
    //  The node's log is removed after a run that went well.
    assert_int_equal (cli_run (fx, NULL, NULL, "ls \"$DIR\" | grep -q '^shoal-demo-'"), 1);
}

//  --------------------------------------------------------------------------
//  9b. `shoal demo --data DIR` on a DIR that holds a store (an earlier
//      run's) is refused before anything runs: the end check would count
//      the earlier run's accounts and transfers too (before, it ran, mixed
//      them and printed "NOT the same as the journal").

static void test_demo_data_in_use (void **state)
{
    fixture_t *fx = *state;
    char out[OUTPUT_MAX], err[OUTPUT_MAX];
    const char *demo = "timeout 300 \"$SHOAL\" demo --accounts 20 --transfers 40 --concurrency 8 "
                       "--kills 0 --workers 1 --data \"$DIR/demo\"";
    int code = cli_run (fx, out, err, "TMPDIR=\"$DIR\" %s --seed 1", demo);
    if (code != 0)
        fail_msg ("demo into a new --data: exit %d: %s", code, err);
    code = cli_run (fx, out, err, "TMPDIR=\"$DIR\" %s --seed 2", demo);
    assert_int_equal (code, 2);
    assert_string_equal (out, "");
    assert_non_null (strstr (err, "/demo is not empty"));
    cli_all_lines_start (err, "shoal demo: ", "demo --data DIR in use");
    //  An empty directory is as good as a new one.
    code = cli_run (fx, out, err, "mkdir \"$DIR/empty\"");
    assert_int_equal (code, 0);
    code = cli_run (fx, out, err,
                    "TMPDIR=\"$DIR\" timeout 300 \"$SHOAL\" demo --accounts 20 --transfers 40 "
                    "--concurrency 8 --kills 0 --workers 1 --data \"$DIR/empty\" --seed 3");
    if (code != 0)
        fail_msg ("demo into an empty --data: exit %d: %s", code, err);
    assert_non_null (strstr (out, "  books balance: yes\n"));
}

int main (void)
{
    if (!getenv ("SHOAL_BIN") || !getenv ("SHOAL_TEST_MODULE")) {
        fprintf (stderr,
                 "test_cli_config: run through ctest (SHOAL_BIN and SHOAL_TEST_MODULE unset)\n");
        return 1;
    }
    signal (SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_config_errors, cli_setup, cli_teardown),
        cmocka_unit_test_setup_teardown (test_config_module_relative, cli_setup, cli_teardown),
        cmocka_unit_test_setup_teardown (test_demo_summary, cli_setup, cli_teardown),
        cmocka_unit_test_setup_teardown (test_demo_data_in_use, cli_setup, cli_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
