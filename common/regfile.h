/*  regfile.h - opening a file of the node's own for reading, as a regular
    file only: a FIFO, a device or a directory put in its place (a careless
    restore, a hostile hand) is refused at once, never waited on. A plain
    open of a FIFO for reading waits for a writer: the node hung at its
    start, saying nothing, with a FIFO for its SYNCED file.
*/
#ifndef REGFILE_H_INCLUDED
#define REGFILE_H_INCLUDED

#include <stdio.h>

//  Opens path read-only (close-on-exec, without blocking: a regular
//  file reads as ever). Returns the descriptor, or -1 with errno: open's,
//  or EINVAL when path is not a regular file.
int regfile_open (const char *path);

//  regfile_open as a stream ("r"), or NULL with errno.
FILE *regfile_fopen (const char *path);

#endif
