/*  cmd_client.c - the client commands: send, get, transfer (events is in
    cmd_events.c, stats in cmd_stats.c).
    Each prints JSON on stdout and errors on stderr, with the exit codes of
    commands.h.

    Each talks to one endpoint, or to a cluster (any node, which forwards
    what it does not own), or to one node of a cluster: client_target
    chooses (--endpoint, then --cluster, then $SHOAL_ENDPOINT, then
    $SHOAL_CLUSTER), --node picks the node, and s_connect makes every
    client. `stats` of a whole cluster asks each node (cluster_stats.h).
*/
#include "commands.h"
#include "client_window.h"
#include "cluster.h"
#include "cluster_stats.h"
#include "options.h"
#include "client_cmd.h"
#include "utf8.h"

#include <czmq.h>
#include <errno.h>
#include <msgpack.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  Parses the options the client commands share (each command ignores the
//  ones it has no use for) and chooses the target. Returns the index of
//  the first positional argument, or OPTIONS_ERROR / OPTIONS_HELP (see
//  options.h).
int client_cmd_parse (int argc, char **argv, client_options_t *opts, void (*help) (FILE *))
{
    const option_t table[] = {
        OPT_STRING ("endpoint", &opts->endpoint),
        OPT_STRING ("cluster", &opts->cluster),
        OPT_STRING ("node", &opts->node),
        OPT_STRING_ONCE ("id", &opts->id),
        OPT_STRING_ONCE ("input", &opts->input),
        OPT_INT ("timeout", &opts->timeout_ms, 1, 3600000),
        OPT_INT ("from", &opts->from, 1, INT64_MAX > LONG_MAX ? LONG_MAX : INT64_MAX),
        OPT_FLAG ("wait", &opts->wait),
        OPT_FLAG ("follow", &opts->follow),
        //  As where: JSON is the only output, and a script that adds
        //  --json to every command was refused here (exit 2).
        OPT_FLAG ("json", &opts->json),
        OPT_INT ("created", &opts->created, 1, LONG_MAX),
        OPT_END,
    };
    opts->timeout_ms = 0;
    opts->from = 1;
    int first = options_parse (table, argc, argv, help);
    if (first < 0)
        return first;
    if (opts->created && !streq (argv[0], "send")) {
        fprintf (stderr, "shoal %s: --created goes with send (a retry's first time)\n", argv[0]);
        return OPTIONS_ERROR;
    }
    bool endpoint_given = opts->endpoint != NULL;
    if (opts->node && !endpoint_given)
        opts->cluster = client_cluster (opts->cluster); //  --node: a cluster's, if any
    opts->cluster_ignored = endpoint_given && opts->cluster && *opts->cluster;
    client_target (opts->endpoint, opts->cluster, &opts->endpoint, &opts->cluster);
    if (opts->node && !opts->cluster) {
        fprintf (stderr, "shoal %s: --node names a node of a cluster: %s\n", argv[0],
                 endpoint_given ? "--endpoint talks to one endpoint, leave out one of them"
                                : "give --cluster FILE (or set $SHOAL_CLUSTER)");
        return OPTIONS_ERROR;
    }
    return first;
}

bool cmd_check_address (const char *command, const char *address)
{
    if (shoal_address_check (address, strlen (address)) == 0)
        return true;
    char quoted[SHOAL_ADDRESS_MAX + 64]; //  one line, whatever its bytes
    fprintf (stderr,
             "shoal %s: %s is not an address: expected type/id, the type 1..%d bytes of "
             "[a-z0-9_-] starting with a letter, the id 1..%d bytes of UTF-8\n",
             command, utf8_quote (quoted, sizeof quoted, address, strlen (address), '\''),
             SHOAL_TYPE_MAX, SHOAL_ID_MAX);
    return false;
}

//  Names what opts talk to, for a message, in text (size bytes).
static void s_target_name (const client_options_t *opts, char *text, size_t size)
{
    if (opts->endpoint)
        snprintf (text, size, "%s", opts->endpoint);
    else if (opts->node)
        snprintf (text, size, "node %s of %s", opts->node, opts->cluster);
    else
        snprintf (text, size, "any node of %s", opts->cluster);
}

client_t *client_cmd_connect (const char *command, const client_options_t *opts)
{
    return cmd_connect (command, opts->endpoint, opts->cluster, opts->node);
}

//  The wait for a link that takes the request is in timeout_ms
//  (client_call_every).
int client_cmd_call (const char *command, client_t *client, const client_options_t *opts,
                     const envelope_t *request, long timeout_ms, client_reply_t *reply, int *sends)
{
    if (timeout_ms == 0)
        timeout_ms = DEFAULT_TIMEOUT_MS;
    int rc = client_call_every (client, request, (int) timeout_ms, CLIENT_RESEND_MS, reply, sends);
    if (rc == 0)
        return -1;
    if (rc == SHOAL_ETOOBIG) { //  refused by envelope_encode: nothing left this process
        fprintf (stderr,
                 "shoal %s: the request is too big: its fields are %zu bytes, and a request "
                 "may have %d bytes (1 MiB) in all; nothing was sent\n",
                 command, request->payload_size, ENVELOPE_MAX_SIZE);
        return EXIT_USAGE;
    }
    //  Why, as the link was seen (client_no_answer_why: a CURVE node, none
    //  there, one that took it), first: a retry line stays the last.
    char why[512] = "";
    if (opts->endpoint && (rc == SHOAL_ETIMEOUT || rc == SHOAL_ENET))
        cmd_silence_why (client, opts->cluster_ignored, why, sizeof why);
    if (why[0])
        fprintf (stderr, "shoal %s: %s: %s\n", command, opts->endpoint, why);
    char target[PATH_MAX + 64];
    s_target_name (opts, target, sizeof target);
    char owner[CLUSTER_NAME_MAX + SHOAL_ADDRESS_MAX + 80] = "";
    if (rc == SHOAL_ETIMEOUT && opts->cluster && !opts->endpoint && !opts->node)
        cmd_owner_note (opts->cluster, request->to, owner, sizeof owner);
    char within[80];
    cmd_within (client, timeout_ms, within, sizeof within);
    //  A plain client whose link never took a handshake sent nothing a
    //  node could have run: "may still take effect" sent an operator to
    //  look for an effect there could not be.
    bool unsent = opts->endpoint && client_reached_nothing (client);
    if (rc == SHOAL_ETIMEOUT && opts->retry)
        fprintf (stderr, "shoal %s: no answer from %s %s%s; %s. Retry safely with: %s\n", command,
                 target, within, owner,
                 unsent ? "it reached no node, so it has taken no effect"
                        : "the command may still take effect",
                 opts->retry);
    else if (rc == SHOAL_ETIMEOUT)
        fprintf (stderr, "shoal %s: no answer from %s %s%s\n", command, target, within, owner);
    else if (cmd_refused (command, client, rc, NULL))
        return EXIT_NO_ANSWER; //  nothing was sent: no retry to offer
    else if (rc == SHOAL_ENET && !opts->endpoint) {
        const char *said = client_refusal (client);
        said = said ? said : client_wrong_key (client);
        fprintf (stderr, "shoal %s: could not reach %s within %ld ms%s%s\n", command, target,
                 timeout_ms, said ? "; " : "", said ? said : "");
    } else
        fprintf (stderr, "shoal %s: %s\n", command, shoal_strerror (rc));
    if (rc != SHOAL_ETIMEOUT && opts->retry)
        fprintf (stderr, "shoal %s: retry safely with: %s\n", command, opts->retry);
    return EXIT_NO_ANSWER;
}

//  s_connect, then s_call, for a command that makes one call.
int client_cmd_call_once (const char *command, const client_options_t *opts,
                          const envelope_t *request, long timeout_ms, client_reply_t *reply,
                          int *sends)
{
    client_t *client = client_cmd_connect (command, opts);
    if (!client)
        return EXIT_USAGE;
    int rc = client_cmd_call (command, client, opts, request, timeout_ms, reply, sends);
    client_destroy (&client);
    return rc;
}

//  Prints the JSON fields of a request's id: "id", as the user gave it
//  (or as chosen), and "id_hex", the message id it stands for, when the
//  two differ (NULL: none).
static void s_print_id (const char *id, const char *id_hex)
{
    printf (",\"id\":");
    json_string (stdout, id, strlen (id));
    if (id_hex && strcmp (id, id_hex) != 0)
        printf (",\"id_hex\":\"%s\"", id_hex);
}

int client_cmd_print_rejection (const char *address, const char *name, const char *id,
                                const char *id_hex, const client_reply_t *reply)
{
    printf ("{\"ok\":false,\"address\":");
    json_string (stdout, address, strlen (address));
    printf (",\"command\":");
    json_string (stdout, name, strlen (name));
    if (id)
        s_print_id (id, id_hex);
    printf (",\"code\":");
    json_string (stdout, reply->code, strlen (reply->code));
    printf (",\"reason\":");
    json_string (stdout, reply->reason, strlen (reply->reason));
    printf ("}\n");
    return EXIT_REJECTED;
}

//  Prints a command's rejection as s_print_rejection does, and returns
//  its exit code. A rejection that does not settle the command is not
//  known to have failed, and is said so, with the retry, as
//  EXIT_NO_ANSWER: a client that took it for a refusal and tried again
//  under a new id could have the effect twice. So is a transient one
//  (unavailable, busy: this attempt was not passed on) of a command sent
//  under the caller's --id: an earlier attempt under that id may already
//  be on its way to its actor (forwarded before the owner went down), and
//  run when it comes back; and once the command was sent more than once
//  (sends: s_call's copies), any that is not stored (client_reply_settled:
//  a failed turn's too), as another copy may yet run. Without --id, a
//  command sent once and refused is refused for good. `expired` too is
//  EXIT_NO_ANSWER, with no retry: whether an earlier copy ran is lost.
static int s_command_rejected (const char *command, const client_options_t *opts,
                               const char *address, const char *name, const char *id,
                               const char *id_hex, const client_reply_t *reply, int sends)
{
    int rc = client_cmd_print_rejection (address, name, id, id_hex, reply);
    //  Past the inbox retention: an earlier copy may have run, and no
    //  retry can tell (exit 1 said it was refused: a script that sent it
    //  anew under a new id had it twice; a review's find).
    if (streq (reply->code, "expired")) {
        fprintf (stderr,
                 "shoal %s: expired: an earlier attempt under id %s may have run, and whether it "
                 "did cannot be told (its record is past the node's inbox retention): read %s's "
                 "events (shoal events) before sending it again under a new id\n",
                 command, id ? id : id_hex, address);
        return EXIT_NO_ANSWER;
    }
    bool unsettled =
        sends > 1 ? !client_reply_settled (reply) : opts->id && client_reply_transient (reply);
    if (!unsettled)
        return rc;
    fprintf (stderr,
             "shoal %s: %s: %s; an earlier attempt under id %s may still take effect. "
             "Retry safely with: %s\n",
             command, reply->code, reply->reason, id,
             opts->retry ? opts->retry : "the same command and --id");
    return EXIT_NO_ANSWER;
}

//  The exit code of a command whose effect was taken (rc, 0 or 1) once its
//  answer is printed: EXIT_NO_ANSWER, said with how to read it again, if
//  stdout could not take it (a full disk): exit 1 said "rejected", and a
//  script that sent it again under a new id had it twice. A reader gone
//  (| head -1) is not a failure. retry: the line that asks again under
//  the same id (NULL: said in words, with id).
static int s_answer_written (const char *command, int rc, const char *retry, const char *id)
{
    int cause;
    if (!cmd_output_lost (&cause))
        return rc;
    fprintf (stderr,
             "shoal %s: the node answered, but its answer could not be written%s%s: read it "
             "again, changing nothing, with: %s%s\n",
             command, cause ? ": " : "", cause ? strerror (cause) : "",
             retry ? retry : "the same command and --id ", retry ? "" : id);
    cmd_output_said ();
    return EXIT_NO_ANSWER;
}

//  --------------------------------------------------------------------------

#define SEND_CREATED_MIN 100000000000LL //  1973-03-03 in ms: below, seconds were given

static void s_send_help (FILE *out)
{
    fprintf (out,
             "Usage: shoal send [--endpoint E | --cluster FILE [--node NAME]] [--id MSGID]\n"
             "                  [--created MS] [--timeout MS] [--input FILE|-] ADDRESS\n"
             "                  COMMAND [key=value | key:=JSON ...]\n\n"
             "Sends COMMAND to the actor at ADDRESS and prints the reply as one JSON object.\n"
             "key=value: integers stay integers and true/false are booleans (as they always\n"
             "were: amount=100 is the integer 100), anything else is a string. key:=JSON\n"
             "takes any JSON value: owner:='\"123\"' (a string), price:=12.5 (a double),\n"
             "items:='[{\"sku\":\"a\",\"qty\":2}]', x:=null, blob:='{\"$bytes\":\"aGk=\"}'\n"
             "(bytes, base64; replies print bytes that way too). Maps and arrays nest %d\n"
             "deep at most, the fields' own map counting as one. --input reads a JSON object\n"
             "of fields from FILE, or stdin for - (one --input at most); fields given after\n"
             "it are added (a key once). The same --id sent twice to one ADDRESS has one\n"
             "effect and gets the same reply (an id is its actor's: to another, it is\n"
             "another command). Unanswered, the command is sent again under its id each\n"
             "second until the timeout: one a node lost in a crash runs, once, when it\n"
             "is back (a $-command is sent once). --created MS gives the command the time\n"
             "it was first sent (ms since the epoch; default now): a retry keeps it, so\n"
             "that one later than the node's inbox retention is refused `expired` rather\n"
             "than run again. The retry line printed when no answer came has it.\n\n"
             "Exit: 0 accepted, 1 rejected (JSON has code and reason), 2 bad usage or invalid\n"
             "input (nothing sent), 3 no answer in time (default %d ms), or an answer stdout\n"
             "could not take (a full disk: how to read it again, changing nothing, is on\n"
             "stderr). Through a cluster, a node that cannot reach the actor's owner rejects\n"
             "at once with code unavailable, naming the node: exit 1, or with --id exit 3, as\n"
             "an earlier attempt under that id may still be on its way (retry with it); and\n"
             "once the command was sent again, any refusal that is not stored (unavailable,\n"
             "busy, handler_error, conflict, key_revoked) is exit 3 too, as a copy may still\n"
             "run. So is expired (sent past the node's inbox retention with --created: an\n"
             "earlier copy may have run, and no retry can tell).\n\n" TARGET_HELP "Examples:\n"
             "  shoal send account/alice Open owner=Alice overdraft=0\n"
             "  shoal send --id dep-1 account/alice Deposit amount=100\n"
             "  shoal send order/o1 Place items:='[{\"sku\":\"a\",\"qty\":2}]' price:=12.5\n"
             "  echo '{\"owner\":\"Alice\"}' | shoal send --input - account/alice Open\n"
             "  shoal send account/alice Withdraw amount=30 --endpoint tcp://10.0.0.5:7700\n"
             "  shoal send --cluster /etc/shoal/bank/cluster.cfg account/bob Open owner=Bob\n",
             SHOAL_DATA_DEPTH, DEFAULT_TIMEOUT_MS);
}

//  Reads all of path ("-": stdin) as a NUL-terminated text. Returns it
//  (free() it), or NULL after a message.
static char *s_read_input (const char *path)
{
    FILE *file = streq (path, "-") ? stdin : fopen (path, "rb");
    if (!file) {
        fprintf (stderr, "shoal send: --input %s: %s\n", path, strerror (errno));
        return NULL;
    }
    size_t size = 0, alloc = 4096;
    char *text = malloc (alloc);
    size_t got;
    while (text && (got = fread (text + size, 1, alloc - size - 1, file)) > 0) {
        size += got;
        if (size > 2 * ENVELOPE_MAX_SIZE) {
            fprintf (stderr, "shoal send: --input %s: more than %d bytes\n", path,
                     2 * ENVELOPE_MAX_SIZE);
            free (text);
            text = NULL;
            break;
        }
        if (alloc - size - 1 == 0) {
            char *grown = realloc (text, alloc *= 2);
            if (!grown)
                free (text);
            text = grown;
        }
    }
    if (text && ferror (file)) {
        fprintf (stderr, "shoal send: --input %s: %s\n", path, strerror (errno));
        free (text);
        text = NULL;
    }
    if (file != stdin)
        fclose (file);
    if (text)
        text[size] = 0;
    return text;
}

//  The retry line of a send whose positional arguments (ADDRESS COMMAND
//  FIELD...) are the count at args and whose fields packed are payload.
//  Fields read from stdin go into it as key:=JSON arguments, where the
//  first request had them (a map's fields are in their order in its
//  digest), as the line cannot read stdin again; if they cannot all be,
//  it keeps "--input -" and says stdin must hold the same JSON again. A
//  field argument holding a control byte goes in as key:=JSON too, whose
//  escapes show as they run (client_retry.c). Returns it (free()), or
//  NULL out of memory.
static char *s_send_retry (const client_options_t *opts, int count, char **args, const char *id,
                           const uint8_t *payload, size_t size)
{
    int from_stdin = 0;
    char **fields = opts->input && streq (opts->input, "-")
                        ? client_retry_fields (payload, size, count - 2, &from_stdin)
                        : NULL;
    if (!fields)
        from_stdin = 0; //  set even when they could not all be written
    char **words = calloc ((size_t) (count + from_stdin), sizeof (char *));
    char **escaped = calloc ((size_t) count + 1, sizeof (char *));
    char *retry = NULL;
    if (words && escaped) {
        client_options_t inlined = *opts;
        if (fields)
            inlined.input = NULL;
        words[0] = args[0];
        words[1] = args[1];
        for (int i = 0; i < from_stdin; i++)
            words[2 + i] = fields[i];
        for (int i = 2; i < count; i++) {
            //  The field's place in the map, counted from its end.
            uint32_t from_end = (uint32_t) (count - i);
            if (client_retry_needs_json (args[i]))
                escaped[i] = client_retry_field_from_end (payload, size, from_end);
            words[from_stdin + i] = escaped[i] ? escaped[i] : args[i];
        }
        retry = client_retry_command ("send", &inlined, count + from_stdin, words, id);
    }
    for (int i = 0; escaped && i < count; i++)
        free (escaped[i]);
    free (escaped);
    free (words);
    client_retry_fields_free (&fields);
    return retry;
}

int cmd_send (int argc, char **argv)
{
    client_options_t opts = {0};
    int first = client_cmd_parse (argc, argv, &opts, s_send_help);
    if (first < 0)
        return first == OPTIONS_HELP ? 0 : EXIT_USAGE;
    if (argc - first < 2) {
        fprintf (stderr, "shoal send: needs ADDRESS and COMMAND (see shoal send --help)\n");
        return EXIT_USAGE;
    }
    const char *address = argv[first], *name = argv[first + 1];
    if (!cmd_check_address ("send", address))
        return EXIT_USAGE;
    size_t name_len = strlen (name);
    bool name_ok = name_len > 0 && name_len <= SHOAL_NAME_MAX;
    for (size_t i = 0; name_ok && i < name_len; i++)
        name_ok = name[i] > 0x20 && name[i] < 0x7f;
    if (!name_ok) {
        char quoted[SHOAL_NAME_MAX + 64];
        fprintf (stderr,
                 "shoal send: %s is not a command name (1..%d printable ASCII bytes, no "
                 "space)\n",
                 utf8_quote (quoted, sizeof quoted, name, name_len, '\''), SHOAL_NAME_MAX);
        return EXIT_USAGE;
    }
    uint8_t *payload;
    size_t size;
    char error[256];
    char *input = NULL;
    if (opts.input && !(input = s_read_input (opts.input)))
        return EXIT_USAGE;
    int fields_rc = client_payload (input, argc - first - 2, argv + first + 2, &payload, &size,
                                    error, sizeof error);
    free (input);
    if (fields_rc) {
        fprintf (stderr, "shoal send: %s\n", error);
        return EXIT_USAGE;
    }
    uint8_t id[ENVELOPE_ID_SIZE];
    if (opts.id)
        client_id_from_string (opts.id, id);
    else
        envelope_new_id (id);
    char hex[2 * ENVELOPE_ID_SIZE + 1];
    client_id_hex (id, hex);
    //  The id shown is the one the user gave (its hex too when it was
    //  hashed into one), or the one we chose.
    const char *shown = opts.id ? opts.id : hex;
    envelope_t request;
    client_request (&request, ENVELOPE_COMMAND, id, address, name, payload, size);
    //  A retry keeps the first send's time: past the inbox retention the
    //  node refuses it expired, where a new time ran it again. In ms since
    //  the epoch: one in seconds reads as 1970 (expired at once), and one
    //  past tomorrow would keep its record that long.
    int64_t now_ms = zclock_time ();
    if (opts.created && (opts.created < SEND_CREATED_MIN || opts.created > now_ms + 86400000)) {
        fprintf (stderr,
                 "shoal send: --created %ld is not the time of a first send in ms since the "
                 "epoch (now is %lld)\n",
                 opts.created, (long long) now_ms);
        free (payload);
        return EXIT_USAGE;
    }
    if (opts.created)
        request.created = opts.created;
    opts.created = request.created;
    char *retry = s_send_retry (&opts, argc - first, argv + first, shown, payload, size);
    opts.retry = retry;
    client_reply_t reply;
    int sends = 0;
    int rc = client_cmd_call_once ("send", &opts, &request, opts.timeout_ms, &reply, &sends);
    free (payload);
    if (rc >= 0) {
        free (retry);
        return rc;
    }
    if (!reply.ok)
        rc = s_command_rejected ("send", &opts, address, name, shown, hex, &reply, sends);
    else {
        printf ("{\"ok\":true,\"address\":");
        json_string (stdout, address, strlen (address));
        printf (",\"command\":");
        json_string (stdout, name, strlen (name));
        s_print_id (shown, hex);
        printf (",\"reply\":");
        json_write (stdout, reply.data, reply.size);
        printf ("}\n");
        rc = EXIT_ACCEPTED;
    }
    if (rc == EXIT_ACCEPTED || rc == EXIT_REJECTED) //  its answer is the node's for good
        rc = s_answer_written ("send", rc, retry, shown ? shown : hex);
    client_reply_close (&reply);
    free (retry);
    return rc;
}

//  --------------------------------------------------------------------------

static void s_get_help (FILE *out)
{
    fprintf (out, "Usage: shoal get [--endpoint E | --cluster FILE [--node NAME]] [--timeout MS] "
                  "ADDRESS\n\n"
                  "Prints {\"address\":...,\"version\":N,\"state\":{...}}: the actor's state as\n"
                  "of its latest committed event, and how many events it has.\n\n" TARGET_HELP
                  "Examples:\n"
                  "  shoal get account/alice\n"
                  "  shoal get transfer/t-42 --timeout 1000\n"
                  "  shoal get account/alice --cluster cluster/cluster.cfg --node n2\n");
}

int cmd_get (int argc, char **argv)
{
    client_options_t opts = {0};
    int first = client_cmd_parse (argc, argv, &opts, s_get_help);
    if (first < 0)
        return first == OPTIONS_HELP ? 0 : EXIT_USAGE;
    if (argc - first != 1) {
        fprintf (stderr, "shoal get: needs exactly one ADDRESS (see shoal get --help)\n");
        return EXIT_USAGE;
    }
    const char *address = argv[first];
    if (!cmd_check_address ("get", address))
        return EXIT_USAGE;
    envelope_t request;
    client_request (&request, ENVELOPE_QUERY, NULL, address, "get", NULL, 0);
    client_reply_t reply;
    int rc = client_cmd_call_once ("get", &opts, &request, opts.timeout_ms, &reply, NULL);
    if (rc >= 0)
        return rc;
    char node[64];
    if (cmd_owner_down (&reply, node, sizeof node))
        rc = cmd_no_answer ("get", address, "get", node, reply.reason, true);
    else if (!reply.ok)
        rc = client_cmd_print_rejection (address, "get", NULL, NULL, &reply);
    else {
        json_write (stdout, reply.data, reply.size);
        printf ("\n");
        rc = EXIT_ACCEPTED;
    }
    client_reply_close (&reply);
    return rc;
}

//  --------------------------------------------------------------------------

static void s_transfer_help (FILE *out)
{
    fprintf (out,
             "Usage: shoal transfer [--endpoint E | --cluster FILE [--node NAME]] [--id ID]\n"
             "                      [--wait] [--timeout MS] FROM TO AMOUNT\n\n"
             "Starts transfer/ID moving AMOUNT from account FROM to account TO (an id like\n"
             "alice means account/alice) and prints {\"transfer\":ID,\"status\":...}. ID is the\n"
             "idempotency key: starting an ID again with the same FROM TO AMOUNT returns\n"
             "that transfer's status and starts nothing; with others it is refused as\n"
             "id_reused (exit 1), changing nothing. ID: at most %d bytes (default: a\n"
             "random ID). A node that cannot reach the owner refuses with code\n"
             "unavailable: exit 1, or with --id (or once the Start was sent again: it is,\n"
             "under its message id, each second without an answer) exit 3, as an earlier\n"
             "start of that ID may still be on its way (start it again with the same ID).\n"
             "With --wait, returns when the transfer is terminal (at most --timeout ms,\n"
             "default 60000): exit 0 completed, 1 failed or compensated, 3 no answer.\n"
             "An answer stdout cannot take (a full disk) exits 3, with the line that\n"
             "reads it again on stderr. Through a cluster it asks any node, which\n"
             "forwards to the transfer's owner.\n\n" TARGET_HELP "Examples:\n"
             "  shoal transfer alice bob 40\n"
             "  shoal transfer --id order-1234 --wait account/alice account/bob 40\n"
             "  shoal transfer --cluster cluster/cluster.cfg --wait alice bob 40\n",
             SHOAL_ID_MAX);
}

//  Prints {"transfer":ID,"status":S,...} from a get or Start reply.
static void s_print_transfer (const char *id, const char *status, const client_reply_t *get)
{
    printf ("{\"transfer\":");
    json_string (stdout, id, strlen (id));
    printf (",\"status\":");
    json_string (stdout, status, strlen (status));
    char text[SHOAL_ADDRESS_MAX + 1];
    int64_t amount;
    static const char *fields[] = {"from", "to", "code"};
    for (size_t i = 0; get && i < sizeof fields / sizeof fields[0]; i++)
        if (reply_state_str (get, fields[i], text, sizeof text) == 0) {
            printf (",\"%s\":", fields[i]);
            json_string (stdout, text, strlen (text));
        }
    if (get && reply_state_int (get, "amount", &amount) == 0)
        printf (",\"amount\":%lld", (long long) amount);
    printf ("}\n");
}

int cmd_transfer (int argc, char **argv)
{
    client_options_t opts = {0};
    int first = client_cmd_parse (argc, argv, &opts, s_transfer_help);
    if (first < 0)
        return first == OPTIONS_HELP ? 0 : EXIT_USAGE;
    if (argc - first != 3) {
        fprintf (stderr, "shoal transfer: needs FROM TO AMOUNT (see shoal transfer --help)\n");
        return EXIT_USAGE;
    }
    long wait_ms = opts.timeout_ms ? opts.timeout_ms : 60000;
    //  The id is the transfer's address's id: one cut short would name
    //  another transfer.
    if (opts.id && strlen (opts.id) > SHOAL_ID_MAX) {
        fprintf (stderr,
                 "shoal transfer: --id is %zu bytes, more than the %d bytes a transfer's id may "
                 "have (nothing was sent)\n",
                 strlen (opts.id), SHOAL_ID_MAX);
        return EXIT_USAGE;
    }
    char id[SHOAL_ID_MAX + 1];
    if (opts.id)
        snprintf (id, sizeof id, "%s", opts.id);
    else {
        uint8_t random_id[ENVELOPE_ID_SIZE];
        envelope_new_id (random_id);
        client_id_hex (random_id, id);
    }
    char address[SHOAL_ADDRESS_MAX + 16];
    snprintf (address, sizeof address, "transfer/%s", id);
    if (!cmd_check_address ("transfer", address))
        return EXIT_USAGE;
    char from[SHOAL_ADDRESS_MAX + 16], to[SHOAL_ADDRESS_MAX + 16], amount[64];
    const char *accounts[2] = {argv[first], argv[first + 1]};
    char *targets[2] = {from, to};
    for (int i = 0; i < 2; i++) {
        if (strchr (accounts[i], '/'))
            snprintf (targets[i], SHOAL_ADDRESS_MAX + 16, "%s", accounts[i]);
        else
            snprintf (targets[i], SHOAL_ADDRESS_MAX + 16, "account/%s", accounts[i]);
        if (!cmd_check_address ("transfer", targets[i]))
            return EXIT_USAGE;
    }
    //  Digits alone: strtoll would also take " 5" and "+5" for 5.
    const char *text = argv[first + 2];
    bool digits = *text && strspn (text, "0123456789") == strlen (text);
    errno = 0;
    long long value = digits ? strtoll (text, NULL, 10) : 0;
    if (!digits || value <= 0 || errno == ERANGE) {
        fprintf (stderr,
                 "shoal transfer: AMOUNT must be a positive integer in digits of at most %lld, "
                 "not '%s'\n",
                 (long long) INT64_MAX, text);
        return EXIT_USAGE;
    }
    snprintf (amount, sizeof amount, "amount=%lld", value);
    char from_field[SHOAL_ADDRESS_MAX + 32], to_field[SHOAL_ADDRESS_MAX + 32];
    snprintf (from_field, sizeof from_field, "from=%s", from);
    snprintf (to_field, sizeof to_field, "to=%s", to);
    char *fields[] = {from_field, to_field, amount};
    uint8_t *payload;
    size_t size;
    char error[256];
    if (client_fields (3, fields, &payload, &size, error, sizeof error)) {
        fprintf (stderr, "shoal transfer: %s\n", error);
        return EXIT_USAGE;
    }
    //  A fresh message id: the transfer id is the idempotency key, and the
    //  saga answers a repeated Start with its current status, or refuses
    //  one with other fields as id_reused (a repeated message id would get
    //  the first Start's stored reply instead).
    uint8_t message_id[ENVELOPE_ID_SIZE];
    envelope_new_id (message_id);
    envelope_t request;
    client_request (&request, ENVELOPE_COMMAND, message_id, address, "Start", payload, size);
    client_t *client = client_cmd_connect ("transfer", &opts);
    if (!client) {
        free (payload);
        return EXIT_USAGE;
    }
    char *retry = client_retry_command ("transfer", &opts, argc - first, argv + first, id);
    opts.retry = retry;
    client_reply_t reply;
    int sends = 0;
    int rc = client_cmd_call ("transfer", client, &opts, &request, opts.timeout_ms, &reply, &sends);
    free (payload);
    if (rc < 0 && !reply.ok) {
        rc = s_command_rejected ("transfer", &opts, address, "Start", id, NULL, &reply, sends);
        client_reply_close (&reply);
    }
    free (retry);
    opts.retry = NULL;
    if (rc >= 0) {
        client_destroy (&client);
        return rc;
    }
    char status[32] = "unknown";
    map_str (reply.data, reply.size, "status", status, sizeof status);
    client_reply_close (&reply);
    if (!opts.wait) {
        client_destroy (&client);
        s_print_transfer (id, status, NULL);
        return s_answer_written ("transfer", EXIT_ACCEPTED, NULL, id);
    }
    //  Each get waits a while, not the whole deadline: through a cluster,
    //  the next one may go by another node if this one's answer is lost.
    int64_t deadline = zclock_mono () + wait_ms;
    while (zclock_mono () < deadline && !zsys_interrupted) {
        envelope_t get;
        client_request (&get, ENVELOPE_QUERY, NULL, address, "get", NULL, 0);
        int64_t left = deadline - zclock_mono ();
        int try_ms = left < 1 ? 1 : left < TRANSFER_GET_MS ? (int) left : TRANSFER_GET_MS;
        rc = client_call (client, &get, try_ms, &reply);
        if (rc == 0 && reply.ok && reply_state_str (&reply, "status", status, sizeof status) == 0 &&
            (streq (status, "completed") || streq (status, "failed") ||
             streq (status, "compensated"))) {
            s_print_transfer (id, status, &reply);
            client_reply_close (&reply);
            client_destroy (&client);
            return s_answer_written (
                "transfer", streq (status, "completed") ? EXIT_ACCEPTED : EXIT_REJECTED, NULL, id);
        }
        if (rc == 0)
            client_reply_close (&reply);
        zclock_sleep (20);
    }
    client_destroy (&client);
    fprintf (stderr,
             "shoal transfer: %s is still %s after %ld ms (id %s: the same --id again "
             "starts nothing new)\n",
             address, status, wait_ms, id);
    s_print_transfer (id, status, NULL);
    return EXIT_NO_ANSWER;
}
