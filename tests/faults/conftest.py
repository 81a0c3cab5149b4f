"""pytest glue for the fault suite (tests/faults): root check, a `topo` fixture (namespaces with
their own prefix, removed afterwards even on failure), `servers` (AS, DC and RS as separate
processes, so each can be killed) and a summary table of measured recovery times."""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "netns"))

from field_run import Servers, missing_binaries  # noqa: E402
from topology import Topology  # noqa: E402

RECOVERY: dict = {}  # test -> [(event, seconds or None)]


def pytest_configure(config):
    if os.geteuid() != 0:
        raise pytest.UsageError("tests/faults creates network namespaces and needs root "
                                "(run as root, e.g. via ci/suites/faults.sh in CI)")


@pytest.fixture
def topo():
    os.environ.setdefault("NTM_NETNS_PREFIX_BASE", "ntmf")
    t = Topology()
    with t:
        yield t
    left = t.leftover_namespaces()
    assert not left, f"namespaces left behind: {left}"


@pytest.fixture
def servers(topo, tmp_path):
    missing = missing_binaries()
    if missing:
        pytest.fail(f"ntmobile build not found: {missing} (build first, or set NTM_BUILD_DIR)")
    state = str(tmp_path / "state")
    os.makedirs(state)
    s = Servers(topo, state, accounts=("alice", "bob", "carol"))
    s.start()
    return s


def record(test: str, event: str, seconds) -> None:
    RECOVERY.setdefault(test, []).append((event, seconds))


def pytest_terminal_summary(terminalreporter):
    if not RECOVERY:
        return
    terminalreporter.write_sep("=", "fault suite: measured per event (recovery = from the event "
                                    "to progress on every session)")
    for test, events in RECOVERY.items():
        for event, s in events:
            text = "FAILED" if s is None else s if isinstance(s, str) else f"{s:.3f} s"
            terminalreporter.write_line(f"{test:38s} {event:44s} {text}")
