/*  test_threadname.c - common/threadname.h on this process's own threads:
    a thread names itself "shoal-parent" and starts a child, which takes
    its name (as LevelDB's compaction thread takes a worker's);
    thread_name_strays renames the child and leaves alone the parent, a
    sibling that named itself "shoal-parent" too (two nodes in one
    process), the main thread, given that name without thread_name, and
    names of another prefix.
*/
#include "threadname.h"

#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t moved;
    int step;    //  1: both threads up; 2: may end
    long tid[2]; //  parent's, child's
} family_t;

static void s_set (family_t *family, int step)
{
    pthread_mutex_lock (&family->lock);
    family->step = step;
    pthread_cond_broadcast (&family->moved);
    pthread_mutex_unlock (&family->lock);
}

static void s_wait (family_t *family, int step)
{
    pthread_mutex_lock (&family->lock);
    while (family->step < step)
        pthread_cond_wait (&family->moved, &family->lock);
    pthread_mutex_unlock (&family->lock);
}

static void *s_child (void *arg)
{
    family_t *family = arg;
    family->tid[1] = (long) syscall (SYS_gettid);
    s_set (family, 1);
    s_wait (family, 2);
    return NULL;
}

static void *s_parent (void *arg)
{
    family_t *family = arg;
    thread_name ("shoal-%s", "parent");
    family->tid[0] = (long) syscall (SYS_gettid);
    pthread_t child;
    if (pthread_create (&child, NULL, s_child, family) == 0)
        pthread_join (child, NULL);
    return NULL;
}

static long s_sibling_tid;

static void *s_sibling (void *arg)
{
    family_t *family = arg;
    thread_name ("shoal-parent");
    __atomic_store_n (&s_sibling_tid, (long) syscall (SYS_gettid), __ATOMIC_SEQ_CST);
    s_wait (family, 2);
    return NULL;
}

static void s_comm (long tid, char name[32])
{
    char path[64];
    snprintf (path, sizeof path, "/proc/self/task/%ld/comm", tid);
    FILE *file = fopen (path, "r");
    assert_non_null (file);
    assert_non_null (fgets (name, 32, file));
    fclose (file);
    name[strcspn (name, "\n")] = 0;
}

static void test_strays_renamed (void **state)
{
    (void) state;
    family_t family = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {0, 0}};
    pthread_setname_np (pthread_self (), "shoal-parent");
    pthread_t parent, sibling;
    assert_int_equal (pthread_create (&parent, NULL, s_parent, &family), 0);
    s_wait (&family, 1);
    assert_int_equal (pthread_create (&sibling, NULL, s_sibling, &family), 0);
    while (!__atomic_load_n (&s_sibling_tid, __ATOMIC_SEQ_CST))
        sched_yield ();
    char name[32], main_before[32], main_after[32];
    s_comm (family.tid[1], name);
    assert_string_equal (name, "shoal-parent"); //  inherited
    s_comm ((long) getpid (), main_before);

    //  Another prefix: nothing renamed.
    assert_false (thread_name_strays ("other", "shoal-twin"));
    s_comm (family.tid[1], name);
    assert_string_equal (name, "shoal-parent");

    assert_true (thread_name_strays ("shoal", "shoal-twin"));
    s_comm (family.tid[1], name);
    assert_string_equal (name, "shoal-twin");
    s_comm (family.tid[0], name);
    assert_string_equal (name, "shoal-parent");
    s_comm ((long) getpid (), main_after);
    assert_string_equal (main_after, main_before);
    s_comm (s_sibling_tid, name);
    assert_string_equal (name, "shoal-parent");
    //  No twin left: a second look renames nothing.
    assert_false (thread_name_strays ("shoal", "shoal-twin"));

    s_set (&family, 2);
    pthread_join (parent, NULL);
    pthread_join (sibling, NULL);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_strays_renamed),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
