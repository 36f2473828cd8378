/*  bench_probe.h - the --recovery and --memory modes of `shoal bench`.
    Each prints its figures (and with json one JSON object as the last
    line) and returns the process's exit code.
*/
#ifndef BENCH_PROBE_H_INCLUDED
#define BENCH_PROBE_H_INCLUDED

#include "bank.h"

//  Writes a journal of events, restarts the node after SIGKILL and times
//  its first answer; replays one stream of replay events with and without
//  snapshots.
int bench_recovery (const bank_options_t *o, size_t events, size_t replay, size_t window,
                    bool json);

//  Activates count account actors and reports the node's RSS per actor.
int bench_memory (const bank_options_t *o, size_t count, size_t window, bool json);

#endif
