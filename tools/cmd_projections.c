/*  cmd_projections.c - `shoal projections`: every build of every
    projection of a node (or of each node of a cluster) with its status,
    position, lag, speed and time left, as a table, as JSON, or refreshed
    each second (--watch); and an operator's actions on one: switch, drop,
    pause, resume, rebuild, skip.

    The node's projection thread answers (runtime/projector_serve.c): the
    query "projections" for the list, "projection_control" for an action,
    whose answer is the list after it. Exit codes of commands.h; with a
    cluster, the worst node's (no answer, then refused).

    Threads: the command's one thread.
*/
#include "projection_cmd.h"
#include "client_window.h"
#include "options.h"
#include "utf8.h"

#include <czmq.h>
#include <inttypes.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WATCH_EVERY_MS 1000 //  --watch: one refresh
#define BAR_WIDTH 20        //  a building version's progress bar

static void s_help (FILE *out)
{
    fprintf (
        out,
        "Usage: shoal projections [--json] [--watch] [--endpoint E | --cluster FILE [--node N]]\n"
        "       shoal projections switch NAME@VERSION | pause|resume|rebuild NAME[@VERSION]\n"
        "       shoal projections drop NAME@VERSION --reason TEXT\n"
        "       shoal projections skip NAME@VERSION POSITION --reason TEXT\n"
        "       shoal projections forget NAME[@VERSION] ID --reason TEXT\n\n"
        "Lists every build of every projection of the node: NAME@VERSION, the build\n"
        "(a rebuild makes a new one), its status, * for the one served, the position\n"
        "in the node's event log it reached, its lag (events behind the log's end),\n"
        "events per second, the time left at that speed (? when it is not moving),\n"
        "and a progress bar while it builds, or the error and the position of the\n"
        "event it stopped at when it failed; and the commands its reactions sent that\n"
        "wait a second or more for an answer (sends: how many; sends_oldest_ms: the\n"
        "oldest's wait since its first send), the oldest of them under its row with\n"
        "their id. A status is building (from position 0,\n"
        "not yet served), live (served, following the log), ready (caught up, waits\n"
        "for switch), old (caught up, another version is served), paused, failed, or\n"
        "orphan (built, but no module registers it any more).\n"
        "--json prints the node's answer: {\"end\":N,\"projections\":[{name, version,\n"
        "build, status, served, registered, manual_switch, position, lag, applied,\n"
        "batches, skipped, rate (0 while paused or failed), eta_s, error,\n"
        "error_position, sends, sends_oldest_ms, unanswered: [{id, to, command, sent,\n"
        "waited_ms, code}] (the 10 oldest; code: the last refusal that left it\n"
        "open, \"\" for no answer)}]}; with --cluster,\n"
        "{\"nodes\":[{\"node\":\"n1\",\"up\":true,\"end\":N,\"projections\":[...]},...]}.\n"
        "--watch refreshes it every second until Ctrl-C (with --json: a line each).\n\n"
        "Actions (VERSION left out: the version served), each printing what happened\n"
        "and the projection's builds after it:\n"
        "  switch NAME@VERSION   serve that version (it must have caught up)\n"
        "  drop NAME@VERSION     delete a version's rows and builds (not the one\n"
        "                        served, nor one a module still registers)\n"
        "  pause, resume         stop and start applying events; queries still\n"
        "                        answer, from rows that stop moving; resume also\n"
        "                        retries a failed event (after a fixed module),\n"
        "                        and says within 2 s whether it went past it or\n"
        "                        failed again (exit 1; --json: \"retry\")\n"
        "  rebuild               build the version again from position 0 in the\n"
        "                        background; the old build serves until it caught up\n"
        "  skip NAME@VERSION P   step over the failed event at position P (recorded\n"
        "                        and logged); the version's later rebuilds leave\n"
        "                        it out too, a new version applies it\n"
        "  forget NAME[@VERSION] ID\n"
        "                        never send again the reaction ID, which its\n"
        "                        target refuses or does not answer (written and\n"
        "                        logged; a copy already on its way may still run,\n"
        "                        once: its target's inbox keeps it from running twice;\n"
        "                        with --cluster, give the --node that lists it)\n"
        "A pause of a paused build, a resume of one neither paused nor failed, a\n"
        "switch to the version served and a skip done already change nothing: each\n"
        "says so (already paused, not paused, already served, skipped already) and\n"
        "exits 0; with --json, \"changed\":false.\n"
        "--reason TEXT (up to 255 bytes of UTF-8; required by drop, skip and forget,\n"
        "which lose something): the node logs each action with it, $USER (else the\n"
        "login running this) and the key of the certificate that asked.\n"
        "With --cluster, an action goes to every node (each has its own builds).\n" OPERATOR_HELP
            PROJ_TARGET_HELP
        "Exit: 0 done, 1 refused (the node's code and reason on stderr: not_found,\n"
        "invalid, busy_projection) or a resumed event failed again (failed_again;\n"
        "--json: \"retry\" says what the retry did, \"projections\" the list as the\n"
        "resume left it), 2 bad usage (nothing sent), 3 no answer.\n\n" JSON_FAILURE_HELP
        "Examples:\n"
        "  shoal projections\n"
        "  shoal projections --watch\n"
        "  shoal projections --json | jq '.projections[] | select(.status==\"failed\")'\n"
        "  shoal projections rebuild bank_totals\n"
        "  shoal projections switch bank_totals@2\n"
        "  shoal projections skip bank_totals@2 1234 --reason \"bad event, ticket 12\"\n"
        "  shoal projections forget large_debits 0b5e7c2a9d8f41e3a6c0d2b4f8e1a7c3 --reason done\n"
        "  shoal projections pause bank_totals --cluster cluster/cluster.cfg\n");
}

//  --------------------------------------------------------------------------
//  One build, as the list has it

typedef struct {
    char name[SHOAL_TYPE_MAX + 1];
    char status[16];
    char error[512];
    int64_t version, build, position, lag, skipped, rate, eta_s, error_position;
    int64_t sends, sends_oldest_ms; //  reactions awaiting an answer, the oldest's wait
    bool served, failed;
} proj_build_t;

static bool s_bool (const msgpack_object *map, const char *key)
{
    const msgpack_object *o = map_find (map, key);
    return o && o->type == MSGPACK_OBJECT_BOOLEAN && o->via.boolean;
}

static void s_build_read (const msgpack_object *entry, proj_build_t *build)
{
    memset (build, 0, sizeof *build);
    build->eta_s = -1;
    map_find_str (entry, "name", build->name, sizeof build->name);
    map_find_str (entry, "status", build->status, sizeof build->status);
    map_find_str (entry, "error", build->error, sizeof build->error);
    map_find_int (entry, "version", &build->version);
    map_find_int (entry, "build", &build->build);
    map_find_int (entry, "position", &build->position);
    map_find_int (entry, "lag", &build->lag);
    map_find_int (entry, "skipped", &build->skipped);
    map_find_int (entry, "rate", &build->rate);
    map_find_int (entry, "eta_s", &build->eta_s);
    map_find_int (entry, "sends", &build->sends);
    map_find_int (entry, "sends_oldest_ms", &build->sends_oldest_ms);
    build->failed = map_find_int (entry, "error_position", &build->error_position) == 0;
    build->served = s_bool (entry, "served");
}

//  The list of a node's answer (an array of maps), or NULL.
static const msgpack_object *s_entries (const node_stats_t *node)
{
    const msgpack_object *list = node->stats ? map_find (node->stats, "projections") : NULL;
    return list && list->type == MSGPACK_OBJECT_ARRAY ? list : NULL;
}

//  A time left in seconds, short: -, ?, 42s, 3m07s, 2h05m.
static void s_eta (const proj_build_t *build, char *text, size_t size)
{
    int64_t s = build->eta_s;
    if (build->lag == 0)
        snprintf (text, size, "-");
    else if (s < 0)
        snprintf (text, size, "?");
    else if (s < 60)
        snprintf (text, size, "%llds", (long long) s);
    else if (s < 3600)
        snprintf (text, size, "%lldm%02llds", (long long) (s / 60), (long long) (s % 60));
    else
        snprintf (text, size, "%lldh%02lldm", (long long) (s / 3600), (long long) (s / 60 % 60));
}

static void s_print_header (void)
{
    printf ("%-26s %5s  %-8s %6s %10s %8s %8s %6s  %s\n", "PROJECTION", "BUILD", "STATUS", "SERVED",
            "POSITION", "LAG", "EVENTS/S", "ETA", "PROGRESS / ERROR");
}

static void s_print_build (const proj_build_t *build, int64_t end)
{
    char label[SHOAL_TYPE_MAX + 16], eta[24];
    snprintf (label, sizeof label, "%s@%lld", build->name, (long long) build->version);
    s_eta (build, eta, sizeof eta);
    char note[640] = "";
    size_t used = 0;
    if (build->failed)
        used = (size_t) snprintf (note, sizeof note, "failed at position %lld: %s",
                                  (long long) build->error_position, build->error);
    else if (!build->served && build->lag > 0 && end > 0) {
        //  Held to 0..end, in 128 bits: position * 100 overflowed past
        //  2^63 / 100, and a node may say any position.
        __int128 at = build->position < 0 ? 0 : build->position > end ? end : build->position;
        int done = (int) (at * BAR_WIDTH / end);
        used =
            (size_t) snprintf (note, sizeof note, "[%.*s%.*s] %3d%%", done, "####################",
                               BAR_WIDTH - done, "....................", (int) (at * 100 / end));
    } else if (streq (build->status, "ready"))
        used =
            (size_t) snprintf (note, sizeof note, "caught up: shoal projections switch %s", label);
    if (build->skipped && used < sizeof note)
        used += (size_t) snprintf (note + used, sizeof note - used, "%s%lld skipped",
                                   used ? "; " : "", (long long) build->skipped);
    //  Reactions a target has not answered for a second or more: a stopped
    //  node, or a link down (pending and explain list actors' commands).
    if (build->sends && build->sends_oldest_ms >= 1000 && used < sizeof note)
        snprintf (note + used, sizeof note - used,
                  "%s%lld reaction%s unanswered, the oldest sent %llds ago", used ? "; " : "",
                  (long long) build->sends, build->sends == 1 ? "" : "s",
                  (long long) (build->sends_oldest_ms / 1000));
    printf ("%-26s %5lld  %-8s %6s %10lld %8lld %8lld %6s%s%s\n", label, (long long) build->build,
            build->status, build->served ? "*" : "", (long long) build->position,
            (long long) build->lag, (long long) build->rate, eta, note[0] ? "  " : "", note);
}

//  Under a build's row, its oldest reactions that have waited a second or
//  more for an answer, each with the forget that ends it.
static void s_print_unanswered (const msgpack_object *entry, const proj_build_t *build,
                                const char *node)
{
    const msgpack_object *list = map_find (entry, "unanswered");
    for (uint32_t k = 0; list && list->type == MSGPACK_OBJECT_ARRAY && k < list->via.array.size;
         k++) {
        const msgpack_object *each = &list->via.array.ptr[k];
        char id[40] = "", to[SHOAL_ADDRESS_MAX + 1] = "", command[SHOAL_NAME_MAX + 1] = "",
             code[ENVELOPE_CODE_MAX + 1] = "";
        int64_t sent = 0, waited = 0;
        map_find_str (each, "id", id, sizeof id);
        map_find_str (each, "to", to, sizeof to);
        map_find_str (each, "command", command, sizeof command);
        map_find_str (each, "code", code, sizeof code);
        map_find_int (each, "sent", &sent);
        map_find_int (each, "waited_ms", &waited);
        if (waited < 1000)
            continue;
        utf8_plain (id, false); //  a node's strings move no cursor
        utf8_plain (to, false);
        utf8_plain (command, false);
        utf8_plain (code, false);
        printf ("  reaction %s: %s to %s, sent %lld time%s over %llds, %s%s\n    (shoal "
                "projections%s%s forget %s@%lld %s --reason WHY ends it)\n",
                id, command, to, (long long) sent, sent == 1 ? "" : "s",
                (long long) (waited / 1000), code[0] ? "last refused " : "no answer", code,
                node ? " --node " : "", node ? node : "", build->name, (long long) build->version,
                id);
    }
}

//  Prints a node's builds, as its answer lists them (of name only, unless
//  NULL), as a table.
static void s_print_table (const proj_target_t *target, const node_stats_t *node, const char *name)
{
    const msgpack_object *list = s_entries (node);
    int64_t end = 0;
    map_find_int (node->stats, "end", &end);
    int shown = 0;
    for (uint32_t k = 0; list && k < list->via.array.size; k++) {
        proj_build_t build;
        s_build_read (&list->via.array.ptr[k], &build);
        if (name && !streq (name, build.name))
            continue;
        if (shown++ == 0)
            s_print_header ();
        s_print_build (&build, end);
        s_print_unanswered (&list->via.array.ptr[k], &build, target->cluster ? node->name : NULL);
    }
    if (!shown)
        printf (name ? "no build of %s is left\n" : "no projection on this node%s\n",
                name ? name : "");
}

//  Prints one JSON member "key":value of a map's entry.
static void s_json_member (const msgpack_object_kv *kv)
{
    json_object (stdout, &kv->key);
    putchar (':');
    json_object (stdout, &kv->val);
}

//  Prints the list of every node asked: the table, or JSON (with why one
//  did not list: as the object of one node, or in the cluster's).
static int s_print_list (const proj_target_t *target, bool json)
{
    int rc = EXIT_ACCEPTED;
    cmd_failure_t failure = {0};
    if (json && target->sections)
        printf ("{\"nodes\":[");
    bool first = true;
    for (int i = 0; i < target->count; i++) {
        if (!target->ask[i])
            continue;
        const node_stats_t *node = &target->nodes[i];
        bool listed = node->up && node->stats;
        if (!listed) {
            int failed = proj_node_failure (target, i, "projections", &failure);
            rc = rc == EXIT_NO_ANSWER ? rc : failed;
        }
        if (json && !target->sections) {
            if (listed) {
                json_object (stdout, node->stats);
                putchar ('\n');
            } else
                cmd_failure_print (&failure);
        } else if (json) {
            printf ("%s{\"node\":", first ? "" : ",");
            json_string (stdout, node->name, strlen (node->name));
            printf (",\"up\":%s", listed ? "true" : "false");
            if (!listed) {
                printf (",\"error\":");
                json_string (stdout, node->error, strlen (node->error));
            }
            for (uint32_t k = 0; listed && k < node->stats->via.map.size; k++) {
                putchar (',');
                s_json_member (&node->stats->via.map.ptr[k]);
            }
            putchar ('}');
        } else {
            int64_t end = 0;
            map_find_int (node->stats, "end", &end);
            if (target->sections)
                printf ("%snode %s (%s): ", first ? "" : "\n", node->name, node->endpoint);
            if (listed) {
                printf ("%lld events in the log\n", (long long) end);
                s_print_table (target, node, NULL);
            } else if (target->sections)
                printf ("%s\n", node->up        ? "refused (see above)"
                                : node->refused ? "refused this client's key (see above)"
                                                : "down, no answer");
        }
        first = false;
    }
    if (json && target->sections) {
        printf ("]");
        cmd_failure_members (&failure, true);
        printf ("}\n");
    }
    return rc;
}

//  --watch: the list again every second until interrupted.
static int s_watch (proj_target_t *target, bool json)
{
    bool screen = !json && isatty (STDOUT_FILENO);
    while (!zsys_interrupted) {
        int64_t next = zclock_mono () + WATCH_EVERY_MS;
        proj_target_ask (target, "projections", NULL, 0);
        if (zsys_interrupted)
            break;
        if (screen)
            printf ("\033[H\033[2J");
        if (!json) {
            char now[16];
            time_t seconds = time (NULL);
            struct tm tm;
            strftime (now, sizeof now, "%H:%M:%S", localtime_r (&seconds, &tm));
            printf ("shoal projections at %s, every %d s (Ctrl-C ends)\n", now,
                    WATCH_EVERY_MS / 1000);
        }
        s_print_list (target, json);
        if (!screen && !json)
            printf ("\n");
        fflush (stdout);
        while (!zsys_interrupted && zclock_mono () < next)
            zclock_sleep (50);
    }
    return EXIT_ACCEPTED;
}

//  --------------------------------------------------------------------------
//  Actions

//  Whether an accepted action changed anything: false when the node said
//  it found nothing to do (a node that does not say so changed it).
static bool s_changed (const node_stats_t *node)
{
    const msgpack_object *o = map_find (node->stats, "changed");
    return !(o && o->type == MSGPACK_OBJECT_BOOLEAN && !o->via.boolean);
}

//  What an accepted action did to name@version, in words, from the list
//  after it (the new build of a rebuild).
static void s_said (const node_stats_t *node, const char *action, const char *name,
                    uint32_t version, int64_t position, const char *id, char *text, size_t size)
{
    if (!s_changed (node)) {
        if (streq (action, "skip"))
            snprintf (text, size, "the event at position %lld was skipped already: nothing changed",
                      (long long) position);
        else
            snprintf (text, size, "%s",
                      streq (action, "pause")    ? "already paused: nothing changed"
                      : streq (action, "resume") ? "not paused: nothing to resume"
                                                 : "already served: nothing changed");
        return;
    }
    const msgpack_object *list = s_entries (node);
    int64_t newest = 0, serving = -1;
    bool paused = false;
    for (uint32_t k = 0; list && k < list->via.array.size; k++) {
        proj_build_t build;
        s_build_read (&list->via.array.ptr[k], &build);
        if (!streq (build.name, name) || build.version != (int64_t) version)
            continue;
        newest = build.build > newest ? build.build : newest;
        if (build.served)
            serving = build.build;
        paused |= streq (build.status, "paused");
    }
    if (streq (action, "rebuild") && serving >= 0)
        snprintf (text, size,
                  "rebuilding from position 0 as build %lld in the background; build %lld "
                  "serves until it has caught up%s",
                  (long long) newest, (long long) serving,
                  paused ? " (the rebuild is not paused: it replaces the paused build once "
                           "caught up, and its reactions go out)"
                         : "");
    else if (streq (action, "rebuild"))
        snprintf (text, size,
                  "rebuilding from position 0 as build %lld in the background (version %u is "
                  "not the one served)",
                  (long long) newest, version);
    else if (streq (action, "skip"))
        snprintf (text, size, "skipped the event at position %lld; it goes on from %lld",
                  (long long) position, (long long) position + 1);
    else if (streq (action, "pause"))
        snprintf (text, size, "paused: its rows stay as they are and its lag grows until resumed");
    else if (streq (action, "resume"))
        snprintf (text, size, "resumed");
    else if (streq (action, "switch"))
        snprintf (text, size, "served");
    else if (streq (action, "forget"))
        snprintf (text, size,
                  "forgot reaction %s: it is not sent again (a copy on its way may still run, "
                  "once)",
                  id);
    else
        snprintf (text, size, "dropped");
}

//  The version the node acted on: version, else the one it serves of name.
static uint32_t s_acted_on (const node_stats_t *node, const char *name, uint32_t version)
{
    const msgpack_object *list = s_entries (node);
    for (uint32_t k = 0; !version && list && k < list->via.array.size; k++) {
        proj_build_t build;
        s_build_read (&list->via.array.ptr[k], &build);
        if (build.served && streq (build.name, name))
            return (uint32_t) build.version;
    }
    return version;
}

//  The payload of projection_control, packed into buf (cap bytes). Returns
//  its size.
static size_t s_control_payload (uint8_t *buf, size_t cap, const char *action, const char *name,
                                 uint32_t version, int64_t position, const char *id,
                                 const char *why)
{
    driver_payload_t packed;
    msgpack_packer pk;
    driver_payload_init (&packed, &pk, buf, cap);
    msgpack_pack_map (&pk, 4 + (position >= 0) + (id != NULL) + (why != NULL));
    driver_pack_str (&pk, "action", action);
    char user[64];
    driver_pack_str (&pk, "who", cmd_operator (user, sizeof user));
    if (why)
        driver_pack_str (&pk, "why", why);
    driver_pack_str (&pk, "name", name);
    driver_pack_int (&pk, "version", version);
    if (position >= 0)
        driver_pack_int (&pk, "position", position);
    if (id)
        driver_pack_str (&pk, "id", id);
    return packed.size;
}

//  Prints node i's answer to an action as JSON (one object, no newline):
//  failure says why it has none accepted.
static void s_control_json (const proj_target_t *target, int i, const char *action,
                            const char *name, uint32_t version, const cmd_failure_t *failure,
                            const char *outcome, const char *outcome_text)
{
    const node_stats_t *node = &target->nodes[i];
    printf ("{");
    if (target->sections) {
        printf ("\"node\":");
        json_string (stdout, node->name, strlen (node->name));
        putchar (',');
    }
    bool ok = node->up && node->reply.ok && node->stats;
    printf ("\"ok\":%s,\"action\":\"%s\",\"name\":\"%s\"",
            ok && !(outcome && streq (outcome, "failed_again")) ? "true" : "false", action, name);
    if (!ok) {
        printf (",\"version\":%" PRIu32 ",\"code\":", version);
        json_string (stdout, failure->code, strlen (failure->code));
        printf (",\"reason\":");
        json_string (stdout, failure->reason, strlen (failure->reason));
        printf ("}");
        return;
    }
    printf (",\"version\":%" PRIu32 ",\"changed\":%s", s_acted_on (node, name, version),
            s_changed (node) ? "true" : "false");
    if (outcome) { //  a resume of a failed build: what its retry did
        printf (",\"retry\":\"%s\",\"retry_said\":", outcome);
        json_string (stdout, outcome_text, strlen (outcome_text));
        if (streq (outcome, "failed_again")) { //  exit 1: not ok, though it resumed
            printf (",\"code\":\"failed_again\",\"reason\":");
            json_string (stdout, outcome_text, strlen (outcome_text));
        }
    }
    int64_t end = 0;
    map_find_int (node->stats, "end", &end);
    printf (",\"end\":%lld,\"projections\":[", (long long) end);
    const msgpack_object *list = s_entries (node);
    bool first = true;
    for (uint32_t k = 0; list && k < list->via.array.size; k++) {
        char each[SHOAL_TYPE_MAX + 1] = "";
        map_find_str (&list->via.array.ptr[k], "name", each, sizeof each);
        if (!streq (each, name))
            continue;
        printf ("%s", first ? "" : ",");
        json_object (stdout, &list->via.array.ptr[k]);
        first = false;
    }
    printf ("]}");
}

//  The build of name@version (0: the one served) in a node's list that
//  stopped on a failed event, into *build; false if none did.
static bool s_failed_build (const node_stats_t *node, const char *name, uint32_t version,
                            proj_build_t *build)
{
    const msgpack_object *list = s_entries (node);
    for (uint32_t k = 0; list && k < list->via.array.size; k++) {
        s_build_read (&list->via.array.ptr[k], build);
        if (streq (build->name, name) && build->failed &&
            (version ? build->version == (int64_t) version : build->served))
            return true;
    }
    return false;
}

//  After a resume of a build that had failed at position (error): what
//  its retry did, asked of node i for up to RESUME_WATCH_MS, into text:
//  past the event, stopped there again (and how to step over it), or
//  still at it. Returns which, as --json says it: "went_past",
//  "failed_again" or "retrying".
#define RESUME_WATCH_MS 2000
static const char *s_resume_outcome (proj_target_t *target, int i, const char *name,
                                     uint32_t version, const proj_build_t *before, char *text,
                                     size_t size, node_stats_t *answers)
{
    const char *outcome = "retrying";
    snprintf (text, size, "it retries the event at position %lld, which had failed",
              (long long) before->error_position);
    int64_t deadline = zclock_mono () + RESUME_WATCH_MS;
    while (answers && !zsys_interrupted) {
        bool done = false;
        cluster_stats_close (answers, target->count);
        if (proj_target_ask_one (target, i, "projections", NULL, 0, answers) == 1) {
            proj_build_t now;
            const msgpack_object *list = s_entries (&answers[i]);
            for (uint32_t k = 0; list && k < list->via.array.size && !done; k++) {
                s_build_read (&list->via.array.ptr[k], &now);
                if (!streq (now.name, name) || now.version != (int64_t) version ||
                    now.build != before->build)
                    continue;
                if (now.failed && now.error_position == before->error_position) {
                    snprintf (text, size,
                              "it failed again at position %lld: %.300s. It stays stopped there "
                              "until the module is fixed (then resume), or `shoal projections "
                              "skip %s@%u %lld --reason WHY` steps over the event",
                              (long long) now.error_position, now.error, name, version,
                              (long long) now.error_position);
                    outcome = "failed_again";
                    done = true;
                } else if (now.position > before->error_position) {
                    snprintf (text, size, "it went past position %lld, which had failed",
                              (long long) before->error_position);
                    outcome = "went_past";
                    done = true;
                }
            }
        }
        if (done || zclock_mono () >= deadline)
            break;
        zclock_sleep (100); //  between two asks, within RESUME_WATCH_MS
    }
    return outcome;
}

//  Sends the action to every node asked and says what each did.
static int s_control (proj_target_t *target, bool json, const char *action, const char *name,
                      uint32_t version, int64_t position, const char *id, const char *why)
{
    //  A resume of a failed build retries its event: what came of it is
    //  said (it said "resumed", and failed again at once, unseen; --json
    //  said "live" and exited 0), and failing again exits 1.
    bool resume = streq (action, "resume");
    proj_build_t *failed = resume ? calloc ((size_t) target->count, sizeof (proj_build_t)) : NULL;
    //  What the list said once the retry's outcome was known, to show it.
    node_stats_t *after = resume ? calloc ((size_t) target->count, sizeof (node_stats_t)) : NULL;
    if (failed) {
        proj_target_ask (target, "projections", NULL, 0);
        for (int i = 0; i < target->count; i++)
            if (!target->ask[i] || !proj_node_answered (target, i) ||
                !s_failed_build (&target->nodes[i], name, version, &failed[i]))
                failed[i].failed = false;
    }
    uint8_t payload[1024];
    size_t size =
        s_control_payload (payload, sizeof payload, action, name, version, position, id, why);
    proj_target_ask (target, "projection_control", payload, size);
    int rc = EXIT_ACCEPTED;
    cmd_failure_t failure = {0}; //  the worst node's
    bool first = true;
    if (json && target->sections)
        printf ("{\"nodes\":[");
    for (int i = 0; i < target->count; i++) {
        if (!target->ask[i])
            continue;
        const node_stats_t *node = &target->nodes[i];
        bool ok = node->up && node->reply.ok && node->stats;
        cmd_failure_t its = {0};
        if (!ok) {
            int node_rc;
            if (node->up && streq (node->reply.code, "not_found") && !version)
                node_rc =
                    cmd_fail (&its, "projections", EXIT_REJECTED, "not_found",
                              "%s%s%snot_found: no version of %s is served on this node "
                              "(shoal projections lists them)",
                              target->cluster ? "node " : "", target->cluster ? node->name : "",
                              target->cluster ? ": " : "", name);
            else
                node_rc = proj_node_failure (target, i, "projections", &its);
            cmd_failure_keep (&failure, &its);
            rc = rc == EXIT_NO_ANSWER ? rc : node_rc;
        }
        char outcome_text[640] = "";
        const char *outcome = NULL;
        if (ok && failed && failed[i].failed && s_changed (node)) {
            outcome = s_resume_outcome (target, i, name, (uint32_t) failed[i].version, &failed[i],
                                        outcome_text, sizeof outcome_text, after);
            if (streq (outcome, "failed_again")) {
                cmd_fail (&its, "projections", EXIT_REJECTED, "failed_again", "%s", outcome_text);
                cmd_failure_keep (&failure, &its);
                rc = rc == EXIT_ACCEPTED ? EXIT_REJECTED : rc;
            }
        }
        if (json) {
            printf ("%s", first ? "" : ",");
            s_control_json (target, i, action, name, version, &its, outcome, outcome_text);
            if (!target->sections)
                printf ("\n");
        } else if (ok) {
            char said[256];
            s_said (node, action, name, s_acted_on (node, name, version), position, id, said,
                    sizeof said);
            printf ("%s%s%s%s%s@%" PRIu32 ": %s\n", first ? "" : "\n",
                    target->sections ? "node " : "", target->sections ? node->name : "",
                    target->sections ? ": " : "", name, s_acted_on (node, name, version), said);
            //  After a retry, the list that told its outcome: the control's
            //  answer said live though the event failed again at once.
            bool later = outcome && after && after[i].up && after[i].stats;
            s_print_table (target, later ? &after[i] : node, name);
            if (outcome)
                printf ("%s\n", outcome_text);
        }
        first = false;
    }
    if (json && target->sections) {
        printf ("]");
        cmd_failure_members (&failure, true);
        printf ("}\n");
    }
    if (after)
        cluster_stats_close (after, target->count);
    free (after);
    free (failed);
    return rc;
}

//  Checks the arguments of an action (argv[first] is the action). Returns
//  0 with name, *version and *position (-1 if none) set, or EXIT_USAGE
//  after a message.
static int s_action_args (int argc, char **argv, int first, char *name, size_t size,
                          uint32_t *version, int64_t *position, const char **id)
{
    const char *action = argv[first];
    static const char *actions[] = {"switch",  "drop", "pause", "resume",
                                    "rebuild", "skip", "forget"};
    bool known = false;
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        known |= streq (action, actions[i]);
    bool forget = streq (action, "forget");
    int wanted = streq (action, "skip") || forget ? 3 : 2;
    if (!known) {
        fprintf (stderr,
                 "shoal projections: unknown action '%s' (switch, drop, pause, resume, rebuild, "
                 "skip or forget; see shoal projections --help)\n",
                 action);
        return EXIT_USAGE;
    }
    if (argc - first != wanted) {
        fprintf (stderr, "shoal projections: expected %s %s (see shoal projections --help)\n",
                 action,
                 forget                                               ? "NAME[@VERSION] ID"
                 : wanted == 3                                        ? "NAME@VERSION POSITION"
                 : streq (action, "switch") || streq (action, "drop") ? "NAME@VERSION"
                                                                      : "NAME[@VERSION]");
        return EXIT_USAGE;
    }
    if (proj_name_parse ("projections", argv[first + 1], name, size, version) != 0)
        return EXIT_USAGE;
    *position = -1;
    *id = NULL;
    if (forget) {
        const char *text = argv[first + 2];
        if (strlen (text) != 32 || strspn (text, "0123456789abcdefABCDEF") != 32) {
            char quoted[96]; //  one line, whatever its bytes
            fprintf (stderr,
                     "shoal projections: ID is 32 hex digits, as shoal projections lists an "
                     "unanswered reaction, not %s\n",
                     utf8_quote (quoted, sizeof quoted, text, strlen (text), '\''));
            return EXIT_USAGE;
        }
        *id = text;
        return 0;
    }
    if (!*version && wanted == 3) {
        fprintf (stderr,
                 "shoal projections: skip needs the version: NAME@VERSION POSITION, as shoal "
                 "projections shows the failed build\n");
        return EXIT_USAGE;
    }
    if (!*version && (streq (action, "switch") || streq (action, "drop"))) {
        fprintf (stderr, "shoal projections: %s needs the version to %s: %s NAME@VERSION\n", action,
                 streq (action, "drop") ? "drop (not the one served)" : "serve", action);
        return EXIT_USAGE;
    }
    long number;
    if (wanted == 3) {
        if (!options_int ("projections", "POSITION", argv[first + 2], 0, LONG_MAX, &number))
            return EXIT_USAGE;
        *position = number;
    }
    return 0;
}

int cmd_projections (int argc, char **argv)
{
    proj_options_t opts = {0};
    bool json = false, watch = false;
    const char *why = NULL;
    const option_t table[] = {
        PROJ_TARGET_OPTIONS (&opts),
        OPT_FLAG ("json", &json),
        OPT_FLAG ("watch", &watch),
        OPT_STRING_ONCE ("reason", &why),
        OPT_END,
    };
    int first = options_parse (table, argc, argv, s_help);
    if (first < 0)
        return first == OPTIONS_HELP ? 0 : EXIT_USAGE;
    char name[SHOAL_TYPE_MAX + 1] = "";
    uint32_t version = 0;
    int64_t position = -1;
    const char *id = NULL;
    bool action = first < argc;
    if (action && watch) {
        fprintf (stderr, "shoal projections: --watch lists; it takes no action\n");
        return EXIT_USAGE;
    }
    if (action &&
        s_action_args (argc, argv, first, name, sizeof name, &version, &position, &id) != 0)
        return EXIT_USAGE;
    //  What loses something (an event, a reaction, rows) says why; any may.
    bool loses = action && (streq (argv[first], "skip") || streq (argv[first], "forget") ||
                            streq (argv[first], "drop"));
    if ((loses && !why) || (why && !action)) {
        fprintf (stderr, "shoal projections: %s%s\n",
                 loses ? argv[first] : "--reason is for an action",
                 loses ? " takes --reason TEXT: why, logged by the node with who" : "");
        return EXIT_USAGE;
    }
    if (!cmd_reason_ok ("projections", why))
        return EXIT_USAGE;
    proj_target_t target;
    if (proj_target_open (&target, "projections", &opts) != 0)
        return EXIT_USAGE;
    if (id && target.sections) { //  a reaction is one node's
        fprintf (stderr, "shoal projections: forget ends one node's reaction: give --node NAME "
                         "(shoal projections --cluster FILE lists each node's)\n");
        proj_target_close (&target);
        return EXIT_USAGE;
    }
    int rc;
    if (action)
        rc = s_control (&target, json, argv[first], name, version, position, id, why);
    else if (watch)
        rc = s_watch (&target, json);
    else {
        proj_target_ask (&target, "projections", NULL, 0);
        rc = s_print_list (&target, json);
    }
    proj_target_close (&target);
    return rc;
}
