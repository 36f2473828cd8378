/*  cluster_kept.c - `shoal cluster init --force` keeps the old cluster's
    files until the new one is written whole (cluster_kept.h).
*/
#include "cluster_kept.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

//  The suffix of an old cluster's file that --force keeps until the new
//  one is written whole.
#define KEPT_SUFFIX ".force-old"

//  --force: links each file of the cluster in dir that the new one would
//  replace (the map, the operator's certificate, each planned node's
//  certificates) to NAME.force-old, listed in *kept, so that a failed
//  init can put them back: it took the old map and every key away. The
//  new files are saved over their names (a temporary file renamed), so a
//  link keeps the old content. Returns 0, or -1 with a message printed.
int cluster_kept_begin (const cluster_t *cluster, const char *dir, const char *command,
                        zlist_t **kept)
{
    *kept = zlist_new ();
    if (!*kept) {
        fprintf (stderr, "shoal %s: out of memory\n", command);
        return -1;
    }
    zlist_autofree (*kept);
    const char *top[] = {"cluster.cfg", "client.cert", "client.cert_secret"};
    const char *per_node[] = {"node.cert", "node.cert_secret", "operators/client.cert"};
    int count = cluster_node_count (cluster);
    for (int i = -1; i < count; i++) {
        for (int k = 0; k < 3; k++) {
            char path[PATH_MAX], aside[PATH_MAX + sizeof KEPT_SUFFIX];
            if (i < 0)
                snprintf (path, sizeof path, "%s/%s", dir, top[k]);
            else
                snprintf (path, sizeof path, "%s/%s/%s", dir, cluster_node_name (cluster, i),
                          per_node[k]);
            snprintf (aside, sizeof aside, "%s" KEPT_SUFFIX, path);
            //  One left by an init cut short may be the only copy of the
            //  old file (its name gone, or written over by the new one).
            if (access (aside, F_OK) == 0) {
                fprintf (stderr,
                         "shoal %s: %s is there: an init --force was cut short, and it may "
                         "hold the only copy of the file before it. Put each NAME%s in %s "
                         "back as NAME (mv), or remove them if the cluster there is as you "
                         "want it; nothing was changed\n",
                         command, aside, KEPT_SUFFIX, dir);
                return -1;
            }
            if (access (path, F_OK) != 0)
                continue;
            if (link (path, aside) != 0 || zlist_append (*kept, path) != 0) {
                fprintf (stderr, "shoal %s: cannot keep %s aside as %s: %s; nothing was changed\n",
                         command, path, aside, strerror (errno));
                return -1; //  cluster_kept_end puts back what was kept
            }
        }
    }
    return 0;
}

//  Ends what cluster_kept_begin began: on success the old files go; on a failure
//  each is put back under its name (the new ones s_write made are gone).
void cluster_kept_end (zlist_t *kept, bool written, const char *dir, const char *command)
{
    size_t restored = 0;
    for (char *path = zlist_first (kept); path; path = zlist_next (kept)) {
        char aside[PATH_MAX + sizeof KEPT_SUFFIX];
        snprintf (aside, sizeof aside, "%s" KEPT_SUFFIX, path);
        if (written)
            unlink (aside);
        else if (rename (aside, path) == 0) {
            //  Both names of one file (not written over yet): rename keeps both.
            unlink (aside);
            restored++;
        } else
            fprintf (stderr, "shoal %s: cannot put %s back as %s: %s\n", command, aside, path,
                     strerror (errno));
    }
    if (!written && restored == zlist_size (kept) && restored)
        fprintf (stderr, "shoal %s: the cluster that was in %s is as it was\n", command, dir);
    zlist_destroy (&kept);
}
