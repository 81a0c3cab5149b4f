"""What the Python interop node's server and client share: stdout records, failure reasons and a
line-and-bytes stream over a connected socket (tests/interop/README.md)."""

from __future__ import annotations

import errno
import hashlib
import os
import socket
import sys
import threading
import time

LANG = "python"
DEADLINE_S = 60.0  # every blocking step of a client run ends this long after the start
IDLE_S = 60.0  # a server connection idle this long is dropped
MAX_LINE = 1024  # longest request or response line, without its "\n"
CHUNK = 65536  # size of the chunks uploaded, downloaded and hashed

_record_lock = threading.Lock()


def record(keyword: str, **fields: object) -> None:
    """Prints one stdout record: KEYWORD key=value ..., flushed; thread-safe."""
    text = " ".join([keyword] + [f"{key}={value}" for key, value in fields.items()])
    with _record_lock:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


def warn(message: str) -> None:
    """A diagnostic on stderr (never a record)."""
    print(f"interop_node.py: {message}", file=sys.stderr, flush=True)


class ConnectionClosed(Exception):
    """The other end closed the stream before what we expected arrived."""


class ProtocolError(Exception):
    """The other end sent something the protocol does not allow; the message is the reason."""


def reason(error: BaseException) -> str:
    """A short reason without spaces for a failure, as FAIL records carry it."""
    if isinstance(error, (TimeoutError, socket.timeout)):
        return "timeout"
    if isinstance(error, ConnectionClosed):
        return "connection-closed"
    if isinstance(error, ProtocolError):
        return str(error)
    if isinstance(error, socket.gaierror):
        return "unknown-name" if error.errno == socket.EAI_NONAME else f"eai-{error.errno}"
    if isinstance(error, OSError) and error.errno is not None:
        if error.errno in (errno.ETIMEDOUT, errno.EAGAIN):
            return "timeout"
        return os.strerror(error.errno).lower().replace(" ", "-")
    return type(error).__name__.lower()


def sha256_line(digest: "hashlib._Hash") -> str:
    return "SHA256 " + digest.hexdigest()


class LineStream:
    """Request/response lines and counted byte runs over a connected stream socket. Blocking
    calls are bounded by the socket's timeout (TimeoutError)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._reader = sock.makefile("rb", buffering=CHUNK)

    def read_line(self) -> str:
        line = self._reader.readline(MAX_LINE + 1)
        if not line.endswith(b"\n"):
            if len(line) > MAX_LINE:
                raise ProtocolError("line-too-long")
            raise ConnectionClosed()
        return line[:-1].decode("utf-8", errors="replace")

    def read_hashed(self, count: int, digest: "hashlib._Hash") -> None:
        """Reads exactly `count` bytes into `digest`."""
        while count > 0:
            chunk = self._reader.read1(min(count, CHUNK))
            if not chunk:
                raise ConnectionClosed()
            digest.update(chunk)
            count -= len(chunk)

    def send_line(self, text: str) -> None:
        self.sock.sendall(text.encode("utf-8") + b"\n")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        self._reader.close()
        self.sock.close()


class Deadline:
    """The client's overall deadline: the time left, for socket timeouts."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        """Seconds left; TimeoutError once none are."""
        remaining = self.at - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("deadline")
        return remaining
