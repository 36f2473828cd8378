/*  explain_dead.c - the dead letters of an actor, for `shoal explain`
    (explain_dead.h).

    Threads: the command's one thread.
*/
#include "explain_dead.h"
#include "repair.h"
#include "turnfile.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

//  One dead letter, as a node's "dead_letters" list says it.
typedef struct {
    char id[2 * ENVELOPE_ID_SIZE + 1];
    char kind[16];                     //  command, reply, timer, query, stalled
    char command[SHOAL_NAME_MAX + 1];  //  the message's name ("get" for a query)
    char state[16];                    //  dead, suspect, retried, dropped, ran
    int64_t crashes, last_crash;       //  last_crash: ms since the epoch
    char who[64];                      //  who decided it, "" if nobody yet
    char why[ENVELOPE_REASON_MAX + 1]; //  and why ("" if nobody yet, or a node of before)
    int64_t decided_at;                //  ms since the epoch, 0 if not decided
} dead_row_t;

static void s_dead_row_free (void **item)
{
    free (*item);
    *item = NULL;
}

zlistx_t *explain_dead_list (void)
{
    zlistx_t *list = zlistx_new ();
    if (list)
        zlistx_set_destructor (list, s_dead_row_free);
    return list;
}

//  True for a dead letter not decided yet: set aside ("dead"), or one
//  that crashed its node fewer times ("suspect"). The others were
//  retried, dropped, or ran since.
static bool s_dead_undecided (const dead_row_t *dead)
{
    return streq (dead->state, "dead") || streq (dead->state, "suspect");
}

//  True for a reply an operator dropped (dead-letters drop --force): its
//  actor never saw it, and nothing of it stays pending.
static bool s_dead_stranding (const dead_row_t *dead)
{
    return streq (dead->state, "dropped") && streq (dead->kind, "reply");
}

bool explain_dead_letters_of (client_t *client, long timeout_ms, const char *address,
                              zlistx_t *list, char *why, size_t size)
{
    static const uint8_t all[] = {0x81, 0xa3, 'a', 'l', 'l', 0xc3}; //  {"all": true}
    client_reply_t reply;
    int rc = stuck_ask (client, ENVELOPE_QUERY, "node/dead-letters", "dead_letters", all,
                        sizeof all, timeout_ms, &reply);
    if (rc) {
        snprintf (why, size, "no answer from its node within %ld ms: %s", timeout_ms,
                  shoal_strerror (rc));
        return false;
    }
    bool listed = reply.ok;
    if (!listed)
        snprintf (why, size, "its node refused to list them: %s (%s)", reply.reason, reply.code);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *map = listed ? map_unpack (&unpacked, reply.data, reply.size) : NULL;
    const msgpack_object *entries = map ? map_find (map, "dead_letters") : NULL;
    for (uint32_t i = 0;
         entries && entries->type == MSGPACK_OBJECT_ARRAY && i < entries->via.array.size; i++) {
        const msgpack_object *entry = &entries->via.array.ptr[i];
        char to[SHOAL_ADDRESS_MAX + 1];
        if (map_find_str (entry, "address", to, sizeof to) != 0 || !streq (to, address))
            continue;
        dead_row_t *dead = calloc (1, sizeof (dead_row_t));
        if (!dead)
            break;
        map_find_str (entry, "id", dead->id, sizeof dead->id);
        map_find_str (entry, "kind", dead->kind, sizeof dead->kind);
        map_find_str (entry, "command", dead->command, sizeof dead->command);
        map_find_str (entry, "state", dead->state, sizeof dead->state);
        map_find_int (entry, "crashes", &dead->crashes);
        map_find_int (entry, "last_crash", &dead->last_crash);
        map_find_str (entry, "who", dead->who, sizeof dead->who);
        map_find_str (entry, "why", dead->why, sizeof dead->why);
        map_find_int (entry, "decided_at", &dead->decided_at);
        if (s_dead_undecided (dead) || s_dead_stranding (dead))
            zlistx_add_end (list, dead);
        else
            free (dead);
    }
    msgpack_unpacked_destroy (&unpacked);
    client_reply_close (&reply);
    return listed;
}

//  Why dead is a dead letter (to address), and what that does, in words,
//  into why (size bytes).
static void s_dead_reason (const dead_row_t *dead, const char *address, char *why, size_t size)
{
    if (s_dead_stranding (dead)) {
        char iso[40];
        stuck_iso (dead->decided_at, iso, sizeof iso);
        snprintf (why, size,
                  "an operator (%s) dropped it at %s%s%.*s%s: %s never saw it, and nothing of "
                  "it is pending, so no resend or resolve moves %s on; what the command did at "
                  "its target stands",
                  dead->who[0] ? dead->who : "unknown", iso, dead->why[0] ? " (\"" : "",
                  (int) (size / 3), dead->why, dead->why[0] ? "\")" : "", address, address);
        return;
    }
    const char *effect = streq (dead->kind, "command")
                             ? "a client sending it is answered poisoned, an actor that sent it "
                               "sees it stalled"
                         : streq (dead->kind, "reply") ? "it is not delivered: the command it "
                                                         "answers stays pending"
                         : streq (dead->kind, "timer") ? "the timer does not ring"
                         : streq (dead->kind, "query") ? "its gets are answered poisoned"
                                                       : "it is not delivered";
    if (streq (dead->state, "dead"))
        snprintf (why, size,
                  "it crashed its node %lld times in a row: set aside, not run until "
                  "retried; %s",
                  (long long) dead->crashes, effect);
    else
        snprintf (why, size, "it crashed its node %lld time%s in a row; at 3 it is set aside",
                  (long long) dead->crashes, dead->crashes == 1 ? "" : "s");
}

//  The commands that decide dead, into retry and drop ("" for one decided
//  already): a reply's drop takes --force (it strands its actor); WHY is
//  the operator's to say.
static void s_dead_decisions (const dead_row_t *dead, char *retry, char *drop, size_t size)
{
    retry[0] = drop[0] = 0;
    if (!s_dead_undecided (dead))
        return;
    snprintf (retry, size, "shoal dead-letters retry --reason WHY %s", dead->id);
    snprintf (drop, size, "shoal dead-letters drop %s--reason WHY %s",
              streq (dead->kind, "reply") ? "--force " : "", dead->id);
}

bool explain_dead_letter (const stuck_options_t *opts, const char *node, const stuck_row_t *row,
                          char *state, size_t state_size, int64_t *crashes)
{
    client_t *client = stuck_connect ("explain", opts, node);
    if (!client)
        return false;
    zlistx_t *list = explain_dead_list ();
    char why[ENVELOPE_REASON_MAX + 128];
    bool found = false;
    if (list &&
        explain_dead_letters_of (client, opts->timeout_ms, row->target, list, why, sizeof why))
        for (dead_row_t *dead = zlistx_first (list); dead && !found; dead = zlistx_next (list))
            if (streq (dead->id, row->id) && s_dead_undecided (dead)) {
                snprintf (state, state_size, "%s", dead->state);
                *crashes = dead->crashes;
                found = true;
            }
    zlistx_destroy (&list);
    client_destroy (&client);
    return found;
}

void explain_dead_text (zlistx_t *list, const char *address, bool listed, const char *why)
{
    if (!listed) {
        printf ("  dead letters: not known: %s\n", why);
        return;
    }
    printf ("  dead letters:%s\n", zlistx_size (list) ? "" : " none");
    for (dead_row_t *dead = zlistx_first (list); dead; dead = zlistx_next (list)) {
        char iso[40], reason[768], retry[96], drop[96];
        stuck_iso (dead->last_crash, iso, sizeof iso);
        s_dead_reason (dead, address, reason, sizeof reason);
        s_dead_decisions (dead, retry, drop, sizeof retry);
        printf ("    %s %s, message %s: %s, %lld crash%s, the last at %s\n", dead->kind,
                dead->command, dead->id, dead->state, (long long) dead->crashes,
                dead->crashes == 1 ? "" : "es", iso);
        printf ("      why: %s\n", reason);
        if (retry[0]) //  drop's line without its "shoal dead-letters "
            printf ("      %s (once its module is fixed) | %s\n", retry,
                    drop + strlen ("shoal dead-letters "));
    }
}

void explain_dead_json (zlistx_t *list, const char *address, bool listed, const char *why)
{
    if (!listed) {
        printf (",\"dead_letters\":null");
        stuck_json_str ("dead_letters_unknown", why, true);
        return;
    }
    printf (",\"dead_letters\":[");
    const char *comma = "";
    for (dead_row_t *dead = zlistx_first (list); dead; dead = zlistx_next (list), comma = ",") {
        char iso[40], reason[768], retry[96], drop[96];
        stuck_iso (dead->last_crash, iso, sizeof iso);
        s_dead_reason (dead, address, reason, sizeof reason);
        s_dead_decisions (dead, retry, drop, sizeof retry);
        printf ("%s{", comma);
        stuck_json_str ("id", dead->id, false);
        stuck_json_str ("kind", dead->kind, true);
        stuck_json_str ("command", dead->command, true);
        stuck_json_str ("state", dead->state, true);
        printf (",\"crashes\":%lld", (long long) dead->crashes);
        stuck_json_str ("last_crash", iso, true);
        stuck_json_str ("reason", reason, true);
        //  null for a reply an operator dropped: nothing decides it again
        if (retry[0]) {
            stuck_json_str ("retry", retry, true);
            stuck_json_str ("drop", drop, true);
        } else
            printf (",\"retry\":null,\"drop\":null");
        printf ("}");
    }
    printf ("]");
}

//  The dead-letter id of the reply to the command of message id hex (a
//  reply's turns are keyed by its correlation: turnfile_key), into out.
//  False if hex is not an id.
static bool s_reply_key (const char *hex, char out[2 * ENVELOPE_ID_SIZE + 1])
{
    envelope_t reply = {.kind = ENVELOPE_REPLY};
    if (repair_unhex (hex, reply.correlation) != 0)
        return false;
    uint8_t key[ENVELOPE_ID_SIZE];
    turnfile_key (&reply, key);
    repair_hex (key, out);
    return true;
}

void explain_dead_replies (zlistx_t *list, const char *address, zlistx_t *rows)
{
    for (stuck_row_t *row = zlistx_first (rows); row; row = zlistx_next (rows)) {
        char key[2 * ENVELOPE_ID_SIZE + 1];
        if (!s_reply_key (row->id, key))
            continue;
        for (dead_row_t *dead = zlistx_first (list); dead; dead = zlistx_next (list)) {
            if (!streq (dead->kind, "reply") || !streq (dead->id, key))
                continue;
            if (s_dead_stranding (dead))
                snprintf (row->why, sizeof row->why,
                          "its reply came and was dropped by an operator (dead letter %s): the "
                          "next re-send brings it again, and it is then forgotten, unseen by %s",
                          dead->id, address);
            else if (streq (dead->state, "dead"))
                snprintf (row->why, sizeof row->why,
                          "its reply came and crashed this node %lld times: set aside as dead "
                          "letter %s, so %s waits; fix %s's module, then shoal dead-letters "
                          "retry --reason WHY %s",
                          (long long) dead->crashes, dead->id, address, address, dead->id);
            else if (streq (dead->state, "suspect"))
                snprintf (row->why, sizeof row->why,
                          "its reply came and crashed this node %lld time%s (dead letter %s; "
                          "at 3 it is set aside): %s's module fails on it",
                          (long long) dead->crashes, dead->crashes == 1 ? "" : "s", dead->id,
                          address);
        }
    }
}
