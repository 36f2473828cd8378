/*  outbox.h - a worker's outbox in memory: the commands its actors sent
    that are committed and not yet answered (the pending table), the
    reply-time estimate that paces re-sends, and the re-send and stall scan.

    The journal holds the outbox itself ('o' records, written with the
    sender's events); this table is its copy in memory, loaded at start and
    after an aborted batch, and added to when a committed batch is
    released. A command is re-sent until the turn that handles its reply
    deletes it (DESIGN-NOTES.md, "Outbox, replies and timers"); one
    unanswered for stall_ms is reported to its sender once per load.
    Known limit: the scan is O(pending) per tick. Internal to the worker:
    the worker thread owns the table and every entry in it.
*/
#ifndef OUTBOX_H_INCLUDED
#define OUTBOX_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "envelope.h"
#include "shoal.h"

typedef struct _worker_t worker_t;

//  A command sent and not yet answered.
typedef struct {
    uint8_t id[ENVELOPE_ID_SIZE];       //  the command's id, the table's key
    char sender[SHOAL_ADDRESS_MAX + 1]; //  the actor that sent it
    int dest;                           //  the receiver's worker
    uint8_t *frame;                     //  the encoded command, owned
    size_t size;                        //  its bytes
    uint32_t attempt;                   //  re-sends so far
    int64_t next_due;                   //  ms: re-send at
    int64_t created;                    //  first send (ms since epoch), from the envelope
    int64_t sent_at;                    //  first send from this process (ms), for the estimate
    int64_t last_sent;                  //  latest send or re-send (ms since epoch)
    bool stall_noticed;                 //  its sender was told it is stalled
    bool cancelling;                    //  an operator resolved it: its $cancel is re-sent instead
    bool is_cancel;                     //  a $cancel (repair.h), for the command cancels
    uint8_t cancels[ENVELOPE_ID_SIZE];  //  is_cancel: the id of the command it cancels
    char error[128];                    //  the last failure known about it, "" for none
} pending_t;

//  A new, empty pending table keyed by command id, owning its entries.
//  NULL when out of memory.
zhashx_t *outbox_new (void);

//  Frees a pending entry and its frame, and sets *item to NULL. Safe with
//  *item NULL. The table's destructor.
void outbox_pending_destroy (void **item);

//  Takes one reply time, in ms, into the estimate outbox_retry_delay uses.
void outbox_reply_sample (worker_t *self, double ms);

//  The delay in ms before re-send number attempt + 1 (0: the first send's
//  wait), with jitter. Can't fail.
int64_t outbox_retry_delay (const worker_t *self, uint32_t attempt);

//  Tracks pending (owned) from now on, replacing any entry with its id.
void outbox_track (worker_t *self, pending_t *pending);

//  Re-sends every command due at now; then tells the sender of each one
//  unanswered for stall_ms, in a turn of its own (which may abort the
//  batch: the scan stops there).
void outbox_resend (worker_t *self, int64_t now);

//  Loads the outbox entries of this worker's actors from the journal, due
//  at once; a command whose $cancel is in the outbox is marked cancelling
//  (not re-sent). Returns 0 or the journal's error.
int outbox_load (worker_t *self);

#endif
