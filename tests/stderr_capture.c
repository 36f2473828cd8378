/*  stderr_capture.c - see stderr_capture.h. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "stderr_capture.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void stderr_capture_begin (stderr_capture_t *self)
{
    snprintf (self->path, sizeof self->path, "/tmp/shoal-test-stderr-XXXXXX");
    self->file = mkstemp (self->path);
    assert_true (self->file >= 0);
    fflush (stderr);
    self->saved = dup (STDERR_FILENO);
    assert_true (self->saved >= 0);
    assert_true (dup2 (self->file, STDERR_FILENO) >= 0);
}

void stderr_capture_end (stderr_capture_t *self, char *out, size_t size)
{
    fflush (stderr);
    assert_true (dup2 (self->saved, STDERR_FILENO) >= 0);
    close (self->saved);
    ssize_t n = pread (self->file, out, size - 1, 0);
    out[n > 0 ? n : 0] = 0;
    close (self->file);
    unlink (self->path);
}
