"""Driving the field tests in namespaces: split servers that can be killed and restarted one by
one, and ntm-field-node runs (tests/integration/field_node.cc) whose lines tell when sessions
made progress. Used by tests/faults and bench/soak.py.

Times are CLOCK_MONOTONIC seconds (time.monotonic() here, t=... in the node's lines), shared by
every namespace of the host, so the recovery time of an event is "first progress after the
event" minus "the event" without any clock translation.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Callable, Optional, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "netns"))

from netns_helpers import fields  # noqa: E402
from ntm_node import build_dir  # noqa: E402
from topology import (SERVERS_IPV4, SERVERS_IPV6, Node, NsProcess, Topology,  # noqa: E402
                      endpoint, wait_until)

DOMAIN = "example"
AS_PORT, DC_PORT, RS_PORT = 7800, 7801, 7802
PASSWORD = "correct horse battery staple"


def field_node_program() -> str:
    return os.path.join(build_dir(), "tests", "integration", "ntm-field-node")


def server_binary(name: str) -> str:
    return os.path.join(build_dir(), "servers", name)


def missing_binaries() -> list[str]:
    need = [field_node_program()] + [server_binary(n) for n in ("ntm-server", "ntm-as", "ntm-dc",
                                                                 "ntm-rs")]
    return [p for p in need if not os.access(p, os.X_OK)]


class Servers:
    """AS, DC and RS as three processes (ntm-as, ntm-dc, ntm-rs) on one state directory in the
    servers namespace, dual stack, so that each can be killed with SIGKILL and started again."""

    ROLES = {"as": ("ntm-as", AS_PORT, "tcp"), "dc": ("ntm-dc", DC_PORT, "udp"),
             "rs": ("ntm-rs", RS_PORT, "udp")}

    def __init__(self, t: Topology, state_dir: str, accounts: Sequence[str] = ("alice", "bob"),
                 keepalive_s: int = 20):
        self.t = t
        self.state = state_dir
        self.keepalive_s = keepalive_s
        self.procs: dict[str, NsProcess] = {}
        for account in accounts:
            subprocess.run([server_binary("ntm-server"), "accounts", "add", account,
                            "--password", PASSWORD, "--state", state_dir],
                           check=True, capture_output=True, timeout=30)

    def argv(self, role: str) -> list[str]:
        program = server_binary(self.ROLES[role][0])
        argv = [program, "run", "--state", self.state, "--domain", DOMAIN,
                "--keepalive", str(self.keepalive_s), "--log-level", "info",
                "--relay", f"{SERVERS_IPV4}:{RS_PORT},[{SERVERS_IPV6}]:{RS_PORT}"]
        for ip in (SERVERS_IPV4, f"[{SERVERS_IPV6}]"):
            argv += ["--listen-as", f"{ip}:{AS_PORT}", "--listen-dc", f"{ip}:{DC_PORT}",
                     "--listen-rs", f"{ip}:{RS_PORT}"]
        return argv

    def _listening(self, role: str) -> bool:
        _, port, proto = self.ROLES[role]
        out = self.t.exec(self.t.servers, ["ss", "-Hln" + ("t" if proto == "tcp" else "u")]).stdout
        p = self.procs[role]
        assert p.poll() is None, f"{role} exited\n" + p.output()
        return out.count(f":{port} ") >= 2  # IPv4 and IPv6

    def start(self, *roles: str) -> float:
        """Starts the roles (default all) and returns once they listen: the monotonic time."""
        for role in roles or tuple(self.ROLES):
            self.procs[role] = self.t.run(self.t.servers, self.argv(role), label=role)
        for role in roles or tuple(self.ROLES):
            wait_until(lambda r=role: self._listening(r), timeout=15, interval=0.01,
                       what=f"{role} listening")
        return time.monotonic()

    def kill(self, role: str) -> float:
        """SIGKILL (no clean shutdown); returns the monotonic time the process was gone."""
        p = self.procs[role]
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=10)
        return time.monotonic()

    def cert(self) -> str:
        return os.path.join(self.state, "as-tls.pem")

    def dc_saved_nodes(self) -> int:
        """How many nodes the DC's saved node list (`dc-nodes`, rewritten at most once a second
        and read at its next start) holds now."""
        try:
            with open(os.path.join(self.state, "dc-nodes"), encoding="ascii") as f:
                return sum(1 for line in f if line.strip())
        except FileNotFoundError:
            return 0

    def rs_saved_relays_bound(self) -> int:
        """How many relays with both ends bound the RS's saved table (`rs-relays`, rewritten at
        most once a second and read at its next start) holds now."""
        try:
            with open(os.path.join(self.state, "rs-relays"), encoding="ascii") as f:
                return sum(1 for line in f if len(line.split()) >= 3 and line.split()[2] == "2")
        except FileNotFoundError:
            return 0


def as_endpoint(node: Node) -> str:
    return endpoint(SERVERS_IPV4 if node.ipv4 else SERVERS_IPV6, AS_PORT)


class FieldNode:
    """One ntm-field-node process in a node's namespace, control-plane mode."""

    def __init__(self, t: Topology, node: Node, servers: Servers, account: str, scenario: str,
                 role: str, extra: Sequence[str] = (), stdin: bool = False, timeout_s: int = 120):
        self.name = f"{account}.{DOMAIN}"
        argv = [field_node_program(), scenario, "--role", role,
                "--server", as_endpoint(node), "--server-cert", servers.cert(),
                "--account", account, "--password", PASSWORD, "--timeout", str(timeout_s),
                "--log", "info", *extra]
        kw = {"stdin": subprocess.PIPE} if stdin else {}
        self.proc = t.run(node, argv, label=f"{account}({role})", **kw)

    # -- lines --

    def rows(self, word: str) -> list[dict]:
        out = []
        for line in self.proc.lines_starting(word + " "):
            f = fields(line)
            if "t" in f:
                f["t"] = float(f["t"])
            out.append(f)
        return out

    def wait_ready(self, timeout: float = 30) -> dict:
        return fields(self.proc.wait_line("READY", timeout=timeout))

    def tunnel(self, peer: str) -> Optional[dict]:
        rows = [r for r in self.rows("TUNNEL") if r.get("peer") == peer]
        return rows[-1] if rows else None

    def wait_tunnel(self, peer: str, timeout: float,
                    pred: Callable[[dict], bool] = lambda r: True, what: str = "") -> dict:
        deadline = time.monotonic() + timeout
        while True:
            row = self.tunnel(peer)
            if row is not None and pred(row):
                return row
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"{self.proc.label}: tunnel to {peer} not {what} within "
                                     f"{timeout} s; latest {row}\n" + self.proc.output())
            time.sleep(0.02)

    def stats(self) -> dict:
        rows = self.rows("STATS")
        return rows[-1] if rows else {}

    def stats_after(self, t: float, timeout: float = 5) -> dict:
        """The first STATS line printed after monotonic time t."""
        deadline = time.monotonic() + timeout
        while True:
            later = [r for r in self.rows("STATS") if r["t"] > t]
            if later:
                return later[0]
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"{self.proc.label}: no STATS after {t}\n" +
                                     self.proc.output())
            time.sleep(0.05)

    def errors(self) -> list[str]:
        return self.proc.lines_starting("ERROR")

    def send(self, text: str) -> None:
        self.proc.send_line(text)

    def finish(self, timeout: float) -> dict:
        """Waits for the exit; returns the RESULT line. Fails on ERROR lines or a bad status."""
        rc = self.proc.wait_exit(timeout)
        res = self.proc.lines_starting("RESULT")
        assert rc == 0 and not self.errors() and len(res) == 1, self.proc.output()
        return fields(res[0])


class SessionsRun:
    """`sessions` between a server node (bob) and a client node (alice): K connections with
    echoed, byte-checked bursts. recovery() measures how long after an event every session made
    progress again. `extra` goes to both nodes, `client_extra` to the client alone (after the
    rest: a second --server / --server-cert there overrides the first)."""

    def __init__(self, t: Topology, servers: Servers, server_node: Node, client_node: Node, *,
                 sessions: int = 2, burst: int = 16384, gap_ms: str = "5-20",
                 duration_s: float = 20.0, extra: Sequence[str] = (),
                 client_account: str = "alice", server_account: str = "bob",
                 stall_s: float = 30.0, client_extra: Sequence[str] = ()):
        self.t, self.servers = t, servers
        common = ["--sessions", str(sessions), "--bytes", str(burst), *extra]
        self.server = FieldNode(t, server_node, servers, server_account, "sessions", "server",
                                common, timeout_s=int(duration_s + 90))
        self.server.wait_ready()
        self.client = FieldNode(t, client_node, servers, client_account, "sessions", "client",
                                common + ["--connect", f"{server_account}.{DOMAIN}:5000",
                                          "--duration", str(duration_s), "--gap-ms", gap_ms,
                                          "--stall-timeout", str(stall_s), *client_extra],
                                stdin=True, timeout_s=int(duration_s + 90))
        self.sessions = sessions
        self.duration_s = duration_s
        self.events: list[tuple[str, float, Optional[float]]] = []  # (label, t, recovery s)

    def progress(self) -> list[tuple[float, list[int]]]:
        return [(r["t"], [int(x) for x in r["v"].split(",")]) for r in self.client.rows("PROGRESS")]

    def verified_at(self, t: float) -> list[int]:
        before = [v for (tt, v) in self.progress() if tt <= t]
        return before[-1] if before else [0] * self.sessions

    def wait_flowing(self, timeout: float = 20) -> None:
        """Every session has verified at least one burst."""
        deadline = time.monotonic() + timeout
        while True:
            p = self.progress()
            if p and all(x > 0 for x in p[-1][1]):
                return
            self.alive_or_fail("the sessions to start")
            if time.monotonic() > deadline:
                raise AssertionError(f"sessions not flowing within {timeout} s\n" + self.diag())
            time.sleep(0.05)

    def alive_or_fail(self, what: str) -> None:
        for n in (self.client, self.server):
            if n.proc.poll() is not None and n.proc.returncode != 0:
                raise AssertionError(f"{n.proc.label} failed while waiting for {what}\n"
                                     + self.diag())

    def recovery(self, label: str, t_event: float, timeout: float) -> float:
        """Seconds from t_event until every session has verified more bytes than it had at
        t_event; AssertionError after `timeout`."""
        base = self.verified_at(t_event)
        deadline = t_event + timeout
        while True:
            for tt, v in self.progress():
                if tt > t_event and all(a > b for a, b in zip(v, base)):
                    self.events.append((label, t_event, tt - t_event))
                    return tt - t_event
            self.alive_or_fail(f"recovery from {label}")
            if time.monotonic() > deadline:
                self.events.append((label, t_event, None))
                raise AssertionError(f"sessions did not all progress within {timeout} s after "
                                     f"{label}\n" + self.diag())
            time.sleep(0.02)

    def finish(self) -> dict:
        """Lets the run end; checks every session survived with intact data."""
        self.client.send("STOP")
        res = self.client.finish(timeout=self.duration_s + 60)
        self.server.finish(timeout=30)
        assert int(res["alive"]) == self.sessions, self.diag()
        return res

    def diag(self) -> str:
        out = [self.t.describe()]
        out += [f"event {label} at {t:.6f}: recovery {r if r is None else round(r, 3)} s"
                for label, t, r in self.events]
        for n in (self.client, self.server):
            out.append(f"--- {n.proc.label} rc={n.proc.poll()}")
            out += ["  " + l for l in n.proc.lines if not l.startswith(("PROGRESS", "STATS"))][-150:]
            out += ["  (last) " + l for l in n.proc.lines_starting("PROGRESS")[-2:]]
            out += ["  stderr: " + l for l in n.proc.err_lines[-120:]]
        return "\n".join(out)
