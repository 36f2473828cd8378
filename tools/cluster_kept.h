/*  cluster_kept.h - `shoal cluster init --force` without losing the old
    cluster when the new one fails: each file it would replace is linked
    aside as NAME.force-old first, and put back on a failure (a failed
    --force took the old map and every key away). The new files are saved
    over their names (a temporary file renamed), so a link keeps the old
    content.
*/
#ifndef CLUSTER_KEPT_H_INCLUDED
#define CLUSTER_KEPT_H_INCLUDED

#include "cluster.h"
#include <czmq.h>
#include <stdbool.h>

//  Links each file of the cluster in dir that cluster would replace (the
//  map, the operator's certificate, each of its nodes' certificates) to
//  NAME.force-old, listed in *kept (to end with cluster_kept_end, also on
//  a failure). Refuses when a NAME.force-old is there already (an init cut
//  short: it may be the only copy of NAME). Returns 0, or -1 with a
//  message printed (command names it).
int cluster_kept_begin (const cluster_t *cluster, const char *dir, const char *command,
                        zlist_t **kept);

//  On success (written), removes the old files; else puts each back under
//  its name, over what the failed init left. Destroys kept.
void cluster_kept_end (zlist_t *kept, bool written, const char *dir, const char *command);

#endif
