/*  projection_cmd.h - what `shoal projections` (cmd_projections.c) and
    `shoal query` (cmd_query.c) share: their target (one endpoint, one
    node of a cluster, or every node of it, asked all at once through
    cluster_stats.h), the NAME[@VERSION] they take, and the printing of a
    node's refusal. Internal to tools/.

    Each node projects its own events, so with a cluster every node is
    asked and answers for itself: a node that is down, refuses or does not
    answer is said on stderr and never delays the others.

    Threads: the command's one thread.
*/
#ifndef PROJECTION_CMD_H_INCLUDED
#define PROJECTION_CMD_H_INCLUDED

#include "cluster.h"
#include "cluster_stats.h"
#include "commands.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define PROJ_TIMEOUT_MS 5000 //  every node's answer, at most, unless --timeout

//  The target options of both commands, in their option tables.
typedef struct {
    const char *endpoint; //  a plain endpoint, or NULL when cluster is set
    const char *cluster;  //  a cluster file, or NULL when endpoint is set
    const char *node;     //  --node: that node of the cluster alone, or NULL
    long timeout_ms;      //  --timeout, PROJ_TIMEOUT_MS if not given
} proj_options_t;

#define PROJ_TARGET_OPTIONS(opts)                                                                  \
    OPT_STRING ("endpoint", &(opts)->endpoint), OPT_STRING ("cluster", &(opts)->cluster),          \
        OPT_STRING ("node", &(opts)->node), OPT_INT ("timeout", &(opts)->timeout_ms, 1, 3600000)

//  The help lines about the target and the exit codes, shared.
#define PROJ_TARGET_HELP                                                                           \
    "Where (the first that is given wins): --endpoint E (one node), --cluster FILE\n"              \
    "(every node of the cluster, each answering for its own events; --node NAME:\n"                \
    "that node only), then $SHOAL_ENDPOINT, $SHOAL_CLUSTER, " CLIENT_DEFAULT_ENDPOINT ".\n"        \
    "--timeout MS: how long to wait for every node's answer (default 5000).\n\n"

//  Who is asked: one client per node, kept open.
typedef struct {
    cluster_t *cluster;     //  the map, or NULL for one endpoint
    cluster_asker_t *asker; //  clients
    int count;              //  nodes (1 for an endpoint)
    bool *ask;              //  per node: asked (--node picks one)
    node_stats_t *nodes;    //  per node: its last answer
    bool sections;          //  every node of a cluster: name each node's part
    bool answers;           //  nodes hold answers to close
    long timeout_ms;        //  per round
} proj_target_t;

//  Resolves the target of opts as the client commands do (client_target;
//  --node needs a cluster and names one of its nodes) and opens a client
//  per node. Returns 0, or EXIT_USAGE after a message "shoal COMMAND: ...".
int proj_target_open (proj_target_t *self, const char *command, proj_options_t *opts);
void proj_target_close (proj_target_t *self);

//  Asks every node asked for the query name with payload (may be NULL),
//  all at once, and waits at most the target's timeout for all. Earlier
//  answers are closed first. Returns how many answered.
int proj_target_ask (proj_target_t *self, const char *name, const uint8_t *payload, size_t size);

//  Asks node i alone for the query name with payload, and waits at most
//  the target's timeout. answers (count entries, the caller's) get its
//  answer at [i], the other nodes left down; close them with
//  cluster_stats_close. The answers of proj_target_ask stay as they are.
//  Returns 1 if node i answered, else 0.
int proj_target_ask_one (proj_target_t *self, int i, const char *name, const uint8_t *payload,
                         size_t size, node_stats_t *answers);

//  True if node i was asked and answered (accepted or not).
bool proj_node_answered (const proj_target_t *self, int i);

//  Says on stderr why node i has no accepted answer (no answer in time,
//  and why as its link was seen for an endpoint; its key refused as
//  cmd_refused says it; or the node's code and reason), as "shoal
//  COMMAND: [node N: ]...", and keeps it in failure (may be NULL: see
//  cmd_fail) for --json. Returns the exit code it stands for:
//  EXIT_NO_ANSWER or EXIT_REJECTED.
int proj_node_failure (const proj_target_t *self, int i, const char *command,
                       cmd_failure_t *failure);
//  The same for node i's answer node, one of proj_target_ask_one's.
int proj_answer_failure (const proj_target_t *self, int i, const node_stats_t *node,
                         const char *command, cmd_failure_t *failure);

//  Parses "NAME" or "NAME@VERSION" (NAME as shoal.h has it, VERSION from 1
//  to UINT32_MAX) into name (size bytes) and *version (0 if not given).
//  Returns 0, or EXIT_USAGE after "shoal COMMAND: 'TEXT' is not NAME[@VERSION]: why".
int proj_name_parse (const char *command, const char *text, char *name, size_t size,
                     uint32_t *version);

#endif
