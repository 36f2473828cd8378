/*  node_stop.h - what stopped `shoal node` (tools/node_stop.c): the
    signal and its sender, said in the stop's log line, so that a stop
    nobody asked for can be traced (a script killing by pattern stopped a
    node, and its log said only "stopped": an SRE's review).
*/
#ifndef NODE_STOP_H_INCLUDED
#define NODE_STOP_H_INCLUDED

//  Catches SIGINT and SIGTERM (after zsys_init, which installs czmq's
//  handler, replaced): each sets zsys_interrupted, as czmq's did, and the
//  first is kept with its sender's pid.
void node_stop_catch (void);

//  Logs "shoal node: stopped", then by what: " by SIGTERM from pid 812
//  (systemd)" (the sender's /proc/PID/comm, if it still runs).
void node_stop_said (void);

#endif
