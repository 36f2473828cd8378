/*  cmd_resolve.c - repairing stuck work by hand: `shoal resend ADDRESS`
    (re-send an actor's pending commands now) and `shoal resolve` (give a
    pending command up, with a reason, and cancel it at its target), as
    control commands to the actor's node (runtime/repair.h); exit codes of
    commands.h. See stuck_work.h for what they share with `pending` and
    `explain`.

    Threads: the command's one thread.
*/
#include "shard.h"
#include "stuck_work.h"
#include "utf8.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#define REPAIR_FOLLOW_MS 100

//  --------------------------------------------------------------------------
//  resend, resolve

static void s_resend_help (FILE *out)
{
    fprintf (out,
             "Usage: shoal resend [--endpoint E | --cluster FILE] [--json] [--timeout MS] "
             "ADDRESS\n\n"
             "Re-sends now every pending command of the actor at ADDRESS (instead of at\n"
             "its next back-off), e.g. once the node it waits for is back. Harmless: a\n"
             "receiver that ran a command answers a copy with the stored reply. A command\n"
             "an operator resolved is not re-sent (its $cancel is), nor one whose target\n"
             "said it cannot tell whether it ran it (nor its $cancel): the answer would\n"
             "be the same; shoal resolve --accept or --force decides it. Those whose\n"
             "target's node is down, or cut off from the actor's, are counted apart (JSON\n"
             "to_nodes_down): they go once the link is back.\n" OPERATOR_HELP
             "Exit: 0 re-sent, 1 refused, 2 bad usage (or a client certificate that cannot\n"
             "be read), 3 no answer within --timeout (default %d ms) or from ADDRESS's node\n"
             "(down or cut off: no_answer, naming it), or the nodes refused this client's\n"
             "key.\n\n" JSON_FAILURE_HELP "Examples:\n"
             "  shoal resend transfer/t-42\n"
             "  shoal resend --cluster bank/cluster.cfg transfer/t-42\n",
             REPAIR_TIMEOUT_MS);
}

//  Sends a control command to address's node and prints a rejection.
//  Returns -1 with *reply to close when accepted, else an exit code.
static int s_control (const char *command, const stuck_options_t *opts, const char *address,
                      const char *name, const uint8_t *payload, size_t size, client_reply_t *reply)
{
    client_t *client = stuck_connect (command, opts, NULL);
    if (!client)
        return EXIT_USAGE;
    //  Through any node; to address's own node if that one is cut off from
    //  it (a partition): the act is sent once, and its node is what acts.
    stuck_direct_t direct = {0};
    int rc = stuck_ask_owner (command, opts, &client, ENVELOPE_COMMAND, address, name, payload,
                              size, opts->timeout_ms, reply, &direct);
    cmd_failure_t failure = {0};
    char owner[64] = "";
    if (rc && !cmd_refused (command, client, rc, &failure)) {
        stuck_owner (opts, address, owner, sizeof owner);
        char why[512], within[80];
        cmd_silence_why (opts->endpoint ? client : NULL, false, why, sizeof why);
        cmd_within (client, opts->timeout_ms, within, sizeof within);
        cmd_fail (&failure, command, EXIT_NO_ANSWER, "no_answer", "no answer about %s%s%s %s: %s",
                  address, owner[0] ? " from its node " : "", owner, within,
                  why[0] ? why : shoal_strerror (rc));
        //  A node that is stopped or slow still has the request queued: a
        //  resolve may take effect once it goes on (a resend is harmless).
        //  One that never took the connection, or ended its handshake, has
        //  nothing (it said both: "nothing took a connection there", then
        //  "it may be recorded all the same").
        if (streq (command, "resolve") && opts->endpoint && client_reached_nothing (client))
            fprintf (stderr,
                     "shoal resolve: the request reached no node, so it did nothing: run it "
                     "again once %s's node answers\n",
                     address);
        else if (streq (command, "resolve"))
            fprintf (stderr,
                     "shoal resolve: it may be recorded all the same, once %s's node reads it: "
                     "shoal explain %s shows a $Resolved if so (a second resolve is then "
                     "refused as resolving)\n",
                     address, address);
    }
    client_destroy (&client);
    if (rc && opts->json) //  as explain says it
        cmd_failed_json (address, NULL, owner[0] ? owner : NULL, failure.code, failure.reason);
    if (rc)
        return EXIT_NO_ANSWER;
    char node[64];
    if (cmd_owner_down (reply, node, sizeof node)) { //  as explain says it
        rc = cmd_no_answer (command, address, NULL, node, reply->reason, opts->json);
        if (direct.state != STUCK_DIRECT_SILENT)
            fprintf (stderr,
                     "shoal %s: the request was not passed on to node %s, so it did nothing: "
                     "run it again once that node answers\n",
                     command, node);
        else if (direct.rc == SHOAL_EAUTH)
            fprintf (stderr,
                     "shoal %s: the request was not passed on to node %s, and %s refused this "
                     "client's key when asked directly: it did nothing\n",
                     command, node, node);
        else if (direct.rc != SHOAL_ETIMEOUT) //  no link to it came up: never sent
            fprintf (stderr,
                     "shoal %s: the request was not passed on to node %s, nor taken by %s "
                     "directly (no connection to it came up): it did nothing; run it again "
                     "once that node answers\n",
                     command, node, node);
        else if (streq (command, "resolve")) //  the copy sent to it directly may be taken
            fprintf (stderr,
                     "shoal resolve: the request was not passed on to node %s, and %s did not "
                     "answer the copy sent to it directly within %ld ms: if it is only slow it "
                     "may record it all the same (shoal explain %s shows a $Resolved if so)\n",
                     node, node, opts->timeout_ms, address);
        else
            fprintf (stderr,
                     "shoal %s: the request was not passed on to node %s, and %s did not "
                     "answer it directly within %ld ms either: run it again once it answers\n",
                     command, node, node, opts->timeout_ms);
        client_reply_close (reply);
        return rc;
    }
    if (!reply->ok) {
        if (opts->json) {
            printf ("{\"ok\":false");
            stuck_json_str ("address", address, true);
            stuck_json_str ("code", reply->code, true);
            stuck_json_str ("reason", reply->reason, true);
            printf ("}\n");
        }
        //  Said on stderr with --json too, as explain says it (a script
        //  that reads stdout alone logs nothing of why, else).
        fprintf (stderr, "shoal %s: %s refused: %s (%s)\n", command, address, reply->reason,
                 reply->code);
        client_reply_close (reply);
        return EXIT_REJECTED;
    }
    return -1;
}

int cmd_resend (int argc, char **argv)
{
    stuck_options_t opts = {0};
    int first = stuck_parse (argc, argv, &opts, s_resend_help);
    if (first < 0)
        return first == OPTIONS_HELP ? 0 : EXIT_USAGE;
    if (argc - first != 1) {
        fprintf (stderr, "shoal resend: needs exactly one ADDRESS (see shoal resend --help)\n");
        return EXIT_USAGE;
    }
    const char *address = argv[first];
    if (!stuck_check_address ("resend", address))
        return EXIT_USAGE;
    client_reply_t reply;
    int rc = s_control ("resend", &opts, address, "$resend", NULL, 0, &reply);
    if (rc >= 0)
        return rc;
    int64_t count = 0, down = 0; //  down: from a node of before, 0
    map_int (reply.data, reply.size, "resent", &count);
    map_int (reply.data, reply.size, "to_nodes_down", &down);
    if (opts.json) {
        printf ("{\"ok\":true");
        stuck_json_str ("address", address, true); //  an id may hold a quote
        printf (",\"resent\":%lld,\"to_nodes_down\":%lld}\n", (long long) count, (long long) down);
    } else if (down)
        printf ("%s: %lld pending command%s re-sent now, %lld of them to nodes down or cut off "
                "from its node: those go once the link is back\n",
                address, (long long) count, count == 1 ? "" : "s", (long long) down);
    else
        printf ("%s: %lld pending command%s re-sent now\n", address, (long long) count,
                count == 1 ? "" : "s");
    client_reply_close (&reply);
    return EXIT_ACCEPTED;
}

//  The start of resolve's --json object: what was resolved, and how.
static void s_json_head (const char *address, const char *msgid, const char *command,
                         const char *target, const char *decision)
{
    printf ("{\"ok\":true");
    stuck_json_str ("address", address, true);
    stuck_json_str ("id", msgid, true);
    stuck_json_str ("command", command, true);
    stuck_json_str ("target", target, true);
    stuck_json_str ("decision", decision, true);
}

#define RESOLVE_ACCEPT_CODE "operator_accepted" //  the code --accept records

static void s_resolve_help (FILE *out)
{
    fprintf (out,
             "Usage: shoal resolve [--endpoint E | --cluster FILE] [--json] [--wait MS]\n"
             "                     [--timeout MS] ADDRESS MSGID --reject CODE --reason TEXT\n"
             "                     [--force [--silent-for MS] [--even-if-reachable]]\n"
             "       shoal resolve [...] ADDRESS MSGID --accept --reason TEXT\n\n"
             "Ends one pending command (MSGID, as `shoal pending` lists it) of the saga at\n"
             "ADDRESS, safely: the saga's node records the decision in the saga's journal\n"
             "(a $Resolved event: operator $USER, time, code, reason, and on a cluster the\n"
             "key and certificate the node let this client in by) and asks the target\n"
             "to cancel MSGID, re-sending until it answers. If the target ran the command\n"
             "already, its real reply comes back and the saga goes on; if not, the target\n"
             "records MSGID as rejected with CODE (a late copy is refused, never run) and\n"
             "the saga gets that rejection as the command's reply (a transfer: a refused\n"
             "debit fails it, nothing moved; a refused credit refunds it). Either way the\n"
             "books stay right. Then prints the saga's state, after waiting up to --wait ms\n"
             "(default 5000) for the command to end. CODE is your own (operator_cancel,\n"
             "node_lost): one the runtime answers with itself (expired, unavailable,\n"
             "busy, ...) is refused, as senders read those otherwise.\n\n"
             "--force, only when the target's node is gone for good: the saga gets the\n"
             "rejection at once, without waiting for the target. If the target did run it,\n"
             "the books are WRONG: say so, and check them (shoal check for the bank; your\n"
             "own invariants, from shoal events, for a module of yours). It is refused\n"
             "(target_up) while the target's node is up as the saga's node sees it: the\n"
             "node itself, or a peer whose link is up or that was heard lately; and\n"
             "(too_soon) until that node has been silent for --silent-for MS (default\n"
             "30000), so that a node only paused or slow is not taken for one gone; the\n"
             "same of a $cancel's own id. A node paused or cut off longer than that is not\n"
             "told from one gone: it runs what it was sent when it comes back, a Debit\n"
             "forced to fail as a Credit forced to refund (money gone, or made). Force only\n"
             "a node you know is gone (its machine off, its disk lost). With --cluster, the\n"
             "command line first asks the target's node itself: if it answers, or takes\n"
             "the connection and says nothing (stopped, a frozen VM, too busy), --force is\n"
             "refused (exit 1, nothing asked of the saga's node) unless --even-if-reachable\n"
             "(a node you are making gone: its process being killed); not for a command\n"
             "its target cannot tell it ran (below).\n"
             "The target is still sent a $cancel, re-sent\n"
             "until its node answers, so that a late copy is refused there; a node that\n"
             "was only paused or cut off, and ran the command before, answers so: the\n"
             "saga's node logs an error, counts it in forced_answered (shoal stats;\n"
             "cluster status and top say the node unwell) and records $ForcedRan in the\n"
             "saga's stream (shoal explain says CONTRADICTED).\n"
             "After an earlier resolve of the same command, --force ends it all the same\n"
             "(exit 0). --json: \"ended\":true, \"cancel_pending\":true, \"cancel\": a\n"
             "$cancel's id in shoal pending. A node gone for good never answers that\n"
             "$cancel: MSGID may be the $cancel's own id, once its command has ended, and\n"
             "--force drops it (\"decision\":\"dropped\").\n\n"
             "A command older than its target's inbox retention, with no record there, may\n"
             "have run: the target answers the $cancel that it cannot tell, and the command\n"
             "stays pending (shoal pending: \"its target cannot tell if it ran it\"). Look\n"
             "for its effect in the target's events (shoal events), then either --accept\n"
             "(it ran: the saga goes on as if the target had answered so, with no data;\n"
             "refused, tellable, for any other command) or --force (it did not).\n" OPERATOR_HELP
             "Exit: 0 resolved (or the cancel is on its way), 1 refused, 2 bad usage (or\n"
             "a client certificate that cannot be read), 3 no answer within --timeout\n"
             "(default %d ms: the saga's node may record it all the same once it reads it;\n"
             "shoal explain shows a $Resolved if so), or from ADDRESS's node (down or cut\n"
             "off: no_answer, naming it; nothing recorded), or the nodes refused this\n"
             "client's key.\n\n" JSON_FAILURE_HELP "Examples:\n"
             "  shoal resolve transfer/t-42 5f0c...e1 --reject operator_cancel \\\n"
             "      --reason \"account node n2 lost its disk; ticket 981\"\n"
             "  shoal resolve --cluster bank/cluster.cfg transfer/t-42 5f0c...e1 \\\n"
             "      --reject node_lost --reason \"n3 decommissioned\" --force\n"
             "  shoal resolve --cluster bank/cluster.cfg transfer/t-42 5f0c...e1 \\\n"
             "      --reject node_lost --reason \"n3 lost\" --force --silent-for 120000\n",
             REPAIR_TIMEOUT_MS);
}

//  Polls address's pending commands until msgid is gone or wait_ms has
//  passed. Returns true if it is gone. Writes into cancel (33 bytes) the
//  id of a $cancel of msgid that the last answer still lists, "" if none:
//  a resolve's, re-sent until the target's node answers (repair.h), which
//  a --force does not stop (it still fences off a late copy there).
static bool s_wait_ended (const stuck_options_t *opts, const char *address, const char *msgid,
                          char *cancel)
{
    int64_t deadline = zclock_mono () + opts->wait_ms;
    client_t *client = stuck_connect ("resolve", opts, NULL);
    stuck_direct_t direct = {0};
    bool gone = false;
    cancel[0] = 0;
    while (client && !gone && !zsys_interrupted) {
        client_reply_t reply;
        uint8_t args[64];
        size_t size = stuck_pending_args (args, sizeof args, false, 1000);
        if (stuck_ask_owner ("resolve", opts, &client, ENVELOPE_QUERY, address, "pending", args,
                             size, 1000, &reply, &direct) == 0) {
            if (reply.ok) {
                zlistx_t *rows = zlistx_new ();
                zlistx_set_destructor (rows, stuck_row_free);
                stuck_rows_read (&reply, NULL, NULL, rows, NULL);
                gone = true;
                cancel[0] = 0;
                for (stuck_row_t *row = zlistx_first (rows); row; row = zlistx_next (rows)) {
                    if (streq (row->id, msgid))
                        gone = false;
                    if (streq (row->cancels, msgid))
                        memcpy (cancel, row->id, sizeof row->id);
                }
                zlistx_destroy (&rows);
            }
            client_reply_close (&reply);
        }
        if (gone || zclock_mono () >= deadline)
            break;
        zclock_sleep (REPAIR_FOLLOW_MS);
    }
    client_destroy (&client);
    return gone;
}

//  --force of a command whose target's node this client reaches: it
//  answers, or takes the connection and says nothing (stopped, a frozen
//  VM, too busy, or cut off from the saga's node alone). That node runs,
//  and runs what it was sent once it goes on: the forced end would be
//  contradicted, money made or lost (an on-call review forced a frozen
//  node's commands, which the tools had seen take a connection). Refused,
//  exit 1, unless --even-if-reachable. Lets it through (0) without a
//  cluster, when the pending list does not name MSGID's target, for a
//  command its target cannot tell it ran, or when that node takes no
//  connection: the saga's node judges then, as ever.
static int s_force_guard (const stuck_options_t *opts, const char *address, const char *msgid)
{
    if (!opts->cluster || opts->even_if_reachable)
        return 0;
    char *error = NULL;
    cluster_t *cluster = cluster_load (opts->cluster, &error);
    free (error);
    client_t *client = cluster ? stuck_connect ("resolve", opts, NULL) : NULL;
    uint8_t args[64];
    size_t args_size = stuck_pending_args (args, sizeof args, false, 1000);
    client_reply_t reply;
    stuck_direct_t direct = {0};
    zlistx_t *rows = zlistx_new ();
    zlistx_set_destructor (rows, stuck_row_free);
    int rc = client ? stuck_ask_owner ("resolve", opts, &client, ENVELOPE_QUERY, address, "pending",
                                       args, args_size, opts->timeout_ms, &reply, &direct)
                    : SHOAL_EINVAL;
    if (rc == 0) {
        if (reply.ok)
            stuck_rows_read (&reply, cluster, NULL, rows, NULL);
        client_reply_close (&reply);
    }
    client_destroy (&client);
    char node[64] = "";
    //  One its target said it cannot tell whether it ran (past the inbox
    //  retention) is the operator's to decide, that node up or not.
    for (stuck_row_t *row = zlistx_first (rows); row; row = zlistx_next (rows))
        if (streq (row->id, msgid) && !strstr (row->error, "cannot tell if it ran"))
            snprintf (node, sizeof node, "%s", row->target_node);
    zlistx_destroy (&rows);
    //  The saga's own node, from the map loaded above: there, it says
    //  target_up itself.
    int at =
        cluster ? cluster_owner (cluster, shoal_shard (address, cluster_shards (cluster))) : -1;
    const char *owner = at >= 0 ? cluster_node_name (cluster, at) : "";
    int refused = 0;
    if (node[0] && !streq (node, owner)) {
        client_t *probe = stuck_connect ("resolve", opts, node);
        stuck_view_t view;
        long wait = opts->timeout_ms < STUCK_VIEW_MS ? opts->timeout_ms : STUCK_VIEW_MS;
        bool answered = probe && stuck_view (probe, wait, &view);
        bool linked = probe && !answered && client_linked (probe);
        client_destroy (&probe);
        if (answered || linked) {
            fprintf (stderr,
                     "shoal resolve: refused: node %s, the target's, %s: it runs, and runs what "
                     "it was sent once it goes on, so a forced end would be contradicted (money "
                     "made or lost). Resolve without --force (its $cancel waits for it), or make "
                     "it gone for good first (its process killed, its machine off); "
                     "--even-if-reachable forces it all the same\n",
                     node,
                     answered ? "answers this client (cut off from the saga's node alone?)"
                              : "takes this client's connection and says nothing (stopped, a "
                                "frozen VM, or too busy)");
            refused = EXIT_REJECTED;
        }
    }
    cluster_destroy (&cluster);
    return refused;
}

int cmd_resolve (int argc, char **argv)
{
    stuck_options_t opts = {0};
    int first = stuck_parse (argc, argv, &opts, s_resolve_help);
    if (first < 0)
        return first == OPTIONS_HELP ? 0 : EXIT_USAGE;
    if (opts.reject && opts.accept) {
        fprintf (stderr, "shoal resolve: --reject and --accept do not go together: --accept says "
                         "the command ran, --reject CODE that it was refused\n");
        return EXIT_USAGE;
    }
    if (argc - first != 2 || !opts.reject == !opts.accept || !opts.reason) {
        fprintf (stderr, "shoal resolve: needs ADDRESS MSGID, --reject CODE or --accept, and "
                         "--reason TEXT (see shoal resolve --help)\n");
        return EXIT_USAGE;
    }
    if (opts.accept && opts.force) {
        fprintf (stderr, "shoal resolve: --accept and --force do not go together: --accept says "
                         "the command ran, --force ends it as rejected without its target\n");
        return EXIT_USAGE;
    }
    if (opts.accept)
        opts.reject = RESOLVE_ACCEPT_CODE;
    const char *address = argv[first], *msgid = argv[first + 1];
    if (!stuck_check_address ("resolve", address))
        return EXIT_USAGE;
    bool hex = strlen (msgid) == 2 * ENVELOPE_ID_SIZE;
    for (const char *c = msgid; hex && *c; c++)
        hex = (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f');
    char quoted[160]; //  what a message names, one line whatever its bytes
    if (!hex) {
        fprintf (stderr,
                 "shoal resolve: MSGID is 32 lowercase hex digits, as shoal pending "
                 "prints it, not %s\n",
                 utf8_quote (quoted, sizeof quoted, msgid, strlen (msgid), '\''));
        return EXIT_USAGE;
    }
    //  The node's limits (runtime/repair.c), checked here too, so that bad
    //  usage exits 2 whatever is wrong (the node's refusal exited 1).
    if (shoal_name_check (opts.reject, strlen (opts.reject)) != 0) {
        fprintf (stderr,
                 "shoal resolve: --reject CODE is 1 to %d printable characters without spaces, "
                 "not %s\n",
                 SHOAL_NAME_MAX,
                 utf8_quote (quoted, sizeof quoted, opts.reject, strlen (opts.reject), '\''));
        return EXIT_USAGE;
    }
    if (envelope_code_reserved (opts.reject)) {
        fprintf (stderr,
                 "shoal resolve: --reject %s is a code the runtime answers with itself, and "
                 "senders read it so (expired: cannot tell whether it ran): use one of your "
                 "own, such as operator_cancel\n",
                 opts.reject);
        return EXIT_USAGE;
    }
    if (!opts.reason[0] || strlen (opts.reason) > ENVELOPE_REASON_MAX) {
        fprintf (stderr, "shoal resolve: --reason TEXT is 1 to %d bytes, not %zu\n",
                 ENVELOPE_REASON_MAX, strlen (opts.reason));
        return EXIT_USAGE;
    }
    //  The node refuses a string that is not UTF-8 (bad_frame, exit 1):
    //  bad usage here, as send says it.
    size_t reason_len = strlen (opts.reason);
    if (utf8_valid_prefix (opts.reason, reason_len) != reason_len) {
        fprintf (stderr, "shoal resolve: --reason TEXT is not UTF-8: %s\n",
                 utf8_quote (quoted, sizeof quoted, opts.reason, reason_len, '\''));
        return EXIT_USAGE;
    }
    char user[96];
    cmd_operator (user, sizeof user);
    uint8_t payload[1024];
    driver_payload_t packed;
    msgpack_packer pk;
    driver_payload_init (&packed, &pk, payload, sizeof payload);
    if (opts.even_if_reachable && !opts.force) {
        fprintf (stderr, "shoal resolve: --even-if-reachable goes with --force\n");
        return EXIT_USAGE;
    }
    int guarded = opts.force ? s_force_guard (&opts, address, msgid) : 0;
    if (guarded)
        return guarded;
    if (opts.silent_for_ms >= 0 && !opts.force) {
        fprintf (stderr, "shoal resolve: --silent-for goes with --force: it is how long the "
                         "target's node must have been silent before --force ends its command\n");
        return EXIT_USAGE;
    }
    msgpack_pack_map (&pk, 5 + (opts.silent_for_ms >= 0) + opts.accept);
    driver_pack_str (&pk, "id", msgid);
    driver_pack_str (&pk, "code", opts.reject);
    driver_pack_str (&pk, "reason", opts.reason);
    driver_pack_str (&pk, "operator", user);
    msgpack_pack_str_with_body (&pk, "force", 5);
    opts.force ? msgpack_pack_true (&pk) : msgpack_pack_false (&pk);
    if (opts.accept) {
        msgpack_pack_str_with_body (&pk, "accept", 6);
        msgpack_pack_true (&pk);
    }
    if (opts.silent_for_ms >= 0) {
        msgpack_pack_str_with_body (&pk, "silent_ms", 9);
        msgpack_pack_int64 (&pk, opts.silent_for_ms);
    }
    if (packed.full) {
        fprintf (stderr, "shoal resolve: --reject or --reason is too long\n");
        return EXIT_USAGE;
    }
    client_reply_t reply;
    int rc = s_control ("resolve", &opts, address, "$resolve", payload, packed.size, &reply);
    if (rc >= 0)
        return rc;
    char state[64] = "", command[SHOAL_NAME_MAX + 1] = "", target[SHOAL_ADDRESS_MAX + 1] = "";
    map_str (reply.data, reply.size, "state", state, sizeof state);
    map_str (reply.data, reply.size, "command", command, sizeof command);
    map_str (reply.data, reply.size, "target", target, sizeof target);
    client_reply_close (&reply);
    //  A $cancel whose command had ended, dropped: nothing else happened.
    if (streq (state, "dropped")) {
        fprintf (stderr,
                 "shoal resolve: WARNING: --force dropped %s's $cancel %s: %s will not be "
                 "asked, nor refuse a late copy of the command it cancelled.\n",
                 address, msgid, target);
        if (opts.json) {
            s_json_head (address, msgid, command, target, state);
            printf (",\"ended\":true,\"cancel_pending\":false}\n");
        } else
            printf ("%s: $cancel %s to %s dropped (%s: %s), by %s\n", address, msgid, target,
                    opts.reject, opts.reason, user);
        return 0;
    }
    if (opts.force) //  once the node took it: a refusal ended nothing
        fprintf (stderr,
                 "shoal resolve: WARNING: --force ended %s's command %s WITHOUT asking its "
                 "target. If the target ran it, the books are now wrong: run shoal check (the "
                 "bank's; for a module of yours, check its invariants from shoal events).\n",
                 address, msgid);
    char cancel[2 * ENVELOPE_ID_SIZE + 1];
    bool ended = s_wait_ended (&opts, address, msgid, cancel);
    //  The saga's status after: a get, so the operator sees the repair take.
    client_t *client = stuck_connect ("resolve", &opts, NULL);
    client_reply_t get;
    stuck_direct_t direct = {0};
    bool got = client && stuck_ask_owner ("resolve", &opts, &client, ENVELOPE_QUERY, address, "get",
                                          NULL, 0, opts.timeout_ms, &get, &direct) == 0;
    client_destroy (&client);
    if (opts.json) {
        s_json_head (address, msgid, command, target, state);
        printf (",\"ended\":%s,\"cancel_pending\":%s", ended ? "true" : "false",
                cancel[0] ? "true" : "false");
        if (cancel[0])
            stuck_json_str ("cancel", cancel, true);
        printf (",\"after\":");
        if (got && get.ok)
            json_write (stdout, get.data, get.size);
        else
            printf ("null");
        printf ("}\n");
    } else {
        printf ("%s: %s %s to %s resolved (%s: %s), recorded as $Resolved by %s\n", address,
                command, msgid, target, opts.reject, opts.reason, user);
        if (strstr (state, "not taken"))
            printf ("NOT TAKEN: %s failed on the answer it was handed; %s is still pending (shoal "
                    "explain %s says why): resolve it again once that is fixed\n",
                    address, msgid, address);
        else if (opts.accept)
            printf ("ACCEPTED: the saga goes on as if %s had answered that it ran %s\n", target,
                    command);
        else if (opts.force)
            printf ("FORCED: %s was not asked first; the books may be wrong if it ran %s\n", target,
                    command);
        else if (ended)
            printf ("%s answered the cancel; the command has ended\n", target);
        else
            printf ("the cancel waits for %s's answer (its node down?); it is re-sent until "
                    "answered, and the saga goes on then\n",
                    target);
        //  An earlier resolve's $cancel outlives a forced end (or an
        //  answer that came first): what it is, and that it needs nothing.
        if (ended && cancel[0] && opts.force)
            printf ("%s has ended for %s. A $cancel %s is re-sent to %s until that node "
                    "answers, so that a late copy of %s is refused there; should it answer that "
                    "it ran %s before (a node paused or cut off, not gone), the saga's node "
                    "logs an error, counts it in forced_answered (shoal stats) and records "
                    "$ForcedRan in the saga's stream (shoal explain). shoal pending lists it "
                    "until then\n",
                    msgid, address, cancel, target, command, command);
        else if (ended && cancel[0])
            printf ("%s has ended for %s. Its $cancel %s is still re-sent to %s until that "
                    "node answers, so that a late copy of %s is refused there; its answer "
                    "changes nothing now. Nothing to do: shoal pending lists it until then\n",
                    msgid, address, cancel, target, command);
        printf ("now: ");
        if (got && get.ok)
            json_write (stdout, get.data, get.size);
        else
            printf ("(no answer to get)");
        printf ("\n");
    }
    if (got)
        client_reply_close (&get);
    return EXIT_ACCEPTED;
}
