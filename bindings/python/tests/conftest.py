"""Fixtures: this test process runs one node ("alice.example"); a peer node ("bob.example")
runs in another process (peer_node.py) with echo services. Both use only loopback for their
real UDP endpoints. A third, "ghost.example", is a static peer whose endpoint is a loopback UDP
port that never answers (for timeouts)."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

import ntmobile

SELF_NAME, PEER_NAME, GHOST_NAME = "alice.example", "bob.example", "ghost.example"
SELF_V4, SELF_V6 = "100.64.0.1", "fd00:6e74:6d::1"
PEER_V4, PEER_V6 = "100.64.0.2", "fd00:6e74:6d::2"
GHOST_V4, GHOST_V6 = "100.64.0.9", "fd00:6e74:6d::9"
UNKNOWN_V4 = "100.64.0.77"  # no peer owns it
ECHO_PORT, TLS_PORT, CONTROL_PORT = 7, 8443, 9
READY_TIMEOUT = 30.0
PEER_SCRIPT = Path(__file__).with_name("peer_node.py")


class EventLog:
    """Events from the node's callback, with a bounded wait for a condition on them."""

    def __init__(self) -> None:
        self.events: list[ntmobile.Event] = []
        self.threads: set[str] = set()
        self._cond = threading.Condition()

    def __call__(self, event: ntmobile.Event) -> None:
        with self._cond:
            self.events.append(event)
            self.threads.add(threading.current_thread().name)
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[list[ntmobile.Event]], bool], timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self.events), timeout)


@dataclass
class TLSFiles:
    ca: Path
    peer_cert: Path
    peer_key: Path
    self_cert: Path
    self_key: Path


@dataclass
class Env:
    node: ntmobile.Node
    peer_info: dict[str, Any]
    peer: subprocess.Popen[str]
    events: EventLog
    tls: TLSFiles


def _make_tls_files(folder: Path) -> TLSFiles:
    """A test CA and a server certificate for each node name, made with `cryptography`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ntmobile test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(name: str) -> tuple[bytes, bytes]:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        return (
            cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )

    files = TLSFiles(
        ca=folder / "ca.pem",
        peer_cert=folder / "peer.pem",
        peer_key=folder / "peer.key",
        self_cert=folder / "self.pem",
        self_key=folder / "self.key",
    )
    files.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    for name, cert_path, key_path in (
        (PEER_NAME, files.peer_cert, files.peer_key),
        (SELF_NAME, files.self_cert, files.self_key),
    ):
        cert, key = leaf(name)
        cert_path.write_bytes(cert)
        key_path.write_bytes(key)
    return files


def _read_ready(proc: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    lines: queue.Queue[str] = queue.Queue()

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put("")

    threading.Thread(target=reader, daemon=True).start()
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"peer node printed no READY line within {timeout} s")
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            continue
        if line == "":
            raise RuntimeError(f"peer node exited before READY (status {proc.wait(5)})")
        if line.startswith("READY "):
            return json.loads(line[len("READY ") :])


def _kill(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is not None:
        return
    try:
        if proc.stdin:
            proc.stdin.close()  # the peer stops its node and exits when stdin closes
        proc.wait(10)
    except (subprocess.TimeoutExpired, OSError):
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return _make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def env(tls_files: TLSFiles, tmp_path_factory: pytest.TempPathFactory):
    self_keys = ntmobile.generate_keypair()
    peer_keys = ntmobile.generate_keypair()
    ghost_keys = ntmobile.generate_keypair()
    # The ghost's "endpoint": a loopback UDP port that is open (no ICMP errors) but never read.
    ghost_port = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ghost_port.bind(("127.0.0.1", 0))
    stderr_path = tmp_path_factory.mktemp("peer") / "stderr.txt"
    stderr = open(stderr_path, "w")
    proc = subprocess.Popen(
        [
            sys.executable,
            str(PEER_SCRIPT),
            "--name", PEER_NAME,
            "--key", peer_keys.private_key,
            "--vip4", PEER_V4,
            "--vip6", PEER_V6,
            "--listen", "127.0.0.1:0",
            "--peer", f"{SELF_NAME},{self_keys.public_key},,{SELF_V4},{SELF_V6}",
            "--ca", str(tls_files.ca),
            "--cert", str(tls_files.peer_cert),
            "--certkey", str(tls_files.peer_key),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    node = None
    try:
        try:
            peer_info = _read_ready(proc, READY_TIMEOUT)
        except Exception as e:
            _kill(proc)
            stderr.flush()
            raise RuntimeError(f"{e}\npeer stderr:\n{stderr_path.read_text()}") from e
        events = EventLog()
        node = ntmobile.Node(
            SELF_NAME,
            self_keys.private_key,
            virtual_ipv4=SELF_V4,
            virtual_ipv6=SELF_V6,
            listen_ipv4="127.0.0.1:0",
            listen_ipv6="",
            peers=[
                ntmobile.Peer(PEER_NAME, peer_keys.public_key, peer_info["endpoint_ipv4"], PEER_V4, PEER_V6),
                ntmobile.Peer(GHOST_NAME, ghost_keys.public_key, "127.0.0.1:%d" % ghost_port.getsockname()[1],
                              GHOST_V4, GHOST_V6),
            ],
            on_event=events,
        ).start()
        yield Env(node, peer_info, proc, events, tls_files)
    finally:
        if node is not None and node.running:
            node.stop()
        _kill(proc)
        ghost_port.close()
        stderr.close()


# ---- helpers the tests share ------------------------------------------------------------

def payload(size: int, seed: int = 1) -> bytes:
    import random

    return random.Random(seed).randbytes(size)


def echo_checksummed(sock: socket.socket, data: bytes, chunk: int = 65536, timeout: float = 60.0) -> str:
    """Sends data on one thread while receiving the echo here; returns the echo's sha256."""
    received = hashlib.sha256()
    errors: list[BaseException] = []

    def sender() -> None:
        try:
            sock.sendall(data)
        except BaseException as e:  # noqa: BLE001 - re-raised below
            errors.append(e)

    sock.settimeout(timeout)
    thread = threading.Thread(target=sender)
    thread.start()
    count = 0
    while count < len(data):
        got = sock.recv(chunk)
        if not got:
            break
        received.update(got)
        count += len(got)
    thread.join(timeout)
    assert not thread.is_alive(), "sender did not finish"
    if errors:
        raise errors[0]
    assert count == len(data), f"echo ended after {count} of {len(data)} bytes"
    return received.hexdigest()


def echo_lockstep(sock: socket.socket, data: bytes, chunk: int = 65536, timeout: float = 30.0) -> str:
    """Echo from one thread: send a chunk, read its echo back, repeat (for TLS sockets, which
    must not be read and written from two threads at once); returns the echo's sha256."""
    received = hashlib.sha256()
    sock.settimeout(timeout)
    view = memoryview(data)
    for offset in range(0, len(data), chunk):
        part = view[offset : offset + chunk]
        sock.sendall(part)
        got = 0
        while got < len(part):
            piece = sock.recv(len(part) - got)
            assert piece, f"echo ended after {offset + got} of {len(data)} bytes"
            received.update(piece)
            got += len(piece)
    return received.hexdigest()
