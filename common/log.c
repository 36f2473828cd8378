/*  log.c - the node's log on stderr. See log.h. Any thread.
 */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

static atomic_int s_level = SHOAL_LOG_INFO;

static const char *s_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void log_set_level (shoal_log_level_t level)
{
    atomic_store (&s_level, (int) level);
}

shoal_log_level_t log_level (void)
{
    return (shoal_log_level_t) atomic_load (&s_level);
}

bool log_enabled (shoal_log_level_t level)
{
    return (int) level >= atomic_load_explicit (&s_level, memory_order_relaxed);
}

void log_write (shoal_log_level_t level, const char *format, ...)
{
    if (!log_enabled (level) || level > SHOAL_LOG_ERROR)
        return;
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r (&now.tv_sec, &tm);
    char line[LOG_LINE_MAX];
    int n = snprintf (line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s ",
                      tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                      tm.tm_sec, (int) (now.tv_nsec / 1000000), s_names[level]);
    va_list args;
    va_start (args, format);
    if (n > 0 && n < (int) sizeof line)
        vsnprintf (line + n, sizeof line - (size_t) n, format, args);
    va_end (args);
    fprintf (stderr, "%s\n", line);
}
