/*  test_order.c - the order saga and the warehouses of order.c, tested
    with shoal's test kit: no node, and a clock the test moves. Built and
    run by `make test`:

        cc -o test_order test_order.c order.c $(pkg-config --cflags --libs shoal-testkit)
*/
#include "shoal_testkit.h"
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
//  A turn that must be accepted: says why not.
#define ACCEPTED(kit)                                                                              \
    do {                                                                                           \
        int rc_ = shoal_testkit_run (kit);                                                         \
        if (rc_ != 0) {                                                                            \
            fprintf (stderr, "%s:%d: turn not accepted: %s (%s: %s)\n", __FILE__, __LINE__,        \
                     shoal_strerror (rc_), shoal_testkit_code (kit), shoal_testkit_why (kit));     \
            exit (1);                                                                              \
        }                                                                                          \
    } while (0)

#define HOUR (3600 * 1000LL)

static const char *s_str (const shoal_data_t *data, const char *key)
{
    static char buf[4][128];
    static int next;
    char *s = buf[next++ % 4];
    CHECK (shoal_data_str (data, key, s, 128) == 0);
    return s;
}

static int64_t s_int (const shoal_data_t *data, const char *key)
{
    int64_t value = 0;
    CHECK (shoal_data_int (data, key, &value) == 0);
    return value;
}

static const char *s_status (shoal_testkit_t *kit)
{
    return s_str (shoal_testkit_view (kit), "status");
}

//  An item {sku, qty, warehouse} of a Place (warehouse NULL: {sku, qty}).
static void s_item (shoal_rec_t *rec, const char *sku, int64_t qty, const char *warehouse)
{
    shoal_rec_map_begin (rec, NULL);
    shoal_rec_str (rec, "sku", sku);
    shoal_rec_int (rec, "qty", qty);
    if (warehouse)
        shoal_rec_str (rec, "warehouse", warehouse);
    shoal_rec_map_end (rec);
}

//  An order o1 placed with an apple and a plum line at w1, a pear at w2
//  (and, when three, a fig at w3).
static shoal_testkit_t *s_placed (bool three)
{
    shoal_testkit_t *kit = shoal_testkit_new_module (shoal_module_init, "order/o1");
    CHECK (kit);
    shoal_rec_t *place = shoal_testkit_command (kit, "Place");
    shoal_rec_array_begin (place, "items");
    s_item (place, "apple", 2, "warehouse/w1");
    s_item (place, "pear", 1, "warehouse/w2");
    s_item (place, "plum", 3, "warehouse/w1");
    if (three)
        s_item (place, "fig", 4, "warehouse/w3");
    shoal_rec_array_end (place);
    ACCEPTED (kit);
    return kit;
}

static void test_happy_path (void)
{
    shoal_testkit_t *kit = s_placed (false);
    //  Placed, a Reserve to each warehouse with its own items, a timer.
    CHECK (shoal_testkit_events (kit) == 1);
    CHECK (strcmp (shoal_testkit_event (kit, 0), "Placed") == 0);
    CHECK (strcmp (s_str (shoal_testkit_replied (kit), "status"), "placed") == 0);
    CHECK (shoal_testkit_sent (kit) == 2);
    CHECK (strcmp (shoal_testkit_sent_to (kit, 0), "warehouse/w1") == 0);
    CHECK (strcmp (shoal_testkit_sent_name (kit, 0), "Reserve") == 0);
    const shoal_data_t *reserve = shoal_testkit_sent_fields (kit, 0);
    CHECK (strcmp (s_str (reserve, "order"), "order/o1") == 0);
    const shoal_array_t *items;
    const shoal_data_t *item;
    CHECK (shoal_data_array (reserve, "items", &items) == 0 && shoal_array_size (items) == 2);
    CHECK (shoal_array_map (items, 1, &item) == 0);
    CHECK (strcmp (s_str (item, "sku"), "plum") == 0 && s_int (item, "qty") == 3);
    CHECK (strcmp (shoal_testkit_sent_to (kit, 1), "warehouse/w2") == 0);
    CHECK (shoal_testkit_timers (kit) == 1);
    CHECK (strcmp (shoal_testkit_timer_name (kit, 0), "payment") == 0);
    CHECK (shoal_testkit_timer_due (kit, 0) == SHOAL_TESTKIT_EPOCH + 900000);

    //  Both warehouses reserve (in the order the Reserves went out).
    shoal_testkit_reply (kit, "Reserve", true, NULL);
    ACCEPTED (kit);
    CHECK (strcmp (shoal_testkit_event (kit, 0), "Reserved") == 0);
    CHECK (strcmp (s_str (shoal_testkit_event_fields (kit, 0), "warehouse"), "warehouse/w1") == 0);
    CHECK (strcmp (s_status (kit), "placed") == 0);
    shoal_testkit_reply (kit, "Reserve", true, NULL);
    ACCEPTED (kit);
    CHECK (strcmp (s_status (kit), "reserved") == 0);

    //  Paid: Commit to each, the payment timer cancelled.
    shoal_testkit_command (kit, "Pay");
    ACCEPTED (kit);
    CHECK (strcmp (shoal_testkit_event (kit, 0), "Paid") == 0);
    CHECK (shoal_testkit_sent (kit) == 2);
    CHECK (strcmp (shoal_testkit_sent_name (kit, 1), "Commit") == 0);
    CHECK (shoal_testkit_cancels (kit) == 1);
    CHECK (strcmp (shoal_testkit_cancel_name (kit, 0), "payment") == 0);
    CHECK (shoal_testkit_pending (kit) == 0);
    shoal_testkit_reply (kit, "Commit", true, NULL);
    ACCEPTED (kit);
    shoal_testkit_reply (kit, "Commit", true, NULL);
    ACCEPTED (kit);
    CHECK (strcmp (s_status (kit), "committed") == 0);

    //  An hour later nothing fires: the timer was cancelled.
    CHECK (shoal_testkit_advance (kit, HOUR) == 0);
    CHECK (strcmp (s_status (kit), "committed") == 0);
    CHECK (shoal_testkit_version (kit) == 6);
    shoal_testkit_destroy (&kit);
    CHECK (kit == NULL);
}

static void test_out_of_stock_releases_the_others (void)
{
    shoal_testkit_t *kit = s_placed (true);
    CHECK (shoal_testkit_sent (kit) == 3);
    shoal_testkit_reply (kit, "Reserve", true, NULL); //  w1
    ACCEPTED (kit);
    shoal_testkit_reply (kit, "Reserve", false, "out_of_stock"); //  w2
    shoal_testkit_reply_reason (kit, "not enough pear");
    ACCEPTED (kit);
    CHECK (strcmp (shoal_testkit_event (kit, 0), "Failed") == 0);
    CHECK (strcmp (s_str (shoal_testkit_event_fields (kit, 0), "code"), "out_of_stock") == 0);
    //  Release to w1 (reserved) and w3 (its Reserve may still land).
    CHECK (shoal_testkit_sent (kit) == 2);
    CHECK (strcmp (shoal_testkit_sent_name (kit, 0), "Release") == 0);
    CHECK (strcmp (shoal_testkit_sent_to (kit, 0), "warehouse/w1") == 0);
    CHECK (strcmp (shoal_testkit_sent_to (kit, 1), "warehouse/w3") == 0);
    CHECK (strcmp (s_str (shoal_testkit_sent_fields (kit, 1), "order"), "order/o1") == 0);
    CHECK (shoal_testkit_pending (kit) == 0);
    CHECK (strcmp (s_status (kit), "failed") == 0);

    //  w3's late acceptance changes nothing; Pay is refused.
    shoal_testkit_reply (kit, "Reserve", true, NULL);
    ACCEPTED (kit);
    CHECK (shoal_testkit_events (kit) == 0 && shoal_testkit_sent (kit) == 0);
    shoal_testkit_command (kit, "Pay");
    CHECK (shoal_testkit_run (kit) == SHOAL_EREJECTED);
    CHECK (strcmp (shoal_testkit_code (kit), "not_payable") == 0);
    CHECK (shoal_testkit_advance (kit, HOUR) == 0);
    shoal_testkit_destroy (&kit);
}

static void test_payment_timeout_releases (void)
{
    shoal_testkit_t *kit = s_placed (false);
    shoal_testkit_reply (kit, "Reserve", true, NULL);
    ACCEPTED (kit);
    shoal_testkit_reply (kit, "Reserve", true, NULL);
    ACCEPTED (kit);
    //  No Pay: an hour later the 15-minute timer has fired, at its time.
    CHECK (shoal_testkit_advance (kit, HOUR) == 1);
    CHECK (shoal_testkit_now (kit) == SHOAL_TESTKIT_EPOCH + HOUR);
    CHECK (strcmp (shoal_testkit_event (kit, 0), "Cancelled") == 0);
    CHECK (strcmp (s_str (shoal_testkit_event_fields (kit, 0), "reason"), "payment_timeout") == 0);
    CHECK (shoal_testkit_sent (kit) == 2);
    CHECK (strcmp (shoal_testkit_sent_name (kit, 0), "Release") == 0);
    CHECK (strcmp (shoal_testkit_sent_to (kit, 1), "warehouse/w2") == 0);
    CHECK (strcmp (s_status (kit), "cancelled") == 0);
    shoal_testkit_command (kit, "Pay");
    CHECK (shoal_testkit_run (kit) == SHOAL_EREJECTED);
    //  Nothing of the rejected turn is kept.
    CHECK (shoal_testkit_events (kit) == 0 && shoal_testkit_sent (kit) == 0);
    CHECK (strcmp (s_status (kit), "cancelled") == 0);
    shoal_testkit_destroy (&kit);
}

//  The order's events given as its past (what a node replays when it
//  loads the actor): the state is what the turns built.
static void test_replay (void)
{
    shoal_testkit_t *kit = s_placed (false);
    shoal_testkit_reply (kit, "Reserve", true, NULL);
    ACCEPTED (kit);
    CHECK (shoal_testkit_replay (kit) == 0);

    shoal_testkit_t *again = shoal_testkit_new_module (shoal_module_init, "order/o1");
    CHECK (again);
    shoal_rec_t *placed = shoal_testkit_given (again, "Placed");
    shoal_rec_array_begin (placed, "items");
    s_item (placed, "apple", 2, "warehouse/w1");
    s_item (placed, "pear", 1, "warehouse/w2");
    s_item (placed, "plum", 3, "warehouse/w1");
    shoal_rec_array_end (placed);
    shoal_rec_str (shoal_testkit_given (again, "Reserved"), "warehouse", "warehouse/w1");
    CHECK (shoal_testkit_commit (again) == 0);
    CHECK (shoal_testkit_version (again) == 2);
    //  The same view as the live actor's (compared field by field).
    const shoal_data_t *live = shoal_testkit_view (kit);
    const shoal_data_t *given = shoal_testkit_view (again);
    CHECK (strcmp (s_str (live, "status"), s_str (given, "status")) == 0);
    const shoal_data_t *a, *b;
    CHECK (shoal_data_map (live, "warehouses", &a) == 0);
    CHECK (shoal_data_map (given, "warehouses", &b) == 0);
    CHECK (strcmp (s_str (a, "warehouse/w1"), "reserved") == 0);
    CHECK (strcmp (s_str (b, "warehouse/w1"), "reserved") == 0);
    CHECK (strcmp (s_str (b, "warehouse/w2"), "pending") == 0);
    //  An event the type never emitted is refused.
    shoal_testkit_given (again, "Exploded");
    CHECK (shoal_testkit_commit (again) == SHOAL_EFORMAT);
    shoal_testkit_destroy (&again);
    shoal_testkit_destroy (&kit);
}

//  A warehouse: stock per sku, reservations, releases and commits.
static void test_warehouse (void)
{
    shoal_testkit_t *kit = shoal_testkit_new_module (shoal_module_init, "warehouse/w1");
    CHECK (kit);
    shoal_rec_t *stocked = shoal_testkit_given (kit, "Stocked");
    shoal_rec_str (stocked, "sku", "apple");
    shoal_rec_int (stocked, "qty", 5);

    //  Reserve 2 apples for o1.
    shoal_rec_t *reserve = shoal_testkit_command (kit, "Reserve");
    shoal_rec_str (reserve, "order", "order/o1");
    shoal_rec_array_begin (reserve, "items");
    s_item (reserve, "apple", 2, NULL);
    shoal_rec_array_end (reserve);
    CHECK (shoal_testkit_from (kit, "order/o1") == 0);
    ACCEPTED (kit);
    const shoal_data_t *stock, *apple;
    CHECK (shoal_data_map (shoal_testkit_view (kit), "stock", &stock) == 0);
    CHECK (shoal_data_map (stock, "apple", &apple) == 0);
    CHECK (s_int (apple, "on_hand") == 5 && s_int (apple, "reserved") == 2);

    //  o2 wants 4: only 3 are free. Nothing is reserved.
    reserve = shoal_testkit_command (kit, "Reserve");
    shoal_rec_str (reserve, "order", "order/o2");
    shoal_rec_array_begin (reserve, "items");
    s_item (reserve, "apple", 4, NULL);
    shoal_rec_array_end (reserve);
    CHECK (shoal_testkit_run (kit) == SHOAL_EREJECTED);
    CHECK (strcmp (shoal_testkit_code (kit), "out_of_stock") == 0);
    CHECK (s_int (shoal_testkit_view (kit), "reservations") == 1);

    //  o1 commits: 3 left, none reserved. o3's Release comes before its
    //  Reserve: the Reserve is then refused.
    shoal_rec_str (shoal_testkit_command (kit, "Commit"), "order", "order/o1");
    ACCEPTED (kit);
    shoal_rec_str (shoal_testkit_command (kit, "Release"), "order", "order/o3");
    ACCEPTED (kit);
    reserve = shoal_testkit_command (kit, "Reserve");
    shoal_rec_str (reserve, "order", "order/o3");
    shoal_rec_array_begin (reserve, "items");
    s_item (reserve, "apple", 1, NULL);
    shoal_rec_array_end (reserve);
    CHECK (shoal_testkit_run (kit) == SHOAL_EREJECTED);
    CHECK (strcmp (shoal_testkit_code (kit), "closed") == 0);
    CHECK (shoal_data_map (shoal_testkit_view (kit), "stock", &stock) == 0);
    CHECK (shoal_data_map (stock, "apple", &apple) == 0);
    CHECK (s_int (apple, "on_hand") == 3 && s_int (apple, "reserved") == 0);
    CHECK (shoal_testkit_replay (kit) == 0);
    shoal_testkit_destroy (&kit);
}

int main (void)
{
    test_happy_path ();
    test_out_of_stock_releases_the_others ();
    test_payment_timeout_releases ();
    test_replay ();
    test_warehouse ();
    printf ("test_order: 5 tests passed\n");
    return 0;
}
