"""pytest glue for the `ntm` command-line node tests (tests/cli): build paths, free ports, an
`ntm up` process wrapper and small real-socket services (Python's http.server, a half-close
echo, a UDP echo) that stand for unmodified programs. Everything runs on loopback or inside
namespaces the tests create; every wait is bounded."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Callable, Optional, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "netns"))

from topology import NsProcess  # noqa: E402

START_TIMEOUT_S = 20.0
COMMAND_TIMEOUT_S = 30.0


def build_dir() -> str:
    return os.environ.get("NTM_BUILD_DIR") or os.path.join(REPO, "build")


def ntm_program() -> str:
    return os.path.join(build_dir(), "cli", "ntm")


def server_program() -> str:
    return os.path.join(build_dir(), "servers", "ntm-server")


def wait_until(predicate: Callable[[], bool], timeout: float, what: str,
               interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout} s")
        time.sleep(interval)


def free_port(kind: int = socket.SOCK_STREAM, host: str = "127.0.0.1") -> int:
    """A port the kernel reports free for `kind` on `host` (and for the other kind too)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, kind) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        other = socket.SOCK_DGRAM if kind == socket.SOCK_STREAM else socket.SOCK_STREAM
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, other) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port")


def keypair() -> tuple[str, str]:
    out = subprocess.run([ntm_program(), "keygen"], capture_output=True, text=True, check=True,
                         timeout=COMMAND_TIMEOUT_S).stdout.split()
    return out[1], out[3]


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class NtmUp:
    """One `ntm up` process (optionally inside a namespace: argv prefix), its config file and
    control socket; stop() sends SIGTERM by PID and returns the exit status."""

    def __init__(self, label: str, config_path: str, socket_path: str,
                 prefix: Sequence[str] = (), extra: Sequence[str] = ()) -> None:
        self.label = label
        self.config_path = config_path
        self.socket_path = socket_path
        self.prefix = list(prefix)
        self.process = NsProcess(label, self.prefix + [ntm_program(), "up", "--config",
                                                       config_path, *extra])

    def ctl(self, *args: str, check: bool = True, timeout: float = COMMAND_TIMEOUT_S):
        r = subprocess.run(self.prefix + [ntm_program(), *args, "--socket", self.socket_path],
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"ntm {' '.join(args)} failed ({r.returncode}): {r.stderr}\n"
                                 + self.process.output())
        return r

    def status(self) -> dict:
        return json.loads(self.ctl("status", "--json").stdout)

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.label} exited at start\n" + self.process.output())
            return any("ntm info: node " in l and " up " in l for l in self.process.err_lines) \
                and os.path.exists(self.socket_path)
        wait_until(ready, timeout, f"{self.label} up")

    def log_has(self, text: str) -> bool:
        return any(text in l for l in self.process.err_lines)

    def hup(self) -> None:
        os.kill(self.process.pid, signal.SIGHUP)

    def stop(self) -> Optional[int]:
        self.process.stop()
        try:
            return self.process.wait_exit(10)
        except TimeoutError:
            return None


# ---- real programs the tests proxy to ----------------------------------------------------------

class HalfCloseServer:
    """A real TCP server that reads until the client's end of stream, then answers with the
    SHA-256 (hex) of what it read and closes: it only answers if the half-close got through."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _serve(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(60)
            h = hashlib.sha256()
            try:
                while True:
                    data = conn.recv(65536)
                    if not data:
                        break
                    h.update(data)
                conn.sendall(h.hexdigest().encode())
            except OSError:
                pass

    def close(self) -> None:
        self.sock.close()


class UdpEcho:
    """A real UDP echo server."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                                  socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                data, addr = self.sock.recvfrom(65535)
                self.sock.sendto(data, addr)
            except OSError:
                return

    def close(self) -> None:
        self.sock.close()


def half_close_roundtrip(host: str, port: int, payload: bytes, timeout: float = 30.0) -> str:
    """Sends `payload`, shuts down writing, returns the answer (read until end of stream)."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            d = s.recv(65536)
            if not d:
                break
            chunks.append(d)
        return b"".join(chunks).decode()
