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

    Known limits: an account id with a '/' shares its prefix with another
    account ("a/b" is listed under --prefix a/); in a cluster, each node
    holds the rows of the transfers whose saga it owns, and "newest
    first" holds within one node's log only. Version 1.
*/
#include "bank_projections.h"
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
    char key[SHOAL_VIEW_KEY_MAX + 1];
    s_row_key (out ? started->from : started->to, started->position, key);
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

static int s_started (shoal_view_t *view, const shoal_event_t *event)
{
    const shoal_data_t *data = shoal_event_data (event);
    started_t started = {.at = shoal_event_created (event),
                         .position = shoal_event_position (event)};
    if (s_account_id (data, "from", started.from) != 0 ||
        s_account_id (data, "to", started.to) != 0 ||
        shoal_data_int (data, "amount", &started.amount) != 0)
        return shoal_view_fail (view, "Started of %s lacks from, to or amount",
                                shoal_event_address (event));
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
            return s_moved (view, event, steps[i].status, steps[i].terminal);
    return 0;
}

const shoal_projection_t account_transfers_projection = {
    .name = "account_transfers",
    .version = 1,
    .events = "transfer:Started transfer:Debited transfer:Compensating transfer:Completed "
              "transfer:Failed transfer:Compensated",
    .apply = s_apply,
};
