/*  review.c - the review actor. See review.h. It sees only the public
    header; its state is a fixed struct (the last flags in a ring).
*/
#include "review.h"
#include <string.h>

typedef struct {
    char account[SHOAL_ID_MAX + 1];
    char transfer[SHOAL_ID_MAX + 1];
    int64_t amount;
    int64_t at; //  ms since the epoch
} flag_t;

typedef struct {
    int64_t flags;            //  Flagged events
    int64_t amount;           //  their amounts summed (saturating at INT64_MAX)
    flag_t last[REVIEW_LAST]; //  a ring: the newest is last[(flags - 1) % REVIEW_LAST]
} review_t;

//  Reads a non-empty string field of at most SHOAL_ID_MAX bytes into value.
static int s_id (const shoal_data_t *data, const char *key, char *value)
{
    int rc = shoal_data_str (data, key, value, SHOAL_ID_MAX + 1);
    return rc == 0 && !value[0] ? SHOAL_EINVAL : rc;
}

static int s_flag (shoal_ctx_t *ctx, const review_t *review, const shoal_msg_t *msg)
{
    //  A flag is the bank's word on a debit, not anybody's: a client's
    //  would put a false one in front of the person who reviews.
    if (!shoal_address_is_projection (shoal_msg_from (msg)))
        return shoal_ctx_reject (
            ctx, "not_a_projection",
            "a review takes Flag from a projection's reaction only, not from %s",
            shoal_msg_from (msg)[0] ? shoal_msg_from (msg) : "a client");
    const shoal_data_t *data = shoal_msg_data (msg);
    char account[SHOAL_ID_MAX + 1], transfer[SHOAL_ID_MAX + 1];
    int64_t amount;
    if (s_id (data, "account", account) != 0)
        return shoal_ctx_reject (ctx, "invalid_field",
                                 "account must be a non-empty string of at most %d bytes",
                                 SHOAL_ID_MAX);
    if (s_id (data, "transfer", transfer) != 0)
        return shoal_ctx_reject (ctx, "invalid_field",
                                 "transfer must be a non-empty string of at most %d bytes",
                                 SHOAL_ID_MAX);
    if (shoal_data_int (data, "amount", &amount) != 0 || amount <= 0)
        return shoal_ctx_reject (ctx, "invalid_amount", "amount must be a positive integer");
    shoal_rec_t *event = shoal_ctx_emit (ctx, "Flagged");
    shoal_rec_str (event, "account", account);
    shoal_rec_str (event, "transfer", transfer);
    shoal_rec_int (event, "amount", amount);
    shoal_rec_int (event, "at", shoal_ctx_now (ctx));
    shoal_rec_int (shoal_ctx_reply (ctx), "flags", review->flags + 1);
    return 0;
}

static int s_handle (shoal_ctx_t *ctx, const void *state, const shoal_msg_t *msg)
{
    if (shoal_msg_kind (msg) != SHOAL_COMMAND)
        return shoal_ctx_reject (ctx, "unknown_command", "a review takes commands only");
    if (strcmp (shoal_msg_name (msg), "Flag") == 0)
        return s_flag (ctx, state, msg);
    return shoal_ctx_reject (ctx, "unknown_command", "a review takes Flag, not %s",
                             shoal_msg_name (msg));
}

static int s_apply (void *state, const char *event, const shoal_data_t *data)
{
    review_t *review = state;
    if (strcmp (event, "Flagged") != 0)
        return SHOAL_EFORMAT;
    flag_t *flag = &review->last[review->flags % REVIEW_LAST];
    memset (flag, 0, sizeof *flag);
    if (s_id (data, "account", flag->account) != 0 ||
        s_id (data, "transfer", flag->transfer) != 0 ||
        shoal_data_int (data, "amount", &flag->amount) != 0 ||
        shoal_data_int (data, "at", &flag->at) != 0)
        return SHOAL_EFORMAT;
    review->flags++;
    if (__builtin_add_overflow (review->amount, flag->amount, &review->amount))
        review->amount = INT64_MAX;
    return 0;
}

static void s_view (const void *state, shoal_rec_t *out)
{
    const review_t *review = state;
    shoal_rec_int (out, "flags", review->flags);
    shoal_rec_int (out, "amount", review->amount);
    shoal_rec_array_begin (out, "last");
    int64_t shown = review->flags < REVIEW_LAST ? review->flags : REVIEW_LAST;
    for (int64_t i = 1; i <= shown; i++) {
        const flag_t *flag = &review->last[(review->flags - i) % REVIEW_LAST];
        shoal_rec_map_begin (out, NULL);
        shoal_rec_str (out, "account", flag->account);
        shoal_rec_str (out, "transfer", flag->transfer);
        shoal_rec_int (out, "amount", flag->amount);
        shoal_rec_int (out, "at", flag->at);
        shoal_rec_map_end (out);
    }
    shoal_rec_array_end (out);
}

const shoal_type_t review_type = {
    .name = "review",
    .state_size = sizeof (review_t),
    .apply = s_apply,
    .handle = s_handle,
    .view = s_view,
};
