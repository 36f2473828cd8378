/*  explain_dead.h - what `shoal explain` says of the dead letters of an
    actor (runtime/deadletter.h): the messages to it that its node set
    aside, or may (a suspect), each with why and the decision that ends
    it; and the replies to it that an operator dropped, which strand it
    (it never saw them, and nothing of them stays pending for a resend or
    a resolve). Internal to tools/; cmd_explain.c is its one user.

    Threads: the command's one thread.
*/
#ifndef EXPLAIN_DEAD_H_INCLUDED
#define EXPLAIN_DEAD_H_INCLUDED

#include "stuck_work.h"

//  Asks client's node for all its dead letters (the `shoal dead-letters
//  --all` query) and adds those addressed to address that are not decided
//  yet, or are replies an operator dropped, to list (owned by it: a new
//  list from explain_dead_list). Returns true if the node listed them;
//  else false, and why (size bytes) says why not.
zlistx_t *explain_dead_list (void);
bool explain_dead_letters_of (client_t *client, long timeout_ms, const char *address,
                              zlistx_t *list, char *why, size_t size);

//  The state ("dead", "suspect") and crashes of row's command as a dead
//  letter of its target's node (node: a cluster's node name, NULL alone),
//  if that node holds one not decided. True if it does: a command that
//  crashes the target's node is never answered, which the sender cannot
//  tell from a slow target.
bool explain_dead_letter (const stuck_options_t *opts, const char *node, const stuck_row_t *row,
                          char *state, size_t state_size, int64_t *crashes);

//  Prints list (of address) as text: each with its reason and the
//  dead-letters commands that decide it; or why it is not known (listed
//  false).
void explain_dead_text (zlistx_t *list, const char *address, bool listed, const char *why);

//  The same, as the JSON member "dead_letters" (null when not known, and
//  "dead_letters_unknown" says why), after a comma.
void explain_dead_json (zlistx_t *list, const char *address, bool listed, const char *why);

//  Says in the why of each row (a command address sent, not answered)
//  whose reply is in list, undecided or dropped, what holds it: its
//  reply came and crashes the node, or was dropped.
void explain_dead_replies (zlistx_t *list, const char *address, zlistx_t *rows);

#endif
