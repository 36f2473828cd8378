/*  fuzz_config.c - libFuzzer target: the config file readers
    (transport/zplfile.c zplfile_load, then transport/cluster.c
    cluster_load) over arbitrary file contents, written to a file of the
    process's own in $TMPDIR (default /tmp; /dev/shm is faster).

    Properties: a refused file always comes with a message naming the path;
    a loaded cluster map answers its accessors for every node.
*/
#include "cluster.h"
#include "zplfile.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap ();                                                                     \
    } while (0)

static char s_path[256];

static void s_remove (void)
{
    unlink (s_path);
}

//  Writes the input to this process's file. False if it could not.
static bool s_write (const uint8_t *data, size_t size)
{
    if (!s_path[0]) {
        const char *dir = getenv ("TMPDIR");
        if (access ("/dev/shm", W_OK) == 0)
            dir = "/dev/shm";
        snprintf (s_path, sizeof s_path, "%s/shoal-fuzz-config-%d.cfg", dir ? dir : "/tmp",
                  (int) getpid ());
        atexit (s_remove);
        zsys_set_logstream (NULL); //  zconfig logs what it refuses: keep the run quiet
    }
    int fd = open (s_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return false;
    bool ok = write (fd, data, size) == (ssize_t) size;
    close (fd);
    return ok;
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (!s_write (data, size))
        return 0;
    char *error = NULL;
    zconfig_t *root = zplfile_load (s_path, 1024, &error);
    if (root)
        zconfig_destroy (&root);
    else
        CHECK (error && strncmp (error, s_path, strlen (s_path)) == 0);
    free (error);
    error = NULL;
    cluster_t *cluster = cluster_load (s_path, &error);
    if (cluster) {
        CHECK (cluster_node_count (cluster) > 0);
        for (int i = 0; i < cluster_node_count (cluster); i++) {
            CHECK (cluster_node_name (cluster, i) && cluster_node_client (cluster, i));
            free (cluster_node_ranges (cluster, i));
        }
        for (uint32_t shard = 0; shard < cluster_shards (cluster); shard++)
            CHECK (cluster_owner (cluster, shard) >= 0);
        cluster_destroy (&cluster);
    } else
        CHECK (error != NULL);
    free (error);
    return 0;
}
