/*  registry.h - the actor types a node knows, by name. Filled on the main
    thread before the workers start, read-only afterwards (so workers read
    it without locks). Internal to the runtime.
*/
#ifndef REGISTRY_H_INCLUDED
#define REGISTRY_H_INCLUDED

#include "shoal.h"

#define REGISTRY_MAX_TYPES 64
#define REGISTRY_MAX_PROJECTIONS 64
#define REGISTRY_OWNER_MAX 128 //  bytes of a module's name kept, with its NUL

shoal_registry_t *registry_new (void);
void registry_destroy (shoal_registry_t **self_p);

//  The number of types registered, and forgetting those registered after
//  the first count (a module whose init failed halfway).
size_t registry_count (const shoal_registry_t *self);
//  The name of type index (< registry_count).
const char *registry_type_name (const shoal_registry_t *self, size_t index);
void registry_truncate (shoal_registry_t *self, size_t count);

//  The type named by the part of address before '/', or NULL (also when
//  address has no '/').
const shoal_type_t *registry_lookup (const shoal_registry_t *self, const char *address);

//  The types the store holds streams of that no module registers (the
//  node started without a module it had: registry_note_stored), at most
//  REGISTRY_MAX_TYPES of them. A command to one of them is answered
//  `unavailable`, not `unknown_type`, which a saga would take for good.
//  Noting a type registered, or one noted already, changes nothing.
//  Returns true if type (len bytes) is noted by this call.
bool registry_note_stored (shoal_registry_t *self, const char *type, size_t len);
//  True if address's type is one registry_note_stored noted.
bool registry_stored (const shoal_registry_t *self, const char *address);

//  The projections registered (shoal_register_projection): how many, and
//  the index-th (copied at this ABI's size; name and apply borrowed).
size_t registry_projection_count (const shoal_registry_t *self);
const shoal_projection_t *registry_projection (const shoal_registry_t *self, size_t index);

//  A projection's events list, parsed: the words "type" or "type:Event"
//  (count 0: every event, the list "*" or NULL). A list of more words is
//  refused at registration (registry_events_refusal).
#define REGISTRY_FILTER_MAX 32 //  shoal.h's shoal_projection_t.events says it
//  Why events (a shoal_projection_t's list) is refused (static text), or
//  NULL when it is well formed: at most REGISTRY_FILTER_MAX words of
//  "type", "type:Event" or "*", separated by spaces. NULL is "*".
const char *registry_events_refusal (const char *events);
//  Warns of each word of a projection's events whose type no module
//  registers (all are registered before the node opens): a typo, as
//  "acount:Deposited", made a projection that applied nothing new, live
//  with lag 0, and said nothing. Returns how many it said.
size_t registry_warn_unknown_types (const shoal_registry_t *self);
typedef struct {
    struct {
        char type[SHOAL_TYPE_MAX + 1];
        char event[SHOAL_NAME_MAX + 1]; //  "" for every event of the type
    } words[REGISTRY_FILTER_MAX];
    size_t count;
} registry_filter_t;

//  Parses events (a list registry_events_refusal accepts) into filter.
//  Can't fail.
void registry_filter_parse (registry_filter_t *filter, const char *events);
//  True if filter wants the event named name of the actor at address.
bool registry_filter_wants (const registry_filter_t *filter, const char *address, const char *name);

//  Forgets the projections registered after the first count.
void registry_projection_truncate (shoal_registry_t *self, size_t count);

//  Sets option key of the module named module to value (copied; a value
//  set before is replaced). Returns 0, SHOAL_EINVAL for an empty name or
//  key, SHOAL_ENOMEM.
int registry_option_set (shoal_registry_t *self, const char *module, const char *key,
                         const char *value);

//  Names the module being loaded (copied), whose options
//  shoal_registry_option reads; NULL when it is done. Returns 0 or
//  SHOAL_ENOMEM.
int registry_loading (shoal_registry_t *self, const char *module);

//  Marks the options of module as taken: it has loaded (its init
//  succeeded).
void registry_options_loaded (shoal_registry_t *self, const char *module);

//  True if an option was set for a module that never loaded (no
//  registry_options_loaded of its name): a misspelt --module-opt, say;
//  sets *module and *key (borrowed) to the first.
bool registry_option_orphan (const shoal_registry_t *self, const char **module, const char **key);

//  Why the last registration was refused since a module began loading
//  (registry_loading), in words that name the type or projection and who
//  registered it first ("actor type 'account' already exists: the node
//  itself (the bank) registered it"); NULL if none was. Borrowed until the
//  next registration or registry_loading.
const char *registry_error (const shoal_registry_t *self);

//  Runs a module's init against self (new, or just named by
//  registry_loading), as a node and the test kit both do. Returns what
//  init returned, or SHOAL_EINVAL when it returned 0 but a registration
//  it made was refused (registry_error says why): the module would run
//  without that type or projection.
int registry_module_init (shoal_registry_t *self, shoal_module_init_fn *init);

#endif
