/*  powerloss_apply.c - the power cut: replays the side log that
    tests/powerloss.c wrote while a process ran on a directory (the process
    is dead now: SIGKILL) and leaves the directory as a power cut would
    have, under the model of powerloss.c:

    - The names are those of the last fsync of the directory ("dirsync"),
      or of the start ("base") if there was none: a file created after it
      vanishes, a rename or unlink after it is undone (the file comes back
      from $LOG.grave, where the preload kept a hard link).
    - A directory made ("mkdir") is there if its parent was synced after
      it; else it vanishes with every name in it.
    - Each file keeps the length of its last fsync/fdatasync ("sync"), or
      of the start, cut by any later truncation; a file never synced is
      empty. Bytes past that length are dropped.

    The old directory is kept as DIR.before-cut for a post-mortem.

    powerloss_apply is also a tool (built with POWERLOSS_APPLY_MAIN):
        powerloss_apply DIR LOG
    Single-threaded; returns 0 or -1 with a message in report.
*/
#include "powerloss_apply.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ENTRY_MAX 4096
#define LINE_MAX_LEN 1200

typedef struct {
    char name[512]; //  relative to the directory
    unsigned long long ino;
} entry_t;

typedef struct {
    entry_t live[ENTRY_MAX]; //  the names as the process left them
    int live_count;
    entry_t durable[ENTRY_MAX]; //  the names as of the last dirsync
    int durable_count;
    unsigned long long ino[ENTRY_MAX]; //  inodes with a known synced length
    long long synced[ENTRY_MAX];
    int ino_count;
    entry_t made[ENTRY_MAX]; //  the directories the process made
    int made_count;
    entry_t made_durable[ENTRY_MAX]; //  those of them their parent's dirsync kept
    int made_durable_count;
} replay_t;

static void s_report (char *report, size_t size, const char *format, ...)
{
    size_t used = strlen (report);
    if (used >= size)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (report + used, size - used, format, args);
    va_end (args);
}

static long long *s_synced (replay_t *r, unsigned long long ino, bool add)
{
    for (int i = 0; i < r->ino_count; i++)
        if (r->ino[i] == ino)
            return &r->synced[i];
    if (!add || r->ino_count == ENTRY_MAX)
        return NULL;
    r->ino[r->ino_count] = ino;
    r->synced[r->ino_count] = 0;
    return &r->synced[r->ino_count++];
}

static int s_find (const entry_t *entries, int count, const char *name)
{
    for (int i = 0; i < count; i++)
        if (strcmp (entries[i].name, name) == 0)
            return i;
    return -1;
}

static void s_remove (entry_t *entries, int *count, const char *name)
{
    int i = s_find (entries, *count, name);
    if (i >= 0)
        entries[i] = entries[--*count];
}

static bool s_add (entry_t *entries, int *count, const char *name, unsigned long long ino)
{
    s_remove (entries, count, name);
    if (*count == ENTRY_MAX || strlen (name) >= sizeof entries[0].name)
        return false;
    snprintf (entries[*count].name, sizeof entries[0].name, "%s", name);
    entries[(*count)++].ino = ino;
    return true;
}

//  True if name lies directly in dir ("." = the top).
static bool s_in_dir (const char *name, const char *dir)
{
    const char *slash = strrchr (name, '/');
    if (strcmp (dir, ".") == 0)
        return slash == NULL;
    size_t len = strlen (dir);
    return slash && (size_t) (slash - name) == len && strncmp (name, dir, len) == 0;
}

static void s_dirsync (replay_t *r, const char *dir)
{
    for (int i = r->durable_count - 1; i >= 0; i--)
        if (s_in_dir (r->durable[i].name, dir))
            r->durable[i] = r->durable[--r->durable_count];
    for (int i = 0; i < r->live_count; i++)
        if (s_in_dir (r->live[i].name, dir))
            s_add (r->durable, &r->durable_count, r->live[i].name, r->live[i].ino);
    for (int i = 0; i < r->made_count; i++)
        if (s_in_dir (r->made[i].name, dir) &&
            s_find (r->made_durable, r->made_durable_count, r->made[i].name) < 0)
            s_add (r->made_durable, &r->made_durable_count, r->made[i].name, 0);
}

//  True if every directory on name's path that the process made is
//  durable: else the cut takes name with its directory.
static bool s_dirs_durable (const replay_t *r, const char *name)
{
    char path[600];
    snprintf (path, sizeof path, "%s", name);
    for (char *slash = strchr (path, '/'); slash; slash = strchr (slash + 1, '/')) {
        *slash = '\0';
        bool made = s_find (r->made, r->made_count, path) >= 0;
        bool kept = s_find (r->made_durable, r->made_durable_count, path) >= 0;
        *slash = '/';
        if (made && !kept)
            return false;
    }
    return true;
}

//  Makes each directory of path below its first root_len bytes, and path
//  itself if whole (else its last component is a file's name). Returns 0
//  or -1 with a line in report.
static int s_make_dirs (char *path, size_t root_len, bool whole, char *report, size_t report_size)
{
    for (char *slash = strchr (path + root_len + 1, '/');; slash = strchr (slash + 1, '/')) {
        if (!slash && !whole)
            return 0;
        if (slash)
            *slash = '\0';
        bool failed = mkdir (path, 0700) != 0 && errno != EEXIST;
        if (failed)
            s_report (report, report_size, "cannot make the directory %s: %s\n", path,
                      strerror (errno));
        if (slash)
            *slash = '/';
        if (!slash || failed)
            return failed ? -1 : 0;
    }
}

//  Replays one line of the log. Returns 0, or -1 if it cannot be read.
static int s_replay_line (replay_t *r, const char *line, powerloss_stats_t *stats)
{
    char a[600], b[600];
    unsigned long long ino;
    long long len;
    if (sscanf (line, "base %llu %lld %599s", &ino, &len, a) == 3) {
        s_add (r->live, &r->live_count, a, ino);
        s_add (r->durable, &r->durable_count, a, ino);
        *s_synced (r, ino, true) = len;
    } else if (sscanf (line, "create %llu %599s", &ino, a) == 2)
        s_add (r->live, &r->live_count, a, ino);
    else if (sscanf (line, "sync %llu %lld", &ino, &len) == 2) {
        long long *synced = s_synced (r, ino, true);
        if (synced)
            *synced = len;
        stats->syncs++;
    } else if (sscanf (line, "trunc %llu %lld", &ino, &len) == 2) {
        long long *synced = s_synced (r, ino, false);
        if (synced && *synced > len)
            *synced = len;
    } else if (sscanf (line, "rename %599s %599s", a, b) == 2) {
        int i = s_find (r->live, r->live_count, a);
        if (i >= 0) {
            ino = r->live[i].ino;
            s_remove (r->live, &r->live_count, a);
            s_add (r->live, &r->live_count, b, ino);
        }
    } else if (sscanf (line, "unlink %599s", a) == 1)
        s_remove (r->live, &r->live_count, a);
    else if (sscanf (line, "mkdir %599s", a) == 1)
        s_add (r->made, &r->made_count, a, 0);
    else if (sscanf (line, "dirsync %599s", a) == 1) {
        s_dirsync (r, a);
        stats->dirsyncs++;
    } else if (strncmp (line, "overwrite ", 10) == 0)
        stats->overwrites++;
    else if (strncmp (line, "range ", 6) == 0 || strncmp (line, "start ", 6) == 0 ||
             strncmp (line, "failsync ", 9) == 0 || //  made nothing durable
             strncmp (line, "failopen ", 9) == 0)
        ;
    else if (strncmp (line, "error ", 6) == 0)
        return -1;
    else
        return -1;
    return 0;
}

int powerloss_apply (const char *dir, const char *log, powerloss_stats_t *stats, char *report,
                     size_t report_size)
{
    memset (stats, 0, sizeof *stats);
    report[0] = 0;
    replay_t *r = calloc (1, sizeof *r);
    FILE *in = fopen (log, "r");
    if (!r || !in) {
        s_report (report, report_size, "cannot read %s: %s", log, strerror (errno));
        free (r);
        if (in)
            fclose (in);
        return -1;
    }
    char line[LINE_MAX_LEN];
    int rc = 0;
    while (rc == 0 && fgets (line, sizeof line, in)) {
        if (s_replay_line (r, line, stats) != 0) {
            s_report (report, report_size, "%s: cannot replay: %s", log, line);
            rc = -1;
        }
    }
    fclose (in);

    char before[PATH_MAX], grave[PATH_MAX];
    snprintf (before, sizeof before, "%s.before-cut", dir);
    snprintf (grave, sizeof grave, "%s.grave", log);
    if (rc == 0 && (rename (dir, before) != 0 || mkdir (dir, 0700) != 0)) {
        s_report (report, report_size, "cannot move %s aside: %s", dir, strerror (errno));
        rc = -1;
    }
    //  Every durable name gets its inode's bytes back, cut to the synced
    //  length: from where the process left that inode, or from the grave.
    for (int i = 0; rc == 0 && i < r->durable_count; i++) {
        const entry_t *entry = &r->durable[i];
        char from[PATH_MAX + 600], to[PATH_MAX + 600];
        if (!s_dirs_durable (r, entry->name))
            continue; //  its directory is gone: counted as vanished below
        int live = -1;
        for (int j = 0; j < r->live_count && live < 0; j++)
            if (r->live[j].ino == entry->ino)
                live = j;
        if (live >= 0)
            snprintf (from, sizeof from, "%s/%s", before, r->live[live].name);
        else {
            snprintf (from, sizeof from, "%s/%llu", grave, entry->ino);
            stats->restored++;
        }
        snprintf (to, sizeof to, "%s/%s", dir, entry->name);
        //  A name in a subdirectory (LevelDB's repair sets files aside
        //  in lost/): the subdirectory is made as the name needs it
        if ((rc = s_make_dirs (to, strlen (dir), false, report, report_size)) != 0)
            break;
        struct stat st;
        if (stat (from, &st) != 0) {
            s_report (report, report_size, "%s (inode %llu): its bytes are gone (%s)\n",
                      entry->name, entry->ino, strerror (errno));
            rc = -1;
            break;
        }
        long long *synced = s_synced (r, entry->ino, false);
        long long keep = synced ? *synced : 0;
        if (keep > st.st_size)
            keep = st.st_size;
        if (link (from, to) != 0 || truncate (to, keep) != 0) {
            s_report (report, report_size, "cannot restore %s: %s\n", to, strerror (errno));
            rc = -1;
            break;
        }
        stats->kept++;
        stats->bytes_cut += st.st_size - keep;
        if (keep < st.st_size)
            s_report (report, report_size, "%s: %lld of %lld bytes kept\n", entry->name, keep,
                      (long long) st.st_size);
        if (live >= 0)
            r->live[live].ino = 0; //  its bytes are placed: a second name would share them
    }
    //  The directories made and kept, even those left empty.
    for (int i = 0; rc == 0 && i < r->made_durable_count; i++) {
        char to[PATH_MAX + 600];
        snprintf (to, sizeof to, "%s/%s", dir, r->made_durable[i].name);
        if (s_dirs_durable (r, r->made_durable[i].name))
            rc = s_make_dirs (to, strlen (dir), true, report, report_size);
    }
    for (int i = 0; i < r->live_count; i++)
        if (s_find (r->durable, r->durable_count, r->live[i].name) < 0 ||
            !s_dirs_durable (r, r->live[i].name)) {
            stats->vanished++;
            s_report (report, report_size, "%s: vanished (never made durable)\n", r->live[i].name);
        }
    free (r);
    return rc;
}

#ifdef POWERLOSS_APPLY_MAIN
int main (int argc, char **argv)
{
    if (argc != 3) {
        fprintf (stderr, "usage: powerloss_apply DIR LOG\n");
        return 2;
    }
    powerloss_stats_t stats;
    static char report[65536];
    int rc = powerloss_apply (argv[1], argv[2], &stats, report, sizeof report);
    fputs (report, rc ? stderr : stdout);
    printf ("%d files kept, %d restored, %d vanished, %lld bytes cut; %d syncs, %d dirsyncs, %d "
            "overwrites\n",
            stats.kept, stats.restored, stats.vanished, stats.bytes_cut, stats.syncs,
            stats.dirsyncs, stats.overwrites);
    return rc ? 1 : 0;
}
#endif
