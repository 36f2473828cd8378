/*  ctx_test_util.h - the probe actor type and fixture of
    test_ctx_*.c: a handler that does what its command says, run through
    one turn with no node.

    test_ctx_*.c: reading fields (shoal_data_*), building them (shoal_rec_*)
    and the handler turn (runtime/ctx.c): the message accessors, what a
    handler stages, the limits of a turn and what becomes of a handler
    that misuses its ctx, errs or refuses its own event.

    The turns are run on "probe", a small actor type defined here whose
    handler does what the command's fields ask.
*/
#ifndef SHOAL_TESTS_CTX_TEST_UTIL_H
#define SHOAL_TESTS_CTX_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ctx.h"
#include "data.h"
#include "envelope.h"
#include "harness.h"
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADDRESS "probe/p1"
#define NOW 1700000000000LL

//  --------------------------------------------------------------------------
//  The probe actor type

typedef struct {
    int64_t applied;               //  events applied
    int64_t sum;                   //  of their "n" fields
    char last[SHOAL_NAME_MAX + 1]; //  name of the last one
} probe_t;

//  What the last "Info" turn saw.
typedef struct {
    shoal_kind_t kind;
    char name[SHOAL_NAME_MAX + 1];
    char from[SHOAL_ADDRESS_MAX + 1];
    char address[SHOAL_ADDRESS_MAX + 1];
    char id[SHOAL_ADDRESS_MAX + 1];
    int64_t version;
    int64_t now;
    bool accepted;
    char code[ENVELOPE_CODE_MAX + 1];
    char reason[ENVELOPE_REASON_MAX + 1];
    int x_rc; //  shoal_data_int of field "x"
    int64_t x;
} seen_t;
extern seen_t ctx_seen;

extern const shoal_type_t ctx_probe_type;

//  --------------------------------------------------------------------------
//  Turn helpers

//  The turn fixture (harness.h), driving ctx_probe_type at ADDRESS; its
//  state is a probe_t.
typedef harness_turn_t fixture_t;

int ctx_setup (void **state);

//  The probe's state in the fixture.
const probe_t *ctx_probe (fixture_t *f);

//  Runs a command whose fields were written into f->payload.
int ctx_test_run (fixture_t *f, const char *name);

#define ACCEPT(f, name, events, sends, timers)                                                     \
    harness_turn_accepted ((f), ctx_test_run ((f), (name)), (name), (events), (sends), (timers),   \
                           __LINE__)
#define REJECT(f, name, code)                                                                      \
    harness_turn_rejected ((f), ctx_test_run ((f), (name)), (name), (code), __LINE__)

#endif
