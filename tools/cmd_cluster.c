/*  cmd_cluster.c - `shoal cluster SUBCOMMAND` (init, rekey; up and status
    are in files of their own): tooling
    for the static cluster map (transport/cluster.h).

    `cluster init` plans a cluster and writes everything its nodes and
    clients need:

        DIR/cluster.cfg              the map, copied to every machine
        DIR/NAME/node.cert           node NAME's CURVE certificate ...
        DIR/NAME/node.cert_secret    ... and its secret (mode 0600)
        DIR/NAME/clients/            the clients' certificates it accepts
        DIR/NAME/operators/client.cert  its operators' (may resolve, resend,
                                     retry or drop dead letters, control
                                     projections): the operator's
        DIR/client.cert              the operator's certificate ...
        DIR/client.cert_secret       ... and its secret (mode 0600)

    cluster.cfg is written last, so a directory holding one is complete;
    an init that fails removes the files it wrote and the directories it
    made (with --force, the old cluster.cfg is gone too).
    Exit codes: 0 written, 1 refused or failed, 2 bad usage.

    `cluster rekey NODE...` gives nodes new certificates (a stolen or
    leaked secret key): each certificate written, then the map with the
    new public keys, the old ones as previous_key, and the next epoch.
    With --operator, first a new operator's certificate, DIR/client.cert
    and a copy in each DIR/NAME/operators/ (the map is not changed).
    Exit codes: 0 written, 1 failed (the map as it was), 2 bad usage.

    `cluster status` is cmd_cluster_status.c's, `cluster up`
    cmd_cluster_up.c's; `shoal where` is cmd_where.c's.

    The map is --cluster FILE, else $SHOAL_CLUSTER, else
    cluster/cluster.cfg (where `cluster init` writes by default).
*/
#include "commands.h"
#include "options.h"
#include "cluster.h"
#include "cluster_hosts.h"
#include "cluster_kept.h"
#include "cluster_stats.h"
#include "shard.h"
#include "dirsync.h"
#include "node_child.h"
#include "zplfile.h"

#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void s_help (FILE *out)
{
    fprintf (out,
             "Usage: shoal cluster init --nodes N [OPTIONS]\n\n"
             "Plans a cluster of N nodes (n1..nN) and writes its map, DIR/cluster.cfg, with\n"
             "a CURVE certificate per node in DIR/NAME/ and one client certificate,\n"
             "DIR/client.cert, that every node accepts as its operator's (a copy of its\n"
             "public part is in each DIR/NAME/operators/; other clients' go in\n"
             "DIR/NAME/clients/, made empty). Node i (from 0) listens for clients on\n"
             "tcp://HOST:PORT+2i and for its peers on tcp://HOST:PORT+2i+1. Shards are\n"
             "placed by rendezvous hashing. Refuses to overwrite DIR/cluster.cfg unless\n"
             "--force, which also makes new keys for everything.\n\n"
             "Options:\n"
             "  --nodes N        nodes, 1 to %d (required)\n"
             "  --dir DIR        where to write (default ./cluster)\n"
             "  --host ADDRESS   the IPv4 address in the endpoints (default 127.0.0.1)\n"
             "  --hosts A1,A2,.. one IPv4 address per node, in order (machines of their own):\n"
             "                   each listens on PORT (clients) and PORT+1 (peers)\n"
             "  --base-port P    the first node's client port (default 7700)\n"
             "  --shards S       shards, 1 to %d (default 256)\n"
             "  --name NAME      the cluster's name (default shoal)\n"
             "  --ipc            ipc:// endpoints in DIR instead of TCP (a cluster on\n"
             "                   one machine: ipc://DIR/NAME/client.ipc, .../peer.ipc)\n"
             "  --force          overwrite an existing cluster in DIR (kept as it was if the\n"
             "                   new one cannot be written whole)\n\n"
             "Examples:\n"
             "  shoal cluster init --nodes 3\n"
             "  shoal cluster init --nodes 3 --dir /tmp/dev --ipc\n"
             "  shoal cluster init --nodes 5 --dir /etc/shoal/bank --name bank \\\n"
             "      --host 10.0.0.5 --base-port 9000 --shards 1024\n"
             "  shoal cluster init --nodes 3 --dir bank --name bank \\\n"
             "      --hosts 10.0.0.11,10.0.0.12,10.0.0.13\n",
             CLUSTER_MAX_NODES, CLUSTER_MAX_SHARDS);
}

static void s_usage (FILE *out)
{
    fprintf (out, "Usage: shoal cluster SUBCOMMAND [OPTIONS]\n\n"
                  "Subcommands:\n"
                  "  init       plan a cluster: its map and its certificates\n"
                  "  up         run a development cluster on this machine until Ctrl-C\n"
                  "  status     every node up or down, its shards, epoch, peers, uptime\n"
                  "  rekey      a new key for a node whose secret key was stolen or leaked\n\n"
                  "Run 'shoal cluster SUBCOMMAND --help' for its options and examples.\n\n"
                  "Examples:\n"
                  "  shoal cluster init --nodes 3\n"
                  "  shoal cluster up --nodes 3 --dir ./dev\n"
                  "  shoal cluster status\n"
                  "  shoal cluster rekey n2 --dir bank\n");
}

//  The cluster file: option, else $SHOAL_CLUSTER, else the default.
const char *cluster_cmd_path (const char *option)
{
    const char *path = client_cluster (option);
    return path ? path : DEFAULT_CLUSTER_FILE;
}

//  Loads the map at path. Returns it, or NULL after "shoal COMMAND: ..."
//  on stderr (and, when path is the default, how to give another).
cluster_t *cluster_cmd_load (const char *command, const char *path)
{
    char *error = NULL;
    cluster_t *cluster = cluster_load (path, &error);
    if (!cluster)
        fprintf (stderr, "shoal %s: %s\n", command, error ? error : "out of memory");
    if (!cluster && streq (path, DEFAULT_CLUSTER_FILE))
        fprintf (stderr, "shoal %s: give the map with --cluster FILE or $SHOAL_CLUSTER\n", command);
    free (error);
    return cluster;
}

//  The text czmq writes for cert's public part (secret false) or its
//  secret part, for path: saved by czmq into a private directory made
//  beside path (the secret never leaves path's filesystem), read back and
//  checked (czmq's save does not report a failed write: a short file
//  would not load, or not with cert's keys), removed. Returns it (free
//  it) and its size, or NULL with errno.
//  The command whose messages these are: "cluster init", or "cluster up"
//  when up plans a cluster ("shoal cluster init: ..."). One thread: the
//  command line's.
static const char *s_command = "cluster init";

static char *s_cert_text (zcert_t *cert, bool secret, const char *path, size_t *size)
{
    char dir[PATH_MAX], temp[PATH_MAX + 16];
    const char *slash = strrchr (path, '/');
    int len = slash ? (int) (slash - path) : 1;
    if (snprintf (dir, sizeof dir, "%.*s/.shoal-cert-XXXXXX", len, slash ? path : ".") >=
        (int) sizeof dir) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    if (!mkdtemp (dir))
        return NULL;
    snprintf (temp, sizeof temp, "%s/cert", dir);
    char *text = NULL;
    int error = EIO;
    int saved = secret ? zcert_save_secret (cert, temp) : zcert_save_public (cert, temp);
    zcert_t *back = saved == 0 ? zcert_load (temp) : NULL;
    bool same = back && streq (zcert_public_txt (back), zcert_public_txt (cert)) &&
                (!secret || streq (zcert_secret_txt (back), zcert_secret_txt (cert)));
    zcert_destroy (&back);
    zfile_t *file = same ? zfile_new (NULL, temp) : NULL;
    if (file && zfile_input (file) == 0) {
        zchunk_t *chunk = zfile_read (file, (size_t) zfile_cursize (file), 0);
        if (chunk && (text = (char *) malloc (zchunk_size (chunk) + 1))) {
            *size = zchunk_size (chunk);
            memcpy (text, zchunk_data (chunk), *size);
            text[*size] = '\0';
        }
        zchunk_destroy (&chunk);
        zfile_close (file);
    } else if (saved != 0)
        error = errno ? errno : EIO;
    zfile_destroy (&file);
    unlink (temp);
    rmdir (dir);
    errno = error;
    return text;
}

//  Writes cert's public part (secret false) or its secret part to path,
//  durably (zplfile_save: a temporary file synced, renamed over path, its
//  directory synced; czmq's own save does neither), the secret mode 0600.
//  Returns 0 or -1 with a message printed.
static int s_write_cert (zcert_t *cert, bool secret, const char *path)
{
    size_t size = 0;
    char *text = s_cert_text (cert, secret, path, &size);
    char *error = NULL;
    int rc = text ? zplfile_save_mode (path, text, size, secret ? 0600 : 0644, &error) : -1;
    if (rc != 0)
        fprintf (stderr, "shoal %s: cannot write %s: %s\n", s_command, path,
                 error ? error : strerror (errno));
    free (error);
    free (text);
    return rc ? -1 : 0;
}

//  What a failed init undoes: the files it wrote and the directories it
//  made, each an owned string, newest first.
typedef struct {
    zlist_t *files;
    zlist_t *dirs;
} made_t;

//  Adds a copy of path to list. Returns 0, or -1 with a message printed.
static int s_made_add (zlist_t *list, const char *path)
{
    if (zlist_push (list, (char *) path) != 0) { //  autofree: the list copies it
        fprintf (stderr, "shoal %s: out of memory\n", s_command);
        return -1;
    }
    return 0;
}

//  Removes what made lists, newest first (a directory only if empty),
//  and frees the lists.
static void s_made_undo (made_t *made)
{
    zlist_t *lists[] = {made->files, made->dirs};
    for (int i = 0; i < 2; i++) {
        char *path;
        while (lists[i] && (path = (char *) zlist_pop (lists[i]))) {
            if (i == 0)
                unlink (path);
            else
                rmdir (path);
            free (path);
        }
        zlist_destroy (&lists[i]);
    }
    made->files = made->dirs = NULL;
}

//  Writes cert's public part to path, noted in made. Returns 0 or -1
//  with a message printed.
static int s_write_cert_made (zcert_t *cert, bool secret, const char *path, made_t *made)
{
    if (s_write_cert (cert, secret, path) != 0)
        return -1;
    return s_made_add (made->files, path);
}

//  Saves cert's public part to path and its secret part to path_secret
//  (mode 0600, made new whatever an old one was), both noted in made.
//  Returns 0 or -1 with a message printed.
static int s_save_cert (zcert_t *cert, const char *path, made_t *made)
{
    char secret[PATH_MAX];
    if (snprintf (secret, sizeof secret, "%s_secret", path) >= (int) sizeof secret) {
        fprintf (stderr, "shoal %s: the path %s_secret is too long\n", s_command, path);
        return -1;
    }
    if (s_write_cert_made (cert, false, path, made) != 0 ||
        s_write_cert_made (cert, true, secret, made) != 0)
        return -1;
    return 0;
}

//  Makes dir and its parents. Returns 0 or -1 with a message printed.
static int s_mkdir (const char *dir)
{
    char failed[PATH_MAX];
    int rc = dirsync_create (dir, failed);
    if (rc) {
        fprintf (stderr, "shoal %s: cannot create directory %s: %s (%s)\n", s_command, dir,
                 strerror (rc), failed);
        return -1;
    }
    return 0;
}

//  Makes dir/name/clients and dir/name/operators, noting in made each of
//  them and dir/name that was not there. Returns 0 or -1 with a message
//  printed.
static int s_mkdir_node (const char *dir, const char *name, made_t *made)
{
    char paths[3][PATH_MAX + 16]; //  the node's, then its clients/ and operators/ in it
    snprintf (paths[0], sizeof paths[0], "%s/%s", dir, name);
    snprintf (paths[1], sizeof paths[1], "%s/%s/clients", dir, name);
    snprintf (paths[2], sizeof paths[2], "%s/%s/operators", dir, name);
    bool fresh[3];
    for (int i = 0; i < 3; i++)
        fresh[i] = access (paths[i], F_OK) != 0;
    if (s_mkdir (paths[1]) != 0 || s_mkdir (paths[2]) != 0)
        return -1;
    for (int i = 0; i < 3; i++)
        if (fresh[i] && s_made_add (made->dirs, paths[i]) != 0)
            return -1;
    return 0;
}

//  The command's verb, for messages: "init", "rekey" or "up".
static const char *s_verb (void)
{
    const char *space = strrchr (s_command, ' ');
    return space ? space + 1 : s_command;
}

//  Removes from each node's clients/ the client.cert an init before
//  operators/ wrote there, if it is old's (the key --force or
//  rekey --operator replaced).
static void s_drop_old_client (cluster_t *cluster, const char *dir, zcert_t *old)
{
    for (int i = 0; old && i < cluster_node_count (cluster); i++) {
        char path[PATH_MAX];
        snprintf (path, sizeof path, "%s/%s/clients/client.cert", dir,
                  cluster_node_name (cluster, i));
        zcert_t *there = access (path, F_OK) == 0 ? zcert_load (path) : NULL;
        if (there && streq (zcert_public_txt (there), zcert_public_txt (old))) {
            if (unlink (path) == 0)
                printf ("removed %s: the client key this %s replaced\n", path, s_verb ());
            else
                fprintf (stderr,
                         "shoal %s: cannot remove %s, the client key this %s replaced: "
                         "%s; remove it, or that key is still let in\n",
                         s_command, path, s_verb (), strerror (errno));
        }
        zcert_destroy (&there);
    }
}

//  A new certificate of cluster's, for role ("node", with node its name,
//  or "operator", node NULL), or NULL with a message printed.
static zcert_t *s_new_cert (const cluster_t *cluster, const char *role, const char *node)
{
    zcert_t *cert = zcert_new ();
    if (!cert) {
        fprintf (stderr, "shoal %s: cannot make a certificate\n", s_command);
        return NULL;
    }
    zcert_set_meta (cert, "cluster", "%s", cluster_name (cluster));
    zcert_set_meta (cert, "role", "%s", role);
    if (node)
        zcert_set_meta (cert, "node", "%s", node);
    return cert;
}

//  Writes the certificates and the map. Returns the exit code; on a
//  failure, what it wrote and the directories it made are removed.
static int s_write (cluster_t *cluster, const char *dir)
{
    char path[PATH_MAX];
    made_t made = {zlist_new (), zlist_new ()};
    if (made.files && made.dirs) {
        zlist_autofree (made.files);
        zlist_autofree (made.dirs);
    }
    zcert_t *client = made.files && made.dirs ? s_new_cert (cluster, "operator", NULL) : NULL;
    if (!client) {
        s_made_undo (&made);
        return EXIT_REJECTED;
    }
    snprintf (path, sizeof path, "%s/client.cert", dir);
    //  The key this replaces (--force), which an init before operators/
    //  authorized in each node's clients/: taken out below, once all is
    //  written, or the key rotated out would still be let in.
    zcert_t *old = access (path, F_OK) == 0 ? zcert_load (path) : NULL;
    int rc = s_save_cert (client, path, &made);
    for (int i = 0; rc == 0 && i < cluster_node_count (cluster); i++) {
        const char *name = cluster_node_name (cluster, i);
        zcert_t *cert = s_new_cert (cluster, "node", name);
        if (!cert) {
            rc = -1;
            break;
        }
        rc = s_mkdir_node (dir, name, &made);
        if (rc == 0) {
            snprintf (path, sizeof path, "%s/%s/node.cert", dir, name);
            rc = s_save_cert (cert, path, &made);
        }
        if (rc == 0) {
            snprintf (path, sizeof path, "%s/%s/operators/client.cert", dir, name);
            rc = s_write_cert_made (client, false, path, &made);
        }
        if (rc == 0 && cluster_set_key (cluster, i, zcert_public_txt (cert)) != 0) {
            fprintf (stderr, "shoal %s: a new key was refused\n", s_command);
            rc = -1;
        }
        zcert_destroy (&cert);
    }
    zcert_destroy (&client);
    char *error = NULL;
    snprintf (path, sizeof path, "%s/cluster.cfg", dir);
    if (rc == 0 && cluster_save (cluster, path, &error) != 0) {
        fprintf (stderr, "shoal %s: %s\n", s_command, error ? error : "out of memory");
        rc = -1;
    }
    free (error);
    if (rc) {
        zcert_destroy (&old);
        s_made_undo (&made);
        return EXIT_REJECTED;
    }
    zlist_destroy (&made.files);
    zlist_destroy (&made.dirs);
    s_drop_old_client (cluster, dir, old);
    zcert_destroy (&old);
    printf ("wrote %s: cluster %s, %d nodes, %u shards, epoch %" PRId64 ", digest %s\n", path,
            cluster_name (cluster), cluster_node_count (cluster), cluster_shards (cluster),
            cluster_epoch (cluster), cluster_digest (cluster));
    for (int i = 0; i < cluster_node_count (cluster); i++) {
        const char *name = cluster_node_name (cluster, i);
        printf ("  %-4s %5u shards  client %s  peer %s  cert %s/%s/node.cert\n", name,
                cluster_node_shard_count (cluster, i), cluster_node_client (cluster, i),
                cluster_node_peer (cluster, i), dir, name);
    }
    printf ("wrote %s/client.cert (and _secret), the operator's, authorized in %s/*/operators/\n",
            dir, dir);
    return 0;
}

int cluster_init (int argc, char **argv)
{
    s_command = argv[0];
    const char *dir = "cluster", *host = NULL, *name = "shoal";
    long nodes = 0, shards = 256, base_port = 0; //  0: not given (7700)
    bool force = false, ipc = false;
    const char *hosts = NULL;
    const option_t table[] = {OPT_INT ("nodes", &nodes, 1, CLUSTER_MAX_NODES),
                              OPT_STRING ("hosts", &hosts),
                              OPT_FLAG ("ipc", &ipc),
                              OPT_STRING ("dir", &dir),
                              OPT_STRING ("host", &host),
                              OPT_INT ("base-port", &base_port, 1, 65535),
                              OPT_INT ("shards", &shards, 1, CLUSTER_MAX_SHARDS),
                              OPT_STRING ("name", &name),
                              OPT_FLAG ("force", &force),
                              OPT_END};
    int first = options_parse (table, argc, argv, s_help);
    if (first == OPTIONS_HELP)
        return 0;
    if (first == OPTIONS_ERROR)
        return EXIT_USAGE;
    if (first < argc) {
        fprintf (stderr, "shoal %s: unexpected argument '%s'\n", s_command, argv[first]);
        return EXIT_USAGE;
    }
    if (nodes == 0) {
        fprintf (stderr, "shoal %s: needs --nodes N (1 to %d)\n", s_command, CLUSTER_MAX_NODES);
        return EXIT_USAGE;
    }
    if ((host != NULL) + (hosts != NULL) + ipc > 1) {
        fprintf (stderr,
                 "shoal %s: --host, --hosts and --ipc each say where the nodes listen: "
                 "give one of them\n",
                 s_command);
        return EXIT_USAGE;
    }
    if (ipc && base_port) {
        fprintf (stderr,
                 "shoal %s: --base-port is for TCP: with --ipc the nodes listen on sockets in "
                 "--dir, and no port is taken\n",
                 s_command);
        return EXIT_USAGE;
    }
    if (!base_port)
        base_port = 7700;
    if (!host)
        host = "127.0.0.1";
    else if (!cluster_host_ok (s_command, host, "--host"))
        return EXIT_USAGE;
    if (shards < nodes) {
        fprintf (stderr,
                 "shoal %s: --shards %ld is fewer than --nodes %ld: a node would own no shard "
                 "(give at least one shard a node; the default is 256)\n",
                 s_command, shards, nodes);
        return EXIT_USAGE;
    }
    if (!*dir || strlen (dir) > PATH_MAX - 100) {
        fprintf (stderr, "shoal %s: --dir must be a path of 1 to %d bytes\n", s_command,
                 PATH_MAX - 100);
        return EXIT_USAGE;
    }
    if (base_port + 2 * nodes - 1 > 65535) {
        fprintf (stderr, "shoal %s: %ld nodes need ports %ld to %ld, past 65535\n", s_command,
                 nodes, base_port, base_port + 2 * nodes - 1);
        return EXIT_USAGE;
    }
    cluster_t *cluster = NULL;
    bool dir_new = access (dir, F_OK) != 0; //  removed again if init fails
    if (ipc) {
        if (s_mkdir (dir) != 0)
            return EXIT_REJECTED;
        char absolute[PATH_MAX];
        if (!realpath (dir, absolute) || strlen (absolute) > 80) {
            fprintf (stderr,
                     "shoal %s: --ipc needs a directory whose full path has at most "
                     "80 bytes (a unix socket's path is short)\n",
                     s_command);
            if (dir_new)
                rmdir (dir); //  made just now, empty: not left behind
            return EXIT_USAGE;
        }
        cluster = cluster_plan_ipc (name, (int) nodes, (int) shards, absolute);
    } else
        cluster = cluster_plan (name, (int) nodes, (int) shards, host, (int) base_port);
    if (cluster && hosts && cluster_hosts_set (s_command, cluster, hosts, (int) base_port) != 0) {
        cluster_destroy (&cluster);
        return EXIT_USAGE;
    }
    if (!cluster) {
        //  --host was checked above (it was asked about, given or not).
        fprintf (stderr,
                 "shoal %s: cannot plan: --name '%s' is not a name ([a-z0-9][a-z0-9_-]{0,31})\n",
                 s_command, name);
        if (ipc && dir_new)
            rmdir (dir);
        return EXIT_USAGE;
    }
    zsys_init ();
    zsys_handler_set (NULL);
    int rc = EXIT_REJECTED;
    zlist_t *kept = NULL; //  --force: the old cluster's files, linked aside
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/cluster.cfg", dir);
    if (!zsys_has_curve ())
        fprintf (stderr, "shoal %s: this libzmq has no CURVE support: no keys to make\n",
                 s_command);
    else if (!force && access (path, F_OK) == 0)
        fprintf (stderr, "shoal %s: %s exists; not overwriting it without --force\n", s_command,
                 path);
    else if (force && cluster_kept_begin (cluster, dir, s_command, &kept) != 0)
        ; //  said
    else if (force && unlink (path) != 0 && errno != ENOENT)
        fprintf (stderr, "shoal %s: cannot remove %s: %s\n", s_command, path, strerror (errno));
    else if (s_mkdir (dir) == 0)
        rc = s_write (cluster, dir); //  cluster.cfg last: it exists only when complete
    if (kept)
        cluster_kept_end (kept, rc == 0, dir, s_command);
    if (rc != 0 && dir_new)
        rmdir (dir); //  if empty: what s_write made is gone
    cluster_destroy (&cluster);
    return rc;
}

//  --------------------------------------------------------------------------
//  rekey

static void s_rekey_help (FILE *out)
{
    fprintf (out, "Usage: shoal cluster rekey [NODE...] [--operator] [--dir DIR]\n\n"
                  "Gives each NODE a new CURVE certificate, DIR/NODE/node.cert and its _secret,\n"
                  "for a node whose secret key was stolen or leaked, and writes the map\n"
                  "DIR/cluster.cfg with the new public keys and the next epoch. The key before\n"
                  "is kept as the node's previous_key, which only its own data directory\n"
                  "reads: at its next start the node takes its store over to the new key. A\n"
                  "node that runs the new map lets no one in with the old key.\n\n"
                  "Then:\n"
                  "  1. copy DIR/cluster.cfg to every node's machine and every client's;\n"
                  "  2. copy DIR/NODE/node.cert and node.cert_secret to NODE's machine alone;\n"
                  "  3. restart every node. Nodes of two epochs refuse each other's links: until\n"
                  "     all run the new map, commands between them wait and are sent again\n"
                  "     (nothing is lost).\n\n"
                  "If it fails, run it again: the certificate is written before the map. Once\n"
                  "it said \"rekeyed\", start the node before rekeying it again: its store\n"
                  "holds the key it was last started with, and only the map's previous_key is\n"
                  "taken over.\n\n"
                  "With --operator, the operator's certificate that `cluster init` made is\n"
                  "replaced: a new DIR/client.cert and its _secret, and a copy of its public\n"
                  "part over each DIR/NAME/operators/client.cert (other certificates there are\n"
                  "left alone). Copy those to each node's operators/: a node reads the\n"
                  "directory again within a second and refuses the old key from then\n"
                  "(key_revoked), with no restart. The map does not change.\n\n"
                  "Exit: 0 written, 1 failed, 2 bad usage.\n\n"
                  "Options:\n"
                  "  --operator  a new operator's certificate (DIR/client.cert)\n"
                  "  --dir DIR   the cluster's directory, as `cluster init` wrote it (default\n"
                  "              ./cluster): DIR/cluster.cfg and DIR/NODE/\n\n"
                  "Examples:\n"
                  "  shoal cluster rekey n2 --dir bank\n"
                  "  shoal cluster rekey n1 n3 --dir /etc/shoal/bank\n"
                  "  shoal cluster rekey --operator --dir bank\n");
}

//  Writes cert's secret part to path_secret, then its public part to
//  path: a cut between them leaves a pair that does not load, which the
//  same command run again replaces. Returns 0 or -1 with a message.
static int s_write_pair (zcert_t *cert, const char *path)
{
    char secret[PATH_MAX + 16];
    snprintf (secret, sizeof secret, "%s_secret", path);
    return s_write_cert (cert, true, secret) == 0 && s_write_cert (cert, false, path) == 0 ? 0 : -1;
}

//  Writes node i's new certificate into DIR/NAME/ (made if missing) and
//  gives it to the map. Returns 0 or -1 with a message printed.
static int s_rekey_node (cluster_t *cluster, int i, const char *dir)
{
    const char *name = cluster_node_name (cluster, i);
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    if (s_mkdir (path) != 0)
        return -1;
    zcert_t *cert = s_new_cert (cluster, "node", name);
    if (!cert)
        return -1;
    snprintf (path, sizeof path, "%s/%s/node.cert", dir, name);
    int rc = s_write_pair (cert, path);
    if (rc == 0 && cluster_rekey (cluster, i, zcert_public_txt (cert)) != 0) {
        fprintf (stderr, "shoal %s: the new key of %s was refused\n", s_command, name);
        rc = -1;
    }
    zcert_destroy (&cert);
    return rc;
}

//  Writes a new operator's certificate, DIR/client.cert and its _secret,
//  and its public part over each DIR/NAME/operators/client.cert. Returns
//  0 or -1 with a message printed.
static int s_rekey_operator (cluster_t *cluster, const char *dir)
{
    zcert_t *cert = s_new_cert (cluster, "operator", NULL);
    if (!cert)
        return -1;
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/client.cert", dir);
    zcert_t *old = access (path, F_OK) == 0 ? zcert_load (path) : NULL;
    int rc = s_write_pair (cert, path);
    if (rc == 0)
        printf ("rekeyed the operator: public key %s (was %s), in %s and its _secret\n",
                zcert_public_txt (cert), old ? zcert_public_txt (old) : "none", path);
    for (int i = 0; rc == 0 && i < cluster_node_count (cluster); i++) {
        const char *name = cluster_node_name (cluster, i);
        snprintf (path, sizeof path, "%s/%s/operators", dir, name);
        rc = s_mkdir (path);
        snprintf (path, sizeof path, "%s/%s/operators/client.cert", dir, name);
        if (rc == 0)
            rc = s_write_cert (cert, false, path);
        if (rc == 0)
            printf ("  wrote %s: copy it to node %s's operators/\n", path, name);
    }
    if (rc == 0)
        s_drop_old_client (cluster, dir, old);
    zcert_destroy (&old);
    zcert_destroy (&cert);
    return rc;
}

static int s_rekey (int argc, char **argv)
{
    s_command = argv[0];
    const char *dir = "cluster";
    bool new_operator = false;
    const option_t table[] = {OPT_STRING ("dir", &dir), OPT_FLAG ("operator", &new_operator),
                              OPT_END};
    int first = options_parse (table, argc, argv, s_rekey_help);
    if (first == OPTIONS_HELP)
        return 0;
    if (first == OPTIONS_ERROR)
        return EXIT_USAGE;
    if (first == argc && !new_operator) {
        fprintf (stderr,
                 "shoal %s: which node? (shoal cluster rekey NODE... --dir DIR, or --operator "
                 "for the operator's certificate)\n",
                 s_command);
        return EXIT_USAGE;
    }
    if (!*dir || strlen (dir) > PATH_MAX - 100) {
        fprintf (stderr, "shoal %s: --dir must be a path of 1 to %d bytes\n", s_command,
                 PATH_MAX - 100);
        return EXIT_USAGE;
    }
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/cluster.cfg", dir);
    cluster_t *cluster = cluster_cmd_load (s_command, path);
    if (!cluster)
        return EXIT_USAGE;
    bool chosen[CLUSTER_MAX_NODES] = {false};
    int rc = 0;
    for (int a = first; rc == 0 && a < argc; a++) {
        int i = cluster_find (cluster, argv[a]);
        if (i < 0 || chosen[i]) {
            fprintf (stderr, "shoal %s: %s '%s' (the nodes of %s:", s_command,
                     i < 0 ? "no node" : "given twice:", argv[a], path);
            for (int j = 0; j < cluster_node_count (cluster); j++)
                fprintf (stderr, " %s", cluster_node_name (cluster, j));
            fprintf (stderr, ")\n");
            rc = EXIT_USAGE;
        } else
            chosen[i] = true;
    }
    zsys_init ();
    zsys_handler_set (NULL);
    if (rc == 0 && !zsys_has_curve ()) {
        fprintf (stderr, "shoal %s: this libzmq has no CURVE support: no keys to make\n",
                 s_command);
        rc = EXIT_REJECTED;
    }
    if (rc == 0 && new_operator && s_rekey_operator (cluster, dir) != 0) {
        fprintf (stderr,
                 "shoal %s: run the same command again: it makes a new operator's "
                 "certificate and writes it everywhere\n",
                 s_command);
        rc = EXIT_REJECTED;
    }
    if (rc || first == argc) { //  no node to rekey: the map stays
        cluster_destroy (&cluster);
        return rc;
    }
    //  Each certificate before the map: a failure between them leaves the
    //  map as it was, and the same command run again makes it right.
    for (int i = 0; rc == 0 && i < cluster_node_count (cluster); i++)
        if (chosen[i] && s_rekey_node (cluster, i, dir) != 0)
            rc = EXIT_REJECTED;
    if (rc == 0 && cluster_set_epoch (cluster, cluster_epoch (cluster) + 1) != 0)
        rc = EXIT_REJECTED;
    char *error = NULL;
    if (rc == 0 && cluster_save (cluster, path, &error) != 0) {
        fprintf (stderr, "shoal %s: %s\n", s_command, error ? error : "out of memory");
        rc = EXIT_REJECTED;
    }
    free (error);
    if (rc == EXIT_REJECTED)
        fprintf (stderr, "shoal %s: %s is as it was; run the same command again\n", s_command,
                 path);
    for (int i = 0; rc == 0 && i < cluster_node_count (cluster); i++)
        if (chosen[i]) //  only now: "rekeyed" is said of what the map names
            printf ("rekeyed %s: public key %s (was %s), in %s/%s/node.cert and its _secret\n",
                    cluster_node_name (cluster, i), cluster_node_key (cluster, i),
                    cluster_node_previous_key (cluster, i), dir, cluster_node_name (cluster, i));
    if (rc == 0)
        printf ("wrote %s: cluster %s, epoch %" PRId64 ", digest %s\n"
                "next: copy %s to every node and client, each rekeyed node's node.cert and "
                "node.cert_secret to its machine, and restart every node\n",
                path, cluster_name (cluster), cluster_epoch (cluster), cluster_digest (cluster),
                path);
    cluster_destroy (&cluster);
    return rc;
}

//  --------------------------------------------------------------------------

int cmd_cluster (int argc, char **argv)
{
    if (argc < 2) {
        s_usage (stderr);
        return EXIT_USAGE;
    }
    if (streq (argv[1], "--help") || streq (argv[1], "-h") || streq (argv[1], "help")) {
        s_usage (stdout);
        return 0;
    }
    static char init[] = "cluster init", up[] = "cluster up",
                rekey[] = "cluster rekey"; //  "shoal cluster up: ..."
    if (streq (argv[1], "init")) {
        argv[1] = init;
        cmd_set_name (init);
        return cluster_init (argc - 1, argv + 1);
    }
    if (streq (argv[1], "status")) {
        cmd_set_name ("cluster status");
        return cluster_status (argc - 1, argv + 1);
    }
    if (streq (argv[1], "rekey")) {
        argv[1] = rekey;
        cmd_set_name (rekey);
        return s_rekey (argc - 1, argv + 1);
    }
    if (streq (argv[1], "up")) {
        argv[1] = up;
        cmd_set_name (up);
        return cluster_up (argc - 1, argv + 1);
    }
    fprintf (stderr, "shoal cluster: unknown subcommand '%s' (init, up, status, rekey)\n\n",
             argv[1]);
    s_usage (stderr);
    return EXIT_USAGE;
}
