/*  registry.h - the actor types a node knows, by name. Filled on the main
    thread before the workers start, read-only afterwards (so workers read
    it without locks). Internal to the runtime.
*/
#ifndef REGISTRY_H_INCLUDED
#define REGISTRY_H_INCLUDED

#include "shoal.h"

#define REGISTRY_MAX_TYPES 64

shoal_registry_t *registry_new (void);
void registry_destroy (shoal_registry_t **self_p);

//  The number of types registered, and forgetting those registered after
//  the first count (a module whose init failed halfway).
size_t registry_count (const shoal_registry_t *self);
void registry_truncate (shoal_registry_t *self, size_t count);

//  The type named by the part of address before '/', or NULL (also when
//  address has no '/').
const shoal_type_t *registry_lookup (const shoal_registry_t *self, const char *address);

#endif
