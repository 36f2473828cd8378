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
#include <sys/stat.h>
#include <unistd.h>

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
    } else
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
