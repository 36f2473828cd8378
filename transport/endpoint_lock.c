/*  endpoint_lock.c - an ipc:// endpoint bound by one process at a time.
    See endpoint_lock.h.
*/
#include "endpoint_lock.h"
#include "shoal_base.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

//  Says whether what is at path (an ipc:// endpoint's, whose lock this
//  process holds) may be replaced by the socket the node binds: libzmq
//  unlinks whatever is there. Nothing, or a socket nobody listens on (a
//  node that died left it), may; a file of any other kind (a user's file,
//  a symlink, a directory) or a socket another program listens on may
//  not. Returns 0, or SHOAL_EEXIST / SHOAL_EBUSY / SHOAL_EIO with *error.
static int s_path_free (const char *endpoint, const char *path, char **error)
{
    struct stat st;
    if (lstat (path, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        *error = zsys_sprintf ("cannot listen on %s: cannot read %s: %s", endpoint, path,
                               strerror (errno));
        return SHOAL_EIO;
    }
    if (!S_ISSOCK (st.st_mode)) {
        *error = zsys_sprintf ("cannot listen on %s: %s is there and is not a socket (%s); shoal "
                               "does not replace it: give another path, or remove it",
                               endpoint, path,
                               S_ISREG (st.st_mode)   ? "a file"
                               : S_ISDIR (st.st_mode) ? "a directory"
                               : S_ISLNK (st.st_mode) ? "a symbolic link"
                                                      : "a special file");
        return SHOAL_EEXIST;
    }
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    if (strlen (path) >= sizeof address.sun_path)
        return 0; //  libzmq refuses the bind itself
    memcpy (address.sun_path, path, strlen (path) + 1);
    //  Non-blocking: a listener that accepts nothing, its backlog full,
    //  would hold a blocking connect (and the node's start) for ever.
    int probe = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (probe == -1) {
        *error = zsys_sprintf ("cannot listen on %s: cannot make a socket to probe %s: %s",
                               endpoint, path, strerror (errno));
        return SHOAL_EIO;
    }
    int rc = connect (probe, (struct sockaddr *) &address, sizeof address);
    int code = errno;
    close (probe);
    if (rc != 0 && code == ECONNREFUSED)
        return 0; //  left by a process that is gone
    if (rc != 0 && (code == EAGAIN || code == EINPROGRESS))
        rc = 0; //  a listener whose backlog is full: someone listens there
    if (rc == 0)
        *error = zsys_sprintf ("cannot listen on %s: another program listens on %s (it does not "
                               "hold %s.lock, so it is not a shoal node); shoal does not take "
                               "its socket",
                               endpoint, path, path);
    else
        *error = zsys_sprintf ("cannot listen on %s: %s is a socket that cannot be probed (%s); "
                               "shoal does not replace it",
                               endpoint, path, strerror (code));
    return rc == 0 ? SHOAL_EBUSY : SHOAL_EEXIST;
}

int endpoint_lock (const char *endpoint, int *fd, char **error)
{
    *fd = -1;
    *error = NULL;
    if (strncmp (endpoint, "ipc://", 6) != 0)
        return 0;
    const char *path = endpoint + 6;
    if (!*path || *path == '@' || streq (path, "*"))
        return 0;
    char *lock_path = zsys_sprintf ("%s.lock", path);
    if (!lock_path) {
        *error = strdup ("out of memory");
        return SHOAL_ENOMEM;
    }
    int rc = 0;
    //  0600: a lock file others may open is one they may lock (flock
    //  needs only a read-only descriptor), and the node would then be
    //  refused its own endpoint. One an older node made 0644 is narrowed.
    int lock = open (lock_path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    struct stat st;
    if (lock >= 0 && fstat (lock, &st) == 0 && (st.st_mode & 077) && st.st_uid == geteuid ())
        fchmod (lock, 0600);
    if (lock == -1) {
        *error = zsys_sprintf ("cannot listen on %s: cannot open its lock file %s: %s", endpoint,
                               lock_path, strerror (errno));
        rc = SHOAL_EIO;
    } else if (flock (lock, LOCK_EX | LOCK_NB) != 0) {
        int code = errno;
        if (code == EWOULDBLOCK)
            *error = zsys_sprintf ("cannot listen on %s: another process is bound there (it "
                                   "holds %s); is this node running already?",
                                   endpoint, lock_path);
        else
            *error = zsys_sprintf ("cannot listen on %s: cannot lock %s: %s", endpoint, lock_path,
                                   strerror (code));
        rc = code == EWOULDBLOCK ? SHOAL_EBUSY : SHOAL_EIO;
        close (lock);
    } else if ((rc = s_path_free (endpoint, path, error)) != 0)
        close (lock);
    else
        *fd = lock;
    zstr_free (&lock_path);
    return rc;
}

void endpoint_unlock (int *fd)
{
    if (*fd >= 0)
        close (*fd); //  drops the flock
    *fd = -1;
}
