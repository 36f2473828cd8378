/*  bank_view.h - the bank's projections seen from a client: the row of
    bank_totals, whether the bank's projections have caught up with their
    node's log and had their reactions answered, and a watch that follows
    bank_totals without ever waiting (the demo's live total). Queries go to
    "node/projections" (runtime/projector_serve.c). Used by the bank run
    (bank.c) and the process tests.

    Threads: a bank_watch_t, like a client_t, belongs to one thread.
*/
#ifndef BANK_VIEW_H_INCLUDED
#define BANK_VIEW_H_INCLUDED

#include "books.h"
#include "client.h"

#include <stdbool.h>
#include <stdint.h>

//  bank_totals' row "totals" (projections/bank_totals.c), and where the
//  build that answered stands in its node's log.
typedef struct {
    books_money_t balance; //  an integer, or past 64 bits a string of digits
    int64_t open, closed;
    int64_t started, completed, failed, compensated;
    uint64_t position; //  the build's next position (a sum: the largest)
    uint64_t lag;      //  events of the log it has not read yet (a sum: added)
} bank_totals_t;

//  Asks the node behind client for bank_totals' row, waiting at most
//  timeout_ms. Returns 0 with *totals (all zero but position and lag
//  while the row is not written yet); SHOAL_EREJECTED if the node refused
//  (no build served yet: code in reason, which may be NULL), or the
//  client's error (SHOAL_ETIMEOUT...).
int bank_view_totals (client_t *client, int timeout_ms, bank_totals_t *totals, char *reason,
                      size_t reason_size);

//  Adds the totals of one node into sum.
void bank_totals_add (bank_totals_t *sum, const bank_totals_t *node);

//  Asks the node behind client whether each projection of names (a
//  NULL-terminated list) is served, has read its log to the end, and has
//  no reaction awaiting its answer. Returns 0 if so; SHOAL_EBUSY if not
//  yet; SHOAL_EREJECTED if one has failed or none of a name is served
//  (reason says which); or the client's error. names NULL: every
//  projection the node serves, whatever it is (0 if it serves none).
//  reason may be NULL. A node started with --projections off refuses
//  the question (SHOAL_EREJECTED, "runs no projections").
int bank_view_settled (client_t *client, const char *const *names, int timeout_ms, char *reason,
                       size_t reason_size);

//  The bank's projections, for bank_view_settled.
extern const char *const bank_view_names[];

//  --------------------------------------------------------------------------
//  A watch of bank_totals over one node (endpoint) or every node of a
//  cluster (cluster, nodes n1..nN): a query every period_ms, its answers
//  read without waiting. A round not answered in 1.5 s is dropped (a node
//  may be down, or was killed with the query) and the clients made anew;
//  the figures shown meanwhile are the last round's.

typedef struct _bank_watch_t bank_watch_t;

//  Returns a watch, or NULL if memory ran out. endpoint and cluster are
//  borrowed for its life (one of them NULL).
bank_watch_t *bank_watch_new (const char *endpoint, const char *cluster, int nodes, int period_ms);
void bank_watch_destroy (bank_watch_t **self_p);

//  Sends the next round's queries when due and reads what came. Returns
//  true when every node answered a round: then *totals is their sum.
bool bank_watch_poll (bank_watch_t *self, bank_totals_t *totals);

#endif
