#!/usr/bin/env python3
"""proxy.py - a TCP proxy that can cut and heal, for partition tests.

Usage: proxy.py LISTEN_PORT TARGET_HOST:TARGET_PORT
       proxy.py LISTEN_PORT /PATH/OF/A/UNIX/SOCKET

Listens on 127.0.0.1:LISTEN_PORT (0: a free port) and prints
"proxy ready PORT" with the real port once listening. Each connection
accepted is forwarded to the target, bytes both ways, many at once. A
target that starts with "/" is a unix socket (a ZeroMQ ipc:// endpoint's
path), so a node may bind ipc:// and be reached through the proxy.

  SIGUSR1  cut, like a network partition: connections stay open, but every
           byte read from either side is dropped. A connection accepted while
           cut is held the same way and never reaches the target. Prints
           "proxy cut" once in effect.
  SIGHUP   cut one way, towards the target: bytes from the client are
           dropped, the target's still reach the client. A connection
           accepted while cut reaches the target, cut the same way. Prints
           "proxy cut to target".
  SIGALRM  cut one way, back from the target: the target's bytes are
           dropped, the client's still reach it. Prints "proxy cut from
           target".
  SIGUSR2  heal: closes every connection that lived through a cut (its
           streams lost bytes), so that peers reconnect, then forwards again.
           Prints "proxy healed".
  SIGTERM  closes everything and exits 0.

A connection the target refuses is closed. Python 3 standard library only.
Threads: the main thread accepts and handles the signals (which arrive
through a wakeup pipe); each connection has a thread per direction, and
the last of its threads to end closes its sockets.
"""
import os
import select
import signal
import socket
import sys
import threading

TO, FROM = 0, 1          # the directions: client to target, target to client
lock = threading.Lock()  # guards cut, conns and each Conn's fields
conns = set()            # connections whose threads still run
cut = [False, False]     # the directions cut now, by TO and FROM


class Conn:
    def __init__(self, client, upstream, frozen):
        self.sockets = [s for s in (client, upstream) if s is not None]
        self.frozen = list(frozen)  # by direction: drop what is read; set by a cut
        self.running = 0            # pump threads still running

    def start(self, pumps):
        with lock:
            conns.add(self)
            self.running = len(pumps)
        for src, dst, way in pumps:
            threading.Thread(target=self.pump, args=(src, dst, way), daemon=True).start()

    def pump(self, src, dst, way):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if dst is not None and not self.frozen[way]:
                    dst.sendall(data)
        except OSError:
            pass
        self.shutdown()  # one side is gone: end the other direction too
        with lock:
            self.running -= 1
            last = self.running == 0
            if last:
                conns.discard(self)
        if last:
            for s in self.sockets:
                s.close()

    def shutdown(self):
        """Wakes both pump threads; safe from any thread, any number of times."""
        for s in self.sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def accept(listener, target):
    client, _ = listener.accept()
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with lock:
        frozen = list(cut)
    if all(frozen):  # partitioned: the target never hears of it
        Conn(client, None, frozen).start([(client, None, TO)])
        return
    try:
        if isinstance(target, str):
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.settimeout(5)
            try:
                upstream.connect(target)
            except OSError:
                upstream.close()
                raise
        else:
            upstream = socket.create_connection(target, timeout=5)
            upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        client.close()
        return
    upstream.settimeout(None)
    Conn(client, upstream, frozen).start([(client, upstream, TO), (upstream, client, FROM)])


CUTS = {signal.SIGUSR1: ([True, True], "proxy cut"),
        signal.SIGHUP: ([True, False], "proxy cut to target"),
        signal.SIGALRM: ([False, True], "proxy cut from target")}


def on_signal(signum):
    global cut
    ways, said = CUTS.get(signum, ([False, False], None))
    with lock:
        cut = ways
        victims = list(conns)
        for conn in victims:
            conn.frozen = [a or b for a, b in zip(conn.frozen, cut)]
    if said:
        print(said, flush=True)
        return
    for conn in victims:
        if signum == signal.SIGTERM or any(conn.frozen):
            conn.shutdown()
    if signum == signal.SIGTERM:
        sys.exit(0)
    print("proxy healed", flush=True)


def main():
    if len(sys.argv) != 3 or not (":" in sys.argv[2] or sys.argv[2].startswith("/")):
        sys.exit("usage: proxy.py LISTEN_PORT TARGET_HOST:TARGET_PORT|/UNIX/SOCKET/PATH")
    if sys.argv[2].startswith("/"):
        target = sys.argv[2]  # a unix socket
    else:
        host, _, port = sys.argv[2].rpartition(":")
        target = (host, int(port))
    listener = socket.create_server(("127.0.0.1", int(sys.argv[1])))
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    for signum in (signal.SIGUSR1, signal.SIGHUP, signal.SIGALRM, signal.SIGUSR2, signal.SIGTERM):
        signal.signal(signum, lambda *_: None)  # the work is done below
    print("proxy ready %d" % listener.getsockname()[1], flush=True)
    while True:
        readable, _, _ = select.select([listener, wake_r], [], [])
        if wake_r in readable:
            for signum in os.read(wake_r, 64):
                on_signal(signum)
        if listener in readable:
            try:
                accept(listener, target)
            except OSError as e:  # out of files, a reset before accept
                print("proxy: %s" % e, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
