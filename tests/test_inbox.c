/*  test_inbox.c - the inbox record's optional command digest and name
    (persistence/keys.c, batch.c, journal.c) and the dead-letter records
    (persistence/dead.c), against real LevelDB files in a temporary
    directory.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"
#include "journal.h"
#include "journal_dead.h"
#include "keys.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char dir[64];
    journal_t *journal;
} fixture_t;

static int s_setup (void **state)
{
    fixture_t *fx = calloc (1, sizeof (fixture_t));
    assert_non_null (fx);
    snprintf (fx->dir, sizeof fx->dir, "/tmp/shoal-test-inbox-XXXXXX");
    assert_non_null (mkdtemp (fx->dir));
    int code;
    char *error = NULL;
    fx->journal = journal_open (fx->dir, NULL, &code, &error);
    assert_non_null (fx->journal);
    *state = fx;
    return 0;
}

static int s_teardown (void **state)
{
    fixture_t *fx = *state;
    journal_destroy (&fx->journal);
    harness_rm_rf (fx->dir);
    free (fx);
    return 0;
}

//  The usage: a record keeps the command it answered, staged and committed.
static void test_request_kept (void **state)
{
    fixture_t *fx = *state;
    uint8_t id[JOURNAL_ID_SIZE] = {1, 2, 3};
    journal_request_t request = {journal_request_digest ("Deposit", (const uint8_t *) "\x81", 1),
                                 "Deposit"};
    journal_batch_t *batch = journal_batch_new (fx->journal);
    assert_int_equal (journal_batch_inbox_record (batch, "account/a", id, (const uint8_t *) "ok", 2,
                                                  100, &request),
                      0);
    uint8_t *reply;
    size_t size;
    journal_request_t found;
    assert_int_equal (journal_batch_inbox_find (batch, "account/a", id, &reply, &size, &found), 0);
    assert_true (found.digest == request.digest);
    assert_string_equal (found.name, "Deposit");
    free (reply);
    assert_int_equal (journal_batch_commit (batch), 0);
    memset (&found, 0xff, sizeof found);
    assert_int_equal (journal_inbox_find (fx->journal, "account/a", id, &reply, &size, &found), 0);
    assert_int_equal (size, 2);
    assert_memory_equal (reply, "ok", 2);
    assert_true (found.digest == request.digest);
    assert_string_equal (found.name, "Deposit");
    free (reply);
    //  A record made without one (as before digests): digest 0, matches all.
    uint8_t other[JOURNAL_ID_SIZE] = {9};
    assert_int_equal (
        journal_batch_inbox_put (batch, "account/a", other, (const uint8_t *) "r", 1, 100), 0);
    assert_int_equal (journal_batch_commit (batch), 0);
    assert_int_equal (journal_inbox_find (fx->journal, "account/a", other, &reply, &size, &found),
                      0);
    assert_true (found.digest == 0);
    assert_string_equal (found.name, "");
    free (reply);
    journal_batch_destroy (&batch);
}

static void test_digest (void **state)
{
    (void) state;
    uint64_t a = journal_request_digest ("Add",
                                         (const uint8_t *) "\x81\xa2"
                                                           "by\x05",
                                         5);
    uint64_t b = journal_request_digest ("Add",
                                         (const uint8_t *) "\x81\xa2"
                                                           "by\x06",
                                         5);
    uint64_t c = journal_request_digest ("Ad",
                                         (const uint8_t *) "d\x81\xa2"
                                                           "by\x05",
                                         6);
    assert_true (a != b);
    assert_true (a != c); //  the NUL keeps name and payload apart
    assert_true (a == journal_request_digest ("Add",
                                              (const uint8_t *) "\x81\xa2"
                                                                "by\x05",
                                              5));
    assert_true (journal_request_digest ("", NULL, 0) != 0);
}

//  Decoding trusts nothing: a record with a digest but no name, or a name
//  too long, is damaged.
static void test_damaged_records (void **state)
{
    (void) state;
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    journal_request_t request = {42, "Open"};
    assert_int_equal (keys_inbox_encode (&buffer, 5, (const uint8_t *) "x", 1, &request), 0);
    int64_t created;
    const uint8_t *reply;
    size_t reply_len;
    journal_request_t found;
    assert_int_equal (keys_inbox_decode ((const uint8_t *) buffer.data, buffer.size, &created,
                                         &reply, &reply_len, &found),
                      0);
    assert_true (found.digest == 42);
    assert_string_equal (found.name, "Open");
    for (size_t cut = 0; cut < buffer.size; cut++)
        if (keys_inbox_decode ((const uint8_t *) buffer.data, cut, &created, &reply, &reply_len,
                               &found) != SHOAL_EFORMAT) {
            msgpack_sbuffer_destroy (&buffer);
            fail_msg ("a record cut to %zu bytes decodes", cut);
        }
    //  Four fields: a digest without a name.
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    msgpack_sbuffer_clear (&buffer);
    msgpack_pack_array (&pk, 4);
    msgpack_pack_uint8 (&pk, KEYS_FORMAT_VERSION);
    msgpack_pack_int64 (&pk, 5);
    msgpack_pack_bin_with_body (&pk, "x", 1);
    msgpack_pack_int64 (&pk, 42);
    assert_int_equal (keys_inbox_decode ((const uint8_t *) buffer.data, buffer.size, &created,
                                         &reply, &reply_len, &found),
                      SHOAL_EFORMAT);
    msgpack_sbuffer_destroy (&buffer);
}

static int s_count_dead (void *arg, const char *stream, const uint8_t id[JOURNAL_ID_SIZE],
                         const uint8_t *value, size_t size)
{
    int *count = arg;
    assert_true (strcmp (stream, "account/a") == 0 || strcmp (stream, "account/b") == 0);
    assert_int_equal (id[0], 7);
    assert_int_equal (size, 3);
    assert_memory_equal (value, "rec", 3);
    (*count)++;
    return 0;
}

static void test_dead_records (void **state)
{
    fixture_t *fx = *state;
    uint8_t id[JOURNAL_ID_SIZE] = {7};
    uint8_t *value;
    size_t size;
    assert_int_equal (journal_dead_get (fx->journal, "account/a", id, &value, &size),
                      SHOAL_ENOTFOUND);
    assert_int_equal (journal_dead_put (fx->journal, "account/a", id, (const uint8_t *) "rec", 3),
                      0);
    assert_int_equal (journal_dead_put (fx->journal, "account/b", id, (const uint8_t *) "rec", 3),
                      0);
    assert_int_equal (journal_dead_get (fx->journal, "account/a", id, &value, &size), 0);
    assert_int_equal (size, 3);
    free (value);
    assert_int_equal (journal_dead_put (fx->journal, "", id, (const uint8_t *) "rec", 3),
                      SHOAL_EINVAL);
    int count = 0;
    assert_int_equal (journal_dead_scan (fx->journal, s_count_dead, &count), 0);
    assert_int_equal (count, 2);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_request_kept, s_setup, s_teardown),
        cmocka_unit_test (test_digest),
        cmocka_unit_test (test_damaged_records),
        cmocka_unit_test_setup_teardown (test_dead_records, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
