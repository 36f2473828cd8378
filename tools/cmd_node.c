/*  cmd_node.c - `shoal node`: runs a node in the foreground until SIGINT
    or SIGTERM. Prints one line with "ready on ENDPOINT" on stdout once it
    accepts commands; everything else goes to stderr.
*/
#include "commands.h"
#include "node.h"
#include "account.h"
#include "transfer.h"

#include <czmq.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>

#define NODE_MAX_MODULE_ARGS 32

static void s_help (FILE *out)
{
    fprintf (out, "Usage: shoal node [OPTIONS]\n\n"
                  "Runs a node in the foreground: the bank's account and transfer types, plus\n"
                  "any modules, served on a ZeroMQ endpoint. Stops cleanly on Ctrl-C/SIGTERM.\n\n"
                  "Options:\n"
                  "  --data DIR              store directory (default ./shoal-data)\n"
                  "  --endpoint E            client endpoint (default tcp://127.0.0.1:7700;\n"
                  "                          tcp://127.0.0.1:* picks a free port)\n"
                  "  --workers N             worker threads (default: number of cores)\n"
                  "  --durability MODE       sync (default: every commit fsynced) or async\n"
                  "  --module FILE.so        load an actor module (repeatable)\n"
                  "  --shards N              shards of a new store (default 256; fixed after)\n"
                  "  --idle-ms MS            passivate actors idle this long (default 60000)\n"
                  "  --snapshot-every N      events between snapshots (default 100)\n"
                  "  --batch-max N           messages per group commit at most (default 4096)\n"
                  "  --stall-ms MS           tell actors (a transfer marks itself stalled) when\n"
                  "                          a command they sent has no answer after MS\n"
                  "                          (default 30000)\n"
                  "  --inbox-retention-ms MS keep inbox (dedupe) records this long (default\n"
                  "                          7 days); older commands are refused as expired\n"
                  "  --config FILE           read options from a ZPL file first; the command\n"
                  "                          line wins. Each key under node is an option:\n"
                  "                            node\n"
                  "                                data = /var/lib/shoal\n"
                  "                                endpoint = tcp://0.0.0.0:7700\n"
                  "                                durability = sync\n"
                  "                                modules\n"
                  "                                    counter = ./counter.so\n\n"
                  "Examples:\n"
                  "  shoal node --data ./bank\n"
                  "  shoal node --config /etc/shoal/node.cfg --workers 4\n"
                  "  shoal node --data /var/lib/shoal --workers 2 --module ./counter.so\n");
}

bool option_int (const char *command, const char *name, const char *text, long min, long max,
                 long *value)
{
    char *end;
    errno = 0;
    long parsed = strtol (text, &end, 10);
    if (errno || *end || end == text || parsed < min || parsed > max) {
        fprintf (stderr, "shoal %s: --%s must be an integer from %ld to %ld, not '%s'\n", command,
                 name, min, max, text);
        return false;
    }
    *value = parsed;
    return true;
}

int bank_register (shoal_registry_t *registry)
{
    int rc = shoal_register (registry, &account_type);
    if (rc == 0)
        rc = shoal_register (registry, &transfer_type);
    return rc;
}

#define NODE_MAX_ARGS 256

//  Prepends the settings of a ZPL config file to the command line, so that
//  the command line wins and both go through the same checks:
//
//      node
//          data = /var/lib/shoal
//          endpoint = tcp://0.0.0.0:7700
//          workers = 2
//          durability = sync
//          modules
//              counter = ./counter.so
//
//  Every key under node is an option's name. Returns the new argc, or -1
//  (with a message) when the file cannot be read. Strings are owned by
//  config and borrowed by args.
static int s_config_args (const char *path, zconfig_t **config, int argc, char **argv, char **args)
{
    *config = zconfig_load (path);
    if (!*config) {
        fprintf (stderr, "shoal node: cannot read the config file %s\n", path);
        return -1;
    }
    int count = 0;
    args[count++] = argv[0];
    static char dashes[NODE_MAX_ARGS][48];
    zconfig_t *node = zconfig_locate (*config, "node");
    for (zconfig_t *item = node ? zconfig_child (node) : NULL; item && count < NODE_MAX_ARGS - 4;
         item = zconfig_next (item)) {
        const char *name = zconfig_name (item);
        if (streq (name, "modules")) {
            for (zconfig_t *module = zconfig_child (item); module && count < NODE_MAX_ARGS - 4;
                 module = zconfig_next (module)) {
                args[count++] = "--module";
                args[count++] = zconfig_value (module);
            }
            continue;
        }
        snprintf (dashes[count], sizeof dashes[count], "--%s", name);
        args[count] = dashes[count];
        count++;
        args[count++] = zconfig_value (item);
    }
    for (int i = 1; i < argc && count < NODE_MAX_ARGS - 1; i++)
        args[count++] = argv[i];
    args[count] = NULL;
    return count;
}

static int s_node (int argc, char **argv)
{
    static const struct option options[] = {{"data", required_argument, 0, 'd'},
                                            {"endpoint", required_argument, 0, 'e'},
                                            {"workers", required_argument, 0, 'w'},
                                            {"durability", required_argument, 0, 'D'},
                                            {"module", required_argument, 0, 'm'},
                                            {"shards", required_argument, 0, 's'},
                                            {"idle-ms", required_argument, 0, 'i'},
                                            {"snapshot-every", required_argument, 0, 'S'},
                                            {"batch-max", required_argument, 0, 'b'},
                                            {"stall-ms", required_argument, 0, 'T'},
                                            {"inbox-retention-ms", required_argument, 0, 'R'},
                                            {"config", required_argument, 0, 'c'},
                                            {"help", no_argument, 0, 'h'},
                                            {0, 0, 0, 0}};
    shoal_node_options_t opts = {0};
    const char *modules[NODE_MAX_MODULE_ARGS];
    int module_count = 0;
    long value;
    int c;
    optind = 1;
    while ((c = getopt_long (argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case 'c':
            break;
        case 'd':
            opts.data_dir = optarg;
            break;
        case 'e':
            opts.endpoint = optarg;
            break;
        case 'w':
            if (!option_int ("node", "workers", optarg, 1, 256, &value))
                return EXIT_USAGE;
            opts.workers = (int) value;
            break;
        case 'D':
            if (streq (optarg, "sync"))
                opts.async = false;
            else if (streq (optarg, "async"))
                opts.async = true;
            else {
                fprintf (stderr, "shoal node: --durability is sync or async, not '%s'\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'm':
            if (module_count == NODE_MAX_MODULE_ARGS) {
                fprintf (stderr, "shoal node: at most %d modules\n", NODE_MAX_MODULE_ARGS);
                return EXIT_USAGE;
            }
            modules[module_count++] = optarg;
            break;
        case 's':
            if (!option_int ("node", "shards", optarg, 1, 1 << 20, &value))
                return EXIT_USAGE;
            opts.shards = (int) value;
            break;
        case 'i':
            if (!option_int ("node", "idle-ms", optarg, 1, 86400000L * 365, &value))
                return EXIT_USAGE;
            opts.idle_ms = (int) value;
            break;
        case 'S':
            if (!option_int ("node", "snapshot-every", optarg, 1, 1 << 30, &value))
                return EXIT_USAGE;
            opts.snapshot_every = (int) value;
            break;
        case 'b':
            if (!option_int ("node", "batch-max", optarg, 1, 1 << 20, &value))
                return EXIT_USAGE;
            opts.batch_max = (int) value;
            break;
        case 'R':
            if (!option_int ("node", "inbox-retention-ms", optarg, 100, LONG_MAX, &value))
                return EXIT_USAGE;
            opts.inbox_retention_ms = value;
            break;
        case 'T':
            if (!option_int ("node", "stall-ms", optarg, 1, 86400000L * 365, &value))
                return EXIT_USAGE;
            opts.stall_ms = value;
            break;
        case 'h':
            s_help (stdout);
            return 0;
        default:
            s_help (stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "shoal node: unexpected argument '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }
    signal (SIGPIPE, SIG_IGN);
    zsys_init ();
    zsys_set_logident ("shoal");

    int code = 0;
    char *error = NULL;
    shoal_node_t *node = shoal_node_new (&opts, &code, &error);
    if (!node) {
        fprintf (stderr, "shoal node: %s\n", error ? error : "cannot open the store");
        free (error);
        return 1;
    }
    int rc = bank_register (shoal_node_registry (node));
    for (int i = 0; rc == 0 && i < module_count; i++)
        rc = shoal_node_load_module (node, modules[i], &error);
    if (rc == 0)
        rc = shoal_node_start (node, &error);
    if (rc != 0) {
        fprintf (stderr, "shoal node: %s\n", error ? error : shoal_strerror (rc));
        free (error);
        shoal_node_destroy (&node);
        return 1;
    }
    printf ("shoal node ready on %s (data %s, %d workers, %d shards, durability %s)\n",
            shoal_node_endpoint (node), opts.data_dir ? opts.data_dir : "shoal-data",
            shoal_node_workers (node), shoal_node_shards (node), opts.async ? "async" : "sync");
    fflush (stdout);
    shoal_node_run (node);
    shoal_node_destroy (&node);
    fprintf (stderr, "shoal node: stopped\n");
    return 0;
}

int cmd_node (int argc, char **argv)
{
    //  A first pass finds --config; its settings go before the command line.
    zconfig_t *config = NULL;
    char *args[NODE_MAX_ARGS];
    for (int i = 1; i < argc; i++) {
        const char *path = NULL;
        if (streq (argv[i], "--config") && i + 1 < argc)
            path = argv[i + 1];
        else if (strncmp (argv[i], "--config=", 9) == 0)
            path = argv[i] + 9;
        if (path) {
            argc = s_config_args (path, &config, argc, argv, args);
            if (argc < 0)
                return 1;
            argv = args;
            break;
        }
    }
    int rc = s_node (argc, argv);
    zconfig_destroy (&config);
    return rc;
}
