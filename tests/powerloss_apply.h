/*  powerloss_apply.h - a simulated power cut over a directory that a
    process ran on under tests/powerloss.c (LD_PRELOAD), now dead.
*/
#ifndef POWERLOSS_APPLY_H_INCLUDED
#define POWERLOSS_APPLY_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    int kept;            //  files left after the cut
    int restored;        //  of them, brought back from the grave (an unlink or rename undone)
    int vanished;        //  files there before the cut whose name was never durable
    long long bytes_cut; //  bytes dropped past the synced lengths
    int syncs;           //  fsync/fdatasync of files seen in the log
    int dirsyncs;        //  fsync of directories seen in the log
    int overwrites;      //  writes below a synced length (the model cannot undo them)
} powerloss_stats_t;

//  Cuts dir as the log (powerloss.c's side log, with LOG.grave beside it)
//  says power loss would have left it; the old dir stays as
//  DIR.before-cut. Returns 0, or -1 with the reason in report; report
//  (report_size bytes) also lists every file cut or vanished.
int powerloss_apply (const char *dir, const char *log, powerloss_stats_t *stats, char *report,
                     size_t report_size);

#endif
