/*  cli_test_util.c - what test_cli_*.c share (cli_test_util.h says what each is).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"
#include "proc.h"
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

#include <json-c/json.h>

#include "cli_test_util.h"

int cli_setup (void **state)
{
    fixture_t *fx = calloc (1, sizeof (fixture_t));
    assert_non_null (fx);
    harness_tempdir (fx->dir, sizeof fx->dir, "test-cli");
    snprintf (fx->data, sizeof fx->data, "%s/data", fx->dir);
    snprintf (fx->endpoint, sizeof fx->endpoint, "ipc://%s/node.ipc", fx->dir);
    *state = fx;
    return 0;
}

int cli_node_stop (fixture_t *fx, int sig)
{
    int status = 0;
    if (fx->node > 0) {
        kill (fx->node, sig);
        waitpid (fx->node, &status, 0);
        fx->node = 0;
    }
    return status;
}

int cli_teardown (void **state)
{
    fixture_t *fx = *state;
    cli_node_stop (fx, SIGKILL);
    harness_rm_rf (fx->dir);
    free (fx);
    return 0;
}

int cli_run (fixture_t *fx, char *out, char *err, const char *format, ...)
{
    char command[2048], text[1536];
    va_list args;
    va_start (args, format);
    proc_vformat (text, sizeof text, format, args);
    va_end (args);
    snprintf (command, sizeof command, "SHOAL='%s' DIR='%s'; (%s) >'%s/run.out' 2>'%s/run.err'",
              proc_bin (), fx->dir, text, fx->dir, fx->dir);
    return proc_system (command, fx->dir, out, err);
}

void cli_node_start (fixture_t *fx, char *ready, const char *format, ...)
{
    char text[1536], command[2048];
    va_list args;
    va_start (args, format);
    proc_vformat (text, sizeof text, format, args);
    va_end (args);
    snprintf (command, sizeof command,
              "SHOAL='%s' DIR='%s'; exec %s >'%s/node.out' 2>>'%s/node.log'", proc_bin (), fx->dir,
              text, fx->dir, fx->dir);
    char out_path[160], log_path[160];
    snprintf (out_path, sizeof out_path, "%s/node.out", fx->dir);
    snprintf (log_path, sizeof log_path, "%s/node.log", fx->dir);
    int status;
    if (!proc_shell_start (&fx->node, command, out_path, log_path, "the node", START_TIMEOUT_MS,
                           ready, &status)) {
        char log[OUTPUT_MAX];
        proc_read_file (log_path, log);
        fail_msg ("the node exited: %s", log);
    }
}

void cli_all_lines_start (const char *text, const char *prefix, const char *what)
{
    assert_true (strlen (text) > 0);
    for (const char *line = text; *line; line = strchr (line, '\n') + 1) {
        if (strncmp (line, prefix, strlen (prefix)) != 0)
            fail_msg ("%s: a line without '%s': %s", what, prefix, line);
        if (!strchr (line, '\n'))
            break;
    }
}

bool cli_json_failed (const char *out, const char *code)
{
    //  The parse takes the whitespace after the object: one newline, last.
    json_tokener *tokener = json_tokener_new ();
    json_object *object = tokener ? json_tokener_parse_ex (tokener, out, (int) strlen (out)) : NULL;
    size_t used = tokener ? json_tokener_get_parse_end (tokener) : 0;
    json_object *ok = NULL, *said = NULL, *reason = NULL;
    bool failed = object && json_object_is_type (object, json_type_object) &&
                  used == strlen (out) && used > 0 && strchr (out, '\n') == out + used - 1 &&
                  json_object_object_get_ex (object, "ok", &ok) &&
                  json_object_is_type (ok, json_type_boolean) && !json_object_get_boolean (ok) &&
                  json_object_object_get_ex (object, "code", &said) &&
                  json_object_is_type (said, json_type_string) &&
                  strcmp (json_object_get_string (said), code) == 0 &&
                  json_object_object_get_ex (object, "reason", &reason) &&
                  json_object_is_type (reason, json_type_string) &&
                  json_object_get_string_len (reason) > 0;
    json_object_put (object);
    if (tokener)
        json_tokener_free (tokener);
    return failed;
}
