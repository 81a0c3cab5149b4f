"""No call into libntm may raise SIGPIPE (issue 13): an Account Server that closes the TLS
connection during login once killed the host process with status 141. Python ignores SIGPIPE
at start-up, which would hide the bug, so each check runs in a fresh interpreter that first
restores the default disposition (as command-line tools often do) and then logs in again and
again to ntm-hostile-as (from the C++ test build), an AS that closes connections in every
awkward way. The process must survive every attempt and see each login fail cleanly."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parents[3]

CHILD = r"""
import signal, sys
import ntmobile
assert signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN, "Python's start-up choice changed?"
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
endpoint, cert, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
failed = 0
for _ in range(count):
    try:
        ntmobile.start(server=endpoint, server_certificate=cert, account="alice", password="pw",
                       listen_ipv4="127.0.0.1:0", listen_ipv6="", start_timeout_ms=1)
        ntmobile.stop()
    except ntmobile.NTMError:
        failed += 1
print(f"RESULT attempts={count} failed={failed}", flush=True)
"""


def _hostile_as_binary() -> Path:
    explicit = os.environ.get("NTM_HOSTILE_AS")
    build = Path(os.environ.get("NTM_BUILD_DIR", REPO / "build"))
    path = Path(explicit) if explicit else build / "tests" / "integration" / "ntm-hostile-as"
    if not path.exists():
        pytest.fail(f"{path} not found: build the repository's tests first (or set NTM_HOSTILE_AS)")
    return path


def _hostile_as(mode: str) -> Iterator[tuple[str, str]]:
    proc = subprocess.Popen([str(_hostile_as_binary()), "--mode", mode, "--timeout", "240"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        line = ""
        while not line.startswith("READY ") and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], deadline - time.monotonic())
            if not ready:
                break
            line = proc.stdout.readline()
            if not line:
                break
        assert line.startswith("READY "), f"ntm-hostile-as did not start: {line!r}"
        fields = dict(item.split("=", 1) for item in line.split()[1:])
        yield fields["endpoint"], fields["cert"]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(params=["respond-fin-rst", "mixed"])
def hostile_as(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    yield from _hostile_as(request.param)


def test_logins_against_an_as_that_closes_connections_never_raise_sigpipe(
        hostile_as: tuple[str, str]) -> None:
    endpoint, cert = hostile_as
    count = 24
    result = subprocess.run([sys.executable, "-c", CHILD, endpoint, cert, str(count)],
                            capture_output=True, text=True, timeout=180)
    killed = " (killed by SIGPIPE)" if result.returncode == -signal.SIGPIPE else ""
    assert result.returncode == 0, f"exit {result.returncode}{killed}: {result.stderr[-2000:]}"
    assert f"RESULT attempts={count} failed={count}" in result.stdout
