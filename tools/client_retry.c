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

    What the line prints is what runs: a field argument holding a control
    byte (a CR, an ESC, a newline) is written as `key:=JSON` too, whose
    escapes are plain ASCII. Known limit: a word that still holds one (an
    option, a key with one) is written as $'...', and the line says it is
    for bash, zsh or ksh.

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

//  True if text holds a control byte (below 0x20, or 0x7f): printed raw,
//  it would move the cursor or recolour the terminal, and what the user
//  sees or copies would not be what runs.
static bool s_has_control (const char *text)
{
    for (const char *c = text; *c; c++)
        if ((unsigned char) *c < 0x20 || *c == 0x7f)
            return true;
    return false;
}

void client_shell_word (zchunk_t *line, const char *text, bool *bash)
{
    bool plain = *text != 0 && *text != '=';
    for (const char *c = text; plain && *c; c++)
        plain = isalnum ((unsigned char) *c) || strchr ("_./:=@%+,-", *c);
    zchunk_extend (line, " ", 1);
    if (plain) {
        zchunk_extend (line, text, strlen (text));
        return;
    }
    bool ansi = s_has_control (text);
    if (ansi) {
        *bash = true;
        zchunk_extend (line, "$", 1);
    }
    zchunk_extend (line, "'", 1);
    for (const char *c = text; *c; c++) {
        unsigned char byte = (unsigned char) *c;
        char octal[8];
        if (ansi && (byte < 0x20 || byte == 0x7f)) {
            snprintf (octal, sizeof octal, "\\%03o", byte);
            zchunk_extend (line, octal, strlen (octal));
        } else if (ansi && (byte == '\'' || byte == '\\')) {
            octal[0] = '\\';
            octal[1] = (char) byte;
            zchunk_extend (line, octal, 2);
        } else if (byte == '\'')
            zchunk_extend (line, "'\\''", 4);
        else
            zchunk_extend (line, c, 1);
    }
    zchunk_extend (line, "'", 1);
}

char *client_retry_command (const char *command, const client_options_t *opts, int count,
                            char **args, const char *id)
{
    zchunk_t *line = zchunk_new ("shoal", 5);
    if (!line)
        return NULL;
    bool bash = false;
    client_shell_word (line, command, &bash);
    client_shell_word (line, "--id", &bash);
    client_shell_word (line, id, &bash);
    if (opts->created) { //  send's: the first send's time
        char created[32];
        snprintf (created, sizeof created, "%ld", opts->created);
        client_shell_word (line, "--created", &bash);
        client_shell_word (line, created, &bash);
    }
    const char *options[][2] = {{"--endpoint", opts->endpoint},
                                {"--cluster", opts->endpoint ? NULL : opts->cluster},
                                {"--node", opts->endpoint ? NULL : opts->node},
                                {"--input", opts->input}};
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        if (options[i][1]) {
            client_shell_word (line, options[i][0], &bash);
            client_shell_word (line, options[i][1], &bash);
        }
    if (opts->timeout_ms) {
        char timeout[32];
        snprintf (timeout, sizeof timeout, "%ld", opts->timeout_ms);
        client_shell_word (line, "--timeout", &bash);
        client_shell_word (line, timeout, &bash);
    }
    if (opts->wait)
        client_shell_word (line, "--wait", &bash);

    bool dashed = false;
    for (int i = 0; i < count; i++)
        dashed = dashed || args[i][0] == '-';
    if (dashed)
        client_shell_word (line, "--", &bash);
    for (int i = 0; i < count; i++)
        client_shell_word (line, args[i], &bash);
    //  Still --input -: fields the line could not hold (see the top).
    bool stdin_again = opts->input && streq (opts->input, "-");
    const char *comment = stdin_again && bash ? "  # with the same JSON on stdin again, in bash, "
                                                "zsh or ksh (it has $'...' quoting)"
                          : stdin_again       ? "  # with the same JSON on stdin again"
                          : bash              ? "  # in bash, zsh or ksh (it has $'...' quoting)"
                                              : "";
    zchunk_extend (line, comment, strlen (comment));
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

char *client_retry_field_from_end (const uint8_t *payload, size_t size, uint32_t from_end)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    const msgpack_object *map = map_unpack (&unpacked, payload, size);
    uint32_t fields = map ? map->via.map.size : 0;
    char *word = from_end >= 1 && from_end <= fields
                     ? s_field_argument (&map->via.map.ptr[fields - from_end])
                     : NULL;
    msgpack_unpacked_destroy (&unpacked);
    return word;
}

bool client_retry_needs_json (const char *word)
{
    return s_has_control (word);
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
