/*  cmd_pending.c - `shoal pending`: the commands that wait for an answer,
    of one actor (ADDRESS), of one node (--endpoint) or of every node of a
    cluster (--cluster FILE), as a table or, with --json, for scripts;
    exit codes of commands.h. The other stuck-work commands are in
    cmd_explain.c and cmd_resolve.c; what they share is in stuck_work.c.
    A node whose store is failing (a full disk; damaged) is said so after
    the list, read from its stats as explain reads them (stuck_view).

    Threads: with --cluster, a thread per node asks it (its list, then
    its stats), so that nodes that are down cost one --timeout, not one
    each; the command's own thread reads the answers and prints.
*/
#include "stuck_work.h"

#include <msgpack.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static void s_rows_text (zlistx_t *rows, bool cluster)
{
    //  The NODE column as wide as its longest name (a map's names are up
    //  to 32 characters; they were cut to 5, east-1 and east-2 alike).
    int width = 4;
    for (stuck_row_t *row = zlistx_first (rows); cluster && row; row = zlistx_next (rows))
        if ((int) strlen (row->target_node) > width)
            width = (int) strlen (row->target_node);
    printf ("%-24s %-10s %-24s ", "SENDER", "COMMAND", "TARGET");
    if (cluster)
        printf ("%-*s ", width, "NODE");
    printf ("%-32s %4s  %-24s %-8s %-7s %s\n", "MSGID", "SENT", "FIRST SENT", "AGE", "STALLED",
            "LAST ERROR");
    for (stuck_row_t *row = zlistx_first (rows); row; row = zlistx_next (rows)) {
        char iso[40], age[24];
        stuck_iso (row->first_sent, iso, sizeof iso);
        stuck_age (row->age_ms, age, sizeof age);
        printf ("%-24s %-10s %-24s ", row->sender, row->command, row->target);
        if (cluster)
            printf ("%-*s ", width, row->target_node);
        printf ("%-32s %4lld  %-24s %-8s %-7s %s%s\n", row->id, (long long) row->attempts, iso, age,
                row->stalled ? "yes" : "no", row->cancelling ? "(cancelling) " : "",
                row->error[0] ? row->error : "-");
    }
}

//  Prints names (strings) as a JSON array on stdout.
static void s_names_json (zlistx_t *names)
{
    printf ("[");
    const char *comma = "";
    for (char *name = zlistx_first (names); name; name = zlistx_next (names), comma = ",") {
        printf ("%s", comma);
        json_string (stdout, name, strlen (name));
    }
    printf ("]");
}

//  One node that answered whose store is failing (its stats, as explain
//  reads them): what it could not store is not in its list.
typedef struct {
    char node[64];                    //  its name, or the endpoint alone
    char store[STATS_STORE_TEXT_MAX]; //  stats_store_failing's words
} store_failing_t;

//  One node's ask: its client (the caller's), and what came back. Run by
//  a thread of its own; nothing in it is shared while the thread runs.
typedef struct {
    client_t *client;
    const uint8_t *args;
    size_t args_size;
    long timeout_ms;
    int rc;               //  stuck_ask's: 0 with reply to close
    client_reply_t reply; //  the pending list, or the node's refusal
    stuck_view_t view;    //  its stats, asked when it answered its list
    pthread_t thread;
    bool started;
} node_ask_t;

//  Asks a node for its pending list and, when it answers, for its stats
//  (a node whose stats do not come in time answered its list: its store
//  is not said failing).
static void *s_ask_node (void *arg)
{
    node_ask_t *ask = arg;
    ask->rc = stuck_ask (ask->client, ENVELOPE_QUERY, "node/all", "pending", ask->args,
                         ask->args_size, ask->timeout_ms, &ask->reply);
    if (ask->rc == 0 && ask->reply.ok)
        stuck_view (ask->client, ask->timeout_ms, &ask->view);
    return NULL;
}

//  Adds node (named name) to failing if its stats (view, zeroed if they
//  did not come) say its store is failing, as stuck_view reads them.
static void s_store_failing_add (const stuck_view_t *view, const char *name, zlistx_t *failing)
{
    if (!view->answered || !view->store[0])
        return;
    store_failing_t *entry = calloc (1, sizeof (store_failing_t));
    if (!entry)
        return;
    snprintf (entry->node, sizeof entry->node, "%s", name);
    snprintf (entry->store, sizeof entry->store, "%s", view->store);
    zlistx_add_end (failing, entry);
}

static void s_store_failing_free (void **item)
{
    free (*item);
    *item = NULL;
}

//  --------------------------------------------------------------------------

static void s_pending_help (FILE *out)
{
    fprintf (
        out,
        "Usage: shoal pending [--endpoint E | --cluster FILE] [--stalled] [--json]\n"
        "                     [--limit N] [--timeout MS] [--exit-code]\n\n"
        "Lists every command an actor sent that is not answered yet: sender, command,\n"
        "target (and, in a cluster, the target's node), message id, how often it was\n"
        "sent, when first (UTC), its age, whether it is stalled (older than the node's\n"
        "--stall-ms), and the last failure known about it. With --cluster, every node\n"
        "is asked, all at once; a node that does not answer within --timeout (default\n"
        "%d ms) is listed as down, with whether it took the connection (stopped or\n"
        "busy) or not (down), and one that refuses this client's key is said on stderr,\n"
        "with what lets the client in. At most --limit rows per node (default and\n"
        "most 1000); the rest is counted as truncated. A node that answers while its\n"
        "store fails its writes (a full disk) or is damaged, as its stats say (and\n"
        "shoal explain), is said so after the list: what it could not write is not in\n"
        "its list, which may be stale or incomplete.\n\n"
        "--json prints one object: {\"pending\":[...],\"nodes_down\":[...],\n"
        "\"nodes_refused\":[...],\"stores_failing\":[{\"node\",\"store\"}...],\n"
        "\"truncated\":N}; in a row, \"node\" is the sender's node and \"target_node\"\n"
        "the target's (the table's NODE column), \"attempts\" the table's SENT.\n\n"
        "Exit: 0 answered by every node, 2 bad usage (or a client certificate that\n"
        "cannot be read), 3 a node did not answer or refused this client's key;\n"
        "with --exit-code, 1 when every node answered and one listed a command (for\n"
        "a script or a cron job: --stalled --exit-code fails on stuck work).\n\n" JSON_FAILURE_HELP
        "Examples:\n"
        "  shoal pending\n"
        "  shoal pending --cluster bank/cluster.cfg --stalled\n"
        "  shoal pending --cluster bank/cluster.cfg --stalled --exit-code || page-oncall\n"
        "  shoal pending --json --limit 50 | jq '.pending[].target'\n",
        REPAIR_TIMEOUT_MS);
}

int cmd_pending (int argc, char **argv)
{
    stuck_options_t opts = {0};
    int first = stuck_parse (argc, argv, &opts, s_pending_help);
    if (first < 0)
        return first == OPTIONS_HELP ? 0 : EXIT_USAGE;
    if (argc != first) {
        fprintf (stderr, "shoal pending: takes no arguments (see shoal pending --help)\n");
        return EXIT_USAGE;
    }
    cluster_t *cluster = NULL;
    if (opts.cluster) {
        char *error = NULL;
        cluster = cluster_load (opts.cluster, &error);
        if (!cluster) {
            fprintf (stderr, "shoal pending: %s\n", error ? error : "cannot read the cluster");
            free (error);
            return EXIT_USAGE;
        }
    }
    zlistx_t *rows = zlistx_new ();
    zlistx_set_destructor (rows, stuck_row_free);
    zlistx_t *down = zlistx_new (), *refused = zlistx_new ();
    zlistx_set_destructor (down, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_destructor (refused, (zlistx_destructor_fn *) zstr_free);
    zlistx_t *failing = zlistx_new ();
    zlistx_set_destructor (failing, s_store_failing_free);
    int64_t truncated = 0;
    uint8_t args[64];
    size_t args_size = stuck_pending_args (args, sizeof args, opts.stalled, opts.limit);
    int nodes = cluster ? cluster_node_count (cluster) : 1;
    bool connected = true;
    //  Why one did not answer, for --json (which says it on stderr: the
    //  text says it on stdout, after the list).
    cmd_failure_t failure = {0};
    const char *said = opts.json ? "pending" : NULL;
    zlistx_t *silent = zlistx_new (); //  a line for each node down, why it is silent
    zlistx_set_destructor (silent, (zlistx_destructor_fn *) zstr_free);
    node_ask_t *asks = calloc ((size_t) nodes, sizeof (node_ask_t));
    connected = asks != NULL;
    for (int i = 0; i < nodes && connected; i++) {
        //  The map or the client certificate: the same for all
        asks[i].client =
            stuck_connect ("pending", &opts, cluster ? cluster_node_name (cluster, i) : NULL);
        connected = asks[i].client != NULL;
        asks[i].args = args;
        asks[i].args_size = args_size;
        asks[i].timeout_ms = opts.timeout_ms;
    }
    //  Every node at once; one that cannot have a thread is asked here.
    for (int i = 0; i < nodes && connected; i++)
        asks[i].started = pthread_create (&asks[i].thread, NULL, s_ask_node, &asks[i]) == 0;
    for (int i = 0; i < nodes && connected; i++) {
        if (asks[i].started)
            pthread_join (asks[i].thread, NULL);
        else
            s_ask_node (&asks[i]);
    }
    for (int i = 0; i < nodes && connected; i++) {
        const char *name = cluster ? cluster_node_name (cluster, i) : NULL;
        client_t *client = asks[i].client;
        int rc = asks[i].rc;
        client_reply_t *reply = &asks[i].reply;
        if (rc == 0 && reply->ok) {
            stuck_rows_read (reply, cluster, name, rows, &truncated);
            s_store_failing_add (&asks[i].view, name ? name : opts.endpoint, failing);
        } else if (cmd_refused ("pending", client, rc, &failure))
            zlistx_add_end (refused, strdup (name ? name : opts.endpoint));
        else {
            zlistx_add_end (down, strdup (name ? name : opts.endpoint));
            if (rc == 0) { //  a refusal of the query, which pending always takes
                cmd_fail (&failure, said, EXIT_NO_ANSWER, reply->code, "node %s refused: %s",
                          name ? name : opts.endpoint, reply->reason);
                zlistx_add_end (
                    silent, zsys_sprintf ("node %s refused: %s: %s (its pending commands "
                                          "are not listed)",
                                          name ? name : opts.endpoint, reply->code, reply->reason));
            } else {
                //  One endpoint's silence, as its link was seen; a
                //  cluster's node, whether it took the connection.
                char why[512], within[80];
                cmd_silence_why (name ? NULL : client, false, why, sizeof why);
                cmd_within (name ? NULL : client, opts.timeout_ms, within, sizeof within);
                if (!why[0])
                    snprintf (why, sizeof why, "%s",
                              client_linked (client)
                                  ? "it took the connection and said nothing: stopped or busy"
                                  : "it takes no connection: down?");
                cmd_fail (&failure, said, EXIT_NO_ANSWER, "no_answer",
                          "node %s did not answer %s: %s", name ? name : opts.endpoint, within,
                          why);
                zlistx_add_end (silent, zsys_sprintf ("node %s did not answer %s: %s (its pending "
                                                      "commands are not listed)",
                                                      name ? name : opts.endpoint, within, why));
            }
        }
    }
    for (int i = 0; asks && i < nodes; i++) {
        if (asks[i].client && asks[i].rc == 0)
            client_reply_close (&asks[i].reply);
        client_destroy (&asks[i].client);
    }
    free (asks);
    if (!connected) {
        zlistx_destroy (&rows);
        zlistx_destroy (&down);
        zlistx_destroy (&silent);
        zlistx_destroy (&refused);
        zlistx_destroy (&failing);
        cluster_destroy (&cluster);
        return EXIT_USAGE;
    }
    if (opts.json) {
        printf ("{\"pending\":[");
        const char *comma = "";
        for (stuck_row_t *row = zlistx_first (rows); row; row = zlistx_next (rows), comma = ",") {
            printf ("%s{", comma);
            stuck_row_json (row);
            printf ("}");
        }
        printf ("],\"nodes_down\":");
        s_names_json (down);
        printf (",\"nodes_refused\":");
        s_names_json (refused);
        printf (",\"stores_failing\":[");
        comma = "";
        for (store_failing_t *entry = zlistx_first (failing); entry;
             entry = zlistx_next (failing), comma = ",") {
            printf ("%s{", comma);
            stuck_json_str ("node", entry->node, false);
            stuck_json_str ("store", entry->store, true);
            printf ("}");
        }
        printf ("],\"truncated\":%lld", (long long) truncated);
        cmd_failure_members (&failure, true);
        printf ("}\n");
    } else {
        //  Nothing pending is said only of nodes that answered.
        size_t unanswered = zlistx_size (down) + zlistx_size (refused);
        if (zlistx_size (rows))
            s_rows_text (rows, cluster != NULL);
        else if ((size_t) nodes > unanswered)
            printf ("no %scommand is pending%s\n", opts.stalled ? "stalled " : "",
                    unanswered ? " on the nodes that answered" : "");
        if (truncated)
            printf ("... and %lld more (see --limit)\n", (long long) truncated);
        //  A node's silence is an error, said on stderr as every one is
        //  (`shoal pending:`): it was a line of the list on stdout.
        fflush (stdout);
        for (char *line = zlistx_first (silent); line; line = zlistx_next (silent))
            fprintf (stderr, "shoal pending: %s\n", line);
        for (store_failing_t *entry = zlistx_first (failing); entry; entry = zlistx_next (failing))
            printf ("node %s: %s (what it could not write is not in its list, which may be "
                    "stale or incomplete)\n",
                    entry->node, entry->store);
    }
    int rc = zlistx_size (down) || zlistx_size (refused)           ? EXIT_NO_ANSWER
             : opts.exit_code && (zlistx_size (rows) || truncated) ? EXIT_REJECTED
                                                                   : EXIT_ACCEPTED;
    zlistx_destroy (&rows);
    zlistx_destroy (&down);
    zlistx_destroy (&silent);
    zlistx_destroy (&refused);
    zlistx_destroy (&failing);
    cluster_destroy (&cluster);
    return rc;
}
