"""pytest glue for the interop suite: the loopback control plane with the four server nodes
(module-scoped fixtures for test_loopback.py) and the summary table of the 16 pairs.

test_seed_netns.py (namespaces, root) shares this folder and uses none of these fixtures.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Optional

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import nodes  # noqa: E402
from loopback_servers import ControlPlane, account_name  # noqa: E402

DOMAIN = "interop"
ROLES = ("srv", "cli")
_PAIR_TIMES = pytest.StashKey[dict]()


def _interrupt(signum, frame):
    # KeyboardInterrupt ends the session and still runs the fixtures' teardown, which stops the
    # nodes and ntm-server by PID (a plain SIGTERM would kill pytest and orphan ntm-server).
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config):
    # ci/suites/interop.sh bounds the run with timeout(1), which sends SIGTERM.
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)


@dataclass
class ServerNode:
    """One language's server node, or why it did not come up."""

    lang: str
    fqdn: str
    proc: Optional[nodes.NsProcess] = None
    ready: dict = field(default_factory=dict)  # the READY record's fields
    problem: Optional[str] = None

    def require(self) -> "ServerNode":
        """Itself if it is up; else fails the calling test with the reason."""
        if self.problem is not None:
            pytest.fail(f"the {self.lang} server node is not up: {self.problem}", pytrace=False)
        if self.proc.poll() is not None:
            pytest.fail(f"the {self.lang} server node exited (rc {self.proc.returncode})\n"
                        + nodes.tails(self.proc), pytrace=False)
        return self


@pytest.fixture(scope="module")
def control_plane():
    """ntm-server on 127.0.0.1 and ::1 (free ports, temporary SQLite state, --domain interop)
    with the accounts srv-<lang> and cli-<lang> for every language."""
    with ControlPlane(domain=DOMAIN) as plane:
        for lang in nodes.LANGS:
            for role in ROLES:
                plane.add_account(account_name(role, lang))
        plane.start()
        yield plane


@pytest.fixture(scope="module")
def server_nodes(control_plane):
    """The four server nodes, started together once; each waited for until READY. A language
    whose node cannot run is recorded (its pairs fail with the reason), not skipped."""
    servers: dict[str, ServerNode] = {}
    for lang in nodes.LANGS:
        name = account_name("srv", lang)
        server = servers[lang] = ServerNode(lang, control_plane.fqdn(name))
        server.problem = nodes.missing(lang)
        if server.problem is None:
            try:
                http = ["--http-port", str(nodes.HTTP_PORT)] if lang in nodes.HTTP_LANGS else []
                server.proc = nodes.start(lang, ["server", *control_plane.node_args(name), *http],
                                          label=name)
            except (OSError, RuntimeError) as error:
                server.problem = f"cannot start: {error}"
    deadline = time.monotonic() + nodes.READY_TIMEOUT_S
    for server in servers.values():
        if server.proc is None:
            continue
        try:
            line = server.proc.wait_line("READY ", max(1.0, deadline - time.monotonic()))
            server.ready = nodes.fields(line)
        except TimeoutError:
            server.problem = (f"no READY within {nodes.READY_TIMEOUT_S} s\n"
                              + nodes.tails(server.proc))
    try:
        yield servers
    finally:
        for server in servers.values():
            if server.proc is not None:
                nodes.stop(server.proc)


@pytest.fixture(scope="session")
def pair_times(request) -> dict:
    """(client, server) -> (seconds, outcome) of each test_pair, for the summary table."""
    return request.config.stash.setdefault(_PAIR_TIMES, {})


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    times = config.stash.get(_PAIR_TIMES, None)
    if not times:
        return
    langs = nodes.LANGS
    width = 9
    corner = "client \\ server"
    lines = [f"{corner:<16}" + "".join(f"{lang:>{width}}" for lang in langs)]
    for client in langs:
        cells = []
        for server in langs:
            seconds, outcome = times.get((client, server), (None, "-"))
            cells.append(f"{seconds:.2f}" if outcome == "ok" else outcome)
        lines.append(f"{client:<16}" + "".join(f"{cell:>{width}}" for cell in cells))
    total = sum(seconds for seconds, _ in times.values() if seconds is not None)
    passed = sum(1 for _, outcome in times.values() if outcome == "ok")
    lines.append(f"{passed}/{len(times)} pairs passed, {total:.1f} s of client runs "
                 "(seconds per pair; FAIL = failed)")
    terminalreporter.write_sep("=", "interop on loopback: client -> server, seconds per pair")
    for line in lines:
        terminalreporter.write_line(line)
