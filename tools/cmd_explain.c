/*  cmd_explain.c - `shoal explain ADDRESS`: what the actor is doing (its
    state and version, its last events, the commands it sent that wait for
    an answer and why each stalled one is stalled, the messages to it that
    its node set aside as dead letters, its timers, the operators'
    records), as text or, with --json, one object; exit codes
    of commands.h. On one node (--endpoint) or a cluster (--cluster FILE,
    whose node links say which node is down). In a cluster it asks the
    actor's own node itself, after one `get` through any node: a node that
    is up says at once when that one is down or cut off from it, as it
    does for `resend` and `resolve`, where the owner alone says nothing
    until --timeout. See stuck_work.h for what it shares with `pending`,
    `resend` and `resolve`.

    Threads: the command's one thread.
*/
#include "cluster_stats.h"
#include "explain_dead.h"
#include "shard.h"
#include "stuck_work.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

//  --------------------------------------------------------------------------
//  explain

#define EXPLAIN_PROBE_MS 1500 //  the get through any node: at most this, and half --timeout
#define EXPLAIN_OWNER_MS 1000 //  the owner's own wait after a node said it is down

typedef struct {
    int64_t seq, created;
    char name[SHOAL_NAME_MAX + 1];
    char *data; //  JSON, owned
} event_row_t;

//  The command of the $Resolved among records that ended the command of
//  forced's (a $ForcedRan's) id, into command (size bytes); "" if none
//  names it. The records' data are JSON objects as the node printed them.
static void s_forced_command (zlistx_t *records, const event_row_t *forced, char *command,
                              size_t size)
{
    command[0] = 0;
    const char *id = forced->data ? strstr (forced->data, "\"id\":\"") : NULL;
    if (!id)
        return;
    char needle[64];
    snprintf (needle, sizeof needle, "%.39s", id); //  "id":", 32 hex digits and ""
    for (event_row_t *e = zlistx_first (records); e; e = zlistx_next (records)) {
        const char *at = streq (e->name, "$Resolved") && e->data ? strstr (e->data, needle) : NULL;
        const char *name = at ? strstr (e->data, "\"command\":\"") : NULL;
        if (name) {
            name += strlen ("\"command\":\"");
            size_t len = strcspn (name, "\"");
            snprintf (command, size, "%.*s", (int) (len < size ? len : size - 1), name);
            return;
        }
    }
}

//  True if every stalled row of rows (at least one) is a $cancel: what is
//  left of commands an operator ended with --force.
static bool s_only_cancels (zlistx_t *rows)
{
    size_t cancels = 0;
    for (stuck_row_t *row = zlistx_first (rows); row; row = zlistx_next (rows))
        if (row->stalled) {
            if (!streq (row->command, "$cancel"))
                return false;
            cancels++;
        }
    return cancels > 0;
}

//  True if text starts with prefix.
static bool s_starts (const char *text, const char *prefix)
{
    return strncmp (text, prefix, strlen (prefix)) == 0;
}

static void s_event_free (void **item)
{
    event_row_t *event = *item;
    if (event) {
        free (event->data);
        free (event);
        *item = NULL;
    }
}

//  Reads every event of address: the last `keep` into last, every '$'
//  one (the runtime's records) into records. Returns 0 or a code.
static int s_read_events (client_t *client, const char *address, long timeout_ms, size_t keep,
                          zlistx_t *last, zlistx_t *records)
{
    int64_t from = 1;
    while (true) {
        uint8_t buf[32];
        driver_payload_t packed;
        msgpack_packer pk;
        driver_payload_init (&packed, &pk, buf, sizeof buf);
        msgpack_pack_map (&pk, 1);
        driver_pack_int (&pk, "from", from);
        client_reply_t reply;
        int rc = stuck_ask (client, ENVELOPE_QUERY, address, "events", buf, packed.size, timeout_ms,
                            &reply);
        if (rc)
            return rc;
        msgpack_unpacked unpacked;
        msgpack_unpacked_init (&unpacked);
        const msgpack_object *page =
            reply.ok ? map_unpack (&unpacked, reply.data, reply.size) : NULL;
        const msgpack_object *events = map_find (page, "events");
        int64_t next = from;
        map_find_int (page, "next", &next);
        uint32_t count =
            events && events->type == MSGPACK_OBJECT_ARRAY ? events->via.array.size : 0;
        for (uint32_t i = 0; i < count; i++) {
            const msgpack_object *o = &events->via.array.ptr[i];
            event_row_t *event = calloc (1, sizeof (event_row_t));
            if (!event)
                break;
            map_find_int (o, "seq", &event->seq);
            map_find_int (o, "created", &event->created);
            map_find_str (o, "event", event->name, sizeof event->name);
            const msgpack_object *data = map_find (o, "data");
            size_t size;
            FILE *memory = open_memstream (&event->data, &size);
            if (memory) {
                if (data)
                    json_object (memory, data);
                fclose (memory);
            }
            if (event->name[0] == '$') {
                event_row_t *copy = calloc (1, sizeof (event_row_t));
                if (copy) {
                    *copy = *event;
                    copy->data = strdup (event->data ? event->data : "{}");
                    zlistx_add_end (records, copy);
                }
            }
            zlistx_add_end (last, event);
            if (zlistx_size (last) > keep && zlistx_first (last))
                zlistx_delete (last, zlistx_cursor (last));
        }
        msgpack_unpacked_destroy (&unpacked);
        bool ok = reply.ok;
        client_reply_close (&reply);
        if (!ok || count == 0 || next <= from)
            return 0;
        from = next;
    }
}

//  Asks node (NULL: the endpoint's) for its stats, as stuck_view says.
//  Returns view->answered.
static bool s_node_view (const stuck_options_t *opts, const char *node, stuck_view_t *view)
{
    memset (view, 0, sizeof *view);
    client_t *client = stuck_connect ("explain", opts, node);
    bool answered = client && stuck_view (client, opts->timeout_ms, view);
    //  A node stopped takes a connection and says nothing; one gone takes
    //  none. Both were said "down", which led to resolve --force (a node
    //  paused runs what it was sent once it goes on).
    view->linked = client && !answered && client_linked (client);
    client_destroy (&client);
    return answered;
}

//  view's links to name, or NULL if its stats did not say.
static const stuck_link_t *s_link_to (const stuck_view_t *view, const char *name)
{
    for (int i = 0; view->answered && i < view->count; i++)
        if (streq (view->links[i].name, name))
            return &view->links[i];
    return NULL;
}

//  Says in why (size bytes) that the link from node `from` to node `to` is
//  cut, with what each side reports of it: from_link (from's view of its
//  link to `to`: down) and to_link (to's: nothing heard from `from`), as
//  far as they say so; then after, what it means.
static void s_link_cut (char *why, size_t size, const char *from, const char *to,
                        const stuck_link_t *from_link, const stuck_link_t *to_link,
                        const char *after)
{
    char evidence[192] = "", silent[24];
    if (from_link && !from_link->up)
        snprintf (evidence, sizeof evidence, "%s reports its link to %s down", from, to);
    if (to_link && to_link->heard == 0) {
        stuck_age (to_link->silent_ms, silent, sizeof silent);
        size_t used = strlen (evidence);
        snprintf (evidence + used, sizeof evidence - used, "%s%s has not heard from %s for %s",
                  used ? ", and " : "", to, from, silent);
    }
    snprintf (why, size, "the link %s->%s is cut: %s; %s", from, to, evidence, after);
}

//  Asks a get of address through any node of the cluster, for at most
//  EXPLAIN_PROBE_MS and half --timeout: one that is up passes it on to the
//  owner, or says at once that the owner is down or cut off from it. True
//  if it said so, with the owner's name in node (size bytes) and its
//  words in reason (ENVELOPE_REASON_MAX + 1 bytes). Else false, silent
//  whatever happened (no link, no answer, a refused key): the owner is
//  asked itself next, and that says it.
static bool s_owner_said_down (const stuck_options_t *opts, const char *address, char *node,
                               size_t size, char *reason)
{
    char *error = NULL;
    client_t *client = client_new_cluster (opts->cluster, NULL, &error);
    free (error);
    if (!client)
        return false;
    client_reply_t reply;
    long wait_ms =
        opts->timeout_ms / 2 < EXPLAIN_PROBE_MS ? opts->timeout_ms / 2 : EXPLAIN_PROBE_MS;
    if (wait_ms < 1)
        wait_ms = 1;
    bool down = false;
    if (stuck_ask (client, ENVELOPE_QUERY, address, "get", NULL, 0, wait_ms, &reply) == 0) {
        down = cmd_owner_down (&reply, node, size);
        if (down)
            snprintf (reason, ENVELOPE_REASON_MAX + 1, "%s", reply.reason);
        client_reply_close (&reply);
    }
    client_destroy (&client);
    return down;
}

static void s_explain_help (FILE *out)
{
    fprintf (out,
             "Usage: shoal explain [--endpoint E | --cluster FILE] [--json] [--timeout MS] "
             "ADDRESS\n\n"
             "Says what the actor at ADDRESS is doing: its state and version, its last five\n"
             "events, the commands it sent that wait for an answer (since when, how often\n"
             "sent), its timers, whether it is stalled and why (in a cluster: the target's\n"
             "node is down, as its own node's link and a stats query to it say; a link\n"
             "between the two nodes is cut, either way, as either end says: 'the link\n"
             "n1->n2 is cut: n1 reports its link to n2 down, and n2 has not heard from n1\n"
             "for 6.0s'; the target refuses or its handler fails; its node cannot serve\n"
             "it, a full disk; a cancel is on its way), and the operators' records\n"
             "($Resolved: who, when, why). The messages to it that crashed its node are\n"
             "listed as its dead letters: set aside at 3 crashes in a row (or suspect,\n"
             "fewer), each with why and how to decide it (shoal dead-letters retry\n"
             "--reason WHY ID | drop --reason WHY ID). A command sent again, not stalled\n"
             "yet, is looked into too: its why says what is wrong, if anything is found\n"
             "(its target's node down before --stall-ms). --json prints the same as one\n"
             "object.\n\n"
             "Exit: 0 said, 1 refused by the node (e.g. an unknown type), 2 bad usage\n"
             "(or a client certificate that cannot be read), 3 no answer within --timeout\n"
             "(default %d ms) or from ADDRESS's node (down or cut off, as another node\n"
             "says at once: no_answer, naming it), or the node refused this client's "
             "key.\n\n" JSON_FAILURE_HELP "Examples:\n"
             "  shoal explain transfer/t-42\n"
             "  shoal explain --cluster bank/cluster.cfg transfer/t-42\n"
             "  shoal explain --json account/alice | jq .pending\n",
             REPAIR_TIMEOUT_MS);
}

//  How row's target has been failing on its commands, from its `get`
//  ("failing": a handler's error, which its sender is not told of), or
//  why its node cannot serve it (a get refused: its store cannot be read
//  or written, a full disk), into why. True if either.
static bool s_target_failing (const stuck_options_t *opts, const stuck_row_t *row, char *why,
                              size_t size)
{
    client_t *client = stuck_connect ("explain", opts, NULL);
    if (!client)
        return false;
    client_reply_t reply;
    bool failing = false;
    if (stuck_ask (client, ENVELOPE_QUERY, row->target, "get", NULL, 0, opts->timeout_ms, &reply) ==
        0) {
        msgpack_unpacked unpacked;
        msgpack_unpacked_init (&unpacked);
        const msgpack_object *map =
            reply.ok ? map_unpack (&unpacked, reply.data, reply.size) : NULL;
        const msgpack_object *what = map ? map_find (map, "failing") : NULL;
        char command[SHOAL_NAME_MAX + 1], code[ENVELOPE_CODE_MAX + 1],
            reason[ENVELOPE_REASON_MAX + 1], since[40];
        int64_t times = 0, since_ms = 0;
        failing = what && map_find_str (what, "command", command, sizeof command) == 0 &&
                  map_find_str (what, "code", code, sizeof code) == 0 &&
                  map_find_str (what, "reason", reason, sizeof reason) == 0 &&
                  map_find_int (what, "times", &times) == 0 &&
                  map_find_int (what, "since", &since_ms) == 0;
        if (!reply.ok && streq (reply.code, "poisoned"))
            failing = false; //  its gets are set aside, not its commands
        else if (!reply.ok) {
            //  The node answers the command as it answers the get: the
            //  sender re-sends, and no answer it can take ever comes.
            failing = true;
            int n = snprintf (why, size,
                              "%s's node cannot serve it, so the command waits (shoal resend "
                              "once it can): a get is refused (%s: ",
                              row->target, reply.code);
            if (n > 0 && (size_t) n + 2 < size) //  cut to why's size: the reason comes last
                snprintf (why + n, size - (size_t) n, "%.*s)", (int) (size - (size_t) n - 2),
                          reply.reason);
        } else if (failing) {
            stuck_iso (since_ms, since, sizeof since);
            //  Cut to why's size: the reason comes last.
            int n = snprintf (why, size,
                              "%s fails on its commands: %s failed %lld times since %s; fix the "
                              "module, then shoal resend (%s: ",
                              row->target, command, (long long) times, since, code);
            if (n > 0 && (size_t) n + 2 < size)
                snprintf (why + n, size - (size_t) n, "%.*s)", (int) (size - (size_t) n - 2),
                          reason);
        }
        msgpack_unpacked_destroy (&unpacked);
        client_reply_close (&reply);
    }
    client_destroy (&client);
    return failing;
}

//  Fills the why of each row stalled, or sent more than once (so not
//  answered in the time the sender expected: a target's node down shows
//  at once, not after --stall-ms); a row not stalled gets a why only for
//  a cause found. Returns true if any row is stalled.
static bool s_explain_why (const stuck_options_t *opts, const cluster_t *cluster,
                           const char *own_node, zlistx_t *rows)
{
    stuck_view_t own = {0}, target;
    bool any = false, asked = false;
    for (stuck_row_t *row = zlistx_first (rows); row; row = zlistx_next (rows)) {
        snprintf (row->node, sizeof row->node, "%s", own_node ? own_node : "");
        if (!row->stalled && row->attempts < 2)
            continue;
        //  The saga's node's own view, asked once, for such a row only.
        if (!asked)
            s_node_view (opts, cluster ? own_node : NULL, &own);
        asked = true;
        any = any || row->stalled;
        if (row->cancelling) {
            snprintf (row->why, sizeof row->why,
                      "an operator resolved it: its $cancel waits for %s's answer", row->target);
            continue;
        }
        char state[16];
        int64_t crashes = 0;
        bool remote = cluster && own_node && !streq (row->target_node, own_node);
        bool answers = !remote || s_node_view (opts, row->target_node, &target);
        const stuck_view_t *there = remote ? &target : &own; //  the target's node
        //  A command goes on own's link to the target's node, its answer
        //  comes back on that node's link to own: either side may see
        //  either link cut (its owner down, the other end silent).
        const stuck_link_t *out = remote ? s_link_to (&own, row->target_node) : NULL;
        const stuck_link_t *back = remote && answers ? s_link_to (&target, own_node) : NULL;
        bool there_cut = (out && !out->up) || (back && back->heard == 0);
        bool back_cut = (back && !back->up) || (out && out->heard == 0);
        char after[SHOAL_ADDRESS_MAX + 128];
        if (remote && !answers && target.linked)
            snprintf (
                row->why, sizeof row->why,
                "target node %s (owner of %.100s) does not answer, but takes a connection: it "
                "runs, stopped (SIGSTOP, a frozen VM) or too busy to answer%s%s. A node "
                "stopped runs what it was sent once it goes on: resolve --force would end a "
                "command it may still run",
                row->target_node, row->target, out && !out->up ? "; " : "",
                out && !out->up ? "its peers see its link down" : "");
        else if (remote && !answers)
            snprintf (row->why, sizeof row->why, "target node %s (owner of %s) is down: %s%s%s",
                      row->target_node, row->target, out && !out->up ? own_node : "",
                      out && !out->up ? " reports its link down, and " : "", "it does not answer");
        else if (there_cut && back_cut)
            snprintf (row->why, sizeof row->why,
                      "the links between %s and %s are cut both ways: the command does not "
                      "reach %s, nor would its answer come back (both nodes are up: they answer)",
                      own_node, row->target_node, row->target);
        else if (there_cut) {
            snprintf (after, sizeof after,
                      "%s is up (it answers), but the command does not reach it", row->target_node);
            s_link_cut (row->why, sizeof row->why, own_node, row->target_node, out, back, after);
        } else if (back_cut) {
            snprintf (after, sizeof after,
                      "the command reaches %s, but its answer cannot come back (both nodes are "
                      "up: they answer)",
                      row->target);
            s_link_cut (row->why, sizeof row->why, row->target_node, own_node, back, out, after);
        } else if (there->answered && there->store[0])
            snprintf (row->why, sizeof row->why,
                      "%.100s's node cannot serve it: %.300s; the command waits (shoal resend once "
                      "it can)",
                      row->target, there->store);
        else if (s_starts (row->error, "its reply came; the sender failed on it") ||
                 s_starts (row->error, "its $cancel was answered; the sender failed on it"))
            snprintf (row->why, sizeof row->why,
                      "the sender fails on the reply, and sends the command again to hear it "
                      "again (mend its module, or shoal resolve): %s",
                      row->error);
        //  A target's refusal for now (its handler fails, its store cannot
        //  be read): its own account first (how often, since when), below.
        else if (row->error[0] && !s_starts (row->error, "its target refused it for now: "))
            snprintf (row->why, sizeof row->why, "target refusing or failing: %s", row->error);
        else if (explain_dead_letter (opts, row->target_node[0] ? row->target_node : NULL, row,
                                      state, sizeof state, &crashes) &&
                 (streq (state, "dead") || streq (state, "suspect")))
            snprintf (row->why, sizeof row->why,
                      streq (state, "dead")
                          ? "%s set it aside as a dead letter: it crashed its node %lld times "
                            "(shoal dead-letters: retry it once the module is fixed, or drop it)"
                          : "%s crashed its node %lld times running it (at 3 it is set aside: "
                            "shoal dead-letters --all)",
                      row->target, (long long) crashes);
        else if (s_target_failing (opts, row, row->why, sizeof row->why))
            ;
        else if (row->error[0])
            snprintf (row->why, sizeof row->why, "target refusing or failing: %s", row->error);
        else if (row->stalled)
            snprintf (row->why, sizeof row->why,
                      "%s%s up, but no answer has come yet (busy, or a message lost: try "
                      "shoal resend)",
                      row->target, remote ? " and its node are" : " is");
    }
    return any;
}

int cmd_explain (int argc, char **argv)
{
    stuck_options_t opts = {0};
    int first = stuck_parse (argc, argv, &opts, s_explain_help);
    if (first < 0)
        return first == OPTIONS_HELP ? 0 : EXIT_USAGE;
    if (argc - first != 1) {
        fprintf (stderr, "shoal explain: needs exactly one ADDRESS (see shoal explain --help)\n");
        return EXIT_USAGE;
    }
    const char *address = argv[first];
    if (!stuck_check_address ("explain", address))
        return EXIT_USAGE;
    cluster_t *cluster = NULL;
    if (opts.cluster) {
        char *error = NULL;
        cluster = cluster_load (opts.cluster, &error);
        if (!cluster) {
            fprintf (stderr, "shoal explain: %s\n", error ? error : "cannot read the cluster");
            free (error);
            return EXIT_USAGE;
        }
    }
    const char *own_node = NULL;
    if (cluster) {
        int owner = cluster_owner (cluster, shoal_shard (address, cluster_shards (cluster)));
        own_node = owner >= 0 ? cluster_node_name (cluster, owner) : NULL;
    }
    client_t *client = stuck_connect ("explain", &opts, own_node);
    if (!client) {
        cluster_destroy (&cluster);
        return EXIT_USAGE;
    }
    //  The owner's client is made first: its link comes up meanwhile. A
    //  node that says the owner is down may be cut off from it alone: the
    //  owner is still asked, for a short while, and answers if it can.
    //  Both asks together take --timeout at most.
    int64_t deadline = zclock_mono () + opts.timeout_ms;
    char down[CLUSTER_NAME_MAX + 1], reason[ENVELOPE_REASON_MAX + 1];
    bool said_down = own_node && s_owner_said_down (&opts, address, down, sizeof down, reason);
    long wait_ms = (long) (deadline - zclock_mono ());
    if (said_down && wait_ms > EXPLAIN_OWNER_MS)
        wait_ms = EXPLAIN_OWNER_MS;
    if (wait_ms < 1)
        wait_ms = 1;
    client_reply_t get, pending;
    int rc = stuck_ask (client, ENVELOPE_QUERY, address, "get", NULL, 0, wait_ms, &get);
    if (rc) {
        cmd_failure_t failure = {0};
        bool refused = cmd_refused ("explain", client, rc, &failure);
        if (!refused && said_down) //  as resolve says it, --json too
            cmd_no_answer ("explain", address, NULL, down, reason, opts.json);
        else if (!refused) {
            char why[512], within[80];
            cmd_silence_why (opts.endpoint ? client : NULL, false, why, sizeof why);
            cmd_within (client, (long) opts.timeout_ms, within, sizeof within);
            cmd_fail (&failure, "explain", EXIT_NO_ANSWER, "no_answer",
                      "no answer about %s%s%s %s: %s", address, own_node ? " from its node " : "",
                      own_node ? own_node : "", within, why[0] ? why : shoal_strerror (rc));
        }
        if (opts.json && failure.exit_code) //  a script reads stdout: the same
            cmd_failed_json (address, NULL, own_node, failure.code, failure.reason);
        client_destroy (&client);
        cluster_destroy (&cluster);
        return EXIT_NO_ANSWER;
    }
    //  Its gets set aside (a view that crashed the node), or its view
    //  failed (too big to answer, a module's error): the rest is still
    //  told, the state left out.
    bool view_aside =
        !get.ok && (streq (get.code, "poisoned") || streq (get.code, "handler_error"));
    if (!get.ok && !view_aside) {
        fprintf (stderr, "shoal explain: %s: %s (%s)\n", address, get.reason, get.code);
        if (opts.json) //  as resolve says a refusal
            cmd_failed_json (address, NULL, NULL, get.code, get.reason);
        client_reply_close (&get);
        client_destroy (&client);
        cluster_destroy (&cluster);
        return EXIT_REJECTED;
    }
    zlistx_t *last = zlistx_new (), *records = zlistx_new (), *rows = zlistx_new ();
    zlistx_set_destructor (last, s_event_free);
    zlistx_set_destructor (records, s_event_free);
    zlistx_set_destructor (rows, stuck_row_free);
    s_read_events (client, address, opts.timeout_ms, 5, last, records);
    uint8_t args[64];
    size_t args_size = stuck_pending_args (args, sizeof args, false, opts.limit);
    msgpack_unpacked timers_unpacked;
    msgpack_unpacked_init (&timers_unpacked);
    const msgpack_object *timers = NULL;
    rc = stuck_ask (client, ENVELOPE_QUERY, address, "pending", args, args_size, opts.timeout_ms,
                    &pending);
    if (rc == 0 && pending.ok) {
        stuck_rows_read (&pending, cluster, own_node, rows, NULL);
        timers = map_find (map_unpack (&timers_unpacked, pending.data, pending.size), "timers");
    }
    //  The messages to it that its node set aside (or may): a command
    //  that crashed the node is never answered, nor run.
    zlistx_t *dead_letters = explain_dead_list ();
    char dead_why[ENVELOPE_REASON_MAX + 128] = "";
    bool dead_listed =
        dead_letters && explain_dead_letters_of (client, opts.timeout_ms, address, dead_letters,
                                                 dead_why, sizeof dead_why);
    client_destroy (&client);
    bool stalled = s_explain_why (&opts, cluster, own_node, rows);
    if (dead_listed)
        explain_dead_replies (dead_letters, address, rows);
    int64_t version = 0;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *state = NULL;
    if (view_aside) { //  the version its events say
        event_row_t *e = zlistx_last (last);
        version = e ? e->seq : 0;
    } else {
        map_int (get.data, get.size, "version", &version);
        state = map_find (map_unpack (&unpacked, get.data, get.size), "state");
    }
    char code[64] = "";
    map_find_str (state, "code", code, sizeof code);
    //  A saga that says it is stalled (a view's "stalled": true, as the
    //  bank's transfer has) while none of its commands is: it waits on a
    //  timer of its own (a refund its account refused, tried again later).
    //  It was said to wait for nothing, "stalled":false beside its state's
    //  true (an operator review's find).
    //  Only when its pending commands are known to be none (the pending
    //  query answered, and listed nothing).
    const msgpack_object *says = map_find (state, "stalled");
    uint32_t timer_count =
        timers && timers->type == MSGPACK_OBJECT_ARRAY ? timers->via.array.size : 0;
    bool self_stalled = !stalled && rc == 0 && pending.ok && zlistx_size (rows) == 0 && says &&
                        says->type == MSGPACK_OBJECT_BOOLEAN && says->via.boolean;
    stalled = stalled || self_stalled;
    //  A command its target cannot tell ran (repair.h): kept pending, its
    //  error says so; a saga run before that was told expired itself.
    bool expired = streq (code, "expired");
    //  A command an operator ended with --force that its target ran after
    //  all (the runtime's $ForcedRan record): both effects stand.
    bool contradicted = false;
    for (event_row_t *e = zlistx_first (records); e && !contradicted; e = zlistx_next (records))
        contradicted = streq (e->name, "$ForcedRan");
    for (stuck_row_t *row = zlistx_first (rows); row && !expired; row = zlistx_next (rows))
        expired = strstr (row->error, "cannot tell if it ran") != NULL;
    if (opts.json) {
        printf ("{");
        stuck_json_str ("address", address, false);
        if (own_node)
            stuck_json_str ("node", own_node, true);
        printf (",\"version\":%lld,\"state\":", (long long) version);
        if (state)
            json_object (stdout, state);
        else
            printf ("null");
        if (view_aside)
            stuck_json_str ("state_set_aside", get.reason, true);
        printf (",\"stalled\":%s,\"expired\":%s,\"contradicted\":%s,\"events\":[",
                stalled ? "true" : "false", expired ? "true" : "false",
                contradicted ? "true" : "false");
        const char *comma = "";
        for (event_row_t *e = zlistx_first (last); e; e = zlistx_next (last), comma = ",") {
            char iso[40]; //  when, as the text says it
            stuck_iso (e->created, iso, sizeof iso);
            printf ("%s{\"seq\":%lld,\"event\":", comma, (long long) e->seq);
            json_string (stdout, e->name, strlen (e->name));
            printf (",\"at\":\"%s\",\"data\":%s}", iso, e->data ? e->data : "{}");
        }
        printf ("],\"pending\":[");
        comma = "";
        for (stuck_row_t *row = zlistx_first (rows); row; row = zlistx_next (rows), comma = ",") {
            printf ("%s{", comma);
            stuck_row_json (row);
            printf ("}");
        }
        printf ("]");
        explain_dead_json (dead_letters, address, dead_listed, dead_why);
        printf (",\"timers\":");
        if (timers)
            json_object (stdout, timers);
        else
            printf ("[]");
        printf (",\"operator_records\":[");
        comma = "";
        for (event_row_t *e = zlistx_first (records); e; e = zlistx_next (records), comma = ",")
            printf ("%s{\"seq\":%lld,\"event\":\"%s\",\"data\":%s}", comma, (long long) e->seq,
                    e->name, e->data ? e->data : "{}");
        printf ("]}\n");
    } else {
        printf ("%s%s%s, version %lld\n", address, own_node ? " on node " : "",
                own_node ? own_node : "", (long long) version);
        printf ("  state: ");
        if (state)
            json_object (stdout, state);
        else if (view_aside)
            printf ("not shown: %s", get.reason);
        printf ("\n  last events:%s\n", zlistx_size (last) ? "" : " none");
        for (event_row_t *e = zlistx_first (last); e; e = zlistx_next (last)) {
            char iso[40];
            stuck_iso (e->created, iso, sizeof iso);
            printf ("    #%lld %s %s  (%s)\n", (long long) e->seq, e->name, e->data ? e->data : "",
                    iso);
        }
        printf ("  waits for:%s\n", zlistx_size (rows) ? "" : " nothing (no command pending)");
        for (stuck_row_t *row = zlistx_first (rows); row; row = zlistx_next (rows)) {
            char iso[40], age[24];
            stuck_iso (row->first_sent, iso, sizeof iso);
            stuck_age (row->age_ms, age, sizeof age);
            printf ("    %s to %s%s%s, message %s: sent %lld times since %s (%s)%s\n", row->command,
                    row->target, row->target_node[0] ? " on node " : "", row->target_node, row->id,
                    (long long) row->attempts, iso, age, row->stalled ? ", STALLED" : "");
            if (row->why[0])
                printf ("      why: %s\n", row->why);
            if (row->error[0])
                printf ("      last error: %s\n", row->error);
        }
        explain_dead_text (dead_letters, address, dead_listed, dead_why);
        printf ("  timers:");
        uint32_t count =
            timers && timers->type == MSGPACK_OBJECT_ARRAY ? timers->via.array.size : 0;
        if (!count)
            printf (" none");
        printf ("\n");
        for (uint32_t i = 0; i < count; i++) {
            char name[SHOAL_NAME_MAX + 1] = "?", iso[40];
            int64_t due = 0;
            map_find_str (&timers->via.array.ptr[i], "name", name, sizeof name);
            map_find_int (&timers->via.array.ptr[i], "due", &due);
            stuck_iso (due, iso, sizeof iso);
            printf ("    %s due %s\n", name, iso);
        }
        if (expired)
            printf ("  EXPIRED: a command it sent outlived the inbox retention, and its target "
                    "cannot tell whether it ran it: look for its effect there (shoal events), "
                    "then shoal resolve --accept (it ran) or --force (it did not)\n");
        else if (self_stalled)
            printf ("  STALLED: its state says so, and no command of it waits for an answer%s; "
                    "its last events say why\n",
                    timer_count ? ": it waits on its own timers (above), as a transfer whose "
                                  "refund was refused tries it again later"
                                : ", nor does a timer of it");
        else if (stalled && s_only_cancels (rows))
            //  A forced end's $cancel to a node gone: the saga is done with
            //  it (it said "repair with shoal resend", which re-sends it).
            printf ("  STALLED: only the $cancel of a command ended with resolve --force waits, "
                    "for its target's node: it changes nothing here; once that node is gone for "
                    "good, drop it: shoal resolve %s ID --force --reject CODE --reason WHY, ID "
                    "the $cancel's (above)\n",
                    address);
        else if (stalled)
            printf ("  STALLED: see why above; repair with shoal resend or shoal resolve\n");
        printf ("  operator records:%s\n", zlistx_size (records) ? "" : " none");
        for (event_row_t *e = zlistx_first (records); e; e = zlistx_next (records))
            printf ("    #%lld %s %s\n", (long long) e->seq, e->name, e->data ? e->data : "");
        //  The $ForcedRan records first: s_forced_command walks the list
        //  with its one cursor.
        const event_row_t *forced[16];
        size_t forced_count = 0;
        for (event_row_t *e = zlistx_first (records); e && forced_count < 16;
             e = zlistx_next (records))
            if (streq (e->name, "$ForcedRan"))
                forced[forced_count++] = e;
        for (size_t i = 0; i < forced_count; i++) {
            const event_row_t *e = forced[i];
            //  What both effects make of a transfer's books, by the command
            //  (it said "a credit that ran ... money made" of a debit too).
            char command[SHOAL_NAME_MAX + 1];
            s_forced_command (records, e, command, sizeof command);
            const char *books =
                streq (command, "Debit")
                    ? "a debit that ran, its transfer failed: money taken from the source, "
                      "credited nowhere: money lost"
                : streq (command, "Credit")
                    ? "a credit that ran, its transfer refunded: the target credited and the "
                      "source given back: money made"
                    : "what both did is in their streams (shoal events)";
            printf ("  CONTRADICTED: %s%s, which an operator ended with resolve --force, was run "
                    "by its target after all ($ForcedRan #%lld): what it did there stands "
                    "beside what the forced answer did (%s); see the books with shoal check "
                    "over the stopped nodes\n",
                    command[0] ? "its " : "a command", command, (long long) e->seq, books);
        }
    }
    msgpack_unpacked_destroy (&unpacked);
    msgpack_unpacked_destroy (&timers_unpacked);
    if (rc == 0)
        client_reply_close (&pending);
    client_reply_close (&get);
    zlistx_destroy (&last);
    zlistx_destroy (&records);
    zlistx_destroy (&rows);
    zlistx_destroy (&dead_letters);
    cluster_destroy (&cluster);
    return EXIT_ACCEPTED;
}
