/*  account_transfers.c - the transfers of each account, newest first, as
    a projection of the transfer saga's events. Each transfer has a row
    under each of its two accounts:

        ACCOUNT/P  {"transfer": ID, "from": ACCOUNT, "to": ACCOUNT,
                    "amount": N, "direction": "out" | "in",
                    "status": S, "at": MS, "code"?: CODE}

    ACCOUNT is the account's id (account/alice: "alice"); P is the
    position of the transfer's Started event in the node's log, inverted
    (UINT64_MAX - position) and written as 20 digits, so that keys sort
    newest first and `shoal query account_transfers --prefix alice/`
    lists alice's transfers newest first. status follows the saga
    (started, debited, compensating, completed, failed, compensated); at
    is when it started (ms since the epoch); code says why it failed or
    was compensated.

    While a transfer is not terminal, an index row "\x01transfer/ID"
    {from, to, amount, at, position} finds its two rows again (the saga's
    later events name neither account); it is deleted when the transfer
    ends. No account id holds a control byte, so no prefix of an
    account's rows reaches the index rows.

    Within one batch of the projection (its batch state), a transfer that
    starts in it is kept in memory until the batch's end, its later events
    moving its status there; batch_end writes its two rows once, with the
    status it reached, and its index row only if it has not ended. The
    rows are those the events would write one at a time (a rebuild, one
    batch, and the test kit, a batch an event, check it): only the puts
    that a later event of the same batch would overwrite are not made. An
    ended transfer's index row is still put new and deleted, so that after
    a failed commit the store kept whole, the delete reads and is written.
    A batch with more transfers than the memory holds writes the others
    event by event, as above. A transfer started twice while its index
    row stands (a saga never is) fails its Started's apply when both are
    in one batch, else the later batch's batch_end.

    An account id never holds a '/' (account.c refuses to open one), so
    no account's rows share another's prefix ("a/b" would be listed under
    --prefix a/): a transfer naming such an id, which fails, gets no row
    under it. Known limit: in a cluster, each node
    holds the rows of the transfers whose saga it owns, and "newest
    first" holds within one node's log only. Version 1.
*/
#include "bank_projections.h"
#include <stdio.h>
#include <string.h>

#define INDEX_PREFIX "\x01transfer/"

//  What the index row keeps of a transfer.
typedef struct {
    char from[SHOAL_ID_MAX + 1], to[SHOAL_ID_MAX + 1]; //  account ids
    int64_t amount;
    int64_t at;        //  Started's created
    uint64_t position; //  Started's position
    char code[64];     //  why it failed or is compensated ("" if not)
} started_t;

//  The keys are built by hand, not by snprintf (9 % of the projections'
//  thread). Like snprintf into a key's room, they cut what would not fit
//  (no id does: an address is at most SHOAL_ADDRESS_MAX bytes).
static void s_index_key (const char *transfer, char key[SHOAL_VIEW_KEY_MAX + 1])
{
    size_t len = strnlen (transfer, SHOAL_VIEW_KEY_MAX - (sizeof INDEX_PREFIX - 1));
    memcpy (key, INDEX_PREFIX, sizeof INDEX_PREFIX - 1);
    memcpy (key + sizeof INDEX_PREFIX - 1, transfer, len);
    key[sizeof INDEX_PREFIX - 1 + len] = 0;
}

//  ACCOUNT/P: P is UINT64_MAX - position in 20 digits, zero-padded.
static void s_row_key (const char account[SHOAL_ID_MAX + 1], uint64_t position,
                       char key[SHOAL_VIEW_KEY_MAX + 1])
{
    size_t len = strnlen (account, SHOAL_ID_MAX);
    memcpy (key, account, len);
    key[len] = '/';
    uint64_t inverted = UINT64_MAX - position;
    for (int i = 20; i >= 1; i--) {
        key[len + (size_t) i] = (char) ('0' + inverted % 10);
        inverted /= 10;
    }
    key[len + 21] = 0;
}

//  The account id of an "account/ID" address (Started's from and to).
static int s_account_id (const shoal_data_t *data, const char *key, char *id)
{
    char address[SHOAL_ADDRESS_MAX + 1];
    if (shoal_data_str (data, key, address, sizeof address) != 0 ||
        strncmp (address, "account/", 8) != 0 || !address[8] || strlen (address + 8) > SHOAL_ID_MAX)
        return SHOAL_EINVAL;
    strcpy (id, address + 8);
    return 0;
}

//  Writes the index row: new at the transfer's Started (a saga starts
//  once), so that its delete, when the transfer ends in the same batch,
//  writes nothing and reads nothing.
static void s_put_index (shoal_view_t *view, const char *transfer, const started_t *started,
                         bool new)
{
    char key[SHOAL_VIEW_KEY_MAX + 1];
    s_index_key (transfer, key);
    shoal_rec_t *index = new ? shoal_view_put_new (view, key) : shoal_view_put (view, key);
    shoal_rec_str (index, "from", started->from);
    shoal_rec_str (index, "to", started->to);
    shoal_rec_int (index, "amount", started->amount);
    shoal_rec_int (index, "at", started->at);
    shoal_rec_int (index, "position", (int64_t) started->position);
    if (started->code[0])
        shoal_rec_str (index, "code", started->code);
}

//  Writes the row of the transfer under one of its accounts (out: under
//  its source, else under its target).
static void s_put_row (shoal_view_t *view, const char *transfer, const started_t *started, bool out,
                       const char *status)
{
    const char *account = out ? started->from : started->to;
    if (strchr (account, '/'))
        return; //  not an account's id (above)
    char key[SHOAL_VIEW_KEY_MAX + 1];
    s_row_key (account, started->position, key);
    shoal_rec_t *row = shoal_view_put (view, key);
    shoal_rec_str (row, "transfer", transfer);
    shoal_rec_str (row, "from", started->from);
    shoal_rec_str (row, "to", started->to);
    shoal_rec_int (row, "amount", started->amount);
    shoal_rec_str (row, "direction", out ? "out" : "in");
    shoal_rec_str (row, "status", status);
    shoal_rec_int (row, "at", started->at);
    if (started->code[0])
        shoal_rec_str (row, "code", started->code);
}

//  The Started of transfer, read into *started. 0, or the apply's failure.
static int s_read_started (shoal_view_t *view, const shoal_event_t *event, started_t *started)
{
    const shoal_data_t *data = shoal_event_data (event);
    *started =
        (started_t){.at = shoal_event_created (event), .position = shoal_event_position (event)};
    if (s_account_id (data, "from", started->from) != 0 ||
        s_account_id (data, "to", started->to) != 0 ||
        shoal_data_int (data, "amount", &started->amount) != 0)
        return shoal_view_fail (view, "Started of %s lacks from, to or amount",
                                shoal_event_address (event));
    return 0;
}

//  A transfer's Started, its rows and index row written at once.
static int s_started_now (shoal_view_t *view, const shoal_event_t *event, const started_t *given)
{
    started_t started = *given;
    s_put_index (view, shoal_event_id (event), &started, true);
    s_put_row (view, shoal_event_id (event), &started, true, "started");
    s_put_row (view, shoal_event_id (event), &started, false, "started");
    return 0;
}

//  A later event of the saga: both rows get the new status (and its code,
//  kept in the index row until the end: the index row is written again
//  only when an event brings a code); a terminal one deletes the index
//  row.
static int s_moved (shoal_view_t *view, const shoal_event_t *event, const char *status,
                    bool terminal)
{
    const char *transfer = shoal_event_id (event);
    char key[SHOAL_VIEW_KEY_MAX + 1];
    s_index_key (transfer, key);
    const shoal_data_t *index;
    int rc = shoal_view_get (view, key, &index);
    if (rc == SHOAL_ENOTFOUND)
        return 0; //  a transfer that ended already, or started before this log (none so far)
    started_t started = {.code = ""};
    int64_t position = 0;
    if (rc != 0 || shoal_data_str (index, "from", started.from, sizeof started.from) != 0 ||
        shoal_data_str (index, "to", started.to, sizeof started.to) != 0 ||
        shoal_data_int (index, "amount", &started.amount) != 0 ||
        shoal_data_int (index, "at", &started.at) != 0 ||
        shoal_data_int (index, "position", &position) != 0)
        return shoal_view_fail (view, "the index row of transfer %s does not read: %s", transfer,
                                shoal_strerror (rc ? rc : SHOAL_EFORMAT));
    started.position = (uint64_t) position;
    bool coded =
        shoal_data_str (shoal_event_data (event), "code", started.code, sizeof started.code) == 0;
    if (!coded && shoal_data_str (index, "code", started.code, sizeof started.code) != 0)
        started.code[0] = 0;
    s_put_row (view, transfer, &started, true, status);
    s_put_row (view, transfer, &started, false, status);
    if (terminal)
        shoal_view_delete (view, key);
    else if (coded) //  else the index row holds all it held: not written again
        s_put_index (view, transfer, &started, false);
    return 0;
}

//  --------------------------------------------------------------------------
//  The batch's transfers: those that started in it, until its end.

//  A batch, following the log at full speed, holds up to some 10,000
//  transfers (PROJECTOR_STEP_MS of applies); a rebuild's, more. The state
//  is just under SHOAL_BATCH_STATE_MAX (1 MiB), zeroed at each batch's
//  start (and at each event in the kit).
#define PENDING_MAX 8192                //  transfers a batch keeps; more are written at once
#define PENDING_SLOTS 16384             //  their hash's slots (a power of two, twice as many)
#define PENDING_TEXT (PENDING_MAX * 64) //  bytes of their ids (more: written at once)

typedef struct {
    uint64_t position; //  Started's
    int64_t at, amount;
    uint32_t transfer, from, to, code; //  offsets of their text (code 0: none)
    const char *status;                //  one of s_apply's steps', or "started"
    bool terminal;
} pending_t;

typedef struct {
    uint32_t count;                 //  pending used
    uint32_t text_used;             //  text used, from 1 (0 is "none")
    uint16_t slots[PENDING_SLOTS];  //  1 + the index of a pending, 0 if free
    pending_t pending[PENDING_MAX]; //  in the order they started
    char text[PENDING_TEXT];        //  NUL-terminated ids and codes
} batch_t;
_Static_assert(sizeof (batch_t) <= SHOAL_BATCH_STATE_MAX, "the batch state fits a node's limit");

static uint32_t s_hash (const char *text)
{
    uint32_t hash = 2166136261u;
    for (const char *c = text; *c; c++)
        hash = (hash ^ (uint8_t) *c) * 16777619u;
    return hash;
}

//  The slot of transfer in the batch: its own, or the free one it would take.
static uint16_t *s_slot (batch_t *batch, const char *transfer)
{
    for (uint32_t i = s_hash (transfer);; i++) {
        uint16_t *slot = &batch->slots[i & (PENDING_SLOTS - 1)];
        if (*slot == 0 || strcmp (batch->text + batch->pending[*slot - 1].transfer, transfer) == 0)
            return slot;
    }
}

//  Copies text into the batch's text; its offset, or 0 if there is no room.
static uint32_t s_text (batch_t *batch, const char *text)
{
    size_t size = strlen (text) + 1;
    if (batch->text_used == 0)
        batch->text_used = 1;
    if (batch->text_used + size > PENDING_TEXT)
        return 0;
    uint32_t at = batch->text_used;
    memcpy (batch->text + at, text, size);
    batch->text_used += (uint32_t) size;
    return at;
}

//  Keeps transfer's start in the batch. False if it has no room (then it
//  is written at once).
static bool s_keep (batch_t *batch, uint16_t *slot, const char *transfer, const started_t *started)
{
    if (batch->count == PENDING_MAX)
        return false;
    uint32_t used = batch->text_used;
    pending_t pending = {.position = started->position,
                         .at = started->at,
                         .amount = started->amount,
                         .transfer = s_text (batch, transfer),
                         .from = s_text (batch, started->from),
                         .to = s_text (batch, started->to),
                         .status = "started"};
    if (!pending.transfer || !pending.from || !pending.to) {
        batch->text_used = used;
        return false;
    }
    batch->pending[batch->count] = pending;
    *slot = (uint16_t) ++batch->count;
    return true;
}

//  What the index row would hold of a pending transfer.
static void s_unpack (const batch_t *batch, const pending_t *pending, started_t *started)
{
    *started =
        (started_t){.amount = pending->amount, .at = pending->at, .position = pending->position};
    snprintf (started->from, sizeof started->from, "%s", batch->text + pending->from);
    snprintf (started->to, sizeof started->to, "%s", batch->text + pending->to);
    snprintf (started->code, sizeof started->code, "%s",
              pending->code ? batch->text + pending->code : "");
}

//  Writes a transfer the batch kept: its rows with the status it reached,
//  and its index row if it has not ended. One that has ended gets its
//  index row put new and deleted, as its events would have: nothing is
//  written, unless a failed commit leaves the view in doubt whether the
//  store holds one (then the delete reads, and is written if it does).
static void s_write_kept (shoal_view_t *view, const batch_t *batch, const pending_t *pending)
{
    started_t started;
    s_unpack (batch, pending, &started);
    const char *transfer = batch->text + pending->transfer;
    s_put_row (view, transfer, &started, true, pending->status);
    s_put_row (view, transfer, &started, false, pending->status);
    if (pending->terminal) {
        char key[SHOAL_VIEW_KEY_MAX + 1];
        s_index_key (transfer, key);
        shoal_view_put_new (view, key); //  no fields: deleted at once
        shoal_view_delete (view, key);
    } else
        s_put_index (view, transfer, &started, true);
}

static int s_started (shoal_view_t *view, const shoal_event_t *event)
{
    started_t started;
    int rc = s_read_started (view, event, &started);
    if (rc)
        return rc;
    batch_t *batch = shoal_view_batch_state (view);
    const char *transfer = shoal_event_id (event);
    uint16_t *slot = s_slot (batch, transfer);
    if (*slot) { //  started again in the batch: as its events one at a time
        pending_t *pending = &batch->pending[*slot - 1];
        if (pending->status && !pending->terminal) //  its index row's put_new would fail
            return shoal_view_fail (
                view, "shoal_view_put_new of \\x01transfer/%s, which holds a row", transfer);
        if (pending->status) { //  ended: written now, and the new start at once
            s_write_kept (view, batch, pending);
            pending->status = NULL;
        }
        return s_started_now (view, event, &started);
    }
    return s_keep (batch, slot, transfer, &started) ? 0 : s_started_now (view, event, &started);
}

//  A later event of a transfer the batch keeps: its status moves (and its
//  code, if the event brings one); else the rows are written at once.
static int s_later (shoal_view_t *view, const shoal_event_t *event, const char *status,
                    bool terminal)
{
    batch_t *batch = shoal_view_batch_state (view);
    uint16_t *slot = s_slot (batch, shoal_event_id (event));
    if (*slot == 0 || !batch->pending[*slot - 1].status)
        return s_moved (view, event, status, terminal); //  not kept, or written already
    pending_t *pending = &batch->pending[*slot - 1];
    if (pending->terminal)
        return 0; //  as s_moved, once the index row is gone
    char code[64];
    if (shoal_data_str (shoal_event_data (event), "code", code, sizeof code) == 0) {
        uint32_t at = s_text (batch, code);
        if (!at) { //  no room for it: written now, event by event from here
            started_t started;
            s_unpack (batch, pending, &started);
            pending->status = NULL;
            //  Its index row for s_moved to read (a put: put new at a later
            //  event's position, a failed commit's doubt would not cover it).
            s_put_index (view, shoal_event_id (event), &started, false);
            return s_moved (view, event, status, terminal);
        }
        pending->code = at;
    }
    pending->status = status;
    pending->terminal = terminal;
    return 0;
}

//  Writes each transfer the batch kept: its rows with the status it
//  reached, and its index row if it has not ended.
static int s_batch_end (shoal_view_t *view, void *state)
{
    const batch_t *batch = state;
    for (uint32_t i = 0; i < batch->count; i++)
        if (batch->pending[i].status) //  else written already
            s_write_kept (view, batch, &batch->pending[i]);
    return 0;
}

static int s_apply (shoal_view_t *view, const shoal_event_t *event)
{
    static const struct {
        const char *event, *status;
        bool terminal;
    } steps[] = {
        {"Debited", "debited", false},        {"Compensating", "compensating", false},
        {"Completed", "completed", true},     {"Failed", "failed", true},
        {"Compensated", "compensated", true},
    };
    const char *name = shoal_event_name (event);
    if (strcmp (name, "Started") == 0)
        return s_started (view, event);
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if (strcmp (name, steps[i].event) == 0)
            return s_later (view, event, steps[i].status, steps[i].terminal);
    return 0;
}

const shoal_projection_t account_transfers_projection = {
    .name = "account_transfers",
    .version = 1,
    .events = "transfer:Started transfer:Debited transfer:Compensating transfer:Completed "
              "transfer:Failed transfer:Compensated",
    .apply = s_apply,
    .batch_state_size = sizeof (batch_t),
    .batch_end = s_batch_end,
};
