/*  cmd_cluster_up.c - `shoal cluster up`: a development cluster on this
    machine, every node a child of this process (bench/node_child.h starts
    them), planned first by `shoal cluster init` when its directory holds
    none. Runs on the main thread; SIGINT and SIGTERM stop it.
*/
#include "cluster.h"
#include "cluster_stats.h"
#include "commands.h"
#include "node_child.h"
#include "options.h"
#include "utf8.h"

#include <czmq.h>
#include <limits.h>
#include <stdbool.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

//  `shoal cluster up`: a development cluster on this machine, every node a
//  child of this process (bench/node_child.h starts them).

static void s_up_help (FILE *out)
{
    fprintf (out,
             "Usage: shoal cluster up [OPTIONS]\n\n"
             "Runs a cluster on this machine for development: if DIR has no cluster.cfg it\n"
             "first plans one as `shoal cluster init` does (TCP on 127.0.0.1, clients on\n"
             "ports 7700, 7702, ...; --ipc for unix sockets in DIR), then starts every node\n"
             "of DIR/cluster.cfg as a child process (data DIR/NAME/data, stderr shared with\n"
             "this terminal) and prints each node's ready line, then \"N nodes up\" once\n"
             "their links to each other are (links still down after 15 s are named on\n"
             "stderr). Clients reach it with --cluster DIR/cluster.cfg (or\n"
             "SHOAL_CLUSTER=DIR/cluster.cfg).\n\n"
             "Ctrl-C or SIGTERM stops every node (SIGTERM, then waits for each) and exits\n"
             "0. A node that exits by itself is reported and not restarted; the others\n"
             "keep running (its shards wait, as in a real cluster) until the last one is\n"
             "gone, then this exits 1. Exits 1 too if a node does not start.\n\n"
             "Options:\n"
             "  --nodes N        nodes of a new cluster, 1 to %d (default 3); with an\n"
             "                   existing DIR/cluster.cfg, must match it if given\n"
             "  --dir DIR        the cluster's directory (default ./cluster)\n"
             "  --workers N      worker threads per node (default: number of cores)\n"
             "  --ipc            a new cluster listens on ipc:// in DIR instead of TCP\n"
             "  --base-port P    a new cluster's first client port (default 7700)\n"
             "  --module FILE.so load an actor module on every node (repeatable), as\n"
             "                   shoal node --module does\n"
             "  --module-opt NAME.KEY=VALUE\n"
             "                   an option for module NAME on every node (repeatable)\n"
             "  --metrics off    no node serves Prometheus metrics (by default each serves\n"
             "                   them on a port of its own on 127.0.0.1, said in its ready\n"
             "                   line: with --ipc, the only TCP ports it opens)\n\n"
             "Examples:\n"
             "  shoal cluster up\n"
             "  shoal cluster up --nodes 5 --dir /tmp/dev --workers 2\n"
             "  shoal cluster up --nodes 2 --ipc --module ./counter.so\n"
             "  shoal cluster up --nodes 2 --dir /tmp/dev --ipc --metrics off\n"
             "  shoal send account/alice Open owner=alice --cluster cluster/cluster.cfg\n",
             CLUSTER_MAX_NODES);
}

static volatile sig_atomic_t s_up_stop = 0;

static void s_up_signal (int sig)
{
    (void) sig;
    s_up_stop = 1;
}

//  Catches SIGINT and SIGTERM into s_up_stop, without SA_RESTART so that a
//  wait returns early.
static void s_up_catch (void)
{
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_up_signal;
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
}

//  Says how child node i ended, from its wait status.
static void s_up_ended (const cluster_t *cluster, int i, pid_t pid, int status)
{
    const char *name = cluster_node_name (cluster, i);
    if (WIFSIGNALED (status))
        fprintf (stderr, "shoal cluster up: node %s (pid %d) was killed by signal %d\n", name,
                 (int) pid, WTERMSIG (status));
    else
        fprintf (stderr, "shoal cluster up: node %s (pid %d) exited with code %d\n", name,
                 (int) pid, WIFEXITED (status) ? WEXITSTATUS (status) : -1);
}

//  Sends SIGTERM to every running node, then waits for each (SIGKILL after
//  30 s). Returns how many did not stop by themselves.
static int s_up_stop_all (node_child_t *nodes, int count)
{
    for (int i = 0; i < count; i++)
        if (nodes[i].pid > 0)
            kill (nodes[i].pid, SIGTERM);
    int64_t deadline = zclock_mono () + 30000;
    int killed = 0;
    for (int i = 0; i < count; i++) {
        while (nodes[i].pid > 0 && waitpid (nodes[i].pid, NULL, WNOHANG) == 0) {
            if (zclock_mono () > deadline) {
                node_child_stop (&nodes[i], SIGKILL);
                killed++;
            } else
                zclock_sleep (20);
        }
        nodes[i].pid = 0;
    }
    return killed;
}

//  Watches the nodes until a signal or until none is left. Returns the
//  exit code.
static int s_up_watch (const cluster_t *cluster, node_child_t *nodes, int count)
{
    int running = count;
    while (!s_up_stop && running > 0) {
        for (int i = 0; i < count && !s_up_stop; i++) {
            int status = 0;
            if (nodes[i].pid <= 0 || waitpid (nodes[i].pid, &status, WNOHANG) != nodes[i].pid)
                continue;
            s_up_ended (cluster, i, nodes[i].pid, status);
            nodes[i].pid = 0;
            if (--running > 0)
                fprintf (stderr, "shoal cluster up: %d node%s still running\n", running,
                         running == 1 ? "" : "s");
        }
        if (running > 0 && !s_up_stop)
            usleep (100 * 1000); //  a signal cuts it short
    }
    if (running == 0) {
        fprintf (stderr, "shoal cluster up: every node has exited\n");
        return EXIT_REJECTED;
    }
    fprintf (stderr, "shoal cluster up: stopping %d node%s\n", running, running == 1 ? "" : "s");
    int killed = s_up_stop_all (nodes, count);
    if (killed)
        fprintf (stderr, "shoal cluster up: %d node%s did not stop within 30 s: killed\n", killed,
                 killed == 1 ? "" : "s");
    fprintf (stderr, "shoal cluster up: stopped\n");
    return 0;
}

#define UP_LINKS_MS 15000 //  how long to wait for the nodes' links

//  Lists in down (size bytes) the links of node's stats ("peers": name ->
//  up) that are not up, as "n1->n2", after what down holds. Returns how
//  many, or 1 for stats without the map.
static int s_up_links_down (const node_stats_t *node, char *down, size_t size)
{
    const msgpack_object *peers = node->stats ? map_find (node->stats, "peers") : NULL;
    size_t used = strlen (down);
    if (!peers || peers->type != MSGPACK_OBJECT_MAP) {
        snprintf (down + used, size - used, "%s%s->?", used ? ", " : "", node->name);
        return 1;
    }
    int count = 0;
    for (uint32_t i = 0; i < peers->via.map.size; i++) {
        const msgpack_object_kv *kv = &peers->via.map.ptr[i];
        if (kv->val.type == MSGPACK_OBJECT_BOOLEAN && kv->val.via.boolean)
            continue;
        used = strlen (down);
        snprintf (down + used, size - used, "%s%s->%.*s", used ? ", " : "", node->name,
                  kv->key.type == MSGPACK_OBJECT_STR ? (int) kv->key.via.str.size : 1,
                  kv->key.type == MSGPACK_OBJECT_STR ? kv->key.via.str.ptr : "?");
        count++;
    }
    return count;
}

//  Waits until every node's links to the others are up: a node is ready
//  before its peers have said HELLO, and until then it answers a command
//  for another node's actor `unavailable`. Asks every node's stats each
//  100 ms for at most UP_LINKS_MS; a signal cuts it short. Returns true
//  when all are up, else false with the links not up in down (size bytes).
static bool s_up_links (const char *path, const cluster_t *cluster, char *down, size_t size)
{
    int count = cluster_node_count (cluster);
    char *error = NULL;
    cluster_asker_t *asker = cluster_asker_new (path, cluster, NULL, &error);
    node_stats_t *nodes = calloc ((size_t) count, sizeof (node_stats_t));
    if (!asker || !nodes) {
        snprintf (down, size, "%s", error ? error : "out of memory");
        free (error);
        free (nodes);
        cluster_asker_destroy (&asker);
        return false;
    }
    int64_t deadline = zclock_mono () + UP_LINKS_MS;
    bool up = false;
    while (!up && !s_up_stop) {
        cluster_asker_ask (asker, "node/stats", "stats", NULL, 0, NULL, 1000, nodes);
        down[0] = 0;
        int missing = 0;
        for (int i = 0; i < count; i++)
            missing += s_up_links_down (&nodes[i], down, size);
        cluster_stats_close (nodes, count);
        up = missing == 0;
        if (!up && zclock_mono () > deadline)
            break;
        if (!up)
            usleep (100 * 1000); //  a signal cuts it short
    }
    free (nodes);
    cluster_asker_destroy (&asker);
    return up;
}

//  Plans the cluster in dir (as `shoal cluster init` would) unless its
//  cluster.cfg exists, then loads it. Returns the map or NULL, said, with
//  *code the exit status (EXIT_USAGE: a --nodes the file contradicts).
static cluster_t *s_up_map (const char *dir, const char *path, long nodes, bool nodes_given,
                            bool ipc, long base_port, int *code)
{
    *code = EXIT_REJECTED;
    if (access (path, F_OK) != 0) {
        char count[16], port[16];
        snprintf (count, sizeof count, "%ld", nodes);
        snprintf (port, sizeof port, "%ld", base_port);
        char *argv[10] = {"cluster up", "--nodes", count, "--dir", (char *) dir};
        int argc = 5;
        if (ipc)
            argv[argc++] = "--ipc";
        if (base_port) { //  else cluster init's own (with --ipc, it refuses it)
            argv[argc++] = "--base-port";
            argv[argc++] = port;
        }
        argv[argc] = NULL;
        if (cluster_init (argc, argv) != 0)
            return NULL;
    } else {
        fprintf (stderr, "shoal cluster up: using the cluster in %s\n", path);
        if (ipc || base_port) //  documented, but dropped without a word before
            fprintf (stderr,
                     "shoal cluster up: %s%s%s only shape%s a new cluster: the one in %s keeps "
                     "its endpoints (another --dir for a new one)\n",
                     ipc ? "--ipc" : "", ipc && base_port ? " and " : "",
                     base_port ? "--base-port" : "", ipc && base_port ? "" : "s", path);
    }
    char *error = NULL;
    cluster_t *cluster = cluster_load (path, &error);
    if (!cluster) {
        fprintf (stderr, "shoal cluster up: %s\n", error ? error : "out of memory");
        free (error);
    } else if (nodes_given && cluster_node_count (cluster) != nodes) {
        fprintf (stderr,
                 "shoal cluster up: %s has %d nodes, not %ld (leave out --nodes, or use another "
                 "--dir)\n",
                 path, cluster_node_count (cluster), nodes);
        cluster_destroy (&cluster);
        *code = EXIT_USAGE;
    }
    return cluster;
}

int cluster_up (int argc, char **argv)
{
    const char *dir = "cluster";
    long nodes = 0, workers = 0, base_port = 0; //  0: not given
    bool ipc = false;
    const char *metrics = NULL;
    const char *modules[16], *module_opts[16];
    int module_count = 0, module_opt_count = 0;
    const option_t table[] = {OPT_INT ("nodes", &nodes, 1, CLUSTER_MAX_NODES),
                              OPT_STRING ("dir", &dir),
                              OPT_INT ("workers", &workers, 1, 256),
                              OPT_FLAG ("ipc", &ipc),
                              OPT_INT ("base-port", &base_port, 1, 65535),
                              OPT_LIST ("module", modules, &module_count),
                              OPT_LIST ("module-opt", module_opts, &module_opt_count),
                              OPT_STRING_ONCE ("metrics", &metrics),
                              OPT_END};
    int first = options_parse (table, argc, argv, s_up_help);
    if (first == OPTIONS_HELP)
        return 0;
    if (first == OPTIONS_ERROR)
        return EXIT_USAGE;
    if (first < argc) {
        fprintf (stderr, "shoal cluster up: unexpected argument '%s'\n", argv[first]);
        return EXIT_USAGE;
    }
    if (metrics && strcmp (metrics, "off") != 0) {
        //  One HOST:PORT for every node of this machine: the second could not bind it.
        char quoted[96]; //  one line, whatever its bytes
        fprintf (stderr,
                 "shoal cluster up: --metrics takes off alone, not %s (each node serves its own "
                 "on a port of its own)\n",
                 utf8_quote (quoted, sizeof quoted, metrics, strlen (metrics), '\''));
        return EXIT_USAGE;
    }
    bool nodes_given = nodes > 0;
    if (!nodes_given)
        nodes = 3;
    if (!*dir || strlen (dir) > PATH_MAX - 100) {
        fprintf (stderr, "shoal cluster up: --dir must be a path of 1 to %d bytes\n",
                 PATH_MAX - 100);
        return EXIT_USAGE;
    }
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/cluster.cfg", dir);
    zsys_init ();
    zsys_handler_set (NULL);
    s_up_catch ();
    int code;
    cluster_t *cluster = s_up_map (dir, path, nodes, nodes_given, ipc, base_port, &code);
    if (!cluster)
        return code;
    int count = cluster_node_count (cluster);
    node_child_t *children = calloc ((size_t) count, sizeof (node_child_t));
    char workers_text[16];
    snprintf (workers_text, sizeof workers_text, "%ld", workers);
    int rc = children ? 0 : EXIT_REJECTED;
    for (int i = 0; rc == 0 && i < count && !s_up_stop; i++) {
        //  Each node gets the modules and their options as given.
        char *args[10 + 2 * 32] = {"node", "--cluster", path, "--name",
                                   (char *) cluster_node_name (cluster, i)};
        int n = 5;
        if (workers)
            args[n++] = "--workers", args[n++] = workers_text;
        if (metrics)
            args[n++] = "--metrics", args[n++] = "off";
        for (int m = 0; m < module_count; m++)
            args[n++] = "--module", args[n++] = (char *) modules[m];
        for (int m = 0; m < module_opt_count; m++)
            args[n++] = "--module-opt", args[n++] = (char *) module_opts[m];
        args[n] = NULL;
        if (node_child_spawn (&children[i], NULL, args, NULL, 60000) != 0) {
            fprintf (stderr, "shoal cluster up: node %s did not start (its messages are above)\n",
                     cluster_node_name (cluster, i));
            rc = EXIT_REJECTED;
        } else {
            printf ("%s\n", children[i].ready);
            fflush (stdout);
        }
    }
    char down[512];
    if (rc == 0 && !s_up_stop && count > 1 && !s_up_links (path, cluster, down, sizeof down) &&
        !s_up_stop)
        fprintf (stderr,
                 "shoal cluster up: links not up after %d s: %s; until they are, a node "
                 "answers a command for the other's actors unavailable (shoal cluster status "
                 "--cluster %s)\n",
                 UP_LINKS_MS / 1000, down, path);
    if (rc == 0 && !s_up_stop) {
        printf ("shoal cluster up: %d node%s up; clients use --cluster %s; Ctrl-C stops them\n",
                count, count == 1 ? "" : "s", path);
        fflush (stdout);
    }
    if (children && (rc != 0 || s_up_stop)) {
        s_up_stop_all (children, count); //  what did start
        if (rc == 0)
            fprintf (stderr, "shoal cluster up: stopped\n");
    } else if (children)
        rc = s_up_watch (cluster, children, count);
    free (children);
    cluster_destroy (&cluster);
    return rc;
}
