/*  viewcheck.h - what an apply (or a batch_end) may not do with
    shoal_view_*, a command it sends included, and the words its failure
    says it in: shared by the node's view (view.c) and the test kit's
    (testkit_view_apply.c), so that a misuse reads the same in `shoal
    projections`, the node's log and shoal_testkit_view_why. Functions
    over their arguments alone (viewcheck_command allocates the frame it
    returns): any thread.
*/
#ifndef VIEWCHECK_H_INCLUDED
#define VIEWCHECK_H_INCLUDED

#include "shoal.h"
#include "envelope.h"
#include "mpread.h"
#include "utf8.h"
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define VIEWCHECK_SENDS_MAX 16 //  commands one apply may send
//  A row's fields at most: what one answer of a query holds with its key
//  (an envelope's 1 MiB, less the room a command's fields leave).
#define VIEWCHECK_ROW_MAX (1024 * 1024 - 8192)

//  Keeps an apply's first misuse: error in *kept and the reason, format
//  over args, in reason (size bytes), unless one is kept already. Returns
//  error.
static inline int viewcheck_misuse (int *kept, char *reason, size_t size, int error,
                                    const char *format, va_list args)
{
    if (!*kept) {
        *kept = error;
        vsnprintf (reason, size, format, args);
    }
    return error;
}

//  Why key is not a row key (static text: the limit it breaks), or NULL
//  when it is one.
static inline const char *viewcheck_key (const char *key)
{
    size_t len = key ? strnlen (key, SHOAL_VIEW_KEY_MAX + 1) : 0;
    if (!key)
        return "a NULL row key";
    if (len == 0)
        return "an empty row key (1 to 512 bytes)";
    if (len > SHOAL_VIEW_KEY_MAX)
        return "a row key of more than 512 bytes";
    //  A query names its row in UTF-8: another key could not be asked.
    return utf8_valid_prefix (key, len) != len ? "a row key that is not UTF-8" : NULL;
}

//  Why an apply that has sent sends commands may not send command to
//  to (static text), with *error the apply's error then; NULL when it may.
static inline const char *viewcheck_send (const char *to, const char *command, int sends,
                                          int *error)
{
    size_t name_len = command ? strlen (command) : 0;
    *error = SHOAL_EINVAL;
    if (!to || shoal_address_check (to, strlen (to)) != 0)
        return "a command sent to something that is not an address (TYPE/ID, at most 264 "
               "bytes)";
    if (shoal_name_check (command, name_len) != 0 || command[0] == '$')
        return "a command name that is not a name (1 to 63 printable ASCII bytes, no space, "
               "not starting with $)";
    *error = SHOAL_ETOOBIG;
    return sends == VIEWCHECK_SENDS_MAX ? "more than 16 commands sent by one apply" : NULL;
}

//  True if text may be quoted in a reason as it is: printable ASCII (no
//  byte of a UTF-8 sequence for the reason to cut), at most max bytes.
static inline bool viewcheck_quotable (const char *text, size_t max)
{
    size_t len = 0;
    for (; text[len] && len <= max; len++)
        if ((unsigned char) text[len] < 0x20 || (unsigned char) text[len] > 0x7e)
            return false;
    return len <= max;
}

//  Keeps the misuse of a row or command the apply wrote wrongly (why, from
//  rec_misuse; NULL: out of memory, error alone) as viewcheck_misuse
//  does, naming the command (send) or the row (key, when it quotes).
static inline void viewcheck_note (int *kept, char *reason, size_t size, int error,
                                   const char *format, ...) __attribute__ ((format (printf, 5, 6)));
static inline void viewcheck_note (int *kept, char *reason, size_t size, int error,
                                   const char *format, ...)
{
    va_list args;
    va_start (args, format);
    viewcheck_misuse (kept, reason, size, error, format, args);
    va_end (args);
}

static inline void viewcheck_rec_failed (int *kept, char *reason, size_t size, int error,
                                         const char *why, bool send, const char *send_name,
                                         const char *key)
{
    if (!why)
        *kept = *kept ? *kept : error; //  out of memory
    else if (send)
        viewcheck_note (kept, reason, size, error, "the command %s sent by shoal_view_send: %s",
                        send_name, why);
    else if (viewcheck_quotable (key, 64))
        viewcheck_note (kept, reason, size, error, "the row %s: %s", key, why);
    else
        viewcheck_note (kept, reason, size, error, "a row put by shoal_view_put: %s", why);
}

//  True if a row of size bytes under key may be kept; else keeps the
//  misuse, as viewcheck_rec_failed does.
static inline bool viewcheck_row_size (int *kept, char *reason, size_t size, const char *key,
                                       size_t row_size)
{
    if (row_size <= VIEWCHECK_ROW_MAX)
        return true;
    if (viewcheck_quotable (key, 64))
        viewcheck_note (kept, reason, size, SHOAL_ETOOBIG,
                        "the row %s: more than 1 MiB less 8 KiB (no query could answer it)", key);
    else
        viewcheck_note (kept, reason, size, SHOAL_ETOOBIG,
                        "a row put by shoal_view_put: more than 1 MiB less 8 KiB (no query could "
                        "answer it)");
    return false;
}

//  A reaction's sender, "projection/NAME" (shoal_msg_from), into from:
//  the node's, and the kit's for the size of a command.
static inline void viewcheck_sender (char from[SHOAL_ADDRESS_MAX + 1], const char *name)
{
    snprintf (from, SHOAL_ADDRESS_MAX + 1, "%s/%s", SHOAL_PROJECTION_SENDER, name);
}

//  Encodes a command an apply sends (command, its payload the fields the
//  apply wrote) into *frame (free() it) of *frame_size bytes, if it could
//  go out. Its strings must be UTF-8, as the node's front asks of every
//  request (a reaction goes out through it): one that is not would be
//  refused bad_frame and dropped, never run. With its envelope it must be
//  1 MiB at most. Else keeps the misuse as viewcheck_misuse does and
//  returns its error (SHOAL_ENOMEM: kept without a reason).
static inline int viewcheck_command (int *kept, char *reason, size_t size,
                                     const envelope_t *command, uint8_t **frame, size_t *frame_size)
{
    size_t at = 0, bad = 0, len = 0;
    const uint8_t *map = NULL;
    if (mpread_map_span_utf8 (command->payload, command->payload_size, &at, MPREAD_DEPTH_ANY, &map,
                              &len, &bad) == SHOAL_EINVAL) {
        viewcheck_note (kept, reason, size, SHOAL_EINVAL,
                        "the command %s sent by shoal_view_send: a string that is not UTF-8 (at "
                        "byte %zu of its fields)",
                        command->name, bad);
        return SHOAL_EINVAL;
    }
    int rc = envelope_encode (command, frame, frame_size);
    if (rc == SHOAL_ETOOBIG)
        viewcheck_note (kept, reason, size, rc,
                        "the command %s sent by shoal_view_send: more than 1 MiB with its "
                        "envelope",
                        command->name);
    else if (rc)
        *kept = *kept ? *kept : rc;
    return rc;
}

//  shoal_view_fail: the apply fails whatever it returns after (*kept,
//  unless a misuse came first), for the reason format over args (the
//  module's words, over a misuse's). Returns SHOAL_EREJECTED.
static inline int viewcheck_fail (int *kept, char *reason, size_t size, const char *format,
                                  va_list args)
{
    if (!*kept)
        *kept = SHOAL_EREJECTED;
    if (format)
        vsnprintf (reason, size, format, args);
    return SHOAL_EREJECTED;
}

#endif
