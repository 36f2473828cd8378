/*  cluster_test_util.c - what test_cluster_map.c and test_cluster_files.c share
 * (cluster_test_util.h says what each is).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cluster.h"
#include "harness.h"
#include <czmq.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster_test_util.h"

const char cluster_good[] = "# a hand-written map\n"
                            "cluster\n"
                            "    name = bank\n"
                            "    shards = 16\n"
                            "    epoch = 1\n"
                            "node\n"
                            "    n1\n"
                            "        client = tcp://127.0.0.1:7700\n"
                            "        peer = tcp://127.0.0.1:7701\n"
                            "        public_key = \"" K1 "\"\n"
                            "        shards = 0-5\n"
                            "    n2\n"
                            "        client = tcp://127.0.0.1:7702\n"
                            "        peer = tcp://127.0.0.1:7703\n"
                            "        public_key = \"" K2 "\"   # n2's\n"
                            "        shards = 6-10\n"
                            "    n3\n"
                            "        client = ipc://n3.ipc\n"
                            "        peer = tcp://127.0.0.1:7705\n"
                            "        public_key = '" K3 "'\n"
                            "        shards = 11,12-13,14-15\n";

int cluster_setup (void **state)
{
    fixture_t *f = calloc (1, sizeof *f);
    assert_non_null (f);
    harness_tempdir (f->dir, sizeof f->dir, "cluster");
    snprintf (f->path, sizeof f->path, "%s/cluster.cfg", f->dir);
    *state = f;
    return 0;
}

int cluster_teardown (void **state)
{
    fixture_t *f = *state;
    harness_rm_rf (f->dir);
    free (f);
    return 0;
}

void cluster_write (const char *path, const char *text, size_t size)
{
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    assert_int_equal (fwrite (text, 1, size, file), size);
    assert_int_equal (fclose (file), 0);
}

char *cluster_replace (const char *text, const char *old, const char *new)
{
    const char *at = strstr (text, old);
    if (!at)
        fail_msg ("'%s' is not in the text", old);
    size_t head = (size_t) (at - text);
    char *copy = malloc (strlen (text) - strlen (old) + strlen (new) + 1);
    assert_non_null (copy);
    memcpy (copy, text, head);
    strcpy (copy + head, new);
    strcat (copy, at + strlen (old));
    return copy;
}

cluster_t *cluster_test_load (const char *path)
{
    char *error = NULL;
    cluster_t *cluster = cluster_load (path, &error);
    if (!cluster)
        fail_msg ("%s", error);
    assert_null (error);
    return cluster;
}

void cluster_key (char key[41])
{
    uint8_t bytes[32];
    for (int i = 0; i < 32; i++)
        bytes[i] = (uint8_t) harness_rand ();
    assert_non_null (zmq_z85_encode (key, bytes, 32));
}

char *cluster_slurp (const char *path)
{
    char *text = NULL;
    zfile_t *file = zfile_new (NULL, path);
    assert_non_null (file);
    assert_int_equal (zfile_input (file), 0);
    zchunk_t *chunk = zfile_read (file, zfile_cursize (file), 0);
    assert_non_null (chunk);
    text = strndup ((const char *) zchunk_data (chunk), zchunk_size (chunk));
    zchunk_destroy (&chunk);
    zfile_destroy (&file);
    return text;
}
