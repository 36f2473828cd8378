/*  cmd_client.c - the client commands: send, get, events, stats, transfer.
    Each prints JSON on stdout and errors on stderr, with the exit codes of
    commands.h.
*/
#include "commands.h"
#include "client_window.h"
#include "options.h"

#include <czmq.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TIMEOUT_MS 5000

typedef struct {
    const char *endpoint;
    const char *id;
    long timeout_ms; //  --timeout, 0 if not given (each command has its default)
    long from;
    bool wait;
    bool follow; //  events: keep printing new ones
} client_options_t;

//  --cluster FILE (else $SHOAL_CLUSTER), shared by s_parse and s_call:
//  with it, a command goes to any node of the cluster, with CURVE.
static const char *s_cluster;

//  Parses the options the client commands share (each command ignores the
//  ones it has no use for). Returns the index of the first positional
//  argument, or OPTIONS_ERROR / OPTIONS_HELP (see options.h).
static int s_parse (int argc, char **argv, client_options_t *opts, void (*help) (FILE *))
{
    const option_t table[] = {
        OPT_STRING ("endpoint", &opts->endpoint),
        OPT_STRING ("id", &opts->id),
        OPT_INT ("timeout", &opts->timeout_ms, 1, 3600000),
        OPT_INT ("from", &opts->from, 1, INT64_MAX > LONG_MAX ? LONG_MAX : INT64_MAX),
        OPT_FLAG ("wait", &opts->wait),
        OPT_FLAG ("follow", &opts->follow),
        OPT_STRING ("cluster", &s_cluster),
        OPT_END,
    };
    opts->timeout_ms = 0;
    opts->from = 1;
    s_cluster = NULL;
    int first = options_parse (table, argc, argv, help);
    s_cluster = opts->endpoint ? NULL : client_cluster (s_cluster);
    opts->endpoint = client_endpoint (opts->endpoint);
    return first;
}

static bool s_check_address (const char *command, const char *address)
{
    if (shoal_address_check (address, strlen (address)) == 0)
        return true;
    fprintf (stderr,
             "shoal %s: '%s' is not an address: expected type/id, the type in [a-z0-9_-] "
             "starting with a letter, the id 1..%d bytes of UTF-8\n",
             command, address, SHOAL_ID_MAX);
    return false;
}

//  Sends one request and waits for its reply, at most timeout_ms (0:
//  DEFAULT_TIMEOUT_MS). Prints a message and returns an exit code when
//  there is none; returns -1 with *reply to close when there is.
static int s_call (const char *command, const char *endpoint, const envelope_t *request,
                   long timeout_ms, client_reply_t *reply)
{
    if (timeout_ms == 0)
        timeout_ms = DEFAULT_TIMEOUT_MS;
    char *error = NULL;
    client_t *client =
        s_cluster ? client_new_cluster (s_cluster, NULL, &error) : client_new (endpoint);
    if (!client) {
        if (error)
            fprintf (stderr, "shoal %s: %s\n", command, error);
        else
            fprintf (stderr, "shoal %s: '%s' is not a valid endpoint\n", command, endpoint);
        free (error);
        return EXIT_USAGE;
    }
    int rc = client_call (client, request, (int) timeout_ms, reply);
    client_destroy (&client);
    if (rc == SHOAL_ETIMEOUT) {
        fprintf (stderr, "shoal %s: no answer from %s within %ld ms\n", command, endpoint,
                 timeout_ms);
        return EXIT_NO_ANSWER;
    }
    if (rc) {
        fprintf (stderr, "shoal %s: %s\n", command, shoal_strerror (rc));
        return EXIT_NO_ANSWER;
    }
    return -1;
}

//  Prints a rejection as JSON on stdout and returns EXIT_REJECTED.
static int s_print_rejection (const char *address, const char *name, const char *id_hex,
                              const client_reply_t *reply)
{
    printf ("{\"ok\":false,\"address\":");
    json_string (stdout, address, strlen (address));
    printf (",\"command\":");
    json_string (stdout, name, strlen (name));
    if (id_hex)
        printf (",\"id\":\"%s\"", id_hex);
    printf (",\"code\":");
    json_string (stdout, reply->code, strlen (reply->code));
    printf (",\"reason\":");
    json_string (stdout, reply->reason, strlen (reply->reason));
    printf ("}\n");
    return EXIT_REJECTED;
}

//  --------------------------------------------------------------------------

static void s_send_help (FILE *out)
{
    fprintf (out,
             "Usage: shoal send [--endpoint E] [--id MSGID] [--timeout MS] ADDRESS COMMAND "
             "[field=value ...]\n\n"
             "Sends COMMAND to the actor at ADDRESS and prints the reply as one JSON object.\n"
             "Values: integers stay integers, true/false are booleans, anything else is a\n"
             "string. The same --id sent twice has one effect and gets the same reply.\n\n"
             "Exit: 0 accepted, 1 rejected (JSON has code and reason), 2 bad usage or\n"
             "invalid input (nothing sent), 3 no answer in time (default %d ms).\n\n"
             "Examples:\n"
             "  shoal send account/alice Open owner=Alice overdraft=0\n"
             "  shoal send --id dep-1 account/alice Deposit amount=100\n"
             "  shoal send account/alice Withdraw amount=30 --endpoint tcp://10.0.0.5:7700\n",
             DEFAULT_TIMEOUT_MS);
}

int cmd_send (int argc, char **argv)
{
    client_options_t opts = {0};
    int first = s_parse (argc, argv, &opts, s_send_help);
    if (first < 0)
        return first == OPTIONS_HELP ? 0 : EXIT_USAGE;
    if (argc - first < 2) {
        fprintf (stderr, "shoal send: needs ADDRESS and COMMAND (see shoal send --help)\n");
        return EXIT_USAGE;
    }
    const char *address = argv[first], *name = argv[first + 1];
    if (!s_check_address ("send", address))
        return EXIT_USAGE;
    size_t name_len = strlen (name);
    bool name_ok = name_len > 0 && name_len <= SHOAL_NAME_MAX;
    for (size_t i = 0; name_ok && i < name_len; i++)
        name_ok = name[i] > 0x20 && name[i] < 0x7f;
    if (!name_ok) {
        fprintf (stderr, "shoal send: '%s' is not a command name (1..%d printable bytes)\n", name,
                 SHOAL_NAME_MAX);
        return EXIT_USAGE;
    }
    uint8_t *payload;
    size_t size;
    char error[256];
    if (client_fields (argc - first - 2, argv + first + 2, &payload, &size, error, sizeof error)) {
        fprintf (stderr, "shoal send: %s\n", error);
        return EXIT_USAGE;
    }
    uint8_t id[ENVELOPE_ID_SIZE];
    if (opts.id)
        client_id_from_string (opts.id, id);
    else
        envelope_new_id (id);
    envelope_t request;
    client_request (&request, ENVELOPE_COMMAND, id, address, name, payload, size);
    client_reply_t reply;
    int rc = s_call ("send", opts.endpoint, &request, opts.timeout_ms, &reply);
    free (payload);
    if (rc >= 0)
        return rc;
    char hex[2 * ENVELOPE_ID_SIZE + 1];
    client_id_hex (id, hex);
    if (!reply.ok)
        rc = s_print_rejection (address, name, hex, &reply);
    else {
        printf ("{\"ok\":true,\"address\":");
        json_string (stdout, address, strlen (address));
        printf (",\"command\":");
        json_string (stdout, name, strlen (name));
        printf (",\"id\":\"%s\",\"reply\":", hex);
        json_write (stdout, reply.data, reply.size);
        printf ("}\n");
        rc = EXIT_ACCEPTED;
    }
    client_reply_close (&reply);
    return rc;
}

//  --------------------------------------------------------------------------

static void s_get_help (FILE *out)
{
    fprintf (out, "Usage: shoal get [--endpoint E] [--timeout MS] ADDRESS\n\n"
                  "Prints {\"address\":...,\"version\":N,\"state\":{...}}: the actor's state as\n"
                  "of its latest committed event, and how many events it has.\n\n"
                  "Examples:\n"
                  "  shoal get account/alice\n"
                  "  shoal get transfer/t-42 --timeout 1000\n");
}

int cmd_get (int argc, char **argv)
{
    client_options_t opts = {0};
    int first = s_parse (argc, argv, &opts, s_get_help);
    if (first < 0)
        return first == OPTIONS_HELP ? 0 : EXIT_USAGE;
    if (argc - first != 1) {
        fprintf (stderr, "shoal get: needs exactly one ADDRESS (see shoal get --help)\n");
        return EXIT_USAGE;
    }
    const char *address = argv[first];
    if (!s_check_address ("get", address))
        return EXIT_USAGE;
    envelope_t request;
    client_request (&request, ENVELOPE_QUERY, NULL, address, "get", NULL, 0);
    client_reply_t reply;
    int rc = s_call ("get", opts.endpoint, &request, opts.timeout_ms, &reply);
    if (rc >= 0)
        return rc;
    if (!reply.ok)
        rc = s_print_rejection (address, "get", NULL, &reply);
    else {
        json_write (stdout, reply.data, reply.size);
        printf ("\n");
        rc = EXIT_ACCEPTED;
    }
    client_reply_close (&reply);
    return rc;
}

//  --------------------------------------------------------------------------

static void s_events_help (FILE *out)
{
    fprintf (out,
             "Usage: shoal events [--endpoint E | --cluster FILE] [--timeout MS] [--from SEQ]\n"
             "                    [--follow] ADDRESS\n\n"
             "Prints the actor's committed events from SEQ (default 1), one JSON object\n"
             "per line: {\"seq\":N,\"event\":\"Debited\",\"data\":{...}}. Events named\n"
             "$... are the runtime's records (an operator's $Resolved).\n"
             "With --follow, keeps printing new events as they are committed (it asks\n"
             "every 200 ms from the last seq), until Ctrl-C.\n\n"
             "Examples:\n"
             "  shoal events account/alice\n"
             "  shoal events --from 10 account/alice\n"
             "  shoal events --follow transfer/t-42\n");
}

//  Prints a page of events, each as {"seq","event","data"} in that order
//  ("created" left out). Sets *next from the page. Returns how many it
//  printed, or -1 for a page that is not a map.
static int s_print_events (const client_reply_t *reply, int64_t *next)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *page = map_unpack (&unpacked, reply->data, reply->size);
    int printed = page ? 0 : -1;
    map_find_int (page, "next", next);
    const msgpack_object *events = map_find (page, "events");
    for (uint32_t e = 0;
         events && events->type == MSGPACK_OBJECT_ARRAY && e < events->via.array.size; e++) {
        const msgpack_object *event = &events->via.array.ptr[e];
        if (event->type != MSGPACK_OBJECT_MAP)
            continue;
        static const char *keys[] = {"seq", "event", "data"};
        fputc ('{', stdout);
        for (int k = 0; k < 3; k++) {
            const msgpack_object *value = map_find (event, keys[k]);
            if (value) {
                printf ("%s\"%s\":", k ? "," : "", keys[k]);
                json_object (stdout, value);
            }
        }
        fputs ("}\n", stdout);
        printed++;
    }
    msgpack_unpacked_destroy (&unpacked);
    return printed;
}

int cmd_events (int argc, char **argv)
{
    client_options_t opts = {0};
    int first = s_parse (argc, argv, &opts, s_events_help);
    if (first < 0)
        return first == OPTIONS_HELP ? 0 : EXIT_USAGE;
    if (argc - first != 1) {
        fprintf (stderr, "shoal events: needs exactly one ADDRESS (see shoal events --help)\n");
        return EXIT_USAGE;
    }
    const char *address = argv[first];
    if (!s_check_address ("events", address))
        return EXIT_USAGE;
    int64_t from = opts.from;
    while (true) {
        uint8_t payload[32];
        driver_payload_t packed;
        msgpack_packer pk;
        driver_payload_init (&packed, &pk, payload, sizeof payload);
        msgpack_pack_map (&pk, 1);
        driver_pack_int (&pk, "from", from);
        envelope_t request;
        client_request (&request, ENVELOPE_QUERY, NULL, address, "events", payload, packed.size);
        client_reply_t reply;
        int rc = s_call ("events", opts.endpoint, &request, opts.timeout_ms, &reply);
        if (rc >= 0)
            return rc;
        if (!reply.ok) {
            rc = s_print_rejection (address, "events", NULL, &reply);
            client_reply_close (&reply);
            return rc;
        }
        int64_t next = from;
        int printed = s_print_events (&reply, &next);
        client_reply_close (&reply);
        if (printed < 0) {
            fprintf (stderr, "shoal events: the node sent a malformed page\n");
            return EXIT_NO_ANSWER;
        }
        if ((printed == 0 || next <= from) && !opts.follow)
            return EXIT_ACCEPTED;
        if (printed == 0 || next <= from) { //  --follow: wait for more, until Ctrl-C
            fflush (stdout);
            zclock_sleep (200);
            if (zsys_interrupted)
                return EXIT_ACCEPTED;
            continue;
        }
        from = next;
    }
}

//  --------------------------------------------------------------------------

static void s_stats_help (FILE *out)
{
    fprintf (out, "Usage: shoal stats [--endpoint E] [--timeout MS]\n\n"
                  "Prints the node's counters as one JSON object: messages, accepted,\n"
                  "rejected, duplicates, events, commits, records, resends, active actors,\n"
                  "pending outbox entries, bad frames, peak RSS.\n\n"
                  "Example:\n"
                  "  shoal stats | jq .commits\n");
}

int cmd_stats (int argc, char **argv)
{
    client_options_t opts = {0};
    int first = s_parse (argc, argv, &opts, s_stats_help);
    if (first < 0)
        return first == OPTIONS_HELP ? 0 : EXIT_USAGE;
    if (argc != first) {
        fprintf (stderr, "shoal stats: takes no arguments\n");
        return EXIT_USAGE;
    }
    envelope_t request;
    client_request (&request, ENVELOPE_QUERY, NULL, "node/stats", "stats", NULL, 0);
    client_reply_t reply;
    int rc = s_call ("stats", opts.endpoint, &request, opts.timeout_ms, &reply);
    if (rc >= 0)
        return rc;
    json_write (stdout, reply.data, reply.size);
    printf ("\n");
    client_reply_close (&reply);
    return EXIT_ACCEPTED;
}

//  --------------------------------------------------------------------------

static void s_transfer_help (FILE *out)
{
    fprintf (out,
             "Usage: shoal transfer [--endpoint E] [--id ID] [--wait] [--timeout MS] FROM TO "
             "AMOUNT\n\n"
             "Starts transfer/ID moving AMOUNT from account FROM to account TO (an id like\n"
             "alice means account/alice) and prints {\"transfer\":ID,\"status\":...}. ID is the\n"
             "idempotency key: starting an ID again returns that transfer's status and\n"
             "starts nothing (default: a random ID).\n"
             "With --wait, returns when the transfer is terminal (at most --timeout ms,\n"
             "default 60000): exit 0 completed, 1 failed or compensated, 3 no answer.\n\n"
             "Examples:\n"
             "  shoal transfer alice bob 40\n"
             "  shoal transfer --id order-1234 --wait account/alice account/bob 40\n");
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
    int first = s_parse (argc, argv, &opts, s_transfer_help);
    if (first < 0)
        return first == OPTIONS_HELP ? 0 : EXIT_USAGE;
    if (argc - first != 3) {
        fprintf (stderr, "shoal transfer: needs FROM TO AMOUNT (see shoal transfer --help)\n");
        return EXIT_USAGE;
    }
    long wait_ms = opts.timeout_ms ? opts.timeout_ms : 60000;
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
    if (!s_check_address ("transfer", address))
        return EXIT_USAGE;
    char from[SHOAL_ADDRESS_MAX + 16], to[SHOAL_ADDRESS_MAX + 16], amount[64];
    const char *accounts[2] = {argv[first], argv[first + 1]};
    char *targets[2] = {from, to};
    for (int i = 0; i < 2; i++) {
        if (strchr (accounts[i], '/'))
            snprintf (targets[i], SHOAL_ADDRESS_MAX + 16, "%s", accounts[i]);
        else
            snprintf (targets[i], SHOAL_ADDRESS_MAX + 16, "account/%s", accounts[i]);
        if (!s_check_address ("transfer", targets[i]))
            return EXIT_USAGE;
    }
    char *end;
    long long value = strtoll (argv[first + 2], &end, 10);
    if (*end || end == argv[first + 2] || value <= 0) {
        fprintf (stderr, "shoal transfer: AMOUNT must be a positive integer, not '%s'\n",
                 argv[first + 2]);
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
    //  saga answers a repeated Start with its current status (a repeated
    //  message id would get the first Start's stored reply instead).
    uint8_t message_id[ENVELOPE_ID_SIZE];
    envelope_new_id (message_id);
    envelope_t request;
    client_request (&request, ENVELOPE_COMMAND, message_id, address, "Start", payload, size);
    client_reply_t reply;
    int rc = s_call ("transfer", opts.endpoint, &request, opts.timeout_ms, &reply);
    free (payload);
    if (rc >= 0)
        return rc;
    if (!reply.ok) {
        rc = s_print_rejection (address, "Start", NULL, &reply);
        client_reply_close (&reply);
        return rc;
    }
    char status[32] = "unknown";
    map_str (reply.data, reply.size, "status", status, sizeof status);
    client_reply_close (&reply);
    if (!opts.wait) {
        s_print_transfer (id, status, NULL);
        return EXIT_ACCEPTED;
    }
    int64_t deadline = zclock_mono () + wait_ms;
    client_t *client = client_new (opts.endpoint);
    while (client && zclock_mono () < deadline && !zsys_interrupted) {
        envelope_t get;
        client_request (&get, ENVELOPE_QUERY, NULL, address, "get", NULL, 0);
        int64_t left = deadline - zclock_mono ();
        rc = client_call (client, &get, (int) (left > 0 ? left : 1), &reply);
        if (rc == SHOAL_ETIMEOUT)
            break;
        if (rc == 0 && reply.ok && reply_state_str (&reply, "status", status, sizeof status) == 0 &&
            (streq (status, "completed") || streq (status, "failed") ||
             streq (status, "compensated"))) {
            s_print_transfer (id, status, &reply);
            client_reply_close (&reply);
            client_destroy (&client);
            return streq (status, "completed") ? EXIT_ACCEPTED : EXIT_REJECTED;
        }
        if (rc == 0)
            client_reply_close (&reply);
        zclock_sleep (20);
    }
    client_destroy (&client);
    fprintf (stderr, "shoal transfer: %s is still %s after %ld ms\n", address, status, wait_ms);
    s_print_transfer (id, status, NULL);
    return EXIT_NO_ANSWER;
}
