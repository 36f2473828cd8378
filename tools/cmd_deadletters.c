/*  cmd_deadletters.c - `shoal dead-letters`: the messages a node set aside
    because their turns crashed it (runtime/deadletter.h), and the
    operator's two decisions on one: retry (run it once more) and drop.

    A node lists its own dead letters (the "dead_letters" query, answered
    by its front); with --cluster every node is asked in turn. retry and
    drop find the message by its id in those lists (no answer, not "not
    found", while a node whose list may hold it did not answer), then send
    the decision to its receiver's address, signed with cmd_operator ($USER,
    else the login): the node writes who and when in the record, shown by
    --all.
*/
#include "commands.h"
#include "cluster.h"
#include "options.h"
#include "utf8.h"

#include <ctype.h>
#include <czmq.h>
#include <msgpack.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_TIMEOUT_MS 5000
#define TARGETS_MAX 64 //  nodes asked, at most

typedef struct {
    const char *endpoint;
    const char *cluster;
    bool json;
    bool all;
    bool force;         //  drop a reply all the same (it strands its saga)
    const char *reason; //  why, for retry and drop: kept in the record
    long timeout_ms;
} dl_options_t;

//  One node to ask: its name ("" alone) and a client to it.
typedef struct {
    char name[64];
    client_t *client;
    client_reply_t reply; //  its list, when listed
    bool listed;
    bool refused; //  it refused this client's key (nodes_refused, as pending's)
} target_t;

static void s_help (FILE *out)
{
    fprintf (out,
             "Usage: shoal dead-letters [--endpoint E | --cluster FILE] [--json] [--all]\n"
             "       shoal dead-letters [--endpoint E | --cluster FILE] retry --reason TEXT ID\n"
             "       shoal dead-letters [--endpoint E | --cluster FILE] drop [--force] "
             "--reason TEXT ID\n\n"
             "A message during whose turn the node died 3 times in a row is set aside as a\n"
             "dead letter: the node starts and serves everything else. A client sending it\n"
             "is answered poisoned; an actor sending it sees it stalled.\n\n"
             "  (no action)  list the dead letters: address, command, id, crashes and the\n"
             "               last crash; --all adds those decided (retried, dropped) and\n"
             "               those that crashed fewer times, with who decided, when and\n"
             "               why\n"
             "  retry ID     run it once more (after a fixed module): its count starts\n"
             "               again, so a crash sets it aside after 3 more\n"
             "  drop ID      never run it: a command is answered dropped (its saga sees\n"
             "               the refusal), a timer deleted. A reply is refused unless\n"
             "               --force: dropped, its saga never sees it and nothing of it\n"
             "               stays pending to resolve, and what its target did (a Debit\n"
             "               taken) stands unanswered; fix the saga's module and retry\n"
             "--reason TEXT (1 to %d bytes of UTF-8, required) says why: each decision is\n"
             "written in the node's journal with it, $USER (else the login running this),\n"
             "the time, and the key and certificate the node let this client in by (on a\n"
             "cluster: its own word, not $USER's), and listed with them by --all.\n"
             "--timeout MS: how long to wait for each node's answer (default %d).\n\n"
             "A suspect (--all: it crashed the node fewer than 3 times) may be retried or\n"
             "dropped as well; one retried, dropped or run already is refused.\n" OPERATOR_HELP
             "Exit: 0 done, 1 refused (not found, decided already, or a reply's drop without\n"
             "--force: why on stderr, and as JSON on stdout with --json), 2 bad usage (or a\n"
             "client certificate that cannot be read), 3 no answer, or a node refused this\n"
             "client's key (said on stderr); an ID the nodes that answered do not list, while\n"
             "one did not answer, is no answer (its list may hold it). --json's list names\n"
             "such nodes in nodes_down, and those that refused this client's key in\n"
             "nodes_refused.\n\n"
             "A node lists its first 2000 (fewer if long); past them, a line on stderr\n"
             "(--json: not_shown) says how many more it holds, and retry and drop find any\n"
             "of them.\n\n"
             "Where: --endpoint E (one node), --cluster FILE (every node of it), then\n"
             "$SHOAL_ENDPOINT, $SHOAL_CLUSTER, " CLIENT_DEFAULT_ENDPOINT ".\n\n" JSON_FAILURE_HELP
             "Examples:\n"
             "  shoal dead-letters\n"
             "  shoal dead-letters --cluster bank/cluster.cfg --all\n"
             "  shoal dead-letters retry --reason \"fixed in orders 1.4.2\" "
             "07ae0551c2a954d964f83d510607e427\n"
             "  shoal dead-letters drop --reason \"bad import, ticket 77\" "
             "07ae0551c2a954d964f83d510607e427\n"
             "  shoal dead-letters drop --force --reason \"refunded by hand\" "
             "5c1f0e9a3b7d44e2a1c8f6b2d9e07a13\n"
             "  shoal dead-letters --json | jq -r '.dead_letters[] | .address + \" \" + .id'\n",
             ENVELOPE_REASON_MAX, DEFAULT_TIMEOUT_MS);
}

static void s_targets_close (target_t *targets, int count)
{
    for (int i = 0; i < count; i++) {
        if (targets[i].listed)
            client_reply_close (&targets[i].reply);
        client_destroy (&targets[i].client);
    }
}

//  Makes the targets: the endpoint, or every node of the cluster. Returns
//  their count, or -1 after a message.
static int s_targets (const dl_options_t *opts, target_t *targets)
{
    if (opts->endpoint) {
        targets[0].client = cmd_connect ("dead-letters", opts->endpoint, NULL, NULL);
        snprintf (targets[0].name, sizeof targets[0].name, "%s", "");
        return targets[0].client ? 1 : -1;
    }
    char *error = NULL;
    cluster_t *cluster = cluster_load (opts->cluster, &error);
    if (!cluster) {
        fprintf (stderr, "shoal dead-letters: %s\n", error ? error : "out of memory");
        free (error);
        return -1;
    }
    int count = cluster_node_count (cluster);
    count = count > TARGETS_MAX ? TARGETS_MAX : count;
    for (int i = 0; i < count; i++) {
        snprintf (targets[i].name, sizeof targets[i].name, "%s", cluster_node_name (cluster, i));
        targets[i].client = cmd_connect ("dead-letters", NULL, opts->cluster, targets[i].name);
        if (!targets[i].client) {
            s_targets_close (targets, i);
            cluster_destroy (&cluster);
            return -1;
        }
    }
    cluster_destroy (&cluster);
    return count;
}

//  Asks every target for its list (all: decided and suspect ones too;
//  id: that message's records only, past the first 2,000 a node lists).
//  Returns the number that answered; says on stderr which did not, and
//  keeps why in failure.
static int s_list (const dl_options_t *opts, target_t *targets, int count, bool all, const char *id,
                   cmd_failure_t *failure)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, (all ? 1 : 0) + (id ? 1 : 0));
    if (all) {
        msgpack_pack_str_with_body (&pk, "all", 3);
        msgpack_pack_true (&pk);
    }
    if (id) {
        msgpack_pack_str_with_body (&pk, "id", 2);
        msgpack_pack_str_with_body (&pk, id, strlen (id));
    }
    const uint8_t *payload = (const uint8_t *) buffer.data;
    size_t size = buffer.size;
    int answered = 0;
    for (int i = 0; i < count; i++) {
        envelope_t request;
        client_request (&request, ENVELOPE_QUERY, NULL, "node/dead-letters", "dead_letters",
                        payload, size);
        int rc =
            client_call (targets[i].client, &request, (int) opts->timeout_ms, &targets[i].reply);
        if (rc == 0 && targets[i].reply.ok) {
            targets[i].listed = true;
            answered++;
            continue;
        }
        const char *who = targets[i].name[0] ? "node " : "";
        const char *name = targets[i].name[0] ? targets[i].name : opts->endpoint;
        if (rc == 0) {
            cmd_fail (failure, "dead-letters", EXIT_REJECTED, targets[i].reply.code,
                      "%s%s refused: %s %s", who, name, targets[i].reply.code,
                      targets[i].reply.reason);
            client_reply_close (&targets[i].reply);
        } else if (cmd_refused ("dead-letters", targets[i].client, rc, failure))
            targets[i].refused = true;
        else {
            char why[512], within[80];
            cmd_silence_why (targets[i].client, false, why, sizeof why);
            cmd_within (targets[i].client, opts->timeout_ms, within, sizeof within);
            cmd_fail (failure, "dead-letters", EXIT_NO_ANSWER, "no_answer",
                      "no answer from %s%s %s%s%s", who, name, within, why[0] ? ": " : "", why);
        }
    }
    msgpack_sbuffer_destroy (&buffer);
    return answered;
}

//  The list's array in a target's reply, or NULL.
static const msgpack_object *s_entries (msgpack_unpacked *unpacked, const target_t *target)
{
    const msgpack_object *map = map_unpack (unpacked, target->reply.data, target->reply.size);
    const msgpack_object *list = map ? map_find (map, "dead_letters") : NULL;
    return list && list->type == MSGPACK_OBJECT_ARRAY ? list : NULL;
}

static void s_time (int64_t ms, char *text, size_t size)
{
    if (ms <= 0) {
        snprintf (text, size, "-");
        return;
    }
    time_t seconds = (time_t) (ms / 1000);
    struct tm tm;
    gmtime_r (&seconds, &tm);
    strftime (text, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void s_print_entry (const dl_options_t *opts, const target_t *target,
                           const msgpack_object *entry, bool first)
{
    char address[SHOAL_ADDRESS_MAX + 1] = "", kind[16] = "", command[SHOAL_NAME_MAX + 1] = "",
                                     id[40] = "", state[16] = "", who[64] = "",
                                     why[ENVELOPE_REASON_MAX + 1] = "", key[48] = "", cert[72] = "";
    int64_t crashes = 0, last = 0, decided = 0;
    map_find_str (entry, "address", address, sizeof address);
    map_find_str (entry, "kind", kind, sizeof kind);
    map_find_str (entry, "command", command, sizeof command);
    map_find_str (entry, "id", id, sizeof id);
    map_find_str (entry, "state", state, sizeof state);
    map_find_str (entry, "who", who, sizeof who);
    map_find_str (entry, "why", why, sizeof why); //  "" from a node of before
    //  The key and certificate the node let the operator in by: "" with
    //  no CURVE, and from a node of before.
    map_find_str (entry, "operator_key", key, sizeof key);
    map_find_str (entry, "operator_cert", cert, sizeof cert);
    map_find_int (entry, "crashes", &crashes);
    map_find_int (entry, "last_crash", &last);
    map_find_int (entry, "decided_at", &decided);
    char last_text[32], decided_text[32];
    s_time (last, last_text, sizeof last_text);
    s_time (decided, decided_text, sizeof decided_text);
    if (opts->json) {
        printf ("%s{", first ? "" : ",");
        if (target->name[0]) {
            printf ("\"node\":");
            json_string (stdout, target->name, strlen (target->name));
            printf (",");
        }
        printf ("\"address\":");
        json_string (stdout, address, strlen (address));
        //  Every string the node sent goes through json_string: a node
        //  that answers garbage makes no JSON that does not parse.
        printf (",\"kind\":");
        json_string (stdout, kind, strlen (kind));
        printf (",\"command\":");
        json_string (stdout, command, strlen (command));
        printf (",\"id\":");
        json_string (stdout, id, strlen (id));
        printf (",\"crashes\":%lld,\"last_crash\":", (long long) crashes);
        json_string (stdout, last_text, strlen (last_text));
        printf (",\"state\":");
        json_string (stdout, state, strlen (state));
        if (who[0]) {
            printf (",\"who\":");
            json_string (stdout, who, strlen (who));
            printf (",\"decided_at\":");
            json_string (stdout, decided_text, strlen (decided_text));
            printf (",\"why\":");
            json_string (stdout, why, strlen (why));
            printf (",\"operator_key\":");
            json_string (stdout, key, strlen (key));
            printf (",\"operator_cert\":");
            json_string (stdout, cert, strlen (cert));
        }
        printf ("}");
        return;
    }
    //  As text, a node's strings move no cursor (a who of an operator's
    //  $USER could hold an escape sequence).
    utf8_plain (address, false);
    utf8_plain (kind, false);
    utf8_plain (command, false);
    utf8_plain (id, false);
    utf8_plain (state, false);
    utf8_plain (who, false);
    utf8_plain (why, false);
    utf8_plain (key, false);
    utf8_plain (cert, false);
    printf ("%-28s %-8s %-16s %s %7lld  %s", address, kind, command, id, (long long) crashes,
            last_text);
    if (opts->all)
        printf ("  %-8s %s %s", state, who[0] ? who : "-", who[0] ? decided_text : "");
    if (target->name[0])
        printf ("  (node %s)", target->name);
    printf ("\n");
    if (opts->all && why[0])
        printf ("  why: %s\n", why);
    if (opts->all && key[0])
        printf ("  key: %s (certificate %s)\n", key, cert[0] ? cert : "?");
}

//  The text list's header line.
static void s_print_header (const dl_options_t *opts)
{
    printf ("%-28s %-8s %-16s %-32s %7s  %s", "ADDRESS", "KIND", "COMMAND", "ID", "CRASHES",
            "LAST CRASH");
    if (opts->all)
        printf ("            %-8s %s", "STATE", "DECIDED BY, AT");
    printf ("\n");
}

//  Prints the lists of the targets that listed theirs; with --json, the
//  nodes that did not, and failure's members if one did not.
static int s_print_list (const dl_options_t *opts, target_t *targets, int count,
                         const cmd_failure_t *failure)
{
    bool first = true;
    int listed = 0;
    int64_t not_shown = 0; //  past the first 2,000 of a node's list
    if (opts->json)
        printf ("{\"dead_letters\":[");
    for (int i = 0; i < count; i++) {
        if (!targets[i].listed)
            continue;
        listed++;
        int64_t more = 0;
        msgpack_unpacked unpacked;
        msgpack_unpacked_init (&unpacked);
        const msgpack_object *list = s_entries (&unpacked, &targets[i]);
        if (map_int (targets[i].reply.data, targets[i].reply.size, "not_shown", &more) == 0 &&
            more > 0) {
            not_shown += more;
            if (!opts->json)
                fprintf (stderr,
                         "shoal dead-letters: %s%s lists its first %u; %lld more are not shown "
                         "(retry and drop take any of them by its id)\n",
                         targets[i].name[0] ? "node " : "the node",
                         targets[i].name[0] ? targets[i].name : "", list ? list->via.array.size : 0,
                         (long long) more);
        }
        for (uint32_t k = 0; list && k < list->via.array.size; k++) {
            if (list->via.array.ptr[k].type != MSGPACK_OBJECT_MAP)
                continue;
            if (first && !opts->json)
                s_print_header (opts);
            s_print_entry (opts, &targets[i], &list->via.array.ptr[k], first);
            first = false;
        }
        msgpack_unpacked_destroy (&unpacked);
    }
    //  None is said only of nodes that answered, as pending says it.
    if (first && listed && !opts->json)
        printf ("no dead letter%s%s\n", opts->all ? ", suspect or decided one" : "",
                listed < count ? " on the nodes that answered" : "");
    if (opts->json) {
        //  The nodes whose lists are not above: a script tells "none" from
        //  "not asked" without reading stderr.
        //  A node that refused this client's key is not down: its own list.
        for (int refused = 0; refused < 2; refused++) {
            printf ("]%s", refused ? ",\"nodes_refused\":[" : ",\"nodes_down\":[");
            const char *comma = "";
            for (int i = 0; i < count; i++)
                if (!targets[i].listed && targets[i].refused == (refused == 1)) {
                    const char *name = targets[i].name[0] ? targets[i].name : opts->endpoint;
                    printf ("%s", comma);
                    json_string (stdout, name, strlen (name));
                    comma = ",";
                }
        }
        printf ("],\"not_shown\":%lld", (long long) not_shown);
        cmd_failure_members (failure, true);
        printf ("}\n");
    }
    return EXIT_ACCEPTED;
}

//  Says that action on id was refused, and why: a line on stderr, and a
//  JSON object on stdout with --json (the README: besides the message on
//  stderr). address is NULL when no node listed id.
static void s_refusal_json (const char *action, const char *id, const char *address,
                            const char *code, const char *reason);
static void s_print_refusal (const dl_options_t *opts, const char *action, const char *id,
                             const char *address, const char *code, const char *reason)
{
    fprintf (stderr, "shoal dead-letters: %s %s refused: %s (%s)\n", action, id, reason, code);
    if (opts->json)
        s_refusal_json (action, id, address, code, reason);
}

//  The refusal as a JSON object on stdout.
static void s_refusal_json (const char *action, const char *id, const char *address,
                            const char *code, const char *reason)
{
    printf ("{\"ok\":false,\"action\":\"%s\",", action);
    if (address) {
        printf ("\"address\":");
        json_string (stdout, address, strlen (address));
        printf (",");
    }
    printf ("\"id\":");
    json_string (stdout, id, strlen (id));
    printf (",\"code\":");
    json_string (stdout, code, strlen (code));
    printf (",\"reason\":");
    json_string (stdout, reason, strlen (reason));
    printf ("}\n");
}

//  retry or drop: finds id in the lists and sends the decision to the
//  node that listed it.
static int s_decide (const dl_options_t *opts, target_t *targets, int count, const char *action,
                     const char *id)
{
    for (int i = 0; i < count; i++) {
        if (!targets[i].listed)
            continue;
        msgpack_unpacked unpacked;
        msgpack_unpacked_init (&unpacked);
        const msgpack_object *list = s_entries (&unpacked, &targets[i]);
        char address[SHOAL_ADDRESS_MAX + 1] = "";
        char found[40] = "";
        //  One message id may have records at two addresses (a turn of another
        //  actor that was running when the node crashed): a dead one first.
        for (int pass = 0; pass < 2 && !address[0]; pass++)
            for (uint32_t k = 0; list && k < list->via.array.size && !address[0]; k++) {
                const msgpack_object *entry = &list->via.array.ptr[k];
                char state[16] = "";
                map_find_str (entry, "state", state, sizeof state);
                if (entry->type == MSGPACK_OBJECT_MAP &&
                    map_find_str (entry, "id", found, sizeof found) == 0 &&
                    strcasecmp (found, id) == 0 && (pass == 1 || streq (state, "dead")))
                    map_find_str (entry, "address", address, sizeof address);
            }
        msgpack_unpacked_destroy (&unpacked);
        if (!address[0])
            continue;
        //  who is packed as a string whatever it reads like (a $USER of
        //  digits was sent as an integer, which the node refuses).
        char user[64];
        cmd_operator (user, sizeof user);
        msgpack_sbuffer buffer;
        msgpack_sbuffer_init (&buffer);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
        msgpack_pack_map (&pk, opts->force ? 4 : 3);
        msgpack_pack_str_with_body (&pk, "id", 2);
        msgpack_pack_str_with_body (&pk, found, strlen (found));
        msgpack_pack_str_with_body (&pk, "who", 3);
        msgpack_pack_str_with_body (&pk, user, strlen (user));
        msgpack_pack_str_with_body (&pk, "why", 3);
        msgpack_pack_str_with_body (&pk, opts->reason, strlen (opts->reason));
        if (opts->force) {
            msgpack_pack_str_with_body (&pk, "force", 5);
            msgpack_pack_true (&pk);
        }
        uint8_t *payload = (uint8_t *) buffer.data;
        size_t size = buffer.size;
        envelope_t request;
        client_request (&request, ENVELOPE_QUERY, NULL, address,
                        streq (action, "retry") ? "dead_letter_retry" : "dead_letter_drop", payload,
                        size);
        client_reply_t reply;
        int rc = client_call (targets[i].client, &request, (int) opts->timeout_ms, &reply);
        msgpack_sbuffer_destroy (&buffer);
        if (rc != 0) {
            cmd_failure_t failure = {0};
            if (!cmd_refused ("dead-letters", targets[i].client, rc, &failure))
                cmd_fail (&failure, "dead-letters", EXIT_NO_ANSWER, "no_answer",
                          "no answer within %ld ms; %s %s may or may not be recorded: list "
                          "with --all to see",
                          opts->timeout_ms, action, found);
            if (opts->json)
                s_print_refusal (opts, action, found, address, failure.code, failure.reason);
            return EXIT_NO_ANSWER;
        }
        int exit_code = reply.ok ? EXIT_ACCEPTED : EXIT_REJECTED;
        if (reply.ok) {
            printf ("{\"ok\":true,\"action\":\"%s\",\"address\":", action);
            json_string (stdout, address, strlen (address));
            printf (",\"id\":");
            json_string (stdout, found, strlen (found));
            printf (",\"reply\":");
            json_write (stdout, reply.data, reply.size);
            printf ("}\n");
        } else
            s_print_refusal (opts, action, found, address, reply.code, reply.reason);
        client_reply_close (&reply);
        return exit_code;
    }
    //  Not found: unless a node did not answer, whose list may hold it.
    char unlisted[256] = "";
    int silent = 0;
    for (int i = 0; i < count; i++) {
        size_t used = strlen (unlisted);
        if (!targets[i].listed && used + sizeof targets[i].name + 2 < sizeof unlisted)
            snprintf (unlisted + used, sizeof unlisted - used, "%s%.63s", used ? ", " : "",
                      targets[i].name);
        silent += !targets[i].listed;
    }
    char reason[512];
    if (silent) {
        snprintf (reason, sizeof reason,
                  "no message %s in the dead-letter lists of the nodes that answered; %s %s "
                  "did not answer, and %s may hold it: try again once %s",
                  id, silent > 1 ? "nodes" : "node", unlisted,
                  silent > 1 ? "their lists" : "its list", silent > 1 ? "they do" : "it does");
        s_print_refusal (opts, action, id, NULL, "no_answer", reason);
        return EXIT_NO_ANSWER;
    }
    snprintf (reason, sizeof reason,
              "no message %s in the dead-letter lists (shoal dead-letters --all shows them all)",
              id);
    s_print_refusal (opts, action, id, NULL, "not_found", reason);
    return EXIT_REJECTED;
}

//  True if id is a message id as the lists show it: 32 hex digits.
static bool s_is_id (const char *id)
{
    size_t len = strlen (id);
    for (size_t i = 0; i < len; i++)
        if (!isxdigit ((unsigned char) id[i]))
            return false;
    return len == 2 * ENVELOPE_ID_SIZE;
}

int cmd_deadletters (int argc, char **argv)
{
    dl_options_t opts = {0};
    const option_t table[] = {
        OPT_STRING ("endpoint", &opts.endpoint),
        OPT_STRING ("cluster", &opts.cluster),
        OPT_FLAG ("json", &opts.json),
        OPT_FLAG ("all", &opts.all),
        OPT_FLAG ("force", &opts.force),
        OPT_STRING_ONCE ("reason", &opts.reason),
        OPT_INT ("timeout", &opts.timeout_ms, 1, 3600000),
        OPT_END,
    };
    int first = options_parse (table, argc, argv, s_help);
    if (first < 0)
        return first == OPTIONS_HELP ? 0 : EXIT_USAGE;
    if (!opts.timeout_ms)
        opts.timeout_ms = DEFAULT_TIMEOUT_MS;
    int left = argc - first;
    const char *action = left > 0 ? argv[first] : NULL;
    if (action && !((streq (action, "retry") || streq (action, "drop")) && left == 2)) {
        fprintf (stderr, "shoal dead-letters: expected nothing, retry ID or drop ID (see shoal "
                         "dead-letters --help)\n");
        return EXIT_USAGE;
    }
    if (opts.force && !(action && streq (action, "drop"))) {
        fprintf (stderr, "shoal dead-letters: --force is for drop ID alone\n");
        return EXIT_USAGE;
    }
    if (!action != !opts.reason) {
        fprintf (stderr,
                 action ? "shoal dead-letters: %s takes --reason TEXT: why, kept in the "
                          "node's journal with who and when\n"
                        : "shoal dead-letters: --reason is for retry and drop%s\n",
                 action ? action : "");
        return EXIT_USAGE;
    }
    if (!cmd_reason_ok ("dead-letters", opts.reason))
        return EXIT_USAGE;
    if (action && !s_is_id (argv[first + 1])) {
        char quoted[96]; //  one line, whatever its bytes
        fprintf (
            stderr,
            "shoal dead-letters: ID is 32 hex digits, as shoal dead-letters lists it, not "
            "%s\n",
            utf8_quote (quoted, sizeof quoted, argv[first + 1], strlen (argv[first + 1]), '\''));
        return EXIT_USAGE;
    }
    client_target (opts.endpoint, opts.cluster, &opts.endpoint, &opts.cluster);
    target_t targets[TARGETS_MAX];
    memset (targets, 0, sizeof targets);
    int count = s_targets (&opts, targets);
    if (count < 0)
        return EXIT_USAGE;
    cmd_failure_t failure = {0};
    int answered = s_list (&opts, targets, count, action != NULL || opts.all,
                           action ? argv[first + 1] : NULL, &failure);
    int rc;
    if (answered == 0 && action) {
        if (opts.json) //  as a refusal of the action, said on stderr already
            s_refusal_json (action, argv[first + 1], NULL, failure.code, failure.reason);
        rc = EXIT_NO_ANSWER;
    } else if (action)
        rc = s_decide (&opts, targets, count, action, argv[first + 1]);
    else {
        //  None listed: the text says nothing more; --json, its list with
        //  every node down, and why (the same shape whatever the target).
        rc = s_print_list (&opts, targets, count, &failure);
        if (answered < count)
            rc = EXIT_NO_ANSWER;
    }
    s_targets_close (targets, count);
    return rc;
}
