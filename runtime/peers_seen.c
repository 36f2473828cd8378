/*  peers_seen.c - how far a node saw each peer's store. See peers_seen.h.
 */
#include "peers_seen.h"
#include "dirsync.h"
#include "journal.h"
#include "log.h"
#include "regfile.h"
#include "zplfile.h"

#include <czmq.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define PEERS_SEEN_SAID 8 //  our last ends said, and their sums, kept to answer asks

typedef struct {
    uint64_t floor;                     //  what its store must reach at a new run
    uint64_t floor_sum;                 //  its last event before floor (0: not known)
    uint64_t gen;                       //  ... at this restore generation
    uint64_t live;                      //  the highest end its current run said, once it
    uint64_t live_sum;                  //  showed it holds floor's event; its last event's sum
    char run[PEERS_SEEN_RUN_CHARS + 1]; //  its current run, "" before one is taken
    bool pending;                       //  its current run has not shown that yet
    bool refused;                       //  the last store it said was refused as behind
    //  Its asks of our store: the last that we found ours (at our gen).
    uint64_t checked_end, checked_sum;
} seen_t;

struct _peers_seen_t {
    const cluster_t *cluster;
    char dir[PATH_MAX];
    seen_t nodes[CLUSTER_MAX_NODES];    //  by node index
    bool moved;                         //  since the last write
    bool reset;                         //  a value went down since the last write
    int64_t saved_at;                   //  the last write's time (monotonic ms)
    bool warned;                        //  a failed write was said
    uint64_t said_end[PEERS_SEEN_SAID]; //  our log's last ends said (a ring), and the sums
    uint64_t said_sum[PEERS_SEEN_SAID]; //  of their last events
    int said_next;                      //  the ring's next slot
    int64_t opened;                     //  the start's hold from (monotonic ms; 0: not yet)
    int64_t hold_ms;                    //  for how long (PEERS_SEEN_HOLD_FOREVER: until checked)
    bool settled;                       //  a peer's ask of our store found it as it saw it
};

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

//  Reads 16 lowercase hex digits, nothing else, into *value.
static bool s_hex (const char *text, uint64_t *value)
{
    if (strlen (text) != 16 || strspn (text, "0123456789abcdef") != 16)
        return false;
    *value = strtoull (text, NULL, 16);
    return true;
}

//  Cuts text at each space into words (at most max kept). Returns how
//  many there are, past max too.
static int s_words (char *text, char **words, int max)
{
    int count = 0;
    words[count++] = text;
    for (char *at = strchr (text, ' '); at; at = strchr (at + 1, ' ')) {
        *at = 0;
        if (count < max)
            words[count] = at + 1;
        count++;
    }
    return count;
}

peers_seen_t *peers_seen_open (const char *dir, const cluster_t *cluster, int64_t hold_ms)
{
    peers_seen_t *self = calloc (1, sizeof (peers_seen_t));
    if (!self)
        return NULL;
    self->cluster = cluster;
    self->hold_ms = hold_ms ? hold_ms : PEERS_SEEN_HOLD_MS;
    self->settled = cluster_node_count (cluster) < 2; //  no peer to ask it
    snprintf (self->dir, sizeof self->dir, "%s", dir);
    char path[PATH_MAX + 32], line[256];
    snprintf (path, sizeof path, "%s/%s", dir, PEERS_SEEN_FILE);
    FILE *file = regfile_fopen (path); //  not a regular file: none (never waited on)
    if (!file && errno == EINVAL)
        log_warn ("shoal node: %s is not a regular file: taken as none (what this node saw of "
                  "its peers' stores is forgotten, and a peer restored from an older copy is "
                  "not found out by it)",
                  path);
    //  "NAME END GEN SUM", a whole line (GEN and SUM missing in a file of
    //  an older node). Read strictly: the file is not synced, and a power
    //  cut may leave a line cut short, whose sum read as another would
    //  have the peer take its own store for another (a SUM not of 16 hex
    //  digits is none; a line without its end is none).
    while (file && fgets (line, sizeof line, file)) {
        char *words[4] = {0};
        if (!strchr (line, '\n')) {
            //  Longer than any line written (or cut short at the end):
            //  skipped whole, its tail no line of its own.
            int c;
            while ((c = fgetc (file)) != EOF && c != '\n')
                ;
            continue;
        }
        line[strcspn (line, "\n")] = 0;
        int count = s_words (line, words, 4);
        uint64_t end, gen = 0, sum = 0;
        if (count < 2 || count > 4 || !s_number (words[1], strlen (words[1]), &end) ||
            (count >= 3 && !s_number (words[2], strlen (words[2]), &gen)))
            continue;
        if (count == 4 && !s_hex (words[3], &sum))
            sum = 0;
        for (int i = 0; i < cluster_node_count (cluster) && i < CLUSTER_MAX_NODES; i++)
            if (strcmp (cluster_node_name (cluster, i), words[0]) == 0)
                self->nodes[i] = (seen_t){.floor = end, .floor_sum = sum, .gen = gen};
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

//  ... and the sum of its last event before that.
static uint64_t s_kept_sum (const seen_t *node)
{
    return node->live > node->floor ? node->live_sum : node->floor_sum;
}

void peers_seen_save (peers_seen_t *self, int64_t now)
{
    if (now != INT64_MAX)
        peers_seen_unchecked (self, now); //  the start's hold over, said even with no client
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
            used += (size_t) snprintf (
                text + used, sizeof text - used, "%s %" PRIu64 " %" PRIu64 " %016" PRIx64 "\n",
                cluster_node_name (self->cluster, i), s_kept (node), node->gen, s_kept_sum (node));
    }
    used = used < sizeof text ? used : sizeof text - 1;
    int fd = open (fresh, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    //  Not fsynced: a power cut that takes it back can only lose a rise
    //  (a peer let in that could have been refused) or a reset (a peer
    //  whose operator took its store refused again, said so: given again,
    //  it is taken); a line it cuts short is read as none (peers_seen_open).
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

//  A store as said (peers_seen.h), parsed.
typedef struct {
    uint64_t end, gen, sum, ask_end, ask_gen, ask_sum, verified;
    bool async, marked;
    char run[PEERS_SEEN_RUN_CHARS + 1];
} said_t;

#define PEERS_SEEN_WORDS 9

//  Parses "END MODE GEN RUN SUM ASK_END ASK_GEN ASK_SUM VERIFIED", words
//  one space apart, into said; or its first four words alone (a node of
//  the day before the sums: nothing is asked, nor checked). Returns
//  whether it is one.
static bool s_parse (const void *data, size_t size, said_t *said)
{
    memset (said, 0, sizeof *said);
    char text[PEERS_SEEN_STORE_MAX], *words[PEERS_SEEN_WORDS] = {0};
    if (size >= sizeof text)
        return false;
    memcpy (text, data, size);
    text[size] = 0;
    int count = s_words (text, words, PEERS_SEEN_WORDS);
    if (count != 4 && count != PEERS_SEEN_WORDS)
        return false;
    said->async = strcmp (words[1], "async") == 0;
    said->marked = strcmp (words[1], "behind") == 0;
    if (!s_number (words[0], strlen (words[0]), &said->end) ||
        (!said->async && !said->marked && strcmp (words[1], "sync") != 0) ||
        !s_number (words[2], strlen (words[2]), &said->gen) ||
        strlen (words[3]) != PEERS_SEEN_RUN_CHARS ||
        strspn (words[3], "0123456789abcdef") != PEERS_SEEN_RUN_CHARS)
        return false;
    snprintf (said->run, sizeof said->run, "%s", words[3]);
    return count == 4 || (s_hex (words[4], &said->sum) &&
                          s_number (words[5], strlen (words[5]), &said->ask_end) &&
                          s_number (words[6], strlen (words[6]), &said->ask_gen) &&
                          s_hex (words[7], &said->ask_sum) &&
                          s_number (words[8], strlen (words[8]), &said->verified));
}

const char *peers_seen_judge (peers_seen_t *self, int node, const void *data, size_t size,
                              const char *name, const char *me, char *why, size_t why_size)
{
    said_t said;
    if (!s_parse (data, size, &said))
        return "a malformed store frame";
    uint64_t end = said.end, gen = said.gen;
    bool async = said.async;
    //  It was refused before, by us or another peer, and knows it: until
    //  its operator takes its store (--restored), whatever its log's end
    //  (it may have grown past what we saw while no peer could say).
    if (said.marked) {
        if (self && node >= 0 && node < CLUSTER_MAX_NODES)
            self->nodes[node].refused = true;
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
    //  come on two connections, so one may be read after a later one),
    //  and are kept once it has shown it holds the event before its floor
    //  (it found our ask of it, the floor, to be its own).
    if (strcmp (said.run, seen->run) == 0 && gen == seen->gen) {
        seen->refused = false;
        if (seen->pending && said.verified == seen->floor)
            seen->pending = false;
        //  (A sum not known when its end was first said comes later.)
        if (!seen->pending && !async &&
            (end > seen->live || (end == seen->live && !seen->live_sum && said.sum))) {
            seen->live = end;
            seen->live_sum = said.sum;
            self->moved = true;
        }
        return NULL;
    }
    //  A new run (a restart, or ours: we had taken none): its store must
    //  reach what every run before it was seen at.
    uint64_t floor = s_kept (seen), floor_sum = s_kept_sum (seen);
    if (gen < seen->gen || (gen == seen->gen && end < floor)) {
        seen->refused = true;
        //  An older generation may end past the floor (a copy from before
        //  a --restored start, put back): not "behind" by its end, which
        //  an SRE's review found said as "ends at 2470, n1 saw 2321".
        if (gen < seen->gen)
            snprintf (why, why_size,
                      "%s what %s saw of it: it is a store from before its operator took one as "
                      "it was since (--restored or --new-store), which %s saw to %" PRIu64
                      " (this one ends at %" PRIu64
                      ": a copy of the store from before that, put back?); to take it as it is, "
                      "start it with --restored",
                      PEERS_SEEN_BEHIND, me, me, floor, end);
        else
            snprintf (why, why_size,
                      "%s what %s saw of it: its event log ends at %" PRIu64 ", %s saw %" PRIu64
                      " (restored from an older backup, repaired with losses, or made anew?); to "
                      "take it as it is, with what it lost, start it with --restored",
                      PEERS_SEEN_BEHIND, me, end, me, floor);
        return why;
    }
    if (gen > seen->gen && end < floor)
        log_warn ("shoal node: peer %s came back with a store behind what we saw of it: its event "
                  "log ends at %" PRIu64 ", we saw %" PRIu64
                  "; its operator took it so (--restored "
                  "or --new-store): what it had beyond that is lost",
                  name, end, floor);
    //  A newer generation: its own end from now on (none in async). Else
    //  the floor stays what it was: its end past it proves nothing by
    //  itself (a store restored from an older backup that took commands
    //  since), and is kept only once it has shown it holds the floor's
    //  event (peers_seen_check). An async run's ends are never kept (a
    //  crash may take its tail), but the floor, kept of sync runs, holds
    //  for it too (an async start wiped it: a review's find).
    seen_t taken = {.gen = gen};
    if (gen > seen->gen) {
        taken.floor = async ? 0 : end, taken.floor_sum = async ? 0 : said.sum;
        taken.live = taken.floor, taken.live_sum = taken.floor_sum;
    } else {
        taken.floor = floor, taken.floor_sum = floor_sum;
        taken.pending = floor && floor_sum && said.verified != floor;
        bool keep = !taken.pending && !async;
        taken.live = keep ? end : 0, taken.live_sum = keep ? said.sum : 0;
    }
    taken.checked_end = seen->checked_end, taken.checked_sum = seen->checked_sum;
    snprintf (taken.run, sizeof taken.run, "%s", said.run);
    self->reset |= s_kept (&taken) < floor;
    *seen = taken;
    self->moved = true;
    return NULL;
}

bool peers_seen_refused (const peers_seen_t *self, int node)
{
    return self && node >= 0 && node < CLUSTER_MAX_NODES && self->nodes[node].refused;
}

void peers_seen_new_run (char *run)
{
    uint64_t random = 0;
    if (getrandom (&random, sizeof random, 0) != (ssize_t) sizeof random) {
        struct timespec now;
        clock_gettime (CLOCK_REALTIME, &now);
        random =
            ((uint64_t) now.tv_sec * 1000000000u + (uint64_t) now.tv_nsec) * 0x9e3779b97f4a7c15ull ^
            (uint64_t) getpid ();
    }
    snprintf (run, PEERS_SEEN_RUN_CHARS + 1, "%016" PRIx64, random);
}

//  Folds bytes into an FNV-1a hash.
static uint64_t s_fnv (uint64_t hash, const void *data, size_t size)
{
    const uint8_t *bytes = data;
    for (size_t i = 0; i < size; i++)
        hash = (hash ^ bytes[i]) * 0x100000001b3ull;
    return hash;
}

//  Folds a number, little-endian whatever the machine's order.
static uint64_t s_fnv_u64 (uint64_t hash, uint64_t value)
{
    uint8_t bytes[8];
    for (int i = 0; i < 8; i++)
        bytes[i] = (uint8_t) (value >> (8 * i));
    return s_fnv (hash, bytes, 8);
}

typedef struct {
    uint64_t position; //  the event wanted
    uint64_t sum;      //  its sum, 0 until found
} sum_t;

static int s_sum_event (void *arg, const journal_logged_t *event)
{
    sum_t *sum = arg;
    if (event->position != sum->position) //  a hole: another event, not this one
        return 1;
    uint64_t hash = s_fnv_u64 (0xcbf29ce484222325ull, event->position);
    hash = s_fnv (hash, event->stream, strlen (event->stream) + 1);
    hash = s_fnv_u64 (hash, (uint64_t) event->seq);
    hash = s_fnv (hash, event->name, strlen (event->name) + 1);
    hash = s_fnv_u64 (hash, (uint64_t) event->created);
    hash = s_fnv (hash, event->data, event->size);
    sum->sum = hash ? hash : 1;
    return 1;
}

//  The sum of journal's event just before end (its address, seq, name,
//  time and fields), never 0: from what we said lately, else read without
//  waiting for a store's failure or reopen (journal_log_peek, on the
//  front's thread). 0 if end is 0, or the event was not read (no event
//  there, or not now).
static uint64_t s_sum_before (peers_seen_t *self, journal_t *journal, uint64_t end)
{
    if (!end)
        return 0;
    for (int i = 0; self && i < PEERS_SEEN_SAID; i++)
        if (self->said_end[i] == end)
            return self->said_sum[i];
    sum_t sum = {.position = end - 1};
    journal_log_peek (journal, end - 1, s_sum_event, &sum);
    return sum.sum;
}

void peers_seen_say (peers_seen_t *self, int node, journal_t *journal, const char *mode,
                     uint64_t gen, const char *run, char *text, size_t size)
{
    uint64_t end = journal_log_end (journal), sum = 0;
    uint64_t ask_end = 0, ask_gen = 0, ask_sum = 0, verified = 0;
    if (self) {
        sum = s_sum_before (self, journal, end);
        int last = (self->said_next + PEERS_SEEN_SAID - 1) % PEERS_SEEN_SAID;
        if (sum && self->said_end[last] != end) { //  kept for the asks to come
            self->said_end[self->said_next] = end;
            self->said_sum[self->said_next] = sum;
            self->said_next = (self->said_next + 1) % PEERS_SEEN_SAID;
        }
    }
    if (self && node >= 0 && node < CLUSTER_MAX_NODES) {
        //  What we kept of it, highest first: its floor while its run has
        //  not shown it holds it, or the floor a run it makes next must
        //  hold; and the last ask of ours it made that we found ours.
        const seen_t *seen = &self->nodes[node];
        ask_end = s_kept (seen), ask_gen = seen->gen, ask_sum = s_kept_sum (seen);
        verified = seen->checked_end;
    }
    snprintf (text, size,
              "%" PRIu64 " %s %" PRIu64 " %s %016" PRIx64 " %" PRIu64 " %" PRIu64 " %016" PRIx64
              " %" PRIu64,
              end, mode, gen, run, sum, ask_end, ask_gen, ask_sum, verified);
}

//  Our store is as a peer (name) saw it: commands are taken from now
//  (peers_seen_unchecked), said once. Returns NULL.
static const char *s_settled (peers_seen_t *self, const char *name)
{
    if (!self->settled)
        log_info ("shoal node: peer %s finds our store as it saw it: taking commands", name);
    self->settled = true;
    return NULL;
}

const char *peers_seen_unchecked (peers_seen_t *self, int64_t now)
{
    if (!self || self->settled)
        return NULL;
    if (!self->opened) //  the first look: the front runs
        self->opened = now > 0 ? now : 1;
    if (self->hold_ms == PEERS_SEEN_HOLD_FOREVER)
        return "it has started, and no peer has yet found its store as it saw it: it waits for "
               "one (shoal node --start-hold forever), so that a store restored from an older "
               "backup runs nothing on what it lost; start a peer";
    if (now - self->opened < self->hold_ms)
        return "it has just started, and no peer has yet found its store as it saw it (a store "
               "restored from an older backup is found out so): ask again shortly";
    self->settled = true;
    log_warn ("shoal node: no peer checked our store within %lld ms of our start (none up?): "
              "taking commands on it as it is; a store restored from an older backup is "
              "found out once a peer that saw it further comes back (--start-hold forever "
              "waits for one)",
              (long long) self->hold_ms);
    return NULL;
}

const char *peers_seen_check (peers_seen_t *self, int node, journal_t *journal, uint64_t gen,
                              const void *data, size_t size, const char *name, char *why,
                              size_t why_size)
{
    said_t said;
    if (!self || !journal || node < 0 || node >= CLUSTER_MAX_NODES || !s_parse (data, size, &said))
        return NULL;
    //  Nothing to ask: it kept nothing of us, or what it kept is of a
    //  generation our operator took over since (--restored); or it kept an
    //  end without its sum (a line of the day before the sums, or cut
    //  short), which our log must reach (past it, it refuses us: not
    //  settled, a review's find).
    if (!said.ask_end || said.ask_gen < gen ||
        (!said.ask_sum && said.ask_gen == gen && said.ask_end <= journal_log_end (journal)))
        return s_settled (self, name);
    if (!said.ask_sum)
        return NULL;
    seen_t *seen = &self->nodes[node];
    //  Asked already (its asks change as our end rises), or past our log's
    //  end or of a newer generation of ours: it refuses us itself
    //  (peers_seen_judge).
    if (said.ask_end == seen->checked_end && said.ask_sum == seen->checked_sum &&
        said.ask_gen == gen)
        return s_settled (self, name);
    if (said.ask_gen != gen || said.ask_end > journal_log_end (journal))
        return NULL;
    uint64_t sum = s_sum_before (self, journal, said.ask_end);
    if (!sum) //  not read now: asked again with its next HELLO
        return NULL;
    if (sum == said.ask_sum) {
        seen->checked_end = said.ask_end;
        seen->checked_sum = sum;
        return s_settled (self, name);
    }
    snprintf (why, why_size,
              "our event at position %" PRIu64 " is not the one peer %s saw there: this store "
              "lost events it had made durable and answered for, and took others since "
              "(restored from an older backup, or repaired with losses, then started alone?)",
              said.ask_end - 1, name);
    return why;
}

//  The mark: DIR/PEERS_SEEN_MARK_FILE holds the name of the peer that
//  refused this node's store, written synced once per refusal.
bool peers_seen_mark_read (const char *dir, char *by, size_t size)
{
    char path[PATH_MAX + 32];
    snprintf (path, sizeof path, "%s/%s", dir, PEERS_SEEN_MARK_FILE);
    FILE *file = regfile_fopen (path);
    if (!file && errno == EINVAL) { //  something put in its place: marked all the same
        snprintf (by, size, "a peer");
        return true;
    }
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
    else if (errno != ENOENT) //  a directory put there, say: it would mark every next start
        log_warn ("shoal node: cannot remove %s (%s): remove it by hand, or the next start "
                  "takes this store as refused again",
                  path, strerror (errno));
}
