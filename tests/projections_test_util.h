/*  projections_test_util.h - the fixture and helpers of test_projections_*.c:
    a real node with tests/projection_module.c, commands sent, queries, builds
    and controls, rows counted.

    test_projections_*.c: projections against real `shoal node` processes
    and real LevelDB files, with the projections of
    tests/projection_module.c:

    1. a rebuild from position 0 gives the same rows as the build that
       followed the events live;
    2. a node SIGKILLed in the middle of a rebuild resumes from its
       checkpoint, and no event is applied twice (tally's "seen" rows); a
       rebuild asked for while another builds is a build of its own;
    3. version 2 builds while version 1 answers, the switch comes only
       once version 2 has caught up, and a query never sees a half-built
       version; a manual version waits for `switch`; `drop`;
    4. an apply that fails stops its projection with the error and the
       position shown, `skip` moves past it, and the other projections
       and the commands go on meanwhile;
    5. a reaction whose node is SIGKILLed again and again sends each
       command exactly once: one Echoed per Pinged; a rebuild that
       replaces the build served takes over its unanswered commands;
    6. an apply that crashes the node three times in a row at one event is
       set aside: the node starts, that projection stopped there, the
       events before it applied;
    7. an apply that fails when its batch is applied again without the
       failing event: nothing of the batch kept, no event skipped;
    8. shoal_view_put_new of a key that holds a row, committed in an
       earlier batch or staged in the same one, stops the projection with
       the misuse shown, and its rows stay as they were;
    9. drops a crash cut short (a rebuild served, the build it replaced
       still in the store; a build whose checkpoint a drop deleted, its
       rows not yet) are finished at the next start: the rebuild stays
       served, with its rows;
   10. a projection that sums in its batch state (summed@1) writes what
       tally writes event by event, across batches, a failed apply (its
       batch applied again with the sums zeroed) and a SIGKILL; a
       batch_end that fails keeps nothing of its batch, and may not send;
       one that crashes the node three times is set aside at its batch's
       first event, as an apply would be;
   11. a misuse of the view API (misuse@1) stops its projection with a
       reason that names the call and the limit it broke, shown by `shoal
       projections` and logged.
   12. a query's field that is there but of another type, holds a NUL or
       is too long is refused as invalid, naming it, and changes nothing
       (projection_control, projection_rows; dead_letter_retry's who).
*/
#ifndef SHOAL_TESTS_PROJECTIONS_TEST_UTIL_H
#define SHOAL_TESTS_PROJECTIONS_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "client.h"
#include "journal.h"
#include "proc.h"

#include <leveldb/c.h>
#include <msgpack.h>

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NODE                                                                                       \
    "$SHOAL node --endpoint $E --data $DIR/data --workers 2 --metrics off --module "               \
    "\"$SHOAL_PROJECTION_MODULE\""
#define WAIT_MS 60000 //  for a projection to reach a state (ASan is slow)

int projections_setup (void **state);

int projections_teardown (void **state);

//  --------------------------------------------------------------------------
//  Talking to the node

//  Sends count commands `command` to item/i (i from first, modulo spread)
//  with {"by": i}, window of 100, and checks every one is accepted.
void projections_send_many (proc_t *p, const char *command, int first, int count, int spread);

//  A query to the projection thread; fields are "key=value" strings.
//  Returns 0 with *reply filled (close it), or fails the test on no answer.
void projections_query (proc_t *p, const char *name, client_reply_t *reply, int argc, char **argv);

//  One build as the list shows it.
typedef struct {
    bool found;
    int64_t version, build, position, lag, applied, skipped, error_position, sends;
    char status[16];
    char error[256];
    bool served;
} build_info_t;

int64_t projections_int (const msgpack_object *map, const char *key);

//  The newest build of name@version (version 0: the served one).
build_info_t projections_build (proc_t *p, const char *name, int64_t version);

//  Waits until name@version (0: the served one) has status, with lag 0
//  when status is "live". Returns what it last saw.
build_info_t projections_wait_status (proc_t *p, const char *name, int64_t version,
                                      const char *status);

//  Waits until name's served build is build, caught up (lag 0). Returns
//  what it last saw.
build_info_t projections_wait_served (proc_t *p, const char *name, int64_t build);

void projections_control (proc_t *p, const char *action, const char *name, int64_t version,
                          int64_t position, const char *expect_code);

//  All the rows of name@version (0: served), as "key=times|events..." text
//  lines in key order, into text. Returns the reply's code ("" when ok).
void projections_rows (proc_t *p, const char *name, int64_t version, char *text, size_t size,
                       char *code);

int projections_count (const char *text, const char *needle);

//  Every "seen" row of tally says times=1, and there are events of them.
void projections_assert_each_once (const char *rows, int events);

#define ROWS_MAX (1 << 21)

#endif
