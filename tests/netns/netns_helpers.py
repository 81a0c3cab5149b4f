"""Helpers shared by the namespace tests."""
import os
import sys

from topology import NsProcess, Topology, endpoint  # noqa: F401 (re-exported)

HERE = os.path.dirname(os.path.abspath(__file__))
UDP_TOOL = os.path.join(HERE, "udp_tool.py")


def udp(t: Topology, where, *args: str, **kw) -> NsProcess:
    """Starts udp_tool.py (see its docstring) inside the namespace of `where`."""
    return t.run(where, [sys.executable, "-u", UDP_TOOL, *args],
                 label=f"{getattr(where, 'name', where)}:udp-{args[0]}", **kw)


def fields(line: str) -> dict:
    """'WORD k=v k=v' -> {'k': 'v', ...} (values have no spaces)."""
    out = {}
    for part in line.split()[1:]:
        k, sep, v = part.partition("=")
        if sep:
            out[k] = v
    return out


def echo_server(t: Topology, where, binds, seconds: float = 20.0) -> tuple:
    """Starts an echo on each HOST:PORT in `binds`; returns (process, [bound endpoint...])."""
    args = ["echo", "--time", str(seconds)]
    for b in binds:
        args += ["--bind", b]
    p = udp(t, where, *args)
    eps = [fields(l)["bind"] for l in p.wait_lines("READY", len(binds), timeout=10)]
    return p, eps


def send(t: Topology, where, *dests: str, bind: str = None, tries: int = 3,
         wait: float = 0.5, timeout: float = 15.0) -> list:
    """Sends from one socket to each destination; returns the result lines (REPLY/NOREPLY/
    SENDERR), one per destination, after the tool ended."""
    args = ["send", "--tries", str(tries), "--wait", str(wait)]
    if bind:
        args += ["--bind", bind]
    for d in dests:
        args += ["--to", d]
    p = udp(t, where, *args)
    rc = p.wait_exit(timeout)
    assert rc == 0, p.output()
    res = [l for l in p.lines if l.split()[0] in ("REPLY", "NOREPLY", "SENDERR")]
    assert len(res) == len(dests), p.output()
    return res




# Tables that tests want printed in pytest's terminal summary (see conftest.py).
REPORTS: dict = {}


def report_table(title: str, rows, cols, cells: dict) -> None:
    """Registers (or updates) a table; cells maps (row, col) -> text. Missing cells print '-'."""
    REPORTS[title] = (list(rows), list(cols), dict(cells))


def format_table(title: str, rows, cols, cells: dict) -> str:
    width = max([len(str(c)) for c in cols] + [len(str(v)) for v in cells.values()] + [3])
    head = max(len(str(r)) for r in rows)
    lines = [title, " " * head + " | " + " | ".join(str(c).ljust(width) for c in cols)]
    lines.append("-" * len(lines[-1]))
    for r in rows:
        lines.append(str(r).ljust(head) + " | " +
                     " | ".join(str(cells.get((r, c), "-")).ljust(width) for c in cols))
    return "\n".join(lines)
