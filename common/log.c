/*  log.c - the node's log on stderr. See log.h. Any thread.
 */
#include "log.h"
#include "utf8.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static atomic_int s_level = SHOAL_LOG_INFO;

static const char *s_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
static char s_name[LOG_NAME_MAX + 1];    //  the node's, after the time ("" none)
static char s_command[LOG_NAME_MAX + 1]; //  a tool's ("" none: a node's lines)

void log_set_level (shoal_log_level_t level)
{
    atomic_store (&s_level, (int) level);
}

shoal_log_level_t log_level (void)
{
    return (shoal_log_level_t) atomic_load (&s_level);
}

bool log_due (int64_t *logged_at, uint64_t *count, int64_t every_ms, uint64_t *said)
{
    ++*count;
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    int64_t ms = (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
    if (*logged_at && ms - *logged_at < every_ms)
        return false;
    *said = *count;
    *logged_at = ms;
    *count = 0;
    return true;
}

bool log_enabled (shoal_log_level_t level)
{
    return (int) level >= atomic_load_explicit (&s_level, memory_order_relaxed);
}

//  Copies text into out (size bytes, cut to fit) as one line of UTF-8: a
//  control character (a newline, a CR, an ESC), which a reason or a name
//  an operator or a module gave may hold, is written as JSON escapes it
//  (\n, \r, \t, \u001b), and so are the C1 controls (U+0080 to U+009F:
//  an 8-bit CSI, NEL) and the line and paragraph separators, as utf8_quote
//  escapes them, so that no line of the log is forged or split; a byte
//  that does not start a valid UTF-8 character is written as \xNN, so that
//  the log stays text (grep took a raw 0xff for a binary file's).
static void s_one_line (char *out, size_t size, const char *text)
{
    size_t used = 0, len = strlen (text);
    for (size_t at = 0; at < len && used + 1 < size;) {
        unsigned char c = (unsigned char) text[at];
        size_t valid = c < 0x80 ? 1 : utf8_char ((const uint8_t *) text + at, len - at);
        char escape[8] = "";
        if (c == '\n')
            snprintf (escape, sizeof escape, "\\n");
        else if (c == '\r')
            snprintf (escape, sizeof escape, "\\r");
        else if (c == '\t')
            snprintf (escape, sizeof escape, "\\t");
        else if (c < 0x20 || c == 0x7f)
            snprintf (escape, sizeof escape, "\\u%04x", c);
        else if (valid == 0)
            snprintf (escape, sizeof escape, "\\x%02x", c);
        else if (valid == 2 && c == 0xc2 && (uint8_t) text[at + 1] <= 0x9f)
            snprintf (escape, sizeof escape, "\\u%04x", (uint8_t) text[at + 1]); //  C1: CSI, NEL
        else if (valid == 3 && c == 0xe2 && (uint8_t) text[at + 1] == 0x80 &&
                 ((uint8_t) text[at + 2] == 0xa8 || (uint8_t) text[at + 2] == 0xa9))
            snprintf (escape, sizeof escape, "\\u%04x", 0x2000 | ((uint8_t) text[at + 2] - 0x80));
        const char *write = escape[0] ? escape : text + at;
        size_t write_len = escape[0] ? strlen (escape) : valid;
        if (used + write_len + 1 > size)
            break; //  cut between characters
        memcpy (out + used, write, write_len);
        used += write_len;
        at += valid ? valid : 1; //  a byte escaped as \xNN is taken alone
    }
    out[used] = 0;
}

void log_set_name (const char *name)
{
    s_one_line (s_name, sizeof s_name, name ? name : "");
}

void log_set_command (const char *command)
{
    s_one_line (s_command, sizeof s_command, command ? command : "");
}

void log_write (shoal_log_level_t level, const char *format, ...)
{
    if (!log_enabled (level) || level > SHOAL_LOG_ERROR)
        return;
    if (s_command[0]) {
        char text[LOG_LINE_MAX], line[LOG_LINE_MAX];
        va_list args;
        va_start (args, format);
        vsnprintf (text, sizeof text, format, args);
        va_end (args);
        s_one_line (line, sizeof line, text);
        fprintf (stderr, "%s: %s%s\n", s_command,
                 level == SHOAL_LOG_WARN    ? "warning: "
                 : level == SHOAL_LOG_ERROR ? "error: "
                                            : "",
                 line);
        return;
    }
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r (&now.tv_sec, &tm);
    char line[LOG_LINE_MAX];
    int n =
        snprintf (line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s%s%s ",
                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  (int) (now.tv_nsec / 1000000), s_name, s_name[0] ? " " : "", s_names[level]);
    char text[LOG_LINE_MAX];
    text[0] = 0;
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    if (n > 0 && n < (int) sizeof line)
        s_one_line (line + n, sizeof line - (size_t) n, text);
    fprintf (stderr, "%s\n", line);
}
