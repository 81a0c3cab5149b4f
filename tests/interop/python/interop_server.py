"""The server role of the Python interop node: TCP request lines on both virtual address
families (a thread per connection) and UDP PING -> PONG, until stopped (tests/interop/README.md).
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
from typing import Optional

import ntmobile
from interop_protocol import CHUNK, IDLE_S, LANG, LineStream, reason, record, sha256_line, warn

# Listening and UDP threads wake this often to notice the stop request.
POLL_S = 0.25
# How long shutdown waits for connection threads once the node closed their sockets.
CONNECTIONS_GRACE_S = 5.0
FAMILIES = (socket.AF_INET, socket.AF_INET6)


class Connection:
    """One accepted TCP connection and its counters (the SERVED record)."""

    def __init__(self, sock: socket.socket, peer: str) -> None:
        self.stream = LineStream(sock)
        self.peer = peer
        self.requests = 0
        self.bytes_in = 0
        self.bytes_out = 0

    def serve(self, stopping: threading.Event) -> None:
        try:
            while self._answer(self.stream.read_line()):
                pass
        except Exception as error:  # noqa: BLE001 - any failure ends this connection only
            if not stopping.is_set() and reason(error) != "connection-closed":
                warn(f"connection from {self.peer}: {reason(error)}")
        finally:
            self.stream.close()
            record("SERVED", peer=self.peer, requests=self.requests, bytes_in=self.bytes_in,
                   bytes_out=self.bytes_out)

    def _answer(self, line: str) -> bool:
        """Answers one request; False when the connection is to be closed."""
        self.requests += 1
        keyword, space, argument = line.partition(" ")
        if keyword == "HELLO" and argument:
            self.stream.send_line(f"HELLO {LANG}")
        elif keyword == "ECHO" and space:
            self.stream.send_line(argument)
        elif keyword == "UPLOAD" and argument.isdigit():
            digest = hashlib.sha256()
            self.stream.read_hashed(int(argument), digest)
            self.bytes_in += int(argument)
            self.stream.send_line(sha256_line(digest))
        elif keyword == "DOWNLOAD" and argument.isdigit():
            self._download(int(argument))
        elif line == "QUIT":
            self.stream.send_line("BYE")
            return False
        else:
            self.stream.send_line("ERROR unknown-request")
            return False
        return True

    def _download(self, count: int) -> None:
        digest = hashlib.sha256()
        while count > 0:
            chunk = os.urandom(min(count, CHUNK))
            digest.update(chunk)
            self.stream.send(chunk)
            count -= len(chunk)
            self.bytes_out += len(chunk)
        self.stream.send_line(sha256_line(digest))


class Server:
    """Listeners and UDP sockets on `port` for both families, until stop()."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.stopping = threading.Event()
        self.listeners: list[socket.socket] = []
        self.datagram_sockets: list[ntmobile.NTMDatagramSocket] = []
        self.threads: list[threading.Thread] = []
        self.connections: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        """Opens every socket (raising OSError if one cannot be) and starts their threads."""
        for family in FAMILIES:
            listener = ntmobile.create_server(("", self.port), family=family)
            listener.settimeout(POLL_S)
            self.listeners.append(listener)
            udp = ntmobile.socket(family, socket.SOCK_DGRAM)
            if family == socket.AF_INET6:
                udp.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            udp.bind(("", self.port))
            udp.settimeout(POLL_S)
            self.datagram_sockets.append(udp)
        for listener in self.listeners:
            self._thread(self._accept_loop, listener)
        for udp in self.datagram_sockets:
            self._thread(self._udp_loop, udp)

    def _thread(self, target, *args) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self.threads.append(thread)
        return thread

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self.stopping.is_set():
            try:
                sock, peer = listener.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError as error:
                if not self.stopping.is_set():
                    warn(f"accept: {reason(error)}")
                return
            sock.settimeout(IDLE_S)
            connection = Connection(sock, _peer_address(peer))
            thread = threading.Thread(target=connection.serve, args=(self.stopping,), daemon=True)
            with self._lock:
                self.connections = [t for t in self.connections if t.is_alive()] + [thread]
            thread.start()

    def _udp_loop(self, udp: ntmobile.NTMDatagramSocket) -> None:
        while not self.stopping.is_set():
            try:
                data, sender = udp.recvfrom(2048)
            except (TimeoutError, socket.timeout):
                continue
            except OSError as error:
                if not self.stopping.is_set():
                    warn(f"UDP receive: {reason(error)}")
                return
            if data.startswith(b"PING "):
                try:
                    udp.sendto(b"PONG " + data[5:], sender)
                except OSError as error:
                    warn(f"UDP reply: {reason(error)}")

    def stop_listening(self) -> None:
        """Ends the accept and UDP threads (they notice within POLL_S) and closes their sockets."""
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=POLL_S * 8)
        for sock in self.listeners + self.datagram_sockets:
            sock.close()

    def wait_connections(self) -> None:
        """After the node stopped (closing the connections): waits for their SERVED records."""
        with self._lock:
            pending = list(self.connections)
        for thread in pending:
            thread.join(timeout=CONNECTIONS_GRACE_S)
            if thread.is_alive():
                warn("a connection thread is still running at exit")


def _peer_address(peer: Optional[tuple]) -> str:
    return str(peer[0]) if peer else "?"


def run_server(port: int, node: ntmobile.Node, stop_requested: threading.Event) -> int:
    """Serves until `stop_requested` is set; returns the exit status."""
    server = Server(port)
    try:
        server.start()
    except OSError as error:
        warn(f"cannot open port {port}: {error}")
        server.stop_listening()
        return 1
    info = node.info()
    record("READY", lang=LANG, fqdn=info.name, vip4=info.virtual_ipv4, vip6=info.virtual_ipv6)
    stop_requested.wait()
    server.stop_listening()
    node.stop()
    server.wait_connections()
    return 0

