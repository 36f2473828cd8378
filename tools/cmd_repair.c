/*  cmd_repair.c - `shoal repair --data DIR [--yes]`: LevelDB's repair of a
    damaged store, after a warning, then the record check of `shoal check`
    (cmd_check_records) so that the user sees what is left.

    Repair keeps what it can read and drops the rest: a damaged log loses
    its records from the damage on, a damaged table the blocks it cannot
    read. What was dropped is lost for good, acknowledged or not; so
    repair never runs unasked: without --yes it asks on a terminal, and
    refuses when stdin is not one. Nor does it run on a directory that
    holds no store, or another program's LevelDB store (journal_repair
    tells, as `shoal check` does), or another user's store (its LOCK's
    owner, else its directory's): it says so before any warning or
    question, and changes nothing.

    Exit codes: 0 repaired and every record left decodes, 1 repaired with
    records that do not decode, 2 bad usage, refused, or repair failed.
*/
#include "commands.h"
#include "options.h"
#include "journal.h"

#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void s_help (FILE *out)
{
    fprintf (out, "Usage: shoal repair --data DIR [--yes]\n\n"
                  "Salvages a store that a node refuses to open (a damaged log or table, a\n"
                  "lost CURRENT file) with LevelDB's repair: it rebuilds the store from the\n"
                  "files it can read and DROPS what it cannot, for good. Stop the node and\n"
                  "copy DIR first. Then prints what LevelDB dropped and the counts of every\n"
                  "kind of record left, as `shoal check` does.\n"
                  "It first makes sure DIR holds a shoal store, as `shoal check` does (it\n"
                  "opens a private copy; a copy too damaged to open is repaired to read its\n"
                  "keys), and refuses, changing nothing, a directory that does not exist,\n"
                  "holds no LevelDB store, or holds another program's, and a store of another\n"
                  "user than the one running it (run it as the node's user: as root, its\n"
                  "rewritten tables would be root's alone, and the node could not read them).\n\n"
                  "Options:\n"
                  "  --data DIR   the stopped node's data directory\n"
                  "  --yes        do not ask (required when stdin is not a terminal)\n\n"
                  "Exit: 0 repaired and every record left decodes, 1 repaired with records\n"
                  "that do not decode, 2 bad usage, refused (a node runs on DIR, DIR does not\n"
                  "exist or holds no store or not shoal's or another user's, no --yes without\n"
                  "a terminal, not confirmed) or the repair failed.\n\n"
                  "Examples:\n"
                  "  shoal repair --data ./bank\n"
                  "  cp -a /var/lib/shoal/n1 /root/n1.copy && shoal repair --data "
                  "/var/lib/shoal/n1 --yes\n"
                  "  shoal check --data /var/lib/shoal/n1\n");
}

//  journal_repair's question, once it knows dir holds shoal's store: the
//  warning, then, unless *yes, the terminal's answer. True to repair.
static bool s_confirm (const char *dir, void *yes)
{
    fprintf (stderr,
             "shoal repair: WARNING: repair rebuilds the store in %s from the files it can\n"
             "read and drops for good whatever it cannot, acknowledged or not. Stop the node\n"
             "and keep a copy of the directory first.\n",
             dir);
    if (*(bool *) yes)
        return true;
    //  Asked here, after the store's own refusals (no directory, no store,
    //  a node running on it), which say more than this one.
    if (!isatty (STDIN_FILENO)) {
        fprintf (stderr, "shoal repair: refused: stdin is not a terminal and --yes was "
                         "not given\n");
        return false;
    }
    fprintf (stderr, "Repair %s? Type yes to go on: ", dir);
    char answer[16];
    if (!fgets (answer, sizeof answer, stdin))
        return false;
    return strcmp (answer, "yes\n") == 0;
}

int cmd_repair (int argc, char **argv)
{
    const char *dir = NULL;
    bool yes = false;
    const option_t table[] = {OPT_STRING_ONCE ("data", &dir), OPT_FLAG ("yes", &yes), OPT_END};
    int first = options_parse (table, argc, argv, s_help);
    if (first == OPTIONS_HELP)
        return 0;
    if (first == OPTIONS_ERROR)
        return EXIT_USAGE;
    if (first < argc || !dir) {
        if (dir)
            fprintf (stderr, "shoal repair: unexpected argument '%s'\n\n", argv[first]);
        else
            fprintf (stderr, "shoal repair: --data DIR is required\n\n");
        s_help (stderr);
        return EXIT_USAGE;
    }
    //  The repair rewrites every table and the MANIFEST: as private as the
    //  node makes them (cmd_node.c), whatever the shell's umask; and so
    //  its user's, not another's (root's 0600 tables the node could not read).
    uid_t uid;
    if (journal_store_owner (dir, &uid) == 0 && uid != geteuid ()) {
        struct passwd *owner = getpwuid (uid);
        fprintf (stderr,
                 "shoal repair: %s belongs to user %s (uid %u), not to this one (uid %u): the "
                 "tables a repair writes would be this user's alone, and the node could not "
                 "read them. Run it as that user (sudo -u %s shoal repair --data %s); nothing "
                 "was changed\n",
                 dir, owner ? owner->pw_name : "?", (unsigned) uid, (unsigned) geteuid (),
                 owner ? owner->pw_name : "THAT_USER", dir);
        return EXIT_USAGE;
    }
    umask (077);
    char *report = NULL, *error = NULL;
    if (journal_repair (dir, s_confirm, &yes, &report, &error) != 0) {
        fprintf (stderr, "shoal repair: %s\n", error ? error : "repair failed");
        free (error);
        return EXIT_USAGE;
    }
    printf ("shoal repair: repaired %s\n", dir);
    const char *leveldb = report ? report : "";
    while (strncmp (leveldb, "shoal: ", 7) == 0) { //  what the repair itself put back
        const char *end = strchr (leveldb, '\n');
        size_t len = end ? (size_t) (end - leveldb) + 1 : strlen (leveldb);
        printf ("%.*s", (int) (len - 7), leveldb + 7);
        leveldb += len;
    }
    if (*leveldb)
        printf ("what LevelDB's repair dropped, ignored or set aside (its LOG):\n%s", leveldb);
    else
        printf ("LevelDB's repair reported nothing dropped\n");
    free (report);
    size_t bad = cmd_check_records (dir, NULL, false, stdout);
    printf ("run `shoal check --data %s` for the books\n", dir);
    return bad ? EXIT_REJECTED : 0;
}
