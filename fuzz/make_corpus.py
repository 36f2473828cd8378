#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpus: fuzz/corpus/<target>/, a handful of
small valid inputs each (and a few near misses). Run it again after changing
a format; the files are committed. Needs python3-msgpack (Debian)."""
import os
import msgpack

here = os.path.dirname(os.path.abspath(__file__))
ID = bytes(range(16))
ID2 = bytes(range(16, 32))


def write(target, name, data):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def envelope(kind, frm, to, name, payload, correlation=None, causation=None, attempt=0):
    return pack([1, kind, ID, correlation, causation, frm, to, name, payload, attempt,
                 1700000000000])


# envelope: a command, a reply, a timer, a query, a re-send with causation
write("envelope", "command", envelope(1, "", "account/alice", "deposit", {"amount": 10}))
write("envelope", "reply", envelope(2, "account/alice", "", "deposit",
                                    {"ok": True, "code": "", "reason": "", "data": {"balance": 10}},
                                    correlation=ID2))
write("envelope", "rejected", envelope(2, "account/alice", "", "withdraw",
                                       {"ok": False, "code": "insufficient", "reason": "no",
                                        "data": {}}, correlation=ID2))
write("envelope", "timer", envelope(3, "transfer/t1", "transfer/t1", "timeout", {}))
write("envelope", "query", envelope(4, "", "account/bob", "get", {"nested": [1, {"a": None}]}))
write("envelope", "resend", envelope(1, "transfer/t1", "account/bob", "credit",
                                     {"amount": -5, "f": 1.5, "b": b"\x00\x01"},
                                     causation=ID2, attempt=3))
write("envelope", "version2", pack([2, 1, ID]))

# mpread: every kind of element
write("mpread", "map", pack({"amount": 10, "neg": -300, "s": "x" * 40, "b": True}))
write("mpread", "array", pack([None, False, 1.5, 2 ** 40, -(2 ** 40), b"bin", [[]]]))
write("mpread", "ext", msgpack.packb(msgpack.ExtType(5, b"abcd")))
write("mpread", "str32", b"\xdb\x00\x00\x00\x03abc")
write("mpread", "float32", b"\xca\x3f\x80\x00\x00")
write("mpread", "deep", b"\x91" * 40 + b"\xc0")
write("mpread", "two", pack(1) + pack(2))

# records: event, snapshot, inbox (old and new), another version
write("records", "event", pack([1, "deposited", {"amount": 10}, 1700000000000]))
# a stream's first event, holding the inbox record of the command that
# created the stream; and a near miss, its id one byte short
write("records", "event6", pack([1, "opened", {"owner": "alice"}, 1700000000000, ID,
                                 pack([1, 1700000000000, pack({"ok": True}), 12345, "open"])]))
write("records", "event6short", pack([1, "opened", {}, 1700000000000, ID[:15],
                                      pack([1, 1700000000000, pack({"ok": True})])]))
write("records", "snapshot", pack([1, 42, {"balance": 100, "owner": "alice"}]))
write("records", "inbox3", pack([1, 1700000000000, pack({"ok": True})]))
write("records", "inbox5", pack([1, 1700000000000, pack({"ok": True}), 2 ** 63 + 5, "deposit"]))
write("records", "version2", pack([2, "deposited", {}, 0]))
write("records", "log", pack([1, ["account/alice", 1, "Opened", {"owner": "alice"}, 1700000000000],
                              ["transfer/t1", 3, "Started", {"amount": 5}, 1700000000001]]))
# an outbox note: a command sent, one answered, an inbox record (its sender last)
write("records", "note", pack([1, ["transfer/t1", ID, envelope(1, "transfer/t1", "account/a", "Debit",
                                                               {"amount": 5})],
                               ["transfer/t0", ID2],
                               ["account/a", ID2, pack([1, 1700000000000, pack({"ok": True}), 5,
                                                        "Debit"]), "transfer/t0"]]))
write("records", "checkpoint", pack([1, 1000, 998, 1, False, True]))
write("records", "eventkey", b"S\x00\x07eaccount/alice\x00" + (5).to_bytes(8, "big"))

# data: field maps as handlers read them
write("data", "amount", pack({"amount": 10}))
write("data", "mixed", pack({"amount": -7, "ok": False, "to": "account/bob", "": 1}))
write("data", "nul", pack({"s": "a\x00b", "big": 2 ** 64 - 1, "f": 0.5}))
write("data", "nested", pack({"m": {"x": [1, 2]}, "long": "y" * 300}))
write("data", "empty", pack({}))

# fields: argv strings split at NUL bytes
write("fields", "deposit", b"amount=10\x00to=account/bob")
write("fields", "bools", b"ok=true\x00no=false\x00s=hello world")
write("fields", "big", b"n=9223372036854775807\x00m=-9223372036854775808")
write("fields", "overflow", b"n=9223372036854775808")
write("fields", "twice", b"a=1\x00a=2")
write("fields", "bad", b"=1\x00novalue")
write("fields", "json", b'items:=[1,"two",{"three":3.5}]\x00ok:=true\x00n:=null')
write("fields", "jsonbad", b'm:={"a":1,"a":2}\x00x:=[1,')

# config: ZPL files and cluster maps
write("config", "plain", "# a comment\nroot\n    key = \"value\"\n    other = 12\n")
Z85 = ("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
       ".-:+=^!/*?&<>()[]{}@%$#")


def z85(raw):
    out = ""
    for i in range(0, len(raw), 4):
        value = int.from_bytes(raw[i:i + 4], "big")
        out += "".join(Z85[value // 85 ** k % 85] for k in range(4, -1, -1))
    return out


KEY = z85(bytes(range(32)))
KEY2 = z85(bytes(range(32, 64)))
write("config", "cluster1", f"""cluster
    name = "bank"
    shards = "8"
    epoch = "1"
node
    n1
        client = "ipc:///tmp/n1.ipc"
        peer = "ipc:///tmp/n1-peer.ipc"
        public_key = "{KEY}"
        shards = "0-7"
""")
write("config", "cluster2", f"""cluster
    name = "bank"
    shards = "16"
    epoch = "3"
node
    n1
        client = "tcp://127.0.0.1:7700"
        peer = "tcp://127.0.0.1:7701"
        public_key = "{KEY}"
        shards = "0-3,9,12-15"
    n2
        client = "tcp://127.0.0.1:7710"
        peer = "tcp://127.0.0.1:7711"
        public_key = "{KEY2}"
        shards = "4-8"
        shards = "10-11"
""")
write("config", "overlap", """cluster
    name = "x"
    shards = "2"
    epoch = "1"
node
    a
        client = "ipc:///tmp/a"
        shards = "0-1"
    b
        client = "ipc:///tmp/b"
        shards = "1"
""")
write("config", "badindent", "a\n      b = 1\n")
