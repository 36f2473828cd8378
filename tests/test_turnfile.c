/*  test_turnfile.c - runtime/turnfile.c's recovery of the turn in
    progress, on real mapped files: a turn found running is reported with
    its message; a frame that is not its turn's message (the header's page
    and the frame's written back apart before a machine crash, or bytes
    that do not decode) is not kept, so that a retry of the dead letter
    never runs the wrong message; a turn whose address or command name
    is not one (a damaged file) is not counted; a recovered file is
    cleared.
*/
#include "harness.h"
#include "turnfile.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

typedef struct {
    int turns;
    uint8_t key[ENVELOPE_ID_SIZE];
    char to[SHOAL_ADDRESS_MAX + 1];
    bool framed;
    uint8_t frame[4096];
    size_t frame_size;
} seen_t;

static void s_seen (void *arg, const turnfile_turn_t *turn)
{
    seen_t *seen = arg;
    seen->turns++;
    memcpy (seen->key, turn->key, ENVELOPE_ID_SIZE);
    snprintf (seen->to, sizeof seen->to, "%s", turn->to);
    seen->framed = turn->frame != NULL;
    seen->frame_size = turn->frame && turn->frame_size <= sizeof seen->frame ? turn->frame_size : 0;
    if (seen->frame_size)
        memcpy (seen->frame, turn->frame, seen->frame_size);
}

//  A command Add to to, with a new id, and its encoding (free it).
static uint8_t *s_command (envelope_t *envelope, const char *to, size_t *size)
{
    memset (envelope, 0, sizeof *envelope);
    envelope->kind = ENVELOPE_COMMAND;
    envelope_new_id (envelope->id);
    snprintf (envelope->to, sizeof envelope->to, "%s", to);
    snprintf (envelope->name, sizeof envelope->name, "Add");
    envelope->created = 1700000000000;
    uint8_t *frame = NULL;
    assert_int_equal (envelope_encode (envelope, &frame, size), 0);
    return frame;
}

static void test_recover (void **state)
{
    char dir[] = "/tmp/shoal-test-turnfile-XXXXXX";
    assert_non_null (mkdtemp (dir));
    char *error = NULL;
    turnfile_t **files = turnfile_open_all (dir, 1, &error);
    assert_non_null (files);
    envelope_t a, b;
    size_t a_size, b_size;
    uint8_t *a_frame = s_command (&a, "counter/a", &a_size);
    uint8_t *b_frame = s_command (&b, "counter/a", &b_size);

    //  Nothing running: nothing found
    seen_t seen = {0};
    assert_int_equal (turnfile_recover (dir, s_seen, &seen), 0);

    //  A's turn running, its frame kept
    turnfile_begin (files[0], &a, a_frame, a_size, zclock_time (), zclock_mono ());
    assert_int_equal (turnfile_recover (dir, s_seen, &seen), 1);
    assert_memory_equal (seen.key, a.id, ENVELOPE_ID_SIZE);
    assert_string_equal (seen.to, "counter/a");
    assert_true (seen.framed);
    assert_int_equal (seen.frame_size, a_size);
    assert_memory_equal (seen.frame, a_frame, a_size);
    //  Cleared: found no more
    memset (&seen, 0, sizeof seen);
    assert_int_equal (turnfile_recover (dir, s_seen, &seen), 0);

    //  A's header with B's frame: A's crash counts, B's message is not
    //  taken for it
    turnfile_begin (files[0], &a, b_frame, b_size, zclock_time (), zclock_mono ());
    assert_int_equal (turnfile_recover (dir, s_seen, &seen), 1);
    assert_memory_equal (seen.key, a.id, ENVELOPE_ID_SIZE);
    assert_false (seen.framed);

    //  A frame that does not decode: not kept either
    uint8_t junk[64];
    memset (junk, 0xc1, sizeof junk); //  0xc1: never used in msgpack
    turnfile_begin (files[0], &a, junk, sizeof junk, zclock_time (), zclock_mono ());
    memset (&seen, 0, sizeof seen);
    assert_int_equal (turnfile_recover (dir, s_seen, &seen), 1);
    assert_memory_equal (seen.key, a.id, ENVELOPE_ID_SIZE);
    assert_false (seen.framed);

    //  A turn whose address is not one (bytes no node writes): not
    //  counted (a dead letter was journaled for it), and cleared
    envelope_t bad = a;
    snprintf (bad.to, sizeof bad.to, "\xff\xfe/\x01x");
    turnfile_begin (files[0], &bad, NULL, 0, zclock_time (), zclock_mono ());
    memset (&seen, 0, sizeof seen);
    assert_int_equal (turnfile_recover (dir, s_seen, &seen), 0);
    assert_int_equal (seen.turns, 0);
    snprintf (bad.to, sizeof bad.to, "counter/a");
    snprintf (bad.name, sizeof bad.name, "A d d");
    turnfile_begin (files[0], &bad, NULL, 0, zclock_time (), zclock_mono ());
    assert_int_equal (turnfile_recover (dir, s_seen, &seen), 0);
    assert_int_equal (turnfile_recover (dir, s_seen, &seen), 0);
    assert_int_equal (seen.turns, 0);

    //  A turn-* entry that is a link to another file of the node's user
    //  is neither resized nor read (before, it was opened through the
    //  link and truncated to the turn file's size), nor is a directory;
    //  an open of the workers' files over such a link fails, saying so.
    char other[sizeof dir + 16], link[sizeof dir + 16];
    snprintf (other, sizeof other, "%s/other", dir);
    FILE *file = fopen (other, "w");
    assert_non_null (file);
    fputs ("not a turn file\n", file);
    fclose (file);
    snprintf (link, sizeof link, "%s/turn-7", dir);
    assert_int_equal (symlink (other, link), 0);
    snprintf (link, sizeof link, "%s/turn-8", dir);
    assert_int_equal (mkdir (link, 0700), 0);
    memset (&seen, 0, sizeof seen);
    assert_int_equal (turnfile_recover (dir, s_seen, &seen), 0);
    struct stat status;
    assert_int_equal (stat (other, &status), 0);
    assert_int_equal (status.st_size, strlen ("not a turn file\n"));
    turnfile_t **more = turnfile_open_all (dir, 9, &error);
    assert_null (more);
    assert_non_null (strstr (error, "turn-7"));
    free (error);
    assert_int_equal (stat (other, &status), 0);
    assert_int_equal (status.st_size, strlen ("not a turn file\n"));

    free (a_frame);
    free (b_frame);
    turnfile_close_all (&files, 1);
    harness_rm_rf (dir);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_recover),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
