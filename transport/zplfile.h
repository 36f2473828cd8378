/*  zplfile.h - reading and writing ZPL files (czmq zconfig) safely.

    zconfig_load reports a bad line only in a log message, without the caller
    seeing which, and silently cuts lines past 1024 bytes (then misreads
    what follows them). zplfile_load first checks every line against the
    same grammar, so a bad file is refused with "PATH: line N: what" and
    zconfig only ever parses lines it handles. zplfile_save replaces a
    file atomically and durably, which zconfig_save does not.

    Errors are returned (NULL or a negative SHOAL_E... code) with *error a
    message "PATH: ..." the caller frees with free(); error may be NULL.
    Pure functions: safe on any thread.
*/
#ifndef ZPLFILE_H_INCLUDED
#define ZPLFILE_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>

#define ZPLFILE_MAX_SIZE (16 * 1024 * 1024) //  bytes of a file we read

//  Reads the whole regular file at path (at most ZPLFILE_MAX_SIZE bytes)
//  into a NUL-terminated buffer, never waiting: a FIFO, a device or a
//  directory is refused as "not a regular file". Returns the buffer, which
//  the caller frees with free(), and sets *size; or NULL and sets *error.
char *zplfile_read (const char *path, size_t *size, char **error);

//  Checks the size bytes of text the way zconfig_chunk_load parses them,
//  so that it never fails or cuts a line: printable ASCII (and, if utf8,
//  any byte from 0x80: values such as paths in UTF-8), no NUL, lines of
//  at most line_max bytes, indents of 4 spaces at most one level deeper
//  than the item above, names of its name characters, quoted values
//  closed, nothing after a value but a comment. Returns 0, or
//  SHOAL_EFORMAT with *error "PATH: line N: what".
int zplfile_check (const char *text, size_t size, int line_max, bool utf8, const char *path,
                   char **error);

//  Reads and parses the ZPL file at path, whose lines must be at most
//  line_max bytes (<= 1024) of printable ASCII. Returns the tree, which
//  the caller destroys with zconfig_destroy, or NULL and sets *error.
zconfig_t *zplfile_load (const char *path, int line_max, char **error);

//  Replaces path with the size bytes of text: writes path.tmp, fsyncs
//  it, renames it over path and fsyncs the directory, so that path holds
//  the old text or the new one. Returns 0, SHOAL_ENOMEM or SHOAL_EIO.
//  Two processes must not save the same path at once.
int zplfile_save (const char *path, const char *text, size_t size, char **error);

//  The same, the file made new with mode less the umask (0600 for a
//  secret: never more open, whatever an old file was).
int zplfile_save_mode (const char *path, const char *text, size_t size, mode_t mode, char **error);

//  Sets *error (when error is not NULL) to "PATH: what", what formatted
//  from format; frees what *error held. The caller frees it with free().
void zplfile_fail (char **error, const char *path, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

#endif
