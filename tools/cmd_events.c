/*  cmd_events.c - `shoal events`: an actor's events, page by page, and
    with --follow the new ones as they come. Prints JSON on stdout and
    errors on stderr, with the exit codes of commands.h; the target and
    the calls as the other client commands (client_cmd.h).
*/
#include "commands.h"
#include "client_window.h"
#include "options.h"
#include "client_cmd.h"

#include <czmq.h>
#include <errno.h>
#include <msgpack.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  --------------------------------------------------------------------------

static void s_events_help (FILE *out)
{
    fprintf (out,
             "Usage: shoal events [--endpoint E | --cluster FILE [--node NAME]] [--timeout MS]\n"
             "                    [--from SEQ] [--follow] ADDRESS\n\n"
             "Prints the actor's committed events from SEQ (default 1), one JSON object\n"
             "per line: {\"seq\":N,\"event\":\"Debited\",\"data\":{...}}. Events named\n"
             "$... are the runtime's records (an operator's $Resolved).\n"
             "With --follow, keeps printing new events as they are committed (it asks\n"
             "every 200 ms from the last seq), until Ctrl-C; a node that stops or\n"
             "restarts is asked again until it answers (said on stderr).\n\n" TARGET_HELP
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

//  True once stdout can take no more: a pipe whose reader is gone (`|
//  head -1`), which Linux flags POLLERR on the write end. A follower that
//  waits writes nothing, so no SIGPIPE would end it (nor any, ignored).
static bool s_stdout_gone (void)
{
    struct pollfd out = {STDOUT_FILENO, 0, 0};
    return poll (&out, 1, 0) == 1 && (out.revents & (POLLERR | POLLHUP | POLLNVAL));
}

//  Flushes stdout: 0, -1 when its reader is gone (EPIPE: the follower's
//  end, as SIGPIPE would be), or EXIT_REJECTED said (a full disk).
static int s_flush_stdout (void)
{
    if (fflush (stdout) == 0 && !ferror (stdout))
        return 0;
    if (errno == EPIPE)
        return -1;
    fprintf (stderr, "shoal events: cannot write the events: %s\n", strerror (errno));
    return EXIT_REJECTED;
}

int cmd_events (int argc, char **argv)
{
    client_options_t opts = {0};
    int first = client_cmd_parse (argc, argv, &opts, s_events_help);
    if (first < 0)
        return first == OPTIONS_HELP ? 0 : EXIT_USAGE;
    if (argc - first != 1) {
        fprintf (stderr, "shoal events: needs exactly one ADDRESS (see shoal events --help)\n");
        return EXIT_USAGE;
    }
    const char *address = argv[first];
    if (!cmd_check_address ("events", address))
        return EXIT_USAGE;
    client_t *client = client_cmd_connect ("events", &opts);
    if (!client)
        return EXIT_USAGE;
    int64_t from = opts.from;
    int rc = EXIT_ACCEPTED;
    bool unanswered = false; //  --follow: the last ask had no answer
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
        //  --follow outlives a node that stops or restarts: it asks again
        //  until Ctrl-C. The first ask unanswered is said (s_call), the
        //  next ones are quiet. A key the node refused will not be let in
        //  by asking again.
        if (unanswered) {
            long timeout_ms = opts.timeout_ms ? opts.timeout_ms : DEFAULT_TIMEOUT_MS;
            rc =
                client_call (client, &request, (int) timeout_ms, &reply) == 0 ? -1 : EXIT_NO_ANSWER;
        } else
            rc = client_cmd_call ("events", client, &opts, &request, opts.timeout_ms, &reply, NULL);
        //  Its owner's silence, said by the node asked, is no answer too;
        //  and, followed, a node too busy to answer now (its queue full,
        //  a restart's re-sends) or reloading the actor: asked again.
        char node[64];
        bool owner_down = rc < 0 && cmd_owner_down (&reply, node, sizeof node);
        if (rc < 0 && !owner_down && opts.follow && client_reply_transient (&reply)) {
            client_reply_close (&reply);
            rc = EXIT_NO_ANSWER;
        }
        if (owner_down) {
            if (!unanswered)
                cmd_no_answer ("events", address, "events", node, reply.reason, !opts.follow);
            client_reply_close (&reply);
            rc = EXIT_NO_ANSWER;
            if (!opts.follow)
                break;
        }
        if (rc == EXIT_NO_ANSWER && opts.follow && !client_refusal (client)) {
            if (!unanswered)
                fprintf (stderr,
                         "shoal events: still following %s from seq %lld; asking again "
                         "until it answers (Ctrl-C stops)\n",
                         address, (long long) from);
            unanswered = true;
            zclock_sleep (200);
            if (zsys_interrupted || s_stdout_gone ())
                break;
            continue;
        }
        if (rc >= 0)
            break;
        if (unanswered)
            fprintf (stderr, "shoal events: %s answers again\n", address);
        unanswered = false;
        if (!reply.ok) {
            rc = client_cmd_print_rejection (address, "events", NULL, NULL, &reply);
            client_reply_close (&reply);
            break;
        }
        int64_t next = from;
        int printed = s_print_events (&reply, &next);
        client_reply_close (&reply);
        rc = EXIT_ACCEPTED;
        if (printed < 0) {
            fprintf (stderr, "shoal events: the node sent a malformed page\n");
            rc = EXIT_NO_ANSWER;
        }
        //  Each page out before the next ask, and its failure said: a
        //  full disk (EXIT_REJECTED), or a reader gone (done, exit 0).
        int flushed = printed < 0 ? 0 : s_flush_stdout ();
        if (flushed) {
            rc = flushed < 0 ? EXIT_ACCEPTED : flushed;
            break;
        }
        if (printed < 0 || ((printed == 0 || next <= from) && !opts.follow))
            break;
        if (printed == 0 || next <= from) { //  --follow: wait for more, until Ctrl-C
            zclock_sleep (200);
            if (zsys_interrupted || s_stdout_gone ()) {
                rc = EXIT_ACCEPTED;
                break;
            }
            continue;
        }
        from = next;
    }
    client_destroy (&client);
    return rc;
}

//  --------------------------------------------------------------------------
