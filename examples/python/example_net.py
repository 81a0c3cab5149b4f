"""What the chat and file-transfer examples share (the Python twin of examples/c/example_net.c
and line_io.c): a line reader that also hands over the bytes after a line, listeners on both
virtual families, connect-by-name, the tunnel table in the examples' one-line format, and the
SIGINT/SIGTERM wait."""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import threading
from typing import Callable, Optional, TextIO

import ntmobile

MAX_LINE = 4096  # longest line (without '\n') the chat and file protocols accept


class LineTooLong(Exception):
    """More than MAX_LINE bytes arrived without a newline."""


class LineReader:
    """Splits what ``recv`` returns into lines (UTF-8, '\\n' and a trailing '\\r' removed).

    Buffered on our side, not in a ``makefile`` object, so a ``select`` loop can tell whether a
    whole line is already here (:meth:`pending`) and the file receiver can take the bytes that
    follow the request line (:meth:`take`).
    """

    def __init__(self, recv: Callable[[int], bytes]) -> None:
        self._recv = recv
        self._buffer = bytearray()

    def pending(self) -> Optional[str]:
        """A complete buffered line, or None; raises LineTooLong."""
        end = self._buffer.find(b"\n")
        if end < 0:
            if len(self._buffer) > MAX_LINE:
                raise LineTooLong()
            return None
        raw = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        if raw.endswith(b"\r"):
            raw = raw[:-1]  # tolerate CRLF from telnet-style clients
        if len(raw) > MAX_LINE:
            raise LineTooLong()
        return raw.decode("utf-8", errors="replace")

    def fill(self) -> int:
        """One recv into the buffer; returns the bytes added (0 at the end of the stream)."""
        data = self._recv(65536)
        self._buffer += data
        return len(data)

    def next(self) -> Optional[str]:
        """Blocks until a whole line; None at the end of the stream (a partial line is dropped)."""
        while (line := self.pending()) is None:
            if self.fill() == 0:
                return None
        return line

    def take(self, limit: int) -> bytes:
        """Up to ``limit`` buffered bytes that follow the lines read so far."""
        data = bytes(self._buffer[:limit])
        del self._buffer[:limit]
        return data


def send_line(sock: socket.socket, text: str) -> None:
    """Sends text and '\\n' in one piece (so lines from several threads never interleave)."""
    sock.sendall(text.encode("utf-8") + b"\n")


def listen_all(port: int) -> list[socket.socket]:
    """Listening sockets on ``port`` for each virtual family this node has (IPv4 and/or IPv6)."""
    info = ntmobile.node_info()
    servers = []
    for family, address in ((socket.AF_INET, info.virtual_ipv4), (socket.AF_INET6, info.virtual_ipv6)):
        if address:
            servers.append(ntmobile.create_server(("", port), family=family))
    return servers


def serve_in_threads(servers: list[socket.socket], handle: Callable[[socket.socket, tuple], None]) -> None:
    """Accepts on each listener in a daemon thread, handling every connection in its own thread;
    the accept loops end when the listeners are closed."""

    def accept_loop(server: socket.socket) -> None:
        while True:
            try:
                conn, peer = server.accept()
            except OSError:  # the listener closed: shutting down
                return
            threading.Thread(target=handle, args=(conn, peer), daemon=True).start()

    for server in servers:
        threading.Thread(target=accept_loop, args=(server,), daemon=True).start()


def target(text: str) -> str:
    """argparse type for --connect NAME:PORT, so a malformed value exits with status 2."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME:PORT")
    return text


def connect(target: str, ipv6: bool, timeout: float) -> socket.socket:
    """Connects to "NAME:PORT" (NAME resolved by the node) within ``timeout`` seconds."""
    host, _, port = target.rpartition(":")
    sock = ntmobile.socket(socket.AF_INET6 if ipv6 else socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect((host.strip("[]"), int(port)))
    except BaseException:
        sock.close()
        raise
    return sock


def print_tunnels(out: TextIO = sys.stdout) -> None:
    """The tunnel table, one line per tunnel, in the format all the examples print."""
    for t in ntmobile.tunnels():
        path = t.path.name.lower() if isinstance(t.path, ntmobile.PathKind) else str(t.path)
        print(f"tunnel {t.peer_name} vip4={t.virtual_ipv4} vip6={t.virtual_ipv6} path={path} "
              f"endpoint={t.endpoint} sent={t.bytes_sent} received={t.bytes_received}", file=out, flush=True)


def stop_event() -> threading.Event:
    """An event set by SIGINT or SIGTERM: the main thread waits on it, then stops the node."""
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    return stop

