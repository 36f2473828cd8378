#!/usr/bin/env python3
"""test_client.py - shoal_client.py against real nodes: a command and its
reply, a rejection, a retry with the same id (one effect, the first reply
again), a command sent while the node is down and answered once it is up,
events read in pages, get, stats, the command line (key=value as `shoal
send` reads it, int64 bounds included); a node stopped (SIGSTOP), whose
silence is an error that carries the request's id, and the command sent
again under it, by the library and by the command line's retry line, with
one effect; then a cluster of two nodes over CURVE (`shoal cluster init
--ipc`), where either node answers for every actor. Every wait has a
deadline.

Usage: test_client.py  with SHOAL_BIN (the shoal binary) and
SHOAL_TEST_MODULE (a module with counter/, e.g. the build's counter.so).
"""
import contextlib
import io
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import msgpack
import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from shoal_client import (COMMAND, ENVELOPE_VERSION, Client, Invalid, Reply,  # noqa: E402
                          ShoalError, json_default, main as client_main, message_id)

SHOAL = os.environ.get("SHOAL_BIN", "shoal")
MODULE = os.environ["SHOAL_TEST_MODULE"]
DEADLINE = 30.0  # seconds for a node to be ready (ASan start-up is slow)


NODES = []  # every node started, killed at the end if still running


class Node:
    """A `shoal node` child process, stopped with SIGTERM."""

    def __init__(self, workdir, *args):
        NODES.append(self)
        self.out = open(os.path.join(workdir, "node-%d.out" % id(self)), "w+")
        self.err = open(os.path.join(workdir, "node-%d.err" % id(self)), "w+")
        self.process = subprocess.Popen([SHOAL, "node", "--module", MODULE, *args],
                                        stdout=self.out, stderr=self.err)
        until = time.monotonic() + DEADLINE
        while True:
            self.out.seek(0)
            if "ready on" in self.out.read():
                return
            if self.process.poll() is not None or time.monotonic() > until:
                self.err.seek(0)
                self.stop()
                sys.exit("FAIL: the node did not start: %s" % self.err.read())
            time.sleep(0.05)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=DEADLINE)
        self.out.close()
        self.err.close()

    def kill(self):
        """Ends the node however the test ended (a failed check exits at
        once: its nodes, stopped or not, were left running)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait(timeout=DEADLINE)


def check(condition, what):
    if not condition:
        sys.exit("FAIL: " + what)


def run_client(argv):
    """shoal_client.py's command line with argv, in this process: (exit
    code, stdout, stderr). A refusal of argparse's is its SystemExit code;
    anything else raised (a traceback) is said as the code."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = client_main(argv)
        except SystemExit as e:
            code = e.code
        except Exception as e:  # noqa: BLE001 - a command line must not raise
            code = "raised %r" % e
    return code, out.getvalue(), err.getvalue()


def test_one_node(workdir):
    endpoint = "ipc://%s/node.ipc" % workdir
    data = os.path.join(workdir, "data")
    node = Node(workdir, "--data", data, "--endpoint", endpoint, "--workers", "2")
    with Client(endpoint, timeout_ms=5000) as client:
        reply = client.send("counter/c1", "Add", {"by": 5})
        check(reply.ok and reply.data == {"value": 5}, "Add by=5: %s" % reply.as_dict())
        check(reply.sender == "counter/c1" and reply.name == "Add", "reply's from and name")

        reply = client.send("counter/c1", "Add", {"by": 0})
        check(not reply.ok and reply.code == "invalid_field" and reply.reason,
              "Add by=0 is rejected: %s" % reply.as_dict())
        reply = client.send("nosuchtype/x", "Add", {"by": 1})
        check(not reply.ok and reply.code == "unknown_type", "unknown type: %s" % reply.as_dict())

        # The same id again: the first reply, no second effect.
        id = os.urandom(16)
        first = client.send("counter/c1", "Add", {"by": 2}, id=id)
        again = client.send("counter/c1", "Add", {"by": 2}, id=id)
        check(first.ok and first.data == {"value": 7}, "Add by=2: %s" % first.as_dict())
        check(again.ok and again.data == {"value": 7}, "the retry: %s" % again.as_dict())
        got = client.get("counter/c1")
        check(got.ok and got.data["state"] == {"value": 7} and got.data["version"] == 2,
              "get after a retry: %s" % got.as_dict())

        # Pages: 25 events read 10 at a time, in order, nothing twice.
        for i in range(23):
            check(client.send("counter/c2", "Add", {"by": 1}).ok, "Add to c2")
        client.send("counter/c2", "Add", {"by": 1})
        client.send("counter/c2", "Add", {"by": 1})
        events = list(client.events("counter/c2", limit=10))
        check([e["seq"] for e in events] == list(range(1, 26)), "events 1..25 in pages")
        check(all(e["event"] == "Added" and e["data"] == {"by": 1} for e in events),
              "each event's name and data")
        check(list(client.events("counter/c2", start=24)) == events[23:], "events from 24")
        check(list(client.events("counter/none")) == [], "no events")

        stats = client.stats()
        check(stats.ok and stats.data["duplicates"] >= 1 and stats.data["workers"] == 2,
              "stats: %s" % stats.as_dict())

        # A created more than a day ahead of the node's clock is refused,
        # nothing run (its record was kept from it: years ahead, for years);
        # an hour ahead, a clock off by that much, goes through.
        now = int(time.time() * 1000)
        ahead = client.send("counter/c9", "Add", {"by": 1}, created=now + 10 * 365 * 86400000)
        check(not ahead.ok and ahead.code == "bad_frame" and "ahead of this node's clock"
              in ahead.reason, "created 10 years ahead: %s" % ahead.as_dict())
        check(client.get("counter/c9").data["version"] == 0, "nothing ran 10 years ahead")
        check(client.send("counter/c9", "Add", {"by": 1}, created=now + 3600000).ok,
              "created an hour ahead")

    # No answer, then an answer: the node is down while the client retries
    # with the same id, and the command runs once when the node is back.
    node.stop()
    with Client(endpoint, timeout_ms=300, attempts=200) as client:
        id = os.urandom(16)
        result = {}
        thread = threading.Thread(target=lambda: result.update(
            reply=client.send("counter/c1", "Add", {"by": 10}, id=id)))
        thread.start()
        time.sleep(0.5)  # a few unanswered sends; nothing is asserted on time
        node = Node(workdir, "--data", data, "--endpoint", endpoint, "--workers", "2")
        thread.join(timeout=DEADLINE + 60)
        check("reply" in result, "no reply after the node came back")
        check(result["reply"].ok and result["reply"].data == {"value": 17},
              "the re-sent Add: %s" % result["reply"].as_dict())
        check(client.get("counter/c1").data["version"] == 3, "one effect for many sends")

    # Unanswered for good: an error, not a hang.
    node.stop()
    with Client(endpoint, timeout_ms=100, attempts=2) as client:
        try:
            client.send("counter/c1", "Add", {"by": 1})
            check(False, "a send to no node returned")
        except ShoalError as e:
            check("no answer" in str(e), "the error says so: %s" % e)

    # The command line.
    node = Node(workdir, "--data", data, "--endpoint", endpoint)
    check(client_main(["--endpoint", endpoint, "send", "counter/c3", "Add", "by=4"]) == 0,
          "shoal_client.py send")
    check(client_main(["--endpoint", endpoint, "send", "counter/c3", "Add", "by=x"]) == 1,
          "shoal_client.py send, rejected")
    check(client_main(["--endpoint", endpoint, "events", "counter/c3"]) == 0,
          "shoal_client.py events")
    # --id means what it means to `shoal send`: a command sent by one is
    # answered to the other as its duplicate, with one effect.
    for id in ("py-order-1", "00112233445566778899aabbccddeeff"):
        address = "counter/id-%s" % id[:6]
        check(client_main(["--endpoint", endpoint, "--id", id, "send", address, "Add",
                           "by=3"]) == 0, "shoal_client.py send --id %s" % id)
        again = subprocess.run([SHOAL, "send", "--endpoint", endpoint, "--id", id, address,
                                "Add", "by=3"], capture_output=True, text=True, timeout=DEADLINE)
        check(again.returncode == 0 and '"value":3' in again.stdout,
              "shoal send --id %s after shoal_client.py: %s %s" % (id, again.stdout, again.stderr))
        with Client(endpoint, timeout_ms=5000) as client:
            check(client.get(address).data["version"] == 1, "one effect for --id %s" % id)
    # A frame the node cannot read is its rejection (exit 1), not "no
    # answer" (3); a request too big to send is invalid input (2).
    check(client_main(["--endpoint", endpoint, "get", "not an address"]) == 1,
          "shoal_client.py get of a bad address")
    check(client_main(["--endpoint", endpoint, "send", "counter/c3", "Add",
                       "big=" + "x" * (1 << 20)]) == 2, "shoal_client.py send, too big")
    with Client(endpoint, timeout_ms=5000) as client:
        try:
            client.send("counter/c3", "Add", {"big": "x" * (1 << 20)})
            check(False, "a request too big was sent")
        except Invalid as e:
            check(getattr(e, "request_id", "none") is None, "nothing sent, no request_id")
    # key=value takes int64 integers, as `shoal send` does, refusing one
    # out of them in its words, exit 2, nothing sent. It sent 2**63 as a
    # uint64, and 10**23 ended in an OverflowError.
    for fields in (["by=1", "f=9223372036854775808"], ["by=1", "f=18446744073709551615"],
                   ["by=1", "f=-9223372036854775809"], ["by=99999999999999999999999"]):
        code, out, err = run_client(["--endpoint", endpoint, "send", "counter/int64", "Add",
                                     *fields])
        shoal = subprocess.run([SHOAL, "send", "--endpoint", endpoint, "counter/int64", "Add",
                                *fields], capture_output=True, text=True, timeout=DEADLINE)
        check(shoal.returncode == 2 and shoal.stderr.startswith("shoal send: field "),
              "shoal send %s: %s" % (fields, shoal.stderr))
        # Its words, but for "key:=N sends it as a uint64": no key:=JSON here.
        words = shoal.stderr.strip().split(": ", 1)[1].split("; key:=N")[0]
        check(code == 2 and words in err and not out,
              "shoal_client.py send %s: exit %s, %r, not %r" % (fields, code, err, words))
    for value in ("9223372036854775807", "-9223372036854775808"):  # the bounds go
        check(run_client(["--endpoint", endpoint, "send", "counter/int64", "Add", "by=1",
                          "f=" + value])[0] == 0, "shoal_client.py send f=%s" % value)
    with Client(endpoint, timeout_ms=5000) as client:
        check(client.get("counter/int64").data["version"] == 2,
              "nothing sent for an integer out of int64")
    # A string that is not UTF-8, from a client that does not check (a
    # msgpack str this packer never makes, spliced into its frame), in a
    # value or a key: the node refuses it (bad_frame, naming the field,
    # answered under the request's id) and stores nothing. It stored it,
    # and `shoal get` printed each invalid byte as U+FFFD.
    real_packb = msgpack.packb
    msgpack.packb = lambda *a, **k: real_packb(*a, **k).replace(b"PLACEHOLDER",
                                                                b"a\xffb\xc3XXXXXXX")
    try:
        with Client(endpoint, timeout_ms=5000) as client:
            replies = [client.send("account/py-utf8", "Open", fields)
                       for fields in ({"owner": "PLACEHOLDER"}, {"PLACEHOLDER": "Ann"})]
    finally:
        msgpack.packb = real_packb
    said = ["payload: field 'owner': the value is not UTF-8 (byte 0xff at offset 1)",
            "payload: a field name is not UTF-8 (byte 0xff after 'a')"]
    for reply, reason in zip(replies, said):
        check(not reply.ok and reply.code == "bad_frame" and reply.reason == reason
              and reply.correlation is not None,
              "Open with raw bytes refused, naming the field: %s" % reply.as_dict())
    got = subprocess.run([SHOAL, "get", "--endpoint", endpoint, "account/py-utf8"],
                         capture_output=True, text=True, timeout=DEADLINE)
    check(got.returncode == 0 and json.loads(got.stdout)["version"] == 0,
          "nothing stored for account/py-utf8: %s %s" % (got.stdout, got.stderr))
    # An id of 16 zero bytes reads back as nil, and an answer of nil
    # correlation that says ok answers no request: the command ran and
    # its answer was dropped ("no answer"). The node refuses it, running
    # nothing; `--id` of 32 zeros is text to both clients, hashed, and
    # runs once.
    with Client(endpoint, timeout_ms=5000) as client:
        reply = client.send("counter/zero", "Add", {"by": 2}, id=bytes(16))
        check(not reply.ok and reply.code == "bad_frame" and "16 zero bytes" in reply.reason,
              "a zero id refused: %s" % reply.as_dict())
        check(client.get("counter/zero").data["version"] == 0, "nothing ran for a zero id")
    zeros = "0" * 32
    check(message_id(zeros) != bytes(16), "--id of 32 zeros is hashed")
    check(client_main(["--endpoint", endpoint, "--id", zeros, "send", "counter/zero", "Add",
                       "by=2"]) == 0, "shoal_client.py send --id %s" % zeros)
    again = subprocess.run([SHOAL, "send", "--endpoint", endpoint, "--id", zeros, "counter/zero",
                            "Add", "by=2"], capture_output=True, text=True, timeout=DEADLINE)
    check(again.returncode == 0 and '"value":2' in again.stdout,
          "shoal send --id %s after shoal_client.py: %s %s" % (zeros, again.stdout, again.stderr))
    with Client(endpoint, timeout_ms=5000) as client:
        check(client.get("counter/zero").data["version"] == 1, "one effect for --id %s" % zeros)
    node.stop()
    # Bytes print as shoal prints them.
    check(json.dumps({"b": b"\x00\x01\xff"}, default=json_default) == '{"b": {"$bytes": "AAH/"}}',
          "bytes as {\"$bytes\": base64}")


def test_busy_waits(workdir):
    """A node whose worker's queue is full answers `busy` at once; the
    client asks again, backing off, for as long as its attempts could have
    waited (timeout_ms x attempts), not for five quick refusals: a queue
    full for a second or two is no failure. Made here by holding the one
    worker (counter's Hold, until a file is made) and filling its queue
    (64 MiB) with 900 KB commands, as test_node_frames does; the gate is
    opened only once the node has refused the client more than attempts
    times. The client gave up after 5 refusals in 0.75 s."""
    endpoint = "ipc://%s/busy.ipc" % workdir
    node = Node(workdir, "--data", os.path.join(workdir, "busy"), "--endpoint", endpoint,
                "--workers", "1")
    gate = os.path.join(workdir, "busy-gate")
    filler = zmq.Context.instance().socket(zmq.DEALER)
    filler.linger = 0
    filler.sndhwm = 0
    filler.connect(endpoint)

    def raw(name, fields):
        return msgpack.packb([ENVELOPE_VERSION, COMMAND, os.urandom(16), None, None, "",
                              "counter/slow", name, fields, 0, int(time.time() * 1000)],
                             use_bin_type=True)

    try:
        filler.send(raw("Hold", {"path": gate}))
        until = time.monotonic() + DEADLINE
        while not os.path.exists(gate + ".held"):  # the worker holds, its queue empty
            check(time.monotonic() < until, "the worker did not take the Hold")
            time.sleep(0.02)  # a poll for the file, bounded above
        frames = [raw("Slow", {"ms": 0, "pad": "x" * 900000}) for _ in range(100)]
        fits = (64 << 20) // len(frames[0])
        for frame in frames:
            filler.send(frame)
        # The queue is full once the node has refused what did not fit.
        refused, until = 0, time.monotonic() + DEADLINE
        while refused < len(frames) - fits:
            check(filler.poll(int((until - time.monotonic()) * 1000) + 1), "no busy came")
            refused += Reply(msgpack.unpackb(filler.recv(), raw=False)).code == "busy"
        # What is left of the 64 MiB, less 100 bytes, in one more frame:
        # the client's Add (1 KB) fits no more.
        left = (64 << 20) - fits * len(frames[0]) - 100
        top = raw("Slow", {"ms": 0, "pad": "x" * max(left - 200, 1)})
        top = raw("Slow", {"ms": 0, "pad": "x" * max(left - 200 + left - len(top), 1)})
        check(len(top) <= left, "the last frame is %d bytes, %d left" % (len(top), left))
        filler.send(top)
        with Client(endpoint, timeout_ms=2000) as stats_client:
            before = stats_client.stats().data["busy"]
            check(before == refused, "busy counted %d, refused %d" % (before, refused))
            result = {}
            # 25 s to ask in: the queue of 64 MiB drains in seconds once let go
            client = Client(endpoint, timeout_ms=5000, attempts=5)
            thread = threading.Thread(target=lambda: result.update(
                reply=client.send("counter/waits", "Add", {"by": 3, "pad": "x" * 1000})))
            thread.start()
            # Refused more often than its attempts: it still asks.
            until = time.monotonic() + DEADLINE
            while stats_client.stats().data["busy"] < before + client.attempts + 1:
                if not thread.is_alive():
                    check(False, "the client gave up: %s" % result["reply"].as_dict())
                check(time.monotonic() < until, "the client was not refused")
                time.sleep(0.02)  # a poll of the node's counter, bounded above
            open(gate, "w").close()
            thread.join(timeout=DEADLINE)
            client.close()
            check("reply" in result and result["reply"].ok
                  and result["reply"].data == {"value": 3},
                  "the Add once the queue drains: %s" % (
                      result["reply"].as_dict() if "reply" in result else "no reply"))
    finally:
        open(gate, "w").close()
        filler.close()
        node.stop()


def test_stopped_node(workdir):
    """A node stopped (SIGSTOP) answers nothing: the client's error carries
    the request's id, and the command, taken meanwhile, may run when the
    node goes on (here it does). Sent again under that id, by the library
    and by the retry line of the command line (or `shoal send --id`), it
    has one effect; a new id would have been a second. The error had no
    id, and the command line printed no retry."""
    endpoint = "ipc://%s/stopped.ipc" % workdir
    node = Node(workdir, "--data", os.path.join(workdir, "stopped"), "--endpoint", endpoint)
    stopped = False

    def freeze(on):
        nonlocal stopped
        node.process.send_signal(signal.SIGSTOP if on else signal.SIGCONT)
        stopped = on

    try:
        # Connected before the stop: the copies sent while it lasts wait in
        # the node's socket, and run when it goes on.
        with Client(endpoint, timeout_ms=5000) as client:
            check(client.send("counter/s1", "Add", {"by": 1}).ok, "Add before the stop")
            freeze(True)
            client.timeout_ms, client.attempts = 200, 2
            error = None
            try:
                client.send("counter/s1", "Add", {"by": 1})
            except ShoalError as e:
                error = e
            check(error is not None, "a stopped node answered")
            id = getattr(error, "request_id", None)
            check(isinstance(id, bytes) and len(id) == 16,
                  "the error carries the request's id: %r %r" % (error, vars(error)))
            check(id.hex() in str(error) and "may still take effect" in str(error),
                  "the error's message gives the id: %s" % error)
            freeze(False)
            client.timeout_ms, client.attempts = 5000, 1
            until = time.monotonic() + DEADLINE
            while client.get("counter/s1").data["state"] != {"value": 2}:
                check(time.monotonic() < until, "the unanswered Add did not run")
                time.sleep(0.05)
            again = client.send("counter/s1", "Add", {"by": 1}, id=id)
            check(again.ok and again.data == {"value": 2},
                  "the retry under the error's id: %s" % again.as_dict())
            got = client.get("counter/s1")
            check(got.data["state"] == {"value": 2} and got.data["version"] == 2,
                  "one effect for the unanswered Add and its retry: %s" % got.as_dict())

        # The command line: exit 3, the id, and a line that sends it again.
        freeze(True)
        code, out, err = run_client(["--endpoint", endpoint, "--timeout", "300", "--attempts",
                                     "2", "send", "counter/s2", "Add", "by=1"])
        freeze(False)
        line = re.search(r"^shoal_client: retry safely with: (.*)$", err, re.M)
        check(code == 3 and "no answer" in err and line and not out,
              "shoal_client.py send to a stopped node: exit %s, %r" % (code, err))
        words = shlex.split(line.group(1))
        hex_id = words[words.index("--id") + 1] if "--id" in words else ""
        check(re.fullmatch("[0-9a-f]{32}", hex_id) and hex_id in err.split("\n")[0],
              "the retry line has --id HEX, and the message the same id: %r" % err)
        created = words[words.index("--created") + 1] if "--created" in words else ""
        check(re.fullmatch("[0-9]{13}", created),
              "the retry line has --created MS: %s" % line.group(1))
        check(words == ["shoal_client.py", "--endpoint", endpoint, "--timeout", "300",
                        "--attempts", "2", "--id", hex_id, "--created", created, "send",
                        "counter/s2", "Add", "by=1"],
              "the retry line repeats the command: %s" % line.group(1))
        words[words.index("--timeout") + 1] = "5000"  # time to answer on a busy machine
        code, out, err = run_client(words[1:])
        check(code == 0 and json.loads(out)["data"] == {"value": 1},
              "the retry line: exit %s, %s %s" % (code, out, err))
        # `shoal send` takes the same --id HEX: the first reply again.
        again = subprocess.run([SHOAL, "send", "--endpoint", endpoint, "--id", hex_id,
                                "counter/s2", "Add", "by=1"], capture_output=True, text=True,
                               timeout=DEADLINE)
        check(again.returncode == 0 and '"value":1' in again.stdout,
              "shoal send --id %s: %s %s" % (hex_id, again.stdout, again.stderr))
        with Client(endpoint, timeout_ms=5000) as client:
            got = client.get("counter/s2")
            check(got.data["state"] == {"value": 1} and got.data["version"] == 1,
                  "one effect for the command line's retries: %s" % got.as_dict())
    finally:
        if stopped:
            node.process.send_signal(signal.SIGCONT)
        node.stop()


def test_retention_and_operators(workdir):
    """A retry keeps the first send's time: past the inbox retention, its
    record pruned, it is refused expired (stamped anew it ran again: a
    review's deposit ran twice). A $-command is sent once, however long
    the node takes (it was sent with every attempt, and each copy done).
    A stray frame that is no reply does not end a call."""
    endpoint = "ipc://%s/retention.ipc" % workdir
    node = Node(workdir, "--data", os.path.join(workdir, "retention"), "--endpoint", endpoint,
                "--inbox-retention-ms", "1000")
    try:
        with Client(endpoint, timeout_ms=5000) as client:
            # The stream's first command keeps its record in its first event.
            check(client.send("counter/t", "Add", {"by": 1}).ok, "the first Add")
            id = message_id("retry-late")
            first = client.send("counter/t", "Add", {"by": 1}, id=id)
            check(first.ok and isinstance(first.created, int), "Add: %s" % first.as_dict())
            until = time.monotonic() + DEADLINE
            while client.stats().data["pruned"] < 1:
                check(time.monotonic() < until, "the record was never pruned")
                time.sleep(0.1)
            late = client.send("counter/t", "Add", {"by": 1}, id=id, created=first.created)
            check(not late.ok and late.code == "expired", "the late retry: %s" % late.as_dict())
            check(client.get("counter/t").data["state"] == {"value": 2},
                  "one effect for the late retry: %s" % client.get("counter/t").as_dict())

            node.process.send_signal(signal.SIGSTOP)
            client.timeout_ms, client.attempts = 200, 4
            try:
                client.send("counter/t", "$resend")
                check(False, "a stopped node answered the $resend")
            except ShoalError as e:
                check("after 1 attempt of 800 ms" in str(e), "a $-command's silence: %s" % e)
            finally:
                node.process.send_signal(signal.SIGCONT)
            client.timeout_ms, client.attempts = 5000, 1
            client.get("counter/t")  # behind whatever copies went before it
            node.err.seek(0)
            said = node.err.read().count("an operator re-sends the")
            check(said == 1, "the $resend ran %d times" % said)
    finally:
        node.stop()
    # Bad usage is said in a line, exit 2 (a traceback, exit 1; attempts 0
    # was "nothing was sent", exit 3).
    empty = os.path.join(workdir, "empty.cfg")
    with open(empty, "w") as f:
        f.write("cluster\n    name = x\n")
    for argv in (["--endpoint", "nonsense", "get", "counter/t"],
                 ["--cluster", os.path.join(workdir, "none", "cluster.cfg"), "get", "counter/t"],
                 ["--cluster", empty, "get", "counter/t"],
                 ["--endpoint", endpoint, "--attempts", "0", "get", "counter/t"],
                 ["--endpoint", endpoint, "--created", "-5", "send", "counter/t", "Add", "by=1"],
                 ["--endpoint", endpoint, "--created", "1796600000000", "get", "counter/t"]):
        code, out, err = run_client(argv)
        check(code == 2 and "shoal_client" in err and "Traceback" not in err,
              "shoal_client.py %s: exit %s, %r" % (" ".join(argv), code, err))


def test_cluster(workdir):
    directory = os.path.join(workdir, "cluster")
    init = subprocess.run([SHOAL, "cluster", "init", "--nodes", "2", "--ipc", "--shards", "16",
                           "--dir", directory], capture_output=True, text=True)
    check(init.returncode == 0, "shoal cluster init: %s" % init.stderr)
    path = os.path.join(directory, "cluster.cfg")
    nodes = [Node(workdir, "--cluster", path, "--name", name) for name in ("n1", "n2")]
    try:
        with Client(cluster=path, timeout_ms=5000) as client:
            # Each request goes to either node; a node forwards what it does
            # not own. Wait for the links: a transient rejection is retried.
            until = time.monotonic() + DEADLINE
            while True:
                stats = client.stats()
                if stats.ok and stats.data.get("peers_up") == 1:
                    break
                check(time.monotonic() < until, "the nodes' link is not up: %s" % stats.as_dict())
                time.sleep(0.1)
            for i in range(12):
                reply = client.send("counter/k%d" % i, "Add", {"by": i + 1})
                check(reply.ok and reply.data == {"value": i + 1},
                      "Add in the cluster: %s" % reply.as_dict())
            for i in range(12):
                got = client.get("counter/k%d" % i)
                check(got.ok and got.data["state"] == {"value": i + 1}, "get in the cluster")
            # Both nodes answered, and some commands were forwarded.
            forwarded = {}
            for i in range(8):
                stats = client.stats()
                forwarded[stats.data["node"]] = stats.data["forwarded"]
            check(set(forwarded) == {"n1", "n2"}, "requests go to both nodes: %s" % forwarded)
            check(sum(forwarded.values()) > 0, "a node forwarded: %s" % forwarded)

        # n2 down: n1 answers for its own actors, `unavailable` for n2's
        # (once it has seen the link drop; until then a forwarded request
        # goes unanswered and is re-sent).
        nodes[1].stop()
        with Client(cluster=path, timeout_ms=1000, attempts=2) as client:
            codes = set()
            for i in range(12):
                reply = client.send("counter/k%d" % i, "Add", {"by": 1})
                check(reply.ok or reply.code == "unavailable", "with n2 down: %s" % reply.as_dict())
                codes.add("ok" if reply.ok else reply.code)
                if not reply.ok:
                    check("n2" in reply.reason, "unavailable names the node: %s" % reply.reason)
                    # Sent again and again and never settled: an earlier copy may
                    # still run when n2 is back, so it is not a refusal.
                    check(not reply.settled and reply.request_id is not None,
                          "unavailable after every attempt is not settled")
                    on_n2 = "counter/k%d" % i
                check(reply.settled or not reply.ok, "an ok reply is settled")
            check(codes == {"ok", "unavailable"}, "with n2 down: %s" % codes)
        # The command line says so: exit 3 (no answer), not 1 (refused).
        code, out, err = run_client(["--cluster", path, "--timeout", "1000", "--attempts", "3",
                                     "send", on_n2, "Add", "by=1"])
        said = json.loads(out)
        check(code == 3 and said["code"] == "unavailable",
              "shoal_client.py send to a node that is down: exit %s, %s" % (code, out))
        # ... with the line that sends it again under its id, as shoal send.
        line = re.search(r"may still take effect\. Retry safely with: (.*)$", err, re.M)
        words = shlex.split(line.group(1)) if line else []
        check(words[:8] == ["shoal_client.py", "--cluster", path, "--timeout", "1000",
                            "--attempts", "3", "--id"]
              and re.fullmatch("[0-9a-f]{32}", words[8]) and "under id %s may" % words[8] in err
              and words[9] == "--created" and re.fullmatch("[0-9]{13}", words[10])
              and words[11:] == ["send", on_n2, "Add", "by=1"],
              "shoal_client.py send to a node that is down: the retry line: %r" % err)
        # Without the client certificate: no answer (CURVE refuses us).
        with Client("ipc://%s/n1/client.ipc" % directory, timeout_ms=300, attempts=1) as plain:
            try:
                plain.stats()
                check(False, "a node of a cluster answered a client without CURVE")
            except ShoalError:
                pass
    finally:
        for node in nodes:
            if not node.out.closed:
                node.stop()


def main():
    workdir = tempfile.mkdtemp(prefix="shoal-pyclient.")
    try:
        test_one_node(workdir)
        test_stopped_node(workdir)
        test_busy_waits(workdir)
        test_retention_and_operators(workdir)
        test_cluster(workdir)
    finally:
        for node in NODES:
            node.kill()
        shutil.rmtree(workdir, ignore_errors=True)
    print("1 passed, 0 failed: the Python client against one node and a cluster of two")


if __name__ == "__main__":
    main()
