/*  cmd_node.c - `shoal node`: runs a node in the foreground until SIGINT
    or SIGTERM. Prints one line with "ready on ENDPOINT" on stdout once it
    accepts commands; everything else goes to stderr.
*/
#include "commands.h"
#include "cluster.h"
#include "zplfile.h"
#include "options.h"
#include "node.h"
#include "node_stop.h"
#include "modules.h"
#include "log.h"
#include "account.h"
#include "transfer.h"
#include "review.h"
#include "bank_projections.h"

#include <czmq.h>
#include <errno.h>
#include <signal.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define NODE_MAX_MODULE_ARGS 32
#define NODE_CONFIG_LINE_MAX 8192 //  bytes of a config file's line
#define NODE_MAX_MODULE_OPTS 64

//  What the config file says of each module, by its index in the list of
//  modules (those of the file come first): the name it gives the module
//  and its entry, whose children are the module's options. Borrowed from
//  the loaded config; NULL for a module of the command line.
typedef struct {
    const char *names[NODE_MAX_MODULE_ARGS];
    zconfig_t *entries[NODE_MAX_MODULE_ARGS];
} module_config_t;

static void s_help (FILE *out)
{
    fprintf (out, "Usage: shoal node [OPTIONS]\n\n"
                  "Runs a node in the foreground: the bank's account and transfer types, plus\n"
                  "any modules, served on a ZeroMQ endpoint. Stops cleanly on Ctrl-C/SIGTERM.\n\n"
                  "Options:\n"
                  "  --data DIR              store directory (default ./shoal-data; in a\n"
                  "                          cluster NAME/data beside the cluster file)\n"
                  "  --endpoint E            client endpoint (default $SHOAL_ENDPOINT, else\n"
                  "                          the config file's, else tcp://127.0.0.1:7700;\n"
                  "                          tcp://127.0.0.1:* picks a free port)\n"
                  "  --workers N             worker threads (default: number of cores)\n"
                  "  --durability MODE       sync (default: every commit fsynced) or async\n"
                  "  --projections on|off    run the projections (default on); off, the\n"
                  "                          events are still logged, and the projections\n"
                  "                          catch up when the node runs them again\n"
                  "  --projection-linger-ms MS\n"
                  "                          a projection that follows the log takes its next\n"
                  "                          batch at most this often (default 250; 0: at once):\n"
                  "                          the steps of a saga then meet in one batch, whose\n"
                  "                          rows are written once; its lag grows by as much\n"
                  "  --module FILE.so        load an actor module (repeatable)\n"
                  "  --module-opt NAME.KEY=VALUE\n"
                  "                          an option for module NAME (its file's base name\n"
                  "                          without .so, or its name in the config file),\n"
                  "                          read at its start (repeatable)\n"
                  "  --shards N              shards of a new store (default 256; fixed after)\n"
                  "  --idle-ms MS            passivate actors idle this long (default 60000)\n"
                  "  --max-actors N          active actors at most; the least recently used\n"
                  "                          are passivated first (default 1000000)\n"
                  "  --snapshot-every N      events between snapshots (default 100)\n"
                  "  --batch-max N           messages per group commit at most (default 4096)\n"
                  "  --stall-ms MS           tell actors (a transfer marks itself stalled) when\n"
                  "                          a command they sent has no answer after MS\n"
                  "                          (default 30000)\n"
                  "  --turn-timeout MS       log a handler that runs longer (default 5000)\n"
                  "  --stop-grace-ms MS      on SIGTERM, wait this long for the handlers that\n"
                  "                          run, then name them and exit with status 4\n"
                  "                          without them (default 5000)\n"
                  "  --inbox-retention-ms MS keep inbox (dedupe) records this long (default\n"
                  "                          7 days); older commands are refused as expired\n"
                  "  --cluster FILE          run a node of the cluster in FILE (written by\n"
                  "                          `shoal cluster init`): its endpoints, shards and\n"
                  "                          CURVE keys come from the file and the directory\n"
                  "                          beside it (NAME/node.cert, NAME/clients/)\n"
                  "  --name NAME             which node of the cluster this is (with\n"
                  "                          --cluster only)\n"
                  "  --new-store             with --cluster: make a new, empty store under a\n"
                  "                          map past epoch 1 (refused without it: a node\n"
                  "                          whose store is lost would serve its shards\n"
                  "                          empty); for a node that never started\n"
                  "  --restored              with --cluster: this node's store is behind what\n"
                  "                          its peers saw of it (restored from an older\n"
                  "                          backup, repaired with losses, made anew): they\n"
                  "                          refuse it, and it takes no command, until it is\n"
                  "                          started once with this, which takes it as it is\n"
                  "                          (a newer restore generation, which every peer\n"
                  "                          takes when it next meets it)\n"
                  "  --start-hold MS|forever with --cluster: at its start, the node answers its\n"
                  "                          clients unavailable until a peer has found its\n"
                  "                          store as it saw it (milliseconds with a peer up),\n"
                  "                          at most MS (default 5000; then it serves, said\n"
                  "                          in its log); forever: until a peer has, so that\n"
                  "                          a store restored from an older backup never\n"
                  "                          serves what it lost, and the node serves nothing\n"
                  "                          while every peer is down\n"
                  "  --metrics HOST:PORT     serve Prometheus metrics on http://HOST:PORT/metrics\n"
                  "                          (default 127.0.0.1:0, a free port, said on the\n"
                  "                          ready line); off: none. Beyond loopback\n"
                  "                          (0.0.0.0:9464) only with --insecure, a node of a\n"
                  "                          cluster's too: plain HTTP, no authentication\n"
                  "  --log-level LEVEL       debug, info (default), warn or error: the least\n"
                  "                          severe lines written on stderr\n"
                  "  --insecure              a node alone may listen beyond loopback without\n"
                  "                          CURVE, and any node may serve --metrics beyond\n"
                  "                          loopback (said on every start); without it,\n"
                  "                          only loopback and ipc:// are allowed\n"
                  "  --config FILE           read options from a ZPL file first; the command\n"
                  "                          line wins. Each key under node is an option:\n"
                  "                            node\n"
                  "                                data = /var/lib/shoal\n"
                  "                                endpoint = tcp://127.0.0.1:7700\n"
                  "                                durability = sync\n"
                  "                                modules\n"
                  "                                    orders = ./orders.so\n"
                  "                                        region = eu\n"
                  "                          (a relative module path is taken from the\n"
                  "                          file's directory; the keys under a module are\n"
                  "                          the options it reads, --module-opt wins, and\n"
                  "                          one it never reads is logged; an endpoint\n"
                  "                          beyond loopback, tcp://0.0.0.0:7700, needs\n"
                  "                          --cluster's CURVE or --insecure)\n\n"
                  "Exit: 0 stopped by SIGTERM or SIGINT; 1 the start was refused, said on\n"
                  "stderr (the store, the cluster's files, a module that does not load or\n"
                  "fails its init, a module option for no module loaded), and a store the\n"
                  "start made is removed; 2 bad usage, nothing opened; 3 stopped because\n"
                  "its store could not be trusted: an fsync failed (a restart recovers\n"
                  "from the disk), or the store was found damaged, a gap in its event log\n"
                  "or a write refused as corruption (every start then refuses it until\n"
                  "`shoal repair`); 4 stopped without a worker still in a turn\n"
                  "(--stop-grace-ms).\n\n"
                  "Examples:\n"
                  "  shoal node --data ./bank\n"
                  "  shoal node --cluster cluster/cluster.cfg --name n1   (data cluster/n1/data)\n"
                  "  shoal node --config /etc/shoal/node.cfg --workers 4\n"
                  "  SHOAL_ENDPOINT=ipc:///tmp/shoal.ipc shoal node --data ./bank\n"
                  "  shoal node --data /var/lib/shoal --workers 2 --module ./counter.so\n");
}

int bank_register (shoal_registry_t *registry)
{
    int rc = shoal_register (registry, &account_type);
    if (rc == 0)
        rc = shoal_register (registry, &transfer_type);
    if (rc == 0)
        rc = shoal_register (registry, &review_type);
    if (rc == 0)
        rc = shoal_register_projection (registry, &bank_totals_projection);
    if (rc == 0)
        rc = shoal_register_projection (registry, &account_transfers_projection);
    if (rc == 0)
        rc = shoal_register_projection (registry, &large_debits_projection);
    return rc;
}

//  The line of path where key is set, or 0 if it cannot tell: the first
//  line whose first word is key, indented (a name under node) or not (a
//  section of the file's own, such as a misspelt node).
static int s_key_line (const char *path, const char *key, bool indented)
{
    FILE *file = fopen (path, "r");
    char text[1024];
    size_t length = strlen (key);
    int line = 0, found = 0;
    bool start = true; //  text begins a line (a longer one comes in pieces)
    while (file && !found && fgets (text, sizeof text, file)) {
        line += start;
        const char *word = text + strspn (text, " \t");
        if (start && (word > text) == indented && strncmp (word, key, length) == 0 &&
            strchr (" \t=\r\n", word[length]))
            found = line;
        start = strchr (text, '\n') != NULL;
    }
    if (file)
        fclose (file);
    return found;
}

//  Whether a sibling before item (from first, its first sibling) has its
//  name: the file gives that key or section twice.
static bool s_given_before (zconfig_t *first, zconfig_t *item)
{
    for (zconfig_t *other = first; other && other != item; other = zconfig_next (other))
        if (streq (zconfig_name (other), zconfig_name (item)))
            return true;
    return false;
}

//  Refuses what the file says twice, as the cluster file does: the node
//  section, a key under it, a module, or a module's option; and a node
//  "section" with a value. Returns 0, or OPTIONS_ERROR said on stderr.
static int s_config_once (const char *path, zconfig_t *root)
{
    for (zconfig_t *top = zconfig_child (root); top; top = zconfig_next (top)) {
        if (!streq (zconfig_name (top), "node"))
            continue; //  refused as an unknown key
        if (s_given_before (zconfig_child (root), top)) {
            fprintf (stderr, "shoal node: %s: section node given twice\n", path);
            return OPTIONS_ERROR;
        }
        const char *value = zconfig_value (top);
        if (value && *value) {
            fprintf (stderr,
                     "shoal node: %s: node is a section, its keys indented under it; not "
                     "'node = VALUE'\n",
                     path);
            return OPTIONS_ERROR;
        }
        for (zconfig_t *item = zconfig_child (top); item; item = zconfig_next (item)) {
            //  module and module-opt are lists, as on the command line.
            bool list =
                streq (zconfig_name (item), "module") || streq (zconfig_name (item), "module-opt");
            if (!list && s_given_before (zconfig_child (top), item)) {
                fprintf (stderr, "shoal node: %s: node/%s given twice\n", path,
                         zconfig_name (item));
                return OPTIONS_ERROR;
            }
            if (!streq (zconfig_name (item), "modules"))
                continue;
            for (zconfig_t *module = zconfig_child (item); module; module = zconfig_next (module)) {
                if (s_given_before (zconfig_child (item), module)) {
                    fprintf (stderr, "shoal node: %s: node/modules/%.200s given twice\n", path,
                             zconfig_name (module));
                    return OPTIONS_ERROR;
                }
                for (zconfig_t *option = zconfig_child (module); option;
                     option = zconfig_next (option))
                    if (s_given_before (zconfig_child (module), option)) {
                        fprintf (stderr, "shoal node: %s: node/modules/%.200s/%.200s given twice\n",
                                 path, zconfig_name (module), zconfig_name (option));
                        return OPTIONS_ERROR;
                    }
            }
        }
    }
    return 0;
}

//  Applies the settings of the ZPL config file at path through table, as
//  options given before the command line's:
//
//      node
//          data = /var/lib/shoal
//          endpoint = tcp://0.0.0.0:7700
//          workers = 2
//          durability = sync
//          modules
//              counter = ./counter.so
//
//  Every key under node is an option's name; a module path that is
//  relative is taken from the file's directory, its text kept in paths
//  (the caller frees each of *path_count). Each module's name and entry
//  (whose children are its options) go into *modules at its index, read
//  from *module_count. Values are owned by *config.
//  Returns 0, or OPTIONS_ERROR when the file cannot be read, says a key
//  twice, or a key or value is wrong (said on stderr with the file, line
//  and key).
static int s_config (const char *path, zconfig_t **config, const option_t *table, char **paths,
                     int *path_count, module_config_t *modules, const int *module_count)
{
    //  Read here, not by zconfig_load, which would wait for ever on a FIFO.
    char *error = NULL;
    size_t size = 0;
    char *text = zplfile_read (path, &size, &error);
    if (!text) {
        fprintf (stderr, "shoal node: cannot read the config file %s\n", error ? error : path);
        free (error);
        return OPTIONS_ERROR;
    }
    //  An editor's byte order mark: zconfig would say "invalid syntax" of
    //  the first line, which looks right.
    if (size >= 3 && memcmp (text, "\xef\xbb\xbf", 3) == 0) {
        fprintf (stderr,
                 "shoal node: the config file %s starts with a UTF-8 byte order mark (EF BB "
                 "BF): save it without one\n",
                 path);
        free (text);
        return OPTIONS_ERROR;
    }
    //  Checked as zconfig parses it, so that what is wrong is said with
    //  its line and our prefix (zconfig printed its own line, raw bytes
    //  and all), and nothing after a NUL byte is left unread.
    //  Lines as long as zconfig_str_load reads (a data path may be 3,072
    //  bytes: runtime/node.h); only zconfig_load of a file cuts at 1,024.
    if (zplfile_check (text, size, NODE_CONFIG_LINE_MAX, true, path, &error) != 0) {
        fprintf (stderr, "shoal node: %s\n", error ? error : path);
        free (error);
        free (text);
        return OPTIONS_ERROR;
    }
    //  zconfig says what is wrong with the file (and its line) on stdout:
    //  send it to stderr, so that stdout has the ready line alone.
    fflush (stdout);
    int saved = dup (STDOUT_FILENO);
    dup2 (STDERR_FILENO, STDOUT_FILENO);
    *config = zconfig_str_load (text);
    fflush (stdout);
    if (saved >= 0) {
        dup2 (saved, STDOUT_FILENO);
        close (saved);
    }
    free (text);
    if (!*config) {
        fprintf (stderr, "shoal node: cannot read the config file %s (not ZPL)\n", path);
        return OPTIONS_ERROR;
    }
    if (s_config_once (path, *config) != 0)
        return OPTIONS_ERROR;
    const char *slash = strrchr (path, '/');
    int dir_length = slash ? (int) (slash - path) : 0;
    for (zconfig_t *top = zconfig_child (*config); top; top = zconfig_next (top)) {
        bool node = streq (zconfig_name (top), "node");
        for (zconfig_t *item = node ? zconfig_child (top) : top; item;
             item = node ? zconfig_next (item) : NULL) {
            const char *name = zconfig_name (item);
            char place[PATH_MAX + 16], key[256], where[sizeof place + sizeof key + 16];
            int line = s_key_line (path, name, node); //  a section of its own: not indented
            if (line)
                snprintf (place, sizeof place, "%s:%d", path, line);
            else
                snprintf (place, sizeof place, "%s", path);
            snprintf (key, sizeof key, "%s%s", node ? "node/" : "", name);
            snprintf (where, sizeof where, "%s: %s", place, key);
            int rc = OPTIONS_UNKNOWN;
            const char *value = zconfig_value (item);
            bool section = node && streq (name, "modules");
            if (node && section && value && *value) {
                fprintf (stderr,
                         "shoal node: %s is a section, its modules indented under it; not "
                         "'modules = VALUE'\n",
                         where);
                return OPTIONS_ERROR;
            }
            if (node && !section && zconfig_child (item)) {
                fprintf (stderr, "shoal node: %s takes a value, not keys indented under it (%s)\n",
                         where, zconfig_name (zconfig_child (item)));
                return OPTIONS_ERROR;
            }
            if (section) {
                rc = 0;
                for (zconfig_t *module = zconfig_child (item); rc == 0 && module;
                     module = zconfig_next (module)) {
                    char *file = zconfig_value (module);
                    if (file && *file && *file != '/' && slash &&
                        *path_count < NODE_MAX_MODULE_ARGS) {
                        file = zsys_sprintf ("%.*s/%s", dir_length, path, file);
                        paths[(*path_count)++] = file;
                    }
                    snprintf (where, sizeof where, "%s: node/modules/%.200s", place,
                              zconfig_name (module));
                    int index = *module_count;
                    if (index >= NODE_MAX_MODULE_ARGS) {
                        fprintf (stderr, "shoal node: %s: more than %d modules\n", where,
                                 NODE_MAX_MODULE_ARGS);
                        return OPTIONS_ERROR;
                    }
                    rc = options_set (table, "node", where, "module", file);
                    if (rc == 0 && index < NODE_MAX_MODULE_ARGS) {
                        modules->names[index] = zconfig_name (module);
                        modules->entries[index] = module;
                    }
                }
            } else if (node && (streq (name, "restored") || streq (name, "new-store"))) {
                //  For one start only: kept in a file, every start would
                //  take the store as it is, and a node restored from an
                //  older backup would never be refused.
                fprintf (stderr,
                         "shoal node: %s: %s is for the one start that needs it: give "
                         "--%s on the command line, not in the config file\n",
                         where, name, name);
                return OPTIONS_ERROR;
            } else if (node && streq (name, "module")) {
                //  Taken from the file's directory too, as under modules
                //  (it was taken from the current one).
                char *file = zconfig_value (item);
                if (file && *file && *file != '/' && slash && *path_count < NODE_MAX_MODULE_ARGS) {
                    file = zsys_sprintf ("%.*s/%s", dir_length, path, file);
                    paths[(*path_count)++] = file;
                }
                rc = options_set (table, "node", where, name, file);
            } else if (node && !streq (name, "config"))
                rc = options_set (table, "node", where, name, zconfig_value (item));
            if (rc == OPTIONS_UNKNOWN)
                fprintf (stderr, "shoal node: %s: unknown key %s\n", place, key);
            if (rc != 0)
                return OPTIONS_ERROR;
        }
    }
    return 0;
}

//  The path given with --config (before any "--"), or NULL.
static const char *s_config_path (int argc, char **argv)
{
    for (int i = 1; i < argc && !streq (argv[i], "--"); i++) {
        if (streq (argv[i], "--config") && i + 1 < argc)
            return argv[i + 1];
        if (strncmp (argv[i], "--config=", 9) == 0)
            return argv[i] + 9;
    }
    return NULL;
}

//  Splits "NAME.KEY=VALUE" into its parts, into module and key (256 bytes
//  each). NAME is the longest of names (count, the modules' names) that
//  text starts with, followed by '.': a module's name keeps the dots of
//  its file's (book.v2.so is book.v2). Else NAME goes to the first '.'
//  (a module not loaded, which the node refuses). KEY goes to the first
//  '=' after NAME: it may hold dots, as a key in the config file may.
//  Returns false if text is not of that shape, or a part is too long.
static bool s_module_opt (const char *text, const char *const *names, int count, char *module,
                          char *key, const char **value)
{
    const char *dot = strchr (text, '.');
    for (int i = 0; dot && i < count; i++) {
        size_t len = strlen (names[i]);
        if (strncmp (text, names[i], len) == 0 && text[len] == '.' && text + len > dot)
            dot = text + len;
    }
    const char *equals = dot ? strchr (dot, '=') : NULL;
    if (!dot || !equals || dot == text || equals == dot + 1 || dot - text > 255 ||
        equals - dot - 1 > 255)
        return false;
    snprintf (module, 256, "%.*s", (int) (dot - text), text);
    snprintf (key, 256, "%.*s", (int) (equals - dot - 1), dot + 1);
    *value = equals + 1;
    return true;
}

//  Gives the modules (paths, module_count of them) their options: the
//  config file's, then the command line's, which win. Returns 0 or an
//  error.
static int s_module_options (shoal_node_t *node, const char **paths, int module_count,
                             const module_config_t *config, const char **opts, int opt_count)
{
    //  Each module's name, as modules_load names it.
    const char *names[NODE_MAX_MODULE_ARGS];
    char *derived[NODE_MAX_MODULE_ARGS] = {NULL};
    int count = module_count < NODE_MAX_MODULE_ARGS ? module_count : NODE_MAX_MODULE_ARGS;
    int rc = 0;
    for (int i = 0; rc == 0 && i < count; i++) {
        names[i] = config->names[i] ? config->names[i] : (derived[i] = modules_name (paths[i]));
        if (!names[i])
            rc = SHOAL_ENOMEM;
    }
    for (int i = 0; rc == 0 && i < module_count && i < NODE_MAX_MODULE_ARGS; i++)
        for (zconfig_t *option = config->entries[i] ? zconfig_child (config->entries[i]) : NULL;
             rc == 0 && option; option = zconfig_next (option)) {
            const char *value = zconfig_value (option);
            rc = shoal_node_module_option (node, config->names[i], zconfig_name (option),
                                           value ? value : "");
        }
    for (int i = 0; rc == 0 && i < opt_count; i++) {
        char module[256], key[256];
        const char *value;
        if (s_module_opt (opts[i], names, count, module, key, &value))
            rc = shoal_node_module_option (node, module, key, value);
    }
    for (int i = 0; i < count; i++)
        free (derived[i]);
    return rc;
}

//  Checks what the options say together, and the cluster file they name,
//  before anything is opened: a usage error is said on stderr ("shoal
//  node: ...") and returns EXIT_USAGE; else 0. A node alone beyond
//  loopback without --insecure is one, and --insecure with --cluster
//  (which has CURVE: it was ignored). shoal_node_new checks the same for
//  any caller of the library, but all it has is an error.
static int s_check_usage (const shoal_node_options_t *opts)
{
    const char *problem = opts->endpoint ? cluster_endpoint_problem (opts->endpoint) : NULL;
    if (problem) {
        fprintf (stderr, "shoal node: --endpoint %s is not an endpoint: %s\n", opts->endpoint,
                 problem);
        return EXIT_USAGE;
    }
    //  The library takes inproc:// for a node in its caller's process; a
    //  node of its own process would listen where nobody can come (it
    //  started, said it was ready, and no client ever reached it).
    if (opts->endpoint && strncmp (opts->endpoint, "inproc://", 9) == 0) {
        fprintf (stderr,
                 "shoal node: --endpoint %s: an inproc:// endpoint is reached only from inside "
                 "the node's own process, so no client could reach it: give ipc://PATH or "
                 "tcp://HOST:PORT\n",
                 opts->endpoint);
        return EXIT_USAGE;
    }
    char *unbindable = opts->endpoint ? shoal_node_bind_problem (opts->endpoint) : NULL;
    if (unbindable) {
        fprintf (stderr, "shoal node: %s\n", unbindable);
        free (unbindable);
        return EXIT_USAGE;
    }
    if (!opts->cluster_file && opts->name) {
        fprintf (stderr, "shoal node: --name needs --cluster: it says which node of the "
                         "cluster file this is\n");
        return EXIT_USAGE;
    }
    //  Both are of a store its peers remember: a node alone has none, and
    //  taking them there in silence (as before) let an operator believe
    //  the store was taken as it is, or made new.
    if (!opts->cluster_file && (opts->restored || opts->new_store)) {
        fprintf (stderr,
                 "shoal node: %s needs --cluster: it tells a node's peers about its store, "
                 "and a node alone has none (a node alone makes a new store by itself, in a "
                 "--data directory that is not there)\n",
                 opts->restored ? "--restored" : "--new-store");
        return EXIT_USAGE;
    }
    //  Metrics beyond loopback are plain HTTP for anyone: --insecure, for a
    //  node of a cluster too (the one thing it means there).
    char *refusal = opts->metrics ? shoal_node_metrics_problem (opts->metrics) : NULL;
    if (!refusal && opts->metrics)
        refusal = shoal_node_metrics_refusal (opts->metrics, opts->insecure);
    if (!refusal && !opts->cluster_file && opts->endpoint) //  the default one is loopback's
        refusal = shoal_node_listen_refusal (opts->endpoint, opts->insecure);
    if (refusal) {
        fprintf (stderr, "shoal node: %s\n", refusal);
        free (refusal);
        return EXIT_USAGE;
    }
    if (!opts->cluster_file)
        return 0;
    char *beyond = opts->metrics ? shoal_node_metrics_refusal (opts->metrics, false) : NULL;
    bool public_metrics = beyond != NULL;
    free (beyond);
    if (opts->insecure && !public_metrics) {
        fprintf (stderr, "shoal node: --insecure does not go with --cluster: it lets a node "
                         "alone listen without CURVE, and a cluster's nodes always have it\n");
        return EXIT_USAGE;
    }
    const char *file = opts->cluster_file;
    if (!opts->name) {
        fprintf (stderr, "shoal node: --cluster needs --name: which node of %s this is\n", file);
        return EXIT_USAGE;
    }
    char *error = NULL;
    cluster_t *cluster = cluster_load (file, &error);
    int self = cluster ? cluster_find (cluster, opts->name) : -1;
    if (cluster && self < 0)
        error = zsys_sprintf ("%s has no node called %s", file, opts->name);
    else if (cluster && opts->endpoint)
        error = zsys_sprintf ("--endpoint does not go with --cluster: node %s listens on %s, as "
                              "%s says",
                              opts->name, cluster_node_client (cluster, self), file);
    else if (cluster && opts->shards && opts->shards != (int) cluster_shards (cluster))
        error = zsys_sprintf ("--shards %d does not go with %s, which has %u shards", opts->shards,
                              file, cluster_shards (cluster));
    int rc = !cluster || error ? EXIT_USAGE : 0;
    if (rc)
        fprintf (stderr, "shoal node: %s\n", error ? error : "out of memory");
    free (error);
    cluster_destroy (&cluster);
    return rc;
}

//  Raises the soft limit of open files to the hard one (at most
//  NODE_FILES_MAX): each connection, idle or not, holds a descriptor until
//  the node closes it (an idle one after its handshake interval), and a
//  node that has none left accepts nothing (libzmq's listener then spins a
//  core) and LevelDB can open no file. Warns when the limit stays below
//  NODE_FILES_LOW.
#define NODE_FILES_MAX (1 << 20)
#define NODE_FILES_LOW 4096
static void s_raise_files_limit (void)
{
    struct rlimit files;
    if (getrlimit (RLIMIT_NOFILE, &files) != 0)
        return;
    rlim_t want = files.rlim_max == RLIM_INFINITY || files.rlim_max > NODE_FILES_MAX
                      ? NODE_FILES_MAX
                      : files.rlim_max;
    if (files.rlim_cur != RLIM_INFINITY && files.rlim_cur < want) {
        files.rlim_cur = want;
        setrlimit (RLIMIT_NOFILE, &files);
        getrlimit (RLIMIT_NOFILE, &files);
    }
    if (files.rlim_cur != RLIM_INFINITY && files.rlim_cur < NODE_FILES_LOW)
        log_warn ("shoal node: at most %lu open files (ulimit -n; its hard limit too): a few "
                  "hundred idle connections can take them all. Raise it (systemd: "
                  "LimitNOFILE=65536)",
                  (unsigned long) files.rlim_cur);
}

//  What the node registers before it opens the store: the bank, the
//  modules' options, the modules.
typedef struct {
    const char **modules;
    int module_count;
    const module_config_t *config;
    const char **module_opts;
    int module_opt_count;
} loads_t;

//  shoal_node_options_t.before_open: a module that is refused, or crashes
//  in its init, finds no store made.
static int s_load (shoal_node_t *node, void *arg, char **error)
{
    const loads_t *loads = arg;
    int rc = bank_register (shoal_node_registry (node));
    if (rc == 0)
        rc = s_module_options (node, loads->modules, loads->module_count, loads->config,
                               loads->module_opts, loads->module_opt_count);
    for (int i = 0; rc == 0 && i < loads->module_count; i++)
        rc = shoal_node_load_module_named (
            node, loads->modules[i], i < NODE_MAX_MODULE_ARGS ? loads->config->names[i] : NULL,
            error);
    return rc;
}

//  Loads the modules, opens the store and serves until a signal. Returns
//  the exit code. A start refused leaves no store it made.
static int s_run (shoal_node_options_t *opts, const char **modules, int module_count,
                  const module_config_t *config, const char **module_opts, int module_opt_count)
{
    signal (SIGPIPE, SIG_IGN);
    zsys_init ();
    node_stop_catch ();
    zsys_set_logident ("shoal");
    zsys_set_logstream (stderr); //  stdout has the ready line alone
    s_raise_files_limit ();
    //  What the node makes is its user's alone: LevelDB makes its files
    //  0644 less the umask, and an ipc:// socket takes the umask too (so
    //  only the node's user may connect to it: README, "One node").
    umask (077);

    int code = 0;
    char *error = NULL;
    if (opts->cluster_file) //  one node a process: its lines carry its name
        log_set_name (opts->name);
    loads_t loads = {modules, module_count, config, module_opts, module_opt_count};
    opts->before_open = s_load;
    opts->before_open_arg = &loads;
    shoal_node_t *node = shoal_node_new (opts, &code, &error);
    if (!node) {
        fprintf (stderr, "shoal node: %s\n", error ? error : "cannot open the store");
        free (error);
        return 1;
    }
    int rc = shoal_node_start (node, &error);
    if (rc != 0) { //  a store this start made goes with it
        fprintf (stderr, "shoal node: %s\n", error ? error : shoal_strerror (rc));
        free (error);
        shoal_node_discard (&node);
        return 1;
    }
    if (opts->insecure && !opts->cluster_file)
        log_warn ("shoal node: --insecure: %s takes commands from anyone who can reach it, "
                  "unauthenticated and unencrypted",
                  shoal_node_endpoint (node));
    //  What the node runs with: the ready line's parentheses, and the log.
    const char *url = shoal_node_metrics_url (node);
    char *beyond = url && opts->metrics ? shoal_node_metrics_refusal (opts->metrics, false) : NULL;
    if (beyond)
        log_warn ("shoal node: --insecure: its metrics, %s, are served to anyone who can reach "
                  "them, unauthenticated and unencrypted",
                  url);
    free (beyond);
    //  A node of a cluster names its data directory too: one started
    //  without its --data makes a new store where the cluster file's
    //  directory puts it, which a review took for its own.
    char what[2 * PATH_MAX + 512];
    snprintf (what, sizeof what, "%s%s%s%s%s%s, %d workers, %d shards, durability %s%s%s",
              shoal_node_name (node) ? "node " : "data ",
              shoal_node_name (node) ? shoal_node_name (node)
                                     : (opts->data_dir ? opts->data_dir : "shoal-data"),
              shoal_node_name (node) ? " of " : "",
              shoal_node_name (node) ? opts->cluster_file : "",
              shoal_node_name (node) ? ", data " : "",
              shoal_node_name (node) ? shoal_node_data_dir (node) : "", shoal_node_workers (node),
              shoal_node_shards (node), opts->async ? "async" : "sync", url ? ", metrics " : "",
              url ? url : "");
    if (shoal_node_store_new (node))
        log_info ("shoal node: made a new, empty store in %s (if this node had a store, it is "
                  "elsewhere: stop it and start it with its --data)",
                  shoal_node_data_dir (node));
    log_info ("shoal node: started on %s (%s)", shoal_node_endpoint (node), what);
    printf ("shoal node ready on %s (%s)\n", shoal_node_endpoint (node), what);
    fflush (stdout);
    shoal_node_run (node);
    shoal_node_destroy (&node);
    node_stop_said ();
    return 0;
}

//  Reads --start-hold's MS or forever into opts. Returns 0 or EXIT_USAGE,
//  said.
static int s_start_hold (const char *text, shoal_node_options_t *opts)
{
    if (!opts->cluster_file) {
        fprintf (stderr, "shoal node: --start-hold needs --cluster: a node alone has no peer to "
                         "check its store\n");
        return EXIT_USAGE;
    }
    if (streq (text, "forever")) {
        opts->start_hold_ms = SHOAL_START_HOLD_FOREVER;
        return 0;
    }
    char *end;
    errno = 0;
    long long ms = strtoll (text, &end, 10);
    if (errno || end == text || *end || ms < 1 || ms > 86400000) {
        fprintf (stderr, "shoal node: --start-hold takes MS (1 to 86400000) or forever, not '%s'\n",
                 text);
        return EXIT_USAGE;
    }
    opts->start_hold_ms = ms;
    return 0;
}

int cmd_node (int argc, char **argv)
{
    shoal_node_options_t opts = {.projection_linger_ms = 250};
    int log_level = SHOAL_LOG_INFO; //  an index into SHOAL_LOG_LEVELS
    const char *modules[NODE_MAX_MODULE_ARGS], *config_path = NULL, *start_hold = NULL;
    const char *module_opts[NODE_MAX_MODULE_OPTS];
    int module_count = 0, module_opt_count = 0;
    module_config_t module_config;
    memset (&module_config, 0, sizeof module_config);
    const option_t table[] = {
        OPT_STRING ("data", &opts.data_dir),
        OPT_STRING ("endpoint", &opts.endpoint),
        OPT_INT ("workers", &opts.workers, 1, 256),
        OPT_WORD ("durability", &opts.async, "sync|async"),
        OPT_WORD ("projections", &opts.projections_off, "on|off"),
        OPT_INT ("projection-linger-ms", &opts.projection_linger_ms, 0, 60000),
        OPT_LIST ("module", modules, &module_count),
        OPT_LIST ("module-opt", module_opts, &module_opt_count),
        OPT_INT ("shards", &opts.shards, 1, CLUSTER_MAX_SHARDS), //  a u16 in the keys
        OPT_INT ("idle-ms", &opts.idle_ms, 1, 86400000L * 365),
        OPT_INT ("max-actors", &opts.max_actors, 1, 1L << 40),
        OPT_INT ("snapshot-every", &opts.snapshot_every, 1, 1 << 30),
        OPT_INT ("batch-max", &opts.batch_max, 1, 1 << 20),
        OPT_INT ("stall-ms", &opts.stall_ms, 1, 86400000L * 365),
        OPT_INT ("turn-timeout", &opts.turn_timeout_ms, 1, 86400000L),
        OPT_INT ("stop-grace-ms", &opts.stop_grace_ms, 1, 86400000L),
        OPT_INT ("inbox-retention-ms", &opts.inbox_retention_ms, 100, LONG_MAX),
        OPT_STRING ("config", &config_path),
        OPT_STRING ("cluster", &opts.cluster_file),
        OPT_STRING ("name", &opts.name),
        OPT_FLAG ("insecure", &opts.insecure),
        OPT_FLAG ("new-store", &opts.new_store),
        OPT_FLAG ("restored", &opts.restored),
        OPT_STRING ("start-hold", &start_hold),
        OPT_STRING ("metrics", &opts.metrics),
        OPT_WORD ("log-level", &log_level, SHOAL_LOG_LEVELS),
        OPT_END,
    };
    //  The config file first, then $SHOAL_ENDPOINT, then the command line:
    //  each wins over what came before it.
    zconfig_t *config = NULL;
    char *paths[NODE_MAX_MODULE_ARGS];
    int path_count = 0, rc = 0;
    const char *path = s_config_path (argc, argv);
    if (path &&
        s_config (path, &config, table, paths, &path_count, &module_config, &module_count) != 0)
        rc = EXIT_USAGE;
    const char *env = getenv ("SHOAL_ENDPOINT");
    if (rc == 0 && env && *env)
        opts.endpoint = env;
    int first = rc ? 0 : options_parse (table, argc, argv, s_help);
    if (first < 0)
        rc = first == OPTIONS_HELP ? 0 : EXIT_USAGE;
    else if (rc == 0 && first < argc) {
        fprintf (stderr, "shoal node: unexpected argument '%s'\n", argv[first]);
        rc = EXIT_USAGE;
    }
    for (int i = 0; rc == 0 && i < module_opt_count; i++) {
        char module[256], key[256];
        const char *value;
        if (!s_module_opt (module_opts[i], NULL, 0, module, key, &value)) {
            fprintf (stderr, "shoal node: --module-opt '%s' is not NAME.KEY=VALUE\n",
                     module_opts[i]);
            rc = EXIT_USAGE;
        }
    }
    //  $SHOAL_ENDPOINT is the clients' too: a node of a cluster listens
    //  where its map says, and one exported for the clients (as the
    //  README's quick start does) is not the node's to refuse.
    if (rc == 0 && opts.cluster_file && env && opts.endpoint == env)
        opts.endpoint = NULL;
    if (rc == 0 && first >= 0 && first >= argc && start_hold)
        rc = s_start_hold (start_hold, &opts);
    if (rc == 0 && first >= 0 && first >= argc)
        rc = s_check_usage (&opts);
    if (rc == 0 && first >= 0 && first >= argc) {
        log_set_level ((shoal_log_level_t) log_level);
        rc = s_run (&opts, modules, module_count, &module_config, module_opts, module_opt_count);
    }
    for (int i = 0; i < path_count; i++)
        zstr_free (&paths[i]);
    zconfig_destroy (&config);
    return rc;
}
