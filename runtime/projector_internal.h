/*  projector_internal.h - what the projection thread's files share:
    projector.c (the thread: builds, their schedule, commits, switches,
    reactions), view.c (the shoal_view_* and shoal_event_* calls an apply
    makes) and projector_serve.c (the answers to `shoal projections` and
    `shoal query`). Included only by those files.

    Threads: everything here belongs to the projection thread.
*/
#ifndef PROJECTOR_INTERNAL_H_INCLUDED
#define PROJECTOR_INTERNAL_H_INCLUDED

#include <czmq.h>

#include "applyfile.h"
#include "client.h"
#include "data.h"
#include "envelope.h"
#include "heap.h"
#include "journal.h"
#include "projector.h"
#include "viewrecs.h"
#include "vmap.h"

#define PROJECTOR_CHUNK 65536           //  events read per batch, at most
#define VIEW_KEPT_BYTES_MAX (16u << 20) //  a batch's rows kept after its commit, at most (view.c)
#define PROJECTOR_LINGER_EVENTS 65536   //  waiting, a lingering build takes them at once
#define PROJECTOR_STEP_MS 50            //  and for this long at most, so queries wait no longer
#define PROJECTOR_RATE_EVERY_MS 1000    //  the builds' rates and gauges measured this often

//  What a build is doing, as `shoal projections` shows it.
typedef enum {
    BUILD_BUILDING, //  catching up, not served
    BUILD_READY,    //  caught up, waiting for a manual switch
    BUILD_LIVE,     //  served, following the log
    BUILD_OLD,      //  caught up once, no longer served: kept until dropped
    BUILD_PAUSED,   //  paused by an operator
    BUILD_FAILED,   //  apply failed at error_position
    BUILD_ORPHAN,   //  no module registers this version: its rows stay, it does not move
} build_status_t;

//  What the store held under a row's key before the batch: a row, none,
//  or not known (never read, and not written by the build's last batch).
typedef enum { STORED_UNKNOWN = 0, STORED_NONE, STORED_ROW } stored_t;

//  A row staged by applies not yet committed: its bytes, or deleted, and
//  what the store holds under its key. A row deleted under a key the
//  store holds none for (an index row put and deleted in one batch) is
//  not written at all.
typedef struct {
    bool deleted;
    uint8_t stored; //  stored_t, before this batch
    size_t size;
    uint8_t bytes[];
} staged_row_t;

//  A reaction's command: stored with the checkpoint, re-sent until answered.
typedef struct {
    uint8_t id[ENVELOPE_ID_SIZE];
    uint8_t *frame; //  the encoded envelope, owned
    size_t size;
    int64_t next_send; //  monotonic ms
    int attempts;
    bool named;       //  its frame names its projection as its sender (from)
    int64_t first_at; //  monotonic ms of its first send since the start, 0: none yet
    bool said;        //  a refusal that leaves it open (handler_error, ...) was logged
    char code[ENVELOPE_CODE_MAX + 1]; //  the last such refusal's code, "" for none
    heap_t *heap;                     //  its build's due heap, while in it (NULL: none)
    size_t due_at;                    //  its position there (heap_set_index)
} reaction_t;

//  One build of a projection.
typedef struct {
    char name[SHOAL_TYPE_MAX + 1];
    journal_build_t build;         //  build.view points at name
    const shoal_projection_t *def; //  NULL: not registered (orphan)
    registry_filter_t filter;      //  the events it wants
    journal_checkpoint_t cp;       //  as committed
    uint64_t batches;              //  batches committed since the node started
    uint64_t guard_at;             //  an event that crashed the node: applied up to it, then
                                   //  failed there (UINT64_MAX: none; s_guard)
    bool served;                   //  queries of name read this build
    bool unchecked;                //  found in the store without a checkpoint (s_load)
    bool failed;                   //  apply failed: stopped at error_position
    uint64_t error_position;
    //  Up to this position, each event is a batch of its own (batch_end
    //  after each, guarded at it, all in one commit): its batch_end failed
    //  (or crashed the node) over a batch of several, and runs again event
    //  by event, to stop at the event it fails on rather than at the
    //  batch's first (0: batches as they come).
    uint64_t single_until;
    char error[256];
    char guard_error[256]; //  guard_at's, made error when it is reached
    double rate;           //  events/s, smoothed
    int64_t retry_at;      //  the store was down: no batch before (monotonic ms)
    int64_t stepped_at;    //  its last batch began (monotonic ms)
    bool store_down;       //  and that was logged
    uint64_t rate_mark;    //  cp.next when rate was last measured
    int64_t rate_at;       //  and when (monotonic ms)
    zhashx_t *reactions;   //  id -> reaction_t, awaiting answers (served only)
    heap_t *due;           //  the same reactions by next_send: a tick costs what is due
    size_t held_hint; //  'h' records it may hold (projector_trim_held): 0 none, else about how many
    //  The rows its last committed batch wrote, key -> staged_row_t * as
    //  in the view's rows: what the store holds under those keys, read
    //  there before the store (view.c). Only a build's own batches write
    //  its rows, so they stay true until the build goes; a failed commit
    //  empties them (view_forget), and a batch too large to keep (over
    //  VIEW_KEPT_BYTES_MAX) leaves none.
    vmap_t kept;
    //  A commit failed, and may yet have been kept whole (journal.h): up to
    //  this position, the store may hold rows of that batch, so a row put
    //  new there is not known to have none (view.c). 0: no doubt.
    uint64_t doubt_until;
    //  The positions of the events an operator skipped ('k' records) from
    //  its checkpoint on, ascending: never given to apply. Only a rebuild
    //  has any, those of its version's builds (projector_control.c): a
    //  skip of its own moves its checkpoint past the event.
    uint64_t *skips;
    size_t skip_count;
} build_t;

//  The staging of one batch of one build, and the apply in progress.
struct _shoal_view_t {
    projector_t *projector;
    build_t *build;
    journal_batch_t *batch; //  the projector's
    vmap_t rows;            //  key -> staged_row_t * (in the number), this batch's,
                            //  carved from the map's chunks
    //  The apply in progress:
    const journal_logged_t *logged;
    shoal_data_t **reads; //  rows read by shoal_view_get, each its own
                          //  (a data points into itself: never moved),
                          //  closed after apply
    uint8_t **read_bytes;
    size_t read_count, read_cap;
    char open_key[SHOAL_VIEW_KEY_MAX + 1]; //  the row of open_rec, "" if none
    bool open_send;                        //  open_rec is a command to send_to
    stored_t open_stored;                  //  what the store holds under open_key
    char send_to[SHOAL_ADDRESS_MAX + 1];
    char send_name[SHOAL_NAME_MAX + 1];
    viewrecs_t recs;  //  the rows and commands written by this apply, the last open
    bool rec_open;    //  the last of recs is being written
    int sends;        //  commands sent by this apply
    int error;        //  the apply's first misuse, 0 if none
    char reason[256]; //  shoal_view_fail's
    bool react;       //  sends are kept (from react_from on) or dropped
    //  The first position whose sends are kept: 0 for the build served
    //  (or any while nothing of its name is), the served build's
    //  checkpoint for another (projector_react_from).
    uint64_t react_from;
    //  The sends kept are held ('h' records, never sent: a version not
    //  served while another is, or would be first), not sent ('o').
    bool hold;
    //  Commands staged by this batch, released after its commit:
    reaction_t **staged_sends;
    size_t staged_count, staged_cap;
    //  The batch's memory of a projection with batch_state_size, zeroed
    //  by view_begin; ending_at: the batch's first event applied, as
    //  logged while batch_end runs (no send then).
    void *batch_state;
    size_t batch_state_cap;
    journal_logged_t ending_at;
    bool ending;
};

struct _shoal_event_t {
    const journal_logged_t *logged;
    char type[SHOAL_TYPE_MAX + 1];
    const char *id;
    shoal_data_t data;
};

struct _projector_t {
    const projector_config_t *config;
    journal_t *journal;
    build_t **builds;
    size_t build_count, build_cap;
    zsock_t *pipe;     //  the zactor's
    zsock_t *requests; //  PULL: [route, frame] queries from the front
    zsock_t *front;    //  PUSH: [route, frame] answers to the front
    zsock_t *client;   //  DEALER: a client of the node's own front, for reactions
    shoal_view_t view; //  reused for every batch
    uint64_t log_end;  //  journal_log_end at the last look
    //  name -> the version (uintptr_t) whose reactions are sent while
    //  nothing of name is served, as stored (projector_fix_sender)
    zhashx_t *senders;
    applyfile_t *guard; //  the apply in progress, for a crash (NULL: none kept)
    //  Mixed into every reaction's id: a secret of the store, so that a
    //  client cannot send a command under a reaction's id before it
    //  (the target would refuse the reaction as a reused id), and two
    //  nodes' reactions at the same position differ. 0 for a store made
    //  before it (its reactions keep the ids they were sent with).
    uint64_t salt;
};

//  view.c: one batch of one build. view_begin empties the staging;
//  view_apply runs the build's apply on one event (0, or the apply's error
//  with view->reason set); view_stage writes the batch's rows into its
//  journal batch; view_close frees what view_init took.
void view_init (shoal_view_t *view, projector_t *projector);
void view_close (shoal_view_t *view);
//  view_begin returns 0, or SHOAL_ENOMEM for the build's batch state
//  (then the batch is not run). view_end runs the build's batch_end, if it
//  has one, after the batch's applies (first: the position of the first
//  event applied, as its rows' event: shoal_view_put_new's doubt): 0, or
//  its error as view_apply's.
//  react_from: sends of events at that position or later are kept
//  (UINT64_MAX: none).
int view_begin (shoal_view_t *view, build_t *build, uint64_t react_from, bool hold);
int view_apply (shoal_view_t *view, const journal_logged_t *logged);
int view_end (shoal_view_t *view, uint64_t first);
//  Zeroes the batch state, as at a batch's start: the next events are a
//  batch of their own (projector.c's single mode).
void view_batch_zero (shoal_view_t *view);
int view_stage (shoal_view_t *view);
//  Drops what the batch staged (an apply failed, or its commit did).
void view_discard (shoal_view_t *view);
//  The batch is committed: its rows become the build's kept ones, the
//  ones kept before are dropped, and the staging is empty for the next
//  batch.
void view_committed (shoal_view_t *view);
//  A commit of the build's batch of the events before position until
//  failed: what the build keeps of its rows is no longer known to be the
//  store's, and is dropped (reads go to the store); rows put new before
//  until are not known to have none.
void view_forget (build_t *build, uint64_t until);

//  True if the build wants the event at address named name.
bool projector_wants (const build_t *build, const char *address, const char *name);

//  projector_serve.c: answers one query frame from the front.
void projector_serve (projector_t *self, const uint8_t *route, size_t route_size,
                      const uint8_t *frame, size_t size);
//  projector_serve.c: each build's rate (for the list) and the metrics'
//  gauges, measured again; every PROJECTOR_RATE_EVERY_MS.
void projector_measure (projector_t *self);
//  Sends an answer to route through the front.
void projector_answer (projector_t *self, const uint8_t *route, size_t route_size,
                       const envelope_t *request, bool ok, const char *code, const char *reason,
                       const uint8_t *data, size_t size);

//  projector.c, for projector_serve.c: the builds named name (version 0:
//  every version); the served one of name; a control action. Each
//  returns 0 or a SHOAL_E... code with *reason set.
build_t *projector_served (projector_t *self, const char *name);
build_t *projector_find (projector_t *self, const char *name, uint32_t version);
//  The build that stands for name@version, for an operator's action or a
//  query: the one served, else the newest that has caught up, else the
//  newest (a rebuild asked for since is not the version). NULL: none.
build_t *projector_pick (projector_t *self, const char *name, uint32_t version);
//  Reads the store's reaction salt into self->salt (projector_reactions.c),
//  after the builds are listed. Returns 0 or a SHOAL_E… code.
int projector_load_salt (projector_t *self);
//  projector_control: *changed is false when the action found nothing to
//  do (a pause of a paused build, a resume of one neither paused nor
//  failed, a switch to the version served), which still returns 0.
//  id: forget's reaction, 32 hex digits (NULL for the other actions).
int projector_control (projector_t *self, const char *action, const char *name, uint32_t version,
                       uint64_t position, const char *id, bool *changed, char *reason,
                       size_t reason_size);
const char *projector_status_name (const projector_t *self, const build_t *build);

//  projector.c, for projector_control.c: a new build of name@version
//  (NULL out of memory), and one forgotten; a position left out by a
//  build; a non-lazy commit of the view's batch; a
//  build's checkpoint written alone (synced); build made the one served;
//  every build of name@version older than keep dropped (NULL: all).
//  Each int returns 0 or a SHOAL_E... code.
build_t *projector_build_add (projector_t *self, const char *name, uint32_t version,
                              uint32_t number);
//  Forgets build (its records stay in the store) and frees it.
void projector_build_remove (projector_t *self, build_t *build);
//  Adds position to build's skips (once). Returns 0 or SHOAL_ENOMEM.
int projector_skip_add (build_t *build, uint64_t position);

//  True if build is to leave out the event at position (an operator's skip
//  ahead of its checkpoint).
bool projector_skipped (const build_t *build, uint64_t position);
int projector_commit_synced (projector_t *self);
int projector_save (projector_t *self, build_t *build);
int projector_set_served (projector_t *self, build_t *build);

//  projector_reactions.c: a projection's reactions (see there).
//  projector_react_from: the first position whose reactions build decides;
//  projector_holds: whether it holds them ('h') rather than sends them;
//  projector_release_sends: after a batch's commit, its staged commands
//  go out (or are freed, held); projector_trim_held: a holding build's
//  'h' on events the version served has decided since, deleted;
//  projector_decided: how far version of name has decided reactions;
//  projector_deciding: the version of name whose reactions are sent;
//  projector_fix_sender / _load_sender: that version while nothing of
//  name is served, stored before anything acts on it / read at a start;
//  projector_adopt_reactions: from's unanswered commands become to's;
//  projector_send_due / projector_on_answer: (re-)sends and answers;
//  projector_load_sends: a build's unanswered commands read at a start;
//  projector_created: the created of build's command decided at position.
void projector_reaction_destroy (void **item);
//  A new build's due heap (NULL out of memory).
heap_t *projector_due_new (void);
uint64_t projector_react_from (projector_t *self, build_t *build);
bool projector_holds (projector_t *self, const build_t *build);
void projector_release_sends (projector_t *self, build_t *build);
void projector_trim_held (projector_t *self, build_t *build);
uint64_t projector_decided (projector_t *self, const char *name, uint32_t version);
uint32_t projector_deciding (projector_t *self, const char *name);
int64_t projector_created (projector_t *self, const build_t *build, uint64_t position,
                           int64_t event_created);
int projector_fix_sender (projector_t *self, const char *name);
int projector_load_sender (projector_t *self, const char *name);
int projector_adopt_reactions (projector_t *self, build_t *to, build_t *from);
//  The reactions of build sent and not answered, oldest first, at most max
//  into out (borrowed); returns how many. For the projections list.
size_t projector_unanswered (const build_t *build, const reaction_t **out, size_t max);
//  An operator's forget of build's reaction id (32 hex digits): it is
//  deleted, synced, and never sent again. Returns 0, SHOAL_EINVAL (not an
//  id), SHOAL_ENOTFOUND (no such reaction awaits an answer) with reason
//  said, or a store's error.
int projector_forget (projector_t *self, build_t *build, const char *id, char *reason,
                      size_t reason_size);
void projector_send_due (projector_t *self);
void projector_on_answer (projector_t *self);
int projector_load_sends (projector_t *self, build_t *build);
//  Moves build on until it has reached the events the version served has
//  decided the reactions of (a switch to it needs that: projector.c),
//  as far as it goes. Returns true if it has.
bool projector_catch_up (projector_t *self, build_t *build);
int projector_drop_builds (projector_t *self, const char *name, uint32_t version, build_t *keep);
//  Drops build's records and forgets it, saying so (warn: at the level of
//  a warning; why, when not empty, after the count); its unanswered
//  commands go to the build served of its name first. Returns 0 or the
//  store's error (the build then stays, to be dropped again).
int projector_drop (projector_t *self, build_t *build, bool warn, const char *why);
//  Finds the builds, salt, senders, skips and unanswered reactions in the
//  store, finishes the drops a crash cut short and makes a build for each
//  registered projection without one (projector_load.c). Returns 0 or
//  the store's error.
int projector_load (projector_t *self);

#endif
