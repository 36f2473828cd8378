/*  cmd_query.c - `shoal query`: rows of a projection, by key or by key
    prefix, from one node or merged from every node of a cluster (each node
    projects its own events, so each holds rows of its own).

    The node's projection thread answers the query "projection_rows"
    (runtime/projector_serve.c) from the build it serves, or the version
    asked for once it has caught up; never from one still building.

    Output: one JSON object per row and line, {"key":K,"row":{...}} (with
    "node" first when every node of a cluster is asked), in key order
    (bytewise; a key held by several nodes comes once per node, in the
    map's order); with --json one object with the rows in an array, and
    "ok":false, "code" and "reason" when the command fails (cmd_fail,
    commands.h), whatever its target. Exit codes of commands.h.

    A node answers at most about 512 KiB of rows at once and says which
    row its next page starts from: each node's pages are asked in turn,
    of that node alone, until --limit rows or the last. Pages are not a
    snapshot (rows may change between them): when a node's build moved
    between two pages, --json says "consistent":false and the text a line
    on stderr; the version stays the one the first page gave.

    Threads: the command's one thread.
*/
#include "projection_cmd.h"
#include "client_cmd.h"
#include "client_window.h"
#include "options.h"
#include "utf8.h"

#include <inttypes.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#define LIMIT_DEFAULT 100
#define LIMIT_MAX 10000

static void s_help (FILE *out)
{
    fprintf (
        out,
        "Usage: shoal query NAME[@VERSION] KEY [--json]\n"
        "       shoal query NAME[@VERSION] --prefix P | --all [--from K] [--limit N]\n"
        "       [--json] [--endpoint E | --cluster FILE [--node N]] [--timeout MS]\n\n"
        "Prints rows of the projection NAME: the version served, or VERSION once it\n"
        "has caught up (a version still building is refused as not_ready, with its\n"
        "progress). KEY: that row. --prefix P: the rows whose key starts with P, in\n"
        "key order (bytewise), --all: every row, both at most --limit N (1 to %d,\n"
        "default %d), from the key K on with --from K. When --limit cut them short,\n"
        "the next key is said (--json: \"next\", else null; in text on stderr): ask\n"
        "again with --from it for the rows after, page by page, as many as there\n"
        "are (with --cluster, the rows of a key several nodes hold come on one\n"
        "page, which may then hold a few more than --limit). jq -r .next prints\n"
        "null when there are no more.\n\n"
        "Output: one JSON object per line and row, {\"key\":K,\"row\":{...}}, for jq\n"
        "or a shell loop; --json: one object,\n"
        "{\"name\":N,\"version\":V,\"position\":P,\"lag\":L,\"held\":H,\"rows\":[...],\n"
        "\"next\":K,\"truncated\":B,\"consistent\":B} where position is how far in the node's\n"
        "event log the rows are, lag how far behind its end, held \"paused\",\n"
        "\"failed\" or \"orphan\" (a version no module registers now, served until the\n"
        "one that replaces it has caught up) when the rows do not move (\"\" when\n"
        "they do; in text a line on stderr says so), truncated that --limit cut the\n"
        "rows short (or that a page did not come). Rows past what one reply holds (1 MiB) "
        "come in pages,\n"
        "followed: each within --timeout; a row bigger than a reply is refused as\n"
        "reply_too_big. Pages are not a snapshot: when the projection moved between\n"
        "them, rows of different pages may be of different moments, and consistent\n"
        "is false (in text a line on stderr says so).\n"
        "With --cluster (no --node), every node is asked and the rows merged in key\n"
        "order, each with \"node\" first; a key held by several nodes comes once\n"
        "per node. --json then prints {\"name\":N,\"nodes\":[{\"node\":\"n1\",\"up\":true,\n"
        "\"version\":V,\"position\":P,\"lag\":L,\"held\":H},...],\"rows\":[...],\n"
        "\"next\":K,\"truncated\":B,\"consistent\":B}."
        "\n\n" PROJ_TARGET_HELP
        "Exit: 0 rows printed (none for a prefix is no error), 1 refused (not_found,\n"
        "not_ready: still building; the node's reason on stderr) or no row KEY\n"
        "(no_row), 2 bad usage (nothing sent), 3 no answer. With --cluster, the rows\n"
        "of the nodes that answered are printed and the exit says a node that did\n"
        "not.\n\n" JSON_FAILURE_HELP "Examples:\n"
        "  shoal query bank_totals totals\n"
        "  shoal query bank_totals totals | jq .row.balance\n"
        "  shoal query bank_totals@2 totals\n"
        "  shoal query account_transfers --prefix alice/ --limit 20   # keys: ACCOUNT/...\n"
        "  shoal query account_transfers --all --from \"$(shoal query account_transfers \\\n"
        "      --all --json | jq -r .next)\"   # the next 100\n"
        "  shoal query bank_totals totals --cluster cluster/cluster.cfg\n",
        LIMIT_MAX, LIMIT_DEFAULT);
}

//  One row of a node's answer, borrowed from it.
typedef struct {
    int node;                  //  its node's index
    const char *key;           //  not NUL-terminated
    uint32_t key_size;         //  bytes
    const msgpack_object *row; //  the row's map
} query_row_t;

//  The order of two keys (a_size and b_size bytes): bytewise, a prefix
//  first, as the nodes keep them.
static int s_key_order (const char *a, size_t a_size, const char *b, size_t b_size)
{
    int order = memcmp (a, b, a_size < b_size ? a_size : b_size);
    return order ? order : a_size < b_size ? -1 : a_size > b_size ? 1 : 0;
}

static int s_row_compare (const void *a, const void *b)
{
    const query_row_t *x = a, *y = b;
    int order = s_key_order (x->key, x->key_size, y->key, y->key_size);
    return order ? order : x->node - y->node;
}

//  The rows array of node's answer, or NULL.
static const msgpack_object *s_rows_of (const node_stats_t *node)
{
    const msgpack_object *rows = node->stats ? map_find (node->stats, "rows") : NULL;
    return rows && rows->type == MSGPACK_OBJECT_ARRAY ? rows : NULL;
}

//  The payload of projection_rows, packed into buf (cap bytes): the row
//  key, or the rows of prefix from from (NULL: the first). Returns its
//  size, 0 if it does not fit.
static size_t s_payload (uint8_t *buf, size_t cap, const char *name, uint32_t version,
                         const char *key, const char *prefix, const char *from, long limit)
{
    driver_payload_t packed;
    msgpack_packer pk;
    driver_payload_init (&packed, &pk, buf, cap);
    msgpack_pack_map (&pk, (version ? 1 : 0) + (key ? 2 : from ? 4 : 3));
    driver_pack_str (&pk, "name", name);
    if (version)
        driver_pack_int (&pk, "version", version);
    if (key)
        driver_pack_str (&pk, "key", key);
    else {
        driver_pack_str (&pk, "prefix", prefix);
        if (from)
            driver_pack_str (&pk, "from", from);
        driver_pack_int (&pk, "limit", limit);
    }
    return packed.full ? 0 : packed.size;
}

//  A node's rows come in pages: the first, its answer in the target, and
//  the ones after it, asked of that node alone from where its last page
//  said the next starts.
typedef struct {
    int node;              //  the node whose page it is
    node_stats_t *answers; //  one per node, only node's asked
} query_page_t;

typedef struct {
    query_page_t *pages; //  every page after the first of each node
    size_t count;
    long *rows;     //  per node: rows gathered
    bool truncated; //  a node had more rows than --limit
    //  The least key a node cut short by --limit said its next page starts
    //  from: where the rows after the ones printed start, with the rows
    //  beyond --limit of the merge (s_cursor).
    char cursor[SHOAL_VIEW_KEY_MAX + 1];
    bool has_cursor;
    bool missing; //  a page did not come: its node's rows stop before it
    //  A node's build moved between two of its pages: pages are not a
    //  snapshot, so its rows are of more than one moment (it was said of
    //  none: a review saw rows written together at one event apart).
    bool moved;
    int moved_node;               //  the first such node
    int64_t moved_from, moved_to; //  its first page's position, its last's
    int moved_pages;              //  its pages
} query_pages_t;

//  The answer of page k's node.
static const node_stats_t *s_page_answer (const query_pages_t *pages, size_t k)
{
    return &pages->pages[k].answers[pages->pages[k].node];
}

//  Appends the rows of answer (node's) to rows, from *used on.
static void s_take_rows (const node_stats_t *answer, int node, query_row_t *rows, size_t *used)
{
    const msgpack_object *list = answer->up ? s_rows_of (answer) : NULL;
    for (uint32_t k = 0; list && k < list->via.array.size; k++) {
        const msgpack_object *key = map_find (&list->via.array.ptr[k], "key");
        const msgpack_object *row = map_find (&list->via.array.ptr[k], "row");
        if (!key || key->type != MSGPACK_OBJECT_STR || !row)
            continue;
        rows[(*used)++] = (query_row_t){node, key->via.str.ptr, key->via.str.size, row};
    }
}

//  The key answer's next page starts from, in next (size bytes): false if
//  there is none. *known gets whether the answer says (a node older than
//  pages gives every row in one answer, without "next").
static bool s_next_of (const node_stats_t *answer, char *next, size_t size, bool *known)
{
    const msgpack_object *value = answer->stats ? map_find (answer->stats, "next") : NULL;
    *known = value != NULL;
    if (!value || value->type != MSGPACK_OBJECT_STR || value->via.str.size == 0 ||
        value->via.str.size >= size)
        return false;
    memcpy (next, value->via.str.ptr, value->via.str.size);
    next[value->via.str.size] = 0;
    return true;
}

//  Asks node i for a page from next (of the version its first answer
//  gave). Returns the page's answer, or NULL out of memory.
static const node_stats_t *s_ask_page (proj_target_t *target, query_pages_t *pages, int i,
                                       int64_t version, const char *name, const char *prefix,
                                       const char *next, long limit)
{
    query_page_t *grown = realloc (pages->pages, (pages->count + 1) * sizeof (query_page_t));
    if (!grown)
        return NULL;
    pages->pages = grown;
    node_stats_t *answers = calloc ((size_t) target->count, sizeof (node_stats_t));
    if (!answers)
        return NULL;
    uint8_t payload[2 * SHOAL_VIEW_KEY_MAX + SHOAL_TYPE_MAX + 128];
    size_t size = s_payload (payload, sizeof payload, name, (uint32_t) version, NULL, prefix, next,
                             limit - pages->rows[i]);
    proj_target_ask_one (target, i, "projection_rows", payload, size, answers);
    pages->pages[pages->count++] = (query_page_t){i, answers};
    return &answers[i];
}

//  Counts the rows of each node's first answer, and asks each node that
//  gave one for the pages after it until it has given limit rows or says
//  there are none left. Returns EXIT_ACCEPTED, or the exit a page that
//  did not come stands for, said on stderr and kept in failure (its
//  node's rows before it are kept).
static int s_follow (proj_target_t *target, query_pages_t *pages, const char *name,
                     const char *prefix, long limit, cmd_failure_t *failure)
{
    int rc = EXIT_ACCEPTED;
    for (int i = 0; i < target->count; i++) {
        const node_stats_t *last = &target->nodes[i];
        int64_t version = 0;
        if (!(proj_node_answered (target, i) && last->reply.ok && last->stats))
            continue;
        map_find_int (last->stats, "version", &version);
        int64_t first_at = 0, at = 0;
        map_find_int (last->stats, "position", &first_at);
        int count = 1;
        while (true) {
            const msgpack_object *list = s_rows_of (last);
            long given = list ? (long) list->via.array.size : 0;
            pages->rows[i] += given;
            char next[SHOAL_VIEW_KEY_MAX + 1];
            bool known, more = s_next_of (last, next, sizeof next, &known);
            //  A page without rows that names a next would be asked forever.
            if (!known || !more || given == 0 || pages->rows[i] >= limit) {
                pages->truncated |= known ? more : pages->rows[i] >= limit;
                if (known && more && (!pages->has_cursor || strcmp (next, pages->cursor) < 0)) {
                    snprintf (pages->cursor, sizeof pages->cursor, "%s", next);
                    pages->has_cursor = true;
                }
                break;
            }
            last = s_ask_page (target, pages, i, version, name, prefix, next, limit);
            count++;
            if (last && last->up && last->reply.ok && last->stats &&
                map_find_int (last->stats, "position", &at) == 0 && at != first_at) {
                if (!pages->moved)
                    pages->moved_node = i, pages->moved_from = first_at;
                pages->moved = true;
            }
            if (pages->moved && pages->moved_node == i)
                pages->moved_to = at, pages->moved_pages = count;
            if (!last) {
                fprintf (stderr, "shoal query: out of memory\n");
                pages->missing = true;
                return cmd_fail (failure, NULL, EXIT_NO_ANSWER, "out_of_memory", "out of memory");
            }
            if (!(last->up && last->reply.ok && last->stats)) {
                int failed = proj_answer_failure (target, i, last, "query", failure);
                rc = rc == EXIT_NO_ANSWER ? rc : failed;
                char quoted[160];
                fprintf (stderr, "shoal query: %s%s%sthe rows from %s on are missing\n",
                         target->cluster ? "node " : "", target->cluster ? last->name : "",
                         target->cluster ? ": " : "",
                         utf8_quote (quoted, sizeof quoted, next, strlen (next), '\''));
                pages->missing = true;
                break;
            }
        }
    }
    return rc;
}

static void s_pages_close (query_pages_t *pages, int count)
{
    for (size_t k = 0; k < pages->count; k++) {
        cluster_stats_close (pages->pages[k].answers, count);
        free (pages->pages[k].answers);
    }
    free (pages->pages);
    free (pages->rows);
}

//  Gathers the rows of every node that answered, from all their pages,
//  into *rows (to free()), sorted. Returns their count, or -1 out of memory.
static int s_gather (const proj_target_t *target, const query_pages_t *pages, query_row_t **rows)
{
    size_t count = 0;
    for (int i = 0; i < target->count; i++)
        count += (size_t) pages->rows[i];
    *rows = calloc (count ? count : 1, sizeof (query_row_t));
    if (!*rows)
        return -1;
    size_t used = 0;
    for (int i = 0; i < target->count; i++)
        if (proj_node_answered (target, i))
            s_take_rows (&target->nodes[i], i, *rows, &used);
    for (size_t k = 0; k < pages->count; k++)
        s_take_rows (s_page_answer (pages, k), pages->pages[k].node, *rows, &used);
    qsort (*rows, used, sizeof (query_row_t), s_row_compare);
    return (int) used;
}

static void s_print_row (const proj_target_t *target, const query_row_t *row)
{
    printf ("{");
    if (target->sections) {
        const char *node = target->nodes[row->node].name;
        printf ("\"node\":");
        json_string (stdout, node, strlen (node));
        printf (",");
    }
    printf ("\"key\":");
    json_string (stdout, row->key, row->key_size);
    printf (",\"row\":");
    json_object (stdout, row->row);
    printf ("}");
}

//  Prints "version", "position", "lag" and "held" of node's answer as JSON
//  members.
static void s_print_where (const node_stats_t *node)
{
    int64_t version = 0, position = 0, lag = 0;
    char held[16] = "";
    map_find_int (node->stats, "version", &version);
    map_find_int (node->stats, "position", &position);
    map_find_int (node->stats, "lag", &lag);
    map_find_str (node->stats, "held", held, sizeof held);
    printf ("\"version\":%lld,\"position\":%lld,\"lag\":%lld,\"held\":", (long long) version,
            (long long) position, (long long) lag);
    json_string (stdout, held, strlen (held));
}

//  In text, says on stderr of each node whose rows do not move (its build
//  paused or failed) how far behind they are: the rows printed are as of
//  then, and nothing else said so.
static void s_say_held (const proj_target_t *target, const char *name)
{
    for (int i = 0; i < target->count; i++) {
        const node_stats_t *node = &target->nodes[i];
        char held[16] = "";
        int64_t version = 0, position = 0, lag = 0;
        if (!target->ask[i] || !node->up || !node->reply.ok || !node->stats ||
            map_find_str (node->stats, "held", held, sizeof held) != 0 || !held[0])
            continue;
        map_find_int (node->stats, "version", &version);
        map_find_int (node->stats, "position", &position);
        map_find_int (node->stats, "lag", &lag);
        bool orphan = streq (held, "orphan");
        fprintf (stderr,
                 "shoal query: %s%s%s%s@%lld is %s at position %lld, %lld event%s behind: its "
                 "rows are as of then (%s%s%s)\n",
                 target->cluster ? "node " : "", target->cluster ? node->name : "",
                 target->cluster ? ": " : "", name, (long long) version,
                 orphan ? "an orphan (no module registers it now)" : held, (long long) position,
                 (long long) lag, lag == 1 ? "" : "s",
                 orphan ? "the version that replaces it is served once it has caught up: shoal "
                          "projections"
                        : "shoal projections",
                 streq (held, "paused") ? " resume " : "", streq (held, "paused") ? name : "");
    }
}

//  --json: everything in one object, and why the command fails if it
//  does (failure), whatever its target.
static void s_print_json (const proj_target_t *target, const char *name, const query_row_t *rows,
                          int count, const char *next, bool truncated, bool consistent,
                          const cmd_failure_t *failure)
{
    printf ("{\"name\":");
    json_string (stdout, name, strlen (name));
    if (target->sections) {
        printf (",\"nodes\":[");
        bool first = true;
        for (int i = 0; i < target->count; i++) {
            const node_stats_t *node = &target->nodes[i];
            bool ok = proj_node_answered (target, i) && node->reply.ok && node->stats;
            printf ("%s{\"node\":", first ? "" : ",");
            json_string (stdout, node->name, strlen (node->name));
            //  up: it answered, if only to refuse (not_found: it has no
            //  such projection); it said false of a node that refused.
            printf (",\"up\":%s,", proj_node_answered (target, i) && node->up ? "true" : "false");
            if (ok)
                s_print_where (node);
            else {
                const char *why = node->up && !node->reply.ok ? node->reply.reason : node->error;
                printf ("\"code\":\"%s\",\"error\":", node->refused    ? "key_refused"
                                                      : !node->up      ? "no_answer"
                                                      : node->reply.ok ? "bad_answer"
                                                                       : node->reply.code);
                json_string (stdout, why, strlen (why));
            }
            printf ("}");
            first = false;
        }
        printf ("]");
    } else {
        for (int i = 0; i < target->count; i++)
            if (proj_node_answered (target, i) && target->nodes[i].stats) {
                printf (",");
                s_print_where (&target->nodes[i]);
            }
    }
    printf (",\"rows\":[");
    for (int k = 0; k < count; k++) {
        printf ("%s", k ? "," : "");
        s_print_row (target, &rows[k]);
    }
    printf ("],\"next\":");
    if (next)
        json_string (stdout, next, strlen (next));
    else
        printf ("null");
    printf (",\"truncated\":%s,\"consistent\":%s", truncated ? "true" : "false",
            consistent ? "true" : "false");
    cmd_failure_members (failure, true);
    printf ("}\n");
}

typedef struct {
    proj_options_t target;
    const char *prefix;
    const char *from; //  the first key, with --prefix or --all
    long limit;
    bool all;
    bool json;
} query_options_t;

//  Checks the arguments. Returns 0 with *key (NULL for --prefix or --all),
//  name and *version set, or EXIT_USAGE after a message.
static int s_args (int argc, char **argv, int first, const query_options_t *opts, const char **key,
                   char *name, size_t size, uint32_t *version)
{
    int left = argc - first;
    bool range = opts->prefix || opts->all;
    if (left < 1 || left > 2 || (left == 2) == range || (opts->prefix && opts->all)) {
        fprintf (stderr,
                 "shoal query: expected NAME[@VERSION] KEY, or NAME[@VERSION] with --prefix P "
                 "or --all (see shoal query --help)\n");
        return EXIT_USAGE;
    }
    if (proj_name_parse ("query", argv[first], name, size, version) != 0)
        return EXIT_USAGE;
    *key = left == 2 ? argv[first + 1] : NULL;
    const char *text = *key ? *key : opts->prefix ? opts->prefix : "";
    if (strlen (text) > SHOAL_VIEW_KEY_MAX) {
        fprintf (stderr, "shoal query: a %s is at most %d bytes\n", *key ? "key" : "prefix",
                 SHOAL_VIEW_KEY_MAX);
        return EXIT_USAGE;
    }
    if (*key && (opts->limit || opts->from)) { //  one row: they would be ignored
        fprintf (stderr, "shoal query: --%s goes with --prefix or --all; a KEY is one row\n",
                 opts->limit ? "limit" : "from");
        return EXIT_USAGE;
    }
    if (opts->from &&
        (!opts->from[0] || strlen (opts->from) > SHOAL_VIEW_KEY_MAX ||
         utf8_valid_prefix (opts->from, strlen (opts->from)) != strlen (opts->from))) {
        char quoted[160];
        fprintf (stderr, "shoal query: --from K takes a key, 1 to %d bytes of UTF-8, not %s\n",
                 SHOAL_VIEW_KEY_MAX,
                 utf8_quote (quoted, sizeof quoted, opts->from, strlen (opts->from), '\''));
        return EXIT_USAGE;
    }
    if (*key && !**key) { //  the node refuses it too, but that exited 1
        fprintf (stderr, "shoal query: a key is 1 to %d bytes, not empty\n", SHOAL_VIEW_KEY_MAX);
        return EXIT_USAGE;
    }
    //  The node refuses a string that is not UTF-8 (bad_frame, exit 1):
    //  bad usage here, as send says it, and nothing is sent.
    size_t len = strlen (text);
    if (utf8_valid_prefix (text, len) != len) {
        char quoted[160]; //  one line, whatever its bytes
        fprintf (stderr, "shoal query: %s is not UTF-8: %s\n", *key ? "KEY" : "--prefix P",
                 utf8_quote (quoted, sizeof quoted, text, len, '\''));
        return EXIT_USAGE;
    }
    return 0;
}

int cmd_query (int argc, char **argv)
{
    query_options_t opts = {.limit = 0}; //  0: not given (LIMIT_DEFAULT)
    const option_t table[] = {
        PROJ_TARGET_OPTIONS (&opts.target),
        OPT_STRING_ONCE ("prefix", &opts.prefix),
        OPT_STRING_ONCE ("from", &opts.from),
        OPT_FLAG ("all", &opts.all),
        OPT_INT ("limit", &opts.limit, 1, LIMIT_MAX),
        OPT_FLAG ("json", &opts.json),
        OPT_END,
    };
    int first = options_parse (table, argc, argv, s_help);
    if (first < 0)
        return first == OPTIONS_HELP ? 0 : EXIT_USAGE;
    const char *key;
    char name[SHOAL_TYPE_MAX + 1];
    uint32_t version;
    if (s_args (argc, argv, first, &opts, &key, name, sizeof name, &version) != 0)
        return EXIT_USAGE;
    if (!opts.limit)
        opts.limit = LIMIT_DEFAULT;
    uint8_t payload[SHOAL_VIEW_KEY_MAX + SHOAL_TYPE_MAX + 128];
    size_t size = s_payload (payload, sizeof payload, name, version, key,
                             opts.prefix ? opts.prefix : "", opts.from, key ? 1 : opts.limit);
    proj_target_t target;
    if (size == 0 || proj_target_open (&target, "query", &opts.target) != 0)
        return EXIT_USAGE;
    proj_target_ask (&target, "projection_rows", payload, size);
    int rc = EXIT_ACCEPTED;
    cmd_failure_t failure = {0}; //  the worst node's, for --json
    for (int i = 0; i < target.count; i++) {
        const node_stats_t *node = &target.nodes[i];
        if (target.ask[i] && !(node->up && node->reply.ok && node->stats)) {
            int failed = proj_node_failure (&target, i, "query", &failure);
            rc = rc == EXIT_NO_ANSWER ? rc : failed;
        }
    }
    query_pages_t pages = {.rows = calloc ((size_t) target.count, sizeof (long))};
    int paged = pages.rows ? s_follow (&target, &pages, name, opts.prefix ? opts.prefix : "",
                                       key ? LIMIT_MAX : opts.limit, &failure)
                           : EXIT_ACCEPTED;
    rc = rc == EXIT_NO_ANSWER || paged == EXIT_ACCEPTED ? rc : paged;
    query_row_t *rows = NULL;
    int count = pages.rows ? s_gather (&target, &pages, &rows) : -1;
    if (count < 0) {
        cmd_fail (&failure, "query", EXIT_NO_ANSWER, "out_of_memory", "out of memory");
        if (opts.json)
            cmd_failure_print (&failure);
        s_pages_close (&pages, target.count);
        proj_target_close (&target);
        return EXIT_NO_ANSWER;
    }
    bool truncated = pages.truncated;
    //  The first key not printed: the merge's first beyond --limit, or a
    //  node's next page, whichever is less (each node's rows past its
    //  next were not asked for).
    if (!key && count > opts.limit) {
        //  Not inside a key several nodes hold: its rows all come on this
        //  page (one per node at most), or following next would give the
        //  same first ones again, forever (a review's find).
        int cut = (int) opts.limit;
        while (cut < count && s_key_order (rows[cut].key, rows[cut].key_size, rows[cut - 1].key,
                                           rows[cut - 1].key_size) == 0)
            cut++;
        if (cut < count) {
            const query_row_t *beyond = &rows[cut];
            if (!pages.has_cursor || s_key_order (beyond->key, beyond->key_size, pages.cursor,
                                                  strlen (pages.cursor)) < 0) {
                size_t len =
                    beyond->key_size < SHOAL_VIEW_KEY_MAX ? beyond->key_size : SHOAL_VIEW_KEY_MAX;
                memcpy (pages.cursor, beyond->key, len);
                pages.cursor[len] = 0;
                pages.has_cursor = true;
            }
            truncated = true;
        }
        count = cut;
    }
    const char *next = !key && truncated && pages.has_cursor ? pages.cursor : NULL;
    bool no_row = key && count == 0 && rc == EXIT_ACCEPTED;
    if (no_row) {
        char quoted[160]; //  one line, whatever its bytes
        rc = cmd_fail (&failure, "query", EXIT_REJECTED, "no_row", "no row %s in %s%s%.0" PRIu32,
                       utf8_quote (quoted, sizeof quoted, key, strlen (key), '\''), name,
                       version ? "@" : "", version);
    }
    //  --json: one object whatever happened, with ok false, code and reason
    //  when the command fails (a node that did not answer: rows empty).
    if (opts.json)
        s_print_json (&target, name, rows, count, next, truncated || pages.missing, !pages.moved,
                      &failure);
    else
        for (int k = 0; k < count; k++) {
            s_print_row (&target, &rows[k]);
            printf ("\n");
        }
    if (!no_row && truncated && !opts.json) {
        //  The key as a shell reads it back (its quotes as '\''), to be
        //  pasted after --from; --json's "next" is exact too.
        zchunk_t *word = next ? zchunk_new (NULL, 0) : NULL;
        bool bash = false;
        if (word) {
            client_shell_word (word, next, &bash);
            zchunk_extend (word, "", 1);
        }
        fprintf (stderr, "shoal query: the first %ld rows (--limit); there are more%s%s%s\n",
                 opts.limit, word ? ": --from" : "", word ? (char *) zchunk_data (word) : "",
                 bash ? " (quoted for bash, zsh or ksh)" : "");
        zchunk_destroy (&word);
    }
    if (!opts.json)
        s_say_held (&target, name);
    if (!opts.json && pages.moved)
        fprintf (stderr,
                 "shoal query: %s%s%s%s moved from position %" PRId64 " to %" PRId64
                 " while its rows were read in %d pages: pages are not a snapshot, so rows of "
                 "different pages may be of different moments (--json: \"consistent\":false)\n",
                 target.cluster ? "node " : "",
                 target.cluster ? target.nodes[pages.moved_node].name : "",
                 target.cluster ? ": " : "", name, pages.moved_from, pages.moved_to,
                 pages.moved_pages);
    free (rows);
    s_pages_close (&pages, target.count);
    proj_target_close (&target);
    return rc;
}
