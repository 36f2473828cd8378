/*  testkit_internal.h - what the test kit's files share (testkit.c runs
    turns, testkit_query.c reads what they did): the kit's struct and its
    item lists. Internal to runtime/; a kit belongs to the test's thread.
*/
#ifndef TESTKIT_INTERNAL_H_INCLUDED
#define TESTKIT_INTERNAL_H_INCLUDED

#include "shoal_testkit.h"
#include "ctx.h"
#include "data.h"

#define TESTKIT_MAX_GIVEN 1024 //  uncommitted given events

//  A field map kept by the kit (an event, a command sent, a timer, a
//  reply), with what names it, parsed when a test first reads it.
typedef struct {
    char name[SHOAL_NAME_MAX + 1];
    char to[SHOAL_ADDRESS_MAX + 1];    //  a command's receiver
    char id[2 * ENVELOPE_ID_SIZE + 1]; //  a command's or a timer's id
    int64_t due;                       //  a timer's due time; a command's send time
    uint64_t seq;                      //  a timer's order among equal due times
    bool answered;                     //  a command: a reply was delivered
    uint8_t *bytes;                    //  the encoded map, owned
    size_t size;
    shoal_data_t data; //  bytes parsed, when parsed
    bool parsed;
} item_t;

//  A growable list of items.
typedef struct {
    item_t *items;
    size_t count;
    size_t max;
} list_t;

struct _shoal_testkit_t {
    const shoal_type_t *type;            //  borrowed, or in registry
    shoal_registry_t *registry;          //  for a module's types, owned
    char address[SHOAL_ADDRESS_MAX + 1]; //  the actor's
    const char *id;                      //  part of address after '/'
    int64_t now;                         //  the clock
    uint64_t seq;                        //  ids handed out
    shoal_ctx_t ctx;                     //  reused for every turn
    uint8_t *state;                      //  type->state_size bytes
    uint8_t *before;                     //  the state before the last turn
    list_t history;                      //  every event kept
    shoal_rec_t given[TESTKIT_MAX_GIVEN];
    char given_names[TESTKIT_MAX_GIVEN][SHOAL_NAME_MAX + 1];
    size_t given_count; //  given events not yet committed
    list_t ledger;      //  every command sent, for replies and stalls
    list_t pending;     //  timers set, not fired nor cancelled
    //  The prepared message.
    bool prepared;
    uint8_t kind;
    char name[SHOAL_NAME_MAX + 1];
    char from[SHOAL_ADDRESS_MAX + 1];
    char msg_id[2 * ENVELOPE_ID_SIZE + 1];
    int64_t created;
    bool accepted_reply;
    char code[ENVELOPE_CODE_MAX + 1];
    char reason[ENVELOPE_REASON_MAX + 1];
    shoal_rec_t payload;
    item_t fired; //  the pending timer being delivered, taken out
    bool has_fired;
    //  The last turn.
    bool accepted;
    char last_code[ENVELOPE_CODE_MAX + 1];
    char why[512];
    item_t reply;
    list_t events, sent, timers;
    char cancels[CTX_MAX_CANCELS][SHOAL_NAME_MAX + 1];
    size_t cancel_count;
    bool passivated; //  the accepted turn called shoal_ctx_passivate
    //  The view.
    shoal_rec_t view_rec;
    shoal_data_t view;
    bool view_open;
};

extern const shoal_data_t testkit_empty; //  map NULL: every key absent

//  Item i of list, or NULL past the end.
item_t *testkit_list_at (const list_t *list, size_t i);
//  An item's fields, parsed on first use.
const shoal_data_t *testkit_item_data (item_t *item);
//  The encoded view of state (written into rec), or NULL; *size its bytes.
const uint8_t *testkit_view_bytes (shoal_testkit_t *self, const void *state, shoal_rec_t *rec,
                                   size_t *size);
//  Runs a module's init against registry as a node does
//  (registry_module_init): a registration refused refuses the module even
//  when init returns 0. Returns 0, or the error, after saying why on
//  stderr ("caller: the module failed to start: ...", the node's words).
int testkit_module_init (shoal_registry_t *registry, shoal_module_init_fn *init,
                         const char *caller);

#endif
