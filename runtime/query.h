/*  query.h - the queries a worker answers for its actors: "get" (the
    actor's view and version) and "events" (a page of its stream, args
    {from, limit}; the reply's "next" is where the next page starts); and
    "busiest", the worker's most messaged addresses since it was last
    asked (busiest.h), which `shoal top` asks of every worker at once
    (to `node/...`, gathered by the front like `pending`).

    A query reads and changes nothing but activation: its reply is staged
    like any other and leaves with the batch's commit, so that it never
    shows a state that is not yet durable. Internal to the worker: runs on
    the worker thread.
*/
#ifndef QUERY_H_INCLUDED
#define QUERY_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "envelope.h"

typedef struct _worker_t worker_t;

//  Answers the query envelope from a client (route, borrowed) or an actor
//  (route_size 0). An unknown query is refused as unknown_query.
void query_run (worker_t *self, const uint8_t *route, size_t route_size,
                const envelope_t *envelope);

#endif
