/*  peers_seen.c - how far a node saw each peer's store. See peers_seen.h.
 */
#include "peers_seen.h"
#include "dirsync.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct _peers_seen_t {
    const cluster_t *cluster;
    char dir[PATH_MAX];
    uint64_t seen[CLUSTER_MAX_NODES]; //  by node index: the highest log end seen
    bool moved;                       //  since the last write
    int64_t saved_at;                 //  the last write's time (monotonic ms)
    bool warned;                      //  a failed write was said
};

peers_seen_t *peers_seen_open (const char *dir, const cluster_t *cluster)
{
    peers_seen_t *self = calloc (1, sizeof (peers_seen_t));
    if (!self)
        return NULL;
    self->cluster = cluster;
    snprintf (self->dir, sizeof self->dir, "%s", dir);
    char path[PATH_MAX + 32], line[256];
    snprintf (path, sizeof path, "%s/%s", dir, PEERS_SEEN_FILE);
    FILE *file = fopen (path, "r");
    while (file && fgets (line, sizeof line, file)) {
        char name[128];
        uint64_t position;
        if (sscanf (line, "%127s %" SCNu64, name, &position) != 2)
            continue;
        for (int i = 0; i < cluster_node_count (cluster) && i < CLUSTER_MAX_NODES; i++)
            if (strcmp (cluster_node_name (cluster, i), name) == 0)
                self->seen[i] = position;
    }
    if (file)
        fclose (file);
    return self;
}

void peers_seen_destroy (peers_seen_t **self_p)
{
    peers_seen_t *self = *self_p;
    if (!self)
        return;
    peers_seen_save (self, INT64_MAX);
    free (self);
    *self_p = NULL;
}

uint64_t peers_seen_get (const peers_seen_t *self, int node)
{
    return self && node >= 0 && node < CLUSTER_MAX_NODES ? self->seen[node] : 0;
}

void peers_seen_set (peers_seen_t *self, int node, uint64_t position, bool reset)
{
    if (!self || node < 0 || node >= CLUSTER_MAX_NODES || position == self->seen[node] ||
        (position < self->seen[node] && !reset))
        return;
    self->seen[node] = position;
    self->moved = true;
}

void peers_seen_save (peers_seen_t *self, int64_t now)
{
    if (!self || !self->moved || (now != INT64_MAX && now - self->saved_at < PEERS_SEEN_SAVE_MS))
        return;
    self->saved_at = now;
    char path[PATH_MAX + 32], fresh[PATH_MAX + 40];
    snprintf (path, sizeof path, "%s/%s", self->dir, PEERS_SEEN_FILE);
    snprintf (fresh, sizeof fresh, "%s.new", path);
    char text[CLUSTER_MAX_NODES * 160];
    size_t used = 0;
    for (int i = 0; i < cluster_node_count (self->cluster) && i < CLUSTER_MAX_NODES; i++)
        if (self->seen[i] && used < sizeof text)
            used += (size_t) snprintf (text + used, sizeof text - used, "%s %" PRIu64 "\n",
                                       cluster_node_name (self->cluster, i), self->seen[i]);
    used = used < sizeof text ? used : sizeof text - 1;
    int fd = open (fresh, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool done = fd >= 0 && write (fd, text, used) == (ssize_t) used && fdatasync (fd) == 0;
    if (fd >= 0)
        close (fd);
    done = done && rename (fresh, path) == 0 && dirsync_sync (self->dir, NULL) == 0;
    if (done) {
        self->moved = false;
        self->warned = false;
    } else if (!self->warned) {
        self->warned = true;
        log_warn ("shoal node: cannot write %s (%s): a peer that comes back with an older store "
                  "may not be noticed",
                  path, strerror (errno));
    }
}
