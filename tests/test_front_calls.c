/*  test_front_calls.c - runtime/front_calls.c: what a node counts of the
    requests it forwarded to each peer, with clocks the test gives. The
    bytes out to a peer bound what the front holds for it (64 MiB), so
    they must neither grow past what is truly out nor stay counted once
    it is gone:
    1. a client's CALLs to a peer never heard from stay counted past the
       TTL (they may still sit in the link's queue); heard from since (a
       frame on its link, or an ANSWER to anyone on ours), they are
       forgotten, and their answers refused;
    2. a link that goes down takes its CALLs with it: none left counted,
       nothing owed by a client's later answers (a client that lost 74
       CALLs and went on had every peer's bytes in phantom);
    3. answers take off exactly what was sent, whatever the sizes.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "front_internal.h"

#define PEER 1
#define BIG 900000 //  a CALL's bytes

static const uint8_t s_alice[] = {0x00, 0x6b, 0x8b, 0x45, 0x67};
static const uint8_t s_bob[] = {0x00, 0x6b, 0x8b, 0x45, 0x68};

static void test_silent_peer_keeps_its_calls (void **state)
{
    front_calls_t *calls = front_calls_new (1);
    assert_non_null (calls);
    for (int i = 0; i < 74; i++)
        front_calls_sent (calls, PEER, s_alice, sizeof s_alice, BIG, 1000);
    assert_int_equal (front_calls_bytes (calls, PEER), 74ull * BIG);
    //  Past the TTL, its peer silent all along: still counted (the sweep
    //  took them off, and the next 64 MiB went out to a stopped peer).
    int64_t now = 1000 + FRONT_CALLS_TTL_MS + 1;
    int64_t silent[2] = {0, FRONT_CALLS_TTL_MS + 2};
    front_calls_sweep (calls, now, silent, 2);
    assert_int_equal (front_calls_bytes (calls, PEER), 74ull * BIG);
    assert_true (front_calls_answered (calls, PEER, s_alice, sizeof s_alice, 900));
    assert_int_equal (front_calls_bytes (calls, PEER), 73ull * BIG);
    //  Heard from since (a HELLO a second ago): forgotten, answers refused.
    silent[PEER] = 1000;
    front_calls_sweep (calls, now + FRONT_CALLS_SWEEP_MS, silent, 2);
    assert_int_equal (front_calls_bytes (calls, PEER), 0);
    assert_false (front_calls_answered (calls, PEER, s_alice, sizeof s_alice, now));
    //  A client with a recent CALL is kept, its peer heard or not.
    front_calls_sent (calls, PEER, s_bob, sizeof s_bob, BIG, now);
    front_calls_sweep (calls, now + 2 * FRONT_CALLS_SWEEP_MS, silent, 2);
    assert_int_equal (front_calls_bytes (calls, PEER), BIG);
    front_calls_destroy (&calls);
}

//  A peer whose own link to us is cut (silent) but that answers on ours:
//  an ANSWER to anyone after a client's last CALL shows that what was
//  queued then went through, and the client's unanswered ones were lost.
static void test_answers_on_our_link_count_as_heard (void **state)
{
    front_calls_t *calls = front_calls_new (1);
    assert_non_null (calls);
    for (int i = 0; i < 74; i++)
        front_calls_sent (calls, PEER, s_alice, sizeof s_alice, BIG, 1000);
    front_calls_sent (calls, PEER, s_bob, sizeof s_bob, 10, 2000);
    assert_true (front_calls_answered (calls, PEER, s_bob, sizeof s_bob, 3000));
    int64_t now = 1000 + FRONT_CALLS_TTL_MS + 1;
    int64_t silent[2] = {0, now}; //  never heard on its own link
    front_calls_sweep (calls, now, silent, 2);
    assert_int_equal (front_calls_bytes (calls, PEER), 0);
    assert_false (front_calls_answered (calls, PEER, s_alice, sizeof s_alice, now));
    front_calls_destroy (&calls);
}

static void test_link_down_takes_its_calls (void **state)
{
    front_calls_t *calls = front_calls_new (1);
    assert_non_null (calls);
    for (int i = 0; i < 74; i++)
        front_calls_sent (calls, PEER, s_alice, sizeof s_alice, BIG, 1000);
    front_calls_sent (calls, 2, s_alice, sizeof s_alice, 10, 1000); //  another peer's
    front_calls_lost (calls, PEER);
    assert_int_equal (front_calls_bytes (calls, PEER), 0);
    assert_false (front_calls_answered (calls, PEER, s_alice, sizeof s_alice, 0));
    assert_int_equal (front_calls_bytes (calls, 2), 10);
    //  The client goes on, a CALL at a time, each answered: nothing is
    //  left counted (the lost ones' count made each answer take less off,
    //  until the whole bound was phantom).
    for (int i = 0; i < 400; i++) {
        front_calls_sent (calls, PEER, s_alice, sizeof s_alice, BIG, 2000 + i);
        assert_true (front_calls_answered (calls, PEER, s_alice, sizeof s_alice, 0));
        assert_int_equal (front_calls_bytes (calls, PEER), 0);
    }
    front_calls_destroy (&calls);
}

static void test_answers_take_off_what_was_sent (void **state)
{
    front_calls_t *calls = front_calls_new (1);
    assert_non_null (calls);
    front_calls_sent (calls, PEER, s_alice, sizeof s_alice, 100, 1000);
    front_calls_sent (calls, PEER, s_alice, sizeof s_alice, 2000, 1000);
    front_calls_sent (calls, PEER, s_bob, sizeof s_bob, 333, 1000);
    assert_int_equal (front_calls_bytes (calls, PEER), 2433);
    assert_true (front_calls_answered (calls, PEER, s_alice, sizeof s_alice, 0));
    assert_true (front_calls_answered (calls, PEER, s_alice, sizeof s_alice, 0));
    assert_false (front_calls_answered (calls, PEER, s_alice, sizeof s_alice, 0));
    assert_int_equal (front_calls_bytes (calls, PEER), 333);
    assert_false (front_calls_answered (calls, 2, s_bob, sizeof s_bob, 0)); //  not asked of 2
    assert_true (front_calls_answered (calls, PEER, s_bob, sizeof s_bob, 0));
    assert_int_equal (front_calls_bytes (calls, PEER), 0);
    front_calls_destroy (&calls);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_silent_peer_keeps_its_calls),
        cmocka_unit_test (test_answers_on_our_link_count_as_heard),
        cmocka_unit_test (test_link_down_takes_its_calls),
        cmocka_unit_test (test_answers_take_off_what_was_sent),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
