/*  test_powerloss_repair.c - power cuts in the middle of `shoal repair` and
    `shoal cluster init`: each durable once done. The fixture:
    powerloss_test_util.h.
*/
#include "books.h"
#include "client.h"
#include "cluster.h"
#include "node_child.h"
#include "powerloss_apply.h"
#include "../persistence/journal_internal.h" //  journal_mark_read

#include <czmq.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "powerloss_test_util.h"

//  --------------------------------------------------------------------------
//  `shoal repair` under the preload

//  Runs $SHOAL_BIN with args (NULL-terminated) to its end, with
//  powerloss.c preloaded watching the directory watched (recording into
//  f->pl_log), stdout and stderr to f->log. Returns its exit code.
static int s_run_preloaded (fixture_t *f, const char *watched, ...)
{
    const char *library = getenv ("SHOAL_POWERLOSS");
    assert_non_null (library);
    char *argv[16] = {(char *) getenv ("SHOAL_BIN")};
    int argc = 1;
    va_list args;
    va_start (args, watched);
    for (char *arg = va_arg (args, char *); arg && argc < 15; arg = va_arg (args, char *))
        argv[argc++] = arg;
    va_end (args);
    argv[argc] = NULL;
    const char *old_asan = getenv ("ASAN_OPTIONS");
    char asan[1100];
    snprintf (asan, sizeof asan, "%s%sverify_asan_link_order=0", old_asan ? old_asan : "",
              old_asan && *old_asan ? ":" : "");
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        setenv ("LD_PRELOAD", library, 1);
        setenv ("SHOALPL_DIR", watched, 1);
        setenv ("SHOALPL_LOG", f->pl_log, 1);
        setenv ("ASAN_OPTIONS", asan, 1);
        if (!freopen ("/dev/null", "r", stdin) || !freopen (f->log, "w", stdout) ||
            dup2 (STDOUT_FILENO, STDERR_FILENO) < 0)
            _exit (127);
        execv (argv[0], argv);
        _exit (127);
    }
    int status = 0;
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (waitpid (pid, &status, WNOHANG) == 0) {
        if (zclock_mono () > deadline) {
            kill (pid, SIGKILL);
            waitpid (pid, &status, 0);
            fail_msg ("shoal %s did not end within %d ms (see %s)", argv[1], WAIT_MS, f->log);
        }
        zclock_sleep (10);
    }
    if (WIFSIGNALED (status)) //  as a shell says it
        return 128 + WTERMSIG (status);
    assert_true (WIFEXITED (status));
    return WEXITSTATUS (status);
}

//  The newest file in dir whose name ends with tail, as a path.
static void s_newest_file (const char *dir, const char *tail, char *path, size_t size)
{
    zdir_t *listing = zdir_new (dir, NULL);
    assert_non_null (listing);
    zlist_t *files = zdir_list (listing);
    path[0] = '\0';
    for (zfile_t *file = zlist_first (files); file; file = zlist_next (files)) {
        const char *name = zfile_filename (file, NULL);
        size_t len = strlen (name);
        if (len > strlen (tail) && streq (name + len - strlen (tail), tail) &&
            strcmp (name, path) > 0)
            snprintf (path, size, "%s", name);
    }
    zlist_destroy (&files);
    zdir_destroy (&listing);
    assert_true (path[0]);
}

//  The position dir's SYNCED file holds (0: none), read as the node reads it.
static uint64_t s_synced_mark (const char *dir)
{
    uint64_t mark = 0;
    journal_mark_read (dir, &mark);
    return mark;
}

//  `shoal repair` cut short (SIGKILL, a power cut, Ctrl-C on a long table
//  scan) after LevelDB's repair moved the logs to lost/, their records
//  copied into a table, and before it wrote its MANIFEST: CURRENT still
//  named the old MANIFEST, whose log was gone, so a node started there
//  opened the store without the log (and deleted the new table, which no
//  MANIFEST names): 300 acknowledged deposits gone, without a word. Now
//  CURRENT goes (synced) before LevelDB's repair runs: the node refuses the
//  store until a repair ends, and that repair keeps every deposit. And it
//  says how far the node had made its log durable: the first run had
//  taken SYNCED away, and the rerun said nothing of what was acknowledged.
static void test_repair_cut_short (void **state)
{
    fixture_t *f = *state;
    powerloss_name_round (f, "repair-cut");
    powerloss_start (f, "sync", false);
    powerloss_command (f, "Open", "owner=powerloss");
    for (int i = 0; i < 300; i++)
        if (powerloss_command (f, "Deposit", "amount=1"))
            f->acked++;
    //  The node's SYNCED mark, which follows within a second, covers them.
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (s_synced_mark (f->data) < 301 && zclock_mono () < deadline)
        zclock_sleep (20); //  between two reads of the mark, within the deadline
    assert_true (s_synced_mark (f->data) >= 301);
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGKILL); //  the deposits are in the log alone
    //  A record whose checksum is wrong appended to the log: the node
    //  refuses the store, and LevelDB's repair drops that record alone
    //  (its 8 bytes are too small for a batch): every deposit is kept.
    char log[600];
    s_newest_file (f->data, ".log", log, sizeof log);
    int fd = open (log, O_WRONLY | O_APPEND);
    assert_true (fd >= 0);
    const uint8_t bad[15] = {0xde, 0xad, 0xbe, 0xef, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal (write (fd, bad, sizeof bad), (ssize_t) sizeof bad);
    close (fd);
    int rc = node_child_start (&f->node, getenv ("SHOAL_BIN"), f->data, f->endpoint, NULL, f->log,
                               WAIT_MS);
    assert_int_not_equal (rc, 0);

    //  The repair, killed before it sets the old MANIFEST aside.
    setenv ("SHOALPL_KILL_BEFORE_RENAME", "lost/MANIFEST", 1);
    int code = s_run_preloaded (f, f->data, "repair", "--data", f->data, "--yes", NULL);
    unsetenv ("SHOALPL_KILL_BEFORE_RENAME");
    assert_int_equal (code, 128 + SIGKILL);
    char lost[400];
    snprintf (lost, sizeof lost, "%s/lost", f->data);
    assert_int_equal (access (lost, F_OK), 0); //  it had set the log aside

    //  A node started now must refuse the store.
    rc = node_child_start (&f->node, getenv ("SHOAL_BIN"), f->data, f->endpoint, NULL, f->log,
                           WAIT_MS);
    if (rc == 0) {
        node_child_stop (&f->node, SIGTERM);
        fail_msg ("a node started on a store whose repair was cut short: balance %lld of %lld "
                  "acknowledged",
                  (long long) powerloss_dir_balance (f->data), (long long) f->acked);
    }
    //  The repair again, to its end: what a repair never cut short keeps.
    code = s_run_preloaded (f, f->data, "repair", "--data", f->data, "--yes", NULL);
    if (code != 0)
        fail_msg ("shoal repair exited %d (see %s)", code, f->log);
    //  It still knows how far the node had made its log durable: the
    //  first run had taken SYNCED away (it said nothing of it).
    FILE *said = fopen (f->log, "r");
    assert_non_null (said);
    char line[2048];
    bool marked = false;
    while (fgets (line, sizeof line, said))
        marked = marked || strstr (line, "had made it durable up to 301 (SYNCED)");
    fclose (said);
    if (!marked)
        fail_msg ("the repair run again did not say how far the log was durable (see %s)", f->log);
    char kept[600]; //  and, ended, it kept no mark for another
    snprintf (kept, sizeof kept, "%s/SYNCED.repair", f->data);
    assert_int_not_equal (access (kept, F_OK), 0);
    int64_t repaired = powerloss_dir_balance (f->data);
    print_message ("repair cut short, then run again: balance %lld of %lld acknowledged\n",
                   (long long) repaired, (long long) f->acked);
    assert_int_equal (f->acked, 300);
    assert_int_equal (repaired, f->acked);
}

//  A store with a damaged table is repaired (LevelDB copies the table's
//  good records into a new file and renames it over the old), then the
//  power is cut: what the repair left must all be on disk, as it says
//  "repaired" when it is done. Without its syncs, the cut empties the
//  copied table, which the store by then names, and the deposits in it
//  are gone (or the store does not open).
static void test_repair_is_durable (void **state)
{
    fixture_t *f = *state;
    powerloss_name_round (f, "repair");
    powerloss_start (f, "sync", false);
    powerloss_command (f, "Open", "owner=powerloss");
    for (int i = 0; i < 300; i++)
        if (powerloss_command (f, "Deposit", "amount=1"))
            f->acked++;
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGTERM);
    //  Opened again, the store turns its log into a table file (.ldb)
    powerloss_start (f, "sync", false);
    client_destroy (&f->client);
    node_child_stop (&f->node, SIGTERM);

    //  16 bytes flipped in the middle of the table
    char table[600];
    s_newest_file (f->data, ".ldb", table, sizeof table);
    int fd = open (table, O_RDWR);
    assert_true (fd >= 0);
    off_t size = lseek (fd, 0, SEEK_END);
    assert_true (size > 4096);
    uint8_t bytes[16];
    assert_int_equal (pread (fd, bytes, sizeof bytes, size / 2), (ssize_t) sizeof bytes);
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] ^= 0xff;
    assert_int_equal (pwrite (fd, bytes, sizeof bytes, size / 2), (ssize_t) sizeof bytes);
    assert_int_equal (fsync (fd), 0);
    close (fd);

    int code = s_run_preloaded (f, f->data, "repair", "--data", f->data, "--yes", NULL);
    if (code != 0 && code != 1)
        fail_msg ("shoal repair exited %d (see %s)", code, f->log);
    //  The store as the repair left it, copied aside (the cut's own
    //  DIR.before-cut shares the cut files' inodes)
    char repaired_dir[400], copy[900];
    snprintf (repaired_dir, sizeof repaired_dir, "%s.repaired", f->data);
    snprintf (copy, sizeof copy, "cp -a '%s' '%s'", f->data, repaired_dir);
    assert_int_equal (system (copy), 0);
    powerloss_stats_t stats;
    if (powerloss_apply (f->data, f->pl_log, &stats, f->report, sizeof f->report) != 0)
        fail_msg ("the cut failed: %s", f->report);
    print_message ("repair: cut: %d files kept (%d restored), %d vanished, %lld bytes dropped, "
                   "after %d syncs and %d dirsyncs\n%s",
                   stats.kept, stats.restored, stats.vanished, stats.bytes_cut, stats.syncs,
                   stats.dirsyncs, f->report);
    if (stats.syncs == 0)
        fail_msg ("the preload saw no sync: it did not interpose the repair's calls (see %s)",
                  f->pl_log);
    assert_int_equal (stats.overwrites, 0);

    //  The store as the repair left it, and the same store after the cut
    int64_t repaired = powerloss_dir_balance (repaired_dir);
    int64_t cut = powerloss_dir_balance (f->data);
    print_message ("repair: %lld deposits acknowledged, balance %lld after the repair, %lld "
                   "after the cut\n",
                   (long long) f->acked, (long long) repaired, (long long) cut);
    assert_true (repaired > 0); //  the table lost a block, not everything
    assert_true (repaired <= f->acked);
    if (cut != repaired)
        fail_msg ("the repair left balance %lld, the cut after it %lld: the repair's writes "
                  "were not all synced",
                  (long long) repaired, (long long) cut);
}

//  --------------------------------------------------------------------------
//  `shoal cluster init` under the preload

//  The certificates and the map `shoal cluster init` says it wrote are
//  all there after a cut: each node's certificate with the key the map
//  gives it, its secret, the client's certificate it authorizes. Its
//  directory is two levels below the one the cut sees, made by the
//  command: nothing it writes there syncs the top, so the directories
//  are there only if their making was synced (common/dirsync.c).
static void test_cluster_init_is_durable (void **state)
{
    fixture_t *f = *state;
    char root[320], dir[360], path[440];
    snprintf (root, sizeof root, "%s/cluster", f->dir);
    assert_int_equal (mkdir (root, 0700), 0);
    snprintf (dir, sizeof dir, "%s/deploy/cluster", root);
    snprintf (f->pl_log, sizeof f->pl_log, "%s/powerloss-cluster.log", f->dir);
    snprintf (f->log, sizeof f->log, "%s/cluster-init.txt", f->dir);
    int code = s_run_preloaded (f, root, "cluster", "init", "--nodes", "2", "--dir", dir, NULL);
    if (code != 0)
        fail_msg ("shoal cluster init exited %d (see %s)", code, f->log);
    powerloss_stats_t stats;
    if (powerloss_apply (root, f->pl_log, &stats, f->report, sizeof f->report) != 0)
        fail_msg ("the cut failed: %s", f->report);
    print_message ("cluster init: cut: %d files kept, %d vanished, %lld bytes dropped, after %d "
                   "syncs and %d dirsyncs\n%s",
                   stats.kept, stats.vanished, stats.bytes_cut, stats.syncs, stats.dirsyncs,
                   f->report);
    if (stats.syncs == 0)
        fail_msg ("the preload saw no sync: it did not interpose the command's calls");

    snprintf (path, sizeof path, "%s/cluster.cfg", dir);
    char *error = NULL;
    cluster_t *cluster = cluster_load (path, &error);
    if (!cluster)
        fail_msg ("the map after the cut: %s", error ? error : "");
    assert_int_equal (cluster_node_count (cluster), 2);
    snprintf (path, sizeof path, "%s/client.cert", dir);
    zcert_t *client = zcert_load (path);
    if (!client)
        fail_msg ("%s is lost or damaged after the cut", path);
    for (int i = 0; i < 2; i++) {
        const char *name = cluster_node_name (cluster, i);
        const char *tails[] = {"node.cert", "node.cert_secret", "operators/client.cert"};
        zcert_t *certs[3];
        for (int t = 0; t < 3; t++) {
            snprintf (path, sizeof path, "%s/%s/%s", dir, name, tails[t]);
            if (!(certs[t] = zcert_load (path)))
                fail_msg ("%s is lost or damaged after the cut", path);
        }
        assert_string_equal (zcert_public_txt (certs[0]), cluster_node_key (cluster, i));
        assert_string_equal (zcert_public_txt (certs[1]), cluster_node_key (cluster, i));
        assert_string_not_equal (zcert_secret_txt (certs[1]),
                                 "0000000000000000000000000000000000000000");
        assert_string_equal (zcert_public_txt (certs[2]), zcert_public_txt (client));
        for (int t = 0; t < 3; t++)
            zcert_destroy (&certs[t]);
    }
    zcert_destroy (&client);
    cluster_destroy (&cluster);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_repair_is_durable, powerloss_setup,
                                         powerloss_teardown),
        cmocka_unit_test_setup_teardown (test_repair_cut_short, powerloss_setup,
                                         powerloss_teardown),
        cmocka_unit_test_setup_teardown (test_cluster_init_is_durable, powerloss_setup,
                                         powerloss_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
