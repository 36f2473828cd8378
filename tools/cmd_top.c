/*  cmd_top.c - `shoal top`: the terminal dashboard of a cluster (or of one
    node), drawn with ncurses and refreshed each --interval: a row per node
    (up or down and why, uptime, rates over the last interval, gauges), the
    cluster's commands per second over the last minute as a sparkline, the
    stalled commands (asked at most every TOP_PENDING_MS) and the busiest
    actors. Keys: q quits, h or ? shows help, s cycles the sort column, p
    pauses. `--once` prints one sample, taken over one interval, as text or
    JSON (--json), without ncurses. top_sample.c reads the nodes.

    The nodes do nothing for a dashboard unless asked: each interval is one
    stats and one busiest query per node, and a pending query every
    TOP_PENDING_MS. Runs on the main thread; SIGINT ends it like q.
*/
#include "commands.h"
#include "options.h"
#include "top_sample.h"
#include "top_term.h"
#include "utf8.h"
#include "wire_int.h"

#include <czmq.h>
#include <langinfo.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef SHOAL_NCURSESW
#include <ncursesw/ncurses.h>
#else
#include <ncurses.h>
#endif

#define TOP_PENDING_MS 2000 //  the stalled list is asked this often at most
#define TOP_KEY_MS 100      //  longest wait for a key between redraws
#define NAME_MAX_W 48       //  a node's name (a lone node's endpoint) shown at most this wide

typedef enum {
    SORT_NAME,
    SORT_COMMANDS,
    SORT_STEPS,
    SORT_COMMITS,
    SORT_P99,
    SORT_PENDING,
    SORT_STALLED,
    SORT_ERRORS,
    SORT_COUNT
} sort_t;

static const char *s_sort_names[SORT_COUNT] = {"node",   "cmd/s",   "step/s",  "cmt/s",
                                               "p99cmt", "pending", "stalled", "errors"};

enum { PAIR_DOWN = 1, PAIR_UP, PAIR_STALLED, PAIR_BAR };

typedef struct {
    top_t *top;
    long interval_ms;
    sort_t sort;
    bool paused;
    bool help;
    bool utf8;   //  the locale's codeset is UTF-8: block characters
    bool colors; //  the terminal has colors
} screen_t;

static void s_help (FILE *out)
{
    fprintf (out,
             "Usage: shoal top [--cluster FILE | --endpoint E] [--interval MS]\n"
             "       shoal top --once [--json] [--cluster FILE | --endpoint E] [--interval MS]\n\n"
             "A live dashboard of a cluster's nodes (or of one node), refreshed every\n"
             "--interval (default 1000 ms): per node up or down (and why), uptime, commands\n"
             "handled per second, saga steps per second (replies handled by the actors that\n"
             "sent the commands), group commits per second and records per commit, the p99\n"
             "of commit latency over the interval, actors in memory, pending and stalled\n"
             "outbox entries, and errors since it started (bad frames, busy, unavailable,\n"
             "failed commits). Below: the cluster's commands/s over the last minute, the\n"
             "stalled commands (sender, command, target and its node, times sent, age;\n"
             "asked every 2 s), and the busiest actors (messages/s, node).\n\n"
             "Keys: q quit, h or ? help, s next sort column, p pause. The screen needs a\n"
             "terminal whose $TERM terminfo knows and that can move the cursor; else it\n"
             "says so and exits 2.\n\n"
             "--once takes two samples one --interval apart and prints the second as text,\n"
             "or as one JSON object with --json, then exits: 0 if every node answered and\n"
             "none is unwell, 3 if one did not answer (the JSON's \"ok\" false, \"code\"\n"
             "no_answer, and \"reason\" naming it), 1 if every node answered and one is\n"
             "unwell as `shoal cluster status` says it (another map or epoch, a link\n"
             "down, a store that fails: a line under its row, its \"problem\" or \"store\"\n"
             "in the JSON, \"code\" unwell).\n\n"
             "Examples:\n"
             "  shoal top --cluster bank/cluster.cfg\n"
             "  shoal top --endpoint tcp://127.0.0.1:7700 --interval 2000\n"
             "  shoal top --once --json --cluster bank/cluster.cfg | jq .nodes\n");
}

//  --------------------------------------------------------------------------
//  Sorting the node rows

static const top_t *s_sorted_top; //  qsort has no argument: the top being sorted
static sort_t s_sorted_by;

static double s_key (const top_node_t *node, sort_t sort)
{
    switch (sort) {
    case SORT_COMMANDS:
        return node->commands_ps;
    case SORT_STEPS:
        return node->steps_ps;
    case SORT_COMMITS:
        return node->commits_ps;
    case SORT_P99:
        return node->p99_ms;
    case SORT_PENDING:
        return (double) node->pending;
    case SORT_STALLED:
        return (double) node->stalled;
    case SORT_ERRORS:
        return (double) node->errors;
    default:
        return 0;
    }
}

//  Down nodes last; else by the key, largest first; ties by name.
static int s_compare (const void *a, const void *b)
{
    const top_node_t *x = top_node (s_sorted_top, *(const int *) a);
    const top_node_t *y = top_node (s_sorted_top, *(const int *) b);
    if (x->up != y->up)
        return x->up ? -1 : 1;
    double kx = s_key (x, s_sorted_by), ky = s_key (y, s_sorted_by);
    if (kx != ky)
        return kx > ky ? -1 : 1;
    return strcmp (x->name, y->name);
}

//  --------------------------------------------------------------------------
//  Drawing

//  Writes text at (y, x), cut at the screen's right edge.
static void s_put (int y, int x, const char *text)
{
    if (y >= 0 && y < LINES && x < COLS)
        mvaddnstr (y, x, text, COLS - x);
}

static void s_sparkline (const screen_t *s, int y)
{
    static const char *blocks[8] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
    static const char ascii[] = "_.:-=+*#";
    int count;
    const double *history = top_history (s->top, &count);
    char label[64], rate[16], top[16], suffix[64];
    top_format_rate (top_commands_ps (s->top), rate, sizeof rate);
    snprintf (label, sizeof label, "cmd/s %6s ", rate);
    s_put (y, 0, label);
    //  As many of the newest points as fit beside the label and the
    //  longest suffix; the max and the span are of the points shown.
    snprintf (suffix, sizeof suffix, " max 999.9k (last %ds)",
              (int) (TOP_HISTORY * s->interval_ms / 1000));
    int x = (int) strlen (label), width = COLS - x - (int) strlen (suffix);
    width = width > TOP_HISTORY ? TOP_HISTORY : width < 10 ? 10 : width;
    int shown = count < width ? count : width;
    double max = 0;
    for (int at = count - shown; at < count; at++)
        max = history[at] > max ? history[at] : max;
    top_format_rate (max, top, sizeof top);
    snprintf (suffix, sizeof suffix, " max %s (last %ds)", top,
              (int) ((int64_t) shown * s->interval_ms / 1000));
    for (int k = 0; k < width && x + k < COLS; k++) {
        int at = count - width + k; //  the newest at the right
        if (at < 0)
            continue;
        int level = max > 0 ? (int) (history[at] / max * 7.0 + 0.5) : 0;
        if (s->utf8)
            mvaddstr (y, x + k, blocks[level]);
        else
            mvaddch (y, x + k, (chtype) ascii[level]);
    }
    s_put (y, x + width, suffix);
}

//  The node rows from y; returns the next free line.
static int s_draw_nodes (const screen_t *s, int y)
{
    //  The names whole (a lone node's is its endpoint), up to NAME_MAX_W.
    int count = top_node_count (s->top);
    int name_w = 8;
    for (int i = 0; i < count; i++) {
        int len = (int) strlen (top_node (s->top, i)->name);
        name_w = len > name_w ? (len < NAME_MAX_W ? len : NAME_MAX_W) : name_w;
    }
    attron (A_BOLD);
    char line[512];
    snprintf (line, sizeof line, "%-*s %-5s %6s %6s %6s %6s %5s %7s %6s %5s %5s %4s %s", name_w,
              "NODE", "STATE", "UPTIME", "CMD/S", "STEP/S", "CMT/S", "REC/C", "P99CMT", "ACTORS",
              "PEND", "STALL", "ERR", "BUSIEST THREAD");
    s_put (y++, 0, line);
    attroff (A_BOLD);
    int *order = calloc ((size_t) count, sizeof (int));
    if (!order)
        return y;
    for (int i = 0; i < count; i++)
        order[i] = i;
    s_sorted_top = s->top;
    s_sorted_by = s->sort;
    qsort (order, (size_t) count, sizeof (int), s_compare);
    for (int k = 0; k < count && y < LINES - 1; k++) {
        const top_node_t *n = top_node (s->top, order[k]);
        if (!n->up) {
            snprintf (line, sizeof line, "%-*.*s %-5s %.400s", name_w, name_w, n->name, "DOWN",
                      n->reason);
            if (s->colors)
                attron (COLOR_PAIR (PAIR_DOWN) | A_BOLD);
            s_put (y++, 0, line);
            if (s->colors)
                attroff (COLOR_PAIR (PAIR_DOWN) | A_BOLD);
            continue;
        }
        char up[16], cmd[16], steps[16], commits[16], rec[16], p99[16], busy[32];
        top_format_uptime (n->uptime_ms, up, sizeof up);
        top_format_rate (n->commands_ps, cmd, sizeof cmd);
        top_format_rate (n->steps_ps, steps, sizeof steps);
        top_format_rate (n->commits_ps, commits, sizeof commits);
        snprintf (rec, sizeof rec, "%.1f", n->records_per_commit);
        top_format_p99 (n, p99, sizeof p99);
        top_format_busy_thread (n, busy, sizeof busy);
        snprintf (line, sizeof line,
                  "%-*.*s %-5s %6s %6s %6s %6s %5s %7s %6lld %5lld %5lld %4lld %s", name_w, name_w,
                  n->name, "up", up, n->rated ? cmd : "-", n->rated ? steps : "-",
                  n->rated ? commits : "-", n->rated ? rec : "-", p99, (long long) n->active,
                  (long long) n->pending, (long long) n->stalled, (long long) n->errors, busy);
        s_put (y, 0, line);
        if (s->colors) {
            mvchgat (y, name_w + 1, 2, A_BOLD, PAIR_UP, NULL);
            if (n->stalled && COLS > name_w + 67) //  the STALL column
                mvchgat (y, name_w + 62, 5, A_BOLD, PAIR_STALLED, NULL);
        }
        y++;
        //  What is wrong with it, in red under its row: a problem (another
        //  map, a link down), a store that fails.
        const char *wrong[] = {n->problem, n->store};
        for (int k = 0; k < 2; k++) {
            if (!wrong[k][0] || y >= LINES - 1)
                continue;
            snprintf (line, sizeof line, "%*s%.400s", name_w + 1, "", wrong[k]);
            if (s->colors)
                attron (COLOR_PAIR (PAIR_DOWN) | A_BOLD);
            s_put (y++, 0, line);
            if (s->colors)
                attroff (COLOR_PAIR (PAIR_DOWN) | A_BOLD);
        }
    }
    free (order);
    return y;
}

//  The stalled commands from y, at most rows lines; returns the next line.
static int s_draw_stalled (const screen_t *s, int y, int rows)
{
    int count;
    const top_stalled_t *stalled = top_stalled (s->top, &count);
    int64_t all = wire_add (count, top_stalled_more (s->top)); //  the rows shown are count at most
    char line[512];
    if (!top_stalled_known (s->top))
        snprintf (line, sizeof line, "STALLED COMMANDS (asking...)");
    else if (!top_stalled_nodes (s->top))
        snprintf (line, sizeof line, "STALLED COMMANDS (no node answered)");
    else
        snprintf (line, sizeof line, "STALLED COMMANDS (%lld)", (long long) all);
    attron (A_BOLD);
    if (s->colors && count)
        attron (COLOR_PAIR (PAIR_STALLED));
    s_put (y++, 0, line);
    if (s->colors && count)
        attroff (COLOR_PAIR (PAIR_STALLED));
    int node_w = 5; //  the target's node, whole up to NAME_MAX_W
    for (int k = 0; k < count; k++) {
        int len = (int) strlen (stalled[k].target_node);
        node_w = len > node_w ? (len < NAME_MAX_W ? len : NAME_MAX_W) : node_w;
    }
    if (count) {
        snprintf (line, sizeof line, "%-26s %-10s %-24s %-*s %4s %6s", "SENDER", "COMMAND",
                  "TARGET", node_w, "NODE", "SENT", "AGE");
        s_put (y++, 0, line);
    }
    attroff (A_BOLD);
    int shown = 0;
    for (; shown < count && shown < rows - 2 && y < LINES - 1; shown++) {
        const top_stalled_t *r = &stalled[shown];
        char age[16];
        top_format_uptime (r->age_ms, age, sizeof age);
        snprintf (line, sizeof line, "%-26.26s %-10.10s %-24.24s %-*.*s %4lld %6s", r->sender,
                  r->command, r->target, node_w, node_w, r->target_node[0] ? r->target_node : "-",
                  (long long) r->attempts, age);
        s_put (y++, 0, line);
    }
    if (shown < all && y < LINES - 1) {
        snprintf (line, sizeof line, "... and %lld more (shoal pending --stalled)",
                  (long long) (all - shown));
        s_put (y++, 0, line);
    }
    return y;
}

static int s_draw_busiest (const screen_t *s, int y)
{
    int count;
    const top_busy_t *busiest = top_busiest (s->top, &count);
    attron (A_BOLD);
    s_put (y++, 0, "BUSIEST ACTORS");
    char line[512];
    snprintf (line, sizeof line, "%-44s %8s %-8s", "ADDRESS", "MSGS/S", "NODE");
    s_put (y++, 0, line);
    attroff (A_BOLD);
    for (int k = 0; k < count && y < LINES - 1; k++) {
        char rate[16];
        top_format_rate (busiest[k].per_s, rate, sizeof rate);
        snprintf (line, sizeof line, "%-44.44s %8s %-8s", busiest[k].address, rate,
                  busiest[k].node);
        s_put (y++, 0, line);
    }
    return y;
}

static void s_draw_help (void)
{
    static const char *lines[] = {
        "shoal top - keys",
        "",
        "  q        quit",
        "  h or ?   this help (any key closes it)",
        "  s        sort the nodes by the next column",
        "  p        pause / resume the sampling",
        "",
        "Columns",
        "  CMD/S    commands handled per second (accepted + rejected)",
        "  STEP/S   replies handled by the actors that sent the commands,",
        "           per second: a saga's completed steps",
        "  CMT/S    group commits (LevelDB writes) per second",
        "  REC/C    records per commit in the last interval",
        "  P99CMT   p99 of commit latency in the last interval (the LevelDB",
        "           write; in sync durability its fsync runs beside it, shared)",
        "  ACTORS   actors in memory",
        "  PEND     commands sent by actors, awaiting a reply",
        "  STALL    of those, unanswered past the node's --stall-ms",
        "  ERR      bad frames + busy + unavailable + failed commits,",
        "           since the node started",
    };
    int n = (int) (sizeof lines / sizeof lines[0]);
    for (int k = 0; k < n && k + 2 < LINES - 1; k++)
        s_put (k + 2, 2, lines[k]);
}

static void s_draw (const screen_t *s)
{
    erase ();
    char line[512], rate[16];
    top_format_rate (top_commands_ps (s->top), rate, sizeof rate);
    snprintf (
        line, sizeof line, "shoal top - %s - %d/%d nodes up - %s cmd/s - every %.1fs - sort %s%s",
        top_title (s->top), top_up_count (s->top), top_node_count (s->top), rate,
        (double) s->interval_ms / 1000.0, s_sort_names[s->sort], s->paused ? " - PAUSED" : "");
    attron (A_REVERSE);
    mvhline (0, 0, ' ', COLS);
    s_put (0, 0, line);
    attroff (A_REVERSE);
    if (s->help) {
        s_draw_help ();
    } else {
        int y = s_draw_nodes (s, 2) + 1;
        if (y < LINES - 1)
            s_sparkline (s, y++);
        y++;
        int left = LINES - 1 - y;
        if (left > 0)
            y = s_draw_stalled (s, y, left / 2 > 3 ? left / 2 : 3) + 1;
        if (y + 2 < LINES - 1)
            s_draw_busiest (s, y);
    }
    attron (A_REVERSE);
    mvhline (LINES - 1, 0, ' ', COLS);
    s_put (LINES - 1, 0, "q quit  h help  s sort  p pause");
    attroff (A_REVERSE);
    refresh ();
}

//  --------------------------------------------------------------------------

static bool s_locale_utf8 (void)
{
    setlocale (LC_ALL, "");
    const char *codeset = nl_langinfo (CODESET);
    return codeset && (strcmp (codeset, "UTF-8") == 0 || strcmp (codeset, "utf8") == 0);
}

//  The live screen until q or SIGINT. Returns the exit code.
static int s_run_screen (screen_t *s)
{
    s->utf8 = s_locale_utf8 ();
    SCREEN *screen = top_term_open ();
    if (!screen)
        return EXIT_USAGE;
    cbreak ();
    noecho ();
    curs_set (0);
    keypad (stdscr, TRUE);
    if ((s->colors = has_colors ())) {
        start_color ();
        use_default_colors ();
        init_pair (PAIR_DOWN, COLOR_RED, -1);
        init_pair (PAIR_UP, COLOR_GREEN, -1);
        init_pair (PAIR_STALLED, COLOR_YELLOW, -1);
    }
    int64_t next = zclock_mono (), pending_at = 0;
    bool dirty = true;
    while (!zsys_interrupted) {
        int64_t now = zclock_mono ();
        if (!s->paused && now >= next) {
            bool pending = pending_at == 0 || now - pending_at >= TOP_PENDING_MS - TOP_KEY_MS;
            top_sample (s->top, true, pending);
            if (pending)
                pending_at = now;
            next += s->interval_ms;
            if (next < zclock_mono ()) //  a slow round: do not try to catch up
                next = zclock_mono () + s->interval_ms;
            dirty = true;
        }
        if (dirty)
            s_draw (s);
        dirty = false;
        long wait = s->paused ? TOP_KEY_MS : (long) (next - zclock_mono ());
        timeout ((int) (wait < 0 ? 0 : wait > TOP_KEY_MS ? TOP_KEY_MS : wait));
        int key = getch ();
        if (key == ERR)
            continue;
        dirty = true;
        if (s->help && key != KEY_RESIZE) {
            s->help = false;
            continue;
        }
        if (key == 'q' || key == 'Q')
            break;
        else if (key == 'h' || key == '?')
            s->help = true;
        else if (key == 's')
            s->sort = (sort_t) ((s->sort + 1) % SORT_COUNT);
        else if (key == 'p' || key == ' ') {
            s->paused = !s->paused;
            if (!s->paused)
                next = zclock_mono ();
        }
        //  KEY_RESIZE: ncurses has resized stdscr; the redraw follows.
    }
    endwin ();
    delscreen (screen);
    return 0;
}

int cmd_top (int argc, char **argv)
{
    const char *endpoint = NULL, *cluster = NULL;
    long interval_ms = 1000;
    bool once = false, json = false;
    const option_t table[] = {
        OPT_STRING ("endpoint", &endpoint),
        OPT_STRING ("cluster", &cluster),
        OPT_INT ("interval", &interval_ms, 100, 60000),
        OPT_FLAG ("once", &once),
        OPT_FLAG ("json", &json),
        OPT_END,
    };
    int first = options_parse (table, argc, argv, s_help);
    if (first < 0)
        return first == OPTIONS_HELP ? 0 : EXIT_USAGE;
    if (first != argc) {
        fprintf (stderr, "shoal top: takes no arguments (see shoal top --help)\n");
        return EXIT_USAGE;
    }
    if (json && !once) {
        fprintf (stderr, "shoal top: --json goes with --once\n");
        return EXIT_USAGE;
    }
    if (!once && (!isatty (STDIN_FILENO) || !isatty (STDOUT_FILENO))) {
        fprintf (stderr, "shoal top: needs a terminal; --once prints one sample\n");
        return EXIT_USAGE;
    }
    client_target (endpoint, cluster, &endpoint, &cluster);
    //  A query waits at most 3/4 of an interval (100 ms to 2 s).
    long timeout_ms = interval_ms * 3 / 4;
    timeout_ms = timeout_ms < 100 ? 100 : timeout_ms > 2000 ? 2000 : timeout_ms;
    char *error = NULL;
    top_t *top = top_new (cluster, endpoint, timeout_ms, &error);
    if (!top) {
        fprintf (stderr, "shoal top: %s\n", error ? error : "out of memory");
        free (error);
        return EXIT_USAGE;
    }
    int rc = 0;
    if (once) {
        //  Two samples an interval apart: the first starts the rates (and
        //  the busiest counts), the second is printed.
        int64_t start = zclock_mono ();
        top_sample (top, true, false);
        int64_t left = start + interval_ms - zclock_mono ();
        if (left > 0)
            zclock_sleep ((int) left);
        top_sample (top, true, true);
        char *text = NULL;
        size_t size = 0;
        FILE *memory = json ? NULL : open_memstream (&text, &size);
        if (json)
            top_print_json (top, stdout);
        else if (memory) { //  the nodes' strings move no cursor (store errors, addresses)
            top_print_text (top, memory);
            if (fclose (memory) == 0 && text)
                fputs (utf8_plain (text, true), stdout);
            free (text);
        } else
            fprintf (stderr, "shoal top: out of memory\n");
        rc = top_up_count (top) < top_node_count (top) ? EXIT_NO_ANSWER
             : top_unwell (top)                        ? EXIT_REJECTED
                                                       : 0;
        rc = json || memory ? rc : 1;
    } else {
        screen_t screen = {.top = top, .interval_ms = interval_ms, .sort = SORT_NAME};
        rc = s_run_screen (&screen);
    }
    top_destroy (&top);
    return rc;
}
