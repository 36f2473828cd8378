/*  queryargs.h - the optional fields of a query's payload (events'
    from and limit, pending's stalled and limit, dead_letters' all,
    $resolve's force), read strictly: a field that is there must be of
    its type, or the query is refused as invalid_field, naming it. A
    field of another type was taken as absent: {"from": "5"} read the
    first page, {"stalled": "yes"} every row. Any thread: no state.
*/
#ifndef QUERYARGS_H_INCLUDED
#define QUERYARGS_H_INCLUDED

#include "shoal.h"
#include <stdio.h>

//  Reads integer field key of args into *value when it is there. Returns
//  0 (absent: *value unchanged) or SHOAL_ETYPE with why (size bytes) set.
static inline int queryargs_int (const shoal_data_t *args, const char *key, int64_t *value,
                                 char *why, size_t size)
{
    int rc = shoal_data_int (args, key, value);
    if (rc == 0 || rc == SHOAL_ENOTFOUND)
        return 0;
    snprintf (why, size, "%s must be an integer (from -2^63 to 2^63 - 1)", key);
    return SHOAL_ETYPE;
}

//  The same of a bool field.
static inline int queryargs_bool (const shoal_data_t *args, const char *key, bool *value, char *why,
                                  size_t size)
{
    int rc = shoal_data_bool (args, key, value);
    if (rc == 0 || rc == SHOAL_ENOTFOUND)
        return 0;
    snprintf (why, size, "%s must be true or false", key);
    return SHOAL_ETYPE;
}

#endif
