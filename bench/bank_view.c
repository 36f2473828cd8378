/*  bank_view.c - the bank's projections from a client. See bank_view.h.
    Also the bank run's end check of them (bank_internal.h): once the
    transfers are done, wait until every node's projections have caught
    up and their reactions are answered, read bank_totals, and after the
    nodes stop set it beside the journal's books.

    Threads: the caller's; a watch is one thread's.
*/
#include "bank_internal.h"
#include "bank_projections.h"
#include "bank_view.h"
#include "books.h"
#include "client_window.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define SETTLE_MS (2 * 60 * 1000) //  the most the end check waits for the projections
#define ROUND_MS 1500             //  a watch's round unanswered this long is dropped

const char *const bank_view_names[] = {"bank_totals", "account_transfers", "large_debits", NULL};

//  --------------------------------------------------------------------------
//  Queries

//  A query to node/projections with {"name": name, "key": key} (either
//  NULL: not written). Its payload is the caller's to free.
static void s_query (envelope_t *request, const char *query, const char *name, const char *key,
                     msgpack_sbuffer *buffer)
{
    msgpack_sbuffer_init (buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, (name ? 1 : 0) + (key ? 1 : 0));
    const char *pairs[][2] = {{"name", name}, {"key", key}};
    for (int i = 0; i < 2; i++)
        if (pairs[i][1]) {
            msgpack_pack_str_with_body (&pk, pairs[i][0], strlen (pairs[i][0]));
            msgpack_pack_str_with_body (&pk, pairs[i][1], strlen (pairs[i][1]));
        }
    client_request (request, ENVELOPE_QUERY, NULL, "node/projections", query,
                    (const uint8_t *) buffer->data, buffer->size);
}

static void s_totals_request (envelope_t *request, msgpack_sbuffer *buffer)
{
    s_query (request, "projection_rows", "bank_totals", "totals", buffer);
}

static void s_reason (char *reason, size_t size, const client_reply_t *reply)
{
    //  Cut to fit, as a message line; none if it cannot be formatted.
    if (reason && snprintf (reason, size, "%.63s: %.200s", reply->code, reply->reason) < 0)
        reason[0] = 0;
}

//  Reads an accepted projection_rows reply of bank_totals into totals.
static int s_parse_totals (const client_reply_t *reply, bank_totals_t *totals)
{
    memset (totals, 0, sizeof *totals);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *top = map_unpack (&unpacked, reply->data, reply->size);
    const msgpack_object *rows = map_find (top, "rows");
    int64_t position = 0, lag = 0;
    int rc = SHOAL_EFORMAT;
    if (rows && rows->type == MSGPACK_OBJECT_ARRAY &&
        map_find_int (top, "position", &position) == 0 && map_find_int (top, "lag", &lag) == 0) {
        totals->position = (uint64_t) position;
        totals->lag = (uint64_t) lag;
        rc = 0;
        if (rows->via.array.size > 0) {
            const msgpack_object *row = map_find (&rows->via.array.ptr[0], "row");
            const msgpack_object *accounts = map_find (row, "accounts");
            const msgpack_object *transfers = map_find (row, "transfers");
            int64_t balance = 0;
            char digits[BOOKS_MONEY_CHARS + 1];
            if (map_find_int (row, "balance", &balance) == 0)
                totals->balance = balance;
            else if (map_find (row, "balance") &&
                     (map_find_str (row, "balance", digits, sizeof digits) != 0 ||
                      books_money_parse (digits, &totals->balance) != 0))
                rc = SHOAL_EFORMAT; //  neither: not bank_totals' row
            map_find_int (accounts, "open", &totals->open);
            map_find_int (accounts, "closed", &totals->closed);
            map_find_int (transfers, "started", &totals->started);
            map_find_int (transfers, "completed", &totals->completed);
            map_find_int (transfers, "failed", &totals->failed);
            map_find_int (transfers, "compensated", &totals->compensated);
        }
    }
    msgpack_unpacked_destroy (&unpacked);
    return rc;
}

int bank_view_totals (client_t *client, int timeout_ms, bank_totals_t *totals, char *reason,
                      size_t reason_size)
{
    envelope_t request;
    msgpack_sbuffer buffer;
    s_totals_request (&request, &buffer);
    client_reply_t reply;
    int rc = client_call (client, &request, timeout_ms, &reply);
    msgpack_sbuffer_destroy (&buffer);
    if (rc)
        return rc;
    if (reply.ok)
        rc = s_parse_totals (&reply, totals);
    else {
        s_reason (reason, reason_size, &reply);
        rc = SHOAL_EREJECTED;
    }
    client_reply_close (&reply);
    return rc;
}

void bank_totals_add (bank_totals_t *sum, const bank_totals_t *node)
{
    sum->balance += node->balance;
    sum->open += node->open;
    sum->closed += node->closed;
    sum->started += node->started;
    sum->completed += node->completed;
    sum->failed += node->failed;
    sum->compensated += node->compensated;
    sum->position = node->position > sum->position ? node->position : sum->position;
    sum->lag += node->lag;
}

//  Whether the served build (a map of the list) named name has settled:
//  0, SHOAL_EBUSY or SHOAL_EREJECTED with reason.
static int s_build_settled (const msgpack_object *build, const char *name, char *reason,
                            size_t reason_size)
{
    char status[32] = "", error[256] = "";
    int64_t lag = -1, sends = -1;
    map_find_str (build, "status", status, sizeof status);
    map_find_int (build, "lag", &lag);
    map_find_int (build, "sends", &sends);
    if (strcmp (status, "failed") == 0) {
        map_find_str (build, "error", error, sizeof error);
        snprintf (reason, reason_size, "%s has failed: %s", name, error);
        return SHOAL_EREJECTED;
    }
    if (strcmp (status, "paused") == 0) {
        snprintf (reason, reason_size, "%s is paused", name);
        return SHOAL_EREJECTED;
    }
    snprintf (reason, reason_size, "%s: %" PRId64 " events behind, %" PRId64 " sends unanswered",
              name, lag, sends);
    return lag == 0 && sends == 0 ? 0 : SHOAL_EBUSY;
}

//  Whether the build of name served in the list projections (an array of
//  maps) has settled: 0, SHOAL_EBUSY or SHOAL_EREJECTED with reason. With
//  name NULL, whether every build served has: 0 if none is.
static int s_settled_one (const msgpack_object *projections, const char *name, char *reason,
                          size_t reason_size)
{
    for (uint32_t i = 0; i < projections->via.array.size; i++) {
        const msgpack_object *build = &projections->via.array.ptr[i];
        char each[SHOAL_TYPE_MAX + 1];
        const msgpack_object *served = map_find (build, "served");
        if (map_find_str (build, "name", each, sizeof each) != 0 ||
            (name && strcmp (each, name) != 0) || !served ||
            served->type != MSGPACK_OBJECT_BOOLEAN || !served->via.boolean)
            continue;
        int rc = s_build_settled (build, each, reason, reason_size);
        if (name || rc)
            return rc; //  name's one build; or the first of all that has not settled
    }
    if (!name)
        return 0;
    snprintf (reason, reason_size, "no version of %s is served", name);
    return SHOAL_EBUSY; //  a node just started may not have served it yet
}

int bank_view_settled (client_t *client, const char *const *names, int timeout_ms, char *reason,
                       size_t reason_size)
{
    char ignored[256];
    if (!reason) {
        reason = ignored;
        reason_size = sizeof ignored;
    }
    reason[0] = 0;
    envelope_t request;
    msgpack_sbuffer buffer;
    s_query (&request, "projections", NULL, NULL, &buffer);
    client_reply_t reply;
    int rc = client_call (client, &request, timeout_ms, &reply);
    msgpack_sbuffer_destroy (&buffer);
    if (rc)
        return rc;
    if (!reply.ok) {
        s_reason (reason, reason_size, &reply);
        client_reply_close (&reply);
        return SHOAL_EREJECTED;
    }
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *projections =
        map_find (map_unpack (&unpacked, reply.data, reply.size), "projections");
    rc = projections && projections->type == MSGPACK_OBJECT_ARRAY ? 0 : SHOAL_EFORMAT;
    if (rc == 0 && !names)
        rc = s_settled_one (projections, NULL, reason, reason_size);
    for (const char *const *name = names; rc == 0 && name && *name; name++)
        rc = s_settled_one (projections, *name, reason, reason_size);
    msgpack_unpacked_destroy (&unpacked);
    client_reply_close (&reply);
    return rc;
}

//  --------------------------------------------------------------------------
//  The watch

struct _bank_watch_t {
    const char *endpoint; //  one node's, or NULL
    const char *cluster;  //  the cluster file, or NULL
    int nodes;            //  1, or the cluster's nodes
    int period_ms;
    client_t *clients[BANK_NODES_MAX];             //  made when a round needs them
    uint8_t ids[BANK_NODES_MAX][ENVELOPE_ID_SIZE]; //  this round's queries
    bool answered[BANK_NODES_MAX];                 //  this round
    bank_totals_t sum;                             //  this round's answers so far
    int64_t sent_at;                               //  the round's start (0: none in flight)
    int64_t next_at;                               //  the next round's
};

bank_watch_t *bank_watch_new (const char *endpoint, const char *cluster, int nodes, int period_ms)
{
    bank_watch_t *self = calloc (1, sizeof (bank_watch_t));
    if (self) {
        self->endpoint = endpoint;
        self->cluster = cluster;
        self->nodes = cluster && nodes > 0 ? (nodes < BANK_NODES_MAX ? nodes : BANK_NODES_MAX) : 1;
        self->period_ms = period_ms;
    }
    return self;
}

static void s_watch_drop_clients (bank_watch_t *self)
{
    for (int i = 0; i < self->nodes; i++)
        client_destroy (&self->clients[i]);
}

void bank_watch_destroy (bank_watch_t **self_p)
{
    if (*self_p) {
        s_watch_drop_clients (*self_p);
        free (*self_p);
        *self_p = NULL;
    }
}

//  Sends the round's query to every node. False if a client cannot be
//  made or take it.
static bool s_watch_send (bank_watch_t *self)
{
    memset (&self->sum, 0, sizeof self->sum);
    for (int i = 0; i < self->nodes; i++) {
        if (!self->clients[i] && self->cluster) {
            char name[16], *error = NULL;
            snprintf (name, sizeof name, "n%d", i + 1);
            self->clients[i] = client_new_cluster (self->cluster, name, &error);
            free (error);
            if (self->clients[i])
                client_set_send_timeout (self->clients[i], 0);
        } else if (!self->clients[i])
            self->clients[i] = client_new (self->endpoint);
        if (!self->clients[i])
            return false;
        envelope_t request;
        msgpack_sbuffer buffer;
        s_totals_request (&request, &buffer);
        memcpy (self->ids[i], request.id, ENVELOPE_ID_SIZE);
        int rc = client_send (self->clients[i], &request);
        msgpack_sbuffer_destroy (&buffer);
        if (rc)
            return false;
        self->answered[i] = false;
    }
    return true;
}

bool bank_watch_poll (bank_watch_t *self, bank_totals_t *totals)
{
    int64_t now = zclock_mono ();
    if (!self->sent_at) {
        if (now < self->next_at)
            return false;
        self->next_at = now + self->period_ms;
        if (!s_watch_send (self))
            return false; //  a cluster's links not up yet: the same clients next time
        self->sent_at = now;
    }
    int answered = 0;
    for (int i = 0; i < self->nodes; i++) {
        client_reply_t reply;
        while (!self->answered[i] && client_recv (self->clients[i], 0, &reply) != SHOAL_ETIMEOUT) {
            bank_totals_t node;
            if (reply.frame && memcmp (reply.correlation, self->ids[i], ENVELOPE_ID_SIZE) == 0 &&
                reply.ok && s_parse_totals (&reply, &node) == 0) {
                bank_totals_add (&self->sum, &node);
                self->answered[i] = true;
            }
            client_reply_close (&reply);
        }
        answered += self->answered[i];
    }
    if (answered == self->nodes) {
        *totals = self->sum;
        self->sent_at = 0;
        return true;
    }
    if (now - self->sent_at >= ROUND_MS) {
        s_watch_drop_clients (self); //  a node down: new clients, new round
        self->sent_at = 0;
    }
    return false;
}

//  --------------------------------------------------------------------------
//  The bank run's end check

//  A client of node i of the run. NULL (said on stderr) if it cannot be made.
static client_t *s_client (const run_t *run, int i)
{
    if (!run->cluster)
        return client_new (run->endpoint);
    char name[16], *error = NULL;
    snprintf (name, sizeof name, "n%d", i + 1);
    client_t *client = client_new_cluster (run->cluster, name, &error);
    if (!client)
        fprintf (stderr, "%s: %s\n", driver_command, error ? error : "out of memory");
    free (error);
    return client;
}

//  Waits until node i's projections have settled, then reads its totals
//  with a lag of 0 into totals. Returns 0 or a negative code, with reason.
static int s_settle_node (const run_t *run, int i, int64_t deadline, bank_totals_t *totals,
                          char *reason, size_t reason_size)
{
    client_t *client = s_client (run, i);
    if (!client)
        return SHOAL_EINVAL;
    int rc = SHOAL_ETIMEOUT;
    while (zclock_mono () < deadline && !zsys_interrupted) {
        rc = bank_view_settled (client, bank_view_names, 5000, reason, reason_size);
        if (rc == 0)
            rc = bank_view_totals (client, 5000, totals, reason, reason_size);
        if (rc == 0 && totals->lag == 0)
            break;
        if (rc == SHOAL_EREJECTED && strstr (reason, "has failed"))
            break;
        if (rc == 0)
            rc = SHOAL_EBUSY; //  an event came meanwhile: again
        zclock_sleep (50);
    }
    client_destroy (&client);
    return rc;
}

int bank_view_caught_up (run_t *run)
{
    int64_t deadline = zclock_mono () + SETTLE_MS;
    int rc = 0;
    for (int i = 0; rc == 0 && i < run->node_count; i++) {
        client_t *client = s_client (run, i);
        if (!client)
            return SHOAL_EINVAL;
        char reason[300];
        while ((rc = bank_view_settled (client, NULL, 5000, reason, sizeof reason)) ==
                   SHOAL_EBUSY &&
               zclock_mono () < deadline && !zsys_interrupted)
            zclock_sleep (20);
        if (rc == SHOAL_EREJECTED && strstr (reason, "runs no projections"))
            rc = 0; //  --projections off: nothing to wait for
        client_destroy (&client);
    }
    return rc;
}

int bank_view_settle (run_t *run)
{
    bank_result_t *result = run->result;
    int64_t deadline = zclock_mono () + SETTLE_MS;
    memset (&result->projected, 0, sizeof result->projected);
    for (int i = 0; i < run->node_count; i++) {
        char reason[300] = "", label[32];
        bank_totals_t node;
        int rc = s_settle_node (run, i, deadline, &node, reason, sizeof reason);
        if (rc) {
            bank_node_label (run, i, label, sizeof label);
            snprintf (result->problem, sizeof result->problem,
                      "the projections of the %s did not settle: %s (%s)", label,
                      shoal_strerror (rc), reason[0] ? reason : "no answer");
            return rc;
        }
        bank_totals_add (&result->projected, &node);
    }
    result->has_projected = true;
    return 0;
}

//  Sets result->problem, unless it holds one, to what differs.
static void s_differs (bank_result_t *result, const char *what, books_money_t projected,
                       books_money_t journal)
{
    char text[BOOKS_MONEY_CHARS], said[BOOKS_MONEY_CHARS];
    if (!result->problem[0] && projected != journal)
        snprintf (result->problem, sizeof result->problem,
                  "bank_totals says %s is %s, the journal %s", what,
                  books_money_str (projected, said), books_money_str (journal, text));
}

void bank_view_check (run_t *run, books_t *books)
{
    bank_result_t *result = run->result;
    books_summary_t summary;
    books_verify (books, &summary); //  its invariants are bank.c's to report
    result->open = summary.open;
    result->closed = summary.closed;
    result->started = summary.started;
    books_review_t review;
    books_review (books, LARGE_DEBIT_MIN, &review);
    result->large_debits = review.debits;
    result->flags = review.flags;
    if (!result->has_projected)
        return;
    const bank_totals_t *p = &result->projected;
    s_differs (result, "the balance", p->balance, summary.total);
    s_differs (result, "the accounts open", p->open, (int64_t) summary.open);
    s_differs (result, "the accounts closed", p->closed, (int64_t) summary.closed);
    s_differs (result, "the transfers started", p->started, (int64_t) summary.started);
    s_differs (result, "the transfers completed", p->completed, (int64_t) summary.completed);
    s_differs (result, "the transfers failed", p->failed, (int64_t) summary.failed);
    s_differs (result, "the transfers compensated", p->compensated, (int64_t) summary.compensated);
    if (!result->problem[0] && (review.flagged_once != review.debits || review.wrong))
        snprintf (result->problem, sizeof result->problem,
                  "%zu debits of at least %d, %zu of them flagged once in review actors, %zu "
                  "flags in all (transfer %s flagged wrongly)",
                  review.debits, LARGE_DEBIT_MIN, review.flagged_once, review.flags,
                  review.first_wrong[0] ? review.first_wrong : "none");
}
