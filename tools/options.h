/*  options.h - a `shoal` command's options as one table, parsed with
    getopt_long. Options may come before, between or after the positional
    arguments; "--" ends them, so that a positional argument may start
    with '-'. Every entry stores its value through a pointer once it is
    checked (an integer in its range, a word from its list), and every
    error is said on stderr as "shoal COMMAND: ...".

    Conventions:
    1. A table ends with an entry whose name is NULL; --help and -h are
       always there and need no entry.
    2. Strings stored are borrowed from argv (or from what the caller
       passed to options_set): they live as long as those.
    3. One thread: getopt's globals are reset on each options_parse.
    4. An option given twice keeps the last value (a script may override
       an option it was handed: bench's --node-arg does), except an
       OPT_LIST, which keeps each, and an OPT_STRING_ONCE, which is bad
       usage: "--input given twice" (--input, --id, the idempotency key, and
       query's --prefix).
*/
#ifndef OPTIONS_H_INCLUDED
#define OPTIONS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum {
    OPTION_FLAG,   //  no value; sets a bool to true
    OPTION_STRING, //  a non-empty string into a const char *
    OPTION_INT,    //  an integer from min to max, into an integer of size bytes
    OPTION_COUNT,  //  OPTION_INT whose value may be left out ("--memory [N]");
                   //  sets the bool at given either way
    OPTION_WORD,   //  one of words ("sync|async"): its index into an int or bool
    OPTION_LIST,   //  repeatable non-empty string: appended to a const char *[max]
} option_kind_t;

typedef struct {
    const char *name;   //  the long name, without "--"
    option_kind_t kind; //  what it takes and how it is stored
    void *value;        //  where it is stored (see kind)
    size_t size;        //  OPTION_INT, OPTION_COUNT, OPTION_WORD: sizeof *value
    long min, max;      //  OPTION_INT, OPTION_COUNT: the range; OPTION_LIST: max entries
    const char *words;  //  OPTION_WORD: the words, '|' between them
    void *given;        //  OPTION_COUNT: bool *, set when given; OPTION_LIST: int *, the count
    bool once;          //  OPTION_STRING: given twice on the command line is bad usage
} option_t;

#define OPT_FLAG(n, p)                                                                             \
    {                                                                                              \
        .name = (n), .kind = OPTION_FLAG, .value = (p)                                             \
    }
#define OPT_STRING(n, p)                                                                           \
    {                                                                                              \
        .name = (n), .kind = OPTION_STRING, .value = (p)                                           \
    }
//  A string that a second occurrence would silently replace where the user
//  may well mean both (send --input): refused as "--NAME given twice".
#define OPT_STRING_ONCE(n, p)                                                                      \
    {                                                                                              \
        .name = (n), .kind = OPTION_STRING, .value = (p), .once = true                             \
    }
#define OPT_INT(n, p, lo, hi)                                                                      \
    {                                                                                              \
        .name = (n), .kind = OPTION_INT, .value = (p), .size = sizeof *(p), .min = (lo),           \
        .max = (hi)                                                                                \
    }
#define OPT_COUNT(n, p, lo, hi, g)                                                                 \
    {                                                                                              \
        .name = (n), .kind = OPTION_COUNT, .value = (p), .size = sizeof *(p), .min = (lo),         \
        .max = (hi), .given = (g)                                                                  \
    }
#define OPT_WORD(n, p, w)                                                                          \
    {                                                                                              \
        .name = (n), .kind = OPTION_WORD, .value = (p), .size = sizeof *(p), .words = (w)          \
    }
#define OPT_LIST(n, array, count)                                                                  \
    {                                                                                              \
        .name = (n), .kind = OPTION_LIST, .value = (array),                                        \
        .max = (long) (sizeof (array) / sizeof (array)[0]), .given = (count)                       \
    }
#define OPT_END                                                                                    \
    {                                                                                              \
        .name = NULL                                                                               \
    }

#define OPTIONS_ERROR -1   //  said on stderr: exit EXIT_USAGE
#define OPTIONS_HELP -2    //  help shown on stdout: exit 0
#define OPTIONS_UNKNOWN -3 //  options_set: no option of that name

//  Parses argv (argv[0] is the command's name) against table, storing each
//  option's value, and moves the positional arguments to the end of argv.
//  Returns the index of the first positional argument; OPTIONS_HELP after
//  help (stdout) for --help or -h; OPTIONS_ERROR after a message.
int options_parse (const option_t *table, int argc, char **argv, void (*help) (FILE *));

//  Sets the option called name from text (NULL for a flag) as if it came
//  from the command line; where names it in a message ("--workers",
//  "node.cfg:3: node/workers"). Returns 0; OPTIONS_UNKNOWN if table has
//  no such option (nothing said); OPTIONS_ERROR for a bad value (said).
int options_set (const option_t *table, const char *command, const char *where, const char *name,
                 const char *text);

//  Parses an integer from min to max into *value. Returns false, with
//  "shoal COMMAND: WHERE must be an integer from MIN to MAX" on stderr,
//  if text is not one.
bool options_int (const char *command, const char *where, const char *text, long min, long max,
                  long *value);

#endif
