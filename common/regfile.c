/*  regfile.c - opening a file for reading as a regular file only. See
    regfile.h.
*/
#include "regfile.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

int regfile_open (const char *path)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return -1;
    struct stat st;
    int why = fstat (fd, &st) != 0 ? errno : S_ISREG (st.st_mode) ? 0 : EINVAL;
    if (why) {
        close (fd);
        errno = why;
        return -1;
    }
    return fd;
}

FILE *regfile_fopen (const char *path)
{
    int fd = regfile_open (path);
    FILE *file = fd >= 0 ? fdopen (fd, "r") : NULL;
    if (fd >= 0 && !file) {
        int why = errno;
        close (fd);
        errno = why;
    }
    return file;
}
