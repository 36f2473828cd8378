/*  cmd_failure.c - the one rule of every command with --json: a failure
    that ends the command (no answer, a key refused, the node's refusal,
    an answer that does not read) still prints one JSON object on stdout,
    with at least "ok":false, "code" and "reason", besides its message on
    stderr and its exit code. A command keeps why it fails in a
    cmd_failure_t as it goes (the worst of several nodes' failures), and
    prints it as an object of its own, or as members of the object it
    prints anyway (a list with nodes_down). See commands.h.

    Threads: the command's one thread.
*/
#include "commands.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

//  Keeps code and the reason in failure, unless it holds one as bad.
static void s_keep (cmd_failure_t *failure, int exit_code, const char *code, const char *reason)
{
    if (!failure || (failure->exit_code &&
                     !(exit_code == EXIT_NO_ANSWER && failure->exit_code != EXIT_NO_ANSWER)))
        return;
    failure->exit_code = exit_code;
    snprintf (failure->code, sizeof failure->code, "%s", code);
    snprintf (failure->reason, sizeof failure->reason, "%s", reason);
}

int cmd_fail (cmd_failure_t *failure, const char *command, int exit_code, const char *code,
              const char *format, ...)
{
    char reason[CMD_REASON_MAX];
    va_list args;
    va_start (args, format);
    vsnprintf (reason, sizeof reason, format, args);
    va_end (args);
    if (command)
        fprintf (stderr, "shoal %s: %s\n", command, reason);
    s_keep (failure, exit_code, code, reason);
    return exit_code;
}

void cmd_failure_keep (cmd_failure_t *failure, const cmd_failure_t *other)
{
    if (other->exit_code)
        s_keep (failure, other->exit_code, other->code, other->reason);
}

void cmd_failure_members (const cmd_failure_t *failure, bool comma)
{
    if (!failure->exit_code)
        return;
    printf ("%s\"ok\":false,\"code\":", comma ? "," : "");
    json_string (stdout, failure->code, strlen (failure->code));
    printf (",\"reason\":");
    json_string (stdout, failure->reason, strlen (failure->reason));
}

void cmd_failure_print (const cmd_failure_t *failure)
{
    printf ("{");
    cmd_failure_members (failure, false);
    printf ("}\n");
}

const char *cmd_within (const client_t *client, long timeout_ms, char *text, size_t size)
{
    long waited = client ? client_gave_up_ms (client) : -1;
    if (waited >= 0 && waited < timeout_ms)
        snprintf (text, size, "(gave up after %ld ms of %ld)", waited, timeout_ms);
    else
        snprintf (text, size, "within %ld ms", timeout_ms);
    return text;
}

const char *cmd_silence_why (client_t *client, bool cluster_ignored, char *why, size_t size)
{
    const char *seen = client ? client_no_answer_why (client) : NULL;
    bool curve = seen && strstr (seen, "CURVE");
    snprintf (why, size, "%s%s%s", seen ? seen : "", curve ? ": " : "",
              !curve            ? ""
              : cluster_ignored ? "--endpoint was used, not --cluster (--endpoint wins): leave "
                                  "--endpoint out, and add --node NAME for that node"
                                : "use --cluster FILE");
    return why;
}
