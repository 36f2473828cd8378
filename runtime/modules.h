/*  modules.h - the modules a node loads (docs/MODULES.md): each a shared
    library whose shoal_module_init registers its actor types and
    projections.

    modules_load opens the file (a path without a slash is a file here,
    not one on the linker's path), checks its ABI, refuses one given
    twice, runs its init against the registry (logged first: an init that
    crashes the node leaves that as the log's last line; the working
    directory an init changes is changed back after it) and keeps its
    handle. A refused registration refuses the module even when its init
    returns 0. On a refusal the registry is as it was, and *error says
    why (free() it).

    Threads: the node's, before it starts.
*/
#ifndef MODULES_H_INCLUDED
#define MODULES_H_INCLUDED

#include "registry.h"

#define MODULES_MAX 32

typedef struct {
    void *handles[MODULES_MAX]; //  dlopen handles
    int count;
} modules_t;

//  The name of the module at path when it is given none: its file's base
//  name without ".so", its other dots kept (book.v2.so is book.v2).
//  Returns a string to free(), or NULL when out of memory.
char *modules_name (const char *path);

//  Loads the module at path into registry; name is its name (NULL:
//  modules_name's). Returns 0 or SHOAL_EMODULE.
int modules_load (modules_t *self, shoal_registry_t *registry, const char *path, const char *name,
                  char **error);

//  Closes every module's handle (after the registry's last use).
void modules_close (modules_t *self);

#endif
