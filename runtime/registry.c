/*  registry.c - a fixed array of actor types, searched linearly: a node has
    a handful of types, and a plain array needs no lock to read. Each type
    is a copy of the struct its module registered, at this ABI's size; the
    strings and callbacks it points to stay the module's. Beside them, the
    modules' options (module, key, value), searched linearly too: a module
    reads them once, at its init.
*/
#include "registry.h"
#include "utf8.h"
#include "log.h"
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *module; //  owned
    char *key;    //  owned
    char *value;  //  owned
    bool loaded;  //  a module of that name has loaded (registry_options_loaded)
    bool read;    //  its module asked for it (shoal_registry_option)
} option_t;

struct _shoal_registry_t {
    shoal_type_t types[REGISTRY_MAX_TYPES]; //  copies; names and callbacks borrowed
    size_t count;
    shoal_projection_t projections[REGISTRY_MAX_PROJECTIONS]; //  copies, as types
    size_t projection_count;
    option_t *options; //  modules' options, owned
    size_t option_count;
    char *loading; //  the name of the module being loaded, owned; or NULL
    //  Who registered each type and projection: the module's name
    //  (truncated), or "" for the node itself. For the refusal's words.
    char type_owner[REGISTRY_MAX_TYPES][REGISTRY_OWNER_MAX];
    char projection_owner[REGISTRY_MAX_PROJECTIONS][REGISTRY_OWNER_MAX];
    char error[REGISTRY_OWNER_MAX + 128]; //  why the last refusal, or ""
    //  Types of the store's streams that no module registers.
    char stored[REGISTRY_MAX_TYPES][SHOAL_TYPE_MAX + 1];
    size_t stored_count;
};

//  Records who registers the next type or projection into owner.
static void s_owner_set (const shoal_registry_t *self, char *owner)
{
    snprintf (owner, REGISTRY_OWNER_MAX, "%s", self->loading ? self->loading : "");
}

//  Records why a registration is refused: what (the type or projection)
//  clashes with the one registered by owner.
static void s_error_exists (shoal_registry_t *self, const char *what, const char *owner)
{
    if (*owner)
        snprintf (self->error, sizeof self->error, "%s already exists: module %s registered it",
                  what, owner);
    else
        snprintf (self->error, sizeof self->error,
                  "%s already exists: the node itself (the bank) registered it", what);
}

shoal_registry_t *registry_new (void)
{
    return calloc (1, sizeof (shoal_registry_t));
}

void registry_destroy (shoal_registry_t **self_p)
{
    shoal_registry_t *self = *self_p;
    if (self) {
        for (size_t i = 0; i < self->option_count; i++) {
            free (self->options[i].module);
            free (self->options[i].key);
            free (self->options[i].value);
        }
        free (self->options);
        free (self->loading);
        free (self);
        *self_p = NULL;
    }
}

static bool s_name_ok (const char *name, size_t max)
{
    size_t len = name ? strnlen (name, max + 1) : 0;
    if (len == 0 || len > max || name[0] < 'a' || name[0] > 'z')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

//  The sizes of shoal_type_t that modules may have been built with: this
//  ABI's, and (when the struct grows) the older ones, whose missing fields
//  are left zero. Listed smallest first. ABI 2 changed the callbacks
//  (handle's const state, restore's version), so the list starts again
//  there: a struct of ABI 1 (64 bytes) is refused, never read as ABI 2's.
static const size_t s_type_sizes[] = {sizeof (shoal_type_t)};

static bool s_known_size (size_t size)
{
    for (size_t i = 0; i < sizeof s_type_sizes / sizeof s_type_sizes[0]; i++)
        if (s_type_sizes[i] == size)
            return true;
    return false;
}

//  Records why name (of an actor type or a projection: what) is refused,
//  quoted whatever its bytes. Returns SHOAL_EINVAL.
static int s_name_refused (shoal_registry_t *registry, const char *what, const char *name)
{
    char quoted[SHOAL_TYPE_MAX + 16];
    if (name)
        utf8_quote (quoted, sizeof quoted, name, strnlen (name, SHOAL_TYPE_MAX + 1), '\'');
    snprintf (registry->error, sizeof registry->error,
              "%s name %s is not 1 to %d bytes of [a-z0-9_-] starting with a letter", what,
              name ? quoted : "NULL", SHOAL_TYPE_MAX);
    return SHOAL_EINVAL;
}

int shoal_register_sized (shoal_registry_t *registry, const shoal_type_t *given, size_t size)
{
    if (!registry)
        return SHOAL_EINVAL;
    if (!given) {
        snprintf (registry->error, sizeof registry->error, "shoal_register was given NULL");
        return SHOAL_EINVAL;
    }
    if (!s_known_size (size)) {
        snprintf (registry->error, sizeof registry->error,
                  "its shoal_type_t is %zu bytes, this node's %zu: built against another "
                  "shoal.h (rebuild the module)",
                  size, sizeof (shoal_type_t));
        return SHOAL_EVERSION;
    }
    shoal_type_t type = {0};
    memcpy (&type, given, size);
    if (!s_name_ok (type.name, SHOAL_TYPE_MAX))
        return s_name_refused (registry, "actor type", type.name);
    const char *missing = !type.handle  ? "handle"
                          : !type.apply ? "apply"
                          : !type.view  ? "view"
                                        : NULL;
    if (missing || !type.snapshot != !type.restore || type.snapshot_version < 0) {
        snprintf (registry->error, sizeof registry->error, "actor type '%s': %s%s", type.name,
                  missing ? "no " : "",
                  missing                     ? missing
                  : type.snapshot_version < 0 ? "a negative snapshot_version"
                                              : "snapshot and restore go together, or neither");
        if (missing)
            strncat (registry->error, " (handle, apply and view are required)",
                     sizeof registry->error - strlen (registry->error) - 1);
        return SHOAL_EINVAL;
    }
    if (strcmp (type.name, SHOAL_PROJECTION_SENDER) == 0 || strcmp (type.name, "node") == 0) {
        snprintf (registry->error, sizeof registry->error, "actor type '%s' is the runtime's: %s",
                  type.name,
                  type.name[0] == 'n'
                      ? "node/... names a whole node in the operators' queries (pending, explain)"
                      : "the projections' reactions come from it");
        return SHOAL_EEXIST;
    }
    for (size_t i = 0; i < registry->count; i++)
        if (strcmp (registry->types[i].name, type.name) == 0) {
            char what[SHOAL_TYPE_MAX + 32];
            snprintf (what, sizeof what, "actor type '%s'", type.name);
            s_error_exists (registry, what, registry->type_owner[i]);
            return SHOAL_EEXIST;
        }
    if (registry->count == REGISTRY_MAX_TYPES || type.state_size > SHOAL_STATE_MAX) {
        if (registry->count == REGISTRY_MAX_TYPES)
            snprintf (registry->error, sizeof registry->error,
                      "actor type '%s': a node takes %d actor types at most", type.name,
                      REGISTRY_MAX_TYPES);
        else
            snprintf (registry->error, sizeof registry->error,
                      "actor type '%s': state_size %zu is past %u bytes", type.name,
                      type.state_size, SHOAL_STATE_MAX);
        return SHOAL_ETOOBIG;
    }
    s_owner_set (registry, registry->type_owner[registry->count]);
    registry->types[registry->count++] = type;
    return 0;
}

const char *registry_type_name (const shoal_registry_t *self, size_t index)
{
    return self->types[index].name;
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

//  --------------------------------------------------------------------------
//  Projections

const char *registry_events_refusal (const char *events)
{
    static const char *const malformed =
        "events must be words \"TYPE\", \"TYPE:EVENT\" or \"*\" separated by spaces (NULL "
        "for every event)";
    if (!events)
        return NULL;
    size_t words = 0;
    for (const char *at = events; *at;) {
        if (*at == ' ') {
            at++;
            continue;
        }
        size_t len = strcspn (at, " ");
        if (++words > REGISTRY_FILTER_MAX)
            return "events lists more than 32 words (a node matches 32 at most: \"TYPE\" "
                   "takes all of a type's events in one word)";
        char word[SHOAL_TYPE_MAX + SHOAL_NAME_MAX + 2];
        if (len >= sizeof word)
            return malformed;
        memcpy (word, at, len);
        word[len] = 0;
        at += len;
        if (strcmp (word, "*") == 0)
            continue;
        char *colon = strchr (word, ':');
        if (colon)
            *colon = 0;
        if (!s_name_ok (word, SHOAL_TYPE_MAX))
            return malformed;
        if (colon) {
            const char *event = colon + 1;
            size_t event_len = strlen (event);
            if (event_len == 0 || event_len > SHOAL_NAME_MAX)
                return malformed;
            for (size_t i = 0; i < event_len; i++)
                if (event[i] <= ' ' || event[i] > '~')
                    return malformed;
        }
    }
    return words > 0 ? NULL : malformed;
}

void registry_filter_parse (registry_filter_t *filter, const char *events)
{
    filter->count = 0;
    if (!events)
        return;
    for (const char *at = events; *at && filter->count < REGISTRY_FILTER_MAX;) {
        if (*at == ' ') {
            at++;
            continue;
        }
        size_t len = strcspn (at, " ");
        char word[SHOAL_TYPE_MAX + SHOAL_NAME_MAX + 2];
        snprintf (word, sizeof word, "%.*s", (int) len, at);
        at += len;
        if (strcmp (word, "*") == 0) {
            filter->count = 0; //  every event
            return;
        }
        char *colon = strchr (word, ':');
        if (colon)
            *colon = 0;
        snprintf (filter->words[filter->count].type, sizeof filter->words[0].type, "%.*s",
                  (int) (sizeof filter->words[0].type - 1), word);
        snprintf (filter->words[filter->count].event, sizeof filter->words[0].event, "%s",
                  colon ? colon + 1 : "");
        filter->count++;
    }
}

bool registry_filter_wants (const registry_filter_t *filter, const char *address, const char *name)
{
    if (filter->count == 0)
        return true;
    const char *slash = strchr (address, '/');
    size_t type_len = slash ? (size_t) (slash - address) : strlen (address);
    for (size_t i = 0; i < filter->count; i++) {
        const char *type = filter->words[i].type, *event = filter->words[i].event;
        if (strlen (type) == type_len && memcmp (type, address, type_len) == 0 &&
            (!event[0] || strcmp (event, name) == 0))
            return true;
    }
    return false;
}

//  Before batch_state_size and batch_end, and since.
static const size_t s_projection_sizes[] = {offsetof (shoal_projection_t, batch_state_size),
                                            sizeof (shoal_projection_t)};

int shoal_register_projection_sized (shoal_registry_t *registry, const shoal_projection_t *given,
                                     size_t size)
{
    if (!registry)
        return SHOAL_EINVAL;
    if (!given) {
        snprintf (registry->error, sizeof registry->error,
                  "shoal_register_projection was given NULL");
        return SHOAL_EINVAL;
    }
    bool known = false;
    for (size_t i = 0; i < sizeof s_projection_sizes / sizeof s_projection_sizes[0]; i++)
        known |= s_projection_sizes[i] == size;
    if (!known) {
        snprintf (registry->error, sizeof registry->error,
                  "its shoal_projection_t is %zu bytes, this node's %zu: built against another "
                  "shoal.h (rebuild the module)",
                  size, sizeof (shoal_projection_t));
        return SHOAL_EVERSION;
    }
    shoal_projection_t projection = {0};
    memcpy (&projection, given, size);
    if (!s_name_ok (projection.name, SHOAL_TYPE_MAX))
        return s_name_refused (registry, "projection", projection.name);
    const char *events_refusal = registry_events_refusal (projection.events);
    const char *wrong = projection.version < 1 ? "version must be 1 or more"
                        : !projection.apply    ? "no apply (it is required)"
                        : events_refusal       ? events_refusal
                        : (projection.batch_state_size > 0) != (projection.batch_end != NULL)
                            ? "batch_state_size and batch_end go together, or neither"
                        : projection.batch_state_size > SHOAL_BATCH_STATE_MAX
                            ? "batch_state_size is past SHOAL_BATCH_STATE_MAX"
                            : NULL;
    if (wrong) {
        snprintf (registry->error, sizeof registry->error, "projection '%s': %s", projection.name,
                  wrong);
        return SHOAL_EINVAL;
    }
    for (size_t i = 0; i < registry->projection_count; i++)
        if (strcmp (registry->projections[i].name, projection.name) == 0 &&
            registry->projections[i].version == projection.version) {
            char what[SHOAL_TYPE_MAX + 32];
            snprintf (what, sizeof what, "projection %s@%d", projection.name, projection.version);
            s_error_exists (registry, what, registry->projection_owner[i]);
            return SHOAL_EEXIST;
        }
    if (registry->projection_count == REGISTRY_MAX_PROJECTIONS) {
        snprintf (registry->error, sizeof registry->error,
                  "projection '%s': a node takes %d projections at most", projection.name,
                  REGISTRY_MAX_PROJECTIONS);
        return SHOAL_ETOOBIG;
    }
    s_owner_set (registry, registry->projection_owner[registry->projection_count]);
    registry->projections[registry->projection_count++] = projection;
    return 0;
}

void registry_projection_truncate (shoal_registry_t *self, size_t count)
{
    if (count < self->projection_count)
        self->projection_count = count;
}

size_t registry_projection_count (const shoal_registry_t *self)
{
    return self->projection_count;
}

const shoal_projection_t *registry_projection (const shoal_registry_t *self, size_t index)
{
    return index < self->projection_count ? &self->projections[index] : NULL;
}

//  The index of the type (len bytes) among those noted stored, or -1.
static int s_stored_index (const shoal_registry_t *self, const char *type, size_t len)
{
    for (size_t i = 0; i < self->stored_count; i++)
        if (strncmp (self->stored[i], type, len) == 0 && self->stored[i][len] == 0)
            return (int) i;
    return -1;
}

bool registry_note_stored (shoal_registry_t *self, const char *type, size_t len)
{
    char address[SHOAL_TYPE_MAX + 3];
    if (len == 0 || len > SHOAL_TYPE_MAX || self->stored_count == REGISTRY_MAX_TYPES)
        return false;
    snprintf (address, sizeof address, "%.*s/x", (int) len, type);
    if (registry_lookup (self, address) || s_stored_index (self, type, len) >= 0)
        return false;
    snprintf (self->stored[self->stored_count++], SHOAL_TYPE_MAX + 1, "%.*s", (int) len, type);
    return true;
}

bool registry_stored (const shoal_registry_t *self, const char *address)
{
    const char *slash = strchr (address, '/');
    return slash && self->stored_count &&
           s_stored_index (self, address, (size_t) (slash - address)) >= 0;
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

size_t registry_warn_unknown_types (const shoal_registry_t *self)
{
    size_t said = 0;
    for (size_t i = 0; i < self->projection_count; i++) {
        const shoal_projection_t *def = &self->projections[i];
        for (const char *at = def->events ? def->events : ""; *at;) {
            size_t len = strcspn (at, " ");
            size_t type_len = strcspn (at, ": ");
            char address[SHOAL_TYPE_MAX + 3];
            if (len && type_len <= SHOAL_TYPE_MAX && !(len == 1 && *at == '*')) {
                snprintf (address, sizeof address, "%.*s/x", (int) type_len, at);
                if (!registry_lookup (self, address)) {
                    log_warn ("projection %s@%d wants events of the type '%.*s', which no module "
                              "registers: a typo in its events? (it applies only such events "
                              "already in the log, of a module no longer loaded)",
                              def->name, def->version, (int) type_len, at);
                    said++;
                }
            }
            at += len;
            at += strspn (at, " ");
        }
    }
    return said;
}

//  --------------------------------------------------------------------------
//  Modules' options

static option_t *s_option_find (const shoal_registry_t *self, const char *module, const char *key)
{
    for (size_t i = 0; i < self->option_count; i++)
        if (strcmp (self->options[i].module, module) == 0 &&
            strcmp (self->options[i].key, key) == 0)
            return &self->options[i];
    return NULL;
}

int registry_option_set (shoal_registry_t *self, const char *module, const char *key,
                         const char *value)
{
    if (!module || !*module || !key || !*key || !value)
        return SHOAL_EINVAL;
    char *copy = strdup (value);
    if (!copy)
        return SHOAL_ENOMEM;
    option_t *option = s_option_find (self, module, key);
    if (option) {
        free (option->value);
        option->value = copy;
        return 0;
    }
    option_t *grown = realloc (self->options, (self->option_count + 1) * sizeof (option_t));
    if (!grown) {
        free (copy);
        return SHOAL_ENOMEM;
    }
    self->options = grown;
    option = &self->options[self->option_count];
    option->module = strdup (module);
    option->key = strdup (key);
    option->value = copy;
    option->loaded = false;
    option->read = false;
    if (!option->module || !option->key) {
        free (option->module);
        free (option->key);
        free (copy);
        return SHOAL_ENOMEM;
    }
    self->option_count++;
    return 0;
}

int registry_loading (shoal_registry_t *self, const char *module)
{
    if (module)
        self->error[0] = 0;
    free (self->loading);
    self->loading = NULL;
    if (module && !(self->loading = strdup (module)))
        return SHOAL_ENOMEM;
    return 0;
}

const char *shoal_registry_option (shoal_registry_t *registry, const char *key)
{
    if (!registry || !registry->loading || !key)
        return NULL;
    option_t *option = s_option_find (registry, registry->loading, key);
    if (option)
        option->read = true;
    return option ? option->value : NULL;
}

void registry_options_loaded (shoal_registry_t *self, const char *module)
{
    for (size_t i = 0; i < self->option_count; i++)
        if (strcmp (self->options[i].module, module) == 0) {
            self->options[i].loaded = true;
            //  A typo, or an option of another version of the module.
            if (!self->options[i].read)
                log_warn ("module %s: its option '%s' was given, but the module did not read "
                          "it (its options are the keys it asks shoal_registry_option for)",
                          module, self->options[i].key);
        }
}

bool registry_option_orphan (const shoal_registry_t *self, const char **module, const char **key)
{
    for (size_t i = 0; i < self->option_count; i++)
        if (!self->options[i].loaded) {
            *module = self->options[i].module;
            *key = self->options[i].key;
            return true;
        }
    return false;
}

const char *registry_error (const shoal_registry_t *self)
{
    return self->error[0] ? self->error : NULL;
}

int registry_module_init (shoal_registry_t *self, shoal_module_init_fn *init)
{
    int rc = init (self);
    return rc == 0 && registry_error (self) ? SHOAL_EINVAL : rc;
}
