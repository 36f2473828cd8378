#!/usr/bin/env python3
"""timer-bench.py - what a timer's cancel costs with many timers armed.

    scripts/timer-bench.py --shoal BIN --module COUNTER_SO [--timers N,...]
                           [--cancels M] [--workers W] [--window K]

For each N, starts a node of its own (a temporary directory, an ipc://
endpoint, --workers W, the test module counter.so, which sets a timer
"ring" on Remind and cancels it on Forget), arms N timers an hour ahead
(Remind to counter/t0..tN-1, K requests in flight), then cancels the
timers of M of those counters (Forget) and prints, as one JSON line per
N, the Reminds and the Forgets per second, and the node's CPU time per
Forget (utime + stime of /proc/PID/stat around the cancels).

A cancel should cost what the actor's own timers cost, not what the
worker holds: Forgets per second flat in N. docs/PERFORMANCE.md,
"Timers: a cancel with many armed". Exits 1 if a request was refused.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import msgpack
import zmq

COMMAND, REPLY = 1, 2


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pipeline(socket, requests, window):
    """Sends requests ((to, name, fields)) with at most window unanswered;
    returns the seconds it took and the number refused."""
    start, sent, answered, refused = time.monotonic(), 0, 0, 0
    ids = {}
    while answered < len(requests):
        while sent < len(requests) and sent - answered < window:
            to, name, fields = requests[sent]
            id = os.urandom(16)
            ids[id] = sent
            socket.send(msgpack.packb([1, COMMAND, id, None, None, "", to, name, fields, 0,
                                       int(time.time() * 1000)], use_bin_type=True))
            sent += 1
        if not socket.poll(30000):
            sys.exit("timer-bench.py: no answer in 30 s")
        envelope = msgpack.unpackb(socket.recv(), raw=False)
        if envelope[1] == REPLY and envelope[3] in ids:
            del ids[envelope[3]]
            answered += 1
            payload = envelope[8] if len(envelope) > 8 else None
            if isinstance(payload, dict) and payload.get("ok") is False:
                refused += 1
    return time.monotonic() - start, refused


def run(args, count):
    tmp = tempfile.mkdtemp(prefix="shoal-tb-")
    endpoint = "ipc://%s/node.ipc" % tmp
    node = subprocess.Popen([args.shoal, "node", "--data", tmp + "/data", "--endpoint", endpoint,
                             "--workers", str(args.workers), "--module", args.module,
                             "--metrics", "off"],
                            stdout=subprocess.PIPE, stderr=open(tmp + "/node.log", "w"), text=True)
    try:
        line = node.stdout.readline()
        if "ready on" not in line:
            sys.exit("timer-bench.py: the node did not start: see %s/node.log" % tmp)
        socket = zmq.Context.instance().socket(zmq.DEALER)
        socket.linger = 0
        socket.connect(endpoint)
        arm = [("counter/t%d" % i, "Remind", {"ms": 3600000}) for i in range(count)]
        armed, refused = pipeline(socket, arm, args.window)
        cancels = min(args.cancels, count)
        forget = [("counter/t%d" % (i * count // cancels), "Forget", {}) for i in range(cancels)]
        before = cpu_seconds(node.pid)
        took, refused_forgets = pipeline(socket, forget, args.window)
        cpu = cpu_seconds(node.pid) - before
        socket.close()
        return {"timers": count, "reminds_per_second": round(count / armed),
                "forgets": cancels, "forgets_per_second": round(cancels / took),
                "node_cpu_us_per_forget": round(cpu * 1e6 / cancels, 1),
                "refused": refused + refused_forgets}
    finally:
        node.terminate()
        node.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n", 2)[2])
    parser.add_argument("--shoal", required=True, help="the shoal binary")
    parser.add_argument("--module", required=True, help="the test module counter.so")
    parser.add_argument("--timers", default="1000,10000,100000",
                        help="timers armed before the cancels, comma-separated runs")
    parser.add_argument("--cancels", type=int, default=5000, help="Forgets timed per run")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--window", type=int, default=256, help="requests in flight")
    args = parser.parse_args()
    refused = 0
    for count in [int(n) for n in args.timers.split(",")]:
        result = run(args, count)
        refused += result["refused"]
        print(json.dumps(result), flush=True)
    if refused:
        sys.exit("timer-bench.py: %d requests refused: the figures do not count" % refused)


if __name__ == "__main__":
    main()
