/*  busiest.h - a worker's busiest actors: a top-K count of the messages
    each address was handed since the count was last read, for `shoal top`
    (the node-wide `busiest` query, gathered from every worker by the
    front like `pending`). Reading it resets it.

    The space-saving sketch (Metwally, Agrawal, El Abbadi 2005) of
    BUSIEST_K entries: an address in the table has its count bumped; one
    that is not takes a free entry, or else the place of the least counted
    entry, inheriting its count plus one (the inherited part is its
    error). A count overstates by at most its error and never
    understates; every address handed more than 1/K of the interval's
    messages is in the table.

    Cost per message: one pass over the address (its length and FNV-1a
    hash) and a scan of K hashes; the address is copied only when it
    enters the table. No allocation. Owned by its worker thread alone.
    Known limit: two watchers of a node reset each other's counts, so
    each sees shorter intervals; the answer says how long its was.
*/
#ifndef BUSIEST_H_INCLUDED
#define BUSIEST_H_INCLUDED

#include <msgpack.h>
#include <stdint.h>

#include "shoal_base.h"

#define BUSIEST_K 16

typedef struct {
    uint32_t hash;                       //  FNV-1a of the address
    uint32_t length;                     //  of the address
    uint64_t count;                      //  messages counted (error included)
    uint64_t error;                      //  what it inherited when it came in
    char address[SHOAL_ADDRESS_MAX + 1]; //  NUL-terminated
} busiest_entry_t;

typedef struct {
    busiest_entry_t entries[BUSIEST_K]; //  the first used are in use
    int used;                           //  entries in use
    int64_t since;                      //  monotonic ms: the last reset
} busiest_t;

//  Empties the table and starts its interval at now (monotonic ms: the
//  interval is a duration, which a wall clock stepped back would shorten).
void busiest_reset (busiest_t *self, int64_t now);

//  Counts one message to address (NUL-terminated, at most
//  SHOAL_ADDRESS_MAX bytes; a longer one is cut there). Can't fail.
void busiest_count (busiest_t *self, const char *address);

//  Packs the table into pk as an array of maps {address, messages, error,
//  interval_ms}, and resets it at now (monotonic ms). The address got from messages -
//  error to messages messages in interval_ms; rows come by the lower
//  bound, largest first.
void busiest_take (busiest_t *self, int64_t now, msgpack_packer *pk);

#endif
