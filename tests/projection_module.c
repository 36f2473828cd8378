/*  projection_module.c - a module of projections for tests/test_projections_*.c,
    built as a shared library and loaded by `shoal node --module`. It sees
    only the public header, as a user's module would.

    item/ID: Add{by} -> Added{by}; Poison -> Poisoned; Ping -> Pinged;
    Boom -> Boomed.
    echo/ID: Echo{position(, by)} -> Echoed{position, from(, by)}: what a
    reaction sends, and whom it came from (shoal_msg_from); with
    projection.echo_fail=1 its handler fails (a storage error, as a
    module's bug or its outside service would), so nothing is kept.

    Projections (options: projection.version, default 1; projection.manual,
    "1" for a manual switch; projection.slow_us, a pause in each apply of
    tally, to make a rebuild last):
    - tally@VERSION: every item event. Row "seen/<position, 12 digits>" =
      {times}, incremented: an event applied twice shows times 2. Row
      "total" = {events, sum, version}.
    - strict@1: item events; fails on Poisoned (projection.strict_us, a
      pause in each of its applies, to make a rebuild last).
    - pinger@1: on item:Pinged, sends Echo{position} to echo/<the item's id>
      (as pinger@N with projection.pinger_version=N; with
      projection.pinger_next=1, pinger@2 too, waiting for a manual switch,
      its Echo with "by": 2; with projection.pinger_next=auto, pinger@2
      switched to without an operator; with projection.pinger=0, no
      pinger at all; projection.pinger_us, a pause in each of their
      applies, so that a build takes more than one step to catch up).
    - wide@1: on item:Added, reads twelve rows "slot/NN", then adds 1 to
      the "n" of each (rows read stay valid while more are read).
    - crasher@1 (with projection.crasher=1): aborts the process on
      item:Boomed, as a module's bug would; counts the other item events
      in "total" as strict does.
    - once@1 (with projection.once=1): on item:Added, puts the row
      "added/<the item's id>" = {position} with shoal_view_put_new, as if
      an item were added once: a second Added of one item is misuse.
    - flaky@1 (with projection.flaky=1): as strict, and fails on
      item:Pinged the second time (and only then) that it applies one, as
      an apply that depends on something outside its events would.
    - summed@1 (with projection.summed=1): tally's "total" {events, sum}
      through a batch state: each apply adds to the batch's sums,
      batch_end writes the row once. Fails on Poisoned, as strict; a
      batch with a Pinged fails in batch_end, after trying a send there
      ("send refused: yes" in its reason when the node refused it); a
      batch with a Boomed aborts the process in batch_end.
    - misuse@1 (with projection.misuse=1): on item:Added{by}, misuses the
      view API as by says (s_misuse), or in batch_end for by 9; any
      other by is fine.
    - fat@1 (with projection.fat=1): on item:Added{by}, puts the row
      "fat/<the item's id>" = {pad: a string of by KiB, at most 1100}:
      rows whose answers pass a reply's limit.
    - spin@1 (with projection.spin=1): on item:Added{by} with by 99, never
      returns (an apply that loops); any other by puts the row "spun".
*/
#include "shoal.h"
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

SHOAL_MODULE;

static int s_version = 1;
static long s_slow_us;
static long s_strict_us; //  a pause in each apply of strict
static long s_echo_ms;
static bool s_echo_fail;
static long s_pinger_us; //  a pause in each apply of a pinger

static int s_item_handle (shoal_ctx_t *ctx, const void *state, const shoal_msg_t *msg)
{
    (void) state;
    const char *name = shoal_msg_name (msg);
    if (strcmp (name, "Add") == 0) {
        int64_t by;
        if (shoal_data_int (shoal_msg_data (msg), "by", &by) != 0)
            return shoal_ctx_reject (ctx, "invalid_field", "by must be an integer");
        shoal_rec_int (shoal_ctx_emit (ctx, "Added"), "by", by);
        return 0;
    }
    if (strcmp (name, "Poison") == 0) {
        shoal_ctx_emit (ctx, "Poisoned");
        return 0;
    }
    if (strcmp (name, "Ping") == 0) {
        shoal_ctx_emit (ctx, "Pinged");
        return 0;
    }
    if (strcmp (name, "Boom") == 0) {
        shoal_ctx_emit (ctx, "Boomed");
        return 0;
    }
    return shoal_ctx_reject (ctx, "unknown_command", "an item takes Add, Poison and Ping");
}

static int s_echo_handle (shoal_ctx_t *ctx, const void *state, const shoal_msg_t *msg)
{
    (void) state;
    int64_t position;
    if (strcmp (shoal_msg_name (msg), "Echo") != 0 ||
        shoal_data_int (shoal_msg_data (msg), "position", &position) != 0)
        return shoal_ctx_reject (ctx, "invalid_field", "an echo takes Echo{position}");
    if (s_echo_ms)
        usleep ((useconds_t) s_echo_ms * 1000); //  answers come late: reactions wait in the outbox
    if (s_echo_fail)
        return SHOAL_EIO; //  a failed turn: handler_error, not stored
    shoal_rec_t *echoed = shoal_ctx_emit (ctx, "Echoed");
    shoal_rec_int (echoed, "position", position);
    shoal_rec_str (echoed, "from", shoal_msg_from (msg));
    int64_t by;
    if (shoal_data_int (shoal_msg_data (msg), "by", &by) == 0)
        shoal_rec_int (echoed, "by", by);
    return 0;
}

static int s_apply_any (void *state, const char *event, const shoal_data_t *data)
{
    (void) state;
    (void) event;
    (void) data;
    return 0;
}

static void s_view_none (const void *state, shoal_rec_t *out)
{
    (void) state;
    (void) out;
}

static const shoal_type_t s_item = {.name = "item",
                                    .state_size = 1,
                                    .apply = s_apply_any,
                                    .handle = s_item_handle,
                                    .view = s_view_none};
static const shoal_type_t s_echo = {.name = "echo",
                                    .state_size = 1,
                                    .apply = s_apply_any,
                                    .handle = s_echo_handle,
                                    .view = s_view_none};

static int s_tally (shoal_view_t *view, const shoal_event_t *event)
{
    if (s_slow_us)
        usleep ((useconds_t) s_slow_us);
    char key[32];
    snprintf (key, sizeof key, "seen/%012" PRIu64, shoal_event_position (event));
    const shoal_data_t *row;
    int64_t times = 0, events = 0, sum = 0, by = 0;
    if (shoal_view_get (view, key, &row) == 0)
        shoal_data_int (row, "times", &times);
    shoal_rec_int (shoal_view_put (view, key), "times", times + 1);
    if (shoal_view_get (view, "total", &row) == 0) {
        shoal_data_int (row, "events", &events);
        shoal_data_int (row, "sum", &sum);
    }
    shoal_data_int (shoal_event_data (event), "by", &by);
    shoal_rec_t *total = shoal_view_put (view, "total");
    shoal_rec_int (total, "events", events + 1);
    shoal_rec_int (total, "sum", sum + by);
    shoal_rec_int (total, "version", s_version);
    return 0;
}

static int s_strict (shoal_view_t *view, const shoal_event_t *event)
{
    if (s_strict_us)
        usleep ((useconds_t) s_strict_us);
    if (strcmp (shoal_event_name (event), "Poisoned") == 0)
        return shoal_view_fail (view, "%s of %s cannot be counted", shoal_event_name (event),
                                shoal_event_address (event));
    const shoal_data_t *row;
    int64_t events = 0;
    if (shoal_view_get (view, "total", &row) == 0)
        shoal_data_int (row, "events", &events);
    shoal_rec_int (shoal_view_put (view, "total"), "events", events + 1);
    return 0;
}

//  Reads twelve rows, then uses every one of them: each row read stays
//  valid until apply returns, however many are read after it.
static int s_wide (shoal_view_t *view, const shoal_event_t *event)
{
    (void) event;
    const shoal_data_t *rows[12];
    char key[16];
    for (int i = 0; i < 12; i++) {
        snprintf (key, sizeof key, "slot/%02d", i);
        if (shoal_view_get (view, key, &rows[i]) != 0)
            rows[i] = NULL;
    }
    int64_t counts[12];
    for (int i = 0; i < 12; i++) {
        counts[i] = 0;
        if (rows[i])
            shoal_data_int (rows[i], "n", &counts[i]);
    }
    for (int i = 0; i < 12; i++) {
        snprintf (key, sizeof key, "slot/%02d", i);
        shoal_rec_int (shoal_view_put (view, key), "n", counts[i] + 1);
    }
    return 0;
}

static int s_flaky_pings;

static int s_flaky (shoal_view_t *view, const shoal_event_t *event)
{
    if (strcmp (shoal_event_name (event), "Pinged") == 0 && ++s_flaky_pings == 2)
        return shoal_view_fail (view, "a flaky apply (Pinged, the second time)");
    return s_strict (view, event);
}

//  A projection that crashes the process, as a module's bug would, on
//  Boomed; counts the other item events as strict does.
static int s_crasher (shoal_view_t *view, const shoal_event_t *event)
{
    if (strcmp (shoal_event_name (event), "Boomed") == 0)
        abort ();
    return s_strict (view, event);
}

static int s_once (shoal_view_t *view, const shoal_event_t *event)
{
    char key[SHOAL_ADDRESS_MAX + 16];
    snprintf (key, sizeof key, "added/%s", shoal_event_id (event));
    shoal_rec_int (shoal_view_put_new (view, key), "position",
                   (int64_t) shoal_event_position (event));
    return 0;
}

static int s_pinger (shoal_view_t *view, const shoal_event_t *event)
{
    if (s_pinger_us)
        usleep ((useconds_t) s_pinger_us);
    char to[SHOAL_ADDRESS_MAX + 1];
    snprintf (to, sizeof to, "echo/%s", shoal_event_id (event));
    shoal_rec_int (shoal_view_send (view, to, "Echo"), "position",
                   (int64_t) shoal_event_position (event));
    return 0;
}

//  pinger@2's: the same Echo, with "by": 2 (another command under the
//  same id, which echo/ID would refuse as id_reused after version 1's).
static int s_pinger2 (shoal_view_t *view, const shoal_event_t *event)
{
    if (s_pinger_us)
        usleep ((useconds_t) s_pinger_us);
    char to[SHOAL_ADDRESS_MAX + 1];
    snprintf (to, sizeof to, "echo/%s", shoal_event_id (event));
    shoal_rec_t *echo = shoal_view_send (view, to, "Echo");
    shoal_rec_int (echo, "position", (int64_t) shoal_event_position (event));
    shoal_rec_int (echo, "by", 2);
    return 0;
}

typedef struct {
    int64_t events, sum;
    bool pinged, boomed;
} sums_t;

static int s_summed (shoal_view_t *view, const shoal_event_t *event)
{
    sums_t *sums = shoal_view_batch_state (view);
    if (!sums)
        return shoal_view_fail (view, "no batch state");
    if (strcmp (shoal_event_name (event), "Poisoned") == 0)
        return shoal_view_fail (view, "%s of %s cannot be counted", shoal_event_name (event),
                                shoal_event_address (event));
    int64_t by = 0;
    shoal_data_int (shoal_event_data (event), "by", &by);
    sums->events++;
    sums->sum += by;
    if (strcmp (shoal_event_name (event), "Pinged") == 0)
        sums->pinged = true;
    if (strcmp (shoal_event_name (event), "Boomed") == 0)
        sums->boomed = true;
    return 0;
}

static int s_summed_end (shoal_view_t *view, void *batch_state)
{
    const sums_t *sums = batch_state;
    if (sums->boomed)
        abort ();
    if (sums->pinged) {
        bool refused = shoal_view_send (view, "echo/x", "Echo") == NULL;
        return shoal_view_fail (view, "a batch with a Pinged (send refused: %s)",
                                refused ? "yes" : "no");
    }
    const shoal_data_t *row;
    int64_t events = 0, sum = 0;
    if (shoal_view_get (view, "total", &row) == 0) {
        shoal_data_int (row, "events", &events);
        shoal_data_int (row, "sum", &sum);
    }
    shoal_rec_t *total = shoal_view_put (view, "total");
    shoal_rec_int (total, "events", events + sums->events);
    shoal_rec_int (total, "sum", sum + sums->sum);
    return 0;
}

//  misuse@1: on Added{by}, one misuse of the view API by number: 1 a row
//  key of 600 bytes, 2 an empty key, 3 17 sends, 4 a send to no address,
//  5 a NULL string in a row, 6 a map begun and not ended in a command's
//  fields, 7 a row nested 17 deep, 8 a row given the key k twice; 9 an
//  empty key in batch_end; 10 a command too big for an envelope; 11 a
//  command holding a string that is not UTF-8; 13 a row's fields written
//  after the next row was put, 14 after a get; 15 shoal_view_fail not
//  returned. 12 (and any other) is fine.
static const uint8_t s_big[1100 * 1024];

static int s_misuse (shoal_view_t *view, const shoal_event_t *event)
{
    bool *in_batch_end = shoal_view_batch_state (view);
    int64_t by = 0;
    shoal_data_int (shoal_event_data (event), "by", &by);
    char key[600];
    const shoal_data_t *row;
    shoal_rec_t *rec;
    switch (by) {
    case 1:
        memset (key, 'k', sizeof key - 1);
        key[sizeof key - 1] = 0;
        shoal_rec_int (shoal_view_put (view, key), "n", 1);
        break;
    case 2:
        shoal_view_get (view, "", &row);
        break;
    case 3:
        for (int i = 0; i < 17; i++)
            shoal_view_send (view, "echo/m", "Echo");
        break;
    case 4:
        shoal_view_send (view, "nobody", "Echo");
        break;
    case 5:
        shoal_rec_str (shoal_view_put (view, "row/5"), "name", NULL);
        break;
    case 6:
        shoal_rec_map_begin (shoal_view_send (view, "echo/m", "Echo"), "open");
        break;
    case 7:
        rec = shoal_view_put (view, "row/7");
        for (int i = 0; i < 17; i++)
            shoal_rec_map_begin (rec, "m");
        break;
    case 8:
        rec = shoal_view_put (view, "row/8");
        shoal_rec_int (rec, "k", 1);
        shoal_rec_int (rec, "k", 2);
        break;
    case 9:
        *in_batch_end = true;
        break;
    case 10:
        shoal_rec_bytes (shoal_view_send (view, "echo/m", "Echo"), "big", s_big, sizeof s_big);
        break;
    case 11: //  the node's front would refuse it bad_frame: never run
        shoal_rec_str (shoal_view_send (view, "echo/m", "Echo"), "note", "a\xff");
        break;
    case 13: //  row/13a's field, written after row/13b was put, landed there
        rec = shoal_view_put (view, "row/13a");
        shoal_view_put (view, "row/13b");
        shoal_rec_int (rec, "x", 1);
        break;
    case 14: //  written after a get: lost
        rec = shoal_view_put (view, "row/14");
        shoal_view_get (view, "fine", &row);
        shoal_rec_int (rec, "n", 1);
        break;
    case 15: //  a failure the apply did not return: applied
        shoal_view_fail (view, "by 15 fails");
        shoal_rec_int (shoal_view_put (view, "row/15"), "n", 1);
        break;
    default:
        shoal_rec_int (shoal_view_put (view, "fine"), "by", by);
    }
    return 0;
}

static int s_spin (shoal_view_t *view, const shoal_event_t *event)
{
    int64_t by = 0;
    shoal_data_int (shoal_event_data (event), "by", &by);
    volatile bool spin = by == 99;
    while (spin)
        ; //  volatile: a loop the compiler may not drop
    shoal_rec_int (shoal_view_put (view, "spun"), "by", by);
    return 0;
}

static char s_pad[1100 * 1024 + 1]; //  'x' but for the end, fat@1's rows

static int s_fat (shoal_view_t *view, const shoal_event_t *event)
{
    int64_t by = 0;
    shoal_data_int (shoal_event_data (event), "by", &by);
    size_t size = by > 0 && by <= 1100 ? (size_t) by * 1024 : 0;
    char key[300];
    snprintf (key, sizeof key, "fat/%s", shoal_event_id (event));
    s_pad[size] = 0;
    shoal_rec_str (shoal_view_put (view, key), "pad", s_pad);
    s_pad[size] = 'x';
    return 0;
}

static int s_misuse_end (shoal_view_t *view, void *batch_state)
{
    const bool *misuse = batch_state;
    if (*misuse)
        shoal_view_delete (view, "");
    return 0;
}

int shoal_module_init (shoal_registry_t *registry)
{
    const char *version = shoal_registry_option (registry, "version");
    const char *manual = shoal_registry_option (registry, "manual");
    const char *slow = shoal_registry_option (registry, "slow_us");
    const char *echo_ms = shoal_registry_option (registry, "echo_ms");
    s_echo_ms = echo_ms ? atol (echo_ms) : 0;
    const char *echo_fail = shoal_registry_option (registry, "echo_fail");
    s_echo_fail = echo_fail && strcmp (echo_fail, "1") == 0;
    const char *pinger_us = shoal_registry_option (registry, "pinger_us");
    s_pinger_us = pinger_us ? atol (pinger_us) : 0;
    s_version = version ? atoi (version) : 1;
    s_slow_us = slow ? atol (slow) : 0;
    const char *strict_us = shoal_registry_option (registry, "strict_us");
    s_strict_us = strict_us ? atol (strict_us) : 0;
    static shoal_projection_t tally = {.name = "tally", .events = "item", .apply = s_tally};
    tally.version = s_version;
    tally.manual_switch = manual && strcmp (manual, "1") == 0;
    static const shoal_projection_t strict = {
        .name = "strict", .version = 1, .events = "item", .apply = s_strict};
    static const shoal_projection_t wide = {
        .name = "wide", .version = 1, .events = "item:Added", .apply = s_wide};
    static shoal_projection_t pinger = {
        .name = "pinger", .version = 1, .events = "item:Pinged", .apply = s_pinger};
    const char *pinger_version = shoal_registry_option (registry, "pinger_version");
    pinger.version = pinger_version ? atoi (pinger_version) : 1;
    int rc = shoal_register (registry, &s_item);
    if (rc == 0)
        rc = shoal_register (registry, &s_echo);
    if (rc == 0)
        rc = shoal_register_projection (registry, &tally);
    if (rc == 0)
        rc = shoal_register_projection (registry, &strict);
    const char *pinger_on = shoal_registry_option (registry, "pinger");
    bool pingers = !pinger_on || strcmp (pinger_on, "0") != 0;
    if (rc == 0 && pingers)
        rc = shoal_register_projection (registry, &pinger);
    const char *pinger_next = shoal_registry_option (registry, "pinger_next");
    static shoal_projection_t pinger2 = {.name = "pinger",
                                         .version = 2,
                                         .manual_switch = true,
                                         .events = "item:Pinged",
                                         .apply = s_pinger2};
    pinger2.manual_switch = !pinger_next || strcmp (pinger_next, "auto") != 0;
    if (rc == 0 && pingers && pinger_next &&
        (strcmp (pinger_next, "1") == 0 || strcmp (pinger_next, "auto") == 0))
        rc = shoal_register_projection (registry, &pinger2);
    if (rc == 0)
        rc = shoal_register_projection (registry, &wide);
    const char *crasher_on = shoal_registry_option (registry, "crasher");
    static const shoal_projection_t crasher = {
        .name = "crasher", .version = 1, .events = "item", .apply = s_crasher};
    if (rc == 0 && crasher_on && strcmp (crasher_on, "1") == 0)
        rc = shoal_register_projection (registry, &crasher);
    const char *once_on = shoal_registry_option (registry, "once");
    static const shoal_projection_t once = {
        .name = "once", .version = 1, .events = "item:Added", .apply = s_once};
    if (rc == 0 && once_on && strcmp (once_on, "1") == 0)
        rc = shoal_register_projection (registry, &once);
    const char *flaky_on = shoal_registry_option (registry, "flaky");
    static const shoal_projection_t flaky = {
        .name = "flaky", .version = 1, .events = "item", .apply = s_flaky};
    if (rc == 0 && flaky_on && strcmp (flaky_on, "1") == 0)
        rc = shoal_register_projection (registry, &flaky);
    const char *summed_on = shoal_registry_option (registry, "summed");
    static const shoal_projection_t summed = {.name = "summed",
                                              .version = 1,
                                              .events = "item",
                                              .apply = s_summed,
                                              .batch_state_size = sizeof (sums_t),
                                              .batch_end = s_summed_end};
    if (rc == 0 && summed_on && strcmp (summed_on, "1") == 0)
        rc = shoal_register_projection (registry, &summed);
    const char *misuse_on = shoal_registry_option (registry, "misuse");
    static const shoal_projection_t misuse = {.name = "misuse",
                                              .version = 1,
                                              .events = "item:Added",
                                              .apply = s_misuse,
                                              .batch_state_size = sizeof (bool),
                                              .batch_end = s_misuse_end};
    if (rc == 0 && misuse_on && strcmp (misuse_on, "1") == 0)
        rc = shoal_register_projection (registry, &misuse);
    const char *fat_on = shoal_registry_option (registry, "fat");
    static const shoal_projection_t fat = {
        .name = "fat", .version = 1, .events = "item:Added", .apply = s_fat};
    memset (s_pad, 'x', sizeof s_pad - 1);
    if (rc == 0 && fat_on && strcmp (fat_on, "1") == 0)
        rc = shoal_register_projection (registry, &fat);
    //  typo@1 (with projection.typo=1): events "itme:Added item:Pinged *",
    //  a type no module registers beside two words that are fine.
    const char *typo_on = shoal_registry_option (registry, "typo");
    static const shoal_projection_t typo = {
        .name = "typo", .version = 1, .events = "itme:Added item:Pinged *", .apply = s_fat};
    if (rc == 0 && typo_on && strcmp (typo_on, "1") == 0)
        rc = shoal_register_projection (registry, &typo);
    const char *spin_on = shoal_registry_option (registry, "spin");
    static const shoal_projection_t spin = {
        .name = "spin", .version = 1, .events = "item:Added", .apply = s_spin};
    if (rc == 0 && spin_on && strcmp (spin_on, "1") == 0)
        rc = shoal_register_projection (registry, &spin);
    return rc;
}
