"""examples/python: the echo server and client run as their README shows (two processes)."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import ntmobile

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "python"


@pytest.fixture
def echo_server():
    if not (EXAMPLES / "echo_server.py").is_file():
        pytest.skip("examples/python not found (tests run from the repository)")
    bob, alice = ntmobile.generate_keypair(), ntmobile.generate_keypair()
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "echo_server.py"), "--name", "bob.example", "--key", bob.private_key,
         "--vip4", "100.64.5.2", "--vip6", "fd00:6e74:6d::5:2", "--listen", "127.0.0.1:0",
         "--peer", f"alice.example,{alice.public_key},,100.64.5.1,fd00:6e74:6d::5:1", "--port", "7000"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l) for l in proc.stdout] and None, daemon=True).start()
    try:
        endpoint = None
        while endpoint is None:
            line = lines.get(timeout=30)
            found = re.search(r"real UDP endpoint (\S+)", line)
            endpoint = found.group(1) if found else None
        yield bob, alice, endpoint, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def run_client(bob, alice, endpoint, *extra: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / "echo_client.py"), "--name", "alice.example", "--key", alice.private_key,
         "--vip4", "100.64.5.1", "--vip6", "fd00:6e74:6d::5:1", "--listen", "127.0.0.1:0",
         "--peer", f"bob.example,{bob.public_key},{endpoint},100.64.5.2,fd00:6e74:6d::5:2", *extra],
        input=stdin, capture_output=True, text=True, timeout=60,
    )


def test_echo_client_and_server_examples(echo_server):
    bob, alice, endpoint, proc = echo_server
    result = run_client(bob, alice, endpoint, "--connect", "bob.example:7000", "hello over virtual IPv4")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello over virtual IPv4\n"
    result = run_client(bob, alice, endpoint, "--connect", "bob.example:7000", "-6", stdin="one\ntwo\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "one\ntwo\n"
    assert "fd00:6e74:6d::5:1 -> fd00:6e74:6d::5:2" in result.stderr
    result = run_client(bob, alice, endpoint, "--connect", "bob.example:7001", "x")
    assert result.returncode == 1 and "Connection refused" in result.stderr
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
