/*  peers_seen.h - how far a node saw each peer's store, kept across its
    restarts, so that a peer that comes back with less is refused.

    Each HELLO and WELCOME of a peer says its store, "END MODE GEN RUN SUM
    ASK_END ASK_GEN ASK_SUM VERIFIED": where its event log ends, durably (in sync
    durability journal_log_end, raised only after a sync); sync or async;
    its restore generation (0, or when its operator last took it as it
    was, --restored or a store made new with --new-store, in ms since the
    epoch, kept in its store); its run (16 hex digits, random at each
    start of its process); SUM, a hash of its event just before END (16
    hex digits, 0 for none); what it kept of the receiver's store (below:
    its end, generation and sum) for the receiver to check; and the last
    ASK_END of the receiver's it found to be its own (0: none). A
    node keeps of each peer the highest end it was seen at, with its sum,
    at the highest generation, in DIR/PEERS-SEEN ("NAME END GEN SUM"
    lines), written
    anew (a temporary file renamed over it; not fsynced: the front's loop
    never waits for a disk) at most every PEERS_SEEN_SAVE_MS while it
    rises, and at once when it is reset. A new run of a peer (it
    restarted) whose log ends before what was kept, at the generation
    kept, or whose generation is older (restored from an older backup,
    repaired with losses, or its store lost and made anew), lost events
    it had made durable and answered for: it is refused, and takes no
    client command (peers.h), until it is started with --restored, which
    gives it a newer generation that every peer takes, whenever it next
    meets it. Within a run its ends only rise, though a HELLO and a
    WELCOME come on two connections and one may be read after a later
    one: they are not judged. In async durability a crash may take a
    node's tail: its ends are not kept, but the floor, kept of its sync
    runs (whose events no crash takes), holds for it.

    A store restored from an older backup and started while its peers
    were down takes commands; its log grows past what they saw, and its
    end proves nothing. So each node asks a peer, in every HELLO and
    WELCOME, for its event before the highest end it kept of it (ASK_END
    - 1, whatever run that was of): the peer reads its own event there
    (peers_seen_check), and one that differs, at the same generation, is
    a store that lost what it had made durable: it marks itself behind
    (refused by all, no command taken) until --restored. One that matches
    it says back (VERIFIED). A new run of a peer is taken with its floor
    as it was, and its ends are kept only once it has said so for that
    floor: until then nothing of the new run is kept, so a run whose
    check was missed (cut off one way, killed first) is asked again of
    the same floor, by this run of ours and every later one (a first
    version kept the new run's ends at once, and asked it of what was
    kept before its run alone, once: a review's finds). Its event is read
    from the ends we said lately, else without waiting (journal_log_peek:
    never a disk's failure or a reopen on the front's thread), and not
    known is no answer (a read of the store for an ask not said lately,
    once per ask, is the front's one disk read here). Owned by the
    front's thread.
*/
#ifndef PEERS_SEEN_H_INCLUDED
#define PEERS_SEEN_H_INCLUDED

#include "cluster.h"
#include "journal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PEERS_SEEN_FILE "PEERS-SEEN"
//  How a refusal of a store behind what its peer saw of it begins.
#define PEERS_SEEN_BEHIND "a store behind"
//  A store as a HELLO or WELCOME says it, "END MODE GEN RUN SUM ASK_END
//  ASK_GEN ASK_SUM", is shorter.
#define PEERS_SEEN_STORE_MAX 224
#define PEERS_SEEN_SAVE_MS 1000
//  How long a node's start holds its clients' commands and gets while no
//  peer has found its store as it saw it (peers_seen_unchecked), by
//  default (`shoal node --start-hold`); PEERS_SEEN_HOLD_FOREVER: until
//  one has.
#define PEERS_SEEN_HOLD_MS 5000
#define PEERS_SEEN_HOLD_FOREVER (-1)
#define PEERS_SEEN_RUN_CHARS 16 //  a run's id: hex digits
//  A refused node's mark, in its own data directory: it takes no client
//  command, and says "behind" in its HELLO (refused by every peer), until
//  it is started with --restored, which removes it.
#define PEERS_SEEN_MARK_FILE "STORE-BEHIND"

typedef struct _peers_seen_t peers_seen_t;

//  What dir's PEERS-SEEN holds of the cluster's nodes (none if it is
//  missing; a line that cannot be read, or of a node the cluster does not
//  have, is left out). hold_ms: how long the start holds clients
//  (peers_seen_unchecked; 0: PEERS_SEEN_HOLD_MS). NULL out of memory.
peers_seen_t *peers_seen_open (const char *dir, const cluster_t *cluster, int64_t hold_ms);
//  Writes what moved since the last save, if any. Safe with *self_p NULL.
void peers_seen_destroy (peers_seen_t **self_p);

//  Judges the store node (name) says it has, data (size bytes: "END MODE
//  GEN RUN SUM ASK_END ASK_GEN ASK_SUM", the numbers decimal, the sums
//  and RUN 16 hex digits, MODE sync, async or behind (it bears the mark:
//  refused whatever its end); or its first four words alone, from a node
//  of the day before the sums) against what was kept of it; me is this
//  node's name, for why. Returns
//  NULL if it is taken (and keeps it: the floor as it was, its ends once
//  it has verified it and never in async, its own end for a newer
//  generation), "a malformed store frame", or why (why_size
//  bytes, beginning with PEERS_SEEN_BEHIND) when a new run's log ends
//  before what was kept at its generation, or its generation is older.
const char *peers_seen_judge (peers_seen_t *self, int node, const void *data, size_t size,
                              const char *name, const char *me, char *why, size_t why_size);

//  Whether the last store node said was refused as behind what was kept of
//  it (or marked so by itself).
bool peers_seen_refused (const peers_seen_t *self, int node);

//  A new run's id into run (PEERS_SEEN_RUN_CHARS + 1 bytes): random hex.
void peers_seen_new_run (char *run);

//  Writes our store, as said to node, into text (size bytes: at least
//  PEERS_SEEN_STORE_MAX): journal's durable end and the sum of its event
//  before it (read once for each end), mode ("sync", "async", "behind"),
//  our restore generation and run, and what we ask node's current run to
//  hold: what we kept of node before we took that run.
void peers_seen_say (peers_seen_t *self, int node, journal_t *journal, const char *mode,
                     uint64_t gen, const char *run, char *text, size_t size);

//  Checks what node (name) asks of our store in data (its store as said,
//  size bytes) against journal, whose restore generation is gen: once
//  for each run of node, when it asks at our generation and our log
//  reaches that far. Returns NULL, or why (why_size bytes) our event
//  before what it asks about is not the one it saw there: our store lost
//  events it had made durable and answered for, and took others since.
//  Why a client's command or get is not taken yet (NULL: it is): our
//  store has not been checked by a peer since self was opened, at our
//  start. Until one of them finds it as it saw it (peers_seen_check:
//  our event at the end it kept is its; or it kept nothing of us, or of
//  an older generation), for at most the hold given to peers_seen_open,
//  counted from the first call (the front's start: not the time the
//  store and the modules took to open); past it, with no peer up, taken
//  all the same (said once); never, with PEERS_SEEN_HOLD_FOREVER. A
//  node with no peer never holds. So a store restored from an older backup and started while its
//  peers are up runs nothing on what it lost before they ask it.
const char *peers_seen_unchecked (peers_seen_t *self, int64_t now);

const char *peers_seen_check (peers_seen_t *self, int node, journal_t *journal, uint64_t gen,
                              const void *data, size_t size, const char *name, char *why,
                              size_t why_size);

//  Whether dir holds the mark, and the name of the peer that refused
//  this node's store into by (size bytes).
bool peers_seen_mark_read (const char *dir, char *by, size_t size);
//  Writes the mark, synced (zplfile_save_mode), naming by. Returns 0, or
//  zplfile_save_mode's code with *error (free() it).
int peers_seen_mark_write (const char *dir, const char *by, char **error);
//  Removes the mark, if any.
void peers_seen_mark_clear (const char *dir);

//  Writes the file if what it holds moved and the last write is
//  PEERS_SEEN_SAVE_MS old, or a reset waits (now: monotonic ms). A write
//  that fails is said once and tried again at the next save. Called at
//  each turn of the front's loop, it also ends the start's hold once past
//  it (peers_seen_unchecked), said even if no client asks meanwhile.
void peers_seen_save (peers_seen_t *self, int64_t now);

#endif
