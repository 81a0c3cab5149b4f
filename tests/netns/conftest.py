"""pytest glue for the namespace tests: root check, a `topo` fixture and small helpers."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from topology import Topology  # noqa: E402


def pytest_configure(config):
    if os.geteuid() != 0:
        raise pytest.UsageError("tests/netns creates network namespaces and needs root "
                                "(run as root, e.g. via ci/suites/netns.sh in CI)")


@pytest.fixture
def topo():
    """A fresh topology (internet + servers namespace) per test; asserts nothing is left."""
    t = Topology()
    with t:
        yield t
    left = t.leftover_namespaces()
    assert not left, f"namespaces left behind: {left}"


def pytest_terminal_summary(terminalreporter):
    from netns_helpers import REPORTS, format_table
    for title, (rows, cols, cells) in REPORTS.items():
        terminalreporter.write_sep("=", "ntmobile namespace results")
        terminalreporter.write_line(format_table(title, rows, cols, cells))
