/*  projection_cmd.c - the target and the NAME[@VERSION] of `shoal
    projections` and `shoal query`. See projection_cmd.h.

    Threads: the command's one thread.
*/
#include "projection_cmd.h"
#include "utf8.h"

#include <czmq.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int proj_target_open (proj_target_t *self, const char *command, proj_options_t *opts)
{
    memset (self, 0, sizeof *self);
    bool endpoint_given = opts->endpoint != NULL;
    if (opts->node && !endpoint_given)
        opts->cluster = client_cluster (opts->cluster); //  --node: a cluster's, if any
    client_target (opts->endpoint, opts->cluster, &opts->endpoint, &opts->cluster);
    if (opts->node && !opts->cluster) {
        fprintf (stderr, "shoal %s: --node names a node of a cluster: %s\n", command,
                 endpoint_given ? "--endpoint talks to one endpoint, leave out one of them"
                                : "give --cluster FILE (or set $SHOAL_CLUSTER)");
        return EXIT_USAGE;
    }
    self->timeout_ms = opts->timeout_ms ? opts->timeout_ms : PROJ_TIMEOUT_MS;
    char *error = NULL;
    if (opts->cluster && !(self->cluster = cluster_load (opts->cluster, &error))) {
        fprintf (stderr, "shoal %s: %s\n", command, error ? error : "out of memory");
        free (error);
        return EXIT_USAGE;
    }
    self->count = self->cluster ? cluster_node_count (self->cluster) : 1;
    self->ask = calloc ((size_t) self->count, sizeof (bool));
    self->nodes = calloc ((size_t) self->count, sizeof (node_stats_t));
    if (!self->ask || !self->nodes) {
        fprintf (stderr, "shoal %s: out of memory\n", command);
        proj_target_close (self);
        return EXIT_USAGE;
    }
    bool found = false;
    for (int i = 0; i < self->count; i++) {
        self->ask[i] = !opts->node || streq (opts->node, cluster_node_name (self->cluster, i));
        found |= self->ask[i];
    }
    if (!found) {
        fprintf (stderr, "shoal %s: no node %s in %s (its nodes:", command, opts->node,
                 opts->cluster);
        for (int i = 0; i < self->count; i++)
            fprintf (stderr, " %s", cluster_node_name (self->cluster, i));
        fprintf (stderr, ")\n");
        proj_target_close (self);
        return EXIT_USAGE;
    }
    self->sections = self->cluster && !opts->node;
    self->asker = cluster_asker_new (opts->cluster, self->cluster, opts->endpoint, &error);
    if (!self->asker) {
        fprintf (stderr, "shoal %s: %s\n", command, error ? error : "out of memory");
        free (error);
        proj_target_close (self);
        return EXIT_USAGE;
    }
    return 0;
}

void proj_target_close (proj_target_t *self)
{
    if (self->answers)
        cluster_stats_close (self->nodes, self->count);
    self->answers = false;
    cluster_asker_destroy (&self->asker);
    cluster_destroy (&self->cluster);
    free (self->ask);
    free (self->nodes);
    self->ask = NULL;
    self->nodes = NULL;
}

int proj_target_ask (proj_target_t *self, const char *name, const uint8_t *payload, size_t size)
{
    if (self->answers)
        cluster_stats_close (self->nodes, self->count);
    self->answers = true;
    return cluster_asker_ask (self->asker, "node/projections", name, payload, size, self->ask,
                              self->timeout_ms, self->nodes);
}

int proj_target_ask_one (proj_target_t *self, int i, const char *name, const uint8_t *payload,
                         size_t size, node_stats_t *answers)
{
    bool *ask = calloc ((size_t) self->count, sizeof (bool));
    if (!ask) { //  as a node that did not answer: closing it is harmless
        memset (answers, 0, (size_t) self->count * sizeof (node_stats_t));
        snprintf (answers[i].error, sizeof answers[i].error, "out of memory");
        return 0;
    }
    ask[i] = true;
    int answered = cluster_asker_ask (self->asker, "node/projections", name, payload, size, ask,
                                      self->timeout_ms, answers);
    free (ask);
    return answered;
}

bool proj_node_answered (const proj_target_t *self, int i)
{
    return self->ask[i] && self->nodes[i].up;
}

int proj_answer_failure (const proj_target_t *self, int i, const node_stats_t *node,
                         const char *command, cmd_failure_t *failure)
{
    char who[CLUSTER_NAME_MAX + 16] = "";
    if (self->cluster)
        snprintf (who, sizeof who, "node %s: ", node->name);
    client_t *client = cluster_asker_client (self->asker, i);
    if (!node->up) {
        if (node->refused && cmd_refused (command, client, SHOAL_EAUTH, failure))
            return EXIT_NO_ANSWER;
        char why[512];
        cmd_silence_why (client, false, why, sizeof why);
        return cmd_fail (failure, command, EXIT_NO_ANSWER, "no_answer",
                         "%sno answer from %s within %ld ms%s%s", who, node->endpoint,
                         self->timeout_ms, why[0] ? ": " : "", why);
    }
    if (!node->reply.ok)
        return cmd_fail (failure, command, EXIT_REJECTED, node->reply.code, "%s%s: %s", who,
                         node->reply.code, node->reply.reason);
    return cmd_fail (failure, command, EXIT_REJECTED, "bad_answer", "%s%s", who, node->error);
}

int proj_node_failure (const proj_target_t *self, int i, const char *command,
                       cmd_failure_t *failure)
{
    return proj_answer_failure (self, i, &self->nodes[i], command, failure);
}

//  True if name is a projection's name: [a-z][a-z0-9_-]*, SHOAL_TYPE_MAX
//  bytes at most (shoal.h).
static bool s_name_ok (const char *name, size_t length)
{
    if (length == 0 || length > SHOAL_TYPE_MAX || name[0] < 'a' || name[0] > 'z')
        return false;
    for (size_t i = 0; i < length; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
              name[i] == '_' || name[i] == '-'))
            return false;
    return true;
}

int proj_name_parse (const char *command, const char *text, char *name, size_t size,
                     uint32_t *version)
{
    const char *at = strchr (text, '@');
    size_t length = at ? (size_t) (at - text) : strlen (text);
    *version = 0;
    char quoted[160]; //  one line, whatever its bytes
    utf8_quote (quoted, sizeof quoted, text, strlen (text), '\'');
    if (!s_name_ok (text, length) || length >= size) {
        fprintf (stderr,
                 "shoal %s: %s is not NAME[@VERSION]: a name is [a-z][a-z0-9_-]*, at most %d "
                 "bytes (see shoal %s --help)\n",
                 command, quoted, SHOAL_TYPE_MAX, command);
        return EXIT_USAGE;
    }
    if (at) {
        char *end;
        errno = 0;
        unsigned long long number = strtoull (at + 1, &end, 10);
        if (errno || *end || end == at + 1 || at[1] < '0' || at[1] > '9' || number < 1 ||
            number > UINT32_MAX) {
            fprintf (stderr,
                     "shoal %s: %s is not NAME[@VERSION]: a version is an integer from 1 to "
                     "%lu (see shoal %s --help)\n",
                     command, quoted, (unsigned long) UINT32_MAX, command);
            return EXIT_USAGE;
        }
        *version = (uint32_t) number;
    }
    snprintf (name, size, "%.*s", (int) length, text);
    return 0;
}
