/*  registry.c - a fixed array of actor types, searched linearly: a node has
    a handful of types, and a plain array needs no lock to read.
*/
#include "registry.h"
#include <stdlib.h>
#include <string.h>

struct _shoal_registry_t {
    const shoal_type_t *types[REGISTRY_MAX_TYPES]; //  borrowed, static in modules
    size_t count;
};

shoal_registry_t *registry_new (void)
{
    return calloc (1, sizeof (shoal_registry_t));
}

void registry_destroy (shoal_registry_t **self_p)
{
    if (*self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

int shoal_register (shoal_registry_t *registry, const shoal_type_t *type)
{
    if (!registry || !type || !type->name || !type->handle || !type->apply || !type->view)
        return SHOAL_EINVAL;
    size_t len = strlen (type->name);
    if (len == 0 || len > SHOAL_TYPE_MAX || type->name[0] < 'a' || type->name[0] > 'z')
        return SHOAL_EINVAL;
    for (size_t i = 0; i < len; i++) {
        char c = type->name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return SHOAL_EINVAL;
    }
    for (size_t i = 0; i < registry->count; i++)
        if (strcmp (registry->types[i]->name, type->name) == 0)
            return SHOAL_EEXIST;
    if (registry->count == REGISTRY_MAX_TYPES || type->state_size > SHOAL_STATE_MAX)
        return SHOAL_ETOOBIG;
    registry->types[registry->count++] = type;
    return 0;
}

size_t registry_count (const shoal_registry_t *self)
{
    return self->count;
}

void registry_truncate (shoal_registry_t *self, size_t count)
{
    if (count < self->count)
        self->count = count;
}

const shoal_type_t *registry_lookup (const shoal_registry_t *self, const char *address)
{
    const char *slash = strchr (address, '/');
    if (!slash)
        return NULL; //  not an actor's address
    size_t len = (size_t) (slash - address);
    for (size_t i = 0; i < self->count; i++)
        if (strncmp (self->types[i]->name, address, len) == 0 && self->types[i]->name[len] == 0)
            return self->types[i];
    return NULL;
}
