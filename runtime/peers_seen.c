/*  peers_seen.c - how far a node saw each peer's store. See peers_seen.h.
 */
#include "peers_seen.h"
#include "dirsync.h"
#include "log.h"
#include "zplfile.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PEERS_SEEN_RUN_CHARS 16 //  a run's id: hex digits

typedef struct {
    uint64_t floor;                     //  what its store must reach at a new run
    uint64_t gen;                       //  ... at this restore generation
    uint64_t live;                      //  the highest end its current run said
    char run[PEERS_SEEN_RUN_CHARS + 1]; //  its current run, "" before one is taken
} seen_t;

struct _peers_seen_t {
    const cluster_t *cluster;
    char dir[PATH_MAX];
    seen_t nodes[CLUSTER_MAX_NODES]; //  by node index
    bool moved;                      //  since the last write
    bool reset;                      //  a value went down since the last write
    int64_t saved_at;                //  the last write's time (monotonic ms)
    bool warned;                     //  a failed write was said
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
        uint64_t end, gen = 0;
        if (sscanf (line, "%127s %" SCNu64 " %" SCNu64, name, &end, &gen) < 2)
            continue;
        for (int i = 0; i < cluster_node_count (cluster) && i < CLUSTER_MAX_NODES; i++)
            if (strcmp (cluster_node_name (cluster, i), name) == 0)
                self->nodes[i] = (seen_t){.floor = end, .gen = gen};
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

//  What a node's line says: the highest end it was seen at, at its
//  generation.
static uint64_t s_kept (const seen_t *node)
{
    return node->live > node->floor ? node->live : node->floor;
}

void peers_seen_save (peers_seen_t *self, int64_t now)
{
    if (!self || !self->moved ||
        (!self->reset && now != INT64_MAX && now - self->saved_at < PEERS_SEEN_SAVE_MS))
        return;
    self->saved_at = now;
    char path[PATH_MAX + 32], fresh[PATH_MAX + 40];
    snprintf (path, sizeof path, "%s/%s", self->dir, PEERS_SEEN_FILE);
    snprintf (fresh, sizeof fresh, "%s.new", path);
    char text[CLUSTER_MAX_NODES * 160];
    size_t used = 0;
    for (int i = 0; i < cluster_node_count (self->cluster) && i < CLUSTER_MAX_NODES; i++) {
        const seen_t *node = &self->nodes[i];
        if ((s_kept (node) || node->gen) && used < sizeof text)
            used +=
                (size_t) snprintf (text + used, sizeof text - used, "%s %" PRIu64 " %" PRIu64 "\n",
                                   cluster_node_name (self->cluster, i), s_kept (node), node->gen);
    }
    used = used < sizeof text ? used : sizeof text - 1;
    int fd = open (fresh, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    //  Not fsynced: a power cut that takes it back can only lose a rise
    //  (a peer let in that could have been refused) or a reset (a peer
    //  whose operator took its store refused again, said so: given again,
    //  it is taken).
    bool done = fd >= 0 && write (fd, text, used) == (ssize_t) used;
    if (fd >= 0)
        close (fd);
    done = done && rename (fresh, path) == 0;
    if (done) {
        self->moved = self->reset = false;
        self->warned = false;
    } else if (!self->warned) {
        self->warned = true;
        log_warn ("shoal node: cannot write %s (%s): a peer that comes back with an older store "
                  "may not be noticed",
                  path, strerror (errno));
    }
}

//  Reads a decimal number of at most 20 digits, nothing else, from text
//  (len bytes) into *value. Returns whether it is one that fits.
static bool s_number (const char *text, size_t len, uint64_t *value)
{
    *value = 0;
    if (len == 0 || len > 20 || strspn (text, "0123456789") < len)
        return false;
    for (size_t i = 0; i < len; i++) {
        uint64_t digit = (uint64_t) (text[i] - '0');
        if (*value > (UINT64_MAX - digit) / 10)
            return false;
        *value = *value * 10 + digit;
    }
    return true;
}

const char *peers_seen_judge (peers_seen_t *self, int node, const void *data, size_t size,
                              const char *name, const char *me, char *why, size_t why_size)
{
    //  "END MODE GEN RUN": four words, one space apart.
    char text[PEERS_SEEN_STORE_MAX], *words[4] = {0};
    int count = 0;
    if (size < sizeof text) {
        memcpy (text, data, size);
        text[size] = 0;
        words[count++] = text;
        for (char *at = strchr (text, ' '); at && count <= 4; at = strchr (at + 1, ' ')) {
            *at = 0;
            if (count < 4)
                words[count] = at + 1;
            count++;
        }
    }
    uint64_t end, gen;
    bool async = count == 4 && strcmp (words[1], "async") == 0;
    bool marked = count == 4 && strcmp (words[1], "behind") == 0;
    if (count != 4 || !s_number (words[0], strlen (words[0]), &end) ||
        (!async && !marked && strcmp (words[1], "sync") != 0) ||
        !s_number (words[2], strlen (words[2]), &gen) ||
        strlen (words[3]) != PEERS_SEEN_RUN_CHARS ||
        strspn (words[3], "0123456789abcdef") != PEERS_SEEN_RUN_CHARS)
        return "a malformed store frame";
    //  It was refused before, by us or another peer, and knows it: until
    //  its operator takes its store (--restored), whatever its log's end
    //  (it may have grown past what we saw while no peer could say).
    if (marked) {
        snprintf (why, why_size,
                  "%s what a peer saw of it, as it knows itself (refused before, and marked so); "
                  "to take it as it is, with what it lost, start it with --restored",
                  PEERS_SEEN_BEHIND);
        return why;
    }
    if (!self || node < 0 || node >= CLUSTER_MAX_NODES)
        return NULL;
    seen_t *seen = &self->nodes[node];
    //  The run taken already: its ends only rise (a HELLO and a WELCOME
    //  come on two connections, so one may be read after a later one).
    if (strcmp (words[3], seen->run) == 0 && gen == seen->gen) {
        if (!async && end > seen->live) {
            seen->live = end;
            self->moved = true;
        }
        return NULL;
    }
    //  A new run (a restart, or ours: we had taken none): its store must
    //  reach what every run before it was seen at.
    uint64_t floor = s_kept (seen);
    if (gen < seen->gen || (gen == seen->gen && !async && end < floor)) {
        snprintf (why, why_size,
                  "%s what %s saw of it: its event log ends at %" PRIu64 ", %s saw %" PRIu64
                  "%s (restored from an older backup, repaired with losses, or made anew?); to "
                  "take it as it is, with what it lost, start it with --restored",
                  PEERS_SEEN_BEHIND, me, end, me, floor,
                  gen < seen->gen ? " of a store its operator took since" : "");
        return why;
    }
    if (gen > seen->gen && end < floor)
        log_warn ("shoal node: peer %s came back with a store behind what we saw of it: its event "
                  "log ends at %" PRIu64 ", we saw %" PRIu64
                  "; its operator took it so (--restored "
                  "or --new-store): what it had beyond that is lost",
                  name, end, floor);
    //  async: no floor (a crash may take its tail); a newer generation:
    //  its own end from now on.
    uint64_t kept = async ? 0 : gen > seen->gen ? end : floor > end ? floor : end;
    self->reset |= kept < floor;
    *seen = (seen_t){.floor = kept, .gen = gen, .live = async ? 0 : end};
    snprintf (seen->run, sizeof seen->run, "%s", words[3]);
    self->moved = true;
    return NULL;
}

//  The mark: DIR/PEERS_SEEN_MARK_FILE holds the name of the peer that
//  refused this node's store, written synced once per refusal.
bool peers_seen_mark_read (const char *dir, char *by, size_t size)
{
    char path[PATH_MAX + 32];
    snprintf (path, sizeof path, "%s/%s", dir, PEERS_SEEN_MARK_FILE);
    FILE *file = fopen (path, "r");
    if (!file)
        return false;
    if (!fgets (by, (int) size, file))
        snprintf (by, size, "a peer");
    by[strcspn (by, "\n")] = 0;
    fclose (file);
    return true;
}

int peers_seen_mark_write (const char *dir, const char *by, char **error)
{
    char path[PATH_MAX + 32], text[160];
    snprintf (path, sizeof path, "%s/%s", dir, PEERS_SEEN_MARK_FILE);
    int size = snprintf (text, sizeof text, "%s\n", by);
    return zplfile_save_mode (path, text, (size_t) size, 0600, error);
}

void peers_seen_mark_clear (const char *dir)
{
    char path[PATH_MAX + 32];
    snprintf (path, sizeof path, "%s/%s", dir, PEERS_SEEN_MARK_FILE);
    if (unlink (path) == 0)
        dirsync_sync (dir, NULL);
}
