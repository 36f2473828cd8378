/*  test_log.c - common/log.c, the node's log on stderr: one line per
    call, with time and level; the level filter; and text that holds a
    control character (an operator's resolve --reason, a $USER, a module's
    shoal_log) written escaped, so that a reason with a newline cannot
    split a line or forge one ("ticket 1\n2026-... ERROR forged" was two
    lines, the second looking like the node's own). And utf8_quote, which
    quotes what someone else wrote into a line: C1 controls and U+2028/9
    escaped too.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "log.h"
#include "stderr_capture.h"
#include "utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  Runs log_write (level, "%s", text) with stderr in a file; what it wrote
//  into out (size bytes).
static void s_logged (shoal_log_level_t level, const char *text, char *out, size_t size)
{
    stderr_capture_t capture;
    stderr_capture_begin (&capture);
    log_write (level, "said: %s", text);
    stderr_capture_end (&capture, out, size);
}

static void test_one_line (void **state)
{
    (void) state;
    char out[2048];
    s_logged (SHOAL_LOG_INFO, "plain words, é and all", out, sizeof out);
    assert_non_null (strstr (out, " INFO said: plain words, é and all\n"));
    assert_int_equal (out[4], '-'); //  2026-12-...
    //  A newline, a CR, a tab, an ESC: escaped, one line.
    s_logged (SHOAL_LOG_WARN, "ticket 1\n2026-12-05T00:00:00.000Z ERROR forged\r\t\033[2J", out,
              sizeof out);
    assert_non_null (strstr (out, " WARN said: ticket 1\\n2026-12-05T00:00:00.000Z ERROR "
                                  "forged\\r\\t\\u001b[2J\n"));
    assert_int_equal (strchr (out, '\n') - out + 1, (long) strlen (out));
    //  A byte that is not UTF-8 as \xNN (an overlong '/' is two such).
    s_logged (SHOAL_LOG_INFO, "a \xff b \xc0\xaf c \xe2\x82", out, sizeof out);
    assert_non_null (strstr (out, " INFO said: a \\xff b \\xc0\\xaf c \\xe2\\x82\n"));
    //  C1 controls (an 8-bit CSI, NEL) and the line separator as \u, as
    //  utf8_quote writes them (they went out raw).
    s_logged (SHOAL_LOG_INFO,
              "A\xc2\x9b"
              "2JB\xc2\x85"
              "C\xe2\x80\xa8"
              "D\xe2\x80\xa9"
              "E\xc2\xa0",
              out, sizeof out);
    assert_non_null (strstr (out, " INFO said: A\\u009b2JB\\u0085C\\u2028D\\u2029E\xc2\xa0\n"));
    //  Long text of two-byte characters is cut between them.
    char *wide = malloc (2 * LOG_LINE_MAX + 1);
    assert_non_null (wide);
    for (size_t i = 0; i < LOG_LINE_MAX; i++)
        memcpy (wide + 2 * i, "\xc3\xa9", 2);
    wide[2 * LOG_LINE_MAX] = 0;
    s_logged (SHOAL_LOG_INFO, wide, out, sizeof out);
    free (wide);
    assert_int_equal (utf8_valid_prefix (out, strlen (out)), strlen (out));
    assert_null (strstr (out, "\\x"));
    //  Long text is cut, still one line.
    char *long_text = malloc (4 * LOG_LINE_MAX);
    assert_non_null (long_text);
    for (size_t i = 0; i < 4 * LOG_LINE_MAX - 1; i++)
        long_text[i] = i % 2 ? '\n' : 'a';
    long_text[4 * LOG_LINE_MAX - 1] = 0;
    s_logged (SHOAL_LOG_ERROR, long_text, out, sizeof out);
    free (long_text);
    assert_true (strlen (out) <= LOG_LINE_MAX);
    assert_int_equal (strchr (out, '\n') - out + 1, (long) strlen (out));
}

static void test_level (void **state)
{
    (void) state;
    char out[256];
    log_set_level (SHOAL_LOG_WARN);
    s_logged (SHOAL_LOG_INFO, "hidden", out, sizeof out);
    assert_string_equal (out, "");
    s_logged (SHOAL_LOG_ERROR, "shown", out, sizeof out);
    assert_non_null (strstr (out, " ERROR said: shown\n"));
    log_set_level (SHOAL_LOG_INFO);
}

//  A node of a cluster names itself after the time, so that the lines of
//  several nodes sharing a terminal (`shoal cluster up`) tell which node
//  wrote them; a name's control bytes are escaped like a line's; none
//  again without it.
static void test_name (void **state)
{
    (void) state;
    char out[2048];
    log_set_name ("n2");
    s_logged (SHOAL_LOG_INFO, "peer n1 is up", out, sizeof out);
    assert_int_equal (out[23], 'Z');
    assert_string_equal (out + 24, " n2 INFO said: peer n1 is up\n");
    log_set_name ("n\n3");
    s_logged (SHOAL_LOG_WARN, "x", out, sizeof out);
    assert_string_equal (out + 24, " n\\n3 WARN said: x\n");
    log_set_name (NULL);
    s_logged (SHOAL_LOG_INFO, "alone", out, sizeof out);
    assert_string_equal (out + 24, " INFO said: alone\n");
}

//  A command-line tool's lines read as its messages do: "shoal get:
//  warning: ..." (a log line with its time and "WARN" before), escaped
//  as a line is; a node's again without it.
static void test_command (void **state)
{
    (void) state;
    char out[2048];
    log_set_command ("shoal get");
    s_logged (SHOAL_LOG_WARN, "key\nfile", out, sizeof out);
    assert_string_equal (out, "shoal get: warning: said: key\\nfile\n");
    s_logged (SHOAL_LOG_ERROR, "e", out, sizeof out);
    assert_string_equal (out, "shoal get: error: said: e\n");
    s_logged (SHOAL_LOG_INFO, "i", out, sizeof out);
    assert_string_equal (out, "shoal get: said: i\n");
    log_set_command (NULL);
    s_logged (SHOAL_LOG_INFO, "node", out, sizeof out);
    assert_string_equal (out + 24, " INFO said: node\n");
}

//  utf8_quote keeps a text one line for any reader: C0 and C1 controls,
//  DEL and U+2028/U+2029 escaped (NEL and the separators came out raw,
//  and a reply's reason printed on two lines), printable UTF-8 as it is.
static void test_quote_one_line (void **state)
{
    (void) state;
    static const struct {
        const char *text, *quoted;
    } cases[] = {
        {"a\nb", "'a\\nb'"},
        {"a\x01\x7f", "'a\\u0001\\u007f'"},
        {"p\xc2\x85q", "'p\\u0085q'"},            //  NEL
        {"\xc2\x80\xc2\x9f", "'\\u0080\\u009f'"}, //  C1's ends
        {"\xe2\x80\xa8|\xe2\x80\xa9", "'\\u2028|\\u2029'"},
        {"\xc2\xa0\xc3\xa9\xe2\x82\xac", "'\xc2\xa0\xc3\xa9\xe2\x82\xac'"}, //  printable
        {"\xff", "'\\xff'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[64];
        utf8_quote (out, sizeof out, cases[i].text, strlen (cases[i].text), '\'');
        if (strcmp (out, cases[i].quoted) != 0)
            fail_msg ("case %zu: quoted %s, expected %s", i, out, cases[i].quoted);
    }
}

//  utf8_plain: a string someone else wrote, printed on a terminal, moves
//  no cursor: C0 controls, DEL and C1 controls become '?', newlines stay
//  only for a whole text, printable UTF-8 is kept.
static void test_plain (void **state)
{
    (void) state;
    static const struct {
        const char *text, *plain;
        bool lines;
    } cases[] = {
        {"ab\x1b[2Jc", "ab?[2Jc", false},
        {"a\nb\r\x7f", "a?b??", false},
        {"a\nb\r", "a\nb?", true},
        {"p\xc2\x9b"
         "1m",
         "p??1m", false}, //  CSI as one C1 character
        {"p\x9b"
         "1m\xff",
         "p?1m?", false}, //  a lone CSI byte, and a byte no UTF-8 has
        {"\xc2\xa0\xc3\xa9\xe2\x96\x81", "\xc2\xa0\xc3\xa9\xe2\x96\x81", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[64];
        snprintf (text, sizeof text, "%s", cases[i].text);
        utf8_plain (text, cases[i].lines);
        if (strcmp (text, cases[i].plain) != 0)
            fail_msg ("case %zu: %s, expected %s", i, text, cases[i].plain);
    }
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_one_line),       cmocka_unit_test (test_level),
        cmocka_unit_test (test_name),           cmocka_unit_test (test_command),
        cmocka_unit_test (test_quote_one_line), cmocka_unit_test (test_plain),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
