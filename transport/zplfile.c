/*  zplfile.c - reading and writing ZPL files safely (see zplfile.h).
    The line check mirrors zconfig_chunk_load's parser in czmq 4.2.
*/
#include "zplfile.h"
#include "shoal_base.h"
#include "dirsync.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  "PATH: what" into *error (if error is not NULL).
void zplfile_fail (char **error, const char *path, const char *format, ...)
{
    if (!error)
        return;
    char *what = NULL;
    va_list args;
    va_start (args, format);
    if (vasprintf (&what, format, args) < 0)
        what = NULL;
    va_end (args);
    free (*error);
    *error = NULL;
    if (what && asprintf (error, "%s: %s", path, what) < 0)
        *error = NULL;
    free (what);
}

int zplfile_check (const char *text, size_t size, int line_max, bool utf8, const char *path,
                   char **error)
{
    int depth = 0; //  levels zconfig can attach an item at: 0..depth
    int lineno = 0;
    const char *line = text, *end = text + size;
    while (line < end) {
        const char *eol = memchr (line, '\n', (size_t) (end - line));
        if (!eol)
            eol = end;
        lineno++;
        if (eol - line > line_max) {
            zplfile_fail (error, path, "line %d: longer than %d bytes", lineno, line_max);
            return SHOAL_EFORMAT;
        }
        while (eol > line && isspace ((unsigned char) eol[-1]))
            eol--;
        for (const char *p = line; p < eol; p++)
            if (((unsigned char) *p > '~' && !(utf8 && (unsigned char) *p >= 0x80)) ||
                ((unsigned char) *p < ' ' && *p != '\t')) {
                zplfile_fail (error, path, "line %d: byte 0x%02x is not printable ASCII", lineno,
                              (unsigned char) *p);
                return SHOAL_EFORMAT;
            }
        const char *p = line;
        while (p < eol && *p == ' ')
            p++;
        int level = (int) (p - line) / 4;
        if ((p - line) % 4) {
            zplfile_fail (error, path, "line %d: indent by 4 spaces at a time", lineno);
            return SHOAL_EFORMAT;
        }
        const char *name = p;
        while (p < eol && (isalnum ((unsigned char) *p) || strchr ("$-_@.&+/", *p)))
            p++;
        bool named = p > name;
        const char *problem = NULL;
        if (named && (name[0] == '/' || p[-1] == '/'))
            problem = "a name may not start or end with '/'";
        else if (named && level > depth)
            problem = "indented deeper than the item above allows";
        while (!problem && p < eol && isspace ((unsigned char) *p))
            p++;
        if (!problem && named && p < eol && *p == '=') {
            p++;
            while (p < eol && isspace ((unsigned char) *p))
                p++;
            if (p < eol && (*p == '"' || *p == '\'')) {
                const char *close = memchr (p + 1, *p, (size_t) (eol - p - 1));
                if (!close)
                    problem = "a quoted value is not closed";
                else
                    for (p = close + 1; p < eol && isspace ((unsigned char) *p);)
                        p++;
            } else
                p = eol; //  an unquoted value runs to the end or a '#'
        }
        if (!problem && p < eol && *p != '#')
            problem = "expected 'name', 'name = value' or a '#' comment";
        if (problem) {
            zplfile_fail (error, path, "line %d: %s", lineno, problem);
            return SHOAL_EFORMAT;
        }
        if (named)
            depth = level + 1;
        line = memchr (line, '\n', (size_t) (end - line));
        line = line ? line + 1 : end;
    }
    return 0;
}

char *zplfile_read (const char *path, size_t *size, char **error)
{
    //  O_NONBLOCK: opening a FIFO would wait for a writer (for ever), a
    //  device may do the same. Only a regular file is read, and for one the
    //  flag changes nothing.
    int fd = open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        zplfile_fail (error, path, "cannot open: %s", strerror (errno));
        return NULL;
    }
    struct stat info;
    char *text = NULL;
    if (fstat (fd, &info) < 0) {
        zplfile_fail (error, path, "cannot stat: %s", strerror (errno));
        goto done;
    }
    if (!S_ISREG (info.st_mode) || info.st_size > ZPLFILE_MAX_SIZE) {
        zplfile_fail (error, path, "not a regular file of at most %d bytes", ZPLFILE_MAX_SIZE);
        goto done;
    }
    text = malloc ((size_t) info.st_size + 1);
    if (!text) {
        zplfile_fail (error, path, "out of memory");
        goto done;
    }
    size_t done = 0;
    while (done < (size_t) info.st_size) {
        ssize_t got = read (fd, text + done, (size_t) info.st_size - done);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            zplfile_fail (error, path, "cannot read: %s", got ? strerror (errno) : "file shrank");
            free (text);
            text = NULL;
            goto done;
        }
        done += (size_t) got;
    }
    text[done] = 0;
    *size = done;
done:
    close (fd);
    return text;
}

zconfig_t *zplfile_load (const char *path, int line_max, char **error)
{
    assert (path && line_max > 0 && line_max <= 1024);
    if (error)
        *error = NULL;
    size_t size = 0;
    char *text = zplfile_read (path, &size, error);
    if (!text)
        return NULL;
    zconfig_t *root = NULL;
    if (zplfile_check (text, size, line_max, false, path, error) == 0) {
        root = zconfig_str_load (text);
        if (!root)
            zplfile_fail (error, path, "not valid ZPL");
    }
    free (text);
    return root;
}

int zplfile_save (const char *path, const char *text, size_t size, char **error)
{
    return zplfile_save_mode (path, text, size, 0644, error);
}

int zplfile_save_mode (const char *path, const char *text, size_t size, mode_t mode, char **error)
{
    char *temp = zsys_sprintf ("%s.tmp", path);
    if (!temp) {
        zplfile_fail (error, path, "out of memory");
        return SHOAL_ENOMEM;
    }
    const char *step = "cannot create";
    //  A new file, made with mode (less the umask): never an old one,
    //  which may be more open; the rename then puts this inode in place.
    unlink (temp);
    int fd = open (temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        goto fail;
    step = "cannot write";
    for (size_t done = 0; done < size;) {
        ssize_t wrote = write (fd, text + done, size - done);
        if (wrote < 0 && errno == EINTR)
            continue;
        if (wrote < 0)
            goto fail;
        done += (size_t) wrote;
    }
    step = "cannot fsync";
    if (fsync (fd) < 0)
        goto fail;
    step = "cannot close";
    int rc = close (fd);
    fd = -1;
    if (rc < 0)
        goto fail;
    step = "cannot rename";
    if (rename (temp, path) < 0)
        goto fail;
    char *slash = strrchr (temp, '/');
    if (slash)
        slash[slash == temp ? 1 : 0] = 0;
    int synced = dirsync_sync (slash ? temp : ".", NULL);
    if (synced) {
        zplfile_fail (error, path, "cannot fsync its directory: %s", strerror (synced));
        free (temp);
        return SHOAL_EIO;
    }
    free (temp);
    return 0;
fail:
    zplfile_fail (error, path, "%s %s: %s", step, temp, strerror (errno));
    if (fd >= 0)
        close (fd);
    unlink (temp);
    free (temp);
    return SHOAL_EIO;
}
