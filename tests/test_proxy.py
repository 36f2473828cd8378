#!/usr/bin/env python3
"""test_proxy.py - tests proxy.py against an echo server on 127.0.0.1:
forwarding for many connections, a cut (bytes dropped, new connections
held back from the target), a heal (connections that lived through the
cut closed, new ones forwarded) and SIGTERM; then forwarding to a unix
socket; then a cut one way, each way, against a server that speaks first. Every wait has a deadline;
the only timed waits are the short ones that check nothing arrives.
"""
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading

DEADLINE = 20.0  # seconds for anything that must happen
QUIET = 0.3      # seconds in which nothing may arrive while cut


class Echo:
    """Echoes every connection; counts the connections it accepted."""

    def __init__(self, path=None):
        if path:  # a unix socket
            self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.listener.bind(path)
            self.listener.listen()
            self.port = path
        else:
            self.listener = socket.create_server(("127.0.0.1", 0))
            self.port = self.listener.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            conn, _ = self.listener.accept()
            self.accepted += 1
            threading.Thread(target=self.echo, args=(conn,), daemon=True).start()

    def echo(self, conn):
        with conn:
            try:
                while data := conn.recv(65536):
                    conn.sendall(data)
            except OSError:
                pass


def expect_line(lines, want):
    try:
        line = lines.get(timeout=DEADLINE)
    except queue.Empty:
        sys.exit("no '%s' from the proxy in %ss" % (want, DEADLINE))
    assert line.startswith(want), "expected '%s', got '%s'" % (want, line)
    return line


def round_trip(sock, data):
    sock.settimeout(DEADLINE)
    sock.sendall(data)
    got = b""
    while len(got) < len(data):
        chunk = sock.recv(65536)
        assert chunk, "closed after %d of %d bytes" % (len(got), len(data))
        got += chunk
    assert got == data, "echo differs"


def expect_recv(sock, data):
    sock.settimeout(DEADLINE)
    got = b""
    while len(got) < len(data):
        chunk = sock.recv(len(data) - len(got))
        assert chunk, "closed after %d of %d bytes" % (len(got), len(data))
        got += chunk
    assert got == data, "expected %r, got %r" % (data, got)


def assert_silent(sock):
    sock.settimeout(QUIET)
    try:
        data = sock.recv(65536)
        assert False, "got %r while cut" % data
    except socket.timeout:
        pass


def assert_closed(sock):
    sock.settimeout(DEADLINE)
    try:
        while sock.recv(65536):
            pass  # bytes sent before the cut may still drain
    except ConnectionResetError:
        pass


def start_proxy(target):
    """Runs proxy.py towards target; returns the process, its port and its lines."""
    proxy = os.path.join(os.path.dirname(os.path.abspath(__file__)), "proxy.py")
    process = subprocess.Popen([sys.executable, proxy, "0", target],
                               stdout=subprocess.PIPE, text=True)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l.strip()) for l in process.stdout],
                     daemon=True).start()
    try:
        port = int(expect_line(lines, "proxy ready ").split()[2])
    except BaseException:
        process.kill()
        process.wait()
        raise
    return process, port, lines


def test_unix_target():
    """A target path that starts with "/" is a unix socket."""
    with tempfile.TemporaryDirectory() as tmp:
        echo = Echo(os.path.join(tmp, "echo.sock"))
        process, port, lines = start_proxy(echo.port)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as sock:
                round_trip(sock, b"over unix " * 1000)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=DEADLINE) == 0, "exit code %d" % process.returncode
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


class Greeter:
    """Says "hi" to every connection, then echoes it; keeps what it read."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.heard = queue.Queue()
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            conn, _ = self.listener.accept()
            threading.Thread(target=self.greet, args=(conn,), daemon=True).start()

    def greet(self, conn):
        with conn:
            try:
                conn.sendall(b"hi")
                while data := conn.recv(65536):
                    self.heard.put(data)
                    conn.sendall(data)
            except OSError:
                pass


def test_one_way_cuts():
    """SIGHUP drops what the client says, SIGALRM what the target says; the
    other way still flows, for connections open before and made during the
    cut; SIGUSR2 closes them."""
    greeter = Greeter()
    process, port, lines = start_proxy("127.0.0.1:%d" % greeter.port)
    try:
        connect = lambda: socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
        before = connect()
        expect_recv(before, b"hi")  # its greeting

        process.send_signal(signal.SIGHUP)
        expect_line(lines, "proxy cut to target")
        during = connect()
        expect_recv(during, b"hi")  # the target's greeting comes through
        for sock in (before, during):
            sock.sendall(b"lost")
            assert_silent(sock)
        assert greeter.heard.empty(), "the target heard the client while cut towards it"
        process.send_signal(signal.SIGUSR2)
        expect_line(lines, "proxy healed")
        for sock in (before, during):
            assert_closed(sock)
            sock.close()

        process.send_signal(signal.SIGALRM)
        expect_line(lines, "proxy cut from target")
        during = connect()
        assert_silent(during)  # no greeting
        during.sendall(b"heard")
        try:
            got = greeter.heard.get(timeout=DEADLINE)
        except queue.Empty:
            sys.exit("the target did not hear the client while cut back from it")
        assert got == b"heard", "the target heard %r" % got
        assert_silent(during)  # nor the echo
        process.send_signal(signal.SIGUSR2)
        expect_line(lines, "proxy healed")
        assert_closed(during)
        during.close()
        after = connect()
        expect_recv(after, b"hi")
        round_trip(after, b"back")
        after.close()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def main():
    echo = Echo()
    process, port, lines = start_proxy("127.0.0.1:%d" % echo.port)
    try:
        connect = lambda: socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)

        many = [connect() for _ in range(20)]
        for i, sock in enumerate(many):
            round_trip(sock, b"hello %d " % i * 1000)
        before = many[0]

        process.send_signal(signal.SIGUSR1)
        expect_line(lines, "proxy cut")
        before.sendall(b"lost")
        assert_silent(before)
        accepted = echo.accepted
        during = connect()  # accepted by the proxy, never forwarded
        during.sendall(b"lost too")
        assert_silent(during)
        assert echo.accepted == accepted, "the target saw a connection while cut"

        process.send_signal(signal.SIGUSR2)
        expect_line(lines, "proxy healed")
        for sock in many + [during]:
            assert_closed(sock)
            sock.close()
        after = connect()
        round_trip(after, b"back")

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=DEADLINE) == 0, "exit code %d" % process.returncode
        assert_closed(after)
        after.close()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    test_unix_target()
    test_one_way_cuts()
    print("test_proxy: ok")


if __name__ == "__main__":
    main()
