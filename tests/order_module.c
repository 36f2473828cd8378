/*  order_module.c - a module whose actor keeps nested data, for the tests
    of richer fields through a real node (test_data_cli.c).

    order/ID:
      Place {customer: str, price: double, tag: bytes (optional),
             items: [{sku: str, qty: int}, ...] (1 to 8)}
          emits Placed with the same fields, nested; replies {items: int,
          total: double}. The state keeps the last order; view writes it
          nested (a snapshot too: restore reads it back).
      Echo {...} replies {echo: the payload, copied whole}.
      Misuse {how: str} writes a rec wrongly ("end_without_begin",
          "key_in_array", "no_key_in_map", "unclosed", "too_deep"); the
          turn must fail and keep nothing.
*/
#include "shoal.h"
#include <string.h>

SHOAL_MODULE;

#define ORDER_ITEMS 8
#define ORDER_TEXT 32

typedef struct {
    char sku[ORDER_TEXT];
    int64_t qty;
} item_t;

typedef struct {
    int64_t placed; //  Placed events applied
    char customer[ORDER_TEXT];
    double price;
    uint8_t tag[ORDER_TEXT];
    size_t tag_size;
    item_t items[ORDER_ITEMS];
    size_t item_count;
} order_t;

//  Reads an order's fields (a command, an event or a snapshot) into order.
//  Returns 0 or the first error.
static int s_read (const shoal_data_t *data, order_t *order)
{
    const shoal_array_t *items;
    int rc = shoal_data_str (data, "customer", order->customer, sizeof order->customer);
    rc = rc ? rc : shoal_data_double (data, "price", &order->price);
    rc = rc ? rc : shoal_data_array (data, "items", &items);
    if (rc)
        return rc;
    const uint8_t *tag;
    size_t tag_size = 0;
    if (shoal_data_bytes (data, "tag", &tag, &tag_size) == 0) {
        if (tag_size > sizeof order->tag)
            return SHOAL_ETOOBIG;
        memcpy (order->tag, tag, tag_size);
    }
    order->tag_size = tag_size;
    order->item_count = shoal_array_size (items);
    if (order->item_count == 0 || order->item_count > ORDER_ITEMS)
        return SHOAL_EINVAL;
    for (size_t i = 0; i < order->item_count; i++) {
        const shoal_data_t *item;
        rc = shoal_array_map (items, i, &item);
        rc = rc ? rc : shoal_data_str (item, "sku", order->items[i].sku, ORDER_TEXT);
        rc = rc ? rc : shoal_data_int (item, "qty", &order->items[i].qty);
        if (rc)
            return rc;
    }
    return 0;
}

//  Writes an order's fields, nested, into out.
static void s_write (const order_t *order, shoal_rec_t *out)
{
    shoal_rec_str (out, "customer", order->customer);
    shoal_rec_double (out, "price", order->price);
    if (order->tag_size)
        shoal_rec_bytes (out, "tag", order->tag, order->tag_size);
    shoal_rec_array_begin (out, "items");
    for (size_t i = 0; i < order->item_count; i++) {
        shoal_rec_map_begin (out, NULL);
        shoal_rec_str (out, "sku", order->items[i].sku);
        shoal_rec_int (out, "qty", order->items[i].qty);
        shoal_rec_map_end (out);
    }
    shoal_rec_array_end (out);
}

static int s_apply (void *state, const char *event, const shoal_data_t *data)
{
    order_t *order = state;
    if (strcmp (event, "Placed") != 0 || s_read (data, order) != 0)
        return -1;
    order->placed++;
    return 0;
}

//  Writes a rec wrongly, as how says.
static void s_misuse (shoal_rec_t *rec, const char *how)
{
    if (strcmp (how, "end_without_begin") == 0)
        shoal_rec_map_end (rec);
    else if (strcmp (how, "key_in_array") == 0) {
        shoal_rec_array_begin (rec, "a");
        shoal_rec_int (rec, "k", 1);
        shoal_rec_array_end (rec);
    } else if (strcmp (how, "no_key_in_map") == 0)
        shoal_rec_int (rec, NULL, 1);
    else if (strcmp (how, "unclosed") == 0) {
        shoal_rec_map_begin (rec, "m");
        shoal_rec_int (rec, "k", 1);
    } else {
        for (int i = 0; i < SHOAL_DATA_DEPTH; i++)
            shoal_rec_array_begin (rec, i ? NULL : "deep");
        for (int i = 0; i < SHOAL_DATA_DEPTH; i++)
            shoal_rec_array_end (rec);
    }
}

static int s_handle (shoal_ctx_t *ctx, void *state, const shoal_msg_t *msg)
{
    const char *name = shoal_msg_name (msg);
    const shoal_data_t *data = shoal_msg_data (msg);
    if (strcmp (name, "Place") == 0) {
        order_t order = {0};
        int rc = s_read (data, &order);
        if (rc)
            return shoal_ctx_reject (ctx, "invalid_field", "an order: %s", shoal_strerror (rc));
        s_write (&order, shoal_ctx_emit (ctx, "Placed"));
        double total = 0;
        for (size_t i = 0; i < order.item_count; i++)
            total += order.price * (double) order.items[i].qty;
        shoal_rec_t *reply = shoal_ctx_reply (ctx);
        shoal_rec_int (reply, "items", (int64_t) order.item_count);
        shoal_rec_double (reply, "total", total);
        return 0;
    }
    if (strcmp (name, "Echo") == 0) {
        shoal_rec_data (shoal_ctx_reply (ctx), "echo", data);
        return 0;
    }
    if (strcmp (name, "Misuse") == 0) {
        char how[32];
        if (shoal_data_str (data, "how", how, sizeof how) != 0)
            return shoal_ctx_reject (ctx, "invalid_field", "how?");
        shoal_rec_int (shoal_ctx_emit (ctx, "Placed"), "ignored", 1);
        s_misuse (shoal_ctx_reply (ctx), how);
        return 0;
    }
    return shoal_ctx_reject (ctx, "unknown_command", "%s", name);
}

static void s_view (const void *state, shoal_rec_t *out)
{
    const order_t *order = state;
    shoal_rec_int (out, "placed", order->placed);
    if (order->placed)
        s_write (order, out);
}

static int s_restore (void *state, const shoal_data_t *snapshot)
{
    order_t *order = state;
    if (shoal_data_int (snapshot, "placed", &order->placed) != 0)
        return -1;
    return order->placed == 0 || s_read (snapshot, order) == 0 ? 0 : -1;
}

static const shoal_type_t s_order = {
    .name = "order",
    .state_size = sizeof (order_t),
    .apply = s_apply,
    .handle = s_handle,
    .view = s_view,
    .restore = s_restore,
};

int shoal_module_init (shoal_registry_t *registry)
{
    return shoal_register (registry, &s_order);
}
