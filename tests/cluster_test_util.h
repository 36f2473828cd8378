/*  cluster_test_util.h - the fixture and helpers of test_cluster_map.c and
    test_cluster_files.c: a cluster map written in the test's own directory
    and loaded.

    test_cluster_map.c and test_cluster_files.c: tests of transport/cluster.c (the static cluster
   map) and of `shoal cluster init`, run as a real process ($SHOAL_BIN), each in a fresh temporary
   directory.
*/
#ifndef SHOAL_TESTS_CLUSTER_TEST_UTIL_H
#define SHOAL_TESTS_CLUSTER_TEST_UTIL_H

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

typedef struct {
    char dir[64];   //  the test's temporary directory
    char path[128]; //  dir/cluster.cfg
} fixture_t;

//  Three valid keys; K2 holds a '#' and K3 a '=', which ZPL only keeps in a
//  quoted value.
#define K1 "Oc{kqOK^?FfGrzAJk[&(G^(7m)^JNVXOTP0D%U[t"
#define K2 "g6^*y.#Ff07gaU7)I!3yn*{SW0/T3D8E?sE(!]&4"
#define K3 "f3+[6^}g581%ki]CHS<1[ro-hq.!LKe0AI*u?=Jj"

//  A good file; the bad ones replace one piece of it.
extern const char cluster_good[];

int cluster_setup (void **state);

int cluster_teardown (void **state);

void cluster_write (const char *path, const char *text, size_t size);

//  Returns a copy of text with its first old replaced by new (free()).
char *cluster_replace (const char *text, const char *old, const char *new);

cluster_t *cluster_test_load (const char *path);

//  A valid key from harness_rand: Z85 of 32 random bytes.
void cluster_key (char key[41]);

char *cluster_slurp (const char *path);

#endif
