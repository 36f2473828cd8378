/*  shoal.c - the `shoal` command line: dispatches to one command.

    Exit codes shared by the client commands: 0 accepted, 1 rejected,
    2 bad usage or invalid input (nothing sent), 3 no answer in time.
*/
#include "commands.h"
#include "client_window.h"
#include "log.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const command_t s_commands[] = {
    {"node", cmd_node, "run a node in the foreground"},
    {"send", cmd_send, "send a command to an actor, print the reply as JSON"},
    {"get", cmd_get, "print an actor's state as JSON"},
    {"events", cmd_events, "print an actor's events, one JSON object per line"},
    {"transfer", cmd_transfer, "start a transfer between two accounts"},
    {"stats", cmd_stats, "print a node's counters as JSON"},
    {"demo", cmd_demo, "run the bank demo: transfers, crashes, and the books checked"},
    {"bench", cmd_bench, "measure transfers per second on a node"},
    {"cluster", cmd_cluster, "plan one (init), run one here (up), see it (status), rekey a node"},
    {"where", cmd_where, "print the shard and node of an address in a cluster"},
    {"check", cmd_check, "check the bank's books from stopped nodes' journals"},
    {"repair", cmd_repair, "salvage a damaged store with LevelDB's repair, then check it"},
    {"pending", cmd_pending, "list the commands sent and not yet answered, stalled ones"},
    {"explain", cmd_explain, "say what an actor waits for, since when, and why"},
    {"resend", cmd_resend, "re-send an actor's pending commands now"},
    {"resolve", cmd_resolve, "end a saga's stuck command safely (journaled)"},
    {"top", cmd_top, "a live dashboard of a cluster's nodes, stalled work, busiest actors"},
    {"dead-letters", cmd_deadletters, "list, retry or drop the messages that crashed a node"},
    {"projections", cmd_projections,
     "list projections (status, lag, ETA); switch, rebuild, pause, skip"},
    {"query", cmd_query, "print rows of a projection as JSON, by key or prefix"},
};

static void s_usage (FILE *out)
{
    fprintf (out,
             "shoal %s - durable actors and process managers\n\n"
             "Usage: shoal COMMAND [OPTIONS] [ARGS]\n\nCommands:\n",
             SHOAL_VERSION_STRING);
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
        fprintf (out, "  %-12s %s\n", s_commands[i].name, s_commands[i].summary);
    fprintf (out,
             "\nRun 'shoal help COMMAND' (or 'shoal COMMAND --help') for a command's options\n"
             "and examples; 'shoal version' (or -V, --version) prints the version.\n"
             "Options may come before or after the arguments; -- ends them.\n"
             "\nExamples:\n"
             "  shoal node --data ./bank &\n"
             "  shoal send account/alice Open owner=Alice\n"
             "  shoal send account/alice Deposit amount=100\n"
             "  shoal transfer --wait account/alice account/bob 40\n"
             "  shoal get account/alice\n"
             "\nThe client commands talk to --endpoint E, else --cluster FILE, else\n"
             "$SHOAL_ENDPOINT, else $SHOAL_CLUSTER, else %s.\n",
             CLIENT_DEFAULT_ENDPOINT);
}

//  The command called name, or NULL.
static const command_t *s_command (const char *name)
{
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
        if (strcmp (name, s_commands[i].name) == 0)
            return &s_commands[i];
    return NULL;
}

static bool s_is (const char *arg, const char *a, const char *b, const char *c)
{
    return strcmp (arg, a) == 0 || strcmp (arg, b) == 0 || strcmp (arg, c) == 0;
}

static void s_version_help (void)
{
    printf ("Usage: shoal version (or shoal -V, shoal --version)\n\n"
            "Prints shoal's version.\n\nExamples:\n  shoal version\n");
}

static int s_main (int argc, char **argv)
{
    if (argc < 2) {
        s_usage (stderr);
        return 2;
    }
    if (s_is (argv[1], "--version", "-V", "version")) {
        if (argc == 3 && s_is (argv[2], "--help", "-h", "help")) { //  as every command
            s_version_help ();
            return 0;
        }
        if (argc > 2) {
            fprintf (stderr, "shoal version: takes no arguments (see shoal help version)\n");
            return 2;
        }
        printf ("shoal %s\n", SHOAL_VERSION_STRING);
        return 0;
    }
    if (s_is (argv[1], "help", "--help", "-h")) {
        if (argc == 2) {
            s_usage (stdout);
            return 0;
        }
        //  shoal help help (or --help): this list; shoal help version: its
        //  one line. Neither is in s_commands.
        if (s_is (argv[2], "help", "--help", "-h")) {
            s_usage (stdout);
            return 0;
        }
        if (s_is (argv[2], "version", "--version", "-V")) {
            s_version_help ();
            return 0;
        }
        //  shoal help CMD: CMD's own --help.
        const command_t *command = s_command (argv[2]);
        if (!command) {
            fprintf (stderr, "shoal help: unknown command '%s' (commands:", argv[2]);
            for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
                fprintf (stderr, " %s", s_commands[i].name);
            fprintf (stderr, ")\n");
            return 2;
        }
        //  Words after CMD go with it: `shoal help cluster init` is
        //  `shoal cluster init --help`.
        char *help[argc];
        for (int i = 2; i < argc; i++)
            help[i - 2] = argv[i];
        help[argc - 2] = "--help";
        help[argc - 1] = NULL;
        return command->run (argc - 1, help);
    }
    const command_t *command = s_command (argv[1]);
    if (!command) {
        fprintf (stderr, "shoal: unknown command '%s'\n\n", argv[1]);
        s_usage (stderr);
        return 2;
    }
    cmd_set_name (command->name);
    return command->run (argc - 1, argv + 1);
}

static bool output_said; //  cmd_output_said

void cmd_output_said (void)
{
    output_said = true;
}

void cmd_set_name (const char *name)
{
    static char prefix[48];
    snprintf (prefix, sizeof prefix, "shoal %s", name);
    driver_command = prefix;
    //  A node's lines are its log's; a tool's read as its messages do.
    if (strcmp (name, "node") != 0)
        log_set_command (prefix);
}

bool cmd_output_lost (int *cause)
{
    int flushed = fflush (stdout);
    *cause = flushed != 0 ? errno : 0;
    if (flushed == 0 && !ferror (stdout))
        return false;
    //  An earlier write's error left no errno of its own: its reader gone
    //  shows as POLLERR on a pipe's end.
    struct pollfd out = {STDOUT_FILENO, 0, 0};
    bool gone = flushed != 0 ? *cause == EPIPE
                             : poll (&out, 1, 0) == 1 && (out.revents & (POLLERR | POLLHUP));
    return !gone;
}

//  Output a command could not write (a full disk: `shoal top --once --json
//  >/dev/full` exited 0) is a failure, said on stderr; a reader gone (`|
//  head -1`) is not.
int main (int argc, char **argv)
{
    int rc = s_main (argc, argv);
    int cause;
    if (!cmd_output_lost (&cause) || output_said)
        return rc;
    fprintf (stderr, "%s: cannot write its output%s%s\n", driver_command ? driver_command : "shoal",
             cause ? ": " : "", cause ? strerror (cause) : "");
    return rc ? rc : 1;
}
