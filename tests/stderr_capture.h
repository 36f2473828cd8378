/*  stderr_capture.h - this process's stderr in a temporary file for a
    while, and what was written there: what a test's own call said (the
    log, the test kit), without a node. No dependency but cmocka.
*/
#ifndef SHOAL_TESTS_STDERR_CAPTURE_H
#define SHOAL_TESTS_STDERR_CAPTURE_H

#include <stddef.h>

typedef struct {
    char path[64]; //  the temporary file
    int file;      //  open on it
    int saved;     //  stderr as it was
} stderr_capture_t;

//  From now on, stderr goes to a new temporary file. Fails the test on an
//  error.
void stderr_capture_begin (stderr_capture_t *self);

//  Puts stderr back, and reads what was written since begin into out
//  (size bytes, NUL-terminated, cut to fit); the file is removed.
void stderr_capture_end (stderr_capture_t *self, char *out, size_t size);

#endif
