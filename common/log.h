/*  log.h - the node's log: one line per notable event on stderr, with the
    time (UTC, ms) and the level:

        2026-12-01T22:41:13.123Z INFO shoal node: peer n2 (tcp://...) is up

    and, after the time, the node's name when it has one (a node of a
    cluster: several nodes' lines may share one terminal, under `shoal
    cluster up`):

        2026-12-01T22:41:13.123Z n1 INFO shoal node: peer n2 (tcp://...) is up

    Conventions:
    1. One process-wide level (default info); lines below it cost one
       atomic load and are not formatted.
    2. A line is written with one stdio call, so lines of different
       threads never interleave. Any thread may log.
    3. A message says what happened in the domain's words, without a
       trailing newline (one is added).
*/
#ifndef SHOAL_LOG_H_INCLUDED
#define SHOAL_LOG_H_INCLUDED

#include "shoal_base.h" //  shoal_log_level_t, which modules see too
#include <stdbool.h>
#include <stdint.h>

#define LOG_LINE_MAX 1024 //  bytes of a line at most: longer ones are cut

//  The words of the levels, in their order: the value of --log-level.
#define SHOAL_LOG_LEVELS "debug|info|warn|error"

#define LOG_NAME_MAX 64 //  bytes of the name at most, escaped as a line is

//  Sets the name every line carries after its time (NULL or "": none),
//  control bytes escaped. Call it before any other thread logs.
void log_set_name (const char *name);

//  For a command-line tool (not a node): its lines read as its messages
//  do, "COMMAND: warning: TEXT" ("error: " for an error, nothing for the
//  rest), without the time. NULL: a node's lines again. Call it before any
//  other thread logs.
void log_set_command (const char *command);

//  Sets the process-wide level: lines below it are not written.
void log_set_level (shoal_log_level_t level);
shoal_log_level_t log_level (void);

//  True if a line at level would be written (to skip costly arguments).
bool log_enabled (shoal_log_level_t level);

//  Writes one line at level with printf's format. Can't fail (a line
//  longer than 1 KiB is cut).
void log_write (shoal_log_level_t level, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

//  For a line said at most once every every_ms by its caller (its own
//  *logged_at and *count, 0 at first, per thread or object): counts one
//  more occurrence; true when the line is due, with *said the
//  occurrences it speaks for (since the last such line), and the count
//  starts again.
bool log_due (int64_t *logged_at, uint64_t *count, int64_t every_ms, uint64_t *said);

#define log_debug(...) log_write (SHOAL_LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_write (SHOAL_LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_write (SHOAL_LOG_WARN, __VA_ARGS__)
#define log_error(...) log_write (SHOAL_LOG_ERROR, __VA_ARGS__)

#endif
