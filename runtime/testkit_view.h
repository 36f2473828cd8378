/*  testkit_view.h - what the test kit's projection runner shares:
    testkit_view.c (the kit: making it, its log of events, reading its
    rows, rebuilding) and testkit_view_apply.c (one apply, and the
    shoal_view_* and shoal_event_* calls it makes over the kit's rows).
    Internal to runtime/; a kit belongs to the test's thread.
*/
#ifndef TESTKIT_VIEW_H_INCLUDED
#define TESTKIT_VIEW_H_INCLUDED

#include "shoal_testkit.h"
#include "data.h"
#include "registry.h"
#include "viewcheck.h"
#include "viewrecs.h"

#define KITVIEW_SENDS_MAX VIEWCHECK_SENDS_MAX //  commands one apply may send, as a node

//  A row, or a deletion staged by an apply: one allocation holding its
//  fields' bytes and then its key.
typedef struct {
    char *key;         //  points into bytes, after the fields
    bool deleted;      //  staged only: the row is deleted
    shoal_data_t data; //  bytes parsed, when a test read them
    bool parsed;
    size_t size; //  bytes of fields
    uint8_t bytes[];
} kitview_row_t;

//  Rows in key order.
typedef struct {
    kitview_row_t **rows;
    size_t count, max;
} kitview_rows_t;

//  An event given: the kit's log.
typedef struct {
    char address[SHOAL_ADDRESS_MAX + 1];
    char name[SHOAL_NAME_MAX + 1];
    uint8_t *bytes; //  its fields, owned
    size_t size;
    uint64_t position;
    int64_t seq;
    int64_t created;
    bool applied; //  wanted, and its apply succeeded: rebuilds apply it
} kitview_event_t;

//  A command sent by an apply.
typedef struct {
    char to[SHOAL_ADDRESS_MAX + 1];
    char name[SHOAL_NAME_MAX + 1];
    uint8_t *bytes; //  its fields, owned
    size_t size;
    shoal_data_t data; //  bytes parsed, when a test read them
    bool parsed;
} kitview_sent_t;

//  A row read by shoal_view_get, closed when apply returns. Each its own
//  allocation: a data must not move while the module holds it.
typedef struct _kitview_read_t {
    shoal_data_t data;
    struct _kitview_read_t *next;
} kitview_read_t;

//  What one apply sees: view.c's struct of the same name, over the kit.
struct _shoal_view_t {
    const char *projection;       //  its name, for its commands' sender (borrowed)
    kitview_rows_t *rows;         //  the rows applied to: the live ones or a rebuild's
    const kitview_event_t *event; //  the event being applied; NULL outside apply
    kitview_row_t **staged;       //  rows this apply wrote, in call order
    size_t staged_count, staged_max;
    kitview_read_t *reads;                 //  rows read by this apply
    char open_key[SHOAL_VIEW_KEY_MAX + 1]; //  the row of rec
    bool open_send;                        //  rec is a command to send_to
    char send_to[SHOAL_ADDRESS_MAX + 1];
    char send_name[SHOAL_NAME_MAX + 1];
    viewrecs_t recs; //  the rows and commands written by this apply, the last open
    bool rec_open;   //  the last of recs is being written
    int sends;       //  shoal_view_send calls that were accepted
    kitview_sent_t sent[KITVIEW_SENDS_MAX]; //  the commands kept, when react
    size_t sent_count;
    bool react;        //  commands are kept (live) or dropped (rebuild)
    int error;         //  the apply's first misuse, 0 if none
    char reason[256];  //  shoal_view_fail's
    void *batch_state; //  the projection's batch_state_size bytes, NULL if none
    bool ending;       //  batch_end is running
};

struct _shoal_event_t {
    const kitview_event_t *given;
    char type[SHOAL_TYPE_MAX + 1];
    const char *id;
    shoal_data_t data;
};

struct _shoal_testkit_view_t {
    shoal_registry_t *registry;           //  holds the projection, owned
    const shoal_projection_t *projection; //  in registry
    registry_filter_t filter;             //  the events it wants (registry.h)
    int64_t now;                          //  the clock
    kitview_event_t *log;                 //  every event given
    size_t log_count, log_max;
    bool prepared; //  an event is being written
    char address[SHOAL_ADDRESS_MAX + 1];
    char name[SHOAL_NAME_MAX + 1];
    shoal_rec_t payload;
    kitview_rows_t rows;                    //  the live rows
    shoal_view_t view;                      //  reused for every apply
    kitview_sent_t sent[KITVIEW_SENDS_MAX]; //  the last apply's commands
    size_t sent_count;
    bool wanted;
    char why[1024];
};

//  testkit_view_apply.c

//  The index of key in rows, or where it would go, with *found.
size_t kitview_rows_find (const kitview_rows_t *rows, const char *key, bool *found);
//  Frees the rows and empties rows.
void kitview_rows_close (kitview_rows_t *rows);
//  Closes what a test read of row (kitview_row_t.data).
void kitview_row_unparse (kitview_row_t *row);
//  Frees the count commands of sent and sets *count to 0.
void kitview_sent_clear (kitview_sent_t *sent, size_t *count);
//  Drops what the view staged: rows, commands.
void kitview_discard (shoal_view_t *view);
//  Applies event to rows with the kit's projection, as view.c's view_apply
//  does. Returns 0 with the rows changed and, if react, the commands in
//  self->view.sent; or the apply's error with self->view.reason set and
//  nothing kept.
int kitview_apply (shoal_testkit_view_t *self, kitview_rows_t *rows, const kitview_event_t *given,
                   bool react, bool alone);
//  alone: the event is a batch of its own (the batch state zeroed before,
//  batch_end after); else one of a batch that kitview_end ends, which
//  runs batch_end (if any) with last as the event its calls belong to.
int kitview_end (shoal_testkit_view_t *self, kitview_rows_t *rows, const kitview_event_t *last);

#endif
