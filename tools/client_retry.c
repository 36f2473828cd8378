/*  client_retry.c - the command line that retries a send or transfer
    safely (client_cmd.h): the same request under the same id, which the
    node answers as the first one's duplicate, quoted for the shell.

    It is built from the parsed options, not from argv, whose positional
    arguments options_parse moved. Fields read from stdin (send --input -)
    cannot be read again by the line: they are written into it as
    `key:=JSON` arguments, printed by json.h, which json_input.c packs back
    into the same bytes (integers as integers, doubles with a fraction or
    an exponent, bytes as {"$bytes": ...}, keys in their order), so the
    request's digest is the first one's. Known limit: a field whose key
    cannot be an argument (empty, holding '=' or a control character) or
    whose argument exec would refuse (128 KiB or more) leaves the line
    with `--input -` and a comment saying to give it the same input again.

    One thread; no state.
*/
#include "client_cmd.h"

#include <ctype.h>
#include <czmq.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

//  Linux's MAX_ARG_STRLEN: the longest argument execve takes, its NUL
//  included.
#define RETRY_ARGUMENT_MAX (128 * 1024)

//  Appends text to line, after a space, in single quotes unless it needs
//  none.
static void s_shell_word (zchunk_t *line, const char *text)
{
    bool plain = *text != 0;
    for (const char *c = text; plain && *c; c++)
        plain = isalnum ((unsigned char) *c) || strchr ("_./:=@%+,-", *c);
    zchunk_extend (line, " ", 1);
    if (plain) {
        zchunk_extend (line, text, strlen (text));
        return;
    }
    zchunk_extend (line, "'", 1);
    for (const char *c = text; *c; c++)
        if (*c == '\'')
            zchunk_extend (line, "'\\''", 4);
        else
            zchunk_extend (line, c, 1);
    zchunk_extend (line, "'", 1);
}

char *client_retry_command (const char *command, const client_options_t *opts, int count,
                            char **args, const char *id)
{
    zchunk_t *line = zchunk_new ("shoal", 5);
    if (!line)
        return NULL;
    s_shell_word (line, command);
    s_shell_word (line, "--id");
    s_shell_word (line, id);
    const char *options[][2] = {{"--endpoint", opts->endpoint},
                                {"--cluster", opts->endpoint ? NULL : opts->cluster},
                                {"--node", opts->endpoint ? NULL : opts->node},
                                {"--input", opts->input}};
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        if (options[i][1]) {
            s_shell_word (line, options[i][0]);
            s_shell_word (line, options[i][1]);
        }
    if (opts->timeout_ms) {
        char timeout[32];
        snprintf (timeout, sizeof timeout, "%ld", opts->timeout_ms);
        s_shell_word (line, "--timeout");
        s_shell_word (line, timeout);
    }
    if (opts->wait)
        s_shell_word (line, "--wait");
    bool dashed = false;
    for (int i = 0; i < count; i++)
        dashed = dashed || args[i][0] == '-';
    if (dashed)
        s_shell_word (line, "--");
    for (int i = 0; i < count; i++)
        s_shell_word (line, args[i]);
    //  Still --input -: fields the line could not hold (see the top).
    const char *stdin_again = "  # with the same JSON on stdin again";
    if (opts->input && streq (opts->input, "-"))
        zchunk_extend (line, stdin_again, strlen (stdin_again));
    zchunk_extend (line, "", 1);
    char *text = strdup ((const char *) zchunk_data (line));
    zchunk_destroy (&line);
    return text;
}

//  Returns field as the argument "KEY:=JSON" (free() it), or NULL if it
//  cannot be one (see the top) or memory ran out.
static char *s_field_argument (const msgpack_object_kv *field)
{
    const msgpack_object *key = &field->key;
    if (key->type != MSGPACK_OBJECT_STR || key->via.str.size == 0)
        return NULL;
    for (uint32_t i = 0; i < key->via.str.size; i++) {
        unsigned char c = (unsigned char) key->via.str.ptr[i];
        if (c == '=' || c < 0x20 || c == 0x7f)
            return NULL;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *file = open_memstream (&text, &len);
    if (!file)
        return NULL;
    fwrite (key->via.str.ptr, 1, key->via.str.size, file);
    fputs (":=", file);
    json_object (file, &field->val);
    if (fclose (file) != 0 || len + 1 > RETRY_ARGUMENT_MAX) {
        free (text);
        return NULL;
    }
    return text;
}

char **client_retry_fields (const uint8_t *payload, size_t size, int leave, int *count)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *map = map_unpack (&unpacked, payload, size);
    char **words = NULL;
    if (map && leave >= 0 && (uint32_t) leave <= map->via.map.size) {
        *count = (int) (map->via.map.size - (uint32_t) leave);
        words = calloc ((size_t) *count + 1, sizeof (char *));
    }
    for (int i = 0; words && i < *count; i++)
        if (!(words[i] = s_field_argument (&map->via.map.ptr[i])))
            client_retry_fields_free (&words);
    msgpack_unpacked_destroy (&unpacked);
    return words;
}

void client_retry_fields_free (char ***words_p)
{
    char **words = *words_p;
    for (size_t i = 0; words && words[i]; i++)
        free (words[i]);
    free (words);
    *words_p = NULL;
}
