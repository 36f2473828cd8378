/*  node_stop.c - what stopped `shoal node`: SIGINT and SIGTERM caught with
    their sender (SA_SIGINFO), and the stop's log line. See node_stop.h.
*/
#include "node_stop.h"
#include "log.h"

#include <czmq.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

//  The signal that stopped the node, and who sent it (SA_SIGINFO): said
//  in the stop's line, so that a stop nobody asked for can be traced (a
//  script killing by pattern stopped a node, and its log said only
//  "stopped": an SRE's review).
static volatile sig_atomic_t s_stop_signal, s_stop_pid;

static void s_on_stop (int sig, siginfo_t *info, void *context)
{
    (void) context;
    if (!s_stop_signal) {
        s_stop_pid = info ? (sig_atomic_t) info->si_pid : 0;
        s_stop_signal = sig;
    }
    zsys_interrupted = 1; //  as czmq's own handler, which this one replaces (its zctx_
                          //  flag is the deprecated zctx's, which nothing here reads)
}

void node_stop_catch (void)
{
    struct sigaction action = {.sa_sigaction = s_on_stop, .sa_flags = SA_SIGINFO};
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
}

void node_stop_said (void)
{
    int sig = s_stop_signal, pid = s_stop_pid;
    if (!sig) {
        log_info ("shoal node: stopped");
        return;
    }
    char comm[64] = "", path[64];
    snprintf (path, sizeof path, "/proc/%d/comm", pid);
    FILE *file = pid > 0 ? fopen (path, "r") : NULL;
    if (file) {
        if (!fgets (comm, sizeof comm, file))
            comm[0] = 0;
        comm[strcspn (comm, "\n")] = 0;
        fclose (file);
    }
    const char *name = sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "a signal";
    if (pid > 0)
        log_info ("shoal node: stopped by %s from pid %d%s%s%s", name, pid, comm[0] ? " (" : "",
                  comm, comm[0] ? ")" : "");
    else
        log_info ("shoal node: stopped by %s (from the kernel or a terminal)", name);
}
