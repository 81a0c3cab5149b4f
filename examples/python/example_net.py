"""What the examples share (the Python twin of examples/c/example_net.c, line_io.c and
example_program.c): a line reader that also hands over the bytes after a line, starting the node,
listeners on both virtual families, the serve-until-a-signal loop of the servers,
connect-by-name, the tunnel table in the examples' one-line format, and the SIGINT/SIGTERM wait."""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import threading
from typing import Callable, Optional, TextIO

import ntmobile
from node_args import node_from_arguments

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


def start_node(args: argparse.Namespace, program: str = "") -> Optional[ntmobile.Node]:
    """Starts the node the command line describes; None after printing why it could not."""
    try:
        return node_from_arguments(args).start()
    except (ntmobile.NTMError, OSError) as e:
        print(f"{program + ': ' if program else ''}cannot start the node: {e}", file=sys.stderr)
        return None


def listen_all(port: int) -> list[socket.socket]:
    """Listening sockets on ``port`` for each virtual family this node has (IPv4 and/or IPv6)."""
    info = ntmobile.node_info()
    servers = []
    for family, address in ((socket.AF_INET, info.virtual_ipv4), (socket.AF_INET6, info.virtual_ipv6)):
        if address:
            servers.append(ntmobile.create_server(("", port), family=family))
    return servers


def serve_in_threads(servers: list[socket.socket], handle: Callable[[socket.socket, tuple], None]) -> set[threading.Thread]:
    """Accepts on each listener in a daemon thread, handling every connection in its own thread;
    the accept loops end when the listeners are closed. Returns the set of connection threads
    still running (each removes itself when its handler returns)."""
    running: set[threading.Thread] = set()

    def serve_one(conn: socket.socket, peer: tuple) -> None:
        try:
            handle(conn, peer)
        finally:
            running.discard(threading.current_thread())

    def accept_loop(server: socket.socket) -> None:
        while True:
            try:
                conn, peer = server.accept()
            except OSError:  # the listener closed: shutting down
                return
            thread = threading.Thread(target=serve_one, args=(conn, peer), daemon=True)
            running.add(thread)
            thread.start()

    for server in servers:
        threading.Thread(target=accept_loop, args=(server,), daemon=True).start()
    return running


def serve_until_signal(program: str, args: argparse.Namespace, port: int,
                       handle: Callable[[socket.socket, tuple], None],
                       ready_line: Callable[[ntmobile.NodeInfo], str], *,
                       on_stop: Optional[Callable[[], None]] = None, show_tunnels: bool = False,
                       drain: float = 0.0) -> int:
    """A server's life: starts the node, listens on ``port`` of each virtual address, handles
    every connection in a thread of its own, prints ``ready_line(node.info())`` and waits for
    SIGINT/SIGTERM. Then ``on_stop()``, the listeners close, the tunnel table is printed if asked
    and the node stops (closing the connections still open); connection threads still running
    get ``drain`` seconds to finish. Returns the exit status."""
    stop = stop_event()
    node = start_node(args, program)
    if node is None:
        return 1
    with node:
        servers = listen_all(port)
        running = serve_in_threads(servers, handle)
        print(ready_line(node.info()), flush=True)
        stop.wait()
        print(f"{program}: stopping", file=sys.stderr)
        if on_stop is not None:
            on_stop()
        for server in servers:
            server.close()
        if show_tunnels:
            print_tunnels()
    if drain > 0:
        for thread in list(running):
            thread.join(drain)
    return 0


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

