/*  stuck_work.h - what the stuck-work commands (`shoal pending`, `explain`,
    `resend`, `resolve`; runtime/repair.h has what the nodes do for them)
    share: their options, a client of the right node, a request and its
    answer, a node's view of itself (its links, its store: its stats), and
    the rows of a pending answer. Internal to tools/.

    Files: stuck_work.c holds these; cmd_pending.c is `pending`,
    cmd_explain.c `explain`, cmd_resolve.c `resend` and `resolve`.

    Threads: the command's one thread.
*/
#ifndef STUCK_WORK_H_INCLUDED
#define STUCK_WORK_H_INCLUDED

#include "client_window.h"
#include "cluster.h"
#include "cluster_stats.h"
#include "commands.h"
#include "options.h"

#include <czmq.h>

#define REPAIR_TIMEOUT_MS 3000

//  The options of the four commands; each uses the ones it documents.
typedef struct {
    const char *endpoint;
    const char *cluster;
    long timeout_ms;
    long limit;
    long wait_ms;
    bool stalled;
    bool exit_code; //  pending --exit-code: exit 1 when it lists a command
    bool json;
    bool force;
    bool accept;            //  resolve --accept: the command ran, as the operator found
    long silent_for_ms;     //  resolve --force's --silent-for, -1 if not given
    bool even_if_reachable; //  resolve --force of a command whose target's node this
                            //  client reaches (stopped, frozen, cut off): let through
    const char *reject;
    const char *reason;
} stuck_options_t;

//  Parses the options into opts (defaults first) and resolves the target
//  (--endpoint or --cluster, as client_target). Returns the index of the
//  first operand, or options_parse's negative code (OPTIONS_HELP after
//  --help, printed with help).
int stuck_parse (int argc, char **argv, stuck_options_t *opts, void (*help) (FILE *));

//  A client of node (NULL: any node) of the cluster, or of the endpoint,
//  as cmd_connect makes it: NULL after a message, and the command exits
//  EXIT_USAGE. The caller destroys it with client_destroy.
client_t *stuck_connect (const char *command, const stuck_options_t *opts, const char *node);

//  Asks to/name with payload (may be NULL) and waits for the answer, at
//  most timeout_ms in all. Returns 0 with *reply to close, or
//  SHOAL_ETIMEOUT / another code of client_call (SHOAL_EAUTH: say it with
//  cmd_refused).
int stuck_ask (client_t *client, envelope_kind_t kind, const char *to, const char *name,
               const uint8_t *payload, size_t size, long timeout_ms, client_reply_t *reply);

//  Whether stuck_ask_owner asked an actor's node directly, and how it went.
typedef enum {
    STUCK_DIRECT_NONE,     //  not asked: the node asked first answered
    STUCK_DIRECT_ANSWERED, //  asked, and it answered: the client is now its alone
    STUCK_DIRECT_SILENT,   //  asked, and no answer in time (it may have taken it)
} stuck_direct_state_t;
typedef struct {
    stuck_direct_state_t state;
    char node[64]; //  the node asked directly ("" if none)
    int rc;        //  SILENT: the direct ask's code (SHOAL_ENET: no link to it came up, so
                   //  nothing was sent; SHOAL_EAUTH: it refused our key; else sent, unanswered)
} stuck_direct_t;

//  stuck_ask of *client (any node of opts' cluster), and, when the node
//  asked answers that to's node is down or cut off from it (it did not
//  pass the request on: cmd_owner_down), once more of that node directly,
//  which a partition between nodes leaves answering its clients: if it
//  answers, *reply is its answer and *client a client of it alone; if not
//  (it is down, or frozen), *reply stays the first node's. direct says
//  which (zero it first); once it answered, later calls ask *client only.
int stuck_ask_owner (const char *command, const stuck_options_t *opts, client_t **client,
                     envelope_kind_t kind, const char *to, const char *name, const uint8_t *payload,
                     size_t size, long timeout_ms, client_reply_t *reply, stuck_direct_t *direct);

//  One node's link to another, as its stats say.
typedef struct {
    char name[CLUSTER_NAME_MAX + 1]; //  the other node
    bool up;                         //  this node's link to it is up ("peers")
    int heard;                       //  its link to this node: 1 heard lately, 0 silent,
                                     //  -1 not said (a node older than "peers_heard")
    int64_t silent_ms;               //  since it was last heard ("peers_silent_ms")
} stuck_link_t;

//  A node's view of itself, from its stats: its links, and its store.
typedef struct {
    bool answered; //  it answered the stats query
    bool linked;   //  it did not, but took our connection: a node stopped (SIGSTOP) or busy
    int count;
    stuck_link_t links[CLUSTER_MAX_NODES];
    char store[STATS_STORE_TEXT_MAX]; //  "its store failed a write 0.4s ago: ..."
                                      //  (stats_store_failing), or ""
} stuck_view_t;

#define STUCK_VIEW_MS 1500 //  a stats query waits at most this

//  Asks client's node for its stats, at most timeout_ms and STUCK_VIEW_MS,
//  and fills view (zeroed first) with its links and what
//  stats_store_failing says of its store. Returns view->answered: false
//  with no answer in time (or a refused key), view left zeroed.
bool stuck_view (client_t *client, long timeout_ms, stuck_view_t *view);

//  The name of the node that owns address in opts' cluster, into buf
//  (size bytes): "" without a cluster, or with one that cannot be read.
//  Returns buf.
const char *stuck_owner (const stuck_options_t *opts, const char *address, char *buf, size_t size);

//  True if address is an actor's address; else says so on stderr.
bool stuck_check_address (const char *command, const char *address);

//  ms since the epoch as ISO 8601 UTC with ms: 2026-12-01T22:48:09.123Z;
//  "?" for a time before 1970 or past what gmtime can say.
void stuck_iso (int64_t ms, char *buf, size_t size);

//  A duration in ms, short: 4.2s, 3m07s, 2h05m.
void stuck_age (int64_t ms, char *buf, size_t size);

//  One pending command, as a pending answer lists it.
typedef struct {
    char sender[SHOAL_ADDRESS_MAX + 1];
    char command[SHOAL_NAME_MAX + 1];
    char target[SHOAL_ADDRESS_MAX + 1];
    char id[2 * ENVELOPE_ID_SIZE + 1];
    char cancels[2 * ENVELOPE_ID_SIZE + 1];
    char node[64];        //  the sender's node ("" alone)
    char target_node[64]; //  the target's node ("" alone)
    char error[256];
    char why[512]; //  explain: why it is stalled
    int64_t attempts, first_sent, last_sent, age_ms;
    bool stalled, cancelling;
} stuck_row_t;

//  Reads the rows of a pending answer into rows (stuck_row_t, owned), the
//  target's node from cluster (may be NULL), the sender's node from node
//  (may be NULL); adds the answer's "truncated" to *truncated (may be
//  NULL). Returns the count added.
int stuck_rows_read (const client_reply_t *reply, const cluster_t *cluster, const char *node,
                     zlistx_t *rows, int64_t *truncated);

//  Prints "key":value on stdout, the value as a JSON string, after a comma
//  if comma.
void stuck_json_str (const char *key, const char *value, bool comma);

//  Prints row's fields on stdout as JSON members (without the braces).
void stuck_row_json (const stuck_row_t *row);

//  A zlistx destructor for rows.
void stuck_row_free (void **item);

//  The payload {stalled, limit} of a pending query, into buf. Returns its
//  size.
size_t stuck_pending_args (uint8_t *buf, size_t cap, bool stalled, long limit);

#endif
