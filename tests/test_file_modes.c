/*  test_file_modes.c - process tests of what a node's files let other
    local users do: a real `shoal node` on ipc://DIR/node.ipc with its data
    in DIR/data, DIR opened to everyone (0755, as /var/lib or /run are).

    Its data directory is 0700 and no file in it is readable by others (the
    journal holds every event and the reactions' salt); the ipc endpoint's
    lock file is 0600 (a user who can open it can flock it and keep the
    node off its endpoint; one who can open data/LOCK can lockf it and keep
    the node from starting). Run as root, a child as user nobody tries
    both. A data directory left open to others is warned about at start.
    What is at the endpoint's path is replaced only if it is a socket
    nobody listens on: a file, a directory, a symbolic link or another
    program's live socket is refused and left as it was. A data
    directory's path too long to name the files beside the store is
    refused before anything is made. `shoal repair`, which rewrites the
    store's tables, makes them as private as the node does.

    ctest sets SHOAL_BIN. Each test has its own temporary directory
    (proc.h); the teardown kills the node and removes it.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"
#include "proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static int s_setup (void **state)
{
    proc_t *p = proc_new ("modes");
    assert_int_equal (chmod (p->dir, 0755), 0); //  a directory others may enter
    *state = p;
    return 0;
}

static int s_teardown (void **state)
{
    proc_t *p = *state;
    proc_destroy (&p);
    return 0;
}

static void s_start (proc_t *p)
{
    proc_node_start (p, "\"$SHOAL\" node --endpoint \"$E\" --data \"$DIR/data\" --workers 1 "
                        "--metrics off");
}

//  The permission bits of path; fails the test if it is missing.
static unsigned s_mode (const char *path)
{
    struct stat st;
    if (lstat (path, &st) != 0)
        fail_msg ("%s: %s", path, strerror (errno));
    return (unsigned) (st.st_mode & 07777);
}

//  As user nobody (in a child; the test runs as root): opens path read-
//  only and takes lock on it ('f' flock, 'l' a shared fcntl lock, as
//  lockf readers do). Returns the errno of the first step that failed,
//  0 if it got the lock.
static int s_as_nobody (const char *path, char lock)
{
    struct passwd *nobody = getpwnam ("nobody");
    assert_non_null (nobody);
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        if (setgid (nobody->pw_gid) != 0 || setuid (nobody->pw_uid) != 0)
            _exit (255);
        int fd = open (path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            _exit (errno);
        struct flock shared = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
        int rc = lock == 'f' ? flock (fd, LOCK_SH | LOCK_NB) : fcntl (fd, F_SETLK, &shared);
        _exit (rc == 0 ? 0 : errno);
    }
    int status;
    assert_int_equal (waitpid (pid, &status, 0), pid);
    assert_true (WIFEXITED (status) && WEXITSTATUS (status) != 255);
    return WEXITSTATUS (status);
}

//  --------------------------------------------------------------------------
//  1. A node on a fresh directory: data/ 0700, nothing in it open to
//     others, the endpoint's lock file 0600; as nobody, neither data/LOCK
//     nor node.ipc.lock can be opened (before: 0755 and 0644, and nobody's
//     lock made a restart refuse the store and the endpoint).

//  Fails unless no file in directory path is open to others; returns how
//  many there are.
static int s_assert_private_files (const char *path)
{
    DIR *dir = opendir (path);
    assert_non_null (dir);
    int files = 0;
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        if (entry->d_name[0] == '.')
            continue;
        char file[PATH_MAX + 256];
        snprintf (file, sizeof file, "%s/%s", path, entry->d_name);
        if (s_mode (file) & 077)
            fail_msg ("%s is mode %04o: others may read it", file, s_mode (file));
        files++;
    }
    closedir (dir);
    return files;
}

static void test_fresh_node_files_are_private (void **state)
{
    proc_t *p = *state;
    s_start (p);
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/data", p->dir);
    assert_int_equal (s_mode (path), 0700);
    assert_true (s_assert_private_files (path) >= 4); //  LOCK, CURRENT, MANIFEST-*, a log, ...
    snprintf (path, sizeof path, "%s/node.ipc.lock", p->dir);
    assert_int_equal (s_mode (path), 0600);
    //  The socket itself follows the node's umask (077): its user's alone.
    snprintf (path, sizeof path, "%s/node.ipc", p->dir);
    assert_int_equal (s_mode (path) & 077, 0);

    if (geteuid () != 0) {
        print_message ("not root: the attempts as user nobody are skipped\n");
        return;
    }
    snprintf (path, sizeof path, "%s/data/LOCK", p->dir);
    assert_int_equal (s_as_nobody (path, 'l'), EACCES);
    snprintf (path, sizeof path, "%s/node.ipc.lock", p->dir);
    assert_int_equal (s_as_nobody (path, 'f'), EACCES);
    //  So a restart takes both again.
    proc_node_signal (p, SIGTERM);
    s_start (p);
}

//  --------------------------------------------------------------------------
//  2. A data directory and a lock file an older node left open (0755,
//     0644): the node warns of the directory at every start, naming the
//     remedy, and narrows its lock file to 0600.

static void test_open_data_dir_is_warned (void **state)
{
    proc_t *p = *state;
    char data[256], lock[256], log[PROC_OUTPUT_MAX];
    snprintf (data, sizeof data, "%s/data", p->dir);
    snprintf (lock, sizeof lock, "%s/node.ipc.lock", p->dir);
    assert_int_equal (mkdir (data, 0755), 0);
    assert_int_equal (chmod (data, 0755), 0);
    int fd = open (lock, O_WRONLY | O_CREAT | O_EXCL, 0644);
    assert_true (fd >= 0);
    close (fd);
    assert_int_equal (chmod (lock, 0644), 0);
    s_start (p);
    proc_read (p, "node.log", log);
    char said[1024];
    snprintf (said, sizeof said,
              "WARN shoal node: data directory %s is mode 0755: other users may read its "
              "journal or lock its files and keep the node from starting. Run: chmod 700 %s",
              data, data);
    proc_assert_has (log, said);
    assert_int_equal (s_mode (lock), 0600);
    proc_node_signal (p, SIGTERM);

    //  Once narrowed, nothing is said.
    assert_int_equal (chmod (data, 0700), 0);
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/node.log", p->dir);
    unlink (path);
    s_start (p);
    proc_read (p, "node.log", log);
    assert_null (strstr (log, "is mode 0"));
}

//  3. The endpoint's path holds something that is not a dead socket:
//     libzmq's bind unlinked it (a user's file given by mistake as
//     --endpoint ipc://FILE was gone, a socket in its place; another
//     program's live socket was taken over). Each is refused with exit 1,
//     saying what is there, and left as it was; a socket whose listener is
//     gone (a crashed node's) is replaced, as before.

//  The address of the unix socket at path.
static struct sockaddr_un s_unix_address (const char *path)
{
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    assert_true (strlen (path) < sizeof address.sun_path);
    memcpy (address.sun_path, path, strlen (path) + 1);
    return address;
}

//  A unix stream socket bound at path, listening with backlog; with keep
//  false, closed at once (its file stays: a dead socket). Returns its
//  descriptor (-1 once closed).
static int s_unix_socket (const char *path, int backlog, bool keep)
{
    struct sockaddr_un address = s_unix_address (path);
    int fd = socket (AF_UNIX, SOCK_STREAM, 0);
    assert_true (fd >= 0);
    assert_int_equal (bind (fd, (struct sockaddr *) &address, sizeof address), 0);
    assert_int_equal (listen (fd, backlog), 0);
    if (keep)
        return fd;
    close (fd);
    return -1;
}

//  Connects a non-blocking socket, *fd, to the unix socket at path (the
//  caller closes it). Returns whether the connect was accepted at once.
static bool s_connect (const char *path, int *fd)
{
    struct sockaddr_un address = s_unix_address (path);
    *fd = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true (*fd >= 0);
    return connect (*fd, (struct sockaddr *) &address, sizeof address) == 0;
}

//  Whether a connect to the unix socket at path is accepted.
static bool s_connects (const char *path)
{
    int fd;
    bool ok = s_connect (path, &fd);
    close (fd);
    return ok;
}

//  Starts a node on ipc://path; fails the test unless it exits 1 before
//  its ready line, its log saying said.
static void s_refused_on (proc_t *p, const char *path, const char *said)
{
    int status = 0;
    char log[PROC_OUTPUT_MAX];
    if (proc_node_try_start (p, &status,
                             "\"$SHOAL\" node --endpoint 'ipc://%s' --data \"$DIR/data\" "
                             "--workers 1 --metrics off",
                             path))
        fail_msg ("a node started on %s", path);
    proc_read (p, "node.log", log);
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 1 || !strstr (log, said))
        fail_msg ("on %s: status %d, expected exit 1 saying '%s': %s", path, status, said, log);
}

static void test_endpoint_path_not_ours (void **state)
{
    proc_t *p = *state;
    char path[256], kept[PROC_OUTPUT_MAX], said[512];

    snprintf (path, sizeof path, "%s/precious.txt", p->dir);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fputs ("precious\n", file);
    fclose (file);
    snprintf (said, sizeof said, "%s is there and is not a socket (a file)", path);
    s_refused_on (p, path, said);
    proc_read_file (path, kept);
    assert_string_equal (kept, "precious\n");

    snprintf (path, sizeof path, "%s/adir", p->dir);
    assert_int_equal (mkdir (path, 0700), 0);
    snprintf (said, sizeof said, "%s is there and is not a socket (a directory)", path);
    s_refused_on (p, path, said);
    struct stat st;
    assert_int_equal (lstat (path, &st), 0);
    assert_true (S_ISDIR (st.st_mode));

    snprintf (path, sizeof path, "%s/other.sock", p->dir);
    int other = s_unix_socket (path, 4, true);
    snprintf (said, sizeof said, "another program listens on %s", path);
    s_refused_on (p, path, said);
    assert_true (s_connects (path)); //  still the other program's
    close (other);

    //  A listener that accepts nothing, its backlog full: a blocking
    //  probe waited for ever (the node hung at its start).
    snprintf (path, sizeof path, "%s/hung.sock", p->dir);
    int hung = s_unix_socket (path, 0, true);
    int waiting[8], queued = 0;
    while (queued < 8 && s_connect (path, &waiting[queued++]))
        ; //  until EAGAIN: the backlog is full
    snprintf (said, sizeof said, "another program listens on %s", path);
    s_refused_on (p, path, said);
    for (int i = 0; i < queued; i++)
        close (waiting[i]);
    close (hung);

    //  Its listener gone, the socket file is a dead one: the node takes it.
    snprintf (path, sizeof path, "%s/dead.sock", p->dir);
    s_unix_socket (path, 4, false);
    assert_false (s_connects (path));
    proc_node_start (p,
                     "\"$SHOAL\" node --endpoint 'ipc://%s' --data \"$DIR/data\" --workers 1 "
                     "--metrics off",
                     path);
    char out[PROC_OUTPUT_MAX];
    assert_int_equal (
        proc_run (p, out, NULL, "\"$SHOAL\" get --endpoint 'ipc://%s' account/x", path), 0);
    proc_node_signal (p, SIGTERM);
}

//  4. A data directory's path past 3,072 bytes: the names of the files
//     beside the store were cut to fit (a path of 4,079 bytes made
//     "projection-appl"); the start is refused, saying so, and makes
//     nothing.
static void test_data_path_too_long (void **state)
{
    proc_t *p = *state;
    char data[3200], out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    int len = snprintf (data, sizeof data, "%s/", p->dir);
    while (len < 3080)
        len += snprintf (data + len, sizeof data - (size_t) len, "d/");
    assert_int_equal (setenv ("LONG_DATA", data, 1), 0); //  past proc_run's room for a line
    int code = proc_run (p, out, err,
                         "timeout 30 \"$SHOAL\" node --endpoint \"$E\" --data \"$LONG_DATA\" "
                         "--workers 1 --metrics off");
    unsetenv ("LONG_DATA");
    char said[128];
    snprintf (said, sizeof said, "the data directory's path is %d bytes, past 3072", len);
    if (code != 1 || !strstr (err, said))
        fail_msg ("exit %d, stderr: %s", code, err);
    char first[PATH_MAX];
    snprintf (first, sizeof first, "%s/d", p->dir);
    assert_int_not_equal (access (first, F_OK), 0);
}

//  5. `shoal repair` rewrites every table of a store: its files are as
//     private as the node's, whatever the umask of the shell it runs
//     from (they were 0644 under the usual 022: only the node set 077);
//     and it refuses another user's store (root's 0600 tables there
//     would keep its node out).
static void test_repair_files_are_private (void **state)
{
    proc_t *p = *state;
    s_start (p);
    char out[PROC_OUTPUT_MAX], err[PROC_OUTPUT_MAX];
    assert_int_equal (proc_run (p, out, NULL,
                                "\"$SHOAL\" send --endpoint \"$E\" account/x Open "
                                "owner=x"),
                      0);
    proc_node_signal (p, SIGTERM);
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/data", p->dir);
    //  Another user's store (here nobody's, as root) is refused, changed
    //  in nothing: its tables would be root's alone, the node's unreadable.
    struct passwd *nobody = getpwnam ("nobody");
    assert_non_null (nobody);
    char lock[PATH_MAX + 8];
    snprintf (lock, sizeof lock, "%s/LOCK", path);
    struct stat before;
    assert_int_equal (stat (path, &before), 0);
    if (chown (path, nobody->pw_uid, nobody->pw_gid) == 0 &&
        chown (lock, nobody->pw_uid, nobody->pw_gid) == 0 && geteuid () != nobody->pw_uid) {
        int code = proc_run (p, out, err, "\"$SHOAL\" repair --data \"$DIR/data\" --yes");
        if (code != 2 || !strstr (err, "belongs to user nobody") ||
            !strstr (err, "nothing was changed"))
            fail_msg ("repair of nobody's store exited %d: %s%s", code, out, err);
        //  A node started on it by hand, as root (a one-off --restored
        //  start of the service's store): refused likewise, no file of
        //  root's left there (its CURRENT and MANIFEST, root's 0600, kept
        //  the service's node out: a restart loop, an SRE's review).
        assert_int_equal (proc_run (p, out, err, "chown -R nobody \"$DIR/data\""), 0);
        code = proc_run (p, out, err,
                         "\"$SHOAL\" node --data \"$DIR/data\" --endpoint \"$E\" --metrics off");
        if (code == 0 || !strstr (err, "belongs to user nobody") ||
            !strstr (err, "Start it as that user") || !strstr (err, "nothing was changed"))
            fail_msg ("a node as root on nobody's store exited %d: %s%s", code, out, err);
        code = proc_run (p, out, err, "find \"$DIR/data\" -user root ! -path \"$DIR/data\"");
        if (code != 0 || out[0])
            fail_msg ("files of root's in nobody's store after a refused start: %s", out);
        assert_int_equal (proc_run (p, out, err, "chown -R root \"$DIR/data\""), 0);
        //  An empty directory of nobody's (a --new-store start): the same,
        //  and it stays empty.
        code = proc_run (p, out, err,
                         "mkdir \"$DIR/empty\" && chown nobody \"$DIR/empty\" && \"$SHOAL\" "
                         "node --data \"$DIR/empty\" --endpoint \"$E\" --metrics off");
        if (code == 0 || !strstr (err, "belongs to user nobody"))
            fail_msg ("a node as root in nobody's empty directory exited %d: %s%s", code, out, err);
        assert_int_equal (proc_run (p, out, err, "ls -A \"$DIR/empty\""), 0);
        if (out[0])
            fail_msg ("files left in nobody's empty directory after a refused start: %s", out);
        assert_int_equal (chown (path, before.st_uid, before.st_gid), 0);
        assert_int_equal (chown (lock, before.st_uid, before.st_gid), 0);
    } else
        fail_msg ("cannot give %s to nobody: %s", path, strerror (errno));
    int code = proc_run (p, out, err, "umask 022 && \"$SHOAL\" repair --data \"$DIR/data\" --yes");
    if (code != 0 || !strstr (out, "repaired"))
        fail_msg ("repair exited %d: %s%s", code, out, err);
    assert_true (s_assert_private_files (path) >= 4);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_fresh_node_files_are_private, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_open_data_dir_is_warned, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_endpoint_path_not_ours, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_data_path_too_long, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_repair_files_are_private, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
