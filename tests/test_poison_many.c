/*  test_poison_many.c - more dead letters than a node lists, with a real
    node: one real dead letter (tests/poison_module.c crashes the node
    three times), then, the node stopped, 2,100 copies of its record under
    other ids written into its store through the journal (real LevelDB
    files), as a module that crashed on many messages would leave them.
    The node lists its first 2,000 and says how many more it holds (it
    said nothing: the list just ended), and `drop` finds one past them
    (it answered not_found: the tool looked for it in the list). 2,000
    records of the longest fields are listed in part, not refused whole.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>

#include <cmocka.h>

#include "journal_dead.h"
#include "proc.h"

#include <msgpack.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define NODE_ARGS                                                                                  \
    "$SHOAL node --endpoint $E --data $DIR/data --workers 2 --metrics off "                        \
    "--module \"$SHOAL_TEST_MODULE\" --module \"$SHOAL_POISON_MODULE\""
#define CRASHING "env SHOAL_POISON=1 " NODE_ARGS
#define EXIT_MS 30000 //  a crash comes within this of a start
#define COPIES 2100   //  past the 2,000 a node lists

static int s_setup (void **state)
{
    *state = proc_new ("test-poison-many");
    return 0;
}

static int s_teardown (void **state)
{
    proc_t *p = *state;
    proc_destroy (&p);
    return 0;
}

//  counter/f sends Boom to poison/p through its outbox; the node crashes
//  on it three times, restarted as a supervisor would; started once more
//  it lists the dead letter, and is stopped.
static void s_one_dead_letter (proc_t *p)
{
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    proc_node_start (p, CRASHING);
    int rc = proc_run (p, out, err,
                       "$SHOAL send --endpoint $E --timeout 5000 counter/f Forward to=poison/p "
                       "name=Boom");
    assert_true (rc == 0 || rc == 3); //  the node may die before the reply leaves
    proc_node_crash (p, 3, EXIT_MS, CRASHING);
    //  The next start counts the third crash: the record says dead.
    proc_node_start (p, NODE_ARGS);
    assert_int_equal (proc_run (p, out, err, "$SHOAL dead-letters --endpoint $E"), 0);
    proc_assert_has (out, "poison/p");
    proc_node_signal (p, SIGTERM);
}

typedef struct {
    uint8_t *value;
    size_t size;
} first_t;

static int s_first (void *arg, const char *stream, const uint8_t id[JOURNAL_ID_SIZE],
                    const uint8_t *value, size_t size)
{
    (void) id;
    first_t *first = arg;
    assert_string_equal (stream, "poison/p");
    first->value = malloc (size);
    assert_non_null (first->value);
    memcpy (first->value, value, size);
    first->size = size;
    return 1;
}

//  Writes COPIES copies of the store's one dead-letter record, for
//  poison/p, under ids ff..ff00 00 to ff..ff08 33: after any real id.
static void s_copy_record (proc_t *p)
{
    char data[128];
    snprintf (data, sizeof data, "%s/data", p->dir);
    int code;
    char *error = NULL;
    journal_t *journal = journal_open (data, NULL, &code, &error);
    if (!journal)
        fail_msg ("%s: %s", data, error);
    first_t first = {0};
    assert_int_equal (journal_dead_scan (journal, s_first, &first), 0);
    assert_non_null (first.value);
    for (int i = 0; i < COPIES; i++) {
        uint8_t id[JOURNAL_ID_SIZE];
        memset (id, 0xff, sizeof id);
        id[JOURNAL_ID_SIZE - 2] = (uint8_t) (i >> 8);
        id[JOURNAL_ID_SIZE - 1] = (uint8_t) i;
        assert_int_equal (journal_dead_put (journal, "poison/p", id, first.value, first.size), 0);
    }
    free (first.value);
    journal_destroy (&journal);
}

//  `dead-letters --json`, parsed: the entries listed and not_shown, as
//  "LISTED NOT_SHOWN\n" in expected; nothing on stderr. Kept in
//  DIR/list.json.
static void s_json_list (proc_t *p, const char *expected)
{
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL dead-letters --endpoint $E --json >$DIR/list.json"), 0);
    assert_string_equal (err, "");
    assert_int_equal (proc_run (p, out, err,
                                "python3 -c 'import json, sys; d = json.load (open (sys.argv[1])); "
                                "print (len (d[\"dead_letters\"]), d[\"not_shown\"])' "
                                "$DIR/list.json"),
                      0);
    assert_string_equal (out, expected);
}

static void test_more_than_listed (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    s_one_dead_letter (p);
    s_copy_record (p);
    proc_node_start (p, NODE_ARGS);

    //  The first 2,000, and a line that says what is not shown.
    assert_int_equal (proc_run (p, out, err, "$SHOAL dead-letters --endpoint $E >$DIR/list"), 0);
    assert_string_equal (err, "shoal dead-letters: the node lists its first 2000; 101 more are "
                              "not shown (retry and drop take any of them by its id)\n");
    assert_int_equal (proc_run (p, out, err, "grep -c '^poison/p ' $DIR/list"), 0);
    assert_string_equal (out, "2000\n");
    s_json_list (p, "2000 101\n");
    //  The last copy sorts last: not in the list, yet found and dropped.
    const char *last = "ffffffffffffffffffffffffffff0833";
    assert_int_equal (proc_run (p, out, err, "grep -c %s $DIR/list.json", last), 1);
    int rc =
        proc_run (p, out, err, "$SHOAL dead-letters --endpoint $E drop --reason test %s", last);
    if (rc != 0)
        fail_msg ("drop past the list: exit %d: %s %s", rc, out, err);
    proc_assert_has (out, "\"state\":\"dropped\"");
    //  The first copy, by an operator whose $USER holds an escape sequence:
    //  as text, the node's strings move no cursor, the escape is a '?'.
    const char *first = "ffffffffffffffffffffffffffff0000";
    assert_int_equal (proc_run (p, out, err,
                                "env USER=\"$(printf 'x\\033[2J')\" $SHOAL dead-letters "
                                "--endpoint $E drop --reason test %s",
                                first),
                      0);
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL dead-letters --endpoint $E --all >$DIR/all 2>/dev/null"), 0);
    assert_int_equal (proc_run (p, out, err, "grep -c 'x?\\[2J' $DIR/all"), 0);
    assert_string_equal (out, "1\n");
    assert_int_equal (proc_run (p, out, err, "grep -c \"$(printf '\\033')\" $DIR/all"), 1);
    //  Decided once: a second drop finds it decided, not missing.
    rc = proc_run (p, out, err, "$SHOAL dead-letters --endpoint $E drop --reason test %s", last);
    assert_int_equal (rc, 1);
    proc_assert_has (err, " refused: the message ");
    proc_assert_has (err, " was dropped already: only a dead or suspect one is retried or dropped");
    //  Two dead letters fewer: 99 past the list now.
    s_json_list (p, "2000 99\n");
}

//  A dead-letter record as runtime/deadletter.c writes one: [1, kind,
//  name, crashes, last_crash, state, who, decided_at, frame], with the
//  longest name and who, packed into *buffer (the caller destroys it).
static void s_long_record (msgpack_sbuffer *buffer)
{
    char name[SHOAL_NAME_MAX + 1], who[64];
    memset (name, 'N', sizeof name - 1);
    name[sizeof name - 1] = 0;
    memset (who, 'w', sizeof who - 1);
    who[sizeof who - 1] = 0;
    msgpack_sbuffer_init (buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, buffer, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 9);
    msgpack_pack_int (&pk, 1);
    msgpack_pack_int (&pk, 1); //  a command
    msgpack_pack_str_with_body (&pk, name, strlen (name));
    msgpack_pack_int (&pk, 3);
    msgpack_pack_int64 (&pk, 1700000000000);
    msgpack_pack_str_with_body (&pk, "dead", 4);
    msgpack_pack_str_with_body (&pk, who, strlen (who));
    msgpack_pack_int64 (&pk, 1700000000000);
    msgpack_pack_bin_with_body (&pk, "", 0);
}

//  2,000 dead letters of the longest address, name and who: the list
//  stops short of a reply's limit and counts the rest (the reply of 2,000
//  did not fit, and the node answered none).
static void test_long_entries_fit (void **state)
{
    proc_t *p = *state;
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    proc_node_start (p, NODE_ARGS); //  a store of its own
    proc_node_signal (p, SIGTERM);
    char data[128], address[SHOAL_ADDRESS_MAX + 1];
    snprintf (data, sizeof data, "%s/data", p->dir);
    memset (address, 'a', SHOAL_TYPE_MAX);
    address[SHOAL_TYPE_MAX] = '/';
    memset (address + SHOAL_TYPE_MAX + 1, 'x', SHOAL_ID_MAX);
    address[SHOAL_TYPE_MAX + 1 + SHOAL_ID_MAX] = 0;
    int code;
    char *error = NULL;
    journal_t *journal = journal_open (data, NULL, &code, &error);
    if (!journal)
        fail_msg ("%s: %s", data, error);
    msgpack_sbuffer record;
    s_long_record (&record);
    for (int i = 0; i < 2000; i++) {
        uint8_t id[JOURNAL_ID_SIZE] = {0};
        id[0] = (uint8_t) (i >> 8);
        id[1] = (uint8_t) i;
        assert_int_equal (
            journal_dead_put (journal, address, id, (const uint8_t *) record.data, record.size), 0);
    }
    msgpack_sbuffer_destroy (&record);
    journal_destroy (&journal);
    proc_node_start (p, NODE_ARGS);
    assert_int_equal (
        proc_run (p, out, err, "$SHOAL dead-letters --endpoint $E --json >$DIR/list.json"), 0);
    assert_int_equal (proc_run (p, out, err,
                                "python3 -c 'import json, sys; d = json.load (open (sys.argv[1])); "
                                "n = len (d[\"dead_letters\"]); print (n > 500 and n < 2000, "
                                "n + d[\"not_shown\"])' $DIR/list.json"),
                      0);
    assert_string_equal (out, "True 2000\n");
    //  The text says how many it lists.
    assert_int_equal (proc_run (p, out, err, "$SHOAL dead-letters --endpoint $E >/dev/null"), 0);
    proc_assert_has (err, "shoal dead-letters: the node lists its first ");
}

int main (void)
{
    if (!getenv ("SHOAL_BIN") || !getenv ("SHOAL_TEST_MODULE") || !getenv ("SHOAL_POISON_MODULE")) {
        fprintf (stderr, "test_poison_many: run through ctest\n");
        return 1;
    }
    signal (SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_more_than_listed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_long_entries_fit, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
