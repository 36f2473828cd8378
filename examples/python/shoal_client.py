#!/usr/bin/env python3
"""shoal_client.py - a small client of a shoal node, in Python, written from
docs/PROTOCOL.md alone: it sends commands, retries them with the same id
when no answer comes (the node runs a command at most once per id), reads
an actor's events page by page, and prints replies.

Needs pyzmq and msgpack (Debian: python3-zmq python3-msgpack).

    shoal_client.py [--endpoint E | --cluster FILE] [--id ID] [--created MS]
                    send ADDRESS COMMAND [key=value...]
    shoal_client.py [--endpoint E | --cluster FILE] get ADDRESS
    shoal_client.py [--endpoint E | --cluster FILE] events [--from SEQ] ADDRESS
    shoal_client.py [--endpoint E | --cluster FILE] stats

key=value reads as `shoal send` reads it: an integer (int64), true or
false, else a string. Exit 0 ok, 1 rejected, 2 bad usage or invalid input
(nothing sent: an integer out of int64, a request over 1 MiB), 3 no answer,
or a refusal that leaves the command's fate open. A send that was sent and
may still take effect says its id and prints the line that sends it again
under that --id and --created (its first time), as `shoal send` does: a new
id would be a second command. One Client per thread.

As a library:

    with Client("ipc:///tmp/node.ipc") as client:
        reply = client.send("counter/c1", "Add", {"by": 5})
        if reply.ok:
            print(reply.data["value"])
        for event in client.events("counter/c1"):
            print(event["seq"], event["event"], event["data"])
"""
import argparse
import base64
import hashlib
import json
import os
import re
import shlex
import sys
import time

import msgpack
import zmq

ENVELOPE_VERSION = 1
COMMAND, REPLY, QUERY = 1, 2, 4
MAX_FRAME = 1024 * 1024  # bytes of one encoded envelope
INT64_MIN, INT64_MAX = -2 ** 63, 2 ** 63 - 1  # the integers key=value takes
TRANSIENT = ("unavailable", "busy")  # codes that mean "ask again"
# Rejections the node does not store: another attempt under the same id
# may still run the command. Once a request was sent again, one of these
# is not the command's fate (another copy may yet run).
UNSETTLED = TRANSIENT + ("handler_error", "conflict", "key_revoked")


class ShoalError(Exception):
    """No answer in time, or a cluster file or certificate that cannot be read.
    request_id is the id (16 bytes) of the request it is about, once that
    request was sent, else None, and created the time it was first sent
    (ms since the epoch). A command sent and not answered may still take
    effect (a stopped node runs it when it goes on): send it again with
    this id and this created, never a new id
    (send(..., id=error.request_id, created=error.created)); the node runs
    it once per id, and refuses one older than its inbox retention as
    expired rather than run it again. The message gives both."""

    def __init__(self, message, request_id=None, created=None):
        Exception.__init__(self, message)
        self.request_id = request_id
        self.created = created


class Rejected(ShoalError):
    """A node's rejection where a reply was needed to go on (a page of
    events); reply is the Reply."""

    def __init__(self, what, reply):
        ShoalError.__init__(self, "%s: %s: %s" % (what, reply.code, reply.reason),
                            reply.request_id, reply.created)
        self.reply = reply


class Invalid(ShoalError):
    """A request this client will not send (too big): nothing was sent."""


def message_id(text):
    """The 16-byte message id `shoal send --id TEXT` stands for: 32 hex
    digits as they are (but 32 zeros: a node refuses an id of zero bytes,
    which reads as nil), anything else the first 16 bytes of its SHA-1, so
    that either client can retry the other's command."""
    if re.fullmatch(r"[0-9a-fA-F]{32}", text) and text.strip("0"):
        return bytes.fromhex(text)
    return hashlib.sha1(text.encode()).digest()[:16]


def json_default(value):
    """Bytes as `shoal` prints them: {"$bytes": standard base64}."""
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    raise TypeError("%s is not JSON" % type(value).__name__)


class Reply:
    """A node's answer: ok, or a rejection's code and reason."""

    def __init__(self, envelope):
        (_, _, _, correlation, _, sender, _, name, payload, _, _) = envelope
        self.correlation = correlation
        self.sender = sender  # the actor that answered ("node/stats" for stats)
        self.name = name  # the command or query answered
        self.ok = payload["ok"]
        self.code = payload["code"]  # "" when ok
        self.reason = payload["reason"]  # "" when ok
        self.data = payload["data"]  # the reply's fields, a dict
        # False when the command's fate is open (Client.request): only the
        # same id may be sent again. request_id: the request's id, 16 bytes.
        self.settled = True
        self.request_id = None
        self.created = None  # the request's time (ms since the epoch), as sent

    def as_dict(self):
        if self.ok:
            return {"ok": True, "from": self.sender, "name": self.name, "data": self.data}
        return {"ok": False, "from": self.sender, "name": self.name, "code": self.code,
                "reason": self.reason}


def _read_cert(path):
    """The public and secret keys (Z85, bytes) of a czmq certificate file;
    the secret one is None in a public certificate."""
    keys = {}
    with open(path) as f:
        for line in f:
            m = re.match(r'\s*(public|secret)-key\s*=\s*"(.{40})"', line)
            if m:
                keys[m.group(1)] = m.group(2).encode()
    if "public" not in keys:
        raise ShoalError("%s: no public-key" % path)
    return keys["public"], keys.get("secret")


def _read_cluster(path):
    """The nodes of a cluster file (ZPL): [(name, client endpoint, public key)].
    Raises ShoalError, naming the file, for one it cannot read so."""
    try:
        nodes = _parse_cluster(path)
    except (OSError, UnicodeDecodeError, TypeError, KeyError) as e:
        raise ShoalError("%s: not a cluster file shoal_client.py can read: %s" % (path, e))
    if not nodes:
        raise ShoalError("%s: no node in it" % path)
    return nodes


def _parse_cluster(path):
    nodes, section, node = [], None, None
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip()
            if not line.strip() or line.lstrip().startswith("#"):
                continue  # a comment; '#' inside a quoted value is Z85
            depth = (len(line) - len(line.lstrip())) // 4
            text = line.strip()
            if depth == 0:
                section = text
            elif section == "node" and depth == 1:
                node = {"name": text}
                nodes.append(node)
            elif section == "node" and depth == 2 and "=" in text:
                key, value = (s.strip() for s in text.split("=", 1))
                quoted = re.fullmatch(r'"(.*)"(\s+#.*)?', value)
                node[key] = quoted.group(1) if quoted else value.split(" #", 1)[0]
    return [(n["name"], n["client"], n["public_key"].encode()) for n in nodes]


class Client:
    """A DEALER socket to one node (endpoint), or to every node of a cluster
    (cluster: the path of its cluster.cfg, with client.cert beside it), over
    CURVE. Not thread-safe: a ZeroMQ socket is one thread's, and a call
    drops the replies it is not waiting for, which another thread's call
    on the same Client was (it then says "no answer" of a command that
    ran). Make one Client per thread."""

    def __init__(self, endpoint=None, cluster=None, timeout_ms=2000, attempts=5):
        self.timeout_ms = timeout_ms  # wait for one answer
        self.attempts = attempts  # sends of one request, the first included
        self.context = zmq.Context.instance()
        self.socket = self.context.socket(zmq.DEALER)
        self.socket.linger = 0
        if cluster:
            cert = os.path.join(os.path.dirname(cluster) or ".", "client.cert")
            public, _ = _read_cert(cert)
            _, secret = _read_cert(cert + "_secret")
            self.socket.curve_publickey = public
            self.socket.curve_secretkey = secret
            self.socket.immediate = 1  # only to nodes whose link is up
            for _, client_endpoint, server_key in _read_cluster(cluster):
                self.socket.curve_serverkey = server_key  # applies to the next connect
                self.socket.connect(client_endpoint)
        else:
            self.socket.connect(endpoint or os.environ.get("SHOAL_ENDPOINT",
                                                           "tcp://127.0.0.1:7700"))

    def close(self):
        self.socket.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def request(self, kind, to, name, fields=None, id=None, created=None):
        """Sends a command or query and returns its Reply. With no answer
        within timeout_ms, or a transient rejection (unavailable, busy),
        sends it again with the same id and created time, attempt + 1:
        the node runs a command once per id and answers a repeat with the
        first reply. Silence is given attempts sends in all; a transient
        rejection is asked again after a pause (50 ms, doubling up to 1 s)
        until timeout_ms x attempts has passed, however many sends that
        takes, as a node's queue full for a second or two is no failure.
        Once the request was sent again, a failed turn's rejection
        (handler_error, conflict: not stored) is not taken for the answer
        either, since an earlier copy may still run.

        A command's reply has settled False when its fate is open, as
        `shoal send` says (exit 3): sent more than once and every answer
        one the node does not store (UNSETTLED), or sent once under the
        caller's id (a retry) and refused as transient, as an earlier
        attempt under that id may still run. Every reply has request_id.

        created is the time the command was first sent (ms since the
        epoch), for a retry: kept, a retry later than the node's inbox
        retention is refused expired rather than run again. Default now.

        A $-command (an operator's $resolve, $resend) is sent once: no
        inbox answers a copy, which would be done again.

        Raises ShoalError, with request_id and created, when every attempt
        went unanswered (the command may still take effect: send it again
        with that id and created), and Invalid, with none, for a request it
        will not send."""
        given = id is not None
        id = id or os.urandom(16)
        created = created if created is not None else int(time.time() * 1000)
        attempts = 1 if name.startswith("$") else self.attempts
        # Sent once, a $-command waits as long as all the attempts would.
        wait_ms = self.timeout_ms * (self.attempts if attempts == 1 else 1)

        def frame(attempt):
            return msgpack.packb([ENVELOPE_VERSION, kind, id, None, None, "", to, name,
                                  fields or {}, attempt, created], use_bin_type=True)

        # The frame of the largest attempt number (a u32) is the biggest:
        # checked before anything goes, so that nothing was sent.
        size = len(frame(0xFFFFFFFF if attempts > 1 else 0))
        if size > MAX_FRAME:
            raise Invalid("the request is %d bytes, over %d: nothing was sent"
                          % (size, MAX_FRAME))
        # A transient refusal (busy, unavailable) comes at once: it does not
        # use up the attempts, which are for silence (and for a failed turn
        # of a copy). Refused, the request is sent again after a pause that
        # doubles up to 1 s, for as long as every attempt could have waited
        # (timeout_ms x attempts in all).
        budget_end = time.monotonic() + self.timeout_ms * self.attempts / 1000
        reply, sends, attempt, spent = None, 0, 0, 0
        while True:
            answer = None
            # With a cluster, a send waits for a link that is up (CURVE
            # handshakes take a moment); no link in time counts as no answer.
            if self.socket.poll(self.timeout_ms, zmq.POLLOUT):
                self.socket.send(frame(attempt), zmq.NOBLOCK)
                sends += 1
                try:
                    answer = self._wait(id, wait_ms)
                except ShoalError as e:
                    raise ShoalError("%s%s" % (e, _open_note(kind, id, created)), id,
                                     created) from None
            reply = answer if answer is not None else reply
            open_codes = UNSETTLED if attempt > 0 else TRANSIENT
            if answer is not None and not (not answer.ok and answer.code in open_codes):
                break
            attempt += 1
            refused = answer is not None and answer.code in TRANSIENT
            spent += not refused
            pause = min(0.05 * 2 ** min(attempt - 1, 5), 1.0)
            if attempts == 1 or spent >= attempts or (
                    refused and time.monotonic() + pause > budget_end):
                break
            if refused:
                time.sleep(pause)  # back off a little
        if reply is not None:
            reply.request_id = id
            reply.created = created
            if kind == COMMAND and not reply.ok:  # is its fate open? (as shoal send)
                reply.settled = not (reply.code in UNSETTLED if sends > 1
                                     else given and reply.code in TRANSIENT)
            return reply
        if not sends:
            raise ShoalError("no answer: no link to a node took the request in %d attempts "
                             "of %d ms; nothing was sent" % (self.attempts, self.timeout_ms))
        raise ShoalError("no answer from the node after %d attempt%s of %d ms%s"
                         % (attempts, "" if attempts == 1 else "s", wait_ms,
                            _open_note(kind, id, created)), id, created)

    def _wait(self, id, wait_ms):
        """The reply to id, or None after wait_ms. Replies to other
        (earlier, abandoned) requests are dropped, and so is a frame that
        is no reply: neither is the answer waited for."""
        deadline = time.monotonic() + wait_ms / 1000
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.socket.poll(int(left * 1000) + 1):
                return None
            frame = self.socket.recv()
            try:
                # A string a module wrote need not be UTF-8 (docs/PROTOCOL.md):
                # its bad bytes read as U+FFFD, as `shoal` prints them.
                envelope = msgpack.unpackb(frame, raw=False, unicode_errors="replace")
                if envelope[0] != ENVELOPE_VERSION or envelope[1] != REPLY:
                    raise ValueError("not a reply")
                reply = Reply(envelope)
            except (ValueError, TypeError, KeyError, IndexError,
                    msgpack.exceptions.ExtraData):
                continue  # no reply of ours (a stray frame): not this call's end
            if reply.correlation == id:
                return reply
            if reply.correlation is None and not reply.ok:  # the node could not
                return reply  # read our frame: its rejection (bad_frame) is the answer
            # (a nil correlation that says ok answers no request: dropped)

    def send(self, to, command, fields=None, id=None, created=None):
        """A command to the actor at address to; a retry gives the first
        send's id and created (ShoalError's request_id and created)."""
        return self.request(COMMAND, to, command, fields, id, created)

    def get(self, address):
        """The actor's view: data {address, version, state}."""
        return self.request(QUERY, address, "get")

    def events(self, address, start=1, limit=1000):
        """Yields the actor's events from seq start, reading page by page
        (each page at most limit events, and under half the frame limit)
        until a page is empty."""
        while True:
            reply = self.request(QUERY, address, "events", {"from": start, "limit": limit})
            if not reply.ok:
                raise Rejected("events of %s" % address, reply)
            page = reply.data["events"]
            yield from page
            if not page:
                return
            start = reply.data["next"]

    def stats(self):
        """The node's counters. Any address goes in to; the node answers."""
        return self.request(QUERY, "node/stats", "stats")


def _open_note(kind, id, created):
    """What an error about request id, sent and not answered, adds to its
    message: a command may still take effect, and is retried under id and
    its first time."""
    if kind == COMMAND:
        return ("; the command may still take effect: send it again under id %s, created %d"
                % (id.hex(), created))
    return " (request id %s)" % id.hex()


def _field(text):
    """key=value as `shoal send` reads it: integers (int64: one out of it
    is refused, as `shoal send` refuses it, not sent as another type),
    true/false, strings."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError("expected key=value, got %r" % text)
    if re.fullmatch(r"-?[0-9]+", value):
        number = int(value)
        if not INT64_MIN <= number <= INT64_MAX:
            # shoal send's words; its "key:=N sends it as a uint64" has no
            # counterpart here (no key:=JSON): send() takes a uint64.
            raise argparse.ArgumentTypeError(
                "field %r: %s is out of the int64 range%s"
                % (key, value, " that key=value takes" if 0 < number < 2 ** 64 else ""))
        return key, number
    if value in ("true", "false"):
        return key, value == "true"
    return key, value


def _retry_line(parser, args, fields, id, created):
    """The command line that sends the command of args (fields: as sent)
    again under id and its first time, as `shoal send` prints its own."""
    words = ["shoal_client.py"]
    for option in ("endpoint", "cluster", "timeout", "attempts"):
        value = getattr(args, option)
        if value is not None and value != parser.get_default(option):
            words += ["--" + option, str(value)]
    text = {True: "true", False: "false"}
    args_words = [args.address, args.command] + [
        "%s=%s" % (key, text[value] if isinstance(value, bool) else value)
        for key, value in fields.items()]
    words += ["--id", id.hex(), "--created", str(created), "send"]
    if any(word.startswith("-") for word in args_words):
        words.append("--")  # an argument that looks like an option
    return " ".join(shlex.quote(word) for word in words + args_words)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="shoal_client.py",
                                     description="A small client of a shoal node.")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--endpoint", help="a node's endpoint (default $SHOAL_ENDPOINT)")
    target.add_argument("--cluster", help="a cluster file; client.cert is read beside it")
    parser.add_argument("--timeout", type=int, default=2000, help="ms to wait for one answer")
    parser.add_argument("--attempts", type=int, default=5,
                        help="sends of one request that go unanswered; busy and unavailable "
                             "are asked again, backing off, for --timeout x --attempts ms")
    parser.add_argument("--id", help="the command's id, as `shoal send --id`: 32 hex digits, or "
                        "any text (its SHA-1's first 16 bytes); default random")
    parser.add_argument("--created", type=int, help="the command's first send time (ms since "
                        "the epoch), for a retry, as `shoal send --created`; default now")
    sub = parser.add_subparsers(dest="verb", required=True)
    p = sub.add_parser("send")
    p.add_argument("address")
    p.add_argument("command")
    p.add_argument("fields", nargs="*", type=_field)
    sub.add_parser("get").add_argument("address")
    p = sub.add_parser("events")
    p.add_argument("--from", dest="start", type=int, default=1)
    p.add_argument("address")
    sub.add_parser("stats")
    args = parser.parse_args(argv)
    if args.attempts < 1 or args.timeout < 1:
        parser.error("--attempts and --timeout are at least 1")  # exit 2
    if args.created is not None and (args.verb != "send" or not
                                     10 ** 11 <= args.created <= time.time() * 1000 + 86400000):
        parser.error("--created goes with send, in ms since the epoch (now is %d)"
                     % (time.time() * 1000))
    try:
        client = Client(args.endpoint, args.cluster, args.timeout, args.attempts)
    except (zmq.ZMQError, OSError, ShoalError, KeyError) as e:
        # A bad endpoint, or a cluster file or certificate that cannot be
        # read: bad usage, said in a line (it was a traceback, exit 1).
        print("shoal_client: %s" % e, file=sys.stderr)
        return 2
    with client:
        try:
            if args.verb == "send":
                id = message_id(args.id) if args.id else None
                fields = dict(args.fields)
                reply = client.send(args.address, args.command, fields, id, args.created)
            elif args.verb == "get":
                reply = client.get(args.address)
            elif args.verb == "stats":
                reply = client.stats()
            else:
                for event in client.events(args.address, args.start):
                    print(json.dumps(event, default=json_default))
                return 0
        except Rejected as e:
            print(json.dumps(e.reply.as_dict(), default=json_default))
            return 1
        except Invalid as e:
            print("shoal_client: %s" % e, file=sys.stderr)
            return 2
        except ShoalError as e:
            print("shoal_client: %s" % e, file=sys.stderr)
            if args.verb == "send" and e.request_id is not None:  # it may still run
                print("shoal_client: retry safely with: %s"
                      % _retry_line(parser, args, fields, e.request_id, e.created),
                      file=sys.stderr)
            return 3
        print(json.dumps(reply.as_dict(), default=json_default))
        if not reply.settled:  # a copy may still run: not a refusal
            print("shoal_client: %s: %s; an earlier attempt under id %s may still take effect. "
                  "Retry safely with: %s"
                  % (reply.code, reply.reason, reply.request_id.hex(),
                     _retry_line(parser, args, fields, reply.request_id, reply.created)),
                  file=sys.stderr)
            return 3
        return 0 if reply.ok else 1


if __name__ == "__main__":
    sys.exit(main())
