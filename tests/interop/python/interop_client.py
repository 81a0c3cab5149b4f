"""The client role of the Python interop node: for each address family, resolve the peer by FQDN,
then HELLO, three ECHOs, UPLOAD, DOWNLOAD and QUIT over TCP and PING/PONG over UDP, printing
RESULT (or FAIL at the first failure); then TUNNEL records and DONE (tests/interop/README.md)."""

from __future__ import annotations

import hashlib
import os
import socket
import time
from dataclasses import dataclass

import ntmobile
from interop_protocol import (CHUNK, LANG, Deadline, LineStream, ProtocolError, reason, record,
                              sha256_line)

PING_RETRY_S = 0.2  # each PING is sent again after this long without its PONG ...
PING_TRIES = 25  # ... at most this many times
PROGRESS_EVERY_S = 0.08  # a paced upload prints PROGRESS at least this often (README: 100 ms)
PACE_SLICE_S = 0.02  # longest wait between pacing decisions


@dataclass
class ClientOptions:
    peer: str
    port: int
    bytes: int
    families: tuple[int, ...]
    udp_count: int
    rate_mbps: float  # 0: unpaced


class StepFailed(Exception):
    """A client step failed: FAIL family=... step=<step> reason=<reason>."""

    def __init__(self, step: str, why: str) -> None:
        super().__init__(f"{step}: {why}")
        self.step = step
        self.why = why


class FamilyRun:
    """The steps for one address family against the peer."""

    def __init__(self, options: ClientOptions, family: int, deadline: Deadline) -> None:
        self.options = options
        self.family = family
        self.number = 4 if family == socket.AF_INET else 6
        self.deadline = deadline
        self.peer_lang = ""

    def run(self) -> None:
        started = time.monotonic()
        address = self._step("resolve", self._resolve)
        stream = self._step("connect", self._connect, address)
        try:
            self._step("hello", self._hello, stream)
            self._step("echo", self._echo, stream)
            self._step("upload", self._upload, stream)
            self._step("download", self._download, stream)
            self._step("quit", self._quit, stream)
        finally:
            stream.close()
        self._step("udp", self._udp, address)
        count = self.options.udp_count
        record("RESULT", family=self.number, peer_lang=self.peer_lang, line="ok", upload="ok",
               download="ok", udp=f"{count}/{count}", seconds=f"{time.monotonic() - started:.3f}")

    def _step(self, name: str, action, *args):
        try:
            return action(*args)
        except StepFailed:
            raise
        except Exception as error:  # noqa: BLE001 - every failure becomes a FAIL record
            raise StepFailed(name, reason(error)) from error

    def _resolve(self) -> tuple:
        found = ntmobile.getaddrinfo(self.options.peer, self.options.port, self.family,
                                     socket.SOCK_STREAM)
        if not found:
            raise ProtocolError("no-address")
        return found[0][4]

    def _connect(self, address: tuple) -> LineStream:
        sock = ntmobile.socket(self.family, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.deadline.left())
            sock.connect(address)
        except BaseException:
            sock.close()
            raise
        return LineStream(sock)

    def _exchange(self, stream: LineStream, request: str) -> str:
        stream.sock.settimeout(self.deadline.left())
        stream.send_line(request)
        return stream.read_line()

    def _hello(self, stream: LineStream) -> None:
        reply = self._exchange(stream, f"HELLO {LANG}")
        keyword, _, lang = reply.partition(" ")
        if keyword != "HELLO" or not lang or " " in lang:
            raise ProtocolError("unexpected-reply")
        self.peer_lang = lang

    def _echo(self, stream: LineStream) -> None:
        for i in range(1, 4):
            text = f"{LANG}-{self.number}-{i}"
            if self._exchange(stream, f"ECHO {text}") != text:
                raise ProtocolError("wrong-echo")

    def _check_digest(self, stream: LineStream, digest: "hashlib._Hash") -> None:
        stream.sock.settimeout(self.deadline.left())
        reply = stream.read_line()
        if not reply.startswith("SHA256 "):
            raise ProtocolError("unexpected-reply")
        if reply != sha256_line(digest):
            raise ProtocolError("sha256-mismatch")

    def _upload(self, stream: LineStream) -> None:
        total = self.options.bytes
        stream.sock.settimeout(self.deadline.left())
        stream.send_line(f"UPLOAD {total}")
        digest = hashlib.sha256()
        pacer = Pacer(self, stream) if self.options.rate_mbps > 0 else None
        sent = 0
        while sent < total:
            chunk = os.urandom(min(CHUNK, total - sent))
            digest.update(chunk)
            if pacer is not None:
                pacer.send(chunk)
            else:
                stream.sock.settimeout(self.deadline.left())
                stream.send(chunk)
            sent += len(chunk)
        if pacer is not None:
            pacer.progress(force=True)
        self._check_digest(stream, digest)

    def _download(self, stream: LineStream) -> None:
        stream.sock.settimeout(self.deadline.left())
        stream.send_line(f"DOWNLOAD {self.options.bytes}")
        digest = hashlib.sha256()
        stream.read_hashed(self.options.bytes, digest)
        self._check_digest(stream, digest)

    def _quit(self, stream: LineStream) -> None:
        if self._exchange(stream, "QUIT") != "BYE":
            raise ProtocolError("unexpected-reply")

    def _udp(self, address: tuple) -> None:
        with ntmobile.socket(self.family, socket.SOCK_DGRAM) as udp:
            for i in range(1, self.options.udp_count + 1):
                text = f"{LANG}-{self.number}-{i}".encode()
                if not self._ping(udp, address, text):
                    raise ProtocolError(f"no-pong-for-ping-{i}")

    def _ping(self, udp: ntmobile.NTMDatagramSocket, address: tuple, text: bytes) -> bool:
        expected = b"PONG " + text
        for _ in range(PING_TRIES):
            udp.sendto(b"PING " + text, address)
            until = time.monotonic() + PING_RETRY_S
            while (left := until - time.monotonic()) > 0:
                udp.settimeout(min(left, self.deadline.left()))
                try:
                    data, _sender = udp.recvfrom(256)
                except (TimeoutError, socket.timeout):
                    continue
                if data == expected:
                    return True
                # anything else (a late PONG of an earlier try): keep waiting
        return False


class Pacer:
    """Sends an upload at no more than --rate-mbps, printing PROGRESS as it goes (also while
    the connection takes no data)."""

    def __init__(self, run: FamilyRun, stream: LineStream) -> None:
        self.run = run
        self.stream = stream
        self.bytes_per_s = run.options.rate_mbps * 1e6 / 8
        self.started = time.monotonic()
        self.sent = 0
        self.last_progress = self.started - PROGRESS_EVERY_S  # a first PROGRESS at once

    def progress(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.last_progress >= PROGRESS_EVERY_S:
            record("PROGRESS", family=self.run.number, sent=self.sent)
            self.last_progress = now

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            self.progress()
            allowed = int((time.monotonic() - self.started) * self.bytes_per_s) - self.sent
            if allowed < 1:
                self.run.deadline.left()  # raises TimeoutError once the deadline passed
                time.sleep(PACE_SLICE_S)
                continue
            self.stream.sock.settimeout(min(PACE_SLICE_S, self.run.deadline.left()))
            try:
                n = self.stream.sock.send(view[:allowed])
            except (TimeoutError, socket.timeout, BlockingIOError):
                continue
            view = view[n:]
            self.sent += n


def run_client(options: ClientOptions, node: ntmobile.Node, deadline: Deadline) -> int:
    """Runs every family, then prints the tunnel table and DONE; returns the exit status."""
    for family in options.families:
        run = FamilyRun(options, family, deadline)
        try:
            run.run()
        except StepFailed as failure:
            record("FAIL", family=run.number, step=failure.step, reason=failure.why)
            return 1
    for t in node.tunnels():
        path = t.path.name.lower() if isinstance(t.path, ntmobile.PathKind) else str(t.path)
        record("TUNNEL", peer=t.peer_name, vip4=t.virtual_ipv4, vip6=t.virtual_ipv6, path=path,
               endpoint=t.endpoint, bytes_sent=t.bytes_sent, bytes_received=t.bytes_received)
    record("DONE", lang=LANG)
    return 0
