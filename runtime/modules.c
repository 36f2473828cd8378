/*  modules.c - loading a module: a shared library built against shoal.h
    (docs/MODULES.md), opened with dlopen, its ABI checked, its
    shoal_module_init run against the node's registry. See modules.h.
*/
#include "modules.h"
#include "ctx.h"
#include "log.h"
#include <czmq.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  The module whose code runs in this thread (its constructors, then its
//  init), for s_exit_guard; NULL otherwise. A thread's own: another
//  thread's exit() (a program that embeds shoal) is not the module's.
static _Thread_local const char *s_loading;

//  Run by exit(): a module that calls it while it loads ends the start
//  with exit 1 and a line that says so, not the exit 0 of a clean stop
//  with nothing said. One that calls it in a handler ends the node there
//  too, saying which (czmq's own exit handlers, with the node's threads
//  running, said only an assertion of theirs): its turn file keeps the
//  turn, which the next start counts as a crash (worker's poison check).
static void s_exit_guard (void)
{
    char running[SHOAL_ADDRESS_MAX + 2 * SHOAL_NAME_MAX + 64];
    if (!s_loading && ctx_running (running, sizeof running)) {
        log_error ("shoal node: %s called exit(): the node ends there, without a clean stop; "
                   "its next start counts the turn as a crash (docs/MODULES.md, 5)",
                   running);
        _exit (1);
    }
    if (!s_loading)
        return;
    log_error ("shoal node: module %s called exit() while it was loading: the node did not "
               "start",
               s_loading);
    _exit (1);
}

char *modules_name (const char *path)
{
    const char *base = strrchr (path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen (base);
    if (len > 3 && strcmp (base + len - 3, ".so") == 0)
        len -= 3;
    return strndup (base, len);
}

int modules_load (modules_t *self, shoal_registry_t *registry, const char *path, const char *name,
                  char **error)
{
    if (self->count == MODULES_MAX) {
        *error = zsys_sprintf ("too many modules (at most %d)", MODULES_MAX);
        return SHOAL_EMODULE;
    }
    //  A path without a slash is a file here, as for any other command:
    //  dlopen would look it up on the linker's path instead (and find a
    //  system library of that name, or nothing, never ./counter.so).
    char *here = strchr (path, '/') ? NULL : zsys_sprintf ("./%s", path);
    //  Said before its code runs (its constructors, at dlopen, then its
    //  init): one that crashes the node leaves this as the log's last line.
    log_info ("shoal node: loading module %s", path);
    static bool guarded;
    if (!guarded)
        guarded = atexit (s_exit_guard) == 0;
    s_loading = path;
    void *handle = dlopen (here ? here : path, RTLD_NOW | RTLD_LOCAL);
    s_loading = NULL;
    zstr_free (&here);
    if (!handle) {
        *error = zsys_sprintf ("cannot load module %s: %s", path, dlerror ());
        return SHOAL_EMODULE;
    }
    //  The same file given twice (dlopen counts it, and hands back the
    //  same handle): its init would register its types again.
    for (int i = 0; i < self->count; i++)
        if (self->handles[i] == handle) {
            *error = zsys_sprintf ("module %s is given twice (as two --module options, or as "
                                   "two paths to one file): give it once",
                                   path);
            dlclose (handle);
            return SHOAL_EMODULE;
        }
    //  The ABI first: a module of another ABI may not even survive its init.
    const int *abi = dlsym (handle, SHOAL_MODULE_ABI);
    if (!abi || *abi != SHOAL_ABI_VERSION) {
        if (abi)
            *error = zsys_sprintf ("module %s was built for shoal ABI %d; this node is ABI %d: "
                                   "rebuild it against this shoal's shoal.h",
                                   path, *abi, SHOAL_ABI_VERSION);
        else
            *error = zsys_sprintf ("module %s has no %s (no SHOAL_MODULE, or an older shoal); "
                                   "this node is ABI %d: rebuild it against this shoal's "
                                   "shoal.h, with `SHOAL_MODULE;` in its source",
                                   path, SHOAL_MODULE_ABI, SHOAL_ABI_VERSION);
        dlclose (handle);
        return SHOAL_EMODULE;
    }
    shoal_module_init_fn *init = (shoal_module_init_fn *) dlsym (handle, SHOAL_MODULE_ENTRY);
    if (!init) {
        *error = zsys_sprintf ("module %s has no %s function", path, SHOAL_MODULE_ENTRY);
        dlclose (handle);
        return SHOAL_EMODULE;
    }
    size_t types = registry_count (registry);
    size_t projections = registry_projection_count (registry);
    char *derived = name ? NULL : modules_name (path);
    int rc = name || derived ? registry_loading (registry, name ? name : derived) : SHOAL_ENOMEM;
    //  The working directory an init changes is changed back: a relative
    //  --data, or the next --module, is where it was given.
    int cwd = open (".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cwd < 0)
        log_warn ("shoal node: the working directory cannot be opened (%s): a module that "
                  "changes it is not followed back",
                  strerror (errno));
    s_loading = path;
    if (rc == 0)
        rc = registry_module_init (registry, init);
    s_loading = NULL;
    int lost = cwd >= 0 && fchdir (cwd) != 0 ? errno : 0;
    if (cwd >= 0)
        close (cwd);
    if (rc == 0 && lost)
        rc = SHOAL_EIO;
    if (rc == 0) //  its options are taken (shoal_node_start refuses the others)
        registry_options_loaded (registry, name ? name : derived);
    free (derived);
    registry_loading (registry, NULL);
    if (rc != 0) {
        //  What a refused registration said (its type and why), else the
        //  code the module's init returned.
        const char *why = registry_error (registry);
        if (lost)
            *error = zsys_sprintf ("module %s changed the working directory, and it cannot be "
                                   "changed back: %s",
                                   path, strerror (lost));
        else if (why)
            *error = zsys_sprintf ("module %s failed to start: %s", path, why);
        else
            *error = zsys_sprintf ("module %s failed to start: its %s returned %d (%s)", path,
                                   SHOAL_MODULE_ENTRY, rc, shoal_strerror (rc));
        registry_truncate (registry, types); //  their structs go with dlclose
        registry_projection_truncate (registry, projections);
        dlclose (handle);
        return SHOAL_EMODULE;
    }
    self->handles[self->count++] = handle;
    size_t added = registry_count (registry) - types;
    size_t viewed = registry_projection_count (registry) - projections;
    //  Nothing registered is a module's mistake (a shoal_register left out,
    //  or its result ignored), said as one: no command reaches it.
    log_write (added || viewed ? SHOAL_LOG_INFO : SHOAL_LOG_WARN,
               "shoal node: module %s loaded (%zu actor types, %zu projections)%s", path, added,
               viewed,
               added || viewed ? ""
                               : ": it registered nothing, so nothing of it runs (does its "
                                 "shoal_module_init call shoal_register?)");
    return 0;
}

void modules_close (modules_t *self)
{
    for (int i = 0; i < self->count; i++)
        dlclose (self->handles[i]);
    self->count = 0;
}
