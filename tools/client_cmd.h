/*  client_cmd.h - what the client commands share (cmd_client.c: send,
    get, events, transfer; cmd_stats.c: stats): their options, the help
    text about the target, two helpers, and the retry line of send and
    transfer (client_retry.c). Internal to tools/.
*/
#ifndef CLIENT_CMD_H_INCLUDED
#define CLIENT_CMD_H_INCLUDED

#include "client.h"
#include "commands.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdio.h>

#define DEFAULT_TIMEOUT_MS 5000
#define CLUSTER_STATS_TIMEOUT_MS 1000 //  stats of a whole cluster: a node's answer
#define TRANSFER_GET_MS 1000          //  transfer --wait: one get's answer at most
#define CLIENT_RESEND_MS 1000         //  a request unanswered this long is sent again

typedef struct {
    const char *endpoint; //  a plain endpoint, or NULL when cluster is set
    const char *cluster;  //  a cluster file, or NULL when endpoint is set
    const char *node;     //  --node: that node of the cluster alone, or NULL
    const char *id;
    long timeout_ms; //  --timeout, 0 if not given (each command has its default)
    long from;
    bool wait;
    bool follow;          //  events: keep printing new ones
    bool json;            //  --json: taken, changes nothing (JSON is their only format)
    const char *retry;    //  the command line that retries this one safely, or NULL
    const char *input;    //  send --input: a file of a JSON object, "-" stdin
    bool cluster_ignored; //  --cluster given too, and --endpoint won
    long created;         //  send --created: the first send's time (ms since the epoch), 0 now
} client_options_t;

//  The options every client command's help lists, and how the target is
//  chosen.
#define TARGET_HELP                                                                                \
    "Where to send (the first that is given wins):\n"                                              \
    "  --endpoint E     one node's endpoint, plain (no CURVE)\n"                                   \
    "  --cluster FILE   a cluster's map (shoal cluster init): any node, with CURVE\n"              \
    "                   and the client certificate beside FILE; a node forwards\n"                 \
    "                   what it does not own\n"                                                    \
    "  $SHOAL_ENDPOINT, then $SHOAL_CLUSTER, then " CLIENT_DEFAULT_ENDPOINT "\n"                   \
    "  --node NAME      with --cluster or $SHOAL_CLUSTER: talk to node NAME only\n"                \
    "JSON is the only output: --json is accepted and changes nothing.\n\n"

//  Parses the options the client commands share and chooses the target.
//  Returns the index of the first positional argument, or OPTIONS_ERROR /
//  OPTIONS_HELP (see options.h).
int client_cmd_parse (int argc, char **argv, client_options_t *opts, void (*help) (FILE *));

//  Makes the client of every client command: to opts->endpoint, or to the
//  nodes of opts->cluster (or to opts->node alone). Returns it, or NULL
//  after a message (exit EXIT_USAGE: nothing was sent).
client_t *client_cmd_connect (const char *command, const client_options_t *opts);
//  Sends one request over client and waits for its reply, at most
//  timeout_ms (0: DEFAULT_TIMEOUT_MS) in all, sending it again under its id
//  every CLIENT_RESEND_MS meanwhile (*sends, if not NULL, gets how many
//  copies left). Prints a message and returns an exit code when there is
//  no reply (EXIT_USAGE for a request too big to send, which is not
//  sent); returns -1 with *reply to close when there is.
int client_cmd_call (const char *command, client_t *client, const client_options_t *opts,
                     const envelope_t *request, long timeout_ms, client_reply_t *reply, int *sends);
//  Prints a rejection as JSON on stdout ({"ok":false,"address",
//  "command", "id" if given, "code","reason"}) and returns EXIT_REJECTED.
int client_cmd_print_rejection (const char *address, const char *name, const char *id,
                                const char *id_hex, const client_reply_t *reply);

//  Connects to the target, sends one request and waits for its reply
//  (timeout_ms, 0: DEFAULT_TIMEOUT_MS), sending it again under its id
//  every CLIENT_RESEND_MS meanwhile (*sends, if not NULL, gets how many
//  copies left), disconnects. Prints a message and returns an exit code
//  when there is no reply; returns -1 with *reply (to close) when there is.
int client_cmd_call_once (const char *command, const client_options_t *opts,
                          const envelope_t *request, long timeout_ms, client_reply_t *reply,
                          int *sends);

//  Appends text to line, after a space, in single quotes unless it needs
//  none (a word starting with '=' does: zsh expands =name). A word holding
//  a control byte is written as $'...' with octal escapes, exact in bash,
//  zsh and ksh but not in POSIX sh; sets *bash then.
void client_shell_word (zchunk_t *line, const char *text, bool *bash);

//  The command line that sends the same request again with the same id
//  (id, a string as --id takes it): "shoal COMMAND --id ID", the target
//  as chosen (--endpoint, or --cluster and --node), --input, --timeout and
//  --wait if given, then the count positional arguments at args ("--"
//  first if one starts with '-'), each quoted for the shell; with
//  "--input -", a comment that stdin must hold the same JSON again. A
//  word with a control byte is written as $'...', with a comment that the
//  line is for bash, zsh or ksh.
//  The caller frees it with free(), NULL if memory ran out.
char *client_retry_command (const char *command, const client_options_t *opts, int count,
                            char **args, const char *id);

//  The fields of the map at payload (size bytes) but its last leave, as
//  "KEY:=JSON" arguments that `shoal send` packs into the same bytes, for
//  a retry line that must not read stdin again. Returns them, *count of
//  them and a NULL after, to free with client_retry_fields_free; NULL if
//  one cannot be written so (client_retry.c says which) or memory ran out.
char **client_retry_fields (const uint8_t *payload, size_t size, int leave, int *count);
//  The field of the map at payload from_end from its end (1: the last) as
//  one "KEY:=JSON" argument
//  (free() it), or NULL if it cannot be one or memory ran out.
char *client_retry_field_from_end (const uint8_t *payload, size_t size, uint32_t from_end);
//  True if an argument, printed as it is, would put a control byte in the
//  line: a field's should be written by client_retry_field.
bool client_retry_needs_json (const char *word);
//  Frees what client_retry_fields returned and sets *words_p to NULL.
void client_retry_fields_free (char ***words_p);

#endif
