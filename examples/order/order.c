/*  order.c - an order saga that reserves stock across several warehouses,
    and the warehouses: a module of two actor types with nested fields and
    a timer, built outside shoal's tree against the installed shoal.h (see
    Makefile) and tested with the test kit (test_order.c).

    warehouse/ID holds stock per sku:
        Stock{sku, qty}                  -> Stocked{sku, qty}
        Reserve{order, items:[{sku, qty}]} -> Reserved{order, items}, or
                                            rejected out_of_stock (nothing
                                            reserved) or closed
        Release{order}                   -> Released{order}: what the order
                                            reserved is free again, and a
                                            Reserve of it that lands later
                                            is refused (closed)
        Commit{order}                    -> Committed{order}: what it reserved
                                            leaves the stock
      view: {stock: {SKU: {on_hand, reserved}}, reservations}

    order/ID:
        Place{items:[{sku, qty, warehouse}]} -> Placed; Reserve to each
            warehouse (its items); a "payment" timer of payment_ms
        Pay{}      -> Paid once every warehouse reserved; Commit to each
        Status{}   -> {status}
      A rejected Reserve fails the order and releases every other
      warehouse; no Pay within payment_ms cancels it and releases every
      warehouse (compensation). A Release may reach a warehouse before its
      Reserve: the warehouse then refuses that Reserve.
      status: placed, reserved, paid, committed, failed, cancelled.

    Module option payment_ms (default 900000, 15 minutes):
        shoal node --module ./order.so --module-opt order.payment_ms=60000
*/
#include "shoal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

SHOAL_MODULE;

#define SKU_MAX 31   //  bytes of a sku
#define SKUS 32      //  skus a warehouse holds
#define HOLDS 64     //  reservation lines a warehouse holds
#define CLOSED 64    //  released or committed orders a warehouse remembers
#define ITEMS 16     //  lines of an order
#define WAREHOUSES 8 //  warehouses of an order

static int64_t s_payment_ms = 900000; //  set once, at init: read-only after

//  --------------------------------------------------------------------------
//  warehouse

typedef struct {
    char sku[SKU_MAX + 1];
    int64_t on_hand;
    int64_t reserved;
} stock_t;

typedef struct {
    char order[SHOAL_ADDRESS_MAX + 1];
    int sku; //  index in stock
    int64_t qty;
} hold_t;

typedef struct {
    stock_t stock[SKUS];
    size_t stock_count;
    hold_t holds[HOLDS];
    size_t hold_count;
    char closed[CLOSED][SHOAL_ADDRESS_MAX + 1]; //  a ring of released/committed orders
    size_t closed_next;
} warehouse_t;

static int s_sku_find (const warehouse_t *w, const char *sku)
{
    for (size_t i = 0; i < w->stock_count; i++)
        if (strcmp (w->stock[i].sku, sku) == 0)
            return (int) i;
    return -1;
}

static bool s_closed (const warehouse_t *w, const char *order)
{
    for (size_t i = 0; i < CLOSED; i++)
        if (strcmp (w->closed[i], order) == 0)
            return true;
    return false;
}

static bool s_holds (const warehouse_t *w, const char *order)
{
    for (size_t i = 0; i < w->hold_count; i++)
        if (strcmp (w->holds[i].order, order) == 0)
            return true;
    return false;
}

//  Reads the order field of a command: the address of the order.
static int s_order_field (const shoal_msg_t *msg, char *order)
{
    if (shoal_data_str (shoal_msg_data (msg), "order", order, SHOAL_ADDRESS_MAX + 1) != 0 ||
        shoal_address_check (order, strlen (order)) != 0)
        return SHOAL_EINVAL;
    return 0;
}

static int s_reserve (shoal_ctx_t *ctx, const warehouse_t *w, const shoal_msg_t *msg)
{
    char order[SHOAL_ADDRESS_MAX + 1];
    const shoal_array_t *items;
    if (s_order_field (msg, order) != 0)
        return shoal_ctx_reject (ctx, "invalid_field", "order: the order's address");
    if (s_closed (w, order))
        return shoal_ctx_reject (ctx, "closed", "%s was released or committed", order);
    if (s_holds (w, order)) //  a re-sent Reserve: already done
        return 0;
    if (shoal_data_array (shoal_msg_data (msg), "items", &items) != 0 ||
        shoal_array_size (items) == 0 || shoal_array_size (items) > ITEMS ||
        w->hold_count + shoal_array_size (items) > HOLDS)
        return shoal_ctx_reject (ctx, "invalid_field", "items: 1 to %d {sku, qty}", ITEMS);
    int64_t wanted[SKUS] = {0};
    for (size_t i = 0; i < shoal_array_size (items); i++) {
        const shoal_data_t *item;
        char sku[SKU_MAX + 1];
        int64_t qty;
        if (shoal_array_map (items, i, &item) || shoal_data_str (item, "sku", sku, sizeof sku) ||
            shoal_data_int (item, "qty", &qty) || qty < 1)
            return shoal_ctx_reject (ctx, "invalid_field", "items[%zu]: {sku, qty >= 1}", i);
        int at = s_sku_find (w, sku);
        if (at < 0 || (wanted[at] += qty) > w->stock[at].on_hand - w->stock[at].reserved)
            return shoal_ctx_reject (ctx, "out_of_stock", "not enough %s", sku);
    }
    shoal_rec_t *event = shoal_ctx_emit (ctx, "Reserved");
    shoal_rec_str (event, "order", order);
    shoal_rec_array_begin (event, "items");
    for (size_t i = 0; i < shoal_array_size (items); i++) {
        const shoal_data_t *item;
        char sku[SKU_MAX + 1];
        int64_t qty;
        shoal_array_map (items, i, &item);
        shoal_data_str (item, "sku", sku, sizeof sku);
        shoal_data_int (item, "qty", &qty);
        shoal_rec_map_begin (event, NULL);
        shoal_rec_str (event, "sku", sku);
        shoal_rec_int (event, "qty", qty);
        shoal_rec_map_end (event);
    }
    shoal_rec_array_end (event);
    return 0;
}

static int s_warehouse_handle (shoal_ctx_t *ctx, const void *state, const shoal_msg_t *msg)
{
    const warehouse_t *w = state;
    const char *name = shoal_msg_name (msg);
    if (shoal_msg_kind (msg) != SHOAL_COMMAND)
        return 0; //  a warehouse sends nothing and sets no timer
    if (strcmp (name, "Stock") == 0) {
        char sku[SKU_MAX + 1];
        int64_t qty;
        if (shoal_data_str (shoal_msg_data (msg), "sku", sku, sizeof sku) || !sku[0] ||
            shoal_data_int (shoal_msg_data (msg), "qty", &qty) || qty < 1)
            return shoal_ctx_reject (ctx, "invalid_field", "Stock{sku, qty >= 1}");
        if (s_sku_find (w, sku) < 0 && w->stock_count == SKUS)
            return shoal_ctx_reject (ctx, "full", "a warehouse holds %d skus", SKUS);
        shoal_rec_t *event = shoal_ctx_emit (ctx, "Stocked");
        shoal_rec_str (event, "sku", sku);
        shoal_rec_int (event, "qty", qty);
        return 0;
    }
    if (strcmp (name, "Reserve") == 0)
        return s_reserve (ctx, w, msg);
    if (strcmp (name, "Release") == 0 || strcmp (name, "Commit") == 0) {
        char order[SHOAL_ADDRESS_MAX + 1];
        if (s_order_field (msg, order) != 0)
            return shoal_ctx_reject (ctx, "invalid_field", "order: the order's address");
        if (name[0] == 'C' && !s_holds (w, order))
            return s_closed (w, order) ? 0 : shoal_ctx_reject (ctx, "not_reserved", "%s", order);
        if (!s_closed (w, order))
            shoal_rec_str (shoal_ctx_emit (ctx, name[0] == 'C' ? "Committed" : "Released"), "order",
                           order);
        return 0;
    }
    return shoal_ctx_reject (ctx, "unknown_command",
                             "a warehouse takes Stock, Reserve, Release "
                             "and Commit");
}

//  Drops the holds of order, taking them out of the stock too if commit.
static void s_unhold (warehouse_t *w, const char *order, bool commit)
{
    size_t kept = 0;
    for (size_t i = 0; i < w->hold_count; i++) {
        hold_t *hold = &w->holds[i];
        if (strcmp (hold->order, order) != 0) {
            w->holds[kept++] = *hold;
            continue;
        }
        w->stock[hold->sku].reserved -= hold->qty;
        if (commit)
            w->stock[hold->sku].on_hand -= hold->qty;
    }
    w->hold_count = kept;
    snprintf (w->closed[w->closed_next], sizeof w->closed[0], "%s", order);
    w->closed_next = (w->closed_next + 1) % CLOSED;
}

static int s_warehouse_apply (void *state, const char *event, const shoal_data_t *data)
{
    warehouse_t *w = state;
    char sku[SKU_MAX + 1], order[SHOAL_ADDRESS_MAX + 1];
    int64_t qty;
    if (strcmp (event, "Stocked") == 0) {
        if (shoal_data_str (data, "sku", sku, sizeof sku) || shoal_data_int (data, "qty", &qty))
            return SHOAL_EFORMAT;
        int at = s_sku_find (w, sku);
        if (at < 0) {
            if (w->stock_count == SKUS)
                return SHOAL_EFORMAT;
            at = (int) w->stock_count++;
            snprintf (w->stock[at].sku, sizeof w->stock[at].sku, "%s", sku);
        }
        w->stock[at].on_hand += qty;
        return 0;
    }
    if (shoal_data_str (data, "order", order, sizeof order) != 0)
        return SHOAL_EFORMAT;
    if (strcmp (event, "Released") == 0 || strcmp (event, "Committed") == 0) {
        s_unhold (w, order, event[0] == 'C');
        return 0;
    }
    if (strcmp (event, "Reserved") != 0)
        return SHOAL_EFORMAT;
    const shoal_array_t *items;
    if (shoal_data_array (data, "items", &items) != 0)
        return SHOAL_EFORMAT;
    for (size_t i = 0; i < shoal_array_size (items); i++) {
        const shoal_data_t *item;
        int at;
        if (w->hold_count == HOLDS || shoal_array_map (items, i, &item) ||
            shoal_data_str (item, "sku", sku, sizeof sku) || shoal_data_int (item, "qty", &qty) ||
            (at = s_sku_find (w, sku)) < 0)
            return SHOAL_EFORMAT;
        hold_t *hold = &w->holds[w->hold_count++];
        snprintf (hold->order, sizeof hold->order, "%s", order);
        hold->sku = at;
        hold->qty = qty;
        w->stock[at].reserved += qty;
    }
    return 0;
}

static void s_warehouse_view (const void *state, shoal_rec_t *out)
{
    const warehouse_t *w = state;
    shoal_rec_map_begin (out, "stock");
    for (size_t i = 0; i < w->stock_count; i++) {
        shoal_rec_map_begin (out, w->stock[i].sku);
        shoal_rec_int (out, "on_hand", w->stock[i].on_hand);
        shoal_rec_int (out, "reserved", w->stock[i].reserved);
        shoal_rec_map_end (out);
    }
    shoal_rec_map_end (out);
    shoal_rec_int (out, "reservations", (int64_t) w->hold_count);
}

static const shoal_type_t warehouse = {
    .name = "warehouse",
    .state_size = sizeof (warehouse_t),
    .handle = s_warehouse_handle,
    .apply = s_warehouse_apply,
    .view = s_warehouse_view,
};

//  --------------------------------------------------------------------------
//  order

enum { NONE, PLACED, RESERVED, PAID, COMMITTED, FAILED, CANCELLED };
static const char *s_status[] = {"none",      "placed", "reserved", "paid",
                                 "committed", "failed", "cancelled"};
enum { W_PENDING, W_RESERVED, W_REFUSED, W_COMMITTED };

typedef struct {
    char sku[SKU_MAX + 1];
    int64_t qty;
    int warehouse; //  index in warehouses
} line_t;

typedef struct {
    int status;
    line_t lines[ITEMS];
    size_t line_count;
    char warehouses[WAREHOUSES][SHOAL_ADDRESS_MAX + 1];
    int answers[WAREHOUSES]; //  W_*
    size_t warehouse_count;
} order_t;

static int s_warehouse_find (const order_t *o, const char *address)
{
    for (size_t i = 0; i < o->warehouse_count; i++)
        if (strcmp (o->warehouses[i], address) == 0)
            return (int) i;
    return -1;
}

static size_t s_count (const order_t *o, int answer)
{
    size_t n = 0;
    for (size_t i = 0; i < o->warehouse_count; i++)
        n += o->answers[i] == answer;
    return n;
}

//  Sends name{order} to every warehouse but skip (-1: none).
static void s_to_warehouses (shoal_ctx_t *ctx, const order_t *o, const char *name, int skip)
{
    for (size_t i = 0; i < o->warehouse_count; i++)
        if ((int) i != skip)
            shoal_rec_str (shoal_ctx_send (ctx, o->warehouses[i], name), "order",
                           shoal_ctx_address (ctx));
}

//  Reads Place's items into o (a scratch state). Returns 0 or rejects.
static int s_read_items (shoal_ctx_t *ctx, const shoal_msg_t *msg, order_t *o)
{
    const shoal_array_t *items;
    if (shoal_data_array (shoal_msg_data (msg), "items", &items) != 0 ||
        shoal_array_size (items) == 0 || shoal_array_size (items) > ITEMS)
        return shoal_ctx_reject (ctx, "invalid_field", "items: 1 to %d {sku, qty, warehouse}",
                                 ITEMS);
    for (size_t i = 0; i < shoal_array_size (items); i++) {
        const shoal_data_t *item;
        line_t *line = &o->lines[o->line_count++];
        char address[SHOAL_ADDRESS_MAX + 1];
        if (shoal_array_map (items, i, &item) ||
            shoal_data_str (item, "sku", line->sku, sizeof line->sku) || !line->sku[0] ||
            shoal_data_int (item, "qty", &line->qty) || line->qty < 1 ||
            shoal_data_str (item, "warehouse", address, sizeof address) ||
            strncmp (address, "warehouse/", 10) != 0 ||
            shoal_address_check (address, strlen (address)) != 0)
            return shoal_ctx_reject (ctx, "invalid_field",
                                     "items[%zu]: {sku, qty >= 1, warehouse: warehouse/ID}", i);
        line->warehouse = s_warehouse_find (o, address);
        if (line->warehouse < 0) {
            if (o->warehouse_count == WAREHOUSES)
                return shoal_ctx_reject (ctx, "invalid_field", "at most %d warehouses", WAREHOUSES);
            line->warehouse = (int) o->warehouse_count;
            snprintf (o->warehouses[o->warehouse_count++], SHOAL_ADDRESS_MAX + 1, "%s", address);
        }
    }
    return 0;
}

static int s_place (shoal_ctx_t *ctx, const order_t *o, const shoal_msg_t *msg)
{
    if (o->status != NONE)
        return shoal_ctx_reject (ctx, "already_placed", "the order is %s", s_status[o->status]);
    order_t *scratch = calloc (1, sizeof *scratch);
    if (!scratch)
        return SHOAL_ENOMEM;
    int rc = s_read_items (ctx, msg, scratch);
    if (rc == 0) {
        shoal_rec_t *event = shoal_ctx_emit (ctx, "Placed");
        shoal_rec_array_begin (event, "items");
        for (size_t i = 0; i < scratch->line_count; i++) {
            shoal_rec_map_begin (event, NULL);
            shoal_rec_str (event, "sku", scratch->lines[i].sku);
            shoal_rec_int (event, "qty", scratch->lines[i].qty);
            shoal_rec_str (event, "warehouse", scratch->warehouses[scratch->lines[i].warehouse]);
            shoal_rec_map_end (event);
        }
        shoal_rec_array_end (event);
        for (size_t w = 0; w < scratch->warehouse_count; w++) {
            shoal_rec_t *reserve = shoal_ctx_send (ctx, scratch->warehouses[w], "Reserve");
            shoal_rec_str (reserve, "order", shoal_ctx_address (ctx));
            shoal_rec_array_begin (reserve, "items");
            for (size_t i = 0; i < scratch->line_count; i++)
                if (scratch->lines[i].warehouse == (int) w) {
                    shoal_rec_map_begin (reserve, NULL);
                    shoal_rec_str (reserve, "sku", scratch->lines[i].sku);
                    shoal_rec_int (reserve, "qty", scratch->lines[i].qty);
                    shoal_rec_map_end (reserve);
                }
            shoal_rec_array_end (reserve);
        }
        shoal_ctx_after (ctx, s_payment_ms, "payment");
        shoal_rec_str (shoal_ctx_reply (ctx), "status", s_status[PLACED]);
    }
    free (scratch);
    return rc;
}

//  A warehouse answered a Reserve or a Commit (answers to Release change
//  nothing: the order is over by then). Repeated and late answers are
//  ignored.
static int s_on_reply (shoal_ctx_t *ctx, const order_t *o, const shoal_msg_t *msg)
{
    int at = s_warehouse_find (o, shoal_msg_from (msg));
    const char *name = shoal_msg_name (msg);
    if (at < 0)
        return 0;
    if (strcmp (name, "Reserve") == 0 && o->status == PLACED && o->answers[at] == W_PENDING) {
        if (shoal_msg_accepted (msg)) {
            shoal_rec_str (shoal_ctx_emit (ctx, "Reserved"), "warehouse", o->warehouses[at]);
            return 0;
        }
        shoal_rec_t *event = shoal_ctx_emit (ctx, "Failed");
        shoal_rec_str (event, "warehouse", o->warehouses[at]);
        shoal_rec_str (event, "code", shoal_msg_code (msg));
        s_to_warehouses (ctx, o, "Release", at);
        shoal_ctx_cancel (ctx, "payment");
    } else if (strcmp (name, "Commit") == 0 && o->status == PAID && o->answers[at] == W_RESERVED &&
               shoal_msg_accepted (msg))
        shoal_rec_str (shoal_ctx_emit (ctx, "Committed"), "warehouse", o->warehouses[at]);
    return 0;
}

static int s_order_handle (shoal_ctx_t *ctx, const void *state, const shoal_msg_t *msg)
{
    const order_t *o = state;
    const char *name = shoal_msg_name (msg);
    switch (shoal_msg_kind (msg)) {
    case SHOAL_REPLY:
        return s_on_reply (ctx, o, msg);
    case SHOAL_TIMER: //  "payment": no Pay in time, unless paid or failed since
        if ((o->status == PLACED || o->status == RESERVED) && strcmp (name, "payment") == 0) {
            shoal_rec_str (shoal_ctx_emit (ctx, "Cancelled"), "reason", "payment_timeout");
            s_to_warehouses (ctx, o, "Release", -1);
        }
        return 0;
    case SHOAL_STALLED: //  the node keeps re-sending; a Status shows where it waits
        return 0;
    case SHOAL_COMMAND:
        break;
    }
    if (strcmp (name, "Place") == 0)
        return s_place (ctx, o, msg);
    if (strcmp (name, "Pay") == 0) {
        if (o->status != RESERVED)
            return shoal_ctx_reject (ctx, "not_payable", "the order is %s", s_status[o->status]);
        shoal_ctx_emit (ctx, "Paid");
        shoal_ctx_cancel (ctx, "payment");
        s_to_warehouses (ctx, o, "Commit", -1);
        shoal_rec_str (shoal_ctx_reply (ctx), "status", s_status[PAID]);
        return 0;
    }
    if (strcmp (name, "Status") == 0) {
        shoal_rec_str (shoal_ctx_reply (ctx), "status", s_status[o->status]);
        return 0;
    }
    return shoal_ctx_reject (ctx, "unknown_command", "an order takes Place, Pay and Status");
}

static int s_order_apply (void *state, const char *event, const shoal_data_t *data)
{
    order_t *o = state;
    char address[SHOAL_ADDRESS_MAX + 1];
    if (strcmp (event, "Placed") == 0) {
        order_t *scratch = calloc (1, sizeof *scratch);
        if (!scratch)
            return SHOAL_ENOMEM;
        //  The same reading as Place's, without a ctx to reject with.
        const shoal_array_t *items;
        int rc = shoal_data_array (data, "items", &items) ? SHOAL_EFORMAT : 0;
        for (size_t i = 0; rc == 0 && i < shoal_array_size (items) && i < ITEMS; i++) {
            const shoal_data_t *item;
            line_t *line = &scratch->lines[scratch->line_count++];
            if (shoal_array_map (items, i, &item) ||
                shoal_data_str (item, "sku", line->sku, sizeof line->sku) ||
                shoal_data_int (item, "qty", &line->qty) ||
                shoal_data_str (item, "warehouse", address, sizeof address)) {
                rc = SHOAL_EFORMAT;
                break;
            }
            line->warehouse = s_warehouse_find (scratch, address);
            if (line->warehouse < 0 && scratch->warehouse_count < WAREHOUSES) {
                line->warehouse = (int) scratch->warehouse_count;
                snprintf (scratch->warehouses[scratch->warehouse_count++], SHOAL_ADDRESS_MAX + 1,
                          "%s", address);
            }
        }
        if (rc == 0) {
            *o = *scratch;
            o->status = PLACED;
        }
        free (scratch);
        return rc;
    }
    if (strcmp (event, "Paid") == 0)
        o->status = PAID;
    else if (strcmp (event, "Cancelled") == 0)
        o->status = CANCELLED;
    else {
        if (shoal_data_str (data, "warehouse", address, sizeof address) != 0)
            return SHOAL_EFORMAT;
        int at = s_warehouse_find (o, address);
        if (at < 0)
            return SHOAL_EFORMAT;
        if (strcmp (event, "Reserved") == 0) {
            o->answers[at] = W_RESERVED;
            if (s_count (o, W_RESERVED) == o->warehouse_count)
                o->status = RESERVED;
        } else if (strcmp (event, "Failed") == 0) {
            o->answers[at] = W_REFUSED;
            o->status = FAILED;
        } else if (strcmp (event, "Committed") == 0) {
            o->answers[at] = W_COMMITTED;
            if (s_count (o, W_COMMITTED) == o->warehouse_count)
                o->status = COMMITTED;
        } else
            return SHOAL_EFORMAT;
    }
    return 0;
}

static void s_order_view (const void *state, shoal_rec_t *out)
{
    const order_t *o = state;
    static const char *answers[] = {"pending", "reserved", "refused", "committed"};
    shoal_rec_str (out, "status", s_status[o->status]);
    shoal_rec_array_begin (out, "items");
    for (size_t i = 0; i < o->line_count; i++) {
        shoal_rec_map_begin (out, NULL);
        shoal_rec_str (out, "sku", o->lines[i].sku);
        shoal_rec_int (out, "qty", o->lines[i].qty);
        shoal_rec_str (out, "warehouse", o->warehouses[o->lines[i].warehouse]);
        shoal_rec_map_end (out);
    }
    shoal_rec_array_end (out);
    shoal_rec_map_begin (out, "warehouses");
    for (size_t i = 0; i < o->warehouse_count; i++)
        shoal_rec_str (out, o->warehouses[i], answers[o->answers[i]]);
    shoal_rec_map_end (out);
}

static const shoal_type_t order = {
    .name = "order",
    .state_size = sizeof (order_t),
    .handle = s_order_handle,
    .apply = s_order_apply,
    .view = s_order_view,
};

int shoal_module_init (shoal_registry_t *registry)
{
    const char *payment = shoal_registry_option (registry, "payment_ms");
    if (payment && (s_payment_ms = atoll (payment)) <= 0)
        return SHOAL_EINVAL;
    int rc = shoal_register (registry, &warehouse);
    return rc ? rc : shoal_register (registry, &order);
}
