/*  test_bank_projections_reactions.c - the bank's reaction through real nodes:
    large_debits flagging each large debit once across SIGKILLs, reaction
    ids no one else can take, a rebuild keeping reactions, the review actor
    taking flags from projections only, a debit flagged however long after
    it large_debits decides it. The fixture:
    bank_projections_test_util.h.
*/
#include "bank.h"
#include "bank_projections.h"
#include "books.h"
#include "client_window.h"

#include <czmq.h>
#include <msgpack.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "bank_projections_test_util.h"

//  --------------------------------------------------------------------------
//  (c) large_debits: each large debit flagged exactly once across SIGKILLs

#define ROUND_TRANSFERS 24

//  The amount of transfer k: 599 (just under the threshold), 600 (at it)
//  or more.
static int64_t s_amount (int k)
{
    return k % 3 == 0 ? LARGE_DEBIT_MIN - 1 : k % 3 == 1 ? LARGE_DEBIT_MIN : 650 + k;
}

//  The flags that review/ACCOUNT (address) counts.
static int64_t s_flags (fixture_t *f, const char *address)
{
    client_reply_t reply;
    assert_int_equal (bank_projections_call (f, ENVELOPE_QUERY, NULL, address, "get", &reply, NULL),
                      0);
    assert_true (reply.ok);
    int64_t flags = -1;
    assert_int_equal (reply_state_int (&reply, "flags", &flags), 0);
    client_reply_close (&reply);
    return flags;
}

//  Stops the node and reads its journal: one Flagged for each of the
//  expected large debits (600 or more), none for less, none twice.
static void s_flagged_once (fixture_t *f, size_t expected)
{
    bank_projections_stop (f, SIGTERM);
    books_t *books = books_new ();
    char *error = NULL;
    assert_int_equal (books_read_dir (books, f->data, &error), 0);
    books_review_t review;
    books_review (books, LARGE_DEBIT_MIN, &review);
    books_destroy (&books);
    print_message ("large debits %zu, flagged once %zu, flags %zu, wrong %zu %s\n", review.debits,
                   review.flagged_once, review.flags, review.wrong, review.first_wrong);
    assert_int_equal (review.debits, expected);
    assert_int_equal (review.flagged_once, expected);
    assert_int_equal (review.flags, expected);
    assert_int_equal (review.wrong, 0);
}

//  Sends the Start of every transfer of round (ids "rROUND-K"), without
//  waiting for the replies: the same ids every time, so a second call
//  after a restart starts only what the first did not.
static void s_send_round (fixture_t *f, int round)
{
    for (int k = 0; k < ROUND_TRANSFERS; k++) {
        char id[32], address[48], from[32], to[32], amount[32];
        snprintf (id, sizeof id, "r%d-%d", round, k);
        snprintf (address, sizeof address, "transfer/%s", id);
        snprintf (from, sizeof from, "from=x%d", k % 4);
        snprintf (to, sizeof to, "to=x%d", (k + 1) % 4);
        snprintf (amount, sizeof amount, "amount=%lld", (long long) s_amount (k));
        char *fields[] = {from, to, amount};
        uint8_t *payload, message_id[ENVELOPE_ID_SIZE];
        size_t size;
        char error[64];
        assert_int_equal (client_fields (3, fields, &payload, &size, error, sizeof error), 0);
        client_id_from_string (id, message_id);
        envelope_t request;
        client_request (&request, ENVELOPE_COMMAND, message_id, address, "Start", payload, size);
        assert_int_equal (client_send (f->client, &request), 0);
        free (payload);
    }
}

//  Starts a round and kills the node with SIGKILL as soon as large_debits
//  has applied a debit of it, at the first sight of a reaction still
//  unanswered if there is one in the meantime.
static void s_round_killed (fixture_t *f, int round)
{
    build_t before, now = {0};
    assert_true (bank_projections_build (f, "large_debits", &before));
    s_send_round (f, round);
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (zclock_mono () < deadline && !(bank_projections_build (f, "large_debits", &now) &&
                                          (now.sends > 0 || now.applied > before.applied)))
        ;
    print_message ("round %d: SIGKILL with large_debits at %lld debits applied, %lld sends "
                   "unanswered\n",
                   round, (long long) now.applied, (long long) now.sends);
    assert_true (now.applied > before.applied || now.sends > 0);
    bank_projections_stop (f, SIGKILL);
    bank_projections_start (f);
}

static void test_large_debits_flagged_once (void **state)
{
    fixture_t *f = *state;
    bank_projections_start (f);
    for (int i = 0; i < 4; i++) {
        char address[32];
        snprintf (address, sizeof address, "account/x%d", i);
        bank_projections_must (f, address, "Open", "owner=x", NULL);
        bank_projections_must (f, address, "Deposit", "amount=1000000", NULL);
    }
    s_round_killed (f, 1);
    s_round_killed (f, 2);
    //  Every Start again (the node may have lost some in the kills): the
    //  same ids start nothing twice.
    for (int round = 1; round <= 2; round++) {
        s_send_round (f, round);
        for (int k = 0; k < ROUND_TRANSFERS; k++) {
            char id[32], status[32];
            snprintf (id, sizeof id, "r%d-%d", round, k);
            bank_projections_wait_terminal (f, id, status, sizeof status);
            assert_string_equal (status, "completed");
        }
    }
    bank_projections_wait_settled (f);
    //  review/x1 collects the large debits of account/x1: the transfers
    //  k = 1 (mod 4) of each round whose amount is at least 600.
    int64_t expected_x1 = 0, expected = 0;
    for (int k = 0; k < ROUND_TRANSFERS; k++)
        if (s_amount (k) >= LARGE_DEBIT_MIN) {
            expected += 2;
            expected_x1 += k % 4 == 1 ? 2 : 0;
        }
    int64_t flags = s_flags (f, "review/x1");
    assert_int_equal (flags, expected_x1);
    //  The journal: one Flagged per debit of 600 or more, none for 599.
    s_flagged_once (f, (size_t) expected);
}

//  --------------------------------------------------------------------------
//  (c3) A reaction's id cannot be taken first. Its last 8 bytes are the
//  event's position and rank, which a client reads (the projections'
//  `end`); its first 8 were a hash of the projection's name and them
//  alone. A client sent review/a a command under the ids large_debits
//  would use for the next events: the Flag was refused as a reused id and
//  the debit never flagged. The store's secret salt is mixed in now.

//  The id of a reaction as it was computed before the salt.
static void s_unsalted_id (uint8_t id[ENVELOPE_ID_SIZE], const char *name, uint64_t position)
{
    uint64_t hash = 14695981039346656037ull;
    for (const char *c = name; *c; c++)
        hash = (hash ^ (uint8_t) *c) * 1099511628211ull;
    uint64_t tail = position << 4;
    uint64_t mixed = hash ^ tail;
    mixed = (mixed ^ (mixed >> 30)) * 0xbf58476d1ce4e5b9ull;
    mixed = (mixed ^ (mixed >> 27)) * 0x94d049bb133111ebull;
    mixed ^= mixed >> 31;
    for (int i = 0; i < 8; i++) {
        id[i] = (uint8_t) (mixed >> (56 - 8 * i));
        id[8 + i] = (uint8_t) (tail >> (56 - 8 * i));
    }
}

static void test_reaction_ids_cannot_be_taken (void **state)
{
    fixture_t *f = *state;
    bank_projections_start (f);
    bank_projections_must (f, "account/a", "Open", "owner=a", NULL);
    bank_projections_must (f, "account/b", "Open", "owner=b", NULL);
    bank_projections_must (f, "account/a", "Deposit", "amount=5000", NULL);
    bank_projections_wait_settled (f);
    client_reply_t reply;
    assert_int_equal (bank_projections_call (f, ENVELOPE_QUERY, NULL, "node/projections",
                                             "projections", &reply, NULL),
                      0);
    int64_t end = -1;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    map_find_int (map_unpack (&unpacked, reply.data, reply.size), "end", &end);
    msgpack_unpacked_destroy (&unpacked);
    client_reply_close (&reply);
    assert_true (end > 0);
    //  The ids of the next 16 positions, taken with a Flag review/a refuses
    //  (once because a client's is not a projection's, once because it had
    //  no account field).
    for (int64_t position = end; position < end + 16; position++) {
        char *fields[] = {"squat=1"};
        uint8_t *payload, id[ENVELOPE_ID_SIZE];
        size_t size;
        char error[64];
        assert_int_equal (client_fields (1, fields, &payload, &size, error, sizeof error), 0);
        s_unsalted_id (id, "large_debits", (uint64_t) position);
        envelope_t request;
        client_request (&request, ENVELOPE_COMMAND, id, "review/a", "Flag", payload, size);
        assert_int_equal (client_call (f->client, &request, 10000, &reply), 0);
        assert_false (reply.ok);
        assert_string_equal (reply.code, "not_a_projection");
        client_reply_close (&reply);
        free (payload);
    }
    bank_projections_must (f, "transfer/t1", "Start", "from=a", "to=b", "amount=900", NULL);
    char status[32];
    bank_projections_wait_terminal (f, "t1", status, sizeof status);
    assert_string_equal (status, "completed");
    bank_projections_wait_settled (f);
    int64_t flags = s_flags (f, "review/a");
    assert_int_equal (flags, 1); //  the debit of 900, flagged
    bank_projections_stop (f, SIGTERM);
}

//  --------------------------------------------------------------------------
//  (d) large_debits rebuilt while the build it replaces is behind

//  A rebuild of large_debits while the build it replaces is paused (or
//  behind the log for another reason: a full disk's retries, the linger)
//  must not lose the reactions of the events in between. The new build
//  does not react while the old one serves, and its switch drops the old
//  one wherever it stood: the debit of 800 made while it was paused was
//  never flagged (found from outside: `shoal projections pause
//  large_debits`, a transfer, `shoal projections rebuild large_debits`;
//  review/ACCOUNT then lacks its Flagged for good, while the projection's
//  own row counts it).
static void test_rebuild_keeps_reactions (void **state)
{
    fixture_t *f = *state;
    bank_projections_start (f);
    bank_projections_must (f, "account/x0", "Open", "owner=x", NULL);
    bank_projections_must (f, "account/x0", "Deposit", "amount=1000000", NULL);
    bank_projections_must (f, "account/x1", "Open", "owner=x", NULL);
    char status[32];
    bank_projections_must (f, "transfer/rb-1", "Start", "from=x0", "to=x1", "amount=700", NULL);
    bank_projections_wait_terminal (f, "rb-1", status, sizeof status);
    assert_string_equal (status, "completed");
    bank_projections_wait_settled (f);
    bank_projections_control (f, "pause", "large_debits");
    bank_projections_must (f, "transfer/rb-2", "Start", "from=x0", "to=x1", "amount=800", NULL);
    bank_projections_wait_terminal (f, "rb-2", status, sizeof status);
    assert_string_equal (status, "completed");
    bank_projections_control (f, "rebuild", "large_debits");
    //  The rebuild serves once caught up and drops the build it replaced.
    int64_t deadline = zclock_mono () + WAIT_MS;
    build_t build = {0};
    while (zclock_mono () < deadline && !(bank_projections_build (f, "large_debits", &build) &&
                                          build.count == 1 && build.number == 1))
        zclock_sleep (20);
    assert_int_equal (build.count, 1);
    assert_int_equal (build.number, 1);
    bank_projections_wait_settled (f); //  every reaction sent is answered
    int64_t flags = s_flags (f, "review/x0");
    print_message ("review/x0: %lld flags of 2 large debits\n", (long long) flags);
    assert_int_equal (flags, 2);
    s_flagged_once (f, 2);
}

//  --------------------------------------------------------------------------
//  The review actor's refusals, and its view

//  A flag is the bank's word on a debit: only a projection's reaction may
//  raise one. A client's Flag was taken (review/ID showed it to the person
//  who reviews), and a client could not be told from large_debits, whose
//  reactions went out as a client's commands. Now they come from
//  "projection/large_debits", which the front takes from the projection
//  thread's own socket alone.
static void test_flags_from_projections_only (void **state)
{
    fixture_t *f = *state;
    bank_projections_start (f);
    bank_projections_refused (f, "review/r", "Flag", "not_a_projection", "account=r", "transfer=t",
                              "amount=700");
    //  A client that names the projection as its sender.
    char *fields[] = {"account=r", "transfer=t", "amount=700"};
    uint8_t *payload;
    size_t size;
    char error[64];
    assert_int_equal (client_fields (3, fields, &payload, &size, error, sizeof error), 0);
    envelope_t request;
    client_request (&request, ENVELOPE_COMMAND, NULL, "review/r", "Flag", payload, size);
    snprintf (request.from, sizeof request.from, "%s", "projection/large_debits");
    client_reply_t reply;
    assert_int_equal (client_call (f->client, &request, 10000, &reply), 0);
    assert_false (reply.ok);
    assert_string_equal (reply.code, "bad_from");
    client_reply_close (&reply);
    free (payload);
    int64_t flags = -1, amount = -1;
    assert_int_equal (
        bank_projections_call (f, ENVELOPE_QUERY, NULL, "review/r", "get", &reply, NULL), 0);
    assert_true (reply.ok);
    assert_int_equal (reply_state_int (&reply, "flags", &flags), 0);
    assert_int_equal (flags, 0);
    client_reply_close (&reply);
    //  Seven large debits of account/r: seven flags, one at a time, so
    //  that they come in the transfers' order.
    bank_projections_must (f, "account/r", "Open", "owner=r", NULL);
    bank_projections_must (f, "account/s", "Open", "owner=s", NULL);
    bank_projections_must (f, "account/r", "Deposit", "amount=10000", NULL);
    for (int i = 1; i <= 7; i++) {
        char address[32], status[32];
        snprintf (address, sizeof address, "transfer/t%d", i);
        bank_projections_must (f, address, "Start", "from=r", "to=s", "amount=700", NULL);
        snprintf (address, sizeof address, "t%d", i);
        bank_projections_wait_terminal (f, address, status, sizeof status);
        assert_string_equal (status, "completed");
        bank_projections_wait_settled (f);
    }
    assert_int_equal (
        bank_projections_call (f, ENVELOPE_QUERY, NULL, "review/r", "get", &reply, NULL), 0);
    assert_true (reply.ok);
    assert_int_equal (reply_state_int (&reply, "flags", &flags), 0);
    assert_int_equal (reply_state_int (&reply, "amount", &amount), 0);
    assert_int_equal (flags, 7);
    assert_int_equal (amount, 4900);
    //  The last REVIEW_LAST (5), newest first: t7 down to t3.
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *view = map_find (map_unpack (&unpacked, reply.data, reply.size), "state");
    const msgpack_object *last = map_find (view, "last");
    assert_non_null (last);
    assert_int_equal (last->type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal (last->via.array.size, 5);
    for (int i = 0; i < 5; i++) {
        char transfer[16], expected[16];
        snprintf (expected, sizeof expected, "t%d", 7 - i);
        assert_int_equal (
            map_find_str (&last->via.array.ptr[i], "transfer", transfer, sizeof transfer), 0);
        assert_string_equal (transfer, expected);
    }
    msgpack_unpacked_destroy (&unpacked);
    client_reply_close (&reply);
}

//  --------------------------------------------------------------------------
//  A reaction decided longer after its event than the inbox retention.
//  Its command carried the event's time as its created, so its target
//  refused it as expired and the reaction was dropped: a large debit made
//  while large_debits was paused (or failed, or off) for longer than the
//  retention was never flagged. The first build to decide an event now
//  stamps its command when it decides it.

//  The node's "pruned" counter.
static int64_t s_pruned (fixture_t *f)
{
    client_reply_t reply;
    assert_int_equal (
        bank_projections_call (f, ENVELOPE_QUERY, NULL, "node/stats", "stats", &reply, NULL), 0);
    int64_t value = -1;
    map_int (reply.data, reply.size, "pruned", &value);
    client_reply_close (&reply);
    return value;
}

static void test_flag_after_the_retention (void **state)
{
    fixture_t *f = *state;
    f->retention_ms = "3000";
    bank_projections_start (f);
    bank_projections_must (f, "account/p", "Open", "owner=p", NULL);
    bank_projections_must (f, "account/q", "Open", "owner=q", NULL);
    bank_projections_wait_settled (f);
    bank_projections_control (f, "pause", "large_debits");
    bank_projections_must (f, "account/p", "Deposit", "amount=5000", NULL);
    bank_projections_must (f, "transfer/tp", "Start", "from=p", "to=q", "amount=700", NULL);
    char status[32];
    bank_projections_wait_terminal (f, "tp", status, sizeof status);
    assert_string_equal (status, "completed");
    //  A command after the debit, with an inbox record of its own: once
    //  the janitor prunes it, the debit is older than the retention too.
    bank_projections_must (f, "account/q", "Deposit", "amount=1", NULL);
    int64_t pruned = s_pruned (f), deadline = zclock_mono () + WAIT_MS;
    while (s_pruned (f) < pruned + 2) {
        if (zclock_mono () > deadline)
            fail_msg ("the node never pruned the Deposits' inbox records");
        zclock_sleep (100); //  between two asks, within the deadline
    }
    bank_projections_control (f, "resume", "large_debits");
    bank_projections_wait_settled (f);
    int64_t flags = s_flags (f, "review/p");
    if (flags != 1)
        fail_msg ("review/p has %lld flags, not 1: the debit decided after the retention was "
                  "not flagged",
                  (long long) flags);
    //  And once: the journal holds one Flagged for the one large debit.
    s_flagged_once (f, 1);
}

int main (void)
{
    if (!getenv ("SHOAL_BIN")) {
        fprintf (stderr, "test_bank_projections_reactions: run through ctest (SHOAL_BIN unset)\n");
        return 1;
    }
    signal (SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_large_debits_flagged_once, bank_projections_setup,
                                         bank_projections_teardown),
        cmocka_unit_test_setup_teardown (test_reaction_ids_cannot_be_taken, bank_projections_setup,
                                         bank_projections_teardown),
        cmocka_unit_test_setup_teardown (test_rebuild_keeps_reactions, bank_projections_setup,
                                         bank_projections_teardown),
        cmocka_unit_test_setup_teardown (test_flags_from_projections_only, bank_projections_setup,
                                         bank_projections_teardown),
        cmocka_unit_test_setup_teardown (test_flag_after_the_retention, bank_projections_setup,
                                         bank_projections_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
