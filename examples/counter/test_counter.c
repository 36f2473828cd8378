/*  test_counter.c - the counter of counter.c, tested with shoal's test kit:
    no node, no network. Built and run by `make test`:

        cc -o test_counter test_counter.c counter.c $(pkg-config --cflags --libs shoal-testkit)
*/
#include "shoal_testkit.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf (stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);              \
            exit (1);                                                                              \
        }                                                                                          \
    } while (0)

static int64_t s_int (const shoal_data_t *data, const char *key)
{
    int64_t value = -1;
    CHECK (shoal_data_int (data, key, &value) == 0);
    return value;
}

int main (void)
{
    shoal_testkit_t *kit = shoal_testkit_new_module (shoal_module_init, "counter/c1");
    CHECK (kit);

    //  Its past: 3 added.
    shoal_rec_int (shoal_testkit_given (kit, "Added"), "by", 3);

    //  Add by=5: one event Added{by: 5}, the reply {value: 8}.
    shoal_rec_int (shoal_testkit_command (kit, "Add"), "by", 5);
    CHECK (shoal_testkit_run (kit) == 0);
    CHECK (shoal_testkit_events (kit) == 1);
    CHECK (strcmp (shoal_testkit_event (kit, 0), "Added") == 0);
    CHECK (s_int (shoal_testkit_event_fields (kit, 0), "by") == 5);
    CHECK (s_int (shoal_testkit_replied (kit), "value") == 8);
    CHECK (s_int (shoal_testkit_view (kit), "value") == 8);
    CHECK (shoal_testkit_sent (kit) == 0 && shoal_testkit_timers (kit) == 0);

    //  by=0 and an unknown command are rejected, and nothing is kept.
    shoal_rec_int (shoal_testkit_command (kit, "Add"), "by", 0);
    CHECK (shoal_testkit_run (kit) == SHOAL_EREJECTED);
    CHECK (strcmp (shoal_testkit_code (kit), "invalid_field") == 0);
    shoal_testkit_command (kit, "Reset");
    CHECK (shoal_testkit_run (kit) == SHOAL_EREJECTED);
    CHECK (strcmp (shoal_testkit_code (kit), "unknown_command") == 0);
    CHECK (shoal_testkit_events (kit) == 0);
    CHECK (s_int (shoal_testkit_view (kit), "value") == 8);

    //  An Add past 2^63 - 1 is rejected, never wrapped.
    shoal_rec_int (shoal_testkit_command (kit, "Add"), "by", INT64_MAX - 7);
    CHECK (shoal_testkit_run (kit) == SHOAL_EREJECTED);
    CHECK (strcmp (shoal_testkit_code (kit), "overflow") == 0);
    CHECK (s_int (shoal_testkit_view (kit), "value") == 8);

    //  Two events so far; replaying them gives the same view.
    CHECK (shoal_testkit_version (kit) == 2);
    CHECK (shoal_testkit_replay (kit) == 0);
    shoal_testkit_destroy (&kit);
    printf ("test_counter: passed\n");
    return 0;
}
