/*  powerloss.c - an LD_PRELOAD library that records what a process made
    durable in one directory, so that a power cut can be simulated after
    it is killed (tests/powerloss_apply.c, tests/test_powerloss_*.c).

    Loaded into `shoal node` with $SHOALPL_DIR (the data directory, as an
    absolute path: the node must be given the same string) and $SHOALPL_LOG
    (the side log, outside the directory). It interposes open, openat,
    creat, write, pwrite, writev, fsync, fdatasync, sync_file_range,
    rename, close, unlink, ftruncate and mkdir (dlsym (RTLD_NEXT): each call goes
    on to the next definition, ASan's interceptor or libc's), changes
    nothing of what they do, and appends one line per event to the log:

        base INO LEN NAME   a file there when the process started (durable)
        create INO NAME     a file created (its name durable at a dirsync)
        sync INO LEN        fsync/fdatasync: the file's first LEN bytes durable
        range INO           sync_file_range: nothing made durable
        trunc INO LEN       ftruncate, or an open with O_TRUNC
        rename OLD NEW      a rename inside the directory
        unlink NAME         an unlink inside the directory
        mkdir NAME          a directory made (its name durable at a dirsync
                            of its parent, as a file's)
        dirsync DIR         fsync of a directory: its names durable ("." = top)
        overwrite INO OFF   a write below the file's synced length (the model
                            cannot undo it: powerloss_apply counts them)

    With $SHOALPL_SLOW_LOG_SYNC_MS=M, each fsync/fdatasync of a file there
    named *.log first sleeps M ms (a slow disk): what waits for a sync waits
    that long, and a SIGKILL in that time finds it not durable.

    With $SHOALPL_FAIL_NEW_LOG_OPENS_MS=M, the first *.log there opened
    read-only (as the node's sync opens the logs it fsyncs) opens; a
    read-only open of any later *.log fails with EMFILE (no descriptor
    left) for M ms from its first try, then opens.

    With $SHOALPL_KILL_BEFORE_RENAME=TEXT, the process SIGKILLs itself at
    the first rename there whose new name holds TEXT, before it happens
    (`shoal repair` cut short at one step of LevelDB's repair).

    With $SHOALPL_FAIL_LOG_SYNCS=N, the disk stops writing LevelDB's logs
    after N syncs of them: every later fsync/fdatasync of a file there
    named *.log fails with EIO, syncs nothing, and is logged as

        failsync INO        a sync that failed (nothing made durable)

    INO is the file's inode number, NAME a path relative to $SHOALPL_DIR.
    Before an unlink, or a rename over an existing file, the file is
    hard-linked as $SHOALPL_LOG.grave/INO, so that a cut that undoes the
    unlink or the rename can bring back what the name held.

    The model (powerloss_apply.c applies it): contents are durable up to
    the length of the last fsync/fdatasync; names (create, rename, unlink)
    are durable as they were at the last fsync of their directory; a
    truncation is taken as durable at once; a directory made is durable
    once its parent is synced after it, and until then it vanishes at the
    cut with everything in it. Writes through mmap are not
    seen (shoal's turn-* files: their contents are lost unless synced).
    Files opened by glibc's own stdio (fopen: LevelDB's LOG) are never
    seen as created: they vanish at the cut.

    Threads: any; one mutex guards the descriptor table and the log.
*/
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#define EXPORT __attribute__ ((visibility ("default")))
#define FD_MAX 4096    //  descriptors tracked (higher ones are not)
#define INODE_MAX 4096 //  files whose synced length is kept
#define NAME_MAX_LEN 512

typedef struct {
    char *name; //  relative to the directory, NULL when not tracked
    ino_t ino;
    bool is_dir;
} fd_entry_t;

typedef struct {
    ino_t ino;
    off_t synced; //  length made durable by the last sync
} inode_entry_t;

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static char s_dir[PATH_MAX]; //  $SHOALPL_DIR, "" if unset
static size_t s_dir_len;
static char s_grave[PATH_MAX]; //  $SHOALPL_LOG.grave
static int s_log = -1;         //  the side log, O_APPEND
static fd_entry_t s_fds[FD_MAX];
static inode_entry_t s_inodes[INODE_MAX];
static int s_inode_count;

static int (*real_open) (const char *, int, ...);
static int (*real_openat) (int, const char *, int, ...);
static int (*real_creat) (const char *, mode_t);
static ssize_t (*real_write) (int, const void *, size_t);
static ssize_t (*real_pwrite) (int, const void *, size_t, off_t);
static ssize_t (*real_writev) (int, const struct iovec *, int);
static int (*real_fsync) (int);
static int (*real_fdatasync) (int);
//  $SHOALPL_FAIL_LOG_SYNCS: log syncs that succeed before they fail (-1:
//  none fails).
static long s_fail_after = -1;
static long s_log_syncs;
static long s_slow_ms;         //  $SHOALPL_SLOW_LOG_SYNC_MS
static char s_kill_rename[64]; //  $SHOALPL_KILL_BEFORE_RENAME, "" if unset
//  $SHOALPL_FAIL_NEW_LOG_OPENS_MS: the window, the first log, the one failing
static long s_fail_opens_ms;
static char s_first_log[NAME_MAX_LEN];
static char s_failing_log[NAME_MAX_LEN];
static long long s_failing_until; //  monotonic ms
static int (*real_sync_file_range) (int, off_t, off_t, unsigned int);
static int (*real_rename) (const char *, const char *);
static int (*real_close) (int);
static int (*real_unlink) (const char *);
static int (*real_ftruncate) (int, off_t);
static int (*real_mkdir) (const char *, mode_t);

static void s_resolve (void)
{
    if (real_open)
        return;
    real_openat = dlsym (RTLD_NEXT, "openat");
    real_creat = dlsym (RTLD_NEXT, "creat");
    real_write = dlsym (RTLD_NEXT, "write");
    real_pwrite = dlsym (RTLD_NEXT, "pwrite");
    real_writev = dlsym (RTLD_NEXT, "writev");
    real_fsync = dlsym (RTLD_NEXT, "fsync");
    real_fdatasync = dlsym (RTLD_NEXT, "fdatasync");
    real_sync_file_range = dlsym (RTLD_NEXT, "sync_file_range");
    real_rename = dlsym (RTLD_NEXT, "rename");
    real_close = dlsym (RTLD_NEXT, "close");
    real_unlink = dlsym (RTLD_NEXT, "unlink");
    real_ftruncate = dlsym (RTLD_NEXT, "ftruncate");
    real_mkdir = dlsym (RTLD_NEXT, "mkdir");
    real_open = dlsym (RTLD_NEXT, "open");
}

//  Appends one line to the log (the caller holds s_lock).
static void s_log_line (const char *format, ...)
{
    if (s_log < 0)
        return;
    char line[NAME_MAX_LEN * 2 + 64];
    va_list args;
    va_start (args, format);
    int len = vsnprintf (line, sizeof line, format, args);
    va_end (args);
    if (len > 0 && (size_t) len < sizeof line)
        (void) !real_write (s_log, line, (size_t) len);
}

//  The path of path relative to the directory, or NULL if it is not under
//  it (or is the directory itself: then "."). A private copy of the store
//  (storecopy.h: `shoal repair` reads one to tell whose the store is) is
//  not the store: never read as it, removed at a node's start, it is not
//  watched.
static const char *s_relative (const char *path)
{
    if (!s_dir_len || !path || strncmp (path, s_dir, s_dir_len) != 0)
        return NULL;
    if (path[s_dir_len] == 0)
        return ".";
    if (path[s_dir_len] != '/')
        return NULL;
    const char *rest = path + s_dir_len;
    while (*rest == '/')
        rest++;
    if (strncmp (rest, ".shoal-check-", 13) == 0)
        return NULL;
    return *rest ? rest : ".";
}

static inode_entry_t *s_inode (ino_t ino, bool add)
{
    for (int i = 0; i < s_inode_count; i++)
        if (s_inodes[i].ino == ino)
            return &s_inodes[i];
    if (!add || s_inode_count == INODE_MAX)
        return NULL;
    s_inodes[s_inode_count] = (inode_entry_t){ino, 0};
    return &s_inodes[s_inode_count++];
}

static void s_base_scan (void)
{
    DIR *dir = opendir (s_dir);
    if (!dir)
        return;
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        char path[PATH_MAX];
        struct stat st;
        int len = snprintf (path, sizeof path, "%s/%s", s_dir, entry->d_name);
        if (len > 0 && (size_t) len < sizeof path && stat (path, &st) == 0 &&
            S_ISREG (st.st_mode)) {
            s_log_line ("base %llu %lld %s\n", (unsigned long long) st.st_ino,
                        (long long) st.st_size, entry->d_name);
            inode_entry_t *inode = s_inode (st.st_ino, true);
            if (inode)
                inode->synced = st.st_size;
        }
    }
    closedir (dir);
}

__attribute__ ((constructor)) static void s_init (void)
{
    s_resolve ();
    const char *dir = getenv ("SHOALPL_DIR");
    const char *log = getenv ("SHOALPL_LOG");
    if (!dir || !log || strlen (dir) >= sizeof s_dir || strlen (log) + 7 >= sizeof s_grave)
        return;
    strcpy (s_dir, dir);
    s_dir_len = strlen (s_dir);
    while (s_dir_len > 1 && s_dir[s_dir_len - 1] == '/')
        s_dir[--s_dir_len] = 0;
    snprintf (s_grave, sizeof s_grave, "%s.grave", log);
    mkdir (s_grave, 0700);
    const char *fail = getenv ("SHOALPL_FAIL_LOG_SYNCS");
    if (fail && *fail)
        s_fail_after = strtol (fail, NULL, 10);
    const char *slow = getenv ("SHOALPL_SLOW_LOG_SYNC_MS");
    if (slow && *slow)
        s_slow_ms = strtol (slow, NULL, 10);
    const char *kill_rename = getenv ("SHOALPL_KILL_BEFORE_RENAME");
    if (kill_rename)
        snprintf (s_kill_rename, sizeof s_kill_rename, "%s", kill_rename);
    const char *opens = getenv ("SHOALPL_FAIL_NEW_LOG_OPENS_MS");
    if (opens && *opens)
        s_fail_opens_ms = strtol (opens, NULL, 10);
    s_log = real_open (log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (s_log >= 0)
        s_log_line ("start %d\n", (int) getpid ());
    s_base_scan ();
}

//  Absolute form of (dirfd, path) into buf; NULL if it cannot be known.
static const char *s_absolute (int dirfd, const char *path, char *buf, size_t size)
{
    if (!path)
        return NULL;
    if (path[0] == '/')
        return path;
    if (dirfd != AT_FDCWD)
        return NULL; //  not used by LevelDB or shoal
    char cwd[PATH_MAX];
    if (!getcwd (cwd, sizeof cwd))
        return NULL;
    int len = snprintf (buf, size, "%s/%s", cwd, path);
    return len > 0 && (size_t) len < size ? buf : NULL;
}

//  Records a descriptor just opened on path (absolute); existed says
//  whether the file was there before the open.
static void s_opened (int fd, const char *path, int flags, bool existed)
{
    const char *name = s_relative (path);
    if (fd < 0 || fd >= FD_MAX || !name)
        return;
    struct stat st;
    if (fstat (fd, &st) != 0)
        return;
    pthread_mutex_lock (&s_lock);
    free (s_fds[fd].name);
    s_fds[fd] = (fd_entry_t){strdup (name), st.st_ino, S_ISDIR (st.st_mode)};
    if (S_ISREG (st.st_mode)) {
        if (!existed && (flags & O_CREAT))
            s_log_line ("create %llu %s\n", (unsigned long long) st.st_ino, name);
        else if (flags & O_TRUNC) {
            s_log_line ("trunc %llu 0\n", (unsigned long long) st.st_ino);
            inode_entry_t *inode = s_inode (st.st_ino, false);
            if (inode)
                inode->synced = 0;
        }
    }
    pthread_mutex_unlock (&s_lock);
}

static bool s_exists (const char *path)
{
    struct stat st;
    return path && stat (path, &st) == 0;
}

//  True if open's flags say a mode argument follows.
static bool s_takes_mode (int flags)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

//  $SHOALPL_FAIL_NEW_LOG_OPENS_MS: true if this read-only open of name (a
//  *.log there) must fail with EMFILE.
static bool s_open_fails (const char *name, int flags)
{
    size_t len = name ? strlen (name) : 0;
    if (s_fail_opens_ms <= 0 || (flags & O_ACCMODE) != O_RDONLY || len < 5 ||
        strcmp (name + len - 4, ".log") != 0)
        return false;
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    long long now_ms = (long long) now.tv_sec * 1000 + now.tv_nsec / 1000000;
    pthread_mutex_lock (&s_lock);
    bool fails = false;
    if (!s_first_log[0])
        snprintf (s_first_log, sizeof s_first_log, "%s", name);
    else if (strcmp (name, s_first_log) != 0) {
        if (strcmp (name, s_failing_log) != 0) { //  its first try: the window opens
            snprintf (s_failing_log, sizeof s_failing_log, "%s", name);
            s_failing_until = now_ms + s_fail_opens_ms;
        }
        fails = now_ms < s_failing_until;
        if (fails)
            s_log_line ("failopen %s\n", name);
    }
    pthread_mutex_unlock (&s_lock);
    return fails;
}

static int s_open_common (int dirfd, const char *path, int flags, mode_t mode)
{
    char buf[PATH_MAX];
    const char *absolute = s_absolute (dirfd, path, buf, sizeof buf);
    bool tracked = s_relative (absolute) != NULL;
    if (tracked && s_open_fails (s_relative (absolute), flags)) {
        errno = EMFILE;
        return -1;
    }
    bool existed = tracked && s_exists (absolute);
    int fd = real_openat (dirfd, path, flags, mode);
    if (tracked && fd >= 0) {
        int saved = errno;
        s_opened (fd, absolute, flags, existed);
        errno = saved;
    }
    return fd;
}

EXPORT int open (const char *path, int flags, ...)
{
    s_resolve ();
    mode_t mode = 0;
    if (s_takes_mode (flags)) {
        va_list args;
        va_start (args, flags);
        mode = va_arg (args, mode_t);
        va_end (args);
    }
    return s_open_common (AT_FDCWD, path, flags, mode);
}

EXPORT int open64 (const char *path, int flags, ...)
{
    s_resolve ();
    mode_t mode = 0;
    if (s_takes_mode (flags)) {
        va_list args;
        va_start (args, flags);
        mode = va_arg (args, mode_t);
        va_end (args);
    }
    return s_open_common (AT_FDCWD, path, flags, mode);
}

EXPORT int openat (int dirfd, const char *path, int flags, ...)
{
    s_resolve ();
    mode_t mode = 0;
    if (s_takes_mode (flags)) {
        va_list args;
        va_start (args, flags);
        mode = va_arg (args, mode_t);
        va_end (args);
    }
    return s_open_common (dirfd, path, flags, mode);
}

EXPORT int creat (const char *path, mode_t mode)
{
    s_resolve ();
    return s_open_common (AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

//  Logs a write at offset of a tracked file below its synced length.
static void s_before_write (int fd, off_t offset)
{
    if (fd < 0 || fd >= FD_MAX || !s_fds[fd].name || s_fds[fd].is_dir)
        return;
    int saved = errno;
    if (offset < 0)
        offset = lseek (fd, 0, SEEK_CUR);
    pthread_mutex_lock (&s_lock);
    inode_entry_t *inode = s_fds[fd].name ? s_inode (s_fds[fd].ino, false) : NULL;
    if (inode && offset >= 0 && offset < inode->synced)
        s_log_line ("overwrite %llu %lld\n", (unsigned long long) s_fds[fd].ino,
                    (long long) offset);
    pthread_mutex_unlock (&s_lock);
    errno = saved;
}

EXPORT ssize_t write (int fd, const void *buf, size_t count)
{
    s_resolve ();
    s_before_write (fd, -1);
    return real_write (fd, buf, count);
}

EXPORT ssize_t pwrite (int fd, const void *buf, size_t count, off_t offset)
{
    s_resolve ();
    s_before_write (fd, offset);
    return real_pwrite (fd, buf, count, offset);
}

EXPORT ssize_t pwrite64 (int fd, const void *buf, size_t count, off_t offset)
{
    return pwrite (fd, buf, count, offset);
}

EXPORT ssize_t writev (int fd, const struct iovec *iov, int count)
{
    s_resolve ();
    s_before_write (fd, -1);
    return real_writev (fd, iov, count);
}

//  After a successful fsync or fdatasync of fd.
static void s_synced (int fd)
{
    if (fd < 0 || fd >= FD_MAX || !s_fds[fd].name)
        return;
    int saved = errno;
    struct stat st;
    pthread_mutex_lock (&s_lock);
    if (s_fds[fd].is_dir)
        s_log_line ("dirsync %s\n", s_fds[fd].name);
    else if (fstat (fd, &st) == 0) {
        s_log_line ("sync %llu %lld\n", (unsigned long long) st.st_ino, (long long) st.st_size);
        inode_entry_t *inode = s_inode (st.st_ino, true);
        if (inode)
            inode->synced = st.st_size;
    }
    pthread_mutex_unlock (&s_lock);
    errno = saved;
}

//  True if fd is a file there named *.log (one of LevelDB's logs).
static bool s_is_log_fd (int fd)
{
    if (fd < 0 || fd >= FD_MAX || !s_fds[fd].name || s_fds[fd].is_dir)
        return false;
    size_t len = strlen (s_fds[fd].name);
    return len >= 4 && strcmp (s_fds[fd].name + len - 4, ".log") == 0;
}

//  True if this sync of fd must fail: a *.log file there, past the count.
//  With $SHOALPL_SLOW_LOG_SYNC_MS, a log's sync sleeps first.
static bool s_sync_fails (int fd)
{
    if (!s_is_log_fd (fd))
        return false;
    if (s_slow_ms > 0)
        usleep ((useconds_t) s_slow_ms * 1000);
    if (s_fail_after < 0)
        return false;
    pthread_mutex_lock (&s_lock);
    bool fails = s_log_syncs++ >= s_fail_after;
    struct stat st;
    if (fails && fstat (fd, &st) == 0)
        s_log_line ("failsync %llu\n", (unsigned long long) st.st_ino);
    pthread_mutex_unlock (&s_lock);
    return fails;
}

EXPORT int fsync (int fd)
{
    s_resolve ();
    if (s_sync_fails (fd)) {
        errno = EIO;
        return -1;
    }
    int rc = real_fsync (fd);
    if (rc == 0)
        s_synced (fd);
    return rc;
}

EXPORT int fdatasync (int fd)
{
    s_resolve ();
    if (s_sync_fails (fd)) {
        errno = EIO;
        return -1;
    }
    int rc = real_fdatasync (fd);
    if (rc == 0)
        s_synced (fd);
    return rc;
}

EXPORT int sync_file_range (int fd, off_t offset, off_t nbytes, unsigned int flags)
{
    s_resolve ();
    int rc = real_sync_file_range (fd, offset, nbytes, flags);
    if (rc == 0 && fd >= 0 && fd < FD_MAX && s_fds[fd].name) {
        pthread_mutex_lock (&s_lock);
        s_log_line ("range %llu\n", (unsigned long long) s_fds[fd].ino);
        pthread_mutex_unlock (&s_lock);
    }
    return rc;
}

//  Hard-links path (absolute, a regular file) into the grave as its inode
//  number, so that a cut can bring it back. The caller holds s_lock.
static void s_bury (const char *path)
{
    struct stat st;
    if (stat (path, &st) != 0 || !S_ISREG (st.st_mode))
        return;
    char grave[PATH_MAX + 32];
    snprintf (grave, sizeof grave, "%s/%llu", s_grave, (unsigned long long) st.st_ino);
    if (link (path, grave) != 0 && errno != EEXIST)
        s_log_line ("error cannot keep %s: %s\n", path, strerror (errno));
}

EXPORT int rename (const char *from, const char *to)
{
    s_resolve ();
    char buf_from[PATH_MAX], buf_to[PATH_MAX];
    const char *abs_from = s_absolute (AT_FDCWD, from, buf_from, sizeof buf_from);
    const char *abs_to = s_absolute (AT_FDCWD, to, buf_to, sizeof buf_to);
    const char *name_from = s_relative (abs_from), *name_to = s_relative (abs_to);
    if (!name_from || !name_to)
        return real_rename (from, to);
    if (s_kill_rename[0] && strstr (name_to, s_kill_rename))
        raise (SIGKILL);
    pthread_mutex_lock (&s_lock);
    s_bury (abs_from);
    s_bury (abs_to);
    int rc = real_rename (from, to);
    int saved = errno;
    if (rc == 0) {
        s_log_line ("rename %s %s\n", name_from, name_to);
        for (int fd = 0; fd < FD_MAX; fd++)
            if (s_fds[fd].name && strcmp (s_fds[fd].name, name_from) == 0) {
                free (s_fds[fd].name);
                s_fds[fd].name = strdup (name_to);
            }
    }
    pthread_mutex_unlock (&s_lock);
    errno = saved;
    return rc;
}

EXPORT int unlink (const char *path)
{
    s_resolve ();
    char buf[PATH_MAX];
    const char *absolute = s_absolute (AT_FDCWD, path, buf, sizeof buf);
    const char *name = s_relative (absolute);
    if (!name)
        return real_unlink (path);
    pthread_mutex_lock (&s_lock);
    s_bury (absolute);
    int rc = real_unlink (path);
    int saved = errno;
    if (rc == 0)
        s_log_line ("unlink %s\n", name);
    pthread_mutex_unlock (&s_lock);
    errno = saved;
    return rc;
}

EXPORT int mkdir (const char *path, mode_t mode)
{
    s_resolve ();
    char buf[PATH_MAX];
    const char *absolute = s_absolute (AT_FDCWD, path, buf, sizeof buf);
    const char *name = s_relative (absolute);
    if (!name)
        return real_mkdir (path, mode);
    pthread_mutex_lock (&s_lock);
    int rc = real_mkdir (path, mode);
    int saved = errno;
    if (rc == 0)
        s_log_line ("mkdir %s\n", name);
    pthread_mutex_unlock (&s_lock);
    errno = saved;
    return rc;
}

EXPORT int ftruncate (int fd, off_t length)
{
    s_resolve ();
    int rc = real_ftruncate (fd, length);
    if (rc == 0 && fd >= 0 && fd < FD_MAX && s_fds[fd].name && !s_fds[fd].is_dir) {
        int saved = errno;
        pthread_mutex_lock (&s_lock);
        s_log_line ("trunc %llu %lld\n", (unsigned long long) s_fds[fd].ino, (long long) length);
        inode_entry_t *inode = s_inode (s_fds[fd].ino, false);
        if (inode && inode->synced > length)
            inode->synced = length;
        pthread_mutex_unlock (&s_lock);
        errno = saved;
    }
    return rc;
}

EXPORT int ftruncate64 (int fd, off_t length)
{
    return ftruncate (fd, length);
}

EXPORT int close (int fd)
{
    s_resolve ();
    if (fd >= 0 && fd < FD_MAX && s_fds[fd].name) {
        pthread_mutex_lock (&s_lock);
        free (s_fds[fd].name);
        s_fds[fd].name = NULL;
        pthread_mutex_unlock (&s_lock);
    }
    return real_close (fd);
}
