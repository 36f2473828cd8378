/*  commands.h - one function per `shoal` command. Each takes the command's
    own argv (argv[0] is the command name) and returns the process's exit
    code.
*/
#ifndef COMMANDS_H_INCLUDED
#define COMMANDS_H_INCLUDED

#include "client.h"
#include "json.h"
#include "shoal.h"

#define EXIT_ACCEPTED 0
#define EXIT_REJECTED 1
#define EXIT_USAGE 2
#define EXIT_NO_ANSWER 3

typedef struct {
    const char *name;
    int (*run) (int argc, char **argv);
    const char *summary;
} command_t;

//  The command running ("cluster status" for a subcommand): the prefix of
//  its messages, "shoal NAME:", its log lines' and that of a failure to
//  write its output (shoal.c).
void cmd_set_name (const char *name);
//  Flushes stdout: true if what was written to it is lost (a full disk),
//  with *cause the flush's errno (0: an earlier write's); false if it was
//  written, or its reader is gone (| head -1: not a failure).
bool cmd_output_lost (int *cause);
//  A command that said its output could not be written, and what that
//  means (send: read it again), calls this: the driver says it no more.
void cmd_output_said (void);

int cmd_node (int argc, char **argv);
int cmd_send (int argc, char **argv);
int cmd_get (int argc, char **argv);
int cmd_events (int argc, char **argv);
int cmd_transfer (int argc, char **argv);
int cmd_stats (int argc, char **argv);
int cmd_demo (int argc, char **argv);
int cmd_bench (int argc, char **argv);
int cmd_cluster (int argc, char **argv);
//  `shoal cluster init` and `shoal cluster up`, argv[0] being the name their
//  messages give the command ("cluster init": "shoal cluster init: ...").
int cluster_init (int argc, char **argv);
int cluster_up (int argc, char **argv);
int cluster_status (int argc, char **argv);
//  cmd_cluster.c, for the cluster commands: the map's path (option, else
//  $SHOAL_CLUSTER, else DEFAULT_CLUSTER_FILE), and the map loaded, or NULL
//  after "shoal COMMAND: ..." on stderr.
#define DEFAULT_CLUSTER_FILE "cluster/cluster.cfg"
const char *cluster_cmd_path (const char *option);
struct _cluster_t *cluster_cmd_load (const char *command, const char *path);
int cmd_where (int argc, char **argv);
int cmd_check (int argc, char **argv);
int cmd_repair (int argc, char **argv);
//  Checks the format of every record in the stopped store in dir (read
//  from copy when not NULL: storecopy.h), and the holes in its streams,
//  and prints the counts on out; with replay, the bank's streams are
//  replayed through their types too (`shoal check`; not `repair`, which
//  judges any store). Returns how many records do not decode, holes and
//  refused events (1 if the store cannot be read at all).
typedef struct _storecopy_t storecopy_t;
size_t cmd_check_records (const char *dir, storecopy_t *copy, bool replay, FILE *out);
int cmd_pending (int argc, char **argv);
int cmd_explain (int argc, char **argv);
int cmd_resend (int argc, char **argv);
int cmd_resolve (int argc, char **argv);
int cmd_top (int argc, char **argv);
int cmd_deadletters (int argc, char **argv);
int cmd_projections (int argc, char **argv);
int cmd_query (int argc, char **argv);

//  True if address is an actor's address; else says why on stderr, as
//  "shoal COMMAND: ...", and returns false.
bool cmd_check_address (const char *command, const char *address);

//  The client of every command that talks to nodes (cmd_connect.c): to
//  endpoint (plain) if not NULL, else to node of the cluster whose file is
//  cluster (node NULL: any of its nodes), with the client certificate
//  beside the file. Returns it (client_destroy it), or NULL after saying
//  why on stderr as "shoal COMMAND: ..." (a malformed endpoint, a map or
//  client certificate that cannot be read): the command exits
//  EXIT_USAGE, nothing sent.
client_t *cmd_connect (const char *command, const char *endpoint, const char *cluster,
                       const char *node);

//  Why a command failed, for its --json (cmd_failure.c): with --json,
//  every failure that ends a command prints one JSON object on stdout
//  with at least "ok":false, "code" and "reason", whichever its target,
//  besides its message on stderr and its exit code (bad usage, exit 2,
//  prints nothing there: nothing was asked). Codes: a node's own code
//  (unknown_type, not_found, ...), no_answer, key_refused, bad_answer.
#define CMD_REASON_MAX 1024
typedef struct {
    int exit_code;                    //  0: no failure kept
    char code[ENVELOPE_CODE_MAX + 1]; //  the JSON's "code"
    char reason[CMD_REASON_MAX];      //  the JSON's "reason", the stderr message's words
} cmd_failure_t;

//  Says the reason (printf's format) on stderr as "shoal COMMAND: REASON"
//  (command NULL: not said, the caller said it) and keeps it with code in
//  failure (may be NULL), unless failure holds one as bad already (no
//  answer outweighs the rest, as the exit of a command of several nodes
//  does). Returns exit_code.
int cmd_fail (cmd_failure_t *failure, const char *command, int exit_code, const char *code,
              const char *format, ...) __attribute__ ((format (printf, 5, 6)));
//  What the help of each command that follows the rule says of it.
#define JSON_FAILURE_HELP                                                                          \
    "With --json, a failure (exit 1 or 3) prints one JSON object on stdout too,\n"                 \
    "whatever the target: \"ok\":false, \"code\" (no_answer, key_refused,\n"                       \
    "bad_answer, or the node's code) and \"reason\" (also said on stderr).\n\n"

//  Keeps other's failure in failure as cmd_fail would (nothing if none).
void cmd_failure_keep (cmd_failure_t *failure, const cmd_failure_t *other);
//  Prints "ok":false,"code":C,"reason":R as members of the JSON object
//  being printed (comma: with a comma first); nothing if none is kept.
void cmd_failure_members (const cmd_failure_t *failure, bool comma);
//  Prints {"ok":false,"code":C,"reason":R} and a newline.
void cmd_failure_print (const cmd_failure_t *failure);
//  Why client, a client of one endpoint (client_new), has had no answer,
//  as its link was seen (client_no_answer_why), with what to do about a
//  node that answers only CURVE clients (use --cluster FILE; with
//  cluster_ignored, leave out --endpoint), into why (size bytes); "" when
//  it cannot tell (a cluster's client). Returns why.
const char *cmd_silence_why (client_t *client, bool cluster_ignored, char *why, size_t size);
//  How long a call with no answer waited, for its message: "within
//  TIMEOUT ms", or "(gave up after N ms of TIMEOUT)" when client's call
//  ended early, its node having ended the handshake (client NULL: the
//  former). Into text (size bytes); returns text.
const char *cmd_within (const client_t *client, long timeout_ms, char *text, size_t size);

//  If rc, what client_call or client_send over client returned, is
//  SHOAL_EAUTH (every node client talks to refused its key: nothing was
//  sent), says so on stderr as "shoal COMMAND: " and client_refusal's
//  message (which nodes, and what lets a client in), keeps it in failure
//  (may be NULL) as key_refused, and returns true: the command exits
//  EXIT_NO_ANSWER, as for a node that did not answer. Else says nothing
//  and returns false.
bool cmd_refused (const char *command, client_t *client, int rc, cmd_failure_t *failure);

//  If reply is the refusal of a node that could not pass the request on
//  to the owner of its actor (`unavailable`, its data naming the owner:
//  docs/PROTOCOL.md), writes the owner's name into node (size bytes) and
//  returns true: the owner did not answer, which every command says as
//  such (cmd_no_answer). Else returns false.
bool cmd_owner_down (const client_reply_t *reply, char *node, size_t size);

//  Says on stderr that node, which owns address, did not answer command
//  ("shoal COMMAND: no answer from node N about ADDRESS: REASON"), and
//  with json prints {"ok":false,"address",["command",]"code":"no_answer",
//  "node","reason"} on stdout (name, the request's, NULL: no "command").
//  Returns EXIT_NO_ANSWER.
int cmd_no_answer (const char *command, const char *address, const char *name, const char *node,
                   const char *reason, bool json);
//  The JSON line of cmd_no_answer, with code (no_answer there, else what
//  stopped a command about address: key_refused, a node's refusal):
//  {"ok":false,"address",["command",]"code",["node",]"reason"} (name or
//  node NULL: left out).
void cmd_failed_json (const char *address, const char *name, const char *node, const char *code,
                      const char *reason);

//  Who an operator's decision is recorded as (a resolve, a dead letter's
//  retry or drop): $USER, else the login of the effective user, else
//  "uid N", written into buf (size bytes). Returns buf. Can't fail.
const char *cmd_operator (char *buf, size_t size);

//  Whether reason (an operator's --reason, NULL: none given) is 1 to
//  ENVELOPE_REASON_MAX bytes of UTF-8; if not, says so on stderr as
//  "shoal COMMAND: ...". NULL is fine: the caller says if it is required.
bool cmd_reason_ok (const char *command, const char *reason);

//  For a request to address that no node of the cluster at cluster_path
//  answered: " (ADDRESS is node N's, by the cluster's map: ...)" into
//  note (size bytes), naming the owner; "" if address is not an actor's
//  or the file does not load.
void cmd_owner_note (const char *cluster_path, const char *address, char *note, size_t size);

//  Registers the bank in a registry: account, transfer and review, and
//  the projections bank_totals, account_transfers and large_debits.
int bank_register (shoal_registry_t *registry);

//  What the help of an operator's act says of who may (runtime/front_keys.c).
#define OPERATOR_HELP                                                                              \
    "An operator's act: a cluster's node takes it only from a certificate in its\n"                \
    "operators/ directory (`shoal cluster init` puts its client.cert there); one\n"                \
    "in clients/ alone is refused not_an_operator.\n\n"

#endif
