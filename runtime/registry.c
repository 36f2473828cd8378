/*  registry.c - a fixed array of actor types, searched linearly: a node has
    a handful of types, and a plain array needs no lock to read. Each type
    is a copy of the struct its module registered, at this ABI's size; the
    strings and callbacks it points to stay the module's.
*/
#include "registry.h"
#include <stdlib.h>
#include <string.h>

struct _shoal_registry_t {
    shoal_type_t types[REGISTRY_MAX_TYPES]; //  copies; names and callbacks borrowed
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

//  The sizes of shoal_type_t that modules may have been built with: this
//  ABI's, and (when the struct grows) the older ones, whose missing fields
//  are left zero. Listed smallest first.
static const size_t s_type_sizes[] = {sizeof (shoal_type_t)};

static bool s_known_size (size_t size)
{
    for (size_t i = 0; i < sizeof s_type_sizes / sizeof s_type_sizes[0]; i++)
        if (s_type_sizes[i] == size)
            return true;
    return false;
}

int shoal_register_sized (shoal_registry_t *registry, const shoal_type_t *given, size_t size)
{
    if (!registry || !given)
        return SHOAL_EINVAL;
    if (!s_known_size (size))
        return SHOAL_EVERSION;
    shoal_type_t type = {0};
    memcpy (&type, given, size);
    if (!type.name || !type.handle || !type.apply || !type.view)
        return SHOAL_EINVAL;
    size_t len = strlen (type.name);
    if (len == 0 || len > SHOAL_TYPE_MAX || type.name[0] < 'a' || type.name[0] > 'z')
        return SHOAL_EINVAL;
    for (size_t i = 0; i < len; i++) {
        char c = type.name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return SHOAL_EINVAL;
    }
    for (size_t i = 0; i < registry->count; i++)
        if (strcmp (registry->types[i].name, type.name) == 0)
            return SHOAL_EEXIST;
    if (registry->count == REGISTRY_MAX_TYPES || type.state_size > SHOAL_STATE_MAX)
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
        if (strncmp (self->types[i].name, address, len) == 0 && self->types[i].name[len] == 0)
            return &self->types[i];
    return NULL;
}
