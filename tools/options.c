/*  options.c - a command's options as one table (see options.h).

    getopt_long runs in its "return in order" mode ("-" first in the short
    options): each positional argument comes back as it is met, whatever
    POSIXLY_CORRECT says, and is set aside; getopt's own messages are off
    (":"), so every error is said here in shoal's words.
*/
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define OPTIONS_MAX 32      //  entries in a table at most
#define OPTION_VAL_BASE 256 //  getopt_long's val of table entry i: base + i

bool options_int (const char *command, const char *where, const char *text, long min, long max,
                  long *value)
{
    //  Digits, after a '-' at most: strtol also takes " 5" and "+5".
    const char *digits = text[0] == '-' ? text + 1 : text;
    char *end;
    errno = 0;
    long parsed = strtol (text, &end, 10);
    if (*digits < '0' || *digits > '9' || errno || *end || end == text || parsed < min ||
        parsed > max) {
        fprintf (stderr, "shoal %s: %s must be an integer from %ld to %ld, not '%s'\n", command,
                 where, min, max, text);
        return false;
    }
    *value = parsed;
    return true;
}

//  Stores number into the integer (or bool) of size bytes at value.
static void s_store (void *value, size_t size, long number)
{
    if (size == sizeof (int64_t)) {
        int64_t wide = number;
        memcpy (value, &wide, size);
    } else if (size == sizeof (int32_t)) {
        int32_t narrow = (int32_t) number;
        memcpy (value, &narrow, size);
    } else if (size == sizeof (bool))
        *(bool *) value = number != 0;
    else
        abort (); //  a table entry of a type options.h does not take
}

//  The index of text among words ("a|b"), or -1.
static long s_word (const char *words, const char *text)
{
    size_t length = strlen (text);
    long index = 0;
    for (const char *word = words; word; index++) {
        const char *bar = strchr (word, '|');
        size_t word_length = bar ? (size_t) (bar - word) : strlen (word);
        if (length && word_length == length && memcmp (word, text, length) == 0)
            return index;
        word = bar ? bar + 1 : NULL;
    }
    return -1;
}

//  Checks text and stores it as option o says. Returns 0 or OPTIONS_ERROR
//  (said on stderr).
static int s_apply (const option_t *o, const char *command, const char *where, const char *text)
{
    long number;
    switch (o->kind) {
    case OPTION_FLAG:
        number = text ? s_word ("false|true", text) : 1;
        if (number < 0) {
            fprintf (stderr, "shoal %s: %s is true or false, not '%s'\n", command, where, text);
            return OPTIONS_ERROR;
        }
        *(bool *) o->value = number == 1;
        return 0;
    case OPTION_STRING:
        if (!*text) {
            fprintf (stderr, "shoal %s: %s must not be empty\n", command, where);
            return OPTIONS_ERROR;
        }
        *(const char **) o->value = text;
        return 0;
    case OPTION_COUNT:
        *(bool *) o->given = true;
        if (!text)
            return 0;
        //  fall through
    case OPTION_INT:
        if (!options_int (command, where, text, o->min, o->max, &number))
            return OPTIONS_ERROR;
        s_store (o->value, o->size, number);
        return 0;
    case OPTION_WORD:
        number = s_word (o->words, text);
        if (number < 0) {
            //  "a|b|c" is said "a, b or c".
            char said[256] = "";
            size_t used = 0;
            for (const char *word = o->words; *word && used < sizeof said;) {
                size_t length = strcspn (word, "|");
                const char *next = word + length + (word[length] ? 1 : 0);
                used += (size_t) snprintf (said + used, sizeof said - used, "%s%.*s",
                                           word == o->words ? ""
                                           : *next          ? ", "
                                                            : " or ",
                                           (int) length, word);
                word = next;
            }
            fprintf (stderr, "shoal %s: %s is %s, not '%s'\n", command, where, said, text);
            return OPTIONS_ERROR;
        }
        s_store (o->value, o->size, number);
        return 0;
    case OPTION_LIST: {
        int *count = o->given;
        if (!*text) { //  --module '' was taken, and loaded "./"
            fprintf (stderr, "shoal %s: %s must not be empty\n", command, where);
            return OPTIONS_ERROR;
        }
        if (*count >= o->max) {
            fprintf (stderr, "shoal %s: %s is given more than %ld times\n", command, where, o->max);
            return OPTIONS_ERROR;
        }
        ((const char **) o->value)[(*count)++] = text;
        return 0;
    }
    }
    return OPTIONS_ERROR;
}

int options_set (const option_t *table, const char *command, const char *where, const char *name,
                 const char *text)
{
    for (const option_t *o = table; o->name; o++)
        if (strcmp (o->name, name) == 0) {
            if (!text && o->kind != OPTION_FLAG && o->kind != OPTION_COUNT) {
                fprintf (stderr, "shoal %s: %s needs a value\n", command, where);
                return OPTIONS_ERROR;
            }
            return s_apply (o, command, where, text);
        }
    return OPTIONS_UNKNOWN;
}

//  Writes into names (size bytes) the options of table (and help) that
//  start with the name given in arg ("--NAME" or "--NAME=VALUE"), as
//  "--a, --b", if there are two or more: getopt_long refuses such an
//  abbreviation as it refuses an unknown one. Returns how many there are.
static int s_ambiguous (const option_t *table, const char *arg, char *names, size_t size)
{
    const char *name = arg + 2;
    size_t len = strcspn (name, "=");
    int count = 0;
    names[0] = 0;
    for (size_t i = 0;; i++) {
        const char *candidate = table[i].name ? table[i].name : "help"; //  help, last
        if (len && strncmp (candidate, name, len) == 0) {
            size_t used = strlen (names);
            snprintf (names + used, size - used, "%s--%s", count ? ", " : "", candidate);
            count++;
        }
        if (!table[i].name)
            return count;
    }
}

//  Says what is wrong with the option getopt_long just refused with c
//  ('?' or ':') and returns OPTIONS_ERROR.
static int s_refused (const option_t *table, const char *command, int c, const char *arg)
{
    char names[512];
    bool long_form = strncmp (arg, "--", 2) == 0;
    if (c == ':')
        fprintf (stderr, "shoal %s: %s needs a value", command, arg);
    else if (optopt >= OPTION_VAL_BASE)
        fprintf (stderr, "shoal %s: --%s takes no value", command,
                 table[optopt - OPTION_VAL_BASE].name);
    else if (optopt == 'h' && long_form) //  --help=x
        fprintf (stderr, "shoal %s: --help takes no value", command);
    else if (long_form && s_ambiguous (table, arg, names, sizeof names) > 1)
        fprintf (stderr, "shoal %s: %.*s is ambiguous: %s", command, (int) (strcspn (arg, "=")),
                 arg, names);
    else if (optopt)
        fprintf (stderr, "shoal %s: unknown option '-%c'", command, optopt);
    else
        fprintf (stderr, "shoal %s: unknown option '%s'", command, arg);
    fprintf (stderr, " (see shoal %s --help; -- ends the options)\n", command);
    return OPTIONS_ERROR;
}

int options_parse (const option_t *table, int argc, char **argv, void (*help) (FILE *))
{
    const char *command = argv[0];
    struct option longs[OPTIONS_MAX + 2];
    size_t n = 0;
    for (; table[n].name; n++) {
        if (n == OPTIONS_MAX)
            abort (); //  a table longer than OPTIONS_MAX
        int has_arg = table[n].kind == OPTION_FLAG    ? no_argument
                      : table[n].kind == OPTION_COUNT ? optional_argument
                                                      : required_argument;
        longs[n] = (struct option){table[n].name, has_arg, NULL, OPTION_VAL_BASE + (int) n};
    }
    longs[n++] = (struct option){"help", no_argument, NULL, 'h'};
    longs[n] = (struct option){NULL, 0, NULL, 0};

    char **positional = calloc ((size_t) argc + 1, sizeof (char *));
    if (!positional) {
        fprintf (stderr, "shoal %s: out of memory\n", command);
        return OPTIONS_ERROR;
    }
    int count = 0, rc = 0, c;
    bool seen[OPTIONS_MAX] = {false}; //  table entries met on this command line
    opterr = 0;
    optind = 0; //  glibc: start over, forgetting any earlier scan
    while (rc == 0 && (c = getopt_long (argc, argv, "-:h", longs, NULL)) != -1) {
        if (c == 1)
            positional[count++] = optarg;
        else if (c == 'h') {
            help (stdout);
            rc = OPTIONS_HELP;
        } else if (c < OPTION_VAL_BASE)
            rc = s_refused (table, command, c, argv[optind - 1]);
        else {
            const option_t *o = &table[c - OPTION_VAL_BASE];
            if (o->once && seen[c - OPTION_VAL_BASE]) {
                fprintf (stderr,
                         "shoal %s: --%s given twice (it takes one value; see shoal %s --help)\n",
                         command, o->name, command);
                rc = OPTIONS_ERROR;
                break;
            }
            seen[c - OPTION_VAL_BASE] = true;
            const char *text = optarg;
            if (o->kind == OPTION_COUNT && !text && optind < argc &&
                isdigit ((unsigned char) argv[optind][0]))
                text = argv[optind++];
            char where[64];
            snprintf (where, sizeof where, "--%s", o->name);
            rc = s_apply (o, command, where, text);
        }
    }
    //  What follows "--" is already last; the positionals met go before it.
    int first = optind - count;
    if (rc == 0)
        memcpy (argv + first, positional, (size_t) count * sizeof (char *));
    free (positional);
    return rc == 0 ? first : rc;
}
