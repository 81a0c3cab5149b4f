"""OS descriptors of NTM sockets work with selectors and select."""

from __future__ import annotations

import select
import selectors
import socket
import time

import ntmobile
from conftest import ECHO_PORT, PEER_V4, PEER_V6


def test_selectors_over_20_sockets(env):
    socks = []
    try:
        for i in range(20):
            addr = PEER_V4 if i % 2 == 0 else PEER_V6
            sock = ntmobile.create_connection((addr, ECHO_PORT), timeout=10)
            sock.setblocking(False)
            socks.append(sock)
        expected = {}
        received = {}
        with selectors.DefaultSelector() as sel:
            for i, sock in enumerate(socks):
                message = (f"socket {i} says hello " * (i + 1)).encode()
                expected[i] = message
                received[i] = b""
                sock.sendall(message) if sock.gettimeout() else _send_all_nonblocking(sock, message)
                sel.register(sock, selectors.EVENT_READ, i)
            deadline = time.monotonic() + 20
            pending = set(expected)
            while pending and time.monotonic() < deadline:
                for key, mask in sel.select(timeout=1):
                    assert mask & selectors.EVENT_READ
                    i = key.data
                    received[i] += key.fileobj.recv(65536)
                    if len(received[i]) >= len(expected[i]):
                        sel.unregister(key.fileobj)
                        pending.discard(i)
            assert not pending, f"no complete echo on sockets {sorted(pending)}"
        assert received == expected
    finally:
        for sock in socks:
            sock.close()


def _send_all_nonblocking(sock: socket.socket, data: bytes) -> None:
    view = memoryview(data)
    while view:
        select.select([], [sock], [], 5)
        view = view[sock.send(view):]


def test_select_reports_readable_only_after_data(env):
    with ntmobile.create_connection((PEER_V4, ECHO_PORT), timeout=10) as sock:
        readable, writable, _ = select.select([sock], [sock], [], 0)
        assert readable == [] and writable == [sock]
        sock.sendall(b"ping")
        readable, _, _ = select.select([sock], [], [], 10)
        assert readable == [sock]
        assert sock.recv(10) == b"ping"


def test_listener_becomes_readable_when_a_connection_waits(env):
    with ntmobile.create_server(("", 7300)) as server, selectors.DefaultSelector() as sel:
        sel.register(server, selectors.EVENT_READ)
        assert sel.select(timeout=0) == []
        with ntmobile.create_connection((PEER_V4, 9), timeout=30) as control:
            f = control.makefile("rw", newline="\n")
            f.write(f"ECHO 100.64.0.1 7300 10 0\n")
            f.flush()
            assert sel.select(timeout=20), "listener never became readable"
            server.setblocking(False)
            conn, _ = server.accept()
            with conn:
                conn.settimeout(10)
                while chunk := conn.recv(100):
                    conn.sendall(chunk)
            assert f.readline().startswith("OK ")
            f.close()
